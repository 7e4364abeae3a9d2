//! The host kernel: drives one sans-IO [`Host`] core with real time, real
//! sockets and local clients, in one OS process per host.
//!
//! ```text
//!  peers' sockets ─────────────────────────────┐ (epoll: the core reads the frames itself)
//!  KernelHandle calls ─┐                        ├─▶ core thread (owns Host, timer heap, Inbound)
//!  server threads ─────┼─▶ bounded event channel┘ │ Output::Send    → per-peer outbox, handed to the
//!  shutdown ───────────┘   (+ a wake-up of the     │                   transport once per round
//!                           core's poll)           │                   (to itself: straight back in)
//!                                                  │ Output::SetTimer → heap; the poll waits until the next
//!                                                  │ Output::Client  → the waiting caller's channel
//!                                                  └ Output::Trace   → the trace sink
//! ```
//!
//! The core waits in one place, [`Inbound::wait`] (epoll through `mio`): for
//! bytes on an authenticated inbound connection, for an event on its channel
//! (whose senders wake the poll) or for the next timer. A received message
//! reaches the protocol on the thread that waited for it, with no reader
//! thread and queue in between; sends to an idle peer are written by the
//! core too ([`Transport::send_batch`]), so at low load a request and its
//! reply cross no thread but the two cores. While an exchange is in progress
//! (a round of work within a millisecond of the last, or a local call taken)
//! the core polls for up to the cluster's `busy_poll_us` before it sleeps,
//! and so does a caller waiting on a [`CallTicket`] ([`crate::busy_poll`]):
//! the next message of a call usually comes within microseconds, and a
//! wake-up from sleep costs more than that.
//!
//! Time is monotonic microseconds since the kernel started. Incarnations: at the
//! cluster's first boot every host is [`FIRST_INCARNATION`] (the view service's
//! initial configuration admits exactly those); a restarted kernel takes the
//! wall-clock time in microseconds (and more than its previous one), so it is
//! larger than any earlier one of the same host and rejoins as a new member.
//! [`claim_incarnation`] keeps the last one in a small file to tell the two apart.
//!
//! Scheduling and `priority`: the core works in rounds. A round handles the
//! messages the host sent to itself, then the events already queued and the
//! bytes already received (so a core that stalled hears the heartbeats that
//! wait for it before its suspicion timers fire), then the due timers, then
//! every event that is ready (up to [`EVENTS_PER_ROUND_MAX`]); at its end the replicas send
//! what they held back ([`Host::set_batching`] is on: every command appended
//! in the round goes to the members in one `Prepare`) and each peer is handed
//! everything the round produced for it as one batch (one queue entry, one
//! frame, one write). The ready events are handled in the order of
//! [`schedule`]: control work first (heartbeats, view-service messages, server
//! starts: [`Host::input_priority`] `None`), then group work by the group's
//! `ServerSpec::priority`, higher first, arrival order among equals. Every ready
//! event is handled in the round it was taken in, so priority reorders work
//! within a round and nothing starves; with one core thread per host there is
//! no other place where the groups of a host compete.
//!
//! Server methods run off the core's time: the host's replicas' applications
//! are in their asynchronous mode ([`Host::set_app_waker`]). The core gives a
//! server thread an input and waits for it at most
//! [`crate::program::executor::SLICE`]; a method that has not yielded by then
//! keeps running on its own thread while the core serves everything else, and
//! its outputs come back as an [`Input::AppReady`] event (the thread wakes the
//! core through the event channel and its poll). Only its own group waits
//! for it. A method
//! that runs longer than [`LONG_METHOD_WARN_MS`] without yielding is named in
//! the kernel log (then again each time its running time doubles); it is not
//! reported as "working", so past the call deadline its callers get
//! `server_failure`. (A thread cannot be stopped: an endless method's thread
//! runs on until the process ends, even once its replica is gone.)
//!
//! Liveness while the core is busy: construction and state restoration still
//! run on the core's time, and a process starved of CPU stalls the core too;
//! either would stop the core's heartbeats and get a live host suspected. The
//! heartbeat pump, a small thread, sends the host's heartbeats itself whenever
//! the core has not come round its loop for two periods. A paused or killed
//! process stops the pump too, so both are still suspected. The receiving side
//! is in [`crate::failure_detector`]: a stalled observer does not count its own
//! stall as its peers' silence.

use crate::app::AppFactory;
use crate::busy_poll::{recv_polling, CorePolling};
use crate::cluster::{host_name, ClusterConfig, ClusterError};
use crate::host::{ClientEvent, ClientRequest, Host, HostConfig, Input, Output, Timing, Trace};
use crate::identity::{HostKey, ProofKeys};
use crate::lie::Behaviours;
use crate::message::Message;
use crate::storage::{
    open_store, DurableLog, FsDisk, HostStorage, Recovered, StorageError, StorageOp, Store,
};
use crate::transport::{
    Delivery, Inbound, Transport, TransportConfig, TransportStats, TransportTuning, Wake,
};
use crate::types::{ClientId, GroupId, HostId, Incarnation, Micros, Scope, ServerSpec, TimerId};
pub use crate::view_service::FIRST_INCARNATION;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Events waiting for the core; beyond this, senders (socket readers, callers) wait.
const EVENT_QUEUE_CAPACITY: usize = 65_536;
/// Events (a received frame, a batch of local calls) taken in one round, i.e.
/// between two looks at the timer heap.
pub const EVENTS_PER_ROUND_MAX: usize = 1_024;
/// The longest the core sleeps without looking at the clock.
const IDLE_WAIT_MS_MAX: u64 = 1_000;
/// A round that starts this long after the core last waited for input first
/// looks (without waiting) for what arrived meanwhile.
const STALL_POLL_AFTER: Duration = Duration::from_millis(1);
/// A server method running this long without yielding is named in the kernel
/// log (and again each time its running time doubles).
pub const LONG_METHOD_WARN_MS: u64 = 1_000;
/// How often the core looks for long-running methods.
const LONG_METHOD_CHECK_MS: u64 = 250;

/// Where protocol traces go: one line per trace, `<time_us> <trace>`.
pub enum TraceSink {
    Off,
    Stderr,
    Writer(Box<dyn Write + Send>),
    Channel(Sender<Trace>),
    /// Only [`Trace::ViewInstalled`], for a driver that follows views (one
    /// channel send per call, e.g. `Submitted`, costs a thread wake-up).
    Views(Sender<Trace>),
    /// View changes as `ftc run`'s timeline lines on stderr.
    Timeline(crate::timeline::Timeline),
}

/// Everything a kernel needs to start.
pub struct KernelConfig {
    pub host: HostId,
    pub cluster: ClusterConfig,
    /// This host's key pair; its public half must be the cluster file's.
    pub identity: HostKey,
    /// `None`: the wall-clock time in microseconds, i.e. a host rejoining a running
    /// cluster. At the cluster's first boot pass [`FIRST_INCARNATION`] (or use
    /// [`claim_incarnation`], which decides for you).
    pub incarnation: Option<Incarnation>,
    /// The protocol timeouts; by default the cluster file's `[timing]`.
    pub timing: Timing,
    /// `None`: drawn from the OS random source.
    pub seed: Option<u64>,
    pub transport: TransportTuning,
    pub trace: TraceSink,
    /// [`KernelHandle::start_server`] gives up when the core has not answered
    /// within its call deadline plus this margin. (Calls have no bound of their
    /// own: the core answers each one, see [`CallTicket::wait`].)
    pub answer_margin_ms: u64,
    /// At the cluster's first boot ([`FIRST_INCARNATION`]) the core starts once
    /// every configured peer is connected, or after this long.
    pub boot_wait_ms: u64,
    /// Fault injection: a lying host (see [`crate::lie`]).
    pub lie: Option<Lying>,
    /// The host's stable storage (`--data-dir`): the view service keeps its
    /// term, vote and log there, so a restart resumes its decisions.
    /// `None`: nothing survives the process.
    pub data_dir: Option<PathBuf>,
}

