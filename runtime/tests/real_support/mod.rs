//! Shared pieces of the real-process tests: a cluster of `ftc-kvnode` kernel
//! processes plus a driver kernel in the test process (host h0), key-value
//! clients that record a history, trace readers and misbehaving peers.

#![allow(dead_code)]

use ftc_judge::Operation;
use ftc_runtime::cluster::{LocalCluster, LocalClusterOptions};
use ftc_runtime::host::{Timing, Trace};
use ftc_runtime::identity::HostKey;
use ftc_runtime::kernel::{CallError, Kernel, KernelConfig, KernelHandle, TraceSink};
use ftc_runtime::kv_app::{KvCommand, KvFactory, KvReply, KV_CLASS};
use ftc_runtime::transport::{
    probe, Dialer, LinkError, PeerIdentity, TransportTuning, PROTOCOL_VERSION,
};
use ftc_runtime::types::{GroupId, GroupView, HostId, Incarnation, Model, ServerSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Real-process tests run one at a time: each starts several processes on two cores.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn kvnode() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ftc-kvnode"))
}

/// `kernels` kernel processes (h1..=hN, traces on) plus the test's own kernel
/// as h0, which boots first, with the cluster.
pub fn start_cluster(kernels: u32) -> (LocalCluster, Driver) {
    start_cluster_with(kernels, None)
}

/// [`start_cluster`] with the cluster file's `[timing]`.
pub fn start_cluster_with(kernels: u32, timing: Option<Timing>) -> (LocalCluster, Driver) {
    let mut cluster = LocalCluster::prepare(
        &kvnode(),
        LocalClusterOptions {
            kernels,
            main_host: true,
            traces: true,
            timing,
            ..LocalClusterOptions::default()
        },
    )
    .expect("prepare the local cluster");
    let driver = Driver::start(&cluster);
    cluster.start_kernels().expect("start the kernels");
    (cluster, driver)
}

/// The test's own kernel (host h0), the views it learns and what its replicas execute.
pub struct Driver {
    pub kernel: Kernel,
    pub views: Arc<Mutex<Vec<GroupView>>>,
    /// `(group, position, state_digest)` of every entry h0's replicas executed.
    pub executed: Arc<Mutex<Vec<(GroupId, u64, u64)>>>,
}

/// The key-value server's spec: `model crash tolerate (t)` (`correct` for
/// 0) on the preferred `hosts`.
pub fn kv_spec(tolerate: u32, hosts: Vec<HostId>) -> ServerSpec {
    let model = if tolerate == 0 {
        Model::Correct
    } else {
        Model::Crash
    };
    ServerSpec::new(KV_CLASS, model, tolerate).on_hosts(hosts)
}

impl Driver {
    pub fn start(cluster: &LocalCluster) -> Driver {
        Driver::start_with(cluster, ftc_runtime::kernel::FIRST_INCARNATION, None)
    }

    /// The driver kernel in `incarnation`, keeping its stable storage in
    /// `data_dir` if given.
    pub fn start_with(
        cluster: &LocalCluster,
        incarnation: Incarnation,
        data_dir: Option<PathBuf>,
    ) -> Driver {
        Driver::start_configured(cluster, |config| {
            config.incarnation = Some(incarnation);
            config.data_dir = data_dir;
        })
    }

    /// The driver kernel in the first incarnation, reaching the peers in
    /// `through` at the given addresses (proxies) instead of the cluster file's.
    pub fn start_through(cluster: &LocalCluster, through: &BTreeMap<HostId, SocketAddr>) -> Driver {
        Driver::start_configured(cluster, |config| {
            config.incarnation = Some(ftc_runtime::kernel::FIRST_INCARNATION);
            config.cluster.hosts.extend(through);
        })
    }

