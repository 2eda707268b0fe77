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

mod common;

use common::{HANG, hog_until};

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

/// A goroutine on another worker than `busy` that noted another CPU than
/// `cpu` runs `f` (so that a spawn it places on `cpu` goes elsewhere);
/// `None` if the one spawned for it did not (then both workers may have
/// noted the same CPU, and no spawn would be placed at all).
fn placer<T: Send + 'static>(
    rt: &Runtime,
    busy: ThreadId,
    cpu: u32,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    rt.go(move || {
        (thread::current().id() != busy && goro_sched::__private::worker_cpu() != Some(cpu)).then(f)
    })
    .join()
    .unwrap()
}

/// Whether a test that retries until its two workers note two CPUs has
/// tried for `HANG` since `start`, and so tests nothing (CI, beside two
/// busy processes: the two workers kept noting one CPU for 30 s).
fn gave_up(start: Instant) -> bool {
    let gave_up = start.elapsed() > HANG;
    if gave_up {
        eprintln!("never had two workers on two CPUs: not tested");
    }
    gave_up
}

/// goro-net's `accept` places the next spawn on the worker of a CPU; if
/// that worker is in a long run (a CPU loop, or a blocking call not wrapped
/// in `goro::blocking`), the goroutine placed there must go to the others
/// (sysmon's hand-off, or the spawn's own look), `wait` after the long run
/// began. Here the long run waits for that very goroutine.
fn placed_on_a_worker_in_a_long_run(blocking_call: bool, wait: Duration) {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let start = Instant::now();
    loop {
        if gave_up(start) {
            return;
        }
        let released = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let long_run = {
            let released = released.clone();
            rt.go(move || {
                let cpu = goro_sched::__private::worker_cpu();
                tx.send((thread::current().id(), cpu)).unwrap();
                if blocking_call {
                    release_rx.recv_timeout(HANG).is_ok()
                } else {
                    hog_until(&released)
                }
            })
        };
        let (busy, cpu) = rx.recv().unwrap();
        let cpu = cpu.expect("a worker notes its CPU before it runs a goroutine");
        thread::sleep(wait);
        let release = {
            let released = released.clone();
            let release_tx = release_tx.clone();
            move || {
                released.store(true, Ordering::Release);
                let _ = release_tx.send(());
            }
        };
        let setter = placer(&rt, busy, cpu, move || {
            goro_sched::__private::spawn_near_cpu(cpu);
            goro_sched::go(release)
        });
        let Some(setter) = setter else {
            released.store(true, Ordering::Release);
            drop(release_tx);
            long_run.join().unwrap();
            continue;
        };
        assert!(
            long_run.join().unwrap(),
            "the goroutine placed on a worker in a long run never ran"
        );
        setter.join().unwrap();
        return;
    }
}

#[test]
fn a_spawn_placed_on_a_worker_just_stuck_in_a_cpu_loop_still_runs() {
    placed_on_a_worker_in_a_long_run(false, Duration::ZERO);
}

#[test]
fn a_spawn_placed_on_a_worker_long_stuck_in_a_cpu_loop_still_runs() {
    // Sysmon has looked already, and found nothing waiting.
    placed_on_a_worker_in_a_long_run(false, Duration::from_millis(50));
}

#[test]
fn a_spawn_placed_on_a_worker_long_in_a_blocking_call_still_runs() {
    placed_on_a_worker_in_a_long_run(true, Duration::from_millis(50));
}

#[test]
fn placed_spawns_taken_together_behind_a_hog_still_run() {
    // Three spawns placed on a busy worker: it takes the first two from its
    // inbox at once, then the first hogs it, waiting for the second, which
    // another worker must run (found in review: the batch went to the
    // started side of its queue, where no thief looks). A timer pending
    // makes sysmon hand the hog's worker off.
    let rt = Runtime::builder().workers(2).build().unwrap();
    let _sleeper = rt.go(|| goro_sched::sleep(Duration::from_secs(3600)));
    let start = Instant::now();
    loop {
        if gave_up(start) {
            return;
        }
        let placed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let busy = {
            let placed = placed.clone();
            rt.go(move || {
                let cpu = goro_sched::__private::worker_cpu();
                tx.send((thread::current().id(), cpu)).unwrap();
                hog_until(&placed)
            })
        };
        let (busy_thread, cpu) = rx.recv().unwrap();
        let cpu = cpu.expect("a worker notes its CPU before it runs a goroutine");
        let spawns = {
            let placed = placed.clone();
            placer(&rt, busy_thread, cpu, move || {
                let released = Arc::new(AtomicBool::new(false));
                let place = |f: Box<dyn FnOnce() -> bool + Send>| {
                    goro_sched::__private::spawn_near_cpu(cpu);
                    goro_sched::go(f)
                };
                let r = released.clone();
                let first = place(Box::new(move || hog_until(&r)));
                let second = place(Box::new(move || {
                    released.store(true, Ordering::Release);
                    true
                }));
                let third = place(Box::new(|| true));
                placed.store(true, Ordering::Release);
                [first, second, third]
            })
        };
        placed.store(true, Ordering::Release);
        busy.join().unwrap();
        let Some(spawns) = spawns else { continue };
        for h in spawns {
            assert!(
                h.join().unwrap(),
                "a placed goroutine never ran while another placed with it hogged"
            );
        }
        return;
    }
}
