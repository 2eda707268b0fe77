//! Adversarial tests of the recent goro-chan changes: `Select::ready` and
//! its watchers, `Select: Send + Sync`, the checkpoints of buffered
//! channels, and bounded channels of zero-sized values.
//!
//! Tests that could hang run their scenario in a child process (this test
//! binary again, with `BREAK_CHAN_CHILD` set), killed after a timeout.
//!
//! Found, and fixed (each test failed or hung before its fix):
//! - `ready_loop_on_a_held_ring_slot_starves_the_holder`: `ready` called a
//!   ring's position held by a select's chosen send "ready" while
//!   `try_recv` calls it empty; the documented loop spun without parking,
//!   and on one worker the holder never ran (`Ring::receive_ready`).
//! - `a_send_with_room_under_a_std_mutex_deadlocks_at_a_checkpoint`,
//!   `a_recv_with_a_value_yields_at_a_checkpoint`,
//!   `a_checkpoint_in_a_destructor_during_a_panic_leaks_the_panic_count`:
//!   the checkpoints (717aa80) yielded at the first one: a std `Mutex`
//!   held across a send that never waits deadlocked one worker, a `RefCell`
//!   borrowed across it was borrowed again, a destructor running during a
//!   panic let other goroutines see `thread::panicking()`. A goroutine now
//!   yields only at its fourth checkpoint in a row without a switch (about
//!   a thousand operations), never while panicking; holding a std lock or
//!   a `RefCell` borrow across a blocking operation stays a bug of the
//!   program's (it may also park there), as documented.
//! - `zst_len_and_is_full_count_a_reserved_send_as_a_ring_does`:
//!   `bounded::<()>(n)` (no ring since 3af7c93) left a select's reserved
//!   send out of `len` and `is_full`.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro_chan::{
    Receiver, Select, Sender, TryRecvError, TrySendError, after, bounded, never, select, unbounded,
};
use goro_sched::Runtime;

const LONG: Duration = Duration::from_secs(20);

/// Panics, as a `select!` send value may (typed, so that the completion
/// after it is not unreachable code).
fn boom<T>() -> T {
    // Without the panic hook: quiet, and quick (a backtrace under valgrind
    // takes seconds).
    std::panic::resume_unwind(Box::new("the send value panics"))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------
// Child processes

const CHILD: &str = "BREAK_CHAN_CHILD";

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs test `name` of this binary in a child process. `Some(success)` if
/// it ended within `timeout`, `None` if it had to be killed.
fn run_child(name: &str, timeout: Duration) -> Option<bool> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.success());
        }
        if start.elapsed() > timeout {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(ms(10));
    }
}

/// In the parent: runs the child and asserts it finished successfully in
/// time. In the child: runs `body`.
fn in_child(name: &str, timeout: Duration, body: impl FnOnce()) {
    if is_child() {
        body();
        return;
    }
    match run_child(name, timeout) {
        Some(true) => {}
        Some(false) => panic!("{name}: the child failed"),
        None => panic!("{name}: the child hung (killed after {timeout:?})"),
    }
}

fn one_worker() -> Runtime {
    mode::builder().workers(1).build().unwrap()
}

// ---------------------------------------------------------------------------
// 1. `Select::ready`

/// `ready` on a ring whose next position a select's chosen send holds
/// (its `select!` value is still being computed, here by a goroutine that
/// sleeps) says "ready" at once, every time: `Ring::may_be_ready` sees
/// `head != tail`. `try_recv` says empty (a held position is not waited
/// for). The documented loop (`ready`, then the `try_` form, then `ready`
/// again) spins without ever parking or yielding, so on one worker the
/// holder never runs again to write its value: a hang.
#[test]
fn ready_loop_on_a_held_ring_slot_starves_the_holder() {
    in_child(
        "ready_loop_on_a_held_ring_slot_starves_the_holder",
        Duration::from_secs(10),
        || {
            let rt = one_worker();
            let got = rt.run(|| {
                let (tx, rx) = bounded::<u32>(4);
                let (held_tx, held_rx) = bounded::<()>(0);
                let holder = goro_sched::go(move || {
                    select! {
                        send(tx, {
                            held_tx.send(()).unwrap();
                            // Parks while the position is held.
                            goro_sched::sleep(ms(20));
                            7
                        }) -> res => res.unwrap(),
                    }
                });
                held_rx.recv().unwrap();
                let mut sel = Select::new();
                sel.recv(&rx);
                let mut spins = 0u64;
                let v = loop {
                    sel.ready();
                    match rx.try_recv() {
                        Ok(v) => break v,
                        Err(_) => spins += 1,
                    }
                };
                holder.join().unwrap();
                eprintln!("ready loop: {spins} spurious returns");
                v
            });
            assert_eq!(got, 7);
        },
    );
}

/// The same loop with a plain `recv` behind the held position parks
/// (yields) and finishes: what `ready` should do at least.
#[test]
fn recv_behind_a_held_ring_slot_yields_to_the_holder() {
    in_child(
        "recv_behind_a_held_ring_slot_yields_to_the_holder",
        Duration::from_secs(20),
        || {
            let rt = one_worker();
            let got = rt.run(|| {
                let (tx, rx) = bounded::<u32>(4);
                let (held_tx, held_rx) = bounded::<()>(0);
                let holder = goro_sched::go(move || {
                    select! {
                        send(tx, {
                            held_tx.send(()).unwrap();
                            goro_sched::sleep(ms(20));
                            7
                        }) -> res => res.unwrap(),
                    }
                });
                held_rx.recv().unwrap();
                let v = rx.recv().unwrap();
                holder.join().unwrap();
                v
            });
            assert_eq!(got, 7);
        },
    );
}

