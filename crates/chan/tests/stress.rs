//! Many goroutines and threads sending, receiving, selecting and closing at
//! once: every value that a send reports as sent is received exactly once.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use goro_chan::{Receiver, Sender, bounded, never, select, unbounded};

/// Sums and counts of values, to compare sent against received.
#[derive(Default)]
struct Tally {
    count: AtomicU64,
    sum: AtomicU64,
}

impl Tally {
    fn add(&self, v: u64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, u64) {
        (
            self.count.load(Ordering::SeqCst),
            self.sum.load(Ordering::SeqCst),
        )
    }
}

#[test]
fn sends_receives_selects_and_closes_at_once() {
    let _rt = crate::mode::enter();
    for round in 0..4 {
        let rt = mode::builder().workers(2).build().unwrap();
        let sent = Arc::new(Tally::default());
        let received = Arc::new(Tally::default());
        // Four channels of different kinds.
        let chans: Vec<(Sender<u64>, Receiver<u64>)> =
            vec![bounded(0), bounded(1), bounded(64), unbounded()];
        let mut joins: Vec<Box<dyn FnOnce()>> = Vec::new();

        // Producers: goroutines and threads, plain sends and select sends.
        for p in 0..8u64 {
            let txs: Vec<Sender<u64>> = chans.iter().map(|(tx, _)| tx.clone()).collect();
            let sent = sent.clone();
            let work = move || {
                for i in 0..2_000u64 {
                    let v = p * 1_000_000 + i + 1;
                    let ok = if i % 3 == 0 {
                        select! {
                            send(txs[0], v) -> r => r.is_ok(),
                            send(txs[1], v) -> r => r.is_ok(),
                            send(txs[2], v) -> r => r.is_ok(),
                        }
                    } else {
                        txs[(i % 4) as usize].send(v).is_ok()
                    };
                    if ok {
                        sent.add(v);
                    }
                }
            };
            joins.push(if p % 2 == 0 {
                let h = rt.go(work);
                Box::new(move || h.join().unwrap())
            } else {
                let h = thread::spawn(work);
                Box::new(move || h.join().unwrap())
            });
        }
        // Consumers: goroutines and threads, plain receives and selects.
        let mut consumers: Vec<Box<dyn FnOnce()>> = Vec::new();
        for c in 0..6 {
            let rxs: Vec<Receiver<u64>> = chans.iter().map(|(_, rx)| rx.clone()).collect();
            let received = received.clone();
            let work = move || {
                let mut open = [true; 4];
                // A closed channel is always ready: select on `never()` in its
                // place, as Go code sets a closed channel variable to nil.
                let nil = never::<u64>();
                let arm = |open: &[bool; 4], k: usize| if open[k] { &rxs[k] } else { &nil };
                while open.iter().any(|o| *o) {
                    if c % 2 == 0 {
                        select! {
                            recv(arm(&open, 0)) -> v => match v {
                                Ok(v) => received.add(v),
                                Err(_) => open[0] = false,
                            },
                            recv(arm(&open, 1)) -> v => match v {
                                Ok(v) => received.add(v),
                                Err(_) => open[1] = false,
                            },
                            recv(arm(&open, 2)) -> v => match v {
                                Ok(v) => received.add(v),
                                Err(_) => open[2] = false,
                            },
                            recv(arm(&open, 3)) -> v => match v {
                                Ok(v) => received.add(v),
                                Err(_) => open[3] = false,
                            },
                        }
                    } else {
                        for (k, rx) in rxs.iter().enumerate() {
                            if !open[k] {
                                continue;
                            }
                            match rx.try_recv() {
                                Ok(v) => received.add(v),
                                Err(e) if e.is_closed() => open[k] = false,
                                Err(_) => {}
                            }
                        }
                        goro_sched::yield_now();
                    }
                }
            };
            consumers.push(if c < 3 {
                let h = rt.go(work);
                Box::new(move || h.join().unwrap())
            } else {
                let h = thread::spawn(work);
                Box::new(move || h.join().unwrap())
            });
        }
        // A closer: closes one channel while everything runs (round-dependent).
        let closer_tx = chans[round % 4].0.clone();
        let closer = rt.go(move || {
            goro_sched::sleep(std::time::Duration::from_millis(2));
            closer_tx.close();
        });
        for j in joins {
            j();
        }
        closer.join().unwrap();
        // Close the rest; consumers drain and stop.
        for (tx, _) in &chans {
            tx.close();
        }
        drop(chans);
        for c in consumers {
            c();
        }
        assert_eq!(
            received.get(),
            sent.get(),
            "round {round}: lost or duplicated values"
        );
        assert!(sent.get().0 > 0);
    }
}

