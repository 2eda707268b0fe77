//! goro's side of the side-by-side workloads.

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro::chan::{Receiver, Sender, bounded};
use goro::fiber::{Coroutine, CoroutineResult};
use goro::net::{TcpListener, TcpStream};
use goro::select;
use goro::sync::{Mutex, WaitGroup};
use goro_benches::{
    ECHO_BUFFER, ECHO_BYTES, ECHO_ROUND_TRIPS, Hog, Lags, Latch, MUTEX_INCREMENTS, Memory, TICK,
    skynet,
};

// The `http` workload's server is the `http_hello` example's own code.
#[path = "../../../crates/goro/examples/http_hello.rs"]
#[allow(dead_code)] // its `main`
mod http_hello;

fn main() {
    let (workload, n) = goro_benches::args(
        "bench-goro",
        &[
            "switch",
            "spawn",
            "skynet",
            "skynet-join",
            "pingpong",
            "ring",
            "ring1",
            "mpmc",
            "select",
            "select-buffered",
            "mutex",
            "memory",
            "hogs",
            "hogs-sleep",
            "hogs-read",
            "hogs-blocking",
            "hogs-net",
            "echo",
            "idle-conns",
            "http",
        ],
    );
    match workload.as_str() {
        "switch" => goro_benches::report(|| switch(n)),
        "hogs-blocking" => {
            goro_benches::report_with(|| run(move || hog_run(Hog::Spin, n, true)));
        }
        "spawn" => goro_benches::report(|| spawn(n)),
        "skynet" => goro_benches::report(|| {
            run(move || {
                let (tx, rx) = bounded(0);
                goro::go(move || skynet(tx, 0, n, 10));
                rx.recv().unwrap()
            })
        }),
        "skynet-join" => goro_benches::report(|| run(move || skynet_join(0, n, 10))),
        "pingpong" => goro_benches::report(|| run(move || pingpong(n))),
        "ring" => goro_benches::report(|| run(move || ring(n, 0))),
        "ring1" => goro_benches::report(|| run(move || ring(n, 1))),
        "mpmc" => goro_benches::report(|| run(move || mpmc(n))),
        "select" => goro_benches::report(|| run(move || select4(n))),
        "select-buffered" => goro_benches::report(|| run(move || select_buffered(n))),
        "mutex" => goro_benches::report(|| run(move || mutex(n))),
        "memory" => goro_benches::report_with(|| run(move || memory(n))),
        "echo" => goro_benches::report(|| run(move || echo(n))),
        "idle-conns" => goro_benches::report_with(|| run(move || idle_conns(n))),
        "http" => http(n),
        hogs => {
            let kind = Hog::of(hogs).unwrap();
            goro_benches::report_with(|| run(move || hog_run(kind, n, false)));
        }
    }
    // For profiling by hand: the scheduler's counters, on stderr (the
    // harness reads only stdout).
    if std::env::var_os("GORO_BENCH_STATS").is_some() {
        eprintln!("{:?}", goro::stats());
    }
}

/// Runs `f` as a goroutine and waits for it: on the global runtime (the
/// default mode), or with `GORO_BENCH_MODE=migrating` on a runtime of the
/// migrating mode (the `goro-migrate` column).
fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    static MIGRATING: std::sync::OnceLock<goro::Runtime> = std::sync::OnceLock::new();
    if std::env::var_os("GORO_BENCH_MODE").is_none_or(|m| m != "migrating") {
        return goro::run(f);
    }
    let rt = MIGRATING.get_or_init(|| {
        // SAFETY: the workloads' goroutines hold nothing tied to a thread
        // (no thread-local borrow, `Rc` or reentrant lock guard) across a
        // park point.
        let builder = unsafe { goro::Runtime::builder().migrating() };
        builder.build().expect("a migrating runtime")
    });
    rt.run(f)
}

