// A method that names a nondeterminism hazard but says why its replicas still
// agree is accepted; the attribute is consumed by `#[server]`.
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Default, Serialize, Deserialize)]
pub struct Prices {
    by_name: Vec<(String, i64)>,
}

#[ftc_runtime::server]
impl Prices {
    pub fn set(&mut self, name: String, price: i64) {
        self.by_name.retain(|(n, _)| *n != name);
        self.by_name.push((name, price));
    }

    #[ftc(nondeterministic = "the map is only looked up, never iterated")]
    pub fn price(&self, name: String) -> Option<i64> {
        let index: HashMap<&str, i64> = self.by_name.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        index.get(name.as_str()).copied()
    }
}

fn main() {
    let mut prices = Prices::default();
    prices.set("tea".to_string(), 3);
    assert_eq!(prices.price("tea".to_string()), Some(3));
    assert_eq!(prices.price("milk".to_string()), None);
}
