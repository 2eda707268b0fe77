//! Go by Example's stateful goroutines: the state (a map) is owned by one
//! goroutine, and every other goroutine reads and writes it by sending
//! requests over channels, each carrying a channel for the answer. No lock:
//! "share memory by communicating".
//!
//! ```text
//! cargo run --release --example stateful_goroutine [READERS] [WRITERS] [OPS]   # default 100 10 100
//! ```
//!
//! READERS goroutines each do OPS reads and WRITERS goroutines each do OPS
//! writes, on keys 0..5. Where Go's example overwrites a key with a random
//! value and counts operations for a second, each write here adds to a key,
//! so the final state and the counts can be checked exactly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use goro::chan::{Sender, bounded};
use goro::select;
use goro::sync::WaitGroup;

const KEYS: u64 = 5;

struct ReadOp {
    key: u64,
    resp: Sender<u64>,
}

struct WriteOp {
    key: u64,
    add: u64,
    resp: Sender<bool>,
}

fn arg(i: usize, default: u64) -> u64 {
    match std::env::args().nth(i) {
        None => default,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: stateful_goroutine [READERS] [WRITERS] [OPS]");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let (readers, writers, ops) = (arg(1, 100), arg(2, 10), arg(3, 100));
    goro::run(move || {
        let read_ops = Arc::new(AtomicU64::new(0));
        let write_ops = Arc::new(AtomicU64::new(0));
        let (reads_tx, reads) = bounded::<ReadOp>(0);
        let (writes_tx, writes) = bounded::<WriteOp>(0);

        // The owner: the map is a local of this goroutine, nobody else's.
        let owner = goro::go(move || {
            let mut state: BTreeMap<u64, u64> = BTreeMap::new();
            loop {
                select! {
                    recv(reads) -> read => match read {
                        Ok(read) => {
                            let _ = read.resp.send(state.get(&read.key).copied().unwrap_or(0));
                        }
                        Err(_) => break, // every reader and writer is gone
                    },
                    recv(writes) -> write => match write {
                        Ok(write) => {
                            *state.entry(write.key).or_insert(0) += write.add;
                            let _ = write.resp.send(true);
                        }
                        Err(_) => break,
                    },
                }
            }
            state
        });

        let wg = WaitGroup::new();
        for r in 0..readers {
            let (reads_tx, read_ops) = (reads_tx.clone(), read_ops.clone());
            wg.go(move || {
                for i in 0..ops {
                    let (resp, answer) = bounded(1);
                    let key = (r + i) % KEYS;
                    reads_tx.send(ReadOp { key, resp }).unwrap();
                    answer.recv().unwrap();
                    read_ops.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for w in 0..writers {
            let (writes_tx, write_ops) = (writes_tx.clone(), write_ops.clone());
            wg.go(move || {
                for i in 0..ops {
                    let (resp, answer) = bounded(1);
                    let key = (w + i) % KEYS;
                    writes_tx
                        .send(WriteOp {
                            key,
                            add: i + 1,
                            resp,
                        })
                        .unwrap();
                    answer.recv().unwrap();
                    write_ops.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        wg.wait();
        // The last senders go: both channels close and the owner hands
        // back its state. (A `select!` arm on a closed channel is always
        // ready, so the owner sees the first close and stops.)
        drop((reads_tx, writes_tx));
        let state = owner.join().unwrap();

        println!("readOps: {}", read_ops.load(Ordering::Relaxed));
        println!("writeOps: {}", write_ops.load(Ordering::Relaxed));
        let shown: Vec<String> = state.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!("state: {}", shown.join(" "));
        println!("state total: {}", state.values().sum::<u64>());
    });
}
