//! Ordered lowering passes from the checked CMSL program to the replication IR.
//!
//! [`lower`] runs the passes in this order; each module states what holds after it:
//!
//! 1. [`support`]: the program uses only constructs code generation supports.
//! 2. [`names`]: every class, field, method and command has its Rust name;
//!    every class knows its inheritance tree (root, members, fields).
//! 3. [`servers`]: every server class has its commands (one per public method
//!    it answers, inherited ones first, numbered in that order), the replies
//!    they carry and its dispatch.
//! 4. [`handles`]: every variable of server class type is known to hold one
//!    server handle or an array of them.
//! 5. [`specs`]: every `server` expression is a [`ServerSpec`] with its
//!    constant properties folded.
//! 6. [`parallel`]: the runs of consecutive calls on servers proven safe to
//!    make in parallel (LANGUAGE.md, "Optimization").
//!
//! Bodies are not copied into the IR: code generation walks the checked AST,
//! reading the decisions recorded here (names, commands, handle arrays, specs)
//! and the front end's types and resolutions.

mod handles;
mod names;
pub mod parallel;
mod servers;
mod specs;
mod support;
pub mod walk;

use ftc_frontend::types::{ClassId, FnId, Ty, VarId};
use ftc_frontend::CheckedProgram;
use ftc_grammar::{ExprId, Span};
use std::collections::{HashMap, HashSet};

/// A construct the code generator does not support yet, with where it is.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Unsupported {
    /// Its registered diagnostic code (`E04xx`, see `ftc explain`).
    pub code: &'static str,
    /// What is not supported.
    pub message: String,
    /// Where in the source.
    pub span: Span,
    /// How to write the program so that it is supported.
    pub help: &'static str,
}

impl Unsupported {
    /// The diagnostic `ftc check` and the pipeline commands report.
    pub fn diagnostic(&self) -> ftc_frontend::Diagnostic {
        ftc_frontend::Diagnostic::error(self.code, self.message.clone(), self.span)
            .with_label("not supported by code generation yet")
            .with_help(self.help)
    }
}

/// Everything [`lower`] would refuse in a checked program, as diagnostics
/// (empty when the program can be generated).
pub fn unsupported(program: &CheckedProgram) -> Vec<ftc_frontend::Diagnostic> {
    match support::check(program) {
        Ok(()) => Vec::new(),
        Err(found) => found.iter().map(Unsupported::diagnostic).collect(),
    }
}

/// The replication IR of a whole program.
#[derive(Clone, Debug)]
pub struct ProgramIr {
    /// Every class, plain and server, in declaration order.
    pub classes: Vec<ClassIr>,
    /// Rust names of free functions and methods, by [`FnId`].
    pub function_names: Vec<String>,
    /// Rust names of variables, by [`VarId`].
    pub var_names: Vec<String>,
    /// Variables of server class type that hold an array of handles.
    pub handle_arrays: HashSet<VarId>,
    /// The variable declared at a name's span (start, end).
    pub decl_vars: HashMap<(u32, u32), VarId>,
    /// Every `server` expression.
    pub specs: HashMap<ExprId, ServerSpec>,
    /// For each server class and each public method it answers (inherited
    /// ones included): the command's position in the class's commands.
    pub commands_by_method: HashMap<(ClassId, FnId), usize>,
    /// The runs of calls made in parallel (the call-parallelizing
    /// optimization; empty after [`ProgramIr::sequential`]).
    pub parallel: parallel::Parallel,
}

/// One class of the program.
#[derive(Clone, Debug)]
pub struct ClassIr {
    /// Its id in the checked program.
    pub id: ClassId,
    /// Its CMSL name.
    pub cmsl_name: String,
    /// Its Rust type name (`counter` → `Counter`).
    pub rust_name: String,
    /// The fields of its Rust struct: for a server class every state
    /// variable of the class and its bases (inherited ones first); for a
    /// plain class that is the root of an inheritance tree, the state
    /// variables of every class of the tree (one struct holds the objects of
    /// all of them); for a plain class with a base, none (it has no struct).
    pub fields: Vec<VarId>,
    /// The methods its Rust `impl` defines: for a server class every method
    /// it answers, inherited ones included (an override in place of the
    /// method it overrides), each generated with `self` of this class; for a
    /// plain class its own methods.
    pub methods: Vec<FnId>,
    /// For a server class, its commands and replies.
    pub server: Option<ServerIr>,
    /// The root of its inheritance tree (itself when it has no base class):
    /// a reference or handle of any class of the tree has the root's Rust
    /// type (`Obj<Root>`, `Server<Root>`).
    pub root: ClassId,
    /// Every class of the tree it is the root of, itself first, in
    /// declaration order; empty when it is not a root or has no subclass.
    pub family: Vec<ClassId>,
    /// For a plain class that is the root of a tree with subclasses: the Rust
    /// enum naming each class of the tree (the `class` field of its struct
    /// says which class an object is).
    pub kind_enum: Option<String>,
}

