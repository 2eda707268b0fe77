//! What the UDP and Unix socket suites share: runtimes in the suite's mode,
//! one test at a time, temporary socket paths, and the checks every
//! connected pair of sockets must pass alike (deadlines before, during and
//! after a blocked receive, changed while it waits; plain threads), run on
//! each type through `Endpoint`.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use goro_sched::Runtime;

#[path = "../../../sched/tests/common/mod.rs"]
mod common;

/// Generous: only catches a hang.
pub(crate) const HANG: Duration = Duration::from_secs(30);

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One test at a time: descriptor counts are checked, and timing-free
/// assertions still want a quiet machine's generous bounds.
pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A runtime in the suite's mode (`GORO_TEST_MODE=migrating` for Go's).
pub(crate) fn rt(workers: usize) -> Runtime {
    common::builder().workers(workers).build().unwrap()
}

pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A socket path under the temporary directory, unique to this process and
/// call, removed (if it exists) when dropped.
pub(crate) struct TempPath(pub(crate) PathBuf);

impl TempPath {
    pub(crate) fn new(what: &str) -> TempPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("goro-net-{}-{what}-{n}.sock", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A message's checksum: its bytes weighted by position, so that a lost,
/// duplicated or reordered byte changes it.
pub(crate) fn checksum(m: &[u8]) -> u64 {
    m.iter().enumerate().fold(0u64, |s, (i, &x)| {
        s.wrapping_add(u64::from(x) * (i as u64 % 13 + 1))
    })
}

/// A message of `MSG` bytes: a sender's id, a round, and a payload that
/// depends on both.
pub(crate) const MSG: usize = 64;

pub(crate) fn message(id: u64, round: u64) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[..8].copy_from_slice(&id.to_le_bytes());
    m[8..16].copy_from_slice(&round.to_le_bytes());
    for (i, b) in m[16..].iter_mut().enumerate() {
        *b = (id.wrapping_mul(31) + round.wrapping_mul(7) + i as u64) as u8;
    }
    m
}

/// A message's (id, round).
pub(crate) fn header(m: &[u8]) -> (u64, u64) {
    let word = |r: std::ops::Range<usize>| u64::from_le_bytes(m[r].try_into().unwrap());
    (word(0..8), word(8..16))
}

/// The sum of the checksums of `ids` senders' `rounds` messages.
pub(crate) fn want(ids: u64, rounds: u64) -> u64 {
    (0..ids)
        .flat_map(|id| (0..rounds).map(move |r| checksum(&message(id, r))))
        .fold(0, u64::wrapping_add)
}

/// Plain threads: a server thread accepts four connections in turn and
/// echoes a number on each; four client threads connect, wait a little (so
/// that the server waits in a read), send their number and read it back.
pub(crate) fn threads_accept_and_echo<S, A, C>(mut accept: A, connect: C)
where
    S: Read + Write,
    A: FnMut() -> S + Send + 'static,
    C: Fn() -> S + Clone + Send + 'static,
{
    let server = std::thread::spawn(move || {
        let mut total = 0u64;
        for _ in 0..4 {
            let mut conn = accept();
            let mut buf = [0u8; 8];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
            total += u64::from_le_bytes(buf);
        }
        total
    });
    let clients: Vec<_> = (1..=4u64)
        .map(|i| {
            let connect = connect.clone();
            std::thread::spawn(move || {
                let mut s = connect();
                std::thread::sleep(Duration::from_millis(5)); // the server waits
                s.write_all(&i.to_le_bytes()).unwrap();
                let mut buf = [0u8; 8];
                s.read_exact(&mut buf).unwrap();
                u64::from_le_bytes(buf)
            })
        })
        .collect();
    let sum: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(sum, 10);
    assert_eq!(server.join().unwrap(), 10);
}

/// One end of a connected pair, as the shared checks use it.
pub(crate) trait Endpoint: Send + Sync + 'static {
    /// Reads (receives) into a small buffer.
    fn get(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes (sends) all of `buf` (one datagram).
    fn put(&self, buf: &[u8]) -> io::Result<()>;
    fn set_read_deadline(&self, deadline: Option<Instant>) -> io::Result<()>;
    fn set_write_deadline(&self, deadline: Option<Instant>) -> io::Result<()>;
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

/// `Endpoint` for `$t`, whose `get` and `put` are the closures given.
macro_rules! endpoint {
    ($t:ty, get: $get:expr, put: $put:expr) => {
        impl Endpoint for $t {
            fn get(&self, buf: &mut [u8]) -> io::Result<usize> {
                $get(self, buf)
            }
            fn put(&self, buf: &[u8]) -> io::Result<()> {
                $put(self, buf)
            }
            fn set_read_deadline(&self, d: Option<Instant>) -> io::Result<()> {
                <$t>::set_read_deadline(self, d)
            }
            fn set_write_deadline(&self, d: Option<Instant>) -> io::Result<()> {
                <$t>::set_write_deadline(self, d)
            }
            fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
                <$t>::set_read_timeout(self, t)
            }
        }
    };
}

/// A datagram sent whole.
fn whole(sent: io::Result<usize>, buf: &[u8]) -> io::Result<()> {
    assert_eq!(sent?, buf.len());
    Ok(())
}

endpoint!(UdpSocket, get: UdpSocket::recv, put: |s: &UdpSocket, b| whole(s.send(b), b));
endpoint!(UnixDatagram, get: UnixDatagram::recv, put: |s: &UnixDatagram, b| whole(s.send(b), b));
endpoint!(TcpStream, get: TcpStream::read, put: |mut s: &TcpStream, b| s.write_all(b));
endpoint!(UnixStream, get: UnixStream::read, put: |mut s: &UnixStream, b| s.write_all(b));

/// A connected pair of UDP sockets on loopback.
pub(crate) fn udp_pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    (a, b)
}

