//! Benchmark over real kernel processes on loopback: single-client latency,
//! saturated throughput and failover time of the replicated key-value server
//! under `correct`, `crash tolerate (1..=4)` and `byzantine tolerate (1)`
//! (PBFT agreement among 4 replicas), every latency also as a
//! multiple of the floor (a bare echo between this process's kernel and the
//! sequencer's, [`measure::floor`]), and many small servers at once
//! ([`scale`]).
//!
//! ```text
//! cargo run --release -p ftc-runtime --bin ftbench [-- --kernels 5 --seconds 3 --clients 16 --window 32
//!     --latency-calls 500 --max-tolerate 4 --max-byzantine 1 --groups 1000 --svg ftbench.svg
//!     --busy-poll-us 50]
//! cargo run --release -p ftc-runtime --bin ftbench -- --transport   # the transport alone
//! cargo run --release -p ftc-runtime --bin ftbench -- --soak [--minutes 10]   # see soak.rs
//! ```
//!
//! `--max-tolerate T`: rows for `crash tolerate (1..=T)`; a row whose `T + 1`
//! replicas do not fit on the kernels is skipped with a line saying so.
//! `--max-byzantine T`: rows for `byzantine tolerate (1..=T)` (`3T + 1`
//! replicas; 0: none), each also compared with `crash tolerate (T)`.
//! `--groups N`: after the failover, `N` small `crash tolerate (1)` servers
//! spread over the surviving kernels, their aggregate throughput and the
//! kernels' memory per group (0: skip).
//! Under each throughput row, the CPU time per completed call of each host
//! (h0, the clients' host, also runs this driver), from [`cpu`]; a byzantine
//! row also says what its busiest replica's and the client host's time per
//! call would allow against the crash row with a machine per host.
//! `--svg FILE`: also draws the latency distributions and the failover's
//! completions over time ([`plot`]).
//! `--busy-poll-us N`: the cluster file's `[cluster] busy_poll_us` (0: every
//! core and caller sleeps as soon as it has nothing to do; the default is
//! `ftc_runtime::cluster::DEFAULT_BUSY_POLL_US`).
//!
//! The binary is also its own kernel: the launcher runs `ftbench --kernel …`.

mod cpu;
mod measure;
mod plot;
mod scale;
mod soak;

use measure::Samples;

use ftc_runtime::app::AppFactory;
use ftc_runtime::cluster::{ClusterConfig, LocalCluster, LocalClusterOptions};
use ftc_runtime::host::Trace;
use ftc_runtime::kernel::{
    serve_until_terminated, Kernel, KernelArgs, KernelHandle, TraceSink, FIRST_INCARNATION,
};
use ftc_runtime::kv_app::{KvFactory, KV_CLASS};
use ftc_runtime::types::{GroupId, GroupView, HostId, Model, ServerSpec};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    kernels: u32,
    seconds: u64,
    clients: u64,
    /// Calls each throughput client keeps outstanding (1: closed loop).
    window: u64,
    latency_calls: u64,
    /// Rows for `crash tolerate (1..=max_tolerate)`.
    max_tolerate: u32,
    /// Rows for `byzantine tolerate (1..=max_byzantine)`.
    max_byzantine: u32,
    /// Small servers of the scale row (0: no scale row).
    groups: u64,
    /// Where to write the picture of the run, if anywhere.
    svg: Option<std::path::PathBuf>,
    /// The cluster file's `[cluster] busy_poll_us` (`None`: the default).
    busy_poll_us: Option<u64>,
}

