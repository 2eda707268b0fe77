//! `scope`: goroutines that may borrow from the caller's stack, as
//! `std::thread::scope` does for threads.
//!
//! Soundness rests on one rule: `scope` does not return (nor unwind) before
//! every goroutine spawned on it has finished *and dropped everything it
//! borrowed*. Each goroutine's body ends with a guard that counts it out only
//! after its closure and result are gone (or handed to its still-borrowed
//! handle); `scope` waits for the count to reach zero even when its own
//! closure panics. That is what lets the bodies' lifetimes be erased to
//! `'static` for the scheduler.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use goro_fiber::ForcedUnwind;

use crate::park::{self, Unparker};
use crate::runtime;
use crate::task::{JoinError, JoinHandle, JoinInner};

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
            running: AtomicUsize::new(0),
            waiter: Mutex::new(None),
            panicked: Mutex::new(Vec::new()),
        }),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.wait_all();
    let first_panic = scope
        .data
        .lock_panicked()
        .drain(..)
        .find_map(|slot| slot.take_panic());
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if first_panic.is_some() => {
            panic::resume_unwind(first_panic.expect("checked"))
        }
        Ok(value) => value,
    }
}

/// Spawns goroutines that may borrow from outside the [`scope`] call.
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

struct ScopeData {
    running: AtomicUsize,
    waiter: Mutex<Option<Unparker>>,
    /// The joins of goroutines that panicked, in order. Their lifetimes are
    /// erased: they are drained before `scope` returns.
    panicked: Mutex<Vec<Arc<dyn TakePanic>>>,
}

impl ScopeData {
    fn lock_panicked(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn TakePanic>>> {
        self.panicked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait_all(&self) {
        while self.running.load(Ordering::Acquire) != 0 {
            *self.waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(park::current_unparker());
            if self.running.load(Ordering::Acquire) == 0 {
                break;
            }
            park::park();
        }
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

/// Takes a panic payload out of a type-erased join slot.
trait TakePanic: Send + Sync {
    fn take_panic(&self) -> Option<Box<dyn Any + Send>>;
}

impl<T: Send> TakePanic for JoinInner<T> {
    fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.take_panic_payload()
    }
}

/// Counts a scoped goroutine out when dropped, even while unwinding.
struct CountOut(Arc<ScopeData>);

impl Drop for CountOut {
    fn drop(&mut self) {
        self.0.done_one();
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a goroutine that may borrow anything that outlives the scope.
    ///
    /// # Panics
    /// If no stack can be had for it.
    #[track_caller]
    pub fn go<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let join: Arc<JoinInner<T>> = JoinInner::new();
        let data = self.data.clone();
        data.running.fetch_add(1, Ordering::AcqRel);
        let count_out = CountOut(data.clone());
        let slot = join.clone();
        let body = move || {
            // Declared first, so dropped last: after `f`, its result and our
            // reference to the join slot.
            let _count_out = count_out;
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            match result {
                Ok(value) => slot.complete(Ok(value)),
                Err(payload) if payload.is::<ForcedUnwind>() => {
                    slot.complete(Err(JoinError::cancelled()));
                    drop(slot);
                    panic::resume_unwind(payload);
                }
                Err(payload) => {
                    slot.complete(Err(JoinError::panic(payload)));
                    let erased: Arc<dyn TakePanic + 'scope> = slot;
                    // SAFETY: only the lifetime changes. `scope` drains the
                    // list before it returns, so the slot is not used after
                    // `'scope` ends.
                    let erased: Arc<dyn TakePanic> = unsafe { std::mem::transmute(erased) };
                    data.lock_panicked().push(erased);
                }
            }
        };
        let body: Box<dyn FnOnce() + Send + 'scope> = Box::new(body);
        // SAFETY: only the lifetime changes. `scope` waits until this body has
        // run to its end (`CountOut`), or been dropped unstarted, before
        // `'scope` ends, and the body's borrows end with it.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        let shared = runtime::current();
        let handle = match shared.spawn(None, None, body) {
            Ok(handle) => handle,
            Err(e) => panic!("cannot spawn a scoped goroutine: {e}"),
        };
        ScopedJoinHandle {
            join,
            id: handle.id(),
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
pub struct ScopedJoinHandle<'scope, T> {
    join: Arc<JoinInner<T>>,
    id: crate::GoroutineId,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine and returns its result, as
    /// [`JoinHandle::join`].
    ///
    /// # Errors
    /// A [`JoinError`] if it panicked; the scope then does not re-raise that
    /// panic.
    pub fn join(self) -> Result<T, JoinError> {
        JoinHandle::new(self.join, self.id).join()
    }

    /// The goroutine's id.
    pub fn id(&self) -> crate::GoroutineId {
        self.id
    }

    /// Whether the goroutine has finished.
    pub fn is_finished(&self) -> bool {
        self.join.is_done()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").field("id", &self.id).finish()
    }
}
