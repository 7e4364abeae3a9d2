//! `#[ftc_runtime::server]`: replicate a plain Rust type. The attribute goes on
//! the type's own `impl` block; every `pub fn(&mut self, …)` becomes a command
//! and every `pub fn(&self, …)` a query of a replicated state machine, with the
//! same shell (command enum, dispatch, typed client) that `ftc` emits for a
//! CMSL server class: both come from `ftc-shell`.
//!
//! Use it through the runtime (`ftc_runtime::server`), whose documentation has
//! the example; this crate is its proc-macro half.

use proc_macro::TokenStream;
use quote::quote;

/// Makes the type of this `impl` block a replicated server class. See the
/// crate documentation and `ftc_runtime::server`.
#[proc_macro_attribute]
pub fn server(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    if !attr.is_empty() {
        let error = syn::Error::new_spanned(
            attr,
            "#[server] takes no arguments: the model and tolerance are chosen when the server starts (`Type::start(&Props::new()…)`)",
        );
        return error.to_compile_error().into();
    }
    let item = match syn::parse::<syn::ItemImpl>(item) {
        Ok(item) => item,
        Err(e) => {
            let e = syn::Error::new(
                e.span(),
                "#[server] goes on an `impl` block of the server's state type",
            );
            return e.to_compile_error().into();
        }
    };
    match ftc_shell::from_impl::shell_of(&item) {
        Ok(shell) => {
            let generated = ftc_shell::emit(&shell);
            quote! { #item #generated }.into()
        }
        Err(e) => {
            let error = e.to_compile_error();
            // Keep the user's impl so its own errors and uses still resolve.
            quote! { #item #error }.into()
        }
    }
}
