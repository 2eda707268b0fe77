//! Breaking issue 19 from safe code: stack traces in dumps
//! (`dump_with_backtraces`) and virtual-time bubbles (`goro::test::run`).
//!
//! Cases that crashed or hung, or may, run in a child process
//! (`common::isolated`). Time bounds are generous hang guards only; the
//! virtual times asserted are exact (a bubble's clock moves only by jumps).

mod common;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{fail, isolated, panic_message, within};
use goro::chan::{RecvTimeoutError, bounded, unbounded};
use goro::time::now;

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);

/// Waits (real time, generous) until `rt`'s plain dump shows `n` goroutines
/// parked on `what`.
fn until_parked(rt: &goro::Runtime, what: &str, n: usize) {
    let start = Instant::now();
    loop {
        let d = rt.dump();
        if d.matches(what).count() >= n {
            return;
        }
        if start.elapsed() > Duration::from_secs(60) {
            panic!("never saw {n} x {what:?}:\n{d}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// Stack traces

#[inline(never)]
fn parked_in_frame_b19(rx: goro::chan::Receiver<u64>) -> u64 {
    let v = rx.recv().unwrap();
    std::hint::black_box(v)
}

/// Several threads dump one runtime with traces at once: each dump must
/// trace every parked goroutine (none is busy: every worker is idle), and
/// the goroutines still get each value once.
#[test]
fn concurrent_trace_dumps_each_trace_every_parked_goroutine() {
    const N: usize = 64;
    const DUMPERS: usize = 4;
    const ROUNDS: usize = 8;
    let rt = Arc::new(goro::Runtime::builder().workers(2).build().unwrap());
    let mut txs = Vec::new();
    let mut hs = Vec::new();
    for _ in 0..N {
        let (tx, rx) = bounded::<u64>(0);
        txs.push(tx);
        hs.push(rt.go(move || parked_in_frame_b19(rx)));
    }
    until_parked(&rt, "[chan receive, ", N);
    let missing = Arc::new(AtomicUsize::new(0));
    let slow = Arc::new(AtomicUsize::new(0));
    let dumpers: Vec<_> = (0..DUMPERS)
        .map(|_| {
            let (rt, missing, slow) = (rt.clone(), missing.clone(), slow.clone());
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let t = Instant::now();
                    let d = rt.dump_with_backtraces();
                    if t.elapsed() >= Duration::from_millis(900) {
                        slow.fetch_add(1, Ordering::Relaxed);
                    }
                    let traced = d.matches("parked_in_frame_b19").count();
                    if traced < N {
                        missing.fetch_add(N - traced, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for d in dumpers {
        d.join().unwrap();
    }
    eprintln!(
        "concurrent dumps: {} traces missing, {} dumps took the patience",
        missing.load(Ordering::Relaxed),
        slow.load(Ordering::Relaxed)
    );
    for (i, tx) in txs.iter().enumerate() {
        tx.send(i as u64).unwrap();
    }
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..N as u64).sum::<u64>());
    // Before the fix, 945-1660 of the 2,048 traces were missing. A narrow
    // window is left (one trace of the 2,048, in one debug run of six under
    // load; none seen in release): a dump tolerates it, this checks that it
    // stays narrow (at most 10 of 2,048).
    assert!(
        missing.load(Ordering::Relaxed) <= N * DUMPERS * ROUNDS / 200,
        "{} traces missing from concurrent dumps ({} of {} dumps took the 1 s patience)",
        missing.load(Ordering::Relaxed),
        slow.load(Ordering::Relaxed),
        DUMPERS * ROUNDS
    );
}

/// Two dumps with traces, one right after the other, from one thread: the
/// second finds the goroutine that answered the first still on its worker
/// (it has handed its trace over but not yet parked again), and says it is
/// "running on worker N", with no trace, though it never stopped waiting
/// on its channel.
#[test]
fn back_to_back_trace_dumps_show_a_parked_goroutine_as_parked() {
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let h = rt.go(move || parked_in_frame_b19(rx));
    until_parked(&rt, "[chan receive, ", 1);
    let mut wrong = 0;
    let mut example = String::new();
    for _ in 0..200 {
        let d = rt.dump_with_backtraces();
        if !d.contains("[chan receive, ") || !d.contains("parked_in_frame_b19") {
            wrong += 1;
            example = d;
        }
    }
    tx.send(1).unwrap();
    assert_eq!(h.join().unwrap(), 1);
    assert_eq!(
        wrong, 0,
        "{wrong} of 200 dumps were wrong, e.g.:\n{example}"
    );
}

/// A dump with traces from inside a goroutine of a one-worker runtime: the
/// dumper parks while the others, on its own worker, answer.
#[test]
fn a_trace_dump_from_inside_a_goroutine_of_a_one_worker_runtime() {
    // In a child: `goro::dump_with_backtraces` claims the goroutines of
    // every runtime of the process, other tests' bubbles too (see
    // `trace_dumps_never_let_a_bubble_move_its_clock_past_a_woken_goroutine`).
    isolated(
        "a_trace_dump_from_inside_a_goroutine_of_a_one_worker_runtime",
        || {
            const N: usize = 32;
            let rt = goro::Runtime::builder().workers(1).build().unwrap();
            let (sum, traced, took) = rt.run(|| {
                let mut txs = Vec::new();
                let mut hs = Vec::new();
                for _ in 0..N {
                    let (tx, rx) = bounded::<u64>(0);
                    txs.push(tx);
                    hs.push(goro::go(move || parked_in_frame_b19(rx)));
                }
                goro::yield_now();
                goro::sleep(Duration::from_millis(5));
                let t = Instant::now();
                let d = goro::dump_with_backtraces();
                let took = t.elapsed();
                let traced = d.matches("parked_in_frame_b19").count();
                for (i, tx) in txs.iter().enumerate() {
                    tx.send(i as u64 + 1).unwrap();
                }
                let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
                (sum, traced, took)
            });
            assert_eq!(sum, (1..=N as u64).sum::<u64>());
            assert!(traced >= N, "only {traced} of {N} traced (took {took:?})");
        },
    );
}

/// One goroutine traced thousands of times while it is parked, then woken:
/// it returns once, with its value.
#[test]
fn a_goroutine_traced_thousands_of_times_wakes_once() {
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let returns = Arc::new(AtomicUsize::new(0));
    let r = returns.clone();
    let h = rt.go(move || {
        let mut got = 0;
        // Counts every return from the receive: only the real one.
        while let Ok(v) = rx.recv() {
            r.fetch_add(1, Ordering::SeqCst);
            got += v;
        }
        got
    });
    for _ in 0..2000 {
        until_parked(&rt, "[chan receive, ", 1);
        let d = rt.dump_with_backtraces();
        assert!(!d.contains("(no stack trace"), "{d}");
    }
    assert_eq!(returns.load(Ordering::SeqCst), 0);
    tx.send(5).unwrap();
    tx.send(6).unwrap();
    drop(tx);
    assert_eq!(h.join().unwrap(), 11);
    assert_eq!(returns.load(Ordering::SeqCst), 2);
}

/// Traces taken while goroutines wait in every kind of park: mutex,
/// wait group, select! with a timer, sleep, join, blocking (lent), scope
/// owner, condvar; each wakes exactly once with the right result.
#[test]
fn traces_across_every_kind_of_wait_lose_and_double_nothing() {
    let rt = Arc::new(goro::Runtime::builder().workers(2).build().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let dumper = {
        let (rt, stop) = (rt.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Acquire) {
                let _ = rt.dump_with_backtraces();
                n += 1;
            }
            n
        })
    };
    let total = rt.run(|| {
        const ROUNDS: u64 = 200;
        let mutex = Arc::new(goro::sync::Mutex::new(0u64));
        let wg = goro::sync::WaitGroup::new();
        let pair = Arc::new((goro::sync::Mutex::new(0u64), goro::sync::Condvar::new()));
        let (tx, rx) = bounded::<u64>(0);
        let mut hs = Vec::new();
        // Mutex contention.
        for _ in 0..4 {
            let m = mutex.clone();
            hs.push(goro::go(move || {
                for _ in 0..ROUNDS {
                    let mut g = m.lock();
                    *g += 1;
                    goro::yield_now();
                    drop(g);
                }
                0u64
            }));
        }
        // select! with a timer racing a channel.
        {
            let rx = rx.clone();
            hs.push(goro::go(move || {
                let mut got = 0;
                loop {
                    goro::select! {
                        recv(rx) -> v => match v {
                            Ok(v) => got += v,
                            Err(_) => break,
                        },
                        recv(goro::chan::after(Duration::from_micros(50))) -> _ => {}
                    }
                }
                got
            }));
        }
        // Sleeps and joins.
        for i in 0..4u64 {
            hs.push(goro::go(move || {
                let mut acc = 0;
                for j in 0..ROUNDS / 4 {
                    goro::sleep(Duration::from_micros(20));
                    acc += goro::go(move || i + j).join().unwrap();
                }
                acc
            }));
        }
        // blocking (lent) and scope owners.
        hs.push(goro::go(|| {
            let mut acc = 0u64;
            for i in 0..ROUNDS / 4 {
                let local = [i; 4];
                acc += goro::blocking(|| {
                    std::thread::sleep(Duration::from_micros(100));
                    local.iter().sum::<u64>()
                });
                let v = &local;
                acc += goro::scope(|s| {
                    let h = s.go(move || {
                        goro::sleep(Duration::from_micros(10));
                        v[0]
                    });
                    h.join().unwrap()
                });
            }
            acc
        }));
        // Condvar and WaitGroup.
        for _ in 0..2 {
            let p = pair.clone();
            let wg = wg.clone();
            wg.add(1);
            hs.push(goro::go(move || {
                let (m, c) = &*p;
                let mut g = m.lock();
                while *g < ROUNDS {
                    g = c.wait(g);
                }
                drop(g);
                wg.done();
                0
            }));
        }
        for i in 0..ROUNDS {
            tx.send(i).unwrap();
            let (m, c) = &*pair;
            *m.lock() += 1;
            c.notify_all();
        }
        drop(tx);
        wg.wait();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        sum + *mutex.lock()
    });
    stop.store(true, Ordering::Release);
    let dumps = dumper.join().unwrap();
    let expect_select: u64 = (0..200).sum();
    let expect_join: u64 = (0..4u64).map(|i| (0..50).map(|j| i + j).sum::<u64>()).sum();
    let expect_blocking: u64 = (0..50u64).map(|i| 4 * i + i).sum();
    assert_eq!(
        total,
        expect_select + expect_join + expect_blocking + 4 * 200,
        "after {dumps} dumps"
    );
}

/// A dump with traces of a goroutine parked on a socket read.
#[test]
fn a_trace_of_a_goroutine_parked_on_a_socket_read() {
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (ack, acks) = std::sync::mpsc::channel::<usize>();
    let h = rt.go(move || {
        let s = goro::net::TcpStream::connect(addr).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    let _ = ack.send(got.len());
                }
                Err(e) => panic!("{e}"),
            }
        }
        got
    });
    let (mut peer, _) = listener.accept().unwrap();
    for i in 0..50u8 {
        // Each byte read before the next dump: the goroutine's next park
        // is a new one.
        if i > 0 {
            while acks.recv().unwrap() < usize::from(i) {}
        }
        until_parked(&rt, "[IO wait, ", 1);
        let d = rt.dump_with_backtraces();
        assert!(!d.contains("(no stack trace"), "{d}");
        peer.write_all(&[i]).unwrap();
    }
    drop(peer);
    assert_eq!(h.join().unwrap(), (0..50u8).collect::<Vec<_>>());
}

/// Dumps with traces while runtimes shut down: goroutines being traced are
/// unwound, some of them parked in destructors that wait. No crash, no
/// hang, every destructor runs once.
#[test]
fn trace_dumps_racing_runtime_drops() {
    isolated("trace_dumps_racing_runtime_drops", || {
        within(Duration::from_secs(100), "drops with dumps", || {
            let stop = Arc::new(AtomicBool::new(false));
            let dumper = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Acquire) {
                        let _ = goro::dump_with_backtraces();
                        n += 1;
                    }
                    n
                })
            };
            let drops = Arc::new(AtomicUsize::new(0));
            for round in 0..30 {
                let migrating = round % 3 == 2;
                let rt = common::builder(migrating).workers(2).build().unwrap();
                let (tx, rx) = unbounded::<u64>();
                for _ in 0..20 {
                    let rx = rx.clone();
                    let drops = drops.clone();
                    drop(rt.go(move || {
                        struct WaitsOnDrop(goro::chan::Receiver<u64>, Arc<AtomicUsize>);
                        impl Drop for WaitsOnDrop {
                            fn drop(&mut self) {
                                // Parks while its goroutine unwinds.
                                let _ = self.0.recv_timeout(Duration::from_millis(2));
                                self.1.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        let _g = WaitsOnDrop(rx.clone(), drops);
                        let _ = rx.recv();
                    }));
                }
                until_parked(&rt, "[chan receive, ", 20);
                drop(rt);
                drop(tx);
            }
            stop.store(true, Ordering::Release);
            let n = dumper.join().unwrap();
            let d = drops.load(Ordering::SeqCst);
            if d != 30 * 20 {
                fail(&format!("{d} destructors ran, not 600 ({n} dumps)"));
            }
        });
    });
}

