//! The pipeline commands' contracts: `emit` refuses programs with errors,
//! writes a Cargo project otherwise; `run` reports an uncaught exception with
//! its CMSL location on stderr and exit code 1; unsupported constructs are
//! diagnostics, not crashes; `--release` builds check the program first.

use std::path::Path;
use std::process::Command;

fn ftc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
}

#[test]
fn emit_refuses_a_program_with_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("bad.cmsl");
    std::fs::write(&src, "void main () { int x = \"text\"; }\n").expect("write");
    let out = ftc()
        .args(["emit"])
        .arg(&src)
        .arg("-o")
        .arg(dir.path().join("out"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run ftc");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error"), "{err}");
    assert!(!dir.path().join("out/Cargo.toml").exists());
}

#[test]
fn emit_writes_a_cargo_project() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/counter.cmsl");
    let out_dir = dir.path().join("out");
    let out = ftc()
        .arg("emit")
        .arg(&src)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .expect("run ftc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = std::fs::read_to_string(out_dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(toml.contains("ftc-runtime = { path = "), "{toml}");
    assert!(toml.contains("[workspace]"), "{toml}");
    let main = std::fs::read_to_string(out_dir.join("src/main.rs")).expect("main.rs");
    assert!(main.contains("impl ServerClass for Counter"), "{main}");
    assert!(main.contains("// line 12: sum += by;"), "{main}");
}

#[test]
fn uncaught_exception_is_reported_with_its_location() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/uncaught.cmsl");
    let out = ftc().arg("run").arg(&src).output().expect("run ftc");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: program_error: giving up"), "{err}");
    assert!(err.contains("--> uncaught.cmsl:4"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\n");
}

/// Writes `source` to `file` in a temporary directory, runs `ftc emit` on it,
/// asserts that it is refused with exit code 1, and returns what it printed.
fn emit_refusal(file: &str, source: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join(file);
    std::fs::write(&src, source).expect("write");
    let out = ftc()
        .arg("emit")
        .arg(&src)
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .expect("run ftc");
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_server_starting_a_server_as_it_is_constructed_is_refused_at_compile_time() {
    let err = emit_refusal(
        "starter.cmsl",
        "server class worker { public: int one () { return 1; } }\n\
         server class boss {\n  public:\n    int go () { return w->one (); }\n  private:\n    attribute worker w = server worker;\n}\n\
         void main () { boss b = server boss model byzantine tolerate (1); println (b->go ()); }\n",
    );
    assert!(
        err.contains("state initializers and invariants cannot start servers"),
        "{err}"
    );
    assert!(err.contains("starter.cmsl:6"), "{err}");
}

#[test]
fn run_refuses_to_crash_the_host_of_main() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/exit_code.cmsl");
    for flags in [
        ["--crash", "h1@0.5"],
        ["--crash", "h2"],
        ["--pause", "h3@1"],
    ] {
        let out = ftc()
            .arg("run")
            .arg(&src)
            .args(flags)
            .output()
            .expect("run ftc");
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn run_on_the_hosts_of_a_cluster_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports: Vec<u16> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    // As a user sets up real machines: `ftc keygen` per host, its lines make
    // the cluster file, the key files sit beside it.
    let mut toml = String::from("[hosts]\n");
    for (i, p) in ports.iter().enumerate() {
        let host = format!("h{}", i + 1);
        let key = dir.path().join(format!("{host}.key"));
        let made = ftc()
            .args([
                "keygen",
                &host,
                "--address",
                &format!("127.0.0.1:{p}"),
                "--out",
            ])
            .arg(&key)
            .output()
            .expect("run ftc keygen");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        toml.push_str(&String::from_utf8_lossy(&made.stdout));
    }
    let file = dir.path().join("cluster.toml");
    std::fs::write(&file, toml).expect("write cluster file");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/counter.cmsl");
    let out = ftc()
        .arg("run")
        .arg(&src)
        .arg("--cluster")
        .arg(&file)
        .output()
        .expect("run ftc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "total: 15\n");
    // Without h2's private key its kernel refuses to start, and says why.
    std::fs::remove_file(dir.path().join("h2.key")).expect("remove h2.key");
    let out = ftc()
        .arg("run")
        .arg(&src)
        .arg("--cluster")
        .arg(&file)
        .output()
        .expect("run ftc");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("h2 did not start"), "{err}");
    assert!(
        err.contains("h2.key"),
        "the reason names the key file: {err}"
    );
}

#[test]
fn release_builds_refuse_a_program_with_errors_before_building() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("bad.cmsl");
    std::fs::write(&src, "void main () { int x = \"text\"; }\n").expect("write");
    for command in ["build", "run"] {
        let out = ftc()
            .args([command, "--release"])
            .arg(&src)
            .env("NO_COLOR", "1")
            .output()
            .expect("run ftc");
        assert_eq!(out.status.code(), Some(1), "ftc {command} --release");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error"), "{err}");
    }
}

#[test]
fn a_new_project_checks_and_runs_through_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let made = ftc()
        .args(["new", "bank"])
        .current_dir(dir.path())
        .output()
        .expect("run ftc new");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let project = dir.path().join("bank");
    for file in ["bank.cmsl", "README.md", "expected.txt", "test.sh"] {
        let text = std::fs::read_to_string(project.join(file)).expect(file);
        assert!(!text.contains("NAME"), "{file} still says NAME");
    }
    // Not over an existing directory, and only with a usable name.
    for args in [["new", "bank"], ["new", "Bad-Name"]] {
        let again = ftc()
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run");
        assert_eq!(again.status.code(), Some(2), "{args:?}");
    }
    let out = ftc()
        .arg("run")
        .arg(project.join("bank.cmsl"))
        .args(["--crash", "h2@0.5"])
        .output()
        .expect("run ftc run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let expected = std::fs::read_to_string(project.join("expected.txt")).expect("expected");
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{stderr}");
    assert!(stderr.contains("killing h2"), "{stderr}");
}

/// `ftc run FILE --hosts 3 --data-dir DIR`.
fn run_on_data_dir(src: &Path, data: &Path) -> std::process::Output {
    ftc()
        .arg("run")
        .arg(src)
        .args(["--hosts", "3", "--data-dir"])
        .arg(data)
        .output()
        .expect("run ftc")
}

/// `ftc run --data-dir DIR` twice: every host keeps its stable storage and
/// incarnation file in `DIR/hN`, and the second run's kernels, later
/// incarnations restored from it, form the cluster again and serve.
#[test]
fn a_second_run_on_a_data_directory_resumes_the_first_runs_cluster() {
    let data = tempfile::tempdir().expect("temp dir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/counter.cmsl");
    let mut incarnations = Vec::new();
    for run in 1..=2 {
        let out = run_on_data_dir(&src, data.path());
        assert!(
            out.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "total: 15\n");
        let mut of_run = Vec::new();
        for host in 1..=3 {
            let dir = data.path().join(format!("h{host}"));
            let logs = std::fs::read_dir(dir.join("view-service"))
                .expect("the view service's directory")
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("log-"))
                .count();
            assert!(logs > 0, "run {run}: h{host} keeps a view-service log");
            let text = std::fs::read_to_string(dir.join("host.incarnation"))
                .expect("the incarnation file lives in the data directory");
            of_run.push(text.trim().parse::<u64>().expect("a number"));
        }
        incarnations.push(of_run);
    }
    assert_eq!(
        incarnations[0],
        vec![1, 1, 1],
        "the first run is a first boot"
    );
    assert!(
        incarnations[1].iter().all(|&i| i > 1),
        "the second run's hosts are later incarnations: {incarnations:?}"
    );
}

/// A durable server outlives its run: the second `ftc run` on the same
/// data directories starts the same name and finds the first run's state
/// (every kernel was stopped in between: a whole-cluster stop).
#[test]
fn a_durable_server_outlives_its_run() {
    let data = tempfile::tempdir().expect("temp dir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/durable_tally.cmsl");
    for (run, expected) in [(1, "tally: 5\n"), (2, "tally: 10\n")] {
        let out = run_on_data_dir(&src, data.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "run {run}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "run {run}: {stderr}"
        );
    }
    let durable_dirs = (1..=3)
        .filter_map(|h| std::fs::read_dir(data.path().join(format!("h{h}"))).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("group-"))
        .count();
    assert!(
        durable_dirs >= 2,
        "the server's two replicas keep their state on disk"
    );
}

/// The call-parallelizing optimization changes nothing a program shows:
/// `tests/run/parallel_calls.cmsl` prints the same with and without it
/// (`-O0`), `--report-optimizations` names its runs, and `-O0` turns them
/// off in the emitted code.
#[test]
fn parallel_calls_show_exactly_what_sequential_ones_do() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/parallel_calls.cmsl");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut emitted = Vec::new();
    for level in ["-O1", "-O0"] {
        let out = ftc()
            .arg("emit")
            .arg(&src)
            .arg("-o")
            .arg(dir.path().join(level))
            .args([level, "--report-optimizations"])
            .output()
            .expect("emit");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let notes = String::from_utf8_lossy(&out.stderr).to_string();
        let code =
            std::fs::read_to_string(dir.path().join(level).join("src/main.rs")).expect("main.rs");
        emitted.push((notes, code));
    }
    let (notes, code) = &emitted[0];
    assert!(
        notes.contains("parallel_calls.cmsl:26: note: 3 calls on servers are made in parallel (lines 26, 27, 28)"),
        "{notes}"
    );
    assert!(
        code.contains(".client().invoke_"),
        "the optimized program invokes"
    );
    let (notes, code) = &emitted[1];
    assert!(notes.is_empty(), "-O0 makes nothing parallel: {notes}");
    assert!(
        !code.contains(".client().invoke_"),
        "-O0 calls one after another"
    );
    let mut outputs = Vec::new();
    for level in ["-O1", "-O0"] {
        let out = ftc()
            .arg("run")
            .arg(&src)
            .arg(level)
            .output()
            .expect("run ftc");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{level}: {stderr}");
        outputs.push(String::from_utf8_lossy(&out.stdout).to_string());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(
        outputs[0],
        "5 7 owner of 7\nraised: over 1\nthen: program_error\n"
    );
}