/// Every flavor: after `ready` returns (ready at once, woken, timed out)
/// no watcher is left in the channel; also with the same channel twice,
/// and a send and a receive on one channel.
#[test]
fn ready_leaves_no_watcher_behind() {
    let _rt = mode::enter();
    type Make = Box<dyn Fn() -> (Sender<u64>, Receiver<u64>)>;
    let flavors: Vec<(&str, Make)> = vec![
        ("unbuffered", Box::new(|| bounded(0))),
        ("ring1", Box::new(|| bounded(1))),
        ("ring3", Box::new(|| bounded(3))),
        ("unbounded", Box::new(unbounded)),
    ];
    for (name, make) in &flavors {
        // Timed out: nothing to receive, (for an unbuffered) no room.
        let (tx, rx) = make();
        let mut sel = Select::new();
        sel.recv(&rx);
        sel.recv(&rx);
        assert!(sel.ready_timeout(ms(5)).is_err(), "{name}");
        assert_eq!(rx.__waiting(), (0, 0), "{name}");
        // Woken by a goroutine's send, with send + recv on one channel.
        let mut sel = Select::new();
        let r = sel.recv(&rx);
        let s = sel.send(&tx);
        match sel.ready_timeout(ms(5)) {
            // A buffered or unbounded channel has room.
            Ok(i) => assert!(i == s || i == r, "{name}"),
            // An unbuffered one has no partner (ours are watchers only).
            Err(_) => assert_eq!(*name, "unbuffered"),
        }
        assert_eq!(rx.__waiting(), (0, 0), "{name}");
        let tx2 = tx.clone();
        let h = goro_sched::go(move || {
            goro_sched::sleep(ms(5));
            tx2.send(1).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&rx);
        sel.recv(&rx);
        let i = sel.ready_timeout(LONG).unwrap();
        assert!(i < 2);
        assert_eq!(rx.recv_timeout(LONG), Ok(1), "{name}");
        h.join().unwrap();
        assert_eq!(rx.__waiting(), (0, 0), "{name}");
        // Closed: ready for both.
        drop(tx);
        let mut sel = Select::new();
        sel.recv(&rx);
        assert_eq!(sel.ready(), 0);
        assert_eq!(rx.__waiting(), (0, 0), "{name}");
    }
    // `never()` and time channels.
    let n = never::<u64>();
    let a = after(ms(5));
    let mut sel = Select::new();
    sel.recv(&n);
    let ai = sel.recv(&a);
    assert_eq!(sel.ready_timeout(LONG), Ok(ai));
    assert_eq!(n.__waiting(), (0, 0));
    assert_eq!(a.__waiting(), (0, 0));
}

/// Readiness that comes from a select registering, a select's send
/// abandoned (its value panicked), a receiver dropping, a close: each
/// wakes a watcher, on every flavor, on 1 and 2 workers.
#[test]
fn ready_is_woken_by_every_kind_of_readiness() {
    for workers in [1, 2] {
        let rt = mode::builder().workers(workers).build().unwrap();
        rt.run(|| {
            // A select waiting to send on an unbuffered channel makes its
            // receive ready.
            let (tx, rx) = bounded::<u64>(0);
            let (tx_other, rx_other) = bounded::<u64>(0);
            let w = {
                let rx = rx.clone();
                goro_sched::go(move || {
                    let mut sel = Select::new();
                    sel.recv(&rx);
                    sel.ready_timeout(LONG)
                })
            };
            while rx.__waiting().0 < 1 {
                goro_sched::yield_now();
            }
            let s = goro_sched::go(move || {
                select! {
                    send(tx, 5) -> r => r.unwrap(),
                    recv(rx_other) -> _ => {},
                }
            });
            assert_eq!(w.join().unwrap(), Ok(0));
            assert_eq!(rx.recv_timeout(LONG), Ok(5));
            s.join().unwrap();
            drop(tx_other);

            // A receiver dropped: a send watcher on a full channel wakes.
            for cap in [0usize, 1, 2] {
                let (tx, rx) = bounded::<u64>(cap);
                for i in 0..cap {
                    tx.send(i as u64).unwrap();
                }
                let tx2 = tx.clone();
                let w = goro_sched::go(move || {
                    let mut sel = Select::new();
                    sel.send(&tx2);
                    sel.ready_timeout(LONG)
                });
                while rx.__waiting().1 < 1 {
                    goro_sched::yield_now();
                }
                drop(rx);
                assert_eq!(w.join().unwrap(), Ok(0), "cap {cap}");
                assert!(tx.is_closed());
            }

            // A ZST channel's reserved send given back (value panicked)
            // wakes a send watcher.
            let (tx, rx) = bounded::<()>(1);
            let (gate_tx, gate_rx) = bounded::<()>(0);
            let tx2 = tx.clone();
            let holder = goro_sched::go(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    select! {
                        send(tx2, {
                            gate_rx.recv().unwrap();
                            boom::<()>()
                        }) -> _ => {},
                    }
                }));
                assert!(r.is_err());
            });
            // Wait until the room is reserved.
            while tx.try_send(()).is_ok() {
                rx.recv().unwrap();
                goro_sched::yield_now();
            }
            let tx3 = tx.clone();
            let w = goro_sched::go(move || {
                let mut sel = Select::new();
                sel.send(&tx3);
                sel.ready_timeout(LONG)
            });
            while rx.__waiting().1 < 1 {
                goro_sched::yield_now();
            }
            gate_tx.send(()).unwrap();
            holder.join().unwrap();
            assert_eq!(w.join().unwrap(), Ok(0));
            assert_eq!(tx.try_send(()), Ok(()));
            assert_eq!(rx.__waiting(), (0, 0));
        });
    }
}

/// A ring's select-send slot given up (a hole, or the room given back)
/// wakes a watcher of the right side.
#[test]
fn ready_sees_a_ring_hole_and_room_given_back() {
    for workers in [1, 2] {
        let rt = mode::builder().workers(workers).build().unwrap();
        rt.run(|| {
            // A full ring of 2; a receiver frees one position; a select's
            // send takes it and a plain send the next: full. The select's
            // value panics: a hole (the tail moved on). A receive watcher
            // sees readiness (the hole); a send watcher waits on.
            let (tx, rx) = bounded::<u64>(2);
            let (gate_tx, gate_rx) = bounded::<()>(0);
            let (chosen_tx, chosen_rx) = bounded::<()>(0);
            let tx2 = tx.clone();
            let holder = goro_sched::go(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    select! {
                        send(tx2, {
                            chosen_tx.send(()).unwrap();
                            gate_rx.recv().unwrap();
                            boom::<u64>()
                        }) -> _ => {},
                    }
                }));
                assert!(r.is_err());
            });
            chosen_rx.recv().unwrap();
            tx.send(1).unwrap(); // the position after the held one
            let tx3 = tx.clone();
            let send_watch = goro_sched::go(move || {
                let mut sel = Select::new();
                sel.send(&tx3);
                sel.ready_timeout(ms(300))
            });
            while rx.__waiting().1 < 1 {
                goro_sched::yield_now();
            }
            gate_tx.send(()).unwrap();
            holder.join().unwrap();
            // The hole is skipped by the receive.
            assert_eq!(rx.recv_timeout(LONG), Ok(1));
            // Room came back once the hole and the value were passed.
            assert_eq!(send_watch.join().unwrap(), Ok(0));
            assert_eq!(rx.__waiting(), (0, 0));
            assert_eq!(rx.len(), 0);
        });
    }
}

