//! A convoy on one `Mutex`: many goroutines on two workers each take the
//! lock many times for a tiny critical section (lock, increment, unlock).
//!
//! `convoy_measure` (ignored) prints wall time and parks in both modes:
//! `cargo test --release -p goro-sync --test mutex_convoy -- --ignored
//! --nocapture` (sizes from `CONVOY_GOROUTINES` and `CONVOY_EACH`, default
//! 10,000 x 1,000).

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_sched::RuntimeBuilder;
use goro_sync::Mutex;

/// Runs the convoy on a fresh 2-worker runtime; returns (sum, wall time,
/// parks).
fn convoy(builder: RuntimeBuilder, goroutines: usize, each: usize) -> (usize, Duration, u64) {
    let rt = builder.workers(2).build().unwrap();
    let parks_before = rt.stats().parks;
    let start = Instant::now();
    let sum = rt.run(move || {
        let counter = Arc::new(Mutex::new(0usize));
        let handles: Vec<_> = (0..goroutines)
            .map(|_| {
                let counter = counter.clone();
                goro_sched::go(move || {
                    for _ in 0..each {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let sum = *counter.lock();
        sum
    });
    let elapsed = start.elapsed();
    let parks = rt.stats().parks - parks_before;
    (sum, elapsed, parks)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture in release"]
fn convoy_measure() {
    let goroutines = env("CONVOY_GOROUTINES", 10_000);
    let each = env("CONVOY_EACH", 1_000);
    for (name, builder) in [
        ("default", goro_sched::Runtime::builder()),
        ("migrating", mode::migrating()),
    ] {
        let (sum, elapsed, parks) = convoy(builder, goroutines, each);
        assert_eq!(sum, goroutines * each);
        println!("{name:>9}: {goroutines} x {each}: {elapsed:?}, {parks} parks");
    }
}
