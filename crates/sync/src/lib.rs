//! Goroutine-aware synchronization: `Mutex`, `RwLock`, `WaitGroup`, `Context`, ...
//!
//! This crate is a skeleton for now: it sits on [`goro_chan`] (which it needs
//! for `Context::done`).

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

#[doc(no_inline)]
pub use goro_chan as chan;
