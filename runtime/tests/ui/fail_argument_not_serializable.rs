use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Inbox {
    count: i64,
}

/// Not serializable: it cannot travel in a command.
pub struct Letter {
    pub text: String,
}

#[ftc_runtime::server]
impl Inbox {
    pub fn post(&mut self, letter: Letter) -> i64 {
        self.count += letter.text.len() as i64;
        self.count
    }
}

fn main() {}
