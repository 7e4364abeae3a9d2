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

/// `runtime/examples/golden.rs`, the reference the contract and the runtime's
/// tests use, is the Rust generated for `snapshots/golden.snap`'s program
/// under a header quoting that program: it cannot drift from code generation.
#[test]
fn the_golden_example_is_the_generated_code() {
    let snap = include_str!("snapshots/golden.snap");
    let source = &snap[..snap.find(SEPARATOR).expect("golden.snap has its separator")];
    let mut expected = String::from(
        "//! The reference for code generation: the Rust `ftc` emits for `golden.cmsl`\n\
         //! (below), as generated. `cargo test -p ftc-codegen --test snapshots` fails\n\
         //! when it differs from what code generation emits; `UPDATE_EXPECT=1`\n\
         //! rewrites it. `docs/codegen-contract.md` explains its shape.\n\
         //!\n\
         //! ```text\n",
    );
    for (i, line) in source.lines().enumerate() {
        let quoted = format!("//! {:>2}  {line}", i + 1);
        expected.push_str(quoted.trim_end());
        expected.push('\n');
    }
    expected.push_str(
        "//! ```\n\
         //!\n\
         //! Run it in one process with `golden --local 4`, or on a cluster file listing\n\
         //! h1..h4: `golden --kernel --host hN --cluster cluster.toml` for h2, h3 and h4,\n\
         //! then `golden --host h1 --cluster cluster.toml`, which runs `main` and exits\n\
         //! with its code.\n\n",
    );
    expected.push_str(&generate(source, "golden"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/examples/golden.rs");
    let mut snapshots = Snapshots::new();
    if snapshots.updating() {
        snapshots.file(&path, &expected);
    } else {
        // `cargo fmt` formats the example with rustfmt, the generator with
        // prettyplease: the two must hold the same tokens and the same
        // comments (the header and every `// line N:`), however laid out.
        let actual = std::fs::read_to_string(&path).expect("read golden.rs");
        if layout_free(&actual) != layout_free(&expected) {
            snapshots.fail(format!(
                "{} is not the generated code:\n{}",
                path.display(),
                ftc_testkit::diff(&expected, &actual)
            ));
        }
    }
    snapshots.finish();
}

/// A Rust file as prettyplease prints its syntax tree, and its comment
/// lines: the code and the comments without the layout (rustfmt also adds
/// and drops trailing commas).
fn layout_free(text: &str) -> (String, Vec<String>) {
    let file = syn::parse_file(text).expect("golden.rs parses");
    let comments = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("//"))
        .map(String::from)
        .collect();
    (prettyplease::unparse(&file), comments)
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
