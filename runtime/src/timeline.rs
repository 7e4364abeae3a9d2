//! The fault timeline `ftc run` prints on stderr: the faults it injects and,
//! from the host that runs `main`, every view change of every server, with the
//! failover time after a killed or paused host.
//!
//! `ftc run` passes the time origin (when `main` starts) and its fault schedule
//! to the program in [`ENV`]; the program's kernel turns each view it installs
//! into one line ([`Timeline::line`]):
//!
//! ```
//! use ftc_runtime::timeline::{Disruption, Timeline};
//! use ftc_runtime::types::{GroupId, GroupView, HostId, Incarnation, Model, ReplicaId, ServerSpec};
//!
//! let origin = 1_000_000_000;
//! let schedule = Timeline::encode(origin, &[(HostId(2), Disruption::Killed, 1_000_000)]);
//! let mut timeline = Timeline::parse(&schedule).unwrap();
//! let replica = |h| ReplicaId { host: HostId(h), incarnation: Incarnation(1) };
//! let view = |id, members: Vec<ReplicaId>, joining| GroupView {
//!     group: GroupId(1), view_id: id, members, joining,
//!     spec: ServerSpec::new("track_db", Model::Crash, 1), failed: false,
//! };
//! let first = timeline.line(origin + 20_000, &view(1, vec![replica(2), replica(3)], vec![]));
//! assert_eq!(first.as_deref(), Some("ftc run:  0.020 s  track_db (server 1) runs on h2, h3"));
//! let next = timeline.line(origin + 1_240_000, &view(2, vec![replica(3), replica(4)], vec![replica(4)]));
//! assert_eq!(
//!     next.as_deref(),
//!     Some("ftc run:  1.240 s  track_db (server 1) continues on h3, h4 (view 2; h2 left, 240 ms after it was killed; h4 joins)")
//! );
//! ```

use crate::cluster::{host_name, parse_host_name};
use crate::types::{GroupId, GroupView, HostId};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The environment variable carrying the origin and the fault schedule.
pub const ENV: &str = "FTC_TIMELINE";
/// `json` here makes every timeline line a JSON object (`ftc run
/// --message-format json`; the schema is the project's `docs/json.md`).
pub const FORMAT_ENV: &str = "FTC_TIMELINE_FORMAT";

/// What `ftc run` did to a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disruption {
    Killed,
    Paused,
}

impl Disruption {
    fn code(self) -> char {
        match self {
            Disruption::Killed => 'k',
            Disruption::Paused => 'p',
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Disruption::Killed => "killed",
            Disruption::Paused => "paused",
        }
    }
}

/// Formats view changes relative to an origin, knowing when hosts were disrupted.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// Wall-clock microseconds since the Unix epoch when `main` started.
    origin_us: u64,
    /// (host, what, microseconds after the origin).
    schedule: Vec<(HostId, Disruption, u64)>,
    /// The members of each server's last view printed.
    last: BTreeMap<GroupId, Vec<HostId>>,
    /// Lines are JSON objects instead of text.
    json: bool,
}

impl Timeline {
    /// The value of [`ENV`]: `ORIGIN` then `;k:h2@1000000` per disruption.
    pub fn encode(origin_us: u64, schedule: &[(HostId, Disruption, u64)]) -> String {
        let mut text = origin_us.to_string();
        for (host, what, at) in schedule {
            let _ = write!(text, ";{}:{}@{at}", what.code(), host_name(*host));
        }
        text
    }

    /// Reads [`Timeline::encode`]'s format; `None` when malformed.
    pub fn parse(text: &str) -> Option<Timeline> {
        let mut parts = text.split(';');
        let origin_us = parts.next()?.parse().ok()?;
        let mut schedule = Vec::new();
        for part in parts {
            let (code, rest) = part.split_once(':')?;
            let what = match code {
                "k" => Disruption::Killed,
                "p" => Disruption::Paused,
                _ => return None,
            };
            let (host, at) = rest.split_once('@')?;
            schedule.push((parse_host_name(host)?, what, at.parse().ok()?));
        }
        Some(Timeline {
            origin_us,
            schedule,
            last: BTreeMap::new(),
            json: false,
        })
    }

