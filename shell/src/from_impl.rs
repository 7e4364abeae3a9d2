//! The Rust front end: a [`ServerShell`] from an `impl` block of a user type,
//! as `#[ftc_runtime::server]` sees it. Every `pub fn` taking `&mut self`
//! becomes a command, every `pub fn` taking `&self` a query; other items are
//! left alone. What cannot cross the network or be replicated is refused with
//! an error at the offending tokens and a suggested fix, never left to rustc;
//! what only the type checker can see (a parameter, reply or state that is not
//! serializable) is asserted by spanned bounds in the emitted shell.
//!
//! Replicated methods are also scanned, syntactically, for the usual sources
//! of nondeterminism (`HashMap`/`HashSet`, `rand`, `Instant::now`,
//! `SystemTime::now`, `std::fs`, `thread::sleep`, `env::var`): each is an
//! error unless the method says why its replicas still agree with
//! `#[ftc(nondeterministic = "reason")]`. The scan reads one method's tokens,
//! macro arguments included; it does not follow calls into helpers.
//!
//! [`expand`] is the whole macro: on errors it still emits the shell of the
//! accepted methods and a stub per refused one, so that one mistake does not
//! cascade into errors at every use of the type or its client.

use crate::{
    client_struct, default_runtime, emit, upper_camel, Command, FrontEnd, Kind, Param, Returns,
    ServerShell,
};
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use std::fmt::Display;
use syn::{
    Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Type, Visibility,
};

/// Names the generated code gives the type itself: a method may not take them.
const RESERVED: &[&str] = &["start", "server_class"];

/// The attribute a method opts out of the nondeterminism scan with.
const OPT_OUT: &str = "nondeterministic";

/// What the Rust front end made of an `impl` block.
pub struct Reading {
    /// The shell of the accepted methods; `None` when the block itself cannot
    /// be a server class (a trait impl, a generic or unnamed type).
    pub shell: Option<ServerShell>,
    /// Replicated methods refused whole: the fallback expansion gives each a
    /// client stub so that calls of it report no second error.
    pub refused: Vec<ImplItemFn>,
    /// Every error, in source order.
    pub errors: Vec<syn::Error>,
}

/// The shell of the server class `item` implements, or every error found.
pub fn shell_of(item: &ItemImpl) -> syn::Result<ServerShell> {
    let reading = read(item);
    match combine(reading.errors) {
        Some(e) => Err(e),
        None => Ok(reading
            .shell
            .expect("no error, so the state type was found")),
    }
}

