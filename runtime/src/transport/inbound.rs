//! The authenticated inbound connections, read by the thread that owns them.
//!
//! A connection's handshake runs on a thread of its own (blocking, with its
//! deadline and pre-auth slot); once the peer is authenticated the socket is
//! handed here ([`Adopted`]) and that thread ends. [`Inbound`] owns every such
//! socket, non-blocking, registered with one `mio::Poll`: its owner — the
//! kernel's core — waits on the sockets and its own wake-ups in one call
//! ([`Inbound::wait`]) and reads what is ready itself ([`Inbound::read`]), so a
//! message reaches the protocol without a reader thread and a queue between
//! them. Frames are checked as a reader thread checked them: length, version,
//! the seal, the incarnation, the chunks of a large message; a bad one closes
//! that connection and is logged like any refusal.
//!
//! Reads are budgeted per connection and round ([`READ_BUDGET_BYTES`]) so one
//! busy peer cannot starve the others; a connection left readable is kept
//! *hot* and read again next round without waiting (the poll is
//! edge-triggered). A connection silent for the idle timeout (its peer pings
//! when it has nothing to send) is closed.

use super::{
    decode_frame, header_len, reject, set_link, Frame, LinkError, PeerIdentity, Seal, Shared,
    MAX_FRAME_BYTES, MAX_MESSAGE_BYTES,
};
use crate::transport::Delivery;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The token of the waker; connections count up from 1.
const WAKE: Token = Token(0);
/// Bytes read from one connection per round before the others get their turn.
const READ_BUDGET_BYTES: usize = 1 << 20;
/// A read has at least this much room (beyond the frame being read).
const READ_CHUNK_BYTES: usize = 64 << 10;
/// Idle connections are looked for at most this often.
const IDLE_CHECK_EVERY: Duration = Duration::from_millis(100);

/// An authenticated connection, handed over by its handshake thread.
pub(super) struct Adopted {
    pub stream: std::net::TcpStream,
    pub addr: SocketAddr,
    pub peer: PeerIdentity,
    pub seal: Seal,
}

/// Where handshake threads hand connections over, and how they wake the owner.
pub(super) struct Handoff {
    pub tx: Sender<Adopted>,
    pub waker: Arc<Waker>,
}

/// Wakes the thread waiting in [`Inbound::wait`] (from any thread).
#[derive(Clone)]
pub struct Wake(Arc<Waker>);

impl Wake {
    pub fn wake(&self) {
        // Fails only if the poll is gone, when nobody waits any more.
        let _ = self.0.wake();
    }
}

struct Conn {
    stream: mio::net::TcpStream,
    addr: SocketAddr,
    peer: PeerIdentity,
    seal: Seal,
    /// Bytes read and not yet parsed: `buf[start..end]`. `buf` is zeroed
    /// once when it grows, not per read.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The chunks of a large message received so far.
    reassembly: Vec<u8>,
    heard: Instant,
    /// The poll reported the peer's end closed (or an error): read to the
    /// end, past short reads, to see it.
    closing: bool,
}

/// The authenticated inbound connections of one transport endpoint.
pub struct Inbound {
    shared: Arc<Shared>,
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    handoff: Receiver<Adopted>,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    /// Connections whose last read stopped at its budget.
    hot: Vec<Token>,
    /// Connections the last wait found readable.
    readable: Vec<Token>,
    idle_checked: Instant,
}

impl Inbound {
    pub(super) fn new(
        shared: Arc<Shared>,
        poll: Poll,
        waker: Arc<Waker>,
        handoff: Receiver<Adopted>,
    ) -> Inbound {
        Inbound {
            shared,
            poll,
            events: Events::with_capacity(256),
            waker,
            handoff,
            conns: HashMap::new(),
            next_token: 1,
            hot: Vec::new(),
            readable: Vec::new(),
            idle_checked: Instant::now(),
        }
    }

    /// What wakes [`Inbound::wait`] from another thread.
    pub fn wake_handle(&self) -> Wake {
        Wake(self.waker.clone())
    }

    /// Waits at most `timeout` for a connection with bytes to read, a new
    /// connection or a wake-up; at once when a connection is hot. For the
    /// first `spin` of it, it polls without sleeping, yielding the CPU between
    /// looks (`crate::busy_poll`).
    pub fn wait(&mut self, timeout: Duration, spin: Duration) {
        let timeout = if self.hot.is_empty() {
            timeout
        } else {
            Duration::ZERO
        };
        let spin = spin.min(timeout);
        if spin.is_zero() {
            // Not polling: no clock read on the core's every round.
            self.poll_once(timeout);
            return;
        }
        let start = Instant::now();
        while start.elapsed() < spin {
            if self.poll_once(Duration::ZERO) > 0 {
                return;
            }
            std::thread::yield_now();
        }
        self.poll_once(timeout.saturating_sub(start.elapsed()));
    }

