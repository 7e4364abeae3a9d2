//! Exact-output tests of the view-service participant, and placement and
//! apply checked against a naive oracle.

use super::state::{place, ApplyEvent, ClusterState};
use super::*;
use crate::types::{Model, Scope};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const F: Incarnation = FIRST_INCARNATION;

fn timing() -> Timing {
    Timing {
        heartbeat_us: 10,
        suspect_after_us: 80,
        election_min_us: 100,
        election_max_us: 200,
        retry_us: 30,
        call_deadline_us: 1_000,
    }
}

fn hosts(n: u32) -> Vec<HostId> {
    (0..n).map(HostId).collect()
}

fn election() -> TimerId {
    TimerId::new(TimerSpace::ViewService, ELECTION_TIMER)
}

fn tick() -> TimerId {
    TimerId::new(TimerSpace::ViewService, TICK_TIMER)
}

fn spec(class: &str, tolerate: u32) -> ServerSpec {
    ServerSpec {
        class: class.into(),
        model: Model::Crash,
        tolerate,
        replicas: 1,
        hosts: vec![],
        disjoint_key: None,
        priority: 0,
        durable: None,
    }
}

fn replica(host: u32, incarnation: Incarnation) -> ReplicaId {
    ReplicaId {
        host: HostId(host),
        incarnation,
    }
}

/// A started participant of an `n`-host cluster, its start outputs dropped.
fn participant(me: u32, incarnation: Incarnation, n: u32) -> ViewService {
    let mut vs = ViewService::new(HostId(me), incarnation, &hosts(n), &timing(), u64::from(me));
    vs.on_start(0, &mut Vec::new());
    vs
}

/// Outputs without timers (timers are checked where they matter).
fn without_timers(out: Vec<VsOutput>) -> Vec<VsOutput> {
    out.into_iter()
        .filter(|o| !matches!(o, VsOutput::SetTimer { .. }))
        .collect()
}

fn send(to: u32, msg: VsMessage) -> VsOutput {
    VsOutput::Send {
        to: HostId(to),
        msg,
    }
}

fn deliver(
    to: &mut ViewService,
    from: u32,
    incarnation: Incarnation,
    msg: VsMessage,
    now: Micros,
) -> Vec<VsOutput> {
    let mut out = Vec::new();
    to.on_message(now, HostId(from), incarnation, msg, &mut out);
    out
}

fn vote(term: u64, granted: bool, voter: Incarnation) -> VsMessage {
    VsMessage::Vote {
        term,
        granted,
        voter,
        standing: Standing::Joined,
    }
}

/// A vote from a restarted participant not joined yet: a refusal of a
/// fresh one, or the grant of a stand-in.
fn fresh_vote(term: u64, granted: bool, voter: Incarnation) -> VsMessage {
    VsMessage::Vote {
        term,
        granted,
        voter,
        standing: if granted {
            Standing::StoodIn
        } else {
            Standing::Fresh
        },
    }
}

/// Fires `vs`'s election timer at its deadline; returns the time and outputs.
fn time_out(vs: &mut ViewService) -> (Micros, Vec<VsOutput>) {
    let at = vs.election_deadline;
    let mut out = Vec::new();
    vs.on_timer(at, election(), &mut out);
    (at, out)
}

/// Host 0 wins the first election of an `n`-host cluster with votes of hosts 1..quorum.
fn elect_first(n: u32) -> (ViewService, Micros) {
    let mut leader = participant(0, F, n);
    let (now, _) = time_out(&mut leader);
    for voter in 1..(n / 2 + 1) {
        deliver(&mut leader, voter, F, vote(1, true, F), now);
    }
    assert_eq!(leader.role, Role::Leader);
    (leader, now)
}

/// A 3-host cluster's elected leader (host 0) and a follower (host 1) that
/// holds and acknowledged the leader's first entry, and the time.
fn leader_and_follower() -> (ViewService, ViewService, Micros) {
    let (mut a, now) = elect_first(3);
    let mut b = participant(1, F, 3);
    deliver(
        &mut b,
        0,
        F,
        append(0, 0, vec![entry(Decision::Noop)], 0),
        now,
    );
    deliver(&mut a, 1, F, ack(1), now);
    (a, b, now)
}

fn append(prev_index: u64, prev_term: u64, entries: Vec<LogEntry>, commit_index: u64) -> VsMessage {
    VsMessage::Append {
        term: 1,
        prev_index,
        prev_term,
        entries,
        commit_index,
    }
}

fn entry(decision: Decision) -> LogEntry {
    LogEntry { term: 1, decision }
}

fn ack(match_index: u64) -> VsMessage {
    VsMessage::AppendReply {
        term: 1,
        success: true,
        match_index,
        voter: F,
    }
}

#[test]
fn start_arms_tick_and_randomised_election_timers() {
    let mut vs = ViewService::new(HostId(0), F, &hosts(3), &timing(), 9);
    let mut out = Vec::new();
    vs.on_start(0, &mut out);
    let deadline = vs.election_deadline;
    assert!((100..=200).contains(&deadline));
    assert_eq!(
        out,
        vec![
            VsOutput::SetTimer {
                timer: tick(),
                at: 10
            },
            VsOutput::SetTimer {
                timer: election(),
                at: deadline
            },
        ]
    );
    // The same seed gives the same timeout; a stale early firing does nothing.
    let mut again = ViewService::new(HostId(0), F, &hosts(3), &timing(), 9);
    again.on_start(0, &mut Vec::new());
    assert_eq!(again.election_deadline, deadline);
    let mut out = Vec::new();
    vs.on_timer(deadline - 1, election(), &mut out);
    assert_eq!(out, vec![]);
}

#[test]
fn election_with_three_participants() {
    let mut a = participant(0, F, 3);
    let mut b = participant(1, F, 3);
    let (now, out) = time_out(&mut a);
    let request = VsMessage::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
        commit_index: 0,
        commit_term: 0,
        recovery: false,
    };
    assert_eq!(
        out,
        vec![
            send(
                1,
                VsMessage::CatchUpRequest {
                    commit_index: 0,
                    standing: Standing::Joined
                }
            ),
            send(
                2,
                VsMessage::CatchUpRequest {
                    commit_index: 0,
                    standing: Standing::Joined
                }
            ),
            VsOutput::SetTimer {
                timer: election(),
                at: a.election_deadline
            },
            send(1, request.clone()),
            send(2, request.clone()),
        ]
    );
    assert_eq!((a.role, a.term), (Role::Candidate, 1));

    let out = deliver(&mut b, 0, F, request, now);
    assert_eq!(without_timers(out), vec![send(0, vote(1, true, F))]);
    assert_eq!(b.voted_for, Some(replica(0, F)));

    // One vote besides its own is a majority of three: leader, with a no-op entry.
    let out = deliver(&mut a, 1, F, vote(1, true, F), now);
    let noop = append(0, 0, vec![entry(Decision::Noop)], 0);
    assert_eq!(out, vec![send(1, noop.clone()), send(2, noop.clone())]);
    assert_eq!(a.leader(), Some(HostId(0)));

    // The no-op commits once one follower holds it.
    let out = deliver(&mut b, 0, F, noop, now);
    assert_eq!(without_timers(out), vec![send(0, ack(1))]);
    assert_eq!(b.leader(), Some(HostId(0)));
    // The commit is announced at once (an append without entries); host 2
    // never answered, so its append starts at the beginning of the log.
    assert_eq!(
        deliver(&mut a, 1, F, ack(1), now),
        vec![
            send(1, append(1, 1, vec![], 1)),
            send(2, append(0, 0, vec![], 1))
        ]
    );
    assert_eq!(a.term_and_commit(), (1, 1));
}

#[test]
fn election_with_five_participants_needs_three_votes() {
    let mut a = participant(0, F, 5);
    let (now, _) = time_out(&mut a);
    assert_eq!(deliver(&mut a, 1, F, vote(1, true, F), now), vec![]);
    assert_eq!(
        deliver(&mut a, 1, F, vote(1, true, F), now),
        vec![],
        "a duplicate vote counts once"
    );
    assert_eq!(deliver(&mut a, 2, F, vote(1, false, F), now), vec![]);
    assert_eq!(a.role, Role::Candidate);
    let out = deliver(&mut a, 3, F, vote(1, true, F), now);
    let noop = append(0, 0, vec![entry(Decision::Noop)], 0);
    assert_eq!(
        out,
        (1..5).map(|h| send(h, noop.clone())).collect::<Vec<_>>()
    );
    assert_eq!(a.role, Role::Leader);
}

