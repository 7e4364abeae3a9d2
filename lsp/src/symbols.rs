//! The outline of a document: classes with their members, functions, globals.

use crate::document::Analyzed;
use ftc_grammar::{Ident, Item, MemberKind, Span};
use lsp_types::{DocumentSymbol, SymbolKind};

/// The document's symbols, nested (members inside their class).
pub fn document_symbols(a: &Analyzed) -> Vec<DocumentSymbol> {
    let symbol = |name: &Ident, detail: Option<String>, kind, span: Span, children| {
        #[allow(deprecated)] // `deprecated` is a required field of the struct.
        DocumentSymbol {
            name: name.name.clone(),
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: a.lines.range(&a.text, span),
            selection_range: a.lines.range(&a.text, name.span),
            children,
        }
    };
    let mut out = Vec::new();
    for item in &a.program.ast.items {
        match item {
            Item::Class(c) => {
                let members = c
                    .members
                    .iter()
                    .filter_map(|m| match &m.kind {
                        MemberKind::State(s) => Some(symbol(
                            &s.declarator.name,
                            None,
                            SymbolKind::FIELD,
                            m.span,
                            None,
                        )),
                        MemberKind::Method(f) => {
                            Some(symbol(&f.name, None, SymbolKind::METHOD, m.span, None))
                        }
                        MemberKind::Invariant(_) | MemberKind::Error => None,
                    })
                    .collect();
                let detail = c.is_server.then(|| "server class".to_string());
                out.push(symbol(
                    &c.name,
                    detail,
                    SymbolKind::CLASS,
                    c.span,
                    Some(members),
                ));
            }
            Item::Function(f) => {
                out.push(symbol(&f.name, None, SymbolKind::FUNCTION, f.span, None))
            }
            Item::MethodDef(m) => out.push(symbol(
                &m.function.name,
                Some(format!("{}::", m.class.name)),
                SymbolKind::METHOD,
                m.span,
                None,
            )),
            Item::Global(g) => {
                for (d, _) in &g.vars {
                    out.push(symbol(&d.name, None, SymbolKind::VARIABLE, g.span, None));
                }
            }
            Item::Error(_) => {}
        }
    }
    out
}
