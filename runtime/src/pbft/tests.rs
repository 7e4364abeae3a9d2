//! Exact-event tests of the byzantine engine: normal case, equivocation, view change, checkpoints.
