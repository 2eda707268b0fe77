//! An echo server with a goroutine per connection, on 2 workers: 1,000
//! loopback connections (10,000 in a test run in release builds, whose clients run in a
//! child process: the descriptor limit is 20,000 a process), each server
//! goroutine parked in `read` while the process keeps to its few threads;
//! then every byte echoed and checked.
//!
//! Its own test binary: the thread count is the process's.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro_net::{TcpListener, TcpStream};
use goro_sched::Runtime;
use goro_sched::park::{self, Unparker};

const HANG: Duration = Duration::from_secs(120);
const ROUNDS: u64 = 10;
const MSG: usize = 64;
const WORKERS: usize = 2;

/// One test at a time: the thread count is the process's. Test threads
/// waiting for their turn (`--include-ignored`) are counted in `QUEUED`,
/// and allowed for.
static SERIAL: Mutex<()> = Mutex::new(());
static QUEUED: AtomicUsize = AtomicUsize::new(0);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    QUEUED.fetch_add(1, Ordering::SeqCst);
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    QUEUED.fetch_sub(1, Ordering::SeqCst);
    guard
}

/// The runtime of these tests: 2 workers and no spares. Spares stand in for
/// a worker held by one goroutine for 10 ms, which happens here only when
/// the OS preempts a worker thread on a loaded machine (or in a debug
/// build's storm of connections); a spare that ran goroutines then lives as
/// long as they do (they keep their thread), and the thread count would
/// measure the machine's load, not the poller.
fn runtime() -> Runtime {
    Runtime::builder()
        .workers(WORKERS)
        .max_blocking_threads(0)
        .build()
        .unwrap()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < HANG, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The message of client `id` in `round`.
fn message(id: u64, round: u64) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    for (i, b) in m.iter_mut().enumerate() {
        *b = (id.wrapping_mul(31) + round * 7 + i as u64) as u8;
    }
    m
}

fn checksum(m: &[u8]) -> u64 {
    m.iter().map(|&b| u64::from(b)).sum()
}

/// A gate that parks goroutines until it opens.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    waiters: Mutex<Vec<Unparker>>,
}

impl Gate {
    fn wait(&self) {
        {
            let mut w = self.waiters.lock().unwrap();
            if self.open.load(Ordering::Acquire) {
                return;
            }
            w.push(park::current_unparker());
        }
        while !self.open.load(Ordering::Acquire) {
            park::park();
        }
    }

    fn open(&self) {
        let waiters = {
            let w = &mut *self.waiters.lock().unwrap();
            self.open.store(true, Ordering::Release);
            std::mem::take(w)
        };
        for u in waiters {
            u.unpark();
        }
    }
}

/// Starts the server: accepts `n` connections, a goroutine each, echoing
/// until EOF. Returns its address, the count accepted and a handle.
fn server(rt: &Runtime, n: usize) -> (SocketAddr, Arc<AtomicUsize>, goro_sched::JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    let h = rt.go(move || {
        let mut handlers = Vec::new();
        for _ in 0..n {
            let (mut conn, _) = listener.accept().unwrap();
            acc.fetch_add(1, Ordering::SeqCst);
            handlers.push(goro_sched::go(move || {
                let mut buf = [0u8; 1024];
                let mut echoed = 0u64;
                // Woken by whichever thread polled, a goroutine still runs
                // on its own worker (the default mode).
                let home = std::thread::current().id();
                loop {
                    let read = conn.read(&mut buf);
                    assert_eq!(std::thread::current().id(), home);
                    match read.unwrap() {
                        0 => return echoed,
                        k => {
                            conn.write_all(&buf[..k]).unwrap();
                            echoed += checksum(&buf[..k]);
                        }
                    }
                }
            }));
        }
        handlers.into_iter().map(|h| h.join().unwrap()).sum()
    });
    (addr, accepted, h)
}

/// One client: connects, waits at the gate, then `ROUNDS` round trips.
fn client(addr: SocketAddr, id: u64, connected: &AtomicUsize, gate: &Gate) -> u64 {
    let mut s = TcpStream::connect(addr).unwrap();
    connected.fetch_add(1, Ordering::SeqCst);
    gate.wait();
    let mut sum = 0;
    for round in 0..ROUNDS {
        let m = message(id, round);
        s.write_all(&m).unwrap();
        let mut back = [0u8; MSG];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, m, "client {id} round {round}");
        sum += checksum(&back);
    }
    sum
}

fn expected(n: u64) -> u64 {
    (0..n)
        .flat_map(|id| (0..ROUNDS).map(move |r| checksum(&message(id, r))))
        .sum()
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim().to_owned())
        .collect()
}

/// Server handlers parked in `read`: the thread count, and the dump.
fn check_parked(rt: &Runtime, n: usize) {
    // This thread, the harness's main thread, the workers and sysmon (and
    // other tests' threads waiting for their turn).
    let limit = WORKERS + 1 + 2 + QUEUED.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        threads() <= limit,
        "{} threads with {n} connections parked: {:?}",
        threads(),
        thread_names()
    );
    let parked = rt.dump().matches("[IO wait").count();
    assert!(parked >= n, "{parked} goroutines in IO wait, want {n}");
}

#[test]
fn echo_1000_connections_on_2_workers() {
    let _serial = serial();
    let n = 1000;
    let rt = runtime();
    let (addr, accepted, server) = server(&rt, n);
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Gate::default());
    let clients: Vec<_> = (0..n as u64)
        .map(|id| {
            let (connected, gate) = (connected.clone(), gate.clone());
            rt.go(move || client(addr, id, &connected, &gate))
        })
        .collect();
    wait_until("every connection", || {
        accepted.load(Ordering::SeqCst) == n && connected.load(Ordering::SeqCst) == n
    });
    check_parked(&rt, n);
    gate.open();
    let sum: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let want = expected(n as u64);
    assert_eq!(sum, want);
    assert_eq!(server.join().unwrap(), want);
}

/// The clients of `echo_10000_connections`, in a child process (run by it,
/// with `GORO_ECHO_ADDR` set; does nothing otherwise).
#[test]
#[ignore = "run by echo_10000_connections in a child process"]
fn echo_clients_child() {
    let Ok(addr) = std::env::var("GORO_ECHO_ADDR") else {
        return;
    };
    let addr: SocketAddr = addr.parse().unwrap();
    let n: u64 = std::env::var("GORO_ECHO_N").unwrap().parse().unwrap();
    let rt = runtime();
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Gate::default());
    let clients: Vec<_> = (0..n)
        .map(|id| {
            let (connected, gate) = (connected.clone(), gate.clone());
            rt.go(move || client(addr, id, &connected, &gate))
        })
        .collect();
    wait_until("every connection", || {
        connected.load(Ordering::SeqCst) == n as usize
    });
    // Wait for the parent's go-ahead: a line on stdin.
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    gate.open();
    let sum: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(sum, expected(n));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "10,000 connections: slow in a debug build (run in release, by CI)"
)]
fn echo_10000_connections() {
    let _serial = serial();
    let n = 10_000;
    let rt = runtime();
    let (addr, accepted, server) = server(&rt, n);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "echo_clients_child", "--ignored", "--nocapture"])
        .env("GORO_ECHO_ADDR", addr.to_string())
        .env("GORO_ECHO_N", n.to_string())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("every connection", || accepted.load(Ordering::SeqCst) == n);
    check_parked(&rt, n);
    writeln!(child.stdin.as_mut().unwrap()).unwrap();
    assert!(child.wait().unwrap().success(), "the clients failed");
    assert_eq!(server.join().unwrap(), expected(n as u64));
}
