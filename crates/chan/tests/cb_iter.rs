//! crossbeam-channel's `tests/iter.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed and
//! `Disconnected` read as `Closed`. Each test runs as goroutines on 1 and
//! on 4 workers, as plain threads and mixed (`go_harness`); crossbeam's
//! scoped threads are `cb_harness::scope`, in the same mode. Sleeps that
//! only order events are shorter; waits that must succeed are generous.
//!
//! Changed: `recv_try_iter`'s loop, which never parks (its sends are on an
//! unbounded channel), yields on each turn (goroutines are never
//! preempted).
//!
//! The crossbeam sources: Copyright (c) 2019 The Crossbeam Project
//! Developers, MIT or Apache-2.0.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod cb_harness;
mod go_harness;

use cb_harness::{NO_SPAWN, scope};
use go_harness::{ALL, check};
use goro_chan::unbounded;
use goro_sched::yield_now;

#[test]
fn nested_recv_iter() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s, r) = unbounded::<i32>();
        let (total_s, total_r) = unbounded::<i32>();

        scope(g, |scope| {
            scope.spawn(move || {
                let mut acc = 0;
                for x in r.iter() {
                    acc += x;
                }
                total_s.send(acc).unwrap();
            });

            s.send(3).unwrap();
            s.send(1).unwrap();
            s.send(2).unwrap();
            drop(s);
            assert_eq!(total_r.recv().unwrap(), 6);
        })
        .unwrap();
    });
}

#[test]
fn recv_iter_break() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s, r) = unbounded::<i32>();
        let (count_s, count_r) = unbounded();

        scope(g, |scope| {
            scope.spawn(move || {
                let mut count = 0;
                for x in r.iter() {
                    if count >= 3 {
                        break;
                    } else {
                        count += x;
                    }
                }
                count_s.send(count).unwrap();
            });

            s.send(2).unwrap();
            s.send(2).unwrap();
            s.send(2).unwrap();
            let _ = s.send(2);
            drop(s);
            assert_eq!(count_r.recv().unwrap(), 4);
        })
        .unwrap();
    });
}

#[test]
fn recv_try_iter() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (request_s, request_r) = unbounded();
        let (response_s, response_r) = unbounded();

        scope(g, |scope| {
            scope.spawn(move || {
                let mut count = 0;
                loop {
                    for x in response_r.try_iter() {
                        count += x;
                        if count == 6 {
                            return;
                        }
                    }
                    request_s.send(()).unwrap();
                    // Goroutines are never preempted (ARCHITECTURE.md): this loop
                    // may never park, so it yields to its worker's others, where Go
                    // would preempt it.
                    yield_now();
                }
            });

            for _ in request_r.iter() {
                if response_s.send(2).is_err() {
                    break;
                }
            }
        })
        .unwrap();
    });
}

#[test]
fn recv_into_iter_owned() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let mut iter = {
            let (s, r) = unbounded::<i32>();
            s.send(1).unwrap();
            s.send(2).unwrap();
            r.into_iter()
        };

        assert_eq!(iter.next().unwrap(), 1);
        assert_eq!(iter.next().unwrap(), 2);
        assert!(iter.next().is_none());
    });
}

#[test]
fn recv_into_iter_borrowed() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded::<i32>();
        s.send(1).unwrap();
        s.send(2).unwrap();
        drop(s);

        let mut iter = (&r).into_iter();
        assert_eq!(iter.next().unwrap(), 1);
        assert_eq!(iter.next().unwrap(), 2);
        assert!(iter.next().is_none());
    });
}
