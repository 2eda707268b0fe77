//! Regression tests for issue 16, DESIGN.md §3 "Soundness": safe code must
//! not cause undefined behaviour, and the hazard of stackful goroutines is
//! thread-bound state (a thread-local borrow, an `Rc` cloned out of one,
//! std's reentrant `stdout().lock()`) held across a park point. In the
//! default mode a goroutine that has started never changes OS thread, so
//! such state stays on its thread; these tests hold it across every kind
//! of park point and check that it does.
//!
//! Each case runs in a child process of its own (the old behaviour crashed
//! in several: heap corruption, segfaults): the test re-runs this binary
//! with `SOUNDNESS_CHILD` naming the case and `--exact <case>`, and checks
//! that the child ran its one test and exited successfully. A child that
//! hangs is killed after a generous bound (never a timing claim).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use goro::Runtime;
use goro::chan::{Select, bounded, never, unbounded};
use goro::context::Context;
use goro::fiber::Coroutine;
use goro::select;
use goro::sync::{Barrier, Condvar, Mutex, RwLock, Semaphore, WaitGroup};

mod common;
use common::{STRAND, fail, isolated, spin};

/// A panic's message, if it is a string.
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string payload".to_string()
    }
}

// ---------------------------------------------------------------------------
// 1. An `Rc` cloned out of a thread-local, held across a yield.

const MAGIC: u64 = 0x5eed_0f90_0d5e_ed00;

thread_local! {
    static SHARED: Rc<u64> = Rc::new(MAGIC);
}

/// `Rc`'s count is not atomic: on two threads at once it corrupts, and the
/// value is freed while in use. Pinned goroutines keep each clone on the
/// thread of the thread-local it came from.
#[test]
fn rc_from_a_thread_local_across_yield() {
    isolated("rc_from_a_thread_local_across_yield", || {
        // The issue asks for 100 runs; debug does fewer to stay in bounds.
        let runs = if cfg!(debug_assertions) { 20 } else { 100 };
        let iterations = 20_000;
        const GOROUTINES: usize = 64;
        for _ in 0..runs {
            let rt = Runtime::builder().workers(2).build().unwrap();
            let handles: Vec<_> = (0..GOROUTINES)
                .map(|_| {
                    rt.go(move || {
                        for _ in 0..iterations {
                            let before = thread::current().id();
                            let rc = SHARED.with(Rc::clone);
                            goro::yield_now();
                            assert_eq!(thread::current().id(), before, "moved across a yield");
                            assert_eq!(*rc, MAGIC, "the Rc's value changed under it");
                            drop(rc);
                        }
                        // Only this thread's goroutines hold clones now.
                        let count = SHARED.with(Rc::strong_count);
                        assert!(
                            (1..=GOROUTINES).contains(&count),
                            "the thread-local Rc's count is corrupt: {count}"
                        );
                    })
                })
                .collect();
            for h in handles {
                if let Err(e) = h.join() {
                    panic!("{e}");
                }
            }
            drop(rt);
        }
    });
}

// ---------------------------------------------------------------------------
// 2. std's reentrant `stdout().lock()` held across a channel receive.

/// The threads that hold the stdout lock now, with how many goroutines on
/// each. Std's lock is reentrant per thread: two goroutines of one thread
/// may both hold it (re-entrancy, as in single-threaded code); two threads
/// never may.
#[derive(Default)]
struct Owners(
    std::sync::Mutex<HashMap<ThreadId, usize>>,
    /// The most goroutines of one thread that held it at once.
    AtomicUsize,
);

impl Owners {
    fn enter(&self) {
        let mut owners = self.0.lock().unwrap();
        let count = owners.entry(thread::current().id()).or_default();
        *count += 1;
        self.1.fetch_max(*count, Ordering::Relaxed);
        assert_eq!(
            owners.len(),
            1,
            "two threads hold the stdout lock at once: {owners:?}"
        );
    }

    fn leave(&self) {
        let mut owners = self.0.lock().unwrap();
        let me = thread::current().id();
        let Some(count) = owners.get_mut(&me) else {
            panic!("left the stdout lock on another thread: {owners:?}");
        };
        *count -= 1;
        if *count == 0 {
            owners.remove(&me);
        }
    }
}

