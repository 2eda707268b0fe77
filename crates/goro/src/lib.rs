//! Go's concurrency model in Rust: goroutines, channels, `select!`, sync,
//! cancellation and the classic patterns, without `async`.
//!
//! ```
//! use goro::chan::bounded;
//!
//! let (tx, rx) = bounded(0); // Go's `make(chan int)`
//! goro::go(move || {
//!     for i in 1..=10u64 {
//!         tx.send(i * i).unwrap();
//!     }
//! }); // dropping the last sender closes the channel
//! let sum: u64 = rx.iter().sum(); // `for v := range ch`
//! assert_eq!(sum, 385);
//! ```
//!
//! This facade re-exports the layers below: goroutines on an M:N
//! work-stealing scheduler (the crate root, from `goro-sched`), channels and
//! `select!` ([`chan`], [`select!`]), time channels ([`time`]), locks and
//! wait groups that park goroutines ([`sync`]), cancellation ([`context`]),
//! pipelines, worker pools, errgroup and rate limiting ([`patterns`]), TCP,
//! UDP and Unix sockets on a netpoller ([`net`]), signals as channels
//! ([`signal`]), and the stackful coroutines under it all ([`fiber`]).
//! [`prelude`] imports the
//! names a Go port uses on every page.
//!
//! # The model
//!
//! A goroutine is a function running on a stack of its own (256 KiB of
//! address space, 2 MiB in a debug build, committed as it is touched: a
//! parked goroutine costs about 4 KiB). `GORO_MAXPROCS` worker threads (default: one per CPU) run
//! goroutines and steal from each other when idle. A goroutine that waits
//! (on a channel, a lock, a timer, a join) *parks*: its worker runs another
//! one meanwhile. The same calls from a plain thread block that thread, so
//! goroutines and threads mix freely: `main` may send to a goroutine, a
//! goroutine may wait for a thread.
//!
//! [`go()`] works anywhere: in a goroutine it spawns on that goroutine's
//! runtime, elsewhere on the global runtime, which starts on first use.
//! [`run`] is Go's `main` goroutine: it runs a function as a goroutine and
//! waits for it. [`Runtime`] gives you runtimes of your own.
//!
//! # From Go to goro
//!
//! | Go                         | goro                                   |
//! |----------------------------|----------------------------------------|
//! | `go f(a, b)`               | `go!(f(a, b))` (arguments evaluated here, as Go does) |
//! | `go func() { ... }()`      | `go!(move \|\| { ... })` or `go(move \|\| ...)` |
//! | a goroutine's result       | `go(f).join()` (a [`JoinHandle`]; a panic is a [`JoinError`]) |
//! | `func main()`              | `goro::run(\|\| ...)`                  |
//! | goroutines that borrow     | `goro::scope(\|s\| { s.go(...); })`   |
//! | `runtime.Gosched()`        | `goro::yield_now()`                    |
//! | `runtime.NumGoroutine()`   | `goro::num_goroutines()`               |
//! | `GOMAXPROCS`               | `GORO_MAXPROCS`, `Runtime::builder().workers(n)` |
//! | a SIGQUIT goroutine dump   | `goro::dump()` (or `GORO_TRACEBACK=1` and SIGQUIT) |
//! | `make(chan T)`             | `chan::bounded::<T>(0)`                |
//! | `make(chan T, n)`          | `chan::bounded::<T>(n)`                |
//! | `ch <- v`, `v, ok := <-ch` | `tx.send(v)`, `rx.recv()` (`Err` once closed and drained) |
//! | `close(ch)`                | `tx.close()` or drop every sender      |
//! | `for v := range ch`        | `for v in &rx`                         |
//! | `select { case ... }`      | `select! { recv(rx) -> v => ..., send(tx, v) -> res => ..., }` |
//! | `select` with `default:`   | `select! { ..., default => ... }`      |
//! | `var ch chan T` (nil)      | `chan::never()`                        |
//! | `reflect.Select`           | `chan::Select`                         |
//! | `time.Sleep(d)`            | `goro::sleep(d)`                       |
//! | `time.After(d)`, `time.Tick(d)` | `time::after(d)`, `time::tick(d)` |
//! | `time.NewTimer`, `time.NewTicker`, `time.AfterFunc` | `time::Timer::new`, `time::Ticker::new`, `time::after_func` |
//! | `var mu sync.Mutex`        | `sync::Mutex::new(value)`: the lock owns its data |
//! | `mu.Lock(); defer mu.Unlock()` | `let guard = mu.lock();` (unlocks on drop) |
//! | `sync.RWMutex`             | `sync::RwLock`                         |
//! | `var wg sync.WaitGroup`    | `sync::WaitGroup::new()` (`Clone` shares it) |
//! | `wg.Add(1); go f()`, `wg.Go(f)` | `wg.add(1)`, `wg.go(f)`          |
//! | `sync.Once`, `sync.Cond`   | `sync::Once`, `sync::Condvar`          |
//! | `semaphore.NewWeighted(n)` | `sync::Semaphore::new(n)`              |
//! | `ctx, cancel := context.WithCancel(parent)` | `let (ctx, cancel) = Context::with_cancel(&parent);` |
//! | `context.WithTimeout(parent, d)` | `Context::with_timeout(&parent, d)` |
//! | `defer cancel()`           | keep the handle: dropping it cancels   |
//! | `<-ctx.Done()`, `ctx.Err()` | `ctx.done()` (a `Receiver<()>`), `ctx.err()` |
//! | `errgroup.WithContext(ctx)`, `g.Go(f)`, `g.Wait()` | `ErrGroup::with_context(&ctx)`, `g.go(f)`, `g.wait()` |
//! | `g.SetLimit(n)`            | `g.set_limit(n)`                       |
//! | `jobs := make(chan Job, n)` and N workers | `patterns::WorkerPool::new(workers, n)` |
//! | a pipeline stage: N goroutines `for v := range in { out <- f(v) }` | `patterns::stage(rx, n, f)`, `stage_ordered` |
//! | `gen(...)`, `merge(cs...)`  | `patterns::generate(iter)`, `patterns::merge(vec![...])` |
//! | `close(done)` to stop a pipeline | drop its output, or `patterns::or_done(&ctx, rx)` and cancel |
//! | `rate.NewLimiter(r, b)`, `lim.Wait(ctx)` | `patterns::RateLimiter::new(r, b)`, `lim.wait()` |
//! | `net.Listen("tcp", addr)`, `ln.Accept()`, `net.Dial` | `net::TcpListener::bind(addr)`, `listener.accept()`, `net::TcpStream::connect` |
//! | `signal.Notify(c, os.Interrupt)`, `signal.Stop(c)` | `let c = signal::notify(&[signal::Signal::Interrupt]);`, `signal::stop(&c)` |
//!
//! Sending on a closed channel returns the value in an `Err` (Go panics),
//! and a panic in a goroutine fails its [`JoinHandle`] instead of the
//! process.
//!
//! ```
//! use goro::prelude::*;
//! use goro::patterns::{ErrGroup, generate, stage_ordered};
//! use std::time::Duration;
//!
//! // A pipeline: squares of 1..=5 on 3 workers, in input order.
//! let squares = stage_ordered(generate(1..=5u64), 3, |x| x * x);
//! assert_eq!(squares.iter().collect::<Vec<_>>(), [1, 4, 9, 16, 25]);
//!
//! // errgroup: the first error wins and cancels the group's context.
//! let (group, ctx) = ErrGroup::<String>::with_context(&Context::background());
//! for i in 0..4 {
//!     let ctx = ctx.clone();
//!     group.go(move || {
//!         if i == 2 {
//!             return Err(format!("task {i} failed"));
//!         }
//!         select! {
//!             recv(ctx.done()) -> _ => Ok(()), // cancelled by the failure
//!             recv(after(Duration::from_secs(10))) -> _ => Ok(()),
//!         }
//!     });
//! }
//! assert_eq!(group.wait(), Err("task 2 failed".to_string()));
//! ```
//!
//! # Thread-locals, and the one thread a goroutine runs on
//!
//! A goroutine that has started runs on the same OS thread for the rest of
//! its life. So thread-bound state is as safe in a goroutine as in a plain
//! thread: a `thread_local!` borrowed across a channel receive, an `Rc`
//! cloned out of one, `rand::thread_rng()`, `std::io::stdout().lock()` held
//! while the goroutine waits. Goroutines that share a thread interleave at
//! their park points, as re-entrant code does on one thread, which Rust's
//! thread-local types already handle. Goroutines still spread over every
//! worker: a goroutine that has not run yet may be started by any of them.
//! For state that belongs to the goroutine itself, use [`local!`].
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! thread_local! {
//!     static SHARED: Rc<Cell<u32>> = Rc::new(Cell::new(0));
//! }
//!
//! let h = goro::go(|| {
//!     let thread = std::thread::current().id();
//!     let counter = SHARED.with(Rc::clone); // an `Rc`: bound to this thread
//!     for _ in 0..3 {
//!         counter.set(counter.get() + 1);
//!         goro::yield_now(); // a park point: we come back on this thread
//!     }
//!     std::thread::current().id() == thread
//! });
//! assert!(h.join().unwrap());
//! ```
//!
//! Go moves goroutines between threads instead. A runtime built with the
//! `unsafe` [`RuntimeBuilder::migrating`] does so too (a goroutine woken by
//! another runs next on the waker's thread; a stuck worker's goroutines
//! move to a spare thread), for what that buys (see the README's
//! "Safety"), under a contract: no thread-bound state across a park point.
//!
//! ```
//! use std::cell::Cell;
//!
//! goro::local! {
//!     static STEPS: Cell<u32> = Cell::new(0);
//! }
//!
//! let steps = goro::go(|| {
//!     for _ in 0..3 {
//!         STEPS.with(|s| s.set(s.get() + 1)); // this goroutine's own
//!         goro::yield_now();
//!     }
//!     STEPS.with(Cell::get)
//! });
//! assert_eq!(steps.join().unwrap(), 3);
//! ```
//!
//! # Blocking calls and sysmon
//!
//! Goroutines are never preempted: one that blocks its thread (a blocking
//! read, `std::thread::sleep`, a long computation) keeps its worker, and
//! the goroutines that started on that worker wait for it (a goroutine
//! keeps its thread). Use goro's own [`sleep`], channels and locks where you
//! can, and wrap other blocking calls in [`blocking`], which runs them on a
//! thread of a pool while the goroutine parks. As a safety net, a monitor
//! thread (*sysmon*, as Go's) notices a worker that has run one goroutine
//! for over 10 ms: it moves the goroutines that have not started yet to
//! other workers, and prints which goroutine holds the worker, since when,
//! and how many wait behind it (so does [`dump`]).
//!
//! ```
//! let h = goro::go(|| {
//!     // File I/O, a C library, a blocking syscall: tell the scheduler first.
//!     goro::blocking(|| std::fs::metadata(std::env::temp_dir()).map(|m| m.is_dir()))
//! });
//! assert!(h.join().unwrap().unwrap());
//! ```
//!
//! # Deadlocks and `goro::dump`
//!
//! When every goroutine of the process is parked, no timer is pending and
//! no other thread could wake one, [`run`] (and [`Runtime::run`]) fails as
//! Go does, with a panic that says `all goroutines are asleep - deadlock!`
//! followed by a dump of every goroutine and what it waits for. Any live
//! thread outside goro might still send, so its presence holds the report
//! back: it never fires while a wake-up can still come.
//!
//! ```no_run
//! goro::run(|| {
//!     let (tx, rx) = goro::chan::bounded::<i32>(0);
//!     rx.recv().unwrap(); // nobody will ever send: `tx` is ours
//!     drop(tx);
//! }); // panics: "all goroutines are asleep - deadlock!" and the dump
//! ```
//!
//! [`dump`] gives the same listing at any time (Go's SIGQUIT traceback;
//! with `GORO_TRACEBACK=1` a SIGQUIT prints it too): every goroutine's id,
//! name, state (running, runnable, or what it waits on and for how long)
//! and where it was spawned. [`stats`] gives the scheduler's counters.
//!
//! ```
//! let (tx, rx) = goro::chan::bounded::<()>(0);
//! let waiter = goro::Builder::new()
//!     .name("waiter")
//!     .go(move || rx.recv())
//!     .unwrap();
//! while !goro::dump().contains("\"waiter\" [chan receive") {
//!     goro::yield_now(); // until it has parked
//! }
//! drop(tx); // closes the channel: the waiter's recv returns Err
//! assert!(waiter.join().unwrap().is_err());
//! ```
//!
//! # Module map
//!
//! * The crate root: goroutines ([`go()`], [`go!`], [`run`], [`scope()`],
//!   [`Builder`], [`JoinHandle`]), runtimes ([`Runtime`], [`Stats`]),
//!   [`sleep`], [`yield_now`], [`blocking`], [`local!`], [`dump`], and
//!   [`park`], the one way channels and locks block.
//! * [`chan`] and [`select!`]: Go's channels. [`time`]: timers as channels.
//! * [`sync`]: `Mutex`, `RwLock`, `WaitGroup`, `Once`, `Condvar`,
//!   `Semaphore`, `Barrier`. [`context`]: cancellation.
//! * [`patterns`]: pipelines, fan-in and fan-out, `WorkerPool`, `ErrGroup`,
//!   `RateLimiter`.
//! * [`fiber`]: the coroutines under goroutines, usable alone.
//! * [`prelude`]: `use goro::prelude::*;`.

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

#[doc(inline)]
pub use goro_fiber as fiber;
#[doc(inline)]
pub use goro_sched::{
    Builder, EnterGuard, GoroutineId, JoinError, JoinHandle, LocalKey, Runtime, RuntimeBuilder,
    Scope, ScopedJoinHandle, Stats, blocking, dump, dump_with_backtraces, go, id, local,
    num_goroutines, park, run, scope, sleep, stats, test, yield_now,
};

/// Channels: Go's `chan`, with `select!` and the dynamic [`chan::Select`].
///
/// ```
/// use goro::chan::{bounded, unbounded};
///
/// let (tx, rx) = bounded::<&str>(1); // make(chan string, 1)
/// tx.send("buffered").unwrap(); // room for one: does not wait
/// assert_eq!(rx.recv(), Ok("buffered"));
///
/// let (tx, rx) = unbounded();
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// tx.close(); // close(ch): receivers drain, then see the end
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub mod chan {
    #[doc(inline)]
    pub use goro_chan::{
        IntoIter, Iter, ReadyTimeoutError, Receiver, RecvError, RecvTimeoutError, Select,
        SelectTimeoutError, SelectedOperation, SendError, SendTimeoutError, Sender, TryIter,
        TryReadyError, TryRecvError, TrySelectError, TrySendError, after, at, bounded, never, tick,
        unbounded,
    };
    /// Where crossbeam-channel has them too: `use goro::chan::select;`.
    #[doc(no_inline)]
    pub use goro_chan::{select, select_biased};
}

/// Locks and coordination that park goroutines: Go's `sync`.
///
/// ```
/// use goro::sync::{Mutex, WaitGroup};
/// use std::sync::Arc;
///
/// let hits = Arc::new(Mutex::new(0));
/// let wg = WaitGroup::new();
/// for _ in 0..10 {
///     let hits = hits.clone();
///     wg.go(move || *hits.lock() += 1); // Go 1.25's wg.Go
/// }
/// wg.wait();
/// assert_eq!(*hits.lock(), 10);
/// ```
pub mod sync {
    #[doc(inline)]
    pub use goro_sync::{
        AcquireError, Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, Once, OnceCell,
        RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit, WaitGroup,
        WaitTimeoutResult,
    };
}

#[doc(inline)]
pub use goro_sync::context;

/// Sockets that park goroutines on the netpoller (`goro-net`): std's shapes
/// (`TcpListener`, `TcpStream`, `UdpSocket`, `UnixListener`, `UnixStream`,
/// `UnixDatagram`; `Read`/`Write` on a stream and on `&T`, `try_clone`,
/// `shutdown`, `set_read_timeout`...) plus Go's absolute deadlines. A
/// goroutine waiting on a socket parks; a plain thread blocks.
///
/// ```
/// use goro::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
///
/// goro::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     goro::go(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = [0u8; 4];
///         conn.read_exact(&mut buf).unwrap();
///         conn.write_all(&buf).unwrap(); // echo
///     });
///     let mut client = TcpStream::connect(addr).unwrap();
///     client.write_all(b"ping").unwrap();
///     let mut buf = [0u8; 4];
///     client.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub mod net {
    #[doc(inline)]
    pub use goro_net::{
        Incoming, TcpListener, TcpStream, ToSocketAddrs, UdpSocket, UnixDatagram, UnixListener,
        UnixStream,
    };
}

