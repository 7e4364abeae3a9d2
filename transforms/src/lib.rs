//! Ordered lowering passes from the checked CMSL program to the replication IR.
//!
//! Not yet implemented: see ARCHITECTURE.md, "Status".
