//! An HTTP/1.1 server that answers every request with `hello`: a goroutine
//! per connection, written as blocking code, requests parsed with
//! `httparse`; connections are kept alive, and pipelined requests are
//! answered in one write.
//!
//! ```text
//! cargo run --release --example http_hello [ADDR]   # default 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! Go's `net/http` hello also sends a `Date` header; this one sends only
//! `Content-Length` and `Content-Type`. `tests/http_hello.rs` runs
//! [`serve`] against keep-alive clients.

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use goro::net::{TcpListener, TcpStream};

/// The body of every answer.
const BODY: &[u8] = b"hello";
/// Headers and body of one request may take at most this much.
const MAX_REQUEST: usize = 64 * 1024;

/// Serves HTTP on `listener`, a goroutine per connection, until the
/// listener fails.
pub(crate) fn serve(listener: TcpListener) {
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                goro::go(move || handle(conn));
            }
            // Out of descriptors (EMFILE), or a connection reset before we
            // took it: wait a little and go on, as Go's server does.
            Err(e) => {
                eprintln!("http_hello: accept: {e}");
                goro::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// What to do after answering a request.
enum Next {
    KeepAlive,
    Close,
}

/// Serves one connection until the client closes it, asks to, or sends
/// something that is not HTTP/1.x.
pub(crate) fn handle(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    let mut out = Vec::with_capacity(1024);
    loop {
        // Answer every complete request in the buffer.
        let mut start = 0;
        let mut next = Next::KeepAlive;
        while let Some((used, then)) = answer(&buf[start..filled], &mut out) {
            start += used;
            next = then;
            if let Next::Close = next {
                break;
            }
        }
        if !out.is_empty() {
            if (&conn).write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if let Next::Close = next {
            let _ = conn.shutdown(Shutdown::Write);
            return;
        }
        // Keep the incomplete rest, and read more.
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            if buf.len() >= MAX_REQUEST {
                respond(
                    &mut out,
                    431,
                    "Request Header Fields Too Large",
                    Some("close"),
                    true,
                );
                let _ = (&conn).write_all(&out);
                return;
            }
            buf.resize(buf.len() * 2, 0);
        }
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

/// Parses the request at the start of `input`; if it is complete, appends
/// its answer to `out` and returns how many bytes it took and what comes
/// next. `None`: more bytes are needed.
fn answer(input: &[u8], out: &mut Vec<u8>) -> Option<(usize, Next)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return None,
        Err(httparse::Error::TooManyHeaders) => {
            respond(
                out,
                431,
                "Request Header Fields Too Large",
                Some("close"),
                true,
            );
            return Some((input.len(), Next::Close));
        }
        Err(_) => {
            respond(out, 400, "Bad Request", Some("close"), true);
            return Some((input.len(), Next::Close));
        }
    };
    // HTTP/1.1 keeps the connection by default, HTTP/1.0 closes it.
    let http11 = req.version == Some(1);
    let mut keep_alive = http11;
    let mut body = 0usize;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            let value = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) => body = n,
                None => {
                    respond(out, 400, "Bad Request", Some("close"), true);
                    return Some((input.len(), Next::Close));
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are not worth it for a hello.
            respond(out, 501, "Not Implemented", Some("close"), true);
            return Some((input.len(), Next::Close));
        }
    }
    if head + body > MAX_REQUEST {
        respond(out, 413, "Content Too Large", Some("close"), true);
        return Some((input.len(), Next::Close));
    }
    if input.len() < head + body {
        return None; // the body is still coming
    }
    let connection = match (keep_alive, http11) {
        (false, _) => Some("close"),
        (true, false) => Some("keep-alive"), // an HTTP/1.0 client that asked
        (true, true) => None,
    };
    respond(out, 200, "OK", connection, req.method != Some("HEAD"));
    let next = if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    };
    Some((head + body, next))
}

/// Appends a response whose body is `hello` (an error's too); a `HEAD`
/// request's has the headers only.
fn respond(out: &mut Vec<u8>, code: u16, reason: &str, connection: Option<&str>, body: bool) {
    let _ = write!(
        out,
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n",
        BODY.len()
    );
    if let Some(connection) = connection {
        let _ = write!(out, "Connection: {connection}\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if body {
        out.extend_from_slice(BODY);
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    goro::run(move || {
        let listener = TcpListener::bind(&*addr).unwrap_or_else(|e| {
            eprintln!("http_hello: cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
        println!(
            "http_hello: listening on {}",
            listener.local_addr().unwrap()
        );
        serve(listener);
    });
}
