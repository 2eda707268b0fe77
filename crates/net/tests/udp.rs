//! UDP on loopback: an echo between many goroutines with sums checked,
//! lost datagrams that never hang a receiver with a deadline, deadlines
//! before, during and after a blocked receive, plain threads, and std's
//! sockets in and out.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_net::UdpSocket;

mod support;

use support::{HANG, MSG, checksum, header, message, open_fds, rt, serial, udp_pair, want};

#[test]
fn echo_between_many_goroutines_with_sums() {
    let _s = serial();
    let rt = rt(2);
    const CLIENTS: u64 = 64;
    const ROUNDS: u64 = 200;
    let (sum, resent) = rt.run(|| {
        // The server: one socket, several goroutines receiving on it in
        // turn (clones share it), each echoing what it gets.
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let echoed = Arc::new(AtomicU64::new(0));
        let servers: Vec<_> = (0..4)
            .map(|_| {
                let s = server.try_clone().unwrap();
                let echoed = echoed.clone();
                goro_sched::go(move || {
                    let mut buf = [0u8; 1500];
                    loop {
                        match s.recv_from(&mut buf) {
                            Ok((n, from)) => {
                                assert_eq!(n, MSG);
                                s.send_to(&buf[..n], from).unwrap();
                                echoed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) if e.kind() == io::ErrorKind::TimedOut => return,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        // The clients: each sends a message, waits for its echo, checks
        // it and sums it. UDP may drop a datagram even on loopback: a
        // client that hears nothing for a while sends again, and skips
        // echoes of earlier rounds.
        let resent = Arc::new(AtomicU64::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let resent = resent.clone();
                goro_sched::go(move || client(id, ROUNDS, addr, &resent))
            })
            .collect();
        let sum: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
        server.set_read_deadline(Some(Instant::now())).unwrap();
        for s in servers {
            s.join().unwrap();
        }
        let resent = resent.load(Ordering::Relaxed);
        assert!(echoed.load(Ordering::Relaxed) >= CLIENTS * ROUNDS);
        assert!(echoed.load(Ordering::Relaxed) <= CLIENTS * ROUNDS + resent);
        (sum, resent)
    });
    assert_eq!(sum, want(CLIENTS, ROUNDS));
    if resent > 0 {
        eprintln!("echo: {resent} datagrams sent again");
    }
}

fn client(id: u64, rounds: u64, server: SocketAddr, resent: &AtomicU64) -> u64 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut sum = 0u64;
    let mut buf = [0u8; 1500];
    for round in 0..rounds {
        let m = message(id, round);
        s.send(&m).unwrap();
        let n = loop {
            match s.recv(&mut buf) {
                Ok(n) if header(&buf[..n]) == (id, round) => break n,
                Ok(_) => {} // an echo of an earlier round, sent again
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    resent.fetch_add(1, Ordering::Relaxed);
                    s.send(&m).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], &m[..]);
        sum = sum.wrapping_add(checksum(&buf[..n]));
    }
    sum
}

/// An address nobody listens on (a port just released).
fn dead_addr() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn lost_datagrams_do_not_hang() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        // Sent to nobody: the send succeeds, a receiver waiting for an
        // answer times out.
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        for i in 0..10u8 {
            s.send_to(&[i; 16], dead_addr()).unwrap();
        }
        let err = s.recv_from(&mut [0u8; 16]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Connected to nobody: the kernel may report the ICMP "port
        // unreachable" to the next receive; either way it returns.
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(dead_addr()).unwrap();
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)))
            .unwrap();
        c.send(b"anyone?").unwrap();
        let err = c.recv(&mut [0u8; 16]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused
            ),
            "{err}"
        );
        // Lost to a full receive buffer: senders flood a receiver that
        // does not read yet; it then gets some of them, each whole and
        // once, and times out instead of waiting for the rest.
        let r = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = r.local_addr().unwrap();
        const SENDERS: u64 = 4;
        const EACH: u64 = 5_000;
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                goro_sched::go(move || {
                    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                    for round in 0..EACH {
                        s.send_to(&message(id, round), addr).unwrap();
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        r.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut seen = HashSet::new();
        let mut buf = [0u8; 1500];
        let err = loop {
            match r.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let (id, round) = header(&buf[..n]);
                    assert_eq!(&buf[..n], &message(id, round)[..]);
                    assert!(seen.insert((id, round)), "({id}, {round}) twice");
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(!seen.is_empty());
        assert!(seen.len() as u64 <= SENDERS * EACH);
    });
}

#[test]
fn deadlines_before_during_and_after_a_recv() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = udp_pair();
        support::deadlines_before_during_and_after(&a, &b);
        // recv_from and peek_from obey them too.
        b.set_read_deadline(Some(Instant::now())).unwrap();
        let err = b.recv_from(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let err = b.peek_from(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // And send_to the write deadline.
        a.set_write_deadline(Some(Instant::now())).unwrap();
        let err = a.send_to(b"x", b.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    });
}

#[test]
fn deadlines_changed_while_a_recv_waits() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| {
        let (a, b) = udp_pair();
        support::deadlines_changed_while_waiting(Arc::new(a), Arc::new(b));
    });
}

