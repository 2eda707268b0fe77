//! `select!` and `Select`: readiness, fairness, defaults, timeouts, closed
//! channels, exactly-one semantics, and withdrawn registrations.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{
    Receiver, RecvError, RecvTimeoutError, Select, SendError, SendTimeoutError, Sender,
    TryRecvError, TrySendError, bounded, never, select, time, unbounded,
};
use goro_sched::go;

#[test]
fn picks_the_ready_arm() {
    let _rt = crate::mode::enter();
    let (tx1, rx1) = bounded::<i32>(1);
    let (tx2, rx2) = bounded::<i32>(1);
    tx2.send(2).unwrap();
    let got = select! {
        recv(rx1) -> v => v.unwrap() * 10,
        recv(rx2) -> v => v.unwrap() * 100,
    };
    assert_eq!(got, 200);
    drop(tx1);
}

#[test]
fn among_ready_arms_each_is_equally_likely() {
    let _rt = crate::mode::enter();
    let (tx1, rx1) = unbounded::<()>();
    let (tx2, rx2) = unbounded::<()>();
    const ROUNDS: usize = 100_000;
    let mut first = 0;
    for _ in 0..ROUNDS {
        tx1.send(()).unwrap();
        tx2.send(()).unwrap();
        select! {
            recv(rx1) -> _ => first += 1,
            recv(rx2) -> _ => {}
        }
        // Put the pair back in balance: drain whichever was not chosen.
        let _ = rx1.try_recv();
        let _ = rx2.try_recv();
    }
    let share = first as f64 / ROUNDS as f64;
    assert!(
        (0.45..=0.55).contains(&share),
        "first arm chosen {share:.3} of the time"
    );
}

/// A select that finds an arm ready time after time tries one drawn arm
/// first (`Select::try_all`): the choice must stay uniform among the ready
/// arms, whether the drawn one was ready or not. Three of four buffered
/// channels hold values (the fourth, empty, is drawn a quarter of the
/// time), and nothing else runs a select in between: each of the three is
/// chosen a third of the time (within 5 sigma), the empty one never; and
/// the same once the arms are added in another order.
#[test]
fn a_select_that_keeps_finding_arms_ready_chooses_uniformly() {
    let _rt = crate::mode::enter();
    const ROUNDS: usize = 60_000;
    for empty in [0, 3] {
        let chans: Vec<(Sender<usize>, Receiver<usize>)> = (0..4).map(|_| unbounded()).collect();
        for (i, (tx, _)) in chans.iter().enumerate() {
            if i != empty {
                for _ in 0..ROUNDS {
                    tx.send(i).unwrap();
                }
            }
        }
        let mut counts = [0usize; 4];
        for _ in 0..ROUNDS {
            let mut sel = Select::new();
            for (_, rx) in &chans {
                sel.recv(rx);
            }
            let op = sel.select();
            let i = op.index();
            assert_eq!(op.recv(&chans[i].1), Ok(i));
            counts[i] += 1;
        }
        assert_eq!(counts[empty], 0, "{counts:?}");
        let mean = ROUNDS as f64 / 3.0;
        let sigma = (ROUNDS as f64 * (1.0 / 3.0) * (2.0 / 3.0)).sqrt();
        for (i, &c) in counts.iter().enumerate().filter(|&(i, _)| i != empty) {
            assert!(
                (c as f64 - mean).abs() <= 5.0 * sigma,
                "arm {i} chosen {c} times of {ROUNDS} (expected {mean:.0}): {counts:?}"
            );
        }
        assert_eq!(counts.iter().sum::<usize>(), ROUNDS);
    }
}

#[test]
fn default_runs_when_nothing_is_ready() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    let v = select! {
        recv(rx) -> _ => 1,
        default => 2,
    };
    assert_eq!(v, 2);
    let start = Instant::now();
    let v = select! {
        recv(rx) -> _ => 1,
        default(Duration::from_millis(20)) => 3,
    };
    assert_eq!(v, 3);
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(
        rx.__waiting(),
        (0, 0),
        "the timed-out registration is withdrawn"
    );
    drop(tx);
}

#[test]
fn a_closed_channel_is_always_ready() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    tx.close();
    let r = select! {
        recv(rx) -> v => v,
        recv(never::<i32>()) -> v => v,
    };
    assert_eq!(r, Err(RecvError));
    let (tx, rx) = bounded::<i32>(0);
    drop(rx);
    let r = select! {
        send(tx, 5) -> res => res,
        recv(never::<i32>()) -> _ => Ok(()),
    };
    assert_eq!(r, Err(SendError(5)));
}

