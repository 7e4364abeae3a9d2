//! Tests of the harness itself, with the toy node: the network model's loss,
//! duplication, reordering and partitions, crashes, pauses, the nemesis's
//! bounds, replay equality, and checks that fail on violating traces.

use ftc_judge::Operation;
use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation, ReplicaId, RequestId};
use ftc_sim::checks::{check_linearizable, Check, ExecutionChecker};
use ftc_sim::net::{LinkConfig, Partition};
use ftc_sim::sim::{Observed, SimConfig, Simulator};
use ftc_sim::toy::{ToyNode, ToyTrace};
use ftc_sim::FaultConfig;
use std::collections::HashMap;

const HOSTS: usize = 3;
const PERIOD_US: u64 = 1_000;

fn toy(seed: u64, link: LinkConfig) -> Simulator<ToyNode> {
    let mut config = SimConfig::new(seed, HOSTS);
    config.link = link;
    Simulator::new(
        config,
        Box::new(|host, incarnation, _seed| ToyNode::new(host, incarnation, HOSTS, PERIOD_US)),
    )
}

/// (receiver, sender, sender incarnation, sequence number, time) of every ping received.
fn receipts(sim: &mut Simulator<ToyNode>) -> Vec<(usize, usize, u64, u64, u64)> {
    sim.drain_observations()
        .filter_map(|o| match o.what {
            Observed::Trace(ToyTrace::Received {
                from,
                from_incarnation,
                seq,
            }) => Some((o.host, from, from_incarnation, seq, o.time)),
            _ => None,
        })
        .collect()
}

#[test]
fn loss_rate_matches_the_link_configuration() {
    let mut link = LinkConfig::reliable(100, 900);
    link.loss = 0.2;
    let mut sim = toy(1, link);
    sim.run_until(2_000_000);
    let stats = sim.stats().clone();
    // A third of the pings go to the sender itself, which never loses them.
    let to_others = stats.sent as f64 * 2.0 / 3.0;
    let rate = stats.lost as f64 / to_others;
    assert!((0.18..0.22).contains(&rate), "loss rate {rate} ({stats:?})");
    assert_eq!(stats.duplicated, 0);
}

#[test]
fn duplicates_arrive_twice_as_separate_copies() {
    let mut link = LinkConfig::reliable(100, 900);
    link.duplicate = 0.1;
    let mut sim = toy(2, link);
    sim.run_until(2_000_000);
    let stats = sim.stats().clone();
    let rate = stats.duplicated as f64 / (stats.sent as f64 * 2.0 / 3.0);
    assert!(
        (0.08..0.12).contains(&rate),
        "duplication rate {rate} ({stats:?})"
    );
    let mut seen: HashMap<(usize, usize, u64), u32> = HashMap::new();
    for (to, from, _, seq, _) in receipts(&mut sim) {
        *seen.entry((to, from, seq)).or_default() += 1;
    }
    let twice = seen.values().filter(|n| **n == 2).count() as u64;
    assert!(seen.values().all(|n| *n <= 2));
    // The last few duplicates may still be in flight.
    assert!(
        twice + 10 >= stats.duplicated && twice <= stats.duplicated,
        "{twice} vs {stats:?}"
    );
}

#[test]
fn spikes_reorder_messages_and_plain_links_keep_fifo() {
    let count_inversions = |link: LinkConfig| {
        let mut sim = toy(3, link);
        sim.run_until(1_000_000);
        let mut last: HashMap<(usize, usize), u64> = HashMap::new();
        let mut inversions = 0;
        for (to, from, _, seq, _) in receipts(&mut sim) {
            let l = last.entry((to, from)).or_default();
            if seq < *l {
                inversions += 1;
            }
            *l = (*l).max(seq);
        }
        inversions
    };
    // Delays below the ping period cannot reorder.
    assert_eq!(count_inversions(LinkConfig::reliable(100, 900)), 0);
    let mut spiky = LinkConfig::reliable(100, 900);
    spiky.spike = 0.05;
    spiky.spike_max_us = 20_000;
    assert!(count_inversions(spiky) > 50);
}