#[test]
fn hand_offs_during_ping_pong_lose_nothing() {
    let _rt = crate::mode::enter();
    // The pinger sends (its partner goes to the worker's `next` slot) and
    // now and then spins for longer than sysmon's 10 ms: sysmon then takes
    // `next` from under the running worker (`steal_next`) while the worker
    // keeps readying goroutines. Every value must arrive exactly once.
    const PAIRS: u64 = 4;
    const ROUNDS: u64 = 400;
    let rt = mode::builder().workers(2).build().unwrap();
    let handles: Vec<_> = (0..PAIRS)
        .map(|p| {
            let (ping_tx, ping_rx) = bounded::<u64>(0);
            let (pong_tx, pong_rx) = bounded::<u64>(0);
            let ponger = rt.go(move || {
                let mut sum = 0;
                for v in &ping_rx {
                    sum += v;
                    pong_tx.send(v + 1).unwrap();
                }
                sum
            });
            rt.go(move || {
                let mut sum = 0;
                for i in 0..ROUNDS {
                    ping_tx.send(p * 1_000_000 + i).unwrap();
                    if i % 50 == 7 {
                        let until =
                            std::time::Instant::now() + std::time::Duration::from_millis(12);
                        while std::time::Instant::now() < until {
                            std::hint::spin_loop();
                        }
                    }
                    sum += pong_rx.recv().unwrap();
                }
                drop(ping_tx);
                (sum, ponger.join().unwrap())
            })
        })
        .collect();
    for (p, h) in handles.into_iter().enumerate() {
        let p = p as u64;
        let sent: u64 = (0..ROUNDS).map(|i| p * 1_000_000 + i).sum();
        assert_eq!(h.join().unwrap(), (sent + ROUNDS, sent));
    }
    assert!(
        rt.stats().handoffs > 0,
        "no hand-off happened: the test tested nothing"
    );
}

