//! Durable servers: a key-value server started `durable` loses every replica
//! at once — in a whole-cluster power failure (every disk loses its unsynced
//! writes, the last one torn), with only its replicas' hosts crashing while
//! the view service keeps a majority, or with them paused until excluded —
//! and comes back from its replicas' disks once they restart (or rejoin). A second start of its name re-attaches
//! to it. Checked: every append a client was answered is in the value
//! exactly once (no acknowledged durable write lost, none executed twice),
//! plus the simulator's execution checks. The planted bugs that keep only
//! snapshots on disk, or acknowledge before the fsync, are caught. And the
//! restart-burst nemesis runs against a durable server on stable storage,
//! with the key-value workload's checks (linearizability included).

use ftc_runtime::host::{ClientEvent, PlantedBugs};
use ftc_runtime::message::Message;
use ftc_runtime::types::{GroupId, HostId, Micros, Model, ServerSpec};
use ftc_runtime::view_service::{Decision, VsMessage};
use ftc_sim::apps::{KvCommand, KvReply};
use ftc_sim::cluster::{crash_spec, Cluster, ClusterConfig, Happening};
use ftc_sim::report::sweep_kv;
use ftc_sim::KvConfig;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

const MS: u64 = 1_000;
const KEY: &str = "ledger";

/// What takes every replica of the server down at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outage {
    /// Three hosts, all of them: the view service goes down too.
    PowerFailure,
    /// Five hosts, only the server's two: the view service keeps a majority
    /// and finds the server dormant until one of them is back.
    ReplicasOnly,
    /// Five hosts, the server's two paused past their exclusion and resumed:
    /// they rejoin as new incarnations without restarting, and bring the
    /// server back from what their disks hold.
    ReplicasPaused,
}

fn durable_spec(name: &str) -> ServerSpec {
    let mut spec = crash_spec("kv", 1);
    spec.durable = Some(name.to_string());
    spec
}

fn append(i: u64) -> Vec<u8> {
    KvCommand::Append {
        key: KEY.into(),
        value: format!("|{i}|"),
    }
    .encode()
}

