//! The trees the parser builds: precedence, associativity, desugaring, visibility and spans.

use ftc_grammar::*;

/// Parses `expr` as the initializer of a variable in `main` and renders it as an S-expression.
fn expr(source_expr: &str) -> String {
    let source = format!("void main () {{ int x = {source_expr}; }}");
    let parsed = parse(&source);
    assert!(
        parsed.errors.is_empty(),
        "{source_expr}: {:?}",
        parsed.errors
    );
    let Some(Item::Function(main)) = parsed.program.items.first() else {
        panic!("no main");
    };
    let body = main.body.as_ref().expect("main has a body");
    let StmtKind::VarDecl(decl) = &body.stmts[0].kind else {
        panic!("not a declaration");
    };
    sexp(decl.vars[0].1.as_ref().expect("an initializer"))
}

fn sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Real(v) => format!("{v:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::This => "this".into(),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Unary { op, operand } => format!("({op:?} {})", sexp(operand)),
        ExprKind::Binary { op, lhs, rhs } => format!("({op:?} {} {})", sexp(lhs), sexp(rhs)),
        ExprKind::Index { base, index } => format!("(index {} {})", sexp(base), sexp(index)),
        ExprKind::Member { base, name } => format!("(member {} {})", sexp(base), name.name),
        ExprKind::Call { callee, args } => format!("(call {}{})", callee.name, list(args)),
        ExprKind::MethodCall {
            receiver,
            method,
            args,
        } => format!("(method {} {}{})", sexp(receiver), method.name, list(args)),
        ExprKind::New { ty, array_len } => match array_len {
            Some(len) => format!("(new {:?} {})", ty.kind, sexp(len)),
            None => format!("(new {:?})", ty.kind),
        },
        ExprKind::Server {
            class,
            count,
            props,
        } => format!(
            "(server {} {} {:?})",
            class.name,
            count.as_ref().map_or("-".into(), |c| sexp(c)),
            props.iter().map(|p| &p.kind).collect::<Vec<_>>().len()
        ),
        ExprKind::Invoke { call } => format!("(invoke {})", sexp(call)),
        ExprKind::Accept {
            futures,
            count,
            timeout,
        } => format!(
            "(accept {} {}{})",
            sexp(futures),
            sexp(count),
            timeout.as_ref().map_or(String::new(), |t| format!(
                " (timeout {} {})",
                sexp(&t.seconds),
                if t.block.is_some() { "block" } else { "raise" }
            ))
        ),
        ExprKind::Error => "error".into(),
    }
}

fn list(args: &[Expr]) -> String {
    args.iter().map(|a| format!(" {}", sexp(a))).collect()
}

#[test]
fn arithmetic_precedence_and_associativity() {
    assert_eq!(expr("1 + 2 * 3 - 4"), "(Sub (Add 1 (Mul 2 3)) 4)");
    assert_eq!(expr("8 / 4 / 2"), "(Div (Div 8 4) 2)");
    assert_eq!(expr("a - b - c"), "(Sub (Sub a b) c)");
    assert_eq!(expr("a % b * c"), "(Mul (Rem a b) c)");
    assert_eq!(expr("(a + b) * c"), "(Mul (Add a b) c)");
}

#[test]
fn logical_and_comparison_precedence() {
    assert_eq!(
        expr("a || b && c == d < e + f * g"),
        "(Or a (And b (Eq c (Lt d (Add e (Mul f g))))))"
    );
    assert_eq!(
        expr("a * b + c < d == e && f || g"),
        "(Or (And (Eq (Lt (Add (Mul a b) c) d) e) f) g)"
    );
    assert_eq!(expr("a < b < c"), "(Lt (Lt a b) c)");
    assert_eq!(expr("a != b == c"), "(Eq (Ne a b) c)");
    assert_eq!(expr("a >= b || c <= d"), "(Or (Ge a b) (Le c d))");
}

