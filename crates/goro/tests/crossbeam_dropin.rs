//! A program written for crossbeam-channel, compiled against `goro::chan`
//! with only its `use` line changed (and `Disconnected` read as `Closed`):
//! issue 17's drop-in promise, checked through the facade.

// crossbeam's: use crossbeam_channel::{after, bounded, select, tick, unbounded, ...};
use goro::chan::{
    ReadyTimeoutError, Receiver, RecvTimeoutError, Select, Sender, TryReadyError, TryRecvError,
    after, at, bounded, never, select, select_biased, tick, unbounded,
};
use std::time::{Duration, Instant};

/// Fans `n` numbers out to workers over one channel and back over another,
/// with a ticker and a timeout in the collecting `select!`.
fn fan(n: u64, workers: usize) -> u64 {
    let (jobs_tx, jobs_rx): (Sender<u64>, Receiver<u64>) = bounded(16);
    let (results_tx, results_rx) = unbounded::<u64>();
    let mut threads = Vec::new();
    for _ in 0..workers {
        let (jobs_rx, results_tx) = (jobs_rx.clone(), results_tx.clone());
        threads.push(std::thread::spawn(move || {
            for j in jobs_rx.iter() {
                results_tx.send(j * 2).unwrap();
            }
        }));
    }
    drop(results_tx);
    std::thread::spawn(move || {
        for i in 0..n {
            jobs_tx.send(i).unwrap();
        }
    });
    let ticker = tick(Duration::from_millis(1));
    let deadline = after(Duration::from_secs(60));
    let mut sum = 0;
    loop {
        select! {
            recv(results_rx) -> r => match r {
                Ok(v) => sum += v,
                Err(_) => break,
            },
            recv(ticker) -> _ => {}
            recv(deadline) -> _ => panic!("timed out"),
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    sum
}

#[test]
fn a_crossbeam_program_runs_on_goro_chan() {
    let n = 10_000;
    assert_eq!(fan(n, 4), n * (n - 1));
    // And as goroutines (their threads parked, not blocked).
    assert_eq!(goro::run(move || fan(n, 4)), n * (n - 1));
}

#[test]
fn crossbeam_readiness_and_errors_through_the_facade() {
    let (tx, rx) = bounded::<i32>(1);
    let mut sel = Select::new();
    let i = sel.recv(&rx);
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    assert_eq!(
        sel.ready_timeout(Duration::from_millis(1)),
        Err(ReadyTimeoutError)
    );
    tx.send(1).unwrap();
    assert_eq!(sel.ready(), i);
    assert_eq!(rx.try_recv(), Ok(1));
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let r = never::<i32>();
    assert_eq!(
        r.recv_deadline(Instant::now() + Duration::from_millis(1)),
        Err(RecvTimeoutError::Timeout)
    );
    let soon = at(Instant::now());
    let v = select_biased! {
        recv(soon) -> _ => 1,
        default(Duration::from_secs(60)) => 2,
    };
    assert_eq!(v, 1);
}
