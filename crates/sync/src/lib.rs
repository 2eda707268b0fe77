//! Goroutine-aware synchronization, Go's `sync` and `context`: every
//! primitive here parks a waiting goroutine (its worker thread runs other
//! goroutines meanwhile) and blocks a waiting plain thread, and works across
//! goroutines and threads in any mix.
//!
//! - Locks: [`Mutex`] (Go's fairness: a waiter starved for 1 ms is handed
//!   the lock), [`RwLock`] (a waiting writer stops new readers), [`Condvar`].
//! - Coordination: [`WaitGroup`] (with Go 1.25's `wg.go(f)`), [`Once`],
//!   [`OnceCell`], [`Barrier`], [`Semaphore`] (weighted, FIFO, as
//!   `x/sync/semaphore`).
//! - Cancellation: [`context`], Go's `context.Context` as a tree of
//!   cancellable contexts whose `done()` is a channel.
//!
//! None of them poisons: a panic while holding a lock releases it.
//!
//! ```
//! use goro_sync::{Mutex, WaitGroup};
//! use std::sync::Arc;
//!
//! let total = Arc::new(Mutex::new(0u64));
//! let wg = WaitGroup::new();
//! for i in 1..=100u64 {
//!     let total = total.clone();
//!     wg.go(move || *total.lock() += i);
//! }
//! wg.wait();
//! assert_eq!(*total.lock(), 5050);
//! ```

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

mod barrier;
mod condvar;
pub mod context;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
mod wait_group;
mod waiter;

#[doc(no_inline)]
pub use goro_chan as chan;

pub use crate::barrier::{Barrier, BarrierWaitResult};
pub use crate::condvar::{Condvar, WaitTimeoutResult};
pub use crate::mutex::{Mutex, MutexGuard};
pub use crate::once::{Once, OnceCell};
pub use crate::rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use crate::semaphore::{AcquireError, Semaphore, SemaphorePermit};
pub use crate::wait_group::WaitGroup;
