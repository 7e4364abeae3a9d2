//! The soak mode of `ftbench`: minutes of mixed key-value load on real kernel
//! processes while other kernels are SIGKILLed and restarted or SIGSTOPped and
//! resumed, sampling the memory, threads and open files of one kernel that is
//! never touched (the observed kernel, `h1`).
//!
//! ```text
//! cargo run --release -p ftc-runtime --bin ftbench -- --soak [--minutes 10 | --seconds S]
//!     [--kernels 5] [--clients 8] [--rate 600] [--fault-every 15] [--seed N]
//! ```
//!
//! Servers: a `correct` key-value server on `h1`, one under `crash tolerate
//! (1)` and one under `crash tolerate (2)` (both with a replica on `h1` first),
//! and a `crash tolerate (1)` proxy that forwards every command to the
//! `tolerate (2)` server as a nested call. Each client thread owns its keys
//! (the only writer), does gets, puts, appends and compare-and-swaps at a paced
//! rate, and starts a new client identity every `--session-calls` calls (so
//! clients come and go).
//!
//! What is checked is sound and cheaper than a full linearizability check of
//! the history: a key has one writer whose operations are sequential, so while
//! every operation on the key returned, linearizability fixes the key's value
//! exactly: every read must return it, every `cas` from it must succeed and
//! every `cas` from anything else must fail. A call without an answer (server
//! failure: it may or may not take effect, at any later time) retires the key
//! for good; the client goes on with a fresh key. At the end, after every
//! fault is healed, every live key is read once more. Any difference is a
//! violation and the run exits 1; servers lost or left without an answer are
//! reported as availability, not judged.

use ftc_runtime::app::{AppFactory, AppInput, AppOutput, CallOutcome, NestedCallId};
use ftc_runtime::app::{RestoreError, StateMachine};
use ftc_runtime::cluster::{LocalCluster, LocalClusterOptions};
use ftc_runtime::host::Trace;
use ftc_runtime::kernel::FIRST_INCARNATION;
use ftc_runtime::kernel::{CallError, Kernel, KernelHandle, TraceSink};
use ftc_runtime::kv_app::{KvCommand, KvReply, KvStore, KV_CLASS};
use ftc_runtime::types::{GroupId, GroupView, HostId, Model, RequestId, ServerSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The class of the forwarding server.
pub const PROXY_CLASS: &str = "SoakProxy";
/// The kernel that is observed and never faulted.
const OBSERVED: HostId = HostId(1);
/// A value longer than this is reset with a `put` instead of appended to.
const VALUE_BYTES_MAX: usize = 200;
/// Keys per client thread and server.
const KEYS_PER_SERVER: usize = 4;
/// How long a SIGSTOPped kernel stays stopped (long enough to be excluded).
const PAUSE: Duration = Duration::from_millis(1_500);
/// Violations kept for the report.
const VIOLATIONS_KEPT: usize = 20;

/// Options of `ftbench --soak`.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    pub duration: Duration,
    pub kernels: u32,
    pub clients: u64,
    /// Target calls per second over all clients.
    pub rate: u64,
    /// Time between two faults (each kills or pauses one kernel other than `h1`).
    pub fault_every: Duration,
    /// How long a killed kernel stays down before it is restarted.
    pub down: Duration,
    pub sample_every: Duration,
    /// Calls after which a client thread takes a new client identity.
    pub session_calls: u64,
    pub seed: u64,
}

