use ftc_runtime::lang::Res;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    total: i64,
}

#[ftc_runtime::server]
impl Counter {
    pub fn add<N: Into<i64>>(&mut self, by: N) -> i64 {
        self.total += by.into();
        self.total
    }
}

fn uses(counter: CounterClient) -> Res<i64> {
    counter.add(2)
}

fn main() {
    let _ = uses;
}
