//! The checked program's tables: what later passes read instead of re-resolving.

use ftc_frontend::program::{Builtin, Resolution, VarKind};
use ftc_frontend::types::{FutureOf, Ty};
use ftc_frontend::{check_source, CheckedProgram};
use ftc_grammar::{Expr, ExprKind, Item, Stmt, StmtKind};

const SOURCE: &str = r#"
int limit = 10;
class base { public: attribute int n; int get () { return n; } }
class derived : base { public: int twice () { return get() * 2; } }
server class sbase { public: attribute int n; int get () { return n; } }
server class counter : sbase {
  public:
    int bump (int by) { n += by; return n; }
    string label ();
  private:
    attribute string tag = "c";
}
string counter::label () { return tag; }
void main () {
  counter c = server counter model crash tolerate (1);
  future f = invoke c->bump(2);
  derived d = new derived;
  int x = f->result + d->twice() + limit;
  println(x, now());
}
"#;

fn checked() -> CheckedProgram {
    let out = check_source(SOURCE);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    out.program.expect("no errors, so a program")
}

fn main_body(p: &CheckedProgram) -> &[Stmt] {
    let main = p.main.expect("main");
    &p.function_ast(main)
        .expect("main ast")
        .body
        .as_ref()
        .expect("body")
        .stmts
}

/// The initializer of the `i`-th statement of main (a declaration).
fn init(p: &CheckedProgram, i: usize) -> &Expr {
    match &main_body(p)[i].kind {
        StmtKind::VarDecl(d) => d.vars[0].1.as_ref().expect("initializer"),
        other => panic!("not a declaration: {other:?}"),
    }
}

#[test]
fn classes_functions_and_globals() {
    let p = checked();
    let counter = p.class_by_name("counter").expect("counter");
    let sbase = p.class_by_name("sbase").expect("sbase");
    assert!(p.class(counter).is_server);
    assert_eq!(p.class(counter).base, Some(sbase));
    let names: Vec<&str> = p
        .class(counter)
        .methods
        .iter()
        .map(|m| p.function(*m).name.as_str())
        .collect();
    assert_eq!(names, ["bump", "label"]);
    let label = p.class(counter).methods[1];
    assert!(matches!(
        p.function(label).def,
        Some(ftc_frontend::program::FnLoc::OutOfClass { .. })
    ));
    assert_eq!(p.function(label).ret, Ty::Str);
    let tag = p.class(counter).state[0];
    assert_eq!(p.var(tag).name, "tag");
    assert!(matches!(p.var(tag).kind, VarKind::State { class, .. } if class == counter));
    assert_eq!(p.globals.len(), 1);
    assert_eq!(p.var(p.globals[0]).kind, VarKind::Global);
    assert!(matches!(p.ast.items[0], Item::Global(_)));
}

#[test]
fn inherited_state_and_methods() {
    let p = checked();
    let counter = p.class_by_name("counter").expect("counter");
    let base = p.class_by_name("base").expect("base");
    let derived = p.class_by_name("derived").expect("derived");
    let sbase = p.class_by_name("sbase").expect("sbase");
    assert_eq!(p.class_chain(counter), [counter, sbase]);
    assert!(p.is_subclass(derived, base) && !p.is_subclass(base, derived));
    assert_eq!(p.server_classes().collect::<Vec<_>>(), [sbase, counter]);
    let state: Vec<&str> = p
        .all_state(counter)
        .iter()
        .map(|v| p.var(*v).name.as_str())
        .collect();
    assert_eq!(state, ["n", "tag"]);
    let methods: Vec<&str> = p
        .all_methods(counter)
        .iter()
        .map(|m| p.function(*m).name.as_str())
        .collect();
    assert_eq!(methods, ["get", "bump", "label"]);
}

#[test]
fn plain_future_result_is_inferred() {
    let p = checked();
    let f_init = init(&p, 1);
    assert_eq!(
        p.type_of(f_init.id),
        Some(&Ty::Future(FutureOf::Known(Box::new(Ty::Int))))
    );
    let StmtKind::VarDecl(d) = &main_body(&p)[1].kind else {
        panic!("declaration")
    };
    let f_var = p
        .vars
        .iter()
        .position(|v| v.name == "f" && v.span == d.vars[0].0.name.span)
        .expect("f");
    let f_var = ftc_frontend::types::VarId(f_var as u32);
    assert_eq!(p.future_result(f_var), Some(&Ty::Int));
}

#[test]
fn server_sites_and_server_calls() {
    let p = checked();
    assert_eq!(p.server_sites.len(), 1);
    let site = &p.server_sites[0];
    assert_eq!(site.class, p.class_by_name("counter").expect("counter"));
    assert_eq!(site.replicas, Some(2));
    assert_eq!(site.expr, init(&p, 0).id);
    let ExprKind::Invoke { call } = &init(&p, 1).kind else {
        panic!("invoke")
    };
    let Some(Resolution::ServerMethod(m)) = p.resolution(call.id) else {
        panic!("a server call: {:?}", p.resolution(call.id))
    };
    assert_eq!(p.function(*m).name, "bump");
}

#[test]
fn every_expression_has_a_type_and_names_resolve() {
    let p = checked();
    let x_init = init(&p, 3);
    assert_eq!(p.type_of(x_init.id), Some(&Ty::Int));
    // f->result + d->twice() + limit
    let ExprKind::Binary { lhs, rhs, .. } = &x_init.kind else {
        panic!("binary")
    };
    let Some(Resolution::Var(g)) = p.resolution(rhs.id) else {
        panic!("limit resolves to a variable")
    };
    assert_eq!(p.var(*g).kind, VarKind::Global);
    let ExprKind::Binary {
        lhs: fres,
        rhs: twice,
        ..
    } = &lhs.kind
    else {
        panic!("binary")
    };
    assert_eq!(p.resolution(fres.id), Some(&Resolution::FutureResult));
    assert_eq!(p.type_of(fres.id), Some(&Ty::Int));
    let Some(Resolution::Method(m)) = p.resolution(twice.id) else {
        panic!("method")
    };
    assert_eq!(p.function(*m).name, "twice");
    // println(x, now())
    let StmtKind::Expr(call) = &main_body(&p)[4].kind else {
        panic!("call statement")
    };
    assert_eq!(
        p.resolution(call.id),
        Some(&Resolution::Builtin(Builtin::Println))
    );
    assert_eq!(p.type_of(call.id), Some(&Ty::Void));
}

#[test]
fn programs_with_errors_have_no_checked_program() {
    let out = check_source("void main () { int x = true; }");
    assert!(out.has_errors());
    assert!(out.program.is_none());
    let out = check_source(
        "server class s { } void main () { s a = server s model crash tolerate (1) replicas (1); }",
    );
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert_eq!(out.warning_count(), 1);
    assert!(out.program.is_some());
}