/// `n` resume + suspend round trips; the coroutine yields its counter.
fn switch(n: u64) -> u64 {
    let mut co = Coroutine::<(), u64, ()>::new(|y, ()| {
        let mut i = 0u64;
        loop {
            y.suspend(black_box(i));
            i += 1;
        }
    });
    let mut sum = 0u64;
    for _ in 0..n {
        match co.resume(()) {
            CoroutineResult::Yield(v) => sum = sum.wrapping_add(v),
            CoroutineResult::Return(()) => unreachable!(),
        }
    }
    sum
}

/// `n` goroutines each bump a counter; the spawner waits for all. The
/// counter and the latch are shared by reference (leaked for the process),
/// as Go's closures capture them.
fn spawn(n: u64) -> u64 {
    run(move || {
        let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let latch: &'static Latch = Box::leak(Box::new(Latch::new(n)));
        for _ in 0..n {
            goro::go(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                latch.done();
            });
        }
        latch.wait();
        counter.load(Ordering::Relaxed)
    })
}

/// Skynet over join handles.
fn skynet_join(num: u64, size: u64, div: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / div;
    let children: Vec<_> = (0..div)
        .map(|i| goro::go(move || skynet_join(num + i * sub, sub, div)))
        .collect();
    children.into_iter().map(|h| h.join().unwrap()).sum()
}