/// Traces in the migrating mode, during ping-pong traffic.
#[test]
fn traces_in_the_migrating_mode_lose_and_double_nothing() {
    isolated(
        "traces_in_the_migrating_mode_lose_and_double_nothing",
        || {
            within(Duration::from_secs(100), "migrating traffic", || {
                let rt = Arc::new(common::builder(true).workers(2).build().unwrap());
                let stop = Arc::new(AtomicBool::new(false));
                let dumper = {
                    let (rt, stop) = (rt.clone(), stop.clone());
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::Acquire) {
                            let _ = rt.dump_with_backtraces();
                        }
                    })
                };
                const PAIRS: u64 = 16;
                const MSGS: u64 = 2000;
                let sum = rt.run(|| {
                    let hs: Vec<_> = (0..PAIRS)
                        .map(|p| {
                            goro::go(move || {
                                let (tx, rx) = bounded::<u64>(0);
                                let (btx, brx) = bounded::<u64>(0);
                                let echo = goro::go(move || {
                                    for v in rx.iter() {
                                        btx.send(v + 1).unwrap();
                                    }
                                });
                                let mut acc = 0;
                                for i in 0..MSGS {
                                    tx.send(p * MSGS + i).unwrap();
                                    acc += brx.recv().unwrap();
                                }
                                drop(tx);
                                echo.join().unwrap();
                                acc
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                });
                stop.store(true, Ordering::Release);
                dumper.join().unwrap();
                let n = PAIRS * MSGS;
                if sum != (0..n).sum::<u64>() + n {
                    fail(&format!("sum {sum}"));
                }
            });
        },
    );
}

/// A goroutine parked in a destructor run by its own panic, traced.
#[test]
fn a_trace_of_a_goroutine_parked_in_a_destructor_during_its_panic() {
    isolated(
        "a_trace_of_a_goroutine_parked_in_a_destructor_during_its_panic",
        || {
            let rt = goro::Runtime::builder().workers(1).build().unwrap();
            let (tx, rx) = bounded::<u64>(0);
            let got = Arc::new(AtomicU64::new(0));
            let g = got.clone();
            let h = rt.go(move || {
                struct Guard(goro::chan::Receiver<u64>, Arc<AtomicU64>);
                impl Drop for Guard {
                    fn drop(&mut self) {
                        let v = parked_in_frame_b19(self.0.clone());
                        self.1.store(v, Ordering::SeqCst);
                    }
                }
                let _g = Guard(rx, g);
                panic!("on purpose");
            });
            for _ in 0..20 {
                until_parked(&rt, "[chan receive, ", 1);
                let d = rt.dump_with_backtraces();
                if !d.contains("parked_in_frame_b19") {
                    fail(&format!("no trace:\n{d}"));
                }
            }
            tx.send(9).unwrap();
            let e = h.join().unwrap_err();
            assert!(e.is_panic());
            assert_eq!(got.load(Ordering::SeqCst), 9);
        },
    );
}

#[inline(never)]
fn park_inside_coroutine_b19(rx: &goro::chan::Receiver<u64>) -> u64 {
    std::hint::black_box(rx.recv().unwrap())
}

/// A goroutine parked inside a nested `goro::fiber::Coroutine`, traced:
/// the capture walks from the nested stack through the goroutine's.
#[test]
fn a_trace_of_a_goroutine_parked_inside_a_nested_coroutine() {
    isolated(
        "a_trace_of_a_goroutine_parked_inside_a_nested_coroutine",
        || {
            let rt = goro::Runtime::builder().workers(1).build().unwrap();
            let (tx, rx) = bounded::<u64>(0);
            let h = rt.go(move || {
                let mut co = goro::fiber::Coroutine::<(), u64, u64>::new(move |y, ()| {
                    let a = park_inside_coroutine_b19(&rx);
                    y.suspend(a);
                    park_inside_coroutine_b19(&rx)
                });
                let mut acc = 0;
                loop {
                    match co.resume(()) {
                        goro::fiber::CoroutineResult::Yield(v) => acc += v,
                        goro::fiber::CoroutineResult::Return(v) => break acc + v,
                    }
                }
            });
            for v in [3u64, 4] {
                for _ in 0..20 {
                    until_parked(&rt, "[chan receive, ", 1);
                    let d = rt.dump_with_backtraces();
                    if !d.contains("park_inside_coroutine_b19") {
                        fail(&format!("no trace:\n{d}"));
                    }
                }
                tx.send(v).unwrap();
            }
            assert_eq!(h.join().unwrap(), 7);
        },
    );
}

/// A trace of a goroutine parked in deep recursion, with a large stack.
#[inline(never)]
fn recurse_then_park_b19(depth: u32, rx: &goro::chan::Receiver<u64>) -> u64 {
    let pad = std::hint::black_box([depth as u8; 256]);
    if depth == 0 {
        return rx.recv().unwrap() + u64::from(pad[0]);
    }
    recurse_then_park_b19(depth - 1, rx) + u64::from(pad[1])
}

#[test]
fn a_trace_of_a_very_deep_stack() {
    isolated("a_trace_of_a_very_deep_stack", || {
        let rt = goro::Runtime::builder().workers(1).build().unwrap();
        let (tx, rx) = bounded::<u64>(0);
        let h = {
            let _in = rt.enter();
            goro::Builder::new()
                .stack_size(64 << 20)
                .go(move || recurse_then_park_b19(20_000, &rx))
                .unwrap()
        };
        until_parked(&rt, "[chan receive, ", 1);
        let t = Instant::now();
        let d = rt.dump_with_backtraces();
        eprintln!(
            "deep trace: {} lines in {:?}",
            d.lines().count(),
            t.elapsed()
        );
        if !d.contains("recurse_then_park_b19") {
            fail(&format!("no trace:\n{}", &d[..d.len().min(4000)]));
        }
        tx.send(1).unwrap();
        let expect = 1 + (1..=20_000u32).map(|d| u64::from(d as u8)).sum::<u64>();
        assert_eq!(h.join().unwrap(), expect);
    });
}

/// Recurses until about `margin` bytes of a `size`-byte stack are left,
/// then parks on `rx`.
#[inline(never)]
fn fill_stack_then_park_b19(
    top: usize,
    size: usize,
    margin: usize,
    rx: &goro::chan::Receiver<u64>,
) -> u64 {
    let pad = std::hint::black_box([1u8; 512]);
    let here = std::hint::black_box(&pad) as *const _ as usize;
    if top - here + margin >= size {
        return rx.recv().unwrap();
    }
    fill_stack_then_park_b19(top, size, margin, rx) + u64::from(pad[7] - 1)
}

/// A goroutine with little stack left where it parks works: it is woken
/// and returns. Asked for its trace, it captures a backtrace on that
/// stack, which needs more room than the park did.
fn small_stack_case(margin: usize, trace: bool) {
    const SIZE: usize = 64 * 1024;
    let rt = goro::Runtime::builder().workers(1).build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let h = {
        let _in = rt.enter();
        goro::Builder::new()
            .stack_size(SIZE)
            .go(move || {
                let anchor = std::hint::black_box([0u8; 8]);
                let top = std::hint::black_box(&anchor) as *const _ as usize;
                fill_stack_then_park_b19(top, SIZE, margin, &rx)
            })
            .unwrap()
    };
    until_parked(&rt, "[chan receive, ", 1);
    eprintln!("parked");
    if trace {
        let d = rt.dump_with_backtraces();
        eprintln!("traced: {}", d.contains("fill_stack_then_park_b19"));
    }
    tx.send(5).unwrap();
    assert_eq!(h.join().unwrap(), 5);
}

/// Without a trace, parking with 4 KiB of a 64 KiB stack left is fine.
#[test]
fn a_goroutine_parked_with_little_stack_left_runs_fine() {
    isolated(
        "a_goroutine_parked_with_little_stack_left_runs_fine",
        || {
            small_stack_case(4096, false);
        },
    );
}

/// The same goroutine, asked for its trace: the capture
/// (`Backtrace::force_capture` in `traceback::capture`, on the goroutine's
/// stack) runs past the guard page and the whole process aborts ("coroutine
/// overflowed its stack of 64 KiB"): a diagnostic dump kills a program
/// that was running fine.
#[test]
fn a_trace_of_a_goroutine_with_little_stack_left_does_not_abort() {
    isolated(
        "a_trace_of_a_goroutine_with_little_stack_left_does_not_abort",
        || {
            small_stack_case(4096, true);
        },
    );
}

// ---------------------------------------------------------------------------
// Virtual time

/// A socket read timeout inside a bubble. Outside a bubble the read fails
/// with `TimedOut` after 100 ms. Inside, the goroutine waits on a socket,
/// so it keeps the bubble's clock still (`bubble::Outside`); but the
/// timeout's timer is on that clock (`park_deadline_on` -> `add_timer` in
/// the bubble's virtual heap, at the *real* deadline `Instant::now() +
/// 100 ms` that `goro-net` computed): the clock never gets there and the
/// read never returns.
#[test]
#[ignore = "BY DESIGN, as in Go: a socket wait keeps the bubble's clock still, so its timeout (on that clock) cannot pass while it waits (test::run docs)"]
fn a_socket_read_timeout_fires_in_a_bubble() {
    isolated("a_socket_read_timeout_fires_in_a_bubble", || {
        within(
            Duration::from_secs(30),
            "read with a 100 ms timeout",
            || {
                goro::test::run(|| {
                    let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    let addr = listener.local_addr().unwrap();
                    let client = goro::net::TcpStream::connect(addr).unwrap();
                    let (_server, _) = listener.accept().unwrap();
                    client
                        .set_read_timeout(Some(Duration::from_millis(100)))
                        .unwrap();
                    let mut buf = [0u8; 8];
                    let err = client.read(&mut buf).unwrap_err();
                    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
                });
            },
        );
    });
}

/// `goro::test::run` inside a bubble. The outer bubble's goroutine waits
/// (a join, in `Runtime::run`) for the inner bubble's runtime, which is
/// outside the outer bubble: the outer one sees all its goroutines
/// blocked, no timer, and reports a deadlock that is not one. Either
/// nesting works (Go: a bubble inside a bubble is not allowed, and says
/// so), or it panics naming the misuse; never a false deadlock.
#[test]
fn a_nested_bubble_is_not_reported_as_a_deadlock() {
    isolated("a_nested_bubble_is_not_reported_as_a_deadlock", || {
        let r = within(Duration::from_secs(30), "nested bubble", || {
            catch_unwind(|| {
                goro::test::run(|| {
                    goro::test::run(|| {
                        let start = now();
                        goro::sleep(HOUR);
                        now() - start
                    })
                })
            })
            .map_err(panic_message)
        });
        match r {
            Ok(d) => assert_eq!(d, HOUR),
            Err(msg) => assert!(!msg.contains("deadlock"), "a false deadlock report:\n{msg}"),
        }
    });
}

/// A bubble's goroutine joins a goroutine of another runtime (not the
/// bubble's) that takes 50 ms of real time. As with a `blocking` call,
/// the wake-up comes from outside the bubble; the bubble reports a
/// deadlock instead of waiting (and with a timer pending, it would jump
/// the clock meanwhile).
#[test]
fn joining_another_runtimes_goroutine_from_a_bubble() {
    isolated("joining_another_runtimes_goroutine_from_a_bubble", || {
        let other = Arc::new(goro::Runtime::builder().workers(1).build().unwrap());
        let o = other.clone();
        let r = within(Duration::from_secs(30), "join across runtimes", move || {
            catch_unwind(AssertUnwindSafe(|| {
                goro::test::run(move || {
                    let start = now();
                    let v = o
                        .go(|| {
                            std::thread::sleep(Duration::from_millis(50));
                            5
                        })
                        .join()
                        .unwrap();
                    (v, now() - start)
                })
            }))
        });
        match r {
            Ok((v, d)) => {
                assert_eq!(v, 5);
                assert_eq!(d, Duration::ZERO);
            }
            Err(p) => panic!("{}", panic_message(p)),
        }
    });
}

/// The clock stands still while any goroutine runs or is runnable: a
/// goroutine that computes and yields reads the same instant throughout,
/// however many timers the others have due.
#[test]
fn the_clock_stands_still_while_a_goroutine_computes_and_yields() {
    let moved = goro::test::run(|| {
        for i in 1..=50u64 {
            goro::go(move || {
                for _ in 0..100 {
                    goro::sleep(Duration::from_millis(i));
                }
            });
        }
        let mut moved = 0;
        for _ in 0..2000 {
            let a = now();
            goro::yield_now();
            let x = std::hint::black_box((0..1000u64).sum::<u64>());
            std::hint::black_box(x);
            goro::yield_now();
            if now() != a {
                moved += 1;
            }
        }
        goro::test::wait();
        // Let the sleepers end.
        goro::sleep(Duration::from_secs(10));
        moved
    });
    assert_eq!(moved, 0);
}

/// Timers whose action is a call (`after_func`, and a `Ticker`'s) wake
/// goroutines that wait on what the call does: no false deadlock, exact
/// times.
#[test]
fn after_func_and_tickers_wake_waiters_at_exact_times() {
    let (times, ticks) = goro::test::run(|| {
        let start = now();
        let (tx, rx) = bounded::<Duration>(0);
        let mut times = Vec::new();
        for k in 1..=5u64 {
            let tx = tx.clone();
            // The call sends from the worker's timer loop (a goroutine,
            // since an unbuffered send may wait).
            let _t = goro::time::after_func(Duration::from_secs(k * 7), move || {
                let tx = tx.clone();
                goro::go(move || tx.send(now() - start).unwrap());
            });
        }
        drop(tx);
        for _ in 0..5 {
            times.push(rx.recv().unwrap());
        }
        let ticker = goro::time::Ticker::new(Duration::from_millis(250));
        let mut ticks = Vec::new();
        for _ in 0..8 {
            ticks.push(ticker.chan().recv().unwrap() - start);
        }
        ticker.stop();
        (times, ticks)
    });
    assert_eq!(
        times,
        (1..=5u64)
            .map(|k| Duration::from_secs(k * 7))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        ticks,
        (1..=8u32)
            .map(|k| Duration::from_secs(35) + Duration::from_millis(250) * k)
            .collect::<Vec<_>>()
    );
}

/// Context chains: a child's deadline later than its parent's ends with
/// the parent; a cancel in the middle ends the grandchildren; times exact.
#[test]
fn context_chains_end_at_exact_virtual_times() {
    use goro::context::{Context, ContextError};
    let (a, b, c) = goro::test::run(|| {
        let start = now();
        let (parent, _pc) = Context::with_timeout(&Context::background(), HOUR);
        let (child, _cc) = Context::with_timeout(&parent, 2 * HOUR);
        let (grand, _gc) = Context::with_cancel(&child);
        let g = grand.clone();
        let h = goro::go(move || {
            let _ = g.done().recv();
            (now() - start, g.err())
        });
        let (other, cancel_other) = Context::with_timeout(&Context::background(), 3 * HOUR);
        let (other_child, _oc) = Context::with_timeout(&other, 4 * HOUR);
        let oc = other_child.clone();
        let h2 = goro::go(move || {
            let _ = oc.done().recv();
            (now() - start, oc.err())
        });
        goro::sleep(HOUR + HOUR / 2);
        cancel_other.cancel();
        let a = h.join().unwrap();
        let b = h2.join().unwrap();
        let _ = child.done().recv();
        (a, b, (now() - start, child.err()))
    });
    assert_eq!(a, (HOUR, Some(ContextError::DeadlineExceeded)));
    assert_eq!(b, (HOUR + HOUR / 2, Some(ContextError::Canceled)));
    assert_eq!(c, (HOUR + HOUR / 2, Some(ContextError::DeadlineExceeded)));
}

/// `select!` over several timers picks the earliest, at its exact time,
/// round after round; `recv_deadline` with deadlines from
/// `goro::time::now()`; `Condvar::wait_timeout`.
#[test]
fn selects_deadlines_and_condvar_timeouts_are_exact() {
    let (picks, deadline_errs, cv) = goro::test::run(|| {
        let start = now();
        let mut picks = Vec::new();
        for round in 0..10u64 {
            let t0 = now();
            let which = goro::select! {
                recv(goro::chan::after(Duration::from_secs(3 + round))) -> _ => 3,
                recv(goro::chan::after(Duration::from_secs(1 + round))) -> _ => 1,
                recv(goro::chan::after(Duration::from_secs(2 + round))) -> _ => 2,
            };
            picks.push((which, now() - t0));
        }
        let (_tx, rx) = bounded::<u8>(0);
        let mut errs = Vec::new();
        for k in 1..=3u64 {
            let d = now() + Duration::from_millis(k * 333);
            let t0 = now();
            let e = rx.recv_deadline(d).unwrap_err();
            errs.push((e, now() - t0, now() == d));
        }
        let pair = (goro::sync::Mutex::new(false), goro::sync::Condvar::new());
        let g = pair.0.lock();
        let t0 = now();
        let (_g, r) = pair.1.wait_timeout(g, Duration::from_secs(90));
        let cv = (r.timed_out(), now() - t0);
        let _ = start;
        (picks, errs, cv)
    });
    assert_eq!(
        picks,
        (0..10u64)
            .map(|r| (1, Duration::from_secs(1 + r)))
            .collect::<Vec<_>>()
    );
    for (k, (e, d, at)) in deadline_errs.into_iter().enumerate() {
        assert_eq!(e, RecvTimeoutError::Timeout);
        assert_eq!(d, Duration::from_millis((k as u64 + 1) * 333));
        assert!(at);
    }
    assert_eq!(cv, (true, Duration::from_secs(90)));
}

/// `wait` does not return while a goroutine is in a `blocking` call (a
/// wake-up from outside), and the clock does not move meanwhile even with
/// a timer pending.
#[test]
fn wait_and_the_clock_wait_for_a_blocking_call() {
    let (flag, t_block, t_after) = goro::test::run(|| {
        let start = now();
        let flag = Arc::new(AtomicUsize::new(0));
        let f = flag.clone();
        let (tx, rx) = bounded::<()>(0);
        goro::go(move || {
            goro::blocking(|| std::thread::sleep(Duration::from_millis(100)));
            f.store(1, Ordering::SeqCst);
            let t = now();
            let _ = rx.recv();
            t
        });
        let sleeper = goro::go(move || {
            goro::sleep(HOUR);
            now()
        });
        goro::test::wait();
        let flag = flag.load(Ordering::SeqCst);
        drop(tx);
        let after = sleeper.join().unwrap();
        (flag, now() - start, after - start)
    });
    assert_eq!(
        flag, 1,
        "wait returned while a goroutine was in a blocking call"
    );
    assert_eq!(t_block, HOUR);
    assert_eq!(t_after, HOUR);
}

/// A goroutine reading a socket (fed by a plain thread 100 ms later) keeps
/// the clock still though another sleeps for an hour.
#[test]
fn a_socket_read_keeps_the_clock_still() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let feeder = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"hi").unwrap();
    });
    let (read_at, n) = goro::test::run(move || {
        let start = now();
        let sleeper = goro::go(|| goro::sleep(HOUR));
        let s = goro::net::TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 8];
        let n = s.read(&mut buf).unwrap();
        let at = now() - start;
        sleeper.join().unwrap();
        (at, n)
    });
    feeder.join().unwrap();
    assert_eq!(n, 2);
    assert_eq!(read_at, Duration::ZERO);
}

