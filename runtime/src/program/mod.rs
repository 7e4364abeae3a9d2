//! Execution of generated programs: server classes as replicated state machines
//! ([`ServerClass`], [`executor`]), server handles, calls, `invoke`, futures and
//! `accept` ([`Server`], [`Future`], [`accept`]), the context-dependent built-ins
//! ([`builtins`]) and the process entry ([`run`]).
//!
//! The same operations work in `main` and in server methods: in `main` a call
//! goes through the host kernel's local-client API; in a server method it is a
//! nested command, and the method's thread waits for the reply, which reaches
//! every replica through the group's log. Generated code imports [`prelude`].
//!
//! See `docs/codegen-contract.md` and `runtime/examples/golden.rs`.

pub mod builtins;
mod context;
pub mod executor;
mod future;
mod run;
mod server;

pub use builtins::{
    args, host, my_host, print, println, set_print_sink, set_process_info, sleep, ProcessInfo,
};
pub use future::{accept, accept_or_timeout, accept_timeout, AnyFuture, Future, FutureSet};
pub use run::{
    exit_code, install_panic_hook, run, run_main, ProgramDef, ProgramFactory, EXIT_USAGE,
    MAIN_STACK_BYTES,
};
pub use server::{Props, Server, ServerClass, ServerClassDef, TypedServer};

/// Everything generated code uses: `use ftc_runtime::program::prelude::*;`.
pub mod prelude {
    pub use super::{
        accept, accept_or_timeout, accept_timeout, args, host, my_host, print, println, run, sleep,
        Future, ProgramDef, Props, Server, ServerClass, ServerClassDef, TypedServer,
    };
    pub use crate::lang::builtins::{
        abs_int, abs_real, atan2, ceil, char_at, concat, cos, floor, index_of, max_int, max_real,
        min_int, min_real, now, parse_int, parse_real, random, read_lines, round, sin, split, sqrt,
        substr, to_int, to_real, to_string, trim, write_file,
    };
    pub use crate::lang::{
        check, decode, deep_copy, encode, int, len, show_all, Array, Encoded, Failure, FailureKind,
        Host, List, Map, Obj, Printer, Res, ResultExt, Show,
    };
    pub use crate::types::Model;
}

/// Inside a lowered `try` block (a labeled block of type `Res<()>`): the value of
/// a `Res`, or leaves the block with its failure so the `catch` clauses see it.
///
/// ```
/// use ftc_runtime::attempt;
/// use ftc_runtime::lang::{int, FailureKind, Res};
/// fn f() -> Res<i64> {
///     let mut r = 0;
///     // try { r = 10 / 0; } catch (program_error e) { r = -1; }
///     let outcome: Res<()> = 'try_1: {
///         r = attempt!('try_1, int::div(10, 0));
///         Ok(())
///     };
///     match outcome {
///         Ok(()) => {}
///         Err(e) if e.is(FailureKind::ProgramError) => r = -1,
///         Err(e) => return Err(e),
///     }
///     Ok(r)
/// }
/// assert_eq!(f(), Ok(-1));
/// ```
#[macro_export]
macro_rules! attempt {
    ($label:lifetime, $e:expr) => {
        match $e {
            Ok(value) => value,
            Err(failure) => break $label Err(failure),
        }
    };
}
