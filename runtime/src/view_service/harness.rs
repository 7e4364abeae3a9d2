//! A seeded fault harness for the view service and failure detector: five
//! participants over a network that loses, duplicates, delays and reorders
//! messages, with partitions, crashes, restarts, false suspicions and server
//! creations; then a liveness phase without faults. Even seeds answer
//! `Excluded` with `ViewService::rejoin`, odd ones with a fresh participant.
//!
//! After every step: every (group, view id) emitted anywhere is one identical
//! view, view ids are contiguous per participant, no group has two replicas on
//! one host, committed logs are prefixes of one log. The liveness phase heals
//! everything and checks a creation is decided, every host is readmitted and
//! the idle cluster is quiet.
//!
//! Every run replays from its seed: `VS_SEED=<seed> cargo test -p ftc-runtime
//! harness -- --nocapture` reruns one (`VS_TRACE=1` also prints crashes,
//! restarts and creations); `VS_SEEDS=<n>` changes how many run.

use super::{LogEntry, ViewService, VsMessage, VsOutput, FIRST_INCARNATION};
use crate::failure_detector::{FailureDetector, FdOutput};
use crate::host::Timing;
use crate::types::{
    GroupId, GroupView, HostId, Incarnation, Micros, Model, Scope, ServerSpec, TimerId, TimerSpace,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

const HOSTS: u32 = 5;
const CHAOS_US: Micros = 3_000_000;
const LIVENESS_US: Micros = 20_000_000;
const STEP_US: Micros = 40_000;

fn timing() -> Timing {
    Timing {
        heartbeat_us: 10_000,
        suspect_after_us: 80_000,
        election_min_us: 60_000,
        election_max_us: 120_000,
        retry_us: 30_000,
        call_deadline_us: 1_000_000,
    }
}

#[derive(Clone, Debug)]
enum Payload {
    Heartbeat,
    Vs(VsMessage),
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        to: HostId,
        from: HostId,
        from_incarnation: Incarnation,
        payload: Payload,
    },
    Timer {
        host: HostId,
        process: usize,
        timer: TimerId,
    },
}

/// What one life (host incarnation) of a participant emitted.
#[derive(Default)]
struct Life {
    host: u32,
    incarnation: u64,
    last_view: BTreeMap<GroupId, u64>,
}

struct Node {
    up: bool,
    /// Creation decisions this process reported (they survive a rejoin, as
    /// its pending creations do).
    decided: BTreeMap<u64, Result<GroupId, String>>,
    /// Counts restarts: timers of an earlier process are dropped.
    process: usize,
    incarnation: Incarnation,
    life: usize,
    vs: ViewService,
    fd: FailureDetector,
}