/// Panics: the closure's is re-raised with its payload; a child's comes
/// back through its join; a detached child's panic does not take the
/// bubble down; the bubble's runtime is gone after each.
#[test]
fn panics_inside_bubbles() {
    let p = catch_unwind(|| goro::test::run(|| -> u8 { std::panic::panic_any(17u32) }));
    assert_eq!(p.unwrap_err().downcast_ref::<u32>(), Some(&17));
    let v = goro::test::run(|| {
        let e = goro::go(|| -> u8 { panic!("child") }).join().unwrap_err();
        assert!(e.is_panic());
        drop(goro::go(|| panic!("detached child")));
        goro::sleep(SEC);
        3
    });
    assert_eq!(v, 3);
    // A closure that panics while children still sleep: the panic wins,
    // the children are unwound.
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let p = catch_unwind(AssertUnwindSafe(|| {
        goro::test::run(move || {
            for _ in 0..10 {
                let d = d.clone();
                goro::go(move || {
                    struct Count(Arc<AtomicUsize>);
                    impl Drop for Count {
                        fn drop(&mut self) {
                            self.0.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _c = Count(d);
                    goro::sleep(HOUR);
                });
            }
            goro::test::wait();
            panic!("closure");
        })
    }));
    assert_eq!(panic_message(p.unwrap_err()), "closure");
    assert_eq!(dropped.load(Ordering::SeqCst), 10);
}

/// The same program, in many bubbles on many threads at once, reads the
/// same virtual times every run.
fn a_timer_heavy_program() -> Vec<(u64, Duration)> {
    goro::test::run(|| {
        let start = now();
        let (tx, rx) = unbounded::<(u64, Duration)>();
        let mut hs = Vec::new();
        for i in 0..40u64 {
            let tx = tx.clone();
            hs.push(goro::go(move || {
                let mut x = i * 7919 % 97;
                for _ in 0..20 {
                    x = (x * 31 + 17) % 1009;
                    goro::select! {
                        recv(goro::chan::after(Duration::from_millis(x))) -> _ => {}
                        recv(goro::chan::after(Duration::from_millis(x / 2 + 3))) -> _ => {}
                    }
                    tx.send((i, now() - start)).unwrap();
                    goro::yield_now();
                }
            }));
        }
        drop(tx);
        for h in hs {
            h.join().unwrap();
        }
        let mut v: Vec<_> = rx.iter().collect();
        v.sort();
        v
    })
}

#[test]
fn bubbles_on_many_threads_give_the_same_times() {
    let reference = a_timer_heavy_program();
    assert_eq!(reference.len(), 800);
    let threads: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(|| (0..4).map(|_| a_timer_heavy_program()).collect::<Vec<_>>()))
        .collect();
    for t in threads {
        for run in t.join().unwrap() {
            assert!(run == reference, "a run read other times");
        }
    }
}

/// 100k goroutines each sleeping its own time, plus 100k `after_func`
/// timers: each wakes at its exact time; the sum checks every one.
#[test]
fn a_hundred_thousand_sleepers_and_timers_in_a_bubble() {
    const N: u64 = 100_000;
    let (bad, sum, fired) = goro::test::run(|| {
        let start = now();
        let bad = Arc::new(AtomicU64::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicU64::new(0));
        let wg = goro::sync::WaitGroup::new();
        for i in 0..N {
            let (bad, sum, wg) = (bad.clone(), sum.clone(), wg.clone());
            wg.add(1);
            goro::go(move || {
                let d = Duration::from_millis(i % 1000) + Duration::from_secs(i % 7);
                goro::sleep(d);
                if now() - start != d {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
                sum.fetch_add(i, Ordering::Relaxed);
                wg.done();
            });
            let f = fired.clone();
            let _t = goro::time::after_func(Duration::from_micros(i), move || {
                f.fetch_add(1, Ordering::Relaxed);
            });
        }
        wg.wait();
        goro::sleep(SEC);
        (
            bad.load(Ordering::Relaxed),
            sum.load(Ordering::Relaxed),
            fired.load(Ordering::Relaxed),
        )
    });
    assert_eq!(bad, 0);
    assert_eq!(sum, N * (N - 1) / 2);
    assert_eq!(fired, N);
}

/// Deadlocks are reported, not hung on: a stopped timer is no pending
/// timer; a lock cycle; a goroutine waiting on a Ticker-free channel while
/// an `after_func` fires and does nothing.
#[test]
fn deadlocks_with_cancelled_and_spent_timers_are_reported() {
    let cases: Vec<Box<dyn Fn() + Send + Sync>> = vec![
        Box::new(|| {
            goro::test::run(|| {
                let t = goro::time::Timer::new(HOUR);
                t.stop();
                let _ = t.chan().recv();
            })
        }),
        Box::new(|| {
            goro::test::run(|| {
                let _t = goro::time::after_func(SEC, || {});
                let (_tx, rx) = bounded::<u8>(0);
                let _ = rx.recv();
            })
        }),
        Box::new(|| {
            goro::test::run(|| {
                let a = Arc::new(goro::sync::Mutex::new(()));
                let b = Arc::new(goro::sync::Mutex::new(()));
                let (a2, b2) = (a.clone(), b.clone());
                let h = goro::go(move || {
                    let _gb = b2.lock();
                    goro::sleep(SEC);
                    let _ga = a2.lock();
                });
                let _ga = a.lock();
                goro::sleep(SEC);
                let _gb = b.lock();
                drop(h);
            })
        }),
    ];
    // (Run each case on its own thread with a generous bound.)
    for (i, case) in cases.into_iter().enumerate() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(case));
            let _ = tx.send(r.map_err(panic_message));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Err(msg)) => assert!(
                msg.starts_with("all goroutines in the bubble are asleep - deadlock!"),
                "case {i}: {msg}"
            ),
            Ok(Ok(())) => panic!("case {i}: returned"),
            Err(_) => panic!("case {i}: hung instead of reporting the deadlock"),
        }
    }
}

