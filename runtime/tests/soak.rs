//! A short run of `ftbench --soak` on 127.0.0.1: mixed load on real kernel
//! processes while others are SIGKILLed, restarted, SIGSTOPped and resumed.
//! Asserts that the run completes with a correct history and that faults
//! happened; memory and timing are what the benchmark reports, not asserted.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_short_soak_keeps_a_correct_history_through_crashes_and_pauses() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftbench"))
        .args([
            "--soak",
            "--seconds",
            "20",
            "--fault-every",
            "4",
            "--down",
            "1",
            "--rate",
            "200",
            "--clients",
            "4",
            "--session-calls",
            "50",
            "--seed",
            "7",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ftbench --soak");
    // Read both pipes to their end, so the child never blocks on a full one.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    // 20 s of load, then the final reads; generous for a loaded machine, but bounded.
    let until = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "ftbench --soak failed ({status:?}):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("verdict: history ok"), "{stdout}");
    let kills: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("faults: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(kills >= 1, "no kernel was killed:\n{stdout}");
}
