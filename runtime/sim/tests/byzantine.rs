//! Lying replicas: a `model byzantine tolerate (1)` key-value server (four
//! replicas) with one member that answers every reply with a plausible wrong
//! value, under chaos and then healed. Clients must see only the truth (the
//! judge finds the history linearizable, no reply of the wrong shape), because
//! a reply counts only with `t+1` matching copies from distinct members. The
//! planted bug "take the first copy" must be caught, so the lie is visible to
//! the checks.

use ftc_runtime::host::PlantedBugs;
use ftc_runtime::types::Model;
use ftc_sim::report::{first_safety_failure, replay_command, sweep_kv};
use ftc_sim::{FaultConfig, KvConfig};

/// A byzantine server tolerating one failure, with one liar among its members.
fn one_liar(seed: u64) -> KvConfig {
    let mut config = KvConfig::chaos(seed);
    config.model = Model::Byzantine;
    config.tolerate = 1;
    config.liars = 1;
    config.safety_us = 2_000_000;
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
    let outcome = sweep_kv(60_000..60_300, one_liar);
    outcome.assert_clean("byzantine", "a_liar_is_outvoted_under_chaos");
}

#[test]
fn a_liar_is_outvoted_on_calm_links() {
    let outcome = sweep_kv(61_000..61_100, one_liar_calm);
    outcome.assert_clean("byzantine", "a_liar_is_outvoted_on_calm_links");
    assert!(outcome.ok_ops > 0, "the calm runs completed operations");
}

#[test]
fn first_reply_for_byzantine_is_caught() {
    let test = "first_reply_for_byzantine_is_caught";
    let planted = |seed| {
        let mut config = one_liar_calm(seed);
        config.cluster.bugs = PlantedBugs {
            first_reply_for_byzantine: true,
            ..PlantedBugs::default()
        };
        config
    };
    match first_safety_failure(0..1_000, planted) {
        Some((seed, violations)) => eprintln!(
            "{test}: caught at {} by {}",
            replay_command(seed, "byzantine", test),
            violations[0]
        ),
        None => panic!("{test}: no check caught the planted bug in seeds 0..1000"),
    }
}
