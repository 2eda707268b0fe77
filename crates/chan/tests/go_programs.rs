//! Go's `test/chan` programs, ported (issue 17, "Go's own tests"): each
//! `main` becomes a test run as goroutines on 1 and on 4 workers, as plain
//! threads and mixed (see `go_harness`). Go's `go` is `g.go`, its nil
//! channel `never()` for a receive and a channel nobody receives from for a
//! send, its `close` `Sender::close` (or dropping the last sender).
//!
//! Go's programs end with goroutines still blocked (generators, filters);
//! the ports stop them (a dropped receiver fails the sends, or every
//! channel is closed at the end), so that the harness can check that
//! everything the test started has ended.
//!
//! The Go sources: Copyright 2009, 2010 and 2011 The Go Authors. All rights
//! reserved. Use of this source code is governed by a BSD-style license
//! that can be found in Go's LICENSE file.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod go_harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use go_harness::{ALL, Go, check};
use goro_chan::{
    Receiver, RecvError, Select, SendError, Sender, after, bounded, never, select, tick,
};
use goro_sched::{sleep, yield_now};

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/doubleselect.go

/// `doubleselect.go`: a select over four sends never runs two of them in
/// one go (each value arrives once), while four muxes forward the four
/// channels into one.
#[test]
fn doubleselect() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let iterations: i32 = if g.some_threads() { 10_000 } else { 100_000 }; // Go's
        let (c1, r1) = bounded::<i32>(0);
        let (c2, r2) = bounded::<i32>(0);
        let (c3, r3) = bounded::<i32>(0);
        let (c4, r4) = bounded::<i32>(0);
        let (done_tx, done) = bounded::<bool>(0);
        let (cmux_tx, cmux) = bounded::<i32>(0);
        // sender: one of four channels per value; closes them at the end.
        g.go(move || {
            for i in 0..iterations {
                select! {
                    send(c1, i) -> r => r.unwrap(),
                    send(c2, i) -> r => r.unwrap(),
                    send(c3, i) -> r => r.unwrap(),
                    send(c4, i) -> r => r.unwrap(),
                }
            }
        });
        // mux: forwards one channel into cmux.
        for input in [r1, r2, r3, r4] {
            let (out, done_tx) = (cmux_tx.clone(), done_tx.clone());
            g.go(move || {
                for v in input.iter() {
                    out.send(v).unwrap();
                }
                done_tx.send(true).unwrap();
            });
        }
        g.go(move || {
            for _ in 0..4 {
                done.recv().unwrap();
            }
            cmux_tx.close();
        });
        // recver: no value twice.
        let mut seen = HashSet::new();
        for v in cmux.iter() {
            assert!(seen.insert(v), "got duplicate value: {v}");
        }
        assert_eq!(seen.len(), iterations as usize, "every value arrived");
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/fifo.go

/// `fifo.go`: a buffered channel gives its values in order, and an
/// unbuffered one serves a daisy chain of receivers in the order they
/// queued.
#[test]
fn fifo() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: i32 = 10;
        // AsynchFifo
        let (tx, rx) = bounded::<i32>(N as usize);
        for i in 0..N {
            tx.send(i).unwrap();
        }
        for i in 0..N {
            assert_eq!(rx.recv(), Ok(i), "bad receive");
        }
        // SynchFifo: thread together a daisy chain to read the elements in
        // sequence.
        let (ch_tx, ch) = bounded::<i32>(0);
        let (start, mut input) = bounded::<i32>(0);
        for val in 0..N {
            let (out, next) = bounded::<i32>(0);
            let ch = ch.clone();
            g.go(move || {
                input.recv().unwrap();
                assert_eq!(ch.recv(), Ok(val));
                out.send(1).unwrap();
            });
            input = next;
        }
        start.send(0).unwrap();
        for i in 0..N {
            ch_tx.send(i).unwrap();
        }
        input.recv().unwrap();
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/nonblock.go

/// `nonblock.go`'s steps for one type: a non-blocking receive on an empty
/// channel takes `default`; a non-blocking send (receive) retried, with a
/// short wait, reaches a receiver (sender) goroutine.
fn nonblock_one<T>(
    g: Go,
    buffer: usize,
    ticker: &Receiver<std::time::Instant>,
    to_send: T,
    to_get: T,
) where
    T: PartialEq + std::fmt::Debug + Clone + Send + 'static,
{
    const MAX_TRIES: usize = 10_000;
    let pause = || {
        ticker.recv().unwrap();
        ticker.recv().unwrap();
        yield_now();
        yield_now();
        yield_now();
    };
    let (sync_tx, sync) = bounded::<bool>(0);
    let (c_tx, c) = bounded::<T>(buffer);
    select! {
        recv(c) -> _ => panic!("blocked sender"),
        default => {}
    }
    // receiver
    let (rx, strobe, want) = (c.clone(), sync_tx.clone(), to_send.clone());
    g.go(move || {
        assert_eq!(rx.recv(), Ok(want), "receiver's value");
        strobe.send(true).unwrap();
    });
    let mut tries = 0;
    loop {
        select! {
            send(c_tx, to_send.clone()) -> r => { r.unwrap(); break }
            default => {
                tries += 1;
                assert!(tries <= MAX_TRIES, "receiver buffer={buffer}");
                pause();
            }
        }
    }
    sync.recv().unwrap();
    // sender
    let (tx, strobe, v) = (c_tx.clone(), sync_tx.clone(), to_get.clone());
    g.go(move || {
        tx.send(v).unwrap();
        strobe.send(true).unwrap();
    });
    if buffer > 0 {
        sync.recv().unwrap();
    }
    let mut tries = 0;
    let got = loop {
        select! {
            recv(c) -> v => break v.unwrap(),
            default => {
                tries += 1;
                assert!(tries <= MAX_TRIES, "sender buffer={buffer}");
                pause();
            }
        }
    };
    assert_eq!(got, to_get, "sender's value");
    if buffer == 0 {
        sync.recv().unwrap();
    }
}