/// Runs one outage; `Ok` with the number of acknowledged appends.
fn outage(seed: u64, outage: Outage, bugs: PlantedBugs) -> Result<usize, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut config = ClusterConfig::new(seed);
    config.hosts = match outage {
        Outage::PowerFailure => 3,
        Outage::ReplicasOnly | Outage::ReplicasPaused => 5,
    };
    config.stable_storage = true;
    config.batching = true;
    config.bugs = bugs;
    let mut cluster = Cluster::new(&config);
    let fail = |what: String| format!("seed {seed} ({outage:?}): {what}");
    let until = cluster.now() + 6_000 * MS;
    let group = cluster
        .start_group(0, durable_spec("accounts"), until)
        .ok_or_else(|| fail("the durable server did not start".into()))?;
    let client_host = match outage {
        Outage::PowerFailure => 0,
        // A host that is not the server's, so its client outlives the outage.
        Outage::ReplicasOnly | Outage::ReplicasPaused => (0..5)
            .find(|h| !cluster.members(group).contains(h))
            .ok_or_else(|| fail("no host outside the server".into()))?,
    };
    let mut acked = BTreeSet::new();
    let sequential = 10 + seed % 30;
    for i in 0..sequential {
        let token = cluster
            .call(client_host, 0, group, append(i))
            .ok_or_else(|| fail("the client's host is down".into()))?;
        match cluster.await_answer(client_host, token, cluster.now() + 4_000 * MS) {
            Some(ClientEvent::Reply { .. }) => {
                acked.insert(i);
            }
            other => return Err(fail(format!("append {i} before the outage: {other:?}"))),
        }
    }
    // A burst of concurrent appends, and the outage while some are in flight.
    let mut pending = BTreeMap::new();
    for client in 1..=8u32 {
        let i = sequential + u64::from(client);
        if let Some(token) = cluster.call(client_host, client, group, append(i)) {
            pending.insert(token, i);
        }
    }
    // Half the seeds cut the power the instant the first of them is
    // answered (a member's acknowledgement of it may still be unsynced if
    // the driver were wrong); the others at a random moment.
    let at_first_answer = seed % 2 == 0;
    let cut = cluster.now()
        + match at_first_answer {
            true => 2_000 * MS,
            false => rng.random_range(0..25 * MS),
        };
    while let Some(happening) = cluster.run_until(cut) {
        if let Happening::Answer {
            host,
            event: ClientEvent::Reply { token, .. },
            ..
        } = happening
        {
            if let Some(i) = pending.get(&token).filter(|_| host == client_host) {
                acked.insert(*i);
                if at_first_answer {
                    break;
                }
            }
        }
    }
    let sequencer = cluster.sequencer(group);
    let mut victims: Vec<usize> = match outage {
        Outage::PowerFailure => (0..3).collect(),
        Outage::ReplicasOnly | Outage::ReplicasPaused => cluster.members(group),
    };
    for &host in &victims {
        match outage {
            Outage::ReplicasPaused => cluster.sim_mut().pause(host),
            _ => cluster.sim_mut().crash(host),
        };
    }
    if outage == Outage::ReplicasPaused {
        // Long enough for the view service to exclude both.
        let at = cluster.now() + 1_500 * MS;
        cluster.run_quietly_until(at);
    }
    victims.shuffle(&mut rng);
    if seed % 3 == 0 {
        // The sequencer's host comes back last: a member's disk brings the
        // server back.
        victims.sort_by_key(|h| Some(*h) == sequencer);
    }
    for host in victims {
        let at = cluster.now() + rng.random_range(100 * MS..800 * MS);
        cluster.run_quietly_until(at);
        match outage {
            Outage::ReplicasPaused => cluster.sim_mut().resume(host),
            _ => cluster.sim_mut().restart(host),
        };
    }
    // A second start of the name gets the same server, with its state.
    let reader = match outage {
        Outage::PowerFailure => 1,
        Outage::ReplicasOnly | Outage::ReplicasPaused => client_host,
    };
    let until = cluster.now() + 10_000 * MS;
    let again = cluster
        .start_group(reader, durable_spec("accounts"), until)
        .ok_or_else(|| fail("the durable server could not be started again".into()))?;
    if again != group {
        return Err(fail(format!(
            "starting the name again gave {again:?}, not the durable server {group:?}"
        )));
    }
    let value = read(&mut cluster, reader, group)
        .map_err(fail)?
        .ok_or_else(|| fail("the read after the outage got no value".into()))?;
    check_value(&value, &acked).map_err(fail)?;
    if let Some(v) = cluster.finish().first() {
        return Err(fail(v.to_string()));
    }
    Ok(acked.len())
}

/// Reads the appended value from `host`: `Ok(None)` when the read got no
/// answer before its deadline or failed (the server unavailable).
fn read(cluster: &mut Cluster, host: usize, group: GroupId) -> Result<Option<String>, String> {
    let get = KvCommand::Get { key: KEY.into() }.encode();
    let token = cluster
        .call(host, 0, group, get)
        .ok_or("the reader's host is down")?;
    match cluster.await_answer(host, token, cluster.now() + 10_000 * MS) {
        Some(ClientEvent::Reply { payload, .. }) => match KvReply::decode(&payload) {
            Some(KvReply::Value(v)) => Ok(Some(v.unwrap_or_default())),
            other => Err(format!("the read answered {other:?}")),
        },
        Some(ClientEvent::CallFailed { .. }) | None => Ok(None),
        Some(other) => Err(format!("the read was answered {other:?}")),
    }
}

/// Every acknowledged append is in `value` exactly once, and none twice.
fn check_value(value: &str, acked: &BTreeSet<u64>) -> Result<(), String> {
    let mut seen = BTreeMap::<u64, usize>::new();
    for item in value.split('|').filter(|s| !s.is_empty()) {
        let i: u64 = item
            .parse()
            .map_err(|_| format!("the value holds {item:?}"))?;
        *seen.entry(i).or_default() += 1;
    }
    if let Some((i, n)) = seen.iter().find(|(_, n)| **n > 1) {
        return Err(format!("append {i} was executed {n} times"));
    }
    if let Some(lost) = acked.iter().find(|i| !seen.contains_key(i)) {
        return Err(format!(
            "append {lost} was acknowledged but is lost after the outage ({} acknowledged, {} in the value)",
            acked.len(),
            seen.len()
        ));
    }
    Ok(())
}

