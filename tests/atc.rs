//! The air-traffic-control example end to end: `examples/air_traffic/atc.cmsl`
//! compiled by `ftc` and run on kernel processes on 127.0.0.1, once cleanly,
//! once with the host of a track database replica killed mid-replay, and the
//! byzantine variant (`atc_byzantine.cmsl`) with a replica lying mid-replay.
//! All runs print the expected summary of the example's README (so at least 95 of
//! the 99 aircraft tracked), the display keeps drawing through the crash with
//! no frame more than one display period late and no error, and `atc.svg`
//! holds one polyline per confirmed track and renders to a PNG (resvg) with
//! the tracks, the alerts and, after the crash, the radar update that waited
//! for the failover. stdout and stderr are read line by
//! line as they arrive and timestamped here; every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The display's period in `atc.cmsl` (`scope->watch (db, sweeps, 0.5)`).
const DISPLAY_PERIOD: Duration = Duration::from_millis(500);
/// When the crash run kills `h2`, seconds after `main` starts: the replay
/// takes about 10 s after a load of about 1 s.
const CRASH_AT: &str = "h2@4";
/// A run (with the first build of the program on a cold target directory)
/// must end within this.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// No run prints more lines than this (about 30 per frame, 20 frames).
const MAX_LINES: usize = 100_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A line of output and when it arrived.
struct Line {
    at: Instant,
    text: String,
    stderr: bool,
}

struct Run {
    code: i32,
    lines: Vec<Line>,
}

impl Run {
    fn stdout(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| !l.stderr)
    }

    /// Everything from `=== summary ===` on.
    fn summary(&self) -> Vec<&str> {
        self.stdout()
            .map(|l| l.text.as_str())
            .skip_while(|l| *l != "=== summary ===")
            .collect()
    }

    /// Display frames: the time they arrived and the recording time they show.
    fn frames(&self) -> Vec<(Instant, i64)> {
        self.stdout()
            .filter_map(|l| {
                let rest = l.text.strip_prefix("t = ")?;
                let t = rest.split_whitespace().next()?.parse().ok()?;
                Some((l.at, t))
            })
            .collect()
    }

    fn transcript(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(if l.stderr { "[err] " } else { "" });
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    }
}

fn forward(stream: impl Read + Send + 'static, stderr: bool, tx: mpsc::Sender<Line>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().take(MAX_LINES) {
            let Ok(text) = line else { break };
            let sent = tx.send(Line {
                at: Instant::now(),
                text,
                stderr,
            });
            if sent.is_err() {
                break;
            }
        }
    });
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `ftc run atc.cmsl FLAGS` in `dir` (where it writes `atc.svg`).
fn run_atc(dir: &Path, flags: &[&str]) -> Run {
    run_program(dir, "atc.cmsl", flags)
}

/// Runs `ftc run examples/air_traffic/PROGRAM FLAGS` in `dir`.
fn run_program(dir: &Path, program: &str, flags: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftc"))
        .current_dir(dir)
        .arg("run")
        .arg(root().join("examples/air_traffic").join(program))
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ftc run");
    let (tx, rx) = mpsc::channel();
    forward(
        child.stdout.take().expect("piped stdout"),
        false,
        tx.clone(),
    );
    forward(child.stderr.take().expect("piped stderr"), true, tx);
    let deadline = Instant::now() + RUN_LIMIT;
    let mut lines = Vec::new();
    // Both streams end (the senders drop) when the process and its kernels exit.
    while lines.len() < 2 * MAX_LINES {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill(&mut child);
                let run = Run { code: -1, lines };
                panic!(
                    "ftc run {flags:?} did not end within {} s:\n{}",
                    RUN_LIMIT.as_secs(),
                    run.transcript()
                );
            }
        }
    }
    // The output has ended: the process exits at once.
    let wait_until = Instant::now() + Duration::from_secs(30);
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < wait_until => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                kill(&mut child);
                break -1;
            }
        }
    };
    Run { code, lines }
}

/// The expected summary of the example's README, from `=== summary ===` to
/// the end of its code block.
fn readme_summary() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("examples/air_traffic/README.md"))
        .expect("read examples/air_traffic/README.md");
    readme
        .lines()
        .skip_while(|l| *l != "=== summary ===")
        .take_while(|l| !l.starts_with("```"))
        .map(String::from)
        .collect()
}

fn tracked(summary: &[&str]) -> Option<(u32, u32)> {
    let line = summary
        .iter()
        .find_map(|l| l.strip_prefix("aircraft tracked:"))?;
    let mut words = line.split_whitespace();
    let n = words.next()?.parse().ok()?;
    let _of = words.next()?;
    let of = words.next()?.parse().ok()?;
    Some((n, of))
}

