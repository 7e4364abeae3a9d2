//! The code registry is complete, unique and documented.

use ftc_frontend::codes::{lookup, CODES};
use std::collections::BTreeSet;

#[test]
fn codes_are_unique_and_well_formed() {
    let mut seen = BTreeSet::new();
    for c in CODES {
        assert!(seen.insert(c.code), "duplicate code {}", c.code);
        let (letter, digits) = c.code.split_at(1);
        assert!(letter == "E" || letter == "W", "{}", c.code);
        assert!(
            digits.len() == 4 && digits.chars().all(|d| d.is_ascii_digit()),
            "{}",
            c.code
        );
        assert!(!c.title.is_empty() && !c.title.ends_with('.'), "{}", c.code);
        assert!(
            c.explanation.len() > 80,
            "{} needs a longer explanation",
            c.code
        );
        assert!(c.explanation.contains("Fix"), "{} explains no fix", c.code);
        assert_eq!(lookup(&c.code.to_lowercase()).map(|i| i.code), Some(c.code));
    }
}

#[test]
fn every_code_in_the_sources_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(dir).expect("src dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        for (i, _) in text.match_indices('"') {
            let lit = &text[i + 1..];
            let code: String = lit.chars().take(6).collect();
            let well_formed = code.len() == 6
                && (code.starts_with('E') || code.starts_with('W'))
                && code[1..5].chars().all(|d| d.is_ascii_digit())
                && code.ends_with('"');
            if well_formed {
                let code = &code[..5];
                assert!(
                    lookup(code).is_some(),
                    "{} uses unregistered {code}",
                    path.display()
                );
            }
        }
    }
}