/// Traces taken from outside while a bubble runs: its goroutines are
/// resumed for their traces on the bubble's worker, and the program still
/// reads the same virtual times.
#[test]
fn trace_dumps_of_a_running_bubble_change_no_virtual_time() {
    isolated(
        "trace_dumps_of_a_running_bubble_change_no_virtual_time",
        || {
            let reference = a_timer_heavy_program();
            let stop = Arc::new(AtomicBool::new(false));
            let dumper = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut traced = 0;
                    while !stop.load(Ordering::Acquire) {
                        traced += goro::dump_with_backtraces()
                            .matches("a_timer_heavy_program")
                            .count();
                    }
                    traced
                })
            };
            for _ in 0..5 {
                assert!(
                    a_timer_heavy_program() == reference,
                    "a traced run read other times"
                );
            }
            stop.store(true, Ordering::Release);
            eprintln!(
                "{} traces of the bubble's goroutines",
                dumper.join().unwrap()
            );
        },
    );
}

/// A dump with traces from a bubble's goroutine, while another runtime's
/// only worker is held by a goroutine that computes (its parked goroutines
/// cannot answer): the dumper waits up to its 1 s patience with a timer
/// on a *real* deadline (`Instant::now() + PATIENCE`) in the bubble's
/// virtual heap; the bubble is then all blocked, and its clock jumps to
/// that real instant. The bubble's virtual time then depends on the real
/// time elapsed since it started.
#[test]
fn a_trace_dump_inside_a_bubble_does_not_move_its_clock() {
    isolated(
        "a_trace_dump_inside_a_bubble_does_not_move_its_clock",
        || {
            let other = goro::Runtime::builder().workers(1).build().unwrap();
            let (tx, rx) = bounded::<u8>(0);
            let parked = other.go(move || rx.recv().unwrap());
            until_parked(&other, "[chan receive, ", 1);
            let hog_stop = Arc::new(AtomicBool::new(false));
            let hs = hog_stop.clone();
            let hog = other.go(move || {
                while !hs.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
            });
            let moved = within(Duration::from_secs(30), "dump in a bubble", || {
                goro::test::run(|| {
                    let start = now();
                    let _ = goro::dump_with_backtraces();
                    now() - start
                })
            });
            hog_stop.store(true, Ordering::Release);
            hog.join().unwrap();
            tx.send(1).unwrap();
            parked.join().unwrap();
            assert_eq!(
                moved,
                Duration::ZERO,
                "the bubble's clock moved during a dump"
            );
        },
    );
}