/// What every run must show; returns the summary and what the picture drew.
fn check_run<'a>(name: &str, run: &'a Run, dir: &Path) -> (Vec<&'a str>, Drawn) {
    let transcript = run.transcript();
    assert_eq!(run.code, 0, "{name}: exit code\n{transcript}");
    let summary = run.summary();
    assert_eq!(
        summary,
        readme_summary(),
        "{name}: the summary differs from the README's\n{transcript}"
    );
    let (n, of) = tracked(&summary).expect("an 'aircraft tracked' line");
    assert!(
        of == 99 && n * 100 >= 95 * of,
        "{name}: {n} of {of} aircraft tracked"
    );
    for bad in ["unavailable", "no answer", "did not finish", "error"] {
        assert!(
            !run.stdout().any(|l| l.text.contains(bad)),
            "{name}: the output says {bad:?}\n{transcript}"
        );
    }

    let frames = run.frames();
    assert!(
        frames.len() >= 10,
        "{name}: only {} frames\n{transcript}",
        frames.len()
    );
    assert_eq!(
        frames.last().map(|f| f.1),
        Some(1800),
        "{name}: the last frame shows the end"
    );
    for pair in frames.windows(2) {
        let ((a, ta), (b, tb)) = (pair[0], pair[1]);
        assert!(
            tb >= ta,
            "{name}: the display went back from t = {ta} to t = {tb}"
        );
        // The display sleeps one period between frames: a frame more than one
        // period later than that is a gap.
        let gap = b.duration_since(a);
        assert!(
            gap <= 2 * DISPLAY_PERIOD,
            "{name}: {gap:?} between the frames of t = {ta} s and t = {tb} s\n{transcript}"
        );
    }

    let svg = std::fs::read_to_string(dir.join("atc.svg")).expect("the run wrote atc.svg");
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    let confirmed: usize = summary
        .iter()
        .find_map(|l| l.strip_prefix("tracks confirmed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a 'tracks confirmed' line");
    assert_eq!(
        svg.matches("<polyline ").count(),
        confirmed,
        "{name}: one polyline per confirmed track"
    );
    let alerts = summary
        .iter()
        .find_map(|l| l.strip_prefix("conflict pairs:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .expect("a 'conflict pairs' line");
    let png = dir.join("atc.png");
    let drawn = render(&svg, &png);
    assert!(
        drawn.track > 2_000,
        "{name}: {} track pixels in {}",
        drawn.track,
        png.display()
    );
    assert_eq!(
        drawn.alert > 0,
        alerts > 0,
        "{name}: {} alert pixels for {alerts} conflict pairs in {}",
        drawn.alert,
        png.display()
    );
    (summary, drawn)
}

/// Pixels of the picture's content colours.
struct Drawn {
    /// Track histories (`#40e070`).
    track: usize,
    /// Conflict alerts (`#ff3030`).
    alert: usize,
    /// The plots of an update that waited for a failover (`#ffb030`).
    stall: usize,
}

/// Renders `atc.svg` to a PNG at `png` with resvg (proof that the picture is
/// valid SVG a renderer draws; its labels need fonts and are left out) and
/// counts the pixels of the content colours.
fn render(svg: &str, png: &Path) -> Drawn {
    use resvg::{tiny_skia, usvg};
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).expect("atc.svg parses");
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).expect("a pixmap");
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.save_png(png).expect("write the PNG");
    let near = |p: &tiny_skia::PremultipliedColorU8, (r, g, b): (u8, u8, u8)| {
        p.red().abs_diff(r) < 24 && p.green().abs_diff(g) < 24 && p.blue().abs_diff(b) < 24
    };
    let mut drawn = Drawn {
        track: 0,
        alert: 0,
        stall: 0,
    };
    for p in pixmap.pixels() {
        drawn.track += usize::from(near(p, (0x40, 0xe0, 0x70)));
        drawn.alert += usize::from(near(p, (0xff, 0x30, 0x30)));
        drawn.stall += usize::from(near(p, (0xff, 0xb0, 0x30)));
    }
    drawn
}

#[test]
fn atc_survives_a_track_database_replica_crash() {
    let clean_dir = tempfile::tempdir().expect("scratch directory");
    let crash_dir = tempfile::tempdir().expect("scratch directory");
    let lying_dir = tempfile::tempdir().expect("scratch directory");
    for dir in [&clean_dir, &crash_dir, &lying_dir] {
        // The program reads the recording relative to its working directory.
        std::os::unix::fs::symlink(root().join("examples"), dir.path().join("examples"))
            .expect("link the examples into the scratch directory");
    }

    let clean = run_atc(clean_dir.path(), &[]);
    let (clean_summary, _) = check_run("clean run", &clean, clean_dir.path());

    let crash = run_atc(crash_dir.path(), &["--crash", CRASH_AT]);
    let (crash_summary, crash_drawn) = check_run("crash run", &crash, crash_dir.path());
    assert_eq!(
        clean_summary, crash_summary,
        "the two runs' summaries differ"
    );

    // The radar's update that waited for the failover is marked in the picture.
    assert!(
        crash_drawn.stall > 0,
        "the picture of the crash run marks no update that waited\n{}",
        crash.transcript()
    );

    // The crash happened while the display was drawing: frames before and after.
    let killed = crash
        .lines
        .iter()
        .find(|l| l.stderr && l.text.starts_with("ftc run:") && l.text.ends_with(" s  killing h2"))
        .map(|l| l.at)
        .expect("ftc run reports the crash");
    let frames = crash.frames();
    assert!(
        frames.iter().any(|f| f.0 < killed) && frames.iter().filter(|f| f.0 > killed).count() >= 3,
        "the crash did not fall in the middle of the replay\n{}",
        crash.transcript()
    );

    // The byzantine track database (four replicas) with the replica on h2,
    // its first primary, answering wrongly and ordering differently for
    // different backups from the crash time on: the same summary.
    let lie = format!("{CRASH_AT}=wrong-replies,equivocate");
    let lying = run_program(
        lying_dir.path(),
        "atc_byzantine.cmsl",
        &["--byzantine", &lie],
    );
    let (lying_summary, _) = check_run("lying run", &lying, lying_dir.path());
    assert_eq!(
        clean_summary, lying_summary,
        "a lying replica changed the summary"
    );
    assert!(
        lying.lines.iter().any(|l| l.stderr
            && l.text
                .ends_with("from now on lying: h2 (wrong-replies,equivocate)")),
        "ftc run reports the lie\n{}",
        lying.transcript()
    );
}
