//! The other end of the network workloads, one program for every system (run
//! by their binaries, which find it beside themselves):
//!
//! - `bench-client http <addr> <conns> <ms>`: the `http` load client. It
//!   opens `conns` keep-alive connections, and each sends `GET /` and reads
//!   the answer, one request at a time, until `ms` milliseconds have passed;
//!   every answer must be a 200 whose body is `hello`. Prints
//!   `checksum=<conns that finished> elapsed_ns=<from the first request to
//!   the last answer> requests=<answers>`. It runs on goro (a goroutine per
//!   connection, on a runtime of its own in this process), which is the same
//!   for every server it drives.
//! - `bench-client idle <addr> <n>`: opens `n` connections with std's
//!   blocking sockets, holds them until its standard input is closed, and
//!   exits (closing them all). `idle-conns` runs it in a process of its own:
//!   20,000 descriptors (the hard limit here) do not hold both ends of 10,000
//!   connections.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use goro::net::TcpStream;
use goro_benches::HTTP_BODY;

fn main() {
    // Go's runtime gives its children the limit it started with back: raise
    // it here too.
    goro_benches::raise_fd_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: bench-client http <addr> <conns> <ms> | bench-client idle <addr> <n>");
        std::process::exit(2);
    };
    let num = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let addr: SocketAddr = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage());
    match args.first().map(String::as_str) {
        Some("http") if args.len() == 4 => http(addr, num(2), num(3)),
        Some("idle") if args.len() == 3 => idle(addr, num(2)),
        _ => usage(),
    }
}

/// The `http` load client; see the module docs.
fn http(addr: SocketAddr, conns: u64, ms: u64) {
    let (ok, elapsed, requests) = goro::run(move || {
        let streams: Vec<TcpStream> = (0..conns)
            .map(|_| {
                let s = TcpStream::connect(addr).expect("connect to the server");
                s.set_nodelay(true).expect("TCP_NODELAY");
                s
            })
            .collect();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(ms);
        let drivers: Vec<_> = streams
            .into_iter()
            .map(|s| goro::go(move || drive(s, deadline)))
            .collect();
        let requests: u64 = drivers.into_iter().map(|h| h.join().unwrap()).sum();
        (conns, start.elapsed(), requests)
    });
    println!(
        "checksum={ok} elapsed_ns={} requests={requests}",
        elapsed.as_nanos()
    );
}

/// One connection's requests until `deadline`; returns how many were
/// answered.
fn drive(mut s: TcpStream, deadline: Instant) -> u64 {
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    let mut answered = 0;
    while Instant::now() < deadline {
        s.write_all(REQUEST).expect("send a request");
        // Read until one whole response is in: headers, then the body its
        // content-length announces.
        let (head, body) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) =
                resp.parse(&buf[..filled]).expect("a valid response")
            {
                assert_eq!(resp.code, Some(200), "status");
                let len = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
                    .expect("a content-length");
                if filled >= head + len {
                    break (head, len);
                }
            }
            assert!(filled < buf.len(), "a response over {} bytes", buf.len());
            let n = s.read(&mut buf[filled..]).expect("read a response");
            assert!(n > 0, "the server closed the connection");
            filled += n;
        };
        assert_eq!(&buf[head..head + body], HTTP_BODY, "body");
        buf.copy_within(head + body..filled, 0);
        filled -= head + body;
        answered += 1;
    }
    answered
}

/// The other end of `idle-conns`; see the module docs.
fn idle(addr: SocketAddr, n: u64) {
    let conns: Vec<std::net::TcpStream> = (0..n)
        .map(|i| {
            std::net::TcpStream::connect(addr)
                .unwrap_or_else(|e| panic!("connection {i} of {n}: {e}"))
        })
        .collect();
    // Until the server closes our standard input (or dies).
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(conns);
}
