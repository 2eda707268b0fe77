//! crossbeam-channel's `tests/array.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed and
//! `Disconnected` read as `Closed`. Each test runs as goroutines on 1 and
//! on 4 workers, as plain threads and mixed (`go_harness`); crossbeam's
//! scoped threads are `cb_harness::scope`, in the same mode. Sleeps that
//! only order events are shorter; waits that must succeed are generous.
//!
//! Changed: `rand` is `cb_harness::thread_rng` (goro-chan does not depend
//! on `rand`). `panic_on_drop` aborted the process (fixed: the values after
//! a panicking `Drop` are leaked, as crossbeam's). Added at the end: a
//! waiting sender let go when a buffered value's `Drop` panics (it was
//! not; fixed). Tests whose
//! time goes to sleeps run in three modes (`SLEEPY`), tests that spawn
//! nothing in three (`NO_SPAWN`).
//!
//! The crossbeam sources: Copyright (c) 2019 The Crossbeam Project
//! Developers, MIT or Apache-2.0.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod cb_harness;
mod go_harness;

use std::any::Any;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;

use cb_harness::{NO_SPAWN, SLEEPY, scope};
use cb_harness::{Rng, thread_rng};
use go_harness::{ALL, check};
use goro_chan::{Receiver, bounded, select};
use goro_chan::{RecvError, RecvTimeoutError, TryRecvError};
use goro_chan::{SendError, SendTimeoutError, TrySendError};
use goro_sched::sleep;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Long enough to mean "it would have happened" (crossbeam's sleeps of
/// 0.5 s to 1.5 s, which only order events, are a fifth as long here).
const LONG: Duration = Duration::from_secs(10);

#[test]
fn smoke() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded(1);
        s.send(7).unwrap();
        assert_eq!(r.try_recv(), Ok(7));

        s.send(8).unwrap();
        assert_eq!(r.recv(), Ok(8));

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(r.recv_timeout(ms(200)), Err(RecvTimeoutError::Timeout));
    });
}

#[test]
fn capacity() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        for i in 1..10 {
            let (s, r) = bounded::<()>(i);
            assert_eq!(s.capacity(), Some(i));
            assert_eq!(r.capacity(), Some(i));
        }
    });
}

#[test]
fn len_empty_full() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded(2);

        assert_eq!(s.len(), 0);
        assert!(s.is_empty());
        assert!(!s.is_full());
        assert_eq!(r.len(), 0);
        assert!(r.is_empty());
        assert!(!r.is_full());

        s.send(()).unwrap();

        assert_eq!(s.len(), 1);
        assert!(!s.is_empty());
        assert!(!s.is_full());
        assert_eq!(r.len(), 1);
        assert!(!r.is_empty());
        assert!(!r.is_full());

        s.send(()).unwrap();

        assert_eq!(s.len(), 2);
        assert!(!s.is_empty());
        assert!(s.is_full());
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
        assert!(r.is_full());

        r.recv().unwrap();

        assert_eq!(s.len(), 1);
        assert!(!s.is_empty());
        assert!(!s.is_full());
        assert_eq!(r.len(), 1);
        assert!(!r.is_empty());
        assert!(!r.is_full());
    });
}

#[test]
fn try_recv() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded(100);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
                sleep(ms(300));
                assert_eq!(r.try_recv(), Ok(7));
                sleep(ms(100));
                assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
            });
            scope.spawn(move || {
                sleep(ms(200));
                s.send(7).unwrap();
            });
        })
        .unwrap();
    });
}

#[test]
fn recv() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded(100);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(r.recv(), Ok(7));
                sleep(ms(200));
                assert_eq!(r.recv(), Ok(8));
                sleep(ms(200));
                assert_eq!(r.recv(), Ok(9));
                assert_eq!(r.recv(), Err(RecvError));
            });
            scope.spawn(move || {
                sleep(ms(300));
                s.send(7).unwrap();
                s.send(8).unwrap();
                s.send(9).unwrap();
            });
        })
        .unwrap();
    });
}

#[test]
fn recv_timeout() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded::<i32>(100);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(r.recv_timeout(ms(200)), Err(RecvTimeoutError::Timeout));
                assert_eq!(r.recv_timeout(LONG), Ok(7));
                assert_eq!(r.recv_timeout(LONG), Err(RecvTimeoutError::Closed));
            });
            scope.spawn(move || {
                sleep(ms(300));
                s.send(7).unwrap();
            });
        })
        .unwrap();
    });
}

