//! Each deliberately wrong protocol variant (`PlantedBugs`) must be caught by
//! one of the checks (a)–(e) within 1,000 seeds: evidence that the simulator
//! and its checks can fail. Each test reports the seed and the check that caught it.

use ftc_runtime::host::PlantedBugs;
use ftc_sim::kv::Action;
use ftc_sim::report::{first_safety_failure, replay_command};
use ftc_sim::{FaultConfig, KvConfig};

const SEEDS: std::ops::Range<u64> = 0..1_000;

fn assert_caught(test: &str, make: impl Fn(u64) -> KvConfig) {
    match first_safety_failure(SEEDS, make) {
        Some((seed, violations)) => {
            eprintln!(
                "{test}: caught at {} by {}",
                replay_command(seed, "planted", test),
                violations[0]
            );
        }
        None => panic!("{test}: no check caught the planted bug in seeds {SEEDS:?}"),
    }
}

/// Chaos tuned for failovers: frequent crashes, short cooldowns, lossy links.
fn failover_chaos(seed: u64, bugs: PlantedBugs) -> KvConfig {
    let mut config = KvConfig::chaos(seed);
    config.cluster.bugs = bugs;
    config.cluster.link.loss = 0.05;
    config.safety_us = 2_000_000;
    config.liveness_us = 3_000_000;
    config.check_liveness = false;
    config.faults = FaultConfig {
        cooldown_us: 400_000,
        crash_weight: 6,
        ..FaultConfig::chaos(config.tolerate as usize)
    };
    config
}

#[test]
fn reply_before_all_hold_is_caught() {
    assert_caught("reply_before_all_hold_is_caught", |seed| {
        failover_chaos(
            seed,
            PlantedBugs {
                reply_before_all_hold: true,
                ..PlantedBugs::default()
            },
        )
    });
}

#[test]
fn no_duplicate_suppression_is_caught() {
    assert_caught("no_duplicate_suppression_is_caught", |seed| {
        failover_chaos(
            seed,
            PlantedBugs {
                no_duplicate_suppression: true,
                ..PlantedBugs::default()
            },
        )
    });
}

#[test]
fn view_change_adopts_shorter_is_caught() {
    assert_caught("view_change_adopts_shorter_is_caught", |seed| {
        failover_chaos(
            seed,
            PlantedBugs {
                view_change_adopts_shorter: true,
                ..PlantedBugs::default()
            },
        )
    });
}

/// Execute, lose the reply, replace a replica, fail over to the recruit, retry:
/// the replies of the first two replicas (hosts 0, 1) to host 4 are lost from a
/// random moment on; the backup crashes (a recruit joins by state transfer), then
/// the sequencer crashes; host 4's clients retry at the recruit. Timings vary by seed.
fn lost_reply_then_two_failovers(seed: u64, bugs: PlantedBugs) -> KvConfig {
    let mut config = KvConfig::chaos(seed);
    config.cluster.bugs = bugs;
    config.tolerate = 1;
    config.faults = FaultConfig::none();
    config.preferred_hosts = vec![0, 1, 2, 3];
    config.client_hosts = vec![2, 3, 4];
    config.safety_us = 2_500_000;
    config.check_liveness = false;
    let jitter = |salt: u64, range: u64| (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt) % range;
    let lose_replies = 200_000 + jitter(1, 300_000);
    let crash_backup = lose_replies + 50_000 + jitter(2, 300_000);
    let crash_sequencer = crash_backup + 300_000 + jitter(3, 500_000);
    config.script = vec![
        (lose_replies, Action::DropGroupMessages(vec![0, 1], vec![4])),
        (crash_backup, Action::Crash(1)),
        (crash_sequencer, Action::Crash(0)),
    ];
    config
}

#[test]
fn state_transfer_without_dedup_is_caught() {
    assert_caught("state_transfer_without_dedup_is_caught", |seed| {
        lost_reply_then_two_failovers(
            seed,
            PlantedBugs {
                state_transfer_without_dedup: true,
                ..PlantedBugs::default()
            },
        )
    });
}

/// The same story without the bug: nothing to catch (the story itself is sound).
#[test]
fn the_lost_reply_story_passes_without_the_bug() {
    let outcome = ftc_sim::report::sweep_kv(0..20, |seed| {
        lost_reply_then_two_failovers(seed, PlantedBugs::default())
    });
    outcome.assert_clean("planted", "the_lost_reply_story_passes_without_the_bug");
}

/// The plain safety-sweep chaos, untuned, also catches the three bugs that need
/// no particular story (the state-transfer one needs the lost-reply story above,
/// or several hundred seeds of luck).
#[test]
fn untuned_chaos_catches_three_planted_bugs_within_300_seeds() {
    let bugs = [
        PlantedBugs {
            reply_before_all_hold: true,
            ..PlantedBugs::default()
        },
        PlantedBugs {
            no_duplicate_suppression: true,
            ..PlantedBugs::default()
        },
        PlantedBugs {
            view_change_adopts_shorter: true,
            ..PlantedBugs::default()
        },
    ];
    for bug in bugs {
        let found = first_safety_failure(0..300, |seed| {
            let mut config = KvConfig::chaos(seed);
            config.safety_us = 2_000_000;
            config.check_liveness = false;
            config.cluster.bugs = bug.clone();
            config
        });
        match found {
            Some((seed, violations)) => {
                eprintln!("{bug:?}: caught at seed {seed} by {}", violations[0])
            }
            None => panic!("{bug:?} not caught by untuned chaos in 300 seeds"),
        }
    }
}

/// Without recovery elections, restart bursts leave the view service wedged:
/// the wedge check (a running host not admitted, or no common leader after the
/// heal) catches it.
#[test]
fn no_recovery_election_is_caught_by_the_wedge_check() {
    let bugs = PlantedBugs {
        no_recovery_election: true,
        ..PlantedBugs::default()
    };
    for seed in 0..200 {
        let mut config = KvConfig::restart_bursts(seed, true);
        config.cluster.bugs = bugs.clone();
        let report = ftc_sim::run_kv(&config);
        if let Some(v) = report
            .violations
            .iter()
            .find(|v| v.check == ftc_sim::Check::Wedged)
        {
            eprintln!("no_recovery_election: caught at seed {seed} by {v}");
            return;
        }
    }
    panic!("the wedge check caught no run without recovery elections in 200 seeds");
}
