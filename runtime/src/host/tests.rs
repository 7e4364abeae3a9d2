//! Scenario tests: three host cores wired by an in-test message pump, with the
//! test standing in for the view service's decisions.

use super::*;
use crate::app::{AppInput, AppOutput, RestoreError, StateMachine};
use crate::types::{Model, Scope};
use std::collections::VecDeque;

/// `inc` adds one and replies the new value.
#[derive(Default)]
struct Counter(u64);

impl StateMachine for Counter {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        if let AppInput::Command {
            request,
            payload: b"inc",
        } = input
        {
            self.0 += 1;
            let payload = self.0.to_string().into_bytes();
            out.push(AppOutput::Reply { request, payload });
        }
    }
    fn snapshot(&self) -> Vec<u8> {
        self.0.to_le_bytes().to_vec()
    }
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let bytes: [u8; 8] = snapshot
            .try_into()
            .map_err(|_| RestoreError("length".into()))?;
        self.0 = u64::from_le_bytes(bytes);
        Ok(())
    }
    fn digest(&self) -> u64 {
        self.0
    }
}

struct Counters;

impl AppFactory for Counters {
    fn create(&self, class: &str) -> Option<Box<dyn crate::app::StateMachine>> {
        (class == "counter").then(|| Box::<Counter>::default() as Box<dyn StateMachine>)
    }
}

const GROUP: GroupId = GroupId(1);

fn spec() -> ServerSpec {
    ServerSpec {
        class: "counter".into(),
        model: Model::Crash,
        tolerate: 2,
        replicas: 3,
        hosts: vec![],
        disjoint_key: None,
        priority: 0,
        durable: None,
    }
}

fn replica(host: u32) -> ReplicaId {
    ReplicaId {
        host: HostId(host),
        incarnation: Incarnation(1),
    }
}

fn view(view_id: u64, members: &[u32], joining: &[u32]) -> GroupView {
    GroupView {
        group: GROUP,
        view_id,
        members: members.iter().map(|h| replica(*h)).collect(),
        joining: joining.iter().map(|h| replica(*h)).collect(),
        spec: spec(),
        failed: false,
    }
}

/// A call of `inc` on `GROUP` with `token`, from host `host`'s local client.
fn inc(token: u64, host: u32) -> ClientRequest {
    ClientRequest::Call {
        token,
        client: local_client(host),
        group: GROUP,
        payload: b"inc".to_vec(),
    }
}

fn local_client(host: u32) -> ClientId {
    ClientId::Host {
        host: HostId(host),
        incarnation: Incarnation(1),
        local: 0,
    }
}

/// Hosts, a FIFO network, timers, and what the hosts told their clients.
struct World {
    now: Micros,
    hosts: Vec<Host>,
    network: VecDeque<(u32, Incarnation, u32, Message)>,
    timers: Vec<(Micros, u32, TimerId)>,
    crashed: Vec<u32>,
    events: Vec<(u32, ClientEvent)>,
    traces: Vec<Trace>,
}

impl World {
    fn new(size: u32) -> World {
        let cluster: Vec<HostId> = (0..size).map(HostId).collect();
        let mut world = World {
            now: 0,
            hosts: Vec::new(),
            network: VecDeque::new(),
            timers: Vec::new(),
            crashed: Vec::new(),
            events: Vec::new(),
            traces: Vec::new(),
        };
        for h in 0..size {
            let proofs = Arc::new(ProofKeys::simulated(HostId(h), &cluster, 7));
            let mut config = HostConfig::new(HostId(h), Incarnation(1), cluster.clone(), 7, proofs);
            config.timing.retry_us = 1_000;
            config.timing.call_deadline_us = 1_000_000;
            world.hosts.push(Host::new(config, Arc::new(Counters)));
        }
        for h in 0..size {
            world.input(h, Input::Start);
        }
        world
    }

