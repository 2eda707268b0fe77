//! Unix domain sockets: a stream echo over many connections with sums
//! checked, half-close, shutdown waking blocked operations, a full
//! backlog, datagram ping-pong and many senders to one socket, deadlines,
//! plain threads, and std's sockets in and out.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_net::{UnixDatagram, UnixListener, UnixStream};

mod support;

use support::{HANG, MSG, TempPath, checksum, message, open_fds, rt, serial, want};

#[test]
fn stream_echo_over_many_connections() {
    let _s = serial();
    let rt = rt(2);
    let path = TempPath::new("echo");
    const CONNS: u64 = 200;
    const ROUNDS: u64 = 100;
    let p = path.0.clone();
    let (sum, served) = rt.run(move || {
        let listener = Arc::new(UnixListener::bind(&p).unwrap());
        // A goroutine per connection, echoing until the client's EOF and
        // summing what it saw.
        let l = listener.clone();
        let server = goro_sched::go(move || {
            let mut conns = Vec::new();
            for conn in l.incoming() {
                let mut conn = match conn {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
                    Err(e) => panic!("{e}"),
                };
                conns.push(goro_sched::go(move || {
                    let mut buf = [0u8; MSG];
                    let mut sum = 0u64;
                    loop {
                        match conn.read_exact(&mut buf) {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return sum,
                            Err(e) => panic!("{e}"),
                        }
                        sum = sum.wrapping_add(checksum(&buf));
                        conn.write_all(&buf).unwrap();
                    }
                }));
            }
            conns
                .into_iter()
                .map(|c| c.join().unwrap())
                .fold(0, u64::wrapping_add)
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|id| {
                let p = p.clone();
                goro_sched::go(move || {
                    let mut s = UnixStream::connect(&p).unwrap();
                    let mut sum = 0u64;
                    let mut buf = [0u8; MSG];
                    for round in 0..ROUNDS {
                        let m = message(id, round);
                        s.write_all(&m).unwrap();
                        s.read_exact(&mut buf).unwrap();
                        assert_eq!(buf, m);
                        sum = sum.wrapping_add(checksum(&buf));
                    }
                    sum
                })
            })
            .collect();
        let sum = clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .fold(0, u64::wrapping_add);
        // Every client is done (and dropped its stream): stop accepting.
        listener.set_deadline(Some(Instant::now())).unwrap();
        (sum, server.join().unwrap())
    });
    assert_eq!(sum, want(CONNS, ROUNDS));
    assert_eq!(served, sum);
}

#[test]
fn connects_wait_out_a_full_backlog() {
    // More connects at once than the backlog holds: those that find it
    // full wait (a non-blocking Unix connect says EAGAIN, with no
    // readiness to come) until the server accepts, which it starts to do
    // only once every client is trying.
    let _s = serial();
    let rt = rt(2);
    let path = TempPath::new("backlog");
    let std = std::os::unix::net::UnixListener::bind(&path.0).unwrap();
    // A backlog of 2, so that connects find it full.
    // SAFETY: a plain system call on a descriptor `std` owns.
    let r = unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&std), 2) };
    assert_eq!(r, 0);
    let listener = UnixListener::from_std(std).unwrap();
    // A client that fails makes an accept time out, not hang.
    listener.set_deadline(Some(Instant::now() + HANG)).unwrap();
    const CLIENTS: u64 = 50;
    let p = path.0.clone();
    rt.run(move || {
        let tried = Arc::new(AtomicU64::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (p, tried) = (p.clone(), tried.clone());
                goro_sched::go(move || {
                    tried.fetch_add(1, Ordering::SeqCst);
                    let mut s = UnixStream::connect(&p).unwrap();
                    s.write_all(&id.to_le_bytes()).unwrap();
                })
            })
            .collect();
        while tried.load(Ordering::SeqCst) < CLIENTS {
            goro_sched::yield_now();
        }
        let mut sum = 0u64;
        for _ in 0..CLIENTS {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 8];
            conn.read_exact(&mut buf).unwrap();
            sum += u64::from_le_bytes(buf);
        }
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(sum, CLIENTS * (CLIENTS - 1) / 2);
    });
}

#[test]
fn half_close() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (mut a, b) = UnixStream::pair().unwrap();
        let server = goro_sched::go(move || {
            let mut b = b;
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap(); // until the other's shutdown
            b.write_all(&checksum(&got).to_le_bytes()).unwrap(); // still writable
            got.len()
        });
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        a.write_all(&data).unwrap(); // more than the buffers hold: it waits
        a.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        a.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, checksum(&data).to_le_bytes());
        assert_eq!(server.join().unwrap(), data.len());
    });
}

/// Fills the stream's buffers: writes until a write would wait.
fn fill(s: &UnixStream) {
    let chunk = vec![7u8; 64 * 1024];
    s.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    loop {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
            Err(e) => panic!("{e}"),
        }
    }
    s.set_write_timeout(None).unwrap();
}

