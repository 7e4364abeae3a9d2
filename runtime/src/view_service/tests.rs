//! Exact-output tests of the view-service participant, placement against a naive oracle, and a seeded fault harness.
