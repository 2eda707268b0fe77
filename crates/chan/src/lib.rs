//! Go channels for goroutines and threads: `bounded`, `unbounded`, `select!`.
//!
//! This crate is a skeleton for now: it sits on [`goro_sched`], whose park/wake
//! seam its channels will block through.

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]

#[doc(no_inline)]
pub use goro_sched as sched;
