//! Trying to break commit 169e965: a channel records its bubble
//! (`goro::park::Home`), and a bubble goroutine waiting on one made outside
//! counts as outside (the clock stands still, no deadlock is reported).
//!
//! The tests of the first section are regressions of bugs found there
//! (each failed on 169e965, and is fixed); the others are probes that
//! passed. Each runs in a child process (`isolated`) under a
//! real-time bound (`within`), since the failure modes are hangs.

mod common;

use std::panic::catch_unwind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{isolated, panic_message, within};
use goro::chan::{RecvTimeoutError, Select, bounded, never};
use goro::park::Home;
use goro::time::now;

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Regressions

/// A plain thread's `Select` with a send arm waits on a channel made outside
/// the bubble; a bubble goroutine's `recv` claims it, and must then wait for
/// the thread to call `SelectedOperation::send`. That wait
/// (`take_from_sender`) passes `Home::ANY`: durable. With nothing else in
/// the bubble, the bubble reports a deadlock while the thread is about to
/// send. Go: a receive on a channel made outside the bubble is never
/// durable (and Go's select has no such window anyway). Fixed:
/// `take_from_sender` waits with the channel's home.
#[test]
fn a_claimed_select_sender_on_a_plain_thread_is_no_deadlock() {
    isolated(
        "a_claimed_select_sender_on_a_plain_thread_is_no_deadlock",
        || {
            let r = within(LIMIT, "claimed select sender", || {
                let (tx, rx) = bounded::<u8>(0); // made outside
                let feeder = thread::spawn(move || {
                    let mut sel = Select::new();
                    sel.send(&tx);
                    let op = sel.select(); // claimed by the bubble's recv
                    thread::sleep(Duration::from_millis(100));
                    op.send(&tx, 7).unwrap();
                });
                // Let the thread's select register its send.
                thread::sleep(Duration::from_millis(100));
                let r = catch_unwind(move || goro::test::run(move || rx.recv().unwrap()))
                    .map_err(panic_message);
                feeder.join().unwrap();
                r
            });
            assert_eq!(r, Ok(7));
        },
    );
}

/// As above, with a sleeper of an hour pending: the clock jumps an hour
/// while the bubble goroutine waits for the plain thread's `send`.
#[test]
fn a_claimed_select_sender_on_a_plain_thread_keeps_the_clock_still() {
    isolated(
        "a_claimed_select_sender_on_a_plain_thread_keeps_the_clock_still",
        || {
            let r = within(LIMIT, "claimed select sender, sleeper", || {
                let (tx, rx) = bounded::<u8>(0);
                let feeder = thread::spawn(move || {
                    let mut sel = Select::new();
                    sel.send(&tx);
                    let op = sel.select();
                    thread::sleep(Duration::from_millis(100));
                    op.send(&tx, 7).unwrap();
                });
                thread::sleep(Duration::from_millis(100));
                let r = catch_unwind(move || {
                    goro::test::run(move || {
                        let start = now();
                        let sleeper = goro::go(|| goro::sleep(HOUR));
                        // Even `try_recv`: it claims and then waits.
                        let v = rx.try_recv().unwrap();
                        let at = now() - start;
                        sleeper.join().unwrap();
                        (v, at)
                    })
                })
                .map_err(panic_message);
                feeder.join().unwrap();
                r
            });
            assert_eq!(r, Ok((7, Duration::ZERO)));
        },
    );
}