#[test]
fn a_vote_goes_to_one_candidate_per_term_and_to_up_to_date_logs_only() {
    let mut c = participant(2, F, 3);
    let request = |last_index, last_term| VsMessage::RequestVote {
        term: 1,
        last_index,
        last_term,
        commit_index: 0,
        commit_term: 0,
        recovery: false,
    };
    let out = deliver(&mut c, 0, F, request(0, 0), 150);
    assert_eq!(without_timers(out), vec![send(0, vote(1, true, F))]);
    let out = deliver(&mut c, 1, F, request(0, 0), 150);
    assert_eq!(without_timers(out), vec![send(1, vote(1, false, F))]);

    // A log holding a term-1 entry refuses a candidate with an empty log.
    let mut d = participant(1, F, 3);
    deliver(
        &mut d,
        0,
        F,
        append(0, 0, vec![entry(Decision::Noop)], 0),
        150,
    );
    let out = deliver(
        &mut d,
        2,
        F,
        VsMessage::RequestVote {
            term: 2,
            last_index: 0,
            last_term: 0,
            commit_index: 0,
            commit_term: 0,
            recovery: false,
        },
        160,
    );
    assert_eq!(without_timers(out), vec![send(2, vote(2, false, F))]);
}

#[test]
fn replication_commits_on_a_majority_and_a_follower_learns_the_commit() {
    let (mut a, now) = elect_first(3);
    let mut b = participant(1, F, 3);
    let noop = append(0, 0, vec![entry(Decision::Noop)], 0);
    deliver(&mut b, 0, F, noop, now);
    deliver(&mut a, 1, F, ack(1), now);

    let mut out = Vec::new();
    a.start_server(now, 7, spec("Counter", 1), Scope::Cluster, &mut out);
    let create = entry(Decision::CreateGroup {
        starter: Starter::Client {
            origin: replica(0, F),
            token: 7,
        },
        spec: spec("Counter", 1),
        scope: Scope::Cluster,
    });
    let msg = append(1, 1, vec![create.clone()], 1);
    // Host 2 never acknowledged: it gets the log from the start.
    let to_silent = append(0, 0, vec![entry(Decision::Noop), create], 1);
    assert_eq!(out, vec![send(1, msg.clone()), send(2, to_silent)]);

    let view = GroupView {
        group: GroupId(1),
        view_id: 1,
        members: vec![replica(0, F), replica(1, F)],
        joining: vec![],
        spec: spec("Counter", 1),
        failed: false,
    };
    let out = deliver(&mut b, 0, F, msg, now);
    assert_eq!(
        without_timers(out),
        vec![send(0, ack(2))],
        "not committed yet: no view"
    );
    let out = deliver(&mut a, 1, F, ack(2), now);
    assert_eq!(
        out,
        vec![
            VsOutput::View(view.clone()),
            VsOutput::StartDecided {
                starter: Starter::Client {
                    origin: replica(0, F),
                    token: 7,
                },
                result: Ok(GroupId(1)),
            },
            // The commit is announced at once: the follower need not wait for a heartbeat.
            send(1, append(2, 1, vec![], 2)),
            send(2, append(0, 0, vec![], 2)),
        ]
    );
    assert_eq!(a.view(GroupId(1)), Some(&view));
    let out = deliver(&mut b, 0, F, append(2, 1, vec![], 2), now);
    assert_eq!(
        without_timers(out),
        vec![VsOutput::View(view.clone()), send(0, ack(2))],
        "the follower applies and emits the same view"
    );
    assert_eq!(b.view(GroupId(1)), Some(&view));

    // The next heartbeat carries the commit index too.
    let mut out = Vec::new();
    a.on_timer(now + 10, tick(), &mut out);
    let heartbeat = append(2, 1, vec![], 2);
    assert_eq!(
        out,
        vec![
            VsOutput::SetTimer {
                timer: tick(),
                at: now + 20
            },
            send(1, heartbeat.clone()),
            send(
                2,
                append(
                    0,
                    0,
                    vec![
                        entry(Decision::Noop),
                        entry(Decision::CreateGroup {
                            starter: Starter::Client {
                                origin: replica(0, F),
                                token: 7,
                            },
                            spec: spec("Counter", 1),
                            scope: Scope::Cluster,
                        }),
                    ],
                    2,
                ),
            ),
        ]
    );
    let out = deliver(&mut b, 0, F, heartbeat, now + 10);
    assert_eq!(
        without_timers(out),
        vec![send(0, ack(2))],
        "applied already"
    );
    // Host 2 acknowledges the log only after the commit, which the
    // announcement could not cover: it is told at once, not at a heartbeat.
    let out = deliver(&mut a, 2, F, ack(2), now + 11);
    assert_eq!(out, vec![send(2, append(2, 1, vec![], 2))]);
    // An answer that acknowledges nothing new gets nothing.
    assert_eq!(deliver(&mut a, 2, F, ack(2), now + 12), vec![]);
    // A repeated start on the origin answers from the decision.
    let mut out = Vec::new();
    a.start_server(now + 20, 7, spec("Counter", 1), Scope::Cluster, &mut out);
    assert_eq!(
        out,
        vec![VsOutput::StartDecided {
            starter: Starter::Client {
                origin: replica(0, F),
                token: 7,
            },
            result: Ok(GroupId(1)),
        }]
    );
}

#[test]
fn a_minority_partition_commits_nothing_and_installs_no_view() {
    // Host 0 leads a 5-host cluster but then reaches only host 1.
    let (mut a, now) = elect_first(5);
    let mut b = participant(1, F, 5);
    let mut out = Vec::new();
    a.start_server(now, 1, spec("Counter", 0), Scope::Cluster, &mut out);
    let mut seen = Vec::new();
    let mut t = now;
    for _ in 0..50 {
        t += 10;
        let mut out = Vec::new();
        a.on_timer(t, tick(), &mut out);
        for o in out {
            match o {
                VsOutput::Send { to: HostId(1), msg } => {
                    for reply in deliver(&mut b, 0, F, msg, t) {
                        match reply {
                            VsOutput::Send { msg, .. } => {
                                seen.extend(deliver(&mut a, 1, F, msg, t))
                            }
                            other => seen.push(other),
                        }
                    }
                }
                other => seen.push(other),
            }
        }
    }
    assert!(!seen
        .iter()
        .any(|o| matches!(o, VsOutput::View(_) | VsOutput::StartDecided { .. })));
    assert_eq!(a.commit_index, 0);
    assert_eq!(b.commit_index, 0);
    // Without a majority's acknowledgements the leader steps down.
    assert_eq!(a.role, Role::Follower);

    // Hosts 3 and 4 alone: a candidate never wins.
    let mut d = participant(3, F, 5);
    let mut e = participant(4, F, 5);
    let mut outputs = Vec::new();
    for _ in 0..5 {
        let (t, out) = time_out(&mut d);
        for o in out {
            if let VsOutput::Send { to: HostId(4), msg } = o {
                for reply in deliver(&mut e, 3, F, msg, t) {
                    if let VsOutput::Send { msg, .. } = reply {
                        outputs.extend(deliver(&mut d, 4, F, msg, t));
                    }
                }
            }
        }
        assert_ne!(d.role, Role::Leader);
    }
    assert!(!outputs.iter().any(|o| matches!(o, VsOutput::View(_))));
}

#[test]
fn a_restarted_participant_cannot_vote_or_count_before_its_join_commits() {
    const NEW: Incarnation = Incarnation(5);
    let mut a = participant(0, F, 3);
    let mut c = participant(2, NEW, 3);
    assert!(!c.is_admitted());

    // It refuses to vote, and a vote from it would not count.
    let (now, _) = time_out(&mut a);
    let request = VsMessage::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
        commit_index: 0,
        commit_term: 0,
        recovery: false,
    };
    let out = deliver(&mut c, 0, F, request, now);
    assert_eq!(
        without_timers(out),
        vec![send(0, fresh_vote(1, false, NEW))]
    );
    assert_eq!(deliver(&mut a, 2, NEW, vote(1, true, NEW), now), vec![]);
    // Nor would a fresh one: one host is lost, a majority survives (no recovery).
    assert_eq!(
        deliver(&mut a, 2, NEW, fresh_vote(1, true, NEW), now),
        vec![]
    );
    assert_eq!(a.role, Role::Candidate);
    deliver(&mut a, 1, F, vote(1, true, F), now);
    assert_eq!(a.role, Role::Leader);

    // Its acknowledgements do not commit anything either.
    let noop = append(0, 0, vec![entry(Decision::Noop)], 0);
    let out = deliver(&mut c, 0, F, noop, now);
    let c_ack = VsMessage::AppendReply {
        term: 1,
        success: true,
        match_index: 1,
        voter: NEW,
    };
    assert_eq!(without_timers(out), vec![send(0, c_ack.clone())]);
    assert_eq!(deliver(&mut a, 2, NEW, c_ack, now), vec![]);
    assert_eq!(a.commit_index, 0);

    // Its join is proposed when the leader hears from it, and commits with host 1.
    let mut out = Vec::new();
    a.heard_from(now, HostId(2), NEW, &mut out);
    let join = entry(Decision::HostJoined {
        host: HostId(2),
        incarnation: NEW,
    });
    let msg = append(1, 1, vec![join.clone()], 0);
    assert_eq!(
        out,
        vec![
            send(1, append(0, 0, vec![entry(Decision::Noop), join], 0)),
            send(2, msg.clone())
        ]
    );
    deliver(&mut a, 1, F, ack(2), now);
    assert_eq!(a.commit_index, 2);
    assert_eq!(a.state.voters[&HostId(2)], NEW);

    // Caught up with the join committed, it votes.
    let out = deliver(
        &mut c,
        0,
        F,
        append(
            1,
            1,
            vec![entry(Decision::HostJoined {
                host: HostId(2),
                incarnation: NEW,
            })],
            2,
        ),
        now,
    );
    assert_eq!(
        without_timers(out),
        vec![send(
            0,
            VsMessage::AppendReply {
                term: 1,
                success: true,
                match_index: 2,
                voter: NEW,
            }
        )]
    );
    assert!(c.is_admitted());
    let out = deliver(
        &mut c,
        1,
        F,
        VsMessage::RequestVote {
            term: 2,
            last_index: 2,
            last_term: 1,
            commit_index: 2,
            commit_term: 1,
            recovery: false,
        },
        now + 1,
    );
    assert_eq!(without_timers(out), vec![send(1, vote(2, true, NEW))]);
}

