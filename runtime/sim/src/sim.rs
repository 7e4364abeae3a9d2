//! The deterministic discrete-event simulator: virtual time, an event queue
//! ordered by (time, sequence number), the network, crashes, restarts,
//! pauses and partitions, all driven by one seeded ChaCha RNG.

use crate::faults::{FaultConfig, FaultKind};
use crate::net::{Fate, LinkConfig, Network, Partition};
use crate::node::{Node, NodeInput, NodeOutput};
use ftc_runtime::types::Micros;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::hash::Hasher;

/// Creates the node of `host` for a new life: `(host, incarnation, seed)`.
pub type NodeFactory<N> = Box<dyn FnMut(usize, u64, u64) -> N>;

/// Selective loss: drops a message `(from, to, message)` when it returns true
/// (e.g. only one protocol's replies on one link).
pub type DropFilter<N> = Box<dyn FnMut(usize, usize, &<N as Node>::Message) -> bool>;

/// A lying host: rewrites a message `(from, to, message)` at send time (e.g. a
/// byzantine replica's replies). Unlike a drop filter it outlives the faults.
pub type Tamper<N> = Box<dyn FnMut(usize, usize, &mut <N as Node>::Message)>;

/// Limits and switches of one simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub hosts: usize,
    /// The link every directed link starts from; see [`SimConfig::vary_links`].
    pub link: LinkConfig,
    /// Give every directed link its own loss, duplication and spike rates, drawn up to the base link's.
    pub vary_links: bool,
    /// The incarnation of every host's first life (later lives count up from it).
    pub first_incarnation: u64,
    /// The run stops (and reports it) after this many events.
    pub max_events: u64,
    /// Print every event to stderr.
    pub verbose: bool,
    /// When each host starts (its process comes up); hosts not listed start at
    /// 0. Until then a host receives nothing, like a process not yet running.
    pub start_at: Vec<Micros>,
}

impl SimConfig {
    /// Default links (lossy, see [`LinkConfig::default`]), first incarnation 0, five million events at most.
    pub fn new(seed: u64, hosts: usize) -> SimConfig {
        SimConfig {
            seed,
            hosts,
            link: LinkConfig::default(),
            vary_links: false,
            first_incarnation: 0,
            max_events: 5_000_000,
            verbose: false,
            start_at: Vec::new(),
        }
    }
}

/// Counters of what the network and the nemesis did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub events: u64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Dropped by a partition, at send or at delivery time.
    pub partitioned: u64,
    /// Arrived at a crashed host.
    pub to_down_host: u64,
    pub timers_fired: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub pauses: u64,
    pub partitions: u64,
}

/// What a node told the outside world, with when and where.
#[derive(Clone, Debug)]
pub struct Observation<N: Node> {
    pub time: Micros,
    pub host: usize,
    /// The host's incarnation when it was observed (the new one for `Restarted`).
    pub incarnation: u64,
    pub what: Observed<N>,
}

/// The observation proper.
#[derive(Clone, Debug)]
pub enum Observed<N: Node> {
    /// An answer to a local client.
    Event(N::Event),
    /// A trace for the checks.
    Trace(N::Trace),
    /// The host crashed: its node and everything it held is gone.
    Crashed,
    /// The host restarted as a new incarnation with empty state.
    Restarted,
}

enum EventKind<N: Node> {
    Start {
        host: usize,
        life: u64,
    },
    Deliver {
        to: usize,
        from: usize,
        from_incarnation: u64,
        msg: N::Message,
    },
    Timer {
        host: usize,
        life: u64,
        timer: N::Timer,
    },
    Client {
        host: usize,
        life: u64,
        request: N::Request,
    },
    FaultTick,
    FaultEnd {
        id: u64,
    },
}

struct Queued<N: Node> {
    time: Micros,
    seq: u64,
    kind: EventKind<N>,
}

