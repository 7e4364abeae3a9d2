//! A simulated cluster of runtime hosts ([`HostNode`]s): starts servers,
//! issues client calls, follows views and feeds every trace to the checks.
//! Workloads and scenario tests drive it; it returns client answers and
//! crashes/restarts to them as [`Happening`]s.

use crate::apps::SimApps;
use crate::checks::{Check, ExecutionChecker, Violation};
use crate::disk::SharedDisk;
use crate::net::LinkConfig;
use crate::node::{host_index_u32, HostNode};
use crate::sim::{Observed, SimConfig, Simulator};
use ftc_runtime::host::{ClientEvent, ClientRequest, HostConfig, PlantedBugs, Timing, Trace};
use ftc_runtime::identity::ProofKeys;
use ftc_runtime::types::{
    ClientId, GroupId, GroupView, HostId, Incarnation, Micros, ReplicaId, RequestId, ServerSpec,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// What every simulated host's key pair is derived from
/// ([`ProofKeys::simulated`]); a lying host's tamper signs with it too.
pub const SIMULATED_KEY_SEED: u64 = 0x5eed_6e75;

/// Everything a simulated cluster of runtime hosts needs.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub seed: u64,
    pub hosts: usize,
    pub timing: Timing,
    pub bugs: PlantedBugs,
    pub link: LinkConfig,
    pub vary_links: bool,
    pub max_events: u64,
    pub verbose: bool,
    /// Hosts with an odd node seed batch their replicas' sends as kernels do
    /// (see [`HostNode`]).
    pub batching: bool,
    /// When each host starts (staggered boots); unlisted hosts start at 0.
    pub start_at: Vec<Micros>,
    /// Every host has a simulated disk (`disk.rs`) and keeps its view
    /// service on it; a restart is a power failure of that disk (unsynced
    /// writes lost, the last one torn) followed by recovery from it.
    pub stable_storage: bool,
}

impl ClusterConfig {
    /// Five hosts, default timing with a 4 s call deadline, chaotic links varied per link.
    pub fn new(seed: u64) -> ClusterConfig {
        ClusterConfig {
            seed,
            hosts: 5,
            timing: Timing {
                call_deadline_us: 4_000_000,
                ..Timing::default()
            },
            bugs: PlantedBugs::default(),
            link: LinkConfig::default(),
            vary_links: true,
            max_events: 1_000_000,
            verbose: false,
            batching: false,
            start_at: Vec::new(),
            stable_storage: false,
        }
    }
}

/// Something a workload must react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happening {
    /// A host answered one of its local clients.
    Answer {
        time: Micros,
        host: usize,
        event: ClientEvent,
    },
    /// A host crashed: its clients' pending calls have unknown outcomes.
    Crashed { time: Micros, host: usize },
    /// A host restarted with this (new) incarnation.
    Restarted {
        time: Micros,
        host: usize,
        incarnation: u64,
    },
}

/// A simulated cluster of runtime hosts plus the execution checks.
pub struct Cluster {
    sim: Simulator<HostNode>,
    checker: ExecutionChecker,
    /// Per group, every committed view seen anywhere, by view id.
    views: BTreeMap<GroupId, BTreeMap<u64, GroupView>>,
    /// Which hosts installed which view of a group: (group, view id) → hosts.
    installed: BTreeMap<(GroupId, u64), Vec<(Micros, usize)>>,
    /// The newest view id each host life installed per group.
    newest_installed: HashMap<(usize, u64, GroupId), u64>,
    tokens: HashMap<(usize, u64), RequestId>,
    happenings: VecDeque<Happening>,
    violations: Vec<Violation>,
    next_token: u64,
}