#[test]
fn a_follower_forwards_requests_to_the_leader_until_committed() {
    let (mut a, mut b, now) = leader_and_follower();

    let mut out = Vec::new();
    b.start_server(now, 3, spec("Log", 0), Scope::Cluster, &mut out);
    let create = Decision::CreateGroup {
        starter: Starter::Client {
            origin: replica(1, F),
            token: 3,
        },
        spec: spec("Log", 0),
        scope: Scope::Cluster,
    };
    let propose = VsMessage::Propose {
        decision: create.clone(),
    };
    assert_eq!(out, vec![send(0, propose.clone())]);
    // Retried every retry_us while undecided.
    let mut out = Vec::new();
    b.on_timer(now + 10, tick(), &mut out);
    b.on_timer(now + 20, tick(), &mut out);
    assert_eq!(without_timers(out), vec![]);
    let mut out = Vec::new();
    b.on_timer(now + 30, tick(), &mut out);
    assert_eq!(without_timers(out), vec![send(0, propose.clone())]);

    // The leader appends it once, however often it is proposed.
    let out = deliver(&mut a, 1, F, propose.clone(), now + 30);
    let msg = append(1, 1, vec![entry(create.clone())], 1);
    let to_silent = append(0, 0, vec![entry(Decision::Noop), entry(create.clone())], 1);
    assert_eq!(out, vec![send(1, msg.clone()), send(2, to_silent)]);
    assert_eq!(deliver(&mut a, 1, F, propose, now + 30), vec![]);

    // Committed: the origin learns the decision from the leader's commit index.
    deliver(&mut b, 0, F, msg, now + 30);
    deliver(&mut a, 1, F, ack(2), now + 30);
    let out = deliver(&mut b, 0, F, append(2, 1, vec![], 2), now + 40);
    assert_eq!(
        without_timers(out)[..2],
        [
            VsOutput::View(GroupView {
                group: GroupId(1),
                view_id: 1,
                members: vec![replica(0, F)],
                joining: vec![],
                spec: spec("Log", 0),
                failed: false,
            }),
            VsOutput::StartDecided {
                starter: Starter::Client {
                    origin: replica(1, F),
                    token: 3,
                },
                result: Ok(GroupId(1)),
            },
        ]
    );
    let mut out = Vec::new();
    b.on_timer(now + 70, tick(), &mut out);
    assert_eq!(without_timers(out), vec![], "nothing left to forward");
}

/// What `out` sends to host `to` (the first such message).
fn sent_to(out: &[VsOutput], to: u32) -> VsMessage {
    out.iter()
        .find_map(|o| match o {
            VsOutput::Send { to: h, msg } if *h == HostId(to) => Some(msg.clone()),
            _ => None,
        })
        .expect("a message to the host")
}

#[test]
fn a_start_asked_by_every_replica_of_a_group_is_decided_once() {
    let (mut a, mut b, now) = leader_and_follower();
    // Group 1, on every host, started by a client of host 0.
    let mut out = Vec::new();
    a.start_server(now, 1, spec("Office", 2), Scope::Cluster, &mut out);
    deliver(&mut b, 0, F, sent_to(&out, 1), now);
    deliver(&mut a, 1, F, ack(2), now);
    let office = GroupId(1);
    // Its replicas on hosts 0 (the leader) and 1 both vote for the start of
    // their call 4.
    let vote = |voter: u32| Decision::StartVote {
        group: office,
        call: 4,
        voter: replica(voter, F),
        spec: spec("Log", 0),
    };
    let mut out = Vec::new();
    a.start_server_for(now, office, 4, spec("Log", 0), &mut out);
    assert_eq!(
        sent_to(&out, 1),
        append(2, 1, vec![entry(vote(0))], 2),
        "the leader's vote"
    );
    deliver(&mut b, 0, F, sent_to(&out, 1), now);
    let mut out = Vec::new();
    b.start_server_for(now, office, 4, spec("Log", 0), &mut out);
    let propose = VsMessage::Propose { decision: vote(1) };
    assert_eq!(out, vec![send(0, propose.clone())]);
    // Host 1's own vote is appended (one per host)…
    let out = deliver(&mut a, 1, F, propose.clone(), now);
    let to_b = sent_to(&out, 1);
    assert_eq!(to_b, append(2, 1, vec![entry(vote(0)), entry(vote(1))], 2));
    // …once: a retry appends nothing more.
    assert_eq!(deliver(&mut a, 1, F, propose, now), vec![]);
    // A vote for another host is refused whoever forwards it.
    let forged = VsMessage::Propose { decision: vote(2) };
    assert_eq!(deliver(&mut a, 1, F, forged, now), vec![]);
    deliver(&mut b, 0, F, to_b, now);
    let out = deliver(&mut a, 1, F, ack(4), now);
    let starter = Starter::Group {
        group: office,
        call: 4,
    };
    let decided = VsOutput::StartDecided {
        starter,
        result: Ok(GroupId(2)),
    };
    assert!(out.contains(&decided), "{out:?}");
    let out = deliver(&mut b, 0, F, append(4, 1, vec![], 4), now + 10);
    assert!(out.contains(&decided), "{out:?}");
    assert_eq!(a.state.groups.len(), 2, "one server started");
    // A retry (a new sequencer asking again) is answered at once, the same.
    let mut out = Vec::new();
    b.start_server_for(now + 20, office, 4, spec("Log", 0), &mut out);
    assert_eq!(out, vec![decided]);
}

/// `vs` suspects `host`: it probes the host first, and reports the suspicion
/// once the probe stayed unanswered for `retry_us`. Returns that time.
fn suspect_unanswered(vs: &mut ViewService, host: u32, now: Micros) -> Micros {
    let mut out = Vec::new();
    vs.suspect(now, HostId(host), F, &mut out);
    assert_eq!(out, vec![send(host, VsMessage::Probe)]);
    let later = now + timing().retry_us;
    vs.on_timer(later, tick(), &mut Vec::new());
    later
}

#[test]
fn a_suspicion_is_withdrawn_when_the_probed_host_answers() {
    let (mut a, now) = elect_first(3);
    deliver(&mut a, 1, F, ack(1), now);
    let mut out = Vec::new();
    a.suspect(now, HostId(2), F, &mut out);
    assert_eq!(out, vec![send(2, VsMessage::Probe)]);
    // The probed host answers: the suspicion is gone and never proposed.
    let mut c = participant(2, F, 3);
    assert_eq!(
        deliver(&mut c, 0, F, VsMessage::Probe, now),
        vec![send(0, VsMessage::ProbeReply)]
    );
    deliver(&mut a, 2, F, VsMessage::ProbeReply, now + 1);
    let last = a.last_index();
    a.on_timer(now + 60, tick(), &mut Vec::new());
    assert_eq!(a.last_index(), last);
    assert!(a.pending_failures.is_empty());
}

/// A probe lost while this host was cut off stays unanswered; the suspected
/// host's heartbeat after the heal withdraws the suspicion before the probe
/// round would confirm it.
#[test]
fn a_suspicion_is_withdrawn_when_the_host_is_heard_again() {
    let (mut a, now) = elect_first(3);
    deliver(&mut a, 1, F, ack(1), now);
    let mut out = Vec::new();
    a.suspect(now, HostId(2), F, &mut out);
    assert_eq!(out, vec![send(2, VsMessage::Probe)]);
    // The probe is lost; a heartbeat of the same incarnation arrives.
    a.heard_from(now + 1, HostId(2), F, &mut Vec::new());
    let last = a.last_index();
    a.on_timer(now + 60, tick(), &mut Vec::new());
    assert_eq!(a.last_index(), last);
    assert!(a.pending_failures.is_empty());
}