/// Ready loops with checked sums over every flavor (ZSTs counted), with
/// senders also using `ready`, on 1 and 2 workers and in the migrating
/// mode, plus plain threads.
#[test]
fn ready_loops_on_both_sides_lose_nothing() {
    let builders: Vec<Box<dyn Fn() -> Runtime>> = vec![
        Box::new(|| Runtime::builder().workers(1).build().unwrap()),
        Box::new(|| Runtime::builder().workers(2).build().unwrap()),
        Box::new(|| mode::migrating().workers(2).build().unwrap()),
    ];
    for make in &builders {
        let rt = make();
        const PER: u64 = 3_000;
        let chans: Arc<Vec<(Sender<u64>, Receiver<u64>)>> =
            Arc::new(vec![bounded(0), bounded(1), bounded(7), unbounded()]);
        let zst = bounded::<()>(3);
        let sum = Arc::new(AtomicUsize::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let zcount = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        // Senders that wait with `ready` on a send, then `try_send`.
        for p in 0..3u64 {
            let chans = chans.clone();
            let ztx = zst.0.clone();
            hs.push(rt.go(move || {
                let mut sel = Select::new();
                for (tx, _) in chans.iter() {
                    sel.send(tx);
                }
                let z = sel.send(&ztx);
                let mut k = 0;
                let mut zk = 0;
                while k < PER {
                    let i = sel.ready_timeout(LONG).expect("room somewhere");
                    if i == z {
                        if zk < PER && ztx.try_send(()).is_ok() {
                            zk += 1;
                        }
                        if zk == PER {
                            sel.remove(z);
                        }
                        continue;
                    }
                    let v = p * PER + k;
                    if chans[i].0.try_send(v).is_ok() {
                        k += 1;
                    }
                }
                while zk < PER {
                    ztx.send(()).unwrap();
                    zk += 1;
                }
            }));
        }
        // A plain-thread sender too.
        let th = {
            let chans = chans.clone();
            std::thread::spawn(move || {
                for k in 0..PER {
                    let v = 3 * PER + k;
                    chans[(k % 4) as usize].0.send(v).unwrap();
                }
            })
        };
        let (stop_tx, stop_rx) = bounded::<()>(0);
        for _ in 0..3 {
            let (chans, sum, count, zcount, zrx, stop_rx) = (
                chans.clone(),
                sum.clone(),
                count.clone(),
                zcount.clone(),
                zst.1.clone(),
                stop_rx.clone(),
            );
            hs.push(rt.go(move || {
                let mut sel = Select::new();
                for (_, rx) in chans.iter() {
                    sel.recv(rx);
                }
                let z = sel.recv(&zrx);
                let stop = sel.recv(&stop_rx);
                loop {
                    let i = sel.ready_timeout(LONG).expect("something");
                    if i == stop {
                        if stop_rx.try_recv() == Err(TryRecvError::Closed) {
                            return;
                        }
                    } else if i == z {
                        if zrx.try_recv().is_ok() {
                            zcount.fetch_add(1, Ordering::SeqCst);
                        }
                    } else if let Ok(v) = chans[i].1.try_recv() {
                        sum.fetch_add(v as usize, Ordering::SeqCst);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        th.join().unwrap();
        let n = 4 * PER;
        let deadline = Instant::now() + LONG;
        while (count.load(Ordering::SeqCst) as u64) < n
            || (zcount.load(Ordering::SeqCst) as u64) < 3 * PER
        {
            assert!(
                Instant::now() < deadline,
                "stuck: {} of {n}, {} of {} ZSTs",
                count.load(Ordering::SeqCst),
                zcount.load(Ordering::SeqCst),
                3 * PER
            );
            std::thread::sleep(ms(1));
        }
        drop(stop_tx);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst) as u64, n);
        assert_eq!(sum.load(Ordering::SeqCst) as u64, n * (n - 1) / 2);
        assert_eq!(zcount.load(Ordering::SeqCst) as u64, 3 * PER);
        for (_, rx) in chans.iter() {
            assert_eq!(rx.__waiting(), (0, 0));
        }
        assert_eq!(zst.1.__waiting(), (0, 0));
    }
}

/// Goroutines waiting in `ready` on every flavor (ZST, never, after,
/// unbuffered, ring, unbounded) are unwound by a dropped runtime and take
/// every watcher with them.
#[test]
fn a_dropped_runtime_withdraws_watchers_of_every_flavor() {
    let rt = mode::builder().workers(2).build().unwrap();
    let ring = bounded::<u8>(1);
    let plain = bounded::<u8>(0);
    let zst = bounded::<()>(2);
    let unb = unbounded::<u8>();
    let nev = never::<u8>();
    let late = after(Duration::from_secs(3600));
    // Full ZST channel: its send watcher waits too.
    zst.0.send(()).unwrap();
    zst.0.send(()).unwrap();
    // Full ring: its send watcher waits.
    ring.0.send(1).unwrap();
    for _ in 0..3 {
        let (r1, r2, s3, u4, n5, a6, s7) = (
            plain.1.clone(),
            ring.0.clone(),
            zst.0.clone(),
            unb.1.clone(),
            nev.clone(),
            late.clone(),
            plain.0.clone(),
        );
        rt.go(move || {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.send(&r2);
            sel.send(&s3);
            sel.recv(&u4);
            sel.recv(&n5);
            sel.recv(&a6);
            sel.send(&s7);
            sel.ready();
        });
    }
    let deadline = Instant::now() + LONG;
    while plain.1.__waiting() != (3, 3)
        || ring.1.__waiting().1 < 3
        || zst.1.__waiting().1 < 3
        || unb.1.__waiting().0 < 3
        || nev.__waiting().0 < 3
        || late.__waiting().0 < 3
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(ms(1));
    }
    drop(rt);
    assert_eq!(plain.1.__waiting(), (0, 0));
    assert_eq!(ring.1.__waiting(), (0, 0));
    assert_eq!(zst.1.__waiting(), (0, 0));
    assert_eq!(unb.1.__waiting(), (0, 0));
    assert_eq!(nev.__waiting(), (0, 0));
    assert_eq!(late.__waiting(), (0, 0));
    // The channels still work.
    assert_eq!(ring.1.recv(), Ok(1));
    assert_eq!(zst.1.recv(), Ok(()));
    zst.0.send(()).unwrap();
}

/// Many plain threads race `ready_timeout` with tiny timeouts against
/// senders and receivers, on a ZST channel and a ring: nothing lingers, no
/// value is lost.
#[test]
fn ready_timeouts_race_with_traffic() {
    let (tx, rx) = bounded::<u64>(2);
    let (ztx, zrx) = bounded::<()>(2);
    let sent = 20_000u64;
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let mut sel = Select::new();
                sel.recv(&rx);
                sel.send(&tx);
                sel.recv(&zrx);
                sel.send(&ztx);
                for i in 0..3000u64 {
                    let _ = sel.ready_timeout(Duration::from_micros(i % 50));
                }
            });
        }
        s.spawn(|| {
            for i in 0..sent {
                tx.send(i).unwrap();
                ztx.send(()).unwrap();
            }
        });
        let mut sum = 0;
        for _ in 0..sent {
            sum += rx.recv().unwrap();
            zrx.recv().unwrap();
        }
        assert_eq!(sum, sent * (sent - 1) / 2);
    });
    assert_eq!(rx.__waiting(), (0, 0));
    assert_eq!(zrx.__waiting(), (0, 0));
}

