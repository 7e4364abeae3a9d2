//! The cluster file (which hosts exist, where they listen, each host's public
//! key) and a launcher that runs a whole cluster of kernel processes on loopback.
//!
//! ```toml
//! [hosts]
//! h0 = { address = "10.0.0.10:7100", public_key = "64 hex digits" }
//! h1 = { address = "10.0.0.11:7100", public_key = "64 hex digits" }
//! h2 = { address = "10.0.0.12:7100", public_key = "64 hex digits" }
//! ```
//!
//! Host names are `h` followed by the host's number, which becomes its
//! [`HostId`]. Each host's private key is in its own key file (`hN.key`, by
//! default beside the cluster file; see [`crate::identity`]), made by `ftc
//! keygen`. See `docs/deployment.md`.

use crate::host::Timing;
use crate::identity::{HostKey, PublicKey};
use crate::types::HostId;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The line a kernel process prints on stdout once it accepts connections.
pub const READY_PREFIX: &str = "ftc-kernel ready";

/// A problem with the cluster file or with launching kernels.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read cluster file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid cluster file: {0}")]
    Invalid(String),
    #[error("launcher: {0}")]
    Launch(String),
}

/// The file's layout; a key it does not name is an error, not ignored.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterSection>,
    hosts: BTreeMap<String, HostEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timing: Option<TimingSection>,
}

/// `[timing]`, in milliseconds; a value left out keeps its default (suited to
/// a loopback or LAN cluster, [`Timing::default`]).
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TimingSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heartbeat_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspect_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    election_min_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    election_max_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call_deadline_ms: Option<u64>,
}

impl TimingSection {
    /// The timing it sets, over the defaults, checked for sanity.
    fn timing(&self) -> Result<Timing, ClusterError> {
        let d = Timing::default();
        let ms = |v: Option<u64>, default_us: u64, name: &str| -> Result<u64, ClusterError> {
            match v {
                None => Ok(default_us),
                Some(0) => Err(ClusterError::Invalid(format!(
                    "[timing] {name} must be positive"
                ))),
                Some(ms) if ms > 3_600_000 => Err(ClusterError::Invalid(format!(
                    "[timing] {name} = {ms}: more than an hour"
                ))),
                Some(ms) => Ok(ms * 1_000),
            }
        };
        let t = Timing {
            heartbeat_us: ms(self.heartbeat_ms, d.heartbeat_us, "heartbeat_ms")?,
            suspect_after_us: ms(
                self.suspect_after_ms,
                d.suspect_after_us,
                "suspect_after_ms",
            )?,
            election_min_us: ms(self.election_min_ms, d.election_min_us, "election_min_ms")?,
            election_max_us: ms(self.election_max_ms, d.election_max_us, "election_max_ms")?,
            retry_us: ms(self.retry_ms, d.retry_us, "retry_ms")?,
            call_deadline_us: ms(
                self.call_deadline_ms,
                d.call_deadline_us,
                "call_deadline_ms",
            )?,
        };
        let bad = |why: String| Err(ClusterError::Invalid(format!("[timing] {why}")));
        if t.suspect_after_us < 3 * t.heartbeat_us {
            return bad(format!(
                "suspect_after_ms ({} ms) must be at least 3 heartbeats ({} ms): \
                 one late heartbeat would get a live host suspected",
                t.suspect_after_us / 1_000,
                3 * t.heartbeat_us / 1_000
            ));
        }
        if t.election_min_us > t.election_max_us {
            return bad("election_min_ms must not exceed election_max_ms".into());
        }
        if t.call_deadline_us <= t.suspect_after_us + t.election_max_us {
            return bad(format!(
                "call_deadline_ms ({} ms) must exceed suspect_after_ms + election_max_ms \
                 ({} ms), or calls fail before a failover can finish",
                t.call_deadline_us / 1_000,
                (t.suspect_after_us + t.election_max_us) / 1_000
            ));
        }
        Ok(t)
    }

    /// The defaults with another suspicion time, checked like a file's.
    fn suspect_after(ms: u64) -> Result<Timing, ClusterError> {
        TimingSection {
            suspect_after_ms: Some(ms),
            ..TimingSection::default()
        }
        .timing()
    }

    fn of(t: &Timing) -> Option<TimingSection> {
        if *t == Timing::default() {
            return None;
        }
        let ms = |us: u64| Some(us / 1_000);
        Some(TimingSection {
            heartbeat_ms: ms(t.heartbeat_us),
            suspect_after_ms: ms(t.suspect_after_us),
            election_min_ms: ms(t.election_min_us),
            election_max_ms: ms(t.election_max_us),
            retry_ms: ms(t.retry_us),
            call_deadline_ms: ms(t.call_deadline_us),
        })
    }
}

