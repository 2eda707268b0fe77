//! `Mutex<T>`: parks goroutines, blocks threads, with Go's fairness.
//!
//! # Protocol
//!
//! Go's `sync.Mutex` (`mutexLocked`, `mutexWoken`, spinning, FIFO waiters,
//! a 1 ms starvation threshold), adapted to the default mode, where a woken
//! goroutine runs on its own worker: waking one costs a cross-thread
//! hand-over, and a lock handed to a parked waiter stays idle until that
//! worker gets to it. One atomic word (`LOCKED`, `PARKED`, `WOKEN`,
//! `HANDED`, and a small credit) and an intrusive FIFO under a spin lock
//! (`waiter.rs`). Lock is one `fetch_or`, unlock one CAS, while nobody
//! waits, and also while a woken waiter is on its way.
//!
//! - A locker that finds the lock held spins a little (`SPIN_ROUNDS`),
//!   whether or not waiters are parked, unless the lock is being handed
//!   over (`HANDED`); a spinner claims `WOKEN` if it is free, so that an
//!   unlock wakes nobody while it is about to take the lock. Then it
//!   parks at the back of the list.
//! - An unlock that finds waiters parked and `WOKEN` clear wakes the head
//!   and sets `WOKEN`; while it is set, unlocks wake nobody. The woken
//!   waiter competes with running lockers (barging keeps the lock busy);
//!   if it loses it goes back to the front, keeping its clock.
//! - The lock is handed directly (`HANDOFF`, with `HANDED`) only to the
//!   head of the list, once it has been the head for over `STARVATION`.
//!   An unlock looks at the head whenever it would wake one, and, while
//!   `WOKEN` is set, once the credit is spent. The woken waiter may not run
//!   for long: its worker may be busy with the very goroutine that keeps
//!   retaking the lock, and in the migrating mode it waits in that
//!   goroutine's `next` slot until it parks. Each unlock that looks sets
//!   the credit to the number of unlocks expected before the head starves
//!   (1 to `CREDIT_MAX`), at the pace the last credit was spent; a waiter
//!   that becomes the head zeroes it.
//!
//! Go hands the lock over at every unlock once the head has waited 1 ms in
//! all, and the new owner's next lock queues behind the rest. In a list
//! of thousands, where everyone has waited over 1 ms, that was a convoy:
//! every unlock a hand-over, every lock a park, each a cross-thread
//! wake-up in the default mode (`tests/mutex_convoy.rs`: 10,000 goroutines
//! x 1,000 locks took 1.7-17 s with 7-8 million parks; now 0.07-0.12 s
//! with 5,000-7,000). Here hand-overs come at most about once per
//! `STARVATION`.
//!
//! A woken waiter can stay on its way for thousands of locks (in the
//! migrating mode, until the goroutine in whose `next` slot it waits
//! parks). Every lock and unlock meanwhile must stay one read-modify-write
//! and must not look at the list: a fixed look every 4th unlock (a spin
//! lock and a clock read each) and a lock that fails its CAS on `WOKEN`
//! took `mutex 1000` (1,000 goroutines x 1,000 locks on 2 workers) in the
//! migrating mode from a median 7-8 ns a lock to 12-16 (up to 29). The
//! credit adapts: one look every `CREDIT_MAX` unlocks (a few microseconds)
//! for a hammered lock, one near each deadline for long critical sections.
//!
//! Why it is correct:
//! - Mutual exclusion: `LOCKED` is set only by a read-modify-write that saw
//!   it clear (`lock`'s `fetch_or`, or a CAS), or kept set by an unlock that
//!   hands it to the one waiter it unlinked.
//! - `WOKEN` has one owner: it is set only by a CAS that saw it clear (an
//!   unlock waking the head, or a spinner), and cleared only by its owner,
//!   when it takes the lock, parks, or unwinds (`pass_on`).
//! - No lost wake-up: a waiter links itself only after setting `PARKED` by
//!   a CAS that saw `LOCKED`, so the holder's unlock sees `PARKED`. That
//!   unlock wakes the head unless `WOKEN` is set, and then the owner of
//!   `WOKEN` is a locker that will take the lock or park; it parks only
//!   while the lock is held (clearing `WOKEN` in the same CAS), so again
//!   an unlock follows that sees `PARKED` without `WOKEN`.
//! - No starvation: the list is FIFO (only the woken head goes back to the
//!   front). The head's clock starts when it becomes the head (linked into
//!   an empty list, or its predecessor unlinked) and keeps running while
//!   it is woken and loses. Once it has run for `STARVATION`, the next
//!   unlock that looks (the next one, or while another waiter is on its
//!   way the one that finds the credit spent, at most `CREDIT_MAX`
//!   unlocks later) hands it the lock. The credit is set only by an unlock
//!   that looks, and zeroed by a waiter that becomes the head, so it was
//!   set for the current head (or for a successor whose clock started
//!   later, when the head withdrew). It is the number of unlocks expected
//!   before the head starves, at the pace the previous credit was spent;
//!   only unlocks that found a waiter on its way spend it, so the pace errs
//!   slow and the look early, unless critical sections suddenly grow. So
//!   the n-th waiter gets the lock after at most about n x (`STARVATION` +
//!   `CREDIT_MAX` critical sections), and in a steady pace after about n x
//!   `STARVATION`, however hard running lockers hammer it.
//!
//! `tests/loom_sync.rs` models these transitions.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{List, Waiter};

