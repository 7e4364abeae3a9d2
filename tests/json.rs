//! `--message-format json`: every line each command prints is a JSON object
//! whose type and fields are the ones `docs/json.md` documents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

/// type → fields, from the table in docs/json.md.
fn schema() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .expect("docs/json.md");
    let mut types = BTreeMap::new();
    for row in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_string();
        let fields = cells[3]
            .split(',')
            .map(|f| f.trim().trim_matches('`').to_string())
            .collect();
        types.insert(name, fields);
    }
    assert!(types.len() >= 10, "the schema table: {types:?}");
    types
}

/// Parses every line of `text` and checks it against the schema; returns the types seen.
fn check_lines(text: &str, schema: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut seen = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n--- all:\n{text}"));
        let object = value.as_object().expect("an object");
        let kind = object["type"].as_str().expect("a string type").to_string();
        let fields: BTreeSet<String> = object.keys().cloned().collect();
        let documented = schema
            .get(&kind)
            .unwrap_or_else(|| panic!("type {kind} is not documented: {line}"));
        assert_eq!(&fields, documented, "fields of {kind}: {line}");
        seen.push(kind);
    }
    seen
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run")
        .join(name)
}

#[test]
fn every_command_prints_documented_json() {
    let schema = schema();
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.cmsl");
    std::fs::write(&bad, "void main () { int x = \"five\"; }\n").expect("write");
    let json = ["--message-format", "json"];

    let out = ftc()
        .arg("check")
        .arg(&bad)
        .args(json)
        .output()
        .expect("check");
    let seen = check_lines(&String::from_utf8_lossy(&out.stdout), &schema);
    assert_eq!(seen, ["diagnostic"]);

    let out = ftc()
        .arg("emit")
        .arg(&bad)
        .args(["-o", "unused"])
        .args(json)
        .output()
        .expect("emit");
    assert_eq!(out.status.code(), Some(1));
    let seen = check_lines(&String::from_utf8_lossy(&out.stderr), &schema);
    assert_eq!(seen, ["diagnostic", "error"]);

    let counter = fixture("counter.cmsl");
    let out = ftc()
        .arg("emit")
        .arg(&counter)
        .arg("-o")
        .arg(dir.path().join("out"))
        .args(json)
        .output()
        .expect("emit");
    assert!(out.status.success());
    let seen = check_lines(&String::from_utf8_lossy(&out.stderr), &schema);
    assert_eq!(seen, ["emitted"]);

    let out = ftc()
        .arg("emit")
        .arg(fixture("parallel_calls.cmsl"))
        .arg("-o")
        .arg(dir.path().join("parallel"))
        .arg("--report-optimizations")
        .args(json)
        .output()
        .expect("emit");
    assert!(out.status.success());
    let seen = check_lines(&String::from_utf8_lossy(&out.stderr), &schema);
    assert_eq!(
        seen,
        ["parallelized", "parallelized", "parallelized", "emitted"]
    );

    let out = ftc()
        .arg("build")
        .arg(&counter)
        .args(json)
        .output()
        .expect("build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = check_lines(&String::from_utf8_lossy(&out.stderr), &schema);
    assert_eq!(seen.last().map(String::as_str), Some("built"));

    let out = ftc()
        .arg("replicate")
        .arg(fixture("counter.cmsl"))
        .args(["--class", "nothing_here"])
        .args(json)
        .output()
        .expect("replicate");
    assert_eq!(out.status.code(), Some(1));
    let seen = check_lines(&String::from_utf8_lossy(&out.stderr), &schema);
    assert_eq!(seen, ["error"]);

    let out = ftc()
        .arg("run")
        .arg(fixture("crash_counter.cmsl"))
        .args(["--crash", "h2@1.0"])
        .args(json)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "count: 30\n");
    let seen = check_lines(&stderr, &schema);
    for wanted in ["logs", "fault", "view", "exit"] {
        assert!(seen.iter().any(|s| s == wanted), "no {wanted} in {seen:?}");
    }
    assert_eq!(seen.last().map(String::as_str), Some("exit"));
    // The failover shows in a view whose `left` names the killed host.
    let failover = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "view" && v["left"][0]["host"] == "h2")
        .expect("a view after h2 was killed");
    assert_eq!(failover["left"][0]["after"], "killed");
    assert!(failover["left"][0]["after_ms"].as_u64().is_some());
}
