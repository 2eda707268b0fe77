//! A guided run of goro: goroutines, channels, `select!` with a timeout, a
//! `WaitGroup`, a worker pool and a pipeline, printing what happens.
//!
//! ```text
//! cargo run --release --example tour
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::patterns::{WorkerPool, generate, stage, stage_ordered};
use goro::prelude::*;

fn main() {
    let start = Instant::now();
    // Go's `func main()`: the body runs as a goroutine, and `run` waits for it.
    goro::run(tour);
    println!("tour: done in {} ms", start.elapsed().as_millis());
}

fn tour() {
    // 1. Goroutines: `go` returns a handle; `join` waits for the result.
    let handles: Vec<JoinHandle<u64>> = (1..=10u64).map(|i| go(move || i * i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("goroutines: 10 goroutines squared 1..=10, sum {sum}");

    // `go!(f(args))` evaluates the arguments here, as Go's `go f(args)`.
    let h = go!(greet(String::from("gopher")));
    println!(
        "goroutines: go!(greet(..)) returned {:?}",
        h.join().unwrap()
    );

    // A panic fails its own handle, not the program (the panic hook still
    // prints it to stderr).
    let err = go(|| -> u64 { panic!("oops") }).join().unwrap_err();
    println!(
        "goroutines: a panicking goroutine's join says {:?}",
        err.to_string()
    );

    // 2. Channels: unbuffered (a rendezvous), closed by the last sender.
    let (tx, rx) = bounded::<u32>(0);
    go(move || {
        for i in 1..=3 {
            tx.send(i).unwrap(); // waits for the receiver each time
        }
    }); // `tx` dropped here: Go's close(ch)
    let got: Vec<u32> = rx.iter().collect(); // for v := range ch
    println!("channels: received {got:?}, then the channel closed");

    // 3. select! with a timeout: a slow reply loses against time::after.
    let (reply_tx, reply) = bounded::<&str>(1);
    go(move || {
        sleep(Duration::from_millis(500));
        let _ = reply_tx.send("too late");
    });
    select! {
        recv(reply) -> v => println!("select: got {:?}", v.unwrap()),
        recv(after(Duration::from_millis(20))) -> _ => {
            println!("select: no reply within 20 ms: timeout");
        }
    }
    // ...and a fast one wins.
    let (reply_tx, reply) = bounded::<&str>(1);
    go(move || reply_tx.send("fast").unwrap());
    select! {
        recv(reply) -> v => println!("select: got {:?} before the timeout", v.unwrap()),
        recv(after(Duration::from_secs(5))) -> _ => println!("select: timeout"),
    }

    // 4. WaitGroup and Mutex: 100 goroutines add to one counter.
    let total = Arc::new(Mutex::new(0u64));
    let wg = WaitGroup::new();
    for i in 1..=100u64 {
        let total = total.clone();
        wg.go(move || *total.lock() += i); // Go 1.25's wg.Go
    }
    wg.wait();
    println!(
        "waitgroup: 100 goroutines added 1..=100 under a Mutex: {}",
        *total.lock()
    );

    // 5. A worker pool: 4 workers, a queue of 8, a handle per job.
    let pool = WorkerPool::new(4, 8);
    let jobs: Vec<_> = (1..=20u64)
        .map(|n| pool.submit(move || n * n * n).unwrap()) // waits while the queue is full
        .collect();
    let cubes: u64 = jobs.into_iter().map(|job| job.join().unwrap()).sum();
    pool.close();
    println!("worker pool: 4 workers ran 20 jobs, sum of cubes {cubes}");

    // 6. A pipeline: generate -> square (3 workers, in order) -> +1 (2 workers).
    let squares = stage_ordered(generate(1..=8u64), 3, |x| x * x);
    let ordered: Vec<u64> = squares.iter().collect();
    println!("pipeline: squares of 1..=8 in order: {ordered:?}");
    let mut plus_one: Vec<u64> = stage(generate(ordered), 2, |x| x + 1).iter().collect();
    plus_one.sort_unstable(); // `stage` keeps no order
    println!("pipeline: plus one, sorted: {plus_one:?}");

    // Stopping by drop: an endless pipeline stops once its output is dropped.
    let before = goro::num_goroutines();
    let naturals = stage_ordered(generate(1u64..), 2, |x| x * 2);
    let first: Vec<u64> = naturals.iter().take(3).collect();
    drop(naturals);
    let deadline = Instant::now() + Duration::from_secs(10);
    while goro::num_goroutines() > before && Instant::now() < deadline {
        sleep(Duration::from_millis(1));
    }
    let left = goro::num_goroutines().saturating_sub(before);
    println!("pipeline: an endless stream gave {first:?}; dropped, {left} goroutines left");

    // 7. Context: cancelling wakes every goroutine waiting on ctx.done().
    let (ctx, cancel) = Context::with_cancel(&Context::background());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let ctx = ctx.clone();
            go(move || {
                ctx.done().recv().ok();
                ctx.err()
            })
        })
        .collect();
    cancel.cancel();
    let woken = waiters
        .into_iter()
        .filter_map(|w| w.join().unwrap())
        .count();
    println!("context: cancel() woke {woken} waiting goroutines");

    // 8. Testing in virtual time (Go's testing/synctest): in a bubble the
    // clock moves only when every goroutine of it waits, straight to the
    // next timer. A day of a ticker takes no time, and the count is exact.
    let (ticks, elapsed) = goro::test::run(|| {
        let start = goro::time::now();
        let ticker = goro::time::Ticker::new(Duration::from_secs(60));
        let mut ticks = 0;
        while goro::time::now() - start < Duration::from_secs(24 * 3600) {
            ticker.chan().recv().unwrap();
            ticks += 1;
        }
        (ticks, goro::time::now() - start)
    });
    println!(
        "virtual time: a 1-minute ticker ticked {ticks} times in {} virtual hours",
        elapsed.as_secs() / 3600
    );
}

fn greet(name: String) -> String {
    format!("hello, {name}")
}
