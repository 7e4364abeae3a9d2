//! Data-driven tests: `data/ok/*.cmsl` check clean; `data/err/*.cmsl` carry their
//! rendered diagnostics in a trailing `/* expected: … */` block
//! (regenerate with `UPDATE_EXPECT=1 cargo test -p ftc-frontend --test fixtures`).

use ftc_frontend::render::{render_human, SourceFile};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MARKER: &[u8] = b"/* expected:\n";

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

/// Splits a fixture into its source and its expected block (if any).
fn split(bytes: &[u8]) -> (&[u8], Option<String>) {
    let at = bytes
        .windows(MARKER.len())
        .enumerate()
        .filter(|(i, w)| *w == MARKER && (*i == 0 || bytes[i - 1] == b'\n'))
        .map(|(i, _)| i)
        .next_back();
    match at {
        None => (bytes, None),
        Some(i) => {
            let rest = String::from_utf8_lossy(&bytes[i + MARKER.len()..]).into_owned();
            let expected = rest.strip_suffix("*/\n").unwrap_or(&rest).to_string();
            (&bytes[..i], Some(expected))
        }
    }
}

/// Checks one source and renders its diagnostics as `ftc check` would, without colour.
fn check(input: &[u8], name: &str) -> String {
    let (output, text) = ftc_frontend::check_bytes(input);
    let file = SourceFile::new(name, &text);
    render_human(&output.diagnostics, &file, false)
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cmsl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", root.display());
    files
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ok_fixtures_check_clean() {
    let mut failures = Vec::new();
    for path in fixtures("ok") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let rendered = check(&bytes, &name_of(&path));
        if !rendered.is_empty() {
            failures.push(rendered);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn err_fixtures_match_expected() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for path in fixtures("err") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let (source, expected) = split(&bytes);
        let actual = check(source, &name_of(&path)).replace("*/", "* /");
        if expected.as_deref() == Some(actual.as_str()) {
            continue;
        }
        if update {
            let mut out = source.to_vec();
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(MARKER);
            out.extend_from_slice(actual.as_bytes());
            out.extend_from_slice(b"*/\n");
            std::fs::write(&path, out).expect("update fixture");
        } else {
            failures.push(format!(
                "{}: expected\n{}\nfound\n{}",
                path.display(),
                expected.unwrap_or_default(),
                actual
            ));
        }
        if actual.is_empty() {
            failures.push(format!(
                "{}: an err fixture produced no diagnostic",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(run with UPDATE_EXPECT=1 to accept)",
        failures.join("\n")
    );
}

#[test]
fn every_code_has_an_err_fixture() {
    let mut seen = BTreeSet::new();
    for path in fixtures("err") {
        let bytes = std::fs::read(&path).expect("read fixture");
        let (source, _) = split(&bytes);
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
