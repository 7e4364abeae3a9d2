//! Authenticated, length-framed TCP transport between host kernels.
//!
//! Every frame on the wire is
//!
//! ```text
//!   [u32 big-endian length][u8 PROTOCOL_VERSION][postcard-encoded Frame]
//! ```
//!
//! where `length` counts the version byte and the payload and is at most
//! [`MAX_FRAME_BYTES`]. Each host dials every peer it sends to (one outbound
//! connection per peer, used only for sending) and accepts inbound connections
//! (used only for receiving), so no connection ever needs de-duplicating.
//!
//! A connection is usable only after a Noise `KK` handshake
//! (`Noise_KK_25519_ChaChaPoly_BLAKE2s`, by the `snow` crate) with the hosts'
//! static keys from the cluster file ([`crate::identity`]): each side already
//! knows the other's public key, so a peer is accepted as `h3` only if it holds
//! `h3`'s private key.
//!
//! ```text
//!   dialer  ── Hello { from, to, noise: → e, es, ss + dialer incarnation }   ──▶ acceptor
//!   dialer  ◀── Challenge { noise: ← e, ee, se + acceptor incarnation }     ── acceptor
//!   dialer  ── Proof { noise: first transport message, empty }              ──▶ acceptor
//!   prologue = "ftc-transport", version, dialer host, acceptor host
//! ```
//!
//! The host names travel in the clear but are bound by the prologue (a Hello
//! whose names were changed does not decrypt). The first Noise message can be
//! replayed by someone who recorded it, so the acceptor trusts nothing of a
//! connection until the `Proof`, which only the holder of the dialer's private
//! key can make for *this* acceptor's fresh ephemeral key; a recorded session
//! replayed to a kernel therefore fails at the `Proof`. After the handshake
//! the dialer streams `Data` frames, each carrying the sender's incarnation at
//! send time, and `Ping`s when idle. Every frame after the handshake is sealed:
//! encrypted and authenticated as Noise transport messages (ChaCha20-Poly1305
//! with the counter nonce, one 16-byte tag per 64 KiB segment), so frames
//! cannot be read, injected, altered, replayed or reordered on an established
//! connection.
//!
//! Anything unexpected — garbage, a wrong version, an oversized length, a failed
//! proof, a silent peer — closes that one connection and is logged with the
//! peer's address and the reason, rate-limited (`refusals.rs`: a few lines per
//! interval, then a count); nothing here panics on network input.
//!
//! Strangers are cheap: before its handshake completes a connection costs one
//! slot of the pre-auth budget (`budget.rs`: a share per source address and a
//! total, separate from the bound on authenticated connections, so a flood
//! from one address never locks out the cluster's own hosts), the handshake
//! deadline, and a buffer of at most [`PREAUTH_MAX_FRAME_BYTES`]: a handshake
//! frame announcing more is refused before anything is allocated, and the
//! handshake is read without a read buffer.
//! A writer drains its bounded queue and packs every message it found into one
//! sealed `Data` frame written with one `write_all` (batching: one tag, one
//! write and, at the receiver, one delivery for the whole batch); it never
//! waits for an answer (pipelining). A small batch given to `send_batch` (the
//! kernel's one call per peer per round) while the peer's connection is idle (nothing queued, the writer not writing) is written by
//! the sending thread itself, without blocking, and the writer finishes what
//! the socket did not take: one thread hop less per message at low load.
//! After the handshake an inbound connection belongs to the endpoint's
//! [`Inbound`] (`inbound.rs`), which its owner waits on and reads itself: the
//! kernel's core, so that a received message reaches the protocol with no
//! reader thread in between ([`Transport::start`] runs one thread for it
//! instead, for users without a core loop). After a
//! connection fails, the writer reconnects with exponential backoff; messages
//! queued while the peer is unreachable are dropped (the protocols retransmit).

mod budget;
mod inbound;
mod refusals;

use crate::identity::{HostKey, PublicKey};
use crate::message::Message;
use crate::types::{HostId, Incarnation};
use budget::{NoSlot, PreAuthBudget, PreAuthSlot};
use inbound::{Adopted, Handoff};
pub use inbound::{Inbound, Wake};
use refusals::RefusalLog;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The wire protocol version; a frame with another version closes the connection.
pub const PROTOCOL_VERSION: u8 = 4;
/// The largest frame (version byte plus payload) a host sends or accepts.
pub const MAX_FRAME_BYTES: usize = 16 << 20;
pub use crate::message::MAX_MESSAGE_BYTES;
/// The payload of one chunk of a message larger than a frame.
const CHUNK_BYTES: usize = 256 << 10;
/// A message whose byte payloads reach this size is *large*: large messages
/// are queued as a batch of their own, at most one such batch per peer is
/// queued or being written, and large messages are dropped meanwhile (the
/// protocols retransmit), so retransmissions of a big state transfer or
/// argument cannot pile up in memory; the small messages sent with them go on.
const LARGE_BATCH_BYTES: usize = 1 << 20;
/// The largest frame accepted before the peer has authenticated (handshake
/// frames are well under 200 bytes).
pub const PREAUTH_MAX_FRAME_BYTES: usize = 256;
/// The Noise protocol of every link.
const NOISE_PARAMS: &str = "Noise_KK_25519_ChaChaPoly_BLAKE2s";
/// The largest Noise message, and its tag.
const NOISE_MESSAGE_MAX: usize = 65_535;
const NOISE_TAG_BYTES: usize = 16;
/// A sealed frame's plaintext is encrypted in segments of at most this many bytes.
const SEGMENT_PLAIN_MAX: usize = NOISE_MESSAGE_MAX - NOISE_TAG_BYTES;
/// Room for one handshake message (ephemeral key, incarnation, tags).
const HANDSHAKE_MESSAGE_MAX: usize = 128;
/// A writer stops adding frames to one write once it holds this many bytes.
const BATCH_BYTES_MAX: usize = 256 << 10;
/// A writer stops adding frames to one write once it holds this many frames.
const BATCH_FRAMES_MAX: usize = 4096;