/// `wait` counts a goroutine whose timer is already due (deadline = now)
/// as runnable, not blocked.
#[test]
fn wait_lets_a_goroutine_with_a_due_timer_run_first() {
    let flags = goro::test::run(|| {
        let flag = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = bounded::<u8>(0);
        let mut hs = Vec::new();
        for _ in 0..10 {
            let (f, rx) = (flag.clone(), rx.clone());
            hs.push(goro::go(move || {
                let _ = goro::chan::after(Duration::ZERO).recv();
                let _ = goro::chan::at(now()).recv();
                f.fetch_add(1, Ordering::SeqCst);
                let _ = rx.recv();
            }));
        }
        goro::test::wait();
        let n = flag.load(Ordering::SeqCst);
        drop(_tx);
        for h in hs {
            h.join().unwrap();
        }
        n
    });
    assert_eq!(flags, 10);
}

/// A bubble goroutine's `blocking` call reads `goro::time::now()` on the
/// pool thread: the real clock, not the bubble's (after an hour of virtual
/// sleep, it reads an instant an hour *before* the goroutine's own).
#[test]
fn now_inside_a_blocking_call_of_a_bubble_reads_the_bubble_clock() {
    let (outside, inside) = goro::test::run(|| {
        goro::sleep(HOUR);
        let outside = now();
        let inside = goro::blocking(now);
        (outside, inside)
    });
    assert_eq!(inside, outside);
}

