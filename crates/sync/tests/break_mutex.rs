//! break-review: trying to break `Mutex`'s protocol (WOKEN claimed by
//! spinners and woken waiters, HANDED hand-over to a starved head, the
//! CHECK_EVERY unlock count) from safe code: double ownership, lost
//! wake-ups, starvation, panics, plain threads, try_lock, runtime drop with
//! waiters parked or handed the lock, forgotten guards; 1, 2 and 4 workers,
//! both modes. A hang fails the process through a watchdog (exit 3).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use goro_sched::{Runtime, RuntimeBuilder, go, yield_now};
use goro_sync::{Mutex, WaitGroup};

/// Exits the process (code 3) unless dropped within `limit`: a hang is a
/// lost wake-up (or a starved waiter) here.
struct Watchdog(Arc<AtomicBool>);
fn watchdog(limit: Duration, what: &'static str) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if d.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("WATCHDOG: {what}: not done after {limit:?} (lost wake-up or starvation)");
        std::process::exit(3);
    });
    Watchdog(done)
}
impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn builder(migrating: bool) -> RuntimeBuilder {
    if migrating {
        // SAFETY: nothing here holds thread-bound state across a park.
        unsafe { Runtime::builder().migrating() }
    } else {
        Runtime::builder()
    }
}

/// What the lock protects: a counter bumped by a load and a separate
/// store with a gap (an update is lost if two owners overlap; atomics, so
/// that a broken lock is a failed assertion, not a data race) and an
/// "inside" flag that catches two owners at once.
struct Guarded {
    count: AtomicU64,
    inside: AtomicBool,
}

fn critical(m: &Mutex<()>, g: &Guarded, overlaps: &AtomicUsize, yield_inside: bool) {
    let guard = m.lock();
    enter_exit(g, overlaps, yield_inside);
    drop(guard);
}

fn enter_exit(g: &Guarded, overlaps: &AtomicUsize, yield_inside: bool) {
    if g.inside.swap(true, Ordering::Relaxed) {
        overlaps.fetch_add(1, Ordering::SeqCst);
    }
    // Leaves the critical section also when unwound inside it (a runtime
    // drop unwinds a goroutine that yields here).
    struct Leave<'a>(&'a AtomicBool);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let _leave = Leave(&g.inside);
    let v = g.count.load(Ordering::Relaxed);
    for _ in 0..8 {
        std::hint::spin_loop();
    }
    if yield_inside {
        yield_now();
    }
    g.count.store(v + 1, Ordering::Relaxed);
}

/// Goroutines and plain threads, lock and try_lock, some yielding inside,
/// some panicking inside: exact count, never two owners, no hang.
fn exclusion(workers: usize, migrating: bool) {
    let _w = watchdog(Duration::from_secs(60), "exclusion");
    let rt = builder(migrating).workers(workers).build().unwrap();
    const G: usize = 48;
    const EACH: usize = 1500;
    const T: usize = 2;
    let m = Arc::new(Mutex::new(()));
    let g = Arc::new(Guarded {
        count: AtomicU64::new(0),
        inside: AtomicBool::new(false),
    });
    let overlaps = Arc::new(AtomicUsize::new(0));
    let extra = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..T)
        .map(|_| {
            let (m, g, o) = (m.clone(), g.clone(), overlaps.clone());
            thread::spawn(move || {
                for _ in 0..EACH {
                    critical(&m, &g, &o, false);
                }
            })
        })
        .collect();
    let (m2, g2, o2, e2) = (m.clone(), g.clone(), overlaps.clone(), extra.clone());
    rt.run(move || {
        let wg = WaitGroup::new();
        for k in 0..G {
            let (m, g, o, e) = (m2.clone(), g2.clone(), o2.clone(), e2.clone());
            wg.go(move || {
                for i in 0..EACH {
                    match (k + i) % 11 {
                        0 => {
                            if let Some(guard) = m.try_lock() {
                                enter_exit(&g, &o, false);
                                drop(guard);
                            } else {
                                critical(&m, &g, &o, false);
                            }
                        }
                        1 => critical(&m, &g, &o, true),
                        2 if i % 97 == 0 => {
                            // Panic while holding: the guard unlocks.
                            let r = catch_unwind(AssertUnwindSafe(|| {
                                let _guard = m.lock();
                                enter_exit(&g, &o, false);
                                e.fetch_add(1, Ordering::Relaxed);
                                std::panic::resume_unwind(Box::new("inside the lock"));
                            }));
                            assert!(r.is_err());
                        }
                        _ => critical(&m, &g, &o, false),
                    }
                }
            });
        }
        wg.wait();
    });
    for t in threads {
        t.join().unwrap();
    }
    let total = g.count.load(Ordering::SeqCst);
    let overlaps = overlaps.load(Ordering::SeqCst);
    assert_eq!(
        overlaps, 0,
        "two owners at once ({workers} workers, migrating {migrating})"
    );
    assert_eq!(total, ((G + T) * EACH) as u64, "lost increments");
    assert!(m.try_lock().is_some(), "the lock is free at the end");
    let _ = extra;
}

