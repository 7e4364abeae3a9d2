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

/// Three kernel processes and this test's own kernel (h0), each with a data
/// directory under the returned one.
fn start_on_disk() -> (tempfile::TempDir, LocalCluster, Driver) {
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
    let driver = Driver::start_with(
        &cluster,
        ftc_runtime::kernel::FIRST_INCARNATION,
        Some(data.path().join("h0")),
    );
    cluster.start_kernels().expect("start the kernels");
    (data, cluster, driver)
}

/// Servers started after the restart to time the view service's decisions.
const MEASURED_STARTS: u32 = 20;

#[test]
fn a_whole_cluster_killed_and_restarted_from_its_data_directories_resumes_the_view_service() {
    let _serial = real_support::serial();
    let (data, mut cluster, driver) = start_on_disk();
    let h0_data = data.path().join("h0");
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

/// A durable server on real processes: concurrent clients append, every
/// kernel is killed at once while appends are in flight, the cluster is
/// started again from its data directories, and a second start of the
/// server's name gets the same server with every acknowledged append,
/// each exactly once.
#[test]
fn a_durable_server_keeps_every_acknowledged_write_when_every_kernel_is_killed() {
    let _serial = real_support::serial();
    let (data, mut cluster, driver) = start_on_disk();
    let h0_data = data.path().join("h0");
    let mut spec = real_support::kv_spec(1, vec![HostId(1), HostId(2)]);
    spec.durable = Some("ledger".into());
    let group = driver.start_spec(spec.clone());
    // Four clients append until the kill; each records what was acknowledged.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let h = driver.handle();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let me = h.new_client_id();
                let mut acked = Vec::new();
                for i in 0..10_000u32 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let append = KvCommand::Append {
                        key: "ledger".into(),
                        value: format!("|{w}.{i}|"),
                    };
                    let ticket = h.call_async(me, group, append.encode());
                    match ticket.wait_timeout(Duration::from_secs(2)) {
                        Some(Ok(_)) => acked.push(format!("{w}.{i}")),
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    // Power failure: every kernel at once, appends in flight.
    for host in 1..=3 {
        cluster.kill(HostId(host));
    }
    driver.kernel.shutdown();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("a writer"))
        .collect();
    assert!(
        !acked.is_empty(),
        "appends were acknowledged before the kill"
    );
    for host in [3, 1, 2] {
        cluster.restart(HostId(host)).expect("restart a kernel");
    }
    let driver = Driver::start_with(&cluster, Incarnation(2), Some(h0_data));
    let started = Instant::now();
    let again = driver.start_spec(spec);
    assert_eq!(again, group, "the name re-attaches to the durable server");
    let h = driver.handle();
    let me = h.new_client_id();
    let get = KvCommand::Get {
        key: "ledger".into(),
    };
    let reply = h
        .call(me, group, get.encode())
        .expect("a read after the restart");
    eprintln!(
        "{} appends acknowledged before the kill; the server answered {:.1} s after the restart",
        acked.len(),
        started.elapsed().as_secs_f64()
    );
    let Ok(KvReply::Value(Some(value))) = KvReply::decode(&reply) else {
        panic!("the durable server lost its value: {reply:?}");
    };
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for item in value.split('|').filter(|s| !s.is_empty()) {
        *seen.entry(item).or_default() += 1;
    }
    for a in &acked {
        assert_eq!(
            seen.get(a.as_str()),
            Some(&1),
            "append {a}: acknowledged, so kept exactly once"
        );
    }
    assert!(seen.values().all(|n| *n == 1), "no append executed twice");
}
