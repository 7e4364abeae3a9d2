//! A seeded generator of well-typed, terminating, deterministic CMSL programs
//! (globals, functions, a plain class and maybe a subclass overriding one of
//! its methods, server classes started with every property and maybe a
//! server subclass overriding a command (started through base-typed handles
//! too), a server's `this` as a value (in methods, state initializers and
//! invariants), synchronous calls, runs of reads the call-parallelizing
//! optimization makes parallel, invoke/accept/futures, exceptions, arrays,
//! lists, maps, strings and the built-ins), for `tests/generated.rs`: every
//! program must pass `ftc check`, build and run.
//!
//! Runtime errors are allowed but always expected: main's work is split into
//! segments, each inside a `try` that catches `program_error` (overflow,
//! division, ranges, raises) and `assertion_failure` (contracts, `assert`).
//! Nothing catches `server_failure` or `timeout` except where a program
//! provokes one on purpose, so a server that cannot answer fails the run.
//! Loops are bounded by constants, strings are kept short, functions only
//! call functions generated before them (one bounded recursion aside).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

/// One generated program and what its run must end with.
pub struct Generated {
    pub seed: u64,
    pub source: String,
    /// Local hosts the run needs (byzantine `tolerate (1)` needs 4).
    pub hosts: u32,
    pub expected_exit: i32,
    /// A text the run's stderr must contain (the uncaught exception's message).
    pub expected_stderr: Option<String>,
    /// Whether two runs print the same lines: no `accept` among several
    /// futures prints in arrival order.
    pub deterministic: bool,
    /// Whether two runs print the same: only `main` prints (a server
    /// replica on `main`'s host prints into the same output, at a time —
    /// and, when `main` exits first, at all — set by scheduling).
    pub main_prints_only: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Int,
    Real,
    Bool,
    Str,
    ListInt,
    MapStrInt,
    /// The program's plain class.
    Obj,
    Void,
    /// A handle of server class `servers[i]`.
    Handle(usize),
}

#[derive(Clone)]
struct Sig {
    name: String,
    params: Vec<(String, Ty)>,
    ret: Ty,
    /// `requires` on the first int parameter: callers may break it.
    requires_nonneg: bool,
    /// Compares a handle of its own class with `this`: a subclass neither
    /// overrides nor calls it (its parameter may be the server itself, and
    /// a server cannot wait for a call to itself). Its name may be any
    /// fresh one, a Rust keyword included, so this is a flag, not a prefix.
    is_self: bool,
}

#[derive(Clone)]
struct Var {
    name: String,
    ty: Ty,
    assignable: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Place {
    Main,
    Function,
    PlainMethod,
    ServerMethod,
}

#[derive(Clone)]
struct Ctx {
    place: Place,
    vars: Vec<Var>,
    /// (expression naming a server, server index).
    handles: Vec<(String, usize)>,
    /// Free functions callable here (indices into `funcs`).
    funcs: usize,
    /// Methods of the enclosing class callable without a receiver.
    own: Vec<Sig>,
    in_loop: bool,
    /// Arrays: (name, size).
    arrays: Vec<(String, usize)>,
}

struct Server {
    name: String,
    methods: Vec<Sig>,
    /// Its state variables (a subclass's methods use its base's too).
    vars: Vec<Var>,
    /// The server classes that extend it (indices into `servers`).
    subclasses: Vec<usize>,
    /// Its commands without effects (also in `methods`): the calls the
    /// call-parallelizing optimization may make in parallel.
    queries: Vec<Sig>,
}

/// Names that are Rust keywords, prelude items or generated-code names:
/// CMSL allows them, code generation must escape them.
const RUSTY: &[&str] = &[
    "type", "match", "impl", "loop", "mut", "ref", "fn", "mod", "use", "where", "async", "await",
    "dyn", "move", "crate", "super", "Some", "None", "Ok", "Err", "Vec", "String", "Box", "drop",
    "clone", "default", "self_", "trait", "struct", "enum", "let", "const", "static", "unsafe",
    "extern", "pub", "in", "as", "yield", "macro", "union", "abstract", "final", "result",
    "message", "error", "vector", "Option", "Result", "value", "state", "ctx", "main_", "i64",
    "f64", "str", "len_", "args_", "print_",
];

const STRINGS: &[&str] = &[
    "alpha",
    "b,c,d",
    " pad ",
    "x\\ty",
    "q\\\"uote",
    "h\u{e9}llo",
    "\u{65e5}\u{672c}",
    "",
    "42",
    "3.5",
    "a,b",
    "line\\n",
    "-7",
    " 12 ",
];

struct Gen {
    rng: ChaCha8Rng,
    used: std::collections::BTreeSet<String>,
    counter: usize,
    funcs: Vec<Sig>,
    class_name: String,
    /// (attribute name, type) of the plain class.
    class_attrs: Vec<(String, Ty)>,
    class_methods: Vec<Sig>,
    /// The subclass of the plain class, if the program has one.
    sub_name: Option<String>,
    servers: Vec<Server>,
    out: String,
    /// Out-of-class definitions, written after the classes.
    later: String,
    hosts: u32,
    /// Something prints in the order replies arrive.
    arrival_order: bool,
    /// Something other than `main` prints.
    others_print: bool,
}

/// Generates program `seed`.
pub fn generate(seed: u64) -> Generated {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        used: Default::default(),
        counter: 0,
        funcs: Vec::new(),
        class_name: String::new(),
        class_attrs: Vec::new(),
        class_methods: Vec::new(),
        sub_name: None,
        servers: Vec::new(),
        out: String::new(),
        later: String::new(),
        hosts: 3,
        arrival_order: false,
        others_print: false,
    };
    let (expected_exit, expected_stderr) = g.program(seed);
    Generated {
        seed,
        source: g.out,
        hosts: g.hosts,
        expected_exit,
        expected_stderr,
        deterministic: !g.arrival_order,
        main_prints_only: !g.others_print,
    }
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    /// A fresh identifier: now and then a name Rust code generation must escape.
    fn fresh(&mut self, prefix: &str) -> String {
        if self.chance(0.25) {
            let word = RUSTY[self.below(RUSTY.len())];
            if self.used.insert(word.to_string()) {
                return word.to_string();
            }
        }
        self.counter += 1;
        let name = format!("{prefix}{}", self.counter);
        self.used.insert(name.clone());
        name
    }

    fn ty_text(&mut self, ty: &Ty) -> String {
        match ty {
            Ty::Int => "int".into(),
            Ty::Real => (*self.pick(&["real", "real", "float", "double"])).into(),
            Ty::Bool => (*self.pick(&["boolean", "bool"])).into(),
            Ty::Str => "string".into(),
            Ty::ListInt => "list<int>".into(),
            Ty::MapStrInt => "map<string, int>".into(),
            Ty::Obj => self.class_name.clone(),
            Ty::Void => "void".into(),
            Ty::Handle(s) => self.servers[*s].name.clone(),
        }
    }

    fn scalar(&mut self) -> Ty {
        self.pick(&[Ty::Int, Ty::Int, Ty::Real, Ty::Bool, Ty::Str])
            .clone()
    }

    fn value_ty(&mut self) -> Ty {
        self.pick(&[
            Ty::Int,
            Ty::Int,
            Ty::Real,
            Ty::Bool,
            Ty::Str,
            Ty::Str,
            Ty::ListInt,
            Ty::MapStrInt,
            Ty::Obj,
        ])
        .clone()
    }

    // ----- the program -----

