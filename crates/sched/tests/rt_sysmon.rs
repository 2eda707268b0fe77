//! Sysmon: a goroutine in a CPU loop or a blocking call does not stall the
//! others. Each test runs on one worker, where without a hand-off the
//! others could never run; the hog gives up after a generous bound, and the
//! test fails if it had to.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_sched::park;

mod common;

use common::{HANG, hog_until};

/// Spawns a goroutine that parks until the returned function wakes it (into
/// the waker's worker's `next` slot), then runs `then`; returns once it has
/// parked.
fn parked_goroutine(then: impl FnOnce() + Send + 'static) -> impl FnOnce() {
    let go_on = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(std::sync::Mutex::new(None::<park::Unparker>));
    let (g, s) = (go_on.clone(), slot.clone());
    goro_sched::go(move || {
        *s.lock().unwrap() = Some(park::current_unparker());
        while !g.load(Ordering::Acquire) {
            park::park();
        }
        then();
    });
    let unparker = loop {
        if let Some(u) = slot.lock().unwrap().take() {
            break u;
        }
        goro_sched::yield_now();
    };
    for _ in 0..10 {
        goro_sched::yield_now(); // let it park
    }
    move || {
        go_on.store(true, Ordering::Release);
        unparker.unpark();
    }
}

#[test]
fn a_cpu_hog_does_not_stall_a_goroutine_spawned_after_it() {
    let rt = common::migrating().workers(1).build().unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let ok = rt.run({
        let flag = flag.clone();
        move || {
            let f = flag.clone();
            let _setter = goro_sched::go(move || f.store(true, Ordering::Release));
            hog_until(&flag) // the setter is queued behind us on our worker
        }
    });
    assert!(ok, "the hog stalled the other goroutine");
}

#[test]
fn a_goroutine_woken_just_before_a_hog_still_runs() {
    // The hog wakes a parked goroutine (which goes to its worker's `next`
    // slot, to run as soon as the hog parks), then spins: sysmon must move
    // it out of `next`.
    let rt = common::migrating().workers(1).build().unwrap();
    let ok = rt.run(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let wake = parked_goroutine(move || f.store(true, Ordering::Release));
        wake(); // into our worker's `next`
        hog_until(&flag)
    });
    assert!(ok, "the woken goroutine stalled behind the hog");
}

#[test]
fn timers_fire_while_every_worker_hogs() {
    let rt = common::migrating().workers(1).build().unwrap();
    let ok = rt.run(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let _sleeper = goro_sched::go(move || {
            goro_sched::sleep(Duration::from_millis(5));
            f.store(true, Ordering::Release);
        });
        goro_sched::yield_now(); // the sleeper starts and parks on its timer
        hog_until(&flag)
    });
    assert!(ok, "a timer never fired while the only worker hogged");
}

#[test]
fn blocking_hands_off_at_once() {
    // The goroutine blocks its thread on a std channel inside `blocking`;
    // the goroutine that will unblock it is queued behind it.
    let rt = common::migrating().workers(1).build().unwrap();
    let got = rt.run(|| {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let _sender = goro_sched::go(move || tx.send(7).unwrap());
        goro_sched::blocking(move || rx.recv_timeout(HANG))
    });
    assert_eq!(got, Ok(7), "blocking did not hand the worker's queue off");
}