impl Cluster {
    /// Creates the hosts (all started at time 0) with the simulated applications.
    pub fn new(config: &ClusterConfig) -> Cluster {
        let apps: Arc<SimApps> = Arc::new(SimApps::default());
        let cluster_ids: Vec<HostId> = (0..config.hosts)
            .map(|h| HostId(host_index_u32(h)))
            .collect();
        let timing = config.timing.clone();
        let bugs = config.bugs.clone();
        let batching = config.batching;
        let disks: Option<Vec<SharedDisk>> = config
            .stable_storage
            // One disk per host (not clones of one handle).
            .then(|| (0..config.hosts).map(|_| SharedDisk::default()).collect());
        // Every host's keys, derived from one seed: a host restarts with its own.
        let proofs: Vec<Arc<ProofKeys>> = cluster_ids
            .iter()
            .map(|h| Arc::new(ProofKeys::simulated(*h, &cluster_ids, SIMULATED_KEY_SEED)))
            .collect();
        let factory = Box::new(move |host: usize, incarnation: u64, seed: u64| {
            let host_config = HostConfig {
                host: HostId(host_index_u32(host)),
                incarnation: Incarnation(incarnation),
                cluster: cluster_ids.clone(),
                timing: timing.clone(),
                seed,
                proofs: proofs[host].clone(),
                bugs: bugs.clone(),
            };
            match &disks {
                None => HostNode::new(host_config, apps.clone(), batching),
                Some(disks) => {
                    // The host's last life ended in a power failure.
                    let disk = disks[host].clone();
                    disk.crash(&mut ChaCha8Rng::seed_from_u64(seed), true);
                    HostNode::with_storage(host_config, apps.clone(), batching, disk)
                        .unwrap_or_else(|e| panic!("host {host}'s disk is unreadable: {e}"))
                }
            }
        });
        let sim = Simulator::new(
            SimConfig {
                seed: config.seed,
                hosts: config.hosts,
                link: config.link.clone(),
                vary_links: config.vary_links,
                first_incarnation: ftc_runtime::view_service::FIRST_INCARNATION.0,
                max_events: config.max_events,
                verbose: config.verbose,
                start_at: config.start_at.clone(),
            },
            factory,
        );
        Cluster {
            sim,
            checker: ExecutionChecker::new(),
            views: BTreeMap::new(),
            installed: BTreeMap::new(),
            newest_installed: HashMap::new(),
            tokens: HashMap::new(),
            happenings: VecDeque::new(),
            violations: Vec::new(),
            next_token: 1,
        }
    }

    /// The simulator underneath (network, nemesis, statistics).
    pub fn sim(&self) -> &Simulator<HostNode> {
        &self.sim
    }

    /// The simulator underneath, to inject faults directly.
    pub fn sim_mut(&mut self) -> &mut Simulator<HostNode> {
        &mut self.sim
    }

    /// Virtual time.
    pub fn now(&self) -> Micros {
        self.sim.now()
    }

    /// Whether the run must stop (the event limit was hit).
    pub fn stopped(&self) -> bool {
        self.sim.limit_hit()
    }

    /// Records a failed expectation of the workload or scenario.
    pub fn violate(&mut self, check: Check, detail: String) {
        self.violations.push(Violation { check, detail });
    }

    fn token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    /// A client on `host` asks to start a server. `None` if the host is down.
    pub fn start_server(&mut self, host: usize, spec: ServerSpec) -> Option<u64> {
        let token = self.token();
        self.sim
            .client_request(
                host,
                ClientRequest::StartServer {
                    token,
                    spec: Box::new(spec),
                    scope: ftc_runtime::types::Scope::Cluster,
                },
            )
            .then_some(token)
    }

    /// The client id of local client `local` on `host` in its current incarnation.
    pub fn client_id(&self, host: usize, local: u32) -> Option<ClientId> {
        self.sim
            .incarnation(host)
            .map(|incarnation| ClientId::Host {
                host: HostId(host_index_u32(host)),
                incarnation: Incarnation(incarnation),
                local,
            })
    }

    /// Local client `local` on `host` calls `group`. `None` if the host is down.
    pub fn call(
        &mut self,
        host: usize,
        local: u32,
        group: GroupId,
        payload: Vec<u8>,
    ) -> Option<u64> {
        let client = self.client_id(host, local)?;
        let token = self.token();
        self.sim
            .client_request(
                host,
                ClientRequest::Call {
                    token,
                    client,
                    group,
                    payload,
                },
            )
            .then_some(token)
    }

