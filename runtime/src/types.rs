//! Identifiers, time and server specifications shared by every protocol layer.

use serde::{Deserialize, Serialize};

/// Time in microseconds: virtual time in the simulator, a monotonic clock in the kernels.
pub type Micros = u64;

/// A host of the cluster (one host kernel process). Index into the configured host list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HostId(pub u32);

/// Distinguishes successive lives of one host: a restarted kernel gets a new, larger one
/// and rejoins as a new member (it never resumes the identity of its previous life).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Incarnation(pub u64);

/// One replica: a host in one of its lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReplicaId {
    pub host: HostId,
    pub incarnation: Incarnation,
}

/// A server: a group of replicas running one instance of a server class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub u64);

/// Who issues requests: a client on a host (e.g. `main`), or a replicated server
/// group issuing nested commands (all its replicas share the group's client id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientId {
    Host {
        host: HostId,
        incarnation: Incarnation,
        local: u32,
    },
    Group(GroupId),
}

/// A request: unique per client, numbered by the client from 1 upwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId {
    pub client: ClientId,
    pub seq: u64,
}

/// A timer the protocol core asked its driver for. The top byte names the layer
/// that owns it ([`TimerSpace`]), the rest is the layer's own number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// The layers that set timers; each numbers its own timers freely below 2^56.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerSpace {
    FailureDetector = 1,
    ViewService = 2,
    Group = 3,
    Client = 4,
}

impl TimerId {
    const LOCAL_BITS: u32 = 56;

    pub fn new(space: TimerSpace, local: u64) -> TimerId {
        TimerId(((space as u64) << Self::LOCAL_BITS) | (local & ((1 << Self::LOCAL_BITS) - 1)))
    }

    /// The owning layer, or `None` for a number no layer issued.
    pub fn space(self) -> Option<TimerSpace> {
        match self.0 >> Self::LOCAL_BITS {
            1 => Some(TimerSpace::FailureDetector),
            2 => Some(TimerSpace::ViewService),
            3 => Some(TimerSpace::Group),
            4 => Some(TimerSpace::Client),
            _ => None,
        }
    }

    pub fn local(self) -> u64 {
        self.0 & ((1 << Self::LOCAL_BITS) - 1)
    }
}

/// How failed replicas of a server may behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Model {
    /// One unreplicated server; its failure is the server's failure.
    Correct,
    /// `t+1` replicas; failed replicas stop.
    Crash,
    /// `3t+1` replicas; failed replicas may lie (not implemented by the crash-model core).
    Byzantine,
}

/// How long a server started by a client lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Until it fails: a service of the cluster, called by whoever holds its
    /// id (the runtime's own API, benchmarks, tests).
    #[default]
    Cluster,
    /// As long as the program that started it: once the process that ran
    /// that `main` is gone for good (its host runs a newer process), the
    /// server — and every server it started, transitively — is stopped and
    /// the view service forgets it. A durable server is never stopped.
    Program,
}

/// What a `server C [n] props…` expression asks for, per server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServerSpec {
    /// The server class, as the application factory knows it.
    pub class: String,
    pub model: Model,
    /// Number of replica failures to survive.
    pub tolerate: u32,
    /// Replicas asked for; the number used is `max(replicas, need(model, tolerate))`.
    pub replicas: u32,
    /// Preferred hosts, earlier preferred.
    pub hosts: Vec<HostId>,
    /// Servers started together with `disjoint` share a key: they use pairwise
    /// disjoint host sets where the cluster allows it.
    pub disjoint_key: Option<u64>,
    /// Scheduling priority on its hosts (higher first).
    pub priority: i64,
    /// `durable ("name")`: the server keeps its state on stable storage under
    /// this name, and a later start of the same name re-attaches to it.
    pub durable: Option<String>,
}

impl ServerSpec {
    /// `server class model M tolerate (t)`: no preferred hosts, the replica
    /// count the model needs, not `disjoint`, priority 0.
    pub fn new(class: impl Into<String>, model: Model, tolerate: u32) -> ServerSpec {
        ServerSpec {
            class: class.into(),
            model,
            tolerate,
            replicas: 0,
            hosts: Vec::new(),
            disjoint_key: None,
            priority: 0,
            durable: None,
        }
    }

    /// `hosts (…)`: the preferred hosts, earlier preferred.
    pub fn on_hosts(mut self, hosts: Vec<HostId>) -> ServerSpec {
        self.hosts = hosts;
        self
    }

    /// Replica count actually used: `max(replicas, t+1)` for crash, `3t+1` for byzantine, 1 for correct.
    pub fn replica_count(&self) -> u32 {
        let need = match self.model {
            Model::Correct => 1,
            Model::Crash => self.tolerate.saturating_add(1),
            Model::Byzantine => self.tolerate.saturating_mul(3).saturating_add(1),
        };
        self.replicas.max(need).max(1)
    }
}

/// One installed view of a server group, as decided by the view service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub group: GroupId,
    /// Increases by one with every view of this group.
    pub view_id: u64,
    /// Members in rank order; `members[0]` is the sequencer (primary).
    pub members: Vec<ReplicaId>,
    /// Members of this view that were not members of the previous one: they need state transfer.
    pub joining: Vec<ReplicaId>,
    pub spec: ServerSpec,
    /// The group lost every replica that held its state: it can never answer again.
    pub failed: bool,
}
