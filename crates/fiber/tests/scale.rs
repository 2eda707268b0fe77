//! A million suspended coroutines at once, under the default
//! `vm.max_map_count`, and what each costs in resident memory.
//!
//! Release builds only (`cargo test --release -p goro-fiber --test scale --
//! --nocapture` prints the figures); a debug build skips it.

use goro_fiber::{Coroutine, CoroutineResult};

/// Resident set of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Creates `n` coroutines and suspends each once; checks all of them by sum;
/// returns the resident bytes per suspended coroutine.
fn suspended(n: u64) -> f64 {
    let before = rss();
    let mut cos: Vec<Coroutine<u64, u64, u64>> = Vec::with_capacity(n as usize);
    for id in 0..n {
        let mut co = Coroutine::new(move |y, x: u64| {
            let doubled = y.suspend(x + id);
            doubled + 1
        });
        assert_eq!(co.resume(1), CoroutineResult::Yield(1 + id));
        cos.push(co);
    }
    let per = (rss() - before) as f64 / n as f64;
    let maps_alive = maps();
    let mut sum = 0u64;
    for (id, co) in cos.iter_mut().enumerate() {
        match co.resume(2 * id as u64) {
            CoroutineResult::Return(v) => sum += v,
            CoroutineResult::Yield(_) => unreachable!(),
        }
    }
    assert_eq!(sum, n * (n - 1) + n, "every coroutine resumed exactly once");
    println!(
        "{n} suspended coroutines: {:.2} KiB resident each, {maps_alive} memory mappings",
        per / 1024.0
    );
    assert!(maps_alive < 65530 / 2, "{maps_alive} mappings");
    per
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a million coroutines: run it with --release"
)]
fn a_million_suspended_coroutines() {
    if goro_fiber::stack::guard_kind().unwrap() == goro_fiber::stack::GuardKind::Mprotect {
        // Two mappings a stack: a million cannot fit under vm.max_map_count,
        // which is the point of madvise guards (tests/stack.rs checks the
        // fallback's budget and its error).
        println!("skipped: stacks get mprotect guards here (kernel older than 6.13?)");
        return;
    }
    let per_100k = suspended(100_000);
    let per_1m = suspended(1_000_000);
    // The goal is 4.5 KiB; this bound only catches a gross regression.
    for per in [per_100k, per_1m] {
        assert!(per < 8.0 * 1024.0, "{per} bytes per coroutine");
    }
}
