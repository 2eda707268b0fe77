//! crossbeam-channel's readiness tests (`crossbeam-channel/tests/ready.rs`),
//! ported to `goro_chan` (issue 17, drop-in): `Select::ready`, `try_ready`,
//! `ready_timeout` over every flavor, and a `Select` that is `Send + Sync`.
//! Each runs as goroutines on 1 and on 4 workers, as plain threads and
//! mixed (`go_harness`); crossbeam's scoped threads are `g.go`, joined.
//! Its sleeps are shorter here (they only order events; a late one makes a
//! test pass for the wrong reason, never fail), and waits that must succeed
//! have generous timeouts.
//!
//! The crossbeam sources: Copyright (c) 2019 The Crossbeam Project
//! Developers, MIT or Apache-2.0.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod go_harness;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use go_harness::{ALL, check};
use goro_chan::{
    Receiver, Select, Sender, TryRecvError, TrySendError, after, bounded, never, unbounded,
};
use goro_sched::sleep;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Long enough to mean "it would have happened".
const LONG: Duration = Duration::from_secs(20);

#[test]
fn select_is_send_and_sync_and_runs_on_another_thread() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (tx, rx) = bounded::<u32>(0);
    let (tx2, rx2) = unbounded::<u32>();
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.recv(&rx2);
    send_sync(&sel);
    // Built here, run there (crossbeam's `Select` may be).
    let (rx, rx2) = (&rx, &rx2);
    std::thread::scope(|s| {
        let waiter = s.spawn(move || {
            let op = sel.select();
            let i = op.index();
            (i, if i == 0 { op.recv(rx) } else { op.recv(rx2) })
        });
        tx.send(7).unwrap();
        assert_eq!(waiter.join().unwrap(), (0, Ok(7)));
    });
    // And a clone runs beside the original.
    let mut sel = Select::new();
    sel.recv(rx2);
    let mut other = sel.clone();
    tx2.send(1).unwrap();
    tx2.send(2).unwrap();
    std::thread::scope(|s| {
        let h = s.spawn(move || other.select().recv(rx2).unwrap());
        let mine = sel.select().recv(rx2).unwrap();
        assert_eq!(mine + h.join().unwrap(), 3);
    });
}

#[test]
fn smoke1() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (s1, r1) = unbounded::<usize>();
        let (s2, r2) = unbounded::<usize>();
        s1.send(1).unwrap();
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert_eq!(sel.ready(), 0);
        assert_eq!(r1.try_recv(), Ok(1));
        s2.send(2).unwrap();
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert_eq!(sel.ready(), 1);
        assert_eq!(r2.try_recv(), Ok(2));
    });
}

#[test]
fn smoke2() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let chans: Vec<_> = (0..5).map(|_| unbounded::<i32>()).collect();
        chans[4].0.send(5).unwrap();
        let mut sel = Select::new();
        for (_, r) in &chans {
            sel.recv(r);
        }
        assert_eq!(sel.ready(), 4);
        assert_eq!(chans[4].1.try_recv(), Ok(5));
    });
}

#[test]
fn disconnected() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();
        let s2b = s2.clone();
        let h = g.go(move || {
            drop(s1);
            sleep(ms(50));
            s2b.send(5).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        match sel.ready_timeout(LONG) {
            Ok(0) => assert_eq!(r1.try_recv(), Err(TryRecvError::Closed)),
            r => panic!("{r:?}"),
        }
        h.join();
        r2.recv().unwrap();

        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        match sel.ready_timeout(LONG) {
            Ok(0) => assert_eq!(r1.try_recv(), Err(TryRecvError::Closed)),
            r => panic!("{r:?}"),
        }

        let h = g.go(move || {
            sleep(ms(50));
            drop(s2);
        });
        let mut sel = Select::new();
        sel.recv(&r2);
        match sel.ready_timeout(LONG) {
            Ok(0) => assert_eq!(r2.try_recv(), Err(TryRecvError::Closed)),
            r => panic!("{r:?}"),
        }
        h.join();
    });
}

#[test]
fn default() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert!(sel.try_ready().is_err());
        drop(s1);
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        match sel.try_ready() {
            Ok(0) => assert!(r1.try_recv().is_err()),
            r => panic!("{r:?}"),
        }
        s2.send(2).unwrap();
        let mut sel = Select::new();
        sel.recv(&r2);
        match sel.try_ready() {
            Ok(0) => assert_eq!(r2.try_recv(), Ok(2)),
            r => panic!("{r:?}"),
        }
        let mut sel = Select::new();
        sel.recv(&r2);
        assert!(sel.try_ready().is_err());
        let mut sel = Select::new();
        assert!(sel.try_ready().is_err());
    });
}

