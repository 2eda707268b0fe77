//! The chat example's server (`examples/chat.rs`, included here as a
//! module: the example's own code, not a copy) driven by 2,000 loopback
//! clients, each a goroutine of the same runtime, each reading its socket
//! without pause until it is done, so that no client's backlog can stall
//! the broadcaster.
//!
//! The run, as every client sees it:
//! 1. "You are ADDR", then arrivals, up to its own "ADDR has arrived":
//!    from then on it is in the broadcaster's set, and it counts itself
//!    in. The client that counts last says "go" (everyone is in by then).
//! 2. Every client, on "go", says "hello I", and reads until it has seen
//!    the hello of all 2,000 (arrivals of later clients may come first).
//! 3. Odd clients leave once they have all the hellos; even clients read
//!    on until each odd client's "has left" came, then leave too.
//!
//! Checked, by count and checksum: every client sees every hello exactly
//! once, with the sender's address, and its own arrival; every even client
//! sees every odd client leave; no line comes twice; of any two clients,
//! one saw the other arrive (the later one's arrival was broadcast after
//! the earlier one was in); and every goroutine of the server but the
//! listener's and the broadcaster's ends.

#[path = "../examples/chat.rs"]
#[allow(dead_code)] // its `main`
mod chat;

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::net::{TcpListener, TcpStream};

const CLIENTS: usize = 2_000;
/// Generous bound against a hang (never a timing claim).
const HANG: Duration = Duration::from_secs(300);
const NO_CLIENT: usize = usize::MAX;

/// What the clients share: who has which port, and how many are in.
struct Shared {
    index_of_port: Vec<AtomicUsize>,
    entered: AtomicUsize,
}

impl Shared {
    /// The client whose local port is `port`; every client records its
    /// port before it sends or closes anything, so any line about it comes
    /// after.
    fn index(&self, port: u16) -> usize {
        let i = self.index_of_port[usize::from(port)].load(Ordering::Acquire);
        assert_ne!(
            i, NO_CLIENT,
            "a line about port {port}, which no client has"
        );
        i
    }
}

/// What one client saw.
struct Report {
    port: u16,
    /// Ports whose arrival it saw, its own among them.
    arrivals: Vec<u16>,
    /// Hellos: how many, which senders (a bitset), and a checksum of
    /// (sender, port) pairs.
    hellos: usize,
    hello_from: Vec<u64>,
    hello_sum: u64,
    /// Clients whose leaving it saw.
    left: Vec<usize>,
}

/// A checksum term for "client `i` speaks from `port`".
fn term(i: usize, port: u16) -> u64 {
    let x = (i as u64) << 16 | u64::from(port);
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) ^ x
}

fn port_of(who: &str) -> u16 {
    let (_, port) = who
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no port in {who:?}"));
    port.parse()
        .unwrap_or_else(|_| panic!("bad port in {who:?}"))
}

