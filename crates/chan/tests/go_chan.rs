//! Go's runtime channel tests, ported: `runtime/chan_test.go` and
//! `runtime/chanbarrier_test.go` (issue 17, "Go's own tests"). Each runs as
//! goroutines on 1 and on 4 workers, as plain threads and mixed (see
//! `go_harness`); Go's `go` is `g.go`, its nil channel `never()` (or, for a
//! send, a channel nobody receives from), its `close` `Sender::close`.
//!
//! Left out, being about Go's runtime rather than channels:
//! `TestNoShrinkStackWhileParking`'s and `TestShrinkStackDuringBlockedSend`'s
//! garbage collection and stack shrinking (their channel traffic around
//! stack-hungry goroutines is kept), `TestSelectStackAdjust`'s GC (its
//! selects with duplicate channels, receiving into locals, are kept), and
//! the benchmarks.
//!
//! The Go sources: Copyright 2009 and 2015 The Go Authors. All rights
//! reserved. Use of this source code is governed by a BSD-style license
//! that can be found in Go's LICENSE file.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod go_harness;

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use go_harness::{ALL, GOROUTINES, check};
use goro_chan::{Receiver, RecvError, Select, Sender, bounded, never, select};
use goro_sched::{sleep, yield_now};

const MS: Duration = Duration::from_millis(1);