impl<N: Node> PartialEq for Queued<N> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<N: Node> Eq for Queued<N> {}
impl<N: Node> PartialOrd for Queued<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<N: Node> Ord for Queued<N> {
    /// Reversed, so the max-heap pops the earliest (time, sequence number) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

struct HostSlot<N: Node> {
    node: Option<N>,
    /// Counts lives: timers and client inputs of an earlier life are discarded.
    life: u64,
    /// The largest incarnation this host ever used.
    max_incarnation: u64,
    paused: bool,
    held: Vec<EventKind<N>>,
    /// The host's first `Start` happened.
    started: bool,
}

struct Disruption {
    id: u64,
    kind: FaultKind,
    hosts: Vec<usize>,
}

/// FNV-1a, for the run digest (stable across platforms and releases).
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A simulated cluster of [`Node`]s. See the crate documentation.
pub struct Simulator<N: Node> {
    config: SimConfig,
    now: Micros,
    seq: u64,
    queue: BinaryHeap<Queued<N>>,
    rng: ChaCha8Rng,
    hosts: Vec<HostSlot<N>>,
    net: Network,
    factory: NodeFactory<N>,
    observations: Vec<Observation<N>>,
    scratch: Vec<NodeOutput<N>>,
    digest: Fnv,
    stats: SimStats,
    faults: Option<FaultConfig>,
    drop_filter: Option<DropFilter<N>>,
    tamper: Option<Tamper<N>>,
    favored: Vec<usize>,
    disruptions: Vec<Disruption>,
    next_disruption: u64,
    last_disruption_change: Micros,
    limit_hit: bool,
}

impl<N: Node> Simulator<N> {
    /// Creates the cluster and starts every host (in `first_incarnation`) at time 0.
    pub fn new(config: SimConfig, mut factory: NodeFactory<N>) -> Simulator<N> {
        assert!(
            (1..=64).contains(&config.hosts),
            "1 to 64 hosts, not {}",
            config.hosts
        );
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut net = Network::new(config.hosts, config.link.clone());
        if config.vary_links {
            for from in 0..config.hosts {
                for to in 0..config.hosts {
                    let base = &config.link;
                    let link = LinkConfig {
                        loss: base.loss * rng.random::<f64>(),
                        duplicate: base.duplicate * rng.random::<f64>(),
                        spike: base.spike * rng.random::<f64>(),
                        ..base.clone()
                    };
                    net.set_link(from, to, link);
                }
            }
        }
        let mut hosts = Vec::with_capacity(config.hosts);
        for host in 0..config.hosts {
            let node_seed = rng.random();
            let incarnation = config.first_incarnation;
            hosts.push(HostSlot {
                node: Some(factory(host, incarnation, node_seed)),
                life: 1,
                max_incarnation: incarnation,
                paused: false,
                held: Vec::new(),
                // A host starting at 0 counts as running from the outset.
                started: config.start_at.get(host).copied().unwrap_or(0) == 0,
            });
        }
        let mut sim = Simulator {
            config,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            rng,
            hosts,
            net,
            factory,
            observations: Vec::new(),
            scratch: Vec::new(),
            digest: Fnv::new(),
            stats: SimStats::default(),
            faults: None,
            drop_filter: None,
            tamper: None,
            favored: Vec::new(),
            disruptions: Vec::new(),
            next_disruption: 1,
            last_disruption_change: 0,
            limit_hit: false,
        };
        for host in 0..sim.hosts.len() {
            let at = sim.config.start_at.get(host).copied().unwrap_or(0);
            sim.schedule(at, EventKind::Start { host, life: 1 });
        }
        sim
    }

    /// Virtual time (µs).
    pub fn now(&self) -> Micros {
        self.now
    }

    /// The seed everything was drawn from.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    /// What the network and the nemesis did so far.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// A digest of everything that happened so far: equal seeds give equal digests.
    pub fn digest(&self) -> u64 {
        self.digest.finish()
    }

    /// The run's RNG, for workloads (so one seed determines the whole run).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Links and partitions.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Links and partitions, to reconfigure them.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// Whether the event limit stopped the run.
    pub fn limit_hit(&self) -> bool {
        self.limit_hit
    }

    /// Whether the host is running (not crashed).
    pub fn is_up(&self, host: usize) -> bool {
        self.hosts[host].node.is_some() && self.hosts[host].started
    }

