//! Three kernels in one process on loopback: the kernel driver, transport and
//! protocols together, without process management.

use ftc_runtime::app::{AppFactory, AppInput, AppOutput, AppTimerId, RestoreError, StateMachine};
use ftc_runtime::host::Timing;
use ftc_runtime::kernel::Kernel;
use ftc_runtime::kv_app::{KvCommand, KvFactory, KvReply, KV_CLASS};
use ftc_runtime::types::{HostId, Model, ServerSpec};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn kernels(n: u32) -> Vec<Kernel> {
    kernels_with(n, Arc::new(KvFactory), Timing::default())
}

fn kernels_with(n: u32, apps: Arc<dyn AppFactory>, timing: Timing) -> Vec<Kernel> {
    Kernel::start_in_process(0, n, apps, |config| config.timing = timing.clone())
        .expect("start kernels")
}

#[test]

fn three_kernels_serve_a_replicated_key_value_server() {
    let ks = kernels(3);
    let h = ks[0].handle();
    for (model, tolerate) in [(Model::Correct, 0), (Model::Crash, 1), (Model::Crash, 2)] {
        let group = h
            .start_server(ServerSpec::new(KV_CLASS, model, tolerate))
            .expect("start server");
        // Clients on two different hosts see each other's writes.
        let a = h.new_client_id();
        let other = ks[1].handle();
        let b = other.new_client_id();
        for i in 0..50u64 {
            let put = KvCommand::Put {
                key: "x".into(),
                value: i.to_string(),
            };
            h.call(a, group, put.encode()).expect("put");
            let got = other
                .call(b, group, KvCommand::Get { key: "x".into() }.encode())
                .expect("get");
            assert_eq!(
                KvReply::decode(&got),
                Ok(KvReply::Value(Some(i.to_string())))
            );
        }
        // The asynchronous form: many calls in flight at once.
        let tickets: Vec<_> = (0..100u64)
            .map(|i| {
                h.call_async(
                    a,
                    group,
                    KvCommand::Append {
                        key: "log".into(),
                        value: format!("{i};"),
                    }
                    .encode(),
                )
            })
            .collect();
        for t in tickets {
            assert_eq!(t.wait().map(|r| KvReply::decode(&r)), Ok(Ok(KvReply::Done)));
        }
    }
}

/// A server whose command `[n]` computes for `10·n` ms (on the core's time, as
/// a long server method does) and `[n, 0]` waits `100·n` ms for a timer (as a
/// method that sleeps or waits for a nested call does), then replies with how
/// many commands it has run.
struct Busy {
    done: u64,
    waiting: Option<ftc_runtime::types::RequestId>,
}

impl Busy {
    fn reply(&mut self, request: ftc_runtime::types::RequestId, out: &mut Vec<AppOutput>) {
        self.done += 1;
        out.push(AppOutput::Reply {
            request,
            payload: self.done.to_be_bytes().to_vec(),
        });
    }
}

impl StateMachine for Busy {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        match input {
            AppInput::Command { request, payload } if payload.len() == 2 => {
                self.waiting = Some(request);
                let after = payload[0] as u64 * 100_000;
                let timer = AppTimerId(self.done);
                out.push(AppOutput::ArmTimer { timer, after });
            }
            AppInput::Command { request, payload } => {
                let ms = payload.first().copied().unwrap_or(0) as u64 * 10;
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                self.reply(request, out);
            }
            AppInput::TimerFired { .. } => {
                if let Some(request) = self.waiting.take() {
                    self.reply(request, out);
                }
            }
            AppInput::NestedReply { .. } => {}
        }
    }
    fn snapshot(&self) -> Vec<u8> {
        self.done.to_be_bytes().to_vec()
    }
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let bytes: [u8; 8] = snapshot
            .try_into()
            .map_err(|_| RestoreError("not 8 bytes".into()))?;
        self.done = u64::from_be_bytes(bytes);
        Ok(())
    }
    fn digest(&self) -> u64 {
        self.done
    }
    fn running(&self) -> Option<ftc_runtime::types::RequestId> {
        self.waiting
    }
}

struct BusyFactory;

impl AppFactory for BusyFactory {
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>> {
        (class == "busy").then(|| {
            Box::new(Busy {
                done: 0,
                waiting: None,
            }) as Box<dyn StateMachine>
        })
    }
}

/// A method that runs for 800 ms on every replica (far past the 150 ms after
/// which a silent host is suspected) is slow code, not a failure: the
/// replicas' hosts keep heartbeating while their cores are busy, so neither is
/// excluded and the server keeps its state and keeps answering.
#[test]
fn a_long_method_on_every_replica_does_not_get_their_hosts_excluded() {
    let ks = kernels_with(5, Arc::new(BusyFactory), Timing::default());
    let h = ks[0].handle();
    let spec = ServerSpec::new("busy", Model::Crash, 1).on_hosts(vec![HostId(3), HostId(4)]);
    let group = h.start_server(spec).expect("start server");
    let client = h.new_client_id();
    assert_eq!(
        h.call(client, group, vec![0]),
        Ok(1u64.to_be_bytes().to_vec())
    );
    assert_eq!(
        h.call(client, group, vec![80]),
        Ok(2u64.to_be_bytes().to_vec())
    );
    // Excluded hosts would have left the group without state: this would fail.
    for n in 3..6u64 {
        assert_eq!(h.call(client, group, vec![0]), Ok(n.to_be_bytes().to_vec()));
    }
}

/// A method may run longer than the call deadline: while it runs, the
/// server answers the client's retransmissions with "working", and each one
/// restarts the deadline. Here the deadline is 1 s and the method waits 3 s.
#[test]
fn a_method_longer_than_the_call_deadline_still_answers() {
    let timing = Timing {
        call_deadline_us: 1_000_000,
        ..Timing::default()
    };
    let ks = kernels_with(3, Arc::new(BusyFactory), timing);
    let h = ks[0].handle();
    let spec = ServerSpec::new("busy", Model::Crash, 1).on_hosts(vec![HostId(1), HostId(2)]);
    let group = h.start_server(spec).expect("start server");
    let client = h.new_client_id();
    let started = Instant::now();
    assert_eq!(
        h.call(client, group, vec![30, 0]),
        Ok(1u64.to_be_bytes().to_vec())
    );
    assert!(started.elapsed() >= Duration::from_secs(3));
}