/// Go's `TestChan` (chan_test.go): receives block on an empty channel,
/// sends on a full one, non-blocking forms don't, a closed channel gives
/// its values then zero, close wakes a receiver, FIFO order, four senders
/// and four receivers lose and duplicate nothing, `len` and `cap`; for
/// every capacity below 200 (Go's full size).
#[test]
fn test_chan() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        for cap in 0..200 {
            {
                // Ensure that receive from empty chan blocks.
                let (tx, rx) = bounded::<i32>(cap);
                let recv1 = std::sync::Arc::new(AtomicBool::new(false));
                let recv2 = std::sync::Arc::new(AtomicBool::new(false));
                for flag in [&recv1, &recv2] {
                    let (rx, flag) = (rx.clone(), flag.clone());
                    g.go(move || {
                        let _ = rx.recv();
                        flag.store(true, Ordering::SeqCst);
                    });
                }
                sleep(MS);
                assert!(
                    !recv1.load(Ordering::SeqCst) && !recv2.load(Ordering::SeqCst),
                    "chan[{cap}]: receive from empty chan"
                );
                // Ensure that non-blocking receive does not block.
                select! {
                    recv(rx) -> _ => panic!("chan[{cap}]: receive from empty chan"),
                    default => {}
                }
                tx.send(0).unwrap();
                tx.send(0).unwrap();
            }
            {
                // Ensure that send to full chan blocks.
                let (tx, rx) = bounded::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send(i).unwrap();
                }
                let sent = std::sync::Arc::new(AtomicU32::new(0));
                let (tx2, sent2) = (tx.clone(), sent.clone());
                // The goroutine keeps a receiver, as Go's channel lives on
                // while anyone can use it: its send, woken to try again,
                // must not find every receiver gone.
                let keep = rx.clone();
                g.go(move || {
                    tx2.send(0).unwrap();
                    drop(keep);
                    sent2.store(1, Ordering::SeqCst);
                });
                sleep(MS);
                assert_eq!(
                    sent.load(Ordering::SeqCst),
                    0,
                    "chan[{cap}]: send to full chan"
                );
                // Ensure that non-blocking send does not block.
                select! {
                    send(tx, 0) -> _ => panic!("chan[{cap}]: send to full chan"),
                    default => {}
                }
                rx.recv().unwrap();
            }
            {
                // Ensure that we receive 0 from closed chan.
                let (tx, rx) = bounded::<i32>(cap);
                for i in 0..cap as i32 {
                    tx.send(i).unwrap();
                }
                tx.close();
                for i in 0..cap as i32 {
                    assert_eq!(rx.recv(), Ok(i), "chan[{cap}]");
                }
                assert_eq!(rx.recv(), Err(RecvError), "chan[{cap}]");
                assert_eq!(rx.recv(), Err(RecvError), "chan[{cap}]");
            }
            {
                // Ensure that close unblocks receive.
                let (tx, rx) = bounded::<i32>(cap);
                let (done_tx, done) = bounded::<bool>(0);
                g.go(move || {
                    let r = rx.recv();
                    done_tx.send(r == Err(RecvError)).unwrap();
                });
                sleep(MS);
                tx.close();
                assert!(
                    done.recv().unwrap(),
                    "chan[{cap}]: received non zero from closed chan"
                );
            }
            {
                // Send 100 integers, ensure that we receive them
                // non-corrupted in FIFO order.
                let (tx, rx) = bounded::<i32>(cap);
                for _ in 0..2 {
                    let tx = tx.clone();
                    g.go(move || {
                        for i in 0..100 {
                            tx.send(i).unwrap();
                        }
                    });
                    for i in 0..100 {
                        assert_eq!(rx.recv(), Ok(i), "chan[{cap}]");
                    }
                }
                // Send 1000 integers in 4 goroutines, ensure that we
                // receive what we send.
                const P: usize = 4;
                const L: i32 = 1000;
                for _ in 0..P {
                    let tx = tx.clone();
                    g.go(move || {
                        for i in 0..L {
                            tx.send(i).unwrap();
                        }
                    });
                }
                let (done_tx, done) = bounded::<HashMap<i32, usize>>(0);
                for _ in 0..P {
                    let (rx, done_tx) = (rx.clone(), done_tx.clone());
                    g.go(move || {
                        let mut recv = HashMap::new();
                        for _ in 0..L {
                            *recv.entry(rx.recv().unwrap()).or_default() += 1;
                        }
                        done_tx.send(recv).unwrap();
                    });
                }
                let mut recv = HashMap::<i32, usize>::new();
                for _ in 0..P {
                    for (k, v) in done.recv().unwrap() {
                        *recv.entry(k).or_default() += v;
                    }
                }
                assert_eq!(recv.len(), L as usize, "chan[{cap}]: values received");
                assert!(
                    recv.values().all(|&v| v == P),
                    "chan[{cap}]: each value {P} times"
                );
            }
            {
                // Test len/cap.
                let (tx, rx) = bounded::<i32>(cap);
                assert_eq!((rx.len(), rx.capacity()), (0, Some(cap)), "chan[{cap}]");
                for i in 0..cap as i32 {
                    tx.send(i).unwrap();
                }
                assert_eq!((rx.len(), rx.capacity()), (cap, Some(cap)), "chan[{cap}]");
                assert_eq!((tx.len(), tx.capacity()), (cap, Some(cap)), "chan[{cap}]");
            }
        }
    });
}

/// Go's `TestNonblockRecvRace` (chan_test.go): a non-blocking receive on a
/// channel that holds a value, or is closed, is never `default`, though
/// the value may be taken meanwhile.
#[test]
fn test_nonblock_recv_race() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let n = if g.some_threads() { 1000 } else { 10_000 };
        for _ in 0..n {
            let (tx, rx) = bounded::<i32>(1);
            tx.send(1).unwrap();
            let rx2 = rx.clone();
            g.go(move || {
                select! {
                    recv(rx2) -> _ => {}
                    default => panic!("chan is not ready"),
                }
            });
            tx.close();
            let _ = rx.recv();
        }
    });
}

/// Go's `TestNonblockSelectRace` (chan_test.go): a non-blocking select acts
/// on the channels' state at one moment. From the goroutine's start, `c1`
/// or `c2` is always ready, so its select never takes `default`.
#[test]
fn test_nonblock_select_race() {
    let _rt = crate::mode::enter();
    check(ALL, |g| nonblock_select_race(g, false));
}