/// Someone holds the lock.
const LOCKED: u32 = 1;
/// The list may hold waiters: unlocking must look (changed under the list's
/// lock only).
const PARKED: u32 = 2;
/// A waiter is on its way to the lock (woken by an unlock, or a spinning
/// locker that claimed the bit): unlocks wake nobody meanwhile. Whoever
/// set it clears it when it takes the lock or parks.
const WOKEN: u32 = 4;
/// The lock was handed to a parked waiter that has not run yet: lockers
/// park at once instead of spinning. Cleared by that waiter.
const HANDED: u32 = 8;
/// The low bits are flags; above them, the *credit*: how many more unlocks
/// that find `WOKEN` and `PARKED` set may release without looking at the
/// head of the list. The woken waiter may not run for a long time (its
/// worker is busy, maybe with the very goroutine that keeps taking the
/// lock; in the migrating mode it waits in that goroutine's `next` slot),
/// so while it is on its way an unlock still looks once the credit is
/// spent. Set by each unlock that looks (`Queue::credit`), spent one per
/// such unlock, zeroed when a waiter becomes the head by parking.
const FLAGS: u32 = 15;
const CREDIT_ONE: u32 = 16;
/// The credit when the lock's pace is unknown.
const CREDIT_FIRST: u32 = 4;
/// At most this many unlocks between two looks while a waiter is on its
/// way: bounds how late a look comes when critical sections suddenly grow.
const CREDIT_MAX: u32 = 256;

/// A woken waiter competes for the lock again.
const WOKEN_TOKEN: usize = 1;
/// A waiter that waited too long is handed the lock: it holds it on waking.
const HANDOFF: usize = 2;

/// How long the head of the list waits before the lock is handed to it
/// directly, as Go's `starvationThresholdNs`.
const STARVATION: Duration = Duration::from_millis(1);

/// Rounds of spinning before parking (as Go's `active_spin`), each
/// `SPIN_PAUSES` pause instructions.
const SPIN_ROUNDS: u32 = 4;
const SPIN_PAUSES: u32 = 30;

/// A mutual exclusion lock that parks a waiting goroutine (its worker runs
/// others meanwhile) and blocks a waiting plain thread.
///
/// Like Go's `sync.Mutex`, and unlike `std::sync::Mutex`:
/// - it is fair in the long run: an arriving locker may take a just-released
///   lock ahead of the parked waiters (which keeps the lock busy), but the
///   waiters queue in FIFO order, and the first of them, once it has been
///   first for over 1 ms, is handed the lock directly at the next unlock
///   (or, while a woken waiter is on its way, a few unlocks later), so nobody
///   is starved;
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
    state: AtomicU32,
    queue: SpinLock<Queue>,
    data: UnsafeCell<T>,
}

/// The wait list, and what the unlocks that look at it learn of the lock's
/// pace.
struct Queue {
    list: List,
    /// When the last credit was set, and how large it was.
    last: Option<(Instant, u32)>,
}

