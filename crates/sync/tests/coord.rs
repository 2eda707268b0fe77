//! WaitGroup, Once, OnceCell, Semaphore and Barrier across goroutines and
//! threads.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_sched::{go, yield_now};
use goro_sync::{Barrier, Once, OnceCell, Semaphore, WaitGroup};

/// Generous bound against hangs (never a timing claim).
const HANG: Duration = Duration::from_secs(60);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn wait_group_waits_for_goroutines_and_threads() {
    let _rt = crate::mode::enter();
    let wg = WaitGroup::new();
    let sum = Arc::new(AtomicUsize::new(0));
    for i in 0..1000 {
        let sum = sum.clone();
        wg.go(move || {
            yield_now();
            sum.fetch_add(i, Ordering::SeqCst);
        });
    }
    wg.add(4);
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (wg, sum) = (wg.clone(), sum.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                sum.fetch_add(1_000_000 * (i + 1), Ordering::SeqCst);
                wg.done();
            })
        })
        .collect();
    // Waiters of both kinds.
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (wg, sum) = (wg.clone(), sum.clone());
            go(move || {
                wg.wait();
                sum.load(Ordering::SeqCst)
            })
        })
        .collect();
    wg.wait();
    let expected = 999 * 1000 / 2 + 10_000_000;
    assert_eq!(sum.load(Ordering::SeqCst), expected);
    for w in waiters {
        assert_eq!(w.join().unwrap(), expected);
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(wg.count(), 0);
    wg.wait(); // at zero: returns at once
}

#[test]
fn wait_group_is_reusable() {
    let _rt = crate::mode::enter();
    let wg = WaitGroup::new();
    for round in 0..100 {
        let n = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let n = n.clone();
            wg.go(move || {
                n.fetch_add(1, Ordering::SeqCst);
            });
        }
        wg.wait();
        assert_eq!(n.load(Ordering::SeqCst), 10, "round {round}");
    }
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn wait_group_below_zero_panics() {
    let _rt = crate::mode::enter();
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
fn wait_group_go_counts_a_panicking_goroutine_done() {
    let _rt = crate::mode::enter();
    let wg = WaitGroup::new();
    wg.go(|| panic!("boom (expected by the test)"));
    wg.wait();
}

#[test]
fn once_runs_once_under_contention_and_waiters_park() {
    let _rt = crate::mode::enter();
    // One worker: the initialiser yields inside `f`, so the others reach
    // `call_once` while it runs; they must park (a spinning waiter would
    // never let the initialiser finish on one worker).
    let rt = mode::builder().workers(1).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let once = Arc::new(Once::new());
    let (once2, runs2) = (once.clone(), runs.clone());
    rt.run(move || {
        let (once, runs) = (once2, runs2);
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                go(move || {
                    once.call_once(|| {
                        for _ in 0..10 {
                            yield_now();
                        }
                        runs.fetch_add(1, Ordering::SeqCst);
                    });
                    // Everyone returns only after the run completed.
                    assert_eq!(runs.load(Ordering::SeqCst), 1);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(once.is_completed());
}

#[test]
fn once_that_panics_counts_as_run_like_go() {
    let _rt = crate::mode::enter();
    let once = Once::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        once.call_once(|| panic!("boom (expected by the test)"))
    }));
    assert!(r.is_err());
    assert!(once.is_completed());
    once.call_once(|| unreachable!("Go's Once does not run f again"));
}

#[test]
fn once_cell_initialises_once_across_goroutines_and_threads() {
    let _rt = crate::mode::enter();
    let cell = Arc::new(OnceCell::new());
    let inits = Arc::new(AtomicUsize::new(0));
    let init = |inits: &AtomicUsize| {
        inits.fetch_add(1, Ordering::SeqCst);
        yield_now();
        42u64
    };
    let hs: Vec<_> = (0..50)
        .map(|_| {
            let (cell, inits) = (cell.clone(), inits.clone());
            go(move || *cell.get_or_init(|| init(&inits)))
        })
        .collect();
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let (cell, inits) = (cell.clone(), inits.clone());
            std::thread::spawn(move || *cell.get_or_init(|| init(&inits)))
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 42);
    }
    for t in ts {
        assert_eq!(t.join().unwrap(), 42);
    }
    assert_eq!(inits.load(Ordering::SeqCst), 1);
    assert_eq!(cell.set(7), Err(7));
    assert_eq!(cell.get(), Some(&42));
}

