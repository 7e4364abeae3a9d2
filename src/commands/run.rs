//! `ftc run`: builds a program, starts one kernel process per host on
//! loopback (or the hosts of a cluster file), runs `main` on the first host,
//! injects the requested crashes, restarts and pauses, stops everything and exits with
//! `main`'s code. Only the program's output reaches stdout; stderr carries the
//! timeline: each fault injected and, from `main`'s host, each server's view
//! changes with the failover time (`ftc_runtime::timeline`). The kernels'
//! own logs (connection notices, refusals; `RUST_LOG` sets the level) go to
//! `hN.log` in a run directory that is kept, and whose path is printed first.
//! With `--data-dir DIR` every host keeps its stable storage (and its
//! incarnation file) in `DIR/hN`, so a later run on the same directory
//! resumes the view service's decisions and its durable servers; without it,
//! in the run directory's `data/`, which only this run uses.

use super::build::build_programs;
use super::messages;
use anyhow::{bail, Context};
use clap::Args;
use ftc_runtime::cluster::{
    host_name, key_path_beside, parse_host_name, ClusterConfig, READY_PREFIX,
};
use ftc_runtime::identity::HostKey;
use ftc_runtime::lie::Behaviours;
use ftc_runtime::timeline::{self, Disruption, Timeline};
use ftc_runtime::types::HostId;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The CMSL program.
    file: PathBuf,
    /// Number of local hosts (`h1` … `hN`).
    #[arg(long, default_value_t = 5)]
    hosts: u32,
    /// A cluster file: kernels are started for its hosts, `main` on the first.
    #[arg(long)]
    cluster: Option<PathBuf>,
    /// Silence after which a local cluster's host is suspected, in
    /// milliseconds (default 150, loopback's): raise it on a loaded machine or
    /// for programs moving tens of MiB per call. A cluster file sets it in its
    /// `[timing]` instead.
    #[arg(long = "suspect-after", value_name = "MS", conflicts_with = "cluster")]
    suspect_after: Option<u64>,
    /// SIGKILL a host's kernel this long after `main` starts: `h2@1.5`.
    #[arg(long = "crash", value_name = "HOST@SECONDS")]
    crashes: Vec<String>,
    /// SIGSTOP a host's kernel, then SIGCONT it: `h3@1+2` (at 1 s, for 2 s).
    #[arg(long = "pause", value_name = "HOST@SECONDS+SECONDS")]
    pauses: Vec<String>,
    /// Start a killed host's kernel again: `h2@3` (a new incarnation; with
    /// `--data-dir`, from what its storage kept).
    #[arg(long = "restart", value_name = "HOST@SECONDS")]
    restarts: Vec<String>,
    /// Keep every host's stable storage under DIR (`DIR/hN`), so the view
    /// service's decisions and durable servers outlive the run; without it
    /// nothing does.
    #[arg(long = "data-dir", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Make a host's replicas lie from this time on: `h2@0.5` (wrong replies),
    /// `h2@0.5=silent` or several at once, `h2@0.5=wrong-replies,equivocate`;
    /// behaviours: wrong-replies, silent, equivocate, mute, wrong-nested,
    /// corrupt-state, equivocate-reports, forge-reports.
    #[arg(long = "byzantine", value_name = "HOST@SECONDS[=BEHAVIOURS]")]
    liars: Vec<String>,
    #[command(flatten)]
    pub optimize: super::OptimizeArg,
    /// Build the program optimized (cargo's release profile).
    #[arg(long)]
    release: bool,
    #[command(flatten)]
    pub(crate) format: super::FormatArg,
    /// Arguments for the program (`args()`).
    #[arg(last = true)]
    args: Vec<String>,
}

/// How long a kernel may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

enum Fault {
    Crash(HostId),
    /// Starts the host's kernel process again.
    Restart(HostId),
    Stop(HostId),
    Cont(HostId),
    /// Starts the lying armed with the kernel's `--byzantine` (SIGUSR1).
    Lie(HostId),
}

fn seconds(text: &str, what: &str) -> anyhow::Result<Duration> {
    let s: f64 = text
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
        .with_context(|| format!("{what}: `{text}` is not a number of seconds"))?;
    Ok(Duration::from_secs_f64(s))
}

