//! What the judge decides within budget on a shape like the protocol tests':
//! 10 clients over 5 keys, 1,000 operations per key, unknown outcomes
//! included. Other shapes are measured with the `envelope` example.

use std::time::{Duration, Instant};

use ftc_judge::check_kv;
use ftc_judge::synth::{history, Shape};
use ftc_judge::Verdict;

const BUDGET: Duration = Duration::from_secs(60);

const SHAPE: Shape = Shape {
    clients: 10,
    keys: 5,
    ops: 5_000,
    info_percent: 5,
    appends: true,
    corrupt: false,
};

#[test]
fn linearizable_history_with_unknown_outcomes_is_judged() {
    let started = Instant::now();
    let verdict = check_kv(&history(&SHAPE, 1), BUDGET);
    println!("{SHAPE:?}: {verdict:?} in {:?}", started.elapsed());
    assert_eq!(verdict, Verdict::Linearizable);
}

#[test]
fn one_wrong_read_is_found() {
    let shape = Shape {
        info_percent: 0,
        corrupt: true,
        ..SHAPE
    };
    let started = Instant::now();
    let verdict = check_kv(&history(&shape, 2), BUDGET);
    println!("{shape:?}: {verdict:?} in {:?}", started.elapsed());
    assert!(
        matches!(verdict, Verdict::NotLinearizable { .. }),
        "{verdict:?}"
    );
}