/// Go's `TestNonblockSelectRace2` (chan_test.go): the same, with
/// `close(c2)` in place of `c2 <- 1`.
#[test]
fn test_nonblock_select_race2() {
    let _rt = crate::mode::enter();
    check(ALL, |g| nonblock_select_race(g, true));
}

fn nonblock_select_race(g: go_harness::Go, close: bool) {
    let n = if g.some_threads() { 2_000 } else { 100_000 }; // Go's full size
    let (done_tx, done) = bounded::<bool>(1);
    for _ in 0..n {
        let (c1_tx, c1) = bounded::<i32>(1);
        let (c2_tx, c2) = bounded::<i32>(if close { 0 } else { 1 });
        c1_tx.send(1).unwrap();
        let (c1b, c2b, done_tx) = (c1.clone(), c2.clone(), done_tx.clone());
        g.go(move || {
            let ready = select! {
                recv(c1b) -> _ => true,
                recv(c2b) -> _ => true,
                default => false,
            };
            done_tx.send(ready).unwrap();
        });
        if close {
            c2_tx.close();
        } else {
            c2_tx.send(1).unwrap();
        }
        select! {
            recv(c1) -> _ => {}
            default => {}
        }
        assert!(done.recv().unwrap(), "no chan is ready");
    }
}

/// Go's `TestSelfSelect` (chan_test.go): a select that both sends and
/// receives on one channel neither crashes nor deadlocks, and on an
/// unbuffered channel never receives its own value.
#[test]
fn test_self_select() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        for cap in [0, 10] {
            let (tx, rx) = bounded::<usize>(cap);
            let handles: Vec<_> = (0..2)
                .map(|p| {
                    let (tx, rx) = (tx.clone(), rx.clone());
                    g.go(move || {
                        for i in 0..1000 {
                            let self_receive = |v: Result<usize, RecvError>| {
                                assert!(!(cap == 0 && v == Ok(p)), "self receive");
                            };
                            if p == 0 || i % 2 == 0 {
                                select! {
                                    send(tx, p) -> r => r.unwrap(),
                                    recv(rx) -> v => self_receive(v),
                                }
                            } else {
                                select! {
                                    recv(rx) -> v => self_receive(v),
                                    send(tx, p) -> r => r.unwrap(),
                                }
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join();
            }
        }
    });
}

/// Go's `TestSelectStress` (chan_test.go): 4 senders and 4 receivers, one
/// per channel, plus a select sending on all four channels and a select
/// receiving on all four, on channels of capacity 0, 0, 2 and 3; a
/// channel done with becomes nil in the selects. Nothing deadlocks.
#[test]
fn test_select_stress() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        // Go's full size as goroutines, its -short size with threads.
        let size = if g.some_threads() { 10_000 } else { 100_000 };
        let chans: Vec<(Sender<i32>, Receiver<i32>)> =
            [0, 0, 2, 3].into_iter().map(bounded).collect();
        let mut handles = Vec::new();
        for (tx, rx) in &chans {
            let tx = tx.clone();
            handles.push(g.go(move || {
                for _ in 0..size {
                    tx.send(0).unwrap();
                }
            }));
            let rx = rx.clone();
            handles.push(g.go(move || {
                for _ in 0..size {
                    rx.recv().unwrap();
                }
            }));
        }
        let txs: Vec<Sender<i32>> = chans.iter().map(|c| c.0.clone()).collect();
        handles.push(g.go(move || {
            // A send on Go's nil channel: nobody ever receives here.
            let (nil, _nil_rx) = bounded::<i32>(0);
            let mut n = [0; 4];
            let mut c1: [&Sender<i32>; 4] = [&txs[0], &txs[1], &txs[2], &txs[3]];
            for _ in 0..4 * size {
                let k = select! {
                    send(c1[3], 0) -> r => { r.unwrap(); 3 }
                    send(c1[2], 0) -> r => { r.unwrap(); 2 }
                    send(c1[0], 0) -> r => { r.unwrap(); 0 }
                    send(c1[1], 0) -> r => { r.unwrap(); 1 }
                };
                n[k] += 1;
                if n[k] == size {
                    c1[k] = &nil;
                }
            }
        }));
        let rxs: Vec<Receiver<i32>> = chans.iter().map(|c| c.1.clone()).collect();
        handles.push(g.go(move || {
            let nil = never::<i32>();
            let mut n = [0; 4];
            let mut c1: [&Receiver<i32>; 4] = [&rxs[0], &rxs[1], &rxs[2], &rxs[3]];
            for _ in 0..4 * size {
                let k = select! {
                    recv(c1[0]) -> v => { v.unwrap(); 0 }
                    recv(c1[1]) -> v => { v.unwrap(); 1 }
                    recv(c1[2]) -> v => { v.unwrap(); 2 }
                    recv(c1[3]) -> v => { v.unwrap(); 3 }
                };
                n[k] += 1;
                if n[k] == size {
                    c1[k] = &nil;
                }
            }
        }));
        for h in handles {
            h.join();
        }
    });
}

