//! The CMSL lexer: logos turns source text into tokens; [`Lexer`] feeds them to the parser.
//!
//! Lexical errors never stop the parse. [`Lexer`] records each one and hands the
//! parser a harmless stand-in (an empty string for a bad string literal, `0` for
//! an integer that does not fit in `i64`) or nothing at all (a stray character,
//! an unterminated comment), so that one mistake yields one message.

use crate::ast::Span;
use crate::{SyntaxError, SyntaxErrorKind, MAX_NESTING_DEPTH};
use logos::{FilterResult, Logos};

/// Why logos could not make a token.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LexError {
    /// Text that starts no CMSL token.
    #[default]
    InvalidToken,
    /// A string literal that reaches the end of its line or of the file.
    UnterminatedString,
    /// A `/*` with no matching `*/`.
    UnterminatedComment,
    /// An escape other than `\n \t \\ \"`; `offset` is its byte offset in the literal.
    BadEscape { offset: usize, len: usize },
    /// An integer literal above `i64::MAX`.
    IntegerTooLarge,
}

/// One CMSL token. Keywords with synonyms share one variant (`real`, `float`
/// and `double` are all [`Token::Real`]).
#[derive(Clone, Debug, PartialEq, Logos)]
#[logos(error = LexError)]
// White space; a byte-order mark (which some editors write first) counts as one.
#[logos(skip r"[ \t\r\n\f\u{FEFF}]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Token<'src> {
    #[token("/*", block_comment)]
    BlockComment,

    // Keywords of MSL.
    #[token("class")]
    Class,
    #[token("public")]
    Public,
    #[token("private")]
    Private,
    #[token("attribute")]
    Attribute,
    #[token("relation")]
    Relation,
    #[token("new")]
    New,
    #[token("return")]
    Return,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("for")]
    For,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("this")]
    This,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("null")]
    Null,
    #[token("void")]
    Void,
    #[token("int")]
    Int,
    #[token("real")]
    #[token("float")]
    #[token("double")]
    Real,
    #[token("boolean")]
    #[token("bool")]
    Boolean,
    #[token("string")]
    String,
    #[token("list")]
    List,
    #[token("map")]
    Map,
    #[token("requires")]
    Requires,
    #[token("ensures")]
    Ensures,
    #[token("invariant")]
    Invariant,
    #[token("assert")]
    Assert,
    #[token("try")]
    Try,
    #[token("catch")]
    Catch,
    #[token("raise")]
    Raise,

    // Keywords added by CMSL.
    #[token("server")]
    Server,
    #[token("invoke")]
    Invoke,
    #[token("accept")]
    Accept,
    #[token("timeout")]
    Timeout,
    #[token("priority")]
    Priority,
    #[token("replicas")]
    Replicas,
    #[token("tolerate")]
    #[token("tolerance")]
    Tolerate,
    #[token("hosts")]
    Hosts,
    #[token("disjoint")]
    Disjoint,
    /// `durable`: a server property, but not reserved: the grammar also takes
    /// it as a name wherever an identifier may stand.
    #[token("durable")]
    Durable,
    #[token("model")]
    Model,
    #[token("correct")]
    Correct,
    #[token("crash")]
    Crash,
    #[token("byzantine")]
    Byzantine,
    #[token("host")]
    Host,
    #[token("future")]
    Future,
    #[token("every")]
    Every,

    // Punctuation and operators. There is no `>>`, so `list<list<int>>` lexes.
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token("::")]
    ColonColon,
    #[token("->")]
    Arrow,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("=")]
    Assign,
    #[token("+=")]
    PlusAssign,
    #[token("-=")]
    MinusAssign,
    #[token("*=")]
    StarAssign,
    #[token("/=")]
    SlashAssign,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,

    // Literals and names.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'src str),
    #[regex(r"[0-9][0-9_]*", lex_int)]
    IntLit(i64),
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", lex_real)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+", lex_real)]
    RealLit(f64),
    #[token("\"", lex_string)]
    StrLit(std::string::String),
}

