// `#[server]` on a struct, and with arguments: each reported once, and the
// struct and the type's other uses stay valid.
use serde::{Deserialize, Serialize};

#[ftc_runtime::server]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    total: i64,
}

#[ftc_runtime::server(model = crash)]
impl Counter {
    pub fn add(&mut self, by: i64) -> i64 {
        self.total += by;
        self.total
    }
}

fn main() {
    let _ = Counter::server_class();
}