/// A probe for the stack room a trace needs (by hand:
/// `B19_MARGIN=8192 [B19_TRACE=1] break_19 probe_small_stack --exact`);
/// does nothing without `B19_MARGIN`.
#[test]
fn probe_small_stack() {
    let margin: usize = std::env::var("B19_MARGIN")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if margin == 0 {
        return;
    }
    small_stack_case(margin, std::env::var("B19_TRACE").is_ok());
}

/// A bubble goroutine waits on a goro channel fed by a plain thread
/// 50 ms later. Issue 19: "a goroutine blocked on something outside the
/// bubble (a plain thread's channel, a socket, `blocking`) keeps time from
/// advancing, as in Go". As Go tells such a channel, by where it was made
/// (outside the bubble), so does goro (`Home`): the clock stays still while
/// a sleeper of an hour is pending, and nothing is reported. Also through a
/// `select!` that mixes it with a bubble's channel, and through `Select`.
#[test]
fn a_plain_threads_channel_keeps_the_clock_still() {
    isolated("a_plain_threads_channel_keeps_the_clock_still", || {
        let r = within(Duration::from_secs(30), "plain thread's channel", || {
            catch_unwind(|| {
                // Made outside the bubble, as in Go.
                let (tx, rx) = bounded::<u8>(0);
                let feeder = std::thread::spawn(move || {
                    for v in [4, 5, 6] {
                        std::thread::sleep(Duration::from_millis(50));
                        tx.send(v).unwrap();
                    }
                });
                let r = goro::test::run(move || {
                    let start = now();
                    let sleeper = goro::go(|| goro::sleep(HOUR));
                    let a = rx.recv().unwrap();
                    let (_mine_tx, mine) = bounded::<u8>(0);
                    let b = goro::select! {
                        recv(mine) -> v => v.unwrap(),
                        recv(rx) -> v => v.unwrap(),
                    };
                    let mut sel = goro::chan::Select::new();
                    sel.recv(&mine);
                    let i = sel.recv(&rx);
                    let op = sel.select();
                    assert_eq!(op.index(), i);
                    let c = op.recv(&rx).unwrap();
                    let at = now() - start;
                    sleeper.join().unwrap();
                    (a + b + c, at, now() - start)
                });
                feeder.join().unwrap();
                r
            })
            .map_err(panic_message)
        });
        assert_eq!(r, Ok((15, Duration::ZERO, HOUR)));
    });
}

