//! The key-value workload: clients on several hosts issue random get, put,
//! append and cas operations against a replicated `kv` server while the
//! nemesis injects faults (safety phase); then every fault is healed and every
//! pending request must complete (liveness phase). The clients' history is
//! judged for linearizability and every trace is checked (see [`crate::checks`]).

use crate::apps::{KvCommand, KvReply};
use crate::checks::ReplicaSummary;
use crate::checks::{check_linearizable, Check, Violation};
use crate::cluster::{Cluster, ClusterConfig, Happening};
use crate::faults::FaultConfig;
use crate::net::Partition;
use crate::sim::SimStats;
use ftc_judge::{OpKind, OpStatus, Operation};
use ftc_runtime::group::GroupMessage;
use ftc_runtime::host::ClientEvent;
use ftc_runtime::lie::Behaviour;
use ftc_runtime::message::Message;
use ftc_runtime::types::{GroupId, GroupView, HostId, Micros, Model, ReplicaId, ServerSpec};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

/// One key-value run.
#[derive(Clone, Debug)]
pub struct KvConfig {
    pub cluster: ClusterConfig,
    /// The `kv` server is `model <model> tolerate (tolerate)`.
    pub tolerate: u32,
    pub model: Model,
    /// How many members of the server's first view lie: every reply they send
    /// carries a plausible wrong answer (see [`lie`]). Meaningful for
    /// `model byzantine`, which must outvote up to `tolerate` of them.
    pub liars: usize,
    /// What the liars do besides lying in replies (see [`Behaviour`]).
    pub behaviour: Option<Behaviour>,
    /// The first liar is the primary of the byzantine group's first view.
    pub liar_is_primary: bool,
    /// Client count (each issues one operation at a time).
    pub clients: usize,
    pub keys: usize,
    /// Pause between a client's operations, uniform in `[0, think_max_us]`.
    pub think_max_us: Micros,
    /// Length of the safety phase (after the server started).
    pub safety_us: Micros,
    /// Bound of the liveness phase: every pending request completes within it.
    pub liveness_us: Micros,
    pub faults: FaultConfig,
    /// Report requests that did not complete in the liveness phase as violations.
    pub check_liveness: bool,
    /// The server class (`kv`; `kv-nondeterministic` to show check (d) failing).
    pub class: String,
    /// Preferred hosts of the `kv` server (placement puts replicas there first).
    pub preferred_hosts: Vec<usize>,
    /// Where client `i` lives: `client_hosts[i % len]`; empty: host `i % hosts`.
    pub client_hosts: Vec<usize>,
    /// Scripted faults, at times measured from the server's start (scenario tests).
    pub script: Vec<(Micros, Action)>,
    /// `durable ("name")`: the server keeps its state on its hosts' disks
    /// (with `cluster.stable_storage`).
    pub durable: Option<String>,
}

/// A scripted fault of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Crash a host.
    Crash(usize),
    /// Restart a crashed host.
    Restart(usize),
    /// Pause a host.
    Pause(usize),
    /// Resume a paused host.
    Resume(usize),
    /// Crash the host of the newest view's sequencer.
    CrashSequencer,
    /// Pause the host of the newest view's sequencer.
    PauseSequencer,
    /// Crash the host of the newest view's member of this rank (0 = sequencer).
    CrashMember(usize),
    /// Start a partition.
    Partition(Partition),
    /// Heal every partition.
    HealAll,
    /// Drop every group-protocol message (requests, replies, prepares, …) from
    /// the first hosts to the second, leaving heartbeats and the view service alone.
    DropGroupMessages(Vec<usize>, Vec<usize>),
    /// Stop dropping group-protocol messages.
    StopDropping,
}