    fn program(&mut self, seed: u64) -> (i32, Option<String>) {
        writeln!(self.out, "// generated by tests/cmslgen, seed {seed}").unwrap();
        // Globals: main's alone (servers share no state).
        writeln!(self.out, "int g_count = 0, g_hist[4];").unwrap();
        writeln!(self.out, "real g_scale = 1.5;").unwrap();
        writeln!(self.out, "string g_tag = \"gl\";").unwrap();
        writeln!(self.out).unwrap();
        self.plain_class();
        let nfuncs = 1 + self.below(2);
        // A declared-then-defined function, its definition after main.
        for i in 0..nfuncs {
            let forward = i == 0 && self.chance(0.5);
            self.function(forward);
        }
        writeln!(
            self.out,
            "int depth_sum (int n) {{\n  if (n <= 0) {{ return 0; }}\n  return n + depth_sum(n - 1);\n}}\n"
        )
        .unwrap();
        writeln!(
            self.out,
            "void note (int v) {{\n  g_count += 1;\n  g_hist[(g_count % 4 + 4) % 4] = v;\n  g_tag = g_tag + \".\";\n}}\n"
        )
        .unwrap();
        let nservers = 1 + self.below(2);
        for i in 0..nservers {
            self.server_class(i);
        }
        if self.chance(0.5) {
            let base = self.below(nservers);
            self.server_subclass(base);
        }
        let later = std::mem::take(&mut self.later);
        self.out.push_str(&later);
        self.main()
    }

    fn plain_class(&mut self) {
        self.class_name = self
            .pick(&[
                "point", "item", "record", "error", "vector", "date", "node", "Box",
            ])
            .to_string();
        self.used.insert(self.class_name.clone());
        let attrs = vec![
            (self.fresh("a"), Ty::Int),
            (self.fresh("r"), Ty::Real),
            (self.fresh("s"), Ty::Str),
            (self.fresh("xs"), Ty::ListInt),
        ];
        self.class_attrs = attrs.clone();
        let mut body = String::new();
        writeln!(body, "class {} {{", self.class_name).unwrap();
        writeln!(body, "  public:").unwrap();
        for (name, ty) in &attrs {
            let t = self.ty_text(ty);
            let init = match ty {
                Ty::Int if self.chance(0.5) => format!(" = {}", self.below(9)),
                Ty::Str if self.chance(0.5) => " = \"init\"".to_string(),
                _ => String::new(),
            };
            writeln!(
                body,
                "    {} {t} {name}{init};",
                self.pick(&["attribute", "relation"])
            )
            .unwrap();
        }
        let nmethods = 1 + self.below(2);
        let vars: Vec<Var> = attrs
            .iter()
            .map(|(n, t)| Var {
                name: n.clone(),
                ty: t.clone(),
                assignable: true,
            })
            .collect();
        for _ in 0..nmethods {
            let ret = self
                .pick(&[Ty::Int, Ty::Str, Ty::Void, Ty::Real, Ty::Bool])
                .clone();
            let sig = self.signature("m", ret, 1, false);
            let ctx = self.body_ctx(Place::PlainMethod, vars.clone(), self.class_methods.clone());
            let fn_body = self.fn_body(&sig, ctx, 2);
            let head = self.sig_head(&sig, None);
            if self.chance(0.3) {
                writeln!(body, "    {}", declaration(&head)).unwrap();
                let qualified = self.sig_head(&sig, Some(&self.class_name.clone()));
                writeln!(self.later, "{qualified} {fn_body}\n").unwrap();
            } else {
                writeln!(body, "    {head} {}", indent(&fn_body, 4)).unwrap();
            }
            self.class_methods.push(sig);
        }
        writeln!(body, "}}\n").unwrap();
        self.out.push_str(&body);
        if self.chance(0.6) {
            self.plain_subclass(vars);
        }
    }

    /// `class sub : base`: a state variable of its own, an override of one of
    /// the base's methods (same signature, another body) and maybe a method
    /// of its own. Base-typed references then hold either class.
    fn plain_subclass(&mut self, base_vars: Vec<Var>) {
        let sub = self.fresh("sub");
        let own_attr = (self.fresh("extra"), Ty::Int);
        let mut vars = base_vars;
        vars.push(Var {
            name: own_attr.0.clone(),
            ty: Ty::Int,
            assignable: true,
        });
        let mut body = String::new();
        writeln!(body, "class {sub} : {} {{", self.class_name).unwrap();
        writeln!(body, "  public:").unwrap();
        writeln!(
            body,
            "    attribute int {} = {};",
            own_attr.0,
            self.below(9)
        )
        .unwrap();
        // Overriding method k may call the base's methods before it only, as
        // the base's own methods do, so dispatch cannot recurse.
        let k = self.below(self.class_methods.len());
        let sig = self.class_methods[k].clone();
        let ctx = self.body_ctx(
            Place::PlainMethod,
            vars.clone(),
            self.class_methods[..k].to_vec(),
        );
        let fn_body = self.fn_body(&sig, ctx, 2);
        let head = self.sig_head(&sig, None);
        if self.chance(0.3) {
            writeln!(body, "    {}", declaration(&head)).unwrap();
            let qualified = self.sig_head(&sig, Some(&sub));
            writeln!(self.later, "{qualified} {fn_body}\n").unwrap();
        } else {
            writeln!(body, "    {head} {}", indent(&fn_body, 4)).unwrap();
        }
        if self.chance(0.5) {
            let ret = self.pick(&[Ty::Int, Ty::Str, Ty::Bool]).clone();
            let sig = self.signature("sm", ret, 1, false);
            let ctx = self.body_ctx(Place::PlainMethod, vars, self.class_methods.clone());
            let fn_body = self.fn_body(&sig, ctx, 2);
            let head = self.sig_head(&sig, None);
            writeln!(body, "    {head} {}", indent(&fn_body, 4)).unwrap();
        }
        writeln!(body, "}}\n").unwrap();
        self.out.push_str(&body);
        self.sub_name = Some(sub);
    }

    /// A signature: `arity` parameters at most, of value types (no handles).
    fn signature(&mut self, prefix: &str, ret: Ty, arity: usize, objects: bool) -> Sig {
        let n = self.below(arity + 1);
        let mut params = Vec::new();
        for _ in 0..n {
            let ty = if objects {
                self.value_ty()
            } else {
                self.scalar()
            };
            params.push((self.fresh("p"), ty));
        }
        let requires_nonneg = params.first().is_some_and(|p| p.1 == Ty::Int) && self.chance(0.3);
        Sig {
            name: self.fresh(prefix),
            params,
            ret,
            requires_nonneg,
            is_self: false,
        }
    }

    fn sig_head(&mut self, sig: &Sig, class: Option<&str>) -> String {
        let ret = self.ty_text(&sig.ret);
        let params: Vec<String> = sig
            .params
            .clone()
            .iter()
            .map(|(n, t)| format!("{} {n}", self.ty_text(t)))
            .collect();
        let name = match class {
            Some(c) => format!("{c}::{}", sig.name),
            None => sig.name.clone(),
        };
        let mut head = format!("{ret} {name} ({})", params.join(", "));
        if class.is_none() && sig.requires_nonneg {
            write!(head, " requires {} >= 0;", sig.params[0].0).unwrap();
        }
        head
    }