    /// The request id a call was given, once the host traced it.
    pub fn request_of(&self, host: usize, token: u64) -> Option<RequestId> {
        self.tokens.get(&(host, token)).copied()
    }

    /// Runs until the next happening or until `until`, whichever is first.
    pub fn run_until(&mut self, until: Micros) -> Option<Happening> {
        loop {
            if let Some(h) = self.happenings.pop_front() {
                return Some(h);
            }
            if self.stopped() {
                return None;
            }
            match self.sim.next_event_time() {
                Some(t) if t <= until => {
                    if !self.sim.step() {
                        self.violate(
                            Check::EventLimit,
                            format!(
                                "stopped after {} events at t={}us",
                                self.sim.stats().events,
                                self.now()
                            ),
                        );
                        return None;
                    }
                    self.absorb();
                }
                _ => {
                    self.sim.run_until(until);
                    return None;
                }
            }
        }
    }

    /// Runs until `until`, discarding happenings.
    pub fn run_quietly_until(&mut self, until: Micros) {
        while self.run_until(until).is_some() {}
    }

    /// Runs until the answer to `token` on `host` arrives, or `until`. Other happenings are discarded.
    pub fn await_answer(&mut self, host: usize, token: u64, until: Micros) -> Option<ClientEvent> {
        while let Some(h) = self.run_until(until) {
            if let Happening::Answer {
                host: h_host,
                event,
                ..
            } = h
            {
                if h_host == host && answer_token(&event) == token {
                    return Some(event);
                }
            }
        }
        None
    }

    fn absorb(&mut self) {
        let observations: Vec<_> = self.sim.drain_observations().collect();
        for o in observations {
            match o.what {
                Observed::Event(event) => self.happenings.push_back(Happening::Answer {
                    time: o.time,
                    host: o.host,
                    event,
                }),
                Observed::Crashed => self.happenings.push_back(Happening::Crashed {
                    time: o.time,
                    host: o.host,
                }),
                Observed::Restarted => self.happenings.push_back(Happening::Restarted {
                    time: o.time,
                    host: o.host,
                    incarnation: o.incarnation,
                }),
                Observed::Trace(Trace::Submitted { token, request }) => {
                    self.tokens.insert((o.host, token), request);
                    self.checker.submitted(request);
                }
                Observed::Trace(Trace::Executed {
                    group,
                    replica,
                    position,
                    request,
                    entry_digest,
                    state_digest,
                }) => self.checker.executed(
                    o.time,
                    group,
                    replica,
                    position,
                    request,
                    entry_digest,
                    state_digest,
                ),
                Observed::Trace(Trace::ViewInstalled { host: _, view }) => {
                    self.on_view(o.time, o.host, o.incarnation, *view);
                }
            }
        }
    }

    fn on_view(&mut self, time: Micros, host: usize, incarnation: u64, view: GroupView) {
        let (group, id) = (view.group, view.view_id);
        let newest = self.newest_installed.insert((host, incarnation, group), id);
        let known = self.views.get(&group).and_then(|v| v.get(&id));
        if let Some(v) = crate::checks::check_view(time, host, &view, known, newest) {
            self.violations.push(v);
        }
        self.installed
            .entry((group, id))
            .or_default()
            .push((time, host));
        let views = self.views.entry(group).or_default();
        if views.contains_key(&id) {
            return;
        }
        views.insert(id, view);
        // The nemesis favours the hosts of every group's newest view.
        let mut favored: Vec<usize> = self
            .views
            .values()
            .filter_map(|v| v.values().next_back())
            .flat_map(|v| v.members.iter().map(|r| r.host.0 as usize))
            .collect();
        favored.sort_unstable();
        favored.dedup();
        self.sim.set_favored(favored);
    }

    /// The newest committed view of `group` any host installed.
    pub fn newest_view(&self, group: GroupId) -> Option<&GroupView> {
        self.views.get(&group).and_then(|v| v.values().next_back())
    }

    /// Every view of `group` any host installed, by view id.
    pub fn views(&self, group: GroupId) -> impl Iterator<Item = &GroupView> {
        self.views.get(&group).into_iter().flat_map(|v| v.values())
    }

