//! The replicated key-value server on five real kernel processes, with the test
//! process as a sixth host (h0) whose clients drive load and record a history:
//! a replica's kernel is SIGKILLed, or SIGSTOPped and resumed, or attacked,
//! and the history must stay linearizable.

mod real_support;

use ftc_runtime::types::{GroupView, HostId};
use real_support::{
    assert_spans, attack, judge, read_all, run_load, start_cluster, wait_refusals,
    wait_replicas_agree, Load,
};
use std::time::{Duration, Instant};

const KEYS: u64 = 5;

fn load(seed: u64, secs: u64) -> Load {
    Load {
        clients: 4,
        keys: KEYS,
        duration: Duration::from_secs(secs),
        max_ops_per_client: 300 * secs,
        seed,
    }
}

fn hosts_of(view: &GroupView) -> Vec<HostId> {
    view.members.iter().map(|m| m.host).collect()
}

#[test]

fn sigkill_of_the_sequencer_loses_no_acknowledged_write() {
    let _serial = real_support::serial();
    let (mut cluster, driver) = start_cluster(5);
    let group = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let first = driver
        .wait_view(group, Duration::from_secs(10), |_| true)
        .expect("the driver learns the group's first view");
    let victim = first.members[0].host;
    assert_ne!(victim, HostId(0), "the sequencer runs in a kernel process");
    eprintln!(
        "first view {:?}; killing the sequencer {victim:?}",
        hosts_of(&first)
    );

    let clock = Instant::now();
    let h = driver.handle();
    let load_thread = {
        let h = h.clone();
        std::thread::spawn(move || run_load(&h, group, &load(1, 6), clock))
    };
    std::thread::sleep(Duration::from_secs(2));
    let fault_us = clock.elapsed().as_micros() as u64;
    cluster.kill(victim);
    let mut history = load_thread.join().expect("load");
    assert_spans(&history, fault_us);
    history.extend(read_all(&h, group, KEYS, 100, clock));
    judge(&history, cluster.dir(), "sigkill");

    // A replacement was recruited, and it caught up with the survivor.
    let replaced = driver
        .wait_view(group, Duration::from_secs(10), |v| {
            v.view_id > first.view_id && !hosts_of(v).contains(&victim) && !v.failed
        })
        .expect("a view without the killed host");
    assert_eq!(replaced.members.len(), 2, "{replaced:?}");
    assert!(!replaced.joining.is_empty() || replaced.view_id > first.view_id + 1);
    let latest = driver.latest_view(group).expect("latest view");
    wait_replicas_agree(&cluster, &latest, Duration::from_secs(10))
        .expect("every replica executed the same prefix with the same state");
}

#[test]

fn a_paused_sequencer_never_answers_with_stale_data() {
    let _serial = real_support::serial();
    let (mut cluster, driver) = start_cluster(5);
    let group = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let first = driver
        .wait_view(group, Duration::from_secs(10), |_| true)
        .expect("first view");
    let victim = first.members[0].host;
    let clock = Instant::now();
    let h = driver.handle();
    let load_thread = {
        let h = h.clone();
        std::thread::spawn(move || run_load(&h, group, &load(2, 7), clock))
    };
    std::thread::sleep(Duration::from_secs(2));
    cluster.pause(victim).expect("SIGSTOP");
    std::thread::sleep(Duration::from_secs(2));
    let resumed_us = clock.elapsed().as_micros() as u64;
    cluster.resume(victim).expect("SIGCONT");
    let mut history = load_thread.join().expect("load");
    assert_spans(&history, resumed_us);
    // Reads after the old sequencer woke up: it must not answer them from its stale state.
    history.extend(read_all(&h, group, KEYS, 100, clock));
    judge(&history, cluster.dir(), "sigstop");
    assert!(
        driver
            .wait_view(group, Duration::from_secs(10), |v| v.view_id
                > first.view_id)
            .is_some(),
        "the pause caused a view change"
    );
    let latest = driver.latest_view(group).expect("latest view");
    wait_replicas_agree(&cluster, &latest, Duration::from_secs(10))
        .expect("replicas agree after the pause");
}

#[test]

fn bad_frames_and_wrong_keys_are_refused_while_the_cluster_serves() {
    let _serial = real_support::serial();
    let (cluster, driver) = start_cluster(5);
    let group = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let clock = Instant::now();
    let h = driver.handle();
    let load_thread = {
        let h = h.clone();
        std::thread::spawn(move || run_load(&h, group, &load(3, 4), clock))
    };
    let until = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    while Instant::now() < until && rounds < 20 {
        for host in cluster.kernel_hosts() {
            attack(&cluster, host);
        }
        rounds += 1;
    }
    let mut history = load_thread.join().expect("load");
    assert!(
        history.iter().all(|o| o.ret.is_some()),
        "every call completed"
    );
    history.extend(read_all(&h, group, KEYS, 100, clock));
    judge(&history, cluster.dir(), "attacked");
    for host in cluster.kernel_hosts() {
        assert!(
            wait_refusals(&cluster, host, 4 * rounds, Duration::from_secs(10)) >= 4 * rounds,
            "{host:?} logged every refusal"
        );
    }
}

