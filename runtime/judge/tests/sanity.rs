//! Sanity checks of the judge on small histories whose verdicts are obvious:
//! the JSON Lines round trip, generated sequential histories, `fail` and
//! `info` semantics, closed intervals, the budget and malformed input.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ftc_judge::{check_kv, read_jsonl, write_jsonl, HistoryError, OpStatus, Operation, Verdict};

const BUDGET: Duration = Duration::from_secs(10);

fn not_linearizable(key: &str) -> Verdict {
    Verdict::NotLinearizable {
        key: key.to_string(),
    }
}

/// A small seeded generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A sequential history of `len` operations on five keys, each result taken
/// from a reference map.
fn sequential_history(seed: u64, len: usize) -> Vec<Operation> {
    let mut rng = Rng(seed | 1);
    let mut reference: BTreeMap<String, String> = BTreeMap::new();
    let mut ops = Vec::new();
    for i in 0..len as u64 {
        let key = format!("k{}", rng.below(5));
        let client = rng.below(4);
        let (call, ret) = (10 * i, Some(10 * i + 5));
        let current = reference.get(&key).cloned();
        let op = match rng.below(4) {
            0 => Operation::get(client, &key, current.as_deref(), call, ret),
            1 => {
                let value = format!("v{i}");
                reference.insert(key.clone(), value.clone());
                Operation::put(client, &key, &value, call, ret)
            }
            2 => {
                let suffix = format!("{i};");
                reference.entry(key.clone()).or_default().push_str(&suffix);
                Operation::append(client, &key, &suffix, call, ret)
            }
            _ => match current {
                Some(from) if rng.below(2) == 0 => {
                    let to = format!("c{i}");
                    reference.insert(key.clone(), to.clone());
                    Operation::cas(client, &key, &from, &to, None, call, ret)
                }
                _ => Operation::cas(client, &key, "never", "x", Some(false), call, ret),
            },
        };
        ops.push(op);
    }
    ops
}

#[test]
fn jsonl_write_then_read_is_identity() {
    let mut ops = sequential_history(7, 200);
    ops.push(Operation::put(5, "x", "1", 2000, None));
    ops.push(Operation::get(6, "x", None, 2001, Some(2002)));
    let mut failed = Operation::append(7, "y", "z", 2003, Some(2004));
    failed.status = OpStatus::Fail;
    ops.push(failed);
    ops.push(Operation::cas(8, "x", "1", "2", None, 2005, None));
    let mut text = Vec::new();
    write_jsonl(&ops, &mut text).expect("write to memory");
    let back = read_jsonl(text.as_slice()).expect("read back");
    assert_eq!(back, ops);
}

#[test]
fn reads_the_documented_example() {
    let text = r#"{"client":0,"f":"put","key":"x","value":"1","call":0,"ret":null,"type":"info"}
{"client":1,"f":"get","key":"x","out":null,"call":10,"ret":20,"type":"ok"}
{"client":1,"f":"get","key":"x","out":"1","call":30,"ret":40,"type":"ok"}
{"client":2,"f":"cas","key":"x","from":"1","to":"2","call":50,"ret":60,"type":"ok"}
{"client":3,"f":"cas","key":"x","from":"7","to":"9","call":61,"ret":65,"type":"ok","cas_ok":false}
{"client":2,"f":"append","key":"y","value":"a;","call":70,"ret":80,"type":"ok"}
"#;
    let ops = read_jsonl(text.as_bytes()).expect("the documented example parses");
    assert_eq!(ops.len(), 6);
    assert_eq!(ops[0], Operation::put(0, "x", "1", 0, None));
    assert_eq!(ops[4].cas_ok, Some(false));
    assert_eq!(check_kv(&ops, BUDGET), Verdict::Linearizable);
    let mut written = Vec::new();
    write_jsonl(&ops, &mut written).expect("write to memory");
    assert_eq!(String::from_utf8(written).expect("utf-8"), text);
}

#[test]
fn sequential_history_from_a_reference_map_is_linearizable() {
    for seed in 1..=5 {
        let ops = sequential_history(seed, 400);
        assert_eq!(check_kv(&ops, BUDGET), Verdict::Linearizable, "seed {seed}");
    }
}

