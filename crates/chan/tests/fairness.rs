//! A goroutine that never has to wait on a buffered channel (fed, or
//! drained, by a thread or another worker that keeps up) does not hold its
//! worker for good: at the ring's checkpoints it lets the goroutines of its
//! worker run (issue 17, `select-buffered`: a consumer kept busy by a
//! producer on the other worker starved the producers that started on its
//! own, until that producer was done).
//!
//! Made deterministic by a buffer large enough that the goroutine under
//! test never waits: without the checkpoints, the other goroutine of its
//! worker runs only once it is done.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use goro_chan::{Select, bounded};

const N: u64 = 300_000;

/// Sends 0, 1, 2... into a channel with room for all of them (so it never
/// waits) until `ran` is set; checks that they come out in order, none
/// lost, and returns how many were sent. `who` names what `ran` waits for.
fn send_until(ran: &AtomicBool, who: &str) -> u64 {
    let (tx, rx) = bounded::<u64>(N as usize);
    let mut sent = 0;
    while !ran.load(Ordering::SeqCst) {
        assert!(sent < N, "all {N} sent before {who} ran");
        tx.send(sent).unwrap();
        sent += 1;
    }
    drop(tx);
    assert!(rx.iter().eq(0..sent), "in order, none lost");
    sent
}

/// How a receive is made.
#[derive(Clone, Copy, Debug)]
enum How {
    Recv,
    Select,
}

/// Receives from a channel filled beforehand (it never waits), until a
/// goroutine queued on the same (only) worker has run.
#[test]
fn a_receiver_that_never_waits_lets_its_workers_goroutines_run() {
    for how in [How::Recv, How::Select] {
        let rt = crate::mode::builder().workers(1).build().unwrap();
        let received = rt.run(move || {
            let (tx, rx) = bounded::<u64>(N as usize);
            for i in 0..N {
                tx.send(i).unwrap();
            }
            let (_other_tx, other) = bounded::<u64>(1);
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            // Queued on this worker, behind the receiver that runs now.
            goro_sched::go(move || flag.store(true, Ordering::SeqCst));
            let mut received = 0;
            while !ran.load(Ordering::SeqCst) {
                assert!(
                    received < N,
                    "{how:?}: all {N} received before the other goroutine ran"
                );
                let v = match how {
                    How::Recv => rx.recv().unwrap(),
                    How::Select => {
                        let mut sel = Select::new();
                        let a = sel.recv(&rx);
                        sel.recv(&other);
                        let op = sel.select();
                        assert_eq!(op.index(), a);
                        op.recv(&rx).unwrap()
                    }
                };
                assert_eq!(v, received, "in order, none lost");
                received += 1;
            }
            // The rest is still there.
            assert_eq!(rx.len() as u64, N - received);
            assert_eq!(rx.try_iter().count() as u64, N - received);
            received
        });
        // Within a few checkpoints (one in 256 receives; the fourth in a
        // row without a switch yields).
        assert!(received <= 2048, "{how:?}: {received} received first");
    }
}

/// Sends into a channel with room for everything (it never waits), until
/// a goroutine queued on the same worker has run.
#[test]
fn a_sender_that_never_waits_lets_its_workers_goroutines_run() {
    let rt = crate::mode::builder().workers(1).build().unwrap();
    let sent = rt.run(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        goro_sched::go(move || flag.store(true, Ordering::SeqCst));
        send_until(&ran, "the other goroutine")
    });
    assert!(sent <= 2048, "{sent} sent first");
}

/// The same, while a plain thread receives meanwhile, faster than the
/// sender (which computes for 50 us before each send): a send that finds
/// it waiting hands the value straight over and takes no ring position
/// (`hand_over`), and those count towards the checkpoints too.
#[test]
fn a_sender_whose_receiver_waits_lets_its_workers_goroutines_run() {
    const LIMIT: u64 = 4096;
    // No spare: sysmon, seeing the worker held for 10 ms, would start the
    // other goroutine on one.
    let rt = crate::mode::builder()
        .workers(1)
        .max_blocking_threads(0)
        .build()
        .unwrap();
    let (tx, rx) = bounded::<u64>(N as usize);
    let receiver = std::thread::spawn(move || {
        let mut expect = 0;
        for v in rx.iter() {
            assert_eq!(v, expect, "in order, none lost");
            expect += 1;
        }
        expect
    });
    let sent = rt.run(move || {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        goro_sched::go(move || flag.store(true, Ordering::SeqCst));
        let mut sent = 0;
        while !ran.load(Ordering::SeqCst) && sent < LIMIT {
            let until = std::time::Instant::now() + std::time::Duration::from_micros(50);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            tx.send(sent).unwrap();
            sent += 1;
        }
        sent
    });
    assert_eq!(receiver.join().unwrap(), sent, "every value received");
    assert!(sent <= 2048, "{sent} sent first");
}

