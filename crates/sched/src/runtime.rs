//! `Runtime`: a runtime's public handle (`go`, `run`, `dump`, `stats`)
//! and its shutdown.
//!
//! # Shutdown
//!
//! 1. `shutdown` is set and every worker woken.
//! 2. Each worker finishes the goroutine it runs (up to its next park point).
//!    In the default mode it then unwinds, on its own thread, every
//!    goroutine that started there, parked or queued, and the fresh ones it
//!    finds (`WorkerCtx::drain`), again as their destructors wake others,
//!    until none that started there is left. A goroutine that others borrow
//!    from (`Task::is_lent`: a scope's goroutines, a `blocking` call) waits
//!    for them: a scope's goroutines are unwound before it. In the
//!    migrating mode it moves its queues to the injector instead. Then it
//!    exits. Destructors that spawn get goroutines cancelled before they
//!    run.
//! 3. The thread that shut down waits for the workers (up to the timeout),
//!    then unwinds what is left that it may: in the migrating mode every
//!    goroutine that no worker is still running, parked or queued (on a
//!    drain thread: a goroutine whose destructor waits while it unwinds
//!    leaves its thread "panicking" meanwhile, or for good if the timeout
//!    gives up on it); in the default mode the fresh ones only. Each
//!    unwound goroutine's destructors run and its `JoinHandle` reports it
//!    cancelled. A destructor that waits (parks) while its goroutine
//!    unwinds is resumed when woken, or at the drain's next pass (each
//!    millisecond: waits on time end without timers), and the unwind goes
//!    on after it.
//! 4. A worker still running a goroutine after the timeout is left to it:
//!    that goroutine (and its thread) is leaked, not unwound under its feet,
//!    and so, in the default mode, are the goroutines that started on it
//!    (or on a worker still unwinding its own, which gives up) and the
//!    goroutines lent to something that never ended.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self};
use std::time::{Duration, Instant};

use crate::shared::Shared;
use crate::task::{JoinError, JoinHandle, TaskRef};
use crate::worker::{self};

/// A goroutine runtime: worker threads that run goroutines.
///
/// Most programs use the global runtime behind [`go`](fn@crate::go) and
/// [`run`](crate::run), started on first use. A `Runtime` of your own has its
/// own workers and its own lifetime: dropping it waits for its running
/// goroutines to reach a park point, then unwinds every parked one, so that
/// their destructors run.
///
/// ```
/// let rt = goro_sched::Runtime::builder().workers(2).build()?;
/// let h = rt.go(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// assert_eq!(rt.run(|| "hello"), "hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
    pub(crate) threads: Vec<thread::JoinHandle<()>>,
    pub(crate) sysmon: Option<thread::JoinHandle<()>>,
}