/// The disruptions of the fault schedule, for the program's timeline.
fn schedule(faults: &[(Duration, Fault)]) -> Vec<(HostId, Disruption, u64)> {
    faults
        .iter()
        .filter_map(|(at, f)| {
            let at = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
            match f {
                Fault::Crash(h) => Some((*h, Disruption::Killed, at)),
                Fault::Stop(h) => Some((*h, Disruption::Paused, at)),
                Fault::Cont(_) | Fault::Lie(_) | Fault::Restart(_) => None,
            }
        })
        .collect()
}

/// Each lying host's behaviours (`--byzantine hN@S=B[,B…]`, default
/// wrong-replies), as the kernel's `--byzantine` takes them; a host lies one
/// way (one set of behaviours) only.
fn behaviours(args: &RunArgs) -> anyhow::Result<BTreeMap<HostId, String>> {
    let mut out = BTreeMap::new();
    for l in &args.liars {
        let (h, rest) = l.split_once('@').unwrap_or((l, ""));
        let names = rest.split_once('=').map_or("wrong-replies", |(_, b)| b);
        let set = Behaviours::parse(names).map_err(|e| anyhow::anyhow!("--byzantine {l}: {e}"))?;
        let host = parse_host_name(h).with_context(|| format!("--byzantine {l}: bad host name"))?;
        let set = set.to_string();
        if out
            .insert(host, set.clone())
            .is_some_and(|earlier| earlier != set)
        {
            bail!("--byzantine: {} lies one way only", host_name(host));
        }
    }
    Ok(out)
}

/// A `HOST@SECONDS` fault argument of `flag`.
fn host_at(spec: &str, flag: &str) -> anyhow::Result<(HostId, Duration)> {
    let (h, at) = spec
        .split_once('@')
        .with_context(|| format!("{flag} {spec}: expected HOST@SECONDS"))?;
    let host = parse_host_name(h).with_context(|| format!("{flag} {spec}: bad host name"))?;
    Ok((host, seconds(at, flag)?))
}

