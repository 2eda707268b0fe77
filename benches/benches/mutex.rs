//! Criterion micro-benchmark: one uncontended lock + unlock (bumping the
//! guarded counter), `goro::sync::Mutex` against `std::sync::Mutex`, from a
//! plain thread (the fast path needs no goroutine).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn mutex_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_uncontended");
    group.bench_function("goro", |b| {
        let m = goro::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock() += 1);
    });
    group.bench_function("std", |b| {
        let m = std::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock().unwrap() += 1);
    });
    group.finish();
}

criterion_group!(benches, mutex_uncontended);
criterion_main!(benches);
