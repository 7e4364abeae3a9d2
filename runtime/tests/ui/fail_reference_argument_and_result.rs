// References in arguments and results: both reported, and the client method
// still exists, so its use adds no error.
use ftc_runtime::lang::Res;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct Names {
    names: Vec<String>,
}

#[ftc_runtime::server]
impl Names {
    pub fn add(&mut self, name: &str) {
        self.names.push(name.to_string());
    }

    pub fn first(&self) -> &str {
        &self.names[0]
    }

    pub fn count(&self) -> usize {
        self.names.len()
    }
}

fn uses(names: NamesClient) -> Res<usize> {
    names.add("ada")?;
    names.count()
}

fn main() {
    let _ = uses;
}