/// A `Timer` made outside the bubble (its channel's home: none), reset by a
/// bubble goroutine. `reset` re-armed it with `call_at` on the *current*
/// runtime, the bubble's virtual clock, while its channel counts as
/// outside: waiting on it kept the clock still, and the clock was what
/// would fire it, so the bubble hung for good. A timer made outside a
/// bubble stays a real-time timer when reset inside one (only a bubble's
/// own timers are fake), so it fires after 10 ms of real time. Fixed: a
/// timer re-armed across a bubble's boundary keeps the clock it was made
/// on (`goro_sched::timer::Clock`).
#[test]
fn a_timer_made_outside_keeps_real_time_when_reset_inside() {
    isolated(
        "a_timer_made_outside_keeps_real_time_when_reset_inside",
        || {
            let timer = goro::time::Timer::new(HOUR); // outside: real time
            let fired = within(LIMIT, "outside timer reset in a bubble", move || {
                goro::test::run(move || {
                    timer.reset(Duration::from_millis(10));
                    timer.chan().recv().is_ok()
                })
            });
            assert!(fired);
        },
    );
}

/// The same with a `Ticker` made outside.
#[test]
fn a_ticker_made_outside_keeps_real_time_when_reset_inside() {
    isolated(
        "a_ticker_made_outside_keeps_real_time_when_reset_inside",
        || {
            let ticker = goro::time::Ticker::new(HOUR);
            let ticked = within(LIMIT, "outside ticker reset in a bubble", move || {
                goro::test::run(move || {
                    ticker.reset(Duration::from_millis(10));
                    let ok = ticker.chan().recv().is_ok();
                    ticker.stop();
                    ok
                })
            });
            assert!(ticked);
        },
    );
}

// ---------------------------------------------------------------------------
// Probes (pass)

/// Outside waits that end by time-out of the feeder, by value, by close;
/// after each the clock still moves (no leaked `outside` count) and a
/// deadlock is still reported (no negative count either).
#[test]
fn probe_outside_count_balances_over_every_kind_of_wait() {
    isolated(
        "probe_outside_count_balances_over_every_kind_of_wait",
        || {
            let r = within(LIMIT, "balanced outside count", || {
                let (tx1, rx1) = bounded::<u8>(0);
                let (tx2, rx2) = bounded::<u8>(0);
                let (tx3, rx3) = bounded::<u8>(0);
                let (tx4, rx4) = bounded::<u8>(0);
                let (drain_tx, drain_rx) = bounded::<u8>(0);
                let feeder = thread::spawn(move || {
                    thread::sleep(Duration::from_millis(30));
                    tx1.send(1).unwrap(); // recv_timeout gets it
                    thread::sleep(Duration::from_millis(30));
                    drop(tx2); // recv woken by close
                    thread::sleep(Duration::from_millis(30));
                    tx3.send(3).unwrap(); // select_timeout
                    thread::sleep(Duration::from_millis(30));
                    tx4.send(4).unwrap(); // Select::ready
                    thread::sleep(Duration::from_millis(30));
                    assert_eq!(drain_rx.recv(), Ok(5)); // select! send arm
                });
                let r = goro::test::run(move || {
                    let start = now();
                    let (mine_tx, mine) = bounded::<u8>(0);
                    let a = rx1.recv_timeout(HOUR).unwrap();
                    assert_eq!(now(), start);
                    assert!(rx2.recv_timeout(HOUR).unwrap_err() == RecvTimeoutError::Closed);
                    assert_eq!(now(), start);
                    let mut sel = Select::new();
                    sel.recv(&mine);
                    let i3 = sel.recv(&rx3);
                    let op = sel.select_timeout(HOUR).unwrap();
                    assert_eq!(op.index(), i3);
                    let c = op.recv(&rx3).unwrap();
                    let mut sel = Select::new();
                    sel.recv(&mine);
                    let i4 = sel.recv(&rx4);
                    assert_eq!(sel.ready_timeout(HOUR), Ok(i4));
                    let d = rx4.recv().unwrap();
                    goro::select! {
                        send(drain_tx, 5) -> r => r.unwrap(),
                        recv(mine) -> _ => unreachable!(),
                    }
                    assert_eq!(now(), start);
                    // All waits over: the clock moves again.
                    goro::sleep(SEC);
                    let moved = now() - start;
                    // A select on the bubble's channel and never(): durable,
                    // times out in virtual time.
                    let mut sel = Select::new();
                    let nothing = never::<u8>();
                    sel.recv(&mine);
                    sel.recv(&nothing);
                    assert!(sel.select_timeout(HOUR).is_err());
                    drop(mine_tx);
                    (a + c + d, moved, now() - start)
                });
                feeder.join().unwrap();
                // And a deadlock is still reported (count not negative: an
                // underflow would read as "some goroutine is outside").
                let dl = catch_unwind(|| goro::test::run(|| never::<u8>().recv()))
                    .map(|_| ())
                    .map_err(panic_message);
                (r, dl)
            });
            assert_eq!(r.0, (8, SEC, SEC + HOUR));
            assert!(r.1.unwrap_err().contains("deadlock"));
        },
    );
}

