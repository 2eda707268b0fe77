//! The channel: two queues of waiters behind one lock (`spin.rs`), as Go's
//! `hchan`, and a buffer; and its two ends.
//!
//! Every flavor is this one type. `cap == Some(0)` is Go's unbuffered
//! channel: a send completes only when a receiver takes the value, written
//! straight into the waiting receiver's slot. `None` is unbounded, its
//! buffer a `VecDeque` under the lock. The lock is held for a few dozen
//! instructions and never across a park or a wake-up. Selects on these
//! reserve before they commit: a ready receive reserves a buffered value
//! (`recv_reserved`), a ready send a free slot (`send_reserved`), so that
//! the chosen operation still succeeds when it completes a moment later.
//!
//! `Some(n)`, `n > 0`, buffers in a lock-free ring (`ring.rs`) outside the
//! lock: senders and receivers on two cores work at once, where with a lock
//! they took turns, each turn moving the lock's line between the cores.
//! Its waiters are woken, not handed a value: a full ring's sender waits for
//! room and then tries again, an empty ring's receiver for a value. How no
//! wake-up is lost is told at `Channel::notify`. Values of no size never
//! take a ring: counted in the `VecDeque`, they need no buffer.
//!
//! `Select::ready` waits for readiness without performing an operation: a
//! *watcher* (a select's context and operation number) in `watchers`,
//! claimed and woken by whoever unlocks the channel with the operation
//! ready; with a ring, an entry marked `WATCH` among the ring's waiters,
//! whose wake-up goes on to a real waiter too.

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{self, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::err::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::ring::{Refused, Reserved, Ring};
use crate::waiter::{Context, Entry, Peer, Withdraw};
use goro_sched::park::{Home, Wait};
use goro_sched::spin::{SpinGuard, SpinLock};

pub(crate) struct Channel<T> {
    inner: SpinLock<Inner<T>>,
    /// The buffer of `bounded(n)`, `n > 0`. Boxed: inline, its seven words
    /// would make every channel larger.
    ring: Option<Box<Ring<T>>>,
    /// Without a ring: what a select may find ready without the lock
    /// (`RECV_READY`, `SEND_READY`), as of the last unlock; a hint, which a
    /// select checks under the lock before it acts on it, and which its
    /// registration checks again when it says "not ready". With a ring:
    /// which queues have waiters (`RECV_READY` for receivers, `SEND_READY`
    /// for senders), and `RECV_PLAIN` if the first receiver is a plain
    /// receive (a send may hand it its value: `hand_over`), as of the last
    /// unlock.
    hint: AtomicU8,
    /// The ends, counted outside the lock (a clone or a drop that is not
    /// the last takes no lock: `skynet` clones a sender per goroutine); the
    /// last one's drop takes the lock to close.
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Time channels and `never()` stay open without senders.
    never_closes: bool,
    /// `None`: unbounded.
    cap: Option<usize>,
    /// Where it was made (which `goro::test::run` bubble, if any): a
    /// bubble's goroutine waiting on a channel made elsewhere does not let
    /// its clock move (`Context::wait`).
    pub(crate) home: Home,
}

/// A receive may be ready: a value, a waiting sender (perhaps a stale
/// entry), or closed.
const RECV_READY: u8 = 1;
/// A send may be ready: room, a waiting receiver (perhaps stale), or closed.
const SEND_READY: u8 = 2;
/// A ring's: the first waiting receiver is a plain receive.
const RECV_PLAIN: u8 = 4;

struct Inner<T> {
    buf: VecDeque<T>,
    /// Buffered values promised to selected receives.
    recv_reserved: usize,
    /// Free slots promised to selected sends.
    send_reserved: usize,
    /// Closed by `close()` or by the last sender's drop.
    closed: bool,
    /// Every receiver is gone.
    no_receivers: bool,
    recvq: VecDeque<Entry>,
    sendq: VecDeque<Entry>,
    /// Without a ring: `Select::ready`'s, waiting for an operation (a send
    /// if `.1`) to be ready, woken when the lock is released with it so
    /// (`Guard::drop`). Boxed, and `None` when empty: 24 bytes more in
    /// every channel took its block to the pool's next size class, and
    /// `ring1` (503 channels) and `mpmc` 8-14% longer.
    #[allow(clippy::box_collection)] // one word in the channel, not three
    watchers: Option<Box<Vec<(Entry, bool)>>>,
}

/// The packet of a watcher among a ring's waiters (theirs are null): its
/// wake-up is passed on to a waiter that acts (`Channel::wake_one`).
const WATCH: *mut () = std::ptr::dangling_mut::<u8>().cast();

/// Room for a select's receive to be handed an `Option<T>` without an
/// allocation, when it fits (as `Option<u64>` or a pointer pair does).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct Scratch([std::mem::MaybeUninit<u64>; 4]);

impl Scratch {
    pub(crate) const fn new() -> Scratch {
        Scratch([std::mem::MaybeUninit::uninit(); 4])
    }

    /// Whether a `P` fits.
    pub(crate) const fn fits<P>() -> bool {
        size_of::<P>() <= size_of::<Scratch>() && align_of::<P>() <= align_of::<Scratch>()
    }

    fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr().cast()
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scratch")
    }
}

/// What a select's operation found ready, for its completion.
#[derive(Debug)]
pub(crate) enum Token {
    /// A buffered value (receive) or a free slot (send) reserved for it.
    Reserved,
    /// A waiting operation claimed for it: a sender whose value is at
    /// `packet`, or a receiver whose slot is at `packet`. Completing it
    /// completes `ctx`.
    Claimed(Entry),
    /// A value received on the select's behalf, in a heap `Option<T>` (an
    /// `Option<T>` too large for `Inline`).
    Packet(*mut ()),
    /// A receiver waits for the value at this `Peer<T>`.
    Peer(*mut ()),
    /// A value received on the select's behalf into its scratch space,
    /// moved here: an `Option<T>`.
    Inline(Scratch),
    /// A position in the ring, taken for a select's send to write.
    Slot(Reserved),
    /// The channel is closed.
    Closed,
}

impl<T> Channel<T> {
    fn new(cap: Option<usize>, never_closes: bool) -> Channel<T> {
        // Values of no size need no buffer: a bounded channel of them keeps
        // its (allocation-free) `VecDeque` under the lock, as unbounded
        // channels do, where a ring would spend a stamp per slot
        // (`bounded::<()>(n)` took 8n bytes; Go allocates nothing).
        let ring = cap
            .filter(|&n| n > 0 && size_of::<T>() > 0)
            .map(|n| Box::new(Ring::new(n)));
        Channel {
            inner: SpinLock::new(Inner {
                buf: VecDeque::new(),
                recv_reserved: 0,
                send_reserved: 0,
                closed: false,
                no_receivers: false,
                recvq: VecDeque::new(),
                sendq: VecDeque::new(),
                watchers: None,
            }),
            // Room at first, unless unbuffered (or a ring, whose hint is
            // about waiters).
            hint: AtomicU8::new(if ring.is_none() && cap != Some(0) {
                SEND_READY
            } else {
                0
            }),
            ring,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            never_closes,
            cap,
            home: Home::current(),
        }
    }

    fn lock(&self) -> Guard<'_, T> {
        Guard {
            inner: ManuallyDrop::new(self.inner.lock()),
            chan: self,
        }
    }

    /// Whether a select's operation may be ready, by the hint or the ring
    /// (no lock).
    pub(crate) fn may_be_ready(&self, send: bool) -> bool {
        if let Some(ring) = &self.ring {
            return ring.may_be_ready(send);
        }
        let bit = if send { SEND_READY } else { RECV_READY };
        self.hint.load(Ordering::Relaxed) & bit != 0
    }

    /// Whether it is a `never()` (the only unbuffered channel that stays
    /// open without senders).
    fn is_never(&self) -> bool {
        self.never_closes && self.cap == Some(0)
    }

    /// Whether its buffer is a ring, whose waiters are woken to try again.
    pub(crate) fn is_ring(&self) -> bool {
        self.ring.is_some()
    }

    pub(crate) fn addr(&self) -> usize {
        self as *const Self as usize
    }
}

