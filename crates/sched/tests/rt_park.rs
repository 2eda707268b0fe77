//! The park/wake protocol under races, deadlines and timers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use goro_sched::go;
use goro_sched::park::{self, Unparker};

mod common;

/// Runs `f` on a thread; fails the test if it has not finished in `limit`
/// (a lost wake-up shows up as a hang).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no result within {limit:?}: a lost wake-up?"))
}

/// One side of a ping-pong: a flag its partner sets, and the waiter to wake.
#[derive(Default)]
struct Mailbox {
    full: AtomicBool,
    waiter: Mutex<Option<Unparker>>,
}

impl Mailbox {
    fn put(&self) {
        self.full.store(true, Ordering::Release);
        if let Some(u) = self.waiter.lock().unwrap().clone() {
            u.unpark();
        }
    }

    fn take(&self) {
        *self.waiter.lock().unwrap() = Some(park::current_unparker());
        while !self.full.swap(false, Ordering::AcqRel) {
            park::park();
        }
    }
}

/// `rounds` round trips between two sides; returns the rounds each counted.
fn pingpong(rounds: u64, a_in: Arc<Mailbox>, b_in: Arc<Mailbox>) -> impl FnOnce() -> u64 {
    move || {
        let mut n = 0;
        for _ in 0..rounds {
            b_in.put();
            a_in.take();
            n += 1;
        }
        n
    }
}

fn echo(rounds: u64, a_in: Arc<Mailbox>, b_in: Arc<Mailbox>) -> impl FnOnce() -> u64 {
    move || {
        let mut n = 0;
        for _ in 0..rounds {
            b_in.take();
            a_in.put();
            n += 1;
        }
        n
    }
}

