//! The reference for code generation: the Rust `ftc` emits for `golden.cmsl`
//! (below), as generated. `cargo test -p ftc-codegen --test snapshots` fails
//! when it differs from what code generation emits; `UPDATE_EXPECT=1`
//! rewrites it. `docs/codegen-contract.md` explains its shape.
//!
//! ```text
//!  1  // golden.cmsl
//!  2  class item {
//!  3    public:
//!  4      attribute string name;
//!  5      attribute int qty;
//!  6  }
//!  7
//!  8  server class counter {
//!  9    public:
//! 10      int add (item it) requires it->qty > 0;
//! 11      int total ();
//! 12      void check (int limit);
//! 13      int slow (real seconds);
//! 14    private:
//! 15      attribute int sum = 0;
//! 16      relation list<item> items;
//! 17      invariant sum >= 0;
//! 18  }
//! 19
//! 20  int counter::add (item it) {
//! 21    items->add(it);
//! 22    sum += it->qty;
//! 23    it->qty = 0;              // the server's copy: the caller's item keeps its qty
//! 24    return sum;
//! 25  }
//! 26
//! 27  int counter::total () { return sum; }
//! 28
//! 29  void counter::check (int limit) {
//! 30    if (sum > limit) {
//! 31      raise "total " + to_string(sum) + " exceeds " + to_string(limit);
//! 32    }
//! 33  }
//! 34
//! 35  int counter::slow (real seconds) {
//! 36    sleep(seconds);
//! 37    return sum;
//! 38  }
//! 39
//! 40  int main () {
//! 41    counter c = server counter model crash tolerate (1);
//! 42    item a = new item;
//! 43    a->name = "apples";
//! 44    a->qty = 3;
//! 45    println("total: ", c->add(a));
//! 46    println("kept: ", a);
//! 47    item none = new item;
//! 48    none->name = "nothing";
//! 49    try {
//! 50      c->add(none);
//! 51    } catch (assertion_failure f) {
//! 52      println("rejected: ", f->message);
//! 53    }
//! 54    future f = invoke c->add(a);
//! 55    int i = accept (f, 1) timeout (5.0) { println("no reply"); }
//! 56    println("accepted ", i, ", total ", f->result);
//! 57    future s = invoke c->slow(2.0);
//! 58    int j = accept (s, 1) timeout (0.2) { println("slow: no reply within 0.2 s"); }
//! 59    println("slow: ", j);
//! 60    try {
//! 61      c->check(5);
//! 62    } catch (failure e) {
//! 63      println("caught: ", e->message);
//! 64    }
//! 65    println("sqrt(2) = ", sqrt(2.0), ", done: ", c->total() == 6);
//! 66    return 0;
//! 67  }
//! ```
//!
//! Run it in one process with `golden --local 4`, or on a cluster file listing
//! h1..h4: `golden --kernel --host hN --cluster cluster.toml` for h2, h3 and h4,
//! then `golden --host h1 --cluster cluster.toml`, which runs `main` and exits
//! with its code.

#![allow(
    unused_imports,
    unused_assignments,
    while_true,
    unused_mut,
    unused_variables,
    unused_labels,
    unreachable_code,
    unused_parens,
    unused_braces,
    dead_code,
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    clippy::all
)]
use ftc_runtime::attempt;
use ftc_runtime::program::prelude::*;
use serde::{Deserialize, Serialize};

const SRC: &str = "golden.cmsl";

// line 2: class item {
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Item {
    pub name: String,
    pub qty: i64,
}

impl Item {
    /// `new`: default values, then the initializers (a base's first).
    pub fn construct() -> Res<Obj<Item>> {
        let this = &Obj::new(Item::default());
        Ok(this.clone())
    }
}

impl Show for Item {
    fn show(&self, p: &mut Printer) {
        p.object("item", &[("name", &self.name), ("qty", &self.qty)]);
    }
}

// line 8: server class counter {
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    sum: i64,
    items: List<Obj<Item>>,
}

impl Counter {
    /// The state variables' initializers.
    fn init_state(&mut self) -> Res<()> {
        // line 15: attribute int sum = 0;
        self.sum = 0i64;
        Ok(())
    }

