//! Calibrates the judge on histories with known verdicts: 102 Jepsen etcd
//! register logs and six key-value histories from the shared corpus.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ftc_judge::corpus::{check_register, parse_etcd_log, parse_kv_edn};
use ftc_judge::{check_kv, Outcome, Verdict};

/// Per-object budget; generous, since a timeout fails the calibration anyway.
const BUDGET: Duration = Duration::from_secs(30);

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/judge-corpus")
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn reproduces_every_known_etcd_verdict() {
    let dir = corpus_dir().join("jepsen-etcd");
    let expected_text = read(&dir.join("EXPECTED.txt"));
    let mut expected = Vec::new();
    for line in expected_text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(number), Some(verdict)) = (words.next(), words.next()) else {
            panic!("EXPECTED.txt: bad line `{line}`");
        };
        let number: u32 = number
            .parse()
            .unwrap_or_else(|_| panic!("EXPECTED.txt: bad number `{number}`"));
        expected.push((format!("{number:03}"), verdict == "true"));
    }
    assert_eq!(expected.len(), 102, "EXPECTED.txt lists 102 verdicts");
    assert_eq!(expected.iter().filter(|(_, ok)| *ok).count(), 23);

    let started = Instant::now();
    let mut mismatches = Vec::new();
    for (number, linearizable) in &expected {
        let name = format!("etcd_{number}.log");
        let ops = parse_etcd_log(&read(&dir.join(&name))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let file_started = Instant::now();
        let outcome = check_register(&ops, BUDGET);
        let want = if *linearizable {
            Outcome::Linearizable
        } else {
            Outcome::NotLinearizable
        };
        if outcome != want {
            mismatches.push(format!("{name}: expected {want:?}, got {outcome:?}"));
        }
        let took = file_started.elapsed();
        if took > Duration::from_secs(1) {
            println!("{name}: {took:?}");
        }
    }
    // 095 has no recorded verdict: it must still be judged within budget.
    let ops = parse_etcd_log(&read(&dir.join("etcd_095.log"))).expect("etcd_095.log");
    let outcome_095 = check_register(&ops, BUDGET);
    println!(
        "etcd: {} verdicts checked in {:?} (095, unlisted: {outcome_095:?})",
        expected.len(),
        started.elapsed()
    );
    assert_ne!(outcome_095, Outcome::Timeout, "etcd_095.log timed out");
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn reproduces_every_kv_verdict() {
    let dir = corpus_dir().join("kv");
    let started = Instant::now();
    let mut mismatches = Vec::new();
    for clients in ["c01", "c10", "c50"] {
        for (suffix, linearizable) in [("ok", true), ("bad", false)] {
            let name = format!("{clients}-{suffix}.txt");
            let ops =
                parse_kv_edn(&read(&dir.join(&name))).unwrap_or_else(|e| panic!("{name}: {e}"));
            let file_started = Instant::now();
            let verdict = check_kv(&ops, BUDGET);
            println!("{name}: {verdict:?} in {:?}", file_started.elapsed());
            let right = match verdict {
                Verdict::Linearizable => linearizable,
                Verdict::NotLinearizable { .. } => !linearizable,
                Verdict::Timeout { .. } => false,
            };
            if !right {
                mismatches.push(format!(
                    "{name}: expected linearizable={linearizable}, got {verdict:?}"
                ));
            }
        }
    }
    println!("kv: 6 verdicts checked in {:?}", started.elapsed());
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
}
