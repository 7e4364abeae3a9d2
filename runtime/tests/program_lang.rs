//! The CMSL value model as generated code sees it: checked arithmetic, null and
//! index errors, printing, deep copies and cycle detection.

use ftc_runtime::lang::builtins::{parse_int, parse_real, split, trim};
use ftc_runtime::lang::{
    deep_copy, encode, int, len, show, show_all, Array, Failure, FailureKind, Host, List, Map, Obj,
    Printer, Res, Show,
};
use ftc_runtime::program::{Future, Server};
use ftc_runtime::types::{GroupId, HostId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Node {
    label: String,
    weight: f64,
    next: Obj<Node>,
    tags: List<String>,
}

impl Show for Node {
    fn show(&self, p: &mut Printer) {
        p.object(
            "node",
            &[
                ("label", &self.label),
                ("weight", &self.weight),
                ("next", &self.next),
                ("tags", &self.tags),
            ],
        );
    }
}

fn node(label: &str) -> Obj<Node> {
    Obj::new(Node {
        label: label.to_string(),
        ..Node::default()
    })
}

fn kind<T>(r: Res<T>) -> Option<FailureKind> {
    r.err().map(|f| f.kind)
}

#[test]
fn int_arithmetic_raises_instead_of_wrapping() {
    assert_eq!(int::add(i64::MAX - 1, 1), Ok(i64::MAX));
    assert_eq!(kind(int::add(i64::MAX, 1)), Some(FailureKind::ProgramError));
    assert_eq!(kind(int::sub(i64::MIN, 1)), Some(FailureKind::ProgramError));
    assert_eq!(
        kind(int::mul(i64::MIN, -1)),
        Some(FailureKind::ProgramError)
    );
    assert_eq!(
        kind(int::div(i64::MIN, -1)),
        Some(FailureKind::ProgramError)
    );
    assert_eq!(kind(int::neg(i64::MIN)), Some(FailureKind::ProgramError));
    assert_eq!(int::div(7, 0).unwrap_err().message, "division by zero");
    assert_eq!(int::rem(7, 0).unwrap_err().message, "remainder by zero");
    assert_eq!((int::div(-7, 2), int::rem(-7, 2)), (Ok(-3), Ok(-1)));
    assert_eq!(
        int::add(i64::MAX, 1).unwrap_err().message,
        "integer overflow in 9223372036854775807 + 1"
    );
}

#[test]
fn null_and_index_errors_are_program_errors() {
    let n: Obj<Node> = Obj::null();
    assert!(n.is_null());
    assert!(
        matches!(n.get(), Err(f) if f.kind == FailureKind::ProgramError && f.message == "null dereference")
    );
    assert!(n.get_mut().is_err());
    let l = List::from_vec(vec![1i64, 2]);
    assert_eq!(
        l.get(2).unwrap_err().message,
        "index 2 out of range for size 2"
    );
    assert!(l.get(-1).is_err());
    assert!(l.set(5, 0).is_err());
    assert!(l.remove(2).is_err());
    let a: Array<i64> = Array::new(2).expect("size");
    assert!(a.get(2).is_err());
    assert_eq!(kind(Array::<i64>::new(-3)), Some(FailureKind::ProgramError));
    assert_eq!(
        kind(Array::<i64>::new(i64::MAX)),
        Some(FailureKind::ProgramError)
    );
    let m: Map<i64, String> = Map::new();
    assert_eq!(m.get(&4).unwrap_err().message, "key 4 not in map");
    let s: Server<Node> = Server::null();
    assert!(s.is_null());
    let f: Future<i64> = Future::null();
    assert!(f.is_null());
}

#[test]
fn references_are_shared_within_a_process() {
    let a = node("a");
    let b = a.clone();
    b.get_mut().expect("a node").weight = 2.5;
    assert_eq!(a.get().expect("a node").weight, 2.5);
    assert!(a.same(&b));
    assert!(!a.same(&node("a")));
    let l: List<i64> = List::new();
    let alias = l.clone();
    alias.add(1);
    assert_eq!(l.size(), 1);
    assert!(l.same(&alias));
    // p->dist(p): borrowing twice for reading is fine.
    let (x, y) = (a.get().expect("read"), b.get().expect("read"));
    assert_eq!(x.weight, y.weight);
}

/// `real node::dist(node other) { return weight - other->weight; }`, as generated.
fn dist(this: &Obj<Node>, other: &Obj<Node>) -> Res<f64> {
    Ok(this.read(|o| o.weight)? - other.read(|o| o.weight)?)
}

#[test]
fn field_access_as_generated_code_does_it_never_conflicts() -> Res<()> {
    let a = node("a");
    // a->weight = a->weight + 1.5;
    let v = a.read(|o| o.weight)? + 1.5;
    a.update(|o| o.weight = v)?;
    // a->next = a; a->next->weight = 4.0;  (the same object, through itself)
    let next = a.clone();
    a.update(|o| o.next = next)?;
    let inner = a.read(|o| o.next.clone())?;
    inner.update(|o| o.weight = 4.0)?;
    assert_eq!(a.read(|o| o.weight)?, 4.0);
    // a->dist(a) and a->dist(a->next)
    assert_eq!(dist(&a, &a)?, 0.0);
    assert_eq!(dist(&a, &a.read(|o| o.next.clone())?)?, 0.0);
    a.update(|o| o.next = Obj::null())?;
    Ok(())
}

#[test]
fn printing_follows_the_language() {
    assert_eq!(show(&19.0), "19.0");
    assert_eq!(show(&0.25), "0.25");
    assert_eq!(show(&1e-7), "1e-7");
    assert_eq!(show(&(1.0f64 / 0.0)), "inf");
    assert_eq!(show(&false), "false");
    assert_eq!(show_all(&[&"a", &1i64, &" ", &2.0, &true]), "a1 2.0true");
    let a = node("a");
    a.get_mut().expect("node").tags.add("x".to_string());
    assert_eq!(
        show(&a),
        "node{label: a, weight: 0.0, next: null, tags: [x]}"
    );
    let m: Map<String, List<i64>> = Map::new();
    m.put("k".into(), List::from_vec(vec![1, 2]));
    assert_eq!(show(&m), "{k: [1, 2]}");
    assert_eq!(show(&Host(HostId(3))), "h3");
    assert_eq!(show(&Failure::timeout("late")), "timeout: late");
    assert_eq!(show(&Array::<f64>::new(2).expect("size")), "[0.0, 0.0]");
    assert_eq!(show(&Future::<i64>::null()), "null");
}

#[test]
fn debug_formatting_a_cycle_terminates() {
    let a = node("a");
    a.get_mut().expect("node").next = a.clone();
    let text = format!("{a:?}");
    assert!(text.contains("next: Obj(...)"), "{text}");
}

#[test]
fn printing_a_cycle_terminates() {
    let a = node("a");
    let b = node("b");
    a.get_mut().expect("node").next = b.clone();
    b.get_mut().expect("node").next = a.clone();
    assert_eq!(
        show(&a),
        "node{label: a, weight: 0.0, next: node{label: b, weight: 0.0, next: ..., tags: []}, tags: []}"
    );
}

#[test]
fn a_deep_copy_is_independent_of_the_original() {
    let a = node("a");
    a.get_mut().expect("node").next = node("b");
    let copy = deep_copy(&a).expect("acyclic");
    copy.get_mut().expect("node").label = "changed".into();
    let copied_next = copy.get().expect("node").next.clone();
    copied_next.get_mut().expect("node").weight = 9.0;
    copy.get().expect("node").tags.add("t".into());
    let original = a.get().expect("node");
    assert_eq!(original.label, "a");
    assert_eq!(original.next.get().expect("node").weight, 0.0);
    assert_eq!(original.tags.size(), 0);
    assert!(!original.next.same(&copied_next));
}

#[test]
fn sharing_without_a_cycle_is_copied_as_separate_objects() {
    let shared = node("shared");
    let l = List::from_vec(vec![shared.clone(), shared.clone()]);
    let copy = deep_copy(&l).expect("no cycle: sharing is allowed");
    let (x, y) = (copy.get(0).expect("0"), copy.get(1).expect("1"));
    assert!(!x.same(&y), "the copy duplicates shared objects");
    assert_eq!(y.get().expect("node").label, "shared");
}

#[test]
fn cyclic_values_are_refused_with_a_clear_error() {
    // Through object fields.
    let a = node("a");
    a.get_mut().expect("node").next = a.clone();
    let err = encode(&a).unwrap_err();
    assert_eq!(err.kind, FailureKind::ProgramError);
    assert!(err.message.starts_with("cyclic value"), "{}", err.message);
    // Through a list that holds an object that holds the list.
    #[derive(Default, Serialize, Deserialize)]
    struct Holder {
        items: List<Obj<Holder>>,
    }
    let h = Obj::new(Holder::default());
    let items = h.get().expect("holder").items.clone();
    items.add(h.clone());
    assert!(encode(&h).unwrap_err().message.starts_with("cyclic value"));
    // After a refusal, encoding works normally again.
    assert!(encode(&node("fresh")).is_ok());
}

#[test]
fn very_deep_values_are_refused_not_overflowing_the_stack() {
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let head = node("0");
            let mut tail = head.clone();
            for i in 1..5_000 {
                let next = node(&i.to_string());
                tail.get_mut().expect("node").next = next.clone();
                tail = next;
            }
            let err = encode(&head).unwrap_err();
            assert!(err.message.contains("nested too deeply"), "{}", err.message);
            let short = node("x");
            short.get_mut().expect("node").next = node("y");
            assert!(deep_copy(&short).is_ok());
            // Break the chain iteratively so dropping it does not recurse deeply.
            let mut cursor = head;
            while !cursor.is_null() {
                let next = std::mem::take(&mut cursor.get_mut().expect("node").next);
                cursor = next;
            }
        })
        .expect("spawn");
    worker.join().expect("no stack overflow");
}