/// `[cluster]`: settings of every kernel that are not protocol timing. Its
/// `key` is read only to explain a file of the older format, which held a
/// shared key.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    busy_poll_us: Option<u64>,
}

/// How long, by default, a kernel's core and a waiting caller keep looking
/// for the next message before they sleep ([`ClusterConfig::busy_poll_us`]).
pub const DEFAULT_BUSY_POLL_US: u64 = 50;
/// The largest busy-poll a cluster file may set: beyond a millisecond a
/// spinning core costs more CPU than the wake-up it saves.
pub const MAX_BUSY_POLL_US: u64 = 1_000;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    address: String,
    public_key: String,
}

/// A parsed cluster file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Every host and the address it listens on.
    pub hosts: BTreeMap<HostId, SocketAddr>,
    /// Every host's public key (the same hosts as `hosts`).
    pub keys: BTreeMap<HostId, PublicKey>,
    /// The protocol timeouts every kernel of the cluster uses (`[timing]`).
    pub timing: Timing,
    /// `[cluster] busy_poll_us`: after a round of work, a kernel's core polls
    /// its sockets without sleeping for up to this many microseconds before
    /// it waits in the kernel, and a caller waiting for an answer does the same
    /// with its channel. A wake-up from sleep costs tens of microseconds on a
    /// virtual machine, several per call; 0 turns polling off (a machine
    /// shared with other work).
    pub busy_poll_us: u64,
}

/// `h3` → `HostId(3)`.
pub fn parse_host_name(name: &str) -> Option<HostId> {
    let digits = name.strip_prefix('h')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(HostId)
}

/// `HostId(3)` → `h3`.
pub fn host_name(host: HostId) -> String {
    format!("h{}", host.0)
}

impl ClusterConfig {
    /// Parses the TOML text of a cluster file, resolving host addresses.
    pub fn parse(text: &str) -> Result<ClusterConfig, ClusterError> {
        let file: ClusterFile = toml::from_str(text).map_err(|e| {
            let mut why = e.to_string();
            if text.contains("[cluster]") && text.lines().any(|l| l.trim().starts_with("key")) {
                why.push_str(OLD_FORMAT_HINT);
            }
            ClusterError::Invalid(why)
        })?;
        let section = file.cluster.unwrap_or_default();
        if section.key.is_some() {
            return Err(ClusterError::Invalid(format!(
                "[cluster] key: a shared key is no longer accepted{OLD_FORMAT_HINT}"
            )));
        }
        if file.hosts.is_empty() {
            return Err(ClusterError::Invalid("[hosts] lists no host".into()));
        }
        let mut hosts = BTreeMap::new();
        let mut keys = BTreeMap::new();
        for (name, entry) in &file.hosts {
            let addr = &entry.address;
            let host = parse_host_name(name).ok_or_else(|| {
                ClusterError::Invalid(format!(
                    "host name `{name}` is not `h` followed by a number"
                ))
            })?;
            let resolved = addr
                .to_socket_addrs()
                .map_err(|e| ClusterError::Invalid(format!("{name} = \"{addr}\": {e}")))?
                .next()
                .ok_or_else(|| ClusterError::Invalid(format!("{name} = \"{addr}\": no address")))?;
            if let Some((other, _)) = hosts.iter().find(|(_, a)| **a == resolved) {
                return Err(ClusterError::Invalid(format!(
                    "{name} and {} both listen at {resolved}",
                    host_name(*other)
                )));
            }
            if hosts.insert(host, resolved).is_some() {
                return Err(ClusterError::Invalid(format!("host {name} listed twice")));
            }
            let key: PublicKey = entry
                .public_key
                .parse()
                .map_err(|e| ClusterError::Invalid(format!("{name}: public_key: {e}")))?;
            if let Some((other, _)) = keys.iter().find(|(_, k)| **k == key) {
                return Err(ClusterError::Invalid(format!(
                    "{name} and {} have the same public key",
                    host_name(*other)
                )));
            }
            keys.insert(host, key);
        }
        let timing = file.timing.unwrap_or_default().timing()?;
        let busy_poll_us = section.busy_poll_us.unwrap_or(DEFAULT_BUSY_POLL_US);
        if busy_poll_us > MAX_BUSY_POLL_US {
            return Err(ClusterError::Invalid(format!(
                "[cluster] busy_poll_us = {busy_poll_us}: at most {MAX_BUSY_POLL_US} \
                 (0 turns busy polling off)"
            )));
        }
        Ok(ClusterConfig {
            hosts,
            keys,
            timing,
            busy_poll_us,
        })
    }

