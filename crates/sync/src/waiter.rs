//! Wait lists: the queues every primitive of this crate parks its waiters in.
//!
//! A blocked `lock`, `wait` or `acquire` builds a [`Waiter`] on its own stack
//! (a goroutine's stack never moves), links it into the primitive's [`List`]
//! under the primitive's spin lock, releases the lock and waits. Whoever
//! completes it (an unlock, a notify, a release) *unlinks* it under the same
//! lock, and from then on owes it a grant: [`Granted::grant`] stores a token
//! in the waiter and wakes it, possibly after the lock is released (so that
//! a thread is never woken with a spin lock held).
//!
//! Memory safety rests on two rules:
//!
//! 1. A waiter is linked, unlinked and its `linked` flag read only under the
//!    lock of the list that holds it; its owner returns only once it is
//!    unlinked (by itself, under the lock, or by a granter).
//! 2. Once a granter has unlinked a waiter, the waiter does not return before
//!    its token is stored; the granter touches the waiter for the last time
//!    when it stores the token (it takes the waiter's unparker first).
//!
//! A waiter that gives up (a timeout, or its goroutine unwound by a dropped
//! runtime) unlinks itself if it is still linked; if a granter got there
//! first, the grant is coming and the waiter takes it (or, when unwinding,
//! hands it to its primitive to pass on, so that no wake-up is lost).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomPinned;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use goro_sched::park::{self, Wait, Waiting};
use goro_sched::spin::SpinLock;

/// Not granted yet. Tokens are any other value, chosen by each primitive.
const WAITING: usize = 0;

/// One blocked operation, on its owner's stack.
pub(crate) struct Waiter {
    waiting: Waiting,
    /// `WAITING`, then the token of the grant.
    token: AtomicUsize,
    /// The primitive's note about this waiter (a permit count, reader or
    /// writer, ...), set before it is linked.
    pub(crate) data: usize,
    /// The mutex's fairness clock: since when it is at the head of its
    /// list. Read and written under the list's lock (or by its owner while
    /// it is not linked and not granted).
    since: Cell<Option<Instant>>,
    /// Under the list's lock: whether it is in the list.
    linked: Cell<bool>,
    prev: Cell<*const Waiter>,
    next: Cell<*const Waiter>,
    /// Linked waiters are pointed to: they must not move.
    _pin: PhantomPinned,
}

impl Waiter {
    pub(crate) fn new(data: usize) -> Waiter {
        Waiter {
            waiting: Waiting::current(),
            token: AtomicUsize::new(WAITING),
            data,
            since: Cell::new(None),
            linked: Cell::new(false),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            _pin: PhantomPinned,
        }
    }

    /// The mutex's fairness clock (see the field). Under the list's lock,
    /// or by the owner while unlinked and not granted.
    pub(crate) fn since(&self) -> Option<Instant> {
        self.since.get()
    }

    /// Sets the fairness clock; same rule as [`since`](Waiter::since).
    pub(crate) fn set_since(&self, since: Option<Instant>) {
        self.since.set(since);
    }

    /// Makes a granted waiter ready to be linked again (a woken mutex waiter
    /// that lost the race).
    pub(crate) fn reset(&self) {
        debug_assert!(!self.linked.get());
        self.token.store(WAITING, Ordering::Relaxed);
    }

