//! Channels of zero-sized values (Go's `chan struct{}`): no buffer is
//! allocated, whatever the capacity, and they behave as any bounded
//! channel: capacity, close, values with a `Drop`, selects, and a counting
//! semaphore under many goroutines (issue 17, bug 6).

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use goro_chan::{Select, TryRecvError, TrySendError, bounded, select};
use goro_sched::go;

/// Counts the bytes this thread allocates (a thread-local: the test
/// harness's other threads do not disturb the count).
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System`, only adding to a thread-local counter,
// which has no destructor and allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get() + layout.size()));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get() + new_size));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocated_by<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATED.with(Cell::get);
    let r = f();
    (ALLOCATED.with(Cell::get) - before, r)
}

#[test]
fn a_channel_of_zero_sized_values_allocates_no_buffer() {
    // The counter works: a ring of a million bytes is allocated.
    let (bytes, chan) = allocated_by(|| bounded::<u8>(1 << 20));
    assert!(bytes >= 1 << 20, "{bytes} bytes for bounded::<u8>(2^20)");
    drop(chan);
    // Go's `make(chan struct{}, n)` allocates no buffer, whatever `n`.
    for cap in [1, 1 << 20, 1 << 40, usize::MAX] {
        let (bytes, (tx, rx)) = allocated_by(|| bounded::<()>(cap));
        assert!(bytes < 1024, "{bytes} bytes for bounded::<()>({cap})");
        assert_eq!(tx.capacity(), Some(cap));
        let n = cap.min(1000);
        let (bytes, ()) = allocated_by(|| {
            for _ in 0..n {
                tx.send(()).unwrap();
            }
        });
        assert!(bytes < 1024, "{bytes} bytes for {n} buffered ()");
        assert_eq!(rx.len(), n);
        assert_eq!(rx.try_iter().count(), n);
    }
}

#[test]
fn a_bounded_channel_of_zero_sized_values_keeps_its_capacity() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<()>(3);
    assert!(rx.is_empty() && !tx.is_full());
    for _ in 0..3 {
        tx.try_send(()).unwrap();
    }
    assert!(tx.is_full() && rx.is_full());
    assert_eq!(rx.len(), 3);
    assert_eq!(tx.try_send(()), Err(TrySendError::Full(())));
    // A blocked send goes through once a receive makes room.
    let h = go({
        let tx = tx.clone();
        move || tx.send(())
    });
    rx.recv().unwrap();
    h.join().unwrap().unwrap();
    assert_eq!(rx.len(), 3);
    drop(tx);
    assert_eq!(rx.iter().count(), 3);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

/// A zero-sized value with a destructor: each one is dropped exactly once,
/// received or left in the channel.
struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn zero_sized_values_with_a_destructor_are_dropped_once() {
    let _rt = crate::mode::enter();
    // A reference-counted token is not zero-sized: a marker type is.
    struct Marker;
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    impl Drop for Marker {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    assert_eq!(size_of::<Marker>(), 0);
    let (tx, rx) = bounded::<Marker>(8);
    for _ in 0..8 {
        tx.send(Marker).unwrap();
    }
    drop(rx.recv().unwrap());
    drop(rx.recv().unwrap());
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    // The six left go with the channel.
    drop((tx, rx));
    assert_eq!(DROPS.load(Ordering::SeqCst), 8);
    // And the sized control case goes through the same paths.
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded::<Token>(4);
    tx.send(Token(drops.clone())).unwrap();
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn zero_sized_channels_in_selects() {
    let _rt = crate::mode::enter();
    let (tx1, rx1) = bounded::<()>(1);
    let (tx2, rx2) = bounded::<()>(1);
    // Both sends are ready once; then both channels are full.
    let mut sent = 0;
    for _ in 0..2 {
        select! {
            send(tx1, ()) -> r => { r.unwrap(); sent += 1; }
            send(tx2, ()) -> r => { r.unwrap(); sent += 1; }
        }
    }
    assert_eq!(sent, 2);
    assert!(tx1.is_full() && tx2.is_full());
    let mut sel = Select::new();
    sel.send(&tx1);
    sel.send(&tx2);
    assert!(sel.try_select().is_err());
    // A waiting select is woken by a receive on either channel.
    let h = go(move || {
        let mut sel = Select::new();
        let a = sel.send(&tx1);
        let b = sel.send(&tx2);
        let op = sel.select();
        let i = op.index();
        if i == a {
            op.send(&tx1, ()).unwrap();
        } else {
            assert_eq!(i, b);
            op.send(&tx2, ()).unwrap();
        }
    });
    rx2.recv().unwrap();
    h.join().unwrap();
    assert_eq!(rx1.len() + rx2.len(), 2);
}

#[test]
fn a_zero_sized_channel_as_a_counting_semaphore() {
    let _rt = crate::mode::enter();
    // Go's `sem := make(chan struct{}, 4)`: at most four inside at once.
    const LIMIT: usize = 4;
    const GOROUTINES: usize = 200;
    const ROUNDS: usize = 200;
    let (sem, slots) = bounded::<()>(LIMIT);
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..GOROUTINES)
        .map(|_| {
            let (sem, slots) = (sem.clone(), slots.clone());
            let (inside, most, total) = (inside.clone(), most.clone(), total.clone());
            go(move || {
                for _ in 0..ROUNDS {
                    sem.send(()).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    total.fetch_add(1, Ordering::SeqCst);
                    goro_sched::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                    slots.recv().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(total.load(Ordering::SeqCst), GOROUTINES * ROUNDS);
    assert!(most.load(Ordering::SeqCst) <= LIMIT);
    assert!(most.load(Ordering::SeqCst) >= 1);
    assert!(slots.is_empty());
}

/// Room a select reserved for a send whose value panicked goes back, and a
/// sender that waited for it meanwhile comes in (the buffer of a bounded
/// channel of zero-sized values is counted under the lock, where only
/// unbounded channels used to reserve room).
#[test]
#[allow(unreachable_code)] // the send arm's value panics
fn room_given_back_by_a_panicking_select_send_admits_a_waiting_sender() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded::<()>(1);
    let mut waiting = None;
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        select! {
            send(tx, {
                // Chosen: the only room is reserved. A sender comes and
                // waits for room, then the value panics.
                let tx2 = tx.clone();
                waiting = Some(go(move || tx2.send(())));
                while rx.__waiting().1 == 0 {
                    goro_sched::yield_now();
                }
                panic!("the value")
            }) -> _ => {}
            default(std::time::Duration::from_secs(1)) => {}
        }
    }));
    assert!(panicked.is_err());
    // The waiting sender got the room back at once: its value is buffered
    // (a receive would have taken it from the sender anyway, but `len`,
    // `try_send` and selects see the buffer).
    assert_eq!(rx.__waiting(), (0, 0));
    assert_eq!(rx.len(), 1);
    let got = rx.recv_timeout(std::time::Duration::from_secs(30));
    assert_eq!(got, Ok(()));
    waiting.unwrap().join().unwrap().unwrap();
    assert!(rx.is_empty());
    assert_eq!(rx.__waiting(), (0, 0));
}