    /// One `epoll_wait` of at most `timeout`; the number of events it gave.
    fn poll_once(&mut self, timeout: Duration) -> usize {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Not expected of epoll; do not spin on it.
                tracing::error!(target: "ftc::transport", "poll failed: {e}");
                std::thread::sleep(timeout.min(Duration::from_millis(10)));
            }
        }
        let mut count = 0;
        for event in self.events.iter() {
            count += 1;
            if event.token() != WAKE {
                self.readable.push(event.token());
                if event.is_read_closed() || event.is_error() {
                    if let Some(conn) = self.conns.get_mut(&event.token()) {
                        conn.closing = true;
                    }
                }
            }
        }
        count
    }

    /// Reads every connection that is ready (new ones included) within its
    /// budget, handing each `Data` frame's messages to `deliver` in order.
    pub fn read(&mut self, deliver: &mut impl FnMut(Vec<Delivery>)) {
        self.adopt();
        // `readable` is taken for the loop and given back empty, so the
        // round allocates nothing.
        let mut ready = std::mem::take(&mut self.readable);
        ready.append(&mut self.hot);
        ready.sort_unstable();
        ready.dedup();
        for &token in &ready {
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            match read_conn(&self.shared, conn, deliver) {
                Ok(true) => self.hot.push(token),
                Ok(false) => {}
                Err(e) => self.close(token, Some(e)),
            }
        }
        ready.clear();
        self.readable = ready;
        let now = Instant::now();
        if now.duration_since(self.idle_checked) >= IDLE_CHECK_EVERY {
            self.idle_checked = now;
            let idle = Duration::from_millis(self.shared.config.tuning.idle_timeout_ms.max(1));
            let silent: Vec<Token> = self
                .conns
                .iter()
                .filter(|(_, c)| now.duration_since(c.heard) > idle)
                .map(|(t, _)| *t)
                .collect();
            for token in silent {
                self.close(token, Some(LinkError::TimedOut));
            }
        }
    }

    /// Takes over the connections handshake threads handed over.
    fn adopt(&mut self) {
        while let Ok(adopted) = self.handoff.try_recv() {
            let Adopted {
                stream,
                addr,
                peer,
                seal,
            } = adopted;
            let token = Token(self.next_token);
            self.next_token += 1;
            let registered = stream.set_nonblocking(true).and_then(|()| {
                let mut stream = mio::net::TcpStream::from_std(stream);
                self.poll
                    .registry()
                    .register(&mut stream, token, Interest::READABLE)
                    .map(|()| stream)
            });
            let stream = match registered {
                Ok(s) => s,
                Err(e) => {
                    release(&self.shared, peer);
                    reject(&self.shared, addr, &LinkError::Io(e));
                    continue;
                }
            };
            self.conns.insert(
                token,
                Conn {
                    stream,
                    addr,
                    peer,
                    seal,
                    buf: vec![0; READ_CHUNK_BYTES],
                    start: 0,
                    end: 0,
                    reassembly: Vec::new(),
                    heard: Instant::now(),
                    closing: false,
                },
            );
            // Bytes may have arrived before the registration: read it now.
            self.hot.push(token);
        }
    }

    fn close(&mut self, token: Token, why: Option<LinkError>) {
        let Some(mut conn) = self.conns.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        release(&self.shared, conn.peer);
        let routine = match &why {
            None | Some(LinkError::Closed) => true,
            Some(LinkError::Io(io)) => matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        };
        if let Some(e) = why.filter(|_| !routine && !self.shared.stop.load(Ordering::SeqCst)) {
            reject(&self.shared, conn.addr, &e);
        }
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            self.close(token, None);
        }
    }
}

/// A closed (or never adopted) connection's share of the counts its
/// handshake thread took.
pub(super) fn release(shared: &Shared, peer: PeerIdentity) {
    set_link(&shared.inbound_from, peer.host, -1);
    shared.inbound_open.fetch_sub(1, Ordering::SeqCst);
}

