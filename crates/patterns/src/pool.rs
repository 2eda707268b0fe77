//! `WorkerPool`: a fixed number of goroutines running jobs from a bounded
//! queue, with a handle per job for its result.
//!
//! The queue is a goro channel of boxed jobs (`bounded(queue_cap)`): `submit`
//! is its `send`, `try_submit` its `try_send`, `close` its `close`. Each job
//! carries a one-value channel for its result (the `JobHandle`'s end) and a
//! count in the pool's `WaitGroup`, given back when the job is dropped, run
//! or not, so `join` cannot miss one.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use goro_sync::WaitGroup;
use goro_sync::chan::sched::fiber::ForcedUnwind;
use goro_sync::chan::sched::go;
use goro_sync::chan::{Receiver, Sender, TrySendError, bounded};

/// A fixed set of worker goroutines that run submitted jobs, with a queue of
/// bounded size in front of them.
///
/// `WorkerPool` is `Send + Sync` and its methods take `&self`: share it
/// (`Arc`, or a borrow in `goro_sched::scope`) between any number of
/// goroutines and threads submitting jobs.
///
/// * [`submit`](WorkerPool::submit) queues a job and returns a
///   [`JobHandle`] for its result; it waits while the queue is full, which
///   is the back-pressure: at most `workers` jobs run and `queue_cap` more
///   wait.
/// * A panicking job fails its own handle ([`JoinError::is_panic`]) and
///   nothing else: its worker goes on with the next job.
/// * [`close`](WorkerPool::close) stops new jobs; queued ones still run.
/// * [`join`](WorkerPool::join) waits until every job submitted so far has
///   finished.
///
/// Jobs run on goroutines, so a job that blocks on a goro channel or lock
/// parks and frees its thread. As with any bounded pool, jobs that submit
/// to their own pool and wait for the result can deadlock it once every
/// worker does so.
///
/// **Dropping the pool** closes it, as [`close`](WorkerPool::close), and
/// returns at once: the jobs already queued still run, their handles still
/// deliver, and the workers exit once the queue is drained (Go's
/// `close(jobs)` at the end of a function). Call [`join`](WorkerPool::join)
/// first to wait for them.
///
/// ```
/// use goro_patterns::WorkerPool;
///
/// let pool = WorkerPool::new(4, 16);
/// let handles: Vec<_> = (1..=10u64)
///     .map(|i| pool.submit(move || i * i).unwrap())
///     .collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 385);
///
/// let bad = pool.submit(|| -> u64 { panic!("bad job") }).unwrap();
/// assert!(bad.join().unwrap_err().is_panic());
/// assert_eq!(pool.submit(|| 1).unwrap().join().unwrap(), 1); // the pool lives on
/// ```
pub struct WorkerPool {
    queue: Sender<Box<dyn Job>>,
    pending: WaitGroup,
    workers: usize,
}

impl WorkerPool {
    /// Starts `workers` goroutines, with a queue where `queue_cap` jobs may
    /// wait beyond those running (`0`: a job is accepted only when a worker
    /// is free to take it).
    ///
    /// Called in a goroutine, the workers run on that goroutine's runtime,
    /// elsewhere on the global one.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(2, 0);
    /// assert_eq!(pool.workers(), 2);
    /// ```
    ///
    /// # Panics
    /// If `workers` is 0.
    #[track_caller]
    pub fn new(workers: usize, queue_cap: usize) -> WorkerPool {
        assert!(
            workers > 0,
            "WorkerPool::new: the number of workers must be at least 1 (got 0)"
        );
        let (queue, jobs) = bounded::<Box<dyn Job>>(queue_cap);
        for _ in 0..workers {
            let jobs = jobs.clone();
            go(move || {
                for job in &jobs {
                    job.run();
                }
            });
        }
        WorkerPool {
            queue,
            pending: WaitGroup::new(),
            workers,
        }
    }