#[test]
fn once_cell_retries_after_a_panicking_initialiser() {
    let _rt = crate::mode::enter();
    let cell = OnceCell::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cell.get_or_init(|| -> String { panic!("boom (expected by the test)") })
    }));
    assert!(r.is_err());
    assert!(cell.get().is_none());
    assert_eq!(cell.get_or_init(|| "second".to_string()), "second");
    let mut cell = cell;
    cell.get_mut().unwrap().push('!');
    assert_eq!(cell.into_inner().as_deref(), Some("second!"));
}

#[test]
fn once_cell_drops_its_value_once() {
    let _rt = crate::mode::enter();
    let drops = Arc::new(AtomicUsize::new(0));
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let cell = OnceCell::new();
    assert!(cell.set(D(drops.clone())).is_ok());
    drop(cell);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let cell = OnceCell::new();
    assert!(cell.set(D(drops.clone())).is_ok());
    let inner = cell.into_inner();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(inner);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// The message of a panic.
fn message(panic: Box<dyn std::any::Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(s) => *s,
        Err(panic) => panic
            .downcast::<&str>()
            .map_or_else(|_| "(not a string)".to_string(), |s| s.to_string()),
    }
}

/// Runs `f` on a thread of its own and returns the message it panicked
/// with; fails (rather than hangs) if `f` waits for ever, as a re-entrant
/// call waiting for itself would.
fn panic_message(f: impl FnOnce() + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(outcome.err().map(message));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("hung: the re-entrant call waited for itself")
        .expect("the re-entrant call did not panic")
}

/// As `panic_message`, with `f` run in a goroutine of a two-worker runtime
/// (the panic caught there).
fn panic_message_in_a_goroutine(f: impl FnOnce() + Send + 'static) -> String {
    panic_message(move || {
        let rt = mode::builder().workers(2).build().unwrap();
        let caught = rt.run(move || {
            assert!(goro_sched::id().is_some());
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .err()
                .map(message)
        });
        if let Some(caught) = caught {
            panic!("{caught}");
        }
    })
}

const ONCE_REENTRANT: &str = "goro::sync::Once::call_once called re-entrantly";
const CELL_REENTRANT: &str = "goro::sync::OnceCell::get_or_init called re-entrantly";

#[test]
fn once_called_re_entrantly_on_a_thread_panics_and_counts_as_run() {
    let _rt = crate::mode::enter();
    let once = Arc::new(Once::new());
    let o = once.clone();
    let msg = panic_message(move || o.call_once(|| o.call_once(|| unreachable!())));
    assert!(msg.contains(ONCE_REENTRANT), "{msg}");
    // As any panicking function, it counts as run (Go's rule), and nobody
    // is left waiting.
    assert!(once.is_completed());
    once.call_once(|| unreachable!("already run"));
}

#[test]
fn once_called_re_entrantly_in_a_goroutine_panics() {
    let _rt = crate::mode::enter();
    let once = Arc::new(Once::new());
    let o = once.clone();
    let msg = panic_message_in_a_goroutine(move || {
        o.call_once(|| {
            goro_sched::yield_now(); // perhaps onto the other worker's thread
            o.call_once(|| unreachable!());
        });
    });
    assert!(msg.contains(ONCE_REENTRANT), "{msg}");
    assert!(once.is_completed());
}

#[test]
fn once_cell_initialised_re_entrantly_on_a_thread_panics_and_stays_empty() {
    let _rt = crate::mode::enter();
    let cell = Arc::new(OnceCell::<u32>::new());
    let c = cell.clone();
    let msg = panic_message(move || {
        c.get_or_init(|| *c.get_or_init(|| 1) + 1);
    });
    assert!(msg.contains(CELL_REENTRANT), "{msg}");
    // As any panicking initialiser, it leaves the cell empty (std's rule).
    assert_eq!(cell.get(), None);
    let c = cell.clone();
    let msg = panic_message(move || {
        c.get_or_init(|| {
            let _ = c.set(1);
            2
        });
    });
    assert!(
        msg.contains("goro::sync::OnceCell::set called re-entrantly"),
        "{msg}"
    );
    assert_eq!(cell.get(), None);
    assert_eq!(cell.get_or_init(|| 3), &3);
}