fn sweep(outage_kind: Outage, seeds: std::ops::Range<u64>) {
    let mut acked = 0;
    for seed in seeds {
        match outage(seed, outage_kind, PlantedBugs::default()) {
            Ok(n) => acked += n,
            Err(e) => panic!("{e}"),
        }
    }
    eprintln!("{outage_kind:?}: {acked} acknowledged appends kept");
}

#[test]
fn a_durable_server_keeps_every_acknowledged_write_through_a_power_failure() {
    sweep(Outage::PowerFailure, 0..150);
}

#[test]
fn a_durable_server_whose_replicas_all_crash_comes_back_from_their_disks() {
    sweep(Outage::ReplicasOnly, 1_000..1_150);
}

#[test]
fn a_durable_server_whose_replicas_were_all_excluded_comes_back_when_they_rejoin() {
    sweep(Outage::ReplicasPaused, 2_000..2_100);
}

/// Finds a seed the planted bug breaks, within `seeds`.
fn caught(bugs: PlantedBugs, outage_kind: Outage, seeds: std::ops::Range<u64>) {
    let found = seeds
        .clone()
        .find_map(|seed| outage(seed, outage_kind, bugs.clone()).err());
    match found {
        Some(e) => eprintln!("caught: {e}"),
        None => panic!("the planted bug went unnoticed in seeds {seeds:?}"),
    }
}

#[test]
fn keeping_only_snapshots_on_disk_is_caught() {
    let bugs = PlantedBugs {
        durable_log_not_persisted: true,
        ..PlantedBugs::default()
    };
    caught(bugs.clone(), Outage::PowerFailure, 0..50);
    caught(bugs, Outage::ReplicasOnly, 1_000..1_050);
}

#[test]
fn acknowledging_a_durable_write_before_the_fsync_is_caught() {
    let bugs = PlantedBugs {
        sync_after_send: true,
        ..PlantedBugs::default()
    };
    caught(bugs, Outage::PowerFailure, 0..150);
}

/// A start of a durable name with another class, model or tolerance is
/// refused, saying what differs; the server itself goes on.
#[test]
fn a_durable_name_started_with_another_tolerance_is_refused() {
    let mut config = ClusterConfig::new(7);
    config.hosts = 4;
    config.stable_storage = true;
    let mut cluster = Cluster::new(&config);
    let until = cluster.now() + 6_000 * MS;
    let group: GroupId = cluster
        .start_group(0, durable_spec("accounts"), until)
        .expect("the durable server starts");
    let mut other = durable_spec("accounts");
    other.tolerate = 2;
    let token = cluster.start_server(1, other).expect("host 1 is up");
    match cluster.await_answer(1, token, cluster.now() + 6_000 * MS) {
        Some(ClientEvent::ServerStartFailed { reason, .. }) => {
            assert!(
                reason.contains("durable server \"accounts\" exists")
                    && reason.contains("tolerate (1)")
                    && reason.contains("tolerate (2)"),
                "{reason}"
            );
        }
        other => panic!("a mismatching start was answered {other:?}"),
    }
    let mut byzantine = durable_spec("ledger");
    byzantine.model = Model::Byzantine;
    let token = cluster.start_server(1, byzantine).expect("host 1 is up");
    match cluster.await_answer(1, token, cluster.now() + 6_000 * MS) {
        Some(ClientEvent::ServerStartFailed { reason, .. }) => {
            assert!(reason.contains("durable byzantine"), "{reason}")
        }
        other => panic!("a durable byzantine start was answered {other:?}"),
    }
    let token = cluster.call(0, 0, group, append(1)).expect("host 0 is up");
    assert!(matches!(
        cluster.await_answer(0, token, cluster.now() + 4_000 * MS),
        Some(ClientEvent::Reply { .. })
    ));
    assert!(cluster.finish().is_empty());
}