impl KvConfig {
    /// A run with chaos: tolerate 1 or 2, 3–8 clients, 5 keys, faults within what
    /// the group survives (`max_disrupted = tolerate`).
    pub fn chaos(seed: u64) -> KvConfig {
        let tolerate = 1 + (seed % 2) as u32;
        KvConfig {
            cluster: ClusterConfig::new(seed),
            tolerate,
            model: Model::Crash,
            liars: 0,
            behaviour: None,
            liar_is_primary: false,
            clients: 3 + (seed / 2 % 6) as usize,
            keys: 5,
            think_max_us: 20_000,
            safety_us: 3_000_000,
            liveness_us: 6_000_000,
            faults: FaultConfig::chaos(tolerate as usize),
            check_liveness: true,
            class: "kv".to_string(),
            preferred_hosts: Vec::new(),
            durable: None,
            client_hosts: Vec::new(),
            script: Vec::new(),
        }
    }

    /// Restart bursts on three hosts: hosts 1 and 2 crash (or are cut off,
    /// paused) together or one right after the other, disruptions of
    /// 50–250 ms with 60 ms gaps, far closer than a join takes to commit, so
    /// most of the view service's memories are lost at once. Host 0 (where
    /// most clients live) is never disrupted: one memory always survives, and
    /// it holds nearly every committed decision (see below).
    /// `crashes_only`: every disruption is a crash (restarted as a new incarnation).
    pub fn restart_bursts(seed: u64, crashes_only: bool) -> KvConfig {
        let mut config = KvConfig::chaos(seed);
        config.cluster.hosts = 3;
        config.faults = FaultConfig {
            max_disrupted: 2,
            cooldown_us: 60_000,
            duration_min_us: 50_000,
            duration_max_us: 250_000,
            protected: vec![0],
            ..config.faults
        };
        // Most clients on the host that stays up: each crash of a client's host
        // leaves its call open (`info`), and many open calls on one key blow the
        // judge's search budget without telling it anything.
        config.client_hosts = vec![0, 0, 0, 1, 2];
        // No one-way partitions: they let hosts 1 and 2 commit without host 0,
        // and a burst that then kills both loses decisions that no surviving
        // memory holds (beyond any protocol without stable storage).
        config.faults.one_way_weight = 0;
        if crashes_only {
            config.faults.pause_weight = 0;
            config.faults.isolate_weight = 0;
            config.faults.split_weight = 0;
            config.faults.one_way_weight = 0;
        }
        config
    }

    /// A calm run: no nemesis, reliable links.
    pub fn calm(seed: u64) -> KvConfig {
        let mut config = KvConfig::chaos(seed);
        config.cluster.link = config.cluster.link.healed();
        config.faults = FaultConfig::none();
        config
    }
}

/// What a run did and which checks failed.
#[derive(Clone, Debug)]
pub struct KvReport {
    pub seed: u64,
    pub history: Vec<Operation>,
    pub violations: Vec<Violation>,
    /// Equal for equal seeds.
    pub digest: u64,
    pub stats: SimStats,
    pub executions: u64,
    pub group: Option<GroupId>,
    pub group_failed: bool,
    /// When the safety phase ended (everything healed).
    pub healed_at: Micros,
    /// Every view of the group, with the hosts that installed it and when.
    pub views: Vec<(GroupView, Vec<(Micros, usize)>)>,
    /// Scripted actions as carried out: (time, action, host it hit).
    pub actions: Vec<(Micros, Action, Option<usize>)>,
    /// The host of each history operation's client.
    pub op_hosts: Vec<usize>,
    /// What each replica of the group executed.
    pub replicas: BTreeMap<ReplicaId, ReplicaSummary>,
    /// Each host's incarnation at the end (larger than its first: it crashed or was excluded).
    pub incarnations: Vec<Option<u64>>,
    /// The hosts whose replies lied (see [`KvConfig::liars`]).
    pub liars: Vec<usize>,
}

impl KvReport {
    /// Operations that completed with an observed result.
    pub fn ok_ops(&self) -> usize {
        self.history
            .iter()
            .filter(|o| o.status == OpStatus::Ok)
            .count()
    }

    /// Operations with an unknown outcome.
    pub fn info_ops(&self) -> usize {
        self.history
            .iter()
            .filter(|o| o.status == OpStatus::Info)
            .count()
    }
}

