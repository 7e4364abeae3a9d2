//! Messages larger than a frame on real kernel processes: a call whose argument
//! is 20 MiB, and a server holding about 64 MiB of state that gets replacement
//! replicas (whole-state transfers) after its replicas' hosts are killed.

mod real_support;

use ftc_runtime::cluster::LocalCluster;
use ftc_runtime::host::Timing;
use ftc_runtime::kv_app::{KvCommand, KvReply};
use ftc_runtime::transport::MAX_FRAME_BYTES;
use ftc_runtime::types::{GroupView, HostId};
use real_support::{executed, start_cluster_with, Driver};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn value(i: usize, len: usize) -> String {
    let unit = format!("value {i} ");
    unit.repeat(len / unit.len() + 1)[..len].to_string()
}

fn hosts_of(view: &GroupView) -> Vec<HostId> {
    view.members.iter().map(|m| m.host).collect()
}

/// Panics with `what`, keeping the kernels' logs and traces (the cluster's
/// directory goes away with it) in the temporary directory.
fn failed(cluster: &LocalCluster, what: &str) -> ! {
    let keep = std::env::temp_dir().join(format!("ftc-large-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&keep);
    for host in cluster.kernel_hosts() {
        for path in [cluster.log_path(host), cluster.trace_path(host)] {
            if let Some(name) = path.file_name() {
                let _ = std::fs::copy(&path, keep.join(name));
            }
        }
    }
    panic!("{what} (logs and traces kept in {})", keep.display());
}

/// Calls `step` (bounded in count and time) until every member of `view`, the
/// driver's own replica included, has executed everything the fastest member
/// had executed before the latest `step`: a recruit traces only entries it
/// executes itself, after its state transfer.
fn members_run(
    cluster: &LocalCluster,
    driver: &Driver,
    view: &GroupView,
    mut step: impl FnMut(usize),
) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(120);
    let mut last = Vec::new();
    let mut reached: Option<u64> = None;
    for n in 0..240 {
        if Instant::now() >= until {
            break;
        }
        step(n);
        let tips: Vec<Option<u64>> = view
            .members
            .iter()
            .map(|m| {
                let tip = if m.host == HostId(0) {
                    driver.tip(view.group)
                } else {
                    executed(&cluster.trace_path(m.host), view.group)
                        .into_iter()
                        .max()
                };
                tip.map(|(position, _)| position)
            })
            .collect();
        // A member that lags by the entry whose commit it has not heard yet
        // still counts: everyone reached what the fastest had before `step`.
        let slowest = tips.iter().map(|t| t.unwrap_or(0)).min().unwrap_or(0);
        if reached.is_some_and(|r| r > 0 && slowest >= r) {
            return Ok(());
        }
        reached = tips.iter().flatten().copied().max();
        last = tips;
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "the members' executed positions never caught up: last {last:?}"
    ))
}

#[test]
fn a_20_mib_argument_and_a_64_mib_state_transfer_succeed() {
    let _serial = real_support::serial();
    // Each large message is copied, encrypted and decrypted on every hop by
    // processes sharing two cores: a core thread can wait well over the
    // loopback default's 150 ms suspicion time for the CPU, so this cluster
    // suspects a host after a second of silence.
    let timing = Timing {
        heartbeat_us: 50_000,
        suspect_after_us: 1_000_000,
        election_min_us: 300_000,
        election_max_us: 600_000,
        ..Timing::default()
    };
    let (mut cluster, driver) = start_cluster_with(4, Some(timing));
    let group = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let h = driver.handle();
    let me = h.new_client_id();
    let first = driver
        .wait_view(group, Duration::from_secs(10), |_| true)
        .expect("the group's first view");

    // One call whose argument is larger than a frame.
    let sizes = [20 * MIB, 16 * MIB, 16 * MIB, 12 * MIB];
    assert!(sizes[0] > MAX_FRAME_BYTES);
    for (i, &len) in sizes.iter().enumerate() {
        let put = KvCommand::Put {
            key: format!("big{i}"),
            value: value(i, len),
        };
        let reply = h
            .call(me, group, put.encode())
            .unwrap_or_else(|e| failed(&cluster, &format!("a large put: {e}")));
        assert_eq!(KvReply::decode(&reply), Ok(KvReply::Done));
    }

    if std::env::var("DBG").is_ok() {
        failed(&cluster, "debug");
    }
    // Kill the replicas' hosts one after the other: each time the group's whole
    // state (64 MiB) goes to a replacement, and the last original replica is
    // gone at the end, so the reads below are served from transferred state.
    let mut view = first;
    for victim in hosts_of(&view.clone()) {
        assert_ne!(victim, HostId(0));
        eprintln!("view {:?}: killing {victim:?}", hosts_of(&view));
        cluster.kill(victim);
        let before = view.view_id;
        view = driver
            .wait_view(group, Duration::from_secs(30), |v| {
                v.view_id > before && !hosts_of(v).contains(&victim)
            })
            .expect("a view without the killed host");
        assert!(!view.failed, "the group failed: {view:?}");
        assert_eq!(view.members.len(), 2, "{view:?}");
        // A call can complete before the replacement has restored the state
        // (the sequencer answers); the replacement carries the state on once
        // it has executed an entry of its own after the transfer and the view
        // service has recorded that it holds the state.
        if let Err(e) = members_run(&cluster, &driver, &view, |n| {
            let put = KvCommand::Put {
                key: format!("after {victim:?} {n}"),
                value: "small".into(),
            };
            h.call(me, group, put.encode())
                .unwrap_or_else(|e| failed(&cluster, &format!("a put in the new view: {e}")));
        }) {
            failed(&cluster, &format!("in view {:?}: {e}", hosts_of(&view)));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    for (i, &len) in sizes.iter().enumerate() {
        let get = KvCommand::Get {
            key: format!("big{i}"),
        };
        let reply = h
            .call(me, group, get.encode())
            .unwrap_or_else(|e| failed(&cluster, &format!("a large get: {e}")));
        match KvReply::decode(&reply) {
            Ok(KvReply::Value(Some(v))) => {
                assert_eq!(v.len(), len, "big{i}");
                assert!(v == value(i, len), "big{i} differs");
            }
            other => panic!("big{i}: {other:?}"),
        }
    }
    let latest = driver.latest_view(group).expect("latest view");
    assert!(!latest.failed, "{latest:?}");
}