    /// The driver kernel with h0's configuration as `edit` leaves it.
    fn start_configured(cluster: &LocalCluster, edit: impl FnOnce(&mut KernelConfig)) -> Driver {
        let (tx, rx) = mpsc::channel::<Trace>();
        let mut config = cluster
            .kernel_config(HostId(0))
            .expect("h0's configuration");
        config.trace = TraceSink::Channel(tx);
        edit(&mut config);
        let kernel = Kernel::start(config, Arc::new(KvFactory)).expect("start the driver kernel");
        let views = Arc::new(Mutex::new(Vec::new()));
        let executed = Arc::new(Mutex::new(Vec::new()));
        let (v, e) = (views.clone(), executed.clone());
        std::thread::spawn(move || {
            // Ends when the kernel drops its sender.
            for t in rx {
                match t {
                    Trace::ViewInstalled { view, .. } => {
                        if let Ok(mut views) = v.lock() {
                            views.push(*view);
                        }
                    }
                    Trace::Executed {
                        group,
                        position,
                        state_digest,
                        ..
                    } => {
                        if let Ok(mut executed) = e.lock() {
                            executed.push((group, position, state_digest));
                        }
                    }
                    _ => {}
                }
            }
        });
        Driver {
            kernel,
            views,
            executed,
        }
    }

    pub fn handle(&self) -> KernelHandle {
        self.kernel.handle()
    }

    /// Starts the key-value server, retrying (bounded) while this host is still
    /// being admitted to the cluster.
    pub fn start_kv(&self, tolerate: u32, hosts: Vec<HostId>) -> GroupId {
        self.start_spec(kv_spec(tolerate, hosts))
    }

