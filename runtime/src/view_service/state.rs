//! The cluster state every participant derives by applying the committed log:
//! alive hosts, group views and placement. Pure and deterministic.

use super::{Decision, Starter, FIRST_INCARNATION};
use crate::types::{
    ClientId, GroupId, GroupView, HostId, Incarnation, Model, ReplicaId, Scope, ServerSpec,
};
use crate::vote::ReplyRule;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most starts of one group waiting for its members' votes (a lying member
/// could otherwise fill the state with starts no one else asks for).
pub(crate) const START_VOTES_MAX: usize = 64;

/// What the view service knows of one configured host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HostRecord {
    /// The newest incarnation the committed log mentions.
    pub incarnation: Incarnation,
    /// `false` once that incarnation was declared failed.
    pub alive: bool,
    /// The first incarnation of the host's newest process that said it was
    /// started ([`Decision::Restarted`]): every process of the host started
    /// before it is gone for good, with its clients and its programs.
    pub since: Incarnation,
}

/// Something applying one entry produced, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ApplyEvent {
    View(GroupView),
    /// The group was stopped (its program ended) and forgotten.
    Stopped(GroupId),
    /// Clients of a host's earlier processes departed.
    Departed,
    Decided {
        starter: Starter,
        result: Result<GroupId, String>,
    },
}

/// The state machine replicated by the view service's log. It is small
/// (configuration, hosts, newest views, state holders, decided creations), so
/// a snapshot of it replaces a compacted log prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterState {
    /// Every configured host; the initial configuration is each host's first incarnation, alive.
    pub hosts: BTreeMap<HostId, HostRecord>,
    /// Each host's voting identity in the view service's consensus: the
    /// incarnation of its newest committed `HostJoined` (initially the first
    /// one). A failure does not change it: the failed incarnation's memory is
    /// intact while it lives, so its word still counts.
    pub voters: BTreeMap<HostId, Incarnation>,
    /// The newest view of every group ever created.
    pub groups: BTreeMap<GroupId, GroupView>,
    /// The members of each live group's newest view that hold the group's
    /// state: every member of its first view, and a recruit once a committed
    /// `StateHeld` says its state transfer completed. A group none of whose
    /// state holders survives is failed, whatever recruits survive.
    pub holders: BTreeMap<GroupId, BTreeSet<ReplicaId>>,
    /// Durable groups none of whose state holders survives: they are not
    /// failed but *dormant* (a view with no members) until a replica on one
    /// of these hosts — hosts whose disks hold every committed entry: the
    /// last state holders', and those of `complete_disks` — recovers the
    /// state from its disk and says so with `Revive`.
    pub dormant: BTreeMap<GroupId, BTreeSet<HostId>>,
    /// Durable groups: hosts of state holders that died whose disks still
    /// hold every committed entry. A durable group's sequencer commits
    /// nothing while a member of its view is not a counted state holder
    /// (the host core gates it), so a holder that dies stays complete while
    /// every view since has a recruit not yet counted; once every member of
    /// the newest view is a holder (or a view without recruits is made), the
    /// group may commit again and these hosts no longer count.
    pub complete_disks: BTreeMap<GroupId, BTreeSet<HostId>>,
    /// Durable groups by their `durable ("name")`.
    pub durable_names: BTreeMap<String, GroupId>,
    pub next_group_id: u64,
    /// Decided creations, for idempotence by their starter.
    pub creations: BTreeMap<Starter, Result<GroupId, String>>,
    /// The program each program-scoped group belongs to: the client (host
    /// and incarnation) whose `main` started it, or started the server that
    /// started it. Stopped, with every group of the program, once a newer
    /// process of that host says it started.
    pub owners: BTreeMap<GroupId, ReplicaId>,
    /// Votes of members for starts of their group not decided yet, by
    /// group and call: one per host, with the spec it asked for. At most
    /// [`START_VOTES_MAX`] starts per group wait (the oldest call goes).
    pub start_votes: BTreeMap<(GroupId, u64), Vec<(ReplicaId, ServerSpec)>>,
    /// Majority of the configured cluster.
    pub quorum: usize,
}

