//! `WorkerPool`: results, panic isolation, back-pressure (the queue's size
//! is respected), close and drop semantics, many submitters at once.

mod common;
#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{HANG, recv, runtime, wait_for_goroutines, wait_until};
use goro_patterns::sync::chan::sched::{self, go, num_goroutines};
use goro_patterns::sync::chan::{Receiver, bounded};
use goro_patterns::{ErrGroup, JobHandle, PoolClosed, RateLimiter, TrySubmitError, WorkerPool};

/// A gate that jobs wait at until the returned sender is dropped.
fn gate() -> (goro_patterns::sync::chan::Sender<()>, Receiver<()>) {
    bounded(0)
}

fn wait_at(gate: &Receiver<()>) {
    let _ = gate.recv_timeout(HANG);
}

#[test]
fn results_come_back_to_their_handles() {
    let _rt = crate::mode::enter();
    let pool = WorkerPool::new(4, 16);
    let handles: Vec<_> = (0..1_000u64)
        .map(|i| pool.submit(move || i * i).unwrap())
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), (i * i) as u64);
    }
}

#[test]
fn many_submitters_from_goroutines_and_threads() {
    let _rt = crate::mode::enter();
    const GOROUTINES: u64 = 8;
    const THREADS: u64 = 4;
    const JOBS: u64 = 250;
    let pool = Arc::new(WorkerPool::new(4, 8));
    let ran = Arc::new(AtomicUsize::new(0));
    let submit_all = |id: u64| {
        let (pool, ran) = (pool.clone(), ran.clone());
        move || {
            let handles: Vec<_> = (0..JOBS)
                .map(|j| {
                    let ran = ran.clone();
                    let h = pool
                        .submit(move || {
                            ran.fetch_add(1, Ordering::Relaxed);
                            (id * JOBS + j) * 2
                        })
                        .unwrap();
                    (j, h)
                })
                .collect();
            let mut sum = 0;
            for (j, h) in handles {
                let v = h.join().unwrap();
                assert_eq!(v, (id * JOBS + j) * 2);
                sum += v;
            }
            sum
        }
    };
    let goroutines: Vec<_> = (0..GOROUTINES).map(|id| go(submit_all(id))).collect();
    let threads: Vec<_> = (GOROUTINES..GOROUTINES + THREADS)
        .map(|id| thread::spawn(submit_all(id)))
        .collect();
    let mut total: u64 = goroutines.into_iter().map(|g| g.join().unwrap()).sum();
    total += threads.into_iter().map(|t| t.join().unwrap()).sum::<u64>();
    let n = (GOROUTINES + THREADS) * JOBS;
    assert_eq!(total, n * (n - 1));
    pool.join();
    assert_eq!(ran.load(Ordering::Relaxed) as u64, n);
}

#[test]
fn a_panicking_job_fails_only_its_own_handle() {
    let _rt = crate::mode::enter();
    // One worker: it must outlive every panic for the later jobs to run.
    let pool = WorkerPool::new(1, 4);
    let handles: Vec<_> = (0..100u32)
        .map(|i| {
            pool.submit(move || {
                assert!(i % 10 != 3, "job {i} failed");
                i
            })
            .unwrap()
        })
        .collect();
    for (i, h) in (0u32..).zip(handles) {
        match h.join() {
            Ok(v) => assert_eq!(v, i),
            Err(e) => {
                assert_eq!(i % 10, 3, "job {i}: {e}");
                assert!(e.is_panic() && !e.is_cancelled());
                assert_eq!(e.to_string(), format!("job panicked: job {i} failed"));
                let payload = e.into_panic();
                assert_eq!(
                    payload.downcast_ref::<String>().unwrap(),
                    &format!("job {i} failed")
                );
            }
        }
    }
    assert_eq!(pool.submit(|| 7).unwrap().join().unwrap(), 7);
}

