//! Trying to break the changes made for issue 20 (out of memory, WaitGroup
//! counter, RateLimiter edges, runtime churn). Cases that touch the
//! process-wide "no task memory" switch, or may hang or abort, run in a
//! child process (`common::isolated`), with a watchdog of their own.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use goro_sched::__private::simulate_no_task_memory;

/// Fails the child if it is still running after `d` (a hang).
fn watchdog(d: Duration, what: &'static str) {
    thread::spawn(move || {
        thread::sleep(d);
        common::fail(what);
    });
}

/// Counts a closure dropped without having run: a spawn that failed.
struct Unrun {
    ran: bool,
    unrun: Arc<AtomicUsize>,
}

impl Drop for Unrun {
    fn drop(&mut self) {
        if !self.ran {
            self.unrun.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A goroutine body that holds its task until `release`.
fn hold(release: &Arc<AtomicBool>) {
    while !release.load(Ordering::SeqCst) {
        goro::sleep(Duration::from_millis(2));
    }
}

const MAX_TRIES: usize = 500_000;

/// With the task pool given no memory, spawns (through `spawn`) goroutines
/// that hold their tasks until `release`, until one spawn fails (its
/// closure dropped unrun); memory is still off when it returns. Returns
/// how many spawns were tried.
fn spawn_until_one_fails(
    release: &Arc<AtomicBool>,
    mut spawn: impl FnMut(Box<dyn FnOnce() + Send>),
) -> usize {
    let unrun = Arc::new(AtomicUsize::new(0));
    simulate_no_task_memory(true);
    let mut made = 0;
    while unrun.load(Ordering::SeqCst) == 0 {
        let (r, mut guard) = (
            release.clone(),
            Unrun {
                ran: false,
                unrun: unrun.clone(),
            },
        );
        spawn(Box::new(move || {
            guard.ran = true;
            hold(&r);
            drop(guard);
        }));
        made += 1;
        assert!(made < MAX_TRIES, "the pool never ran out");
    }
    made
}

#[test]
fn oom_wait_group_go_then_wait_returns() {
    common::isolated("oom_wait_group_go_then_wait_returns", || {
        watchdog(
            Duration::from_secs(20),
            "wg.wait() hung after a WaitGroup::go failed",
        );
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        let made = rt.run(|| {
            let wg = goro::sync::WaitGroup::new();
            let release = Arc::new(AtomicBool::new(false));
            let made = spawn_until_one_fails(&release, |f| wg.go(f));
            simulate_no_task_memory(false);
            release.store(true, Ordering::SeqCst);
            eprintln!("count before wait: {} ({} go calls)", wg.count(), made);
            wg.wait();
            made
        });
        eprintln!("{made} go calls, the last failed; wait returned");
    });
}

#[test]
fn oom_errgroup_go_then_wait_returns() {
    common::isolated("oom_errgroup_go_then_wait_returns", || {
        watchdog(
            Duration::from_secs(20),
            "ErrGroup::wait hung after a go failed",
        );
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        rt.run(|| {
            let group = goro::patterns::ErrGroup::<()>::new();
            // A limit: the failed member's token must come back too.
            group.set_limit(1_000_000);
            let release = Arc::new(AtomicBool::new(false));
            let made = spawn_until_one_fails(&release, |f| {
                group.go(move || {
                    f();
                    Ok(())
                })
            });
            simulate_no_task_memory(false);
            release.store(true, Ordering::SeqCst);
            let res = group.wait();
            eprintln!("{made} go calls, wait: {res:?}");
        });
    });
}

#[test]
fn oom_scope_returns_and_never_was_handles_behave() {
    common::isolated("oom_scope_returns_and_never_was_handles_behave", || {
        watchdog(
            Duration::from_secs(20),
            "scope hung after a Scope::go failed",
        );
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        let (made, ran) = rt.run(|| {
            let release = Arc::new(AtomicBool::new(false));
            let ran = AtomicUsize::new(0);
            let made = goro::scope(|s| {
                simulate_no_task_memory(true);
                let mut made = 0usize;
                let mut handles = Vec::new();
                loop {
                    let (r, ran) = (release.clone(), &ran);
                    let h = s.go(move || {
                        ran.fetch_add(1, Ordering::SeqCst);
                        hold(&r);
                    });
                    if h.id().as_u64() == 0 {
                        // The never-was handle: every accessor works.
                        let dbg = format!("{h:?}");
                        assert!(dbg.contains('0'), "{dbg}");
                        assert!(h.is_finished());
                        let err = h.join().unwrap_err();
                        assert!(!err.is_panic() && !err.is_cancelled());
                        assert!(err.to_string().contains("no memory"), "{err}");
                        break;
                    }
                    made += 1;
                    handles.push(h);
                    assert!(made < MAX_TRIES, "the pool never ran out");
                }
                // Nested spawns from a goroutine: go(), go! and Builder::go
                // fail too (their task may sit in another size class, with
                // free blocks left: spawn until they do).
                let mut extra = Vec::new();
                let never = loop {
                    let r = release.clone();
                    let h = goro::go(move || hold(&r));
                    if h.id().as_u64() == 0 {
                        break h;
                    }
                    extra.push(h);
                    assert!(extra.len() < MAX_TRIES);
                };
                assert!(never.is_finished());
                assert!(never.join().unwrap_err().to_string().contains("no memory"));
                let r = release.clone();
                let never = goro::go!({ hold(&r) });
                assert_eq!(never.id().as_u64(), 0);
                let r = release.clone();
                let e = goro::Builder::new().go(move || hold(&r)).unwrap_err();
                assert_eq!(e.kind(), std::io::ErrorKind::OutOfMemory);
                simulate_no_task_memory(false);
                release.store(true, Ordering::SeqCst);
                // Half joined, half left to the scope.
                let half = handles.len() / 2;
                for h in handles.drain(..half) {
                    h.join().unwrap();
                }
                for h in extra {
                    h.join().unwrap();
                }
                made
            });
            (made, ran.load(Ordering::SeqCst))
        });
        assert_eq!(made, ran, "every goroutine made ran once");
        // And the runtime still works, nested spawns included.
        let n = rt.run(|| {
            let hs: Vec<_> = (0..1000).map(|i| goro::go(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
        });
        assert_eq!(n, 999 * 1000 / 2);
        eprintln!("{made} made before the scope's go failed");
    });
}

/// Out of task memory, a `WorkerPool` (whose channel comes from the same
/// pool) cannot be made: a panic saying so, not an abort; with memory back
/// one works.
#[test]
fn oom_worker_pool_new_and_submit() {
    common::isolated("oom_worker_pool_new_and_submit", || {
        watchdog(
            Duration::from_secs(20),
            "WorkerPool hung after its workers failed",
        );
        let rt = goro::Runtime::builder().workers(2).build().unwrap();
        rt.run(|| {
            let release = Arc::new(AtomicBool::new(false));
            let mut keep = Vec::new();
            spawn_until_one_fails(&release, |f| keep.push(goro::go(f)));
            // No task memory: the pool (its channel first) cannot be made.
            let failed = panic::catch_unwind(|| goro::patterns::WorkerPool::new(4, 0));
            simulate_no_task_memory(false);
            release.store(true, Ordering::SeqCst);
            let err = failed.expect_err("made with no memory");
            let msg = err.downcast_ref::<String>().expect("a message");
            assert!(msg.contains("out of memory"), "{msg}");
            let pool = goro::patterns::WorkerPool::new(4, 0);
            let got = pool.submit(|| 5).map(|h| h.join());
            assert!(matches!(got, Ok(Ok(5))), "{got:?}");
        });
    });
}

/// Out of task memory, making a channel panics with a message (a goroutine
/// doing it fails its join), not an abort.
#[test]
fn oom_channel_creation_fails_cleanly() {
    common::isolated("oom_channel_creation_fails_cleanly", || {
        watchdog(Duration::from_secs(20), "hung");
        simulate_no_task_memory(true);
        let mut chans = Vec::new();
        let err = loop {
            match panic::catch_unwind(|| goro::chan::bounded::<u64>(1)) {
                Ok(chan) => chans.push(chan),
                Err(err) => break err,
            }
            assert!(chans.len() < 1_000_000, "the pool never ran out");
        };
        simulate_no_task_memory(false);
        let msg = err.downcast_ref::<String>().expect("a message");
        assert!(msg.contains("out of memory"), "{msg}");
        let (tx, rx) = goro::chan::bounded::<u64>(1);
        tx.send(1).unwrap();
        assert_eq!(rx.recv(), Ok(1));
        eprintln!("{} channels made", chans.len());
    });
}

/// `WaitGroup::add` with a delta that takes the counter below zero panics
/// and takes its `fetch_add` back; but between the two, others see the
/// counter negative: a correct `add(1)`/`done()` on another thread then
/// panics "negative WaitGroup counter" (and is itself taken back: a correct
/// `done` is lost, and a waiter would hang).
#[test]
fn wait_group_bad_add_does_not_disturb_correct_callers() {
    let prev = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let wg = goro::sync::WaitGroup::new();
    wg.add(1);
    let stop = Arc::new(AtomicBool::new(false));
    let bad = {
        let (wg, stop) = (wg.clone(), stop.clone());
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Wrong: always takes the counter below zero (it is 1 or 2).
                let r = panic::catch_unwind(AssertUnwindSafe(|| wg.add(-5)));
                assert!(r.is_err());
                n += 1;
            }
            n
        })
    };
    let mut spurious = 0u64;
    let start = Instant::now();
    let mut pairs = 0u64;
    while start.elapsed() < Duration::from_secs(2) && spurious == 0 {
        // Correct: one add, one done, the counter never below 1.
        if panic::catch_unwind(AssertUnwindSafe(|| wg.add(1))).is_err() {
            spurious += 1;
            continue;
        }
        if panic::catch_unwind(AssertUnwindSafe(|| wg.done())).is_err() {
            spurious += 1;
        }
        pairs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let bad_calls = bad.join().unwrap();
    panic::set_hook(prev);
    let count = wg.count();
    assert!(
        spurious == 0 && count == 1,
        "{spurious} correct add/done call(s) panicked in {pairs} pairs ({bad_calls} wrong adds \
         meanwhile); the counter ends at {count}, should be 1"
    );
}

/// The waiter's side: a wrong `add` racing a correct last `done` must
/// neither lose the `done` (the waiter hangs) nor wake the waiter early.
#[test]
fn wait_group_last_done_survives_a_racing_bad_add() {
    common::isolated("wait_group_last_done_survives_a_racing_bad_add", || {
        panic::set_hook(Box::new(|_| {}));
        watchdog(Duration::from_secs(30), "outer bound");
        let mut lost = 0;
        let rounds = 2000;
        for _ in 0..rounds {
            let wg = goro::sync::WaitGroup::new();
            wg.add(1);
            let stop = Arc::new(AtomicBool::new(false));
            let bad = {
                let (wg, stop) = (wg.clone(), stop.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = panic::catch_unwind(AssertUnwindSafe(|| wg.add(-3)));
                    }
                })
            };
            thread::sleep(Duration::from_micros(50));
            let panicked = panic::catch_unwind(AssertUnwindSafe(|| wg.done())).is_err();
            stop.store(true, Ordering::Relaxed);
            bad.join().unwrap();
            if panicked || wg.count() != 0 {
                lost += 1;
            }
        }
        if lost > 0 {
            common::fail(&format!(
                "{lost} of {rounds} correct last done() calls were lost (panicked, counter left at 1: a waiter hangs)"
            ));
        }
    });
}

#[test]
fn rate_limiter_edge_rates() {
    use goro::patterns::RateLimiter;
    let refused = |rate: f64| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let r = panic::catch_unwind(|| RateLimiter::new(rate, 1));
        panic::set_hook(prev);
        match r {
            Ok(_) => None,
            Err(p) => Some(
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            ),
        }
    };
    for rate in [
        f64::MIN_POSITIVE,
        5e-324,
        1e-300,
        1.7e-20,
        f64::NAN,
        -0.0,
        0.0,
        -1.0,
        f64::NEG_INFINITY,
    ] {
        let msg = refused(rate).unwrap_or_else(|| panic!("rate {rate} accepted"));
        assert!(msg.contains("RateLimiter::new"), "{rate}: {msg}");
    }
    // Accepted: the interval fits a Duration.
    for rate in [6e-20, 1e-19, 1e-12, 1.0, 1e300, f64::MAX, f64::INFINITY] {
        assert!(refused(rate).is_none(), "rate {rate} refused");
    }
    // The doc says "below about 1.7e-20"; the real bound is 1/Duration::MAX.
    let bound = 1.0 / Duration::MAX.as_secs_f64();
    eprintln!(
        "refused below {bound:e}; 3e-20 refused: {}",
        refused(3e-20).is_some()
    );
    // Infinite and huge rates never wait; allow works with them.
    let l = RateLimiter::new(f64::INFINITY, 3);
    for _ in 0..10 {
        l.wait();
        assert!(l.allow());
    }
    let l = RateLimiter::new(f64::MAX, 2);
    for _ in 0..10 {
        l.wait_n(2).unwrap();
        // Whether a token is back this soon depends on the clock: only
        // that it neither panics nor hangs.
        let _ = l.allow_n(1);
    }
    let l = RateLimiter::new(1.0, usize::MAX);
    l.wait_n(usize::MAX).unwrap();
    assert!(!l.allow());
}

