//! The scheduler's timers: one heap per worker, no thread per timer.
//!
//! A goroutine that sleeps or parks with a deadline adds a timer to its
//! worker's heap and parks; whichever worker next looks at that heap after the
//! deadline (its owner in its loop, or any idle worker: all heaps are shared
//! under their own locks) wakes it. Each heap publishes its earliest deadline
//! in an atomic, so a worker about to sleep can set its timeout to the
//! earliest deadline of all heaps without taking their locks.
//!
//! The layers above use timers through `timer::call_at`: run a short
//! function on a worker at a deadline (time channels, `after_func`).
//!
//! Cancelling is lazy, as in Go: a cancelled timer stays in its heap, marked,
//! until it surfaces or until marked ones are half the heap, when the heap is
//! rebuilt without them.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::park::Unparker;

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// No deadline.
pub(crate) const NEVER: u64 = u64::MAX;

/// A timer that was added; `Timers::cancel` withdraws it.
pub(crate) struct TimerRef {
    slot: Arc<Slot>,
}

impl TimerRef {
    /// Whether it has neither fired nor been cancelled.
    pub(crate) fn is_pending(&self) -> bool {
        self.slot.state.load(Ordering::Acquire) == PENDING
    }
}

impl fmt::Debug for TimerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerRef")
            .field("heap", &self.slot.heap)
            .finish()
    }
}

struct Slot {
    state: AtomicU8,
    heap: usize,
    action: Action,
}

/// What a timer does when it fires.
pub(crate) enum Action {
    /// Wakes a parked goroutine or thread.
    Wake(Unparker),
    /// Runs a function on the worker that fires the timer; it must not block.
    Call(std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>),
}

impl Action {
    fn fire(&self) {
        match self {
            Action::Wake(unparker) => unparker.unpark(),
            Action::Call(f) => {
                let f = f.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(f) = f {
                    // A panic must not take the worker down with it.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
                }
            }
        }
    }
}

struct Entry {
    deadline: u64,
    seq: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first;
    /// equal deadlines fire in the order they were added.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Entry>,
    cancelled: usize,
    seq: u64,
}

/// All timer heaps of one runtime.
pub(crate) struct Timers {
    heaps: Box<[CachePadded<Mutex<Heap>>]>,
    /// Each heap's earliest deadline (`NEVER` if empty), in nanoseconds since
    /// `epoch`.
    earliest: Box<[CachePadded<AtomicU64>]>,
    /// Heaps `0..in_use` may hold timers (a spare's heap joins when the
    /// spare first starts, and stays: it may still hold timers).
    in_use: AtomicUsize,
    epoch: Instant,
    /// A bubble's virtual clock (`goro::test::run`), in ticks: the time
    /// the timers compare with; it moves only by `advance_to`. `None`: the
    /// real clock.
    clock: Option<AtomicU64>,
}

impl Timers {
    /// `virtual_clock`: the timers keep a bubble's clock (see `clock`).
    pub(crate) fn new(heaps: usize, in_use: usize, virtual_clock: bool) -> Timers {
        Timers {
            heaps: (0..heaps)
                .map(|_| CachePadded::new(Mutex::default()))
                .collect(),
            earliest: (0..heaps)
                .map(|_| CachePadded::new(AtomicU64::new(NEVER)))
                .collect(),
            in_use: AtomicUsize::new(in_use),
            epoch: Instant::now(),
            clock: virtual_clock.then(|| AtomicU64::new(0)),
        }
    }

