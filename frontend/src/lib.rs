//! CMSL front end: name resolution, type checking, CMSL rules and diagnostics.
//!
//! Entry points: [`check_source`] (text in, diagnostics and — when there are
//! no errors — the [`CheckedProgram`] out) and [`check_bytes`] (the same for
//! raw file contents, which may not be UTF-8). Neither panics on any input.
//! Editors use [`analyze_source`]: the same diagnostics, and the tables kept
//! even when checking finds errors.
//!
//! # Design
//!
//! Checking runs in ordered passes over one parsed [`ftc_grammar::Program`];
//! each pass after parsing is a function whose signature says what it reads
//! and writes, with its own diagnostics out:
//!
//! 1. **parse** (`ftc_grammar::parse`): syntax errors become diagnostics
//!    `E0001`–`E0014` ([`syntax`]); if there are any, checking stops there,
//!    so a broken tree never produces follow-on errors.
//! 2. **collect** (`collect.rs`, `collect(ast) -> Declarations`, the tables
//!    of `decls.rs`): every class gets a [`types::ClassId`],
//!    every free function and method a [`types::FnId`], every variable
//!    (global, state variable, parameter, later every local) a
//!    [`types::VarId`]. Inheritance is resolved (single, no cycles),
//!    signatures are resolved to [`types::Ty`], out-of-class definitions are
//!    attached to their declarations, `main` is found.
//! 3. **check** (`check/`, `check_bodies(ast, &mut Declarations) ->
//!    BodyTables`: it adds only the local variables to the declarations):
//!    every body — global initializers, each class's
//!    state initializers and invariants, each function and method — is walked
//!    once with a scope stack (`scope.rs`, constant-time look-up). Every
//!    expression gets a type, every name, call and member access a
//!    [`program::Resolution`] (a call on a server handle is a
//!    `ServerMethod`, apart from local `Method` calls), every `server`
//!    expression a [`program::ServerSite`] with its replica count. Plain `future`
//!    variables have the type `future` tied to their own [`types::VarId`];
//!    each `invoke` stored into one (by initializer, assignment or argument)
//!    fixes or must agree with its inferred result type. Per body, the pass
//!    records the facts the next pass follows: uses of globals, local calls
//!    (free functions, methods of `this` and of plain-class objects, `new C`
//!    running `C`'s initializers — but not calls on server handles, which run
//!    elsewhere), and nondeterministic built-ins.
//! 4. **rules** (`rules.rs`, `check_server_rules(&Declarations,
//!    &BodyTables)`, reading only): for each server class, the bodies it can run
//!    are found by a breadth-first walk of the local call graph: a global use
//!    in any of them is an error pointing at the use (and at the call leading
//!    there); at each `server` expression starting more than one replica, a
//!    nondeterministic call among them is a warning. Public server methods
//!    must take and return values that can be copied (no futures inside).
//!
//! Warnings: a replica count raised to what the model needs (`W0001`),
//! nondeterminism in a replicated server (`W0002`), `disjoint` on one server
//! (`W0003`), a host named twice (`W0004`), unreachable statements (`W0005`),
//! a `catch` that never runs (`W0006`).
//!
//! # Using the checked program
//!
//! [`CheckedProgram`] owns the AST. Its `classes`, `functions` and `vars`
//! are indexed by [`types::ClassId`], [`types::FnId`] and [`types::VarId`];
//! [`CheckedProgram::type_of`] and [`CheckedProgram::resolution`] answer per
//! `ExprId`; [`CheckedProgram::future_result`] gives a plain future's
//! inferred result type; [`CheckedProgram::function_ast`] finds a function's
//! definition; [`CheckedProgram::all_state`] and
//! [`CheckedProgram::all_methods`] give a class's full state and command set
//! (inherited members included, overrides in place);
//! [`CheckedProgram::server_sites`] lists every `server` expression with the
//! replica count used. Lowering never needs to resolve a name again.
//!
//! All passes are linear in the size of the program (hash-map look-ups, one
//! walk per body, one graph walk per server class), and recurse only along
//! the AST, whose depth the parser bounds.
//!
//! # Language decisions
//!
//! - `int` widens to `real` implicitly (assignments, arguments, returns,
//!   arithmetic); `+` with a `string` operand concatenates anything.
//! - `null` is a value of class references, server handles and futures only.
//! - `==`/`!=` compare numbers, booleans, strings, hosts, references of
//!   related classes, futures, and `null` with a reference.
//! - Inheritance is supported: single, members inherited, methods may be
//!   overridden with the same signature and in the same section, `public:`
//!   or `private:` (`E0116`; calls are resolved to the nearest declaration,
//!   code generation dispatches on the actual class; the server rules also
//!   follow overriding methods of plain classes), state variables may not be
//!   redeclared; a plain class may not inherit from a server class (`E0122`)
//!   nor a server class from a plain class (`E0124`).
//! - A declared function or method that is never defined is an error
//!   whether or not it is called (`E0114`).
//! - Private methods are visible only in their own class (not subclasses);
//!   private state variables also in the methods of subclasses.
//! - A function body shares its parameters' scope: a local of the body's
//!   outermost block may not redeclare a parameter (inner blocks may shadow).
//! - Inside a method, an unqualified call looks for a method of `this`
//!   first, then a free function, then a built-in; a user function named like
//!   a built-in hides it.
//! - Plain `future` parameters take their result type from the arguments
//!   passed for them, plain `future` results from the invocations returned,
//!   and `future a = b;` from `b` (whatever the order of definitions); a
//!   plain future whose `->result` is read but which never receives an
//!   invocation is an error (`E0212`).
//! - `hosts (…)` entries: an expression of type `host`, or a bare name that
//!   is not a visible variable, meaning `host("name")`.
//! - `disjoint` without an array count is a warning (`W0003`): no effect;
//!   so is a constant host named twice in `hosts (…)` (`W0004`).
//! - `durable (name)` takes any `string` expression (`E0200` otherwise); on
//!   a `model byzantine` server it is refused (`E0404`), on `model crash`
//!   and `model correct` accepted, with or without an array count.
//! - `server S [n]` has the type `S` (a handle naming the array); indexing a
//!   server handle yields a handle of the same class.
//! - Lists and maps are not indexed with `[]`; use `get`.
//! - `raise` takes a `string`; `catch` names a predefined exception kind.
//! - Nondeterminism: a server site counts as replicated when its replica
//!   count is a constant above one, or not constant.

