//! Channel semantics for every flavor: sends, receives, their try and
//! timeout forms, closing, dropping ends, iteration, and every pairing of
//! goroutines and threads.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError, bounded,
    never, unbounded,
};
use goro_sched::go;

const SHORT: Duration = Duration::from_millis(20);

#[test]
fn unbuffered_send_needs_a_receiver() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<i32>(0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(tx.send_timeout(2, SHORT), Err(SendTimeoutError::Timeout(2)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Timeout));
    assert_eq!(tx.capacity(), Some(0));
    // With a receiver waiting, the value goes straight to it.
    let h = go(move || rx.recv());
    tx.send(3).unwrap();
    assert_eq!(h.join().unwrap(), Ok(3));
}

#[test]
fn an_unbuffered_send_hands_the_value_over_directly() {
    let _rt = crate::mode::enter();
    // Nothing is ever buffered: each send returns only once a receiver has
    // the value.
    let (tx, rx) = bounded::<usize>(0);
    let rx2 = rx.clone();
    let h = go(move || {
        let mut sum = 0;
        for _ in 0..1000 {
            sum += rx2.recv().unwrap();
        }
        sum
    });
    for i in 1..=1000 {
        tx.send(i).unwrap();
        assert_eq!(tx.len(), 0);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }
    assert_eq!(h.join().unwrap(), 500_500);
}

#[test]
fn bounded_buffers_then_blocks() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded(2);
    tx.send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(tx.len(), 2);
    assert!(!tx.is_empty());
    assert_eq!(rx.recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3]);
    assert!(rx.is_empty());
}

#[test]
fn unbounded_never_blocks() {
    let _rt = crate::mode::enter();
    let (tx, rx) = unbounded();
    for i in 0..100_000 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.capacity(), None);
    assert_eq!(rx.len(), 100_000);
    drop(tx);
    assert_eq!(rx.iter().count(), 100_000);
}

#[test]
fn close_drains_then_fails_and_returns_values() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded(3);
    tx.send("a").unwrap();
    tx.send("b").unwrap();
    assert!(tx.close());
    assert!(!tx.close(), "already closed");
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.send("c"), Err(SendError("c")));
    assert_eq!(tx.try_send("d"), Err(TrySendError::Closed("d")));
    assert_eq!(
        tx.send_timeout("e", SHORT),
        Err(SendTimeoutError::Closed("e"))
    );
    assert_eq!(rx.recv(), Ok("a"));
    assert_eq!(rx.try_recv(), Ok("b"));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Closed));
}

#[test]
fn dropping_the_last_sender_closes() {
    let _rt = crate::mode::enter();
    let (tx, rx) = unbounded();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "a sender is left");
    tx2.send(2).unwrap();
    drop(tx2);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn dropping_every_receiver_fails_sends() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded(1);
    let rx2 = rx.clone();
    drop(rx);
    tx.send(1).unwrap();
    drop(rx2);
    assert!(tx.is_closed());
    assert_eq!(tx.send(2), Err(SendError(2)));
    assert_eq!(tx.len(), 0, "what was buffered is dropped");
}

#[test]
fn close_wakes_every_parked_sender_and_receiver() {
    let _rt = crate::mode::enter();
    let rt = mode::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u32>(0);
    let receivers: Vec<_> = (0..50)
        .map(|_| {
            let rx = rx.clone();
            rt.go(move || rx.recv())
        })
        .collect();
    let (tx2, rx2) = bounded::<u32>(0);
    let senders: Vec<_> = (0..50)
        .map(|i| {
            let tx2 = tx2.clone();
            rt.go(move || tx2.send(i))
        })
        .collect();
    // Let them all block, then close both channels.
    while rx.__waiting().0 < 50 || rx2.__waiting().1 < 50 {
        thread::yield_now();
    }
    tx.close();
    tx2.close();
    for h in receivers {
        assert_eq!(h.join().unwrap(), Err(RecvError));
    }
    let mut returned: Vec<u32> = senders
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_err().into_inner())
        .collect();
    returned.sort_unstable();
    assert_eq!(
        returned,
        (0..50).collect::<Vec<_>>(),
        "every value came back"
    );
    assert_eq!(rx.__waiting(), (0, 0));
    drop(rx2);
}

#[test]
fn dropping_the_receivers_wakes_parked_senders() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<u32>(0);
    let senders: Vec<_> = (0..20)
        .map(|i| {
            let tx = tx.clone();
            go(move || tx.send(i))
        })
        .collect();
    while rx.__waiting().1 < 20 {
        thread::yield_now();
    }
    drop(rx);
    for h in senders {
        assert!(h.join().unwrap().is_err());
    }
}

#[test]
fn never_never_delivers() {
    let _rt = crate::mode::enter();
    let rx = never::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Timeout));
    assert!(!rx.is_closed());
}

