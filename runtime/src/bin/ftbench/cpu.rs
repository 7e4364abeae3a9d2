//! CPU time per call, host by host: what each kernel process (and this one,
//! h0, the clients' host) spent on the CPU during a throughput run, read from
//! `/proc/PID/stat` (user + system time of every thread of the process).
//!
//! The run's throughput is what the whole machine does with every host of the
//! cluster on it; the time per call per host says what one host costs, so
//! what a deployment with a machine per host could do: its busiest host
//! bounds it.

use ftc_runtime::types::HostId;
use std::collections::BTreeMap;

/// The processes to read, by host.
pub struct Meter {
    pids: BTreeMap<HostId, u32>,
    /// Microseconds per clock tick of `/proc/PID/stat`.
    tick_us: f64,
}

/// CPU time so far, by host, in clock ticks.
pub struct Reading(BTreeMap<HostId, u64>);

/// Microseconds of CPU per completed call, by host.
pub struct PerCall(pub BTreeMap<HostId, f64>);

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
            .map(|(h, pid)| Some((*h, process_ticks(*pid)?)))
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
                Some((*h, e.saturating_sub(*s) as f64 * self.tick_us / calls))
            })
            .collect();
        PerCall(per_host)
    }
}

impl PerCall {
    /// The busiest of `hosts`: its time per call.
    pub fn busiest(&self, hosts: &[HostId]) -> Option<(HostId, f64)> {
        hosts
            .iter()
            .filter_map(|h| Some((*h, *self.0.get(h)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    pub fn of(&self, host: HostId) -> Option<f64> {
        self.0.get(&host).copied()
    }

    /// `h0 3.01 us, h1 1.83, …; all 9.40 us`.
    pub fn describe(&self, hosts: &[HostId]) -> String {
        let mut parts = Vec::new();
        let mut all = 0.0;
        for h in hosts {
            if let Some(us) = self.of(*h) {
                all += us;
                let unit = if parts.is_empty() { " us" } else { "" };
                parts.push(format!("h{} {us:.2}{unit}", h.0));
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
        assert!(per.of(HostId(0)).is_some_and(|us| us >= 0.0));
    }
}
