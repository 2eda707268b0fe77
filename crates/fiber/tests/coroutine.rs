//! Coroutine behaviour: values in and out, returns, panics, drops, nesting,
//! moving between threads, backtraces and stack sizes.

use std::backtrace::Backtrace;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use goro_fiber::{Coroutine, CoroutineResult, ForcedUnwind, Yielder};

/// Counts its drops in a shared counter.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn values_flow_both_ways_in_order() {
    let mut co = Coroutine::new(|y, first: u64| {
        let mut sum = first;
        for i in 0..100u64 {
            sum += y.suspend(sum * 2 + i);
        }
        sum
    });
    let mut expected_sum = 1u64;
    assert_eq!(co.resume(1), CoroutineResult::Yield(2));
    for i in 1..100u64 {
        expected_sum += i;
        let r = co.resume(i);
        assert_eq!(r, CoroutineResult::Yield(expected_sum * 2 + i));
    }
    expected_sum += 100;
    assert_eq!(co.resume(100), CoroutineResult::Return(expected_sum));
    assert!(co.is_finished());
}

#[test]
fn large_and_owning_values_cross_intact() {
    // Values bigger than a register, with heap ownership, in every direction.
    let mut co = Coroutine::new(|y, input: (String, [u64; 16])| {
        let (mut text, mut arr) = input;
        for round in 0..10u64 {
            text.push('!');
            arr[round as usize] += 1;
            let next = y.suspend((text.clone(), arr));
            (text, arr) = next;
        }
        (text.len(), arr.iter().sum::<u64>())
    });
    let mut state = (String::from("go"), [0u64; 16]);
    let mut resumes = 0;
    loop {
        match co.resume(state.clone()) {
            CoroutineResult::Yield((text, arr)) => {
                resumes += 1;
                assert_eq!(text.len(), state.0.len() + 1);
                state = (text, arr);
            }
            CoroutineResult::Return((len, sum)) => {
                assert_eq!(len, 2 + 10);
                assert_eq!(sum, 10);
                break;
            }
        }
    }
    assert_eq!(resumes, 10);
}

#[test]
fn resuming_a_finished_coroutine_panics_clearly() {
    let mut co = Coroutine::<(), (), u8>::new(|_, ()| 7);
    assert_eq!(co.resume(()), CoroutineResult::Return(7));
    let err = panic::catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("already finished"), "{msg}");
}

#[test]
fn a_panic_resurfaces_from_resume() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut co = Coroutine::<u32, u32, ()>::new(move |y, x| {
        let _guard = DropCounter(d);
        let x = y.suspend(x + 1);
        panic!("boom {x}");
    });
    assert_eq!(co.resume(1), CoroutineResult::Yield(2));
    let err = panic::catch_unwind(AssertUnwindSafe(|| co.resume(41))).unwrap_err();
    assert_eq!(err.downcast_ref::<String>().unwrap(), "boom 41");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the panic unwound the coroutine's stack"
    );
    assert!(co.is_finished());
}

#[test]
fn dropping_a_suspended_coroutine_runs_its_destructors() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut cos: Vec<Coroutine<(), usize, ()>> = (0..100)
        .map(|depth| {
            let d = drops.clone();
            Coroutine::new(move |y, ()| nest(y, &d, depth))
        })
        .collect();
    for co in &mut cos {
        assert!(matches!(co.resume(()), CoroutineResult::Yield(_)));
    }
    drop(cos);
    // Each coroutine holds depth + 1 guards: 1 + 2 + ... + 100.
    assert_eq!(drops.load(Ordering::SeqCst), (1..=100).sum::<usize>());
}

/// Holds a guard on each of `depth + 1` frames, then suspends forever.
fn nest(y: &Yielder<(), usize>, drops: &Arc<AtomicUsize>, depth: usize) {
    let _guard = DropCounter(drops.clone());
    if depth == 0 {
        loop {
            y.suspend(depth);
        }
    }
    nest(y, drops, depth - 1);
}

