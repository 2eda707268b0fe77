//! A loom model of the netpoller's per-direction waiter slot (`poll.rs`,
//! `Slot`: Go's `rg` / `wg`): every interleaving and every memory-order
//! outcome allowed by C11, for a waiter that tries its "system call", arms
//! the slot and parks, against the poller (readiness) and a deadline change
//! (`Registration::wake`).
//!
//! The slot's methods are copied one for one (`ready`, `take_waiter`, `arm`,
//! `disarm`); the goroutine is a loom thread whose park token is loom's
//! `thread::park` / `unpark` (the same semantics as `Task::park` / `wake`:
//! a wake-up before the park is kept). The "descriptor" is a counter of
//! bytes that the poller's side makes available *before* it reports
//! readiness, as the kernel does. Checked:
//!
//! - no lost wake-up: the waiter, which loops "try, arm, park, disarm" until
//!   it has read the data, always finishes (loom reports a deadlock
//!   otherwise), whatever the interleaving with a readiness event and a
//!   deadline-change wake-up;
//! - a deadline change is never missed (`a_deadline_change_is_never_missed`);
//! - the waiter's reference is taken out of the slot by exactly one party
//!   (counted by `taken`: never two, and the waiter's own `disarm` counts
//!   too), and the slot is left with no waiter.
//!
//! Run with `RUSTFLAGS="--cfg goro_loom" cargo test --release -p goro-sched
//! --test loom_poll` (`ci/loom.sh`).

#![cfg(goro_loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread::{self, Thread};

const EMPTY: usize = 0;
const READY: usize = 1;
const WAITING: usize = 2;
const TAKING: usize = 3;

/// The waiter's counted reference: a thread handle plus a count of the
/// parties that took it (exactly one per armed wait).
struct TaskRef {
    thread: Thread,
    taken: Arc<AtomicUsize>,
}

impl TaskRef {
    fn wake(self) {
        self.taken.fetch_add(1, Ordering::Relaxed);
        self.thread.unpark();
    }

    fn drop_own(self) {
        self.taken.fetch_add(1, Ordering::Relaxed);
    }
}

struct Slot {
    state: AtomicUsize,
    waiter: UnsafeCell<Option<TaskRef>>,
}

// SAFETY: as the real `Slot`'s.
unsafe impl Sync for Slot {}
// SAFETY: as above.
unsafe impl Send for Slot {}

fn spin() {
    thread::yield_now();
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: AtomicUsize::new(EMPTY),
            waiter: UnsafeCell::new(None),
        }
    }

    /// `waiter`, by whoever the state gave it to (loom checks that the
    /// accesses never race).
    fn take_cell(&self) -> Option<TaskRef> {
        // SAFETY: only called by the state's owner of the cell; loom's
        // `UnsafeCell` reports any access that races.
        self.waiter.with_mut(|w| unsafe { (*w).take() })
    }

    fn put_cell(&self, task: TaskRef) {
        // SAFETY: as in `take_cell`.
        self.waiter.with_mut(|w| unsafe { *w = Some(task) });
    }

    fn ready(&self) -> Option<TaskRef> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state {
                // Still a write (READY -> READY): the waiter that consumes
                // the latch must acquire what came before this event too
                // (the data). A plain load here let loom find a waiter
                // that consumed an older latch, read no data and parked
                // for good.
                READY => match self.state.compare_exchange(
                    READY,
                    READY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return None,
                    Err(now) => state = now,
                },
                WAITING => {
                    if let Err(now) = self.state.compare_exchange(
                        WAITING,
                        TAKING,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        state = now;
                        continue;
                    }
                    let task = self.take_cell();
                    self.state.store(READY, Ordering::Release);
                    return task;
                }
                TAKING => {
                    spin();
                    state = self.state.load(Ordering::Acquire);
                }
                _ => match self.state.compare_exchange(
                    EMPTY,
                    READY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return None,
                    Err(now) => state = now,
                },
            }
        }
    }

    fn take_waiter(&self) -> Option<TaskRef> {
        if self.state.load(Ordering::Acquire) != WAITING
            || self
                .state
                .compare_exchange(WAITING, TAKING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return None;
        }
        let task = self.take_cell();
        self.state.store(EMPTY, Ordering::Release);
        task
    }

    fn arm(&self, task: TaskRef) -> bool {
        if self
            .state
            .compare_exchange(READY, EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return false;
        }
        self.put_cell(task);
        match self
            .state
            .compare_exchange(EMPTY, WAITING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(now) => {
                assert_eq!(now, READY);
                // Never published: not a take.
                drop(self.take_cell());
                self.state.swap(EMPTY, Ordering::AcqRel);
                false
            }
        }
    }

    fn disarm(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state {
                WAITING => match self.state.compare_exchange(
                    WAITING,
                    EMPTY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        let own = self.take_cell();
                        own.expect("our own reference").drop_own();
                        return false;
                    }
                    Err(now) => state = now,
                },
                TAKING => {
                    spin();
                    state = self.state.load(Ordering::Acquire);
                }
                READY => match self.state.compare_exchange(
                    READY,
                    EMPTY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return true,
                    Err(now) => state = now,
                },
                _ => return false,
            }
        }
    }
}