fn faults(args: &RunArgs) -> anyhow::Result<Vec<(Duration, Fault)>> {
    let mut out = Vec::new();
    for c in &args.crashes {
        let (host, at) = host_at(c, "--crash")?;
        out.push((at, Fault::Crash(host)));
    }
    for l in &args.liars {
        let (h, rest) = l
            .split_once('@')
            .with_context(|| format!("--byzantine {l}: expected HOST@SECONDS[=BEHAVIOURS]"))?;
        let (at, _) = rest.split_once('=').unwrap_or((rest, ""));
        let host = parse_host_name(h).with_context(|| format!("--byzantine {l}: bad host name"))?;
        out.push((seconds(at, "--byzantine")?, Fault::Lie(host)));
    }
    for r in &args.restarts {
        let (host, at) = host_at(r, "--restart")?;
        out.push((at, Fault::Restart(host)));
    }
    for p in &args.pauses {
        let (h, rest) = p
            .split_once('@')
            .with_context(|| format!("--pause {p}: expected HOST@SECONDS+SECONDS"))?;
        let (at, len) = rest
            .split_once('+')
            .with_context(|| format!("--pause {p}: expected HOST@SECONDS+SECONDS"))?;
        let host = parse_host_name(h).with_context(|| format!("--pause {p}: bad host name"))?;
        let at = seconds(at, "--pause")?;
        out.push((at, Fault::Stop(host)));
        out.push((at + seconds(len, "--pause")?, Fault::Cont(host)));
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// `hosts` loopback hosts on free ports, each with a fresh key pair.
fn local_cluster(hosts: u32) -> anyhow::Result<(ClusterConfig, BTreeMap<HostId, HostKey>)> {
    if hosts == 0 || hosts > 64 {
        bail!("--hosts {hosts}: expected 1 to 64 hosts");
    }
    let ports = ftc_runtime::cluster::free_loopback_ports(hosts as usize)
        .context("cannot find free ports on 127.0.0.1")?;
    let mut map = BTreeMap::new();
    for (i, port) in ports.into_iter().enumerate() {
        map.insert(
            HostId(i as u32 + 1),
            SocketAddr::from(([127, 0, 0, 1], port)),
        );
    }
    ClusterConfig::with_fresh_keys(map).map_err(|e| anyhow::anyhow!("{e}"))
}

struct Kernels {
    children: BTreeMap<HostId, Child>,
}

impl Kernels {
    /// A kernel process that has exited, if any.
    fn exited(&mut self) -> Option<HostId> {
        self.children
            .iter_mut()
            .find_map(|(h, c)| matches!(c.try_wait(), Ok(Some(_))).then_some(*h))
    }

    fn signal(&mut self, host: HostId, signal: Signal) {
        if let Some(c) = self.children.get(&host) {
            let _ = kill(Pid::from_raw(c.id() as i32), signal);
        }
    }

    /// Starts `host`'s kernel again once its process is gone (killed).
    fn restart(
        &mut self,
        host: HostId,
        spawn: &dyn Fn(HostId) -> anyhow::Result<Child>,
    ) -> anyhow::Result<()> {
        if let Some(mut old) = self.children.remove(&host) {
            if matches!(old.try_wait(), Ok(None)) {
                // Still running: a restart follows a kill.
                let _ = old.kill();
            }
            let _ = old.wait();
        }
        let child = spawn(host)?;
        self.children.insert(host, child);
        Ok(())
    }

    fn stop_all(&mut self) {
        for c in self.children.values() {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for c in self.children.values_mut() {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Kernels {
    fn drop(&mut self) {
        self.stop_all();
    }
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let faults = faults(&args)?;
    let behaviours = behaviours(&args)?;
    let binary = match build_programs(
        std::slice::from_ref(&args.file),
        args.release,
        args.optimize,
    )? {
        Ok(mut b) => b.remove(0),
        Err(code) => return Ok(code),
    };
    // A given cluster file's hosts use their key files beside it; a local
    // cluster gets fresh keys, written beside its own cluster file below.
    let (config, fresh_keys) = match &args.cluster {
        Some(f) => (
            ClusterConfig::load(f).map_err(|e| anyhow::anyhow!("{e}"))?,
            None,
        ),
        None => {
            let (mut config, keys) = local_cluster(args.hosts)?;
            if let Some(ms) = args.suspect_after {
                config
                    .set_suspect_after_ms(ms)
                    .map_err(|e| anyhow::anyhow!("--suspect-after: {e}"))?;
            }
            (config, Some(keys))
        }
    };
    // A local cluster's main host binds its port only once the kernels are
    // up: until then this process holds it, so that nothing else on the
    // machine (another `ftc run`, a test) takes it meanwhile.
    let main_port_guard = match &args.cluster {
        None => config
            .host_ids()
            .first()
            .and_then(|h| config.hosts.get(h))
            .and_then(|addr| std::net::TcpListener::bind(addr).ok()),
        Some(_) => None,
    };
    let hosts = config.host_ids();
    let Some(&main_host) = hosts.first() else {
        bail!("the cluster has no hosts");
    };
    for (_, f) in &faults {
        let (Fault::Crash(h) | Fault::Stop(h) | Fault::Cont(h) | Fault::Lie(h) | Fault::Restart(h)) =
            f;
        if *h == main_host {
            bail!(
                "{} runs main: it cannot be crashed or paused",
                host_name(*h)
            );
        }
        if !hosts.contains(h) {
            bail!("{} is not a host of the cluster", host_name(*h));
        }
    }
    // Kept after the run: every host's log (`hN.log`) stays for reading.
    let dir = tempfile::Builder::new()
        .prefix("ftc-run-")
        .tempdir()
        .context("cannot create a temporary directory")?
        .keep();
    messages::say(
        format_args!("ftc run: kernel logs in {}", dir.display()),
        || serde_json::json!({ "type": "logs", "dir": dir.display().to_string() }),
    );
    let cluster_file = config
        .write_with_keys(
            dir.as_path(),
            fresh_keys.as_ref().unwrap_or(&BTreeMap::new()),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key_file = |h: HostId| match &args.cluster {
        Some(given) => key_path_beside(given, h),
        None => key_path_beside(&cluster_file, h),
    };
    let mut kernels = Kernels {
        children: BTreeMap::new(),
    };
    // Without --data-dir the hosts' storage is the run directory's: durable
    // servers then survive crashes and restarts within this run only.
    let data = args.data_dir.clone().unwrap_or_else(|| dir.join("data"));
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let storage_args = |h: HostId| -> Vec<std::ffi::OsString> {
        vec!["--data-dir".into(), data.join(host_name(h)).into()]
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let spawn_kernel = |h: HostId| -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.as_path().join(format!("{}.log", host_name(h))))?;
        let mut cmd = Command::new(&binary);
        ftc_runtime::allocator::configure_child(&mut cmd);
        let mut child = cmd
            .args(["--kernel", "--host", &host_name(h), "--cluster"])
            .arg(&cluster_file)
            .arg("--key-file")
            .arg(key_file(h))
            .args(storage_args(h))
            .args(
                behaviours
                    .get(&h)
                    .map(|b| ["--byzantine", b.as_str()])
                    .into_iter()
                    .flatten(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take();
        let tx = ready_tx.clone();
        // Reads the ready line, then passes the replicas' prints on to stderr,
        // marked with the host: they are not the program's output.
        std::thread::spawn(move || {
            let Some(out) = stdout else { return };
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line.starts_with(READY_PREFIX) {
                    let _ = tx.send(h);
                } else {
                    messages::say(
                        format_args!("[{}] {line}", host_name(h)),
                        || serde_json::json!({ "type": "output", "host": host_name(h), "line": line }),
                    );
                }
            }
        });
        Ok(child)
    };
    for &h in &hosts[1..] {
        let child = spawn_kernel(h)?;
        kernels.children.insert(h, child);
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut ready = 0;
    while ready < hosts.len() - 1 {
        if Instant::now() >= deadline {
            bail!(
                "the host kernels did not start within {} s (logs in {})",
                READY_TIMEOUT.as_secs(),
                dir.as_path().display()
            );
        }
        match ready_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(_) => ready += 1,
            Err(_) => {
                // A kernel that exited will never be ready: say why, from its log.
                if let Some(h) = kernels.exited() {
                    let log = std::fs::read_to_string(
                        dir.as_path().join(format!("{}.log", host_name(h))),
                    )
                    .unwrap_or_default();
                    bail!(
                        "the kernel of {} did not start: {}",
                        host_name(h),
                        log.trim()
                    );
                }
            }
        }
    }
    drop(main_port_guard);
    let origin_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let mut cmd = Command::new(&binary);
    ftc_runtime::allocator::configure_child(&mut cmd);
    let mut main = cmd
        .env(
            timeline::ENV,
            Timeline::encode(origin_us, &schedule(&faults)),
        )
        .env(
            timeline::FORMAT_ENV,
            if messages::json() { "json" } else { "human" },
        )
        .args(["--host", &host_name(main_host), "--cluster"])
        .arg(&cluster_file)
        .arg("--key-file")
        .arg(key_file(main_host))
        .arg("--log-file")
        .arg(dir.join(format!("{}.log", host_name(main_host))))
        .args(storage_args(main_host))
        .arg("--")
        .args(&args.args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let started = Instant::now();
    let mut pending = faults.into_iter().peekable();
    let status = loop {
        if let Some(status) = main.try_wait()? {
            break status;
        }
        while let Some((at, _)) = pending.peek() {
            if started.elapsed() < *at {
                break;
            }
            if let Some((_, f)) = pending.next() {
                let (verb, action, h, signal) = match f {
                    Fault::Crash(h) => ("killing", "kill", h, Signal::SIGKILL),
                    Fault::Stop(h) => ("pausing", "pause", h, Signal::SIGSTOP),
                    Fault::Cont(h) => ("resuming", "resume", h, Signal::SIGCONT),
                    Fault::Lie(h) => ("from now on lying:", "lie", h, Signal::SIGUSR1),
                    Fault::Restart(h) => {
                        let at = started.elapsed().as_secs_f64();
                        messages::say(
                            format_args!("ftc run: {at:>6.3} s  restarting {}", host_name(h)),
                            || {
                                serde_json::json!({
                                    "type": "fault",
                                    "time_s": (at * 1000.0).round() / 1000.0,
                                    "action": "restart",
                                    "host": host_name(h),
                                    "behaviour": null,
                                })
                            },
                        );
                        kernels.restart(h, &spawn_kernel)?;
                        continue;
                    }
                };
                let at = started.elapsed().as_secs_f64();
                let behaviour = match f {
                    Fault::Lie(_) => behaviours.get(&h).cloned(),
                    _ => None,
                };
                let how = behaviour
                    .as_ref()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default();
                messages::say(
                    format_args!("ftc run: {at:>6.3} s  {verb} {}{how}", host_name(h)),
                    || {
                        serde_json::json!({
                            "type": "fault",
                            "time_s": (at * 1000.0).round() / 1000.0,
                            "action": action,
                            "host": host_name(h),
                            "behaviour": behaviour,
                        })
                    },
                );
                kernels.signal(h, signal);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    kernels.stop_all();
    let code = status.code().unwrap_or(1);
    if messages::json() {
        messages::emit_json(serde_json::json!({ "type": "exit", "code": code }));
    }
    Ok(ExitCode::from((code & 0xff) as u8))
}
