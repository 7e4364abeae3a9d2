//! Linearizability verdicts from the todc-utils WGL checker, within a budget.
//!
//! # Encoding a history for todc-utils
//! todc-utils takes a sequence of call and response actions, each tagged with
//! a process, and pairs the n-th call of a process with its n-th response.
//! Every operation here gets a process of its own, so the pairing cannot go
//! wrong even when a client issues more operations after one whose outcome
//! is unknown. Events are ordered by time; at equal times calls come first,
//! because intervals are closed (operations touching at one instant overlap).
//!
//! # Operations with unknown outcome (`info`)
//! An `info` operation's response is placed after every other event, and its
//! specification step is always valid (a cas applies only if its comparison
//! holds). It may thus linearize anywhere after its call. "It never took
//! effect" needs no separate case: every observed result comes from an
//! operation that returned before the end, so a linearization that puts the
//! unknown operation last, after all of them, is seen by nobody and is
//! equivalent to leaving it out. An `info` read observed nothing and is
//! dropped; a `fail` operation never took effect and is dropped.
//!
//! # Budget
//! todc-utils has no cancellation and keeps every visited configuration in
//! memory. The checker therefore runs the specification through a wrapper
//! that, once the wall-time deadline passes or the memo table's estimated
//! size exceeds [`CACHE_BYTES_MAX`] (an over-estimate: every valid step is
//! charged as a new entry), refuses every further step. The search
//! then backtracks to the bottom and returns within a bounded number of
//! steps on the calling thread; the result is reported as a timeout. No
//! thread is left running.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use todc_utils::{Action, History, Specification, WGLChecker};

use crate::history::{OpKind, OpStatus, Operation};
use crate::spec::{CasOutcome, KeySpec, KvCall};

/// Upper bound on the estimated memory of the checker's memo table, per key;
/// past it the check reports a timeout.
///
/// ```
/// assert_eq!(ftc_judge::check::CACHE_BYTES_MAX, 2 << 30);
/// ```
pub const CACHE_BYTES_MAX: usize = 2 << 30;

/// The verdict on a whole key-value history.
///
/// ```
/// let verdict = ftc_judge::Verdict::NotLinearizable { key: "x".into() };
/// assert_ne!(verdict, ftc_judge::Verdict::Linearizable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every key's sub-history is linearizable.
    Linearizable,
    /// This key's sub-history is not linearizable.
    NotLinearizable {
        /// The first such key found (keys are searched in order, hard ones
        /// last; others may be violated too).
        key: String,
    },
    /// The checker ran out of budget on this key (and found no violation on
    /// the others).
    Timeout {
        /// The first such key (in key order).
        key: String,
    },
}

/// The verdict on one object's history.
///
/// ```
/// assert_ne!(ftc_judge::Outcome::Timeout, ftc_judge::Outcome::Linearizable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A valid linearization exists.
    Linearizable,
    /// No valid linearization exists.
    NotLinearizable,
    /// The budget ran out before the search ended.
    Timeout,
}

/// One operation with its interval, in the form the checker consumes.
///
/// ```
/// use ftc_judge::spec::RegisterCall;
/// let op = ftc_judge::Timed { call: 0, ret: None, op: RegisterCall::Write { value: 1 } };
/// assert!(op.ret.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed<T> {
    /// Call time.
    pub call: u64,
    /// Return time; `None`: outcome unknown, open until the end.
    pub ret: Option<u64>,
    /// The operation, with its output if known.
    pub op: T,
}

/// Sizes of specification states, for the memo-table bound.
///
/// ```
/// use ftc_judge::check::StateBytes;
/// assert_eq!(Some(String::from("abc")).heap_bytes(), 3);
/// assert_eq!(Some(7u64).heap_bytes(), 0);
/// ```
pub trait StateBytes {
    /// Heap bytes held by this state, beyond its inline size.
    fn heap_bytes(&self) -> usize;
}

impl StateBytes for Option<String> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, String::capacity)
    }
}

