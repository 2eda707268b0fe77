//! Criterion micro-benchmark: spawn one goroutine (task, coroutine) that
//! returns a number, and join it, from inside the runtime: goro against
//! tokio and may, each on its default multi-threaded runtime.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};

fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    group.bench_function("goro", |b| {
        b.iter_custom(|iters| {
            goro::run(move || {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(goro::go(move || black_box(i)).join().unwrap());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("tokio", |b| {
        let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
        b.iter_custom(|iters| {
            rt.block_on(async move {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(tokio::spawn(async move { black_box(i) }).await.unwrap());
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        });
    });
    group.bench_function("may", |b| {
        b.iter_custom(|iters| {
            may::go!(move || {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(may::go!(move || black_box(i)).join().unwrap());
                }
                start.elapsed()
            })
            .join()
            .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, spawn_join);
criterion_main!(benches);
