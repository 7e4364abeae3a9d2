//! Real kernel processes: two of three kernels SIGKILLed together and
//! restarted as new incarnations. Their memories of the view service's log are
//! gone, so only a recovery election lets the cluster decide again; it must
//! serve again within a bounded time, with the server whose state survived on
//! the third host still holding it. And a program's servers end with its run:
//! the next run of its host stops them, while a cluster's server serves on.

mod real_support;

use ftc_runtime::kernel::{CallError, KernelHandle};
use ftc_runtime::kv_app::{KvCommand, KvReply};
use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation};
use std::time::{Duration, Instant};

/// How long the cluster may take to serve again after the burst.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);

fn call(
    h: &KernelHandle,
    me: ClientId,
    group: GroupId,
    command: &KvCommand,
) -> Result<KvReply, String> {
    match h.call(me, group, command.encode()) {
        Ok(bytes) => KvReply::decode(&bytes),
        Err(CallError::ServerFailure(e)) => Err(format!("server failure: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Repeats `command` (bounded in count and time) until it gets a reply.
fn call_until_served(
    h: &KernelHandle,
    me: ClientId,
    group: GroupId,
    command: &KvCommand,
    until: Instant,
) -> KvReply {
    let mut last = String::new();
    for _ in 0..200 {
        if Instant::now() >= until {
            break;
        }
        match call(h, me, group, command) {
            Ok(reply) => return reply,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{command:?} was not served in time; last error: {last}");
}

#[test]
fn two_of_three_kernels_killed_together_and_restarted_serve_again() {
    let _serial = real_support::serial();
    // h0 is the test's own kernel; h1 and h2 are kernel processes.
    let (mut cluster, driver) = real_support::start_cluster(2);
    let h = driver.handle();
    let me = h.new_client_id();
    let group = driver.start_kv(1, vec![HostId(0), HostId(1)]);
    let put = KvCommand::Put {
        key: "k".into(),
        value: "before the burst".into(),
    };
    let until = Instant::now() + RECOVERY_BOUND;
    assert_eq!(call_until_served(&h, me, group, &put, until), KvReply::Done);

    // The burst: both kernel processes die together, then come back.
    cluster.kill(HostId(1));
    cluster.kill(HostId(2));
    cluster.restart(HostId(1)).expect("restart h1");
    cluster.restart(HostId(2)).expect("restart h2");
    let restarted = Instant::now();

    // The server whose state survived on h0 serves it again.
    let get = KvCommand::Get { key: "k".into() };
    let until = restarted + RECOVERY_BOUND;
    assert_eq!(
        call_until_served(&h, me, group, &get, until),
        KvReply::Value(Some("before the burst".into()))
    );
    // And the cluster decides again: a new server starts and serves.
    let fresh = driver.start_kv(1, Vec::new());
    let put = KvCommand::Put {
        key: "k".into(),
        value: "after the burst".into(),
    };
    assert_eq!(call_until_served(&h, me, fresh, &put, until), KvReply::Done);
    let view = driver
        .wait_view(group, Duration::from_secs(10), |v| {
            v.members
                .iter()
                .all(|m| m.host == HostId(0) || m.incarnation.0 > 1)
        })
        .expect("a view of the surviving server without the killed incarnations");
    eprintln!(
        "served again {:?} after the restarts; surviving server's view {} has {:?}",
        restarted.elapsed(),
        view.view_id,
        view.members
    );
    assert!(cluster.is_running(HostId(1)) && cluster.is_running(HostId(2)));
}

/// The test's kernel (h0) runs a "program": it starts a program's server and
/// a cluster's server and writes to both, then stops. The next run of h0 (a
/// newer process) finds the program's server stopped — its calls fail saying
/// so, on every host the view service told — while the cluster's server
/// serves on with its state.
#[test]
fn the_next_run_of_a_programs_host_stops_the_servers_of_the_last_run() {
    let _serial = real_support::serial();
    let (cluster, first) = real_support::start_cluster(3);
    let h = first.handle();
    let me = h.new_client_id();
    let program = h
        .start_program_server(real_support::kv_spec(1, vec![HostId(1), HostId(2)]))
        .expect("start the program's server");
    let service = first.start_kv(1, vec![HostId(2), HostId(3)]);
    let put = KvCommand::Put {
        key: "k".into(),
        value: "first run".into(),
    };
    let until = Instant::now() + RECOVERY_BOUND;
    for group in [program, service] {
        assert_eq!(call_until_served(&h, me, group, &put, until), KvReply::Done);
    }
    drop(h);
    drop(first);

    let second = real_support::Driver::start_with(&cluster, Incarnation(2), None);
    let h = second.handle();
    let me = h.new_client_id();
    let started = Instant::now();
    let get = KvCommand::Get { key: "k".into() };
    let until = started + RECOVERY_BOUND;
    assert_eq!(
        call_until_served(&h, me, service, &get, until),
        KvReply::Value(Some("first run".into()))
    );
    let mut last = String::new();
    for _ in 0..300 {
        if Instant::now() >= until {
            break;
        }
        match call(&h, me, program, &get) {
            Err(e) if e.contains("was stopped") => {
                last = e;
                break;
            }
            Ok(reply) => last = format!("served: {reply:?}"),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        last.contains("was stopped"),
        "the last run's server was not stopped; last answer: {last}"
    );
    eprintln!(
        "the last run's server stopped {:?} after the next run started: {last}",
        started.elapsed()
    );
}