#[test]
fn exclusion_default_1_2_4() {
    for w in [1, 2, 4] {
        exclusion(w, false);
    }
}

#[test]
fn exclusion_migrating_1_2_4() {
    for w in [1, 2, 4] {
        exclusion(w, true);
    }
}

/// Go's TestMutexFairness: one goroutine holds the lock 100 us at a time
/// and retakes it at once; another takes it 10 times with 100 us sleeps in
/// between. Go allows 10 s; here, also the worst single wait.
fn fairness(workers: usize, migrating: bool, waiter_is_thread: bool) -> Duration {
    let _w = watchdog(Duration::from_secs(30), "fairness");
    let rt = builder(workers == 0 || migrating)
        .workers(workers.max(1))
        .build()
        .unwrap();
    let m = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..2)
        .map(|_| {
            let (m, stop) = (m.clone(), stop.clone());
            rt.go(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _g = m.lock();
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(100) {
                        std::hint::spin_loop();
                    }
                }
            })
        })
        .collect();
    let m2 = m.clone();
    let waiter = move || {
        let mut worst = Duration::ZERO;
        for _ in 0..10 {
            if waiter_is_thread {
                thread::sleep(Duration::from_micros(100));
            } else {
                goro_sched::sleep(Duration::from_micros(100));
            }
            let t = Instant::now();
            let g = m2.lock();
            worst = worst.max(t.elapsed());
            drop(g);
        }
        worst
    };
    let worst = if waiter_is_thread {
        thread::spawn(waiter).join().unwrap()
    } else {
        rt.go(waiter).join().unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
    worst
}

#[test]
fn fairness_like_go() {
    for workers in [1, 2, 4] {
        for migrating in [false, true] {
            for thread_waiter in [false, true] {
                let worst = fairness(workers, migrating, thread_waiter);
                eprintln!(
                    "fairness: {workers} workers, migrating {migrating}, thread waiter {thread_waiter}: worst wait {worst:?}"
                );
                assert!(
                    worst < Duration::from_secs(2),
                    "a waiter waited {worst:?} behind two hammering goroutines"
                );
            }
        }
    }
}

