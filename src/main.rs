//! The `ftc` command-line interface: check, explain (and later emit, build, run, replicate).

use clap::{Parser, Subcommand};
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

#[derive(Subcommand)]
enum Command {
    /// Check CMSL files and report diagnostics.
    Check {
        /// The CMSL source files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check { files } => {
            for f in files {
                eprintln!(
                    "error: `ftc check` is not implemented yet ({})",
                    f.display()
                );
            }
            ExitCode::from(2)
        }
    }
}
