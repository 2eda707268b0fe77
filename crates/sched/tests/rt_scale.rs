//! A million goroutines spawned and joined, and a million asleep at once, in
//! release builds (`cargo test --release -p goro-sched --test rt_scale --
//! --nocapture` prints the figures). The tests take turns (`ONE_AT_A_TIME`):
//! each needs gigabytes and both cores. (The memory figure has a process of
//! its own: `rt_memory.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a million goroutines: run it with --release"
)]
fn a_million_goroutines_spawned_and_joined() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = common::builder().build().unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let sum = {
        let counter = counter.clone();
        rt.run(move || {
            let handles: Vec<_> = (0..1_000_000u64)
                .map(|i| {
                    let counter = counter.clone();
                    goro_sched::go(move || {
                        counter.fetch_add(1, Ordering::Relaxed);
                        i
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    };
    println!("1M goroutines spawned and joined in {:?}", start.elapsed());
    assert_eq!(counter.load(Ordering::Relaxed), 1_000_000);
    assert_eq!(sum, (0..1_000_000u64).sum::<u64>());
    assert_eq!(rt.stats().goroutines, 0);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "a million sleepers: run it with --release")]
fn a_million_sleeping_goroutines_cost_no_thread() {
    const N: u64 = 1_000_000;
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = common::builder().workers(2).build().unwrap();
    let woken = Arc::new(AtomicU64::new(0));
    let threads_before = threads();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let woken = woken.clone();
            rt.go(move || {
                goro_sched::sleep(Duration::from_millis(2000 + i % 1000));
                woken.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    // Wait until they are all asleep (or done).
    let deadline = Instant::now() + Duration::from_secs(120);
    while rt.stats().parks + woken.load(Ordering::Relaxed) < 100_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let threads_during = threads();
    for h in handles {
        h.join().unwrap();
    }
    println!("{N} sleeping goroutines: {threads_before} -> {threads_during} threads");
    assert_eq!(woken.load(Ordering::Relaxed), N);
    // No thread per sleeper. On a loaded machine sysmon may see a worker
    // held (its goroutine starved of CPU) and start spares: at most the
    // default 64 of them.
    assert!(
        threads_during <= threads_before + 4 + 64,
        "{threads_before} -> {threads_during}"
    );
}
