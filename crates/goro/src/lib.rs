//! Go's concurrency model in Rust: goroutines, channels, `select!`, sync and
//! the classic patterns, without `async`.
//!
//! ```
//! let handles: Vec<_> = (1..=10u64).map(|i| goro::go(move || i * i)).collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 385);
//! ```
//!
//! This facade re-exports the layers below. In place today: goroutines on an
//! M:N work-stealing scheduler (the crate root, from `goro-sched`) and the
//! stackful coroutines under them ([`fiber`]). Channels, sync, context and the
//! patterns come next.
//!
//! | Go                         | goro                                   |
//! |----------------------------|----------------------------------------|
//! | `go f(a, b)`               | `go!(f(a, b))`                         |
//! | `go func() { ... }()`      | `go!(move \|\| { ... })` or `go(...)`  |
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
