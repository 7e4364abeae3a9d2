//! The CMSL source text with a line index, so that every line number the
//! generated code quotes costs a binary search, not a scan from the start.

use ftc_grammar::Span;

/// The source text and where each of its lines starts.
pub(crate) struct Source<'a> {
    text: &'a str,
    /// Byte offsets of line starts: `0`, then one past every `\n`.
    starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source { text, starts }
    }

    /// The 1-based line of a byte offset (as `ftc_grammar::line_col`).
    pub fn line(&self, offset: u32) -> usize {
        let offset = (offset as usize).min(self.text.len());
        self.starts.partition_point(|&s| s <= offset)
    }

    /// The text of a span ("" if it is not in the source).
    pub fn slice(&self, span: Span) -> &'a str {
        self.text.get(span.range()).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_agree_with_the_grammar_crate() {
        let text = "a\nbc\n\ndé f\n";
        let source = Source::new(text);
        // Spans start at character boundaries (and may point past the end).
        for offset in (0..=text.len() as u32 + 2)
            .filter(|&o| o as usize > text.len() || text.is_char_boundary(o as usize))
        {
            assert_eq!(
                source.line(offset),
                ftc_grammar::line_col(text, offset).0,
                "offset {offset}"
            );
        }
    }
}