#[test]
fn a_send_arm_not_chosen_sends_and_evaluates_nothing() {
    let _rt = crate::mode::enter();
    let (tx1, rx1) = bounded::<i32>(1);
    let (tx2, _rx2) = bounded::<i32>(0); // never ready: nobody receives
    let evaluated = AtomicUsize::new(0);
    let value = |v| {
        evaluated.fetch_add(1, Ordering::SeqCst);
        v
    };
    select! {
        send(tx1, value(1)) -> r => r.unwrap(),
        send(tx2, value(2)) -> r => r.unwrap(),
    }
    assert_eq!(evaluated.load(Ordering::SeqCst), 1);
    assert_eq!(rx1.try_recv(), Ok(1));
    assert_eq!(tx2.len(), 0);
}

#[test]
fn break_and_continue_reach_the_enclosing_loop() {
    let _rt = crate::mode::enter();
    let (tx, rx) = unbounded::<i32>();
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let mut odd = 0;
    loop {
        select! {
            recv(rx) -> v => match v {
                Ok(v) if v % 2 == 0 => continue,
                Ok(v) => odd += v,
                Err(_) => break,
            },
        }
    }
    assert_eq!(odd, 25);
}

#[test]
fn temporaries_are_borrowed_for_the_select() {
    let _rt = crate::mode::enter();
    let start = Instant::now();
    let fired = select! {
        recv(time::after(Duration::from_millis(10))) -> t => t.is_ok(),
        recv(never::<()>()) -> _ => false,
    };
    assert!(fired);
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn a_blocked_select_is_completed_by_a_sender_and_a_receiver() {
    let _rt = crate::mode::enter();
    // Receive side: a goroutine blocks in select over two channels.
    let (tx1, rx1) = bounded::<i32>(0);
    let (_tx2, rx2) = bounded::<i32>(0);
    let h = go(move || {
        select! {
            recv(rx1) -> v => v.unwrap(),
            recv(rx2) -> v => -v.unwrap(),
        }
    });
    tx1.send(42).unwrap();
    assert_eq!(h.join().unwrap(), 42);
    // Send side: a goroutine blocks in select with a send arm on an
    // unbuffered channel; a plain receive takes the value.
    let (tx, rx) = bounded::<String>(0);
    let (_keep, idle) = bounded::<()>(0);
    let h = go(move || {
        select! {
            send(tx, String::from("hello")) -> r => r.is_ok(),
            recv(idle) -> _ => false,
        }
    });
    assert_eq!(rx.recv().unwrap(), "hello");
    assert!(h.join().unwrap());
}

#[test]
fn two_selects_meet() {
    let _rt = crate::mode::enter();
    // One select sends, the other receives, on the same unbuffered channel.
    for _ in 0..1000 {
        let (tx, rx) = bounded::<u32>(0);
        let (_a, idle_a) = bounded::<u32>(0);
        let (_b, idle_b) = bounded::<u32>(0);
        let sender = go(move || {
            select! {
                send(tx, 7) -> r => r.is_ok(),
                recv(idle_a) -> _ => false,
            }
        });
        let receiver = go(move || {
            select! {
                recv(rx) -> v => v.unwrap(),
                recv(idle_b) -> _ => 0,
            }
        });
        assert!(sender.join().unwrap());
        assert_eq!(receiver.join().unwrap(), 7);
    }
}

#[test]
fn dynamic_select() {
    let _rt = crate::mode::enter();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..8).map(|_| bounded::<usize>(1)).unzip();
    txs[5].send(55).unwrap();
    let mut sel = Select::new();
    for rx in &rxs {
        sel.recv(rx);
    }
    let op = sel.select();
    let i = op.index();
    assert_eq!(i, 5);
    assert_eq!(op.recv(&rxs[i]), Ok(55));
    let mut sel = Select::new();
    for rx in &rxs {
        sel.recv(rx);
    }
    assert!(sel.try_select().is_err());
    assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
    // Sends, chosen and completed.
    let mut sel = Select::new();
    let idx: Vec<usize> = txs.iter().map(|tx| sel.send(tx)).collect();
    let op = sel.select();
    let i = op.index();
    op.send(&txs[idx[i]], 99).unwrap();
    assert_eq!(rxs[i].try_recv(), Ok(99));
}

#[test]
#[should_panic(expected = "without completing it")]
fn a_selected_operation_must_be_completed() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    drop(op);
}

