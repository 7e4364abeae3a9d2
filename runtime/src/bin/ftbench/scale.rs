//! Many small servers at once: `--groups N` key-value servers under `crash
//! tolerate (1)`, spread round-robin over the running kernel processes, their
//! aggregate throughput (one client per server, one call outstanding each),
//! the time one start takes (the first few are started one at a time) and
//! the memory they cost (the kernels' resident memory before and after
//! creating them, divided by `N`).

use crate::{measure, Bench, Options};
use ftc_runtime::types::{GroupId, HostId, Model};
use std::sync::Mutex;
use std::time::Instant;

/// Threads that start the servers (each start waits for the view service).
const STARTERS: usize = 8;
/// Servers started one after another (each timed) before the others.
const SEQUENTIAL_STARTS: usize = 20;

pub fn many_groups(bench: &mut Bench, o: &Options) -> Result<(), String> {
    let hosts = bench.live_kernels();
    if hosts.len() < 2 {
        println!("{} servers skipped: fewer than 2 kernels running", o.groups);
        return Ok(());
    }
    let rss_before = bench.rss_kib(&hosts);
    let started = Instant::now();
    let mut groups = Vec::with_capacity(o.groups as usize);
    let mut one_at_a_time = Vec::new();
    let placed = placement(&hosts, o.groups);
    let (first, rest) = placed.split_at(placed.len().min(SEQUENTIAL_STARTS));
    for members in first {
        let t = Instant::now();
        groups.push(bench.start_kv_on(Model::Crash, 1, members.clone())?);
        one_at_a_time.push(t.elapsed().as_secs_f64() * 1e3);
    }
    groups.extend(start_spread(bench, rest)?);
    let start_s = started.elapsed().as_secs_f64();
    // Let the last starts settle (replicas allocate as they see their views).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let rss_started = bench.rss_kib(&hosts);
    let h = bench.handle();
    let (ops, _) = measure::throughput(&h, &groups, groups.len() as u64, 1, o.seconds, None);
    let rss_loaded = bench.rss_kib(&hosts);
    let names: Vec<String> = hosts.iter().map(|h| format!("h{}", h.0)).collect();
    println!(
        "{} servers crash tolerate(1) on [{}]: started in {start_s:.1} s ({:.0}/s); throughput {ops:.0} calls/s (one client each, one call outstanding)",
        groups.len(),
        names.join(","),
        groups.len() as f64 / start_s.max(1e-9)
    );
    one_at_a_time.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (one_at_a_time.first(), one_at_a_time.last()) {
        println!(
            "{} servers started one at a time first: {min:.1} ms to {max:.1} ms each (median {:.1} ms), from the call to the first member's ready notice",
            one_at_a_time.len(),
            one_at_a_time[one_at_a_time.len() / 2]
        );
    }
    let per_group = |after: Option<u64>| -> String {
        match (rss_before, after) {
            (Some(b), Some(a)) => format!(
                "{:.1} KiB",
                a.saturating_sub(b) as f64 / groups.len().max(1) as f64
            ),
            _ => "unknown".into(),
        }
    };
    println!(
        "{} servers memory: kernels' RSS {} -> {} KiB after starting ({} per server, 2 replicas), {} KiB after the load ({} per server)",
        groups.len(),
        rss_before.map_or("?".into(), |v| v.to_string()),
        rss_started.map_or("?".into(), |v| v.to_string()),
        per_group(rss_started),
        rss_loaded.map_or("?".into(), |v| v.to_string()),
        per_group(rss_loaded)
    );
    Ok(())
}

/// Where `count` servers go: server `i` on `hosts[i]` and `hosts[i + 1]`
/// (round-robin).
fn placement(hosts: &[HostId], count: u64) -> Vec<Vec<HostId>> {
    (0..count as usize)
        .map(|i| vec![hosts[i % hosts.len()], hosts[(i + 1) % hosts.len()]])
        .collect()
}

/// Starts a server on each of `placed` from [`STARTERS`] threads.
fn start_spread(bench: &Bench, placed: &[Vec<HostId>]) -> Result<Vec<GroupId>, String> {
    let groups = Mutex::new(Vec::with_capacity(placed.len()));
    let failure = Mutex::new(None);
    std::thread::scope(|s| {
        for starter in 0..STARTERS {
            let (placed, groups, failure) = (&placed, &groups, &failure);
            s.spawn(move || {
                for members in placed.iter().skip(starter).step_by(STARTERS) {
                    match bench.start_kv_on(Model::Crash, 1, members.clone()) {
                        Ok(g) => {
                            if let Ok(mut v) = groups.lock() {
                                v.push(g);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().map_err(|e| e.to_string())? {
        return Err(format!("starting the servers: {e}"));
    }
    groups.into_inner().map_err(|e| e.to_string())
}