#[test]
fn changing_one_read_result_breaks_linearizability() {
    let mut ops = sequential_history(3, 400);
    let read = ops
        .iter()
        .rposition(|op| op.kind == ftc_judge::OpKind::Get && op.out.is_some())
        .expect("the history has a read of a present key");
    ops[read].out = Some("a value nobody wrote".to_string());
    let key = ops[read].key.clone();
    assert_eq!(check_kv(&ops, BUDGET), not_linearizable(&key));
}

#[test]
fn empty_history_is_linearizable() {
    assert_eq!(check_kv(&[], BUDGET), Verdict::Linearizable);
}

#[test]
fn failed_operations_are_ignored() {
    let mut put = Operation::put(0, "x", "1", 0, Some(10));
    put.status = OpStatus::Fail;
    let history = vec![put.clone(), Operation::get(1, "x", None, 20, Some(30))];
    assert_eq!(check_kv(&history, BUDGET), Verdict::Linearizable);
    put.status = OpStatus::Ok;
    let history = vec![put, Operation::get(1, "x", None, 20, Some(30))];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("x"));
}

#[test]
fn info_write_observed_by_a_later_read_is_accepted() {
    let history = vec![
        Operation::put(0, "x", "1", 0, None),
        Operation::get(1, "x", None, 10, Some(20)),
        Operation::get(1, "x", Some("1"), 30, Some(40)),
        Operation::get(2, "x", Some("1"), 50, Some(60)),
    ];
    assert_eq!(check_kv(&history, BUDGET), Verdict::Linearizable);
}

#[test]
fn info_write_may_never_take_effect() {
    let history = vec![
        Operation::put(0, "x", "1", 0, None),
        Operation::get(1, "x", None, 10, Some(20)),
        Operation::get(1, "x", None, 30, Some(40)),
    ];
    assert_eq!(check_kv(&history, BUDGET), Verdict::Linearizable);
}

#[test]
fn info_write_cannot_take_effect_before_its_call() {
    let history = vec![
        Operation::get(1, "x", Some("1"), 0, Some(5)),
        Operation::put(0, "x", "1", 10, None),
    ];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("x"));
}

#[test]
fn info_write_takes_effect_at_most_once() {
    // Once a later value is read and then the info value disappears again,
    // the info write would have to happen twice.
    let history = vec![
        Operation::put(0, "x", "1", 0, None),
        Operation::get(1, "x", Some("1"), 10, Some(20)),
        Operation::put(1, "x", "2", 30, Some(40)),
        Operation::get(1, "x", Some("1"), 50, Some(60)),
    ];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("x"));
}

#[test]
fn info_cas_applies_only_if_its_comparison_holds() {
    let history = vec![
        Operation::put(0, "x", "1", 0, Some(5)),
        Operation::cas(1, "x", "1", "2", None, 10, None),
        Operation::get(2, "x", Some("2"), 20, Some(30)),
    ];
    assert_eq!(check_kv(&history, BUDGET), Verdict::Linearizable);
    let history = vec![
        Operation::put(0, "x", "3", 0, Some(5)),
        Operation::cas(1, "x", "1", "2", None, 10, None),
        Operation::get(2, "x", Some("2"), 20, Some(30)),
    ];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("x"));
}

#[test]
fn failed_comparison_must_see_another_value() {
    let history = vec![
        Operation::put(0, "x", "1", 0, Some(5)),
        Operation::cas(1, "x", "1", "2", Some(false), 10, Some(20)),
    ];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("x"));
}

#[test]
fn intervals_are_closed() {
    // The put returns at 10, the get is called at 10: they overlap, so the
    // get may linearize first.
    let history = vec![
        Operation::put(0, "x", "1", 0, Some(10)),
        Operation::get(1, "x", None, 10, Some(20)),
    ];
    assert_eq!(check_kv(&history, BUDGET), Verdict::Linearizable);
    let history = vec![
        Operation::put(0, "x", "1", 0, Some(10)),
        Operation::get(1, "x", None, 11, Some(20)),
    ];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("x"));
}

#[test]
fn keys_are_judged_independently() {
    let history = vec![
        Operation::put(0, "a", "1", 0, Some(10)),
        Operation::get(1, "b", None, 20, Some(30)),
        Operation::get(1, "a", Some("1"), 40, Some(50)),
        Operation::get(1, "b", Some("1"), 60, Some(70)),
    ];
    assert_eq!(check_kv(&history, BUDGET), not_linearizable("b"));
}

