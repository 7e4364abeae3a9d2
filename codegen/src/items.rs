//! Program-level items: plain classes, server classes (state, commands,
//! dispatch, invariant), free functions, `main` and the process entry.

use crate::body::{ident, Body, This};
use crate::source::Source;
use crate::Options;
use ftc_frontend::program::FnLoc;
use ftc_frontend::types::{ClassId, FnId, Ty};
use ftc_frontend::CheckedProgram;
use ftc_grammar::{Expr, Function, Item, MemberKind};
use ftc_transforms::{ClassIr, ProgramIr};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

/// The program's items, handed to `out` one at a time (the file header
/// first), so each can be formatted and dropped before the next is built.
pub(crate) fn program(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &Source<'_>,
    options: &Options,
    out: &mut dyn FnMut(TokenStream),
) {
    let file = &options.file_name;
    out(quote! {
        #![allow(unused_imports, unused_assignments, while_true, unused_mut, unused_variables, unused_labels, unreachable_code, unused_parens,
                 unused_braces, dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals,
                 clippy::all)]
        use ftc_runtime::attempt;
        use ftc_runtime::program::prelude::*;
        use serde::{Deserialize, Serialize};

        const SRC: &str = #file;
    });
    out(globals(program, ir, source));
    for class in &ir.classes {
        if program.class(class.id).is_server {
            out(server_class(program, ir, source, class));
        } else {
            out(plain_class(program, ir, source, class));
        }
    }
    for (i, f) in program.functions.iter().enumerate() {
        if f.owner.is_none() && f.def.is_some() {
            out(function(program, ir, source, FnId(i as u32), This::None));
        }
    }
    let name = &options.package;
    let servers: Vec<TokenStream> = ir
        .classes
        .iter()
        .filter(|c| c.server.is_some())
        .map(|c| {
            let n = ident(&c.rust_name);
            quote!(ServerClassDef::of::<#n>())
        })
        .collect();
    out(quote! {
        fn main() -> std::process::ExitCode {
            run(ProgramDef {
                name: #name,
                servers: Vec::from([#(#servers),*]),
                main: cmsl_main,
            })
        }
    });
}

/// Global variables: thread-locals of `main`'s thread (servers cannot use them).
fn globals(program: &CheckedProgram, ir: &ProgramIr, source: &Source<'_>) -> TokenStream {
    let b = Body::new(program, ir, source, This::None);
    let mut out = TokenStream::new();
    for &g in &program.globals {
        let name = b.global_name(g);
        let ty = b.var_ty(g);
        let marker = b.marker(program.var(g).span);
        out.extend(quote! {
            #marker
            thread_local! {
                static #name: std::cell::RefCell<#ty> = std::cell::RefCell::new(Default::default());
            }
        });
    }
    out
}

/// `main`'s first statements: the globals' initializers, in declaration order.
fn global_inits(program: &CheckedProgram, ir: &ProgramIr, source: &Source<'_>) -> TokenStream {
    let mut b = Body::new(program, ir, source, This::None);
    let mut out = TokenStream::new();
    for item in &program.ast.items {
        let Item::Global(d) = item else { continue };
        for (decl, init) in &d.vars {
            let Some(v) = ir.var_at(decl.name.span) else {
                continue;
            };
            let ty = program.var(v).ty.clone();
            let value = match (init, &decl.array) {
                (Some(e), _) => b.value_as(e, &ty),
                (None, Some(Some(len))) => b.new_array(v, len),
                _ => continue,
            };
            let marker = b.marker(d.span);
            let store = b.store_var(v, value);
            out.extend(quote!(#marker #store));
        }
    }
    out
}

fn class_marker(program: &CheckedProgram, source: &Source<'_>, class: &ClassIr) -> TokenStream {
    let item = &program.ast.items[program.class(class.id).item];
    let span = match item {
        Item::Class(c) => c.span,
        _ => program.class(class.id).name_span,
    };
    let n = Literal::usize_unsuffixed(source.line(span.start));
    quote!(cmsl_line!(#n);)
}

fn fields(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &Source<'_>,
    class: &ClassIr,
    public: bool,
) -> Vec<TokenStream> {
    let b = Body::new(program, ir, source, This::None);
    class
        .fields
        .iter()
        .map(|v| {
            let name = ident(ir.var_name(*v));
            let ty = b.var_ty(*v);
            if public {
                quote!(pub #name: #ty)
            } else {
                quote!(#name: #ty)
            }
        })
        .collect()
}

/// How a state variable starts, beyond its type's default value.
enum Init<'p> {
    /// `= e`.
    Value(&'p Expr),
    /// `T a[n]` without an initializer: `n` default elements.
    Sized(&'p Expr),
}

/// `(field, start)` for every state variable with an initializer or a
/// declared array size.
fn initializers(program: &CheckedProgram, class: ClassId) -> Vec<(ftc_grammar::Span, Init<'_>)> {
    let mut out = Vec::new();
    if let Item::Class(c) = &program.ast.items[program.class(class).item] {
        for m in &c.members {
            if let MemberKind::State(s) = &m.kind {
                let sized = s.declarator.array.as_ref().and_then(|a| a.as_ref());
                match (&s.init, sized) {
                    (Some(init), _) => out.push((s.declarator.name.span, Init::Value(init))),
                    (None, Some(len)) => out.push((s.declarator.name.span, Init::Sized(len))),
                    (None, None) => {}
                }
            }
        }
    }
    out
}

/// The initializers of the class and its bases, the root's first (a base's
/// state is initialized before its subclass's, as in Java).
fn init_code<'p>(
    program: &'p CheckedProgram,
    ir: &'p ProgramIr,
    source: &'p Source<'p>,
    class: &ClassIr,
    this: This,
) -> TokenStream {
    let mut b = Body::new(program, ir, source, this);
    let mut out = TokenStream::new();
    let chain = program.class_chain(class.id);
    let inits = chain.iter().rev().flat_map(|c| initializers(program, *c));
    for (span, init) in inits {
        let Some(v) = ir.var_at(span) else { continue };
        let name = ident(ir.var_name(v));
        let ty = program.var(v).ty.clone();
        let (marker, value) = match init {
            Init::Value(init) => (b.marker(init.span), b.value_as(init, &ty)),
            Init::Sized(len) => (b.marker(len.span), b.new_array(v, len)),
        };
        out.extend(match this {
            This::Server => quote!(#marker self.#name = #value;),
            _ => quote!(#marker { let value = #value; this.update(|o| o.#name = value)?; }),
        });
    }
    out
}

fn plain_class(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &Source<'_>,
    class: &ClassIr,
) -> TokenStream {
    let name = ident(&class.rust_name);
    let root = ident(ir.type_name(class.id));
    let marker = class_marker(program, source, class);
    let inits = init_code(program, ir, source, class, This::Plain);
    let methods: Vec<TokenStream> = class
        .methods
        .iter()
        .map(|m| function(program, ir, source, *m, This::Plain))
        .collect();
    let root_ir = ir.class(class.root);
    let new_object = match &root_ir.kind_enum {
        Some(kind) => {
            let kind = ident(kind);
            quote!(#root { class: #kind::#name, ..Default::default() })
        }
        None => quote!(#name::default()),
    };
    let construct = quote! {
        /// `new`: default values, then the initializers (a base's first).
        pub fn construct() -> Res<Obj<#root>> {
            let this = &Obj::new(#new_object);
            #inits
            Ok(this.clone())
        }
    };
    if class.root != class.id {
        // A subclass: its objects are its root's struct with `class` naming
        // it; the unit struct only names its constructor and methods.
        let doc = format!(
            "`{}`, a subclass of `{}`: its objects are `{}`s whose `class` is `{}::{}`.",
            class.cmsl_name,
            root_ir.cmsl_name,
            root_ir.rust_name,
            root_ir.kind_enum.as_deref().unwrap_or_default(),
            class.rust_name
        );
        return quote! {
            #marker
            #[doc = #doc]
            pub struct #name;

            impl #name {
                #construct
                #(#methods)*
            }
        };
    }
    let fields = fields(program, ir, source, class, true);
    let show_of = |c: ClassId| {
        let cmsl = &program.class(c).name;
        let shows: Vec<TokenStream> = program
            .all_state(c)
            .iter()
            .map(|v| {
                let f = ident(ir.var_name(*v));
                let n = &program.var(*v).name;
                quote!((#n, &self.#f))
            })
            .collect();
        quote!(p.object(#cmsl, &[#(#shows),*]))
    };
    let (kind_field, kind_enum, show) = match &class.kind_enum {
        Some(kind) => {
            let kind = ident(kind);
            let variants: Vec<Ident> = class
                .family
                .iter()
                .map(|c| ident(&ir.class(*c).rust_name))
                .collect();
            let arms: Vec<TokenStream> = class
                .family
                .iter()
                .map(|c| {
                    let v = ident(&ir.class(*c).rust_name);
                    let show = show_of(*c);
                    quote!(#kind::#v => #show,)
                })
                .collect();
            let first = &variants[0];
            let rest = &variants[1..];
            let doc = format!(
                "The class of a `{}` object: `{}` or one of its subclasses.",
                class.cmsl_name, class.cmsl_name
            );
            (
                quote!(pub class: #kind,),
                quote! {
                    #[doc = #doc]
                    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
                    pub enum #kind { #[default] #first, #(#rest),* }
                },
                quote!(match self.class { #(#arms)* }),
            )
        }
        None => (quote!(), quote!(), show_of(class.id)),
    };
    quote! {
        #marker
        #[derive(Debug, Default, Serialize, Deserialize)]
        pub struct #name { #kind_field #(#fields),* }

        #kind_enum

        impl #name {
            #construct
            #(#methods)*
        }

        impl Show for #name {
            fn show(&self, p: &mut Printer) {
                #show;
            }
        }
    }
}

fn server_class(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &Source<'_>,
    class: &ClassIr,
) -> TokenStream {
    let Some(shell) = server_shell(program, ir, source, class) else {
        return TokenStream::new();
    };
    let name = ident(&class.rust_name);
    let marker = class_marker(program, source, class);
    let fields = fields(program, ir, source, class, false);
    let methods: Vec<TokenStream> = class
        .methods
        .iter()
        .map(|m| function(program, ir, source, *m, This::Server))
        .collect();
    let inits = init_code(program, ir, source, class, This::Server);
    let shell = ftc_shell::emit(&shell);
    quote! {
        #marker
        #[derive(Debug, Default, Serialize, Deserialize)]
        pub struct #name { #(#fields),* }

        impl #name {
            /// The state variables' initializers.
            fn init_state(&mut self) -> Res<()> {
                #inits
                Ok(())
            }
            #(#methods)*
        }

        #shell
    }
}

/// The shell of `class` if it is a server class (command enum, dispatch,
/// typed client), emitted by `ftc_shell::emit` as for the Rust front end.
pub(crate) fn server_shell(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &Source<'_>,
    class: &ClassIr,
) -> Option<ftc_shell::ServerShell> {
    let server = class.server.as_ref()?;
    let name = ident(&class.rust_name);
    let b = Body::new(program, ir, source, This::Server);
    let ty = |tokens: TokenStream| -> syn::Type {
        syn::parse2(tokens.clone())
            .unwrap_or_else(|e| panic!("internal error: `{tokens}` is not a Rust type: {e}"))
    };
    let commands: Vec<ftc_shell::Command> = server
        .commands
        .iter()
        .map(|c| ftc_shell::Command {
            method: ident(ir.function_name(c.method)),
            variant: ident(&c.variant),
            params: c
                .params
                .iter()
                .zip(&program.function(c.method).params)
                .map(|((n, _), var)| ftc_shell::Param {
                    name: ident(n),
                    ty: ty(b.var_ty(*var)),
                })
                .collect(),
            reply: ty(b.rust_ty(&c.result)),
            kind: ftc_shell::Kind::Command,
            returns: ftc_shell::Returns::Res,
        })
        .collect();
    assert_eq!(
        ftc_shell::command_enum(&name).to_string(),
        server.command_enum,
        "the lowering and the shell name the command enum alike"
    );
    let mut inv = Body::new(program, ir, source, This::Server);
    let mut invariants = TokenStream::new();
    let chain = program.class_chain(class.id);
    for item in chain
        .iter()
        .rev()
        .map(|c| &program.ast.items[program.class(*c).item])
    {
        let Item::Class(c) = item else { continue };
        for m in &c.members {
            if let MemberKind::Invariant(e) = &m.kind {
                let cond = inv.expr(e);
                let text = format!("invariant {}", source.slice(e.span));
                let line = Literal::usize_unsuffixed(source.line(e.span.start));
                invariants.extend(quote!(check(#cond, #text).at(SRC, #line)?;));
            }
        }
    }
    Some(ftc_shell::ServerShell {
        state: name.clone(),
        class_name: class.cmsl_name.clone(),
        commands,
        runtime: ftc_shell::default_runtime(),
        front_end: ftc_shell::FrontEnd::Cmsl {
            construct: quote! {
                let mut state = #name::default();
                state.init_state()?;
                Ok(state)
            },
            invariant: quote! {
                #invariants
                Ok(())
            },
        },
    })
}

fn function_at(program: &CheckedProgram, loc: FnLoc) -> Option<&Function> {
    match (loc, &program.ast.items) {
        (FnLoc::Free { item }, items) => match items.get(item)? {
            Item::Function(f) => Some(f),
            _ => None,
        },
        (FnLoc::OutOfClass { item }, items) => match items.get(item)? {
            Item::MethodDef(m) => Some(&m.function),
            _ => None,
        },
        (FnLoc::Inline { item, member }, items) => match items.get(item)? {
            Item::Class(c) => match &c.members.get(member)?.kind {
                MemberKind::Method(f) => Some(f),
                _ => None,
            },
            _ => None,
        },
    }
}

fn function(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &Source<'_>,
    id: FnId,
    this: This,
) -> TokenStream {
    let info = program.function(id);
    let Some(def) = info.def.and_then(|d| function_at(program, d)) else {
        return TokenStream::new();
    };
    let Some(body) = &def.body else {
        return TokenStream::new();
    };
    let decl = function_at(program, info.decl);
    let mut b = Body::new(program, ir, source, this);
    let is_main = program.main == Some(id);
    b.void_main = is_main && info.ret == Ty::Void;
    b.ret = if is_main { Ty::Int } else { info.ret.clone() };
    let mut requires: Vec<&Expr> = Vec::new();
    let mut ensures: Vec<&Expr> = Vec::new();
    if let Some(d) = decl {
        if !std::ptr::eq(d, def) {
            requires.extend(&d.requires);
            ensures.extend(&d.ensures);
        }
    }
    requires.extend(&def.requires);
    ensures.extend(&def.ensures);
    b.ensures = ensures;
    let name = ident(ir.function_name(id));
    let params: Vec<TokenStream> = info
        .params
        .iter()
        .map(|p| {
            let n = ident(ir.var_name(*p));
            let t = b.var_ty(*p);
            quote!(mut #n: #t)
        })
        .collect();
    let ret = b.rust_ty(&b.ret.clone());
    let mut checks = TokenStream::new();
    for r in requires {
        let cond = b.expr(r);
        let text = format!("requires {}", source.slice(r.span));
        let line = Literal::usize_unsuffixed(source.line(r.span.start));
        checks.extend(quote!(check(#cond, #text).at(SRC, #line)?;));
    }
    if is_main {
        checks.extend(global_inits(program, ir, source));
    }
    let code = b.block(body);
    let returns = matches!(
        body.stmts.last().map(|s| &s.kind),
        Some(ftc_grammar::StmtKind::Return(_))
    );
    let tail = if returns {
        quote!()
    } else if b.void_main {
        quote!(Ok(0))
    } else if b.ret == Ty::Void {
        let ens = b.ensures_checks();
        quote!(#ens Ok(()))
    } else if is_main {
        quote!(Ok(0))
    } else {
        let msg = format!("`{}` ended without returning a value", info.name);
        quote!(Err(Failure::program_error(#msg)))
    };
    let n = Literal::usize_unsuffixed(source.line(def.span.start));
    let marker = quote!(cmsl_line!(#n););
    if this == This::Plain {
        let dispatch = overrides(program, ir, id, &n);
        checks = quote!(#dispatch #checks);
    }
    let owner_ty = info
        .owner
        .map(|c| ident(ir.type_name(c)))
        .map(|c| quote!(#c));
    let receiver = match this {
        This::Server => quote!(&mut self,),
        This::Plain => quote!(this: &Obj<#owner_ty>,),
        This::None => quote!(),
    };
    let vis = if this == This::Server {
        quote!()
    } else {
        quote!(pub)
    };
    quote! {
        #marker
        #vis fn #name(#receiver #(#params),*) -> Res<#ret> {
            #checks
            #code
            #tail
        }
    }
}

/// The dynamic dispatch at the start of a plain-class method that a subclass
/// overrides: an object of such a subclass runs the override instead (the
/// method the object's class answers by that name).
fn overrides(program: &CheckedProgram, ir: &ProgramIr, id: FnId, line: &Literal) -> TokenStream {
    let info = program.function(id);
    let Some(owner) = info.owner else {
        return TokenStream::new();
    };
    let root = ir.class(ir.class(owner).root);
    let Some(kind) = &root.kind_enum else {
        return TokenStream::new();
    };
    let kind = ident(kind);
    // Each implementation and the classes whose objects run it, in order.
    let mut arms: Vec<(FnId, Vec<Ident>)> = Vec::new();
    for &k in &root.family {
        if k == owner || !program.is_subclass(k, owner) {
            continue;
        }
        let implementation = program.class_chain(k).into_iter().find_map(|c| {
            program
                .class(c)
                .methods
                .iter()
                .copied()
                .find(|m| program.function(*m).name == info.name)
        });
        match implementation {
            Some(m) if m != id => {
                let v = ident(&ir.class(k).rust_name);
                match arms.iter_mut().find(|(f, _)| *f == m) {
                    Some((_, kinds)) => kinds.push(v),
                    None => arms.push((m, vec![v])),
                }
            }
            _ => {}
        }
    }
    if arms.is_empty() {
        return TokenStream::new();
    }
    let args: Vec<Ident> = info.params.iter().map(|p| ident(ir.var_name(*p))).collect();
    let arms: Vec<TokenStream> = arms
        .into_iter()
        .map(|(m, kinds)| {
            let class = program
                .function(m)
                .owner
                .map(|c| ident(&ir.class(c).rust_name));
            let name = ident(ir.function_name(m));
            quote!(#(#kind::#kinds)|* => return #class::#name(this, #(#args),*),)
        })
        .collect();
    quote! {
        match this.read(|o| o.class).at(SRC, #line)? {
            #(#arms)*
            _ => {}
        }
    }
}
