//! `ftc replicate`: a source-to-source rewrite that makes a class a
//! replicated server. `class C` becomes `server class C` and every `new C`
//! becomes `server C model M tolerate (T)`; everything else (comments,
//! layout) is kept byte for byte. The result is checked again, so a class
//! that cannot be a server (shared state, …) is refused with the reasons.

use super::{report, EXIT_PROGRAM_ERRORS};
use anyhow::Context;
use clap::{Args, ValueEnum};
use ftc_grammar::{ExprKind, Item, TypeKind};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
enum ModelArg {
    Correct,
    Crash,
    Byzantine,
}

#[derive(Args)]
pub(crate) struct ReplicateArgs {
    /// The CMSL program.
    file: PathBuf,
    /// The class to replicate.
    #[arg(long)]
    class: String,
    /// The failure model of its replicas.
    #[arg(long, value_enum, default_value_t = ModelArg::Crash)]
    model: ModelArg,
    /// Replica failures to survive.
    #[arg(long, default_value_t = 1)]
    tolerate: u32,
    /// Number of replicas (raised if the model needs more).
    #[arg(long)]
    replicas: Option<u32>,
    #[command(flatten)]
    pub(crate) format: super::FormatArg,
}

/// The rewritten text, or a message saying why not.
pub(crate) fn rewrite(source: &str, args: &ReplicateArgs) -> Result<String, String> {
    let parsed = ftc_grammar::parse(source);
    let program = parsed.program;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut found = false;
    for item in &program.items {
        if let Item::Class(c) = item {
            if c.name.name == args.class {
                if c.is_server {
                    return Err(format!("`{}` is already a server class", args.class));
                }
                found = true;
                let start = c.span.start as usize;
                edits.push((start, start, "server ".to_string()));
            }
        }
    }
    if !found {
        return Err(format!("the program has no class `{}`", args.class));
    }
    let model = match args.model {
        ModelArg::Correct => "correct",
        ModelArg::Crash => "crash",
        ModelArg::Byzantine => "byzantine",
    };
    let mut server = format!(
        "server {} model {model} tolerate ({})",
        args.class, args.tolerate
    );
    if let Some(r) = args.replicas {
        server.push_str(&format!(" replicas ({r})"));
    }
    ftc_transforms::walk::exprs(&program, &mut |e| {
        if let ExprKind::New {
            ty,
            array_len: None,
        } = &e.kind
        {
            if matches!(&ty.kind, TypeKind::Named(n) if n.name == args.class) {
                edits.push((e.span.start as usize, e.span.end as usize, server.clone()));
            }
        }
    });
    edits.sort_by_key(|(s, _, _)| *s);
    let mut out = String::with_capacity(source.len() + 64 * edits.len());
    let mut at = 0;
    for (s, e, text) in edits {
        if s < at || e > source.len() {
            return Err("internal error: overlapping edits".into());
        }
        out.push_str(&source[at..s]);
        out.push_str(&text);
        at = e;
    }
    out.push_str(&source[at..]);
    Ok(out)
}

pub(crate) fn replicate(args: ReplicateArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let name = args.file.display().to_string();
    let (output, text) = ftc_frontend::check_bytes(&bytes);
    if report(&name, &text, &output.diagnostics) {
        super::messages::error(format_args!(
            "`{name}` has errors; fix them before replicating"
        ));
        return Ok(ExitCode::from(EXIT_PROGRAM_ERRORS));
    }
    let rewritten = match rewrite(&text, &args) {
        Ok(r) => r,
        Err(m) => {
            super::messages::error(m);
            return Ok(ExitCode::from(EXIT_PROGRAM_ERRORS));
        }
    };
    let checked = ftc_frontend::check_source(&rewritten);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == ftc_frontend::Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        super::messages::error(format_args!(
            "class `{}` cannot be a replicated server; the rewritten program has these errors:",
            args.class
        ));
        report(&format!("{name} (replicated)"), &rewritten, &errors);
        return Ok(ExitCode::from(EXIT_PROGRAM_ERRORS));
    }
    let _ = std::io::stdout().lock().write_all(rewritten.as_bytes());
    if super::messages::json() {
        super::messages::emit_json(serde_json::json!({
            "type": "replicated",
            "file": name,
            "class": args.class,
        }));
    }
    Ok(ExitCode::SUCCESS)
}