    pub fn load(path: &Path) -> Result<ClusterConfig, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ClusterConfig::parse(&text)
    }

    /// The TOML form.
    pub fn to_toml(&self) -> Result<String, ClusterError> {
        let mut hosts = BTreeMap::new();
        for (h, a) in &self.hosts {
            let key = self.keys.get(h).ok_or_else(|| {
                ClusterError::Invalid(format!("{} has no public key", host_name(*h)))
            })?;
            hosts.insert(
                host_name(*h),
                HostEntry {
                    address: a.to_string(),
                    public_key: key.to_string(),
                },
            );
        }
        let file = ClusterFile {
            cluster: (self.busy_poll_us != DEFAULT_BUSY_POLL_US).then_some(ClusterSection {
                key: None,
                busy_poll_us: Some(self.busy_poll_us),
            }),
            hosts,
            timing: TimingSection::of(&self.timing),
        };
        toml::to_string(&file).map_err(|e| ClusterError::Invalid(e.to_string()))
    }

    /// Sets the suspicion time (`[timing] suspect_after_ms`) over the other
    /// timeouts' defaults, checked as a cluster file's would be: a local
    /// cluster moving tens of MiB per message on a loaded machine wants a
    /// longer one than the loopback default.
    pub fn set_suspect_after_ms(&mut self, ms: u64) -> Result<(), ClusterError> {
        self.timing = TimingSection::suspect_after(ms)?;
        Ok(())
    }

    /// A cluster of `hosts` with a fresh key pair for each: the configuration
    /// and every host's private key (`ftc run`, the local launcher, tests).
    pub fn with_fresh_keys(
        hosts: BTreeMap<HostId, SocketAddr>,
    ) -> Result<(ClusterConfig, BTreeMap<HostId, HostKey>), ClusterError> {
        let mut private = BTreeMap::new();
        for h in hosts.keys() {
            let key = HostKey::generate().map_err(|e| ClusterError::Launch(e.to_string()))?;
            private.insert(*h, key);
        }
        let keys = private.iter().map(|(h, k)| (*h, k.public())).collect();
        let config = ClusterConfig {
            hosts,
            keys,
            timing: Timing::default(),
            busy_poll_us: DEFAULT_BUSY_POLL_US,
        };
        Ok((config, private))
    }

    /// Writes the cluster file `cluster.toml` and every key file `hN.key`
    /// (mode 0600) of `private` into `dir`; returns the cluster file's path.
    pub fn write_with_keys(
        &self,
        dir: &Path,
        private: &BTreeMap<HostId, HostKey>,
    ) -> Result<PathBuf, ClusterError> {
        let cluster_file = dir.join("cluster.toml");
        std::fs::write(&cluster_file, self.to_toml()?)
            .map_err(|e| ClusterError::Launch(format!("cannot write the cluster file: {e}")))?;
        for (h, key) in private {
            key.write_file(*h, &key_path_beside(&cluster_file, *h))
                .map_err(|e| ClusterError::Launch(e.to_string()))?;
        }
        Ok(cluster_file)
    }

    /// `host`'s private key from `path`, checked against its public key here.
    pub fn load_host_key(&self, host: HostId, path: &Path) -> Result<HostKey, ClusterError> {
        let key =
            HostKey::load_file(host, path).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        match self.keys.get(&host) {
            Some(public) if *public == key.public() => Ok(key),
            Some(public) => Err(ClusterError::Invalid(format!(
                "the key in {} does not match {}'s public key in the cluster file \
                 (file: {}, cluster file: {public})",
                path.display(),
                host_name(host),
                key.public()
            ))),
            None => Err(ClusterError::Invalid(format!(
                "{} is not in the cluster file",
                host_name(host)
            ))),
        }
    }

    /// Every configured host, in id order.
    pub fn host_ids(&self) -> Vec<HostId> {
        self.hosts.keys().copied().collect()
    }
}

const OLD_FORMAT_HINT: &str = "; every host now has its own key pair: make one with \
     `ftc keygen hN` and list each host as `hN = { address = \"…\", public_key = \"…\" }` \
     (see docs/deployment.md)";

/// `hN.key` in the cluster file's directory: where a kernel looks for its
/// private key when no `--key-file` is given.
pub fn key_path_beside(cluster_file: &Path, host: HostId) -> PathBuf {
    cluster_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{}.key", host_name(host)))
}