struct Sim {
    rng: ChaCha8Rng,
    now: Micros,
    seq: u64,
    queue: BTreeMap<(Micros, u64), Event>,
    nodes: Vec<Node>,
    lives: Vec<Life>,
    cluster: Vec<HostId>,
    next_incarnation: Vec<u64>,
    /// Directed links that drop everything.
    blocked: BTreeSet<(u32, u32)>,
    loss: f64,
    duplicate: f64,
    /// Every (group, view id) any participant emitted.
    views: BTreeMap<(GroupId, u64), GroupView>,
    /// Every committed entry seen from any participant, by index.
    committed: BTreeMap<u64, LogEntry>,
    next_token: u64,
    errors: Vec<String>,
    timing: Timing,
    /// View-service messages sent so far.
    vs_messages: u64,
    /// On `Excluded`, replace the participant instead of calling `rejoin`.
    fresh_on_exclusion: bool,
    /// Every participant's compaction interval (small ones exercise snapshots).
    compact_every: u64,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim::with_timing(seed, &timing())
    }

    fn with_timing(seed: u64, timing: &Timing) -> Sim {
        Sim::sized(seed, timing, HOSTS)
    }

    /// A cluster of `hosts` participants (the chaos runs use [`HOSTS`]).
    fn sized(seed: u64, timing: &Timing, hosts: u32) -> Sim {
        let cluster: Vec<HostId> = (0..hosts).map(HostId).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut nodes = Vec::new();
        let mut lives = Vec::new();
        for h in 0..hosts {
            nodes.push(Node {
                up: true,
                decided: BTreeMap::new(),
                process: 0,
                incarnation: FIRST_INCARNATION,
                life: lives.len(),
                vs: ViewService::new(HostId(h), FIRST_INCARNATION, &cluster, timing, rng.random()),
                fd: FailureDetector::new(HostId(h), &cluster, timing),
            });
            lives.push(Life {
                host: h,
                incarnation: FIRST_INCARNATION.0,
                ..Life::default()
            });
        }
        let loss = rng.random_range(0.0..0.2);
        let duplicate = rng.random_range(0.0..0.1);
        Sim {
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            lives,
            cluster,
            next_incarnation: vec![FIRST_INCARNATION.0 + 1; hosts as usize],
            blocked: BTreeSet::new(),
            loss,
            duplicate,
            views: BTreeMap::new(),
            committed: BTreeMap::new(),
            next_token: 1,
            errors: Vec::new(),
            timing: timing.clone(),
            vs_messages: 0,
            fresh_on_exclusion: false,
            compact_every: super::COMPACT_EVERY,
        }
    }

    fn set_compact_every(&mut self, every: u64) {
        self.compact_every = every;
        for node in &mut self.nodes {
            node.vs.compact_every = every;
        }
    }

    fn push(&mut self, at: Micros, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn send(&mut self, from: u32, to: HostId, payload: Payload) {
        if self.rng.random_bool(self.loss) {
            return;
        }
        let copies = if self.rng.random_bool(self.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = if self.rng.random_bool(0.05) {
                self.rng.random_range(10_000..60_000)
            } else {
                self.rng.random_range(200..5_000)
            };
            let event = Event::Deliver {
                to,
                from: HostId(from),
                from_incarnation: self.nodes[from as usize].incarnation,
                payload: payload.clone(),
            };
            self.push(self.now + delay, event);
        }
    }

    fn start(&mut self, h: u32) {
        let now = self.now;
        let mut vs_out = Vec::new();
        let mut fd_out = Vec::new();
        let node = &mut self.nodes[h as usize];
        node.vs.on_start(now, &mut vs_out);
        node.fd.on_start(now, &mut fd_out);
        self.handle_fd(h, fd_out);
        self.handle_vs(h, vs_out);
    }

    fn handle_fd(&mut self, h: u32, outputs: Vec<FdOutput>) {
        let now = self.now;
        for output in outputs {
            match output {
                FdOutput::Heartbeat { to } => self.send(h, to, Payload::Heartbeat),
                FdOutput::SetTimer { timer, at } => {
                    let process = self.nodes[h as usize].process;
                    self.push(
                        at,
                        Event::Timer {
                            host: HostId(h),
                            process,
                            timer,
                        },
                    );
                }
                FdOutput::Suspect { host, incarnation } => {
                    let mut out = Vec::new();
                    self.nodes[h as usize]
                        .vs
                        .suspect(now, host, incarnation, &mut out);
                    self.handle_vs(h, out);
                }
                FdOutput::HeardFrom { host, incarnation } => {
                    let mut out = Vec::new();
                    self.nodes[h as usize]
                        .vs
                        .heard_from(now, host, incarnation, &mut out);
                    self.handle_vs(h, out);
                }
            }
        }
    }

    fn handle_vs(&mut self, h: u32, outputs: Vec<VsOutput>) {
        let mut excluded = false;
        // What this participant emitted belongs to the life it started in.
        let life = self.nodes[h as usize].life;
        for output in outputs {
            match output {
                VsOutput::Send { to, msg } => {
                    self.vs_messages += 1;
                    self.send(h, to, Payload::Vs(msg));
                }
                VsOutput::SetTimer { timer, at } => {
                    let process = self.nodes[h as usize].process;
                    self.push(
                        at,
                        Event::Timer {
                            host: HostId(h),
                            process,
                            timer,
                        },
                    );
                }
                VsOutput::Stopped(_) | VsOutput::Departed => {}
                VsOutput::View(view) => {
                    // A participant that installed a snapshot skips the views it
                    // compacted away; otherwise view ids are contiguous.
                    let skips = self.nodes[h as usize].vs.snapshots_installed > 0;
                    self.check_view(life, view, skips)
                }
                VsOutput::StartDecided { starter, result } => {
                    if let Ok(group) = result {
                        if !self.views.contains_key(&(group, 1)) {
                            self.errors
                                .push(format!("host {h}: {group:?} started without a first view"));
                        }
                    }
                    if std::env::var("VS_TRACE").is_ok() {
                        println!(
                            "{} host {h} life {life} decided {starter:?} {result:?}",
                            self.now
                        );
                    }
                    // Only clients start servers here, one token at a time.
                    let super::Starter::Client { token, .. } = starter else {
                        self.errors.push(format!("host {h}: {starter:?} decided"));
                        continue;
                    };
                    if self.nodes[h as usize]
                        .decided
                        .insert(token, result)
                        .is_some()
                    {
                        self.errors
                            .push(format!("host {h} life {life}: {starter:?} decided twice"));
                    }
                }
                VsOutput::Excluded => {
                    excluded = true;
                    if self.fresh_on_exclusion {
                        // Like a host core that takes the new incarnation at once:
                        // the old participant's remaining sends carry it.
                        self.new_life(h);
                    }
                }
            }
        }
        self.check_log(h);
        if excluded {
            let last_view = self.lives[life].last_view.clone();
            if !self.fresh_on_exclusion {
                self.new_life(h);
            }
            let now = self.now;
            let incarnation = self.nodes[h as usize].incarnation;
            let mut vs_out = Vec::new();
            let mut fd_out = Vec::new();
            if self.fresh_on_exclusion {
                // The host core may start a fresh participant instead of rejoining.
                let seed = self.rng.random();
                self.nodes[h as usize].vs =
                    ViewService::new(HostId(h), incarnation, &self.cluster, &self.timing, seed);
                self.nodes[h as usize].vs.compact_every = self.compact_every;
                self.nodes[h as usize].vs.on_start(now, &mut vs_out);
            } else {
                // The participant keeps its memory across a rejoin: views continue.
                let life = self.nodes[h as usize].life;
                self.lives[life].last_view = last_view;
                self.nodes[h as usize]
                    .vs
                    .rejoin(now, incarnation, &mut vs_out);
            }
            self.nodes[h as usize].fd.on_start(now, &mut fd_out);
            self.handle_fd(h, fd_out);
            self.handle_vs(h, vs_out);
        }
    }

    /// Gives host `h` a new incarnation and a new life record.
    fn new_life(&mut self, h: u32) {
        let incarnation = self.next_incarnation[h as usize];
        self.next_incarnation[h as usize] += 1;
        let life = self.lives.len();
        self.lives.push(Life {
            host: h,
            incarnation,
            ..Life::default()
        });
        let node = &mut self.nodes[h as usize];
        node.incarnation = Incarnation(incarnation);
        node.life = life;
    }

    fn check_view(&mut self, life: usize, view: GroupView, skips: bool) {
        let record = &mut self.lives[life];
        let expected = record.last_view.get(&view.group).map_or(1, |v| v + 1);
        if view.view_id != expected && !(skips && view.view_id > expected) {
            self.errors.push(format!(
                "host {} incarnation {}: view {} of {:?} after {}",
                record.host,
                record.incarnation,
                view.view_id,
                view.group,
                expected - 1
            ));
        }
        record.last_view.insert(view.group, view.view_id);
        let hosts: BTreeSet<HostId> = view.members.iter().map(|m| m.host).collect();
        if hosts.len() != view.members.len() {
            self.errors
                .push(format!("two replicas of one group on one host: {view:?}"));
        }
        if view.failed != view.members.is_empty() {
            self.errors
                .push(format!("failed flag inconsistent: {view:?}"));
        }
        match self.views.get(&(view.group, view.view_id)) {
            Some(seen) if *seen != view => self.errors.push(format!(
                "split brain: {:?} view {} is {seen:?} and {view:?}",
                view.group, view.view_id
            )),
            Some(_) => {}
            None => {
                self.views.insert((view.group, view.view_id), view);
            }
        }
    }

    /// Every participant's committed log is a prefix of one log (compared
    /// where it still holds entries: compaction drops a committed prefix).
    fn check_log(&mut self, h: u32) {
        let vs = &self.nodes[h as usize].vs;
        for index in vs.log_base + 1..=vs.commit_index {
            let Some(entry) = vs.log.get(vs.position(index)) else {
                break;
            };
            match self.committed.get(&index) {
                Some(seen) if seen != entry => {
                    self.errors.push(format!(
                        "host {h}: committed entry {index} is {entry:?}, elsewhere {seen:?}"
                    ));
                    return;
                }
                Some(_) => {}
                None => {
                    self.committed.insert(index, entry.clone());
                }
            }
        }
    }

    fn step(&mut self) -> bool {
        let Some((&(at, seq), _)) = self.queue.iter().next() else {
            return false;
        };
        let Some(event) = self.queue.remove(&(at, seq)) else {
            return false;
        };
        self.now = at;
        match event {
            Event::Deliver {
                to,
                from,
                from_incarnation,
                payload,
            } => {
                let t = to.0 as usize;
                if !self.nodes[t].up || self.blocked.contains(&(from.0, to.0)) {
                    return true;
                }
                let mut fd_out = Vec::new();
                self.nodes[t]
                    .fd
                    .on_heartbeat(at, from, from_incarnation, &mut fd_out);
                self.handle_fd(to.0, fd_out);
                if let Payload::Vs(msg) = payload {
                    let mut out = Vec::new();
                    self.nodes[t]
                        .vs
                        .on_message(at, from, from_incarnation, msg, &mut out);
                    self.handle_vs(to.0, out);
                }
            }
            Event::Timer {
                host,
                process,
                timer,
            } => {
                let node = &mut self.nodes[host.0 as usize];
                if !node.up || node.process != process {
                    return true;
                }
                match timer.space() {
                    Some(TimerSpace::FailureDetector) => {
                        let mut out = Vec::new();
                        node.fd.on_timer(at, timer, &mut out);
                        self.handle_fd(host.0, out);
                    }
                    _ => {
                        let mut out = Vec::new();
                        node.vs.on_timer(at, timer, &mut out);
                        self.handle_vs(host.0, out);
                    }
                }
            }
        }
        true
    }

    fn run_until(&mut self, until: Micros) {
        while self.queue.keys().next().is_some_and(|&(at, _)| at <= until) {
            self.step();
        }
        self.now = until;
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for (h, n) in self.nodes.iter().enumerate() {
            let vs = &n.vs;
            s += &format!(
                "host {h} up {} inc {} voter {} admitted {} role {:?} term {} voted {:?} commit {} last {} leader {:?} hosts {:?} pending f{:?} j{:?} c{}\n",
                n.up,
                n.incarnation.0,
                vs.voter.0,
                vs.is_admitted(),
                vs.role,
                vs.term,
                vs.voted_for,
                vs.commit_index,
                vs.last_index(),
                vs.leader,
                vs.state.hosts.iter().map(|(h, r)| (h.0, r.incarnation.0, r.alive, vs.state.voters[h].0)).collect::<Vec<_>>(),
                vs.pending_failures,
                vs.pending_joins,
                vs.pending_creations.len(),
            );
        }
        s
    }

    /// Whether a crash now still leaves a majority of voting identities alive
    /// (the fault budget the view service assumes: lost memories stay a minority).
    fn may_crash(&self) -> bool {
        self.up_and_admitted() > HOSTS as usize / 2 + 1
    }

    /// Hosts that are up and know (from their own committed state) that they
    /// hold the memory of their voting identity: only such knowledge survives
    /// the crash of whoever else knew it.
    fn up_and_admitted(&self) -> usize {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(h, n)| n.up && n.vs.state.voters.get(&HostId(*h as u32)) == Some(&n.vs.voter))
            .count()
    }

    fn random_spec(&mut self) -> ServerSpec {
        let tolerate = self.rng.random_range(0..3);
        let replicas = if self.rng.random_bool(0.1) { 6 } else { 1 };
        let hosts = (0..self.rng.random_range(0..3))
            .map(|_| HostId(self.rng.random_range(0..HOSTS + 1)))
            .collect();
        ServerSpec {
            class: format!("C{tolerate}"),
            model: if tolerate == 0 {
                Model::Correct
            } else {
                Model::Crash
            },
            tolerate,
            replicas,
            hosts,
            disjoint_key: self.rng.random_bool(0.3).then_some(7),
            priority: 0,
            durable: None,
        }
    }

    fn start_server(&mut self, h: u32, token: u64, spec: ServerSpec) {
        if std::env::var("VS_TRACE").is_ok() {
            println!(
                "{} host {h} life {} start {token}",
                self.now, self.nodes[h as usize].life
            );
        }
        // Some chaos starts belong to a program: a restart of their host
        // stops them (views must stay consistent through that too).
        let scope = if token != u64::MAX && self.rng.random_bool(0.3) {
            Scope::Program
        } else {
            Scope::Cluster
        };
        let mut out = Vec::new();
        let now = self.now;
        self.nodes[h as usize]
            .vs
            .start_server(now, token, spec, scope, &mut out);
        self.handle_vs(h, out);
    }

    fn chaos_action(&mut self) {
        let h = self.rng.random_range(0..HOSTS);
        match self.rng.random_range(0..100) {
            0..=9 => {
                // Partition: a random side, cut both ways or one way.
                self.blocked.clear();
                let side: Vec<u32> = (0..HOSTS).filter(|_| self.rng.random_bool(0.4)).collect();
                let one_way = self.rng.random_bool(0.3);
                for &a in &side {
                    for b in (0..HOSTS).filter(|b| !side.contains(b)) {
                        self.blocked.insert((a, b));
                        if !one_way {
                            self.blocked.insert((b, a));
                        }
                    }
                }
            }
            10..=24 => self.blocked.clear(),
            25..=34 => {
                // Crash, within the fault budget.
                if self.nodes[h as usize].up && self.may_crash() {
                    if std::env::var("VS_TRACE").is_ok() {
                        println!(
                            "{} crash {h} (voting identities up before: {})",
                            self.now,
                            self.up_and_admitted()
                        );
                    }
                    self.nodes[h as usize].up = false;
                }
            }
            35..=49 => {
                if !self.nodes[h as usize].up {
                    if std::env::var("VS_TRACE").is_ok() {
                        println!("{} restart {h}", self.now);
                    }
                    self.restart(h);
                }
            }
            50..=59 => {
                // A (possibly false or stale) suspicion.
                let target = self.rng.random_range(0..HOSTS);
                let incarnation = self.nodes[target as usize].incarnation;
                if self.nodes[h as usize].up {
                    let mut out = Vec::new();
                    let now = self.now;
                    self.nodes[h as usize]
                        .vs
                        .suspect(now, HostId(target), incarnation, &mut out);
                    self.handle_vs(h, out);
                }
            }
            _ => {
                if self.nodes[h as usize].up {
                    let token = self.next_token;
                    self.next_token += 1;
                    let spec = self.random_spec();
                    self.start_server(h, token, spec);
                }
            }
        }
    }

    /// A restart: new incarnation, empty state.
    fn restart(&mut self, h: u32) {
        self.new_life(h);
        let seed = self.rng.random();
        let node = &mut self.nodes[h as usize];
        node.up = true;
        node.process += 1;
        node.decided.clear();
        node.vs = ViewService::new(
            HostId(h),
            node.incarnation,
            &self.cluster,
            &self.timing,
            seed,
        );
        node.vs.compact_every = self.compact_every;
        node.fd = FailureDetector::new(HostId(h), &self.cluster, &self.timing);
        self.start(h);
    }
}

