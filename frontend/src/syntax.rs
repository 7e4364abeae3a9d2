//! Syntax errors from the parser turned into diagnostics (codes `E0001`–`E0014`).

use crate::diagnostic::Diagnostic;
use ftc_grammar::{SyntaxError, SyntaxErrorKind};

/// The "expected …" part of the parser's own message, which names groups of
/// tokens ("an expression") where it can.
fn expected_note(kind: &SyntaxErrorKind) -> Option<String> {
    let text = kind.to_string();
    let (_, expected) = text.split_once(", expected ")?;
    Some(format!("expected {expected}"))
}

/// The diagnostic for one syntax error.
pub fn syntax_diagnostic(error: &SyntaxError) -> Diagnostic {
    // Exhaustive on purpose: a new kind of syntax error must get its own code.
    match &error.kind {
        SyntaxErrorKind::UnexpectedToken { found, .. } => {
            let d = Diagnostic::error("E0001", format!("unexpected {found}"), error.span)
                .with_label("unexpected token");
            match expected_note(&error.kind) {
                Some(note) => d.with_note(note),
                None => d,
            }
        }
        SyntaxErrorKind::UnexpectedEof { .. } => {
            let d = Diagnostic::error("E0002", "unexpected end of file", error.span)
                .with_label("the file ends here");
            match expected_note(&error.kind) {
                Some(note) => d.with_note(note),
                None => d,
            }
        }
        SyntaxErrorKind::InvalidToken => {
            Diagnostic::error("E0003", "invalid token", error.span).with_label("not a CMSL token")
        }
        SyntaxErrorKind::UnterminatedString => {
            Diagnostic::error("E0006", "unterminated string literal", error.span)
                .with_label("this string has no closing `\"` on its line")
                .with_help("close the string with `\"`; write a line break as `\\n`")
        }
        SyntaxErrorKind::UnterminatedComment => {
            Diagnostic::error("E0007", "unterminated block comment", error.span)
                .with_label("this `/*` is never closed")
                .with_help("close the comment with `*/` (comments do not nest)")
        }
        SyntaxErrorKind::BadEscape => {
            Diagnostic::error("E0008", "unknown escape sequence", error.span)
                .with_label("not one of `\\n`, `\\t`, `\\\\`, `\\\"`")
        }
        SyntaxErrorKind::IntegerTooLarge => Diagnostic::error(
            "E0009",
            "integer literal is too large for `int`",
            error.span,
        )
        .with_label("larger than 9223372036854775807")
        .with_help("use a `real` literal (`1e20`) if an approximation will do"),
        SyntaxErrorKind::TooDeep { limit } => {
            Diagnostic::error("E0010", "nesting is too deep", error.span)
                .with_label(format!("more than {limit} levels deep here"))
                .with_help("split the expression or statement with local variables or functions")
        }
        SyntaxErrorKind::TooManyErrors { limit } => {
            Diagnostic::error("E0014", "too many syntax errors: parsing stopped", error.span)
                .with_label("the parser gave up here")
                .with_note(format!(
                    "at most {limit} syntax errors are reported, and only so much text is skipped to recover"
                ))
                .with_help("fix the errors above and check again")
        }
        SyntaxErrorKind::SourceTooLarge => {
            Diagnostic::error("E0011", "the source file is larger than 4 GiB", error.span)
        }
        SyntaxErrorKind::InvokeNeedsMethodCall => Diagnostic::error(
            "E0307",
            "`invoke` of something that is not a server method call",
            error.span,
        )
        .with_label("expected `server->method(…)`"),
        SyntaxErrorKind::ForEveryNameMismatch { first, second } => Diagnostic::error(
            "E0012",
            format!("`for every {first}` bounds a different variable `{second}`"),
            error.span,
        )
        .with_label(format!("expected `{first}` here"))
        .with_help(format!("write `for every {first}, lo <= {first} < hi`")),
        SyntaxErrorKind::MissingSemicolon { found } => {
            Diagnostic::error("E0013", "missing `;`", error.span)
                .with_label(format!(
                    "expected `;` at the end of this statement, found {found}"
                ))
                .with_help("end the statement with `;`")
        }
    }
}