/// What `#[ftc_runtime::server]` emits for `item`: the block (without its
/// `#[ftc(…)]` attributes) and its shell, or on errors the block, the shell of
/// what was accepted, stubs for what was refused, and the errors.
pub fn expand(item: &ItemImpl) -> TokenStream {
    let reading = read(item);
    let block = without_ftc_attributes(item);
    let shell = reading.shell.as_ref().map(emit);
    match combine(reading.errors) {
        None => quote! { #block #shell },
        Some(errors) => {
            let errors = errors.to_compile_error();
            let stubs = reading
                .shell
                .as_ref()
                .map(|s| fallback_stubs(s, &reading.refused));
            quote! { #block #shell #stubs #errors }
        }
    }
}

/// Reads `item`, collecting every error rather than stopping at the first.
pub fn read(item: &ItemImpl) -> Reading {
    let mut errors: Vec<syn::Error> = Vec::new();
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(refusal(
            path,
            "#[server] goes on the type's own `impl` block, not on a trait implementation",
            format!(
                "write `#[ftc_runtime::server] impl {} {{ … }}` with the methods to replicate",
                item.self_ty.to_token_stream()
            ),
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(refusal(
            &item.generics,
            "a replicated server type cannot be generic: every replica must build the same type from its name",
            "replicate a concrete type, e.g. a `struct` that holds the generic one with its parameters fixed",
        ));
    }
    let state = state_ident(&item.self_ty);
    if state.is_none() {
        errors.push(refusal(
            &item.self_ty,
            "#[server] needs a plain type name here",
            "put it on the `impl` block of a named struct or enum, e.g. `impl Counter`",
        ));
    }
    let block_ok = errors.is_empty();
    let mut commands: Vec<Command> = Vec::new();
    let mut refused: Vec<ImplItemFn> = Vec::new();
    for f in item.items.iter().filter_map(|i| match i {
        ImplItem::Fn(f) => Some(f),
        _ => None,
    }) {
        let opt_out = match opt_out(&f.attrs) {
            Ok(reason) => reason,
            Err(e) => {
                errors.push(e);
                Some(LitStr::new("", Span::call_site()))
            }
        };
        match command_of(f) {
            Ok(Some(c)) => {
                if opt_out.is_none() {
                    errors.extend(nondeterminism(f));
                }
                if let Some(other) = commands.iter().find(|o| o.variant == c.variant) {
                    errors.push(refusal(
                        &f.sig.ident,
                        format!(
                            "`{}` and `{}` would both be the command `{}`",
                            other.method, c.method, c.variant
                        ),
                        "rename one of the two methods",
                    ));
                    refused.push(f.clone());
                } else {
                    commands.push(c);
                }
            }
            Ok(None) => {
                if let Some(reason) = opt_out.filter(|r| !r.value().is_empty()) {
                    errors.push(refusal(
                        reason,
                        format!(
                            "`{OPT_OUT}` on `{}`, which is not replicated: only `pub` methods taking `&self` or `&mut self` are scanned",
                            f.sig.ident
                        ),
                        "remove the attribute",
                    ));
                }
            }
            Err(mut es) => {
                errors.append(&mut es);
                refused.push(f.clone());
            }
        }
    }
    // `invoke_m` is the client's invoke stub of a method `m`: such a method
    // is refused and left out (its name is the stub's already).
    let stubs: Vec<String> = commands
        .iter()
        .map(|c| format!("invoke_{}", c.method))
        .collect();
    commands.retain(|c| {
        let clash = stubs.contains(&c.method.to_string());
        if clash {
            errors.push(refusal(
                &c.method,
                format!(
                    "`{}` is generated on the client: the invoke stub of `{}`",
                    c.method,
                    c.method.to_string().trim_start_matches("invoke_")
                ),
                "give the method another name",
            ));
        }
        !clash
    });
    let shell = state.filter(|_| block_ok).map(|state| ServerShell {
        class_name: state.to_string(),
        state,
        commands,
        runtime: default_runtime(),
        front_end: FrontEnd::Rust,
    });
    Reading {
        shell,
        refused,
        errors,
    }
}

/// `item` without the `#[ftc(…)]` attributes of its methods (rustc does not
/// know them).
pub fn without_ftc_attributes(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    for i in &mut item.items {
        if let ImplItem::Fn(f) = i {
            f.attrs.retain(|a| !a.path().is_ident("ftc"));
        }
    }
    item
}

/// An error spanning all of `tokens`, its message the problem and a fix.
fn refusal(tokens: impl ToTokens, problem: impl Display, help: impl Display) -> syn::Error {
    syn::Error::new_spanned(tokens, format!("{problem}\n= help: {help}"))
}

/// All of `errors` as one `syn::Error`, the first found leading.
fn combine(errors: Vec<syn::Error>) -> Option<syn::Error> {
    let mut errors = errors.into_iter();
    let mut first = errors.next()?;
    for e in errors {
        first.combine(e);
    }
    Some(first)
}

fn state_ident(ty: &Type) -> Option<Ident> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() || p.path.segments.len() != 1 {
        return None;
    }
    let segment = &p.path.segments[0];
    segment.arguments.is_none().then(|| segment.ident.clone())
}

/// The reason of a method's `#[ftc(nondeterministic = "reason")]`, if any.
fn opt_out(attrs: &[Attribute]) -> syn::Result<Option<LitStr>> {
    let mut reason = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("ftc")) {
        attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(OPT_OUT) {
                return Err(refusal(
                    &meta.path,
                    "unknown `ftc` attribute",
                    format!("the one `#[ftc(…)]` a method takes is `#[ftc({OPT_OUT} = \"why the replicas still agree\")]`"),
                ));
            }
            let text: LitStr = match meta.value() {
                Ok(value) => value.parse()?,
                Err(_) => {
                    return Err(refusal(
                        &meta.path,
                        "`nondeterministic` needs the reason the replicas still agree",
                        format!("write `#[ftc({OPT_OUT} = \"…\")]`, e.g. `\"the map is only looked up, never iterated\"`"),
                    ))
                }
            };
            if text.value().trim().is_empty() {
                return Err(refusal(
                    &text,
                    "the reason is empty",
                    "say why every replica still computes the same state and reply",
                ));
            }
            reason = Some(text);
            Ok(())
        })?;
    }
    Ok(reason)
}

