//! Helpers shared by the integration tests: a private runtime (so that
//! `num_goroutines` counts only the test's own goroutines), bounded waits.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use goro_patterns::sync::chan::sched::{self, Runtime};
use goro_patterns::sync::chan::{Receiver, RecvTimeoutError};

/// How long a test waits for something that should happen at once before
/// calling it a hang.
pub(crate) const HANG: Duration = Duration::from_secs(60);

/// A runtime of two workers, for tests that count goroutines.
pub(crate) fn runtime() -> Runtime {
    crate::mode::builder()
        .workers(2)
        .build()
        .expect("a test runtime")
}

/// Polls `cond` (sleeping a millisecond between tries: parks a goroutine)
/// until it holds; panics after [`HANG`].
#[track_caller]
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "timed out waiting until {what}");
        sched::sleep(Duration::from_millis(1));
    }
}

/// Receives until the channel is closed; panics if a value takes [`HANG`].
#[track_caller]
pub(crate) fn collect<T>(rx: &Receiver<T>) -> Vec<T> {
    let mut out = Vec::new();
    loop {
        match rx.recv_timeout(HANG) {
            Ok(v) => out.push(v),
            Err(RecvTimeoutError::Closed) => return out,
            Err(RecvTimeoutError::Timeout) => panic!("stream hung after {} values", out.len()),
        }
    }
}

/// Receives one value; panics if it takes [`HANG`] or the channel closes.
#[track_caller]
pub(crate) fn recv<T>(rx: &Receiver<T>) -> T {
    match rx.recv_timeout(HANG) {
        Ok(v) => v,
        Err(e) => panic!("expected a value: {e:?}"),
    }
}

/// Waits until the goroutines of the current runtime are back to `base`.
#[track_caller]
pub(crate) fn wait_for_goroutines(base: usize) {
    let start = Instant::now();
    loop {
        let now = sched::num_goroutines();
        if now == base {
            return;
        }
        assert!(
            start.elapsed() < HANG,
            "goroutines leaked: {now} alive, {base} before\n{}",
            sched::dump()
        );
        sched::sleep(Duration::from_millis(1));
    }
}
