//! crossbeam-channel with std threads: the channel workloads where a thread
//! per party is sensible (no ring of 503 threads, no million threads), and
//! `mutex` with `std::sync::Mutex` on a fixed pool of threads.

use std::sync::Mutex;
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded, select};
use goro_benches::MUTEX_INCREMENTS;

/// Threads of the `mutex` workload: a thread per goroutine would measure
/// thread creation, so these share the same total of increments.
const MUTEX_THREADS: u64 = 8;

fn main() {
    let (workload, n) = goro_benches::args(
        "bench-crossbeam",
        &["pingpong", "mpmc", "select", "select-buffered", "mutex"],
    );
    match workload.as_str() {
        "pingpong" => goro_benches::report(|| pingpong(n)),
        "mpmc" => goro_benches::report(|| mpmc(n)),
        "select" => goro_benches::report(|| select4(n)),
        "select-buffered" => goro_benches::report(|| select_buffered(n)),
        "mutex" => goro_benches::report(|| mutex(n)),
        _ => unreachable!(),
    }
}

/// `n` round trips between two threads over two zero-capacity channels.
fn pingpong(n: u64) -> u64 {
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let echo = thread::spawn(move || {
        for v in ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let mut sum = 0;
    for i in 0..n {
        ping_tx.send(i).unwrap();
        sum += pong_rx.recv().unwrap();
    }
    drop(ping_tx);
    echo.join().unwrap();
    sum
}

/// 4 producer and 4 consumer threads share one channel of 1024; `n` values.
fn mpmc(n: u64) -> u64 {
    let (tx, rx) = bounded::<u64>(1024);
    let per = n / 4;
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..per {
                    tx.send(p * per + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().fold(0u64, u64::wrapping_add))
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    consumers
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, u64::wrapping_add)
}

/// One thread selects over 4 zero-capacity channels fed by 4 threads.
fn select4(n: u64) -> u64 {
    let per = n / 4;
    let (keep, rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) = (0..4u64)
        .map(|p| {
            let (tx, rx) = bounded(0);
            let producer = tx.clone();
            thread::spawn(move || {
                for i in 0..per {
                    producer.send(p * per + i).unwrap();
                }
            });
            (tx, rx)
        })
        .unzip();
    let mut sum = 0u64;
    for _ in 0..per * 4 {
        select! {
            recv(rxs[0]) -> v => sum = sum.wrapping_add(v.unwrap()),
            recv(rxs[1]) -> v => sum = sum.wrapping_add(v.unwrap()),
            recv(rxs[2]) -> v => sum = sum.wrapping_add(v.unwrap()),
            recv(rxs[3]) -> v => sum = sum.wrapping_add(v.unwrap()),
        }
    }
    drop(keep);
    sum
}

/// One thread selects over 4 channels of 1024 fed by 4 threads that close
/// them when done.
fn select_buffered(n: u64) -> u64 {
    let per = n / 4;
    let mut rxs: Vec<Receiver<u64>> = (0..4u64)
        .map(|p| {
            let (tx, rx) = bounded(1024);
            thread::spawn(move || {
                for i in 0..per {
                    tx.send(p * per + i).unwrap();
                }
            });
            rx
        })
        .collect();
    let (mut sum, mut open) = (0u64, 4);
    while open > 0 {
        let (i, v) = select! {
            recv(rxs[0]) -> v => (0, v),
            recv(rxs[1]) -> v => (1, v),
            recv(rxs[2]) -> v => (2, v),
            recv(rxs[3]) -> v => (3, v),
        };
        match v {
            Ok(v) => sum = sum.wrapping_add(v),
            Err(_) => {
                rxs[i] = crossbeam_channel::never();
                open -= 1;
            }
        }
    }
    sum
}

/// `MUTEX_THREADS` threads share `n * MUTEX_INCREMENTS` increments of one
/// counter under a `std::sync::Mutex` (the same total, so the same checksum,
/// as `n` goroutines of `MUTEX_INCREMENTS` each).
fn mutex(n: u64) -> u64 {
    let counter: &'static Mutex<u64> = Box::leak(Box::new(Mutex::new(0)));
    let total = n * MUTEX_INCREMENTS;
    let threads: Vec<_> = (0..MUTEX_THREADS)
        .map(|t| {
            let share = total / MUTEX_THREADS + u64::from(t < total % MUTEX_THREADS);
            thread::spawn(move || {
                for _ in 0..share {
                    *counter.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let sum = *counter.lock().unwrap();
    assert_eq!(sum, total);
    sum
}