impl StateBytes for Option<u64> {
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// The budget of the check running on this thread.
struct Budget {
    deadline: Cell<Option<Instant>>,
    bytes_left: Cell<usize>,
    bytes_per_entry: Cell<usize>,
    spent: Cell<bool>,
    out_of_memory: Cell<bool>,
}

thread_local! {
    static BUDGET: Budget = const {
        Budget {
            deadline: Cell::new(None),
            bytes_left: Cell::new(usize::MAX),
            bytes_per_entry: Cell::new(0),
            spent: Cell::new(false),
            out_of_memory: Cell::new(false),
        }
    };
}

/// A specification that behaves as `S` until this thread's budget is spent,
/// then refuses every step.
struct Budgeted<S>(PhantomData<S>);

impl<S> Specification for Budgeted<S>
where
    S: Specification,
    S::State: StateBytes,
{
    type State = S::State;
    type Operation = S::Operation;

    fn init() -> Self::State {
        S::init()
    }

    fn apply(op: &Self::Operation, state: &Self::State) -> (bool, Self::State) {
        let spent = BUDGET.with(|budget| {
            if !budget.spent.get() && budget.deadline.get().is_some_and(|d| Instant::now() >= d) {
                budget.spent.set(true);
            }
            budget.spent.get()
        });
        if spent {
            return (false, state.clone());
        }
        let (valid, next) = S::apply(op, state);
        if valid {
            // A valid step may add one memo entry: the linearized-set bit
            // vector plus the state.
            BUDGET.with(|budget| {
                let cost = budget.bytes_per_entry.get() + next.heap_bytes();
                match budget.bytes_left.get().checked_sub(cost) {
                    Some(left) => budget.bytes_left.set(left),
                    None => {
                        budget.spent.set(true);
                        budget.out_of_memory.set(true);
                    }
                }
            });
        }
        (valid, next)
    }
}

/// Restores the thread's previous budget when a check ends, even by unwinding.
struct BudgetGuard {
    previous: (Option<Instant>, usize, usize, bool, bool),
}

impl BudgetGuard {
    fn install(deadline: Option<Instant>, bytes_per_entry: usize) -> Self {
        BUDGET.with(|budget| {
            let previous = (
                budget.deadline.replace(deadline),
                budget.bytes_left.replace(CACHE_BYTES_MAX),
                budget.bytes_per_entry.replace(bytes_per_entry),
                budget.spent.replace(false),
                budget.out_of_memory.replace(false),
            );
            BudgetGuard { previous }
        })
    }

    fn spent(&self) -> bool {
        BUDGET.with(|budget| budget.spent.get())
    }