impl Runtime {
    /// Spawns a goroutine on this runtime.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let h = rt.go(|| goro_sched::id().is_some()); // a goroutine of `rt`
    /// assert!(h.join().unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// If the runtime has shut down, or no stack can be had (see
    /// [`Builder::go`](crate::Builder::go) for the non-panicking form).
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        go_on(&self.shared, Location::caller(), f)
    }

    /// Runs `f` as a goroutine on this runtime and waits for it; a panic in
    /// `f` is re-raised here.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(2).build()?;
    /// let answer = rt.run(|| {
    ///     let h = goro_sched::go(|| 21); // spawned on `rt` too
    ///     h.join().unwrap() * 2
    /// });
    /// assert_eq!(answer, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// Also if the runtime finds every goroutine waiting with nothing left
    /// to wake any, as Go does: "all goroutines are asleep - deadlock!",
    /// then a dump of the goroutines (see
    /// [`RuntimeBuilder::detect_deadlocks`](crate::RuntimeBuilder::detect_deadlocks)).
    #[track_caller]
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        run_on(&self.shared, Location::caller(), f)
    }

    /// Shuts the runtime down: waits up to `timeout` for running goroutines to
    /// reach a park point, then unwinds every parked or queued goroutine (their
    /// destructors run; their `JoinHandle`s report cancellation). A goroutine
    /// still running after `timeout` is left running on its thread.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let sleeper = rt.go(move || {
    ///     let _tx = tx; // dropped when the goroutine is unwound
    ///     goro_sched::sleep(Duration::from_secs(3600));
    /// });
    /// rt.shutdown_timeout(Duration::from_secs(1));
    /// assert!(sleeper.join().unwrap_err().is_cancelled());
    /// assert!(rx.recv().is_err()); // its destructors ran
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(timeout);
    }

    fn shutdown(&mut self, timeout: Duration) {
        let shared = &self.shared;
        if worker::with_worker(shared, |_| ()).is_some() {
            panic!(
                "a Runtime cannot be shut down or dropped from one of its own goroutines: \
                 it would wait for itself; drop it from outside (a plain thread or another runtime)"
            );
        }
        if shared.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(sysmon) = self.sysmon.take() {
            sysmon.thread().unpark();
            let _ = sysmon.join();
        }
        {
            // Under the lock, so that no spare starts after this.
            let _spares = shared.spares.lock().unwrap_or_else(|e| e.into_inner());
            for i in 0..shared.workers.len() {
                shared.wake_worker(i);
            }
        }
        let deadline = Instant::now().checked_add(timeout);
        {
            let mut threads = shared.threads.lock().unwrap_or_else(|e| e.into_inner());
            while *threads > 0 {
                let wait = match deadline {
                    Some(d) => d.saturating_duration_since(Instant::now()),
                    None => Duration::from_secs(3600),
                };
                if wait.is_zero() {
                    break;
                }
                threads = shared
                    .threads_cv
                    .wait_timeout(threads, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let all_exited = *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) == 0;
        if all_exited {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        } else {
            // Workers still unwinding their goroutines leave the rest.
            shared.abandoned.store(true, Ordering::Release);
        }
        if shared.migrate {
            // On a thread of its own: a destructor that waits while its
            // goroutine unwinds leaves that thread "panicking" (the unwind
            // is in flight) until it ends, for good if shutdown gives up on
            // it, and it must not be the caller's.
            let s = Arc::clone(shared);
            let drained = thread::Builder::new()
                .name(format!("{}-drain", shared.name))
                .spawn(move || Runtime::drain(&s, deadline));
            match drained {
                Ok(handle) => {
                    let _ = handle.join();
                }
                Err(_) => Runtime::drain(shared, deadline),
            }
        } else {
            Runtime::drain(shared, deadline);
        }
        shared.timers.clear();
    }

    /// Unwinds every goroutine that no worker runs (step 3 of the module
    /// docs): the parked ones (registered) and the queued ones (the workers
    /// moved their queues to the injector), again while that unwinds any,
    /// since destructors may wake goroutines. In the default mode the
    /// workers unwound their own already: only fresh goroutines are left
    /// for this thread, and the started ones of workers that shutdown gave
    /// up on are leaked. A goroutine whose stack others borrow
    /// (`Task::is_lent`) waits for them to be unwound first, and is leaked
    /// if they never are. One whose destructor waits while it unwinds is
    /// run again every millisecond (its wait sees whether it is over) until
    /// `deadline`, then left parked: leaked.
    fn drain(shared: &Shared, deadline: Option<Instant>) {
        let mut lent: Vec<TaskRef> = Vec::new();
        loop {
            let running: Vec<*mut ()> = shared
                .workers
                .iter()
                .map(|w| w.running.load(Ordering::Acquire))
                .collect();
            // Run references (queued), then references to parked ones.
            let mut queued: Vec<TaskRef> = std::mem::take(&mut lent);
            while let Some(task) = shared.injector.steal().success() {
                queued.push(task);
            }
            // Fresh goroutines placed on a worker that may have left
            // (`Shared::send_fresh`).
            for w in shared.workers.iter() {
                while let Some(task) = w.fresh_inbox.steal().success() {
                    queued.push(task);
                }
            }
            let parked = shared.registry.all();
            let (mut unwound, mut waiting) = (0, 0);
            for task in queued {
                if task.is_lent() || !(shared.migrate || task.is_fresh()) {
                    lent.push(task);
                } else if Self::unwind_here(shared, task) {
                    unwound += 1;
                } else {
                    waiting += 1;
                }
            }
            for task in parked {
                if running.contains(&task.addr().cast_mut())
                    || task.is_lent()
                    || !(shared.migrate || task.is_fresh())
                {
                    continue;
                }
                // A parked goroutine's run reference is its park's (see
                // `task.rs`): take it; one that is not parked is queued, or
                // running.
                if let Some(run) = task.take_parked() {
                    if Self::unwind_here(shared, run) {
                        unwound += 1;
                    } else {
                        waiting += 1;
                    }
                }
            }
            if unwound == 0 {
                if waiting == 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
        // Goroutines still lent (what borrows from them never ended) are
        // leaked with their run references: unwinding them would free what
        // is borrowed, and dropping the reference could unwind them.
        lent.into_iter().for_each(std::mem::forget);
    }

    /// Unwinds a goroutine whose run reference we hold, on this thread, or
    /// goes on unwinding it; returns whether it finished.
    fn unwind_here(shared: &Shared, task: TaskRef) -> bool {
        // SAFETY: no worker runs it (workers have exited, or were not
        // running it and no longer take work), and we hold its run
        // reference, so this thread owns it now.
        let finished = unsafe { worker::unwind_task(shared, task.clone(), 0) };
        if finished {
            shared.registry.remove(&task);
        }
        finished
    }

    /// Every goroutine of this runtime: see [`goro_sched::dump`](crate::dump()).
    ///
    /// ```
    /// use goro_sched::park;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::{Arc, mpsc};
    ///
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let (tx, rx) = mpsc::channel();
    /// let done = Arc::new(AtomicBool::new(false));
    /// let d = done.clone();
    /// let h = rt.go(move || {
    ///     tx.send(park::current_unparker()).unwrap();
    ///     while !d.load(Ordering::Acquire) {
    ///         park::park();
    ///     }
    /// });
    /// let unparker = rx.recv().unwrap();
    /// while !rt.dump().contains("[park, ") {
    ///     std::thread::yield_now(); // until it has parked
    /// }
    /// assert!(rt.dump().starts_with("goro: 1 goroutines, 1 workers, 0 spare threads (runtime "));
    /// done.store(true, Ordering::Release);
    /// unparker.unpark();
    /// h.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> String {
        crate::dump::render(&self.shared)
    }

    /// As [`dump`](Runtime::dump), with a full stack trace of each parked
    /// goroutine (see [`dump_with_backtraces`](crate::dump_with_backtraces())).
    pub fn dump_with_backtraces(&self) -> String {
        crate::dump::render_with(&self.shared, true)
    }

    /// A snapshot of this runtime's counters.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// rt.run(|| goro_sched::go(|| ()).join().unwrap());
    /// let stats = rt.stats();
    /// assert_eq!(stats.workers, 1);
    /// assert!(stats.spawned >= 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> crate::Stats {
        crate::Stats::of(&self.shared)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(Duration::MAX);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.shared.procs)
            .field("goroutines", &self.shared.alive())
            .finish()
    }
}

