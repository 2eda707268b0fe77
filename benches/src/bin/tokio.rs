//! tokio's side of the side-by-side workloads: the same work as tasks on
//! tokio's multi-threaded runtime (one worker per CPU, as goro's default).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

fn main() {
    let (workload, n) = goro_benches::args("bench-tokio", &["spawn", "skynet"]);
    let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    match workload.as_str() {
        // The spawner is itself a task, as goro's is a goroutine and Go's a
        // goroutine: spawns go to a worker's local queue.
        "spawn" => {
            goro_benches::report(|| rt.block_on(async { tokio::spawn(spawn(n)).await.unwrap() }))
        }
        "skynet" => goro_benches::report(|| rt.block_on(skynet(0, n, 10))),
        _ => unreachable!(),
    }
}

/// `n` tasks each bump a counter; the spawner waits for all. The counter
/// and the latch are shared by reference (leaked for the process), as Go's
/// closures capture them.
async fn spawn(n: u64) -> u64 {
    let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let remaining: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(n)));
    let done: &'static Notify = Box::leak(Box::new(Notify::new()));
    for _ in 0..n {
        tokio::spawn(async move {
            counter.fetch_add(1, Ordering::Relaxed);
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                done.notify_one();
            }
        });
    }
    done.notified().await;
    counter.load(Ordering::Relaxed)
}

/// Skynet over join handles.
fn skynet(num: u64, size: u64, div: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let sub = size / div;
        let children: Vec<_> = (0..div)
            .map(|i| tokio::spawn(skynet(num + i * sub, sub, div)))
            .collect();
        let mut sum = 0;
        for child in children {
            sum += child.await.unwrap();
        }
        sum
    })
}
