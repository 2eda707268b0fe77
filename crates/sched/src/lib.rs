//! Goroutines on an M:N work-stealing scheduler, as in Go.
//!
//! ```
//! use goro_sched::go;
//!
//! let handles: Vec<_> = (0..10u64).map(|i| go(move || i * i)).collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 285);
//! ```
//!
//! # The model
//!
//! A goroutine is a stackful coroutine (`goro-fiber`) with a stack of 256 KiB
//! of address space (2 MiB in a debug build), committed as it is used, so a shallow one costs about
//! 4 KiB and a program can run a million. Worker threads (`GORO_MAXPROCS` of
//! them, default: the number of CPUs) run goroutines, steal from each other
//! when idle, and sleep when there is nothing to do. A goroutine that waits
//! (joins, sleeps, or blocks on a goro channel or lock) *parks*: its worker
//! runs other goroutines meanwhile. The same calls from a plain thread block
//! that thread, so goroutines and threads mix freely.
//!
//! [`go()`] works anywhere: inside a goroutine it spawns on that goroutine's
//! runtime, elsewhere on the global runtime, started on first use (or on
//! the one a thread [entered](Runtime::enter)).
//!
//! # Blocking calls
//!
//! A goroutine that blocks its thread (`std::thread::sleep`, blocking I/O, a
//! long computation) keeps its worker busy, and the goroutines that started
//! on that worker wait for it. Use goro's own [`sleep`] and primitives, and
//! wrap other blocking calls in [`blocking`].
//!
//! # One thread per goroutine
//!
//! A goroutine that has started runs on the same OS thread for good, so
//! thread-locals (and `Rc`s cloned out of them, reentrant locks' guards)
//! may be held across its park points, as on a plain thread. Goroutines not
//! started yet spread over every worker. [`RuntimeBuilder::migrating`]
//! builds a runtime that moves started goroutines too, as Go does, under an
//! `unsafe` contract. Use [`local!`] for state that belongs to a goroutine.
//!
//! # Module map
//!
//! * [`go()`], [`go!`], [`Builder`], [`scope()`], [`run`]: starting goroutines.
//! * [`JoinHandle`], [`JoinError`], [`GoroutineId`]: waiting for them.
//! * [`yield_now`], [`sleep`], [`id`], [`num_goroutines`], [`blocking`]: from
//!   inside one.
//! * [`Runtime`], [`RuntimeBuilder`], [`Stats`]: runtimes of your own.
//! * [`local!`], [`LocalKey`]: goroutine-local storage.
//! * [`park`]: the one way for channels and locks to block a goroutine or a
//!   thread.
//! * [`timer`]: functions run by the scheduler's timers (for time channels).
//! * [`poll`]: the netpoller, where goroutines wait for sockets (for
//!   goro-net).

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

mod alloc;
mod blocking_pool;
mod bubble;
mod builder;
mod current;
mod deadlock;
mod dump;
mod idle;
mod local;
pub mod park;
pub mod poll;
pub mod pool;
mod queue;
mod registry;
mod rt_ref;
mod runtime;
mod scope;
mod shared;
mod slot;
mod spares;
pub mod spin;
mod sysmon;
mod task;
pub mod test;
mod threads;
pub mod timer;
mod timers;
mod traceback;
mod worker;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

#[doc(no_inline)]
pub use goro_fiber as fiber;

pub use crate::builder::RuntimeBuilder;
pub use crate::current::EnterGuard;
pub use crate::local::LocalKey;
pub use crate::runtime::Runtime;
pub use crate::scope::{Scope, ScopedJoinHandle, scope};
pub use crate::task::{GoroutineId, JoinError, JoinHandle};