    fn function(&mut self, forward: bool) {
        let ret = self.value_ty();
        let sig = self.signature("f", ret, 2, true);
        let ctx = self.body_ctx(Place::Function, vec![], vec![]);
        let body = self.fn_body(&sig, ctx, 2);
        let head = self.sig_head(&sig, None);
        if forward {
            writeln!(self.out, "{}\n", declaration(&head)).unwrap();
            let head = self.sig_head(
                &Sig {
                    requires_nonneg: false,
                    ..sig.clone()
                },
                None,
            );
            writeln!(self.later, "{head} {body}\n").unwrap();
        } else {
            writeln!(self.out, "{head} {body}\n").unwrap();
        }
        self.funcs.push(sig);
    }

    fn server_class(&mut self, index: usize) {
        let name = self.fresh("svc");
        let attrs = vec![
            (self.fresh("count"), Ty::Int),
            (self.fresh("total"), Ty::Real),
            (self.fresh("label"), Ty::Str),
            (self.fresh("log"), Ty::ListInt),
            (self.fresh("tally"), Ty::MapStrInt),
            (self.fresh("kept"), Ty::Obj),
        ];
        let vars: Vec<Var> = attrs
            .iter()
            .map(|(n, t)| Var {
                name: n.clone(),
                ty: t.clone(),
                assignable: true,
            })
            .collect();
        let mut public = String::new();
        let mut private = String::new();
        for (n, t) in &attrs {
            let tt = self.ty_text(t);
            let init = match t {
                Ty::Obj => format!(" = {}", self.literal(&Ty::Obj)),
                Ty::Int => format!(" = {}", self.below(5)),
                Ty::Str => "= \"srv\"".to_string(),
                _ => String::new(),
            };
            writeln!(
                private,
                "    {} {tt} {n}{init};",
                self.pick(&["attribute", "relation"])
            )
            .unwrap();
        }
        if self.chance(0.4) {
            writeln!(private, "    invariant len({}) >= 0;", attrs[2].0).unwrap();
        }
        let mut own: Vec<Sig> = Vec::new();
        // A private helper, callable from the commands.
        if self.chance(0.5) {
            let sig = self.signature("helper", Ty::Int, 1, false);
            let ctx = self.body_ctx(Place::ServerMethod, vars.clone(), vec![]);
            let body = self.fn_body(&sig, ctx, 2);
            let head = self.sig_head(&sig, None);
            writeln!(private, "    {head} {}", indent(&body, 4)).unwrap();
            own.push(sig);
        }
        let nmethods = 2 + self.below(2);
        let mut methods = Vec::new();
        for m in 0..nmethods {
            let ret = self
                .pick(&[
                    Ty::Int,
                    Ty::Int,
                    Ty::Real,
                    Ty::Str,
                    Ty::Bool,
                    Ty::Void,
                    Ty::ListInt,
                    Ty::MapStrInt,
                    Ty::Obj,
                ])
                .clone();
            let mut sig = self.signature("cmd", ret, 2, true);
            let mut ctx = self.body_ctx(Place::ServerMethod, vars.clone(), own.clone());
            // Servers calling servers: a handle of an earlier server class.
            if index > 0 && m == 0 && self.chance(0.7) {
                let target = self.below(index);
                let p = self.fresh("peer");
                ctx.handles.push((p.clone(), target));
                sig.params.insert(0, (p, Ty::Handle(target)));
                sig.requires_nonneg = false;
            }
            let body = self.fn_body(&sig, ctx, 1);
            let head = self.sig_head(&sig, None);
            if self.chance(0.3) {
                writeln!(public, "    {}", declaration(&head)).unwrap();
                let q = self.sig_head(&sig, Some(&name));
                writeln!(self.later, "{q} {body}\n").unwrap();
            } else {
                writeln!(public, "    {head} {}", indent(&body, 4)).unwrap();
            }
            own.push(sig.clone());
            methods.push(sig);
        }
        // Queries (no effect): runs of calls to them are made in parallel.
        let mut queries = Vec::new();
        if self.chance(0.8) {
            let (count, label, log) = (&attrs[0].0, &attrs[2].0, &attrs[3].0);
            let (peek, k, v) = (self.fresh("peek"), self.fresh("k"), self.fresh("v"));
            writeln!(
                public,
                "    int {peek} (int {k}) {{ int {v} = {count}; if ({k} > 1000) {{ {v} = {k}; }} return {v}; }}"
            )
            .unwrap();
            queries.push(Sig {
                name: peek,
                params: vec![(k, Ty::Int)],
                ret: Ty::Int,
                requires_nonneg: false,
                is_self: false,
            });
            if self.chance(0.5) {
                let describe = self.fresh("describe");
                writeln!(
                    public,
                    "    string {describe} () {{ return {label} + \"/\" + to_string(len({log})); }}"
                )
                .unwrap();
                queries.push(Sig {
                    name: describe,
                    params: vec![],
                    ret: Ty::Str,
                    requires_nonneg: false,
                    is_self: false,
                });
            }
            methods.extend(queries.iter().cloned());
        }
        // `this` as a value: the server compares a handle with itself, taken
        // in the method or kept in a state variable its initializer sets
        // (checked by an invariant too).
        if self.chance(0.35) {
            let other = self.fresh("other");
            let me = self.fresh("me");
            let sig = Sig {
                name: self.fresh("is_self"),
                params: vec![(other.clone(), Ty::Handle(index))],
                ret: Ty::Bool,
                requires_nonneg: false,
                is_self: true,
            };
            if self.chance(0.5) {
                writeln!(private, "    attribute {name} {me} = this;").unwrap();
                writeln!(private, "    invariant {me} == this;").unwrap();
                writeln!(
                    public,
                    "    boolean {} ({name} {other}) {{ return {me} == {other} && {other} == this; }}",
                    sig.name
                )
                .unwrap();
            } else {
                writeln!(
                    public,
                    "    boolean {} ({name} {other}) {{ {name} {me} = this; return {me} == {other} && {other} == this; }}",
                    sig.name
                )
                .unwrap();
            }
            methods.push(sig);
        }
        // A server starting a server: an earlier class, once for all the
        // replicas, its handle kept in the state and called.
        if index > 0 && self.chance(0.35) {
            let j = self.below(index);
            let started = self.servers[j].name.clone();
            let kept = self.fresh("started");
            let k = self.fresh("k");
            let sig = Sig {
                name: self.fresh("spawn"),
                params: vec![(k.clone(), Ty::Int)],
                ret: Ty::Int,
                requires_nonneg: false,
                is_self: false,
            };
            let props = self
                .pick(&[" model crash tolerate (1)", "", " model crash tolerate (0)"])
                .to_string();
            writeln!(private, "    attribute {started} {kept};").unwrap();
            writeln!(
                public,
                "    int {} (int {k}) {{\n      if ({kept} == null || {k} % 2 == 0) {{ {kept} = server {started}{props}; }}\n      return {k} + 1;\n    }}",
                sig.name
            )
            .unwrap();
            methods.push(sig);
        }
        writeln!(
            self.out,
            "server class {name} {{\n  public:\n{public}  private:\n{private}}}\n"
        )
        .unwrap();
        self.servers.push(Server {
            name,
            methods,
            vars,
            subclasses: Vec::new(),
            queries,
        });
    }