    /// Whether the host is paused.
    pub fn is_paused(&self, host: usize) -> bool {
        self.hosts[host].paused
    }

    /// The running node of a host.
    pub fn node(&self, host: usize) -> Option<&N> {
        self.hosts[host].node.as_ref()
    }

    /// The current incarnation of a running host.
    pub fn incarnation(&self, host: usize) -> Option<u64> {
        self.node(host).map(Node::incarnation)
    }

    /// Takes the observations made since the last call.
    pub fn drain_observations(&mut self) -> std::vec::Drain<'_, Observation<N>> {
        self.observations.drain(..)
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<Micros> {
        self.queue.peek().map(|q| q.time)
    }

    fn schedule(&mut self, time: Micros, kind: EventKind<N>) {
        self.seq += 1;
        self.queue.push(Queued {
            time: time.max(self.now),
            seq: self.seq,
            kind,
        });
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.config.verbose {
            eprintln!("[{:>10}us] {}", self.now, line());
        }
    }

    /// Hands a client request to a host's node (now, through the queue).
    /// False if the host is down.
    pub fn client_request(&mut self, host: usize, request: N::Request) -> bool {
        if !self.is_up(host) {
            return false;
        }
        let life = self.hosts[host].life;
        self.schedule(
            self.now,
            EventKind::Client {
                host,
                life,
                request,
            },
        );
        true
    }

    /// Runs events up to and including time `until`, then sets the clock to `until`.
    /// Returns false if the event limit stopped it.
    pub fn run_until(&mut self, until: Micros) -> bool {
        while self.next_event_time().is_some_and(|t| t <= until) {
            if !self.step() {
                return false;
            }
        }
        self.now = self.now.max(until);
        true
    }

    /// Processes the next event. False if the queue is empty or the event limit is reached.
    pub fn step(&mut self) -> bool {
        if self.stats.events >= self.config.max_events {
            self.limit_hit = true;
            return false;
        }
        let Some(Queued { time, seq, kind }) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(time);
        self.stats.events += 1;
        self.digest.write_u64(time);
        self.digest.write_u64(seq);
        match kind {
            EventKind::Start { host, life } => {
                if self.hosts[host].life == life {
                    self.hosts[host].started = true;
                    self.log(|| format!("host {host} starts"));
                    self.digest.write_u8(1);
                    self.dispatch(host, NodeInput::Start);
                }
            }
            EventKind::Deliver {
                to,
                from,
                from_incarnation,
                msg,
            } => {
                if self.hosts[to].node.is_none() || !self.hosts[to].started {
                    self.stats.to_down_host += 1;
                } else if self.net.blocked(from, to) {
                    self.stats.partitioned += 1;
                } else if self.hosts[to].paused {
                    self.hosts[to].held.push(EventKind::Deliver {
                        to,
                        from,
                        from_incarnation,
                        msg,
                    });
                } else {
                    self.stats.delivered += 1;
                    self.digest.write_u8(2);
                    self.digest.write_usize(from);
                    self.digest.write_usize(to);
                    self.log(|| format!("{from}.{from_incarnation} -> {to}: {msg:?}"));
                    self.dispatch(
                        to,
                        NodeInput::Message {
                            from,
                            from_incarnation,
                            msg,
                        },
                    );
                }
            }
            EventKind::Timer { host, life, timer } => {
                let slot = &mut self.hosts[host];
                if slot.life == life && slot.node.is_some() {
                    if slot.paused {
                        slot.held.push(EventKind::Timer { host, life, timer });
                    } else {
                        self.stats.timers_fired += 1;
                        self.digest.write_u8(3);
                        self.digest.write_usize(host);
                        self.log(|| format!("host {host} timer {timer:?}"));
                        self.dispatch(host, NodeInput::Timer(timer));
                    }
                }
            }
            EventKind::Client {
                host,
                life,
                request,
            } => {
                let slot = &mut self.hosts[host];
                if slot.life == life && slot.node.is_some() {
                    if slot.paused {
                        slot.held.push(EventKind::Client {
                            host,
                            life,
                            request,
                        });
                    } else {
                        self.digest.write_u8(4);
                        self.digest.write_usize(host);
                        self.log(|| format!("host {host} client {request:?}"));
                        self.dispatch(host, NodeInput::Client(request));
                    }
                }
            }
            EventKind::FaultTick => self.on_fault_tick(),
            EventKind::FaultEnd { id } => self.end_disruption(id),
        }
        true
    }