/// The other side of `a_plain_threads_channel_keeps_the_clock_still`: what
/// only the bubble can wake is still durable when it was made outside it
/// (`never()`, as Go's nil channel), and a channel made inside is durable
/// even in a select with `never()`: the clock jumps, and a wait that
/// nothing can end is reported.
#[test]
fn never_made_outside_is_durable_in_a_bubble() {
    isolated("never_made_outside_is_durable_in_a_bubble", || {
        let r = within(Duration::from_secs(30), "never() made outside", || {
            let nothing = goro::chan::never::<u8>();
            let jumped = goro::test::run({
                let nothing = nothing.clone();
                move || {
                    let start = now();
                    let (tx, rx) = bounded::<u8>(0);
                    goro::go(move || {
                        goro::sleep(HOUR);
                        tx.send(1).unwrap();
                    });
                    let v = goro::select! {
                        recv(nothing) -> _ => 0,
                        recv(rx) -> v => v.unwrap(),
                    };
                    (v, now() - start)
                }
            });
            let deadlock = catch_unwind(move || goro::test::run(move || nothing.recv()))
                .map(|_| ())
                .map_err(panic_message);
            (jumped, deadlock)
        });
        assert_eq!(r.0, (1, HOUR));
        let report = r.1.unwrap_err();
        assert!(
            report.contains("all goroutines in the bubble are asleep - deadlock!"),
            "{report}"
        );
    });
}

/// Goro's locks and coordination released by sleepers: every waiter wakes
/// at the exact virtual time of its release, nothing reported.
#[test]
fn locks_released_by_sleepers_wake_waiters_at_exact_times() {
    let times = goro::test::run(|| {
        let start = now();
        let rw = Arc::new(goro::sync::RwLock::new(0u32));
        let sem = Arc::new(goro::sync::Semaphore::new(1));
        let barrier = Arc::new(goro::sync::Barrier::new(3));
        let wg = goro::sync::WaitGroup::new();
        let mut hs = Vec::new();
        {
            let rw = rw.clone();
            hs.push(goro::go(move || {
                let mut g = rw.write();
                goro::sleep(HOUR);
                *g += 1;
                drop(g);
                now() - start
            }));
        }
        goro::yield_now();
        {
            let rw = rw.clone();
            hs.push(goro::go(move || {
                let g = rw.read();
                assert_eq!(*g, 1);
                now() - start
            }));
        }
        {
            let sem = sem.clone();
            hs.push(goro::go(move || {
                let p = sem.acquire();
                goro::sleep(2 * HOUR);
                drop(p);
                now() - start
            }));
        }
        goro::yield_now();
        {
            let sem = sem.clone();
            hs.push(goro::go(move || {
                let _p = sem.acquire();
                now() - start
            }));
        }
        for k in 1..=2u32 {
            let b = barrier.clone();
            hs.push(goro::go(move || {
                goro::sleep(HOUR * (2 + k));
                b.wait();
                now() - start
            }));
        }
        {
            let b = barrier.clone();
            hs.push(goro::go(move || {
                b.wait();
                now() - start
            }));
        }
        wg.add(1);
        let w = wg.clone();
        hs.push(goro::go(move || {
            goro::sleep(5 * HOUR);
            w.done();
            now() - start
        }));
        wg.wait();
        let mut t: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        t.push(now() - start);
        t
    });
    assert_eq!(
        times,
        [1, 1, 2, 2, 4, 4, 4, 5, 5].map(|h| HOUR * h).to_vec()
    );
}

