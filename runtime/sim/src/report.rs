//! Seed sweeps, failure reports with replay commands, and history files.
//!
//! `FTC_SIM_SEED=<seed>` makes every sweep run only that seed, with the
//! simulator's verbose event log on stderr. `FTC_HISTORY_DIR=<dir>` writes
//! every key-value run's client history there as JSON Lines.

use crate::checks::{Check, Violation};
use crate::kv::{run_kv, KvConfig, KvReport};
use std::fmt::Write as _;
use std::ops::Range;
use std::time::{Duration, Instant};

/// The seed to replay, from `FTC_SIM_SEED`.
pub fn replay_seed() -> Option<u64> {
    let text = std::env::var("FTC_SIM_SEED").ok()?;
    match text.trim().parse() {
        Ok(seed) => Some(seed),
        Err(_) => panic!("FTC_SIM_SEED must be a number, not {text:?}"),
    }
}

/// How to rerun one seed of a test: `FTC_SIM_SEED=… cargo test -p ftc-sim --test … -- … --exact`.
pub fn replay_command(seed: u64, test_file: &str, test_name: &str) -> String {
    format!(
        "seed={seed} (replay: FTC_SIM_SEED={seed} cargo test -p ftc-sim --test {test_file} -- {test_name} --exact --nocapture)"
    )
}

/// Writes a run's history to `$FTC_HISTORY_DIR/kv-seed-<seed>.jsonl` when the variable is set.
pub fn write_history(report: &KvReport) {
    let Ok(dir) = std::env::var("FTC_HISTORY_DIR") else {
        return;
    };
    if let Err(e) = write_history_to(std::path::Path::new(&dir), report) {
        panic!(
            "cannot write the history of seed {} to {dir}: {e}",
            report.seed
        );
    }
}

/// Writes a run's history to `<dir>/kv-seed-<seed>.jsonl` (creating `dir`).
pub fn write_history_to(dir: &std::path::Path, report: &KvReport) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("kv-seed-{}.jsonl", report.seed));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    ftc_judge::write_jsonl(&report.history, &mut file)?;
    std::io::Write::flush(&mut file)
}

/// What a sweep over many seeds found.
#[derive(Debug, Default)]
pub struct SweepOutcome {
    pub runs: usize,
    pub failures: Vec<(u64, Vec<Violation>)>,
    pub ok_ops: usize,
    pub info_ops: usize,
    pub executions: u64,
    pub events: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub failed_groups: usize,
    /// Views installed after each group's first one.
    pub view_changes: usize,
    pub elapsed: Duration,
}

impl SweepOutcome {
    /// One line of totals.
    pub fn summary(&self) -> String {
        format!(
            "{} runs in {:.1?}: {} ok / {} info operations, {} executions, {} events, {} crashes, {} partitions, {} view changes, {} failed groups, {} failing seeds",
            self.runs,
            self.elapsed,
            self.ok_ops,
            self.info_ops,
            self.executions,
            self.events,
            self.crashes,
            self.partitions,
            self.view_changes,
            self.failed_groups,
            self.failures.len()
        )
    }

    /// Panics with every failing seed, its violated checks and how to replay it.
    pub fn assert_clean(&self, test_file: &str, test_name: &str) {
        self.assert_none(test_file, test_name, |_| true);
    }

    /// Panics with every seed that violated a safety check ((a)–(e), a judge
    /// timeout, or a failed setup); other findings (liveness, event limit) are printed only.
    pub fn assert_safe(&self, test_file: &str, test_name: &str) {
        for (seed, violations) in &self.failures {
            for v in violations
                .iter()
                .filter(|v| !must_hold_for_safety(v.check))
                .take(1)
            {
                eprintln!("{test_name}: note, not a safety failure: seed {seed}: {v}");
            }
        }
        self.assert_none(test_file, test_name, must_hold_for_safety);
    }

