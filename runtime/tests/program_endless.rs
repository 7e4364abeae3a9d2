//! A server method that never yields runs off its host's core: another server
//! on the same host keeps answering while it spins, and the spinning call's
//! caller gets `server_failure` once the call deadline passes. Two in-process
//! kernels on 127.0.0.1; both servers are `correct` on `h1`, called from `h0`.

use ftc_runtime::kernel::{CallError, Kernel};
use ftc_runtime::lang::{encode, Encoded, Res};
use ftc_runtime::program::executor::reply_value;
use ftc_runtime::program::{ProgramFactory, ServerClass, ServerClassDef};
use ftc_runtime::types::{HostId, Model, ServerSpec};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ends the endless method when the test is over (so its thread stops).
static RELEASE: AtomicBool = AtomicBool::new(false);
/// The longest the endless method runs if the test never releases it.
const SPIN_LIMIT: Duration = Duration::from_secs(60);
/// The call deadline of these kernels.
const DEADLINE: Duration = Duration::from_secs(2);

#[derive(Default, Serialize, Deserialize)]
struct Spinner {
    spins: u64,
}

#[derive(Serialize, Deserialize)]
enum SpinnerCommand {
    Spin {},
}

impl ServerClass for Spinner {
    const NAME: &'static str = "Spinner";
    type Command = SpinnerCommand;
    fn construct() -> Res<Spinner> {
        Ok(Spinner::default())
    }
    fn dispatch(&mut self, command: SpinnerCommand) -> Res<Encoded> {
        match command {
            SpinnerCommand::Spin {} => {
                let until = Instant::now() + SPIN_LIMIT;
                while !RELEASE.load(Ordering::Relaxed) && Instant::now() < until {
                    self.spins = self.spins.wrapping_add(1);
                    std::hint::spin_loop();
                }
                encode(&self.spins)
            }
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
}

#[derive(Serialize, Deserialize)]
enum CounterCommand {
    Add { by: i64 },
}

impl ServerClass for Counter {
    const NAME: &'static str = "Counter";
    type Command = CounterCommand;
    fn construct() -> Res<Counter> {
        Ok(Counter::default())
    }
    fn dispatch(&mut self, command: CounterCommand) -> Res<Encoded> {
        match command {
            CounterCommand::Add { by } => {
                self.total += by;
                encode(&self.total)
            }
        }
    }
}

fn on_h1(class: &str) -> ServerSpec {
    ServerSpec {
        class: class.into(),
        model: Model::Correct,
        tolerate: 0,
        replicas: 1,
        hosts: vec![HostId(1)],
        disjoint_key: None,
        priority: 0,
        durable: None,
    }
}

#[test]
fn an_endless_method_delays_only_its_own_server() {
    let apps = Arc::new(ProgramFactory::new(vec![
        ServerClassDef::of::<Spinner>(),
        ServerClassDef::of::<Counter>(),
    ]));
    let kernels = Kernel::start_in_process(0, 2, apps, |c| {
        c.timing.call_deadline_us = DEADLINE.as_micros() as u64;
    })
    .expect("start kernels");
    let h = kernels[0].handle();
    let spinner = h.start_server(on_h1(Spinner::NAME)).expect("spinner");
    let counter = h.start_server(on_h1(Counter::NAME)).expect("counter");
    let me = h.new_client_id();
    let add = |by: i64| encode(&CounterCommand::Add { by }).expect("encode");
    assert_eq!(
        reply_value::<i64>(&h.call(me, counter, add(1)).expect("first add")),
        Ok(1)
    );

    let spin = h.call_async(
        h.new_client_id(),
        spinner,
        encode(&SpinnerCommand::Spin {}).expect("encode"),
    );
    // While it spins on h1, the other server on h1 answers every call, promptly.
    let started = Instant::now();
    let mut total = 1;
    for i in 0..20 {
        let call_started = Instant::now();
        let reply = h
            .call(me, counter, add(1))
            .expect("an add while the spinner spins");
        total += 1;
        assert_eq!(reply_value::<i64>(&reply), Ok(total), "add {i}");
        assert!(
            call_started.elapsed() < DEADLINE,
            "add {i} took {:?}",
            call_started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        spin.try_result().is_none(),
        "the endless method answered after {:?}",
        started.elapsed()
    );
    // Past the deadline its caller gets server_failure (the method is not
    // "working": it computes without yielding).
    let outcome = spin.wait_timeout(DEADLINE * 4);
    assert!(
        matches!(outcome, Some(Err(CallError::ServerFailure(_)))),
        "{outcome:?}"
    );
    // And the host still serves.
    let reply = h
        .call(me, counter, add(1))
        .expect("an add after the failure");
    assert_eq!(reply_value::<i64>(&reply), Ok(total + 1));
    RELEASE.store(true, Ordering::Relaxed);
}