struct InFlight {
    token: u64,
    op: usize,
    probe: bool,
}

struct KvClient {
    host: usize,
    local: u32,
    /// The history's client number: a new one after every unknown outcome.
    process: u64,
    inflight: Option<InFlight>,
    next_at: Micros,
    ops: u64,
    /// Values this client last saw per key (for plausible cas arguments).
    seen: HashMap<String, String>,
    probed: bool,
}

/// Runs one key-value simulation and all its checks.
pub fn run_kv(config: &KvConfig) -> KvReport {
    let mut cluster = Cluster::new(&config.cluster);
    let setup_deadline = 10_000_000;
    let mut spec = ServerSpec::new(&config.class, config.model, config.tolerate);
    spec.durable = config.durable.clone();
    spec.hosts = config
        .preferred_hosts
        .iter()
        .map(|h| HostId(crate::node::host_index_u32(*h)))
        .collect();
    let group = cluster.start_group(0, spec, setup_deadline);
    let mut run = Run::default();
    if let Some(group) = group {
        run.liars = plant_liars(&mut cluster, config, group);
        drive(&mut cluster, config, group, &mut run);
        if config.check_liveness {
            cluster.check_not_wedged(WEDGE_SETTLE_US);
        }
    }
    let views = group
        .map(|g| {
            cluster
                .views(g)
                .map(|v| (v.clone(), cluster.installed_by(g, v.view_id).to_vec()))
                .collect()
        })
        .unwrap_or_default();
    let replicas = cluster
        .replicas()
        .iter()
        .filter(|((g, _), _)| Some(*g) == group)
        .map(|((_, r), s)| (*r, *s))
        .collect();
    let Run {
        history,
        op_hosts,
        actions,
        healed_at,
        liars,
    } = run;
    let seed = config.cluster.seed;
    let digest = cluster.sim().digest();
    let incarnations = (0..config.cluster.hosts)
        .map(|h| cluster.sim().incarnation(h))
        .collect();
    let stats = cluster.sim().stats().clone();
    let executions = cluster.executions();
    let group_failed = group.is_some_and(|g| cluster.group_failed(g));
    let mut violations = cluster.finish();
    if let Some(v) = check_linearizable(&history) {
        violations.insert(0, v);
    }
    let report = KvReport {
        seed,
        history,
        violations,
        digest,
        stats,
        executions,
        group,
        group_failed,
        healed_at,
        views,
        actions,
        op_hosts,
        replicas,
        incarnations,
        liars,
    };
    crate::report::write_history(&report);
    report
}

#[derive(Default)]
struct Run {
    history: Vec<Operation>,
    op_hosts: Vec<usize>,
    actions: Vec<(Micros, Action, Option<usize>)>,
    healed_at: Micros,
    liars: Vec<usize>,
}

/// Picks `config.liars` members of the group's view at random and makes every
/// reply they send from now on a lie.
fn plant_liars(cluster: &mut Cluster, config: &KvConfig, group: GroupId) -> Vec<usize> {
    let mut members = cluster.members(group);
    let mut liars = Vec::new();
    if config.liar_is_primary && config.liars > 0 && !members.is_empty() {
        liars.push(members.remove(0));
    }
    while liars.len() < config.liars && !members.is_empty() {
        let i = cluster.sim_mut().rng().random_range(0..members.len());
        liars.push(members.swap_remove(i));
    }
    if !liars.is_empty() {
        let keys = crate::nested::liars_keys(&liars);
        let behaviour = config.behaviour;
        cluster
            .sim_mut()
            .set_tamper(Some(Box::new(move |from, to, msg| {
                let Some(keys) = keys.get(&from) else {
                    return;
                };
                lie(msg);
                if let Some(b) = behaviour {
                    crate::nested::behave(b, keys, to, msg);
                }
            })));
    }
    liars
}