impl ClusterState {
    pub fn new(cluster: &[HostId]) -> ClusterState {
        let hosts: BTreeMap<HostId, HostRecord> = cluster
            .iter()
            .map(|&h| {
                (
                    h,
                    HostRecord {
                        incarnation: FIRST_INCARNATION,
                        alive: true,
                        since: FIRST_INCARNATION,
                    },
                )
            })
            .collect();
        let quorum = hosts.len() / 2 + 1;
        let voters = hosts.keys().map(|&h| (h, FIRST_INCARNATION)).collect();
        ClusterState {
            hosts,
            voters,
            groups: BTreeMap::new(),
            holders: BTreeMap::new(),
            dormant: BTreeMap::new(),
            complete_disks: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            next_group_id: 1,
            creations: BTreeMap::new(),
            owners: BTreeMap::new(),
            start_votes: BTreeMap::new(),
            quorum,
        }
    }

    /// The admitted (alive) incarnation of `host`, if any.
    pub fn admitted(&self, host: HostId) -> Option<Incarnation> {
        match self.hosts.get(&host) {
            Some(r) if r.alive => Some(r.incarnation),
            _ => None,
        }
    }

    pub fn alive_hosts(&self) -> Vec<HostId> {
        self.hosts
            .iter()
            .filter(|(_, r)| r.alive)
            .map(|(&h, _)| h)
            .collect()
    }

    /// Applies one committed decision, appending what it produced to `events`.
    pub fn apply(&mut self, decision: &Decision, events: &mut Vec<ApplyEvent>) {
        match decision {
            Decision::Noop => {}
            Decision::HostFailed { host, incarnation } => {
                let alive = self.alive_hosts().len();
                let Some(record) = self.hosts.get_mut(host) else {
                    return;
                };
                // Never below a majority of admitted hosts: the log could not commit again.
                if record.alive && record.incarnation == *incarnation && alive > self.quorum {
                    record.alive = false;
                    self.reconfigure(events);
                }
            }
            Decision::HostJoined { host, incarnation } => {
                let Some(record) = self.hosts.get_mut(host) else {
                    return;
                };
                if *incarnation > record.incarnation {
                    // Replaces (and so ends) any earlier incarnation of the host.
                    *record = HostRecord {
                        incarnation: *incarnation,
                        alive: true,
                        since: record.since,
                    };
                    self.voters.insert(*host, *incarnation);
                    self.reconfigure(events);
                }
            }
            Decision::CreateGroup {
                starter,
                spec,
                scope,
            } => {
                if self.creations.contains_key(starter) {
                    return;
                }
                let result = self.create(spec, events);
                if let (Ok(group), Scope::Program, Starter::Client { origin, .. }) =
                    (&result, scope, starter)
                {
                    self.own(*group, *origin);
                }
                self.creations.insert(*starter, result.clone());
                events.push(ApplyEvent::Decided {
                    starter: *starter,
                    result,
                });
            }
            Decision::StateHeld { group, replica } => {
                if self.is_member(*group, *replica) {
                    self.holders.entry(*group).or_default().insert(*replica);
                    if self.all_members_hold(*group) {
                        // The group may commit again: former holders are stale.
                        self.complete_disks.remove(group);
                    }
                }
            }
            Decision::Revive { group, replica } => {
                if self.may_revive(*group, *replica) {
                    self.revive(*group, *replica, events);
                }
            }
            Decision::StartVote {
                group,
                call,
                voter,
                spec,
            } => self.start_vote(*group, *call, *voter, spec, events),
            Decision::Restarted { host, incarnation } => {
                self.restarted(*host, *incarnation, events)
            }
        }
    }

    /// Records that `group` belongs to `owner`'s program (a durable group
    /// belongs to none: it outlives programs).
    fn own(&mut self, group: GroupId, owner: ReplicaId) {
        if self
            .groups
            .get(&group)
            .is_some_and(|v| v.spec.durable.is_none())
        {
            self.owners.insert(group, owner);
        }
    }

