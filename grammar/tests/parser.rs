//! Data-driven parser tests: every file in `tests/data/ok` parses without errors, and every file in
//! `tests/data/err` yields exactly the errors listed in its trailing `/* expected: … */` comment.
//!
//! Run with `UPDATE_EXPECT=1` to rewrite the expected blocks from the parser's output.

use std::fs;
use std::path::{Path, PathBuf};

const EXPECTED_MARKER: &str = "/* expected:\n";

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

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "cmsl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// Splits a fixture into the program and its expected errors.
fn split_expected(text: &str) -> (&str, Option<&str>) {
    match text.rfind(EXPECTED_MARKER) {
        Some(at) => {
            let expected = &text[at + EXPECTED_MARKER.len()..];
            let expected = expected.trim_end().strip_suffix("*/").unwrap_or(expected);
            (&text[..at], Some(expected))
        }
        None => (text, None),
    }
}

#[test]
fn ok_fixtures_parse_without_errors() {
    let mut failures = Vec::new();
    for path in fixtures("ok") {
        let text = fs::read_to_string(&path).expect("readable fixture");
        let errors = check(&text);
        if !errors.is_empty() {
            failures.push(format!("{}:\n{errors}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "unexpected syntax errors:\n{}",
        failures.join("\n")
    );
}

#[test]
fn err_fixtures_report_expected_errors() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for path in fixtures("err") {
        let text = fs::read_to_string(&path).expect("readable fixture");
        let (program, expected) = split_expected(&text);
        let actual = check(program);
        assert!(
            !actual.is_empty(),
            "{}: expected syntax errors, found none",
            path.display()
        );
        if update {
            let updated = format!("{program}{EXPECTED_MARKER}{actual}*/\n");
            if updated != text {
                fs::write(&path, updated).expect("writable fixture");
            }
        } else if expected != Some(actual.as_str()) {
            failures.push(format!(
                "{}:\n--- expected\n{}--- actual\n{actual}",
                path.display(),
                expected.unwrap_or("(no expected block)\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(rerun with UPDATE_EXPECT=1 to accept)",
        failures.join("\n")
    );
}