impl ClassIr {
    /// True when the class has a base class or subclasses.
    pub fn in_family(&self) -> bool {
        self.root != self.id || !self.family.is_empty()
    }
}

/// The replicated-state-machine view of a server class.
#[derive(Clone, Debug)]
pub struct ServerIr {
    /// The Rust name of the command enum (`CounterCommand`).
    pub command_enum: String,
    /// One command per public method.
    pub commands: Vec<CommandIr>,
}

/// One command of a server class: a public method called by clients.
#[derive(Clone, Debug)]
pub struct CommandIr {
    /// Method id: the command's position, in declaration order.
    pub id: u32,
    /// The method it runs.
    pub method: FnId,
    /// The enum variant (`add` → `Add`).
    pub variant: String,
    /// Arguments, passed by value (deep copies): Rust name and type.
    pub params: Vec<(String, Ty)>,
    /// The reply's value type; every reply may instead carry a raised
    /// exception or a failed `requires`/`ensures`/`invariant`, which the
    /// caller sees as that exception (`assertion_failure` for the checks).
    pub result: Ty,
}

/// A property value of a `server` expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// Not written: the runtime default.
    Default,
    /// A compile-time constant.
    Const(i64),
    /// Computed at run time by this expression.
    Expr(ExprId),
}

/// A `server C [n] props…` expression, lowered.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// The class started.
    pub class: ClassId,
    /// `[n]`: an array of servers.
    pub count: Option<Operand>,
    /// The failure model.
    pub model: ftc_grammar::Model,
    /// `tolerate (t)`.
    pub tolerate: Operand,
    /// `replicas (r)`.
    pub replicas: Operand,
    /// `priority (p)`.
    pub priority: Operand,
    /// `hosts (…)`: expressions of type `host` (bare names resolve to `host("name")`).
    pub hosts: Vec<ExprId>,
    /// `disjoint`.
    pub disjoint: bool,
    /// `durable (name)`: the name, an expression of type `string`.
    pub durable: Option<ExprId>,
    /// Replicas per server when known at compile time (the front end's arithmetic).
    pub replicas_used: Option<i64>,
}

/// Runs every pass in order.
pub fn lower(program: &CheckedProgram) -> Result<ProgramIr, Vec<Unsupported>> {
    support::check(program)?;
    let mut ir = names::assign(program);
    servers::commands(program, &mut ir);
    handles::find_arrays(program, &mut ir);
    specs::fold_all(program, &mut ir);
    ir.parallel = parallel::find(program, &ir);
    Ok(ir)
}

impl ProgramIr {
    /// Turns the call-parallelizing optimization off (`-O0`): every call is
    /// made when its statement runs.
    pub fn sequential(mut self) -> ProgramIr {
        self.parallel = parallel::Parallel::default();
        self
    }

    /// The IR of class `id` (classes are lowered in id order).
    pub fn class(&self, id: ClassId) -> &ClassIr {
        let found = self.classes.get(id.0 as usize).filter(|c| c.id == id);
        assert!(found.is_some(), "internal error: class {id:?} not lowered");
        found.expect("checked above")
    }

    /// The Rust name of a variable.
    pub fn var_name(&self, id: VarId) -> &str {
        &self.var_names[id.0 as usize]
    }

    /// The variable whose declaration names it at `span`.
    pub fn var_at(&self, span: Span) -> Option<VarId> {
        self.decl_vars.get(&(span.start, span.end)).copied()
    }

    /// The Rust name of a function or method.
    pub fn function_name(&self, id: FnId) -> &str {
        &self.function_names[id.0 as usize]
    }

    /// The command of server class `class` that calls `method`, if `method`
    /// is a public method that class answers (its own or inherited).
    pub fn command(
        &self,
        class: ClassId,
        method: FnId,
    ) -> Option<(&ClassIr, &ServerIr, &CommandIr)> {
        let &command = self.commands_by_method.get(&(class, method))?;
        let c = self.class(class);
        let s = c.server.as_ref()?;
        Some((c, s, &s.commands[command]))
    }

    /// The Rust type name of references or handles of class `class`: its
    /// tree's root's.
    pub fn type_name(&self, class: ClassId) -> &str {
        &self.class(self.class(class).root).rust_name
    }
}