    /// A process of `host` that started as `incarnation` said so: every
    /// earlier process of the host is gone, so its programs end (their
    /// groups are stopped) and its clients' starts are forgotten.
    fn restarted(&mut self, host: HostId, incarnation: Incarnation, events: &mut Vec<ApplyEvent>) {
        if !self.may_announce_restart(host, incarnation) {
            return;
        }
        let Some(record) = self.hosts.get_mut(&host) else {
            return;
        };
        record.since = incarnation;
        events.push(ApplyEvent::Departed);
        let ended: Vec<GroupId> = self
            .owners
            .iter()
            .filter(|(_, o)| o.host == host && o.incarnation < incarnation)
            .map(|(g, _)| *g)
            .collect();
        for group in ended {
            self.stop(group, events);
        }
        self.creations.retain(|starter, _| {
            !matches!(starter, Starter::Client { origin, .. }
                if origin.host == host && origin.incarnation < incarnation)
        });
    }

    /// Whether a process of `host` that started as `incarnation` may say so
    /// now: it is newer than the host's last announced process, and admitted
    /// (the host's admitted incarnation is it, or a later one of it).
    pub fn may_announce_restart(&self, host: HostId, incarnation: Incarnation) -> bool {
        self.hosts
            .get(&host)
            .is_some_and(|r| r.since < incarnation && incarnation <= r.incarnation)
    }

