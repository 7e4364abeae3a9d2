//! Per-model reply rules: when copies of one answer, sent by several replicas,
//! decide it.
//!
//! A crash-model server's replicas never lie, so the first copy decides
//! ([`ReplyRule::First`]). A byzantine server's `3t+1` replicas may include `t`
//! liars, so a copy decides only once `t+1` distinct members sent the same
//! content ([`ReplyRule::Matching`]): at least one of them is correct. The
//! client ([`crate::client`]) counts replies, "working" and "ready" notices
//! with it, and the host core counts the answers to a replicated caller's
//! nested calls the same way before its replica sees them
//! ([`crate::host`]), and a byzantine caller's nested commands before the
//! callee sees them (`Host::vote_nested_request`).
//!
//! ```
//! use ftc_runtime::types::HostId;
//! use ftc_runtime::vote::{ReplyRule, Tally};
//!
//! let rule = ReplyRule::Matching { needed: 2 };
//! let mut tally = Tally::default();
//! assert_eq!(tally.add(rule, HostId(1), b"wrong"), None);
//! assert_eq!(tally.add(rule, HostId(2), b"42"), None);
//! assert_eq!(tally.add(rule, HostId(2), b"42"), None, "one vote per member");
//! assert_eq!(tally.add(rule, HostId(3), b"42"), Some(b"42".to_vec()));
//! assert!(tally.disagreed());
//! ```

use crate::types::{GroupView, HostId, Model, ServerSpec};
use sha2::{Digest as _, Sha256};

/// How many matching copies decide an answer of one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyRule {
    /// The first copy (crash model and unreplicated servers).
    First,
    /// `needed` copies with equal content from distinct members (byzantine: `t+1`).
    Matching { needed: usize },
}

impl ReplyRule {
    /// The rule for answers of a server started with `spec`.
    pub fn of(spec: &ServerSpec) -> ReplyRule {
        match spec.model {
            Model::Correct | Model::Crash => ReplyRule::First,
            Model::Byzantine => ReplyRule::Matching {
                needed: usize::try_from(spec.tolerate)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            },
        }
    }

    /// The rule for answers of the group of `view`.
    pub fn of_view(view: &GroupView) -> ReplyRule {
        ReplyRule::of(&view.spec)
    }

    /// Whether every member is asked (and so counted), not only the sequencer.
    pub fn asks_every_member(self) -> bool {
        matches!(self, ReplyRule::Matching { .. })
    }
}

/// A SHA-256 digest of an answer's content.
pub type ContentDigest = [u8; 32];

/// The digest two copies are compared by.
pub fn content_digest(content: &[u8]) -> ContentDigest {
    Sha256::digest(content).into()
}

/// The copies of one answer received so far: one vote per sender, each
/// distinct content kept once. Copies are compared byte for byte: cheaper than
/// hashing them, and a group has few members, so few distinct contents.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Per sender, the index of its copy's content in `contents`.
    votes: Vec<(HostId, usize)>,
    contents: Vec<Vec<u8>>,
}

/// Most distinct senders one tally keeps (a group has at most this many members).
const TALLY_VOTERS_MAX: usize = 256;

impl Tally {
    /// Counts `from`'s copy; returns the decided content once `rule` is met.
    /// A sender's later copies do not count again (its first one stands).
    pub fn add(&mut self, rule: ReplyRule, from: HostId, content: &[u8]) -> Option<Vec<u8>> {
        let needed = match rule {
            ReplyRule::First => return Some(content.to_vec()),
            ReplyRule::Matching { needed } => needed,
        };
        if self.votes.iter().any(|(h, _)| *h == from) || self.votes.len() >= TALLY_VOTERS_MAX {
            return None;
        }
        let index = match self.contents.iter().position(|c| c.as_slice() == content) {
            Some(index) => index,
            None => {
                self.contents.push(content.to_vec());
                self.contents.len() - 1
            }
        };
        self.votes.push((from, index));
        debug_assert!(self.contents.len() <= self.votes.len());
        let matching = self.votes.iter().filter(|(_, i)| *i == index).count();
        (matching >= needed).then(|| self.contents[index].clone())
    }

    /// Whether copies with different contents arrived.
    pub fn disagreed(&self) -> bool {
        self.contents.len() > 1
    }

    /// Distinct senders counted.
    pub fn voters(&self) -> usize {
        self.votes.len()
    }
}

/// Distinct senders of a content-free notice ("working", "ready"): decides once
/// `rule` is met, then starts over.
#[derive(Clone, Debug, Default)]
pub struct Notices {
    from: Vec<HostId>,
}

impl Notices {
    /// Counts `from`; true when the rule is met (and the count starts over).
    pub fn add(&mut self, rule: ReplyRule, from: HostId) -> bool {
        let needed = match rule {
            ReplyRule::First => return true,
            ReplyRule::Matching { needed } => needed,
        };
        if !self.from.contains(&from) && self.from.len() < TALLY_VOTERS_MAX {
            self.from.push(from);
        }
        if self.from.len() >= needed {
            self.from.clear();
            true
        } else {
            false
        }
    }
}