    // line 20: int counter::add (item it) {
    fn add(&mut self, mut it: Obj<Item>) -> Res<i64> {
        check(
            (it.read(|o| o.qty.clone()).at(SRC, 10)? > 0i64),
            "requires it->qty > 0",
        )
        .at(SRC, 10)?;
        // line 21: items->add(it);
        self.items.clone().add(it.clone());
        // line 22: sum += it->qty;
        self.sum = int::add(self.sum, it.read(|o| o.qty.clone()).at(SRC, 22)?).at(SRC, 22)?;
        // line 23: it->qty = 0;              // the server's copy: the caller's item keeps its qty
        it.update(|o| o.qty = 0i64).at(SRC, 23)?;
        // line 24: return sum;
        return Ok(self.sum);
    }

    // line 27: int counter::total () { return sum; }
    fn total(&mut self) -> Res<i64> {
        // line 27: int counter::total () { return sum; }
        return Ok(self.sum);
    }

    // line 29: void counter::check (int limit) {
    fn check_(&mut self, mut limit: i64) -> Res<()> {
        // line 30: if (sum > limit) {
        if (self.sum > limit) {
            // line 31: raise "total " + to_string(sum) + " exceeds " + to_string(limit);
            return Err(Failure::program_error(to_string(&concat(
                &concat(&concat(&"total ", &to_string(&self.sum)), &" exceeds "),
                &to_string(&limit),
            )))
            .at(SRC, 31));
        }
        Ok(())
    }

    // line 35: int counter::slow (real seconds) {
    fn slow(&mut self, mut seconds: f64) -> Res<i64> {
        // line 36: sleep(seconds);
        sleep(seconds).at(SRC, 36)?;
        // line 37: return sum;
        return Ok(self.sum);
    }
}

/// One variant per public method of `counter`.
#[derive(Serialize, Deserialize)]
pub enum CounterCommand {
    /// `add`
    Add { it: Obj<Item> },
    /// `total`
    Total {},
    /// `check_`
    Check { limit: i64 },
    /// `slow`
    Slow { seconds: f64 },
}

impl ServerClass for Counter {
    const NAME: &'static str = "counter";
    type Command = CounterCommand;
    fn construct() -> Res<Self> {
        let mut state = Counter::default();
        state.init_state()?;
        Ok(state)
    }

    fn dispatch(&mut self, command: CounterCommand) -> Res<Encoded> {
        match command {
            CounterCommand::Add { it } => encode(&self.add(it)?),
            CounterCommand::Total {} => encode(&self.total()?),
            CounterCommand::Check { limit } => encode(&self.check_(limit)?),
            CounterCommand::Slow { seconds } => encode(&self.slow(seconds)?),
        }
    }

    fn invariant(&self) -> Res<()> {
        check((self.sum >= 0i64), "invariant sum >= 0").at(SRC, 17)?;
        Ok(())
    }
}

impl TypedServer for Counter {
    type Client = CounterClient;
}

/// A handle on a replicated `counter` server: one method per command, each an exactly-once call answered by the server's reply rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterClient {
    server: Server<Counter>,
}

impl ::std::convert::From<Server<Counter>> for CounterClient {
    fn from(server: Server<Counter>) -> Self {
        CounterClient { server }
    }
}

impl ::std::convert::From<CounterClient> for Server<Counter> {
    fn from(client: CounterClient) -> Self {
        client.server
    }
}

impl CounterClient {
    /// Calls the command `add` and waits for its reply.
    pub fn add(&self, it: Obj<Item>) -> Res<i64> {
        self.server.call(CounterCommand::Add { it })
    }

    /// Sends the command `add`; its future holds the reply.
    pub fn invoke_add(&self, it: Obj<Item>) -> Res<Future<i64>> {
        self.server.invoke(CounterCommand::Add { it })
    }

    /// Calls the command `total` and waits for its reply.
    pub fn total(&self) -> Res<i64> {
        self.server.call(CounterCommand::Total {})
    }

    /// Sends the command `total`; its future holds the reply.
    pub fn invoke_total(&self) -> Res<Future<i64>> {
        self.server.invoke(CounterCommand::Total {})
    }

    /// Calls the command `check_` and waits for its reply.
    pub fn check_(&self, limit: i64) -> Res<()> {
        self.server.call(CounterCommand::Check { limit })
    }

    /// Sends the command `check_`; its future holds the reply.
    pub fn invoke_check_(&self, limit: i64) -> Res<Future<()>> {
        self.server.invoke(CounterCommand::Check { limit })
    }

    /// Calls the command `slow` and waits for its reply.
    pub fn slow(&self, seconds: f64) -> Res<i64> {
        self.server.call(CounterCommand::Slow { seconds })
    }

