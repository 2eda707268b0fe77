//! Virtual time: `goro::test::run` bubbles (issue 19), Go's
//! `testing/synctest`. Every figure below is exact: a bubble's clock moves
//! only by jumps to the next timer, so the times a test reads are the same
//! on every run, however loaded the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::chan::{RecvTimeoutError, bounded};
use goro::context::{Context, ContextError};
use goro::patterns::RateLimiter;
use goro::sync::{Condvar, Mutex, WaitGroup};
use goro::time::{Ticker, now};

mod common;
use common::panic_message;

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn an_hour_long_context_deadline_fires_at_exactly_an_hour() {
    let real = Instant::now();
    let (elapsed, err) = goro::test::run(|| {
        let start = now();
        let (ctx, _cancel) = Context::with_timeout(&Context::background(), HOUR);
        assert!(ctx.done().recv().is_err(), "done closes at the deadline");
        (now() - start, ctx.err())
    });
    assert_eq!(elapsed, HOUR);
    assert_eq!(err, Some(ContextError::DeadlineExceeded));
    // Generous: an hour of virtual time must not be an hour of real time.
    assert!(
        real.elapsed() < Duration::from_secs(30),
        "{:?}",
        real.elapsed()
    );
    eprintln!("1 h context deadline: {:?} of real time", real.elapsed());
}

#[test]
fn a_one_second_ticker_ticks_86400_times_a_day() {
    let real = Instant::now();
    let (ticks, last, elapsed) = goro::test::run(|| {
        let start = now();
        let ticker = Ticker::new(Duration::from_secs(1));
        let mut ticks = 0u64;
        let mut last = start;
        while now() - start < Duration::from_secs(86_400) {
            let at = ticker.chan().recv().unwrap();
            assert_eq!(at, now(), "a tick carries the instant it was due");
            assert_eq!(at - last, Duration::from_secs(1), "tick {ticks}");
            last = at;
            ticks += 1;
        }
        ticker.stop();
        (ticks, last - start, now() - start)
    });
    assert_eq!(ticks, 86_400);
    assert_eq!(last, Duration::from_secs(86_400));
    assert_eq!(elapsed, Duration::from_secs(86_400));
    eprintln!("86,400 ticks: {:?} of real time", real.elapsed());
}