#[test]
fn a_declared_failure_excludes_the_host_and_its_messages_are_shunned() {
    let (mut a, now) = elect_first(3);
    let mut c = participant(2, F, 3);
    deliver(&mut a, 1, F, ack(1), now);
    let now = suspect_unanswered(&mut a, 2, now);
    let failed = entry(Decision::HostFailed {
        host: HostId(2),
        incarnation: F,
    });
    deliver(&mut a, 1, F, ack(2), now);
    assert_eq!(a.commit_index, 2);
    assert_eq!(a.state.admitted(HostId(2)), None);

    let out = deliver(
        &mut c,
        0,
        F,
        append(0, 0, vec![entry(Decision::Noop), failed], 2),
        now,
    );
    assert_eq!(without_timers(out)[0], VsOutput::Excluded);
    // Its next message is answered with Shunned, which also reports Excluded (once).
    let out = deliver(
        &mut a,
        2,
        F,
        VsMessage::Propose {
            decision: Decision::Noop,
        },
        now,
    );
    assert_eq!(out, vec![send(2, VsMessage::Shunned { incarnation: F })]);
    let mut fresh = participant(2, F, 3);
    let out = deliver(&mut fresh, 0, F, VsMessage::Shunned { incarnation: F }, now);
    assert_eq!(out, vec![VsOutput::Excluded]);
    assert_eq!(
        deliver(&mut fresh, 0, F, VsMessage::Shunned { incarnation: F }, now),
        vec![]
    );
}

#[test]
fn removals_never_leave_fewer_than_a_majority_alive() {
    let (mut a, now) = elect_first(3);
    deliver(&mut a, 1, F, ack(1), now);
    let now = suspect_unanswered(&mut a, 2, now);
    deliver(&mut a, 1, F, ack(2), now);
    assert_eq!(a.state.alive_hosts(), vec![HostId(0), HostId(1)]);
    // Failing host 1 too would leave one of three: the suspicion waits.
    let last = a.last_index();
    suspect_unanswered(&mut a, 1, now);
    assert_eq!(a.last_index(), last);
    assert_eq!(a.pending_failures.get(&HostId(1)), Some(&F));
}

#[test]
fn stale_incarnations_and_unknown_hosts_are_ignored() {
    let mut b = participant(1, F, 3);
    let msg = VsMessage::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
        commit_index: 0,
        commit_term: 0,
        recovery: false,
    };
    assert!(!deliver(&mut b, 0, Incarnation(3), msg.clone(), 5).is_empty());
    assert_eq!(deliver(&mut b, 0, Incarnation(2), msg.clone(), 6), vec![]);
    assert_eq!(deliver(&mut b, 9, F, msg, 6), vec![]);
    let mut out = Vec::new();
    b.on_timer(6, TimerId::new(TimerSpace::Group, TICK_TIMER), &mut out);
    b.on_timer(6, TimerId::new(TimerSpace::ViewService, 77), &mut out);
    assert_eq!(out, vec![]);
}

// ------------------------------------------------------------------ placement

/// The placement rule written the slow, obvious way.
fn placement_oracle(
    spec: &ServerSpec,
    alive: &[HostId],
    load: &BTreeMap<HostId, usize>,
    exclude: &BTreeSet<HostId>,
    avoid: &BTreeSet<HostId>,
    count: usize,
) -> Vec<HostId> {
    let mut chosen: Vec<HostId> = Vec::new();
    let usable = |h: &HostId, chosen: &Vec<HostId>| {
        alive.contains(h) && !exclude.contains(h) && !chosen.contains(h)
    };
    for avoided in [false, true] {
        for p in &spec.hosts {
            if chosen.len() < count && usable(p, &chosen) && avoid.contains(p) == avoided {
                chosen.push(*p);
            }
        }
        while chosen.len() < count {
            let best = alive
                .iter()
                .filter(|h| {
                    usable(h, &chosen) && avoid.contains(h) == avoided && !spec.hosts.contains(h)
                })
                .min_by_key(|h| (load.get(h).copied().unwrap_or(0), **h));
            match best {
                Some(&h) => chosen.push(h),
                None => break,
            }
        }
    }
    chosen
}

#[test]
fn placement_matches_the_oracle() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..5_000 {
        let n = rng.random_range(1..8u32);
        let alive: Vec<HostId> = (0..n)
            .filter(|_| rng.random_bool(0.8))
            .map(HostId)
            .collect();
        let pick = |rng: &mut ChaCha8Rng| -> BTreeSet<HostId> {
            (0..n)
                .filter(|_| rng.random_bool(0.25))
                .map(HostId)
                .collect()
        };
        let exclude = pick(&mut rng);
        let avoid = pick(&mut rng);
        let load: BTreeMap<HostId, usize> = (0..n)
            .map(|h| (HostId(h), rng.random_range(0..4)))
            .collect();
        let mut s = spec("C", 0);
        s.hosts = (0..rng.random_range(0..4))
            .map(|_| HostId(rng.random_range(0..n + 1)))
            .collect();
        let count = rng.random_range(0..6);
        let got = place(&s, &alive, &load, &exclude, &avoid, count);
        assert_eq!(
            got,
            placement_oracle(&s, &alive, &load, &exclude, &avoid, count),
            "{s:?} {alive:?} {load:?} {exclude:?} {avoid:?} {count}"
        );
        let distinct: BTreeSet<HostId> = got.iter().copied().collect();
        assert_eq!(distinct.len(), got.len(), "never two replicas on one host");
        let candidates = alive.iter().filter(|h| !exclude.contains(h)).count();
        assert_eq!(got.len(), count.min(candidates));
    }
}

#[test]
fn placement_prefers_listed_hosts_then_the_least_loaded() {
    let alive = hosts(5);
    let load = BTreeMap::from([
        (HostId(0), 2),
        (HostId(1), 0),
        (HostId(2), 1),
        (HostId(3), 0),
    ]);
    let mut s = spec("C", 2);
    s.hosts = vec![HostId(4), HostId(0), HostId(9)];
    let got = place(&s, &alive, &load, &BTreeSet::new(), &BTreeSet::new(), 4);
    assert_eq!(got, vec![HostId(4), HostId(0), HostId(1), HostId(3)]);
}

fn created(
    state: &mut ClusterState,
    origin: u32,
    token: u64,
    spec: ServerSpec,
) -> (Vec<ApplyEvent>, Option<GroupView>) {
    let mut events = Vec::new();
    state.apply(
        &Decision::CreateGroup {
            starter: Starter::Client {
                origin: replica(origin, F),
                token,
            },
            spec,
            scope: Scope::Cluster,
        },
        &mut events,
    );
    let view = events.iter().find_map(|e| match e {
        ApplyEvent::View(v) => Some(v.clone()),
        _ => None,
    });
    (events, view)
}