    /// Sends the command `slow`; its future holds the reply.
    pub fn invoke_slow(&self, seconds: f64) -> Res<Future<i64>> {
        self.server.invoke(CounterCommand::Slow { seconds })
    }
}

// line 40: int main () {
pub fn cmsl_main() -> Res<i64> {
    // line 41: counter c = server counter model crash tolerate (1);
    let mut c: Server<Counter> =
        Server::<Counter>::start(&Props::new().model(Model::Crash).tolerate(1i64)).at(SRC, 41)?;
    // line 42: item a = new item;
    let mut a: Obj<Item> = Item::construct().at(SRC, 42)?;
    // line 43: a->name = "apples";
    a.update(|o| o.name = "apples".to_string()).at(SRC, 43)?;
    // line 44: a->qty = 3;
    a.update(|o| o.qty = 3i64).at(SRC, 44)?;
    // line 45: println("total: ", c->add(a));
    println(&[&"total: ", &c.client().add(a.clone()).at(SRC, 45)?]);
    // line 46: println("kept: ", a);
    println(&[&"kept: ", &a]);
    // line 47: item none = new item;
    let mut none: Obj<Item> = Item::construct().at(SRC, 47)?;
    // line 48: none->name = "nothing";
    none.update(|o| o.name = "nothing".to_string())
        .at(SRC, 48)?;
    // line 49: try {
    let outcome: Res<()> = 'try_1: {
        // line 50: c->add(none);
        attempt!('try_1, c.client().add(none.clone()).at(SRC, 50));
        Ok(())
    };
    #[allow(unused_variables)]
    match outcome {
        Ok(()) => {}
        Err(f) if f.is(FailureKind::AssertionFailure) => {
            // line 51: } catch (assertion_failure f) {
            // line 52: println("rejected: ", f->message);
            println(&[&"rejected: ", &f.clone().message.clone()]);
        }
        Err(e) => return Err(e),
    }

    // line 54: future f = invoke c->add(a);
    let mut f: Future<i64> = c.client().invoke_add(a.clone()).at(SRC, 54)?;
    // line 55: int i = accept (f, 1) timeout (5.0) { println("no reply"); }
    let mut i: i64 = match accept_timeout(&f, 1i64, 5.0).at(SRC, 55)? {
        Some(index) => index,
        None => {
            // line 55: int i = accept (f, 1) timeout (5.0) { println("no reply"); }
            println(&[&"no reply"]);
            -1
        }
    };
    // line 56: println("accepted ", i, ", total ", f->result);
    println(&[&"accepted ", &i, &", total ", &f.result().at(SRC, 56)?]);
    // line 57: future s = invoke c->slow(2.0);
    let mut s: Future<i64> = c.client().invoke_slow(2.0).at(SRC, 57)?;
    // line 58: int j = accept (s, 1) timeout (0.2) { println("slow: no reply within 0.2 s"); }
    let mut j: i64 = match accept_timeout(&s, 1i64, 0.2).at(SRC, 58)? {
        Some(index) => index,
        None => {
            // line 58: int j = accept (s, 1) timeout (0.2) { println("slow: no reply within 0.2 s"); }
            println(&[&"slow: no reply within 0.2 s"]);
            -1
        }
    };
    // line 59: println("slow: ", j);
    println(&[&"slow: ", &j]);
    // line 60: try {
    let outcome: Res<()> = 'try_2: {
        // line 61: c->check(5);
        attempt!('try_2, c.client().check_(5i64).at(SRC, 61));
        Ok(())
    };
    #[allow(unused_variables)]
    match outcome {
        Ok(()) => {}
        Err(e) => {
            // line 62: } catch (failure e) {
            // line 63: println("caught: ", e->message);
            println(&[&"caught: ", &e.clone().message.clone()]);
        }
    }

    // line 65: println("sqrt(2) = ", sqrt(2.0), ", done: ", c->total() == 6);
    println(&[
        &"sqrt(2) = ",
        &sqrt(2.0),
        &", done: ",
        &(c.client().total().at(SRC, 65)? == 6i64),
    ]);
    // line 66: return 0;
    return Ok(0i64);
}

fn main() -> std::process::ExitCode {
    run(ProgramDef {
        name: "golden",
        servers: Vec::from([ServerClassDef::of::<Counter>()]),
        main: cmsl_main,
    })
}
