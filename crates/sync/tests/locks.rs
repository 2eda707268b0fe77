//! Mutex, RwLock and Condvar across goroutines and threads.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_sched::{go, yield_now};
use goro_sync::{Condvar, Mutex, RwLock, WaitGroup};

/// Generous bound against hangs (never a timing claim).
const HANG: Duration = Duration::from_secs(60);

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn types_are_send_and_sync() {
    let _rt = crate::mode::enter();
    assert_send_sync::<Mutex<Vec<u8>>>();
    assert_send_sync::<RwLock<Vec<u8>>>();
    assert_send_sync::<Condvar>();
    assert_send_sync::<goro_sync::MutexGuard<'static, u8>>();
}

#[test]
fn mutex_counts_exactly_across_goroutines_and_threads() {
    let _rt = crate::mode::enter();
    const GOROUTINES: usize = 200;
    const THREADS: usize = 4;
    const EACH: usize = 2_000;
    let counter = Arc::new(Mutex::new(0usize));
    let wg = WaitGroup::new();
    for _ in 0..GOROUTINES {
        let counter = counter.clone();
        wg.go(move || {
            for i in 0..EACH {
                let mut guard = counter.lock();
                let seen = *guard;
                if i % 64 == 0 {
                    yield_now(); // hold it across a switch now and then
                }
                *guard = seen + 1;
            }
        });
    }
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    let mut guard = counter.lock();
                    *guard += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wg.wait();
    assert_eq!(*counter.lock(), (GOROUTINES + THREADS) * EACH);
}