/// Skips a `/* … */` comment (not nested); without a `*/` it is an error.
fn block_comment<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> FilterResult<(), LexError> {
    let rest = lex.remainder();
    match rest.find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            FilterResult::Skip
        }
        None => {
            // Report at the `/*` itself; the rest of the file is the comment.
            FilterResult::Error(LexError::UnterminatedComment)
        }
    }
}

fn lex_int<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> Result<i64, LexError> {
    let mut value: i64 = 0;
    for byte in lex.slice().bytes() {
        if byte == b'_' {
            continue;
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(byte - b'0')))
            .ok_or(LexError::IntegerTooLarge)?;
    }
    Ok(value)
}

fn lex_real<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> f64 {
    let slice = lex.slice();
    let parsed = if slice.contains('_') {
        slice.replace('_', "").parse::<f64>()
    } else {
        slice.parse::<f64>()
    };
    // The regexes only match text that `f64::from_str` accepts.
    parsed.unwrap_or(f64::NAN)
}

/// Lexes the rest of a string literal after its opening `"`.
fn lex_string<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> Result<String, LexError> {
    let rest = lex.remainder();
    let bytes = rest.as_bytes();
    let mut value = String::new();
    let mut bad_escape = None;
    let mut chunk_start = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => {
                value.push_str(rest.get(chunk_start..i).unwrap_or(""));
                lex.bump(i + 1);
                return match bad_escape {
                    Some(error) => Err(error),
                    None => Ok(value),
                };
            }
            b'\n' => break,
            b'\\' => {
                value.push_str(rest.get(chunk_start..i).unwrap_or(""));
                let decoded = match bytes.get(i + 1) {
                    Some(b'n') => Some('\n'),
                    Some(b't') => Some('\t'),
                    Some(b'\\') => Some('\\'),
                    Some(b'"') => Some('"'),
                    _ => None,
                };
                match decoded {
                    Some(c) => {
                        value.push(c);
                        i += 2;
                    }
                    None => {
                        // The escaped character may be several bytes long; `\` plus a newline
                        // or the end of the file is an unterminated string instead.
                        let len = rest
                            .get(i + 1..)
                            .and_then(|s| s.chars().next())
                            .filter(|&c| c != '\n')
                            .map_or(1, |c| 1 + c.len_utf8());
                        if bad_escape.is_none() {
                            bad_escape = Some(LexError::BadEscape { offset: 1 + i, len });
                        }
                        i += len;
                    }
                }
                chunk_start = i;
            }
            _ => i += 1,
        }
    }
    // No closing quote before the end of the line: the literal ends there.
    let end = i.min(rest.len());
    lex.bump(end);
    Err(LexError::UnterminatedString)
}

/// The token stream the parser reads: `(start, token, end)` triples, with
/// lexical errors moved aside into [`Lexer::errors`] and comments removed.
pub struct Lexer<'src> {
    inner: logos::Lexer<'src, Token<'src>>,
    /// Lexical errors met so far, in source order.
    pub errors: Vec<SyntaxError>,
    /// How many `(`, `[` and `{` are open.
    open_brackets: usize,
    /// Set when brackets nested deeper than [`MAX_NESTING_DEPTH`]: the token
    /// stream ends there, so the parser's stack stays small.
    pub cut_too_deep: bool,
}

