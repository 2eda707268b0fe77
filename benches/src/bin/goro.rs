//! goro's side of the side-by-side workloads.

use std::hint::black_box;

use goro::fiber::{Coroutine, CoroutineResult};

fn main() {
    let (workload, n) = goro_benches::args("bench-goro", &["switch"]);
    match workload.as_str() {
        "switch" => goro_benches::report(|| switch(n)),
        _ => unreachable!(),
    }
}

/// `n` resume + suspend round trips; the coroutine yields its counter.
fn switch(n: u64) -> u64 {
    let mut co = Coroutine::<(), u64, ()>::new(|y, ()| {
        let mut i = 0u64;
        loop {
            y.suspend(black_box(i));
            i += 1;
        }
    });
    let mut sum = 0u64;
    for _ in 0..n {
        match co.resume(()) {
            CoroutineResult::Yield(v) => sum = sum.wrapping_add(v),
            CoroutineResult::Return(()) => unreachable!(),
        }
    }
    sum
}
