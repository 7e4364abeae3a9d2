//! Whole-cluster power failures with stable storage: every host crashes at
//! once (each disk loses its unsynced writes, the last one torn) and the
//! hosts come back one after another. The view service must resume its
//! decisions: every server creation it answered is still known, a new
//! creation gets a new group, and the cluster serves again once a majority
//! is back. Without stable storage, or with the planted bugs that restore
//! the log without its tail or acknowledge before the fsync, the same check
//! fails: evidence it can.

use ftc_runtime::host::PlantedBugs;
use ftc_runtime::types::GroupId;
use ftc_sim::cluster::{crash_spec, Cluster, ClusterConfig};
use ftc_sim::kv::KvConfig;
use ftc_sim::report::sweep_kv;

const MS: u64 = 1_000;

/// When the power fails.
#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    /// 300 ms after the last server started: everything settled.
    Settled,
    /// The instant the view service's leader commits a fourth server's
    /// creation: before the followers hear of the commit.
    AtTheCommit,
}

/// What a power failure did to the view service's decisions, or `Ok` with
/// the group created after it.
fn power_failure(seed: u64, stable: bool, bugs: PlantedBugs) -> Result<GroupId, String> {
    power_failure_when(seed, stable, bugs, When::Settled)
}

fn power_failure_when(
    seed: u64,
    stable: bool,
    bugs: PlantedBugs,
    when: When,
) -> Result<GroupId, String> {
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
    if when == When::AtTheCommit {
        let leader =
            leader(&cluster).ok_or_else(|| format!("seed {seed}: no view-service leader"))?;
        cluster.start_server(leader, crash_spec("kv", 1));
        // Step in 100 µs slices until the leader applied the creation.
        let mut committed = None;
        for _ in 0..60_000 {
            let at = cluster.now() + 100;
            cluster.run_quietly_until(at);
            committed = cluster.sim().node(leader).and_then(|n| {
                n.host()
                    .view_service()
                    .views()
                    .map(|v| v.group)
                    .find(|g| !before.contains(g))
            });
            if committed.is_some() {
                break;
            }
        }
        before.push(committed.ok_or_else(|| {
            format!("seed {seed}: the leader never committed the fourth creation")
        })?);
    }
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

/// The host that leads the view service, as host 0 sees it.
fn leader(cluster: &Cluster) -> Option<usize> {
    let node = cluster.sim().node(0)?;
    node.host().view_service().leader().map(|h| h.0 as usize)
}

#[test]
fn the_view_service_resumes_its_decisions_after_a_whole_cluster_power_failure() {
    for seed in 0..100 {
        if let Err(e) = power_failure(seed, true, PlantedBugs::default()) {
            panic!("{e}");
        }
    }
}

/// The power fails the instant the leader commits a creation: the
/// followers' acknowledgements of it must already be on their disks.
#[test]
fn a_power_failure_at_the_instant_of_a_commit_loses_no_decision() {
    for seed in 0..100 {
        if let Err(e) = power_failure_when(seed, true, PlantedBugs::default(), When::AtTheCommit) {
            panic!("{e}");
        }
    }
}

#[test]
fn acknowledging_before_the_fsync_is_caught() {
    let bugs = PlantedBugs {
        sync_after_send: true,
        ..PlantedBugs::default()
    };
    let caught = (0..100)
        .find_map(|seed| power_failure_when(seed, true, bugs.clone(), When::AtTheCommit).err());
    match caught {
        Some(e) => eprintln!("caught: {e}"),
        None => panic!("acknowledging before the fsync went unnoticed in 100 seeds"),
    }
}

/// Every one of seeds 0..5 of the power failure must fail the check.
fn caught_in_every_seed(stable_storage: bool, bugs: PlantedBugs, missed: &str) {
    for seed in 0..5 {
        let outcome = power_failure(seed, stable_storage, bugs.clone());
        assert!(outcome.is_err(), "seed {seed}: {missed}: {outcome:?}");
        eprintln!("caught: {}", outcome.unwrap_err());
    }
}

#[test]
fn without_stable_storage_a_power_failure_loses_the_decisions() {
    caught_in_every_seed(
        false,
        PlantedBugs::default(),
        "the check missed the lost decisions",
    );
}

#[test]
fn restoring_without_the_log_tail_is_caught() {
    let bugs = PlantedBugs {
        restore_without_log_tail: true,
        ..PlantedBugs::default()
    };
    caught_in_every_seed(true, bugs, "the planted bug went unnoticed");
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
