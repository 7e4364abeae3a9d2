//! Declaration collection: classes, inheritance, members, functions, globals and `main`.
//!
//! AFTER THIS POINT every class, function and global has an id and a resolved
//! signature; bodies are not looked at yet.

use crate::decls::{Declarations, FutureResults, Member};
use crate::diagnostic::Diagnostic;
use crate::program::{ClassInfo, FnLoc, FunctionInfo, VarKind};
use crate::types::{ClassId, FnId, FutureOf, Ty, VarId};
use ftc_grammar::{Function, Item, MemberKind, Param, Program, TypeExpr, TypeKind, Visibility};
use std::collections::HashMap;

/// Collects the declarations of `ast`, with the diagnostics about them.
pub(crate) fn collect(ast: &Program) -> (Declarations<'_>, Vec<Diagnostic>) {
    let mut collector = Collector {
        ast,
        decls: Declarations::default(),
        diags: Vec::new(),
    };
    collector.run();
    (collector.decls, collector.diags)
}

/// The collection pass: builds the declaration tables.
struct Collector<'a> {
    ast: &'a Program,
    decls: Declarations<'a>,
    diags: Vec<Diagnostic>,
}

impl<'a> Collector<'a> {
    fn resolve_type(&mut self, t: &TypeExpr, owner: Option<VarId>) -> Ty {
        self.decls.resolve_type(t, owner, &mut self.diags)
    }

    fn resolve_value_type(&mut self, t: &TypeExpr, owner: Option<VarId>) -> Ty {
        self.decls.resolve_value_type(t, owner, &mut self.diags)
    }

    fn show(&self, t: &Ty) -> String {
        self.decls.show(t, &FutureResults::new())
    }

