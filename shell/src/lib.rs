//! The front-end-independent shape of a replicated server class ([`ServerShell`])
//! and the Rust *shell* emitted for it ([`emit`]): the command enum, the
//! `ServerClass` implementation (construction and dispatch) and a typed client
//! stub with one method per command.
//!
//! A server class is its state type and its commands (name, parameters and
//! their types, reply type, command or read-only query); how the methods'
//! bodies are written is the front end's business. `#[ftc_runtime::server]`
//! ([`from_impl`]) builds a shell from a Rust `impl` block; the shape is the one
//! `runtime/examples/golden.rs` shows for a CMSL server class.
//!
//! ```
//! let item: syn::ItemImpl = syn::parse_quote! {
//!     impl Counter {
//!         pub fn add(&mut self, by: i64) -> i64 { self.total += by; self.total }
//!         pub fn total(&self) -> i64 { self.total }
//!     }
//! };
//! let shell = ftc_shell::from_impl::shell_of(&item).unwrap();
//! assert_eq!(shell.commands.len(), 2);
//! let code = ftc_shell::emit(&shell).to_string();
//! assert!(code.contains("pub enum CounterCommand"));
//! assert!(code.contains("pub struct CounterClient"));
//! ```

pub mod from_impl;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// One replicated server class, as every front end describes it.
#[derive(Clone)]
pub struct ServerShell {
    /// The Rust type that holds one replica's state.
    pub state: Ident,
    /// The name the kernels' server factories know the class by.
    pub class_name: String,
    /// The public methods, in declaration order.
    pub commands: Vec<Command>,
    /// The path of the runtime crate in the emitted code (`::ftc_runtime`).
    pub runtime: syn::Path,
}

/// One public method of a server class.
#[derive(Clone)]
pub struct Command {
    pub method: Ident,
    /// The command enum's variant (the method name in UpperCamelCase).
    pub variant: Ident,
    pub params: Vec<Param>,
    /// What a caller receives (`()` for none).
    pub reply: syn::Type,
    pub kind: Kind,
    pub returns: Returns,
}

/// A method parameter: its name and type.
#[derive(Clone)]
pub struct Param {
    pub name: Ident,
    pub ty: syn::Type,
}

/// Whether a method may change the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `&mut self`: ordered and applied by every replica.
    Command,
    /// `&self`: reads only. Still ordered with the commands (a faster read path
    /// would have to be proven linearizable first).
    Query,
}

/// How the method hands back its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// The reply itself (a Rust method: `fn f(&self) -> T`).
    Value,
    /// `Res<reply>`, whose failure reaches the caller (a lowered CMSL method).
    Res,
}

/// The command enum's name for a state type (`Counter` → `CounterCommand`).
pub fn command_enum(state: &Ident) -> Ident {
    format_ident!("{}Command", state)
}

/// The typed client's name for a state type (`Counter` → `CounterClient`).
pub fn client_struct(state: &Ident) -> Ident {
    format_ident!("{}Client", state)
}

