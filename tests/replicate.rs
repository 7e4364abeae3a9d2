//! `ftc replicate` fixtures: each `tests/replicate/NAME.cmsl` names its
//! flags on its first line (`// ftc-replicate: …`); the rewritten program is
//! kept in `NAME.out` (or the refusal's stderr in `NAME.err`), regenerated
//! with `UPDATE_EXPECT=1`. A rewritten program must pass `ftc check` and
//! print what the original prints under `ftc run`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

fn check_expect(path: &Path, actual: &str, update: bool) -> Option<String> {
    if update {
        std::fs::write(path, actual).expect("write expectation");
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )
    })
}

#[test]
fn replicate_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replicate");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/replicate")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cmsl"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
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
            failures.extend(check_expect(
                &file.with_extension("out"),
                &rewritten,
                update,
            ));
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("x");
            let copy = out_dir.path().join(format!("{stem}_replicated.cmsl"));
            std::fs::write(&copy, &rewritten).expect("write rewritten");
            let checked = ftc().arg("check").arg(&copy).status().expect("ftc check");
            if !checked.success() {
                failures.push(format!(
                    "{}: the rewritten program does not check",
                    file.display()
                ));
            }
            to_compare.push((file.clone(), copy));
        } else {
            let err =
                String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "DIR");
            failures.extend(check_expect(&file.with_extension("err"), &err, update));
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
            failures.push(format!(
                "{}: output differs after replication:\n{}\n---\n{}",
                original.display(),
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