#[test]
fn plain_threads_use_the_same_api() {
    let _s = serial();
    let (a, b) = udp_pair();
    // Datagrams on loopback between two threads that take turns are not
    // dropped (the buffer never holds more than one).
    support::plain_threads_ping_pong(a, b);
    // recv_from, peek_from and send_to from a thread.
    let (a, b) = (
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    let to = b.local_addr().unwrap();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5)); // the receiver waits
        a.send_to(b"hello", to).unwrap();
        a.local_addr().unwrap()
    });
    let mut buf = [0u8; 16];
    let (n, from) = b.peek_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(b.recv_from(&mut buf).unwrap(), (n, from));
    assert_eq!(from, sender.join().unwrap());
}

#[test]
fn std_sockets_in_and_out() {
    let _s = serial();
    let rt = rt(2);
    rt.run(|| drop(udp_pair())); // the poller's own descriptors first
    let before = open_fds();
    rt.run(|| {
        // std's in, goro's out: in blocking mode again, on its own.
        let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = std.local_addr().unwrap();
        let s = UdpSocket::from(std);
        assert_eq!(s.local_addr().unwrap(), addr);
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"one", addr).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.recv(&mut buf).unwrap(), 3);
        let std = s.into_std().unwrap();
        peer.send_to(b"two", addr).unwrap();
        // Blocking: it waits (briefly) for the datagram instead of
        // failing with WouldBlock.
        std.set_read_timeout(Some(HANG)).unwrap();
        assert_eq!(std.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
        // Shared: into_std of one handle gives a duplicate, and the other
        // still works.
        let s = UdpSocket::from_std(std).unwrap();
        let other = s.try_clone().unwrap();
        let dup = s.into_std().unwrap();
        assert_ne!(
            std::os::fd::AsRawFd::as_raw_fd(&dup),
            std::os::fd::AsRawFd::as_raw_fd(&other)
        );
        drop(dup);
        other.set_read_timeout(Some(HANG)).unwrap();
        peer.send_to(b"three", addr).unwrap();
        assert_eq!(other.recv(&mut buf).unwrap(), 5);
        assert_eq!(
            format!("{other:?}"),
            format!("{:?}", other.try_clone().unwrap())
        );
        // Options.
        other.set_broadcast(true).unwrap();
        assert!(other.broadcast().unwrap());
        other.set_ttl(7).unwrap();
        assert_eq!(other.ttl().unwrap(), 7);
        assert!(other.take_error().unwrap().is_none());
        assert!(other.peer_addr().is_err());
    });
    assert_eq!(open_fds(), before);
}