#[test]
fn rate_limiter_huge_debts_wait_for_good_without_panicking() {
    common::isolated(
        "rate_limiter_huge_debts_wait_for_good_without_panicking",
        || {
            use goro::patterns::RateLimiter;
            let rt = goro::Runtime::builder().workers(2).build().unwrap();
            let panicked = Arc::new(AtomicUsize::new(0));
            let passed = Arc::new(AtomicUsize::new(0));
            for rate in [6e-20, 1e-19, 1e-12, 1e-3] {
                let l = Arc::new(RateLimiter::new(rate, 4));
                l.wait_n(4).unwrap();
                for n in [1usize, 2, 4, 4, 4, 4] {
                    for _ in 0..3 {
                        let (l, panicked, passed) = (l.clone(), panicked.clone(), passed.clone());
                        rt.go(move || {
                            let r = panic::catch_unwind(AssertUnwindSafe(|| l.wait_n(n)));
                            if r.is_err() {
                                panicked.fetch_add(1, Ordering::SeqCst);
                            } else {
                                passed.fetch_add(1, Ordering::SeqCst);
                            }
                        });
                    }
                }
                // And from plain threads (std's sleep).
                let (l2, panicked2) = (l.clone(), panicked.clone());
                thread::spawn(move || {
                    if panic::catch_unwind(AssertUnwindSafe(|| l2.wait_n(4))).is_err() {
                        panicked2.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            thread::sleep(Duration::from_millis(500));
            assert_eq!(panicked.load(Ordering::SeqCst), 0);
            assert_eq!(
                passed.load(Ordering::SeqCst),
                0,
                "a waiter owed ~1000 s or more got through"
            );
        },
    );
}

/// Runtimes built and dropped from many threads at once while others live
/// (and hold parked goroutines): no false deadlock, no hang, the live ones work.
#[test]
fn runtime_churn_from_many_threads() {
    common::isolated("runtime_churn_from_many_threads", || {
        watchdog(Duration::from_secs(60), "churn hung");
        let keep: Vec<_> = (0..3)
            .map(|_| {
                let rt = goro::Runtime::builder().workers(1).build().unwrap();
                let (tx, rx) = goro::chan::bounded::<()>(0);
                for _ in 0..10 {
                    let rx = rx.clone();
                    rt.go(move || {
                        let _ = rx.recv();
                    });
                }
                (rt, tx)
            })
            .collect();
        let built = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let built = built.clone();
                thread::spawn(move || {
                    for i in 0..40 {
                        let mut b = goro::Runtime::builder().workers(1 + (i + t) % 3);
                        if i % 2 == 0 {
                            // SAFETY: these goroutines hold nothing tied to
                            // a thread across a park point.
                            b = unsafe { b.migrating() };
                        }
                        let rt = b.build().unwrap();
                        let (tx, rx) = goro::chan::bounded::<u32>(0);
                        let h = rt.go(move || rx.recv().unwrap());
                        if i % 3 == 0 {
                            tx.send(i as u32).unwrap();
                            assert_eq!(h.join().unwrap(), i as u32);
                        }
                        drop(rt);
                        built.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(built.load(Ordering::SeqCst), 240);
        // The live runtimes still work.
        for (rt, _) in &keep {
            assert_eq!(rt.run(|| 4), 4);
        }
        drop(keep);
        // (Deadlock detection itself cannot be checked here: libtest's own
        // threads suppress the report; `rt_deadlock` covers it.)
    });
}