/// `Select::remove`d outside channel: what remains is the bubble's and
/// durable, so the clock jumps.
#[test]
fn probe_removed_outside_op_is_durable() {
    isolated("probe_removed_outside_op_is_durable", || {
        let r = within(LIMIT, "removed outside op", || {
            let (_keep, outside) = bounded::<u8>(0);
            goro::test::run(move || {
                let start = now();
                let (tx, rx) = bounded::<u8>(0);
                goro::go(move || {
                    goro::sleep(HOUR);
                    tx.send(1).unwrap();
                });
                let mut sel = Select::new();
                let o = sel.recv(&outside);
                sel.recv(&rx);
                sel.remove(o);
                let op = sel.select();
                let v = op.recv(&rx).unwrap();
                (v, now() - start)
            })
        });
        assert_eq!(r, (1, HOUR));
    });
}

/// Time channels: `after` made inside fires in virtual time; `after` made
/// outside (real time, global runtime) keeps the clock still and fires in
/// real time.
#[test]
fn probe_time_channels_inside_and_outside() {
    isolated("probe_time_channels_inside_and_outside", || {
        let r = within(LIMIT, "time channels", || {
            let outside = goro::chan::after(Duration::from_millis(50));
            goro::test::run(move || {
                let start = now();
                let sleeper = goro::go(|| goro::sleep(HOUR));
                outside.recv().unwrap();
                let at_outside = now() - start;
                goro::chan::after(SEC).recv().unwrap();
                let ticks = goro::chan::tick(SEC);
                ticks.recv().unwrap();
                sleeper.join().unwrap();
                (at_outside, now() - start)
            })
        });
        assert_eq!(r, (Duration::ZERO, HOUR));
    });
}

/// A goroutine parked on an outside channel when the bubble's closure
/// panics: the runtime is dropped, the parked goroutine unwound (its
/// `Away` guard dropped), no bubble stays alive, and a later send on the
/// channel finds nobody.
#[test]
fn probe_panic_while_a_goroutine_is_away() {
    isolated("probe_panic_while_a_goroutine_is_away", || {
        let r = within(LIMIT, "panic while away", || {
            let (tx, rx) = bounded::<u8>(0);
            let parked = Arc::new(AtomicBool::new(false));
            let p = parked.clone();
            let r = catch_unwind(move || {
                goro::test::run(move || {
                    goro::go(move || {
                        p.store(true, Ordering::SeqCst);
                        let _ = rx.recv();
                    });
                    goro::yield_now();
                    panic!("boom");
                })
            })
            .map_err(panic_message);
            let alive_after = Home::bubbles_alive();
            let send = tx.send_timeout(1, Duration::from_millis(20)).is_err();
            (
                r.unwrap_err(),
                parked.load(Ordering::SeqCst),
                alive_after,
                send,
            )
        });
        assert!(r.0.contains("boom"), "{}", r.0);
        assert!(r.1);
        assert!(!r.2, "a bubble stays counted alive");
        assert!(r.3);
    });
}