fn views(events: &[ApplyEvent]) -> Vec<GroupView> {
    events
        .iter()
        .filter_map(|e| match e {
            ApplyEvent::View(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

fn fail(state: &mut ClusterState, host: u32, incarnation: Incarnation) -> Vec<ApplyEvent> {
    let mut events = Vec::new();
    state.apply(
        &Decision::HostFailed {
            host: HostId(host),
            incarnation,
        },
        &mut events,
    );
    events
}

#[test]
fn too_few_alive_hosts_refuse_a_creation_with_the_numbers() {
    let mut state = ClusterState::new(&hosts(3));
    let (events, view) = created(&mut state, 1, 4, spec("Bank", 3));
    assert_eq!(view, None);
    assert_eq!(
        events,
        vec![ApplyEvent::Decided {
            starter: Starter::Client {
                origin: replica(1, F),
                token: 4,
            },
            result: Err("server Bank needs 4 hosts, the cluster has 3 alive".into()),
        }]
    );
    // Idempotent by (origin, token): a second copy of the entry does nothing.
    assert_eq!(created(&mut state, 1, 4, spec("Bank", 0)).0, vec![]);
    assert_eq!(state.next_group_id, 1);
}

/// A byzantine group (t = 1, four members) starts a server: created once two
/// members asked for the same spec; a different spec, a second vote of one
/// host and a stranger's vote do not count.
#[test]
fn a_byzantine_group_start_needs_t_plus_1_matching_votes() {
    let mut state = ClusterState::new(&hosts(5));
    let byzantine = ServerSpec {
        model: Model::Byzantine,
        ..spec("Judge", 1)
    };
    let (_, judge) = created(&mut state, 0, 1, byzantine);
    let judge = judge.expect("the judge's first view");
    let members = judge.members.clone();
    assert_eq!(members.len(), 4);
    let stranger = (0..5)
        .map(|h| replica(h, F))
        .find(|r| !members.contains(r))
        .expect("a fifth host");
    let wanted = spec("Tally", 1);
    let other = ServerSpec {
        replicas: 3,
        ..wanted.clone()
    };
    let mut vote = |voter: ReplicaId, spec: &ServerSpec| {
        let mut events = Vec::new();
        state.apply(
            &Decision::StartVote {
                group: judge.group,
                call: 7,
                voter,
                spec: spec.clone(),
            },
            &mut events,
        );
        events
    };
    assert_eq!(vote(members[0], &other), vec![], "a liar's spec");
    assert_eq!(vote(members[1], &wanted), vec![], "one of two");
    assert_eq!(vote(members[1], &wanted), vec![], "the same host again");
    assert_eq!(vote(stranger, &wanted), vec![], "not a member");
    let events = vote(members[2], &wanted);
    let starter = Starter::Group {
        group: judge.group,
        call: 7,
    };
    let tally = GroupId(judge.group.0 + 1);
    assert!(events.contains(&ApplyEvent::Decided {
        starter,
        result: Ok(tally),
    }));
    assert_eq!(vote(members[3], &wanted), vec![], "decided once");
    assert_eq!(state.groups.len(), 2);
    assert_eq!(state.groups[&tally].spec, wanted);
    assert!(state.start_votes.is_empty());
}

/// A crash group's start needs its sequencer's vote alone.
#[test]
fn a_crash_group_start_is_created_on_one_vote() {
    let mut state = ClusterState::new(&hosts(3));
    let (_, group) = created(&mut state, 0, 1, spec("Office", 1));
    let group = group.expect("a first view");
    let mut events = Vec::new();
    state.apply(
        &Decision::StartVote {
            group: group.group,
            call: 1,
            voter: group.members[0],
            spec: spec("Tally", 0),
        },
        &mut events,
    );
    assert!(events.iter().any(|e| matches!(
        e,
        ApplyEvent::Decided {
            result: Ok(GroupId(2)),
            ..
        }
    )));
}

fn applied(state: &mut ClusterState, decision: Decision) -> Vec<ApplyEvent> {
    let mut events = Vec::new();
    state.apply(&decision, &mut events);
    events
}

fn program_start(
    state: &mut ClusterState,
    origin: ReplicaId,
    token: u64,
    spec: ServerSpec,
    scope: Scope,
) -> GroupId {
    let starter = Starter::Client { origin, token };
    let events = applied(
        state,
        Decision::CreateGroup {
            starter,
            spec,
            scope,
        },
    );
    views(&events)[0].group
}

/// A program's servers end with the process that ran its `main`: once a
/// newer process of that host says it started, every group the old process
/// started, and every group those started, is stopped and forgotten, with
/// the old process's creations; its clients and those groups count as
/// departed. A cluster server, a durable one and another host's program
/// stay; the announcement needs the new process admitted and counts once.
#[test]
fn a_programs_servers_stop_when_a_newer_process_of_its_host_starts() {
    let mut state = ClusterState::new(&hosts(4));
    let h0 = replica(0, F);
    let program = program_start(&mut state, h0, 1, spec("Office", 1), Scope::Program);
    let cluster = program_start(&mut state, h0, 2, spec("Kv", 1), Scope::Cluster);
    let ledger = ServerSpec {
        durable: Some("ledger".into()),
        ..spec("Ledger", 1)
    };
    let durable = program_start(&mut state, h0, 3, ledger, Scope::Program);
    let other = program_start(
        &mut state,
        replica(1, F),
        1,
        spec("Office", 1),
        Scope::Program,
    );
    let voter = state.groups[&program].members[0];
    let events = applied(
        &mut state,
        Decision::StartVote {
            group: program,
            call: 1,
            voter,
            spec: spec("Tally", 0),
        },
    );
    let tally = views(&events)[0].group;
    assert_eq!(
        state.owners.keys().copied().collect::<Vec<_>>(),
        vec![program, other, tally],
        "a durable server and a cluster server belong to no program"
    );

    let old_client = ClientId::Host {
        host: HostId(0),
        incarnation: F,
        local: 3,
    };
    let next = Incarnation(F.0 + 1_000);
    let restarted = Decision::Restarted {
        host: HostId(0),
        incarnation: next,
    };
    assert_eq!(
        applied(&mut state, restarted.clone()),
        vec![],
        "not admitted yet"
    );
    assert!(!state.departed(old_client));
    applied(
        &mut state,
        Decision::HostJoined {
            host: HostId(0),
            incarnation: next,
        },
    );
    assert!(!state.departed(old_client), "a join alone may be a rejoin");
    let events = applied(&mut state, restarted.clone());
    let stopped: Vec<GroupId> = events
        .iter()
        .filter_map(|e| match e {
            ApplyEvent::Stopped(g) => Some(*g),
            _ => None,
        })
        .collect();
    assert_eq!(stopped, vec![program, tally]);
    assert!(events.contains(&ApplyEvent::Departed));
    assert!(state.departed(old_client));
    assert!(!state.departed(ClientId::Host {
        host: HostId(0),
        incarnation: next,
        local: 0,
    }));
    assert!(state.departed(ClientId::Group(program)) && state.departed(ClientId::Group(tally)));
    assert!(!state.departed(ClientId::Group(cluster)));
    assert!(
        !state.departed(ClientId::Group(GroupId(99))),
        "never created"
    );
    for g in [cluster, durable, other] {
        assert!(state.groups.contains_key(&g), "{g:?} stays");
    }
    assert!(!state.groups.contains_key(&program) && !state.holders.contains_key(&tally));
    assert_eq!(
        state.owners.keys().copied().collect::<Vec<_>>(),
        vec![other]
    );
    assert!(
        !state.creations.keys().any(|s| matches!(s,
            Starter::Client { origin, .. } if origin.host == HostId(0))
            || matches!(s, Starter::Group { group, .. } if *group == program)),
        "{:?}",
        state.creations
    );
    assert_eq!(applied(&mut state, restarted), vec![], "once");
}

/// A participant that catches up from a snapshot learns of the groups
/// stopped in the entries it skipped, also those it never saw a view of
/// (its host may have calls waiting for one), and of none that live.
#[test]
fn a_snapshot_reports_the_groups_stopped_in_what_it_skipped() {
    let mut state = ClusterState::new(&hosts(3));
    let h0 = replica(0, F);
    let ended = program_start(&mut state, h0, 1, spec("Office", 1), Scope::Program);
    let live = program_start(&mut state, h0, 2, spec("Kv", 1), Scope::Cluster);
    let next = Incarnation(F.0 + 1);
    for decision in [
        Decision::HostJoined {
            host: HostId(0),
            incarnation: next,
        },
        Decision::Restarted {
            host: HostId(0),
            incarnation: next,
        },
    ] {
        applied(&mut state, decision);
    }
    let mut vs = participant(1, F, 3);
    let mut out = Vec::new();
    vs.install_snapshot(9, 1, state, &mut out);
    let stopped: Vec<GroupId> = out
        .iter()
        .filter_map(|o| match o {
            VsOutput::Stopped(g) => Some(*g),
            _ => None,
        })
        .collect();
    assert_eq!(stopped, vec![ended]);
    assert!(out
        .iter()
        .any(|o| matches!(o, VsOutput::View(v) if v.group == live)));
}

#[test]
fn disjoint_groups_use_disjoint_hosts_where_possible() {
    let mut state = ClusterState::new(&hosts(5));
    let mut s = spec("Replica", 1);
    s.disjoint_key = Some(1);
    let (_, a) = created(&mut state, 0, 1, s.clone());
    let (_, b) = created(&mut state, 0, 2, s.clone());
    let (_, c) = created(&mut state, 0, 3, s.clone());
    let host_set = |v: &Option<GroupView>| -> BTreeSet<HostId> {
        v.as_ref()
            .map(|v| v.members.iter().map(|m| m.host).collect())
            .unwrap_or_default()
    };
    assert_eq!(host_set(&a), BTreeSet::from([HostId(0), HostId(1)]));
    assert_eq!(host_set(&b), BTreeSet::from([HostId(2), HostId(3)]));
    // Only one host is left unused: the third overlaps, on the least-loaded host otherwise.
    assert_eq!(host_set(&c), BTreeSet::from([HostId(4), HostId(0)]));
}

#[test]
fn a_failed_member_is_replaced_and_survivors_keep_their_order() {
    let mut state = ClusterState::new(&hosts(5));
    let (_, first) = created(&mut state, 0, 1, spec("Db", 2));
    let first = first.unwrap_or_else(|| unreachable!());
    assert_eq!(
        first.members,
        vec![replica(0, F), replica(1, F), replica(2, F)]
    );
    // A second group loads host 3, so host 4 is the least-loaded free host.
    created(&mut state, 0, 2, spec("Other", 0));

    let events = fail(&mut state, 0, F);
    let second = GroupView {
        view_id: 2,
        members: vec![replica(1, F), replica(2, F), replica(4, F)],
        joining: vec![replica(4, F)],
        ..first.clone()
    };
    assert_eq!(views(&events), vec![second.clone()]);
    assert_eq!(
        second.members[0],
        replica(1, F),
        "the next survivor is the sequencer"
    );

    // A recruited replica whose host fails is handled the same way; with no
    // free host left the group shrinks.
    let mut events = fail(&mut state, 4, F);
    assert_eq!(
        views(&events),
        vec![GroupView {
            view_id: 3,
            members: vec![replica(1, F), replica(2, F), replica(3, F)],
            joining: vec![replica(3, F)],
            ..first.clone()
        },]
    );
    // Failing a third host would leave two of five: refused, nothing changes.
    events = fail(&mut state, 1, F);
    assert_eq!(events, vec![]);

    // A rejoined host tops an under-replicated group up.
    let mut state = ClusterState::new(&hosts(3));
    let (_, g) = created(&mut state, 0, 1, spec("Db", 2));
    let g = g.unwrap_or_else(|| unreachable!());
    let events = fail(&mut state, 2, F);
    assert_eq!(
        views(&events)[0].members,
        vec![replica(0, F), replica(1, F)]
    );
    let mut events = Vec::new();
    state.apply(
        &Decision::HostJoined {
            host: HostId(2),
            incarnation: Incarnation(2),
        },
        &mut events,
    );
    assert_eq!(
        views(&events),
        vec![GroupView {
            view_id: 3,
            members: vec![replica(0, F), replica(1, F), replica(2, Incarnation(2))],
            joining: vec![replica(2, Incarnation(2))],
            ..g
        }]
    );
}

#[test]
fn a_group_whose_every_member_failed_is_marked_failed() {
    let mut state = ClusterState::new(&hosts(5));
    let (_, v) = created(&mut state, 0, 1, spec("Single", 0));
    let v = v.unwrap_or_else(|| unreachable!());
    assert_eq!(v.members, vec![replica(0, F)]);
    let events = fail(&mut state, 0, F);
    assert_eq!(
        views(&events),
        vec![GroupView {
            view_id: 2,
            members: vec![],
            joining: vec![],
            failed: true,
            ..v
        }]
    );
    // A failed group never changes again.
    assert_eq!(views(&fail(&mut state, 1, F)), vec![]);
}

fn state_held(state: &mut ClusterState, group: GroupId, host: u32) -> Vec<ApplyEvent> {
    let mut events = Vec::new();
    state.apply(
        &Decision::StateHeld {
            group,
            replica: replica(host, F),
        },
        &mut events,
    );
    events
}

#[test]
fn a_group_whose_state_holders_all_failed_is_marked_failed_though_a_recruit_survives() {
    let mut state = ClusterState::new(&hosts(5));
    let (_, v) = created(&mut state, 0, 1, spec("Db", 1));
    let v = v.unwrap_or_else(|| unreachable!());
    assert_eq!(v.members, vec![replica(0, F), replica(1, F)]);
    // Every member of the first view holds the (initial) state.
    assert!(state.holds_state(v.group, replica(0, F)) && state.holds_state(v.group, replica(1, F)));
    let events = fail(&mut state, 1, F);
    assert_eq!(
        views(&events)[0].members,
        vec![replica(0, F), replica(2, F)],
        "host 2 is recruited"
    );
    assert!(!state.holds_state(v.group, replica(2, F)));
    // The only state holder fails before the recruit's transfer is known to be
    // complete: the group is failed, the surviving recruit notwithstanding.
    let events = fail(&mut state, 0, F);
    assert_eq!(
        views(&events),
        vec![GroupView {
            view_id: 3,
            members: vec![],
            joining: vec![],
            failed: true,
            ..v.clone()
        }]
    );
    // A late report for a failed group changes nothing.
    assert_eq!(state_held(&mut state, v.group, 2), vec![]);
    assert!(!state.holds_state(v.group, replica(2, F)));
}

#[test]
fn a_recruit_whose_transfer_completed_carries_the_group_on() {
    let mut state = ClusterState::new(&hosts(5));
    let (_, v) = created(&mut state, 0, 1, spec("Db", 1));
    let v = v.unwrap_or_else(|| unreachable!());
    fail(&mut state, 1, F);
    // A report from a non-member is ignored; the recruit's own is recorded, and
    // applying it emits nothing (the view does not change).
    assert_eq!(state_held(&mut state, v.group, 3), vec![]);
    assert!(!state.holds_state(v.group, replica(3, F)));
    assert_eq!(state_held(&mut state, v.group, 2), vec![]);
    assert!(state.holds_state(v.group, replica(2, F)));
    let events = fail(&mut state, 0, F);
    assert_eq!(
        views(&events),
        vec![GroupView {
            view_id: 3,
            members: vec![replica(2, F), replica(3, F)],
            joining: vec![replica(3, F)],
            ..v
        }]
    );
    // The failed holder is forgotten; the new recruit is not a holder yet.
    assert!(!state.holds_state(v.group, replica(0, F)));
    assert!(!state.holds_state(v.group, replica(3, F)));
}

#[test]
fn only_the_replica_itself_reports_that_it_holds_the_state() {
    let (mut leader, now) = elect_first(3);
    let group = GroupId(1);
    let before = leader.last_index();
    // Host 2 cannot speak for host 1's replica.
    deliver(
        &mut leader,
        2,
        F,
        VsMessage::Propose {
            decision: Decision::StateHeld {
                group,
                replica: replica(1, F),
            },
        },
        now,
    );
    assert_eq!(leader.last_index(), before);
    let own = Decision::StateHeld {
        group,
        replica: replica(1, F),
    };
    deliver(
        &mut leader,
        1,
        F,
        VsMessage::Propose {
            decision: own.clone(),
        },
        now,
    );
    assert_eq!(leader.last_index(), before + 1);
    // A duplicate while it is uncommitted is not appended again.
    deliver(&mut leader, 1, F, VsMessage::Propose { decision: own }, now);
    assert_eq!(leader.last_index(), before + 1);
}

#[test]
fn a_new_incarnation_replaces_the_old_one_in_its_groups() {
    let mut state = ClusterState::new(&hosts(3));
    let (_, v) = created(&mut state, 0, 1, spec("Db", 1));
    let v = v.unwrap_or_else(|| unreachable!());
    let mut events = Vec::new();
    state.apply(
        &Decision::HostJoined {
            host: HostId(0),
            incarnation: Incarnation(2),
        },
        &mut events,
    );
    // The old replica leaves; the new incarnation is a free host like any other
    // (least loaded, lowest id), recruited with a state transfer.
    assert_eq!(
        views(&events),
        vec![GroupView {
            view_id: 2,
            members: vec![replica(1, F), replica(0, Incarnation(2))],
            joining: vec![replica(0, Incarnation(2))],
            ..v
        }]
    );
    assert_eq!(state.voters[&HostId(0)], Incarnation(2));
    // An older or equal incarnation is ignored.
    let mut events = Vec::new();
    state.apply(
        &Decision::HostJoined {
            host: HostId(0),
            incarnation: Incarnation(1),
        },
        &mut events,
    );
    assert_eq!(events, vec![]);
}

/// A random protocol message with extreme numbers.
fn random_message(rng: &mut ChaCha8Rng) -> VsMessage {
    let number = |rng: &mut ChaCha8Rng| match rng.random_range(0..4) {
        0 => 0,
        1 => rng.random_range(0..5),
        2 => u64::MAX - rng.random_range(0..2),
        _ => rng.random(),
    };
    let entries = (0..rng.random_range(0..3))
        .map(|_| LogEntry {
            term: number(rng),
            decision: Decision::HostJoined {
                host: HostId(rng.random_range(0..4)),
                incarnation: Incarnation(number(rng)),
            },
        })
        .collect::<Vec<_>>();
    match rng.random_range(0..9) {
        0 => VsMessage::RequestVote {
            term: number(rng),
            last_index: number(rng),
            last_term: number(rng),
            commit_index: number(rng),
            commit_term: number(rng),
            recovery: rng.random(),
        },
        1 => vote(number(rng), rng.random(), Incarnation(number(rng))),
        2 => VsMessage::Append {
            term: number(rng),
            prev_index: number(rng),
            prev_term: number(rng),
            entries,
            commit_index: number(rng),
        },
        3 => VsMessage::AppendReply {
            term: number(rng),
            success: rng.random(),
            match_index: number(rng),
            voter: Incarnation(number(rng)),
        },
        4 => VsMessage::Propose {
            decision: Decision::HostFailed {
                host: HostId(rng.random_range(0..4)),
                incarnation: Incarnation(number(rng)),
            },
        },
        5 => VsMessage::Shunned {
            incarnation: Incarnation(number(rng)),
        },
        6 => VsMessage::CatchUpRequest {
            standing: [Standing::Joined, Standing::StoodIn, Standing::Fresh]
                [rng.random_range(0..3)],
            commit_index: number(rng),
        },
        7 => VsMessage::CatchUp {
            prev_index: number(rng),
            prev_term: number(rng),
            entries,
            commit_index: number(rng),
        },
        _ => VsMessage::Snapshot {
            term: number(rng),
            from_leader: rng.random(),
            last_index: number(rng),
            last_term: number(rng),
            state: VsSnapshot(Box::new(ClusterState::new(&hosts(3)))),
        },
    }
}

#[test]
fn arbitrary_messages_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for round in 0..200 {
        let (mut leader, now) = elect_first(3);
        let mut follower = participant(1, F, 3);
        deliver(
            &mut follower,
            0,
            F,
            append(0, 0, vec![entry(Decision::Noop)], 1),
            now,
        );
        for _ in 0..50 {
            let from = rng.random_range(0..4);
            let incarnation = Incarnation(rng.random_range(0..3));
            let target = if round % 2 == 0 {
                &mut leader
            } else {
                &mut follower
            };
            let mut out = Vec::new();
            target.on_message(
                now + 1,
                HostId(from),
                incarnation,
                random_message(&mut rng),
                &mut out,
            );
            target.on_timer(now + 2, tick(), &mut out);
            assert!(target.commit_index <= target.last_index());
            assert!(target.applied_index <= target.commit_index);
        }
    }
}

#[test]
fn an_excluded_participant_rejoins_with_its_memory_and_keeps_its_vote() {
    const NEXT: Incarnation = Incarnation(2);
    let (mut a, now) = elect_first(3);
    let mut c = participant(2, F, 3);
    deliver(
        &mut c,
        0,
        F,
        append(0, 0, vec![entry(Decision::Noop)], 0),
        now,
    );
    deliver(&mut a, 1, F, ack(1), now);
    let now = suspect_unanswered(&mut a, 2, now);
    deliver(&mut a, 1, F, ack(2), now);
    let failed = entry(Decision::HostFailed {
        host: HostId(2),
        incarnation: F,
    });
    let out = deliver(&mut c, 0, F, append(1, 1, vec![failed], 2), now);
    assert!(out.contains(&VsOutput::Excluded));

    // The host core answers with a new incarnation: the participant asks to join.
    let mut out = Vec::new();
    c.rejoin(now + 1, NEXT, &mut out);
    let join = Decision::HostJoined {
        host: HostId(2),
        incarnation: NEXT,
    };
    assert_eq!(
        without_timers(out),
        vec![send(
            0,
            VsMessage::Propose {
                decision: join.clone()
            }
        )]
    );
    assert!(!c.is_admitted());
    assert_eq!((c.voter, c.commit_index, c.last_index()), (F, 2, 2));

    // Its memory is intact: it still votes, and its vote counts, as identity F.
    let request = VsMessage::RequestVote {
        term: 2,
        last_index: 2,
        last_term: 1,
        commit_index: 2,
        commit_term: 1,
        recovery: false,
    };
    let out = deliver(&mut c, 1, F, request, now + 2);
    assert_eq!(without_timers(out), vec![send(1, vote(2, true, F))]);
    assert!(a.counts(HostId(2), NEXT, F));
    assert!(!a.counts(HostId(2), F, NEXT));

    // Once its join is committed and applied, it votes as the new incarnation.
    let out = deliver(
        &mut a,
        2,
        NEXT,
        VsMessage::Propose {
            decision: join.clone(),
        },
        now + 2,
    );
    assert!(!out.is_empty());
    deliver(&mut a, 1, F, ack(3), now + 2);
    assert_eq!(a.commit_index, 3);
    // (It voted in term 2: the entry reaches it from host 1, leading term 2.)
    let from_new_leader = VsMessage::Append {
        term: 2,
        prev_index: 2,
        prev_term: 1,
        entries: vec![entry(join)],
        commit_index: 3,
    };
    deliver(&mut c, 1, F, from_new_leader, now + 3);
    assert_eq!(c.voter, NEXT);
    assert!(c.is_admitted());
}

#[test]
fn a_participant_learns_committed_entries_without_a_leader() {
    // Host 1 holds a committed creation; host 2 restarted and knows nothing.
    let (mut a, mut b, now) = leader_and_follower();
    let mut out = Vec::new();
    a.start_server(now, 1, spec("Log", 0), Scope::Cluster, &mut out);
    let create = entry(Decision::CreateGroup {
        starter: Starter::Client {
            origin: replica(0, F),
            token: 1,
        },
        spec: spec("Log", 0),
        scope: Scope::Cluster,
    });
    deliver(&mut b, 0, F, append(1, 1, vec![create.clone()], 2), now);
    assert_eq!(b.commit_index, 2);

    // With no leader around, the restarted host's election timer asks everybody.
    let mut c = participant(2, Incarnation(4), 3);
    let (t, out) = time_out(&mut c);
    let request = VsMessage::CatchUpRequest {
        commit_index: 0,
        standing: Standing::Fresh,
    };
    assert_eq!(
        without_timers(out),
        vec![send(0, request.clone()), send(1, request.clone())]
    );
    let answer = VsMessage::CatchUp {
        prev_index: 0,
        prev_term: 0,
        entries: vec![entry(Decision::Noop), create],
        commit_index: 2,
    };
    assert_eq!(
        deliver(&mut b, 2, Incarnation(4), request, t),
        vec![send(2, answer.clone())]
    );
    let out = deliver(&mut c, 1, F, answer, t);
    assert!(
        matches!(out.as_slice(), [VsOutput::View(v)] if v.group == GroupId(1) && v.view_id == 1)
    );
    assert_eq!((c.commit_index, c.last_index()), (2, 2));
    // It still does not vote: its join is not committed.
    assert!(!c.counts_self());
}

/// Commits `count` server creations (origin host 0) on a leader elected by
/// host 1's vote, host 1 acknowledging everything.
fn commit_creations(leader: &mut ViewService, now: Micros, tokens: std::ops::Range<u64>) {
    for token in tokens {
        let mut out = Vec::new();
        assert!(leader.propose(
            replica(0, F),
            Decision::CreateGroup {
                starter: Starter::Client {
                    origin: replica(0, F),
                    token,
                },
                spec: spec("C", 0),
                scope: Scope::Cluster,
            },
        ));
        leader.replicate_new_entries(&mut out);
        let last = leader.last_index();
        deliver(leader, 1, F, ack(last), now);
        assert_eq!(leader.commit_index, last);
    }
}

#[test]
fn the_log_is_compacted_behind_checkpoints() {
    let (mut leader, now) = elect_first(3);
    leader.compact_every = 4;
    commit_creations(&mut leader, now, 1..20);
    // 20 entries (the Noop and 19 creations): checkpoints at 4, 8, 12, 16, 20;
    // the log is compacted up to the one before the newest.
    assert_eq!(leader.last_index(), 20);
    assert_eq!((leader.log_base, leader.base_term), (16, 1));
    assert_eq!(leader.log.len(), 4);
    assert_eq!(leader.checkpoint.as_ref().map(|c| c.index), Some(20));
    // The base state is the state after entry 16: 15 groups created.
    assert_eq!(leader.base_state.next_group_id, 16);
    assert_eq!(leader.state.next_group_id, 20);
    // The compacted prefix is still known by its last entry's term only.
    assert_eq!(leader.term_at(16), Some(1));
    assert_eq!(leader.term_at(15), None);
}

#[test]
fn a_lagging_follower_gets_the_state_then_the_entries_after_it() {
    let (mut leader, now) = elect_first(3);
    leader.compact_every = 4;
    commit_creations(&mut leader, now, 1..20);
    // Host 2 never heard anything: it needs entry 1, long compacted.
    let mut follower = participant(2, F, 3);
    let mut out = Vec::new();
    leader.send_append(HostId(2), &mut out);
    let [VsOutput::Send { to, msg }] = &out[..] else {
        panic!("one message: {out:?}");
    };
    assert_eq!(*to, HostId(2));
    assert!(matches!(
        msg,
        VsMessage::Snapshot {
            term: 1,
            from_leader: true,
            last_index: 16,
            last_term: 1,
            ..
        }
    ));
    let got = deliver(&mut follower, 0, F, msg.clone(), now);
    // It learns the newest view of every group of the snapshot and answers
    // like an append.
    let views: Vec<GroupId> = got
        .iter()
        .filter_map(|o| match o {
            VsOutput::View(v) => Some(v.group),
            _ => None,
        })
        .collect();
    assert_eq!(views, (1..16).map(GroupId).collect::<Vec<_>>());
    let reply = got
        .iter()
        .find_map(|o| match o {
            VsOutput::Send { msg, .. } => Some(msg.clone()),
            _ => None,
        })
        .expect("a reply");
    assert_eq!(
        reply,
        VsMessage::AppendReply {
            term: 1,
            success: true,
            match_index: 16,
            voter: F,
        }
    );
    assert_eq!((follower.log_base, follower.commit_index), (16, 16));
    assert_eq!(follower.state, leader.base_state);
    // The leader goes on with the entries after the snapshot.
    let out = deliver(&mut leader, 2, F, reply, now);
    let append = out
        .iter()
        .find_map(|o| match o {
            VsOutput::Send { to, msg } if *to == HostId(2) => Some(msg.clone()),
            _ => None,
        })
        .expect("the entries after the snapshot");
    assert!(matches!(
        &append,
        VsMessage::Append { prev_index: 16, entries, commit_index: 20, .. } if entries.len() == 4
    ));
    deliver(&mut follower, 0, F, append, now);
    assert_eq!(follower.commit_index, 20);
    assert_eq!(follower.state, leader.state);
}

#[test]
fn without_a_leader_a_catch_up_request_behind_the_compacted_prefix_gets_the_state() {
    let (mut leader, now) = elect_first(3);
    leader.compact_every = 4;
    commit_creations(&mut leader, now, 1..20);
    let mut behind = participant(2, F, 3);
    let out = deliver(
        &mut leader,
        2,
        F,
        VsMessage::CatchUpRequest {
            commit_index: 0,
            standing: Standing::Joined,
        },
        now,
    );
    let [VsOutput::Send { msg, .. }] = &out[..] else {
        panic!("one message: {out:?}");
    };
    assert!(matches!(
        msg,
        VsMessage::Snapshot {
            from_leader: false,
            last_index: 16,
            ..
        }
    ));
    let out = deliver(&mut behind, 0, F, msg.clone(), now);
    // It does not follow the sender as a leader; it asks for what follows.
    assert_eq!(behind.leader, None);
    assert!(out.contains(&send(
        0,
        VsMessage::CatchUpRequest {
            commit_index: 16,
            standing: Standing::Joined
        }
    )));
    let out = deliver(
        &mut leader,
        2,
        F,
        VsMessage::CatchUpRequest {
            commit_index: 16,
            standing: Standing::Joined,
        },
        now,
    );
    let [VsOutput::Send { msg, .. }] = &out[..] else {
        panic!("one message: {out:?}");
    };
    deliver(&mut behind, 0, F, msg.clone(), now);
    assert_eq!(behind.commit_index, 20);
    assert_eq!(behind.state, leader.state);
    // A snapshot older than what it committed changes nothing.
    let stale = VsMessage::Snapshot {
        term: 1,
        from_leader: false,
        last_index: 8,
        last_term: 1,
        state: VsSnapshot(Box::new(ClusterState::new(&hosts(3)))),
    };
    let out = deliver(&mut behind, 0, F, stale, now);
    assert!(!out.iter().any(|o| matches!(o, VsOutput::View(_))));
    assert_eq!(behind.state, leader.state);
}

#[test]
fn the_log_goes_on_past_log_entries_max_with_a_bounded_memory() {
    let (mut leader, now) = elect_first(3);
    let total = LOG_ENTRIES_MAX + 5_000;
    while leader.last_index() < total {
        for _ in 0..500 {
            leader.log.push(entry(Decision::Noop));
        }
        let last = leader.last_index();
        deliver(&mut leader, 1, F, ack(last), now);
        assert_eq!(leader.commit_index, last);
        assert!(leader.log.len() as u64 <= 2 * COMPACT_EVERY + 500);
    }
    assert!(leader.log_base >= total - 2 * COMPACT_EVERY);
    // Still deciding.
    commit_creations(&mut leader, now, 1..2);
    assert_eq!(leader.state.next_group_id, 2);
}

#[test]
fn a_survivor_recovers_with_fresh_participants_standing_in_for_lost_identities() {
    // Hosts 1 and 2 restarted together: only host 0's memory survives.
    let (b_new, c_new) = (Incarnation(5), Incarnation(6));
    let mut a = participant(0, F, 3);
    let mut b = participant(1, b_new, 3);
    let mut c = participant(2, c_new, 3);

    // A plain election fails, and teaches the candidate that both identities are lost.
    let (now, out) = time_out(&mut a);
    let plain = VsMessage::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
        commit_index: 0,
        commit_term: 0,
        recovery: false,
    };
    assert!(without_timers(out).contains(&send(1, plain.clone())));
    let out = deliver(&mut b, 0, F, plain.clone(), now);
    assert_eq!(
        without_timers(out),
        vec![send(0, fresh_vote(1, false, b_new))]
    );
    deliver(&mut a, 1, b_new, fresh_vote(1, false, b_new), now);
    deliver(&mut a, 2, c_new, fresh_vote(1, false, c_new), now);
    assert_eq!(a.role, Role::Candidate);
    assert!(a.needs_recovery());

    // The next election is a recovery election; a fresh participant grants it.
    let (now, out) = time_out(&mut a);
    let recovery = VsMessage::RequestVote {
        term: 2,
        last_index: 0,
        last_term: 0,
        commit_index: 0,
        commit_term: 0,
        recovery: true,
    };
    assert!(without_timers(out).contains(&send(1, recovery.clone())));
    let out = deliver(&mut b, 0, F, recovery.clone(), now);
    assert_eq!(
        without_timers(out),
        vec![send(0, fresh_vote(2, true, b_new))]
    );
    // The same fresh participant votes once per term.
    let out = deliver(&mut b, 2, F, recovery.clone(), now);
    let refusal = VsMessage::Vote {
        term: 2,
        granted: false,
        voter: b_new,
        standing: Standing::StoodIn,
    };
    assert_eq!(without_timers(out), vec![send(2, refusal)]);
    deliver(&mut a, 1, b_new, fresh_vote(2, true, b_new), now);
    // A majority, but host 2 has not said in this term whether it is fresh.
    assert_eq!(a.role, Role::Candidate);
    let out = deliver(&mut c, 0, F, recovery.clone(), now);
    assert_eq!(
        without_timers(out),
        vec![send(0, fresh_vote(2, true, c_new))]
    );
    deliver(&mut a, 2, c_new, fresh_vote(2, true, c_new), now);
    assert_eq!(a.role, Role::Leader);

    // The stand-in's acknowledgement commits the leader's entries, joins first.
    let mut out = Vec::new();
    a.heard_from(now, HostId(1), b_new, &mut out);
    a.heard_from(now, HostId(2), c_new, &mut out);
    let ack = |match_index| VsMessage::AppendReply {
        term: 2,
        success: true,
        match_index,
        voter: b_new,
    };
    let last = a.last_index();
    deliver(&mut a, 1, b_new, ack(last), now);
    assert_eq!(a.commit_index, a.last_index());
    assert_eq!(a.state.voters.get(&HostId(1)), Some(&b_new));
    assert_eq!(a.state.voters.get(&HostId(2)), Some(&c_new));
    assert!(!a.needs_recovery());
    // The joined participant learns it and votes as itself from then on.
    let entries = a.log.clone();
    let catch_up = VsMessage::Append {
        term: 2,
        prev_index: 0,
        prev_term: 0,
        entries,
        commit_index: last,
    };
    deliver(&mut c, 0, F, catch_up, now);
    assert!(c.is_admitted());
    assert_eq!(c.standing(), Standing::Joined);
}

#[test]
fn a_recovery_election_needs_every_host_not_known_lost() {
    // Five hosts: 2, 3 and 4 restarted; 0 and 1 hold the surviving memories.
    let mut a = participant(0, F, 5);
    let (now, _) = time_out(&mut a);
    for h in 2..5 {
        let inc = Incarnation(5 + u64::from(h));
        deliver(&mut a, h, inc, fresh_vote(1, false, inc), now);
    }
    assert!(a.needs_recovery());
    let (now, _) = time_out(&mut a);
    // Two stand-ins make a majority of five, but host 1 (a survivor) has not voted.
    for h in 2..4 {
        let inc = Incarnation(5 + u64::from(h));
        deliver(&mut a, h, inc, fresh_vote(2, true, inc), now);
    }
    assert_eq!(a.role, Role::Candidate);
    // Host 4 said it was fresh in the last term, but it may have stood in
    // since: it must say so again in this one.
    let inc = Incarnation(9);
    deliver(&mut a, 4, inc, fresh_vote(2, false, inc), now);
    assert_eq!(a.role, Role::Candidate);
    // Host 1's refusal (its log is more up to date, say) keeps it so.
    deliver(&mut a, 1, F, vote(2, false, F), now);
    assert_eq!(a.role, Role::Candidate);
    // Its grant elects the candidate.
    deliver(&mut a, 1, F, vote(2, true, F), now);
    assert_eq!(a.role, Role::Leader);
}

#[test]
fn a_participant_holding_a_memory_never_stands_in() {
    // Host 1 was admitted in an earlier life: a fresh vote is never claimed by a
    // participant whose identity is its own.
    let mut b = participant(1, F, 3);
    let recovery = VsMessage::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
        commit_index: 0,
        commit_term: 0,
        recovery: true,
    };
    let out = deliver(&mut b, 0, F, recovery, 10);
    assert_eq!(without_timers(out), vec![send(0, vote(1, true, F))]);
}
