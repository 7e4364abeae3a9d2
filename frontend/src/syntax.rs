//! Syntax errors from the parser turned into diagnostics (codes `E0001`–`E0004`).

use crate::diagnostic::Diagnostic;
use ftc_grammar::{SyntaxError, SyntaxErrorKind};

/// At most this many expected tokens are listed; the rest are counted.
const EXPECTED_SHOWN_MAX: usize = 12;

fn expected_note(expected: &[String]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    let mut shown: Vec<&str> = expected
        .iter()
        .take(EXPECTED_SHOWN_MAX)
        .map(String::as_str)
        .collect();
    shown.sort_unstable();
    let mut text = format!("expected one of {}", shown.join(", "));
    if expected.len() > EXPECTED_SHOWN_MAX {
        text.push_str(&format!(
            " (and {} more)",
            expected.len() - EXPECTED_SHOWN_MAX
        ));
    }
    Some(text)
}

/// The diagnostic for one syntax error.
pub fn syntax_diagnostic(error: &SyntaxError) -> Diagnostic {
    #[allow(unreachable_patterns)] // the grammar may add kinds; unknown ones map to E0004
    match &error.kind {
        SyntaxErrorKind::UnexpectedToken { found, expected } => {
            let d = Diagnostic::error("E0001", format!("unexpected `{found}`"), error.span)
                .with_label("unexpected token");
            match expected_note(expected) {
                Some(note) => d.with_note(note),
                None => d,
            }
        }
        SyntaxErrorKind::UnexpectedEof { expected } => {
            let d = Diagnostic::error("E0002", "unexpected end of file", error.span)
                .with_label("the file ends here");
            match expected_note(expected) {
                Some(note) => d.with_note(note),
                None => d,
            }
        }
        SyntaxErrorKind::InvalidToken => {
            Diagnostic::error("E0003", "invalid token", error.span).with_label("not a CMSL token")
        }
        other => Diagnostic::error("E0004", format!("syntax error: {other:?}"), error.span)
            .with_label("here"),
    }
}
