//! Go's classic chat server (*The Go Programming Language*, section 8.10),
//! line for line: a goroutine per connection reads the client's lines,
//! another writes what the client should see, and a broadcaster goroutine
//! hands every message to every client, over channels.
//!
//! ```text
//! cargo run --release --example chat [ADDR]     # default 127.0.0.1:8000
//! nc 127.0.0.1 8000                             # from two other terminals
//! ```
//!
//! One change from the book: a newcomer joins the broadcaster's set before
//! its arrival is announced, so it sees its own "has arrived" line, and
//! knows from it that it will see every message after. `tests/chat.rs`
//! drives [`serve`] with 2,000 clients.

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Duration;

use goro::chan::{Receiver, Sender, bounded};
use goro::net::{TcpListener, TcpStream};
use goro::select;

/// A client, as the broadcaster knows it: where its writer takes lines
/// from (Go's `type client chan<- string`).
type Client = Sender<Arc<str>>;

/// Lines that may wait for a client's writer before the broadcaster waits
/// for it (the book's channel is unbuffered).
const CLIENT_BUFFER: usize = 64;

/// Serves chat clients on `listener`, a goroutine per connection, until
/// the listener fails.
pub(crate) fn serve(listener: TcpListener) {
    let (entering_tx, entering) = bounded::<Client>(0);
    let (leaving_tx, leaving) = bounded::<Client>(0);
    let (messages_tx, messages) = bounded::<Arc<str>>(0);
    goro::go(move || broadcaster(entering, leaving, messages));
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                let (entering, leaving, messages) =
                    (entering_tx.clone(), leaving_tx.clone(), messages_tx.clone());
                goro::go(move || handle_conn(conn, entering, leaving, messages));
            }
            // Out of descriptors (EMFILE), or a connection that was reset
            // before we took it: wait a little and go on, as Go's server
            // does.
            Err(e) => {
                eprintln!("chat: accept: {e}");
                goro::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Keeps the set of clients and sends each message to every one of them.
fn broadcaster(
    entering: Receiver<Client>,
    leaving: Receiver<Client>,
    messages: Receiver<Arc<str>>,
) {
    let mut clients: Vec<Client> = Vec::new();
    loop {
        select! {
            recv(messages) -> msg => {
                let Ok(msg) = msg else { return };
                // Waits for a client whose writer is behind (every writer
                // drains its channel whatever happens to its connection).
                for cli in &clients {
                    let _ = cli.send(msg.clone());
                }
            }
            recv(entering) -> cli => {
                let Ok(cli) = cli else { return };
                clients.push(cli);
            }
            recv(leaving) -> cli => {
                let Ok(cli) = cli else { return };
                clients.retain(|c| !c.same_channel(&cli));
                cli.close(); // its writer drains, then ends
            }
        }
    }
}

/// One client's connection: announces it, relays its lines, and says
/// goodbye when it ends.
fn handle_conn(
    conn: TcpStream,
    entering: Sender<Client>,
    leaving: Sender<Client>,
    messages: Sender<Arc<str>>,
) {
    let Ok(writer_conn) = conn.try_clone() else {
        return;
    };
    let (ch, lines) = bounded::<Arc<str>>(CLIENT_BUFFER);
    goro::go(move || client_writer(writer_conn, lines));
    let who = match conn.peer_addr() {
        Ok(addr) => addr.to_string(),
        Err(_) => return,
    };
    let _ = ch.send(format!("You are {who}").into());
    let _ = entering.send(ch.clone());
    let _ = messages.send(format!("{who} has arrived").into());
    for line in BufReader::new(&conn).split(b'\n') {
        let Ok(line) = line else { break };
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let _ = messages.send(format!("{who}: {text}").into());
    }
    let _ = leaving.send(ch);
    let _ = messages.send(format!("{who} has left").into());
}

/// Writes the lines of `lines` to the client, as many in one write as are
/// waiting. Once the client is gone it goes on draining (the book's
/// `fmt.Fprintln` errors are ignored too), so that the broadcaster never
/// waits on a client that left.
fn client_writer(conn: TcpStream, lines: Receiver<Arc<str>>) {
    let mut out = Vec::with_capacity(4096);
    let mut gone = false;
    for line in &lines {
        if gone {
            continue;
        }
        out.clear();
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        while out.len() < 64 * 1024 {
            let Ok(line) = lines.try_recv() else { break };
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        gone = (&conn).write_all(&out).is_err();
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    goro::run(move || {
        let listener = TcpListener::bind(&*addr).unwrap_or_else(|e| {
            eprintln!("chat: cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
        println!("chat: listening on {}", listener.local_addr().unwrap());
        serve(listener);
    });
}
