//! `goro::test::assert_no_leaks`: Go's `goleak` for a closure (issue 19,
//! "Leaks"). The goroutines a closure starts, transitively, must be done
//! when it returns (or soon after); those still running fail the check,
//! listed with where they wait.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro::chan::bounded;
use goro::test::{assert_no_leaks, assert_no_leaks_within};

fn message(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map_or_else(String::new, |s| (*s).to_owned()),
    }
}

#[test]
fn goroutines_that_finish_pass_and_the_result_comes_back() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let sum = assert_no_leaks(move || {
        // A tree of goroutines, some still finishing when the closure
        // returns (detached): waited for, not reported.
        let (tx, rx) = bounded::<u64>(0);
        for i in 0..100u64 {
            let (tx, d) = (tx.clone(), d.clone());
            drop(goro::go(move || {
                let inner = goro::go(move || i * 2);
                tx.send(inner.join().unwrap()).unwrap();
                goro::sleep(Duration::from_millis(5));
                d.fetch_add(1, Ordering::SeqCst);
            }));
        }
        drop(tx);
        rx.iter().sum::<u64>()
    });
    assert_eq!(sum, 9900);
    // Every one had finished before the check passed.
    assert_eq!(done.load(Ordering::SeqCst), 100);
}

#[test]
fn a_leaked_grandchild_fails_with_where_it_waits() {
    let (keep_tx, keep_rx) = bounded::<()>(0);
    let leak = catch_unwind(AssertUnwindSafe(|| {
        assert_no_leaks_within(Duration::from_millis(50), move || {
            let child = goro::go(move || {
                // Detached, waiting for a value that never comes.
                drop(
                    goro::Builder::new()
                        .name("leaker")
                        .go(move || keep_rx.recv())
                        .unwrap(),
                );
            });
            child.join().unwrap();
        });
    }));
    let msg = message(leak.unwrap_err());
    assert!(msg.contains("1 goroutines still running"), "{msg}");
    assert!(msg.contains("\"leaker\" [chan receive"), "{msg}");
    assert!(msg.contains("at crates/goro/tests/leaks.rs:"), "{msg}");
    // Released: the leaked goroutine ends.
    drop(keep_tx);
}

#[test]
fn goroutines_started_before_are_not_the_closures() {
    let (stop_tx, stop_rx) = bounded::<()>(0);
    let outside = goro::go(move || stop_rx.recv());
    assert_no_leaks_within(Duration::from_millis(50), || goro::go(|| 1).join().unwrap());
    drop(stop_tx);
    assert!(outside.join().unwrap().is_err());
}

#[test]
fn the_closures_panic_comes_through() {
    let p = catch_unwind(|| assert_no_leaks(|| panic!("in the closure")));
    assert_eq!(message(p.unwrap_err()), "in the closure");
}

#[test]
fn from_a_goroutine_too() {
    let n = goro::run(|| {
        assert_no_leaks(|| {
            let hs: Vec<_> = (0..10).map(|i| goro::go(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
        })
    });
    assert_eq!(n, 45);
}