#[test]
fn one_worker_thousand_goroutines_holding_across_yield_all_finish() {
    let _rt = crate::mode::enter();
    let rt = mode::builder().workers(1).build().unwrap();
    let total = rt.run(|| {
        let lock = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..1000u64)
            .map(|i| {
                let lock = lock.clone();
                go(move || {
                    let mut guard = lock.lock();
                    yield_now(); // everyone else runs, and must park
                    *guard += i;
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        *lock.lock()
    });
    assert_eq!(total, 999 * 1000 / 2);
}

#[test]
fn a_waiter_that_waited_over_a_millisecond_is_handed_the_lock() {
    let _rt = crate::mode::enter();
    // Go's starvation mode: the unlock hands the lock to the starved
    // waiter, so an arriving locker (here `try_lock` right after the
    // unlock) cannot barge in ahead of it.
    for kind in ["goroutine", "thread"] {
        let lock = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(AtomicBool::new(false));
        let guard = lock.lock();
        let (l2, r2) = (lock.clone(), release.clone());
        let waiter = move || {
            let mut g = l2.lock();
            g.push(1);
            // Hold it until the test has tried to barge.
            while !r2.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        };
        let (g, t) = match kind {
            "goroutine" => (Some(go(waiter)), None),
            _ => (None, Some(std::thread::spawn(waiter))),
        };
        // Wait until it has queued, then over 1 ms more.
        let start = Instant::now();
        while !lock.__has_parked_waiters() {
            assert!(start.elapsed() < HANG, "the waiter never queued");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(2));
        drop(guard);
        let barged = lock.try_lock().is_some();
        release.store(true, Ordering::Release);
        if let Some(g) = g {
            g.join().unwrap();
        }
        if let Some(t) = t {
            t.join().unwrap();
        }
        assert!(!barged, "{kind}: the starved waiter was overtaken");
        assert_eq!(*lock.lock(), vec![1]);
    }
}

#[test]
fn a_waiter_is_not_starved_by_hammering() {
    let _rt = crate::mode::enter();
    // Liveness under load: two goroutines on the two workers hammer the
    // lock, holding it for a while and taking it again at once, never
    // yielding; a third asks for it, twenty times over. A hang means
    // starvation. (The handoff itself is checked deterministically above.)
    let rt = mode::builder().workers(2).build().unwrap();
    let lock = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..2)
        .map(|_| {
            let (lock, stop) = (lock.clone(), stop.clone());
            rt.go(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut g = lock.lock();
                    *g += 1;
                    let until = Instant::now() + Duration::from_micros(50);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let lock2 = lock.clone();
        let waiter = rt.go(move || {
            *lock2.lock() += 1_000_000;
        });
        let start = Instant::now();
        while !waiter.is_finished() {
            assert!(start.elapsed() < HANG, "a waiter starved");
            std::thread::sleep(Duration::from_millis(1));
        }
        waiter.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
    assert!(*lock.lock() >= 20_000_000);
}

#[test]
fn mutex_try_lock_and_accessors() {
    let _rt = crate::mode::enter();
    let mut m = Mutex::new(vec![1]);
    {
        let g = m.lock();
        assert!(m.try_lock().is_none());
        drop(g);
    }
    m.try_lock().unwrap().push(2);
    m.get_mut().push(3);
    assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2, 3], .. }");
    assert_eq!(m.into_inner(), vec![1, 2, 3]);
}

#[test]
fn a_panic_while_holding_unlocks_without_poison() {
    let _rt = crate::mode::enter();
    let m = Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let h = go(move || {
        let _g = m2.lock();
        panic!("boom (expected by the test)");
    });
    assert!(h.join().is_err());
    *m.lock() += 1;
    assert_eq!(*m.lock(), 2);
}

#[test]
fn rwlock_admits_many_readers_at_once() {
    let _rt = crate::mode::enter();
    let lock = Arc::new(RwLock::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    for _ in 0..50 {
        let (lock, inside, most) = (lock.clone(), inside.clone(), most.clone());
        wg.go(move || {
            let _r = lock.read();
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            // Wait (generously) for a second reader to be inside too.
            let start = Instant::now();
            while most.load(Ordering::SeqCst) < 2 && start.elapsed() < HANG {
                yield_now();
            }
            inside.fetch_sub(1, Ordering::SeqCst);
        });
    }
    wg.wait();
    assert!(most.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_waiting_writer_stops_new_readers() {
    let _rt = crate::mode::enter();
    let lock = Arc::new(RwLock::new(0u32));
    let first = lock.read();
    let l2 = lock.clone();
    let writer = go(move || {
        *l2.write() = 7;
    });
    // The writer is queued behind our read lock: try_read must fail now.
    let start = Instant::now();
    while lock.try_read().is_some() {
        assert!(start.elapsed() < HANG, "the writer never queued");
        std::thread::sleep(Duration::from_millis(1));
    }
    // A new reader waits for the writer, and sees its write.
    let l3 = lock.clone();
    let reader = go(move || *l3.read());
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        !reader.is_finished(),
        "a reader overtook the waiting writer"
    );
    assert!(!writer.is_finished());
    drop(first);
    writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), 7);
}

#[test]
fn writers_are_not_starved_by_a_stream_of_readers() {
    let _rt = crate::mode::enter();
    let lock = Arc::new(RwLock::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (lock, stop) = (lock.clone(), stop.clone());
            go(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = lock.read();
                    reads += *r;
                    yield_now(); // hold it across a switch: readers overlap
                    drop(r);
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let lock = lock.clone();
            go(move || {
                for _ in 0..200 {
                    *lock.write() += 1;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(*lock.read(), 800);
}

#[test]
fn rwlock_mixed_threads_and_goroutines_keep_invariant() {
    let _rt = crate::mode::enter();
    // Writers keep two halves equal; readers check them.
    let lock = Arc::new(RwLock::new((0u64, 0u64)));
    let wg = WaitGroup::new();
    for _ in 0..20 {
        let lock = lock.clone();
        wg.go(move || {
            for i in 0..500 {
                if i % 5 == 0 {
                    let mut w = lock.write();
                    w.0 += 1;
                    yield_now();
                    w.1 += 1;
                } else {
                    let r = lock.read();
                    assert_eq!(r.0, r.1);
                }
            }
        });
    }
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let lock = lock.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    if i % 5 == 0 {
                        let mut w = lock.write();
                        w.0 += 1;
                        w.1 += 1;
                    } else {
                        let r = lock.read();
                        assert_eq!(r.0, r.1);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wg.wait();
    assert_eq!(*lock.read(), (22 * 100, 22 * 100));
}

#[test]
fn condvar_hands_items_through_a_queue_exactly_once() {
    let _rt = crate::mode::enter();
    // A bounded queue on Mutex + two Condvars: 4 producers, 4 consumers
    // (two of each are threads); the sums must match.
    struct Queue {
        items: Mutex<(Vec<u64>, usize)>, // (items, producers left)
        not_empty: Condvar,
        not_full: Condvar,
    }
    const PER: u64 = 5_000;
    let q = Arc::new(Queue {
        items: Mutex::new((Vec::new(), 4)),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    let produce = |q: Arc<Queue>, base: u64| {
        move || {
            for i in 0..PER {
                let mut g = q.not_full.wait_while(q.items.lock(), |s| s.0.len() >= 16);
                g.0.push(base + i);
                drop(g);
                q.not_empty.notify_one();
            }
            let mut g = q.items.lock();
            g.1 -= 1;
            drop(g);
            q.not_empty.notify_all();
        }
    };
    let consume = |q: Arc<Queue>| {
        move || {
            let mut sum = 0u64;
            loop {
                let mut g = q
                    .not_empty
                    .wait_while(q.items.lock(), |s| s.0.is_empty() && s.1 > 0);
                match g.0.pop() {
                    Some(v) => {
                        sum += v;
                        drop(g);
                        q.not_full.notify_one();
                    }
                    None => return sum,
                }
            }
        }
    };
    let mut producers = Vec::new();
    let mut threads = Vec::new();
    for p in 0..4u64 {
        match p % 2 {
            0 => producers.push(go(produce(q.clone(), p * 1_000_000))),
            _ => threads.push(std::thread::spawn(produce(q.clone(), p * 1_000_000))),
        }
    }
    let consumers: Vec<_> = (0..2).map(|_| go(consume(q.clone()))).collect();
    let consumer_threads: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(consume(q.clone())))
        .collect();
    let mut total = 0;
    for c in consumers {
        total += c.join().unwrap();
    }
    for c in consumer_threads {
        total += c.join().unwrap();
    }
    for p in producers {
        p.join().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    let expected: u64 = (0..4u64)
        .map(|p| PER * p * 1_000_000 + PER * (PER - 1) / 2)
        .sum();
    assert_eq!(total, expected);
}

#[test]
fn condvar_wait_timeout_times_out_and_notify_all_wakes_all() {
    let _rt = crate::mode::enter();
    let pair = Arc::new((Mutex::new(0usize), Condvar::new()));
    // A timeout with nobody notifying.
    let (m, cv) = &*pair;
    let start = Instant::now();
    let (g, res) = cv.wait_timeout(m.lock(), Duration::from_millis(10));
    assert!(res.timed_out());
    assert!(start.elapsed() >= Duration::from_millis(10));
    drop(g);
    let (g, res) = cv.wait_timeout_while(m.lock(), Duration::from_millis(5), |v| *v == 0);
    assert!(res.timed_out());
    drop(g);
    // notify_all wakes 100 goroutines and 2 threads waiting for a flag.
    let woke = Arc::new(AtomicUsize::new(0));
    let waiting = |pair: Arc<(Mutex<usize>, Condvar)>, woke: Arc<AtomicUsize>| {
        move || {
            let (m, cv) = &*pair;
            let mut g = m.lock();
            *g += 1;
            let _g = cv.wait_while(g, |v| *v < 1000);
            woke.fetch_add(1, Ordering::SeqCst);
        }
    };
    let hs: Vec<_> = (0..100)
        .map(|_| go(waiting(pair.clone(), woke.clone())))
        .collect();
    let ts: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(waiting(pair.clone(), woke.clone())))
        .collect();
    let start = Instant::now();
    while *m.lock() < 102 {
        assert!(start.elapsed() < HANG);
        std::thread::sleep(Duration::from_millis(1));
    }
    *m.lock() = 1000;
    cv.notify_all();
    for h in hs {
        h.join().unwrap();
    }
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(woke.load(Ordering::SeqCst), 102);
}

#[test]
fn timed_out_condvar_waiters_leave_no_stale_entry() {
    let _rt = crate::mode::enter();
    // Many short timed waits, then notify_one must reach a live waiter.
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (m, cv) = &*pair;
    for _ in 0..1000 {
        let (_g, res) = cv.wait_timeout(m.lock(), Duration::from_micros(10));
        assert!(res.timed_out());
    }
    let p2 = pair.clone();
    let h = go(move || {
        let (m, cv) = &*p2;
        let _g = cv.wait_while(m.lock(), |flag| !*flag);
    });
    std::thread::sleep(Duration::from_millis(5));
    *m.lock() = true;
    cv.notify_one();
    h.join().unwrap();
}

#[test]
fn dropping_a_runtime_withdraws_its_parked_waiters() {
    let _rt = crate::mode::enter();
    // Goroutines parked on locks that outlive their runtime are unwound;
    // their waiters must leave the queues, and the locks keep working.
    let mutex = Arc::new(Mutex::new(0u32));
    let rw = Arc::new(RwLock::new(0u32));
    let cv = Arc::new((Mutex::new(()), Condvar::new()));
    let parked = Arc::new(AtomicUsize::new(0));
    let held = mutex.lock();
    let held_w = rw.write();
    {
        let rt = mode::builder().workers(2).build().unwrap();
        for i in 0..30 {
            let (mutex, rw, cv, parked) = (mutex.clone(), rw.clone(), cv.clone(), parked.clone());
            rt.go(move || {
                parked.fetch_add(1, Ordering::SeqCst);
                match i % 3 {
                    0 => *mutex.lock() += 1,
                    1 => *rw.write() += 1,
                    _ => {
                        let (m, c) = &*cv;
                        drop(c.wait(m.lock()));
                    }
                }
            });
        }
        let start = Instant::now();
        while parked.load(Ordering::SeqCst) < 30 {
            assert!(start.elapsed() < HANG);
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20)); // let them park
    } // the runtime drops: every goroutine unwinds
    drop(held);
    drop(held_w);
    cv.1.notify_all();
    // The locks still work, from threads and from a new goroutine.
    *mutex.lock() += 100;
    *rw.write() += 100;
    let (m2, rw2) = (mutex.clone(), rw.clone());
    go(move || {
        *m2.lock() += 1;
        *rw2.read()
    })
    .join()
    .unwrap();
    assert!(*mutex.lock() >= 101);
    assert!(*rw.read() >= 100);
}