#[test]
fn timeout() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (_s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();
        let (go_tx, go_rx) = bounded::<()>(0);
        let h = g.go(move || {
            go_rx.recv().unwrap();
            s2.send(2).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert!(sel.ready_timeout(ms(20)).is_err());
        go_tx.send(()).unwrap();
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        match sel.ready_timeout(LONG) {
            Ok(1) => assert_eq!(r2.try_recv(), Ok(2)),
            r => panic!("{r:?}"),
        }
        h.join();

        let (s, r) = unbounded::<i32>();
        let h = g.go(move || {
            sleep(ms(20));
            drop(s);
        });
        let mut sel = Select::new();
        assert!(sel.ready_timeout(ms(50)).is_err());
        h.join();
        let mut sel = Select::new();
        sel.recv(&r);
        match sel.try_ready() {
            Ok(0) => assert_eq!(r.try_recv(), Err(TryRecvError::Closed)),
            r => panic!("{r:?}"),
        }
    });
}

#[test]
fn default_when_disconnected() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (_, r) = unbounded::<i32>();
        let mut sel = Select::new();
        sel.recv(&r);
        match sel.try_ready() {
            Ok(0) => assert_eq!(r.try_recv(), Err(TryRecvError::Closed)),
            r => panic!("{r:?}"),
        }
        let (_, r) = unbounded::<i32>();
        let mut sel = Select::new();
        sel.recv(&r);
        match sel.ready_timeout(LONG) {
            Ok(0) => assert_eq!(r.try_recv(), Err(TryRecvError::Closed)),
            r => panic!("{r:?}"),
        }
        for cap in [0, 1] {
            let (s, _) = bounded::<i32>(cap);
            let mut sel = Select::new();
            sel.send(&s);
            match sel.try_ready() {
                Ok(0) => assert_eq!(s.try_send(0), Err(TrySendError::Closed(0))),
                r => panic!("{r:?}"),
            }
            let (s, _) = bounded::<i32>(cap);
            let mut sel = Select::new();
            sel.send(&s);
            match sel.ready_timeout(LONG) {
                Ok(0) => assert_eq!(s.try_send(0), Err(TrySendError::Closed(0))),
                r => panic!("{r:?}"),
            }
        }
    });
}

#[test]
fn default_only() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let mut sel = Select::new();
        assert!(sel.try_ready().is_err());
        let start = std::time::Instant::now();
        let mut sel = Select::new();
        assert!(sel.ready_timeout(ms(30)).is_err());
        assert!(start.elapsed() >= ms(30));
    });
}

#[test]
fn unblocks() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = bounded::<i32>(0);
        let (s2, r2) = bounded::<i32>(0);
        let h = g.go(move || {
            sleep(ms(20));
            s2.send(2).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        match sel.ready_timeout(LONG) {
            // The sender waits in the channel: a receive finds it.
            Ok(1) => assert_eq!(r2.try_recv(), Ok(2)),
            r => panic!("{r:?}"),
        }
        h.join();

        let h = g.go(move || {
            sleep(ms(20));
            assert_eq!(r1.recv().unwrap(), 1);
        });
        let mut sel = Select::new();
        sel.send(&s1);
        match sel.ready_timeout(LONG) {
            Ok(0) => s1.try_send(1).unwrap(),
            r => panic!("{r:?}"),
        }
        h.join();
    });
}

#[test]
fn both_ready() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let h = g.go(move || {
            sleep(ms(20));
            s1.send(1).unwrap();
            assert_eq!(r2.recv().unwrap(), 2);
        });
        for _ in 0..2 {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.send(&s2);
            match sel.ready() {
                0 => assert_eq!(r1.try_recv(), Ok(1)),
                1 => s2.try_send(2).unwrap(),
                i => panic!("{i}"),
            }
        }
        h.join();
    });
}

#[test]
fn cloning() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = unbounded::<()>();
        let h = g.go(move || {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.recv(&r2);
            match sel.ready() {
                1 => r2.try_recv().unwrap(),
                i => panic!("{i}"),
            }
        });
        sleep(ms(20));
        // A clone and its drop make nothing ready.
        drop(s1.clone());
        s2.send(()).unwrap();
        h.join();
        drop(s1);
    });
}