    fn absorb(&mut self, host: u32, out: Vec<Output>) {
        let incarnation = self.hosts[host as usize].incarnation();
        for o in out {
            match o {
                Output::Send { to, msg } => self.network.push_back((host, incarnation, to.0, msg)),
                Output::SetTimer { timer, at } => self.timers.push((at, host, timer)),
                Output::Client(event) => self.events.push((host, event)),
                Output::Trace(trace) => self.traces.push(trace),
                Output::Persist { .. } => unreachable!("no stable storage in these tests"),
            }
        }
    }

    fn input(&mut self, host: u32, input: Input) {
        if self.crashed.contains(&host) {
            return;
        }
        let mut out = Vec::new();
        self.hosts[host as usize].handle(self.now, input, &mut out);
        self.absorb(host, out);
    }

    fn decide(&mut self, hosts: &[u32], vs_out: Vec<VsOutput>) {
        for &h in hosts {
            let mut out = Vec::new();
            self.hosts[h as usize].inject_view_service(self.now, vs_out.clone(), &mut out);
            self.absorb(h, out);
        }
    }

    /// Delivers messages and fires timers until `until`.
    fn run_until(&mut self, until: Micros) {
        loop {
            if let Some((from, from_incarnation, to, msg)) = self.network.pop_front() {
                if !self.crashed.contains(&from) {
                    self.input(
                        to,
                        Input::Message {
                            from: HostId(from),
                            from_incarnation,
                            msg,
                        },
                    );
                }
                continue;
            }
            let Some(next) = self
                .timers
                .iter()
                .enumerate()
                .min_by_key(|(_, t)| t.0)
                .map(|(i, _)| i)
            else {
                break;
            };
            if self.timers[next].0 > until {
                break;
            }
            let (at, host, timer) = self.timers.swap_remove(next);
            self.now = self.now.max(at);
            self.input(host, Input::Timer(timer));
        }
        self.now = self.now.max(until);
    }

    fn executed(&self, host: u32) -> Vec<(u64, u64, u64)> {
        self.traces
            .iter()
            .filter_map(|t| match t {
                Trace::Executed {
                    replica,
                    position,
                    entry_digest,
                    state_digest,
                    ..
                } if replica.host.0 == host => Some((*position, *entry_digest, *state_digest)),
                _ => None,
            })
            .collect()
    }
}

fn started_world() -> World {
    started_world_with(spec())
}

/// Three hosts; host 0 starts a server of `spec`, placed on all three, and
/// learns that it runs.
fn started_world_with(spec: ServerSpec) -> World {
    let mut w = World::new(3);
    w.input(
        0,
        Input::Client(ClientRequest::StartServer {
            token: 1,
            spec: Box::new(spec.clone()),
            scope: Scope::Cluster,
        }),
    );
    w.decide(
        &[0],
        vec![VsOutput::StartDecided {
            starter: Starter::Client {
                origin: ReplicaId {
                    host: HostId(0),
                    incarnation: Incarnation(1),
                },
                token: 1,
            },
            result: Ok(GROUP),
        }],
    );
    let first = GroupView {
        spec,
        ..view(1, &[0, 1, 2], &[0, 1, 2])
    };
    w.decide(&[0, 1, 2], vec![VsOutput::View(first)]);
    w.run_until(10_000);
    assert_eq!(
        w.events,
        vec![(
            0,
            ClientEvent::ServerStarted {
                token: 1,
                group: GROUP
            }
        )]
    );
    w.events.clear();
    w
}

#[test]
fn start_server_call_and_reply() {
    let mut w = started_world();
    let call = inc(2, 0);
    w.input(0, Input::Client(call));
    w.run_until(20_000);
    assert_eq!(
        w.events,
        vec![(
            0,
            ClientEvent::Reply {
                token: 2,
                payload: b"1".to_vec()
            }
        )]
    );
    assert!(w.traces.contains(&Trace::Submitted {
        token: 2,
        request: RequestId {
            client: local_client(0),
            seq: 1
        }
    }));
    assert_eq!(w.executed(0).len(), 1);
    assert_eq!(w.executed(0), w.executed(1));
    assert_eq!(w.executed(0), w.executed(2));
}

