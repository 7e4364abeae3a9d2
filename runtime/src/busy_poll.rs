//! Busy polling: when the kernel's core and a waiting caller look for their
//! next input a little longer before they sleep.
//!
//! A thread that sleeps in `epoll_wait` or on a channel and is woken by a
//! message costs the wake-up of its CPU: tens of microseconds on a virtual
//! machine, against a few for the message itself, and a replicated call
//! crosses several such hops. While calls or protocol exchanges keep coming,
//! the next message usually arrives within microseconds, so polling for it
//! (yielding the CPU between looks) answers it without the wake-up. The
//! budget is the cluster file's `[cluster] busy_poll_us`; 0 turns it off.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

/// A round of work counts as part of an exchange in progress when the
/// previous one ended less than this long before it; a core woken only now and
/// then (heartbeats, timers) sleeps at once.
pub const EXCHANGE_GAP: Duration = Duration::from_millis(1);

/// The core's decision, round by round, whether to poll before it sleeps.
#[derive(Debug)]
pub struct CorePolling {
    budget: Duration,
    last_work: Option<Instant>,
}

impl CorePolling {
    pub fn new(budget: Duration) -> CorePolling {
        CorePolling {
            budget,
            last_work: None,
        }
    }

    /// How long to poll before sleeping, after a round that ended at `now`:
    /// the budget when the round did work (`worked`) and either took a local
    /// call, whose answer is on its way, or followed another round of work
    /// within [`EXCHANGE_GAP`]; otherwise nothing.
    pub fn after_round(&mut self, now: Instant, worked: bool, took_call: bool) -> Duration {
        if !worked || self.budget.is_zero() {
            return Duration::ZERO;
        }
        let in_exchange = self
            .last_work
            .is_some_and(|then| now.saturating_duration_since(then) < EXCHANGE_GAP);
        self.last_work = Some(now);
        if in_exchange || took_call {
            self.budget
        } else {
            Duration::ZERO
        }
    }
}

/// Receives from `rx`, polling it for up to `spin` (yielding the CPU between
/// looks) before blocking; gives up after `timeout` in all (`None`: waits for
/// ever). `Err(Timeout)` when nothing came in time, `Err(Disconnected)` when
/// every sender is gone.
pub fn recv_polling<T>(
    rx: &Receiver<T>,
    spin: Duration,
    timeout: Option<Duration>,
) -> Result<T, RecvTimeoutError> {
    let start = Instant::now();
    let spin = timeout.map_or(spin, |t| spin.min(t));
    loop {
        match rx.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        if start.elapsed() >= spin {
            break;
        }
        std::thread::yield_now();
    }
    match timeout {
        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        Some(t) => rx.recv_timeout(t.saturating_sub(start.elapsed())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_core_polls_only_within_an_exchange_or_after_taking_a_call() {
        let budget = Duration::from_micros(50);
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut p = CorePolling::new(budget);
        // A first round of work, alone: sleep at once.
        assert_eq!(p.after_round(at(0), true, false), Duration::ZERO);
        // Another within the gap: an exchange is in progress.
        assert_eq!(p.after_round(at(300), true, false), budget);
        // A round without work (a timer that did nothing) never polls and does
        // not move the last round of work.
        assert_eq!(p.after_round(at(400), false, true), Duration::ZERO);
        assert_eq!(p.after_round(at(1_200), true, false), budget);
        // Work long after the last: sleep, unless it took a local call.
        assert_eq!(p.after_round(at(9_000), true, false), Duration::ZERO);
        assert_eq!(p.after_round(at(20_000), true, true), budget);
        // A budget of 0 turns it off.
        let mut off = CorePolling::new(Duration::ZERO);
        assert_eq!(off.after_round(at(0), true, true), Duration::ZERO);
        assert_eq!(off.after_round(at(10), true, true), Duration::ZERO);
    }

    #[test]
    fn recv_polling_receives_sent_values_times_out_and_sees_disconnection() {
        let (tx, rx) = mpsc::channel();
        tx.send(1).expect("send");
        let spin = Duration::from_micros(200);
        assert_eq!(recv_polling(&rx, spin, None), Ok(1));
        // Nothing comes: the whole timeout passes, the spin included in it.
        let start = Instant::now();
        let waited = Duration::from_millis(20);
        assert_eq!(
            recv_polling(&rx, spin, Some(waited)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= waited);
        // A value sent by another thread after the spin is still received.
        let sender = tx.clone();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            sender.send(2).expect("send");
        });
        assert_eq!(
            recv_polling(&rx, spin, Some(Duration::from_secs(10))),
            Ok(2)
        );
        late.join().expect("sender");
        drop(tx);
        assert_eq!(
            recv_polling(&rx, spin, None),
            Err(RecvTimeoutError::Disconnected)
        );
    }
}