#[test]
fn iterators_stop_at_close() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded(4);
    let h = go(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    let mut sum = 0;
    for v in &rx {
        sum += v;
    }
    h.join().unwrap();
    assert_eq!(sum, 4950);
    let (tx, rx) = unbounded();
    tx.send(1).unwrap();
    drop(tx);
    assert_eq!(rx.into_iter().collect::<Vec<_>>(), [1]);
}

/// Sends `n` numbers from `senders` producers to `receivers` consumers on a
/// channel of `cap`, each side a goroutine or a thread; checks the sum.
fn transfer(cap: usize, senders: usize, receivers: usize, goroutines: (bool, bool)) {
    const N: u64 = 20_000;
    let (tx, rx) = bounded::<u64>(cap);
    let per = N / senders as u64;
    let mut producers = Vec::new();
    for s in 0..senders as u64 {
        let tx = tx.clone();
        let work = move || {
            for i in 0..per {
                tx.send(s * per + i).unwrap();
            }
        };
        producers.push(spawn(goroutines.0, work));
    }
    drop(tx);
    let mut consumers = Vec::new();
    for _ in 0..receivers {
        let rx = rx.clone();
        consumers.push(spawn(goroutines.1, move || {
            rx.iter().fold((0u64, 0u64), |(c, s), v| (c + 1, s + v))
        }));
    }
    for p in producers {
        p();
    }
    let (count, sum) = consumers
        .into_iter()
        .map(|c| c())
        .fold((0, 0), |(c, s), (c2, s2)| (c + c2, s + s2));
    let total = per * senders as u64;
    assert_eq!(count, total, "nothing lost, nothing duplicated");
    assert_eq!(sum, total * (total - 1) / 2);
}

/// Runs `f` as a goroutine or a thread; returns a joiner.
fn spawn<T: Send + 'static>(
    goroutine: bool,
    f: impl FnOnce() -> T + Send + 'static,
) -> Box<dyn FnOnce() -> T> {
    if goroutine {
        let h = go(f);
        Box::new(move || h.join().unwrap())
    } else {
        let h = thread::spawn(f);
        Box::new(move || h.join().unwrap())
    }
}

#[test]
fn every_pairing_of_goroutines_and_threads_delivers_everything() {
    let _rt = crate::mode::enter();
    for cap in [0, 1, 16] {
        for pairing in [(true, true), (true, false), (false, true), (false, false)] {
            transfer(cap, 1, 1, pairing);
            transfer(cap, 4, 3, pairing);
        }
    }
}

#[test]
fn ends_are_send_and_sync() {
    let _rt = crate::mode::enter();
    fn check<T: Send + Sync>() {}
    check::<goro_chan::Sender<String>>();
    check::<goro_chan::Receiver<String>>();
}

#[test]
fn dropping_a_runtime_withdraws_goroutines_blocked_on_channels() {
    let _rt = crate::mode::enter();
    // Goroutines blocked in send, recv and select on channels that outlive
    // their runtime are unwound; their waiting entries must leave the
    // channels, which then work from here (a stale entry would point into
    // an unwound stack).
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (tx0, rx0) = bounded::<Vec<u8>>(0);
    let (tx1, rx1) = bounded::<Vec<u8>>(1);
    tx1.send(vec![1]).unwrap(); // full: senders block
    let (tx2, rx2) = bounded::<Vec<u8>>(0);
    let parked = std::sync::Arc::new(AtomicUsize::new(0));
    {
        let rt = mode::builder().workers(2).build().unwrap();
        for i in 0..60 {
            let (rx0, tx1, rx2, tx2) = (rx0.clone(), tx1.clone(), rx2.clone(), tx2.clone());
            let parked = parked.clone();
            rt.go(move || {
                parked.fetch_add(1, Ordering::SeqCst);
                match i % 4 {
                    0 => drop(rx0.recv()),
                    1 => drop(tx1.send(vec![2; 100])),
                    2 => drop(tx2.send(vec![3; 100])),
                    _ => goro_chan::select! {
                        recv(rx0) -> _ => {},
                        recv(rx2) -> _ => {},
                    },
                }
            });
        }
        let start = std::time::Instant::now();
        while parked.load(Ordering::SeqCst) < 60 {
            assert!(start.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20)); // let them block
    } // the runtime drops: its goroutines unwind
    assert_eq!(rx0.__waiting(), (0, 0), "stale receivers on rx0");
    assert_eq!(rx1.__waiting(), (0, 0), "stale senders on rx1");
    assert_eq!(rx2.__waiting(), (0, 0), "stale waiters on rx2");
    // Nobody waits any more: a send on an unbuffered channel finds no
    // receiver, a receive no sender.
    assert!(matches!(tx0.try_send(vec![9]), Err(TrySendError::Full(_))));
    assert_eq!(rx1.try_recv(), Ok(vec![1]));
    assert!(matches!(rx1.try_recv(), Err(TryRecvError::Empty)));
    assert!(matches!(rx2.try_recv(), Err(TryRecvError::Empty)));
    drop((tx0, tx1, tx2)); // closing wakes nobody stale
    assert!(rx0.recv().is_err());
    assert!(rx2.recv().is_err());
}