#[test]
fn preflight() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (s, r) = unbounded();
        s.send(()).unwrap();
        let mut sel = Select::new();
        sel.recv(&r);
        assert_eq!(sel.ready(), 0);
        assert_eq!(r.try_recv(), Ok(()));

        let (s, r) = unbounded();
        drop(s.clone());
        s.send(()).unwrap();
        drop(s);
        let mut sel = Select::new();
        sel.recv(&r);
        assert_eq!(sel.ready(), 0);
        assert_eq!(r.try_recv(), Ok(()));
        assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
        let mut sel = Select::new();
        sel.recv(&r);
        assert_eq!(sel.ready(), 0);
        assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn duplicate_operations() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (s, r) = unbounded::<i32>();
        let hit = [
            Cell::new(false),
            Cell::new(false),
            Cell::new(false),
            Cell::new(false),
        ];
        while hit.iter().any(|h| !h.get()) {
            let mut sel = Select::new();
            sel.recv(&r);
            sel.recv(&r);
            sel.send(&s);
            sel.send(&s);
            let i = sel.ready();
            if i < 2 {
                assert!(r.try_recv().is_ok());
            } else {
                assert!(s.try_send(0).is_ok());
            }
            hit[i].set(true);
        }
    });
}

#[test]
fn nesting() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (s, r) = unbounded::<i32>();
        for i in 0..2 {
            let mut sel = Select::new();
            sel.send(&s);
            assert_eq!(sel.ready(), 0);
            s.try_send(i).unwrap();
            let mut sel = Select::new();
            sel.recv(&r);
            assert_eq!(sel.ready(), 0);
            assert_eq!(r.try_recv(), Ok(i));
        }
    });
}

const COUNT: usize = 10_000;

#[test]
fn stress_recv() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = unbounded();
        let (s2, r2) = bounded(5);
        let (s3, r3) = bounded(0);
        let h = g.go(move || {
            for i in 0..COUNT {
                s1.send(i).unwrap();
                r3.recv().unwrap();
                s2.send(i).unwrap();
                r3.recv().unwrap();
            }
        });
        for i in 0..COUNT {
            for _ in 0..2 {
                let mut sel = Select::new();
                sel.recv(&r1);
                sel.recv(&r2);
                match sel.ready() {
                    0 => assert_eq!(r1.try_recv(), Ok(i)),
                    1 => assert_eq!(r2.try_recv(), Ok(i)),
                    n => panic!("{n}"),
                }
                s3.send(()).unwrap();
            }
        }
        h.join();
    });
}

#[test]
fn stress_send() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);
        let h = g.go(move || {
            for i in 0..COUNT {
                assert_eq!(r1.recv().unwrap(), i);
                assert_eq!(r2.recv().unwrap(), i);
                r3.recv().unwrap();
            }
        });
        for i in 0..COUNT {
            for _ in 0..2 {
                let mut sel = Select::new();
                sel.send(&s1);
                sel.send(&s2);
                match sel.ready() {
                    0 => assert!(s1.try_send(i).is_ok()),
                    1 => assert!(s2.try_send(i).is_ok()),
                    n => panic!("{n}"),
                }
            }
            s3.send(()).unwrap();
        }
        h.join();
    });
}

#[test]
fn stress_mixed() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);
        let h = g.go(move || {
            for i in 0..COUNT {
                s1.send(i).unwrap();
                assert_eq!(r2.recv().unwrap(), i);
                r3.recv().unwrap();
            }
        });
        for i in 0..COUNT {
            for _ in 0..2 {
                let mut sel = Select::new();
                sel.recv(&r1);
                sel.send(&s2);
                match sel.ready() {
                    0 => assert_eq!(r1.try_recv(), Ok(i)),
                    1 => assert!(s2.try_send(i).is_ok()),
                    n => panic!("{n}"),
                }
            }
            s3.send(()).unwrap();
        }
        h.join();
    });
}

#[test]
fn stress_timeout_two_threads() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: usize = 20;
        let (s, r) = bounded(2);
        let sender = g.go(move || {
            for i in 0..N {
                if i % 2 == 0 {
                    sleep(ms(10));
                }
                loop {
                    let mut sel = Select::new();
                    sel.send(&s);
                    match sel.ready_timeout(ms(5)) {
                        Err(_) => {}
                        Ok(0) => {
                            assert!(s.try_send(i).is_ok());
                            break;
                        }
                        Ok(n) => panic!("{n}"),
                    }
                }
            }
        });
        let receiver = g.go(move || {
            for i in 0..N {
                if i % 2 == 0 {
                    sleep(ms(10));
                }
                loop {
                    let mut sel = Select::new();
                    sel.recv(&r);
                    match sel.ready_timeout(ms(5)) {
                        Err(_) => {}
                        Ok(0) => {
                            assert_eq!(r.try_recv(), Ok(i));
                            break;
                        }
                        Ok(n) => panic!("{n}"),
                    }
                }
            }
        });
        sender.join();
        receiver.join();
    });
}

