//! Hover text: a symbol's type, signature and contracts, as Markdown.

use crate::index::Symbol;
use ftc_frontend::program::{FnLoc, VarKind};
use ftc_frontend::types::FnId;
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Function, Item, MemberKind, Visibility};

/// The Markdown shown when hovering over `symbol` (spans refer to `text`).
pub fn describe(program: &CheckedProgram, text: &str, symbol: Symbol) -> String {
    match symbol {
        Symbol::Var(v) => {
            let var = program.var(v);
            let what = match var.kind {
                VarKind::Global => "global variable".to_string(),
                VarKind::State { class, visibility } => format!(
                    "{} state variable of `{}`",
                    visibility_word(visibility),
                    program.class(class).name
                ),
                VarKind::Param { function } => {
                    format!("parameter of `{}`", qualified_name(program, function))
                }
                VarKind::Local => "local variable".to_string(),
                VarKind::CatchBinding => "caught exception".to_string(),
                VarKind::Result { function } => {
                    format!("result of `{}`", qualified_name(program, function))
                }
            };
            format!(
                "```cmsl\n{} {}\n```\n{what}",
                program.show_type(&var.ty),
                var.name
            )
        }
        Symbol::Function(f) => {
            let mut out = format!("```cmsl\n{}\n", signature(program, f));
            for function in asts(program, f) {
                for e in &function.requires {
                    out += &format!("  requires {}\n", text.get(e.span.range()).unwrap_or(""));
                }
                for e in &function.ensures {
                    out += &format!("  ensures {}\n", text.get(e.span.range()).unwrap_or(""));
                }
            }
            out += "```\n";
            let info = program.function(f);
            out += &match info.owner {
                None => "function".to_string(),
                Some(c) if program.class(c).is_server => format!(
                    "{} method of server class `{}`{}",
                    visibility_word(info.visibility),
                    program.class(c).name,
                    if info.visibility == Visibility::Public {
                        ": a command clients send to its replicas"
                    } else {
                        ""
                    }
                ),
                Some(c) => format!(
                    "{} method of class `{}`",
                    visibility_word(info.visibility),
                    program.class(c).name
                ),
            };
            out
        }
        Symbol::Class(c) => {
            let class = program.class(c);
            let mut head = format!(
                "{}class {}",
                if class.is_server { "server " } else { "" },
                class.name
            );
            if let Some(base) = class.base {
                head += &format!(" : {}", program.class(base).name);
            }
            format!(
                "```cmsl\n{head}\n```\n{} state variables, {} methods",
                program.all_state(c).len(),
                program.all_methods(c).len()
            )
        }
    }
}

/// `int bank::deposit (int amount)`.
pub fn signature(program: &CheckedProgram, f: FnId) -> String {
    let info = program.function(f);
    let params: Vec<String> = info
        .params
        .iter()
        .map(|&p| {
            let var = program.var(p);
            format!("{} {}", program.show_type(&var.ty), var.name)
        })
        .collect();
    format!(
        "{} {} ({})",
        program.show_type(&info.ret),
        qualified_name(program, f),
        params.join(", ")
    )
}

/// `C::m` for methods, `f` for free functions.
fn qualified_name(program: &CheckedProgram, f: FnId) -> String {
    let info = program.function(f);
    match info.owner {
        Some(c) => format!("{}::{}", program.class(c).name, info.name),
        None => info.name.clone(),
    }
}

fn visibility_word(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

/// The declaration, then the definition when it is written elsewhere: each may
/// carry contracts.
fn asts(program: &CheckedProgram, f: FnId) -> Vec<&Function> {
    let info = program.function(f);
    let mut out: Vec<&Function> = function_at(program, info.decl).into_iter().collect();
    if let Some(def) = info.def.filter(|d| *d != info.decl) {
        out.extend(function_at(program, def));
    }
    out
}

fn function_at(program: &CheckedProgram, loc: FnLoc) -> Option<&Function> {
    let ast = &program.ast;
    match loc {
        FnLoc::Free { item } => match ast.items.get(item)? {
            Item::Function(f) => Some(f),
            _ => None,
        },
        FnLoc::OutOfClass { item } => match ast.items.get(item)? {
            Item::MethodDef(m) => Some(&m.function),
            _ => None,
        },
        FnLoc::Inline { item, member } => match ast.items.get(item)? {
            Item::Class(c) => match &c.members.get(member)?.kind {
                MemberKind::Method(f) => Some(f),
                _ => None,
            },
            _ => None,
        },
    }
}

/// The innermost expression around byte `offset` that has a type.
pub fn expression_at(program: &CheckedProgram, offset: usize) -> Option<&ftc_grammar::Expr> {
    let offset = offset as u32;
    let mut best: Option<&ftc_grammar::Expr> = None;
    ftc_transforms::walk::exprs(&program.ast, &mut |e| {
        let inside = e.span.start <= offset && offset < e.span.end;
        let smaller = best.is_none_or(|b| e.span.end - e.span.start <= b.span.end - b.span.start);
        if inside && smaller && program.type_of(e.id).is_some() {
            best = Some(e);
        }
    });
    best
}

/// Hover text for an expression that names no symbol: its type, and what a
/// built-in call or member is.
pub fn describe_expr(program: &CheckedProgram, e: &ftc_grammar::Expr) -> Option<String> {
    use ftc_frontend::program::Resolution;
    let ty = program.show_type(program.type_of(e.id)?);
    let what = match program.resolution(e.id) {
        Some(Resolution::Builtin(b)) => format!("\nbuilt-in function `{}`", b.name()),
        Some(Resolution::ListMethod(_)) => "\nmethod of a list".to_string(),
        Some(Resolution::MapMethod(_)) => "\nmethod of a map".to_string(),
        Some(Resolution::FutureResult) => "\nthe future's result (waits for it)".to_string(),
        Some(Resolution::ExceptionMessage) => "\nthe exception's message".to_string(),
        Some(Resolution::EnsuresResult) => "\nthe function's result".to_string(),
        _ => String::new(),
    };
    Some(format!("```cmsl\n{ty}\n```{what}"))
}
