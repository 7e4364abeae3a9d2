//! CMSL built-ins that depend on where the code runs: `print`, `println`,
//! `sleep`, `args`, `my_host` and `host("name")`.
//!
//! A server's `print` writes to the standard output of the kernel process that
//! runs the replica: a server with `t+1` replicas prints once per replica, each
//! on its own host, and a replica restored by state transfer does not repeat
//! what it replays. `main`'s output is the program's standard output.

use super::context;
use crate::lang::{show_all, Failure, Host, List, Res, Show};
use crate::types::HostId;
use std::io::Write;
use std::sync::Mutex;

/// What this process knows about itself: its host, the cluster's hosts and the
/// program's arguments. Set by [`super::run`] (and by tests that drive kernels
/// themselves, with [`set_process_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The host this process's kernel runs as.
    pub host: HostId,
    /// Every host in the cluster file.
    pub hosts: Vec<HostId>,
    /// `args()`: the arguments after `--`.
    pub args: Vec<String>,
}

impl Default for ProcessInfo {
    /// Host `h0`, no other hosts, no arguments.
    fn default() -> ProcessInfo {
        ProcessInfo {
            host: HostId(0),
            hosts: Vec::new(),
            args: Vec::new(),
        }
    }
}

static PROCESS: Mutex<Option<ProcessInfo>> = Mutex::new(None);

/// Sets what `my_host`, `host` and `args` return in this process.
pub fn set_process_info(info: ProcessInfo) {
    if let Ok(mut p) = PROCESS.lock() {
        *p = Some(info);
    }
}

fn process_info() -> ProcessInfo {
    PROCESS
        .lock()
        .ok()
        .and_then(|p| p.clone())
        .unwrap_or_default()
}

/// Where `print` writes instead of standard output, when set.
type Sink = Box<dyn Write + Send>;

static PRINT_SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Sends everything `print` and `println` write in this process (from `main`
/// and from server replicas) to `sink` instead of standard output; `None`
/// restores standard output. For tests and for embedding a program.
pub fn set_print_sink(sink: Option<Sink>) {
    if let Ok(mut s) = PRINT_SINK.lock() {
        *s = sink;
    }
}

fn write_out(text: &str) {
    if let Ok(mut sink) = PRINT_SINK.lock() {
        if let Some(sink) = sink.as_mut() {
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
            return;
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `print(a, b, …)`: the values' text one after another, no separator.
///
/// ```
/// use ftc_runtime::program::print;
/// print(&[&"x = ", &1.5, &"\n"]);
/// ```
pub fn print(values: &[&dyn Show]) {
    if context::is_replaying() {
        return;
    }
    write_out(&show_all(values));
}

/// `println(a, b, …)`: [`print()`] and a line end.
///
/// ```
/// use ftc_runtime::program::println;
/// println(&[&"total: ", &7i64]);
/// ```
pub fn println(values: &[&dyn Show]) {
    if context::is_replaying() {
        return;
    }
    let mut text = show_all(values);
    text.push('\n');
    write_out(&text);
}

/// `sleep(seconds)`. In a server method the wait is an application timer ordered
/// through the group's log, so every replica wakes at the same point of its input.
pub fn sleep(seconds: f64) -> Res<()> {
    context::sleep(seconds)
}

/// `args()`: the program's command-line arguments (those after `--`).
pub fn args() -> List<String> {
    List::from_vec(process_info().args)
}

/// `my_host()`: the host this code runs on.
pub fn my_host() -> Host {
    Host(process_info().host)
}

/// `host("h2")`: the host of that name in the cluster file; an unknown name is a
/// `program_error`.
pub fn host(name: &str) -> Res<Host> {
    let info = process_info();
    Host::parse(name)
        .filter(|h| info.hosts.contains(&h.id()))
        .ok_or_else(|| Failure::program_error(format!("no host named {name:?} in the cluster")))
}
