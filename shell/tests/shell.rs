//! The shell emitted for a Rust `impl` block (checked against
//! `tests/expanded/counter.rs`, rewritten with `UPDATE_EXPECT=1`) and every
//! refusal of the Rust front end, each with its message.

use ftc_shell::{emit, from_impl::shell_of, Kind};

fn expand(item: syn::ItemImpl) -> String {
    let shell = shell_of(&item).unwrap_or_else(|e| panic!("refused: {e}"));
    let file: syn::File = syn::parse2(emit(&shell)).expect("the shell parses as a file");
    prettyplease::unparse(&file)
}

#[test]
fn counter_shell_matches_the_golden_expansion() {
    let item: syn::ItemImpl = syn::parse_quote! {
        impl Counter {
            pub fn add(&mut self, by: i64) -> i64 { self.total += by; self.total }
            pub fn total(&self) -> i64 { self.total }
            pub fn reset(&mut self) {}
            pub fn checked_div(&self, by: i64) -> Result<i64, String> { Err(String::new()) }
            pub fn forward(&mut self, to: CounterClient) -> Res<i64> { to.total() }
            pub fn new() -> Counter { Counter::default() }
            fn helper(&self) -> i64 { 0 }
        }
    };
    let shell = shell_of(&item).expect("accepted");
    let kinds: Vec<(String, Kind)> = shell
        .commands
        .iter()
        .map(|c| (c.method.to_string(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("add".to_string(), Kind::Command),
            ("total".to_string(), Kind::Query),
            ("reset".to_string(), Kind::Command),
            ("checked_div".to_string(), Kind::Query),
            ("forward".to_string(), Kind::Command),
        ]
    );
    let actual = expand(item);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expanded/counter.rs");
    let mut snapshots = ftc_testkit::Snapshots::new();
    snapshots.file(&path, &actual);
    snapshots.finish();
}

fn refusal(item: syn::ItemImpl) -> String {
    match shell_of(&item) {
        Ok(_) => panic!("accepted"),
        Err(e) => e
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

#[test]
fn what_cannot_be_replicated_is_refused_with_a_reason() {
    let cases: Vec<(syn::ItemImpl, &str)> = vec![
        (
            syn::parse_quote! { impl Counter { pub fn name(&self, s: &str) -> i64 { 0 } } },
            "a reference cannot cross the network",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn name(&self) -> &str { "" } } },
            "reply type: a reference",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn all(&self, v: Vec<&'static str>) {} } },
            "a reference cannot cross the network",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn take(self) {} } },
            "cannot take `self` by value",
        ),
        (
            syn::parse_quote! { impl Counter { pub async fn add(&mut self) {} } },
            "not `async`",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn add<T>(&mut self, t: T) {} } },
            "cannot be generic",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn add(&mut self, (a, b): (i64, i64)) {} } },
            "plain names",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn start(&mut self) {} } },
            "is generated for the server type",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn f(&self, x: impl Into<i64>) {} } },
            "`impl Trait`",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn f(&self) -> Self { todo!() } } },
            "`Self`",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn get_x(&self) {} pub fn get__x(&self) {} } },
            "would both be the command `GetX`",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn add(&mut self) {} pub fn invoke_add(&self) {} } },
            "the invoke stub of `add`",
        ),
        (
            syn::parse_quote! { impl<T> Holder<T> { pub fn f(&self) {} } },
            "cannot be generic",
        ),
        (
            syn::parse_quote! { impl Default for Counter { fn default() -> Self { todo!() } } },
            "not on a trait implementation",
        ),
        (
            syn::parse_quote! { impl Counter { pub fn f(self: Box<Self>) {} } },
            "cannot take `self` by value (or boxed)",
        ),
        (
            syn::parse_quote! { impl Counter { #[ftc(deterministic = "x")] pub fn f(&self) {} } },
            "unknown `ftc` attribute",
        ),
        (
            syn::parse_quote! { impl Counter { #[ftc(nondeterministic)] pub fn f(&self) {} } },
            "needs the reason",
        ),
        (
            syn::parse_quote! { impl Counter { #[ftc(nondeterministic = " ")] pub fn f(&self) {} } },
            "the reason is empty",
        ),
        (
            syn::parse_quote! { impl Counter { #[ftc(nondeterministic = "x")] fn f(&self) {} } },
            "which is not replicated",
        ),
    ];
    for (item, expected) in cases {
        let message = refusal(item);
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
}

#[test]
fn nondeterminism_in_a_replicated_method_is_refused_unless_the_method_says_why() {
    let cases: Vec<(syn::ItemImpl, &str)> = vec![
        (
            syn::parse_quote! { impl S { pub fn f(&mut self) -> i64 {
                let m: std::collections::HashMap<i64, i64> = Default::default();
                m.values().sum()
            } } },
            "`std::collections::HashMap` in the replicated method `f`",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&self) -> HashSet<i64> { todo!() } } },
            "`HashSet` in the replicated method `f`",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&mut self) { self.x = rand::random(); } } },
            "`rand::random` in the replicated method `f`: random numbers",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&mut self) { self.at = format!("{:?}", Instant::now()); } } },
            "`Instant::now`",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&mut self) { let t = std::time::SystemTime::now(); } } },
            "`std::time::SystemTime::now`",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&mut self) { self.x = std::fs::read("a").unwrap(); } } },
            "`std::fs::read` in the replicated method `f`: files are not replicated",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&mut self) { std::thread::sleep(d); } } },
            "`std::thread::sleep`",
        ),
        (
            syn::parse_quote! { impl S { pub fn f(&self) -> String { std::env::var("X").unwrap() } } },
            "environment variables",
        ),
    ];
    for (item, expected) in cases {
        let message = refusal(item);
        assert!(
            message.contains(expected) && message.contains("#[ftc(nondeterministic = "),
            "expected {expected:?} and the opt-out in {message:?}"
        );
    }
    // Said why: accepted, and the attribute is gone from the emitted block.
    let item: syn::ItemImpl = syn::parse_quote! {
        impl S {
            #[ftc(nondeterministic = "the map is only looked up, never iterated")]
            pub fn f(&mut self, k: i64) -> Option<i64> {
                let m: HashMap<i64, i64> = HashMap::new();
                m.get(&k).copied()
            }
            fn helper(&self) -> Instant { Instant::now() }
            pub fn sleeping(&self) -> i64 { self.sleep_count() }
        }
    };
    assert!(shell_of(&item).is_ok());
    let expanded = ftc_shell::from_impl::expand(&item).to_string();
    assert!(!expanded.contains("# [ftc"), "{expanded}");
    assert!(!expanded.contains("compile_error"), "{expanded}");
}

