//! Edges of shutdown, spares and `goro::blocking` in the default mode,
//! found by trying to break it from safe code (issue 16's review): a
//! runtime dropped while goroutines wait in every way, unrun functions whose
//! destructors park, goroutine-locals made by a detached result's
//! destructor, spares, the blocking pool under load. Each case runs in a
//! child process (`isolated`): several crashed or hung before their fix.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use goro::Runtime;
use goro::chan::{bounded, unbounded};
use goro::context::Context;
use goro::fiber::Coroutine;
use goro::select;
use goro::sync::WaitGroup;

mod common;
use common::{STRAND, builder, fail, isolated, spin, within};

// ---------------------------------------------------------------------------
// A. A scope owner holding the handle of a finished scoped goroutine stays
// "lent" (the result holds the CountOut); shutdown never unwinds it.

#[test]
fn drop_with_unjoined_finished_scoped_child() {
    isolated("drop_with_unjoined_finished_scoped_child", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let (ready_tx, ready) = mpsc::channel::<()>();
        let (_never_tx, never_rx) = bounded::<()>(0);
        rt.go(move || {
            let data = [1u32, 2, 3];
            goro::scope(|s| {
                let h = s.go(|| data.iter().sum::<u32>());
                while !h.is_finished() {
                    goro::yield_now();
                }
                ready_tx.send(()).unwrap();
                let _ = never_rx.recv(); // parks for good
                h.join().unwrap()
            })
        });
        ready.recv_timeout(STRAND).unwrap();
        within(Duration::from_secs(10), "dropping the runtime", move || {
            drop(rt)
        });
    });
}

// B. mem::forget of a ScopedJoinHandle keeps its scope waiting for good, as
// std::thread::scope does (its result may borrow from the scope's caller,
// and only the handle may drop it): documented on ScopedJoinHandle, not
// tested (a hang).

// C. A detached goroutine's result whose Drop uses goro::local!: the local
// is created after ClearLocals ran, and dropped when the task is freed, on
// whatever thread drops the last reference.

thread_local! {
    static TL_RC: Rc<Cell<u64>> = Rc::new(Cell::new(0));
}

struct Tracked {
    rc: Rc<Cell<u64>>,
    made_on: ThreadId,
}
impl Drop for Tracked {
    fn drop(&mut self) {
        if thread::current().id() != self.made_on {
            fail("a goro::local! value (an Rc from a thread-local) was dropped on another thread");
        }
        self.rc.set(self.rc.get() + 1);
    }
}

goro::local! {
    static TRACKED: Tracked = Tracked { rc: TL_RC.with(Rc::clone), made_on: thread::current().id() };
}

struct UsesLocalOnDrop;
impl Drop for UsesLocalOnDrop {
    fn drop(&mut self) {
        TRACKED.with(|t| t.rc.set(t.rc.get() + 1));
    }
}

#[test]
fn local_created_by_detached_result_drop() {
    isolated("local_created_by_detached_result_drop", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        for _ in 0..200 {
            let (tx, rx) = mpsc::channel();
            let (go_tx, go_rx) = bounded::<()>(0);
            let h = rt.go(move || {
                tx.send(goro::park::current_unparker()).unwrap();
                let _ = go_rx.recv();
                UsesLocalOnDrop
            });
            let unparker = rx.recv().unwrap();
            drop(h); // detach: the result is dropped by the goroutine
            go_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(2));
            // The last reference to the task: dropped here, on a plain thread.
            drop(unparker);
        }
        drop(rt);
    });
}

// D. A fresh goroutine's function, dropped unrun at shutdown, whose Drop parks
// (joins another goroutine): CURRENT is the fresh task, whose yielder is null.

static JOINED_ON_DROP: AtomicUsize = AtomicUsize::new(0);

