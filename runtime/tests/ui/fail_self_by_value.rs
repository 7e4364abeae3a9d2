use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Ledger {
    entries: Vec<i64>,
}

#[ftc_runtime::server]
impl Ledger {
    pub fn into_entries(self) -> Vec<i64> {
        self.entries
    }
}

fn main() {
    let _ = Ledger::server_class();
}