#[test]
fn a_refused_method_still_gets_a_client_stub_so_its_calls_add_no_error() {
    let item: syn::ItemImpl = syn::parse_quote! {
        impl Counter {
            pub fn add(&mut self, by: i64) -> i64 { by }
            pub fn name(&self, prefix: &str) -> Self { todo!() }
        }
    };
    let expanded = ftc_shell::from_impl::expand(&item);
    let text = expanded.to_string();
    let file: syn::File = syn::parse2(expanded).expect("the fallback parses");
    let stubs: Vec<String> = file
        .items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Impl(i) if quote::quote!(#i).to_string().contains("refused by") => {
                Some(prettyplease::unparse(&syn::File {
                    shebang: None,
                    attrs: vec![],
                    items: vec![syn::Item::Impl(i.clone())],
                }))
            }
            _ => None,
        })
        .collect();
    assert_eq!(stubs.len(), 1, "{text}");
    assert!(
        stubs[0].contains("impl CounterClient")
            && stubs[0]
                .contains("pub fn name(&self, prefix: &str) -> ::ftc_runtime::lang::Res<Counter>"),
        "{}",
        stubs[0]
    );
    assert!(text.contains("pub enum CounterCommand"), "{text}");
    assert!(text.contains("compile_error"), "{text}");
}

#[test]
fn every_error_of_a_block_is_reported() {
    let item: syn::ItemImpl = syn::parse_quote! {
        impl Counter {
            pub fn a(&self, s: &str) {}
            pub fn b(self) {}
        }
    };
    let message = refusal(item);
    assert!(
        message.contains("reference") && message.contains("&mut self"),
        "{message}"
    );
}

#[test]
fn props_take_cmsl_syntax_and_refuse_what_ftc_check_refuses() {
    let expand = |text: &str| -> String {
        let tokens: proc_macro2::TokenStream = text.parse().expect("tokens");
        ftc_shell::props::expand(tokens).to_string()
    };
    let ok = expand(
        "model byzantine tolerate (1) replicas (4) hosts (h1, \"h2\", h) priority (2) disjoint",
    );
    assert!(!ok.contains("compile_error"), "{ok}");
    for part in [
        "Model :: Byzantine",
        ". tolerate (1)",
        ". replicas (4)",
        "HostId (1u32)",
        "HostId (2u32)",
        ". priority (2)",
        ". disjoint ()",
    ] {
        assert!(ok.contains(part), "{part} in {ok}");
    }
    let cases = [
        (
            "model crash model crash",
            "server property given twice [E0312]",
        ),
        (
            "tolerate (1) tolerance (2)",
            "server property given twice [E0312]",
        ),
        (
            "model crash tolerate (-1)",
            "the tolerance cannot be negative [E0309]",
        ),
        (
            "replicas (0)",
            "the replica count must be positive (this is 0) [E0310]",
        ),
        (
            "tolerate (1)",
            "`model correct` cannot tolerate failures [E0311]",
        ),
        (
            "model correct tolerate (2)",
            "cannot tolerate failures [E0311]",
        ),
        (
            "model byzantine tolerate (1) durable (\"x\")",
            "durable byzantine servers are not supported yet [E0404]",
        ),
        (
            "hosts (h1, \"server2\")",
            "`server2` is not a host name [E0313]",
        ),
        ("model sturdy", "unknown failure model `sturdy`"),
        ("colour (3)", "unknown server property `colour`"),
        ("model crash 3", "expected a server property"),
    ];
    for (text, expected) in cases {
        let out = expand(text);
        assert!(out.contains("compile_error"), "{text}: {out}");
        assert!(
            out.contains(expected),
            "{text}: expected {expected:?} in {out}"
        );
    }
    // A mistake still gives a `Props`, so it does not cascade.
    assert!(expand("replicas (0)").contains("Props :: new ()"));
    // Values known only at run time are left to the start.
    assert!(!expand("model crash tolerate (t) replicas (n - 1)").contains("compile_error"));
}
