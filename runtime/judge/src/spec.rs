//! Sequential specifications, as todc-utils `Specification`s: one key of the
//! key-value store, and the single integer register of the Jepsen etcd logs.
//!
//! An operation whose outcome is unknown (`info`) is always valid: it applies
//! its effect (a cas only if its comparison holds). The checker places its
//! response after every other event, so "it never happened" is covered by
//! "it happened after everything that was observed" — see [`crate::check`].
//! Both are pure: the checker wraps them to enforce its budget.

use todc_utils::Specification;

/// What is known about a cas's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CasOutcome {
    /// The comparison held and the new value was installed.
    Swapped,
    /// The comparison failed; nothing changed.
    CompareFailed,
    /// Unknown (`info`): either, depending on the state it meets.
    Unknown,
}

/// One operation on a single key, as the key's specification sees it.
///
/// ```
/// use ftc_judge::spec::{KeySpec, KvCall};
/// use todc_utils::Specification;
/// let (valid, state) = KeySpec::apply(&KvCall::Append { value: "a".into() }, &None);
/// assert!(valid);
/// assert_eq!(state.as_deref(), Some("a"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvCall {
    /// A read that returned `out` (`None`: absent).
    Get {
        /// What the read returned.
        out: Option<String>,
    },
    /// A blind write.
    Put {
        /// The value written.
        value: String,
    },
    /// An append (to the empty string if absent).
    Append {
        /// The suffix appended.
        value: String,
    },
    /// A compare-and-set.
    Cas {
        /// Expected current value (`None`: expects the key absent).
        from: Option<String>,
        /// Value installed on success.
        to: Option<String>,
        /// What the client learned.
        outcome: CasOutcome,
    },
}

/// The sequential specification of one key: state is its value, `None` if
/// absent.
///
/// ```
/// use ftc_judge::spec::{KeySpec, KvCall};
/// use todc_utils::Specification;
/// let read_absent = KvCall::Get { out: None };
/// assert!(KeySpec::apply(&read_absent, &KeySpec::init()).0);
/// ```
#[derive(Debug)]
pub struct KeySpec;

impl Specification for KeySpec {
    type State = Option<String>;
    type Operation = KvCall;

    fn init() -> Self::State {
        None
    }

    fn apply(op: &KvCall, state: &Option<String>) -> (bool, Option<String>) {
        match op {
            KvCall::Get { out } => (out == state, state.clone()),
            KvCall::Put { value } => (true, Some(value.clone())),
            KvCall::Append { value } => {
                let mut next = state.clone().unwrap_or_default();
                next.push_str(value);
                (true, Some(next))
            }
            KvCall::Cas { from, to, outcome } => {
                let holds = from == state;
                let swapped = (true, to.clone());
                let unchanged = (true, state.clone());
                match (outcome, holds) {
                    (CasOutcome::Swapped | CasOutcome::Unknown, true) => swapped,
                    (CasOutcome::CompareFailed | CasOutcome::Unknown, false) => unchanged,
                    _ => (false, state.clone()),
                }
            }
        }
    }
}

/// One operation on the integer register of the Jepsen etcd logs.
///
/// ```
/// use ftc_judge::spec::{CasOutcome, RegisterCall, RegisterSpec};
/// use todc_utils::Specification;
/// let cas = RegisterCall::Cas { from: 3, to: 0, outcome: CasOutcome::Swapped };
/// assert!(!RegisterSpec::apply(&cas, &None).0);
/// assert_eq!(RegisterSpec::apply(&cas, &Some(3)), (true, Some(0)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterCall {
    /// A read that returned `out` (`None`: never written, Jepsen's `nil`).
    Read {
        /// What the read returned.
        out: Option<u64>,
    },
    /// A write.
    Write {
        /// The value written.
        value: u64,
    },
    /// A compare-and-set.
    Cas {
        /// Expected current value.
        from: u64,
        /// Value installed on success.
        to: u64,
        /// What the client learned.
        outcome: CasOutcome,
    },
}

/// The sequential specification of a register holding `u64`, initially
/// unwritten (`None`).
///
/// ```
/// use ftc_judge::spec::{RegisterCall, RegisterSpec};
/// use todc_utils::Specification;
/// let (_, state) = RegisterSpec::apply(&RegisterCall::Write { value: 4 }, &RegisterSpec::init());
/// assert!(RegisterSpec::apply(&RegisterCall::Read { out: Some(4) }, &state).0);
/// ```
#[derive(Debug)]
pub struct RegisterSpec;

impl Specification for RegisterSpec {
    type State = Option<u64>;
    type Operation = RegisterCall;

    fn init() -> Self::State {
        None
    }

    fn apply(op: &RegisterCall, state: &Option<u64>) -> (bool, Option<u64>) {
        match *op {
            RegisterCall::Read { out } => (out == *state, *state),
            RegisterCall::Write { value } => (true, Some(value)),
            RegisterCall::Cas { from, to, outcome } => {
                let holds = *state == Some(from);
                match (outcome, holds) {
                    (CasOutcome::Swapped | CasOutcome::Unknown, true) => (true, Some(to)),
                    (CasOutcome::CompareFailed | CasOutcome::Unknown, false) => (true, *state),
                    _ => (false, *state),
                }
            }
        }
    }
}
