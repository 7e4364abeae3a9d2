//! Messages larger than a frame on real kernel processes: a call whose argument
//! is 20 MiB, and a server holding about 64 MiB of state that gets replacement
//! replicas (whole-state transfers) after its replicas' hosts are killed.

mod real_support;

use ftc_runtime::cluster::LocalCluster;
use ftc_runtime::kv_app::{KvCommand, KvReply};
use ftc_runtime::transport::MAX_FRAME_BYTES;
use ftc_runtime::types::{GroupView, HostId};
use real_support::start_cluster;
use std::time::Duration;

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

#[test]
fn a_20_mib_argument_and_a_64_mib_state_transfer_succeed() {
    let _serial = real_support::serial();
    let (mut cluster, driver) = start_cluster(4);
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
        // A call completes once the new view runs, i.e. the replacement
        // restored the state; then give the view service a moment to record
        // that it holds the state before the next kill.
        let put = KvCommand::Put {
            key: format!("after {victim:?}"),
            value: "small".into(),
        };
        h.call(me, group, put.encode())
            .unwrap_or_else(|e| failed(&cluster, &format!("a put in the new view: {e}")));
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
