//! Real kernel processes on loopback: the launcher, signals, restarts, and the
//! transport refusing bad peers. Needs no replication protocol.

mod real_support;

use ftc_runtime::transport::{probe, TransportTuning};
use ftc_runtime::types::{HostId, Incarnation};
use real_support::{attack, refusals, start_cluster};
use std::time::{Duration, Instant};

fn tuning() -> TransportTuning {
    TransportTuning {
        handshake_timeout_ms: 500,
        connect_timeout_ms: 500,
        ..TransportTuning::default()
    }
}

fn incarnation_in(ready_line: &str) -> u64 {
    ready_line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("incarnation="))
        .and_then(|v| v.parse().ok())
        .expect("ready line names the incarnation")
}

#[test]
fn launcher_starts_signals_restarts_and_stops_kernels() {
    let mut cluster = start_cluster(3);
    let key = cluster.config().key.clone();
    let addr = |c: &ftc_runtime::cluster::LocalCluster, h: u32| c.config().hosts[&HostId(h)];
    for h in 1..=3 {
        let line = cluster.ready_line(HostId(h)).expect("ready").to_string();
        let id = probe(
            HostId(0),
            Incarnation(1),
            HostId(h),
            addr(&cluster, h),
            &key,
            &tuning(),
        )
        .expect("authenticated probe");
        assert_eq!(id.incarnation.0, incarnation_in(&line));
    }

    // A paused kernel answers nothing; resumed, it serves again.
    cluster.pause(HostId(2)).expect("pause");
    assert!(probe(
        HostId(0),
        Incarnation(1),
        HostId(2),
        addr(&cluster, 2),
        &key,
        &tuning()
    )
    .is_err());
    cluster.resume(HostId(2)).expect("resume");
    assert!(probe(
        HostId(0),
        Incarnation(1),
        HostId(2),
        addr(&cluster, 2),
        &key,
        &tuning()
    )
    .is_ok());

    // Killed, it is gone; restarted, it is a new, larger incarnation on the same address.
    let before = incarnation_in(cluster.ready_line(HostId(3)).expect("ready"));
    cluster.kill(HostId(3));
    assert!(!cluster.is_running(HostId(3)));
    assert!(probe(
        HostId(0),
        Incarnation(1),
        HostId(3),
        addr(&cluster, 3),
        &key,
        &tuning()
    )
    .is_err());
    cluster.restart(HostId(3)).expect("restart");
    let id = probe(
        HostId(0),
        Incarnation(1),
        HostId(3),
        addr(&cluster, 3),
        &key,
        &tuning(),
    )
    .expect("probe the restarted kernel");
    assert!(id.incarnation.0 > before);

    // SIGTERM: a clean, prompt exit.
    let started = Instant::now();
    assert!(
        cluster.stop(HostId(1), 5_000),
        "kernel exits cleanly on SIGTERM"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!cluster.is_running(HostId(1)));
}

#[test]
fn kernels_refuse_garbage_oversized_frames_and_wrong_keys_and_log_them() {
    let mut cluster = start_cluster(2);
    let key = cluster.config().key.clone();
    let target = HostId(1);
    let addr = cluster.config().hosts[&target];
    for _ in 0..3 {
        attack(addr, target);
    }
    // Every attempt is logged with the peer's address; the kernel still runs and
    // still authenticates a real peer.
    let until = Instant::now() + Duration::from_secs(5);
    while refusals(&cluster, target) < 12 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        refusals(&cluster, target) >= 12,
        "log:\n{}",
        std::fs::read_to_string(cluster.log_path(target)).unwrap_or_default()
    );
    assert!(cluster.is_running(target));
    assert!(probe(HostId(0), Incarnation(1), target, addr, &key, &tuning()).is_ok());
}
