//! The `http_hello` example's server (`examples/http_hello.rs`, included
//! as a module: the example's own code) against keep-alive clients: every
//! request on one connection per client gets `hello`, requests written in
//! pieces, pipelined ones, bodies, `HEAD`, HTTP/1.0, `Connection: close`
//! and garbage each get what HTTP/1.1 says.

#[path = "../examples/http_hello.rs"]
#[allow(dead_code)] // its `main`
mod http_hello;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use goro::net::{TcpListener, TcpStream};

const CLIENTS: usize = 8;
const ROUNDS: usize = 100;
/// Generous bound against a hang (never a timing claim).
const HANG: Duration = Duration::from_secs(60);

/// A client connection and what it has read but not parsed.
struct Client {
    conn: TcpStream,
    buf: Vec<u8>,
}

/// One response, as the client read it.
#[derive(Debug)]
struct Response {
    code: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn assert_hello(&self) {
        assert_eq!(self.code, 200, "{self:?}");
        assert_eq!(self.body, b"hello", "{self:?}");
        assert_eq!(self.header("content-length"), Some("5"));
        assert_eq!(self.header("connection"), None, "{self:?}");
    }
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(HANG)).unwrap();
        // Requests written in pieces would each wait for an ACK (Nagle).
        conn.set_nodelay(true).unwrap();
        Client {
            conn,
            buf: Vec::new(),
        }
    }

    fn send(&self, bytes: &[u8]) {
        (&self.conn).write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = self.conn.read(&mut chunk).unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads one response (`head`: to a HEAD request, without a body).
    fn response(&mut self, head: bool) -> Response {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = resp.parse(&self.buf).unwrap() {
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8(h.value.to_vec()).unwrap(),
                        )
                    })
                    .collect();
                let code = resp.code.unwrap();
                let len: usize = headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap();
                let len = if head { 0 } else { len };
                while self.buf.len() < n + len {
                    assert!(self.fill() > 0, "the server closed in a body");
                }
                let body = self.buf[n..n + len].to_vec();
                self.buf.drain(..n + len);
                return Response {
                    code,
                    headers,
                    body,
                };
            }
            assert!(self.fill() > 0, "the server closed before a response");
        }
    }

    /// The server closed the connection, with nothing more sent.
    fn assert_closed(&mut self) {
        assert_eq!(self.fill(), 0, "more after the last response");
        assert!(self.buf.is_empty());
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nUser-Agent: goro-test\r\n\r\n")
}

/// Runs `f` with the address of a fresh `http_hello` server, on a runtime.
fn with_server(f: impl FnOnce(SocketAddr) + Send + 'static) {
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    rt.run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        goro::go(move || http_hello::serve(listener));
        f(addr);
    });
}

#[test]
fn keep_alive_clients_get_hello_for_every_request() {
    with_server(|addr| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                goro::go(move || {
                    let mut client = Client::connect(addr);
                    let mut answered = 0;
                    for round in 0..ROUNDS {
                        let request = get(&format!("/{c}/{round}"));
                        match round % 4 {
                            // One request, one response.
                            0 => {
                                client.send(request.as_bytes());
                                client.response(false).assert_hello();
                                answered += 1;
                            }
                            // Written a few bytes at a time.
                            1 => {
                                for piece in request.as_bytes().chunks(7) {
                                    client.send(piece);
                                    goro::yield_now();
                                }
                                client.response(false).assert_hello();
                                answered += 1;
                            }
                            // Three pipelined in one write.
                            2 => {
                                client.send(request.repeat(3).as_bytes());
                                for _ in 0..3 {
                                    client.response(false).assert_hello();
                                }
                                answered += 3;
                            }
                            // A body to skip, then a HEAD.
                            _ => {
                                client.send(
                                    b"POST /form HTTP/1.1\r\nHost: test\r\n\
                                      Content-Length: 11\r\n\r\nhello world",
                                );
                                client.response(false).assert_hello();
                                client.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
                                let head = client.response(true);
                                assert_eq!(head.code, 200);
                                assert_eq!(head.header("content-length"), Some("5"));
                                answered += 2;
                            }
                        }
                    }
                    // Still the same connection: a last request that closes it.
                    client.send(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
                    let last = client.response(false);
                    assert_eq!(last.code, 200);
                    assert_eq!(last.body, b"hello");
                    assert_eq!(last.header("connection"), Some("close"));
                    client.assert_closed();
                    answered + 1
                })
            })
            .collect();
        let total: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, CLIENTS * (ROUNDS / 4 * (1 + 1 + 3 + 2) + 1));
    });
}

#[test]
fn http10_garbage_and_oversized_requests() {
    with_server(|addr| {
        // HTTP/1.0 closes after one response unless asked to keep alive.
        let mut c = Client::connect(addr);
        c.send(b"GET / HTTP/1.0\r\n\r\n");
        let r = c.response(false);
        assert_eq!((r.code, r.header("connection")), (200, Some("close")));
        c.assert_closed();
        let mut c = Client::connect(addr);
        for _ in 0..3 {
            c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let r = c.response(false);
            assert_eq!((r.code, r.header("connection")), (200, Some("keep-alive")));
        }
        // Not HTTP: 400, and the connection ends.
        let mut c = Client::connect(addr);
        c.send(b"HELLO THERE\x01\r\n\r\n");
        let r = c.response(false);
        assert_eq!((r.code, r.header("connection")), (400, Some("close")));
        c.assert_closed();
        // A header line that never ends, and too many headers: 431.
        for filler in [
            "x".repeat(1000),
            format!("{}\r\nX-Filler: x", "x".repeat(40)),
        ] {
            let mut c = Client::connect(addr);
            c.send(b"GET / HTTP/1.1\r\nX-Filler: ");
            let mut sent = 0;
            // Until the server answers and closes (a write may then fail).
            while sent < 128 * 1024 && (&c.conn).write_all(filler.as_bytes()).is_ok() {
                sent += filler.len();
            }
            let r = c.response(false);
            assert_eq!((r.code, r.header("connection")), (431, Some("close")));
        }
    });
}
