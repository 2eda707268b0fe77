//! Go's concurrency model in Rust: goroutines, channels, `select!`, sync and
//! the classic patterns, without `async`.
//!
//! This facade re-exports the layers below. Today the bottom layer is in
//! place: stackful coroutines, in [`fiber`].
//!
//! ```
//! use goro::fiber::{Coroutine, CoroutineResult};
//!
//! let mut co = Coroutine::new(|y, x: i32| y.suspend(x * 2) + 1);
//! assert_eq!(co.resume(20), CoroutineResult::Yield(40));
//! assert_eq!(co.resume(41), CoroutineResult::Return(42));
//! ```

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]

#[doc(inline)]
pub use goro_fiber as fiber;
