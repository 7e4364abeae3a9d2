//! End-to-end tests of the `ftc` binary: exit codes, output formats, bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ftc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftc"))
        .args(args)
        .output()
        .expect("the ftc binary runs")
}

/// Writes `contents` to a fresh file under the test temp dir.
fn file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const OK: &str = "void main () { println(\"hello\"); }\n";
const BAD: &str = "void main () { int x = \"five\"; y = 2; }\n";

#[test]
fn clean_program_exits_0() {
    let p = file("ok.cmsl", OK.as_bytes());
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn errors_exit_1_with_summary() {
    let p = file("bad.cmsl", BAD.as_bytes());
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("error["), "{err}");
    assert!(err.contains("could not check"), "{err}");
    assert!(
        !err.contains("\x1b["),
        "no colour when not a terminal: {err}"
    );
}

#[test]
fn warnings_alone_exit_0() {
    let p = file(
        "warn.cmsl",
        b"server class s { }\nvoid main () { s a = server s model crash tolerate (1) replicas (1); }\n",
    );
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("warning[W0001]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("generated 1 warning"), "{}", stderr(&o));
    let o = ftc(&["check", "--message-format", "json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).expect("utf-8");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one json line");
    assert_eq!(v["severity"], "warning");
    assert_eq!(v["code"], "W0001");
}

#[test]
fn missing_file_and_directory_exit_2() {
    let o = ftc(&["check", "/definitely/not/here.cmsl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"));
    let o = ftc(&["check", env!("CARGO_TARGET_TMPDIR")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a directory"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ftc(&["check"]).status.code(), Some(2));
    assert_eq!(ftc(&["frobnicate"]).status.code(), Some(2));
    let p = file("fmt.cmsl", OK.as_bytes());
    let o = ftc(&["check", "--message-format", "xml", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_fault_flags_exit_2_before_building() {
    let p = file("faults.cmsl", OK.as_bytes());
    let p = p.to_str().unwrap();
    for (flag, value, says) in [
        ("--byzantine", "h2@1=lol", "`lol` is not a behaviour"),
        (
            "--byzantine",
            "h2@1=silent,silent",
            "`silent` is given twice",
        ),
        ("--byzantine", "h2", "expected HOST@SECONDS[=BEHAVIOURS]"),
        ("--crash", "h2@soon", "is not a number of seconds"),
        ("--pause", "h2@1", "expected HOST@SECONDS+SECONDS"),
    ] {
        let o = ftc(&["run", p, flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{flag} {value}: {}", stderr(&o));
    }
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let p = file("latin1.cmsl", b"void main () {\n  // caf\xe9\n}\n");
    let o = ftc(&["check", "--message-format", "json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).expect("json is utf-8");
    let v: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("one line")).expect("valid json");
    assert_eq!(v["code"], "E0005");
    assert_eq!(v["line"], 2);
    assert_eq!(v["column"], 9);
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let p = file("bom.cmsl", b"\xef\xbb\xbfvoid main () { }\n");
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn binary_garbage_never_panics() {
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let p = file("garbage.bin", &bytes);
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn a_50_mb_file_is_a_diagnostic_not_a_hang() {
    let mut big = vec![b'x'; 50_000_000];
    big.extend_from_slice(b"\n/* unterminated");
    let p = file("big.cmsl", &big);
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.len() < 10_000, "a long line is not quoted whole");
    assert!(err.contains("error["), "{err}");
}

#[test]
fn json_has_one_object_per_diagnostic() {
    let p = file("json.cmsl", BAD.as_bytes());
    let o = ftc(&["check", "--message-format", "json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).expect("utf-8");
    let lines: Vec<&str> = out.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid json");
        for key in [
            "code", "severity", "message", "file", "line", "column", "labels", "notes", "help",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {line}");
        }
        assert!(v["file"].as_str().unwrap().ends_with("json.cmsl"));
        let labels = v["labels"].as_array().expect("labels array");
        assert!(labels.iter().any(|l| l["primary"] == true));
        for l in labels {
            for key in [
                "line",
                "column",
                "end_line",
                "end_column",
                "message",
                "primary",
            ] {
                assert!(l.get(key).is_some(), "missing label {key} in {line}");
            }
        }
    }
}

#[test]
fn several_files_worst_status_wins() {
    let ok = file("multi-ok.cmsl", OK.as_bytes());
    let bad = file("multi-bad.cmsl", BAD.as_bytes());
    let o = ftc(&["check", ok.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = ftc(&["check", ok.to_str().unwrap(), "/no/such/file.cmsl"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn explain_prints_the_long_text() {
    let o = ftc(&["explain", "E0302"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("E0302: "), "{out}");
    assert!(out.contains("Erroneous example"));
    let o = ftc(&["explain", "w0001"]);
    assert_eq!(o.status.code(), Some(0));
    let o = ftc(&["explain", "E9999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a diagnostic code"));
}

/// What code generation cannot handle yet is refused by `check` itself, with
/// a code, the place and a hint: a program `check` calls clean also builds.
#[test]
fn check_refuses_what_code_generation_does_not_support() {
    let cases: [(&str, &str, &str); 1] = [
        (
            "E0403",
            "server class worker { public: int one () { return 1; } }\n\
             server class boss {\n  public:\n    int go () { return w->one (); }\n  invariant w != server worker;\n  private:\n    attribute worker w;\n}\n\
             void main () { boss b = server boss; println (b->go ()); }\n",
            ":5:18",
        ),
    ];
    for (code, source, place) in cases {
        let p = file(&format!("unsupported-{code}.cmsl"), source.as_bytes());
        let o = ftc(&["check", p.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{code}: {err}");
        assert!(err.contains(&format!("error[{code}]")), "{code}: {err}");
        assert!(err.contains(place), "{code}: {err}");
        assert!(err.contains("= help: "), "{code}: {err}");
        let explained = ftc(&["explain", code]);
        assert_eq!(explained.status.code(), Some(0), "{code}");
    }
    // Retired: inheritance, a server's `this` (in a method, in a state
    // initializer) and a server (byzantine too) starting servers in a method
    // now build.
    let p = file(
        "supported-now.cmsl",
        b"class a { public: attribute int x; }\nclass b : a { }\n\
          server class node { public: attribute node self_ = this; node me () { return this; } }\n\
          server class boss { public: node go () { return server node model crash tolerate (1); } }\n\
          void main () { b v = new b; node n = server node; boss x = server boss model byzantine tolerate (1); }\n",
    );
    let o = ftc(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let explained = ftc(&["explain", "E0401"]);
    assert_eq!(explained.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&explained.stdout).contains("retired"));
}

#[test]
fn keygen_writes_a_private_key_and_prints_a_cluster_file_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = String::from("[hosts]\n");
    for n in 0..2 {
        let key = dir.path().join(format!("h{n}.key"));
        let address = format!("127.0.0.1:{}", 7100 + n);
        let out = ftc(&[
            "keygen",
            &format!("h{n}"),
            "--out",
            key.to_str().expect("utf-8 path"),
            "--address",
            &address,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        cluster.push_str(&String::from_utf8_lossy(&out.stdout));
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // Never over an existing key.
        let again = ftc(&[
            "keygen",
            &format!("h{n}"),
            "--out",
            key.to_str().expect("utf-8"),
        ]);
        assert_eq!(again.status.code(), Some(2));
    }
    let config = ftc_runtime::cluster::ClusterConfig::parse(&cluster).expect("the lines parse");
    let h1 = ftc_runtime::types::HostId(1);
    config
        .load_host_key(h1, &dir.path().join("h1.key"))
        .expect("the key file matches its line");
    // A bare public key without --address.
    let out = ftc(&[
        "keygen",
        "h5",
        "--out",
        dir.path().join("h5.key").to_str().expect("utf-8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim()
            .parse::<ftc_runtime::identity::PublicKey>()
            .is_ok(),
        "{text}"
    );
    assert_eq!(ftc(&["keygen", "node5"]).status.code(), Some(2));
}

#[test]
fn the_deployment_guide_shows_no_key_the_loader_accepts() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deployment.md"))
        .expect("the guide");
    let mut blocks = 0;
    for block in guide.split("```toml").skip(1) {
        let toml = block.split("```").next().expect("a closed block");
        blocks += 1;
        let err = ftc_runtime::cluster::ClusterConfig::parse(toml).expect_err("a placeholder key");
        assert!(err.to_string().contains("public_key"), "{err}");
    }
    assert!(blocks >= 1);
}