/// Four senders and four receivers (half goroutines, half threads) on one
/// channel, each giving up after a few microseconds, so that many give up
/// at the very moment a partner (or a wake-up) comes for them. Returns what
/// the sends reported sent and what the receives got.
fn race_with_timeouts(tx: Sender<u64>, rx: &Receiver<u64>) -> (Arc<Tally>, Arc<Tally>) {
    use std::time::Duration;
    let rt = mode::builder().workers(2).build().unwrap();
    let sent = Arc::new(Tally::default());
    let got = Arc::new(Tally::default());
    const PER: u64 = 3_000;
    let (mut goroutines, mut threads) = (Vec::new(), Vec::new());
    for p in 0..4u64 {
        let (tx, sent) = (tx.clone(), sent.clone());
        let send = move || {
            for i in 0..PER {
                let v = p * PER + i + 1;
                if tx.send_timeout(v, Duration::from_micros(i % 7)).is_ok() {
                    sent.add(v);
                }
            }
        };
        let (rx, got) = (rx.clone(), got.clone());
        let recv = move || {
            for i in 0..PER {
                if let Ok(v) = rx.recv_timeout(Duration::from_micros(i % 5)) {
                    got.add(v);
                }
            }
        };
        if p % 2 == 0 {
            goroutines.push(rt.go(send));
            goroutines.push(rt.go(recv));
        } else {
            threads.push(thread::spawn(send));
            threads.push(thread::spawn(recv));
        }
    }
    for h in goroutines {
        h.join().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    (sent, got)
}

#[test]
fn timeouts_racing_hand_offs_lose_and_duplicate_nothing() {
    let _rt = crate::mode::enter();
    // Unbuffered: a send that timed out keeps its value (it must not also
    // be received), and a receive that timed out took nothing.
    let (tx, rx) = bounded::<u64>(0);
    let (sent, got) = race_with_timeouts(tx, &rx);
    assert_eq!(rx.try_recv().ok(), None, "nothing left behind");
    assert_eq!(got.get(), sent.get(), "received exactly what was sent");
    assert!(sent.get().0 > 0, "some hand-offs happened");
}

#[test]
fn small_rings_with_timeouts_lose_and_duplicate_nothing() {
    let _rt = crate::mode::enter();
    // Buffered channels of one and two slots, where nearly every send and
    // receive waits. A send that timed out keeps its value; what was sent
    // is received once, or is still buffered at the end.
    for cap in [1, 2] {
        let (tx, rx) = bounded::<u64>(cap);
        let (sent, got) = race_with_timeouts(tx, &rx);
        while let Ok(v) = rx.try_recv() {
            got.add(v);
        }
        assert_eq!(got.get(), sent.get(), "cap {cap}: received what was sent");
        assert!(sent.get().0 > 0, "some values went through");
    }
}

/// Four senders and four receivers (plain receives and selects mixed) on
/// rings of one and two slots, where nearly every operation waits: each
/// receiver sees each sender's values in the order sent, and every value
/// arrives once. (Written for a hand-off of values to waiting receivers,
/// past the ring: without a check that the ring is empty, a value handed
/// over overtook one of the same sender still in the ring, and this
/// failed at once.)
#[test]
fn values_handed_to_waiting_receivers_keep_each_senders_order() {
    let _rt = crate::mode::enter();
    const SENDERS: u64 = 4;
    const RECEIVERS: usize = 4;
    const PER: u64 = 20_000;
    for cap in [1, 2] {
        let rt = mode::builder().workers(2).build().unwrap();
        let (tx, rx) = bounded::<(u64, u64)>(cap);
        let received = Arc::new(Tally::default());
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|r| {
                let (rx, received) = (rx.clone(), received.clone());
                rt.go(move || {
                    let mut last = [None::<u64>; SENDERS as usize];
                    let (_keep, quiet) = bounded::<(u64, u64)>(0);
                    loop {
                        // Half of them wait in a select now and then (woken
                        // to look, never handed a value).
                        let got = if r % 2 == 1 {
                            select! {
                                recv(rx) -> v => v,
                                recv(quiet) -> v => v,
                            }
                        } else {
                            rx.recv()
                        };
                        let Ok((sender, seq)) = got else { break };
                        let slot = &mut last[sender as usize];
                        assert!(
                            slot.is_none_or(|l| l < seq),
                            "cap {cap}: sender {sender}'s {seq} after {slot:?}"
                        );
                        *slot = Some(seq);
                        received.add(sender * PER + seq);
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let tx = tx.clone();
                rt.go(move || {
                    for seq in 0..PER {
                        tx.send((s, seq)).unwrap();
                    }
                })
            })
            .collect();
        drop((tx, rx));
        for h in senders {
            h.join().unwrap();
        }
        for h in receivers {
            h.join().unwrap();
        }
        let n = SENDERS * PER;
        assert_eq!(received.get(), (n, n * (n - 1) / 2), "cap {cap}");
    }
}

#[test]
fn selects_woken_on_rings_lose_no_wake_up() {
    let _rt = crate::mode::enter();
    // Movers pass values from ring `a` to ring `b` (one slot each), with a
    // select over a receive from `a` and a send to `b` whenever they hold
    // something, and a plain receive when they hold nothing. So selects
    // and plain operations wait on both ends of both rings, and a wake-up
    // is meant for one operation of a select: if the select let it go to
    // waste while another waiter slept, the test would hang. Every value
    // fed into `a` comes out of `b` exactly once.
    const PER: u64 = 5_000;
    let rt = mode::builder().workers(2).build().unwrap();
    let (a_tx, a_rx) = bounded::<u64>(1);
    let (b_tx, b_rx) = bounded::<u64>(1);
    let movers: Vec<_> = (0..3)
        .map(|_| {
            let (a_rx, b_tx) = (a_rx.clone(), b_tx.clone());
            rt.go(move || {
                let mut held: Vec<u64> = Vec::new();
                loop {
                    let Some(&out) = held.last() else {
                        match a_rx.recv() {
                            Ok(v) => held.push(v),
                            Err(_) => break,
                        }
                        continue;
                    };
                    select! {
                        recv(a_rx) -> v => match v {
                            Ok(v) => held.push(v),
                            Err(_) => break,
                        },
                        send(b_tx, out) -> r => {
                            r.unwrap();
                            held.pop();
                        },
                    }
                }
                for v in held {
                    b_tx.send(v).unwrap();
                }
            })
        })
        .collect();
    drop((a_rx, b_tx));
    let received = Arc::new(Tally::default());
    let drains: Vec<_> = (0..2)
        .map(|_| {
            let (b_rx, received) = (b_rx.clone(), received.clone());
            thread::spawn(move || {
                for v in &b_rx {
                    received.add(v);
                }
            })
        })
        .collect();
    drop(b_rx);
    let fed = Arc::new(Tally::default());
    let feeders: Vec<_> = (0..2u64)
        .map(|f| {
            let (a_tx, fed) = (a_tx.clone(), fed.clone());
            let feed = move || {
                for i in 0..PER {
                    let v = 1_000_000 * (f + 1) + i;
                    a_tx.send(v).unwrap();
                    fed.add(v);
                }
            };
            if f == 0 {
                let h = rt.go(feed);
                Box::new(move || h.join().unwrap()) as Box<dyn FnOnce()>
            } else {
                let h = thread::spawn(feed);
                Box::new(move || h.join().unwrap())
            }
        })
        .collect();
    drop(a_tx);
    for f in feeders {
        f();
    }
    for m in movers {
        m.join().unwrap();
    }
    for d in drains {
        d.join().unwrap();
    }
    assert_eq!(received.get(), fed.get(), "every value came out of b once");
    assert_eq!(fed.get().0, 2 * PER);
}

#[test]
fn an_abandoned_select_send_leaves_the_ring_usable() {
    let _rt = crate::mode::enter();
    // A chosen send dropped without its value (here, by a panic between
    // the choice and the send) leaves a hole that receivers skip. (Until
    // one does, the hole takes its slot's room.)
    let (tx, rx) = bounded::<u32>(2);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sel = goro_chan::Select::new();
        sel.send(&tx);
        let _op = sel.select();
        panic!("between choice and send");
    }));
    assert!(caught.is_err());
    tx.send(1).unwrap();
    assert_eq!(rx.recv(), Ok(1));
    assert!(rx.try_recv().is_err());
    // The room is back, all of it.
    tx.send(2).unwrap();
    tx.send(3).unwrap();
    assert_eq!(rx.iter().take(2).collect::<Vec<_>>(), [2, 3]);
}

