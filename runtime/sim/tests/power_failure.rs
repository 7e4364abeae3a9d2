//! Whole-cluster power failures with stable storage: every host crashes at
//! once (each disk loses its unsynced writes, the last one torn) and the
//! hosts come back one after another. The view service must resume its
//! decisions: every server creation it answered is still known, a new
//! creation gets a new group, and the cluster serves again once a majority
//! is back. Without stable storage, or with the planted bug that restores
//! the log without its tail, the same check fails: evidence it can.

use ftc_runtime::host::PlantedBugs;
use ftc_runtime::types::GroupId;
use ftc_sim::cluster::{crash_spec, Cluster, ClusterConfig};
use ftc_sim::kv::KvConfig;
use ftc_sim::report::sweep_kv;

const MS: u64 = 1_000;

/// What a power failure did to the view service's decisions, or `Ok` with
/// the group created after it.
fn power_failure(seed: u64, stable: bool, bugs: PlantedBugs) -> Result<GroupId, String> {
    let mut config = ClusterConfig::new(seed);
    config.hosts = 3;
    config.stable_storage = stable;
    config.bugs = bugs;
    let mut cluster = Cluster::new(&config);
    let mut before = Vec::new();
    for (i, host) in [0usize, 1, 2].into_iter().enumerate() {
        let until = cluster.now() + 6_000 * MS;
        let group = cluster
            .start_group(host, crash_spec("kv", 1), until)
            .ok_or_else(|| format!("seed {seed}: server {i} not started before the failure"))?;
        before.push(group);
    }
    cluster.run_quietly_until(cluster.now() + 300 * MS);
    // Power failure: every host at once.
    for host in 0..3 {
        cluster.sim_mut().crash(host);
    }
    // Staggered restart.
    for (host, after) in [(2usize, 200 * MS), (0, 500 * MS), (1, 1_300 * MS)] {
        let at = cluster.now() + after;
        cluster.run_quietly_until(at);
        cluster.sim_mut().restart(host);
    }
    let until = cluster.now() + 10_000 * MS;
    let after = cluster
        .start_group(1, crash_spec("kv", 1), until)
        .ok_or_else(|| format!("seed {seed}: no server could be started after the restart"))?;
    if before.contains(&after) {
        return Err(format!(
            "seed {seed}: the new server got group {after:?}, which the view service had already given out ({before:?}): its decisions were lost"
        ));
    }
    cluster.run_quietly_until(cluster.now() + 2_000 * MS);
    for host in 0..3 {
        let node = cluster.sim().node(host).expect("every host is back");
        for group in &before {
            if node.host().view_service().view(*group).is_none() {
                return Err(format!(
                    "seed {seed}: host {host}'s view service no longer knows group {group:?}"
                ));
            }
        }
    }
    let violations = cluster.finish();
    if let Some(v) = violations.first() {
        return Err(format!("seed {seed}: {v}"));
    }
    Ok(after)
}

#[test]
fn the_view_service_resumes_its_decisions_after_a_whole_cluster_power_failure() {
    for seed in 0..100 {
        if let Err(e) = power_failure(seed, true, PlantedBugs::default()) {
            panic!("{e}");
        }
    }
}

#[test]
fn without_stable_storage_a_power_failure_loses_the_decisions() {
    for seed in 0..5 {
        let outcome = power_failure(seed, false, PlantedBugs::default());
        assert!(
            outcome.is_err(),
            "seed {seed}: the check missed the lost decisions: {outcome:?}"
        );
        eprintln!("caught: {}", outcome.unwrap_err());
    }
}

#[test]
fn restoring_without_the_log_tail_is_caught() {
    let bugs = PlantedBugs {
        restore_without_log_tail: true,
        ..PlantedBugs::default()
    };
    for seed in 0..5 {
        let outcome = power_failure(seed, true, bugs.clone());
        assert!(
            outcome.is_err(),
            "seed {seed}: the planted bug went unnoticed: {outcome:?}"
        );
        eprintln!("caught: {}", outcome.unwrap_err());
    }
}

/// The restart-burst sweep with every host on stable storage: restarted
/// hosts resume their view-service memory instead of standing in for a lost
/// one, and every check (linearizability, prefixes, exactly once, digests,
/// no wedge) still holds.
#[test]
fn restart_bursts_with_stable_storage_seeds_0_to_1000() {
    sweep_kv(0..1_000, |seed| {
        let mut config = KvConfig::restart_bursts(seed, true);
        config.cluster.stable_storage = true;
        config
    })
    .assert_clean(
        "power_failure",
        "restart_bursts_with_stable_storage_seeds_0_to_1000",
    );
}
