//! Example CMSL programs (the air-traffic-control system) and the tests that run them.
//!
//! Not yet implemented: see ARCHITECTURE.md, "Status".
