//! The reference for code generation: the Rust `ftc` emits for `golden.cmsl`
//! (below), written by hand. Code generation follows this shape exactly.
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

use ftc_runtime::attempt;
use ftc_runtime::program::prelude::*;
use serde::{Deserialize, Serialize};

const SRC: &str = "golden.cmsl";

// cmsl:2 class item
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Item {
    // cmsl:4
    pub name: String,
    // cmsl:5
    pub qty: i64,
}

impl Item {
    /// `new item`: default values, then the initializers (none here).
    pub fn construct() -> Res<Obj<Item>> {
        Ok(Obj::new(Item::default()))
    }
}

impl Show for Item {
    fn show(&self, p: &mut Printer) {
        p.object("item", &[("name", &self.name), ("qty", &self.qty)]);
    }
}

// cmsl:8 server class counter
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    // cmsl:15
    sum: i64,
    // cmsl:16
    items: List<Obj<Item>>,
}

/// One variant per public method of `counter`.
#[derive(Debug, Serialize, Deserialize)]
pub enum CounterCommand {
    Add { it: Obj<Item> },
    Total {},
    Check { limit: i64 },
    Slow { seconds: f64 },
}

impl Counter {
    // cmsl:20 int counter::add (item it)
    fn add(&mut self, it: Obj<Item>) -> Res<i64> {
        // cmsl:10 requires it->qty > 0
        check(it.read(|o| o.qty)? > 0, "requires it->qty > 0").at(SRC, 10)?;
        // cmsl:21
        self.items.add(it.clone());
        // cmsl:22
        self.sum = int::add(self.sum, it.read(|o| o.qty)?).at(SRC, 22)?;
        // cmsl:23
        it.update(|o| o.qty = 0)?;
        // cmsl:24
        Ok(self.sum)
    }

    // cmsl:27 int counter::total ()
    fn total(&mut self) -> Res<i64> {
        Ok(self.sum)
    }

    // cmsl:29 void counter::check (int limit)
    fn check(&mut self, limit: i64) -> Res<()> {
        // cmsl:30
        if self.sum > limit {
            // cmsl:31
            let message = show_all(&[
                &"total ",
                &to_string(&self.sum),
                &" exceeds ",
                &to_string(&limit),
            ]);
            return Err(Failure::program_error(message).at(SRC, 31));
        }
        Ok(())
    }

    // cmsl:35 int counter::slow (real seconds)
    fn slow(&mut self, seconds: f64) -> Res<i64> {
        // cmsl:36
        sleep(seconds).at(SRC, 36)?;
        // cmsl:37
        Ok(self.sum)
    }
}

impl ServerClass for Counter {
    const NAME: &'static str = "counter";
    type Command = CounterCommand;

    fn construct() -> Res<Counter> {
        Ok(Counter {
            // cmsl:15
            sum: 0,
            items: List::new(),
        })
    }

    fn dispatch(&mut self, command: CounterCommand) -> Res<Encoded> {
        match command {
            CounterCommand::Add { it } => encode(&self.add(it)?),
            CounterCommand::Total {} => encode(&self.total()?),
            CounterCommand::Check { limit } => encode(&self.check(limit)?),
            CounterCommand::Slow { seconds } => encode(&self.slow(seconds)?),
        }
    }

    fn invariant(&self) -> Res<()> {
        // cmsl:17
        check(self.sum >= 0, "invariant sum >= 0").at(SRC, 17)
    }
}

// cmsl:40 int main ()
pub fn cmsl_main() -> Res<i64> {
    // cmsl:41
    let c: Server<Counter> =
        Server::start(&Props::new().model(Model::Crash).tolerate(1)).at(SRC, 41)?;
    // cmsl:42
    let a: Obj<Item> = Item::construct()?;
    // cmsl:43
    a.update(|o| o.name = "apples".to_string())?;
    // cmsl:44
    a.update(|o| o.qty = 3)?;
    // cmsl:45
    let t1: i64 = c.call(CounterCommand::Add { it: a.clone() }).at(SRC, 45)?;
    println(&[&"total: ", &t1]);
    // cmsl:46
    println(&[&"kept: ", &a]);
    // cmsl:47
    let none: Obj<Item> = Item::construct()?;
    // cmsl:48
    none.update(|o| o.name = "nothing".to_string())?;
    // cmsl:49 try
    let outcome: Res<()> = 'try_1: {
        // cmsl:50
        let _: i64 = attempt!(
            'try_1,
            c.call(CounterCommand::Add { it: none.clone() }).at(SRC, 50)
        );
        Ok(())
    };
    match outcome {
        Ok(()) => {}
        // cmsl:51 catch (assertion_failure f)
        Err(f) if f.is(FailureKind::AssertionFailure) => {
            // cmsl:52
            println(&[&"rejected: ", &f.message]);
        }
        Err(e) => return Err(e),
    }
    // cmsl:54
    let f: Future<i64> = c
        .invoke(CounterCommand::Add { it: a.clone() })
        .at(SRC, 54)?;
    // cmsl:55
    let i: i64 = match accept_timeout(&f, 1, 5.0).at(SRC, 55)? {
        Some(index) => index,
        None => {
            println(&[&"no reply"]);
            -1
        }
    };
    // cmsl:56
    let t2: i64 = f.result().at(SRC, 56)?;
    println(&[&"accepted ", &i, &", total ", &t2]);
    // cmsl:57
    let s: Future<i64> = c
        .invoke(CounterCommand::Slow { seconds: 2.0 })
        .at(SRC, 57)?;
    // cmsl:58
    let j: i64 = match accept_timeout(&s, 1, 0.2).at(SRC, 58)? {
        Some(index) => index,
        None => {
            println(&[&"slow: no reply within 0.2 s"]);
            -1
        }
    };
    // cmsl:59
    println(&[&"slow: ", &j]);
    // cmsl:60 try
    let outcome: Res<()> = 'try_2: {
        // cmsl:61
        attempt!('try_2, c.call::<()>(CounterCommand::Check { limit: 5 }).at(SRC, 61));
        Ok(())
    };
    match outcome {
        Ok(()) => {}
        // cmsl:62 catch (failure e)
        Err(e) => {
            // cmsl:63
            println(&[&"caught: ", &e.message]);
        }
    }
    // cmsl:65
    let t3: i64 = c.call(CounterCommand::Total {}).at(SRC, 65)?;
    println(&[&"sqrt(2) = ", &sqrt(2.0), &", done: ", &(t3 == 6)]);
    // cmsl:66
    Ok(0)
}

fn main() -> std::process::ExitCode {
    run(ProgramDef {
        name: "golden",
        servers: vec![ServerClassDef::of::<Counter>()],
        main: cmsl_main,
    })
}