/// The channel's lock, held: refreshes the readiness hint when released
/// (before the unlock, whose release publishes it with everything else),
/// and wakes the watchers whose operation it left ready.
struct Guard<'a, T> {
    /// Released in `drop` (only there), before the watchers are woken.
    inner: ManuallyDrop<SpinGuard<'a, Inner<T>>>,
    chan: &'a Channel<T>,
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.refresh_hint();
        if self.inner.watchers.is_some() {
            self.unlock_waking_watchers();
        } else {
            // SAFETY: released once, here, as the guard goes; never touched
            // after.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
    }
}

impl<T> Guard<'_, T> {
    /// Claims the watchers whose operation is ready, unlocks, and wakes
    /// them (no wake-up under the lock). Only from `drop`.
    #[cold]
    fn unlock_waking_watchers(&mut self) {
        let cap = self.chan.cap;
        let inner = &mut **self.inner;
        let ready = [inner.is_ready(false, cap), inner.is_ready(true, cap)];
        let mut woken = Vec::new();
        let watchers = inner.watchers.as_mut().expect("called with watchers");
        watchers.retain(|&(entry, send)| {
            if !ready[usize::from(send)] {
                return true;
            }
            // SAFETY: a watcher in this channel's list, which we hold the
            // lock of (waiter rule 1, the list standing for a queue).
            let ctx = unsafe { entry.ctx() };
            if ctx.try_claim(entry.oper) {
                woken.push(entry);
            }
            // Claimed now, or elsewhere before (stale): out either way.
            false
        });
        if watchers.is_empty() {
            inner.watchers = None;
        }
        // SAFETY: released once, here, from `drop`, which touches the guard
        // no more.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
        for entry in woken {
            complete(Some(entry), false);
        }
    }

    fn refresh_hint(&self) {
        let inner = &**self.inner;
        if self.chan.ring.is_some() {
            let mut waiting = 0;
            if let Some(first) = inner.recvq.front() {
                waiting |= RECV_READY;
                if is_plain_receive(first) {
                    waiting |= RECV_PLAIN;
                }
            }
            if !inner.sendq.is_empty() {
                waiting |= SEND_READY;
            }
            self.chan.hint.store(waiting, Ordering::Relaxed);
            return;
        }
        let closed = inner.disconnected();
        let mut hint = 0;
        if closed || inner.has_value() || !inner.sendq.is_empty() {
            hint |= RECV_READY;
        }
        if closed || inner.has_room(self.chan.cap) || !inner.recvq.is_empty() {
            hint |= SEND_READY;
        }
        self.chan.hint.store(hint, Ordering::Relaxed);
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = Inner<T>;

    fn deref(&self) -> &Inner<T> {
        &self.inner
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut Inner<T> {
        &mut self.inner
    }
}

impl<T> Inner<T> {
    /// The queue of waiting sends, or of waiting receives.
    fn queue(&mut self, send: bool) -> &mut VecDeque<Entry> {
        if send {
            &mut self.sendq
        } else {
            &mut self.recvq
        }
    }

    fn disconnected(&self) -> bool {
        self.closed || self.no_receivers
    }

    fn has_room(&self, cap: Option<usize>) -> bool {
        match cap {
            None => true,
            Some(cap) => self.buf.len() + self.send_reserved < cap,
        }
    }

    fn has_value(&self) -> bool {
        self.buf.len() > self.recv_reserved
    }

    /// Whether a send (if `send`) or a receive could go ahead now, without a
    /// ring: closed, a value or room, or a partner waiting.
    fn is_ready(&self, send: bool, cap: Option<usize>) -> bool {
        self.disconnected()
            || if send {
                self.has_room(cap) || Self::has_waiter(&self.recvq, 0)
            } else {
                self.has_value() || Self::has_waiter(&self.sendq, 0)
            }
    }

    /// Pops the first waiter of `queue` that can still be claimed, claiming
    /// it; stale entries (claimed elsewhere, or by `skip`) are dropped.
    fn claim(queue: &mut VecDeque<Entry>, skip: usize) -> Option<Entry> {
        let mut i = 0;
        while i < queue.len() {
            let entry = queue[i];
            // SAFETY: the entry is in this channel's queue and we hold its
            // lock (waiter rule 1).
            let ctx = unsafe { entry.ctx() };
            if skip != 0 && ctx.id.get() == skip {
                i += 1;
                continue;
            }
            if i == 0 {
                queue.pop_front();
            } else {
                queue.remove(i);
            }
            if ctx.is_lone() {
                // Popped under the lock: ours (see `Context::is_lone`).
                ctx.mark_claimed(entry.oper);
                return Some(entry);
            }
            if ctx.try_claim(entry.oper) {
                return Some(entry);
            }
        }
        None
    }

    /// A ring's queue of receives: pops and claims its first waiter if
    /// that one is a plain receive (see `Channel::hand_over`).
    fn claim_plain_receiver(queue: &mut VecDeque<Entry>) -> Option<Entry> {
        let entry = *queue.front().filter(|e| is_plain_receive(e))?;
        queue.pop_front();
        // SAFETY: as in `claim`.
        let ctx = unsafe { entry.ctx() };
        debug_assert!(ctx.is_lone(), "a plain receive waits alone");
        // Popped under the lock: ours (see `Context::is_lone`).
        ctx.mark_claimed(entry.oper);
        Some(entry)
    }

    /// Whether some waiter in `queue`, not `skip`'s, could be claimed.
    fn has_waiter(queue: &VecDeque<Entry>, skip: usize) -> bool {
        queue.iter().any(|e| {
            // SAFETY: as in `claim`.
            let ctx = unsafe { e.ctx() };
            (skip == 0 || ctx.id.get() != skip) && ctx.selected().is_none()
        })
    }

    /// After a value left the buffer: lets a waiting sender in, by taking its
    /// value or by reserving a slot for a select's send. Returns whom to wake.
    fn admit_sender(&mut self, cap: Option<usize>) -> Option<Entry> {
        if !self.has_room(cap) {
            return None;
        }
        let entry = Self::claim(&mut self.sendq, 0)?;
        if entry.packet.is_null() {
            self.send_reserved += 1;
        } else {
            // SAFETY: a waiting sender's packet holds its `Option<T>` until we
            // complete it (waiter rule 3).
            let value = unsafe { (*entry.packet.cast::<Option<T>>()).take() };
            self.buf.extend(value);
        }
        Some(entry)
    }
}

/// Whether `entry`, in a ring's queue of receives, is a plain receive's
/// (`recv_ring`): the only ones there with a packet, which a send may fill
/// (`Channel::hand_over`). A select's receive has none (it is woken to look
/// at the ring), a watcher `WATCH`. A plain receive waits alone and takes
/// its entry out itself when it stops waiting: never a stale entry.
fn is_plain_receive(entry: &Entry) -> bool {
    !entry.packet.is_null() && entry.packet != WATCH
}

/// Completes claimed waiters once the channel's lock is released.
fn complete(entry: Option<Entry>, closed: bool) {
    if let Some(entry) = entry {
        // SAFETY: we claimed it and have not completed it (waiter rule 2).
        unsafe { Context::complete(entry.ctx, closed, std::ptr::null_mut()) };
    }
}

// ---------------------------------------------------------------------------
// Sending

impl<T> Channel<T> {
    /// Sends without waiting if it can: to a waiting receiver, or into the
    /// buffer. Gives the value and the lock back when it would have to wait.
    fn send_now<'a>(&'a self, mut inner: Guard<'a, T>, value: T) -> SendNow<'a, T> {
        if inner.disconnected() {
            return SendNow::Closed(value);
        }
        if let Some(entry) = Inner::<T>::claim(&mut inner.recvq, 0) {
            drop(inner);
            // SAFETY: a waiting receiver's packet is its empty `Option<T>`,
            // ours to fill until we complete it.
            unsafe { *entry.packet.cast::<Option<T>>() = Some(value) };
            complete(Some(entry), false);
            return SendNow::Sent;
        }
        if inner.has_room(self.cap) {
            inner.buf.push_back(value);
            return SendNow::Sent;
        }
        SendNow::Full(value, inner)
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if let Some(ring) = &self.ring {
            return match ring.reserve() {
                Ok(reserved) => {
                    // A try never switches: no checkpoint.
                    self.write(ring, reserved, value, false);
                    Ok(())
                }
                Err(Refused::NotNow) => Err(TrySendError::Full(value)),
                Err(Refused::Closed) => Err(TrySendError::Closed(value)),
            };
        }
        match self.send_now(self.lock(), value) {
            SendNow::Sent => Ok(()),
            SendNow::Closed(value) => Err(TrySendError::Closed(value)),
            SendNow::Full(value, _) => Err(TrySendError::Full(value)),
        }
    }

    #[track_caller]
    pub(crate) fn send(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        if let Some(ring) = &self.ring {
            return self.send_ring(ring, value, deadline);
        }
        let (value, mut inner) = match self.send_now(self.lock(), value) {
            SendNow::Sent => return Ok(()),
            SendNow::Closed(value) => return Err(SendTimeoutError::Closed(value)),
            SendNow::Full(value, inner) => (value, inner),
        };
        if deadline.is_some_and(|d| goro_sched::timer::now() >= d) {
            return Err(SendTimeoutError::Timeout(value));
        }
        // Wait, with the value in a packet on this stack.
        let ctx = Context::new();
        let mut packet = Some(value);
        inner.sendq.push_back(Entry {
            ctx: &ctx,
            oper: 0,
            packet: (&raw mut packet).cast(),
        });
        drop(inner);
        let abort = || self.unregister(&ctx, true);
        let withdraw = Withdraw::new(&ctx, abort, || {});
        let outcome = ctx.wait(deadline, Wait::ChanSend, self.home, abort);
        withdraw.disarm();
        match outcome {
            Some(_) if ctx.is_closed() => Err(SendTimeoutError::Closed(
                packet.take().expect("a closed send keeps its value"),
            )),
            Some(_) => Ok(()),
            // Withdrawn: our entry is gone, the value is still ours.
            None => Err(SendTimeoutError::Timeout(
                packet.take().expect("an aborted send keeps its value"),
            )),
        }
    }

    /// Removes every entry of `ctx` from the queue of sends or of receives
    /// (waiter rule 1). Whether there was one: a lone waiter that gives up
    /// learns so whether a claimer popped its entry first (and will
    /// complete it).
    pub(crate) fn unregister(&self, ctx: &Context, send: bool) -> bool {
        let mut inner = self.lock();
        let ptr: *const Context = ctx;
        let queue = inner.queue(send);
        let before = queue.len();
        queue.retain(|e| e.ctx != ptr);
        queue.len() != before
    }
}

// ---------------------------------------------------------------------------
// Receiving

impl<T> Channel<T> {
    /// Takes a value if one can be had at once. Gives the lock back only
    /// when there was none (so the caller can register).
    #[track_caller]
    fn take_ready<'a>(&'a self, mut inner: Guard<'a, T>) -> (Ready<T>, Option<Guard<'a, T>>) {
        loop {
            if inner.has_value() {
                let value = inner.buf.pop_front().expect("has_value");
                let admitted = inner.admit_sender(self.cap);
                drop(inner);
                complete(admitted, false);
                return (Ready::Value(value), None);
            }
            if let Some(entry) = Inner::<T>::claim(&mut inner.sendq, 0) {
                drop(inner);
                if let Some(value) = take_from_sender::<T>(entry, self.home) {
                    return (Ready::Value(value), None);
                }
                // A select's send, given up (its `select!` value panicked):
                // as if it had never been there.
                inner = self.lock();
                continue;
            }
            if inner.disconnected() {
                return (Ready::Closed, None);
            }
            return (Ready::Empty, Some(inner));
        }
    }

    #[track_caller]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(ring) = &self.ring {
            // Waits for a plain send's value being written, never for a
            // chosen select's send (perhaps this goroutine's own), which
            // makes the channel look empty until completed.
            return self.pop(ring, false).map(|(value, _)| value).map_err(
                |refused| match refused {
                    Refused::NotNow => TryRecvError::Empty,
                    Refused::Closed => TryRecvError::Closed,
                },
            );
        }
        match self.take_ready(self.lock()).0 {
            Ready::Value(value) => Ok(value),
            Ready::Closed => Err(TryRecvError::Closed),
            Ready::Empty => Err(TryRecvError::Empty),
        }
    }

    #[track_caller]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        if let Some(ring) = &self.ring {
            return self.recv_ring(ring, deadline);
        }
        let mut inner = match self.take_ready(self.lock()) {
            (Ready::Value(value), _) => return Ok(value),
            (Ready::Closed, _) => return Err(RecvTimeoutError::Closed),
            (Ready::Empty, inner) => inner.expect("the lock comes back with Empty"),
        };
        if deadline.is_some_and(|d| goro_sched::timer::now() >= d) {
            return Err(RecvTimeoutError::Timeout);
        }
        let ctx = Context::new();
        let mut packet: Option<T> = None;
        inner.recvq.push_back(Entry {
            ctx: &ctx,
            oper: 0,
            packet: (&raw mut packet).cast(),
        });
        drop(inner);
        let abort = || self.unregister(&ctx, false);
        let withdraw = Withdraw::new(&ctx, abort, || {});
        let outcome = ctx.wait(deadline, Wait::ChanReceive, self.home, abort);
        withdraw.disarm();
        match outcome {
            Some(_) => packet.ok_or(RecvTimeoutError::Closed),
            // Withdrawn: our entry is gone.
            None => Err(RecvTimeoutError::Timeout),
        }
    }
}

