//! End-to-end fixtures: every `tests/run/*.cmsl` is built (all in one cargo
//! build, sharing one target directory) and run with `ftc run` on kernel
//! processes on 127.0.0.1. Each file keeps its expected stdout and exit code
//! in a trailing `/* expected stdout: … exit: N */` block; a first line
//! `// ftc-run: ARGS` gives extra `ftc run` flags (crashes, pauses), and each
//! `// expect-stderr: TEXT` line a text the run's stderr must contain (the
//! fault timeline). Whatever the faults, the kernels' connection notices
//! stay in their log files: stderr never shows them, and names the files;
//! each `// reject-stderr: TEXT` line a text it must not contain.
//! `UPDATE_EXPECT=1` rewrites the blocks.
//!
//! The call-parallelizing optimization is checked differentially: every
//! fixture whose code it changes (its `-O1` and `-O0` emitted Rust differ)
//! runs again with `-O0` and must print exactly the same (the fixtures'
//! outputs are deterministic).

mod support;

use ftc_testkit::{fixtures, Block, Snapshots};
use std::path::{Path, PathBuf};
use std::process::Command;

const EXPECTED: Block = Block::comment("/* expected stdout:\n");

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

#[test]
fn run_fixtures() {
    let files = fixtures(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run"),
        "cmsl",
    );
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
    let mut snapshots = Snapshots::new();
    let mut differential = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read fixture");
        let (program, _) = EXPECTED.split(text.as_bytes());
        let program = std::str::from_utf8(program).expect("UTF-8 fixture");
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
        if support::optimized(file) {
            let plain = ftc()
                .arg("run")
                .arg(file)
                .args(&flags)
                .arg("-O0")
                .output()
                .expect("run ftc run -O0");
            if (plain.status.code(), &plain.stdout) != (out.status.code(), &out.stdout) {
                snapshots.fail(format!(
                    "{}: -O0 shows something else:\n--- -O1\n{}exit {code}\n--- -O0\n{}exit {:?}\n--- -O0 stderr\n{}",
                    file.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&plain.stdout),
                    plain.status.code(),
                    String::from_utf8_lossy(&plain.stderr)
                ));
            }
            differential += 1;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("ftc::transport") || stderr.contains("cannot reach h") {
            snapshots.fail(format!(
                "{}: transport notices on the terminal:\n{stderr}",
                file.display()
            ));
        }
        if !stderr.contains("ftc run: kernel logs in ") {
            snapshots.fail(format!(
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
                snapshots.fail(format!(
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
                snapshots.fail(format!(
                    "{}: stderr has {unwanted:?}:\n{stderr}",
                    file.display()
                ));
            }
        }
        let actual = format!("{}exit: {code}\n", String::from_utf8_lossy(&out.stdout));
        if !snapshots.block(file, EXPECTED, &actual) {
            snapshots.fail(format!("{}: its stderr:\n{stderr}", file.display()));
        }
    }
    snapshots.finish();
    eprintln!(
        "{} fixtures run, {differential} of them again with -O0 (the optimization changes their code)",
        files.len()
    );
    if only.is_none() {
        assert!(
            differential > 0,
            "no fixture is optimized: the differential check checks nothing"
        );
    }
}