#[test]
fn unary_and_postfix() {
    assert_eq!(expr("-a * b"), "(Mul (Neg a) b)");
    assert_eq!(expr("!a && - - b"), "(And (Not a) (Neg (Neg b)))");
    assert_eq!(expr("-a[1]"), "(Neg (index a 1))");
    assert_eq!(
        expr("x->f(1, 2)[3]->g->h()"),
        "(method (member (index (method x f 1 2) 3) g) h)"
    );
    assert_eq!(expr("f()"), "(call f)");
    assert_eq!(expr("host(\"h1\")"), "(call host \"h1\")");
    assert_eq!(expr("this->x"), "(member this x)");
}

#[test]
fn literals() {
    assert_eq!(expr("1_000"), "1000");
    assert_eq!(expr("1e-3"), "0.001");
    assert_eq!(expr("1.5E+10"), "15000000000.0");
    assert_eq!(expr("\"a\\tb\\\\\\\"\\n\""), "\"a\\tb\\\\\\\"\\n\"");
    assert_eq!(expr("true == !false"), "(Eq true (Not false))");
    assert_eq!(expr("null"), "null");
}

#[test]
fn new_server_invoke_accept() {
    assert_eq!(
        expr("new point"),
        "(new Named(Ident { name: \"point\", span: 27..32 }))"
    );
    assert_eq!(expr("new int[3 + n]"), "(new Int (Add 3 n))");
    assert_eq!(expr("new future[2]"), "(new Future(None) 2)");
    assert_eq!(
        expr("server db [3] model crash tolerate (1) disjoint priority (2)"),
        "(server db 3 4)"
    );
    assert_eq!(expr("invoke s->m(1)"), "(invoke (method s m 1))");
    assert_eq!(expr("accept (f, 1)"), "(accept f 1)");
    assert_eq!(
        expr("accept (f, 1) timeout (2.0) + 1"),
        "(Add (accept f 1 (timeout 2.0 raise)) 1)"
    );
}

#[test]
fn durable_is_a_property_after_server_and_a_name_elsewhere() {
    let source = "server class durable { public: int durable (int durable) { return durable; } }\n\
                  void main () { string durable = \"a\"; \
                  durable d = server durable [2] durable (durable + \"-x\") model crash; }";
    let parsed = parse(source);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let Some(Item::Class(class)) = parsed.program.items.first() else {
        panic!("no class");
    };
    assert_eq!(class.name.name, "durable");
    let Some(Item::Function(main)) = parsed.program.items.get(1) else {
        panic!("no main");
    };
    let stmts = &main.body.as_ref().expect("a body").stmts;
    let StmtKind::VarDecl(decl) = &stmts[1].kind else {
        panic!("not a declaration");
    };
    let init = decl.vars[0].1.as_ref().expect("an initializer");
    let ExprKind::Server { class, props, .. } = &init.kind else {
        panic!("not a server expression");
    };
    assert_eq!(class.name, "durable");
    let ServerPropKind::Durable(name) = &props[0].kind else {
        panic!("not durable: {:?}", props[0].kind);
    };
    assert_eq!(sexp(name), "(Add durable \"-x\")");
    assert_eq!(&source[props[0].span.range()], "durable (durable + \"-x\")");
    assert_eq!(props[1].kind, ServerPropKind::Model(Model::Crash));
}

fn main_body(body: &str) -> Vec<Stmt> {
    let source = format!("void main () {{ {body} }}");
    let parsed = parse(&source);
    assert!(parsed.errors.is_empty(), "{body}: {:?}", parsed.errors);
    let Some(Item::Function(main)) = parsed.program.items.into_iter().next() else {
        panic!("no main");
    };
    main.body.expect("a body").stmts
}

#[test]
fn increments_are_compound_assignments() {
    let stmts = main_body("x++; a[1]--;");
    let StmtKind::Assign { op, value, .. } = &stmts[0].kind else {
        panic!("{:?}", stmts[0]);
    };
    assert_eq!((*op, &value.kind), (AssignOp::Add, &ExprKind::Int(1)));
    let StmtKind::Assign { op, target, .. } = &stmts[1].kind else {
        panic!("{:?}", stmts[1]);
    };
    assert_eq!(*op, AssignOp::Sub);
    assert!(matches!(target.kind, ExprKind::Index { .. }));
}