    fn dispatch(&mut self, host: usize, input: NodeInput<N>) {
        let now = self.now;
        let mut out = std::mem::take(&mut self.scratch);
        let incarnation = {
            let Some(node) = self.hosts[host].node.as_mut() else {
                return;
            };
            node.handle(now, input, &mut out);
            node.incarnation()
        };
        let slot = &mut self.hosts[host];
        slot.max_incarnation = slot.max_incarnation.max(incarnation);
        let life = slot.life;
        for output in out.drain(..) {
            match output {
                NodeOutput::Send { to, msg } => self.send(host, incarnation, to, msg),
                NodeOutput::SetTimer { timer, at } => {
                    self.schedule(at, EventKind::Timer { host, life, timer });
                }
                NodeOutput::Client(event) => {
                    self.observe(host, incarnation, Observed::Event(event))
                }
                NodeOutput::Trace(trace) => self.observe(host, incarnation, Observed::Trace(trace)),
            }
        }
        self.scratch = out;
    }

    fn observe(&mut self, host: usize, incarnation: u64, what: Observed<N>) {
        let mut text = String::new();
        match &what {
            Observed::Event(e) => {
                let _ = write!(text, "{e:?}");
            }
            Observed::Trace(t) => {
                let _ = write!(text, "{t:?}");
            }
            Observed::Crashed => text.push_str("crashed"),
            Observed::Restarted => text.push_str("restarted"),
        }
        self.digest.write(text.as_bytes());
        self.log(|| format!("host {host}.{incarnation} observed {text}"));
        self.observations.push(Observation {
            time: self.now,
            host,
            incarnation,
            what,
        });
    }

    fn send(&mut self, from: usize, from_incarnation: u64, to: usize, mut msg: N::Message) {
        assert!(
            to < self.hosts.len(),
            "host {from} sent to unknown host {to}"
        );
        self.stats.sent += 1;
        if let Some(filter) = self.drop_filter.as_mut() {
            if filter(from, to, &msg) {
                self.stats.lost += 1;
                return;
            }
        }
        if let Some(tamper) = self.tamper.as_mut() {
            tamper(from, to, &mut msg);
        }
        match self.net.fate(from, to, &mut self.rng) {
            Fate::Partitioned => self.stats.partitioned += 1,
            Fate::Lost => self.stats.lost += 1,
            Fate::Deliver(delays) => {
                if delays.len() > 1 {
                    self.stats.duplicated += 1;
                }
                let last = delays.len() - 1;
                let mut msg = Some(msg);
                for (i, delay) in delays.into_iter().enumerate() {
                    // Every copy is its own message: clone all but the last.
                    let copy = if i == last {
                        msg.take().expect("message for the last copy")
                    } else {
                        msg.as_ref().expect("message for a copy").clone()
                    };
                    self.schedule(
                        self.now + delay,
                        EventKind::Deliver {
                            to,
                            from,
                            from_incarnation,
                            msg: copy,
                        },
                    );
                }
            }
        }
    }

    /// Crashes a host now: its node, timers, held events and in-flight inputs are gone.
    /// False if it was already down.
    pub fn crash(&mut self, host: usize) -> bool {
        let slot = &mut self.hosts[host];
        let Some(node) = slot.node.take() else {
            return false;
        };
        slot.max_incarnation = slot.max_incarnation.max(node.incarnation());
        slot.paused = false;
        slot.held.clear();
        let incarnation = node.incarnation();
        drop(node);
        self.stats.crashes += 1;
        self.observe(host, incarnation, Observed::Crashed);
        true
    }

