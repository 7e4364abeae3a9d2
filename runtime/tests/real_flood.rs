//! A flood of unauthenticated connections against a real kernel process while a
//! client makes calls: every call completes, the kernel's memory stays flat and
//! its log holds rate-limited summaries, not a line per connection.

mod real_support;

use ftc_runtime::transport::{MAX_FRAME_BYTES, PROTOCOL_VERSION};
use ftc_runtime::types::HostId;
use real_support::{refusals, rss_kib, run_load, start_cluster, wait_refusals, Load};
use socket2::{Domain, Socket, Type};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Connections per round of the flood.
const FLOOD: usize = 300;
const MAX_ROUNDS: usize = 8;

/// Opens `FLOOD` connections to `to` from the loopback address 127.0.0.2, each
/// announcing a maximal frame and then sending nothing more; returns them open.
fn flood_round(to: SocketAddr) -> Vec<Socket> {
    let mut header = (MAX_FRAME_BYTES as u32).to_be_bytes().to_vec();
    header.push(PROTOCOL_VERSION);
    let mut open = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let Ok(socket) = Socket::new(Domain::IPV4, Type::STREAM, None) else {
            continue;
        };
        if socket
            .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
            .is_err()
        {
            continue;
        }
        if socket
            .connect_timeout(&to.into(), Duration::from_secs(1))
            .is_ok()
        {
            let _ = socket.send(&header);
            open.push(socket);
        }
    }
    open
}

#[test]
fn a_flood_of_strangers_announcing_maximal_frames_costs_nothing() {
    let _serial = real_support::serial();
    let (cluster, driver) = start_cluster(3);
    let group = driver.start_kv(1, vec![HostId(1), HostId(2)]);
    let target = HostId(1);
    let to = cluster.config().hosts[&target];
    let pid = cluster.pid(target).expect("the target kernel runs");

    // Warm up, so the baseline includes the server's working memory.
    let h = driver.handle();
    let clock = Instant::now();
    let warm = Load {
        clients: 2,
        keys: 5,
        duration: Duration::from_secs(1),
        max_ops_per_client: 100,
        seed: 7,
    };
    run_load(&h, group, &warm, clock);
    let before = rss_kib(pid).expect("the target's RSS");

    let load = Load {
        duration: Duration::from_secs(6),
        max_ops_per_client: 600,
        seed: 8,
        ..warm
    };
    let load_thread = {
        let h = h.clone();
        let load = load.clone();
        std::thread::spawn(move || run_load(&h, group, &load, clock))
    };
    let until = Instant::now() + Duration::from_secs(5);
    let mut rounds = 0;
    let mut peak = before;
    let mut connected = 0;
    while rounds < MAX_ROUNDS && Instant::now() < until {
        let open = flood_round(to);
        connected += open.len();
        // The strangers stall with their connections open for a moment.
        std::thread::sleep(Duration::from_millis(300));
        peak = peak.max(rss_kib(pid).expect("the target's RSS"));
        drop(open);
        rounds += 1;
    }
    let history = load_thread.join().expect("load");
    eprintln!(
        "{rounds} rounds, {connected} strangers connected; {} calls; RSS {before} KiB before, peak {peak} KiB",
        history.len()
    );
    assert!(connected >= FLOOD, "the flood connected");
    assert!(
        history.len() >= 100,
        "the client made calls during the flood"
    );
    assert!(
        history.iter().all(|o| o.ret.is_some()),
        "every call completed"
    );
    assert!(
        peak < 2 * before,
        "RSS grew from {before} KiB to {peak} KiB under the flood"
    );
    // Every stranger is accounted for, and the log holds summaries.
    let reported = wait_refusals(&cluster, target, connected, Duration::from_secs(10));
    assert!(
        reported >= connected,
        "{reported} of {connected} refusals reported"
    );
    let log = std::fs::read_to_string(cluster.log_path(target)).unwrap_or_default();
    let lines = log.lines().count();
    assert!(
        lines < 100,
        "{lines} log lines for {connected} refusals:\n{log}"
    );
    assert_eq!(refusals(&cluster, target), reported);
}