#[test]
fn dropping_an_unstarted_coroutine_drops_its_function() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let co = Coroutine::<(), (), ()>::new(move |_, ()| drop(guard));
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(co);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_coroutine_that_catches_the_unwind_is_unwound_again() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut co = Coroutine::<(), (), ()>::new(move |y, ()| {
        let _outer = DropCounter(d.clone());
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            let _inner = DropCounter(d.clone());
            y.suspend(());
        }));
        assert!(caught.is_err());
        // Suspending again while being dropped: unwound again.
        y.suspend(());
        unreachable!();
    });
    co.resume(());
    drop(co);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn coroutines_nest() {
    let mut outer = Coroutine::<(), u32, u32>::new(|y, ()| {
        let mut inner = Coroutine::<(), u32, u32>::new(|y, ()| {
            y.suspend(1);
            y.suspend(2);
            3
        });
        let mut total = 0;
        loop {
            match inner.resume(()) {
                CoroutineResult::Yield(v) => {
                    y.suspend(v * 10);
                    total += v;
                }
                CoroutineResult::Return(v) => return total + v,
            }
        }
    });
    assert_eq!(outer.resume(()), CoroutineResult::Yield(10));
    assert_eq!(outer.resume(()), CoroutineResult::Yield(20));
    assert_eq!(outer.resume(()), CoroutineResult::Return(1 + 2 + 3));
}

