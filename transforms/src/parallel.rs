//! The call-parallelizing optimization (LANGUAGE.md, "Optimization"):
//! consecutive synchronous calls on servers become invokes followed by
//! accepts in program order, where that is observably identical to making
//! them one after another.
//!
//! Identical means: the same outputs, the same exceptions in the same order,
//! the same server states. This pass proves it for a run of statements
//!
//! ```text
//!   T1 x1 = r1->m1(a, …);     (or  x1 = r1->m1(a, …);  with a local x1)
//!   T2 x2 = r2->m2(b, …);
//!   …
//! ```
//!
//! when every method called is a *query* — it changes no state, prints and
//! writes nothing, calls no other method or server and starts none, in its
//! class and in every subclass that overrides it — so no call can see
//! another's effect whatever servers the handles name (two may be the same
//! server), and making a later call that an earlier one's exception would
//! have prevented changes nothing; when every receiver and argument is a
//! variable or a literal (evaluating it cannot raise, and its value is the
//! same before and after the earlier calls); and when no receiver or
//! argument reads a variable an earlier statement of the run assigns. Code
//! generation then evaluates and invokes every call of the run, and takes
//! the results in program order, each raising where its statement would
//! (an invoke that failed raises at its own statement's turn). Anything
//! else stays sequential.

use ftc_frontend::program::{Builtin, ListMethod, MapMethod, Resolution, VarKind};
use ftc_frontend::types::{FnId, Ty, VarId};
use ftc_frontend::CheckedProgram;
use ftc_grammar::{AssignOp, Block, Expr, ExprKind, Span, Stmt, StmtKind};
use std::collections::{BTreeSet, HashMap};

use crate::ProgramIr;

/// A run of statements whose calls are made in parallel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParallelRun {
    /// The statements, in program order (at least two).
    pub stmts: Vec<Span>,
}

/// Every run of the program, and the server methods proven queries.
#[derive(Clone, Debug, Default)]
pub struct Parallel {
    pub runs: Vec<ParallelRun>,
    /// The run starting at a statement's span (start, end): its length.
    pub starts: HashMap<(u32, u32), usize>,
}

impl Parallel {
    /// The number of statements of the run that starts at `stmt`, if any.
    pub fn run_at(&self, stmt: Span) -> Option<usize> {
        self.starts.get(&(stmt.start, stmt.end)).copied()
    }
}

/// Finds every run of the program (`ir`: its variables by declaration).
pub fn find(program: &CheckedProgram, ir: &ProgramIr) -> Parallel {
    let mut queries = Queries::new(program);
    let mut found = Parallel::default();
    crate::walk::blocks(&program.ast, &mut |b| {
        runs_in(program, ir, &mut queries, b, &mut found)
    });
    for run in &found.runs {
        let first = run.stmts[0];
        found
            .starts
            .insert((first.start, first.end), run.stmts.len());
    }
    found
}

/// The statements of one candidate: the call, the variable it assigns.
struct Candidate<'a> {
    call: &'a Expr,
    target: VarId,
}

fn runs_in(
    program: &CheckedProgram,
    ir: &ProgramIr,
    queries: &mut Queries,
    b: &Block,
    found: &mut Parallel,
) {
    let mut run: Vec<&Stmt> = Vec::new();
    let mut written: BTreeSet<VarId> = BTreeSet::new();
    let mut flush = |run: &mut Vec<&Stmt>, written: &mut BTreeSet<VarId>| {
        if run.len() >= 2 {
            let stmts = run.iter().map(|s| s.span).collect();
            found.runs.push(ParallelRun { stmts });
        }
        run.clear();
        written.clear();
    };
    for s in &b.stmts {
        let Some(c) = candidate(program, ir, queries, s) else {
            flush(&mut run, &mut written);
            continue;
        };
        let reads = reads_of(program, c.call);
        if reads.iter().any(|v| written.contains(v)) {
            // Depends on an earlier call of the run: a new run starts here.
            flush(&mut run, &mut written);
        }
        written.insert(c.target);
        run.push(s);
    }
    flush(&mut run, &mut written);
}