#[test]
fn send_recv_same_channel() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        // Its own send does not make its receive ready, nor the reverse.
        let (s, r) = bounded::<i32>(0);
        let mut sel = Select::new();
        sel.send(&s);
        sel.recv(&r);
        assert!(sel.ready_timeout(ms(20)).is_err());
        let (s, r) = unbounded::<i32>();
        let mut sel = Select::new();
        sel.send(&s);
        sel.recv(&r);
        match sel.ready_timeout(LONG) {
            Ok(0) => assert!(s.try_send(0).is_ok()),
            r => panic!("{r:?}"),
        }
    });
}

#[test]
fn channel_through_channel() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        type T = Box<dyn std::any::Any + Send>;
        for cap in 1..4 {
            let (s, r) = bounded::<T>(cap);
            let sender = g.go(move || {
                let mut s = s;
                for _ in 0..1000 {
                    let (new_s, new_r) = bounded::<T>(cap);
                    let new_r: T = Box::new(Some(new_r));
                    let mut sel = Select::new();
                    sel.send(&s);
                    assert_eq!(sel.ready(), 0);
                    assert!(s.try_send(new_r).is_ok());
                    s = new_s;
                }
            });
            let receiver = g.go(move || {
                let mut r = r;
                for _ in 0..1000 {
                    let mut sel = Select::new();
                    sel.recv(&r);
                    assert_eq!(sel.ready(), 0);
                    r = r
                        .try_recv()
                        .unwrap()
                        .downcast_mut::<Option<Receiver<T>>>()
                        .unwrap()
                        .take()
                        .unwrap();
                }
            });
            sender.join();
            receiver.join();
        }
    });
}

#[test]
fn fairness1() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (s1, r1) = bounded::<()>(COUNT);
        let (s2, r2) = unbounded::<()>();
        for _ in 0..COUNT {
            s1.send(()).unwrap();
            s2.send(()).unwrap();
        }
        let mut hits = [0usize; 3];
        for _ in 0..COUNT {
            // (crossbeam's fourth arm, `tick(0)`, is a panic here, as Go's
            // `NewTicker(0)`.)
            let after = after(ms(0));
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.recv(&r2);
            sel.recv(&after);
            let i = sel.ready();
            match i {
                0 => r1.try_recv().unwrap(),
                1 => r2.try_recv().unwrap(),
                2 => drop(after.try_recv().unwrap()),
                n => panic!("{n}"),
            }
            hits[i] += 1;
        }
        assert!(
            hits.iter().all(|&x| x >= COUNT / hits.len() / 2),
            "{hits:?}"
        );
    });
}

#[test]
fn fairness2() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count = if g.some_threads() { 20_000 } else { 100_000 };
        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = bounded::<()>(1);
        let (s3, r3) = bounded::<()>(0);
        let h = g.go(move || {
            for _ in 0..count {
                let mut sel = Select::new();
                let mut oper1 = None;
                let mut oper2 = None;
                if s1.is_empty() {
                    oper1 = Some(sel.send(&s1));
                }
                if s2.is_empty() {
                    oper2 = Some(sel.send(&s2));
                }
                let oper3 = sel.send(&s3);
                let oper = sel.select();
                match oper.index() {
                    i if Some(i) == oper1 => oper.send(&s1, ()).unwrap(),
                    i if Some(i) == oper2 => oper.send(&s2, ()).unwrap(),
                    i if i == oper3 => oper.send(&s3, ()).unwrap(),
                    _ => unreachable!(),
                }
            }
        });
        let mut hits = [0usize; 3];
        for _ in 0..count {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.recv(&r2);
            sel.recv(&r3);
            loop {
                let i = sel.ready();
                let got = match i {
                    0 => r1.try_recv().is_ok(),
                    1 => r2.try_recv().is_ok(),
                    2 => r3.try_recv().is_ok(),
                    n => panic!("{n}"),
                };
                if got {
                    hits[i] += 1;
                    break;
                }
            }
        }
        assert!(hits.iter().all(|&x| x > 0), "{hits:?}");
        h.join();
    });
}

// ---------------------------------------------------------------------------
// Beyond crossbeam's: what goro's protocol adds.

