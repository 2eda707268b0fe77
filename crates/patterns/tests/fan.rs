//! Fan-in and fan-out: `merge`, `fan_out`, `tee`, `bridge`; exactly-once
//! delivery checked by sums and per-input sequences, and stopping by drop.

mod common;
#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::collections::HashSet;
use std::thread;
use std::time::Duration;

use common::{HANG, collect, recv, runtime, wait_for_goroutines};
use goro_patterns::sync::chan::sched::{self, go, num_goroutines};
use goro_patterns::sync::chan::{Receiver, RecvTimeoutError, bounded};
use goro_patterns::{BUFFER, bridge, fan_out, generate, merge, stage, tee};

#[test]
fn merge_delivers_everything_once_keeping_each_inputs_order() {
    let _rt = crate::mode::enter();
    const INPUTS: usize = 16;
    const N: u64 = 2_000;
    let inputs: Vec<_> = (0..INPUTS)
        .map(|i| generate((0..N).map(move |seq| (i, seq))))
        .collect();
    let got = collect(&merge(inputs));
    assert_eq!(got.len() as u64, INPUTS as u64 * N);
    let mut next = [0u64; INPUTS];
    for (i, seq) in got {
        assert_eq!(seq, next[i], "input {i} out of order");
        next[i] += 1;
    }
    assert!(next.iter().all(|&n| n == N));
}

#[test]
fn merge_reads_channels_fed_by_threads_and_goroutines() {
    let _rt = crate::mode::enter();
    const INPUTS: u64 = 8;
    const N: u64 = 5_000;
    let mut inputs = Vec::new();
    let mut threads = Vec::new();
    for i in 0..INPUTS {
        let (tx, rx) = bounded::<u64>(i as usize % 3); // unbuffered, 1, 2
        inputs.push(rx);
        let send_all = move || {
            for seq in 0..N {
                tx.send(i * N + seq).unwrap();
            }
        };
        if i % 2 == 0 {
            threads.push(thread::spawn(send_all));
        } else {
            go(send_all);
        }
    }
    let got = collect(&merge(inputs));
    let unique: HashSet<u64> = got.iter().copied().collect();
    assert_eq!(got.len() as u64, INPUTS * N);
    assert_eq!(unique.len() as u64, INPUTS * N);
    assert_eq!(got.iter().sum::<u64>(), (0..INPUTS * N).sum::<u64>());
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn merging_nothing_gives_a_closed_channel() {
    let _rt = crate::mode::enter();
    let rx = merge(Vec::<Receiver<u8>>::new());
    assert_eq!(rx.recv_timeout(HANG), Err(RecvTimeoutError::Closed));
}

#[test]
fn fan_out_gives_each_value_to_exactly_one_worker() {
    let _rt = crate::mode::enter();
    const N: u64 = 20_000;
    let outs = fan_out(generate(0..N), 4, |x| x * 2);
    assert_eq!(outs.len(), 4);
    // Read every output at once: one that is not read stalls its worker.
    let readers: Vec<_> = outs
        .into_iter()
        .map(|rx| go(move || collect(&rx)))
        .collect();
    let mut all = Vec::new();
    for reader in readers {
        let got = reader.join().unwrap();
        // A worker takes its values from one FIFO channel: in order.
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        all.extend(got);
    }
    assert_eq!(all.iter().sum::<u64>(), N * (N - 1));
    all.sort_unstable();
    assert_eq!(all, (0..N).map(|x| x * 2).collect::<Vec<_>>());
}

#[test]
fn fan_out_goes_on_when_an_output_is_dropped() {
    let _rt = crate::mode::enter();
    const N: u64 = 5_000;
    let mut outs = fan_out(generate(0..N), 3, |x| x);
    drop(outs.remove(0));
    let readers: Vec<_> = outs
        .into_iter()
        .map(|rx| go(move || collect(&rx)))
        .collect();
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.join().unwrap());
    }
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a value came twice");
    assert!(all.iter().all(|&v| v < N));
    // The dropped worker lost what it had buffered and the value in hand.
    assert!(
        all.len() as u64 >= N - BUFFER as u64 - 1,
        "only {}",
        all.len()
    );
}

#[test]
fn tee_gives_both_readers_every_value_in_order() {
    let _rt = crate::mode::enter();
    const N: u64 = 5_000;
    let (a, b) = tee(stage(generate(0..N), 1, |x| x));
    let slow = go(move || {
        let mut got = Vec::new();
        for v in &b {
            if v % 500 == 0 {
                sched::sleep(Duration::from_millis(1));
            }
            got.push(v);
        }
        got
    });
    let fast = collect(&a);
    assert_eq!(fast, (0..N).collect::<Vec<_>>());
    assert_eq!(slow.join().unwrap(), (0..N).collect::<Vec<_>>());
}

#[test]
fn tee_goes_on_when_one_side_is_dropped() {
    let _rt = crate::mode::enter();
    const N: u64 = 5_000;
    let (a, b) = tee(generate(0..N));
    drop(b);
    assert_eq!(collect(&a), (0..N).collect::<Vec<_>>());
}

#[test]
fn tee_stops_when_both_sides_are_dropped() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let (a, b) = tee(generate(0u64..));
        assert_eq!(recv(&a), 0);
        assert_eq!(recv(&b), 0);
        drop(a);
        assert_eq!((0..100).map(|_| recv(&b)).sum::<u64>(), (1..=100).sum());
        drop(b);
        wait_for_goroutines(base);
    });
}

#[test]
fn bridge_concatenates_the_inner_streams_in_order() {
    let _rt = crate::mode::enter();
    let outer = generate((0..50u64).map(|i| generate(i * 100..(i + 1) * 100)));
    assert_eq!(collect(&bridge(outer)), (0..5_000).collect::<Vec<_>>());
}

#[test]
fn bridge_reads_inner_streams_fed_by_threads() {
    let _rt = crate::mode::enter();
    let (outer_tx, outer) = bounded(0);
    let feeder = thread::spawn(move || {
        for i in 0..20u64 {
            let (tx, rx) = bounded(1);
            outer_tx.send(rx).unwrap();
            thread::spawn(move || {
                for v in i * 10..(i + 1) * 10 {
                    tx.send(v).unwrap();
                }
            });
        }
    });
    assert_eq!(collect(&bridge(outer)), (0..200).collect::<Vec<_>>());
    feeder.join().unwrap();
}

#[test]
fn dropping_the_outputs_stops_merge_fan_out_and_bridge() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let outs = fan_out(generate(0u64..), 3, |x| x);
        let merged = merge(outs);
        let bridged = bridge(generate((0u64..).map(|i| generate(i * 10..(i + 1) * 10))));
        let both = merge(vec![merged, bridged]);
        let got: Vec<u64> = (0..1_000).map(|_| recv(&both)).collect();
        assert_eq!(got.len(), 1_000);
        drop(both);
        wait_for_goroutines(base);
    });
}

#[test]
#[should_panic(expected = "fan_out: the number of workers must be at least 1")]
fn fan_out_to_no_workers_is_refused() {
    let _rt = crate::mode::enter();
    let _ = fan_out(generate(0..1), 0, |x: i32| x);
}