/// Every entry of `map` but `me`'s: a host's peers, or their keys.
fn others<V: Copy>(map: &BTreeMap<HostId, V>, me: HostId) -> BTreeMap<HostId, V> {
    map.iter()
        .filter(|(h, _)| **h != me)
        .map(|(h, v)| (*h, *v))
        .collect()
}

/// A host that lies with `behaviours` once `active` is set (on SIGUSR1 in a
/// kernel process).
#[derive(Clone, Debug)]
pub struct Lying {
    pub behaviours: Behaviours,
    pub active: Arc<AtomicBool>,
}

impl KernelConfig {
    /// Defaults for host `host` of `cluster`, holding `identity`.
    pub fn new(host: HostId, cluster: ClusterConfig, identity: HostKey) -> KernelConfig {
        KernelConfig {
            host,
            timing: cluster.timing.clone(),
            cluster,
            identity,
            incarnation: None,
            seed: None,
            transport: TransportTuning::default(),
            trace: TraceSink::Off,
            answer_margin_ms: 5_000,
            boot_wait_ms: 10_000,
            lie: None,
            data_dir: None,
        }
    }

    /// The kernel's key pair must be the one the cluster file names for its host.
    fn check_identity(&self) -> Result<(), KernelError> {
        if self.cluster.keys.get(&self.host) == Some(&self.identity.public()) {
            return Ok(());
        }
        Err(KernelError::Start(format!(
            "this kernel's key is not {}'s public key in the cluster file",
            host_name(self.host)
        )))
    }
}

/// The kernel could not start.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("host h{0} is not in the cluster file")]
    UnknownHost(u32),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start: {0}")]
    Start(String),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Why a call returned no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// `server_failure`: the server cannot answer; the call may or may not have executed.
    #[error("server failure: {0}")]
    ServerFailure(String),
    /// The kernel stopped before answering.
    #[error("the kernel stopped")]
    KernelStopped,
    /// The kernel answered with an event that does not fit the request.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

enum LocalRequest {
    StartServer(Box<ServerSpec>, Scope),
    Call {
        client: ClientId,
        group: GroupId,
        payload: Vec<u8>,
    },
    Echo {
        to: HostId,
        payload: Vec<u8>,
    },
}

/// One call of a batch submitted with [`KernelHandle::call_batch`].
pub struct TaggedCall {
    pub client: ClientId,
    pub group: GroupId,
    pub payload: Vec<u8>,
    /// Comes back with the answer.
    pub tag: u64,
}

/// Where the answers of [`KernelHandle::call_batch`] go: `(tag, result)`.
pub type AnswerSender = Sender<(u64, Result<Vec<u8>, CallError>)>;

/// Who waits for a local request's answer.
enum Answer {
    One(Sender<ClientEvent>),
    Tagged(AnswerSender, u64),
}

impl Answer {
    fn send(self, event: ClientEvent) {
        match self {
            Answer::One(tx) => {
                let _ = tx.send(event);
            }
            Answer::Tagged(tx, tag) => {
                let _ = tx.send((tag, call_result(event)));
            }
        }
    }
}

enum Event {
    Client {
        request: LocalRequest,
        answer: Answer,
    },
    Calls {
        calls: Vec<TaggedCall>,
        answers: AnswerSender,
    },
    /// A server thread has outputs ready for `group`'s replica.
    AppReady(GroupId),
    Shutdown,
}

/// One unit of ready work of a round (events are split into these).
enum Ready {
    Net(Delivery),
    Client {
        request: LocalRequest,
        answer: Answer,
    },
    AppOutputs(GroupId),
}

/// The order a round handles its ready work in: by `rank` (`None`, control
/// work, first; then higher priorities first), arrival order among equals.
/// Pure, so that the kernel's scheduling is tested without threads or timing.
pub fn schedule<T>(ready: &mut [T], rank: impl Fn(&T) -> Option<i64>) {
    let key = |r: &T| match rank(r) {
        None => (0u8, 0i64),
        Some(p) => (1u8, p.saturating_neg()),
    };
    // Usually every item has the same rank (one busy group): nothing to do.
    let Some(first) = ready.first().map(&key) else {
        return;
    };
    if ready.iter().all(|r| key(r) == first) {
        return;
    }
    // Stable, and the rank is looked up once per item.
    ready.sort_by_cached_key(key);
}

/// A pending answer from the kernel: the asynchronous form of a call (futures, `accept`).
pub struct CallTicket {
    answer: Receiver<ClientEvent>,
    /// How long a wait polls before it sleeps (`crate::busy_poll`).
    busy_poll: Duration,
}

fn call_result(event: ClientEvent) -> Result<Vec<u8>, CallError> {
    match event {
        ClientEvent::Reply { payload, .. } => Ok(payload),
        ClientEvent::CallFailed { reason, .. } => Err(CallError::ServerFailure(reason)),
        other => Err(CallError::Unexpected(format!("{other:?}"))),
    }
}

impl CallTicket {
    /// Waits up to `timeout`; `None` if the answer has not come yet. Answers once:
    /// after it returned `Some`, later waits return `Some(Err(KernelStopped))`.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<Vec<u8>, CallError>> {
        match recv_polling(&self.answer, self.busy_poll, Some(timeout)) {
            Ok(e) => Some(call_result(e)),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(CallError::KernelStopped)),
        }
    }

    /// The answer if it is there, without waiting.
    pub fn try_result(&self) -> Option<Result<Vec<u8>, CallError>> {
        self.wait_timeout(Duration::ZERO)
    }

    /// Waits for the answer. The core answers every call: the reply, a failure
    /// (the server failed, or it was silent for the call deadline; a server
    /// whose method is still running says so and restarts the deadline), or
    /// [`CallError::KernelStopped`] when the kernel stops. So a call waits as
    /// long as its method runs, like a local call.
    pub fn wait(self) -> Result<Vec<u8>, CallError> {
        match recv_polling(&self.answer, self.busy_poll, None) {
            Ok(e) => call_result(e),
            Err(_) => Err(CallError::KernelStopped),
        }
    }
}

/// The local-client API of a running kernel; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct KernelHandle {
    events: CoreQueue,
    host: HostId,
    incarnation: Incarnation,
    next_local_client: Arc<AtomicU32>,
    answer_bound: Duration,
    /// The cluster's busy-poll budget, for callers waiting on a [`CallTicket`].
    busy_poll: Duration,
}

impl KernelHandle {
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The incarnation the kernel started with.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// A client identity unique in this cluster (host, incarnation, local number).
    pub fn new_client_id(&self) -> ClientId {
        ClientId::Host {
            host: self.host,
            incarnation: self.incarnation,
            local: self.next_local_client.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn submit(&self, request: LocalRequest) -> Receiver<ClientEvent> {
        let (answer, rx) = mpsc::channel();
        // If the core is gone, `answer` is dropped and the receiver reports it.
        let answer = Answer::One(answer);
        self.events.send(Event::Client { request, answer });
        rx
    }

    /// `server C …`: starts a server of the cluster ([`Scope::Cluster`]: it
    /// lives until it fails) and returns its group once every replica runs.
    pub fn start_server(&self, spec: ServerSpec) -> Result<GroupId, String> {
        self.start_server_timeout(spec, self.answer_bound)
    }

    /// A program's `server C …` ([`Scope::Program`]): stopped once a newer
    /// process of this host starts, with every server it started.
    pub fn start_program_server(&self, spec: ServerSpec) -> Result<GroupId, String> {
        self.start_scoped(spec, Scope::Program, self.answer_bound)
    }

    /// Like [`KernelHandle::start_server`], giving up after `timeout`.
    pub fn start_server_timeout(
        &self,
        spec: ServerSpec,
        timeout: Duration,
    ) -> Result<GroupId, String> {
        self.start_scoped(spec, Scope::Cluster, timeout)
    }

    fn start_scoped(
        &self,
        spec: ServerSpec,
        scope: Scope,
        timeout: Duration,
    ) -> Result<GroupId, String> {
        let rx = self.submit(LocalRequest::StartServer(Box::new(spec), scope));
        match rx.recv_timeout(timeout) {
            Ok(ClientEvent::ServerStarted { group, .. }) => Ok(group),
            Ok(ClientEvent::ServerStartFailed { reason, .. }) => Err(reason),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("no answer within {} ms", timeout.as_millis()))
            }
            Err(RecvTimeoutError::Disconnected) => Err("the kernel stopped".into()),
        }
    }

