//! The parser's limits: deep nesting is an error, never a stack overflow; huge or broken input is an error, never a panic.

use ftc_grammar::{parse, SyntaxErrorKind, MAX_NESTING_DEPTH};

const DEEP: usize = 10_000;

fn in_main(body: &str) -> String {
    format!("void main () {{\n{body}\n}}\n")
}

fn assert_too_deep(source: &str) {
    let parsed = parse(source);
    assert!(
        parsed.errors.iter().any(|e| e.kind
            == SyntaxErrorKind::TooDeep {
                limit: MAX_NESTING_DEPTH
            }),
        "expected a nesting error, got {:?}",
        parsed.errors
    );
    assert!(parsed.program.items.is_empty());
}

#[test]
fn ten_thousand_parentheses_are_too_deep() {
    let source = in_main(&format!("x = {}a{};", "(".repeat(DEEP), ")".repeat(DEEP)));
    assert_too_deep(&source);
}

#[test]
fn ten_thousand_unclosed_parentheses_are_too_deep() {
    assert_too_deep(&in_main(&"(".repeat(DEEP)));
}

#[test]
fn ten_thousand_blocks_are_too_deep() {
    assert_too_deep(&in_main(&format!(
        "{}{}",
        "{".repeat(DEEP),
        "}".repeat(DEEP)
    )));
}

#[test]
fn unary_chains_are_too_deep() {
    assert_too_deep(&in_main(&format!("x = {}a;", "- ".repeat(DEEP))));
    assert_too_deep(&in_main(&format!("x = {}a;", "!".repeat(DEEP))));
    // A syntax error after the chain: the parser drops its stack while it
    // recovers, before the chain is ever built into a tree.
    let parsed = parse(&in_main(&format!("x = {}a b c;", "- ".repeat(DEEP))));
    assert!(!parsed.errors.is_empty());
}

#[test]
fn binary_chains_are_too_deep() {
    assert_too_deep(&in_main(&format!("x = a{};", "+a".repeat(DEEP))));
    assert_too_deep(&in_main(&format!("x = a{} );", "+a".repeat(DEEP))));
}

#[test]
fn else_if_chains_are_too_deep() {
    let chain = "if (a) x = 1; else ".repeat(DEEP);
    assert_too_deep(&in_main(&format!("{chain}x = 2;")));
}

#[test]
fn nested_types_are_too_deep() {
    let ty = format!("{}int{}", "list<".repeat(DEEP), ">".repeat(DEEP));
    assert_too_deep(&in_main(&format!("{ty} x;")));
}

#[test]
fn nesting_at_the_limit_is_fine() {
    // Blocks inside `main`'s body: the body is depth 1, each block statement
    // and its block add 2.
    let depth = (MAX_NESTING_DEPTH - 1) / 2;
    let source = in_main(&format!("{}{}", "{".repeat(depth), "}".repeat(depth)));
    let parsed = parse(&source);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert!(ftc_grammar::nesting_depth(&parsed.program).0 <= MAX_NESTING_DEPTH);
}

#[test]
fn unterminated_things_are_errors() {
    for source in [
        "/* never closed",
        "void main () { string s = \"abc",
        "\"",
        "void f() { /*",
    ] {
        let parsed = parse(source);
        assert!(!parsed.errors.is_empty(), "{source:?}");
    }
}

#[test]
fn integer_overflow_is_an_error() {
    let parsed = parse(&in_main("int x = 9_223_372_036_854_775_808;"));
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].kind, SyntaxErrorKind::IntegerTooLarge);
    let parsed = parse(&in_main("int x = 9_223_372_036_854_775_807;"));
    assert!(parsed.errors.is_empty());
}

#[test]
fn expression_ids_are_unique() {
    let parsed = parse(&in_main("int x = a + b * c; f(x, y->z[1]); x++;"));
    assert!(parsed.errors.is_empty());
    let debug = format!("{:?}", parsed.program);
    let mut ids: Vec<&str> = debug
        .match_indices("ExprId(")
        .map(|(i, _)| &debug[i..i + 12])
        .collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count);
    assert!(count >= 10);
}

/// Recovery costs grow with the parser's stack; these inputs once took minutes.
#[test]
fn skipping_garbage_under_deep_nesting_stays_fast() {
    let start = std::time::Instant::now();
    let inputs = [
        format!("void main () {{{}{}", "{".repeat(250), ") ".repeat(200_000)),
        in_main(&format!(
            "x = {}{}",
            "- ".repeat(100_000),
            ") ".repeat(20_000)
        )),
        in_main(&format!(
            "{}{}",
            "if (a) x = 1; else ".repeat(20_000),
            ") ".repeat(20_000)
        )),
        in_main(&format!(
            "{}{}",
            "while (a) ".repeat(20_000),
            ") ".repeat(20_000)
        )),
        in_main(&format!(
            "{}int{}",
            "list<".repeat(20_000),
            ") ".repeat(20_000)
        )),
        in_main(&"x = = ;\n".repeat(10_000)),
    ];
    for source in &inputs {
        let parsed = parse(source);
        assert!(!parsed.errors.is_empty());
        assert!(parsed.errors.len() <= ftc_grammar::MAX_ERRORS + 2);
    }
    // Generous for a loaded machine; each input takes milliseconds.
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn too_many_errors_stop_the_parse() {
    let parsed = parse(&in_main(&"x = = ;\n".repeat(500)));
    let last = parsed.errors.last().expect("errors");
    assert_eq!(
        last.kind,
        SyntaxErrorKind::TooManyErrors {
            limit: ftc_grammar::MAX_ERRORS
        }
    );
    assert_eq!(parsed.errors.len(), ftc_grammar::MAX_ERRORS + 1);
}

#[test]
fn long_legal_chains_are_not_cut() {
    // An else-if ladder of 200 rungs and 300 flat if/else statements.
    let ladder = format!("{}x = 0;", "if (a) x = 1; else ".repeat(200));
    let flat = "if (a) x = 1; else x = 2;\n".repeat(300);
    let unary = format!("x = {}1;", "- ".repeat(200));
    let types = format!("{}int{} l;", "list<".repeat(100), ">".repeat(100));
    for body in [ladder, flat, unary, types] {
        let parsed = parse(&in_main(&body));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors.first());
    }
}
