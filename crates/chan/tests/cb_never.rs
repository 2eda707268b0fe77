//! crossbeam-channel's `tests/never.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed and
//! `Disconnected` read as `Closed`. Each test runs as goroutines on 1 and
//! on 4 workers, as plain threads and mixed (`go_harness`); crossbeam's
//! scoped threads are `cb_harness::scope`, in the same mode. Sleeps that
//! only order events are shorter; waits that must succeed are generous.
//!
//! Changed: `tick_n` ticks every 20 ms and gives up after 100 ms (crossbeam:
//! 100 ms and 500 ms). The tests spawn nothing and run in three modes
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
use goro_sched::sleep;

use std::time::{Duration, Instant};

use goro_chan::{never, select, tick, unbounded};

/// Added to crossbeam's upper bounds on elapsed time: our tests bound time
/// only generously (two busy cores in CI); the lower bounds are kept.
const SLACK: Duration = Duration::from_secs(5);

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn smoke() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        select! {
            recv(never::<i32>()) -> _ => panic!(),
            default => {}
        }
    });
}

#[test]
fn optional() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded::<i32>();
        s.send(1).unwrap();
        s.send(2).unwrap();

        let mut r = Some(&r);
        select! {
            recv(r.unwrap_or(&never())) -> _ => {}
            default => panic!(),
        }

        r = None;
        select! {
            recv(r.unwrap_or(&never())) -> _ => panic!(),
            default => {}
        }
    });
}

#[test]
fn tick_n() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let mut r = tick(ms(20));
        let mut step = 0;

        loop {
            select! {
                recv(r) -> _ => step += 1,
                default(ms(100)) => break,
            }

            if step == 10 {
                r = never();
            }
        }

        assert_eq!(step, 10);
    });
}

#[test]
fn capacity() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let r = never::<i32>();
        assert_eq!(r.capacity(), Some(0));
    });
}

#[test]
fn len_empty_full() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let r = never::<i32>();
        assert_eq!(r.len(), 0);
        assert!(r.is_empty());
        assert!(r.is_full());
    });
}

#[test]
fn try_recv() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let r = never::<i32>();
        assert!(r.try_recv().is_err());

        sleep(ms(100));
        assert!(r.try_recv().is_err());
    });
}

#[test]
fn recv_timeout() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let start = Instant::now();
        let r = never::<i32>();

        assert!(r.recv_timeout(ms(100)).is_err());
        let now = Instant::now();
        assert!(now - start >= ms(100));
        assert!(now - start <= ms(150) + SLACK);

        assert!(r.recv_timeout(ms(100)).is_err());
        let now = Instant::now();
        assert!(now - start >= ms(200));
        assert!(now - start <= ms(250) + SLACK);
    });
}