/// A byzantine server (t = 1) on three hosts: the client asks every member and
/// needs two matching copies of every answer, including "ready".
#[test]
fn byzantine_start_and_call_are_voted() {
    let byzantine = ServerSpec {
        model: Model::Byzantine,
        tolerate: 1,
        ..spec()
    };
    let mut w = started_world_with(byzantine);
    let call = inc(2, 0);
    w.input(0, Input::Client(call));
    w.run_until(20_000);
    let reply = ClientEvent::Reply {
        token: 2,
        payload: b"1".to_vec(),
    };
    assert_eq!(w.events, vec![(0, reply)]);
    assert_eq!(w.executed(0).len(), 1);
}

#[test]
fn call_survives_a_sequencer_crash() {
    let mut w = started_world();
    let call = inc(2, 1);
    w.input(1, Input::Client(call));
    w.run_until(20_000);
    w.events.clear();
    // Host 0 (the sequencer) crashes; a call from host 1 goes to it and is lost until
    // the view service installs view 2.
    w.crashed.push(0);
    let call = inc(3, 1);
    w.input(1, Input::Client(call));
    w.run_until(40_000);
    assert!(w.events.is_empty());
    w.decide(&[1, 2], vec![VsOutput::View(view(2, &[1, 2], &[]))]);
    w.run_until(60_000);
    assert_eq!(
        w.events,
        vec![(
            1,
            ClientEvent::Reply {
                token: 3,
                payload: b"2".to_vec()
            }
        )]
    );
    assert_eq!(w.executed(1), w.executed(2));
    assert_eq!(w.executed(1).len(), 2);
    assert!(w
        .traces
        .iter()
        .any(|t| matches!(t, Trace::ViewInstalled { host: HostId(2), view } if view.view_id == 2)));
}

#[test]
fn recruited_host_receives_state_and_serves() {
    let mut w = World::new(4);
    w.input(
        0,
        Input::Client(ClientRequest::StartServer {
            token: 1,
            spec: Box::new(spec()),
            scope: Scope::Cluster,
        }),
    );
    w.decide(
        &[0],
        vec![VsOutput::StartDecided {
            starter: Starter::Client {
                origin: ReplicaId {
                    host: HostId(0),
                    incarnation: Incarnation(1),
                },
                token: 1,
            },
            result: Ok(GROUP),
        }],
    );
    w.decide(
        &[0, 1, 2, 3],
        vec![VsOutput::View(view(1, &[0, 1, 2], &[0, 1, 2]))],
    );
    w.run_until(10_000);
    let call = inc(2, 3);
    w.input(3, Input::Client(call));
    w.run_until(20_000);
    w.crashed.push(2);
    w.decide(&[0, 1, 3], vec![VsOutput::View(view(2, &[0, 1, 3], &[3]))]);
    w.run_until(30_000);
    let joiner = w.hosts[3].replica(GROUP).expect("host 3 runs a replica");
    assert_eq!(joiner.executed_position(), 1);
    assert_eq!(joiner.state_digest(), 1);
    let call = inc(3, 3);
    w.input(3, Input::Client(call));
    w.run_until(40_000);
    assert!(w.events.contains(&(
        3,
        ClientEvent::Reply {
            token: 3,
            payload: b"2".to_vec()
        }
    )));
    assert_eq!(w.executed(3), w.executed(0)[1..].to_vec());
}

#[test]
fn a_failed_group_fails_pending_calls_and_exclusion_keeps_them() {
    let mut w = started_world();
    w.crashed.extend([0, 1, 2]);
    let call = inc(2, 0);
    w.crashed.retain(|h| *h != 0);
    w.input(0, Input::Client(call));
    let mut failed = view(2, &[0], &[]);
    failed.failed = true;
    w.decide(&[0], vec![VsOutput::View(failed)]);
    assert!(matches!(
        w.events.as_slice(),
        [(0, ClientEvent::CallFailed { token: 2, .. })]
    ));
    assert!(w.hosts[0].replica(GROUP).is_none());

    let call = ClientRequest::Call {
        token: 3,
        client: local_client(0),
        group: GroupId(9),
        payload: vec![],
    };
    w.input(0, Input::Client(call));
    let events_before = w.events.len();
    w.decide(&[0], vec![VsOutput::Excluded]);
    // The excluded host rejoins as a new incarnation; its pending call keeps
    // retrying (bounded by the call deadline) instead of failing.
    assert_eq!(
        w.events.len(),
        events_before,
        "{:?}",
        &w.events[events_before..]
    );
    assert_eq!(w.hosts[0].incarnation(), Incarnation(2));
}

