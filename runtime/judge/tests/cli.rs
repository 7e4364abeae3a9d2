//! The `ftc-judge` binary: verdicts as exit codes.

use std::path::PathBuf;
use std::process::Command;

fn history_file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write a temporary history");
    path
}

fn exit_code(args: &[&str]) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_ftc-judge"))
        .args(args)
        .output()
        .expect("run ftc-judge")
        .status
        .code()
}

const PUT: &str = r#"{"client":0,"f":"put","key":"x","value":"1","call":0,"ret":10,"type":"ok"}"#;

#[test]
fn linearizable_exits_0() {
    let get = r#"{"client":1,"f":"get","key":"x","out":"1","call":20,"ret":30,"type":"ok"}"#;
    let path = history_file("judge-cli-ok.jsonl", &format!("{PUT}\n{get}\n"));
    assert_eq!(exit_code(&[path.to_str().expect("utf-8 path")]), Some(0));
}

#[test]
fn not_linearizable_exits_1() {
    let get = r#"{"client":1,"f":"get","key":"x","out":null,"call":20,"ret":30,"type":"ok"}"#;
    let path = history_file("judge-cli-bad.jsonl", &format!("{PUT}\n{get}\n"));
    assert_eq!(exit_code(&[path.to_str().expect("utf-8 path")]), Some(1));
}

#[test]
fn bad_input_exits_2() {
    let path = history_file("judge-cli-malformed.jsonl", &format!("{PUT}\n{{\n"));
    assert_eq!(exit_code(&[path.to_str().expect("utf-8 path")]), Some(2));
    assert_eq!(exit_code(&["/nonexistent/history.jsonl"]), Some(2));
    assert_eq!(exit_code(&[]), Some(2));
    assert_eq!(exit_code(&["x.jsonl", "--budget-secs", "soon"]), Some(2));
}

#[test]
fn timeout_exits_3() {
    // Twelve concurrent appends and an impossible read, with no budget.
    let mut text = String::new();
    for i in 0..12 {
        text.push_str(&format!(
            "{{\"client\":{i},\"f\":\"append\",\"key\":\"x\",\"value\":\"{i};\",\"call\":0,\"ret\":100,\"type\":\"ok\"}}\n"
        ));
    }
    text.push_str(
        r#"{"client":99,"f":"get","key":"x","out":"impossible","call":50,"ret":100,"type":"ok"}"#,
    );
    let path = history_file("judge-cli-hard.jsonl", &text);
    let path = path.to_str().expect("utf-8 path");
    assert_eq!(exit_code(&[path, "--budget-secs", "0"]), Some(3));
}
