// State that cannot be snapshotted (no `Serialize`/`Deserialize`) or has no
// initial value (no `Default`).
use std::cell::RefCell;

pub struct Cache {
    hits: RefCell<i64>,
}

#[ftc_runtime::server]
impl Cache {
    pub fn hit(&mut self) -> i64 {
        *self.hits.borrow_mut() += 1;
        *self.hits.borrow()
    }
}

fn main() {}
