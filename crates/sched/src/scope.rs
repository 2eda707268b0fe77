//! `scope`: goroutines that may borrow from the caller's stack, as
//! `std::thread::scope` does for threads.
//!
//! Soundness rests on one rule: `scope` does not return (nor unwind) before
//! every goroutine spawned on it has finished *and dropped everything it
//! borrowed*. Each goroutine's function is wrapped with a guard that counts it
//! out only after the function has returned or unwound (or been dropped
//! unrun); its result stays in its task, reachable only through the
//! `ScopedJoinHandle`, which cannot outlive the scope. `scope` waits for the
//! count to reach zero even when its own closure panics. That is what lets
//! the tasks' lifetimes be erased to `'static` for the scheduler.
//!
//! A runtime's shutdown unwinds goroutines, and a `scope` inside one that is
//! unwound must still wait: so the goroutine that opened the scope is
//! *lent* (`Task::lend`) while the function of any of the scope's
//! goroutines runs (or waits to), and shutdown unwinds those first, the
//! scope's owner only after them. A finished goroutine's result, held by
//! its handle, does not lend the owner: unwinding the owner drops the
//! handle, and the result with it, before `scope` waits. An owner being
//! unwound cannot park (each park would unwind again), so `scope` then
//! waits for the last results on its thread, which are microseconds away
//! (a goroutine between its function's end and its result's drop); should
//! they never come, it aborts rather than return.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use goro_fiber::ForcedUnwind;

use crate::park::{self, Unparker};
use crate::task::{Fiber, JoinError, JoinHandle, Task, TaskRef};
use crate::worker;

/// Runs `f` with a [`Scope`] on which it can spawn goroutines that borrow from
/// the caller; returns once all of them have finished. If any of them
/// panicked and its handle was not joined, the first such panic is re-raised
/// here (after all have finished). Inside a goroutine the wait parks it; on a
/// plain thread it blocks.
///
/// ```
/// let data = vec![1, 2, 3, 4];
/// let mut total = 0;
/// goro_sched::scope(|s| {
///     let halves: Vec<_> = data
///         .chunks(2)
///         .map(|chunk| s.go(move || chunk.iter().sum::<i32>()))
///         .collect();
///     total = halves.into_iter().map(|h| h.join().unwrap()).sum();
/// });
/// assert_eq!(total, 10);
/// ```
#[track_caller]
pub fn scope<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            owner: worker::current_task(),
            running: AtomicUsize::new(0),
            waiter: Mutex::new(None),
            panicked: Mutex::new(Vec::new()),
        }),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.wait_all();
    let panicked = std::mem::take(&mut *scope.data.lock_panicked());
    let first_panic = panicked.iter().find_map(take);
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if first_panic.is_some() => panic::resume_unwind(first_panic.expect("checked")),
        Ok(value) => value,
    }
}

/// Spawns goroutines that may borrow from outside the [`scope`] call.
///
/// ```
/// let mut counts = [0; 4];
/// goro_sched::scope(|s| {
///     for (i, c) in counts.iter_mut().enumerate() {
///         s.go(move || *c = i * 10); // each goroutine borrows one element
///     }
/// });
/// assert_eq!(counts, [0, 10, 20, 30]);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

struct ScopeData {
    /// The goroutine that opened the scope (none on a plain thread): lent
    /// while its goroutines run.
    owner: Option<TaskRef>,
    running: AtomicUsize,
    waiter: Mutex<Option<Unparker>>,
    /// The panics of its goroutines, in order; a `join` takes its own out.
    panicked: Mutex<Vec<PanicSlot>>,
}

type PanicSlot = Arc<Mutex<Option<Box<dyn Any + Send>>>>;

fn take(slot: &PanicSlot) -> Option<Box<dyn Any + Send>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// What a scoped goroutine's task holds as its result. The `CountOut` rides
/// along, so the goroutine counts out only when the result is consumed or
/// dropped: nothing that may borrow from the scope outlives the count.
enum Outcome<T> {
    Returned(T, CountOut),
    Panicked(PanicSlot, CountOut),
}

impl ScopeData {
    fn lock_panicked(&self) -> std::sync::MutexGuard<'_, Vec<PanicSlot>> {
        self.panicked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_all(&self) {
        while self.running.load(Ordering::Acquire) != 0 {
            *self.waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(park::current_unparker());
            if self.running.load(Ordering::Acquire) == 0 {
                break;
            }
            if let Err(payload) =
                panic::catch_unwind(AssertUnwindSafe(|| park::park_on(park::Wait::Join)))
            {
                self.wait_unwinding();
                panic::resume_unwind(payload);
            }
        }
    }

    /// The owner is being unwound (shutdown) and cannot park: no function
    /// of the scope's goroutines runs any more (it was lent until then), but
    /// a result may be microseconds from being dropped on another thread.
    /// Waits for that on this thread, and aborts if it never comes.
    #[cold]
    fn wait_unwinding(&self) {
        const BOUND: std::time::Duration = std::time::Duration::from_secs(10);
        let start = std::time::Instant::now();
        while self.running.load(Ordering::Acquire) != 0 {
            if start.elapsed() > BOUND {
                eprintln!(
                    "goro: a scope was unwound while {} of its goroutines still hold results \
                     that may borrow from it (a ScopedJoinHandle forgotten?); aborting",
                    self.running.load(Ordering::Acquire)
                );
                std::process::abort();
            }
            std::thread::yield_now();
        }
    }