/// Spawns a goroutine running `f`; returns a handle to join it.
///
/// Inside a goroutine the new one runs on the same runtime (and first on the
/// same worker, right after the spawner parks or yields); elsewhere it runs on
/// the runtime the thread [entered](Runtime::enter), if any, else on the
/// global runtime, started on first use with `GORO_MAXPROCS` workers.
///
/// ```
/// let h = goro_sched::go(|| "hello from a goroutine");
/// assert_eq!(h.join().unwrap(), "hello from a goroutine");
/// ```
///
/// Out of memory (no stack, or no memory for the goroutine's task), the
/// goroutine never runs and its handle's `join` returns a [`JoinError`]
/// that says so ([`Builder::go`] returns an `Err` instead).
///
/// # Panics
/// If the global runtime cannot start (a bad `GORO_MAXPROCS`: the message
/// names it).
#[doc(alias = "spawn")]
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = std::panic::Location::caller();
    let (spawned, backlog) = crate::current::with_current_here(|rt, here| {
        let spawned = rt.spawn(here, None, None, location, true, f);
        (spawned, here.is_some_and(worker::WorkerCtx::spawn_backlog))
    });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(e) => panic!("cannot spawn a goroutine: {e}"),
    };
    if backlog {
        // A goroutine spawning faster than its goroutines run yields to
        // them now and then (see `WorkerCtx::spawn_backlog`).
        yield_now();
    }
    handle
}

/// Runs `f` as a goroutine on the current runtime (the calling goroutine's,
/// else the one this thread [entered](Runtime::enter), else the global one)
/// and waits for it; a panic in `f` is re-raised in the caller.
///
/// If every goroutine ends up waiting with nothing left to wake any, `run`
/// panics as Go does, "all goroutines are asleep - deadlock!", followed by
/// [`dump()`] (see [`Runtime::run`]).
///
/// ```
/// let answer = goro_sched::run(|| {
///     let h = goro_sched::go(|| 21);
///     h.join().unwrap() * 2
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = crate::current::with_current(Arc::clone);
    crate::runtime::run_on(&shared, std::panic::Location::caller(), f)
}

/// Lets other goroutines run: the calling goroutine goes to the runtime's
/// global queue, as with Go's `runtime.Gosched`, and runs again when a
/// worker next takes from it (when its own queue runs dry, and every 61st
/// pick). On a plain thread, yields the thread.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let rt = goro_sched::Runtime::builder().workers(1).build()?;
/// let flag = Arc::new(AtomicBool::new(false));
/// let set = flag.clone();
/// rt.run(move || {
///     goro_sched::go(move || set.store(true, Ordering::SeqCst));
///     // One worker: the new goroutine runs only when this one lets it.
///     while !flag.load(Ordering::SeqCst) {
///         goro_sched::yield_now();
///     }
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn yield_now() {
    match worker::current_task() {
        Some(task) => task.switch(task::Switch::Yield),
        None => std::thread::yield_now(),
    }
}

/// Sleeps for at least `duration`: parks the calling goroutine on a
/// scheduler timer (no thread sleeps for it), or sleeps the calling thread.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// goro_sched::run(|| goro_sched::sleep(Duration::from_millis(5)));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[track_caller]
pub fn sleep(duration: Duration) {
    if !worker::in_goroutine() {
        std::thread::sleep(duration);
        return;
    }
    let Some(deadline) = timer::now().checked_add(duration) else {
        loop {
            park::park_on(park::Wait::Sleep);
        }
    };
    while timer::now() < deadline {
        park::park_deadline_on(deadline, park::Wait::Sleep);
    }
}

/// Every goroutine of every live runtime, as Go prints them on a deadlock
/// or a SIGQUIT, the current runtime's first (the calling goroutine's, else
/// the one this thread [entered](Runtime::enter), else the global one), each
/// runtime's headed by its line (`goro: N goroutines, W workers, S spare
/// threads (runtime "NAME")`; [`Runtime::dump`] gives one runtime's): id, name,
/// state (running, runnable, or what it waits for and for how long, to
/// within sysmon's tick), where it waits (the line of its `recv`, `lock`,
/// `join`, `sleep`... in the caller's code) and where it was spawned.
///
/// Goroutines that have never waited yet are counted, not listed.
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let h = goro_sched::Builder::new()
///     .name("sleeper")
///     .go(move || {
///         tx.send(()).unwrap();
///         goro_sched::sleep(std::time::Duration::from_millis(50))
///     })
///     .unwrap();
/// rx.recv().unwrap();
/// std::thread::sleep(std::time::Duration::from_millis(10));
/// let dump = goro_sched::dump();
/// assert!(dump.contains("\"sleeper\" [sleep"), "{dump}");
/// h.join().unwrap();
/// ```
pub fn dump() -> String {
    crate::current::with_current(|rt| dump::render_all(rt, false))
}

