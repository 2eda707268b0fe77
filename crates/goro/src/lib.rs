//! Go's concurrency model in Rust: goroutines, channels, `select!`, sync and
//! the classic patterns, without `async`.
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
//! and the stackful coroutines under it all ([`fiber`]). The patterns come
//! next.
//!
//! | Go                         | goro                                   |
//! |----------------------------|----------------------------------------|
//! | `go f(a, b)`               | `go!(f(a, b))`                         |
//! | `go func() { ... }()`      | `go!(move \|\| { ... })` or `go(...)`  |
//! | `make(chan T)`             | `chan::bounded::<T>(0)`                |
//! | `make(chan T, n)`          | `chan::bounded::<T>(n)`                |
//! | `ch <- v`, `v, ok := <-ch` | `tx.send(v)`, `rx.recv()`              |
//! | `close(ch)`                | `tx.close()` or drop every sender      |
//! | `for v := range ch`        | `for v in &rx`                         |
//! | `select { case ... }`      | `select! { recv(rx) -> v => ..., }`    |
//! | `var ch chan T` (nil)      | `chan::never()`                        |
//! | `time.After(d)`            | `time::after(d)`                       |
//! | `runtime.Gosched()`        | `goro::yield_now()`                    |
//! | `time.Sleep(d)`            | `goro::sleep(d)`                       |
//! | `runtime.NumGoroutine()`   | `goro::num_goroutines()`               |
//! | `GOMAXPROCS`               | `GORO_MAXPROCS`, `Runtime::builder().workers(n)` |
//! | `var mu sync.Mutex`        | `sync::Mutex::new(value)`: the lock owns its data |
//! | `mu.Lock(); defer mu.Unlock()` | `let guard = mu.lock();` (unlocks on drop) |
//! | `sync.RWMutex`             | `sync::RwLock`                         |
//! | `var wg sync.WaitGroup`    | `sync::WaitGroup::new()` (`Clone` shares it) |
//! | `wg.Add(1); go f()`, `wg.Go(f)` | `wg.add(1)`, `wg.go(f)`          |
//! | `sync.Once`, `sync.Cond`   | `sync::Once`, `sync::Condvar`          |
//! | `semaphore.NewWeighted(n)` | `sync::Semaphore::new(n)`              |
//! | `ctx, cancel := context.WithCancel(parent)` | `let (ctx, cancel) = Context::with_cancel(&parent);` |
//! | `defer cancel()`           | keep the handle: dropping it cancels   |
//! | `<-ctx.Done()`, `ctx.Err()` | `ctx.done()` (a `Receiver<()>`), `ctx.err()` |

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]

#[doc(inline)]
pub use goro_fiber as fiber;
#[doc(inline)]
pub use goro_sched::{
    Builder, GoroutineId, JoinError, JoinHandle, LocalKey, Runtime, RuntimeBuilder, Scope,
    ScopedJoinHandle, Stats, blocking, dump, go, id, local, num_goroutines, park, run, scope,
    sleep, stats, yield_now,
};

/// Channels: Go's `chan`, with `select!` and the dynamic [`chan::Select`].
pub mod chan {
    #[doc(inline)]
    pub use goro_chan::{
        IntoIter, Iter, Receiver, RecvError, RecvTimeoutError, Select, SelectTimeoutError,
        SelectedOperation, SendError, SendTimeoutError, Sender, TryIter, TryRecvError,
        TrySelectError, TrySendError, bounded, never, unbounded,
    };
}

/// Locks and coordination that park goroutines: Go's `sync`.
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

#[doc(inline)]
pub use goro_chan::select;
#[doc(inline)]
pub use goro_chan::time;
