//! `dump()` says where each parked goroutine waits: the call site of the
//! blocking operation in the caller's code, carried down by
//! `#[track_caller]` (issue 19, "Dumps that say where"). Each goroutine
//! below parks in one kind of operation on a line marked with its name
//! after `// site:`; the dump must name that line for that goroutine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use goro::chan::{Select, bounded, select};
use goro::sync::{Barrier, Condvar, Mutex, Once, RwLock, Semaphore, WaitGroup};

/// The line of each `// site: NAME` marker in this file.
fn sites() -> HashMap<String, u32> {
    include_str!("dump_sites.rs")
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let (code, name) = line.split_once("// site: ")?;
            let name = name.trim();
            let marker =
                !code.trim().is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == ' ');
            marker.then(|| (name.to_owned(), i as u32 + 1))
        })
        .collect()
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    drop(goro::Builder::new().name(name).go(f).unwrap());
}

/// The `at ...` line of the goroutine named `name`, if it is parked.
fn parked_at(dump: &str, name: &str) -> Option<String> {
    let head = format!("\"{name}\" [");
    let mut lines = dump.lines();
    while let Some(line) = lines.next() {
        if line.contains(&head) {
            let next = lines.next()?.trim();
            return next.strip_prefix("at ").map(str::to_owned);
        }
    }
    None
}

#[test]
fn dump_names_the_line_where_each_goroutine_waits() {
    let sites = sites();
    assert_eq!(sites.len(), 16, "{sites:?}");
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let names: Vec<String> = sites.keys().cloned().collect();
    let dump = rt.run(move || {
        // What they wait for, held here until the dump is taken.
        let (tx, rx) = bounded::<u8>(0);
        let (full_tx, full_rx) = bounded::<u8>(1);
        full_tx.send(0).unwrap();
        let (sel_tx, sel_rx) = bounded::<u8>(0);
        let (dyn_tx, dyn_rx) = bounded::<u8>(0);
        let (iter_tx, iter_rx) = bounded::<u8>(0);
        let mutex = Arc::new(Mutex::new(()));
        let rw = Arc::new(RwLock::new(()));
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let sem = Arc::new(Semaphore::new(1));
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let barrier = Arc::new(Barrier::new(2));
        let once = Arc::new(Once::new());
        let (release_tx, release_rx) = bounded::<()>(0);
        let (started_tx, started_rx) = bounded::<()>(0);
        let held = mutex.lock();
        let write_held = rw.write();
        let permit = sem.acquire();

        spawn("recv", move || rx.recv().map_or((), drop)); // site: recv
        spawn("send", move || full_tx.send(1).unwrap_or(())); // site: send
        spawn("select", move || {
            select! { // site: select
                recv(sel_rx) -> _ => {}
            }
        });
        spawn("dynamic select", move || {
            let mut sel = Select::new();
            sel.recv(&dyn_rx);
            let op = sel.select(); // site: dynamic select
            let _ = op.recv(&dyn_rx);
        });
        spawn("iter", move || for _ in iter_rx.iter() {}); // site: iter
        spawn("mutex", {
            let mutex = mutex.clone();
            move || drop(mutex.lock()) // site: mutex
        });
        spawn("read", {
            let rw = rw.clone();
            move || drop(rw.read()) // site: read
        });
        spawn("condvar", {
            let pair = pair.clone();
            move || {
                let (lock, cvar) = &*pair;
                let mut ready = lock.lock();
                while !*ready {
                    ready = cvar.wait(ready); // site: condvar
                }
            }
        });
        spawn("semaphore", {
            let sem = sem.clone();
            move || drop(sem.acquire()) // site: semaphore
        });
        spawn("waitgroup", {
            let wg = wg.clone();
            move || wg.wait() // site: waitgroup
        });
        spawn("barrier", {
            let barrier = barrier.clone();
            move || {
                barrier.wait(); // site: barrier
            }
        });
        spawn("sleep", || goro::sleep(Duration::from_secs(3600))); // site: sleep
        spawn("join", {
            let release_rx = release_rx.clone();
            move || {
                let inner = goro::go(move || release_rx.recv().unwrap_or(()));
                inner.join().unwrap(); // site: join
            }
        });
        // The first caller runs the `Once` and waits inside it; the second
        // waits for it.
        let runner = {
            let once = once.clone();
            goro::go(move || {
                once.call_once(|| {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap_or(());
                });
            })
        };
        started_rx.recv().unwrap();
        spawn("once", move || once.call_once(|| {})); // site: once
        // A socket with nothing to read: IO wait, at the `read`.
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = goro::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        spawn("net read", move || {
            let mut buf = [0u8; 8];
            let _ = server.read(&mut buf); // site: net read
        });
        spawn("rate", || {
            let limiter = goro::patterns::RateLimiter::new(1e-6, 1);
            limiter.wait();
            limiter.wait(); // site: rate
        });

        // Until every one of them is parked.
        let dump = loop {
            let dump = goro::dump();
            if names.iter().all(|n| parked_at(&dump, n).is_some()) {
                break dump;
            }
            goro::sleep(Duration::from_millis(1));
        };
        // Let them go (the sleeper and the rate limiter's waiter stay: the
        // runtime's drop unwinds them).
        drop((held, write_held, permit, client));
        tx.send(1).unwrap();
        let _ = full_rx.recv();
        drop((sel_tx, dyn_tx, iter_tx));
        {
            let (lock, cvar) = &*pair;
            *lock.lock() = true;
            cvar.notify_all();
        }
        wg.done();
        barrier.wait();
        drop(release_tx);
        runner.join().unwrap();
        dump
    });
    for (name, line) in &sites {
        let at = parked_at(&dump, name).unwrap_or_default();
        assert!(
            at.starts_with(&format!("crates/goro/tests/dump_sites.rs:{line}:")),
            "{name}: expected line {line}, got {at:?} in\n{dump}"
        );
    }
}

/// `goro::dump()` covers every live runtime, each headed by its name; a
/// runtime's own dump covers only it.
#[test]
fn dump_covers_every_live_runtime() {
    let a = goro::Runtime::builder()
        .workers(1)
        .name("alpha")
        .build()
        .unwrap();
    let b = goro::Runtime::builder()
        .workers(1)
        .name("beta")
        .build()
        .unwrap();
    let (tx_a, rx_a) = bounded::<()>(0);
    let (tx_b, rx_b) = bounded::<()>(0);
    drop(a.run(move || {
        goro::Builder::new()
            .name("in alpha")
            .go(move || rx_a.recv())
            .unwrap()
    }));
    let h = b.go(move || rx_b.recv());
    let all = loop {
        let all = a.run(goro::dump);
        if all.contains("\"in alpha\" [chan receive") && all.matches("[chan receive").count() >= 2 {
            break all;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    assert!(
        all.contains("(runtime \"alpha\")") && all.contains("(runtime \"beta\")"),
        "{all}"
    );
    // The current runtime's section comes first.
    assert!(all.find("\"alpha\"") < all.find("\"beta\""), "{all}");
    let own = b.dump();
    assert!(
        own.contains("(runtime \"beta\")") && !own.contains("alpha"),
        "{own}"
    );
    drop((tx_a, tx_b));
    h.join().unwrap().unwrap_err();
}