/// As [`dump()`], with a full stack trace of each parked goroutine (Go's
/// `GOTRACEBACK=all`; `GORO_TRACEBACK=all` in the environment gives the
/// SIGQUIT and deadlock dumps the same).
///
/// Each trace is taken on the goroutine's own stack, on its own worker,
/// while it stays parked: the goroutine is resumed into the capture and
/// parks again at once, its code none the wiser. This costs each parked
/// goroutine a switch, a capture and the resolving of its symbols (about
/// 0.1 ms a goroutine, most of it the symbols: 1.1 s for 10,000, against
/// 6 ms for `dump`; `bench-dump`), and nothing when no dump asks. A
/// goroutine whose worker is busy in another for longer than a second is
/// listed without its trace.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// #[inline(never)]
/// fn wait_for_the_flag(flag: &AtomicBool) {
///     while !flag.load(Ordering::Acquire) {
///         goro_sched::park::park();
///     }
/// }
///
/// let rt = goro_sched::Runtime::builder().workers(1).build()?;
/// let flag = Arc::new(AtomicBool::new(false));
/// let (tx, rx) = std::sync::mpsc::channel();
/// let f = flag.clone();
/// let h = rt.go(move || {
///     tx.send(goro_sched::park::current_unparker()).unwrap();
///     wait_for_the_flag(&f);
/// });
/// let waiter = rx.recv().unwrap();
/// while !rt.dump().contains("[park, ") {
///     std::thread::yield_now(); // until it has parked
/// }
/// let dump = rt.dump_with_backtraces();
/// assert!(dump.contains("wait_for_the_flag"), "{dump}");
/// flag.store(true, Ordering::Release);
/// waiter.unpark();
/// h.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn dump_with_backtraces() -> String {
    crate::current::with_current(|rt| dump::render_all(rt, true))
}

/// The calling goroutine's id; `None` on a plain thread.
///
/// ```
/// assert_eq!(goro_sched::id(), None);
/// assert!(goro_sched::run(|| goro_sched::id()).is_some());
/// ```
pub fn id() -> Option<GoroutineId> {
    worker::current_task().map(|task| task.id)
}

/// The number of live goroutines of the current runtime (the calling
/// goroutine's, else the one this thread [entered](Runtime::enter), else
/// the global one; 0 if that has not started).
///
/// ```
/// let rt = goro_sched::Runtime::builder().workers(1).build()?;
/// rt.run(|| {
///     assert_eq!(goro_sched::num_goroutines(), 1); // the one running this
///     let h = goro_sched::go(|| ());
///     assert_eq!(goro_sched::num_goroutines(), 2);
///     h.join().unwrap();
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn num_goroutines() -> usize {
    worker::with_any_worker(|w| w.shared.alive())
        .unwrap_or_else(|| crate::current::plain_current().map_or(0, |rt| rt.alive()))
}

/// Runs a blocking call (file I/O, a C library, a long computation) from a
/// goroutine, without stalling the others.
///
/// Goroutines are never preempted: one that blocks its thread keeps its
/// worker. `blocking` runs `f` on a thread of a pool (up to 512 threads,
/// shared by every runtime) while the goroutine parks, so its worker runs
/// its other goroutines meanwhile; `f` may borrow from the caller, which
/// waits for it (and is never unwound while it runs). In a runtime built
/// with [`RuntimeBuilder::migrating`] it runs on the goroutine's own thread
/// instead, and the worker's other goroutines move on at once, to a spare
/// thread if need be, as Go hands off a system call's processor. Outside a
/// goroutine it just calls `f`.
///
/// ```
/// let h = goro_sched::go(|| {
///     let path = std::env::temp_dir();
///     let is_dir = goro_sched::blocking(|| std::fs::metadata(&path).map(|m| m.is_dir()));
///     is_dir.unwrap()
/// });
/// assert!(h.join().unwrap());
/// ```
///
/// # Panics
/// A panic in `f` is re-raised here.
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    // While unwinding nothing can park: run it here.
    if std::thread::panicking() {
        return f();
    }
    match worker::with_any_worker(|w| w.shared.migrate) {
        Some(true) => {
            let _guard = sysmon::enter_blocking();
            f()
        }
        Some(false) if worker::in_goroutine() => blocking_pool::run_on_pool(f),
        _ => f(),
    }
}

