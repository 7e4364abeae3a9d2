//! Never-panic property test: at least 10,000 generated inputs go through `check_source`, none may panic.
//!
//! Inputs: random token soup from the CMSL vocabulary, byte- and token-level
//! mutations of the parser fixtures and of the language reference's examples,
//! random bytes, pathological nesting, unterminated comments and strings, and
//! one ~50 MB input. The generator is seeded (`FTC_NEVER_PANICS_SEED`
//! overrides the default seed); a failure prints the seed and the case
//! number, and `FTC_NEVER_PANICS_CASE` replays that one case.
//!
//! For open-ended fuzzing see `fuzz/` (`cargo +nightly fuzz run check_source`).

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const DEFAULT_SEED: u64 = 0x00C0_FFEE_F7C0;
const RANDOM_CASES: usize = 10_000;
const DEEP: usize = 10_000;

#[rustfmt::skip]
const VOCABULARY: &[&str] = &[
    "class", "public", "private", "attribute", "relation", "new", "return", "if", "else", "while",
    "for", "break", "continue", "this", "true", "false", "null", "void", "int", "real", "float",
    "double", "boolean", "bool", "string", "list", "map", "requires", "ensures", "invariant",
    "assert", "try", "catch", "raise", "server", "invoke", "accept", "timeout", "priority",
    "replicas", "tolerance", "tolerate", "hosts", "disjoint", "durable", "model", "correct", "crash",
    "byzantine", "host", "future", "every", "main", "result", "message", "failure", "x", "y", "db",
    "print", "{", "}", "(", ")", "[", "]", ";", ",", ":", "::", "->", "+", "-", "*", "/", "%", "=",
    "+=", "-=", "*=", "/=", "++", "--", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!", "0",
    "42", "1_000", "9223372036854775808", "5.0", "0.25", "1e-3", "\"s\"", "\"a\\nb\"", "\"\\q\"",
    "\"open", "/*", "*/", "//", "@", "é", "\0",
];

/// Every input the test runs, generated lazily from the seed and the case number.
struct Cases {
    seed: u64,
    corpus: Vec<String>,
}

impl Cases {
    fn fixed(&self) -> Vec<(String, String)> {
        let main = |body: &str| format!("void main () {{\n{body}\n}}\n");
        let mut cases = vec![
            (
                "parentheses".to_string(),
                main(&format!("x = {}a{};", "(".repeat(DEEP), ")".repeat(DEEP))),
            ),
            ("open parentheses".to_string(), "(".repeat(DEEP)),
            (
                "blocks".to_string(),
                main(&format!("{}{}", "{".repeat(DEEP), "}".repeat(DEEP))),
            ),
            ("open blocks".to_string(), main(&"{".repeat(DEEP))),
            (
                "brackets".to_string(),
                main(&format!("x{};", "[".repeat(DEEP))),
            ),
            (
                "minus chain".to_string(),
                main(&format!("x = {}a;", "- ".repeat(DEEP))),
            ),
            (
                "not chain".to_string(),
                main(&format!("x = {}a;", "!".repeat(DEEP))),
            ),
            (
                "new chain".to_string(),
                main(&format!("x = {}a;", "new ".repeat(DEEP))),
            ),
            (
                "invoke chain".to_string(),
                main(&format!("x = {}a->m();", "invoke ".repeat(DEEP))),
            ),
            (
                "plus chain".to_string(),
                main(&format!("x = a{};", "+a".repeat(DEEP))),
            ),
            (
                "plus chain, broken".to_string(),
                main(&format!("x = a{} b;", "+a".repeat(DEEP))),
            ),
            (
                "member chain".to_string(),
                main(&format!("x = a{};", "->b".repeat(DEEP))),
            ),
            (
                "call chain".to_string(),
                main(&format!("x = a{};", "->b()".repeat(DEEP))),
            ),
            (
                "index chain".to_string(),
                main(&format!("x = a{};", "[0]".repeat(DEEP))),
            ),
            (
                "else-if chain".to_string(),
                main(&format!("{}x = 2;", "if (a) x = 1; else ".repeat(DEEP))),
            ),
            (
                "else-if chain, broken".to_string(),
                main(&format!("{}x = ;", "if (a) x = 1; else ".repeat(DEEP))),
            ),
            (
                "while chain".to_string(),
                main(&format!("{}x = 1;", "while (a) ".repeat(DEEP))),
            ),
            (
                "nested types".to_string(),
                main(&format!(
                    "{}int{} x;",
                    "list<".repeat(DEEP),
                    ">".repeat(DEEP)
                )),
            ),
            (
                "unterminated comment".to_string(),
                "void main () { /* never closed".to_string(),
            ),
            (
                "unterminated string".to_string(),
                main("string s = \"never closed"),
            ),
            (
                "garbage under deep blocks".to_string(),
                format!("void main () {{{}{}", "{".repeat(250), ") ".repeat(50_000)),
            ),
            (
                "garbage after an else-if chain".to_string(),
                main(&format!(
                    "{}{}",
                    "if (a) x = 1; else ".repeat(DEEP),
                    ") ".repeat(DEEP)
                )),
            ),
            ("many errors".to_string(), main(&"x = = ;\n".repeat(DEEP))),
            ("lone quote".to_string(), "\"".to_string()),
            ("lone backslash in string".to_string(), "\"\\".to_string()),
            ("empty".to_string(), String::new()),
        ];
        let comment = format!("/*{}*/", "comment text ".repeat(50_000_000 / 13));
        cases.push((
            "50 MB".to_string(),
            format!("{}{comment}\n{}", main("int x = 1;"), main("x++;")),
        ));
        cases
    }

