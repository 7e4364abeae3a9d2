//! The registry of diagnostic codes: a title and a long explanation for each, for `ftc explain`.
//!
//! Ranges: `E00xx` input and syntax, `E01xx` names and declarations, `E02xx`
//! types and statements, `E03xx` CMSL server rules, `E04xx` constructs ftc
//! does not support yet (`E0403` reported by `ftc-transforms` and
//! checked by `ftc check`, `E0404` (a durable byzantine server) by the front
//! end), `W0xxx` warnings.
//! A code, once published, keeps its meaning: a code no longer reported
//! (`E0401`) stays registered, its title saying it is retired, and
//! `frontend/tests/fixtures.rs` lists it among the codes no fixture reaches.

/// One registered diagnostic code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    /// `E0xxx` or `W0xxx`.
    pub code: &'static str,
    /// One line saying what the code means.
    pub title: &'static str,
    /// What, why, an erroneous example and a fix.
    pub explanation: &'static str,
}

/// Finds a code's entry; `code` is matched case-insensitively.
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

macro_rules! codes {
    ($($code:literal, $title:literal, $expl:literal;)*) => {
        /// Every code the front end can emit, in order.
        pub static CODES: &[CodeInfo] = &[$(CodeInfo { code: $code, title: $title, explanation: $expl }),*];
    };
}