    fn assert_none(&self, test_file: &str, test_name: &str, counts: impl Fn(Check) -> bool) {
        eprintln!("{test_name}: {}", self.summary());
        let failures: Vec<&(u64, Vec<Violation>)> = self
            .failures
            .iter()
            .filter(|(_, violations)| violations.iter().any(|v| counts(v.check)))
            .collect();
        if failures.is_empty() {
            return;
        }
        let mut text = format!(
            "{test_name}: {} of {} seeds failed\n",
            failures.len(),
            self.runs
        );
        for (seed, violations) in failures.into_iter().take(10) {
            let _ = writeln!(text, "{}", replay_command(*seed, test_file, test_name));
            for v in violations.iter().take(5) {
                let _ = writeln!(text, "    {v}");
            }
        }
        panic!("{text}");
    }
}

/// Runs the key-value workload for every seed in `seeds` (or only `FTC_SIM_SEED`,
/// verbosely), collecting failures.
pub fn sweep_kv(seeds: Range<u64>, make: impl Fn(u64) -> KvConfig) -> SweepOutcome {
    let started = Instant::now();
    let mut outcome = SweepOutcome::default();
    let replay = replay_seed();
    let seeds: Vec<u64> = match replay {
        Some(seed) => vec![seed],
        None => seeds.collect(),
    };
    for seed in seeds {
        let mut config = make(seed);
        config.cluster.verbose = replay.is_some();
        let report = run_kv(&config);
        outcome.add(&report);
        if replay.is_some() {
            print_report(&report);
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

impl SweepOutcome {
    fn add(&mut self, report: &KvReport) {
        self.runs += 1;
        self.ok_ops += report.ok_ops();
        self.info_ops += report.info_ops();
        self.executions += report.executions;
        self.events += report.stats.events;
        self.crashes += report.stats.crashes;
        self.partitions += report.stats.partitions;
        self.failed_groups += usize::from(report.group_failed);
        self.view_changes += report.views.len().saturating_sub(1);
        if !report.violations.is_empty() {
            self.failures.push((report.seed, report.violations.clone()));
        }
    }
}

/// Prints a run's outcome (replay mode).
pub fn print_report(report: &KvReport) {
    eprintln!(
        "seed {}: digest {:#x}, {} ok / {} info operations, {} executions, group {:?} failed={}, {:?}",
        report.seed,
        report.digest,
        report.ok_ops(),
        report.info_ops(),
        report.executions,
        report.group,
        report.group_failed,
        report.stats
    );
    for v in &report.violations {
        eprintln!("    {v}");
    }
}

/// The first seed in `seeds` (or `FTC_SIM_SEED`) whose run violates a safety check (a)–(e).
pub fn first_safety_failure(
    seeds: Range<u64>,
    make: impl Fn(u64) -> KvConfig,
) -> Option<(u64, Vec<Violation>)> {
    let replay = replay_seed();
    let seeds: Vec<u64> = match replay {
        Some(seed) => vec![seed],
        None => seeds.collect(),
    };
    for seed in seeds {
        let mut config = make(seed);
        config.cluster.verbose = replay.is_some();
        let report = run_kv(&config);
        if replay.is_some() {
            print_report(&report);
        }
        let safety: Vec<Violation> = report
            .violations
            .iter()
            .filter(|v| is_safety(v.check))
            .cloned()
            .collect();
        if !safety.is_empty() {
            return Some((seed, safety));
        }
    }
    None
}

/// Safety checks plus what makes them meaningless when it fails (judge timeout, setup).
fn must_hold_for_safety(check: Check) -> bool {
    is_safety(check) || matches!(check, Check::JudgeTimeout | Check::Setup)
}

/// Whether a check is one of the safety checks (a)–(e).
pub fn is_safety(check: Check) -> bool {
    matches!(
        check,
        Check::Linearizable
            | Check::Prefix
            | Check::Views
            | Check::ExecutedOnce
            | Check::StateDigest
            | Check::Submitted
    )
}
