use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    total: i64,
}

#[ftc_runtime::server]
impl Counter {
    pub async fn add(&mut self, by: i64) -> i64 {
        self.total += by;
        self.total
    }
}

fn main() {
    let _ = Counter::server_class();
}
