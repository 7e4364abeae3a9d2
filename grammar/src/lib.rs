//! CMSL lexer (logos), grammar (lalrpop) and abstract syntax tree with spans.
//!
//! Entry point: [`parse`]. It never fails and never panics: it returns the tree
//! it could build plus every syntax error it found, recovering so that one run
//! reports several mistakes.
//!
//! No tree it returns is deeper than [`MAX_NESTING_DEPTH`] nested expressions,
//! statements and blocks, so later passes may recurse over it freely.

pub mod ast;
mod builder;
mod depth;
mod guard;
pub mod lexer;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, missing_docs)]
    grammar
);

pub use ast::*;
pub use depth::{nesting_depth, MAX_NESTING_DEPTH};
pub use guard::{MAX_ERRORS, MAX_SKIPPED_TOKENS};

use std::fmt;

/// A syntax error: what went wrong and where. Rendering (codes, labels, help)
/// is the front end's business; [`fmt::Display`] gives the plain message.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// Where: the offending token, or an empty span where something is missing.
    pub span: Span,
    /// What went wrong.
    pub kind: SyntaxErrorKind,
}

/// What kind of syntax error. Token lists are written as in messages:
/// keywords and punctuation in backquotes (`` `;` ``), classes of tokens
/// plainly (`identifier`, `integer literal`).
#[derive(Clone, Debug, PartialEq)]
pub enum SyntaxErrorKind {
    /// A token the grammar did not expect here; `expected` lists every
    /// terminal that could have come instead, as written in source (the
    /// message names large groups of them, such as "an expression").
    UnexpectedToken {
        /// The token, described: `` `;` ``, ``identifier `x` ``, ``integer literal `42` ``.
        found: String,
        /// Every terminal that would have been accepted instead.
        expected: Vec<String>,
    },
    /// A statement or declaration not ended by `;` before the next line
    /// starts with `found`; the span is just after the statement.
    MissingSemicolon { found: String },
    /// The file ended where the grammar expected more.
    UnexpectedEof { expected: Vec<String> },
    /// Text that is not a CMSL token.
    InvalidToken,
    /// A string literal with no closing `"` on its line.
    UnterminatedString,
    /// A `/*` comment with no closing `*/`.
    UnterminatedComment,
    /// A backslash escape other than `\n`, `\t`, `\\` and `\"`.
    BadEscape,
    /// An integer literal larger than the largest `int` (2^63 - 1).
    IntegerTooLarge,
    /// Expressions, statements or types nested deeper than `limit`.
    TooDeep { limit: usize },
    /// Parsing stopped: more than `limit` syntax errors, or error recovery
    /// had to skip too much of the input.
    TooManyErrors { limit: usize },
    /// The source is longer than `u32::MAX` bytes.
    SourceTooLarge,
    /// `invoke` applied to something other than a method call `r->m(args)`.
    InvokeNeedsMethodCall,
    /// `for every i, lo <= j < hi`: the two names of the bounded variable differ.
    ForEveryNameMismatch { first: String, second: String },
}

/// Tokens that can start an expression, as listed in `expected`.
const EXPRESSION_STARTS: &[&str] = &[
    "`new`",
    "`this`",
    "`true`",
    "`false`",
    "`null`",
    "`server`",
    "`invoke`",
    "`accept`",
    "`host`",
    "`(`",
    "`-`",
    "`!`",
    "identifier",
    "integer literal",
    "real literal",
    "string literal",
];

/// Tokens besides those of expressions that can start a statement.
const STATEMENT_KEYWORDS: &[&str] = &[
    "`return`",
    "`if`",
    "`while`",
    "`for`",
    "`break`",
    "`continue`",
    "`assert`",
    "`try`",
    "`raise`",
    "`{`",
    "`;`",
    "`void`",
    "`int`",
    "`real`",
    "`boolean`",
    "`string`",
    "`list`",
    "`map`",
    "`future`",
];

/// The binary operators, as listed in `expected`.
const BINARY_OPERATORS: &[&str] = &[
    "`+`", "`-`", "`*`", "`/`", "`%`", "`==`", "`!=`", "`<`", "`<=`", "`>`", "`>=`", "`&&`", "`||`",
];

/// `expected` for a message: when every token that starts an expression (or
/// every binary operator) is expected, they are named as one group.
fn summarize(expected: &[String]) -> Vec<String> {
    let has_all = |group: &[&str]| group.iter().all(|t| expected.iter().any(|e| e == t));
    let mut groups: Vec<(&[&str], &str)> = Vec::new();
    if has_all(EXPRESSION_STARTS) && has_all(STATEMENT_KEYWORDS) {
        groups.push((EXPRESSION_STARTS, "a statement"));
        groups.push((STATEMENT_KEYWORDS, "a statement"));
    } else if has_all(EXPRESSION_STARTS) {
        groups.push((EXPRESSION_STARTS, "an expression"));
    }
    if has_all(BINARY_OPERATORS) {
        groups.push((BINARY_OPERATORS, "an operator"));
    }
    let mut out: Vec<String> = expected
        .iter()
        .filter(|e| !groups.iter().any(|(group, _)| group.contains(&e.as_str())))
        .cloned()
        .collect();
    for (_, name) in &groups {
        if !out.iter().any(|e| e == name) {
            out.push((*name).to_string());
        }
    }
    out
}

