//! CMSL front end: name resolution, type checking, CMSL rules and diagnostics.