/// What `send_now` did.
enum SendNow<'a, T> {
    Sent,
    Closed(T),
    /// It would have to wait: the value and the lock, to register.
    Full(T, Guard<'a, T>),
}

enum Ready<T> {
    Value(T),
    Closed,
    Empty,
}

/// Takes the value of a claimed waiting sender, waiting for it if the sender
/// is a select whose value comes only when its `send` runs. `None` if that
/// select gave the send up instead (`Channel::abandon`, `Token::Peer`): the
/// caller tries again, as if the send had never been there.
#[track_caller]
fn take_from_sender<T>(entry: Entry, home: Home) -> Option<T> {
    if !entry.packet.is_null() {
        // SAFETY: a waiting sender's packet holds its value until we complete
        // it (waiter rule 3).
        let value = unsafe { (*entry.packet.cast::<Option<T>>()).take() };
        complete(Some(entry), false);
        return Some(value.expect("a waiting sender has a value"));
    }
    let mut peer = Peer::<T> {
        ctx: Context::new(),
        slot: None,
    };
    // SAFETY: we claimed it and have not completed it (waiter rule 2).
    unsafe { Context::complete(entry.ctx, false, (&raw mut peer).cast()) };
    // (A select between its claim and its `send`: a plain thread's, if the
    // channel was made outside this bubble, which then must not count this
    // wait as durable: `home`, the channel's.)
    peer.ctx.wait(None, Wait::ChanReceive, home, || false);
    peer.slot
}

// ---------------------------------------------------------------------------
// The ring's operations

/// At a ring's checkpoint (one position in about 256, `Ring::pop_at`), an
/// operation that may park anyway lets the goroutines of its worker run
/// first, if some wait. A receiver that never has to wait, its senders on
/// other workers keeping it fed (or a sender whose receivers keep up),
/// would otherwise hold its worker for good, and the goroutines that
/// started there, its own senders among them, would wait until it is done
/// (a goroutine keeps its thread; Go's would be taken by another P). The
/// `select-buffered` workload ran 1.5-2x slower for it. Cheap when nobody
/// waits: a look at this worker's queue a couple of hundred operations
/// apart. A `try_` operation never switches, so never yields.
#[inline]
fn checkpoint() {
    goro_sched::__private::yield_to_local_work();
}

thread_local! {
    /// A select's operation passed a checkpoint: the next blocking select
    /// of this thread yields on entry (`take_checkpoint`), not with a
    /// chosen operation in hand (a send's held slot would hold receivers),
    /// nor in a select that must not switch (`try_select`).
    static CHECKPOINT: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    /// Sends of this thread handed straight to a receiver (`hand_over`),
    /// which take no ring position: one in 256 counts as a checkpoint, as
    /// one position in about 256 does.
    static HANDED_OVER: Cell<u8> = const { Cell::new(0) };
}

/// A send was handed over: a checkpoint once in 256 (see `HANDED_OVER`).
/// A sender whose receivers (on other workers) always wait for it never
/// takes a position, and would otherwise never let its worker's other
/// goroutines run.
#[inline]
fn handed_over() {
    let n = HANDED_OVER.get().wrapping_add(1);
    HANDED_OVER.set(n);
    if n == 0 {
        checkpoint();
    }
}

#[cold]
fn checkpoint_passed() {
    CHECKPOINT.set(true);
}

