//! The server executor driven directly as a `StateMachine`: blocking nested
//! calls, queued commands, `accept … timeout` through application timers,
//! exceptions, and snapshots taken in the middle of a method.

use ftc_runtime::app::{AppInput, AppOutput, AppTimerId, CallOutcome, NestedCallId, StateMachine};
use ftc_runtime::lang::{encode, int, Encoded, Failure, FailureKind, Obj, Res};
use ftc_runtime::program::executor::{reply_payload, reply_value, Executor, COMPACT_AFTER_INPUTS};
use ftc_runtime::program::{accept_timeout, sleep, Future, Server, ServerClass};
use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation, RequestId};
use serde::{Deserialize, Serialize};

/// A test server: a counter that can call other servers.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Relay {
    count: i64,
    last: Obj<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
enum RelayCommand {
    Bump {},
    Forward { target: Server<Relay> },
    Race { target: Server<Relay>, seconds: f64 },
    Nap { seconds: f64 },
    Fail {},
    Overflow {},
    Mutate { value: Obj<i64> },
}

impl Relay {
    fn bump(&mut self) -> Res<i64> {
        self.count = int::add(self.count, 1)?;
        Ok(self.count)
    }

    fn forward(&mut self, target: Server<Relay>) -> Res<i64> {
        let theirs: i64 = target.call(RelayCommand::Bump {})?;
        self.count = int::add(self.count, 100)?;
        int::add(theirs, self.count)
    }

    fn race(&mut self, target: Server<Relay>, seconds: f64) -> Res<i64> {
        let f: Future<i64> = target.invoke(RelayCommand::Bump {})?;
        match accept_timeout(&f, 1, seconds)? {
            Some(_) => f.result(),
            None => Ok(-1),
        }
    }

    fn nap(&mut self, seconds: f64) -> Res<i64> {
        sleep(seconds)?;
        self.bump()
    }

    fn mutate(&mut self, value: Obj<i64>) -> Res<i64> {
        *value.get_mut()? += 1;
        self.last = value.clone();
        let v = *value.get()?;
        Ok(v)
    }
}

impl ServerClass for Relay {
    const NAME: &'static str = "relay";
    type Command = RelayCommand;

    fn construct() -> Res<Relay> {
        Ok(Relay::default())
    }

    fn dispatch(&mut self, command: RelayCommand) -> Res<Encoded> {
        match command {
            RelayCommand::Bump {} => encode(&self.bump()?),
            RelayCommand::Forward { target } => encode(&self.forward(target)?),
            RelayCommand::Race { target, seconds } => encode(&self.race(target, seconds)?),
            RelayCommand::Nap { seconds } => encode(&self.nap(seconds)?),
            RelayCommand::Fail {} => Err(Failure::program_error("asked to fail")),
            RelayCommand::Overflow {} => encode(&int::mul(i64::MAX, 2)?),
            RelayCommand::Mutate { value } => encode(&self.mutate(value)?),
        }
    }

    fn invariant(&self) -> Res<()> {
        ftc_runtime::lang::check(self.count >= 0, "invariant count >= 0")
    }
}

const OTHER: GroupId = GroupId(9);

fn request(seq: u64) -> RequestId {
    RequestId {
        client: ClientId::Host {
            host: HostId(1),
            incarnation: Incarnation(1),
            local: 0,
        },
        seq,
    }
}

fn command(exec: &mut Executor, seq: u64, cmd: RelayCommand) -> Vec<AppOutput> {
    let payload = encode(&cmd).expect("encode command");
    let mut out = Vec::new();
    exec.apply(
        AppInput::Command {
            request: request(seq),
            payload: &payload,
        },
        &mut out,
    );
    out
}

fn nested_reply(exec: &mut Executor, call: u64, value: Res<Encoded>) -> Vec<AppOutput> {
    let outcome = CallOutcome::Reply(reply_payload(value));
    let mut out = Vec::new();
    exec.apply(
        AppInput::NestedReply {
            call: NestedCallId(call),
            outcome: &outcome,
        },
        &mut out,
    );
    out
}