/// Go's `TestSelectFairness` (chan_test.go): a select over two always-ready
/// channels (and two never-ready ones) picks each within 10 sigma of half
/// the time.
#[test]
fn test_select_fairness() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const TRIALS: usize = 10_000;
        let (c1_tx, c1) = bounded::<u8>(TRIALS + 1);
        let (c2_tx, c2) = bounded::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1_tx.send(1).unwrap();
            c2_tx.send(2).unwrap();
        }
        let (c3_tx, c3) = bounded::<u8>(0);
        let (c4_tx, c4) = bounded::<u8>(0);
        let (out_tx, out) = bounded::<u8>(0);
        let (done_tx, done) = bounded::<u8>(0);
        let h = g.go(move || {
            loop {
                let b = select! {
                    recv(c3) -> b => b.unwrap(),
                    recv(c4) -> b => b.unwrap(),
                    recv(c1) -> b => b.unwrap(),
                    recv(c2) -> b => b.unwrap(),
                };
                select! {
                    send(out_tx, b) -> r => r.unwrap(),
                    recv(done) -> _ => return,
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0usize, 0usize);
        for _ in 0..TRIALS {
            match out.recv().unwrap() {
                1 => cnt1 += 1,
                2 => cnt2 += 1,
                b => panic!("unexpected value {b} on channel"),
            }
        }
        // If the select in the goroutine is fair, cnt1 and cnt2 should be
        // about the same value: within 10 sigma of the mean.
        let mean = TRIALS as f64 * 0.5;
        let stddev = (TRIALS as f64 * 0.5 * 0.5).sqrt();
        assert!(
            (cnt1 as f64 - mean).abs() <= 10.0 * stddev,
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done_tx.close();
        h.join();
        drop((c1_tx, c2_tx, c3_tx, c4_tx));
    });
}

/// Go's `TestChanSendInterface` (chan_test.go): sends of an interface
/// value (here a boxed `dyn Any`), blocking and non-blocking, one arm or
/// two, on a full channel.
#[test]
fn test_chan_send_interface() {
    let _rt = crate::mode::enter();
    check(ALL, |_g| {
        struct Mt;
        let (tx, rx) = bounded::<Box<dyn Any + Send>>(1);
        tx.send(Box::new(Mt)).unwrap();
        select! {
            send(tx, Box::new(Mt)) -> _ => panic!("sent on a full channel"),
            default => {}
        }
        select! {
            send(tx, Box::new(Mt)) -> _ => panic!("sent on a full channel"),
            send(tx, Box::new(Mt)) -> _ => panic!("sent on a full channel"),
            default => {}
        }
        assert!(rx.recv().unwrap().is::<Mt>());
    });
}

/// Go's `TestPseudoRandomSend` (chan_test.go): a select with two sends on
/// one channel, `1` and `0`, sends each more than a tenth of the time,
/// unbuffered and buffered.
#[test]
fn test_pseudo_random_send() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: usize = 100;
        for cap in [0, N] {
            let (tx, rx) = bounded::<usize>(cap);
            let h = g.go(move || {
                (0..N)
                    .map(|_| {
                        yield_now();
                        rx.recv().unwrap()
                    })
                    .collect::<Vec<_>>()
            });
            for _ in 0..N {
                select! {
                    send(tx, 1) -> r => r.unwrap(),
                    send(tx, 0) -> r => r.unwrap(),
                }
            }
            let l = h.join();
            let n1: usize = l.iter().sum();
            let n0 = N - n1;
            assert!(
                n0 > N / 10 && n1 > N / 10,
                "want pseudorandom, got {n0} zeros and {n1} ones (chan cap {cap})"
            );
        }
    });
}