/// One run; `Err` describes the first violated property.
fn run(seed: u64) -> Result<String, String> {
    let mut sim = Sim::new(seed);
    // Half the runs answer `Excluded` like a host core that starts a fresh
    // participant (and stamps the old one's last sends with the new incarnation).
    sim.fresh_on_exclusion = seed % 2 == 1;
    // Two runs in three compact the log every few entries, so lagging and
    // restarted participants get snapshots.
    sim.set_compact_every([4, 16, super::COMPACT_EVERY][(seed / 2 % 3) as usize]);
    for h in 0..HOSTS {
        sim.start(h);
    }
    // Safety phase: chaos.
    let mut t = 0;
    while t < CHAOS_US {
        t += STEP_US;
        sim.run_until(t);
        sim.chaos_action();
        if !sim.errors.is_empty() {
            return Err(sim.errors.join("\n"));
        }
    }
    // Liveness phase: heal, no loss or duplication, everybody up.
    sim.blocked.clear();
    sim.loss = 0.0;
    sim.duplicate = 0.0;
    for h in 0..HOSTS {
        if !sim.nodes[h as usize].up {
            sim.restart(h);
        }
    }
    let token = u64::MAX;
    let origin = 0;
    let spec = ServerSpec {
        class: "Live".into(),
        model: Model::Crash,
        tolerate: 1,
        replicas: 2,
        hosts: vec![],
        disjoint_key: None,
        priority: 0,
        durable: None,
    };
    // It stays pending across a rejoin of the origin; a fresh participant
    // forgets it, so the client asks again.
    let mut issued_life = sim.nodes[origin].life;
    sim.start_server(origin as u32, token, spec.clone());
    let deadline = t + LIVENESS_US;
    let mut decided = None;
    while t < deadline {
        t += STEP_US;
        sim.run_until(t);
        if let Some(result) = sim.nodes[origin].decided.get(&token) {
            decided = Some(result.clone());
            break;
        }
        if sim.fresh_on_exclusion && sim.nodes[origin].life != issued_life {
            issued_life = sim.nodes[origin].life;
            sim.start_server(origin as u32, token, spec.clone());
        }
    }
    if !sim.errors.is_empty() {
        return Err(sim.errors.join("\n"));
    }
    if decided.is_none() && sim.fresh_on_exclusion && sim.up_and_admitted() < HOSTS as usize / 2 + 1
    {
        // Each fresh participant lost a memory: beyond a minority of lost
        // memories the view service stops (safely), as documented.
        return Ok("stopped: a majority of memories lost to fresh participants".into());
    }
    let Some(result) = decided else {
        return Err(format!(
            "liveness: creation not decided after healing (admitted and up: {})\n{}",
            sim.up_and_admitted(),
            sim.dump()
        ));
    };
    // Everybody gets (re)admitted and learns the decision, and the idle
    // cluster is quiet: about two messages per peer and heartbeat.
    sim.run_until(t + 1_000_000);
    let before = sim.vs_messages;
    sim.run_until(t + 2_000_000);
    let per_second = sim.vs_messages - before;
    if per_second > 2_000 {
        return Err(format!(
            "liveness: {per_second} messages in an idle second\n{}",
            sim.dump()
        ));
    }
    if !sim.errors.is_empty() {
        return Err(sim.errors.join("\n"));
    }
    let group = result.map_err(|e| format!("liveness: creation failed: {e}"))?;
    for (h, node) in sim.nodes.iter().enumerate() {
        // A restarted process said so: its host's earlier processes are
        // known gone (their clients departed, their programs stopped).
        let since = node.vs.state.hosts[&HostId(h as u32)].since;
        if node.vs.process > FIRST_INCARNATION && since != node.vs.process {
            return Err(format!(
                "liveness: host {h}'s process {:?} started, the log says since {since:?}",
                node.vs.process
            ));
        }
        if node.vs.state.owners.keys().any(|g| {
            let owner = node.vs.state.owners[g];
            owner.incarnation < node.vs.state.hosts[&owner.host].since
        }) {
            return Err(format!(
                "liveness: host {h} keeps a group of an ended program"
            ));
        }
        if !node.vs.is_admitted() || node.vs.view(group).is_none() {
            return Err(format!(
                "liveness: host {h} admitted {} knows group {}",
                node.vs.is_admitted(),
                node.vs.view(group).is_some()
            ));
        }
    }
    Ok(format!(
        "{} lives, {} views, log {}, snapshots installed {}",
        sim.lives.len(),
        sim.views.len(),
        sim.committed.len(),
        sim.nodes
            .iter()
            .map(|n| n.vs.snapshots_installed)
            .sum::<u64>()
    ))
}

