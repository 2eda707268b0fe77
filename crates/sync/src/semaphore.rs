//! `Semaphore`: weighted and FIFO, as Go's `x/sync/semaphore`.

use std::error::Error;
use std::fmt;

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{Chain, List, Waiter};

/// The grant: the waiter's permits are counted as taken.
const ACQUIRED: usize = 1;

/// A weighted semaphore of a fixed size, with Go's `x/sync/semaphore` order:
/// waiters are served first come, first served, and a waiter that asks for
/// more permits than are free holds back the ones behind it, so that a large
/// [`acquire_many`](Semaphore::acquire_many) is not starved by a stream of
/// small ones. Permits are RAII: dropping a [`SemaphorePermit`] releases
/// them.
///
/// ```
/// use goro_sync::{Semaphore, WaitGroup};
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// // At most 3 of 20 goroutines in the section at once.
/// let sem = Arc::new(Semaphore::new(3));
/// let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
/// let wg = WaitGroup::new();
/// for _ in 0..20 {
///     let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
///     wg.go(move || {
///         let _permit = sem.acquire();
///         let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
///         most.fetch_max(now, Ordering::SeqCst);
///         goro_sched::yield_now();
///         inside.fetch_sub(1, Ordering::SeqCst);
///     });
/// }
/// wg.wait();
/// assert!(most.load(Ordering::SeqCst) <= 3);
/// assert_eq!(sem.available_permits(), 3);
/// ```
pub struct Semaphore {
    size: usize,
    state: SpinLock<State>,
}

struct State {
    /// Permits taken.
    taken: usize,
    /// Waiters, each with its count in `data`.
    list: List,
}

impl State {
    /// Lets in the waiters at the front whose permits are free, in order,
    /// counting them as taken; the caller grants them.
    fn admit(&mut self, size: usize) -> Chain {
        let mut free = size - self.taken;
        let mut blocked = false;
        let admitted = self.list.drain_where(|n| {
            if blocked || n > free {
                blocked = true;
                return false;
            }
            free -= n;
            true
        });
        self.taken = size - free;
        admitted
    }
}

/// Permits taken from a [`Semaphore`]; released on drop.
///
/// ```
/// use goro_sync::{Semaphore, SemaphorePermit};
///
/// let sem = Semaphore::new(2);
/// {
///     let _permit: SemaphorePermit<'_> = sem.acquire();
///     assert_eq!(sem.available_permits(), 1);
/// } // released on drop
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "if unused the permits are released at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

/// [`Semaphore::acquire_many`] asked for more permits than the semaphore has:
/// waiting could never succeed.
///
/// ```
/// use goro_sync::Semaphore;
///
/// let sem = Semaphore::new(2);
/// let err = sem.acquire_many(3).unwrap_err(); // could never succeed
/// assert_eq!((err.requested(), err.size()), (3, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcquireError {
    requested: usize,
    size: usize,
}

impl AcquireError {
    /// The permits asked for.
    ///
    /// ```
    /// use goro_sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let err = sem.acquire_many(3).unwrap_err(); // could never succeed
    /// assert_eq!((err.requested(), err.size()), (3, 2));
    /// ```
    pub fn requested(&self) -> usize {
        self.requested
    }

    /// The semaphore's size.
    ///
    /// ```
    /// use goro_sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let err = sem.acquire_many(3).unwrap_err(); // could never succeed
    /// assert_eq!((err.requested(), err.size()), (3, 2));
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot acquire {} permits from a semaphore of size {}",
            self.requested, self.size
        )
    }
}

impl Error for AcquireError {}

impl Semaphore {
    /// A semaphore with `size` permits, all free.
    ///
    /// ```
    /// use goro_sync::Semaphore;
    /// use goro_sched::go;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// // At most 2 of the 10 goroutines in the critical section at once.
    /// let sem = Arc::new(Semaphore::new(2));
    /// let inside = Arc::new(AtomicUsize::new(0));
    /// let handles: Vec<_> = (0..10)
    ///     .map(|_| {
    ///         let (sem, inside) = (sem.clone(), inside.clone());
    ///         go(move || {
    ///             let _permit = sem.acquire();
    ///             let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
    ///             assert!(now <= 2);
    ///             goro_sched::yield_now();
    ///             inside.fetch_sub(1, Ordering::SeqCst);
    ///         })
    ///     })
    ///     .collect();
    /// for h in handles {
    ///     h.join().unwrap();
    /// }
    /// ```
    pub const fn new(size: usize) -> Semaphore {
        Semaphore {
            size,
            state: SpinLock::new(State {
                taken: 0,
                list: List::new(),
            }),
        }
    }

    /// Takes one permit, waiting for it.
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(1);
    /// let permit = sem.acquire();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit); // released
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    ///
    /// # Panics
    /// If the semaphore's size is 0 (it could never succeed).
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        match self.acquire_many(1) {
            Ok(permit) => permit,
            Err(e) => panic!("{e}"),
        }
    }

    /// Takes `n` permits at once, waiting (first come, first served) until
    /// they are free. `Err` at once if `n` exceeds the size.
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(10);
    /// let permit = sem.acquire_many(4).unwrap(); // a weight of 4
    /// assert_eq!(permit.num_permits(), 4);
    /// assert_eq!(sem.available_permits(), 6);
    /// assert!(sem.acquire_many(11).is_err()); // more than it has: Err at once
    /// ```
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        if n > self.size {
            return Err(AcquireError {
                requested: n,
                size: self.size,
            });
        }
        let mut state = self.state.lock();
        if self.size - state.taken >= n && state.list.is_empty() {
            state.taken += n;
            return Ok(self.permit(n));
        }
        let waiter = Waiter::new(n);
        // SAFETY: it waits below, after the lock is released.
        unsafe { state.list.push_back(&waiter) };
        drop(state);
        waiter.wait(
            Wait::Semaphore,
            &self.state,
            |s| &mut s.list,
            None,
            // Unwound while waiting: if it held back the waiters behind it,
            // let them in (granted with the lock held: a rare path).
            |s| s.admit(self.size).grant_all(ACQUIRED),
            // Unwound once its permits were counted: give them back.
            |_| self.release(n),
        );
        Ok(self.permit(n))
    }

    /// Takes one permit if one is free and nobody waits.
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(1);
    /// let held = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(held);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits (a waiter ahead
    /// keeps its place, as in Go).
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(3);
    /// let two = sem.try_acquire_many(2).unwrap();
    /// assert!(sem.try_acquire_many(2).is_none()); // only 1 left
    /// drop(two);
    /// assert!(sem.try_acquire_many(3).is_some());
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut state = self.state.lock();
        if self.size - state.taken >= n && state.list.is_empty() {
            state.taken += n;
            return Some(self.permit(n));
        }
        None
    }

    /// Permits free now (for diagnostics: it may change at once).
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(3);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.size - self.state.lock().taken
    }

    /// The number of permits the semaphore was made with.
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(3);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.size(), 3); // unlike `available_permits`, fixed
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }

    fn permit(&self, permits: usize) -> SemaphorePermit<'_> {
        SemaphorePermit { sem: self, permits }
    }

    fn release(&self, n: usize) {
        let mut state = self.state.lock();
        state.taken -= n;
        let admitted = state.admit(self.size);
        drop(state);
        admitted.grant_all(ACQUIRED);
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(5);
    /// assert_eq!(sem.acquire_many(3).unwrap().num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits taken for good (the semaphore shrinks by them).
    ///
    /// ```
    /// let sem = goro_sync::Semaphore::new(2);
    /// sem.acquire().forget(); // never given back
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits != 0 {
            self.sem.release(self.permits);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("available", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
