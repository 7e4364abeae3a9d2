//! A replicated bank written as plain Rust: two branches, each a `Branch`
//! server replicated with `model crash tolerate (1)`, and a `main` that moves
//! money between them. A transfer is a nested call from one branch to the
//! other; every call is exactly-once, also while a replica's host is killed.
//!
//! Run it on three in-process kernels with `cargo run -p ftc-examples --bin
//! bank -- --local 3`, or as processes the way `ftc run` starts a program
//! (`examples/tests/bank.rs`, which also kills a host mid-run).

use ftc_runtime::lang::Res;
use ftc_runtime::program::{run, sleep, ProgramDef};
use ftc_runtime::props;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// One branch: its accounts, and how many commands it has applied.
#[derive(Default, Serialize, Deserialize)]
pub struct Branch {
    accounts: BTreeMap<String, i64>,
    applied: u64,
}

#[ftc_runtime::server]
impl Branch {
    /// Opens the account `name` with `amount` in it.
    pub fn open(&mut self, name: String, amount: i64) -> Result<i64, String> {
        self.applied += 1;
        if self.accounts.contains_key(&name) {
            return Err(format!("{name} is already open"));
        }
        self.accounts.insert(name, amount);
        Ok(amount)
    }

    /// Pays `amount` into `name`; the new balance.
    pub fn deposit(&mut self, name: String, amount: i64) -> Result<i64, String> {
        self.applied += 1;
        let balance = self
            .accounts
            .get_mut(&name)
            .ok_or(format!("no account {name}"))?;
        *balance += amount;
        Ok(*balance)
    }

    /// Moves `amount` from `from` here to `to` at the branch `other`, whose
    /// refusal puts the money back. The deposit is a nested call.
    pub fn transfer(
        &mut self,
        from: String,
        other: BranchClient,
        to: String,
        amount: i64,
    ) -> Res<Result<i64, String>> {
        self.applied += 1;
        let Some(balance) = self.accounts.get_mut(&from) else {
            return Ok(Err(format!("no account {from}")));
        };
        if *balance < amount {
            return Ok(Err(format!("{from} has {balance}, not {amount}")));
        }
        *balance -= amount;
        let refused = other.deposit(to, amount)?.err();
        let balance = self.accounts.entry(from).or_default();
        match refused {
            None => Ok(Ok(*balance)),
            Some(why) => {
                *balance += amount;
                Ok(Err(format!("{why}: {amount} refunded")))
            }
        }
    }

    pub fn balance(&self, name: String) -> Option<i64> {
        self.accounts.get(&name).copied()
    }

    /// The money held and the commands applied.
    pub fn books(&self) -> (i64, u64) {
        (self.accounts.values().sum(), self.applied)
    }
}

const ROUNDS: i64 = 60;

fn bank() -> Res<i64> {
    // The start properties as in CMSL, checked at compile time.
    let crash = props!(model crash tolerate (1));
    let north = Branch::start(&crash)?;
    let south = Branch::start(&crash)?;
    north.open("alice".into(), 1000)?.ok();
    south.open("bob".into(), 1000)?.ok();
    for round in 0..ROUNDS {
        let moved = if round % 3 == 2 {
            south.transfer("bob".into(), north, "alice".into(), 5)?
        } else {
            north.transfer("alice".into(), south, "bob".into(), 10)?
        };
        if let Err(why) = moved {
            println!("round {round}: {why}");
        }
        sleep(0.05)?;
    }
    if let Err(why) = north.transfer("alice".into(), south, "carol".into(), 1)? {
        println!("refused: {why}");
    }
    let alice = north.balance("alice".into())?.unwrap_or(0);
    let bob = south.balance("bob".into())?.unwrap_or(0);
    println!("alice: {alice}, bob: {bob}");
    let (north_money, north_applied) = north.books()?;
    let (south_money, south_applied) = south.books()?;
    println!("money: {}", north_money + south_money);
    println!("applied: north {north_applied}, south {south_applied}");
    Ok(0)
}

fn main() -> ExitCode {
    run(ProgramDef {
        name: "bank",
        servers: vec![Branch::server_class()],
        main: bank,
    })
}
