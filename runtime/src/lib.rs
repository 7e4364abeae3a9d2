//! The replication runtime that generated programs link against.
//!
//! Layers, top to bottom: the application interface ([`app`]); the group
//! protocol and client side ([`group`]); the view service and failure detection
//! ([`view_service`]); the host core composing them ([`host`]). All protocol
//! code is sans-IO: see [`host`] for the event/action interface that the
//! deterministic simulator (crate `ftc-sim`) and the TCP kernels drive.

pub mod app;
pub mod client;
pub(crate) mod digest;
pub mod failure_detector;
pub mod group;
pub mod host;
pub mod message;
pub mod pbft;
pub mod protocol;
pub mod storage;
pub mod types;
pub mod view_service;
pub mod vote;

// Running the protocols across OS processes: transport, kernel, cluster launcher.
pub mod allocator;
pub mod busy_poll;
pub mod cluster;
pub mod identity;
pub mod kernel;
pub mod kv_app;
pub mod lie;
pub mod logging;
pub mod timeline;
pub mod transport;

// The program-facing layer generated code calls: CMSL values and execution.
pub mod lang;
pub mod program;

#[doc(hidden)]
pub mod macro_support;

/// The serialization crate generated code derives with (`#[serde(crate = "::ftc_runtime::serde")]`).
pub use serde;

/// Replicates a plain Rust type: put `#[ftc_runtime::server]` on its own `impl`
/// block. Every `pub fn(&mut self, …) -> T` becomes a command and every
/// `pub fn(&self, …) -> T` a query (also ordered); the type gets
/// `start(&Props) -> Res<TypeClient>` and `server_class()` for the program's
/// list of server classes, and `TypeClient` gets one method per command plus
/// an `invoke_…` twin that returns a [`program::Future`]. The type must be
/// `Default` (a new replica's state) and serializable (state transfer);
/// parameters and replies must be owned, serializable values. A method that
/// panics answers its caller with `program_error`; the replicas go on. A reply
/// of type `Result<T, E>` reaches the caller as it is, inside the call's own
/// `Res` (which carries replication failures such as `server_failure`).
///
/// What cannot be replicated is a compile error at the offending tokens, with
/// a suggested fix: a parameter or reply that is a reference (or borrows, or is
/// `impl Trait`, a slice, a pointer), `self` by value, a generic or `async`
/// method, and a parameter, reply or state type that is not serializable (the
/// last asserted by trait bounds on the type as written: "`Letter` cannot cross
/// the network in a command or a reply: it is not serializable"). On an error
/// the rest of the type is still generated (a refused method keeps a client
/// stub), so one mistake does not cascade.
///
/// Every replica must compute the same state and reply, so replicated methods
/// are scanned for the usual sources of nondeterminism: `HashMap`/`HashSet`
/// (per-process iteration order), `rand::…`, `Instant::now`,
/// `SystemTime::now`, `std::fs`, `thread::sleep` (use [`program::sleep`],
/// ordered through the group's log) and `env::var`. Each is an error unless the
/// method says why its replicas still agree:
///
/// ```ignore
/// #[ftc(nondeterministic = "the map is only looked up, never iterated")]
/// pub fn price(&self, name: String) -> Option<i64> { … }
/// ```
///
/// The scan is syntactic: it reads the method's own tokens (macro arguments
/// included), not the helpers it calls, nor the state type, which should hold
/// `BTreeMap`s rather than `HashMap`s for the same reason.
///
/// ```no_run
/// use ftc_runtime::lang::Res;
/// use ftc_runtime::program::{run, ProgramDef, Props};
/// use ftc_runtime::types::Model;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Counter {
///     total: i64,
/// }
///
/// #[ftc_runtime::server]
/// impl Counter {
///     pub fn add(&mut self, by: i64) -> i64 {
///         self.total += by;
///         self.total
///     }
///     pub fn total(&self) -> i64 {
///         self.total
///     }
/// }
///
/// fn program() -> Res<i64> {
///     let counter = Counter::start(&Props::new().model(Model::Crash).tolerate(1))?;
///     counter.add(5)?;
///     let later = counter.invoke_add(2)?;
///     assert_eq!(later.result()?, 7);
///     Ok(if counter.total()? == 7 { 0 } else { 1 })
/// }
///
/// fn main() -> std::process::ExitCode {
///     // `counter --local 3` runs it on three in-process kernels.
///     run(ProgramDef {
///         name: "counter",
///         servers: vec![Counter::server_class()],
///         main: program,
///     })
/// }
/// ```
pub use ftc_macros::server;

/// A server's start properties in CMSL's syntax — `model`, `tolerate`,
/// `replicas`, `hosts`, `priority`, `durable`, `disjoint` — as a
/// [`program::Props`]. Where `ftc check` refuses the same properties of a
/// CMSL server, this is a compile-time error: a property given twice, a
/// negative constant tolerance, a constant replica count that is not
/// positive, `model correct` with a positive tolerance, `durable` on a
/// byzantine server, a host named by a string that is not `h` and a number.
/// Other values are any Rust expressions, checked when the server starts.
///
/// ```
/// use ftc_runtime::props;
/// use ftc_runtime::types::Model;
/// let p = props!(model crash tolerate (1) hosts (h1, h2) priority (3));
/// assert_eq!((p.model, p.tolerate, p.hosts.len(), p.priority), (Model::Crash, 1, 2, 3));
/// let t = 2;
/// assert_eq!(props!(model byzantine tolerate (t)).tolerate, 2);
/// ```
///
/// ```compile_fail
/// // error: `model correct` cannot tolerate failures [E0311]
/// let p = ftc_runtime::props!(model correct tolerate (1));
/// ```
pub use ftc_macros::props;
