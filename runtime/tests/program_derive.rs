//! `#[ftc_runtime::server]` on plain Rust types, run on three in-process
//! kernels with the real protocols: typed calls and invokes, queries, a
//! `Result` reply, a panicking method answered with `program_error` while the
//! server keeps serving, a server that calls another through the client it
//! keeps in its state (a nested, exactly-once call), and a byzantine server.

use ftc_runtime::kernel::Kernel;
use ftc_runtime::lang::{Array, Failure, FailureKind, Res};
use ftc_runtime::program::{accept, run_main, Future, ProgramFactory, Props};
use ftc_runtime::types::Model;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// A replicated bank account.
#[derive(Default, Serialize, Deserialize)]
pub struct Account {
    balance: i64,
    deposits: Vec<i64>,
}

#[ftc_runtime::server]
impl Account {
    /// Adds `amount`; the new balance.
    pub fn deposit(&mut self, amount: i64) -> i64 {
        self.balance += amount;
        self.deposits.push(amount);
        self.balance
    }

    /// Takes `amount` out, unless the balance is too small.
    pub fn withdraw(&mut self, amount: i64) -> Result<i64, String> {
        if amount > self.balance {
            return Err(format!("balance {} is below {amount}", self.balance));
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    pub fn balance(&self) -> i64 {
        self.balance
    }

    pub fn history(&self) -> Vec<i64> {
        self.deposits.clone()
    }

    /// Panics: the caller gets `program_error`, the replicas go on.
    pub fn explode(&mut self, why: String) -> i64 {
        panic!("explode: {why}")
    }

    fn audit(&self) -> bool {
        self.deposits.iter().sum::<i64>() >= self.balance
    }

    pub fn audited(&self) -> bool {
        self.audit()
    }
}

/// A server that pays into accounts through their clients: nested calls.
#[derive(Default, Serialize, Deserialize)]
pub struct Teller {
    account: Option<AccountClient>,
    paid: i64,
}

#[ftc_runtime::server]
impl Teller {
    pub fn open(&mut self, account: AccountClient) {
        self.account = Some(account);
    }

    /// A `Res` reply: a failure (here of the nested call, or of a missing
    /// account) reaches the caller as the call's failure.
    pub fn pay(&mut self, amount: i64) -> Res<i64> {
        let account = self
            .account
            .ok_or_else(|| Failure::program_error("no account was opened"))?;
        self.paid += 1;
        account.deposit(amount)
    }
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(line: String) {
    if let Ok(mut l) = LOG.lock() {
        l.push(line);
    }
}

fn program() -> Res<i64> {
    let crash = Props::new().model(Model::Crash).tolerate(1);
    let account = Account::start(&crash)?;
    log(format!("deposit: {}", account.deposit(5)?));
    log(format!("withdraw 7: {:?}", account.withdraw(7)?));
    log(format!("withdraw 2: {:?}", account.withdraw(2)?));
    match account.explode("on purpose".to_string()) {
        Err(f) if f.is(FailureKind::ProgramError) => log("explode: program_error".to_string()),
        other => log(format!("explode: unexpected {other:?}")),
    }
    let futures = Array::<Future<i64>>::new(3)?;
    for (i, amount) in [10, 20, 30].into_iter().enumerate() {
        futures.set(i as i64, account.invoke_deposit(amount)?)?;
    }
    let mut balances = Vec::new();
    for _ in 0..3 {
        let i = accept(&futures, 3)?;
        balances.push(futures.get(i)?.result()?);
    }
    balances.sort();
    log(format!("invoked: {balances:?}"));
    let teller = Teller::start(&crash)?;
    teller.open(account)?;
    log(format!("paid: {:?}", teller.pay(100)?));
    let unopened = Teller::start(&crash)?;
    match unopened.pay(1) {
        Err(f) if f.is(FailureKind::ProgramError) => {
            log("pay without an account: program_error".to_string())
        }
        other => log(format!("pay without an account: unexpected {other:?}")),
    }
    log(format!(
        "balance: {}, history: {:?}, audited: {}",
        account.balance()?,
        account.history()?,
        account.audited()?
    ));
    let byzantine = Account::start(&Props::new().model(Model::Byzantine).tolerate(1))?;
    log(format!("byzantine deposit: {}", byzantine.deposit(3)?));
    Ok(0)
}

#[test]
fn plain_rust_types_replicate() {
    let apps = Arc::new(ProgramFactory::new(vec![
        Account::server_class(),
        Teller::server_class(),
    ]));
    let kernels = Kernel::start_in_process(0, 4, apps, |_| {}).expect("start kernels");
    let result = run_main(kernels[0].handle(), program);
    let lines = LOG.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(result.map_err(|f| f.report()), Ok(0), "log: {lines:#?}");
    assert_eq!(
        lines,
        vec![
            "deposit: 5",
            "withdraw 7: Err(\"balance 5 is below 7\")",
            "withdraw 2: Ok(3)",
            "explode: program_error",
            "invoked: [13, 33, 63]",
            "paid: 163",
            "pay without an account: program_error",
            "balance: 163, history: [5, 10, 20, 30, 100], audited: true",
            "byzantine deposit: 3",
        ]
    );
}