/// A goroutine holding `stdout().lock()` across a park must not let
/// another thread in (`RefCell already borrowed`, a data race on the
/// buffer), while other goroutines `println!`.
#[test]
fn stdout_lock_across_a_channel_receive() {
    isolated("stdout_lock_across_a_channel_receive", || {
        let rounds = if cfg!(debug_assertions) { 400 } else { 2_000 };
        const HOLDERS: usize = 16;
        const HOLDS: usize = 8;
        const PRINTERS: usize = 8;
        const PRINTS: usize = 32;
        let rt = Runtime::builder().workers(2).build().unwrap();
        let owners = Arc::new(Owners::default());
        for round in 0..rounds {
            // A holder asks a plain thread for its reply once it holds the
            // lock, and parks on it: the thread never blocks on a holder,
            // so a holder always gets its reply.
            let (ready_tx, ready_rx) = mpsc::channel::<usize>();
            let (reply_txs, reply_rxs): (Vec<_>, Vec<_>) =
                (0..HOLDERS).map(|_| unbounded::<()>()).unzip();
            let feeder = thread::spawn(move || {
                for _ in 0..HOLDERS * HOLDS {
                    let holder = ready_rx.recv().unwrap();
                    reply_txs[holder].send(()).unwrap();
                }
            });
            let mut handles = Vec::new();
            for (holder, reply) in reply_rxs.into_iter().enumerate() {
                let (ready, owners) = (ready_tx.clone(), owners.clone());
                handles.push(rt.go(move || {
                    for hold in 0..HOLDS {
                        let mut out = std::io::stdout().lock();
                        owners.enter();
                        let before = thread::current().id();
                        writeln!(out, "round {round} holder {holder} hold {hold}: locked").unwrap();
                        ready.send(holder).unwrap();
                        reply.recv().unwrap();
                        assert_eq!(thread::current().id(), before, "moved holding stdout");
                        writeln!(out, "round {round} holder {holder} hold {hold}: unlocking")
                            .unwrap();
                        owners.leave();
                        drop(out);
                        goro::yield_now();
                    }
                }));
            }
            for printer in 0..PRINTERS {
                handles.push(rt.go(move || {
                    for line in 0..PRINTS {
                        println!("round {round} printer {printer} line {line}");
                        goro::yield_now();
                    }
                }));
            }
            for h in handles {
                if let Err(e) = h.join() {
                    panic!("{e}");
                }
            }
            feeder.join().unwrap();
        }
        drop(rt);
        eprintln!(
            "up to {} goroutines of one thread held the stdout lock at once",
            owners.1.load(Ordering::Relaxed)
        );
    });
}

// ---------------------------------------------------------------------------
// 3. A thread-local `RefCell` borrowed mutably across parks.

/// A thread's vector; its destructor (at the thread's exit) adds what it
/// holds to the totals.
struct Tracked(RefCell<Vec<u64>>);

static TRACKED_SUM: AtomicU64 = AtomicU64::new(0);
static TRACKED_LEN: AtomicUsize = AtomicUsize::new(0);

impl Drop for Tracked {
    fn drop(&mut self) {
        let v = self.0.borrow();
        TRACKED_SUM.fetch_add(v.iter().sum::<u64>(), Ordering::SeqCst);
        TRACKED_LEN.fetch_add(v.len(), Ordering::SeqCst);
    }
}

thread_local! {
    static TRACKED: Tracked = const { Tracked(RefCell::new(Vec::new())) };
}

