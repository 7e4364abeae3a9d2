//! Transport tests over real sockets on 127.0.0.1.

use super::*;
use std::sync::mpsc::Receiver;

/// Key pairs of hosts h0..h3, made once per test process.
fn keys() -> &'static BTreeMap<HostId, HostKey> {
    static KEYS: std::sync::OnceLock<BTreeMap<HostId, HostKey>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (0..4)
            .map(|h| (HostId(h), HostKey::generate().expect("a key")))
            .collect()
    })
}

fn public_keys() -> BTreeMap<HostId, PublicKey> {
    keys().iter().map(|(h, k)| (*h, k.public())).collect()
}

fn key(h: u32) -> &'static HostKey {
    &keys()[&HostId(h)]
}

/// Dials `to` as `me` holding `identity`.
fn dial_as(
    me: u32,
    incarnation: u64,
    identity: &HostKey,
    to: u32,
    addr: SocketAddr,
) -> Result<(TcpStream, PeerIdentity, Seal), LinkError> {
    let dialer = Dialer {
        me: HostId(me),
        incarnation: Incarnation(incarnation),
        identity,
    };
    dial(dialer, HostId(to), &key(to).public(), addr, &tuning())
}

fn tuning() -> TransportTuning {
    TransportTuning {
        handshake_timeout_ms: 300,
        connect_timeout_ms: 300,
        write_timeout_ms: 1_000,
        idle_timeout_ms: 2_000,
        keepalive_ms: 200,
        backoff_min_ms: 5,
        backoff_max_ms: 50,
        ..TransportTuning::default()
    }
}

struct Node {
    transport: Transport,
    inbox: Receiver<Delivery>,
}

fn listeners(n: usize) -> (Vec<TcpListener>, BTreeMap<HostId, SocketAddr>) {
    let mut ls = Vec::new();
    let mut addrs = BTreeMap::new();
    for i in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        addrs.insert(HostId(i as u32), l.local_addr().expect("local addr"));
        ls.push(l);
    }
    (ls, addrs)
}

fn start_node(
    me: u32,
    incarnation: u64,
    listener: TcpListener,
    peers: &BTreeMap<HostId, SocketAddr>,
    identity: &HostKey,
) -> Node {
    start_node_tuned(me, incarnation, listener, peers, identity, tuning())
}

fn start_node_tuned(
    me: u32,
    incarnation: u64,
    listener: TcpListener,
    peers: &BTreeMap<HostId, SocketAddr>,
    identity: &HostKey,
    tuning: TransportTuning,
) -> Node {
    let (tx, rx) = mpsc::sync_channel(100_000);
    let deliver: DeliverFn =
        Arc::new(move |batch: Vec<Delivery>| batch.into_iter().all(|d| tx.send(d).is_ok()));
    let transport = Transport::start(
        TransportConfig {
            me: HostId(me),
            incarnation: Incarnation(incarnation),
            peers: peers.clone(),
            identity: identity.clone(),
            peer_keys: public_keys(),
            tuning,
        },
        listener,
        deliver,
    )
    .expect("start transport");
    Node {
        transport,
        inbox: rx,
    }
}

fn pair() -> (Node, Node) {
    let (mut ls, addrs) = listeners(2);
    let b = start_node(1, 20, ls.pop().expect("listener"), &addrs, key(1));
    let a = start_node(0, 10, ls.pop().expect("listener"), &addrs, key(0));
    (a, b)
}

fn heartbeat(n: u64) -> Message {
    Message::Heartbeat {
        incarnation: Incarnation(n),
    }
}

fn recv(node: &Node) -> Delivery {
    node.inbox
        .recv_timeout(Duration::from_secs(5))
        .expect("a message within 5 s")
}