/// Two bubbles at once on two threads, one feeding the other through a
/// channel made outside both (away in each: the waiting bubble's clock
/// stays still, the feeder's jumps). And bubbles made and dropped
/// concurrently keep `LIVE` and serials straight. (A channel made in one
/// bubble and used by the other is misuse, as in Go, where it panics: goro
/// counts the sender of the channel's own bubble durable and may report a
/// deadlock while the other bubble is about to receive; not tested here.)
#[test]
fn probe_two_bubbles_share_a_channel_and_churn() {
    isolated("probe_two_bubbles_share_a_channel_and_churn", || {
        let r = within(LIMIT, "two bubbles", || {
            let (tx, rx) = bounded::<u8>(0); // outside both
            let a = thread::spawn(move || {
                goro::test::run(move || {
                    let start = now();
                    goro::sleep(HOUR);
                    tx.send(9).unwrap(); // away in A, until B receives
                    now() - start
                })
            });
            let b = thread::spawn(move || {
                goro::test::run(move || {
                    let start = now();
                    let sleeper = goro::go(|| goro::sleep(SEC));
                    let v = rx.recv().unwrap();
                    let at = now() - start;
                    sleeper.join().unwrap();
                    (v, at)
                })
            });
            let churn: Vec<_> = (0..2)
                .map(|_| {
                    thread::spawn(|| {
                        let mut homes = Vec::new();
                        for _ in 0..200 {
                            let h = goro::test::run(Home::current);
                            assert_ne!(h, Home::NONE);
                            assert_ne!(h, Home::ANY);
                            assert_ne!(h, Home::MIXED);
                            homes.push(h);
                        }
                        homes
                    })
                })
                .collect();
            let ra = a.join().unwrap();
            let rb = b.join().unwrap();
            let mut all: Vec<_> = churn.into_iter().flat_map(|h| h.join().unwrap()).collect();
            let n = all.len();
            all.sort_by_key(|h| format!("{h:?}"));
            all.dedup();
            (
                ra,
                rb,
                n == all.len(),
                Home::bubbles_alive(),
                Home::current(),
            )
        });
        assert_eq!(r.0, HOUR);
        assert_eq!(r.1, (9, Duration::ZERO));
        assert!(r.2, "serials repeat");
        assert!(!r.3);
        assert_eq!(r.4, Home::NONE);
    });
}

/// A channel made in a bubble that outlives it, then used in a later
/// bubble, fed by a plain thread: away there (not its bubble).
#[test]
fn probe_channel_outlives_its_bubble() {
    isolated("probe_channel_outlives_its_bubble", || {
        let r = within(LIMIT, "outliving channel", || {
            let (tx, rx) = goro::test::run(|| bounded::<u8>(0));
            let feeder = thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                tx.send(3).unwrap();
            });
            let r = goro::test::run(move || {
                let start = now();
                let s = goro::go(|| goro::sleep(HOUR));
                let v = rx.recv().unwrap();
                let at = now() - start;
                s.join().unwrap();
                (v, at)
            });
            feeder.join().unwrap();
            r
        });
        assert_eq!(r, (3, Duration::ZERO));
    });
}

/// The deadlock report still names the user's line for a wait that went
/// through the out-of-line `wait_in_bubbles` (`#[track_caller]` chain).
#[test]
fn probe_deadlock_report_names_the_call_site() {
    isolated("probe_deadlock_report_names_the_call_site", || {
        let r = within(LIMIT, "call site", || {
            catch_unwind(|| {
                goro::test::run(|| {
                    let (_tx, rx) = bounded::<u8>(0);
                    let (_tx2, rx2) = bounded::<u8>(0);
                    goro::go(move || {
                        goro::select! { recv(rx2) -> _ => () }; // SELECT LINE
                    });
                    let _ = rx.recv(); // RECV LINE
                })
            })
            .map_err(panic_message)
            .unwrap_err()
        });
        let src = include_str!("break_home.rs");
        let line_of = |tag: &str| {
            src.lines()
                .position(|l| l.contains(tag) && !l.contains("line_of("))
                .unwrap()
                + 1
        };
        let recv_at = format!("break_home.rs:{}:", line_of("// RECV LINE"));
        let select_at = format!("break_home.rs:{}:", line_of("// SELECT LINE"));
        assert!(r.contains(&recv_at), "{recv_at} not in {r}");
        assert!(r.contains(&select_at), "{select_at} not in {r}");
    });
}