/// Whether a `self` receiver makes a command (`&mut self`) or a query (`&self`).
fn receiver_kind(receiver: &syn::Receiver) -> Option<Kind> {
    let Type::Reference(r) = &*receiver.ty else {
        return None;
    };
    let Type::Path(p) = &*r.elem else { return None };
    p.path
        .is_ident("Self")
        .then_some(if r.mutability.is_some() {
            Kind::Command
        } else {
            Kind::Query
        })
}

/// The command of a `pub fn` with a `self` receiver; `None` for other items.
fn command_of(f: &ImplItemFn) -> Result<Option<Command>, Vec<syn::Error>> {
    if !matches!(f.vis, Visibility::Public(_)) {
        return Ok(None);
    }
    let sig = &f.sig;
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else {
        return Ok(None); // an associated function (`new`, …): not a command
    };
    let mut errors = Vec::new();
    let kind = receiver_kind(receiver);
    if kind.is_none() {
        errors.push(refusal(
            receiver,
            "a server method cannot take `self` by value (or boxed): the state stays with the replicas",
            "take `&mut self` for a command that changes the state, `&self` for a query",
        ));
    }
    let name = sig.ident.to_string();
    if RESERVED.contains(&name.as_str()) {
        errors.push(refusal(
            &sig.ident,
            format!("`{name}` is generated for the server type (`Type::{name}`)"),
            "give the method another name",
        ));
    }
    if let Some(a) = &sig.asyncness {
        errors.push(refusal(
            a,
            "server methods are not `async`: a method runs to its end on every replica",
            "remove `async`; to wait for another server, call its client (or `invoke_…` and `accept`)",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(refusal(
            &sig.generics,
            "a server method cannot be generic: its parameters travel in a command of one type",
            "name concrete types, or add one method per type",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(refusal(
            v,
            "a server method cannot be variadic",
            "take a `Vec`",
        ));
    }
    let mut params = Vec::new();
    for arg in sig.inputs.iter().skip(1) {
        let FnArg::Typed(arg) = arg else {
            continue;
        };
        match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => params.push(Param {
                name: p.ident.clone(),
                ty: (*arg.ty).clone(),
            }),
            other => errors.push(refusal(
                other,
                "a server method's parameters need plain names: they become the fields of its command",
                "name the parameter (`point: (i64, i64)`) and destructure it in the body",
            )),
        }
        if let Err(e) = owned(&arg.ty, "parameter") {
            errors.push(e);
        }
    }
    let (reply, returns): (Type, Returns) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), Returns::Value),
        ReturnType::Type(_, ty) => {
            if let Err(e) = owned(ty, "reply") {
                errors.push(e);
            }
            match res_inner(ty) {
                Some(inner) => (inner, Returns::Res),
                None => ((**ty).clone(), Returns::Value),
            }
        }
    };
    match kind {
        Some(kind) if errors.is_empty() => Ok(Some(Command {
            variant: format_ident!("{}", upper_camel(&name), span = sig.ident.span()),
            method: sig.ident.clone(),
            params,
            reply,
            kind,
            returns,
        })),
        _ => Err(errors),
    }
}

/// `T` of a `Res<T>` return type: the method's failure (e.g. of a nested call
/// made with `?`) becomes the call's failure, as for a CMSL method.
fn res_inner(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Res" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(t)) if args.args.len() == 1 => Some(t.clone()),
        _ => None,
    }
}

