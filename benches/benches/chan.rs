//! Criterion micro-benchmark: one uncontended send + receive on a buffered
//! channel with room (nobody waits, nobody parks), from a plain thread:
//! goro against crossbeam-channel, std's `sync_channel` and may's (unbounded)
//! `mpsc`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn chan_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("chan_send_recv");
    group.bench_function("goro", |b| {
        let (tx, rx) = goro::chan::bounded::<u64>(16);
        b.iter(|| {
            tx.send(black_box(1)).unwrap();
            rx.recv().unwrap()
        });
    });
    group.bench_function("crossbeam", |b| {
        let (tx, rx) = crossbeam_channel::bounded::<u64>(16);
        b.iter(|| {
            tx.send(black_box(1)).unwrap();
            rx.recv().unwrap()
        });
    });
    group.bench_function("std", |b| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(16);
        b.iter(|| {
            tx.send(black_box(1)).unwrap();
            rx.recv().unwrap()
        });
    });
    group.bench_function("may", |b| {
        let (tx, rx) = may::sync::mpsc::channel::<u64>();
        b.iter(|| {
            tx.send(black_box(1)).unwrap();
            rx.recv().unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, chan_uncontended);
criterion_main!(benches);