/// Runs `f` on a thread and fails, instead of hanging, if it takes more
/// than (a generous) 20 s.
fn within_20s<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("hung")
}

#[test]
fn a_held_select_send_makes_a_full_ring_refuse_not_spin() {
    let _rt = crate::mode::enter();
    // The only slot is taken by a chosen select send not yet completed: to
    // another send the ring is full (it must not spin on the slot).
    let (tx, rx) = bounded::<u32>(1);
    within_20s(move || {
        let mut sel = goro_chan::Select::new();
        sel.send(&tx);
        let op = sel.select();
        assert_eq!(
            tx.try_send(2),
            Err(goro_chan::TrySendError::Full(2)),
            "full while the slot is held"
        );
        assert!(
            rx.try_recv().is_err(),
            "nothing to receive yet, and no wait"
        );
        op.send(&tx, 1).unwrap();
        assert_eq!(rx.recv(), Ok(1));
        tx.send(3).unwrap();
        assert_eq!(rx.recv(), Ok(3));
    });
}

#[test]
fn an_abandoned_select_send_wakes_a_parked_receiver_to_skip_it() {
    let _rt = crate::mode::enter();
    // A receiver parks on an empty one-slot ring; a select's send takes the
    // slot and is abandoned (a panic between choice and send). The receiver
    // must be woken to skip the hole, or the next send finds the ring full
    // and both wait for good.
    within_20s(|| {
        let (tx, rx) = bounded::<u32>(1);
        let receiver = thread::spawn(move || rx.recv());
        // Let it park (if it has not, it finds the hole or the value: the
        // test passes either way, only a lost wake-up fails it).
        thread::sleep(std::time::Duration::from_millis(20));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut sel = goro_chan::Select::new();
            sel.send(&tx);
            let _op = sel.select();
            panic!("between choice and send");
        }));
        assert!(caught.is_err());
        tx.send(7).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
}
