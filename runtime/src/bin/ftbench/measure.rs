//! The measurements over the benchmark's cluster: single-client latency, its
//! floor (a bare echo between two kernels), saturated throughput and failover
//! time.

use crate::{cpu, Bench};
use ftc_runtime::kernel::{KernelHandle, TaggedCall};
use ftc_runtime::kv_app::KvCommand;
use ftc_runtime::types::{GroupId, HostId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the floor waits for one echo (an echo is never retransmitted).
const ECHO_TIMEOUT: Duration = Duration::from_secs(2);

pub fn put(i: u64) -> Vec<u8> {
    KvCommand::Put {
        key: format!("k{}", i % 16),
        value: i.to_string(),
    }
    .encode()
}

/// Latency samples in microseconds.
#[derive(Default)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// The `p` quantile (0..=1), 0 when there is no sample.
    pub fn percentile(&self, p: f64) -> u64 {
        quantile(&self.sorted(), p)
    }

    pub fn p50(&self) -> u64 {
        self.percentile(0.50)
    }

    pub fn p99(&self) -> u64 {
        self.percentile(0.99)
    }

    /// The samples in increasing order.
    pub fn sorted(&self) -> Vec<u64> {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        sorted
    }
}

/// The `p` quantile (0..=1) of samples in increasing order, 0 when there is none.
pub fn quantile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl From<Vec<u64>> for Samples {
    fn from(samples: Vec<u64>) -> Samples {
        Samples(samples)
    }
}

/// What the failover run saw, in ms from the kill.
pub struct FailoverRun {
    /// Service resumed: the end of the longest pause in completions that
    /// ended after the kill.
    pub resumed_ms: f64,
    /// The longest pause in completions that ended after the kill.
    pub gap_ms: f64,
    /// Every completion, before and after the kill.
    pub completions_ms: Vec<f64>,
}

/// Sequential calls by one client to `group`, in microseconds.
pub fn latency(h: &KernelHandle, group: GroupId, calls: u64) -> Result<Samples, String> {
    let me = h.new_client_id();
    let mut samples = Vec::with_capacity(calls as usize);
    for i in 0..calls {
        let t = Instant::now();
        h.call(me, group, put(i)).map_err(|e| e.to_string())?;
        samples.push(t.elapsed().as_micros() as u64);
    }
    Ok(Samples(samples))
}

/// The floor: sequential echoes from this kernel to `to` and back, each with
/// the bytes of a call's argument (the same transport and core loops as a
/// call, no protocol, no application). Taken as a block of their own: an echo
/// right after a call would compete with the rest of that call's work on the
/// cores (its execution trace, the client's bookkeeping), which a call right
/// after another call also does, but the floor must not.
pub fn floor(h: &KernelHandle, to: HostId, echoes: u64) -> Result<Samples, String> {
    let mut samples = Vec::with_capacity(echoes as usize);
    for i in 0..echoes {
        let t = Instant::now();
        match h.echo(to, put(i)).wait_timeout(ECHO_TIMEOUT) {
            Some(Ok(_)) => samples.push(t.elapsed().as_micros() as u64),
            Some(Err(e)) => return Err(format!("echo to h{}: {e}", to.0)),
            None => return Err(format!("echo to h{}: no answer", to.0)),
        }
    }
    Ok(Samples(samples))
}

/// Completed calls per second with `clients` clients, each keeping `window`
/// calls outstanding (pipelined; `window` 1 is a closed loop), spread over
/// `groups` (client `c` calls `groups[c % len]`). One thread drives them all
/// through [`KernelHandle::call_batch`]: it takes every answer that has
/// arrived and submits as many new calls in one batch. With a `meter`, also
/// the CPU time per completed call of each host it reads, over the same
/// interval.
pub fn throughput(
    h: &KernelHandle,
    groups: &[GroupId],
    clients: u64,
    window: u64,
    seconds: u64,
    meter: Option<&cpu::Meter>,
) -> (f64, Option<cpu::PerCall>) {
    if groups.is_empty() {
        return (0.0, None);
    }
    let (tx, rx) = mpsc::channel();
    let ids: Vec<_> = (0..clients).map(|_| h.new_client_id()).collect();
    let mut next = vec![0u64; ids.len()];
    let mut call = |c: usize| {
        next[c] += 1;
        TaggedCall {
            client: ids[c],
            group: groups[c % groups.len()],
            payload: put(c as u64 * 1_000_000 + next[c]),
            tag: c as u64,
        }
    };
    let cpu_start = meter.and_then(|m| m.read());
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let first: Vec<_> = (0..ids.len())
        .flat_map(|c| std::iter::repeat_n(c, window as usize))
        .map(&mut call)
        .collect();
    h.call_batch(first, &tx);
    let mut done: u64 = 0;
    let mut batch = Vec::new();
    while Instant::now() < until {
        let Ok(first) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        for (tag, result) in std::iter::once(first).chain(rx.try_iter()) {
            if result.is_ok() {
                done += 1;
            }
            batch.push(call(tag as usize));
        }
        h.call_batch(std::mem::take(&mut batch), &tx);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (meter, cpu_start, meter.and_then(|m| m.read())) {
        (Some(m), Some(start), Some(end)) => Some(m.per_call(&start, &end, done)),
        _ => None,
    };
    // Let the outstanding calls finish before the next measurement.
    let drain_until = Instant::now() + Duration::from_secs(10);
    let mut outstanding = ids.len() as u64 * window;
    while outstanding > 0 && Instant::now() < drain_until {
        if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
            outstanding -= 1;
        }
    }
    (done as f64 / elapsed, cpu)
}

/// Kills the sequencer's kernel under load; returns when service resumed (the
/// end of the longest pause in completions after the kill), that pause, and
/// every completion's time.
pub fn failover(bench: &mut Bench, group: GroupId, clients: u64) -> Result<FailoverRun, String> {
    let victim = bench.sequencer(group).ok_or("no view of the group")?;
    let h = bench.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let completions = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let h = h.clone();
            let stop = stop.clone();
            let completions = completions.clone();
            std::thread::spawn(move || {
                let me = h.new_client_id();
                let mut i = c * 1_000_000;
                let until = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    if h.call(me, group, put(i)).is_ok() {
                        if let Ok(mut v) = completions.lock() {
                            v.push(Instant::now());
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let killed_at = Instant::now();
    bench.cluster.kill(victim);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let mut times = completions.lock().map_err(|e| e.to_string())?.clone();
    times.sort_unstable();
    // The longest pause in completions that ended after the kill: calls
    // already answered when the kill came may still complete just after it,
    // so the failover is where that pause ends, not the first completion.
    let (paused, resumed) = times
        .windows(2)
        .filter(|w| w[1] > killed_at)
        .map(|w| (w[0], w[1]))
        .max_by_key(|(a, b)| *b - *a)
        .ok_or("no call completed after the kill")?;
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let completions_ms = times
        .iter()
        .map(|t| match t.checked_duration_since(killed_at) {
            Some(after) => ms(after),
            None => -ms(killed_at - *t),
        })
        .collect();
    Ok(FailoverRun {
        resumed_ms: ms(resumed - killed_at),
        gap_ms: ms(resumed - paused),
        completions_ms,
    })
}