// ---------------------------------------------------------------------------
// 2. `Select: Send + Sync`

/// A `Select` is built on one thread and run on another; a
/// `SelectedOperation` stays (it is not `Send`: checked by the types of
/// this crate, see `select.rs`). What moves is only the `&Channel<T>` of
/// `T: Send`.
#[test]
fn a_select_moved_to_another_thread_receives_sendable_values() {
    let (tx, rx) = bounded::<Box<u64>>(1);
    let (tx2, rx2) = bounded::<Box<u64>>(0);
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.send(&tx2);
    let sel2 = sel.clone();
    tx.send(Box::new(5)).unwrap();
    let (rx, tx2) = (&rx, &tx2);
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut sel = sel2;
            let op = sel.select();
            assert_eq!(op.index(), 0);
            *op.recv(rx).unwrap()
        });
        assert_eq!(h.join().unwrap(), 5);
        let h = s.spawn(move || {
            let op = sel.select();
            assert_eq!(op.index(), 1);
            op.send(tx2, Box::new(6)).unwrap();
        });
        assert_eq!(*rx2.recv().unwrap(), 6);
        h.join().unwrap();
    });
}

/// `select!` takes `!Send` values; its expansion keeps them on the thread.
#[test]
fn select_macro_takes_rc_values_on_its_thread() {
    use std::rc::Rc;
    let (tx, rx) = bounded::<Rc<u32>>(1);
    tx.send(Rc::new(3)).unwrap();
    let got = select! {
        recv(rx) -> v => *v.unwrap(),
        send(tx, Rc::new(4)) -> _ => 0,
    };
    assert!(got == 3 || got == 0);
}

// ---------------------------------------------------------------------------
// 3. Checkpoints

/// A goroutine that holds a `std::sync::Mutex` while it sends on a
/// buffered channel with room (a send that never waits) now yields at a
/// checkpoint (position 0 of a fresh ring is one) to another goroutine of
/// its worker, which blocks the worker's thread on the same mutex: the
/// holder, which keeps its thread in the default mode, never runs again.
/// Before the checkpoints a send with room never switched.
#[test]
fn a_send_with_room_under_a_std_mutex_deadlocks_at_a_checkpoint() {
    in_child(
        "a_send_with_room_under_a_std_mutex_deadlocks_at_a_checkpoint",
        Duration::from_secs(10),
        || {
            let rt = Runtime::builder().workers(1).build().unwrap();
            rt.run(|| {
                let lock = Arc::new(Mutex::new(0u64));
                let (tx, rx) = bounded::<u64>(16);
                let other = {
                    let lock = lock.clone();
                    goro_sched::go(move || {
                        *lock.lock().unwrap() += 1;
                    })
                };
                {
                    let mut g = lock.lock().unwrap();
                    *g += 1;
                    // Room for 16: never waits. Position 0: a checkpoint.
                    tx.send(1).unwrap();
                }
                other.join().unwrap();
                assert_eq!(rx.try_recv(), Ok(1));
                assert_eq!(*lock.lock().unwrap(), 2);
            });
        },
    );
}

/// The same at a receive: a thread-local `RefCell` borrowed across a
/// `recv` that finds its value at once is borrowed again by the goroutine
/// the checkpoint yields to (a `BorrowMutError` panic in a program that
/// never waited).
#[test]
fn a_recv_with_a_value_yields_at_a_checkpoint() {
    use std::cell::RefCell;
    thread_local! {
        static STATE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }
    let rt = Runtime::builder().workers(1).build().unwrap();
    let r = rt.run(|| {
        let (tx, rx) = bounded::<u64>(16);
        tx.send(1).unwrap(); // a checkpoint, with nothing else to run
        let other = goro_sched::go(|| STATE.with(|s| s.borrow_mut().push(2)));
        let r = STATE.with(|s| {
            let mut s = s.borrow_mut();
            // The value is there: this receive never waits.
            s.push(rx.recv().unwrap());
            s.len()
        });
        other.join().map(|()| r)
    });
    assert_eq!(
        r.ok(),
        Some(1),
        "the other goroutine panicked on the borrow"
    );
}

/// A checkpoint reached by a destructor while its goroutine unwinds from a
/// panic yields to the worker's other goroutines with the thread's panic
/// count raised: they see `std::thread::panicking()` (the known
/// limitation of goroutines parked in destructors, now reached by a send
/// that never waits). One consequence: a `SelectedOperation` dropped
/// uncompleted there gives its operation up silently instead of panicking
/// (its `Drop` asks `thread::panicking()`).
#[test]
fn a_checkpoint_in_a_destructor_during_a_panic_leaks_the_panic_count() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let seen = rt.run(|| {
        let (tx, rx) = bounded::<u64>(16);
        struct SendsOnDrop(Sender<u64>);
        impl Drop for SendsOnDrop {
            fn drop(&mut self) {
                // Room: never waits; position 0, a checkpoint.
                self.0.send(1).unwrap();
            }
        }
        let (seen_tx, seen_rx) = bounded::<bool>(1);
        let panicking = goro_sched::go(move || {
            let _d = SendsOnDrop(tx);
            // Queued behind this goroutine, on its worker.
            let _other = goro_sched::go(move || {
                // A select whose chosen operation is dropped uncompleted:
                // it panics, unless the thread looks panicking.
                let (ztx, _zrx) = bounded::<u8>(1);
                let mut sel = Select::new();
                sel.send(&ztx);
                let op = sel.try_select().unwrap();
                let silent =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op))).is_ok();
                seen_tx.send(std::thread::panicking() || silent).unwrap();
            });
            std::panic::resume_unwind(Box::new("boom"));
        });
        assert!(panicking.join().is_err());
        assert_eq!(rx.recv(), Ok(1));
        seen_rx.recv().unwrap()
    });
    assert!(
        !seen,
        "a goroutine that never panicked saw thread::panicking() (its SelectedOperation drop did not panic)"
    );
}

