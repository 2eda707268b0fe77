//! The M:N work-stealing scheduler of goro: goroutines on worker threads.
//!
//! This crate is a skeleton for now: it sits on [`goro_fiber`] and will hold
//! goroutines, run queues, stealing, parking, timers and sysmon (DESIGN.md §3).
//! Until then it re-exports the layer below so that the chain of crates is real.

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

#[doc(no_inline)]
pub use goro_fiber as fiber;
