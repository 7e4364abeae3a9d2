//! Rate-limited logging of refused connections: a few lines in full per interval, then a count.
//!
//! A flood of bad connections must not flood the log: within one interval the
//! first [`FULL_LINES_PER_INTERVAL`] refusals are logged with the peer's
//! address and reason, the rest only counted by kind, and the counts are
//! written as one summary line when the interval is over (on the next refusal,
//! on [`RefusalLog::tick`], or at shutdown).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refusals logged in full per interval.
pub(crate) const FULL_LINES_PER_INTERVAL: u32 = 4;
/// The interval over which further refusals are counted, not logged.
pub(crate) const INTERVAL: Duration = Duration::from_secs(2);

/// The refusal log of one transport endpoint.
pub(crate) struct RefusalLog {
    window: Mutex<Window>,
    /// Refusals counted but not yet written in a summary (a cheap check for `tick`).
    unreported: AtomicU64,
}

struct Window {
    start: Instant,
    full_lines: u32,
    counts: BTreeMap<&'static str, u64>,
}

impl RefusalLog {
    pub(crate) fn new() -> RefusalLog {
        RefusalLog {
            window: Mutex::new(Window {
                start: Instant::now(),
                full_lines: 0,
                counts: BTreeMap::new(),
            }),
            unreported: AtomicU64::new(0),
        }
    }

    /// Notes one refused connection; `kind` is a short fixed category, `reason`
    /// the full text for the lines logged in full. Returns the lines to write
    /// (at most two: a summary of the previous interval and this refusal).
    pub(crate) fn note(
        &self,
        now: Instant,
        peer: SocketAddr,
        kind: &'static str,
        reason: &dyn std::fmt::Display,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut w = match self.window.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now.saturating_duration_since(w.start) >= INTERVAL {
            out.extend(self.close_window(&mut w, now));
        }
        if w.full_lines < FULL_LINES_PER_INTERVAL {
            w.full_lines += 1;
            out.push(format!("closed connection with {peer}: {reason}"));
        } else {
            *w.counts.entry(kind).or_insert(0) += 1;
            self.unreported.fetch_add(1, Ordering::Relaxed);
        }
        out
    }

    /// The summary line of an interval that is over, if it counted anything.
    pub(crate) fn tick(&self, now: Instant) -> Option<String> {
        if self.unreported.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut w = match self.window.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now.saturating_duration_since(w.start) < INTERVAL {
            return None;
        }
        self.close_window(&mut w, now)
    }

    /// The summary of whatever is counted, interval over or not (at shutdown).
    pub(crate) fn flush(&self, now: Instant) -> Option<String> {
        let mut w = match self.window.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.close_window(&mut w, now)
    }

    fn close_window(&self, w: &mut Window, now: Instant) -> Option<String> {
        let elapsed = now.saturating_duration_since(w.start);
        let counts = std::mem::take(&mut w.counts);
        w.start = now;
        w.full_lines = 0;
        let total: u64 = counts.values().sum();
        if total == 0 {
            return None;
        }
        self.unreported.fetch_sub(total, Ordering::Relaxed);
        let kinds: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        Some(format!(
            "refused {total} more connections in the last {:.1} s ({})",
            elapsed.as_secs_f64(),
            kinds.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 2], 4000))
    }

    #[test]
    fn a_burst_is_a_few_lines_and_one_count() {
        let log = RefusalLog::new();
        let t0 = Instant::now();
        let mut lines = Vec::new();
        for _ in 0..1000 {
            lines.extend(log.note(t0, addr(), "timed out", &"timed out"));
        }
        assert_eq!(lines.len(), FULL_LINES_PER_INTERVAL as usize);
        assert_eq!(log.tick(t0), None, "the interval is not over");
        let summary = log
            .tick(t0 + INTERVAL)
            .expect("a summary after the interval");
        assert!(
            summary.starts_with("refused 996 more connections"),
            "{summary}"
        );
        assert!(summary.contains("timed out: 996"), "{summary}");
        assert_eq!(log.tick(t0 + INTERVAL * 3), None, "nothing more to report");
    }

    #[test]
    fn the_next_refusal_after_an_interval_reports_the_previous_one() {
        let log = RefusalLog::new();
        let t0 = Instant::now();
        for _ in 0..10 {
            log.note(t0, addr(), "oversized frame", &"too big");
        }
        let lines = log.note(t0 + INTERVAL, addr(), "oversized frame", &"too big");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("refused 6 more connections"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("closed connection with 127.0.0.2:4000"));
        assert_eq!(log.flush(t0 + INTERVAL), None);
    }
}
