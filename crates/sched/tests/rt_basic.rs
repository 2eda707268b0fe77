//! Spawning, joining, panics, nesting, plain threads, `go!`, `scope`,
//! `local!`, ids and fairness.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro_sched::{GoroutineId, go};

mod common;

#[test]
fn join_returns_each_goroutines_value() {
    let handles: Vec<_> = (0..1000u64).map(|i| go(move || i * 3)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 3 * (0..1000).sum::<u64>());
}

#[test]
fn a_panic_is_returned_by_join_and_the_worker_lives_on() {
    let rt = common::builder().workers(1).build().unwrap();
    let n = std::hint::black_box(7);
    let h = rt.go(move || -> u32 { panic!("goroutine {n} failed") });
    let err = h.join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "goroutine panicked: goroutine 7 failed");
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        "goroutine 7 failed"
    );
    // The only worker still runs goroutines.
    assert_eq!(rt.go(|| 5).join().unwrap(), 5);
}

#[test]
fn run_reraises_a_panic() {
    let err = std::panic::catch_unwind(|| goro_sched::run(|| panic!("inside run"))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"inside run"));
}

#[test]
fn nested_spawns_run_on_the_same_runtime() {
    let total = goro_sched::run(|| {
        let outer: Vec<_> = (0..20u64)
            .map(|i| {
                go(move || {
                    let inner: Vec<_> = (0..20u64).map(|j| go(move || i * 20 + j)).collect();
                    inner.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                })
            })
            .collect();
        outer.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, (0..400).sum::<u64>());
}

#[test]
fn plain_threads_spawn_and_join_alongside_goroutines() {
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                let hs: Vec<_> = (0..100u64).map(|i| go(move || t * 1000 + i)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let expected: u64 = (0..8u64)
        .map(|t| (0..100).map(|i| t * 1000 + i).sum::<u64>())
        .sum();
    assert_eq!(total, expected);
}

#[test]
fn a_goroutine_joins_a_goroutine_that_sleeps() {
    let v = goro_sched::run(|| {
        let h = go(|| {
            goro_sched::sleep(Duration::from_millis(10));
            "late"
        });
        h.join().unwrap()
    });
    assert_eq!(v, "late");
}

#[test]
fn go_macro_evaluates_arguments_in_the_caller() {
    fn describe(label: String, n: usize, tail: &'static str) -> String {
        format!("{label}:{n}{tail}")
    }
    let label = String::from("items");
    let count = Arc::new(AtomicUsize::new(0));
    let evaluated_in = Arc::new(Mutex::new(None));
    let (c, e) = (count.clone(), evaluated_in.clone());
    let arg = move || {
        c.fetch_add(1, Ordering::SeqCst);
        *e.lock().unwrap() = Some(goro_sched::id());
        3
    };
    let h = goro_sched::go!(describe(label.clone(), arg(), "!"));
    // The argument ran before the goroutine, here, on this plain thread.
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(*evaluated_in.lock().unwrap(), Some(None));
    assert_eq!(
        label, "items",
        "the clone was made here; the original is still ours"
    );
    assert_eq!(h.join().unwrap(), "items:3!");
    // Paths and closures work too.
    let h = goro_sched::go!(std::cmp::max(4, 9));
    assert_eq!(h.join().unwrap(), 9);
    let h = goro_sched::go!(move || label.len());
    assert_eq!(h.join().unwrap(), 5);
}

#[test]
fn scope_lets_100_goroutines_borrow_a_local_vec() {
    let data: Vec<u64> = (0..10_000).collect();
    let mut results = vec![0u64; 100];
    goro_sched::scope(|s| {
        for (i, slot) in results.iter_mut().enumerate() {
            let data = &data;
            s.go(move || {
                *slot = data[i * 100..(i + 1) * 100].iter().sum();
                goro_sched::yield_now();
            });
        }
    });
    assert_eq!(results.iter().sum::<u64>(), data.iter().sum::<u64>());
}

#[test]
fn scope_waits_for_all_and_reraises_the_first_panic() {
    let finished = AtomicUsize::new(0);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        goro_sched::scope(|s| {
            for i in 0..50 {
                let finished = &finished;
                s.go(move || {
                    goro_sched::sleep(Duration::from_millis(1));
                    finished.fetch_add(1, Ordering::SeqCst);
                    if i == 10 {
                        panic!("scoped {i}");
                    }
                });
            }
        });
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<String>().unwrap(), "scoped 10");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        50,
        "scope waited for every goroutine"
    );
}

