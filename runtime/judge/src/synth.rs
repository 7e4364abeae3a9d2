//! Synthetic concurrent histories of an atomic key-value store, seeded, for
//! measuring what the judge can decide within a budget.
//!
//! Each client issues operations back to back on random keys; every
//! operation takes effect at a random instant inside its interval, against a
//! reference map, so the history is linearizable unless it is corrupted.

use std::collections::BTreeMap;

use crate::history::{OpKind, Operation};

/// The shape of a synthetic history.
///
/// ```
/// let shape = ftc_judge::synth::Shape { clients: 3, keys: 1, ops: 50, info_percent: 0, appends: true, corrupt: false };
/// let history = ftc_judge::synth::history(&shape, 7);
/// assert_eq!(history.len(), 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Concurrent clients (each has at most one operation open).
    pub clients: u64,
    /// Keys the operations are spread over.
    pub keys: u64,
    /// Total operations.
    pub ops: usize,
    /// Percentage of writes whose outcome is reported unknown (`info`).
    pub info_percent: u64,
    /// Whether a third of the operations are appends (else puts).
    pub appends: bool,
    /// Change the result of one read, late in the history, to a value nobody
    /// wrote, making it not linearizable.
    pub corrupt: bool,
}

/// A small seeded generator (xorshift64*), so every history replays from
/// its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    ///
    /// ```
    /// let mut rng = ftc_judge::synth::Rng::new(1);
    /// assert!(rng.below(10) < 10);
    /// ```
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// A value in `0..n` (`n` > 0).
    ///
    /// ```
    /// let mut rng = ftc_judge::synth::Rng::new(2);
    /// assert_eq!(rng.below(1), 0);
    /// ```
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// Generates a history of `shape` from `seed`: a third gets, the rest puts
/// and (if `shape.appends`) appends, with unique written values.
///
/// ```
/// use std::time::Duration;
/// use ftc_judge::synth::{history, Shape};
/// let shape = Shape { clients: 3, keys: 2, ops: 100, info_percent: 0, appends: true, corrupt: false };
/// let verdict = ftc_judge::check_kv(&history(&shape, 1), Duration::from_secs(10));
/// assert_eq!(verdict, ftc_judge::Verdict::Linearizable);
/// ```
pub fn history(shape: &Shape, seed: u64) -> Vec<Operation> {
    let mut rng = Rng::new(seed);
    let clients = shape.clients.max(1);
    let mut next_free = vec![0u64; clients as usize];
    // (effect time, index, client, key, call, ret, kind)
    let mut planned = Vec::with_capacity(shape.ops);
    for index in 0..shape.ops {
        let client = rng.below(clients) as usize;
        let call = next_free[client] + rng.below(5);
        let ret = call + 1 + rng.below(40);
        next_free[client] = ret + 1;
        let effect = call + rng.below(ret - call + 1);
        let key = format!("k{}", rng.below(shape.keys));
        planned.push((effect, index, client as u64, key, call, ret, rng.below(3)));
    }
    planned.sort();
    let mut reference: BTreeMap<String, String> = BTreeMap::new();
    let mut corrupted = !shape.corrupt;
    let mut ops = Vec::with_capacity(shape.ops);
    for (position, (_, index, client, key, call, ret, kind)) in planned.into_iter().enumerate() {
        let info = rng.below(100) < shape.info_percent;
        let write_ret = if info { None } else { Some(ret) };
        let op = match kind {
            0 => {
                let mut get = Operation::get(client, &key, None, call, Some(ret));
                get.out = reference.get(&key).cloned();
                if !corrupted && position >= 3 * shape.ops / 4 {
                    get.out = Some("a value nobody wrote".to_string());
                    corrupted = true;
                }
                get
            }
            1 | 2 if kind == 1 || !shape.appends => {
                let value = format!("v{index}");
                reference.insert(key.clone(), value.clone());
                Operation::put(client, &key, &value, call, write_ret)
            }
            _ => {
                let suffix = format!("{index};");
                reference.entry(key.clone()).or_default().push_str(&suffix);
                Operation::append(client, &key, &suffix, call, write_ret)
            }
        };
        ops.push(op);
    }
    if !corrupted {
        let bogus = Some("a value nobody wrote".to_string());
        match ops.iter().rposition(|op| op.kind == OpKind::Get) {
            Some(last_get) => ops[last_get].out = bogus,
            None => {
                let end = ops.iter().filter_map(|op| op.ret).max().unwrap_or(0) + 1;
                let mut get = Operation::get(0, "k0", None, end, Some(end + 1));
                get.out = bogus;
                ops.push(get);
            }
        }
    }
    ops
}
