//! A group's duplicate table (part of its replicated state): per client, the
//! requests executed and their replies, and the clients known to be gone for
//! good, whose records are forgotten — both group protocols keep theirs here.
//!
//! A client is *departed* once the view service's committed log says it can
//! never send again: a client of a host process older than the host's newest
//! started one, or a caller group that was stopped or failed. The group
//! forgets such clients through its own log ([`super::LogEntry::Departed`]),
//! so every replica forgets the same clients at the same position, and keeps
//! a compact mark of them (a watermark per host, ranges of group ids) so a late
//! copy of one of their requests is still refused, never executed again.

use super::ClientRecord;
use crate::types::{ClientId, GroupId, HostId, Incarnation, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most clients one `Departed` entry forgets.
pub const DEPARTED_PER_ENTRY_MAX: usize = 64;

/// The clients a group forgot: a client of `host` whose process incarnation
/// is below `hosts[host]`, or a caller group in one of the `groups` ranges.
/// Its size is bounded by the hosts of the cluster and the number of runs of
/// live group ids between departed ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departed {
    hosts: BTreeMap<HostId, Incarnation>,
    /// Half-open ranges `[start, end)` of group ids, disjoint, not adjacent.
    groups: BTreeMap<u64, u64>,
}

impl Departed {
    pub fn contains(&self, client: ClientId) -> bool {
        match client {
            ClientId::Host {
                host, incarnation, ..
            } => self
                .hosts
                .get(&host)
                .is_some_and(|&below| incarnation < below),
            ClientId::Group(GroupId(g)) => self
                .groups
                .range(..=g)
                .next_back()
                .is_some_and(|(_, &end)| g < end),
        }
    }

    /// Marks `client` departed. A host client marks every earlier process of
    /// its host too: the view service orders a host's processes.
    pub fn insert(&mut self, client: ClientId) {
        match client {
            ClientId::Host {
                host, incarnation, ..
            } => {
                let below = Incarnation(incarnation.0.saturating_add(1));
                let mark = self.hosts.entry(host).or_insert(below);
                *mark = (*mark).max(below);
            }
            ClientId::Group(GroupId(g)) => {
                if self.contains(client) {
                    return;
                }
                let (mut start, mut end) = (g, g.saturating_add(1));
                if let Some((&s, &e)) = self.groups.range(..g).next_back() {
                    if e == g {
                        start = s;
                        self.groups.remove(&s);
                    }
                }
                if let Some(&e) = self.groups.get(&end) {
                    self.groups.remove(&end);
                    end = e;
                }
                self.groups.insert(start, end);
            }
        }
        debug_assert!(self.contains(client));
    }

    /// How many marks it keeps (hosts and group ranges).
    pub fn len(&self) -> usize {
        self.hosts.len() + self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The duplicate table: records of live clients and marks of departed ones.
/// Records are found by hashing (every request is looked up several times on
/// its way to execution); whatever leaves the table in a list (its parts, the
/// next departures) is sorted, so replicas and replays agree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTable {
    records: foldhash::HashMap<ClientId, ClientRecord>,
    departed: Departed,
}

impl ClientTable {
    /// A table from its transferred parts.
    pub fn from_parts(records: Vec<(ClientId, ClientRecord)>, departed: Departed) -> ClientTable {
        ClientTable {
            records: records.into_iter().collect(),
            departed,
        }
    }

    /// Its parts, for a state transfer or checkpoint: records by client.
    pub fn to_parts(&self) -> (Vec<(ClientId, ClientRecord)>, Departed) {
        let mut records: Vec<(ClientId, ClientRecord)> =
            self.records.iter().map(|(c, r)| (*c, r.clone())).collect();
        records.sort_unstable_by_key(|(c, _)| *c);
        (records, self.departed.clone())
    }

    /// Executed before (or executed and its reply forgotten), or from a
    /// departed client: never executed (again).
    pub fn is_duplicate(&self, request: RequestId) -> bool {
        self.departed.contains(request.client)
            || self.records.get(&request.client).is_some_and(|r| {
                request.seq < r.forgotten_below || r.executed.contains_key(&request.seq)
            })
    }

    /// The reply kept for an executed request: `Some(None)` while its method runs.
    pub fn reply(&self, request: RequestId) -> Option<&Option<Vec<u8>>> {
        self.records
            .get(&request.client)
            .and_then(|r| r.executed.get(&request.seq))
    }

    /// A command entry was executed (`applied`: its method ran; else it was a
    /// duplicate): forgets the replies below the client's low-water mark and
    /// records the request.
    pub fn executed(&mut self, request: RequestId, low_water: u64, applied: bool) {
        if self.departed.contains(request.client) {
            assert!(!applied, "a departed client's command is never applied");
            return;
        }
        let record = self.records.entry(request.client).or_default();
        if low_water > record.forgotten_below {
            record.forgotten_below = low_water;
            record.executed.forget_below(low_water);
        }
        if applied {
            record.executed.insert(request.seq, None);
        }
    }