/// `try_send` and `try_recv` never yield, whatever the position, also
/// with goroutines waiting on the worker; a `try_select` neither.
#[test]
fn tries_never_yield_at_any_position() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.run(|| {
        for cap in [1usize, 2, 3, 255, 256, 257, 1000] {
            let (tx, rx) = bounded::<u64>(cap);
            let ran = Arc::new(AtomicUsize::new(0));
            let r2 = ran.clone();
            let other = goro_sched::go(move || {
                r2.fetch_add(1, Ordering::SeqCst);
            });
            for i in 0..3000u64 {
                tx.try_send(i).unwrap();
                assert_eq!(rx.try_recv(), Ok(i));
                let mut sel = Select::new();
                sel.send(&tx);
                sel.try_select().unwrap().send(&tx, i).unwrap();
                let mut sel = Select::new();
                sel.recv(&rx);
                assert_eq!(sel.try_select().unwrap().recv(&rx), Ok(i));
                assert_eq!(ran.load(Ordering::SeqCst), 0, "cap {cap}, i {i}");
            }
            other.join().unwrap();
        }
    });
}

/// Blocking sends and receives through a checkpoint inside a nested
/// `goro_sched::fiber::Coroutine` run by a goroutine, with goroutines waiting:
/// the yield happens from the coroutine's stack.
#[test]
fn a_checkpoint_inside_a_nested_coroutine() {
    in_child(
        "a_checkpoint_inside_a_nested_coroutine",
        Duration::from_secs(20),
        || {
            let rt = Runtime::builder().workers(1).build().unwrap();
            let sum = rt.run(|| {
                let (tx, rx) = bounded::<u64>(4);
                let others: Vec<_> = (0..4).map(|_| goro_sched::go(|| 1u64)).collect();
                let mut co = goro_sched::fiber::Coroutine::new(
                    move |_y: &goro_sched::fiber::Yielder<(), ()>, ()| {
                        let mut sum = 0;
                        for i in 0..2000u64 {
                            tx.send(i).unwrap();
                            sum += rx.recv().unwrap();
                        }
                        sum
                    },
                );
                let sum = match co.resume(()) {
                    goro_sched::fiber::CoroutineResult::Return(s) => s,
                    goro_sched::fiber::CoroutineResult::Yield(()) => unreachable!(),
                };
                sum + others.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            });
            assert_eq!(sum, 2000 * 1999 / 2 + 4);
        },
    );
}