    fn out_of_memory(&self) -> bool {
        BUDGET.with(|budget| budget.out_of_memory.get())
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        let (deadline, bytes_left, bytes_per_entry, spent, out_of_memory) = self.previous;
        BUDGET.with(|budget| {
            budget.deadline.set(deadline);
            budget.bytes_left.set(bytes_left);
            budget.bytes_per_entry.set(bytes_per_entry);
            budget.spent.set(spent);
            budget.out_of_memory.set(out_of_memory);
        });
    }
}

/// Checks one object's history against specification `S` with the todc-utils
/// WGL checker, within `budget` wall time.
///
/// ```
/// use std::time::Duration;
/// use ftc_judge::spec::{RegisterCall, RegisterSpec};
/// use ftc_judge::{check_object, Outcome, Timed};
/// let ops = vec![
///     Timed { call: 0, ret: Some(1), op: RegisterCall::Write { value: 1 } },
///     Timed { call: 2, ret: Some(3), op: RegisterCall::Read { out: Some(1) } },
/// ];
/// assert_eq!(check_object::<RegisterSpec>(&ops, Duration::from_secs(5)), Outcome::Linearizable);
/// ```
pub fn check_object<S>(ops: &[Timed<S::Operation>], budget: Duration) -> Outcome
where
    S: Specification,
    S::State: StateBytes,
{
    check_object_within::<S>(ops, budget).0
}

/// [`check_object`], also telling whether a timeout came from the memory
/// bound (more time would not help).
fn check_object_within<S>(ops: &[Timed<S::Operation>], budget: Duration) -> (Outcome, bool)
where
    S: Specification,
    S::State: StateBytes,
{
    if ops.is_empty() {
        return (Outcome::Linearizable, false);
    }
    // (time, 0 = call / 1 = return / 2 = open to the end, operation index)
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
    for (index, op) in ops.iter().enumerate() {
        events.push((op.call, 0, index));
        match op.ret {
            Some(ret) => events.push((ret.max(op.call), 1, index)),
            None => events.push((u64::MAX, 2, index)),
        }
    }
    events.sort_unstable();
    let actions = events
        .into_iter()
        .map(|(_, phase, index)| {
            let op = ops[index].op.clone();
            let action = if phase == 0 {
                Action::Call(op)
            } else {
                Action::Response(op)
            };
            (index, action)
        })
        .collect::<Vec<_>>();
    let entries = actions.len();
    let bytes_per_entry = entries + std::mem::size_of::<(Vec<bool>, S::State)>() + 32;
    let guard = BudgetGuard::install(Instant::now().checked_add(budget), bytes_per_entry);
    let linearizable = WGLChecker::<Budgeted<S>>::is_linearizable(History::from_actions(actions));
    let outcome = if guard.spent() {
        Outcome::Timeout
    } else if linearizable {
        Outcome::Linearizable
    } else {
        Outcome::NotLinearizable
    };
    (outcome, guard.out_of_memory())
}

/// The specification-level form of an operation; `None` if it cannot
/// constrain the history (a `fail`, or a read whose output is unknown).
fn key_call(op: &Operation) -> Option<Timed<KvCall>> {
    let open = op.status == OpStatus::Info || op.ret.is_none();
    if op.status == OpStatus::Fail {
        return None;
    }
    let call = match op.kind {
        OpKind::Get if open => return None,
        OpKind::Get => KvCall::Get {
            out: op.out.clone(),
        },
        OpKind::Put => KvCall::Put {
            value: op.value.clone().unwrap_or_default(),
        },
        OpKind::Append => KvCall::Append {
            value: op.value.clone().unwrap_or_default(),
        },
        OpKind::Cas => KvCall::Cas {
            from: op.from.clone(),
            to: op.to.clone(),
            outcome: if open {
                CasOutcome::Unknown
            } else if op.cas_ok == Some(false) {
                CasOutcome::CompareFailed
            } else {
                CasOutcome::Swapped
            },
        },
    };
    Some(Timed {
        call: op.call,
        ret: if open { None } else { op.ret },
        op: call,
    })
}

/// Drops the `info` puts and appends of one key that no completed read can
/// have observed (no read contains the value; on a key without appends, no
/// read equals it); the key must have no cas.
///
/// Sound and complete: removing such an operation X (value `v`) changes no
/// verdict. If the history without X linearizes, put X last (it is `info`,
/// so always allowed). Conversely, take a linearization with X and let the
/// next put after X be P (or the end). Between X and P the state is a
/// string containing `v` (appends only extend it; without appends it is
/// `v`), so a read there would return a string containing `v` (equal to
/// `v` if the key has no appends), and by assumption no read does: there
/// are only appends and unknown writes between X and P, which are valid on
/// any state, and from P on the states are as before. So deleting X leaves
/// a valid linearization, and no real-time constraint involves X, which
/// never returned. Removing several such operations one by one is the same
/// argument repeated, since the condition only looks at reads.
///
/// WGL pays dearly for unknown writes, which stay open to the end and may
/// be linearized at any later point; most of them (a request lost with a
/// crashed replica) were never applied and never observed.
fn drop_unobserved_unknown_writes(ops: &mut Vec<Timed<KvCall>>) {
    if ops.iter().any(|op| matches!(op.op, KvCall::Cas { .. })) {
        return;
    }
    let observed: Vec<String> = ops
        .iter()
        .filter_map(|op| match &op.op {
            KvCall::Get { out: Some(out) } => Some(out.clone()),
            _ => None,
        })
        .collect();
    // Without appends the state is exactly the last value put, so only an
    // equal read observes it.
    let appends = ops.iter().any(|op| matches!(op.op, KvCall::Append { .. }));
    ops.retain(|op| match (&op.op, op.ret) {
        (KvCall::Put { value } | KvCall::Append { value }, None) => observed
            .iter()
            .any(|out| out == value || (appends && out.contains(value.as_str()))),
        _ => true,
    });
}

/// Closes each `info` put of one key that a completed read observed: it
/// gets the return time of the earliest such read. Applies to keys without
/// appends, and only to puts whose value no other put or cas writes.
///
/// Sound and complete: in such a key the state is always the value of the
/// last put or swapping cas, so a read returning `v` follows, in any valid
/// linearization, the only operation that writes `v`. Every valid
/// linearization of the history thus already places the put before that
/// read returned, and is valid for the closed history; the converse holds
/// because closing only adds a constraint. Without this, WGL keeps such a
/// put open to the end and tries it at every later point.
fn close_observed_unknown_puts(ops: &mut [Timed<KvCall>]) {
    if ops.iter().any(|op| matches!(op.op, KvCall::Append { .. })) {
        return;
    }
    let mut writers: HashMap<String, usize> = HashMap::new();
    let mut first_read: HashMap<String, u64> = HashMap::new();
    for op in ops.iter() {
        match (&op.op, op.ret) {
            (KvCall::Put { value }, _)
            | (
                KvCall::Cas {
                    to: Some(value), ..
                },
                _,
            ) => *writers.entry(value.clone()).or_default() += 1,
            (KvCall::Get { out: Some(out) }, Some(ret)) => {
                let first = first_read.entry(out.clone()).or_insert(ret);
                *first = (*first).min(ret);
            }
            _ => {}
        }
    }
    for op in ops.iter_mut() {
        if let (KvCall::Put { value }, None) = (&op.op, op.ret) {
            if writers.get(value) == Some(&1) {
                if let Some(&read_ret) = first_read.get(value) {
                    if read_ret >= op.call {
                        op.ret = Some(read_ret);
                    }
                }
            }
        }
    }
}

/// The first pass over the keys gets this fraction of the budget, so that a
/// violation on a later key is found before an earlier hard key has used up
/// its whole budget.
const FIRST_PASS_DIVISOR: u32 = 16;

/// Checks a key-value history (per key: linearizability is compositional) within `budget` wall time per key.
///
/// `fail` operations are ignored; `info` operations (and any with no `ret`)
/// may have taken effect at any time after their call, or not at all; an
/// unknown put or append that no read can have observed is left out, and an
/// unknown put with a unique value that a read observed is closed at that
/// read's return; both provably change no verdict (see
/// `drop_unobserved_unknown_writes` and `close_observed_unknown_puts`). A
/// violation on any key wins over a timeout on another. Keys are checked in
/// two passes: first each with a sixteenth of the budget, then the ones that
/// ran out again with the whole budget; so one key costs at most 17/16 of the
/// budget.
///
/// ```
/// use std::time::Duration;
/// use ftc_judge::{check_kv, Operation, Verdict};
/// let history = vec![
///     Operation::put(0, "x", "1", 0, None),
///     Operation::get(1, "x", Some("1"), 30, Some(40)),
/// ];
/// assert_eq!(check_kv(&history, Duration::from_secs(5)), Verdict::Linearizable);
/// ```
pub fn check_kv(history: &[Operation], budget: Duration) -> Verdict {
    let mut keys: BTreeMap<&str, Vec<Timed<KvCall>>> = BTreeMap::new();
    for op in history {
        if let Some(call) = key_call(op) {
            keys.entry(op.key.as_str()).or_default().push(call);
        }
    }
    for ops in keys.values_mut() {
        close_observed_unknown_puts(ops);
        drop_unobserved_unknown_writes(ops);
    }
    let mut pending: Vec<(&str, Vec<Timed<KvCall>>)> = keys.into_iter().collect();
    // Keys that ran out of memory: more time would not help.
    let mut exhausted: Vec<&str> = Vec::new();
    for pass_budget in [budget / FIRST_PASS_DIVISOR, budget] {
        let mut timed_out = Vec::new();
        for (key, ops) in pending {
            match check_object_within::<KeySpec>(&ops, pass_budget) {
                (Outcome::Linearizable, _) => {}
                (Outcome::NotLinearizable, _) => {
                    return Verdict::NotLinearizable {
                        key: key.to_string(),
                    }
                }
                (Outcome::Timeout, true) => exhausted.push(key),
                (Outcome::Timeout, false) => timed_out.push((key, ops)),
            }
        }
        pending = timed_out;
    }
    exhausted.extend(pending.iter().map(|(key, _)| *key));
    match exhausted.into_iter().min() {
        Some(key) => Verdict::Timeout {
            key: key.to_string(),
        },
        None => Verdict::Linearizable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Rng;

    /// A random small history of one key whose reads return random
    /// plausible strings, so both verdicts occur.
    fn random_key_history(rng: &mut Rng, appends: bool) -> Vec<Timed<KvCall>> {
        let letters = ["a", "b", "c", "d"];
        let mut ops = Vec::new();
        for _ in 0..8 {
            let call = rng.below(30);
            let ret = if rng.below(3) == 0 {
                None
            } else {
                Some(call + rng.below(10))
            };
            let value = letters[rng.below(4) as usize].to_string();
            let op = match rng.below(3) {
                0 => KvCall::Put { value },
                1 if appends => KvCall::Append { value },
                1 => KvCall::Put { value },
                _ => {
                    let length = rng.below(4);
                    let out = (0..length)
                        .map(|_| letters[rng.below(4) as usize])
                        .collect::<String>();
                    KvCall::Get {
                        out: (length > 0).then_some(out),
                    }
                }
            };
            let ret = if matches!(op, KvCall::Get { .. }) {
                Some(ret.unwrap_or(call + 1))
            } else {
                ret
            };
            ops.push(Timed { call, ret, op });
        }
        ops
    }

    /// A random small history of one key with unique put and cas values;
    /// reads return a random value written so far (or none).
    fn random_unique_put_history(rng: &mut Rng) -> Vec<Timed<KvCall>> {
        let mut written: Vec<String> = Vec::new();
        let mut ops = Vec::new();
        for index in 0..9 {
            let call = rng.below(30);
            let ret = Some(call + rng.below(10));
            let unknown = rng.below(3) == 0;
            let (op, ret) = match rng.below(4) {
                0 | 1 => {
                    let value = format!("p{index}");
                    written.push(value.clone());
                    (KvCall::Put { value }, if unknown { None } else { ret })
                }
                2 => {
                    let pick = rng.below(written.len() as u64 + 1) as usize;
                    (
                        KvCall::Get {
                            out: written.get(pick).cloned(),
                        },
                        ret,
                    )
                }
                _ => {
                    let pick = rng.below(written.len() as u64 + 1) as usize;
                    let to = format!("c{index}");
                    written.push(to.clone());
                    let outcome = match (unknown, rng.below(2)) {
                        (true, _) => CasOutcome::Unknown,
                        (false, 0) => CasOutcome::Swapped,
                        (false, _) => CasOutcome::CompareFailed,
                    };
                    let op = KvCall::Cas {
                        from: written.get(pick).cloned(),
                        to: Some(to),
                        outcome,
                    };
                    (op, if unknown { None } else { ret })
                }
            };
            ops.push(Timed { call, ret, op });
        }
        ops
    }

    #[test]
    fn closing_observed_unknown_puts_changes_no_verdict() {
        let budget = Duration::from_secs(10);
        let mut verdicts = [0usize; 2];
        let mut closed = 0;
        for seed in 0..3000 {
            let mut rng = Rng::new(seed);
            let full = random_unique_put_history(&mut rng);
            let mut reduced = full.clone();
            close_observed_unknown_puts(&mut reduced);
            closed += reduced
                .iter()
                .zip(&full)
                .filter(|(r, f)| r.ret != f.ret)
                .count();
            drop_unobserved_unknown_writes(&mut reduced);
            let expected = check_object::<KeySpec>(&full, budget);
            assert_ne!(expected, Outcome::Timeout, "seed {seed}");
            assert_eq!(
                check_object::<KeySpec>(&reduced, budget),
                expected,
                "seed {seed}: {full:?}"
            );
            verdicts[usize::from(expected == Outcome::Linearizable)] += 1;
        }
        assert!(verdicts[0] > 100 && verdicts[1] > 100, "{verdicts:?}");
        assert!(closed > 100, "{closed}");
    }

    #[test]
    fn dropping_unobserved_unknown_writes_changes_no_verdict() {
        let budget = Duration::from_secs(10);
        let mut verdicts = [0usize; 2];
        let mut dropped = 0;
        for seed in 0..4000 {
            let mut rng = Rng::new(seed);
            let full = random_key_history(&mut rng, seed % 2 == 0);
            let mut reduced = full.clone();
            drop_unobserved_unknown_writes(&mut reduced);
            dropped += full.len() - reduced.len();
            let expected = check_object::<KeySpec>(&full, budget);
            assert_ne!(expected, Outcome::Timeout, "seed {seed}");
            assert_eq!(
                check_object::<KeySpec>(&reduced, budget),
                expected,
                "seed {seed}: {full:?}"
            );
            verdicts[usize::from(expected == Outcome::Linearizable)] += 1;
        }
        // The generator must exercise both verdicts and the reduction.
        assert!(verdicts[0] > 100 && verdicts[1] > 100, "{verdicts:?}");
        assert!(dropped > 100, "{dropped}");
    }
}