/// Many waiters queued behind a held lock, then released while spinners
/// barge in: each must get the lock (no lost wake-up), in both modes.
#[test]
fn queued_waiters_all_get_through_with_bargers() {
    let _w = watchdog(Duration::from_secs(60), "queued waiters");
    for round in 0..8 {
        let rt = builder(round % 2 == 1)
            .workers(1 + round % 4)
            .build()
            .unwrap();
        let m = Arc::new(Mutex::new(0u64));
        let held = m.lock();
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..200)
            .map(|i| {
                let (m, done) = (m.clone(), done.clone());
                rt.go(move || {
                    for _ in 0..(1 + i % 5) {
                        *m.lock() += 1;
                        if i % 3 == 0 {
                            yield_now();
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Let them queue (and exceed the starvation threshold).
        thread::sleep(Duration::from_millis(5));
        drop(held);
        for h in hs {
            h.join().unwrap();
        }
        let expect: u64 = (0..200u64).map(|i| 1 + i % 5).sum();
        assert_eq!(*m.lock(), expect);
        assert!(!m.__has_parked_waiters() || m.try_lock().is_some());
    }
}

/// The runtime dropped while goroutines are parked in `lock`, while the
/// lock is handed over and released concurrently (plain threads unlock it
/// as the drop unwinds the waiters): afterwards the lock is free and works
/// from plain threads; a goroutine was never inside at the same time.
#[test]
fn drop_runtime_with_waiters_and_handoffs() {
    let _w = watchdog(Duration::from_secs(90), "drop with waiters");
    for round in 0..24 {
        let migrating = round % 2 == 1;
        let rt = builder(migrating).workers(1 + round % 4).build().unwrap();
        let m = Arc::new(Mutex::new(()));
        let g = Arc::new(Guarded {
            count: AtomicU64::new(0),
            inside: AtomicBool::new(false),
        });
        let overlaps = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // Plain threads keep locking (holding ~1.5 ms sometimes, so that
        // heads starve and get the lock handed).
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (m, g, o, stop) = (m.clone(), g.clone(), overlaps.clone(), stop.clone());
                thread::spawn(move || {
                    let mut i = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let guard = m.lock();
                        enter_exit(&g, &o, false);
                        if (i + t).is_multiple_of(7) {
                            thread::sleep(Duration::from_micros(1500));
                        }
                        drop(guard);
                        i += 1;
                    }
                })
            })
            .collect();
        let (st_tx, st_rx) = mpsc::channel();
        for k in 0..64 {
            let (m, g, o, st) = (m.clone(), g.clone(), overlaps.clone(), st_tx.clone());
            rt.go(move || {
                let _ = st.send(());
                loop {
                    let guard = m.lock();
                    enter_exit(&g, &o, k % 5 == 0);
                    drop(guard);
                    if k % 3 == 0 {
                        goro_sched::sleep(Duration::from_micros(50));
                    }
                }
            });
        }
        for _ in 0..64 {
            st_rx.recv().unwrap();
        }
        thread::sleep(Duration::from_millis(3 + round as u64 % 5));
        let t = Instant::now();
        drop(rt);
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            overlaps.load(Ordering::SeqCst),
            0,
            "two owners (round {round})"
        );
        assert!(
            m.try_lock().is_some(),
            "lock left held after drop (round {round})"
        );
        // And it still parks and wakes correctly from threads.
        let held = m.lock();
        let m2 = m.clone();
        let waiter = thread::spawn(move || drop(m2.lock()));
        thread::sleep(Duration::from_millis(2));
        drop(held);
        waiter.join().unwrap();
        assert!(took < Duration::from_secs(20), "drop took {took:?}");
    }
}

/// A forgotten guard holds the lock for good: goroutines parked behind it
/// are unwound by the drop (they withdraw), and nothing else breaks.
#[test]
fn forgotten_guard_then_drop_runtime() {
    let _w = watchdog(Duration::from_secs(30), "forgotten guard");
    for migrating in [false, true] {
        let rt = builder(migrating).workers(2).build().unwrap();
        let m = Arc::new(Mutex::new(5));
        std::mem::forget(m.lock());
        let (st_tx, st_rx) = mpsc::channel();
        for _ in 0..16 {
            let (m, st) = (m.clone(), st_tx.clone());
            rt.go(move || {
                let _ = st.send(());
                let _g = m.lock();
                unreachable!("the lock is held for good");
            });
        }
        for _ in 0..16 {
            st_rx.recv().unwrap();
        }
        thread::sleep(Duration::from_millis(5));
        assert!(m.__has_parked_waiters());
        drop(rt);
        assert!(m.try_lock().is_none());
    }
}

/// One worker: a goroutine parks on the lock held by another goroutine of
/// the same worker that keeps unlocking and relocking without parking
/// (only yielding): the waiter is woken (WOKEN) but its worker is busy; it
/// must still get the lock.
#[test]
fn woken_waiter_on_busy_worker() {
    let _w = watchdog(Duration::from_secs(30), "woken waiter on busy worker");
    for migrating in [false, true] {
        let rt = builder(migrating).workers(1).build().unwrap();
        let m = Arc::new(Mutex::new(()));
        let got = Arc::new(AtomicBool::new(false));
        let (m1, got1) = (m.clone(), got.clone());
        let hammer = rt.go(move || {
            let mut n = 0u64;
            while !got1.load(Ordering::Relaxed) {
                let g = m1.lock();
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(20) {
                    std::hint::spin_loop();
                }
                drop(g);
                n += 1;
                if n.is_multiple_of(64) {
                    yield_now();
                }
            }
            n
        });
        let (m2, got2) = (m.clone(), got.clone());
        let waiter = rt.go(move || {
            let _g = m2.lock();
            got2.store(true, Ordering::Relaxed);
        });
        waiter.join().unwrap();
        let n = hammer.join().unwrap();
        eprintln!("woken waiter on busy worker (migrating {migrating}): hammer ran {n} sections");
    }
}

/// Go's TestMutexMisuse has no equivalent (unlock without lock does not
/// compile); the nearest: a guard moved to and dropped on another
/// goroutine/thread than the one that locked.
#[test]
fn guard_dropped_elsewhere() {
    let _w = watchdog(Duration::from_secs(30), "guard dropped elsewhere");
    let rt = builder(false).workers(2).build().unwrap();
    let m: &'static Mutex<u64> = Box::leak(Box::new(Mutex::new(0)));
    rt.run(move || {
        for _ in 0..2000 {
            let mut g = m.lock();
            *g += 1;
            let h = go(move || {
                *g += 1;
                drop(g);
            });
            let g2 = m.lock();
            drop(g2);
            h.join().unwrap();
        }
    });
    assert_eq!(*m.lock(), 4000);
}

/// Exclusion while hand-overs happen all the time: some critical sections
/// last over the 1 ms starvation threshold, so heads starve and are handed
/// the lock (HANDED) while spinners claim WOKEN and woken waiters race;
/// goroutines on 2 workers and plain threads, both modes; at the end the
/// list is empty.
#[test]
fn exclusion_with_handoffs() {
    let _w = watchdog(Duration::from_secs(90), "exclusion with handoffs");
    for round in 0..6 {
        let migrating = round % 2 == 1;
        let rt = builder(migrating).workers(2).build().unwrap();
        let m = Arc::new(Mutex::new(()));
        let g = Arc::new(Guarded {
            count: AtomicU64::new(0),
            inside: AtomicBool::new(false),
        });
        let overlaps = Arc::new(AtomicUsize::new(0));
        const G: usize = 24;
        const EACH: usize = 300;
        let long = |i: usize| i % 150 == 7;
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (m, g, o) = (m.clone(), g.clone(), overlaps.clone());
                thread::spawn(move || {
                    for i in 0..EACH {
                        let guard = m.lock();
                        enter_exit(&g, &o, false);
                        if long(i + t) {
                            let s = Instant::now();
                            while s.elapsed() < Duration::from_micros(1200) {
                                std::hint::spin_loop();
                            }
                        }
                        drop(guard);
                    }
                })
            })
            .collect();
        let hs: Vec<_> = (0..G)
            .map(|k| {
                let (m, g, o) = (m.clone(), g.clone(), overlaps.clone());
                rt.go(move || {
                    for i in 0..EACH {
                        let guard = match m.try_lock() {
                            Some(guard) if i % 2 == 0 => guard,
                            Some(guard) => {
                                drop(guard);
                                m.lock()
                            }
                            None => m.lock(),
                        };
                        enter_exit(&g, &o, (i + k) % 13 == 0);
                        if long(i + k) {
                            let s = Instant::now();
                            while s.elapsed() < Duration::from_micros(1200) {
                                std::hint::spin_loop();
                            }
                        }
                        drop(guard);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            overlaps.load(Ordering::SeqCst),
            0,
            "two owners (round {round})"
        );
        assert_eq!(g.count.load(Ordering::SeqCst), ((G + 2) * EACH) as u64);
        assert!(m.try_lock().is_some());
        // A stale PARKED is allowed; a parked waiter is not (nobody waits).
        drop(m.lock());
        assert!(
            !m.__has_parked_waiters(),
            "PARKED left set with nobody waiting"
        );
    }
}
