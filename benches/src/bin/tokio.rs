//! tokio's side of the side-by-side workloads: the same work as tasks on
//! tokio's multi-threaded runtime (one worker per CPU, as goro's default).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_benches::{
    ECHO_BUFFER, ECHO_BYTES, ECHO_ROUND_TRIPS, HTTP_BODY, Hog, Lags, MUTEX_INCREMENTS, Memory, TICK,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Mutex, Notify, mpsc, watch};

fn main() {
    let (workload, n) = goro_benches::args(
        "bench-tokio",
        &[
            "spawn",
            "skynet",
            "skynet-join",
            "pingpong",
            "ring",
            "ring1",
            "select",
            "select-buffered",
            "mutex",
            "memory",
            "hogs",
            "hogs-sleep",
            "hogs-read",
            "hogs-net",
            "echo",
            "idle-conns",
            "http",
        ],
    );
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if workload == "memory" || workload.starts_with("hogs") {
        builder.enable_time();
    }
    if ["hogs-net", "echo", "idle-conns", "http"].contains(&workload.as_str()) {
        builder.enable_io().enable_time();
    }
    let rt = builder.build().unwrap();
    match workload.as_str() {
        // The spawner is itself a task, as goro's is a goroutine and Go's a
        // goroutine: spawns go to a worker's local queue.
        "spawn" => {
            goro_benches::report(|| rt.block_on(async { tokio::spawn(spawn(n)).await.unwrap() }))
        }
        "skynet-join" => goro_benches::report(|| rt.block_on(skynet_join(0, n, 10))),
        "skynet" => goro_benches::report(|| {
            rt.block_on(async move {
                let (tx, mut rx) = mpsc::channel(1);
                tokio::spawn(skynet(tx, 0, n, 10));
                rx.recv().await.unwrap()
            })
        }),
        "pingpong" => goro_benches::report(|| rt.block_on(rt.spawn(pingpong(n))).unwrap()),
        // tokio has no unbuffered channel: its `ring` is already this one.
        "ring" | "ring1" => goro_benches::report(|| rt.block_on(rt.spawn(ring(n))).unwrap()),
        "select" => goro_benches::report(|| rt.block_on(rt.spawn(select4(n))).unwrap()),
        "select-buffered" => {
            goro_benches::report(|| rt.block_on(rt.spawn(select_buffered(n))).unwrap());
        }
        "mutex" => goro_benches::report(|| rt.block_on(rt.spawn(mutex(n))).unwrap()),
        "memory" => goro_benches::report_with(|| rt.block_on(rt.spawn(memory(n))).unwrap()),
        "echo" => goro_benches::report(|| rt.block_on(rt.spawn(echo(n))).unwrap()),
        "idle-conns" => {
            goro_benches::report_with(|| rt.block_on(rt.spawn(idle_conns(n))).unwrap());
        }
        "http" => http(&rt, n),
        hogs => {
            let kind = Hog::of(hogs).unwrap();
            goro_benches::report_with(|| rt.block_on(rt.spawn(hog_run(kind, n))).unwrap());
        }
    }
}

/// `n` tasks each bump a counter; the spawner waits for all. The counter
/// and the latch are shared by reference (leaked for the process), as Go's
/// closures capture them.
async fn spawn(n: u64) -> u64 {
    let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let remaining: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(n)));
    let done: &'static Notify = Box::leak(Box::new(Notify::new()));
    for _ in 0..n {
        tokio::spawn(async move {
            counter.fetch_add(1, Ordering::Relaxed);
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                done.notify_one();
            }
        });
    }
    done.notified().await;
    counter.load(Ordering::Relaxed)
}

/// Skynet over join handles.
fn skynet_join(num: u64, size: u64, div: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let sub = size / div;
        let children: Vec<_> = (0..div)
            .map(|i| tokio::spawn(skynet_join(num + i * sub, sub, div)))
            .collect();
        let mut sum = 0;
        for child in children {
            sum += child.await.unwrap();
        }
        sum
    })
}