/// Reads `conn` until it is empty (a short read, or `WouldBlock`) or its
/// budget is spent, handling every complete frame; `Ok(true)` when it stopped
/// at the budget (still readable).
fn read_conn(
    shared: &Shared,
    conn: &mut Conn,
    deliver: &mut impl FnMut(Vec<Delivery>),
) -> Result<bool, LinkError> {
    let mut budget = READ_BUDGET_BYTES;
    loop {
        make_room(conn)?;
        let want = (conn.buf.len() - conn.end).min(budget.max(1));
        match conn.stream.read(&mut conn.buf[conn.end..conn.end + want]) {
            Ok(0) => return Err(LinkError::Closed),
            Ok(n) => {
                conn.end += n;
                conn.heard = Instant::now();
                budget = budget.saturating_sub(n);
                frames(shared, conn, deliver)?;
                if budget == 0 {
                    return Ok(true);
                }
                // A short read emptied the socket: the edge-triggered poll
                // reports whatever arrives next, so the read that would only
                // say `WouldBlock` is skipped (one system call less per
                // delivery). An end of stream is read to, though: its event
                // came with the bytes just read and will not come again.
                if n < want && !conn.closing {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LinkError::Io(e)),
        }
    }
}

/// Makes `conn.buf` hold, from `conn.start`, the whole frame being read (its
/// header known) and a chunk more: unparsed bytes move to the front, and the
/// buffer grows only for a larger frame than it held before (a buffer grown
/// for a large frame shrinks back once it is empty).
fn make_room(conn: &mut Conn) -> Result<(), LinkError> {
    if conn.start == conn.end {
        conn.start = 0;
        conn.end = 0;
        if conn.buf.len() > READ_BUDGET_BYTES {
            conn.buf = vec![0; READ_CHUNK_BYTES];
        }
    }
    let unparsed = conn.end - conn.start;
    let frame = frame_len(&conn.buf[conn.start..conn.end])?.map_or(0, |len| 4 + len);
    let need = frame.max(unparsed + READ_CHUNK_BYTES);
    if conn.start + need > conn.buf.len() {
        conn.buf.copy_within(conn.start..conn.end, 0);
        conn.start = 0;
        conn.end = unparsed;
        if need > conn.buf.len() {
            conn.buf.resize(need, 0);
        }
    }
    Ok(())
}

/// The length a frame header at the start of `bytes` announces, once the
/// header is there; refuses what no frame may be.
fn frame_len(bytes: &[u8]) -> Result<Option<usize>, LinkError> {
    match bytes.first_chunk::<5>() {
        Some(header) => header_len(header, MAX_FRAME_BYTES).map(Some),
        None => Ok(None),
    }
}

/// Handles every complete frame in `conn.buf[conn.start..]`.
fn frames(
    shared: &Shared,
    conn: &mut Conn,
    deliver: &mut impl FnMut(Vec<Delivery>),
) -> Result<(), LinkError> {
    while let Some(len) = frame_len(&conn.buf[conn.start..conn.end])? {
        let end = conn.start + 4 + len;
        if conn.end < end {
            return Ok(());
        }
        let sealed = &conn.buf[conn.start + 5..end];
        let frame = decode_frame(conn.seal.open(sealed)?)?;
        conn.start = end;
        on_frame(shared, conn, frame, deliver)?;
    }
    Ok(())
}

/// One decrypted frame of an authenticated connection.
fn on_frame(
    shared: &Shared,
    conn: &mut Conn,
    frame: Frame,
    deliver: &mut impl FnMut(Vec<Delivery>),
) -> Result<(), LinkError> {
    let frame = match frame {
        Frame::Part { last, bytes } => {
            let len = conn.reassembly.len() + bytes.len();
            if len > MAX_MESSAGE_BYTES {
                return Err(LinkError::Oversized(len, MAX_MESSAGE_BYTES));
            }
            conn.reassembly.extend_from_slice(&bytes);
            if !last {
                return Ok(());
            }
            let body = std::mem::take(&mut conn.reassembly);
            match postcard::from_bytes::<Frame>(&body) {
                Ok(f @ Frame::Data { .. }) => f,
                Ok(_) => return Err(LinkError::Unexpected("chunks of a frame other than data")),
                Err(e) => return Err(LinkError::Malformed(e.to_string())),
            }
        }
        other => other,
    };
    match frame {
        Frame::Data { incarnation, msgs } => {
            if incarnation < conn.peer.incarnation {
                return Err(LinkError::Auth("data stamped with an older incarnation"));
            }
            if msgs.is_empty() {
                return Ok(());
            }
            shared
                .counters
                .messages_received
                .fetch_add(msgs.len() as u64, Ordering::Relaxed);
            let from = conn.peer.host;
            deliver(
                msgs.into_iter()
                    .map(|msg| Delivery {
                        from,
                        from_incarnation: incarnation,
                        msg,
                    })
                    .collect(),
            );
            Ok(())
        }
        Frame::Ping => Ok(()),
        _ => Err(LinkError::Unexpected("handshake frame after the handshake")),
    }
}