/// The restart-burst nemesis (two of three hosts crashed, paused or cut off
/// together or 60 ms apart) on stable storage, against a durable server:
/// its replicas often all go down together, and it must come back each time
/// with a linearizable history and every check holding.
fn durable_bursts(seed: u64, crashes_only: bool) -> KvConfig {
    let mut config = KvConfig::restart_bursts(seed, crashes_only);
    config.cluster.stable_storage = true;
    config.cluster.batching = true;
    config.durable = Some("kv".into());
    // Both replicas on the hosts the nemesis disrupts (host 0 never is):
    // bursts take them down together.
    config.tolerate = 1;
    config.preferred_hosts = vec![1, 2];
    config
}

#[test]
fn a_durable_server_under_restart_bursts_of_crashes() {
    sweep_kv(5_000..5_300, |s| durable_bursts(s, true)).assert_clean(
        "durable",
        "a_durable_server_under_restart_bursts_of_crashes",
    );
}

#[test]
fn a_durable_server_under_restart_bursts_of_every_kind() {
    sweep_kv(6_000..6_300, |s| durable_bursts(s, false)).assert_clean(
        "durable",
        "a_durable_server_under_restart_bursts_of_every_kind",
    );
}

/// The long sweep: `FTC_DURABLE_SEEDS=20000 cargo test -p ftc-sim --release
/// --test durable -- --ignored --nocapture` (seeds from 100,000 up; every
/// outage and both burst kinds).
#[test]
#[ignore = "long: run with --ignored, FTC_DURABLE_SEEDS sets the seed count"]
fn durable_long() {
    let count: u64 = std::env::var("FTC_DURABLE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let seeds = 100_000..100_000 + count;
    for kind in [
        Outage::PowerFailure,
        Outage::ReplicasOnly,
        Outage::ReplicasPaused,
    ] {
        sweep(kind, seeds.clone());
    }
    sweep_kv(seeds.clone(), |s| durable_bursts(s, true)).assert_clean("durable", "durable_long");
    sweep_kv(seeds.clone(), |s| durable_bursts(s, false)).assert_clean("durable", "durable_long");
    for seed in seeds {
        if let Err(e) = former_holder_alone(seed, PlantedBugs::default()) {
            panic!("{e}");
        }
    }
}

/// A holder that died before the others may bring the server back alone
/// only while its disk still holds every committed entry. Five hosts; the
/// server on hosts 0 and 1; clients on host 4 append all along. Host 0
/// crashes; the server goes on with host 1 and a recruit; a seeded moment
/// later host 1 and the recruit crash together and only host 0 restarts.
/// Either host 0 brings the server back with every acknowledged append
/// (nothing committed since it died: the recruit was not yet counted as
/// holding the state, so the sequencer could not commit), or the server
/// stays dormant (its disk is stale, so the view service does not count it).
/// `Ok(true)` when the server came back.
fn former_holder_alone(seed: u64, bugs: PlantedBugs) -> Result<bool, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut config = ClusterConfig::new(seed);
    config.hosts = 5;
    config.stable_storage = true;
    config.batching = true;
    config.bugs = bugs;
    let mut cluster = Cluster::new(&config);
    let fail = |what: String| format!("seed {seed} (former holder): {what}");
    let mut spec = durable_spec("accounts");
    spec.hosts = vec![HostId(0), HostId(1)];
    let until = cluster.now() + 6_000 * MS;
    let group = cluster
        .start_group(4, spec, until)
        .ok_or_else(|| fail("the durable server did not start".into()))?;
    // Four clients append one after another, each as soon as it is answered.
    // An append is pending by its token: its client, its number, and whether
    // it was issued once the server's view no longer held host 0 (then it
    // can only commit in a later view).
    type Pending = BTreeMap<u64, (u32, u64, bool)>;
    let mut acked = BTreeSet::new();
    let mut pending: Pending = BTreeMap::new();
    let mut next = 0u64;
    let mut issue = |cluster: &mut Cluster, client: u32, pending: &mut Pending| {
        let i = next;
        next += 1;
        let after_move = !cluster.members(group).contains(&0);
        if let Some(token) = cluster.call(4, client, group, append(i)) {
            pending.insert(token, (client, i, after_move));
        }
    };
    for client in 0..4 {
        issue(&mut cluster, client, &mut pending);
    }
    // Runs until `until`, or (`stop_at_new_view`) until the first append
    // issued after the view moved is answered.
    let mut run = |cluster: &mut Cluster,
                   until: Micros,
                   stop_at_new_view: bool,
                   acked: &mut BTreeSet<u64>,
                   pending: &mut Pending| {
        while let Some(h) = cluster.run_until(until) {
            if let Happening::Answer { host: 4, event, .. } = h {
                let token = ftc_sim::cluster::answer_token(&event);
                if let Some((client, i, after_move)) = pending.remove(&token) {
                    let replied = matches!(event, ClientEvent::Reply { .. });
                    if replied {
                        acked.insert(i);
                    }
                    issue(cluster, client, pending);
                    if stop_at_new_view && replied && after_move {
                        return;
                    }
                }
            }
        }
    };
    let at = cluster.now() + 300 * MS;
    run(&mut cluster, at, false, &mut acked, &mut pending);
    cluster.sim_mut().crash(0);
    // Half the seeds hold the view service's `StateHeld` decisions back (the
    // recruit's counting as a holder is late, as under load) and cut the new
    // view at its first answered append issued after it: with the commit
    // gate nothing commits before the recruit counts; without, appends do.
    let at_first = seed % 2 == 0;
    if at_first {
        cluster
            .sim_mut()
            .set_drop_filter(Some(Box::new(|_, _, m| holds_state_held(m))));
    }
    let at = cluster.now()
        + match at_first {
            true => 3_000 * MS,
            false => rng.random_range(150 * MS..700 * MS),
        };
    run(&mut cluster, at, at_first, &mut acked, &mut pending);
    for host in cluster.members(group) {
        if host != 0 {
            cluster.sim_mut().crash(host);
        }
    }
    cluster.sim_mut().set_drop_filter(None);
    cluster.sim_mut().restart(0);
    let at = cluster.now() + 3_000 * MS;
    run(&mut cluster, at, false, &mut acked, &mut pending);
    let back = match read(&mut cluster, 4, group).map_err(fail)? {
        Some(value) => {
            check_value(&value, &acked).map_err(fail)?;
            true
        }
        None => false,
    };
    Ok(back)
}

