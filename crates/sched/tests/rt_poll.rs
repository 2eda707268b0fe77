//! The netpoller (`poll.rs`): goroutines parked on descriptors wake when the
//! kernel says so; an idle worker that sleeps in `epoll_wait` wakes for new
//! work and for timers; a busy runtime still polls.

mod common;

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use goro_sched::poll::{Direction, Registration};

/// One test at a time: the poller is the process's, and the idle tests
/// look for *a* thread in `epoll_wait`, which must be their runtime's.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Generous: only catches a hang.
const HANG: Duration = Duration::from_secs(20);

fn pair() -> (UnixStream, UnixStream, Registration) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let reg = Registration::new(a.as_fd()).unwrap();
    (a, b, reg)
}

/// Reads until `buf` is full or EOF, parking on the poller.
fn read_full(s: &mut UnixStream, reg: &Registration, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                reg.wait(Direction::Read, None);
            }
            Err(e) => panic!("{e}"),
        }
    }
    got
}

/// Whether some thread of the process sleeps in `epoll_wait`.
fn someone_in_epoll() -> bool {
    std::fs::read_dir("/proc/self/task").unwrap().any(|t| {
        std::fs::read_to_string(t.unwrap().path().join("wchan")).is_ok_and(|w| w.contains("epoll"))
    })
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < HANG, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn many_goroutines_wake_with_their_data() {
    let _serial = serial();
    let rt = common::builder().workers(2).build().unwrap();
    let n = 200;
    let mut writers = Vec::new();
    let mut handles = Vec::new();
    for i in 0..n {
        let (mut a, b, reg) = pair();
        writers.push(b);
        handles.push(rt.go(move || {
            let mut buf = [0u8; 8];
            assert_eq!(read_full(&mut a, &reg, &mut buf), 8);
            u64::from_le_bytes(buf) + i
        }));
    }
    std::thread::sleep(Duration::from_millis(20));
    for (i, w) in writers.iter_mut().enumerate() {
        // Two halves, to make some readers wake twice.
        let bytes = (i as u64 * 3).to_le_bytes();
        w.write_all(&bytes[..3]).unwrap();
        w.write_all(&bytes[3..]).unwrap();
    }
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 3 * n * (n - 1) / 2 + n * (n - 1) / 2);
}

#[test]
fn an_idle_worker_in_epoll_wakes_for_new_work() {
    let _serial = serial();
    let rt = common::builder().workers(1).build().unwrap();
    let (mut a, mut b, reg) = pair();
    let reader = rt.go(move || {
        let mut buf = [0u8; 1];
        read_full(&mut a, &reg, &mut buf)
    });
    // The only worker has nothing to do but wait for the socket.
    wait_until("the worker to sleep in epoll_wait", someone_in_epoll);
    // New work from outside must break its poll (it has no timeout).
    let (tx, rx) = mpsc::channel();
    rt.go(move || tx.send(7).unwrap());
    assert_eq!(rx.recv_timeout(HANG), Ok(7));
    // And readiness still wakes the reader.
    b.write_all(b"x").unwrap();
    assert_eq!(reader.join().unwrap(), 1);
}

#[test]
fn an_idle_worker_in_epoll_wakes_for_timers() {
    let _serial = serial();
    let rt = common::builder().workers(1).build().unwrap();
    let (mut a, mut b, reg) = pair();
    let reader = rt.go(move || {
        let mut buf = [0u8; 1];
        read_full(&mut a, &reg, &mut buf)
    });
    // A sleeper parked before the worker polls: its timer is the poll's
    // timeout.
    let start = Instant::now();
    let sleeper = rt.go(|| goro_sched::sleep(Duration::from_millis(100)));
    sleeper.join().unwrap();
    let slept = start.elapsed();
    assert!(slept >= Duration::from_millis(100));
    wait_until("the worker to sleep in epoll_wait", someone_in_epoll);
    // A timer added from outside while the worker blocks in epoll with no
    // timeout: the wake-up breaks the poll so that it sees the new timer.
    let (tx, rx) = mpsc::channel();
    let _rt = rt.enter();
    goro_sched::timer::call_at(Instant::now() + Duration::from_millis(30), move || {
        tx.send(()).unwrap()
    });
    assert_eq!(rx.recv_timeout(HANG), Ok(()));
    b.write_all(b"x").unwrap();
    assert_eq!(reader.join().unwrap(), 1);
}

