//! A Jepsen-style nemesis on real kernel processes. Three kernels run in
//! network namespaces of their own, joined by a bridge in another (all made
//! by this test and removed after it); the test's own kernel, h0, reaches
//! them over a veth and runs four clients against a durable key-value server
//! placed on two of the kernels, recording a history. A seeded schedule of
//! faults runs meanwhile: a kernel cut off both ways (a minority), a
//! kernel's outgoing traffic cut (one way), the four hosts split two against
//! two (no majority anywhere), SIGKILL and restart of one kernel or of two
//! together, SIGSTOP and SIGCONT; it ends with every kernel SIGKILLed at once
//! and restarted from its data directory. The history must be linearizable
//! (`ftc-judge`); the test prints how many operations, faults and partitions
//! it ran. Cuts are blackhole routes (`ip route`), so nothing but `ip` is
//! needed. Where namespaces cannot be made (not root, no `ip`), the test says
//! so and runs the same schedule on 127.0.0.1 without the partitions.
//!
//! `FTC_NEMESIS_SECS` sets how long faults go on (default 30, what CI runs;
//! `FTC_NEMESIS_LOOPBACK=1` runs the loopback version);
//! an hour: `FTC_NEMESIS_SECS=3600 cargo test -p ftc-runtime --release --test
//! real_nemesis -- --nocapture`. `FTC_NEMESIS_SEED` picks the schedule.

mod real_support;