    /// The same timeline, printing JSON objects.
    pub fn json(mut self) -> Timeline {
        self.json = true;
        self
    }

    /// The timeline `ftc run` asked for in the environment, if any.
    pub fn from_env() -> Option<Timeline> {
        let timeline = std::env::var(ENV).ok().and_then(|t| Timeline::parse(&t))?;
        Some(match std::env::var(FORMAT_ENV).as_deref() {
            Ok("json") => timeline.json(),
            _ => timeline,
        })
    }

    /// The line for a view installed at `now_us` (wall clock), or `None` when it
    /// repeats the members already printed.
    pub fn line(&mut self, now_us: u64, view: &GroupView) -> Option<String> {
        let change = self.change(now_us, view)?;
        Some(if self.json {
            change.json(view).to_string()
        } else {
            change.human(view)
        })
    }

    fn change(&mut self, now_us: u64, view: &GroupView) -> Option<Change> {
        let members: Vec<HostId> = view.members.iter().map(|m| m.host).collect();
        let previous = self.last.insert(view.group, members.clone());
        if previous.as_ref() == Some(&members) && !view.failed {
            return None;
        }
        let since = now_us.saturating_sub(self.origin_us);
        let left = previous
            .as_ref()
            .map(|previous| {
                previous
                    .iter()
                    .filter(|h| !members.contains(h))
                    .map(|gone| {
                        let cause = self
                            .schedule
                            .iter()
                            .filter(|(h, _, at)| h == gone && *at <= since)
                            .max_by_key(|(_, _, at)| *at)
                            .map(|(_, what, at)| (*what, (since - at) / 1_000));
                        (*gone, cause)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Change {
            since_us: since,
            first: previous.is_none(),
            revived: previous.is_some_and(|p| p.is_empty()),
            members,
            left,
        })
    }
}

/// One view change as the timeline reports it.
struct Change {
    since_us: u64,
    /// The server's first view printed.
    first: bool,
    /// A durable server had no members (dormant) and is back.
    revived: bool,
    members: Vec<HostId>,
    /// Hosts that left, each with the disruption before it and how many ms later.
    left: Vec<(HostId, Option<(Disruption, u64)>)>,
}

impl Change {
    fn human(&self, view: &GroupView) -> String {
        let server = format!("{} (server {})", view.spec.class, view.group.0);
        let mut line = format!("ftc run: {:>6.3} s  {server} ", self.since_us as f64 / 1e6);
        if view.failed {
            line.push_str("failed: every replica that held its state is gone");
            return line;
        }
        let on = names(&self.members);
        if self.first {
            let _ = write!(line, "runs on {on}");
            return line;
        }
        let mut notes = vec![format!("view {}", view.view_id)];
        for (gone, cause) in &self.left {
            let cause = cause
                .map(|(what, ms)| format!(", {ms} ms after it was {}", what.verb()))
                .unwrap_or_default();
            notes.push(format!("{} left{cause}", host_name(*gone)));
        }
        for joining in &view.joining {
            notes.push(format!("{} joins", host_name(joining.host)));
        }
        let notes = notes.join("; ");
        let _ = match (self.members.first(), self.revived) {
            // A durable server whose every replica is down waits for a disk.
            (None, _) => write!(
                line,
                "is dormant: every replica is down, it waits for one to restart with its disk ({notes})"
            ),
            (Some(first), true) => write!(
                line,
                "is back on {on}, from {}'s disk ({notes})",
                host_name(*first)
            ),
            (Some(_), false) => write!(line, "continues on {on} ({notes})"),
        };
        line
    }

    fn json(&self, view: &GroupView) -> serde_json::Value {
        let hosts = |hs: &[HostId]| hs.iter().map(|h| host_name(*h)).collect::<Vec<_>>();
        let left: Vec<serde_json::Value> = self
            .left
            .iter()
            .map(|(h, cause)| {
                serde_json::json!({
                    "host": host_name(*h),
                    "after": cause.map(|(what, _)| what.verb()),
                    "after_ms": cause.map(|(_, ms)| ms),
                })
            })
            .collect();
        let joined: Vec<HostId> = view.joining.iter().map(|r| r.host).collect();
        serde_json::json!({
            "type": "view",
            "time_s": (self.since_us / 1_000) as f64 / 1e3,
            "server": view.spec.class,
            "group": view.group.0,
            "view": view.view_id,
            "members": hosts(&self.members),
            "left": left,
            "joined": hosts(&joined),
            "failed": view.failed,
        })
    }
}

fn names(hosts: &[HostId]) -> String {
    hosts
        .iter()
        .map(|h| host_name(*h))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::types::{GroupView, Incarnation, Model, ReplicaId, ServerSpec};

    const ORIGIN: u64 = 1_000_000_000;

    /// Replica of host `h`, first incarnation.
    fn r(h: u32) -> ReplicaId {
        ReplicaId {
            host: HostId(h),
            incarnation: Incarnation(1),
        }
    }

    /// View `id` of server 1 of class `class`.
    fn view(class: &str, id: u64, members: Vec<ReplicaId>, joining: Vec<ReplicaId>) -> GroupView {
        GroupView {
            group: GroupId(1),
            view_id: id,
            members,
            joining,
            spec: ServerSpec::new(class, Model::Crash, 1),
            failed: false,
        }
    }

    #[test]
    fn json_lines_carry_the_same_facts() {
        let origin = ORIGIN;
        let schedule = Timeline::encode(origin, &[(HostId(2), Disruption::Killed, 1_000_000)]);
        let mut t = Timeline::parse(&schedule).expect("parses").json();
        let view = |id, members, joining| view("track_db", id, members, joining);
        t.line(origin + 20_000, &view(1, vec![r(2), r(3)], vec![]))
            .expect("first view");
        let line = t
            .line(origin + 1_240_000, &view(2, vec![r(3), r(4)], vec![r(4)]))
            .expect("a change");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["type"], "view");
        assert_eq!(v["time_s"], 1.24);
        assert_eq!(v["members"], serde_json::json!(["h3", "h4"]));
        assert_eq!(
            v["left"],
            serde_json::json!([{ "host": "h2", "after": "killed", "after_ms": 240 }])
        );
        assert_eq!(v["joined"], serde_json::json!(["h4"]));
    }

    #[test]
    fn a_durable_server_is_dormant_then_back_from_a_disk() {
        let origin = ORIGIN;
        let schedule = Timeline::encode(
            origin,
            &[
                (HostId(2), Disruption::Killed, 1_000_000),
                (HostId(3), Disruption::Killed, 1_000_000),
            ],
        );
        let mut t = Timeline::parse(&schedule).expect("parses");
        let view = |id, members, joining| view("bank", id, members, joining);
        t.line(origin + 20_000, &view(1, vec![r(2), r(3)], vec![]))
            .expect("first view");
        let dormant = t
            .line(origin + 1_250_000, &view(2, vec![], vec![]))
            .expect("a change");
        assert_eq!(
            dormant,
            "ftc run:  1.250 s  bank (server 1) is dormant: every replica is down, it waits for one to restart with its disk (view 2; h2 left, 250 ms after it was killed; h3 left, 250 ms after it was killed)"
        );
        let back = t
            .line(origin + 2_100_000, &view(3, vec![r(3), r(1)], vec![r(1)]))
            .expect("a change");
        assert_eq!(
            back,
            "ftc run:  2.100 s  bank (server 1) is back on h3, h1, from h3's disk (view 3; h1 joins)"
        );
    }

    #[test]
    fn malformed_schedules_are_refused() {
        for bad in ["", "x", "1;k:h2", "1;q:h2@5", "1;k:z@5", "1;k:h2@-1"] {
            assert!(Timeline::parse(bad).is_none(), "{bad:?}");
        }
        let t = Timeline::parse(&Timeline::encode(7, &[(HostId(3), Disruption::Paused, 9)]));
        assert_eq!(
            t.map(|t| t.schedule),
            Some(vec![(HostId(3), Disruption::Paused, 9)])
        );
    }
}
