//! Time channels: after, tick, Timer, Ticker, after_func (generous bounds:
//! they catch hangs and wrong semantics, not timing).

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_chan::time::{Ticker, Timer, after, after_func, tick};
use goro_chan::{RecvTimeoutError, TryRecvError};

const MS: Duration = Duration::from_millis(1);

#[test]
fn after_delivers_once_and_never_closes() {
    let _rt = crate::mode::enter();
    let start = Instant::now();
    let rx = after(10 * MS);
    let at = rx.recv().unwrap();
    assert!(at >= start + 10 * MS);
    assert!(start.elapsed() >= 10 * MS);
    assert_eq!(rx.recv_timeout(20 * MS), Err(RecvTimeoutError::Timeout));
    assert!(!rx.is_closed());
}

#[test]
fn after_works_inside_goroutines() {
    let _rt = crate::mode::enter();
    let waited = goro_sched::run(|| {
        let start = Instant::now();
        after(5 * MS).recv().unwrap();
        start.elapsed()
    });
    assert!(waited >= 5 * MS);
}

#[test]
fn tick_ticks_and_a_slow_receiver_misses_ticks() {
    let _rt = crate::mode::enter();
    let rx = tick(2 * MS);
    let mut last = Instant::now();
    for _ in 0..5 {
        let t = rx.recv().unwrap();
        assert!(t >= last);
        last = t;
    }
    // Do not receive for a while: at most one tick waits (no burst).
    std::thread::sleep(30 * MS);
    assert!(rx.len() <= 1);
}

#[test]
fn timer_stop_and_reset_report_whether_it_was_pending() {
    let _rt = crate::mode::enter();
    let timer = Timer::new(Duration::from_secs(3600));
    assert!(timer.stop());
    assert!(!timer.stop());
    assert_eq!(timer.chan().try_recv(), Err(TryRecvError::Empty));
    assert!(!timer.reset(2 * MS), "it was stopped");
    timer.chan().recv().unwrap();
    assert!(!timer.stop(), "it fired");
    assert!(!timer.reset(Duration::from_secs(3600)));
    assert!(timer.reset(2 * MS), "pending when reset");
    timer.chan().recv().unwrap();
}

#[test]
fn ticker_stop_and_reset() {
    let _rt = crate::mode::enter();
    let ticker = Ticker::new(MS);
    ticker.chan().recv().unwrap();
    ticker.stop();
    // Drain what was already sent, then nothing more comes.
    while ticker.chan().try_recv().is_ok() {}
    assert!(ticker.chan().recv_timeout(20 * MS).is_err());
    ticker.reset(2 * MS);
    ticker.chan().recv().unwrap();
    ticker.chan().recv().unwrap();
}

#[test]
fn after_func_runs_in_its_own_goroutine_and_can_be_reset() {
    let _rt = crate::mode::enter();
    let runs = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = goro_chan::unbounded();
    let r = runs.clone();
    let timer = after_func(2 * MS, move || {
        r.fetch_add(1, Ordering::SeqCst);
        tx.send(goro_sched::id().is_some()).unwrap();
    });
    assert_eq!(rx.recv(), Ok(true), "ran in a goroutine");
    assert!(!timer.stop());
    timer.reset(2 * MS);
    assert_eq!(rx.recv(), Ok(true));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let stopped = after_func(Duration::from_secs(3600), || unreachable!());
    assert!(stopped.stop());
}

#[test]
fn many_timers_fire() {
    let _rt = crate::mode::enter();
    let rxs: Vec<_> = (0..1000)
        .map(|i| after(Duration::from_millis(i % 20)))
        .collect();
    for rx in rxs {
        rx.recv().unwrap();
    }
}
