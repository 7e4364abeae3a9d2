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
//! size exceeds [`CACHE_BYTES_MAX`], refuses every further step. The search
//! then backtracks to the bottom and returns within a bounded number of
//! steps on the calling thread; the result is reported as a timeout. No
//! thread is left running.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use todc_utils::{Action, History, Specification, WGLChecker};

use crate::history::{OpKind, OpStatus, Operation};
use crate::spec::{CasOutcome, KeySpec, KvCall};

/// Upper bound on the estimated memory of the checker's memo table, per key.
pub const CACHE_BYTES_MAX: usize = 512 << 20;

/// The verdict on a whole key-value history.
///
/// ```
/// let verdict = ftc_judge::Verdict::NotLinearizable { key: "x".into() };
/// assert_ne!(verdict, ftc_judge::Verdict::Linearizable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's sub-history is linearizable.
    Linearizable,
    /// This key's sub-history is not linearizable.
    NotLinearizable {
        /// The first such key (in key order).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

thread_local! {
    static BUDGET: Budget = const {
        Budget {
            deadline: Cell::new(None),
            bytes_left: Cell::new(usize::MAX),
            bytes_per_entry: Cell::new(0),
            spent: Cell::new(false),
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
                    None => budget.spent.set(true),
                }
            });
        }
        (valid, next)
    }
}

/// Restores the thread's previous budget when a check ends, even by unwinding.
struct BudgetGuard {
    previous: (Option<Instant>, usize, usize, bool),
}

impl BudgetGuard {
    fn install(deadline: Option<Instant>, bytes_per_entry: usize) -> Self {
        BUDGET.with(|budget| {
            let previous = (
                budget.deadline.replace(deadline),
                budget.bytes_left.replace(CACHE_BYTES_MAX),
                budget.bytes_per_entry.replace(bytes_per_entry),
                budget.spent.replace(false),
            );
            BudgetGuard { previous }
        })
    }

    fn spent(&self) -> bool {
        BUDGET.with(|budget| budget.spent.get())
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        let (deadline, bytes_left, bytes_per_entry, spent) = self.previous;
        BUDGET.with(|budget| {
            budget.deadline.set(deadline);
            budget.bytes_left.set(bytes_left);
            budget.bytes_per_entry.set(bytes_per_entry);
            budget.spent.set(spent);
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
    if ops.is_empty() {
        return Outcome::Linearizable;
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
    if guard.spent() {
        Outcome::Timeout
    } else if linearizable {
        Outcome::Linearizable
    } else {
        Outcome::NotLinearizable
    }
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

/// Checks a key-value history (per key: linearizability is compositional) within `budget` wall time per key.
///
/// `fail` operations are ignored; `info` operations (and any with no `ret`)
/// may have taken effect at any time after their call, or not at all. A
/// violation on any key wins over a timeout on another.
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
    let mut timed_out = None;
    for (key, ops) in keys {
        match check_object::<KeySpec>(&ops, budget) {
            Outcome::Linearizable => {}
            Outcome::NotLinearizable => {
                return Verdict::NotLinearizable {
                    key: key.to_string(),
                }
            }
            Outcome::Timeout => {
                timed_out.get_or_insert_with(|| key.to_string());
            }
        }
    }
    match timed_out {
        Some(key) => Verdict::Timeout { key },
        None => Verdict::Linearizable,
    }
}