#[test]
fn a_symmetric_partition_cuts_both_directions_until_healed() {
    let mut sim = toy(4, LinkConfig::reliable(100, 900));
    sim.run_until(100_000);
    receipts(&mut sim);
    let id = sim.partition(Partition::isolate(0));
    sim.run_until(200_000);
    let during = receipts(&mut sim);
    // Messages in flight when the partition started are dropped at delivery; none cross it.
    assert!(during
        .iter()
        .all(|(to, from, ..)| (*to == 0) == (*from == 0)));
    assert!(during.iter().any(|(to, from, ..)| *to == 0 && *from == 0));
    assert!(during.iter().any(|(to, from, ..)| *to == 1 && *from == 2));
    assert!(sim.heal(id));
    sim.run_until(300_000);
    let after = receipts(&mut sim);
    assert!(after.iter().any(|(to, from, ..)| *to == 0 && *from == 1));
    assert!(after.iter().any(|(to, from, ..)| *to == 2 && *from == 0));
}

#[test]
fn a_one_way_partition_cuts_one_direction() {
    let mut sim = toy(5, LinkConfig::reliable(100, 900));
    sim.partition(Partition::OneWay {
        from: vec![0],
        to: vec![1],
    });
    sim.run_until(100_000);
    let got = receipts(&mut sim);
    assert!(!got.iter().any(|(to, from, ..)| *to == 1 && *from == 0));
    assert!(got.iter().any(|(to, from, ..)| *to == 0 && *from == 1));
    assert!(got.iter().any(|(to, from, ..)| *to == 2 && *from == 0));
}

#[test]
fn a_majority_minority_split_blocks_only_across_sides() {
    let mut sim = toy(6, LinkConfig::reliable(100, 900));
    sim.partition(Partition::Split { side: vec![0, 1] });
    sim.run_until(100_000);
    let got = receipts(&mut sim);
    assert!(got.iter().any(|(to, from, ..)| *to == 1 && *from == 0));
    assert!(!got.iter().any(|(to, from, ..)| (*to == 2) != (*from == 2)));
    assert!(sim.stats().partitioned > 0);
}

#[test]
fn a_restarted_host_has_a_larger_incarnation_and_stamps_it() {
    let mut sim = toy(7, LinkConfig::reliable(100, 900));
    sim.run_until(50_000);
    receipts(&mut sim);
    assert!(sim.crash(1));
    assert!(!sim.crash(1));
    assert!(!sim.is_up(1));
    sim.run_until(100_000);
    let down = receipts(&mut sim);
    // Pings sent before the crash may still arrive; none after it.
    assert!(down
        .iter()
        .all(|(to, from, inc, _, t)| *to != 1 && (*from != 1 || (*inc == 0 && *t < 51_000))));
    assert!(sim.stats().to_down_host > 0);
    assert!(sim.restart(1));
    assert_eq!(sim.incarnation(1), Some(1));
    sim.run_until(150_000);
    let up = receipts(&mut sim);
    assert!(up
        .iter()
        .any(|(to, from, inc, ..)| *to == 0 && *from == 1 && *inc == 1));
    assert!(up.iter().any(|(to, ..)| *to == 1));
    // The new life starts counting from scratch: its state is empty.
    let first_new = up
        .iter()
        .filter(|(to, from, ..)| *to == 1 && *from == 1)
        .map(|(_, _, _, seq, _)| *seq)
        .min();
    assert_eq!(first_new, Some(1));
}

#[test]
fn a_paused_host_handles_nothing_until_resumed_then_everything() {
    let mut sim = toy(8, LinkConfig::reliable(100, 900));
    sim.run_until(10_000);
    receipts(&mut sim);
    assert!(sim.pause(2));
    sim.run_until(60_000);
    let paused = receipts(&mut sim);
    assert!(!paused.iter().any(|(to, ..)| *to == 2));
    // A paused host sends nothing new either (its timers wait).
    assert!(!paused
        .iter()
        .any(|(_, from, _, _, t)| *from == 2 && *t > 12_000));
    assert!(sim.resume(2));
    sim.run_until(60_000);
    let resumed = receipts(&mut sim);
    let late = resumed.iter().filter(|(to, ..)| *to == 2).count();
    assert!(late >= 90, "held messages delivered at resume: {late}");
}

