//! Real kernel processes on stable storage (`--data-dir`): every kernel of
//! the cluster is stopped at once (the three processes SIGKILLed, the test's
//! own kernel shut down) and started again from its data directory. The view
//! service must resume its decisions: the servers it created are still
//! numbered, so a new server gets a new group, and the cluster serves again.

mod real_support;

use ftc_runtime::cluster::{LocalCluster, LocalClusterOptions};
use ftc_runtime::kernel::CallError;
use ftc_runtime::kv_app::{KvCommand, KvReply};
use ftc_runtime::types::{HostId, Incarnation};
use real_support::{kvnode, Driver};
use std::time::{Duration, Instant};

/// Servers started after the restart to time the view service's decisions.
const MEASURED_STARTS: u32 = 20;

#[test]
fn a_whole_cluster_killed_and_restarted_from_its_data_directories_resumes_the_view_service() {
    let _serial = real_support::serial();
    let data = tempfile::tempdir().expect("data root");
    let mut cluster = LocalCluster::prepare(
        &kvnode(),
        LocalClusterOptions {
            kernels: 3,
            main_host: true,
            data_root: Some(data.path().to_path_buf()),
            ..LocalClusterOptions::default()
        },
    )
    .expect("prepare the local cluster");
    let h0_data = data.path().join("h0");
    let driver = Driver::start_with(
        &cluster,
        ftc_runtime::kernel::FIRST_INCARNATION,
        Some(h0_data.clone()),
    );
    cluster.start_kernels().expect("start the kernels");
    let first = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let second = driver.start_kv(1, vec![HostId(2), HostId(3)]);
    let h = driver.handle();
    let me = h.new_client_id();
    let put = KvCommand::Put {
        key: "k".into(),
        value: "v".into(),
    };
    let reply = h
        .call(me, first, put.encode())
        .expect("a put before the failure");
    assert_eq!(KvReply::decode(&reply), Ok(KvReply::Done));
    for host in 1..=3 {
        assert!(
            data.path()
                .join(format!("h{host}"))
                .join("view-service")
                .is_dir(),
            "h{host} keeps its view service in its data directory"
        );
    }

    // Power failure: every kernel at once.
    for host in 1..=3 {
        cluster.kill(HostId(host));
    }
    driver.kernel.shutdown();
    let failed_at = Instant::now();
    for host in 1..=3 {
        cluster.restart(HostId(host)).expect("restart a kernel");
    }
    let driver = Driver::start_with(&cluster, Incarnation(2), Some(h0_data));
    let third = driver.start_kv(1, vec![HostId(1), HostId(3)]);
    eprintln!(
        "servers before the failure: {first:?}, {second:?}; after: {third:?} ({:.1} s after the restart)",
        failed_at.elapsed().as_secs_f64()
    );
    assert!(
        third != first && third != second,
        "the view service gave out {third:?} again: its decisions were lost"
    );
    // What the view service's disk costs a decision (printed, not asserted).
    let started = Instant::now();
    let mut more = Vec::new();
    for _ in 0..MEASURED_STARTS {
        more.push(driver.start_kv(1, vec![HostId(2), HostId(3)]));
    }
    eprintln!(
        "{MEASURED_STARTS} more servers started one after another on stable storage: {:.1} ms each",
        started.elapsed().as_secs_f64() * 1e3 / f64::from(MEASURED_STARTS)
    );
    more.sort();
    more.dedup();
    assert_eq!(
        more.len(),
        MEASURED_STARTS as usize,
        "every server a new group"
    );
    assert!(!more.contains(&first) && !more.contains(&second));
    // The new server serves.
    let h = driver.handle();
    let me = h.new_client_id();
    let reply = h
        .call(me, third, put.encode())
        .expect("a put after the restart");
    assert_eq!(KvReply::decode(&reply), Ok(KvReply::Done));
    // The first server is known, and its state (not durable) is gone with
    // all its replicas: its callers get server_failure, never a new server.
    let until = Instant::now() + Duration::from_secs(20);
    let mut outcome = h.call(me, first, KvCommand::Get { key: "k".into() }.encode());
    while outcome.is_ok() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        outcome = h.call(me, first, KvCommand::Get { key: "k".into() }.encode());
    }
    assert!(
        matches!(outcome, Err(CallError::ServerFailure(_))),
        "{outcome:?}"
    );
}
