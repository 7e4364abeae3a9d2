// Every kind of nondeterminism the scan knows, one method each.
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Instant, SystemTime};

#[derive(Default, Serialize, Deserialize)]
pub struct Board {
    notes: Vec<String>,
}

#[ftc_runtime::server]
impl Board {
    pub fn tally(&mut self) -> Vec<String> {
        let mut counts: HashMap<String, i64> = HashMap::new();
        for n in &self.notes {
            *counts.entry(n.clone()).or_default() += 1;
        }
        counts.into_keys().collect()
    }

    pub fn shuffle(&mut self) -> u64 {
        rand::random::<u64>()
    }

    pub fn stamp(&mut self) {
        self.notes.push(format!("{:?}", Instant::now()));
    }

    pub fn date(&mut self) {
        let now = SystemTime::now();
        self.notes.push(format!("{now:?}"));
    }

    pub fn load(&mut self) {
        self.notes = std::fs::read_to_string("notes.txt")
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
    }

    pub fn wait(&mut self) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn main() {
    let _ = Board::server_class();
}
