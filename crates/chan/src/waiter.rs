//! Waiters: how a blocked send, receive or select waits, and how the
//! operation that completes it hands over.
//!
//! A blocked operation puts an [`Entry`] in the channel's queue of waiting
//! senders or receivers and waits on its [`Context`], which lives on its own
//! stack (a select shares one context among all its operations). Whoever
//! completes it first *claims* the context (a CAS from `WAITING` to the
//! number of the operation), does its part (writes the value into the
//! waiter's packet, takes the value out of it, reserves a buffer slot, or
//! notes that the channel closed), then sets `ready` and wakes the waiter.
//! A claim fails if another operation (or a timeout: `ABORTED`) got there
//! first; the claimer then drops the stale entry and moves on.
//!
//! Memory safety rests on three rules:
//!
//! 1. Claims are made under the lock of the channel whose queue holds the
//!    entry, and a waiter returns only once every entry of its is out of
//!    every queue: popped by a claimer under that queue's lock, or removed
//!    by the waiter itself under it (a select takes the lock of every
//!    channel it registered on once more, but the one whose claimer popped
//!    its only entry there). So nobody reaches a context through a queue
//!    after its owner has returned.
//! 2. After a successful claim, the waiter does not return (nor park) before
//!    `ready`; the claimer touches the context for the last time when it
//!    sets it (it has marked the owner woken first, and queues it after).
//! 3. A packet is touched only by its owner and by the claimer, in that order
//!    across `ready`.
//!
//! A claimer may also give a lone waiter back instead of completing it (a
//! chosen select operation that was dropped or completed the wrong way,
//! `Channel::abandon`): under the lock it popped the entry under, it pushes
//! the entry back and stores `WAITING` again ([`Context::unclaim`]), before
//! any wake-up. The waiter, which saw the claim or not, waits on as before
//! (its `abort` finds the entry again). A select claimed by CAS cannot be
//! put back so (claimers that saw the claim dropped its other entries): it
//! is woken as if completed, marked `given_back`, and tries again
//! ([`Context::give_back`]).

use std::cell::Cell;
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::time::Instant;

use goro_sched::park::{self, Home, Wait, Waiting};

/// Not selected yet.
pub(crate) const WAITING: usize = 0;
/// Gave up (timed out).
pub(crate) const ABORTED: usize = 1;

/// A blocked operation's (or a select's) state, shared with claimers.
pub(crate) struct Context {
    /// `WAITING`, `ABORTED`, or `oper + 2` for the operation that was chosen.
    selected: AtomicUsize,
    /// Set by the claimer once its part is done.
    ready: AtomicBool,
    /// Set by the claimer when the channel closed (instead of a hand-over).
    closed: AtomicBool,
    /// Set by a claimer that gave a select's claim up after all (its own
    /// select's chosen send was never completed, `Channel::abandon`): the
    /// select tries every operation again.
    given_back: AtomicBool,
    /// For a select's send operation claimed by a receiver that waits for the
    /// value: where to write it (see `Peer`).
    peer: AtomicPtr<()>,
    /// The owner, to wake.
    waiting: Waiting,
    /// Whose this is, to keep a select from pairing with itself.
    pub(crate) id: Cell<usize>,
}

// SAFETY: every field but `id` is atomic or immutable; `id` is written only
// by the owner before the context is shared.
unsafe impl Sync for Context {}

impl Context {
    pub(crate) fn new() -> Context {
        Context {
            selected: AtomicUsize::new(WAITING),
            ready: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            given_back: AtomicBool::new(false),
            peer: AtomicPtr::new(ptr::null_mut()),
            waiting: Waiting::current(),
            id: Cell::new(0),
        }
    }

    /// Whether it waits alone (a plain send or receive, in one queue), not
    /// as a select. A lone waiter is claimed by whoever pops its entry under
    /// the channel's lock (no CAS: `mark_claimed`), and withdraws by removing
    /// its entry under that lock.
    pub(crate) fn is_lone(&self) -> bool {
        self.id.get() == 0
    }

    /// Records the claim of operation `oper` by the one thread that can make
    /// it: the one that popped a lone waiter's entry under the channel's
    /// lock, or a select's send filling a receiver's `Peer`.
    pub(crate) fn mark_claimed(&self, oper: usize) {
        self.selected.store(oper + 2, Ordering::Relaxed);
    }

