//! Nested commands: a 3-replica forwarder calls a replicated counter through
//! the group's log (after an application timer); ten calls leave the counter
//! at ten, with and without a forwarder replica crash.

use ftc_sim::report::{replay_command, replay_seed};
use ftc_sim::{run_nested, ClusterConfig, FaultConfig};

/// Runs the seeds; returns how many hosts crashed in all.
fn check(test: &str, seeds: std::ops::Range<u64>, crash: bool, faults: Option<FaultConfig>) -> u64 {
    let mut crashes = 0;
    let seeds: Vec<u64> = match replay_seed() {
        Some(seed) => vec![seed],
        None => seeds.collect(),
    };
    for seed in seeds {
        let mut config = ClusterConfig::new(seed);
        config.verbose = replay_seed().is_some();
        let report = run_nested(&config, 10, crash, faults.clone());
        assert!(
            report.violations.is_empty(),
            "{}\n{:#?}\nreplies {:?}, counter {:?}",
            replay_command(seed, "nested", test),
            report.violations,
            report.replies,
            report.counter
        );
        assert_eq!(report.counter.as_deref(), Some("10"));
        if crash {
            assert!(
                report.crashed.is_some(),
                "seed {seed}: no forwarder replica crashed"
            );
        }
        crashes += report.crashes;
    }
    crashes
}

#[test]
fn ten_calls_through_a_replicated_caller_count_ten() {
    let _ = check(
        "ten_calls_through_a_replicated_caller_count_ten",
        0..30,
        false,
        None,
    );
}

#[test]
fn ten_calls_count_ten_when_the_callers_sequencer_crashes_mid_call() {
    let _ = check(
        "ten_calls_count_ten_when_the_callers_sequencer_crashes_mid_call",
        100..130,
        true,
        None,
    );
}

#[test]
fn ten_calls_count_ten_while_replicas_of_both_groups_crash_and_restart() {
    // Crashes and restarts of any host but the client's, one at a time.
    let faults = FaultConfig {
        pause_weight: 0,
        isolate_weight: 0,
        split_weight: 0,
        one_way_weight: 0,
        cooldown_us: 400_000,
        ..FaultConfig::chaos(1)
    };
    let crashes = check(
        "ten_calls_count_ten_while_replicas_of_both_groups_crash_and_restart",
        200..240,
        false,
        Some(faults),
    );
    assert!(
        replay_seed().is_some() || crashes >= 40,
        "only {crashes} crashes"
    );
}

#[test]
fn ten_calls_count_ten_under_partitions_pauses_and_crashes() {
    // Every kind of disruption, one host at a time, never the client's host.
    let faults = FaultConfig {
        cooldown_us: 400_000,
        ..FaultConfig::chaos(1)
    };
    let _ = check(
        "ten_calls_count_ten_under_partitions_pauses_and_crashes",
        300..340,
        false,
        Some(faults),
    );
}
