//! The safety checks run after every simulation: (a) linearizability of the
//! client history, (b) prefix agreement of executed sequences, (c) no request
//! executed twice, (d) equal state digests at equal positions, (e) every
//! executed command was submitted; plus liveness and harness-level failures.

use ftc_judge::{check_kv, Operation, Verdict};
use ftc_runtime::types::{ClientId, GroupId, GroupView, Micros, ReplicaId, RequestId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Which property a run violated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// (a) The key-value history is not linearizable.
    Linearizable,
    /// (a) The judge ran out of time: a failure to investigate, never a pass.
    JudgeTimeout,
    /// (b) Two replicas executed different entries at one position, or a replica
    /// executed a position again (its executed sequence is no longer a prefix of the others').
    Prefix,
    /// (b) Hosts disagree on a group's view with one id, or a host installed views out of order.
    Views,
    /// (c) One request executed at two log positions.
    ExecutedOnce,
    /// (d) Two replicas have different states after the same position.
    StateDigest,
    /// (e) A command executed that no client submitted.
    Submitted,
    /// A pending request did not complete in the liveness phase.
    Liveness,
    /// After the heal, the view service cannot decide: a running host is not
    /// admitted, or the running hosts do not follow one leader.
    Wedged,
    /// The workload could not start (e.g. its server never started).
    Setup,
    /// The run hit its event limit.
    EventLimit,
    /// A scenario's own expectation failed.
    Scenario,
}

impl Check {
    /// The letter of the brief's list of checks, or the name of the other failures.
    pub fn label(self) -> &'static str {
        match self {
            Check::Linearizable => "(a) linearizability",
            Check::JudgeTimeout => "(a) judge timeout",
            Check::Prefix => "(b) executed sequences are prefixes",
            Check::Views => "(b) one view per id, installed in order",
            Check::ExecutedOnce => "(c) no request executed twice",
            Check::StateDigest => "(d) equal state digests at equal positions",
            Check::Submitted => "(e) every executed command was submitted",
            Check::Liveness => "liveness",
            Check::Wedged => "view service wedged",
            Check::Setup => "setup",
            Check::EventLimit => "event limit",
            Check::Scenario => "scenario expectation",
        }
    }
}

/// One violated property, with what the check saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub check: Check,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check.label(), self.detail)
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    entry_digest: u64,
    state_digest: u64,
    replica: ReplicaId,
    request: Option<RequestId>,
}

/// Collects `Trace::Executed` and `Trace::Submitted` and checks (b)–(e) as they arrive.
#[derive(Default)]
pub struct ExecutionChecker {
    positions: HashMap<(GroupId, u64), Slot>,
    last_position: HashMap<(GroupId, ReplicaId), u64>,
    request_position: HashMap<(GroupId, RequestId), u64>,
    submitted: HashSet<RequestId>,
    executed_requests: Vec<(Micros, GroupId, ReplicaId, u64, RequestId)>,
    violations: Vec<Violation>,
    /// Per group, how many entries were executed (highest position) and by how many replicas.
    executions: u64,
    /// Per replica: first and last executed position, and how many.
    replicas: BTreeMap<(GroupId, ReplicaId), ReplicaSummary>,
}

/// What one replica executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaSummary {
    pub first: u64,
    pub last: u64,
    pub count: u64,
    /// When it executed its first and last entries.
    pub first_time: Micros,
    pub last_time: Micros,
}

/// Violations kept per run (the first ones tell the story).
const VIOLATIONS_MAX: usize = 20;

impl ExecutionChecker {
    /// A checker that has seen nothing yet.
    pub fn new() -> ExecutionChecker {
        ExecutionChecker::default()
    }