impl<'src> Lexer<'src> {
    /// Lexes `source`, which must be at most `u32::MAX` bytes long (spans are `u32`).
    pub fn new(source: &'src str) -> Lexer<'src> {
        Lexer {
            inner: Token::lexer(source),
            errors: Vec::new(),
            open_brackets: 0,
            cut_too_deep: false,
        }
    }

    fn error(&mut self, kind: SyntaxErrorKind, start: usize, end: usize) {
        // A run of stray characters is one error, not one per character.
        if kind == SyntaxErrorKind::InvalidToken {
            if let Some(last) = self.errors.last_mut() {
                if last.kind == SyntaxErrorKind::InvalidToken && last.span.end as usize == start {
                    last.span.end = end as u32;
                    return;
                }
            }
        }
        self.errors.push(SyntaxError {
            span: Span::new(start, end),
            kind,
        });
    }
}

impl<'src> Iterator for Lexer<'src> {
    type Item = Result<(usize, Token<'src>, usize), std::convert::Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.cut_too_deep {
            return None;
        }
        loop {
            let result = self.inner.next()?;
            let span = self.inner.span();
            let token = match result {
                Ok(Token::BlockComment) => continue,
                Ok(token) => token,
                Err(LexError::InvalidToken) => {
                    self.error(SyntaxErrorKind::InvalidToken, span.start, span.end);
                    continue;
                }
                Err(LexError::UnterminatedComment) => {
                    self.error(
                        SyntaxErrorKind::UnterminatedComment,
                        span.start,
                        span.start + 2,
                    );
                    // The comment swallows the rest of the file.
                    return None;
                }
                Err(LexError::UnterminatedString) => {
                    self.error(SyntaxErrorKind::UnterminatedString, span.start, span.end);
                    Token::StrLit(std::string::String::new())
                }
                Err(LexError::BadEscape { offset, len }) => {
                    let start = span.start + offset;
                    self.error(SyntaxErrorKind::BadEscape, start, start + len);
                    Token::StrLit(std::string::String::new())
                }
                Err(LexError::IntegerTooLarge) => {
                    self.error(SyntaxErrorKind::IntegerTooLarge, span.start, span.end);
                    Token::IntLit(0)
                }
            };
            match token {
                Token::LParen | Token::LBracket | Token::LBrace => {
                    self.open_brackets += 1;
                    if self.open_brackets > MAX_NESTING_DEPTH {
                        self.error(
                            SyntaxErrorKind::TooDeep {
                                limit: MAX_NESTING_DEPTH,
                            },
                            span.start,
                            span.end,
                        );
                        self.cut_too_deep = true;
                        return None;
                    }
                }
                Token::RParen | Token::RBracket | Token::RBrace => {
                    self.open_brackets = self.open_brackets.saturating_sub(1);
                }
                _ => {}
            }
            return Some(Ok((span.start, token, span.end)));
        }
    }
}

