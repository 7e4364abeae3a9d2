//! The client's calls waiting for an answer, kept per (server, client) and
//! numbered by request: a call is found by comparing small keys, and a
//! client's oldest waiting request (its low-water mark) is the first entry.

use crate::types::{ClientId, GroupId, RequestId};
use std::collections::BTreeMap;

/// Calls by (group, request); iteration is in (group, client, seq) order.
#[derive(Debug)]
pub(super) struct PendingCalls<V> {
    by_client: BTreeMap<(GroupId, ClientId), BTreeMap<u64, V>>,
    len: usize,
}

impl<V> Default for PendingCalls<V> {
    fn default() -> Self {
        PendingCalls {
            by_client: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V> PendingCalls<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds a call for a request not waiting yet.
    pub fn insert(&mut self, group: GroupId, request: RequestId, call: V) {
        let calls = self.by_client.entry((group, request.client)).or_default();
        let old = calls.insert(request.seq, call);
        assert!(old.is_none(), "{request:?} to {group:?} is waiting already");
        self.len += 1;
    }

    pub fn get_mut(&mut self, group: GroupId, request: RequestId) -> Option<&mut V> {
        self.by_client
            .get_mut(&(group, request.client))
            .and_then(|calls| calls.get_mut(&request.seq))
    }

    /// The call and its client's oldest waiting request number to `group`.
    pub fn get_with_oldest(&self, group: GroupId, request: RequestId) -> Option<(&V, u64)> {
        let calls = self.by_client.get(&(group, request.client))?;
        let call = calls.get(&request.seq)?;
        let Some((&oldest, _)) = calls.first_key_value() else {
            unreachable!("a waiting call's client has a first call");
        };
        Some((call, oldest))
    }

    pub fn remove(&mut self, group: GroupId, request: RequestId) -> Option<V> {
        let key = (group, request.client);
        let calls = self.by_client.get_mut(&key)?;
        let call = calls.remove(&request.seq)?;
        if calls.is_empty() {
            self.by_client.remove(&key);
        }
        self.len -= 1;
        Some(call)
    }

    /// Every waiting call's key, in (group, client, seq) order.
    pub fn keys(&self) -> Vec<(GroupId, RequestId)> {
        self.keys_where(|_| true)
    }

    /// The keys of the calls to the groups `which` picks, in order.
    pub fn keys_where(&self, which: impl Fn(GroupId) -> bool) -> Vec<(GroupId, RequestId)> {
        self.by_client
            .iter()
            .filter(|((group, _), _)| which(*group))
            .flat_map(|(&(group, client), calls)| {
                calls
                    .keys()
                    .map(move |&seq| (group, RequestId { client, seq }))
            })
            .collect()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.by_client.values().flat_map(|calls| calls.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{HostId, Incarnation};

    fn client(local: u32) -> ClientId {
        ClientId::Host {
            host: HostId(0),
            incarnation: Incarnation(1),
            local,
        }
    }

    fn request(local: u32, seq: u64) -> RequestId {
        RequestId {
            client: client(local),
            seq,
        }
    }

    #[test]
    fn calls_are_found_ordered_and_a_clients_oldest_is_its_low_water_mark() {
        let mut calls = PendingCalls::default();
        let (g1, g2) = (GroupId(1), GroupId(2));
        calls.insert(g2, request(0, 1), "g2 c0 #1");
        calls.insert(g1, request(1, 5), "g1 c1 #5");
        calls.insert(g1, request(0, 3), "g1 c0 #3");
        calls.insert(g1, request(0, 2), "g1 c0 #2");
        assert_eq!(calls.len(), 4);
        assert_eq!(
            calls.keys(),
            [
                (g1, request(0, 2)),
                (g1, request(0, 3)),
                (g1, request(1, 5)),
                (g2, request(0, 1)),
            ]
        );
        assert_eq!(
            calls.get_with_oldest(g1, request(0, 3)),
            Some((&"g1 c0 #3", 2))
        );
        assert_eq!(calls.get_with_oldest(g1, request(0, 4)), None);
        assert_eq!(calls.remove(g1, request(0, 2)), Some("g1 c0 #2"));
        assert_eq!(
            calls.get_with_oldest(g1, request(0, 3)),
            Some((&"g1 c0 #3", 3))
        );
        assert_eq!(calls.remove(g1, request(0, 2)), None);
        *calls.get_mut(g2, request(0, 1)).unwrap() = "changed";
        assert_eq!(calls.keys_where(|g| g == g2), [(g2, request(0, 1))]);
        assert_eq!(
            calls.values().copied().collect::<Vec<_>>(),
            ["g1 c0 #3", "g1 c1 #5", "changed"]
        );
        for (g, r) in calls.keys() {
            calls.remove(g, r);
        }
        assert_eq!(calls.len(), 0);
        assert!(
            calls.by_client.is_empty(),
            "no empty per-client maps stay behind"
        );
    }
}
