//! The call-parallelizing optimization's benchmark: `cargo bench --bench
//! parallel` runs `benches/parallel_reads.cmsl` (500 rounds of four reads
//! of four replicated servers, one statement each) optimized and with `-O0`,
//! `PARALLEL_BENCH_ROUNDS` times each (default 5), alternating, and reports
//! the median time per round of each and their ratio, taken within this one
//! invocation. The programs are built optimized (`ftc run --release`; the
//! first such build of the runtime takes minutes).

mod support;

use std::path::PathBuf;
use std::process::Command;

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

/// `reads: 2000 in 812345 us; sum 5000` → (reads, µs).
fn parse(line: &str) -> Option<(f64, f64)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| words.get(i).and_then(|w| w.parse::<f64>().ok());
    Some((num(1)?, num(3)?))
}

fn run(program: &PathBuf, level: &str) -> Result<(f64, f64), String> {
    let out = ftc()
        .args(["run", "--release", level])
        .arg(program)
        .output()
        .map_err(|e| format!("cannot start ftc run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ftc run {level} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("reads:").and_then(|_| parse(l)))
        .ok_or_else(|| format!("no reads line in {stdout:?}"))
}

fn main() -> Result<(), String> {
    if !support::asked() {
        return Ok(());
    }
    let rounds = support::rounds("PARALLEL_BENCH_ROUNDS", 5);
    let program = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/parallel_reads.cmsl");
    let mut per_round: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (i, level) in ["-O1", "-O0"].into_iter().enumerate() {
            let (reads, us) = run(&program, level)?;
            let each = us / (reads / 4.0);
            println!(
                "round {}: {level} {reads:.0} reads in {us:.0} us, {each:.0} us per round of four",
                round + 1
            );
            per_round[i].push(each);
        }
    }
    let [parallel, sequential] = per_round.map(support::median);
    println!(
        "median per round of four reads: parallel {parallel:.0} us, sequential (-O0) {sequential:.0} us: {:.2}x faster",
        sequential / parallel
    );
    Ok(())
}