/// Refuses types that cannot cross the network as values.
fn owned(ty: &Type, what: &str) -> syn::Result<()> {
    let (why, help) = match ty {
        Type::Reference(_) => (
            "a reference cannot cross the network",
            "take or return an owned value, e.g. `String` for `&str`, `Vec<T>` for `&[T]`",
        ),
        Type::ImplTrait(_) => (
            "`impl Trait` has no single type a command can carry",
            "name the concrete type",
        ),
        Type::TraitObject(_) => (
            "a trait object cannot be serialized into a command",
            "name a concrete type, or an enum of the possible ones",
        ),
        Type::Ptr(_) => (
            "a raw pointer means nothing on another replica",
            "send the value it points to",
        ),
        Type::BareFn(_) => (
            "a function pointer means nothing on another replica",
            "send a value (e.g. an enum) that says which function to run",
        ),
        Type::Infer(_) | Type::Never(_) | Type::Macro(_) => (
            "the server needs to know the type it sends and receives",
            "name the type",
        ),
        Type::Paren(p) => return owned(&p.elem, what),
        Type::Group(g) => return owned(&g.elem, what),
        Type::Tuple(t) => {
            for e in &t.elems {
                owned(e, what)?;
            }
            return Ok(());
        }
        Type::Array(a) => return owned(&a.elem, what),
        Type::Slice(_) => ("a slice has no size", "take a `Vec`"),
        Type::Path(p) => {
            if p.path.segments.iter().any(|s| s.ident == "Self") {
                (
                    "`Self` would name the client, not the server type, in the generated code",
                    "write the type's name",
                )
            } else {
                for segment in &p.path.segments {
                    if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                        for arg in &args.args {
                            match arg {
                                syn::GenericArgument::Type(t) => owned(t, what)?,
                                syn::GenericArgument::Lifetime(l) => {
                                    return Err(refusal(
                                        l,
                                        format!("this {what} type borrows: a reference cannot cross the network"),
                                        "use an owned type (`String`, `Vec<T>`, `'static` data cloned into it)",
                                    ))
                                }
                                _ => {}
                            }
                        }
                    }
                }
                return Ok(());
            }
        }
        _ => return Ok(()),
    };
    Err(refusal(ty, format!("this {what} type: {why}"), help))
}

/// One way a replicated method can make its replicas disagree.
struct Hazard {
    problem: &'static str,
    help: &'static str,
}

const HASH_ORDER: Hazard = Hazard {
    problem: "`HashMap`/`HashSet` iterate (and serialize) in an order seeded differently in every process, so replicas that iterate one disagree",
    help: "use `BTreeMap`/`BTreeSet`, which are ordered",
};
const RANDOM: Hazard = Hazard {
    problem: "random numbers differ on every replica",
    help: "draw the number in the caller and pass it as a parameter, or keep a seeded generator in the state",
};
const CLOCK: Hazard = Hazard {
    problem: "the clock reads differently on every replica",
    help: "pass the time in as a parameter (read by the caller)",
};
const FILES: Hazard = Hazard {
    problem: "files are not replicated: each replica reads its own host's disk",
    help: "keep the data in the server's state, or pass it in as a parameter",
};
const SLEEP: Hazard = Hazard {
    problem: "`thread::sleep` stalls one replica outside the protocol",
    help: "use `ftc_runtime::program::sleep`, a timer ordered through the group's log",
};
const ENVIRONMENT: Hazard = Hazard {
    problem: "environment variables differ between hosts",
    help: "pass the value in as a parameter",
};

/// The hazard a path (its segments' names) names, if any.
fn hazard_of(segments: &[&Ident]) -> Option<&'static Hazard> {
    let names: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
    let has = |n: &str| names.iter().any(|s| s == n);
    let pair = |a: &[&str], b: &[&str]| {
        names
            .windows(2)
            .any(|w| a.contains(&w[0].as_str()) && b.contains(&w[1].as_str()))
    };
    let not_last = |n: &str| names[..names.len() - 1].iter().any(|s| s == n);
    if has("HashMap") || has("HashSet") {
        Some(&HASH_ORDER)
    } else if not_last("rand") || has("thread_rng") || has("OsRng") || has("getrandom") {
        Some(&RANDOM)
    } else if pair(&["Instant", "SystemTime", "Utc"], &["now"]) {
        Some(&CLOCK)
    } else if not_last("fs") || pair(&["File"], &["open", "create"]) || has("OpenOptions") {
        Some(&FILES)
    } else if pair(&["thread"], &["sleep"]) {
        Some(&SLEEP)
    } else if pair(&["env"], &["var", "vars", "var_os"]) {
        Some(&ENVIRONMENT)
    } else {
        None
    }
}

