//! Shared plumbing of the side-by-side workloads.
//!
//! Every system has one binary (`bench-goro`, `bench-corosensei`, ...) that runs
//! `<binary> <workload> <n>` and prints one line,
//! `checksum=<u64> elapsed_ns=<u64>`, which `cargo xtask bench` parses. The same
//! workload with the same `n` prints the same checksum on every system.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro::park::{self, Unparker};

/// Parses `<workload> <n>` from the command line, or exits with usage.
pub fn args(binary: &str, workloads: &[&str]) -> (String, u64) {
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!(
            "usage: {binary} <workload> <n>\nworkloads: {}",
            workloads.join(", ")
        );
        std::process::exit(2);
    };
    raise_fd_limit();
    let workload = args.next().unwrap_or_else(|| usage());
    if !workloads.contains(&workload.as_str()) {
        usage();
    }
    let n = args
        .next()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or_else(|| usage());
    (workload, n)
}

/// Raises the soft limit on open descriptors to the hard one, as Go's
/// runtime does at start (Go 1.19 and later), so that every system runs the
/// network workloads under the same limit (a soft limit of 1024 would not
/// hold `idle-conns`' 10,000 connections). [`args`] calls it, and so does
/// `bench-client` (Go gives its children the limit it started with back).
/// Failing leaves the limit as it is.
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the call to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid `rlimit`; a soft limit up to the hard
        // one needs no privilege, and an error changes nothing.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}

/// Times `f` and prints the line the harness reads.
pub fn report(f: impl FnOnce() -> u64) {
    let start = Instant::now();
    let checksum = f();
    let elapsed: Duration = start.elapsed();
    println!("checksum={checksum} elapsed_ns={}", elapsed.as_nanos());
}

/// Increments per goroutine (task, thread share) in the `mutex` workload:
/// `<binary> mutex <n>` runs `n` goroutines of `MUTEX_INCREMENTS` each, and
/// its checksum is the counter at the end, `n * MUTEX_INCREMENTS`.
pub const MUTEX_INCREMENTS: u64 = 1000;

/// The expected checksum of `switch` with `n` round trips: the sum of the
/// values yielded, `0 + 1 + ... + (n - 1)`, wrapping.
pub fn switch_checksum(n: u64) -> u64 {
    (0..n).fold(0u64, u64::wrapping_add)
}

/// A count-down latch for goroutines (the spawn workload's stand-in for Go's
/// `sync.WaitGroup` until goro-sync has one): `done` `n` times, and `wait`
/// returns.
#[derive(Clone, Debug)]
pub struct Latch(Arc<LatchInner>);

#[derive(Debug)]
struct LatchInner {
    remaining: AtomicU64,
    waiter: Mutex<Option<Unparker>>,
}

impl Latch {
    /// A latch that opens after `n` calls to `done`.
    pub fn new(n: u64) -> Latch {
        Latch(Arc::new(LatchInner {
            remaining: AtomicU64::new(n),
            waiter: Mutex::new(None),
        }))
    }

    /// Counts one down; the last wakes the waiter.
    pub fn done(&self) {
        if self.0.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(waiter) = self.0.waiter.lock().unwrap().take()
        {
            waiter.unpark();
        }
    }

    /// Waits until the count reaches zero.
    pub fn wait(&self) {
        *self.0.waiter.lock().unwrap() = Some(park::current_unparker());
        while self.0.remaining.load(Ordering::Acquire) != 0 {
            park::park();
        }
    }
}

/// Times `f` and prints the line the harness reads, with `f`'s extra
/// `key=value` fields after `checksum` and `elapsed_ns`.
pub fn report_with(f: impl FnOnce() -> (u64, Vec<(&'static str, u64)>)) {
    let start = Instant::now();
    let (checksum, extra) = f();
    let elapsed: Duration = start.elapsed();
    let mut line = format!("checksum={checksum} elapsed_ns={}", elapsed.as_nanos());
    for (key, value) in extra {
        line += &format!(" {key}={value}");
    }
    println!("{line}");
}

/// A `Vm*` line of `/proc/self/status`, in KiB (0 where there is none).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .unwrap_or(0)
}

/// The `memory` workload's measurements, taken the same way on every system:
/// `baseline_kib` is `VmRSS` once the runtime has started and before the
/// first of the `n` is spawned; `peak_kib` is `VmHWM` (the peak resident set
/// so far) once all `n` are parked. The harness reports
/// `(peak_kib - baseline_kib) / n`.
#[derive(Debug)]
pub struct Memory {
    baseline_kib: u64,
}

impl Memory {
    /// Takes the baseline now.
    pub fn baseline() -> Memory {
        Memory {
            baseline_kib: status_kib("VmRSS"),
        }
    }

    /// Takes the peak now, and returns the fields for [`report_with`].
    pub fn peak(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("baseline_kib", self.baseline_kib),
            ("peak_kib", status_kib("VmHWM")),
        ]
    }
}

