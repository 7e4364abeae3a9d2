//! `#[ftc_runtime::server]`: replicate a plain Rust type. The attribute goes on
//! the type's own `impl` block; every `pub fn(&mut self, …)` becomes a command
//! and every `pub fn(&self, …)` a query of a replicated state machine, with the
//! same shell (command enum, dispatch, typed client) that `ftc` emits for a
//! CMSL server class: both come from `ftc-shell`.
//!
//! Use it through the runtime (`ftc_runtime::server`), whose documentation has
//! the example; this crate is its proc-macro half.

use proc_macro::TokenStream;

/// Makes the type of this `impl` block a replicated server class. See the
/// crate documentation and `ftc_runtime::server`.
#[proc_macro_attribute]
pub fn server(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let attr_error = (!attr.is_empty()).then(|| {
        syn::Error::new_spanned(
            attr,
            "#[server] takes no arguments: the model and tolerance are chosen when the server starts\n\
             = help: write `#[ftc_runtime::server]`, and `Type::start(&Props::new().model(Model::Crash).tolerate(1))`",
        )
        .to_compile_error()
    });
    let tokens = proc_macro2::TokenStream::from(item);
    let expansion = match syn::parse2::<syn::ItemImpl>(tokens.clone()) {
        Ok(item) => ftc_shell::from_impl::expand(&item),
        Err(_) => {
            // Keep the item as it is, so its other uses report nothing more.
            let error = syn::Error::new_spanned(
                &tokens,
                "#[server] goes on an `impl` block of the server's state type\n\
                 = help: derive `Default`, `Serialize` and `Deserialize` on the type, and put \
                 `#[ftc_runtime::server]` on its `impl` block",
            )
            .to_compile_error();
            quote::quote! { #tokens #error }
        }
    };
    quote::quote! { #expansion #attr_error }.into()
}

/// A server's start properties in CMSL's syntax, checked at compile time
/// where `ftc check` would refuse them: `props!(model crash tolerate (1))`.
/// See `ftc_runtime::props`.
#[proc_macro]
pub fn props(tokens: TokenStream) -> TokenStream {
    ftc_shell::props::expand(tokens.into()).into()
}
