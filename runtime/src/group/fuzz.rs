//! A seeded randomized check of the group engine: lossy, duplicating, reordering
//! network; sequencer crashes, stale partitioned sequencers and recruits; a test
//! oracle stands in for the view service. Checks prefix agreement, one position
//! per request, equal digests, consistent replies, then liveness. Odd seeds run
//! the replicas batching (`Replica::set_batching`), flushed at random points.

use super::tests::{config_for, counter, view_of};
use super::*;
use crate::host::Trace;
use crate::types::{GroupView, HostId, Incarnation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

const RETRY_US: Micros = 1_000;

fn id(host: u32) -> ReplicaId {
    ReplicaId {
        host: HostId(host),
        incarnation: Incarnation(1),
    }
}

struct Fuzz {
    rng: ChaCha8Rng,
    now: Micros,
    replicas: BTreeMap<u32, Replica>,
    /// Replicas that crashed: they take no more inputs.
    crashed: BTreeSet<u32>,
    view: GroupView,
    next_host: u32,
    network: Vec<(u32, u32, GroupMessage)>,
    /// position → (entry digest, state digest) of the first replica executing it.
    positions: BTreeMap<u64, (u64, u64, u32)>,
    executed_at: BTreeMap<u32, u64>,
    request_position: BTreeMap<RequestId, u64>,
    /// Per client: the outstanding request number and when it was last sent.
    clients: Vec<(u64, Micros)>,
    answers: BTreeMap<RequestId, Vec<u8>>,
    faults: bool,
    /// Replicas batch their sends until a flush (see `Fuzz::flush`).
    batching: bool,
    #[cfg(feature = "planted-bugs")]
    bugs: crate::host::PlantedBugs,
}

impl Fuzz {
    fn new(seed: u64, size: u32, clients: usize) -> Fuzz {
        let members: Vec<u32> = (0..size).collect();
        let first = view_of(1, &members, &members);
        let mut fuzz = Fuzz {
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 0,
            replicas: BTreeMap::new(),
            crashed: BTreeSet::new(),
            view: first.clone(),
            next_host: size,
            network: Vec::new(),
            positions: BTreeMap::new(),
            executed_at: BTreeMap::new(),
            request_position: BTreeMap::new(),
            clients: vec![(1, 0); clients],
            answers: BTreeMap::new(),
            faults: true,
            batching: seed % 2 == 1,
            #[cfg(feature = "planted-bugs")]
            bugs: Default::default(),
        };
        for h in 0..size {
            let mut out = Vec::new();
            let r = Replica::new(
                0,
                config_for(h, RETRY_US),
                counter(),
                first.clone(),
                true,
                &mut out,
            );
            fuzz.replicas.insert(h, r);
            fuzz.absorb(h, out);
            fuzz.set_batching(h);
        }
        fuzz
    }

    fn config(&self, host: u32) -> ReplicaConfig {
        #[allow(unused_mut)]
        let mut config = config_for(host, RETRY_US);
        #[cfg(feature = "planted-bugs")]
        {
            config.bugs = self.bugs.clone();
        }
        config
    }

    fn client_id(c: usize) -> ClientId {
        ClientId::Host {
            host: HostId(1000),
            incarnation: Incarnation(1),
            local: c as u32,
        }
    }

    fn absorb(&mut self, host: u32, out: Vec<GroupOutput>) {
        for o in out {
            match o {
                GroupOutput::Send { to, msg } => self.network.push((host, to.host.0, msg)),
                GroupOutput::Reply {
                    msg:
                        GroupMessage::Reply {
                            request, payload, ..
                        },
                    ..
                } => {
                    // Every reply anybody sends must agree with every other for the request.
                    if let Some(earlier) = self.answers.get(&request) {
                        assert_eq!(earlier, &payload, "two different replies for {request:?}");
                    }
                    self.answers.insert(request, payload);
                }
                GroupOutput::Trace(Trace::Executed {
                    position,
                    request,
                    entry_digest,
                    state_digest,
                    ..
                }) => {
                    let last = self.executed_at.entry(host).or_insert(0);
                    assert!(
                        position > *last,
                        "replica {host} executed position {position} again"
                    );
                    *last = position;
                    match self.positions.get(&position) {
                        Some(first) => assert_eq!(
                            (first.0, first.1),
                            (entry_digest, state_digest),
                            "position {position}: replica {host} differs from replica {}",
                            first.2
                        ),
                        None => {
                            self.positions
                                .insert(position, (entry_digest, state_digest, host));
                        }
                    }
                    if let Some(request) = request {
                        let at = *self.request_position.entry(request).or_insert(position);
                        assert_eq!(at, position, "{request:?} executed at two positions");
                    }
                }
                _ => {}
            }
        }
    }

    fn set_batching(&mut self, h: u32) {
        let mut out = Vec::new();
        if let Some(r) = self.replicas.get_mut(&h) {
            r.set_batching(self.batching, self.now, &mut out);
        }
        self.absorb(h, out);
    }

    /// Sends what replica `h` held back while batching.
    fn flush(&mut self, h: u32) {
        if !self.batching || !self.live(h) {
            return;
        }
        let mut out = Vec::new();
        if let Some(r) = self.replicas.get_mut(&h) {
            r.flush(self.now, &mut out);
        }
        self.absorb(h, out);
    }

    fn live(&self, h: u32) -> bool {
        !self.crashed.contains(&h)
    }

    fn step(&mut self) {
        // Deliver a random message (lossy, duplicating, reordering while faults are on).
        if !self.network.is_empty() {
            let i = self.rng.random_range(0..self.network.len());
            let (from, to, msg) = self.network.swap_remove(i);
            if self.faults && self.rng.random_bool(0.05) {
                self.network.push((from, to, msg.clone()));
            }
            if !(self.faults && self.rng.random_bool(0.1)) && self.live(to) {
                let mut out = Vec::new();
                if let Some(r) = self.replicas.get_mut(&to) {
                    r.on_message(self.now, id(from), msg, &mut out);
                }
                self.absorb(to, out);
                // A round of the kernel ends after one input or after several.
                // (Only batching runs draw, so the other runs stay as they were.)
                if self.batching && self.rng.random_bool(0.3) {
                    self.flush(to);
                }
            }
        }
        // Time passes.
        if self.rng.random_bool(0.1) {
            self.now += RETRY_US / 4;
            let hosts: Vec<u32> = self
                .replicas
                .keys()
                .copied()
                .filter(|h| self.live(*h))
                .collect();
            for h in hosts {
                self.flush(h);
                let mut out = Vec::new();
                if let Some(r) = self.replicas.get_mut(&h) {
                    r.on_tick(self.now, &mut out);
                }
                self.absorb(h, out);
                self.flush(h);
            }
            self.send_client_requests();
        }
        if self.faults && self.rng.random_bool(0.002) {
            self.change_view();
        }
    }

    fn send_client_requests(&mut self) {
        let sequencer = self.view.members[0].host.0;
        for c in 0..self.clients.len() {
            let (seq, last) = self.clients[c];
            let request = RequestId {
                client: Fuzz::client_id(c),
                seq,
            };
            if self.answers.contains_key(&request) {
                self.clients[c] = (seq + 1, 0);
                continue;
            }
            if seq > 1 && self.rng.random_bool(0.02) {
                // A late copy of an earlier, answered request.
                let old = self.rng.random_range(seq.saturating_sub(5).max(1)..seq);
                let request = RequestId {
                    client: Fuzz::client_id(c),
                    seq: old,
                };
                let msg = GroupMessage::Request {
                    group: GroupId(1),
                    request,
                    payload: b"inc".to_vec(),
                    low_water: old,
                };
                self.network.push((1000, sequencer, msg));
            }
            if self.now >= last + RETRY_US {
                self.clients[c].1 = self.now;
                let msg = GroupMessage::Request {
                    group: GroupId(1),
                    request,
                    payload: b"inc".to_vec(),
                    low_water: seq,
                };
                // Sometimes a stale client still talks to an old sequencer.
                let to = if self.rng.random_bool(0.2) {
                    self.rng.random_range(0..self.next_host)
                } else {
                    sequencer
                };
                self.network.push((1000, to, msg));
            }
        }
    }

    /// The oracle's view service: when the current view is normal everywhere, remove
    /// one member (crashed, or left running with its stale view) and recruit one.
    fn change_view(&mut self) {
        let settled = self.view.members.iter().all(|m| {
            self.replicas.get(&m.host.0).is_some_and(|r| {
                r.view().view_id == self.view.view_id && r.status() == ReplicaStatus::Normal
            })
        });
        if !settled {
            return;
        }
        let members: Vec<u32> = self.view.members.iter().map(|m| m.host.0).collect();
        let leaving = members[self.rng.random_range(0..members.len())];
        if self.rng.random_bool(0.5) {
            self.crashed.insert(leaving);
        } // else: partitioned away, it never learns the new view.
        let recruit = self.next_host;
        self.next_host += 1;
        let mut next: Vec<u32> = members.into_iter().filter(|h| *h != leaving).collect();
        next.push(recruit);
        let view = view_of(self.view.view_id + 1, &next, &[recruit]);
        self.view = view.clone();
        let mut out = Vec::new();
        let r = Replica::new(
            self.now,
            self.config(recruit),
            counter(),
            view.clone(),
            false,
            &mut out,
        );
        self.replicas.insert(recruit, r);
        self.absorb(recruit, out);
        self.set_batching(recruit);
        for h in next {
            if h == recruit {
                continue;
            }
            let mut out = Vec::new();
            if let Some(r) = self.replicas.get_mut(&h) {
                r.on_view(self.now, view.clone(), &mut out);
            }
            self.absorb(h, out);
        }
    }
}

/// One run: faults, then the liveness phase; panics on any violation.
fn run(seed: u64, #[cfg(feature = "planted-bugs")] bugs: crate::host::PlantedBugs) -> Fuzz {
    let mut fuzz = Fuzz::new(seed, 3, 3);
    #[cfg(feature = "planted-bugs")]
    {
        fuzz.bugs = bugs;
        for r in fuzz.replicas.values_mut() {
            r.set_bugs(fuzz.bugs.clone());
        }
    }
    for _ in 0..30_000 {
        fuzz.step();
    }
    // Liveness: no more faults; every client's pending request completes.
    fuzz.faults = false;
    let pending: Vec<RequestId> = (0..fuzz.clients.len())
        .map(|c| RequestId {
            client: Fuzz::client_id(c),
            seq: fuzz.clients[c].0,
        })
        .collect();
    let mut steps = 0;
    while !pending.iter().all(|r| fuzz.answers.contains_key(r)) {
        fuzz.step();
        steps += 1;
        assert!(
            steps < 200_000,
            "seed {seed}: requests {pending:?} never completed"
        );
    }
    // Every "inc" answered its own counter value: replies are distinct.
    let values: BTreeSet<&Vec<u8>> = fuzz.answers.values().collect();
    assert_eq!(
        values.len(),
        fuzz.answers.len(),
        "seed {seed}: two requests got the same value"
    );
    fuzz
}

#[test]
fn randomized_runs_keep_agreement_and_finish() {
    for seed in 0..40 {
        let fuzz = run(
            seed,
            #[cfg(feature = "planted-bugs")]
            Default::default(),
        );
        assert!(
            fuzz.answers.len() > 10,
            "seed {seed}: too little progress ({})",
            fuzz.answers.len()
        );
    }
}

#[cfg(feature = "planted-bugs")]
#[test]
fn randomized_runs_catch_every_planted_bug() {
    use crate::host::PlantedBugs;
    let bugs = [
        PlantedBugs {
            reply_before_all_hold: true,
            ..Default::default()
        },
        PlantedBugs {
            no_duplicate_suppression: true,
            ..Default::default()
        },
        PlantedBugs {
            view_change_adopts_shorter: true,
            ..Default::default()
        },
        PlantedBugs {
            state_transfer_without_dedup: true,
            ..Default::default()
        },
    ];
    for bug in bugs {
        // Most bugs show within a few seeds; `state_transfer_without_dedup`
        // needs a late copy of an answered request to reach a recruit that
        // became sequencer, which only 4 of the first 300 seeds produce
        // (38, 55, 239, 256): the range is wide so that a schedule change
        // does not blind the check (the scripted engine test and the
        // simulator's planted-bug test catch that bug directly).
        let caught = (0..300).any(|seed| {
            let bug = bug.clone();
            std::panic::catch_unwind(move || run(seed, bug)).is_err()
        });
        assert!(caught, "{bug:?} went unnoticed");
    }
}

/// Garbage from anybody (members, the sequencer, strangers; wild positions and
/// views) never panics a replica and never breaks its invariants.
#[test]
fn garbage_messages_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let wild = |rng: &mut ChaCha8Rng| match rng.random_range(0..4) {
        0 => 0,
        1 => rng.random_range(0..5),
        2 => u64::MAX - rng.random_range(0..3),
        _ => rng.random(),
    };
    for round in 0..200 {
        let members: Vec<u32> = (0..3).collect();
        let first = view_of(1, &members, &members);
        let mut out = Vec::new();
        let mut replica = Replica::new(
            0,
            config_for(round % 3, RETRY_US),
            counter(),
            first,
            round % 2 == 0,
            &mut out,
        );
        for _ in 0..200 {
            let view_id = if rng.random_bool(0.7) {
                1
            } else {
                wild(&mut rng)
            };
            let entry = LogEntry::Command {
                request: RequestId {
                    client: Fuzz::client_id(0),
                    seq: wild(&mut rng),
                },
                payload: b"inc".to_vec(),
                low_water: wild(&mut rng),
            };
            let entries = vec![entry; rng.random_range(0..3)];
            let state = rng.random_bool(0.5).then(|| ReplicaState {
                position: wild(&mut rng),
                snapshot: (0..rng.random_range(0..20)).map(|_| rng.random()).collect(),
                clients: vec![],
                departed: Default::default(),
                nested_calls: vec![],
                timers: vec![(crate::app::AppTimerId(1), wild(&mut rng))],
            });
            let group = GroupId(1);
            let msg = match rng.random_range(0..8) {
                0 => GroupMessage::Prepare {
                    group,
                    view_id,
                    first_position: wild(&mut rng),
                    entries,
                    commit_position: wild(&mut rng),
                },
                1 => GroupMessage::PrepareOk {
                    group,
                    view_id,
                    position: wild(&mut rng),
                    executed_position: wild(&mut rng),
                },
                2 => GroupMessage::Commit {
                    group,
                    view_id,
                    commit_position: wild(&mut rng),
                },
                3 => GroupMessage::DoViewChange {
                    group,
                    view_id,
                    last_normal_view: rng.random_bool(0.5).then(|| wild(&mut rng)),
                    executed_position: wild(&mut rng),
                    entries,
                    state: state.map(Box::new),
                },
                4 => GroupMessage::StartView {
                    group,
                    view_id,
                    base_position: wild(&mut rng),
                    entries,
                    commit_position: wild(&mut rng),
                    state: state.map(Box::new),
                },
                5 => GroupMessage::StartViewOk {
                    group,
                    view_id,
                    position: wild(&mut rng),
                },
                6 => GroupMessage::Request {
                    group,
                    request: RequestId {
                        client: Fuzz::client_id(1),
                        seq: wild(&mut rng),
                    },
                    payload: b"inc".to_vec(),
                    low_water: wild(&mut rng),
                },
                _ => GroupMessage::ReadyProbe { group },
            };
            let from = id(rng.random_range(0..5));
            out.clear();
            replica.on_message(rng.random_range(0..1_000_000), from, msg, &mut out);
            if rng.random_bool(0.1) {
                replica.on_tick(rng.random_range(0..1_000_000), &mut out);
            }
            if rng.random_bool(0.02) {
                let next = view_of(replica.view().view_id + 1, &[1, 0, 2], &[]);
                replica.on_view(0, next, &mut out);
            }
        }
    }
}