/// `nonblock.go`: non-blocking sends and receives, for several types and
/// sizes of operand, unbuffered and buffered.
#[test]
fn nonblock() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let ticker = tick(Duration::from_micros(10));
        for buffer in 0..2 {
            nonblock_one::<i32>(g, buffer, &ticker, 123, 234);
            nonblock_one::<i64>(g, buffer, &ticker, 123_456, 234_567);
            nonblock_one::<bool>(g, buffer, &ticker, true, true);
            nonblock_one::<String>(g, buffer, &ticker, "hello".into(), "hello again".into());
        }
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select.go

/// `select.go`: a select loop sends on two buffered channels, making each
/// nil once it has sent on it, until only `default` is left. Go evaluates
/// every send operand on entry (its counter ends at 10); `select!` only
/// the chosen one's (3 here: a documented difference).
#[test]
fn select() {
    let _rt = crate::mode::enter();
    check(ALL, |_g| {
        let counter = Cell::new(0u32);
        let shift = Cell::new(0u32);
        let get_value = || {
            counter.set(counter.get() + 1);
            1u32 << shift.get()
        };
        let send = |a: Option<&Sender<u32>>, b: Option<&Sender<u32>>| -> usize {
            let (nil, _nil_rx) = bounded::<u32>(0);
            let (mut a, mut b) = (a.unwrap_or(&nil), b.unwrap_or(&nil));
            let mut i = 0;
            loop {
                let sent = select! {
                    send(a, get_value()) -> r => { r.unwrap(); 0 }
                    send(b, get_value()) -> r => { r.unwrap(); 1 }
                    default => break,
                };
                i += 1;
                if sent == 0 {
                    a = &nil;
                } else {
                    b = &nil;
                }
                shift.set(shift.get() + 1);
            }
            i
        };
        let (a_tx, a) = bounded::<u32>(1);
        let (b_tx, b) = bounded::<u32>(1);
        assert_eq!(send(Some(&a_tx), Some(&b_tx)), 2);
        let (av, bv) = (a.recv().unwrap(), b.recv().unwrap());
        assert_eq!(av | bv, 3, "bad values {av} {bv}");
        assert_eq!(send(Some(&a_tx), None), 1);
        assert_eq!(counter.get(), 3, "counter");
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select2.go

thread_local! {
    /// Whether this thread's allocations are counted (select2).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// The bytes this thread allocated while counting.
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting a thread's allocations when asked.
struct Counting;

// SAFETY: every call is forwarded to `System` unchanged; the counting
// touches only const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
            }
        });
        // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `select2.go`: 100,000 selects (a receive that a sender goroutine
/// satisfies, and one that never is) do not grow the footprint: on a plain
/// thread, the receiving thread allocates under 100,000 bytes for them
/// (Go's bound, after a warm-up round).
#[test]
fn select2() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: usize = 100_000;
        let (c_tx, c) = bounded::<i32>(0);
        let (_dummy_tx, dummy) = bounded::<i32>(0);
        let round = || {
            let tx = c_tx.clone();
            let sender = g.go(move || {
                for _ in 0..N {
                    tx.send(1).unwrap();
                }
            });
            for _ in 0..N {
                select! {
                    recv(c) -> v => assert_eq!(v, Ok(1)),
                    recv(dummy) -> _ => panic!("dummy"),
                }
            }
            sender.join();
        };
        // warm up
        round();
        // second time shouldn't increase footprint by much
        let counted = g.threads();
        if counted {
            ALLOCATED.with(|a| a.set(0));
            COUNTING.with(|c| c.set(true));
        }
        round();
        if counted {
            COUNTING.with(|c| c.set(false));
            let bytes = ALLOCATED.with(Cell::get);
            // The round spawns one thread for the sender: a few hundred
            // bytes, not per select.
            assert!(
                bytes < 100_000,
                "too much memory for {N} selects: {bytes} bytes"
            );
        }
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select3.go

/// `select3.go`'s `testBlock(always, f)` for several `f` at once: each,
/// started, is still blocked a tenth of a second later. They stay blocked
/// for good (Go's nil channel, `select {}`), so they are not waited for.
fn always_block(g: Go, fs: Vec<Box<dyn FnOnce() + Send>>) {
    let finished: Vec<Arc<AtomicBool>> = fs
        .into_iter()
        .map(|f| {
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            g.go_forever(move || {
                f();
                d.store(true, Ordering::SeqCst);
            });
            done
        })
        .collect();
    sleep(Duration::from_millis(100)); // 0.1s seems plenty long
    for (i, done) in finished.iter().enumerate() {
        assert!(!done.load(Ordering::SeqCst), "case {i} did not block");
    }
}

/// `select3.go`'s `testBlock(never, f)`: `f` returns (within a minute).
fn never_blocks(g: Go, what: &str, f: impl FnOnce() + Send + 'static) {
    let (c_tx, c) = bounded::<()>(1);
    g.go(move || {
        f();
        c_tx.send(()).unwrap();
    });
    select! {
        recv(c) -> r => r.unwrap(),
        recv(after(go_harness::LIMIT)) -> _ => panic!("{what} blocked"),
    }
}

/// `select3.go`: which operations and selects block, on nil, closed,
/// full, empty and unbuffered channels, with and without `default`. A
/// send on a closed channel, a panic in Go, is an `Err` here.
#[test]
fn select3() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const ASYNC: usize = 1; // asynchronous channels
        let (closed_tx, closedch) = bounded::<i32>(0);
        closed_tx.close();
        // A nil channel: `never()` to receive; to send, a channel nobody
        // receives from (its receiver kept by the goroutine).
        let nil_send = || bounded::<i32>(0);

        // sending/receiving from a nil channel blocks; receiving from a
        // non-ready channel always blocks; empty selects always block;
        // selects with only nil channels always block; selects with
        // non-ready non-nil channels always block; select should not get
        // confused if it sees itself.
        always_block(
            g,
            vec![
                Box::new(move || {
                    let (nilch, _keep) = nil_send();
                    let _ = nilch.send(7);
                }),
                Box::new(|| {
                    let _ = never::<i32>().recv();
                }),
                Box::new(|| {
                    let (_tx, ch) = bounded::<i32>(0);
                    let _ = ch.recv();
                }),
                Box::new(|| {
                    select! {}
                }),
                Box::new(|| {
                    select! {
                        recv(never::<i32>()) -> _ => unreachable!(),
                    }
                }),
                Box::new(move || {
                    let (nilch, _keep) = nil_send();
                    select! {
                        send(nilch, 7) -> _ => unreachable!(),
                    }
                }),
                Box::new(move || {
                    let (nilch, _keep) = nil_send();
                    select! {
                        recv(never::<i32>()) -> _ => unreachable!(),
                        send(nilch, 7) -> _ => unreachable!(),
                    }
                }),
                Box::new(|| {
                    let (_tx, ch) = bounded::<i32>(0);
                    select! {
                        recv(ch) -> _ => unreachable!(),
                    }
                }),
                Box::new(|| {
                    let (tx, rx) = bounded::<i32>(0);
                    select! {
                        send(tx, 1) -> _ => {}
                        recv(rx) -> _ => {}
                    }
                }),
            ],
        );

        // sending/receiving from a nil channel inside a select is never
        // selected
        let (nilch, _keep) = nil_send();
        select! {
            send(nilch, 7) -> _ => unreachable!(),
            default => {}
        }
        select! {
            recv(never::<i32>()) -> _ => unreachable!(),
            default => {}
        }

        // sending to an async channel with free buffer space never blocks
        never_blocks(g, "send with room", || {
            let (ch, _rx) = bounded::<i32>(ASYNC);
            ch.send(7).unwrap();
        });

        // receiving from a closed channel never blocks
        let c = closedch.clone();
        never_blocks(g, "receive from closed", move || {
            for _ in 0..10 {
                assert_eq!(c.recv(), Err(RecvError), "zero value from closed channel");
            }
        });

        // sending to a closed channel panics in Go; here it fails.
        assert_eq!(closed_tx.send(7), Err(SendError(7)));

        // selects with default cases don't block
        never_blocks(g, "select default", || {
            select! {
                default => {}
            }
        });
        never_blocks(g, "select nil recv default", || {
            select! {
                recv(never::<i32>()) -> _ => unreachable!(),
                default => {}
            }
        });
        never_blocks(g, "select nil send default", move || {
            let (nilch, _keep) = nil_send();
            select! {
                send(nilch, 7) -> _ => unreachable!(),
                default => {}
            }
        });

        // selects with ready channels don't block
        never_blocks(g, "select send with room", || {
            let (ch, _rx) = bounded::<i32>(ASYNC);
            select! {
                send(ch, 7) -> r => r.unwrap(),
                default => unreachable!(),
            }
        });
        never_blocks(g, "select ready recv", || {
            let (tx, ch) = bounded::<i32>(ASYNC);
            tx.send(7).unwrap();
            select! {
                recv(ch) -> v => assert_eq!(v, Ok(7)),
                default => unreachable!(),
            }
        });

        // selects with closed channels behave like ordinary operations
        let c = closedch.clone();
        never_blocks(g, "select closed recv", move || {
            select! {
                recv(c) -> v => assert_eq!(v, Err(RecvError)),
            }
        });
        let tx = closed_tx.clone();
        never_blocks(g, "select closed send", move || {
            select! {
                send(tx, 7) -> r => assert_eq!(r, Err(SendError(7))),
            }
        });
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select4.go

/// `select4.go`: the receive arm not chosen evaluates nothing (Go: not
/// even the address it would assign to); the chosen one gets its value.
#[test]
fn select4() {
    let _rt = crate::mode::enter();
    check(ALL, |_g| {
        let called = Cell::new(false);
        let f = || {
            called.set(true);
            0
        };
        let (c_tx, c) = bounded::<i32>(1);
        let (_c1_tx, c1) = bounded::<i32>(0);
        c_tx.send(42).unwrap();
        let x = select! {
            recv(c1) -> v => v.unwrap() + f(),
            recv(c) -> v => v.unwrap(),
        };
        assert_eq!(x, 42);
        assert!(!called.get(), "called f");
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select5.go

/// `select5.go` generates every combination of a send or receive on a
/// buffered channel `c` with dummy (never ready) and nil operations and a
/// `default`, blocking and not, and checks the right operation happens.
/// With `select!`'s fixed arms, the combinations are made with `Select`:
/// the real operation at every position among every subset of the
/// dummy send, dummy receive, nil send and nil receive, with and without
/// `default`, then the `nonblock` template (only dummy and nil operations:
/// `default` must run). One `select!` checks that channel expressions are
/// evaluated once each, in the order written, and a send's value only if
/// chosen (Go evaluates every send operand: a documented difference).
#[test]
fn select5() {
    let _rt = crate::mode::enter();
    check(ALL, |_g| {
        let (c_tx, c) = bounded::<i32>(1);
        let (dummy_tx, dummy) = bounded::<i32>(0);
        let (nil_tx, _nil_rx) = bounded::<i32>(0);
        let nil = never::<i32>();
        let mut n = 1;
        let mut cases = 0;
        #[derive(Clone, Copy, PartialEq)]
        enum Op {
            Real,
            DummySend,
            DummyRecv,
            NilSend,
            NilRecv,
        }
        for real_send in [false, true] {
            for extras in 0..16u32 {
                let others: Vec<Op> = [Op::DummySend, Op::DummyRecv, Op::NilSend, Op::NilRecv]
                    .into_iter()
                    .enumerate()
                    .filter(|&(i, _)| extras & (1 << i) != 0)
                    .map(|(_, op)| op)
                    .collect();
                for pos in 0..=others.len() {
                    for nonblocking in [false, true] {
                        let mut ops = others.clone();
                        ops.insert(pos, Op::Real);
                        if !real_send {
                            c_tx.send(n).unwrap();
                        }
                        let mut sel = Select::new();
                        for op in &ops {
                            match op {
                                Op::Real if real_send => sel.send(&c_tx),
                                Op::Real => sel.recv(&c),
                                Op::DummySend => sel.send(&dummy_tx),
                                Op::DummyRecv => sel.recv(&dummy),
                                Op::NilSend => sel.send(&nil_tx),
                                Op::NilRecv => sel.recv(&nil),
                            };
                        }
                        let op = if nonblocking {
                            sel.try_select().expect("nonblock")
                        } else {
                            sel.select()
                        };
                        assert!(ops[op.index()] == Op::Real, "a dummy or nil operation ran");
                        let x = if real_send {
                            op.send(&c_tx, n).unwrap();
                            c.recv().unwrap()
                        } else {
                            op.recv(&c).unwrap()
                        };
                        assert_eq!(x, n, "have {x} want {n}");
                        n += 1;
                        cases += 1;
                    }
                }
            }
        }
        // nonblock: only dummy and nil operations, and default.
        for extras in 1..16u32 {
            let mut sel = Select::new();
            if extras & 1 != 0 {
                sel.send(&dummy_tx);
            }
            if extras & 2 != 0 {
                sel.send(&nil_tx);
            }
            if extras & 4 != 0 {
                sel.recv(&dummy);
            }
            if extras & 8 != 0 {
                sel.recv(&nil);
            }
            assert!(sel.try_select().is_err(), "a dummy or nil operation ran");
            cases += 1;
        }
        assert_eq!(cases, 207, "every combination ran");
        // sendOrder / recvOrder with select!.
        let order = Cell::new(0);
        let checkorder = |o: i32| {
            assert!(o > order.get(), "invalid order {o} after {}", order.get());
            order.set(o);
        };
        macro_rules! fc {
            ($ch:expr, $o:expr) => {{
                checkorder($o);
                $ch
            }};
        }
        c_tx.send(n).unwrap();
        select! {
            recv(fc!(&c, 1)) -> v => assert_eq!(v, Ok(n)),
            send(fc!(&dummy_tx, 2), { checkorder(100); 1 }) -> _ => panic!("dummy send"),
            recv(fc!(&dummy, 3)) -> _ => panic!("dummy receive"),
            send(fc!(&nil_tx, 4), { checkorder(100); 1 }) -> _ => panic!("nilch send"),
            recv(fc!(&nil, 5)) -> _ => panic!("nilch recv"),
        }
        assert_eq!(order.get(), 5);
        order.set(0);
        select! {
            recv(fc!(&dummy, 1)) -> _ => panic!("dummy receive"),
            send(fc!(&c_tx, 2), { checkorder(6); n + 1 }) -> r => r.unwrap(),
            send(fc!(&nil_tx, 3), { checkorder(100); 1 }) -> _ => panic!("nilch send"),
            recv(fc!(&nil, 4)) -> _ => panic!("nilch recv"),
            default => panic!("nonblock"),
        }
        assert_eq!(order.get(), 6);
        assert_eq!(c.recv(), Ok(n + 1));
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select6.go

/// `select6.go` (Go issue 2075): a select that lost on `c1` to another
/// waiter, and was woken through `c2`, leaves `c1`'s queue sound: its
/// later receive on `c1`, and the first goroutine's, are both woken.
#[test]
fn select6() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (c1_tx, c1) = bounded::<bool>(0);
        let (c2_tx, c2) = bounded::<bool>(0);
        let (c3_tx, c3) = bounded::<bool>(0);
        let r = c1.clone();
        g.go(move || r.recv().unwrap());
        g.go(move || {
            select! {
                recv(c1) -> _ => panic!("dummy"),
                recv(c2) -> _ => c3_tx.send(true).unwrap(),
            }
            c1.recv().unwrap();
        });
        g.go(move || c2_tx.send(true).unwrap());
        c3.recv().unwrap();
        c1_tx.send(true).unwrap();
        c1_tx.send(true).unwrap();
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/select7.go

type RecvFn = fn(Receiver<i32>);

fn recv1(c: Receiver<i32>) {
    c.recv().unwrap();
}

fn recv2(c: Receiver<i32>) {
    select! {
        recv(c) -> v => { v.unwrap(); }
    }
}

fn recv3(c: Receiver<i32>) {
    let (_c2_tx, c2) = bounded::<i32>(0);
    select! {
        recv(c) -> v => { v.unwrap(); }
        recv(c2) -> _ => panic!("c2"),
    }
}

/// `select7.go`: a receive, a one-arm select receive and a two-arm select
/// receive, each against a send, a one-arm select send and a two-arm
/// select send, the receiver started first.
#[test]
fn select7() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        for recv in [recv1 as RecvFn, recv2, recv3] {
            for send in 1..=3 {
                let (c_tx, c) = bounded::<i32>(0);
                let h = g.go(move || recv(c));
                yield_now();
                match send {
                    1 => c_tx.send(1).unwrap(),
                    2 => select! {
                        send(c_tx, 1) -> r => r.unwrap(),
                    },
                    _ => {
                        let (c2_tx, _c2) = bounded::<i32>(0);
                        select! {
                            send(c_tx, 1) -> r => r.unwrap(),
                            send(c2_tx, 1) -> _ => panic!("c2"),
                        }
                    }
                }
                h.join();
            }
        }
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/sieve1.go

/// The first `n` primes, by trial division.
fn first_primes(n: usize) -> Vec<u64> {
    (2u64..)
        .filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .take(n)
        .collect()
}

/// `sieve1.go`: the classical concurrent prime sieve, a daisy chain of
/// filter goroutines over unbuffered channels (Go checks the 25 primes
/// below 100; here the first 100 primes). Dropping the primes' receiver
/// at the end stops the chain, one filter after another.
#[test]
fn sieve1() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let want = first_primes(100);
        let (primes_tx, primes) = bounded::<u64>(0);
        // The prime sieve: Daisy-chain Filter processes together.
        g.go(move || {
            let (tx, mut ch) = bounded::<u64>(0);
            // Generate: send the sequence 2, 3, 4, ... to channel 'ch'.
            g.go(move || {
                for i in 2.. {
                    if tx.send(i).is_err() {
                        return;
                    }
                }
            });
            loop {
                let Ok(prime) = ch.recv() else { return };
                if primes_tx.send(prime).is_err() {
                    return;
                }
                let (out, ch1) = bounded::<u64>(0);
                // Filter: copy from 'ch' to 'out', removing multiples of
                // 'prime'.
                let input = ch;
                g.go(move || {
                    for i in input.iter() {
                        if i % prime != 0 && out.send(i).is_err() {
                            return;
                        }
                    }
                });
                ch = ch1;
            }
        });
        for &p in &want {
            assert_eq!(primes.recv(), Ok(p));
        }
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/sieve2.go

/// `sieve2.go`: an Eratosthenes sieve of odd candidates, merging channels of
/// each prime's multiples through a heap, with a feedback loop of primes
/// through a proxy goroutine whose select sends on a nil channel while its
/// buffer is empty. Every channel is closed at the end to stop it.
#[test]
fn sieve2() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let chans = Chans::default();
        let want = first_primes(100);
        let primes = sieve2_sieve(g, &chans);
        for &p in &want {
            assert_eq!(primes.recv(), Ok(p));
        }
        chans.close_all();
    });
}

/// Every channel of a ported program, to close them all at its end (Go's
/// program just exits).
#[derive(Clone, Default)]
struct Chans {
    /// Whether they were closed, and how to close each.
    closers: Arc<Mutex<(bool, Closers)>>,
}

type Closers = Vec<Box<dyn Fn() + Send>>;

impl Chans {
    /// `make(chan T, cap)`, closed at the end.
    fn make<T: Send + 'static>(&self, cap: usize) -> (Sender<T>, Receiver<T>) {
        let (tx, rx) = bounded(cap);
        let closer = tx.clone();
        let mut closers = self.closers.lock().unwrap();
        if closers.0 {
            closer.close();
        } else {
            closers.1.push(Box::new(move || {
                closer.close();
            }));
        }
        (tx, rx)
    }

    fn close_all(&self) {
        let closers = {
            let mut c = self.closers.lock().unwrap();
            c.0 = true;
            std::mem::take(&mut c.1)
        };
        for close in closers {
            close();
        }
    }
}

/// A channel operation failed: the program is over.
#[derive(Debug)]
struct Stop;

impl From<RecvError> for Stop {
    fn from(_: RecvError) -> Stop {
        Stop
    }
}

impl<T> From<SendError<T>> for Stop {
    fn from(_: SendError<T>) -> Stop {
        Stop
    }
}

fn sieve2_sieve(g: Go, chans: &Chans) -> Receiver<u64> {
    // Return a chan of odd numbers, starting from 5.
    let odds = move |chans: &Chans| {
        let (tx, rx) = chans.make::<u64>(50);
        g.go(move || -> Result<(), Stop> {
            let mut n = 5;
            loop {
                tx.send(n)?;
                n += 2;
            }
        });
        rx
    };
    // Return a chan of odd multiples of the prime number p, starting from
    // p*p.
    let multiples = move |chans: &Chans, p: u64| {
        let (tx, rx) = chans.make::<u64>(10);
        g.go(move || -> Result<(), Stop> {
            let mut n = p * p;
            loop {
                tx.send(n)?;
                n += 2 * p;
            }
        });
        rx
    };
    // A sending proxy to 'out': a goroutine buffers without bound what it
    // receives, so that sending never blocks.
    let sendproxy = move |chans: &Chans, out: Sender<u64>| {
        let (proxy_tx, proxy) = chans.make::<u64>(10);
        let (nil, _nil_rx) = chans.make::<u64>(0);
        g.go(move || -> Result<(), Stop> {
            let _keep = _nil_rx;
            let mut buf = VecDeque::new();
            loop {
                // buffer empty: disable output
                let c = if buf.is_empty() { &nil } else { &out };
                select! {
                    recv(proxy) -> e => buf.push_back(e?),
                    send(c, buf.front().copied().unwrap_or(0)) -> r => {
                        r?;
                        buf.pop_front();
                    }
                }
            }
        });
        proxy_tx
    };

    // The output values.
    let (out, out_rx) = chans.make::<u64>(10);
    out.send(2).unwrap();
    out.send(3).unwrap();
    // The channel of all composites to be eliminated in increasing order.
    let (composites_tx, composites) = chans.make::<u64>(50);
    // The feedback loop.
    let (primes_tx, primes) = chans.make::<u64>(10);
    primes_tx.send(3).unwrap();

    // Merge channels of multiples of 'primes' into 'composites'.
    let c = chans.clone();
    g.go(move || -> Result<(), Stop> {
        let mut h: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut chs: Vec<Receiver<u64>> = Vec::new();
        let mut min = 15;
        loop {
            let m = multiples(&c, primes.recv()?);
            let head = m.recv()?;
            while min < head {
                composites_tx.send(min)?;
                min = pop_push(&mut h, &chs)?;
            }
            while min == head {
                min = pop_push(&mut h, &chs)?;
            }
            composites_tx.send(head)?;
            h.push(Reverse((m.recv()?, chs.len())));
            chs.push(m);
        }
    });

    // Sieve out 'composites' from 'candidates'.
    let c = chans.clone();
    g.go(move || -> Result<(), Stop> {
        let primes = sendproxy(&c, primes_tx);
        let candidates = odds(&c);
        let mut p = candidates.recv()?;
        loop {
            let comp = composites.recv()?;
            while p < comp {
                primes.send(p)?;
                out.send(p)?;
                p = candidates.recv()?;
            }
            if p == comp {
                p = candidates.recv()?;
            }
        }
    });
    out_rx
}

/// Go's `minchan := heap.Pop(&h); min = minchan.head; minchan.head =
/// <-minchan.ch; heap.Push(&h, minchan)`: pops the least head (a value and
/// its channel's index), pushes that channel's next value, returns the
/// popped head.
fn pop_push(h: &mut BinaryHeap<Reverse<(u64, usize)>>, chs: &[Receiver<u64>]) -> Result<u64, Stop> {
    let Reverse((head, i)) = h.pop().expect("a channel in the heap");
    h.push(Reverse((chs[i].recv()?, i)));
    Ok(head)
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/zerosize.go

/// `zerosize.go`: channels of zero-sized types, unbuffered and buffered,
/// are made (and here also used).
#[test]
fn zerosize() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        fn exercise<T: Default + PartialEq + std::fmt::Debug + Send + 'static>(g: Go, cap: usize) {
            let (tx, rx) = bounded::<T>(cap);
            let h = g.go(move || {
                for _ in 0..100 {
                    tx.send(T::default()).unwrap();
                }
            });
            for _ in 0..100 {
                assert_eq!(rx.recv(), Ok(T::default()));
            }
            h.join();
            assert_eq!(rx.recv(), Err(RecvError));
        }
        exercise::<[u8; 0]>(g, 0);
        exercise::<[u8; 0]>(g, 1);
        exercise::<()>(g, 0);
        exercise::<()>(g, 1);
    });
}

