//! A goroutine (Go's G): its coroutine, its park state and its locals; and
//! the `JoinHandle` that waits for its result.
//!
//! # Park protocol
//!
//! `state` is one of three values, and every transition is a CAS:
//!
//! * `RUNNING`: running on a worker, or queued to run. A wake-up that finds it
//!   here sets `NOTIFIED`; nothing else to do, it is not asleep.
//! * `NOTIFIED`: running, and woken since it last parked. Its next `park`
//!   consumes the notification and returns at once.
//! * `PARKED`: suspended and in nobody's queue. The wake-up that moves it back
//!   to `RUNNING` (only one can) schedules it.
//!
//! The goroutine never sets `PARKED` itself: it suspends with `Switch::Park`,
//! and the worker, once the goroutine is off its stack, CASes `RUNNING ->
//! PARKED`. If that fails, a wake-up came in between (`NOTIFIED`), and the
//! worker runs the goroutine again. So a wake-up is never lost, and a
//! goroutine is never resumed while still on its stack.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use goro_fiber::{Coroutine, ForcedUnwind, Yielder};

use crate::park::{self, Unparker};
use crate::runtime::Shared;
use crate::worker;

/// Why a goroutine switched back to its worker.
#[derive(Debug)]
pub(crate) enum Switch {
    /// `yield_now`: queue it again, behind the others.
    Yield,
    /// `park`: leave it until a wake-up.
    Park,
}

const RUNNING: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

/// A goroutine's unique id, as Go prints it in panics and dumps.
///
/// ```
/// let id = goro_sched::run(|| goro_sched::id().unwrap());
/// assert!(id.as_u64() > 0);
/// assert_eq!(id.to_string(), id.as_u64().to_string());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct GoroutineId(u64);

impl GoroutineId {
    fn next() -> GoroutineId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        GoroutineId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number; ids start at 1 and are never reused.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A goroutine.
pub(crate) struct Task {
    pub(crate) id: GoroutineId,
    pub(crate) name: Option<Box<str>>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) rt: Arc<Shared>,
    state: AtomicU8,
    /// Where it sits in the runtime's registry (shard, slot).
    pub(crate) registry: (usize, AtomicUsize),
    /// Whether it counts as alive (its body has not finished).
    pub(crate) alive: AtomicBool,
    /// The goroutine's fiber. Touched only by the one thread that runs (or
    /// unwinds) the goroutine, which the park protocol makes exclusive.
    fiber: UnsafeCell<Fiber>,
    /// The coroutine's yielder, set when it starts; used only by itself.
    yielder: Cell<*const Yielder<(), Switch>>,
    /// Goroutine-local storage (`local!`); used only by the goroutine itself.
    pub(crate) locals: RefCell<Vec<Option<Box<dyn Any>>>>,
}

// SAFETY: `co`, `yielder` and `locals` are used only by the thread that runs
// the goroutine at the time (or, once no worker can run it, the one that
// unwinds it); the park protocol hands that role from thread to thread with
// acquire/release CASes on `state`. Everything else is atomic or immutable.
unsafe impl Send for Task {}
// SAFETY: as above.
unsafe impl Sync for Task {}

/// What a goroutine runs: its body, wrapped by `body` below. Called with an
/// error instead of on a stack when no stack could be had for it.
pub(crate) type Body = Box<dyn FnOnce(Option<io::Error>) + Send>;

/// A goroutine's coroutine, or what will become one.
pub(crate) enum Fiber {
    /// Not started, and no stack yet: `go` allocates the stack when the
    /// goroutine first runs, so that a million queued goroutines cost no
    /// stacks (and no page faults) until they run.
    Lazy { body: Body, stack_size: usize },
    /// On its stack (started or not).
    Ready(Coroutine<(), Switch, ()>),
    /// Finished or unwound.
    Done,
}

impl Fiber {
    /// A coroutine that runs `body` on a stack of `stack_size` bytes.
    pub(crate) fn ready(body: Body, stack_size: usize) -> Result<Fiber, (Body, io::Error)> {
        // The body moves into the coroutine only if a stack was had: keep it
        // in a slot we can take it back from.
        let slot = Arc::new(Mutex::new(Some(body)));
        let inner = slot.clone();
        let made = Coroutine::with_stack_size(stack_size, move |y: &Yielder<(), Switch>, ()| {
            let body = inner.lock().ok().and_then(|mut b| b.take());
            drop(inner);
            let task = worker::current_task().expect("a goroutine starts on a worker");
            task.yielder.set(y);
            // Its locals die with it, on its own stack, even when unwound.
            let _locals = ClearLocals(task);
            if let Some(body) = body {
                body(None);
            }
        });
        match made {
            Ok(co) => Ok(Fiber::Ready(co)),
            Err(e) => {
                let body = slot.lock().ok().and_then(|mut b| b.take());
                Err((body.expect("not moved: the coroutine never existed"), e))
            }
        }
    }
}