/// A plain thread feeds a bubble goroutine through a channel made outside,
/// many times, while the bubble's other goroutine sleeps in steps: no false
/// deadlock, and the clock stands still during each outside wait.
#[test]
fn probe_plain_thread_pingpong_with_sleepers() {
    isolated("probe_plain_thread_pingpong_with_sleepers", || {
        let r = within(LIMIT, "pingpong", || {
            let (tx, rx) = bounded::<u32>(0);
            let (back_tx, back_rx) = bounded::<u32>(0);
            let feeder = thread::spawn(move || {
                for i in 0..200 {
                    tx.send(i).unwrap();
                    assert_eq!(back_rx.recv(), Ok(i));
                }
            });
            let r = goro::test::run(move || {
                let start = now();
                let sleeper = goro::go(move || {
                    for _ in 0..1000 {
                        goro::sleep(MS);
                    }
                });
                let mut sum = 0;
                for _ in 0..200 {
                    let before = now();
                    let v = rx.recv().unwrap();
                    // (The sleeper may have run in between, not during.)
                    assert!(now() - before <= MS);
                    back_tx.send(v).unwrap();
                    sum += v;
                }
                sleeper.join().unwrap();
                (sum, now() - start >= 1000 * MS)
            });
            feeder.join().unwrap();
            r
        });
        assert_eq!(r, (199 * 200 / 2, true));
    });
}

/// A channel made inside a `goro::blocking` call of a bubble goroutine
/// (a pool thread, whose `now()` reads the bubble's clock: `LendClock`)
/// gets `Home::NONE`, so the bubble's own goroutines, waiting on it for
/// each other, count as outside and the clock never moves again: the
/// bubble hung. Go has no such pool; what Go does tell is the goroutine
/// that made the channel, and this call is made on behalf of a bubble
/// goroutine. Fixed: `Home::current` falls back on the lent bubble (as
/// `timer::now` does through `LENT`).
#[test]
fn a_channel_made_in_a_blocking_call_of_the_bubble_is_the_bubbles() {
    isolated(
        "a_channel_made_in_a_blocking_call_of_the_bubble_is_the_bubbles",
        || {
            let r = within(LIMIT, "channel made in blocking", || {
                goro::test::run(|| {
                    let start = now();
                    let (tx, rx) = goro::blocking(|| bounded::<u8>(0));
                    goro::go(move || {
                        goro::sleep(SEC);
                        tx.send(1).unwrap();
                    });
                    (rx.recv().unwrap(), now() - start)
                })
            });
            assert_eq!(r, (1, SEC));
        },
    );
}

/// `goro::test::wait` does not return while a goroutine waits on an
/// outside channel (not durable), only once it has its value and blocks
/// durably, as Go's `synctest.Wait`.
#[test]
fn probe_test_wait_waits_for_the_away_goroutine() {
    isolated("probe_test_wait_waits_for_the_away_goroutine", || {
        let r = within(LIMIT, "test::wait and away", || {
            let (tx, rx) = bounded::<u8>(0);
            let feeder = thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                tx.send(5).unwrap();
            });
            let r = goro::test::run(move || {
                let got = Arc::new(std::sync::atomic::AtomicU8::new(0));
                let g = got.clone();
                let (_keep, mine) = bounded::<u8>(0);
                let h = goro::go(move || {
                    g.store(rx.recv().unwrap(), Ordering::SeqCst);
                    let _ = mine.recv(); // durable, until `_keep` drops
                });
                goro::test::wait();
                let v = got.load(Ordering::SeqCst);
                drop(_keep);
                h.join().unwrap();
                v
            });
            feeder.join().unwrap();
            r
        });
        assert_eq!(r, 5);
    });
}
