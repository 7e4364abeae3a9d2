//! The checker never panics on programs that parse but are wrong: each ok
//! fixture with a few identifiers swapped for others from the same file.

use std::path::Path;

/// A small deterministic generator (seeded; no dependence on the clock).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// Byte ranges of identifier-like words.
fn words(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn swapped_identifiers_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ok");
    let mut rng = Lcg(0x5eed);
    let mut checked = 0;
    let mut with_errors = 0;
    for entry in std::fs::read_dir(dir).expect("ok fixtures") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("fixture");
        let spots = words(&text);
        for _ in 0..150 {
            let mut mutant = text.clone();
            let mut edits: Vec<(usize, usize, String)> = (0..1 + rng.below(3))
                .map(|_| {
                    let (s, e) = spots[rng.below(spots.len())];
                    let (rs, re) = spots[rng.below(spots.len())];
                    (s, e, text[rs..re].to_string())
                })
                .collect();
            edits.sort_by_key(|e| std::cmp::Reverse(e.0));
            edits.dedup_by_key(|e| e.0);
            for (s, e, word) in edits {
                mutant.replace_range(s..e, &word);
            }
            let out = ftc_frontend::check_source(&mutant);
            checked += 1;
            with_errors += usize::from(out.has_errors());
            assert_eq!(out.has_errors(), out.program.is_none());
        }
    }
    assert!(
        checked > 0 && with_errors > 0,
        "{checked} mutants, {with_errors} with errors"
    );
}