/// Yields if a select's operation of this thread passed a checkpoint since
/// the last call (see `checkpoint`): at the start of a select that may park.
#[inline]
pub(crate) fn take_checkpoint() {
    if CHECKPOINT.get() {
        CHECKPOINT.set(false);
        checkpoint();
    }
}

impl<T> Channel<T> {
    #[track_caller]
    fn send_ring(
        &self,
        ring: &Ring<T>,
        mut value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        loop {
            if self.hint.load(Ordering::Relaxed) & RECV_PLAIN != 0 {
                match self.hand_over(ring, value) {
                    Ok(()) => {
                        handed_over();
                        return Ok(());
                    }
                    Err(back) => value = back,
                }
            }
            match ring.reserve() {
                Ok(reserved) => {
                    if self.write(ring, reserved, value, false) {
                        checkpoint();
                    }
                    return Ok(());
                }
                Err(Refused::Closed) => return Err(SendTimeoutError::Closed(value)),
                Err(Refused::NotNow) => {}
            }
            if deadline.is_some_and(|d| goro_sched::timer::now() >= d)
                || !self.wait_ring(ring, true, deadline)
            {
                return Err(SendTimeoutError::Timeout(value));
            }
        }
    }

    #[track_caller]
    fn recv_ring(&self, ring: &Ring<T>, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        // Where a send hands its value over while we wait (`hand_over`).
        let mut packet: Option<T> = None;
        loop {
            match self.pop(ring, true) {
                Ok((value, passed)) => {
                    if passed {
                        checkpoint();
                    }
                    return Ok(value);
                }
                Err(Refused::Closed) => return Err(RecvTimeoutError::Closed),
                Err(Refused::NotNow) => {}
            }
            if deadline.is_some_and(|d| goro_sched::timer::now() >= d)
                || !self.wait_ring_entry(ring, false, deadline, (&raw mut packet).cast())
            {
                return Err(RecvTimeoutError::Timeout);
            }
            if let Some(value) = packet.take() {
                return Ok(value);
            }
        }
    }

    /// A send that found a plain receive first in the queue (`RECV_PLAIN`;
    /// a select's receive, or a watcher, has no packet and is woken to look
    /// at the ring): hands its value straight to it, as Go's `chansend`
    /// does on any channel, if it still is first and the ring is empty,
    /// with no position taken (so a value sent before this send began is
    /// received first). The value back if not: the caller goes through
    /// the ring.
    ///
    /// Saves both sides a trip through the ring: the send its position and
    /// the wake-up's second lock, the receiver its second look. (`ring1`,
    /// 503 goroutines passing a token over `bounded(1)`: a woken receiver
    /// went back to the ring where Go's had the value in hand; issue 17.)
    #[inline(never)]
    fn hand_over(&self, ring: &Ring<T>, value: T) -> Result<(), T> {
        let mut inner = self.lock();
        // Not while sends wait: one of them may have been woken for room
        // in the ring, and it must take that room (or the next pop's
        // wake-up goes to it again), else a sender woken for it that
        // handed its value over instead would leave the others waiting
        // beside an empty ring (`break_chan`'s producers, on one worker).
        if inner.disconnected() || ring.may_be_ready(false) || !inner.sendq.is_empty() {
            return Err(value);
        }
        let Some(entry) = Inner::<T>::claim_plain_receiver(&mut inner.recvq) else {
            return Err(value);
        };
        drop(inner);
        // SAFETY: a plain ring receive's packet is its empty `Option<T>`
        // (`recv_ring`), ours to fill until we complete it (waiter rule 3).
        unsafe { *entry.packet.cast::<Option<T>>() = Some(value) };
        complete(Some(entry), false);
        Ok(())
    }

    /// Writes a reserved position and wakes a waiting receiver, if any;
    /// whether the position was a checkpoint (see `checkpoint`). A position
    /// a select's chosen send `held` is fenced first (SeqCst, pairing with
    /// the one before a watcher's last look): a watcher that saw it held is
    /// woken (see `ring_ready`). A plain send needs no fence: its position
    /// was taken by a SeqCst CAS.
    fn write(&self, ring: &Ring<T>, reserved: Reserved, value: T, held: bool) -> bool {
        let checkpoint = ring.is_checkpoint(&reserved);
        ring.write(reserved, value);
        if held {
            atomic::fence(Ordering::SeqCst);
        }
        self.notify(false);
        checkpoint
    }

    /// The next value, skipping holes; each position taken wakes a waiting
    /// sender, if any. Waits for a value being written if `patient`.
    /// With the value, whether a position taken was a checkpoint (see
    /// `checkpoint`).
    fn pop(&self, ring: &Ring<T>, patient: bool) -> Result<(T, bool), Refused> {
        let mut passed = false;
        loop {
            let (popped, checkpoint) = ring.pop_at(patient)?;
            passed |= checkpoint;
            self.notify(true);
            if let Some(value) = popped {
                return Ok((value, passed));
            }
        }
    }

    /// Wakes one waiting send (`send`) or receive, if its queue has one, to
    /// try again. Called after a position was taken (`tail` or `head`
    /// moved).
    ///
    /// No wake-up is lost. A waiter registers (its queue's bit is set in
    /// `hint` before the unlock), fences (SeqCst), then looks at the ring
    /// once more before it parks (`wait_ring`). A send or receive takes its
    /// position by a SeqCst CAS, then reads the bit here (SeqCst). So either
    /// the waiter sees the position taken and does not park, or the
    /// operation sees the bit and wakes someone. A position taken but not
    /// yet written counts as taken: the waiter's next try waits for it.
    #[inline]
    fn notify(&self, send: bool) {
        let bit = if send { SEND_READY } else { RECV_READY };
        if self.hint.load(Ordering::SeqCst) & bit != 0 {
            self.wake_one(send);
        }
    }

    #[cold]
    fn wake_one(&self, send: bool) {
        let mut inner = self.lock();
        let entry = Inner::<T>::claim(inner.queue(send), 0);
        if entry.is_some_and(|e| e.packet == WATCH) {
            return Self::wake_past_watchers(inner, send, entry);
        }
        drop(inner);
        complete(entry, false);
    }

    /// `wake_one` found a watcher (`Select::ready`), which does not act on
    /// its wake-up: the wake-up goes on to the next waiter, which may.
    #[cold]
    fn wake_past_watchers(mut inner: Guard<'_, T>, send: bool, mut entry: Option<Entry>) {
        let queue = inner.queue(send);
        let mut watchers = Vec::new();
        while let Some(watcher) = entry.filter(|e| e.packet == WATCH) {
            watchers.push(watcher);
            entry = Inner::<T>::claim(queue, 0);
        }
        drop(inner);
        complete(entry, false);
        for watcher in watchers {
            complete(Some(watcher), false);
        }
    }

    /// Registers `ctx`'s operation `oper` in the queue of sends or of
    /// receives, then takes the last look at the ring (see `notify`).
    /// False if the operation may go ahead after all and was withdrawn;
    /// true if it is registered (or was claimed meanwhile).
    fn register_ring(&self, ring: &Ring<T>, ctx: &Context, oper: usize, send: bool) -> bool {
        self.register_ring_entry(ring, ctx, oper, send, std::ptr::null_mut())
    }

    /// `register_ring`, for a waiter (a null `packet`, or a plain
    /// receive's: see `hand_over`) or a watcher (`WATCH`).
    fn register_ring_entry(
        &self,
        ring: &Ring<T>,
        ctx: &Context,
        oper: usize,
        send: bool,
        packet: *mut (),
    ) -> bool {
        self.lock()
            .queue(send)
            .push_back(Entry { ctx, oper, packet });
        atomic::fence(Ordering::SeqCst);
        let ready = if packet == WATCH {
            Self::ring_ready(ring, send)
        } else {
            ring.may_be_ready(send)
        };
        !(ready && self.unregister(ctx, send))
    }

    /// Waits in the queue of sends or of receives: true once woken to try
    /// again (or if the ring changed meanwhile), false at `deadline`
    /// (withdrawn).
    #[track_caller]
    fn wait_ring(&self, ring: &Ring<T>, send: bool, deadline: Option<Instant>) -> bool {
        self.wait_ring_entry(ring, send, deadline, std::ptr::null_mut())
    }