/// The hogs of the `hogs` workloads: as many as there are CPUs (which is
/// also every system's number of workers).
pub fn hog_count() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// What a hog does until its deadline, without ever yielding to its runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hog {
    /// `hogs`: a CPU loop.
    Spin,
    /// `hogs-sleep`: `std::thread::sleep` in 50 ms chunks.
    Sleep,
    /// `hogs-read`: one blocking `std::net::TcpStream::read` on loopback,
    /// from a listener that writes only at the deadline.
    Read,
    /// `hogs-net`: the same read on the system's own socket type (goro's
    /// `goro::net::TcpStream`, Go's `net.Conn`, tokio's and may's), which
    /// parks the hog instead of blocking its worker. Each binary writes this
    /// hog itself: [`hog`] cannot.
    Net,
}

impl Hog {
    /// The hog of workload `name` (`hogs`, `hogs-sleep`, `hogs-read`,
    /// `hogs-net`).
    pub fn of(name: &str) -> Option<Hog> {
        match name {
            "hogs" => Some(Hog::Spin),
            "hogs-sleep" => Some(Hog::Sleep),
            "hogs-read" => Some(Hog::Read),
            "hogs-net" => Some(Hog::Net),
            _ => None,
        }
    }

    /// Whether the hogs read from a loopback listener ([`serve_at`]).
    pub fn reads(self) -> bool {
        matches!(self, Hog::Read | Hog::Net)
    }
}

/// Where the hogs of `hogs-read` connect: a listener on loopback whose own
/// thread accepts `hogs` connections and writes one byte to each at the
/// deadline.
pub fn serve_at(hogs: u64, deadline: Instant) -> std::net::SocketAddr {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("listener address");
    std::thread::spawn(move || {
        let conns: Vec<_> = (0..hogs)
            .map(|_| listener.accept().expect("accept").0)
            .collect();
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        for mut conn in conns {
            let _ = conn.write_all(b"x");
        }
    });
    addr
}

/// One hog's work, on whatever thread runs it; returns 1 when it finished
/// (the `hogs` checksum counts them).
pub fn hog(kind: Hog, deadline: Instant, addr: Option<std::net::SocketAddr>) -> u64 {
    match kind {
        Hog::Spin => {
            let mut x = 0u64;
            while Instant::now() < deadline {
                for i in 0..1000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
            }
            std::hint::black_box(x);
        }
        Hog::Sleep => loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        },
        Hog::Read => {
            use std::io::Read;
            let addr = addr.expect("hogs-read needs the listener's address");
            let mut conn = std::net::TcpStream::connect(addr).expect("connect to loopback");
            let mut byte = [0u8; 1];
            conn.read_exact(&mut byte).expect("read from loopback");
        }
        Hog::Net => unreachable!("each binary reads its own runtime's socket in hogs-net"),
    }
    1
}

/// The ticker's record: the lag of each 1 ms tick, `actual wake - expected
/// wake`, where the expected wake is the time before the sleep plus 1 ms.
#[derive(Debug)]
pub struct Lags {
    start: Instant,
    /// Per tick: its lag, and when (since `start`) it was due.
    ticks: Vec<(Duration, Duration)>,
}

/// The tick of the `hogs` workloads' ticker.
pub const TICK: Duration = Duration::from_millis(1);

impl Default for Lags {
    fn default() -> Lags {
        Lags::new()
    }
}

impl Lags {
    /// An empty record, starting now.
    pub fn new() -> Lags {
        Lags {
            start: Instant::now(),
            ticks: Vec::with_capacity(4096),
        }
    }

    /// Records the tick that was due at `before + TICK`.
    pub fn tick(&mut self, before: Instant) {
        let due = before + TICK;
        let lag = Instant::now().saturating_duration_since(due);
        self.ticks
            .push((lag, due.saturating_duration_since(self.start)));
    }

