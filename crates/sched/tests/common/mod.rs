//! What the runtime tests share: the mode their runtimes run in.
//!
//! `builder()` gives the default mode, or the migrating mode when
//! `GORO_TEST_MODE=migrating` (`ci/test.sh` runs the suite both ways);
//! `migrating()` is for tests of what only that mode does; `enter()` puts
//! the free functions (`go()`, `run()`...) on a runtime in the suite's mode.
//! The chan, sync and patterns suites include this file too.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use goro_sched::{Runtime, RuntimeBuilder};

/// Generous bound against hangs (never a timing claim).
pub(crate) const HANG: Duration = Duration::from_secs(30);

/// Spins on the CPU until `flag` is set; false if it never was.
pub(crate) fn hog_until(flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::Acquire) {
        if start.elapsed() > HANG {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// Whether the suite runs in the migrating mode.
pub(crate) fn is_migrating() -> bool {
    std::env::var_os("GORO_TEST_MODE").is_some_and(|m| m == "migrating")
}

/// A builder in the mode the suite runs in.
pub(crate) fn builder() -> RuntimeBuilder {
    if is_migrating() {
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

/// Makes the suite's runtime, in the suite's mode, the current one of the
/// calling test's thread: `go()`, `run()` and the other free functions
/// then use it instead of the global runtime (which is always in the
/// default mode). One runtime for every test of a binary, as the global
/// one would be.
pub(crate) fn enter() -> goro_sched::EnterGuard<'static> {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            builder()
                .name("goro-test")
                .build()
                .expect("the suite's runtime")
        })
        .enter()
}
