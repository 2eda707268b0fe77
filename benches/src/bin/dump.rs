//! The cost of `goro::dump()` and `goro::dump_with_backtraces()` (issue 19)
//! with 10,000 goroutines parked in a channel receive a few frames deep,
//! medians of `runs`: run by hand, `cargo run --release -p goro-benches
//! --bin bench-dump [runs]`. Park costs (the wait site's store, the trace
//! bit's load) are measured on `pingpong` and `select` instead.

use std::time::{Duration, Instant};

use goro::chan::{Receiver, bounded};
use goro_benches::median;

const PARKED: usize = 10_000;

#[inline(never)]
fn nested(rx: &Receiver<u64>, depth: u32) -> u64 {
    if depth == 0 {
        return rx.recv().unwrap_or(0);
    }
    nested(rx, depth - 1) + 1
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let rt = goro::Runtime::builder().build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let parked: Vec<_> = (0..PARKED)
        .map(|_| {
            let rx = rx.clone();
            rt.go(move || nested(&rx, 8))
        })
        .collect();
    while rt.dump().matches("[chan receive, ").count() < PARKED {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (mut plain, mut traced) = (Vec::new(), Vec::new());
    let mut size = (0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        let d = rt.dump();
        plain.push(t.elapsed());
        size.0 = d.len();
        let t = Instant::now();
        let d = rt.dump_with_backtraces();
        traced.push(t.elapsed());
        size.1 = d.len();
        assert!(d.matches("bench_dump::nested").count() >= PARKED);
    }
    let (plain, traced) = (median(plain), median(traced));
    println!(
        "{PARKED} parked goroutines: dump {plain:.2?} ({} KiB), with backtraces {traced:.2?} ({} KiB), {:.1?} a goroutine",
        size.0 / 1024,
        size.1 / 1024,
        traced / PARKED as u32
    );
    drop(tx);
    let sum: u64 = parked.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 8 * PARKED as u64);
}