/// Takes a waiter of `run` out of the list.
struct RunWaiter<'a>(&'a Shared);

impl Drop for RunWaiter<'_> {
    fn drop(&mut self) {
        let me = crate::park::current_unparker();
        let mut waiters = self.0.run_waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = waiters.iter().position(|w| w.same_as(&me)) {
            waiters.swap_remove(pos);
        }
    }
}

/// `Runtime::run` on `shared`: spawns `f` there and waits for it, or for
/// the runtime to find a deadlock.
pub(crate) fn run_on<F, T>(shared: &Arc<Shared>, location: &'static Location<'static>, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = go_on(shared, location, f);
    shared
        .run_waiters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(crate::park::current_unparker());
    let _deregister = RunWaiter(shared);
    match handle.join_unless(|| shared.deadlock.get().is_some()) {
        Some(result) => resolve(result),
        None => panic!(
            "{}",
            shared.deadlock.get().expect("join_unless stops only on it")
        ),
    }
}

/// `Runtime::go` on `shared`.
fn go_on<F, T>(shared: &Arc<Shared>, location: &'static Location<'static>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match worker::with_here(shared, |here| {
        shared.spawn(here, None, None, location, true, f)
    }) {
        Ok(handle) => handle,
        Err(e) => panic!("cannot spawn a goroutine: {e}"),
    }
}

/// A join's result, with a panic of the goroutine re-raised.
fn resolve<T>(result: Result<T, JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("{e}"),
        },
    }
}