#[test]
fn else_binds_to_the_nearest_if() {
    let stmts = main_body("if (a) if (b) x = 1; else x = 2;");
    let StmtKind::If {
        then_branch,
        else_branch,
        ..
    } = &stmts[0].kind
    else {
        panic!("{:?}", stmts[0]);
    };
    assert!(else_branch.is_none());
    assert!(matches!(
        then_branch.kind,
        StmtKind::If {
            else_branch: Some(_),
            ..
        }
    ));
}

#[test]
fn accept_with_a_block_ends_its_statement() {
    let stmts = main_body("int i = accept (f, 2) timeout (1.0) { break; } x = i;");
    assert_eq!(stmts.len(), 2);
    let StmtKind::VarDecl(decl) = &stmts[0].kind else {
        panic!("{:?}", stmts[0]);
    };
    let Some(init) = &decl.vars[0].1 else {
        panic!()
    };
    assert_eq!(sexp(init), "(accept f 2 (timeout 1.0 block))");
}

#[test]
fn for_every_bounds() {
    let stmts = main_body("for every i, a - 1 < i <= b * 2 { }");
    let StmtKind::ForEvery {
        var,
        lower,
        lower_op,
        upper_op,
        upper,
        ..
    } = &stmts[0].kind
    else {
        panic!("{:?}", stmts[0]);
    };
    assert_eq!(var.name, "i");
    assert_eq!(
        (sexp(lower), *lower_op),
        ("(Sub a 1)".to_string(), BoundOp::Lt)
    );
    assert_eq!(
        (sexp(upper), *upper_op),
        ("(Mul b 2)".to_string(), BoundOp::Le)
    );
}

#[test]
fn members_before_a_label_are_private() {
    let parsed = parse("class c { attribute int a; public: attribute int b; private: int f(); }");
    assert!(parsed.errors.is_empty());
    let Some(Item::Class(class)) = parsed.program.items.first() else {
        panic!()
    };
    let visibility: Vec<Visibility> = class.members.iter().map(|m| m.visibility).collect();
    assert_eq!(
        visibility,
        [Visibility::Private, Visibility::Public, Visibility::Private]
    );
}

#[test]
fn spans_cover_their_text() {
    let source = "void main () { int x = a + b * c; }";
    let parsed = parse(source);
    let Some(Item::Function(main)) = parsed.program.items.first() else {
        panic!()
    };
    let stmt = &main.body.as_ref().expect("body").stmts[0];
    assert_eq!(&source[stmt.span.range()], "int x = a + b * c;");
    let StmtKind::VarDecl(decl) = &stmt.kind else {
        panic!()
    };
    let init = decl.vars[0].1.as_ref().expect("init");
    assert_eq!(&source[init.span.range()], "a + b * c");
    let ExprKind::Binary { rhs, .. } = &init.kind else {
        panic!()
    };
    assert_eq!(&source[rhs.span.range()], "b * c");
    assert_eq!(&source[main.span.range()], source);
}

#[test]
fn contracts_and_out_of_class_methods() {
    let parsed = parse(
        "class c { public: int f (int a[], int n) requires n > 0; ensures result >= 0; }\n\
         int c::f (int a[], int n) { return n; }",
    );
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let Some(Item::Class(class)) = parsed.program.items.first() else {
        panic!()
    };
    let MemberKind::Method(f) = &class.members[0].kind else {
        panic!()
    };
    assert_eq!(
        (f.requires.len(), f.ensures.len(), f.body.is_none()),
        (1, 1, true)
    );
    assert_eq!(f.params[0].declarator.array, Some(None));
    let Some(Item::MethodDef(def)) = parsed.program.items.get(1) else {
        panic!()
    };
    assert_eq!(
        (def.class.name.as_str(), def.function.name.name.as_str()),
        ("c", "f")
    );
}