fn seconds_arg(name: &str, v: Option<&String>, max: f64) -> Result<Duration, String> {
    let v = v.ok_or(format!("{name} needs a number"))?;
    let s: f64 = v.parse().map_err(|_| format!("{name} {v}: not a number"))?;
    if !(s > 0.0 && s <= max) {
        return Err(format!("{name} {v}: must be above 0 and at most {max}"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn int_arg(name: &str, v: Option<&String>, min: u64, max: u64) -> Result<u64, String> {
    let v = v.ok_or(format!("{name} needs a number"))?;
    let n: u64 = v.parse().map_err(|_| format!("{name} {v}: not a number"))?;
    if n < min || n > max {
        return Err(format!("{name} {v}: must be in {min}..={max}"));
    }
    Ok(n)
}

/// Parses the arguments of `ftbench --soak …` (`--soak` itself is skipped).
pub fn parse_options(args: &[String]) -> Result<SoakOptions, String> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    let mut o = SoakOptions {
        duration: Duration::from_secs(600),
        kernels: 5,
        clients: 8,
        rate: 600,
        fault_every: Duration::from_secs(15),
        down: Duration::from_secs(3),
        sample_every: Duration::ZERO,
        session_calls: 1_000,
        seed,
    };
    let day = 24.0 * 3600.0;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--soak" => {}
            "--minutes" => {
                o.duration = seconds_arg("--minutes", it.next(), day / 60.0)? * 60;
            }
            "--seconds" => o.duration = seconds_arg("--seconds", it.next(), day)?,
            "--kernels" => o.kernels = int_arg("--kernels", it.next(), 4, 32)? as u32,
            "--clients" => o.clients = int_arg("--clients", it.next(), 1, 256)?,
            "--rate" => o.rate = int_arg("--rate", it.next(), 1, 1_000_000)?,
            "--fault-every" => o.fault_every = seconds_arg("--fault-every", it.next(), day)?,
            "--down" => o.down = seconds_arg("--down", it.next(), 600.0)?,
            "--sample-every" => o.sample_every = seconds_arg("--sample-every", it.next(), day)?,
            "--session-calls" => {
                o.session_calls = int_arg("--session-calls", it.next(), 1, u64::MAX)?
            }
            "--seed" => o.seed = int_arg("--seed", it.next(), 0, u64::MAX)?,
            other => return Err(format!("--soak: unknown argument {other}")),
        }
    }
    if o.sample_every.is_zero() {
        // About twenty samples, at most one every 30 s and at least one every 2 s.
        o.sample_every = (o.duration / 20).clamp(Duration::from_secs(2), Duration::from_secs(30));
    }
    Ok(o)
}

// ----- the applications ---------------------------------------------------------

/// A command for the proxy: forward `command` to server `target`.
#[derive(Serialize, Deserialize)]
struct ProxyCommand {
    target: u64,
    command: Vec<u8>,
}

/// The proxy's reply.
#[derive(Debug, Serialize, Deserialize)]
enum ProxyReply {
    /// The target's reply.
    Reply(Vec<u8>),
    /// The nested call failed (it may or may not have taken effect).
    Failed(String),
    /// The payload was not a proxy command.
    Bad(String),
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// A server that forwards each command as a nested call and replies with the
/// outcome: a replicated caller whose calls cross the callee's view changes.
#[derive(Default)]
struct SoakProxy {
    next_call: u64,
    /// Outstanding nested calls and the client request each answers.
    pending: BTreeMap<u64, RequestId>,
}

impl StateMachine for SoakProxy {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        match input {
            AppInput::Command { request, payload } => {
                match postcard::from_bytes::<ProxyCommand>(payload) {
                    Ok(c) => {
                        self.next_call += 1;
                        self.pending.insert(self.next_call, request);
                        out.push(AppOutput::Call {
                            call: NestedCallId(self.next_call),
                            group: GroupId(c.target),
                            payload: c.command,
                        });
                    }
                    Err(e) => out.push(AppOutput::Reply {
                        request,
                        payload: encode(&ProxyReply::Bad(e.to_string())),
                    }),
                }
            }
            AppInput::NestedReply { call, outcome } => {
                if let Some(request) = self.pending.remove(&call.0) {
                    let reply = match outcome {
                        CallOutcome::Reply(p) => ProxyReply::Reply(p.clone()),
                        CallOutcome::ServerFailure(r) => ProxyReply::Failed(r.clone()),
                    };
                    out.push(AppOutput::Reply {
                        request,
                        payload: encode(&reply),
                    });
                }
            }
            AppInput::TimerFired { .. } => {}
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let pending: Vec<(u64, RequestId)> = self.pending.iter().map(|(c, r)| (*c, *r)).collect();
        encode(&(self.next_call, pending))
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let (next_call, pending): (u64, Vec<(u64, RequestId)>) =
            postcard::from_bytes(snapshot).map_err(|e| RestoreError(e.to_string()))?;
        self.next_call = next_call;
        self.pending = pending.into_iter().collect();
        Ok(())
    }

    fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.snapshot() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

/// The classes of the soak: the key-value store and the proxy.
struct SoakApps;

impl AppFactory for SoakApps {
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>> {
        match class {
            KV_CLASS => Some(Box::new(KvStore::default())),
            PROXY_CLASS => Some(Box::new(SoakProxy::default())),
            _ => None,
        }
    }
}

/// The application factory of the soak's kernels (`ftbench --kernel --soak`).
pub fn apps() -> Arc<dyn AppFactory> {
    Arc::new(SoakApps)
}

// ----- process probes -----------------------------------------------------------

/// Resident memory, threads and open files of a process.
#[derive(Clone, Copy, Debug, Default)]
struct ProcSample {
    rss_kib: u64,
    threads: u64,
    fds: u64,
}

fn proc_sample(pid: &str) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Some(ProcSample {
        rss_kib: field("VmRSS:")?,
        threads: field("Threads:").unwrap_or(0),
        fds,
    })
}

// ----- the servers and the load -------------------------------------------------

/// Which server a client operation goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Correct,
    Tolerate1,
    Tolerate2,
    /// The proxy, forwarding to the `tolerate (2)` server.
    Proxy,
}

const TARGETS: [Target; 4] = [
    Target::Correct,
    Target::Tolerate1,
    Target::Tolerate2,
    Target::Proxy,
];

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Correct => "correct",
            Target::Tolerate1 => "crash tolerate(1)",
            Target::Tolerate2 => "crash tolerate(2)",
            Target::Proxy => "proxy (tolerate(1)) -> tolerate(2)",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Servers {
    correct: GroupId,
    tolerate1: GroupId,
    tolerate2: GroupId,
    proxy: GroupId,
}

impl Servers {
    fn group(&self, t: Target) -> GroupId {
        match t {
            Target::Correct => self.correct,
            Target::Tolerate1 => self.tolerate1,
            Target::Tolerate2 => self.tolerate2,
            Target::Proxy => self.proxy,
        }
    }
}

/// Counters shared by the client threads, the trace reader and the reporter.
#[derive(Default)]
struct Stats {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Completed calls during which this host learned a new view.
    spanned_views: AtomicU64,
    views: AtomicU64,
    sessions: AtomicU64,
    retired_keys: AtomicU64,
    max_latency_us: AtomicU64,
    violations: AtomicU64,
    violation_texts: Mutex<Vec<String>>,
    per_target_ok: [AtomicU64; 4],
    per_target_failed: [AtomicU64; 4],
    final_reads: AtomicU64,
    final_unanswered: AtomicU64,
}

impl Stats {
    fn violation(&self, text: String) {
        self.violations.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut v) = self.violation_texts.lock() {
            if v.len() < VIOLATIONS_KEPT {
                v.push(text);
            }
        }
    }
}