    /// Waits until a granter grants it; returns the token. With a deadline,
    /// returns `None` once it passes if the waiter could still withdraw:
    /// then `withdrawn` runs under `lock`, after the waiter is unlinked.
    ///
    /// If the goroutine is unwound meanwhile (its runtime was dropped), the
    /// waiter withdraws the same way or, if it was granted already, calls
    /// `lost` with the token (without the lock) so that the primitive can
    /// pass the grant on.
    ///
    /// The caller must have linked the waiter into the list that
    /// `list(&mut *lock.lock())` names, and released the lock.
    #[track_caller]
    pub(crate) fn wait<S>(
        &self,
        why: Wait,
        lock: &SpinLock<S>,
        list: fn(&mut S) -> &mut List,
        deadline: Option<Instant>,
        withdrawn: impl FnOnce(&mut S),
        lost: impl FnOnce(usize),
    ) -> Option<usize> {
        let mut guard = UnwindGuard {
            waiter: self,
            lock,
            list,
            withdrawn: Some(withdrawn),
            lost: Some(lost),
        };
        let mut deadline = deadline;
        loop {
            let token = self.token.load(Ordering::Acquire);
            if token != WAITING {
                guard.disarm();
                return Some(token);
            }
            match deadline {
                None => park::park_on(why),
                Some(d) if goro_sched::timer::now() >= d => {
                    let mut state = lock.lock();
                    if self.linked.get() {
                        // SAFETY: it is linked in this list, and we hold its lock.
                        unsafe { list(&mut state).unlink(self) };
                        if let Some(withdrawn) = guard.withdrawn.take() {
                            withdrawn(&mut state);
                        }
                        guard.disarm();
                        return None;
                    }
                    // A granter unlinked it: the grant is coming.
                    deadline = None;
                }
                Some(d) => park::park_deadline_on(d, why),
            }
        }
    }
}

/// Withdraws a waiter whose goroutine unwinds out of [`Waiter::wait`].
struct UnwindGuard<'a, S, W: FnOnce(&mut S), L: FnOnce(usize)> {
    waiter: &'a Waiter,
    lock: &'a SpinLock<S>,
    list: fn(&mut S) -> &mut List,
    withdrawn: Option<W>,
    lost: Option<L>,
}

impl<S, W: FnOnce(&mut S), L: FnOnce(usize)> UnwindGuard<'_, S, W, L> {
    fn disarm(&mut self) {
        self.withdrawn = None;
        self.lost = None;
    }
}

impl<S, W: FnOnce(&mut S), L: FnOnce(usize)> Drop for UnwindGuard<'_, S, W, L> {
    fn drop(&mut self) {
        let Some(lost) = self.lost.take() else {
            return; // returned normally
        };
        let mut state = self.lock.lock();
        if self.waiter.linked.get() {
            // SAFETY: it is linked in this list, and we hold its lock.
            unsafe { (self.list)(&mut state).unlink(self.waiter) };
            if let Some(withdrawn) = self.withdrawn.take() {
                withdrawn(&mut state);
            }
            return;
        }
        drop(state);
        // Unlinked by a granter: wait out the grant (it is a few instructions
        // away and needs no park), then pass it on.
        let token = loop {
            match self.waiter.token.load(Ordering::Acquire) {
                WAITING => std::hint::spin_loop(),
                token => break token,
            }
        };
        lost(token);
    }
}

/// An intrusive doubly linked FIFO of waiters; lives under a spin lock.
pub(crate) struct List {
    head: *const Waiter,
    tail: *const Waiter,
}

// SAFETY: the list holds pointers to waiters that are themselves shared
// across threads under the rules of the module docs; it is only touched
// under its primitive's lock.
unsafe impl Send for List {}

