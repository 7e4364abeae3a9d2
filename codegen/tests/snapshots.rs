//! Code generation snapshots: each `tests/snapshots/*.snap` holds a CMSL
//! program and, after a separator line, the Rust generated for it.
//! `UPDATE_EXPECT=1` regenerates the Rust part. (That generated code
//! compiles and runs is tested end to end by the ftc crate's `tests/run.rs`.)

use std::path::Path;

const SEPARATOR: &str = "// ==== generated src/main.rs ====\n";

fn generate(source: &str, name: &str) -> String {
    let out = ftc_frontend::check_source(source);
    let program = out.program.expect("snapshot programs check without errors");
    let ir = ftc_transforms::lower(&program).expect("snapshot programs are supported");
    let options = ftc_codegen::Options {
        file_name: format!("{name}.cmsl"),
        package: ftc_codegen::package_name(name),
        runtime_dir: "/ftc/runtime".into(),
    };
    ftc_codegen::generate(&program, &ir, source, &options)
        .expect("generated code parses")
        .main_rs
}

#[test]
fn snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("snapshot directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no snapshots found");
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read snapshot");
        let (source, expected) = match text.find(SEPARATOR) {
            Some(i) => (&text[..i], Some(&text[i + SEPARATOR.len()..])),
            None => (text.as_str(), None),
        };
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("snap");
        let actual = generate(source, name);
        if update {
            std::fs::write(&path, format!("{source}{SEPARATOR}{actual}")).expect("write");
        } else if expected != Some(actual.as_str()) {
            failures.push(format!("{}:\n{actual}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "snapshots differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn never_panics_on_fixture_programs_with_edits() {
    // Every prefix-truncated variant of a program either fails to check or
    // generates code: the generator never panics on a checked program.
    let source = include_str!("snapshots/golden.snap");
    let source = &source[..source.find(SEPARATOR).unwrap_or(source.len())];
    for cut in (0..source.len()).step_by(97) {
        let mut text = source[..cut].to_string();
        text.push_str("\nvoid main () { }\n");
        let out = ftc_frontend::check_source(&text);
        if let Some(program) = out.program {
            if let Ok(ir) = ftc_transforms::lower(&program) {
                let options = ftc_codegen::Options {
                    file_name: "t.cmsl".into(),
                    package: "t".into(),
                    runtime_dir: "/r".into(),
                };
                let _ = ftc_codegen::generate(&program, &ir, &text, &options);
            }
        }
    }
}

#[test]
fn generates_or_refuses_every_fixture_program() {
    // Every checked program of the repository's fixtures lowers and generates
    // (or is refused by the lowering with a message); nothing panics.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dirs = [
        "tests/run",
        "frontend/tests/data/ok",
        "frontend/tests/data/err",
        "grammar/tests/data/ok",
    ];
    let mut generated = 0;
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(d)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "cmsl") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let out = ftc_frontend::check_source(&text);
            let Some(program) = out.program else { continue };
            let Ok(ir) = ftc_transforms::lower(&program) else {
                continue;
            };
            let options = ftc_codegen::Options {
                file_name: "t.cmsl".into(),
                package: "t".into(),
                runtime_dir: "/r".into(),
            };
            ftc_codegen::generate(&program, &ir, &text, &options)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            generated += 1;
        }
    }
    assert!(generated >= 20, "only {generated} programs generated");
}