/// The same, for a goroutine of the sender's worker that a plain thread
/// wakes meanwhile: it waits in the worker's inbox (it has started, so it
/// runs there only), which the checkpoints count as work of their worker.
#[test]
fn a_sender_that_never_waits_lets_a_goroutine_woken_elsewhere_run() {
    let rt = crate::mode::builder().workers(1).build().unwrap();
    let sent = rt.run(|| {
        let (parked_tx, parked_rx) = bounded::<()>(0);
        let (wake_tx, wake_rx) = bounded::<()>(0);
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        goro_sched::go(move || {
            parked_tx.send(()).unwrap();
            wake_rx.recv().unwrap();
            flag.store(true, Ordering::SeqCst);
        });
        // Parked in `recv` once this returns and yields the worker back.
        parked_rx.recv().unwrap();
        let woken = Arc::new(AtomicBool::new(false));
        let w = woken.clone();
        let waker = std::thread::spawn(move || {
            wake_tx.send(()).unwrap();
            w.store(true, Ordering::SeqCst);
        });
        // Holding the worker meanwhile (CI: sending from the start, all
        // were sent before the thread even began, on a busy machine).
        assert!(crate::mode::hog_until(&woken), "the waker never woke it");
        let sent = send_until(&ran, "the woken goroutine");
        waker.join().unwrap();
        sent
    });
    assert!(sent <= 2048, "{sent} sent after the wake-up");
}

/// The same, for a goroutine spawned from a plain thread meanwhile: it
/// waits in the injector, which the checkpoints count too, and which the
/// worker looks at first after the yield.
#[test]
fn a_sender_that_never_waits_lets_a_goroutine_spawned_outside_run() {
    // No spare: sysmon, seeing the worker held for 10 ms with a goroutine
    // in the injector, would run it on one.
    let rt = crate::mode::builder()
        .workers(1)
        .max_blocking_threads(0)
        .build()
        .unwrap();
    let sending = Arc::new(AtomicBool::new(false));
    let spawned = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicBool::new(false));
    let sent = std::thread::scope(|s| {
        let (sending2, spawned2, flag) = (sending.clone(), spawned.clone(), ran.clone());
        let rt = &rt;
        s.spawn(move || {
            while !sending2.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            drop(rt.go(move || flag.store(true, Ordering::SeqCst)));
            spawned2.store(true, Ordering::SeqCst);
        });
        rt.run(move || {
            sending.store(true, Ordering::SeqCst);
            // Holding the worker meanwhile, as above.
            assert!(crate::mode::hog_until(&spawned), "the thread never spawned");
            send_until(&ran, "the spawned goroutine")
        })
    });
    assert!(sent <= 2048, "{sent} sent after the spawn");
}

/// `try_recv`, `try_send` and `try_select` (a `select!` with `default`)
/// never switch, checkpoint or not: a goroutine holding a thread's lock
/// across them keeps its worker.
#[test]
fn tries_never_yield() {
    let rt = crate::mode::builder().workers(1).build().unwrap();
    rt.run(|| {
        let me = std::thread::current().id();
        let (tx, rx) = bounded::<u64>(N as usize);
        // Where the other goroutine ran, once it has: on this thread only
        // if this goroutine switched (sysmon may start it on a spare
        // thread while this one holds the worker).
        let ran_on = Arc::new(std::sync::Mutex::new(None));
        let on = ran_on.clone();
        goro_sched::go(move || *on.lock().unwrap() = Some(std::thread::current().id()));
        for i in 0..N {
            tx.try_send(i).unwrap();
        }
        for i in 0..N / 2 {
            assert_eq!(rx.try_recv(), Ok(i));
        }
        for i in N / 2..N {
            let v = goro_chan::select! {
                recv(rx) -> v => v.unwrap(),
                default => panic!("a value is ready"),
            };
            assert_eq!(v, i);
        }
        assert_ne!(*ran_on.lock().unwrap(), Some(me), "a try switched");
        // Blocking selects then yield within a few checkpoints (unless the
        // other goroutine ran elsewhere already).
        for i in 0..4096 {
            tx.try_send(i).unwrap();
        }
        let mut received = 0;
        while ran_on.lock().unwrap().is_none() {
            assert!(received < 4096, "blocking selects never yielded");
            let mut sel = Select::new();
            sel.recv(&rx);
            sel.select().recv(&rx).unwrap();
            received += 1;
        }
    });
}
