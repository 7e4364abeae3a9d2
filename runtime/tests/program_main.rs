//! `main`'s side of the program layer on one in-process kernel with short
//! deadlines: futures, `accept` with and without timeouts, `server_failure`,
//! null handles, property checks, exit codes and panics.

use ftc_runtime::cluster::ClusterConfig;
use ftc_runtime::kernel::{Kernel, KernelConfig};
use ftc_runtime::lang::{encode, Encoded, Failure, FailureKind, Res};
use ftc_runtime::program::{
    accept, accept_or_timeout, accept_timeout, run_main, Future, ProgramFactory, Props, Server,
    ServerClass, ServerClassDef,
};
use ftc_runtime::types::{GroupId, HostId, Model};
use serde::{Deserialize, Serialize};
use std::net::TcpListener;
use std::sync::Arc;

#[derive(Default, Serialize, Deserialize)]
struct Nothing;

impl ServerClass for Nothing {
    const NAME: &'static str = "nothing";
    type Command = ();
    fn construct() -> Res<Nothing> {
        Ok(Nothing)
    }
    fn dispatch(&mut self, _command: ()) -> Res<Encoded> {
        encode(&0i64)
    }
}

fn one_kernel() -> Kernel {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let (cluster, mut keys) = ClusterConfig::with_fresh_keys(
        [(HostId(0), listener.local_addr().expect("addr"))]
            .into_iter()
            .collect(),
    )
    .expect("keys");
    let key = keys.remove(&HostId(0)).expect("h0's key");
    let mut config = KernelConfig::new(HostId(0), cluster, key);
    config.timing.call_deadline_us = 300_000;
    config.answer_margin_ms = 300;
    let apps = Arc::new(ProgramFactory::new(vec![ServerClassDef::of::<Nothing>()]));
    Kernel::start_on(config, apps, listener).expect("start kernel")
}

/// Returns the number of the first check that did not hold, 0 if all held.
fn futures_timeouts_and_failures() -> Res<i64> {
    let s: Server<Nothing> = Server::from_group(GroupId(77));
    let f: Future<i64> = s.invoke(())?;
    if accept_timeout(&f, 1, 0.05)?.is_some() {
        return Ok(1);
    }
    match accept_or_timeout(&f, 1, 0.01) {
        Err(e) if e.kind == FailureKind::Timeout => {}
        _ => return Ok(2),
    }
    // Nobody answers for the unknown server: the call fails with server_failure.
    match f.result() {
        Err(e) if e.kind == FailureKind::ServerFailure => {}
        _ => return Ok(3),
    }
    // The outcome is known but was never accepted: accept returns it at once.
    if accept(&f, 1)? != 0 {
        return Ok(4);
    }
    // Nothing is left to accept.
    if accept(&f, 1).is_ok() {
        return Ok(5);
    }
    match s.call::<i64>(()) {
        Err(e) if e.kind == FailureKind::ServerFailure => {}
        _ => return Ok(6),
    }
    let null: Server<Nothing> = Server::null();
    match null.call::<i64>(()) {
        Err(e) if e.kind == FailureKind::ProgramError => {}
        _ => return Ok(7),
    }
    match Server::<Nothing>::start(&Props::new().model(Model::Crash).tolerate(-1)) {
        Err(e) if e.kind == FailureKind::ProgramError => {}
        _ => return Ok(8),
    }
    match Server::<Nothing>::start(&Props::new().tolerate(2)) {
        Err(e) if e.message.contains("model correct") => {}
        _ => return Ok(9),
    }
    // One host cannot hold two replicas.
    match Server::<Nothing>::start(&Props::new().model(Model::Crash).tolerate(1)) {
        Err(e) if e.kind == FailureKind::ServerFailure => {}
        _ => return Ok(10),
    }
    Ok(0)
}

#[test]
fn main_sees_timeouts_server_failures_and_program_errors() {
    let kernel = one_kernel();
    assert_eq!(
        run_main(kernel.handle(), futures_timeouts_and_failures),
        Ok(0)
    );
    kernel.shutdown();
}

fn process_builtins() -> Res<i64> {
    let args = ftc_runtime::program::args();
    if args.to_vec() != vec!["x".to_string(), "y".to_string()] {
        return Ok(1);
    }
    if ftc_runtime::program::my_host() != ftc_runtime::program::host("h0")? {
        return Ok(2);
    }
    match ftc_runtime::program::host("h9") {
        Err(e) if e.kind == FailureKind::ProgramError => {}
        _ => return Ok(3),
    }
    ftc_runtime::program::sleep(0.01)?;
    Ok(0)
}

#[test]
fn args_hosts_and_sleep_in_main() {
    let kernel = one_kernel();
    ftc_runtime::program::set_process_info(ftc_runtime::program::ProcessInfo {
        host: HostId(0),
        hosts: vec![HostId(0)],
        args: vec!["x".into(), "y".into()],
    });
    assert_eq!(run_main(kernel.handle(), process_builtins), Ok(0));
    kernel.shutdown();
}

fn raises() -> Res<i64> {
    Err(Failure::program_error("bad input").at("t.cmsl", 4))
}

fn panics() -> Res<i64> {
    let empty: Vec<i64> = Vec::new();
    Ok(empty[1])
}

fn returns_300() -> Res<i64> {
    Ok(300)
}

#[test]
fn main_results_become_exit_codes_and_reports() {
    let kernel = one_kernel();
    let raised = run_main(kernel.handle(), raises).unwrap_err();
    assert_eq!(
        raised.report(),
        "error: program_error: bad input\n  --> t.cmsl:4"
    );
    let panicked = run_main(kernel.handle(), panics).unwrap_err();
    assert_eq!(panicked.kind, FailureKind::ProgramError);
    assert!(
        panicked.message.starts_with("internal error"),
        "{}",
        panicked.message
    );
    assert_eq!(run_main(kernel.handle(), returns_300), Ok(300));
    assert_eq!(
        ftc_runtime::program::exit_code(&Ok(300)),
        std::process::ExitCode::from(44)
    );
    kernel.shutdown();
}
