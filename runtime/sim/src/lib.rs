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
//!   once, with a cooldown between disruptions.
//!
//! # Checks after every run
//!
//! (a) the key-value history is linearizable (`ftc_judge::check_kv`; a judge
//! timeout is a failure); (b) per group, replicas executed the same entry at
//! each log position, and no replica executed a position twice (it may jump
//! forward by state transfer, never roll back); (c) a request occupies
//! at most one log position across all replicas (a recruit re-executing after
//! state transfer would show as a second position); (d) equal state digests at
//! equal positions, joiners included; (e) every executed client command was
//! submitted by a client. Then the **liveness phase**: partitions heal, crashed
//! hosts restart, links stop misbehaving, and every pending request plus one
//! new request per client must complete within a bound. See [`checks`].
//!
//! # Replaying a failure
//!
//! A failing sweep prints `seed=… (replay: FTC_SIM_SEED=… cargo test -p ftc-sim
//! --test … -- … --exact --nocapture)` and the violated check. With
//! `FTC_SIM_SEED` set, sweeps run only that seed and log every event to stderr.
//! With `FTC_HISTORY_DIR` set, every key-value history is written there as
//! JSON Lines (`HISTORY-FORMAT.md`).
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
pub use nested::{run_nested, NestedReport};
pub use sim::{SimConfig, Simulator};
