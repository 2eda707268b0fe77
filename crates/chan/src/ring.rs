//! The buffer of a bounded channel: a lock-free ring of slots, each with a
//! stamp that says which position it is ready for (Dmitry Vyukov's bounded
//! MPMC queue, as crossbeam-channel's `array` flavor has it).
//!
//! A sender and a receiver meet only in a slot: on two cores, one producing
//! and one consuming, they work at once instead of taking turns at a lock.
//! The channel's lock is left to the waiters (`channel.rs`).
//!
//! A position is `lap | index`: `index < cap`, and `lap` counts in steps of
//! `one_lap`, a power of two above `mark`, which is above every index. A
//! slot's stamp is the position it waits for: `pos` for the value a send
//! at `pos` writes, `pos + 1` once written (for the receive at `pos`), then
//! `pos + one_lap` for the next lap's send. `mark` set in `tail` closes the
//! ring to sends; set in a written slot's stamp it makes the slot a *hole*,
//! a reserved position given up without a value (a select's send that was
//! never completed), which receives skip; set in an unwritten slot's stamp
//! (`pos | mark`) it says a select's chosen send holds the position.
//!
//! Sends and receives never wait for a lock. Each may wait, briefly, for the
//! other side's operation on the same slot to finish: between its position
//! taken and its stamp stored, a slot is neither empty nor full. That window
//! is a few instructions, but for a select's send, which is held from its
//! choice until `SelectedOperation::send` (see `Ring::reserve`); so the
//! wait spins a little, then yields (`Patience`). A held position's stamp
//! says so (`pos | mark`, `Ring::hold`): `try_recv` waits for a plain
//! send's value (answering empty while a later slot holds a value whose
//! send has returned would not be linearizable), not for a held one (it
//! may be the caller's own).

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{self, AtomicUsize, Ordering};

use crossbeam_utils::Backoff;

/// Waits for another operation on the same slot: spins a little, then
/// yields, the goroutine if it is one (the other may be a goroutine of this
/// very worker, a select's send held until it completes), else the thread.
struct Patience(u32);

impl Patience {
    fn wait(&mut self) {
        if self.0 < 4 {
            for _ in 0..1u32 << self.0 {
                std::hint::spin_loop();
            }
            self.0 += 1;
        } else {
            goro_sched::yield_now();
        }
    }
}

struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Seven words, ends and all. The ends are not padded apart (as
/// crossbeam's are, against false sharing between a producer's core and a
/// consumer's): a goroutine's channels are mostly cold when it comes back
/// to them, and three lines a ring cost `ring1` (503 channels of one slot,
/// each touched once a lap) 14%, while `mpmc` and `select-buffered`
/// (producers and consumers on both cores) ran as fast unpadded. (Aligned
/// to a line of its own, `ring1` ran 2% slower than as allocated.)
pub(crate) struct Ring<T> {
    /// The next position to receive from.
    head: AtomicUsize,
    /// The next position to send to, with `mark` once closed.
    tail: AtomicUsize,
    slots: Box<[Slot<T>]>,
    mark: usize,
    one_lap: usize,
    /// A receive at a position with none of these bits set is a
    /// *checkpoint*, one in about `CHECKPOINT_EVERY` (`Ring::pop_at`).
    checkpoint: usize,
}

/// About how many receives from one ring pass between two checkpoints.
const CHECKPOINT_EVERY: usize = 256;

// SAFETY: values move between threads through the ring, each slot's value
// accessed only by the one operation that holds its position (the stamps'
// release and acquire order those accesses).
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Ring<T> {}

/// Why the ring refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Full, to a send; empty, to a receive.
    NotNow,
    /// Closed: to a send at once, to a receive once drained.
    Closed,
}

/// A position taken by a send, to be written (or given up) once.
#[derive(Debug)]
pub(crate) struct Reserved {
    index: usize,
    /// The stamp that publishes the value.
    stamp: usize,
}

