//! Lying replicas: a `model byzantine tolerate (1)` key-value server (four
//! replicas) with one member that answers every reply with a plausible wrong
//! value, under chaos and then healed. Clients must see only the truth (the
//! judge finds the history linearizable, no reply of the wrong shape), because
//! a reply counts only with `t+1` matching copies from distinct members. The
//! planted bug "take the first copy" must be caught, so the lie is visible to
//! the checks. The same for nested calls: a replicated caller takes a
//! byzantine callee's answer only on `t+1` matching copies.

use ftc_runtime::host::PlantedBugs;
use ftc_runtime::lie::Behaviour;
use ftc_runtime::types::Model;
use ftc_sim::report::{first_safety_failure, replay_command, replay_seed, sweep_kv};
use ftc_sim::{
    run_nested_byzantine, run_nested_deaf_lying_primary, run_nested_lying_caller, ClusterConfig,
    FaultConfig, KvConfig, NestedReport,
};

/// A byzantine server tolerating one failure, with one liar among its members.
fn one_liar(seed: u64) -> KvConfig {
    let mut config = KvConfig::chaos(seed);
    config.model = Model::Byzantine;
    config.tolerate = 1;
    config.liars = 1;
    config.safety_us = 2_000_000;
    // One host disrupted at a time: a split can cut two hosts off at once,
    // and two replaced members plus a liar are more faults than `t = 1`.
    config.faults.split_weight = 0;
    // A recruit counts as faulty until it heals: the next disruption waits.
    config.faults.wait_for_recruits = true;
    // Hosts with odd seeds batch as kernels do (the primary orders a round's
    // requests at its end, a backup rechecks held pre-prepares there).
    config.cluster.batching = true;
    config
}

/// The liar is the only fault: reliable links, no nemesis.
fn one_liar_calm(seed: u64) -> KvConfig {
    let mut config = one_liar(seed);
    config.cluster.link = config.cluster.link.healed();
    config.faults = FaultConfig::none();
    config
}

/// Lies plus crashes, pauses and partitions (one host at a time, which may be
/// a correct member: then two of four are faulty while it lasts), then every
/// pending request must complete once healed.
#[test]
fn a_liar_is_outvoted_under_chaos() {
    let outcome = sweep_kv(60_000..60_600, one_liar);
    outcome.assert_clean("byzantine", "a_liar_is_outvoted_under_chaos");
}

/// The bound, kept replayable: with the nemesis not waiting for recruits to
/// heal, seed 66199 crashes a second member while the first recruit is
/// still getting a state past the lying donor (about 0.9 s). Two recruits
/// that have not healed (a recruit abstains in view changes until it
/// executed a new view decided by `2t+1` members that kept their logs) plus
/// the liar are three faulty members of four, beyond `t = 1`: no new view
/// gathers `2t+1` such reports and the group stops answering after the
/// heal. Safety holds. Run with `--ignored`.
#[test]
#[ignore = "beyond the bound: two unhealed recruits and a liar in a group of four"]
fn two_unhealed_recruits_and_a_liar_exceed_t() {
    let mut config = corrupt_state_donor(66_199);
    config.faults.wait_for_recruits = false;
    let donor = sweep_kv(66_199..66_200, |_| config.clone());
    donor.assert_clean("byzantine", "two_unhealed_recruits_and_a_liar_exceed_t");
}

#[test]
fn a_liar_is_outvoted_on_calm_links() {
    let outcome = sweep_kv(61_000..61_300, one_liar_calm);
    outcome.assert_clean("byzantine", "a_liar_is_outvoted_on_calm_links");
    assert!(outcome.ok_ops > 0, "the calm runs completed operations");
}

/// The primary of the first view lies: `behaviour` besides wrong replies.
fn lying_primary(seed: u64, behaviour: Behaviour) -> KvConfig {
    let mut config = one_liar_calm(seed);
    config.liar_is_primary = true;
    config.behaviour = Some(behaviour);
    config
}

/// An equivocating primary sends the backups with odd host numbers other
/// batches than the rest: no batch gathers a prepare quorum until a view
/// change replaces it, and every correct replica executes the same sequence.
#[test]
fn an_equivocating_primary_is_survived() {
    let outcome = sweep_kv(62_000..62_300, |seed| {
        lying_primary(seed, Behaviour::Equivocate)
    });
    outcome.assert_clean("byzantine", "an_equivocating_primary_is_survived");
    assert!(
        outcome.ok_ops > 0,
        "operations completed after the view change"
    );
}

/// A mute primary heartbeats (the view service keeps it) but sends no
/// protocol message: the backups' request timers replace it.
#[test]
fn a_mute_primary_is_replaced() {
    let outcome = sweep_kv(63_000..63_300, |seed| lying_primary(seed, Behaviour::Mute));
    outcome.assert_clean("byzantine", "a_mute_primary_is_replaced");
    assert!(
        outcome.ok_ops > 0,
        "operations completed after the view change"
    );
}