/// 100k parked goroutines on idle workers, one dump with traces: every
/// one should be traced (no worker is busy in user code). Measured
/// (release): 1k, 10k, 50k parked: all traced (0.14 s, 0.65 s, 2.9 s);
/// 100k: 56% traced; 200k: 13%. Each answer looks its request up by a
/// linear scan of the global `ASKED` vector under its mutex (quadratic in
/// the number of goroutines), so past ~50k the answers do not all come
/// within the dumper's fixed 1 s `PATIENCE`, and the more goroutines, the
/// fewer traces.
#[test]
fn a_trace_dump_of_100k_parked_goroutines_traces_them_all() {
    const N: usize = 100_000;
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let (tx, rx) = bounded::<u64>(0);
    let hs: Vec<_> = (0..N)
        .map(|_| {
            let rx = rx.clone();
            rt.go(move || parked_in_frame_b19(rx))
        })
        .collect();
    let t = Instant::now();
    while rt.dump().matches("[chan receive, ").count() < N {
        assert!(t.elapsed() < Duration::from_secs(120), "never all parked");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    let d = rt.dump_with_backtraces();
    let took = t.elapsed();
    let traced = d.matches("parked_in_frame_b19").count();
    for i in 0..N as u64 {
        tx.send(i).unwrap();
    }
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..N as u64).sum::<u64>());
    assert_eq!(traced, N, "traced {traced} of {N} in {took:?}");
}

/// A sleep longer than the virtual clock's range (584 years of `u64`
/// nanoseconds; `Timers::ticks` saturates to `NEVER - 1`) in a bubble
/// whose other goroutine waits for the sleeper. The clock jumps to the
/// saturated deadline, the timer fires, `sleep`'s loop finds
/// `now() < deadline` (the `Instant` deadline is past the clock's end),
/// parks again with a timer that is due at once, and so on: the worker
/// spins at 100% CPU for good; no deadlock report, no return. Same for
/// `recv_timeout`/`Context` timeouts used as "practically never".
#[test]
fn a_sleep_past_the_virtual_clocks_range_does_not_spin_forever() {
    isolated(
        "a_sleep_past_the_virtual_clocks_range_does_not_spin_forever",
        || {
            let r = within(Duration::from_secs(30), "a 600-year sleep", || {
                catch_unwind(|| {
                    goro::test::run(|| {
                        let start = now();
                        let h = goro::go(|| goro::sleep(Duration::from_secs(600 * 365 * 86_400)));
                        h.join().unwrap();
                        now() - start
                    })
                })
                .map_err(panic_message)
            });
            // Either it returns (the clock reached the deadline) or it
            // reports the sleep as unreachable; it must not hang.
            eprintln!("600-year sleep: {r:?}");
        },
    );
}

/// A socket read deadline set from the bubble's clock
/// (`goro::time::now() + 100 ms`, as the docs say to read time in a
/// bubble), with no virtual time passing: `goro-net`'s `io` compares the
/// deadline with the real `Instant::now()`, which is ahead of the bubble's
/// clock by however long the bubble has run in real time (here 200 ms of
/// computing), so the read fails at once with `TimedOut`, though the
/// bubble's clock never moved and the data comes 50 ms (real) later.
#[test]
fn a_socket_deadline_from_the_bubble_clock_is_on_the_bubble_clock() {
    isolated(
        "a_socket_deadline_from_the_bubble_clock_is_on_the_bubble_clock",
        || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let feeder = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                std::thread::sleep(Duration::from_millis(300));
                s.write_all(b"ok").unwrap();
                std::thread::sleep(Duration::from_millis(200));
            });
            let r = within(Duration::from_secs(30), "read with a deadline", move || {
                goro::test::run(move || {
                    let s = goro::net::TcpStream::connect(addr).unwrap();
                    // Real time passes; the bubble's clock does not.
                    std::thread::sleep(Duration::from_millis(200));
                    s.set_read_deadline(Some(now() + Duration::from_millis(100)))
                        .unwrap();
                    let mut buf = [0u8; 8];
                    s.read(&mut buf)
                        .map(|n| buf[..n].to_vec())
                        .map_err(|e| e.kind())
                })
            });
            feeder.join().unwrap();
            assert_eq!(r, Ok(b"ok".to_vec()));
        },
    );
}

/// Dumps with traces from another thread while a bubble runs. The dumper
/// claims every parked goroutine first (`PARKED -> RUNNING`) and queues
/// them only after its loop over the registry (`traceback::collect`):
/// meanwhile a claimed goroutine is neither parked nor queued, and a
/// timer that fires for it only leaves it `NOTIFIED`. The bubble's worker
/// then finds its queues empty, counts every goroutine durably blocked,
/// and moves the clock on (the woken goroutine reads a later time than
/// its timer's) or, with no timer left, reports a deadlock that is not
/// one.
#[test]
fn trace_dumps_never_let_a_bubble_move_its_clock_past_a_woken_goroutine() {
    isolated(
        "trace_dumps_never_let_a_bubble_move_its_clock_past_a_woken_goroutine",
        || {
            let stop = Arc::new(AtomicBool::new(false));
            let dumper = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let _ = goro::dump_with_backtraces();
                    }
                })
            };
            let mut failures = Vec::new();
            for _ in 0..300 {
                let r = catch_unwind(|| {
                    goro::test::run(|| {
                        // Many parked goroutines: a long claim loop.
                        let (tx, rx) = bounded::<()>(0);
                        let idle: Vec<_> = (0..300)
                            .map(|_| {
                                let rx = rx.clone();
                                goro::go(move || {
                                    let _ = rx.recv();
                                })
                            })
                            .collect();
                        let steppers: Vec<_> = (0..4u64)
                            .map(|k| {
                                goro::go(move || {
                                    let mut wrong = 0;
                                    for _ in 0..300 {
                                        let t0 = now();
                                        goro::sleep(Duration::from_micros(100 + k));
                                        if now() - t0 != Duration::from_micros(100 + k) {
                                            wrong += 1;
                                        }
                                    }
                                    wrong
                                })
                            })
                            .collect();
                        let wrong: u32 = steppers.into_iter().map(|h| h.join().unwrap()).sum();
                        drop(tx);
                        for h in idle {
                            h.join().unwrap();
                        }
                        wrong
                    })
                });
                match r {
                    Ok(0) => {}
                    Ok(n) => failures.push(format!("{n} sleeps woke at a later virtual time")),
                    Err(p) => {
                        failures.push(panic_message(p).lines().next().unwrap_or("").to_string())
                    }
                }
            }
            stop.store(true, Ordering::Release);
            dumper.join().unwrap();
            assert!(
                failures.is_empty(),
                "{} of 300 runs: {failures:#?}",
                failures.len()
            );
        },
    );
}
