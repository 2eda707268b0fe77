//! `Once` and `OnceCell<T>`: one initialisation, the others parked until it
//! is done.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{List, Waiter};

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;

/// The grant: the runner finished (or gave up).
const FINISHED: usize = 1;

/// No caller runs the initialiser (in `Gate::runner`).
const NOBODY: u64 = 0;
/// Set in a plain thread's caller id: goroutine ids count up from 1 and
/// never reach it.
const THREAD_BIT: u64 = 1 << 63;

/// Who calls: the goroutine (which may move between threads while it runs
/// the initialiser), else the thread. Never `NOBODY`.
fn caller() -> u64 {
    static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static THREAD: u64 = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) | THREAD_BIT;
    }
    match goro_sched::id() {
        Some(id) => id.as_u64(),
        None => THREAD.with(|id| *id),
    }
}

/// The state machine both types share: one caller runs the initialiser, the
/// others wait in a list until it finishes.
struct Gate {
    state: AtomicU8,
    /// While `RUNNING`, the `caller()` running the initialiser, once it has
    /// stored itself (else `NOBODY`): a call from it again is re-entrant,
    /// and would wait for itself for ever. Written only by the runner, so
    /// the runner always sees its own id, and another caller never does.
    runner: AtomicU64,
    waiters: SpinLock<List>,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            state: AtomicU8::new(INCOMPLETE),
            runner: AtomicU64::new(NOBODY),
            waiters: SpinLock::new(List::new()),
        }
    }

    fn is_complete(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Runs `f` unless another caller has completed it; waits while another
    /// runs it. If `f` panics, the gate is complete anyway when
    /// `complete_on_panic` (Go's `Once`), else open again for the next
    /// caller (std's `OnceLock`).
    ///
    /// # Panics
    /// If called from `f` (the same goroutine or thread, while it runs `f`),
    /// with a message naming `what` was called: std's `OnceCell` panics
    /// too, where waiting would hang. The panic unwinds through `f`.
    #[track_caller]
    fn run(&self, f: impl FnOnce(), complete_on_panic: bool, what: &'static str) {
        let mut me = NOBODY;
        loop {
            match self.state.compare_exchange(
                INCOMPLETE,
                RUNNING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.runner.store(caller(), Ordering::Relaxed);
                    let mut finish = Finish {
                        gate: self,
                        state: if complete_on_panic {
                            COMPLETE
                        } else {
                            INCOMPLETE
                        },
                    };
                    f();
                    finish.state = COMPLETE;
                    return;
                }
                Err(COMPLETE) => return,
                Err(_) => {
                    if me == NOBODY {
                        me = caller();
                    }
                    if self.runner.load(Ordering::Relaxed) == me {
                        panic!("goro::sync::{what} called re-entrantly from its own initialiser");
                    }
                    self.wait_running();
                }
            }
        }
    }

    #[track_caller]
    fn wait_running(&self) {
        let waiter = Waiter::new(0);
        {
            let mut list = self.waiters.lock();
            // `Finish` stores the state before it takes this lock.
            if self.state.load(Ordering::Acquire) != RUNNING {
                return;
            }
            // SAFETY: it waits below, after the lock is released.
            unsafe { list.push_back(&waiter) };
        }
        waiter.wait(Wait::Once, &self.waiters, |list| list, None, |_| {}, |_| {});
    }
}

/// Ends a run, normally or by a panic: publishes the state, wakes waiters.
struct Finish<'a> {
    gate: &'a Gate,
    state: u8,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        // Before the state: the next runner (after a panic that left it
        // open) stores itself only after this.
        self.gate.runner.store(NOBODY, Ordering::Relaxed);
        self.gate.state.store(self.state, Ordering::Release);
        let all = self.gate.waiters.lock().drain();
        all.grant_all(FINISHED);
    }
}

/// Go's `sync.Once`: runs a function once; concurrent callers wait (parked)
/// until it has returned.
///
/// As in Go, a function that panics counts as run: later calls do nothing.
///
/// ```
/// use goro_sync::Once;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static INIT: Once = Once::new();
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
/// let handles: Vec<_> = (0..10)
///     .map(|_| goro_sched::go(|| INIT.call_once(|| { RUNS.fetch_add(1, Ordering::SeqCst); })))
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(RUNS.load(Ordering::SeqCst), 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    gate: Gate,
}

impl Once {
    /// A `Once` that has not run.
    ///
    /// ```
    /// use goro_sync::Once;
    ///
    /// static INIT: Once = Once::new();
    /// INIT.call_once(|| println!("once"));
    /// assert!(INIT.is_completed());
    /// ```
    pub const fn new() -> Once {
        Once { gate: Gate::new() }
    }