    /// The worst and the 99th-percentile lag in microseconds, the number of
    /// ticks, and when the worst tick was due (ms since the ticker started),
    /// for [`report_with`].
    pub fn fields(mut self) -> Vec<(&'static str, u64)> {
        self.ticks.sort();
        let us = |t: Option<&(Duration, Duration)>| t.map_or(0, |t| t.0.as_micros() as u64);
        let p99 = (self.ticks.len() * 99).div_ceil(100).saturating_sub(1);
        let worst = self.ticks.last();
        vec![
            ("worst_lag_us", us(worst)),
            ("p99_lag_us", us(self.ticks.get(p99))),
            ("ticks", self.ticks.len() as u64),
            ("worst_at_ms", worst.map_or(0, |t| t.1.as_millis() as u64)),
        ]
    }
}

/// The `echo` workload: every connection makes `ECHO_ROUND_TRIPS` round
/// trips of `ECHO_BYTES`.
pub const ECHO_ROUND_TRIPS: u64 = 1000;
/// Bytes of one `echo` message.
pub const ECHO_BYTES: usize = 64;
/// The buffer every `echo` server reads into (and writes back from).
pub const ECHO_BUFFER: usize = 1024;

/// The `i`th message of connection `conn` in `echo`: its number
/// `conn * ECHO_ROUND_TRIPS + i` (little-endian) and then a fixed filler.
/// The checksum is the wrapping sum of the numbers echoed back, so every
/// system that echoes every message intact prints
/// `0 + 1 + ... + (n * ECHO_ROUND_TRIPS - 1)`.
pub fn echo_message(conn: u64, i: u64) -> [u8; ECHO_BYTES] {
    let mut msg = [b'.'; ECHO_BYTES];
    msg[..8].copy_from_slice(&(conn * ECHO_ROUND_TRIPS + i).to_le_bytes());
    msg
}

/// Checks that `back` is the echo of `sent`, and returns the number it
/// carries (panics otherwise: the run fails).
pub fn echo_check(sent: &[u8; ECHO_BYTES], back: &[u8; ECHO_BYTES]) -> u64 {
    assert_eq!(sent, back, "echo: the message came back changed");
    u64::from_le_bytes(back[..8].try_into().expect("8 bytes"))
}

/// Connections of the `http` load client.
pub const HTTP_CONNS: u64 = 256;
/// The body every `http` server answers with.
pub const HTTP_BODY: &[u8] = b"hello";

/// The load client (`bench-client`), which sits beside the running binary
/// (`bench-go` too is built into the same folder).
pub fn client_binary() -> std::path::PathBuf {
    let me = std::env::current_exe().expect("the running binary's path");
    me.with_file_name("bench-client")
}

/// Runs the `http` load client against `addr` for `ms` milliseconds and
/// returns its fields (`checksum`, `elapsed_ns`, `requests`), for
/// [`report_with`]'s caller. Blocks the calling thread until it is done.
pub fn http_load(addr: std::net::SocketAddr, ms: u64) -> (u64, u64, u64) {
    let client = client_binary();
    let out = std::process::Command::new(&client)
        .args([
            "http",
            &addr.to_string(),
            &HTTP_CONNS.to_string(),
            &ms.to_string(),
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", client.display()));
    assert!(
        out.status.success(),
        "the load client failed ({})",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> u64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("the load client printed no {key}: {text:?}"))
    };
    (field("checksum"), field("elapsed_ns"), field("requests"))
}

/// Starts the other end of `idle-conns`: a `bench-client` process that opens
/// `n` connections to `addr`, then holds them until its standard input is
/// closed (drop [`std::process::Child::stdin`]), and exits, closing them.
pub fn idle_client(addr: std::net::SocketAddr, n: u64) -> std::process::Child {
    let client = client_binary();
    std::process::Command::new(&client)
        .args(["idle", &addr.to_string(), &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", client.display()))
}

/// The threads of this process now (entries of `/proc/self/task`).
pub fn thread_count() -> u64 {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count() as u64)
}

/// How long `idle-conns` waits for the client's connections before it
/// fails (instead of waiting for good if the client died).
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Skynet over unbuffered channels: goroutine `num` of `size` spawns `div`
/// children and sends the sum of their numbers up `c` (goro's side of the
/// `skynet` workload, and `bench-bubble`'s).
pub fn skynet(c: goro::chan::Sender<u64>, num: u64, size: u64, div: u64) {
    if size == 1 {
        c.send(num).unwrap();
        return;
    }
    let (tx, rx) = goro::chan::bounded(0);
    let sub = size / div;
    for i in 0..div {
        let tx = tx.clone();
        goro::go(move || skynet(tx, num + i * sub, sub, div));
    }
    drop(tx);
    let sum: u64 = (0..div).map(|_| rx.recv().unwrap()).sum();
    c.send(sum).unwrap();
}

/// The median of `xs` (the upper one of an even count), for the binaries
/// run by hand.
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}
