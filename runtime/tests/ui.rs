//! `#[ftc_runtime::server]` and `ftc_runtime::props!` as a user meets them,
//! compiled by rustc: every
//! `tests/ui/pass_*.rs` builds and runs, every `tests/ui/fail_*.rs` fails with
//! exactly the errors in the `.stderr` file beside it (`TRYBUILD=overwrite`
//! rewrites them; review the diff). Each failing case also uses the type and its
//! client, so a refusal that cascades into further errors shows up here.

#[test]
fn server_attribute_accepts_and_refuses_with_spanned_errors() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass_*.rs");
    cases.compile_fail("tests/ui/fail_*.rs");
}