/// The waiter's loop: try (read the data), on "EAGAIN" arm and park,
/// disarm, try again; returns how many waits it armed.
fn waiter(slot: &Slot, data: &AtomicUsize, taken: &Arc<AtomicUsize>) -> usize {
    let mut armed = 0;
    loop {
        if data.load(Ordering::Acquire) > 0 {
            return armed;
        }
        let me = TaskRef {
            thread: thread::current(),
            taken: taken.clone(),
        };
        if slot.arm(me) {
            armed += 1;
            thread::park();
            slot.disarm();
        }
    }
}

/// Readiness against a waiter: the data is never missed.
#[test]
fn readiness_is_never_lost() {
    loom::model(|| {
        let slot = Arc::new(Slot::new());
        let data = Arc::new(AtomicUsize::new(0));
        let taken = Arc::new(AtomicUsize::new(0));
        let (s, d) = (slot.clone(), data.clone());
        let poller = thread::spawn(move || {
            // The kernel: data first, then the (edge) event.
            d.store(1, Ordering::Release);
            if let Some(task) = s.ready() {
                task.wake();
            }
        });
        let armed = waiter(&slot, &data, &taken);
        poller.join().unwrap();
        assert_eq!(taken.load(Ordering::Relaxed), armed);
        assert_ne!(slot.state.load(Ordering::Acquire), WAITING);
    });
}

/// Readiness and a deadline change's wake-up at once: one party takes the
/// waiter each time, and the data is still never missed.
#[test]
fn readiness_and_a_deadline_wake_take_the_waiter_once() {
    loom::model(|| {
        let slot = Arc::new(Slot::new());
        let data = Arc::new(AtomicUsize::new(0));
        let taken = Arc::new(AtomicUsize::new(0));
        let (s, d) = (slot.clone(), data.clone());
        let poller = thread::spawn(move || {
            d.store(1, Ordering::Release);
            if let Some(task) = s.ready() {
                task.wake();
            }
        });
        let s = slot.clone();
        let deadline = thread::spawn(move || {
            if let Some(task) = s.take_waiter() {
                task.wake();
            }
        });
        let armed = waiter(&slot, &data, &taken);
        poller.join().unwrap();
        deadline.join().unwrap();
        assert_eq!(taken.load(Ordering::Relaxed), armed);
        assert_ne!(slot.state.load(Ordering::Acquire), WAITING);
    });
}

/// A stale readiness (latched before the waiter's attempt succeeded) costs
/// one extra round, never a hang; two events in a row are fine too.
#[test]
fn two_events_and_a_latched_one() {
    loom::model(|| {
        let slot = Arc::new(Slot::new());
        let data = Arc::new(AtomicUsize::new(0));
        let taken = Arc::new(AtomicUsize::new(0));
        // A stale latch from an earlier event.
        slot.state.store(READY, Ordering::Relaxed);
        let (s, d) = (slot.clone(), data.clone());
        let poller = thread::spawn(move || {
            for _ in 0..2 {
                if let Some(task) = s.ready() {
                    task.wake();
                }
            }
            d.store(1, Ordering::Release);
            if let Some(task) = s.ready() {
                task.wake();
            }
        });
        let armed = waiter(&slot, &data, &taken);
        poller.join().unwrap();
        assert_eq!(taken.load(Ordering::Relaxed), armed);
    });
}

/// A deadline changed (expired) while the waiter arms: either the waiter
/// reads the change after it is in the slot (`wait_with`'s second look,
/// after a `SeqCst` fence), or the changer's `wake` (fence, then
/// `take_waiter`) finds it there. Without either look, loom finds the
/// waiter parked for good.
#[test]
fn a_deadline_change_is_never_missed() {
    loom::model(|| {
        let slot = Arc::new(Slot::new());
        let expired = Arc::new(AtomicUsize::new(0));
        let taken = Arc::new(AtomicUsize::new(0));
        let (s, e) = (slot.clone(), expired.clone());
        let changer = thread::spawn(move || {
            e.store(1, Ordering::SeqCst);
            loom::sync::atomic::fence(Ordering::SeqCst);
            if let Some(task) = s.take_waiter() {
                task.wake();
            }
        });
        let mut armed = 0;
        loop {
            if expired.load(Ordering::SeqCst) == 1 {
                break;
            }
            let me = TaskRef {
                thread: thread::current(),
                taken: taken.clone(),
            };
            if !slot.arm(me) {
                continue;
            }
            armed += 1;
            loom::sync::atomic::fence(Ordering::SeqCst);
            if expired.load(Ordering::SeqCst) == 1 {
                slot.disarm();
                break;
            }
            thread::park();
            slot.disarm();
        }
        changer.join().unwrap();
        assert_eq!(taken.load(Ordering::Relaxed), armed);
        assert_ne!(slot.state.load(Ordering::Acquire), WAITING);
    });
}