#[test]
fn seeded_harness_keeps_views_consistent_and_stays_live() {
    let seeds: Vec<u64> = match std::env::var("VS_SEED") {
        Ok(s) => vec![s.parse().expect("VS_SEED is a number")],
        Err(_) => {
            let count = std::env::var("VS_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
            (0..count).collect()
        }
    };
    let mut failures = Vec::new();
    let mut stopped = 0;
    for &seed in &seeds {
        match run(seed) {
            Ok(summary) if summary.starts_with("stopped") => stopped += 1,
            Ok(summary) if seeds.len() == 1 => println!("seed {seed}: {summary}"),
            Ok(_) => {}
            Err(e) => {
                let brief: Vec<&str> = e.lines().take(8).collect();
                println!(
                    "seed {seed} failed (replay: VS_SEED={seed}): {}",
                    brief.join("\n")
                );
                failures.push(seed);
            }
        }
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    // Only runs with fresh participants can stop (about a third of them do:
    // every exclusion there loses a memory); `rejoin` runs must all stay live.
    println!(
        "{} seeds, {stopped} stopped after fresh participants lost a majority of memories",
        seeds.len()
    );
}

#[test]
fn harness_runs_replay_identically() {
    assert_eq!(run(3), run(3));
}

/// Host 4 is cut off for longer than the suspicion timeout, then the partition
/// heals: only host 4 rejoins; its stale suspicions of the others, made while
/// it was cut off, must not exclude them.
#[test]
fn a_healed_host_does_not_get_healthy_hosts_excluded() {
    for seed in 0..20 {
        let mut sim = Sim::new(seed);
        sim.loss = 0.0;
        sim.duplicate = 0.0;
        for h in 0..HOSTS {
            sim.start(h);
        }
        sim.run_until(300_000);
        for other in 0..4 {
            sim.blocked.insert((4, other));
            sim.blocked.insert((other, 4));
        }
        sim.run_until(1_100_000);
        sim.blocked.clear();
        sim.run_until(4_000_000);
        assert!(sim.errors.is_empty(), "seed {seed}: {:?}", sim.errors);
        let incarnations: Vec<u64> = sim.nodes.iter().map(|n| n.incarnation.0).collect();
        assert!(
            incarnations[..4].iter().all(|&i| i == FIRST_INCARNATION.0),
            "seed {seed}: healthy hosts had to rejoin: {incarnations:?}"
        );
        assert!(
            incarnations[4] > FIRST_INCARNATION.0,
            "seed {seed}: host 4 was never excluded"
        );
        assert!(
            sim.nodes.iter().all(|n| n.vs.is_admitted()),
            "seed {seed}: {}",
            sim.dump()
        );
    }
}

/// Host 2 is cut off long enough to be excluded, then the partition heals: it
/// rejoins, catches up, and the idle cluster goes quiet (no message storm).
#[test]
fn a_rejoined_host_catches_up_and_the_cluster_quiets_down() {
    for (seed, fresh_on_exclusion) in (0..20).flat_map(|s| [(s, false), (s, true)]) {
        let mut sim = Sim::with_timing(seed, &Timing::default());
        sim.fresh_on_exclusion = fresh_on_exclusion;
        sim.loss = 0.0;
        sim.duplicate = 0.0;
        for h in 0..HOSTS {
            sim.start(h);
        }
        sim.run_until(300_000);
        for other in [0, 1, 3, 4] {
            sim.blocked.insert((2, other));
            sim.blocked.insert((other, 2));
        }
        sim.run_until(720_000);
        sim.blocked.clear();
        sim.run_until(3_000_000);
        let before = sim.vs_messages;
        sim.run_until(4_000_000);
        let per_second = sim.vs_messages - before;
        assert!(sim.errors.is_empty(), "seed {seed}: {:?}", sim.errors);
        // An idle leader sends one append per peer per heartbeat (and gets replies).
        assert!(
            per_second < 1_000,
            "seed {seed}: {per_second} messages in 1 s\n{}",
            sim.dump()
        );
        assert!(
            sim.nodes.iter().all(|n| n.vs.is_admitted()),
            "seed {seed}: {}",
            sim.dump()
        );
        let commits: BTreeSet<u64> = sim.nodes.iter().map(|n| n.vs.commit_index).collect();
        assert_eq!(
            commits.len(),
            1,
            "seed {seed}: everybody caught up\n{}",
            sim.dump()
        );
    }
}

/// A first boot without a start barrier: the hosts (three to seven) start at
/// seeded random times up to 3 s apart, and each pair of hosts can talk only
/// from a later random moment (a transport still dialling). Hosts that start
/// late are suspected, declared failed and rejoin as new incarnations; in the
/// end every host must be admitted, with views consistent throughout. Half the
/// runs also lose and duplicate messages.
#[test]
fn a_staggered_first_boot_admits_every_host() {
    let mut stalled = Vec::new();
    for seed in 0..1000u64 {
        let n = 3 + (seed % 5) as u32;
        let mut sim = Sim::sized(seed, &Timing::default(), n);
        if seed % 2 == 0 {
            sim.loss = 0.0;
            sim.duplicate = 0.0;
        }
        let spread = [300_000u64, 1_000_000, 3_000_000][(seed / 3 % 3) as usize];
        let starts: Vec<Micros> = (0..n).map(|_| sim.rng.random_range(0..spread)).collect();
        // (time, a, b): host a starts when a == b, else the link a–b comes up.
        let mut events: Vec<(Micros, u32, u32)> = Vec::new();
        for h in 0..n {
            events.push((starts[h as usize], h, h));
            for g in (h + 1)..n {
                let at = starts[h as usize].max(starts[g as usize])
                    + sim.rng.random_range(0..spread / 2);
                events.push((at, h, g));
                sim.blocked.insert((h, g));
                sim.blocked.insert((g, h));
            }
        }
        events.sort();
        for node in sim.nodes.iter_mut() {
            node.up = false;
        }
        for &(at, a, b) in &events {
            sim.run_until(at);
            if a == b {
                sim.nodes[a as usize].up = true;
                sim.start(a);
            } else {
                sim.blocked.remove(&(a, b));
                sim.blocked.remove(&(b, a));
            }
        }
        let last = events.last().map_or(0, |e| e.0);
        sim.run_until(last + 5_000_000);
        if !sim.nodes.iter().all(|n| n.vs.is_admitted()) || !sim.errors.is_empty() {
            println!(
                "seed {seed} ({n} hosts) events {events:?}\n{:?}\n{}",
                sim.errors,
                sim.dump()
            );
            stalled.push(seed);
        }
    }
    assert!(stalled.is_empty(), "stalled first boots, seeds {stalled:?}");
}
