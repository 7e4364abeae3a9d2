//! The pipeline commands: `emit`, `build`, `run`, `replicate`, `new`.

mod build;
pub(crate) mod messages;
mod new;
mod replicate;
mod run;

use anyhow::Context;
use clap::Subcommand;
use messages::MessageFormat;
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
        #[command(flatten)]
        optimize: OptimizeArg,
        #[command(flatten)]
        format: FormatArg,
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
        #[command(flatten)]
        optimize: OptimizeArg,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Build a program and run it on a local cluster of host kernels.
    Run(run::RunArgs),
    /// Rewrite a program so that a class becomes a replicated server.
    Replicate(replicate::ReplicateArgs),
    /// Start a project: NAME/ with a program whose server is replicated, its
    /// README, expected output and a test script.
    New {
        /// The project's name (lowercase letters, digits, `_`).
        name: String,
    },
}

/// `--message-format`, shared by the pipeline commands.
#[derive(clap::Args, Clone, Copy)]
pub(crate) struct FormatArg {
    /// How diagnostics and events are printed (json: one object per line on
    /// stderr; schema in docs/json.md).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

/// `-O LEVEL` and `--report-optimizations`, shared by `emit`, `build` and `run`.
#[derive(clap::Args, Clone, Copy)]
pub(crate) struct OptimizeArg {
    /// 1 (the default): consecutive independent calls on servers that can
    /// be made in parallel without any observable difference are made in
    /// parallel (LANGUAGE.md, "Optimization"); 0 (`-O0`): every call is made
    /// when its statement runs.
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(0..=1))]
    pub level: u8,
    /// Say which calls are made in parallel (one note per run of calls).
    #[arg(long)]
    pub report_optimizations: bool,
}

/// Runs a pipeline command.
pub(crate) fn run(command: PipelineCommand) -> ExitCode {
    let format = match &command {
        PipelineCommand::Emit { format, .. } | PipelineCommand::Build { format, .. } => *format,
        PipelineCommand::Run(args) => args.format,
        PipelineCommand::Replicate(args) => args.format,
        PipelineCommand::New { .. } => FormatArg {
            message_format: MessageFormat::Human,
        },
    };
    messages::set(format.message_format);
    let result = match command {
        PipelineCommand::Emit {
            file,
            out,
            optimize,
            ..
        } => emit(&file, &out, optimize),
        PipelineCommand::Build {
            files,
            release,
            optimize,
            ..
        } => build::build_command(&files, release, optimize),
        PipelineCommand::Run(args) => run::run(args),
        PipelineCommand::Replicate(args) => replicate::replicate(args),
        PipelineCommand::New { name } => new::new_project(&name),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            messages::error(format_args!("{e:#}"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A program that passed every check and its generated crate.
pub(crate) struct Compiled {
    pub crate_: ftc_codegen::GeneratedCrate,
}

/// Prints diagnostics (warnings too); true when there were errors.
fn report(name: &str, text: &str, diagnostics: &[ftc_frontend::Diagnostic]) -> bool {
    messages::diagnostics(name, text, diagnostics)
}

/// Reads, checks, lowers and generates; `Err(code)` after printing why not.
pub(crate) fn compile(
    path: &Path,
    optimize: OptimizeArg,
) -> anyhow::Result<Result<Compiled, ExitCode>> {
    if path.is_dir() {
        anyhow::bail!("`{}` is a directory", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let name = path.display().to_string();
    let (output, text) = ftc_frontend::check_bytes(&bytes);
    if report(&name, &text, &output.diagnostics) {
        messages::error(format_args!(
            "could not compile `{name}` due to errors in the program"
        ));
        return Ok(Err(ExitCode::from(EXIT_PROGRAM_ERRORS)));
    }
    let Some(program) = output.program else {
        messages::error(format_args!("could not compile `{name}`"));
        return Ok(Err(ExitCode::from(EXIT_PROGRAM_ERRORS)));
    };
    let ir = match ftc_transforms::lower(&program) {
        Ok(ir) if optimize.level == 0 => ir.sequential(),
        Ok(ir) => ir,
        Err(unsupported) => {
            let diagnostics: Vec<_> = unsupported.iter().map(|u| u.diagnostic()).collect();
            report(&name, &text, &diagnostics);
            messages::error(format_args!(
                "could not compile `{name}` due to errors in the program"
            ));
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
    if optimize.report_optimizations {
        report_parallel_runs(&name, &text, &ir);
    }
    let crate_ = ftc_codegen::generate(&program, &ir, &text, &options)?;
    Ok(Ok(Compiled { crate_ }))
}

/// `--report-optimizations`: a note per run of calls made in parallel.
fn report_parallel_runs(name: &str, text: &str, ir: &ftc_transforms::ProgramIr) {
    let line_of = |offset: u32| {
        let end = (offset as usize).min(text.len());
        1 + text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    };
    for run in &ir.parallel.runs {
        let lines: Vec<usize> = run.stmts.iter().map(|s| line_of(s.start)).collect();
        let shown: Vec<String> = lines.iter().map(usize::to_string).collect();
        messages::say(
            format_args!(
                "{name}:{}: note: {} calls on servers are made in parallel (lines {})",
                lines[0],
                lines.len(),
                shown.join(", ")
            ),
            || serde_json::json!({ "type": "parallelized", "file": name, "lines": lines }),
        );
    }
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

fn emit(file: &Path, out: &Path, optimize: OptimizeArg) -> anyhow::Result<ExitCode> {
    let compiled = match compile(file, optimize)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let toml = format!("{}\n[workspace]\n", compiled.crate_.cargo_toml);
    write_if_changed(&out.join("Cargo.toml"), &toml)?;
    write_if_changed(&out.join("src/main.rs"), &compiled.crate_.main_rs)?;
    if messages::json() {
        messages::emit_json(serde_json::json!({
            "type": "emitted",
            "file": file.display().to_string(),
            "dir": out.display().to_string(),
        }));
    }
    Ok(ExitCode::SUCCESS)
}