/// What `ftbench --help` prints: every flag of the benchmark, the soak's and
/// the transport's (the module documentation says what each measures).
const USAGE: &str = "\
usage: ftbench [--kernels N] [--seconds S] [--clients N] [--window N]
               [--latency-calls N] [--max-tolerate T] [--max-byzantine T]
               [--groups N] [--svg FILE] [--busy-poll-us US]
       ftbench --transport
       ftbench --soak [--minutes M | --seconds S] [--kernels N] [--clients N]
               [--rate CALLS_PER_S] [--fault-every S] [--down S]
               [--sample-every S] [--session-calls N] [--seed N]

  --kernels N          kernel processes besides the benchmark's own (default 5, at least 3)
  --seconds S          seconds per throughput run (default 3)
  --clients N          clients of a throughput run (default 16)
  --window N           calls each client keeps outstanding (default 32)
  --latency-calls N    sequential calls (and echoes) per latency row (default 500)
  --max-tolerate T     rows for crash tolerate (1..=T) (default 4)
  --max-byzantine T    rows for byzantine tolerate (1..=T) (default 1; 0: none)
  --groups N           small crash tolerate (1) servers after the failover (default 1000; 0: none)
  --svg FILE           also draw the latency distributions and the failover
  --busy-poll-us US    the cluster's busy_poll_us (0: cores sleep at once)
";

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        kernels: 5,
        seconds: 3,
        clients: 16,
        window: 32,
        latency_calls: 500,
        max_tolerate: 4,
        max_byzantine: 1,
        groups: 1000,
        svg: None,
        busy_poll_us: None,
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
            "--max-tolerate" => {
                o.max_tolerate = u32::try_from(value("--max-tolerate")?)
                    .map_err(|_| "--max-tolerate: too large".to_string())?
            }
            "--max-byzantine" => {
                o.max_byzantine = u32::try_from(value("--max-byzantine")?)
                    .map_err(|_| "--max-byzantine: too large".to_string())?
            }
            "--groups" => o.groups = value("--groups")?,
            "--busy-poll-us" => {
                let us = value("--busy-poll-us")?;
                if us > ftc_runtime::cluster::MAX_BUSY_POLL_US {
                    return Err(format!(
                        "--busy-poll-us: at most {}",
                        ftc_runtime::cluster::MAX_BUSY_POLL_US
                    ));
                }
                o.busy_poll_us = Some(us);
            }
            "--svg" => o.svg = Some(it.next().ok_or("--svg needs a file name")?.into()),
            other => {
                return Err(format!(
                    "unknown argument {other} (ftbench --help lists them)"
                ))
            }
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
    /// Every host's data directory (the durable row's disks; removed at the end).
    _data: tempfile::TempDir,
    next_durable: std::sync::atomic::AtomicU32,
}