    /// Hosts that installed a view, with when.
    pub fn installed_by(&self, group: GroupId, view_id: u64) -> &[(Micros, usize)] {
        self.installed
            .get(&(group, view_id))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The host of the newest view's sequencer.
    pub fn sequencer(&self, group: GroupId) -> Option<usize> {
        self.newest_view(group)
            .and_then(|v| v.members.first())
            .map(|r| r.host.0 as usize)
    }

    /// Hosts of the newest view's members, sequencer first.
    pub fn members(&self, group: GroupId) -> Vec<usize> {
        self.newest_view(group)
            .map(|v| v.members.iter().map(|r| r.host.0 as usize).collect())
            .unwrap_or_default()
    }

    /// Whether the view service declared the group failed.
    pub fn group_failed(&self, group: GroupId) -> bool {
        self.views(group).any(|v| v.failed)
    }

    /// Entries executed by any replica so far.
    pub fn executions(&self) -> u64 {
        self.checker.executions()
    }

    /// What each replica of each group executed.
    pub fn replicas(&self) -> &BTreeMap<(GroupId, ReplicaId), crate::checks::ReplicaSummary> {
        self.checker.replicas()
    }

    /// Highest executed position per group.
    pub fn log_lengths(&self) -> BTreeMap<GroupId, u64> {
        self.checker.log_lengths()
    }

    /// The wedge check, at the end of a healed run: let the cluster settle for
    /// `settle_us`, then every running host's view-service participant must be
    /// admitted and all of them must follow one leader (which can decide).
    pub fn check_not_wedged(&mut self, settle_us: Micros) {
        let until = self.now() + settle_us;
        self.run_quietly_until(until);
        if self.stopped() {
            return;
        }
        let mut leaders = BTreeSet::new();
        let mut problems = Vec::new();
        for h in 0..self.sim().hosts() {
            let Some(node) = self.sim().node(h) else {
                continue;
            };
            let vs = node.host().view_service();
            if !vs.is_admitted() {
                problems.push(format!("host {h} is not admitted"));
            }
            leaders.insert(vs.leader());
        }
        if leaders.len() != 1 || leaders.contains(&None) {
            problems.push(format!("the running hosts follow the leaders {leaders:?}"));
        }
        if !problems.is_empty() {
            let now = self.now();
            self.violate(
                Check::Wedged,
                format!("at t={now}us, {}", problems.join("; ")),
            );
        }
    }

    /// Ends the run: checks (b)–(e) plus every violation recorded meanwhile.
    pub fn finish(self) -> Vec<Violation> {
        let mut violations = self.violations;
        violations.extend(self.checker.finish());
        violations
    }
}

/// The token a client answer refers to.
pub fn answer_token(event: &ClientEvent) -> u64 {
    match event {
        ClientEvent::ServerStarted { token, .. }
        | ClientEvent::ServerStartFailed { token, .. }
        | ClientEvent::Reply { token, .. }
        | ClientEvent::CallFailed { token, .. } => *token,
    }
}

/// A crash-model server spec of `class` tolerating `tolerate` replica failures.
pub fn crash_spec(class: &str, tolerate: u32) -> ServerSpec {
    ServerSpec::new(class, ftc_runtime::types::Model::Crash, tolerate)
}

impl Cluster {
    /// Starts a server from a client on `host` and waits for it until `until`.
    /// On failure records a [`Check::Setup`] violation and returns `None`.
    pub fn start_group(&mut self, host: usize, spec: ServerSpec, until: Micros) -> Option<GroupId> {
        let class = spec.class.clone();
        let Some(token) = self.start_server(host, spec) else {
            self.violate(
                Check::Setup,
                format!("host {host} is down: cannot start {class}"),
            );
            return None;
        };
        match self.await_answer(host, token, until) {
            Some(ClientEvent::ServerStarted { group, .. }) => Some(group),
            Some(other) => {
                self.violate(Check::Setup, format!("starting {class}: {other:?}"));
                None
            }
            None => {
                let now = self.now();
                self.violate(
                    Check::Setup,
                    format!("server {class} not started by t={now}us"),
                );
                None
            }
        }
    }
}