impl<T> Ring<T> {
    /// A ring of `cap` slots, `cap > 0`.
    ///
    /// # Panics
    /// If `cap` slots cannot be had (as Go's `make` panics on a size out of
    /// range).
    pub(crate) fn new(cap: usize) -> Ring<T> {
        assert!(cap > 0, "a ring has room");
        let mark = cap
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            .filter(|&mark| mark <= usize::MAX / 4)
            .filter(|_| {
                cap.checked_mul(size_of::<Slot<T>>())
                    .is_some_and(|bytes| bytes <= isize::MAX as usize)
            })
            .unwrap_or_else(|| panic!("channel capacity {cap} is out of range"));
        // Asked of the allocator first: a buffer it cannot give is a panic
        // that names the capacity, as Go's "makechan: size out of range",
        // not an abort of the process.
        let mut slots = Vec::new();
        if slots.try_reserve_exact(cap).is_err() {
            panic!(
                "channel capacity {cap} is out of range: its buffer ({} bytes) cannot be allocated",
                cap.saturating_mul(size_of::<Slot<T>>())
            );
        }
        slots.extend((0..cap).map(|i| Slot {
            stamp: AtomicUsize::new(i),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        let slots = slots.into_boxed_slice();
        Ring {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            slots,
            mark,
            one_lap: mark * 2,
            checkpoint: Self::checkpoint_mask(cap, mark),
        }
    }

    /// Takes the values still in the ring out without dropping them (a
    /// value's `Drop` panicked while the receiver's drop emptied it:
    /// dropping the rest while that panic unwinds could panic again and
    /// abort).
    pub(crate) fn leak_rest(&self) {
        while let Ok(value) = self.pop(false) {
            std::mem::forget(value);
        }
    }

    /// The bits of a position that are zero at a checkpoint. A ring of
    /// `CHECKPOINT_EVERY` slots or more: the low bits of the index (slots
    /// 0, 256, 512... of every lap; a lap is a power of two of at least
    /// 512 positions, so the lap bits are above them). A smaller ring: the
    /// whole index (slot 0) and the low bits of the lap, so that every
    /// `CHECKPOINT_EVERY / cap`-th lap (rounded up to a power of two) has
    /// one. Either way one in 128 to 512 positions.
    fn checkpoint_mask(cap: usize, mark: usize) -> usize {
        if cap >= CHECKPOINT_EVERY {
            return CHECKPOINT_EVERY - 1;
        }
        let laps = CHECKPOINT_EVERY.div_ceil(cap).next_power_of_two();
        let lap_shift = (mark * 2).trailing_zeros();
        (mark - 1) | (laps - 1).checked_shl(lap_shift).unwrap_or(0)
    }

    fn cap(&self) -> usize {
        self.slots.len()
    }

    /// The position after `pos`.
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.mark - 1);
        if index + 1 < self.cap() {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Takes the next position for a value; `NotNow` if full.
    ///
    /// The caller writes it with `write` or gives it up with `abandon`;
    /// receives from this position on wait until it does (a receive that
    /// comes meanwhile waits, spinning and then yielding its thread).
    pub(crate) fn reserve(&self) -> Result<Reserved, Refused> {
        let backoff = Backoff::new();
        let mut patience = Patience(0);
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark != 0 {
                return Err(Refused::Closed);
            }
            let index = tail & (self.mark - 1);
            let slot = &self.slots[index];
            // A hole is as full as a written slot, to a send.
            let stamp = slot.stamp.load(Ordering::Acquire) & !self.mark;
            if stamp == tail {
                // SeqCst: ordered before the caller's check for waiting
                // receivers (see `Channel::notify`).
                match self.tail.compare_exchange_weak(
                    tail,
                    self.next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        return Ok(Reserved {
                            index,
                            stamp: tail + 1,
                        });
                    }
                    Err(now) => {
                        tail = now;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1
                || stamp.wrapping_add(self.one_lap) == tail
            {
                // Last lap's value is still here (or still being written: a
                // select's send holds its position until it completes): full,
                // unless a receive has taken its position and is reading it.
                atomic::fence(Ordering::SeqCst);
                if self.head.load(Ordering::Relaxed).wrapping_add(self.one_lap) == tail {
                    return Err(Refused::NotNow);
                }
                patience.wait();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another send took this position: look again.
                patience.wait();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Writes the reserved position's value: receives may take it now.
    pub(crate) fn write(&self, reserved: Reserved, value: T) {
        let slot = &self.slots[reserved.index];
        // SAFETY: the reservation is this position's only holder (its
        // stamp is not yet stored), and the slot holds no value: last
        // lap's receive read it out before storing the stamp we saw.
        unsafe { slot.value.get().write(MaybeUninit::new(value)) };
        slot.stamp.store(reserved.stamp, Ordering::Release);
    }

    /// Marks a reserved position as *held*: its value comes only when a
    /// select's chosen send is completed, after the caller's code has run
    /// (the `select!` arm's value). A receive that is not `patient` does
    /// not wait for it (it may be the caller's own), where it waits for a
    /// plain send's value being written.
    pub(crate) fn hold(&self, reserved: &Reserved) {
        // Relaxed: only this reservation stores to the slot until `write`
        // or `abandon`, whose later stores supersede it (same thread); a
        // receive that still reads the unmarked stamp waits and reads again.
        self.slots[reserved.index]
            .stamp
            .store((reserved.stamp - 1) | self.mark, Ordering::Relaxed);
    }

    /// Gives a reserved position up. If it is still the last position
    /// taken, it is given back, as if never taken: true (room came back:
    /// the caller wakes a waiting sender). Else it becomes a hole, which
    /// receives skip: false (the caller wakes a waiting receiver to skip
    /// it, or the room stays taken).
    pub(crate) fn abandon(&self, reserved: Reserved) -> bool {
        let pos = reserved.stamp - 1;
        let slot = &self.slots[reserved.index];
        // Not held any more: a receive at `pos` that reads this waits
        // (`pop`'s plain-send case) until the tail moves back or the hole
        // is stamped.
        slot.stamp.store(pos, Ordering::Relaxed);
        // SeqCst: as a reservation's CAS, ordered before the caller's check
        // for waiting senders (see `Channel::notify`). Release also orders
        // the store above before a later send that takes `pos` again (its
        // CAS reads this one's value), so that its stamp comes after ours.
        // Fails if a later send took the next position, or if closed.
        if self
            .tail
            .compare_exchange(self.next(pos), pos, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        slot.stamp
            .store(reserved.stamp | self.mark, Ordering::Release);
        false
    }

    /// Takes the next value: `Ok(None)` if that position was a hole (a slot
    /// freed all the same), `NotNow` if empty, `Closed` if closed and empty.
    /// A plain send's value being written is waited for; a held position
    /// (`hold`) is waited for if `patient`, else `NotNow` (it may be the
    /// caller's own select's send).
    ///
    /// Not `patient`, it is linearizable but for held positions: `NotNow`
    /// only once it has seen `tail == head` (after its fence), an instant
    /// at which no position was taken by a send and not by a receive.
    pub(crate) fn pop(&self, patient: bool) -> Result<Option<T>, Refused> {
        self.pop_at(patient).map(|(value, _)| value)
    }

    /// Whether a send's position is a checkpoint (see `pop_at`).
    pub(crate) fn is_checkpoint(&self, reserved: &Reserved) -> bool {
        (reserved.stamp - 1) & self.checkpoint == 0
    }

    /// `pop`, and whether the position taken was a checkpoint: there the
    /// channel lets other goroutines of its worker run (`Channel::pop`).
    pub(crate) fn pop_at(&self, patient: bool) -> Result<(Option<T>, bool), Refused> {
        let backoff = Backoff::new();
        let mut patience = Patience(0);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark - 1);
            let slot = &self.slots[index];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp & !self.mark == head + 1 {
                // SeqCst: ordered before the caller's check for waiting
                // senders (see `Channel::notify`).
                match self.head.compare_exchange_weak(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let value = (stamp & self.mark == 0).then(|| {
                            // SAFETY: the stamp (acquired) says the value for
                            // this position is written, and our CAS made the
                            // position ours alone: we move it out once.
                            let value = unsafe { slot.value.get().read() };
                            // SAFETY: written, as above.
                            unsafe { value.assume_init() }
                        });
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Ok((value, head & self.checkpoint == 0));
                    }
                    Err(now) => {
                        head = now;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // Nothing written here: empty, unless a send has taken the
                // position and is writing it.
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail & !self.mark == head {
                    return Err(if tail & self.mark == 0 {
                        Refused::NotNow
                    } else {
                        Refused::Closed
                    });
                }
                // A plain send writes its position right after taking it,
                // with nobody's code in between (it cannot be this
                // goroutine's): waited for even if not `patient`. Calling
                // the ring empty here would be wrong: a later position may
                // hold the value of a send that has returned.
                patience.wait();
                head = self.head.load(Ordering::Relaxed);
            } else if stamp == head | self.mark {
                // Held by a select's chosen send (`hold`) until its caller
                // completes it, perhaps this very goroutine.
                if !patient {
                    return Err(Refused::NotNow);
                }
                patience.wait();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another receive took this position (or, a lap on, is
                // still reading it): look again.
                patience.wait();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Closes the ring to sends; false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        self.tail.fetch_or(self.mark, Ordering::SeqCst) & self.mark == 0
    }

    /// Whether a send could go ahead (`send`) or a receive (`!send`), or the
    /// ring is closed. Reads only; for a waiter's last look before it parks,
    /// after a SeqCst fence, and for a hand-over's look under the channel's
    /// lock (`Channel::hand_over`: a position taken by a send that returned
    /// before it began happened before the look, which so sees it).
    pub(crate) fn may_be_ready(&self, send: bool) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail & self.mark != 0 {
            return true;
        }
        let head = self.head.load(Ordering::Relaxed);
        if send {
            head.wrapping_add(self.one_lap) != tail
        } else {
            head != tail
        }
    }

    /// Whether a receive would find something now (a value, a hole, a plain
    /// send's value being written, or the ring closed), not counting a
    /// position that a select's chosen send holds (`hold`): receives wait
    /// behind it, and a watcher (`Select::ready`) that counted it ready
    /// came back at once, again and again, while the holder could not run.
    /// For a watcher's looks, after a SeqCst fence.
    pub(crate) fn receive_ready(&self) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail & self.mark != 0 {
            return true;
        }
        let head = self.head.load(Ordering::Relaxed);
        if head == tail {
            return false;
        }
        let stamp = self.slots[head & (self.mark - 1)]
            .stamp
            .load(Ordering::Acquire);
        stamp != head | self.mark
    }

    /// Positions taken by sends and not yet by receives (holes and values
    /// being written included).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // A consistent pair: the tail did not move meanwhile.
            if self.tail.load(Ordering::SeqCst) != tail {
                continue;
            }
            let hix = head & (self.mark - 1);
            let tix = tail & (self.mark - 1);
            return if hix < tix {
                tix - hix
            } else if hix > tix {
                self.cap() - hix + tix
            } else if tail & !self.mark == head {
                0
            } else {
                self.cap()
            };
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Alone now. Between head and tail, a position holds a value, a
        // hole, or nothing if its reservation was forgotten (`mem::forget`
        // of a `SelectedOperation`): only the stamp `pos + 1` says written.
        let mut pos = *self.head.get_mut();
        let tail = *self.tail.get_mut() & !self.mark;
        while pos != tail {
            let slot = &mut self.slots[pos & (self.mark - 1)];
            if *slot.stamp.get_mut() == pos + 1 {
                // SAFETY: a written, unreceived value (not a hole): dropped
                // once, as the ring goes.
                unsafe { slot.value.get_mut().assume_init_drop() };
            }
            pos = self.next(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_come_about_every_few_hundred_receives() {
        for cap in [1, 2, 3, 5, 100, 255, 256, 257, 1000, 1024, 3000, 100_000] {
            let ring = Ring::<u8>::new(cap);
            let (mut checkpoints, mut sends_at) = (0, 0);
            let n = 1 << 14;
            for _ in 0..n {
                let r = ring.reserve().unwrap();
                sends_at += usize::from(ring.is_checkpoint(&r));
                ring.write(r, 0);
                let (value, checkpoint) = ring.pop_at(false).unwrap();
                assert_eq!(value, Some(0));
                checkpoints += usize::from(checkpoint);
            }
            // A send's position and the receive's are the same ones.
            assert_eq!(checkpoints, sends_at, "cap {cap}");
            // One in 128 to 512 positions, whatever the capacity.
            let every = n / checkpoints;
            assert!((128..=512).contains(&every), "cap {cap}: every {every}");
        }
    }

    #[test]
    fn fifo_through_many_laps_with_holes_skipped() {
        let ring = Ring::new(3);
        let mut expect = std::collections::VecDeque::new();
        for i in 0..100u32 {
            let r = ring.reserve().unwrap();
            if i % 7 == 3 {
                // Given up after a later position was taken: a hole.
                let later = ring.reserve().unwrap();
                ring.write(later, i);
                expect.push_back(i);
                assert!(!ring.abandon(r));
            } else if i % 7 == 5 {
                // Given up as the last position taken: given back.
                ring.hold(&r);
                assert!(ring.abandon(r));
            } else {
                ring.write(r, i);
                expect.push_back(i);
            }
            if i % 2 == 1 {
                while let Ok(got) = ring.pop(true) {
                    if let Some(v) = got {
                        assert_eq!(Some(v), expect.pop_front());
                    }
                }
                assert!(expect.is_empty());
            }
        }
    }

    #[test]
    fn full_empty_len_and_close() {
        let ring = Ring::new(2);
        assert_eq!(ring.pop(true), Err(Refused::NotNow));
        assert!(ring.may_be_ready(true) && !ring.may_be_ready(false));
        let r = ring.reserve().unwrap();
        ring.write(r, 'a');
        let r = ring.reserve().unwrap();
        ring.write(r, 'b');
        assert_eq!(ring.len(), 2);
        assert!(matches!(ring.reserve(), Err(Refused::NotNow)));
        assert!(!ring.may_be_ready(true) && ring.may_be_ready(false));
        assert!(ring.close());
        assert!(!ring.close());
        assert!(matches!(ring.reserve(), Err(Refused::Closed)));
        assert_eq!(ring.pop(true), Ok(Some('a')));
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.pop(true), Ok(Some('b')));
        assert_eq!(ring.pop(true), Err(Refused::Closed));
    }

    #[test]
    fn dropping_the_ring_drops_what_it_holds_once() {
        let counter = std::sync::Arc::new(());
        let ring = Ring::new(4);
        for _ in 0..6 {
            let r = ring.reserve().unwrap();
            ring.write(r, counter.clone());
            drop(ring.pop(true));
            let r = ring.reserve().unwrap();
            ring.write(r, counter.clone());
            if let Ok(r) = ring.reserve() {
                ring.abandon(r);
            }
            drop(ring.pop(true));
        }
        // A hole, then a value, are left too.
        let hole = ring.reserve().unwrap();
        let r = ring.reserve().unwrap();
        ring.write(r, counter.clone());
        assert!(!ring.abandon(hole));
        assert!(std::sync::Arc::strong_count(&counter) > 1);
        drop(ring);
        assert_eq!(std::sync::Arc::strong_count(&counter), 1);
    }

    #[test]
    fn a_held_position_given_back_is_room_again() {
        let ring = Ring::new(2);
        let r = ring.reserve().unwrap();
        ring.write(r, 1);
        let held = ring.reserve().unwrap();
        ring.hold(&held);
        assert_eq!(ring.len(), 2);
        assert!(matches!(ring.reserve(), Err(Refused::NotNow)));
        assert!(ring.abandon(held));
        assert_eq!(ring.len(), 1);
        let r = ring.reserve().unwrap();
        ring.write(r, 2);
        assert_eq!(ring.pop(false), Ok(Some(1)));
        assert_eq!(ring.pop(false), Ok(Some(2)));
        assert_eq!(ring.pop(false), Err(Refused::NotNow));
    }

    #[test]
    fn capacity_out_of_range_is_named() {
        let Err(err) = std::panic::catch_unwind(|| Ring::<u8>::new(usize::MAX)) else {
            panic!("a ring of usize::MAX slots");
        };
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("out of range"), "{msg}");
        // Within the arithmetic limits, but more than any allocator gives
        // (issue 17, bug 6: it aborted the process).
        let Err(err) = std::panic::catch_unwind(|| Ring::<u64>::new(1 << 40)) else {
            panic!("a ring of 2^40 slots");
        };
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("cannot be allocated"), "{msg}");
    }

    #[test]
    fn threads_pass_every_value_once() {
        let ring = std::sync::Arc::new(Ring::new(8));
        let per = 20_000u64;
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        let r = loop {
                            match ring.reserve() {
                                Ok(r) => break r,
                                Err(_) => std::thread::yield_now(),
                            }
                        };
                        ring.write(r, p * per + i);
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    let (mut sum, mut n) = (0u64, 0u64);
                    loop {
                        match ring.pop(true) {
                            Ok(Some(v)) => {
                                sum += v;
                                n += 1;
                            }
                            Ok(None) => unreachable!("no holes here"),
                            Err(Refused::Closed) => return (sum, n),
                            Err(Refused::NotNow) => std::thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        ring.close();
        let (sum, n) = consumers
            .into_iter()
            .map(|c| c.join().unwrap())
            .fold((0, 0), |(s, n), (s2, n2)| (s + s2, n + n2));
        assert_eq!(n, 2 * per);
        assert_eq!(sum, (0..2 * per).sum::<u64>());
    }
}