impl List {
    pub(crate) const fn new() -> List {
        List {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Whether it holds exactly one waiter.
    pub(crate) fn has_one(&self) -> bool {
        !self.head.is_null() && self.head == self.tail
    }

    /// The first waiter.
    pub(crate) fn front(&self) -> Option<&Waiter> {
        // SAFETY: linked waiters are alive (rule 1), and we are under the lock.
        unsafe { self.head.as_ref() }
    }

    /// Links `w` at the back.
    ///
    /// # Safety
    /// `w` is not linked, and its owner waits on it with [`Waiter::wait`]
    /// (which returns only once it is unlinked) after releasing this list's
    /// lock, so it stays in place while linked.
    pub(crate) unsafe fn push_back(&mut self, w: &Waiter) {
        debug_assert!(!w.linked.get());
        w.linked.set(true);
        w.prev.set(self.tail);
        w.next.set(ptr::null());
        match self.tail.is_null() {
            true => self.head = w,
            // SAFETY: the tail is a linked waiter, alive by rule 1.
            false => unsafe { (*self.tail).next.set(w) },
        }
        self.tail = w;
    }

    /// Links `w` at the front.
    ///
    /// # Safety
    /// As for [`push_back`](List::push_back).
    pub(crate) unsafe fn push_front(&mut self, w: &Waiter) {
        debug_assert!(!w.linked.get());
        w.linked.set(true);
        w.prev.set(ptr::null());
        w.next.set(self.head);
        match self.head.is_null() {
            true => self.tail = w,
            // SAFETY: the head is a linked waiter, alive by rule 1.
            false => unsafe { (*self.head).prev.set(w) },
        }
        self.head = w;
    }

    /// Unlinks `w`.
    ///
    /// # Safety
    /// `w` is linked in this list.
    unsafe fn unlink(&mut self, w: &Waiter) {
        debug_assert!(w.linked.get());
        let (prev, next) = (w.prev.get(), w.next.get());
        match prev.is_null() {
            true => self.head = next,
            // SAFETY: neighbours of a linked waiter are linked and alive.
            false => unsafe { (*prev).next.set(next) },
        }
        match next.is_null() {
            true => self.tail = prev,
            // SAFETY: as above.
            false => unsafe { (*next).prev.set(prev) },
        }
        w.linked.set(false);
    }

    /// Unlinks the first waiter; the caller owes it a grant.
    pub(crate) fn pop_front(&mut self) -> Option<Granted> {
        let head = self.head;
        if head.is_null() {
            return None;
        }
        // SAFETY: the head is linked here, and alive by rule 1.
        let w = unsafe { &*head };
        // SAFETY: `w` is linked in this list.
        unsafe { self.unlink(w) };
        Some(Granted { waiter: head })
    }

    /// Unlinks every waiter for which `pick(data)` holds, in order; the caller
    /// owes each a grant.
    pub(crate) fn drain_where(&mut self, mut pick: impl FnMut(usize) -> bool) -> Chain {
        let mut chain = Chain::default();
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: `cur` is linked here (we hold the lock), alive by rule 1.
            let w = unsafe { &*cur };
            cur = w.next.get();
            if pick(w.data) {
                // SAFETY: `w` is linked in this list.
                unsafe { self.unlink(w) };
                chain.push(w);
            }
        }
        chain
    }

    /// Unlinks every waiter; the caller owes each a grant.
    pub(crate) fn drain(&mut self) -> Chain {
        self.drain_where(|_| true)
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("empty", &self.is_empty())
            .finish()
    }
}

/// A waiter unlinked by a granter, owed a grant.
#[must_use = "an unlinked waiter waits for its grant forever"]
pub(crate) struct Granted {
    waiter: *const Waiter,
}

impl Granted {
    /// Stores `token` in the waiter and wakes it.
    pub(crate) fn grant(self, token: usize) {
        debug_assert_ne!(token, WAITING);
        // SAFETY: the waiter waits for this grant (rule 2): it is alive until
        // the store below, and its goroutine has not finished.
        let w = unsafe { &*self.waiter };
        // SAFETY: as above: the goroutine waits for this grant.
        let unparker = unsafe { w.waiting.unparker() };
        // After this store the waiter may return: `w`'s last use.
        w.token.store(token, Ordering::Release);
        unparker.wake();
    }
}

/// Waiters unlinked together (a `notify_all`), owed a grant each; kept in a
/// private list threaded through their own links, so granting them needs no
/// allocation and can wait until the primitive's lock is released.
#[must_use = "unlinked waiters wait for their grants forever"]
pub(crate) struct Chain {
    head: *const Waiter,
    tail: *const Waiter,
    len: usize,
}

impl Default for Chain {
    fn default() -> Chain {
        Chain {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }
}

impl Chain {
    fn push(&mut self, w: &Waiter) {
        w.next.set(ptr::null());
        match self.tail.is_null() {
            true => self.head = w,
            // SAFETY: the tail is an unlinked waiter owed our grant: alive.
            false => unsafe { (*self.tail).next.set(w) },
        }
        self.tail = w;
        self.len += 1;
    }

    /// How many waiters it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Grants each waiter `token`, in order.
    pub(crate) fn grant_all(self, token: usize) {
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: every waiter of the chain waits for our grant (rule 2);
            // its link is ours to read until we grant it.
            let next = unsafe { (*cur).next.get() };
            Granted { waiter: cur }.grant(token);
            cur = next;
        }
    }

    /// Whether the chain holds no waiter.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }
}
