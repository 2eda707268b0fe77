//! What a million parked goroutines cost in resident memory, measured in a
//! process of its own (freed stacks stay resident for reuse, so an earlier
//! test in the same process would hide the cost). Release builds only:
//! `cargo test --release -p goro-sched --test rt_memory -- --nocapture`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 4096
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a million parked goroutines: run it with --release"
)]
fn a_million_parked_goroutines_fit_in_five_kib_each() {
    use goro_sched::park;
    use std::sync::Mutex;

    const N: usize = 1_000_000;
    let rt = common::builder().build().unwrap();
    let parked = Arc::new(AtomicU64::new(0));
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waiters: Arc<Mutex<Vec<park::Unparker>>> = Arc::new(Mutex::new(Vec::with_capacity(N)));
    let rss_before = rss();
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (parked, release, waiters) = (parked.clone(), release.clone(), waiters.clone());
            rt.go(move || {
                waiters.lock().unwrap().push(park::current_unparker());
                parked.fetch_add(1, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    park::park();
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while parked.load(Ordering::SeqCst) < N as u64 {
        assert!(Instant::now() < deadline, "goroutines never all parked");
        std::thread::sleep(Duration::from_millis(10));
    }
    let per = (rss() - rss_before) as f64 / N as f64;
    println!(
        "{N} parked goroutines: {:.2} KiB resident each (with their handles and wakers)",
        per / 1024.0
    );
    release.store(true, Ordering::SeqCst);
    for u in waiters.lock().unwrap().drain(..) {
        u.unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    assert!(per < 5.0 * 1024.0, "{per} bytes per parked goroutine");
}