#[test]
fn a_joined_scoped_panic_is_not_reraised() {
    let r = goro_sched::scope(|s| {
        let h = s.go(|| panic!("seen"));
        h.join().unwrap_err().is_panic()
    });
    assert!(r);
}

goro_sched::local! {
    static SEEN: Cell<u64> = Cell::new(0);
    static NAME: std::cell::RefCell<String> = std::cell::RefCell::new(String::new());
}

#[test]
fn locals_belong_to_their_goroutine_wherever_it_runs() {
    let rt = common::builder().workers(2).build().unwrap();
    let handles: Vec<_> = (0..200u64)
        .map(|i| {
            rt.go(move || {
                NAME.with(|n| *n.borrow_mut() = format!("g{i}"));
                for round in 0..50 {
                    SEEN.with(|s| s.set(s.get() + i));
                    if round % 10 == 0 {
                        goro_sched::sleep(Duration::from_micros(50));
                    } else {
                        goro_sched::yield_now();
                    }
                }
                (SEEN.with(Cell::get), NAME.with(|n| n.borrow().clone()))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (seen, name) = h.join().unwrap();
        assert_eq!(seen, 50 * i as u64);
        assert_eq!(name, format!("g{i}"));
    }
    // A plain thread has its own.
    SEEN.with(|s| s.set(99));
    assert_eq!(rt.run(|| SEEN.with(Cell::get)), 0);
    assert_eq!(SEEN.with(Cell::get), 99);
}

#[test]
fn ids_are_unique_and_none_on_threads() {
    assert_eq!(goro_sched::id(), None);
    let ids: Vec<GoroutineId> = (0..500)
        .map(|_| go(|| goro_sched::id().unwrap()))
        .map(|h| h.join().unwrap())
        .collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 500);
    // Spawned from goroutines on two workers (each takes ids in batches)
    // and from this thread (one by one) at once: still all distinct.
    let rt = common::builder().workers(2).build().unwrap();
    let spawners: Vec<_> = (0..4)
        .map(|_| {
            rt.go(|| {
                (0..300)
                    .map(|_| go(|| goro_sched::id().unwrap()))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<GoroutineId> = (0..300)
        .map(|_| rt.go(|| goro_sched::id().unwrap()).join().unwrap())
        .collect();
    for s in spawners {
        all.extend(s.join().unwrap());
    }
    let unique: HashSet<_> = all.iter().chain(&ids).collect();
    assert_eq!(unique.len(), 500 + 300 + 4 * 300);
    let h = go(|| goro_sched::id().unwrap());
    let id = h.id();
    assert_eq!(h.join().unwrap(), id);
}

#[test]
fn two_goroutines_that_yield_to_each_other_on_one_worker_both_progress() {
    let rt = common::builder().workers(1).build().unwrap();
    let turn = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..2usize)
        .map(|me| {
            let turn = turn.clone();
            rt.go(move || {
                let mut mine = 0;
                while mine < 1000 {
                    if turn.load(Ordering::SeqCst) % 2 == me {
                        turn.fetch_add(1, Ordering::SeqCst);
                        mine += 1;
                    }
                    goro_sched::yield_now();
                }
                mine
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1000);
    }
    assert_eq!(turn.load(Ordering::SeqCst), 2000);
}

#[test]
fn a_yield_loop_does_not_starve_a_newly_spawned_goroutine() {
    let rt = common::builder().workers(1).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = rt.go(move || {
        let mut spins = 0u64;
        // Spawns its rival, then yields until the rival has run.
        let rival = goro_sched::go(move || s.store(true, Ordering::SeqCst));
        while !stop.load(Ordering::SeqCst) {
            spins += 1;
            goro_sched::yield_now();
        }
        rival.join().unwrap();
        spins
    });
    assert!(spinner.join().unwrap() < 1_000_000);
}

#[test]
fn a_pingpong_pair_does_not_starve_a_third_goroutine() {
    // Two goroutines that keep waking each other through `next` on one
    // worker: a third, queued behind them, still runs.
    use goro_sched::park::{self, Unparker};
    let rt = common::builder().workers(1).build().unwrap();
    let third_ran = Arc::new(AtomicBool::new(false));
    let t = third_ran.clone();
    rt.run(move || {
        let slot: Arc<Mutex<Option<Unparker>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (slot.clone(), stop.clone());
        let partner = go(move || {
            while !st2.load(Ordering::SeqCst) {
                *s2.lock().unwrap() = Some(park::current_unparker());
                park::park();
            }
        });
        let third = go(move || t.store(true, Ordering::SeqCst));
        let mut rounds = 0u64;
        while !third.is_finished() && rounds < 10_000_000 {
            if let Some(u) = slot.lock().unwrap().take() {
                u.unpark();
            }
            goro_sched::yield_now();
            rounds += 1;
        }
        stop.store(true, Ordering::SeqCst);
        if let Some(u) = slot.lock().unwrap().take() {
            u.unpark();
        }
        partner.join().unwrap();
    });
    assert!(third_ran.load(Ordering::SeqCst));
}

/// What `churn` calls on each run, with the run's number.
type Hook = Arc<dyn Fn(usize) + Send + Sync>;

/// One node of an ever-growing binary tree of goroutines, until `stop` or
/// `limit` runs: each spawns two and ends, so that every run leaves one
/// more fresh goroutine queued on the worker.
fn churn(stop: Arc<AtomicBool>, runs: Arc<AtomicUsize>, limit: usize, hook: Hook) {
    if stop.load(Ordering::SeqCst) {
        return;
    }
    let run = runs.fetch_add(1, Ordering::SeqCst);
    if run >= limit {
        return;
    }
    hook(run);
    for _ in 0..2 {
        let (stop, runs, hook) = (stop.clone(), runs.clone(), hook.clone());
        go(move || churn(stop, runs, limit, hook));
    }
}

#[test]
fn the_oldest_fresh_goroutine_runs_while_newer_ones_keep_coming() {
    // One worker runs goroutines that have not started newest first (depth
    // first, as a spawn tree wants); one queued below a tree that keeps
    // growing on top must still run, long before the tree would stop
    // (`LIMIT` runs). The worker takes its oldest fresh goroutine at most
    // once a millisecond: a few thousand runs, well under `LIMIT / 2` even
    // in a debug build.
    const LIMIT: usize = 200_000;
    let rt = common::builder().workers(1).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (s, r) = (stop.clone(), Arc::new(AtomicUsize::new(0)));
    let runs_before_oldest = rt.run(move || {
        // `oldest` goes to `next`, then to the queue when the tree's root
        // takes `next`: it is queued below everything the tree spawns.
        let (s2, r2) = (s.clone(), r.clone());
        let oldest = go(move || {
            s2.store(true, Ordering::SeqCst);
            r2.load(Ordering::SeqCst)
        });
        go(move || churn(s, r, LIMIT, Arc::new(|_| {})));
        oldest.join().unwrap()
    });
    assert!(stop.load(Ordering::SeqCst));
    assert!(
        runs_before_oldest < LIMIT / 2,
        "the oldest goroutine waited for {runs_before_oldest} runs of newer ones"
    );
}

#[test]
fn woken_goroutines_run_soon_while_fresh_ones_keep_coming() {
    // Goroutines that have run, parked and are woken go behind the started
    // goroutines queued before them, not below the fresh ones that a
    // growing tree keeps queueing (which run newest first): each runs
    // within a few dozen runs of the tree (`next` wins 16 times in a row at
    // most while the queue waits, and started ones come first there), long
    // before the tree stops. Bounded loosely: if a stall of the worker gets
    // sysmon to start a spare, the spare runs the tree meanwhile.
    use goro_sched::park::{self, Unparker};
    const LIMIT: usize = 200_000;
    const WAITERS: usize = 10;
    const WAKE_AT: usize = 1000;
    let rt = common::builder().workers(1).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (s, r) = (stop.clone(), Arc::new(AtomicUsize::new(0)));
    let seen = rt.run(move || {
        let parked: Arc<Mutex<Vec<Unparker>>> = Arc::default();
        let woken = Arc::new(AtomicBool::new(false));
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (parked, woken, r) = (parked.clone(), woken.clone(), r.clone());
                go(move || {
                    while !woken.load(Ordering::SeqCst) {
                        parked.lock().unwrap().push(park::current_unparker());
                        park::park();
                    }
                    r.load(Ordering::SeqCst)
                })
            })
            .collect();
        while parked.lock().unwrap().len() < WAITERS {
            goro_sched::yield_now();
        }
        // A goroutine of the tree wakes them all, on its worker.
        let hook: Hook = Arc::new(move |run| {
            if run == WAKE_AT {
                woken.store(true, Ordering::SeqCst);
                for u in parked.lock().unwrap().drain(..) {
                    u.unpark();
                }
            }
        });
        go(move || churn(s, r, LIMIT, hook));
        let seen: Vec<usize> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::SeqCst);
        seen
    });
    let latest = *seen.iter().max().unwrap();
    assert!(
        latest < LIMIT / 2,
        "woken at run {WAKE_AT}, the waiters ran after runs {seen:?} of the tree"
    );
}

#[test]
fn num_goroutines_counts_live_ones() {
    let rt = common::builder().workers(2).build().unwrap();
    let gate = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let gate = gate.clone();
            rt.go(move || {
                while !gate.load(Ordering::SeqCst) {
                    goro_sched::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let inside = rt.run(goro_sched::num_goroutines);
    assert!(inside >= 51, "{inside}");
    gate.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(rt.run(goro_sched::num_goroutines), 1);
    assert_eq!(rt.stats().goroutines, 0);
    assert!(rt.stats().spawned >= 52);
}

#[test]
fn work_spreads_to_sleeping_workers() {
    // Workers are asleep; one goroutine spawns CPU-bound goroutines onto its
    // own queue. If pushing work did not wake a sleeper, they would all run
    // on the spawner's worker.
    let rt = common::builder().workers(2).build().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // let them sleep
    let threads = rt.run(|| {
        let handles: Vec<_> = (0..64)
            .map(|_| {
                go(|| {
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_millis(2) {
                        std::hint::spin_loop();
                    }
                    std::thread::current().id()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<HashSet<_>>()
    });
    // Both workers, and perhaps a spare: on a loaded machine (CI runs the
    // suite beside two busy processes) a worker's thread may lose its CPU
    // for 10 ms in a 2 ms spin, and sysmon hands it off (once in CI: 3).
    assert!(threads.len() >= 2, "all goroutines ran on one worker");
    assert!(rt.stats().steals > 0);
}

#[test]
fn joins_racing_completions_get_every_result_once() {
    // Goroutines and threads join goroutines that finish at about the same
    // moment (after a few yields), so that registering the waiter races the
    // completion; results whose handles are dropped unjoined, before or
    // after they finish, are dropped once too.
    struct Counted(Arc<AtomicUsize>, u64);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = common::builder().workers(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    const N: u64 = 2_000;
    let spawn = |i: u64| {
        let d = drops.clone();
        rt.go(move || {
            for _ in 0..i % 4 {
                goro_sched::yield_now();
            }
            Counted(d, i)
        })
    };
    let joiners: Vec<_> = (0..N)
        .map(|i| {
            let child = spawn(i);
            if i % 3 == 0 {
                drop(child); // detached: its result is dropped unseen
                return None;
            }
            Some(rt.go(move || child.join().unwrap().1))
        })
        .collect();
    let from_thread: Vec<_> = (0..N / 10).map(spawn).collect();
    let mut sum = 0;
    for j in joiners.into_iter().flatten() {
        sum += j.join().unwrap();
    }
    for h in from_thread {
        sum += h.join().unwrap().1;
    }
    let expected: u64 = (0..N).filter(|i| i % 3 != 0).sum::<u64>() + (0..N / 10).sum::<u64>();
    assert_eq!(sum, expected);
    // Every result is dropped once: taken and dropped here, or detached.
    // Detached goroutines may still be queued (shutdown would unwind them
    // before they made their result): wait for their drops first, with a
    // bound only to catch a lost one.
    let all = (N + N / 10) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    while drops.load(Ordering::SeqCst) < all && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        all,
        "a result was not dropped"
    );
    rt.shutdown_timeout(Duration::from_secs(10));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        all,
        "a result was dropped twice"
    );
}

#[test]
fn goroutines_queued_on_one_worker_that_switch_seldom_spread_to_another() {
    // Two goroutines spawned on one worker, each computing for a while
    // between yields: the idle worker must take one (it leaves alone only
    // the short queues of workers that switch fast, as message passing
    // does), so at some point both run at once. (The migrating mode's: in
    // the default mode the two keep the worker they start on, which may be
    // the same one; `fresh_goroutines_spread_over_every_worker` is its
    // counterpart.)
    let rt = common::migrating().workers(2).build().unwrap();
    let active = Arc::new(AtomicUsize::new(0));
    let together = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let spawner = {
        let (active, together) = (active.clone(), together.clone());
        rt.go(move || {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (active, together) = (active.clone(), together.clone());
                    go(move || {
                        while !together.load(Ordering::SeqCst) {
                            active.fetch_add(1, Ordering::SeqCst);
                            let slice = Instant::now();
                            while slice.elapsed() < Duration::from_micros(300) {
                                if active.load(Ordering::SeqCst) == 2 {
                                    together.store(true, Ordering::SeqCst);
                                }
                            }
                            active.fetch_sub(1, Ordering::SeqCst);
                            // Catches a hang, generously: the flag comes in
                            // microseconds.
                            assert!(start.elapsed().as_secs() < 60, "never ran at once");
                            goro_sched::yield_now();
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        })
    };
    spawner.join().unwrap();
    assert!(together.load(Ordering::SeqCst));
}

#[test]
fn a_spawn_loop_lets_its_goroutines_run_as_it_goes() {
    // One worker: a goroutine that spawns 100k goroutines in a loop yields
    // to them now and then, so they do not all pile up queued (each with
    // its task) until the loop ends.
    let rt = common::builder().workers(1).build().unwrap();
    let peak = rt
        .go(|| {
            let done = Arc::new(AtomicUsize::new(0));
            let mut peak = 0;
            for i in 0..100_000 {
                let done = done.clone();
                go(move || {
                    done.fetch_add(1, Ordering::Relaxed);
                });
                if i % 1000 == 0 {
                    peak = peak.max(goro_sched::num_goroutines());
                }
            }
            while done.load(Ordering::Relaxed) < 100_000 {
                goro_sched::yield_now();
            }
            peak
        })
        .join()
        .unwrap();
    assert!(peak < 5_000, "{peak} goroutines were alive at once");
}

#[test]
fn an_entered_runtime_is_the_current_one_of_its_thread_until_the_guard_drops() {
    // Each runtime is told apart by its worker count.
    let workers = || goro_sched::stats().workers;
    let global = std::thread::spawn(workers).join().unwrap();
    let (a, b) = (global + 1, global + 2);
    let rt_a = common::builder().workers(a).build().unwrap();
    let rt_b = common::builder().workers(b).build().unwrap();
    {
        let _a = rt_a.enter();
        assert_eq!(go(workers).join().unwrap(), a);
        assert_eq!(goro_sched::run(workers), a);
        assert_eq!(workers(), a);
        {
            let _b = rt_b.enter();
            assert_eq!(go(workers).join().unwrap(), b);
            assert!(goro_sched::dump().contains(&format!(", {b} workers")));
            // Inside a goroutine its own runtime wins over the thread's.
            let nested = rt_a.go(move || go(workers).join().unwrap());
            assert_eq!(nested.join().unwrap(), a);
        }
        assert_eq!(go(workers).join().unwrap(), a);
        // Only this thread entered it.
        assert_eq!(std::thread::spawn(workers).join().unwrap(), global);
        // `num_goroutines` counts the entered runtime's.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let h = go(move || rx.recv().unwrap_err());
        let start = Instant::now();
        while goro_sched::num_goroutines() != 1 {
            assert!(start.elapsed() < Duration::from_secs(60), "never counted");
            std::thread::yield_now();
        }
        drop(tx);
        h.join().unwrap();
    }
    // Back to the global runtime.
    assert_eq!(go(workers).join().unwrap(), global);
}