// ---------------------------------------------------------------------------
// https://github.com/golang/go/blob/master/test/chan/powser1.go

/// A rational: numerator, denominator; a denominator of 0 ends a series.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rat {
    num: i64,
    den: i64,
}

fn gcd(u: i64, v: i64) -> i64 {
    if u < 0 {
        return gcd(-u, v);
    }
    if u == 0 {
        return v;
    }
    gcd(v % u, u)
}

fn i2tor(u: i64, v: i64) -> Rat {
    let g = gcd(u, v);
    if v > 0 {
        Rat {
            num: u / g,
            den: v / g,
        }
    } else {
        Rat {
            num: -u / g,
            den: -v / g,
        }
    }
}

fn itor(u: i64) -> Rat {
    i2tor(u, 1)
}

const ZERO: Rat = Rat { num: 0, den: 1 };
const ONE: Rat = Rat { num: 1, den: 1 };
const FINIS: Rat = Rat { num: 1, den: 0 };

fn end(u: Rat) -> i64 {
    i64::from(u.den == 0)
}

fn add(u: Rat, v: Rat) -> Rat {
    let g = gcd(u.den, v.den);
    i2tor(
        u.num * (v.den / g) + v.num * (u.den / g),
        u.den * (v.den / g),
    )
}

fn mul(u: Rat, v: Rat) -> Rat {
    let g1 = gcd(u.num, v.den);
    let g2 = gcd(u.den, v.num);
    Rat {
        num: (u.num / g1) * (v.num / g2),
        den: (u.den / g2) * (v.den / g1),
    }
}