/// Goroutines borrow their thread's `RefCell<Vec>` mutably across a sleep
/// or a channel round trip. Another goroutine of the same thread finds it
/// borrowed (re-entrancy: it retries later); no other thread ever touches
/// it, so no push is lost and the vectors add up.
#[test]
fn thread_local_refcell_borrowed_across_park() {
    isolated("thread_local_refcell_borrowed_across_park", || {
        // A hold lasts about a timer tick, while the others retry: the
        // same size in release (more would only spin longer).
        let (goroutines, iterations) = (256u64, 100u64);
        let rt = Runtime::builder().workers(3).build().unwrap();
        // Echoes values back: a channel round trip that parks the holder.
        let (echo_tx, echo_rx) = bounded::<(u64, goro::chan::Sender<u64>)>(0);
        let echo = rt.go(move || {
            for (v, reply) in &echo_rx {
                reply.send(v).unwrap();
            }
        });
        let busy = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..goroutines)
            .map(|g| {
                let (echo_tx, busy) = (echo_tx.clone(), busy.clone());
                rt.go(move || {
                    let (reply_tx, reply_rx) = bounded::<u64>(0);
                    for i in 0..iterations {
                        let (a, b) = (g * 1_000_000 + i * 2 + 1, g * 1_000_000 + i * 2 + 2);
                        loop {
                            let done = TRACKED.with(|t| {
                                let Ok(mut v) = t.0.try_borrow_mut() else {
                                    return false;
                                };
                                let before = thread::current().id();
                                let len = v.len();
                                v.push(a);
                                if i.is_multiple_of(2) {
                                    goro::sleep(Duration::from_micros(50));
                                } else {
                                    echo_tx.send((b, reply_tx.clone())).unwrap();
                                    assert_eq!(reply_rx.recv(), Ok(b));
                                }
                                v.push(b);
                                assert_eq!(
                                    thread::current().id(),
                                    before,
                                    "moved holding a borrow"
                                );
                                assert_eq!(v.len(), len + 2, "another thread pushed meanwhile");
                                assert_eq!(v[len..], [a, b]);
                                true
                            });
                            if done {
                                break;
                            }
                            busy.fetch_add(1, Ordering::Relaxed);
                            goro::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(echo_tx);
        for h in handles {
            if let Err(e) = h.join() {
                panic!("{e}");
            }
        }
        echo.join().unwrap();
        // The workers exit, and their thread-locals report.
        drop(rt);
        let n = goroutines * iterations;
        // Sum over g and i of (g * 2e6 + 4i + 3).
        let expected = 2_000_000 * iterations * (goroutines * (goroutines - 1) / 2)
            + goroutines * (4 * (iterations * (iterations - 1) / 2) + 3 * iterations);
        assert_eq!(TRACKED_LEN.load(Ordering::SeqCst) as u64, 2 * n);
        assert_eq!(TRACKED_SUM.load(Ordering::SeqCst), expected);
        eprintln!(
            "found the cell borrowed by another goroutine of its thread {} times",
            busy.load(Ordering::Relaxed)
        );
    });
}

// ---------------------------------------------------------------------------
// 4. A goroutine's thread across every kind of park point.

/// What four goroutines share to park each other in every way.
struct Group {
    /// Member `m`'s inbox (unbuffered).
    inbox: Vec<(goro::chan::Sender<u64>, goro::chan::Receiver<u64>)>,
    mutex: Mutex<u64>,
    rwlock: RwLock<u64>,
    turn: Mutex<usize>,
    condvar: Condvar,
    semaphore: Semaphore,
    barrier: Barrier,
}

const GROUP: usize = 4;

impl Group {
    fn new() -> Group {
        Group {
            inbox: (0..GROUP).map(|_| bounded(0)).collect(),
            mutex: Mutex::new(0),
            rwlock: RwLock::new(0),
            turn: Mutex::new(0),
            condvar: Condvar::new(),
            semaphore: Semaphore::new(1),
            barrier: Barrier::new(GROUP),
        }
    }
}

/// One member's rounds: each park point, with its thread checked after it.
fn member(group: &Group, m: usize, rounds: usize) -> usize {
    let home = thread::current().id();
    let mut checks = 0;
    let mut check = |what: &str| {
        checks += 1;
        assert_eq!(
            thread::current().id(),
            home,
            "moved to another thread across {what}"
        );
    };
    let partner = m ^ 1;
    let (to_partner, mine) = (&group.inbox[partner].0, &group.inbox[m].1);
    for round in 0..rounds {
        let v = round as u64;
        // Unbuffered channels: the even member sends first.
        if m.is_multiple_of(2) {
            to_partner.send(v).unwrap();
            check("a channel send");
            assert_eq!(mine.recv(), Ok(v));
            check("a channel receive");
        } else {
            assert_eq!(mine.recv(), Ok(v));
            check("a channel receive");
            to_partner.send(v).unwrap();
            check("a channel send");
        }
        // select!, with an arm that never fires.
        let nil = never::<()>();
        for turn in 0..2 {
            if (m + turn).is_multiple_of(2) {
                select! {
                    send(to_partner, v) -> r => r.unwrap(),
                    recv(nil) -> _ => unreachable!(),
                }
                check("select! (send)");
            } else {
                select! {
                    recv(mine) -> got => assert_eq!(got, Ok(v)),
                    recv(nil) -> _ => unreachable!(),
                }
                check("select! (receive)");
            }
        }
        // The dynamic Select.
        for turn in 0..2 {
            if (m + turn).is_multiple_of(2) {
                let mut sel = Select::new();
                sel.send(to_partner);
                sel.recv(&nil);
                let op = sel.select();
                check("Select::select (send)");
                op.send(to_partner, v).unwrap();
            } else {
                let mut sel = Select::new();
                sel.recv(mine);
                sel.recv(&nil);
                let op = sel.select();
                check("Select::select (receive)");
                assert_eq!(op.recv(mine), Ok(v));
            }
            check("a selected operation");
        }
        // Locks held across a yield, so that the others park on them.
        let mut guard = group.mutex.lock();
        check("Mutex::lock");
        *guard += 1;
        goro::yield_now();
        check("yield_now holding a Mutex");
        drop(guard);
        if m.is_multiple_of(2) {
            let mut guard = group.rwlock.write();
            check("RwLock::write");
            *guard += 1;
            goro::yield_now();
            drop(guard);
        } else {
            let guard = group.rwlock.read();
            check("RwLock::read");
            goro::yield_now();
            drop(guard);
        }
        check("yield_now holding an RwLock");
        // Condvar: the members take turns, so all but one wait.
        let mut turn = group.turn.lock();
        while *turn % GROUP != m {
            turn = group.condvar.wait(turn);
            check("Condvar::wait");
        }
        *turn += 1;
        group.condvar.notify_all();
        drop(turn);
        let permit = group.semaphore.acquire();
        check("Semaphore::acquire");
        goro::yield_now();
        drop(permit);
        group.barrier.wait();
        check("Barrier::wait");
        // A goroutine of its own to wait for, twice.
        let wg = WaitGroup::new();
        wg.go(goro::yield_now);
        wg.wait();
        check("WaitGroup::wait");
        let child = goro::go(|| {
            let home = thread::current().id();
            goro::yield_now();
            thread::current().id() == home
        });
        assert!(
            child.join().unwrap(),
            "a joined goroutine moved across a yield"
        );
        check("JoinHandle::join");
        goro::yield_now();
        check("yield_now");
        // Timers: sleep, a context's deadline, a time channel.
        goro::sleep(Duration::from_micros(20));
        check("sleep");
        let (ctx, _cancel) =
            Context::with_timeout(&Context::background(), Duration::from_micros(20));
        let _ = ctx.done().recv();
        check("a context's done channel");
        assert!(ctx.is_done());
        goro::time::after(Duration::from_micros(20)).recv().unwrap();
        check("time::after");
        let ran_on = goro::blocking(|| thread::current().id());
        check("blocking");
        assert_ne!(ran_on, home, "blocking ran its call on the worker");
        group.barrier.wait();
        check("Barrier::wait");
    }
    checks
}

/// Every goroutine is on the thread it started on after every kind of
/// park point: channels, `select!`, `Select`, each lock, condvar, wait
/// group, semaphore, barrier, sleep, yield, join, context, time channel,
/// `blocking`.
#[test]
fn thread_identity_across_every_park() {
    isolated("thread_identity_across_every_park", || {
        let (goroutines, rounds) = if cfg!(debug_assertions) {
            (2_000, 100)
        } else {
            (10_000, 100)
        };
        let rt = Runtime::builder().workers(4).build().unwrap();
        // Each reports through `results`, so that the first failure ends
        // the test at once (its group's others would wait for it forever).
        let (results_tx, results) = mpsc::channel::<Result<usize, String>>();
        for _ in 0..goroutines / GROUP {
            let group = Arc::new(Group::new());
            for m in 0..GROUP {
                let (group, results_tx) = (group.clone(), results_tx.clone());
                rt.go(move || {
                    let result = catch_unwind(AssertUnwindSafe(|| member(&group, m, rounds)));
                    results_tx.send(result.map_err(|p| message(&*p))).unwrap();
                });
            }
        }
        let mut checks = 0;
        for _ in 0..goroutines {
            match results.recv_timeout(STRAND) {
                Ok(Ok(n)) => checks += n,
                Ok(Err(e)) => fail(&e),
                Err(_) => fail(&format!("no goroutine finished for {STRAND:?}")),
            }
        }
        drop(rt);
        eprintln!("{checks} checks of {goroutines} goroutines");
    });
}

// ---------------------------------------------------------------------------
// 5. Fresh goroutines still spread.

/// Pinning holds for started goroutines only: fresh ones spawned from one
/// goroutine are stolen by every worker.
#[test]
fn fresh_goroutines_spread_over_every_worker() {
    isolated("fresh_goroutines_spread_over_every_worker", || {
        for workers in [2, 4] {
            let name = format!("spread{workers}");
            let rt = Runtime::builder()
                .workers(workers)
                .name(name.clone())
                .build()
                .unwrap();
            let ran_on = rt.run(|| {
                let handles: Vec<_> = (0..10_000)
                    .map(|_| {
                        goro::go(|| {
                            spin(Duration::from_micros(20));
                            thread::current().name().map(String::from)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<HashSet<_>>()
            });
            drop(rt);
            for i in 0..workers {
                let worker = format!("{name}-{i}");
                assert!(
                    ran_on.contains(&Some(worker.clone())),
                    "{worker} ran none of 10,000 goroutines; they ran on {ran_on:?}"
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------
// 6. `goro::local!` from a coroutine nested in a goroutine.

goro::local! {
    static LOCAL: Cell<u32> = Cell::new(7);
}

/// A `Coroutine` resumed by a goroutine could outlive it with a borrow of
/// its `local!` value held across a suspend (this segfaulted): `with`
/// from such a coroutine panics, naming `goro::local!`.
#[test]
fn local_borrow_cannot_escape_through_a_coroutine() {
    isolated("local_borrow_cannot_escape_through_a_coroutine", || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        // Caught in the goroutine: the panic resurfaces from `resume`.
        let caught = rt.run(|| {
            assert_eq!(
                LOCAL.with(Cell::get),
                7,
                "the goroutine's own code may use it"
            );
            let mut co = Coroutine::<(), (), u32>::new(|_, ()| LOCAL.with(Cell::get));
            let caught = catch_unwind(AssertUnwindSafe(|| co.resume(())));
            assert!(co.is_finished());
            LOCAL.with(|l| l.set(8));
            assert_eq!(LOCAL.with(Cell::get), 8, "still usable after");
            caught.map(|_| ()).map_err(|p| message(&*p))
        });
        let msg = caught.expect_err("local! used from a nested coroutine did not panic");
        assert!(msg.contains("goro::local!"), "{msg}");
        // Uncaught: the goroutine fails with it.
        let h = rt.go(|| {
            let mut co = Coroutine::<(), (), ()>::new(|yielder, ()| {
                LOCAL.with(|_borrowed| yielder.suspend(()));
            });
            co.resume(());
            co.resume(());
        });
        let err = h
            .join()
            .expect_err("local! used from a nested coroutine did not panic");
        assert!(err.is_panic());
        assert!(err.to_string().contains("goro::local!"), "{err}");
        // The runtime goes on.
        assert_eq!(rt.run(|| LOCAL.with(Cell::get)), 7);
        drop(rt);
    });
}

// ---------------------------------------------------------------------------
// 7. Runtime drop with scoped goroutines borrowing their parent's stack.

/// A scoped goroutine's guard that writes through its borrow when dropped:
/// after its `scope`'s owner has been unwound, that is a use after free.
struct ScopedGuard<'a>(&'a mut Vec<u64>, Arc<AtomicUsize>);

impl Drop for ScopedGuard<'_> {
    fn drop(&mut self) {
        assert_eq!(*self.0, [7u64; 16], "the borrowed vector changed");
        for i in 0..64 {
            self.0.push(i);
        }
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// Makes a runtime builder.
type Builder = fn() -> goro::RuntimeBuilder;

/// Dropping a runtime unwinds a `scope`'s goroutines before its owner, so
/// their borrows of the owner's stack stay valid.
#[test]
fn runtime_drop_with_scoped_borrows() {
    isolated("runtime_drop_with_scoped_borrows", || {
        let modes: [(&str, Builder); 3] = [
            ("1 worker", || Runtime::builder().workers(1)),
            ("2 workers", || Runtime::builder().workers(2)),
            ("migrating, 2 workers", || {
                // SAFETY: these goroutines hold nothing tied to a thread
                // across a park point: only a borrow of a parent's vector.
                unsafe { Runtime::builder().migrating() }.workers(2)
            }),
        ];
        for (mode, builder) in modes {
            for _ in 0..20 {
                let rt = builder().build().unwrap();
                let dropped = Arc::new(AtomicUsize::new(0));
                let (started_tx, started) = mpsc::channel::<()>();
                for k in 0..4u32 {
                    let (dropped, started_tx) = (dropped.clone(), started_tx.clone());
                    rt.go(move || {
                        let mut v = vec![7u64; 16];
                        goro::scope(|s| {
                            let v = &mut v;
                            s.go(move || {
                                let _g = ScopedGuard(v, dropped);
                                started_tx.send(()).unwrap();
                                goro::sleep(Duration::from_secs(3600));
                            });
                            // Half park in their scope's body, half in its
                            // wait for the scoped goroutine.
                            if k.is_multiple_of(2) {
                                goro::sleep(Duration::from_secs(3600));
                            }
                        });
                    });
                }
                for _ in 0..4 {
                    if started.recv_timeout(STRAND).is_err() {
                        fail(&format!("{mode}: a scoped goroutine did not start"));
                    }
                }
                drop(rt);
                assert_eq!(
                    dropped.load(Ordering::SeqCst),
                    4,
                    "{mode}: a scoped goroutine was not unwound"
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------
// 8. A panic payload whose own drop panics.

/// A panic payload that panics when dropped.
struct PanickyPayload;

static PAYLOAD_DROPS: AtomicUsize = AtomicUsize::new(0);

impl Drop for PanickyPayload {
    fn drop(&mut self) {
        PAYLOAD_DROPS.fetch_add(1, Ordering::SeqCst);
        panic!("payload drop");
    }
}

/// A detached goroutine's result is dropped by its worker; a panic there
/// must not kill the worker: later goroutines run, and the runtime drops.
#[test]
fn panicking_payload_drop_does_not_kill_the_worker() {
    isolated("panicking_payload_drop_does_not_kill_the_worker", || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        const N: usize = 5;
        for round in 1..=3 {
            // Spawned and detached from a goroutine of the one worker, so
            // that each finishes after its handle is gone: its worker drops
            // the result.
            rt.run(|| {
                for _ in 0..N {
                    drop(goro::go(|| {
                        std::panic::panic_any(PanickyPayload);
                    }));
                }
            });
            let deadline = Instant::now() + STRAND;
            while PAYLOAD_DROPS.load(Ordering::SeqCst) < round * N {
                if Instant::now() > deadline {
                    fail(&format!(
                        "only {} of {} payloads dropped",
                        PAYLOAD_DROPS.load(Ordering::SeqCst),
                        round * N
                    ));
                }
                thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(rt.run(|| 42), 42);
            let sum: u64 = (0..10u64)
                .map(|i| rt.go(move || i))
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum();
            assert_eq!(sum, 45);
        }
        drop(rt);
    });
}

// ---------------------------------------------------------------------------
// 9. Runtime drop unwinds goroutines on their own threads.

/// A thread's counter; its destructor (at the thread's exit) adds it to
/// `COUNTED`.
struct Counter(Cell<usize>);

static COUNTED: AtomicUsize = AtomicUsize::new(0);

impl Drop for Counter {
    fn drop(&mut self) {
        COUNTED.fetch_add(self.0.get(), Ordering::SeqCst);
    }
}

thread_local! {
    static COUNTER: Counter = const { Counter(Cell::new(0)) };
}

/// Records where it is dropped, and counts on the thread-local it borrows.
struct Unwound<'a> {
    counter: &'a Counter,
    started_on: ThreadId,
    log: Arc<std::sync::Mutex<Vec<(ThreadId, ThreadId)>>>,
}

impl Drop for Unwound<'_> {
    fn drop(&mut self) {
        self.counter.0.set(self.counter.0.get() + 1);
        self.log
            .lock()
            .unwrap()
            .push((self.started_on, thread::current().id()));
    }
}

/// Goroutines parked for good inside `COUNTER.with`, holding a guard that
/// uses the borrow when dropped: dropping the runtime unwinds each on its
/// own thread, while the thread-local is alive, and every count reaches
/// the thread-locals' destructors.
#[test]
fn runtime_drop_unwinds_goroutines_on_their_own_threads() {
    isolated(
        "runtime_drop_unwinds_goroutines_on_their_own_threads",
        || {
            const GOROUTINES: usize = 64;
            for run in 1..=20 {
                let rt = Runtime::builder().workers(4).build().unwrap();
                let log = Arc::new(std::sync::Mutex::new(Vec::new()));
                let (never_tx, never_rx) = bounded::<()>(0);
                let (started_tx, started) = mpsc::channel::<()>();
                for _ in 0..GOROUTINES {
                    let (log, never_rx, started_tx) =
                        (log.clone(), never_rx.clone(), started_tx.clone());
                    rt.go(move || {
                        let started_on = thread::current().id();
                        goro::yield_now();
                        COUNTER.with(|counter| {
                            let _guard = Unwound {
                                counter,
                                started_on,
                                log,
                            };
                            started_tx.send(()).unwrap();
                            // Never: `never_tx` outlives the runtime.
                            while never_rx.recv().is_ok() {}
                        })
                    });
                }
                for _ in 0..GOROUTINES {
                    if started.recv_timeout(STRAND).is_err() {
                        fail("a goroutine did not start");
                    }
                }
                drop(rt);
                drop(never_tx);
                let log = log.lock().unwrap();
                assert_eq!(log.len(), GOROUTINES, "a goroutine was not unwound");
                for (started_on, dropped_on) in log.iter() {
                    assert_eq!(
                        started_on, dropped_on,
                        "a goroutine was unwound on another thread than its own"
                    );
                }
                assert_eq!(
                    COUNTED.load(Ordering::SeqCst),
                    run * GOROUTINES,
                    "a guard's count missed its thread's thread-local"
                );
            }
        },
    );
}

// ---------------------------------------------------------------------------
// 10. No goroutine stranded behind a blocked thread.

/// `n` goroutines each wait on a std channel (`in_blocking`: inside
/// `goro::blocking`; else blocking their thread), then send what they get
/// through a hub goroutine to a writer goroutine. A plain thread feeds
/// each once all have started; the writer must get all `n`.
fn relay(rt: &Runtime, n: usize, in_blocking: bool) -> Result<(), String> {
    let started = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(AtomicUsize::new(0));
    let (to_hub, hub_rx) = bounded::<usize>(0);
    let (to_writer, writer_rx) = bounded::<usize>(0);
    let (done_tx, done) = mpsc::channel::<usize>();
    let w = written.clone();
    rt.go(move || {
        let mut seen = HashSet::new();
        for v in &writer_rx {
            assert!(seen.insert(v), "{v} delivered twice");
            if w.fetch_add(1, Ordering::SeqCst) + 1 == n {
                done_tx.send(n).unwrap();
            }
        }
    });
    rt.go(move || {
        for v in &hub_rx {
            to_writer.send(v).unwrap();
        }
    });
    let mut feeds = Vec::new();
    for _ in 0..n {
        let (feed, rx) = mpsc::channel::<usize>();
        feeds.push(feed);
        let (to_hub, started) = (to_hub.clone(), started.clone());
        rt.go(move || {
            started.fetch_add(1, Ordering::SeqCst);
            let mut rx = rx;
            loop {
                let got = if in_blocking {
                    let (back, got) = goro::blocking(move || {
                        let got = rx.recv();
                        (rx, got)
                    });
                    rx = back;
                    got
                } else {
                    rx.recv()
                };
                match got {
                    Ok(v) => to_hub.send(v).unwrap(),
                    Err(_) => break,
                }
            }
        });
    }
    drop(to_hub);
    let deadline = Instant::now() + STRAND;
    while started.load(Ordering::SeqCst) < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {n} goroutines started within {STRAND:?}\n{:?}\n{}",
                started.load(Ordering::SeqCst),
                rt.stats(),
                rt.dump()
            ));
        }
        thread::sleep(Duration::from_millis(1));
    }
    let feeder = thread::spawn(move || {
        for (i, feed) in feeds.into_iter().enumerate() {
            feed.send(i).unwrap();
        }
    });
    if done.recv_timeout(STRAND).is_err() {
        return Err(format!(
            "the writer got {} of {n} messages within {STRAND:?}\n{:?}\n{}",
            written.load(Ordering::SeqCst),
            rt.stats(),
            rt.dump()
        ));
    }
    feeder.join().unwrap();
    // Their channels closed, every goroutine ends (the runtime is dropped
    // only then: dropping it meanwhile is `runtime_drop_during_blocking`).
    let deadline = Instant::now() + STRAND;
    while rt.stats().goroutines > 0 {
        if Instant::now() > deadline {
            return Err(format!(
                "{} goroutines still alive {STRAND:?} after their channels closed\n{:?}\n{}",
                rt.stats().goroutines,
                rt.stats(),
                rt.dump()
            ));
        }
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Goroutines whose threads block (in `goro::blocking`, or, in the
/// migrating mode, in an unannotated std receive) strand none of the
/// others: every message gets through the hub to the writer.
#[test]
fn no_goroutine_stranded_behind_a_blocked_spare() {
    isolated("no_goroutine_stranded_behind_a_blocked_spare", || {
        for n in [150, 200] {
            let rt = Runtime::builder()
                .workers(2)
                .max_blocking_threads(10_000)
                .build()
                .unwrap();
            if let Err(e) = relay(&rt, n, true) {
                fail(&format!("default mode, goro::blocking, n = {n}: {e}"));
            }
            drop(rt);
        }
        // SAFETY: these goroutines hold nothing tied to a thread across a
        // park point: a std receiver and goro channel ends.
        let builder = unsafe { Runtime::builder().migrating() };
        let rt = builder
            .workers(2)
            .max_blocking_threads(10_000)
            .build()
            .unwrap();
        if let Err(e) = relay(&rt, 150, false) {
            fail(&format!("migrating mode, blocking std recv, n = 150: {e}"));
        }
        drop(rt);
    });
}

// ---------------------------------------------------------------------------
// 11. Runtime drop while goroutines are in `goro::blocking`.

/// Dropping a runtime while its goroutines come and go through
/// `goro::blocking` (default mode: the calls run on the blocking pool and
/// borrow the goroutines' stacks) waits for the calls, then unwinds the
/// goroutines: it returns.
#[test]
fn runtime_drop_during_blocking() {
    isolated("runtime_drop_during_blocking", || {
        const GOROUTINES: usize = 64;
        for run in 0..20 {
            let rt = Runtime::builder().workers(2).build().unwrap();
            let (started_tx, started) = mpsc::channel::<()>();
            for g in 0..GOROUTINES {
                let started_tx = started_tx.clone();
                rt.go(move || {
                    started_tx.send(()).unwrap();
                    // Some end by themselves while the runtime drops.
                    let calls = if g.is_multiple_of(2) {
                        usize::MAX
                    } else {
                        20 + run
                    };
                    for _ in 0..calls {
                        goro::blocking(|| thread::sleep(Duration::from_micros(100)));
                    }
                });
            }
            for _ in 0..GOROUTINES {
                if started.recv_timeout(STRAND).is_err() {
                    fail("a goroutine did not start");
                }
            }
            let (dropped_tx, dropped) = mpsc::channel::<()>();
            let dropper = thread::spawn(move || {
                drop(rt);
                dropped_tx.send(()).unwrap();
            });
            if dropped.recv_timeout(STRAND).is_err() {
                fail(&format!(
                    "run {run}: dropping the runtime hung for {STRAND:?}"
                ));
            }
            dropper.join().unwrap();
        }
    });
}
