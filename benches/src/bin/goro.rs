//! goro's side of the side-by-side workloads.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use goro::fiber::{Coroutine, CoroutineResult};
use goro_benches::Latch;

fn main() {
    let (workload, n) = goro_benches::args("bench-goro", &["switch", "spawn", "skynet"]);
    match workload.as_str() {
        "switch" => goro_benches::report(|| switch(n)),
        "spawn" => goro_benches::report(|| spawn(n)),
        "skynet" => goro_benches::report(|| goro::run(move || skynet(0, n, 10))),
        _ => unreachable!(),
    }
}

/// `n` resume + suspend round trips; the coroutine yields its counter.
fn switch(n: u64) -> u64 {
    let mut co = Coroutine::<(), u64, ()>::new(|y, ()| {
        let mut i = 0u64;
        loop {
            y.suspend(black_box(i));
            i += 1;
        }
    });
    let mut sum = 0u64;
    for _ in 0..n {
        match co.resume(()) {
            CoroutineResult::Yield(v) => sum = sum.wrapping_add(v),
            CoroutineResult::Return(()) => unreachable!(),
        }
    }
    sum
}

/// `n` goroutines each bump a counter; the spawner waits for all. The
/// counter and the latch are shared by reference (leaked for the process),
/// as Go's closures capture them.
fn spawn(n: u64) -> u64 {
    goro::run(move || {
        let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let latch: &'static Latch = Box::leak(Box::new(Latch::new(n)));
        for _ in 0..n {
            goro::go(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                latch.done();
            });
        }
        latch.wait();
        counter.load(Ordering::Relaxed)
    })
}

/// Skynet over join handles: a tree of goroutines, `div` children a node,
/// `size` leaves; each leaf returns its number, each node the sum.
fn skynet(num: u64, size: u64, div: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / div;
    let children: Vec<_> = (0..div)
        .map(|i| goro::go(move || skynet(num + i * sub, sub, div)))
        .collect();
    children.into_iter().map(|h| h.join().unwrap()).sum()
}