#[test]
fn a_coroutine_keeps_thread_bound_state_across_suspends() {
    // A coroutine is not `Send` (see the compile_fail doctest on
    // `Coroutine`), so its function may hold an `Rc` and a thread-local
    // borrow across a suspend: it always resumes on this thread.
    thread_local! {
        static TOTAL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let seen = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let s = seen.clone();
    let mut co = Coroutine::<u64, u64, u64>::new(move |y, mut x| {
        TOTAL.with(|total| {
            for _ in 0..64 {
                total.set(total.get() + x);
                s.set(s.get() + 1);
                x = y.suspend(total.get());
            }
            total.get()
        })
    });
    let mut expected = 0;
    for i in 0..64u64 {
        expected += i;
        assert_eq!(co.resume(i), CoroutineResult::Yield(expected));
    }
    assert_eq!(co.resume(0), CoroutineResult::Return(expected));
    assert_eq!(seen.get(), 64);
    assert_eq!(TOTAL.with(std::cell::Cell::get), expected);
}

#[test]
fn thousands_interleave_without_losing_a_value() {
    const N: u64 = 5_000;
    const ROUNDS: u64 = 20;
    let mut cos: Vec<Coroutine<u64, u64, u64>> = (0..N)
        .map(|id| {
            Coroutine::new(move |y, mut x| {
                let mut acc = 0;
                for _ in 0..ROUNDS {
                    acc += x;
                    x = y.suspend(x * 1_000_003 + id);
                }
                acc
            })
        })
        .collect();
    let mut sum = 0u64;
    for round in 0..ROUNDS {
        for (id, co) in cos.iter_mut().enumerate() {
            match co.resume(round + id as u64) {
                CoroutineResult::Yield(v) => sum += v - (round + id as u64) * 1_000_003,
                CoroutineResult::Return(_) => unreachable!(),
            }
        }
    }
    assert_eq!(sum, ROUNDS * (0..N).sum::<u64>());
    let mut returned = 0;
    for co in &mut cos {
        match co.resume(0) {
            CoroutineResult::Return(acc) => returned += acc - (0..ROUNDS).sum::<u64>(),
            CoroutineResult::Yield(_) => unreachable!(),
        }
    }
    assert_eq!(returned, ROUNDS * (0..N).sum::<u64>());
}

/// A uniquely named resumer, which the coroutine's backtrace must show.
#[inline(never)]
fn resumer_with_a_distinctive_name(co: &mut Coroutine<(), String, ()>) -> String {
    match co.resume(()) {
        CoroutineResult::Yield(trace) => trace,
        CoroutineResult::Return(()) => unreachable!(),
    }
}

#[test]
fn a_backtrace_inside_walks_into_the_resumer() {
    let mut co = Coroutine::<(), String, ()>::new(|y, ()| {
        let trace = Backtrace::force_capture().to_string();
        y.suspend(trace);
    });
    let trace = resumer_with_a_distinctive_name(&mut co);
    assert!(
        trace.contains("resumer_with_a_distinctive_name"),
        "the backtrace stops at the coroutine's entry:\n{trace}"
    );
    // It goes on past the resumer, to the test itself.
    assert!(
        trace.contains("a_backtrace_inside_walks_into_the_resumer"),
        "{trace}"
    );
}

#[test]
fn stack_sizes_are_checked_and_rounded() {
    for bad in [0, 1, 16 * 1024 - 1, (1 << 30) + 1, usize::MAX] {
        let err = Coroutine::<(), (), ()>::with_stack_size(bad, |_, ()| ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        assert!(err.to_string().contains("16 KiB to 1024 MiB"), "{err}");
    }
    let co = Coroutine::<(), (), ()>::with_stack_size(17_000, |_, ()| ()).unwrap();
    assert_eq!(co.stack().size(), 20 * 1024);
    let co = Coroutine::<(), (), ()>::with_stack_size(1 << 30, |_, ()| ()).unwrap();
    assert_eq!(co.stack().size(), 1 << 30);
    let co = Coroutine::<(), (), ()>::new(|_, ()| ());
    let default = if cfg!(debug_assertions) {
        2048 * 1024
    } else {
        256 * 1024
    };
    assert_eq!(co.stack().size(), default);
}

#[test]
fn a_huge_capture_is_an_error_not_a_crash() {
    let big = [7u8; 40 * 1024];
    let err =
        Coroutine::<(), (), usize>::with_stack_size(64 * 1024, move |_, ()| big.len()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("larger stack"), "{err}");
    // With room it works (debug builds copy the capture a few times), and
    // the captured bytes arrive intact.
    let mut co = Coroutine::<(), (), usize>::with_stack_size(1 << 20, move |_, ()| {
        big.iter().map(|&b| b as usize).sum()
    })
    .unwrap();
    assert_eq!(co.resume(()), CoroutineResult::Return(7 * 40 * 1024));
}

#[test]
fn a_deep_recursion_uses_nearly_all_of_its_stack() {
    /// Recurses with 1 KiB frames until fewer than `margin` bytes are left
    /// above `bottom`; returns the depth reached.
    #[inline(never)]
    fn recurse(bottom: usize, margin: usize) -> usize {
        let pad = std::hint::black_box([1u8; 1024]);
        if (pad.as_ptr() as usize) < bottom + margin {
            return 1;
        }
        recurse(bottom, margin) + pad[1] as usize
    }
    let stack_size = 4 << 20;
    let mut co = Coroutine::<usize, (), usize>::with_stack_size(stack_size, |_, bottom| {
        recurse(bottom, 32 * 1024)
    })
    .unwrap();
    let bottom = co.stack().bottom() as usize;
    match co.resume(bottom) {
        // At most a few KiB a frame (debug builds are generous).
        CoroutineResult::Return(depth) => assert!(depth > stack_size / 8192, "{depth}"),
        CoroutineResult::Yield(()) => unreachable!(),
    }
}

#[test]
fn dropping_during_the_resumers_unwinding_still_unwinds_the_coroutine() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let outer = panic::catch_unwind(AssertUnwindSafe(move || {
        let mut co = Coroutine::<(), (), ()>::new(move |y, ()| {
            let _guard = DropCounter(d);
            y.suspend(());
        });
        co.resume(());
        panic!("resumer fails");
    }))
    .unwrap_err();
    assert_eq!(outer.downcast_ref::<&str>(), Some(&"resumer fails"));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A destructor that suspends while `unwind` unwinds its coroutine: it is
/// resumed as usual and the unwind goes on after it.
#[test]
fn unwind_lets_a_destructor_suspend_and_goes_on_after_it() {
    use std::cell::RefCell;
    use std::rc::Rc;

    struct Waits<'a>(&'a Yielder<u32, u32>, Rc<RefCell<Vec<u32>>>, u32);
    impl Drop for Waits<'_> {
        fn drop(&mut self) {
            // Waits twice, and records what each resume handed in.
            let a = self.0.suspend(self.2);
            let b = self.0.suspend(self.2 + 1);
            self.1.borrow_mut().extend([a, b]);
        }
    }

    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let mut co = Coroutine::new(move |y: &Yielder<u32, u32>, _: u32| {
        let _outer = Waits(y, l.clone(), 10);
        let _inner = Waits(y, l.clone(), 20);
        y.suspend(0);
        unreachable!("unwound at the suspend");
    });
    assert_eq!(co.resume(1), CoroutineResult::Yield(0));
    assert!(!co.is_unwinding());
    // Inner first (declared last), then outer.
    assert_eq!(co.unwind(100), CoroutineResult::Yield(20));
    assert!(co.is_unwinding());
    assert_eq!(co.unwind(101), CoroutineResult::Yield(21));
    assert_eq!(co.unwind(102), CoroutineResult::Yield(10));
    assert_eq!(co.unwind(103), CoroutineResult::Yield(11));
    assert_eq!(co.unwind(104), CoroutineResult::Return(()));
    assert!(co.is_finished() && !co.is_unwinding());
    assert_eq!(*log.borrow(), [101, 102, 103, 104]);
    assert!(!std::thread::panicking());
}