impl Bench {
    fn start(kernels: u32, busy_poll_us: Option<u64>) -> Result<Bench, String> {
        let binary = std::env::current_exe().map_err(|e| e.to_string())?;
        let data = tempfile::tempdir().map_err(|e| format!("data directories: {e}"))?;
        let mut cluster = LocalCluster::prepare(
            &binary,
            LocalClusterOptions {
                kernels,
                main_host: true,
                data_root: Some(data.path().to_path_buf()),
                busy_poll_us,
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
        config.data_dir = Some(data.path().join("h0"));
        let kernel = Kernel::start(config, Arc::new(KvFactory)).map_err(|e| e.to_string())?;
        // This process's kernel (h0) boots with the kernel processes.
        cluster.start_kernels().map_err(|e| e.to_string())?;
        let views = Arc::new(Mutex::new(Vec::new()));
        let v = views.clone();
        std::thread::spawn(move || {
            for t in rx {
                if let Trace::ViewInstalled { view, .. } = t {
                    if let Ok(mut views) = v.lock() {
                        views.push(*view);
                    }
                }
            }
        });
        Ok(Bench {
            cluster,
            kernel,
            views,
            _data: data,
            next_durable: std::sync::atomic::AtomicU32::new(0),
        })
    }

    fn handle(&self) -> KernelHandle {
        self.kernel.handle()
    }

    fn start_kv(&self, model: Model, tolerate: u32) -> Result<GroupId, String> {
        // Replicas on kernel processes, not on the benchmark's own host.
        let replicas = ServerSpec::new(KV_CLASS, model, tolerate).replica_count();
        let hosts = (1..=replicas).map(HostId).collect();
        self.start_kv_on(model, tolerate, hosts)
    }

    /// Like [`Bench::start_kv`], a durable server (its replicas keep every
    /// command on their hosts' disks, one fsync per batch).
    fn start_durable_kv(&self, model: Model, tolerate: u32) -> Result<GroupId, String> {
        let n = self
            .next_durable
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut spec = ServerSpec::new(KV_CLASS, model, tolerate);
        spec.hosts = (1..=spec.replica_count()).map(HostId).collect();
        spec.durable = Some(format!("ftbench-{n}"));
        self.handle().start_server(spec)
    }

    /// A key-value server with its replicas on `hosts`, the first its sequencer.
    fn start_kv_on(
        &self,
        model: Model,
        tolerate: u32,
        hosts: Vec<HostId>,
    ) -> Result<GroupId, String> {
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

    /// The kernel processes still running.
    fn live_kernels(&mut self) -> Vec<HostId> {
        let hosts = self.cluster.kernel_hosts();
        hosts
            .into_iter()
            .filter(|h| self.cluster.is_running(*h))
            .collect()
    }

    /// Resident memory of the kernel processes of `hosts`, in KiB (`VmRSS` of
    /// `/proc/PID/status`); `None` when one cannot be read (not Linux).
    fn rss_kib(&self, hosts: &[HostId]) -> Option<u64> {
        hosts
            .iter()
            .map(|h| self.cluster.pid(*h).and_then(process_rss_kib))
            .sum()
    }
}

/// `VmRSS` of process `pid`, in KiB.
fn process_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One row of the main table.
struct ModelResult {
    name: String,
    model: Model,
    tolerate: u32,
    durable: bool,
    calls: Samples,
    ops: f64,
    /// The group's hosts, sequencer first.
    members: Vec<HostId>,
    /// CPU time per call by host during the throughput run.
    cpu: Option<cpu::PerCall>,
}

fn run(o: &Options) -> Result<(), String> {
    println!(
        "ftbench: {} kernel processes + this process on 127.0.0.1, {} s per throughput run, {} clients x {} outstanding calls",
        o.kernels, o.seconds, o.clients, o.window
    );
    let mut bench = Bench::start(o.kernels, o.busy_poll_us)?;
    let pids = std::iter::once((HostId(0), std::process::id()))
        .chain(
            bench
                .cluster
                .kernel_hosts()
                .into_iter()
                .filter_map(|h| Some((h, bench.cluster.pid(h)?))),
        )
        .collect();
    let meter = cpu::Meter::new(pids);
    let mut configs = vec![("correct".to_string(), Model::Correct, 0, false)];
    for t in 1..=o.max_tolerate {
        if t + 1 > o.kernels {
            println!(
                "crash tolerate({t}) skipped: needs {} kernels (--kernels {})",
                t + 1,
                o.kernels
            );
            continue;
        }
        configs.push((format!("crash tolerate({t})"), Model::Crash, t, false));
        if t == 1 {
            // The same server keeping its log on disk.
            configs.push(("durable tolerate(1)".to_string(), Model::Crash, t, true));
        }
    }
    for t in 1..=o.max_byzantine {
        let replicas = ServerSpec::new(KV_CLASS, Model::Byzantine, t).replica_count();
        if replicas > o.kernels {
            println!(
                "byzantine tolerate({t}) skipped: needs {replicas} kernels (--kernels {})",
                o.kernels
            );
            continue;
        }
        configs.push((
            format!("byzantine tolerate({t})"),
            Model::Byzantine,
            t,
            false,
        ));
    }
    // Every model's sequencer is h1: the floor is the echo h0 -> h1 -> h0.
    let floor_host = HostId(1);
    let mut floor = Samples::default();
    let mut results: Vec<ModelResult> = Vec::new();
    for (name, model, t, durable) in configs {
        let group = match durable {
            true => bench.start_durable_kv(model, t)?,
            false => bench.start_kv(model, t)?,
        };
        let h = bench.handle();
        // The floor in a block of its own just before the model's calls, so
        // that both see the same machine load.
        floor.extend(measure::floor(&h, floor_host, o.latency_calls)?);
        let calls = measure::latency(&h, group, o.latency_calls)?;
        let (ops, cpu) =
            measure::throughput(&h, &[group], o.clients, o.window, o.seconds, meter.as_ref());
        let members = bench.members(group);
        let hosts: Vec<String> = members.iter().map(|h| format!("h{}", h.0)).collect();
        println!(
            "{name:<18} on [{}]: latency p50 {:>6} us  p99 {:>6} us  throughput {ops:>9.0} calls/s",
            hosts.join(","),
            calls.p50(),
            calls.p99()
        );
        if let Some(cpu) = &cpu {
            let client_and_members: Vec<HostId> = std::iter::once(HostId(0))
                .chain(members.iter().copied())
                .collect();
            println!(
                "{:<18} cpu per call: {} (h0: the clients' host and this driver; in brackets each host's core thread)",
                "",
                cpu.describe(&client_and_members)
            );
        }
        results.push(ModelResult {
            name,
            model,
            tolerate: t,
            durable,
            calls,
            ops,
            members,
            cpu,
        });
    }
    println!(
        "{:<18} h0->h1->h0, no protocol: latency p50 {:>6} us  p99 {:>6} us  (before each model's calls)",
        "floor (echo)",
        floor.p50(),
        floor.p99()
    );
    let ratio = |a: f64, b: f64| a / b.max(1e-9);
    let base_p50 = results[0].calls.p50() as f64;
    let base_ops = results[0].ops;
    for (i, r) in results.iter().enumerate() {
        let mut line = format!(
            "{:<18} vs floor: p50 x{:.2} p99 x{:.2}",
            r.name,
            ratio(r.calls.p50() as f64, floor.p50() as f64),
            ratio(r.calls.p99() as f64, floor.p99() as f64)
        );
        if i > 0 {
            line += &format!(
                "; vs correct: latency x{:.2}, throughput x{:.2}",
                ratio(r.calls.p50() as f64, base_p50),
                ratio(r.ops, base_ops)
            );
        }
        // A crash row against the one tolerating one failure less; a
        // byzantine or durable row against the crash row tolerating as many.
        let previous = results.iter().find(|p| match r.model {
            _ if p.durable => false,
            Model::Crash if r.durable => p.model == Model::Crash && p.tolerate == r.tolerate,
            Model::Crash => p.model == Model::Crash && p.tolerate + 1 == r.tolerate,
            Model::Byzantine => p.model == Model::Crash && p.tolerate == r.tolerate,
            Model::Correct => false,
        });
        if let Some(p) = previous {
            if r.model == Model::Byzantine || r.durable {
                line += &format!(
                    "; vs {}: latency x{:.2}, throughput x{:.2}",
                    p.name,
                    ratio(r.calls.p50() as f64, p.calls.p50() as f64),
                    ratio(r.ops, p.ops)
                );
                if let Some(bound) = machine_per_host(r, p).filter(|_| !r.durable) {
                    line += &bound;
                }
            } else {
                line += &format!("; vs {}: throughput x{:.2}", p.name, ratio(r.ops, p.ops));
            }
        }
        println!("{line}");
    }
    let group = bench.start_kv(Model::Crash, 1)?;
    let failover = measure::failover(&mut bench, group, o.clients.min(8))?;
    println!(
        "failover (crash tolerate(1), sequencer SIGKILLed under load): service resumed {:.0} ms after the kill, at the end of a pause in completions of {:.0} ms",
        failover.resumed_ms, failover.gap_ms
    );
    if let Some(path) = &o.svg {
        let rows: Vec<(String, &Samples)> =
            results.iter().map(|r| (r.name.clone(), &r.calls)).collect();
        let svg = plot::picture(&floor, &rows, Some(&failover));
        std::fs::write(path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("picture: {}", path.display());
    }
    if o.groups > 0 {
        scale::many_groups(&mut bench, o)?;
    }
    Ok(())
}

/// What `r` could do against `p` with a machine per host instead of every
/// host on this one: each one's calls/s would be bounded by its busiest
/// replica's CPU time per call (many client hosts) or by the one client
/// host's: on one core per host by the process's time, on several by its
/// core thread's. `None` without CPU readings. (Not for a durable row: its calls
/// wait for the disk, not for the CPU.)
fn machine_per_host(r: &ModelResult, p: &ModelResult) -> Option<String> {
    let (r_cpu, p_cpu) = (r.cpu.as_ref()?, p.cpu.as_ref()?);
    let process = |c: &cpu::Cost| c.process_us;
    let core = |c: &cpu::Cost| c.core_us;
    let (rh, r_us) = r_cpu.busiest(&r.members, process)?;
    let (ph, p_us) = p_cpu.busiest(&p.members, process)?;
    let (_, r_core) = r_cpu.busiest(&r.members, core)?;
    let (_, p_core) = p_cpu.busiest(&p.members, core)?;
    let (r_client, p_client) = (r_cpu.of(HostId(0))?, p_cpu.of(HostId(0))?);
    let x = |p: f64, r: f64| p / r.max(1e-9);
    Some(format!(
        "; a machine per host: busiest replica (h{} {r_us:.2} us/call vs h{} {p_us:.2}) x{:.2} \
         (busiest core thread x{:.2}), client host x{:.2} (its core thread x{:.2})",
        rh.0,
        ph.0,
        x(p_us, r_us),
        x(p_core, r_core),
        x(p_client.process_us, r_client.process_us),
        x(p_client.core_us, r_client.core_us),
    ))
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
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
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

#[cfg(test)]
mod tests {
    use super::{parse_options, soak, USAGE};

    /// Every benchmark flag `--help` describes is one `parse_options` takes,
    /// and the defaults it states are the parser's; every flag of its soak
    /// usage lines is one `soak::parse_options` takes.
    #[test]
    fn the_usage_names_the_flags_the_parser_takes() {
        let flags: Vec<&str> = USAGE
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("--"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(flags.len() >= 10, "{flags:?}");
        for flag in flags {
            let value = if flag == "svg" { "x.svg" } else { "3" };
            let args = vec![format!("--{flag}"), value.to_string()];
            assert!(
                parse_options(&args).is_ok(),
                "--{flag} is in the usage but refused"
            );
        }
        let o = parse_options(&[]).expect("no flags");
        for (flag, default) in [
            ("--seconds S ", o.seconds),
            ("--clients N ", o.clients),
            ("--window N ", o.window),
            ("--latency-calls N ", o.latency_calls),
            ("--max-tolerate T ", u64::from(o.max_tolerate)),
            ("--max-byzantine T ", u64::from(o.max_byzantine)),
            ("--groups N ", o.groups),
            ("--kernels N ", u64::from(o.kernels)),
        ] {
            let line = USAGE.lines().find(|l| l.trim_start().starts_with(flag));
            let says = format!("(default {default}");
            assert!(
                line.is_some_and(|l| l.contains(&says)),
                "{flag}: the usage should say {says}"
            );
        }
        assert!(parse_options(&["--nope".to_string()]).is_err());

        let soak_lines = USAGE
            .lines()
            .skip_while(|l| !l.contains("ftbench --soak"))
            .take_while(|l| !l.trim().is_empty());
        let soak_flags: Vec<&str> = soak_lines
            .flat_map(str::split_whitespace)
            .map(|w| w.trim_matches(|c| c == '[' || c == ']'))
            .filter(|w| w.starts_with("--") && *w != "--soak")
            .collect();
        assert!(soak_flags.len() >= 10, "{soak_flags:?}");
        for flag in soak_flags {
            let args = ["--soak", flag, "5"].map(String::from);
            assert!(
                soak::parse_options(&args).is_ok(),
                "{flag} is in the soak's usage but refused"
            );
        }
    }
}