/// Go's `TestMultiConsumer` (chan_test.go): 23 workers range over a work
/// channel, some yielding to mess with the FIFO-ish order, and forward to a
/// result channel closed once they are done; count and sum match.
#[test]
fn test_multi_consumer() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const NWORK: usize = 23;
        let niter: usize = if g.some_threads() { 20_000 } else { 271_828 }; // Go's
        const PN: [i64; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
        let (q_tx, q) = bounded::<i64>(NWORK * 3);
        let (r_tx, r) = bounded::<i64>(NWORK * 3);
        // workers
        let workers: Vec<_> = (0..NWORK)
            .map(|w| {
                let (q, r_tx) = (q.clone(), r_tx.clone());
                g.go(move || {
                    for v in q.iter() {
                        // mess with the fifo-ish nature of range
                        if PN[w % PN.len()] == v {
                            yield_now();
                        }
                        r_tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        drop(q);
        // feeder & closer
        let feeder = g.go(move || {
            let mut expect = 0;
            for i in 0..niter {
                let v = PN[i % PN.len()];
                expect += v;
                q_tx.send(v).unwrap();
            }
            q_tx.close(); // no more work
            for w in workers {
                w.join(); // workers done
            }
            r_tx.close(); // ... so there can be no more results
            expect
        });
        // consume & check
        let (mut n, mut s) = (0, 0);
        for v in r.iter() {
            n += 1;
            s += v;
        }
        let expect = feeder.join();
        assert_eq!(
            (n, s),
            (niter, expect),
            "expected sum {expect} (got {s}) from {niter} iter (saw {n})"
        );
    });
}

/// Recurses `n` frames of a kilobyte each, as Go's `stackGrowthRecursive`.
#[inline(never)]
fn stack_growth_recursive(n: usize) -> u8 {
    let mut frame = [0u8; 1024];
    frame[n % 1024] = n as u8;
    let frame = std::hint::black_box(frame);
    if n == 0 {
        frame[0]
    } else {
        stack_growth_recursive(n - 1).wrapping_add(frame[n % 1024])
    }
}

/// Go's `TestShrinkStackDuringBlockedSend` (chan_test.go), without the GC:
/// a sender that used 20 KiB of stack between sends blocks on an
/// unbuffered channel while the receiver sleeps; every value arrives
/// intact.
#[test]
fn test_shrink_stack_during_blocked_send() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: i32 = 10;
        let (tx, rx) = bounded::<i32>(0);
        let (done_tx, done) = bounded::<()>(0);
        g.go(move || {
            for i in 0..N {
                tx.send(i).unwrap();
                // use lots of stack, briefly.
                std::hint::black_box(stack_growth_recursive(20));
            }
            done_tx.send(()).unwrap();
        });
        for i in 0..N {
            assert_eq!(rx.recv(), Ok(i), "bad channel read");
            // Waste some time so the sender can finish using lots of stack
            // and block in channel send.
            sleep(MS);
        }
        done.recv().unwrap();
    });
}

