//! The replication runtime that generated programs link against.
