//! One open document: its text, its diagnostics, and the last version that parsed.

use crate::index::SymbolIndex;
use crate::text::LineIndex;
use ftc_frontend::{CheckedProgram, Diagnostic};

/// A version of the text that parsed, with its tables and their index. Spans
/// in `program` and `index` refer to `text`.
#[derive(Debug)]
pub struct Analyzed {
    /// The text checked.
    pub text: String,
    /// Its lines.
    pub lines: LineIndex,
    /// Its tables (partial where there were errors).
    pub program: CheckedProgram,
    /// Where its symbols are named.
    pub index: SymbolIndex,
}

/// An open document.
#[derive(Debug)]
pub struct Document {
    /// The current text.
    pub text: String,
    /// Its lines.
    pub lines: LineIndex,
    /// The current text's diagnostics, exactly as `ftc check` reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// The newest version that parsed: the current text unless it has syntax
    /// errors (half-typed code such as `x->`), when positions are mapped by
    /// line and column.
    pub analyzed: Option<Analyzed>,
}

impl Document {
    /// Checks `text`, keeping the previous tables when it does not parse.
    pub fn new(text: String, previous: Option<Analyzed>) -> Document {
        let analysis = ftc_frontend::analyze_source(&text);
        let lines = LineIndex::new(&text);
        let analyzed = match analysis.program {
            Some(program) => {
                let index = SymbolIndex::build(&program, &text);
                Some(Analyzed {
                    text: text.clone(),
                    lines: lines.clone(),
                    program,
                    index,
                })
            }
            None => previous,
        };
        Document {
            text,
            lines,
            diagnostics: analysis.diagnostics,
            analyzed,
        }
    }
}
