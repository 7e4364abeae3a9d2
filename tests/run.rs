//! End-to-end fixtures: every `tests/run/*.cmsl` is built (all in one cargo
//! build, sharing one target directory) and run with `ftc run` on kernel
//! processes on 127.0.0.1. Each file keeps its expected stdout and exit code
//! in a trailing `/* expected stdout: … exit: N */` block; a first line
//! `// ftc-run: ARGS` gives extra `ftc run` flags (crashes, pauses), and each
//! `// expect-stderr: TEXT` line a text the run's stderr must contain (the
//! fault timeline). Whatever the faults, the kernels' connection notices
//! stay in their log files: stderr never shows them, and names the files.
//! `UPDATE_EXPECT=1` rewrites the blocks.

use std::path::{Path, PathBuf};
use std::process::Command;

const MARK: &str = "/* expected stdout:\n";

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/run exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cmsl"))
        .collect();
    files.sort();
    files
}

fn split(text: &str) -> (&str, Option<&str>) {
    match text.rfind(MARK) {
        Some(i) => (&text[..i], Some(&text[i + MARK.len()..])),
        None => (text, None),
    }
}

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

#[test]
fn run_fixtures() {
    let files = fixtures();
    let only = std::env::var("FIXTURE").ok();
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            only.as_ref()
                .is_none_or(|o| f.to_string_lossy().contains(o.as_str()))
        })
        .collect();
    let built = ftc()
        .arg("build")
        .args(&files)
        .status()
        .expect("run ftc build");
    assert!(built.success(), "ftc build of the fixtures failed");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read fixture");
        let (program, expected) = split(&text);
        let flags: Vec<String> = program
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// ftc-run:"))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        let out = ftc()
            .arg("run")
            .arg(file)
            .args(&flags)
            .output()
            .expect("run ftc run");
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("ftc::transport") || stderr.contains("cannot reach h") {
            failures.push(format!(
                "{}: transport notices on the terminal:\n{stderr}",
                file.display()
            ));
        }
        if !stderr.contains("ftc run: kernel logs in ") {
            failures.push(format!(
                "{}: no log directory named:\n{stderr}",
                file.display()
            ));
        }
        for wanted in program
            .lines()
            .filter_map(|l| l.strip_prefix("// expect-stderr:"))
            .map(str::trim)
        {
            if !stderr.contains(wanted) {
                failures.push(format!(
                    "{}: stderr lacks {wanted:?}:\n{stderr}",
                    file.display()
                ));
            }
        }
        for unwanted in program
            .lines()
            .filter_map(|l| l.strip_prefix("// reject-stderr:"))
            .map(str::trim)
        {
            if stderr.contains(unwanted) {
                failures.push(format!(
                    "{}: stderr has {unwanted:?}:\n{stderr}",
                    file.display()
                ));
            }
        }
        let actual = format!("{}exit: {code}\n*/\n", String::from_utf8_lossy(&out.stdout));
        if update {
            std::fs::write(file, format!("{program}{MARK}{actual}")).expect("update fixture");
        } else if expected != Some(actual.as_str()) {
            failures.push(format!(
                "{}:\n--- expected\n{}\n--- actual\n{}\n--- stderr\n{}",
                file.display(),
                expected.unwrap_or("(none)"),
                actual,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