/// Skynet as Go writes it, over channels of one (tokio has no unbuffered
/// channel).
fn skynet(
    c: mpsc::Sender<u64>,
    num: u64,
    size: u64,
    div: u64,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if size == 1 {
            c.send(num).await.unwrap();
            return;
        }
        let (tx, mut rx) = mpsc::channel(1);
        let sub = size / div;
        for i in 0..div {
            tokio::spawn(skynet(tx.clone(), num + i * sub, sub, div));
        }
        let mut sum = 0;
        for _ in 0..div {
            sum += rx.recv().await.unwrap();
        }
        c.send(sum).await.unwrap();
    })
}

/// `n` round trips between two tasks over two channels of one.
async fn pingpong(n: u64) -> u64 {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v + 1).await.unwrap();
        }
    });
    let mut sum = 0;
    for i in 0..n {
        ping_tx.send(i).await.unwrap();
        sum += pong_rx.recv().await.unwrap();
    }
    sum
}

/// 503 tasks in a ring pass a token `n` times over channels of one.
async fn ring(n: u64) -> u64 {
    const RING: u64 = 503;
    let (done_tx, mut done_rx) = mpsc::channel::<u64>(1);
    let (first_tx, first_rx) = mpsc::channel::<u64>(1);
    let mut inbox = first_rx;
    for id in 1..RING {
        let (tx, rx) = mpsc::channel(1);
        let mine = std::mem::replace(&mut inbox, rx);
        tokio::spawn(pass(id, mine, tx, done_tx.clone()));
    }
    tokio::spawn(pass(RING, inbox, first_tx.clone(), done_tx));
    first_tx.send(n).await.unwrap();
    done_rx.recv().await.unwrap()
}

async fn pass(
    id: u64,
    mut inbox: mpsc::Receiver<u64>,
    next: mpsc::Sender<u64>,
    done: mpsc::Sender<u64>,
) {
    while let Some(token) = inbox.recv().await {
        if token == 0 {
            done.send(id).await.unwrap();
            return;
        }
        if next.send(token - 1).await.is_err() {
            return;
        }
    }
}

/// One task selects over 4 channels of 1024, each fed by its own task that
/// closes it (drops its sender) when done.
async fn select_buffered(n: u64) -> u64 {
    let per = n / 4;
    let mut rxs = Vec::new();
    for p in 0..4u64 {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            for i in 0..per {
                tx.send(p * per + i).await.unwrap();
            }
        });
        rxs.push(rx);
    }
    let [mut a, mut b, mut c, mut d]: [mpsc::Receiver<u64>; 4] = rxs.try_into().unwrap();
    let mut sum = 0u64;
    loop {
        // A closed channel's branch is disabled (its pattern fails); `else`
        // once all are.
        let v = tokio::select! {
            Some(v) = a.recv() => v,
            Some(v) = b.recv() => v,
            Some(v) = c.recv() => v,
            Some(v) = d.recv() => v,
            else => break,
        };
        sum = sum.wrapping_add(v);
    }
    sum
}

/// One task selects over 4 channels of one, each fed by its own task.
async fn select4(n: u64) -> u64 {
    let per = n / 4;
    let mut rxs = Vec::new();
    let mut keep = Vec::new();
    for p in 0..4u64 {
        let (tx, rx) = mpsc::channel(1);
        let producer = tx.clone();
        tokio::spawn(async move {
            for i in 0..per {
                producer.send(p * per + i).await.unwrap();
            }
        });
        keep.push(tx);
        rxs.push(rx);
    }
    let [mut a, mut b, mut c, mut d]: [mpsc::Receiver<u64>; 4] = rxs.try_into().unwrap();
    let mut sum = 0u64;
    for _ in 0..per * 4 {
        let v = tokio::select! {
            Some(v) = a.recv() => v,
            Some(v) = b.recv() => v,
            Some(v) = c.recv() => v,
            Some(v) = d.recv() => v,
        };
        sum = sum.wrapping_add(v);
    }
    drop(keep);
    sum
}

