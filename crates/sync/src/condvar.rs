//! `Condvar`: std's shapes, with `goro_sync::Mutex`, parking goroutines.

use std::fmt;
use std::time::{Duration, Instant};

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::mutex::MutexGuard;
use crate::waiter::{List, Waiter};

/// The grant: notified.
const NOTIFIED: usize = 1;

/// A condition variable: goroutines (or threads) wait on it, with a
/// [`Mutex`](crate::Mutex) unlocked meanwhile, until another notifies it. As
/// with std's, waits may wake spuriously: wait in a loop on the condition,
/// or use [`wait_while`](Condvar::wait_while). No poisoning.
///
/// ```
/// use goro_sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// goro_sched::go(move || {
///     let (ready, cv) = &*pair2;
///     *ready.lock() = true;
///     cv.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// let guard = cv.wait_while(ready.lock(), |ready| !*ready);
/// assert!(*guard);
/// ```
pub struct Condvar {
    queue: SpinLock<List>,
}

/// Whether a timed wait on a [`Condvar`] returned because the time ran out.
///
/// ```
/// use goro_sync::{Condvar, Mutex, WaitTimeoutResult};
/// use std::time::Duration;
///
/// let (lock, cvar) = (Mutex::new(()), Condvar::new());
/// let (_guard, result): (_, WaitTimeoutResult) = cvar.wait_timeout(lock.lock(), Duration::from_millis(1));
/// assert!(result.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait timed out.
    ///
    /// ```
    /// use goro_sync::{Condvar, Mutex, WaitTimeoutResult};
    /// use std::time::Duration;
    ///
    /// let (lock, cvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, result): (_, WaitTimeoutResult) = cvar.wait_timeout(lock.lock(), Duration::from_millis(1));
    /// assert!(result.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable nobody waits on.
    ///
    /// ```
    /// use goro_sched::go;
    /// use goro_sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// go(move || {
    ///     *p.0.lock() = true;
    ///     p.1.notify_one();
    /// });
    /// let (lock, cvar) = &*pair;
    /// let mut ready = lock.lock();
    /// while !*ready {
    ///     ready = cvar.wait(ready); // unlocks while it waits
    /// }
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            queue: SpinLock::new(List::new()),
        }
    }

    /// Unlocks the guard's mutex, waits for a notification, and locks the
    /// mutex again. May wake spuriously.
    ///
    /// ```
    /// use goro_sched::go;
    /// use goro_sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// go(move || {
    ///     *p.0.lock() = true;
    ///     p.1.notify_one();
    /// });
    /// let (lock, cvar) = &*pair;
    /// let mut ready = lock.lock();
    /// while !*ready {
    ///     ready = cvar.wait(ready); // unlocks while it waits
    /// }
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_deadline(guard, None).0
    }

    /// Waits while `condition` holds for the value (checked first, and after
    /// each wake-up, with the mutex locked).
    ///
    /// ```
    /// use goro_sched::go;
    /// use goro_sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = pair.clone();
    /// go(move || {
    ///     for _ in 0..3 {
    ///         *p.0.lock() += 1;
    ///         p.1.notify_one();
    ///     }
    /// });
    /// let (lock, cvar) = &*pair;
    /// let count = cvar.wait_while(lock.lock(), |count| *count < 3);
    /// assert_eq!(*count, 3);
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// As [`wait`](Condvar::wait), for at most `timeout`. A goroutine's
    /// timeout is a scheduler timer, not a thread.
    ///
    /// ```
    /// use goro_sync::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (lock, cvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, result) = cvar.wait_timeout(lock.lock(), Duration::from_millis(5));
    /// assert!(result.timed_out()); // nobody notified
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = goro_sched::timer::now().checked_add(timeout);
        self.wait_deadline(guard, deadline)
    }

    /// As [`wait_while`](Condvar::wait_while), for at most `timeout` in all;
    /// times out only if the condition still holds.
    ///
    /// ```
    /// use goro_sync::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (lock, cvar) = (Mutex::new(0), Condvar::new());
    /// let (value, result) = cvar.wait_timeout_while(lock.lock(), Duration::from_millis(5), |v| *v == 0);
    /// assert!(result.timed_out());
    /// assert_eq!(*value, 0); // still what we waited to change
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = goro_sched::timer::now().checked_add(timeout);
        while condition(&mut *guard) {
            let (g, result) = self.wait_deadline(guard, deadline);
            guard = g;
            if result.timed_out() {
                let still = condition(&mut *guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    #[track_caller]
    fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = MutexGuard::mutex(&guard);
        let waiter = Waiter::new(0);
        // Queued before the mutex is released: a notification sent after
        // the caller's last look at the value finds it.
        // SAFETY: it waits below, after the lock is released.
        unsafe { self.queue.lock().push_back(&waiter) };
        drop(guard);
        let token = waiter.wait(
            Wait::Condvar,
            &self.queue,
            |list| list,
            deadline,
            |_| {},
            // Unwound after a notify_one took us: pass it on.
            |_| self.notify_one(),
        );
        (mutex.lock(), WaitTimeoutResult(token.is_none()))
    }

    /// Wakes one waiter, the longest waiting, if any.
    ///
    /// ```
    /// use goro_sched::go;
    /// use goro_sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// go(move || {
    ///     *p.0.lock() = true;
    ///     p.1.notify_one();
    /// });
    /// let (lock, cvar) = &*pair;
    /// let mut ready = lock.lock();
    /// while !*ready {
    ///     ready = cvar.wait(ready); // unlocks while it waits
    /// }
    /// ```
    pub fn notify_one(&self) {
        let next = self.queue.lock().pop_front();
        if let Some(next) = next {
            next.grant(NOTIFIED);
        }
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// use goro_sched::go;
    /// use goro_sync::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let state = Arc::new((Mutex::new(false), Condvar::new()));
    /// let waiters: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let state = state.clone();
    ///         go(move || {
    ///             let (lock, cvar) = &*state;
    ///             drop(cvar.wait_while(lock.lock(), |open| !*open));
    ///         })
    ///     })
    ///     .collect();
    /// *state.0.lock() = true;
    /// state.1.notify_all(); // every waiter wakes, sees the gate open, and returns
    /// for w in waiters {
    ///     w.join().unwrap();
    /// }
    /// ```
    pub fn notify_all(&self) {
        let all = self.queue.lock().drain();
        all.grant_all(NOTIFIED);
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
