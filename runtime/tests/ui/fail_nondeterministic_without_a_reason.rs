use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Default, Serialize, Deserialize)]
pub struct Prices {
    by_name: Vec<(String, i64)>,
}

#[ftc_runtime::server]
impl Prices {
    #[ftc(nondeterministic)]
    pub fn price(&self, name: String) -> Option<i64> {
        let index: HashMap<&str, i64> = self.by_name.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        index.get(name.as_str()).copied()
    }

    #[ftc(nondeterministic = "")]
    pub fn count(&self) -> usize {
        self.by_name.len()
    }
}

fn main() {
    let _ = Prices::server_class();
}