/// Order and sums across checkpoints: per-producer FIFO holds through the
/// yields, on rings of several sizes, 1 and 2 workers, and the migrating
/// mode.
#[test]
fn checkpoints_keep_per_producer_order() {
    let builders: Vec<Box<dyn Fn() -> Runtime>> = vec![
        Box::new(|| Runtime::builder().workers(1).build().unwrap()),
        Box::new(|| Runtime::builder().workers(2).build().unwrap()),
        Box::new(|| mode::migrating().workers(2).build().unwrap()),
    ];
    for make in &builders {
        let rt = make();
        for cap in [1usize, 3, 64, 300] {
            rt.run(move || {
                const P: u64 = 4;
                const N: u64 = 5000;
                let (tx, rx) = bounded::<(u64, u64)>(cap);
                let hs: Vec<_> = (0..P)
                    .map(|p| {
                        let tx = tx.clone();
                        goro_sched::go(move || {
                            for k in 0..N {
                                if k % 3 == 0 {
                                    select! { send(tx, (p, k)) -> r => r.unwrap() }
                                } else {
                                    tx.send((p, k)).unwrap();
                                }
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let mut next = [0u64; P as usize];
                let mut i = 0u64;
                loop {
                    let got = if i.is_multiple_of(2) {
                        rx.recv().ok()
                    } else {
                        select! { recv(rx) -> v => v.ok() }
                    };
                    let Some((p, k)) = got else { break };
                    assert_eq!(next[p as usize], k, "cap {cap}");
                    next[p as usize] += 1;
                    i += 1;
                }
                assert_eq!(i, P * N);
                for h in hs {
                    h.join().unwrap();
                }
            });
        }
    }
}

/// Timers and tickers fire (under their std mutex, with `try_send`) while
/// goroutines pass checkpoints on their channels: nothing stalls.
#[test]
fn timers_fire_while_checkpoints_yield() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.run(|| {
        let (tx, rx) = bounded::<u64>(2);
        let p = goro_sched::go(move || {
            for i in 0..20_000u64 {
                tx.send(i).unwrap();
            }
        });
        let ticker = goro_chan::time::Ticker::new(Duration::from_micros(100));
        let mut ticks = 0;
        let mut sum = 0;
        let mut n = 0;
        while n < 20_000 {
            select! {
                recv(rx) -> v => { sum += v.unwrap(); n += 1; },
                recv(ticker.chan()) -> _ => ticks += 1,
            }
        }
        p.join().unwrap();
        assert_eq!(sum, 20_000 * 19_999 / 2);
        let _ = ticks;
        let t = goro_chan::time::Timer::new(ms(1));
        assert!(t.chan().recv_timeout(LONG).is_ok());
    });
}

// ---------------------------------------------------------------------------
// 4. Bounded channels of zero-sized values

static LIVE: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct Z;

impl Z {
    fn new() -> Z {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Z
    }
}

impl Drop for Z {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

static Z_TEST: Mutex<()> = Mutex::new(());

/// Capacity under selects: reserved sends count, an abandoned one gives its
/// room back (and lets a waiting sender in), a forgotten one keeps it (a
/// leak, no more); values with a `Drop` are dropped once each.
#[test]
fn zst_capacity_under_selects_and_drops() {
    let _g = Z_TEST.lock().unwrap_or_else(|e| e.into_inner());
    let _rt = mode::enter();
    let live0 = LIVE.load(Ordering::SeqCst);
    {
        let (tx, rx) = bounded::<Z>(2);
        tx.send(Z::new()).unwrap();
        // A select reserves the second slot: full.
        let mut sel = Select::new();
        sel.send(&tx);
        let op = sel.try_select().unwrap();
        assert!(matches!(tx.try_send(Z::new()), Err(TrySendError::Full(_))));
        // The reserved room counts, as a ring's held position does.
        assert_eq!(tx.len(), 2);
        assert!(tx.is_full());
        // A waiting sender, then the select's send abandoned: it comes in.
        let tx2 = tx.clone();
        let h = goro_sched::go(move || tx2.send(Z::new()).unwrap());
        while rx.__waiting().1 < 1 {
            goro_sched::yield_now();
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op)));
        assert!(r.is_err());
        h.join().unwrap();
        assert_eq!(rx.len(), 2);
        assert!(tx.is_full());
        assert!(matches!(tx.try_send(Z::new()), Err(TrySendError::Full(_))));
        // A forgotten reservation of a receive: the value stays reserved.
        let mut sel = Select::new();
        sel.recv(&rx);
        std::mem::forget(sel.try_select().unwrap());
        assert_eq!(rx.len(), 1);
        assert!(rx.try_recv().is_ok());
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        // A forgotten send reservation keeps its room (a leak): the one
        // reserved value and the one reserved room fill the channel.
        let mut sel = Select::new();
        sel.send(&tx);
        std::mem::forget(sel.try_select().unwrap());
        assert!(matches!(tx.try_send(Z::new()), Err(TrySendError::Full(_))));
        // The reserved value is gone from `len`, the reserved room is in.
        assert_eq!(rx.len(), 1);
    }
    assert_eq!(LIVE.load(Ordering::SeqCst), live0, "every Z dropped once");
}

/// Many goroutines and threads hammer a `bounded::<Z>(n)` with sends,
/// receives, selects (some abandoned by panicking values) and `try_`s: at
/// no time are more than `n` buffered, each value is dropped once.
#[test]
fn zst_never_exceeds_its_capacity() {
    let _g = Z_TEST.lock().unwrap_or_else(|e| e.into_inner());
    for workers in [1, 2] {
        let rt = mode::builder().workers(workers).build().unwrap();
        let live0 = LIVE.load(Ordering::SeqCst);
        const CAP: usize = 3;
        let (tx, rx) = bounded::<Z>(CAP);
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for p in 0..4u64 {
            let (tx, rx) = (tx.clone(), rx.clone());
            hs.push(rt.go(move || {
                let never_rx = never::<u8>();
                for k in 0..2000u64 {
                    match (k + p) % 5 {
                        0 => {
                            let _ = tx.send_timeout(Z::new(), ms(2));
                        }
                        1 => {
                            let _ = tx.try_send(Z::new());
                        }
                        2 => {
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                select! {
                                    send(tx, {
                                        if k % 2 == 0 { panic!("abandoned") }
                                        Z::new()
                                    }) -> r => r.unwrap(),
                                    recv(never_rx) -> _ => {},
                                }
                            }));
                            let _ = r;
                        }
                        3 => {
                            let _ = tx.send_timeout(Z::new(), Duration::from_micros(50));
                        }
                        _ => {
                            let mut sel = Select::new();
                            sel.send(&tx);
                            if sel.ready_timeout(ms(1)).is_ok() {
                                let _ = tx.try_send(Z::new());
                            }
                        }
                    }
                    // A receiver's share too, so that nobody waits for good.
                    if k % 2 == 0 {
                        let _ = rx.try_recv();
                    }
                }
            }));
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (rx, inside, max, stop) = (rx.clone(), inside.clone(), max.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let n = rx.len();
                    max.fetch_max(n, Ordering::SeqCst);
                    inside.store(n, Ordering::SeqCst);
                }
            })
        };
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let consumer = {
            let (rx, done) = (rx.clone(), done.clone());
            rt.go(move || {
                let mut got = 0u64;
                while !done.load(Ordering::SeqCst) {
                    select! {
                        recv(rx) -> v => if v.is_ok() { got += 1 },
                        default(ms(5)) => {},
                    }
                }
                got
            })
        };
        for h in hs {
            h.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        consumer.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        watcher.join().unwrap();
        assert!(
            max.load(Ordering::SeqCst) <= CAP,
            "{} buffered",
            max.load(Ordering::SeqCst)
        );
        assert!(rx.len() <= CAP);
        assert_eq!(rx.__waiting(), (0, 0));
        drop((tx, rx));
        drop(rt);
        assert_eq!(LIVE.load(Ordering::SeqCst), live0, "a Z lost or duplicated");
    }
}

/// A `select!` whose ZST send arm's value panics while another goroutine
/// waits to send and a third waits in `ready` for room: the room goes to
/// the waiting sender, the watcher is woken or stays correctly asleep.
#[test]
fn zst_abandoned_send_admits_exactly_one_waiter() {
    let _g = Z_TEST.lock().unwrap_or_else(|e| e.into_inner());
    let rt = mode::builder().workers(2).build().unwrap();
    rt.run(|| {
        let live0 = LIVE.load(Ordering::SeqCst);
        {
            let (tx, rx) = bounded::<Z>(1);
            let (gate_tx, gate_rx) = bounded::<()>(0);
            let (chosen_tx, chosen_rx) = bounded::<()>(0);
            let tx1 = tx.clone();
            let holder = goro_sched::go(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    select! {
                        send(tx1, {
                            chosen_tx.send(()).unwrap();
                            gate_rx.recv().unwrap();
                            boom::<Z>()
                        }) -> _ => {},
                    }
                }));
            });
            chosen_rx.recv().unwrap();
            let senders: Vec<_> = (0..3)
                .map(|_| {
                    let tx = tx.clone();
                    goro_sched::go(move || tx.send_timeout(Z::new(), ms(300)).is_ok())
                })
                .collect();
            while rx.__waiting().1 < 3 {
                goro_sched::yield_now();
            }
            gate_tx.send(()).unwrap();
            holder.join().unwrap();
            let ok = senders
                .into_iter()
                .filter(|_| true)
                .map(|h| h.join().unwrap())
                .filter(|&ok| ok)
                .count();
            assert_eq!(ok, 1, "exactly one sender got the room back");
            assert_eq!(rx.len(), 1);
            assert!(rx.try_recv().is_ok());
            assert_eq!(rx.__waiting(), (0, 0));
        }
        assert_eq!(LIVE.load(Ordering::SeqCst), live0);
    });
}

/// `len` and `is_full` of a bounded channel while a select's chosen send
/// holds its room: a ring (`bounded::<u8>`) counts the held position (it
/// is full to `try_send`, and says so); `bounded::<()>`, which took a ring
/// before 3af7c93, now keeps the room in `send_reserved`, which `len`
/// leaves out: `is_full()` is false while `try_send` says `Full`.
#[test]
fn zst_len_and_is_full_count_a_reserved_send_as_a_ring_does() {
    // The ring, for reference.
    let (tx, _rx) = bounded::<u8>(1);
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.try_select().unwrap();
    let ring = (tx.len(), tx.is_full(), tx.try_send(1).is_err());
    op.send(&tx, 0).unwrap();
    assert_eq!(ring, (1, true, true));
    // Zero-sized values.
    let (tx, _rx) = bounded::<()>(1);
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.try_select().unwrap();
    let zst = (tx.len(), tx.is_full(), tx.try_send(()).is_err());
    op.send(&tx, ()).unwrap();
    assert_eq!(zst, ring, "(len, is_full, try_send refused)");
}

