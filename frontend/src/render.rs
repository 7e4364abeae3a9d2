//! Rendering diagnostics at the edge: rustc-like text (codespan-reporting) or one JSON object per line.

use crate::diagnostic::{Diagnostic, Label as DiagLabel, Severity};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor, Config, Styles, StylesWriter};
use ftc_grammar::Span;

/// One source file as diagnostics see it: its display name, its text and its line starts.
pub struct SourceFile<'a> {
    name: &'a str,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceFile<'a> {
    /// Indexes `text` (computing line starts once).
    pub fn new(name: &'a str, text: &'a str) -> SourceFile<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name,
            text,
            line_starts,
        }
    }

    /// Clamps a byte offset into the text and back onto a character boundary.
    fn clamp(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// The length in bytes of the line holding `offset`.
    fn line_len(&self, offset: usize) -> usize {
        let offset = self.clamp(offset);
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let end = self
            .line_starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len());
        end - self.line_starts[line]
    }

    fn range(&self, span: Span) -> std::ops::Range<usize> {
        let start = self.clamp(span.start as usize);
        let end = self.clamp(span.end as usize).max(start);
        start..end
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(offset);
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let column = self.text[self.line_starts[line]..offset].chars().count();
        (line + 1, column + 1)
    }
}

fn to_codespan(d: &Diagnostic, file: &SourceFile<'_>) -> cs::Diagnostic<()> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels =
        vec![cs::Label::primary((), file.range(d.primary.span)).with_message(&d.primary.message)];
    labels.extend(
        d.secondary
            .iter()
            .map(|l| cs::Label::secondary((), file.range(l.span)).with_message(&l.message)),
    );
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// Lines longer than this are not quoted (a minified or binary file would
/// print megabytes); the diagnostic is rendered without a snippet.
const QUOTED_LINE_LEN_MAX: usize = 2000;

/// A diagnostic without source snippet: header, location, labels, notes.
fn render_compact(d: &Diagnostic, file: &SourceFile<'_>) -> String {
    let (line, column) = file.line_column(file.range(d.primary.span).start);
    let mut out = format!(
        "{}[{}]: {}\n  --> {}:{}:{}\n",
        d.severity.as_str(),
        d.code,
        d.message,
        file.name,
        line,
        column
    );
    if !d.primary.message.is_empty() {
        out.push_str(&format!("  = {}\n", d.primary.message));
    }
    for l in &d.secondary {
        let (line, column) = file.line_column(file.range(l.span).start);
        out.push_str(&format!("  = {line}:{column}: {}\n", l.message));
    }
    for n in &d.notes {
        out.push_str(&format!("  = note: {n}\n"));
    }
    if let Some(h) = &d.help {
        out.push_str(&format!("  = help: {h}\n"));
    }
    out.push('\n');
    out
}

/// Renders diagnostics as rustc-like text; `color` adds ANSI colours (for a terminal).
pub fn render_human(diagnostics: &[Diagnostic], file: &SourceFile<'_>, color: bool) -> String {
    let config = Config::default();
    let files = SimpleFile::new(file.name, file.text);
    let mut out = String::new();
    for d in diagnostics {
        let long_line = std::iter::once(&d.primary)
            .chain(&d.secondary)
            .any(|l| file.line_len(l.span.start as usize) > QUOTED_LINE_LEN_MAX);
        if long_line {
            out.push_str(&render_compact(d, file));
            continue;
        }
        let cs_diag = to_codespan(d, file);
        let rendered = if color {
            let mut buffer = termcolor::Buffer::ansi();
            let styles = Styles::default();
            let mut writer = StylesWriter::new(&mut buffer, &styles);
            term::emit_to_write_style(&mut writer, &config, &files, &cs_diag)
                .map(|()| String::from_utf8_lossy(buffer.as_slice()).into_owned())
        } else {
            term::emit_into_string(&config, &files, &cs_diag)
        };
        match rendered {
            Ok(text) => out.push_str(&text),
            // Spans are clamped above, so this is not expected; fall back to one line.
            Err(_) => {
                out.push_str(&format!(
                    "{}[{}]: {}\n",
                    d.severity.as_str(),
                    d.code,
                    d.message
                ));
            }
        }
    }
    out
}

fn label_json(label: &DiagLabel, primary: bool, file: &SourceFile<'_>) -> serde_json::Value {
    let range = file.range(label.span);
    let (line, column) = file.line_column(range.start);
    let (end_line, end_column) = file.line_column(range.end);
    serde_json::json!({
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "message": label.message,
        "primary": primary,
    })
}

/// Renders one diagnostic as a single-line JSON object (no trailing newline).
///
/// Fields: `type` (`"diagnostic"`), `code, severity, message, file, line, column` (1-based, of the
/// primary span's start), `labels` (each `line, column, end_line, end_column,
/// message, primary`), `notes` (strings) and `help` (string or null).
pub fn render_json(d: &Diagnostic, file: &SourceFile<'_>) -> String {
    render_json_value(d, file).to_string()
}

/// [`render_json`] as a value, `"type": "diagnostic"` included.
pub fn render_json_value(d: &Diagnostic, file: &SourceFile<'_>) -> serde_json::Value {
    let (line, column) = file.line_column(file.range(d.primary.span).start);
    let mut labels = vec![label_json(&d.primary, true, file)];
    labels.extend(d.secondary.iter().map(|l| label_json(l, false, file)));
    serde_json::json!({
        "type": "diagnostic",
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": file.name,
        "line": line,
        "column": column,
        "labels": labels,
        "notes": d.notes,
        "help": d.help,
    })
}
