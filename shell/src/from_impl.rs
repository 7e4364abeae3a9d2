//! The Rust front end: a [`ServerShell`] from an `impl` block of a user type,
//! as `#[ftc_runtime::server]` sees it. Every `pub fn` taking `&mut self`
//! becomes a command, every `pub fn` taking `&self` a query; other items are
//! left alone. What cannot cross the network or be replicated is refused with
//! an error at the offending tokens, never left to rustc.

use crate::{default_runtime, upper_camel, Command, Kind, Param, Returns, ServerShell};
use proc_macro2::Ident;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, Pat, ReturnType, Type, Visibility};

/// Names the generated code gives the type itself: a method may not take them.
const RESERVED: &[&str] = &["start", "server_class"];

/// The shell of the server class `item` implements, or every error found.
pub fn shell_of(item: &ItemImpl) -> syn::Result<ServerShell> {
    let mut errors: Vec<syn::Error> = Vec::new();
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            "#[server] goes on the type's own `impl` block, not on a trait implementation",
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new(
            item.generics.span(),
            "a replicated server type cannot be generic: every replica must build the same type from its name",
        ));
    }
    let state = match state_ident(&item.self_ty) {
        Some(ident) => Some(ident),
        None => {
            errors.push(syn::Error::new(
                item.self_ty.span(),
                "#[server] needs a plain type name here, e.g. `impl Counter`",
            ));
            None
        }
    };
    let mut commands: Vec<Command> = Vec::new();
    for f in item.items.iter().filter_map(|i| match i {
        ImplItem::Fn(f) => Some(f),
        _ => None,
    }) {
        match command_of(f) {
            Ok(Some(c)) => {
                if let Some(other) = commands.iter().find(|o| o.variant == c.variant) {
                    errors.push(syn::Error::new(
                        f.sig.ident.span(),
                        format!(
                            "`{}` and `{}` would both be the command `{}`: rename one",
                            other.method, c.method, c.variant
                        ),
                    ));
                } else {
                    commands.push(c);
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if let Some(mut first) = errors.pop() {
        // Report in source order: the first error found leads.
        errors.reverse();
        for e in errors {
            first.combine(e);
        }
        return Err(first);
    }
    let state = state.expect("no error, so the state type was found");
    Ok(ServerShell {
        class_name: state.to_string(),
        state,
        commands,
        runtime: default_runtime(),
    })
}

fn state_ident(ty: &Type) -> Option<Ident> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() || p.path.segments.len() != 1 {
        return None;
    }
    let segment = &p.path.segments[0];
    segment.arguments.is_none().then(|| segment.ident.clone())
}

/// The command of a `pub fn` with a `self` receiver; `None` for other items.
fn command_of(f: &ImplItemFn) -> syn::Result<Option<Command>> {
    if !matches!(f.vis, Visibility::Public(_)) {
        return Ok(None);
    }
    let sig = &f.sig;
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else {
        return Ok(None); // an associated function (`new`, …): not a command
    };
    let kind = match (&receiver.reference, &receiver.mutability) {
        (Some(_), Some(_)) => Kind::Command,
        (Some(_), None) => Kind::Query,
        (None, _) => {
            return Err(syn::Error::new(
                receiver.span(),
                "a server method takes `&self` (a query) or `&mut self` (a command): the state stays with the replicas",
            ))
        }
    };
    let name = sig.ident.to_string();
    if RESERVED.contains(&name.as_str()) {
        return Err(syn::Error::new(
            sig.ident.span(),
            format!("`{name}` is generated for the server type (`Type::{name}`): give the method another name"),
        ));
    }
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "server methods are not `async`: a method runs to its end on every replica (call other servers with the client's `invoke_…`)",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a server method cannot be generic: its parameters travel in a command of one type",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "a server method cannot be variadic",
        ));
    }
    let mut params = Vec::new();
    for arg in sig.inputs.iter().skip(1) {
        let FnArg::Typed(arg) = arg else {
            continue;
        };
        let name = match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "a server method's parameters need plain names (`x: T`): they become the fields of its command",
                ))
            }
        };
        owned(&arg.ty, "parameter")?;
        params.push(Param {
            name,
            ty: (*arg.ty).clone(),
        });
    }
    let (reply, returns): (Type, Returns) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), Returns::Value),
        ReturnType::Type(_, ty) => {
            owned(ty, "reply")?;
            match res_inner(ty) {
                Some(inner) => (inner, Returns::Res),
                None => ((**ty).clone(), Returns::Value),
            }
        }
    };
    Ok(Some(Command {
        variant: format_ident!("{}", upper_camel(&name), span = sig.ident.span()),
        method: sig.ident.clone(),
        params,
        reply,
        kind,
        returns,
    }))
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
    let why = match ty {
        Type::Reference(_) => {
            "a reference cannot cross the network: take an owned value (e.g. `String` for `&str`)"
        }
        Type::ImplTrait(_) => "`impl Trait` has no single type a command can carry: name the type",
        Type::TraitObject(_) => {
            "a trait object cannot be serialized into a command: name a concrete type"
        }
        Type::Ptr(_) => "a raw pointer means nothing on another replica",
        Type::BareFn(_) => "a function pointer means nothing on another replica",
        Type::Infer(_) | Type::Never(_) | Type::Macro(_) => {
            "name the type the server sends and receives"
        }
        Type::Paren(p) => return owned(&p.elem, what),
        Type::Group(g) => return owned(&g.elem, what),
        Type::Tuple(t) => {
            for e in &t.elems {
                owned(e, what)?;
            }
            return Ok(());
        }
        Type::Array(a) => return owned(&a.elem, what),
        Type::Slice(_) => "a slice has no size: take a `Vec`",
        Type::Path(p) => {
            if p.path.segments.iter().any(|s| s.ident == "Self") {
                "`Self` would name the command, not the server type here: write the type's name"
            } else {
                for segment in &p.path.segments {
                    if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                        for arg in &args.args {
                            match arg {
                                syn::GenericArgument::Type(t) => owned(t, what)?,
                                syn::GenericArgument::Lifetime(l) => {
                                    return Err(syn::Error::new(
                                        l.span(),
                                        format!(
                                        "this {what} type borrows: a command carries owned values"
                                    ),
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
    Err(syn::Error::new(
        ty.span(),
        format!("this {what} type: {why}"),
    ))
}