/// A group the view service stopped (its program ended) goes from every host:
/// its replicas are dropped, a pending call fails saying why, and what is
/// still in flight for it recreates nothing.
#[test]
fn a_stopped_group_is_dropped_everywhere_and_its_calls_fail() {
    let mut w = started_world();
    let call = inc(2, 0);
    w.input(0, Input::Client(call));
    w.decide(&[0, 1, 2], vec![VsOutput::Stopped(GROUP)]);
    assert!(
        matches!(w.events.as_slice(),
            [(0, ClientEvent::CallFailed { token: 2, reason })] if reason.contains("was stopped")),
        "{:?}",
        w.events
    );
    w.run_until(50_000);
    for h in 0..3 {
        assert!(w.hosts[h].replica(GROUP).is_none(), "host {h}");
    }
    assert_eq!(w.events.len(), 1);
}

/// Four hosts with the real failure detector and view service: start a server,
/// call it, crash its sequencer, and call it again.
#[test]
fn with_the_view_service_a_call_survives_a_sequencer_crash() {
    use crate::view_service::FIRST_INCARNATION;
    let cluster: Vec<HostId> = (0..4).map(HostId).collect();
    let mut w = World {
        now: 0,
        hosts: Vec::new(),
        network: VecDeque::new(),
        timers: Vec::new(),
        crashed: Vec::new(),
        events: Vec::new(),
        traces: Vec::new(),
    };
    for h in 0..4 {
        let config = HostConfig::new(
            HostId(h),
            FIRST_INCARNATION,
            cluster.clone(),
            7 + u64::from(h),
            Arc::new(ProofKeys::simulated(HostId(h), &cluster, 7)),
        );
        w.hosts.push(Host::new(config, Arc::new(Counters)));
    }
    for h in 0..4 {
        w.input(h, Input::Start);
    }
    w.run_until(1_000_000);
    let mut two = spec();
    two.tolerate = 1;
    two.replicas = 2;
    w.input(
        3,
        Input::Client(ClientRequest::StartServer {
            token: 1,
            spec: Box::new(two),
            scope: Scope::Cluster,
        }),
    );
    w.run_until(2_000_000);
    let group = match w.events.as_slice() {
        [(3, ClientEvent::ServerStarted { token: 1, group })] => *group,
        other => panic!("no start: {other:?}"),
    };
    w.events.clear();
    let me = ClientId::Host {
        host: HostId(3),
        incarnation: FIRST_INCARNATION,
        local: 0,
    };
    w.input(
        3,
        Input::Client(ClientRequest::Call {
            token: 2,
            client: me,
            group,
            payload: b"inc".to_vec(),
        }),
    );
    w.run_until(2_500_000);
    assert_eq!(
        w.events,
        vec![(
            3,
            ClientEvent::Reply {
                token: 2,
                payload: b"1".to_vec()
            }
        )]
    );
    w.events.clear();

    let first_view = w.hosts[3].view(group).expect("view").clone();
    let sequencer = first_view.members[0].host.0;
    w.crashed.push(sequencer);
    w.input(
        3,
        Input::Client(ClientRequest::Call {
            token: 3,
            client: me,
            group,
            payload: b"inc".to_vec(),
        }),
    );
    w.run_until(6_000_000);
    assert_eq!(
        w.events,
        vec![(
            3,
            ClientEvent::Reply {
                token: 3,
                payload: b"2".to_vec()
            }
        )]
    );
    let newest = w.hosts[3].view(group).expect("view").clone();
    assert!(newest.view_id > first_view.view_id);
    assert!(!newest.members.iter().any(|m| m.host.0 == sequencer));
    assert_eq!(
        newest.members.len(),
        2,
        "a replacement was recruited: {newest:?}"
    );
    for m in &newest.members {
        let r = w.hosts[m.host.0 as usize].replica(group).expect("replica");
        assert_eq!(r.state_digest(), 2);
        assert_eq!(r.executed_position(), 2);
    }
}

