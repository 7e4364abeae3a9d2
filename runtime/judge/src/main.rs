//! `ftc-judge FILE.jsonl [--budget-secs N]`: judges a recorded history.
//!
//! Exit codes: 0 linearizable, 1 not linearizable, 3 checker out of budget,
//! 2 bad usage or input.

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;
use std::time::Duration;

use ftc_judge::{check_kv, read_jsonl, Verdict};

const USAGE: &str = "usage: ftc-judge FILE.jsonl [--budget-secs N]";

fn parse_args(args: &[String]) -> Result<(String, u64), String> {
    let mut file = None;
    let mut budget_secs = 60;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--budget-secs" {
            let value = args.next().ok_or("--budget-secs needs a value")?;
            budget_secs = value
                .parse()
                .map_err(|_| format!("--budget-secs: `{value}` is not a whole number"))?;
        } else if arg.starts_with("--") {
            return Err(format!("unknown option `{arg}`"));
        } else if file.replace(arg.clone()).is_some() {
            return Err("only one history file".to_string());
        }
    }
    Ok((file.ok_or("no history file given")?, budget_secs))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, budget_secs) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("ftc-judge: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let history = match File::open(&path) {
        Ok(file) => read_jsonl(BufReader::new(file)),
        Err(error) => {
            eprintln!("ftc-judge: {path}: {error}");
            return ExitCode::from(2);
        }
    };
    let history = match history {
        Ok(history) => history,
        Err(error) => {
            eprintln!("ftc-judge: {path}: {error}");
            return ExitCode::from(2);
        }
    };
    match check_kv(&history, Duration::from_secs(budget_secs)) {
        Verdict::Linearizable => {
            println!("linearizable ({} operations)", history.len());
            ExitCode::SUCCESS
        }
        Verdict::NotLinearizable { key } => {
            println!("not linearizable: key {key:?}");
            ExitCode::from(1)
        }
        Verdict::Timeout { key } => {
            println!("unknown: the checker ran out of budget on key {key:?} ({budget_secs} s)");
            ExitCode::from(3)
        }
    }
}