impl Queue {
    /// The credit to set: as many unlocks as should pass before the head
    /// (who has been the head since `since`) starves, at the pace of the
    /// unlocks that spent the previous credit (`left` of it is unspent).
    /// Only unlocks that found a waiter on its way spend credit, so the
    /// pace errs slow and the look early.
    fn credit(&self, left: u32, now: Instant, since: Instant) -> u32 {
        match self.last {
            Some((at, given)) if given > left => {
                let per_unlock =
                    now.saturating_duration_since(at).as_nanos() / u128::from(given - left);
                let remaining = (since + STARVATION)
                    .saturating_duration_since(now)
                    .as_nanos();
                (remaining / per_unlock.max(1)).clamp(1, u128::from(CREDIT_MAX)) as u32
            }
            _ => CREDIT_FIRST,
        }
    }
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
            state: AtomicU32::new(0),
            queue: SpinLock::new(Queue {
                list: List::new(),
                last: None,
            }),
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
    /// use goro_sched::go;
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
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // One read-modify-write (`lock bts` on x86) takes a free lock
        // whatever the other bits say: a woken waiter on its way may keep
        // `WOKEN` set for thousands of locks. Acquire: the previous
        // holder's writes.
        if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
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
    #[track_caller]
    fn lock_slow(&self) {
        let waiter = Waiter::new(0);
        let mut rounds = 0;
        // Whether `WOKEN` is ours to clear (we were woken, or claimed it).
        let mut awoke = false;
        // Whether we parked before: a woken waiter that lost goes back to
        // the front, as in Go, keeping its place and its clock.
        let mut requeue = false;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED == 0 {
                // Barge in (a woken waiter too: it competes), giving back
                // `WOKEN` if ours. Acquire: the previous holder's writes.
                let new = match awoke {
                    true => (state & !WOKEN) | LOCKED,
                    false => state | LOCKED,
                };
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return,
                    Err(s) => state = s,
                }
                continue;
            }
            // Spin a little while the holder runs (not while the lock waits
            // for a parked waiter it was handed to): critical sections are
            // often shorter than a park, parked waiters or not.
            if state & HANDED == 0 && rounds < SPIN_ROUNDS {
                // Claim `WOKEN` so that the unlock wakes nobody: we are
                // about to take the lock ourselves.
                if !awoke && state & (WOKEN | PARKED) == PARKED {
                    match self.state.compare_exchange_weak(
                        state,
                        state | WOKEN,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => awoke = true,
                        Err(s) => {
                            state = s;
                            continue;
                        }
                    }
                }
                rounds += 1;
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut queue = self.queue.lock();
            // Whether we become the head: then our clock may run out before
            // the credit, which was set for the old head (or none).
            let head = requeue || queue.list.is_empty();
            // Announce a waiter (and give back `WOKEN` if ours, and zero
            // the credit if we become the head), unless the lock came free
            // meanwhile. Relaxed: the list itself is published by its lock,
            // and the holder's unlock reads `PARKED` in the same
            // modification order as this write.
            state = self.state.load(Ordering::Relaxed);
            while state & LOCKED != 0 {
                let mut new = match awoke {
                    true => state & !WOKEN,
                    false => state,
                } | PARKED;
                if head {
                    new &= FLAGS;
                }
                if new == state {
                    break;
                }
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // What was left of the credit was not spent.
                        if let Some((at, given)) = queue.last
                            && head
                        {
                            let left = state / CREDIT_ONE;
                            queue.last = Some((at, given.saturating_sub(left)));
                        }
                        state = new;
                        break;
                    }
                    Err(s) => state = s,
                }
            }
            if state & LOCKED == 0 {
                drop(queue);
                continue;
            }
            // The fairness clock runs while a waiter is at the head.
            if requeue {
                if waiter.since().is_none() {
                    waiter.set_since(Some(Instant::now()));
                }
                // SAFETY: `waiter` waits below, after the lock is released.
                unsafe { queue.list.push_front(&waiter) };
            } else {
                waiter.set_since(head.then(Instant::now));
                // SAFETY: as above.
                unsafe { queue.list.push_back(&waiter) };
            }
            drop(queue);
            let token = waiter.wait(
                Wait::Mutex,
                &self.queue,
                |queue| &mut queue.list,
                None,
                // Unwound while linked: if it was the head, the new head's
                // clock starts now.
                |queue| {
                    if let Some(head) = queue.list.front()
                        && head.since().is_none()
                    {
                        head.set_since(Some(Instant::now()));
                    }
                },
                |token| self.pass_on(token),
            );
            if token == Some(HANDOFF) {
                // We hold the lock: let lockers spin again.
                self.state.fetch_and(!HANDED, Ordering::Relaxed);
                return;
            }
            // Woken: `WOKEN` is ours.
            waiter.reset();
            awoke = true;
            requeue = true;
            rounds = 0;
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// A waiter unwound after it was granted: what it would have done.
    fn pass_on(&self, token: usize) {
        if token == HANDOFF {
            // It held the lock: release it.
            self.state.fetch_and(!HANDED, Ordering::Relaxed);
            self.unlock();
            return;
        }
        // It was on its way (`WOKEN` is its): give the bit back. If the lock
        // is held, its unlock wakes the next waiter; if not, take it and
        // release it, which does.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let (new, took) = match state & LOCKED {
                0 => ((state & !WOKEN) | LOCKED, true),
                _ => (state & !WOKEN, false),
            };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if took => return self.unlock(),
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
    }

    fn unlock(&self) {
        // One read-modify-write unless the list needs a look. Release: our
        // writes, for the next holder.
        let state = self.state.load(Ordering::Relaxed);
        if let Some(new) = released(state)
            && self
                .state
                .compare_exchange(state, new, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        self.unlock_slow();
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut state = self.state.load(Ordering::Relaxed);
        while let Some(new) = released(state) {
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        let mut queue = self.queue.lock();
        // Under the list's lock `PARKED` is ours to change, and we hold
        // `LOCKED`: others may only set `WOKEN` (a spinner) meanwhile, and
        // the credit does not change.
        let now = Instant::now();
        let head = queue.list.front().map(|w| w.since().unwrap_or(now));
        let starved = head.is_some_and(|since| now.saturating_duration_since(since) > STARVATION);
        // `PARKED` after popping the head.
        let parked = match head.is_some() && !queue.list.has_one() {
            true => PARKED,
            false => 0,
        };
        let mut state = self.state.load(Ordering::Relaxed);
        // The credit for the head, or for the next one (its clock starts
        // now): the next look while a waiter is on its way.
        let left = state / CREDIT_ONE;
        let credit = head.map(|since| queue.credit(left, now, since));
        let next_credit = queue.credit(left, now, now);
        let (token, credit) = loop {
            let (new, token, credit) = match head {
                // Hand it over: it stays locked, now by the head.
                _ if starved => {
                    let new = (state & WOKEN) | LOCKED | HANDED | parked;
                    (new | (next_credit * CREDIT_ONE), Some(HANDOFF), next_credit)
                }
                // A stale `PARKED` (a waiter withdrew): clear it.
                None => (state & WOKEN, None, 0),
                // One is on its way (we came to look, or a spinner claimed
                // the bit meanwhile): release, with a new credit.
                Some(_) if state & WOKEN != 0 => {
                    let credit = credit.unwrap_or(CREDIT_FIRST);
                    (WOKEN | PARKED | (credit * CREDIT_ONE), None, credit)
                }
                // Wake the head to compete.
                Some(_) => {
                    let new = WOKEN | parked | (next_credit * CREDIT_ONE);
                    (new, Some(WOKEN_TOKEN), next_credit)
                }
            };
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break (token, credit),
                Err(s) => state = s,
            }
        };
        if credit != 0 {
            queue.last = Some((now, credit));
        }
        let Some(token) = token else {
            return;
        };
        let next = queue.list.pop_front().expect("a head");
        // The new head's clock starts now.
        if let Some(head) = queue.list.front() {
            head.set_since(Some(now));
        }
        drop(queue);
        next.grant(token);
    }
}

/// The state after an unlock that need not look at the list (nobody
/// parked, or a waiter on its way and credit left, which it spends), or
/// `None` if it must look.
fn released(state: u32) -> Option<u32> {
    debug_assert!(state & LOCKED != 0 && state & HANDED == 0);
    if state & PARKED == 0 {
        Some(state & !LOCKED)
    } else if state & WOKEN == 0 || state < CREDIT_ONE {
        None
    } else {
        Some(state - LOCKED - CREDIT_ONE)
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