#[test]
fn inputs_are_ranked_by_their_groups_priority_and_control_work_first() {
    let mut w = World::new(3);
    // Group 1 (priority 0 by `spec`) and group 2 (priority 5), both on host 0.
    let mut urgent = view(1, &[0, 1, 2], &[0, 1, 2]);
    urgent.group = GroupId(2);
    urgent.spec.priority = 5;
    let mut out = Vec::new();
    let decided = vec![
        VsOutput::View(view(1, &[0, 1, 2], &[0, 1, 2])),
        VsOutput::View(urgent),
    ];
    w.hosts[0].inject_view_service(0, decided, &mut out);
    let host = &w.hosts[0];
    let from = HostId(1);
    let message = |msg| Input::Message {
        from,
        from_incarnation: Incarnation(1),
        msg,
    };
    let prepare_ok = |group| {
        Message::Group(GroupMessage::PrepareOk {
            group,
            view_id: 1,
            position: 0,
            executed_position: 0,
        })
    };
    let call = |group| {
        Input::Client(ClientRequest::Call {
            token: 1,
            client: local_client(0),
            group,
            payload: vec![],
        })
    };
    // Control work: heartbeats, server starts, timers of other layers.
    let heartbeat = Message::Heartbeat {
        incarnation: Incarnation(1),
    };
    assert_eq!(host.input_priority(&message(heartbeat)), None);
    assert_eq!(
        host.input_priority(&Input::Client(ClientRequest::StartServer {
            token: 2,
            spec: Box::new(spec()),
            scope: Scope::Cluster,
        })),
        None
    );
    assert_eq!(
        host.input_priority(&Input::Timer(TimerId::new(TimerSpace::ViewService, 1))),
        None
    );
    // Group work, by the group's newest view.
    assert_eq!(host.input_priority(&message(prepare_ok(GROUP))), Some(0));
    assert_eq!(
        host.input_priority(&message(prepare_ok(GroupId(2)))),
        Some(5)
    );
    assert_eq!(host.input_priority(&call(GroupId(2))), Some(5));
    assert_eq!(
        host.input_priority(&call(GroupId(9))),
        None,
        "unknown group"
    );
    // A reply to a nested call counts for the calling group.
    let nested_reply = Message::Group(GroupMessage::Reply {
        group: GROUP,
        request: RequestId {
            client: ClientId::Group(GroupId(2)),
            seq: 1,
        },
        payload: vec![],
    });
    assert_eq!(host.input_priority(&message(nested_reply)), Some(5));
    // The replicas' timers: the host numbered them per group.
    let group_timer = out
        .iter()
        .find_map(|o| match o {
            Output::SetTimer { timer, .. } if timer.space() == Some(TimerSpace::Group) => {
                Some(*timer)
            }
            _ => None,
        })
        .expect("a replica armed a timer");
    assert!(host.input_priority(&Input::Timer(group_timer)).is_some());
}