#[test]
fn a_busy_runtime_still_polls() {
    let _serial = serial();
    // One worker, kept busy by a goroutine that yields in a loop: the
    // worker never sleeps, so the reader's wake-up must come from the busy
    // polls (or sysmon's).
    let rt = common::builder().workers(1).build().unwrap();
    let (mut a, mut b, reg) = pair();
    let stop = Arc::new(AtomicUsize::new(0));
    let s = stop.clone();
    let spinner = rt.go(move || {
        while s.load(Ordering::Relaxed) == 0 {
            goro_sched::yield_now();
        }
    });
    let s = stop.clone();
    let reader = rt.go(move || {
        let mut buf = [0u8; 4];
        let n = read_full(&mut a, &reg, &mut buf);
        s.store(1, Ordering::Relaxed);
        n
    });
    std::thread::sleep(Duration::from_millis(20));
    b.write_all(b"ping").unwrap();
    let start = Instant::now();
    while stop.load(Ordering::Relaxed) == 0 {
        assert!(start.elapsed() < HANG, "the reader never woke");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(reader.join().unwrap(), 4);
    spinner.join().unwrap();
}

#[test]
fn a_deadline_wakes_a_waiter_and_wake_interrupts_it() {
    let _serial = serial();
    let rt = common::builder().workers(1).build().unwrap();
    let (a, _b, reg) = pair();
    let reg = Arc::new(reg);
    let r = reg.clone();
    // A deadline: `wait` returns by then without readiness.
    let start = Instant::now();
    let seen = rt.run(move || {
        r.wait(
            Direction::Read,
            Some(Instant::now() + Duration::from_millis(30)),
        )
    });
    assert!(!seen);
    assert!(start.elapsed() >= Duration::from_millis(30));
    // `wake` interrupts a wait with no deadline.
    let r = reg.clone();
    let waiter = rt.go(move || r.wait(Direction::Read, None));
    std::thread::sleep(Duration::from_millis(20));
    reg.wake(Direction::Read);
    assert!(!waiter.join().unwrap());
    drop(a);
}

#[test]
fn plain_threads_wait_in_poll() {
    let _serial = serial();
    let (mut a, mut b, reg) = pair();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 3];
        read_full(&mut a, &reg, &mut buf)
    });
    std::thread::sleep(Duration::from_millis(30));
    b.write_all(b"abc").unwrap();
    assert_eq!(t.join().unwrap(), 3);
}

#[test]
fn a_runtime_dropped_while_goroutines_wait_on_the_poller() {
    let _serial = serial();
    let rt = common::builder().workers(2).build().unwrap();
    let mut peers = Vec::new();
    for _ in 0..10 {
        let (mut a, b, reg) = pair();
        peers.push(b);
        // The registration lives on the goroutine's stack: shutdown unwinds
        // the goroutine out of its wait and drops it there.
        rt.go(move || {
            let mut buf = [0u8; 1];
            read_full(&mut a, &reg, &mut buf)
        });
    }
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    // The poller still works for the next runtime.
    let rt = common::builder().workers(1).build().unwrap();
    let (mut a, mut b, reg) = pair();
    let reader = rt.go(move || {
        let mut buf = [0u8; 2];
        read_full(&mut a, &reg, &mut buf)
    });
    b.write_all(b"ok").unwrap();
    assert_eq!(reader.join().unwrap(), 2);
}