#[doc(inline)]
pub use goro_net::signal;

#[doc(inline)]
pub use goro_chan::time;
#[doc(inline)]
pub use goro_chan::{select, select_biased};

/// Go's concurrency patterns: pipelines, fan-in and fan-out, worker pools,
/// errgroup and rate limiting, on goroutines and channels.
///
/// Every function here takes and returns plain [`chan::Receiver`]s, so the
/// patterns compose with each other and with channels of your own. Every
/// channel between two goroutines is bounded (back-pressure), and a
/// pipeline stops by drop: dropping its output makes each stage fail its
/// next send and exit, one after another upstream; [`or_done`] ties a
/// stream to a [`context::Context`] instead.
///
/// ```
/// use goro::patterns::{WorkerPool, generate, merge, stage, stage_ordered};
///
/// // Pipelines: squares in order on 4 workers, cubes in any order on 2.
/// let squares = stage_ordered(generate(1..=10u64), 4, |x| x * x);
/// let cubes = stage(generate(1..=10u64), 2, |x| x * x * x);
/// let total: u64 = merge(vec![squares, cubes]).iter().sum(); // fan-in
/// assert_eq!(total, 385 + 3025);
///
/// // A worker pool: 2 workers, room for 4 waiting jobs, a handle per job.
/// let pool = WorkerPool::new(2, 4);
/// let job = pool.submit(|| 6 * 7).unwrap();
/// assert_eq!(job.join().unwrap(), 42);
/// ```
///
/// [`or_done`]: patterns::or_done
pub mod patterns {
    #[doc(inline)]
    pub use goro_patterns::{
        BUFFER, ErrGroup, JobHandle, JoinError, PoolClosed, RateLimiter, TrySubmitError, WaitError,
        WorkerPool, bridge, fan_out, generate, merge, or_done, stage, stage_ordered, tee,
    };
}