/// `n` round trips between two goroutines over two unbuffered channels.
fn pingpong(n: u64) -> u64 {
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let echo = goro::go(move || {
        for v in &ping_rx {
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

/// 503 goroutines in a ring pass a token `n` times (unbuffered channels);
/// returns the id of the one that gets it at zero: `n % 503 + 1`.
fn ring(n: u64, cap: usize) -> u64 {
    const RING: u64 = 503;
    let (done_tx, done_rx) = bounded::<u64>(1);
    let (first_tx, first_rx) = bounded::<u64>(cap);
    let mut inbox = first_rx;
    for id in 1..RING {
        let (tx, rx) = bounded(cap);
        let done = done_tx.clone();
        let mine = std::mem::replace(&mut inbox, rx);
        goro::go(move || pass(id, mine, tx, done));
    }
    let back_to_first = first_tx.clone();
    goro::go(move || pass(RING, inbox, back_to_first, done_tx));
    first_tx.send(n).unwrap();
    drop(first_tx);
    done_rx.recv().unwrap()
}

fn pass(id: u64, inbox: Receiver<u64>, next: Sender<u64>, done: Sender<u64>) {
    for token in &inbox {
        if token == 0 {
            done.send(id).unwrap();
            return;
        }
        if next.send(token - 1).is_err() {
            return;
        }
    }
}

/// 4 producers and 4 consumers share one channel of 1024; `n` values.
fn mpmc(n: u64) -> u64 {
    let (tx, rx) = bounded::<u64>(1024);
    let per = n / 4;
    for p in 0..4 {
        let tx = tx.clone();
        goro::go(move || {
            for i in 0..per {
                tx.send(p * per + i).unwrap();
            }
        });
    }
    drop(tx);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            goro::go(move || rx.iter().fold(0u64, u64::wrapping_add))
        })
        .collect();
    consumers
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, u64::wrapping_add)
}

/// One consumer selects over 4 unbuffered channels, each fed by its own
/// producer; `n` messages in all.
fn select4(n: u64) -> u64 {
    let per = n / 4;
    // The consumer keeps a sender of each: a producer that is done does not
    // close its channel (as in Go, where nobody closes them).
    let (keep, rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) = (0..4u64)
        .map(|p| {
            let (tx, rx) = bounded(0);
            let producer = tx.clone();
            goro::go(move || {
                for i in 0..per {
                    producer.send(p * per + i).unwrap();
                }
            });
            (tx, rx)
        })
        .unzip();
    let mut sum = 0u64;
    for _ in 0..per * 4 {
        select! {
            recv(rxs[0]) -> v => sum = sum.wrapping_add(v.unwrap()),
            recv(rxs[1]) -> v => sum = sum.wrapping_add(v.unwrap()),
            recv(rxs[2]) -> v => sum = sum.wrapping_add(v.unwrap()),
            recv(rxs[3]) -> v => sum = sum.wrapping_add(v.unwrap()),
        }
    }
    drop(keep);
    sum
}

/// One consumer selects over 4 channels of 1024, each fed by its own
/// producer that closes it when done; `n` messages in all.
fn select_buffered(n: u64) -> u64 {
    let per = n / 4;
    let mut rxs: Vec<Receiver<u64>> = (0..4u64)
        .map(|p| {
            let (tx, rx) = bounded(1024);
            goro::go(move || {
                for i in 0..per {
                    tx.send(p * per + i).unwrap();
                }
            });
            rx
        })
        .collect();
    let (mut sum, mut open) = (0u64, 4);
    while open > 0 {
        // A closed channel's arm would always be ready: it becomes a
        // channel that never is (Go's nil channel).
        let (i, v) = select! {
            recv(rxs[0]) -> v => (0, v),
            recv(rxs[1]) -> v => (1, v),
            recv(rxs[2]) -> v => (2, v),
            recv(rxs[3]) -> v => (3, v),
        };
        match v {
            Ok(v) => sum = sum.wrapping_add(v),
            Err(_) => {
                rxs[i] = goro::chan::never();
                open -= 1;
            }
        }
    }
    sum
}

/// `n` goroutines each lock one shared mutex `MUTEX_INCREMENTS` times to bump
/// a counter; the spawner waits for all on a wait group. The mutex and the
/// group are shared by reference (leaked for the process), as Go's closures
/// capture them.
fn mutex(n: u64) -> u64 {
    let counter: &'static Mutex<u64> = Box::leak(Box::new(Mutex::new(0)));
    let wg: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    wg.add(n.try_into().expect("n fits an isize"));
    for _ in 0..n {
        goro::go(move || {
            for _ in 0..MUTEX_INCREMENTS {
                *counter.lock() += 1;
            }
            wg.done();
        });
    }
    wg.wait();
    let total = *counter.lock();
    assert_eq!(total, n * MUTEX_INCREMENTS);
    total
}

/// `n` goroutines park receiving from one shared unbuffered channel; once
/// all have parked, the peak resident set is taken, and closing the channel
/// releases them all. Returns how many were released.
fn memory(n: u64) -> (u64, Vec<(&'static str, u64)>) {
    let released: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let parked: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let gone: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let memory = Memory::baseline();
    let (tx, rx) = bounded::<()>(0);
    parked.add(n.try_into().expect("n fits an isize"));
    gone.add(n.try_into().expect("n fits an isize"));
    for _ in 0..n {
        let rx = rx.clone();
        goro::go(move || {
            parked.done();
            if rx.recv().is_err() {
                released.fetch_add(1, Ordering::Relaxed);
            }
            gone.done();
        });
    }
    drop(rx);
    parked.wait();
    // The last `done` comes just before its goroutine parks: let it park.
    goro::sleep(Duration::from_millis(10));
    let fields = memory.peak();
    drop(tx);
    gone.wait();
    (released.load(Ordering::Relaxed), fields)
}

/// As many hogs as workers, none yielding to the scheduler until the
/// deadline `n` ms away (no `goro::blocking`: sysmon must notice them), and
/// one goroutine that sleeps 1 ms at a time meanwhile, recording its lag.
/// Returns the number of hogs that finished, and the ticker's lags.
fn hog_run(kind: Hog, n: u64, blocking: bool) -> (u64, Vec<(&'static str, u64)>) {
    let hogs = goro_benches::hog_count();
    let deadline = Instant::now() + Duration::from_millis(n);
    let addr = kind.reads().then(|| goro_benches::serve_at(hogs, deadline));
    let ticker = goro::go(move || {
        let mut lags = Lags::new();
        loop {
            let before = Instant::now();
            if before >= deadline {
                break lags;
            }
            goro::sleep(TICK);
            lags.tick(before);
        }
    });
    let hogs: Vec<_> = (0..hogs)
        .map(|_| {
            goro::go(move || {
                if blocking {
                    goro::blocking(move || goro_benches::hog(kind, deadline, addr))
                } else if kind == Hog::Net {
                    let addr = addr.expect("the listener's address");
                    let mut conn = TcpStream::connect(addr).expect("connect to loopback");
                    let mut byte = [0u8; 1];
                    conn.read_exact(&mut byte).expect("read from loopback");
                    1
                } else {
                    goro_benches::hog(kind, deadline, addr)
                }
            })
        })
        .collect();
    let finished = hogs.into_iter().map(|h| h.join().unwrap()).sum();
    (finished, ticker.join().unwrap().fields())
}

/// `n` connections on loopback, a goroutine at each end; each client makes
/// `ECHO_ROUND_TRIPS` round trips of `ECHO_BYTES`, and each server goroutine
/// writes back what it reads. Returns the sum of the numbers echoed.
fn echo(n: u64) -> u64 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("listener address");
    goro::go(move || {
        for _ in 0..n {
            let (conn, _) = listener.accept().expect("accept");
            goro::go(move || echo_serve(conn));
        }
    });
    let clients: Vec<_> = (0..n)
        .map(|c| {
            goro::go(move || {
                let mut conn = TcpStream::connect(addr).expect("connect to loopback");
                conn.set_nodelay(true).expect("TCP_NODELAY");
                let mut back = [0u8; ECHO_BYTES];
                let mut sum = 0u64;
                for i in 0..ECHO_ROUND_TRIPS {
                    let msg = goro_benches::echo_message(c, i);
                    conn.write_all(&msg).expect("write");
                    conn.read_exact(&mut back).expect("read");
                    sum = sum.wrapping_add(goro_benches::echo_check(&msg, &back));
                }
                sum
            })
        })
        .collect();
    clients
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, u64::wrapping_add)
}

/// The server end of one `echo` connection: writes back what it reads until
/// the client closes.
fn echo_serve(mut conn: TcpStream) {
    conn.set_nodelay(true).expect("TCP_NODELAY");
    let mut buf = [0u8; ECHO_BUFFER];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(k) => conn.write_all(&buf[..k]).expect("write back"),
            Err(e) => panic!("echo read: {e}"),
        }
    }
}

