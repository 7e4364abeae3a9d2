//! Front-end benchmark: times lexing, parsing, `check_source` and emitting Rust
//! (check, lower, generate and format: `ftc emit` without the file writes) on
//! a generated 100,000-line program.
//!
//! Run with `cargo run --release -p ftc-codegen --bin frontend-bench [LINES]
//! [--write FILE]` (`--write` also saves the generated CMSL program).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

const DEFAULT_LINES: usize = 100_000;
const REPETITIONS: usize = 5;

/// A realistic CMSL program of about `lines` lines: classes, server classes
/// with contracts, methods with loops, conditionals and calls, and a `main`
/// that starts servers and calls them.
fn generate(lines: usize) -> String {
    let mut out = String::with_capacity(lines * 40);
    let mut unit = 0;
    let mut written = 0;
    while written + 2 * unit.min(20) + 2 < lines {
        let before = out.len();
        write_unit(&mut out, unit);
        written += out.get(before..).map_or(0, |s| s.lines().count());
        unit += 1;
    }
    out.push_str("void main () {\n");
    for i in 0..unit.min(20) {
        let _ = writeln!(
            out,
            "    store{i} s{i} = server store{i} model crash tolerate (1);"
        );
        let _ = writeln!(
            out,
            "    println (s{i}->total (), \" \", mean{i} (new real[3], 3));"
        );
    }
    out.push_str("}\n");
    out
}

fn write_unit(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r#"// Unit {i}: a point class and a replicated store.
class point{i} {{
  public:
    attribute real x = 0.0;
    attribute real y = {i}.5;
    real dist (point{i} other) {{
        real dx = x - other->x;
        real dy = y - other->y;
        return sqrt (dx * dx + dy * dy);
    }}
    void move (real by) requires by >= 0.0; {{
        x += by;
        y -= by / 2.0;
    }}
}}

server class store{i} {{
  public:
    attribute int count;
    relation map<int, string> items;
    void put (int key, string value)
      requires key >= 0;
    int total () {{
        int sum = 0;
        for (int k = 0; k < count; k++) {{
            if (items->has (k)) {{
                sum = sum + len (items->get (k));
            }} else if (k % 2 == 0) {{
                sum += 1;
            }} else {{
                continue;
            }}
        }}
        return sum;
    }}
  private:
    invariant count >= 0;
}}

void store{i}::put (int key, string value) {{
    items->put (key, value);
    count++;
    int tries = 0;
    while (tries < 3 && !items->has (key)) {{
        tries = tries + 1;
    }}
}}

real mean{i} (real xs[], int n) {{
    real total = 0.0;
    for every j, 0 <= j < n {{ total += xs[j]; }}
    if (n == 0) {{ return 0.0; }}
    return total / n;
}}

"#
    );
}

fn time<F: FnMut()>(mut f: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..REPETITIONS {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
    }
    best
}

fn report(what: &str, lines: usize, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{what:<22} {:>9.2} ms  {:>12.0} lines/s  {:>8.1} MB/s",
        secs * 1e3,
        lines as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines_wanted = args
        .iter()
        .find_map(|s| s.parse().ok())
        .unwrap_or(DEFAULT_LINES);
    let source = generate(lines_wanted);
    if let Some(path) = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
    {
        if let Err(e) = std::fs::write(path, &source) {
            eprintln!("cannot write `{path}`: {e}");
            std::process::exit(2);
        }
    }
    let lines = source.lines().count();
    let bytes = source.len();
    let parsed = ftc_grammar::parse(&source);
    assert!(
        parsed.errors.is_empty(),
        "the generated program has syntax errors: {:?}",
        parsed.errors.first()
    );
    println!(
        "{lines} lines, {:.1} MB, {} items; best of {REPETITIONS} runs",
        bytes as f64 / 1e6,
        parsed.program.items.len()
    );
    drop(parsed);

    let lex = time(|| {
        let mut lexer = ftc_grammar::lexer::Lexer::new(&source);
        let count = lexer.by_ref().count();
        std::hint::black_box((count, lexer.errors.len()));
    });
    report("lex", lines, bytes, lex);
    let parse = time(|| {
        std::hint::black_box(ftc_grammar::parse(&source));
    });
    report("lex + parse", lines, bytes, parse);
    let mut trees = Vec::with_capacity(REPETITIONS);
    let build = time(|| trees.push(ftc_grammar::parse(&source)));
    drop(trees);
    report("  (without drop)", lines, bytes, build);
    let check = time(|| {
        std::hint::black_box(ftc_frontend::check_source(&source).has_errors());
    });
    report("check_source (all)", lines, bytes, check);
    let options = ftc_codegen::Options {
        file_name: "bench.cmsl".into(),
        package: "bench".into(),
        runtime_dir: ftc_codegen::DEFAULT_RUNTIME_DIR.into(),
    };
    let mut rust_lines = 0;
    let emit = time(|| {
        let checked = ftc_frontend::check_source(&source);
        let program = checked.program.expect("the generated program checks");
        let ir = ftc_transforms::lower(&program).expect("the generated program lowers");
        let generated = ftc_codegen::generate(&program, &ir, &source, &options)
            .expect("the generated program generates");
        rust_lines = generated.main_rs.lines().count();
        std::hint::black_box(generated);
    });
    report("emit (check + Rust)", lines, bytes, emit);
    println!("({rust_lines} lines of Rust)");
}
