//! Go by Example's rate limiting, twice: first with a ticker channel
//! (`time::tick`), as the Go example does, then with
//! `goro::patterns::RateLimiter`, a token bucket like Go's
//! `golang.org/x/time/rate`, shared by several goroutines.
//!
//! ```text
//! cargo run --release --example rate_limit [REQUESTS] [PER_SECOND] [BURST]   # default 20 100 5
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::chan::bounded;
use goro::patterns::RateLimiter;
use goro::sync::WaitGroup;
use goro::time::tick;

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    match std::env::args().nth(i) {
        None => default,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: rate_limit [REQUESTS] [PER_SECOND] [BURST]");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let requests: usize = arg(1, 20);
    let per_second: f64 = arg(2, 100.0);
    let burst: usize = arg(3, 5);
    if requests == 0 || burst == 0 || per_second.is_nan() || per_second <= 0.0 {
        eprintln!("rate_limit: REQUESTS, PER_SECOND and BURST must be positive");
        std::process::exit(2);
    }
    goro::run(move || {
        ticker_limited(5, Duration::from_millis(20));
        bucket_limited(requests, per_second, burst);
    });
}

/// Go by Example's first limiter: each request waits for the next tick.
fn ticker_limited(requests: usize, every: Duration) {
    let (tx, rx) = bounded(requests);
    for i in 1..=requests {
        tx.send(i).unwrap();
    }
    drop(tx); // close(requests)

    let start = Instant::now();
    let limiter = tick(every);
    for request in &rx {
        limiter.recv().unwrap(); // <-limiter
        println!(
            "tick: request {request} at +{} ms",
            start.elapsed().as_millis()
        );
    }
    println!(
        "tick: {requests} requests in {} ms (one per {} ms)",
        start.elapsed().as_millis(),
        every.as_millis()
    );
}

/// A token bucket shared by 4 goroutines: the first `burst` requests go at
/// once, the rest at `per_second`.
fn bucket_limited(requests: usize, per_second: f64, burst: usize) {
    // allow() never waits: from a full bucket, exactly `burst` succeed now.
    let limiter = RateLimiter::new(per_second, burst);
    let allowed = (0..burst * 2).filter(|_| limiter.allow()).count();
    println!(
        "limiter: allow() let {allowed} of {} immediate requests through (burst {burst})",
        burst * 2
    );

    let start = Instant::now();
    let limiter = Arc::new(RateLimiter::new(per_second, burst));
    let (tx, rx) = bounded::<usize>(0);
    let wg = WaitGroup::new();
    for worker in 0..4 {
        let (rx, limiter) = (rx.clone(), limiter.clone());
        wg.go(move || {
            for request in &rx {
                limiter.wait();
                let at = start.elapsed().as_millis();
                println!("limiter: request {request} served by goroutine {worker} at +{at} ms");
            }
        });
    }
    for request in 1..=requests {
        tx.send(request).unwrap();
    }
    drop(tx);
    wg.wait();
    // The bucket's promise: at most `burst + per_second * t` tokens in `t`.
    let floor = requests.saturating_sub(burst) as f64 / per_second * 1000.0;
    println!(
        "limiter: {requests} requests in {} ms at {per_second}/s with bursts of {burst} \
         (the bucket allows no less than {floor:.0} ms)",
        start.elapsed().as_millis()
    );
}
