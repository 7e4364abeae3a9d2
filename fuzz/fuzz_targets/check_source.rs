//! Fuzz target: any text through the whole front end must yield diagnostics, never a panic.
//!
//! Run from the repository root with `cargo +nightly fuzz run check_source`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        let output = ftc_frontend::check_source(source);
        let _ = output.has_errors();
    }
});
