//! TCP on loopback: deadlines, shutdown, half-close, partial writes,
//! refused connections, plain threads, descriptors closed exactly once, and
//! a blocked read that leaves its worker to the others.
//!
//! One test at a time (`serial`): the descriptor count of the process is
//! checked, and the timing-free assertions still want a quiet machine's
//! generous bounds.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_net::{TcpListener, TcpStream};

mod support;

use support::{HANG, open_fds, rt, serial};

/// A connected pair: (client, server side).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn deadlines_before_during_and_after_a_read() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = pair();
        support::deadlines_before_during_and_after(&a, &b);
    });
}

#[test]
fn deadlines_changed_while_a_read_waits() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = pair();
        support::deadlines_changed_while_waiting(Arc::new(a), Arc::new(b));
    });
}

trait WriteAllOk {
    fn write_all_ok(&self, buf: &[u8]);
}

impl WriteAllOk for TcpStream {
    fn write_all_ok(&self, buf: &[u8]) {
        let mut s = self;
        s.write_all(buf).unwrap();
    }
}

/// Fills the socket's buffers: writes until a write would wait (a past
/// write deadline after a while), then clears the deadline.
fn fill(s: &TcpStream) -> usize {
    let chunk = vec![7u8; 64 * 1024];
    let mut total = 0;
    s.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    loop {
        match s.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
            Err(e) => panic!("{e}"),
        }
    }
    s.set_write_timeout(None).unwrap();
    total
}

#[test]
fn shutdown_wakes_a_blocked_reader_and_writer() {
    let _s = serial();
    let rt = rt(2);
    for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
        rt.run(move || {
            let (a, _b) = pair();
            fill(&a);
            let r = a.try_clone().unwrap();
            let reader = goro_sched::go(move || r.read(&mut [0u8; 16]));
            let w = a.try_clone().unwrap();
            let writer = goro_sched::go(move || w.write(&[1u8; 1024]));
            goro_sched::sleep(Duration::from_millis(20));
            assert!(!reader.is_finished() && !writer.is_finished());
            a.shutdown(how).unwrap();
            let start = Instant::now();
            // The half that was not shut keeps waiting: a deadline wakes
            // it, once the other has been seen to return by itself.
            let (read, write) = match how {
                Shutdown::Read => {
                    let read = reader.join().unwrap();
                    a.set_write_deadline(Some(Instant::now())).unwrap();
                    (read, writer.join().unwrap())
                }
                Shutdown::Write => {
                    let write = writer.join().unwrap();
                    a.set_read_deadline(Some(Instant::now())).unwrap();
                    (reader.join().unwrap(), write)
                }
                _ => (reader.join().unwrap(), writer.join().unwrap()),
            };
            assert!(start.elapsed() < HANG);
            if how != Shutdown::Write {
                assert_eq!(read.unwrap(), 0, "{how:?}: read gets EOF");
            } else {
                assert_eq!(read.unwrap_err().kind(), io::ErrorKind::TimedOut);
            }
            if how != Shutdown::Read {
                let err = write.unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{how:?}");
            } else {
                assert_eq!(write.unwrap_err().kind(), io::ErrorKind::TimedOut);
            }
        });
    }
}

#[test]
fn half_close() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (mut a, b) = pair();
        let server = goro_sched::go(move || {
            let mut b = b;
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap(); // until the client's FIN
            let reply: u64 = got.iter().map(|&x| u64::from(x)).sum();
            b.write_all(&reply.to_le_bytes()).unwrap(); // still writable
            got.len()
        });
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        a.write_all(&data).unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        a.read_to_end(&mut reply).unwrap();
        let want: u64 = data.iter().map(|&x| u64::from(x)).sum();
        assert_eq!(reply, want.to_le_bytes());
        assert_eq!(server.join().unwrap(), data.len());
    });
}

#[test]
fn a_64_mib_write_through_a_slow_reader() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (mut a, b) = pair();
        const LEN: usize = 64 << 20;
        let reader = goro_sched::go(move || {
            let mut buf = vec![0u8; 4096];
            let (mut got, mut sum, mut reads) = (0usize, 0u64, 0u64);
            loop {
                let n = b.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                for (i, &x) in buf[..n].iter().enumerate() {
                    sum = sum.wrapping_add(u64::from(x) * ((got + i) as u64 % 7 + 1));
                }
                got += n;
                reads += 1;
                // Slow: now and then it sleeps, so the writer waits.
                if reads % 512 == 0 {
                    goro_sched::sleep(Duration::from_millis(1));
                }
            }
            (got, sum)
        });
        let data: Vec<u8> = (0..LEN).map(|i| (i % 253) as u8).collect();
        let want: u64 = data.iter().enumerate().fold(0u64, |s, (i, &x)| {
            s.wrapping_add(u64::from(x) * (i as u64 % 7 + 1))
        });
        // One write_all: many partial writes, each waiting for room.
        a.write_all(&data).unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(reader.join().unwrap(), (LEN, want));
    });
}

