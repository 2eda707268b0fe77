//! `RuntimeBuilder`: a runtime's settings, and `build`, which starts its
//! workers and sysmon.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{self};

use crossbeam_deque::Injector;
use crossbeam_utils::CachePadded;

use crate::queue::RunQueue;
use crate::runtime::Runtime;
use crate::shared::{Idle, Shared, Spares};
use crate::spares::DEFAULT_MAX_SPARES;
use crate::threads::GoroThread;
use crate::timers::Timers;
use crate::worker::WorkerCtx;

use crate::registry::Registry;
use crate::slot::WorkerShared;

/// Configures a [`Runtime`].
///
/// ```
/// let rt = goro_sched::Runtime::builder()
///     .workers(2)
///     .stack_size(64 * 1024)
///     .name("my-pool")
///     .build()?;
/// assert_eq!(rt.run(|| "configured"), "configured");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    workers: Option<usize>,
    stack_size: Option<usize>,
    name: Option<String>,
    max_blocking_threads: Option<usize>,
    detect_deadlocks: Option<bool>,
    migrate: bool,
    bubble: bool,
}

impl RuntimeBuilder {
    /// The number of worker threads (Go's `GOMAXPROCS`), 1 to 1,024 (Go's
    /// limit too). Default: the `GORO_MAXPROCS` environment variable, else
    /// the number of CPUs (at most 1,024).
    ///
    /// ```
    /// use goro_sched::Runtime;
    ///
    /// let rt = Runtime::builder().workers(3).build()?;
    /// assert_eq!(rt.stats().workers, 3);
    /// assert!(Runtime::builder().workers(0).build().is_err());
    /// assert!(Runtime::builder().workers(100_000).build().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(mut self, n: usize) -> RuntimeBuilder {
        self.workers = Some(n);
        self
    }

    /// The default stack size of its goroutines, in bytes (16 KiB to 1 GiB;
    /// default [`goro_fiber::DEFAULT_STACK_SIZE`]: 256 KiB, 2 MiB in a debug
    /// build; committed as used).
    ///
    /// ```
    /// use goro_sched::Runtime;
    ///
    /// let rt = Runtime::builder().workers(1).stack_size(1 << 20).build()?;
    /// let sum = rt.run(|| {
    ///     let big = [1u8; 512 * 1024]; // fits in 1 MiB, not in 256 KiB (the default, optimized)
    ///     big.iter().map(|&b| usize::from(b)).sum::<usize>()
    /// });
    /// assert_eq!(sum, 512 * 1024);
    /// assert!(Runtime::builder().stack_size(1024).build().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> RuntimeBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// A prefix for its worker threads' names (default `goro-worker`).
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).name("crawler").build()?;
    /// let thread = rt.run(|| std::thread::current().name().map(String::from));
    /// assert!(thread.unwrap().starts_with("crawler-"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> RuntimeBuilder {
        self.name = Some(name.into());
        self
    }

    /// How many spare threads may stand in at once for workers stuck in a
    /// CPU loop or a blocking call (default 64). Past that, sysmon prints a
    /// warning and the other goroutines wait for a stuck one to return.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = goro_sched::Runtime::builder()
    ///     .workers(1)
    ///     .max_blocking_threads(4)
    ///     .build()?;
    /// rt.run(|| goro_sched::blocking(|| std::thread::sleep(Duration::from_millis(1))));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_blocking_threads(mut self, n: usize) -> RuntimeBuilder {
        self.max_blocking_threads = Some(n);
        self
    }

    /// Whether [`Runtime::run`] fails, as Go does, when every goroutine
    /// waits and nothing can wake any ("all goroutines are asleep -
    /// deadlock!"), instead of hanging (default: on).
    ///
    /// ```
    /// // A runtime that hangs, as a plain program would, rather than fail `run`.
    /// let rt = goro_sched::Runtime::builder().detect_deadlocks(false).build()?;
    /// assert_eq!(rt.run(|| 7), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn detect_deadlocks(mut self, on: bool) -> RuntimeBuilder {
        self.detect_deadlocks = Some(on);
        self
    }

    /// Builds the runtime in the *migrating mode*, Go's own: a goroutine
    /// woken by another runs next on the waker's worker (so partners that
    /// exchange messages end up on one thread), and a worker stuck in a CPU
    /// loop or a blocking call has its queued goroutines, started ones
    /// included, run by other threads (a hog never stalls them). In the
    /// default mode a goroutine that has started keeps its thread for good:
    /// the goroutines queued behind a hog on its worker wait for it (sysmon
    /// reports it), and `goro::blocking` runs its call on a thread of a pool
    /// instead.
    ///
    /// ```
    /// let builder = goro_sched::Runtime::builder().workers(2);
    /// // SAFETY: the goroutines below hold nothing tied to a thread across
    /// // a park point (no thread-local borrow, nothing derived from one).
    /// let rt = unsafe { builder.migrating() }.build()?;
    /// let h = rt.go(|| {
    ///     let (tx, rx) = std::sync::mpsc::channel();
    ///     goro_sched::go(move || tx.send(6 * 7).unwrap()).join().unwrap();
    ///     rx.recv().unwrap()
    /// });
    /// assert_eq!(h.join().unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Safety
    ///
    /// A goroutine of this runtime may resume on another OS thread after
    /// any park point (a channel operation, a lock, `sleep`, `join`,
    /// `yield_now`, `select!`...). The caller promises that no goroutine of
    /// the runtime holds, across a park point, anything tied to the thread
    /// it runs on:
    ///
    /// - a reference into a `thread_local!` (including one held inside
    ///   `LocalKey::with`), or a value derived from one: an `Rc` cloned out
    ///   of a thread-local, `rand::thread_rng()`, an entered `tracing` span;
    /// - a guard of a lock that checks its owner by thread, such as
    ///   `std::io::stdout().lock()` or any reentrant mutex;
    /// - any other `!Send` value that a library ties to its thread.
    ///
    /// Such state moved to another thread is used from two threads at once,
    /// or after its thread has freed it: undefined behaviour. The libraries
    /// a goroutine calls must keep the promise too. goro's own state is
    /// safe in both modes, as is [`local!`](crate::local!) storage, which
    /// belongs to the goroutine.
    pub unsafe fn migrating(mut self) -> RuntimeBuilder {
        self.migrate = true;
        self
    }

    /// A bubble (`goro::test::run`): the timers keep a virtual clock, and
    /// the idle worker moves it (see `bubble.rs`).
    pub(crate) fn bubble(mut self) -> RuntimeBuilder {
        self.bubble = true;
        self
    }

    /// Starts the runtime's workers.
    ///
    /// ```
    /// use goro_sched::Runtime;
    ///
    /// let rt = Runtime::builder().build()?; // GORO_MAXPROCS workers, else one per CPU
    /// assert_eq!(rt.run(|| "up"), "up");
    /// let err = Runtime::builder().stack_size(10).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for zero workers or more than 1,024, a bad
    /// `GORO_MAXPROCS` or a stack size out of range, each with a message
    /// naming the setting; the OS error if a worker thread cannot be
    /// started.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "Runtime::builder().workers(0): a runtime needs at least one worker",
                ));
            }
            Some(n) if n > MAX_WORKERS => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "Runtime::builder().workers({n}): at most {MAX_WORKERS} workers \
                         (each is a thread; more than the CPUs only take turns)"
                    ),
                ));
            }
            Some(n) => n,
            None => maxprocs_from_env()?,
        };
        let stack_size = match self.stack_size {
            Some(bytes) => goro_fiber::stack::Stack::new(bytes)
                .map(|s| s.size())
                .map_err(|e| {
                    io::Error::new(e.kind(), format!("Runtime::builder().stack_size: {e}"))
                })?,
            None => goro_fiber::DEFAULT_STACK_SIZE,
        };
        Runtime::start(
            workers,
            self.max_blocking_threads.unwrap_or(DEFAULT_MAX_SPARES),
            stack_size,
            self.name.as_deref().unwrap_or("goro-worker"),
            self.detect_deadlocks.unwrap_or(true),
            self.migrate,
            self.bubble,
        )
    }
}