/// The names a Go port uses on every page: `use goro::prelude::*;`.
///
/// | imported | Go |
/// |---|---|
/// | [`go()`] and [`go!`], [`run`], [`scope()`], [`JoinHandle`] | `go`, `main`, goroutines that borrow |
/// | [`select!`] | `select` |
/// | [`sleep`], [`yield_now`] | `time.Sleep`, `runtime.Gosched` |
/// | [`bounded`](chan::bounded), [`unbounded`](chan::unbounded), [`never`](chan::never), [`Sender`](chan::Sender), [`Receiver`](chan::Receiver) | `make(chan T, n)`, `chan<- T`, `<-chan T`, a nil channel |
/// | [`after`](time::after), [`tick`](time::tick) | `time.After`, `time.Tick` |
/// | [`Mutex`](sync::Mutex), [`RwLock`](sync::RwLock), [`WaitGroup`](sync::WaitGroup), [`Once`](sync::Once) | `sync.Mutex`, `sync.RWMutex`, `sync.WaitGroup`, `sync.Once` |
/// | [`Context`](context::Context) | `context.Context` |
///
/// Everything else (the error types, `Select`, `Timer`, `Semaphore`, the
/// patterns) is one path away: `goro::chan::...`, `goro::patterns::...`.
/// The prelude's `Mutex` and `RwLock` are goro's, which park a goroutine
/// instead of blocking its thread; an explicit `use std::sync::Mutex` still
/// wins over the glob import where you want std's.
///
/// ```
/// use goro::prelude::*;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let (tx, rx) = bounded(0);
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let wg = WaitGroup::new();
/// for id in 0..3 {
///     let (rx, seen) = (rx.clone(), seen.clone());
///     wg.go(move || {
///         for job in &rx {
///             seen.lock().push((id, job));
///         }
///     });
/// }
/// for job in 0..9 {
///     tx.send(job).unwrap();
/// }
/// drop(tx); // close(jobs)
/// wg.wait();
/// assert_eq!(seen.lock().len(), 9);
///
/// let timed_out = select! {
///     recv(rx) -> _ => false, // closed: ready at once
///     recv(after(Duration::from_secs(1))) -> _ => true,
/// };
/// assert!(!timed_out);
/// ```
pub mod prelude {
    #[doc(no_inline)]
    pub use crate::chan::{Receiver, Sender, bounded, never, unbounded};
    #[doc(no_inline)]
    pub use crate::context::Context;
    #[doc(no_inline)]
    pub use crate::sync::{Mutex, Once, RwLock, WaitGroup};
    #[doc(no_inline)]
    pub use crate::time::{after, tick};
    #[doc(no_inline)]
    pub use crate::{JoinHandle, go, run, scope, select, sleep, yield_now};
}