/// Free TCP ports on 127.0.0.1 for kernels that bind them right after (free
/// when probed). They are taken below the system's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`), which outgoing connections
/// draw from: a port the system hands out with `bind(…:0)` can be taken by
/// any connection between the probe and the kernel's bind, and was (a kernel
/// of a generated program's cluster once found its port in use). Starts at
/// a random port of that range so that launchers running at once rarely
/// probe the same ones; falls back to system-chosen ports if none is free.
pub fn free_loopback_ports(count: usize) -> std::io::Result<Vec<u16>> {
    use rand::Rng;
    const LOWEST: u16 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let mut ports = Vec::with_capacity(count);
    // Each probed port is held until all are found, so none is found twice;
    // all are released on return, for the kernels to bind.
    let mut held = Vec::with_capacity(count);
    if ephemeral_low > LOWEST + 1_000 {
        let span = u32::from(ephemeral_low - LOWEST);
        let start = rand::rng().random_range(0..span);
        for k in 0..span {
            if held.len() == count {
                break;
            }
            let port = LOWEST + ((start + k) % span) as u16;
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                held.push(l);
                ports.push(port);
            }
        }
    }
    while ports.len() < count {
        let l = TcpListener::bind("127.0.0.1:0")?;
        ports.push(l.local_addr()?.port());
        held.push(l);
    }
    drop(held);
    Ok(ports)
}

/// How to launch a [`LocalCluster`].
#[derive(Clone, Debug)]
pub struct LocalClusterOptions {
    /// Kernel processes to start, as hosts `h1..=hN`.
    pub kernels: u32,
    /// Also list `h0` in the cluster file, for a kernel the launching process runs
    /// itself (the main program, or a test driver).
    pub main_host: bool,
    /// How long each kernel may take to print its ready line.
    pub ready_timeout_ms: u64,
    /// Arguments added after `--kernel --host hN --cluster FILE`.
    pub extra_args: Vec<String>,
    /// Pass `--trace FILE` so each kernel writes its protocol traces to `hN.trace`.
    pub traces: bool,
    /// Pass `--data-dir ROOT/hN`: each kernel keeps its stable storage (and
    /// its incarnation file) there, across restarts.
    pub data_root: Option<PathBuf>,
    /// The cluster file's `[timing]`: the defaults ([`Timing::default`]) if
    /// `None`. A cluster moving tens of MiB per message on a loaded machine
    /// wants a longer suspicion time than the loopback default.
    pub timing: Option<Timing>,
    /// The cluster file's `[cluster] busy_poll_us`: [`DEFAULT_BUSY_POLL_US`]
    /// if `None`.
    pub busy_poll_us: Option<u64>,
    /// Hosts' addresses, where not a free port on 127.0.0.1 (hosts in
    /// network namespaces a test made).
    pub addresses: BTreeMap<HostId, SocketAddr>,
    /// Kernel hosts started inside a network namespace
    /// (`ip netns exec NAME BINARY …`: the same process, in that namespace).
    pub namespaces: BTreeMap<HostId, String>,
}

impl Default for LocalClusterOptions {
    fn default() -> LocalClusterOptions {
        LocalClusterOptions {
            kernels: 3,
            main_host: true,
            ready_timeout_ms: 10_000,
            extra_args: Vec::new(),
            traces: false,
            data_root: None,
            timing: None,
            busy_poll_us: None,
            addresses: BTreeMap::new(),
            namespaces: BTreeMap::new(),
        }
    }
}

struct KernelProcess {
    child: Child,
    paused: bool,
}

/// Kernel processes on loopback, one per host, sharing a temporary cluster file.
/// Every process still running is killed when this is dropped.
pub struct LocalCluster {
    binary: PathBuf,
    dir: tempfile::TempDir,
    cluster_file: PathBuf,
    config: ClusterConfig,
    /// Every host's private key (also in `hN.key` beside the cluster file).
    private: BTreeMap<HostId, HostKey>,
    options: LocalClusterOptions,
    running: BTreeMap<HostId, KernelProcess>,
    /// Ready lines seen per host, e.g. with the incarnation the kernel chose.
    ready_lines: BTreeMap<HostId, String>,
}

impl LocalCluster {
    /// Writes a cluster file with a random key and free ports, starts `binary
    /// --kernel --host hN --cluster FILE` for every kernel host and waits until
    /// each has printed its ready line.
    pub fn start(
        binary: &Path,
        options: LocalClusterOptions,
    ) -> Result<LocalCluster, ClusterError> {
        let mut cluster = LocalCluster::prepare(binary, options)?;
        cluster.start_kernels()?;
        Ok(cluster)
    }