    /// `server class sub : base`: an override of one of the base's commands
    /// (same signature, another body, run through base-typed handles too)
    /// and a command of its own.
    fn server_subclass(&mut self, base: usize) {
        let name = self.fresh("ssub");
        let base_name = self.servers[base].name.clone();
        let vars = self.servers[base].vars.clone();
        let methods = self.servers[base].methods.clone();
        // Commands that take a handle of their own class (`this` as a value)
        // are not overridden: their body is fixed.
        let plain: Vec<usize> = (0..methods.len())
            .filter(|i| !methods[*i].is_self)
            .collect();
        let k = plain[self.below(plain.len())];
        let sig = methods[k].clone();
        // The base's private helper is not visible in a subclass (E0118;
        // its private state variables are).
        let own: Vec<Sig> = methods[..k]
            .iter()
            .filter(|m| !m.is_self)
            .cloned()
            .collect();
        let mut ctx = Ctx {
            place: Place::ServerMethod,
            vars: vars.clone(),
            handles: vec![],
            funcs: self.funcs.len(),
            own,
            in_loop: false,
            arrays: vec![],
        };
        for (p, t) in &sig.params {
            if let Ty::Handle(s) = t {
                ctx.handles.push((p.clone(), *s));
            }
        }
        let body = self.fn_body(&sig, ctx, 1);
        let head = self.sig_head(&sig, None);
        let mut public = String::new();
        writeln!(public, "    {head} {}", indent(&body, 4)).unwrap();
        let mut all = methods.clone();
        let ret = self.pick(&[Ty::Int, Ty::Str, Ty::Real]).clone();
        let extra = self.signature("scmd", ret, 1, false);
        let ctx = self.body_ctx(Place::ServerMethod, vars, vec![]);
        let body = self.fn_body(&extra, ctx, 1);
        let head = self.sig_head(&extra, None);
        writeln!(public, "    {head} {}", indent(&body, 4)).unwrap();
        all.push(extra);
        writeln!(
            self.out,
            "server class {name} : {base_name} {{\n  public:\n{public}}}\n"
        )
        .unwrap();
        let index = self.servers.len();
        self.servers[base].subclasses.push(index);
        self.servers.push(Server {
            name,
            methods: all,
            vars: Vec::new(),
            subclasses: Vec::new(),
            queries: Vec::new(),
        });
    }

    // ----- bodies -----

    /// The context at the start of a function's or method's body: its
    /// variables and the methods it may call without a receiver.
    fn body_ctx(&self, place: Place, vars: Vec<Var>, own: Vec<Sig>) -> Ctx {
        Ctx {
            place,
            vars,
            handles: vec![],
            funcs: self.funcs.len(),
            own,
            in_loop: false,
            arrays: vec![],
        }
    }

    fn fn_body(&mut self, sig: &Sig, mut ctx: Ctx, stmts: usize) -> String {
        for (n, t) in &sig.params {
            if !matches!(t, Ty::Handle(_)) {
                ctx.vars.push(Var {
                    name: n.clone(),
                    ty: t.clone(),
                    assignable: false,
                });
            }
        }
        let mut s = String::from("{\n");
        let n = 1 + self.below(stmts + 1);
        for _ in 0..n {
            let st = self.stmt(&mut ctx, 1);
            s.push_str(&indent_lines(&st, 2));
        }
        if sig.ret != Ty::Void {
            let e = self.expr(&ctx, &sig.ret, 2);
            writeln!(s, "  return {e};").unwrap();
        }
        s.push('}');
        s
    }

    fn var_of(&mut self, ctx: &Ctx, ty: &Ty, assignable: bool) -> Option<String> {
        let c: Vec<&Var> = ctx
            .vars
            .iter()
            .filter(|v| v.ty == *ty && (!assignable || v.assignable))
            .collect();
        if c.is_empty() {
            None
        } else {
            Some(c[self.below(c.len())].name.clone())
        }
    }

    fn literal(&mut self, ty: &Ty) -> String {
        match ty {
            Ty::Int => self
                .pick(&["0", "1", "2", "3", "5", "7", "10", "1_000", "42"])
                .to_string(),
            Ty::Real => self
                .pick(&["0.5", "1.5", "2.0", "0.25", "1e-3", "3.75", "1.5E+2"])
                .to_string(),
            Ty::Bool => self.pick(&["true", "false"]).to_string(),
            Ty::Str => format!("\"{}\"", self.pick(STRINGS)),
            Ty::ListInt => "new list<int>".into(),
            Ty::MapStrInt => "new map<string, int>".into(),
            Ty::Obj => match self.sub_name.clone() {
                // A base-typed reference to a subclass object.
                Some(sub) if self.chance(0.5) => format!("new {sub}"),
                _ => format!("new {}", self.class_name),
            },
            Ty::Void | Ty::Handle(_) => unreachable!("no literal of {ty:?}"),
        }
    }

    /// Calls returning `ty` that are available here.
    fn calls(&mut self, ctx: &Ctx, ty: &Ty, depth: u32) -> Vec<String> {
        let mut out = Vec::new();
        let funcs: Vec<Sig> = self.funcs[..ctx.funcs].to_vec();
        for f in funcs.iter().filter(|f| f.ret == *ty) {
            if let Some(a) = self.args(ctx, &f.params, depth) {
                out.push(format!("{}({a})", f.name));
            }
        }
        for f in ctx.own.clone().iter().filter(|f| f.ret == *ty) {
            if let Some(a) = self.args(ctx, &f.params, depth) {
                out.push(format!("{}({a})", f.name));
            }
        }
        if ctx.place != Place::PlainMethod {
            let objs: Vec<String> = ctx
                .vars
                .iter()
                .filter(|v| v.ty == Ty::Obj)
                .map(|v| v.name.clone())
                .collect();
            for o in objs {
                for m in self.class_methods.clone().iter().filter(|m| m.ret == *ty) {
                    if let Some(a) = self.args(ctx, &m.params, depth) {
                        out.push(format!("{o}->{}({a})", m.name));
                    }
                }
            }
        }
        for (h, s) in ctx.handles.clone() {
            for m in self.servers[s]
                .methods
                .clone()
                .iter()
                .filter(|m| m.ret == *ty)
            {
                if let Some(a) = self.args(ctx, &m.params, depth) {
                    out.push(format!("{h}->{}({a})", m.name));
                }
            }
        }
        out
    }

    /// Arguments for `params`; `None` when a handle parameter has no handle
    /// of its class in scope.
    fn args(&mut self, ctx: &Ctx, params: &[(String, Ty)], depth: u32) -> Option<String> {
        let mut parts = Vec::new();
        for (_, t) in params {
            if let Ty::Handle(s) = t {
                let c: Vec<String> = ctx
                    .handles
                    .iter()
                    .filter(|h| h.1 == *s)
                    .map(|h| h.0.clone())
                    .collect();
                if c.is_empty() {
                    return None;
                }
                parts.push(c[self.below(c.len())].clone());
            } else {
                parts.push(self.expr(ctx, t, depth));
            }
        }
        Some(parts.join(", "))
    }

    fn expr(&mut self, ctx: &Ctx, ty: &Ty, depth: u32) -> String {
        if depth == 0 || self.chance(0.25) {
            if self.chance(0.6) {
                if let Some(v) = self.var_of(ctx, ty, false) {
                    return v;
                }
            }
            if *ty == Ty::Obj && !self.chance(0.8) {
                if let Some(v) = self.var_of(ctx, ty, false) {
                    return v;
                }
            }
            return self.literal(ty);
        }
        let d = depth - 1;
        if self.chance(0.2) {
            let calls = self.calls(ctx, ty, d);
            if !calls.is_empty() {
                return calls[self.below(calls.len())].clone();
            }
        }
        match ty {
            Ty::Int => self.int_expr(ctx, d),
            Ty::Real => self.real_expr(ctx, d),
            Ty::Bool => self.bool_expr(ctx, d),
            Ty::Str => self.str_expr(ctx, d),
            _ => self.expr(ctx, ty, 0),
        }
    }