/// An equivocating primary under chaos (crashes, partitions, loss).
#[test]
fn an_equivocating_primary_is_survived_under_chaos() {
    let outcome = sweep_kv(64_000..64_250, |seed| {
        let mut config = one_liar(seed);
        config.liar_is_primary = true;
        config.behaviour = Some(Behaviour::Equivocate);
        config
    });
    outcome.assert_clean(
        "byzantine",
        "an_equivocating_primary_is_survived_under_chaos",
    );
}

/// A member that sends altered states to recruits, under chaos (crashes
/// make recruits, which fetch a state): a state counts only with the digest
/// `t+1` members vouched for, so the altered ones are refused.
#[test]
fn a_corrupt_state_donor_is_refused() {
    let outcome = sweep_kv(66_000..66_200, corrupt_state_donor);
    outcome.assert_clean("byzantine", "a_corrupt_state_donor_is_refused");
}

#[test]
fn state_transfer_skips_digest_check_is_caught() {
    let bugs = PlantedBugs {
        state_transfer_skips_digest_check: true,
        ..PlantedBugs::default()
    };
    assert_bug_caught(
        "state_transfer_skips_digest_check_is_caught",
        66_000..66_300,
        corrupt_state_donor,
        bugs,
    );
}

/// A liar whose view-change reports differ by receiver (both versions
/// signed with its key), under chaos: view changes happen and the new
/// primary's decision is checked by every backup against the signed reports
/// it forwards, so the two versions cannot make the members disagree.
#[test]
fn a_liar_equivocating_its_reports_is_survived_under_chaos() {
    let outcome = sweep_kv(67_000..67_200, |seed| {
        let mut config = one_liar(seed);
        config.behaviour = Some(Behaviour::EquivocateReports);
        config
    });
    outcome.assert_clean(
        "byzantine",
        "a_liar_equivocating_its_reports_is_survived_under_chaos",
    );
    assert!(outcome.ok_ops > 0);
}

/// A liar that, whenever it is the new primary, decides from forged reports
/// (everyone's prepared batches removed): backups refuse the new view (the
/// forged reports' signatures do not verify) and the next primary takes over.
fn forging_primary(seed: u64) -> KvConfig {
    let mut config = one_liar(seed);
    config.behaviour = Some(Behaviour::ForgeReports);
    config
}

#[test]
fn a_primary_forging_reports_is_refused() {
    let outcome = sweep_kv(68_000..68_200, forging_primary);
    outcome.assert_clean("byzantine", "a_primary_forging_reports_is_refused");
    assert!(outcome.ok_ops > 0);
}

/// The same with `t = 2` (seven replicas) and one other host disrupted at a
/// time: at most two faulty members, the forger among them.
#[test]
fn a_primary_forging_reports_is_refused_with_t_2() {
    let outcome = sweep_kv(69_000..69_080, |seed| tolerating_two(forging_primary(seed)));
    outcome.assert_clean("byzantine", "a_primary_forging_reports_is_refused_with_t_2");
    assert!(outcome.ok_ops > 0);
}

#[test]
fn new_view_reports_unchecked_is_caught() {
    let bugs = PlantedBugs {
        new_view_reports_unchecked: true,
        ..PlantedBugs::default()
    };
    assert_bug_caught(
        "new_view_reports_unchecked_is_caught",
        68_000..68_400,
        forging_primary,
        bugs,
    );
}

/// One liar that corrupts the states it sends, crashes only (so replicas
/// are recruited and fetch states).
fn corrupt_state_donor(seed: u64) -> KvConfig {
    let mut config = one_liar(seed);
    config.behaviour = Some(Behaviour::CorruptState);
    config.faults.pause_weight = 0;
    config.faults.isolate_weight = 0;
    config.faults.one_way_weight = 0;
    config
}

/// `tolerate (2)`: seven replicas, two equivocating liars, one of them the
/// primary.
#[test]
fn two_liars_are_survived_with_t_2() {
    let outcome = sweep_kv(65_000..65_100, |seed| {
        let mut config = tolerating_two(lying_primary(seed, Behaviour::Equivocate));
        config.liars = 2;
        config
    });
    outcome.assert_clean("byzantine", "two_liars_are_survived_with_t_2");
    assert!(outcome.ok_ops > 0);
}

/// `t+1` liars telling the same lie outvote the truth: the checks see it
/// (the bound is real).
#[test]
fn t_plus_1_liars_are_detected() {
    let test = "t_plus_1_liars_are_detected";
    let two = |seed| {
        let mut config = one_liar_calm(seed);
        config.liars = 2;
        config
    };
    assert_caught(test, "saw two agreeing liars", 0..200, two);
}

#[test]
fn commit_without_prepare_quorum_is_caught() {
    let batching_liar = |seed| {
        let mut config = lying_primary(seed, Behaviour::Equivocate);
        // Batches of several requests, which the liar reverses for odd hosts.
        config.cluster.batching = true;
        config
    };
    let bugs = PlantedBugs {
        commit_without_prepare_quorum: true,
        ..PlantedBugs::default()
    };
    assert_bug_caught(
        "commit_without_prepare_quorum_is_caught",
        0..300,
        batching_liar,
        bugs,
    );
}