/// Go's `TestNoShrinkStackWhileParking` (chan_test.go), without the GC: a
/// sender grows its stack and then blocks, over and over, on a channel
/// whose receiver sleeps 10 µs before each receive.
#[test]
fn test_no_shrink_stack_while_parking() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: i32 = 10;
        let rounds = if g.some_threads() { 20 } else { N * 20 };
        for _ in 0..rounds {
            let (tx, rx) = bounded::<i32>(0);
            let (done_tx, done) = bounded::<()>(0);
            let done_tx2 = done_tx.clone();
            g.go(move || {
                for i in 0..N {
                    // Sleep here so that the sender always fully blocks.
                    sleep(Duration::from_micros(10));
                    assert_eq!(rx.recv(), Ok(i));
                }
                done_tx2.send(()).unwrap();
            });
            g.go(move || {
                for i in 0..N {
                    tx.send(i).unwrap();
                    std::hint::black_box(stack_growth_recursive(20));
                }
                done_tx.send(()).unwrap();
            });
            sleep(Duration::from_micros(50));
            done.recv().unwrap();
            done.recv().unwrap();
        }
    });
}

/// Go's `TestSelectDuplicateChannel` (chan_test.go): a select queued twice
/// on one channel, then woken by another, leaves that channel's queue
/// sound: the goroutine queued after it is the one the next send wakes.
#[test]
fn test_select_duplicate_channel() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (c_tx, c) = bounded::<i32>(0);
        let (d_tx, d) = bounded::<i32>(0);
        let (e_tx, e) = bounded::<i32>(0);
        // goroutine A
        let c2 = c.clone();
        let a = g.go(move || {
            select! {
                recv(c2) -> _ => panic!("A received from c"),
                recv(c2) -> _ => panic!("A received from c"),
                recv(d) -> v => assert_eq!(v, Ok(7)),
            }
            e_tx.send(9).unwrap();
        });
        sleep(MS); // make sure goroutine A gets queued first on c
        // goroutine B
        let b = g.go(move || c.recv().unwrap());
        sleep(MS); // make sure goroutine B gets queued on c before continuing
        d_tx.send(7).unwrap(); // wake up A, it dequeues itself from c
        assert_eq!(e.recv(), Ok(9)); // A tells us it's done
        c_tx.send(8).unwrap(); // wake up B
        assert_eq!(b.join(), 8);
        a.join();
    });
}

/// Go's `TestSelectStackAdjust` (chan_test.go), without the GC: two
/// goroutines that grew their stacks wait in selects (one with each
/// channel twice) that would receive into a local; closing `d` wakes both
/// through `d`, and the local still points at the goroutine's own value.
#[test]
fn test_select_stack_adjust() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        // Pointers travel as addresses (`*mut i32` is not `Send`).
        let (c_tx, c) = bounded::<usize>(0);
        let (d_tx, d) = bounded::<usize>(0);
        let (ready1_tx, ready1) = bounded::<bool>(0);
        let (ready2_tx, ready2) = bounded::<bool>(0);
        let f = move |ready: Sender<bool>, dup: bool, c: Receiver<usize>, d: Receiver<usize>| {
            // Temporarily grow the stack to 10K.
            std::hint::black_box(stack_growth_recursive(10));
            ready.send(true).unwrap();
            let mut val = 42i32;
            let mut cx: *mut i32 = &mut val;
            let nil = never::<usize>();
            let (c2, d2) = if dup { (&c, &d) } else { (&nil, &nil) };
            // Receive from d. cx won't be affected.
            select! {
                recv(c) -> p => cx = p.unwrap() as *mut i32,
                recv(c2) -> _ => panic!("received from c"),
                recv(d) -> p => assert_eq!(p, Err(RecvError)),
                recv(d2) -> p => assert_eq!(p, Err(RecvError)),
            }
            assert!(std::ptr::eq(cx, &val), "cx no longer points to val");
            assert_eq!(val, 42, "val changed");
            // SAFETY: `cx` points at `val`, checked just above.
            unsafe { *cx = 43 };
            assert_eq!(val, 43, "changing *cx failed to change val");
            ready.send(true).unwrap();
        };
        let (c1, d1) = (c.clone(), d.clone());
        g.go(move || f(ready1_tx, false, c1, d1));
        g.go(move || f(ready2_tx, true, c, d));
        // Let the goroutines get into the select.
        ready1.recv().unwrap();
        ready2.recv().unwrap();
        sleep(Duration::from_millis(10));
        // Wake selects.
        d_tx.close();
        ready1.recv().unwrap();
        ready2.recv().unwrap();
        drop(c_tx);
    });
}

