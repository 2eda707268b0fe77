//! `Mutex<T>`: parks goroutines, blocks threads, with Go's fairness.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{List, Waiter};

/// Someone holds the lock.
const LOCKED: u8 = 1;
/// The list may hold waiters: unlocking must look (changed under the list's
/// lock only).
const PARKED: u8 = 2;

/// A woken waiter competes for the lock again.
const WOKEN: usize = 1;
/// A waiter that waited too long is handed the lock: it holds it on waking.
const HANDOFF: usize = 2;

/// How long a waiter waits before the lock is handed to it directly, as Go's
/// `starvationThresholdNs`.
const STARVATION: Duration = Duration::from_millis(1);

/// Rounds of spinning before parking, while nobody is parked (as Go's
/// `active_spin`), each `SPIN_PAUSES` pause instructions.
const SPIN_ROUNDS: u32 = 4;
const SPIN_PAUSES: u32 = 30;

/// A mutual exclusion lock that parks a waiting goroutine (its worker runs
/// others meanwhile) and blocks a waiting plain thread.
///
/// Like Go's `sync.Mutex`, and unlike `std::sync::Mutex`:
/// - it is fair in the long run: an arriving locker may take a just-released
///   lock ahead of the parked waiters (which keeps the lock busy), but a
///   waiter that has waited over 1 ms is handed the lock directly at the next
///   unlock, so nobody is starved;
/// - there is no poisoning: a panic while holding the guard unlocks it;
/// - the guard is `Send`: a goroutine holding it may move to another worker
///   thread, and it may be unlocked anywhere.
///
/// ```
/// use goro_sync::{Mutex, WaitGroup};
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let wg = WaitGroup::new();
/// for _ in 0..100 {
///     let counter = counter.clone();
///     wg.go(move || {
///         for _ in 0..100 {
///             *counter.lock() += 1;
///         }
///     });
/// }
/// wg.wait();
/// assert_eq!(*counter.lock(), 10_000);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicU8,
    queue: SpinLock<List>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, possibly on
// another thread: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds a [`Mutex`] locked; unlocks it on drop.
///
/// ```
/// use goro_sync::{Mutex, MutexGuard};
///
/// let m = Mutex::new(String::from("go"));
/// {
///     let mut guard: MutexGuard<'_, String> = m.lock();
///     guard.push_str("ro"); // derefs to the value
/// } // unlocked here
/// assert_eq!(*m.lock(), "goro");
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Not auto-`Sync` (see the impls below).
    _marker: PhantomData<*const ()>,
}

// SAFETY: the guard may be dropped on any thread (the mutex has no owner
// thread), and moving it moves `&mut T`: `T: Send` suffices.
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// ```
    /// use goro_sync::Mutex;
    ///
    /// static HITS: Mutex<u32> = Mutex::new(0); // `const`: fits a static
    /// *HITS.lock() += 1;
    /// assert_eq!(*HITS.lock(), 1);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicU8::new(0),
            queue: SpinLock::new(List::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(vec![1, 2]);
    /// m.lock().push(3);
    /// assert_eq!(m.into_inner(), [1, 2, 3]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the goroutine (or blocking the thread) until
    /// it is free.
    ///
    /// Locking a mutex that the caller already holds deadlocks, as in Go.
    ///
    /// ```
    /// use goro_sync::chan::sched::go;
    /// use goro_sync::Mutex;
    /// use std::sync::Arc;
    ///
    /// let total = Arc::new(Mutex::new(0));
    /// let handles: Vec<_> = (0..10)
    ///     .map(|_| {
    ///         let total = total.clone();
    ///         go(move || *total.lock() += 1) // unlocked when the guard drops
    ///     })
    ///     .collect();
    /// for h in handles {
    ///     h.join().unwrap();
    /// }
    /// assert_eq!(*total.lock(), 10);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        self.guard()
    }

    /// Locks the mutex if it is free at once.
    ///
    /// ```
    /// let m = goro_sync::Mutex::new(1);
    /// let guard = m.lock();
    /// assert!(m.try_lock().is_none()); // held
    /// drop(guard);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.try_acquire().then(|| self.guard())
    }

    /// The value, through a unique borrow (no locking needed).
    ///
    /// ```
    /// let mut m = goro_sync::Mutex::new(1);
    /// *m.get_mut() += 1; // `&mut` proves nobody else holds it
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether some waiter is parked (a test hook, not an API).
    #[doc(hidden)]
    pub fn __has_parked_waiters(&self) -> bool {
        self.state.load(Ordering::Acquire) & PARKED != 0
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    fn try_acquire(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & LOCKED == 0 {
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(s) => state = s,
            }
        }
        false
    }

    #[cold]
    fn lock_slow(&self) {
        let mut waiter = Waiter::new(0);
        let mut rounds = 0;
        let mut woken = false;
        loop {
            if self.try_acquire() {
                return;
            }
            // Spin a little while the holder runs elsewhere and nobody is
            // parked: critical sections are often shorter than a park.
            if self.state.load(Ordering::Relaxed) & PARKED == 0 && rounds < SPIN_ROUNDS {
                rounds += 1;
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
                continue;
            }
            let mut queue = self.queue.lock();
            // Announce a waiter, unless the lock came free meanwhile.
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                if state & LOCKED == 0 {
                    break;
                }
                if state & PARKED != 0 {
                    break;
                }
                match self.state.compare_exchange_weak(
                    state,
                    state | PARKED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        state |= PARKED;
                        break;
                    }
                    Err(s) => state = s,
                }
            }
            if state & LOCKED == 0 {
                drop(queue);
                continue;
            }
            if waiter.since.is_none() {
                waiter.since = Some(Instant::now());
            }
            // A waiter woken but beaten to the lock goes back to the front,
            // as in Go, keeping its place and its start time.
            match woken {
                // SAFETY: `waiter` waits below, after the lock is released.
                true => unsafe { queue.push_front(&waiter) },
                // SAFETY: as above.
                false => unsafe { queue.push_back(&waiter) },
            }
            drop(queue);
            let token = waiter.wait(
                Wait::Mutex,
                &self.queue,
                |list| list,
                None,
                |_| {},
                |token| self.pass_on(token),
            );
            if token == Some(HANDOFF) {
                return;
            }
            waiter.reset();
            woken = true;
            rounds = 0;
        }
    }

    /// A waiter unwound after it was granted: what it would have done.
    fn pass_on(&self, token: usize) {
        match token {
            // It held the lock: release it.
            HANDOFF => self.unlock(),
            // It would have competed: if the lock is free, take it and
            // release it, which wakes the next waiter.
            _ => {
                if self.try_acquire() {
                    self.unlock();
                }
            }
        }
    }

    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut queue = self.queue.lock();
        // Only the list's lock holder changes `PARKED`, and we hold `LOCKED`:
        // nobody else writes the state until the store below.
        let Some(next) = queue.pop_front() else {
            self.state.store(0, Ordering::Release);
            return;
        };
        let more = if queue.is_empty() { 0 } else { PARKED };
        let starved = next.since().is_some_and(|t| t.elapsed() > STARVATION);
        let token = if starved {
            // Hand it over: it stays locked, now by the waiter.
            self.state.store(LOCKED | more, Ordering::Release);
            HANDOFF
        } else {
            self.state.store(more, Ordering::Release);
            WOKEN
        };
        drop(queue);
        next.grant(token);
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex that this guard holds (for `Condvar`).
    pub(crate) fn mutex(guard: &MutexGuard<'a, T>) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
