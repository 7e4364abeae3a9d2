//! Heartbeat failure detection: suspects hosts it has not heard from; only the
//! view service turns a suspicion into a failure.
//!
//! One periodic timer every `heartbeat_us`: it sends a heartbeat to every other
//! configured host and suspects each host silent for `suspect_after_us` (once
//! per silence; hearing from the host again re-arms the suspicion).
//!
//! Silence is measured only while this host was listening: a tick that fires
//! more than one period late means this host itself was stalled (descheduled,
//! or its core busy), and heartbeats that arrived meanwhile are still waiting
//! to be handled; the lateness is credited to every peer instead of being
//! counted as their silence, so a stalled observer does not suspect everyone.
//!
//! A host never heard from is presumed to be in its first incarnation
//! ([`crate::view_service::FIRST_INCARNATION`]), the one the initial
//! configuration admits. State is one record per configured host.
//!
//! ```
//! use ftc_runtime::failure_detector::{FailureDetector, FdOutput};
//! use ftc_runtime::host::Timing;
//! use ftc_runtime::types::{HostId, Incarnation};
//!
//! let timing = Timing::default();
//! let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1)], &timing);
//! let mut out = Vec::new();
//! fd.on_start(0, &mut out);
//! fd.on_heartbeat(5, HostId(1), Incarnation(3), &mut out);
//! assert!(out.contains(&FdOutput::HeardFrom { host: HostId(1), incarnation: Incarnation(3) }));
//! ```

use crate::host::Timing;
use crate::types::{HostId, Incarnation, Micros, TimerId, TimerSpace};
use crate::view_service::FIRST_INCARNATION;
use std::collections::BTreeMap;

/// What the failure detector asks of its host core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdOutput {
    /// Send a heartbeat to this host.
    Heartbeat { to: HostId },
    /// A timer in [`crate::types::TimerSpace::FailureDetector`].
    SetTimer { timer: TimerId, at: Micros },
    /// Report to the view service: this incarnation of the host has been silent too long.
    Suspect {
        host: HostId,
        incarnation: Incarnation,
    },
    /// First heartbeat from this incarnation of the host, or the first one
    /// after suspecting it.
    HeardFrom {
        host: HostId,
        incarnation: Incarnation,
    },
}

const TICK_TIMER: u64 = 1;

/// What the detector knows of one other host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Peer {
    /// The newest incarnation heard (or presumed).
    incarnation: Incarnation,
    /// Whether that incarnation was actually heard from (else it is presumed).
    heard: bool,
    last_heard_us: Micros,
    /// Already suspected during the current silence.
    suspected: bool,
}

/// One host's failure detector.
pub struct FailureDetector {
    me: HostId,
    timing: Timing,
    peers: BTreeMap<HostId, Peer>,
    /// When the next tick is due; earlier (stale or duplicate) firings are ignored.
    tick_at: Option<Micros>,
}

impl FailureDetector {
    /// A detector for host `me` watching every other host of `cluster`.
    pub fn new(me: HostId, cluster: &[HostId], timing: &Timing) -> FailureDetector {
        FailureDetector {
            me,
            timing: timing.clone(),
            peers: BTreeMap::from_iter(cluster.iter().filter(|&&h| h != me).map(|&h| {
                (
                    h,
                    Peer {
                        incarnation: FIRST_INCARNATION,
                        heard: false,
                        last_heard_us: 0,
                        suspected: false,
                    },
                )
            })),
            tick_at: None,
        }
    }

    /// The host started: heartbeats go out at once, then every `heartbeat_us`.
    pub fn on_start(&mut self, now: Micros, out: &mut Vec<FdOutput>) {
        for peer in self.peers.values_mut() {
            peer.last_heard_us = now;
        }
        self.tick(now, out);
    }

    /// A heartbeat (or any message) arrived from `host` in `incarnation`.
    pub fn on_heartbeat(
        &mut self,
        now: Micros,
        host: HostId,
        incarnation: Incarnation,
        out: &mut Vec<FdOutput>,
    ) {
        if host == self.me {
            return;
        }
        let Some(peer) = self.peers.get_mut(&host) else {
            return;
        };
        if incarnation < peer.incarnation {
            return;
        }
        // A new incarnation, the first word, or a suspected host speaking
        // again: the view service learns it (a suspicion it holds of this
        // incarnation is withdrawn).
        if incarnation > peer.incarnation || !peer.heard || peer.suspected {
            peer.incarnation = incarnation;
            peer.heard = true;
            out.push(FdOutput::HeardFrom { host, incarnation });
        }
        peer.last_heard_us = peer.last_heard_us.max(now);
        peer.suspected = false;
    }

