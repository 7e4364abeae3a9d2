//! The bank example (`examples/bank/bank.rs`, a replicated Rust type) run as
//! real processes: on three in-process kernels, and the way `ftc run` starts a
//! program — `main` on h0, kernels h1..h3 — while the host of one of a
//! branch's replicas is SIGKILLed mid-run. The output must not change: every
//! balance, the money in the bank and the count of commands each branch
//! applied are those of a run where every call took effect exactly once.

use ftc_runtime::cluster::{host_name, parse_host_name, LocalCluster, LocalClusterOptions};
use ftc_runtime::timeline::{Timeline, ENV};
use ftc_runtime::types::HostId;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// 60 rounds: 40 transfers of 10 from alice (north) to bob (south) and 20 of 5
/// back, one refused transfer, and per branch 1 open + 40 or 20 transfers + 20
/// or 40 deposits + the refused transfer's step.
const EXPECTED: &str = "\
refused: no account carol: 1 refunded
alice: 700, bob: 1300
money: 2000
applied: north 62, south 62
";

fn bank() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bank"))
}

#[test]
fn bank_runs_on_three_in_process_kernels() {
    let out = Command::new(bank())
        .args(["--local", "3"])
        .output()
        .expect("run bank");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED, "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// The hosts of a timeline line `… Branch (server N) runs on h0, h1` (or
/// `continues on h1, h2 (view …)`), with the server's number.
fn placement(line: &str, verb: &str) -> Option<(String, Vec<HostId>)> {
    let at = line.find("Branch (server ")?;
    let rest = &line[at + "Branch (server ".len()..];
    let (server, rest) = rest.split_once(')')?;
    let hosts = rest.strip_prefix(verb)?;
    let hosts = hosts.split(" (").next()?;
    let hosts = hosts
        .split(", ")
        .map(|h| parse_host_name(h.trim()))
        .collect::<Option<Vec<HostId>>>()?;
    Some((server.to_string(), hosts))
}

/// Waits for `main`, bounded by `limit`; its exit code and standard output.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
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
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    (code, stdout)
}

#[test]
fn bank_keeps_serving_exactly_once_while_a_replica_host_is_killed() {
    let mut cluster = LocalCluster::prepare(
        bank(),
        LocalClusterOptions {
            kernels: 3,
            main_host: true,
            ..LocalClusterOptions::default()
        },
    )
    .expect("prepare the cluster");
    let main_host = cluster.main_host().expect("h0 runs main");
    let origin_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let mut main = Command::new(bank())
        .env(ENV, Timeline::encode(origin_us, &[]))
        .args(["--host", &host_name(main_host), "--cluster"])
        .arg(cluster.cluster_file())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start main");
    // `main`'s kernel prints every view change of the servers on stderr.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = main.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    cluster.start_kernels().expect("start the kernels");

    // Where did the two branches start? Wait for both (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<String> = Vec::new();
    let mut started: Vec<(String, Vec<HostId>)> = Vec::new();
    while started.len() < 2 && Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            if let Some(p) = placement(&line, " runs on ") {
                started.push(p);
            }
            seen.push(line);
        }
    }
    assert_eq!(started.len(), 2, "both branches started: {seen:#?}");
    // Kill a host of the first branch (north) that is not main's own, while
    // `main` is still transferring (60 rounds of at least 50 ms).
    let (north, north_hosts) = started[0].clone();
    let victim = *north_hosts
        .iter()
        .find(|h| **h != main_host)
        .expect("a replica of north runs on a kernel host");
    std::thread::sleep(Duration::from_millis(800));
    cluster.kill(victim);
    let killed_at = Instant::now();

    let (code, stdout) = finish(main, Duration::from_secs(120));
    let _ = reader.join();
    seen.extend(lines.try_iter());
    let stderr = seen.join("\n");
    println!("{stderr}"); // the timeline, with --nocapture
    assert_eq!(stdout, EXPECTED, "stderr:\n{stderr}");
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    assert!(
        killed_at.elapsed() > Duration::from_millis(100),
        "main was still running when the host was killed"
    );
    // North failed over: a later view of it no longer holds the victim.
    let failed_over = seen.iter().any(|l| {
        placement(l, " continues on ")
            .is_some_and(|(server, hosts)| server == north && !hosts.contains(&victim))
    });
    assert!(
        failed_over,
        "north (server {north}) continued without {}:\n{stderr}",
        host_name(victim)
    );
}

/// The fenced block of `kind` (`rust`, `text`) that follows `after` in `text`.
fn fenced<'a>(text: &'a str, after: &str, kind: &str) -> Option<&'a str> {
    let from = text.find(after)? + after.len();
    let open = format!("```{kind}\n");
    let start = text[from..].find(&open)? + from + open.len();
    let len = text[start..].find("```\n")?;
    Some(&text[start..start + len])
}

#[test]
fn readme_shows_the_bank_example_as_it_is_and_its_output() {
    let root = ftc_examples::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let source = std::fs::read_to_string(root.join("examples/bank/bank.rs")).expect("bank.rs");
    let heading = "### Replicating a Rust type";
    assert_eq!(
        fenced(&readme, heading, "rust"),
        Some(source.as_str()),
        "the README's snippet under {heading:?} must be examples/bank/bank.rs, verbatim"
    );
    let shown = fenced(&readme, "--bin bank -- --local 3", "text");
    assert_eq!(shown, Some(EXPECTED), "the README's output of the bank");
}