/// The nondeterminism hazards in a replicated method's signature and body:
/// the first path naming each kind of hazard.
fn nondeterminism(f: &ImplItemFn) -> Vec<syn::Error> {
    let mut tokens = TokenStream::new();
    f.sig.inputs.to_tokens(&mut tokens);
    f.sig.output.to_tokens(&mut tokens);
    f.block.to_tokens(&mut tokens);
    let mut paths: Vec<Vec<Ident>> = Vec::new();
    collect_paths(tokens, &mut paths);
    let mut seen: Vec<&'static str> = Vec::new();
    let mut errors = Vec::new();
    for path in &paths {
        let segments: Vec<&Ident> = path.iter().collect();
        let Some(hazard) = hazard_of(&segments) else {
            continue;
        };
        if seen.contains(&hazard.problem) {
            continue;
        }
        seen.push(hazard.problem);
        let spanned: TokenStream = {
            let (first, last) = (&path[0], &path[path.len() - 1]);
            if path.len() == 1 {
                quote!(#first)
            } else {
                quote!(#first #last)
            }
        };
        errors.push(refusal(
            spanned,
            format!(
                "`{}` in the replicated method `{}`: {}",
                path.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("::"),
                f.sig.ident,
                hazard.problem
            ),
            format!(
                "{}; or, if every replica still computes the same state and reply, say why on the method: `#[ftc({OPT_OUT} = \"…\")]`",
                hazard.help
            ),
        ));
    }
    errors
}

/// Every path (`a::b::c`, idents joined by `::`) in `tokens`, macro arguments
/// and nested groups included.
fn collect_paths(tokens: TokenStream, paths: &mut Vec<Vec<Ident>>) {
    let mut current: Vec<Ident> = Vec::new();
    let mut after_colons = false;
    let mut pending_colon = false;
    let flush = |current: &mut Vec<Ident>, paths: &mut Vec<Vec<Ident>>| {
        if !current.is_empty() {
            paths.push(std::mem::take(current));
        }
    };
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                if !after_colons {
                    flush(&mut current, paths);
                }
                current.push(ident);
                after_colons = false;
                pending_colon = false;
            }
            TokenTree::Punct(p) if p.as_char() == ':' => {
                if pending_colon {
                    after_colons = true;
                    pending_colon = false;
                } else if p.spacing() == proc_macro2::Spacing::Joint {
                    pending_colon = true;
                } else {
                    flush(&mut current, paths);
                    after_colons = false;
                }
            }
            TokenTree::Group(g) => {
                flush(&mut current, paths);
                after_colons = false;
                pending_colon = false;
                collect_paths(g.stream(), paths);
            }
            _ => {
                // `<` … `>` of `HashMap::<K, V>::new` end the path here: the
                // type names inside it are paths of their own.
                flush(&mut current, paths);
                after_colons = false;
                pending_colon = false;
            }
        }
    }
    flush(&mut current, paths);
}

/// A client method per refused method, with its parameters as written and an
/// unreachable body: the block already has an error, and calls of the method
/// should not add more.
fn fallback_stubs(shell: &ServerShell, refused: &[ImplItemFn]) -> TokenStream {
    if refused.is_empty() {
        return TokenStream::new();
    }
    let rt = &shell.runtime;
    let client = client_struct(&shell.state);
    let state = &shell.state;
    let stubs = refused.iter().map(|f| {
        let sig = &f.sig;
        let name = &sig.ident;
        let generics = &sig.generics;
        let where_clause = &sig.generics.where_clause;
        let params = sig.inputs.iter().filter_map(|a| match a {
            FnArg::Typed(t) => Some(replace_self(t.to_token_stream(), state)),
            FnArg::Receiver(_) => None,
        });
        let reply = match &sig.output {
            ReturnType::Type(_, ty) if !contains_impl_trait(ty) => {
                let ty = res_inner(ty).unwrap_or_else(|| (**ty).clone());
                replace_self(ty.to_token_stream(), state)
            }
            _ => quote!(()),
        };
        quote! {
            #[doc(hidden)]
            #[allow(unused_variables, clippy::all)]
            pub fn #name #generics (&self, #(#params),*) -> #rt::lang::Res<#reply> #where_clause {
                ::std::unreachable!("refused by #[server]")
            }
        }
    });
    quote! {
        impl #client {
            #(#stubs)*
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == "impl",
            TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}

/// `tokens` with `Self` (which would mean the client in a stub) replaced by the
/// state type.
fn replace_self(tokens: TokenStream, state: &Ident) -> TokenStream {
    tokens
        .into_iter()
        .map(|t| match t {
            TokenTree::Ident(i) if i == "Self" => TokenTree::Ident(state.clone()),
            TokenTree::Group(g) => {
                let mut group =
                    proc_macro2::Group::new(g.delimiter(), replace_self(g.stream(), state));
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            other => other,
        })
        .collect()
}
