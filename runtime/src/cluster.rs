//! The cluster file (which hosts exist, where they listen, the shared key) and a
//! launcher that runs a whole cluster of kernel processes on loopback.
//!
//! ```toml
//! [cluster]
//! key = "a long random secret shared by every host"
//!
//! [hosts]
//! h0 = "10.0.0.10:7100"
//! h1 = "10.0.0.11:7100"
//! h2 = "10.0.0.12:7100"
//! ```
//!
//! Host names are `h` followed by the host's number, which becomes its
//! [`HostId`]. See `docs/deployment.md`.

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

/// The shortest cluster key accepted.
pub const MIN_KEY_BYTES: usize = 16;

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
    cluster: ClusterSection,
    hosts: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    key: String,
}

/// A parsed cluster file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The shared secret every kernel authenticates with.
    pub key: Vec<u8>,
    /// Every host and the address it listens on.
    pub hosts: BTreeMap<HostId, SocketAddr>,
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
        let file: ClusterFile =
            toml::from_str(text).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        if file.cluster.key.len() < MIN_KEY_BYTES {
            return Err(ClusterError::Invalid(format!(
                "[cluster] key must be at least {MIN_KEY_BYTES} bytes"
            )));
        }
        if file.hosts.is_empty() {
            return Err(ClusterError::Invalid("[hosts] lists no host".into()));
        }
        let mut hosts = BTreeMap::new();
        for (name, addr) in &file.hosts {
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
        }
        Ok(ClusterConfig {
            key: file.cluster.key.into_bytes(),
            hosts,
        })
    }

    pub fn load(path: &Path) -> Result<ClusterConfig, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ClusterConfig::parse(&text)
    }

    /// The TOML form; `key` must be valid UTF-8 (launcher keys are hex).
    pub fn to_toml(&self) -> Result<String, ClusterError> {
        let file = ClusterFile {
            cluster: ClusterSection {
                key: String::from_utf8(self.key.clone())
                    .map_err(|_| ClusterError::Invalid("key is not UTF-8".into()))?,
            },
            hosts: self
                .hosts
                .iter()
                .map(|(h, a)| (host_name(*h), a.to_string()))
                .collect(),
        };
        toml::to_string(&file).map_err(|e| ClusterError::Invalid(e.to_string()))
    }

    /// Every configured host, in id order.
    pub fn host_ids(&self) -> Vec<HostId> {
        self.hosts.keys().copied().collect()
    }
}

/// A fresh random key of 64 hex digits.
pub fn random_key() -> Result<String, ClusterError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ClusterError::Launch(format!("no random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Free TCP ports on 127.0.0.1 (free when probed; the kernels bind them right after).
fn free_loopback_ports(count: usize) -> Result<Vec<u16>, ClusterError> {
    let mut listeners = Vec::new();
    for _ in 0..count {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| ClusterError::Launch(format!("cannot probe a free port: {e}")))?;
        listeners.push(l);
    }
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|e| ClusterError::Launch(e.to_string()))
        })
        .collect()
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
}

impl Default for LocalClusterOptions {
    fn default() -> LocalClusterOptions {
        LocalClusterOptions {
            kernels: 3,
            main_host: true,
            ready_timeout_ms: 10_000,
            extra_args: Vec::new(),
            traces: false,
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
        let ports = free_loopback_ports(ids.len())?;
        let hosts = ids
            .iter()
            .zip(ports)
            .map(|(h, p)| (*h, SocketAddr::from(([127, 0, 0, 1], p))))
            .collect();
        let config = ClusterConfig {
            key: random_key()?.into_bytes(),
            hosts,
        };
        let cluster_file = dir.path().join("cluster.toml");
        std::fs::write(&cluster_file, config.to_toml()?)
            .map_err(|e| ClusterError::Launch(format!("cannot write the cluster file: {e}")))?;
        Ok(LocalCluster {
            binary: binary.to_path_buf(),
            dir,
            cluster_file,
            config,
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
        let mut cmd = Command::new(&self.binary);
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

    #[test]
    fn parses_a_cluster_file() {
        let c = ClusterConfig::parse(
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nh0 = \"127.0.0.1:7100\"\nh2 = \"127.0.0.1:7102\"\n",
        )
        .expect("valid");
        assert_eq!(c.key, b"0123456789abcdef0123".to_vec());
        assert_eq!(c.host_ids(), vec![HostId(0), HostId(2)]);
        assert_eq!(c.hosts[&HostId(2)].port(), 7102);
        let again = ClusterConfig::parse(&c.to_toml().expect("toml")).expect("round trip");
        assert_eq!(again, c);
    }

    #[test]
    fn rejects_bad_cluster_files() {
        for bad in [
            "",
            "[cluster]\nkey = \"short\"\n[hosts]\nh1 = \"127.0.0.1:1\"\n",
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\n",
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nnode1 = \"127.0.0.1:1\"\n",
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nh1 = \"not an address\"\n",
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nh1 = \"127.0.0.1:1\"\nh01 = \"127.0.0.1:2\"\n",
            // Unknown keys, in a section and at the top.
            "[cluster]\nkey = \"0123456789abcdef0123\"\nhearbeat_ms = 5\n[hosts]\nh1 = \"127.0.0.1:1\"\n",
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nh1 = \"127.0.0.1:1\"\n[timing]\nx = 1\n",
            // Two hosts at one address.
            "[cluster]\nkey = \"0123456789abcdef0123\"\n[hosts]\nh1 = \"127.0.0.1:1\"\nh2 = \"127.0.0.1:1\"\n",
        ] {
            assert!(ClusterConfig::parse(bad).is_err(), "accepted {bad:?}");
        }
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
