//! The program layer on three in-process kernels running the real protocols:
//! `main` starts replicated servers, calls them, invokes and accepts, and a
//! server calls another server (nested commands), sleeps and accepts with a
//! timeout inside a replicated method.

use ftc_runtime::kernel::Kernel;
use ftc_runtime::lang::{encode, int, Encoded, Failure, FailureKind, List, Obj, Res};
use ftc_runtime::program::{
    accept, accept_timeout, run_main, sleep, Future, ProgramFactory, Props, Server, ServerClass,
    ServerClassDef,
};
use ftc_runtime::types::Model;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// A bank account server.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    balance: i64,
    history: List<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
enum AccountCommand {
    Deposit { amount: i64 },
    Balance {},
    Slow { seconds: f64 },
    Touch { note: Obj<Note> },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Note {
    text: String,
}

impl Account {
    fn deposit(&mut self, amount: i64) -> Res<i64> {
        ftc_runtime::lang::check(amount > 0, "requires amount > 0")?;
        self.balance = int::add(self.balance, amount)?;
        self.history.add(amount);
        Ok(self.balance)
    }

    fn slow(&mut self, seconds: f64) -> Res<i64> {
        sleep(seconds)?;
        Ok(self.balance)
    }

    fn touch(&mut self, note: Obj<Note>) -> Res<String> {
        note.get_mut()?.text.push_str(" (seen)");
        let text = note.get()?.text.clone();
        Ok(text)
    }
}

impl ServerClass for Account {
    const NAME: &'static str = "account";
    type Command = AccountCommand;
    fn construct() -> Res<Account> {
        Ok(Account::default())
    }
    fn dispatch(&mut self, command: AccountCommand) -> Res<Encoded> {
        match command {
            AccountCommand::Deposit { amount } => encode(&self.deposit(amount)?),
            AccountCommand::Balance {} => encode(&self.balance),
            AccountCommand::Slow { seconds } => encode(&self.slow(seconds)?),
            AccountCommand::Touch { note } => encode(&self.touch(note)?),
        }
    }
}

/// A server that forwards to accounts: nested calls from a replicated server.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Teller {
    served: i64,
}

#[derive(Debug, Serialize, Deserialize)]
enum TellerCommand {
    Pay { to: Server<Account>, amount: i64 },
    Race { to: Server<Account>, seconds: f64 },
}

impl ServerClass for Teller {
    const NAME: &'static str = "teller";
    type Command = TellerCommand;
    fn construct() -> Res<Teller> {
        Ok(Teller::default())
    }
    fn dispatch(&mut self, command: TellerCommand) -> Res<Encoded> {
        match command {
            TellerCommand::Pay { to, amount } => {
                self.served += 1;
                let balance: i64 = to.call(AccountCommand::Deposit { amount })?;
                encode(&balance)
            }
            TellerCommand::Race { to, seconds } => {
                let slow: Future<i64> = to.invoke(AccountCommand::Slow { seconds: 1.0 })?;
                let got = match accept_timeout(&slow, 1, seconds)? {
                    Some(_) => slow.result()?,
                    None => -1,
                };
                encode(&got)
            }
        }
    }
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(line: String) {
    if let Ok(mut l) = LOG.lock() {
        l.push(line);
    }
}

fn kernels(n: u32) -> Vec<Kernel> {
    let apps = Arc::new(ProgramFactory::new(vec![
        ServerClassDef::of::<Account>(),
        ServerClassDef::of::<Teller>(),
    ]));
    Kernel::start_in_process(0, n, apps, |_| {}).expect("start kernels")
}

fn bank() -> Res<i64> {
    let acct: Server<Account> = Server::start(&Props::new().model(Model::Crash).tolerate(1))?;
    let b: i64 = acct.call(AccountCommand::Deposit { amount: 5 })?;
    log(format!("deposit: {b}"));
    match acct.call::<i64>(AccountCommand::Deposit { amount: -1 }) {
        Err(e) if e.is(FailureKind::AssertionFailure) => log(format!("rejected: {}", e.message)),
        other => log(format!("unexpected: {other:?}")),
    }
    // By value: the server changes its copy only.
    let note = Obj::new(Note {
        text: "hello".into(),
    });
    let seen: String = acct.call(AccountCommand::Touch { note: note.clone() })?;
    log(format!("touch: {seen} / {}", note.get()?.text));
    // invoke + accept over an array of futures.
    let futures = ftc_runtime::lang::Array::<Future<i64>>::new(3)?;
    for i in 0..3 {
        futures.set(i, acct.invoke(AccountCommand::Deposit { amount: 10 })?)?;
    }
    let mut total = 0;
    for _ in 0..3 {
        let i = accept(&futures, 3)?;
        total += futures.get(i)?.result()?;
    }
    log(format!("three deposits, sum of balances: {total}"));
    let slow: Future<i64> = acct.invoke(AccountCommand::Slow { seconds: 1.0 })?;
    log(format!(
        "slow within 0.1 s: {:?}",
        accept_timeout(&slow, 1, 0.1)?
    ));
    log(format!("slow result: {}", slow.result()?));
    // A replicated server calling another server.
    let teller: Server<Teller> = Server::start(&Props::new().model(Model::Crash).tolerate(1))?;
    let paid: i64 = teller.call(TellerCommand::Pay {
        to: acct,
        amount: 100,
    })?;
    log(format!("paid through the teller: {paid}"));
    let raced: i64 = teller.call(TellerCommand::Race {
        to: acct,
        seconds: 0.1,
    })?;
    log(format!("teller race: {raced}"));
    let balance: i64 = acct.call(AccountCommand::Balance {})?;
    log(format!("balance: {balance}"));
    // server account [2] model crash tolerate (1) disjoint
    let branches = Server::<Account>::start_array(
        2,
        &Props::new().model(Model::Crash).tolerate(1).disjoint(),
    )?;
    let pending = ftc_runtime::lang::Array::<Future<i64>>::new(2)?;
    for i in 0..2 {
        let amount = int::add(i, 1)?;
        pending.set(
            i,
            branches
                .get(i)?
                .invoke(AccountCommand::Deposit { amount })?,
        )?;
    }
    let mut seen = Vec::new();
    for _ in 0..2 {
        let i = accept(&pending, 2)?;
        seen.push((i, pending.get(i)?.result()?));
    }
    seen.sort();
    log(format!(
        "branches: {seen:?}, distinct: {}",
        branches.get(0)? != branches.get(1)?
    ));
    Err(Failure::program_error("done").at("bank.cmsl", 1))
}

#[test]
fn main_and_servers_on_three_kernels() {
    let ks = kernels(3);
    let result = run_main(ks[0].handle(), bank);
    let lines = LOG.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(
        result.map_err(|f| f.report()),
        Err("error: program_error: done\n  --> bank.cmsl:1".to_string()),
        "log: {lines:#?}"
    );
    assert_eq!(
        lines,
        vec![
            "deposit: 5",
            "rejected: requires amount > 0",
            "touch: hello (seen) / hello",
            "three deposits, sum of balances: 75",
            "slow within 0.1 s: None",
            "slow result: 35",
            "paid through the teller: 135",
            "teller race: -1",
            "balance: 135",
            "branches: [(0, 1), (1, 2)], distinct: true",
        ]
    );
}
