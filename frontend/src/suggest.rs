//! "Did you mean" suggestions for misspelt names, by edit distance.

/// Candidates beyond this many are not compared (error paths stay cheap).
const CANDIDATES_MAX: usize = 10_000;
/// Names longer than this are not compared.
const NAME_LEN_MAX: usize = 64;

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub(crate) fn similar<'n>(
    name: &str,
    candidates: impl Iterator<Item = &'n str>,
) -> Option<&'n str> {
    if name.len() > NAME_LEN_MAX {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates.take(CANDIDATES_MAX) {
        if candidate == name || candidate.len() > NAME_LEN_MAX {
            continue;
        }
        if candidate.len().abs_diff(name.len()) > limit {
            continue;
        }
        let d = distance(name, candidate);
        if d <= limit && best.is_none_or(|(b, c)| d < b || (d == b && candidate < c)) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance over characters, counting a swap of neighbours as one edit
/// (optimal string alignment). Names are short: bounded above.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j - 1] + cost)
                .min(d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_only() {
        let names = ["count", "total", "println", "print"];
        assert_eq!(similar("cout", names.iter().copied()), Some("count"));
        assert_eq!(similar("prnt", names.iter().copied()), Some("print"));
        assert_eq!(similar("printn", names.iter().copied()), Some("print"));
        assert_eq!(similar("xyz", names.iter().copied()), None);
        assert_eq!(similar("count", names.iter().copied()), None);
        assert_eq!(similar("cuont", names.iter().copied()), Some("count"));
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ab", "ba"), 1);
    }
}