    fn violate(&mut self, check: Check, detail: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(Violation { check, detail });
        }
    }

    /// A client's call was assigned this request id.
    pub fn submitted(&mut self, request: RequestId) {
        self.submitted.insert(request);
    }

    /// A replica executed the entry at `position`.
    #[allow(clippy::too_many_arguments)]
    pub fn executed(
        &mut self,
        time: Micros,
        group: GroupId,
        replica: ReplicaId,
        position: u64,
        request: Option<RequestId>,
        entry_digest: u64,
        state_digest: u64,
    ) {
        self.executions += 1;
        self.replicas
            .entry((group, replica))
            .and_modify(|r| {
                r.last = position;
                r.count += 1;
                r.last_time = time;
            })
            .or_insert(ReplicaSummary {
                first: position,
                last: position,
                count: 1,
                first_time: time,
                last_time: time,
            });
        // (b) a replica's own executed sequence only grows: it may jump forward
        // (a snapshot installed by state transfer) but never executes a position again
        // (that would be a rollback of executed state).
        if let Some(last) = self.last_position.insert((group, replica), position) {
            if position <= last {
                self.violate(
                    Check::Prefix,
                    format!(
                        "t={time}us {group:?} replica {replica:?} executed position {position} again after {last} (rolled back)"
                    ),
                );
            }
        }
        let slot = Slot {
            entry_digest,
            state_digest,
            replica,
            request,
        };
        match self.positions.get(&(group, position)).copied() {
            None => {
                self.positions.insert((group, position), slot);
            }
            Some(first) => {
                // (b) one entry per position across replicas.
                if first.entry_digest != entry_digest || first.request != request {
                    self.violate(
                        Check::Prefix,
                        format!(
                            "t={time}us {group:?} position {position}: replica {:?} executed {:?} (entry {:#x}), replica {replica:?} executed {request:?} (entry {entry_digest:#x})",
                            first.replica, first.request, first.entry_digest
                        ),
                    );
                } else if first.state_digest != state_digest {
                    // (d) equal states after equal prefixes.
                    self.violate(
                        Check::StateDigest,
                        format!(
                            "t={time}us {group:?} position {position}: replica {:?} has state {:#x}, replica {replica:?} has {state_digest:#x}",
                            first.replica, first.state_digest
                        ),
                    );
                }
            }
        }
        if let Some(request) = request {
            // (c) a request has one log position in its group.
            match self.request_position.get(&(group, request)) {
                None => {
                    self.request_position.insert((group, request), position);
                }
                Some(&p) if p != position => self.violate(
                    Check::ExecutedOnce,
                    format!(
                        "t={time}us {group:?} request {request:?} executed at positions {p} and {position} (replica {replica:?})"
                    ),
                ),
                Some(_) => {}
            }
            self.executed_requests
                .push((time, group, replica, position, request));
        }
    }

    /// Entries executed by any replica (all replicas counted).
    pub fn executions(&self) -> u64 {
        self.executions
    }

    /// What each replica of each group executed.
    pub fn replicas(&self) -> &BTreeMap<(GroupId, ReplicaId), ReplicaSummary> {
        &self.replicas
    }

    /// The highest executed position per group.
    pub fn log_lengths(&self) -> BTreeMap<GroupId, u64> {
        let mut lengths = BTreeMap::new();
        for (group, position) in self.positions.keys() {
            let e = lengths.entry(*group).or_insert(0);
            *e = (*e).max(*position);
        }
        lengths
    }

    /// Finishes (b) and (e) and returns every violation found.
    pub fn finish(mut self) -> Vec<Violation> {
        // (b) the group's log has no hole: every position up to the highest was
        // executed somewhere (a recruit's snapshot covers positions its donor executed).
        let mut groups: BTreeMap<GroupId, Vec<u64>> = BTreeMap::new();
        for (group, position) in self.positions.keys() {
            groups.entry(*group).or_default().push(*position);
        }
        for (group, mut positions) in groups {
            positions.sort_unstable();
            if let Some(hole) = positions
                .iter()
                .enumerate()
                .find(|(i, p)| **p != *i as u64 + 1)
                .map(|(i, _)| i as u64 + 1)
            {
                self.violate(
                    Check::Prefix,
                    format!(
                        "{group:?}: no replica executed position {hole}, later ones were executed"
                    ),
                );
            }
        }
        let executed = std::mem::take(&mut self.executed_requests);
        for (time, group, replica, position, request) in executed {
            // Nested calls are issued by a group, not by a client: not in the submitted set.
            let from_client = matches!(request.client, ClientId::Host { .. });
            if from_client && !self.submitted.contains(&request) {
                self.violate(
                    Check::Submitted,
                    format!(
                        "t={time}us {group:?} replica {replica:?} executed {request:?} at position {position}, never submitted"
                    ),
                );
                break;
            }
        }
        self.violations
    }
}

/// (b) A view a host installed, against the view other hosts installed under the
/// same id (`known`) and the newest view id this host life installed before (`newest`).
pub fn check_view(
    time: Micros,
    host: usize,
    view: &GroupView,
    known: Option<&GroupView>,
    newest: Option<u64>,
) -> Option<Violation> {
    let (group, id) = (view.group, view.view_id);
    if let Some(known) = known.filter(|k| *k != view) {
        return Some(Violation {
            check: Check::Views,
            detail: format!(
                "t={time}us host {host} installed {group:?} view {id} {:?}, another host installed {:?}",
                view.members, known.members
            ),
        });
    }
    match newest {
        Some(newest) if id <= newest => Some(Violation {
            check: Check::Views,
            detail: format!(
                "t={time}us host {host} installed {group:?} view {id} after view {newest}"
            ),
        }),
        _ => None,
    }
}

/// How long the judge may think about one key.
pub const JUDGE_BUDGET: Duration = Duration::from_secs(20);

/// (a) Judges a key-value history; a timeout is a violation too.
pub fn check_linearizable(history: &[Operation]) -> Option<Violation> {
    match check_kv(history, JUDGE_BUDGET) {
        Verdict::Linearizable => None,
        Verdict::NotLinearizable { key } => Some(Violation {
            check: Check::Linearizable,
            detail: format!(
                "key {key:?} is not linearizable ({} operations)",
                history.len()
            ),
        }),
        Verdict::Timeout { key } => Some(Violation {
            check: Check::JudgeTimeout,
            detail: format!(
                "the judge ran out of its {JUDGE_BUDGET:?} budget on key {key:?} ({} operations)",
                history.len()
            ),
        }),
    }
}