/// What travels in one frame.
#[derive(Debug, Serialize, Deserialize)]
enum Frame {
    /// The dialer's first handshake message; the names select the keys.
    Hello {
        from: HostId,
        to: HostId,
        #[serde(with = "serde_bytes")]
        noise: Vec<u8>,
    },
    /// The acceptor's handshake message.
    Challenge {
        #[serde(with = "serde_bytes")]
        noise: Vec<u8>,
    },
    /// The dialer's first transport message: it holds its key, now.
    Proof {
        #[serde(with = "serde_bytes")]
        noise: Vec<u8>,
    },
    /// Every message the writer found queued for this peer, in order: one frame,
    /// one tag and one delivery per batch, however many messages it holds.
    Data {
        incarnation: Incarnation,
        msgs: Vec<Message>,
    },
    Ping,
    /// One chunk of a `Data` frame too large for one frame: the receiver
    /// appends the chunks and decodes the whole after the `last` one. Chunks
    /// are interleaved with other frames, so a large message does not hold up
    /// the rest of the traffic on the link.
    Part {
        last: bool,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
}

/// Timeouts and limits of the transport. Defaults suit a loopback or LAN cluster.
#[derive(Clone, Debug)]
pub struct TransportTuning {
    /// Bound on establishing a TCP connection to a peer.
    pub connect_timeout_ms: u64,
    /// Bound on the whole handshake, on either side.
    pub handshake_timeout_ms: u64,
    /// Bound on one blocking write.
    pub write_timeout_ms: u64,
    /// An inbound connection silent for this long is closed.
    pub idle_timeout_ms: u64,
    /// A writer with nothing to send sends a `Ping` this often.
    pub keepalive_ms: u64,
    /// First and largest pause between reconnection attempts.
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// Batches (one per core round, or one per `send`) queued per peer; beyond it
    /// new ones are dropped.
    pub queue_capacity: usize,
    /// Concurrent authenticated inbound connections; beyond it a connection
    /// that completes its handshake is closed.
    pub max_inbound_connections: usize,
    /// Concurrent unauthenticated inbound connections, from all addresses.
    pub max_preauth_connections: usize,
    /// Concurrent unauthenticated inbound connections from one source address.
    pub max_preauth_per_address: usize,
}

impl Default for TransportTuning {
    fn default() -> TransportTuning {
        TransportTuning {
            connect_timeout_ms: 1_000,
            handshake_timeout_ms: 2_000,
            write_timeout_ms: 5_000,
            idle_timeout_ms: 10_000,
            keepalive_ms: 1_000,
            backoff_min_ms: 10,
            backoff_max_ms: 200,
            queue_capacity: 65_536,
            max_inbound_connections: 64,
            max_preauth_connections: 64,
            max_preauth_per_address: 16,
        }
    }
}

/// Everything a transport endpoint needs.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    pub me: HostId,
    /// This kernel's incarnation, bound into every handshake.
    pub incarnation: Incarnation,
    /// Every other host and where it listens.
    pub peers: BTreeMap<HostId, SocketAddr>,
    /// This host's static key pair.
    pub identity: HostKey,
    /// Every other host's public key (the same hosts as `peers`).
    pub peer_keys: BTreeMap<HostId, PublicKey>,
    pub tuning: TransportTuning,
}

/// A message received from an authenticated peer.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub from: HostId,
    /// The sender's incarnation when it sent the message.
    pub from_incarnation: Incarnation,
    pub msg: Message,
}

/// Receives the delivered messages of one frame, in order; returns `false` when
/// nobody listens any more.
pub type DeliverFn = Arc<dyn Fn(Vec<Delivery>) -> bool + Send + Sync>;

/// Counters, for tests and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Messages written to peers.
    pub messages_sent: u64,
    /// `write` calls (each one sealed data frame) carrying messages; fewer than
    /// `messages_sent` means batching.
    pub batches_written: u64,
    /// Messages received from authenticated peers.
    pub messages_received: u64,
    pub handshakes_completed: u64,
    /// Inbound or outbound connections closed because of bad input or a failed handshake.
    pub connections_rejected: u64,
    /// Messages dropped: queue full, peer unreachable, or too large to frame.
    pub messages_dropped: u64,
}

#[derive(Default)]
struct Counters {
    messages_sent: AtomicU64,
    batches_written: AtomicU64,
    messages_received: AtomicU64,
    handshakes_completed: AtomicU64,
    connections_rejected: AtomicU64,
    messages_dropped: AtomicU64,
}

struct Shared {
    config: TransportConfig,
    local_addr: SocketAddr,
    stop: AtomicBool,
    counters: Counters,
    /// Open connections, so shutdown can close them.
    streams: Mutex<HashMap<u64, TcpStream>>,
    next_stream_id: AtomicU64,
    /// Authenticated inbound connections open.
    inbound_open: AtomicUsize,
    /// Slots of unauthenticated inbound connections.
    preauth: Arc<PreAuthBudget>,
    refusals: RefusalLog,
    /// Open authenticated connections per peer, by direction.
    inbound_from: Mutex<BTreeMap<HostId, usize>>,
    outbound_to: Mutex<BTreeMap<HostId, usize>>,
    /// Where authenticated inbound connections go: the endpoint's [`Inbound`].
    handoff: Handoff,
}

