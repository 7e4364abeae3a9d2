//! One client's executed requests and their kept replies, in request order:
//! a short window (the client's outstanding calls) that grows at the back and
//! is forgotten from the front, so it is a sorted ring buffer, not a tree.
//!
//! It is part of the replicated state and travels in state transfers and
//! checkpoints encoded exactly as a map from request number to reply.

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};

/// Request number → `Some(reply)`, or `None` while its method runs.
/// Invariant: numbers strictly increasing from front to back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutedReplies {
    entries: VecDeque<(u64, Option<Vec<u8>>)>,
}

impl ExecutedReplies {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, seq: u64) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&seq, |(s, _)| *s)
    }

    pub fn contains_key(&self, seq: &u64) -> bool {
        self.position(*seq).is_ok()
    }

    pub fn get(&self, seq: &u64) -> Option<&Option<Vec<u8>>> {
        let at = self.position(*seq).ok()?;
        self.entries.get(at).map(|(_, reply)| reply)
    }

    pub fn get_mut(&mut self, seq: &u64) -> Option<&mut Option<Vec<u8>>> {
        let at = self.position(*seq).ok()?;
        self.entries.get_mut(at).map(|(_, reply)| reply)
    }

    /// Records `seq` (replacing what it held); usually the newest number.
    pub fn insert(&mut self, seq: u64, reply: Option<Vec<u8>>) {
        if self.entries.back().is_none_or(|(last, _)| *last < seq) {
            self.entries.push_back((seq, reply));
            return;
        }
        match self.position(seq) {
            Ok(at) => self.entries[at].1 = reply,
            Err(at) => self.entries.insert(at, (seq, reply)),
        }
    }

    /// Forgets every request numbered below `low_water`.
    pub fn forget_below(&mut self, low_water: u64) {
        while self
            .entries
            .front()
            .is_some_and(|(seq, _)| *seq < low_water)
        {
            self.entries.pop_front();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Option<Vec<u8>>)> {
        self.entries.iter().map(|(seq, reply)| (seq, reply))
    }

    pub fn values(&self) -> impl Iterator<Item = &Option<Vec<u8>>> {
        self.entries.iter().map(|(_, reply)| reply)
    }
}

impl FromIterator<(u64, Option<Vec<u8>>)> for ExecutedReplies {
    fn from_iter<I: IntoIterator<Item = (u64, Option<Vec<u8>>)>>(iter: I) -> Self {
        let sorted: BTreeMap<u64, Option<Vec<u8>>> = iter.into_iter().collect();
        ExecutedReplies {
            entries: sorted.into_iter().collect(),
        }
    }
}

impl Serialize for ExecutedReplies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for ExecutedReplies {
    /// Read as a map, so a transferred table is sorted and without repeats
    /// whatever its sender wrote.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<u64, Option<Vec<u8>>>::deserialize(deserializer)?;
        Ok(ExecutedReplies {
            entries: map.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(e: &ExecutedReplies) -> Vec<u64> {
        e.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn kept_in_order_whatever_the_order_of_execution() {
        let mut e = ExecutedReplies::default();
        for seq in [3, 4, 1, 7, 5] {
            e.insert(seq, None);
        }
        assert_eq!(seqs(&e), [1, 3, 4, 5, 7]);
        e.insert(4, Some(b"four".to_vec()));
        assert_eq!(e.get(&4), Some(&Some(b"four".to_vec())));
        assert_eq!(e.len(), 5);
        assert!(e.contains_key(&7) && !e.contains_key(&6));
        *e.get_mut(&7).unwrap() = Some(b"seven".to_vec());
        e.forget_below(4);
        assert_eq!(seqs(&e), [4, 5, 7]);
        assert_eq!(e.get(&3), None);
        e.forget_below(100);
        assert!(e.is_empty());
    }

    #[test]
    fn encoded_exactly_as_the_map_it_replaces() {
        let pairs = [(2, Some(b"b".to_vec())), (9, None), (1, Some(vec![]))];
        let e: ExecutedReplies = pairs.iter().cloned().collect();
        let map: BTreeMap<u64, Option<Vec<u8>>> = pairs.iter().cloned().collect();
        let bytes = postcard::to_allocvec(&e).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&map).unwrap());
        let back: ExecutedReplies = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, e);
        // An unsorted encoding from a peer comes back sorted.
        let unsorted: Vec<(u64, Option<Vec<u8>>)> = vec![(5, None), (3, None)];
        let bytes = postcard::to_allocvec(&unsorted).unwrap();
        let back: ExecutedReplies = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(seqs(&back), [3, 5]);
    }
}