#[test]
fn try_send() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded(1);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(s.try_send(1), Ok(()));
                assert_eq!(s.try_send(2), Err(TrySendError::Full(2)));
                sleep(ms(300));
                assert_eq!(s.try_send(3), Ok(()));
                sleep(ms(100));
                assert_eq!(s.try_send(4), Err(TrySendError::Closed(4)));
            });
            scope.spawn(move || {
                sleep(ms(200));
                assert_eq!(r.try_recv(), Ok(1));
                assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
                assert_eq!(r.recv(), Ok(3));
            });
        })
        .unwrap();
    });
}

#[test]
fn send() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded(1);

        scope(g, |scope| {
            scope.spawn(|| {
                s.send(7).unwrap();
                sleep(ms(200));
                s.send(8).unwrap();
                sleep(ms(200));
                s.send(9).unwrap();
                sleep(ms(200));
                s.send(10).unwrap();
            });
            scope.spawn(|| {
                sleep(ms(300));
                assert_eq!(r.recv(), Ok(7));
                assert_eq!(r.recv(), Ok(8));
                assert_eq!(r.recv(), Ok(9));
            });
        })
        .unwrap();
    });
}

#[test]
fn send_timeout() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded(2);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(s.send_timeout(1, ms(200)), Ok(()));
                assert_eq!(s.send_timeout(2, ms(200)), Ok(()));
                assert_eq!(
                    s.send_timeout(3, ms(100)),
                    Err(SendTimeoutError::Timeout(3))
                );
                sleep(ms(200));
                assert_eq!(s.send_timeout(4, LONG), Ok(()));
                sleep(ms(200));
                assert_eq!(s.send(5), Err(SendError(5)));
            });
            scope.spawn(move || {
                sleep(ms(200));
                assert_eq!(r.recv(), Ok(1));
                sleep(ms(200));
                assert_eq!(r.recv(), Ok(2));
                assert_eq!(r.recv(), Ok(4));
            });
        })
        .unwrap();
    });
}

#[test]
fn send_timeout_nonfull_expired() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, _r) = bounded::<i32>(1);
        // A non-full channel accepts the message even with a zero (elapsed) timeout.
        assert_eq!(s.send_timeout(1, ms(0)), Ok(()));
        assert_eq!(s.send_timeout(2, ms(0)), Err(SendTimeoutError::Timeout(2)));
    });
}

#[test]
fn send_after_disconnect() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded(100);

        s.send(1).unwrap();
        s.send(2).unwrap();
        s.send(3).unwrap();

        drop(r);

        assert_eq!(s.send(4), Err(SendError(4)));
        assert_eq!(s.try_send(5), Err(TrySendError::Closed(5)));
        assert_eq!(s.send_timeout(6, ms(100)), Err(SendTimeoutError::Closed(6)));
    });
}

#[test]
fn recv_after_disconnect() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded(100);

        s.send(1).unwrap();
        s.send(2).unwrap();
        s.send(3).unwrap();

        drop(s);

        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        assert_eq!(r.recv(), Ok(3));
        assert_eq!(r.recv(), Err(RecvError));
    });
}

#[test]
fn len() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let cap: usize = 1000;
        let count: usize = 25_000;

        let (s, r) = bounded(cap);

        assert_eq!(s.len(), 0);
        assert_eq!(r.len(), 0);

        for _ in 0..cap / 10 {
            for i in 0..50 {
                s.send(i).unwrap();
                assert_eq!(s.len(), i + 1);
            }

            for i in 0..50 {
                r.recv().unwrap();
                assert_eq!(r.len(), 50 - i - 1);
            }
        }

        assert_eq!(s.len(), 0);
        assert_eq!(r.len(), 0);

        for i in 0..cap {
            s.send(i).unwrap();
            assert_eq!(s.len(), i + 1);
        }

        for _ in 0..cap {
            r.recv().unwrap();
        }

        assert_eq!(s.len(), 0);
        assert_eq!(r.len(), 0);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..count {
                    assert_eq!(r.recv(), Ok(i));
                    let len = r.len();
                    assert!(len <= cap);
                }
            });

            scope.spawn(|| {
                for i in 0..count {
                    s.send(i).unwrap();
                    let len = s.len();
                    assert!(len <= cap);
                }
            });
        })
        .unwrap();

        assert_eq!(s.len(), 0);
        assert_eq!(r.len(), 0);
    });
}

#[test]
fn disconnect_wakes_sender() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded(1);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(s.send(()), Ok(()));
                assert_eq!(s.send(()), Err(SendError(())));
            });
            scope.spawn(move || {
                sleep(ms(200));
                drop(r);
            });
        })
        .unwrap();
    });
}