#[test]
fn client_requests_reach_the_node_and_answers_come_back() {
    let mut sim = toy(9, LinkConfig::reliable(100, 900));
    assert!(sim.client_request(1, 42));
    sim.run_until(1);
    let answers: Vec<(usize, u64)> = sim
        .drain_observations()
        .filter_map(|o| match o.what {
            Observed::Event(e) => Some((o.host, e)),
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![(1, 42)]);
    sim.crash(1);
    assert!(!sim.client_request(1, 43));
}

#[test]
fn equal_seeds_replay_equal_runs_and_different_seeds_differ() {
    let run = |seed| {
        let mut sim = toy(seed, LinkConfig::default());
        sim.start_faults(FaultConfig::chaos(1));
        sim.run_until(3_000_000);
        (sim.digest(), sim.stats().clone())
    };
    let (a, stats) = run(10);
    assert_eq!(run(10), (a, stats.clone()));
    assert_ne!(run(11).0, a);
    assert!(stats.lost > 0 && stats.duplicated > 0);
}

#[test]
fn the_nemesis_stays_within_its_bound_and_stop_faults_heals_everything() {
    let mut sim = toy(12, LinkConfig::default());
    let mut faults = FaultConfig::chaos(1);
    faults.cooldown_us = 50_000;
    sim.start_faults(faults);
    let mut max = 0;
    let mut t = 0;
    while t < 20_000_000 {
        t += 5_000;
        sim.run_until(t);
        max = max.max(sim.disrupted().len());
        let down = (0..HOSTS)
            .filter(|h| !sim.is_up(*h) || sim.is_paused(*h))
            .count();
        assert!(down <= 1);
    }
    assert_eq!(max, 1);
    let stats = sim.stats().clone();
    assert!(
        stats.crashes >= 3 && stats.partitions >= 10 && stats.pauses >= 1,
        "{stats:?}"
    );
    sim.stop_faults();
    assert!(sim.disrupted().is_empty());
    assert!((0..HOSTS).all(|h| sim.is_up(h) && !sim.is_paused(h)));
    assert_eq!(sim.network().partitions().count(), 0);
    let before = sim.stats().lost;
    sim.run_until(t + 1_000_000);
    assert_eq!(sim.stats().lost, before, "healed links lose nothing");
}

#[test]
fn the_event_limit_stops_a_run() {
    let mut config = SimConfig::new(13, HOSTS);
    config.max_events = 1_000;
    let mut sim = Simulator::new(
        config,
        Box::new(|host, incarnation, _| ToyNode::new(host, incarnation, HOSTS, PERIOD_US)),
    );
    assert!(!sim.run_until(10_000_000));
    assert!(sim.limit_hit());
    assert_eq!(sim.stats().events, 1_000);
}

fn replica(host: u32) -> ReplicaId {
    ReplicaId {
        host: HostId(host),
        incarnation: Incarnation(1),
    }
}

fn request(seq: u64) -> RequestId {
    RequestId {
        client: ClientId::Host {
            host: HostId(0),
            incarnation: Incarnation(1),
            local: 0,
        },
        seq,
    }
}

const G: GroupId = GroupId(1);

fn checks_of(f: impl FnOnce(&mut ExecutionChecker)) -> Vec<Check> {
    let mut checker = ExecutionChecker::new();
    for seq in 1..=3 {
        checker.submitted(request(seq));
    }
    f(&mut checker);
    checker.finish().into_iter().map(|v| v.check).collect()
}

#[test]
fn the_trace_checks_pass_agreeing_replicas() {
    assert_eq!(
        checks_of(|c| {
            for r in [1, 2] {
                c.executed(0, G, replica(r), 1, Some(request(1)), 11, 101);
                c.executed(0, G, replica(r), 2, Some(request(2)), 12, 102);
            }
            // A recruit starts after its snapshot and agrees from there.
            c.executed(0, G, replica(3), 2, Some(request(2)), 12, 102);
            c.executed(0, G, replica(3), 3, None, 13, 103);
        }),
        vec![]
    );
}

#[test]
fn the_trace_checks_catch_divergent_entries() {
    assert_eq!(
        checks_of(|c| {
            c.executed(0, G, replica(1), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(2), 1, Some(request(2)), 12, 102);
        }),
        vec![Check::Prefix]
    );
}

#[test]
fn the_trace_checks_allow_a_forward_jump_but_catch_a_rollback() {
    assert_eq!(
        checks_of(|c| {
            c.executed(0, G, replica(1), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(2), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(2), 2, Some(request(2)), 12, 102);
            c.executed(0, G, replica(2), 3, Some(request(3)), 13, 103);
            // Caught up by a snapshot: positions 2 and 3 come from state transfer.
            c.executed(0, G, replica(1), 4, None, 14, 104);
        }),
        vec![]
    );
    // A hole nobody executed is caught.
    assert_eq!(
        checks_of(|c| {
            c.executed(0, G, replica(1), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(1), 4, None, 14, 104);
        }),
        vec![Check::Prefix]
    );
    assert_eq!(
        checks_of(|c| {
            c.executed(0, G, replica(1), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(1), 2, Some(request(2)), 12, 102);
            c.executed(0, G, replica(1), 2, Some(request(2)), 12, 102);
        }),
        vec![Check::Prefix]
    );
}

#[test]
fn the_trace_checks_catch_a_request_executed_twice() {
    assert_eq!(
        checks_of(|c| {
            c.executed(0, G, replica(1), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(1), 2, Some(request(1)), 11, 102);
        }),
        vec![Check::ExecutedOnce]
    );
}

#[test]
fn the_trace_checks_catch_diverging_states() {
    assert_eq!(
        checks_of(|c| {
            c.executed(0, G, replica(1), 1, Some(request(1)), 11, 101);
            c.executed(0, G, replica(2), 1, Some(request(1)), 11, 999);
        }),
        vec![Check::StateDigest]
    );
}

#[test]
fn the_trace_checks_catch_commands_nobody_submitted() {
    assert_eq!(
        checks_of(|c| c.executed(0, G, replica(1), 1, Some(request(9)), 11, 101)),
        vec![Check::Submitted]
    );
}

#[test]
fn the_judge_rejects_a_stale_read_and_accepts_a_concurrent_one() {
    let stale = vec![
        Operation::put(0, "k0", "1", 0, Some(10)),
        Operation::get(1, "k0", None, 20, Some(30)),
    ];
    assert_eq!(
        check_linearizable(&stale).map(|v| v.check),
        Some(Check::Linearizable)
    );
    let concurrent = vec![
        Operation::put(0, "k0", "1", 0, Some(30)),
        Operation::get(1, "k0", None, 10, Some(20)),
    ];
    assert_eq!(check_linearizable(&concurrent), None);
}

fn outcome_with(check: Check) -> ftc_sim::report::SweepOutcome {
    ftc_sim::report::SweepOutcome {
        runs: 1,
        failures: vec![(
            5,
            vec![ftc_sim::Violation {
                check,
                detail: "made up".into(),
            }],
        )],
        ..Default::default()
    }
}

#[test]
#[should_panic(expected = "FTC_SIM_SEED=5 cargo test -p ftc-sim --test t -- n --exact")]
fn a_judge_timeout_fails_a_safety_sweep_with_a_replay_command() {
    outcome_with(Check::JudgeTimeout).assert_safe("t", "n");
}

#[test]
#[should_panic(expected = "(c) no request executed twice")]
fn a_double_execution_fails_a_safety_sweep() {
    outcome_with(Check::ExecutedOnce).assert_safe("t", "n");
}

#[test]
fn a_liveness_finding_does_not_fail_a_safety_sweep_but_fails_a_full_one() {
    outcome_with(Check::Liveness).assert_safe("t", "n");
    outcome_with(Check::EventLimit).assert_safe("t", "n");
    let full = std::panic::catch_unwind(|| outcome_with(Check::Liveness).assert_clean("t", "n"));
    assert!(full.is_err());
}

fn view(id: u64, hosts: &[u32]) -> ftc_runtime::types::GroupView {
    ftc_runtime::types::GroupView {
        group: G,
        view_id: id,
        members: hosts.iter().map(|h| replica(*h)).collect(),
        joining: Vec::new(),
        spec: ftc_sim::cluster::crash_spec("kv", 1),
        failed: false,
    }
}

#[test]
fn the_view_checks_catch_disagreeing_and_reordered_views() {
    use ftc_sim::checks::check_view;
    assert_eq!(
        check_view(0, 1, &view(2, &[0, 1]), Some(&view(2, &[0, 1])), Some(1)),
        None
    );
    assert_eq!(check_view(0, 1, &view(1, &[0, 1]), None, None), None);
    let disagree = check_view(0, 1, &view(2, &[0, 2]), Some(&view(2, &[0, 1])), Some(1));
    assert_eq!(disagree.map(|v| v.check), Some(Check::Views));
    let backwards = check_view(0, 1, &view(2, &[0, 1]), None, Some(3));
    assert_eq!(backwards.map(|v| v.check), Some(Check::Views));
    let again = check_view(0, 1, &view(2, &[0, 1]), None, Some(2));
    assert_eq!(again.map(|v| v.check), Some(Check::Views));
}
