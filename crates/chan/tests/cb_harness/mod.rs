//! What the ports of crossbeam-channel's tests (`cb_*.rs`) add to
//! `go_harness`: crossbeam-utils' scoped threads, in the run's mode.
//!
//! crossbeam's tests spawn with `scope(|scope| { scope.spawn(|_| ..); })`,
//! borrowing the channels from the test's stack. Here
//! `scope(g, |scope| { scope.spawn(|| ..); })` does the same in the mode
//! `g` runs in: the spawned closures are goroutines
//! (`goro_sched::scope`), plain threads (`std::thread::scope`), or, mixed,
//! one and the other in turn. As crossbeam's, `scope` returns `Err` with
//! the first panic of a spawned closure whose handle was not joined, and a
//! handle's `join` returns its closure's panic as `Err`.

#![allow(dead_code)]

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use crate::go_harness::Go;

type Job<'env> = Box<dyn FnOnce() + Send + 'env>;
type Payload = Box<dyn Any + Send>;
type Slot = Arc<Mutex<Option<Payload>>>;

/// Spawns closures that may borrow what outlives the `scope` call.
pub(crate) struct Scope<'a, 'env> {
    threads: Option<&'a (dyn Fn(Job<'env>) + Sync)>,
    goroutines: Option<&'a (dyn Fn(Job<'env>) + Sync)>,
    spawned: AtomicUsize,
    panics: &'a Mutex<Vec<Slot>>,
}

/// A spawned closure's handle; dropping it detaches it (the scope still
/// waits for it, and reports its panic).
pub(crate) struct ScopedJoinHandle<T> {
    rx: goro_chan::Receiver<Option<T>>,
    panic: Slot,
}

impl<T> ScopedJoinHandle<T> {
    /// Waits for the closure (parking a goroutine, blocking a thread).
    pub(crate) fn join(self) -> thread::Result<T> {
        match self.rx.recv().expect("a scoped closure reports") {
            Some(v) => Ok(v),
            None => Err(lock(&self.panic).take().expect("its panic")),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'env> Scope<'_, 'env> {
    /// crossbeam's `scope.spawn(|_| f())`.
    pub(crate) fn spawn<T, F>(&self, f: F) -> ScopedJoinHandle<T>
    where
        T: Send + 'env,
        F: FnOnce() -> T + Send + 'env,
    {
        let (tx, rx) = goro_chan::bounded(1);
        let panic: Slot = Arc::default();
        lock(self.panics).push(panic.clone());
        let slot = panic.clone();
        let job: Job<'env> = Box::new(move || match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => {
                let _ = tx.send(Some(v));
            }
            Err(p) => {
                *lock(&slot) = Some(p);
                let _ = tx.send(None);
            }
        });
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        match (self.threads, self.goroutines) {
            (Some(t), None) => t(job),
            (None, Some(g)) => g(job),
            (Some(t), Some(g)) => {
                if n % 2 == 1 {
                    t(job)
                } else {
                    g(job)
                }
            }
            (None, None) => unreachable!(),
        }
        ScopedJoinHandle { rx, panic }
    }
}

/// crossbeam-utils' `thread::scope`, in `g`'s mode.
pub(crate) fn scope<'env, R>(g: Go, f: impl FnOnce(&Scope<'_, 'env>) -> R) -> thread::Result<R> {
    let panics = Mutex::new(Vec::new());
    let panics = &panics;
    let r = if g.threads() {
        thread::scope(|ts| {
            let t = |job: Job<'env>| {
                ts.spawn(job);
            };
            f(&Scope {
                threads: Some(&t),
                goroutines: None,
                spawned: AtomicUsize::new(0),
                panics,
            })
        })
    } else if g.some_threads() {
        goro_sched::scope(|gs| {
            // The threads are spawned by a helper that holds a
            // `std::thread::scope` in `goro_sched::blocking`, on one thread
            // throughout: the body, a goroutine, may move to another
            // thread whenever it parks (in the migrating mode), and
            // `std::thread::scope` waits for its threads on the thread it
            // was called on.
            // (A std channel: the helper's thread blocks on it, as a plain
            // thread, and never parks as a goroutine.)
            let (tx, rx) = mpsc::channel::<Job<'env>>();
            gs.go(move || {
                goro_sched::blocking(move || {
                    thread::scope(|ts| {
                        for job in rx {
                            ts.spawn(job);
                        }
                    })
                })
            });
            let r = {
                let t = |job: Job<'env>| {
                    tx.send(job).expect("the thread spawner runs");
                };
                let go = |job: Job<'env>| {
                    gs.go(job);
                };
                f(&Scope {
                    threads: Some(&t),
                    goroutines: Some(&go),
                    spawned: AtomicUsize::new(0),
                    panics,
                })
            };
            drop(tx);
            r
        })
    } else {
        goro_sched::scope(|gs| {
            let go = |job: Job<'env>| {
                gs.go(job);
            };
            f(&Scope {
                threads: None,
                goroutines: Some(&go),
                spawned: AtomicUsize::new(0),
                panics,
            })
        })
    };
    let first = lock(panics).iter().find_map(|s| lock(s).take());
    match first {
        Some(p) => Err(p),
        None => Ok(r),
    }
}

/// Stands in for `rand::thread_rng()` (crossbeam's tests use `rand`, which
/// goro-chan does not depend on): a xorshift seeded from the clock.
pub(crate) fn thread_rng() -> XorShift {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    XorShift(seed)
}

/// A xorshift64 generator.
pub(crate) struct XorShift(u64);

/// `rand::Rng`'s `gen_range`, for the ranges the tests draw from.
pub(crate) trait Rng {
    fn gen_range(&mut self, range: std::ops::Range<usize>) -> usize;
}

impl Rng for XorShift {
    fn gen_range(&mut self, range: std::ops::Range<usize>) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        range.start + (x % (range.end - range.start) as u64) as usize
    }
}

/// The modes for a test that starts no goroutine (mixed would run it as
/// the goroutine modes do).
pub(crate) const NO_SPAWN: &[crate::go_harness::Mode] = &[
    crate::go_harness::G1,
    crate::go_harness::G4,
    crate::go_harness::THREADS,
];

/// The modes for a test whose time goes to sleeps that order its events:
/// goroutines on one worker, threads, and both mixed on four workers.
pub(crate) const SLEEPY: &[crate::go_harness::Mode] = &[
    crate::go_harness::G1,
    crate::go_harness::THREADS,
    crate::go_harness::MIXED4,
];