    /// `wait_ring`, with a receive's `packet` (its empty `Option<T>`), which
    /// a send may fill instead of waking it to try again (`hand_over`).
    #[track_caller]
    fn wait_ring_entry(
        &self,
        ring: &Ring<T>,
        send: bool,
        deadline: Option<Instant>,
        packet: *mut (),
    ) -> bool {
        let ctx = Context::new();
        if !self.register_ring_entry(ring, &ctx, 0, send, packet) {
            return true;
        }
        let abort = || self.unregister(&ctx, send);
        let withdraw = Withdraw::new(&ctx, abort, || {});
        let why = if send {
            Wait::ChanSend
        } else {
            Wait::ChanReceive
        };
        let woken = ctx.wait(deadline, why, self.home, abort).is_some();
        withdraw.disarm();
        woken
    }
}

// ---------------------------------------------------------------------------
// Closing and the ends' counts

impl<T> Channel<T> {
    /// Closes the channel; false if it was already closed.
    pub(crate) fn close(&self) -> bool {
        let mut inner = self.lock();
        if inner.disconnected() {
            return false;
        }
        inner.closed = true;
        if let Some(ring) = &self.ring {
            ring.close();
        }
        let woken = Self::claim_all(&mut inner);
        drop(inner);
        for entry in woken {
            complete(Some(entry), true);
        }
        true
    }

    fn claim_all(inner: &mut Inner<T>) -> Vec<Entry> {
        let mut woken = Vec::new();
        while let Some(entry) = Inner::<T>::claim(&mut inner.recvq, 0) {
            woken.push(entry);
        }
        while let Some(entry) = Inner::<T>::claim(&mut inner.sendq, 0) {
            woken.push(entry);
        }
        woken
    }

    pub(crate) fn add_sender(&self) {
        // As `Arc::clone`: the caller's own sender keeps the count above 0.
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn drop_sender(&self) {
        // As `Arc`'s drop: the last one sees every other's drop.
        if self.senders.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if !self.never_closes {
            self.close();
        }
    }

    pub(crate) fn add_receiver(&self) {
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn drop_receiver(&self) {
        if self.receivers.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let mut inner = self.lock();
        inner.no_receivers = true;
        if let Some(ring) = &self.ring {
            ring.close();
        }
        // Nobody can receive any more: let the waiting senders go with
        // their values, then drop what is buffered (in that order: a value
        // whose `Drop` panics must not leave a sender waiting).
        let buffered = std::mem::take(&mut inner.buf);
        inner.recv_reserved = 0;
        let woken = Self::claim_all(&mut inner);
        drop(inner);
        for entry in woken {
            complete(Some(entry), true);
        }
        drop_each(buffered.into_iter());
        if let Some(ring) = &self.ring {
            // Closed: what is still being written goes with the channel
            // (waiting for it could wait for this very goroutine's select).
            // A panicking `Drop` leaves the rest to `Ring::drop`, told to
            // leak them.
            struct LeakOnUnwind<'a, T>(&'a Ring<T>);
            impl<T> Drop for LeakOnUnwind<'_, T> {
                fn drop(&mut self) {
                    self.0.leak_rest();
                }
            }
            let guard = LeakOnUnwind(ring);
            drop_each(std::iter::from_fn(|| ring.pop(false).ok()).flatten());
            std::mem::forget(guard);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().disconnected()
    }

    pub(crate) fn len(&self) -> usize {
        if let Some(ring) = &self.ring {
            return ring.len();
        }
        let inner = self.lock();
        // A slot reserved for a select's send counts, as a ring's held
        // position does (so `is_full` agrees with `try_send`); a value
        // reserved for a select's receive is gone already.
        inner.buf.len() + inner.send_reserved - inner.recv_reserved
    }
}

// ---------------------------------------------------------------------------
// Readiness without the operation (`Select::ready`)

impl<T> Channel<T> {
    /// Whether a send (if `send`) or receive could go ahead now (a ring's
    /// answer may be a position being written, or a hole).
    pub(crate) fn is_ready(&self, send: bool) -> bool {
        match &self.ring {
            Some(ring) => Self::ring_ready(ring, send),
            None => self.lock().is_ready(send, self.cap),
        }
    }

    /// A ring's readiness as a watcher sees it: a held position is not
    /// (`Ring::receive_ready`). Its completion or abandonment wakes the
    /// watchers (`notify`), after a SeqCst fence that pairs with the one
    /// before a watcher's last look (`register_ring_entry`).
    fn ring_ready(ring: &Ring<T>, send: bool) -> bool {
        if send {
            ring.may_be_ready(true)
        } else {
            ring.receive_ready()
        }
    }

    /// Registers operation `oper` of a `Select::ready` to be claimed and
    /// woken once a send (if `send`) or receive may go ahead; false if it
    /// may now (nothing registered).
    pub(crate) fn watch(&self, send: bool, ctx: &Context, oper: usize) -> bool {
        if let Some(ring) = &self.ring {
            return self.register_ring_entry(ring, ctx, oper, send, WATCH);
        }
        let mut inner = self.lock();
        if inner.is_ready(send, self.cap) {
            return false;
        }
        let entry = Entry {
            ctx,
            oper,
            packet: std::ptr::null_mut(),
        };
        inner
            .watchers
            .get_or_insert_with(Box::default)
            .push((entry, send));
        true
    }

    /// Removes `ctx`'s watchers of sends (if `send`) or receives (waiter
    /// rule 1).
    pub(crate) fn unwatch(&self, ctx: &Context, send: bool) {
        if self.ring.is_some() {
            self.unregister(ctx, send);
            return;
        }
        let ptr: *const Context = ctx;
        let mut inner = self.lock();
        if let Some(watchers) = &mut inner.watchers {
            watchers.retain(|&(e, s)| e.ctx != ptr || s != send);
            if watchers.is_empty() {
                inner.watchers = None;
            }
        }
    }
}

/// Drops each value in turn. If a `Drop` panics, the rest are leaked, not
/// dropped while the panic unwinds (where a second panic would abort the
/// process), as crossbeam-channel does.
fn drop_each<T>(values: impl Iterator<Item = T>) {
    let mut values = std::mem::ManuallyDrop::new(values);
    for value in &mut *values {
        drop(value);
    }
    // SAFETY: not dropped before, and not used after.
    unsafe { std::mem::ManuallyDrop::drop(&mut values) };
}

// ---------------------------------------------------------------------------
// Select support

impl<T> Channel<T> {
    /// A select's receive, if it can proceed now.
    pub(crate) fn select_try_recv(&self) -> Option<Token> {
        if let Some(ring) = &self.ring {
            return match self.pop(ring, true) {
                Ok((value, passed)) => {
                    if passed {
                        checkpoint_passed();
                    }
                    Some(Self::token_of(Some(value)))
                }
                Err(Refused::Closed) => Some(Token::Closed),
                Err(Refused::NotNow) => None,
            };
        }
        loop {
            let mut inner = self.lock();
            if inner.has_value() {
                inner.recv_reserved += 1;
                return Some(Token::Reserved);
            }
            if let Some(entry) = Inner::<T>::claim(&mut inner.sendq, 0) {
                if !entry.packet.is_null() {
                    return Some(Token::Claimed(entry));
                }
                drop(inner);
                if let Some(value) = take_from_sender::<T>(entry, self.home) {
                    return Some(Self::token_of(Some(value)));
                }
                // Given up by its select: look again.
                continue;
            }
            return inner.disconnected().then_some(Token::Closed);
        }
    }

    /// A select's send, if it can proceed now.
    pub(crate) fn select_try_send(&self) -> Option<Token> {
        if let Some(ring) = &self.ring {
            return match ring.reserve() {
                Ok(reserved) => {
                    // Written only when the caller completes the send.
                    ring.hold(&reserved);
                    Some(Token::Slot(reserved))
                }
                Err(Refused::Closed) => Some(Token::Closed),
                Err(Refused::NotNow) => None,
            };
        }
        let mut inner = self.lock();
        if inner.disconnected() {
            return Some(Token::Closed);
        }
        if let Some(entry) = Inner::<T>::claim(&mut inner.recvq, 0) {
            return Some(Token::Claimed(entry));
        }
        if inner.has_room(self.cap) {
            inner.send_reserved += 1;
            return Some(Token::Reserved);
        }
        None
    }