/// Go's `doRequest` (chanbarrier_test.go): a goroutine answers on an
/// unbuffered channel, by a send or by a select of that send and a
/// receive on a channel nobody uses.
fn do_request(g: go_harness::Go, use_select: bool) -> Result<(), Box<dyn Any + Send>> {
    struct MyError;
    let (ch_tx, ch) = bounded::<Box<Result<(), Box<dyn Any + Send>>>>(0);
    let (done_tx, done) = bounded::<()>(0);
    if use_select {
        g.go(move || {
            select! {
                send(ch_tx, Box::new(Err(Box::new(MyError)))) -> r => r.unwrap(),
                recv(done) -> _ => {}
            }
        });
    } else {
        g.go(move || ch_tx.send(Box::new(Err(Box::new(MyError)))).unwrap());
    }
    let r = *ch.recv().unwrap();
    yield_now();
    drop(done_tx);
    match r {
        Err(e) if e.is::<MyError>() => Err(e),
        _ => panic!("not myError"),
    }
}

fn chan_send_barrier(g: go_harness::Go, use_select: bool) {
    let outer = 10;
    let inner = if g.some_threads() { 100 } else { 1000 }; // Go's -short
    let handles: Vec<_> = (0..outer)
        .map(|_| {
            g.go(move || {
                let mut garbage = Vec::new();
                for _ in 0..inner {
                    assert!(do_request(g, use_select).is_err());
                    garbage = std::hint::black_box(vec![0u8; 1 << 10]);
                }
                drop(garbage);
            })
        })
        .collect();
    for h in handles {
        h.join();
    }
}

/// Go's `TestChanSendSelectBarrier` (chanbarrier_test.go): many goroutines
/// each receive an answer that another sent from a select.
#[test]
fn test_chan_send_select_barrier() {
    let _rt = crate::mode::enter();
    check(ALL, |g| chan_send_barrier(g, true));
}

/// Go's `TestChanSendBarrier` (chanbarrier_test.go): the same with a plain
/// send.
#[test]
fn test_chan_send_barrier() {
    let _rt = crate::mode::enter();
    check(ALL, |g| chan_send_barrier(g, false));
}

/// The dynamic form of `TestSelectStress`'s receiving select: Go's nil
/// channel as an operation left out of a `Select` (reflect.Select's shape).
#[test]
fn test_select_stress_dynamic() {
    let _rt = crate::mode::enter();
    check(GOROUTINES, |g| {
        const N: usize = 5_000;
        let chans: Vec<(Sender<usize>, Receiver<usize>)> =
            [0, 0, 2, 3].into_iter().map(bounded).collect();
        let mut handles = Vec::new();
        for (k, (tx, _)) in chans.iter().enumerate() {
            let tx = tx.clone();
            handles.push(g.go(move || {
                for _ in 0..N {
                    tx.send(k).unwrap();
                }
            }));
        }
        let rxs: Vec<Receiver<usize>> = chans.iter().map(|c| c.1.clone()).collect();
        drop(chans);
        handles.push(g.go(move || {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                let mut sel = Select::new();
                let live: Vec<usize> = (0..4).filter(|&k| n[k] < N).collect();
                for &k in &live {
                    sel.recv(&rxs[k]);
                }
                let op = sel.select();
                let k = live[op.index()];
                assert_eq!(op.recv(&rxs[k]), Ok(k));
                n[k] += 1;
            }
            assert_eq!(n, [N; 4]);
        }));
        for h in handles {
            h.join();
        }
    });
}
