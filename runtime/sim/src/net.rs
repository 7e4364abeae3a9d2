//! The network model: per directed link delay, loss, duplication and
//! reordering; partitions that block directed links while they last.

use ftc_runtime::types::Micros;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How one directed link treats messages.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Base one-way delay, uniform in `[delay_min_us, delay_max_us]`.
    pub delay_min_us: Micros,
    pub delay_max_us: Micros,
    /// Probability a message is lost.
    pub loss: f64,
    /// Probability a message is delivered twice (the copy has its own delay).
    pub duplicate: f64,
    /// Probability a message gets an extra delay in `[0, spike_max_us]`,
    /// which overtakes it with later messages (reordering).
    pub spike: f64,
    pub spike_max_us: Micros,
}

impl LinkConfig {
    /// A link that neither loses, duplicates nor reorders.
    pub fn reliable(delay_min_us: Micros, delay_max_us: Micros) -> LinkConfig {
        LinkConfig {
            delay_min_us,
            delay_max_us,
            loss: 0.0,
            duplicate: 0.0,
            spike: 0.0,
            spike_max_us: 0,
        }
    }

    /// The same delays without loss, duplication or spikes.
    pub fn healed(&self) -> LinkConfig {
        LinkConfig::reliable(self.delay_min_us, self.delay_max_us)
    }
}

impl Default for LinkConfig {
    /// A LAN with a little chaos: 0.5–3 ms, 1% loss, 1% duplicates, 2% spikes up to 30 ms.
    fn default() -> LinkConfig {
        LinkConfig {
            delay_min_us: 500,
            delay_max_us: 3_000,
            loss: 0.01,
            duplicate: 0.01,
            spike: 0.02,
            spike_max_us: 30_000,
        }
    }
}

/// A partition: while active, messages on the blocked directed links are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partition {
    /// Nobody in `side` hears anybody outside it, and vice versa.
    Split { side: Vec<usize> },
    /// Messages from `from` to `to` are dropped; the other direction works.
    OneWay { from: Vec<usize>, to: Vec<usize> },
}

impl Partition {
    /// Isolates one host from every other (symmetric).
    pub fn isolate(host: usize) -> Partition {
        Partition::Split { side: vec![host] }
    }

    fn blocks(&self, from: usize, to: usize) -> bool {
        match self {
            Partition::Split { side } => side.contains(&from) != side.contains(&to),
            Partition::OneWay { from: f, to: t } => f.contains(&from) && t.contains(&to),
        }
    }
}

/// What happened to one sent message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Dropped by an active partition.
    Partitioned,
    /// Lost by the link.
    Lost,
    /// Delivered after each of these delays (two entries: duplicated).
    Deliver(Vec<Micros>),
}

/// Links and partitions of a cluster of `n` hosts.
#[derive(Clone, Debug)]
pub struct Network {
    hosts: usize,
    links: Vec<LinkConfig>,
    partitions: Vec<(u64, Partition)>,
    next_partition: u64,
}

impl Network {
    /// `hosts` hosts, every directed link configured as `link`, no partition.
    pub fn new(hosts: usize, link: LinkConfig) -> Network {
        Network {
            hosts,
            links: vec![link; hosts * hosts],
            partitions: Vec::new(),
            next_partition: 1,
        }
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// The configuration of the directed link `from → to`.
    pub fn link(&self, from: usize, to: usize) -> &LinkConfig {
        &self.links[from * self.hosts + to]
    }

    /// Reconfigures the directed link `from → to`.
    pub fn set_link(&mut self, from: usize, to: usize, link: LinkConfig) {
        self.links[from * self.hosts + to] = link;
    }

    /// Reconfigures every directed link.
    pub fn set_all_links(&mut self, link: LinkConfig) {
        self.links.iter_mut().for_each(|l| *l = link.clone());
    }

    /// Removes loss, duplication and spikes from every link.
    pub fn calm(&mut self) {
        self.links.iter_mut().for_each(|l| *l = l.healed());
    }

    /// Starts a partition; returns its id for [`Network::heal`].
    pub fn partition(&mut self, partition: Partition) -> u64 {
        let id = self.next_partition;
        self.next_partition += 1;
        self.partitions.push((id, partition));
        id
    }

    /// Ends one partition; false if it was not active.
    pub fn heal(&mut self, id: u64) -> bool {
        let before = self.partitions.len();
        self.partitions.retain(|(p, _)| *p != id);
        self.partitions.len() != before
    }

    /// Ends every partition.
    pub fn heal_all(&mut self) {
        self.partitions.clear();
    }

    /// The active partitions.
    pub fn partitions(&self) -> impl Iterator<Item = &Partition> {
        self.partitions.iter().map(|(_, p)| p)
    }

    /// Whether an active partition drops messages from `from` to `to` (a host always hears itself).
    pub fn blocked(&self, from: usize, to: usize) -> bool {
        from != to && self.partitions.iter().any(|(_, p)| p.blocks(from, to))
    }

    /// Decides what happens to a message sent now from `from` to `to`.
    pub fn fate(&self, from: usize, to: usize, rng: &mut ChaCha8Rng) -> Fate {
        if self.blocked(from, to) {
            return Fate::Partitioned;
        }
        let link = self.link(from, to);
        if from == to {
            return Fate::Deliver(vec![delay(link, rng)]);
        }
        if link.loss > 0.0 && rng.random_bool(link.loss) {
            return Fate::Lost;
        }
        let mut delays = vec![delay(link, rng)];
        if link.duplicate > 0.0 && rng.random_bool(link.duplicate) {
            delays.push(delay(link, rng));
        }
        Fate::Deliver(delays)
    }
}

fn delay(link: &LinkConfig, rng: &mut ChaCha8Rng) -> Micros {
    let base = if link.delay_max_us > link.delay_min_us {
        rng.random_range(link.delay_min_us..=link.delay_max_us)
    } else {
        link.delay_min_us
    };
    let spike = if link.spike > 0.0 && link.spike_max_us > 0 && rng.random_bool(link.spike) {
        rng.random_range(0..=link.spike_max_us)
    } else {
        0
    };
    base + spike
}
