//! Stack traces in dumps (issue 19): `dump_with_backtraces` resumes each
//! parked goroutine into a capture on its own stack and parks it again.
//! That must be invisible to the goroutine: no lost or doubled wake-up, no
//! spurious return from a channel operation, even while traffic flows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use goro::chan::bounded;

#[inline(never)]
fn blocked_in_a_named_frame(rx: goro::chan::Receiver<u64>) -> u64 {
    rx.recv().unwrap()
}

#[test]
fn a_parked_goroutines_trace_shows_its_own_frames() {
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let h = rt.go(move || blocked_in_a_named_frame(rx));
    while !rt.dump().contains("[chan receive, ") {
        std::thread::yield_now();
    }
    let dump = rt.dump_with_backtraces();
    assert!(dump.contains("blocked_in_a_named_frame"), "{dump}");
    // The capture's own frames are trimmed.
    assert!(!dump.contains("force_capture"), "{dump}");
    // The goroutine is where it was, and still gets its value.
    let plain = rt.dump();
    assert!(plain.contains("[chan receive, "), "{plain}");
    tx.send(42).unwrap();
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn traces_taken_during_traffic_lose_and_double_nothing() {
    // Pairs of goroutines ping-pong over unbuffered channels (each message
    // a wake-up racing the dumps' claims) while a thread dumps with traces
    // 20 times: every value arrives once, in order.
    const PAIRS: u64 = 32;
    const DUMPS: u32 = 20;
    let rt = Arc::new(goro::Runtime::builder().workers(2).build().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let dumper = {
        let (stop, rt) = (stop.clone(), rt.clone());
        std::thread::spawn(move || {
            // Once the traffic flows (some goroutine waits on a channel).
            while !rt.dump().contains("[chan ") {
                std::thread::yield_now();
            }
            let mut traced = 0;
            for _ in 0..DUMPS {
                let d = rt.dump_with_backtraces();
                traced += d.matches("traffic_lose_and_double_nothing").count();
            }
            stop.store(true, Ordering::Release);
            traced
        })
    };
    let results = rt.run(move || {
        let handles: Vec<_> = (0..PAIRS)
            .map(|p| {
                let stop = stop.clone();
                goro::go(move || {
                    let (ping_tx, ping_rx) = bounded::<u64>(0);
                    let (pong_tx, pong_rx) = bounded::<u64>(0);
                    let echo = goro::go(move || {
                        for v in ping_rx {
                            pong_tx.send(v + 1).unwrap();
                        }
                    });
                    let (mut sum, mut rounds) = (0u64, 0u64);
                    while !stop.load(Ordering::Acquire) || rounds < 100 {
                        let v = (p << 32) + rounds;
                        ping_tx.send(v).unwrap();
                        assert_eq!(pong_rx.recv().unwrap(), v + 1);
                        sum += v + 1;
                        rounds += 1;
                    }
                    drop(ping_tx);
                    echo.join().unwrap();
                    (p, rounds, sum)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let traced = dumper.join().unwrap();
    let mut total = 0;
    for (p, rounds, sum) in results {
        let expected: u64 = (0..rounds).map(|i| (p << 32) + i + 1).sum();
        assert_eq!(sum, expected, "pair {p}");
        total += rounds;
    }
    eprintln!(
        "{total} round trips; {traced} traced frames of the test's goroutines in {DUMPS} dumps"
    );
    assert!(traced > 0, "the dumps traced the goroutines");
}
