//! What the benchmark binaries share: whether `cargo bench` asked for the
//! run, the round count, the median.

/// `cargo test --benches` runs bench targets without `--bench`: they then
/// do nothing.
pub fn asked() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The rounds to run: `var` from the environment, else `default`, within 1–50.
pub fn rounds(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
        .clamp(1, 50)
}

/// The median (the upper one of an even count; NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