/// Configures a goroutine before spawning it: its name and stack size.
///
/// ```
/// let h = goro_sched::Builder::new()
///     .name("resizer")
///     .stack_size(1 << 20)
///     .go(|| 7)?;
/// assert_eq!(h.join().unwrap(), 7);
///
/// let err = goro_sched::Builder::new().stack_size(10).go(|| ()).unwrap_err();
/// assert!(err.to_string().contains("stack_size"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with the defaults: no name, the runtime's stack size.
    ///
    /// ```
    /// let h = goro_sched::Builder::new().go(|| 1)?;
    /// assert_eq!(h.join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine (shown in dumps and overflow reports).
    ///
    /// ```
    /// let h = goro_sched::Builder::new().name("resizer").go(|| {
    ///     goro_sched::sleep(std::time::Duration::from_millis(1)); // parked once: listed
    ///     goro_sched::dump()
    /// })?;
    /// assert!(h.join().unwrap().contains("\"resizer\" [running"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Its stack size in bytes: 16 KiB to 1 GiB, rounded up to whole pages.
    ///
    /// ```
    /// let h = goro_sched::Builder::new().stack_size(1 << 20).go(|| {
    ///     let big = [1u8; 512 * 1024]; // fits in 1 MiB, not in 256 KiB (the default, optimized)
    ///     big.iter().map(|&b| usize::from(b)).sum::<usize>()
    /// })?;
    /// assert_eq!(h.join().unwrap(), 512 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the goroutine, as [`go()`].
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let h = goro_sched::Builder::new().go(|| "spawned")?;
    /// assert_eq!(h.join().unwrap(), "spawned");
    /// let err = goro_sched::Builder::new().stack_size(1).go(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a stack size out of range; `OutOfMemory` when the
    /// address space or the memory-map budget is exhausted, with a message
    /// that says what to change.
    #[track_caller]
    pub fn go<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let location = std::panic::Location::caller();
        crate::current::with_current_here(|rt, here| {
            rt.spawn(
                here,
                self.name.map(Into::into),
                self.stack_size,
                location,
                false,
                f,
            )
        })
        .map_err(|e| match self.stack_size {
            Some(_) if e.kind() == io::ErrorKind::InvalidInput => {
                io::Error::new(e.kind(), format!("Builder::stack_size: {e}"))
            }
            _ => e,
        })
    }
}

/// A snapshot of a runtime's counters.
///
/// ```
/// let rt = goro_sched::Runtime::builder().workers(2).build()?;
/// rt.run(|| {
///     for _ in 0..10 {
///         goro_sched::go(|| ());
///     }
/// });
/// let stats = rt.stats();
/// assert_eq!(stats.workers, 2);
/// assert!(stats.spawned >= 11); // `run`'s goroutine and its ten
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Goroutines alive now.
    pub goroutines: usize,
    /// Goroutines spawned since the runtime started.
    pub spawned: u64,
    /// Times a worker switched into a goroutine.
    pub switches: u64,
    /// Successful steals from another worker's queue.
    pub steals: u64,
    /// Times a goroutine parked.
    pub parks: u64,
    /// Workers (`GORO_MAXPROCS`, `RuntimeBuilder::workers`).
    pub workers: usize,
    /// Times sysmon (or `blocking`) handed a stuck worker's work to others.
    pub handoffs: u64,
    /// Spare threads standing in for stuck workers right now.
    pub spares: usize,
    /// Goroutines queued on each worker (then each spare slot used so far),
    /// not counting the one in its `next` slot.
    pub queue_lengths: Vec<usize>,
    /// Goroutines queued on the global injector.
    pub injected: usize,
    /// The runtime's name (`RuntimeBuilder::name`; `goro-worker` by
    /// default, `goro-bubble` for a `test::run` bubble).
    pub runtime: String,
    /// Every other live runtime's, from [`stats()`] (which covers every
    /// runtime of the process, the current one's at the top level); empty
    /// from [`Runtime::stats`], which covers its own.
    pub others: Vec<Stats>,
}