/// `n` connections from a client process, each served by a goroutine parked
/// in `read`; once all have parked, the peak resident set and the threads
/// are taken, and the client closes them all. Returns how many goroutines
/// read the end of the stream.
fn idle_conns(n: u64) -> (u64, Vec<(&'static str, u64)>) {
    let released: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let parked: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let gone: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("listener address");
    let mut client = goro_benches::idle_client(addr, n);
    // If the client dies, the accepts fail instead of waiting for good (a
    // watchdog thread would be counted among the threads).
    listener
        .set_deadline(Some(Instant::now() + goro_benches::ACCEPT_TIMEOUT))
        .expect("accept deadline");
    let memory = Memory::baseline();
    parked.add(n.try_into().expect("n fits an isize"));
    gone.add(n.try_into().expect("n fits an isize"));
    for _ in 0..n {
        let (conn, _) = listener.accept().expect("accept");
        goro::go(move || {
            parked.done();
            let mut buf = [0u8; 64];
            if conn.read(&mut buf).expect("read") == 0 {
                released.fetch_add(1, Ordering::Relaxed);
            }
            gone.done();
        });
    }
    parked.wait();
    // The last `done` comes just before its goroutine parks: let it park.
    goro::sleep(Duration::from_millis(10));
    let mut fields = memory.peak();
    fields.push(("threads", goro_benches::thread_count()));
    drop(client.stdin.take());
    gone.wait();
    let status = client.wait().expect("wait for the client");
    assert!(status.success(), "the idle client failed ({status})");
    (released.load(Ordering::Relaxed), fields)
}

/// The `http` workload: the `http_hello` example's server (a goroutine per
/// connection, requests parsed with `httparse`) answers `hello`, while the
/// load client (another process, waited for in `goro::blocking`) drives it
/// for `ms` milliseconds.
fn http(ms: u64) {
    let (checksum, elapsed, requests) = run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("listener address");
        goro::go(move || http_hello::serve(listener));
        goro::blocking(move || goro_benches::http_load(addr, ms))
    });
    println!("checksum={checksum} elapsed_ns={elapsed} requests={requests}");
}