/// `T x = r->m(args);` or `x = r->m(args);` (a local `x`) calling a query
/// with a variable receiver and variable or literal arguments, the result
/// stored without conversion.
fn candidate<'a>(
    program: &CheckedProgram,
    ir: &ProgramIr,
    queries: &mut Queries,
    s: &'a Stmt,
) -> Option<Candidate<'a>> {
    let (target, call) = match &s.kind {
        StmtKind::VarDecl(d) => {
            let [(decl, Some(init))] = d.vars.as_slice() else {
                return None;
            };
            if decl.array.is_some() {
                return None;
            }
            let target = ir
                .var_at(decl.name.span)
                .filter(|v| matches!(program.var(*v).kind, VarKind::Local))?;
            (target, init)
        }
        StmtKind::Assign {
            target,
            op: AssignOp::Assign,
            value,
        } => {
            let Some(Resolution::Var(v)) = program.resolution(target.id) else {
                return None;
            };
            if !matches!(target.kind, ExprKind::Name(_))
                || !matches!(program.var(*v).kind, VarKind::Local)
            {
                return None;
            }
            (*v, value)
        }
        _ => return None,
    };
    let ExprKind::MethodCall { receiver, args, .. } = &call.kind else {
        return None;
    };
    let Some(Resolution::ServerMethod(f)) = program.resolution(call.id) else {
        return None;
    };
    let stored = &program.var(target).ty;
    let result = program.type_of(call.id)?;
    let simple = |e: &Expr| match &e.kind {
        ExprKind::Int(_) | ExprKind::Real(_) | ExprKind::Str(_) | ExprKind::Bool(_) => true,
        ExprKind::Name(_) => matches!(program.resolution(e.id), Some(Resolution::Var(_))),
        _ => false,
    };
    let ok = stored == result
        && !matches!(result, Ty::Unknown)
        && matches!(receiver.kind, ExprKind::Name(_))
        && simple(receiver)
        && args.iter().all(simple)
        && queries.is_query(program, *f);
    ok.then_some(Candidate { call, target })
}

/// The variables a call's receiver and arguments read.
fn reads_of(program: &CheckedProgram, call: &Expr) -> Vec<VarId> {
    let mut reads = Vec::new();
    crate::walk::expr(call, &mut |e| {
        if let Some(Resolution::Var(v)) = program.resolution(e.id) {
            reads.push(*v);
        }
    });
    reads
}

/// Which server methods are queries (see the module documentation).
struct Queries {
    /// Per method, whether its own definition has no effect.
    own: HashMap<FnId, bool>,
    /// Per method asked about, whether it is a query (overrides included):
    /// asked once per call site, computed once per method.
    known: HashMap<FnId, bool>,
}

impl Queries {
    fn new(program: &CheckedProgram) -> Queries {
        let mut own = HashMap::new();
        for class in program.server_classes() {
            for f in program.all_methods(class) {
                own.entry(f).or_insert_with(|| effect_free(program, f));
            }
        }
        Queries {
            own,
            known: HashMap::new(),
        }
    }

    /// `f` and every override of it in a subclass of its class (the server a
    /// handle names may be of any subclass) have no effect.
    fn is_query(&mut self, program: &CheckedProgram, f: FnId) -> bool {
        if let Some(&known) = self.known.get(&f) {
            return known;
        }
        let info = program.function(f);
        let query = info.owner.is_some_and(|owner| {
            program
                .server_classes()
                .filter(|d| program.is_subclass(*d, owner))
                .flat_map(|d| program.all_methods(d))
                .filter(|m| program.function(*m).name == info.name)
                .all(|m| self.own.get(&m).copied().unwrap_or(false))
        });
        self.known.insert(f, query);
        query
    }
}

/// Whether a method's definition has no effect beyond its result and its
/// exceptions: it assigns only its own locals and parameters (by name, not
/// through an index or member), calls only pure built-ins and the reading
/// methods of lists and maps, and makes no call, invoke, accept, server
/// start or object creation.
fn effect_free(program: &CheckedProgram, f: FnId) -> bool {
    let Some(body) = program.function_ast(f).and_then(|a| a.body.as_ref()) else {
        return false;
    };
    let mut pure = true;
    crate::walk::stmts_of(body, &mut |s| {
        if let StmtKind::Assign { target, .. } = &s.kind {
            let local = matches!(target.kind, ExprKind::Name(_))
                && matches!(
                    program.resolution(target.id),
                    Some(Resolution::Var(v))
                        if matches!(program.var(*v).kind, VarKind::Local | VarKind::Param { .. })
                );
            pure &= local;
        }
    });
    crate::walk::block_exprs(body, &mut |e| {
        pure &= match &e.kind {
            ExprKind::Call { .. } => matches!(
                program.resolution(e.id),
                Some(Resolution::Builtin(b)) if pure_builtin(*b)
            ),
            ExprKind::MethodCall { .. } => matches!(
                program.resolution(e.id),
                Some(Resolution::ListMethod(ListMethod::Get | ListMethod::Size))
                    | Some(Resolution::MapMethod(
                        MapMethod::Get | MapMethod::Has | MapMethod::Keys | MapMethod::Size
                    ))
            ),
            ExprKind::New { .. }
            | ExprKind::Server { .. }
            | ExprKind::Invoke { .. }
            | ExprKind::Accept { .. }
            | ExprKind::Error => false,
            _ => true,
        };
    });
    pure
}

/// Built-ins that compute a value from their arguments and touch nothing.
fn pure_builtin(b: Builtin) -> bool {
    use Builtin::*;
    match b {
        Sqrt | Abs | Min | Max | Floor | Sin | Cos | Atan2 | Len | ToString | Split | Trim
        | ParseInt | ParseReal | ToInt | ToReal | Round | Ceil | Substr | IndexOf | CharAt => true,
        Print | Println | ReadLines | WriteFile | Args | MyHost | Host | Now | Random | Sleep => {
            false
        }
    }
}