use ftc_runtime::cluster::{LocalCluster, LocalClusterOptions};
use ftc_runtime::types::{HostId, ServerSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use real_support::{judge_with, kv_spec, kvnode, read_all, run_load, Driver, Load};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

const KERNELS: u32 = 3;
const KEYS: u64 = 5;
/// Unknown outcomes allowed, in percent of the operations: calls a fault
/// outlasted (the server's call deadline is 10 s, the worst fault about 3 s).
const UNKNOWN_PERCENT_MAX: usize = 20;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs `ip ARGS…`.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The test's network: a namespace per kernel host on a bridge, and a veth
/// from the test's own namespace to the bridge for h0.
struct Net {
    tag: String,
    switch: String,
    /// Each kernel host's namespace.
    namespaces: BTreeMap<HostId, String>,
    /// Every host's address, h0's included.
    ips: BTreeMap<HostId, Ipv4Addr>,
    /// Blackhole routes in force: (namespace, destination).
    cuts: Vec<(String, Ipv4Addr)>,
}

impl Net {
    fn create() -> Result<Net, String> {
        let pid = std::process::id();
        let tag = format!("fj{}", pid % 100_000);
        let subnet = (pid % 250) as u8 + 1;
        let addr = |last: u8| Ipv4Addr::new(10, 213, subnet, last);
        let mut net = Net {
            switch: format!("{tag}s"),
            tag,
            namespaces: BTreeMap::new(),
            ips: BTreeMap::new(),
            cuts: Vec::new(),
        };
        // On any failure, Drop removes what was made.
        let s = net.switch.clone();
        ip(&["netns", "add", &s])?;
        ip(&["-n", &s, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &s, "link", "set", "br0", "up"])?;
        for h in 1..=KERNELS {
            let ns = format!("{}h{h}", net.tag);
            ip(&["netns", "add", &ns])?;
            net.namespaces.insert(HostId(h), ns.clone());
            let (inner, outer) = (format!("{}a{h}", net.tag), format!("{}b{h}", net.tag));
            ip(&[
                "link", "add", &inner, "type", "veth", "peer", "name", &outer,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "netns", &s])?;
            ip(&["-n", &s, "link", "set", &outer, "master", "br0", "up"])?;
            let a = addr(h as u8);
            ip(&["-n", &ns, "addr", "add", &format!("{a}/24"), "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            net.ips.insert(HostId(h), a);
        }
        let (root, port) = (format!("{}r", net.tag), format!("{}q", net.tag));
        ip(&["link", "add", &root, "type", "veth", "peer", "name", &port])?;
        ip(&["link", "set", &port, "netns", &s])?;
        ip(&["-n", &s, "link", "set", &port, "master", "br0", "up"])?;
        let a0 = addr(100);
        ip(&["addr", "add", &format!("{a0}/24"), "dev", &root])?;
        ip(&["link", "set", &root, "up"])?;
        net.ips.insert(HostId(0), a0);
        Ok(net)
    }

    /// Every host's address: kernels on a fixed port in their namespaces,
    /// h0 on a free port of its veth.
    fn addresses(&self) -> Result<BTreeMap<HostId, SocketAddr>, String> {
        let mut out = BTreeMap::new();
        for (&h, &a) in &self.ips {
            let port = if h == HostId(0) {
                // The veth may take a moment to accept a bind.
                let mut bound = None;
                for _ in 0..50 {
                    if let Ok(l) = TcpListener::bind((a, 0)) {
                        bound = l.local_addr().ok();
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                bound.ok_or("cannot bind h0's address")?.port()
            } else {
                7100
            };
            out.insert(h, SocketAddr::from((a, port)));
        }
        Ok(out)
    }

    /// Traffic from `from` (a kernel host) to `to` is dropped.
    fn cut(&mut self, from: HostId, to: HostId) {
        let (Some(ns), Some(dst)) = (self.namespaces.get(&from), self.ips.get(&to)) else {
            return;
        };
        if ip(&["-n", ns, "route", "add", "blackhole", &format!("{dst}/32")]).is_ok() {
            self.cuts.push((ns.clone(), *dst));
        }
    }

    /// Whether h0 can open a connection to `to` now (a cut answers nothing).
    fn reachable(&self, to: SocketAddr) -> bool {
        std::net::TcpStream::connect_timeout(&to, Duration::from_millis(300)).is_ok()
    }

    /// Every cut is gone.
    fn heal(&mut self) {
        for (ns, dst) in std::mem::take(&mut self.cuts) {
            let _ = ip(&["-n", &ns, "route", "del", "blackhole", &format!("{dst}/32")]);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &format!("{}r", self.tag)]);
        for ns in self.namespaces.values() {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["netns", "del", &self.switch]);
    }
}

/// What the nemesis did.
#[derive(Default, Debug)]
struct Tally {
    faults: u32,
    partitions: u32,
    one_way: u32,
    splits: u32,
    kills: u32,
    double_kills: u32,
    pauses: u32,
}

/// One fault, held for a while, then undone.
fn fault(cluster: &mut LocalCluster, net: &mut Option<Net>, rng: &mut ChaCha8Rng, t: &mut Tally) {
    let kernels: Vec<HostId> = (1..=KERNELS).map(HostId).collect();
    let victim = kernels[rng.random_range(0..kernels.len())];
    let kinds = if net.is_some() { 6 } else { 3 };
    let hold = Duration::from_millis(rng.random_range(500..2_500));
    t.faults += 1;
    match rng.random_range(0..kinds) {
        0 => {
            t.kills += 1;
            cluster.kill(victim);
            std::thread::sleep(hold);
            cluster.restart(victim).expect("restart a killed kernel");
        }
        1 => {
            t.double_kills += 1;
            let other = kernels[(victim.0 as usize) % kernels.len()];
            cluster.kill(victim);
            cluster.kill(other);
            std::thread::sleep(hold);
            cluster.restart(victim).expect("restart a killed kernel");
            cluster.restart(other).expect("restart a killed kernel");
        }
        2 => {
            t.pauses += 1;
            cluster.pause(victim).expect("pause a kernel");
            std::thread::sleep(hold);
            cluster.resume(victim).expect("resume a kernel");
        }
        kind => {
            let net = net.as_mut().expect("partitions only with a network");
            t.partitions += 1;
            let everyone: Vec<HostId> = (0..=KERNELS).map(HostId).collect();
            match kind {
                // A kernel cut off both ways (h0 reaches it, it answers no one).
                3 => {
                    for &other in everyone.iter().filter(|h| **h != victim) {
                        net.cut(victim, other);
                        net.cut(other, victim);
                    }
                    let to = cluster.config().hosts[&victim];
                    assert!(!net.reachable(to), "{victim:?} is cut off from h0");
                }
                // Only its outgoing traffic.
                4 => {
                    t.one_way += 1;
                    for &other in everyone.iter().filter(|h| **h != victim) {
                        net.cut(victim, other);
                    }
                }
                // Two against two: h0 and the victim against the others.
                _ => {
                    t.splits += 1;
                    for &other in kernels.iter().filter(|h| **h != victim) {
                        net.cut(victim, other);
                        net.cut(other, victim);
                        net.cut(other, HostId(0));
                    }
                }
            }
            std::thread::sleep(hold);
            net.heal();
            let to = cluster.config().hosts[&victim];
            assert!(
                (0..20).any(|_| net.reachable(to) || {
                    std::thread::sleep(Duration::from_millis(100));
                    false
                }),
                "{victim:?} reachable again once healed"
            );
        }
    }
}

#[test]
fn a_nemesis_of_partitions_kills_and_pauses_leaves_a_linearizable_history() {
    let _serial = real_support::serial();
    let secs = env_u64("FTC_NEMESIS_SECS").unwrap_or(30);
    let seed = env_u64("FTC_NEMESIS_SEED").unwrap_or(11);
    let forced = std::env::var_os("FTC_NEMESIS_LOOPBACK").is_some();
    let mut net = match Net::create().and_then(|n| {
        if forced {
            Err("FTC_NEMESIS_LOOPBACK set".into())
        } else {
            Ok(n)
        }
    }) {
        Ok(net) => Some(net),
        Err(why) => {
            eprintln!(
                "network namespaces unavailable ({why}): no partitions, kernels on 127.0.0.1"
            );
            None
        }
    };
    let data = tempfile::tempdir().expect("data root");
    let mut options = LocalClusterOptions {
        kernels: KERNELS,
        main_host: true,
        data_root: Some(data.path().to_path_buf()),
        ..LocalClusterOptions::default()
    };
    if let Some(n) = &net {
        options.addresses = n.addresses().expect("the hosts' addresses");
        options.namespaces = n.namespaces.clone();
    }
    let mut cluster = LocalCluster::prepare(&kvnode(), options).expect("prepare the cluster");
    let driver = Driver::start(&cluster);
    cluster.start_kernels().expect("start the kernels");
    let spec = ServerSpec {
        durable: Some("nemesis".into()),
        ..kv_spec(1, vec![HostId(1), HostId(2)])
    };
    let group = driver.start_spec(spec);
    let h = driver.handle();

    let clock = Instant::now();
    let load = Load {
        clients: 4,
        keys: KEYS,
        duration: Duration::from_secs(secs + 12),
        max_ops_per_client: 8 * (secs + 12),
        seed,
    };
    let load_h = h.clone();
    let clients = std::thread::spawn(move || run_load(&load_h, group, &load, clock));

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let until = Instant::now() + Duration::from_secs(secs);
    for _ in 0..secs * 2 {
        if Instant::now() >= until {
            break;
        }
        fault(&mut cluster, &mut net, &mut rng, &mut tally);
        std::thread::sleep(Duration::from_millis(rng.random_range(500..1_500)));
    }
    // Power failure of every kernel, then each back from its data directory.
    for k in 1..=KERNELS {
        cluster.kill(HostId(k));
    }
    std::thread::sleep(Duration::from_millis(500));
    for k in 1..=KERNELS {
        cluster
            .restart(HostId(k))
            .expect("restart from the data directory");
    }
    tally.faults += 1;

    let mut history = clients.join().expect("the clients");
    history.extend(read_all(&h, group, KEYS, 100, clock));
    let unknown = history.iter().filter(|o| o.ret.is_none()).count();
    eprintln!(
        "nemesis (seed {seed}, {secs} s{}): {} operations ({unknown} with an unknown outcome); {} faults, \
         {} partitions ({} one-way, {} two-against-two), {} kills, {} double kills, {} pauses, \
         then every kernel killed and restarted from its data directory",
        if net.is_some() { "" } else { ", loopback" },
        history.len(),
        tally.faults,
        tally.partitions,
        tally.one_way,
        tally.splits,
        tally.kills,
        tally.double_kills,
        tally.pauses,
    );
    assert!(tally.faults >= 3, "the nemesis ran: {tally:?}");
    judge_with(&history, cluster.dir(), "nemesis", UNKNOWN_PERCENT_MAX);
}
