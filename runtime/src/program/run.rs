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
    ExitCode::from(EXIT_USAGE)
}

/// A generated program's command line (see the module documentation).
#[derive(clap::Parser, Debug)]
#[command(about = "A CMSL program compiled by ftc: its main program and its host kernel")]
struct ProgramCommandLine {
    /// Run kernels h1..hN in this process and `main` on h1.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=64),
        conflicts_with_all = ["kernel", "host", "cluster", "trace", "incarnation_file", "key_file", "exit_on_stdin_eof", "byzantine", "data_dir"]
    )]
    local: Option<u32>,
    /// Make host hN's key pair: write its private key file (`--key-file`, by
    /// default `hN.key` here; never overwritten) and print its public key.
    #[arg(
        long,
        value_name = "hN",
        value_parser = crate::kernel::parse_host_arg,
        conflicts_with_all = ["local", "kernel", "host", "cluster", "trace", "incarnation_file", "exit_on_stdin_eof", "byzantine", "data_dir"]
    )]
    keygen: Option<crate::types::HostId>,
    /// Serve the program's server classes as a kernel; run no `main`.
    #[arg(long)]
    kernel: bool,
    /// This host's name in the cluster file.
    #[arg(long, value_name = "hN", value_parser = crate::kernel::parse_host_arg, required_unless_present_any = ["local", "keygen"])]
    host: Option<crate::types::HostId>,
    /// The cluster file.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["local", "keygen"])]
    cluster: Option<std::path::PathBuf>,
    /// Append the host's protocol traces to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<std::path::PathBuf>,
    /// Where the last incarnation is kept (default: `hN.incarnation` beside the cluster file).
    #[arg(long, value_name = "FILE")]
    incarnation_file: Option<std::path::PathBuf>,
    /// This host's private key file (default: `hN.key` beside the cluster file).
    #[arg(long, value_name = "FILE")]
    key_file: Option<std::path::PathBuf>,
    /// Append the kernel's log to FILE instead of stderr (filter: `RUST_LOG`).
    #[arg(long, value_name = "FILE")]
    log_file: Option<std::path::PathBuf>,
    /// Stop when standard input closes (used by the local launcher).
    #[arg(long)]
    exit_on_stdin_eof: bool,
    /// Fault injection for a kernel: lie these ways (comma-separated names of
    /// `lie::Behaviour::ALL`) from the first SIGUSR1 on.
    #[arg(long, value_name = "BEHAVIOURS", value_parser = crate::lie::Behaviours::parse, requires = "kernel")]
    byzantine: Option<crate::lie::Behaviours>,
    /// Keep the host's stable storage in DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Arguments for the program's `main` (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// Parses a program's command line (the program name first).
fn parse_args<I, T>(name: &'static str, args: I) -> Result<ProgramCommandLine, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let matches = ProgramCommandLine::command()
        .name(name)
        .try_get_matches_from(args)?;
    ProgramCommandLine::from_arg_matches(&matches)
}

