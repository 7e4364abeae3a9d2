//! Code generation snapshots: each `tests/snapshots/*.snap` holds a CMSL
//! program and, after a separator line, the Rust generated for it.
//! `UPDATE_EXPECT=1` regenerates the Rust part. (That generated code
//! compiles and runs is tested end to end by the ftc crate's `tests/run.rs`.)

use ftc_testkit::{fixtures, Block, Snapshots};
use std::path::Path;

const SEPARATOR: &str = "// ==== generated src/main.rs ====\n";
const GENERATED: Block = Block::rest(SEPARATOR);

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
    let mut snapshots = Snapshots::new();
    for path in fixtures(&dir, "snap") {
        let text = std::fs::read(&path).expect("read snapshot");
        let (source, _) = GENERATED.split(&text);
        let source = std::str::from_utf8(source).expect("UTF-8 snapshot");
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("snap");
        snapshots.block(&path, GENERATED, &generate(source, name));
    }
    snapshots.finish();
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
