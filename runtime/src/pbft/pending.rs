//! A replica's requests received and not yet executed, and — at the primary —
//! which of them a batch of this view already carries: the primary finds the
//! next batch's requests without scanning the ones it proposed.

use crate::types::{Micros, RequestId};
use foldhash::{HashMap, HashSet};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
pub(super) struct PendingRequest {
    pub payload: Vec<u8>,
    pub low_water: u64,
    pub since: Micros,
}

/// Looked up by request (hash tables, seeded at random per process: every
/// request is inserted, looked up and removed once per replica; nothing
/// here depends on their iteration order). Only a primary proposes, so only
/// a primary keeps the ordered set of unproposed requests: it is built the
/// first time a replica asks for it in a view and dropped at every new view.
///
/// Invariant: while `tracking`, `unproposed` is exactly the keys of
/// `requests` not in `proposed`; otherwise it is empty. `proposed` may name
/// requests this replica does not hold (a new view's batches re-propose
/// what others held).
#[derive(Debug, Default)]
pub(super) struct PendingRequests {
    requests: HashMap<RequestId, PendingRequest>,
    proposed: HashSet<RequestId>,
    unproposed: BTreeSet<RequestId>,
    tracking: bool,
}

impl PendingRequests {
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn get(&self, request: &RequestId) -> Option<&PendingRequest> {
        self.requests.get(request)
    }

    pub fn get_mut(&mut self, request: &RequestId) -> Option<&mut PendingRequest> {
        self.requests.get_mut(request)
    }

    /// Holds a request not held yet.
    pub fn insert(&mut self, request: RequestId, pending: PendingRequest) {
        let old = self.requests.insert(request, pending);
        assert!(old.is_none(), "{request:?} was held already");
        if self.tracking && !self.proposed.contains(&request) {
            self.unproposed.insert(request);
        }
    }

    /// The request was executed (or found a duplicate): forgotten here.
    pub fn remove(&mut self, request: &RequestId) {
        self.requests.remove(request);
        self.proposed.remove(request);
        if self.tracking {
            self.unproposed.remove(request);
        }
    }

    /// Keeps the requests `keep` says.
    pub fn retain(&mut self, mut keep: impl FnMut(RequestId) -> bool) {
        self.requests.retain(|r, _| keep(*r));
        let requests = &self.requests;
        self.unproposed.retain(|r| requests.contains_key(r));
    }

    /// In no particular order.
    pub fn values(&self) -> impl Iterator<Item = &PendingRequest> {
        self.requests.values()
    }

    /// In no particular order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut PendingRequest> {
        self.requests.values_mut()
    }

    /// Primary: a batch of this view carries `request`.
    pub fn mark_proposed(&mut self, request: RequestId) {
        self.proposed.insert(request);
        self.unproposed.remove(&request);
    }

    /// A new view: nothing is proposed in it yet, and whoever is its primary
    /// starts tracking what to propose when it first proposes.
    pub fn clear_proposed(&mut self) {
        self.proposed.clear();
        self.unproposed.clear();
        self.tracking = false;
    }

    /// Primary, before reading `unproposed`: tracks the unproposed requests
    /// from now on in this view (built once, by request order).
    pub fn track_unproposed(&mut self) {
        if self.tracking {
            return;
        }
        self.tracking = true;
        self.unproposed = self.held_unproposed();
    }

    /// The requests held and not proposed, computed from scratch.
    fn held_unproposed(&self) -> BTreeSet<RequestId> {
        self.requests
            .keys()
            .filter(|r| !self.proposed.contains(r))
            .copied()
            .collect()
    }

    /// The requests held and not proposed in this view, in request order
    /// (after `track_unproposed`).
    pub fn unproposed(&self) -> impl Iterator<Item = (RequestId, &PendingRequest)> {
        assert!(
            self.tracking,
            "unproposed requests read without tracking them"
        );
        self.unproposed.iter().map(|r| {
            let Some(pending) = self.requests.get(r) else {
                unreachable!("{r:?} is unproposed but not held");
            };
            (*r, pending)
        })
    }

    /// Checks the invariant (rebuilds the set: debug builds only).
    pub fn check(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        if self.tracking {
            assert_eq!(self.unproposed, self.held_unproposed());
        } else {
            assert!(self.unproposed.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClientId, GroupId};

    fn request(seq: u64) -> RequestId {
        RequestId {
            client: ClientId::Group(GroupId(7)),
            seq,
        }
    }

    fn pending() -> PendingRequest {
        PendingRequest {
            payload: vec![1],
            low_water: 0,
            since: 0,
        }
    }

    fn unproposed(p: &PendingRequests) -> Vec<u64> {
        p.unproposed().map(|(r, _)| r.seq).collect()
    }

    #[test]
    fn unproposed_follows_holding_proposing_executing_and_new_views() {
        let mut p = PendingRequests::default();
        p.track_unproposed();
        for seq in [3, 1, 2] {
            p.insert(request(seq), pending());
        }
        assert_eq!(unproposed(&p), [1, 2, 3]);
        p.mark_proposed(request(2));
        // A re-proposed request this replica does not hold yet.
        p.mark_proposed(request(9));
        assert_eq!(unproposed(&p), [1, 3]);
        p.insert(request(9), pending());
        assert_eq!(unproposed(&p), [1, 3]);
        p.remove(&request(1));
        p.retain(|r| r.seq != 3);
        assert_eq!(unproposed(&p), Vec::<u64>::new());
        assert_eq!(p.len(), 2);
        p.clear_proposed();
        p.check();
        // A backup of the new view holds without tracking.
        p.insert(request(5), pending());
        p.check();
        p.mark_proposed(request(2));
        p.track_unproposed();
        assert_eq!(unproposed(&p), [5, 9]);
        p.check();
    }

    #[test]
    #[should_panic(expected = "without tracking")]
    fn unproposed_is_read_only_while_tracked() {
        let mut p = PendingRequests::default();
        p.insert(request(1), pending());
        let _ = unproposed(&p).len();
    }
}