/// Rewrites a reply to a client into a plausible wrong one: a value nobody
/// wrote, the opposite cas outcome, or a write that did not happen said to be
/// a read of nothing. Other messages pass unchanged.
pub fn lie(msg: &mut Message) {
    let Message::Group(GroupMessage::Reply { payload, .. }) = msg else {
        return;
    };
    let wrong = match KvReply::decode(payload) {
        Some(KvReply::Value(_)) => KvReply::Value(Some("lie".to_string())),
        Some(KvReply::Cas(ok)) => KvReply::Cas(!ok),
        Some(KvReply::Done) => KvReply::Value(None),
        Some(KvReply::Malformed) | None => return,
    };
    *payload = wrong.encode();
}

fn perform(cluster: &mut Cluster, group: GroupId, action: &Action) -> Option<usize> {
    let target = match action {
        Action::Crash(h) | Action::Restart(h) | Action::Pause(h) | Action::Resume(h) => Some(*h),
        Action::CrashSequencer | Action::PauseSequencer => cluster.sequencer(group),
        Action::CrashMember(rank) => cluster.members(group).get(*rank).copied(),
        Action::Partition(_)
        | Action::HealAll
        | Action::DropGroupMessages(..)
        | Action::StopDropping => None,
    };
    let s = cluster.sim_mut();
    match (action, target) {
        (Action::Crash(_) | Action::CrashSequencer | Action::CrashMember(_), Some(h)) => {
            s.crash(h);
        }
        (Action::Restart(_), Some(h)) => {
            s.restart(h);
        }
        (Action::Pause(_) | Action::PauseSequencer, Some(h)) => {
            s.pause(h);
        }
        (Action::Resume(_), Some(h)) => {
            s.resume(h);
        }
        (Action::Partition(p), _) => {
            s.partition(p.clone());
        }
        (Action::HealAll, _) => s.network_mut().heal_all(),
        (Action::DropGroupMessages(from, to), _) => {
            let (from, to) = (from.clone(), to.clone());
            s.set_drop_filter(Some(Box::new(move |f, t, msg| {
                matches!(msg, Message::Group(_)) && from.contains(&f) && to.contains(&t)
            })));
        }
        (Action::StopDropping, _) => s.set_drop_filter(None),
        _ => {}
    }
    target
}

