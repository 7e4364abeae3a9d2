// A replicated counter: commands, a query, a `Result` reply, a `Res` reply, a
// helper and a constructor that stay plain methods.
use ftc_runtime::lang::Res;
use ftc_runtime::program::ServerClass;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    total: i64,
}

#[ftc_runtime::server]
impl Counter {
    pub fn new() -> Counter {
        Counter::default()
    }

    pub fn add(&mut self, by: i64) -> i64 {
        self.total += by;
        self.total
    }

    pub fn total(&self) -> i64 {
        self.total
    }

    pub fn checked_sub(&mut self, by: i64) -> Result<i64, String> {
        if by > self.total {
            return Err(format!("{by} exceeds {}", self.total));
        }
        self.total -= by;
        Ok(self.total)
    }

    pub fn forward(&mut self, to: CounterClient, by: i64) -> Res<i64> {
        to.add(by)
    }

    fn helper(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}

#[allow(dead_code)]
fn uses(client: CounterClient) -> Res<i64> {
    let later = client.invoke_add(1)?;
    client.checked_sub(1)?.ok();
    Ok(later.result()? + client.total()?)
}

fn main() {
    let _ = Counter::new().helper();
    let mut counter = <Counter as ServerClass>::construct().expect("constructed");
    assert_eq!(counter.add(2), 2);
    assert_eq!(Counter::server_class().name, "Counter");
}
