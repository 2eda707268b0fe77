//! may's side of the side-by-side workloads: the same work as may's stackful
//! coroutines (one worker per CPU, as goro's default).
//!
//! may has only unbounded channels, so the channel workloads use them where
//! goro and Go use unbuffered or bounded ones (the harness says so under the
//! table). There is no `select`: `may::select!` runs each arm in a coroutine
//! of its own, and an arm that has received when another wins is cancelled
//! with its value, so with several channels ready it loses messages (8
//! messages on 4 channels: 2 selected, then the consumer waits forever).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_benches::{Hog, Lags, MUTEX_INCREMENTS, Memory, TICK};
use may::coroutine::{self, Coroutine};
use may::sync::{Mutex, mpmc, mpsc};

fn main() {
    let (workload, n) = goro_benches::args(
        "bench-may",
        &[
            "spawn",
            "skynet",
            "pingpong",
            "ring",
            "mpmc",
            "mutex",
            "memory",
            "hogs",
            "hogs-sleep",
            "hogs-read",
            "hogs-net",
        ],
    );
    // Counted here: may pins its workers to one CPU each, and a count taken
    // on one of them would be 1.
    let cpus = goro_benches::hog_count();
    may::config().set_workers(cpus as usize);
    // Every workload runs in a coroutine, as goro's and Go's run in a
    // goroutine.
    fn on_may<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        may::go!(f).join().unwrap()
    }
    match workload.as_str() {
        "spawn" => goro_benches::report(|| on_may(move || spawn(n))),
        "skynet" => goro_benches::report(|| {
            on_may(move || {
                let (tx, rx) = mpsc::channel();
                may::go!(move || skynet(tx, 0, n, 10));
                rx.recv().unwrap()
            })
        }),
        "pingpong" => goro_benches::report(|| on_may(move || pingpong(n))),
        "ring" => goro_benches::report(|| on_may(move || ring(n))),
        "mpmc" => goro_benches::report(|| on_may(move || mpmc(n))),
        "mutex" => goro_benches::report(|| on_may(move || mutex(n))),
        "memory" => goro_benches::report_with(|| on_may(move || memory(n))),
        hogs => {
            let kind = Hog::of(hogs).unwrap();
            goro_benches::report_with(|| on_may(move || hog_run(kind, n, cpus)));
        }
    }
}

/// Waits for `n` calls to `done` from other coroutines (may's `WaitGroup`
/// takes a lock per member; this is the latch goro's side uses).
#[derive(Debug)]
struct Latch {
    remaining: AtomicU64,
    waiter: Coroutine,
}

impl Latch {
    /// A latch for the calling coroutine, leaked for the process (as Go's
    /// closures capture their `WaitGroup`).
    fn leak(n: u64) -> &'static Latch {
        Box::leak(Box::new(Latch {
            remaining: AtomicU64::new(n),
            waiter: coroutine::current(),
        }))
    }

    fn done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waiter.unpark();
        }
    }

    fn wait(&self) {
        while self.remaining.load(Ordering::Acquire) != 0 {
            coroutine::park();
        }
    }
}

/// `n` coroutines each bump a counter; the spawner waits for all.
fn spawn(n: u64) -> u64 {
    let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let latch = Latch::leak(n);
    for _ in 0..n {
        may::go!(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            latch.done();
        });
    }
    latch.wait();
    counter.load(Ordering::Relaxed)
}

/// Skynet as Go writes it, over may's (unbounded) channels.
fn skynet(c: mpsc::Sender<u64>, num: u64, size: u64, div: u64) {
    if size == 1 {
        c.send(num).unwrap();
        return;
    }
    let (tx, rx) = mpsc::channel();
    let sub = size / div;
    for i in 0..div {
        let tx = tx.clone();
        may::go!(move || skynet(tx, num + i * sub, sub, div));
    }
    drop(tx);
    let sum: u64 = (0..div).map(|_| rx.recv().unwrap()).sum();
    c.send(sum).unwrap();
}