    /// Registers a select's receive; returns its packet, or `None` if the
    /// receive is ready after all (then nothing is registered). The packet
    /// is `scratch`, the select's own space, when an `Option<T>` fits there,
    /// else a new box; with a ring, a null packet (its receive is woken to
    /// try again, not handed a value).
    pub(crate) fn select_register_recv(
        &self,
        ctx: &Context,
        oper: usize,
        scratch: *mut Scratch,
    ) -> Option<*mut ()> {
        if let Some(ring) = &self.ring {
            return self
                .register_ring(ring, ctx, oper, false)
                .then_some(std::ptr::null_mut());
        }
        let mut inner = self.lock();
        if inner.has_value()
            || inner.disconnected()
            || Inner::<T>::has_waiter(&inner.sendq, ctx.id.get())
        {
            return None;
        }
        let packet: *mut () = if Scratch::fits::<Option<T>>() {
            let packet = scratch.cast::<Option<T>>();
            // SAFETY: the select's scratch slot for this operation, unused,
            // large and aligned enough (`fits`).
            unsafe { packet.write(None) };
            packet.cast()
        } else {
            Box::into_raw(Box::new(None::<T>)).cast()
        };
        inner.recvq.push_back(Entry { ctx, oper, packet });
        Some(packet)
    }

    /// Registers a select's send; false if it is ready after all.
    pub(crate) fn select_register_send(&self, ctx: &Context, oper: usize) -> bool {
        if let Some(ring) = &self.ring {
            return self.register_ring(ring, ctx, oper, true);
        }
        let mut inner = self.lock();
        if inner.disconnected()
            || inner.has_room(self.cap)
            || Inner::<T>::has_waiter(&inner.recvq, ctx.id.get())
        {
            return false;
        }
        inner.sendq.push_back(Entry {
            ctx,
            oper,
            packet: std::ptr::null_mut(),
        });
        true
    }

    /// Completes a select's receive.
    #[track_caller]
    pub(crate) fn complete_recv(&self, token: Token) -> Result<T, RecvError> {
        match token {
            Token::Reserved => {
                let mut inner = self.lock();
                inner.recv_reserved -= 1;
                let value = inner.buf.pop_front().expect("a reserved value");
                let admitted = inner.admit_sender(self.cap);
                drop(inner);
                complete(admitted, false);
                Ok(value)
            }
            // A lone sender's (`select_try_recv`): its value is there.
            Token::Claimed(entry) => {
                Ok(take_from_sender::<T>(entry, self.home).expect("a lone sender's value"))
            }
            Token::Packet(packet) => {
                // SAFETY: a `Packet` token owns a boxed `Option<T>` made by
                // `select_try_recv` or `select_register_recv` for this channel.
                let packet = unsafe { Box::from_raw(packet.cast::<Option<T>>()) };
                packet.ok_or(RecvError)
            }
            Token::Inline(scratch) => {
                // SAFETY: an `Inline` token holds the `Option<T>` moved out of
                // this channel's registered packet (`take_packet`).
                let packet = unsafe { scratch.as_ptr().cast::<Option<T>>().read() };
                packet.ok_or(RecvError)
            }
            Token::Closed => Err(RecvError),
            Token::Peer(_) | Token::Slot(_) => unreachable!("a receive's token is a send's"),
        }
    }

    /// Completes a select's send.
    pub(crate) fn complete_send(&self, token: Token, value: T) -> Result<(), SendError<T>> {
        match token {
            Token::Reserved => {
                let mut inner = self.lock();
                inner.send_reserved -= 1;
                if inner.disconnected() {
                    return Err(SendError(value));
                }
                // A receiver may have started waiting since the reservation.
                if let Some(entry) = Inner::<T>::claim(&mut inner.recvq, 0) {
                    drop(inner);
                    // SAFETY: as in `try_send`.
                    unsafe { *entry.packet.cast::<Option<T>>() = Some(value) };
                    complete(Some(entry), false);
                } else {
                    inner.buf.push_back(value);
                }
                Ok(())
            }
            Token::Claimed(entry) => {
                // SAFETY: a claimed receiver's packet is its empty slot, ours
                // to fill until we complete it.
                unsafe { *entry.packet.cast::<Option<T>>() = Some(value) };
                complete(Some(entry), false);
                Ok(())
            }
            Token::Peer(peer) => {
                let peer = peer.cast::<Peer<T>>();
                // SAFETY: the receiver waits on its `Peer<T>` until we complete
                // its context (waiter rule 2), and touches the slot only after.
                unsafe { (*peer).slot = Some(value) };
                // SAFETY: as above: the peer is alive until we complete it.
                let ctx = unsafe { &raw const (*peer).ctx };
                // The peer's context is in no queue: ours alone to claim, and
                // claimed before it is completed, as every context is.
                // SAFETY: as above.
                unsafe { (*ctx).mark_claimed(0) };
                // SAFETY: claimed just now, by us; we complete it once.
                unsafe { Context::complete(ctx, false, std::ptr::null_mut()) };
                Ok(())
            }
            Token::Slot(reserved) => {
                // Written even if the channel closed since: the position was
                // taken before.
                let ring = self.ring.as_ref().expect("a slot is a ring's");
                if self.write(ring, reserved, value, true) {
                    checkpoint_passed();
                }
                Ok(())
            }
            Token::Closed => Err(SendError(value)),
            Token::Packet(_) | Token::Inline(_) => unreachable!("a send never gets a packet"),
        }
    }

    /// Drops a registered receive's packet that was not chosen.
    pub(crate) fn drop_packet(packet: *mut ()) {
        if packet.is_null() {
            // A ring's receive has none.
        } else if Scratch::fits::<Option<T>>() {
            // SAFETY: the packet is the select's scratch, where
            // `select_register_recv` wrote an `Option<T>`; its entry is gone
            // from every queue.
            unsafe { packet.cast::<Option<T>>().drop_in_place() };
        } else {
            // SAFETY: the packet was boxed by `select_register_recv` for this
            // `T`, and its entry is gone from every queue.
            drop(unsafe { Box::from_raw(packet.cast::<Option<T>>()) });
        }
    }

    /// The token of a registered receive that was chosen: its value moves
    /// out of the select's scratch (which the select is about to leave), or
    /// the box goes with the token.
    pub(crate) fn take_packet(packet: *mut ()) -> Token {
        if !Scratch::fits::<Option<T>>() {
            return Token::Packet(packet);
        }
        // SAFETY: the packet holds an `Option<T>`, moved (not copied) into
        // the token: the select never touches the packet again.
        Self::token_of(unsafe { packet.cast::<Option<T>>().read() })
    }

    /// A token holding a received value (or the end), inline if it fits.
    fn token_of(value: Option<T>) -> Token {
        if !Scratch::fits::<Option<T>>() {
            return Token::Packet(Box::into_raw(Box::new(value)).cast());
        }
        let mut scratch = Scratch::new();
        // SAFETY: `Option<T>` fits a `Scratch` (checked above).
        unsafe { scratch.as_mut_ptr().cast::<Option<T>>().write(value) };
        Token::Inline(scratch)
    }

