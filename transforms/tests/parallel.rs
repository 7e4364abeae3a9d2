//! The call-parallelizing optimization's analysis (`ftc_transforms::parallel`):
//! which runs of consecutive calls it makes parallel, and every reason it
//! keeps calls sequential, each on a line of its own.

use ftc_transforms::lower;

const PROGRAM: &str = r#"
server class account {
  public:
    int balance () { return total; }
    int scaled (int by, real f) { int x = total * by; if (x < 0) { raise "negative"; } return x; }
    string name () { string s = "acct"; return s + to_string(len(hist)); }
    int deposit (int n) { total += n; return total; }
    int noisy () { println("peek"); return total; }
    int helper () { return twice(); }
    int overridden () { return total; }
  private:
    attribute int total;
    attribute list<int> hist;
    int twice () { return total * 2; }
}
server class audited : account {
  public:
    int overridden () { total += 1; return total; }
}
void main () {
  account a = server account model crash tolerate (1);
  account b = server account model crash tolerate (1);
  int k = 2;
  int x = a->balance();
  int y = b->balance();
  string n = b->name();
  int z = a->scaled(k, 1.5);
  x = a->deposit(1);
  int p = a->balance();
  int q = b->scaled(p, 2.0);
  int r = a->noisy();
  int s = b->balance();
  int t = a->helper();
  int u = b->balance();
  int v = a->overridden();
  int w = b->balance();
  int m = a->scaled(k + 1, 1.0);
  int o = b->balance();
  {
    int i = a->balance();
    i = b->balance();
  }
}
"#;

/// The line of each statement of each run.
fn runs(source: &str) -> Vec<Vec<usize>> {
    let out = ftc_frontend::check_source(source);
    let program = out.program.expect("checks");
    let ir = lower(&program).expect("lowers");
    let line = |offset: u32| 1 + source[..offset as usize].matches('\n').count();
    ir.parallel
        .runs
        .iter()
        .map(|r| r.stmts.iter().map(|s| line(s.start)).collect())
        .collect()
}

#[test]
fn independent_queries_run_in_parallel_and_everything_else_stays_sequential() {
    let line = |text: &str| {
        1 + PROGRAM[..PROGRAM.find(text).expect("in the program")]
            .matches('\n')
            .count()
    };
    assert_eq!(
        runs(PROGRAM),
        vec![
            // Queries (locals, raise, pure built-ins, reading a list's size).
            vec![
                line("int x = a->balance();"),
                line("int y = b->balance();"),
                line("string n = b->name();"),
                line("int z = a->scaled(k, 1.5);"),
            ],
            // `deposit` changes state: not a query, and it ends the run. `q`
            // reads `p`, which the run assigns: it starts a new run, alone.
            // `noisy` prints, `helper` calls a method, `overridden` changes
            // state in a subclass, `k + 1` is not a variable or a literal:
            // none of them joins a run, so no two queries are adjacent.
            // A nested block has runs of its own, assignments included.
            vec![line("int i = a->balance();"), line("i = b->balance();"),],
        ]
    );
}

#[test]
fn a_dependent_call_starts_a_new_run() {
    let source = r#"
server class s {
  public:
    int get (int k) { return k + v; }
  private:
    attribute int v;
}
void main () {
  s a = server s;
  s b = server s;
  int one = a->get(1);
  int two = b->get(2);
  int three = a->get(two);
  int four = b->get(4);
}
"#;
    assert_eq!(runs(source), vec![vec![11, 12], vec![13, 14]]);
}