/// Submits jobs that wait at `gate` from a goroutine; counts the submits
/// that returned and the jobs that started.
fn submit_gated(
    pool: &Arc<WorkerPool>,
    jobs: usize,
    gate: &Receiver<()>,
) -> (
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    sched::JoinHandle<Vec<JobHandle<()>>>,
) {
    let submitted = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let submitter = go({
        let (pool, gate) = (pool.clone(), gate.clone());
        let (submitted, started) = (submitted.clone(), started.clone());
        move || {
            (0..jobs)
                .map(|_| {
                    let (gate, started) = (gate.clone(), started.clone());
                    let h = pool
                        .submit(move || {
                            started.fetch_add(1, Ordering::SeqCst);
                            wait_at(&gate);
                        })
                        .unwrap();
                    submitted.fetch_add(1, Ordering::SeqCst);
                    h
                })
                .collect()
        }
    });
    (submitted, started, submitter)
}

#[test]
fn submit_waits_while_the_queue_is_full() {
    let _rt = crate::mode::enter();
    const WORKERS: usize = 2;
    const QUEUE: usize = 3;
    let pool = Arc::new(WorkerPool::new(WORKERS, QUEUE));
    let (open, gate) = gate();
    let (submitted, started, submitter) = submit_gated(&pool, 20, &gate);
    wait_until("the workers are busy and the queue full", || {
        started.load(Ordering::SeqCst) == WORKERS
            && submitted.load(Ordering::SeqCst) == WORKERS + QUEUE
    });
    sched::sleep(Duration::from_millis(100)); // room for a wrong extra submit
    assert_eq!(submitted.load(Ordering::SeqCst), WORKERS + QUEUE);
    assert_eq!(started.load(Ordering::SeqCst), WORKERS);
    match pool.try_submit(|| 5) {
        Err(TrySubmitError::Full(job)) => assert_eq!(job(), 5),
        other => panic!("expected Full, got {other:?}"),
    }
    drop(open);
    let handles = submitter.join().unwrap();
    assert_eq!(handles.len(), 20);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(started.load(Ordering::SeqCst), 20);
}

#[test]
fn a_queue_of_zero_takes_only_what_the_workers_take() {
    let _rt = crate::mode::enter();
    const WORKERS: usize = 3;
    let pool = Arc::new(WorkerPool::new(WORKERS, 0));
    let (open, gate) = gate();
    let (submitted, started, submitter) = submit_gated(&pool, 10, &gate);
    wait_until("the workers are busy", || {
        started.load(Ordering::SeqCst) == WORKERS && submitted.load(Ordering::SeqCst) == WORKERS
    });
    sched::sleep(Duration::from_millis(100));
    assert_eq!(submitted.load(Ordering::SeqCst), WORKERS);
    assert!(pool.try_submit(|| ()).unwrap_err().is_full());
    drop(open);
    for h in submitter.join().unwrap() {
        h.join().unwrap();
    }
}

#[test]
fn close_lets_queued_jobs_finish_and_refuses_new_ones() {
    let _rt = crate::mode::enter();
    let pool = WorkerPool::new(1, 16);
    let (open, gate) = gate();
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..11)
        .map(|i| {
            let (gate, done) = (gate.clone(), done.clone());
            pool.submit(move || {
                wait_at(&gate);
                done.fetch_add(1, Ordering::SeqCst);
                i
            })
            .unwrap()
        })
        .collect();
    pool.close();
    assert!(pool.is_closed());
    assert_eq!(pool.submit(|| 0).unwrap_err(), PoolClosed);
    match pool.try_submit(|| 99) {
        Err(TrySubmitError::Closed(job)) => assert_eq!(job(), 99),
        other => panic!("expected Closed, got {other:?}"),
    }
    drop(open);
    let results: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, (0..11).collect::<Vec<_>>());
    pool.join();
    assert_eq!(done.load(Ordering::SeqCst), 11);
}

#[test]
fn close_fails_a_submit_that_waits_for_room() {
    let _rt = crate::mode::enter();
    let pool = Arc::new(WorkerPool::new(1, 0));
    let (open, gate) = gate();
    let (started, busy) = bounded::<()>(1);
    let first = pool
        .submit(move || {
            started.send(()).unwrap();
            wait_at(&gate);
        })
        .unwrap();
    recv(&busy); // the only worker is busy, and the queue has no room
    let waiting = go({
        let pool = pool.clone();
        move || pool.submit(|| ()).map(drop)
    });
    sched::sleep(Duration::from_millis(20));
    pool.close();
    assert_eq!(waiting.join().unwrap(), Err(PoolClosed));
    drop(open);
    first.join().unwrap();
}

