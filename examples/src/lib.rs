//! Example programs (CMSL, and a replicated Rust type) and the tests that check them.
//!
//! The flagship example is the air-traffic-control system in
//! `examples/air_traffic/` (see its README): a replicated track database, a
//! radar client replaying recorded traffic and a display client.
//!
//! The `bank` binary (`examples/bank/bank.rs`) is the other kind of example: a
//! plain Rust type replicated with `#[ftc_runtime::server]`, no CMSL involved.

use std::path::PathBuf;

/// The directory of the air-traffic-control example.
pub fn air_traffic_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("air_traffic")
}

/// The workspace root: the directory `ftc run` is started from, against which
/// the example's data path is resolved.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The recording the radar replays, relative to the workspace root.
pub const ATC_DATA: &str = "examples/air_traffic/data/switzerland-2018-08-01T1112Z.csv";