struct JoinOnDrop(Option<goro::JoinHandle<()>>);
impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
            JOINED_ON_DROP.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn fresh_goroutine_drop_parks_at_shutdown() {
    isolated("fresh_goroutine_drop_parks_at_shutdown", || {
        // One worker, no spares: goroutines queued behind the hog stay fresh.
        let rt = Runtime::builder()
            .workers(1)
            .max_blocking_threads(0)
            .build()
            .unwrap();
        // Sleepers that have started (parked): joining one parks.
        let (st_tx, st_rx) = mpsc::channel::<()>();
        let mut sleepers = Vec::new();
        for _ in 0..10 {
            let st_tx = st_tx.clone();
            sleepers.push(rt.go(move || {
                st_tx.send(()).unwrap();
                goro::sleep(Duration::from_secs(3600));
            }));
        }
        for _ in 0..10 {
            st_rx.recv().unwrap();
        }
        let (hog_tx, hog_rx) = mpsc::channel::<()>();
        rt.go(move || {
            hog_tx.send(()).unwrap();
            spin(Duration::from_millis(300));
        });
        hog_rx.recv().unwrap();
        for other in sleepers {
            let g = JoinOnDrop(Some(other));
            rt.go(move || drop(g));
        }
        thread::sleep(Duration::from_millis(30));
        within(Duration::from_secs(20), "dropping the runtime", move || {
            drop(rt)
        });
        assert_eq!(
            JOINED_ON_DROP.load(Ordering::SeqCst),
            10,
            "a dropped unrun function's destructor did not complete its join"
        );
    });
}

// D2. As D, the function's Drop calls goro::blocking.
struct BlockingOnDrop;
impl Drop for BlockingOnDrop {
    fn drop(&mut self) {
        goro::blocking(|| thread::sleep(Duration::from_millis(1)));
    }
}

