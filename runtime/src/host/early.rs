//! Group messages that reached this host before its replica of the group
//! existed: kept briefly, then handed to the replica when the host creates it.
//!
//! The members of a new server (or a recruit) learn its view from the view
//! service at slightly different moments, and a starter probes the server as
//! soon as its own host learned the view. A probe or protocol message that
//! reaches a member just before that member learned the view used to be
//! dropped, and the step then waited a whole retransmission period. The
//! buffer is bounded in messages, in bytes and in age (a sender retransmits
//! what is older anyway), so no peer can make it grow; what it evicts counts
//! as dropped.

use crate::group::GroupMessage;
use crate::types::{GroupId, Micros, ReplicaId};
use std::collections::VecDeque;

/// Most messages kept at once.
pub const EARLY_MESSAGES_MAX: usize = 256;
/// Most payload bytes ([`GroupMessage::bulk_bytes`]) kept at once.
pub const EARLY_BYTES_MAX: usize = 1 << 20;

struct Early {
    at: Micros,
    from: ReplicaId,
    msg: GroupMessage,
    bytes: usize,
}

/// The messages kept, oldest first, each for at most `max_age`.
pub struct EarlyMessages {
    max_age: Micros,
    queue: VecDeque<Early>,
    bytes: usize,
}

impl EarlyMessages {
    /// Keeps messages for at most `max_age` (a sender's retry period).
    pub fn new(max_age: Micros) -> EarlyMessages {
        EarlyMessages {
            max_age,
            queue: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Keeps `msg` from `from` (received at `now`). Returns how many
    /// messages were dropped to stay within the bounds (`msg` itself when it
    /// alone is over the byte bound).
    pub fn keep(&mut self, now: Micros, from: ReplicaId, msg: GroupMessage) -> u64 {
        let mut dropped = self.expire(now);
        let bytes = msg.bulk_bytes();
        if bytes > EARLY_BYTES_MAX {
            return dropped + 1;
        }
        while self.queue.len() >= EARLY_MESSAGES_MAX || self.bytes + bytes > EARLY_BYTES_MAX {
            let Some(old) = self.queue.pop_front() else {
                break;
            };
            self.bytes -= old.bytes;
            dropped += 1;
        }
        self.bytes += bytes;
        self.queue.push_back(Early {
            at: now,
            from,
            msg,
            bytes,
        });
        debug_assert!(self.queue.len() <= EARLY_MESSAGES_MAX && self.bytes <= EARLY_BYTES_MAX);
        dropped
    }

    /// Removes and returns the messages kept for `group`, oldest first, and
    /// how many too old were dropped on the way.
    pub fn take(&mut self, now: Micros, group: GroupId) -> (Vec<(ReplicaId, GroupMessage)>, u64) {
        let dropped = self.expire(now);
        if self.queue.is_empty() {
            return (Vec::new(), dropped);
        }
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for early in self.queue.drain(..) {
            if early.msg.group() == group {
                self.bytes -= early.bytes;
                taken.push((early.from, early.msg));
            } else {
                kept.push_back(early);
            }
        }
        self.queue = kept;
        (taken, dropped)
    }

    /// Drops the messages older than `max_age`; returns how many.
    fn expire(&mut self, now: Micros) -> u64 {
        let mut dropped = 0;
        let max_age = self.max_age;
        while self
            .queue
            .front()
            .is_some_and(|e| e.at.saturating_add(max_age) < now)
        {
            if let Some(old) = self.queue.pop_front() {
                self.bytes -= old.bytes;
                dropped += 1;
            }
        }
        dropped
    }

    /// Messages kept now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{HostId, Incarnation};

    fn from(host: u32) -> ReplicaId {
        ReplicaId {
            host: HostId(host),
            incarnation: Incarnation(1),
        }
    }

    fn probe(group: u64) -> GroupMessage {
        GroupMessage::ReadyProbe {
            group: GroupId(group),
        }
    }

    #[test]
    fn a_group_gets_its_messages_in_order_and_the_others_stay() {
        let mut early = EarlyMessages::new(100);
        assert_eq!(early.keep(0, from(1), probe(7)), 0);
        assert_eq!(early.keep(1, from(2), probe(8)), 0);
        assert_eq!(early.keep(2, from(3), probe(7)), 0);
        let (taken, dropped) = early.take(3, GroupId(7));
        assert_eq!(dropped, 0);
        let senders: Vec<HostId> = taken.iter().map(|(f, _)| f.host).collect();
        assert_eq!(senders, vec![HostId(1), HostId(3)]);
        assert_eq!(early.len(), 1);
        assert_eq!(early.take(4, GroupId(7)).0.len(), 0);
        assert_eq!(early.take(4, GroupId(8)).0.len(), 1);
    }

    #[test]
    fn old_messages_expire_and_the_bounds_hold() {
        let mut early = EarlyMessages::new(100);
        early.keep(0, from(1), probe(7));
        // At 101 the first message is older than the age bound.
        let (taken, dropped) = early.take(101, GroupId(7));
        assert!(taken.is_empty());
        assert_eq!(dropped, 1);
        let mut evicted = 0;
        for i in 0..EARLY_MESSAGES_MAX as u64 + 10 {
            evicted += early.keep(200, from(1), probe(i));
        }
        assert_eq!(evicted, 10);
        assert_eq!(early.len(), EARLY_MESSAGES_MAX);
        // The oldest went first.
        assert!(early.take(200, GroupId(0)).0.is_empty());
        let big = GroupMessage::Request {
            group: GroupId(1),
            request: crate::types::RequestId {
                client: crate::types::ClientId::Host {
                    host: HostId(1),
                    incarnation: Incarnation(1),
                    local: 0,
                },
                seq: 1,
            },
            payload: vec![0; EARLY_BYTES_MAX + 1],
            low_water: 1,
        };
        assert_eq!(
            early.keep(200, from(1), big),
            1,
            "over the byte bound alone"
        );
        assert_eq!(early.len(), EARLY_MESSAGES_MAX);
    }
}