#[test]
fn many_hogs_and_a_ticker_on_two_workers() {
    // As many hogs as workers; a goroutine that sleeps 1 ms a hundred times
    // must finish while they spin, and the hogs must all finish too.
    let rt = common::migrating().workers(2).build().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            rt.go(move || hog_until(&done))
        })
        .collect();
    let (d, t) = (done.clone(), ticks.clone());
    let ticker = rt.go(move || {
        for _ in 0..100 {
            goro_sched::sleep(Duration::from_millis(1));
            t.fetch_add(1, Ordering::SeqCst);
        }
        d.store(true, Ordering::Release);
    });
    ticker.join().unwrap();
    for h in hogs {
        assert!(h.join().unwrap(), "the ticker stalled behind the hogs");
    }
    assert_eq!(ticks.load(Ordering::SeqCst), 100);
    assert!(rt.stats().handoffs >= 1);
    // With the hogs gone, the spares retire.
    let start = Instant::now();
    while rt.stats().spares > 0 {
        assert!(
            start.elapsed() < HANG,
            "spares never retired: {:?}",
            rt.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_hogs_woken_goroutine_is_stolen_before_its_fresh_pile() {
    // The hog's worker holds a pile of fresh goroutines (spawned, not run)
    // and one started goroutine it woke; once sysmon hands the worker off,
    // the spare takes the woken one first, not after the whole pile. (If a
    // stall hands it off while it still spawns, the spare runs some of the
    // pile before the wake-up: counted from the wake-up.)
    const PILE: usize = 1000;
    let rt = common::migrating().workers(1).build().unwrap();
    let (ok, at_wake, pile_run_first) = rt.run(|| {
        let woke = Arc::new(AtomicBool::new(false));
        let pile_run = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(usize::MAX));
        let (w, s, p) = (woke.clone(), seen.clone(), pile_run.clone());
        let wake = parked_goroutine(move || {
            s.store(p.load(Ordering::SeqCst), Ordering::SeqCst);
            w.store(true, Ordering::Release);
        });
        for _ in 0..PILE {
            let p = pile_run.clone();
            goro_sched::go(move || {
                p.fetch_add(1, Ordering::SeqCst);
            });
        }
        let at_wake = pile_run.load(Ordering::SeqCst);
        wake(); // into `next`...
        goro_sched::go(|| {}); // ... and out of it, into the queue
        (hog_until(&woke), at_wake, seen.load(Ordering::SeqCst))
    });
    assert!(ok, "the woken goroutine stalled behind the hog");
    assert!(
        pile_run_first - at_wake < PILE / 2,
        "{pile_run_first} of the {PILE} fresh goroutines ran before the woken one \
         ({at_wake} before it was woken)"
    );
}

#[test]
fn default_mode_a_goroutine_started_on_a_spare_finishes_there_after_it_retires() {
    // One worker, hogged: sysmon starts a spare, which starts the goroutine
    // queued behind the hog. That goroutine then keeps the spare's thread:
    // after the hog ends and the spare retires, it still sleeps (timers)
    // and wakes there, to the end.
    let rt = goro_sched::Runtime::builder().workers(1).build().unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (threads, ok) = rt.run(move || {
        let hog_thread = std::thread::current().id();
        let sleeper = goro_sched::go(move || {
            let mut threads = vec![std::thread::current().id()];
            for i in 0..200 {
                if i == 20 {
                    r.store(true, Ordering::Release); // the hog may end now
                }
                goro_sched::sleep(Duration::from_millis(1));
                threads.push(std::thread::current().id());
            }
            threads
        });
        let ok = hog_until(&release); // started before the sleeper could
        (
            sleeper.join().unwrap(),
            ok && hog_thread == std::thread::current().id(),
        )
    });
    assert!(ok, "the hog was never released: the sleeper never ran");
    assert!(
        threads.windows(2).all(|w| w[0] == w[1]),
        "the goroutine changed threads"
    );
}

#[test]
fn migrating_timers_left_by_a_retiring_spare_still_fire() {
    // Hogs on both workers make sysmon start spares; the goroutine that
    // joins them may run on a spare when it then sleeps, leaving its timer
    // in the spare's heap as the spare retires. The sleeping workers must
    // still see it (it was lost: the sleep never returned, about one round
    // in two).
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = common::migrating().workers(2).build().unwrap();
        rt.run(|| {
            for _ in 0..5 {
                let hogs: Vec<_> = (0..4)
                    .map(|_| {
                        goro_sched::go(|| {
                            let start = Instant::now();
                            while start.elapsed() < Duration::from_millis(30) {
                                std::hint::spin_loop();
                            }
                        })
                    })
                    .collect();
                for h in hogs {
                    h.join().unwrap();
                }
                for _ in 0..10 {
                    goro_sched::sleep(Duration::from_millis(2));
                }
            }
        });
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(HANG)
        .expect("a sleep after the hogs never returned");
}