#[test]
fn racing_park_and_wake_pairs_never_lose_a_wakeup() {
    let total = within(Duration::from_secs(300), || {
        let rt = common::builder().workers(2).build().unwrap();
        const ROUNDS: u64 = 100_000;
        let mut handles = Vec::new();
        // Four goroutine pairs, racing on two workers.
        for _ in 0..4 {
            let (a, b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
            handles.push(rt.go(pingpong(ROUNDS, a.clone(), b.clone())));
            handles.push(rt.go(echo(ROUNDS, a, b)));
        }
        // Goroutine <-> plain thread, both ways round.
        let (a, b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
        let thread = std::thread::spawn(echo(ROUNDS, a.clone(), b.clone()));
        let g = rt.go(pingpong(ROUNDS, a, b));
        let mut total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        total += g.join().unwrap() + thread.join().unwrap();
        total
    });
    assert_eq!(total, 10 * 100_000);
}

#[test]
fn a_wake_before_the_park_is_kept() {
    let rt = common::builder().workers(1).build().unwrap();
    rt.run(|| {
        for _ in 0..1000 {
            park::current_unparker().unpark();
            park::park(); // returns at once: the token was there
        }
    });
}

#[test]
fn park_deadline_returns_by_itself() {
    let rt = common::builder().workers(2).build().unwrap();
    let waited = rt.run(|| {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(20);
        while Instant::now() < deadline {
            park::park_deadline(deadline);
        }
        start.elapsed()
    });
    assert!(waited >= Duration::from_millis(20));
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    // Also on a plain thread.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(5) {
        park::park_deadline(start + Duration::from_millis(5));
    }
}

#[test]
fn a_woken_goroutine_does_not_wait_for_its_deadline() {
    let rt = common::builder().workers(2).build().unwrap();
    let slot: Arc<Mutex<Option<Unparker>>> = Arc::default();
    let woke = Arc::new(AtomicBool::new(false));
    let (s, w) = (slot.clone(), woke.clone());
    let h = rt.go(move || {
        let start = Instant::now();
        *s.lock().unwrap() = Some(park::current_unparker());
        while !w.load(Ordering::Acquire) {
            park::park_deadline(start + Duration::from_secs(600));
        }
        start.elapsed()
    });
    loop {
        if let Some(u) = slot.lock().unwrap().take() {
            woke.store(true, Ordering::Release);
            u.unpark();
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(h.join().unwrap() < Duration::from_secs(60));
}

#[test]
fn timers_fire_in_deadline_order() {
    let rt = common::builder().workers(1).build().unwrap();
    let log: Arc<Mutex<Vec<(Instant, usize)>>> = Arc::default();
    let handles: Vec<_> = (0..100usize)
        .map(|i| {
            let log = log.clone();
            // Durations in a scrambled order, all distinct.
            let ms = (i * 37) % 100 + 1;
            rt.go(move || {
                let deadline = Instant::now() + Duration::from_millis(ms as u64);
                goro_sched::sleep(Duration::from_millis(ms as u64));
                assert!(Instant::now() >= deadline);
                log.lock().unwrap().push((deadline, i));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let log = log.lock().unwrap();
    let mut by_deadline = log.clone();
    by_deadline.sort();
    let woke: Vec<usize> = log.iter().map(|&(_, i)| i).collect();
    let expected: Vec<usize> = by_deadline.iter().map(|&(_, i)| i).collect();
    assert_eq!(woke, expected);
}

#[test]
fn sleeping_goroutines_cost_no_thread() {
    fn threads() -> usize {
        std::fs::read_dir("/proc/self/task").unwrap().count()
    }
    let rt = common::builder().workers(2).build().unwrap();
    let woken = Arc::new(AtomicU64::new(0));
    let before = threads();
    let handles: Vec<_> = (0..10_000)
        .map(|i| {
            let woken = woken.clone();
            rt.go(move || {
                goro_sched::sleep(Duration::from_millis(50 + i % 50));
                woken.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let during = threads();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(woken.load(Ordering::Relaxed), 10_000);
    // Other tests of this binary may start threads meanwhile; sleeping ones
    // add none: far fewer than the 10,000 goroutines.
    assert!(during < before + 50, "{before} -> {during} threads");
}

#[test]
fn a_sleeper_wakes_while_its_worker_is_kept_busy_by_others() {
    // One goroutine sleeps; short busy goroutines keep its worker occupied.
    // Another worker must fire the timer in time (generous bound: a hang is
    // what this catches).
    let rt = common::builder().workers(2).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let busy = rt.go(move || {
        while !s.load(Ordering::Relaxed) {
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_micros(200) {}
            goro_sched::yield_now();
        }
    });
    let slept = rt.run(|| {
        let start = Instant::now();
        goro_sched::sleep(Duration::from_millis(10));
        start.elapsed()
    });
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert!(slept >= Duration::from_millis(10));
    assert!(slept < Duration::from_secs(20), "{slept:?}");
}

#[test]
fn goroutines_block_threads_and_threads_block_on_goroutines() {
    // A thread joins a goroutine that waits for the thread.
    let gate: Arc<Mutex<Option<Unparker>>> = Arc::default();
    let opened = Arc::new(AtomicBool::new(false));
    let (g, o) = (gate.clone(), opened.clone());
    let h = go(move || {
        *g.lock().unwrap() = Some(park::current_unparker());
        while !o.load(Ordering::Acquire) {
            park::park();
        }
        "through"
    });
    loop {
        if let Some(u) = gate.lock().unwrap().take() {
            opened.store(true, Ordering::Release);
            u.unpark();
            break;
        }
        std::thread::yield_now();
    }
    assert_eq!(h.join().unwrap(), "through");
}

#[test]
fn a_wake_racing_a_stale_notification_is_not_lost() {
    // A goroutine often enters a wait with a stale notification from an
    // earlier wake-up (which it did not need: it saw its flag first). A new
    // waker that finds the goroutine still notified must not assume the
    // notification covers its own flag: the goroutine may be consuming it at
    // that very moment. (This hung a select benchmark before the wake-up
    // took a CAS in that state.)
    let total = within(Duration::from_secs(300), || {
        let rt = common::builder().workers(2).build().unwrap();
        const ROUNDS: u64 = 200_000;
        let flag = Arc::new(AtomicU64::new(0));
        let waiter: Arc<Mutex<Option<Unparker>>> = Arc::default();
        let (f, w) = (flag.clone(), waiter.clone());
        let sleeper = rt.go(move || {
            *w.lock().unwrap() = Some(park::current_unparker());
            let mut seen = 0;
            for round in 1..=ROUNDS {
                while f.load(Ordering::Acquire) < round {
                    park::park();
                }
                seen += 1;
            }
            seen
        });
        let u = loop {
            if let Some(u) = waiter.lock().unwrap().clone() {
                break u;
            }
            std::thread::yield_now();
        };
        // Spurious wake-ups from a thread, to leave stale notifications.
        let spam = u.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let spammer = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                spam.unpark();
                std::hint::spin_loop();
            }
        });
        let waker = rt.go(move || {
            for round in 1..=ROUNDS {
                flag.store(round, Ordering::Release);
                u.unpark();
                if round % 64 == 0 {
                    goro_sched::yield_now();
                }
            }
        });
        waker.join().unwrap();
        let seen = sleeper.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        spammer.join().unwrap();
        seen
    });
    assert_eq!(total, 200_000);
}