impl Stats {
    fn of(shared: &crate::shared::Shared) -> Stats {
        Stats {
            runtime: shared.name.to_string(),
            others: Vec::new(),
            goroutines: shared.alive(),
            spawned: shared.total(|c| &c.spawned),
            switches: shared.total(|c| &c.switches),
            steals: shared.total(|c| &c.steals),
            parks: shared.total(|c| &c.parks),
            workers: shared.procs,
            handoffs: shared.handoffs(),
            spares: shared.spares_running(),
            queue_lengths: shared.queue_lengths(),
            injected: shared.injector.len(),
        }
    }

    /// Goroutines alive now in this runtime and in `others`.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let h = rt.go(move || {
    ///     let _ = rx.recv();
    /// });
    /// let all = goro_sched::stats(); // from this thread: the global runtime's, then rt's
    /// assert!(all.total_goroutines() >= 1);
    /// assert!(all.others.iter().any(|s| s.goroutines == 1 && s.workers == 1));
    /// drop(tx);
    /// h.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn total_goroutines(&self) -> usize {
        self.goroutines
            + self
                .others
                .iter()
                .map(Stats::total_goroutines)
                .sum::<usize>()
    }
}

impl fmt::Display for Stats {
    /// A section a runtime, each headed by its name, as `dump` heads them.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(2).name("pool").build()?;
    /// let text = rt.stats().to_string();
    /// assert!(text.starts_with("runtime \"pool\": 0 goroutines, 2 workers"), "{text}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "runtime \"{}\": {} goroutines, {} workers, {} spare threads",
            self.runtime, self.goroutines, self.workers, self.spares
        )?;
        writeln!(
            f,
            "\tspawned {}, switches {}, steals {}, parks {}, hand-offs {}",
            self.spawned, self.switches, self.steals, self.parks, self.handoffs
        )?;
        writeln!(
            f,
            "\tqueued: injector {}, workers {:?}",
            self.injected, self.queue_lengths
        )?;
        for other in &self.others {
            write!(f, "{other}")?;
        }
        Ok(())
    }
}

/// A snapshot of every live runtime's counters: the current runtime's (the
/// calling goroutine's, else the one this thread [entered](Runtime::enter),
/// else the global one) at the top level, every other's in
/// [`Stats::others`]. Its `Display` prints a section per runtime.
///
/// ```
/// let before = goro_sched::stats().spawned;
/// goro_sched::go(|| ()).join().unwrap();
/// assert!(goro_sched::stats().spawned > before);
/// ```
pub fn stats() -> Stats {
    crate::current::with_current(|rt| {
        let mut stats = Stats::of(rt);
        stats.others = crate::deadlock::all_runtimes()
            .iter()
            .filter(|other| !Arc::ptr_eq(other, rt))
            .map(|other| Stats::of(other))
            .collect();
        stats
    })
}

/// Spawns a goroutine, as Go's `go` statement.
///
/// * `go!(f(a, b))` and `go!(path::to::f(a, b))` evaluate the arguments here,
///   in the caller, then run the call in a new goroutine.
/// * `go!(move || ...)` spawns a closure; `go!({ ... })` a block (as a `move`
///   closure).
///
/// Returns the [`JoinHandle`].
///
/// ```
/// use goro_sched::go;
///
/// fn greet(name: String, times: usize) -> String {
///     name.repeat(times)
/// }
///
/// let name = String::from("go");
/// let h = go!(greet(name.clone(), 2)); // `name.clone()` runs here
/// assert_eq!(name, "go");
/// assert_eq!(h.join().unwrap(), "gogo");
///
/// let h = go!(move || 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// let h = go!({ "block" });
/// assert_eq!(h.join().unwrap(), "block");
/// ```
#[macro_export]
macro_rules! go {
    ({ $($body:tt)* }) => {
        $crate::go(move || { $($body)* })
    };
    ($($f:ident)::+ ( $($arg:expr),* $(,)? )) => {{
        let args = ($($arg,)*);
        $crate::go(move || $crate::__private::Call::call($($f)::+, args))
    }};
    ($closure:expr) => {
        $crate::go($closure)
    };
}