#[test]
fn shutdown_wakes_a_blocked_reader_and_writer() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        // Read: a goroutine blocked in read gets end of file.
        let (a, _b) = UnixStream::pair().unwrap();
        let r = a.try_clone().unwrap();
        let reader = goro_sched::go(move || r.read(&mut [0u8; 16]));
        goro_sched::sleep(Duration::from_millis(10));
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 0);
        // Write: a goroutine blocked in write (the buffers full) gets an
        // error.
        let (a, _b) = UnixStream::pair().unwrap();
        fill(&a);
        let w = a.try_clone().unwrap();
        let writer = goro_sched::go(move || w.write(&[1u8; 1024]));
        goro_sched::sleep(Duration::from_millis(10));
        a.shutdown(Shutdown::Write).unwrap();
        let err = writer.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        // The peer's shutdown (or drop) ends a blocked read too.
        let (a, b) = UnixStream::pair().unwrap();
        let reader = goro_sched::go(move || a.read(&mut [0u8; 16]));
        goro_sched::sleep(Duration::from_millis(10));
        drop(b);
        assert_eq!(reader.join().unwrap().unwrap(), 0);
        // A datagram socket's shutdown wakes its receiver.
        let (a, _b) = UnixDatagram::pair().unwrap();
        let r = a.try_clone().unwrap();
        let receiver = goro_sched::go(move || r.recv(&mut [0u8; 16]));
        goro_sched::sleep(Duration::from_millis(10));
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(receiver.join().unwrap().unwrap(), 0);
    });
}

#[test]
fn datagram_pairs_ping_pong() {
    let _s = serial();
    let rt = rt(2);
    const PAIRS: u64 = 50;
    const ROUNDS: u64 = 200;
    let sum = rt.run(|| {
        let handles: Vec<_> = (0..PAIRS)
            .map(|id| {
                let (a, b) = UnixDatagram::pair().unwrap();
                let echo = goro_sched::go(move || {
                    let mut buf = [0u8; 256];
                    for _ in 0..ROUNDS {
                        let n = b.recv(&mut buf).unwrap();
                        assert_eq!(n, MSG);
                        b.send(&buf[..n]).unwrap();
                    }
                });
                goro_sched::go(move || {
                    let mut sum = 0u64;
                    let mut buf = [0u8; 256];
                    for round in 0..ROUNDS {
                        let m = message(id, round);
                        a.send(&m).unwrap();
                        let n = a.recv(&mut buf).unwrap();
                        assert_eq!(&buf[..n], &m[..]);
                        sum = sum.wrapping_add(checksum(&buf[..n]));
                    }
                    echo.join().unwrap();
                    sum
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(0, u64::wrapping_add)
    });
    assert_eq!(sum, want(PAIRS, ROUNDS));
}

#[test]
fn datagrams_from_many_senders_to_one_socket() {
    // The receiver's queue holds few datagrams (`net.unix.max_dgram_qlen`,
    // 10 by default), so senders find it full and wait: connected ones
    // for the kernel's word, unconnected ones (`send_to`) looking again
    // now and then. Nothing is lost, nothing hangs.
    let _s = serial();
    let rt = rt(2);
    let path = TempPath::new("dgram");
    const SENDERS: u64 = 8;
    const EACH: u64 = 1_000;
    let p = path.0.clone();
    let (sum, count) = rt.run(move || {
        let server = UnixDatagram::bind(&p).unwrap();
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                let p = p.clone();
                goro_sched::go(move || {
                    let s = UnixDatagram::unbound().unwrap();
                    let connected = id % 2 == 0;
                    if connected {
                        s.connect(&p).unwrap();
                    }
                    for round in 0..EACH {
                        let m = message(id, round);
                        let n = if connected {
                            s.send(&m).unwrap()
                        } else {
                            s.send_to(&m, &p).unwrap()
                        };
                        assert_eq!(n, MSG);
                    }
                })
            })
            .collect();
        let (mut sum, mut count) = (0u64, 0u64);
        let mut next = [0u64; SENDERS as usize];
        let mut buf = [0u8; 256];
        while count < SENDERS * EACH {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            assert!(from.is_unnamed());
            let m = &buf[..n];
            let id = u64::from_le_bytes(m[..8].try_into().unwrap());
            // Each sender's datagrams arrive in its order.
            assert_eq!(m, &message(id, next[id as usize])[..]);
            next[id as usize] += 1;
            sum = sum.wrapping_add(checksum(m));
            count += 1;
        }
        for s in senders {
            s.join().unwrap();
        }
        (sum, count)
    });
    assert_eq!(count, SENDERS * EACH);
    assert_eq!(sum, want(SENDERS, EACH));
}

#[test]
fn stream_deadlines_before_during_and_after_a_read() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        support::deadlines_before_during_and_after(&a, &b);
        let (a, b) = UnixStream::pair().unwrap();
        support::deadlines_changed_while_waiting(Arc::new(a), Arc::new(b));
    });
}