/// Code that catches the unwind and suspends in its normal course is
/// unwound again, as by a drop; a coroutine that never started is dropped.
#[test]
fn unwind_raises_again_where_the_unwind_was_caught() {
    let mut co = Coroutine::new(|y: &Yielder<(), u32>, ()| {
        let mut caught = 0;
        loop {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.suspend(caught))) {
                Ok(()) => unreachable!("never resumed normally"),
                Err(payload) if caught < 3 => {
                    assert!(payload.is::<ForcedUnwind>());
                    caught += 1;
                }
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
    });
    assert_eq!(co.resume(()), CoroutineResult::Yield(0));
    assert_eq!(co.unwind(()), CoroutineResult::Yield(1));
    assert_eq!(co.unwind(()), CoroutineResult::Yield(2));
    assert_eq!(co.unwind(()), CoroutineResult::Yield(3));
    assert_eq!(co.unwind(()), CoroutineResult::Return(()));
    assert!(co.is_finished());

    let dropped = std::sync::Arc::new(());
    let d = dropped.clone();
    let mut unstarted = Coroutine::<(), (), ()>::new(move |_, ()| drop(d));
    assert_eq!(unstarted.unwind(()), CoroutineResult::Return(()));
    assert!(unstarted.is_finished());
    assert_eq!(std::sync::Arc::strong_count(&dropped), 1);
}

/// Dropping a coroutine suspended in a destructor during its unwind cannot
/// raise a second unwind there: its stack is leaked instead of an abort.
#[test]
fn dropping_a_coroutine_suspended_in_its_unwind_leaks_it() {
    struct Waits<'a>(&'a Yielder<(), ()>);
    impl Drop for Waits<'_> {
        fn drop(&mut self) {
            self.0.suspend(());
            unreachable!("never resumed");
        }
    }
    // On a thread of its own: it keeps counting the leaked unwind's panic.
    std::thread::spawn(|| {
        let mut co = Coroutine::new(|y: &Yielder<(), ()>, ()| {
            let _w = Waits(y);
            y.suspend(());
        });
        assert_eq!(co.resume(()), CoroutineResult::Yield(()));
        assert_eq!(co.unwind(()), CoroutineResult::Yield(()));
        // The thread counts the coroutine's panic while it is suspended.
        assert!(std::thread::panicking());
        drop(co);
    })
    .join()
    .unwrap();
}