/// Parses the process's command line; prints clap's message and gives the
/// exit code (2 for a usage error, 0 for `--help`) when it is not a run.
fn parse_command_line(name: &'static str) -> Result<ProgramCommandLine, ExitCode> {
    parse_args(name, std::env::args_os()).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(EXIT_USAGE)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// The `main` of a generated program. See the module documentation.
pub fn run(program: ProgramDef) -> ExitCode {
    install_panic_hook();
    let cli = match parse_command_line(program.name) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let program_args = cli.args;
    if let Err(e) = crate::logging::init(cli.log_file.as_deref()) {
        return usage(program.name, &e);
    }
    if let Some(n) = cli.local {
        return run_local(&program, n, program_args);
    }
    if let Some(host) = cli.keygen {
        return keygen(program.name, host, cli.key_file);
    }
    let (Some(host), Some(cluster_file)) = (cli.host, cli.cluster) else {
        return usage(
            program.name,
            "--host and --cluster are required without --local",
        );
    };
    let kernel_args = KernelArgs {
        host,
        cluster_file,
        trace_file: cli.trace,
        incarnation_file: cli.incarnation_file,
        key_file: cli.key_file,
        log_file: cli.log_file,
        exit_on_stdin_eof: cli.exit_on_stdin_eof,
        byzantine: cli.byzantine,
        data_dir: cli.data_dir,
    };
    let (cluster, identity) = match kernel_args.load() {
        Ok(loaded) => loaded,
        Err(e) => return usage(program.name, &e),
    };
    set_process_info(ProcessInfo {
        host: kernel_args.host,
        hosts: cluster.host_ids(),
        args: program_args,
    });
    let factory = Arc::new(ProgramFactory::new(program.servers.clone()));
    if cli.kernel {
        return match serve_until_terminated(&kernel_args, factory) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", program.name);
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let mut config = KernelConfig::new(kernel_args.host, cluster, identity);
    config.data_dir = kernel_args.data_dir.clone();
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

/// `--keygen hN`: writes the key file and prints the public key.
fn keygen(name: &str, host: crate::types::HostId, path: Option<std::path::PathBuf>) -> ExitCode {
    let path = path.unwrap_or_else(|| format!("{}.key", crate::cluster::host_name(host)).into());
    match crate::identity::keygen(host, &path) {
        Ok(public) => {
            println!("{public}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
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

#[cfg(test)]
mod command_line_tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<ProgramCommandLine, clap::Error> {
        parse_args("prog", std::iter::once("prog").chain(args.iter().copied()))
    }

    #[test]
    fn the_three_ways_to_run_a_program() {
        let main = parse(&["--host", "h1", "--cluster", "c.toml", "--", "a", "--b"]).expect("main");
        assert_eq!(main.host, Some(crate::types::HostId(1)));
        assert!(!main.kernel);
        assert_eq!(main.args, vec!["a".to_string(), "--b".to_string()]);
        let kernel = parse(&[
            "--kernel",
            "--host",
            "h2",
            "--cluster",
            "c.toml",
            "--trace",
            "t",
        ])
        .expect("kernel");
        assert!(kernel.kernel);
        let local = parse(&["--local", "3", "--", "x"]).expect("local");
        assert_eq!(local.local, Some(3));
        assert_eq!(local.args, vec!["x".to_string()]);
        let keygen = parse(&["--keygen", "h4", "--key-file", "h4.key"]).expect("keygen");
        assert_eq!(keygen.keygen, Some(crate::types::HostId(4)));
        assert!(parse(&["--keygen", "h4", "--kernel"]).is_err());
        let keyed = parse(&["--host", "h1", "--cluster", "c", "--key-file", "k"]).expect("key");
        assert_eq!(keyed.key_file, Some(std::path::PathBuf::from("k")));
    }

    #[test]
    fn unknown_malformed_or_conflicting_flags_are_usage_errors() {
        let cases: [(&[&str], ErrorKind); 7] = [
            (
                &["--host", "h1", "--cluster", "c", "--incarnation", "1"],
                ErrorKind::UnknownArgument,
            ),
            (
                &["--host", "h1", "--cluster", "c", "--incarnation-fle", "f"],
                ErrorKind::UnknownArgument,
            ),
            (
                &["--host", "node1", "--cluster", "c"],
                ErrorKind::ValueValidation,
            ),
            (&["--local", "0"], ErrorKind::ValueValidation),
            (&["--local", "65"], ErrorKind::ValueValidation),
            (
                &["--local", "2", "--host", "h1"],
                ErrorKind::ArgumentConflict,
            ),
            (&["--host", "h1"], ErrorKind::MissingRequiredArgument),
        ];
        for (args, kind) in cases {
            let e = parse(args).expect_err("refused");
            assert_eq!(e.kind(), kind, "{args:?}: {e}");
            assert!(e.use_stderr(), "{args:?} is an error, not help");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_argument_of_main_is_a_usage_error() {
        use std::os::unix::ffi::OsStringExt;
        let bad = std::ffi::OsString::from_vec(vec![0x66, 0x6f, 0xff]);
        let args: Vec<std::ffi::OsString> = ["prog", "--host", "h1", "--cluster", "c", "--"]
            .iter()
            .map(std::ffi::OsString::from)
            .chain([bad])
            .collect();
        let e = parse_args("prog", args).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
    }
}