#[test]
fn once_cell_initialised_re_entrantly_in_a_goroutine_panics() {
    let _rt = crate::mode::enter();
    let cell = Arc::new(OnceCell::<u32>::new());
    let c = cell.clone();
    let msg = panic_message_in_a_goroutine(move || {
        c.get_or_init(|| {
            goro_sched::yield_now();
            *c.get_or_init(|| 1) + 1
        });
    });
    assert!(msg.contains(CELL_REENTRANT), "{msg}");
    assert_eq!(cell.get(), None);
    assert_eq!(cell.get_or_init(|| 3), &3);
}

#[test]
fn callers_on_the_initialisers_thread_but_not_its_goroutine_wait() {
    let _rt = crate::mode::enter();
    // One worker: the goroutine running `f` parks inside it, and others
    // call on the same thread. They are not re-entrant calls: they wait.
    // So does a plain thread, and so do goroutines for a thread's `f`.
    let rt = mode::builder().workers(1).build().unwrap();
    let once = Arc::new(Once::new());
    let cell = Arc::new(OnceCell::<u32>::new());
    let (release_tx, release_rx) = goro_sync::chan::bounded::<()>(0);
    let started = Arc::new(AtomicBool::new(false));
    let (o, c, s) = (once.clone(), cell.clone(), started.clone());
    let runner = rt.go(move || {
        o.call_once(|| {
            c.get_or_init(|| {
                s.store(true, Ordering::SeqCst);
                release_rx.recv().unwrap(); // parks
                7
            });
        });
    });
    wait_until("the initialiser to start", || {
        started.load(Ordering::SeqCst)
    });
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (o, c) = (once.clone(), cell.clone());
            rt.go(move || {
                o.call_once(|| unreachable!("runs once"));
                *c.get_or_init(|| unreachable!("initialised once"))
            })
        })
        .collect();
    let (c, o) = (cell.clone(), once.clone());
    let thread = std::thread::spawn(move || {
        o.call_once(|| unreachable!("runs once"));
        *c.get_or_init(|| unreachable!("initialised once"))
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(!once.is_completed() && cell.get().is_none());
    release_tx.send(()).unwrap();
    runner.join().unwrap();
    for w in waiters {
        assert_eq!(w.join().unwrap(), 7);
    }
    assert_eq!(thread.join().unwrap(), 7);
    // And goroutines wait for a plain thread's initialiser.
    let cell = Arc::new(OnceCell::<u32>::new());
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let started = Arc::new(AtomicBool::new(false));
    let (c, s) = (cell.clone(), started.clone());
    let thread = std::thread::spawn(move || {
        *c.get_or_init(|| {
            s.store(true, Ordering::SeqCst);
            release_rx.recv().unwrap();
            9
        })
    });
    wait_until("the initialiser to start", || {
        started.load(Ordering::SeqCst)
    });
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let c = cell.clone();
            rt.go(move || *c.get_or_init(|| unreachable!("initialised once")))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    release_tx.send(()).unwrap();
    assert_eq!(thread.join().unwrap(), 9);
    for w in waiters {
        assert_eq!(w.join().unwrap(), 9);
    }
}

#[test]
fn semaphore_bounds_concurrency_with_weights() {
    let _rt = crate::mode::enter();
    let sem = Arc::new(Semaphore::new(10));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    for i in 0..200 {
        let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
        wg.go(move || {
            let n = i % 4 + 1;
            let permit = sem.acquire_many(n).unwrap();
            assert_eq!(permit.num_permits(), n);
            let now = inside.fetch_add(n, Ordering::SeqCst) + n;
            most.fetch_max(now, Ordering::SeqCst);
            yield_now();
            inside.fetch_sub(n, Ordering::SeqCst);
        });
    }
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let _p = sem.acquire_many(3).unwrap();
                    let now = inside.fetch_add(3, Ordering::SeqCst) + 3;
                    most.fetch_max(now, Ordering::SeqCst);
                    inside.fetch_sub(3, Ordering::SeqCst);
                }
            })
        })
        .collect();
    wg.wait();
    for t in threads {
        t.join().unwrap();
    }
    assert!(most.load(Ordering::SeqCst) <= 10);
    assert_eq!(sem.available_permits(), 10);
}