    /// Writes the cluster file but starts no process yet, so the launching
    /// process can start its own kernel (h0) first and boot with the cluster.
    pub fn prepare(
        binary: &Path,
        options: LocalClusterOptions,
    ) -> Result<LocalCluster, ClusterError> {
        if options.kernels == 0 {
            return Err(ClusterError::Launch("no kernels asked for".into()));
        }
        let dir = tempfile::Builder::new()
            .prefix("ftc-cluster-")
            .tempdir()
            .map_err(|e| ClusterError::Launch(format!("cannot create a temp dir: {e}")))?;
        let first = if options.main_host { 0 } else { 1 };
        let ids: Vec<HostId> = (first..=options.kernels).map(HostId).collect();
        let ports = free_loopback_ports(ids.len())
            .map_err(|e| ClusterError::Launch(format!("cannot probe a free port: {e}")))?;
        let hosts = ids
            .iter()
            .zip(ports)
            .map(|(h, p)| {
                let loopback = SocketAddr::from(([127, 0, 0, 1], p));
                (*h, options.addresses.get(h).copied().unwrap_or(loopback))
            })
            .collect();
        let (mut config, private) = ClusterConfig::with_fresh_keys(hosts)?;
        if let Some(timing) = options.timing.clone() {
            config.timing = timing;
        }
        if let Some(us) = options.busy_poll_us {
            config.busy_poll_us = us.min(MAX_BUSY_POLL_US);
        }
        let cluster_file = config.write_with_keys(dir.path(), &private)?;
        Ok(LocalCluster {
            binary: binary.to_path_buf(),
            dir,
            cluster_file,
            config,
            private,
            options,
            running: BTreeMap::new(),
            ready_lines: BTreeMap::new(),
        })
    }