/// Twelve concurrent appends and a read no order can explain: the search
/// has to try every order of the appends, far more than a small budget.
fn hard_history() -> Vec<Operation> {
    let mut ops: Vec<Operation> = (0..12)
        .map(|i| Operation::append(i, "x", &format!("{i};"), 0, Some(100)))
        .collect();
    ops.push(Operation::get(99, "x", Some("impossible"), 50, Some(100)));
    ops
}

#[test]
fn an_exhausted_budget_is_a_timeout_and_returns_promptly() {
    let budget = Duration::from_millis(200);
    let started = Instant::now();
    let verdict = check_kv(&hard_history(), budget);
    let took = started.elapsed();
    assert_eq!(
        verdict,
        Verdict::Timeout {
            key: "x".to_string()
        }
    );
    assert!(took < budget + Duration::from_secs(2), "took {took:?}");
}

#[test]
fn a_violation_on_one_key_wins_over_a_timeout_on_another() {
    let mut history = hard_history();
    history.push(Operation::get(1, "y", Some("1"), 0, Some(10)));
    assert_eq!(
        check_kv(&history, Duration::from_millis(100)),
        not_linearizable("y")
    );
}

fn line_of(error: HistoryError) -> usize {
    match error {
        HistoryError::Malformed { line, .. } => line,
        HistoryError::Io(e) => panic!("unexpected I/O error {e}"),
    }
}

#[test]
fn malformed_lines_are_errors_with_line_numbers() {
    let good = r#"{"client":1,"f":"get","key":"x","out":null,"call":10,"ret":20,"type":"ok"}"#;
    let cases = [
        "{",
        r#"{"client":1,"f":"read","key":"x","call":10,"ret":20,"type":"ok"}"#,
        r#"{"client":1,"f":"put","key":"x","call":10,"ret":20,"type":"ok"}"#,
        r#"{"client":1,"f":"cas","key":"x","from":"1","call":10,"ret":20,"type":"ok"}"#,
        r#"{"client":1,"f":"get","key":"x","call":10,"ret":null,"type":"ok"}"#,
        r#"{"client":1,"f":"get","key":"x","call":10,"ret":5,"type":"ok"}"#,
        r#"{"client":1,"f":"get","key":"x","call":10,"ret":20,"type":"done"}"#,
        r#"{"client":-1,"f":"get","key":"x","call":10,"ret":20,"type":"ok"}"#,
        r#"{"client":1,"f":"put","key":"x","value":"1","call":10,"ret":20,"type":"ok","cas_ok":true}"#,
    ];
    for case in cases {
        let text = format!("{good}\n\n{case}\n{good}\n");
        let error = read_jsonl(text.as_bytes()).expect_err(case);
        assert_eq!(line_of(error), 3, "{case}");
    }
}

#[test]
fn operations_that_break_the_format_rules_do_not_panic_the_checker() {
    let mut ok_without_ret = Operation::get(0, "x", Some("1"), 0, Some(1));
    ok_without_ret.ret = None;
    let mut ret_before_call = Operation::put(1, "x", "1", 50, Some(10));
    ret_before_call.status = OpStatus::Ok;
    let mut put_without_value = Operation::put(2, "x", "1", 0, Some(5));
    put_without_value.value = None;
    let mut cas_without_arguments = Operation::cas(3, "x", "1", "2", None, 0, Some(5));
    cas_without_arguments.from = None;
    cas_without_arguments.to = None;
    let mut get_with_cas_ok = Operation::get(4, "x", None, 0, Some(5));
    get_with_cas_ok.cas_ok = Some(false);
    let history = vec![
        ok_without_ret,
        ret_before_call,
        put_without_value,
        cas_without_arguments,
        get_with_cas_ok,
        Operation::get(5, "", None, u64::MAX, Some(u64::MAX)),
    ];
    for op in &history[..5] {
        assert!(op.validate().is_err(), "{op:?}");
    }
    let verdict = check_kv(&history, BUDGET);
    assert_ne!(
        verdict,
        Verdict::Timeout {
            key: "x".to_string()
        }
    );
}