    /// Queues `job`, waiting while the queue is full (parks a goroutine,
    /// blocks a thread), and returns the handle for its result.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// let h = pool.submit(|| "done")?;
    /// assert_eq!(h.join().unwrap(), "done");
    /// # Ok::<(), goro_patterns::PoolClosed>(())
    /// ```
    ///
    /// # Errors
    /// [`PoolClosed`] if the pool is closed, also when it is closed while
    /// this call waits; the job is dropped.
    pub fn submit<F, T>(&self, job: F) -> Result<JobHandle<T>, PoolClosed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, handle) = Task::boxed(job, &self.pending);
        match self.queue.send(task) {
            Ok(()) => Ok(handle),
            Err(_) => Err(PoolClosed),
        }
    }

    /// Queues `job` if there is room now.
    ///
    /// ```
    /// use goro_patterns::{TrySubmitError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(1, 0);
    /// pool.close();
    /// let job = || 42;
    /// match pool.try_submit(job) {
    ///     Err(TrySubmitError::Closed(job)) => assert_eq!(job(), 42), // the job comes back
    ///     _ => unreachable!(),
    /// }
    /// ```
    ///
    /// # Errors
    /// [`TrySubmitError::Full`] if the queue is full (with `queue_cap` 0:
    /// no worker is free), [`TrySubmitError::Closed`] if the pool is
    /// closed; either gives the job back.
    pub fn try_submit<F, T>(&self, job: F) -> Result<JobHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (task, handle) = Task::boxed(job, &self.pending);
        match self.queue.try_send(task) {
            Ok(()) => Ok(handle),
            Err(TrySendError::Full(task)) => Err(TrySubmitError::Full(Task::<F, T>::unwrap(task))),
            Err(TrySendError::Closed(task)) => {
                Err(TrySubmitError::Closed(Task::<F, T>::unwrap(task)))
            }
        }
    }

    /// Closes the pool: later submits fail with [`PoolClosed`], and so do
    /// submits waiting for room now; the jobs already queued still run, and
    /// the workers exit once the queue is drained. Closing twice is harmless.
    ///
    /// ```
    /// use goro_patterns::{PoolClosed, WorkerPool};
    ///
    /// let pool = WorkerPool::new(2, 8);
    /// let queued = pool.submit(|| 1).unwrap();
    /// pool.close();
    /// assert!(pool.is_closed());
    /// assert_eq!(pool.submit(|| 2).unwrap_err(), PoolClosed);
    /// assert_eq!(queued.join().unwrap(), 1);
    /// ```
    #[doc(alias = "shutdown")]
    pub fn close(&self) {
        self.queue.close();
    }

    /// Whether the pool is closed (by [`close`](WorkerPool::close)).
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// assert!(!pool.is_closed());
    /// pool.close();
    /// assert!(pool.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Waits until every job submitted so far has finished (run, or
    /// panicked): no job is queued or running. The pool stays open; while
    /// others keep submitting, this waits for their jobs too.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use goro_patterns::WorkerPool;
    ///
    /// let pool = WorkerPool::new(3, 4);
    /// let count = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..20 {
    ///     let count = count.clone();
    ///     pool.submit(move || count.fetch_add(1, Ordering::Relaxed)).unwrap(); // handle dropped
    /// }
    /// pool.join();
    /// assert_eq!(count.load(Ordering::Relaxed), 20);
    /// ```
    #[doc(alias = "wait")]
    pub fn join(&self) {
        self.pending.wait();
    }

    /// The number of worker goroutines.
    ///
    /// ```
    /// assert_eq!(goro_patterns::WorkerPool::new(3, 0).workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.workers
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("workers", &self.workers)
            .field("queue_cap", &self.queue.capacity().unwrap_or(0))
            .field("queued", &self.queue.len())
            .field("pending", &self.pending.count())
            .field("closed", &self.queue.is_closed())
            .finish()
    }
}

/// The handle of one job of a [`WorkerPool`]: wait for its result with
/// [`join`](JobHandle::join). Dropping it lets the job run on, unobserved.
///
/// ```
/// let pool = goro_patterns::WorkerPool::new(1, 1);
/// let h = pool.submit(|| 6 * 7).unwrap();
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JobHandle<T> {
    result: Receiver<Result<T, JoinError>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job to finish (parks a goroutine, blocks a thread) and
    /// returns its result.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// let h = pool.submit(|| -> i32 { panic!("no luck") }).unwrap();
    /// let err = h.join().unwrap_err();
    /// assert!(err.is_panic());
    /// assert_eq!(err.to_string(), "job panicked: no luck");
    /// ```
    ///
    /// # Errors
    /// A [`JoinError`] if the job panicked (the panic hook has printed it),
    /// or was dropped unfinished because the runtime running the pool shut
    /// down.
    pub fn join(self) -> Result<T, JoinError> {
        self.result.recv().unwrap_or(Err(JoinError {
            repr: Repr::Cancelled,
        }))
    }

    /// Whether the job has finished (returned, panicked or been dropped), so
    /// that [`join`](JobHandle::join) will not wait.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// let h = pool.submit(|| ()).unwrap();
    /// pool.join();
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        !self.result.is_empty() || self.result.is_closed()
    }
}

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a job has no result: it panicked, or it was dropped unfinished (its
/// pool's runtime shut down). The pool's own type: `goro_sched::JoinError`
/// has no public constructor.
///
/// ```
/// use std::panic;
///
/// let pool = goro_patterns::WorkerPool::new(1, 1);
/// let err = pool.submit(|| -> () { panic!("lost") }).unwrap().join().unwrap_err();
/// assert!(err.is_panic() && !err.is_cancelled());
/// let payload = err.into_panic(); // re-raise with panic::resume_unwind(payload)
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"lost"));
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Panic(Box<dyn Any + Send>),
    Cancelled,
}