#[test]
fn futures_cannot_be_copied() {
    let f: Future<i64> = Future::null();
    assert_eq!(
        encode(&f).unwrap_err().message,
        "a future cannot be passed to or from a server"
    );
}

#[test]
fn server_handles_and_hosts_are_names() {
    let s: Server<Node> = Server::from_group(GroupId(5));
    let copy: Server<Node> = deep_copy(&s).expect("copy");
    assert_eq!(copy, s);
    assert_eq!(deep_copy(&Host(HostId(2))), Ok(Host(HostId(2))));
}

#[test]
fn strings_and_parsing() {
    assert_eq!(parse_int(" -12 "), Ok(-12));
    assert_eq!(kind(parse_int("1.5")), Some(FailureKind::ProgramError));
    assert_eq!(parse_real("2.5"), Ok(2.5));
    assert!(parse_real("x").is_err());
    assert_eq!(trim("  a b "), "a b");
    assert!(split("a", "").is_err());
    assert_eq!(len("abc"), 3);
    assert_eq!(len(&Map::<i64, i64>::new()), 0);
}

#[test]
fn failures_report_kind_message_and_location() {
    let f = Failure::program_error("boom");
    assert_eq!(f.report(), "error: program_error: boom");
    let located = f.at("p.cmsl", 3).at("p.cmsl", 9);
    assert_eq!(
        located.report(),
        "error: program_error: boom\n  --> p.cmsl:3"
    );
    assert!(located.is(FailureKind::Failure));
    assert!(located.is(FailureKind::ProgramError));
    assert!(!located.is(FailureKind::Timeout));
}