    /// Starts every kernel host that is not running and waits until each is ready.
    pub fn start_kernels(&mut self) -> Result<(), ClusterError> {
        let mut waits = Vec::new();
        for h in self.kernel_hosts() {
            if !self.running.contains_key(&h) {
                waits.push((h, self.spawn(h)?));
            }
        }
        for (h, ready) in waits {
            self.await_ready(h, ready)?;
        }
        Ok(())
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// `host`'s private key, e.g. for the launching process's own kernel (h0).
    pub fn host_key(&self, host: HostId) -> Option<&HostKey> {
        self.private.get(&host)
    }

    /// A kernel configuration for `host` of this cluster with its key, for a
    /// kernel the launching process runs itself (h0).
    pub fn kernel_config(&self, host: HostId) -> Result<crate::kernel::KernelConfig, ClusterError> {
        let key = self.host_key(host).ok_or_else(|| {
            ClusterError::Launch(format!("{} is not in this cluster", host_name(host)))
        })?;
        Ok(crate::kernel::KernelConfig::new(
            host,
            self.config.clone(),
            key.clone(),
        ))
    }

    pub fn cluster_file(&self) -> &Path {
        &self.cluster_file
    }

    /// The directory holding the cluster file, logs (`hN.log`) and traces (`hN.trace`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `h0`, when the cluster file reserves it for the launching process.
    pub fn main_host(&self) -> Option<HostId> {
        self.options.main_host.then_some(HostId(0))
    }

    /// The hosts run as kernel processes (`h1..=hN`).
    pub fn kernel_hosts(&self) -> Vec<HostId> {
        (1..=self.options.kernels).map(HostId).collect()
    }

    /// Where kernel `host` writes its stderr.
    pub fn log_path(&self, host: HostId) -> PathBuf {
        self.dir.path().join(format!("{}.log", host_name(host)))
    }

    /// Where kernel `host` writes its traces (when `traces` is on).
    pub fn trace_path(&self, host: HostId) -> PathBuf {
        self.dir.path().join(format!("{}.trace", host_name(host)))
    }

    /// The ready line the current process of `host` printed.
    pub fn ready_line(&self, host: HostId) -> Option<&str> {
        self.ready_lines.get(&host).map(String::as_str)
    }

    pub fn pid(&self, host: HostId) -> Option<u32> {
        self.running.get(&host).map(|p| p.child.id())
    }

    pub fn is_running(&mut self, host: HostId) -> bool {
        match self.running.get_mut(&host) {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn spawn(&mut self, host: HostId) -> Result<mpsc::Receiver<String>, ClusterError> {
        if !self.config.hosts.contains_key(&host) || Some(host) == self.main_host() {
            return Err(ClusterError::Launch(format!(
                "{} is not a kernel host of this cluster",
                host_name(host)
            )));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(host))
            .map_err(|e| ClusterError::Launch(format!("cannot open the kernel log: {e}")))?;
        let mut cmd = match self.options.namespaces.get(&host) {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(&self.binary);
                cmd
            }
            None => Command::new(&self.binary),
        };
        cmd.arg("--kernel")
            .arg("--host")
            .arg(host_name(host))
            .arg("--cluster")
            .arg(&self.cluster_file)
            // The kernel exits if this process dies without stopping it.
            .arg("--exit-on-stdin-eof");
        if self.options.traces {
            cmd.arg("--trace").arg(self.trace_path(host));
        }
        if let Some(root) = &self.options.data_root {
            cmd.arg("--data-dir").arg(root.join(host_name(host)));
        }
        crate::allocator::configure_child(&mut cmd);
        cmd.args(&self.options.extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().map_err(|e| {
            ClusterError::Launch(format!("cannot start {}: {e}", self.binary.display()))
        })?;
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            // Reads stdout to its end so the kernel never blocks on a full pipe.
            let spawned = std::thread::Builder::new()
                .name(format!("ftc-launcher-{}", host_name(host)))
                .spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if line.starts_with(READY_PREFIX) {
                            let _ = tx.send(line);
                        }
                    }
                });
            if let Err(e) = spawned {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ClusterError::Launch(format!("cannot start a thread: {e}")));
            }
        }
        self.running.insert(
            host,
            KernelProcess {
                child,
                paused: false,
            },
        );
        Ok(rx)
    }

    fn await_ready(
        &mut self,
        host: HostId,
        ready: mpsc::Receiver<String>,
    ) -> Result<(), ClusterError> {
        let timeout = Duration::from_millis(self.options.ready_timeout_ms);
        match ready.recv_timeout(timeout) {
            Ok(line) => {
                self.ready_lines.insert(host, line);
                Ok(())
            }
            Err(_) => {
                let log = std::fs::read_to_string(self.log_path(host)).unwrap_or_default();
                self.kill(host);
                Err(ClusterError::Launch(format!(
                    "{} did not report ready within {} ms; its log:\n{}",
                    host_name(host),
                    self.options.ready_timeout_ms,
                    log
                )))
            }
        }
    }

    fn signal(&self, host: HostId, signal: Signal) -> Result<(), ClusterError> {
        let p = self
            .running
            .get(&host)
            .ok_or_else(|| ClusterError::Launch(format!("{} is not running", host_name(host))))?;
        let pid = i32::try_from(p.child.id())
            .map_err(|_| ClusterError::Launch("pid out of range".into()))?;
        kill(Pid::from_raw(pid), signal)
            .map_err(|e| ClusterError::Launch(format!("{signal} to {}: {e}", host_name(host))))
    }

    /// SIGKILL: the kernel dies at once, without any cleanup. No-op if not running.
    pub fn kill(&mut self, host: HostId) {
        if let Some(mut p) = self.running.remove(&host) {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.ready_lines.remove(&host);
    }

    /// SIGSTOP: the kernel freezes (its sockets stay open, it answers nothing).
    pub fn pause(&mut self, host: HostId) -> Result<(), ClusterError> {
        self.signal(host, Signal::SIGSTOP)?;
        if let Some(p) = self.running.get_mut(&host) {
            p.paused = true;
        }
        Ok(())
    }

    /// SIGCONT: a paused kernel carries on where it stopped.
    pub fn resume(&mut self, host: HostId) -> Result<(), ClusterError> {
        self.signal(host, Signal::SIGCONT)?;
        if let Some(p) = self.running.get_mut(&host) {
            p.paused = false;
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `timeout_ms` for a clean exit, then SIGKILL.
    /// Returns whether the kernel exited by itself.
    pub fn stop(&mut self, host: HostId, timeout_ms: u64) -> bool {
        let paused = self.running.get(&host).is_some_and(|p| p.paused);
        if paused {
            let _ = self.resume(host);
        }
        if self.signal(host, Signal::SIGTERM).is_err() {
            self.kill(host);
            return false;
        }
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut clean = false;
        while Instant::now() < deadline {
            match self.running.get_mut(&host).map(|p| p.child.try_wait()) {
                Some(Ok(Some(status))) => {
                    clean = status.success();
                    break;
                }
                Some(Ok(None)) => std::thread::sleep(Duration::from_millis(10)),
                _ => break,
            }
        }
        self.kill(host);
        clean
    }

    /// Kills the kernel if it runs and starts a new process for the host (a new
    /// incarnation), waiting until it is ready.
    pub fn restart(&mut self, host: HostId) -> Result<(), ClusterError> {
        self.kill(host);
        let ready = self.spawn(host)?;
        self.await_ready(host, ready)
    }

    /// Stops every kernel (SIGTERM with a short grace period, then SIGKILL).
    pub fn stop_all(&mut self) {
        let hosts: Vec<HostId> = self.running.keys().copied().collect();
        for h in hosts {
            self.stop(h, 2_000);
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let hosts: Vec<HostId> = self.running.keys().copied().collect();
        for h in hosts {
            self.kill(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ports for kernels: distinct, below the ephemeral range that outgoing
    /// connections take, and free again once returned.
    #[test]
    fn loopback_ports_are_distinct_free_and_not_ephemeral() {
        let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok());
        let ports = free_loopback_ports(8).expect("free ports");
        assert_eq!(ports.len(), 8);
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), 8, "{ports:?}");
        if let Some(low) = low.filter(|l| *l > 11_000) {
            assert!(ports.iter().all(|p| *p < low), "{ports:?} below {low}");
        }
        let bound: Vec<TcpListener> = ports
            .iter()
            .map(|p| TcpListener::bind(("127.0.0.1", *p)).expect("released"))
            .collect();
        assert_eq!(bound.len(), 8);
    }

    const K1: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"; // seed [1; 32]
    const K2: &str = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"; // seed [2; 32]

    fn hosts_file(entries: &[(&str, &str, &str)]) -> String {
        let mut text = String::from("[hosts]\n");
        for (name, addr, key) in entries {
            text.push_str(&format!(
                "{name} = {{ address = \"{addr}\", public_key = \"{key}\" }}\n"
            ));
        }
        text
    }

    #[test]
    fn parses_a_cluster_file() {
        let c = ClusterConfig::parse(&hosts_file(&[
            ("h0", "127.0.0.1:7100", K1),
            ("h2", "127.0.0.1:7102", K2),
        ]))
        .expect("valid");
        assert_eq!(c.host_ids(), vec![HostId(0), HostId(2)]);
        assert_eq!(c.hosts[&HostId(2)].port(), 7102);
        assert_eq!(c.keys[&HostId(2)].to_string(), K2);
        let again = ClusterConfig::parse(&c.to_toml().expect("toml")).expect("round trip");
        assert_eq!(again, c);
    }

    #[test]
    fn rejects_bad_cluster_files() {
        let one = |name: &str, addr: &str, key: &str| hosts_file(&[(name, addr, key)]);
        for bad in [
            String::new(),
            "[hosts]\n".to_string(),
            one("node1", "127.0.0.1:1", K1),
            one("h1", "not an address", K1),
            one("h1", "127.0.0.1:1", "not a key"),
            one("h1", "127.0.0.1:1", &K1[2..]),
            hosts_file(&[("h1", "127.0.0.1:1", K1), ("h01", "127.0.0.1:2", K2)]),
            // Two hosts at one address, or with one key.
            hosts_file(&[("h1", "127.0.0.1:1", K1), ("h2", "127.0.0.1:1", K2)]),
            hosts_file(&[("h1", "127.0.0.1:1", K1), ("h2", "127.0.0.1:2", K1)]),
            // Unknown keys: in a host, in a section, at the top.
            "[hosts]\nh1 = { address = \"127.0.0.1:1\", public_key = \"K\", port = 1 }\n"
                .replace('K', K1),
            format!(
                "[cluster]\nhearbeat_ms = 5\n{}",
                one("h1", "127.0.0.1:1", K1)
            ),
            format!("{}[timimg]\nx = 1\n", one("h1", "127.0.0.1:1", K1)),
            // A host without its key.
            "[hosts]\nh1 = { address = \"127.0.0.1:1\" }\n".to_string(),
        ] {
            assert!(ClusterConfig::parse(&bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn timing_is_settable_with_sane_values_only() {
        let hosts = hosts_file(&[("h1", "127.0.0.1:1", K1)]);
        let c = ClusterConfig::parse(&hosts).expect("defaults");
        assert_eq!(c.timing, Timing::default());
        let c = ClusterConfig::parse(&format!(
            "{hosts}[timing]\nheartbeat_ms = 100\nsuspect_after_ms = 1000\ncall_deadline_ms = 30000\n"
        ))
        .expect("a WAN setting");
        assert_eq!(c.timing.heartbeat_us, 100_000);
        assert_eq!(c.timing.suspect_after_us, 1_000_000);
        assert_eq!(c.timing.retry_us, Timing::default().retry_us);
        let again = ClusterConfig::parse(&c.to_toml().expect("toml")).expect("round trip");
        assert_eq!(again, c);
        for bad in [
            "heartbeat_ms = 0",
            "heartbeat_ms = 100",
            "election_min_ms = 500\nelection_max_ms = 400",
            "call_deadline_ms = 300",
            "retry_ms = 99999999",
            "heartbeat = 5",
        ] {
            let text = format!("{hosts}[timing]\n{bad}\n");
            assert!(ClusterConfig::parse(&text).is_err(), "accepted {bad:?}");
        }
        let mut c = ClusterConfig::parse(&hosts).expect("defaults");
        c.set_suspect_after_ms(1_000).expect("a second");
        assert_eq!(c.timing.suspect_after_us, 1_000_000);
        assert_eq!(c.timing.heartbeat_us, Timing::default().heartbeat_us);
        let again = ClusterConfig::parse(&c.to_toml().expect("toml")).expect("round trip");
        assert_eq!(again, c);
        for bad in [0, 50, 9_800] {
            assert!(c.set_suspect_after_ms(bad).is_err(), "accepted {bad} ms");
        }
    }

    #[test]
    fn busy_polling_is_settable_within_bounds_and_round_trips() {
        let hosts = hosts_file(&[("h1", "127.0.0.1:1", K1)]);
        let c = ClusterConfig::parse(&hosts).expect("parses");
        assert_eq!(c.busy_poll_us, DEFAULT_BUSY_POLL_US);
        assert!(!c.to_toml().expect("toml").contains("busy_poll_us"));
        for us in [0, 7, MAX_BUSY_POLL_US] {
            let c = ClusterConfig::parse(&format!("[cluster]\nbusy_poll_us = {us}\n{hosts}"))
                .expect("parses");
            assert_eq!(c.busy_poll_us, us);
            let again = ClusterConfig::parse(&c.to_toml().expect("toml")).expect("round trip");
            assert_eq!(again, c);
        }
        let too_long = format!(
            "[cluster]\nbusy_poll_us = {}\n{hosts}",
            MAX_BUSY_POLL_US + 1
        );
        let err = ClusterConfig::parse(&too_long)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("busy_poll_us") && err.contains("at most"),
            "{err}"
        );
    }

    #[test]
    fn the_shared_key_format_is_refused_with_the_way_forward() {
        for old in [
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nh1 = \"127.0.0.1:1\"\n"
                .to_string(),
            format!(
                "[cluster]\nkey = \"0123456789abcdef0123\"\n{}",
                hosts_file(&[("h1", "127.0.0.1:1", K1)])
            ),
        ] {
            let err = ClusterConfig::parse(&old).expect_err("refused").to_string();
            assert!(err.contains("ftc keygen"), "{err}");
        }
    }

    #[test]
    fn a_kernel_key_must_match_the_cluster_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts = [(HostId(1), "127.0.0.1:1"), (HostId(2), "127.0.0.1:2")]
            .into_iter()
            .map(|(h, a)| (h, a.parse().expect("addr")))
            .collect();
        let (config, private) = ClusterConfig::with_fresh_keys(hosts).expect("keys");
        let file = config.write_with_keys(dir.path(), &private).expect("write");
        let path = key_path_beside(&file, HostId(1));
        let key = config.load_host_key(HostId(1), &path).expect("matches");
        assert_eq!(key.public(), config.keys[&HostId(1)]);
        // h2's file as h1's key: named for another host.
        assert!(config
            .load_host_key(HostId(1), &key_path_beside(&file, HostId(2)))
            .is_err());
        // A cluster file listing another public key for h1.
        let mut other = config.clone();
        other
            .keys
            .insert(HostId(1), HostKey::generate().expect("key").public());
        let err = other.load_host_key(HostId(1), &path).expect_err("mismatch");
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(config
            .load_host_key(HostId(3), &dir.path().join("h3.key"))
            .is_err());
    }

    #[test]
    fn host_names() {
        assert_eq!(parse_host_name("h12"), Some(HostId(12)));
        assert_eq!(parse_host_name("h"), None);
        assert_eq!(parse_host_name("h-1"), None);
        assert_eq!(parse_host_name("x1"), None);
        assert_eq!(host_name(HostId(4)), "h4");
    }
}