/// Ready loops on rings full of holes: producers send through `select!`
/// arms whose values panic one time in three (holes, or room given back),
/// consumers receive with `ready` + `try_recv`, a sender waits with
/// `ready` too. Every completed send is received once; no `ready` sleeps
/// through readiness (a lost wake-up shows as a 5 s timeout).
#[test]
fn ready_loops_over_holes_lose_no_wake_up() {
    const SHORT: Duration = Duration::from_secs(5);
    for workers in [1, 2] {
        let rt = mode::builder().workers(workers).build().unwrap();
        for cap in [1usize, 2, 5] {
            let (tx, rx) = bounded::<u64>(cap);
            let sent = Arc::new(AtomicUsize::new(0));
            let sum_sent = Arc::new(AtomicUsize::new(0));
            let got = Arc::new(AtomicUsize::new(0));
            let sum_got = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut producers = Vec::new();
            for p in 0..3u64 {
                let (tx, sent, sum_sent) = (tx.clone(), sent.clone(), sum_sent.clone());
                producers.push(rt.go(move || {
                    let mut sel = Select::new();
                    sel.send(&tx);
                    for k in 0..1500u64 {
                        let v = p * 10_000 + k;
                        if k % 4 == 3 {
                            // Wait for room with `ready`, then `try_send`.
                            loop {
                                sel.ready_timeout(SHORT).expect("lost wake-up (send)");
                                if tx.try_send(v).is_ok() {
                                    break;
                                }
                            }
                        } else {
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                select! {
                                    send(tx, {
                                        if k % 3 == 0 { boom() } else { v }
                                    }) -> r => r.unwrap(),
                                }
                            }));
                            if r.is_err() {
                                continue;
                            }
                        }
                        sent.fetch_add(1, Ordering::SeqCst);
                        sum_sent.fetch_add(v as usize, Ordering::SeqCst);
                    }
                }));
            }
            let mut consumers = Vec::new();
            for _ in 0..2 {
                let (rx, got, sum_got, done) =
                    (rx.clone(), got.clone(), sum_got.clone(), done.clone());
                consumers.push(rt.go(move || {
                    let mut sel = Select::new();
                    sel.recv(&rx);
                    while !done.load(Ordering::SeqCst) {
                        if sel.ready_timeout(ms(50)).is_err() {
                            continue;
                        }
                        if let Ok(v) = rx.try_recv() {
                            got.fetch_add(1, Ordering::SeqCst);
                            sum_got.fetch_add(v as usize, Ordering::SeqCst);
                        }
                    }
                }));
            }
            for h in producers {
                h.join().unwrap();
            }
            let deadline = Instant::now() + SHORT;
            while got.load(Ordering::SeqCst) < sent.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "values left: cap {cap}");
                std::thread::sleep(ms(1));
            }
            done.store(true, Ordering::SeqCst);
            for h in consumers {
                h.join().unwrap();
            }
            assert_eq!(got.load(Ordering::SeqCst), sent.load(Ordering::SeqCst));
            assert_eq!(
                sum_got.load(Ordering::SeqCst),
                sum_sent.load(Ordering::SeqCst)
            );
            assert_eq!(rx.len(), 0, "cap {cap}");
            assert_eq!(rx.__waiting(), (0, 0));
        }
    }
}

/// `ready` over more operations than fit inline (8) and than the scratch
/// space holds (32), some removed, some on one channel many times.
#[test]
fn ready_over_many_operations() {
    let _rt = mode::enter();
    let chans: Vec<_> = (0..40)
        .map(|i| match i % 4 {
            0 => bounded::<u64>(0),
            1 => bounded::<u64>(1),
            2 => bounded::<u64>(3),
            _ => unbounded::<u64>(),
        })
        .collect();
    let mut sel = Select::new();
    for (_, rx) in &chans {
        sel.recv(rx);
    }
    // The same ring, 10 more times.
    for _ in 0..10 {
        sel.recv(&chans[5].1);
    }
    for i in (0..40).step_by(3) {
        sel.remove(i);
    }
    assert!(sel.try_ready().is_err());
    assert!(sel.ready_timeout(ms(5)).is_err());
    for (_, rx) in &chans {
        assert_eq!(rx.__waiting(), (0, 0));
    }
    // A send on a removed operation's channel wakes nobody; on a live one
    // it does.
    chans[3].0.send(3).unwrap(); // index 3: removed
    assert!(sel.ready_timeout(ms(5)).is_err());
    let tx = chans[5].0.clone();
    let h = goro_sched::go(move || {
        goro_sched::sleep(ms(5));
        tx.send(5).unwrap();
    });
    let i = sel.ready_timeout(LONG).unwrap();
    assert!(i == 5 || i >= 40, "{i}");
    h.join().unwrap();
    for (_, rx) in &chans {
        assert_eq!(rx.__waiting(), (0, 0));
    }
    assert_eq!(chans[5].1.try_recv(), Ok(5));
}

/// A dropped runtime unwinds its parked goroutines; their destructors send
/// on rings through checkpoints (which may yield while other goroutines
/// of the worker wait to be unwound): the drop finishes, every value
/// arrives.
#[test]
fn checkpoints_in_destructors_during_shutdown() {
    in_child(
        "checkpoints_in_destructors_during_shutdown",
        Duration::from_secs(30),
        || {
            for workers in [1, 2] {
                let rt = mode::builder().workers(workers).build().unwrap();
                let (tx, rx) = bounded::<u64>(100_000);
                struct SendsOnDrop(Sender<u64>);
                impl Drop for SendsOnDrop {
                    fn drop(&mut self) {
                        for i in 0..600 {
                            self.0.send(i).unwrap();
                        }
                    }
                }
                let (_block_tx, block_rx) = bounded::<u8>(0);
                let started = Arc::new(AtomicUsize::new(0));
                for _ in 0..20 {
                    let (d, block_rx, started) =
                        (SendsOnDrop(tx.clone()), block_rx.clone(), started.clone());
                    rt.go(move || {
                        let _d = d;
                        started.fetch_add(1, Ordering::SeqCst);
                        let _ = block_rx.recv();
                    });
                }
                while started.load(Ordering::SeqCst) < 20 {
                    std::thread::sleep(ms(1));
                }
                std::thread::sleep(ms(20));
                drop(rt);
                drop(tx);
                assert_eq!(rx.iter().count(), 20 * 600);
            }
        },
    );
}