#[test]
fn a_rate_limiter_admits_exactly_its_rate_over_ten_minutes() {
    // 100 a second with a burst of 1, shared by 8 goroutines: admissions at
    // 0, 10 ms, 20 ms...; over 10 minutes, [0, 600 s), exactly 60,000.
    let admitted = goro::test::run(|| {
        let limiter = Arc::new(RateLimiter::new(100.0, 1));
        let start = now();
        let end = start + Duration::from_secs(600);
        let admitted = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, admitted) = (limiter.clone(), admitted.clone());
                goro::go(move || {
                    loop {
                        limiter.wait();
                        if now() >= end {
                            break;
                        }
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        admitted.load(Ordering::Relaxed)
    });
    assert_eq!(admitted, 60_000);
}

#[test]
fn a_deadlocked_bubble_panics_with_the_report_and_the_dump() {
    let payload = std::panic::catch_unwind(|| {
        goro::test::run(|| {
            let (tx, rx) = bounded::<u32>(0);
            let stuck = goro::Builder::new()
                .name("stuck-receiver")
                .go(move || rx.recv())
                .unwrap();
            goro::sleep(HOUR); // time still moves while a timer is pending
            let r = stuck.join(); // now nothing can move: deadlock
            drop(tx);
            r
        })
    })
    .unwrap_err();
    let msg = panic_message(payload);
    assert!(
        msg.starts_with("all goroutines in the bubble are asleep - deadlock!"),
        "{msg}"
    );
    assert!(msg.contains("\"stuck-receiver\" [chan receive"), "{msg}");
    assert!(msg.contains("[join, "), "{msg}");
}

#[test]
fn goroutines_left_when_the_closure_returns_are_listed() {
    let payload = std::panic::catch_unwind(|| {
        goro::test::run(|| {
            let (tx, rx) = bounded::<()>(0);
            drop(
                goro::Builder::new()
                    .name("leaked")
                    .go(move || {
                        let _ = rx.recv();
                    })
                    .unwrap(),
            );
            std::mem::forget(tx); // the receiver waits for good
        })
    })
    .unwrap_err();
    let msg = panic_message(payload);
    assert!(msg.contains("still alive"), "{msg}");
    assert!(msg.contains("\"leaked\" [chan receive"), "{msg}");
}

#[test]
fn goroutines_that_finish_before_the_closure_returns_are_no_leak() {
    // Spawned and not joined, but done once everything blocks: fine.
    let n = goro::test::run(|| {
        let count = Arc::new(AtomicUsize::new(0));
        for _ in 0..1000 {
            let count = count.clone();
            drop(goro::go(move || {
                count.fetch_add(1, Ordering::Relaxed);
            }));
        }
        goro::test::wait();
        count.load(Ordering::Relaxed)
    });
    assert_eq!(n, 1000);
}

#[test]
fn wait_returns_once_the_others_block_without_moving_the_clock() {
    goro::test::run(|| {
        let start = now();
        let (tx, rx) = bounded::<u64>(0);
        let stages = Arc::new(AtomicUsize::new(0));
        let s = stages.clone();
        let h = goro::go(move || {
            s.store(1, Ordering::SeqCst);
            let v = rx.recv().unwrap(); // blocks: wait returns
            s.store(2, Ordering::SeqCst);
            goro::sleep(Duration::from_secs(5)); // blocks on a timer
            s.store(3, Ordering::SeqCst);
            v
        });
        goro::test::wait();
        assert_eq!(stages.load(Ordering::SeqCst), 1);
        tx.send(7).unwrap();
        goro::test::wait();
        assert_eq!(stages.load(Ordering::SeqCst), 2);
        assert_eq!(now(), start, "wait does not move the clock");
        assert_eq!(h.join().unwrap(), 7);
        assert_eq!(now() - start, Duration::from_secs(5));
    });
}

#[test]
fn sleepers_wake_in_deadline_order_at_their_exact_times() {
    // 10,000 goroutines sleep pseudo-random whole milliseconds; each records
    // the clock when it wakes: exactly its deadline, every one.
    let (sum, wrong, elapsed) = goro::test::run(|| {
        let start = now();
        let sum = Arc::new(AtomicU64::new(0));
        let wrong = Arc::new(AtomicU64::new(0));
        let wg = WaitGroup::new();
        for i in 0..10_000u64 {
            let (sum, wrong, wg) = (sum.clone(), wrong.clone(), wg.clone());
            wg.add(1);
            goro::go(move || {
                let ms = (i * 7919) % 100_000;
                goro::sleep(Duration::from_millis(ms));
                if now() - start != Duration::from_millis(ms) {
                    wrong.fetch_add(1, Ordering::Relaxed);
                }
                sum.fetch_add(ms, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait();
        (
            sum.load(Ordering::Relaxed),
            wrong.load(Ordering::Relaxed),
            now() - start,
        )
    });
    let expected: u64 = (0..10_000u64).map(|i| (i * 7919) % 100_000).sum();
    assert_eq!(sum, expected);
    assert_eq!(wrong, 0);
    let latest = (0..10_000u64).map(|i| (i * 7919) % 100_000).max().unwrap();
    assert_eq!(elapsed, Duration::from_millis(latest));
}

#[test]
fn every_timeout_of_the_api_runs_on_the_bubble_clock() {
    goro::test::run(|| {
        let start = now();
        // Channel receive and send timeouts.
        let (tx, rx) = bounded::<u8>(0);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(60)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(now() - start, Duration::from_secs(60));
        assert!(tx.send_timeout(1, Duration::from_secs(60)).is_err());
        assert_eq!(now() - start, Duration::from_secs(120));
        // select! with a timeout.
        let timed_out = goro::select! {
            recv(rx) -> _ => false,
            default(Duration::from_secs(30)) => true,
        };
        assert!(timed_out);
        assert_eq!(now() - start, Duration::from_secs(150));
        // Time channels.
        let at = goro::time::after(Duration::from_secs(10)).recv().unwrap();
        assert_eq!(at - start, Duration::from_secs(160));
        assert_eq!(now() - start, Duration::from_secs(160));
        // Condvar::wait_timeout.
        let m = Mutex::new(false);
        let cv = Condvar::new();
        let guard = m.lock();
        let (_guard, result) = cv.wait_timeout(guard, Duration::from_secs(40));
        assert!(result.timed_out());
        assert_eq!(now() - start, Duration::from_secs(200));
    });
}

#[test]
fn a_blocking_call_keeps_the_clock_still() {
    // One goroutine waits for a blocking call (real time, outside the
    // bubble) while another sleeps an hour: the hour may not pass until the
    // call is back.
    goro::test::run(|| {
        let start = now();
        let sleeper = goro::go(move || {
            goro::sleep(HOUR);
            now() - start
        });
        goro::blocking(|| std::thread::sleep(Duration::from_millis(20)));
        assert_eq!(now(), start, "the clock stood still during the call");
        assert_eq!(sleeper.join().unwrap(), HOUR);
    });
}

#[test]
fn bubbles_are_independent_and_the_real_clock_stays_real() {
    let real = Instant::now();
    let handles: Vec<_> = (1..=4u64)
        .map(|h| {
            std::thread::spawn(move || {
                goro::test::run(move || {
                    let start = now();
                    goro::sleep(HOUR * h as u32);
                    now() - start
                })
            })
        })
        .collect();
    for (h, handle) in (1..=4u32).zip(handles) {
        assert_eq!(handle.join().unwrap(), HOUR * h);
    }
    // Outside a bubble, `now` is the real clock.
    let before = Instant::now();
    let n = now();
    assert!(n >= before && n <= Instant::now());
    assert!(real.elapsed() < Duration::from_secs(30));
}

#[test]
fn wait_outside_a_bubble_panics_with_a_clear_message() {
    let msg = panic_message(
        std::thread::spawn(goro::test::wait)
            .join()
            .expect_err("outside a bubble"),
    );
    assert!(msg.contains("goro::test::run bubble"), "{msg}");
}
