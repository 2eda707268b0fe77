//! Pipelines: `generate`, `stage`, `stage_ordered`, `or_done`; exactly-once
//! delivery, order, back-pressure, and stopping by drop or cancellation with
//! no goroutine left behind.

mod common;
#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{HANG, collect, recv, runtime, wait_for_goroutines, wait_until};
use goro_patterns::sync::chan::sched::{self, go, num_goroutines};
use goro_patterns::sync::chan::{RecvTimeoutError, bounded};
use goro_patterns::sync::context::{Context, ContextError};
use goro_patterns::{BUFFER, generate, or_done, stage, stage_ordered};

#[test]
fn generate_sends_every_item_in_order_then_closes() {
    let _rt = crate::mode::enter();
    let rx = generate(0..10_000u32);
    assert_eq!(collect(&rx), (0..10_000).collect::<Vec<_>>());
    assert!(rx.is_closed());
}

#[test]
fn generate_stops_and_drops_its_iterator_when_the_receiver_is_dropped() {
    let _rt = crate::mode::enter();
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let rx = generate((0u64..).inspect(move |_| {
            let _keep = &flag;
        }));
        assert_eq!((0..100).map(|_| recv(&rx)).sum::<u64>(), 4950);
        drop(rx);
        wait_until("the iterator is dropped", || dropped.load(Ordering::SeqCst));
        wait_for_goroutines(base);
    });
}

#[test]
fn stage_delivers_each_value_exactly_once() {
    let _rt = crate::mode::enter();
    const N: u64 = 20_000;
    let out = stage(generate(0..N), 8, |x| x * 3);
    let mut got = collect(&out);
    assert_eq!(got.len() as u64, N);
    assert_eq!(got.iter().sum::<u64>(), 3 * N * (N - 1) / 2);
    got.sort_unstable();
    assert_eq!(got, (0..N).map(|x| x * 3).collect::<Vec<_>>());
}

#[test]
fn stage_runs_its_workers_at_the_same_time() {
    let _rt = crate::mode::enter();
    const WORKERS: usize = 4;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let out = stage(generate(0..100usize), WORKERS, {
        let in_flight = in_flight.clone();
        move |x| {
            if x < WORKERS {
                // Each of the first values waits for all of them to be taken:
                // only distinct, concurrent workers can get past this.
                in_flight.fetch_add(1, Ordering::SeqCst);
                wait_until("every worker holds a value", || {
                    in_flight.load(Ordering::SeqCst) == WORKERS
                });
            }
            x
        }
    });
    assert_eq!(collect(&out).iter().sum::<usize>(), 4950);
}

#[test]
fn stage_reads_a_channel_fed_by_threads_and_goroutines() {
    let _rt = crate::mode::enter();
    const PRODUCERS: u64 = 8;
    const PER: u64 = 2_000;
    let (tx, rx) = bounded::<(u64, u64)>(4);
    let mut threads = Vec::new();
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        let send_all = move || {
            for s in 0..PER {
                tx.send((p, s)).unwrap();
            }
        };
        if p % 2 == 0 {
            threads.push(thread::spawn(send_all));
        } else {
            go(send_all);
        }
    }
    drop(tx);
    let out = stage(rx, 4, |(p, s)| p * PER + s);
    let got = collect(&out);
    let unique: HashSet<u64> = got.iter().copied().collect();
    assert_eq!(got.len() as u64, PRODUCERS * PER);
    assert_eq!(unique.len() as u64, PRODUCERS * PER);
    assert_eq!(got.iter().sum::<u64>(), (0..PRODUCERS * PER).sum::<u64>());
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn stage_ordered_keeps_the_input_order_under_uneven_work() {
    let _rt = crate::mode::enter();
    const N: u64 = 3_000;
    let out = stage_ordered(generate(0..N), 8, |x| {
        // Uneven work: some values yield a few times, some sleep.
        for _ in 0..(x * 7919 % 13) {
            sched::yield_now();
        }
        if x % 97 == 0 {
            sched::sleep(Duration::from_millis(2));
        }
        x * x
    });
    assert_eq!(collect(&out), (0..N).map(|x| x * x).collect::<Vec<_>>());
}

