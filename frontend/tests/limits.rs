//! The checker on extreme inputs: deep nesting on a 2 MiB stack, big programs in linear time.

use std::time::{Duration, Instant};

/// Runs `check_source` on a thread with the test harness's default stack.
fn check_on_small_stack(source: String) -> ftc_frontend::CheckOutput {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || ftc_frontend::check_source(&source))
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic")
}

fn nested(depth: usize, open: &str, inner: &str, close: &str) -> String {
    format!("{}{}{}", open.repeat(depth), inner, close.repeat(depth))
}

#[test]
fn deep_expressions_and_statements() {
    for depth in [100, 240, 1000] {
        let parens = nested(depth, "(", "1", ")");
        let sums = nested(depth, "1 + (", "1", ")");
        let negs = nested(depth, "- ", "1", "");
        let blocks = nested(depth, "{ ", "x += 1;", " }");
        let ifs = nested(depth, "if (x > 0) ", "x = 1;", "");
        let types = format!(
            "{} l = new {};",
            nested(depth, "list<", "int", ">"),
            nested(depth, "list<", "string", ">")
        );
        for body in [
            format!("int y = {parens};"),
            format!("int y = {sums};"),
            format!("int y = {negs};"),
            blocks,
            ifs,
            types,
        ] {
            let body = body.as_str();
            let source = format!("void main () {{ int x = 0; {body} }}\n");
            let out = check_on_small_stack(source);
            // Within the parser's depth limit the program is fine; beyond it a
            // diagnostic, never a crash.
            if depth <= 100 {
                let expected_errors = body.contains("list<");
                assert_eq!(out.has_errors(), expected_errors, "{:?}", out.diagnostics);
            }
        }
    }
}

/// About `lines` lines of a realistic program: classes, a server, functions.
fn big_program(lines: usize) -> String {
    let unit = r#"
class item_N {
  public:
    attribute int id;
    attribute string name;
    relation list<int> tags;
    int weight (int k) {
      int total = 0;
      for (int i = 0; i < tags->size(); i++) { total += tags->get(i) * k; }
      if (total > 100) { return total - 100; } else { return total; }
    }
}
server class store_N {
  public:
    void put (item_N it) { items->put(it->id, it); }
    int sum () {
      int s = 0;
      list<int> ks = items->keys();
      for every i, 0 <= i < ks->size() { s += items->get(ks->get(i))->weight(2); }
      return s;
    }
  private:
    relation map<int, item_N> items;
}
int helper_N (int x, real y) {
  real z = x * y + sqrt(y);
  string s = "v=" + z;
  println(s);
  return x + len(s);
}
"#;
    let per_unit = unit.lines().count();
    let mut out = String::with_capacity(lines * 40);
    let mut n = 0;
    while n * per_unit < lines {
        out.push_str(&unit.replace("_N", &format!("_{n}")));
        n += 1;
    }
    out.push_str("void main () { store_0 s = server store_0 model crash tolerate (1); println(s->sum()); }\n");
    out
}

#[test]
fn a_big_program_is_checked_in_linear_time() {
    let small = big_program(10_000);
    let big = big_program(100_000);
    let t0 = Instant::now();
    let out = ftc_frontend::check_source(&small);
    let t_small = t0.elapsed();
    assert!(!out.has_errors(), "{:?}", out.diagnostics.first());
    let t0 = Instant::now();
    let out = ftc_frontend::check_source(&big);
    let t_big = t0.elapsed();
    assert!(!out.has_errors(), "{:?}", out.diagnostics.first());
    // Ten times the input must not take much more than ten times as long.
    assert!(
        t_big < t_small * 30 + Duration::from_secs(2),
        "small {t_small:?}, big {t_big:?}"
    );
}

/// One function with `n` locals, each initialized from the previous one.
fn many_locals(n: usize) -> String {
    let mut out = String::from("void main () {\n  int v0 = 0;\n");
    for i in 1..n {
        out.push_str(&format!("  int v{i} = v{} + 1;\n", i - 1));
    }
    out.push_str("}\n");
    out
}

#[test]
fn many_locals_in_one_block_take_linear_time() {
    let t0 = Instant::now();
    let out = ftc_frontend::check_source(&many_locals(5_000));
    let t_small = t0.elapsed();
    assert!(!out.has_errors(), "{:?}", out.diagnostics.first());
    let t0 = Instant::now();
    let out = ftc_frontend::check_source(&many_locals(50_000));
    let t_big = t0.elapsed();
    assert!(!out.has_errors(), "{:?}", out.diagnostics.first());
    assert!(
        t_big < t_small * 30 + Duration::from_secs(2),
        "small {t_small:?}, big {t_big:?}"
    );
}