    /// Restarts a crashed host as a new node with a larger incarnation and empty state.
    /// False if it was running.
    pub fn restart(&mut self, host: usize) -> bool {
        if self.is_up(host) {
            return false;
        }
        let seed = self.rng.random();
        let slot = &mut self.hosts[host];
        slot.life += 1;
        slot.max_incarnation += 1;
        let (life, incarnation) = (slot.life, slot.max_incarnation);
        let node = (self.factory)(host, incarnation, seed);
        assert_eq!(
            node.incarnation(),
            incarnation,
            "the factory must use the incarnation it is given"
        );
        self.hosts[host].node = Some(node);
        self.stats.restarts += 1;
        self.observe(host, incarnation, Observed::Restarted);
        self.schedule(self.now, EventKind::Start { host, life });
        true
    }

    /// Pauses a running host: its messages, timers and client inputs wait until [`Simulator::resume`].
    pub fn pause(&mut self, host: usize) -> bool {
        let slot = &mut self.hosts[host];
        if slot.node.is_none() || slot.paused {
            return false;
        }
        slot.paused = true;
        self.stats.pauses += 1;
        self.log(|| format!("host {host} paused"));
        true
    }

    /// Resumes a paused host: what it missed is handled now, in arrival order.
    pub fn resume(&mut self, host: usize) -> bool {
        let slot = &mut self.hosts[host];
        if !slot.paused {
            return false;
        }
        slot.paused = false;
        let held = std::mem::take(&mut slot.held);
        self.log(|| format!("host {host} resumed with {} held events", held.len()));
        for kind in held {
            self.schedule(self.now, kind);
        }
        true
    }

    /// Starts a partition; returns its id for [`Simulator::heal`].
    pub fn partition(&mut self, partition: Partition) -> u64 {
        self.stats.partitions += 1;
        self.log(|| format!("partition {partition:?}"));
        self.net.partition(partition)
    }

    /// Ends one partition; false if it was not active.
    pub fn heal(&mut self, id: u64) -> bool {
        self.log(|| format!("heal partition {id}"));
        self.net.heal(id)
    }

    /// Installs (or removes) a selective-loss filter, applied at send time.
    pub fn set_drop_filter(&mut self, filter: Option<DropFilter<N>>) {
        self.drop_filter = filter;
    }

    /// Installs (or removes) a liar: every message sent from now on passes
    /// through `tamper` before the network sees it.
    pub fn set_tamper(&mut self, tamper: Option<Tamper<N>>) {
        self.tamper = tamper;
    }

    /// Hosts the nemesis prefers as victims (see [`FaultConfig::favor`]).
    pub fn set_favored(&mut self, hosts: Vec<usize>) {
        self.favored = hosts;
    }

    /// Turns the nemesis on with this configuration (decisions start after one interval).
    pub fn start_faults(&mut self, faults: FaultConfig) {
        let first = self.fault_interval(&faults);
        self.faults = Some(faults);
        self.schedule(self.now + first, EventKind::FaultTick);
    }

    /// Ends the chaos: no new faults, every disruption undone now (crashed hosts
    /// restart, paused ones resume, partitions heal), links stop losing, duplicating
    /// and reordering.
    pub fn stop_faults(&mut self) {
        self.faults = None;
        self.drop_filter = None;
        let ids: Vec<u64> = self.disruptions.iter().map(|d| d.id).collect();
        for id in ids {
            self.end_disruption(id);
        }
        self.net.heal_all();
        self.net.calm();
        for host in 0..self.hosts.len() {
            self.resume(host);
            self.restart(host);
        }
    }