    fn random(&self, case: usize) -> String {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ (case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        match case % 4 {
            0 => token_soup(&mut rng),
            1 | 2 => match self.corpus.choose(&mut rng) {
                Some(program) => mutate(&mut rng, program),
                None => token_soup(&mut rng),
            },
            _ => {
                let len = rng.random_range(0..400);
                let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }
}

fn token_soup(rng: &mut ChaCha8Rng) -> String {
    let len = rng.random_range(1..300);
    let mut out = String::new();
    for _ in 0..len {
        out.push_str(VOCABULARY.choose(rng).copied().unwrap_or(";"));
        out.push(if rng.random_bool(0.1) { '\n' } else { ' ' });
    }
    out
}

/// Byte-level or token-level mutations: delete, duplicate, swap, insert.
fn mutate(rng: &mut ChaCha8Rng, program: &str) -> String {
    if rng.random_bool(0.5) {
        let mut bytes = program.as_bytes().to_vec();
        for _ in 0..rng.random_range(1..6) {
            let len = bytes.len().max(1);
            let a = rng.random_range(0..len);
            let b = (a + rng.random_range(0..20)).min(bytes.len());
            match rng.random_range(0..4) {
                0 if a < b => {
                    bytes.drain(a..b);
                }
                1 if a < b => {
                    let copy = bytes[a..b].to_vec();
                    let at = rng.random_range(0..=bytes.len());
                    bytes.splice(at..at, copy);
                }
                2 if b < bytes.len() => bytes.swap(a, b),
                _ => {
                    let at = rng.random_range(0..=bytes.len());
                    let token = VOCABULARY.choose(rng).copied().unwrap_or(";");
                    bytes.splice(at..at, token.bytes());
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        let mut tokens: Vec<&str> = program.split_whitespace().collect();
        for _ in 0..rng.random_range(1..6) {
            let len = tokens.len().max(1);
            let a = rng.random_range(0..len);
            let b = rng.random_range(0..len);
            match rng.random_range(0..4) {
                0 if a < tokens.len() => {
                    tokens.remove(a);
                }
                1 if a < tokens.len() => {
                    let token = tokens[a];
                    tokens.insert(a, token);
                }
                2 if a < tokens.len() && b < tokens.len() => tokens.swap(a, b),
                _ => {
                    let token = VOCABULARY.choose(rng).copied().unwrap_or(";");
                    tokens.insert(a.min(tokens.len()), token);
                }
            }
        }
        tokens.join(" ")
    }
}

/// The parser fixtures and the ```cmsl blocks of the language reference.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut corpus = Vec::new();
    for dir in ["grammar/tests/data/ok", "grammar/tests/data/err"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for entry in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    corpus.push(text);
                }
            }
        }
    }
    if let Ok(reference) = std::fs::read_to_string(root.join("docs/language.md")) {
        let mut rest = reference.as_str();
        while let Some(start) = rest.find("```cmsl\n") {
            rest = &rest[start + 8..];
            let end = rest.find("```").unwrap_or(rest.len());
            corpus.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    corpus.sort();
    corpus
}

fn run_one(name: &str, input: &str, seed: u64) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let output = ftc_frontend::check_source(input);
        let _ = output.has_errors();
    }));
    if outcome.is_err() {
        let shown: String = input.chars().take(2_000).collect();
        panic!(
            "check_source panicked on case {name} (seed {seed:#x}; replay with \
             FTC_NEVER_PANICS_SEED={seed} FTC_NEVER_PANICS_CASE={name}); input ({} bytes):\n{shown}",
            input.len()
        );
    }
}

#[test]
fn check_source_never_panics() {
    let seed = std::env::var("FTC_NEVER_PANICS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let only = std::env::var("FTC_NEVER_PANICS_CASE").ok();
    let cases = Cases {
        seed,
        corpus: corpus(),
    };
    assert!(cases.corpus.len() >= 10, "the fixture corpus is missing");

    let mut count = 0;
    for (name, input) in cases.fixed() {
        if only.as_deref().is_none_or(|o| o == name) {
            run_one(&name, &input, seed);
            count += 1;
        }
    }
    for case in 0..RANDOM_CASES {
        let name = case.to_string();
        if only.as_deref().is_none_or(|o| o == name) {
            run_one(&name, &cases.random(case), seed);
            count += 1;
        }
    }
    if only.is_none() {
        assert!(count >= RANDOM_CASES);
    }
}
