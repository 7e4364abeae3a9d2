//! Process entry of a generated program: one binary is both the main program and
//! a host kernel.
//!
//! ```text
//! BINARY --kernel --host hN --cluster FILE [--trace FILE]   a kernel serving the program's server classes
//! BINARY --host h1 --cluster FILE [-- ARGS…]                the kernel of h1 plus `main`; exits with main's code
//! ```
//!
//! `BINARY --local N [-- ARGS…]` runs a whole cluster in this one process
//! instead: `N` kernels `h1..hN` on loopback, `main` on `h1` (for trying a
//! program out; a real deployment runs one kernel process per host).
//!
//! Incarnations are the kernel's: each host keeps its last one in a file
//! beside the cluster file (`hN.incarnation`, or `--incarnation-file FILE`), so
//! a cluster's first boot runs in the first incarnation and a restarted process
//! (kernel or main) joins as a new one.
//!
//! An uncaught exception in `main` prints `error: <kind>: <message>` (and the
//! CMSL location when known) on stderr and exits with 1. Panics never print a
//! Rust message or backtrace: they become `program_error`s.

use super::builtins::{set_process_info, ProcessInfo};
use super::context::{self, Context, MainCtx};
use super::server::ServerClassDef;
use crate::app::{AppFactory, StateMachine};
use crate::cluster::ClusterConfig;
use crate::kernel::{serve_until_terminated, Kernel, KernelArgs, KernelConfig, KernelHandle};
use crate::lang::{Failure, Res};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

/// Stack of the thread that runs `main`.
pub const MAIN_STACK_BYTES: usize = 256 << 20;

/// Exit code for bad command-line arguments or a kernel that cannot start.
pub const EXIT_USAGE: u8 = 2;

/// A whole program, as generated code hands it to [`run`].
///
/// ```no_run
/// use ftc_runtime::lang::Res;
/// use ftc_runtime::program::{run, ProgramDef};
///
/// fn cmsl_main() -> Res<i64> {
///     ftc_runtime::program::println(&[&"hello"]);
///     Ok(0)
/// }
///
/// fn main() -> std::process::ExitCode {
///     run(ProgramDef { name: "hello", servers: vec![], main: cmsl_main })
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ProgramDef {
    /// The program's name, for usage messages.
    pub name: &'static str,
    /// Every server class ([`ServerClassDef::of`]).
    pub servers: Vec<ServerClassDef>,
    /// CMSL `main`: its exit code (`void main` returns `Ok(0)`).
    pub main: fn() -> Res<i64>,
}

/// The kernels' application factory for a program's server classes.
pub struct ProgramFactory {
    servers: Vec<ServerClassDef>,
}

impl ProgramFactory {
    /// A factory for these server classes.
    pub fn new(servers: Vec<ServerClassDef>) -> ProgramFactory {
        ProgramFactory { servers }
    }
}

impl AppFactory for ProgramFactory {
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>> {
        self.servers
            .iter()
            .find(|s| s.name == class)
            .map(|s| (s.create)())
    }
}

/// Silences Rust's panic message: panics are reported as `program_error`s.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|_| {}));
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown".to_string()
    }
}

/// Runs `main` on a thread of its own (with a large stack) as a client of the
/// kernel behind `kernel`, and returns its result. A panic becomes a
/// `program_error`.
pub fn run_main(kernel: KernelHandle, main: fn() -> Res<i64>) -> Res<i64> {
    let thread = std::thread::Builder::new()
        .name("ftc-main".into())
        .stack_size(MAIN_STACK_BYTES)
        .spawn(move || {
            let client = kernel.new_client_id();
            context::install(Context::Main(Rc::new(MainCtx {
                kernel,
                client,
                keys_issued: Cell::new(0),
            })));
            match catch_unwind(AssertUnwindSafe(main)) {
                Ok(result) => result,
                Err(p) => Err(Failure::program_error(format!(
                    "internal error: {}",
                    panic_text(&*p)
                ))),
            }
        })
        .map_err(|e| Failure::program_error(format!("cannot start main: {e}")))?;
    thread
        .join()
        .unwrap_or_else(|_| Err(Failure::program_error("main ended abnormally")))
}

/// The exit code of a finished `main`: its `int` result modulo 256 (as a POSIX
/// shell sees it), or 1 after printing an uncaught exception's report on stderr.
pub fn exit_code(result: &Res<i64>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        Err(failure) => {
            eprintln!("{}", failure.report());
            ExitCode::FAILURE
        }
    }
}

fn usage(program: &str, problem: &str) -> ExitCode {
    eprintln!("{program}: {problem}");
    eprintln!("usage: {program} --host hN --cluster FILE [--incarnation-file FILE] [-- ARGS...]");
    eprintln!("       {program} --local N [-- ARGS...]");
    eprintln!(
        "       {program} --kernel --host hN --cluster FILE [--incarnation-file FILE] [--trace FILE]"
    );
    ExitCode::from(EXIT_USAGE)
}

/// The `main` of a generated program. See the module documentation.
pub fn run(program: ProgramDef) -> ExitCode {
    install_panic_hook();
    let all: Vec<String> = std::env::args().skip(1).collect();
    let (flags, program_args) = match all.iter().position(|a| a == "--") {
        Some(i) => (all[..i].to_vec(), all[i + 1..].to_vec()),
        None => (all, Vec::new()),
    };
    if let Some(i) = flags.iter().position(|f| f == "--local") {
        let count = flags.get(i + 1).and_then(|n| n.parse::<u32>().ok());
        return match count.filter(|n| (1..=64).contains(n)) {
            Some(n) => run_local(&program, n, program_args),
            None => usage(program.name, "--local needs a number of hosts, 1 to 64"),
        };
    }
    let kernel_args = match KernelArgs::parse(&flags) {
        Ok(k) => k,
        Err(e) => return usage(program.name, &e),
    };
    let cluster = match ClusterConfig::load(&kernel_args.cluster_file) {
        Ok(c) => c,
        Err(e) => return usage(program.name, &e.to_string()),
    };
    set_process_info(ProcessInfo {
        host: kernel_args.host,
        hosts: cluster.host_ids(),
        args: program_args,
    });
    let factory = Arc::new(ProgramFactory::new(program.servers.clone()));
    if flags.iter().any(|f| f == "--kernel") {
        return match serve_until_terminated(&kernel_args, factory) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", program.name);
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let mut config = KernelConfig::new(kernel_args.host, cluster);
    if let Some(timeline) = crate::timeline::Timeline::from_env() {
        config.trace = crate::kernel::TraceSink::Timeline(timeline);
    }
    let kernel = match Kernel::start_claiming(config, factory, &kernel_args.incarnation_path()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{}: cannot start the kernel: {e}", program.name);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = run_main(kernel.handle(), program.main);
    kernel.shutdown();
    exit_code(&result)
}

/// `--local N`: kernels `h1..hN` in this process (a first boot), `main` on `h1`.
fn run_local(program: &ProgramDef, hosts: u32, args: Vec<String>) -> ExitCode {
    let factory = Arc::new(ProgramFactory::new(program.servers.clone()));
    let kernels = match Kernel::start_in_process(1, hosts, factory, |_| {}) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{}: cannot start the local cluster: {e}", program.name);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    set_process_info(ProcessInfo {
        host: crate::types::HostId(1),
        hosts: kernels.iter().map(Kernel::host).collect(),
        args,
    });
    let result = match kernels.first() {
        Some(first) => run_main(first.handle(), program.main),
        None => Err(Failure::program_error("no hosts")),
    };
    for kernel in kernels {
        kernel.shutdown();
    }
    exit_code(&result)
}