/// `n` tasks each lock one shared `tokio::sync::Mutex` `MUTEX_INCREMENTS`
/// times to bump a counter; the spawner waits for all (a countdown and a
/// `Notify`, as in `spawn`).
async fn mutex(n: u64) -> u64 {
    let counter: &'static Mutex<u64> = Box::leak(Box::new(Mutex::new(0)));
    let remaining: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(n)));
    let done: &'static Notify = Box::leak(Box::new(Notify::new()));
    for _ in 0..n {
        tokio::spawn(async move {
            for _ in 0..MUTEX_INCREMENTS {
                *counter.lock().await += 1;
            }
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                done.notify_one();
            }
        });
    }
    if n > 0 {
        done.notified().await;
    }
    let total = *counter.lock().await;
    assert_eq!(total, n * MUTEX_INCREMENTS);
    total
}

/// `n` tasks wait on one shared `watch` channel (tokio's mpsc has a single
/// receiver); once all wait, the peak resident set is taken, and dropping
/// the sender releases them all. Returns how many were released.
async fn memory(n: u64) -> (u64, Vec<(&'static str, u64)>) {
    let released: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let parked: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let gone: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(n)));
    let all_parked: &'static Notify = Box::leak(Box::new(Notify::new()));
    let all_gone: &'static Notify = Box::leak(Box::new(Notify::new()));
    let memory = Memory::baseline();
    let (tx, rx) = watch::channel(());
    for _ in 0..n {
        let mut rx = rx.clone();
        tokio::spawn(async move {
            if parked.fetch_add(1, Ordering::AcqRel) + 1 == n {
                all_parked.notify_one();
            }
            if rx.changed().await.is_err() {
                released.fetch_add(1, Ordering::Relaxed);
            }
            if gone.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_gone.notify_one();
            }
        });
    }
    drop(rx);
    if n > 0 {
        all_parked.notified().await;
    }
    // The last count comes just before its task waits: let it wait.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let fields = memory.peak();
    drop(tx);
    if n > 0 {
        all_gone.notified().await;
    }
    (released.load(Ordering::Relaxed), fields)
}

/// The hogs as plain `tokio::spawn` tasks that block their workers (as a
/// naive port would; `spawn_blocking` would spare the workers), and a task
/// that sleeps 1 ms at a time meanwhile, recording its lag.
async fn hog_run(kind: Hog, n: u64) -> (u64, Vec<(&'static str, u64)>) {
    let hogs = goro_benches::hog_count();
    let deadline = Instant::now() + Duration::from_millis(n);
    let addr = kind.reads().then(|| goro_benches::serve_at(hogs, deadline));
    let ticker = tokio::spawn(async move {
        let mut lags = Lags::new();
        loop {
            let before = Instant::now();
            if before >= deadline {
                break lags;
            }
            tokio::time::sleep(TICK).await;
            lags.tick(before);
        }
    });
    let hogs: Vec<_> = (0..hogs)
        .map(|_| {
            tokio::spawn(async move {
                if kind != Hog::Net {
                    return goro_benches::hog(kind, deadline, addr);
                }
                let addr = addr.expect("the listener's address");
                let mut conn = TcpStream::connect(addr).await.expect("connect to loopback");
                let mut byte = [0u8; 1];
                conn.read_exact(&mut byte)
                    .await
                    .expect("read from loopback");
                1
            })
        })
        .collect();
    let mut finished = 0;
    for h in hogs {
        finished += h.await.unwrap();
    }
    (finished, ticker.await.unwrap().fields())
}

/// `n` connections on loopback, a task at each end; each client makes
/// `ECHO_ROUND_TRIPS` round trips of `ECHO_BYTES`, and each server task
/// writes back what it reads. Returns the sum of the numbers echoed.
async fn echo(n: u64) -> u64 {
    let listener = listen().await;
    let addr = listener.local_addr().expect("listener address");
    tokio::spawn(async move {
        for _ in 0..n {
            let (conn, _) = listener.accept().await.expect("accept");
            tokio::spawn(echo_serve(conn));
        }
    });
    let clients: Vec<_> = (0..n)
        .map(|c| {
            tokio::spawn(async move {
                let mut conn = TcpStream::connect(addr).await.expect("connect to loopback");
                conn.set_nodelay(true).expect("TCP_NODELAY");
                let mut back = [0u8; ECHO_BYTES];
                let mut sum = 0u64;
                for i in 0..ECHO_ROUND_TRIPS {
                    let msg = goro_benches::echo_message(c, i);
                    conn.write_all(&msg).await.expect("write");
                    conn.read_exact(&mut back).await.expect("read");
                    sum = sum.wrapping_add(goro_benches::echo_check(&msg, &back));
                }
                sum
            })
        })
        .collect();
    let mut sum = 0u64;
    for client in clients {
        sum = sum.wrapping_add(client.await.unwrap());
    }
    sum
}

/// A loopback listener with goro's and Go's backlog (4096; tokio's `bind`
/// takes 1024, which drops SYNs when thousands connect at once).
async fn listen() -> TcpListener {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().unwrap())
        .expect("bind loopback");
    socket.listen(4096).expect("listen")
}