    fn lock(&self, heap: usize) -> MutexGuard<'_, Heap> {
        // A heap's invariants hold between statements; nothing panics inside.
        self.heaps[heap].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Nanoseconds since the epoch, saturating.
    pub(crate) fn ticks(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.epoch);
        u64::try_from(d.as_nanos()).unwrap_or(NEVER - 1)
    }

    pub(crate) fn instant(&self, ticks: u64) -> Instant {
        self.epoch + Duration::from_nanos(ticks)
    }

    /// Whether these timers keep a virtual clock (a bubble's).
    pub(crate) fn is_virtual(&self) -> bool {
        self.clock.is_some()
    }

    /// The time the timers compare with, in ticks: the real clock's `now`,
    /// or the virtual clock.
    #[inline]
    pub(crate) fn now_from(&self, now: Instant) -> u64 {
        match &self.clock {
            None => self.ticks(now),
            Some(clock) => clock.load(Ordering::Acquire),
        }
    }

    /// The time the timers compare with, in ticks.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match &self.clock {
            None => self.ticks(Instant::now()),
            Some(clock) => clock.load(Ordering::Acquire),
        }
    }

    /// The clock the timers keep, as an `Instant` (the real one's `now` if
    /// they keep none).
    pub(crate) fn now_instant(&self) -> Instant {
        match &self.clock {
            None => Instant::now(),
            Some(clock) => self.instant(clock.load(Ordering::Acquire)),
        }
    }

    /// Moves the virtual clock forward to `ticks` (never back); returns
    /// whether it moved. Only for timers that keep one.
    pub(crate) fn advance_to(&self, ticks: u64) -> bool {
        let clock = self.clock.as_ref().expect("a virtual clock");
        clock.fetch_max(ticks, Ordering::AcqRel) < ticks
    }

    /// Adds a timer to `heap` that unparks `wake` at `deadline`. Returns the
    /// timer and whether it is now the earliest of its heap.
    pub(crate) fn add_to(
        &self,
        heap: usize,
        deadline: Instant,
        action: Action,
    ) -> (TimerRef, bool) {
        let deadline = self.ticks(deadline);
        let slot = Arc::new(Slot {
            state: AtomicU8::new(PENDING),
            heap,
            action,
        });
        let mut h = self.lock(heap);
        h.seq += 1;
        let seq = h.seq;
        h.entries.push(Entry {
            deadline,
            seq,
            slot: slot.clone(),
        });
        let earliest = h.entries.peek().is_some_and(|e| e.seq == seq);
        if earliest {
            self.earliest[heap].store(deadline, Ordering::SeqCst);
        }
        (TimerRef { slot }, earliest)
    }

    /// Withdraws a timer; returns whether it was still pending.
    pub(crate) fn cancel(&self, timer: &TimerRef) -> bool {
        if timer
            .slot
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let mut h = self.lock(timer.slot.heap);
        h.cancelled += 1;
        if h.cancelled > 64 && h.cancelled * 2 > h.entries.len() {
            let entries = std::mem::take(&mut h.entries);
            h.entries = entries
                .into_iter()
                .filter(|e| e.slot.state.load(Ordering::Acquire) == PENDING)
                .collect();
            h.cancelled = 0;
            self.publish(timer.slot.heap, &h);
        }
        true
    }

    fn publish(&self, heap: usize, h: &Heap) {
        let earliest = h.entries.peek().map_or(NEVER, |e| e.deadline);
        self.earliest[heap].store(earliest, Ordering::SeqCst);
    }

    /// How many heaps may hold timers.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }

    /// Heaps `0..n` may hold timers from now on.
    pub(crate) fn use_heaps(&self, n: usize) {
        self.in_use.fetch_max(n, Ordering::AcqRel);
    }

    /// The earliest deadline of all heaps, in ticks (`NEVER` if none).
    pub(crate) fn earliest(&self) -> u64 {
        self.earliest[..self.in_use()]
            .iter()
            .map(|e| e.load(Ordering::SeqCst))
            .min()
            .unwrap_or(NEVER)
    }

    /// The earliest deadline of a timer still pending, in ticks (`NEVER` if
    /// none): as `earliest`, after dropping the cancelled timers at the top
    /// of each heap (a bubble's clock moves to real deadlines only).
    pub(crate) fn earliest_pending(&self) -> u64 {
        for heap in 0..self.in_use() {
            let mut h = self.lock(heap);
            while h
                .entries
                .peek()
                .is_some_and(|e| e.slot.state.load(Ordering::Acquire) != PENDING)
            {
                h.entries.pop();
                h.cancelled = h.cancelled.saturating_sub(1);
            }
            self.publish(heap, &h);
        }
        self.earliest()
    }

    /// Fires every due timer of `heap`; returns how many woke someone. Skips a
    /// heap whose lock is busy unless `wait` is set.
    pub(crate) fn fire(&self, heap: usize, now: u64, wait: bool) -> usize {
        if self.earliest[heap].load(Ordering::SeqCst) > now {
            return 0;
        }
        let mut due = Vec::new();
        {
            let mut h = match self.heaps[heap].try_lock() {
                Ok(h) => h,
                Err(_) if wait => self.lock(heap),
                Err(_) => return 0,
            };
            while h.entries.peek().is_some_and(|e| e.deadline <= now) {
                let entry = h.entries.pop().expect("peeked");
                match entry.slot.state.compare_exchange(
                    PENDING,
                    FIRED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => due.push(entry.slot),
                    Err(_) => h.cancelled = h.cancelled.saturating_sub(1),
                }
            }
            self.publish(heap, &h);
        }
        for slot in &due {
            slot.action.fire();
        }
        due.len()
    }

    /// Fires the due timers of every heap, starting with `first`.
    pub(crate) fn fire_all(&self, first: usize, now: u64) -> usize {
        let n = self.in_use();
        (0..n).map(|i| self.fire((first + i) % n, now, false)).sum()
    }

    /// Drops every timer (at shutdown).
    pub(crate) fn clear(&self) {
        for i in 0..self.heaps.len() {
            let entries = std::mem::take(&mut self.lock(i).entries);
            drop(entries);
            self.earliest[i].store(NEVER, Ordering::SeqCst);
        }
    }
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("heaps", &self.heaps.len())
            .finish()
    }
}