    fn int_expr(&mut self, ctx: &Ctx, d: u32) -> String {
        let i = |g: &mut Gen| g.expr(ctx, &Ty::Int, d);
        match self.below(20) {
            0..=2 => format!("{} + {}", i(self), i(self)),
            3 | 4 => format!("({} - {})", i(self), i(self)),
            5 => format!("{} * {}", i(self), i(self)),
            6 => format!("{} / ({} % 7 + 8)", i(self), i(self)),
            7 => format!("({} % ({} % 5 + 6))", i(self), i(self)),
            8 => format!("-({})", i(self)),
            9 => format!("{}({}, {})", self.pick(&["min", "max"]), i(self), i(self)),
            10 => format!("abs({})", i(self)),
            11 => format!("len({})", self.expr(ctx, &Ty::Str, d)),
            12 => match self.var_of(ctx, &Ty::ListInt, false) {
                Some(l) => format!("{l}->size()"),
                None => format!("len(split({}, \",\"))", self.expr(ctx, &Ty::Str, d)),
            },
            13 => match self.var_of(ctx, &Ty::MapStrInt, false) {
                Some(m) => self
                    .pick(&[format!("{m}->size()"), format!("len({m})")])
                    .clone(),
                None => "0".into(),
            },
            14 => format!("to_int({})", self.expr(ctx, &Ty::Real, d)),
            15 => format!("parse_int(to_string({}))", i(self)),
            16 => format!(
                "index_of({}, {})",
                self.expr(ctx, &Ty::Str, d),
                self.expr(ctx, &Ty::Str, d)
            ),
            17 => match ctx.arrays.first().cloned() {
                Some((a, n)) => format!("{a}[{}]", self.below(n)),
                None => format!("len(\"{}\")", self.pick(STRINGS)),
            },
            18 => match self.var_of(ctx, &Ty::Obj, false) {
                Some(o) if ctx.place != Place::PlainMethod => {
                    format!("{o}->{}", self.class_attrs[0].0)
                }
                _ => self.literal(&Ty::Int),
            },
            _ => match self.var_of(ctx, &Ty::ListInt, false) {
                Some(l) => format!("len({l})"),
                None => self.literal(&Ty::Int),
            },
        }
    }

    fn real_expr(&mut self, ctx: &Ctx, d: u32) -> String {
        let r = |g: &mut Gen| g.expr(ctx, &Ty::Real, d);
        match self.below(14) {
            0..=2 => format!("{} + {}", r(self), r(self)),
            3 => format!("({} - {})", r(self), r(self)),
            4 => format!("{} * {}", r(self), r(self)),
            5 => format!("{} / {}", r(self), r(self)),
            6 => format!("sqrt(abs({}))", r(self)),
            7 => format!(
                "{}({})",
                self.pick(&["sin", "cos", "floor", "ceil", "round"]),
                r(self)
            ),
            8 => format!("atan2({}, {})", r(self), r(self)),
            9 => format!("to_real({})", self.expr(ctx, &Ty::Int, d)),
            10 => format!("{}({}, {})", self.pick(&["min", "max"]), r(self), r(self)),
            11 => format!(
                "parse_real({})",
                self.pick(&["\"2.5\"", "\" 1e2 \"", "\"-0.125\""])
            ),
            12 => format!("{} * {}", self.expr(ctx, &Ty::Int, d), r(self)),
            _ => match self.var_of(ctx, &Ty::Obj, false) {
                Some(o) if ctx.place != Place::PlainMethod => {
                    format!("{o}->{}", self.class_attrs[1].0)
                }
                _ => r(self),
            },
        }
    }

    fn bool_expr(&mut self, ctx: &Ctx, d: u32) -> String {
        match self.below(10) {
            0 | 1 => {
                let op = *self.pick(&["<", "<=", ">", ">=", "==", "!="]);
                format!(
                    "{} {op} {}",
                    self.expr(ctx, &Ty::Int, d),
                    self.expr(ctx, &Ty::Int, d)
                )
            }
            2 => {
                let op = *self.pick(&["<", ">="]);
                format!(
                    "{} {op} {}",
                    self.expr(ctx, &Ty::Real, d),
                    self.expr(ctx, &Ty::Real, d)
                )
            }
            3 => {
                let op = *self.pick(&["==", "!="]);
                format!(
                    "{} {op} {}",
                    self.expr(ctx, &Ty::Str, d),
                    self.expr(ctx, &Ty::Str, d)
                )
            }
            4 => format!(
                "{} && {}",
                self.expr(ctx, &Ty::Bool, d),
                self.expr(ctx, &Ty::Bool, d)
            ),
            5 => format!(
                "({} || {})",
                self.expr(ctx, &Ty::Bool, d),
                self.expr(ctx, &Ty::Bool, d)
            ),
            6 => format!("!({})", self.expr(ctx, &Ty::Bool, d)),
            7 => match self.var_of(ctx, &Ty::MapStrInt, false) {
                Some(m) => format!("{m}->has({})", self.expr(ctx, &Ty::Str, d)),
                None => "true".into(),
            },
            8 => match self.var_of(ctx, &Ty::Obj, false) {
                Some(o) => format!("{o} {} null", self.pick(&["==", "!="])),
                None => "false".into(),
            },
            _ => self.literal(&Ty::Bool),
        }
    }

    fn str_expr(&mut self, ctx: &Ctx, d: u32) -> String {
        let s = |g: &mut Gen| g.expr(ctx, &Ty::Str, d);
        match self.below(13) {
            0..=2 => format!("{} + {}", s(self), s(self)),
            3 => format!("{} + {}", s(self), self.expr(ctx, &Ty::Int, d)),
            4 => {
                let t = self.scalar();
                format!("to_string({})", self.expr(ctx, &t, d))
            }
            5 => format!("trim({})", s(self)),
            6 => {
                let x = s(self);
                format!("substr({x}, 0, min(len({x}), {}))", 1 + self.below(4))
            }
            7 => format!("char_at({} + \"z\", 0)", s(self)),
            8 => match self.var_of(ctx, &Ty::ListInt, false) {
                Some(l) => format!("to_string({l})"),
                None => s(self),
            },
            9 => match self.var_of(ctx, &Ty::MapStrInt, false) {
                Some(m) => format!("to_string({m}->keys())"),
                None => s(self),
            },
            10 => match self.var_of(ctx, &Ty::Obj, false) {
                Some(o) if ctx.place != Place::PlainMethod => {
                    if self.chance(0.5) {
                        format!("{o}->{}", self.class_attrs[2].0)
                    } else {
                        format!("to_string({o})")
                    }
                }
                _ => s(self),
            },
            11 => format!("split({}, \",\")->get(0)", s(self)),
            _ => format!(
                "\"{}\" + {}",
                self.pick(STRINGS),
                self.expr(ctx, &Ty::Real, d)
            ),
        }
    }
}

impl Gen {
    // ----- statements -----

