//! `props!(model crash tolerate (1) …)`: a server's start properties in CMSL's
//! own syntax, for servers written in Rust, with the checks `ftc check` makes
//! of the same properties as compile-time errors where CMSL gives an error
//! (a property given twice, a negative constant tolerance, a replica count
//! that is not positive, `model correct` tolerating failures, a durable
//! byzantine server, a host named by a string that is not `h` and a number). What only a
//! run can tell (a tolerance computed at run time, a host the cluster lacks)
//! is checked when the server starts, as in CMSL.
//!
//! ```
//! let tokens: proc_macro2::TokenStream = "model crash tolerate (1) hosts (h1, h2)".parse().unwrap();
//! let code = ftc_shell::props::expand(tokens).to_string();
//! assert!(code.contains("Model :: Crash"));
//! let bad: proc_macro2::TokenStream = "model correct tolerate (1)".parse().unwrap();
//! assert!(ftc_shell::props::expand(bad).to_string().contains("cannot tolerate failures"));
//! ```

use crate::default_runtime;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, Token};

/// One property as written.
enum Prop {
    Model(Ident),
    Tolerate(Expr),
    Replicas(Expr),
    Priority(Expr),
    Hosts(Vec<Expr>),
    Durable(Expr),
    Disjoint,
}

struct Written {
    keyword: Ident,
    prop: Prop,
}

struct Props(Vec<Written>);

/// `( e )`: one expression in parentheses.
fn parenthesized(input: ParseStream) -> syn::Result<Expr> {
    let content;
    syn::parenthesized!(content in input);
    content.parse()
}

impl Parse for Props {
    fn parse(input: ParseStream) -> syn::Result<Props> {
        let mut props = Vec::new();
        while !input.is_empty() {
            let keyword: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a server property: model, tolerate, replicas, hosts, priority, durable or disjoint\n\
                     = help: write them as in CMSL, such as `props!(model crash tolerate (1))`",
                )
            })?;
            let prop = match keyword.to_string().as_str() {
                "model" => Prop::Model(input.parse()?),
                "tolerate" | "tolerance" => Prop::Tolerate(parenthesized(input)?),
                "replicas" => Prop::Replicas(parenthesized(input)?),
                "priority" => Prop::Priority(parenthesized(input)?),
                "durable" => Prop::Durable(parenthesized(input)?),
                "disjoint" => Prop::Disjoint,
                "hosts" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let hosts: Punctuated<Expr, Token![,]> =
                        content.parse_terminated(Expr::parse, Token![,])?;
                    Prop::Hosts(hosts.into_iter().collect())
                }
                other => {
                    return Err(syn::Error::new(
                        keyword.span(),
                        format!(
                            "unknown server property `{other}`\n\
                             = help: the properties are model, tolerate, replicas, hosts, priority, durable and disjoint"
                        ),
                    ))
                }
            };
            props.push(Written { keyword, prop });
        }
        Ok(Props(props))
    }
}

/// The integer a constant expression is (`1`, `-1`, `(2)`), if it is one.
fn const_int(e: &Expr) -> Option<i64> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse().ok(),
            _ => None,
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => const_int(&u.expr).map(|v| -v),
        Expr::Paren(p) => const_int(&p.expr),
        Expr::Group(g) => const_int(&g.expr),
        _ => None,
    }
}