fn drive(cluster: &mut Cluster, config: &KvConfig, group: GroupId, run: &mut Run) {
    let history = &mut run.history;
    let hosts = config.cluster.hosts;
    let start = cluster.now();
    let safety_end = start + config.safety_us;
    let liveness_end = safety_end + config.liveness_us;
    let keys: Vec<String> = (0..config.keys).map(|k| format!("k{k}")).collect();
    let mut clients: Vec<KvClient> = (0..config.clients)
        .map(|i| KvClient {
            host: if config.client_hosts.is_empty() {
                i % hosts
            } else {
                config.client_hosts[i % config.client_hosts.len()]
            },
            local: (i / hosts) as u32,
            process: i as u64,
            inflight: None,
            next_at: start + 1_000 * i as u64,
            ops: 0,
            seen: HashMap::new(),
            probed: false,
        })
        .collect();
    let mut next_process = config.clients as u64;
    cluster.sim_mut().start_faults(config.faults.clone());
    let mut healed = false;
    let mut script = config.script.clone();
    script.sort_by_key(|(at, _)| *at);
    let mut script = script.into_iter().peekable();
    loop {
        if cluster.stopped() {
            return;
        }
        let now = cluster.now();
        while let Some((_, action)) = script.next_if(|(at, _)| start + at <= now && !healed) {
            let target = perform(cluster, group, &action);
            run.actions.push((now, action, target));
        }
        if !healed && now >= safety_end {
            healed = true;
            run.healed_at = now;
            cluster.sim_mut().stop_faults();
        }
        if healed && clients.iter().all(|c| c.probed && c.inflight.is_none()) {
            if config.check_liveness {
                check_quiescence(cluster);
            }
            return;
        }
        if now >= liveness_end {
            for c in &clients {
                if let Some(inflight) = &c.inflight {
                    if config.check_liveness {
                        let op = &history[inflight.op];
                        cluster.violate(
                            Check::Liveness,
                            format!(
                                "client {} on host {} still waits for {} {} called at t={}us (healed at t={safety_end}us)",
                                op.client, c.host, op.kind.name(), op.key, op.call
                            ),
                        );
                    }
                }
            }
            return;
        }
        // After the heal, new requests wait until decisions already under way
        // (an exclusion of a host that was cut off) have landed; pending ones go on.
        let probe_from = if healed {
            run.healed_at + PROBE_SETTLE_US
        } else {
            0
        };
        // Issue operations from idle clients whose time has come.
        for c in clients.iter_mut() {
            if c.inflight.is_some()
                || c.next_at.max(probe_from) > now
                || !cluster.sim().is_up(c.host)
            {
                continue;
            }
            if healed && c.probed {
                continue;
            }
            if cluster.group_failed(group) {
                // The server is gone for good (`server_failure` at once): a client
                // stops calling it. (Each such call would be one more operation of
                // unknown outcome for the judge, whose search grows with them.)
                c.next_at = Micros::MAX;
                continue;
            }
            let probe = healed;
            let (command, op) = random_op(cluster, c, &keys, now);
            let Some(token) = cluster.call(c.host, c.local, group, command.encode()) else {
                continue;
            };
            history.push(op);
            run.op_hosts.push(c.host);
            c.inflight = Some(InFlight {
                token,
                op: history.len() - 1,
                probe,
            });
            c.probed |= probe;
        }
        let wake = clients
            .iter()
            // A client on a down host wakes when its host restarts.
            .filter(|c| {
                c.inflight.is_none() && !(healed && c.probed) && cluster.sim().is_up(c.host)
            })
            .map(|c| c.next_at.max(probe_from).max(now + 1))
            .min()
            .unwrap_or(liveness_end);
        let wake = match script.peek() {
            Some((at, _)) if !healed => wake.min(start + at),
            _ => wake,
        };
        let until = wake
            .min(if healed { liveness_end } else { safety_end })
            .max(now + 1);
        let Some(happening) = cluster.run_until(until) else {
            continue;
        };
        match happening {
            Happening::Answer { time, host, event } => {
                let token = crate::cluster::answer_token(&event);
                let Some(c) = clients.iter_mut().find(|c| {
                    c.host == host && c.inflight.as_ref().is_some_and(|f| f.token == token)
                }) else {
                    continue;
                };
                let inflight = c.inflight.take().expect("the client waits for this answer");
                let think = cluster
                    .sim_mut()
                    .rng()
                    .random_range(0..=config.think_max_us);
                c.next_at = time + think;
                let op = &mut history[inflight.op];
                match event {
                    ClientEvent::Reply { payload, .. } => {
                        if let Err(detail) = complete(op, &payload, time) {
                            cluster.violate(Check::Linearizable, detail);
                        }
                        if let Some(v) = observed_value(op) {
                            c.seen.insert(op.key.clone(), v);
                        }
                    }
                    ClientEvent::CallFailed { reason, .. } => {
                        // Unknown outcome: stays `info`; the client continues as a new process.
                        c.process = next_process;
                        next_process += 1;
                        if inflight.probe && config.check_liveness && !cluster.group_failed(group) {
                            cluster.violate(
                                Check::Liveness,
                                format!("after healing, a call failed at t={time}us: {reason}"),
                            );
                        }
                    }
                    other => cluster.violate(
                        Check::Setup,
                        format!("unexpected answer to a call: {other:?}"),
                    ),
                }
            }
            Happening::Crashed { host, time } => {
                for c in clients.iter_mut().filter(|c| c.host == host) {
                    if c.inflight.take().is_some() {
                        c.process = next_process;
                        next_process += 1;
                    }
                    c.next_at = time;
                }
            }
            Happening::Restarted { host, time, .. } => {
                for c in clients.iter_mut().filter(|c| c.host == host) {
                    c.next_at = time + 1_000;
                }
            }
        }
    }
}

