//! The pipeline commands: `emit`, `build`, `run`, `replicate`.

mod build;
mod replicate;
mod run;

use anyhow::Context;
use clap::Subcommand;
use ftc_frontend::render::{render_human, SourceFile};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code for errors in the program.
const EXIT_PROGRAM_ERRORS: u8 = 1;
/// Exit code for usage and I/O problems.
const EXIT_USAGE: u8 = 2;

#[derive(Subcommand)]
pub(crate) enum PipelineCommand {
    /// Write the Rust project generated from a CMSL program.
    Emit {
        /// The CMSL program.
        file: PathBuf,
        /// The directory to write `Cargo.toml` and `src/main.rs` to.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Compile CMSL programs to executables (one shared target directory).
    Build {
        /// The CMSL programs.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Build optimized (cargo's release profile; the first build of the
        /// runtime in this profile takes minutes).
        #[arg(long)]
        release: bool,
    },
    /// Build a program and run it on a local cluster of host kernels.
    Run(run::RunArgs),
    /// Rewrite a program so that a class becomes a replicated server.
    Replicate(replicate::ReplicateArgs),
}

/// Runs a pipeline command.
pub(crate) fn run(command: PipelineCommand) -> ExitCode {
    let result = match command {
        PipelineCommand::Emit { file, out } => emit(&file, &out),
        PipelineCommand::Build { files, release } => build::build_command(&files, release),
        PipelineCommand::Run(args) => run::run(args),
        PipelineCommand::Replicate(args) => replicate::replicate(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A program that passed every check and its generated crate.
pub(crate) struct Compiled {
    pub crate_: ftc_codegen::GeneratedCrate,
}

/// Prints diagnostics (warnings too) on stderr; true when there were errors.
fn report(name: &str, text: &str, diagnostics: &[ftc_frontend::Diagnostic]) -> bool {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let file = SourceFile::new(name, text);
    let rendered = render_human(diagnostics, &file, color);
    let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
    diagnostics
        .iter()
        .any(|d| d.severity == ftc_frontend::Severity::Error)
}

/// Reads, checks, lowers and generates; `Err(code)` after printing why not.
pub(crate) fn compile(path: &Path) -> anyhow::Result<Result<Compiled, ExitCode>> {
    if path.is_dir() {
        anyhow::bail!("`{}` is a directory", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let name = path.display().to_string();
    let (output, text) = ftc_frontend::check_bytes(&bytes);
    if report(&name, &text, &output.diagnostics) {
        eprintln!("error: could not compile `{name}` due to errors in the program");
        return Ok(Err(ExitCode::from(EXIT_PROGRAM_ERRORS)));
    }
    let Some(program) = output.program else {
        eprintln!("error: could not compile `{name}`");
        return Ok(Err(ExitCode::from(EXIT_PROGRAM_ERRORS)));
    };
    let ir = match ftc_transforms::lower(&program) {
        Ok(ir) => ir,
        Err(unsupported) => {
            let diagnostics: Vec<_> = unsupported.iter().map(|u| u.diagnostic()).collect();
            report(&name, &text, &diagnostics);
            eprintln!("error: could not compile `{name}` due to errors in the program");
            return Ok(Err(ExitCode::from(EXIT_PROGRAM_ERRORS)));
        }
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "program".into());
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| name.clone());
    let options = ftc_codegen::Options {
        file_name,
        package: ftc_codegen::package_name(&stem),
        runtime_dir: ftc_codegen::runtime_dir(),
    };
    let crate_ = ftc_codegen::generate(&program, &ir, &text, &options)?;
    Ok(Ok(Compiled { crate_ }))
}

/// Writes a file only when its content changes (keeps cargo's freshness).
pub(crate) fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

fn emit(file: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let compiled = match compile(file)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let toml = format!("{}\n[workspace]\n", compiled.crate_.cargo_toml);
    write_if_changed(&out.join("Cargo.toml"), &toml)?;
    write_if_changed(&out.join("src/main.rs"), &compiled.crate_.main_rs)?;
    Ok(ExitCode::SUCCESS)
}