#[test]
fn datagram_deadlines_before_during_and_after_a_recv() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = UnixDatagram::pair().unwrap();
        support::deadlines_before_during_and_after(&a, &b);
        let (a, b) = UnixDatagram::pair().unwrap();
        support::deadlines_changed_while_waiting(Arc::new(a), Arc::new(b));
        // recv_from and send_to obey them too.
        let path = TempPath::new("deadline");
        let s = UnixDatagram::bind(&path.0).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let err = s.recv_from(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        s.set_write_deadline(Some(Instant::now())).unwrap();
        let err = s.send_to(b"x", &path.0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // An accept waits until the listener's deadline.
        let path = TempPath::new("accept");
        let l = UnixListener::bind(&path.0).unwrap();
        l.set_deadline(Some(Instant::now() + Duration::from_millis(10)))
            .unwrap();
        let err = l.accept().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    });
}

#[test]
fn plain_threads_use_the_same_api() {
    let _s = serial();
    let (a, b) = UnixStream::pair().unwrap();
    support::plain_threads_ping_pong(a, b);
    let (a, b) = UnixDatagram::pair().unwrap();
    support::plain_threads_ping_pong(a, b);
    // A listener and its clients on threads.
    let path = TempPath::new("threads");
    let listener = UnixListener::bind(&path.0).unwrap();
    let p = path.0.clone();
    support::threads_accept_and_echo(
        move || listener.accept().unwrap().0,
        move || UnixStream::connect(&p).unwrap(),
    );
    // Shutdown wakes a thread blocked in read.
    let (a, _b) = UnixStream::pair().unwrap();
    let a = Arc::new(a);
    let r = a.clone();
    let reader = std::thread::spawn(move || r.read(&mut [0u8; 1]));
    std::thread::sleep(Duration::from_millis(10));
    a.shutdown(Shutdown::Read).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 0);
}

#[test]
fn abstract_addresses() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let name = format!("goro-net-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        let local = listener.local_addr().unwrap();
        assert_eq!(local.as_abstract_name(), Some(name.as_bytes()));
        let client = goro_sched::go(move || {
            let s = UnixStream::connect_addr(&addr).unwrap();
            assert_eq!(
                s.peer_addr().unwrap().as_abstract_name(),
                Some(name.as_bytes())
            );
            (&s).write_all(b"abstract").unwrap();
        });
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        assert_eq!(got, "abstract");
        client.join().unwrap();
        // Datagrams by abstract name.
        let name = format!("goro-net-test-dgram-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let c = UnixDatagram::unbound().unwrap();
        c.send_to_addr(b"one", &addr).unwrap();
        c.connect_addr(&addr).unwrap();
        c.send(b"two").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(server.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"one");
        assert_eq!(server.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
        // Bad addresses are errors, not panics.
        let long = "x".repeat(200);
        assert!(UnixStream::connect(&long).is_err());
        assert!(UnixStream::connect("no\0nul").is_err());
        let unnamed = c.local_addr().unwrap();
        let err = UnixStream::connect_addr(&unnamed).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // Nobody there.
        let path = TempPath::new("nobody");
        let err = UnixStream::connect(&path.0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    });
}

#[test]
fn std_sockets_in_and_out() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| drop(UnixStream::pair().unwrap())); // the poller's descriptors
    let before = open_fds();
    rt.run(|| {
        // Streams: std's in, goro's out, blocking again.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (a, b) = (UnixStream::from(a), UnixStream::from(b));
        a.write(b"x").unwrap();
        assert_eq!(b.read(&mut [0u8; 1]).unwrap(), 1);
        let mut std_b = b.into_std().unwrap();
        a.write(b"y").unwrap();
        let mut byte = [0u8; 1];
        std_b.read_exact(&mut byte).unwrap(); // blocking, not WouldBlock
        assert_eq!(&byte, b"y");
        // Shared: a duplicate, and the other handle still works.
        let a2 = a.try_clone().unwrap();
        let dup = a.into_std().unwrap();
        drop(dup);
        a2.write(b"z").unwrap();
        std_b.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"z");
        assert_eq!(format!("{a2:?}"), format!("{:?}", a2.try_clone().unwrap()));
        assert!(a2.take_error().unwrap().is_none());
        // Datagrams.
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let a = UnixDatagram::from(a);
        a.send(b"d").unwrap();
        let b = UnixDatagram::from_std(b).unwrap();
        assert_eq!(b.recv(&mut [0u8; 4]).unwrap(), 1);
        let b = b.into_std().unwrap();
        a.send(b"e").unwrap();
        assert_eq!(b.recv(&mut [0u8; 4]).unwrap(), 1);
        // Listeners.
        let path = TempPath::new("std");
        let l = UnixListener::from(std::os::unix::net::UnixListener::bind(&path.0).unwrap());
        let l = l.into_std().unwrap();
        let l = UnixListener::from_std(l).unwrap();
        let c = UnixStream::connect(&path.0).unwrap();
        let (s, _) = l.accept().unwrap();
        c.write(b"!").unwrap();
        assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 1);
    });
    assert_eq!(open_fds(), before);
}

#[test]
fn types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<UnixListener>();
    send_sync::<UnixStream>();
    send_sync::<UnixDatagram>();
    send_sync::<goro_net::UdpSocket>();
    send_sync::<goro_net::Incoming<'_, UnixListener>>();
}