    /// Stops a program's group and forgets it: its replicas are dropped
    /// wherever they run, and calls to it fail.
    fn stop(&mut self, group: GroupId, events: &mut Vec<ApplyEvent>) {
        assert!(
            self.groups
                .get(&group)
                .is_none_or(|v| v.spec.durable.is_none()),
            "a durable group belongs to no program"
        );
        self.groups.remove(&group);
        self.holders.remove(&group);
        self.owners.remove(&group);
        self.dormant.remove(&group);
        self.complete_disks.remove(&group);
        let waiting: Vec<(GroupId, u64)> = self
            .start_votes
            .range((group, 0)..=(group, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in waiting {
            self.start_votes.remove(&key);
        }
        self.creations.retain(
            |starter, _| !matches!(starter, Starter::Group { group: g, .. } if *g == group),
        );
        events.push(ApplyEvent::Stopped(group));
    }

    /// Whether the committed log says `client` is gone for good: a client of
    /// a host process older than the host's newest started one, or a group
    /// that was stopped or failed. Such a client never sends again.
    pub fn departed(&self, client: ClientId) -> bool {
        match client {
            ClientId::Host {
                host, incarnation, ..
            } => self.hosts.get(&host).is_some_and(|r| incarnation < r.since),
            ClientId::Group(g) => {
                g.0 < self.next_group_id && self.groups.get(&g).is_none_or(|v| v.failed)
            }
        }
    }

    /// Whether `host` voted for `group`'s start `call`, not decided yet.
    pub fn has_start_vote(&self, group: GroupId, call: u64, host: HostId) -> bool {
        self.start_votes
            .get(&(group, call))
            .is_some_and(|votes| votes.iter().any(|(v, _)| v.host == host))
    }

    /// Counts a member's vote for a start of its group; creates the server
    /// once enough members (the group's callers' reply rule: `t+1` of a
    /// byzantine group) asked for the same spec.
    fn start_vote(
        &mut self,
        group: GroupId,
        call: u64,
        voter: ReplicaId,
        spec: &ServerSpec,
        events: &mut Vec<ApplyEvent>,
    ) {
        let starter = Starter::Group { group, call };
        if self.creations.contains_key(&starter)
            || !self.is_member(group, voter)
            || self.has_start_vote(group, call, voter.host)
        {
            return;
        }
        let Some(view) = self.groups.get(&group) else {
            return;
        };
        let needed = match ReplyRule::of_view(view) {
            ReplyRule::First => 1,
            ReplyRule::Matching { needed } => needed,
        };
        if !self.start_votes.contains_key(&(group, call)) {
            let mut waiting = self.start_votes.range((group, 0)..=(group, u64::MAX));
            let oldest = waiting.next().map(|(k, _)| *k);
            if let Some(oldest) = oldest.filter(|_| waiting.count() + 1 >= START_VOTES_MAX) {
                self.start_votes.remove(&oldest);
            }
        }
        let votes = self.start_votes.entry((group, call)).or_default();
        votes.push((voter, spec.clone()));
        let agreeing = votes.iter().filter(|(_, s)| s == spec).count();
        // One vote per host of the cluster.
        assert!(agreeing <= votes.len() && votes.len() <= self.hosts.len());
        if agreeing < needed {
            return;
        }
        self.start_votes.remove(&(group, call));
        let result = self.create(spec, events);
        if let (Ok(started), Some(&owner)) = (&result, self.owners.get(&group)) {
            self.own(*started, owner);
        }
        self.creations.insert(starter, result.clone());
        events.push(ApplyEvent::Decided { starter, result });
    }

    /// Whether every member of `group`'s newest view counts as holding its
    /// state (then its sequencer may commit, also in a durable group).
    pub fn all_members_hold(&self, group: GroupId) -> bool {
        let Some(view) = self.groups.get(&group) else {
            return false;
        };
        let holders = self.holders.get(&group);
        view.members
            .iter()
            .all(|m| holders.is_some_and(|h| h.contains(m)))
    }

    /// Whether `replica` could bring the dormant durable `group` back.
    pub fn may_revive(&self, group: GroupId, replica: ReplicaId) -> bool {
        self.is_alive(replica)
            && self
                .dormant
                .get(&group)
                .is_some_and(|hosts| hosts.contains(&replica.host))
    }

    /// A dormant durable group comes back: `replica`, which recovered its
    /// state from its disk, is the sequencer and only state holder of a new
    /// view; the other replicas are recruited (they get a state transfer).
    fn revive(&mut self, group: GroupId, replica: ReplicaId, events: &mut Vec<ApplyEvent>) {
        let Some(old) = self.groups.get(&group) else {
            return;
        };
        assert!(
            old.members.is_empty() && !old.failed,
            "a dormant group has no members and is not failed"
        );
        let mut next = old.clone();
        next.view_id += 1;
        let used: BTreeSet<HostId> = [replica.host].into();
        let wanted = old.spec.replica_count() as usize;
        let recruits = self.recruits(group, &old.spec, &used, wanted.saturating_sub(1));
        let joining: Vec<ReplicaId> = recruits.iter().map(|&h| self.replica(h)).collect();
        next.members = vec![replica];
        next.members.extend(joining.iter().copied());
        next.joining = joining;
        self.dormant.remove(&group);
        // The reviver's log becomes the group's (its uncommitted tail is
        // committed): no other disk is complete any more.
        self.complete_disks.remove(&group);
        self.holders.insert(group, [replica].into());
        self.groups.insert(group, next.clone());
        events.push(ApplyEvent::View(next));
    }

    /// Whether `replica` is a member of `group`'s newest view (and the group lives).
    pub fn is_member(&self, group: GroupId, replica: ReplicaId) -> bool {
        self.groups
            .get(&group)
            .is_some_and(|v| !v.failed && v.members.contains(&replica))
    }

    /// Whether the committed log counts `replica` as holding `group`'s state.
    pub fn holds_state(&self, group: GroupId, replica: ReplicaId) -> bool {
        self.holders
            .get(&group)
            .is_some_and(|h| h.contains(&replica))
    }

    fn create(
        &mut self,
        spec: &ServerSpec,
        events: &mut Vec<ApplyEvent>,
    ) -> Result<GroupId, String> {
        if let Some(name) = &spec.durable {
            if spec.model == Model::Byzantine {
                return Err(format!(
                    "server {}: durable byzantine servers are not supported",
                    spec.class
                ));
            }
            if let Some(&group) = self.durable_names.get(name) {
                // A durable server is known by its name: this start re-attaches.
                let existing = &self.groups[&group].spec;
                return match durable_mismatch(existing, spec) {
                    None => Ok(group),
                    Some(why) => Err(format!("durable server \"{name}\" exists {why}")),
                };
            }
        }
        let needed = spec.replica_count() as usize;
        let alive = self.alive_hosts();
        if needed > alive.len() {
            return Err(format!(
                "server {} needs {} hosts, the cluster has {} alive",
                spec.class,
                needed,
                alive.len()
            ));
        }
        let chosen = place(
            spec,
            &alive,
            &self.load(None),
            &BTreeSet::new(),
            &self.disjoint_hosts(spec.disjoint_key, None),
            needed,
        );
        let group = GroupId(self.next_group_id);
        self.next_group_id += 1;
        let view = GroupView {
            group,
            view_id: 1,
            members: chosen.iter().map(|&h| self.replica(h)).collect(),
            // The first view starts empty state on every member: nobody needs a transfer.
            joining: Vec::new(),
            spec: spec.clone(),
            failed: false,
        };
        self.holders
            .insert(group, view.members.iter().copied().collect());
        if let Some(name) = &spec.durable {
            self.durable_names.insert(name.clone(), group);
        }
        self.groups.insert(group, view.clone());
        events.push(ApplyEvent::View(view));
        Ok(group)
    }

    fn replica(&self, host: HostId) -> ReplicaId {
        let incarnation = self
            .hosts
            .get(&host)
            .map_or(FIRST_INCARNATION, |r| r.incarnation);
        ReplicaId { host, incarnation }
    }

    fn is_alive(&self, replica: ReplicaId) -> bool {
        self.hosts
            .get(&replica.host)
            .is_some_and(|r| r.alive && r.incarnation == replica.incarnation)
    }

    /// Replicas of live groups per host, optionally ignoring one group.
    fn load(&self, except: Option<GroupId>) -> BTreeMap<HostId, usize> {
        let mut load = BTreeMap::new();
        for view in self.groups.values() {
            if view.failed || Some(view.group) == except {
                continue;
            }
            for m in &view.members {
                *load.entry(m.host).or_insert(0) += 1;
            }
        }
        load
    }

    /// Up to `count` alive hosts to recruit replicas of the live `group` on,
    /// none of `used` (the hosts its members already run on).
    fn recruits(
        &self,
        group: GroupId,
        spec: &ServerSpec,
        used: &BTreeSet<HostId>,
        count: usize,
    ) -> Vec<HostId> {
        place(
            spec,
            &self.alive_hosts(),
            &self.load(Some(group)),
            used,
            &self.disjoint_hosts(spec.disjoint_key, Some(group)),
            count,
        )
    }

    /// Hosts used by live groups sharing `key`, optionally ignoring one group.
    fn disjoint_hosts(&self, key: Option<u64>, except: Option<GroupId>) -> BTreeSet<HostId> {
        let Some(key) = key else {
            return BTreeSet::new();
        };
        self.groups
            .values()
            .filter(|v| !v.failed && Some(v.group) != except && v.spec.disjoint_key == Some(key))
            .flat_map(|v| v.members.iter().map(|m| m.host))
            .collect()
    }

    /// After a host change: drop dead members, recruit replacements, mark groups
    /// whose every state holder died as failed (surviving recruits whose state
    /// transfer is not known to be complete cannot carry the state on) or, if
    /// durable, dormant (see `dormant` and `complete_disks`). Groups in id
    /// order.
    fn reconfigure(&mut self, events: &mut Vec<ApplyEvent>) {
        let ids: Vec<GroupId> = self.groups.keys().copied().collect();
        for id in ids {
            let Some(old) = self.groups.get(&id) else {
                continue;
            };
            if old.failed || self.dormant.contains_key(&id) {
                continue;
            }
            let survivors: Vec<ReplicaId> = old
                .members
                .iter()
                .copied()
                .filter(|&m| self.is_alive(m))
                .collect();
            let mut next = old.clone();
            next.view_id += 1;
            let durable = old.spec.durable.is_some();
            let (holders, dead): (BTreeSet<ReplicaId>, BTreeSet<ReplicaId>) = self
                .holders
                .get(&id)
                .into_iter()
                .flatten()
                .partition(|&&m| self.is_alive(m));
            if durable && !dead.is_empty() {
                // Nothing commits until every member of the next view holds
                // the state: these disks stay complete until then.
                let hosts = dead.iter().map(|m| m.host);
                self.complete_disks.entry(id).or_default().extend(hosts);
            }
            if holders.is_empty() {
                next.members = Vec::new();
                next.joining = Vec::new();
                self.holders.remove(&id);
                if durable {
                    // Every committed entry is on these disks.
                    let complete = self.complete_disks.remove(&id).unwrap_or_default();
                    self.dormant.insert(id, complete);
                } else {
                    next.failed = true;
                }
            } else {
                self.holders.insert(id, holders);
                let wanted = old.spec.replica_count() as usize;
                let recruits = if survivors.len() < wanted {
                    let used: BTreeSet<HostId> = survivors.iter().map(|m| m.host).collect();
                    self.recruits(id, &old.spec, &used, wanted - survivors.len())
                } else {
                    Vec::new()
                };
                if survivors.len() == old.members.len() && recruits.is_empty() {
                    continue;
                }
                let joining: Vec<ReplicaId> = recruits.iter().map(|&h| self.replica(h)).collect();
                next.members = survivors;
                next.members.extend(joining.iter().copied());
                next.joining = joining;
            }
            self.groups.insert(id, next.clone());
            if durable && self.all_members_hold(id) {
                // A view of holders only may commit at once.
                self.complete_disks.remove(&id);
            }
            events.push(ApplyEvent::View(next));
        }
    }
}

/// What differs between a durable server's spec and a new start of its name
/// (class, model or tolerance), said for a `server_failure`.
fn durable_mismatch(existing: &ServerSpec, asked: &ServerSpec) -> Option<String> {
    let describe = |s: &ServerSpec| {
        let model = match s.model {
            Model::Correct => "correct",
            Model::Crash => "crash",
            Model::Byzantine => "byzantine",
        };
        format!(
            "server class {} model {model} tolerate ({})",
            s.class, s.tolerate
        )
    };
    let same = existing.class == asked.class
        && existing.model == asked.model
        && existing.tolerate == asked.tolerate;
    (!same).then(|| {
        format!(
            "as {}; this start asks for {}",
            describe(existing),
            describe(asked)
        )
    })
}

/// Chooses up to `count` hosts for replicas of one group.
///
/// Candidates are the `alive` hosts not in `exclude` (hosts already holding a
/// replica of the group). Order: hosts not used by a `disjoint` sibling
/// (`avoid`) before those that are; within each, the spec's preferred hosts in
/// preference order, then the others by load (fewest replicas first) and id.
pub(crate) fn place(
    spec: &ServerSpec,
    alive: &[HostId],
    load: &BTreeMap<HostId, usize>,
    exclude: &BTreeSet<HostId>,
    avoid: &BTreeSet<HostId>,
    count: usize,
) -> Vec<HostId> {
    let mut candidates: Vec<(bool, usize, usize, HostId)> = alive
        .iter()
        .copied()
        .collect::<BTreeSet<HostId>>()
        .into_iter()
        .filter(|h| !exclude.contains(h))
        .map(|h| {
            let (rank, weight) = match spec.hosts.iter().position(|&p| p == h) {
                Some(pos) => (0, pos),
                None => (1, load.get(&h).copied().unwrap_or(0)),
            };
            (avoid.contains(&h), rank, weight, h)
        })
        .collect();
    candidates.sort();
    candidates.into_iter().take(count).map(|c| c.3).collect()
}
