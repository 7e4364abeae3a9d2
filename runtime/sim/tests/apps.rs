//! The simulated applications: command encodings, determinism, snapshots and
//! the forwarder's timer → nested call → reply flow, driven by hand.

use ftc_runtime::app::{AppInput, AppOutput, AppTimerId, CallOutcome, NestedCallId, StateMachine};
use ftc_runtime::types::{ClientId, GroupId, HostId, Incarnation, RequestId};
use ftc_sim::apps::{Counter, Forwarder, KvCommand, KvReply, KvStore, FORWARD_DELAY_US};

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

fn run(sm: &mut dyn StateMachine, seq: u64, command: KvCommand) -> KvReply {
    let mut out = Vec::new();
    let payload = command.encode();
    sm.apply(
        AppInput::Command {
            request: request(seq),
            payload: &payload,
        },
        &mut out,
    );
    match out.as_slice() {
        [AppOutput::Reply {
            request: r,
            payload,
        }] if *r == request(seq) => KvReply::decode(payload).expect("a well-formed reply"),
        other => panic!("unexpected outputs {other:?}"),
    }
}

#[test]
fn commands_and_replies_round_trip() {
    let commands = [
        KvCommand::Get { key: "k".into() },
        KvCommand::Put {
            key: "k".into(),
            value: "1.2".into(),
        },
        KvCommand::Append {
            key: "k".into(),
            value: "a;".into(),
        },
        KvCommand::Cas {
            key: "k".into(),
            from: "".into(),
            to: "x".into(),
        },
    ];
    for c in commands {
        assert_eq!(KvCommand::decode(&c.encode()), Some(c));
    }
    for r in [
        KvReply::Value(None),
        KvReply::Value(Some(String::new())),
        KvReply::Value(Some("v".into())),
        KvReply::Done,
        KvReply::Cas(true),
        KvReply::Cas(false),
        KvReply::Malformed,
    ] {
        assert_eq!(KvReply::decode(&r.encode()), Some(r));
    }
    assert_eq!(KvCommand::decode(b"put\x1fk"), None);
}

#[test]
fn the_store_implements_get_put_append_cas() {
    let mut kv = KvStore::default();
    assert_eq!(
        run(&mut kv, 1, KvCommand::Get { key: "a".into() }),
        KvReply::Value(None)
    );
    let append = |v: &str| KvCommand::Append {
        key: "a".into(),
        value: v.into(),
    };
    assert_eq!(run(&mut kv, 2, append("x;")), KvReply::Done);
    assert_eq!(run(&mut kv, 3, append("y;")), KvReply::Done);
    assert_eq!(kv.get("a"), Some("x;y;"));
    let cas = |from: &str, to: &str| KvCommand::Cas {
        key: "a".into(),
        from: from.into(),
        to: to.into(),
    };
    assert_eq!(run(&mut kv, 4, cas("x;", "z")), KvReply::Cas(false));
    assert_eq!(run(&mut kv, 5, cas("x;y;", "z")), KvReply::Cas(true));
    assert_eq!(
        run(
            &mut kv,
            6,
            KvCommand::Put {
                key: "b".into(),
                value: "1".into()
            }
        ),
        KvReply::Done
    );
    assert_eq!(
        run(&mut kv, 7, KvCommand::Get { key: "a".into() }),
        KvReply::Value(Some("z".into()))
    );
}

#[test]
fn snapshots_restore_equal_states_and_digests_tell_states_apart() {
    let mut a = KvStore::default();
    run(
        &mut a,
        1,
        KvCommand::Put {
            key: "k".into(),
            value: "1".into(),
        },
    );
    let mut b = KvStore::default();
    b.restore(&a.snapshot()).expect("restores");
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a, b);
    run(&mut b, 2, KvCommand::Get { key: "k".into() });
    // Even a read changes the digest: positions are told apart.
    assert_ne!(a.digest(), b.digest());
    assert!(b.restore(b"not a snapshot").is_err());
}

#[test]
fn the_forwarder_waits_for_its_timer_then_calls_then_replies() {
    let mut f = Forwarder::default();
    let mut out = Vec::new();
    f.apply(
        AppInput::Command {
            request: request(1),
            payload: b"42",
        },
        &mut out,
    );
    assert_eq!(
        out,
        vec![AppOutput::ArmTimer {
            timer: AppTimerId(1),
            after: FORWARD_DELAY_US
        }]
    );
    out.clear();
    f.apply(
        AppInput::TimerFired {
            timer: AppTimerId(1),
        },
        &mut out,
    );
    assert_eq!(
        out,
        vec![AppOutput::Call {
            call: NestedCallId(1),
            group: GroupId(42),
            payload: b"inc".to_vec()
        }]
    );
    let mut copy = Forwarder::default();
    copy.restore(&f.snapshot()).expect("restores");
    assert_eq!(copy.digest(), f.digest());
    out.clear();
    let outcome = CallOutcome::Reply(b"7".to_vec());
    f.apply(
        AppInput::NestedReply {
            call: NestedCallId(1),
            outcome: &outcome,
        },
        &mut out,
    );
    assert_eq!(
        out,
        vec![AppOutput::Reply {
            request: request(1),
            payload: b"7".to_vec()
        }]
    );
    // A second copy of the reply is ignored.
    out.clear();
    f.apply(
        AppInput::NestedReply {
            call: NestedCallId(1),
            outcome: &outcome,
        },
        &mut out,
    );
    assert!(out.is_empty());
}

#[test]
fn the_counter_counts() {
    let mut c = Counter::default();
    let mut out = Vec::new();
    for seq in 1..=3 {
        c.apply(
            AppInput::Command {
                request: request(seq),
                payload: b"inc",
            },
            &mut out,
        );
    }
    c.apply(
        AppInput::Command {
            request: request(4),
            payload: b"get",
        },
        &mut out,
    );
    let last = out.last().cloned();
    assert_eq!(
        last,
        Some(AppOutput::Reply {
            request: request(4),
            payload: b"3".to_vec()
        })
    );
}
