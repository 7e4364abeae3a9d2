//! Measures the judge on synthetic histories of a given shape:
//! `envelope CLIENTS KEYS OPS INFO_PERCENT [corrupt] [puts] [BUDGET_SECS]`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ftc_judge::check_kv;
use ftc_judge::synth::{history, Shape};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corrupt = args.iter().any(|a| a == "corrupt");
    let appends = !args.iter().any(|a| a == "puts");
    let numbers: Vec<&String> = args
        .iter()
        .filter(|a| *a != "corrupt" && *a != "puts")
        .collect();
    let parse = |i: usize, default: u64| -> Option<u64> {
        numbers.get(i).map_or(Some(default), |a| a.parse().ok())
    };
    let (Some(clients), Some(keys), Some(ops), Some(info_percent), Some(budget_secs)) = (
        parse(0, 5),
        parse(1, 1),
        parse(2, 1000),
        parse(3, 0),
        parse(4, 60),
    ) else {
        eprintln!("usage: envelope CLIENTS KEYS OPS INFO_PERCENT [corrupt] [puts] [BUDGET_SECS]");
        return ExitCode::from(2);
    };
    let shape = Shape {
        clients,
        keys,
        ops: ops as usize,
        info_percent,
        appends,
        corrupt,
    };
    for seed in 1..=3 {
        let ops = history(&shape, seed);
        let started = Instant::now();
        let verdict = check_kv(&ops, Duration::from_secs(budget_secs));
        println!(
            "{shape:?} seed {seed}: {verdict:?} in {:?}",
            started.elapsed()
        );
    }
    ExitCode::SUCCESS
}
