//! Dropping or shutting down a runtime unwinds its goroutines: nothing leaks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_sched::Runtime;
use goro_sched::park;

mod common;

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits (generously) until `n` goroutines of `rt` are parked or queued.
fn settle(rt: &Runtime, started: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while started.load(Ordering::SeqCst) < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "goroutines never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = rt;
}

#[test]
fn dropping_a_runtime_unwinds_parked_goroutines() {
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let rt = common::builder().workers(2).build().unwrap();
    let handles: Vec<_> = (0..500)
        .map(|_| {
            let (d, s) = (drops.clone(), started.clone());
            rt.go(move || {
                let _guard = DropCounter(d);
                s.fetch_add(1, Ordering::SeqCst);
                loop {
                    park::park(); // nobody will wake it
                }
            })
        })
        .collect();
    settle(&rt, &started, 500);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 500);
    for h in handles {
        let err = h.join().unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(!err.is_panic());
    }
}

#[test]
fn dropping_a_runtime_unwinds_sleeping_and_yielding_goroutines() {
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let rt = common::builder().workers(1).build().unwrap();
    for i in 0..100 {
        let (d, s) = (drops.clone(), started.clone());
        rt.go(move || {
            let _guard = DropCounter(d);
            s.fetch_add(1, Ordering::SeqCst);
            loop {
                if i % 2 == 0 {
                    goro_sched::sleep(Duration::from_secs(3600));
                } else {
                    goro_sched::yield_now();
                }
            }
        });
    }
    settle(&rt, &started, 100);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 100);
}

#[test]
fn goroutines_never_started_are_dropped_with_their_closures() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = common::builder().workers(1).build().unwrap();
    let gate = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    // Keep the only worker busy so the rest stay queued, unstarted.
    rt.go(move || {
        while !g.load(Ordering::SeqCst) {
            goro_sched::yield_now();
        }
    });
    for _ in 0..50 {
        let guard = DropCounter(drops.clone());
        rt.go(move || drop(guard));
    }
    gate.store(true, Ordering::SeqCst);
    drop(rt);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        50,
        "each closure dropped once, run or not"
    );
}

#[test]
fn shutdown_timeout_leaves_a_hog_and_unwinds_the_rest() {
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let rt = common::builder().workers(2).build().unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let (r, s) = (release.clone(), started.clone());
    rt.go(move || {
        s.fetch_add(1, Ordering::SeqCst);
        while !r.load(Ordering::SeqCst) {
            std::hint::spin_loop(); // never reaches a park point
        }
    });
    for _ in 0..20 {
        let (d, s) = (drops.clone(), started.clone());
        rt.go(move || {
            let _guard = DropCounter(d);
            s.fetch_add(1, Ordering::SeqCst);
            loop {
                park::park();
            }
        });
    }
    settle(&rt, &started, 21);
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(drops.load(Ordering::SeqCst), 20);
    release.store(true, Ordering::SeqCst); // let the hog's thread go
}

#[test]
fn destructors_that_wake_and_spawn_during_shutdown_do_not_hang() {
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let rt = common::builder().workers(2).build().unwrap();
    let waiters: Arc<std::sync::Mutex<Vec<park::Unparker>>> = Arc::default();
    for _ in 0..50 {
        let (d, s, w) = (drops.clone(), started.clone(), waiters.clone());
        rt.go(move || {
            struct WakeOthers {
                others: Arc<std::sync::Mutex<Vec<park::Unparker>>>,
                _count: DropCounter,
            }
            impl Drop for WakeOthers {
                fn drop(&mut self) {
                    for u in self.others.lock().unwrap().iter() {
                        u.unpark();
                    }
                    // A destructor may spawn, too.
                    drop(goro_sched::go(|| ()));
                }
            }
            w.lock().unwrap().push(park::current_unparker());
            let _guard = WakeOthers {
                others: w.clone(),
                _count: DropCounter(d),
            };
            s.fetch_add(1, Ordering::SeqCst);
            loop {
                park::park();
            }
        });
    }
    settle(&rt, &started, 50);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 50);
}

#[test]
fn dropping_a_runtime_from_its_own_goroutine_is_a_clear_panic() {
    let rt = Arc::new(std::sync::Mutex::new(Some(
        common::builder().workers(1).build().unwrap(),
    )));
    let inner = rt.clone();
    let h = rt.lock().unwrap().as_ref().unwrap().go(move || {
        let own = inner.lock().unwrap().take();
        drop(own);
    });
    let err = h.join().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cannot be shut down or dropped from one of its own goroutines"),
        "{msg}"
    );
}

goro_sched::local! {
    static HELD: std::cell::RefCell<Option<DropCounter>> = std::cell::RefCell::new(None);
    static TOUCHER: std::cell::RefCell<Option<TouchesALocal>> = std::cell::RefCell::new(None);
    static LAST_WORDS: std::cell::Cell<u32> = std::cell::Cell::new(0);
}

/// Uses a goroutine-local from its destructor, which runs while the
/// goroutine's locals are being dropped.
struct TouchesALocal(Arc<AtomicUsize>);

impl Drop for TouchesALocal {
    fn drop(&mut self) {
        LAST_WORDS.with(|w| w.set(w.get() + 1));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn goroutine_locals_are_dropped_once_however_the_goroutine_ends() {
    let drops = Arc::new(AtomicUsize::new(0));
    let touches = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let rt = common::builder().workers(2).build().unwrap();
    let handles: Vec<_> = (0..300)
        .map(|i| {
            let (d, t, s) = (drops.clone(), touches.clone(), started.clone());
            rt.go(move || {
                HELD.with(|h| *h.borrow_mut() = Some(DropCounter(d)));
                TOUCHER.with(|h| *h.borrow_mut() = Some(TouchesALocal(t)));
                s.fetch_add(1, Ordering::SeqCst);
                match i % 3 {
                    0 => {}
                    1 => panic!("goroutine {i} panics with locals set"),
                    _ => loop {
                        park::park(); // unwound by the shutdown
                    },
                }
            })
        })
        .collect();
    settle(&rt, &started, 300);
    let mut ended = 0;
    let mut parked = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match i % 3 {
            0 => h.join().unwrap(),
            1 => assert!(h.join().unwrap_err().is_panic()),
            _ => {
                parked.push(h);
                continue;
            }
        }
        ended += 1;
    }
    assert_eq!(drops.load(Ordering::SeqCst), ended, "returned or panicked");
    assert_eq!(touches.load(Ordering::SeqCst), ended);
    drop(rt);
    for h in parked {
        assert!(h.join().unwrap_err().is_cancelled());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 300, "each local dropped once");
    assert_eq!(touches.load(Ordering::SeqCst), 300);
}