    fn run(&mut self) {
        let ast = self.ast;
        // Classes.
        for (item_index, item) in ast.items.iter().enumerate() {
            if let Item::Class(c) = item {
                if let Some(&prev) = self.decls.class_by_name.get(c.name.name.as_str()) {
                    let prev_span = self.decls.classes[prev.0 as usize].name_span;
                    self.diags.push(
                        Diagnostic::error(
                            "E0105",
                            format!("class `{}` is declared twice", c.name.name),
                            c.name.span,
                        )
                        .with_label("second declaration")
                        .with_secondary(prev_span, "first declared here"),
                    );
                    continue;
                }
                let id = ClassId(self.decls.classes.len() as u32);
                self.decls.class_by_name.insert(&c.name.name, id);
                self.decls.class_items.push(c);
                self.decls.classes.push(ClassInfo {
                    name: c.name.name.clone(),
                    name_span: c.name.span,
                    is_server: c.is_server,
                    base: None,
                    state: Vec::new(),
                    methods: Vec::new(),
                    item: item_index,
                });
            }
        }
        self.collect_bases();
        // Members.
        for ci in 0..self.decls.classes.len() {
            let class = ClassId(ci as u32);
            let decl = self.decls.class_items[ci];
            let item = self.decls.classes[ci].item;
            for (mi, member) in decl.members.iter().enumerate() {
                match &member.kind {
                    MemberKind::State(s) => {
                        let name = &s.declarator.name;
                        if self.member_conflict(class, &name.name, name.span) {
                            continue;
                        }
                        let var = self.decls.new_var(
                            name,
                            Ty::Unknown,
                            VarKind::State {
                                class,
                                visibility: member.visibility,
                            },
                        );
                        let ty = self.declarator_type(&s.ty, &s.declarator, var);
                        self.decls.vars[var.0 as usize].ty = ty;
                        self.decls.classes[ci].state.push(var);
                        self.decls
                            .members
                            .insert((class, &name.name), Member::State(var));
                    }
                    MemberKind::Method(f) => {
                        if self.member_conflict(class, &f.name.name, f.name.span) {
                            continue;
                        }
                        let loc = FnLoc::Inline { item, member: mi };
                        let id = self.new_function(f, Some(class), member.visibility, loc);
                        self.decls.classes[ci].methods.push(id);
                        self.decls
                            .members
                            .insert((class, &f.name.name), Member::Method(id));
                    }
                    MemberKind::Invariant(_) | MemberKind::Error => {}
                }
            }
        }
        self.check_overrides();
        // Free functions, out-of-class definitions, globals.
        for (item_index, item) in ast.items.iter().enumerate() {
            match item {
                Item::Function(f) => self.collect_free_function(f, item_index),
                Item::MethodDef(m) => {
                    let Some(&class) = self.decls.class_by_name.get(m.class.name.as_str()) else {
                        self.diags.push(
                            Diagnostic::error(
                                "E0115",
                                format!(
                                    "`{}::{}` defines a method of an unknown class",
                                    m.class.name, m.function.name.name
                                ),
                                m.class.span,
                            )
                            .with_label("no class of this name"),
                        );
                        continue;
                    };
                    let method = match self
                        .decls
                        .members
                        .get(&(class, m.function.name.name.as_str()))
                    {
                        Some(Member::Method(id)) => *id,
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    "E0115",
                                    format!(
                                        "class `{}` declares no method `{}`",
                                        m.class.name, m.function.name.name
                                    ),
                                    m.function.name.span,
                                )
                                .with_label("not declared in the class")
                                .with_secondary(
                                    self.decls.classes[class.0 as usize].name_span,
                                    "class declared here",
                                )
                                .with_help("declare the method inside the class first"),
                            );
                            continue;
                        }
                    };
                    self.attach_definition(
                        method,
                        &m.function,
                        FnLoc::OutOfClass { item: item_index },
                    );
                }
                Item::Global(g) => {
                    let ty_expr = &g.ty;
                    for (decl, _) in &g.vars {
                        let name = &decl.name;
                        if let Some(&prev) = self.decls.global_by_name.get(name.name.as_str()) {
                            let prev_span = self.decls.vars[prev.0 as usize].span;
                            self.diags.push(
                                Diagnostic::error(
                                    "E0110",
                                    format!("global variable `{}` is declared twice", name.name),
                                    name.span,
                                )
                                .with_label("second declaration")
                                .with_secondary(prev_span, "first declared here"),
                            );
                            continue;
                        }
                        let var = self.decls.new_var(name, Ty::Unknown, VarKind::Global);
                        let ty = self.declarator_type(ty_expr, decl, var);
                        self.decls.vars[var.0 as usize].ty = ty;
                        self.decls.global_by_name.insert(&name.name, var);
                        self.decls.globals.push(var);
                    }
                }
                Item::Class(_) | Item::Error(_) => {}
            }
        }
        // Globals named like functions.
        for &g in &self.decls.globals {
            let v = &self.decls.vars[g.0 as usize];
            if let Some(&f) = self.decls.fn_by_name.get(v.name.as_str()) {
                let fspan = self.decls.functions[f.0 as usize].name_span;
                self.diags.push(
                    Diagnostic::error(
                        "E0110",
                        format!("global variable `{}` has the name of a function", v.name),
                        v.span,
                    )
                    .with_label("global declared here")
                    .with_secondary(fspan, "function declared here"),
                );
            }
        }
        // Declared, never defined.
        for f in &self.decls.functions {
            if f.def.is_none() {
                let what = match f.owner {
                    Some(c) => format!(
                        "method `{}::{}`",
                        self.decls.classes[c.0 as usize].name, f.name
                    ),
                    None => format!("function `{}`", f.name),
                };
                self.diags.push(
                    Diagnostic::error(
                        "E0114",
                        format!("{what} is declared but never defined"),
                        f.name_span,
                    )
                    .with_label("declared here, no body anywhere")
                    .with_help("add a definition with a body"),
                );
            }
        }
        self.check_main();
    }

    fn collect_bases(&mut self) {
        let n = self.decls.classes.len();
        for ci in 0..n {
            let decl = self.decls.class_items[ci];
            let Some(base) = &decl.base else { continue };
            match self.decls.class_by_name.get(base.name.as_str()) {
                None => self.diags.push(
                    Diagnostic::error(
                        "E0101",
                        format!("cannot find base class `{}`", base.name),
                        base.span,
                    )
                    .with_label("not a declared class"),
                ),
                Some(&b) => {
                    if self.decls.classes[b.0 as usize].is_server && !decl.is_server {
                        self.diags.push(
                            Diagnostic::error(
                                "E0122",
                                format!(
                                    "plain class `{}` cannot inherit from server class `{}`",
                                    decl.name.name, base.name
                                ),
                                base.span,
                            )
                            .with_label("a server class")
                            .with_help(format!("declare `server class {}`", decl.name.name)),
                        );
                    }
                    if !self.decls.classes[b.0 as usize].is_server && decl.is_server {
                        self.diags.push(
                            Diagnostic::error(
                                "E0124",
                                format!(
                                    "server class `{}` cannot inherit from plain class `{}`",
                                    decl.name.name, base.name
                                ),
                                base.span,
                            )
                            .with_label("a plain class")
                            .with_help(format!("declare `server class {}`", base.name)),
                        );
                    }
                    self.decls.classes[ci].base = Some(b);
                }
            }
        }
        // Cycles: walk up at most n steps.
        for ci in 0..n {
            let mut cur = self.decls.classes[ci].base;
            let mut steps = 0;
            while let Some(c) = cur {
                if c.0 as usize == ci || steps > n {
                    let decl = self.decls.class_items[ci];
                    let span = decl.base.as_ref().map_or(decl.name.span, |b| b.span);
                    self.diags.push(
                        Diagnostic::error(
                            "E0121",
                            format!("class `{}` inherits from itself", decl.name.name),
                            span,
                        )
                        .with_label("this base leads back to the class"),
                    );
                    self.decls.classes[ci].base = None;
                    break;
                }
                cur = self.decls.classes[c.0 as usize].base;
                steps += 1;
            }
        }
    }

    /// A method overriding a base class method keeps its signature.
    fn check_overrides(&mut self) {
        for fi in 0..self.decls.functions.len() {
            let Some(owner) = self.decls.functions[fi].owner else {
                continue;
            };
            let Some(base) = self.decls.classes[owner.0 as usize].base else {
                continue;
            };
            let name = self.decls.functions[fi].name.clone();
            let Some(Member::Method(over)) = self.decls.find_member(base, &name) else {
                continue;
            };
            let (params, ret) = self.declared_signature(FnId(fi as u32));
            let (bparams, bret) = self.declared_signature(over);
            if params != bparams || ret != bret {
                let bclass = self.decls.functions[over.0 as usize]
                    .owner
                    .map_or(String::new(), |c| {
                        self.decls.classes[c.0 as usize].name.clone()
                    });
                self.diags.push(
                    Diagnostic::error(
                        "E0116",
                        format!("`{name}` overrides `{bclass}::{name}` with a different signature"),
                        self.decls.functions[fi].name_span,
                    )
                    .with_label(format!("`{}`", self.signature_text(&params, &ret)))
                    .with_secondary(
                        self.decls.functions[over.0 as usize].name_span,
                        format!("overridden method: `{}`", self.signature_text(&bparams, &bret)),
                    )
                    .with_note("CMSL has no overloading: an override has the signature of the method it replaces"),
                );
            } else if self.decls.functions[fi].visibility
                != self.decls.functions[over.0 as usize].visibility
            {
                let section = |v: Visibility| match v {
                    Visibility::Public => "public",
                    Visibility::Private => "private",
                };
                let bclass = self.decls.functions[over.0 as usize]
                    .owner
                    .map_or(String::new(), |c| {
                        self.decls.classes[c.0 as usize].name.clone()
                    });
                let (mine, theirs) = (
                    section(self.decls.functions[fi].visibility),
                    section(self.decls.functions[over.0 as usize].visibility),
                );
                self.diags.push(
                    Diagnostic::error(
                        "E0116",
                        format!("`{name}` overrides {theirs} `{bclass}::{name}` as {mine}"),
                        self.decls.functions[fi].name_span,
                    )
                    .with_label(format!("declared {mine}"))
                    .with_secondary(
                        self.decls.functions[over.0 as usize].name_span,
                        format!("overridden method: {theirs}"),
                    )
                    .with_help(format!("declare `{name}` in the `{theirs}:` section, as the method it overrides"))
                    .with_note("an override keeps the section of the method it replaces, so a server's commands are the same through a handle of its base class"),
                );
            }
        }
    }

    /// Reports a member name already used in the class or a state variable of a base.
    fn member_conflict(&mut self, class: ClassId, name: &'a str, span: ftc_grammar::Span) -> bool {
        let mut cur = Some(class);
        while let Some(c) = cur {
            if let Some(m) = self.decls.members.get(&(c, name)) {
                let in_base = c != class;
                // Methods may be overridden in a subclass; state variables may not be redeclared.
                if !in_base || matches!(m, Member::State(_)) {
                    let prev = match *m {
                        Member::State(v) => self.decls.vars[v.0 as usize].span,
                        Member::Method(f) => self.decls.functions[f.0 as usize].name_span,
                    };
                    let label = if in_base {
                        format!(
                            "declared in base class `{}`",
                            self.decls.classes[c.0 as usize].name
                        )
                    } else {
                        "first declared here".to_string()
                    };
                    self.diags.push(
                        Diagnostic::error(
                            "E0106",
                            format!(
                                "`{name}` is declared twice in class `{}`",
                                self.decls.classes[class.0 as usize].name
                            ),
                            span,
                        )
                        .with_label("second declaration")
                        .with_secondary(prev, label),
                    );
                    return true;
                }
            }
            cur = self.decls.classes[c.0 as usize].base;
        }
        false
    }

    fn declarator_type(
        &mut self,
        ty: &'a TypeExpr,
        decl: &'a ftc_grammar::Declarator,
        var: VarId,
    ) -> Ty {
        let base = self.resolve_value_type(ty, Some(var));
        if decl.array.is_some() {
            Ty::Array(Box::new(base))
        } else {
            base
        }
    }

    fn new_function(
        &mut self,
        f: &'a Function,
        owner: Option<ClassId>,
        visibility: Visibility,
        loc: FnLoc,
    ) -> FnId {
        let id = FnId(self.decls.functions.len() as u32);
        // A plain `future` result gets a slot of its own, so that the
        // invocations returned fix its result type like a variable's.
        let slot = contains_plain_future(&f.ret).then(|| {
            self.decls
                .new_var(&f.name, Ty::Unknown, VarKind::Result { function: id })
        });
        let ret = self.resolve_type(&f.ret, slot);
        if let Some(slot) = slot {
            self.decls.vars[slot.0 as usize].ty = ret.clone();
        }
        self.decls.functions.push(FunctionInfo {
            name: f.name.name.clone(),
            owner,
            visibility,
            params: Vec::new(),
            ret,
            name_span: f.name.span,
            decl: loc,
            def: f.body.as_ref().map(|_| loc),
        });
        let params = self.make_params(id, &f.params);
        self.decls.functions[id.0 as usize].params = params;
        id
    }

    fn make_params(&mut self, function: FnId, params: &'a [Param]) -> Vec<VarId> {
        let mut out: Vec<VarId> = Vec::with_capacity(params.len());
        let mut seen: HashMap<&str, VarId> = HashMap::with_capacity(params.len());
        for p in params {
            let name = &p.declarator.name;
            if let Some(prev) = seen.get(name.name.as_str()) {
                let prev_span = self.decls.vars[prev.0 as usize].span;
                self.diags.push(
                    Diagnostic::error(
                        "E0108",
                        format!("parameter `{}` is declared twice", name.name),
                        name.span,
                    )
                    .with_label("second parameter of this name")
                    .with_secondary(prev_span, "first declared here"),
                );
            }
            let var = self
                .decls
                .new_var(name, Ty::Unknown, VarKind::Param { function });
            seen.entry(&name.name).or_insert(var);
            let ty = self.declarator_type(&p.ty, &p.declarator, var);
            self.decls.vars[var.0 as usize].ty = ty;
            out.push(var);
        }
        out
    }

    /// The signature of `f` as types, without creating variables (plain futures as `Any`).
    fn signature_types(&mut self, f: &'a Function) -> (Vec<Ty>, Ty) {
        let n = self.diags.len();
        let params = f
            .params
            .iter()
            .map(|p| {
                let t = self.resolve_type(&p.ty, None);
                if p.declarator.array.is_some() {
                    Ty::Array(Box::new(t))
                } else {
                    t
                }
            })
            .collect();
        let ret = self.resolve_type(&f.ret, None);
        // Unknown types in a redeclaration were (or will be) reported with the first one.
        self.diags.truncate(n);
        (params, ret)
    }

    fn declared_signature(&self, id: FnId) -> (Vec<Ty>, Ty) {
        let info = &self.decls.functions[id.0 as usize];
        let params = info
            .params
            .iter()
            .map(|v| erase_inferred(&self.decls.vars[v.0 as usize].ty))
            .collect();
        (params, erase_inferred(&info.ret))
    }

    fn attach_definition(&mut self, id: FnId, f: &'a Function, loc: FnLoc) {
        if let Some(prev) = self.decls.functions[id.0 as usize].def {
            let prev_span = crate::program::function_at(self.ast, prev)
                .map_or(self.decls.functions[id.0 as usize].name_span, |p| {
                    p.name.span
                });
            let main = self.decls.functions[id.0 as usize].owner.is_none() && f.name.name == "main";
            let (code, msg) = if main {
                ("E0112", "`main` is defined more than once".to_string())
            } else if self.decls.functions[id.0 as usize].owner.is_none() {
                (
                    "E0107",
                    format!("function `{}` is defined twice", f.name.name),
                )
            } else {
                (
                    "E0117",
                    format!("method `{}` is defined twice", f.name.name),
                )
            };
            self.diags.push(
                Diagnostic::error(code, msg, f.name.span)
                    .with_label("second definition")
                    .with_secondary(prev_span, "first defined here"),
            );
            return;
        }
        let (params, ret) = self.signature_types(f);
        let (dparams, dret) = self.declared_signature(id);
        if params != dparams || ret != dret {
            let decl_span = self.decls.functions[id.0 as usize].name_span;
            self.diags.push(
                Diagnostic::error(
                    "E0116",
                    format!(
                        "definition of `{}` does not match its declaration",
                        f.name.name
                    ),
                    f.name.span,
                )
                .with_label(format!(
                    "defined as `{}`",
                    self.signature_text(&params, &ret)
                ))
                .with_secondary(
                    decl_span,
                    format!("declared as `{}`", self.signature_text(&dparams, &dret)),
                ),
            );
            // Keep the definition (with the declared types) so that no
            // "never defined" error follows.
        }
        if f.body.is_some() {
            self.decls.functions[id.0 as usize].def = Some(loc);
            let new_params = self.make_params(id, &f.params);
            self.decls.functions[id.0 as usize].params = new_params;
        }
    }

    fn signature_text(&self, params: &[Ty], ret: &Ty) -> String {
        let ps: Vec<String> = params.iter().map(|t| self.show(t)).collect();
        format!("{} ({})", self.show(ret), ps.join(", "))
    }

    fn collect_free_function(&mut self, f: &'a Function, item: usize) {
        let loc = FnLoc::Free { item };
        match self.decls.fn_by_name.get(f.name.name.as_str()) {
            None => {
                let id = self.new_function(f, None, Visibility::Public, loc);
                self.decls.fn_by_name.insert(&f.name.name, id);
            }
            Some(&id) => {
                if f.body.is_none() {
                    // A second declaration: must agree.
                    let (params, ret) = self.signature_types(f);
                    let (dparams, dret) = self.declared_signature(id);
                    if params != dparams || ret != dret {
                        let prev = self.decls.functions[id.0 as usize].name_span;
                        self.diags.push(
                            Diagnostic::error(
                                "E0107",
                                format!(
                                    "function `{}` is declared twice with different signatures",
                                    f.name.name
                                ),
                                f.name.span,
                            )
                            .with_label("second declaration")
                            .with_secondary(prev, "first declared here")
                            .with_note("CMSL has no overloading"),
                        );
                    }
                } else {
                    self.attach_definition(id, f, loc);
                }
            }
        }
    }

    fn check_main(&mut self) {
        let Some(&main) = self.decls.fn_by_name.get("main") else {
            self.diags.push(
                Diagnostic::error(
                    "E0111",
                    "the program has no `main` function",
                    ftc_grammar::Span::new(0, 0),
                )
                .with_help("add `void main () { … }`"),
            );
            return;
        };
        self.decls.main = Some(main);
        let info = &self.decls.functions[main.0 as usize];
        if !info.params.is_empty() || !matches!(info.ret, Ty::Void | Ty::Int | Ty::Unknown) {
            let span = info.name_span;
            self.diags.push(
                Diagnostic::error("E0113", "`main` has the wrong signature", span)
                    .with_label("must be `void main ()` or `int main ()`")
                    .with_help("read command-line arguments with `args()`"),
            );
        }
    }
}

/// Plain futures compare as `Any` in signatures.
fn erase_inferred(t: &Ty) -> Ty {
    match t {
        Ty::Future(FutureOf::Inferred(_)) => Ty::Future(FutureOf::Any),
        Ty::List(e) => Ty::List(Box::new(erase_inferred(e))),
        Ty::Array(e) => Ty::Array(Box::new(erase_inferred(e))),
        Ty::Map(k, v) => Ty::Map(Box::new(erase_inferred(k)), Box::new(erase_inferred(v))),
        other => other.clone(),
    }
}

/// Does a written type mention a plain `future`?
fn contains_plain_future(t: &TypeExpr) -> bool {
    match &t.kind {
        TypeKind::Future(None) => true,
        TypeKind::List(e) => contains_plain_future(e),
        TypeKind::Map(k, v) => contains_plain_future(k) || contains_plain_future(v),
        _ => false,
    }
}
