//! Where goroutines start in the default mode, where a goroutine keeps the
//! worker it starts on: long-lived ones spread over busy workers, and a
//! spawn placed on another worker (goro-net's `accept`) runs even when that
//! worker is stuck.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use goro_sched::Runtime;

/// Generous bound against hangs (never a timing claim).
const HANG: Duration = Duration::from_secs(30);

/// Spins on the CPU until `flag` is set; false if it never was.
fn hog_until(flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::Acquire) {
        if start.elapsed() > HANG {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// Starts a goroutine that keeps its worker busy (it yields in a loop, so
/// that worker never idles, and never steals as an idle one does) until
/// `stop`; returns its handle and thread.
fn busy_worker(rt: &Runtime, stop: &Arc<AtomicBool>) -> (goro_sched::JoinHandle<()>, ThreadId) {
    let (tx, rx) = mpsc::channel();
    let stop = stop.clone();
    let busy = rt.go(move || {
        tx.send(thread::current().id()).unwrap();
        let start = Instant::now();
        while !stop.load(Ordering::Acquire) && start.elapsed() < HANG {
            goro_sched::yield_now();
        }
    });
    (busy, rx.recv().unwrap())
}

/// Runs `f` in a goroutine that started on another thread than `other`,
/// spawning again until one does (the runtime places it).
fn on_another_worker<T: Send + 'static>(
    rt: &Runtime,
    other: ThreadId,
    f: impl Fn() -> T + Send + Sync + 'static,
) -> T {
    let f = Arc::new(f);
    let start = Instant::now();
    loop {
        let f = f.clone();
        let done = rt
            .go(move || (thread::current().id() != other).then(|| f()))
            .join()
            .unwrap();
        if let Some(done) = done {
            return done;
        }
        assert!(start.elapsed() < HANG, "never ran on the other worker");
    }
}

#[test]
fn long_lived_goroutines_spawned_on_one_busy_worker_spread_to_another() {
    // Two workers, both busy. One spawns 200 goroutines that compute
    // 100 µs each and then live on (parked) until all have started: the
    // other worker, busy too, must start some of them, or they would all
    // stay on the spawner's for the rest of their lives (it never idles,
    // so only its balancing takes any).
    const N: usize = 200;
    let rt = Runtime::builder().workers(2).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (busy, busy_thread) = busy_worker(&rt, &stop);
    let on_busy = on_another_worker(&rt, busy_thread, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let started = started.clone();
                goro_sched::go(move || {
                    let work = Instant::now();
                    while work.elapsed() < Duration::from_micros(100) {
                        std::hint::spin_loop();
                    }
                    let here = thread::current().id();
                    started.fetch_add(1, Ordering::SeqCst);
                    let wait = Instant::now();
                    while started.load(Ordering::SeqCst) < N && wait.elapsed() < HANG {
                        goro_sched::sleep(Duration::from_millis(1));
                    }
                    here
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&t| t == busy_thread)
            .count()
    });
    stop.store(true, Ordering::Release);
    busy.join().unwrap();
    assert!(
        on_busy >= N / 10,
        "only {on_busy} of {N} long-lived goroutines started on the other busy worker"
    );
}

#[test]
fn a_spawn_placed_on_a_stuck_worker_still_runs() {
    // goro-net's `accept` places the next spawn on the worker of a CPU; if
    // that worker is stuck in a CPU loop, the goroutine queued for it must
    // go to the others (sysmon's hand-off, or the spawn's own look). Here
    // the hog waits for that very goroutine.
    let rt = Runtime::builder().workers(2).build().unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let hog = {
        let released = released.clone();
        rt.go(move || {
            let cpu = goro_sched::__private::worker_cpu();
            tx.send((thread::current().id(), cpu)).unwrap();
            hog_until(&released)
        })
    };
    let (hog_thread, cpu) = rx.recv().unwrap();
    let cpu = cpu.expect("a worker notes its CPU before it runs a goroutine");
    let setter = on_another_worker(&rt, hog_thread, move || {
        goro_sched::__private::spawn_near_cpu(cpu);
        let released = released.clone();
        goro_sched::go(move || released.store(true, Ordering::Release))
    });
    assert!(
        hog.join().unwrap(),
        "the goroutine placed on the stuck worker never ran"
    );
    setter.join().unwrap();
}
