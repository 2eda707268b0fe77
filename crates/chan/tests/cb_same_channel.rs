//! crossbeam-channel's `tests/same_channel.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed and
//! `Disconnected` read as `Closed`. Each test runs as goroutines on 1 and
//! on 4 workers, as plain threads and mixed (`go_harness`); crossbeam's
//! scoped threads are `cb_harness::scope`, in the same mode. Sleeps that
//! only order events are shorter; waits that must succeed are generous.
//!
//! `never_same_channel` failed: two `never()` channels differed (fixed:
//! every `never()` is the same channel). The tests spawn nothing and run in three modes
//! (`NO_SPAWN`).
//!
//! The crossbeam sources: Copyright (c) 2019 The Crossbeam Project
//! Developers, MIT or Apache-2.0.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod cb_harness;
mod go_harness;

use cb_harness::NO_SPAWN;
use go_harness::check;

use std::time::Duration;

use goro_chan::{after, bounded, never, tick, unbounded};

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn after_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let r = after(ms(50));

        let r2 = r.clone();
        assert!(r.same_channel(&r2));

        let r3 = after(ms(50));
        assert!(!r.same_channel(&r3));
        assert!(!r2.same_channel(&r3));

        let r4 = after(ms(100));
        assert!(!r.same_channel(&r4));
        assert!(!r2.same_channel(&r4));
    });
}

#[test]
fn array_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded::<usize>(1);

        let s2 = s.clone();
        assert!(s.same_channel(&s2));

        let r2 = r.clone();
        assert!(r.same_channel(&r2));

        let (s3, r3) = bounded::<usize>(1);
        assert!(!s.same_channel(&s3));
        assert!(!s2.same_channel(&s3));
        assert!(!r.same_channel(&r3));
        assert!(!r2.same_channel(&r3));
    });
}

#[test]
fn list_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded::<usize>();

        let s2 = s.clone();
        assert!(s.same_channel(&s2));

        let r2 = r.clone();
        assert!(r.same_channel(&r2));

        let (s3, r3) = unbounded::<usize>();
        assert!(!s.same_channel(&s3));
        assert!(!s2.same_channel(&s3));
        assert!(!r.same_channel(&r3));
        assert!(!r2.same_channel(&r3));
    });
}

#[test]
fn never_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let r = never::<usize>();

        let r2 = r.clone();
        assert!(r.same_channel(&r2));

        // Never channel are always equal to one another.
        let r3 = never::<usize>();
        assert!(r.same_channel(&r3));
        assert!(r2.same_channel(&r3));
    });
}

#[test]
fn tick_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let r = tick(ms(50));

        let r2 = r.clone();
        assert!(r.same_channel(&r2));

        let r3 = tick(ms(50));
        assert!(!r.same_channel(&r3));
        assert!(!r2.same_channel(&r3));

        let r4 = tick(ms(100));
        assert!(!r.same_channel(&r4));
        assert!(!r2.same_channel(&r4));
    });
}

#[test]
fn zero_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded::<usize>(0);

        let s2 = s.clone();
        assert!(s.same_channel(&s2));

        let r2 = r.clone();
        assert!(r.same_channel(&r2));

        let (s3, r3) = bounded::<usize>(0);
        assert!(!s.same_channel(&s3));
        assert!(!s2.same_channel(&s3));
        assert!(!r.same_channel(&r3));
        assert!(!r2.same_channel(&r3));
    });
}

#[test]
fn different_flavors_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s1, r1) = bounded::<usize>(0);
        let (s2, r2) = unbounded::<usize>();

        assert!(!s1.same_channel(&s2));
        assert!(!r1.same_channel(&r2));
    });
}