impl JoinError {
    /// Whether the job panicked.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// assert!(pool.submit(|| panic!()).unwrap().join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// Whether the job was dropped before it finished: the runtime running
    /// the pool's workers shut down and unwound them.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// assert!(!pool.submit(|| panic!()).unwrap().join().unwrap_err().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The panic's payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// let err = pool.submit(|| -> () { panic!("{}", 7) }).unwrap().join().unwrap_err();
    /// assert_eq!(err.into_panic().downcast_ref::<String>().unwrap(), "7");
    /// ```
    ///
    /// # Panics
    /// If the job did not panic (see [`is_panic`](JoinError::is_panic)).
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.repr {
            Repr::Panic(payload) => payload,
            Repr::Cancelled => panic!("into_panic on a JoinError that is not a panic: {self}"),
        }
    }

    /// The panic's payload, or `Err(self)` if the job did not panic.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 1);
    /// let err = pool.submit(|| -> () { panic!("x") }).unwrap().join().unwrap_err();
    /// assert!(err.try_into_panic().is_ok());
    /// ```
    ///
    /// # Errors
    /// `self` when the job did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload),
            Repr::Cancelled => Err(self),
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
            Repr::Panic(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => write!(f, "job panicked: {msg}"),
                None => f.write_str("job panicked"),
            },
            Repr::Cancelled => f.write_str(
                "job was dropped before it finished: the runtime running its pool shut down",
            ),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(payload) => f
                .debug_tuple("Panic")
                .field(&panic_message(payload.as_ref()).unwrap_or("..."))
                .finish(),
            Repr::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl Error for JoinError {}

/// [`WorkerPool::submit`] on a closed pool.
///
/// ```
/// let pool = goro_patterns::WorkerPool::new(1, 1);
/// pool.close();
/// let err = pool.submit(|| ()).unwrap_err();
/// assert_eq!(err.to_string(), "the worker pool is closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolClosed;

impl fmt::Display for PoolClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the worker pool is closed")
    }
}

impl Error for PoolClosed {}

/// Why [`WorkerPool::try_submit`] failed; the job comes back.
///
/// ```
/// use goro_patterns::WorkerPool;
///
/// let pool = WorkerPool::new(1, 0);
/// pool.close();
/// let err = pool.try_submit(|| 5).unwrap_err();
/// assert!(err.is_closed() && !err.is_full());
/// assert_eq!(err.to_string(), "the worker pool is closed");
/// assert_eq!((err.into_inner())(), 5);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySubmitError<F> {
    /// The queue is full (with a `queue_cap` of 0: no worker is free).
    Full(F),
    /// The pool is closed.
    Closed(F),
}

impl<F> TrySubmitError<F> {
    /// The job that was not queued.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 0);
    /// pool.close();
    /// assert_eq!(pool.try_submit(|| 'j').unwrap_err().into_inner()(), 'j');
    /// ```
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(job) | TrySubmitError::Closed(job) => job,
        }
    }

    /// Whether the queue was full.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 0);
    /// pool.close();
    /// assert!(!pool.try_submit(|| ()).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySubmitError::Full(_))
    }

    /// Whether the pool was closed.
    ///
    /// ```
    /// let pool = goro_patterns::WorkerPool::new(1, 0);
    /// pool.close();
    /// assert!(pool.try_submit(|| ()).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySubmitError::Closed(_))
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("the worker pool's queue is full"),
            TrySubmitError::Closed(_) => f.write_str("the worker pool is closed"),
        }
    }
}

impl<F> Error for TrySubmitError<F> {}

// ---------------------------------------------------------------------------
// Jobs in the queue

/// A queued job, type-erased.
trait Job: Send {
    /// Runs it on a worker, catching a panic into its handle's result.
    fn run(self: Box<Self>);
    /// For `try_submit`, to give the job back.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

struct Task<F, T> {
    f: F,
    result: Sender<Result<T, JoinError>>,
    /// Counts the job in the pool's `WaitGroup` until the task is dropped,
    /// run or not.
    _pending: Pending,
}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn boxed(f: F, pending: &WaitGroup) -> (Box<dyn Job>, JobHandle<T>) {
        let (result, rx) = bounded(1);
        let task = Task {
            f,
            result,
            _pending: Pending::new(pending),
        };
        (Box::new(task), JobHandle { result: rx })
    }

    /// The job of a task that `boxed` made with these types.
    fn unwrap(task: Box<dyn Job>) -> F {
        match task.into_any().downcast::<Task<F, T>>() {
            Ok(task) => task.f,
            Err(_) => unreachable!("a job comes back with the type it was queued with"),
        }
    }
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>) {
        let Task {
            f,
            result,
            _pending,
        } = *self;
        let outcome = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => Ok(value),
            // The runtime is unwinding this worker: let it (the handle
            // reports the job as cancelled).
            Err(payload) if payload.is::<ForcedUnwind>() => panic::resume_unwind(payload),
            Err(payload) => Err(JoinError {
                repr: Repr::Panic(payload),
            }),
        };
        // The handle may be gone: then nobody wants the result. The result is
        // in place before `_pending` counts the job done.
        let _ = result.send(outcome);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// One count in a pool's `WaitGroup`, given back on drop.
struct Pending(WaitGroup);

impl Pending {
    fn new(wg: &WaitGroup) -> Pending {
        wg.add(1);
        Pending(wg.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.done();
    }
}