fn fire(exec: &mut Executor, timer: u64) -> Vec<AppOutput> {
    let mut out = Vec::new();
    exec.apply(
        AppInput::TimerFired {
            timer: AppTimerId(timer),
        },
        &mut out,
    );
    out
}

fn reply(seq: u64, value: Res<i64>) -> AppOutput {
    AppOutput::Reply {
        request: request(seq),
        payload: reply_payload(value.and_then(|v| encode(&v))),
    }
}

fn bump_call(call: u64) -> AppOutput {
    AppOutput::Call {
        call: NestedCallId(call),
        group: OTHER,
        payload: encode(&RelayCommand::Bump {}).expect("encode"),
    }
}

fn target() -> Server<Relay> {
    Server::from_group(OTHER)
}

#[test]
fn a_method_runs_to_its_reply() {
    let mut exec = Executor::new::<Relay>();
    assert_eq!(
        command(&mut exec, 1, RelayCommand::Bump {}),
        vec![reply(1, Ok(1))]
    );
    assert_eq!(
        command(&mut exec, 2, RelayCommand::Bump {}),
        vec![reply(2, Ok(2))]
    );
}

#[test]
fn a_nested_call_blocks_the_method_and_queues_later_commands() {
    let mut exec = Executor::new::<Relay>();
    // The method calls another server: the executor asks for the call and waits.
    assert_eq!(
        command(&mut exec, 1, RelayCommand::Forward { target: target() }),
        vec![bump_call(1)]
    );
    // A command arriving meanwhile waits for the running method.
    assert_eq!(command(&mut exec, 2, RelayCommand::Bump {}), vec![]);
    // The reply resumes the method; then the queued command runs.
    assert_eq!(
        nested_reply(&mut exec, 1, encode(&5i64)),
        vec![reply(1, Ok(105)), reply(2, Ok(101))]
    );
    // Call ids keep counting.
    assert_eq!(
        command(&mut exec, 3, RelayCommand::Forward { target: target() }),
        vec![bump_call(2)]
    );
}

#[test]
fn exceptions_travel_back_in_the_reply() {
    let mut exec = Executor::new::<Relay>();
    let out = command(&mut exec, 1, RelayCommand::Fail {});
    let [AppOutput::Reply { payload, .. }] = out.as_slice() else {
        panic!("one reply expected, got {out:?}");
    };
    let raised = reply_value::<i64>(payload).unwrap_err();
    assert_eq!(
        (raised.kind, raised.message.as_str()),
        (FailureKind::ProgramError, "asked to fail")
    );

    let out = command(&mut exec, 2, RelayCommand::Overflow {});
    let [AppOutput::Reply { payload, .. }] = out.as_slice() else {
        panic!("one reply expected, got {out:?}");
    };
    assert!(reply_value::<i64>(payload)
        .unwrap_err()
        .message
        .contains("overflow"));

    // A nested call that raised raises in the caller; server_failure too.
    assert_eq!(
        command(&mut exec, 3, RelayCommand::Forward { target: target() }),
        vec![bump_call(1)]
    );
    let out = nested_reply(&mut exec, 1, Err(Failure::assertion_failure("requires x")));
    assert_eq!(
        out,
        vec![reply(3, Err(Failure::assertion_failure("requires x")))]
    );
    command(&mut exec, 4, RelayCommand::Forward { target: target() });
    let outcome = CallOutcome::ServerFailure("no replica left".into());
    let mut out = Vec::new();
    exec.apply(
        AppInput::NestedReply {
            call: NestedCallId(2),
            outcome: &outcome,
        },
        &mut out,
    );
    assert_eq!(
        out,
        vec![reply(4, Err(Failure::server_failure("no replica left")))]
    );

    // A payload that is no command is answered, not fatal.
    let mut out = Vec::new();
    exec.apply(
        AppInput::Command {
            request: request(5),
            payload: &[0xff, 0xff, 0xff],
        },
        &mut out,
    );
    let [AppOutput::Reply { payload, .. }] = out.as_slice() else {
        panic!("one reply expected, got {out:?}");
    };
    assert!(reply_value::<i64>(payload)
        .unwrap_err()
        .message
        .contains("bad command"));
    assert_eq!(
        command(&mut exec, 6, RelayCommand::Bump {}),
        vec![reply(6, Ok(1))]
    );
}