#[test]
fn stage_ordered_stays_bounded_behind_a_slow_value() {
    let _rt = crate::mode::enter();
    const WORKERS: usize = 4;
    let rt = runtime();
    rt.run(|| {
        let produced = Arc::new(AtomicUsize::new(0));
        let processed = Arc::new(AtomicUsize::new(0));
        let (open, gate) = bounded::<()>(0);
        let source = generate((0..10_000u64).inspect({
            let produced = produced.clone();
            move |_| {
                produced.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let out = stage_ordered(source, WORKERS, {
            let processed = processed.clone();
            move |x| {
                if x == 0 {
                    let _ = gate.recv_timeout(HANG); // held back until `open` goes
                }
                processed.fetch_add(1, Ordering::SeqCst);
                x
            }
        });
        // The other workers go on with later values meanwhile...
        wait_until("the other workers work", || {
            processed.load(Ordering::SeqCst) >= WORKERS - 1
        });
        sched::sleep(Duration::from_millis(100));
        // ...but only so far: the generator's buffer and the value it holds,
        // the one the dispatcher holds while it waits for a slot, and the
        // window of slots (the value held back among them; nothing has been
        // received).
        let bound = (BUFFER + 1) + 1 + (WORKERS + BUFFER);
        let ran_ahead = produced.load(Ordering::SeqCst);
        assert!(ran_ahead <= bound, "ran {ran_ahead} ahead; bound {bound}");
        drop(open);
        assert_eq!(collect(&out), (0..10_000).collect::<Vec<_>>());
    });
}

#[test]
fn a_slow_last_stage_slows_the_first() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let produced = Arc::new(AtomicUsize::new(0));
        let source = generate((0u64..).inspect({
            let produced = produced.clone();
            move |_| {
                produced.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let fast = stage(source, 2, |x| x + 1);
        let slow = stage(fast, 1, |x| {
            sched::sleep(Duration::from_millis(1));
            x
        });
        // Each channel holds BUFFER values, and each goroutine one more.
        let bound = (BUFFER + 1) + (BUFFER + 2) + (BUFFER + 1);
        let mut sum = 0;
        for k in 1..=200 {
            sum += recv(&slow);
            let ran_ahead = produced.load(Ordering::SeqCst) - k;
            assert!(ran_ahead <= bound, "ran {ran_ahead} ahead; bound {bound}");
        }
        assert!(sum >= (1..=200).sum::<u64>());
        drop(slow);
        wait_for_goroutines(base);
    });
}

#[test]
fn dropping_the_output_stops_every_stage() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let first = stage(generate(0u64..), 3, |x| x + 1);
        let second = stage_ordered(first, 4, |x| x * 2);
        let out = stage(second, 2, |x| x);
        // The generator, 3 workers, 4 workers with a dispatcher and a
        // collector, 2 workers: none can end while the source is endless.
        assert_eq!(num_goroutines(), base + 1 + 3 + (4 + 2) + 2);
        let got: Vec<u64> = (0..500).map(|_| recv(&out)).collect();
        let unique: HashSet<u64> = got.iter().copied().collect();
        assert_eq!(unique.len(), 500);
        assert!(got.iter().all(|v| v % 2 == 0 && *v > 0));
        drop(out);
        wait_for_goroutines(base);
    });
}

#[test]
fn dropping_the_output_of_an_unread_pipeline_stops_it() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let out = stage_ordered(stage(generate(0u64..), 2, |x| x), 3, |x| x);
        sched::sleep(Duration::from_millis(20)); // let every buffer fill
        drop(out);
        wait_for_goroutines(base);
    });
}

#[test]
fn or_done_forwards_everything_until_its_input_closes() {
    let _rt = crate::mode::enter();
    let (ctx, _cancel) = Context::with_cancel(&Context::background());
    let out = or_done(&ctx, stage(generate(1..=1_000u64), 4, |x| x));
    assert_eq!(collect(&out).iter().sum::<u64>(), 500_500);
}

#[test]
fn cancelling_or_done_stops_the_stream_and_the_pipeline_behind_it() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let (ctx, cancel) = Context::with_cancel(&Context::background());
        let out = or_done(&ctx, stage(generate(0u64..), 2, |x| x));
        for _ in 0..50 {
            recv(&out);
        }
        cancel.cancel();
        // At most the value being handed over gets through.
        let late = collect(&out);
        assert!(late.len() <= 1, "{} values after the cancel", late.len());
        wait_for_goroutines(base);
    });
}

#[test]
fn or_done_lets_go_of_an_idle_source_on_cancel() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let (tx, rx) = bounded::<u32>(0); // nothing is ever sent
        let (ctx, cancel) = Context::with_cancel(&Context::background());
        let out = or_done(&ctx, rx);
        assert_eq!(
            out.recv_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        cancel.cancel();
        assert_eq!(out.recv_timeout(HANG), Err(RecvTimeoutError::Closed));
        wait_until("or_done drops its input", || tx.is_closed());
        wait_for_goroutines(base);
    });
}

#[test]
fn or_done_ends_at_the_deadline() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let (ctx, _cancel) =
            Context::with_timeout(&Context::background(), Duration::from_millis(30));
        let out = or_done(&ctx, generate(0u64..));
        let got = collect(&out);
        assert_eq!(got, (0..got.len() as u64).collect::<Vec<_>>());
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        wait_for_goroutines(base);
    });
}

#[test]
fn a_panic_in_a_stage_ends_its_output_and_stops_the_pipeline() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let out = stage(generate(0u64..), 4, |x| {
            assert!(x != 500, "stage bug at {x}");
            x
        });
        let got = collect(&out); // an endless source, yet the stream ends
        assert!(!got.contains(&500));
        wait_for_goroutines(base);
    });
}

#[test]
fn a_panic_in_an_ordered_stage_ends_the_stream_right_before_it() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let out = stage_ordered(generate(0u64..), 4, |x| {
            assert!(x != 500, "stage bug at {x}");
            x
        });
        assert_eq!(collect(&out), (0..500).collect::<Vec<_>>());
        wait_for_goroutines(base);
    });
}

#[test]
#[should_panic(expected = "stage: the number of workers must be at least 1")]
fn a_stage_of_no_workers_is_refused() {
    let _rt = crate::mode::enter();
    let _ = stage(generate(0..1), 0, |x: i32| x);
}

#[test]
#[should_panic(expected = "stage_ordered: the number of workers must be at least 1")]
fn an_ordered_stage_of_no_workers_is_refused() {
    let _rt = crate::mode::enter();
    let _ = stage_ordered(generate(0..1), 0, |x: i32| x);
}
