//! Benchmark over real kernel processes on loopback: single-client latency,
//! saturated throughput and failover time of the replicated key-value server
//! under `correct`, `crash tolerate (1)` and `crash tolerate (2)`.
//!
//! ```text
//! cargo run --release -p ftc-runtime --bin ftbench [-- --kernels 4 --seconds 3 --clients 16 --window 32]
//! cargo run --release -p ftc-runtime --bin ftbench -- --transport   # the transport alone
//! cargo run --release -p ftc-runtime --bin ftbench -- --soak [--minutes 10]   # see soak.rs
//! ```
//!
//! The binary is also its own kernel: the launcher runs `ftbench --kernel …`.

mod soak;

use ftc_runtime::app::AppFactory;
use ftc_runtime::cluster::{ClusterConfig, LocalCluster, LocalClusterOptions};
use ftc_runtime::host::Trace;
use ftc_runtime::kernel::{
    serve_until_terminated, Kernel, KernelArgs, KernelHandle, TaggedCall, TraceSink,
    FIRST_INCARNATION,
};
use ftc_runtime::kv_app::{KvCommand, KvFactory, KV_CLASS};
use ftc_runtime::types::{GroupId, GroupView, HostId, Model, ServerSpec};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    kernels: u32,
    seconds: u64,
    clients: u64,
    /// Calls each throughput client keeps outstanding (1: closed loop).
    window: u64,
    latency_calls: u64,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        kernels: 4,
        seconds: 3,
        clients: 16,
        window: 32,
        latency_calls: 500,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a number"))?;
            v.parse().map_err(|_| format!("{name} {v}: not a number"))
        };
        match a.as_str() {
            "--kernels" => o.kernels = value("--kernels")? as u32,
            "--seconds" => o.seconds = value("--seconds")?,
            "--clients" => o.clients = value("--clients")?,
            "--window" => o.window = value("--window")?.max(1),
            "--latency-calls" => o.latency_calls = value("--latency-calls")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.kernels < 3 {
        return Err("--kernels must be at least 3 (crash tolerate (2) needs 3 replicas)".into());
    }
    Ok(o)
}

struct Bench {
    cluster: LocalCluster,
    kernel: Kernel,
    views: Arc<Mutex<Vec<GroupView>>>,
}