    /// One statement (possibly compound) as text, declaring into `ctx`.
    fn stmt(&mut self, ctx: &mut Ctx, depth: u32) -> String {
        let compound = depth < 3;
        match self.below(if compound { 16 } else { 10 }) {
            0 | 1 => {
                let ty = self.value_ty();
                let name = self.fresh("v");
                let e = self.expr(ctx, &ty, 2);
                let t = self.ty_text(&ty);
                ctx.vars.push(Var {
                    name: name.clone(),
                    ty,
                    assignable: true,
                });
                format!("{t} {name} = {e};\n")
            }
            2 | 3 => self.assign(ctx),
            4 => {
                self.others_print |= ctx.place != Place::Main;
                let e = self.print_args(ctx);
                format!("{}({e});\n", self.pick(&["println", "println", "print"]))
                    + if self.chance(0.3) { "println();\n" } else { "" }
            }
            5 => self.collection_stmt(ctx),
            6 => {
                // A call for its effect.
                let ty = self.pick(&[Ty::Void, Ty::Void, Ty::Int]).clone();
                let calls = self.calls(ctx, &ty, 1);
                if calls.is_empty() {
                    self.assign(ctx)
                } else {
                    format!("{};\n", calls[self.below(calls.len())])
                }
            }
            7 if ctx.in_loop => {
                let c = self.expr(ctx, &Ty::Bool, 1);
                format!("if ({c}) {{ {}; }}\n", self.pick(&["break", "continue"]))
            }
            8 => {
                let c = self.expr(ctx, &Ty::Bool, 1);
                format!("assert {c};\n")
            }
            9 => {
                let c = self.expr(ctx, &Ty::Bool, 1);
                let m = self.expr(ctx, &Ty::Str, 1);
                format!("if ({c}) {{ raise {m}; }}\n")
            }
            10 | 11 => {
                let c = self.expr(ctx, &Ty::Bool, 2);
                let a = self.block(ctx, depth + 1, 2);
                if self.chance(0.5) {
                    let b = self.block(ctx, depth + 1, 2);
                    format!("if ({c}) {a} else {b}\n")
                } else {
                    format!("if ({c}) {a}\n")
                }
            }
            12 => {
                let i = self.fresh("i");
                let lo = self.below(2);
                let hi = lo + 1 + self.below(4);
                let op = *self.pick(&["<", "<="]);
                let hi = if op == "<=" { hi - 1 } else { hi };
                let mut inner = ctx.clone();
                inner.in_loop = true;
                inner.vars.push(Var {
                    name: i.clone(),
                    ty: Ty::Int,
                    assignable: false,
                });
                let b = self.block(&mut inner, depth + 1, 3);
                format!("for every {i}, {lo} <= {i} {op} {hi} {b}\n")
            }
            13 => {
                let w = self.fresh("w");
                let bound = 1 + self.below(4);
                let mut inner = ctx.clone();
                inner.in_loop = true;
                inner.vars.push(Var {
                    name: w.clone(),
                    ty: Ty::Int,
                    assignable: false,
                });
                let b = self.block(&mut inner, depth + 1, 3);
                format!(
                    "int {w} = 0;\nwhile ({w} < {bound}) {{\n  {w}++;\n{}}}\n",
                    indent_lines(b.trim_start_matches('{').trim_end_matches('}'), 0)
                )
            }
            14 => {
                let k = self.fresh("k");
                let bound = 1 + self.below(4);
                let mut inner = ctx.clone();
                inner.in_loop = true;
                inner.vars.push(Var {
                    name: k.clone(),
                    ty: Ty::Int,
                    assignable: false,
                });
                let b = self.block(&mut inner, depth + 1, 2);
                format!("for (int {k} = {bound}; {k} > 0; {k}--) {b}\n")
            }
            _ => {
                // A local try: raise and catch, by kind or as any failure.
                self.others_print |= ctx.place != Place::Main;
                let a = self.block(ctx, depth + 1, 2);
                let m = self.expr(ctx, &Ty::Str, 1);
                let e = self.fresh("e");
                let kind = *self.pick(&["program_error", "failure"]);
                format!(
                    "try {{\n{}  raise {m};\n}} catch (timeout) {{\n  println(\"no timeout here\");\n}} catch ({kind} {e}) {{\n  println(\"caught \", {e}->message);\n}}\n",
                    indent_lines(a.trim_start_matches('{').trim_end_matches('}'), 0)
                )
            }
        }
    }

    fn block(&mut self, ctx: &mut Ctx, depth: u32, max: usize) -> String {
        let mut inner = ctx.clone();
        let n = 1 + self.below(max);
        let mut s = String::from("{\n");
        for _ in 0..n {
            let st = self.stmt(&mut inner, depth);
            s.push_str(&indent_lines(&st, 2));
        }
        s.push('}');
        s
    }

    fn print_args(&mut self, ctx: &Ctx) -> String {
        let n = 1 + self.below(3);
        let mut parts = vec![format!("\"{}: \"", self.fresh("out"))];
        for _ in 0..n {
            let ty = self.value_ty();
            parts.push(self.expr(ctx, &ty, 2));
        }
        parts.join(", \" \", ")
    }

    fn assign(&mut self, ctx: &mut Ctx) -> String {
        let ty = self.scalar();
        let Some(v) = self.var_of(ctx, &ty, true) else {
            let name = self.fresh("v");
            let e = self.expr(ctx, &ty, 2);
            let t = self.ty_text(&ty);
            ctx.vars.push(Var {
                name: name.clone(),
                ty,
                assignable: true,
            });
            return format!("{t} {name} = {e};\n");
        };
        match ty {
            Ty::Int => match self.below(4) {
                0 => format!("{v}++;\n"),
                1 => format!("{v}--;\n"),
                2 => format!(
                    "{v} {} {};\n",
                    self.pick(&["+=", "-=", "*="]),
                    self.expr(ctx, &Ty::Int, 1)
                ),
                _ => format!("{v} = {};\n", self.expr(ctx, &Ty::Int, 2)),
            },
            Ty::Real => format!(
                "{v} {} {};\n",
                self.pick(&["=", "+=", "-=", "*=", "/="]),
                self.expr(ctx, &Ty::Real, 2)
            ),
            Ty::Str => format!(
                "{v} = {};\nif (len({v}) > 24) {{ {v} = substr({v}, 0, 12); }}\n",
                self.expr(ctx, &Ty::Str, 2)
            ),
            _ => format!("{v} = {};\n", self.expr(ctx, &ty, 2)),
        }
    }

    fn collection_stmt(&mut self, ctx: &mut Ctx) -> String {
        match self.below(6) {
            0 | 1 => match self.var_of(ctx, &Ty::ListInt, false) {
                Some(l) => match self.below(3) {
                    0 => format!("{l}->add({});\n", self.expr(ctx, &Ty::Int, 2)),
                    1 => format!("if ({l}->size() > 0) {{ {l}->remove(0); }}\n"),
                    _ => format!(
                        "if ({l}->size() > 1) {{ {l}->set(1, {l}->get(0) + {}); }}\n",
                        self.expr(ctx, &Ty::Int, 1)
                    ),
                },
                None => self.assign(ctx),
            },
            2 | 3 => match self.var_of(ctx, &Ty::MapStrInt, false) {
                Some(m) => match self.below(3) {
                    0 | 1 => format!(
                        "{m}->put({}, {});\n",
                        self.expr(ctx, &Ty::Str, 1),
                        self.expr(ctx, &Ty::Int, 1)
                    ),
                    _ => {
                        let k = self.expr(ctx, &Ty::Str, 1);
                        format!("if ({m}->has({k})) {{ {m}->put(\"again\", {m}->get({k})); {m}->remove({k}); }}\n")
                    }
                },
                None => self.assign(ctx),
            },
            4 => match ctx.arrays.first().cloned() {
                Some((a, n)) => format!(
                    "{a}[{}] {} {};\n",
                    self.below(n),
                    self.pick(&["=", "+="]),
                    self.expr(ctx, &Ty::Int, 2)
                ),
                None => self.assign(ctx),
            },
            _ => match self.var_of(ctx, &Ty::Obj, false) {
                Some(o) if ctx.place != Place::PlainMethod => {
                    let which = self.below(3);
                    let (attr, ty) = self.class_attrs[which].clone();
                    let e = self.expr(ctx, &ty, 1);
                    format!("if ({o} != null) {{ {o}->{attr} = {e}; }}\n")
                }
                _ => self.assign(ctx),
            },
        }
    }
}

