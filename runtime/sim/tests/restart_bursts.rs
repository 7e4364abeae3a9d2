//! Restart bursts: two of three hosts crash together or one right after the
//! other (disruptions of 50–250 ms, 60 ms apart), so a majority of the view
//! service's memories is lost before the restarted hosts' joins commit. The
//! view service must recover (a recovery election with the restarted hosts
//! standing in for their lost identities) and every check must hold, the
//! wedge check included. `FTC_BURST_SEEDS=N` runs N seeds per kind in the
//! long test (see `docs/replication.md`, "Recovery").

use ftc_sim::report::sweep_kv;
use ftc_sim::KvConfig;

fn crashes(seed: u64) -> KvConfig {
    KvConfig::restart_bursts(seed, true)
}

fn every_kind(seed: u64) -> KvConfig {
    KvConfig::restart_bursts(seed, false)
}

/// Before recovery elections this seed left the view service wedged for good:
/// hosts 1 and 2 crashed 60 ms apart and came back as new incarnations; only
/// host 0 remembered the log, and it could never commit their joins alone.
#[test]
fn seed_0_a_burst_of_two_restarts_no_longer_wedges_the_view_service() {
    sweep_kv(0..1, crashes).assert_clean(
        "restart_bursts",
        "seed_0_a_burst_of_two_restarts_no_longer_wedges_the_view_service",
    );
}

#[test]
fn restart_bursts_of_crashes_seeds_0_to_400() {
    sweep_kv(0..400, crashes)
        .assert_clean("restart_bursts", "restart_bursts_of_crashes_seeds_0_to_400");
}

#[test]
fn restart_bursts_of_every_kind_seeds_0_to_400() {
    sweep_kv(0..400, every_kind).assert_clean(
        "restart_bursts",
        "restart_bursts_of_every_kind_seeds_0_to_400",
    );
}

/// The long sweep: `FTC_BURST_SEEDS=5000 cargo test -p ftc-sim --test
/// restart_bursts -- --ignored --nocapture` (seeds from 100,000 up, both kinds).
#[test]
#[ignore = "long: run with --ignored, FTC_BURST_SEEDS sets the seed count"]
fn restart_bursts_long() {
    let count: u64 = std::env::var("FTC_BURST_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let seeds = 100_000..100_000 + count;
    let of_crashes = sweep_kv(seeds.clone(), crashes);
    let of_every_kind = sweep_kv(seeds, every_kind);
    of_crashes.assert_clean("restart_bursts", "restart_bursts_long");
    of_every_kind.assert_clean("restart_bursts", "restart_bursts_long");
}