    /// A failure-detector timer is due; others are ignored.
    pub fn on_timer(&mut self, now: Micros, timer: TimerId, out: &mut Vec<FdOutput>) {
        if timer.space() == Some(TimerSpace::FailureDetector)
            && timer.local() == TICK_TIMER
            && self.tick_at.is_some_and(|at| at <= now)
        {
            let late = now - self.tick_at.unwrap_or(now);
            if late > self.timing.heartbeat_us {
                for peer in self.peers.values_mut() {
                    peer.last_heard_us = (peer.last_heard_us + late).min(now);
                }
            }
            self.tick(now, out);
        }
    }

    fn tick(&mut self, now: Micros, out: &mut Vec<FdOutput>) {
        for (&host, peer) in self.peers.iter_mut() {
            out.push(FdOutput::Heartbeat { to: host });
            if !peer.suspected
                && now.saturating_sub(peer.last_heard_us) >= self.timing.suspect_after_us
            {
                peer.suspected = true;
                out.push(FdOutput::Suspect {
                    host,
                    incarnation: peer.incarnation,
                });
            }
        }
        let at = now + self.timing.heartbeat_us.max(1);
        self.tick_at = Some(at);
        out.push(FdOutput::SetTimer {
            timer: TimerId::new(TimerSpace::FailureDetector, TICK_TIMER),
            at,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            heartbeat_us: 10,
            suspect_after_us: 30,
            ..Timing::default()
        }
    }

    fn tick_timer() -> TimerId {
        TimerId::new(TimerSpace::FailureDetector, TICK_TIMER)
    }

    fn beats(at: Micros) -> Vec<FdOutput> {
        vec![
            FdOutput::Heartbeat { to: HostId(1) },
            FdOutput::Heartbeat { to: HostId(2) },
            FdOutput::SetTimer {
                timer: tick_timer(),
                at,
            },
        ]
    }

    #[test]
    fn heartbeats_every_period_to_every_other_host() {
        let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1), HostId(2)], &timing());
        let mut out = Vec::new();
        fd.on_start(0, &mut out);
        assert_eq!(out, beats(10));
        out.clear();
        fd.on_timer(10, tick_timer(), &mut out);
        assert_eq!(out, beats(20));
        out.clear();
        // A duplicate or stale firing does nothing.
        fd.on_timer(10, tick_timer(), &mut out);
        fd.on_timer(
            15,
            TimerId::new(TimerSpace::ViewService, TICK_TIMER),
            &mut out,
        );
        assert_eq!(out, vec![]);
    }

    #[test]
    fn heard_from_once_per_incarnation_and_stale_ignored() {
        let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1)], &timing());
        let mut out = Vec::new();
        fd.on_heartbeat(1, HostId(1), FIRST_INCARNATION, &mut out);
        fd.on_heartbeat(2, HostId(1), FIRST_INCARNATION, &mut out);
        fd.on_heartbeat(3, HostId(1), Incarnation(4), &mut out);
        fd.on_heartbeat(4, HostId(1), Incarnation(2), &mut out);
        fd.on_heartbeat(4, HostId(9), Incarnation(2), &mut out);
        fd.on_heartbeat(4, HostId(0), Incarnation(2), &mut out);
        assert_eq!(
            out,
            vec![
                FdOutput::HeardFrom {
                    host: HostId(1),
                    incarnation: FIRST_INCARNATION
                },
                FdOutput::HeardFrom {
                    host: HostId(1),
                    incarnation: Incarnation(4)
                },
            ]
        );
    }

    #[test]
    fn suspects_once_per_silence_and_rearms_when_heard() {
        let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1), HostId(2)], &timing());
        let mut out = Vec::new();
        fd.on_start(0, &mut out);
        fd.on_heartbeat(5, HostId(1), Incarnation(3), &mut out);
        fd.on_heartbeat(25, HostId(2), FIRST_INCARNATION, &mut out);
        out.clear();
        for at in [10, 20, 30] {
            fd.on_timer(at, tick_timer(), &mut out);
        }
        assert!(!out.iter().any(|o| matches!(o, FdOutput::Suspect { .. })));
        out.clear();
        fd.on_timer(40, tick_timer(), &mut out);
        let suspect_1 = FdOutput::Suspect {
            host: HostId(1),
            incarnation: Incarnation(3),
        };
        assert_eq!(
            out,
            vec![
                FdOutput::Heartbeat { to: HostId(1) },
                suspect_1.clone(),
                FdOutput::Heartbeat { to: HostId(2) },
                FdOutput::SetTimer {
                    timer: tick_timer(),
                    at: 50
                },
            ]
        );
        out.clear();
        fd.on_timer(50, tick_timer(), &mut out);
        assert_eq!(out, beats(60));
        out.clear();
        fd.on_timer(60, tick_timer(), &mut out);
        assert_eq!(
            out,
            vec![
                FdOutput::Heartbeat { to: HostId(1) },
                FdOutput::Heartbeat { to: HostId(2) },
                FdOutput::Suspect {
                    host: HostId(2),
                    incarnation: FIRST_INCARNATION
                },
                FdOutput::SetTimer {
                    timer: tick_timer(),
                    at: 70
                },
            ]
        );
        // Heard again: the view service learns it (withdrawing its
        // suspicion), once; a later silence is suspected again, once.
        out.clear();
        fd.on_heartbeat(65, HostId(1), Incarnation(3), &mut out);
        fd.on_heartbeat(66, HostId(1), Incarnation(3), &mut out);
        assert_eq!(
            out,
            vec![FdOutput::HeardFrom {
                host: HostId(1),
                incarnation: Incarnation(3)
            }]
        );
        for at in [70, 80, 90] {
            fd.on_timer(at, tick_timer(), &mut out);
        }
        assert!(!out.contains(&suspect_1));
        for at in [100, 110] {
            fd.on_timer(at, tick_timer(), &mut out);
        }
        assert_eq!(out.iter().filter(|o| **o == suspect_1).count(), 1);
    }

    #[test]
    fn a_stalled_observer_does_not_count_its_own_stall_as_silence() {
        // Periods of 10, suspicion after 30. The tick due at 10 fires at 500:
        // this host was stalled, so nobody is suspected then; heartbeats that
        // arrived during the stall are handled next, and a peer that really
        // stays silent is suspected once it has been silent for 30 of the
        // time this host was listening (0–10, then 500–520).
        let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1), HostId(2)], &timing());
        let mut out = Vec::new();
        fd.on_start(0, &mut out);
        out.clear();
        fd.on_timer(500, tick_timer(), &mut out);
        assert_eq!(out, beats(510));
        out.clear();
        fd.on_heartbeat(501, HostId(1), FIRST_INCARNATION, &mut out);
        out.clear();
        fd.on_timer(510, tick_timer(), &mut out);
        assert!(!out.iter().any(|o| matches!(o, FdOutput::Suspect { .. })));
        out.clear();
        fd.on_timer(520, tick_timer(), &mut out);
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, FdOutput::Suspect { .. }))
                .collect::<Vec<_>>(),
            vec![&FdOutput::Suspect {
                host: HostId(2),
                incarnation: FIRST_INCARNATION
            }]
        );
        // A tick at most one period late is on time: no credit.
        let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1)], &timing());
        fd.on_start(0, &mut out);
        out.clear();
        for at in [20, 30] {
            fd.on_timer(at, tick_timer(), &mut out);
        }
        assert!(out.iter().any(|o| matches!(o, FdOutput::Suspect { .. })));
    }

    #[test]
    fn a_never_heard_host_is_suspected_in_its_first_incarnation() {
        let mut fd = FailureDetector::new(HostId(0), &[HostId(0), HostId(1)], &timing());
        let mut out = Vec::new();
        fd.on_start(100, &mut out);
        for at in [110, 120, 130] {
            fd.on_timer(at, tick_timer(), &mut out);
        }
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, FdOutput::Suspect { .. }))
                .collect::<Vec<_>>(),
            vec![&FdOutput::Suspect {
                host: HostId(1),
                incarnation: FIRST_INCARNATION
            }]
        );
    }
}