/// The newest view of every group this host learned, and which groups failed.
type Views = Arc<Mutex<BTreeMap<GroupId, GroupView>>>;

fn group_failed(views: &Views, group: GroupId) -> bool {
    views
        .lock()
        .map(|v| v.get(&group).is_some_and(|v| v.failed))
        .unwrap_or(false)
}

/// One key owned by one client thread and what its value must be.
struct OwnedKey {
    target: Target,
    slot: usize,
    generation: u64,
    name: String,
    /// `None`: absent.
    value: Option<String>,
}

impl OwnedKey {
    fn new(client: u64, target: Target, slot: usize) -> OwnedKey {
        let mut k = OwnedKey {
            target,
            slot,
            generation: 0,
            name: String::new(),
            value: None,
        };
        k.rename(client);
        k
    }

    fn rename(&mut self, client: u64) {
        let t = TARGETS.iter().position(|t| *t == self.target).unwrap_or(0);
        self.name = format!("c{client}t{t}k{}g{}", self.slot, self.generation);
    }

    /// After an unanswered call: its outcome (and when it takes effect) is
    /// unknown, so the key is left alone from now on.
    fn retire(&mut self, client: u64) {
        self.generation += 1;
        self.value = None;
        self.rename(client);
    }
}

struct Worker {
    h: KernelHandle,
    servers: Servers,
    stats: Arc<Stats>,
    views: Views,
    client: u64,
}

/// What a call returned, as the key-value reply (through the proxy or not).
enum Answer {
    Reply(KvReply),
    /// No answer: the call may or may not have taken effect.
    Unknown,
    /// The kernel of this process stopped: end the thread.
    Stopped,
}

