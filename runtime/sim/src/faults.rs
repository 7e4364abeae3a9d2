//! The fault schedule ("nemesis"): which host crashes, pauses or is cut off,
//! when, and for how long, drawn from the run's seeded RNG.

use ftc_runtime::types::Micros;

/// How much chaos the nemesis injects during a run's safety phase.
///
/// A *disruption* takes hosts away from the majority for a while: a crash
/// (undone by a restart with a larger incarnation), a pause (events held,
/// then delivered late), or a partition (the hosts on its minority side, or
/// the senders of a one-way partition). `max_disrupted` bounds how many hosts
/// are disrupted at once; the weights choose among the kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    /// Mean time between the nemesis's decisions (uniform in `[0, 2·mean]`).
    pub mean_interval_us: Micros,
    /// Hosts crashed, paused or cut off at the same time, at most.
    pub max_disrupted: usize,
    /// No new disruption starts sooner than this after the last one started or ended.
    pub cooldown_us: Micros,
    /// How long a disruption lasts, uniform in `[min, max]`.
    pub duration_min_us: Micros,
    pub duration_max_us: Micros,
    pub crash_weight: u32,
    pub pause_weight: u32,
    /// One host cut off from every other.
    pub isolate_weight: u32,
    /// A random minority side cut off from the rest (symmetric).
    pub split_weight: u32,
    /// One host's messages to some others are dropped, the other direction works.
    pub one_way_weight: u32,
    /// Hosts never disrupted (e.g. a scenario's observer).
    pub protected: Vec<usize>,
    /// Probability that the victim is one of the favoured hosts (see
    /// [`crate::sim::Simulator::set_favored`], e.g. the replicas of a group) when one is eligible.
    pub favor: f64,
    /// No new disruption while a live host runs an unhealed recruit
    /// ([`crate::node::Node::has_unhealed_recruit`]): a byzantine group counts
    /// a recruit among its `t` faulty members until it heals, so disrupting
    /// another member before then exceeds the bound the run means to test.
    pub wait_for_recruits: bool,
}

impl FaultConfig {
    /// At most `max_disrupted` hosts disrupted at once, every kind equally likely.
    pub fn chaos(max_disrupted: usize) -> FaultConfig {
        FaultConfig {
            mean_interval_us: 150_000,
            max_disrupted,
            cooldown_us: 900_000,
            duration_min_us: 100_000,
            duration_max_us: 900_000,
            crash_weight: 3,
            pause_weight: 1,
            isolate_weight: 2,
            split_weight: 2,
            one_way_weight: 2,
            protected: Vec::new(),
            favor: 0.6,
            wait_for_recruits: false,
        }
    }

    /// No disruptions at all (links may still lose, duplicate and reorder).
    pub fn none() -> FaultConfig {
        FaultConfig {
            max_disrupted: 0,
            crash_weight: 0,
            pause_weight: 0,
            isolate_weight: 0,
            split_weight: 0,
            one_way_weight: 0,
            ..FaultConfig::chaos(0)
        }
    }

    pub(crate) fn total_weight(&self) -> u32 {
        self.crash_weight
            + self.pause_weight
            + self.isolate_weight
            + self.split_weight
            + self.one_way_weight
    }
}

/// One kind of disruption, as chosen by the nemesis and shown in the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A host crashed (restarted when it ends).
    Crash { host: usize },
    /// A host paused (resumed when it ends).
    Pause { host: usize },
    /// A partition that cuts off `hosts` (healed when it ends).
    Partition { id: u64, hosts: Vec<usize> },
}
