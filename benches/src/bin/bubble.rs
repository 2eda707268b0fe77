//! Virtual time's cost (issue 19): the same workloads in a `goro::test::run`
//! bubble (one worker, virtual clock) and on real runtimes, medians of
//! `runs`. Not a side-by-side workload of `cargo xtask bench` (no peer has
//! bubbles); run it by hand: `cargo run --release -p goro-benches --bin
//! bench-bubble [runs]`.
//!
//! * `skynet` (10^6 goroutines over unbuffered channels, no timers): what
//!   a bubble costs code that never touches time.
//! * `timers`: 10,000 goroutines, each sleeping 100 times a pseudo-random
//!   1-1,000 µs, so about 50 ms of sleeps each: what the real clock spends
//!   waiting, the bubble skips.

use std::time::{Duration, Instant};

use goro::chan::bounded;
use goro_benches::{median, skynet};

fn skynet_root() -> u64 {
    let (tx, rx) = bounded(0);
    goro::go(move || skynet(tx, 0, 1_000_000, 10));
    rx.recv().unwrap()
}

fn timers() -> u64 {
    let handles: Vec<_> = (0..10_000u64)
        .map(|g| {
            goro::go(move || {
                let mut x = g.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut slept = 0;
                for _ in 0..100 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let us = x % 1000 + 1;
                    goro::sleep(Duration::from_micros(us));
                    slept += us;
                }
                slept
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    type Workload = fn() -> u64;
    let workloads: [(&str, Workload); 2] = [("skynet", skynet_root), ("timers", timers)];
    let one = goro::Runtime::builder().workers(1).build().unwrap();
    let all = goro::Runtime::builder().build().unwrap();
    println!(
        "{:<8} {:>12} {:>12} {:>12}",
        "workload", "bubble", "1 worker", "default"
    );
    for (name, f) in workloads {
        let (mut bubble, mut single, mut default) = (vec![], vec![], vec![]);
        let mut sums = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            sums.push(goro::test::run(f));
            bubble.push(t.elapsed());
            let t = Instant::now();
            sums.push(one.run(f));
            single.push(t.elapsed());
            let t = Instant::now();
            sums.push(all.run(f));
            default.push(t.elapsed());
        }
        sums.dedup();
        assert_eq!(sums.len(), 1, "{name}: checksums differ: {sums:?}");
        println!(
            "{name:<8} {:>12.2?} {:>12.2?} {:>12.2?}   checksum={}",
            median(bubble),
            median(single),
            median(default),
            sums[0]
        );
    }
}
