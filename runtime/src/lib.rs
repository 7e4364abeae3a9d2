//! The replication runtime that generated programs link against.
//!
//! Layers, top to bottom: the application interface ([`app`]); the group
//! protocol and client side ([`group`]); the view service and failure detection
//! ([`view_service`]); the host core composing them ([`host`]). All protocol
//! code is sans-IO: see [`host`] for the event/action interface that the
//! deterministic simulator (crate `ftc-sim`) and the TCP kernels drive.

pub mod app;
pub mod client;
pub mod failure_detector;
pub mod group;
pub mod host;
pub mod message;
pub mod protocol;
pub mod types;
pub mod view_service;
pub mod vote;

// Running the protocols across OS processes: transport, kernel, cluster launcher.
pub mod cluster;
pub mod kernel;
pub mod kv_app;
pub mod transport;

// The program-facing layer generated code calls: CMSL values and execution.
pub mod lang;
pub mod program;