#[test]
fn fresh_goroutine_drop_blocking_at_shutdown() {
    isolated("fresh_goroutine_drop_blocking_at_shutdown", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        let (hog_tx, hog_rx) = mpsc::channel::<()>();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        rt.go(move || {
            hog_tx.send(()).unwrap();
            while !s2.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        hog_rx.recv().unwrap();
        for _ in 0..10 {
            let b = BlockingOnDrop;
            rt.go(move || drop(b));
        }
        // Spawned, never run: dropped unrun.
        let (tx, rx) = mpsc::channel::<()>();
        let rt = Arc::new(rt);
        stop.store(true, Ordering::Relaxed);
        let rt2 = rt.clone();
        thread::spawn(move || {
            // `go` while the runtime shuts down
            for _ in 0..1000 {
                let b = BlockingOnDrop;
                let _ = rt2.go(move || drop(b));
            }
            tx.send(()).unwrap();
        });
        let rt = Arc::try_unwrap(rt).ok();
        drop(rt);
        let _ = rx.recv();
    });
}

// E. A goroutine parked inside a nested coroutine when the runtime drops.
#[test]
fn park_inside_nested_coroutine_then_drop() {
    isolated("park_inside_nested_coroutine_then_drop", || {
        for _ in 0..20 {
            let rt = Runtime::builder().workers(2).build().unwrap();
            let (started_tx, started) = mpsc::channel::<()>();
            let (never_tx, never_rx) = bounded::<()>(0);
            let dropped = Arc::new(AtomicUsize::new(0));
            for _ in 0..8 {
                let (started_tx, never_rx, dropped) =
                    (started_tx.clone(), never_rx.clone(), dropped.clone());
                rt.go(move || {
                    struct D(Arc<AtomicUsize>, ThreadId);
                    impl Drop for D {
                        fn drop(&mut self) {
                            assert_eq!(thread::current().id(), self.1);
                            self.0.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let mut co = Coroutine::<(), (), ()>::new(move |_y, ()| {
                        let _d = D(dropped, thread::current().id());
                        started_tx.send(()).unwrap();
                        while never_rx.recv().is_ok() {}
                    });
                    let _ = co.resume(());
                });
            }
            for _ in 0..8 {
                started.recv_timeout(STRAND).unwrap();
            }
            within(Duration::from_secs(20), "dropping the runtime", move || {
                drop(rt)
            });
            drop(never_tx);
            assert_eq!(
                dropped.load(Ordering::SeqCst),
                8,
                "destructors on the nested stack did not run"
            );
        }
    });
}

// ---------------------------------------------------------------------------
// F. shutdown_timeout with a hog that never parks.
#[test]
fn shutdown_timeout_with_a_hog() {
    isolated("shutdown_timeout_with_a_hog", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        rt.go(move || {
            tx.send(()).unwrap();
            loop {
                std::hint::spin_loop();
            }
        });
        rx.recv().unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (st_tx, st_rx) = mpsc::channel::<()>();
        for _ in 0..50 {
            let (log, st_tx) = (log.clone(), st_tx.clone());
            rt.go(move || {
                struct G(ThreadId, Arc<std::sync::Mutex<Vec<(ThreadId, ThreadId)>>>);
                impl Drop for G {
                    fn drop(&mut self) {
                        self.1
                            .lock()
                            .unwrap()
                            .push((self.0, thread::current().id()));
                    }
                }
                let _g = G(thread::current().id(), log);
                st_tx.send(()).unwrap();
                loop {
                    goro::sleep(Duration::from_millis(1));
                }
            });
        }
        for _ in 0..50 {
            st_rx.recv_timeout(STRAND).unwrap();
        }
        let start = Instant::now();
        rt.shutdown_timeout(Duration::from_millis(300));
        let took = start.elapsed();
        if took > Duration::from_secs(3) {
            fail(&format!("shutdown_timeout(300ms) took {took:?}"));
        }
        for (a, b) in log.lock().unwrap().iter() {
            if a != b {
                fail("unwound on a wrong thread");
            }
        }
    });
}

// G. Goroutines that start on a spare (a hog holds the only worker), park,
// and go on sleeping and waking after the hog ends; then the runtime drops.
#[test]
fn goroutines_started_on_a_spare_keep_its_thread() {
    isolated("goroutines_started_on_a_spare_keep_its_thread", || {
        for _ in 0..5 {
            let rt = Runtime::builder().workers(1).build().unwrap();
            let (tx, rx) = mpsc::channel::<()>();
            rt.go(move || {
                tx.send(()).unwrap();
                spin(Duration::from_millis(100));
            });
            rx.recv().unwrap();
            let bad = Arc::new(AtomicUsize::new(0));
            let rounds = Arc::new(AtomicUsize::new(0));
            let (ch_tx, ch_rx) = unbounded::<u64>();
            for i in 0..16 {
                let (bad, rounds, ch_tx, ch_rx) =
                    (bad.clone(), rounds.clone(), ch_tx.clone(), ch_rx.clone());
                rt.go(move || {
                    let me = thread::current().id();
                    TL_RC.with(|rc| {
                        let rc = rc.clone();
                        for r in 0..200u64 {
                            match (i + r) % 4 {
                                0 => goro::sleep(Duration::from_micros(500)),
                                1 => goro::yield_now(),
                                2 => {
                                    ch_tx.send(r).unwrap();
                                    let _ = ch_rx.recv();
                                }
                                _ => {
                                    let _ = goro::blocking(|| 1);
                                }
                            }
                            rc.set(rc.get() + 1);
                            if thread::current().id() != me {
                                bad.fetch_add(1, Ordering::SeqCst);
                            }
                            rounds.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                });
            }
            thread::sleep(Duration::from_millis(300));
            drop(rt);
            if bad.load(Ordering::SeqCst) != 0 {
                fail("a goroutine changed thread");
            }
        }
    });
}

// H. Deadlock detection: libtest's own threads suppress the report, so
// those cases are in crates/goro/examples/breaker_deadlock.rs (all held).

// I. More concurrent blocking calls than pool threads: they queue and all end.
#[test]
fn many_concurrent_blocking_calls() {
    isolated("many_concurrent_blocking_calls", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let n = 700;
        let done = rt.run(move || {
            let wg = Arc::new(WaitGroup::new());
            let count = Arc::new(AtomicUsize::new(0));
            wg.add(n as isize);
            for _ in 0..n {
                let (wg, count) = (wg.clone(), count.clone());
                goro::go(move || {
                    let mut local = [0u8; 64];
                    goro::blocking(|| {
                        thread::sleep(Duration::from_millis(20));
                        local[0] = 1;
                    });
                    assert_eq!(local[0], 1);
                    count.fetch_add(1, Ordering::SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            count.load(Ordering::SeqCst)
        });
        assert_eq!(done, n);
    });
}

// J. Nested blocking, blocking that panics, blocking from a scoped goroutine,
// and the runtime dropped meanwhile.
#[test]
fn blocking_nested_panicking_scoped_and_drop() {
    isolated("blocking_nested_panicking_scoped_and_drop", || {
        for run in 0..10 {
            let rt = Runtime::builder().workers(2).build().unwrap();
            let (started_tx, started) = mpsc::channel::<()>();
            for g in 0..16 {
                let started_tx = started_tx.clone();
                rt.go(move || {
                    let v = goro::blocking(|| goro::blocking(|| 3));
                    assert_eq!(v, 3);
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        goro::blocking(|| -> u32 { panic!("in blocking") })
                    }));
                    assert!(r.is_err());
                    let mut data = [0u64; 8];
                    started_tx.send(()).unwrap();
                    goro::scope(|s| {
                        for (k, slot) in data.iter_mut().enumerate() {
                            s.go(move || {
                                loop {
                                    goro::blocking(|| {
                                        thread::sleep(Duration::from_micros(200 + (k as u64) * 10))
                                    });
                                    *slot += 1;
                                    if g % 2 == 0 && *slot > 1000 + run {
                                        break;
                                    }
                                }
                            });
                        }
                    });
                });
            }
            for _ in 0..16 {
                started.recv_timeout(STRAND).unwrap();
            }
            thread::sleep(Duration::from_millis(20));
            within(Duration::from_secs(30), "dropping the runtime", move || {
                drop(rt)
            });
        }
    });
}

// K. local!: a panicking initialiser, re-entrant use, use from a destructor
// during shutdown unwinding.
goro::local! {
    static PANICKY: u32 = panic!("init panics");
}
goro::local! {
    static OUTER: u32 = INNER.with(|i| *i + 1);
}
goro::local! {
    static INNER: u32 = 41;
}
goro::local! {
    static RC_LOCAL: Rc<Cell<u64>> = TL_RC.with(Rc::clone);
}

#[test]
fn local_panicking_init_reentrant_and_in_unwinding() {
    isolated("local_panicking_init_reentrant_and_in_unwinding", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let r = rt.run(|| {
            let p = catch_unwind(|| PANICKY.with(|v| *v));
            assert!(p.is_err());
            let p = catch_unwind(|| PANICKY.with(|v| *v));
            assert!(p.is_err());
            OUTER.with(|o| *o)
        });
        assert_eq!(r, 42);
        let (st_tx, st_rx) = mpsc::channel::<()>();
        for _ in 0..32 {
            let st_tx = st_tx.clone();
            rt.go(move || {
                struct D;
                impl Drop for D {
                    fn drop(&mut self) {
                        RC_LOCAL.with(|rc| rc.set(rc.get() + 1));
                        let _ = catch_unwind(|| PANICKY.with(|v| *v));
                    }
                }
                RC_LOCAL.with(|rc| rc.set(1));
                let _d = D;
                st_tx.send(()).unwrap();
                goro::sleep(Duration::from_secs(3600));
            });
        }
        for _ in 0..32 {
            st_rx.recv().unwrap();
        }
        within(Duration::from_secs(20), "dropping the runtime", move || {
            drop(rt)
        });
    });
}

// L. Runtime drop with nested scopes spread over workers, children parked
// for good, many times: the scope owner must never be unwound while a
// child still counts (that aborts).
#[test]
fn drop_with_nested_scopes_many_times() {
    isolated("drop_with_nested_scopes_many_times", || {
        for _ in 0..200 {
            let rt = Runtime::builder().workers(3).build().unwrap();
            let (never_tx, never_rx) = bounded::<()>(0);
            let (st_tx, st_rx) = mpsc::channel::<()>();
            for _ in 0..6 {
                let (never_rx, st_tx) = (never_rx.clone(), st_tx.clone());
                rt.go(move || {
                    let local = vec![1u8; 16];
                    goro::scope(|s| {
                        for _ in 0..4 {
                            let (never_rx, st_tx, local) =
                                (never_rx.clone(), st_tx.clone(), &local);
                            s.go(move || {
                                goro::scope(|s2| {
                                    s2.go(|| {
                                        st_tx.send(()).unwrap();
                                        let _ = never_rx.recv();
                                        local.len()
                                    });
                                    spin(Duration::from_micros(50));
                                });
                            });
                        }
                    });
                });
            }
            for _ in 0..24 {
                st_rx.recv_timeout(STRAND).unwrap();
            }
            within(Duration::from_secs(20), "dropping the runtime", move || {
                drop(rt)
            });
            drop(never_tx);
        }
    });
}

// M. Drop from a plain thread while another plain thread keeps sending, and
// goroutines wait in select with timeouts, on timers, on a join of a
// goroutine of another runtime.
#[test]
fn drop_while_a_thread_sends_and_all_kinds_of_waits() {
    isolated("drop_while_a_thread_sends_and_all_kinds_of_waits", || {
        let other = Runtime::builder().workers(1).build().unwrap();
        for _ in 0..20 {
            let rt = Runtime::builder().workers(3).build().unwrap();
            let (tx, rx) = bounded::<u64>(1);
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s2 = stop.clone();
            let sender = thread::spawn(move || {
                let mut i = 0;
                while !s2.load(Ordering::Relaxed) {
                    let _ = tx.send_timeout(i, Duration::from_millis(5));
                    i += 1;
                }
            });
            let bad = Arc::new(AtomicUsize::new(0));
            for g in 0..24 {
                let (rx, bad) = (rx.clone(), bad.clone());
                let remote = other.go(|| goro::sleep(Duration::from_secs(3600)));
                rt.go(move || {
                    let me = thread::current().id();
                    let rc = TL_RC.with(Rc::clone);
                    let check = |bad: &AtomicUsize| {
                        if thread::current().id() != me {
                            bad.fetch_add(1, Ordering::SeqCst);
                        }
                    };
                    if g == 0 {
                        let _ = remote.join();
                    }
                    loop {
                        let (_t, never) = bounded::<()>(0);
                        select! {
                            recv(rx) -> _v => {},
                            recv(never) -> _ => {},
                            default(Duration::from_micros(300)) => {},
                        }
                        check(&bad);
                        rc.set(rc.get() + 1);
                        let (ctx, _cancel) = Context::with_timeout(
                            &Context::background(),
                            Duration::from_micros(200),
                        );
                        let _ = ctx.done().recv();
                        check(&bad);
                        goro::sleep(Duration::from_micros(100));
                        check(&bad);
                    }
                });
            }
            thread::sleep(Duration::from_millis(50));
            within(Duration::from_secs(20), "dropping the runtime", move || {
                drop(rt)
            });
            stop.store(true, Ordering::Relaxed);
            sender.join().unwrap();
            if bad.load(Ordering::SeqCst) != 0 {
                fail("a goroutine changed thread");
            }
        }
        drop(other);
    });
}

// N. A started goroutine unwound at shutdown whose destructor parks (joins
// a goroutine parked elsewhere, sends on a full channel, sleeps): it waits
// as it would at any other time, and the unwind goes on after it.
#[test]
fn destructor_parks_during_shutdown_unwind() {
    isolated("destructor_parks_during_shutdown_unwind", || {
        for round in 0..40 {
            // The migrating mode's dropping thread unwinds them instead.
            let rt = builder(round % 2 == 1).workers(3).build().unwrap();
            let (st_tx, st_rx) = mpsc::channel::<()>();
            let (full_tx, _full_rx) = bounded::<u8>(0);
            // Destructors that got past their wait.
            let finished = Arc::new(AtomicUsize::new(0));
            for i in 0..12 {
                let finished = finished.clone();
                let st_tx = st_tx.clone();
                let full_tx = full_tx.clone();
                let sleeper = rt.go(|| goro::sleep(Duration::from_secs(3600)));
                rt.go(move || {
                    struct D(
                        Option<goro::JoinHandle<()>>,
                        goro::chan::Sender<u8>,
                        usize,
                        Arc<AtomicUsize>,
                    );
                    impl Drop for D {
                        fn drop(&mut self) {
                            let m = std::env::var("BRK_MODE")
                                .ok()
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(self.2 % 3);
                            match m {
                                0 => {
                                    let _ = self.0.take().unwrap().join();
                                }
                                1 => {
                                    let _ = self.1.send_timeout(1, Duration::from_millis(5));
                                }
                                _ => goro::sleep(Duration::from_millis(2)),
                            }
                            self.3.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _d = D(Some(sleeper), full_tx, i, finished);
                    st_tx.send(()).unwrap();
                    goro::sleep(Duration::from_secs(3600));
                });
            }
            for _ in 0..12 {
                st_rx.recv_timeout(STRAND).unwrap();
            }
            within(Duration::from_secs(20), "dropping the runtime", move || {
                drop(rt)
            });
            let finished = finished.load(Ordering::SeqCst);
            if finished != 12 {
                fail(&format!(
                    "{finished} of 12 destructors finished (round {round})"
                ));
            }
        }
    });
}

// O. Blocking calls submitted together while one pool thread is idle: each
// submit sees `idle > 0` and only notifies, so they run one after another.
#[test]
fn blocking_calls_run_in_parallel_after_warmup() {
    isolated("blocking_calls_run_in_parallel_after_warmup", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        let took = rt.run(|| {
            goro::blocking(|| ()); // one pool thread, now idle
            goro::sleep(Duration::from_millis(20));
            let wg = Arc::new(WaitGroup::new());
            wg.add(40);
            let start = Instant::now();
            for _ in 0..40 {
                let wg = wg.clone();
                goro::go(move || {
                    goro::blocking(|| thread::sleep(Duration::from_millis(100)));
                    wg.done();
                });
            }
            wg.wait();
            start.elapsed()
        });
        if took > Duration::from_millis(1500) {
            fail(&format!(
                "40 concurrent 100 ms blocking calls took {took:?}: serialised on the pool"
            ));
        }
    });
}

// O2. Consequence: two blocking calls that need each other (a std rendezvous
// channel) deadlock when both are queued behind the one idle pool thread.
#[test]
fn blocking_calls_that_need_each_other() {
    isolated("blocking_calls_that_need_each_other", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        // Load on both cores (as when other tests or a benchmark run): the
        // idle pool thread is slow to wake.
        for _ in 0..2 {
            thread::spawn(|| {
                loop {
                    std::hint::spin_loop();
                }
            });
        }
        for round in 0..50 {
            let r = within(
                Duration::from_secs(5),
                &format!("round {round}: a rendezvous between two blocking calls"),
                {
                    let h = rt.go(|| {
                        goro::blocking(|| ()); // a pool thread, now idle
                        goro::sleep(Duration::from_millis(15)); // > KEEP_ALIVE? no: 10 s; it stays idle
                        let (tx, rx) = std::sync::mpsc::sync_channel::<u32>(0);
                        let a = goro::go(move || goro::blocking(move || rx.recv().unwrap()));
                        let b = goro::go(move || goro::blocking(move || tx.send(5).unwrap()));
                        b.join().unwrap();
                        a.join().unwrap()
                    });
                    move || h.join().unwrap()
                },
            );
            assert_eq!(r, 5);
        }
    });
}