/// The most workers a runtime may have, as Go's `_MaxGomaxprocs`.
pub(crate) const MAX_WORKERS: usize = 1024;

/// Reads `GORO_MAXPROCS`; the number of CPUs when unset (at most
/// `MAX_WORKERS`).
pub(crate) fn maxprocs_from_env() -> io::Result<usize> {
    match std::env::var("GORO_MAXPROCS") {
        Err(std::env::VarError::NotPresent) => Ok(num_cpus::get().clamp(1, MAX_WORKERS)),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "GORO_MAXPROCS must be a whole number of workers from 1 to {MAX_WORKERS}, \
                     not `{v}`"
                ),
            )),
        },
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("GORO_MAXPROCS: {e}"),
        )),
    }
}

impl Runtime {
    /// A builder for a runtime of your own.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(2).build()?;
    /// assert_eq!(rt.run(|| 1 + 1), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Starts a runtime: its shared state, sysmon, then the workers.
    fn start(
        workers: usize,
        spares: usize,
        stack_size: usize,
        name: &str,
        detect_deadlocks: bool,
        migrate: bool,
        bubble: bool,
    ) -> io::Result<Runtime> {
        let slots = workers + spares;
        let mut deques: Vec<RunQueue> = (0..slots).map(|_| RunQueue::new()).collect();
        let spare_deques = deques.split_off(workers);
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            workers: deques
                .iter()
                .chain(&spare_deques)
                .map(|d| CachePadded::new(WorkerShared::new(d.stealer())))
                .collect(),
            idle: Idle {
                sleepers: Mutex::new(Vec::with_capacity(workers)),
                num_sleeping: AtomicUsize::new(0),
                num_spinning: AtomicUsize::new(0),
                max_spinning: (workers / 2).max(1),
            },
            timers: Timers::new(slots, workers, bubble),
            registry: Registry::new(slots),
            stats: (0..=slots).map(|_| CachePadded::default()).collect(),
            stack_size,
            migrate,
            procs: workers,
            live: AtomicUsize::new(workers),
            stuck: AtomicUsize::new(0),
            handoffs: AtomicU64::new(0),
            spares: Mutex::new(Spares {
                free: spare_deques
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| (workers + i, d))
                    .rev()
                    .collect(),
                idle: Vec::new(),
                warned: false,
            }),
            name: name.into(),
            coarse_ms: CachePadded::new(AtomicU32::new(0)),
            run_waiters: Mutex::new(Vec::new()),
            deadlock: OnceLock::new(),
            detect_deadlocks,
            sysmon: OnceLock::new(),
            sysmon_idle: CachePadded::new(AtomicBool::new(false)),
            shutdown: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            threads: Mutex::new(workers),
            threads_cv: Condvar::new(),
            bubble: bubble.then(crate::bubble::Bubble::new),
        });
        crate::deadlock::register(&shared);
        crate::sysmon::install_sigquit_handler();
        let mut rt = Runtime {
            shared: shared.clone(),
            threads: Vec::with_capacity(workers),
            sysmon: None,
        };
        // Sysmon first, and running before any goroutine can: a thread that
        // starts while the CPUs are busy may wait a scheduling period or two
        // (16 ms measured with two goroutines spinning) for its first turn,
        // and sysmon's first look is what a hog's hand-off waits for.
        let s = shared.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        match thread::Builder::new()
            .name(format!("{name}-sysmon"))
            .spawn(move || crate::sysmon::run(&s, ready_tx))
        {
            Ok(handle) => {
                let _ = shared.sysmon.set(handle.thread().clone());
                rt.sysmon = Some(handle);
                let _ = ready_rx.recv();
            }
            Err(e) => {
                // No worker started: none to wait for.
                *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) = 0;
                drop(rt);
                return Err(e);
            }
        }
        for (index, deque) in deques.into_iter().enumerate() {
            let ctx = WorkerCtx::new(index, shared.clone(), deque, false);
            let s = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    let goro_thread = GoroThread::enter();
                    ctx.main();
                    drop(goro_thread);
                    s.thread_exited();
                });
            match spawned {
                Ok(handle) => {
                    shared.workers[index].set_thread(Some(handle.thread().clone()));
                    rt.threads.push(handle);
                }
                Err(e) => {
                    // The workers not started count as exited.
                    *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) -= workers - index;
                    drop(rt);
                    return Err(e);
                }
            }
        }
        Ok(rt)
    }
}
