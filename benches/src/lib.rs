//! Shared plumbing of the side-by-side workloads.
//!
//! Every system has one binary (`bench-goro`, `bench-corosensei`, ...) that runs
//! `<binary> <workload> <n>` and prints one line,
//! `checksum=<u64> elapsed_ns=<u64>`, which `cargo xtask bench` parses. The same
//! workload with the same `n` prints the same checksum on every system.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro::park::{self, Unparker};

/// Parses `<workload> <n>` from the command line, or exits with usage.
pub fn args(binary: &str, workloads: &[&str]) -> (String, u64) {
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!(
            "usage: {binary} <workload> <n>\nworkloads: {}",
            workloads.join(", ")
        );
        std::process::exit(2);
    };
    let workload = args.next().unwrap_or_else(|| usage());
    if !workloads.contains(&workload.as_str()) {
        usage();
    }
    let n = args
        .next()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or_else(|| usage());
    (workload, n)
}

/// Times `f` and prints the line the harness reads.
pub fn report(f: impl FnOnce() -> u64) {
    let start = Instant::now();
    let checksum = f();
    let elapsed: Duration = start.elapsed();
    println!("checksum={checksum} elapsed_ns={}", elapsed.as_nanos());
}

/// Increments per goroutine (task, thread share) in the `mutex` workload:
/// `<binary> mutex <n>` runs `n` goroutines of `MUTEX_INCREMENTS` each, and
/// its checksum is the counter at the end, `n * MUTEX_INCREMENTS`.
pub const MUTEX_INCREMENTS: u64 = 1000;

/// The expected checksum of `switch` with `n` round trips: the sum of the
/// values yielded, `0 + 1 + ... + (n - 1)`, wrapping.
pub fn switch_checksum(n: u64) -> u64 {
    (0..n).fold(0u64, u64::wrapping_add)
}

/// A count-down latch for goroutines (the spawn workload's stand-in for Go's
/// `sync.WaitGroup` until goro-sync has one): `done` `n` times, and `wait`
/// returns.
#[derive(Clone, Debug)]
pub struct Latch(Arc<LatchInner>);

#[derive(Debug)]
struct LatchInner {
    remaining: AtomicU64,
    waiter: Mutex<Option<Unparker>>,
}

impl Latch {
    /// A latch that opens after `n` calls to `done`.
    pub fn new(n: u64) -> Latch {
        Latch(Arc::new(LatchInner {
            remaining: AtomicU64::new(n),
            waiter: Mutex::new(None),
        }))
    }

    /// Counts one down; the last wakes the waiter.
    pub fn done(&self) {
        if self.0.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(waiter) = self.0.waiter.lock().unwrap().take()
        {
            waiter.unpark();
        }
    }

    /// Waits until the count reaches zero.
    pub fn wait(&self) {
        *self.0.waiter.lock().unwrap() = Some(park::current_unparker());
        while self.0.remaining.load(Ordering::Acquire) != 0 {
            park::park();
        }
    }
}
