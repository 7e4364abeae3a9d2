//! Data-driven parser tests: every file in `tests/data/ok` parses without errors, and every file in
//! `tests/data/err` yields exactly the errors listed in its trailing `/* expected: … */` comment.
//!
//! Run with `UPDATE_EXPECT=1` to rewrite the expected blocks from the parser's output.

use ftc_testkit::{fixtures, Block, Snapshots};
use std::path::{Path, PathBuf};

const EXPECTED: Block = Block::comment("/* expected:\n");

/// Parses `input` and renders its syntax errors, one `line:col: message` per line.
fn check(input: &str) -> String {
    let parsed = ftc_grammar::parse(input);
    let mut out = String::new();
    for error in &parsed.errors {
        let (line, col) = ftc_grammar::line_col(input, error.span.start);
        out.push_str(&format!("{line}:{col}: {error}\n"));
    }
    out
}

fn data(dir: &str) -> Vec<PathBuf> {
    fixtures(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(dir),
        "cmsl",
    )
}

#[test]
fn ok_fixtures_parse_without_errors() {
    let mut snapshots = Snapshots::new();
    for path in data("ok") {
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let errors = check(&text);
        if !errors.is_empty() {
            snapshots.fail(format!(
                "{}: unexpected syntax errors:\n{errors}",
                path.display()
            ));
        }
    }
    snapshots.finish();
}

#[test]
fn err_fixtures_report_expected_errors() {
    let mut snapshots = Snapshots::new();
    for path in data("err") {
        let text = std::fs::read(&path).expect("readable fixture");
        let (program, _) = EXPECTED.split(&text);
        let actual = check(std::str::from_utf8(program).expect("UTF-8 fixture"));
        if actual.is_empty() {
            snapshots.fail(format!(
                "{}: expected syntax errors, found none",
                path.display()
            ));
        }
        snapshots.block(&path, EXPECTED, &actual);
    }
    snapshots.finish();
}