#[test]
fn join_waits_for_every_job() {
    let _rt = crate::mode::enter();
    let pool = WorkerPool::new(4, 4);
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..200u64 {
        let done = done.clone();
        // Handles dropped: the jobs run on, unobserved.
        drop(pool.submit(move || {
            if i % 20 == 0 {
                sched::sleep(Duration::from_millis(1));
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    pool.join();
    assert_eq!(done.load(Ordering::SeqCst), 200);
    pool.join(); // nothing pending: returns at once
}

#[test]
fn dropping_the_pool_returns_at_once_and_queued_jobs_still_run() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let pool = WorkerPool::new(2, 10);
        let (open, gate) = gate();
        let handles: Vec<_> = (0..10u32)
            .map(|i| {
                let gate = gate.clone();
                pool.submit(move || {
                    wait_at(&gate);
                    i
                })
                .unwrap()
            })
            .collect();
        // Dropping must not wait for the jobs, which wait for `open`.
        let (dropped_tx, dropped) = bounded(1);
        go(move || {
            drop(pool);
            dropped_tx.send(()).unwrap();
        });
        recv(&dropped);
        drop(open);
        let results: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results, (0..10).collect::<Vec<_>>());
        wait_for_goroutines(base); // the workers exit once the queue is drained
    });
}

#[test]
fn jobs_park_their_goroutine_and_never_block_the_worker_thread() {
    let _rt = crate::mode::enter();
    // One worker thread; two jobs that need each other to run at once.
    let rt = mode::builder().workers(1).build().unwrap();
    rt.run(|| {
        let pool = WorkerPool::new(2, 0);
        let (ping_tx, ping) = bounded::<u32>(0);
        let (pong_tx, pong) = bounded::<u32>(0);
        let a = pool
            .submit(move || {
                (0..1_000)
                    .map(|i| {
                        ping_tx.send(i).unwrap();
                        pong.recv().unwrap()
                    })
                    .sum::<u32>()
            })
            .unwrap();
        let b = pool
            .submit(move || {
                for v in &ping {
                    pong_tx.send(v + 1).unwrap();
                }
            })
            .unwrap();
        assert_eq!(a.join().unwrap(), (1..=1_000).sum());
        b.join().unwrap();
    });
}

#[test]
fn a_runtime_shutdown_cancels_unfinished_jobs() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    let (running, queued) = rt.run(|| {
        let pool = WorkerPool::new(1, 4);
        let (started_tx, started) = bounded::<()>(1);
        let (forever_tx, forever) = bounded::<()>(0);
        let running = pool
            .submit(move || {
                started_tx.send(()).unwrap();
                let _keep = &forever_tx; // never closes
                forever.recv().unwrap();
            })
            .unwrap();
        let queued = pool.submit(|| ()).unwrap();
        recv(&started);
        (running, queued)
    });
    assert!(!running.is_finished());
    drop(rt); // unwinds the worker parked in the job
    let err = running.join().unwrap_err();
    assert!(err.is_cancelled() && !err.is_panic(), "{err:?}");
    assert!(err.to_string().contains("dropped before it finished"));
    assert!(queued.join().unwrap_err().is_cancelled());
}

#[test]
fn handles_report_when_their_job_is_finished() {
    let _rt = crate::mode::enter();
    let pool = WorkerPool::new(1, 1);
    let (open, gate) = gate();
    let h = pool.submit(move || wait_at(&gate)).unwrap();
    assert!(!h.is_finished());
    drop(open);
    pool.join();
    assert!(h.is_finished());
    h.join().unwrap();
}

#[test]
fn public_types_are_send_and_sync() {
    let _rt = crate::mode::enter();
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<WorkerPool>();
    send_sync::<JobHandle<String>>();
    send::<goro_patterns::JoinError>();
    send_sync::<PoolClosed>();
    send_sync::<ErrGroup<String>>();
    send_sync::<RateLimiter>();
}

#[test]
#[should_panic(expected = "WorkerPool::new: the number of workers must be at least 1")]
fn a_pool_of_no_workers_is_refused() {
    let _rt = crate::mode::enter();
    let _ = WorkerPool::new(0, 1);
}
