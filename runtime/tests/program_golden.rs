//! The golden program (`runtime/examples/golden.rs`): its `main` on four
//! in-process kernels running the real protocols, checked by its output, also
//! while a kernel stops; and as real processes (the golden binary as main
//! program and as kernels), checked by standard output and exit code.

#[allow(dead_code)]
#[path = "../examples/golden.rs"]
mod golden;

use ftc_runtime::cluster::{LocalCluster, LocalClusterOptions};
use ftc_runtime::host::Trace;
use ftc_runtime::kernel::{Kernel, TraceSink};
use ftc_runtime::program::{run_main, set_print_sink, ProgramFactory, ServerClassDef};
use ftc_runtime::types::{GroupView, HostId};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const EXPECTED: &str = "\
total: 3
kept: item{name: apples, qty: 3}
rejected: requires it->qty > 0
accepted 0, total 6
slow: no reply within 0.2 s
slow: -1
caught: total 6 exceeds 5
sqrt(2) = 1.4142135623730951, done: true
";

/// Collects what `print` writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// `n` kernels in this process, at the cluster's first boot; every kernel
/// reports its traces on `traces`.
fn in_process_kernels(n: u32, traces: Option<mpsc::Sender<Trace>>) -> Vec<Kernel> {
    let apps = Arc::new(ProgramFactory::new(vec![ServerClassDef::of::<
        golden::Counter,
    >()]));
    Kernel::start_in_process(0, n, apps, |config| {
        if let Some(tx) = &traces {
            config.trace = TraceSink::Channel(tx.clone());
        }
    })
    .expect("start kernels")
}

/// The cluster tests run one at a time: they capture the process-wide print
/// output, or start several processes on few cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn golden_main_on_four_in_process_kernels() {
    let _serial = ONE_AT_A_TIME.lock();
    let out = Captured::default();
    set_print_sink(Some(Box::new(out.clone())));
    let kernels = in_process_kernels(4, None);
    let result = run_main(kernels[0].handle(), golden::cmsl_main);
    set_print_sink(None);
    assert_eq!(result, Ok(0));
    assert_eq!(out.text(), EXPECTED);
}

#[test]
fn golden_output_is_unchanged_when_a_kernel_stops_mid_run() {
    let _serial = ONE_AT_A_TIME.lock();
    let out = Captured::default();
    set_print_sink(Some(Box::new(out.clone())));
    let (tx, traces) = mpsc::channel();
    let mut kernels = in_process_kernels(4, Some(tx));
    let handle = kernels[0].handle();
    let main = std::thread::spawn(move || run_main(handle, golden::cmsl_main));
    // `main` spends two seconds in `slow`: stop h1 meanwhile (placement puts the
    // counter's two replicas on the least-loaded hosts in id order: h0 and h1).
    std::thread::sleep(Duration::from_millis(1_200));
    kernels.remove(1).shutdown();
    let result = main.join().expect("main thread");
    set_print_sink(None);
    assert_eq!(result, Ok(0));
    assert_eq!(out.text(), EXPECTED);
    let traces: Vec<Trace> = traces.try_iter().collect();
    let views: Vec<GroupView> = traces
        .iter()
        .filter_map(|t| match t {
            Trace::ViewInstalled { view, .. } => Some((**view).clone()),
            _ => None,
        })
        .collect();
    let hosts = |v: &GroupView| v.members.iter().map(|m| m.host).collect::<Vec<_>>();
    assert!(
        views.first().is_some_and(|v| hosts(v).contains(&HostId(1))),
        "the stopped kernel ran a replica: {views:?}"
    );
    assert!(
        views
            .iter()
            .any(|v| !v.failed && !hosts(v).contains(&HostId(1))),
        "a view without the stopped kernel was installed: {views:?}"
    );
    // Every replica, the recruit included, had the same state digest after
    // each position of the log.
    let mut digests: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let mut replicas = BTreeSet::new();
    for t in &traces {
        if let Trace::Executed {
            position,
            state_digest,
            replica,
            ..
        } = t
        {
            digests.entry(*position).or_default().insert(*state_digest);
            replicas.insert(replica.host);
        }
    }
    assert!(replicas.len() >= 3, "a replica was recruited: {replicas:?}");
    assert!(digests.len() >= 7, "positions executed: {}", digests.len());
    for (position, states) in &digests {
        assert_eq!(states.len(), 1, "replicas disagree at position {position}");
    }
}

/// `target/<profile>/examples/golden`, built by `cargo test` with the examples.
fn golden() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join("golden")
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Starts `main` as host h0 of the cluster (the cluster's first boot: h0 has no
/// incarnation file yet).
fn spawn_golden(cluster_file: &std::path::Path) -> Child {
    Command::new(golden())
        .args(["--host", "h0", "--cluster"])
        .arg(cluster_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start golden")
}

/// Waits for `main`, bounded by `limit`, and collects its output.
fn finish(mut child: Child, limit: Duration) -> Finished {
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    Finished {
        code,
        stdout,
        stderr,
    }
}

/// The way `ftc run` launches a program: the main process (h0) first, then the
/// kernels h1..hN, all booting the cluster together.
fn launch(kernels: u32) -> (LocalCluster, Child) {
    let mut cluster = LocalCluster::prepare(
        &golden(),
        LocalClusterOptions {
            kernels,
            main_host: true,
            ..LocalClusterOptions::default()
        },
    )
    .expect("prepare the cluster");
    let main = spawn_golden(cluster.cluster_file());
    cluster.start_kernels().expect("start the kernels");
    (cluster, main)
}

#[test]
fn golden_runs_as_a_local_cluster_in_one_process() {
    let _serial = ONE_AT_A_TIME.lock();
    let out = Command::new(golden())
        .args(["--local", "3"])
        .output()
        .expect("run golden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED, "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn an_uncaught_exception_in_main_exits_with_1_and_a_readable_message() {
    let _serial = ONE_AT_A_TIME.lock();
    // One host cannot hold the two replicas `tolerate (1)` needs.
    let out = Command::new(golden())
        .args(["--local", "1"])
        .output()
        .expect("run golden");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: server_failure: server counter needs 2 hosts, the cluster has 1 alive\n  --> golden.cmsl:41\n"
    );
}

#[test]
fn bad_arguments_exit_with_2_and_say_why() {
    let out = Command::new(golden()).output().expect("run golden");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: golden"), "{stderr}");
    assert!(stderr.contains("--host"), "names what is missing: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn golden_runs_on_four_hosts() {
    let _serial = ONE_AT_A_TIME.lock();
    let (_cluster, main) = launch(3);
    let run = finish(main, Duration::from_secs(60));
    assert_eq!(run.stdout, EXPECTED, "stderr: {}", run.stderr);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
}

#[test]
fn golden_output_is_unchanged_when_a_kernel_is_killed_mid_run() {
    let _serial = ONE_AT_A_TIME.lock();
    let (mut cluster, main) = launch(4);
    let main = std::thread::spawn(move || finish(main, Duration::from_secs(90)));
    // `main` spends two seconds in `slow`: kill a kernel meanwhile. Whether or not
    // it ran a replica of the counter, the output must not change.
    std::thread::sleep(Duration::from_millis(1_500));
    cluster.kill(ftc_runtime::types::HostId(1));
    let run = main.join().expect("main thread");
    assert_eq!(run.stdout, EXPECTED, "stderr: {}", run.stderr);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
}
