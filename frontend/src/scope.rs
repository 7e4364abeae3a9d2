//! Lexical scopes of local variables: constant-time look-up and redeclaration checks.

use crate::types::VarId;
use std::collections::HashMap;

/// Nested scopes. Every binding is logged so a scope can be popped in time
/// proportional to what it declared; each name maps to its stack of
/// bindings, innermost last.
#[derive(Default)]
pub(crate) struct Scopes<'a> {
    log: Vec<&'a str>,
    marks: Vec<usize>,
    bindings: HashMap<&'a str, Vec<(VarId, usize)>>,
}

impl<'a> Scopes<'a> {
    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.log.clear();
        self.marks.clear();
        self.bindings.clear();
    }

    /// Opens a scope.
    pub(crate) fn push(&mut self) {
        self.marks.push(self.log.len());
    }

    /// Closes the innermost scope.
    pub(crate) fn pop(&mut self) {
        let mark = self.marks.pop().unwrap_or(0);
        self.truncate(mark);
    }

    /// The number of bindings made so far (for [`Scopes::truncate`]).
    pub(crate) fn len(&self) -> usize {
        self.log.len()
    }

    /// Undoes the bindings made after the first `len`.
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.log.len() > len {
            let Some(name) = self.log.pop() else { break };
            if let Some(stack) = self.bindings.get_mut(name) {
                stack.pop();
            }
        }
    }

    /// The innermost binding of `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<VarId> {
        self.bindings.get(name)?.last().map(|(v, _)| *v)
    }

    /// The binding of `name` in the innermost scope, if it has one.
    pub(crate) fn in_current(&self, name: &str) -> Option<VarId> {
        let depth = self.marks.len();
        self.bindings
            .get(name)?
            .last()
            .filter(|(_, d)| *d == depth)
            .map(|(v, _)| *v)
    }

    /// Binds `name` in the innermost scope.
    pub(crate) fn bind(&mut self, name: &'a str, var: VarId) {
        self.log.push(name);
        let depth = self.marks.len();
        self.bindings.entry(name).or_default().push((var, depth));
    }

    /// The names bound now (for suggestions).
    pub(crate) fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.bindings
            .iter()
            .filter(|(_, stack)| !stack.is_empty())
            .map(|(name, _)| *name)
    }
}
