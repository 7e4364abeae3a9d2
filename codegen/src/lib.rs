//! Rust code generation from the replication IR (quote + proc-macro2).
//!
//! Not yet implemented: see ARCHITECTURE.md, "Status".
