//! Type relations: assignability and coercion, and the inference of plain
//! futures' result types.

use super::BodyChecker;
use crate::diagnostic::Diagnostic;
use crate::types::{ExceptionKind, FutureOf, Ty, VarId};
use ftc_grammar::{Expr, Span};

impl<'a> BodyChecker<'a, '_> {
    /// Can a `value` be stored where `target` is expected? Infers plain future results.
    pub(crate) fn coerce(&mut self, target: &Ty, value: &Ty, span: Span) -> bool {
        if value.is_unknown() {
            self.poison_futures(target);
            return true;
        }
        match (target, value) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::Real, Ty::Int) => true,
            (Ty::Class(_) | Ty::Future(_), Ty::Null) => true,
            (Ty::Class(t), Ty::Class(v)) => self.decls.is_subclass(*v, *t),
            // `S arr[n] = server S [n]`.
            (Ty::Array(e), Ty::Class(v)) if matches!(**e, Ty::Class(t) if t == *v) => {
                self.decls.classes[v.0 as usize].is_server
            }
            (Ty::Future(t), Ty::Future(v)) => self.coerce_future(t, v, span),
            (Ty::List(t), Ty::List(v)) | (Ty::Array(t), Ty::Array(v)) => self.same(t, v, span),
            (Ty::Map(tk, tv), Ty::Map(vk, vv)) => {
                self.same(tk, vk, span) && self.same(tv, vv, span)
            }
            (Ty::Exception(t), Ty::Exception(v)) => t == v || *t == ExceptionKind::Failure,
            (t, v) => t == v,
        }
    }

    /// A plain future that receives a value whose type is unknown (an error
    /// was reported) is not reported again as impossible to infer.
    pub(super) fn poison_futures(&mut self, target: &Ty) {
        match target {
            Ty::Future(FutureOf::Inferred(v)) => {
                self.future_results
                    .entry(*v)
                    .or_insert((Ty::Unknown, Span::default()));
            }
            Ty::Array(e) | Ty::List(e) => self.poison_futures(e),
            _ => {}
        }
    }

    /// Type equality inside containers (no widening), with future inference.
    pub(super) fn same(&mut self, t: &Ty, v: &Ty, span: Span) -> bool {
        match (t, v) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::Future(a), Ty::Future(b)) => self.coerce_future(a, b, span),
            (Ty::List(a), Ty::List(b)) | (Ty::Array(a), Ty::Array(b)) => self.same(a, b, span),
            (Ty::Map(a, b), Ty::Map(c, d)) => self.same(a, c, span) && self.same(b, d, span),
            _ => t == v,
        }
    }

    pub(super) fn future_of(&self, f: &FutureOf) -> Option<Ty> {
        match f {
            FutureOf::Known(t) => Some((**t).clone()),
            FutureOf::Inferred(v) => self.future_results.get(v).map(|(t, _)| t.clone()),
            FutureOf::Any => None,
        }
    }

    pub(super) fn coerce_future(
        &mut self,
        target: &FutureOf,
        value: &FutureOf,
        span: Span,
    ) -> bool {
        let vt = self.future_of(value);
        match target {
            FutureOf::Known(t) => match vt {
                Some(v) => self.same(t, &v, span),
                None => true,
            },
            FutureOf::Inferred(var) => {
                match (vt, value) {
                    (Some(v), _) => self.infer_future(*var, v, span),
                    // Not known yet (checked later): settled at the end.
                    (None, FutureOf::Inferred(source)) if source != var => {
                        self.future_aliases.push((*var, *source, span));
                    }
                    _ => {}
                }
                true
            }
            FutureOf::Any => true,
        }
    }

    /// Propagates result types along `future a = b` assignments whose source
    /// was not inferred yet when they were checked.
    pub(super) fn settle_future_aliases(&mut self) {
        let aliases = std::mem::take(&mut self.future_aliases);
        // Each round settles at least one alias or stops; chains are short.
        for _ in 0..aliases.len().min(64) {
            let mut changed = false;
            for &(target, source, span) in &aliases {
                let known = self
                    .future_results
                    .get(&source)
                    .filter(|(t, _)| !t.is_unknown())
                    .map(|(t, _)| t.clone());
                let open = self
                    .future_results
                    .get(&target)
                    .is_none_or(|(t, _)| t.is_unknown());
                if let (Some(t), true) = (known, open) {
                    self.infer_future(target, t, span);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Records that plain future `var` receives a `t` at `span`.
    pub(super) fn infer_future(&mut self, var: VarId, t: Ty, span: Span) {
        if t.is_unknown() {
            self.future_results
                .entry(var)
                .or_insert((Ty::Unknown, Span::default()));
            return;
        }
        match self.future_results.get(&var) {
            None | Some((Ty::Unknown, _)) => {
                self.future_results.insert(var, (t, span));
            }
            Some((prev, prev_span)) => {
                let (prev, prev_span) = (prev.clone(), *prev_span);
                if !self.same(&prev, &t, span) {
                    let name = self.decls.vars[var.0 as usize].name.clone();
                    self.diags.push(
                        Diagnostic::error(
                            "E0306",
                            format!("future `{name}` receives results of different types"),
                            span,
                        )
                        .with_label(format!("this gives `{}`", self.show(&t)))
                        .with_secondary(prev_span, format!("this gives `{}`", self.show(&prev)))
                        .with_help("use a separate future for each result type"),
                    );
                }
            }
        }
    }

    /// Checks `e` against `want`, with a mismatch error naming `what`.
    pub(super) fn expect_assign(&mut self, e: &'a Expr, want: &Ty, what: &str) {
        let got = self.value(e);
        if !self.coerce(want, &got, e.span) {
            self.diags.push(
                Diagnostic::error("E0200", "mismatched types", e.span)
                    .with_label(format!(
                        "expected `{}`, found `{}`",
                        self.show(want),
                        self.show(&got)
                    ))
                    .with_note(format!("the value must have {what}")),
            );
        }
    }

    /// Checks `e` against `want` (for positions like counts and indices).
    pub(super) fn expect(&mut self, e: &'a Expr, want: &Ty, what: &str) {
        let got = self.value(e);
        if !self.coerce(want, &got, e.span) {
            self.diags.push(
                Diagnostic::error("E0200", "mismatched types", e.span).with_label(format!(
                    "{what} must be `{}`, found `{}`",
                    self.show(want),
                    self.show(&got)
                )),
            );
        }
    }

    pub(super) fn condition(&mut self, e: &'a Expr, what: &str) {
        let got = self.value(e);
        if !matches!(got, Ty::Bool | Ty::Unknown) {
            self.diags.push(
                Diagnostic::error("E0203", format!("{what} must be a `boolean`"), e.span)
                    .with_label(format!("this is `{}`", self.show(&got)))
                    .with_help("compare explicitly, e.g. `x != 0`"),
            );
        }
    }
}
