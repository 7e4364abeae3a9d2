//! Completion: members after `->`, the properties of a `server` expression,
//! and otherwise the names in scope.

use crate::describe::signature;
use crate::document::{Analyzed, Document};
use ftc_frontend::program::{Builtin, VarKind};
use ftc_frontend::types::{ClassId, FnId, Ty};
use ftc_frontend::CheckedProgram;
use ftc_grammar::Visibility;
use lsp_types::{CompletionItem, CompletionItemKind, Position};

/// What one may write at `position`.
pub fn complete(doc: &Document, position: Position) -> Vec<CompletionItem> {
    let offset = doc.lines.offset(&doc.text, position);
    let before = &doc.text[..offset];
    let typed = before.trim_end_matches(is_ident_char);
    let context = typed.trim_end();
    let Some(a) = &doc.analyzed else {
        return Vec::new();
    };
    // The tables' own offset for the cursor (the same line and column).
    let at = a.lines.offset(&a.text, position);
    let scope = Scope::at(&a.program, at);
    if let Some(receiver) = context.strip_suffix("->") {
        return match receiver_chain(receiver) {
            Some(chain) => match chain_type(&a.program, &scope, &chain) {
                Some(ty) => members(&a.program, &scope, &ty),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
    }
    if let Some(items) = server_properties(context) {
        return items;
    }
    names(a, &scope)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The function and class around an offset of the tables' text.
struct Scope {
    function: Option<FnId>,
    /// The function's span (locals declared inside it before `at` are visible).
    body: Option<ftc_grammar::Span>,
    class: Option<ClassId>,
    at: u32,
}

impl Scope {
    fn at(program: &CheckedProgram, at: usize) -> Scope {
        let at = at as u32;
        let inside = |s: ftc_grammar::Span| s.start <= at && at <= s.end;
        let mut scope = Scope {
            function: None,
            body: None,
            class: None,
            at,
        };
        for (i, _) in program.functions.iter().enumerate() {
            let id = FnId(i as u32);
            if let Some(f) = program.function_ast(id).filter(|f| inside(f.span)) {
                scope.function = Some(id);
                scope.body = Some(f.span);
                scope.class = program.function(id).owner;
            }
        }
        if scope.class.is_none() {
            for (i, c) in program.classes.iter().enumerate() {
                if let Some(ftc_grammar::Item::Class(decl)) = program.ast.items.get(c.item) {
                    if inside(decl.span) {
                        scope.class = Some(ClassId(i as u32));
                    }
                }
            }
        }
        scope
    }

    /// True when the class's private members are visible here.
    fn inside(&self, program: &CheckedProgram, class: ClassId) -> bool {
        self.class
            .is_some_and(|c| program.class_chain(c).contains(&class))
    }
}

/// One step of a receiver written before `->`.
#[derive(Debug, PartialEq)]
enum Step<'t> {
    Name(&'t str),
    Call(&'t str),
    Index,
}

/// The text before the bracketed group that `text` ends with (`close`), or
/// `None` when it is unbalanced.
fn before_group(text: &str, open: char, close: char) -> Option<&str> {
    let inner = text.strip_suffix(close)?;
    let mut depth = 1usize;
    for (i, c) in inner.char_indices().rev() {
        if c == close {
            depth += 1;
        } else if c == open {
            depth -= 1;
            if depth == 0 {
                return Some(inner[..i].trim_end());
            }
        }
    }
    None
}

/// `a->b[i]->c(x)->` read backwards into `[a, b, Index, Call(c)]`; `None` for
/// receivers that are not names, members, indexes and calls (literals,
/// parenthesized expressions).
fn receiver_chain(text: &str) -> Option<Vec<Step<'_>>> {
    let mut steps = Vec::new();
    let mut rest = text.trim_end();
    for _ in 0..64 {
        while rest.ends_with(']') {
            rest = before_group(rest, '[', ']')?;
            steps.push(Step::Index);
        }
        let call = rest.ends_with(')');
        if call {
            rest = before_group(rest, '(', ')')?;
        }
        let name_start = rest.trim_end_matches(is_ident_char).len();
        let name = &rest[name_start..];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        steps.push(if call {
            Step::Call(name)
        } else {
            Step::Name(name)
        });
        rest = rest[..name_start].trim_end();
        match rest.strip_suffix("->") {
            Some(r) => rest = r.trim_end(),
            None => {
                steps.reverse();
                return Some(steps);
            }
        }
    }
    None
}

/// The type of a receiver chain at the scope.
fn chain_type(program: &CheckedProgram, scope: &Scope, chain: &[Step<'_>]) -> Option<Ty> {
    let (first, rest) = chain.split_first()?;
    let mut ty = match first {
        Step::Name("this") => Ty::Class(scope.class?),
        Step::Name(name) => variable(program, scope, name)?,
        // A call of a method of `this` or of a free function.
        Step::Call(name) => {
            let own = scope.class.and_then(|c| method(program, c, name));
            let free = || {
                program
                    .functions
                    .iter()
                    .find(|f| f.owner.is_none() && f.name == *name)
            };
            own.or_else(free)?.ret.clone()
        }
        Step::Index => return None,
    };
    for step in rest {
        ty = match (step, ty) {
            (Step::Index, Ty::Array(t)) => *t,
            // Indexing a server handle names one server of the array.
            (Step::Index, Ty::Class(c)) => Ty::Class(c),
            (Step::Name("result"), Ty::Future(f)) => program.result_of(&f)?.clone(),
            (Step::Call(name), Ty::Class(c)) => method(program, c, name)?.ret.clone(),
            (Step::Call("get"), Ty::List(t)) => *t,
            (Step::Call("get"), Ty::Map(_, v)) => *v,
            (Step::Call("keys"), Ty::Map(k, _)) => Ty::List(k),
            (Step::Call("size"), Ty::List(_) | Ty::Map(..)) => Ty::Int,
            (Step::Name(name), Ty::Class(c)) => program
                .all_state(c)
                .into_iter()
                .map(|v| program.var(v))
                .find(|v| v.name == *name)?
                .ty
                .clone(),
            _ => return None,
        };
    }
    Some(ty)
}

/// The method `name` of objects of the class (inherited ones too).
fn method<'p>(
    program: &'p CheckedProgram,
    class: ClassId,
    name: &str,
) -> Option<&'p ftc_frontend::program::FunctionInfo> {
    program
        .all_methods(class)
        .into_iter()
        .map(|f| program.function(f))
        .find(|f| f.name == name)
}

/// The variable `name` visible at the scope: a local declared before the
/// cursor, a parameter, a state variable of the class, a global.
fn variable(program: &CheckedProgram, scope: &Scope, name: &str) -> Option<Ty> {
    let mut best: Option<(u8, u32, &Ty)> = None;
    for var in program.vars.iter().filter(|v| v.name == name) {
        let rank = match var.kind {
            VarKind::Local | VarKind::CatchBinding => {
                let Some(body) = scope.body else {
                    continue;
                };
                if var.span.start < body.start || var.span.start > scope.at {
                    continue;
                }
                3
            }
            VarKind::Param { function } if Some(function) == scope.function => 2,
            VarKind::State { class, .. } if scope.inside(program, class) => 1,
            VarKind::Global => 0,
            _ => continue,
        };
        let key = (rank, var.span.start);
        if best.is_none_or(|(r, s, _)| (r, s) < key) {
            best = Some((rank, var.span.start, &var.ty));
        }
    }
    best.map(|(_, _, t)| t.clone())
}

fn item(label: &str, kind: CompletionItemKind, detail: String) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail),
        ..CompletionItem::default()
    }
}

