//! Runtimes built and dropped again and again, with goroutines parked in
//! them when they drop, leave nothing behind (issue 20: ~1.3 kB a cycle,
//! each dropped runtime's allocation kept by the list of runtimes). In a
//! process of its own: RSS is the process's.

use std::sync::mpsc;

mod common;

fn rss_kib() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// One cycle: a runtime, goroutines parked in it for good (nobody unparks
/// them), dropped (they are unwound).
fn cycle(goroutines: usize) {
    let rt = common::builder().workers(2).build().unwrap();
    let (started_tx, started) = mpsc::channel::<()>();
    for _ in 0..goroutines {
        let started_tx = started_tx.clone();
        rt.go(move || {
            started_tx.send(()).unwrap();
            loop {
                goro_sched::park::park();
            }
        });
    }
    for _ in 0..goroutines {
        started.recv().unwrap();
    }
    drop(rt);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "2,000 runtimes: run it with --release")]
fn building_and_dropping_runtimes_does_not_grow() {
    const GOROUTINES: usize = 20;
    for _ in 0..300 {
        cycle(GOROUTINES);
    }
    let warm = rss_kib();
    for _ in 0..2_000 {
        cycle(GOROUTINES);
    }
    let after = rss_kib();
    eprintln!("RSS after 300 cycles: {warm} KiB; after 2,300: {after} KiB");
    // Leaking 1.3 kB a cycle would be 2.6 MB here; allocator noise is far
    // below a megabyte.
    assert!(
        after < warm + 1024,
        "RSS grew from {warm} KiB to {after} KiB over 2,000 runtimes"
    );
}