#[test]
fn disconnect_wakes_receiver() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = bounded::<()>(1);

        scope(g, |scope| {
            scope.spawn(move || {
                assert_eq!(r.recv(), Err(RecvError));
            });
            scope.spawn(move || {
                sleep(ms(200));
                drop(s);
            });
        })
        .unwrap();
    });
}

#[test]
fn spsc() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 100_000;

        let (s, r) = bounded(3);

        scope(g, |scope| {
            scope.spawn(move || {
                for i in 0..count {
                    assert_eq!(r.recv(), Ok(i));
                }
                assert_eq!(r.recv(), Err(RecvError));
            });
            scope.spawn(move || {
                for i in 0..count {
                    s.send(i).unwrap();
                }
            });
        })
        .unwrap();
    });
}

#[test]
fn mpmc() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 25_000;

        const THREADS: usize = 4;

        let (s, r) = bounded::<usize>(3);
        let v = (0..count).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>();

        scope(g, |scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..count {
                        let n = r.recv().unwrap();
                        v[n].fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for i in 0..count {
                        s.send(i).unwrap();
                    }
                });
            }
        })
        .unwrap();

        for c in v {
            assert_eq!(c.load(Ordering::SeqCst), THREADS);
        }
    });
}

#[test]
fn stress_oneshot() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        // A tenth of crossbeam's where threads are spawned (two a step).
        let count: usize = if g.some_threads() { 1_000 } else { 10_000 };

        for _ in 0..count {
            let (s, r) = bounded(1);

            scope(g, |scope| {
                scope.spawn(|| r.recv().unwrap());
                scope.spawn(|| s.send(0).unwrap());
            })
            .unwrap();
        }
    });
}

#[test]
fn stress_iter() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let n_count: usize = 100_000;

        let (request_s, request_r) = bounded(1);
        let (response_s, response_r) = bounded(1);

        scope(g, |scope| {
            scope.spawn(move || {
                let mut count = 0;
                loop {
                    for x in response_r.try_iter() {
                        count += x;
                        if count == n_count {
                            return;
                        }
                    }
                    request_s.send(()).unwrap();
                }
            });

            for _ in request_r.iter() {
                if response_s.send(1).is_err() {
                    break;
                }
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_timeout_two_threads() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        const COUNT: usize = 100;

        let (s, r) = bounded(2);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(10));
                    }
                    loop {
                        if let Ok(()) = s.send_timeout(i, ms(2)) {
                            break;
                        }
                    }
                }
            });

            scope.spawn(|| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(10));
                    }
                    loop {
                        if let Ok(x) = r.recv_timeout(ms(2)) {
                            assert_eq!(x, i);
                            break;
                        }
                    }
                }
            });
        })
        .unwrap();
    });
}

#[test]
fn drops() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let n_steps: usize = 10_000;
        let runs: usize = 100;

        static DROPS: AtomicUsize = AtomicUsize::new(0);

        #[derive(Debug, PartialEq)]
        struct DropCounter;

        impl Drop for DropCounter {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }

        let mut rng = thread_rng();

        for _ in 0..runs {
            let steps = rng.gen_range(0..n_steps);
            let additional = rng.gen_range(0..50);

            DROPS.store(0, Ordering::SeqCst);
            let (s, r) = bounded::<DropCounter>(50);

            scope(g, |scope| {
                scope.spawn(|| {
                    for _ in 0..steps {
                        r.recv().unwrap();
                    }
                });

                scope.spawn(|| {
                    for _ in 0..steps {
                        s.send(DropCounter).unwrap();
                    }
                });
            })
            .unwrap();

            for _ in 0..additional {
                s.send(DropCounter).unwrap();
            }

            assert_eq!(DROPS.load(Ordering::SeqCst), steps);
            drop(s);
            drop(r);
            assert_eq!(DROPS.load(Ordering::SeqCst), steps + additional);
        }
    });
}

#[test]
fn linearizable() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 25_000;

        const THREADS: usize = 4;

        let (s, r) = bounded(THREADS);

        scope(g, |scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..count {
                        s.send(0).unwrap();
                        r.try_recv().unwrap();
                    }
                });
            }
        })
        .unwrap();
    });
}

#[test]
fn fairness() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let count: usize = 10_000;

        let (s1, r1) = bounded::<()>(count);
        let (s2, r2) = bounded::<()>(count);

        for _ in 0..count {
            s1.send(()).unwrap();
            s2.send(()).unwrap();
        }

        let mut hits = [0usize; 2];
        for _ in 0..count {
            select! {
                recv(r1) -> _  => hits[0] += 1,
                recv(r2) -> _  => hits[1] += 1,
            }
        }
        assert!(hits.iter().all(|x| *x >= count / hits.len() / 2));
    });
}