/// `snake_case` → `UpperCamelCase` (a leading `r#` is dropped).
pub fn upper_camel(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The shell of `shell`: command enum, `ServerClass` impl, typed client, and
/// `State::start(props)`.
pub fn emit(shell: &ServerShell) -> TokenStream {
    let rt = &shell.runtime;
    let state = &shell.state;
    let command = command_enum(state);
    let client = client_struct(state);
    let name = &shell.class_name;
    let serde_crate = format!("{}::serde", path_text(rt));

    let variants = shell.commands.iter().map(|c| {
        let variant = &c.variant;
        let fields = c.params.iter().map(|p| {
            let (n, t) = (&p.name, &p.ty);
            quote! { #n: #t }
        });
        let doc = format!(" `{}`", c.method);
        quote! { #[doc = #doc] #variant { #(#fields),* } }
    });
    let arms = shell.commands.iter().map(|c| {
        let (variant, method) = (&c.variant, &c.method);
        let names: Vec<&Ident> = c.params.iter().map(|p| &p.name).collect();
        let call = match c.returns {
            Returns::Value => quote! { self.#method(#(#names),*) },
            Returns::Res => quote! { self.#method(#(#names),*)? },
        };
        quote! { #command::#variant { #(#names),* } => #rt::lang::encode(&#call), }
    });
    let stubs = shell.commands.iter().map(|c| {
        let (variant, method) = (&c.variant, &c.method);
        let invoke = format_ident!("invoke_{}", method.to_string().trim_start_matches("r#"));
        let reply = &c.reply;
        let params = c.params.iter().map(|p| {
            let (n, t) = (&p.name, &p.ty);
            quote! { #n: #t }
        });
        let params2 = params.clone();
        let names: Vec<&Ident> = c.params.iter().map(|p| &p.name).collect();
        let what = match c.kind {
            Kind::Command => "command",
            Kind::Query => "query",
        };
        let doc = format!(" Calls the {what} `{method}` and waits for its reply.");
        let doc_invoke = format!(" Sends the {what} `{method}`; its future holds the reply.");
        quote! {
            #[doc = #doc]
            pub fn #method(&self, #(#params),*) -> #rt::lang::Res<#reply> {
                self.server.call(#command::#variant { #(#names),* })
            }
            #[doc = #doc_invoke]
            pub fn #invoke(&self, #(#params2),*) -> #rt::lang::Res<#rt::program::Future<#reply>> {
                self.server.invoke(#command::#variant { #(#names),* })
            }
        }
    });
    let enum_doc = format!(" One variant per public method of `{state}`.");
    let client_doc = format!(
        " A handle on a replicated `{state}` server: one method per command, each \
         an exactly-once call answered by the server's reply rule."
    );
    // What only the type checker can tell, asserted at the user's tokens so the
    // error names the type and the fix (`ftc_runtime::macro_support`).
    let snapshot = quote_spanned! {state.span()=>
        #rt::macro_support::snapshot::<#state>();
        #rt::macro_support::initial::<#state>();
    };
    let wire = shell.commands.iter().flat_map(|c| {
        c.params
            .iter()
            .map(|p| &p.ty)
            .chain(std::iter::once(&c.reply))
            .map(|ty| quote_spanned! {ty.span()=> #rt::macro_support::wire::<#ty>(); })
    });
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn checks() {
                #snapshot
                #(#wire)*
            }
        };

        #[doc = #enum_doc]
        #[derive(#rt::serde::Serialize, #rt::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        pub enum #command {
            #(#variants),*
        }

        impl #rt::program::ServerClass for #state {
            const NAME: &'static str = #name;
            type Command = #command;

            fn construct() -> #rt::lang::Res<Self> {
                ::std::result::Result::Ok(<Self as ::std::default::Default>::default())
            }

            fn dispatch(&mut self, command: #command) -> #rt::lang::Res<#rt::lang::Encoded> {
                match command {
                    #(#arms)*
                }
            }
        }

        #[doc = #client_doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, #rt::serde::Serialize, #rt::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        pub struct #client {
            server: #rt::program::Server<#state>,
        }

        impl #client {
            /// The client of an already started server.
            pub fn from_server(server: #rt::program::Server<#state>) -> Self {
                #client { server }
            }

            /// The server handle (to pass it on, compare it, or register it).
            pub fn server(&self) -> #rt::program::Server<#state> {
                self.server
            }

            #(#stubs)*
        }

        impl #state {
            /// Starts a replicated server of this type with `props` (model,
            /// tolerance, replicas, hosts) and returns its client.
            pub fn start(props: &#rt::program::Props) -> #rt::lang::Res<#client> {
                #rt::program::Server::<#state>::start(props).map(#client::from_server)
            }

            /// What the kernels need to create replicas of this type.
            pub fn server_class() -> #rt::program::ServerClassDef {
                #rt::program::ServerClassDef::of::<#state>()
            }
        }
    }
}

/// A path as written, without spaces (`::ftc_runtime`).
fn path_text(path: &syn::Path) -> String {
    let mut text = String::new();
    if path.leading_colon.is_some() {
        text.push_str("::");
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    text.push_str(&segments.join("::"));
    text
}

/// `::ftc_runtime`, the runtime's path as users import it.
pub fn default_runtime() -> syn::Path {
    let ident = Ident::new("ftc_runtime", Span::call_site());
    syn::parse_quote!(::#ident)
}