/// What may follow `->` on a value of type `ty`.
fn members(program: &CheckedProgram, scope: &Scope, ty: &Ty) -> Vec<CompletionItem> {
    let method = CompletionItemKind::METHOD;
    let builtin = |names: &[(&str, &str)]| {
        names
            .iter()
            .map(|(n, d)| item(n, method, d.to_string()))
            .collect()
    };
    match ty {
        Ty::List(t) => {
            let t = program.show_type(t);
            builtin(&[
                ("add", &format!("void add ({t} value)")),
                ("get", &format!("{t} get (int index)")),
                ("set", &format!("void set (int index, {t} value)")),
                ("size", "int size ()"),
                ("remove", "void remove (int index)"),
            ])
        }
        Ty::Map(k, v) => {
            let (k, v) = (program.show_type(k), program.show_type(v));
            builtin(&[
                ("put", &format!("void put ({k} key, {v} value)")),
                ("get", &format!("{v} get ({k} key)")),
                ("has", &format!("boolean has ({k} key)")),
                ("remove", &format!("void remove ({k} key)")),
                ("keys", &format!("list<{k}> keys ()")),
                ("size", "int size ()"),
            ])
        }
        Ty::Future(f) => {
            let result = program
                .result_of(f)
                .map_or("the result".to_string(), |t| program.show_type(t));
            vec![item("result", CompletionItemKind::FIELD, result)]
        }
        Ty::Exception(_) => vec![item("message", CompletionItemKind::FIELD, "string".into())],
        Ty::Class(c) => {
            let inside = scope.inside(program, *c);
            let server = program.class(*c).is_server;
            let mut out = Vec::new();
            // Clients see a server's public methods only, never its state.
            if inside || !server {
                for v in program.all_state(*c) {
                    let var = program.var(v);
                    let public = matches!(
                        var.kind,
                        VarKind::State {
                            visibility: Visibility::Public,
                            ..
                        }
                    );
                    if inside || public {
                        let detail = program.show_type(&var.ty);
                        out.push(item(&var.name, CompletionItemKind::FIELD, detail));
                    }
                }
            }
            for f in program.all_methods(*c) {
                let info = program.function(f);
                if inside || info.visibility == Visibility::Public {
                    out.push(item(&info.name, method, signature(program, f)));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Inside `server C …` (before the statement ends): its properties, or the
/// failure models after `model`.
fn server_properties(context: &str) -> Option<Vec<CompletionItem>> {
    let statement = &context[context.rfind([';', '{', '}']).map_or(0, |i| i + 1)..];
    let words: Vec<&str> = statement
        .split(|c: char| !is_ident_char(c))
        .filter(|w| !w.is_empty())
        .collect();
    let server = words.iter().rposition(|w| *w == "server")?;
    if words.get(server + 1).is_none_or(|w| *w == "class") {
        return None;
    }
    let keyword = CompletionItemKind::KEYWORD;
    if words.last() == Some(&"model") && context.ends_with("model") {
        return Some(
            [
                ("correct", "no failures (one replica)"),
                ("crash", "replicas may stop: t+1 replicas tolerate t"),
                ("byzantine", "replicas may lie: 3t+1 replicas tolerate t"),
            ]
            .iter()
            .map(|(n, d)| item(n, keyword, d.to_string()))
            .collect(),
        );
    }
    Some(
        [
            ("model", "model correct | crash | byzantine"),
            ("tolerate", "tolerate (failures)"),
            ("replicas", "replicas (count)"),
            ("priority", "priority (level)"),
            ("hosts", "hosts (h1, h2, …)"),
            ("disjoint", "one host per server of an array"),
            ("durable", "durable (\"name\"): state on stable storage"),
        ]
        .iter()
        .map(|(n, d)| item(n, keyword, d.to_string()))
        .collect(),
    )
}

/// The names visible at the scope: locals and parameters, the class's
/// members, globals, functions, classes, built-ins.
fn names(a: &Analyzed, scope: &Scope) -> Vec<CompletionItem> {
    let program = &a.program;
    let mut out = Vec::new();
    for var in &program.vars {
        let visible = match var.kind {
            VarKind::Local | VarKind::CatchBinding => scope
                .body
                .is_some_and(|b| b.start <= var.span.start && var.span.start <= scope.at),
            VarKind::Param { function } => Some(function) == scope.function,
            VarKind::State { class, .. } => scope.inside(program, class),
            VarKind::Global => true,
            VarKind::Result { .. } => false,
        };
        if visible {
            let kind = match var.kind {
                VarKind::State { .. } => CompletionItemKind::FIELD,
                _ => CompletionItemKind::VARIABLE,
            };
            out.push(item(&var.name, kind, program.show_type(&var.ty)));
        }
    }
    for (i, f) in program.functions.iter().enumerate() {
        let visible = match f.owner {
            None => true,
            Some(c) => scope.inside(program, c),
        };
        if visible {
            let kind = if f.owner.is_some() {
                CompletionItemKind::METHOD
            } else {
                CompletionItemKind::FUNCTION
            };
            out.push(item(&f.name, kind, signature(program, FnId(i as u32))));
        }
    }
    for c in &program.classes {
        let detail = if c.is_server { "server class" } else { "class" };
        out.push(item(&c.name, CompletionItemKind::CLASS, detail.into()));
    }
    for b in Builtin::ALL {
        out.push(item(
            b.name(),
            CompletionItemKind::FUNCTION,
            "built-in".into(),
        ));
    }
    out.sort_by(|x, y| x.label.cmp(&y.label));
    out.dedup_by(|x, y| x.label == y.label);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_receiver_chains_backwards() {
        assert_eq!(
            receiver_chain("x = a->b[f(c[1])]").unwrap(),
            [Step::Name("a"), Step::Name("b"), Step::Index]
        );
        assert_eq!(receiver_chain("  this").unwrap(), [Step::Name("this")]);
        assert_eq!(
            receiver_chain("return data->get(k)").unwrap(),
            [Step::Name("data"), Step::Call("get")]
        );
        assert_eq!(receiver_chain("f(x)").unwrap(), [Step::Call("f")]);
        assert_eq!(receiver_chain("(a + b)"), None);
        assert_eq!(receiver_chain("x = b]"), None);
        assert_eq!(receiver_chain("1"), None);
    }

    #[test]
    fn a_global_is_found_outside_functions_despite_a_local_of_its_name() {
        let clean = "class point { public: attribute int x; }\n\
                     point origin = new point;\n\
                     int y = 0;\n\
                     void main () { point origin = new point; println(origin->x); }\n";
        let first = Document::new(clean.to_string(), None);
        assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
        let typing = clean.replace("int y = 0;", "int y = origin->");
        let doc = Document::new(typing, first.analyzed);
        let items = complete(&doc, Position::new(2, 16));
        let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(labels, ["x"]);
    }

    #[test]
    fn offers_server_properties_inside_a_server_expression() {
        assert!(server_properties("db x = server db tolerate (1) ").is_some());
        let models = server_properties("d = server db model").unwrap();
        assert_eq!(models[0].label, "correct");
        assert!(server_properties("server class db {").is_none());
        assert!(server_properties("x = server db; y = ").is_none());
    }
}