/// How a token is named in messages: keywords and punctuation as written in
/// backquotes, names and literals by their class and text.
pub fn describe(token: &Token<'_>, text: &str) -> std::string::String {
    match token {
        Token::Ident(name) => format!("identifier `{name}`"),
        Token::IntLit(_) => format!("integer literal `{text}`"),
        Token::RealLit(_) => format!("real literal `{text}`"),
        Token::StrLit(_) => "string literal".to_string(),
        _ => format!("`{text}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of `source` and the errors met, rendered compactly.
    fn lex(
        source: &str,
    ) -> (
        Vec<Token<'_>>,
        Vec<(SyntaxErrorKind, std::ops::Range<usize>)>,
    ) {
        let mut lexer = Lexer::new(source);
        let tokens = lexer
            .by_ref()
            .filter_map(Result::ok)
            .map(|(_, t, _)| t)
            .collect();
        let errors = lexer
            .errors
            .iter()
            .map(|e| (e.kind.clone(), e.span.range()))
            .collect();
        (tokens, errors)
    }

    #[test]
    fn keywords_synonyms_and_names() {
        let (tokens, errors) =
            lex("real float double boolean bool tolerate tolerance main result timeout");
        assert!(errors.is_empty());
        assert_eq!(
            tokens,
            [
                Token::Real,
                Token::Real,
                Token::Real,
                Token::Boolean,
                Token::Boolean,
                Token::Tolerate,
                Token::Tolerate,
                Token::Ident("main"),
                Token::Ident("result"),
                Token::Timeout,
            ]
        );
        let (tokens, _) = lex("classy _x x1 every_one");
        assert_eq!(
            tokens,
            [
                Token::Ident("classy"),
                Token::Ident("_x"),
                Token::Ident("x1"),
                Token::Ident("every_one"),
            ]
        );
    }

    #[test]
    fn operators_and_no_shift_token() {
        let (tokens, _) = lex(">> :: : -> - -- -= ++ += <= < == = != !");
        assert_eq!(
            tokens,
            [
                Token::Gt,
                Token::Gt,
                Token::ColonColon,
                Token::Colon,
                Token::Arrow,
                Token::Minus,
                Token::MinusMinus,
                Token::MinusAssign,
                Token::PlusPlus,
                Token::PlusAssign,
                Token::Le,
                Token::Lt,
                Token::EqEq,
                Token::Assign,
                Token::NotEq,
                Token::Bang,
            ]
        );
    }

    #[test]
    fn numbers() {
        let (tokens, errors) = lex("0 42 1_000 5.0 0.25 1e-3 1.5E+10 2e5 1_0.5");
        assert!(errors.is_empty());
        assert_eq!(
            tokens,
            [
                Token::IntLit(0),
                Token::IntLit(42),
                Token::IntLit(1000),
                Token::RealLit(5.0),
                Token::RealLit(0.25),
                Token::RealLit(1e-3),
                Token::RealLit(1.5e10),
                Token::RealLit(2e5),
                Token::RealLit(10.5),
            ]
        );
        let (tokens, errors) = lex("9223372036854775807 9223372036854775808");
        assert_eq!(tokens, [Token::IntLit(i64::MAX), Token::IntLit(0)]);
        assert_eq!(errors, [(SyntaxErrorKind::IntegerTooLarge, 20..39)]);
    }

    #[test]
    fn strings_and_escapes() {
        let (tokens, errors) = lex(r#""a\n\t\\\"b" "" "é""#);
        assert!(errors.is_empty());
        assert_eq!(
            tokens,
            [
                Token::StrLit("a\n\t\\\"b".into()),
                Token::StrLit(String::new()),
                Token::StrLit("é".into()),
            ]
        );
        let (tokens, errors) = lex(r#"x "a\qb" y"#);
        assert_eq!(tokens.len(), 3);
        assert_eq!(errors, [(SyntaxErrorKind::BadEscape, 4..6)]);
        let (tokens, errors) = lex("x \"open\ny");
        assert_eq!(
            tokens,
            [
                Token::Ident("x"),
                Token::StrLit(String::new()),
                Token::Ident("y")
            ]
        );
        assert_eq!(errors, [(SyntaxErrorKind::UnterminatedString, 2..7)]);
        let (_, errors) = lex("\"\\");
        assert_eq!(errors, [(SyntaxErrorKind::UnterminatedString, 0..2)]);
    }

    #[test]
    fn byte_order_mark_is_white_space() {
        let (tokens, errors) = lex("\u{FEFF}void main");
        assert!(errors.is_empty());
        assert_eq!(tokens, [Token::Void, Token::Ident("main")]);
    }

    #[test]
    fn comments() {
        let (tokens, errors) = lex("a // b\n/* c\n d */ e /**/ f");
        assert!(errors.is_empty());
        assert_eq!(
            tokens,
            [Token::Ident("a"), Token::Ident("e"), Token::Ident("f")]
        );
        let (tokens, errors) = lex("a /* never closed\n b");
        assert_eq!(tokens, [Token::Ident("a")]);
        assert_eq!(errors, [(SyntaxErrorKind::UnterminatedComment, 2..4)]);
    }

    #[test]
    fn stray_characters_are_one_error_per_run() {
        let (tokens, errors) = lex("a @#$ b ` c");
        assert_eq!(
            tokens,
            [Token::Ident("a"), Token::Ident("b"), Token::Ident("c")]
        );
        assert_eq!(
            errors,
            [
                (SyntaxErrorKind::InvalidToken, 2..5),
                (SyntaxErrorKind::InvalidToken, 8..9),
            ]
        );
    }

    #[test]
    fn brackets_nested_too_deep_end_the_stream() {
        let source = "(".repeat(MAX_NESTING_DEPTH + 10);
        let mut lexer = Lexer::new(&source);
        assert_eq!(lexer.by_ref().count(), MAX_NESTING_DEPTH);
        assert!(lexer.cut_too_deep);
        assert_eq!(lexer.errors.len(), 1);
    }
}
