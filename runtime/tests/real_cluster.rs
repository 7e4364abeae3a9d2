//! Real kernel processes on loopback: the launcher, signals, restarts, and the
//! transport refusing bad peers. Needs no replication protocol.

mod real_support;

use ftc_runtime::transport::TransportTuning;
use ftc_runtime::types::HostId;
use real_support::{attack, probe_host, refusals, start_cluster};
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
    let _serial = real_support::serial();
    let (mut cluster, _driver) = start_cluster(3);
    for h in 1..=3 {
        let line = cluster.ready_line(HostId(h)).expect("ready").to_string();
        let id = probe_host(&cluster, HostId(h), &tuning()).expect("authenticated probe");
        assert_eq!(id.incarnation.0, incarnation_in(&line));
    }

    // A paused kernel answers nothing; resumed, it serves again.
    cluster.pause(HostId(2)).expect("pause");
    assert!(probe_host(&cluster, HostId(2), &tuning()).is_err());
    cluster.resume(HostId(2)).expect("resume");
    assert!(probe_host(&cluster, HostId(2), &tuning()).is_ok());

    // Killed, it is gone; restarted, it is a new, larger incarnation on the same address.
    let before = incarnation_in(cluster.ready_line(HostId(3)).expect("ready"));
    cluster.kill(HostId(3));
    assert!(!cluster.is_running(HostId(3)));
    assert!(probe_host(&cluster, HostId(3), &tuning()).is_err());
    cluster.restart(HostId(3)).expect("restart");
    let id = probe_host(&cluster, HostId(3), &tuning()).expect("probe the restarted kernel");
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
    let _serial = real_support::serial();
    let (mut cluster, _driver) = start_cluster(2);
    let target = HostId(1);
    for _ in 0..3 {
        attack(&cluster, target);
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
    assert!(probe_host(&cluster, target, &tuning()).is_ok());
}

#[test]
fn kvnode_client_mode_drives_a_cluster_of_kernel_processes() {
    let _serial = real_support::serial();
    let mut cluster = ftc_runtime::cluster::LocalCluster::prepare(
        &real_support::kvnode(),
        ftc_runtime::cluster::LocalClusterOptions {
            kernels: 3,
            ..Default::default()
        },
    )
    .expect("prepare");
    cluster.start_kernels().expect("start kernels");
    let mut client = std::process::Command::new(real_support::kvnode())
        .args(["--client", "--host", "h0", "--tolerate", "1", "--ops", "50"])
        .arg("--cluster")
        .arg(cluster.cluster_file())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the client");
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(Some(status)) = client.try_wait() {
            break Some(status);
        }
        if Instant::now() > until {
            let _ = client.kill();
            let _ = client.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = client.wait_with_output().expect("client output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        status.is_some_and(|s| s.success()),
        "client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("100 calls"), "{stdout}");
}

#[test]
fn a_kernel_exits_when_its_launcher_goes_away() {
    let _serial = real_support::serial();
    let cluster = ftc_runtime::cluster::LocalCluster::prepare(
        &real_support::kvnode(),
        ftc_runtime::cluster::LocalClusterOptions {
            kernels: 1,
            main_host: false,
            ..Default::default()
        },
    )
    .expect("prepare");
    let mut kernel = std::process::Command::new(real_support::kvnode())
        .args([
            "--kernel",
            "--host",
            "h1",
            "--exit-on-stdin-eof",
            "--cluster",
        ])
        .arg(cluster.cluster_file())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a kernel");
    std::thread::sleep(Duration::from_millis(300));
    assert!(matches!(kernel.try_wait(), Ok(None)), "the kernel runs");
    // What the launcher's death does: standard input closes.
    drop(kernel.stdin.take());
    let until = Instant::now() + Duration::from_secs(10);
    let mut exited = None;
    while Instant::now() < until {
        if let Ok(Some(status)) = kernel.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if exited.is_none() {
        let _ = kernel.kill();
        let _ = kernel.wait();
    }
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
}

#[test]
fn unknown_or_malformed_flags_exit_with_2_and_say_which() {
    for (args, needle) in [
        (
            &[
                "--kernel",
                "--host",
                "h1",
                "--cluster",
                "c.toml",
                "--incarnation",
                "1",
            ][..],
            "--incarnation",
        ),
        (
            &["--kernel", "--host", "node1", "--cluster", "c.toml"][..],
            "node1",
        ),
        (&["--host", "h1", "--cluster", "c.toml"][..], "--kernel"),
        (
            &[
                "--kernel",
                "--host",
                "h1",
                "--cluster",
                "c.toml",
                "--ops",
                "5",
            ][..],
            "--ops",
        ),
    ] {
        let out = std::process::Command::new(real_support::kvnode())
            .args(args)
            .output()
            .expect("run ftc-kvnode");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