/// A watcher woken among a ring's waiters passes the wake-up on: a
/// receiver waiting behind it still gets the value, though the watcher
/// never acts on its readiness.
#[test]
fn a_watcher_does_not_take_a_waiters_wake_up() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        for flavor in 0..3 {
            let (tx, rx) = match flavor {
                0 => bounded::<u64>(1),
                1 => bounded::<u64>(0),
                _ => unbounded::<u64>(),
            };
            let rx2 = rx.clone();
            let watcher = g.go(move || {
                let mut sel = Select::new();
                sel.recv(&rx2);
                sel.ready()
            });
            // The watcher first (rings keep it in the receivers' queue; the
            // others in their list of watchers), then the receiver.
            while rx.__waiting().0 < 1 {
                goro_sched::yield_now();
            }
            let rx3 = rx.clone();
            let receiver = g.go(move || rx3.recv_timeout(LONG));
            while rx.__waiting().0 < 2 {
                goro_sched::yield_now();
            }
            tx.send(42).unwrap();
            assert_eq!(receiver.join(), Ok(42), "flavor {flavor}");
            // Woken by the send (a ring's), or never ready, the value gone
            // straight to the receiver: ready once closed.
            drop(tx);
            assert_eq!(watcher.join(), 0);
            assert_eq!(rx.__waiting(), (0, 0));
        }
    });
}

/// Many consumers wait with `ready` on four channels of every flavor while
/// producers send: each value is received exactly once (sum and count), no
/// consumer is left waiting with a value in a channel.
#[test]
fn ready_loops_lose_and_duplicate_nothing() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const PER: u64 = 2_000;
        const PRODUCERS: u64 = 4;
        const CONSUMERS: usize = 3;
        let chans: Arc<Vec<(Sender<u64>, Receiver<u64>)>> =
            Arc::new(vec![bounded(0), bounded(1), bounded(16), unbounded()]);
        let received = Arc::new(AtomicUsize::new(0));
        let sum = Arc::new(AtomicUsize::new(0));
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let (chans, received, sum, stop_rx) = (
                    chans.clone(),
                    received.clone(),
                    sum.clone(),
                    stop_rx.clone(),
                );
                g.go(move || {
                    let mut sel = Select::new();
                    for (_, r) in chans.iter() {
                        sel.recv(r);
                    }
                    let stop = sel.recv(&stop_rx);
                    loop {
                        let i = sel.ready_timeout(LONG).expect("something to receive");
                        if i == stop {
                            if stop_rx.try_recv() == Err(TryRecvError::Closed) {
                                return;
                            }
                            continue;
                        }
                        if let Ok(v) = chans[i].1.try_recv() {
                            received.fetch_add(1, Ordering::SeqCst);
                            sum.fetch_add(v as usize, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let chans = chans.clone();
                g.go(move || {
                    for k in 0..PER {
                        let v = p * PER + k;
                        chans[(v % 4) as usize].0.send(v).unwrap();
                    }
                })
            })
            .collect();
        for h in producers {
            h.join();
        }
        // Every value sent; the buffered ones drain before the stop.
        while chans.iter().any(|(_, r)| !r.is_empty()) {
            sleep(ms(1));
        }
        drop(stop_tx);
        for h in consumers {
            h.join();
        }
        let n = PRODUCERS * PER;
        assert_eq!(received.load(Ordering::SeqCst) as u64, n);
        assert_eq!(sum.load(Ordering::SeqCst) as u64, n * (n - 1) / 2);
    });
}

/// `ready` on a removed operation, or on `never()`, waits only for the
/// others (or times out).
#[test]
fn removed_and_never_operations_are_never_ready() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let (tx, rx) = bounded::<i32>(1);
        let n = never::<i32>();
        let mut sel = Select::new();
        let a = sel.recv(&rx);
        sel.recv(&n);
        tx.send(1).unwrap();
        sel.remove(a);
        assert!(sel.try_ready().is_err());
        assert!(sel.ready_timeout(ms(10)).is_err());
        assert_eq!(rx.__waiting(), (0, 0));
    });
}

/// Goroutines waiting in `ready` when their runtime is dropped take their
/// watchers out of every channel on the way out.
#[test]
fn a_dropped_runtime_withdraws_watchers() {
    let rt = crate::mode::builder().workers(2).build().unwrap();
    let ring = bounded::<u8>(1);
    let plain = bounded::<u8>(0);
    for _ in 0..4 {
        let (r1, r2) = (ring.1.clone(), plain.1.clone());
        rt.go(move || {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.recv(&r2);
            sel.ready();
        });
    }
    while ring.1.__waiting().0 < 4 || plain.1.__waiting().0 < 4 {
        std::thread::sleep(ms(1));
    }
    drop(rt);
    assert_eq!(ring.1.__waiting(), (0, 0));
    assert_eq!(plain.1.__waiting(), (0, 0));
    assert!(plain.0.try_send(1).is_err());
    ring.0.send(1).unwrap();
    assert_eq!(ring.1.recv(), Ok(1));
}