/// An echo crosses to the host asked and straight back, with no protocol;
/// answers nobody asked for (or from another host) are dropped.
#[test]
fn an_echo_comes_back_from_the_host_asked_and_nothing_else_answers() {
    let mut w = World::new(3);
    w.run_until(1_000);
    w.events.clear();
    let echo = |token, to| {
        Input::Client(ClientRequest::Echo {
            token,
            to: HostId(to),
            payload: vec![token as u8; 3],
        })
    };
    w.input(0, echo(5, 1));
    w.input(0, echo(6, 7));
    w.run_until(2_000);
    assert_eq!(
        w.events,
        vec![
            (
                0,
                ClientEvent::CallFailed {
                    token: 6,
                    reason: "cannot echo: h7 is not in the cluster".into()
                }
            ),
            (
                0,
                ClientEvent::Reply {
                    token: 5,
                    payload: vec![5; 3]
                }
            ),
        ]
    );
    w.events.clear();
    // Unsolicited, repeated, or from a host that was not asked: dropped.
    let dropped = w.hosts[0].dropped_inputs();
    w.input(0, echo(8, 1));
    let forged = |from| Input::Message {
        from: HostId(from),
        from_incarnation: Incarnation(1),
        msg: Message::Echoed {
            token: 8,
            payload: vec![],
        },
    };
    w.input(0, forged(2));
    w.input(0, forged(1));
    w.input(0, forged(1));
    assert_eq!(w.hosts[0].dropped_inputs(), dropped + 2);
    assert_eq!(
        w.events,
        vec![(
            0,
            ClientEvent::Reply {
                token: 8,
                payload: vec![]
            }
        )]
    );
}

#[test]
fn outstanding_echoes_are_bounded_and_the_oldest_gives_way() {
    let mut w = World::new(2);
    w.run_until(1_000);
    w.events.clear();
    for token in 0..=ECHOES_MAX as u64 {
        w.input(
            0,
            Input::Client(ClientRequest::Echo {
                token,
                to: HostId(1),
                payload: vec![],
            }),
        );
    }
    assert_eq!(
        w.events,
        vec![(
            0,
            ClientEvent::CallFailed {
                token: 0,
                reason: "echo given up: too many outstanding".into()
            }
        )]
    );
    assert_eq!(w.hosts[0].echoes.len(), ECHOES_MAX);
    w.run_until(2_000);
    assert_eq!(w.events.len(), 1 + ECHOES_MAX);
    assert!(w.hosts[0].echoes.is_empty());
}

/// A byzantine caller's nested command that passed its vote before this host
/// had the callee's replica (a server just started): it is kept until the
/// replica exists, a later copy of other content (a liar's) is dropped, and a
/// retransmission of the voted content reaches the replica, which answers it
/// from its duplicate table: the command runs once.
#[test]
fn a_passed_nested_command_lets_only_its_own_content_through() {
    let mut w = World::new(4);
    let caller = GroupId(7);
    let byzantine_caller = GroupView {
        group: caller,
        view_id: 1,
        members: vec![replica(1), replica(2), replica(3)],
        joining: vec![],
        spec: ServerSpec {
            model: Model::Byzantine,
            tolerate: 1,
            ..spec()
        },
        failed: false,
    };
    w.decide(&[0], vec![VsOutput::View(byzantine_caller)]);
    let copy = |from: u32, payload: &[u8]| Input::Message {
        from: HostId(from),
        from_incarnation: Incarnation(1),
        msg: Message::Group(GroupMessage::Request {
            group: GROUP,
            request: RequestId {
                client: ClientId::Group(caller),
                seq: 1,
            },
            payload: payload.to_vec(),
            low_water: 1,
        }),
    };
    // Two of the caller's members agree: the command passes, but host 0 has
    // no replica of the callee yet.
    w.input(0, copy(1, b"inc"));
    w.input(0, copy(2, b"inc"));
    let callee = GroupView {
        spec: ServerSpec {
            model: Model::Correct,
            tolerate: 0,
            replicas: 1,
            ..spec()
        },
        ..view(1, &[0], &[0])
    };
    w.decide(&[0], vec![VsOutput::View(callee)]);
    w.run_until(5_000);
    let first = w.executed(0);
    assert_eq!(first.len(), 1, "kept until the replica existed: {first:?}");
    assert_eq!(first[0].2, 1, "the counter ran `inc`");
    // The third member lies: its copy carries another command.
    w.input(0, copy(3, b"inX"));
    w.run_until(10_000);
    assert_eq!(w.executed(0), first, "the liar's copy is dropped");
    // A retransmission of the voted command reaches the replica, which
    // does not run it again.
    w.input(0, copy(1, b"inc"));
    w.run_until(15_000);
    assert_eq!(w.executed(0), first, "run once");
}