    fn start_one(&self) -> Lent {
        self.running.fetch_add(1, Ordering::AcqRel);
        if let Some(owner) = &self.owner {
            owner.lend();
        }
        Lent(self.owner.clone())
    }

    fn done_one(&self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waiter = self.waiter.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waiter) = waiter {
                waiter.unpark();
            }
        }
    }
}

/// Repays the scope owner's loan (`Task::lend`) when dropped: when a scoped
/// goroutine's function has returned or unwound, or is dropped unrun.
struct Lent(Option<TaskRef>);

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(owner) = &self.0 {
            owner.repay();
        }
    }
}

/// Counts a scoped goroutine out when dropped: after its function and
/// result are gone, even while unwinding, or when dropped unrun.
struct CountOut(Arc<ScopeData>);

impl Drop for CountOut {
    fn drop(&mut self) {
        self.0.done_one();
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a goroutine that may borrow anything that outlives the scope.
    ///
    /// ```
    /// let words = vec!["go", "goro"];
    /// let total = goro_sched::scope(|s| {
    ///     let h = s.go(|| words.iter().map(|w| w.len()).sum::<usize>()); // borrows `words`
    ///     h.join().unwrap()
    /// });
    /// assert_eq!(total, 6);
    /// ```
    ///
    /// Once its runtime has shut down (a destructor that the shutdown runs
    /// may spawn), the goroutine is cancelled before it runs, as with
    /// [`go()`](crate::go()): its function is dropped, and `join` reports it
    /// cancelled.
    #[track_caller]
    pub fn go<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let data = self.data.clone();
        let lent = data.start_one();
        let count_out = CountOut(data.clone());
        let body = move || {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            // Its function is done: nothing on its stack borrows any more.
            drop(lent);
            match result {
                Ok(value) => Outcome::Returned(value, count_out),
                // Shutdown unwinds it: count out on the way (nothing is kept).
                Err(payload) if payload.is::<ForcedUnwind>() => panic::resume_unwind(payload),
                Err(payload) => {
                    let slot = Arc::new(Mutex::new(Some(payload)));
                    data.lock_panicked().push(slot.clone());
                    Outcome::Panicked(slot, count_out)
                }
            }
        };
        let shared = crate::current::with_current(Arc::clone);
        let fiber = Fiber::Lazy {
            stack_size: shared.stack_size,
        };
        // SAFETY: `scope` does not return before this goroutine's `CountOut`
        // is dropped: with its function, if that is dropped unrun or unwound;
        // else with its `Outcome`, which is joined, or dropped when the
        // `ScopedJoinHandle<'scope, T>` is (a detached result is dropped at
        // once). After that the task holds nothing that borrows.
        // (No worker at hand: the runtime reference is counted on its own.)
        let (task, handle) =
            match unsafe { Task::spawn(&shared, None, None, Location::caller(), fiber, body) } {
                Some(spawned) => spawned,
                // No memory for it: its function (and count) are gone, and
                // its join says so.
                None => {
                    return ScopedJoinHandle {
                        handle: JoinHandle::never_was(),
                        _scope: PhantomData,
                    };
                }
            };
        if shared.is_shutdown() {
            // As `go` then.
            shared.cancel_unrun(task, None);
        } else {
            shared.start(task);
        }
        ScopedJoinHandle {
            handle,
            _scope: PhantomData,
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.load(Ordering::Relaxed))
            .finish()
    }
}

/// Waits for a goroutine spawned with [`Scope::go`].
///
/// ```
/// let data = [1, 2, 3];
/// goro_sched::scope(|s| {
///     let h = s.go(|| data.iter().sum::<i32>());
///     assert_eq!(h.join().unwrap(), 6);
/// });
/// ```
///
/// Dropping the handle leaves the result to the scope, which drops it
/// before it returns. A handle that is never dropped (`mem::forget`) keeps
/// the scope waiting for good, as with `std::thread::scope`: the result may
/// borrow from the scope's caller, so the scope cannot return before it is
/// dropped, and only the handle may drop it.
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<Outcome<T>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine and returns its result, as
    /// [`JoinHandle::join`].
    ///
    /// ```
    /// goro_sched::scope(|s| {
    ///     let h = s.go(|| -> u32 { panic!("scoped") });
    ///     assert!(h.join().unwrap_err().is_panic()); // joined: `scope` does not re-raise it
    /// });
    /// ```
    ///
    /// # Errors
    /// A [`JoinError`] if it panicked; the scope then does not re-raise that
    /// panic.
    pub fn join(self) -> Result<T, JoinError> {
        match self.handle.join()? {
            Outcome::Returned(value, _count_out) => Ok(value),
            Outcome::Panicked(slot, _count_out) => match take(&slot) {
                Some(payload) => Err(JoinError::panic(payload)),
                None => unreachable!(
                    "only a join takes a scoped goroutine's panic before its scope ends"
                ),
            },
        }
    }

    /// The goroutine's id.
    ///
    /// ```
    /// goro_sched::scope(|s| {
    ///     let h = s.go(goro_sched::id);
    ///     let id = h.id();
    ///     assert_eq!(h.join().unwrap(), Some(id));
    /// });
    /// ```
    pub fn id(&self) -> crate::GoroutineId {
        self.handle.id()
    }

    /// Whether the goroutine has finished.
    ///
    /// ```
    /// goro_sched::scope(|s| {
    ///     let h = s.go(|| 1);
    ///     while !h.is_finished() {
    ///         goro_sched::yield_now();
    ///     }
    ///     assert_eq!(h.join().unwrap(), 1);
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.handle.id())
            .finish()
    }
}