#[test]
fn ten_thousand_selects_are_each_woken_once_and_leave_nothing_behind() {
    let _rt = crate::mode::enter();
    let rt = mode::builder().workers(2).build().unwrap();
    let (shared_tx, shared_rx) = bounded::<u32>(0);
    let wakeups = Arc::new(AtomicUsize::new(0));
    let mut own = Vec::new();
    let handles: Vec<_> = (0..10_000)
        .map(|_| {
            let (tx, rx) = bounded::<u32>(0);
            own.push(tx);
            let shared_rx = shared_rx.clone();
            let wakeups = wakeups.clone();
            rt.go(move || {
                let which = select! {
                    recv(rx) -> v => v.map(|_| 0),
                    recv(shared_rx) -> v => v.map(|_| 1),
                };
                wakeups.fetch_add(1, Ordering::SeqCst);
                which
            })
        })
        .collect();
    while shared_rx.__waiting().0 < 10_000 {
        thread::yield_now();
    }
    // Half are woken by their own channel, the rest by closing the shared one.
    for tx in own.iter().step_by(2) {
        tx.send(1).unwrap();
    }
    shared_tx.close();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(wakeups.load(Ordering::SeqCst), 10_000);
    assert_eq!(results.iter().filter(|r| **r == Ok(0)).count(), 5_000);
    assert_eq!(
        results.iter().filter(|r| **r == Err(RecvError)).count(),
        5_000
    );
    assert_eq!(shared_rx.__waiting(), (0, 0), "no stale registration");
    drop(own);
}

#[test]
fn select_from_plain_threads() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    let t = thread::spawn(move || {
        select! {
            recv(rx) -> v => v.unwrap(),
            default(Duration::from_secs(60)) => -1,
        }
    });
    tx.send(9).unwrap();
    assert_eq!(t.join().unwrap(), 9);
}

#[test]
fn one_consumer_selects_over_four_busy_producers() {
    let _rt = crate::mode::enter();
    // The shape of the `select` benchmark, which once hung on a lost
    // wake-up (a waker that saw a stale notification). A hang fails here.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        const PER: u64 = 100_000;
        let sum = goro_sched::run(|| {
            let (keep, rxs): (Vec<_>, Vec<_>) = (0..4u64)
                .map(|p| {
                    let (tx, rx) = bounded::<u64>(0);
                    let producer = tx.clone();
                    go(move || {
                        for i in 0..PER {
                            producer.send(p * PER + i).unwrap();
                        }
                    });
                    (tx, rx)
                })
                .unzip();
            let mut sum = 0u64;
            for _ in 0..4 * PER {
                select! {
                    recv(rxs[0]) -> v => sum += v.unwrap(),
                    recv(rxs[1]) -> v => sum += v.unwrap(),
                    recv(rxs[2]) -> v => sum += v.unwrap(),
                    recv(rxs[3]) -> v => sum += v.unwrap(),
                }
            }
            drop(keep);
            sum
        });
        done_tx.send(sum).unwrap();
    });
    let sum = done_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the select hung: a lost wake-up?");
    assert_eq!(sum, (0..400_000u64).sum::<u64>());
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>, u64);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn values_handed_to_a_blocked_select_arrive_once_small_or_large() {
    let _rt = crate::mode::enter();
    // A select's receive is handed its value in the select's own frame when
    // it fits, else in a box: both kinds, on one select, many times over,
    // from goroutines and threads. Every value arrives exactly once and is
    // dropped exactly once.
    const ROUNDS: u64 = 2_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let (small_tx, small_rx) = bounded::<Counted>(0);
    let (large_tx, large_rx) = bounded::<[u64; 16]>(0);
    let d = drops.clone();
    let goroutine = go(move || {
        for i in 0..ROUNDS {
            small_tx.send(Counted(d.clone(), i)).unwrap();
        }
    });
    let thread = thread::spawn(move || {
        for i in 0..ROUNDS {
            large_tx.send([i; 16]).unwrap();
        }
    });
    let (mut small_sum, mut large_sum, mut got) = (0u64, 0u64, 0u64);
    while got < 2 * ROUNDS {
        select! {
            recv(small_rx) -> v => if let Ok(c) = v {
                small_sum += c.1;
                got += 1;
            },
            recv(large_rx) -> v => if let Ok(a) = v {
                assert!(a.iter().all(|&x| x == a[0]), "a torn value");
                large_sum += a[0];
                got += 1;
            },
        }
    }
    goroutine.join().unwrap();
    thread.join().unwrap();
    let expected = ROUNDS * (ROUNDS - 1) / 2;
    assert_eq!((small_sum, large_sum), (expected, expected));
    assert_eq!(drops.load(Ordering::SeqCst), ROUNDS as usize);
}

// ---------------------------------------------------------------------------
// A chosen operation completed in the wrong direction (issue 16): it panics
// before the operation is used, and the operation's drop gives back what it
// held where it can. Each test catches the panic, checks the channel, then
// lets the panic go on for `should_panic` to check its message.

