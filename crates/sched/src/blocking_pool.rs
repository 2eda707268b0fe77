//! `goro::blocking` in the default mode: the call runs on a thread of a
//! pool while the goroutine parks, so its worker runs its other goroutines
//! meanwhile (they cannot move to another thread: see `runtime.rs`).
//!
//! The call may borrow from the goroutine's stack, so the goroutine is
//! *lent* (`Task::lend`) while it runs: shutdown does not unwind it until
//! the call has returned. The pool is the process's (one for every
//! runtime): up to `MAX_THREADS` threads, started as calls need them, each
//! leaving after `KEEP_ALIVE` without work; beyond that, calls queue.
//!
//! No crate fits: a pool of this size with a scoped, borrowing job and a
//! park of the caller is a few dozen lines over std's `Mutex` and
//! `Condvar`, and the runtime crates keep their dependencies few.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::park::{self, Unparker, Wait};
use crate::task::TaskRef;
use crate::threads::BlockedThread;
use crate::worker;

/// Threads the pool may run at once (Go caps its threads at 10,000; tokio's
/// blocking pool at 512).
const MAX_THREADS: usize = 512;
/// How long an idle thread waits for a call before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Runs `f` on a thread of the pool and parks the calling goroutine until
/// it returns; a panic in `f` is re-raised here. Only from a goroutine.
pub(crate) fn run_on_pool<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let task = worker::current_task().expect("run_on_pool is called from a goroutine");
    // Lent until the pool thread is done with the job (it repays): shutdown
    // must not unwind this stack while `f` may run on it, and must unwind
    // it once `f` has returned, whether or not it runs again.
    task.lend();
    let job = Job {
        f: UnsafeCell::new(Some(f)),
        result: UnsafeCell::new(None),
        done: AtomicBool::new(false),
        waiter: park::current_unparker(),
        task,
    };
    POOL.submit(RawJob {
        job: (&raw const job).cast(),
        run: run_job::<F, T>,
    });
    // The call's end comes from outside a bubble: its clock waits for it.
    let _outside = crate::bubble::Outside::enter();
    while !job.done.load(Ordering::Acquire) {
        if let Err(payload) = panic::catch_unwind(|| park::park_on(Wait::Blocking)) {
            // Shutdown unwinds only goroutines that are not lent, so this
            // cannot happen; if it did, returning would free what `f`
            // borrows under its feet.
            if !job.done.load(Ordering::Acquire) {
                eprintln!(
                    "goro: a goroutine in goro::blocking was unwound while its call still \
                     runs on another thread and borrows from it; aborting"
                );
                std::process::abort();
            }
            panic::resume_unwind(payload);
        }
    }
    // SAFETY: `done` is set (acquire) after the pool thread's last write to
    // `result`, and it touches `job` no more.
    match unsafe { (*job.result.get()).take() } {
        Some(Ok(value)) => value,
        Some(Err(payload)) => panic::resume_unwind(payload),
        None => unreachable!("a finished job has a result"),
    }
}

/// A call and its result, on the stack of the goroutine that waits for it.
struct Job<F, T> {
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<thread::Result<T>>>,
    /// Set by the pool thread when it is done with the job.
    done: AtomicBool,
    waiter: Unparker,
    /// The goroutine waiting, lent to the job until it is done.
    task: TaskRef,
}

/// A type-erased pointer to a `Job` and the function that runs it.
struct RawJob {
    job: *const (),
    run: unsafe fn(*const ()),
}

// SAFETY: the job's function and result are `Send` (`run_on_pool`'s
// bounds), and the job lives on the stack of a goroutine that waits for it
// (and cannot be unwound meanwhile: it is lent) until `done`.
unsafe impl Send for RawJob {}

/// Runs a `Job<F, T>` on the pool's thread.
///
/// # Safety
/// `job` points at a live `Job<F, T>`, run once, whose owner waits for
/// `done`.
unsafe fn run_job<F, T>(job: *const ())
where
    F: FnOnce() -> T,
{
    // SAFETY: per the contract.
    let job = unsafe { &*job.cast::<Job<F, T>>() };
    // SAFETY: the owner touches `f` and `result` only after `done`.
    let f = unsafe { (*job.f.get()).take() }.expect("a job runs once");
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    // SAFETY: as above.
    unsafe { *job.result.get() = Some(result) };
    // After `done` the owner may return (or be unwound) and the job be
    // gone: repay and wake with handles of our own.
    let waiter = job.waiter.clone();
    let task = job.task.clone();
    job.done.store(true, Ordering::Release);
    task.repay();
    waiter.unpark();
}

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    queue: VecDeque<RawJob>,
    threads: usize,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        queue: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn submit(&'static self, job: RawJob) {
        let mut state = self.lock();
        state.queue.push_back(job);
        // An idle thread for each queued job: one woken but not yet running
        // still counts as idle, so comparing with the queue (not `idle > 0`)
        // starts a thread for a second job submitted before it runs (else
        // calls that need each other waited for one thread, for good).
        if state.queue.len() <= state.idle {
            drop(state);
            self.work.notify_one();
            return;
        }
        if state.threads >= MAX_THREADS {
            return; // queued for the next thread that is free
        }
        state.threads += 1;
        drop(state);
        let spawned = thread::Builder::new()
            .name("goro-blocking".into())
            .spawn(move || self.thread_main());
        if let Err(e) = spawned {
            let mut state = self.lock();
            state.threads -= 1;
            if state.threads == 0 {
                // Nobody would ever run the queued jobs: run one here, on
                // the worker (each caller whose spawn fails runs one).
                let job = state.queue.pop_back().expect("ours at least is queued");
                drop(state);
                eprintln!("goro: cannot start a blocking-pool thread ({e}): running the call here");
                // SAFETY: the job is live and unrun (we just took it back).
                unsafe { (job.run)(job.job) };
            }
        }
    }

    fn thread_main(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // SAFETY: a submitted job is live until it is run, once.
                unsafe { (job.run)(job.job) };
                state = self.lock();
                continue;
            }
            state.idle += 1;
            // An idle pool thread can wake nobody: deadlock detection may
            // count it as goro's.
            let blocked = BlockedThread::enter();
            let (next, timeout) = self
                .work
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
            drop(blocked);
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}
