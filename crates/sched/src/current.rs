//! The current runtime of a thread: a worker's own, else the one it
//! entered (`Runtime::enter`), else the global one, started on first use.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::runtime::Runtime;
use crate::shared::Shared;
use crate::worker::{self, WorkerCtx};

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// The global runtime, if something has started it.
pub(crate) fn global_if_started() -> Option<&'static Runtime> {
    GLOBAL.get()
}

/// The global runtime, started on first use with `GORO_MAXPROCS` workers.
pub(crate) fn global() -> &'static Runtime {
    GLOBAL.get_or_init(|| match Runtime::builder().name("goro-worker").build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start goro's global runtime: {e}"),
    })
}

/// Runs `f` with the runtime to spawn on from here: this worker's (so the
/// current goroutine's), else the one this thread entered, else the global
/// one.
pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    with_current_here(|rt, _| f(rt))
}

/// As `with_current`, with this thread's worker too if it is one (of the
/// runtime it names): one thread-local read for both.
pub(crate) fn with_current_here<R>(f: impl FnOnce(&Arc<Shared>, Option<&WorkerCtx>) -> R) -> R {
    let mut f = Some(f);
    if let Some(r) = worker::with_any_worker(|w| (f.take().expect("once"))(&w.shared, Some(w))) {
        return r;
    }
    let f = f.take().expect("not called");
    match entered() {
        Some(shared) => f(&shared, None),
        None => f(&global().shared, None),
    }
}

/// The runtime of this thread when it is not a worker: the global one
/// unless it entered another. `None` if that is the global one and it has
/// not started.
pub(crate) fn plain_current() -> Option<Arc<Shared>> {
    entered().or_else(|| global_if_started().map(|rt| Arc::clone(&rt.shared)))
}

thread_local! {
    /// The runtimes this plain thread entered (`Runtime::enter`), each with
    /// its guard's number; the last is the current one.
    static ENTERED: RefCell<Vec<(u64, Arc<Shared>)>> = const { RefCell::new(Vec::new()) };
}

/// Numbers the guards of `Runtime::enter`.
static GUARDS: AtomicU64 = AtomicU64::new(0);

/// The runtime this thread entered last, of those whose guards live. Never
/// inlined: see `worker`'s module docs on thread-locals.
#[inline(never)]
fn entered() -> Option<Arc<Shared>> {
    ENTERED
        .try_with(|e| e.borrow().last().map(|(_, shared)| Arc::clone(shared)))
        .ok()
        .flatten()
}

/// Enters `shared` on this thread, under guard number `guard`.
#[inline(never)]
fn push_entered(guard: u64, shared: Arc<Shared>) {
    let _ = ENTERED.try_with(|e| e.borrow_mut().push((guard, shared)));
}

/// Leaves what guard number `guard` entered, wherever it is in the stack:
/// guards may be dropped in any order.
#[inline(never)]
fn pop_entered(guard: u64) {
    let left = ENTERED.try_with(|e| {
        let mut entered = e.borrow_mut();
        let at = entered.iter().rposition(|(g, _)| *g == guard)?;
        Some(entered.remove(at))
    });
    // Dropped outside the borrow: the last reference may drop the runtime.
    drop(left);
}

/// The guard of [`Runtime::enter`]: while it lives, [`go()`](crate::go())
/// and the other free functions called from its thread use that runtime
/// (the one entered last, of those whose guards live).
#[must_use = "the runtime is the current one only while the guard lives"]
pub struct EnterGuard<'a> {
    number: u64,
    // Tied to the thread whose thread-local it changes, and to the runtime.
    _not_send: PhantomData<(*const (), &'a Runtime)>,
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        pop_entered(self.number);
    }
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

impl Runtime {
    /// Makes this runtime the current one of the calling thread until the
    /// guard drops, as tokio's `Runtime::enter`: [`go()`](crate::go()),
    /// [`run()`](crate::run), [`dump()`](crate::dump()), [`stats()`](crate::stats)
    /// and [`num_goroutines()`](crate::num_goroutines) called from this
    /// thread then use it instead of the global runtime. Inside a goroutine
    /// they always use the goroutine's own runtime.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let _guard = rt.enter();
    /// let h = goro_sched::go(|| goro_sched::num_goroutines()); // on `rt`
    /// assert_eq!(h.join().unwrap(), 1);
    /// assert_eq!(goro_sched::stats().workers, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        let number = GUARDS.fetch_add(1, Ordering::Relaxed);
        push_entered(number, Arc::clone(&self.shared));
        EnterGuard {
            number,
            _not_send: PhantomData,
        }
    }
}
