//! An echo server: a goroutine per connection writes back whatever it
//! reads. Ctrl-C (or SIGTERM) stops it, through a signal channel
//! (`goro::signal`, Go's `signal.Notify`), and it says what it served.
//!
//! ```text
//! cargo run --release --example echo [ADDR]   # default 127.0.0.1:7000
//! nc 127.0.0.1 7000
//! ```

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use goro::net::{TcpListener, TcpStream};
use goro::signal::{self, Signal};

/// What the server has done so far.
#[derive(Default)]
pub(crate) struct Served {
    pub(crate) connections: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// Serves echo clients on `listener`, a goroutine per connection, until
/// the listener fails.
pub(crate) fn serve(listener: TcpListener, served: Arc<Served>) {
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                served.connections.fetch_add(1, Ordering::Relaxed);
                let served = served.clone();
                goro::go(move || echo(&conn, &served));
            }
            // Out of descriptors (EMFILE), or a connection reset before we
            // took it: wait a little and go on, as Go's server does.
            Err(e) => {
                eprintln!("echo: accept: {e}");
                goro::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Writes back what `conn` reads until it ends (Go's `io.Copy(conn,
/// conn)`), counting the bytes before it writes them.
pub(crate) fn echo(conn: &TcpStream, served: &Served) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        served.bytes.fetch_add(n as u64, Ordering::Relaxed);
        // `Write` is implemented for `&TcpStream` too.
        if (&*conn).write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_owned());
    goro::run(move || {
        // Watch first, so that a Ctrl-C from now on comes here.
        let stop = signal::notify(&[Signal::Interrupt, Signal::Terminate]);
        let listener = TcpListener::bind(&*addr).unwrap_or_else(|e| {
            eprintln!("echo: cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
        println!("echo: listening on {}", listener.local_addr().unwrap());
        let served = Arc::new(Served::default());
        let s = served.clone();
        goro::go(move || serve(listener, s));
        let sig = stop.recv().unwrap();
        println!(
            "echo: {sig}: served {} connections, {} bytes",
            served.connections.load(Ordering::Relaxed),
            served.bytes.load(Ordering::Relaxed)
        );
    });
}