/// Why a connection was closed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("timed out")]
    TimedOut,
    #[error("peer closed the connection")]
    Closed,
    #[error("frame length {0} exceeds the maximum {1}")]
    Oversized(usize, usize),
    #[error("empty frame")]
    Empty,
    #[error("wrong protocol version {0} (expected {PROTOCOL_VERSION})")]
    WrongVersion(u8),
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("unexpected frame: {0}")]
    Unexpected(&'static str),
    #[error("authentication failed: {0}")]
    Auth(&'static str),
    #[error("noise: {0}")]
    Noise(String),
    #[error("handshake failed: {0}")]
    Handshake(Box<LinkError>),
    #[error("refused: {0}")]
    Refused(&'static str),
}

impl LinkError {
    /// A short fixed category, for the counts of the rate-limited log.
    fn kind(&self) -> &'static str {
        match self {
            LinkError::Io(_) => "i/o error",
            LinkError::TimedOut => "timed out",
            LinkError::Closed => "closed by the peer",
            LinkError::Oversized(..) => "oversized frame",
            LinkError::Empty => "empty frame",
            LinkError::WrongVersion(_) => "wrong version",
            LinkError::Malformed(_) => "malformed frame",
            LinkError::Unexpected(_) => "unexpected frame",
            LinkError::Auth(_) => "authentication failed",
            LinkError::Noise(_) => "noise error",
            LinkError::Handshake(inner) => inner.kind(),
            LinkError::Refused(why) => why,
        }
    }
}

/// One endpoint: the acceptor (and a handshake thread per new connection) and
/// per-peer writers; the inbound connections are read through its [`Inbound`].
pub struct Transport {
    shared: Arc<Shared>,
    queues: Mutex<BTreeMap<HostId, SyncSender<QueuedBatch>>>,
    links: BTreeMap<HostId, Arc<Link>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What a peer's writer queue holds: messages stamped with the sender's
/// incarnation (an empty batch only wakes the writer).
type QueuedBatch = (Incarnation, Vec<Message>);

/// A batch of at most this many messages is written by the sending thread
/// itself when the peer's connection is idle (one thread hop less per message
/// at low load); larger ones go through the writer thread, which keeps
/// encoding and sealing off the sender's thread under load.
const DIRECT_BATCH_MAX: usize = 16;

/// One peer's outbound connection, shared by its writer thread (which dials,
/// reconnects, pings and writes queued batches) and direct sends.
#[derive(Default)]
struct Link {
    state: Mutex<LinkState>,
    /// Batches queued for the writer and not yet written: a direct send must
    /// not overtake them.
    queued: AtomicUsize,
    /// A large batch is queued or being written (see [`LARGE_BATCH_BYTES`]).
    large: AtomicBool,
}

/// An encoded `Data` frame too large for one frame, written a chunk at a time.
struct Bulk {
    body: Vec<u8>,
    sent: usize,
}

#[derive(Default)]
struct LinkState {
    /// The authenticated connection: stream, registration id, frame seal.
    conn: Option<(TcpStream, u64, Seal)>,
    /// The part of a direct send the socket did not take at once; the writer
    /// writes it before anything else. Belongs to `conn`, cleared with it.
    leftover: Vec<u8>,
    /// Messages too large for one frame, encoded, being written in chunks
    /// between other frames. Belongs to `conn`, cleared with it.
    bulk: std::collections::VecDeque<Bulk>,
}

fn lock_state(link: &Link) -> std::sync::MutexGuard<'_, LinkState> {
    match link.state.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Closes the link's connection (after a failed write), dropping any leftover.
fn close_link(shared: &Shared, peer: HostId, state: &mut LinkState) {
    if let Some((stream, id, _)) = state.conn.take() {
        let _ = stream.shutdown(Shutdown::Both);
        unregister_stream(shared, id);
        set_link(&shared.outbound_to, peer, -1);
    }
    state.leftover.clear();
    let dropped: usize = state.bulk.drain(..).map(|b| b.body.len()).sum();
    if dropped > 0 {
        log_line(
            shared.config.me,
            format_args!(
                "dropped {dropped} bytes of large messages to h{} with the connection",
                peer.0
            ),
        );
    }
}

/// Whether `msgs` hold a large message (see [`LARGE_BATCH_BYTES`]).
fn is_large(msgs: &[Message]) -> bool {
    msgs.iter().any(|m| m.bulk_bytes() >= LARGE_BATCH_BYTES)
}

impl Transport {
    /// Starts accepting on `listener` and one writer per configured peer, and
    /// a thread that reads the inbound connections and hands each frame's
    /// messages to `deliver` (the kernel reads them itself: [`Transport::start_polled`]).
    pub fn start(
        config: TransportConfig,
        listener: TcpListener,
        deliver: DeliverFn,
    ) -> io::Result<Transport> {
        let (transport, mut inbound) = Transport::start_polled(config, listener)?;
        let shared = transport.shared.clone();
        let reader = std::thread::Builder::new()
            .name("ftc-inbound".into())
            .spawn(move || {
                let mut open = true;
                while open && !shared.stop.load(Ordering::SeqCst) {
                    inbound.wait(Duration::from_millis(100), Duration::ZERO);
                    inbound.read(&mut |batch| open = open && deliver(batch));
                }
            })?;
        if let Ok(mut threads) = transport.threads.lock() {
            threads.push(reader);
        }
        Ok(transport)
    }

    /// Starts the endpoint like [`Transport::start`], leaving the reading of
    /// inbound connections to the caller: it waits on them with
    /// [`Inbound::wait`] and reads them with [`Inbound::read`], on its own
    /// thread (the kernel's core), with no reader thread in between.
    pub fn start_polled(
        config: TransportConfig,
        listener: TcpListener,
    ) -> io::Result<(Transport, Inbound)> {
        let local_addr = listener.local_addr()?;
        if let Some(peer) = config
            .peers
            .keys()
            .find(|p| **p != config.me && !config.peer_keys.contains_key(p))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no public key for h{}", peer.0),
            ));
        }
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0))?);
        let (handoff_tx, handoff_rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            local_addr,
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            streams: Mutex::new(HashMap::new()),
            next_stream_id: AtomicU64::new(0),
            inbound_open: AtomicUsize::new(0),
            preauth: Arc::new(PreAuthBudget::new(
                config.tuning.max_preauth_connections,
                config.tuning.max_preauth_per_address,
            )),
            refusals: RefusalLog::new(),
            inbound_from: Mutex::new(BTreeMap::new()),
            outbound_to: Mutex::new(BTreeMap::new()),
            handoff: Handoff {
                tx: handoff_tx,
                waker: waker.clone(),
            },
            config,
        });
        let inbound = Inbound::new(shared.clone(), poll, waker, handoff_rx);
        let mut threads = Vec::new();
        let mut queues = BTreeMap::new();
        let mut links = BTreeMap::new();
        for (&peer, &addr) in &shared.config.peers {
            if peer == shared.config.me {
                continue;
            }
            let (tx, rx) = mpsc::sync_channel(shared.config.tuning.queue_capacity.max(1));
            queues.insert(peer, tx);
            let link = Arc::new(Link::default());
            links.insert(peer, link.clone());
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ftc-writer-h{}", peer.0))
                    .spawn(move || run_writer(s, peer, addr, rx, link))?,
            );
        }
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("ftc-acceptor".into())
                .spawn(move || run_acceptor(s, listener))?,
        );
        Ok((
            Transport {
                shared,
                queues: Mutex::new(queues),
                links,
                threads: Mutex::new(threads),
            },
            inbound,
        ))
    }

    /// Where this endpoint accepts connections.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Queues `msg` for `to`, stamped with the sender's incarnation `incarnation`.
    /// Never blocks; returns `false` if the message was dropped (unknown peer, full
    /// queue, or the transport is shut down).
    ///
    /// The message always goes through the writer thread, which packs whatever
    /// piled up into one frame: the right path for a caller sending messages
    /// one by one in a loop. A caller that collects its messages per peer uses
    /// [`Transport::send_batch`].
    pub fn send(&self, to: HostId, incarnation: Incarnation, msg: Message) -> bool {
        self.send_batch_queued(to, incarnation, vec![msg])
    }

    /// Queues `msgs` for the writer thread; large messages go first, as a
    /// batch of their own, and are dropped while another large batch for `to`
    /// is queued or being written.
    fn send_batch_queued(&self, to: HostId, incarnation: Incarnation, msgs: Vec<Message>) -> bool {
        let Some(link) = self.links.get(&to) else {
            return self.dropped(msgs.len() as u64);
        };
        if !is_large(&msgs) {
            return self.enqueue(to, incarnation, msgs);
        }
        let (large, small): (Vec<Message>, Vec<Message>) = msgs
            .into_iter()
            .partition(|m| m.bulk_bytes() >= LARGE_BATCH_BYTES);
        let mut sent = true;
        if !large.is_empty() {
            if link.large.swap(true, Ordering::SeqCst) {
                sent = self.dropped(large.len() as u64);
            } else if !self.enqueue(to, incarnation, large) {
                link.large.store(false, Ordering::SeqCst);
                sent = false;
            }
        }
        if !small.is_empty() {
            sent &= self.enqueue(to, incarnation, small);
        }
        sent
    }

    /// Queues `msgs` for `to` in order, as one queue entry (one wake-up of the
    /// writer). Never blocks; returns `false` if they were dropped.
    ///
    /// A small batch is written at once by the calling thread when the peer's
    /// connection is idle (nothing queued, the writer not writing); the socket
    /// is non-blocking for that write and the writer thread finishes what it
    /// did not take. Everything else is queued for the writer thread.
    pub fn send_batch(&self, to: HostId, incarnation: Incarnation, msgs: Vec<Message>) -> bool {
        let count = msgs.len() as u64;
        if count == 0 {
            return true;
        }
        let Some(link) = self.links.get(&to) else {
            return self.dropped(count);
        };
        let msgs = if msgs.len() <= DIRECT_BATCH_MAX && !is_large(&msgs) {
            match self.send_direct(to, link, incarnation, msgs) {
                Ok(sent) => return sent,
                Err(msgs) => msgs,
            }
        } else {
            msgs
        };
        self.send_batch_queued(to, incarnation, msgs)
    }

    /// Counts `count` dropped messages; `false`, for the sender to return.
    fn dropped(&self, count: u64) -> bool {
        self.shared
            .counters
            .messages_dropped
            .fetch_add(count, Ordering::Relaxed);
        false
    }

    /// Queues `msgs` for `to`'s writer thread; `false` if they were dropped.
    fn enqueue(&self, to: HostId, incarnation: Incarnation, msgs: Vec<Message>) -> bool {
        let count = msgs.len() as u64;
        let Some(link) = self.links.get(&to) else {
            return self.dropped(count);
        };
        let queues = match self.queues.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        link.queued.fetch_add(1, Ordering::SeqCst);
        let sent = match queues.get(&to) {
            Some(tx) => match tx.try_send((incarnation, msgs)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            link.queued.fetch_sub(1, Ordering::SeqCst);
            return self.dropped(count);
        }
        true
    }

    /// Writes `msgs` on the calling thread if `to`'s connection is idle:
    /// `Ok(true)` written (or handed to the writer thread to finish), `Ok(false)`
    /// dropped with the connection that failed, `Err(msgs)` not idle (queue them).
    fn send_direct(
        &self,
        to: HostId,
        link: &Link,
        incarnation: Incarnation,
        msgs: Vec<Message>,
    ) -> Result<bool, Vec<Message>> {
        let shared = &self.shared;
        // The writer thread holds the lock while it writes: then it is not idle.
        let Ok(mut state) = link.state.try_lock() else {
            return Err(msgs);
        };
        let idle = link.queued.load(Ordering::SeqCst) == 0
            && state.leftover.is_empty()
            && state.bulk.is_empty()
            && state.conn.is_some()
            && !shared.stop.load(Ordering::SeqCst);
        if !idle {
            return Err(msgs);
        }
        let LinkState {
            conn,
            leftover,
            bulk,
            ..
        } = &mut *state;
        let Some((stream, _, seal)) = conn.as_mut() else {
            return Err(msgs);
        };
        let mut batch = msgs;
        let mut buf = Vec::new();
        let frames = encode_data(shared, to, incarnation, &mut batch, &mut buf, seal, bulk);
        let bulk_waiting = !bulk.is_empty();
        match write_nonblocking(stream, &buf) {
            Ok(written) => {
                shared
                    .counters
                    .messages_sent
                    .fetch_add(frames, Ordering::Relaxed);
                shared
                    .counters
                    .batches_written
                    .fetch_add(1, Ordering::Relaxed);
                if written < buf.len() || bulk_waiting {
                    // The writer thread writes the rest before anything else.
                    *leftover = buf.split_off(written);
                    drop(state);
                    self.wake_writer(to, link);
                }
                Ok(true)
            }
            Err(e) => {
                log_line(
                    shared.config.me,
                    format_args!("connection to h{} lost: {e}", to.0),
                );
                shared
                    .counters
                    .messages_dropped
                    .fetch_add(frames, Ordering::Relaxed);
                close_link(shared, to, &mut state);
                drop(state);
                // The writer thread redials.
                self.wake_writer(to, link);
                Ok(false)
            }
        }
    }

    /// Queues an empty batch: the writer thread wakes, finishes a leftover or redials.
    fn wake_writer(&self, to: HostId, link: &Link) {
        let queues = match self.queues.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(tx) = queues.get(&to) {
            link.queued.fetch_add(1, Ordering::SeqCst);
            if tx
                .try_send((self.shared.config.incarnation, Vec::new()))
                .is_err()
            {
                link.queued.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Peers with an authenticated connection open in both directions right now.
    pub fn connected_peers(&self) -> std::collections::BTreeSet<HostId> {
        let lock = |m: &Mutex<BTreeMap<HostId, usize>>| match m.lock() {
            Ok(l) => l
                .keys()
                .copied()
                .collect::<std::collections::BTreeSet<HostId>>(),
            Err(poisoned) => poisoned.into_inner().keys().copied().collect(),
        };
        let inbound = lock(&self.shared.inbound_from);
        let outbound = lock(&self.shared.outbound_to);
        inbound.intersection(&outbound).copied().collect()
    }

    pub fn stats(&self) -> TransportStats {
        let c = &self.shared.counters;
        TransportStats {
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
            batches_written: c.batches_written.load(Ordering::Relaxed),
            messages_received: c.messages_received.load(Ordering::Relaxed),
            handshakes_completed: c.handshakes_completed.load(Ordering::Relaxed),
            connections_rejected: c.connections_rejected.load(Ordering::Relaxed),
            messages_dropped: c.messages_dropped.load(Ordering::Relaxed),
        }
    }

    /// Closes every connection and joins the acceptor and writers. Idempotent.
    pub fn shutdown(&self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        // Writers see their queue disconnect.
        match self.queues.lock() {
            Ok(mut q) => q.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
        // Wake the acceptor, which blocks in `accept`, and the inbound reader.
        let _ = TcpStream::connect_timeout(&self.shared.local_addr, Duration::from_millis(200));
        let _ = self.shared.handoff.waker.wake();
        close_all_streams(&self.shared);
        if let Some(line) = self.shared.refusals.flush(Instant::now()) {
            log_line(self.shared.config.me, format_args!("{line}"));
        }
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for t in threads {
            let _ = t.join();
        }
        close_all_streams(&self.shared);
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn close_all_streams(shared: &Shared) {
    let streams = match shared.streams.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for (_, s) in streams {
        let _ = s.shutdown(Shutdown::Both);
    }
}

fn register_stream(shared: &Shared, stream: &TcpStream) -> Option<u64> {
    let id = shared.next_stream_id.fetch_add(1, Ordering::Relaxed);
    let clone = stream.try_clone().ok()?;
    let mut streams = match shared.streams.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    if shared.stop.load(Ordering::SeqCst) {
        return None;
    }
    streams.insert(id, clone);
    Some(id)
}

fn unregister_stream(shared: &Shared, id: u64) {
    let mut streams = match shared.streams.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    streams.remove(&id);
}

/// A connection notice (a peer unreachable, a link lost, a refusal summary).
fn log_line(me: HostId, text: std::fmt::Arguments<'_>) {
    tracing::warn!(target: "ftc::transport", "h{}: {}", me.0, text);
}

/// Counts a refused connection and logs it, rate-limited.
fn reject(shared: &Shared, peer: SocketAddr, reason: &LinkError) {
    shared
        .counters
        .connections_rejected
        .fetch_add(1, Ordering::Relaxed);
    for line in shared
        .refusals
        .note(Instant::now(), peer, reason.kind(), reason)
    {
        log_line(shared.config.me, format_args!("{line}"));
    }
}

/// Writes the summary of refusals counted in an interval that is over.
fn report_refusals(shared: &Shared) {
    if let Some(line) = shared.refusals.tick(Instant::now()) {
        log_line(shared.config.me, format_args!("{line}"));
    }
}

// ---------------------------------------------------------------------------
// Framing

/// Appends one frame to `buf`, sealed when `seal` is given. Fails (leaving
/// `buf` as it was) when the frame would exceed [`MAX_FRAME_BYTES`] or cannot
/// be encoded.
fn encode_frame(
    frame: &Frame,
    buf: Vec<u8>,
    seal: Option<&mut Seal>,
) -> Result<Vec<u8>, (Vec<u8>, LinkError)> {
    let start = buf.len();
    let mut buf = buf;
    let Some(seal) = seal else {
        buf.extend_from_slice(&[0, 0, 0, 0, PROTOCOL_VERSION]);
        let mut buf = match postcard::to_extend(frame, buf) {
            Ok(b) => b,
            // postcard consumed the buffer; start a fresh one.
            Err(e) => return Err((Vec::new(), LinkError::Malformed(e.to_string()))),
        };
        let len = buf.len() - start - 4;
        if len > MAX_FRAME_BYTES {
            buf.truncate(start);
            return Err((buf, LinkError::Oversized(len, MAX_FRAME_BYTES)));
        }
        // `len` fits in u32: MAX_FRAME_BYTES does.
        buf[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
        return Ok(buf);
    };
    let mut plain = std::mem::take(&mut seal.scratch);
    plain.clear();
    let plain = match postcard::to_extend(frame, plain) {
        Ok(p) => p,
        Err(e) => return Err((buf, LinkError::Malformed(e.to_string()))),
    };
    let len = 1 + Seal::sealed_len(plain.len());
    if len > MAX_FRAME_BYTES {
        seal.scratch = plain;
        return Err((buf, LinkError::Oversized(len, MAX_FRAME_BYTES)));
    }
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    buf.push(PROTOCOL_VERSION);
    let sealed = seal.seal(&plain, &mut buf);
    seal.scratch = plain;
    match sealed {
        Ok(()) => Ok(buf),
        Err(e) => {
            buf.truncate(start);
            Err((buf, e))
        }
    }
}

/// Writes what the socket takes without waiting; returns how many bytes it
/// took. `MSG_DONTWAIT` makes this one call non-blocking while the socket
/// stays blocking for its writer thread: one system call per write, where
/// switching the socket's mode would take three.
fn write_nonblocking(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    use nix::errno::Errno;
    use nix::sys::socket::{send, MsgFlags};
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let mut written = 0;
    while written < buf.len() {
        match send(
            fd,
            &buf[written..],
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => written += n,
            Err(Errno::EAGAIN) => break,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(io::Error::from(e)),
        }
    }
    Ok(written)
}

fn write_frame(stream: &mut TcpStream, frame: &Frame) -> Result<(), LinkError> {
    let buf = encode_frame(frame, Vec::new(), None).map_err(|(_, e)| e)?;
    // Handshake frames are the only unsealed ones; the peer refuses larger.
    assert!(
        buf.len() - 4 <= PREAUTH_MAX_FRAME_BYTES,
        "a handshake frame of {} bytes exceeds the pre-auth maximum",
        buf.len() - 4
    );
    stream.write_all(&buf)?;
    Ok(())
}

/// Reads exactly `buf.len()` bytes, giving up at `deadline`. Without a deadline
/// the socket's read timeout, set once by the caller, bounds each read, so a
/// frame costs no `setsockopt` (the data phase reads many frames per second).
fn read_exact_by(
    reader: &mut impl Read,
    socket: &TcpStream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<(), LinkError> {
    let mut filled = 0;
    while filled < buf.len() {
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                return Err(LinkError::TimedOut);
            }
            socket.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Err(LinkError::Closed),
            Ok(n) => filled += n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return Err(LinkError::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LinkError::Io(e)),
        }
    }
    Ok(())
}

/// Reads one frame of at most `max_len` bytes; the length is checked before
/// anything is allocated.
fn read_frame(
    reader: &mut impl Read,
    socket: &TcpStream,
    deadline: Option<Instant>,
    payload: &mut Vec<u8>,
    seal: Option<&mut Seal>,
    max_len: usize,
) -> Result<Frame, LinkError> {
    let mut header = [0u8; 5];
    read_exact_by(reader, socket, &mut header, deadline)?;
    let len = header_len(&header, max_len)?;
    payload.clear();
    payload.resize(len - 1, 0);
    read_exact_by(reader, socket, payload, deadline)?;
    let body = match seal {
        Some(seal) => seal.open(payload)?,
        None => &payload[..],
    };
    decode_frame(body)
}

/// The length a frame header (`[u32 length][u8 version]`) announces, refused
/// when it is 0, above `max_len` or of another protocol version.
fn header_len(header: &[u8; 5], max_len: usize) -> Result<usize, LinkError> {
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > max_len {
        return Err(LinkError::Oversized(len, max_len));
    }
    if len == 0 {
        return Err(LinkError::Empty);
    }
    if header[4] != PROTOCOL_VERSION {
        return Err(LinkError::WrongVersion(header[4]));
    }
    Ok(len)
}

/// A frame's (decrypted) payload, which must decode whole.
fn decode_frame(body: &[u8]) -> Result<Frame, LinkError> {
    let (frame, rest) = postcard::take_from_bytes::<Frame>(body)
        .map_err(|e| LinkError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(LinkError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(frame)
}

/// Seals the frames of one established connection: Noise transport messages,
/// whose counter nonces make a frame that was altered, injected, replayed or
/// reordered fail to decrypt. A frame's plaintext is encrypted in segments of
/// at most [`SEGMENT_PLAIN_MAX`] bytes (a Noise message is at most 64 KiB), so
/// its ciphertext is a run of full-size segments and a last shorter one.
struct Seal {
    noise: snow::TransportState,
    /// The decrypted payload of the last frame opened.
    plain: Vec<u8>,
    /// Encoding space for the next frame sealed.
    scratch: Vec<u8>,
}

impl Seal {
    fn new(noise: snow::TransportState) -> Seal {
        Seal {
            noise,
            plain: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Bytes of `plain` bytes sealed.
    fn sealed_len(plain: usize) -> usize {
        plain + NOISE_TAG_BYTES * plain.div_ceil(SEGMENT_PLAIN_MAX).max(1)
    }

    fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), LinkError> {
        if plain.is_empty() {
            return self.seal_segment(&[], out);
        }
        for segment in plain.chunks(SEGMENT_PLAIN_MAX) {
            self.seal_segment(segment, out)?;
        }
        Ok(())
    }

    /// Appends one Noise transport message holding `segment`.
    fn seal_segment(&mut self, segment: &[u8], out: &mut Vec<u8>) -> Result<(), LinkError> {
        let at = out.len();
        out.resize(at + segment.len() + NOISE_TAG_BYTES, 0);
        let n = self
            .noise
            .write_message(segment, &mut out[at..])
            .map_err(|e| LinkError::Noise(e.to_string()))?;
        assert_eq!(
            n,
            segment.len() + NOISE_TAG_BYTES,
            "a sealed segment's size"
        );
        Ok(())
    }

    /// Decrypts one sealed frame payload; the plaintext stays in `self.plain`.
    fn open(&mut self, sealed: &[u8]) -> Result<&[u8], LinkError> {
        self.plain.clear();
        if sealed.is_empty() {
            return Err(LinkError::Malformed(
                "a sealed frame without its tag".into(),
            ));
        }
        for segment in sealed.chunks(NOISE_MESSAGE_MAX) {
            if segment.len() < NOISE_TAG_BYTES {
                return Err(LinkError::Malformed(
                    "a segment shorter than its tag".into(),
                ));
            }
            let at = self.plain.len();
            self.plain.resize(at + segment.len() - NOISE_TAG_BYTES, 0);
            self.noise
                .read_message(segment, &mut self.plain[at..])
                .map_err(|_| LinkError::Auth("a frame does not decrypt"))?;
        }
        Ok(&self.plain)
    }
}

// ---------------------------------------------------------------------------
// Handshake

/// Binds the handshake to the protocol version and both host names.
fn prologue(dialer: HostId, acceptor: HostId) -> Vec<u8> {
    let mut p = b"ftc-transport".to_vec();
    p.push(PROTOCOL_VERSION);
    p.extend_from_slice(&dialer.0.to_be_bytes());
    p.extend_from_slice(&acceptor.0.to_be_bytes());
    p
}

/// The Noise handshake state of one side of a link.
fn handshake_state(
    initiator: bool,
    prologue: &[u8],
    identity: &HostKey,
    remote: &PublicKey,
) -> Result<snow::HandshakeState, LinkError> {
    let noise = |e: snow::Error| LinkError::Noise(e.to_string());
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse().map_err(noise)?;
    let private = identity.dh_private();
    let remote = remote.dh_public().ok_or(LinkError::Auth(
        "the peer's public key is not an Ed25519 point",
    ))?;
    let builder = snow::Builder::new(params)
        .local_private_key(&private)
        .map_err(noise)?
        .remote_public_key(&remote)
        .map_err(noise)?
        .prologue(prologue)
        .map_err(noise)?;
    if initiator {
        builder.build_initiator().map_err(noise)
    } else {
        builder.build_responder().map_err(noise)
    }
}

/// The incarnation a handshake payload carries.
fn incarnation_payload(payload: &[u8]) -> Result<Incarnation, LinkError> {
    let bytes: [u8; 8] = payload
        .try_into()
        .map_err(|_| LinkError::Malformed("a handshake payload is not an incarnation".into()))?;
    Ok(Incarnation(u64::from_be_bytes(bytes)))
}

/// What the dialer learned about the acceptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    pub host: HostId,
    pub incarnation: Incarnation,
}

/// Who dials: a host, its incarnation and its key pair.
#[derive(Clone, Copy)]
pub struct Dialer<'a> {
    pub me: HostId,
    pub incarnation: Incarnation,
    pub identity: &'a HostKey,
}

/// Dials `addr`, expecting host `to` holding `to_key`, and runs the dialer's
/// half of the handshake.
fn dial(
    dialer: Dialer<'_>,
    to: HostId,
    to_key: &PublicKey,
    addr: SocketAddr,
    tuning: &TransportTuning,
) -> Result<(TcpStream, PeerIdentity, Seal), LinkError> {
    let stream =
        TcpStream::connect_timeout(&addr, Duration::from_millis(tuning.connect_timeout_ms))?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(Duration::from_millis(tuning.write_timeout_ms.max(1))))?;
    let deadline = Instant::now() + Duration::from_millis(tuning.handshake_timeout_ms);
    let mut handshake = handshake_state(true, &prologue(dialer.me, to), dialer.identity, to_key)?;
    let mut message = [0u8; HANDSHAKE_MESSAGE_MAX];
    let n = handshake
        .write_message(&dialer.incarnation.0.to_be_bytes(), &mut message)
        .map_err(|e| LinkError::Noise(e.to_string()))?;
    let mut writer = stream.try_clone()?;
    write_frame(
        &mut writer,
        &Frame::Hello {
            from: dialer.me,
            to,
            noise: message[..n].to_vec(),
        },
    )?;
    // Unbuffered: the handshake reads exactly its frames and nothing after them.
    let mut reader: &TcpStream = &stream;
    let mut payload = Vec::new();
    let noise = match read_frame(
        &mut reader,
        &stream,
        Some(deadline),
        &mut payload,
        None,
        PREAUTH_MAX_FRAME_BYTES,
    )? {
        Frame::Challenge { noise } => noise,
        _ => return Err(LinkError::Unexpected("expected Challenge")),
    };
    let mut received = [0u8; HANDSHAKE_MESSAGE_MAX];
    let n = handshake.read_message(&noise, &mut received).map_err(|_| {
        LinkError::Auth("the peer does not hold the key of the host it was dialled as")
    })?;
    let acceptor_incarnation = incarnation_payload(&received[..n])?;
    let mut transport = handshake
        .into_transport_mode()
        .map_err(|e| LinkError::Noise(e.to_string()))?;
    let n = transport
        .write_message(&[], &mut message)
        .map_err(|e| LinkError::Noise(e.to_string()))?;
    write_frame(
        &mut writer,
        &Frame::Proof {
            noise: message[..n].to_vec(),
        },
    )?;
    Ok((
        stream,
        PeerIdentity {
            host: to,
            incarnation: acceptor_incarnation,
        },
        Seal::new(transport),
    ))
}

/// Connects to a kernel, authenticates as `me`, and returns the identity it
/// proved, then closes. A liveness and key check for tools and tests.
pub fn probe(
    dialer: Dialer<'_>,
    to: HostId,
    to_key: &PublicKey,
    addr: SocketAddr,
    tuning: &TransportTuning,
) -> Result<PeerIdentity, LinkError> {
    let (stream, identity, _) = dial(dialer, to, to_key, addr, tuning)?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(identity)
}

/// The acceptor's half of the handshake; returns the authenticated dialer.
///
/// It reads the socket unbuffered, frames of at most [`PREAUTH_MAX_FRAME_BYTES`]:
/// a stranger costs no read buffer and no allocation it announces.
fn accept_handshake(
    shared: &Shared,
    socket: &TcpStream,
    payload: &mut Vec<u8>,
) -> Result<(PeerIdentity, Seal), LinkError> {
    let config = &shared.config;
    let deadline = Instant::now() + Duration::from_millis(config.tuning.handshake_timeout_ms);
    let mut reader: &TcpStream = socket;
    let (from, to, noise) = match read_frame(
        &mut reader,
        socket,
        Some(deadline),
        payload,
        None,
        PREAUTH_MAX_FRAME_BYTES,
    )? {
        Frame::Hello { from, to, noise } => (from, to, noise),
        _ => return Err(LinkError::Unexpected("expected Hello")),
    };
    if to != config.me {
        return Err(LinkError::Auth("Hello addressed to another host"));
    }
    let Some(from_key) = config.peer_keys.get(&from).filter(|_| from != config.me) else {
        return Err(LinkError::Auth("Hello from a host not in the cluster"));
    };
    let mut handshake = handshake_state(
        false,
        &prologue(from, config.me),
        &config.identity,
        from_key,
    )?;
    let mut received = [0u8; HANDSHAKE_MESSAGE_MAX];
    let n = handshake
        .read_message(&noise, &mut received)
        .map_err(|_| LinkError::Auth("a Hello that does not decrypt (wrong key or names)"))?;
    // Not trusted until the Proof: a recorded Hello can be replayed.
    let dialer_incarnation = incarnation_payload(&received[..n])?;
    let mut message = [0u8; HANDSHAKE_MESSAGE_MAX];
    let n = handshake
        .write_message(&config.incarnation.0.to_be_bytes(), &mut message)
        .map_err(|e| LinkError::Noise(e.to_string()))?;
    let mut writer = socket.try_clone()?;
    write_frame(
        &mut writer,
        &Frame::Challenge {
            noise: message[..n].to_vec(),
        },
    )?;
    let mut transport = handshake
        .into_transport_mode()
        .map_err(|e| LinkError::Noise(e.to_string()))?;
    match read_frame(
        &mut reader,
        socket,
        Some(deadline),
        payload,
        None,
        PREAUTH_MAX_FRAME_BYTES,
    )? {
        Frame::Proof { noise } => {
            let n = transport
                .read_message(&noise, &mut received)
                .map_err(|_| LinkError::Auth("wrong proof"))?;
            if n != 0 {
                return Err(LinkError::Malformed("a proof with a payload".into()));
            }
        }
        _ => return Err(LinkError::Unexpected("expected Proof")),
    }
    Ok((
        PeerIdentity {
            host: from,
            incarnation: dialer_incarnation,
        },
        Seal::new(transport),
    ))
}

// ---------------------------------------------------------------------------
// Threads

fn run_acceptor(shared: Arc<Shared>, listener: TcpListener) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        readers.retain(|h| !h.is_finished());
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                log_line(shared.config.me, format_args!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // A stranger gets a pre-auth slot or is closed at once, costing nothing more.
        let slot = match shared.preauth.take(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                let why = match why {
                    NoSlot::AddressFull => "unauthenticated connections from this address",
                    NoSlot::TotalFull => "unauthenticated connections in all",
                };
                reject(&shared, peer, &LinkError::Refused(why));
                let _ = stream.shutdown(Shutdown::Both);
                continue;
            }
        };
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("ftc-reader".into())
            .spawn(move || run_reader(&s, stream, peer, slot));
        match spawned {
            Ok(h) => readers.push(h),
            Err(e) => {
                log_line(shared.config.me, format_args!("cannot start reader: {e}"));
            }
        }
    }
    close_all_streams(&shared);
    for h in readers {
        let _ = h.join();
    }
}

fn run_reader(shared: &Shared, stream: TcpStream, addr: SocketAddr, slot: PreAuthSlot) {
    let Some(id) = register_stream(shared, &stream) else {
        return;
    };
    let authenticated = authenticate(shared, &stream, slot);
    unregister_stream(shared, id);
    match authenticated {
        Ok((peer, seal)) => hand_over(shared, stream, addr, peer, seal),
        Err(e) => {
            if !shared.stop.load(Ordering::SeqCst) {
                match e {
                    // A peer that goes away (restart, crash) is routine, not an attack.
                    LinkError::Closed => {}
                    LinkError::Io(ref io)
                        if io.kind() == io::ErrorKind::ConnectionReset
                            || io.kind() == io::ErrorKind::BrokenPipe => {}
                    e => reject(shared, addr, &e),
                }
            }
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Runs the handshake holding `slot`; the authenticated peer (the slot
/// returned, a slot of the authenticated connections taken), or why not.
fn authenticate(
    shared: &Shared,
    stream: &TcpStream,
    slot: PreAuthSlot,
) -> Result<(PeerIdentity, Seal), LinkError> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(Duration::from_millis(
        shared.config.tuning.write_timeout_ms.max(1),
    )))?;
    let mut payload = Vec::new();
    let handshake = accept_handshake(shared, stream, &mut payload);
    drop(slot);
    let (peer, seal) = handshake.map_err(|e| LinkError::Handshake(Box::new(e)))?;
    shared
        .counters
        .handshakes_completed
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        target: "ftc::transport",
        "h{}: h{} (incarnation {}) connected",
        shared.config.me.0,
        peer.host.0,
        peer.incarnation.0
    );
    let limit = shared.config.tuning.max_inbound_connections;
    if shared.inbound_open.fetch_add(1, Ordering::SeqCst) >= limit {
        shared.inbound_open.fetch_sub(1, Ordering::SeqCst);
        return Err(LinkError::Refused("authenticated connections in all"));
    }
    set_link(&shared.inbound_from, peer.host, 1);
    Ok((peer, seal))
}

/// Gives an authenticated connection to the endpoint's [`Inbound`], which
/// reads it from now on (and gives back its counts when it closes).
fn hand_over(shared: &Shared, stream: TcpStream, addr: SocketAddr, peer: PeerIdentity, seal: Seal) {
    let adopted = Adopted {
        stream,
        addr,
        peer,
        seal,
    };
    match shared.handoff.tx.send(adopted) {
        Ok(()) => {
            let _ = shared.handoff.waker.wake();
        }
        Err(mpsc::SendError(adopted)) => {
            // Nobody reads any more: the endpoint is stopping.
            inbound::release(shared, adopted.peer);
            let _ = adopted.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Sleeps up to `pause`, returning early when the transport stops.
fn pause_unless_stopped(shared: &Shared, pause: Duration) {
    let until = Instant::now() + pause;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}

fn run_writer(
    shared: Arc<Shared>,
    peer: HostId,
    addr: SocketAddr,
    queue: Receiver<QueuedBatch>,
    link: Arc<Link>,
) {
    let config = &shared.config;
    let tuning = &config.tuning;
    let keepalive = Duration::from_millis(tuning.keepalive_ms.max(1));
    let backoff_min = Duration::from_millis(tuning.backoff_min_ms.max(1));
    let backoff_max =
        Duration::from_millis(tuning.backoff_max_ms.max(tuning.backoff_min_ms).max(1));
    let mut backoff = backoff_min;
    let mut pending: Option<QueuedBatch> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
    let mut last_failure_logged: Option<Instant> = None;
    // This writer took the large batch of `link.large` off the queue and has
    // not finished writing it.
    let mut holding_large = false;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        report_refusals(&shared);
        // Dial eagerly, so peers know early that this host is up (see
        // `Transport::connected_peers`), and keep redialling with backoff.
        if lock_state(&link).conn.is_none() {
            let dialer = Dialer {
                me: config.me,
                incarnation: config.incarnation,
                identity: &config.identity,
            };
            let dialled = match config.peer_keys.get(&peer) {
                Some(key) => dial(dialer, peer, key, addr, tuning),
                None => Err(LinkError::Auth("no public key for this peer")),
            };
            match dialled {
                Ok((stream, _, seal)) => {
                    backoff = backoff_min;
                    let Some(id) = register_stream(&shared, &stream) else {
                        break;
                    };
                    let mut state = lock_state(&link);
                    state.leftover.clear();
                    state.conn = Some((stream, id, seal));
                    set_link(&shared.outbound_to, peer, 1);
                }
                Err(e) => {
                    if matches!(e, LinkError::Auth(_) | LinkError::WrongVersion(_)) {
                        reject(&shared, addr, &e);
                    } else if last_failure_logged
                        .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
                    {
                        last_failure_logged = Some(Instant::now());
                        log_line(
                            config.me,
                            format_args!("cannot reach h{} at {addr}: {e}", peer.0),
                        );
                    }
                    // The peer is unreachable: what is queued is stale by the time it
                    // would arrive, and the protocols retransmit.
                    let mut dropped = 0;
                    let mut taken = 0;
                    if let Some((_, m)) = pending.take() {
                        dropped += m.len() as u64;
                        taken += 1;
                    }
                    while let Ok((_, m)) = queue.try_recv() {
                        dropped += m.len() as u64;
                        taken += 1;
                    }
                    link.queued.fetch_sub(taken, Ordering::SeqCst);
                    // No large batch is queued or being written any more.
                    holding_large = false;
                    link.large.store(false, Ordering::SeqCst);
                    shared
                        .counters
                        .messages_dropped
                        .fetch_add(dropped, Ordering::Relaxed);
                    pause_unless_stopped(&shared, backoff);
                    backoff = (backoff * 2).min(backoff_max);
                    continue;
                }
            }
        }
        if pending.is_none() {
            if lock_state(&link).bulk.is_empty() {
                match queue.recv_timeout(keepalive) {
                    Ok(item) => pending = Some(item),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                // Chunks of a large message wait: take what is queued, do not wait.
                match queue.try_recv() {
                    Ok(item) => pending = Some(item),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => break,
                }
            }
        }
        // Everything below holds the link: direct sends wait behind these writes.
        let mut state = lock_state(&link);
        let LinkState {
            conn,
            leftover,
            bulk,
        } = &mut *state;
        let Some((stream, _, seal)) = conn.as_mut() else {
            continue;
        };
        // Batch: the pending messages and whatever else is queued, in one sealed
        // frame per incarnation stamp (so one tag and one write for all of them),
        // after what a direct send left over.
        buf.clear();
        buf.append(leftover);
        let mut frames: u64 = 0;
        let mut taken: usize = 0;
        let mut disconnected = false;
        let mut next = pending.take();
        if next.is_none() && bulk.is_empty() {
            match encode_frame(&Frame::Ping, std::mem::take(&mut buf), Some(seal)) {
                Ok(b) => buf = b,
                Err((b, _)) => buf = b,
            }
        }
        let mut batch: Vec<Message> = Vec::new();
        let mut stamp = Incarnation(0);
        loop {
            // Take queued batches while they carry the same stamp and fit; a
            // large batch goes alone.
            let mut carry = None;
            if let Some((incarnation, msgs)) = next.take() {
                let large = is_large(&msgs);
                if batch.is_empty() || (incarnation == stamp && !large) {
                    taken += 1;
                    holding_large |= large;
                    if !msgs.is_empty() {
                        stamp = incarnation;
                        batch.extend(msgs);
                    }
                    if !large && batch.len() < BATCH_FRAMES_MAX {
                        match queue.try_recv() {
                            Ok(item) => {
                                next = Some(item);
                                continue;
                            }
                            Err(TryRecvError::Empty) => {}
                            Err(TryRecvError::Disconnected) => disconnected = true,
                        }
                    }
                } else {
                    carry = Some((incarnation, msgs));
                }
            }
            if !batch.is_empty() {
                frames += encode_data(&shared, peer, stamp, &mut batch, &mut buf, seal, bulk);
            }
            next = carry;
            if next.is_none() || buf.len() >= BATCH_BYTES_MAX {
                pending = next.take();
                break;
            }
        }
        // One chunk of the oldest large message, between the other frames.
        if let Some(b) = bulk.front_mut() {
            let end = (b.sent + CHUNK_BYTES).min(b.body.len());
            let part = Frame::Part {
                last: end == b.body.len(),
                bytes: b.body[b.sent..end].to_vec(),
            };
            b.sent = end;
            if end == b.body.len() {
                bulk.pop_front();
            }
            match encode_frame(&part, std::mem::take(&mut buf), Some(seal)) {
                Ok(b) => buf = b,
                Err((_, e)) => panic!("a chunk of {CHUNK_BYTES} bytes does not frame: {e}"),
            }
        }
        if !buf.is_empty() {
            match stream.write_all(&buf) {
                Ok(()) => {
                    shared
                        .counters
                        .messages_sent
                        .fetch_add(frames, Ordering::Relaxed);
                    if frames > 0 {
                        shared
                            .counters
                            .batches_written
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    if !shared.stop.load(Ordering::SeqCst) {
                        log_line(
                            config.me,
                            format_args!("connection to h{} at {addr} lost: {e}", peer.0),
                        );
                    }
                    shared
                        .counters
                        .messages_dropped
                        .fetch_add(frames, Ordering::Relaxed);
                    close_link(&shared, peer, &mut state);
                }
            }
        }
        // Written (or dropped with the connection): later direct sends may go.
        link.queued.fetch_sub(taken, Ordering::SeqCst);
        if holding_large && state.bulk.is_empty() {
            holding_large = false;
            link.large.store(false, Ordering::SeqCst);
        }
        drop(state);
        if disconnected {
            break;
        }
    }
    let mut state = lock_state(&link);
    close_link(&shared, peer, &mut state);
}

/// Appends `batch` (emptied) to `buf` as one sealed data frame; a batch too
/// large for one frame is encoded into `bulk`, to be written in chunks, and
/// one larger than [`MAX_MESSAGE_BYTES`] is dropped and logged. Returns how
/// many messages were encoded.
fn encode_data(
    shared: &Shared,
    peer: HostId,
    incarnation: Incarnation,
    batch: &mut Vec<Message>,
    buf: &mut Vec<u8>,
    seal: &mut Seal,
    bulk: &mut std::collections::VecDeque<Bulk>,
) -> u64 {
    let msgs = std::mem::take(batch);
    let count = msgs.len() as u64;
    let payloads: usize = msgs.iter().map(Message::bulk_bytes).sum();
    let frame = Frame::Data { incarnation, msgs };
    if payloads < MAX_FRAME_BYTES {
        match encode_frame(&frame, std::mem::take(buf), Some(seal)) {
            Ok(b) => {
                *buf = b;
                return count;
            }
            Err((b, _)) => *buf = b,
        }
    }
    let reason = match postcard::to_allocvec(&frame) {
        Ok(body) if body.len() <= MAX_MESSAGE_BYTES => {
            bulk.push_back(Bulk { body, sent: 0 });
            return count;
        }
        Ok(body) => format!(
            "{} bytes exceed the largest message, {MAX_MESSAGE_BYTES} bytes",
            body.len()
        ),
        Err(e) => e.to_string(),
    };
    shared
        .counters
        .messages_dropped
        .fetch_add(count, Ordering::Relaxed);
    log_line(
        shared.config.me,
        format_args!("dropped {count} messages to h{}: {reason}", peer.0),
    );
    0
}

/// Counts open authenticated connections per peer (`delta` +1 or -1).
fn set_link(links: &Mutex<BTreeMap<HostId, usize>>, peer: HostId, delta: isize) {
    let mut links = match links.lock() {
        Ok(l) => l,
        Err(poisoned) => poisoned.into_inner(),
    };
    let n = links.entry(peer).or_insert(0);
    *n = n.saturating_add_signed(delta);
    if *n == 0 {
        links.remove(&peer);
    }
}

#[cfg(test)]
mod tests;
