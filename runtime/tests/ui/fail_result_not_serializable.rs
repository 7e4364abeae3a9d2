use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Inbox {
    count: i64,
}

/// Not serializable: it cannot travel in a reply.
pub struct Receipt {
    pub count: i64,
}

#[ftc_runtime::server]
impl Inbox {
    pub fn receipt(&self) -> Receipt {
        Receipt { count: self.count }
    }
}

fn main() {}