    /// Calls a server method and waits for the reply.
    pub fn call(
        &self,
        client: ClientId,
        group: GroupId,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        self.call_async(client, group, payload).wait()
    }

    /// Calls a server method; the ticket gives the reply later.
    pub fn call_async(&self, client: ClientId, group: GroupId, payload: Vec<u8>) -> CallTicket {
        CallTicket {
            answer: self.submit(LocalRequest::Call {
                client,
                group,
                payload,
            }),
            busy_poll: self.busy_poll,
        }
    }

    /// Sends `payload` to host `to`, whose core sends it straight back: one
    /// round trip over the transport and through both cores, with no group
    /// protocol, ordering or application (the floor a call is measured
    /// against; [`ClientRequest::Echo`]). A lost echo is never answered: wait
    /// with [`CallTicket::wait_timeout`].
    pub fn echo(&self, to: HostId, payload: Vec<u8>) -> CallTicket {
        CallTicket {
            answer: self.submit(LocalRequest::Echo { to, payload }),
            busy_poll: self.busy_poll,
        }
    }

    /// Submits many calls at once (one event for the core); each answer comes
    /// to `answers` as `(tag, result)`, in completion order. The asynchronous
    /// form for clients with many calls outstanding: no channel per call, one
    /// wake-up of the core per batch. If the kernel stops, `answers` is dropped
    /// without the remaining answers (the receiver sees it disconnect once every
    /// other sender is gone).
    pub fn call_batch(&self, calls: Vec<TaggedCall>, answers: &AnswerSender) {
        if calls.is_empty() {
            return;
        }
        let answers = answers.clone();
        self.events.send(Event::Calls { calls, answers });
    }

    /// Asks the kernel to stop; pending calls end with [`CallError::KernelStopped`].
    pub fn shutdown(&self) {
        self.events.send(Event::Shutdown);
    }
}

/// A running kernel. Dropping it shuts it down.
pub struct Kernel {
    handle: KernelHandle,
    transport: Arc<Transport>,
    core: Option<JoinHandle<()>>,
    pump: Option<HeartbeatPump>,
    local_addr: SocketAddr,
}

fn wall_clock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
}

/// This start's incarnation, decided from the file at `path` but not claimed
/// yet: [`IncarnationClaim::commit`] writes it once the kernel's checks passed
/// (its host is in the cluster file, its port is bound), so a start that fails
/// them burns no incarnation ([`Kernel::start_claiming`] does both in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncarnationClaim {
    path: PathBuf,
    incarnation: Incarnation,
}