#[test]
fn connect_refused_and_bad_timeouts() {
    let _s = serial();
    let addr: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // closed: nobody listens there now
    let rt = rt(1);
    rt.run(move || {
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
    // From a plain thread too.
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn plain_threads_use_the_same_api() {
    let _s = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    support::threads_accept_and_echo(
        move || listener.accept().unwrap().0,
        move || TcpStream::connect(("127.0.0.1", addr.port())).unwrap(),
    );
    // Deadlines on a thread: timed out, and a change seen while it waits.
    let (a, b) = pair();
    b.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
        .unwrap();
    assert_eq!(
        b.read(&mut [0u8; 1]).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
    b.set_read_deadline(Some(Instant::now() + HANG)).unwrap();
    let b = Arc::new(b);
    let r = b.clone();
    let start = Instant::now();
    let reader = std::thread::spawn(move || r.read(&mut [0u8; 1]));
    std::thread::sleep(Duration::from_millis(10));
    b.set_read_deadline(Some(Instant::now())).unwrap();
    let err = reader.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() < HANG / 2);
    // Shutdown wakes a thread blocked in read.
    let r = b.clone();
    b.set_read_deadline(None).unwrap();
    let reader = std::thread::spawn(move || r.read(&mut [0u8; 1]));
    std::thread::sleep(Duration::from_millis(10));
    b.shutdown(Shutdown::Read).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 0);
    drop(a);
}

#[test]
fn a_blocked_read_leaves_its_worker_to_the_others() {
    let _s = serial();
    let rt = rt(1);
    rt.run(|| {
        let (a, b) = pair();
        let reader = goro_sched::go(move || {
            let mut buf = [0u8; 4];
            (&b).read_exact(&mut buf).unwrap();
            u32::from_le_bytes(buf)
        });
        // On the same (only) worker, while the reader waits: many
        // goroutines run to the end.
        let sum = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..1000u64)
            .map(|i| {
                let sum = sum.clone();
                goro_sched::go(move || {
                    goro_sched::yield_now();
                    sum.fetch_add(i, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(sum.load(Ordering::Relaxed), 999 * 1000 / 2);
        assert!(!reader.is_finished());
        a.write_all_ok(&42u32.to_le_bytes());
        assert_eq!(reader.join().unwrap(), 42);
    });
}

#[test]
fn descriptors_close_exactly_once() {
    let _s = serial();
    let rt = rt(2);
    // Warm up: the poller's own descriptors (epoll, eventfd) and the
    // runtime's exist before the count.
    rt.run(|| drop(pair()));
    let before = open_fds();
    let done = Arc::new(AtomicBool::new(false));
    rt.run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut kept = Vec::new();
        for i in 0..100 {
            let c = TcpStream::connect(addr).unwrap();
            let (s, _) = listener.accept().unwrap();
            // Clones share the descriptor: dropping one leaves the other
            // working; into_std hands it over.
            let c2 = c.try_clone().unwrap();
            drop(c);
            c2.write_all_ok(b"k");
            let mut byte = [0u8; 1];
            (&s).read_exact(&mut byte).unwrap();
            if i % 10 == 0 {
                kept.push(s.into_std().unwrap());
            } else if i % 10 == 1 {
                let std = c2.into_std().unwrap();
                kept.push(TcpStream::from(std).into_std().unwrap());
                continue;
            }
            drop(c2);
        }
        drop(kept);
        done.store(true, Ordering::Relaxed);
    });
    // Goroutines dropped everything before `run` returned.
    assert_eq!(open_fds(), before);
    // std sockets in, goro's out, once more.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let l = TcpListener::from(l);
    drop(l);
    assert_eq!(open_fds(), before);
}

#[test]
fn many_readers_and_writers_share_one_socket() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = pair();
        const WRITERS: u64 = 4;
        const PER_WRITER: u64 = 20_000; // u64s each
        // Readers take turns on the poller (one waiter per direction); a
        // plain thread reads too, in poll(2).
        let got = Arc::new(AtomicU64::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        let read_into = |s: TcpStream, got: Arc<AtomicU64>, sum: Arc<AtomicU64>| {
            move || {
                let mut buf = [0u8; 8];
                // Whole u64s only: read_exact on a shared socket could split
                // one between readers, so each message is 8 bytes of the
                // same value and is summed byte by byte.
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            got.fetch_add(n as u64, Ordering::Relaxed);
                            let s: u64 = buf[..n].iter().map(|&x| u64::from(x)).sum();
                            sum.fetch_add(s, Ordering::Relaxed);
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        };
        let readers: Vec<_> = (0..6)
            .map(|_| goro_sched::go(read_into(b.try_clone().unwrap(), got.clone(), sum.clone())))
            .collect();
        let thread_reader =
            std::thread::spawn(read_into(b.try_clone().unwrap(), got.clone(), sum.clone()));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let a = a.try_clone().unwrap();
                goro_sched::go(move || {
                    for i in 0..PER_WRITER {
                        let v = ((w * PER_WRITER + i) % 256) as u8;
                        (&a).write_all(&[v; 8]).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        a.shutdown(Shutdown::Write).unwrap();
        for r in readers {
            r.join().unwrap();
        }
        thread_reader.join().unwrap();
        let total = WRITERS * PER_WRITER;
        assert_eq!(got.load(Ordering::Relaxed), total * 8);
        let want: u64 = (0..total).map(|k| (k % 256) * 8).sum();
        assert_eq!(sum.load(Ordering::Relaxed), want);
    });
}

#[test]
fn sockets_opened_and_closed_while_others_wait() {
    // Poll descriptors are reused: a closed socket's late events reach the
    // next user as a spurious wake-up, never a lost or misdirected one.
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let handles: Vec<_> = (0..8u64)
            .map(|g| {
                let listener = listener.clone();
                goro_sched::go(move || {
                    let mut sum = 0u64;
                    for i in 0..100u64 {
                        let c = TcpStream::connect(addr).unwrap();
                        let (s, _) = listener.accept().unwrap();
                        let v = g * 1000 + i;
                        let w = goro_sched::go(move || {
                            goro_sched::yield_now();
                            c.write_all_ok(&v.to_le_bytes());
                            // Dropped: closed while the reader may still wait.
                        });
                        let mut buf = [0u8; 8];
                        (&s).read_exact(&mut buf).unwrap();
                        assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0); // EOF
                        w.join().unwrap();
                        sum += u64::from_le_bytes(buf);
                    }
                    sum
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let want: u64 = (0..8u64)
            .flat_map(|g| (0..100).map(move |i| g * 1000 + i))
            .sum();
        assert_eq!(total, want);
    });
}

/// A read that returned fewer bytes than asked lets the next read skip its
/// system call and wait on the poller (tokio's readiness clearing): an end
/// of file that came with the data, or just after it, must still be seen.
/// 400 connections on 2 workers, each end a goroutine; the server writes
/// some bytes, then closes in one of four ways (at once, after a yield,
/// after a second write, or a shutdown right after the data); the reader
/// reads with a buffer larger than all of it.
#[test]
fn a_read_after_a_short_one_still_sees_the_end_of_file() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const CONNS: u64 = 400;
        let start = Instant::now();
        let server = goro_sched::go(move || {
            let mut sent = 0u64;
            for i in 0..CONNS {
                let (c, _) = listener.accept().unwrap();
                let k = 1 + (i * 37) % 200;
                sent += k * ((i % 4 == 2) as u64 + 1);
                goro_sched::go(move || {
                    let data = vec![(i % 251) as u8; k as usize];
                    (&c).write_all(&data).unwrap();
                    match i % 4 {
                        0 => {}
                        1 => goro_sched::yield_now(),
                        2 => {
                            goro_sched::yield_now();
                            (&c).write_all(&data).unwrap();
                        }
                        _ => c.shutdown(Shutdown::Write).unwrap(),
                    }
                    drop(c);
                });
            }
            sent
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                goro_sched::go(move || {
                    let c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(HANG)).unwrap();
                    let mut buf = [0u8; 1024];
                    let mut got = 0u64;
                    loop {
                        match c.read(&mut buf) {
                            Ok(0) => return got,
                            Ok(n) => got += n as u64,
                            Err(e) => panic!("read: {e} after {got} bytes"),
                        }
                    }
                })
            })
            .collect();
        let got: u64 = clients.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(got, server.join().unwrap());
        // A reader that missed its end of file waits for its timeout, then
        // finds it.
        assert!(
            start.elapsed() < HANG,
            "a reader waited for an end of file that had come"
        );
    });
}

/// The same skip with readers sharing one socket: a reader's note that it
/// drained the socket is stale once another reader has consumed a
/// readiness (whose data it may have left in part). Six goroutines with
/// buffers of different sizes read one socket; a writer sends chunks of
/// varying sizes, each only once the readers have all of the last one (so
/// no later edge rescues a reader that waits on a stale note); every byte
/// arrives once and every reader sees the end.
#[test]
fn readers_sharing_a_socket_never_wait_on_a_stale_drain() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let start = Instant::now();
        let (a, b) = pair();
        b.set_read_timeout(Some(HANG)).unwrap();
        let got = Arc::new(AtomicU64::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..6)
            .map(|r| {
                let (b, got, sum) = (b.try_clone().unwrap(), got.clone(), sum.clone());
                goro_sched::go(move || {
                    let mut buf = vec![0u8; 64 + r * 300];
                    loop {
                        match b.read(&mut buf) {
                            Ok(0) => return,
                            Ok(n) => {
                                let s: u64 = buf[..n].iter().map(|&x| u64::from(x)).sum();
                                sum.fetch_add(s, Ordering::Relaxed);
                                got.fetch_add(n as u64, Ordering::Release);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        let (mut bytes, mut want) = (0u64, 0u64);
        for i in 0..3000u64 {
            let len = 1 + (i * 104_729 % 2500) as usize;
            let v = (i % 256) as u8;
            (&a).write_all(&vec![v; len]).unwrap();
            bytes += len as u64;
            want += u64::from(v) * len as u64;
            while got.load(Ordering::Acquire) < bytes {
                assert!(start.elapsed() < HANG, "a reader waited on a stale drain");
                goro_sched::yield_now();
            }
        }
        a.shutdown(Shutdown::Write).unwrap();
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(got.load(Ordering::Relaxed), bytes);
        assert_eq!(sum.load(Ordering::Relaxed), want);
    });
}

/// The stale note of `readers_sharing_a_socket_never_wait_on_a_stale_drain`
/// made certain to matter: reader A drains the socket (a short read) and
/// pauses; reader B, parked on the poller in a `peek` (which takes no note
/// of A's), is woken by new data and stops; A's next read must find the
/// data, though no edge will come for it (B consumed the readiness). 200
/// connections at once.
#[test]
fn a_drain_noted_before_another_reader_took_a_readiness_is_not_trusted() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let start = Instant::now();
        let handles: Vec<_> = (0..200u64)
            .map(|i| {
                goro_sched::go(move || {
                    let (a, b) = pair();
                    b.set_read_timeout(Some(HANG)).unwrap();
                    (&a).write_all(&[1; 10]).unwrap();
                    let mut buf = [0u8; 64];
                    let mut got = 0;
                    while got < 10 {
                        got += b.read(&mut buf).unwrap(); // short: drained
                    }
                    let b2 = b.try_clone().unwrap();
                    let other = goro_sched::go(move || {
                        let mut one = [0u8; 1];
                        b2.peek(&mut one).unwrap() // parks, then one byte
                    });
                    // Let the other reader park first (if it has not, its
                    // read takes no readiness, and this passes anyway).
                    goro_sched::sleep(Duration::from_millis(1 + i % 3));
                    (&a).write_all(&[2; 40]).unwrap();
                    assert_eq!(other.join().unwrap(), 1);
                    let mut rest = 0;
                    while rest < 40 {
                        rest += b.read(&mut buf).unwrap();
                    }
                    assert_eq!(rest, 40);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(start.elapsed() < HANG, "a reader waited on a stale drain");
    });
}

/// The process's descriptor table grows ahead of the sockets (so that
/// opening one never waits for the kernel to grow it, which stalls every
/// thread that opens one meanwhile for an RCU grace period): once 300
/// sockets are open, the table soon has room for four times the highest
/// (within half the soft limit).
#[test]
fn the_descriptor_table_grows_ahead_of_the_sockets() {
    let _s = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut open = Vec::new();
    for _ in 0..150 {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        open.push((c, s));
    }
    use std::os::fd::AsRawFd;
    let highest = open
        .iter()
        .flat_map(|(c, s)| [c.as_raw_fd(), s.as_raw_fd()])
        .max()
        .unwrap() as u64;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the kernel to fill.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    let want = (4 * (highest + 1)).min(limit.rlim_cur / 2);
    let fd_size = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse::<u64>().unwrap()
    };
    let start = Instant::now();
    while fd_size() < want {
        assert!(
            start.elapsed() < HANG,
            "FDSize {} with descriptor {highest} open, want {want}",
            fd_size()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
