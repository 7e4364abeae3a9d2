//! The air-traffic-control benchmark: how many radar plots per second the
//! replicated track database sustains, and how much slower the example runs
//! replicated than unreplicated. `cargo bench --bench atc` builds
//! `examples/air_traffic/atc.cmsl` twice with `ftc` — as written (track
//! database `model crash tolerate (1)`, 2 replicas on h2 and h3) and with the
//! replication properties removed (1 replica on h2) — and runs each
//! `ATC_BENCH_ROUNDS` times (default 3), alternating, with no pause between
//! sweeps (`ftc run … -- 0`): the radar sends its 180 sweeps as fast as the
//! database answers while the display polls it. Each run prints the radar's
//! replay time and the part of it spent waiting for `update` calls; the
//! medians are reported, and the ratios are taken within this one invocation.
//! The programs are built optimized (`ftc build --release`; the first such
//! build of the runtime takes minutes).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REPLICATED: &str = "model crash tolerate (1) hosts (host (\"h2\"), host (\"h3\"));";
const UNREPLICATED: &str = "hosts (host (\"h2\"));";
/// One run ends within this, or the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// What one run printed on its `replay:` line.
#[derive(Clone, Copy)]
struct Replay {
    replay_ms: f64,
    busy_ms: f64,
    plots: f64,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

/// `replay: 812 ms; track database busy 700 ms for 5696 plots`
fn parse_replay(line: &str) -> Option<Replay> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| words.get(i).and_then(|w| w.parse::<f64>().ok());
    Some(Replay {
        replay_ms: num(1)?,
        busy_ms: num(6)?,
        plots: num(9)?,
    })
}

fn run(dir: &Path, program: &Path) -> Result<Replay, String> {
    let mut child = ftc()
        .current_dir(dir)
        .args(["run", "--release"])
        .arg(program)
        .args(["--", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start ftc run: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let found = BufReader::new(stdout)
            .lines()
            .take(1_000_000)
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("replay:").map(|_| l.clone()));
        let _ = tx.send(found);
    });
    let line = rx.recv_timeout(RUN_LIMIT);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let status = child.wait().map_err(|e| e.to_string())?;
    let line = line
        .ok()
        .flatten()
        .ok_or_else(|| format!("{} printed no replay line", program.display()))?;
    if !status.success() {
        return Err(format!("{} exited with {status}", program.display()));
    }
    parse_replay(&line).ok_or_else(|| format!("cannot read {line:?}"))
}

fn main() -> Result<(), String> {
    if !support::asked() {
        return Ok(());
    }
    let rounds = support::rounds("ATC_BENCH_ROUNDS", 3);
    let source = std::fs::read_to_string(root().join("examples/air_traffic/atc.cmsl"))
        .map_err(|e| format!("cannot read atc.cmsl: {e}"))?;
    if source.matches(REPLICATED).count() != 1 {
        return Err(format!("atc.cmsl should contain {REPLICATED:?} once"));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // The program reads the recording relative to its working directory.
    std::os::unix::fs::symlink(root().join("examples"), dir.path().join("examples"))
        .map_err(|e| e.to_string())?;
    let replicated = dir.path().join("atc_replicated.cmsl");
    let unreplicated = dir.path().join("atc_unreplicated.cmsl");
    std::fs::write(&replicated, &source).map_err(|e| e.to_string())?;
    std::fs::write(&unreplicated, source.replace(REPLICATED, UNREPLICATED))
        .map_err(|e| e.to_string())?;
    let built = ftc()
        .args(["build", "--release"])
        .args([&replicated, &unreplicated])
        .status()
        .map_err(|e| e.to_string())?;
    if !built.success() {
        return Err("ftc build failed".into());
    }

    let mut results: [Vec<Replay>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (i, program) in [&replicated, &unreplicated].into_iter().enumerate() {
            let r = run(dir.path(), program)?;
            println!(
                "round {}: {:<13} replay {:6.0} ms, update calls {:6.0} ms, {:.0} plots",
                round + 1,
                ["replicated", "unreplicated"][i],
                r.replay_ms,
                r.busy_ms,
                r.plots
            );
            results[i].push(r);
        }
    }
    let summary = |rs: &[Replay]| {
        let replay = support::median(rs.iter().map(|r| r.replay_ms).collect());
        let busy = support::median(rs.iter().map(|r| r.busy_ms).collect());
        let plots = rs.first().map_or(f64::NAN, |r| r.plots);
        (replay, busy, plots * 1000.0 / replay, plots * 1000.0 / busy)
    };
    let (rep, rep_busy, rep_rate, rep_call_rate) = summary(&results[0]);
    let (one, one_busy, one_rate, one_call_rate) = summary(&results[1]);
    println!("\nmedians of {rounds} runs each, 180 sweeps, display polling:");
    println!(
        "  replicated (crash tolerate (1), 2 replicas): replay {rep:.0} ms = {rep_rate:.0} plots/s; \
         in update calls {rep_busy:.0} ms = {rep_call_rate:.0} plots/s"
    );
    println!(
        "  unreplicated (1 replica):                    replay {one:.0} ms = {one_rate:.0} plots/s; \
         in update calls {one_busy:.0} ms = {one_call_rate:.0} plots/s"
    );
    println!(
        "  slowdown of the replicated run: {:.2}x (replay), {:.2}x (update calls)",
        rep / one,
        rep_busy / one_busy
    );
    Ok(())
}
