//! Time channels: after, tick, Timer, Ticker, after_func (generous bounds:
//! they catch hangs and wrong semantics, not timing).

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_chan::time::{Ticker, Timer, after, after_func, tick};
use goro_chan::{RecvTimeoutError, TryRecvError, select};

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

/// `after(ZERO)` (and a timer of zero) is ready at once: a `select!` with a
/// default sees it (issue 17: it took the default 90 times in 100).
#[test]
fn a_zero_duration_is_ready_at_once() {
    let _rt = crate::mode::enter();
    for _ in 0..100 {
        let got = select! {
            recv(after(Duration::ZERO)) -> v => v.is_ok(),
            default => false,
        };
        assert!(got, "after(ZERO) was not ready");
        let timer = Timer::new(Duration::ZERO);
        assert!(timer.chan().try_recv().is_ok());
        timer.reset(Duration::ZERO);
        assert!(timer.chan().try_recv().is_ok());
    }
}

/// Go 1.23's timer channels: once `stop` or `reset` returns, nothing from
/// before the call is received, even when the timer had fired and its
/// value sat unreceived; and `stop` says true then (not received yet).
#[test]
fn stop_and_reset_leave_no_stale_value() {
    let _rt = crate::mode::enter();
    for round in 0..200u32 {
        let timer = Timer::new(Duration::from_micros(u64::from(round % 5) * 20));
        // Let it fire, or not, around the stop.
        if round % 2 == 0 {
            std::thread::sleep(Duration::from_micros(50));
        }
        let start = Instant::now();
        if round % 3 == 0 {
            timer.stop();
            assert!(timer.chan().try_recv().is_err(), "a stale value after stop");
        } else {
            timer.reset(Duration::from_secs(3600));
            assert!(
                timer.chan().try_recv().is_err(),
                "a stale value after reset"
            );
            assert!(timer.stop());
        }
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    // Fired and not received: `stop` reports it pending, and takes it.
    let timer = Timer::new(Duration::from_millis(1));
    while timer.chan().is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        timer.stop(),
        "fired but not received: still pending, as Go 1.23"
    );
    assert!(timer.chan().try_recv().is_err());
    // Received: `stop` says false.
    let timer = Timer::new(Duration::from_millis(1));
    timer.chan().recv().unwrap();
    assert!(!timer.stop());
    // A ticker's stop and reset as well.
    let ticker = Ticker::new(Duration::from_millis(1));
    ticker.chan().recv().unwrap();
    while ticker.chan().is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
    ticker.stop();
    assert!(ticker.chan().try_recv().is_err(), "a stale tick after stop");
    ticker.reset(Duration::from_secs(3600));
    assert!(ticker.chan().try_recv().is_err());
}

/// `at(instant)` (crossbeam-channel's): once at the instant, at once if it
/// has passed; `after`, `at` and `tick` are at the crate's root as there.
#[test]
fn at_fires_once_at_its_instant() {
    let _rt = crate::mode::enter();
    let when = Instant::now() + 2 * MS;
    let rx = goro_chan::at(when);
    let fired = rx.recv().unwrap();
    assert!(fired >= when);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let passed = goro_chan::at(Instant::now() - MS);
    assert!(
        passed.try_recv().is_ok(),
        "a passed instant is ready at once"
    );
    assert!(goro_chan::after(MS).recv().is_ok());
    assert!(goro_chan::tick(MS).recv().is_ok());
}