#[test]
fn accept_timeout_fires_through_an_application_timer() {
    let mut exec = Executor::new::<Relay>();
    let race = |exec: &mut Executor, seq| {
        command(
            exec,
            seq,
            RelayCommand::Race {
                target: target(),
                seconds: 0.5,
            },
        )
    };
    // The timer fires first: the method sees the timeout.
    assert_eq!(
        race(&mut exec, 1),
        vec![
            bump_call(1),
            AppOutput::ArmTimer {
                timer: AppTimerId(1),
                after: 500_000
            }
        ]
    );
    assert_eq!(fire(&mut exec, 1), vec![reply(1, Ok(-1))]);
    // The late reply is kept for nobody: no output.
    assert_eq!(nested_reply(&mut exec, 1, encode(&7i64)), vec![]);
    // The reply comes first: the timer is cancelled, and a late firing is ignored.
    assert_eq!(
        race(&mut exec, 2),
        vec![
            bump_call(2),
            AppOutput::ArmTimer {
                timer: AppTimerId(2),
                after: 500_000
            }
        ]
    );
    assert_eq!(
        nested_reply(&mut exec, 2, encode(&8i64)),
        vec![
            AppOutput::CancelTimer {
                timer: AppTimerId(2)
            },
            reply(2, Ok(8))
        ]
    );
    assert_eq!(fire(&mut exec, 2), vec![]);
    // sleep is a timer too.
    assert_eq!(
        command(&mut exec, 3, RelayCommand::Nap { seconds: 2.0 }),
        vec![AppOutput::ArmTimer {
            timer: AppTimerId(3),
            after: 2_000_000
        }]
    );
    assert_eq!(fire(&mut exec, 3), vec![reply(3, Ok(1))]);
}

#[test]
fn by_value_arguments_are_the_servers_own_copies() {
    let mut exec = Executor::new::<Relay>();
    let mine = Obj::new(41i64);
    let out = command(
        &mut exec,
        1,
        RelayCommand::Mutate {
            value: mine.clone(),
        },
    );
    assert_eq!(out, vec![reply(1, Ok(42))]);
    assert_eq!(
        *mine.get().expect("not null"),
        41,
        "the caller's object is unchanged"
    );
}

/// One input fed to an executor, returning its outputs.
type Step = dyn Fn(&mut Executor) -> Vec<AppOutput>;