#[test]
fn values_left_in_a_channel_are_dropped_with_its_last_end() {
    let _rt = crate::mode::enter();
    // Every flavor: what is still buffered goes when the last end does
    // (from whichever thread drops it), once.
    let token = std::sync::Arc::new(());
    for cap in [None, Some(1), Some(8)] {
        let (tx, rx) = match cap {
            None => goro_chan::unbounded(),
            Some(n) => goro_chan::bounded(n),
        };
        tx.send(token.clone()).unwrap();
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(
            std::sync::Arc::strong_count(&token),
            2,
            "{cap:?}: still buffered"
        );
        let last = std::thread::spawn(move || drop(tx2));
        last.join().unwrap();
        // Closed, the value still waits for the receiver.
        assert_eq!(std::sync::Arc::strong_count(&token), 2, "{cap:?}");
        drop(rx);
        assert_eq!(
            std::sync::Arc::strong_count(&token),
            1,
            "{cap:?}: dropped once"
        );
    }
}

/// Runs `n` copies of `work` at once, as goroutines or as plain threads,
/// and returns their results.
fn run_each<T: Send + 'static>(
    goroutines: bool,
    n: usize,
    work: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let work = std::sync::Arc::new(work);
    let joins: Vec<Box<dyn FnOnce() -> T>> = (0..n)
        .map(|i| {
            let work = work.clone();
            if goroutines {
                let h = go(move || work(i));
                Box::new(move || h.join().unwrap()) as Box<dyn FnOnce() -> T>
            } else {
                let h = thread::spawn(move || work(i));
                Box::new(move || h.join().unwrap())
            }
        })
        .collect();
    joins.into_iter().map(|join| join()).collect()
}

#[test]
fn try_recv_never_misses_a_value_whose_send_finished() {
    let _rt = crate::mode::enter();
    // Issue 17, bug 1. Each of four loops sends, then receives with
    // `try_recv`. Every receive, successful or in progress, of a loop
    // comes after a finished send of that same loop; so when a loop calls
    // `try_recv`, the finished sends outnumber the values every receive
    // has taken or is taking: a value is in the channel, and a
    // linearizable `try_recv` returns one. (`Empty` while a later slot
    // held a finished value was the bug: the head slot's send was still
    // being written.)
    const LOOPS: usize = 4;
    const ROUNDS: usize = 100_000;
    for goroutines in [true, false] {
        let (tx, rx) = bounded::<usize>(LOOPS);
        let empties = run_each(goroutines, LOOPS, move |_| {
            let mut empties = 0usize;
            for _ in 0..ROUNDS {
                tx.send(0).unwrap();
                loop {
                    match rx.try_recv() {
                        Ok(_) => break,
                        Err(TryRecvError::Empty) => empties += 1,
                        Err(TryRecvError::Closed) => unreachable!("a sender lives"),
                    }
                }
            }
            empties
        });
        let total: usize = empties.iter().sum();
        assert_eq!(
            total,
            0,
            "try_recv said Empty {total} times in {} with a value there (goroutines: {goroutines})",
            LOOPS * ROUNDS
        );
    }
}

/// A capacity whose buffer cannot be allocated is a panic that names it,
/// as Go's "makechan: size out of range", not an abort (issue 17, bug 6).
#[test]
fn a_capacity_too_large_to_allocate_panics_with_its_size() {
    let _rt = crate::mode::enter();
    for cap in [1usize << 40, usize::MAX / 2] {
        let err = std::panic::catch_unwind(|| bounded::<u64>(cap)).unwrap_err();
        let msg = err.downcast_ref::<String>().expect("a formatted message");
        assert!(
            msg.contains(&cap.to_string()) && msg.contains("out of range"),
            "{msg}"
        );
    }
    // The process goes on: a channel of sane size still works.
    let (tx, rx) = bounded::<u64>(4);
    tx.send(1).unwrap();
    assert_eq!(rx.recv().unwrap(), 1);
}

/// crossbeam-channel's API beyond Go's: deadlines, `is_full`, ends used
/// across `catch_unwind` without `AssertUnwindSafe` (issue 17, drop-in).
#[test]
fn crossbeam_shaped_api_works_from_goroutines_and_threads() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<u32>(1);
    assert!(!tx.is_full());
    tx.send_deadline(1, Instant::now() + Duration::from_secs(60))
        .unwrap();
    assert!(tx.is_full() && rx.is_full());
    let full = tx.send_deadline(2, Instant::now() + Duration::from_millis(1));
    assert_eq!(full, Err(goro_chan::SendTimeoutError::Timeout(2)));
    let got =
        std::panic::catch_unwind(|| rx.recv_deadline(Instant::now() + Duration::from_secs(60)));
    assert_eq!(got.unwrap(), Ok(1));
    let h = goro_sched::go(move || rx.recv_deadline(Instant::now() + Duration::from_millis(1)));
    assert_eq!(h.join().unwrap(), Err(RecvTimeoutError::Timeout));
}
