//! crossbeam-channel's `tests/list.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed and
//! `Disconnected` read as `Closed`. Each test runs as goroutines on 1 and
//! on 4 workers, as plain threads and mixed (`go_harness`); crossbeam's
//! scoped threads are `cb_harness::scope`, in the same mode. Sleeps that
//! only order events are shorter; waits that must succeed are generous.
//!
//! Changed: `rand` is `cb_harness::thread_rng` (goro-chan does not depend
//! on `rand`); `stress_iter`'s loop, which never parks, yields on each turn
//! (goroutines are never preempted). Added at the end: `array.rs`'s
//! `panic_on_drop` on an unbounded channel (it aborted; fixed).
//! Tests whose time goes to sleeps run in three modes (`SLEEPY`), tests
//! that spawn nothing in three (`NO_SPAWN`).
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
use goro_chan::{Receiver, select, unbounded};
use goro_chan::{RecvError, RecvTimeoutError, TryRecvError};
use goro_chan::{SendError, SendTimeoutError, TrySendError};
use goro_sched::{sleep, yield_now};

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
        let (s, r) = unbounded();
        s.try_send(7).unwrap();
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
        let (s, r) = unbounded::<()>();
        assert_eq!(s.capacity(), None);
        assert_eq!(r.capacity(), None);
    });
}

#[test]
fn len_empty_full() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();

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

        r.recv().unwrap();

        assert_eq!(s.len(), 0);
        assert!(s.is_empty());
        assert!(!s.is_full());
        assert_eq!(r.len(), 0);
        assert!(r.is_empty());
        assert!(!r.is_full());
    });
}

#[test]
#[cfg_attr(miri, ignore)] // this test makes timing assumptions, but Miri is so slow it violates them
fn try_recv() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = unbounded();

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
        let (s, r) = unbounded();

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
        let (s, r) = unbounded::<i32>();

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
fn recv_timeout_nonempty_expired() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded::<i32>();
        s.send(5).unwrap();
        // A non-empty channel yields an already-available message even with a zero (elapsed) timeout.
        assert_eq!(r.recv_timeout(ms(0)), Ok(5));
        assert_eq!(r.recv_timeout(ms(0)), Err(RecvTimeoutError::Timeout));
    });
}

#[test]
fn try_send() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let count: usize = 1000;

        let (s, r) = unbounded();
        for i in 0..count {
            assert_eq!(s.try_send(i), Ok(()));
        }

        drop(r);
        assert_eq!(s.try_send(777), Err(TrySendError::Closed(777)));
    });
}

#[test]
fn send() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let count: usize = 1000;

        let (s, r) = unbounded();
        for i in 0..count {
            assert_eq!(s.send(i), Ok(()));
        }

        drop(r);
        assert_eq!(s.send(777), Err(SendError(777)));
    });
}

#[test]
fn send_timeout() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let count: usize = 1000;

        let (s, r) = unbounded();
        for i in 0..count {
            assert_eq!(s.send_timeout(i, ms(i as u64)), Ok(()));
        }

        drop(r);
        assert_eq!(
            s.send_timeout(777, ms(0)),
            Err(SendTimeoutError::Closed(777))
        );
    });
}

#[test]
fn send_after_disconnect() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();

        s.send(1).unwrap();
        s.send(2).unwrap();
        s.send(3).unwrap();

        drop(r);

        assert_eq!(s.send(4), Err(SendError(4)));
        assert_eq!(s.try_send(5), Err(TrySendError::Closed(5)));
        assert_eq!(s.send_timeout(6, ms(0)), Err(SendTimeoutError::Closed(6)));
    });
}

#[test]
fn recv_after_disconnect() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();

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
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();

        assert_eq!(s.len(), 0);
        assert_eq!(r.len(), 0);

        for i in 0..50 {
            s.send(i).unwrap();
            assert_eq!(s.len(), i + 1);
        }

        for i in 0..50 {
            r.recv().unwrap();
            assert_eq!(r.len(), 50 - i - 1);
        }

        assert_eq!(s.len(), 0);
        assert_eq!(r.len(), 0);
    });
}

#[test]
fn disconnect_wakes_receiver() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s, r) = unbounded::<()>();

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

        let (s, r) = unbounded();

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

        let (s, r) = unbounded::<usize>();
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

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));

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
            let (s, r) = unbounded();

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

        let (request_s, request_r) = unbounded();
        let (response_s, response_r) = unbounded();

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
                    // Goroutines are never preempted (ARCHITECTURE.md): this loop
                    // may never park, so it yields to its worker's others, where Go
                    // would preempt it.
                    yield_now();
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

        let (s, r) = unbounded();

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(10));
                    }
                    s.send(i).unwrap();
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
            let additional = rng.gen_range(0..n_steps / 10);

            DROPS.store(0, Ordering::SeqCst);
            let (s, r) = unbounded::<DropCounter>();

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
                s.try_send(DropCounter).unwrap();
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

        let (s, r) = unbounded();

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

        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = unbounded::<()>();

        for _ in 0..count {
            s1.send(()).unwrap();
            s2.send(()).unwrap();
        }

        let mut hits = [0usize; 2];
        for _ in 0..count {
            select! {
                recv(r1) -> _ => hits[0] += 1,
                recv(r2) -> _ => hits[1] += 1,
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

        let (s, r) = unbounded();

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
        let (s, r) = unbounded();
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

        let (s, r) = unbounded::<T>();

        scope(g, |scope| {
            scope.spawn(move || {
                let mut s = s;

                for _ in 0..count {
                    let (new_s, new_r) = unbounded();
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

// If `Block` is created on the stack, the array of slots will multiply this `BigStruct` and
// probably overflow the thread stack. It's now directly created on the heap to avoid this.
// (In a debug build the unoptimized send and receive paths keep a dozen
// copies of the value in their frames, over 1 MiB: goroutines get 2 MiB
// stacks there, as std threads, and 256 KiB optimized.)
#[test]
fn stack_overflow() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        const N: usize = 32_768;
        struct BigStruct {
            _data: [u8; N],
        }

        let (sender, receiver) = unbounded::<BigStruct>();
        sender.send(BigStruct { _data: [0u8; N] }).unwrap();

        for _data in receiver.try_iter() {}
    });
}

// Beyond crossbeam's: `array.rs`'s `panic_on_drop` on an unbounded channel
// (crossbeam's list flavor has no such test).
#[test]
fn panic_on_drop() {
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

    let (s, r) = unbounded();
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
}