/// Waits (bounded) until the node's rejection counter reaches `n`.
fn wait_rejected(node: &Node, n: u64) -> bool {
    for _ in 0..200 {
        if node.transport.stats().connections_rejected >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// True when the server closed `stream` (EOF or reset) within 3 s.
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("set timeout");
    let mut buf = [0u8; 256];
    for _ in 0..100 {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

fn still_serves(a: &Node, b: &Node, n: u64) {
    assert!(a.transport.send(HostId(1), Incarnation(10), heartbeat(n)));
    let d = recv(b);
    assert_eq!(d.msg, heartbeat(n));
}

#[test]
fn round_trip_both_ways_with_sender_and_incarnation() {
    let (a, b) = pair();
    assert!(a.transport.send(HostId(1), Incarnation(10), heartbeat(1)));
    let d = recv(&b);
    assert_eq!(d.from, HostId(0));
    assert_eq!(d.from_incarnation, Incarnation(10));
    assert_eq!(d.msg, heartbeat(1));
    // The core may have moved to a larger incarnation: the frame carries it.
    assert!(b.transport.send(HostId(0), Incarnation(21), heartbeat(2)));
    let d = recv(&a);
    assert_eq!((d.from, d.from_incarnation), (HostId(1), Incarnation(21)));
    assert_eq!(d.msg, heartbeat(2));
    // Unknown peers and itself are refused without blocking.
    assert!(!a.transport.send(HostId(7), Incarnation(10), heartbeat(3)));
    assert!(!a.transport.send(HostId(0), Incarnation(10), heartbeat(3)));
}

#[test]
fn many_messages_arrive_in_order_in_few_writes() {
    let (a, b) = pair();
    // Batches of one (written by the sender itself while the link is idle) and
    // large batches (queued for the writer thread) keep their order.
    let count: u64 = 20_000;
    let mut i = 0;
    while i < count {
        let n = if (i / 1_000) % 2 == 0 { 1 } else { 500 };
        let batch = (i..i + n).map(heartbeat).collect();
        assert!(a.transport.send_batch(HostId(1), Incarnation(10), batch));
        i += n;
    }
    for i in 0..count {
        assert_eq!(recv(&b).msg, heartbeat(i));
    }
    let stats = a.transport.stats();
    assert_eq!(stats.messages_sent, count);
    // The 10,000 messages in batches of 500 took at most one write per batch.
    assert!(
        stats.batches_written <= count / 2 + 20,
        "expected batching, got {stats:?}"
    );
}

#[test]
fn garbage_bytes_close_the_connection_and_the_transport_keeps_serving() {
    let (a, b) = pair();
    let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
    // A plausible length, the right version, then bytes that are no frame.
    raw.write_all(&[
        0,
        0,
        0,
        9,
        PROTOCOL_VERSION,
        0xff,
        0xfe,
        0xfd,
        0xfc,
        0xfb,
        0xfa,
        0xf9,
        0xf8,
    ])
    .expect("write");
    assert!(closed_by_peer(&mut raw));
    assert!(wait_rejected(&b, 1));
    still_serves(&a, &b, 1);
}

#[test]
fn oversized_length_is_refused_before_allocating() {
    let (a, b) = pair();
    let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
    raw.write_all(&[0xff, 0xff, 0xff, 0xff, PROTOCOL_VERSION])
        .expect("write");
    assert!(closed_by_peer(&mut raw));
    assert!(wait_rejected(&b, 1));
    still_serves(&a, &b, 2);
}

#[test]
fn wrong_version_is_refused() {
    let (a, b) = pair();
    let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
    let mut frame = encode_frame(&Frame::Ping, Vec::new(), None).expect("encode");
    frame[4] = PROTOCOL_VERSION + 1;
    raw.write_all(&frame).expect("write");
    assert!(closed_by_peer(&mut raw));
    assert!(wait_rejected(&b, 1));
    still_serves(&a, &b, 3);
}

#[test]
fn data_before_the_handshake_is_refused() {
    let (_a, b) = pair();
    let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
    let frame = encode_frame(
        &Frame::Data {
            incarnation: Incarnation(1),
            msgs: vec![heartbeat(1)],
        },
        Vec::new(),
        None,
    )
    .expect("encode");
    raw.write_all(&frame).expect("write");
    assert!(closed_by_peer(&mut raw));
    assert!(wait_rejected(&b, 1));
    assert!(b.inbox.try_recv().is_err(), "nothing delivered");
}

#[test]
fn a_wrong_key_is_refused_on_both_sides() {
    let (mut ls, addrs) = listeners(2);
    let b = start_node(1, 20, ls.pop().expect("listener"), &addrs, key(1));
    // h0 holding h2's key: b cannot complete h0's handshake.
    let intruder = start_node(0, 10, ls.pop().expect("listener"), &addrs, key(2));
    assert!(intruder
        .transport
        .send(HostId(1), Incarnation(10), heartbeat(1)));
    // The dialer finds the acceptor's answer undecryptable; the acceptor sees
    // the Hello fail.
    assert!(wait_rejected(&intruder, 1));
    assert!(wait_rejected(&b, 1));
    assert!(b.inbox.recv_timeout(Duration::from_millis(300)).is_err());
    let addr = b.transport.local_addr();
    // A stranger's key, another host's key (h3's key posing as h2), and a
    // dialer that expects another acceptor key all fail; the right one succeeds.
    let stranger = HostKey::generate().expect("key");
    assert!(dial_as(0, 1, &stranger, 1, addr).is_err());
    assert!(dial_as(2, 1, key(3), 1, addr).is_err());
    let dialer = Dialer {
        me: HostId(0),
        incarnation: Incarnation(1),
        identity: key(0),
    };
    assert!(probe(dialer, HostId(1), &stranger.public(), addr, &tuning()).is_err());
    let id = probe(dialer, HostId(1), &key(1).public(), addr, &tuning()).expect("probe");
    assert_eq!(id.incarnation, Incarnation(20));
}

/// Runs the dialer's side by hand up to the Challenge; returns the socket, the
/// bytes of the Hello frame, and the handshake state.
fn hello_by_hand(addr: SocketAddr) -> (TcpStream, Vec<u8>, snow::HandshakeState) {
    let stream = TcpStream::connect(addr).expect("connect");
    let mut hs = handshake_state(
        true,
        &prologue(HostId(0), HostId(1)),
        key(0),
        &key(1).public(),
    )
    .expect("handshake state");
    let mut msg = [0u8; HANDSHAKE_MESSAGE_MAX];
    let n = hs
        .write_message(&5u64.to_be_bytes(), &mut msg)
        .expect("msg1");
    let hello = encode_frame(
        &Frame::Hello {
            from: HostId(0),
            to: HostId(1),
            noise: msg[..n].to_vec(),
        },
        Vec::new(),
        None,
    )
    .expect("encode");
    (stream, hello, hs)
}

fn read_challenge(stream: &TcpStream) -> Vec<u8> {
    let mut reader: &TcpStream = stream;
    let mut payload = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    match read_frame(
        &mut reader,
        stream,
        Some(deadline),
        &mut payload,
        None,
        PREAUTH_MAX_FRAME_BYTES,
    )
    .expect("challenge")
    {
        Frame::Challenge { noise } => noise,
        _ => panic!("expected a Challenge"),
    }
}

/// Host h1 alone (h0 does not listen): every handshake it completes is the test's.
fn lone_b() -> Node {
    let (mut ls, addrs) = listeners(2);
    let b = start_node(1, 20, ls.pop().expect("listener"), &addrs, key(1));
    drop(ls);
    b
}

#[test]
fn a_forged_proof_is_refused() {
    let b = lone_b();
    let (mut stream, hello, _hs) = hello_by_hand(b.transport.local_addr());
    stream.write_all(&hello).expect("hello");
    let _ = read_challenge(&stream);
    write_frame(
        &mut stream,
        &Frame::Proof {
            noise: vec![0; NOISE_TAG_BYTES],
        },
    )
    .expect("proof");
    assert!(closed_by_peer(&mut stream));
    assert!(wait_rejected(&b, 1));
    assert!(b.inbox.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(b.transport.stats().handshakes_completed, 0);
}

#[test]
fn a_recorded_handshake_replayed_is_refused() {
    let b = lone_b();
    let addr = b.transport.local_addr();
    // A real session: Hello, Challenge, Proof, one data frame; everything the
    // dialer sent is recorded.
    let (mut stream, hello, mut hs) = hello_by_hand(addr);
    stream.write_all(&hello).expect("hello");
    let challenge = read_challenge(&stream);
    let mut payload = [0u8; HANDSHAKE_MESSAGE_MAX];
    hs.read_message(&challenge, &mut payload)
        .expect("the acceptor proves its key");
    let mut seal = Seal::new(hs.into_transport_mode().expect("transport"));
    let mut proof = [0u8; HANDSHAKE_MESSAGE_MAX];
    let n = seal.noise.write_message(&[], &mut proof).expect("proof");
    let mut recorded = hello.clone();
    recorded.extend(
        encode_frame(
            &Frame::Proof {
                noise: proof[..n].to_vec(),
            },
            Vec::new(),
            None,
        )
        .expect("encode"),
    );
    let data = Frame::Data {
        incarnation: Incarnation(5),
        msgs: vec![heartbeat(7)],
    };
    recorded.extend(encode_frame(&data, Vec::new(), Some(&mut seal)).expect("seal"));
    stream.write_all(&recorded[hello.len()..]).expect("rest");
    assert_eq!(recv(&b).msg, heartbeat(7));
    drop(stream);
    // The same bytes on a new connection: the acceptor's fresh ephemeral key
    // makes the recorded Proof fail.
    let rejected_before = b.transport.stats().connections_rejected;
    let mut replay = TcpStream::connect(addr).expect("connect");
    replay.write_all(&recorded).expect("replay");
    assert!(closed_by_peer(&mut replay));
    assert!(wait_rejected(&b, rejected_before + 1));
    assert!(b.inbox.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(b.transport.stats().handshakes_completed, 1);
}

#[test]
fn a_hello_whose_names_were_changed_does_not_decrypt() {
    let (_a, b) = pair();
    let (mut stream, hello, _) = hello_by_hand(b.transport.local_addr());
    // h0's Noise message, in a frame that says h2 sent it.
    let noise = match postcard::from_bytes::<Frame>(&hello[5..]).expect("frame") {
        Frame::Hello { noise, .. } => noise,
        _ => panic!("a Hello"),
    };
    write_frame(
        &mut stream,
        &Frame::Hello {
            from: HostId(2),
            to: HostId(1),
            noise,
        },
    )
    .expect("hello");
    assert!(closed_by_peer(&mut stream));
    assert!(wait_rejected(&b, 1));
}

/// Forwards one connection from a listener to `to`, keeping a copy of every
/// byte that passed; returns the proxy's address and the copy.
fn recording_proxy(to: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let copy = seen.clone();
    std::thread::spawn(move || {
        let Ok((mut inbound, _)) = listener.accept() else {
            return;
        };
        let Ok(mut outbound) = TcpStream::connect(to) else {
            return;
        };
        let mut back_in = inbound.try_clone().expect("clone");
        let mut back_out = outbound.try_clone().expect("clone");
        // The acceptor's answers go back unrecorded.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut back_out, &mut back_in);
        });
        let mut buf = [0u8; 16 << 10];
        while let Ok(n) = inbound.read(&mut buf) {
            if n == 0 || outbound.write_all(&buf[..n]).is_err() {
                break;
            }
            copy.lock().expect("copy").extend_from_slice(&buf[..n]);
        }
    });
    (addr, seen)
}

#[test]
fn traffic_on_the_wire_does_not_show_what_it_carries() {
    let (mut ls, mut addrs) = listeners(2);
    let b = start_node(1, 20, ls.pop().expect("listener"), &addrs, key(1));
    let (proxy, seen) = recording_proxy(addrs[&HostId(1)]);
    addrs.insert(HostId(1), proxy);
    let a = start_node(0, 10, ls.pop().expect("listener"), &addrs, key(0));
    let secret = b"a known plaintext argument: flight BA117 at FL350";
    let msg = Message::Group(crate::group::GroupMessage::Request {
        group: crate::types::GroupId(1),
        request: crate::types::RequestId {
            client: crate::types::ClientId::Group(crate::types::GroupId(2)),
            seq: 1,
        },
        payload: secret.to_vec(),
        low_water: 0,
    });
    assert!(a.transport.send(HostId(1), Incarnation(10), msg.clone()));
    assert_eq!(recv(&b).msg, msg, "delivered through the proxy");
    let seen = seen.lock().expect("copy").clone();
    assert!(seen.len() > secret.len(), "the proxy saw the traffic");
    assert!(
        !seen.windows(secret.len()).any(|w| w == secret),
        "the plaintext crossed the wire"
    );
    assert!(!seen.windows(8).any(|w| w == b"BA117 at"));
}

#[test]
fn hello_for_another_host_or_from_a_stranger_is_refused() {
    let (_a, b) = pair();
    for (from, to) in [
        (HostId(0), HostId(0)),
        (HostId(9), HostId(1)),
        (HostId(1), HostId(1)),
    ] {
        let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
        write_frame(
            &mut raw,
            &Frame::Hello {
                from,
                to,
                noise: vec![1; 56],
            },
        )
        .expect("hello");
        assert!(closed_by_peer(&mut raw));
    }
    assert!(wait_rejected(&b, 3));
}

#[test]
fn a_silent_peer_is_cut_off_by_the_handshake_timeout() {
    let (a, b) = pair();
    let started = Instant::now();
    let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
    assert!(closed_by_peer(&mut raw));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(wait_rejected(&b, 1));
    still_serves(&a, &b, 4);
}

#[test]
fn the_writer_reconnects_after_the_peer_restarts() {
    let (mut ls, addrs) = listeners(2);
    let b_listener = ls.pop().expect("listener");
    let b_addr = addrs[&HostId(1)];
    let a = start_node(0, 10, ls.pop().expect("listener"), &addrs, key(0));
    let b = start_node(1, 20, b_listener, &addrs, key(1));
    still_serves(&a, &b, 1);
    drop(b);
    // The restarted peer listens on the same address with a larger incarnation.
    let mut relisten = None;
    for _ in 0..100 {
        match TcpListener::bind(b_addr) {
            Ok(l) => {
                relisten = Some(l);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let b2 = start_node(
        1,
        30,
        relisten.expect("rebind the peer's address"),
        &addrs,
        key(1),
    );
    let mut delivered = None;
    for i in 0..200u64 {
        a.transport
            .send(HostId(1), Incarnation(10), heartbeat(100 + i));
        if let Ok(d) = b2.inbox.recv_timeout(Duration::from_millis(25)) {
            delivered = Some(d);
            break;
        }
    }
    let d = delivered.expect("a message reached the restarted peer");
    assert_eq!(d.from, HostId(0));
}

#[test]
fn shutdown_is_prompt_with_connections_open() {
    let (a, b) = pair();
    still_serves(&a, &b, 1);
    let started = Instant::now();
    a.transport.shutdown();
    b.transport.shutdown();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!a.transport.send(HostId(1), Incarnation(10), heartbeat(2)));
}

#[test]
fn after_the_handshake_unsealed_or_replayed_frames_are_refused() {
    let (_a, b) = pair();
    let addr = b.transport.local_addr();
    // An unsealed frame on an authenticated connection.
    let (mut stream, _, _) = dial_as(0, 10, key(0), 1, addr).expect("handshake");
    let data = |n| Frame::Data {
        incarnation: Incarnation(10),
        msgs: vec![heartbeat(n)],
    };
    let bare = encode_frame(&data(1), Vec::new(), None).expect("encode");
    stream.write_all(&bare).expect("write");
    assert!(closed_by_peer(&mut stream));
    assert!(wait_rejected(&b, 1));
    assert!(b.inbox.recv_timeout(Duration::from_millis(200)).is_err());
    // A sealed frame is delivered once; the same bytes again (a replay) are refused.
    let (mut stream, _, mut seal) = dial_as(0, 10, key(0), 1, addr).expect("handshake");
    let sealed = encode_frame(&data(2), Vec::new(), Some(&mut seal)).expect("encode");
    stream.write_all(&sealed).expect("write");
    assert_eq!(recv(&b).msg, heartbeat(2));
    stream.write_all(&sealed).expect("write");
    assert!(closed_by_peer(&mut stream));
    assert!(wait_rejected(&b, 2));
    assert!(b.inbox.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn a_direct_send_the_socket_cannot_take_at_once_is_finished_in_order() {
    use crate::group::GroupMessage;
    use crate::types::{ClientId, GroupId, RequestId};
    let (a, b) = pair();
    // Larger than a loopback socket buffer: the sender writes what the socket
    // takes, the writer thread the rest, and later messages queue behind it.
    let big = Message::Group(GroupMessage::Request {
        group: GroupId(1),
        request: RequestId {
            client: ClientId::Group(GroupId(2)),
            seq: 1,
        },
        payload: vec![7; 8 << 20],
        low_water: 0,
    });
    let until = Instant::now() + Duration::from_secs(5);
    while !a.transport.connected_peers().contains(&HostId(1)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(a
        .transport
        .send_batch(HostId(1), Incarnation(10), vec![big.clone()]));
    for i in 0..10 {
        assert!(a.transport.send(HostId(1), Incarnation(10), heartbeat(i)));
    }
    let first = b
        .inbox
        .recv_timeout(Duration::from_secs(10))
        .expect("the large message");
    assert_eq!(first.msg, big);
    for i in 0..10 {
        assert_eq!(recv(&b).msg, heartbeat(i));
    }
}

#[test]
fn a_handshake_frame_larger_than_the_preauth_maximum_is_refused() {
    let (a, b) = pair();
    let mut raw = TcpStream::connect(b.transport.local_addr()).expect("connect");
    let len = (PREAUTH_MAX_FRAME_BYTES + 1) as u32;
    let mut header = len.to_be_bytes().to_vec();
    header.push(PROTOCOL_VERSION);
    raw.write_all(&header).expect("write");
    assert!(closed_by_peer(&mut raw));
    assert!(wait_rejected(&b, 1));
    still_serves(&a, &b, 4);
}

/// Connects to `to` from the loopback address `from` and sends two bytes of a
/// frame header, so the connection stalls in the handshake.
fn stalled_stranger(from: [u8; 4], to: SocketAddr) -> Option<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    socket
        .bind(&SocketAddr::from((from, 0)).into())
        .expect("bind a loopback source address");
    socket
        .connect_timeout(&to.into(), Duration::from_secs(1))
        .ok()?;
    let _ = socket.send(&[0, 0]);
    Some(socket)
}

#[test]
fn strangers_from_one_address_cannot_lock_out_a_cluster_host() {
    let (mut ls, addrs) = listeners(2);
    let tuned = TransportTuning {
        // Long enough that no stalled stranger is cut off during the test.
        handshake_timeout_ms: 20_000,
        ..tuning()
    };
    let b = start_node_tuned(1, 20, ls.pop().expect("listener"), &addrs, key(1), tuned);
    // h0 is not listening: b's writer fails fast instead of stalling in a handshake.
    drop(ls);
    let to = b.transport.local_addr();
    let share = TransportTuning::default().max_preauth_per_address;
    let flood = 100;
    // More strangers than the old single bound on inbound connections (64).
    let strangers: Vec<_> = (0..flood)
        .filter_map(|_| stalled_stranger([127, 0, 0, 2], to))
        .collect();
    assert_eq!(strangers.len(), flood, "every stranger connected");
    let refused = (flood - share) as u64;
    assert!(
        wait_rejected(&b, refused),
        "strangers beyond the address's share are refused"
    );
    assert_eq!(b.transport.stats().connections_rejected, refused);
    // A cluster host on another address still authenticates.
    let dialer = Dialer {
        me: HostId(0),
        incarnation: Incarnation(3),
        identity: key(0),
    };
    let identity = probe(dialer, HostId(1), &key(1).public(), to, &tuning())
        .expect("a cluster host gets through the flood");
    assert_eq!(identity.host, HostId(1));
    let completed = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        b.transport.stats().handshakes_completed == 1
    });
    assert!(completed, "the host's handshake completed at the acceptor");
    drop(strangers);
}

fn request(bytes: usize, seq: u64) -> Message {
    Message::Group(crate::group::GroupMessage::Request {
        group: crate::types::GroupId(1),
        request: crate::types::RequestId {
            client: crate::types::ClientId::Host {
                host: HostId(0),
                incarnation: Incarnation(10),
                local: 0,
            },
            seq,
        },
        payload: (0..bytes).map(|i| (i % 251) as u8).collect(),
        low_water: 0,
    })
}

#[test]
fn a_message_larger_than_a_frame_arrives_in_chunks_with_other_traffic_going_on() {
    let (a, b) = pair();
    let big = request(MAX_FRAME_BYTES + (4 << 20), 1);
    assert!(a.transport.send(HostId(1), Incarnation(10), big.clone()));
    // A second large message while the first is on its way is dropped (the
    // protocols retransmit), unless the first is written already; small
    // messages go in any case.
    let second = request(2 << 20, 2);
    let second_sent = a.transport.send(HostId(1), Incarnation(10), second.clone());
    for n in 0..10 {
        assert!(a.transport.send(HostId(1), Incarnation(10), heartbeat(n)));
    }
    let mut got_big = false;
    let mut beats = 0;
    for _ in 0..(11 + usize::from(second_sent)) {
        let d = b
            .inbox
            .recv_timeout(Duration::from_secs(30))
            .expect("a message within 30 s");
        if d.msg == big {
            got_big = true;
        } else if d.msg == second {
            assert!(second_sent && got_big, "large messages stay in order");
        } else {
            assert_eq!(d.msg, heartbeat(beats));
            beats += 1;
        }
    }
    assert!(got_big && beats == 10);
    // Once it is written, the next large message goes.
    let next = request(2 << 20, 3);
    let mut sent = false;
    for _ in 0..200 {
        if a.transport.send(HostId(1), Incarnation(10), next.clone()) {
            sent = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sent, "the large-message slot was released");
    assert_eq!(recv(&b).msg, next);
}

#[test]
fn frames_dribbled_a_byte_at_a_time_or_many_in_one_write_arrive_whole_and_in_order() {
    let (_a, b) = pair();
    let addr = b.transport.local_addr();
    let (mut stream, _, mut seal) = dial_as(0, 10, key(0), 1, addr).expect("handshake");
    let data = |n| Frame::Data {
        incarnation: Incarnation(10),
        msgs: vec![heartbeat(n)],
    };
    // One frame split over many writes (and so over many non-blocking reads).
    let one = encode_frame(&data(1), Vec::new(), Some(&mut seal)).expect("encode");
    for byte in &one {
        stream.write_all(std::slice::from_ref(byte)).expect("write");
        stream.flush().expect("flush");
    }
    assert_eq!(recv(&b).msg, heartbeat(1));
    // Many frames, the last one cut in two, in one write, then its rest.
    let mut many = Vec::new();
    for n in 2..200 {
        many = encode_frame(&data(n), many, Some(&mut seal)).expect("encode");
    }
    let last = encode_frame(&data(200), Vec::new(), Some(&mut seal)).expect("encode");
    many.extend_from_slice(&last[..7]);
    stream.write_all(&many).expect("write");
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(&last[7..]).expect("write");
    for n in 2..=200 {
        assert_eq!(recv(&b).msg, heartbeat(n));
    }
    // The connection stays open and authenticated.
    let more = encode_frame(&data(201), Vec::new(), Some(&mut seal)).expect("encode");
    stream.write_all(&more).expect("write");
    assert_eq!(recv(&b).msg, heartbeat(201));
}

#[test]
fn an_authenticated_connection_that_falls_silent_is_closed_after_the_idle_timeout() {
    let (a, b) = pair();
    let addr = b.transport.local_addr();
    let (mut stream, _, _) = dial_as(0, 10, key(0), 1, addr).expect("handshake");
    let started = Instant::now();
    // `tuning().idle_timeout_ms` is 2 s; `closed_by_peer` waits up to 3 s.
    assert!(
        closed_by_peer(&mut stream),
        "a silent connection stays open"
    );
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1_900) && after < Duration::from_secs(3),
        "closed after {after:?}"
    );
    // The peer's own (pinging) connection is not affected.
    still_serves(&a, &b, 5);
}

/// `Inbound::wait` with a busy-poll budget: it still waits the whole timeout
/// when nothing comes, and it returns for a wake-up or a frame that arrives
/// while it polls, or after it has gone to sleep.
#[test]
fn a_polling_wait_returns_for_wakes_and_frames_and_otherwise_waits_its_timeout() {
    let (mut ls, addrs) = listeners(2);
    let config = TransportConfig {
        me: HostId(1),
        incarnation: Incarnation(20),
        peers: addrs.clone(),
        identity: key(1).clone(),
        peer_keys: public_keys(),
        tuning: tuning(),
    };
    let (_b, mut inbound) =
        Transport::start_polled(config, ls.pop().expect("listener")).expect("start polled");
    let spin = Duration::from_millis(5);
    // No peer yet, nothing to read: the whole timeout passes, the polling
    // included.
    let start = Instant::now();
    inbound.wait(Duration::from_millis(30), spin);
    assert!(start.elapsed() >= Duration::from_millis(30));
    // Woken during the polling, then after it (asleep in epoll): both return
    // long before the timeout.
    for after in [Duration::from_millis(1), Duration::from_millis(40)] {
        let wake = inbound.wake_handle();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(after);
            wake.wake();
        });
        let start = Instant::now();
        inbound.wait(Duration::from_secs(20), spin);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "woken after {after:?}"
        );
        waker.join().expect("waker");
    }
    let a = start_node(0, 10, ls.pop().expect("listener"), &addrs, key(0));
    // A frame from a peer ends the wait and is read (bounded attempts: the
    // first frame also brings the new connection, handed over by its
    // handshake thread).
    assert!(a.transport.send(HostId(1), Incarnation(20), heartbeat(7)));
    let mut got = Vec::new();
    for _ in 0..200 {
        inbound.wait(Duration::from_millis(50), spin);
        inbound.read(&mut |batch| got.extend(batch));
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.len(), 1, "the heartbeat arrived");
    assert_eq!(got[0].from, HostId(0));
}

/// A peer that sends and closes is seen to close at once, not at the idle
/// timeout, whether its end of stream comes with its last frame (one poll
/// event for both, after which reads stop at a short read) or after it.
#[test]
fn a_peer_that_sends_and_closes_is_released_at_once() {
    let b = lone_b();
    let addr = b.transport.local_addr();
    let open = || b.transport.shared.inbound_open.load(Ordering::SeqCst);
    let released_within = |limit: Duration| {
        let until = Instant::now() + limit;
        while open() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        open() == 0
    };
    for pause in [Duration::ZERO, Duration::from_millis(100)] {
        let (mut stream, _, mut seal) = dial_as(0, 10, key(0), 1, addr).expect("handshake");
        let mut send = |n| {
            let frame = Frame::Data {
                incarnation: Incarnation(10),
                msgs: vec![heartbeat(n)],
            };
            let sealed = encode_frame(&frame, Vec::new(), Some(&mut seal)).expect("encode");
            stream.write_all(&sealed).expect("write");
        };
        // The first frame is read once the connection is handed over; the
        // second reaches a connection the reader already waits on.
        send(1);
        assert_eq!(recv(&b).msg, heartbeat(1));
        send(2);
        std::thread::sleep(pause);
        drop(stream);
        assert_eq!(recv(&b).msg, heartbeat(2));
        // `tuning().idle_timeout_ms` is 2 s.
        assert!(
            released_within(Duration::from_millis(1_000)),
            "the closed connection (pause {pause:?}) is still open"
        );
    }
}
