//! The `ftc` command-line interface: check, explain, lsp, and the pipeline commands.

mod commands;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ftc_frontend::render::{render_human, render_json, SourceFile};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ftc",
    version,
    about = "Compiles CMSL programs into fault-tolerant replicated Rust programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

use commands::messages::MessageFormat;

#[derive(Subcommand)]
enum Command {
    /// Check CMSL files and report diagnostics.
    Check {
        /// The CMSL source files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How diagnostics are printed.
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
    },
    /// Explain a diagnostic code (such as E0302) in detail.
    Explain {
        /// The code.
        code: String,
    },
    /// Serve the CMSL language server (LSP) on stdin/stdout, for editors.
    Lsp,
    /// Make a host's key pair: write its private key file (mode 0600, never
    /// over an existing file) and print its public key for the cluster file.
    Keygen {
        /// The host, `h` followed by its number (e.g. h3).
        #[arg(value_parser = ftc_runtime::kernel::parse_host_arg)]
        host: ftc_runtime::types::HostId,
        /// Where to write the private key (default: `hN.key` here).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the host's whole cluster-file line, with this address.
        #[arg(long, value_name = "HOST:PORT")]
        address: Option<String>,
    },
    #[command(flatten)]
    Pipeline(commands::PipelineCommand),
}

/// At most this many diagnostics per file are printed in human format.
const DIAGNOSTICS_SHOWN_MAX: usize = 500;

/// Exit code for errors in the program.
const EXIT_PROGRAM_ERRORS: u8 = 1;
/// Exit code for usage and I/O problems.
const EXIT_USAGE: u8 = 2;
/// Exit code after an internal compiler error.
const EXIT_INTERNAL: i32 = 101;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "error: internal compiler error: {message}{place} (this is a bug in ftc, please report it)"
        );
        std::process::exit(EXIT_INTERNAL);
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check {
            files,
            message_format,
        } => check(&files, message_format),
        Command::Explain { code } => explain(&code),
        Command::Lsp => lsp(),
        Command::Keygen { host, out, address } => keygen(host, out, address),
        Command::Pipeline(command) => commands::run(command),
    }
}

fn explain(code: &str) -> ExitCode {
    match ftc_frontend::codes::lookup(code) {
        Some(info) => {
            // A closed pipe (`ftc explain E0302 | head -1`) is not an error.
            let _ = writeln!(
                std::io::stdout(),
                "{}: {}\n\n{}",
                info.code,
                info.title,
                info.explanation
            );
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: `{code}` is not a diagnostic code of ftc");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn keygen(
    host: ftc_runtime::types::HostId,
    out: Option<PathBuf>,
    address: Option<String>,
) -> ExitCode {
    let name = ftc_runtime::cluster::host_name(host);
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{name}.key")));
    match ftc_runtime::identity::keygen(host, &path) {
        Ok(public) => {
            let line = match address {
                Some(a) => format!("{name} = {{ address = \"{a}\", public_key = \"{public}\" }}"),
                None => public.to_string(),
            };
            let _ = writeln!(std::io::stdout(), "{line}");
            eprintln!(
                "wrote {name}'s private key to {} (mode 0600)",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn lsp() -> ExitCode {
    match ftc_lsp::run_stdio() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the language server stopped: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.is_dir() {
        anyhow::bail!("`{}` is a directory", path.display());
    }
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

fn check(files: &[PathBuf], format: MessageFormat) -> ExitCode {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut io_failed = false;
    let mut program_failed = false;
    for path in files {
        let bytes = match read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e:#}");
                io_failed = true;
                continue;
            }
        };
        let name = path.display().to_string();
        let (mut output, text) = ftc_frontend::check_bytes(&bytes);
        // What the checker accepts but code generation cannot handle yet is
        // refused here too, so a program `check` calls clean also builds.
        if let Some(program) = &output.program {
            output
                .diagnostics
                .extend(ftc_transforms::unsupported(program));
        }
        let file = SourceFile::new(&name, &text);
        match format {
            MessageFormat::Human => {
                let shown = output.diagnostics.len().min(DIAGNOSTICS_SHOWN_MAX);
                let rendered = render_human(&output.diagnostics[..shown], &file, color);
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(rendered.as_bytes());
                if shown < output.diagnostics.len() {
                    let _ = writeln!(
                        err,
                        "note: {} more diagnostics in `{name}` not shown\n",
                        output.diagnostics.len() - shown
                    );
                }
            }
            MessageFormat::Json => {
                let mut out = std::io::stdout().lock();
                for d in &output.diagnostics {
                    let _ = writeln!(out, "{}", render_json(d, &file));
                }
            }
        }
        let (errors, warnings) = (output.error_count(), output.warning_count());
        if let Some(line) = summary(&name, errors, warnings) {
            eprintln!("{line}");
        }
        program_failed |= errors > 0;
    }
    if io_failed {
        ExitCode::from(EXIT_USAGE)
    } else if program_failed {
        ExitCode::from(EXIT_PROGRAM_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The rustc-like closing line for one file, if it had any diagnostics.
fn summary(name: &str, errors: usize, warnings: usize) -> Option<String> {
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) => Some(format!(
            "warning: `{name}` generated {}",
            plural(w, "warning")
        )),
        (e, 0) => Some(format!(
            "error: could not check `{name}` due to {}",
            plural(e, "previous error")
        )),
        (e, w) => Some(format!(
            "error: could not check `{name}` due to {}; {} emitted",
            plural(e, "previous error"),
            plural(w, "warning")
        )),
    }
}
