//! Data-driven tests: `data/ok/*.cmsl` check clean; `data/err/*.cmsl` carry their
//! rendered diagnostics in a trailing `/* expected: … */` block
//! (regenerate with `UPDATE_EXPECT=1 cargo test -p ftc-frontend --test fixtures`).

use ftc_frontend::render::{render_human, SourceFile};
use ftc_testkit::{fixtures, Block, Snapshots};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const EXPECTED: Block = Block::comment("/* expected:\n");

/// Codes no fixture can produce, with the reason.
const UNREACHABLE_FROM_FIXTURES: &[(&str, &str)] = &[
    ("E0011", "sources over 4 GiB"),
    (
        "E0401",
        "retired: inheritance is generated, nothing reports it any more",
    ),
    (
        "E0402",
        "retired: a server's `this` in its initializers is generated, nothing reports it any more",
    ),
    (
        "E0403",
        "code generation limits: ftc-transforms, tests/cli.rs",
    ),
];

/// Checks one source and renders its diagnostics as `ftc check` would, without colour.
fn check(input: &[u8], name: &str) -> String {
    let (output, text) = ftc_frontend::check_bytes(input);
    let file = SourceFile::new(name, &text);
    render_human(&output.diagnostics, &file, false)
}

fn data(dir: &str) -> Vec<PathBuf> {
    fixtures(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(dir),
        "cmsl",
    )
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ok_fixtures_check_clean() {
    let mut snapshots = Snapshots::new();
    for path in data("ok") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let rendered = check(&bytes, &name_of(&path));
        if !rendered.is_empty() {
            snapshots.fail(rendered);
        }
    }
    snapshots.finish();
}

#[test]
fn err_fixtures_match_expected() {
    let mut snapshots = Snapshots::new();
    for path in data("err") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let (source, _) = EXPECTED.split(&bytes);
        let actual = check(source, &name_of(&path));
        if actual.is_empty() {
            snapshots.fail(format!(
                "{}: an err fixture produced no diagnostic",
                path.display()
            ));
        }
        snapshots.block(&path, EXPECTED, &actual);
    }
    snapshots.finish();
}

#[test]
fn every_code_has_an_err_fixture() {
    let mut seen = BTreeSet::new();
    for path in data("err") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let (source, _) = EXPECTED.split(&bytes);
        let (output, _) = ftc_frontend::check_bytes(source);
        seen.extend(output.diagnostics.iter().map(|d| d.code));
    }
    let missing: Vec<&str> = ftc_frontend::codes::CODES
        .iter()
        .map(|c| c.code)
        .filter(|c| !seen.contains(c))
        .filter(|c| !UNREACHABLE_FROM_FIXTURES.iter().any(|(u, _)| u == c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without an err fixture: {missing:?}"
    );
}