/// Before the wedge check, the healed cluster runs this much longer (elections settle).
pub const WEDGE_SETTLE_US: Micros = 1_000_000;

/// After the heal, clients wait this long before their new request (the probe).
pub const PROBE_SETTLE_US: Micros = 1_000_000;

/// Messages a calm, idle cluster may send per host and virtual second (heartbeats,
/// view-service probes and retransmissions fit easily below it).
pub const IDLE_MESSAGES_PER_HOST_SECOND_MAX: u64 = 1_000;

/// After the liveness phase: with no load and no faults, traffic settles (no storm).
fn check_quiescence(cluster: &mut Cluster) {
    let settle_us = 500_000;
    let measure_us = 1_000_000;
    let now = cluster.now();
    cluster.run_quietly_until(now + settle_us);
    let sent_before = cluster.sim().stats().sent;
    let start = cluster.now();
    cluster.run_quietly_until(start + measure_us);
    if cluster.stopped() {
        return;
    }
    let sent = cluster.sim().stats().sent - sent_before;
    let hosts = cluster.sim().hosts() as u64;
    let bound = IDLE_MESSAGES_PER_HOST_SECOND_MAX * hosts;
    if sent > bound {
        cluster.violate(
            Check::Liveness,
            format!(
                "an idle, healed cluster sent {sent} messages in 1 s from t={start}us (bound {bound}): a message storm"
            ),
        );
    }
}

fn random_op(
    cluster: &mut Cluster,
    c: &mut KvClient,
    keys: &[String],
    now: Micros,
) -> (KvCommand, Operation) {
    let rng = cluster.sim_mut().rng();
    let key = keys[rng.random_range(0..keys.len())].clone();
    c.ops += 1;
    let unique = format!("{}.{}", c.process, c.ops);
    let roll = rng.random_range(0..100);
    let process = c.process;
    if roll < 35 {
        (
            KvCommand::Get { key: key.clone() },
            Operation::get(process, &key, None, now, None),
        )
    } else if roll < 60 {
        (
            KvCommand::Put {
                key: key.clone(),
                value: unique.clone(),
            },
            Operation::put(process, &key, &unique, now, None),
        )
    } else if roll < 75 {
        let value = format!("{unique};");
        (
            KvCommand::Append {
                key: key.clone(),
                value: value.clone(),
            },
            Operation::append(process, &key, &value, now, None),
        )
    } else {
        let from = c
            .seen
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "none".to_string());
        (
            KvCommand::Cas {
                key: key.clone(),
                from: from.clone(),
                to: unique.clone(),
            },
            Operation::cas(process, &key, &from, &unique, None, now, None),
        )
    }
}

/// Fills in a completed operation from the server's reply.
fn complete(op: &mut Operation, payload: &[u8], time: Micros) -> Result<(), String> {
    let reply = KvReply::decode(payload);
    op.ret = Some(time);
    op.status = OpStatus::Ok;
    match (op.kind, reply) {
        (OpKind::Get, Some(KvReply::Value(v))) => op.out = v,
        (OpKind::Put | OpKind::Append, Some(KvReply::Done)) => {}
        (OpKind::Cas, Some(KvReply::Cas(ok))) => op.cas_ok = (!ok).then_some(false),
        (kind, reply) => {
            // A reply of the wrong shape: keep the op open and report it.
            op.ret = None;
            op.status = OpStatus::Info;
            return Err(format!(
                "a {} on {} got the reply {:?} ({:?})",
                kind.name(),
                op.key,
                reply,
                String::from_utf8_lossy(payload)
            ));
        }
    }
    Ok(())
}

/// The value a completed operation shows the key held.
fn observed_value(op: &Operation) -> Option<String> {
    match op.kind {
        OpKind::Get => op.out.clone(),
        OpKind::Put => op.value.clone(),
        OpKind::Cas if op.cas_ok != Some(false) => op.to.clone(),
        _ => None,
    }
}