#[test]
fn fairness_duplicates() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let count: usize = 10_000;

        let (s, r) = bounded::<()>(count);

        for _ in 0..count {
            s.send(()).unwrap();
        }

        let mut hits = [0usize; 5];
        for _ in 0..count {
            select! {
                recv(r) -> _ => hits[0] += 1,
                recv(r) -> _ => hits[1] += 1,
                recv(r) -> _ => hits[2] += 1,
                recv(r) -> _ => hits[3] += 1,
                recv(r) -> _ => hits[4] += 1,
            }
        }
        assert!(hits.iter().all(|x| *x >= count / hits.len() / 2));
    });
}

#[test]
fn recv_in_send() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, _r) = bounded(1);
        s.send(()).unwrap();

        #[allow(unreachable_code)]
        {
            select! {
                send(s, panic!()) -> _ => panic!(),
                default => {}
            }
        }

        let (s, r) = bounded(2);
        s.send(()).unwrap();

        select! {
            send(s, assert_eq!(r.recv(), Ok(()))) -> _ => {}
        }
    });
}

#[test]
fn channel_through_channel() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 1000;

        type T = Box<dyn Any + Send>;

        let (s, r) = bounded::<T>(1);

        scope(g, |scope| {
            scope.spawn(move || {
                let mut s = s;

                for _ in 0..count {
                    let (new_s, new_r) = bounded(1);
                    let new_r: T = Box::new(Some(new_r));

                    s.send(new_r).unwrap();
                    s = new_s;
                }
            });

            scope.spawn(move || {
                let mut r = r;

                for _ in 0..count {
                    r = r
                        .recv()
                        .unwrap()
                        .downcast_mut::<Option<Receiver<T>>>()
                        .unwrap()
                        .take()
                        .unwrap()
                }
            });
        })
        .unwrap();
    });
}

#[test]
fn panic_on_drop() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        struct Msg1<'a>(&'a mut bool);
        impl Drop for Msg1<'_> {
            fn drop(&mut self) {
                if *self.0 && !std::thread::panicking() {
                    panic!("double drop");
                } else {
                    *self.0 = true;
                }
            }
        }

        struct Msg2<'a>(&'a mut bool);
        impl Drop for Msg2<'_> {
            fn drop(&mut self) {
                if *self.0 {
                    panic!("double drop");
                } else {
                    *self.0 = true;
                    panic!("first drop");
                }
            }
        }

        // normal
        let (s, r) = bounded(2);
        let (mut a, mut b) = (false, false);
        s.send(Msg1(&mut a)).unwrap();
        s.send(Msg1(&mut b)).unwrap();
        drop(s);
        drop(r);
        assert!(a);
        assert!(b);

        // panic on drop
        let (s, r) = bounded(2);
        let (mut a, mut b) = (false, false);
        s.send(Msg2(&mut a)).unwrap();
        s.send(Msg2(&mut b)).unwrap();
        drop(s);
        let res = std::panic::catch_unwind(move || {
            drop(r);
        });
        assert_eq!(
            *res.unwrap_err().downcast_ref::<&str>().unwrap(),
            "first drop"
        );
        assert!(a);
        // Elements after the panicked element will leak.
        assert!(!b);
    });
}

// Beyond crossbeam's.

/// A value's panicking `Drop`, when the last receiver goes, must still let
/// a waiting sender go (with its value: the channel is closed). Here a
/// channel of zero-sized values (kept in a queue under the lock), full,
/// with a sender waiting; one drop panics.
#[test]
fn a_panicking_drop_lets_waiting_senders_go() {
    static ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
    // The receiver's thread (this test's): the waiting sender's own value,
    // handed back when the channel closes, may be dropped on its thread
    // before the buffered one is, and must not be the one that panics.
    static DROPPER: std::sync::OnceLock<std::thread::ThreadId> = std::sync::OnceLock::new();
    DROPPER.get_or_init(|| std::thread::current().id());
    struct Z;
    impl Drop for Z {
        fn drop(&mut self) {
            if DROPPER.get() == Some(&std::thread::current().id())
                && ARMED.swap(false, Ordering::SeqCst)
            {
                panic!("first drop");
            }
        }
    }

    let (s, r) = bounded::<Z>(1);
    s.send(Z).unwrap();
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let closed = s.send(Z).is_err();
        let _ = done_tx.send(closed);
    });
    // Until the sender waits.
    while r.__waiting().1 == 0 {
        std::thread::sleep(ms(1));
    }
    let res = std::panic::catch_unwind(move || drop(r));
    assert_eq!(
        *res.unwrap_err().downcast_ref::<&str>().unwrap(),
        "first drop"
    );
    assert_eq!(done.recv_timeout(LONG), Ok(true), "the sender still waits");
}