impl Worker {
    fn call(
        &self,
        me: ftc_runtime::types::ClientId,
        target: Target,
        command: &KvCommand,
    ) -> Answer {
        let (group, payload) = match target {
            Target::Proxy => (
                self.servers.proxy,
                encode(&ProxyCommand {
                    target: self.servers.tolerate2.0,
                    command: command.encode(),
                }),
            ),
            t => (self.servers.group(t), command.encode()),
        };
        let views_before = self.stats.views.load(Ordering::Relaxed);
        let started = Instant::now();
        let result = self.h.call(me, group, payload);
        let elapsed = started.elapsed().as_micros() as u64;
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(CallError::KernelStopped) => return Answer::Stopped,
            Err(_) => {
                self.failed(target);
                return Answer::Unknown;
            }
        };
        let reply = if target == Target::Proxy {
            match postcard::from_bytes::<ProxyReply>(&bytes) {
                Ok(ProxyReply::Reply(inner)) => KvReply::decode(&inner),
                Ok(ProxyReply::Failed(_)) => {
                    self.failed(target);
                    return Answer::Unknown;
                }
                Ok(ProxyReply::Bad(e)) => Err(format!("the proxy refused the command: {e}")),
                Err(e) => Err(e.to_string()),
            }
        } else {
            KvReply::decode(&bytes)
        };
        self.stats.ok.fetch_add(1, Ordering::Relaxed);
        self.stats
            .max_latency_us
            .fetch_max(elapsed, Ordering::Relaxed);
        if self.stats.views.load(Ordering::Relaxed) != views_before {
            self.stats.spanned_views.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(i) = TARGETS.iter().position(|t| *t == target) {
            self.stats.per_target_ok[i].fetch_add(1, Ordering::Relaxed);
        }
        match reply {
            Ok(r) => Answer::Reply(r),
            Err(e) => {
                self.stats.violation(format!(
                    "client {}: {} answered something that is not a reply: {e}",
                    self.client,
                    target.name()
                ));
                Answer::Unknown
            }
        }
    }

