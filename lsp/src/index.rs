//! Where every class, function and variable of a checked program is named: the
//! table behind hover, go to definition and find references.

use ftc_frontend::program::{Resolution, VarKind};
use ftc_frontend::types::{ClassId, FnId, VarId};
use ftc_frontend::CheckedProgram;
use ftc_grammar::lexer::Token;
use ftc_grammar::{ExprKind, Span};
use logos::Logos;

/// A named thing of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Symbol {
    /// A variable: global, state variable, parameter, local, catch binding.
    Var(VarId),
    /// A free function or a method.
    Function(FnId),
    /// A class or server class.
    Class(ClassId),
}

/// One place a symbol is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// The identifier's bytes.
    pub span: Span,
    /// What it names.
    pub symbol: Symbol,
    /// True where the symbol is declared or defined.
    pub is_declaration: bool,
}

/// Every occurrence of every symbol, ordered by position.
#[derive(Debug, Default)]
pub struct SymbolIndex {
    occurrences: Vec<Occurrence>,
}

impl SymbolIndex {
    /// Indexes `program`, whose spans refer to `text`. Expressions the checker
    /// did not resolve (in a program with errors) are left out.
    pub fn build(program: &CheckedProgram, text: &str) -> SymbolIndex {
        let mut out = Vec::new();
        let decl = |span: Span, symbol: Symbol| Occurrence {
            span,
            symbol,
            is_declaration: true,
        };
        for (i, var) in program.vars.iter().enumerate() {
            if !matches!(var.kind, VarKind::Result { .. }) {
                out.push(decl(var.span, Symbol::Var(VarId(i as u32))));
            }
        }
        for (i, f) in program.functions.iter().enumerate() {
            let id = FnId(i as u32);
            out.push(decl(f.name_span, Symbol::Function(id)));
            if let Some(def) = program.function_ast(id) {
                if def.name.span != f.name_span {
                    out.push(decl(def.name.span, Symbol::Function(id)));
                }
            }
        }
        for (i, c) in program.classes.iter().enumerate() {
            out.push(decl(c.name_span, Symbol::Class(ClassId(i as u32))));
        }
        ftc_transforms::walk::exprs(&program.ast, &mut |e| {
            let (span, resolution) = match &e.kind {
                ExprKind::Name(id) => (id.span, program.resolution(e.id)),
                ExprKind::Member { name, .. } => (name.span, program.resolution(e.id)),
                ExprKind::Call { callee, .. } => (callee.span, program.resolution(e.id)),
                ExprKind::MethodCall { method, .. } => (method.span, program.resolution(e.id)),
                _ => return,
            };
            let symbol = match resolution {
                Some(Resolution::Var(v)) => Symbol::Var(*v),
                Some(
                    Resolution::Function(f) | Resolution::Method(f) | Resolution::ServerMethod(f),
                ) => Symbol::Function(*f),
                _ => return,
            };
            out.push(Occurrence {
                span,
                symbol,
                is_declaration: false,
            });
        });
        out.sort_by_key(|o| (o.span.start, o.span.end));
        // Class names in types, `new C`, `server C`, `C::m`: every identifier
        // token spelling a class that names nothing else there.
        let mut classes = Vec::new();
        let mut taken = out.iter().map(|o| o.span.start).peekable();
        for (token, range) in Token::lexer(text).spanned() {
            let name = match token {
                Ok(Token::Ident(name)) => name,
                // Not reserved: a class may be named `durable`.
                Ok(Token::Durable) => "durable",
                _ => continue,
            };
            let Some(class) = program.class_by_name(name) else {
                continue;
            };
            while taken.next_if(|&s| (s as usize) < range.start).is_some() {}
            if taken.peek() == Some(&(range.start as u32)) {
                continue;
            }
            classes.push(Occurrence {
                span: Span::new(range.start, range.end),
                symbol: Symbol::Class(class),
                is_declaration: false,
            });
        }
        out.extend(classes);
        out.sort_by_key(|o| (o.span.start, o.span.end));
        out.dedup_by_key(|o| o.span);
        SymbolIndex { occurrences: out }
    }

    /// The occurrence under byte `offset` (a cursor just after a name counts).
    pub fn at(&self, offset: usize) -> Option<&Occurrence> {
        let offset = offset as u32;
        let i = self.occurrences.partition_point(|o| o.span.end < offset);
        self.occurrences[i..]
            .iter()
            .take_while(|o| o.span.start <= offset)
            .find(|o| o.span.end >= offset)
    }

    /// Every occurrence of `symbol`, in source order.
    pub fn references(&self, symbol: Symbol) -> impl Iterator<Item = &Occurrence> + '_ {
        self.occurrences.iter().filter(move |o| o.symbol == symbol)
    }
}

/// Where a symbol is first declared.
pub fn declaration(program: &CheckedProgram, symbol: Symbol) -> Span {
    match symbol {
        Symbol::Var(v) => program.var(v).span,
        Symbol::Function(f) => program.function(f).name_span,
        Symbol::Class(c) => program.class(c).name_span,
    }
}
