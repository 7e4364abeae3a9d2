//! Kernel logging: the runtime logs through `tracing` (target `ftc::…`,
//! levels), and [`init`] installs the one subscriber every binary uses.
//!
//! The filter comes from `RUST_LOG` (e.g. `RUST_LOG=debug`,
//! `RUST_LOG=ftc::transport=warn`), `info` when unset. Lines go to stderr,
//! or appended to a file (a program's `--log-file`, which `ftc run` uses so
//! that the terminal shows the program's output and the fault timeline, not
//! the kernels' connection notices). Without [`init`] (library use, unit
//! tests) log events go nowhere.

use std::io::IsTerminal;
use std::path::Path;
use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber; a second call changes nothing.
/// Fails only when the log file cannot be opened.
pub fn init(file: Option<&Path>) -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let installed = match file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init()
        }
        None => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init(),
    };
    // Already installed (a test harness, a second call): keep the first.
    drop(installed);
    Ok(())
}