/// Watchers registering while the channel closes, or its receivers go, on
/// every flavor: each returns (no lost wake-up), nothing lingers.
#[test]
fn ready_races_with_close_and_receiver_drop() {
    let rt = mode::builder().workers(2).build().unwrap();
    for round in 0..400u64 {
        let cap = [0usize, 1, 3][(round % 3) as usize];
        let (tx, rx) = bounded::<u64>(cap);
        let (ztx, zrx) = bounded::<()>(cap);
        // Full, so that sends wait; empty receives wait.
        for _ in 0..cap {
            tx.send(1).unwrap();
            ztx.send(()).unwrap();
        }
        let mut hs = Vec::new();
        for k in 0..4 {
            let (tx, rx, ztx, zrx) = (tx.clone(), rx.clone(), ztx.clone(), zrx.clone());
            hs.push(rt.go(move || {
                let (_t, r) = bounded::<u64>(0);
                let mut sel = Select::new();
                if k % 2 == 0 {
                    sel.send(&tx);
                    sel.send(&ztx);
                } else {
                    sel.recv(&r);
                    sel.recv(&zrx);
                    if cap == 0 {
                        sel.recv(&rx);
                    }
                }
                sel.ready_timeout(Duration::from_secs(5)).is_ok()
            }));
        }
        if round % 2 == 0 {
            drop((rx, zrx));
            std::thread::yield_now();
            // Receivers gone: sends ready. The receive watchers hold clones
            // of the receivers, so close for them.
            tx.close();
            ztx.close();
        } else {
            tx.close();
            ztx.close();
        }
        for h in hs {
            assert!(
                h.join().unwrap(),
                "round {round}: a watcher slept through the close"
            );
        }
    }
}

/// An unbuffered channel's select send that claimed a waiting receiver and
/// is then abandoned (its value panics) puts the receiver back: a watcher
/// of sends that registered meanwhile (when no receiver was claimable) is
/// woken, and a `try_send` then reaches the receiver.
#[test]
fn ready_sees_a_receiver_given_back_by_an_abandoned_send() {
    for workers in [1, 2] {
        let rt = mode::builder().workers(workers).build().unwrap();
        rt.run(|| {
            let (tx, rx) = bounded::<u64>(0);
            let receiver = goro_sched::go(move || rx.recv_timeout(LONG));
            // Wait for the receiver to be queued (a send watcher says so).
            let mut sel = Select::new();
            sel.send(&tx);
            sel.ready_timeout(LONG).unwrap();
            let (gate_tx, gate_rx) = bounded::<()>(0);
            let (chosen_tx, chosen_rx) = bounded::<()>(0);
            let tx1 = tx.clone();
            let holder = goro_sched::go(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    select! {
                        send(tx1, {
                            chosen_tx.send(()).unwrap();
                            gate_rx.recv().unwrap();
                            boom::<u64>()
                        }) -> _ => {},
                    }
                }));
                assert!(r.is_err());
            });
            chosen_rx.recv().unwrap();
            // The receiver is claimed: no send is ready now.
            assert!(sel.try_ready().is_err());
            let tx2 = tx.clone();
            let watcher = goro_sched::go(move || {
                let mut sel = Select::new();
                sel.send(&tx2);
                let r = sel.ready_timeout(LONG);
                (r, tx2.try_send(9))
            });
            goro_sched::sleep(ms(5));
            gate_tx.send(()).unwrap();
            holder.join().unwrap();
            let (r, sent) = watcher.join().unwrap();
            assert_eq!(r, Ok(0));
            assert_eq!(sent, Ok(()));
            assert_eq!(receiver.join().unwrap(), Ok(9));
        });
    }
}

/// A ring's held position given back (still the last taken) wakes a send
/// watcher that registered while the hold made the ring full.
#[test]
fn ready_sees_ring_room_given_back() {
    for workers in [1, 2] {
        let rt = mode::builder().workers(workers).build().unwrap();
        rt.run(|| {
            let (tx, rx) = bounded::<u64>(1);
            let (gate_tx, gate_rx) = bounded::<()>(0);
            let (chosen_tx, chosen_rx) = bounded::<()>(0);
            let tx1 = tx.clone();
            let holder = goro_sched::go(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    select! {
                        send(tx1, {
                            chosen_tx.send(()).unwrap();
                            gate_rx.recv().unwrap();
                            boom::<u64>()
                        }) -> _ => {},
                    }
                }));
                assert!(r.is_err());
            });
            chosen_rx.recv().unwrap();
            assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
            let tx2 = tx.clone();
            let watcher = goro_sched::go(move || {
                let mut sel = Select::new();
                sel.send(&tx2);
                sel.ready_timeout(LONG)
            });
            while rx.__waiting().1 < 1 {
                goro_sched::yield_now();
            }
            gate_tx.send(()).unwrap();
            holder.join().unwrap();
            assert_eq!(watcher.join().unwrap(), Ok(0));
            assert_eq!(tx.try_send(2), Ok(()));
            assert_eq!(rx.try_recv(), Ok(2));
            assert_eq!(rx.__waiting(), (0, 0));
        });
    }
}

/// `ready` on time channels: a ticker's ticks and a timer's firing wake
/// it; a stopped timer's value taken back leaves it waiting.
#[test]
fn ready_on_time_channels() {
    let _rt = mode::enter();
    let h = goro_sched::go(|| {
        let ticks = goro_chan::tick(ms(1));
        let mut sel = Select::new();
        sel.recv(&ticks);
        let mut got = 0;
        while got < 5 {
            sel.ready_timeout(LONG).unwrap();
            if ticks.try_recv().is_ok() {
                got += 1;
            }
        }
        let t = goro_chan::time::Timer::new(ms(2));
        let mut sel = Select::new();
        sel.recv(t.chan());
        assert_eq!(sel.ready_timeout(LONG), Ok(0));
        assert!(t.chan().try_recv().is_ok());
        let t = goro_chan::time::Timer::new(ms(1));
        goro_sched::sleep(ms(5));
        t.stop(); // takes the fired value back
        let mut sel = Select::new();
        sel.recv(t.chan());
        assert!(sel.ready_timeout(ms(10)).is_err());
        assert_eq!(t.chan().__waiting(), (0, 0));
    });
    h.join().unwrap();
}
