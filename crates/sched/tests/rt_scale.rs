//! A million goroutines spawned and joined, and a hundred thousand asleep at
//! once, in release builds (`cargo test --release -p goro-sched --test
//! rt_scale -- --nocapture` prints the figures).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_sched::Runtime;

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

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a million goroutines: run it with --release"
)]
fn a_million_goroutines_spawned_and_joined() {
    let rt = Runtime::builder().build().unwrap();
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
#[cfg_attr(debug_assertions, ignore = "100k sleepers: run it with --release")]
fn a_hundred_thousand_sleeping_goroutines_cost_no_thread() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let woken = Arc::new(AtomicU64::new(0));
    let threads_before = threads();
    let rss_before = rss();
    let handles: Vec<_> = (0..100_000u64)
        .map(|i| {
            let woken = woken.clone();
            rt.go(move || {
                goro_sched::sleep(Duration::from_millis(500 + i % 500));
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
    let per = (rss() - rss_before) as f64 / 100_000.0;
    for h in handles {
        h.join().unwrap();
    }
    println!(
        "100k sleeping goroutines: {threads_before} -> {threads_during} threads, \
         {:.2} KiB resident each",
        per / 1024.0
    );
    assert_eq!(woken.load(Ordering::Relaxed), 100_000);
    assert!(
        threads_during <= threads_before + 4,
        "{threads_before} -> {threads_during}"
    );
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
    let rt = Runtime::builder().build().unwrap();
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