impl Gen {
    // ----- main -----

    /// `server C …` with random properties that `self.hosts` hosts can place.
    fn start(&mut self, class: &str, array: Option<usize>) -> String {
        let mut props: Vec<String> = Vec::new();
        let roll = self.below(10);
        let tol = if self.chance(0.5) {
            "tolerate"
        } else {
            "tolerance"
        };
        let need = match roll {
            0..=2 => {
                if self.chance(0.3) {
                    props.push("model correct".into());
                }
                if self.chance(0.2) {
                    props.push(format!("{tol} (0)"));
                }
                1
            }
            3..=8 => {
                let t = *self.pick(&[0usize, 1, 1, 1, 2]);
                props.push("model crash".into());
                props.push(format!("{tol} ({t})"));
                t + 1
            }
            _ => {
                let t = if array.is_none() && self.chance(0.3) {
                    1
                } else {
                    0
                };
                if t == 1 {
                    self.hosts = 4;
                }
                props.push("model byzantine".into());
                props.push(format!("{tol} ({t})"));
                3 * t + 1
            }
        };
        if self.chance(0.25) {
            let r = 1 + self.below(need.max(2));
            props.push(format!("replicas ({})", r.min(self.hosts as usize)));
        }
        if self.chance(0.3) {
            props.push(format!("priority ({})", self.below(6)));
        }
        if self.chance(0.15) {
            props.push(
                self.pick(&[
                    "hosts (host(\"h2\"), host(\"h3\"))",
                    "hosts (my_host())",
                    "hosts (host(\"h1\"), host(\"h3\"), host(\"h2\"))",
                ])
                .to_string(),
            );
        }
        if array.is_some() && self.chance(0.5) {
            props.push("disjoint".into());
        }
        // Properties in any order.
        for i in (1..props.len()).rev() {
            let j = self.below(i + 1);
            props.swap(i, j);
        }
        let size = array.map(|n| format!(" [{n}]")).unwrap_or_default();
        format!("server {class}{size} {}", props.join(" "))
    }

    fn main(&mut self) -> (i32, Option<String>) {
        let ending = self.below(10);
        let int_main = (7..9).contains(&ending);
        let mut m = String::new();
        writeln!(m, "{} main () {{", if int_main { "int" } else { "void" }).unwrap();
        let mut ctx = Ctx {
            place: Place::Main,
            vars: vec![
                Var {
                    name: "g_count".into(),
                    ty: Ty::Int,
                    assignable: true,
                },
                Var {
                    name: "g_scale".into(),
                    ty: Ty::Real,
                    assignable: true,
                },
                Var {
                    name: "g_tag".into(),
                    ty: Ty::Str,
                    assignable: true,
                },
            ],
            handles: vec![],
            funcs: self.funcs.len(),
            own: vec![],
            in_loop: false,
            arrays: vec![("g_hist".into(), 4)],
        };
        let arr = self.fresh("arr");
        let n = 2 + self.below(4);
        writeln!(m, "  int {arr}[{n}];").unwrap();
        ctx.arrays.insert(0, (arr, n));
        for ty in [
            Ty::Int,
            Ty::Real,
            Ty::Bool,
            Ty::Str,
            Ty::ListInt,
            Ty::MapStrInt,
            Ty::Obj,
        ] {
            let name = self.fresh("x");
            // Outside every segment's `try`: nothing that may raise.
            let e = self.expr(&ctx, &ty, 0);
            let t = self.ty_text(&ty);
            writeln!(m, "  {t} {name} = {e};").unwrap();
            ctx.vars.push(Var {
                name,
                ty,
                assignable: true,
            });
        }
        // Start every server class; one of them, maybe, as an array.
        let array_of = if self.chance(0.3) {
            Some(self.below(self.servers.len()))
        } else {
            None
        };
        for i in 0..self.servers.len() {
            let class = self.servers[i].name.clone();
            let h = self.fresh("srv");
            if array_of == Some(i) {
                let size = 2 + self.below(2);
                let start = self.start(&class, Some(size));
                writeln!(m, "  {class} {h}[{size}] = {start};").unwrap();
                for k in 0..size {
                    ctx.handles.push((format!("{h}[{k}]"), i));
                }
            } else {
                // A base-typed handle may name a server of a subclass.
                let subs = self.servers[i].subclasses.clone();
                let started = if !subs.is_empty() && self.chance(0.5) {
                    let pick = subs[self.below(subs.len())];
                    self.servers[pick].name.clone()
                } else {
                    class.clone()
                };
                let start = self.start(&started, None);
                writeln!(m, "  {class} {h} = {start};").unwrap();
                ctx.handles.push((h, i));
            }
        }
        let segments = 2 + self.below(3);
        for seg in 0..segments {
            let body = self.segment(&mut ctx.clone());
            writeln!(
                m,
                "  try {{\n{}  }} catch (program_error e) {{\n    println(\"segment {seg}: \", e->message);\n  }} catch (assertion_failure e) {{\n    println(\"segment {seg} assertion: \", e->message);\n  }}",
                indent_lines(&body, 4)
            )
            .unwrap();
        }
        writeln!(m, "  note(depth_sum({}));", self.below(6)).unwrap();
        writeln!(
            m,
            "  println(\"globals \", g_count, \" \", g_hist, \" \", g_scale, \" \", g_tag);"
        )
        .unwrap();
        let names: Vec<String> = ctx.vars.iter().skip(3).map(|v| v.name.clone()).collect();
        writeln!(m, "  println(\"final \", {});", names.join(", \" \", ")).unwrap();
        let result = if int_main {
            let code = self.below(10) as i32;
            writeln!(m, "  return {code};").unwrap();
            (code, None)
        } else if ending == 9 {
            let k = self.below(100);
            writeln!(m, "  raise \"final \" + {k};").unwrap();
            (1, Some(format!("program_error: final {k}")))
        } else {
            (0, None)
        };
        writeln!(m, "}}").unwrap();
        self.out.push_str(&m);
        result
    }

    /// The body of one of main's segments.
    fn segment(&mut self, ctx: &mut Ctx) -> String {
        let mut s = String::new();
        let kinds = 1 + self.below(3);
        for _ in 0..kinds {
            let part = match self.below(8) {
                0 | 1 => {
                    let mut p = String::new();
                    for _ in 0..1 + self.below(3) {
                        p.push_str(&self.stmt(ctx, 1));
                    }
                    p
                }
                2 if self.chance(0.5) => self.parallel_reads(ctx),
                2 => self.sync_calls(ctx),
                3 | 4 => self.invoke_one(ctx),
                5 => self.invoke_many(ctx),
                6 => format!("note({});\n", self.expr(ctx, &Ty::Int, 2)),
                _ => self.break_contract(ctx),
            };
            s.push_str(&part);
        }
        s
    }

    fn any_command(&mut self, ctx: &Ctx, non_void: bool) -> Option<(String, Sig)> {
        let mut all = Vec::new();
        for (h, s) in &ctx.handles {
            for m in &self.servers[*s].methods {
                if !non_void || m.ret != Ty::Void {
                    all.push((h.clone(), m.clone()));
                }
            }
        }
        if all.is_empty() {
            None
        } else {
            Some(all[self.below(all.len())].clone())
        }
    }