fn client(i: usize, addr: std::net::SocketAddr, shared: &Shared) -> Report {
    let conn = TcpStream::connect(addr).unwrap();
    let port = conn.local_addr().unwrap().port();
    shared.index_of_port[usize::from(port)].store(i, Ordering::Release);
    let me = format!("127.0.0.1:{port}");
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    let mut next_line = |line: &mut String| {
        line.clear();
        let n = reader.read_line(line).unwrap();
        assert!(
            n > 0 && line.ends_with('\n'),
            "client {i}: the server hung up"
        );
        line.pop();
    };
    let mut report = Report {
        port,
        arrivals: Vec::new(),
        hellos: 0,
        hello_from: vec![0; CLIENTS.div_ceil(64)],
        hello_sum: 0,
        left: Vec::new(),
    };
    next_line(&mut line);
    assert_eq!(line, format!("You are {me}"));
    let mut said_hello = false;
    loop {
        let done = report.hellos == CLIENTS
            && (i % 2 == 1 || report.left.iter().filter(|&&k| k % 2 == 1).count() == CLIENTS / 2);
        if done {
            return report; // and hang up (odd ones before the even ones)
        }
        next_line(&mut line);
        let (head, rest) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("client {i}: {line:?}"));
        if let Some(who) = head.strip_suffix(':') {
            // A chat line: "go" or a hello.
            if rest == "go" {
                assert!(!said_hello, "client {i}: a second go");
                said_hello = true;
                (&conn)
                    .write_all(format!("hello {i}\n").as_bytes())
                    .unwrap();
                continue;
            }
            let from: usize = rest
                .strip_prefix("hello ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("client {i}: {line:?}"));
            assert!(said_hello, "client {i}: a hello before go: {line:?}");
            let bit = 1u64 << (from % 64);
            assert_eq!(
                report.hello_from[from / 64] & bit,
                0,
                "client {i}: twice: {line:?}"
            );
            report.hello_from[from / 64] |= bit;
            report.hellos += 1;
            report.hello_sum = report.hello_sum.wrapping_add(term(from, port_of(who)));
        } else if rest == "has arrived" {
            assert!(!said_hello, "client {i}: an arrival after go: {line:?}");
            let who = port_of(head);
            report.arrivals.push(who);
            if who == port {
                // In the set now: count in; the last to do so says go.
                if shared.entered.fetch_add(1, Ordering::AcqRel) + 1 == CLIENTS {
                    (&conn).write_all(b"go\n").unwrap();
                }
            }
        } else if rest == "has left" {
            let k = shared.index(port_of(head));
            assert!(!report.left.contains(&k), "client {i}: twice: {line:?}");
            report.left.push(k);
        } else {
            panic!("client {i}: {line:?}");
        }
    }
}

#[test]
fn two_thousand_clients_see_every_message() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        let rt = goro::Runtime::builder().name("chat").build().unwrap();
        rt.run(move || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let base = goro::num_goroutines();
            goro::go(move || chat::serve(listener));
            let shared = Arc::new(Shared {
                index_of_port: (0..=u16::MAX as usize)
                    .map(|_| AtomicUsize::new(NO_CLIENT))
                    .collect(),
                entered: AtomicUsize::new(0),
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    let shared = shared.clone();
                    goro::go(move || client(i, addr, &shared))
                })
                .collect();
            let reports: Vec<Report> = clients.into_iter().map(|c| c.join().unwrap()).collect();
            check(&reports, &shared);
            // Every connection's two goroutines end; the listener's and the
            // broadcaster's stay.
            let start = Instant::now();
            while goro::num_goroutines() > base + 2 {
                assert!(
                    start.elapsed() < HANG,
                    "{} goroutines left",
                    goro::num_goroutines() - base
                );
                goro::sleep(Duration::from_millis(1));
            }
        });
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(HANG).is_err() {
        panic!("the chat hung after {HANG:?}:\n{}", goro::dump());
    }
    runner.join().unwrap();
}

fn check(reports: &[Report], shared: &Shared) {
    let expected_sum = reports
        .iter()
        .enumerate()
        .fold(0u64, |s, (i, r)| s.wrapping_add(term(i, r.port)));
    // Who saw whom arrive, as a bit matrix.
    let words = CLIENTS.div_ceil(64);
    let mut saw = vec![0u64; CLIENTS * words];
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(shared.index(r.port), i);
        assert_eq!(r.hellos, CLIENTS, "client {i}");
        assert_eq!(
            r.hello_sum, expected_sum,
            "client {i}: a hello with the wrong address"
        );
        assert!(
            r.arrivals.contains(&r.port),
            "client {i} missed its own arrival"
        );
        for &port in &r.arrivals {
            let k = shared.index(port);
            let bit = 1u64 << (k % 64);
            assert_eq!(
                saw[i * words + k / 64] & bit,
                0,
                "client {i} saw {k} arrive twice"
            );
            saw[i * words + k / 64] |= bit;
        }
        if i % 2 == 0 {
            let odd = r.left.iter().filter(|&&k| k % 2 == 1).count();
            assert_eq!(odd, CLIENTS / 2, "client {i}: odd clients seen leaving");
        }
    }
    for i in 0..CLIENTS {
        for k in i + 1..CLIENTS {
            let i_saw_k = saw[i * words + k / 64] & (1 << (k % 64)) != 0;
            let k_saw_i = saw[k * words + i / 64] & (1 << (i % 64)) != 0;
            assert!(
                i_saw_k || k_saw_i,
                "neither of {i} and {k} saw the other arrive"
            );
        }
    }
}