#[test]
fn a_killed_kernel_restarts_as_a_new_incarnation_while_the_cluster_serves() {
    let _serial = real_support::serial();
    let (mut cluster, driver) = start_cluster(5);
    let group = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let first = driver
        .wait_view(group, Duration::from_secs(10), |_| true)
        .expect("first view");
    // The backup this time: the sequencer keeps serving while the view changes.
    let victim = first.members[1].host;
    let clock = Instant::now();
    let h = driver.handle();
    let load_thread = {
        let h = h.clone();
        std::thread::spawn(move || run_load(&h, group, &load(4, 7), clock))
    };
    std::thread::sleep(Duration::from_secs(1));
    cluster.kill(victim);
    driver
        .wait_view(group, Duration::from_secs(10), |v| {
            !hosts_of(v).contains(&victim)
        })
        .expect("a view without the killed host");
    cluster.restart(victim).expect("restart the killed kernel");
    let ready = cluster.ready_line(victim).expect("ready line").to_string();
    assert!(
        !ready.contains("incarnation=0 "),
        "a restart claims a new incarnation: {ready}"
    );
    let restarted_us = clock.elapsed().as_micros() as u64;
    let mut history = load_thread.join().expect("load");
    assert_spans(&history, restarted_us);
    history.extend(read_all(&h, group, KEYS, 100, clock));
    judge(&history, cluster.dir(), "restart");
    assert!(cluster.is_running(victim));
}

/// Reads `stream` until the peer closes it (bounded: 5 s); whether it did.
fn closed_by_peer(stream: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 4096];
    for _ in 0..1_000 {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut
            }
        }
    }
    false
}

#[test]
fn the_wire_hides_call_arguments_and_a_recorded_session_replayed_is_refused() {
    use ftc_runtime::cluster::{LocalCluster, LocalClusterOptions};
    use ftc_runtime::kv_app::{KvCommand, KvReply};
    use real_support::{probe_host, refusals, Driver, RecordingProxy};

    let _serial = real_support::serial();
    let mut cluster = LocalCluster::prepare(
        &real_support::kvnode(),
        LocalClusterOptions {
            kernels: 2,
            main_host: true,
            traces: true,
            ..LocalClusterOptions::default()
        },
    )
    .expect("prepare the local cluster");
    // h0 (this process) reaches both kernel processes through recording proxies.
    let targets = [HostId(1), HostId(2)];
    let proxies: Vec<RecordingProxy> = targets
        .iter()
        .map(|h| RecordingProxy::start(cluster.config().hosts[h]))
        .collect();
    let through = targets
        .iter()
        .zip(&proxies)
        .map(|(h, p)| (*h, p.addr))
        .collect();
    let driver = Driver::start_through(&cluster, &through);
    cluster.start_kernels().expect("start the kernels");
    let group = driver.start_kv(1, targets.to_vec());
    driver
        .wait_view(group, Duration::from_secs(10), |_| true)
        .expect("the driver learns the group's first view");

    // A call whose argument is a known plaintext, sent in the clear by the
    // command's encoding: a proxy that saw it would find it.
    let secret = "flight BA117 cleared to FL350, squawk 7421";
    let put = KvCommand::Put {
        key: "clearance".into(),
        value: secret.into(),
    };
    let encoded = put.encode();
    assert!(encoded
        .windows(secret.len())
        .any(|w| w == secret.as_bytes()));
    let h = driver.handle();
    let me = h.new_client_id();
    h.call(me, group, encoded).expect("the put");
    let read_back = || {
        let get = KvCommand::Get {
            key: "clearance".into(),
        };
        let read = h.call(me, group, get.encode()).expect("the get");
        assert_eq!(
            KvReply::decode(&read),
            Ok(KvReply::Value(Some(secret.to_string())))
        );
    };
    read_back();

    let sessions: Vec<Vec<u8>> = proxies.iter().flat_map(|p| p.sessions()).collect();
    let seen: usize = sessions.iter().map(Vec::len).sum();
    assert!(
        seen > 4 * secret.len(),
        "the proxies saw the traffic ({seen} bytes)"
    );
    eprintln!(
        "{} sessions through the proxies, {seen} bytes, none showing the argument",
        sessions.len()
    );
    for bytes in &sessions {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the plaintext crossed the wire"
        );
        assert!(!bytes.windows(8).any(|w| w == b"BA117 cl"));
    }

    // The first session h0 opened to h1, handshake and calls, replayed
    // byte for byte straight to h1: refused at the proof, and logged.
    let recorded = proxies[0].sessions().swap_remove(0);
    let before = refusals(&cluster, HostId(1));
    let mut replay =
        std::net::TcpStream::connect(cluster.config().hosts[&HostId(1)]).expect("connect to h1");
    use std::io::Write;
    let _ = replay.write_all(&recorded);
    assert!(
        closed_by_peer(&mut replay),
        "h1 kept a replayed session open"
    );
    let until = Instant::now() + Duration::from_secs(5);
    while refusals(&cluster, HostId(1)) <= before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(cluster.log_path(HostId(1))).unwrap_or_default();
    assert!(
        refusals(&cluster, HostId(1)) > before && log.contains("wrong proof"),
        "h1's log:\n{log}"
    );
    // The cluster still serves h0, and h1 still authenticates a real peer.
    read_back();
    let tuning = ftc_runtime::transport::TransportTuning {
        handshake_timeout_ms: 1_000,
        ..Default::default()
    };
    assert!(probe_host(&cluster, HostId(1), &tuning).is_ok());
}
