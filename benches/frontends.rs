//! One server, two front ends: `cargo bench --bench frontends` times the same
//! replicated counter (`model crash tolerate (1)`, 2,000 calls one after
//! another) written in CMSL (`benches/counter.cmsl`, built with `ftc build
//! --release`) and as a Rust type with `#[ftc_runtime::server]` (below, run
//! by this very binary), both on three in-process kernels (`--local 3`),
//! `FRONTENDS_BENCH_ROUNDS` times each (default 5), alternating, and reports
//! the median time per call of each and their ratio, taken within this one
//! invocation. Both front ends lower to the same shell (command enum,
//! dispatch, snapshot) and the same runtime, so the ratio should be near 1.

use ftc_runtime::lang::Res;
use ftc_runtime::program::{run, ProgramDef, Props};
use ftc_runtime::types::Model;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

mod support;

/// Set in the environment of this binary's own runs as the Rust program.
const AS_PROGRAM: &str = "FTC_FRONTENDS_BENCH_PROGRAM";
const CALLS: i64 = 2_000;

/// The counter, as a Rust type.
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    total: i64,
}

#[ftc_runtime::server]
impl Counter {
    pub fn add(&mut self, by: i64) -> i64 {
        self.total += by;
        self.total
    }
}

/// The Rust program: the same calls and the same line as `counter.cmsl`.
fn counter_main() -> Res<i64> {
    let c = Counter::start(&Props::new().model(Model::Crash).tolerate(1))?;
    let mut last = c.add(0)?;
    let start = Instant::now();
    for _ in 0..CALLS {
        last = c.add(1)?;
    }
    let took = start.elapsed().as_micros();
    println!("calls: {CALLS} in {took} us; total {last}");
    Ok(0)
}

/// `calls: 2000 in 812345 us; total 2000` → µs per call.
fn per_call(stdout: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| l.starts_with("calls:"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let calls: f64 = words.get(1)?.parse().ok()?;
    let us: f64 = words.get(3)?.parse().ok()?;
    Some(us / calls)
}

fn time(program: &mut Command) -> Result<f64, String> {
    let out = program
        .args(["--local", "3"])
        .output()
        .map_err(|e| format!("cannot start the program: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the program failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    per_call(&stdout).ok_or_else(|| format!("no calls line in {stdout:?}"))
}

fn bench() -> Result<(), String> {
    let rounds = support::rounds("FRONTENDS_BENCH_ROUNDS", 5);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/counter.cmsl");
    let built = Command::new(env!("CARGO_BIN_EXE_ftc"))
        .args(["build", "--release", "--message-format", "json"])
        .arg(&source)
        .output()
        .map_err(|e| format!("cannot run ftc build: {e}"))?;
    let events = String::from_utf8_lossy(&built.stderr);
    let binary = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "built")
        .and_then(|v| v["binary"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("ftc build built nothing: {events}"))?;
    let this = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut per: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let cmsl = time(&mut Command::new(&binary))?;
        let mut rust = Command::new(&this);
        rust.env(AS_PROGRAM, "1");
        let rust = time(&mut rust)?;
        println!(
            "round {}: CMSL {cmsl:.1} us per call, Rust #[server] {rust:.1} us per call",
            round + 1
        );
        per[0].push(cmsl);
        per[1].push(rust);
    }
    let [cmsl, rust] = per.map(support::median);
    println!(
        "median per call: CMSL {cmsl:.1} us, Rust #[server] {rust:.1} us: Rust / CMSL {:.2}",
        rust / cmsl
    );
    Ok(())
}

fn main() -> ExitCode {
    if std::env::var_os(AS_PROGRAM).is_some() {
        return run(ProgramDef {
            name: "counter",
            servers: vec![Counter::server_class()],
            main: counter_main,
        });
    }
    if !support::asked() {
        return ExitCode::SUCCESS;
    }
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frontends bench: {e}");
            ExitCode::FAILURE
        }
    }
}
