//! How the pipeline commands report: rustc-like text on stderr, or with
//! `--message-format json` one JSON object per line on stderr, each with a
//! `type` (the schema is `docs/json.md`, checked by `tests/json.rs`). Stdout
//! stays the command's product: the program's output (`run`), the rewritten
//! source (`replicate`).

use clap::ValueEnum;
use ftc_frontend::render::{render_human, render_json_value, SourceFile};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// How diagnostics and events are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MessageFormat {
    /// rustc-like text on stderr.
    Human,
    /// One JSON object per line (`ftc check`: on stdout; the other commands:
    /// on stderr, since stdout carries their product).
    Json,
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Chooses the format for the rest of the process.
pub(crate) fn set(format: MessageFormat) {
    JSON.store(format == MessageFormat::Json, Ordering::SeqCst);
}

pub(crate) fn json() -> bool {
    JSON.load(Ordering::SeqCst)
}

/// Writes one JSON line on stderr.
pub(crate) fn emit_json(value: serde_json::Value) {
    let _ = writeln!(std::io::stderr().lock(), "{value}");
}

/// `human` on stderr, or the JSON event `event()`.
pub(crate) fn say(human: impl std::fmt::Display, event: impl FnOnce() -> serde_json::Value) {
    if json() {
        emit_json(event());
    } else {
        eprintln!("{human}");
    }
}

/// An error: `error: …` on stderr, or `{"type":"error","message":…}`.
pub(crate) fn error(message: impl std::fmt::Display) {
    let message = message.to_string();
    say(
        format_args!("error: {message}"),
        || serde_json::json!({ "type": "error", "message": message }),
    );
}

/// Prints diagnostics (warnings too); true when there were errors.
pub(crate) fn diagnostics(name: &str, text: &str, list: &[ftc_frontend::Diagnostic]) -> bool {
    let file = SourceFile::new(name, text);
    if json() {
        for d in list {
            emit_json(render_json_value(d, &file));
        }
    } else {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let rendered = render_human(list, &file, color);
        let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
    }
    list.iter()
        .any(|d| d.severity == ftc_frontend::Severity::Error)
}