    /// Runs `f` if no call has yet; if one is running, waits for it.
    ///
    /// # Panics
    /// If `f` panics (the `Once` counts as run, as in Go), or if `f` calls
    /// `call_once` on the same `Once`, from the same goroutine or thread:
    /// waiting for itself, it would hang for ever (as Go's does). Calls from
    /// other goroutines and threads wait.
    ///
    /// ```
    /// use goro_sched::go;
    /// use goro_sync::Once;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// static ONCE: Once = Once::new();
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let handles: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let runs = runs.clone();
    ///         go(move || ONCE.call_once(|| { runs.fetch_add(1, Ordering::SeqCst); }))
    ///     })
    ///     .collect();
    /// for h in handles {
    ///     h.join().unwrap();
    /// }
    /// assert_eq!(runs.load(Ordering::SeqCst), 1);
    /// ```
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        if !self.gate.is_complete() {
            self.gate.run(f, true, "Once::call_once");
        }
    }

    /// Whether a call has completed.
    ///
    /// ```
    /// let once = goro_sync::Once::new();
    /// assert!(!once.is_completed());
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.gate.is_complete()
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}

/// A cell written once, by the first [`get_or_init`](OnceCell::get_or_init)
/// (or [`set`](OnceCell::set)); concurrent initialisers wait, parked, for
/// it. An initialiser that panics leaves the cell empty for the next caller,
/// as std's `OnceLock`.
///
/// ```
/// use goro_sync::OnceCell;
///
/// static CONFIG: OnceCell<String> = OnceCell::new();
/// let h = goro_sched::go(|| CONFIG.get_or_init(|| "from a goroutine".to_string()).len());
/// let here = CONFIG.get_or_init(|| "from main".to_string()).len();
/// assert_eq!(h.join().unwrap(), here); // both saw the same value
/// assert!(CONFIG.get().is_some());
/// ```
pub struct OnceCell<T> {
    gate: Gate,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, before `COMPLETE` is published, and only
// read after; sharing the cell shares `&T` (`Sync`) and may drop or hand out
// the value on another thread (`Send`), as std's `OnceLock`.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// use goro_sync::OnceCell;
    ///
    /// static CONFIG: OnceCell<String> = OnceCell::new();
    /// assert_eq!(CONFIG.get_or_init(|| "loaded".to_string()), "loaded");
    /// ```
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            gate: Gate::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if set.
    ///
    /// ```
    /// let cell = goro_sync::OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(5).unwrap();
    /// assert_eq!(cell.get(), Some(&5));
    /// ```
    pub fn get(&self) -> Option<&T> {
        match self.gate.is_complete() {
            true => {
                // SAFETY: complete means written, and never written again.
                let value = unsafe { &*self.value.get() };
                // SAFETY: as above.
                Some(unsafe { value.assume_init_ref() })
            }
            false => None,
        }
    }

    /// The value, initialised with `f` first if the cell is empty. Callers
    /// that arrive while another runs `f` wait for it.
    ///
    /// ```
    /// let cell = goro_sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init(|| 1), 1);
    /// assert_eq!(*cell.get_or_init(|| 2), 1); // already set: `f` does not run
    /// ```
    ///
    /// # Panics
    /// If `f` panics (the cell stays empty), or if `f` initialises the cell
    /// itself (`get_or_init` or `set` from `f`, which would wait for itself
    /// for ever), as std's `OnceCell`.
    #[track_caller]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.initialise(f, "OnceCell::get_or_init")
    }

    /// `get_or_init`, saying which method was called if it is re-entrant.
    #[track_caller]
    fn initialise(&self, f: impl FnOnce() -> T, what: &'static str) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        self.gate.run(
            || {
                let value = f();
                // SAFETY: we run the gate: no one else writes or reads.
                unsafe { (*self.value.get()).write(value) };
            },
            false,
            what,
        );
        self.get().expect("the gate completed")
    }

    /// Sets the value if the cell is empty; else gives `value` back.
    ///
    /// ```
    /// let cell = goro_sync::OnceCell::new();
    /// assert_eq!(cell.set("first"), Ok(()));
    /// assert_eq!(cell.set("second"), Err("second"));
    /// ```
    ///
    /// # Panics
    /// If called from the cell's own initialiser (see `get_or_init`).
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.initialise(|| value.take().expect("runs once"), "OnceCell::set");
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, through a unique borrow.
    ///
    /// ```
    /// let mut cell = goro_sync::OnceCell::new();
    /// assert_eq!(cell.get_mut(), None);
    /// cell.set(1).unwrap();
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self.gate.is_complete() {
            // SAFETY: complete means written; the borrow is unique.
            true => Some(unsafe { self.value.get_mut().assume_init_mut() }),
            false => None,
        }
    }

    /// The value, consuming the cell.
    ///
    /// ```
    /// let cell = goro_sync::OnceCell::new();
    /// cell.set(String::from("value")).unwrap();
    /// assert_eq!(cell.into_inner().as_deref(), Some("value"));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        match self.gate.is_complete() {
            true => {
                // Mark it empty first so that `drop` does not drop it again.
                self.gate.state.store(INCOMPLETE, Ordering::Relaxed);
                // SAFETY: we own the cell, nobody else reads it.
                let value = unsafe { &*self.value.get() };
                // SAFETY: complete means written; marked empty above, so it
                // is read out once.
                Some(unsafe { value.assume_init_read() })
            }
            false => None,
        }
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.gate.is_complete() {
            // SAFETY: complete means written; we own the cell.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceCell").field(&self.get()).finish()
    }
}
