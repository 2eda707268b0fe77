//! The patterns Go made famous: pipelines, fan-in/fan-out, worker pools, errgroup.
//!
//! This crate is a skeleton for now: it sits on [`goro_sync`].

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]

#[doc(no_inline)]
pub use goro_sync as sync;