/// The server end of one `echo` connection: writes back what it reads until
/// the client closes.
async fn echo_serve(mut conn: TcpStream) {
    conn.set_nodelay(true).expect("TCP_NODELAY");
    let mut buf = [0u8; ECHO_BUFFER];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) => return,
            Ok(k) => conn.write_all(&buf[..k]).await.expect("write back"),
            Err(e) => panic!("echo read: {e}"),
        }
    }
}

/// `n` connections from a client process, each served by a task waiting in
/// `read`; once all wait, the peak resident set and the threads are taken,
/// and the client closes them all. Returns how many tasks read the end of
/// the stream.
async fn idle_conns(n: u64) -> (u64, Vec<(&'static str, u64)>) {
    let released: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let parked: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let gone: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(n)));
    let all_parked: &'static Notify = Box::leak(Box::new(Notify::new()));
    let all_gone: &'static Notify = Box::leak(Box::new(Notify::new()));
    let listener = listen().await;
    let addr = listener.local_addr().expect("listener address");
    let mut client = goro_benches::idle_client(addr, n);
    let memory = Memory::baseline();
    // If the client dies, the accepts fail instead of waiting for good (a
    // watchdog thread would be counted among the threads).
    let deadline = tokio::time::Instant::now() + goro_benches::ACCEPT_TIMEOUT;
    for _ in 0..n {
        let accepted = tokio::time::timeout_at(deadline, listener.accept()).await;
        let (mut conn, _) = accepted.expect("the client's connections").expect("accept");
        tokio::spawn(async move {
            if parked.fetch_add(1, Ordering::AcqRel) + 1 == n {
                all_parked.notify_one();
            }
            let mut buf = [0u8; 64];
            if conn.read(&mut buf).await.expect("read") == 0 {
                released.fetch_add(1, Ordering::Relaxed);
            }
            if gone.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_gone.notify_one();
            }
        });
    }
    if n > 0 {
        all_parked.notified().await;
    }
    // The last count comes just before its task waits: let it wait.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut fields = memory.peak();
    fields.push(("threads", goro_benches::thread_count()));
    drop(client.stdin.take());
    if n > 0 {
        all_gone.notified().await;
    }
    let status = client.wait().expect("wait for the client");
    assert!(status.success(), "the idle client failed ({status})");
    (released.load(Ordering::Relaxed), fields)
}

/// The `http` workload: hyper 1's HTTP/1 server (keep-alive, a task per
/// connection) answers `hello`, while the load client (another process,
/// waited for on this thread, which is none of the runtime's workers) drives
/// it for `ms` milliseconds.
fn http(rt: &tokio::runtime::Runtime, ms: u64) {
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    let listener = rt.block_on(listen());
    let addr = listener.local_addr().expect("listener address");
    rt.spawn(async move {
        loop {
            let (conn, _) = listener.accept().await.expect("accept");
            conn.set_nodelay(true).expect("TCP_NODELAY");
            tokio::spawn(async move {
                let hello = service_fn(|_: Request<hyper::body::Incoming>| async {
                    let body = String::from_utf8(HTTP_BODY.to_vec()).expect("ASCII");
                    let mut response = Response::new(body);
                    response.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
                    );
                    Ok::<_, std::convert::Infallible>(response)
                });
                // The client closes its connections at the end: an error
                // then is no failure of the run.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(conn), hello)
                    .await;
            });
        }
    });
    let (checksum, elapsed, requests) = goro_benches::http_load(addr, ms);
    println!("checksum={checksum} elapsed_ns={elapsed} requests={requests}");
}
