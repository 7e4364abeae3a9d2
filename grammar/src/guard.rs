//! Bounds on the parser's work: the token stream ends early on input that would make it slow.
//!
//! lalrpop's error recovery costs, for every token it skips, time proportional
//! to the parser's stack depth times the number of places on the stack where
//! recovery could resume. Nesting that the lexer's bracket limit does not see
//! (chains of `-` or `!`, `list<list<…`, `if`/`else`/`while`/`for` bodies
//! without braces) would let a few hundred kilobytes of input take hours. So
//! [`Guard`] ends the token stream, with one error, when
//! - more than [`MAX_NESTING_DEPTH`] prefix operators or generic types nest,
//!   or more than twice that many unbraced statement heads are open
//!   (a legal tree is never that deep): [`SyntaxErrorKind::TooDeep`];
//! - more than [`MAX_ERRORS`] syntax errors were found, or recovery skipped
//!   more than [`MAX_SKIPPED_TOKENS`] tokens in all:
//!   [`SyntaxErrorKind::TooManyErrors`].

use crate::ast::Span;
use crate::builder::Ctx;
use crate::lexer::{Lexer, Token};
use crate::{SyntaxErrorKind, MAX_NESTING_DEPTH};
use std::convert::Infallible;

/// Syntax errors reported before parsing stops.
pub const MAX_ERRORS: usize = 100;
/// Tokens the parser may read without building anything (while it skips
/// tokens to recover, or inside a long chain of prefix operators), in all.
pub const MAX_SKIPPED_TOKENS: usize = 4096;
/// A token read this long after the last node was built counts as skipped.
const SKIP_GAP: usize = 16;
/// Open `if`/`else`/`while`/`for` heads: each opens a tree level, an
/// `else if` rung two heads.
const MAX_HEADS: usize = 2 * MAX_NESTING_DEPTH;

type Triple<'src> = Result<(usize, Token<'src>, usize), Infallible>;

/// The lexer's tokens, passed on to the parser while they stay within bounds.
pub(crate) struct Guard<'a, 'src> {
    lexer: &'a mut Lexer<'src>,
    ctx: &'a Ctx<'src>,
    peeked: Option<Option<Triple<'src>>>,
    /// Open statement heads on the current path, and at the enclosing `{`.
    heads: usize,
    base: usize,
    /// `(base, parens)` of each enclosing `{`.
    outer: Vec<(usize, usize)>,
    /// Open `(` and `[` since the innermost `{`.
    parens: usize,
    prefix_run: usize,
    type_depth: usize,
    after_generic: bool,
    last_actions: u64,
    gap: usize,
    skipped: usize,
    done: bool,
    /// Set when the stream ended because of nesting: the tree is discarded.
    pub cut_too_deep: bool,
    /// Set when the stream ended for any reason of its own.
    pub cut: bool,
}

impl<'a, 'src> Guard<'a, 'src> {
    pub fn new(lexer: &'a mut Lexer<'src>, ctx: &'a Ctx<'src>) -> Guard<'a, 'src> {
        Guard {
            lexer,
            ctx,
            peeked: None,
            heads: 0,
            base: 0,
            outer: Vec::new(),
            parens: 0,
            prefix_run: 0,
            type_depth: 0,
            after_generic: false,
            last_actions: 0,
            gap: 0,
            skipped: 0,
            done: false,
            cut_too_deep: false,
            cut: false,
        }
    }

    fn next_is_else(&mut self) -> bool {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next());
        }
        matches!(self.peeked, Some(Some(Ok((_, Token::Else, _)))))
    }

    fn stop(&mut self, kind: SyntaxErrorKind, start: usize, end: usize) {
        if matches!(kind, SyntaxErrorKind::TooDeep { .. }) {
            self.cut_too_deep = true;
        }
        self.ctx.error(kind, Span::new(start, end));
        self.cut = true;
        self.done = true;
    }

    /// Checks one token; false when the stream must end before it.
    fn admit(&mut self, token: &Token<'src>, start: usize, end: usize) -> bool {
        let actions = self.ctx.actions();
        if actions == self.last_actions {
            self.gap += 1;
            if self.gap > SKIP_GAP {
                self.skipped += 1;
            }
        } else {
            self.gap = 0;
            self.last_actions = actions;
        }
        if self.skipped > MAX_SKIPPED_TOKENS || self.ctx.error_count() >= MAX_ERRORS {
            self.stop(
                SyntaxErrorKind::TooManyErrors { limit: MAX_ERRORS },
                start,
                end,
            );
            return false;
        }
        let too_deep = SyntaxErrorKind::TooDeep {
            limit: MAX_NESTING_DEPTH,
        };

        self.prefix_run = match token {
            Token::Minus | Token::Bang => self.prefix_run + 1,
            _ => 0,
        };
        if *token == Token::Lt && self.after_generic {
            self.type_depth += 1;
        } else if *token == Token::Gt {
            self.type_depth = self.type_depth.saturating_sub(1);
        }
        self.after_generic = matches!(token, Token::List | Token::Map | Token::Future);
        if self.prefix_run > MAX_NESTING_DEPTH || self.type_depth > MAX_NESTING_DEPTH {
            self.stop(too_deep, start, end);
            return false;
        }

        match token {
            Token::If | Token::While | Token::For | Token::Else => {
                self.heads += 1;
                if self.heads > MAX_HEADS {
                    self.stop(too_deep, start, end);
                    return false;
                }
            }
            Token::LParen | Token::LBracket => self.parens += 1,
            Token::RParen | Token::RBracket => self.parens = self.parens.saturating_sub(1),
            Token::LBrace => {
                self.outer.push((self.base, self.parens));
                self.base = self.heads;
                self.parens = 0;
                self.type_depth = 0;
            }
            Token::RBrace => {
                self.heads = self.base;
                let (base, parens) = self.outer.pop().unwrap_or((0, 0));
                self.base = base;
                self.parens = parens;
                self.type_depth = 0;
                // The statement this block was the body of ends, unless an `else` follows.
                if !self.next_is_else() {
                    self.heads = self.base;
                }
            }
            Token::Semi => {
                self.type_depth = 0;
                if self.parens == 0 && !self.next_is_else() {
                    self.heads = self.base;
                }
            }
            _ => {}
        }
        true
    }
}

impl<'src> Iterator for Guard<'_, 'src> {
    type Item = Triple<'src>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.peeked.take() {
            Some(item) => item,
            None => self.lexer.next(),
        }?;
        let Ok((start, token, end)) = item;
        if !self.admit(&token, start, end) {
            return None;
        }
        self.ctx.saw_token(start, end);
        Some(Ok((start, token, end)))
    }
}