impl Task {
    /// Creates a goroutine that will run `fiber`.
    pub(crate) fn new(
        rt: Arc<Shared>,
        name: Option<Box<str>>,
        location: &'static Location<'static>,
        fiber: Fiber,
    ) -> Arc<Task> {
        let shard = rt.registry.shard_for_spawn();
        Arc::new(Task {
            id: GoroutineId::next(),
            name,
            location,
            rt,
            state: AtomicU8::new(RUNNING),
            registry: (shard, AtomicUsize::new(usize::MAX)),
            alive: AtomicBool::new(false),
            fiber: UnsafeCell::new(fiber),
            yielder: Cell::new(std::ptr::null()),
            locals: RefCell::new(Vec::new()),
        })
    }

    /// Runs the goroutine until it yields, parks or finishes. Returns `None`
    /// when it finished, else why it stopped.
    ///
    /// # Safety
    /// Only the thread that owns the run of this goroutine (it took it from a
    /// queue, or unwinds it at shutdown) may call this, with `CURRENT` set to
    /// it.
    pub(crate) unsafe fn resume(&self) -> Option<Switch> {
        // SAFETY: per the contract, nobody else touches `fiber` now.
        let fiber = unsafe { &mut *self.fiber.get() };
        if let Fiber::Lazy { .. } = fiber {
            let Fiber::Lazy { body, stack_size } = std::mem::replace(fiber, Fiber::Done) else {
                unreachable!()
            };
            match Fiber::ready(body, stack_size) {
                Ok(ready) => *fiber = ready,
                Err((body, e)) => {
                    // No stack: the goroutine fails without running.
                    body(Some(e));
                    return None;
                }
            }
        }
        let Fiber::Ready(co) = fiber else {
            return None;
        };
        match co.resume(()) {
            goro_fiber::CoroutineResult::Yield(switch) => Some(switch),
            goro_fiber::CoroutineResult::Return(()) => {
                // Back to the stack pool now, not when the last `Arc` goes.
                *fiber = Fiber::Done;
                None
            }
        }
    }

    /// Drops the fiber, unwinding its stack if it had started.
    ///
    /// # Safety
    /// As for `resume`.
    pub(crate) unsafe fn unwind(&self) {
        // SAFETY: per the contract, nobody else touches `fiber` now.
        let fiber = unsafe { &mut *self.fiber.get() };
        drop(std::mem::replace(fiber, Fiber::Done));
    }

    /// After the goroutine suspended with `Switch::Park`: marks it parked,
    /// unless a wake-up came first. Returns whether it must run again.
    pub(crate) fn finish_park(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(_) => {
                // NOTIFIED: consume it and run again.
                self.state.store(RUNNING, Ordering::Release);
                true
            }
        }
    }

    /// Wakes the goroutine: schedules it if parked, else leaves a
    /// notification for its next park.
    pub(crate) fn wake(self: &Arc<Task>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (to, schedule) = match state {
                RUNNING => (NOTIFIED, false),
                NOTIFIED => return,
                _ => (RUNNING, true),
            };
            match self
                .state
                .compare_exchange_weak(state, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if schedule {
                        self.rt.schedule(self.clone());
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }

    /// Called by the goroutine itself: returns at once if notified since it
    /// last parked, else suspends until woken.
    pub(crate) fn park(&self) {
        if self
            .state
            .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        self.switch(Switch::Park);
    }

    /// Called by the goroutine itself: suspends to its worker.
    pub(crate) fn switch(&self, why: Switch) {
        let yielder = self.yielder.get();
        debug_assert!(!yielder.is_null());
        // SAFETY: `yielder` was set by this goroutine's own coroutine when it
        // started and lives on its stack, where we are running now.
        unsafe { (*yielder).suspend(why) }
    }
}

/// Drops a goroutine's locals when its body ends or unwinds.
struct ClearLocals(Arc<Task>);

impl Drop for ClearLocals {
    fn drop(&mut self) {
        let locals = std::mem::take(&mut *self.0.locals.borrow_mut());
        drop(locals);
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("spawned_at", &format_args!("{}", self.location))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Join

/// An error from [`JoinHandle::join`]: the goroutine panicked, or its runtime
/// shut down and unwound it before it finished.
pub struct JoinError {
    repr: JoinErrorRepr,
}

enum JoinErrorRepr {
    Panic(Box<dyn Any + Send>),
    Cancelled,
    NoStack(io::Error),
}

impl JoinError {
    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> JoinError {
        JoinError {
            repr: JoinErrorRepr::Panic(payload),
        }
    }

    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: JoinErrorRepr::Cancelled,
        }
    }

    /// Whether the goroutine panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, JoinErrorRepr::Panic(_))
    }

    /// Whether the goroutine was unwound (or dropped unstarted) by its
    /// runtime's shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, JoinErrorRepr::Cancelled)
    }

    /// The panic's payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the goroutine did not panic (see [`is_panic`](JoinError::is_panic)).
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.repr {
            JoinErrorRepr::Panic(payload) => payload,
            _ => panic!("into_panic on a JoinError that is not a panic: {self}"),
        }
    }

    /// The panic's payload, or `Err(self)` if it is not a panic.
    ///
    /// # Errors
    /// `self` when the goroutine did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            JoinErrorRepr::Panic(payload) => Ok(payload),
            _ => Err(self),
        }
    }
}