codes! {
"E0001", "unexpected token",
"The parser met a token that cannot continue the program at this point.

Erroneous example:

    int x = 1 +;

The note lists the tokens that could have come here. Fix the text so that
one of them does:

    int x = 1 + 2;
";
"E0002", "unexpected end of file",
"The file ended while the parser still expected more, usually a missing `}`
or `;`, or an unterminated comment or string.

Erroneous example:

    void main () {
        println(\"hi\");

Fix: close what is open:

    void main () {
        println(\"hi\");
    }
";
"E0003", "invalid token",
"The text here is not a CMSL token: a character CMSL does not use, an
unterminated string or comment, a bad escape or a number that does not fit.

Erroneous example:

    int x = 3 # 4;

Fix: remove or replace the character (`3 + 4`).
";
"E0005", "source is not valid UTF-8",
"CMSL source files must be UTF-8 text. The file contains a byte sequence that
is not UTF-8 (often a binary file, or text saved in another encoding). The
diagnostic points at the first invalid byte.

Fix: save the file as UTF-8, or check that the right file was given.
";
"E0006", "unterminated string literal",
"A string literal has no closing `\"` on its line. Strings cannot span lines.

Erroneous example:

    println(\"hello);

Fix: close the string (`\"hello\"`); write a line break inside it as `\\n`.
";
"E0007", "unterminated block comment",
"A `/*` comment is never closed with `*/`, so the rest of the file would be
comment. Comments do not nest: the first `*/` closes the comment.

Erroneous example:

    /* old code
    void main () { }

Fix: add `*/` where the comment should end.
";
"E0008", "unknown escape sequence",
"Inside a string, a backslash starts an escape: `\\n` (line break), `\\t`
(tab), `\\\\` (backslash) and `\\\"` (quote) are the only ones.

Erroneous example:

    println(\"C:\\temp\");      // `\\t` is a tab, but `\\q` would be an error

Fix: double the backslash (`\\\\`) to write a backslash.
";
"E0009", "integer literal too large",
"An `int` is a 64-bit signed integer: the largest literal is
9223372036854775807.

Erroneous example:

    int big = 10000000000000000000;

Fix: use a smaller number, or a `real` (`1e19`) if an approximation will do.
";
"E0010", "nesting too deep",
"Expressions, statements and types may be nested at most a fixed number of
levels (the limit is in the message). Deeper nesting is almost always
generated text; it would make the compiler's recursive passes run out of
stack.

Fix: split the expression or statement with local variables or functions.
";
"E0011", "source file too large",
"Source files are limited to 4 GiB (byte offsets are 32-bit).

Fix: split the program.
";
"E0012", "`for every` bounds a different variable",
"`for every i, lo <= i < hi` names the variable it declares, then bounds it:
both names must be the same.

Erroneous example:

    for every i, 0 <= j < n { }

Fix: `for every i, 0 <= i < n { }`.
";
"E0013", "missing `;`",
"A statement (a declaration, an assignment, an expression, `return`,
`break`, `assert`, `raise`, …) ends with `;`. The error points at the end
of the statement that lacks it.

Erroneous example:

    int x = 1
    x = 2;

Fix: `int x = 1;`.
";
"E0014", "too many syntax errors",
"After a syntax error the parser skips to the end of the broken statement
and carries on, so that one run reports several mistakes. It gives up after
a fixed number of errors, or when recovering would skip too much text
(typically a file that is not CMSL at all, or a missing `;` or `}` far
above). The limit is in the note.

Fix: correct the first errors reported and check again.
";
"E0100", "undefined name",
"A name is used that is not a local variable, a parameter, a state variable
of the enclosing class or a global variable.

Erroneous example:

    void main () { x = 1; }

Fix: declare the variable first (`int x = 1;`) or correct the spelling.
";
"E0101", "undefined type",
"A type name is neither a built-in type (`int`, `real`, `string`, …) nor a
class declared in the program, nor (where exceptions are allowed) a
predefined exception kind.

Erroneous example:

    point p;        // no `class point` in the program

Fix: declare the class, or correct the spelling.
";
"E0102", "undefined function",
"A call `f(…)` names neither a method of the enclosing class, nor a free
function of the program, nor a built-in function.

Erroneous example:

    void main () { prnt(\"x\"); }

Fix: correct the name (`print`) or declare and define the function.
";
"E0103", "no such method",
"A method call `r->m(…)` names a method that the receiver's type does not
have. Classes have the methods they declare (and inherit); `list` has
`add get set size remove`; `map` has `put get has remove keys size`.

Erroneous example:

    list<int> l; l->push(1);

Fix: use an existing method (`l->add(1)`).
";
"E0104", "no such field",
"A member access `e->x` names a state variable the class does not have.

Erroneous example:

    class point { public: attribute real x; }
    void f (point p) { print(p->z); }

Fix: use a declared state variable, or declare it.
";
"E0105", "duplicate class",
"Two classes have the same name.

Erroneous example:

    class a { }
    class a { }

Fix: rename or remove one of them.
";
"E0106", "duplicate member",
"A class declares two members (state variables or methods) with one name, or
a state variable with the name of one of its base class.

Erroneous example:

    class a { public: attribute int x; attribute real x; }

Fix: rename one of them. CMSL has no overloading.
";
"E0107", "duplicate function",
"Two free functions have the same name and both are defined, or they are
declared with different signatures. CMSL has no overloading.

Erroneous example:

    int f (int x) { return x; }
    int f (real x) { return 1; }

Fix: give the functions different names.
";
"E0108", "duplicate parameter",
"Two parameters of one function or method have the same name.

Erroneous example:

    int add (int a, int a) { return a; }

Fix: rename one of them.
";
"E0109", "duplicate local variable",
"A variable is declared twice in one block (scope). Inner blocks may shadow
outer variables, but one block cannot declare a name twice.

Erroneous example:

    void main () { int x = 1; int x = 2; }

Fix: assign instead (`x = 2;`) or use another name.
";
"E0110", "duplicate global variable",
"Two global variables have the same name, or a global has the name of a
function.

Erroneous example:

    int count;
    real count;

Fix: rename one of them.
";
"E0111", "no `main` function",
"A program needs exactly one `void main ()` or `int main ()`: it is what runs
on the host that starts the program.

Fix: add `void main () { … }`.
";
"E0112", "more than one `main`",
"`main` is defined more than once. The program starts by running `main` on
the first host, so there must be exactly one.

Erroneous example:

    void main () { }
    void main () { }

Fix: keep one definition.
";
"E0113", "`main` has the wrong signature",
"`main` takes no parameters and returns `void` or `int` (the program's exit
code).

Erroneous example:

    string main (int argc) { return \"\"; }

Fix: `int main () { … }`; read arguments with `args()`.
";
"E0114", "declared but never defined",
"A method or free function is declared (`T f (…);`) but no definition with a
body exists anywhere in the program. `ftc` reports this always, whether or
not it is called, because it cannot generate code for it.

Erroneous example:

    class db { public: void update (); }     // no `void db::update () { … }`

Fix: define it, or remove the declaration.
";
"E0115", "definition of a method the class does not declare",
"An out-of-class definition `T C::m (…) { … }` names a method that class `C`
does not declare (or a class that does not exist).

Erroneous example:

    class db { public: void update (); }
    void db::upd () { }

Fix: declare the method in the class, or correct the name.
";
"E0116", "definition does not match its declaration",
"The parameter types or the result type of a definition differ from those of
its earlier declaration, or a method overriding a base class method has a
different signature from it or is declared in the other section (`public:`
against `private:`).

Erroneous example:

    int f (int x);
    int f (real x) { return 1; }

Fix: make the signatures agree.
";
"E0117", "defined twice",
"A method or function has two bodies: two out-of-class definitions, or an
inline definition and an out-of-class one.

Fix: remove one of the bodies.
";
"E0118", "private member used outside its class",
"Members in the `private:` section (and those before any section label) are
visible only in the methods of their own class.

Erroneous example:

    class acct { private: attribute int balance; }
    void main () { acct a = new acct; print(a->balance); }

Fix: make the member public, or add a public method that uses it.
";
"E0119", "`this` outside a method",
"`this` names the object whose method is running, so it exists only inside
methods, invariants and state-variable initializers.

Erroneous example:

    void main () { print(this); }

Fix: use a variable that holds the object.
";
"E0120", "`result` outside an `ensures` clause",
"`result` names the value a method returns, and only in its `ensures`
clauses (where no variable of that name is declared).

Erroneous example:

    int f () { return result; }

Fix: use a local variable, or move the check into `ensures result > 0;`.
";
"E0121", "inheritance cycle",
"A class inherits from itself, directly or through other classes.

Erroneous example:

    class a : b { }
    class b : a { }

Fix: break the cycle.
";
"E0122", "a plain class cannot inherit from a server class",
"Inheritance is single, and a class inherits from a class of its own kind: a
plain class from a plain class, a `server class` from a server class (E0124).
A plain class may not inherit from a server class: its objects would be
local, while its inherited members belong to a server.

Erroneous example:

    server class db { }
    class local_db : db { }

Fix: make the derived class a `server class`, or inherit from a plain class.
";
"E0124", "a server class cannot inherit from a plain class",
"Inheritance is single, and a class inherits from a class of its own kind: a
`server class` from a server class, a plain class from a plain class (E0122).
A server class extending a plain class would make a server whose handle a
plain-class variable could hold, which names no object.

Erroneous example:

    class record { public: attribute int id; }
    server class registry : record { }

Fix: declare the base a `server class`, or keep a `record` in a state
variable of the server class instead of inheriting from it.
";
"E0123", "unknown exception kind",
"`catch` names one of the predefined exception kinds: `failure` (the root,
catches everything), `timeout`, `server_failure`, `assertion_failure`,
`program_error`.

Erroneous example:

    try { f(); } catch (overflow) { }

Fix: `catch (program_error) { }`.
";
"E0200", "mismatched types",
"A value of one type is used where another is required: an initializer, an
assignment, an argument, a property, an index. `int` widens to `real`
implicitly; `null` is a value of every class, server handle and future type
(not of `int`, `real`, `boolean`, `string`, `host`, `list`, `map` or arrays);
subclass references convert to base class references.

Erroneous example:

    int x = \"five\";

Fix: convert explicitly (`parse_int(\"5\")`) or change the declared type.
";
"E0201", "wrong number of arguments",
"A function, method or built-in is called with more or fewer arguments than
it takes.

Erroneous example:

    real r = sqrt(1.0, 2.0);

Fix: pass exactly the parameters it declares.
";
"E0202", "invalid operand types",
"An operator is applied to types it does not support. `+ - * / %` take `int`
or `real` (`+` concatenates when either side is a `string`, converting the
other); `< <= > >=` compare numbers or strings; `&& || !` take `boolean`;
`== !=` compare values of one type (numbers, booleans, strings, hosts,
references of related classes, server handles, futures, `null` with a
reference).

Erroneous example:

    boolean b = 1 && true;

Fix: `1 != 0 && true`.
";
"E0203", "condition is not a boolean",
"The condition of `if`, `while`, `for`, `assert`, `requires`, `ensures` and
`invariant` must be a `boolean`; numbers are not truth values.

Erroneous example:

    while (n) { n -= 1; }

Fix: `while (n != 0) { … }`.
";
"E0204", "wrong `return`",
"`return e;` in a `void` function, `return;` in a function with a result, or
a returned value of the wrong type.

Erroneous example:

    void f () { return 1; }

Fix: match the declared result type.
";
"E0205", "missing `return`",
"A function with a result type can reach the end of its body without
returning a value or raising an exception. `ftc` follows `if`/`else`,
blocks, `try`/`catch` and loops whose condition is the constant `true`.

Erroneous example:

    int sign (int x) { if (x > 0) { return 1; } }

Fix: return on every path (`… return 0;`), or `raise \"…\";`.
";
"E0206", "invalid assignment target",
"Only variables, array elements and state variables can be assigned;
`+= -= *= /=` also need a numeric (or, for `+=`, string) target.

Erroneous example:

    f() = 3;

Fix: assign to a variable.
";
"E0207", "cannot index this value",
"`e[i]` needs an array (or an array of servers) and an `int` index. Lists and
maps are read with methods.

Erroneous example:

    list<int> l; int x = l[0];

Fix: `l->get(0)`.
";
"E0208", "this type has no members",
"`e->x` and `e->m(…)` need an object of a class (or a list, map, future or
exception, for their few members). Numbers, strings, booleans, hosts and
arrays have none.

Erroneous example:

    int n = 3; print(n->size());

Fix: use a built-in function (`len(s)` for a string's length).
";
"E0209", "`void` used as a value",
"A call of a `void` function or method produces no value, so it cannot be
assigned, passed or computed with.

Erroneous example:

    int x = println(\"a\");

Fix: call it as a statement.
";
"E0210", "`break` or `continue` outside a loop",
"`break` and `continue` only make sense inside `while`, `for` and `for
every` (also from an `accept` timeout block inside such a loop).

Fix: remove it, or use `return`.
";
"E0211", "`new` of a type that is not a class",
"`new C` creates an object of a class `C`, `new list<T>` and `new map<K, V>`
an empty collection, and `new T[n]` an array of any element type. `new int`
is meaningless.

Fix: `int x = 0;`, or `new int[n]` for an array.
";
"E0212", "cannot infer the result type of a plain `future`",
"A plain `future` variable gets its result type from the `invoke`
expressions assigned to it. This one is read with `->result` but never
receives an invocation anywhere in the program.

Erroneous example:

    future f; print(f->result);

Fix: assign it `invoke s->m(…)`, or declare `future<T>`.
";
"E0213", "variable of type `void`",
"`void` is only a result type: no variable, parameter or state variable, no
list or map element has it.

Fix: give it a real type.
";
"E0300", "`server` of a class that is not a server class",
"`server C …` starts a server, which only a `server class` can be.

Erroneous example:

    class counter { }
    void main () { counter c = server counter; }

Fix: declare `server class counter { … }`, or use `new counter`.
";
"E0301", "`new` of a server class",
"A server class is started with a `server` expression, which places and
replicates it; `new` would make an ordinary local object of it.

Erroneous example:

    server class db { }
    void main () { db d = new db; }

Fix: `db d = server db;`.
";
"E0302", "a server class uses a variable declared outside it",
"Servers share no state: a server class may not read or write a global
variable, neither directly nor through the free functions and plain-class
methods it calls. Each replica (and each server) would see its own copy.

Erroneous example:

    int total;
    server class acc { public: void add (int x) { total += x; } }

Fix: make it a state variable of the server class (`attribute int total;`)
or pass it as an argument.
";
"E0303", "a client accesses a server's state variable",
"A server's state variables live in the server (and its replicas); code
outside the server class cannot read or write them, even public ones.

Erroneous example:

    server class db { public: attribute boolean stale; }
    void main () { db s = server db; print(s->stale); }

Fix: add a method, e.g. `boolean is_stale () { return stale; }`, and call it.
";
"E0304", "a server method's parameter or result cannot be passed by value",
"Arguments and results of a public server method are copied between hosts.
A `future` (and a class with a `future` state variable, directly or inside
a list, map, array or another class) is a ticket for a local reply and
cannot be copied to another host.

Erroneous example:

    server class s { public: void take (future f) { } }

Fix: pass the result instead (`f->result`).
";
"E0305", "`accept` needs futures",
"`accept (f, n)` waits among futures: its first operand must be a `future`
or an array of futures, its count an `int`, its timeout a number of
seconds.

Erroneous example:

    int x; int i = accept (x, 1);

Fix: pass the future (or array of futures) that `invoke` filled.
";
"E0306", "a plain `future` receives invocations of different result types",
"A plain `future` variable's result type is inferred from every invocation
assigned to it (and every argument passed for a plain `future` parameter);
they must agree.

Erroneous example:

    future f = invoke db->count ();     // int
    f = invoke db->name ();             // string

Fix: use two variables, or declare `future<int>` to make the intent clear.
";
"E0307", "`invoke` of something that is not a server method call",
"`invoke r->m (…)` sends a command to a server and returns a future; `r`
must be a server handle (a variable of a server class type).

Erroneous example:

    point p = new point; future f = invoke p->dist (q);

Fix: call it synchronously (`p->dist (q)`).
";
"E0308", "`->result` of something that is not a future",
"`->result` reads the reply of a `future`.

Erroneous example:

    int n = 3; print(n->result);

Fix: apply it to the future that `invoke` returned.
";
"E0309", "negative tolerance",
"`tolerate (t)` is the number of replica failures to survive; it cannot be
negative.

Fix: `tolerate (0)` or more.
";
"E0310", "replica count must be positive",
"`replicas (r)` (and an array count `server C [n]`) must be at least 1.

Fix: `replicas (1)` or more, or leave it out.
";
"E0311", "`model correct` cannot tolerate failures",
"`model correct` says replicas never fail, so `tolerate (t)` with `t > 0`
is a contradiction.

Erroneous example:

    server db model correct tolerate (1)

Fix: `model crash tolerate (1)` (or `byzantine`).
";
"E0312", "duplicate server property",
"Each property of a `server` expression may be given at most once.

Erroneous example:

    server db priority (1) priority (2)

Fix: remove one.
";
"E0313", "`hosts` entry is not a host",
"Entries of `hosts (…)` are expressions of type `host` (`my_host()`,
`host(\"h2\")`, a `host` variable) or bare host names (`h1`), which mean
`host(\"h1\")` when no variable of that name is visible.

Erroneous example:

    int h = 3; … server db hosts (h)

Fix: `hosts (host(\"h3\"))` or a bare name that is not a variable.
";
"E0401", "inheritance was not supported by code generation (retired: no longer reported)",
"Earlier versions of `ftc` refused a class with a base class here, because
code generation could not handle inheritance. It now generates single
inheritance of plain and server classes with dynamic dispatch, so this code
is no longer reported; it stays registered so that its number keeps its
meaning.

Example that earlier versions refused and `ftc` now builds:

    class shape { public: attribute real x; real area () { return 0.0; } }
    class circle : shape { public: attribute real r; real area () { return 3.14 * r * r; } }

Fix: none needed; a program refused with E0401 builds with this version.
";
"E0402", "a server's `this` as a value in a state initializer or invariant was not supported by code generation (retired: no longer reported)",
"Earlier versions of `ftc` refused a server's `this` used as a value in a
state initializer or invariant, because those ran while a replica was
constructed, before it knew which server it belonged to. A replica is now
constructed once its server is known, so `this` there is the server's own
handle, as in its methods; this code is no longer reported and stays
registered so that its number keeps its meaning.

Example that earlier versions refused and `ftc` now builds:

    server class node { public: attribute node me = this; }

Fix: none needed; a program refused with E0402 builds with this version.
";
"E0403", "a server's state initializers and invariants cannot start servers",
"A `server` expression inside a server class is correct CMSL. In a method it
builds: the start goes through the server's log to the view service, which
starts the new server once for all the replicas (for a byzantine server,
once `t+1` of them asked for the same start) and every replica gets the
same handle. A state initializer or an invariant cannot do that: they run
when each replica is constructed or checked, outside the log, so there is
no single start to share. (A function called from a state initializer that
starts a server fails at run time with `program_error` for the same reason.)

Erroneous example:

    server class office { private: attribute worker w = server worker; }

Fix: start the server in a method and keep its handle in a state variable:

    server class office {
      public: void open () { w = server worker model crash tolerate (1); }
      private: attribute worker w;
    }
";
"E0404", "durable byzantine servers are not supported yet",
"The property `durable (\"name\")` keeps a server's state on stable storage
under that name, so that it survives the crash of all its replicas and
outlives the run. ftc keeps the state of `model crash` and `model correct`
servers on stable storage; its byzantine protocol does not yet, so ftc
refuses the property on a `model byzantine` server rather than run the
server without it.

Erroneous example:

    bank b = server bank model byzantine tolerate (1) durable (\"accounts\");

Fix: use `model crash` for a durable server, or drop `durable`:

    bank b = server bank model crash tolerate (1) durable (\"accounts\");
    bank c = server bank model byzantine tolerate (1);
";
"W0001", "replica count raised to what the model needs",
"`replicas (r)` was written explicitly, but the failure model and tolerance
need more replicas: `t+1` under `crash`, `3t+1` under `byzantine`. `ftc`
uses the larger number and says which.

Example:

    server db model byzantine tolerate (1) replicas (2)    // uses 4

Fix: write the number used (`replicas (4)`) or leave `replicas` out.
";
"W0002", "a replicated server uses a source of nondeterminism",
"Replicas must compute the same results from the same commands. `now()`,
`random()`, `my_host()`, `sleep`, `read_lines`, `write_file` and `args`
can give each replica a different answer (or act once per replica). The
warning is given at each `server` expression that starts the class with
more than one replica, when the class uses such a call directly or through
the functions and plain-class methods it calls.

Fix: compute the value in the client and pass it as an argument.
";
"W0003", "`disjoint` without an array of servers",
"`disjoint` asks the servers of an array (`server C [n]`) to use disjoint
host sets; on a single server it has no effect.

Fix: remove `disjoint`, or start an array.
";
"W0004", "a host is listed twice in `hosts`",
"`hosts (…)` lists the preferred hosts of a server's replicas, and two
replicas of one server never run on one host, so naming a host twice has no
effect beyond the first.

Example:

    server db model crash tolerate (1) hosts (h1, host(\"h1\"))

Fix: list each host once (`hosts (h1, h2)`).
";
"W0005", "unreachable statement",
"A statement follows a `return`, `raise`, `break` or `continue` (or a statement
that always ends in one, such as an `if` whose branches both return, or a
`while (true)` loop without `break`) in the same block, so it never runs.
Only the first unreachable statement of a block is reported.

Example:

    int f () { return 1; println(\"never\"); }

Fix: remove the statement, or move it before the jump.
";
"W0006", "a `catch` that never runs",
"Catches are tried in order, and `failure` catches every kind. A catch of a
kind already caught by an earlier one (the same kind, or `failure`) never
runs.

Example:

    try { f(); } catch (failure e) { … } catch (timeout) { … }

Fix: put the specific kinds first and `failure` last.
";
}
