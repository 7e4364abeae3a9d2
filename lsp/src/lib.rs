//! The CMSL language server behind `ftc lsp`: diagnostics as you type, hover,
//! go to definition, find references, completion and document symbols.
//!
//! Synchronous, over `lsp-server`'s channels (stdio for `ftc lsp`, in memory
//! for tests). Documents are synchronized whole; every change is checked
//! again by the front end (`ftc_frontend::analyze_source`), so diagnostics
//! are exactly those of `ftc check`. While the text does not parse (half-typed
//! code such as `x->`), the tables of the last version that parsed answer,
//! positions mapped by line and column.

pub mod complete;
pub mod describe;
pub mod document;
pub mod index;
pub mod server;
pub mod symbols;
pub mod text;

pub use server::{capabilities, serve, Error};

/// Serves on stdin/stdout until the client says `exit`.
pub fn run_stdio() -> Result<(), Error> {
    let (connection, io_threads) = lsp_server::Connection::stdio();
    serve(&connection)?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}
