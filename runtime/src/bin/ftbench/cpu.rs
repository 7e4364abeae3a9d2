//! CPU time per call, host by host: what each kernel process (and this one,
//! h0, the clients' host) spent on the CPU during a throughput run, read from
//! `/proc/PID/stat` (user + system time of every thread of the process), and
//! of that what its core thread (`ftc-core-…`, `/proc/PID/task/TID/stat`)
//! spent.
//!
//! The run's throughput is what the whole machine does with every host of the
//! cluster on it; the time per call per host says what one host costs, so
//! what a deployment with a machine per host could do: its busiest host
//! bounds it, on one core by its whole time, on several by its core
//! thread's (the protocol runs on that one thread; the writers and the
//! clients' threads run beside it).

use ftc_runtime::types::HostId;
use std::collections::BTreeMap;

/// The processes to read, by host.
pub struct Meter {
    pids: BTreeMap<HostId, u32>,
    /// Microseconds per clock tick of `/proc/PID/stat`.
    tick_us: f64,
}

/// CPU time so far, by host, in clock ticks: the whole process's and its
/// core thread's (0 when the thread is not found).
pub struct Reading(BTreeMap<HostId, Ticks>);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ticks {
    process: u64,
    core: u64,
}

/// Microseconds of CPU per completed call, by host: the whole process's and
/// its core thread's.
pub struct PerCall(BTreeMap<HostId, Cost>);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    pub process_us: f64,
    pub core_us: f64,
}

impl Meter {
    /// `None` where the clock tick or a process cannot be read (not Linux).
    pub fn new(pids: BTreeMap<HostId, u32>) -> Option<Meter> {
        use nix::unistd::{sysconf, SysconfVar};
        let ticks_per_s = sysconf(SysconfVar::CLK_TCK).ok()??;
        if ticks_per_s <= 0 {
            return None;
        }
        let meter = Meter {
            pids,
            tick_us: 1e6 / ticks_per_s as f64,
        };
        meter.read().map(|_| meter)
    }

    pub fn read(&self) -> Option<Reading> {
        self.pids
            .iter()
            .map(|(h, pid)| {
                let ticks = Ticks {
                    process: process_ticks(*pid)?,
                    core: core_thread_ticks(*pid).unwrap_or(0),
                };
                Some((*h, ticks))
            })
            .collect::<Option<_>>()
            .map(Reading)
    }

    /// Per call of `calls` completed between `start` and `end`, for the
    /// hosts read at both.
    pub fn per_call(&self, start: &Reading, end: &Reading, calls: u64) -> PerCall {
        let calls = calls.max(1) as f64;
        let per_host = end
            .0
            .iter()
            .filter_map(|(h, e)| {
                let s = start.0.get(h)?;
                let us =
                    |end: u64, start: u64| end.saturating_sub(start) as f64 * self.tick_us / calls;
                let cost = Cost {
                    process_us: us(e.process, s.process),
                    core_us: us(e.core, s.core),
                };
                Some((*h, cost))
            })
            .collect();
        PerCall(per_host)
    }
}

impl PerCall {
    /// The one of `hosts` with the largest `by` per call, and that.
    pub fn busiest(&self, hosts: &[HostId], by: fn(&Cost) -> f64) -> Option<(HostId, f64)> {
        hosts
            .iter()
            .filter_map(|h| Some((*h, by(self.0.get(h)?))))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    pub fn of(&self, host: HostId) -> Option<Cost> {
        self.0.get(&host).copied()
    }

    /// `h0 3.01 us (core 2.10), h1 1.83 (1.52), …; all 9.40 us`.
    pub fn describe(&self, hosts: &[HostId]) -> String {
        let mut parts = Vec::new();
        let mut all = 0.0;
        for h in hosts {
            if let Some(c) = self.of(*h) {
                all += c.process_us;
                let (unit, core) = match parts.is_empty() {
                    true => (" us", "core "),
                    false => ("", ""),
                };
                parts.push(format!(
                    "h{} {:.2}{unit} ({core}{:.2})",
                    h.0, c.process_us, c.core_us
                ));
            }
        }
        format!("{}; all {all:.2} us", parts.join(", "))
    }
}

/// User plus system time of process `pid` (all its threads), in clock ticks:
/// fields 14 and 15 of `/proc/PID/stat`, counted after the command name
/// (which is in parentheses and may hold spaces).
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

/// The same of the process's core thread, the one named `ftc-core-…`.
fn core_thread_ticks(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let path = task.path();
        let is_core = std::fs::read_to_string(path.join("comm"))
            .is_ok_and(|name| name.starts_with("ftc-core"));
        if is_core {
            return parse_ticks(&std::fs::read_to_string(path.join("stat")).ok()?);
        }
    }
    None
}

fn parse_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace();
    // After the name: state (3), ppid (4), … utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_time_after_a_name_with_spaces() {
        let stat = "4242 (ftc core) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 40 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_ticks(stat), Some(290));
        assert_eq!(parse_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_a_reading() {
        let me = [(HostId(0), std::process::id())].into_iter().collect();
        let meter = Meter::new(me).expect("this process's /proc/PID/stat");
        let a = meter.read().expect("a reading");
        let b = meter.read().expect("a reading");
        let per = meter.per_call(&a, &b, 10);
        let cost = per.of(HostId(0)).expect("this process's cost");
        assert!(cost.process_us >= 0.0);
        // No core thread in a test binary: counted as none.
        assert_eq!(cost.core_us, 0.0);
        assert_eq!(core_thread_ticks(std::process::id()), None);
    }
}