/// The message of a panic payload, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            JoinErrorRepr::Panic(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => write!(f, "goroutine panicked: {msg}"),
                None => f.write_str("goroutine panicked"),
            },
            JoinErrorRepr::Cancelled => {
                f.write_str("goroutine was cancelled: its runtime shut down before it finished")
            }
            JoinErrorRepr::NoStack(e) => write!(f, "goroutine could not start: {e}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            JoinErrorRepr::Panic(payload) => f
                .debug_tuple("Panic")
                .field(&panic_message(payload.as_ref()).unwrap_or("..."))
                .finish(),
            JoinErrorRepr::Cancelled => f.write_str("Cancelled"),
            JoinErrorRepr::NoStack(e) => f.debug_tuple("NoStack").field(e).finish(),
        }
    }
}

impl std::error::Error for JoinError {}

/// The state a goroutine and its `JoinHandle` share.
pub(crate) struct JoinInner<T> {
    state: Mutex<JoinState<T>>,
}

struct JoinState<T> {
    result: Option<Result<T, JoinError>>,
    done: bool,
    waiter: Option<Unparker>,
}

impl<T> JoinInner<T> {
    pub(crate) fn new() -> Arc<JoinInner<T>> {
        Arc::new(JoinInner {
            state: Mutex::new(JoinState {
                result: None,
                done: false,
                waiter: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JoinState<T>> {
        // Nothing panics while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_done(&self) -> bool {
        self.lock().done
    }

    /// Takes the panic payload out, if the goroutine panicked and nobody
    /// joined it yet.
    pub(crate) fn take_panic_payload(&self) -> Option<Box<dyn Any + Send>> {
        let mut state = self.lock();
        match state.result.take() {
            Some(Err(e)) if e.is_panic() => Some(e.into_panic()),
            other => {
                state.result = other;
                None
            }
        }
    }

    pub(crate) fn complete(&self, result: Result<T, JoinError>) {
        let waiter = {
            let mut state = self.lock();
            state.result = Some(result);
            state.done = true;
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.unpark();
        }
    }
}

/// Wraps a goroutine's function: runs it, catches a panic, and hands the
/// result to the `JoinHandle`, after counting the goroutine out of the live
/// ones (so that whoever joins it sees it gone). A forced unwind (runtime
/// shutdown) marks the join cancelled and goes on unwinding; so does dropping
/// the body unrun.
pub(crate) fn body<F, T>(f: F, join: Arc<JoinInner<T>>) -> Body
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let completer = Completer(Some(join));
    Box::new(move |no_stack: Option<io::Error>| {
        let mut completer = completer;
        let result = match no_stack {
            Some(e) => {
                drop(f);
                Err(JoinError {
                    repr: JoinErrorRepr::NoStack(e),
                })
            }
            None => match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(value) => Ok(value),
                Err(payload) if payload.is::<ForcedUnwind>() => {
                    drop(completer); // completes as cancelled
                    panic::resume_unwind(payload);
                }
                Err(payload) => Err(JoinError::panic(payload)),
            },
        };
        completer.complete(result);
    })
}

/// Completes a join exactly once: with the result, or, if dropped first
/// (unwound, or never run), as cancelled.
struct Completer<T>(Option<Arc<JoinInner<T>>>);

impl<T> Completer<T> {
    fn complete(&mut self, result: Result<T, JoinError>) {
        if let Some(join) = self.0.take() {
            if let Some(task) = worker::current_task() {
                task.rt.registry.mark_exited(&task);
            }
            join.complete(result);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.complete(Err(JoinError::cancelled()));
    }
}

/// An owned permission to wait for a goroutine and take its result.
///
/// Dropping it detaches the goroutine, which runs on.
///
/// ```
/// let h = goro_sched::go(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
///
/// let h = goro_sched::go(|| panic!("oops"));
/// let err = h.join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "goroutine panicked: oops");
/// ```
pub struct JoinHandle<T> {
    inner: Arc<JoinInner<T>>,
    id: GoroutineId,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: Arc<JoinInner<T>>, id: GoroutineId) -> JoinHandle<T> {
        JoinHandle { inner, id }
    }

    /// Waits for the goroutine to finish and returns its result: parks the
    /// calling goroutine, or blocks the calling thread.
    ///
    /// # Errors
    /// A [`JoinError`] if the goroutine panicked (the panic hook has already
    /// printed it) or was unwound by its runtime's shutdown.
    pub fn join(self) -> Result<T, JoinError> {
        loop {
            {
                let mut state = self.inner.lock();
                if state.done {
                    return state.result.take().expect("a result is taken once");
                }
                state.waiter = Some(park::current_unparker());
            }
            park::park();
        }
    }

    /// The goroutine's id.
    pub fn id(&self) -> GoroutineId {
        self.id
    }

    /// Whether the goroutine has finished (returned, panicked or been unwound).
    pub fn is_finished(&self) -> bool {
        self.inner.is_done()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}