/// `n` round trips between two coroutines over two channels.
fn pingpong(n: u64) -> u64 {
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let echo = may::go!(move || {
        for v in ping_rx.iter() {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let mut sum = 0;
    for i in 0..n {
        ping_tx.send(i).unwrap();
        sum += pong_rx.recv().unwrap();
    }
    drop(ping_tx);
    echo.join().unwrap();
    sum
}

/// 503 coroutines in a ring pass a token `n` times.
fn ring(n: u64) -> u64 {
    const RING: u64 = 503;
    let (done_tx, done_rx) = mpsc::channel::<u64>();
    let (first_tx, first_rx) = mpsc::channel::<u64>();
    let mut inbox = first_rx;
    for id in 1..RING {
        let (tx, rx) = mpsc::channel();
        let done = done_tx.clone();
        let mine = std::mem::replace(&mut inbox, rx);
        may::go!(move || pass(id, mine, tx, done));
    }
    let back_to_first = first_tx.clone();
    may::go!(move || pass(RING, inbox, back_to_first, done_tx));
    first_tx.send(n).unwrap();
    drop(first_tx);
    done_rx.recv().unwrap()
}

fn pass(id: u64, inbox: mpsc::Receiver<u64>, next: mpsc::Sender<u64>, done: mpsc::Sender<u64>) {
    for token in inbox.iter() {
        if token == 0 {
            done.send(id).unwrap();
            return;
        }
        if next.send(token - 1).is_err() {
            return;
        }
    }
}

/// 4 producers and 4 consumers share one (unbounded) mpmc channel; `n`
/// values.
fn mpmc(n: u64) -> u64 {
    let (tx, rx) = mpmc::channel::<u64>();
    let per = n / 4;
    for p in 0..4 {
        let tx = tx.clone();
        may::go!(move || {
            for i in 0..per {
                tx.send(p * per + i).unwrap();
            }
        });
    }
    drop(tx);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            may::go!(move || rx.iter().fold(0u64, u64::wrapping_add))
        })
        .collect();
    consumers
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, u64::wrapping_add)
}

/// `n` coroutines each lock one shared `may::sync::Mutex`
/// `MUTEX_INCREMENTS` times to bump a counter; the spawner waits for all.
fn mutex(n: u64) -> u64 {
    let counter: &'static Mutex<u64> = Box::leak(Box::new(Mutex::new(0)));
    let latch = Latch::leak(n);
    for _ in 0..n {
        may::go!(move || {
            for _ in 0..MUTEX_INCREMENTS {
                *counter.lock().unwrap() += 1;
            }
            latch.done();
        });
    }
    latch.wait();
    let total = *counter.lock().unwrap();
    assert_eq!(total, n * MUTEX_INCREMENTS);
    total
}

/// `n` coroutines park receiving from one shared mpmc channel; once all
/// have parked, the peak resident set is taken, and dropping the sender
/// releases them all. Returns how many were released.
fn memory(n: u64) -> (u64, Vec<(&'static str, u64)>) {
    let released: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let parked = Latch::leak(n);
    let gone = Latch::leak(n);
    let memory = Memory::baseline();
    let (tx, rx) = mpmc::channel::<()>();
    for _ in 0..n {
        let rx = rx.clone();
        may::go!(move || {
            parked.done();
            if rx.recv().is_err() {
                released.fetch_add(1, Ordering::Relaxed);
            }
            gone.done();
        });
    }
    drop(rx);
    parked.wait();
    // The last `done` comes just before its coroutine parks: let it park.
    coroutine::sleep(Duration::from_millis(10));
    let fields = memory.peak();
    drop(tx);
    gone.wait();
    (released.load(Ordering::Relaxed), fields)
}

/// The hogs as plain coroutines that block their workers (may cannot take
/// a worker back from one), and a coroutine that sleeps 1 ms at a time
/// meanwhile, recording its lag.
fn hog_run(kind: Hog, n: u64, hogs: u64) -> (u64, Vec<(&'static str, u64)>) {
    let deadline = Instant::now() + Duration::from_millis(n);
    let addr = kind.reads().then(|| goro_benches::serve_at(hogs, deadline));
    let ticker = may::go!(move || {
        let mut lags = Lags::new();
        loop {
            let before = Instant::now();
            if before >= deadline {
                break lags;
            }
            coroutine::sleep(TICK);
            lags.tick(before);
        }
    });
    let hogs: Vec<_> = (0..hogs)
        .map(|_| may::go!(move || net_or_other_hog(kind, deadline, addr)))
        .collect();
    let finished = hogs.into_iter().map(|h| h.join().unwrap()).sum();
    (finished, ticker.join().unwrap().fields())
}

/// One hog: `hogs-net`'s reads from a `may::net::TcpStream` (which parks
/// the coroutine), the others block the worker as `goro_benches::hog` does.
fn net_or_other_hog(kind: Hog, deadline: Instant, addr: Option<std::net::SocketAddr>) -> u64 {
    use std::io::Read;
    if kind != Hog::Net {
        return goro_benches::hog(kind, deadline, addr);
    }
    let addr = addr.expect("the listener's address");
    let mut conn = may::net::TcpStream::connect(addr).expect("connect to loopback");
    let mut byte = [0u8; 1];
    conn.read_exact(&mut byte).expect("read from loopback");
    1
}
