//! What the runtime tests share: the mode their runtimes run in.
//!
//! `builder()` gives the default mode, or the migrating mode when
//! `GORO_TEST_MODE=migrating` (`ci/test.sh` runs the suite both ways);
//! `migrating()` is for tests of what only that mode does.

#![allow(dead_code)]

use goro_sched::{Runtime, RuntimeBuilder};

/// A builder in the mode the suite runs in.
pub(crate) fn builder() -> RuntimeBuilder {
    if std::env::var_os("GORO_TEST_MODE").is_some_and(|m| m == "migrating") {
        migrating()
    } else {
        Runtime::builder()
    }
}

/// A builder in the migrating mode.
pub(crate) fn migrating() -> RuntimeBuilder {
    // SAFETY: the tests' goroutines hold nothing tied to a thread (no
    // thread-local borrow, no `Rc`, no reentrant lock's guard) across a
    // park point.
    unsafe { Runtime::builder().migrating() }
}
