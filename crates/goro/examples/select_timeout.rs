//! Go by Example's timeouts and non-blocking channel operations: `select!`
//! against `time::after`, `default` arms, `recv_timeout`, and a context
//! deadline.
//!
//! ```text
//! cargo run --release --example select_timeout [SLOW_MS]   # default 200
//! ```
//!
//! A "slow" call takes SLOW_MS; the example gives it a quarter of that (it
//! times out), then four times that (it answers).

use std::time::Duration;

use goro::chan::{Receiver, bounded};
use goro::context::Context;
use goro::select;
use goro::time::after;

/// Starts a call that answers after `d`, on a channel with room for the
/// answer, so the goroutine never waits on a receiver that has given up
/// (Go by Example's `make(chan string, 1)`).
fn slow_call(name: &'static str, d: Duration) -> Receiver<String> {
    let (tx, rx) = bounded(1);
    goro::go(move || {
        goro::sleep(d);
        let _ = tx.send(format!("result {name}"));
    });
    rx
}

fn main() {
    let slow_ms: u64 = match std::env::args().nth(1) {
        None => 200,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: select_timeout [SLOW_MS]");
            std::process::exit(2)
        }),
    };
    let slow = Duration::from_millis(slow_ms.max(4));
    goro::run(move || {
        // 1. A timeout shorter than the call: time::after wins.
        let c1 = slow_call("1", slow);
        select! {
            recv(c1) -> res => println!("{}", res.unwrap()),
            recv(after(slow / 4)) -> _ => println!("timeout 1"),
        }

        // 2. A timeout longer than the call: the result wins.
        let c2 = slow_call("2", slow);
        select! {
            recv(c2) -> res => println!("{}", res.unwrap()),
            recv(after(slow * 4)) -> _ => println!("timeout 2"),
        }

        // 3. Non-blocking operations: `default` runs when nothing is ready.
        let (messages_tx, messages) = bounded::<&str>(0);
        select! {
            recv(messages) -> msg => println!("received message {:?}", msg.unwrap()),
            default => println!("no message received"),
        }
        select! {
            send(messages_tx, "hi") -> _ => println!("sent message"),
            default => println!("no message sent"), // nobody is receiving
        }

        // 4. The same deadline as a method, and as `default(timeout)`.
        let c3 = slow_call("3", slow);
        match c3.recv_timeout(slow / 4) {
            Ok(v) => println!("{v}"),
            Err(e) => println!("recv_timeout 3: {e}"),
        }
        select! {
            recv(c3) -> res => println!("{} (after waiting longer)", res.unwrap()),
            default(slow * 4) => println!("timeout 3"),
        }

        // 5. A deadline for a whole piece of work: a context with a timeout,
        // watched by every goroutine working on it.
        let (ctx, _cancel) = Context::with_timeout(&Context::background(), slow / 4);
        let c4 = slow_call("4", slow);
        select! {
            recv(c4) -> res => println!("{}", res.unwrap()),
            recv(ctx.done()) -> _ => println!("context 4: {}", ctx.err().unwrap()),
        }
    });
}