impl Bench {
    fn start(kernels: u32) -> Result<Bench, String> {
        let binary = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cluster = LocalCluster::prepare(
            &binary,
            LocalClusterOptions {
                kernels,
                main_host: true,
                ..LocalClusterOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel();
        let mut config = cluster
            .kernel_config(HostId(0))
            .map_err(|e| e.to_string())?;
        config.trace = TraceSink::Views(tx);
        config.incarnation = Some(FIRST_INCARNATION);
        let kernel = Kernel::start(config, Arc::new(KvFactory)).map_err(|e| e.to_string())?;
        // This process's kernel (h0) boots with the kernel processes.
        cluster.start_kernels().map_err(|e| e.to_string())?;
        let views = Arc::new(Mutex::new(Vec::new()));
        let v = views.clone();
        std::thread::spawn(move || {
            for t in rx {
                if let Trace::ViewInstalled { view, .. } = t {
                    if let Ok(mut views) = v.lock() {
                        views.push(view);
                    }
                }
            }
        });
        Ok(Bench {
            cluster,
            kernel,
            views,
        })
    }

    fn handle(&self) -> KernelHandle {
        self.kernel.handle()
    }

    fn start_kv(&self, model: Model, tolerate: u32) -> Result<GroupId, String> {
        // Replicas on kernel processes, not on the benchmark's own host.
        let hosts = (1..=tolerate + 1).map(HostId).collect();
        self.handle().start_server(ServerSpec {
            class: KV_CLASS.into(),
            model,
            tolerate,
            replicas: 0,
            hosts,
            disjoint_key: None,
            priority: 0,
            durable: None,
        })
    }

    /// The hosts of the group's newest view, sequencer first.
    fn members(&self, group: GroupId) -> Vec<HostId> {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(views) = self.views.lock() {
                if let Some(v) = views
                    .iter()
                    .filter(|v| v.group == group)
                    .max_by_key(|v| v.view_id)
                {
                    return v.members.iter().map(|m| m.host).collect();
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Vec::new()
    }

    fn sequencer(&self, group: GroupId) -> Option<HostId> {
        self.members(group).first().copied()
    }
}

fn put(i: u64) -> Vec<u8> {
    KvCommand::Put {
        key: format!("k{}", i % 16),
        value: i.to_string(),
    }
    .encode()
}

fn percentile(sorted_us: &[u64], p: f64) -> u64 {
    if sorted_us.is_empty() {
        return 0;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us[i.min(sorted_us.len() - 1)]
}

/// (p50 µs, p99 µs) of sequential calls by one client.
fn latency(h: &KernelHandle, group: GroupId, calls: u64) -> Result<(u64, u64), String> {
    let me = h.new_client_id();
    let mut samples = Vec::with_capacity(calls as usize);
    for i in 0..calls {
        let t = Instant::now();
        h.call(me, group, put(i)).map_err(|e| e.to_string())?;
        samples.push(t.elapsed().as_micros() as u64);
    }
    samples.sort_unstable();
    Ok((percentile(&samples, 0.50), percentile(&samples, 0.99)))
}

/// Completed calls per second with `clients` clients, each keeping `window`
/// calls outstanding (pipelined; `window` 1 is a closed loop). One thread drives
/// them all through [`KernelHandle::call_batch`]: it takes every answer that has
/// arrived and submits as many new calls in one batch.
fn throughput(h: &KernelHandle, group: GroupId, clients: u64, window: u64, seconds: u64) -> f64 {
    let (tx, rx) = mpsc::channel();
    let ids: Vec<_> = (0..clients).map(|_| h.new_client_id()).collect();
    let mut next = vec![0u64; ids.len()];
    let mut call = |c: usize| {
        next[c] += 1;
        TaggedCall {
            client: ids[c],
            group,
            payload: put(c as u64 * 1_000_000 + next[c]),
            tag: c as u64,
        }
    };
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
    // Let the outstanding calls finish before the next measurement.
    let drain_until = Instant::now() + Duration::from_secs(10);
    let mut outstanding = ids.len() as u64 * window;
    while outstanding > 0 && Instant::now() < drain_until {
        if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
            outstanding -= 1;
        }
    }
    done as f64 / elapsed
}

/// Kills the sequencer's kernel under load; returns the time from the kill to
/// the next completed call, and the longest gap between completions.
fn failover(
    bench: &mut Bench,
    group: GroupId,
    clients: u64,
) -> Result<(Duration, Duration), String> {
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
    let next = times
        .iter()
        .find(|t| **t > killed_at)
        .ok_or("no call completed after the kill")?;
    // The longest pause in completions that ended after the kill.
    let max_gap = times
        .windows(2)
        .filter(|w| w[1] > killed_at)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    Ok((*next - killed_at, max_gap))
}

fn run(o: &Options) -> Result<(), String> {
    println!(
        "ftbench: {} kernel processes + this process on 127.0.0.1, {} s per throughput run, {} clients x {} outstanding calls",
        o.kernels, o.seconds, o.clients, o.window
    );
    let mut bench = Bench::start(o.kernels)?;
    let configs = [
        ("correct", Model::Correct, 0),
        ("crash tolerate(1)", Model::Crash, 1),
        ("crash tolerate(2)", Model::Crash, 2),
    ];
    let mut results = Vec::new();
    for (name, model, t) in configs {
        let group = bench.start_kv(model, t)?;
        let h = bench.handle();
        let (p50, p99) = latency(&h, group, o.latency_calls)?;
        let ops = throughput(&h, group, o.clients, o.window, o.seconds);
        let hosts: Vec<String> = bench
            .members(group)
            .iter()
            .map(|h| format!("h{}", h.0))
            .collect();
        println!(
            "{name:<18} on [{}]: latency p50 {p50:>6} us  p99 {p99:>6} us  throughput {ops:>9.0} calls/s",
            hosts.join(",")
        );
        results.push((name, p50, ops));
    }
    let (_, base_p50, base_ops) = results[0];
    for (name, p50, ops) in &results[1..] {
        println!(
            "{name:<18} vs correct: latency x{:.2}, throughput x{:.2}",
            *p50 as f64 / base_p50.max(1) as f64,
            ops / base_ops.max(1e-9)
        );
    }
    let group = bench.start_kv(Model::Crash, 1)?;
    let (next, gap) = failover(&mut bench, group, o.clients.min(8))?;
    println!(
        "failover (crash tolerate(1), sequencer SIGKILLed under load): first completion after the kill {} ms, longest pause in completions {} ms",
        next.as_millis(),
        gap.as_millis()
    );
    Ok(())
}

/// One-way message rate between two transports in this process.
fn transport_only() -> Result<(), String> {
    use ftc_runtime::message::Message;
    use ftc_runtime::transport::{DeliverFn, Transport, TransportConfig, TransportTuning};
    use ftc_runtime::types::Incarnation;
    use std::net::TcpListener;
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string());
    let (la, lb) = (bind()?, bind()?);
    let peers: std::collections::BTreeMap<HostId, std::net::SocketAddr> = [
        (HostId(0), la.local_addr().map_err(|e| e.to_string())?),
        (HostId(1), lb.local_addr().map_err(|e| e.to_string())?),
    ]
    .into_iter()
    .collect();
    let (cluster, keys) =
        ClusterConfig::with_fresh_keys(peers.clone()).map_err(|e| e.to_string())?;
    let config = |me: u32| TransportConfig {
        me: HostId(me),
        incarnation: Incarnation(1),
        peers: peers.clone(),
        identity: keys[&HostId(me)].clone(),
        peer_keys: cluster.keys.clone(),
        tuning: TransportTuning::default(),
    };
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    let deliver_b: DeliverFn = Arc::new(move |batch| {
        r.fetch_add(batch.len() as u64, Ordering::Relaxed);
        true
    });
    let deliver_a: DeliverFn = Arc::new(|_| true);
    let a = Transport::start(config(0), la, deliver_a).map_err(|e| e.to_string())?;
    let _b = Transport::start(config(1), lb, deliver_b).map_err(|e| e.to_string())?;
    let total: u64 = 1_000_000;
    let started = Instant::now();
    let mut sent = 0;
    while sent < total && started.elapsed() < Duration::from_secs(30) {
        let msg = Message::Heartbeat {
            incarnation: Incarnation(sent),
        };
        if a.send(HostId(1), Incarnation(1), msg) {
            sent += 1;
        } else {
            std::thread::yield_now();
        }
    }
    while received.load(Ordering::Relaxed) < sent && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = a.stats();
    println!(
        "transport: {} messages in {:.2} s = {:.0} msg/s one way; {} writes ({:.1} messages per write)",
        received.load(Ordering::Relaxed),
        elapsed,
        received.load(Ordering::Relaxed) as f64 / elapsed,
        stats.batches_written,
        stats.messages_sent as f64 / stats.batches_written.max(1) as f64
    );
    Ok(())
}

/// A benchmark kernel's command line: `--kernel [--soak]` and the kernel's flags.
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct BenchKernel {
    #[arg(long)]
    kernel: bool,
    /// Also serve the soak's proxy server class.
    #[arg(long)]
    soak: bool,
    #[command(flatten)]
    args: KernelArgs,
}

fn main() -> ExitCode {
    use clap::Parser;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--kernel") {
        // The soak's kernels also run its proxy server class.
        let apps: Arc<dyn AppFactory> = if args.iter().any(|a| a == "--soak") {
            soak::apps()
        } else {
            Arc::new(KvFactory)
        };
        let kernel = match BenchKernel::try_parse_from(&args) {
            Ok(k) => k,
            // Unknown or malformed flags: clap's message and exit code 2.
            Err(e) => e.exit(),
        };
        let result = serve_until_terminated(&kernel.args, apps);
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ftbench --kernel: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // The benchmark's own kernel logs to stderr.
    let _ = ftc_runtime::logging::init(None);
    if args.iter().any(|a| a == "--soak") {
        return match soak::parse_options(&args).and_then(|o| soak::run(&o)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("ftbench --soak: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.iter().any(|a| a == "--transport") {
        return match transport_only() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ftbench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match parse_options(&args).and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftbench: {e}");
            ExitCode::FAILURE
        }
    }
}
