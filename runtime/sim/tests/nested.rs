//! Nested commands: a 3-replica forwarder calls a replicated counter through
//! the group's log (after an application timer); ten calls leave the counter
//! at ten, with and without a forwarder replica crash.

use ftc_sim::report::{replay_command, replay_seed};
use ftc_sim::{run_nested, ClusterConfig};

fn check(test: &str, seeds: std::ops::Range<u64>, crash: bool) {
    let seeds: Vec<u64> = match replay_seed() {
        Some(seed) => vec![seed],
        None => seeds.collect(),
    };
    for seed in seeds {
        let mut config = ClusterConfig::new(seed);
        config.verbose = replay_seed().is_some();
        let report = run_nested(&config, 10, crash);
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
    }
}

#[test]
fn ten_calls_through_a_replicated_caller_count_ten() {
    check(
        "ten_calls_through_a_replicated_caller_count_ten",
        0..10,
        false,
    );
}

#[test]
fn ten_calls_count_ten_when_the_callers_sequencer_crashes_mid_call() {
    check(
        "ten_calls_count_ten_when_the_callers_sequencer_crashes_mid_call",
        100..110,
        true,
    );
}
