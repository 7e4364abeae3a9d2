//! Process entry of a generated program: one binary is both the main program and
//! a host kernel.
//!
//! ```text
//! BINARY --kernel --host hN --cluster FILE [--trace FILE]   a kernel serving the program's server classes
//! BINARY --host h1 --cluster FILE [-- ARGS…]                the kernel of h1 plus `main`; exits with main's code
//! ```
//!
//! Both forms accept `--incarnation N`: the kernel's incarnation. A launcher
//! starting a cluster for the first time passes `--incarnation 1` (the view
//! service admits exactly the first incarnation at boot); a restarted kernel
//! gets a larger one, by default the wall-clock time in microseconds.
//!
//! An uncaught exception in `main` prints `error: <kind>: <message>` (and the
//! CMSL location when known) on stderr and exits with 1. Panics never print a
//! Rust message or backtrace: they become `program_error`s.

use super::builtins::{set_process_info, ProcessInfo};
use super::context::{self, Context, MainCtx};
use super::server::ServerClassDef;
use crate::app::{AppFactory, StateMachine};
use crate::cluster::ClusterConfig;
use crate::kernel::{
    serve_until_terminated, Kernel, KernelArgs, KernelConfig, KernelHandle, TraceSink,
};
use crate::lang::{Failure, Res};
use crate::types::Incarnation;
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
    eprintln!("usage: {program} --host hN --cluster FILE [--incarnation N] [-- ARGS...]");
    eprintln!(
        "       {program} --kernel --host hN --cluster FILE [--incarnation N] [--trace FILE]"
    );
    ExitCode::from(EXIT_USAGE)
}

/// The value of `--incarnation N`, if given.
fn incarnation_flag(flags: &[String]) -> Result<Option<Incarnation>, String> {
    match flags.iter().position(|f| f == "--incarnation") {
        None => Ok(None),
        Some(i) => {
            let value = flags
                .get(i + 1)
                .ok_or("--incarnation needs a number, e.g. 1")?;
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| Some(Incarnation(n)))
                .ok_or_else(|| format!("--incarnation {value}: expected a number >= 1"))
        }
    }
}

/// A kernel process with a given incarnation: serves until SIGTERM or SIGINT,
/// printing the launcher's ready line once it accepts connections.
fn serve_kernel(
    kernel_args: &KernelArgs,
    cluster: ClusterConfig,
    incarnation: Incarnation,
    factory: Arc<ProgramFactory>,
) -> Result<(), String> {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut config = KernelConfig::new(kernel_args.host, cluster);
    config.incarnation = Some(incarnation);
    if let Some(path) = &kernel_args.trace_file {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open trace file {}: {e}", path.display()))?;
        config.trace = TraceSink::Writer(Box::new(std::io::BufWriter::new(file)));
    }
    let terminate = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, terminate.clone())
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    let kernel = Kernel::start(config, factory).map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{} host={} incarnation={} addr={}",
            crate::cluster::READY_PREFIX,
            crate::cluster::host_name(kernel.host()),
            kernel.incarnation().0,
            kernel.local_addr()
        );
        let _ = out.flush();
    }
    while !terminate.load(Ordering::SeqCst) && kernel.is_running() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    kernel.shutdown();
    Ok(())
}

/// The `main` of a generated program. See the module documentation.
pub fn run(program: ProgramDef) -> ExitCode {
    install_panic_hook();
    let all: Vec<String> = std::env::args().skip(1).collect();
    let (flags, program_args) = match all.iter().position(|a| a == "--") {
        Some(i) => (all[..i].to_vec(), all[i + 1..].to_vec()),
        None => (all, Vec::new()),
    };
    let kernel_args = match KernelArgs::parse(&flags) {
        Ok(k) => k,
        Err(e) => return usage(program.name, &e),
    };
    let incarnation = match incarnation_flag(&flags) {
        Ok(i) => i,
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
        let served = match incarnation {
            Some(i) => serve_kernel(&kernel_args, cluster, i, factory),
            None => serve_until_terminated(&kernel_args, factory),
        };
        return match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", program.name);
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let mut config = KernelConfig::new(kernel_args.host, cluster);
    config.incarnation = incarnation;
    let kernel = match Kernel::start(config, factory) {
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
