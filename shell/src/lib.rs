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
pub mod props;

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
    /// What differs between the front ends' shells.
    pub front_end: FrontEnd,
}

/// What differs between the shells of the two front ends.
#[derive(Clone)]
pub enum FrontEnd {
    /// `#[ftc_runtime::server]`: runtime items by their path (`runtime`), a
    /// new server is the state's `Default`, the types are checked at the
    /// user's tokens, and the type gets `start(props)` and `server_class()`.
    Rust,
    /// A lowered CMSL server class: runtime items by their prelude names (the
    /// generated file imports the prelude and serde's derives), and the
    /// class's own construction (its initializers) and invariant, each the
    /// body of a function returning `Res`.
    Cmsl {
        construct: TokenStream,
        invariant: TokenStream,
    },
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

/// The invoke stub's name of `command` (`invoke_add` for `add`), made
/// unique among the client's methods with trailing `_`s when the class also
/// has a method of that name (the Rust front end refuses such a pair instead).
pub fn invoke_stub(shell: &ServerShell, command: &Command) -> Ident {
    let names: Vec<String> = shell
        .commands
        .iter()
        .map(|c| c.method.to_string())
        .collect();
    invoke_stub_named(&command.method, names.iter().map(String::as_str))
}

/// [`invoke_stub`] of the method `method` among the class's command
/// methods `methods` (Rust names, `r#` allowed).
pub fn invoke_stub_named<'a>(method: &Ident, methods: impl Iterator<Item = &'a str>) -> Ident {
    let methods: Vec<&str> = methods.map(|m| m.trim_start_matches("r#")).collect();
    let mut name = format!("invoke_{}", method.to_string().trim_start_matches("r#"));
    while methods.contains(&name.as_str()) {
        name.push('_');
    }
    Ident::new(&name, method.span())
}

impl ServerShell {
    /// A runtime item by its path (`::ftc_runtime::program::Server`), or by
    /// its prelude name in CMSL (the generated file imports the prelude).
    fn rt(&self, module: &str, item: &str) -> TokenStream {
        let item = Ident::new(item, Span::call_site());
        match self.front_end {
            FrontEnd::Rust => {
                let rt = &self.runtime;
                let module = Ident::new(module, Span::call_site());
                quote!(#rt::#module::#item)
            }
            FrontEnd::Cmsl { .. } => quote!(#item),
        }
    }

    /// `#[derive(…, Serialize, Deserialize)]` with `more` first, and serde's
    /// path where the user's crate may not depend on serde itself.
    fn derive_wire(&self, more: TokenStream) -> TokenStream {
        match self.front_end {
            FrontEnd::Rust => {
                let rt = &self.runtime;
                let serde_crate = format!("{}::serde", path_text(rt));
                quote! {
                    #[derive(#more #rt::serde::Serialize, #rt::serde::Deserialize)]
                    #[serde(crate = #serde_crate)]
                }
            }
            FrontEnd::Cmsl { .. } => quote!(#[derive(#more Serialize, Deserialize)]),
        }
    }
}

/// The shell of `shell`: command enum, `ServerClass` and `TypedServer`
/// impls, and the typed client; for the Rust front end also compile-time
/// checks at the user's tokens and `State::start(props)`.
pub fn emit(shell: &ServerShell) -> TokenStream {
    let state = &shell.state;
    let command = command_enum(state);
    let client = client_struct(state);
    let name = &shell.class_name;
    let res = shell.rt("lang", "Res");
    let encoded = shell.rt("lang", "Encoded");
    let encode = shell.rt("lang", "encode");
    let server = shell.rt("program", "Server");
    let future = shell.rt("program", "Future");
    let server_class = shell.rt("program", "ServerClass");
    let typed_server = shell.rt("program", "TypedServer");

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
        quote! { #command::#variant { #(#names),* } => #encode(&#call), }
    });
    let stubs = shell.commands.iter().map(|c| {
        let (variant, method) = (&c.variant, &c.method);
        let invoke = invoke_stub(shell, c);
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
            pub fn #method(&self, #(#params),*) -> #res<#reply> {
                self.server.call(#command::#variant { #(#names),* })
            }
            #[doc = #doc_invoke]
            pub fn #invoke(&self, #(#params2),*) -> #res<#future<#reply>> {
                self.server.invoke(#command::#variant { #(#names),* })
            }
        }
    });
    let (construct, invariant) = match &shell.front_end {
        FrontEnd::Rust => (
            quote!(::std::result::Result::Ok(
                <Self as ::std::default::Default>::default()
            )),
            TokenStream::new(),
        ),
        FrontEnd::Cmsl {
            construct,
            invariant,
        } => (
            construct.clone(),
            quote! {
                fn invariant(&self) -> #res<()> {
                    #invariant
                }
            },
        ),
    };
    let enum_doc = format!(" One variant per public method of `{name}`.");
    let client_doc = format!(
        " A handle on a replicated `{name}` server: one method per command, each \
         an exactly-once call answered by the server's reply rule."
    );
    let enum_derive = shell.derive_wire(TokenStream::new());
    let client_derive = shell.derive_wire(quote!(Clone, Copy, Debug, PartialEq, Eq,));
    let shared = quote! {
        #[doc = #enum_doc]
        #enum_derive
        pub enum #command {
            #(#variants),*
        }

        impl #server_class for #state {
            const NAME: &'static str = #name;
            type Command = #command;

            fn construct() -> #res<Self> {
                #construct
            }

            fn dispatch(&mut self, command: #command) -> #res<#encoded> {
                match command {
                    #(#arms)*
                }
            }

            #invariant
        }

        impl #typed_server for #state {
            type Client = #client;
        }

        #[doc = #client_doc]
        #client_derive
        pub struct #client {
            server: #server<#state>,
        }

        impl ::std::convert::From<#server<#state>> for #client {
            fn from(server: #server<#state>) -> Self {
                #client { server }
            }
        }

        impl ::std::convert::From<#client> for #server<#state> {
            fn from(client: #client) -> Self {
                client.server
            }
        }

        impl #client {
            #(#stubs)*
        }
    };
    match shell.front_end {
        FrontEnd::Cmsl { .. } => shared,
        FrontEnd::Rust => {
            let rt = &shell.runtime;
            // What only the type checker can tell, asserted at the user's
            // tokens so the error names the type and the fix
            // (`ftc_runtime::macro_support`).
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

                #shared

                impl #state {
                    /// Starts a replicated server of this type with `props` (model,
                    /// tolerance, replicas, hosts) and returns its client.
                    pub fn start(props: &#rt::program::Props) -> #res<#client> {
                        #server::<#state>::start(props).map(#client::from)
                    }

                    /// What the kernels need to create replicas of this type.
                    pub fn server_class() -> #rt::program::ServerClassDef {
                        #rt::program::ServerClassDef::of::<#state>()
                    }
                }
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