    /// Hosts currently taken away by the nemesis.
    pub fn disrupted(&self) -> Vec<usize> {
        let mut hosts: Vec<usize> = self
            .disruptions
            .iter()
            .flat_map(|d| d.hosts.iter().copied())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    fn fault_interval(&mut self, faults: &FaultConfig) -> Micros {
        self.rng
            .random_range(1..=faults.mean_interval_us.saturating_mul(2).max(1))
    }

    fn on_fault_tick(&mut self) {
        let Some(faults) = self.faults.clone() else {
            return;
        };
        let next = self.fault_interval(&faults);
        self.schedule(self.now + next, EventKind::FaultTick);
        if self.now < self.last_disruption_change + faults.cooldown_us {
            return;
        }
        if faults.wait_for_recruits
            && (0..self.hosts.len())
                .any(|h| self.is_up(h) && self.node(h).is_some_and(|n| n.has_unhealed_recruit()))
        {
            return;
        }
        let disrupted = self.disrupted();
        let room = faults.max_disrupted.saturating_sub(disrupted.len());
        let total = faults.total_weight();
        if room == 0 || total == 0 {
            return;
        }
        let candidates: Vec<usize> = (0..self.hosts.len())
            .filter(|h| !disrupted.contains(h) && !faults.protected.contains(h) && self.is_up(*h))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let favored: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|h| self.favored.contains(h))
            .collect();
        let victim = if !favored.is_empty()
            && faults.favor > 0.0
            && self.rng.random_bool(faults.favor.min(1.0))
        {
            favored[self.rng.random_range(0..favored.len())]
        } else {
            candidates[self.rng.random_range(0..candidates.len())]
        };
        let mut pick = self.rng.random_range(0..total);
        let duration = self.rng.random_range(
            faults.duration_min_us..=faults.duration_max_us.max(faults.duration_min_us),
        );
        let kind = if pick < faults.crash_weight {
            self.crash(victim);
            FaultKind::Crash { host: victim }
        } else {
            pick -= faults.crash_weight;
            if pick < faults.pause_weight {
                self.pause(victim);
                FaultKind::Pause { host: victim }
            } else {
                pick -= faults.pause_weight;
                let partition = if pick < faults.isolate_weight {
                    (Partition::isolate(victim), vec![victim])
                } else {
                    pick -= faults.isolate_weight;
                    let n = self.hosts.len();
                    if pick < faults.split_weight {
                        // A minority side: the victim plus up to room-1 more candidates.
                        let size = self.rng.random_range(1..=room.min((n - 1) / 2).max(1));
                        let mut side = vec![victim];
                        let mut others: Vec<usize> = candidates
                            .iter()
                            .copied()
                            .filter(|h| *h != victim)
                            .collect();
                        while side.len() < size && !others.is_empty() {
                            let i = self.rng.random_range(0..others.len());
                            side.push(others.swap_remove(i));
                        }
                        side.sort_unstable();
                        (Partition::Split { side: side.clone() }, side)
                    } else {
                        let to: Vec<usize> = (0..n)
                            .filter(|h| *h != victim && self.rng.random_bool(0.5))
                            .collect();
                        let to = if to.is_empty() {
                            vec![(victim + 1) % n]
                        } else {
                            to
                        };
                        (
                            Partition::OneWay {
                                from: vec![victim],
                                to,
                            },
                            vec![victim],
                        )
                    }
                };
                let (partition, hosts) = partition;
                let id = self.partition(partition);
                FaultKind::Partition { id, hosts }
            }
        };
        let hosts = match &kind {
            FaultKind::Crash { host } | FaultKind::Pause { host } => vec![*host],
            FaultKind::Partition { hosts, .. } => hosts.clone(),
        };
        let id = self.next_disruption;
        self.next_disruption += 1;
        self.log(|| format!("nemesis: {kind:?} for {duration}us"));
        self.digest.write_u64(id);
        self.disruptions.push(Disruption { id, kind, hosts });
        self.last_disruption_change = self.now;
        self.schedule(self.now + duration, EventKind::FaultEnd { id });
    }

    fn end_disruption(&mut self, id: u64) {
        let Some(index) = self.disruptions.iter().position(|d| d.id == id) else {
            return;
        };
        let disruption = self.disruptions.remove(index);
        self.log(|| format!("nemesis: end {:?}", disruption.kind));
        match disruption.kind {
            FaultKind::Crash { host } => {
                self.restart(host);
            }
            FaultKind::Pause { host } => {
                self.resume(host);
            }
            FaultKind::Partition { id, .. } => {
                self.heal(id);
            }
        }
        self.last_disruption_change = self.now;
    }
}
