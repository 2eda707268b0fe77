//! `WaitGroup`: wait for a collection of goroutines to finish.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{List, Waiter};

/// The grant: the counter reached zero.
const ZERO: usize = 1;

/// Go's `sync.WaitGroup`: a counter of outstanding tasks;
/// [`wait`](WaitGroup::wait) parks until it is zero. Clones share the
/// counter.
///
/// ```
/// use goro_sync::WaitGroup;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let done = Arc::new(AtomicUsize::new(0));
/// let wg = WaitGroup::new();
/// for _ in 0..10 {
///     let done = done.clone();
///     wg.go(move || {
///         done.fetch_add(1, Ordering::Relaxed);
///     }); // Go 1.25's wg.Go: add(1), spawn, done() at the end
/// }
/// wg.wait();
/// assert_eq!(done.load(Ordering::Relaxed), 10);
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    count: AtomicIsize,
    waiters: SpinLock<List>,
}

impl WaitGroup {
    /// A wait group at zero.
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                count: AtomicIsize::new(0),
                waiters: SpinLock::new(List::new()),
            }),
        }
    }

    /// Adds `delta` (which may be negative) to the counter; at zero, every
    /// waiter wakes.
    ///
    /// # Panics
    /// With "sync: negative WaitGroup counter" if the counter goes below
    /// zero, as Go.
    pub fn add(&self, delta: isize) {
        let count = self.inner.count.fetch_add(delta, Ordering::AcqRel) + delta;
        if count < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if count == 0 && delta != 0 {
            let all = self.inner.waiters.lock().drain();
            all.grant_all(ZERO);
        }
    }

    /// Takes one off the counter: `add(-1)`.
    ///
    /// # Panics
    /// With "sync: negative WaitGroup counter" below zero.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the counter is zero.
    pub fn wait(&self) {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let waiter = Waiter::new(0);
        {
            let mut list = self.inner.waiters.lock();
            // Read under the lock that `add` takes after reaching zero: either
            // we see zero, or `add` finds us in the list.
            if self.inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            // SAFETY: it waits below, after the lock is released.
            unsafe { list.push_back(&waiter) };
        }
        waiter.wait(
            Wait::WaitGroup,
            &self.inner.waiters,
            |list| list,
            None,
            |_| {},
            |_| {},
        );
    }

    /// Runs `f` in a new goroutine counted by this group: `add(1)`, then
    /// `done()` when `f` returns or panics (Go 1.25's `wg.Go`).
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.add(1);
        let wg = self.clone();
        goro_sched::go(move || {
            let _done = DoneOnDrop(wg);
            f();
        });
    }

    /// The counter now (for diagnostics: it may change at once).
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed).max(0) as usize
    }
}

struct DoneOnDrop(WaitGroup);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner.count.load(Ordering::Relaxed))
            .finish()
    }
}