impl IncarnationClaim {
    /// Reads the file at `path`, which holds the previous incarnation: no file
    /// means the host's first boot ([`FIRST_INCARNATION`]); otherwise the
    /// wall-clock time in microseconds, and at least the previous one plus one.
    pub fn prepare(path: &std::path::Path) -> Result<IncarnationClaim, String> {
        let previous = match std::fs::read_to_string(path) {
            Ok(text) => Some(text.trim().parse::<u64>().map_err(|_| {
                format!(
                    "incarnation file {} does not hold a number; remove it only if this host never ran",
                    path.display()
                )
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let incarnation = match previous {
            None => FIRST_INCARNATION,
            Some(p) => Incarnation(wall_clock_us().max(p.saturating_add(1))),
        };
        Ok(IncarnationClaim {
            path: path.to_path_buf(),
            incarnation,
        })
    }

    /// The incarnation this claim is for.
    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    /// Writes the incarnation atomically and durably before it is used: a
    /// temporary file beside it, synced, renamed over it, and the directory
    /// synced, so neither a crash nor a power loss can bring back the previous
    /// value and make the next start reuse this one.
    pub fn commit(self) -> Result<Incarnation, String> {
        let path = &self.path;
        let tmp = path.with_extension("incarnation.tmp");
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            writeln!(f, "{}", self.incarnation.0)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(&dir)?.sync_all()
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(self.incarnation)
    }
}

/// Decides and claims this start's incarnation from the file at `path` at
/// once ([`IncarnationClaim::prepare`] then [`IncarnationClaim::commit`]); a
/// kernel should rather use [`Kernel::start_claiming`].
pub fn claim_incarnation(path: &std::path::Path) -> Result<Incarnation, String> {
    IncarnationClaim::prepare(path)?.commit()
}

impl Kernel {
    /// Binds the host's address from the cluster file, starts the transport and
    /// the core thread, and feeds the core `Input::Start`.
    pub fn start(config: KernelConfig, apps: Arc<dyn AppFactory>) -> Result<Kernel, KernelError> {
        let addr = *config
            .cluster
            .hosts
            .get(&config.host)
            .ok_or(KernelError::UnknownHost(config.host.0))?;
        let listener =
            TcpListener::bind(addr).map_err(|source| KernelError::Listen { addr, source })?;
        Kernel::start_on(config, apps, listener)
    }

    /// Like [`Kernel::start`], with the incarnation kept in the file at
    /// `incarnation_file` (`config.incarnation` is ignored): the new one is
    /// claimed only once the host is known to the cluster file, its port is
    /// bound and its data directory's format is this version's, so a start
    /// refused by those checks leaves the file as it was.
    pub fn start_claiming(
        mut config: KernelConfig,
        apps: Arc<dyn AppFactory>,
        incarnation_file: &std::path::Path,
    ) -> Result<Kernel, KernelError> {
        let claim = IncarnationClaim::prepare(incarnation_file).map_err(KernelError::Start)?;
        let addr = *config
            .cluster
            .hosts
            .get(&config.host)
            .ok_or(KernelError::UnknownHost(config.host.0))?;
        config.check_identity()?;
        let listener =
            TcpListener::bind(addr).map_err(|source| KernelError::Listen { addr, source })?;
        if let Some(dir) = &config.data_dir {
            // The incarnation file may live in it; a directory of another
            // format is refused before an incarnation is claimed.
            std::fs::create_dir_all(dir)
                .map_err(|e| KernelError::Start(format!("cannot create {}: {e}", dir.display())))?;
            crate::storage::format::check_or_mark(dir).map_err(|e| {
                KernelError::Start(format!("data directory {}: {e}", dir.display()))
            })?;
        }
        config.incarnation = Some(claim.commit().map_err(KernelError::Start)?);
        Kernel::start_on(config, apps, listener)
    }

    /// Like [`Kernel::start`] with a listener bound by the caller.
    pub fn start_on(
        config: KernelConfig,
        apps: Arc<dyn AppFactory>,
        listener: TcpListener,
    ) -> Result<Kernel, KernelError> {
        let host = config.host;
        if !config.cluster.hosts.contains_key(&host) {
            return Err(KernelError::UnknownHost(host.0));
        }
        config.check_identity()?;
        let incarnation = config
            .incarnation
            .unwrap_or_else(|| Incarnation(wall_clock_us()));
        let seed = match config.seed {
            Some(s) => s,
            None => {
                use rand::TryRngCore;
                rand::rngs::OsRng
                    .try_next_u64()
                    .map_err(|e| KernelError::Start(format!("no random source: {e}")))?
            }
        };
        let local_addr = listener
            .local_addr()
            .map_err(|e| KernelError::Start(e.to_string()))?;
        // Read before anything starts: an unreadable data directory stops here.
        let stored = match &config.data_dir {
            Some(dir) => Some((dir.clone(), open_host_stores(host, dir)?)),
            None => None,
        };
        let (transport, inbound) = Transport::start_polled(
            TransportConfig {
                me: host,
                incarnation,
                peers: others(&config.cluster.hosts, host),
                identity: config.identity.clone(),
                peer_keys: others(&config.cluster.keys, host),
                tuning: config.transport.clone(),
            },
            listener,
        )
        .map_err(|e| KernelError::Start(format!("transport: {e}")))?;
        let transport = Arc::new(transport);
        let (events_tx, events_rx) = mpsc::sync_channel(EVENT_QUEUE_CAPACITY);
        let events_tx = CoreQueue {
            tx: events_tx,
            wake: inbound.wake_handle(),
        };
        let busy_poll = Duration::from_micros(config.cluster.busy_poll_us);
        let answer_bound = Duration::from_micros(config.timing.call_deadline_us)
            + Duration::from_millis(config.answer_margin_ms);
        let proofs = ProofKeys::new(host, config.identity.clone(), config.cluster.keys.clone());
        let mut host_config = HostConfig::new(
            host,
            incarnation,
            config.cluster.host_ids(),
            seed,
            Arc::new(proofs),
        );
        host_config.timing = config.timing;
        let heartbeat = Duration::from_micros(host_config.timing.heartbeat_us.max(1));
        let mut core = Host::new(host_config, apps);
        let storage = match stored {
            Some((dir, stores)) => {
                let refused = |e: String| {
                    KernelError::Start(format!("data directory {}: {e}", dir.display()))
                };
                let mut storage = HostStorage::new();
                for (store, log, recovered) in stores {
                    match store {
                        Store::ViewService => {
                            core.restore_view_service(recovered).map_err(refused)?
                        }
                        Store::Group(group) => core
                            .restore_durable(group, &recovered)
                            .map_err(|e| refused(format!("{}: {e}", store.dir_name())))?,
                    }
                    storage.insert(store, log);
                }
                Some((dir, storage))
            }
            None => None,
        };
        core.set_app_waker(app_waker(events_tx.clone()));
        let epoch = Instant::now();
        let core_alive_us = Arc::new(AtomicU64::new(0));
        let pump = HeartbeatPump::start(
            transport.clone(),
            config
                .cluster
                .host_ids()
                .into_iter()
                .filter(|h| *h != host)
                .collect(),
            incarnation,
            heartbeat,
            epoch,
            core_alive_us.clone(),
        )
        .map_err(|e| KernelError::Start(format!("heartbeat thread: {e}")))?;
        let driver = CoreDriver {
            epoch,
            core_alive_us,
            host: core,
            me: host,
            transport: transport.clone(),
            inbound,
            waited: Instant::now(),
            events: events_rx,
            trace: config.trace,
            started: Instant::now(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            local: VecDeque::new(),
            outbox: BTreeMap::new(),
            outbox_incarnation: incarnation,
            ready: Vec::new(),
            polling: CorePolling::new(busy_poll),
            round_worked: false,
            round_took_call: false,
            next_token: 1,
            waiting: HashMap::new(),
            outputs: Vec::new(),
            trace_dirty: false,
            peers: config.cluster.hosts.len().saturating_sub(1),
            boot_wait: Duration::from_millis(config.boot_wait_ms),
            lie: config.lie,
            long_methods: LongMethods::default(),
            storage,
            storage_failed: false,
        };
        let core_thread = std::thread::Builder::new()
            .name(format!("ftc-core-{}", host_name(host)))
            .spawn(move || driver.run())
            .map_err(|e| KernelError::Start(format!("core thread: {e}")))?;
        Ok(Kernel {
            handle: KernelHandle {
                events: events_tx,
                host,
                incarnation,
                next_local_client: Arc::new(AtomicU32::new(0)),
                answer_bound,
                busy_poll,
            },
            transport,
            core: Some(core_thread),
            pump: Some(pump),
            local_addr,
        })
    }

    /// Starts `count` kernels in this process, hosts `first..first + count`, on
    /// fresh 127.0.0.1 ports with a random cluster key, at the cluster's first
    /// boot (every host in [`FIRST_INCARNATION`]). `configure` adjusts each
    /// host's configuration before it starts (timing, traces). One process and
    /// no process management: a program's `--local` mode, and tests.
    pub fn start_in_process(
        first: u32,
        count: u32,
        apps: Arc<dyn AppFactory>,
        configure: impl Fn(&mut KernelConfig),
    ) -> Result<Vec<Kernel>, KernelError> {
        let listeners = (0..count)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KernelError::Start(format!("cannot listen on loopback: {e}")))?;
        let mut hosts = std::collections::BTreeMap::new();
        for (host, l) in (first..).zip(&listeners) {
            let addr = l
                .local_addr()
                .map_err(|e| KernelError::Start(e.to_string()))?;
            hosts.insert(HostId(host), addr);
        }
        let (cluster, mut private) = ClusterConfig::with_fresh_keys(hosts)?;
        (first..)
            .zip(listeners)
            .map(|(host, listener)| {
                let identity = private
                    .remove(&HostId(host))
                    .expect("a fresh key for every host");
                let mut config = KernelConfig::new(HostId(host), cluster.clone(), identity);
                config.incarnation = Some(FIRST_INCARNATION);
                configure(&mut config);
                Kernel::start_on(config, apps.clone(), listener)
            })
            .collect()
    }

    pub fn handle(&self) -> KernelHandle {
        self.handle.clone()
    }

    pub fn host(&self) -> HostId {
        self.handle.host
    }

    pub fn incarnation(&self) -> Incarnation {
        self.handle.incarnation
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn transport_stats(&self) -> TransportStats {
        self.transport.stats()
    }

    /// False once the core thread has ended (after a shutdown request).
    pub fn is_running(&self) -> bool {
        self.core.as_ref().is_some_and(|c| !c.is_finished())
    }

    /// Stops the core, closes every connection and joins the threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(core) = self.core.take() {
            let _ = core.join();
        }
        if let Some(pump) = self.pump.take() {
            pump.stop();
        }
        self.transport.shutdown();
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends the host's heartbeats while its core is busy; see the module documentation.
struct HeartbeatPump {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl HeartbeatPump {
    /// `core_alive_us`: microseconds since `epoch` when the core last came round
    /// its loop, 0 before it starts (a core still in its boot barrier is not vouched for).
    fn start(
        transport: Arc<Transport>,
        peers: Vec<HostId>,
        incarnation: Incarnation,
        period: Duration,
        epoch: Instant,
        core_alive_us: Arc<AtomicU64>,
    ) -> std::io::Result<HeartbeatPump> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let busy_after = 2 * period.as_micros() as u64;
        let thread = std::thread::Builder::new()
            .name("ftc-heartbeat".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(period);
                    let alive = core_alive_us.load(Ordering::Relaxed);
                    let now = epoch.elapsed().as_micros() as u64;
                    if alive == 0 || now.saturating_sub(alive) <= busy_after {
                        continue;
                    }
                    for &peer in &peers {
                        let beat = crate::message::Message::Heartbeat { incarnation };
                        transport.send(peer, incarnation, beat);
                    }
                }
            })?;
        Ok(HeartbeatPump { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// The core thread's state.
struct CoreDriver {
    /// Shared with the heartbeat pump: when the core last came round its loop.
    epoch: Instant,
    core_alive_us: Arc<AtomicU64>,
    host: Host,
    me: HostId,
    transport: Arc<Transport>,
    /// The authenticated inbound connections, which the core waits on and
    /// reads itself.
    inbound: Inbound,
    /// When the core last waited (or polled) for input.
    waited: Instant,
    /// Local requests and server threads' wake-ups (each also wakes `inbound`).
    events: Receiver<Event>,
    trace: TraceSink,
    started: Instant,
    /// Due time, insertion number (FIFO among equal times), timer.
    timers: BinaryHeap<Reverse<(Micros, u64, TimerId)>>,
    timer_seq: u64,
    /// Messages this host sent to itself, handled before new external input.
    local: VecDeque<Message>,
    /// What this round sends to each peer, stamped with `outbox_incarnation`.
    outbox: BTreeMap<HostId, Vec<Message>>,
    outbox_incarnation: Incarnation,
    /// The round's ready work, in the order [`schedule`] gives.
    ready: Vec<Ready>,
    /// Whether to poll before sleeping, decided after every round from
    /// whether it handled work (`round_worked`) and took a local call.
    polling: CorePolling,
    round_worked: bool,
    round_took_call: bool,
    next_token: u64,
    waiting: HashMap<u64, Answer>,
    outputs: Vec<Output>,
    trace_dirty: bool,
    /// Configured peers, and how long a first boot waits for them.
    peers: usize,
    boot_wait: Duration,
    lie: Option<Lying>,
    long_methods: LongMethods,
    /// `--data-dir`: the logs the core's [`Output::Persist`]s go to.
    storage: Option<(std::path::PathBuf, HostStorage<FsDisk>)>,
    /// Stable storage failed: the core stops without sending anything that
    /// may depend on what it could not keep.
    storage_failed: bool,
}

/// Opens every store under the data directory `dir`: the view service's
/// first (an empty directory is a first start), then one per durable
/// server whose replica ran on this host.
type OpenedStore = (Store, DurableLog<FsDisk>, Recovered);
fn open_host_stores(host: HostId, dir: &std::path::Path) -> Result<Vec<OpenedStore>, KernelError> {
    let refused = |e: String| KernelError::Start(format!("data directory {}: {e}", dir.display()));
    crate::storage::format::check_or_mark(dir).map_err(refused)?;
    let mut stores = vec![Store::ViewService];
    if dir.is_dir() {
        let entries = std::fs::read_dir(dir).map_err(|e| refused(e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| refused(e.to_string()))?;
            let name = entry.file_name();
            match name.to_str().and_then(Store::from_dir_name) {
                Some(store @ Store::Group(_)) if entry.path().is_dir() => stores.push(store),
                _ => {}
            }
        }
    }
    stores[1..].sort();
    let mut opened = Vec::with_capacity(stores.len());
    for store in stores {
        let (log, recovered) = open_store(dir, store).map_err(|e| refused(e.to_string()))?;
        if recovered.cut_bytes > 0 {
            tracing::warn!(target: "ftc::kernel", "{}: cut {} bytes of a torn write from {}", host_name(host), recovered.cut_bytes, store.dir_name());
        }
        opened.push((store, log, recovered));
    }
    Ok(opened)
}

/// Wakes the core when a server thread has outputs ready: the thread itself
/// puts the event in the core's queue (waiting when it is full).
fn app_waker(events: CoreQueue) -> crate::host::GroupWaker {
    Arc::new(move |group| {
        events.send(Event::AppReady(group));
    })
}

/// The core's queue of local work: each event also wakes the core, which
/// waits on its sockets and this queue in one `Inbound::wait`.
#[derive(Clone)]
struct CoreQueue {
    tx: SyncSender<Event>,
    wake: Wake,
}

impl CoreQueue {
    /// Queues `event` (waiting while the queue is full) and wakes the core;
    /// a core that is gone drops it, and its callers see their answer
    /// channels close.
    fn send(&self, event: Event) {
        if self.tx.send(event).is_ok() {
            self.wake.wake();
        }
    }
}

/// The kernel log's record of methods running without yielding.
#[derive(Default)]
struct LongMethods {
    checked_at_us: Micros,
    /// Per busy group: since when its method runs, and the running time
    /// (microseconds) at which it is named next.
    warned: HashMap<GroupId, (Micros, Micros)>,
}

impl LongMethods {
    /// The log lines due at `now` for the host's busy replicas.
    fn due(&mut self, now: Micros, busy: Vec<(GroupId, Micros, String)>) -> Vec<String> {
        self.warned
            .retain(|g, (since, _)| busy.iter().any(|(b, s, _)| b == g && s == since));
        let mut lines = Vec::new();
        for (group, since, what) in busy {
            let first = LONG_METHOD_WARN_MS * 1_000;
            let entry = self.warned.entry(group).or_insert((since, first));
            let running_us = now.saturating_sub(since);
            if running_us >= entry.1 {
                entry.1 = running_us.saturating_mul(2).max(first);
                lines.push(format!(
                    "server {what} (group {}) has run for {:.1} s without yielding; only its group waits for it, and its callers get server_failure past the call deadline",
                    group.0,
                    running_us as f64 / 1e6
                ));
            }
        }
        lines
    }
}

impl CoreDriver {
    fn now_us(&self) -> Micros {
        self.started.elapsed().as_micros() as Micros
    }

    /// At the cluster's first boot, waits until every configured peer is connected
    /// (or `boot_wait` passed), so the cores start together and nobody suspects a
    /// host whose process merely started a little later. Returns the events that
    /// arrived meanwhile, or `None` if asked to shut down.
    fn boot_barrier(&mut self) -> Option<Vec<Event>> {
        let mut early = Vec::new();
        if self.host.incarnation() != FIRST_INCARNATION || self.boot_wait.is_zero() {
            return Some(early);
        }
        let until = Instant::now() + self.boot_wait;
        while Instant::now() < until && self.transport.connected_peers().len() < self.peers {
            match self.events.recv_timeout(Duration::from_millis(5)) {
                Ok(Event::Shutdown) | Err(RecvTimeoutError::Disconnected) => return None,
                Ok(e) => {
                    if early.len() < EVENT_QUEUE_CAPACITY {
                        early.push(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        Some(early)
    }

    fn run(mut self) {
        let Some(early) = self.boot_barrier() else {
            return;
        };
        // Time starts when the core does.
        self.started = Instant::now();
        let mut outputs = Vec::new();
        self.host.set_batching(true, 0, &mut outputs);
        self.handle(Input::Start);
        for e in early {
            if !self.take(e) {
                return;
            }
        }
        self.handle_ready();
        loop {
            self.core_alive_us.store(
                (self.epoch.elapsed().as_micros() as u64).max(1),
                Ordering::Relaxed,
            );
            // Messages to itself first, then due timers.
            let mut handled = 0;
            while handled < EVENTS_PER_ROUND_MAX {
                let Some(msg) = self.local.pop_front() else {
                    break;
                };
                let input = Input::Message {
                    from: self.me,
                    from_incarnation: self.host.incarnation(),
                    msg,
                };
                self.handle(input);
                handled += 1;
                self.round_worked = true;
            }
            // What arrived while the core was busy goes before due timers: a
            // core that stalled (a large state, a slow machine) must not
            // suspect peers whose heartbeats wait in its sockets or queue.
            if self.waited.elapsed() >= STALL_POLL_AFTER {
                self.inbound.wait(Duration::ZERO, Duration::ZERO);
            }
            if !self.take_pending(EVENTS_PER_ROUND_MAX) {
                break;
            }
            let now = self.now_us();
            self.log_long_methods(now);
            while let Some(Reverse((at, _, timer))) = self.timers.peek().copied() {
                if at > now {
                    break;
                }
                self.timers.pop();
                self.handle(Input::Timer(timer));
            }
            // The end of a round: the replicas send what they held back (many
            // commands per `Prepare`), and everything leaves, one batch per peer.
            self.flush_host();
            self.flush_outbox();
            if self.storage_failed {
                break;
            }
            let wait = if !self.local.is_empty() {
                Duration::ZERO
            } else {
                match self.timers.peek() {
                    Some(Reverse((at, _, _))) => {
                        Duration::from_micros(at.saturating_sub(self.now_us()))
                    }
                    None => Duration::from_millis(IDLE_WAIT_MS_MAX),
                }
                .min(Duration::from_millis(IDLE_WAIT_MS_MAX))
            };
            self.flush_trace();
            // Sockets, local requests and server threads wake this one wait.
            let spin = self.polling.after_round(
                Instant::now(),
                std::mem::take(&mut self.round_worked),
                std::mem::take(&mut self.round_took_call),
            );
            self.inbound.wait(wait, spin);
            self.waited = Instant::now();
            if !self.take_pending(EVENTS_PER_ROUND_MAX) {
                break;
            }
        }
        self.flush_host();
        self.flush_outbox();
        self.flush_trace();
        // Pending callers see their answer channel close: `KernelStopped`.
        self.waiting.clear();
    }

    /// Names the methods running long without yielding in the kernel log
    /// (stderr), at most every [`LONG_METHOD_CHECK_MS`].
    fn log_long_methods(&mut self, now: Micros) {
        let watch = &mut self.long_methods;
        if now < watch.checked_at_us + LONG_METHOD_CHECK_MS * 1_000 {
            return;
        }
        watch.checked_at_us = now;
        for line in watch.due(now, self.host.busy_replicas()) {
            eprintln!("{}: {line}", host_name(self.me));
        }
    }

    /// Reads what the inbound connections hold, takes up to `budget` more
    /// events already queued, without waiting, and handles the round's ready
    /// work; `false` means stop.
    fn take_pending(&mut self, budget: usize) -> bool {
        let ready = &mut self.ready;
        self.inbound
            .read(&mut |batch| ready.extend(batch.into_iter().map(Ready::Net)));
        for _ in 0..budget {
            match self.events.try_recv() {
                Ok(e) => {
                    if !self.take(e) {
                        return false;
                    }
                }
                Err(_) => break,
            }
        }
        if !self.ready.is_empty() {
            self.handle_ready();
        }
        true
    }

    /// Adds an event's work to the round; `false` means stop.
    fn take(&mut self, event: Event) -> bool {
        match event {
            Event::Client { request, answer } => {
                self.round_took_call = true;
                self.ready.push(Ready::Client { request, answer })
            }
            Event::Calls { calls, answers } => {
                self.round_took_call = true;
                self.ready.extend(calls.into_iter().map(|c| Ready::Client {
                    request: LocalRequest::Call {
                        client: c.client,
                        group: c.group,
                        payload: c.payload,
                    },
                    answer: Answer::Tagged(answers.clone(), c.tag),
                }))
            }
            Event::AppReady(group) => self.ready.push(Ready::AppOutputs(group)),
            Event::Shutdown => return false,
        }
        true
    }

    /// Handles the round's ready work in [`schedule`] order.
    fn handle_ready(&mut self) {
        let mut ready = std::mem::take(&mut self.ready);
        self.round_worked = true;
        let host = &self.host;
        schedule(&mut ready, |r| match r {
            Ready::Net(d) => host.message_priority(&d.msg),
            Ready::Client {
                request: LocalRequest::Call { group, .. },
                ..
            } => host.group_priority(*group),
            Ready::Client { .. } => None,
            Ready::AppOutputs(group) => host.group_priority(*group),
        });
        let now = self.now_us();
        for r in ready.drain(..) {
            match r {
                Ready::Net(d) => self.handle_at(
                    now,
                    Input::Message {
                        from: d.from,
                        from_incarnation: d.from_incarnation,
                        msg: d.msg,
                    },
                ),
                Ready::AppOutputs(group) => self.handle_at(now, Input::AppReady { group }),
                Ready::Client { request, answer } => {
                    let token = self.next_token;
                    self.next_token += 1;
                    self.waiting.insert(token, answer);
                    let request = match request {
                        LocalRequest::StartServer(spec, scope) => {
                            ClientRequest::StartServer { token, spec, scope }
                        }
                        LocalRequest::Call {
                            client,
                            group,
                            payload,
                        } => ClientRequest::Call {
                            token,
                            client,
                            group,
                            payload,
                        },
                        LocalRequest::Echo { to, payload } => {
                            ClientRequest::Echo { token, to, payload }
                        }
                    };
                    self.handle_at(now, Input::Client(request));
                }
            }
        }
        self.ready = ready;
    }

    fn handle(&mut self, input: Input) {
        self.handle_at(self.now_us(), input);
    }

    /// Handles `input` at `now` (a round reads the clock once for all its inputs).
    fn handle_at(&mut self, now: Micros, input: Input) {
        let mut outputs = std::mem::take(&mut self.outputs);
        self.host.handle(now, input, &mut outputs);
        self.carry_out(now, outputs);
    }

    fn flush_host(&mut self) {
        let now = self.now_us();
        let mut outputs = std::mem::take(&mut self.outputs);
        self.host.flush(now, &mut outputs);
        self.carry_out(now, outputs);
    }

    fn carry_out(&mut self, now: Micros, mut outputs: Vec<Output>) {
        let incarnation = self.host.incarnation();
        if incarnation != self.outbox_incarnation {
            // Messages of earlier inputs leave with the stamp they were made under.
            self.flush_outbox();
            self.outbox_incarnation = incarnation;
        }
        for output in outputs.drain(..) {
            match output {
                Output::Send { to, mut msg } => {
                    if let Some(lie) = &self.lie {
                        if lie.active.load(Ordering::Relaxed)
                            && !lie
                                .behaviours
                                .apply(to, &mut msg, &self.host.config().proofs)
                        {
                            continue;
                        }
                    }
                    if to == self.me {
                        self.local.push_back(msg);
                    } else {
                        self.outbox.entry(to).or_default().push(msg);
                    }
                }
                Output::SetTimer { timer, at } => {
                    self.timer_seq += 1;
                    self.timers.push(Reverse((at, self.timer_seq, timer)));
                }
                Output::Persist { store, op } => self.persist(store, op),
                Output::Client(event) => {
                    // An answer may depend on what was persisted.
                    if !self.sync_storage() {
                        continue;
                    }
                    let token = match &event {
                        ClientEvent::ServerStarted { token, .. }
                        | ClientEvent::ServerStartFailed { token, .. }
                        | ClientEvent::Reply { token, .. }
                        | ClientEvent::CallFailed { token, .. } => *token,
                    };
                    if let Some(answer) = self.waiting.remove(&token) {
                        answer.send(event);
                    }
                }
                Output::Trace(trace) => self.on_trace(now, trace),
            }
        }
        self.outputs = outputs;
    }

    /// Hands every peer what the round produced for it, as one batch. A full
    /// queue or an unknown host drops the batch; the protocols retransmit.
    fn flush_outbox(&mut self) {
        // Group commit: one sync for the round, before anything leaves.
        if !self.sync_storage() {
            self.outbox.clear();
            return;
        }
        let incarnation = self.outbox_incarnation;
        for (to, msgs) in std::mem::take(&mut self.outbox) {
            self.transport.send_batch(to, incarnation, msgs);
        }
    }

    fn persist(&mut self, store: Store, op: StorageOp) {
        if self.storage_failed {
            return;
        }
        let result = match &mut self.storage {
            Some((dir, storage)) => {
                // A durable server's first replica on this host opens its store.
                let opened = match storage.contains(store) {
                    true => Ok(()),
                    false => open_store(dir, store).map(|(log, _)| storage.insert(store, log)),
                };
                opened.and_then(|()| storage.apply(store, op))
            }
            None => Err(StorageError::Broken),
        };
        if let Err(e) = result {
            self.fail_storage(e);
        }
    }

    /// Syncs what was persisted; `false` once stable storage failed.
    fn sync_storage(&mut self) -> bool {
        if self.storage_failed {
            return false;
        }
        let result = match &mut self.storage {
            Some((_, storage)) if storage.needs_sync() => storage.sync(),
            _ => Ok(()),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                self.fail_storage(e);
                false
            }
        }
    }

    fn fail_storage(&mut self, e: StorageError) {
        tracing::error!(target: "ftc::kernel", "{}: {e}; the kernel stops", host_name(self.me));
        eprintln!("{}: {e}; the kernel stops", host_name(self.me));
        self.storage_failed = true;
    }

    fn on_trace(&mut self, now: Micros, trace: Trace) {
        match &mut self.trace {
            TraceSink::Off => {}
            TraceSink::Stderr => eprintln!("{now} {trace:?}"),
            TraceSink::Writer(w) => {
                if writeln!(w, "{now} {trace:?}").is_err() {
                    tracing::error!(target: "ftc::kernel", "{}: trace writer failed; traces off", host_name(self.me));
                    self.trace = TraceSink::Off;
                }
                self.trace_dirty = true;
            }
            TraceSink::Channel(tx) => {
                if tx.send(trace).is_err() {
                    self.trace = TraceSink::Off;
                }
            }
            TraceSink::Views(tx) => {
                if matches!(trace, Trace::ViewInstalled { .. }) && tx.send(trace).is_err() {
                    self.trace = TraceSink::Off;
                }
            }
            TraceSink::Timeline(timeline) => {
                if let Trace::ViewInstalled { view, .. } = &trace {
                    let now_us = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
                    if let Some(line) = timeline.line(now_us, view) {
                        eprintln!("{line}");
                    }
                }
            }
        }
    }

    fn flush_trace(&mut self) {
        if self.trace_dirty {
            if let TraceSink::Writer(w) = &mut self.trace {
                let _ = w.flush();
            }
            self.trace_dirty = false;
        }
    }
}

/// Command-line arguments of a kernel process:
/// `--kernel --host hN --cluster FILE [--trace FILE] [--incarnation-file FILE] [--data-dir DIR]`.
/// Binaries flatten them into their own clap parsers; unknown or malformed
/// flags are errors (exit code 2), never ignored.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct KernelArgs {
    /// This host's name in the cluster file.
    #[arg(long, value_name = "hN", value_parser = parse_host_arg)]
    pub host: HostId,
    /// The cluster file.
    #[arg(long = "cluster", value_name = "FILE")]
    pub cluster_file: PathBuf,
    /// Append the host's protocol traces to FILE.
    #[arg(long = "trace", value_name = "FILE")]
    pub trace_file: Option<PathBuf>,
    /// Where the last incarnation is kept (default: `host.incarnation` in
    /// the data directory, else `hN.incarnation` beside the cluster file).
    #[arg(long, value_name = "FILE")]
    pub incarnation_file: Option<PathBuf>,
    /// This host's private key file (default: `hN.key` beside the cluster file).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Append the kernel's log to FILE instead of stderr (filter: `RUST_LOG`).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Stop when standard input closes, i.e. when the launching process is
    /// gone (used by the local launcher).
    #[arg(long)]
    pub exit_on_stdin_eof: bool,
    /// Fault injection: lie these ways (comma-separated names of
    /// `lie::Behaviour::ALL`) from the first SIGUSR1 on ([`crate::lie`]).
    #[arg(long, value_name = "BEHAVIOURS", value_parser = Behaviours::parse)]
    pub byzantine: Option<Behaviours>,
    /// Keep the host's stable storage in DIR (created if missing), so a
    /// restart resumes the view service's decisions.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A host name argument: `h` followed by a number.
pub fn parse_host_arg(text: &str) -> Result<HostId, String> {
    crate::cluster::parse_host_name(text)
        .ok_or_else(|| format!("`{text}` is not a host name (h followed by a number, e.g. h1)"))
}

/// A kernel-only command line: `--kernel` and the kernel's flags.
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct KernelCommandLine {
    /// Serve as a kernel.
    #[arg(long)]
    kernel: bool,
    #[command(flatten)]
    args: KernelArgs,
}

impl KernelArgs {
    /// The incarnation file to use: the one given, `host.incarnation` in the
    /// data directory (it must outlive the host's runs with its storage), or
    /// `hN.incarnation` beside the cluster file.
    pub fn incarnation_path(&self) -> PathBuf {
        if let (None, Some(dir)) = (&self.incarnation_file, &self.data_dir) {
            return dir.join("host.incarnation");
        }
        match &self.incarnation_file {
            Some(p) => p.clone(),
            None => self
                .cluster_file
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(format!("{}.incarnation", host_name(self.host))),
        }
    }

    /// The key file to use: the one given, or `hN.key` beside the cluster file.
    pub fn key_path(&self) -> PathBuf {
        match &self.key_file {
            Some(p) => p.clone(),
            None => crate::cluster::key_path_beside(&self.cluster_file, self.host),
        }
    }

    /// The cluster file and this host's key, checked against each other: a
    /// missing key file, one others can read, or one whose public key is not
    /// the cluster file's for this host is refused.
    pub fn load(&self) -> Result<(ClusterConfig, HostKey), String> {
        let cluster = ClusterConfig::load(&self.cluster_file).map_err(|e| e.to_string())?;
        let key = cluster
            .load_host_key(self.host, &self.key_path())
            .map_err(|e| e.to_string())?;
        Ok((cluster, key))
    }

    /// Parses a kernel's arguments (after the program name): the kernel's
    /// flags and `--kernel`, nothing else.
    pub fn parse(args: &[String]) -> Result<KernelArgs, String> {
        use clap::Parser;
        KernelCommandLine::try_parse_from(args)
            .map(|c| c.args)
            .map_err(|e| e.to_string())
    }
}

/// Runs a kernel process until SIGTERM or SIGINT: loads the cluster file, starts
/// the kernel, prints the ready line ([`crate::cluster::READY_PREFIX`]) on stdout,
/// and shuts down cleanly on the signal.
pub fn serve_until_terminated(args: &KernelArgs, apps: Arc<dyn AppFactory>) -> Result<(), String> {
    crate::logging::init(args.log_file.as_deref())?;
    let (cluster, identity) = args.load()?;
    let mut config = KernelConfig::new(args.host, cluster, identity);
    config.data_dir = args.data_dir.clone();
    if let Some(path) = &args.trace_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open trace file {}: {e}", path.display()))?;
        config.trace = TraceSink::Writer(Box::new(std::io::BufWriter::new(file)));
    }
    if let Some(behaviours) = args.byzantine.clone() {
        let active = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGUSR1, active.clone())
            .map_err(|e| format!("cannot handle SIGUSR1: {e}"))?;
        config.lie = Some(Lying { behaviours, active });
    }
    let terminate = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, terminate.clone())
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    if args.exit_on_stdin_eof {
        let flag = terminate.clone();
        std::thread::Builder::new()
            .name("ftc-stdin-watch".into())
            .spawn(move || {
                let mut sink = [0u8; 256];
                let mut stdin = std::io::stdin().lock();
                while let Ok(n) = std::io::Read::read(&mut stdin, &mut sink) {
                    if n == 0 {
                        break;
                    }
                }
                flag.store(true, Ordering::SeqCst);
            })
            .map_err(|e| format!("cannot watch stdin: {e}"))?;
    }
    let kernel = Kernel::start_claiming(config, apps, &args.incarnation_path())
        .map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{} host={} incarnation={} addr={}",
            crate::cluster::READY_PREFIX,
            host_name(kernel.host()),
            kernel.incarnation().0,
            kernel.local_addr()
        );
        let _ = out.flush();
    }
    while !terminate.load(Ordering::SeqCst) && kernel.is_running() {
        std::thread::sleep(Duration::from_millis(50));
    }
    kernel.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::StateMachine;

    struct NoApps;
    impl AppFactory for NoApps {
        fn create(&self, _class: &str) -> Option<Box<dyn StateMachine>> {
            None
        }
    }
    fn one_host_cluster() -> (ClusterConfig, HostKey, TcpListener) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let (cluster, mut keys) =
            ClusterConfig::with_fresh_keys([(HostId(0), addr)].into_iter().collect())
                .expect("keys");
        let key = keys.remove(&HostId(0)).expect("h0's key");
        (cluster, key, l)
    }

    #[test]
    fn starts_and_stops_promptly_and_pending_calls_end() {
        let (cluster, key, listener) = one_host_cluster();
        let mut config = KernelConfig::new(HostId(0), cluster, key);
        config.incarnation = Some(Incarnation(7));
        let kernel = Kernel::start_on(config, Arc::new(NoApps), listener).expect("start");
        let h = kernel.handle();
        assert_eq!(h.incarnation(), Incarnation(7));
        let a = h.new_client_id();
        let b = h.new_client_id();
        assert_ne!(a, b);
        let ticket = h.call_async(a, GroupId(1), vec![1, 2, 3]);
        assert!(ticket.wait_timeout(Duration::from_millis(20)).is_none());
        assert!(kernel.is_running());
        let started = Instant::now();
        kernel.shutdown();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(
            ticket.wait_timeout(Duration::from_secs(1)),
            Some(Err(CallError::KernelStopped))
        );
        // A handle outliving the kernel fails fast instead of hanging.
        assert_eq!(h.call(b, GroupId(1), vec![]), Err(CallError::KernelStopped));
        assert!(h
            .start_server(ServerSpec {
                class: "X".into(),
                model: crate::types::Model::Correct,
                tolerate: 0,
                replicas: 1,
                hosts: vec![],
                disjoint_key: None,
                priority: 0,
                durable: None,
            })
            .is_err());
    }

    #[test]
    fn a_round_handles_control_work_first_then_higher_priorities_in_arrival_order() {
        // (name, rank): `None` is control work (heartbeats, view service).
        let mut ready = vec![
            ("low-1", Some(0)),
            ("high-1", Some(7)),
            ("heartbeat", None),
            ("negative", Some(-3)),
            ("low-2", Some(0)),
            ("view", None),
            ("high-2", Some(7)),
            ("mid", Some(2)),
            ("lowest", Some(i64::MIN)),
        ];
        schedule(&mut ready, |r| r.1);
        let order: Vec<&str> = ready.iter().map(|r| r.0).collect();
        assert_eq!(
            order,
            [
                "heartbeat",
                "view",
                "high-1",
                "high-2",
                "mid",
                "low-1",
                "low-2",
                "negative",
                "lowest"
            ]
        );
        // Nothing is lost or duplicated: everything taken is handled in the round.
        let mut empty: Vec<((), Option<i64>)> = Vec::new();
        schedule(&mut empty, |r| r.1);
        assert!(empty.is_empty());
    }

    #[test]
    fn unknown_host_is_refused() {
        let (cluster, key, listener) = one_host_cluster();
        let config = KernelConfig::new(HostId(3), cluster, key);
        assert!(matches!(
            Kernel::start_on(config, Arc::new(NoApps), listener),
            Err(KernelError::UnknownHost(3))
        ));
    }

    #[test]
    fn a_key_that_is_not_the_cluster_files_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("h0.incarnation");
        let (cluster, _key, listener) = one_host_cluster();
        drop(listener);
        let stranger = HostKey::generate().expect("key");
        let config = KernelConfig::new(HostId(0), cluster, stranger);
        let err = Kernel::start_claiming(config, Arc::new(NoApps), &path)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("public key"), "{err}");
        assert!(!path.exists(), "no incarnation claimed");
    }

    #[test]
    fn a_start_refused_by_its_checks_claims_no_incarnation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("h1.incarnation");
        // Not in the cluster file: no file written, the first boot stays the first.
        let (cluster, key, _occupied) = one_host_cluster();
        let config = KernelConfig::new(HostId(3), cluster.clone(), key.clone());
        assert!(matches!(
            Kernel::start_claiming(config, Arc::new(NoApps), &path),
            Err(KernelError::UnknownHost(3))
        ));
        assert!(!path.exists());
        // Its port is taken (the listener above still holds it): nothing written either.
        let config = KernelConfig::new(HostId(0), cluster.clone(), key.clone());
        assert!(matches!(
            Kernel::start_claiming(config, Arc::new(NoApps), &path),
            Err(KernelError::Listen { .. })
        ));
        assert!(!path.exists());
        // Once a restart's checks fail, the file still holds the previous value.
        std::fs::write(&path, "7\n").expect("write");
        let config = KernelConfig::new(HostId(0), cluster, key);
        assert!(Kernel::start_claiming(config, Arc::new(NoApps), &path).is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "7\n");
    }

    #[test]
    fn a_start_that_passes_its_checks_claims_its_incarnation_atomically() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("h1.incarnation");
        let (cluster, key, listener) = one_host_cluster();
        drop(listener);
        let config = KernelConfig::new(HostId(0), cluster, key);
        let kernel = Kernel::start_claiming(config, Arc::new(NoApps), &path).expect("start");
        assert_eq!(kernel.incarnation(), FIRST_INCARNATION);
        kernel.shutdown();
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("{}\n", FIRST_INCARNATION.0)
        );
        // Only the file itself is left: the temporary one was renamed over it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("h1.incarnation")]);
        // A prepared claim writes nothing until committed.
        let claim = IncarnationClaim::prepare(&path).expect("prepare");
        assert!(claim.incarnation() > FIRST_INCARNATION);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("{}\n", FIRST_INCARNATION.0)
        );
        let next = claim.commit().expect("commit");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("{}\n", next.0)
        );
    }

    #[test]
    fn incarnations_start_at_the_first_and_grow_on_every_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("h1.incarnation");
        assert_eq!(claim_incarnation(&path), Ok(FIRST_INCARNATION));
        let second = claim_incarnation(&path).expect("second");
        assert!(second > FIRST_INCARNATION);
        // A clock that went backwards still gives a larger incarnation.
        std::fs::write(&path, format!("{}\n", u64::MAX / 2)).expect("write");
        assert_eq!(claim_incarnation(&path), Ok(Incarnation(u64::MAX / 2 + 1)));
        std::fs::write(&path, "garbage").expect("write");
        assert!(claim_incarnation(&path).is_err());
    }

    #[test]
    fn kernel_arguments() {
        let args: Vec<String> = [
            "--kernel",
            "--host",
            "h2",
            "--cluster",
            "c.toml",
            "--trace",
            "t",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let k = KernelArgs::parse(&args).expect("valid");
        assert_eq!(k.host, HostId(2));
        assert_eq!(k.cluster_file, PathBuf::from("c.toml"));
        assert_eq!(k.trace_file, Some(PathBuf::from("t")));
        assert!(KernelArgs::parse(&["--host".to_string(), "x".to_string()]).is_err());
        assert!(KernelArgs::parse(&[]).is_err());
        // A misspelt flag is an error, not ignored.
        let mut misspelt = args.clone();
        misspelt.extend(["--incarnation-fle".to_string(), "f".to_string()]);
        let e = KernelArgs::parse(&misspelt).expect_err("unknown flag");
        assert!(e.contains("--incarnation-fle"), "{e}");
    }
}