fn neg(u: Rat) -> Rat {
    i2tor(-u.num, u.den)
}

/// A demand channel: a request (a sequence number) on `req` is answered
/// with a coefficient on `dat`. Every holder has both ends.
#[derive(Clone)]
struct Dch {
    req_tx: Sender<i64>,
    req: Receiver<i64>,
    dat_tx: Sender<Rat>,
    dat: Receiver<Rat>,
}

/// A pair of demand channels that `dosplit` generations swap, as Go's
/// `*dch2`.
type Dch2 = Arc<Mutex<[Dch; 2]>>;

/// What every goroutine of a power-series run shares: `go`, the channels
/// (all closed at the end) and Go's global `seqno`.
#[derive(Clone)]
struct Ps {
    g: Go,
    chans: Chans,
    seqno: Arc<AtomicI64>,
}

type R<T> = Result<T, Stop>;

impl Ps {
    fn go(&self, f: impl FnOnce(Ps) -> R<()> + Send + 'static) {
        let ps = self.clone();
        self.g.go(move || {
            let _ = f(ps);
        });
    }

    fn seq(&self) -> i64 {
        self.seqno.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn mkdch(&self) -> Dch {
        let (req_tx, req) = self.chans.make(0);
        let (dat_tx, dat) = self.chans.make(0);
        Dch {
            req_tx,
            req,
            dat_tx,
            dat,
        }
    }

    fn mkdch2(&self) -> Dch2 {
        Arc::new(Mutex::new([self.mkdch(), self.mkdch()]))
    }

    /// `split` reads a single demand channel and replicates its output onto
    /// two, which may be read at different rates (see Go's comment: the
    /// newest generation serves `out[0]`, the oldest `out[1]`).
    fn dosplit(&self, input: Dch, out: Dch2, wait: Receiver<i64>) -> R<()> {
        let get = |i: usize| out.lock().unwrap()[i].clone();
        let mut both = false; // do not service both channels
        let (o0, o1) = (get(0), get(1));
        select! {
            recv(o0.req) -> r => { r?; }
            recv(wait) -> r => {
                r?;
                both = true;
                select! {
                    recv(o0.req) -> r => { r?; }
                    recv(o1.req) -> r => {
                        r?;
                        out.lock().unwrap().swap(0, 1);
                    }
                }
            }
        }
        input.req_tx.send(self.seq())?;
        let (release_tx, release) = self.chans.make(0);
        let (i2, o2) = (input.clone(), out.clone());
        self.go(move |ps| ps.dosplit(i2, o2, release));
        let dat = input.dat.recv()?;
        get(0).dat_tx.send(dat)?;
        if !both {
            wait.recv()?;
        }
        get(1).req.recv()?;
        get(1).dat_tx.send(dat)?;
        release_tx.send(0)?;
        Ok(())
    }

    fn split(&self, input: Dch, out: Dch2) -> R<()> {
        let (release_tx, release) = self.chans.make(0);
        self.go(move |ps| ps.dosplit(input, out, release));
        release_tx.send(0)?;
        Ok(())
    }

    fn put(&self, dat: Rat, out: &Dch) -> R<()> {
        out.req.recv()?;
        out.dat_tx.send(dat)?;
        Ok(())
    }

    fn get(&self, input: &Dch) -> R<Rat> {
        input.req_tx.send(self.seq())?;
        Ok(input.dat.recv()?)
    }

    /// Gets one rat from each of two demand channels, in whichever order
    /// they answer (a select over both requests, then both data, with nil
    /// channels for the steps done or not yet possible).
    fn get2(&self, in0: &Dch, in1: &Dch) -> R<[Rat; 2]> {
        let (nil_req, _nil_req_rx) = bounded::<i64>(0);
        let nil_dat = never::<Rat>();
        let mut req = [&in0.req_tx, &in1.req_tx];
        let mut dat = [&nil_dat, &nil_dat];
        let mut out = [ZERO; 2];
        for _ in 0..4 {
            let seqno = self.seq();
            let step = select! {
                send(req[0], seqno) -> r => { r?; 0 }
                send(req[1], seqno) -> r => { r?; 1 }
                recv(dat[0]) -> it => { out[0] = it?; 2 }
                recv(dat[1]) -> it => { out[1] = it?; 3 }
            };
            match step {
                0 => (dat[0], req[0]) = (&in0.dat, &nil_req),
                1 => (dat[1], req[1]) = (&in1.dat, &nil_req),
                k => dat[k - 2] = &nil_dat,
            }
        }
        Ok(out)
    }

    fn copy(&self, input: &Dch, out: &Dch) -> R<()> {
        loop {
            out.req.recv()?;
            out.dat_tx.send(self.get(input)?)?;
        }
    }

    fn split_new(&self, u: Dch) -> R<Dch2> {
        let uu = self.mkdch2();
        let o = uu.clone();
        self.go(move |ps| ps.split(u, o));
        Ok(uu)
    }

    fn add_ps(&self, u: Dch, v: Dch) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            loop {
                zz.req.recv()?;
                let uv = ps.get2(&u, &v)?;
                match end(uv[0]) + 2 * end(uv[1]) {
                    0 => zz.dat_tx.send(add(uv[0], uv[1]))?,
                    1 => {
                        zz.dat_tx.send(uv[1])?;
                        ps.copy(&v, &zz)?;
                    }
                    2 => {
                        zz.dat_tx.send(uv[0])?;
                        ps.copy(&u, &zz)?;
                    }
                    _ => zz.dat_tx.send(FINIS)?,
                }
            }
        });
        z
    }

    fn cmul(&self, c: Rat, u: Dch) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            loop {
                zz.req.recv()?;
                let u = ps.get(&u)?;
                if end(u) != 0 {
                    break;
                }
                zz.dat_tx.send(mul(c, u))?;
            }
            zz.dat_tx.send(FINIS)?;
            Ok(())
        });
        z
    }

    fn sub(&self, u: Dch, v: Dch) -> Dch {
        let m = self.cmul(neg(ONE), v);
        self.add_ps(u, m)
    }

    fn rep(&self, c: Rat) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            loop {
                ps.put(c, &zz)?;
            }
        });
        z
    }

    /// Multiply: U = u + x*UU, V = v + x*VV, UV = u*v + x*(u*VV+v*UU) +
    /// x*x*UU*VV.
    fn mul_ps(&self, u: Dch, v: Dch) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            zz.req.recv()?;
            let uv = ps.get2(&u, &v)?;
            if end(uv[0]) != 0 || end(uv[1]) != 0 {
                zz.dat_tx.send(FINIS)?;
                return Ok(());
            }
            zz.dat_tx.send(mul(uv[0], uv[1]))?;
            let uu = ps.split_new(u)?;
            let vv = ps.split_new(v)?;
            let vv0 = vv.lock().unwrap()[0].clone();
            let uu0 = uu.lock().unwrap()[0].clone();
            let w = ps.add_ps(ps.cmul(uv[0], vv0), ps.cmul(uv[1], uu0));
            zz.req.recv()?;
            zz.dat_tx.send(ps.get(&w)?)?;
            let uu1 = uu.lock().unwrap()[1].clone();
            let vv1 = vv.lock().unwrap()[1].clone();
            let rest = ps.add_ps(w, ps.mul_ps(uu1, vv1));
            ps.copy(&rest, &zz)
        });
        z
    }

    fn diff(&self, u: Dch) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            zz.req.recv()?;
            let mut x = ps.get(&u)?;
            if end(x) == 0 {
                for i in 1.. {
                    x = ps.get(&u)?;
                    if end(x) != 0 {
                        break;
                    }
                    zz.dat_tx.send(mul(itor(i), x))?;
                    zz.req.recv()?;
                }
            }
            zz.dat_tx.send(FINIS)?;
            Ok(())
        });
        z
    }

    /// Integrate, with const of integration.
    fn integ(&self, c: Rat, u: Dch) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            ps.put(c, &zz)?;
            for i in 1.. {
                zz.req.recv()?;
                let x = ps.get(&u)?;
                zz.dat_tx.send(mul(i2tor(1, i), x))?;
                if end(x) != 0 {
                    break;
                }
            }
            zz.dat_tx.send(FINIS)?;
            Ok(())
        });
        z
    }

    /// Exponential of a power series with constant term 0: Z = exp(U),
    /// DZ = Z*DU, integrated.
    fn exp(&self, u: Dch) -> R<Dch> {
        let zz = self.mkdch2();
        let zz0 = zz.lock().unwrap()[0].clone();
        let d = self.diff(u);
        let m = self.mul_ps(zz0, d);
        let i = self.integ(ONE, m);
        self.split(i, zz.clone())?;
        let zz1 = zz.lock().unwrap()[1].clone();
        Ok(zz1)
    }

    /// Monomial substitution U(c x^n): each Ui is multiplied by c^i and
    /// followed by n-1 zeros.
    fn mon_subst(&self, u: Dch, c0: Rat, n: usize) -> Dch {
        let z = self.mkdch();
        let zz = z.clone();
        self.go(move |ps| {
            let mut c = ONE;
            loop {
                zz.req.recv()?;
                let x = ps.get(&u)?;
                zz.dat_tx.send(mul(x, c))?;
                c = mul(c, c0);
                if end(x) != 0 {
                    zz.dat_tx.send(FINIS)?;
                    return Ok(());
                }
                for _ in 1..n {
                    zz.req.recv()?;
                    zz.dat_tx.send(ZERO)?;
                }
            }
        });
        z
    }

    fn check(&self, u: &Dch, c: Rat, count: usize, what: &str) -> R<()> {
        for _ in 0..count {
            let r = self.get(u)?;
            assert_eq!(r, c, "{what}");
        }
        Ok(())
    }

    fn checka(&self, u: &Dch, a: &[Rat], what: &str) -> R<()> {
        for &c in a {
            self.check(u, c, 1, what)?;
        }
        Ok(())
    }
}