    /// Undoes a chosen operation, a send if `send`, that was never
    /// completed (its `SelectedOperation` dropped: a `select!` send arm's
    /// value panicked, or it was completed the wrong way), so that the
    /// channel is as if the select had not run: a reserved value or free
    /// slot is given back, a claimed lone waiter is put back first in its
    /// queue, a claimed select and a receiver waiting on a `Peer` are woken
    /// to try again, a position taken in a ring is given back (or, if a
    /// later send took the next one, becomes a hole). Only a value already
    /// taken for a receive cannot go back: it is dropped.
    pub(crate) fn abandon(&self, send: bool, token: Token) {
        match token {
            Token::Reserved if send => {
                // Room given back (an unbounded channel's, or a bounded
                // one's of zero-sized values): a sender waiting for it
                // comes in.
                let mut inner = self.lock();
                inner.send_reserved -= 1;
                let admitted = inner.admit_sender(self.cap);
                drop(inner);
                complete(admitted, false);
            }
            Token::Reserved => {
                let mut inner = self.lock();
                inner.recv_reserved -= 1;
                // A receiver that found nothing (the value was reserved)
                // and waits: the value is its.
                if let Some(entry) = Inner::<T>::claim(&mut inner.recvq, 0) {
                    let value = inner.buf.pop_front().expect("the value given back");
                    drop(inner);
                    // SAFETY: as in `send_now`.
                    unsafe { *entry.packet.cast::<Option<T>>() = Some(value) };
                    complete(Some(entry), false);
                }
            }
            Token::Claimed(entry) => {
                let mut inner = self.lock();
                // SAFETY: claimed and not completed (waiter rule 2).
                let ctx = unsafe { entry.ctx() };
                if !ctx.is_lone() {
                    // A select, claimed by CAS, may have lost its other
                    // entries to claimers that saw the claim: put back, it
                    // could wait where nobody wakes it. Woken instead, to
                    // try every operation again.
                    drop(inner);
                    // SAFETY: claimed and not completed (waiter rule 2).
                    unsafe { Context::give_back(entry.ctx) };
                } else if inner.disconnected() {
                    // Closed since the claim, which `close` did not see:
                    // told now, as `close` would have (a sender keeps its
                    // value).
                    drop(inner);
                    complete(Some(entry), true);
                } else {
                    // Popped by our claim (`claim`), so it goes back in
                    // front. A sender's entry, for a receive; a receiver's,
                    // for a send.
                    inner.queue(!send).push_front(entry);
                    ctx.unclaim();
                }
            }
            Token::Slot(reserved) => {
                let ring = self.ring.as_ref().expect("a slot is a ring's");
                let gave_back = ring.abandon(reserved);
                // As in `complete_send`: a watcher saw the position held.
                atomic::fence(Ordering::SeqCst);
                if gave_back {
                    // Room came back: a sender may have parked while the
                    // position was held.
                    self.notify(true);
                } else {
                    // A hole. A receiver may have parked while the position
                    // was held: it must come and skip the hole, or the room
                    // stays taken.
                    self.notify(false);
                }
            }
            Token::Peer(peer) => {
                // A receiver claimed this select's send and waits on its
                // `Peer` for the value: woken without one, it tries again
                // (`take_from_sender`).
                let peer = peer.cast::<Peer<T>>();
                // SAFETY: the receiver waits on its `Peer<T>` until we
                // complete its context (waiter rule 2).
                let ctx = unsafe { &raw const (*peer).ctx };
                // SAFETY: as above; the peer's context is in no queue, ours
                // alone to claim (as in `complete_send`).
                unsafe { (*ctx).mark_claimed(0) };
                // SAFETY: claimed just now, by us; completed once, its slot
                // left empty.
                unsafe { Context::complete(ctx, false, std::ptr::null_mut()) };
            }
            token @ (Token::Packet(_) | Token::Inline(_)) => drop(self.complete_recv(token)),
            Token::Closed => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The ends

/// The sending end of a channel. Clone it for more senders; dropping the
/// last one closes the channel.
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// for id in 0..3 {
///     let tx = tx.clone(); // many senders
///     goro_sched::go(move || tx.send(id).unwrap());
/// }
/// drop(tx); // the channel closes when the goroutines drop theirs
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort_unstable();
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub struct Sender<T> {
    pub(crate) chan: Shared<T>,
}

/// The receiving end of a channel. Clone it for more receivers; once every
/// receiver is dropped, sends fail.
///
/// ```
/// let (tx, rx) = goro_chan::bounded(1);
/// let rx2 = rx.clone(); // many receivers: each value goes to one of them
/// tx.send(1).unwrap();
/// assert_eq!(rx2.recv(), Ok(1));
/// drop((rx, rx2));
/// assert!(tx.send(2).is_err()); // nobody left to receive
/// ```
pub struct Receiver<T> {
    pub(crate) chan: Shared<T>,
}

/// A channel with a buffer of `cap` values; `bounded(0)` is Go's unbuffered
/// channel, where a send completes only when a receiver takes the value.
///
/// ```
/// let (tx, rx) = goro_chan::bounded(1);
/// tx.send("ping").unwrap();
/// assert_eq!(tx.try_send("full").unwrap_err().is_full(), true);
/// assert_eq!(rx.recv(), Ok("ping"));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    ends(Channel::new(Some(cap), false))
}

/// A channel whose buffer grows as needed: sends never block.
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().sum::<i32>(), 499_500);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    ends(Channel::new(None, false))
}

/// Go's nil channel: a receiver that never delivers and never closes. A
/// `select!` arm on it is never chosen.
///
/// ```
/// use std::time::Duration;
/// let rx = goro_chan::never::<i32>();
/// assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
/// ```
pub fn never<T>() -> Receiver<T> {
    let mut chan = Channel::new(Some(0), true);
    // Nobody wakes its waiters, wherever it was made: waiting on it is
    // durable in any bubble, as on Go's nil channel.
    chan.home = Home::ANY;
    let (tx, rx) = ends(chan);
    drop(tx);
    rx
}

/// A channel of one that stays open without senders (time channels).
pub(crate) fn never_closing<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    ends(Channel::new(Some(cap), true))
}

fn ends<T>(chan: Channel<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Shared::new(chan);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A channel shared by its ends: an `Arc`, but in a block of the
/// scheduler's pool (`goro_sched::pool`), not malloc's. A channel is made on
/// one worker and freed wherever its last end goes; with malloc, `skynet`'s
/// hundred thousand channels put workers to sleep on malloc's arena locks
/// some ten thousand times a run.
pub(crate) struct Shared<T> {
    ptr: NonNull<Counted<T>>,
}

struct Counted<T> {
    refs: AtomicUsize,
    chan: Channel<T>,
}

// SAFETY: as `Arc<Channel<T>>`: the channel is shared, `Sync` and `Send`
// when `T: Send` (its values move between threads through it).
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new(chan: Channel<T>) -> Shared<T> {
        let ptr = goro_sched::pool::allocate(Layout::new::<Counted<T>>()).cast::<Counted<T>>();
        // SAFETY: a fresh block for a `Counted<T>`.
        unsafe {
            ptr.write(Counted {
                refs: AtomicUsize::new(1),
                chan,
            });
        }
        Shared { ptr }
    }

    fn ptr_eq(a: &Shared<T>, b: &Shared<T>) -> bool {
        a.ptr == b.ptr
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Shared<T> {
        // As `Arc::clone`: the caller's reference keeps the count above 0,
        // and a count that could overflow aborts.
        // SAFETY: we hold a reference, so the block is alive.
        let old = unsafe { self.ptr.as_ref() }
            .refs
            .fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            std::process::abort();
        }
        Shared { ptr: self.ptr }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: we hold a reference, so the block is alive.
        let counted = unsafe { self.ptr.as_ref() };
        // As `Arc`'s drop: the last one sees every other's drop.
        if counted.refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        atomic::fence(Ordering::Acquire);
        // SAFETY: the last reference: nobody else can reach the block, whose
        // `Counted<T>` is dropped once, here.
        unsafe { self.ptr.drop_in_place() };
        // SAFETY: it came from the pool with this layout, and is freed once.
        unsafe { goro_sched::pool::deallocate(self.ptr.cast(), Layout::new::<Counted<T>>()) };
    }
}

impl<T> Deref for Shared<T> {
    type Target = Channel<T>;

    fn deref(&self) -> &Channel<T> {
        // SAFETY: we hold a reference, so the block is alive.
        &unsafe { self.ptr.as_ref() }.chan
    }
}

impl<T> Sender<T> {
    /// Where its channel was made (time channels arm on its clock).
    pub(crate) fn home(&self) -> Home {
        self.chan.home
    }

