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
