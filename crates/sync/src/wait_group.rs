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
    ///
    /// ```
    /// use goro_sync::WaitGroup;
    /// use goro_sched::go;
    ///
    /// let wg = WaitGroup::new();
    /// for _ in 0..3 {
    ///     wg.add(1);
    ///     let wg = wg.clone(); // shares the counter
    ///     go(move || wg.done());
    /// }
    /// wg.wait();
    /// assert_eq!(wg.count(), 0);
    /// ```
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
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(wg.count(), 2);
    /// wg.add(-2); // Go's Add(-2): back to zero, waiters wake
    /// wg.wait();
    /// ```
    ///
    /// # Panics
    /// With "sync: negative WaitGroup counter" if the counter goes below
    /// zero, as Go; with "sync: WaitGroup counter overflow" past
    /// `isize::MAX`. Either way the counter is left as it was.
    pub fn add(&self, delta: isize) {
        // Checked before it is written (a CAS, not a `fetch_add` undone
        // after): an `add` in the wrong never shows the others a wrapped or
        // negative counter, which would fail their correct calls.
        let mut before = self.inner.count.load(Ordering::Relaxed);
        let count = loop {
            let count = match before.checked_add(delta) {
                Some(count) if count >= 0 => count,
                None => panic!("sync: WaitGroup counter overflow ({before} + {delta})"),
                Some(_) => panic!("sync: negative WaitGroup counter"),
            };
            match self.inner.count.compare_exchange_weak(
                before,
                count,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break count,
                Err(now) => before = now,
            }
        };
        if count == 0 && delta != 0 {
            let all = self.inner.waiters.lock().drain();
            all.grant_all(ZERO);
        }
    }

    /// Takes one off the counter: `add(-1)`.
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// goro_sched::go(move || w.done());
    /// wg.wait();
    /// ```
    ///
    /// # Panics
    /// With "sync: negative WaitGroup counter" below zero.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the counter is zero.
    ///
    /// ```
    /// use goro_sync::WaitGroup;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let wg = WaitGroup::new();
    /// let finished = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..5 {
    ///     let finished = finished.clone();
    ///     wg.go(move || {
    ///         finished.fetch_add(1, Ordering::SeqCst);
    ///     });
    /// }
    /// wg.wait(); // parks a goroutine, blocks a thread
    /// assert_eq!(finished.load(Ordering::SeqCst), 5);
    /// ```
    #[track_caller]
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
    ///
    /// ```
    /// use goro_sync::{Mutex, WaitGroup};
    /// use std::sync::Arc;
    ///
    /// let wg = WaitGroup::new();
    /// let results = Arc::new(Mutex::new(Vec::new()));
    /// for i in 0..3 {
    ///     let results = results.clone();
    ///     wg.go(move || results.lock().push(i * i)); // Go 1.25's wg.Go
    /// }
    /// wg.wait();
    /// let mut got = results.lock().clone();
    /// got.sort_unstable();
    /// assert_eq!(got, [0, 1, 4]);
    /// ```
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.add(1);
        // Made here and moved in: if the goroutine is never made (out of
        // memory), the guard drops with the closure and counts it done.
        let done = DoneOnDrop(self.clone());
        goro_sched::go(move || {
            let _done = done;
            f();
        });
    }

    /// The counter now (for diagnostics: it may change at once).
    ///
    /// ```
    /// let wg = goro_sync::WaitGroup::new();
    /// wg.add(3);
    /// wg.done();
    /// assert_eq!(wg.count(), 2);
    /// wg.add(-2);
    /// ```
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