pub mod codes;
pub mod diagnostic;
pub mod program;
pub mod render;
pub mod syntax;
pub mod types;

mod check;
mod collect;
mod decls;
mod rules;
mod scope;
mod suggest;

pub use check::const_int;
pub use diagnostic::{Diagnostic, Label, Severity};
pub use program::CheckedProgram;

use std::borrow::Cow;

/// What checking one source file produced.
#[derive(Debug)]
pub struct CheckOutput {
    /// Every diagnostic, errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked program, present when there are no errors.
    pub program: Option<CheckedProgram>,
}

impl CheckOutput {
    /// True when any diagnostic is an error (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The number of warnings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

/// Lexes, parses and checks one CMSL source file.
pub fn check_source(source: &str) -> CheckOutput {
    if source.len() > u32::MAX as usize {
        return CheckOutput {
            diagnostics: vec![Diagnostic::error(
                "E0011",
                "the source file is larger than 4 GiB",
                ftc_grammar::Span::new(0, 0),
            )],
            program: None,
        };
    }
    let parsed = ftc_grammar::parse(source);
    if !parsed.errors.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = parsed
            .errors
            .iter()
            .map(syntax::syntax_diagnostic)
            .collect();
        sort(&mut diagnostics);
        return CheckOutput {
            diagnostics,
            program: None,
        };
    }
    check_program(parsed.program)
}

/// Checks a parsed program that has no syntax errors.
pub fn check_program(ast: ftc_grammar::Program) -> CheckOutput {
    let (diagnostics, program) = check_tables(ast);
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    CheckOutput {
        diagnostics,
        program: (!failed).then_some(program),
    }
}

/// What an editor needs from one source file: the same diagnostics as
/// [`check_source`], and the tables whenever the text parsed — even when
/// checking found errors.
#[derive(Debug)]
pub struct Analysis {
    /// Every diagnostic, exactly as [`check_source`] reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// The program's tables when there were no syntax errors. With errors in
    /// the program they are partial: an expression that was not checked has
    /// no type or resolution, and erroneous ones have [`types::Ty::Unknown`].
    /// Never lower a program from here; use [`check_source`].
    pub program: Option<CheckedProgram>,
}

/// Checks one source file for an editor (see [`Analysis`]).
pub fn analyze_source(source: &str) -> Analysis {
    if source.len() > u32::MAX as usize {
        let output = check_source(source);
        return Analysis {
            diagnostics: output.diagnostics,
            program: None,
        };
    }
    let parsed = ftc_grammar::parse(source);
    if !parsed.errors.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = parsed
            .errors
            .iter()
            .map(syntax::syntax_diagnostic)
            .collect();
        sort(&mut diagnostics);
        return Analysis {
            diagnostics,
            program: None,
        };
    }
    let (diagnostics, program) = check_tables(parsed.program);
    Analysis {
        diagnostics,
        program: Some(program),
    }
}

/// Runs the checker's passes; the tables are complete only without errors.
fn check_tables(ast: ftc_grammar::Program) -> (Vec<Diagnostic>, CheckedProgram) {
    let (mut decls, mut diagnostics) = collect::collect(&ast);
    let (bodies, found) = check::check_bodies(&ast, &mut decls);
    diagnostics.extend(found);
    diagnostics.extend(rules::check_server_rules(&decls, &bodies));
    sort(&mut diagnostics);
    let class_by_name = decls
        .class_by_name
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let program = CheckedProgram {
        classes: decls.classes,
        functions: decls.functions,
        vars: decls.vars,
        globals: decls.globals,
        main: decls.main,
        class_by_name,
        expr_types: bodies.expr_types,
        resolutions: bodies.resolutions,
        future_results: bodies.future_results,
        server_sites: bodies.server_sites,
        ast,
    };
    (diagnostics, program)
}

/// Checks raw file contents (a leading byte-order mark is white space to the
/// lexer). Text that is not UTF-8 gets diagnostic `E0005`
/// at the first invalid byte; the returned text (a lossy copy in that case)
/// is what the diagnostics' spans refer to.
pub fn check_bytes(bytes: &[u8]) -> (CheckOutput, Cow<'_, str>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (check_source(text), Cow::Borrowed(text)),
        Err(e) => {
            let at = e.valid_up_to();
            // In the lossy copy the bytes before `at` are unchanged and the bad
            // sequence becomes U+FFFD (3 bytes).
            let d = Diagnostic::error(
                "E0005",
                "the source file is not valid UTF-8",
                ftc_grammar::Span::new(at, at + '\u{FFFD}'.len_utf8()),
            )
            .with_label(format!("invalid byte 0x{:02x} here", bytes[at]))
            .with_help("save the file as UTF-8");
            (
                CheckOutput {
                    diagnostics: vec![d],
                    program: None,
                },
                String::from_utf8_lossy(bytes),
            )
        }
    }
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
}
