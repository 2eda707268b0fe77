//! Go's concurrent prime sieve: a generator goroutine and a chain of filter
//! goroutines, one per prime found, joined by unbuffered channels.
//!
//! ```text
//! cargo run --release --example prime_sieve [N]     # the first N primes (default 100)
//! ```
//!
//! The Go original (go.dev/doc/play/sieve.go) leaks its goroutines when
//! `main` returns. Here they stop by drop: when `main` drops the last
//! channel, the last filter's send fails, it returns and drops its input,
//! and so on down the chain.

use std::time::{Duration, Instant};

use goro::chan::{Receiver, Sender, bounded};

/// Sends 2, 3, 4, ... to `ch` until nobody listens.
fn generate(ch: Sender<u64>) {
    for i in 2.. {
        if ch.send(i).is_err() {
            return;
        }
    }
}

/// Copies the values from `input` to `out`, removing those divisible by
/// `prime`.
fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in &input {
        if !i.is_multiple_of(prime) && out.send(i).is_err() {
            return;
        }
    }
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 100,
        Some(arg) => arg.parse().unwrap_or_else(|_| {
            eprintln!("usage: prime_sieve [N]  (N: how many primes, default 100)");
            std::process::exit(2)
        }),
    };
    goro::run(move || {
        let before = goro::num_goroutines();
        let (tx, mut ch) = bounded(0);
        goro::go!(generate(tx));
        let mut primes = Vec::with_capacity(n);
        for _ in 0..n {
            let prime = ch.recv().expect("the generator never stops");
            primes.push(prime);
            let (tx1, ch1) = bounded(0);
            goro::go!(filter(ch, tx1, prime));
            ch = ch1;
        }
        let started = goro::num_goroutines() - before;
        let line: Vec<String> = primes.iter().map(u64::to_string).collect();
        println!("first {n} primes: {}", line.join(" "));

        // Stop by drop: the chain unwinds from its end.
        drop(ch);
        let deadline = Instant::now() + Duration::from_secs(10);
        while goro::num_goroutines() > before && Instant::now() < deadline {
            goro::sleep(Duration::from_millis(1));
        }
        let left = goro::num_goroutines() - before;
        println!("goroutines: {started} started (1 generator, {n} filters), {left} left");
    });
}