/// Feeds the same inputs to `a` and `b` and checks they answer alike.
fn same_from_here(a: &mut Executor, b: &mut Executor) {
    assert_eq!(a.digest(), b.digest());
    let steps: Vec<Box<Step>> = vec![
        Box::new(|e| command(e, 10, RelayCommand::Bump {})),
        Box::new(|e| nested_reply(e, 1, encode(&5i64))),
        Box::new(|e| command(e, 11, RelayCommand::Forward { target: target() })),
        Box::new(|e| nested_reply(e, 2, encode(&6i64))),
        Box::new(|e| command(e, 12, RelayCommand::Bump {})),
    ];
    for step in &steps {
        let (x, y) = (step(a), step(b));
        assert_eq!(x, y);
        assert_eq!(a.digest(), b.digest());
    }
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn a_snapshot_taken_while_a_method_waits_restores_to_the_same_future() {
    let mut original = Executor::new::<Relay>();
    command(&mut original, 1, RelayCommand::Bump {});
    assert_eq!(
        command(&mut original, 2, RelayCommand::Forward { target: target() }),
        vec![bump_call(1)]
    );
    let snapshot = original.snapshot();
    let mut copy = Executor::new::<Relay>();
    copy.restore(&snapshot).expect("restore");
    same_from_here(&mut original, &mut copy);
}

#[test]
fn snapshots_after_many_commands_are_compact_and_restore() {
    let mut original = Executor::new::<Relay>();
    let short = original.snapshot().len();
    for seq in 1..=(3 * COMPACT_AFTER_INPUTS as u64) {
        command(&mut original, seq, RelayCommand::Bump {});
    }
    let snapshot = original.snapshot();
    assert!(
        snapshot.len() < short + 40 * COMPACT_AFTER_INPUTS,
        "the record was compacted ({} bytes)",
        snapshot.len()
    );
    let mut copy = Executor::new::<Relay>();
    copy.restore(&snapshot).expect("restore");
    assert_eq!(
        command(&mut copy, 1_000, RelayCommand::Bump {}),
        vec![reply(1_000, Ok(3 * COMPACT_AFTER_INPUTS as i64 + 1))]
    );
    // A restored replica can be restored again, and garbage is refused.
    let mut third = Executor::new::<Relay>();
    third.restore(&copy.snapshot()).expect("restore");
    assert_eq!(third.digest(), copy.digest());
    assert!(third.restore(&[1, 2, 3]).is_err());
}

#[test]
fn a_restored_replica_does_not_repeat_outputs_while_replaying() {
    let mut original = Executor::new::<Relay>();
    command(&mut original, 1, RelayCommand::Nap { seconds: 1.0 });
    command(&mut original, 2, RelayCommand::Bump {});
    let mut copy = Executor::new::<Relay>();
    copy.restore(&original.snapshot()).expect("restore");
    // Both wait for timer 1 with command 2 queued; firing it completes both commands.
    let expected = vec![reply(1, Ok(1)), reply(2, Ok(2))];
    assert_eq!(fire(&mut original, 1), expected);
    assert_eq!(fire(&mut copy, 1), expected);
    assert_eq!(original.digest(), copy.digest());
}

/// A server whose state cannot be encoded (it keeps a future), one whose
/// construction fails, and one whose invariant a method breaks.
#[derive(Default, Serialize, Deserialize)]
struct Keeper {
    kept: ftc_runtime::lang::List<Future<i64>>,
    level: i64,
}

#[derive(Debug, Serialize, Deserialize)]
enum KeeperCommand {
    Keep { target: Server<Relay> },
    Gather { n: i64 },
    Lower {},
    Crash {},
}

impl ServerClass for Keeper {
    const NAME: &'static str = "keeper";
    type Command = KeeperCommand;

    fn construct() -> Res<Keeper> {
        Ok(Keeper::default())
    }

    fn dispatch(&mut self, command: KeeperCommand) -> Res<Encoded> {
        match command {
            KeeperCommand::Keep { target } => {
                self.kept.add(target.invoke(RelayCommand::Bump {})?);
                encode(&self.kept.size())
            }
            KeeperCommand::Gather { n } => {
                // The index of each reply in the order `accept` returns them.
                let order = ftc_runtime::lang::List::new();
                for _ in 0..n {
                    order.add(ftc_runtime::program::accept(&self.kept, n)?);
                }
                encode(&order)
            }
            KeeperCommand::Lower {} => {
                self.level -= 1;
                encode(&self.level)
            }
            KeeperCommand::Crash {} => {
                let empty: Vec<i64> = Vec::new();
                encode(&empty[3])
            }
        }
    }

    fn invariant(&self) -> Res<()> {
        ftc_runtime::lang::check(self.level >= 0, "invariant level >= 0")
    }
}

fn keeper(exec: &mut Executor, seq: u64, cmd: KeeperCommand) -> Vec<AppOutput> {
    let payload = encode(&cmd).expect("encode command");
    let mut out = Vec::new();
    exec.apply(
        AppInput::Command {
            request: request(seq),
            payload: &payload,
        },
        &mut out,
    );
    out
}

fn reply_of<T: serde::de::DeserializeOwned>(out: &[AppOutput]) -> Res<T> {
    match out {
        [.., AppOutput::Reply { payload, .. }] => reply_value(payload),
        other => panic!("a reply expected, got {other:?}"),
    }
}

#[test]
fn accept_returns_replies_in_log_order_and_futures_outlive_their_method() {
    let mut exec = Executor::new::<Keeper>();
    for seq in 1..=3 {
        let out = keeper(&mut exec, seq, KeeperCommand::Keep { target: target() });
        assert_eq!(out[0], bump_call(seq));
        assert_eq!(reply_of::<i64>(&out), Ok(seq as i64));
    }
    // Replies arrive while no method runs, in the order 3, 1, 2.
    for call in [3, 1, 2] {
        assert_eq!(
            nested_reply(&mut exec, call, encode(&(call as i64))),
            vec![]
        );
    }
    let out = keeper(&mut exec, 4, KeeperCommand::Gather { n: 3 });
    assert_eq!(
        reply_of::<ftc_runtime::lang::List<i64>>(&out).map(|l| l.to_vec()),
        Ok(vec![2, 0, 1])
    );
    // A fourth accept has nothing left to wait for.
    let out = keeper(&mut exec, 5, KeeperCommand::Gather { n: 3 });
    assert_eq!(
        reply_of::<ftc_runtime::lang::List<i64>>(&out)
            .map(|l| l.to_vec())
            .map_err(|f| f.kind),
        Err(FailureKind::ProgramError)
    );
}

#[test]
fn state_that_cannot_be_encoded_is_snapshotted_by_replay() {
    let mut original = Executor::new::<Keeper>();
    keeper(&mut original, 1, KeeperCommand::Keep { target: target() });
    for seq in 2..(2 * COMPACT_AFTER_INPUTS as u64) {
        keeper(&mut original, seq, KeeperCommand::Lower {});
    }
    let mut copy = Executor::new::<Keeper>();
    copy.restore(&original.snapshot())
        .expect("restore by replay");
    assert_eq!(copy.digest(), original.digest());
    let a = nested_reply(&mut original, 1, encode(&1i64));
    let b = nested_reply(&mut copy, 1, encode(&1i64));
    assert_eq!(a, b);
    let a = keeper(&mut original, 500, KeeperCommand::Gather { n: 1 });
    let b = keeper(&mut copy, 500, KeeperCommand::Gather { n: 1 });
    assert_eq!(a, b);
}

#[test]
fn a_broken_invariant_and_a_panic_are_answered_and_the_server_goes_on() {
    let mut exec = Executor::new::<Keeper>();
    let out = keeper(&mut exec, 1, KeeperCommand::Crash {});
    let raised = reply_of::<i64>(&out).unwrap_err();
    assert_eq!(raised.kind, FailureKind::ProgramError);
    assert!(raised
        .message
        .starts_with("internal error in server class keeper"));
    let out = keeper(&mut exec, 2, KeeperCommand::Keep { target: target() });
    assert_eq!(reply_of::<i64>(&out), Ok(1));
    let out = keeper(&mut exec, 3, KeeperCommand::Lower {});
    let raised = reply_of::<i64>(&out).unwrap_err();
    assert_eq!(raised.kind, FailureKind::AssertionFailure);
    assert_eq!(raised.message, "invariant level >= 0");
}

#[derive(Default, Serialize, Deserialize)]
struct Broken;

impl ServerClass for Broken {
    const NAME: &'static str = "broken";
    type Command = ();
    fn construct() -> Res<Broken> {
        Err(Failure::program_error("initializer failed"))
    }
    fn dispatch(&mut self, _command: ()) -> Res<Encoded> {
        encode(&())
    }
}

#[test]
fn a_failed_construction_answers_every_command_with_its_failure() {
    let mut exec = Executor::new::<Broken>();
    for seq in 1..=2 {
        let mut out = Vec::new();
        exec.apply(
            AppInput::Command {
                request: request(seq),
                payload: &encode(&()).expect("encode"),
            },
            &mut out,
        );
        assert_eq!(
            reply_of::<()>(&out),
            Err(Failure::program_error("initializer failed"))
        );
    }
    let mut copy = Executor::new::<Broken>();
    copy.restore(&exec.snapshot()).expect("restore");
    assert_eq!(copy.digest(), exec.digest());
}