#[test]
fn a_large_acquire_is_not_starved_by_small_ones() {
    let _rt = crate::mode::enter();
    // Small acquirers keep the semaphore busy; a waiter for all 8 permits
    // must get them (FIFO: it holds back the small ones behind it).
    let sem = Arc::new(Semaphore::new(8));
    let stop = Arc::new(AtomicBool::new(false));
    let small: Vec<_> = (0..6)
        .map(|_| {
            let (sem, stop) = (sem.clone(), stop.clone());
            go(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _p = sem.acquire_many(2).unwrap();
                    yield_now();
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let sem2 = sem.clone();
        let big = go(move || sem2.acquire_many(8).unwrap().num_permits());
        wait_until("the large acquire", || big.is_finished());
        assert_eq!(big.join().unwrap(), 8);
    }
    stop.store(true, Ordering::Relaxed);
    for s in small {
        s.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 8);
}

#[test]
fn semaphore_errors_and_try_acquire() {
    let _rt = crate::mode::enter();
    let sem = Semaphore::new(3);
    let err = sem.acquire_many(4).unwrap_err();
    assert_eq!((err.requested(), err.size()), (4, 3));
    assert_eq!(
        err.to_string(),
        "cannot acquire 4 permits from a semaphore of size 3"
    );
    let two = sem.try_acquire_many(2).unwrap();
    assert!(sem.try_acquire_many(2).is_none());
    let one = sem.try_acquire().unwrap();
    assert!(sem.try_acquire().is_none());
    assert_eq!(sem.available_permits(), 0);
    drop(two);
    assert_eq!(sem.available_permits(), 2);
    one.forget();
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(sem.size(), 3);
}

#[test]
#[should_panic(expected = "semaphore of size 0")]
fn acquire_on_an_empty_semaphore_panics_clearly() {
    let _rt = crate::mode::enter();
    let sem = Semaphore::new(0);
    let _p = sem.acquire();
}

#[test]
fn try_acquire_does_not_jump_the_queue() {
    let _rt = crate::mode::enter();
    let sem = Arc::new(Semaphore::new(4));
    let held = sem.acquire_many(3).unwrap();
    let s2 = sem.clone();
    let big = go(move || s2.acquire_many(4).map(|p| p.num_permits()));
    // Once the big waiter is queued, a small try must fail although one
    // permit is free.
    wait_until("the waiter to queue", || {
        sem.try_acquire().is_none() && !big.is_finished()
    });
    drop(held);
    assert_eq!(big.join().unwrap(), Ok(4));
}

#[test]
fn barrier_has_exactly_one_leader_per_round() {
    let _rt = crate::mode::enter();
    const N: usize = 20;
    const ROUNDS: usize = 50;
    let barrier = Arc::new(Barrier::new(N));
    let leaders = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let mut hs = Vec::new();
    let mut ts = Vec::new();
    for i in 0..N {
        let (barrier, leaders, arrived) = (barrier.clone(), leaders.clone(), arrived.clone());
        let f = move || {
            for round in 0..ROUNDS {
                arrived.fetch_add(1, Ordering::SeqCst);
                let r = barrier.wait();
                // Nobody passes before all N of this round arrived.
                assert!(arrived.load(Ordering::SeqCst) >= (round + 1) * N);
                if r.is_leader() {
                    leaders.fetch_add(1, Ordering::SeqCst);
                }
            }
        };
        match i {
            0 | 1 => ts.push(std::thread::spawn(f)),
            _ => hs.push(go(f)),
        }
    }
    for h in hs {
        h.join().unwrap();
    }
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(leaders.load(Ordering::SeqCst), ROUNDS);
    assert!(Barrier::new(0).wait().is_leader());
    assert!(Barrier::new(1).wait().is_leader());
}

/// An `add` past `isize::MAX` panics with its own message and leaves the
/// counter as it was (issue 20: it reported "negative WaitGroup counter"
/// and left the counter wrapped); so does one below zero.
#[test]
fn a_waitgroup_overflow_panics_and_leaves_the_counter() {
    let _rt = crate::mode::enter();
    let wg = WaitGroup::new();
    wg.add(isize::MAX);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wg.add(1))).unwrap_err();
    let msg = err.downcast_ref::<String>().expect("a formatted message");
    assert!(msg.contains("WaitGroup counter overflow"), "{msg}");
    assert_eq!(wg.count(), isize::MAX as usize);
    wg.add(-isize::MAX);
    assert_eq!(wg.count(), 0);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wg.add(-1))).unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>().copied(),
        Some("sync: negative WaitGroup counter")
    );
    assert_eq!(wg.count(), 0);
    wg.add(1);
    let w = wg.clone();
    go(move || w.done());
    wg.wait();
}