    /// The reply of an executed request, kept for retransmissions.
    pub fn set_reply(&mut self, request: RequestId, payload: &[u8]) {
        if let Some(slot) = self
            .records
            .get_mut(&request.client)
            .and_then(|r| r.executed.get_mut(&request.seq))
        {
            *slot = Some(payload.to_vec());
        }
    }

    /// A `Departed` entry was executed: forgets these clients for good.
    pub fn depart(&mut self, clients: &[ClientId]) {
        for &client in clients {
            self.records.remove(&client);
            self.departed.insert(client);
        }
    }

    /// The first [`DEPARTED_PER_ENTRY_MAX`] clients (in client order) with a
    /// record here that `gone` (the view service's committed log, as this
    /// host knows it) says departed, skipping `skip`: what the next
    /// `Departed` entry forgets.
    pub fn departures(
        &self,
        gone: &dyn Fn(ClientId) -> bool,
        skip: &dyn Fn(ClientId) -> bool,
    ) -> Vec<ClientId> {
        let mut leaving: Vec<ClientId> = self
            .records
            .keys()
            .copied()
            .filter(|&c| !skip(c) && gone(c))
            .collect();
        leaving.sort_unstable();
        leaving.truncate(DEPARTED_PER_ENTRY_MAX);
        leaving
    }

    /// Whether the table forgot `client` already.
    pub fn has_departed(&self, client: ClientId) -> bool {
        self.departed.contains(client)
    }

    /// Clients with a record.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Drops every record (a planted bug's state transfer without the table).
    #[cfg(feature = "planted-bugs")]
    pub fn clear(&mut self) {
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_client(host: u32, incarnation: u64, local: u32) -> ClientId {
        ClientId::Host {
            host: HostId(host),
            incarnation: Incarnation(incarnation),
            local,
        }
    }

    fn request(client: ClientId, seq: u64) -> RequestId {
        RequestId { client, seq }
    }

    #[test]
    fn group_ranges_merge_and_stay_disjoint() {
        let mut d = Departed::default();
        for g in [5, 7, 6, 1, 2, 10] {
            d.insert(ClientId::Group(GroupId(g)));
        }
        assert_eq!(
            d.groups.iter().map(|(s, e)| (*s, *e)).collect::<Vec<_>>(),
            vec![(1, 3), (5, 8), (10, 11)]
        );
        for g in 0..12 {
            let want = matches!(g, 1 | 2 | 5..=7 | 10);
            assert_eq!(d.contains(ClientId::Group(GroupId(g))), want, "group {g}");
        }
        d.insert(ClientId::Group(GroupId(3)));
        d.insert(ClientId::Group(GroupId(4)));
        d.insert(ClientId::Group(GroupId(8)));
        d.insert(ClientId::Group(GroupId(9)));
        assert_eq!(d.groups.len(), 1, "{:?}", d.groups);
    }

    #[test]
    fn a_departed_process_takes_its_earlier_ones_but_not_later_ones() {
        let mut d = Departed::default();
        d.insert(host_client(2, 50, 3));
        assert!(d.contains(host_client(2, 50, 0)));
        assert!(d.contains(host_client(2, 7, 9)));
        assert!(!d.contains(host_client(2, 51, 0)));
        assert!(!d.contains(host_client(3, 1, 0)));
        d.insert(host_client(2, 10, 0));
        assert!(
            !d.contains(host_client(2, 51, 0)),
            "the mark never goes back"
        );
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn a_forgotten_client_is_refused_not_executed_again() {
        let mut t = ClientTable::default();
        let old = host_client(1, 4, 0);
        let live = host_client(1, 9, 0);
        t.executed(request(old, 1), 1, true);
        t.set_reply(request(old, 1), b"r");
        t.executed(request(live, 1), 1, true);
        assert_eq!(t.reply(request(old, 1)), Some(&Some(b"r".to_vec())));
        let gone =
            |c: ClientId| matches!(c, ClientId::Host { incarnation, .. } if incarnation.0 < 9);
        let leaving = t.departures(&gone, &|_| false);
        assert_eq!(leaving, vec![old]);
        t.depart(&leaving);
        assert_eq!(t.len(), 1);
        // A late copy of the old process's request, or a new one: refused.
        assert!(t.is_duplicate(request(old, 1)));
        assert!(t.is_duplicate(request(old, 2)));
        assert!(!t.is_duplicate(request(live, 2)));
        t.executed(request(old, 2), 1, false);
        assert_eq!(t.len(), 1, "a refused command leaves no record");
        assert!(t.departures(&gone, &|_| false).is_empty());
        let (records, departed) = t.to_parts();
        assert_eq!(ClientTable::from_parts(records, departed), t);
    }
}