    /// Two to four consecutive reads of servers through their queries, with
    /// literal or variable arguments: a run the call-parallelizing
    /// optimization makes parallel (when the handles are variables and no
    /// subclass overrides a query with effects).
    fn parallel_reads(&mut self, ctx: &mut Ctx) -> String {
        let mut pairs = Vec::new();
        for (h, server) in &ctx.handles {
            for q in &self.servers[*server].queries {
                pairs.push((h.clone(), q.clone()));
            }
        }
        if pairs.is_empty() {
            return String::new();
        }
        let mut s = String::new();
        let mut read = Vec::new();
        for _ in 0..2 + self.below(3) {
            let (h, q) = pairs[self.below(pairs.len())].clone();
            let mut args = Vec::new();
            for (_, t) in &q.params {
                let var = self.var_of(ctx, t, false).filter(|_| self.chance(0.5));
                args.push(var.unwrap_or_else(|| self.literal(t)));
            }
            let v = self.fresh("read");
            let t = self.ty_text(&q.ret);
            writeln!(s, "{t} {v} = {h}->{}({});", q.name, args.join(", ")).unwrap();
            read.push((v, q.ret.clone()));
        }
        let shown: Vec<&str> = read.iter().map(|(v, _)| v.as_str()).collect();
        writeln!(s, "println(\"reads \", {});", shown.join(", \" \", ")).unwrap();
        for (name, ty) in read {
            ctx.vars.push(Var {
                name,
                ty,
                assignable: true,
            });
        }
        s
    }

    fn sync_calls(&mut self, ctx: &mut Ctx) -> String {
        let mut s = String::new();
        for _ in 0..1 + self.below(3) {
            let Some((h, m)) = self.any_command(ctx, false) else {
                break;
            };
            let Some(a) = self.args(ctx, &m.params, 1) else {
                continue;
            };
            if m.ret == Ty::Void {
                writeln!(s, "{h}->{}({a});", m.name).unwrap();
            } else if self.chance(0.5) {
                let v = self.fresh("got");
                let t = self.ty_text(&m.ret);
                writeln!(s, "{t} {v} = {h}->{}({a});", m.name).unwrap();
                writeln!(s, "println(\"{v} \", {v});").unwrap();
                ctx.vars.push(Var {
                    name: v,
                    ty: m.ret.clone(),
                    assignable: true,
                });
            } else {
                writeln!(s, "println(\"call \", {h}->{}({a}));", m.name).unwrap();
            }
        }
        s
    }

    fn invoke_one(&mut self, ctx: &mut Ctx) -> String {
        let Some((h, m)) = self.any_command(ctx, true) else {
            return String::new();
        };
        let Some(a) = self.args(ctx, &m.params, 1) else {
            return String::new();
        };
        let f = self.fresh("fut");
        let ty = if self.chance(0.5) {
            "future".to_string()
        } else {
            format!("future<{}>", self.ty_text(&m.ret))
        };
        let mut s = format!("{ty} {f} = invoke {h}->{}({a});\n", m.name);
        match self.below(4) {
            0 => writeln!(s, "println(\"result \", {f}->result);").unwrap(),
            1 => {
                let i = self.fresh("idx");
                writeln!(
                    s,
                    "int {i} = accept ({f}, 1);\nprintln(\"accepted \", {i}, \" \", {f}->result);"
                )
                .unwrap();
                // Nothing is left to accept: the timeout block runs, -1.
                let j = self.fresh("none");
                writeln!(s, "int {j} = accept ({f}, 1) timeout (0.05) {{ println(\"nothing left\"); }}\nprintln(\"then \", {j});").unwrap();
            }
            2 => {
                writeln!(
                    s,
                    "accept ({f}, 1) timeout (30.0) {{ println(\"too slow\"); }}"
                )
                .unwrap();
                writeln!(s, "try {{\n  accept ({f}, 1) timeout (0.05);\n  println(\"not reached\");\n}} catch (timeout t) {{\n  println(\"timeout: \", t->message);\n}}").unwrap();
                writeln!(s, "println(\"result \", {f}->result);").unwrap();
            }
            _ => {
                let v = self.fresh("res");
                let t = self.ty_text(&m.ret);
                writeln!(
                    s,
                    "accept ({f}, 1);\n{t} {v} = {f}->result;\nprintln(\"{v} \", {v});"
                )
                .unwrap();
                ctx.vars.push(Var {
                    name: v,
                    ty: m.ret.clone(),
                    assignable: true,
                });
            }
        }
        s
    }

    fn invoke_many(&mut self, ctx: &mut Ctx) -> String {
        let Some((h, m)) = self.any_command(ctx, true) else {
            return String::new();
        };
        let n = 2 + self.below(3);
        let fs = self.fresh("futs");
        let k = self.fresh("k");
        let mut inner = ctx.clone();
        inner.vars.push(Var {
            name: k.clone(),
            ty: Ty::Int,
            assignable: false,
        });
        let Some(a) = self.args(&inner, &m.params, 1) else {
            return String::new();
        };
        let ty = if self.chance(0.5) {
            "future".to_string()
        } else {
            format!("future<{}>", self.ty_text(&m.ret))
        };
        let got = self.fresh("got");
        let idx = self.fresh("idx");
        let mut s = format!(
            "{ty} {fs}[{n}];\nfor every {k}, 0 <= {k} < {n} {{ {fs}[{k}] = invoke {h}->{}({a}); }}\nint {got} = 0;\n",
            m.name
        );
        let j = self.fresh("j");
        writeln!(
            s,
            "for every {j}, 0 <= {j} < {n} {{\n  int {idx} = accept ({fs}, {n}) timeout (30.0) {{ println(\"late\"); break; }}\n  {got} += 1;\n  print(\"\", {fs}[{idx}]->result);\n}}\nprintln();\nprintln(\"{got} \", {got});"
        )
        .unwrap();
        self.arrival_order = true;
        if m.ret == Ty::Int {
            let sum = self.fresh("sum");
            writeln!(s, "int {sum} = 0;\nfor every {j}, 0 <= {j} < {n} {{ {sum} += {fs}[{j}]->result; }}\nprintln(\"{sum} \", {sum});").unwrap();
        }
        s
    }

    /// A call that breaks a `requires`: `assertion_failure` in main.
    fn break_contract(&mut self, ctx: &mut Ctx) -> String {
        let mut cands = Vec::new();
        for (h, sidx) in &ctx.handles {
            for m in &self.servers[*sidx].methods {
                if m.requires_nonneg {
                    cands.push(format!("{h}->{}", m.name));
                }
            }
        }
        let Some(c) = (if cands.is_empty() {
            None
        } else {
            Some(cands[self.below(cands.len())].clone())
        }) else {
            return self.sync_calls(ctx);
        };
        let sig = self
            .servers
            .iter()
            .flat_map(|s| s.methods.iter())
            .find(|m| c.ends_with(&format!("->{}", m.name)))
            .cloned()
            .expect("the method exists");
        let rest = self.args(ctx, &sig.params[1..], 1).unwrap_or_default();
        let sep = if rest.is_empty() { "" } else { ", " };
        let e = self.fresh("broken");
        format!("try {{\n  {c}(-1{sep}{rest});\n}} catch (assertion_failure {e}) {{\n  println(\"contract: \", {e}->message);\n}}\n")
    }
}

/// A declaration without a body: a last contract's `;` already ends it.
fn declaration(head: &str) -> String {
    if head.ends_with(';') {
        head.to_string()
    } else {
        format!("{head};")
    }
}

fn indent(body: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    body.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent_lines(body: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    let mut s = String::new();
    for l in body.lines() {
        writeln!(s, "{pad}{l}").unwrap();
    }
    s
}