/// Generous bound against hangs (never a timing claim).
const HANG: Duration = Duration::from_secs(20);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f`, which must panic; returns the panic.
fn wrong_direction(f: impl FnOnce()) -> Box<dyn Any + Send> {
    catch_unwind(AssertUnwindSafe(f)).expect_err("completing the wrong direction must panic")
}

#[test]
#[should_panic(expected = "SelectedOperation::send called for a receive operation")]
fn send_on_a_chosen_receive_panics_and_puts_the_sender_back_unbuffered() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    let sender = {
        let tx = tx.clone();
        thread::spawn(move || tx.send_timeout(7, HANG))
    };
    wait_until("the sender to wait", || rx.__waiting() == (0, 1));
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select(); // claims the waiting sender
    let panic = wrong_direction(|| {
        let _ = op.send(&tx, 8);
    });
    // The sender waits again, its value with it: neither lost nor replaced.
    assert_eq!(rx.__waiting(), (0, 1));
    assert_eq!(rx.recv_timeout(HANG), Ok(7));
    assert_eq!(sender.join().unwrap(), Ok(()));
    assert_eq!(rx.__waiting(), (0, 0));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::send called for a receive operation")]
fn a_sender_put_back_after_its_deadline_times_out() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    let (done_tx, done_rx) = mpsc::channel();
    {
        let tx = tx.clone();
        thread::spawn(move || done_tx.send(tx.send_timeout(7, Duration::from_millis(20))));
    }
    wait_until("the sender to wait", || rx.__waiting() == (0, 1));
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select(); // claims the waiting sender
    // Its deadline passes while it is claimed: it waits for its claimer...
    thread::sleep(Duration::from_millis(100));
    let panic = wrong_direction(|| {
        let _ = op.send(&tx, 8);
    });
    // ... which puts it back: it withdraws, timed out, with its value.
    let outcome = done_rx
        .recv_timeout(HANG)
        .expect("the put-back sender hung");
    assert_eq!(outcome, Err(SendTimeoutError::Timeout(7)));
    assert_eq!(rx.__waiting(), (0, 0));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::recv called for a send operation")]
fn a_waiter_given_back_to_a_closed_channel_learns_it_is_closed() {
    let _rt = crate::mode::enter();
    // Closing while the waiting sender and receiver are claimed does not
    // see them (they are out of the queues): when given back, they are told.
    let (tx, rx) = bounded::<i32>(0);
    let sender = {
        let tx = tx.clone();
        thread::spawn(move || tx.send_timeout(7, HANG))
    };
    wait_until("the sender to wait", || rx.__waiting() == (0, 1));
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select(); // claims the waiting sender
    tx.close();
    let panic = wrong_direction(|| {
        let _ = op.send(&tx, 8);
    });
    drop(panic);
    assert_eq!(sender.join().unwrap(), Err(SendTimeoutError::Closed(7)));

    let (tx, rx) = bounded::<i32>(0);
    let receiver = {
        let rx = rx.clone();
        go(move || rx.recv_timeout(HANG))
    };
    wait_until("the receiver to wait", || rx.__waiting() == (1, 0));
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.select(); // claims the waiting receiver
    tx.close();
    let panic = wrong_direction(|| {
        let _ = op.recv(&rx);
    });
    assert_eq!(receiver.join().unwrap(), Err(RecvTimeoutError::Closed));
    assert_eq!(rx.__waiting(), (0, 0));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::send called for a receive operation")]
fn send_on_a_chosen_receive_panics_and_drops_the_value_taken_buffered() {
    let _rt = crate::mode::enter();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded::<Counted>(1);
    tx.send(Counted(drops.clone(), 7)).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select(); // takes the 7 out of the ring
    let panic = wrong_direction(|| {
        let _ = op.send(&tx, Counted(drops.clone(), 8));
    });
    // The 7 goes with the operation (a ring cannot put it back first in
    // line), the 8 was not sent; both are dropped, once.
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    tx.send(Counted(drops.clone(), 9)).unwrap();
    assert_eq!(rx.try_recv().map(|c| c.1).ok(), Some(9));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::send called for a receive operation")]
fn send_on_a_chosen_receive_panics_and_gives_the_value_back_unbounded() {
    let _rt = crate::mode::enter();
    let (tx, rx) = unbounded::<i32>();
    tx.send(7).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select(); // reserves the 7
    // A receiver that comes meanwhile finds nothing and waits.
    let receiver = {
        let rx = rx.clone();
        thread::spawn(move || rx.recv_timeout(HANG))
    };
    wait_until("the receiver to wait", || rx.__waiting() == (1, 0));
    let panic = wrong_direction(|| {
        let _ = op.send(&tx, 8);
    });
    // The reserved 7 goes to the waiting receiver; the 8 was not sent.
    assert_eq!(receiver.join().unwrap(), Ok(7));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.len(), 0);
    tx.send(9).unwrap();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.try_recv(), Ok(9));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::send called for a receive operation")]
fn send_on_a_chosen_receive_gives_the_reservation_back_unbounded() {
    let _rt = crate::mode::enter();
    // No receiver waits: the reserved value is first in line again.
    let (tx, rx) = unbounded::<i32>();
    tx.send(7).unwrap();
    tx.send(8).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    assert_eq!(rx.len(), 1);
    let panic = wrong_direction(|| {
        let _ = op.send(&tx, 9);
    });
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(7));
    assert_eq!(rx.try_recv(), Ok(8));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::recv called for a send operation")]
fn recv_on_a_chosen_send_panics_and_puts_the_receiver_back_unbuffered() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    let receiver = {
        let rx = rx.clone();
        go(move || rx.recv_timeout(HANG)) // a goroutine, parked
    };
    wait_until("the receiver to wait", || rx.__waiting() == (1, 0));
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.select(); // claims the waiting receiver
    let panic = wrong_direction(|| {
        let _ = op.recv(&rx);
    });
    // The receiver waits again (it was not told the channel closed) and
    // takes the next send.
    assert_eq!(rx.__waiting(), (1, 0));
    assert_eq!(tx.send_timeout(5, HANG), Ok(()));
    assert_eq!(receiver.join().unwrap(), Ok(5));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::recv called for a send operation")]
fn recv_on_a_chosen_send_panics_and_frees_the_slot_buffered() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(1);
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.select(); // takes the free slot
    let receiver = {
        let rx = rx.clone();
        thread::spawn(move || rx.recv_timeout(HANG))
    };
    let panic = wrong_direction(|| {
        let _ = op.recv(&rx);
    });
    // The slot is given up: the receiver skips it and takes the next send.
    assert_eq!(tx.send_timeout(5, HANG), Ok(()));
    assert_eq!(receiver.join().unwrap(), Ok(5));
    assert_eq!(tx.send_timeout(6, HANG), Ok(()));
    assert_eq!(rx.try_recv(), Ok(6));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    resume_unwind(panic);
}

#[test]
#[should_panic(expected = "SelectedOperation::recv called for a send operation")]
fn recv_on_a_chosen_send_panics_without_underflow_unbounded() {
    let _rt = crate::mode::enter();
    let (tx, rx) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.select(); // reserves room
    let panic = wrong_direction(|| {
        let _ = op.recv(&rx);
    });
    // Nothing was received, no count went below zero, the channel works on.
    assert_eq!(rx.len(), 0);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(5).unwrap();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.recv_timeout(HANG), Ok(5));
    resume_unwind(panic);
}

#[test]
fn a_select_with_both_directions_on_one_channel_completes_the_chosen_one() {
    let _rt = crate::mode::enter();
    // The direction check must let the right call through when a select
    // has a send and a receive on the same channel.
    let (tx, rx) = unbounded::<i32>();
    let mut queued = std::collections::VecDeque::new();
    for round in 0..100 {
        let mut sel = Select::new();
        let get = sel.recv(&rx);
        let put = sel.send(&tx);
        let op = sel.select();
        match op.index() {
            i if i == get => assert_eq!(op.recv(&rx).ok(), queued.pop_front()),
            i if i == put => {
                op.send(&tx, round).unwrap();
                queued.push_back(round);
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), Vec::from(queued));
}

// ---------------------------------------------------------------------------
// Issue 17: a select's try pass is linearizable, a waiting select is fair,
// and a panic in a `select!` leaves every channel as it was.

/// Waits until `step` reads `want`: spins first (to answer within
/// nanoseconds), then yields (the goroutine, if it is one).
fn await_step(step: &AtomicUsize, want: usize) {
    let start = Instant::now();
    let mut spins = 0u32;
    while step.load(Ordering::Acquire) != want {
        if spins < 1_000 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            goro_sched::yield_now();
            assert!(
                start.elapsed() < HANG,
                "the other side never reached {want}"
            );
        }
    }
}

#[test]
fn try_select_sees_an_operation_that_was_ready_at_every_instant() {
    let _rt = crate::mode::enter();
    // Issue 17, bug 2 (crossbeam's `linearizable_try`). While the selector
    // runs `try_select`, `r1` or `r2` holds a value at every instant: the
    // selector filled `r1`, and the other side fills `r2` before it empties
    // `r1`. So `try_select` must choose one. Many arms that are never ready
    // follow, so that the other side's two steps fit between the selector's
    // reads of the readiness hints and its tries (a single try pass that
    // read `r2` not ready and then found `r1` taken reported nothing).
    const ROUNDS: usize = 20_000;
    const PADDING: usize = 2_000;
    for goroutines in [false, true] {
        for buffered in [true, false] {
            let ((s1, r1), (s2, r2)) = if buffered {
                (bounded::<i32>(1), bounded::<i32>(1))
            } else {
                (unbounded::<i32>(), unbounded::<i32>())
            };
            let step = Arc::new(AtomicUsize::new(0));
            let selector = {
                let (r1, r2, step) = (r1.clone(), r2.clone(), step.clone());
                move || {
                    let pad = never::<i32>();
                    let mut missed = 0;
                    for i in 0..ROUNDS {
                        s1.send(1).unwrap();
                        let mut sel = Select::new();
                        let a = sel.recv(&r2);
                        let b = sel.recv(&r1);
                        for _ in 0..PADDING {
                            sel.recv(&pad);
                        }
                        step.store(2 * i + 1, Ordering::Release);
                        match sel.try_select() {
                            Ok(op) if op.index() == a => op.recv(&r2).unwrap(),
                            Ok(op) if op.index() == b => op.recv(&r1).unwrap(),
                            Ok(_) => unreachable!("a padding arm is never ready"),
                            Err(_) => {
                                missed += 1;
                                0
                            }
                        };
                        await_step(&step, 2 * i + 2);
                        let _ = r1.try_recv();
                        let _ = r2.try_recv();
                    }
                    missed
                }
            };
            let other = move || {
                for i in 0..ROUNDS {
                    await_step(&step, 2 * i + 1);
                    s2.send(1).unwrap();
                    let _ = r1.try_recv();
                    step.store(2 * i + 2, Ordering::Release);
                }
            };
            let missed = if goroutines {
                let h = go(other);
                let missed = go(selector).join().unwrap();
                h.join().unwrap();
                missed
            } else {
                let h = thread::spawn(other);
                let missed = thread::spawn(selector).join().unwrap();
                h.join().unwrap();
                missed
            };
            assert_eq!(
                missed, 0,
                "try_select found nothing ready {missed} times in {ROUNDS} \
                 (goroutines: {goroutines}, buffered: {buffered})"
            );
        }
    }
}

/// Runs `a` and `b` at once, as two goroutines or two plain threads.
fn both<A: Send + 'static, B: Send + 'static>(
    goroutines: bool,
    a: impl FnOnce() -> A + Send + 'static,
    b: impl FnOnce() -> B + Send + 'static,
) -> (A, B) {
    if goroutines {
        let (a, b) = (go(a), go(b));
        (a.join().unwrap(), b.join().unwrap())
    } else {
        let (a, b) = (thread::spawn(a), thread::spawn(b));
        (a.join().unwrap(), b.join().unwrap())
    }
}

/// Rounds of the fairness tests below, and the fewest times each of two
/// arms must be chosen: a fair coin falls below it less than once in
/// 10^44 runs.
const FAIR_ROUNDS: usize = 200;
const FAIR_LEAST: usize = 10;

#[test]
fn a_waiting_select_sends_on_either_arm() {
    let _rt = crate::mode::enter();
    // Issue 17, bug 3 (Go's `TestPseudoRandomSend`). The receiver comes
    // late each time, so the select waits with both sends registered on
    // the same channel: the receiver takes one of them, and that one must
    // be either (registered in the order written, the first always won).
    for goroutines in [false, true] {
        let (tx, rx) = bounded::<usize>(0);
        let (ones, ()) = both(
            goroutines,
            move || {
                let mut ones = 0;
                for _ in 0..FAIR_ROUNDS {
                    goro_sched::sleep(Duration::from_micros(200));
                    ones += rx.recv_timeout(HANG).unwrap();
                }
                ones
            },
            move || {
                for _ in 0..FAIR_ROUNDS {
                    select! {
                        send(tx, 1) -> r => r.unwrap(),
                        send(tx, 0) -> r => r.unwrap(),
                    }
                }
            },
        );
        let zeros = FAIR_ROUNDS - ones;
        assert!(
            ones >= FAIR_LEAST && zeros >= FAIR_LEAST,
            "{ones} ones, {zeros} zeros (goroutines: {goroutines})"
        );
    }
}

#[test]
fn a_waiting_select_receives_on_either_arm() {
    let _rt = crate::mode::enter();
    // As above, the other way round: two receives on one channel, the
    // sender late each time.
    for goroutines in [false, true] {
        let (tx, rx) = bounded::<()>(0);
        let (firsts, ()) = both(
            goroutines,
            move || {
                let mut firsts = 0;
                for _ in 0..FAIR_ROUNDS {
                    select! {
                        recv(rx) -> v => { v.unwrap(); firsts += 1 },
                        recv(rx) -> v => v.unwrap(),
                    }
                }
                firsts
            },
            move || {
                for _ in 0..FAIR_ROUNDS {
                    goro_sched::sleep(Duration::from_micros(200));
                    tx.send_timeout((), HANG).unwrap();
                }
            },
        );
        let seconds = FAIR_ROUNDS - firsts;
        assert!(
            firsts >= FAIR_LEAST && seconds >= FAIR_LEAST,
            "first arm {firsts} times, second {seconds} (goroutines: {goroutines})"
        );
    }
}

/// Runs `f` as a goroutine or a plain thread; its result comes on the
/// returned channel (read it with a bound: a hang is what some tests catch).
fn spawn_either<T: Send + 'static>(
    goroutines: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (done_tx, done_rx) = mpsc::channel();
    let f = move || drop(done_tx.send(f()));
    if goroutines {
        drop(go(f));
    } else {
        drop(thread::spawn(f));
    }
    done_rx
}

const BOOM: &str = "the value of a select! send arm";

fn boom() -> u32 {
    panic!("{BOOM}")
}

/// A `select!` whose send is chosen and whose value then panics; returns
/// once it has panicked.
fn select_send_that_panics(tx: &Sender<u32>) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        select! {
            send(tx, boom()) -> _ => {},
            default(HANG) => {},
        }
    }));
    let panic = outcome.expect_err("the send is chosen, and its value panics");
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some(BOOM)
    );
}

/// The channel is empty, nobody waits on it, and it takes `cap` values
/// (no more) and gives them back in order.
fn as_new(tx: &Sender<u32>, rx: &Receiver<u32>, cap: usize, what: &str) {
    assert_eq!(rx.__waiting(), (0, 0), "{what}: nobody waits");
    assert_eq!(tx.len(), 0, "{what}");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{what}");
    for v in 0..cap as u32 {
        assert_eq!(tx.try_send(v), Ok(()), "{what}: room for {cap}");
    }
    assert_eq!(tx.try_send(99), Err(TrySendError::Full(99)), "{what}");
    assert_eq!(tx.len(), cap, "{what}");
    for v in 0..cap as u32 {
        assert_eq!(rx.try_recv(), Ok(v), "{what}");
    }
    assert!(rx.is_empty(), "{what}");
}

#[test]
fn a_panic_in_a_select_send_value_leaves_the_channel_as_it_was() {
    let _rt = crate::mode::enter();
    // Issue 17, bug 4. The send is chosen, then its value panics: the
    // chosen operation is given up. Whatever it had taken (a waiting
    // receiver, a receiver waiting for its value, a waiting select, a
    // position in the ring) must be as if the select had never run.
    for goroutines in [false, true] {
        for cap in [0usize, 1, 4] {
            let what = format!("cap {cap}, goroutines {goroutines}");

            // A receiver waits first; the select's try pass takes it (or,
            // buffered, a free position).
            let (tx, rx) = bounded::<u32>(cap);
            let got = {
                let rx = rx.clone();
                spawn_either(goroutines, move || rx.recv_timeout(HANG))
            };
            wait_until("the receiver to wait", || rx.__waiting() == (1, 0));
            select_send_that_panics(&tx);
            assert_eq!(tx.len(), 0, "{what}: receiver first");
            assert_eq!(tx.send_timeout(7, HANG), Ok(()), "{what}: receiver first");
            assert_eq!(got.recv_timeout(HANG), Ok(Ok(7)), "{what}: receiver first");
            as_new(&tx, &rx, cap, &format!("{what}: receiver first"));

            // The select waits first (buffered: on a full buffer); a
            // receiver comes and chooses its send (buffered: takes a value
            // and wakes it to take the free position).
            let (tx, rx) = bounded::<u32>(cap);
            for v in 0..cap as u32 {
                tx.send(100 + v).unwrap();
            }
            let selector = {
                let tx = tx.clone();
                spawn_either(goroutines, move || select_send_that_panics(&tx))
            };
            wait_until("the select to wait", || rx.__waiting() == (0, 1));
            let got = {
                let rx = rx.clone();
                spawn_either(goroutines, move || rx.recv_timeout(HANG))
            };
            selector
                .recv_timeout(HANG)
                .expect("the select panicked once");
            if cap == 0 {
                // The receiver waited for the select's value: it waits on.
                assert_eq!(tx.send_timeout(7, HANG), Ok(()), "{what}: select first");
                assert_eq!(got.recv_timeout(HANG), Ok(Ok(7)), "{what}: select first");
            } else {
                assert_eq!(got.recv_timeout(HANG), Ok(Ok(100)), "{what}: select first");
                assert_eq!(tx.len(), cap - 1, "{what}: select first");
                for v in 1..cap as u32 {
                    assert_eq!(rx.try_recv(), Ok(100 + v), "{what}: select first");
                }
            }
            as_new(&tx, &rx, cap, &format!("{what}: select first"));

            // Unbuffered: a receiving select waits first; the panicking
            // select's try pass claims it.
            if cap == 0 {
                let (tx, rx) = bounded::<u32>(0);
                let got = {
                    let rx = rx.clone();
                    spawn_either(goroutines, move || {
                        select! {
                            recv(rx) -> v => v.ok(),
                            default(HANG) => None,
                        }
                    })
                };
                wait_until("the receiving select to wait", || rx.__waiting() == (1, 0));
                select_send_that_panics(&tx);
                assert_eq!(tx.send_timeout(7, HANG), Ok(()), "{what}: select receives");
                assert_eq!(
                    got.recv_timeout(HANG),
                    Ok(Some(7)),
                    "{what}: select receives"
                );
                as_new(&tx, &rx, cap, &format!("{what}: select receives"));
            }
        }
    }
}

/// `select!` takes the grammar crossbeam's does (issue 17, bug 5): a
/// temporary in a channel expression lives for the whole select, `default()`
/// is a default without a timeout, and an operation's arguments may end
/// with a comma.
#[test]
fn select_macro_takes_crossbeams_grammar() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<u32>(1);
    tx.send(1).unwrap();
    // Not known to be `None` here (clippy would see through a literal).
    let maybe: Option<&goro_chan::Receiver<u32>> = std::hint::black_box(None);
    // A temporary (`never()`) borrowed inside the channel expression.
    let got = select! {
        recv(maybe.unwrap_or(&goro_chan::never())) -> _ => 0,
        recv(rx,) -> v => v.unwrap(),
    };
    assert_eq!(got, 1);
    // `default()` and trailing commas in every operation.
    let got = select! {
        recv(rx,) -> _ => 0,
        default() => 7,
    };
    assert_eq!(got, 7);
    let got = select! {
        send(tx, 5,) -> r => { r.unwrap(); 5 }
        default(Duration::from_millis(1),) => 0,
    };
    assert_eq!(got, 5);
    assert_eq!(rx.try_recv(), Ok(5));
    let got = select! {
        recv(rx) -> _ => 0,
        default(Duration::from_millis(1),) => 9,
    };
    assert_eq!(got, 9);
}

/// `Select::new_biased` and `select_biased!` (crossbeam-channel's): among
/// ready operations the first written wins; `Select` is `Clone` (issue 17,
/// drop-in).
#[test]
fn biased_selects_take_the_first_ready_operation() {
    let _rt = crate::mode::enter();
    let (tx1, rx1) = bounded::<u32>(1);
    let (tx2, rx2) = bounded::<u32>(1);
    for _ in 0..100 {
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
        let got = goro_chan::select_biased! {
            recv(rx1) -> v => v.unwrap(),
            recv(rx2) -> v => v.unwrap(),
        };
        assert_eq!(got, 1);
        let mut sel = Select::new_biased();
        sel.recv(&rx2);
        sel.recv(&rx1);
        let copy = sel.clone();
        let op = sel.select();
        assert_eq!(op.index(), 0);
        assert_eq!(op.recv(&rx2), Ok(2));
        // The clone has the same operations: only the first is ready now.
        tx2.send(2).unwrap();
        let mut copy = copy;
        let op = copy.try_select().unwrap();
        assert_eq!(op.index(), 0);
        assert_eq!(op.recv(&rx2), Ok(2));
    }
    // A biased select that waits still gets whatever comes.
    let h = goro_sched::go(move || {
        goro_chan::select_biased! {
            recv(rx1) -> v => v.unwrap(),
            recv(rx2) -> v => v.unwrap() * 10,
        }
    });
    tx2.send(3).unwrap();
    assert_eq!(h.join().unwrap(), 30);
}

/// `Select::remove` (crossbeam-channel's): a removed operation is never
/// chosen, the others keep their indices, a select of removed operations
/// only waits (issue 17, drop-in).
#[test]
fn removed_operations_are_never_chosen() {
    let _rt = crate::mode::enter();
    let (tx1, rx1) = bounded::<u32>(0);
    let (tx2, rx2) = bounded::<u32>(1);
    drop(tx1); // closed: always ready
    let mut sel = Select::new();
    let closed = sel.recv(&rx1);
    let live = sel.recv(&rx2);
    sel.remove(closed);
    // A waiting select (from a goroutine's send) gets the live one.
    let h = goro_sched::go(move || {
        goro_sched::sleep(Duration::from_millis(1));
        tx2.send(5).unwrap();
        tx2
    });
    let op = sel.select();
    assert_eq!(op.index(), live);
    assert_eq!(op.recv(&rx2), Ok(5));
    let _tx2 = h.join().unwrap();
    sel.remove(live);
    assert!(sel.select_timeout(Duration::from_millis(2)).is_err());
    assert!(sel.try_select().is_err());
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sel.remove(live)));
    assert!(again.is_err(), "a second remove panics");
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sel.remove(7)));
    assert!(out.is_err(), "an index never given panics");
}