impl fmt::Display for SyntaxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(f: &mut fmt::Formatter<'_>, expected: &[String]) -> fmt::Result {
            match summarize(expected).as_slice() {
                [] => Ok(()),
                [only] => write!(f, ", expected {only}"),
                [init @ .., last] => write!(f, ", expected one of {} or {last}", init.join(", ")),
            }
        }
        match self {
            SyntaxErrorKind::UnexpectedToken { found, expected } => {
                write!(f, "unexpected {found}")?;
                list(f, expected)
            }
            SyntaxErrorKind::MissingSemicolon { found } => {
                write!(f, "expected `;` at the end of this statement, found {found}")
            }
            SyntaxErrorKind::UnexpectedEof { expected } => {
                write!(f, "unexpected end of file")?;
                list(f, expected)
            }
            SyntaxErrorKind::InvalidToken => write!(f, "this text is not a CMSL token"),
            SyntaxErrorKind::UnterminatedString => {
                write!(f, "unterminated string literal: no closing `\"` on this line")
            }
            SyntaxErrorKind::UnterminatedComment => {
                write!(f, "unterminated comment: this `/*` has no matching `*/`")
            }
            SyntaxErrorKind::BadEscape => write!(
                f,
                "unknown escape sequence: only `\\n`, `\\t`, `\\\\` and `\\\"` are allowed"
            ),
            SyntaxErrorKind::IntegerTooLarge => write!(
                f,
                "integer literal too large: the largest `int` is 9223372036854775807"
            ),
            SyntaxErrorKind::TooDeep { limit } => write!(
                f,
                "nesting too deep: at most {limit} nested expressions, statements and blocks are allowed"
            ),
            SyntaxErrorKind::TooManyErrors { limit } => write!(
                f,
                "too many syntax errors (at most {limit} are reported, and only so much \
                 text is skipped to recover): parsing stopped here"
            ),
            SyntaxErrorKind::SourceTooLarge => {
                write!(f, "source file too large: at most 4294967295 bytes are allowed")
            }
            SyntaxErrorKind::InvokeNeedsMethodCall => write!(
                f,
                "`invoke` needs a method call on a server, such as `invoke s->m(args)`"
            ),
            SyntaxErrorKind::ForEveryNameMismatch { first, second } => write!(
                f,
                "`for every {first}` bounds `{second}`: the bounded variable must be `{first}`"
            ),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

/// The result of parsing one source file.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The tree, with `Error` nodes where recovery skipped input.
    pub program: Program,
    /// Every syntax error, in source order. The program is still as complete
    /// as recovery allowed, except after [`SyntaxErrorKind::TooDeep`] or
    /// [`SyntaxErrorKind::SourceTooLarge`], when it is empty.
    pub errors: Vec<SyntaxError>,
}

/// Parses a whole CMSL source file. Never panics, never fails.
pub fn parse(source: &str) -> Parsed {
    let empty = Program { items: Vec::new() };
    if u32::try_from(source.len()).is_err() {
        return Parsed {
            program: empty,
            errors: vec![SyntaxError {
                span: Span::default(),
                kind: SyntaxErrorKind::SourceTooLarge,
            }],
        };
    }
    let ctx = builder::Ctx::new(source);
    let mut lexer = lexer::Lexer::new(source);
    let mut tokens = guard::Guard::new(&mut lexer, &ctx);
    let result = grammar::ProgramParser::new().parse(&ctx, &mut tokens);
    let (guard_cut, guard_too_deep) = (tokens.cut, tokens.cut_too_deep);
    let (program, mut errors, too_deep) = ctx.finish(result, source.len());
    let too_deep = too_deep || guard_too_deep || lexer.cut_too_deep;
    if lexer.cut_too_deep || guard_cut {
        // The token stream ended early on purpose: the parser's complaint
        // about the missing rest is not the user's mistake.
        errors.retain(|e| !matches!(e.kind, SyntaxErrorKind::UnexpectedEof { .. }));
    }
    errors.append(&mut lexer.errors);
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    let errors = drop_cascades(source, errors);
    if too_deep {
        return Parsed {
            program: empty,
            errors,
        };
    }
    depth::limit_depth(program, errors)
}

/// Keeps the first error of a line: after recovering, the parser often trips
/// again over the rest of the broken line, and a bad token or an
/// unterminated string usually breaks the statement it is in. Lexical errors
/// are always kept. `errors` must be sorted by position; lines are counted
/// in one pass.
fn drop_cascades(source: &str, errors: Vec<SyntaxError>) -> Vec<SyntaxError> {
    let bytes = source.as_bytes();
    let mut kept: Vec<SyntaxError> = Vec::with_capacity(errors.len());
    let mut counted_to = 0usize;
    let mut line = 1usize;
    // Parse errors up to this line are taken as consequences of an earlier error.
    let mut shadow_until_line = 0usize;
    for error in errors {
        let offset = (error.span.start as usize).min(bytes.len());
        if offset > counted_to {
            line += bytes
                .get(counted_to..offset)
                .map_or(0, |chunk| chunk.iter().filter(|&&b| b == b'\n').count());
            counted_to = offset;
        }
        let is_parse_error = matches!(
            error.kind,
            SyntaxErrorKind::UnexpectedToken { .. }
                | SyntaxErrorKind::UnexpectedEof { .. }
                | SyntaxErrorKind::MissingSemicolon { .. }
        );
        if is_parse_error && line <= shadow_until_line {
            continue;
        }
        // An unterminated string also swallows the `;` that ended its line.
        let shadow = if error.kind == SyntaxErrorKind::UnterminatedString {
            line + 1
        } else {
            line
        };
        shadow_until_line = shadow_until_line.max(shadow);
        kept.push(error);
    }
    kept
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: u32) -> (usize, usize) {
    let offset = (offset as usize).min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}