/// The number of host `hN`, if `name` is one.
fn parse_host(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('h')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A `hosts` entry: a bare `hN` or a string literal names a host (the
/// literal must be a host name); anything else (a variable) is an
/// expression of type `Host`, `None` here.
fn host_number(e: &Expr) -> Option<Result<u32, String>> {
    match e {
        Expr::Path(p) => parse_host(&p.path.get_ident()?.to_string()).map(Ok),
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Some(parse_host(&s.value()).ok_or(s.value())),
            _ => None,
        },
        _ => None,
    }
}

fn error(span: impl quote::ToTokens, code: &str, problem: &str, help: &str) -> syn::Error {
    syn::Error::new_spanned(span, format!("{problem} [{code}]\n= help: {help}"))
}

/// The `Props` value `tokens` describe, or a `compile_error!` per mistake.
pub fn expand(tokens: TokenStream) -> TokenStream {
    let props = match syn::parse2::<Props>(tokens) {
        Ok(p) => p,
        Err(e) => return e.to_compile_error(),
    };
    let rt = default_runtime();
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut model: Option<String> = None;
    let mut tolerate: Option<(i64, &Expr)> = None;
    let mut durable: Option<&Ident> = None;
    let mut calls = Vec::new();
    for Written { keyword, prop } in &props.0 {
        let slot = match keyword.to_string().as_str() {
            "tolerance" => "tolerate".to_string(),
            k => k.to_string(),
        };
        if seen.contains(&slot) {
            errors.push(error(
                keyword,
                "E0312",
                "server property given twice",
                "remove the second one",
            ));
            continue;
        }
        seen.push(slot);
        let span = keyword.span();
        match prop {
            Prop::Model(m) => {
                let variant = match m.to_string().as_str() {
                    "correct" => quote!(Correct),
                    "crash" => quote!(Crash),
                    "byzantine" => quote!(Byzantine),
                    other => {
                        errors.push(syn::Error::new_spanned(
                            m,
                            format!(
                                "unknown failure model `{other}`\n\
                                 = help: write `model correct`, `model crash` or `model byzantine`"
                            ),
                        ));
                        continue;
                    }
                };
                model = Some(m.to_string());
                calls.push(quote_spanned!(span=> .model(#rt::types::Model::#variant)));
            }
            Prop::Tolerate(e) => {
                if let Some(v) = const_int(e) {
                    if v < 0 {
                        errors.push(error(
                            e,
                            "E0309",
                            "the tolerance cannot be negative",
                            "tolerate 0 or more failures",
                        ));
                    }
                    tolerate = Some((v, e));
                }
                calls.push(quote_spanned!(span=> .tolerate(#e)));
            }
            Prop::Replicas(e) => {
                if let Some(v) = const_int(e).filter(|v| *v <= 0) {
                    errors.push(error(
                        e,
                        "E0310",
                        &format!("the replica count must be positive (this is {v})"),
                        "leave `replicas` out: the model and tolerance decide the count",
                    ));
                }
                calls.push(quote_spanned!(span=> .replicas(#e)));
            }
            Prop::Priority(e) => calls.push(quote_spanned!(span=> .priority(#e))),
            Prop::Durable(e) => {
                durable = Some(keyword);
                calls.push(quote_spanned!(span=> .durable(#e)));
            }
            Prop::Disjoint => calls.push(quote_spanned!(span=> .disjoint())),
            Prop::Hosts(hosts) => {
                let mut values = Vec::new();
                for h in hosts {
                    match host_number(h) {
                        Some(Ok(n)) => values
                            .push(quote!(#rt::lang::Host(#rt::types::HostId(#n)))),
                        Some(Err(name)) => errors.push(error(
                            h,
                            "E0313",
                            &format!("`{name}` is not a host name"),
                            "name hosts `h` followed by their number, as the cluster file does: `hosts (h1, h2)`",
                        )),
                        // An expression of type `Host`.
                        None => values.push(quote!(#h)),
                    }
                }
                calls.push(quote_spanned!(span=> .hosts(::std::vec![#(#values),*])));
            }
        }
    }
    let model_name = model.as_deref().unwrap_or("correct");
    if let (Some((t, e)), "correct") = (tolerate, model_name) {
        if t > 0 {
            errors.push(error(
                e,
                "E0311",
                "`model correct` cannot tolerate failures",
                "use `model crash` or `model byzantine`",
            ));
        }
    }
    if let (Some(d), "byzantine") = (durable, model_name) {
        errors.push(error(
            d,
            "E0404",
            "durable byzantine servers are not supported yet",
            "use `model crash` for a durable server, or drop `durable`",
        ));
    }
    if !errors.is_empty() {
        let errors = errors.iter().map(syn::Error::to_compile_error);
        // Still a `Props`, so the mistake does not cascade.
        return quote! {{ #(#errors)* #rt::program::Props::new() }};
    }
    quote! { #rt::program::Props::new() #(#calls)* }
}