#[test]
fn first_reply_for_byzantine_is_caught() {
    let bugs = PlantedBugs {
        first_reply_for_byzantine: true,
        ..PlantedBugs::default()
    };
    assert_bug_caught(
        "first_reply_for_byzantine_is_caught",
        0..1_000,
        one_liar_calm,
        bugs,
    );
}

/// A crash-model forwarder calls a byzantine counter whose sequencer lies in
/// every reply: the forwarder's replicas log only the answer two counter
/// members agree on, so ten calls count ten.
#[test]
fn nested_answers_from_a_byzantine_server_are_voted() {
    nested_clean(
        "nested_answers_from_a_byzantine_server_are_voted",
        0..20,
        |config| run_nested_byzantine(config, 10, 1),
    );
}

#[test]
fn first_nested_reply_for_byzantine_is_caught() {
    let bugs = PlantedBugs {
        first_reply_for_byzantine: true,
        ..PlantedBugs::default()
    };
    nested_caught(
        "first_nested_reply_for_byzantine_is_caught",
        bugs,
        |config| run_nested_byzantine(config, 10, 1),
    );
}

/// A byzantine forwarder (four replicas) one of whose members sends `dec`
/// where the others send `inc`: the counter's host executes a nested command
/// only once two forwarder members sent the same one, so ten calls count ten.
#[test]
fn nested_commands_from_a_lying_caller_are_voted() {
    nested_clean(
        "nested_commands_from_a_lying_caller_are_voted",
        0..20,
        |config| run_nested_lying_caller(config, 10),
    );
}

/// The lying forwarder member is its first primary and never receives the
/// counter's answers (its own commands are refused, and every answer sent to
/// it is lost): the backups hold answers it cannot order, so they replace it,
/// and every call completes.
#[test]
fn a_lying_primary_that_lacks_the_answers_is_replaced() {
    nested_clean(
        "a_lying_primary_that_lacks_the_answers_is_replaced",
        0..10,
        |config| run_nested_deaf_lying_primary(config, 5),
    );
}

#[test]
fn nested_command_on_one_copy_is_caught() {
    let bugs = PlantedBugs {
        nested_command_on_one_copy: true,
        ..PlantedBugs::default()
    };
    nested_caught("nested_command_on_one_copy_is_caught", bugs, |config| {
        run_nested_lying_caller(config, 10)
    });
}

/// Every seed of `range` runs `run` without a violation.
fn nested_clean(
    test: &str,
    range: std::ops::Range<u64>,
    run: impl Fn(&ClusterConfig) -> NestedReport,
) {
    for seed in seeds(range) {
        let mut config = ClusterConfig::new(seed);
        config.verbose = replay_seed().is_some();
        let report = run(&config);
        assert!(
            report.violations.is_empty(),
            "{}\n{:#?}\nreplies {:?}, counter {:?}",
            replay_command(seed, "byzantine", test),
            report.violations,
            report.replies,
            report.counter
        );
    }
}

/// With the planted `bugs`, some seed of 0..50 shows a violation.
fn nested_caught(test: &str, bugs: PlantedBugs, run: impl Fn(&ClusterConfig) -> NestedReport) {
    let caught = (0..50).find(|&seed| {
        let mut config = ClusterConfig::new(seed);
        config.bugs = bugs.clone();
        !run(&config).violations.is_empty()
    });
    match caught {
        Some(seed) => eprintln!(
            "{test}: caught at {}",
            replay_command(seed, "byzantine", test)
        ),
        None => panic!("{test}: no check caught the planted bug in seeds 0..50"),
    }
}

/// `config` with `t = 2`: seven replicas on eight hosts.
fn tolerating_two(mut config: KvConfig) -> KvConfig {
    config.tolerate = 2;
    config.cluster.hosts = 8;
    config
}

/// Some seed of `range` makes a check catch the planted `bugs` in `config`.
fn assert_bug_caught(
    test: &str,
    range: std::ops::Range<u64>,
    config: impl Fn(u64) -> KvConfig,
    bugs: PlantedBugs,
) {
    let planted = |seed| {
        let mut planted = config(seed);
        planted.cluster.bugs = bugs.clone();
        planted
    };
    assert_caught(test, "caught the planted bug", range, planted);
}

/// Some seed of `range` makes a check see a violation under `config` (a
/// planted bug, or more liars than the bound); prints its replay command.
fn assert_caught(
    test: &str,
    what: &str,
    range: std::ops::Range<u64>,
    config: impl Fn(u64) -> KvConfig,
) {
    let (start, end) = (range.start, range.end);
    match first_safety_failure(range, config) {
        Some((seed, violations)) => eprintln!(
            "{test}: caught at {} by {}",
            replay_command(seed, "byzantine", test),
            violations[0]
        ),
        None => panic!("{test}: no check {what} in seeds {start}..{end}"),
    }
}

fn seeds(range: std::ops::Range<u64>) -> Vec<u64> {
    match replay_seed() {
        Some(seed) => vec![seed],
        None => range.collect(),
    }
}