fn timed_out<T: std::fmt::Debug>(r: io::Result<T>) {
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
}

/// Deadlines before, during and after a blocked receive of `b` (run in a
/// goroutine).
pub(crate) fn deadlines_before_during_and_after<E: Endpoint>(a: &E, b: &E) {
    let mut buf = [0u8; 8];
    // Before: a past deadline fails at once, even with data there (Go's
    // rule: deadlines are checked first).
    a.put(b"x").unwrap();
    b.set_read_deadline(Some(Instant::now() - Duration::from_millis(1)))
        .unwrap();
    timed_out(b.get(&mut buf));
    // Cleared: the data is still there.
    b.set_read_deadline(None).unwrap();
    assert_eq!(b.get(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'x');
    // During: a receive blocked with nothing coming times out at the
    // deadline, not before.
    let start = Instant::now();
    b.set_read_deadline(Some(start + Duration::from_millis(30)))
        .unwrap();
    timed_out(b.get(&mut buf));
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(start.elapsed() < HANG);
    // After: the deadline stays past: every receive fails at once.
    timed_out(b.get(&mut buf));
    // A deadline in the future: data before it is received.
    b.set_read_deadline(Some(Instant::now() + HANG)).unwrap();
    a.put(b"y").unwrap();
    assert_eq!(b.get(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'y');
    // Write deadlines too: a past one fails at once.
    a.set_write_deadline(Some(Instant::now())).unwrap();
    timed_out(a.put(b"z"));
    a.set_write_deadline(None).unwrap();
    // std's timeouts count per operation, and fail the same way.
    b.set_read_deadline(None).unwrap();
    b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    timed_out(b.get(&mut buf));
    assert!(b.set_read_timeout(Some(Duration::ZERO)).is_err());
    b.set_read_timeout(None).unwrap();
}

/// Deadlines changed while a receive of `b` waits (run in a goroutine).
pub(crate) fn deadlines_changed_while_waiting<E: Endpoint>(a: Arc<E>, b: Arc<E>) {
    // Extended: the first deadline passes while the receive waits; the
    // data that comes after it (and before the new one) is received.
    b.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)))
        .unwrap();
    let r = b.clone();
    let receiver = goro_sched::go(move || {
        let mut buf = [0u8; 8];
        r.get(&mut buf).map(|n| buf[..n].to_vec())
    });
    goro_sched::sleep(Duration::from_millis(5));
    b.set_read_deadline(Some(Instant::now() + HANG)).unwrap();
    goro_sched::sleep(Duration::from_millis(150)); // past the first one
    a.put(b"abc").unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), b"abc");
    // Shortened: a receive waiting with a far deadline returns soon after
    // the deadline is brought forward.
    let r = b.clone();
    let start = Instant::now();
    let receiver = goro_sched::go(move || r.get(&mut [0u8; 8]));
    goro_sched::sleep(Duration::from_millis(10));
    b.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
        .unwrap();
    timed_out(receiver.join().unwrap());
    assert!(start.elapsed() < HANG / 2);
    // Moved into the past: the waiter returns at once.
    b.set_read_deadline(None).unwrap();
    let r = b.clone();
    let receiver = goro_sched::go(move || r.get(&mut [0u8; 8]));
    goro_sched::sleep(Duration::from_millis(10));
    b.set_read_deadline(Some(Instant::now() - Duration::from_secs(1)))
        .unwrap();
    timed_out(receiver.join().unwrap());
}

/// Plain threads on both ends: a ping-pong of numbers with their sum
/// checked, then a deadline that wakes a thread blocked in a receive.
pub(crate) fn plain_threads_ping_pong<E: Endpoint>(a: E, b: E) {
    const ROUNDS: u64 = 500;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let echo = {
        let b = b.clone();
        std::thread::spawn(move || {
            let mut sum = 0u64;
            for _ in 0..ROUNDS {
                let mut buf = [0u8; 8];
                get_exact(&*b, &mut buf);
                sum += u64::from_le_bytes(buf);
                b.put(&buf).unwrap();
            }
            sum
        })
    };
    let mut sum = 0u64;
    for i in 0..ROUNDS {
        a.put(&i.to_le_bytes()).unwrap();
        let mut buf = [0u8; 8];
        get_exact(&*a, &mut buf);
        assert_eq!(u64::from_le_bytes(buf), i);
        sum += i;
    }
    let want = ROUNDS * (ROUNDS - 1) / 2;
    assert_eq!(sum, want);
    assert_eq!(echo.join().unwrap(), want);
    // A thread blocked in a receive sees a deadline changed by another.
    let r = b.clone();
    let start = Instant::now();
    let receiver = std::thread::spawn(move || r.get(&mut [0u8; 8]));
    std::thread::sleep(Duration::from_millis(10));
    b.set_read_deadline(Some(Instant::now())).unwrap();
    timed_out(receiver.join().unwrap());
    assert!(start.elapsed() < HANG / 2);
}

/// Fills `buf` from a stream (or takes one datagram of its length).
pub(crate) fn get_exact<E: Endpoint + ?Sized>(e: &E, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        let n = e.get(&mut buf[got..]).unwrap();
        assert!(n > 0, "end of file after {got} bytes");
        got += n;
    }
}
