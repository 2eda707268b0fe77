//! Go by Example's worker pools, with `goro::patterns::WorkerPool`: a fixed
//! number of worker goroutines behind a bounded queue, a handle per job,
//! back-pressure when the queue is full, and a panicking job that fails
//! only its own handle.
//!
//! ```text
//! cargo run --release --example worker_pool [JOBS] [WORKERS]   # default 20 jobs, 3 workers
//! ```
//!
//! Job `n` computes the number of Collatz steps from `n` to 1 (after a short
//! sleep, to stand for real work); job 13 panics, to show that the pool
//! lives on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro::patterns::{PoolClosed, TrySubmitError, WorkerPool};

fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n != 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

fn arg(i: usize, default: usize) -> usize {
    match std::env::args().nth(i) {
        None => default,
        Some(a) => match a.parse() {
            Ok(v) if v > 0 => v,
            _ => {
                eprintln!("usage: worker_pool [JOBS] [WORKERS]  (positive numbers)");
                std::process::exit(2)
            }
        },
    }
}

fn main() {
    let jobs = arg(1, 20);
    let workers = arg(2, 3);
    let queue = 4;
    goro::run(move || {
        println!("pool: {workers} workers, a queue of {queue}, {jobs} jobs");
        let pool = WorkerPool::new(workers, queue);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));

        // `submit` waits while the queue is full: at most `workers` jobs run
        // and `queue` more wait, however many we submit.
        let handles: Vec<_> = (1..=jobs as u64)
            .map(|n| {
                let (running, most) = (running.clone(), most.clone());
                pool.submit(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    goro::sleep(Duration::from_millis(2)); // the "work"
                    running.fetch_sub(1, Ordering::SeqCst);
                    if n == 13 {
                        panic!("job 13 is unlucky");
                    }
                    collatz_steps(n)
                })
                .expect("the pool is open")
            })
            .collect();

        let (mut total, mut failed) = (0, 0);
        for (n, handle) in (1..).zip(handles) {
            match handle.join() {
                Ok(steps) => {
                    println!("job {n}: {steps} steps");
                    total += steps;
                }
                Err(e) => {
                    println!("job {n}: failed: {e}");
                    failed += 1;
                }
            }
        }
        println!(
            "done: {} jobs ok, {failed} failed, {total} steps in all",
            jobs - failed
        );
        let most = most.load(Ordering::SeqCst);
        println!("busy: at most {most} jobs ran at once (workers: {workers})");

        // try_submit never waits; after close, submitting fails.
        pool.join();
        pool.close();
        match pool.try_submit(|| 0) {
            Err(TrySubmitError::Closed(_)) => println!("closed: try_submit -> Closed"),
            other => println!("closed: try_submit -> unexpected {:?}", other.map(|_| ())),
        }
        match pool.submit(|| 0) {
            Err(PoolClosed) => println!("closed: submit -> PoolClosed"),
            Ok(_) => println!("closed: submit -> unexpectedly accepted"),
        }
    });
}
