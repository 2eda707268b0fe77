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
//! `select!` ([`chan`], [`select!`]), time channels ([`time`]), and the
//! stackful coroutines under it all ([`fiber`]). Sync, context and the
//! patterns come next.
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

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]

#[doc(inline)]
pub use goro_fiber as fiber;
#[doc(inline)]
pub use goro_sched::{
    Builder, GoroutineId, JoinError, JoinHandle, LocalKey, Runtime, RuntimeBuilder, Scope,
    ScopedJoinHandle, Stats, blocking, go, id, local, num_goroutines, park, run, scope, sleep,
    yield_now,
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

#[doc(inline)]
pub use goro_chan::select;
#[doc(inline)]
pub use goro_chan::time;
