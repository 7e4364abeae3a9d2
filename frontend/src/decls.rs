//! The declaration tables: what `collect` finds (classes, members, functions,
//! variables, globals and `main`) and the lookups later passes ask of it.
//!
//! Body checking reads these tables and adds each local variable; the server
//! rules only read them.

use crate::diagnostic::Diagnostic;
use crate::program::{ClassInfo, FunctionInfo, VarInfo, VarKind};
use crate::types::{ClassId, FnId, FutureOf, Ty, VarId};
use ftc_grammar::{ClassDecl, Span, TypeExpr, TypeKind};
use std::collections::HashMap;

/// Result types of plain futures inferred so far, with the span that fixed each.
pub(crate) type FutureResults = HashMap<VarId, (Ty, Span)>;

/// A class member as found by name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Member {
    State(VarId),
    Method(FnId),
}

/// Every declaration of a program, by id and by name.
#[derive(Default)]
pub(crate) struct Declarations<'a> {
    pub classes: Vec<ClassInfo>,
    pub class_items: Vec<&'a ClassDecl>,
    pub class_by_name: HashMap<&'a str, ClassId>,
    pub members: HashMap<(ClassId, &'a str), Member>,
    pub functions: Vec<FunctionInfo>,
    pub fn_by_name: HashMap<&'a str, FnId>,
    pub vars: Vec<VarInfo>,
    pub globals: Vec<VarId>,
    pub global_by_name: HashMap<&'a str, VarId>,
    pub main: Option<FnId>,
}

impl Declarations<'_> {
    /// The body index of a class's initializers and invariants.
    pub(crate) fn class_body(&self, c: ClassId) -> usize {
        self.functions.len() + c.0 as usize
    }

    /// A type as the user writes it; `inferred` holds the result types of
    /// plain futures known so far.
    pub(crate) fn show(&self, t: &Ty, inferred: &FutureResults) -> String {
        t.display(
            &|c| self.classes.get(c.0 as usize).map(|c| c.name.clone()),
            &|f| match f {
                FutureOf::Known(r) => Some((**r).clone()),
                FutureOf::Inferred(v) => inferred.get(v).map(|(r, _)| r.clone()),
                FutureOf::Any => None,
            },
        )
    }

    pub(crate) fn is_subclass(&self, sub: ClassId, base: ClassId) -> bool {
        let mut cur = Some(sub);
        let mut steps = 0;
        while let Some(c) = cur {
            if c == base {
                return true;
            }
            steps += 1;
            if steps > self.classes.len() {
                return false;
            }
            cur = self.classes[c.0 as usize].base;
        }
        false
    }

    /// Names of the state variables (or methods) of a class and its bases.
    pub(crate) fn member_names(&self, class: ClassId, methods: bool) -> Vec<&str> {
        let mut out = Vec::new();
        let mut cur = Some(class);
        let mut steps = 0;
        while let Some(c) = cur {
            let info = &self.classes[c.0 as usize];
            if methods {
                out.extend(
                    info.methods
                        .iter()
                        .map(|f| self.functions[f.0 as usize].name.as_str()),
                );
            } else {
                out.extend(
                    info.state
                        .iter()
                        .map(|v| self.vars[v.0 as usize].name.as_str()),
                );
            }
            steps += 1;
            if steps > self.classes.len() {
                break;
            }
            cur = info.base;
        }
        out
    }

    pub(crate) fn find_member(&self, class: ClassId, name: &str) -> Option<Member> {
        let mut cur = Some(class);
        let mut steps = 0;
        while let Some(c) = cur {
            if let Some(m) = self.members.get(&(c, name)) {
                return Some(*m);
            }
            steps += 1;
            if steps > self.classes.len() {
                return None;
            }
            cur = self.classes[c.0 as usize].base;
        }
        None
    }

    /// Resolves a written type. A plain `future` becomes `Inferred(owner)`
    /// when the type belongs to a variable, else `Any`.
    pub(crate) fn resolve_type(
        &self,
        t: &TypeExpr,
        owner: Option<VarId>,
        diags: &mut Vec<Diagnostic>,
    ) -> Ty {
        match &t.kind {
            TypeKind::Int => Ty::Int,
            TypeKind::Real => Ty::Real,
            TypeKind::Bool => Ty::Bool,
            TypeKind::String => Ty::Str,
            TypeKind::Void => Ty::Void,
            TypeKind::Host => Ty::Host,
            TypeKind::List(e) => {
                let e = self.resolve_value_type(e, owner, diags);
                Ty::List(Box::new(e))
            }
            TypeKind::Map(k, v) => {
                let k = self.resolve_value_type(k, owner, diags);
                let v = self.resolve_value_type(v, owner, diags);
                Ty::Map(Box::new(k), Box::new(v))
            }
            TypeKind::Future(None) => Ty::Future(match owner {
                Some(v) => FutureOf::Inferred(v),
                None => FutureOf::Any,
            }),
            TypeKind::Future(Some(r)) => {
                let r = self.resolve_type(r, None, diags);
                Ty::Future(FutureOf::Known(Box::new(r)))
            }
            TypeKind::Named(id) => {
                if let Some(c) = self.class_by_name.get(id.name.as_str()) {
                    Ty::Class(*c)
                } else if let Some(k) = crate::types::ExceptionKind::from_name(&id.name) {
                    Ty::Exception(k)
                } else {
                    let mut d = Diagnostic::error(
                        "E0101",
                        format!("cannot find type `{}`", id.name),
                        id.span,
                    )
                    .with_label("not a declared class");
                    if let Some(s) =
                        crate::suggest::similar(&id.name, self.class_by_name.keys().copied())
                    {
                        d = d.with_help(format!("a class with a similar name exists: `{s}`"));
                    }
                    diags.push(d);
                    Ty::Unknown
                }
            }
            TypeKind::Error => Ty::Unknown,
        }
    }

    /// A type for an element, variable or parameter: `void` is rejected.
    pub(crate) fn resolve_value_type(
        &self,
        t: &TypeExpr,
        owner: Option<VarId>,
        diags: &mut Vec<Diagnostic>,
    ) -> Ty {
        let ty = self.resolve_type(t, owner, diags);
        if ty == Ty::Void {
            diags.push(
                Diagnostic::error("E0213", "`void` is not a value type", t.span)
                    .with_label("`void` only as a result type"),
            );
            return Ty::Unknown;
        }
        ty
    }

    pub(crate) fn new_var(&mut self, name: &ftc_grammar::Ident, ty: Ty, kind: VarKind) -> VarId {
        let id = VarId(self.vars.len() as u32);
        self.vars.push(crate::program::VarInfo {
            name: name.name.clone(),
            ty,
            span: name.span,
            kind,
        });
        id
    }
}