    fn failed(&self, target: Target) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = TARGETS.iter().position(|t| *t == target) {
            self.stats.per_target_failed[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Checks a read of `key` against the value it must have.
    fn check_read(&self, key: &OwnedKey, reply: &KvReply, when: &str) {
        match reply {
            KvReply::Value(v) if *v == key.value => {}
            other => self.stats.violation(format!(
                "client {}: {when} read of {} on {} returned {other:?}, expected {:?}",
                self.client,
                key.name,
                key.target.name(),
                key.value
            )),
        }
    }

    /// Runs the paced load until `until`; returns the keys still owned.
    fn run(
        &self,
        seed: u64,
        interval: Duration,
        until: Instant,
        session_calls: u64,
    ) -> Vec<OwnedKey> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut keys: Vec<OwnedKey> = TARGETS
            .iter()
            .flat_map(|t| (0..KEYS_PER_SERVER).map(move |s| (*t, s)))
            .map(|(t, s)| OwnedKey::new(self.client, t, s))
            .collect();
        let mut me = self.h.new_client_id();
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        let mut session = 0u64;
        let mut next_at = Instant::now();
        let mut n = 0u64;
        while Instant::now() < until {
            let now = Instant::now();
            if next_at > now {
                std::thread::sleep((next_at - now).min(until.saturating_duration_since(now)));
            } else if now - next_at > Duration::from_secs(1) {
                // Far behind (a failover): do not make up for it in a burst.
                next_at = now;
            }
            next_at += interval;
            if Instant::now() >= until {
                break;
            }
            if session >= session_calls {
                me = self.h.new_client_id();
                self.stats.sessions.fetch_add(1, Ordering::Relaxed);
                session = 0;
            }
            session += 1;
            n += 1;
            let i = rng.random_range(0..keys.len());
            if group_failed(&self.views, self.servers.group(keys[i].target)) {
                continue;
            }
            let token = format!("c{}n{n};", self.client);
            let roll = rng.random_range(0..100);
            let key = &keys[i];
            let long = key
                .value
                .as_ref()
                .is_some_and(|v| v.len() > VALUE_BYTES_MAX);
            let command = if roll < 40 {
                KvCommand::Get {
                    key: key.name.clone(),
                }
            } else if roll < 60 || long {
                KvCommand::Put {
                    key: key.name.clone(),
                    value: token.clone(),
                }
            } else if roll < 85 {
                KvCommand::Append {
                    key: key.name.clone(),
                    value: token.clone(),
                }
            } else {
                // Mostly from the value the key must have (must succeed), sometimes
                // from one it cannot have (must fail).
                let from = if roll < 95 {
                    key.value.clone().unwrap_or_default()
                } else {
                    "never-written".to_string()
                };
                KvCommand::Cas {
                    key: key.name.clone(),
                    from,
                    to: token.clone(),
                }
            };
            let reply = match self.call(me, key.target, &command) {
                Answer::Reply(r) => r,
                Answer::Unknown => {
                    keys[i].retire(self.client);
                    self.stats.retired_keys.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Answer::Stopped => break,
            };
            let key = &mut keys[i];
            match (&command, &reply) {
                (KvCommand::Get { .. }, r) => self.check_read(key, r, "a"),
                (KvCommand::Put { value, .. }, KvReply::Done) => key.value = Some(value.clone()),
                (KvCommand::Append { value, .. }, KvReply::Done) => {
                    key.value.get_or_insert_with(String::new).push_str(value)
                }
                (KvCommand::Cas { from, to, .. }, KvReply::Cas(swapped)) => {
                    let must = key.value.as_ref() == Some(from);
                    if *swapped != must {
                        self.stats.violation(format!(
                            "client {}: cas of {} on {} from {from:?} answered {swapped}, the value must be {:?}",
                            self.client,
                            key.name,
                            key.target.name(),
                            key.value
                        ));
                    }
                    if *swapped {
                        key.value = Some(to.clone());
                    }
                }
                (c, r) => self.stats.violation(format!(
                    "client {}: {c:?} on {} answered {r:?}",
                    self.client,
                    key.target.name()
                )),
            }
        }
        keys
    }

    /// Reads every live key once more (a few attempts each, all bounded by the
    /// call deadline; a server that answered none of them is not asked again).
    fn final_check(&self, keys: &[OwnedKey]) {
        let me = self.h.new_client_id();
        let mut silent: Vec<Target> = Vec::new();
        for key in keys {
            if group_failed(&self.views, self.servers.group(key.target)) {
                continue;
            }
            let command = KvCommand::Get {
                key: key.name.clone(),
            };
            let mut answered = false;
            let attempts = if silent.contains(&key.target) { 0 } else { 3 };
            for _ in 0..attempts {
                match self.call(me, key.target, &command) {
                    Answer::Reply(r) => {
                        self.check_read(key, &r, "the final");
                        answered = true;
                        break;
                    }
                    Answer::Unknown => continue,
                    Answer::Stopped => return,
                }
            }
            self.stats.final_reads.fetch_add(1, Ordering::Relaxed);
            if !answered {
                self.stats.final_unanswered.fetch_add(1, Ordering::Relaxed);
                silent.push(key.target);
            }
        }
    }
}

// ----- faults -------------------------------------------------------------------

/// What the fault injector is doing.
enum FaultState {
    Idle { next_at: Instant },
    Down { host: HostId, restart_at: Instant },
    Paused { host: HostId, resume_at: Instant },
}

#[derive(Default)]
struct FaultCounts {
    kills: u64,
    restarts: u64,
    restart_errors: u64,
    pauses: u64,
}

struct Faults {
    state: FaultState,
    victims: Vec<HostId>,
    rng: ChaCha8Rng,
    every: Duration,
    down: Duration,
    n: u64,
    counts: FaultCounts,
    last_error: Option<String>,
}

impl Faults {
    /// Starts the next fault or heals the current one when due; `inject`
    /// false only heals.
    fn step(&mut self, cluster: &mut LocalCluster, now: Instant, inject: bool) {
        match self.state {
            FaultState::Idle { next_at }
                if inject && now >= next_at && !self.victims.is_empty() =>
            {
                let host = self.victims[self.rng.random_range(0..self.victims.len())];
                self.n += 1;
                // Two kills for every pause.
                if self.n % 3 == 0 && cluster.pause(host).is_ok() {
                    self.counts.pauses += 1;
                    self.state = FaultState::Paused {
                        host,
                        resume_at: now + PAUSE,
                    };
                } else {
                    cluster.kill(host);
                    self.counts.kills += 1;
                    self.state = FaultState::Down {
                        host,
                        restart_at: now + self.down,
                    };
                }
            }
            FaultState::Down { host, restart_at } if now >= restart_at || !inject => {
                match cluster.restart(host) {
                    Ok(()) => {
                        self.counts.restarts += 1;
                        self.state = FaultState::Idle {
                            next_at: Instant::now() + self.every,
                        };
                    }
                    Err(e) => {
                        // Try again a little later.
                        self.counts.restart_errors += 1;
                        self.last_error = Some(e.to_string());
                        self.state = FaultState::Down {
                            host,
                            restart_at: Instant::now() + Duration::from_secs(1),
                        };
                    }
                }
            }
            FaultState::Paused { host, resume_at } if now >= resume_at || !inject => {
                if cluster.resume(host).is_err() {
                    cluster.kill(host);
                    self.counts.kills += 1;
                    self.state = FaultState::Down {
                        host,
                        restart_at: now,
                    };
                } else {
                    self.state = FaultState::Idle {
                        next_at: now + self.every,
                    };
                }
            }
            _ => {}
        }
    }

    fn healed(&self) -> bool {
        matches!(self.state, FaultState::Idle { .. })
    }

    fn total(&self) -> u64 {
        self.counts.kills + self.counts.pauses
    }
}

// ----- the run ------------------------------------------------------------------

struct Sample {
    at: Duration,
    observed: ProcSample,
    this: ProcSample,
    ok: u64,
    failed: u64,
    views: u64,
    faults: u64,
}

fn print_sample(s: &Sample) {
    println!(
        "{:>7.0} {:>12} {:>5} {:>5} {:>12} {:>5} {:>5} {:>10} {:>8} {:>6} {:>6}",
        s.at.as_secs_f64(),
        s.observed.rss_kib,
        s.observed.threads,
        s.observed.fds,
        s.this.rss_kib,
        s.this.threads,
        s.this.fds,
        s.ok,
        s.failed,
        s.views,
        s.faults
    );
}

fn start_server(
    h: &KernelHandle,
    class: &str,
    model: Model,
    tolerate: u32,
    hosts: Vec<HostId>,
) -> Result<GroupId, String> {
    let spec = ServerSpec::new(class, model, tolerate).on_hosts(hosts);
    let mut last = String::new();
    let until = Instant::now() + Duration::from_secs(60);
    for _ in 0..20 {
        if Instant::now() >= until {
            break;
        }
        // Retried while this host is still being admitted to the cluster.
        match h.start_server_timeout(spec.clone(), Duration::from_secs(5)) {
            Ok(group) => return Ok(group),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("cannot start {class}: {last}"))
}

/// Runs the soak and prints its table and report; `Ok(false)` when an answer
/// was wrong or nothing completed, `Err` when the observed kernel died.
pub fn run(o: &SoakOptions) -> Result<bool, String> {
    let binary = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cluster = LocalCluster::prepare(
        &binary,
        LocalClusterOptions {
            kernels: o.kernels,
            main_host: true,
            extra_args: vec!["--soak".into()],
            ..LocalClusterOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    let mut config = cluster
        .kernel_config(HostId(0))
        .map_err(|e| e.to_string())?;
    config.trace = TraceSink::Channel(tx);
    config.incarnation = Some(FIRST_INCARNATION);
    let kernel = Kernel::start(config, apps()).map_err(|e| e.to_string())?;
    cluster.start_kernels().map_err(|e| e.to_string())?;
    let stats = Arc::new(Stats::default());
    let views: Views = Arc::new(Mutex::new(BTreeMap::new()));
    {
        let (stats, views) = (stats.clone(), views.clone());
        std::thread::spawn(move || {
            // Ends when the kernel drops its sender.
            for t in rx {
                if let Trace::ViewInstalled { view, .. } = t {
                    stats.views.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut views) = views.lock() {
                        let newer = views
                            .get(&view.group)
                            .is_none_or(|v| v.view_id < view.view_id);
                        if newer {
                            views.insert(view.group, *view);
                        }
                    }
                }
            }
        });
    }
    let h = kernel.handle();
    let k = |n: u32| HostId(n.min(o.kernels));
    let servers = Servers {
        correct: start_server(&h, KV_CLASS, Model::Correct, 0, vec![OBSERVED])?,
        tolerate1: start_server(&h, KV_CLASS, Model::Crash, 1, vec![OBSERVED, k(2)])?,
        tolerate2: start_server(&h, KV_CLASS, Model::Crash, 2, vec![OBSERVED, k(3), k(4)])?,
        proxy: start_server(&h, PROXY_CLASS, Model::Crash, 1, vec![OBSERVED, k(5)])?,
    };
    let observed_pid = cluster
        .pid(OBSERVED)
        .ok_or("the observed kernel h1 is not running")?
        .to_string();
    println!(
        "ftbench --soak: {} kernel processes + this process (h0) on 127.0.0.1 for {:.0} s; \
         {} clients at about {} calls/s in all; a fault (2 SIGKILL + restart after {:.1} s : 1 SIGSTOP for {:.1} s) \
         on one of h2..h{} every {:.0} s; seed {}",
        o.kernels,
        o.duration.as_secs_f64(),
        o.clients,
        o.rate,
        o.down.as_secs_f64(),
        PAUSE.as_secs_f64(),
        o.kernels,
        o.fault_every.as_secs_f64(),
        o.seed
    );
    for t in TARGETS {
        let hosts: Vec<String> = views
            .lock()
            .ok()
            .and_then(|v| v.get(&servers.group(t)).cloned())
            .map(|v| v.members.iter().map(|m| format!("h{}", m.host.0)).collect())
            .unwrap_or_default();
        println!(
            "  {:<36} group {:>2} on [{}]",
            t.name(),
            servers.group(t).0,
            hosts.join(",")
        );
    }
    println!(
        "observed kernel h1 (pid {observed_pid}) is never faulted; h0 runs the clients and the checks"
    );
    println!(
        "{:>7} {:>12} {:>5} {:>5} {:>12} {:>5} {:>5} {:>10} {:>8} {:>6} {:>6}",
        "time s",
        "h1 RSS KiB",
        "thr",
        "fds",
        "h0 RSS KiB",
        "thr",
        "fds",
        "calls ok",
        "failed",
        "views",
        "faults"
    );
    let began = Instant::now();
    let until = began + o.duration;
    let mut samples = Vec::new();
    let sample = |faults: u64, samples: &mut Vec<Sample>| -> Result<(), String> {
        let s = Sample {
            at: began.elapsed(),
            observed: proc_sample(&observed_pid).ok_or("the observed kernel h1 is gone")?,
            this: proc_sample("self").unwrap_or_default(),
            ok: stats.ok.load(Ordering::Relaxed),
            failed: stats.failed.load(Ordering::Relaxed),
            views: stats.views.load(Ordering::Relaxed),
            faults,
        };
        print_sample(&s);
        samples.push(s);
        Ok(())
    };
    sample(0, &mut samples)?;

    let verify = Arc::new(AtomicBool::new(false));
    let interval = Duration::from_secs_f64(o.clients as f64 / o.rate as f64);
    let workers: Vec<_> = (0..o.clients)
        .map(|c| {
            let worker = Worker {
                h: h.clone(),
                servers,
                stats: stats.clone(),
                views: views.clone(),
                client: c,
            };
            let verify = verify.clone();
            let seed = o.seed.wrapping_mul(1_000_003).wrapping_add(c);
            let session_calls = o.session_calls;
            std::thread::spawn(move || {
                let keys = worker.run(seed, interval, until, session_calls);
                // The final reads wait until every fault is healed (bounded).
                let wait_until = Instant::now() + Duration::from_secs(120);
                while !verify.load(Ordering::Relaxed) && Instant::now() < wait_until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                worker.final_check(&keys);
            })
        })
        .collect();

    let mut faults = Faults {
        state: FaultState::Idle {
            next_at: began + o.fault_every,
        },
        victims: (2..=o.kernels).map(HostId).collect(),
        rng: ChaCha8Rng::seed_from_u64(o.seed ^ 0x5eed),
        every: o.fault_every,
        down: o.down,
        n: 0,
        counts: FaultCounts::default(),
        last_error: None,
    };
    let mut next_sample = began + o.sample_every;
    while Instant::now() < until {
        let now = Instant::now();
        // No fault that could not be healed before the load ends.
        let inject = now + o.down + PAUSE + Duration::from_secs(1) < until;
        faults.step(&mut cluster, now, inject);
        if now >= next_sample {
            sample(faults.total(), &mut samples)?;
            next_sample += o.sample_every;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Heal everything (bounded), then let the clients read their keys once more.
    let heal_until = Instant::now() + Duration::from_secs(60);
    while !faults.healed() && Instant::now() < heal_until {
        faults.step(&mut cluster, Instant::now(), false);
        std::thread::sleep(Duration::from_millis(50));
    }
    verify.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    sample(faults.total(), &mut samples)?;
    let elapsed = began.elapsed();
    cluster.stop_all();
    kernel.shutdown();
    report(o, &stats, &faults, &samples, &views, servers, elapsed)
}

fn report(
    o: &SoakOptions,
    stats: &Stats,
    faults: &Faults,
    samples: &[Sample],
    views: &Views,
    servers: Servers,
    elapsed: Duration,
) -> Result<bool, String> {
    let ok = stats.ok.load(Ordering::Relaxed);
    let failed = stats.failed.load(Ordering::Relaxed);
    println!();
    println!(
        "calls: {ok} completed, {failed} failed (server failure: outcome unknown), {} completed while this host learned a new view; longest call {} ms",
        stats.spanned_views.load(Ordering::Relaxed),
        stats.max_latency_us.load(Ordering::Relaxed) / 1000
    );
    for (i, t) in TARGETS.iter().enumerate() {
        // The newest view this host learned, to tell a moved, stuck or lost server.
        let view = views
            .lock()
            .ok()
            .and_then(|v| v.get(&servers.group(*t)).cloned())
            .map(|v| {
                let hosts: Vec<String> =
                    v.members.iter().map(|m| format!("h{}", m.host.0)).collect();
                format!(
                    "view {} on [{}]{}",
                    v.view_id,
                    hosts.join(","),
                    if v.failed { ", failed" } else { "" }
                )
            })
            .unwrap_or_default();
        println!(
            "  {:<36} {} completed, {} failed; {view}",
            t.name(),
            stats.per_target_ok[i].load(Ordering::Relaxed),
            stats.per_target_failed[i].load(Ordering::Relaxed)
        );
    }
    println!(
        "clients: {} identities ({} threads, a new one every {} calls); {} keys retired after unanswered calls",
        stats.sessions.load(Ordering::Relaxed),
        o.clients,
        o.session_calls,
        stats.retired_keys.load(Ordering::Relaxed)
    );
    println!(
        "faults: {} SIGKILLs, {} restarts ({} restart attempts failed), {} SIGSTOP/SIGCONT; {} views learned",
        faults.counts.kills,
        faults.counts.restarts,
        faults.counts.restart_errors,
        faults.counts.pauses,
        stats.views.load(Ordering::Relaxed)
    );
    if let Some(e) = &faults.last_error {
        println!("  last restart error: {e}");
    }
    let failed_groups: Vec<String> = TARGETS
        .iter()
        .filter(|t| group_failed(views, servers.group(**t)))
        .map(|t| t.name().to_string())
        .collect();
    if !failed_groups.is_empty() {
        // An availability loss, not a wrong answer: e.g. h1 declared failed
        // (falsely suspected) ends its `correct` server.
        println!(
            "servers lost for good (the view service declared them failed): {}",
            failed_groups.join(", ")
        );
    }
    // Memory of the observed kernel: at the start, after the warm-up (the first
    // sample at a tenth of the run or later, at most a minute in), at the end.
    let warm = (elapsed / 10).min(Duration::from_secs(60));
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let warmed = samples.iter().find(|s| s.at >= warm).unwrap_or(first);
        let max = samples
            .iter()
            .map(|s| s.observed.rss_kib)
            .max()
            .unwrap_or(0);
        let growth = last.observed.rss_kib as i64 - warmed.observed.rss_kib as i64;
        println!(
            "observed kernel h1: RSS {} KiB at the start, {} KiB after warm-up ({:.0} s), {} KiB at the end ({:.0} s), max {} KiB; \
             growth after warm-up {:+} KiB ({:+.1}%); threads {} -> {}, open files {} -> {}",
            first.observed.rss_kib,
            warmed.observed.rss_kib,
            warmed.at.as_secs_f64(),
            last.observed.rss_kib,
            last.at.as_secs_f64(),
            max,
            growth,
            100.0 * growth as f64 / warmed.observed.rss_kib.max(1) as f64,
            first.observed.threads,
            last.observed.threads,
            first.observed.fds,
            last.observed.fds
        );
        println!(
            "this process h0 (clients, checks): RSS {} KiB at the start, {} KiB after warm-up, {} KiB at the end",
            first.this.rss_kib, warmed.this.rss_kib, last.this.rss_kib
        );
    }
    let violations = stats.violations.load(Ordering::Relaxed);
    let unanswered = stats.final_unanswered.load(Ordering::Relaxed);
    println!(
        "history: {} final reads ({unanswered} unanswered), {violations} violations \
         (single-writer keys: every read and cas must match the value fixed by the answered operations)",
        stats.final_reads.load(Ordering::Relaxed)
    );
    if let Ok(texts) = stats.violation_texts.lock() {
        for t in texts.iter() {
            println!("  violation: {t}");
        }
    }
    // Availability is reported, not judged: a false suspicion of h1 plus a
    // scheduled fault can take more replicas than a server tolerates.
    println!(
        "availability: {}",
        if unanswered == 0 && failed_groups.is_empty() {
            "every server answered to the end".to_string()
        } else {
            format!(
                "{} servers lost, {unanswered} final reads unanswered",
                failed_groups.len()
            )
        }
    );
    let correct = violations == 0 && ok > 0;
    println!("verdict: {}", if correct { "history ok" } else { "FAILED" });
    Ok(correct)
}