    /// Gives back the claim of a lone waiter (see the module docs): its
    /// claimer has not completed it, nor woken it, and has pushed its entry
    /// back into the queue it popped it from, whose lock it holds. So no
    /// wake-up is pending (`Waiting::wake`'s rule), and the waiter, alive
    /// until it sees `ready` or withdraws under that lock, may park again.
    pub(crate) fn unclaim(&self) {
        debug_assert!(self.is_lone(), "only a lone waiter's claim is given back");
        self.selected.store(WAITING, Ordering::Release);
    }

    /// Tries to choose operation `oper` of this waiter.
    pub(crate) fn try_claim(&self, oper: usize) -> bool {
        self.selected
            .compare_exchange(WAITING, oper + 2, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner gives up waiting; fails if an operation was chosen first.
    pub(crate) fn try_abort(&self) -> bool {
        self.selected
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The chosen operation, once one is.
    pub(crate) fn selected(&self) -> Option<usize> {
        match self.selected.load(Ordering::Acquire) {
            WAITING | ABORTED => None,
            n => Some(n - 2),
        }
    }

    /// The claimer is done: wakes the owner.
    ///
    /// Takes a raw pointer, not `&self`: once `ready` is set the owner may
    /// return and free the context while this function still runs, and a
    /// reference argument would have to stay valid to the end of the call.
    ///
    /// # Safety
    /// The caller claimed `this` and has not completed it (waiter rule 2).
    pub(crate) unsafe fn complete(this: *const Context, closed: bool, peer: *mut ()) {
        // SAFETY: per the contract the owner waits for `ready`, which only we
        // can set: it is alive until the store below, this borrow's last use.
        let ctx = unsafe { &*this };
        debug_assert!(ctx.selected().is_some(), "completed without a claim");
        if closed {
            ctx.closed.store(true, Ordering::Relaxed);
        }
        if !peer.is_null() {
            ctx.peer.store(peer, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract.
        unsafe { Self::wake(this) };
    }

    /// Wakes a select claimed by CAS without completing its operation: it
    /// tries every operation again (`given_back`). Unlike `unclaim`, the
    /// claim stands until the select has seen `ready`, so that its other
    /// entries, which claimers dropped as stale on seeing the claim, are
    /// not waited on.
    ///
    /// # Safety
    /// As `complete`: the caller claimed `this` and has not completed it.
    pub(crate) unsafe fn give_back(this: *const Context) {
        // SAFETY: as in `complete`.
        let ctx = unsafe { &*this };
        debug_assert!(!ctx.is_lone(), "a lone waiter is put back (`unclaim`)");
        ctx.given_back.store(true, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { Self::wake(this) };
    }

    /// Whether a claimer gave the claim up (`give_back`): read after `ready`.
    pub(crate) fn is_given_back(&self) -> bool {
        self.given_back.load(Ordering::Relaxed)
    }

    /// Sets `ready` and wakes the owner: the claimer's last touch.
    ///
    /// # Safety
    /// As `complete`.
    unsafe fn wake(this: *const Context) {
        // SAFETY: as in `complete`.
        let ctx = unsafe { &*this };
        // SAFETY: as above, the owner is still waiting; and `wait` never
        // parks once it sees the claim, which came before this.
        let woken = unsafe { ctx.waiting.wake() };
        ctx.ready.store(true, Ordering::Release);
        // Queues the owner, touching nothing of the context.
        drop(woken);
    }

    /// Waits without parking for the claimer to set `ready`: it is
    /// finishing and never waits for us, so this is short (and rare). False
    /// if it gave the claim back instead (`unclaim`): waiting again.
    fn await_claimer(&self) -> bool {
        let mut spins = 0u32;
        loop {
            if self.ready.load(Ordering::Acquire) {
                return true;
            }
            if self.selected.load(Ordering::Acquire) == WAITING {
                return false;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub(crate) fn peer(&self) -> *mut () {
        self.peer.load(Ordering::Relaxed)
    }

    /// Waits until a claimer is done, or until `deadline`. `Some(oper)` once
    /// done; `None` if it gave up at the deadline: `abort` withdrew it (and
    /// returned true), so nobody will claim it. `abort` returns false when a
    /// claimer got there first. `home` is where the channels waited on were
    /// made: a goroutine of a bubble waiting on another's counts as waiting
    /// outside its bubble (`Home::away`).
    // Inlined into every blocking operation: see `goro_sched::park::park_on`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        why: Wait,
        home: Home,
        abort: impl FnMut() -> bool,
    ) -> Option<usize> {
        if Home::bubbles_alive() {
            return self.wait_in_bubbles(deadline, why, home, abort);
        }
        self.wait_loop(deadline, why, abort)
    }

    /// `wait` while some bubble is alive: out of line, so that the guard
    /// kept across the parks costs nothing to the other waits (2% more
    /// instructions in `pingpong` when every wait held it).
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn wait_in_bubbles(
        &self,
        deadline: Option<Instant>,
        why: Wait,
        home: Home,
        abort: impl FnMut() -> bool,
    ) -> Option<usize> {
        let _away = home.away();
        self.wait_loop(deadline, why, abort)
    }

    #[inline(always)]
    #[track_caller]
    fn wait_loop(
        &self,
        deadline: Option<Instant>,
        why: Wait,
        mut abort: impl FnMut() -> bool,
    ) -> Option<usize> {
        loop {
            if self.ready.load(Ordering::Acquire) {
                return self.selected();
            }
            if self.selected.load(Ordering::Relaxed) > ABORTED {
                // Claimed: its wake-up may already have been consumed by a
                // park, and parking again now could sleep for good (see
                // `park::Waiting::wake`).
                if self.await_claimer() {
                    return self.selected();
                }
                // Given back (`unclaim`), with no wake-up sent: wait again.
                continue;
            }
            match deadline {
                // SAFETY: the context is ours: made by this goroutine or
                // thread, which is the one waiting.
                None => unsafe { self.waiting.park(why) },
                Some(d) => {
                    if goro_sched::timer::now() >= d {
                        if abort() {
                            return None;
                        }
                        // Claimed meanwhile: the claimer is about to finish
                        // (or to give the claim back, and then `abort`
                        // withdraws at the next turn).
                        continue;
                    }
                    park::park_deadline_on(d, why);
                }
            }
        }
    }
}

/// Withdraws a waiting operation whose goroutine unwinds out of
/// [`Context::wait`] (a dropped runtime unwinds its parked goroutines):
/// without it the channels' queues would keep entries pointing into the
/// unwound stack. It aborts the wait (`abort`, as in [`Context::wait`]), or
/// if an operation claimed it first waits for the claimer to finish
/// (claimers never wait for the owner, so this is short; one that gives the
/// claim back lets it abort after all), then runs `unregister` (waiter
/// rule 1).
///
/// Known gap: a select whose send a receiver claimed hands that receiver a
/// `Peer` to fill; if the select unwinds instead, the receiver waits for a
/// value that never comes.
pub(crate) struct Withdraw<'a, A: FnMut() -> bool, F: FnMut()> {
    ctx: &'a Context,
    abort: A,
    unregister: F,
    armed: bool,
}

impl<'a, A: FnMut() -> bool, F: FnMut()> Withdraw<'a, A, F> {
    pub(crate) fn new(ctx: &'a Context, abort: A, unregister: F) -> Withdraw<'a, A, F> {
        Withdraw {
            ctx,
            abort,
            unregister,
            armed: true,
        }
    }

    /// The wait returned normally: the caller cleans up itself.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl<A: FnMut() -> bool, F: FnMut()> Drop for Withdraw<'_, A, F> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // A claim given back (`unclaim`) leaves the entry to withdraw.
        while !(self.abort)() {
            if self.ctx.await_claimer() {
                break;
            }
        }
        (self.unregister)();
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("selected", &self.selected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A waiting operation in a channel's queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) ctx: *const Context,
    pub(crate) oper: usize,
    /// The waiter's `Option<T>`: to fill (a receiver), to empty (a sender),
    /// or null (a select's sender, whose value is not there yet).
    pub(crate) packet: *mut (),
}

// SAFETY: an entry is only a pointer pair; the rules in the module docs say
// who may follow them, from which thread, when.
unsafe impl Send for Entry {}

impl Entry {
    /// The entry's context.
    ///
    /// # Safety
    /// Only under the lock of the channel whose queue held the entry
    /// (rule 1), or after claiming it and before completing it (rule 2).
    pub(crate) unsafe fn ctx(&self) -> &Context {
        // SAFETY: per the contract, the owner has not returned.
        unsafe { &*self.ctx }
    }
}

/// Where a receiver that claimed a select's send operation waits for the
/// value: its own context and slot. The select's `send` writes the value and
/// completes `ctx`.
pub(crate) struct Peer<T> {
    pub(crate) ctx: Context,
    pub(crate) slot: Option<T>,
}