    /// Sends `value`, waiting while the buffer is full (unbuffered: until a
    /// receiver takes it). Parks a goroutine, blocks a thread.
    ///
    /// ```
    /// use goro_chan::SendError;
    ///
    /// let (tx, rx) = goro_chan::bounded(0); // unbuffered: `send` waits for a receiver
    /// let h = goro_sched::go(move || rx.recv().unwrap());
    /// tx.send(5).unwrap();
    /// assert_eq!(h.join().unwrap(), 5);
    /// assert_eq!(tx.send(6), Err(SendError(6))); // every receiver is gone
    /// ```
    ///
    /// # Errors
    /// The value comes back if the channel is closed.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .send(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends `value` if that needs no waiting.
    ///
    /// ```
    /// use goro_chan::TrySendError;
    ///
    /// let (tx, rx) = goro_chan::bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    ///
    /// # Errors
    /// `Full(value)` if it would wait, `Closed(value)` if the channel is closed.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Sends `value`, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::SendTimeoutError;
    ///
    /// let (tx, _rx) = goro_chan::bounded(0); // nobody receives
    /// let res = tx.send_timeout(1, Duration::from_millis(5));
    /// assert_eq!(res, Err(SendTimeoutError::Timeout(1)));
    /// ```
    ///
    /// # Errors
    /// `Timeout(value)` or `Closed(value)`.
    #[track_caller]
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send(value, goro_sched::timer::now().checked_add(timeout))
    }

    /// Sends `value`, waiting until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_chan::SendTimeoutError;
    ///
    /// let (tx, _rx) = goro_chan::bounded(0); // nobody receives
    /// let res = tx.send_deadline(1, Instant::now() + Duration::from_millis(5));
    /// assert_eq!(res, Err(SendTimeoutError::Timeout(1)));
    /// ```
    ///
    /// # Errors
    /// `Timeout(value)` or `Closed(value)`.
    #[track_caller]
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(value, Some(deadline))
    }

    /// Closes the channel (Go's `close`): receivers drain what is buffered,
    /// then get `Err`; waiting and later sends fail. Returns false if it was
    /// already closed.
    ///
    /// ```
    /// use goro_chan::RecvError;
    ///
    /// let (tx, rx) = goro_chan::bounded(2);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close()); // already closed
    /// assert_eq!(rx.recv(), Ok(1)); // drains first
    /// assert_eq!(rx.recv(), Err(RecvError));
    /// assert!(tx.send(2).is_err());
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed, or has no receivers left.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded::<i32>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Values in the buffer.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(4);
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(4);
    /// tx.send(1).unwrap();
    /// assert!(!tx.is_empty());
    /// rx.recv().unwrap();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer's size; `None` if unbounded.
    ///
    /// ```
    /// assert_eq!(goro_chan::bounded::<i32>(8).0.capacity(), Some(8));
    /// assert_eq!(goro_chan::unbounded::<i32>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.cap
    }

    /// Whether the buffer is full: a send would wait for a receiver. An
    /// unbuffered channel is always full, an unbounded one never (as in
    /// crossbeam-channel).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// assert!(!tx.is_full() && !rx.is_full());
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full() && rx.is_full());
    /// assert!(goro_chan::bounded::<i32>(0).0.is_full());
    /// assert!(!goro_chan::unbounded::<i32>().0.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.cap.is_some_and(|cap| self.len() >= cap)
    }

    /// Whether both ends belong to the same channel.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::unbounded::<i32>();
    /// let (other, _rx2) = goro_chan::unbounded::<i32>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Shared::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting until one comes. Parks a goroutine, blocks a
    /// thread.
    ///
    /// ```
    /// use goro_chan::RecvError;
    ///
    /// let (tx, rx) = goro_chan::bounded(0);
    /// goro_sched::go(move || tx.send("hello").unwrap()); // then drops `tx`
    /// assert_eq!(rx.recv(), Ok("hello"));
    /// assert_eq!(rx.recv(), Err(RecvError)); // closed and drained
    /// ```
    ///
    /// # Errors
    /// `RecvError` once the channel is closed and drained.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(None).map_err(|_| RecvError)
    }

    /// Receives a value if one is there.
    ///
    /// ```
    /// use goro_chan::TryRecvError;
    ///
    /// let (tx, rx) = goro_chan::bounded(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    ///
    /// # Errors
    /// `Empty`, or `Closed` once closed and drained.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Receives a value, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::RecvTimeoutError;
    ///
    /// let (tx, rx) = goro_chan::bounded(0);
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    /// goro_sched::go(move || tx.send(7).unwrap());
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(7));
    /// ```
    ///
    /// # Errors
    /// `Timeout`, or `Closed` once closed and drained.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.chan
            .recv(goro_sched::timer::now().checked_add(timeout))
    }

    /// Receives a value, waiting until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_chan::RecvTimeoutError;
    ///
    /// let (_tx, rx) = goro_chan::bounded::<i32>(1);
    /// let res = rx.recv_deadline(Instant::now() + Duration::from_millis(5));
    /// assert_eq!(res, Err(RecvTimeoutError::Timeout));
    /// ```
    ///
    /// # Errors
    /// `Timeout`, or `Closed` once closed and drained.
    #[track_caller]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.chan.recv(Some(deadline))
    }

    /// A blocking iterator that ends when the channel is closed and drained
    /// (Go's `for v := range ch`).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(0);
    /// goro_sched::go(move || {
    ///     for i in 1..=3 {
    ///         tx.send(i).unwrap();
    ///     }
    /// });
    /// assert_eq!(rx.iter().sum::<i32>(), 6); // ends when the goroutine drops `tx`
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over what can be received without waiting.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// // Stops when nothing is there, though `tx` still lives.
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Values in the buffer.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(4);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(4);
    /// assert!(rx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer's size; `None` if unbounded.
    ///
    /// ```
    /// assert_eq!(goro_chan::bounded::<i32>(4).1.capacity(), Some(4));
    /// assert_eq!(goro_chan::bounded::<i32>(0).1.capacity(), Some(0)); // unbuffered
    /// assert_eq!(goro_chan::unbounded::<i32>().1.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.cap
    }

    /// Whether the buffer is full: a send would wait for a receiver. An
    /// unbuffered channel is always full, an unbounded one never (as in
    /// crossbeam-channel).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// assert!(!tx.is_full() && !rx.is_full());
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full() && rx.is_full());
    /// assert!(goro_chan::bounded::<i32>(0).0.is_full());
    /// assert!(!goro_chan::unbounded::<i32>().0.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.cap.is_some_and(|cap| self.len() >= cap)
    }

    /// Whether the channel is closed (it may still hold values).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// tx.send(1).unwrap();
    /// tx.close();
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.recv(), Ok(1)); // a closed channel still drains
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Whether both ends belong to the same channel.
    ///
    /// ```
    /// let (_tx, rx) = goro_chan::unbounded::<i32>();
    /// let (_tx2, other) = goro_chan::unbounded::<i32>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// assert!(!rx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        // Every `never()` is the same channel, as crossbeam's (Go's nil
        // channels are equal too).
        Shared::ptr_eq(&self.chan, &other.chan) || (self.chan.is_never() && other.chan.is_never())
    }

    /// Waiting receivers and senders in the channel's queues, watchers of
    /// receives and sends (`Select::ready`) counted in (for tests: a
    /// withdrawn registration must not linger).
    #[doc(hidden)]
    pub fn __waiting(&self) -> (usize, usize) {
        let inner = self.chan.lock();
        let watchers = inner.watchers.as_deref().map_or(&[][..], Vec::as_slice);
        let sends = watchers.iter().filter(|&&(_, send)| send).count();
        let receives = watchers.len() - sends;
        (inner.recvq.len() + receives, inner.sendq.len() + sends)
    }
}

/// Whether `tx` sends to `rx`'s channel (goro-net's `signal::stop` finds
/// the registration of a receiver it is given; it holds only a sender, so
/// that dropping every receiver closes the channel).
///
/// ```
/// let (tx, rx) = goro_chan::bounded::<i32>(1);
/// let (_other, rx2) = goro_chan::bounded::<i32>(1);
/// assert!(goro_chan::__private::sender_of(&tx, &rx));
/// assert!(!goro_chan::__private::sender_of(&tx, &rx2));
/// ```
#[doc(hidden)]
pub fn sender_of<T>(tx: &Sender<T>, rx: &Receiver<T>) -> bool {
    Shared::ptr_eq(&tx.chan, &rx.chan)
}

// A panic leaves a channel as it was (nothing is poisoned): both ends may be
// used across `catch_unwind`, as crossbeam-channel's.
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}
impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.chan.add_receiver();
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.chan.cap)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.chan.cap)
            .finish_non_exhaustive()
    }
}

/// A blocking iterator over a [`Receiver`]: see [`Receiver::iter`].
///
/// ```
/// let (tx, rx) = goro_chan::bounded(3);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// drop(tx);
/// let values: goro_chan::Iter<'_, i32> = rx.iter(); // also `for v in &rx`
/// assert_eq!(values.collect::<Vec<_>>(), [1, 2]);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// A non-blocking iterator over a [`Receiver`]: see [`Receiver::try_iter`].
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// tx.send('a').unwrap();
/// let pending: goro_chan::TryIter<'_, char> = rx.try_iter();
/// assert_eq!(pending.collect::<String>(), "a");
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// An owning blocking iterator over a [`Receiver`].
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// tx.send("a").unwrap();
/// drop(tx);
/// let mut values: goro_chan::IntoIter<&str> = rx.into_iter(); // also `for v in rx`
/// assert_eq!(values.next(), Some("a"));
/// assert_eq!(values.next(), None);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
