//! A deterministic simulator that checks the crash-model replication protocols
//! of `ftc-runtime` under seeded faults.
//!
//! # What it runs
//!
//! [`sim::Simulator`] drives any [`node::Node`] — the runtime's host core
//! through [`node::HostNode`], or the [`toy::ToyNode`] the harness tests itself
//! with — in virtual time (µs). Events (deliveries, timers, client inputs,
//! starts, nemesis decisions) sit in one queue ordered by (time, sequence
//! number); one ChaCha RNG seeded from the run's seed makes every choice, so a
//! seed replays the same run, and [`sim::Simulator::digest`] proves it.
//!
//! # Fault model
//!
//! - **Links** ([`net::LinkConfig`], per directed link): uniform delay, loss,
//!   duplication (each copy is a separate clone with its own delay) and delay
//!   spikes that reorder messages.
//! - **Partitions** ([`net::Partition`]): symmetric splits (isolate one host,
//!   minority/majority), one-way; checked at send and again at delivery; they
//!   come and go.
//! - **Crashes** drop the node with all its state, timers and held inputs;
//!   **restarts** create a new node with a larger incarnation and empty state.
//!   Messages carry the sender's incarnation at send time, so messages of an
//!   earlier life still arrive after a restart.
//! - **Pauses** hold a host's messages, timers and client inputs, then deliver
//!   them late (a stalled old sequencer).
//! - The **nemesis** ([`faults::FaultConfig`]) picks among these at random
//!   times, keeping at most `max_disrupted` hosts crashed, paused or cut off at
//!   once, with a cooldown between disruptions; it favours the hosts of the
//!   groups' newest views ([`sim::Simulator::set_favored`]), so sequencers and
//!   backups are hit more often than bystanders.
//! - **Liars** ([`kv::KvConfig::liars`], [`sim::Simulator::set_tamper`]):
//!   chosen members of a byzantine server rewrite every reply they send into a
//!   plausible wrong answer ([`kv::lie`]).
//! - **Scripted faults** ([`kv::Action`]) for scenario tests, including
//!   selective loss of one protocol's messages on chosen links
//!   ([`sim::Simulator::set_drop_filter`]), e.g. "every reply to host 4 is lost".
//!
//! # Checks after every run
//!
//! (a) the key-value history is linearizable (`ftc_judge::check_kv`; a judge
//! timeout is a failure); (b) per group, replicas executed the same entry at
//! each log position, and no replica executed a position twice (it may jump
//! forward by state transfer, never roll back), no position of a group's log
//! was skipped by every replica, no two hosts installed different views under
//! one view id, and every host installed a group's views in order; (c) a request occupies at most one log
//! position across all replicas (a recruit re-executing after state transfer
//! would show as a second position); (d) equal state digests at equal positions,
//! joiners included; (e) every executed client command was submitted by a
//! client. Then the **liveness phase**: partitions heal, crashed and paused hosts
//! come back, links stop misbehaving, and every pending request plus one new
//! request per client (issued once decisions under way at the heal have landed)
//! must complete within a bound, the new ones with a reply; finally the idle cluster
//! must quiet down (no message storm), and the view service must not be wedged
//! (every running host admitted, all following one leader, after a settling
//! second; [`Check::Wedged`]). A run also stops at an event limit, so a
//! livelock cannot hang a test. See [`checks`] and [`kv`].
//!
//! # Workloads and tests
//!
//! - [`kv::run_kv`]: 3–8 clients on different hosts, one operation at a time
//!   each, random get/put/append/cas on 5 keys, against a `kv` server of
//!   `model crash tolerate (1 or 2)`. Histories follow `HISTORY-FORMAT.md`, timed
//!   by the simulator's clock (`ret` is the first reply); a crashed client or a
//!   `CallFailed` gives `info`.
//! - [`nested::run_nested`]: a 3-replica `forwarder` whose commands arm an
//!   application timer, then call a `counter` server (a nested command), and
//!   reply with the counter's answer.
//! - `tests/restart_bursts.rs`: restart bursts on three hosts (two crashed
//!   together or 60 ms apart, before their joins commit; a majority of the view
//!   service's memories lost), with the seed that wedged the view service before
//!   recovery elections, and a long sweep (`FTC_BURST_SEEDS`);
//! - `tests/sweeps.rs`: 3,200 safety seeds (survivable, bad-link, heavy and
//!   beyond-majority chaos) and 750 liveness seeds, several tests so they run in
//!   parallel;
//!   `tests/planted.rs`: every `PlantedBugs` flag is caught within 1,000 seeds
//!   (`no_recovery_election` by the wedge check);
//!   `tests/byzantine.rs`: a byzantine server with one lying member, calm and
//!   under chaos, and the planted "first reply decides" caught by the judge;
//!   `tests/scenarios.rs`: stories (sequencer crash mid-burst, 3/2 split, state
//!   transfer under load, a recruit whose donor dies, a paused or isolated old
//!   sequencer, healed and rejoined hosts, a stale read planted in a recorded
//!   history); `tests/nested.rs`: nested calls with and without failures;
//!   `tests/harness.rs`:
//!   the simulator and the checks tested on a toy node and on made-up traces.
//!
//! # Replaying a failure
//!
//! A failing sweep prints `seed=… (replay: FTC_SIM_SEED=… cargo test -p ftc-sim
//! --test … -- … --exact --nocapture)` and the violated check. With
//! `FTC_SIM_SEED` set, sweeps run only that seed and log every event to stderr.
//! With `FTC_HISTORY_DIR` set, every key-value history is written there as
//! JSON Lines (`HISTORY-FORMAT.md`), to be judged by any checker.
//!
//! # Example
//!
//! ```
//! use ftc_sim::sim::{SimConfig, Simulator};
//! use ftc_sim::toy::ToyNode;
//!
//! let run = |seed| {
//!     let config = SimConfig::new(seed, 3);
//!     let mut sim = Simulator::new(config, Box::new(|host, incarnation, _seed| {
//!         ToyNode::new(host, incarnation, 3, 1_000)
//!     }));
//!     sim.run_until(50_000);
//!     sim.crash(1);
//!     sim.restart(1);
//!     sim.run_until(100_000);
//!     (sim.digest(), sim.stats().clone())
//! };
//! let (digest, stats) = run(7);
//! assert_eq!(run(7).0, digest, "same seed, same run");
//! assert_ne!(run(8).0, digest);
//! assert_eq!(stats.restarts, 1);
//! ```

pub mod apps;
pub mod checks;
pub mod cluster;
pub mod disk;
pub mod faults;
pub mod kv;
pub mod nested;
pub mod net;
pub mod node;
pub mod report;
pub mod sim;
pub mod toy;

pub use checks::{Check, Violation};
pub use cluster::{Cluster, ClusterConfig, Happening};
pub use faults::FaultConfig;
pub use kv::{run_kv, KvConfig, KvReport};
pub use nested::{
    run_nested, run_nested_byzantine, run_nested_deaf_lying_primary, run_nested_lying_caller,
    NestedReport,
};
pub use sim::{SimConfig, Simulator};