    /// Starts a server of `spec`, retrying (bounded) like [`Driver::start_kv`].
    pub fn start_spec(&self, spec: ServerSpec) -> GroupId {
        let mut last = String::new();
        let until = Instant::now() + Duration::from_secs(30);
        for _ in 0..20 {
            if Instant::now() >= until {
                break;
            }
            match self
                .handle()
                .start_server_timeout(spec.clone(), Duration::from_secs(5))
            {
                Ok(group) => return group,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("cannot start the key-value server: {last}");
    }

    pub fn latest_view(&self, group: GroupId) -> Option<GroupView> {
        let views = self.views.lock().ok()?;
        views
            .iter()
            .filter(|v| v.group == group)
            .max_by_key(|v| v.view_id)
            .cloned()
    }

    /// The highest `(position, state_digest)` h0's replica of `group` executed.
    pub fn tip(&self, group: GroupId) -> Option<(u64, u64)> {
        let executed = self.executed.lock().ok()?;
        executed
            .iter()
            .filter(|(g, _, _)| *g == group)
            .map(|&(_, position, digest)| (position, digest))
            .max()
    }

    /// Waits (bounded) for a view of `group` satisfying `pred`.
    pub fn wait_view(
        &self,
        group: GroupId,
        timeout: Duration,
        pred: impl Fn(&GroupView) -> bool,
    ) -> Option<GroupView> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Ok(views) = self.views.lock() {
                if let Some(v) = views
                    .iter()
                    .filter(|v| v.group == group)
                    .rev()
                    .find(|v| pred(v))
                {
                    return Some(v.clone());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// What the load clients do.
#[derive(Clone)]
pub struct Load {
    pub clients: u64,
    pub keys: u64,
    pub duration: Duration,
    pub max_ops_per_client: u64,
    pub seed: u64,
}

/// Runs the load against `group`, recording every operation with times from `clock`.
pub fn run_load(h: &KernelHandle, group: GroupId, load: &Load, clock: Instant) -> Vec<Operation> {
    let threads: Vec<_> = (0..load.clients)
        .map(|c| {
            let h = h.clone();
            let load = load.clone();
            std::thread::spawn(move || run_client(&h, group, c, &load, clock))
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect()
}

fn now_us(clock: Instant) -> u64 {
    clock.elapsed().as_micros() as u64
}

fn run_client(
    h: &KernelHandle,
    group: GroupId,
    c: u64,
    load: &Load,
    clock: Instant,
) -> Vec<Operation> {
    let mut rng = ChaCha8Rng::seed_from_u64(load.seed.wrapping_mul(1_000_003).wrapping_add(c));
    let me = h.new_client_id();
    let until = Instant::now() + load.duration;
    let mut ops = Vec::new();
    let mut last_seen: std::collections::HashMap<String, String> = Default::default();
    // Spread the operations over the whole duration, so the load spans the faults.
    let pause = load.duration / (load.max_ops_per_client.max(1) as u32);
    for n in 0..load.max_ops_per_client {
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(pause);
        let key = format!("k{}", rng.random_range(0..load.keys));
        let value = format!("c{c}n{n};");
        let roll = rng.random_range(0..100);
        let command = if roll < 40 {
            KvCommand::Get { key: key.clone() }
        } else if roll < 65 {
            KvCommand::Put {
                key: key.clone(),
                value: value.clone(),
            }
        } else if roll < 85 {
            KvCommand::Append {
                key: key.clone(),
                value: value.clone(),
            }
        } else {
            let from = last_seen.get(&key).cloned().unwrap_or_default();
            KvCommand::Cas {
                key: key.clone(),
                from,
                to: value.clone(),
            }
        };
        let call = now_us(clock);
        let result = h.call(me, group, command.encode());
        let ret = now_us(clock);
        let reply = match result {
            Ok(bytes) => Some(KvReply::decode(&bytes).expect("a key-value reply")),
            Err(CallError::ServerFailure(_)) => None,
            Err(e) => panic!("client {c}: {e}"),
        };
        let op = match (&command, &reply) {
            (KvCommand::Get { key }, Some(KvReply::Value(v))) => {
                if let Some(v) = v {
                    last_seen.insert(key.clone(), v.clone());
                }
                Operation::get(c, key, v.as_deref(), call, Some(ret))
            }
            (KvCommand::Get { key }, None) => Operation::get(c, key, None, call, None),
            (KvCommand::Put { key, value }, r) => {
                Operation::put(c, key, value, call, r.as_ref().map(|_| ret))
            }
            (KvCommand::Append { key, value }, r) => {
                Operation::append(c, key, value, call, r.as_ref().map(|_| ret))
            }
            (KvCommand::Cas { key, from, to }, Some(KvReply::Cas(ok))) => {
                Operation::cas(c, key, from, to, (!ok).then_some(false), call, Some(ret))
            }
            (KvCommand::Cas { key, from, to }, None) => {
                Operation::cas(c, key, from, to, None, call, None)
            }
            (cmd, r) => panic!("reply {r:?} does not fit {cmd:?}"),
        };
        ops.push(op);
    }
    ops
}

/// Reads every key once (recorded), so a lost write shows in the history.
pub fn read_all(
    h: &KernelHandle,
    group: GroupId,
    keys: u64,
    client: u64,
    clock: Instant,
) -> Vec<Operation> {
    let me = h.new_client_id();
    (0..keys)
        .map(|k| {
            let key = format!("k{k}");
            let call = now_us(clock);
            let bytes = h
                .call(me, group, KvCommand::Get { key: key.clone() }.encode())
                .expect("final read");
            let ret = now_us(clock);
            match KvReply::decode(&bytes) {
                Ok(KvReply::Value(v)) => {
                    Operation::get(client, &key, v.as_deref(), call, Some(ret))
                }
                other => panic!("final read of {key}: {other:?}"),
            }
        })
        .collect()
}

/// Asserts that operations completed after `fault_us` (so the load spanned the
/// fault) and prints a summary.
pub fn assert_spans(history: &[Operation], fault_us: u64) {
    let after = history
        .iter()
        .filter(|o| o.call > fault_us && o.ret.is_some())
        .count();
    let info = history.iter().filter(|o| o.ret.is_none()).count();
    let mut rets: Vec<u64> = history.iter().filter_map(|o| o.ret).collect();
    rets.sort_unstable();
    let gap_us = rets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    eprintln!(
        "{} operations, {info} unknown, {after} completed after the fault, longest gap between completions {} ms",
        history.len(),
        gap_us / 1000
    );
    assert!(
        after >= 50,
        "only {after} operations completed after the fault"
    );
}

/// Writes the history next to the cluster's files and judges it.
pub fn judge(history: &[Operation], dir: &Path, name: &str) {
    judge_with(history, dir, name, 5);
}

/// [`judge`], allowing `unknown_percent` of the operations an unknown outcome.
pub fn judge_with(history: &[Operation], dir: &Path, name: &str, unknown_percent: usize) {
    let path = dir.join(format!("{name}.jsonl"));
    if let Ok(mut f) = std::fs::File::create(&path) {
        let _ = ftc_judge::write_jsonl(history, &mut f);
    }
    let info = history.iter().filter(|o| o.ret.is_none()).count();
    assert!(
        info * 100 <= history.len().max(20) * unknown_percent,
        "{info} of {} operations have an unknown outcome",
        history.len()
    );
    let verdict = ftc_judge::check_kv(history, Duration::from_secs(60));
    // The cluster's directory goes away with it: keep a failing history.
    let keep = std::env::temp_dir().join(format!("ftc-{name}-{}.jsonl", std::process::id()));
    if verdict != ftc_judge::Verdict::Linearizable {
        let _ = std::fs::copy(&path, &keep);
    }
    assert_eq!(
        verdict,
        ftc_judge::Verdict::Linearizable,
        "history of {} operations kept at {}",
        history.len(),
        keep.display()
    );
}

/// `(position, state_digest)` of every `Executed` trace of `group` in a trace file.
pub fn executed(trace_file: &Path, group: GroupId) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(trace_file).unwrap_or_default();
    let needle = format!("group: {group:?},");
    text.lines()
        .filter(|l| l.contains("Executed {") && l.contains(&needle))
        .filter_map(|l| {
            Some((
                number_after(l, "position: ")?,
                number_after(l, "state_digest: ")?,
            ))
        })
        .collect()
}

fn number_after(line: &str, label: &str) -> Option<u64> {
    let rest = &line[line.find(label)? + label.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Waits (bounded) until every member of `view` on a kernel process has executed
/// the same highest position with the same state digest; returns that position.
pub fn wait_replicas_agree(
    cluster: &LocalCluster,
    view: &GroupView,
    timeout: Duration,
) -> Option<u64> {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        let tips: Vec<Option<(u64, u64)>> = view
            .members
            .iter()
            .filter(|m| m.host != HostId(0))
            .map(|m| {
                executed(&cluster.trace_path(m.host), view.group)
                    .into_iter()
                    .max()
            })
            .collect();
        if let Some(Some(first)) = tips.first() {
            if tips.iter().all(|t| t.as_ref() == Some(first)) {
                return Some(first.0);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Connects to kernel `target` as host `me` holding `key`, and authenticates.
pub fn probe_as(
    cluster: &LocalCluster,
    me: HostId,
    key: &HostKey,
    target: HostId,
    tuning: &TransportTuning,
) -> Result<PeerIdentity, LinkError> {
    let dialer = Dialer {
        me,
        incarnation: Incarnation(1),
        identity: key,
    };
    let config = cluster.config();
    probe(
        dialer,
        target,
        &config.keys[&target],
        config.hosts[&target],
        tuning,
    )
}

/// Connects to kernel `target` as h0 with h0's key: an authenticated probe.
pub fn probe_host(
    cluster: &LocalCluster,
    target: HostId,
    tuning: &TransportTuning,
) -> Result<PeerIdentity, LinkError> {
    let key = cluster.host_key(HostId(0)).expect("h0's key");
    probe_as(cluster, HostId(0), key, target, tuning)
}

/// Throws garbage, an oversized length, a wrong version, a stranger's key and
/// another host's key at kernel `target`.
pub fn attack(cluster: &LocalCluster, target: HostId) {
    let addr = cluster.config().hosts[&target];
    let payloads: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[0xff, 0xff, 0xff, 0xf0, PROTOCOL_VERSION],
        &[0, 0, 0, 2, PROTOCOL_VERSION + 7, 0],
    ];
    for p in payloads {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            let _ = s.write_all(p);
            let mut buf = [0u8; 64];
            // The kernel closes the connection (EOF or reset) instead of answering.
            let _ = s.read(&mut buf);
        }
    }
    let tuning = TransportTuning {
        handshake_timeout_ms: 1_000,
        ..TransportTuning::default()
    };
    let stranger = HostKey::generate().expect("a key");
    let wrong = probe_as(cluster, HostId(0), &stranger, target, &tuning);
    assert!(wrong.is_err(), "a stranger's key was accepted as h0");
    // A host holding another host's key cannot speak as h0.
    let other = cluster
        .config()
        .host_ids()
        .into_iter()
        .find(|h| *h != target && *h != HostId(0))
        .expect("a third host");
    let borrowed = cluster.host_key(other).expect("its key");
    let posing = probe_as(cluster, HostId(0), borrowed, target, &tuning);
    assert!(posing.is_err(), "{other:?}'s key was accepted as h0");
}

/// Refused connections a kernel's log reports: lines in full plus the counts
/// of its rate-limited summaries ("refused N more connections …").
pub fn refusals(cluster: &LocalCluster, host: HostId) -> usize {
    let log = std::fs::read_to_string(cluster.log_path(host)).unwrap_or_default();
    log.lines()
        .map(|l| {
            if l.contains("closed connection with 127.0.0.") {
                1
            } else if let Some(rest) = l.split("refused ").nth(1) {
                rest.split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

/// Waits (bounded, `timeout`) until a kernel's log reports at least `n` refusals;
/// returns how many it reports. Summaries are written once their interval is over.
pub fn wait_refusals(cluster: &LocalCluster, host: HostId, n: usize, timeout: Duration) -> usize {
    let until = Instant::now() + timeout;
    loop {
        let seen = refusals(cluster, host);
        if seen >= n || Instant::now() >= until {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Resident set size of a process in KiB, from `/proc`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// A TCP proxy in front of a kernel: it forwards every connection (at most
/// [`RecordingProxy::CONNECTIONS`]) both ways and keeps a copy of the bytes
/// each connection's dialer sent, per connection.
pub struct RecordingProxy {
    pub addr: SocketAddr,
    sessions: Arc<Mutex<Vec<Session>>>,
}

/// The bytes one proxied connection's dialer sent, growing while it lasts.
type Session = Arc<Mutex<Vec<u8>>>;

impl RecordingProxy {
    pub const CONNECTIONS: usize = 32;

    pub fn start(to: SocketAddr) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let all = sessions.clone();
        std::thread::spawn(move || {
            for _ in 0..Self::CONNECTIONS {
                let Ok((mut inbound, _)) = listener.accept() else {
                    return;
                };
                let Ok(mut outbound) = TcpStream::connect_timeout(&to, Duration::from_secs(2))
                else {
                    continue;
                };
                let copy = Arc::new(Mutex::new(Vec::new()));
                if let Ok(mut all) = all.lock() {
                    all.push(copy.clone());
                }
                let (Ok(mut back_in), Ok(mut back_out)) =
                    (inbound.try_clone(), outbound.try_clone())
                else {
                    continue;
                };
                // Each copy ends when either side closes.
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut back_out, &mut back_in);
                });
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 << 10];
                    while let Ok(n) = inbound.read(&mut buf) {
                        if n == 0 || outbound.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        if let Ok(mut copy) = copy.lock() {
                            copy.extend_from_slice(&buf[..n]);
                        }
                    }
                    let _ = outbound.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        RecordingProxy { addr, sessions }
    }

    /// What the dialer of each connection sent so far, in connection order.
    pub fn sessions(&self) -> Vec<Vec<u8>> {
        let sessions = self.sessions.lock().expect("the sessions");
        sessions
            .iter()
            .map(|s| s.lock().expect("a session").clone())
            .collect()
    }
}