/// A view-service message carrying a `StateHeld` decision.
fn holds_state_held(m: &Message) -> bool {
    let Message::View(vs) = m else {
        return false;
    };
    match &**vs {
        VsMessage::Propose {
            decision: Decision::StateHeld { .. },
        } => true,
        VsMessage::Append { entries, .. } => entries
            .iter()
            .any(|e| matches!(e.decision, Decision::StateHeld { .. })),
        _ => false,
    }
}

#[test]
fn a_former_holder_brings_a_durable_server_back_only_while_its_disk_is_complete() {
    let mut back = 0;
    for seed in 3_000..3_200 {
        match former_holder_alone(seed, PlantedBugs::default()) {
            Ok(true) => back += 1,
            Ok(false) => {}
            Err(e) => panic!("{e}"),
        }
    }
    eprintln!("the former holder brought the server back in {back} of 200 runs");
    assert!(back > 0, "the former holder never brought the server back");
}

#[test]
fn committing_before_recruits_count_as_holders_is_caught() {
    let bugs = PlantedBugs {
        durable_commit_ungated: true,
        ..PlantedBugs::default()
    };
    let mut back = 0;
    for seed in 3_000..3_400 {
        match former_holder_alone(seed, bugs.clone()) {
            Err(e) => {
                eprintln!("caught: {e}");
                return;
            }
            Ok(true) => back += 1,
            Ok(false) => {}
        }
    }
    panic!("the planted bug went unnoticed (the former holder came back {back} times)");
}