/// `powser1.go`: McIlroy's power series over demand channels (Go's `main`
/// in test mode): sums, products, derivatives, integrals, the exponential
/// and a monomial substitution, each checked over ten terms. A goroutine
/// per operator and per split generation; selects with nil channels in
/// `getn`. Every channel is closed at the end to stop the generators.
#[test]
fn powser1() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const N: usize = 10;
        let ps = Ps {
            g,
            chans: Chans::default(),
            seqno: Arc::new(AtomicI64::new(0)),
        };
        let run = || -> R<()> {
            let ones = ps.rep(ONE);
            let twos = ps.rep(itor(2));
            ps.check(&ones, ONE, 5, "Ones")?;
            ps.check(
                &ps.add_ps(ones.clone(), ones.clone()),
                itor(2),
                0,
                "Add Ones Ones",
            )?;
            ps.check(
                &ps.add_ps(ones.clone(), twos.clone()),
                itor(3),
                0,
                "Add Ones Twos",
            )?;
            let mut a = [ZERO; N];
            let d = ps.diff(ones.clone());
            for (i, a) in a.iter_mut().enumerate() {
                *a = itor(i as i64 + 1);
            }
            ps.checka(&d, &a, "Diff")?; // 1 2 3 4 5
            let inte = ps.integ(ZERO, ones.clone());
            a[0] = ZERO; // integration constant
            for (i, a) in a.iter_mut().enumerate().skip(1) {
                *a = i2tor(1, i as i64);
            }
            ps.checka(&inte, &a, "Integ")?; // 0 1 1/2 1/3 1/4 1/5
            ps.check(&ps.cmul(neg(ONE), twos.clone()), itor(-2), 10, "CMul")?;
            ps.check(
                &ps.sub(ones.clone(), twos.clone()),
                itor(-1),
                0,
                "Sub Ones Twos",
            )?;
            let m = ps.mul_ps(ones.clone(), ones.clone());
            for (i, a) in a.iter_mut().enumerate() {
                *a = itor(i as i64 + 1);
            }
            ps.checka(&m, &a, "Mul")?; // 1 2 3 4 5
            let e = ps.exp(ones.clone())?;
            let want = [
                itor(1),
                itor(1),
                i2tor(3, 2),
                i2tor(13, 6),
                i2tor(73, 24),
                i2tor(167, 40),
                i2tor(4051, 720),
                i2tor(37633, 5040),
                i2tor(43817, 4480),
                i2tor(4_596_553, 362_880),
            ];
            ps.checka(&e, &want, "Exp")?; // 1 1 3/2 13/6 73/24
            let at = ps.integ(ZERO, ps.mon_subst(ones, neg(ONE), 2));
            let mut c = 1;
            for (i, a) in a.iter_mut().enumerate() {
                if i % 2 == 0 {
                    *a = ZERO;
                } else {
                    *a = i2tor(c, i as i64);
                    c *= -1;
                }
            }
            ps.checka(&at, &a, "ATan")?; // 0 -1 0 -1/3 0 -1/5
            Ok(())
        };
        run().expect("no channel closed while checking");
        ps.chans.close_all();
    });
}
