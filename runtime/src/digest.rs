//! A fast, non-cryptographic 64-bit content digest (FNV-1a over 8-byte words),
//! equal on every replica for equal content: log entries and the key-value
//! store's state are compared across replicas with it.
//!
//! Word-wise rather than byte-wise: a replica digests every entry it executes
//! and a whole state on every checkpoint, so a 16 MiB entry or a 64 MiB state
//! must cost milliseconds, not the hundreds a byte at a time costs.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// The running digest.
#[derive(Clone)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(OFFSET)
    }

    pub(crate) fn byte(&mut self, b: u8) {
        self.u64(u64::from(b));
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(PRIME);
    }

    /// Length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub(crate) fn bytes(&mut self, bs: &[u8]) {
        self.u64(bs.len() as u64);
        let mut words = bs.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.u64(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.u64(u64::from_le_bytes(word));
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv;

    fn of(parts: &[&[u8]]) -> u64 {
        let mut h = Fnv::new();
        for p in parts {
            h.bytes(p);
        }
        h.finish()
    }

    #[test]
    fn boundaries_and_every_byte_count() {
        assert_ne!(of(&[b"ab", b"c"]), of(&[b"a", b"bc"]));
        assert_ne!(of(&[b"a"]), of(&[b"a\0"]));
        assert_ne!(of(&[b""]), of(&[]));
        // A change in any byte of a value, tail included, changes the digest.
        let base: Vec<u8> = (0..21u8).collect();
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i] ^= 1;
            assert_ne!(of(&[&base]), of(&[&changed]), "byte {i}");
        }
        assert_eq!(of(&[&base]), of(&[&base]));
    }
}
