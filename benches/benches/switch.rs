//! Criterion micro-benchmark: one resume + suspend round trip, goro against
//! corosensei. Stacks are allocated outside the timed loop.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn switch_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");
    group.bench_function("goro", |b| {
        let mut co = goro::fiber::Coroutine::<u64, u64, ()>::new(|y, mut x| {
            loop {
                x = y.suspend(x + 1);
            }
        });
        b.iter(|| co.resume(black_box(1)));
    });
    group.bench_function("corosensei", |b| {
        let mut co = corosensei::Coroutine::<u64, u64, ()>::new(|y, mut x| {
            loop {
                x = y.suspend(x + 1);
            }
        });
        b.iter(|| co.resume(black_box(1)));
    });
    group.finish();
}

criterion_group!(benches, switch_time);
criterion_main!(benches);