/// Declares goroutine-local statics, like `thread_local!`:
///
/// ```
/// use std::cell::Cell;
///
/// goro_sched::local! {
///     static COUNTER: Cell<u32> = Cell::new(0);
/// }
///
/// let counts: Vec<u32> = (0..4)
///     .map(|i| {
///         goro_sched::go(move || {
///             for _ in 0..=i {
///                 COUNTER.with(|c| c.set(c.get() + 1));
///                 goro_sched::yield_now();
///             }
///             COUNTER.with(Cell::get)
///         })
///     })
///     .map(|h| h.join().unwrap())
///     .collect();
/// assert_eq!(counts, [1, 2, 3, 4]);
/// ```
#[macro_export]
macro_rules! local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new({
            fn __init() -> $t {
                $init
            }
            __init
        });
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

#[doc(hidden)]
pub mod __private {
    /// A channel's checkpoint (`goro-chan`): yields if the calling
    /// goroutine has passed several in a row without a switch and
    /// goroutines of its worker wait to run (`WorkerCtx::at_checkpoint`);
    /// never while the thread is panicking (a destructor that sends while
    /// its goroutine unwinds would show the panic to the others), nor on a
    /// plain thread.
    pub fn yield_to_local_work() {
        if crate::worker::in_goroutine()
            && crate::worker::with_any_worker(|w| w.at_checkpoint()).unwrap_or(false)
            && !std::thread::panicking()
        {
            crate::yield_now();
        }
    }

    /// goro-net's `signal::notify` of SIGQUIT: installs the goroutine-dump
    /// handler now (if `GORO_TRACEBACK=1`; once per process), so that a
    /// runtime started later does not put it over the handler that
    /// `notify` installs; `notify` keeps it and puts it back when nothing
    /// watches SIGQUIT any more.
    pub fn install_sigquit_handler() {
        crate::sysmon::install_sigquit_handler();
    }

    /// goro-net's `accept` (default mode): the calling goroutine's next
    /// spawn in this run starts on the worker that last ran on `cpu`, the
    /// CPU that received the accepted connection (`SO_INCOMING_CPU`), so
    /// that the connection's goroutine runs where the kernel handles its
    /// packets (see `WorkerCtx::place_next_spawn`).
    pub fn spawn_near_cpu(cpu: u32) {
        if crate::worker::in_goroutine() {
            crate::worker::with_any_worker(|w| w.place_next_spawn(cpu));
        }
    }

    /// Tests only: the CPU this thread's worker noted last (`spawn_near_cpu`).
    pub fn worker_cpu() -> Option<u32> {
        crate::worker::with_any_worker(|w| w.noted_cpu()).flatten()
    }

    /// Tests only: makes the task pool find no new memory (as under a
    /// memory limit) while `on`, so that a test can see a spawn fail
    /// cleanly without lowering the whole process's limits.
    pub fn simulate_no_task_memory(on: bool) {
        crate::alloc::simulate_no_memory(on);
    }

    /// Calls a function with a tuple of already evaluated arguments (`go!`).
    pub trait Call<Args> {
        /// What the function returns.
        type Output;
        /// Calls it.
        fn call(self, args: Args) -> Self::Output;
    }

    macro_rules! impl_call {
        ($($a:ident)*) => {
            impl<Func, Ret, $($a,)*> Call<($($a,)*)> for Func
            where
                Func: FnOnce($($a),*) -> Ret,
            {
                type Output = Ret;
                #[allow(non_snake_case)]
                fn call(self, ($($a,)*): ($($a,)*)) -> Ret {
                    self($($a),*)
                }
            }
        };
    }

    impl_call!();
    impl_call!(A);
    impl_call!(A B);
    impl_call!(A B C);
    impl_call!(A B C D);
    impl_call!(A B C D E);
    impl_call!(A B C D E F);
    impl_call!(A B C D E F G);
    impl_call!(A B C D E F G H);
    impl_call!(A B C D E F G H I);
    impl_call!(A B C D E F G H I J);
    impl_call!(A B C D E F G H I J K);
    impl_call!(A B C D E F G H I J K L);
}
