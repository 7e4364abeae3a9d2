//! `ftc replicate` fixtures: each `tests/replicate/NAME.cmsl` names its
//! flags on its first line (`// ftc-replicate: …`); the rewritten program is
//! kept in `NAME.out` (or the refusal's stderr in `NAME.err`), regenerated
//! with `UPDATE_EXPECT=1`. A rewritten program must pass `ftc check` and
//! print what the original prints under `ftc run`.

use ftc_testkit::{fixtures, Snapshots};
use std::path::{Path, PathBuf};
use std::process::Command;

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

#[test]
fn replicate_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replicate");
    let files = fixtures(&dir, "cmsl");
    let mut snapshots = Snapshots::new();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let mut to_compare = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let flags: Vec<String> = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// ftc-replicate:"))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .expect("first line names the flags");
        let out = ftc()
            .arg("replicate")
            .arg(file)
            .args(&flags)
            .env("NO_COLOR", "1")
            .output()
            .expect("run ftc replicate");
        if out.status.success() {
            let rewritten = String::from_utf8_lossy(&out.stdout).to_string();
            snapshots.file(&file.with_extension("out"), &rewritten);
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("x");
            let copy = out_dir.path().join(format!("{stem}_replicated.cmsl"));
            std::fs::write(&copy, &rewritten).expect("write rewritten");
            let checked = ftc().arg("check").arg(&copy).status().expect("ftc check");
            if !checked.success() {
                snapshots.fail(format!(
                    "{}: the rewritten program does not check",
                    file.display()
                ));
            }
            to_compare.push((file.clone(), copy));
        } else {
            let err =
                String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "DIR");
            snapshots.file(&file.with_extension("err"), &err);
        }
    }
    let mut all: Vec<&PathBuf> = Vec::new();
    for (a, b) in &to_compare {
        all.push(a);
        all.push(b);
    }
    if !all.is_empty() {
        let built = ftc().arg("build").args(&all).status().expect("ftc build");
        assert!(built.success(), "building the replicate fixtures failed");
    }
    for (original, rewritten) in &to_compare {
        let run = |p: &Path| ftc().arg("run").arg(p).output().expect("ftc run").stdout;
        let (a, b) = (run(original), run(rewritten));
        if a != b {
            snapshots.fail(format!(
                "{}: output differs after replication:\n{}\n---\n{}",
                original.display(),
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    snapshots.finish();
}
