//! `Select`: waiting on several channel operations at once, and performing
//! exactly one (Go's `select`, or `reflect.Select` for a number of
//! operations known only at run time).
//!
//! A select first tries every operation, in a random order (so that among
//! ready ones each is equally likely, as in Go). If none is ready it
//! registers a waiter on every channel, all sharing one `Context`, starting
//! from a random operation when two share a channel (a partner takes the
//! first entry in its queue: so the choice stays random when it waits too),
//! and parks;
//! the first channel to claim the context chooses the operation. A
//! registration that finds its channel ready after all (something happened
//! between the try and the registration) withdraws everything and tries
//! again. After waking, the select removes its waiters from every channel,
//! so no stale registration outlives it.
//!
//! A chosen operation is completed by the caller with
//! [`SelectedOperation::recv`] or [`SelectedOperation::send`]: until then the
//! channel holds what it reserved for it (a value, a slot, or a waiting
//! partner), so it must be completed at once.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::ptr;
use std::time::{Duration, Instant};

use crate::channel::{Channel, Scratch, Token};
use crate::err::{
    ReadyTimeoutError, RecvError, SelectTimeoutError, SendError, TryReadyError, TrySelectError,
};
use goro_sched::park::{self, Home, Wait};

use crate::waiter::{Context, Withdraw};
use crate::{Receiver, Sender};

/// What a registration gives: `Err(())` if the operation turned out ready,
/// else a receive's packet (`None` for a send).
type Registered = Result<Option<*mut ()>, ()>;

/// One side of one channel, as a select sees it.
trait Handle {
    fn may_be_ready(&self, send: bool) -> bool;
    fn try_op(&self, send: bool) -> Option<Token>;
    /// Registers; `Err(())` if the operation turned out ready. A receive
    /// gives back its packet (in `slot` if it fits).
    fn register(&self, send: bool, ctx: &Context, oper: usize, slot: *mut Scratch) -> Registered;
    /// Removes the select's entries from the queue of sends or receives.
    fn unregister(&self, ctx: &Context, send: bool) -> bool;
    fn drop_packet(&self, packet: *mut ());
    fn take_packet(&self, packet: *mut ()) -> Token;
    /// Whether a wake-up asks the operation to try again (a ring's) rather
    /// than handing it a value or a partner.
    fn is_ring(&self) -> bool;
    /// Undoes a chosen operation (a send if `send`) that was never
    /// completed, as far as it can.
    fn abandon(&self, send: bool, token: Token);
    fn addr(&self) -> usize;
    /// Whether the operation could go ahead now (`Select::ready`).
    fn is_ready(&self, send: bool) -> bool;
    /// Registers a watcher of the operation; false if it is ready now.
    fn watch(&self, send: bool, ctx: &Context, oper: usize) -> bool;
    /// Removes the select's watchers of sends or receives.
    fn unwatch(&self, ctx: &Context, send: bool);
    /// Where the channel was made (`Home`).
    fn home(&self) -> Home;
}

impl<T> Handle for Channel<T> {
    fn may_be_ready(&self, send: bool) -> bool {
        Channel::may_be_ready(self, send)
    }

    fn try_op(&self, send: bool) -> Option<Token> {
        if send {
            self.select_try_send()
        } else {
            self.select_try_recv()
        }
    }

    fn register(&self, send: bool, ctx: &Context, oper: usize, slot: *mut Scratch) -> Registered {
        if send {
            if self.select_register_send(ctx, oper) {
                Ok(None)
            } else {
                Err(())
            }
        } else {
            self.select_register_recv(ctx, oper, slot)
                .map(Some)
                .ok_or(())
        }
    }

    fn unregister(&self, ctx: &Context, send: bool) -> bool {
        Channel::unregister(self, ctx, send)
    }

    fn drop_packet(&self, packet: *mut ()) {
        Channel::<T>::drop_packet(packet);
    }

    fn take_packet(&self, packet: *mut ()) -> Token {
        Channel::<T>::take_packet(packet)
    }

    fn is_ring(&self) -> bool {
        Channel::is_ring(self)
    }

    fn abandon(&self, send: bool, token: Token) {
        Channel::abandon(self, send, token);
    }

    fn addr(&self) -> usize {
        Channel::addr(self)
    }

    fn is_ready(&self, send: bool) -> bool {
        Channel::is_ready(self, send)
    }

    fn watch(&self, send: bool, ctx: &Context, oper: usize) -> bool {
        Channel::watch(self, send, ctx, oper)
    }

    fn unwatch(&self, ctx: &Context, send: bool) {
        Channel::unwatch(self, ctx, send);
    }

    fn home(&self) -> Home {
        self.home
    }
}

#[derive(Clone, Copy)]
struct Op<'a> {
    handle: &'a dyn Handle,
    send: bool,
}

/// Stands in the unused inline slots of a `Select`, and for removed
/// operations (`Select::remove`): never ready, registered nowhere.
struct NoHandle;

impl Handle for NoHandle {
    fn may_be_ready(&self, _: bool) -> bool {
        false
    }

    fn try_op(&self, _: bool) -> Option<Token> {
        unreachable!("an unused slot is never tried")
    }

    fn register(&self, _: bool, _: &Context, _: usize, _: *mut Scratch) -> Registered {
        // A removed operation: waits for nothing.
        Ok(None)
    }

    fn unregister(&self, _: &Context, _: bool) -> bool {
        false
    }

    fn drop_packet(&self, _: *mut ()) {}

    fn take_packet(&self, _: *mut ()) -> Token {
        unreachable!("an unused slot is never chosen")
    }

    fn is_ring(&self) -> bool {
        false
    }

    fn abandon(&self, _: bool, _: Token) {}

    fn addr(&self) -> usize {
        0
    }

    fn is_ready(&self, _: bool) -> bool {
        false
    }

    fn watch(&self, _: bool, _: &Context, _: usize) -> bool {
        // A removed operation: never ready.
        true
    }

    fn unwatch(&self, _: &Context, _: bool) {}

    fn home(&self) -> Home {
        // A removed operation: waits for nothing, anywhere.
        Home::ANY
    }
}

static NO_HANDLE: NoHandle = NoHandle;

/// Where the channels of a select's operations were made, together
/// (`Home::and`): a bubble's goroutine waiting on any made elsewhere keeps
/// the bubble's clock still.
fn home(ops: &[Op<'_>]) -> Home {
    if !Home::bubbles_alive() {
        return Home::NONE;
    }
    ops.iter()
        .fold(Home::ANY, |home, op| home.and(op.handle.home()))
}

/// Operations kept on the stack (the common case: a `select!` of a few
/// arms allocates nothing for them), on the heap beyond `INLINE`.
const INLINE: usize = 8;

/// Per-operation scratch space of a select's tries, on the stack up to 32.
const SCRATCH: usize = 32;

/// Waits on several channel operations and performs exactly one: the
/// dynamic form of [`select!`](crate::select!), for operations known only at
/// run time.
///
/// Like crossbeam-channel's, a `Select` is `Send` and `Sync`: it may be built
/// on one thread and run on another. So its operations are on channels of
/// `Send` values (`select!`, whose select never leaves its expansion, takes
/// any). It may also wait only for an operation to be *ready*, without
/// performing it: [`ready`](Select::ready) and its forms.
///
/// ```
/// use goro_chan::{Select, bounded};
///
/// let (tx1, rx1) = bounded::<i32>(1);
/// let (tx2, rx2) = bounded::<i32>(1);
/// tx2.send(20).unwrap();
///
/// let mut sel = Select::new();
/// let a = sel.recv(&rx1);
/// let b = sel.recv(&rx2);
/// let op = sel.select();
/// assert_eq!(op.index(), b);
/// assert_eq!(op.recv(&rx2), Ok(20));
/// # drop((tx1, a));
/// ```
#[derive(Clone)]
pub struct Select<'a> {
    inline: [Op<'a>; INLINE],
    len: usize,
    heap: Vec<Op<'a>>,
    /// `new_biased`: the first ready operation in the order added wins.
    biased: bool,
}

impl<'a> Select<'a> {
    /// An empty select.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx1, rx1) = bounded::<i32>(1);
    /// let (_tx2, rx2) = bounded::<i32>(1);
    /// tx1.send(10).unwrap();
    /// let mut sel = Select::new();
    /// let first = sel.recv(&rx1);
    /// let _second = sel.recv(&rx2);
    /// let op = sel.select();
    /// assert_eq!(op.index(), first); // the only ready one
    /// assert_eq!(op.recv(&rx1), Ok(10));
    /// ```
    #[inline]
    pub fn new() -> Select<'a> {
        Select {
            inline: [Op {
                handle: &NO_HANDLE,
                send: false,
            }; INLINE],
            len: 0,
            heap: Vec::new(),
            biased: false,
        }
    }

    /// An empty select that is biased: among ready operations it chooses
    /// the first added, not one at random (crossbeam-channel's
    /// `new_biased`; [`select_biased!`](crate::select_biased!) is its
    /// macro). Arms that are always ready can starve later ones.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx1, rx1) = bounded::<i32>(1);
    /// let (tx2, rx2) = bounded::<i32>(1);
    /// for _ in 0..10 {
    ///     tx1.send(1).unwrap();
    ///     tx2.send(2).unwrap();
    ///     let mut sel = Select::new_biased();
    ///     let first = sel.recv(&rx1);
    ///     sel.recv(&rx2);
    ///     let op = sel.select();
    ///     assert_eq!(op.index(), first); // always the first ready one
    ///     assert_eq!(op.recv(&rx1), Ok(1));
    ///     assert_eq!(rx2.recv(), Ok(2));
    /// }
    /// ```
    #[inline]
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    #[inline]
    fn push(&mut self, op: Op<'a>) -> usize {
        if self.len < INLINE {
            self.inline[self.len] = op;
        } else {
            if self.len == INLINE {
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(op);
        }
        self.len += 1;
        self.len - 1
    }

    #[inline]
    fn ops_mut(&mut self) -> &mut [Op<'a>] {
        if self.len <= INLINE {
            &mut self.inline[..self.len]
        } else {
            &mut self.heap
        }
    }

    /// Removes an operation added before (crossbeam-channel's `remove`):
    /// it is never chosen again, and the other operations keep their
    /// indices (a removed one's is not reused). As in Go, a select whose
    /// operations are all removed waits for ever, or until its timeout.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx1, rx1) = bounded::<i32>(0);
    /// let (tx2, rx2) = bounded::<i32>(1);
    /// drop(tx1); // closed: its receive is always ready
    /// tx2.send(2).unwrap();
    /// let mut sel = Select::new();
    /// let closed = sel.recv(&rx1);
    /// let live = sel.recv(&rx2);
    /// sel.remove(closed);
    /// let op = sel.select();
    /// assert_eq!(op.index(), live);
    /// assert_eq!(op.recv(&rx2), Ok(2));
    /// ```
    ///
    /// # Panics
    /// If no operation has this index, or it was removed already.
    pub fn remove(&mut self, index: usize) {
        let removed = Op {
            handle: &NO_HANDLE,
            send: false,
        };
        let op = self
            .ops_mut()
            .get_mut(index)
            .unwrap_or_else(|| panic!("Select::remove: no operation has index {index}"));
        assert!(
            !std::ptr::addr_eq(op.handle, &NO_HANDLE),
            "Select::remove: operation {index} was removed already"
        );
        *op = removed;
    }

    #[inline]
    fn ops(&self) -> &[Op<'a>] {
        if self.len <= INLINE {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    /// Adds a receive on `rx`; returns its index. `T: Send`, as a `Select`
    /// may be run on another thread.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// // As many receives as there are channels: known only at run time.
    /// let chans: Vec<_> = (0..4).map(|_| bounded::<usize>(1)).collect();
    /// chans[2].0.send(2).unwrap();
    /// let mut sel = Select::new();
    /// for (_, rx) in &chans {
    ///     sel.recv(rx);
    /// }
    /// let op = sel.select();
    /// let i = op.index();
    /// assert_eq!(op.recv(&chans[i].1), Ok(2));
    /// ```
    #[inline]
    pub fn recv<T: Send>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.recv_any(rx)
    }

    #[inline]
    fn recv_any<T>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.push(Op {
            handle: &*rx.chan,
            send: false,
        })
    }

    /// Adds a send on `tx`; returns its index. The value is given only to
    /// the chosen operation, in [`SelectedOperation::send`]. `T: Send`, as a
    /// `Select` may be run on another thread.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<&str>(1);
    /// let mut sel = Select::new();
    /// let i = sel.send(&tx);
    /// let op = sel.select(); // room in the buffer: ready
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, "hi").unwrap();
    /// assert_eq!(rx.recv(), Ok("hi"));
    /// ```
    #[inline]
    pub fn send<T: Send>(&mut self, tx: &'a Sender<T>) -> usize {
        self.send_any(tx)
    }

    #[inline]
    fn send_any<T>(&mut self, tx: &'a Sender<T>) -> usize {
        self.push(Op {
            handle: &*tx.chan,
            send: true,
        })
    }

    /// Chooses an operation that is ready now, if any.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<i32>(1);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err()); // nothing ready
    /// tx.send(1).unwrap();
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.recv(&rx), Ok(1));
    /// ```
    ///
    /// # Errors
    /// `TrySelectError` when none is.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.try_now().ok_or(TrySelectError)
    }

    /// Waits until an operation is ready and chooses it (with no operations,
    /// waits for ever, as Go's `select {}`).
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<&str>(0);
    /// goro_sched::go(move || tx.send("ready").unwrap());
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// let op = sel.select(); // waits for the goroutine
    /// assert_eq!(op.recv(&rx), Ok("ready"));
    /// ```
    #[track_caller]
    pub fn select(&mut self) -> SelectedOperation<'a> {
        crate::channel::take_checkpoint();
        self.wait(None).expect("no deadline")
    }

    /// Waits at most `timeout` for an operation to be ready.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::{Select, bounded};
    ///
    /// let (_tx, rx) = bounded::<i32>(0);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(5)).is_err()); // nothing came
    /// ```
    ///
    /// # Errors
    /// `SelectTimeoutError` when none is in time.
    #[track_caller]
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        crate::channel::take_checkpoint();
        self.wait(goro_sched::timer::now().checked_add(timeout))
    }

    /// Waits until `deadline` at most for an operation to be ready.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_chan::{Select, bounded};
    ///
    /// let (_tx, rx) = bounded::<i32>(0);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(sel.select_deadline(deadline).is_err());
    /// assert!(Instant::now() >= deadline);
    /// ```
    ///
    /// # Errors
    /// `SelectTimeoutError` when none is in time.
    #[track_caller]
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        crate::channel::take_checkpoint();
        self.wait(Some(deadline))
    }

    /// The index of an operation that is ready now, if any, without
    /// performing it (crossbeam-channel's `try_ready`): among ready ones,
    /// one at random (the first added with `new_biased`). Another thread or
    /// goroutine may take the readiness away before the caller acts on it:
    /// perform the operation with its own `try_` form.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<i32>(1);
    /// let mut sel = Select::new();
    /// let get = sel.recv(&rx);
    /// assert!(sel.try_ready().is_err()); // nothing to receive
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.try_ready(), Ok(get));
    /// assert_eq!(rx.try_recv(), Ok(1)); // the select took nothing
    /// ```
    ///
    /// # Errors
    /// `TryReadyError` when none is.
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.ready_now().ok_or(TryReadyError)
    }

    /// Waits until an operation is ready and returns its index, without
    /// performing it (crossbeam-channel's `ready`). As there, it may return
    /// spuriously, and readiness may be gone by the time the caller acts:
    /// perform the operation with its `try_` form, and call `ready` again
    /// if that fails. With no operations it waits for ever.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<&str>(0);
    /// goro_sched::go(move || tx.send("hi").unwrap());
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// loop {
    ///     sel.ready(); // a sender waits (or it was spurious)
    ///     if let Ok(v) = rx.try_recv() {
    ///         assert_eq!(v, "hi");
    ///         break;
    ///     }
    /// }
    /// ```
    #[track_caller]
    pub fn ready(&mut self) -> usize {
        self.wait_ready(None).expect("no deadline")
    }

    /// Waits at most `timeout` for an operation to be ready, as
    /// [`ready`](Select::ready).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<i32>(1);
    /// let mut sel = Select::new();
    /// let put = sel.send(&tx);
    /// assert_eq!(sel.ready_timeout(Duration::from_millis(5)), Ok(put)); // room
    /// tx.send(1).unwrap();
    /// assert!(sel.ready_timeout(Duration::from_millis(5)).is_err()); // full
    /// # drop(rx);
    /// ```
    ///
    /// # Errors
    /// `ReadyTimeoutError` when none is in time.
    #[track_caller]
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.wait_ready(goro_sched::timer::now().checked_add(timeout))
    }

    /// Waits until `deadline` at most for an operation to be ready, as
    /// [`ready`](Select::ready).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_chan::{Select, bounded};
    ///
    /// let (_tx, rx) = bounded::<i32>(0);
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(sel.ready_deadline(deadline).is_err());
    /// assert!(Instant::now() >= deadline);
    /// ```
    ///
    /// # Errors
    /// `ReadyTimeoutError` when none is in time.
    #[track_caller]
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.wait_ready(Some(deadline))
    }

    /// An operation ready now: every one is looked at (under its channel's
    /// lock, or in its ring), and one of the ready ones chosen.
    fn ready_now(&self) -> Option<usize> {
        let ops = self.ops();
        if self.biased {
            return ops.iter().position(|op| op.handle.is_ready(op.send));
        }
        let (mut inline, mut heap) = ([0usize; SCRATCH], Vec::new());
        let ready = small(&mut inline, &mut heap, ops.len(), 0);
        let mut n = 0;
        for (i, op) in ops.iter().enumerate() {
            if op.handle.is_ready(op.send) {
                ready[n] = i;
                n += 1;
            }
        }
        (n > 0).then(|| ready[random_below(n)])
    }

    /// `ready`'s wait: a watcher on every operation's channel, sharing one
    /// context, which the first channel to be ready claims (as `wait`
    /// registers, but performing nothing).
    #[track_caller]
    fn wait_ready(&mut self, deadline: Option<Instant>) -> Result<usize, ReadyTimeoutError> {
        if let Some(i) = self.ready_now() {
            return Ok(i);
        }
        if deadline.is_some_and(|d| goro_sched::timer::now() >= d) {
            return Err(ReadyTimeoutError);
        }
        let ctx = Context::new();
        // Not a lone waiter: claimed by CAS.
        ctx.id.set(&raw const ctx as usize);
        let ops = self.ops();
        let mut watched = 0;
        let ready_early = ops
            .iter()
            .enumerate()
            .try_for_each(|(i, op)| {
                if !op.handle.watch(op.send, &ctx, i) {
                    return Err(i);
                }
                watched += 1;
                Ok(())
            })
            .err();
        // Every watcher out, but the claimed one's: its claimer took it out
        // of its list or queue (waiter rule 1).
        let unwatch = |claimed: Option<usize>| {
            ops[..watched]
                .iter()
                .enumerate()
                .filter(|&(i, _)| Some(i) != claimed)
                .for_each(|(_, op)| op.handle.unwatch(&ctx, op.send));
        };
        let withdraw = Withdraw::new(&ctx, || ctx.try_abort(), || unwatch(ctx.selected()));
        let chosen = match ready_early {
            Some(i) if ctx.try_abort() => Some(i),
            // Claimed while registering (then waiting only for the claimer
            // to finish), or waiting.
            _ => ctx.wait(
                if ready_early.is_some() {
                    None
                } else {
                    deadline
                },
                Wait::Select,
                home(ops),
                || ctx.try_abort(),
            ),
        };
        withdraw.disarm();
        unwatch(ctx.selected());
        chosen.ok_or(ReadyTimeoutError)
    }

    fn selected(&self, index: usize, token: Token) -> SelectedOperation<'a> {
        let op = self.ops()[index];
        SelectedOperation {
            index,
            send: op.send,
            token: Some(token),
            handle: op.handle,
        }
    }

    /// Chooses an operation that is ready now, for a select that will not
    /// wait: `try_all`, and once more if that found nothing.
    ///
    /// One pass reads every hint before it tries a candidate, so an
    /// operation that became ready after its hint was read, while the one
    /// it took over from was taken away before its try (one channel filled
    /// before the other is emptied: something was ready at every instant),
    /// went unseen (issue 17). A failed try has synchronized with what made
    /// its operation not ready (the lock, or the ring's stamp), and so with
    /// what the other side did before that: the second pass's hint reads
    /// see it. A waiting select needs no second pass: its registrations
    /// look again under each channel's lock. Not a snapshot, as Go's
    /// select, which locks every channel: readiness that keeps moving
    /// between channels at every pass can still go unseen.
    fn try_now(&self) -> Option<SelectedOperation<'a>> {
        self.try_all().or_else(|| self.try_all())
    }

    /// Tries the operations that may be ready (by their channels' hints,
    /// without locks), picking uniformly at random among them, until one
    /// succeeds or none is left.
    ///
    /// When the last tries of the thread found an operation ready (`STREAK`
    /// of them: as a busy select over buffered channels does), one operation
    /// drawn among all is tried first, alone: if it is ready, that is one
    /// look at one channel instead of one at each (`select-buffered` 14%
    /// faster). The choice stays uniform among the ready ones: a ready
    /// operation is chosen by that draw with probability `1/n`, and
    /// otherwise, with probability `(n - r)/n` that the draw found one not
    /// ready, by the uniform pick among the `r` others (`1/n + (n - r)/(n r)
    /// = 1/r`). Otherwise (a select that waits now and then) the draw would
    /// often be a wasted look (`select`, over unbuffered channels, was 4%
    /// slower with it always, 2% with it after one try that found one): the
    /// hints of all are read first.
    fn try_all(&self) -> Option<SelectedOperation<'a>> {
        let ops = self.ops();
        // What became ready just after its hint was read is left out here;
        // the registration that follows (under the lock) sees it, or the
        // second pass of `try_now`.
        if self.biased {
            // In the order added.
            return ops.iter().enumerate().find_map(|(i, op)| {
                if !op.handle.may_be_ready(op.send) {
                    return None;
                }
                op.handle
                    .try_op(op.send)
                    .map(|token| self.selected(i, token))
            });
        }
        if ops.is_empty() {
            return None;
        }
        if ops.len() > 64 {
            return self.try_many();
        }
        let drawn = first_draw(ops.len());
        if drawn != usize::MAX {
            let op = &ops[drawn];
            if op.handle.may_be_ready(op.send)
                && let Some(token) = op.handle.try_op(op.send)
            {
                return Some(self.selected(drawn, token));
            }
        }
        // The (other) operations that may be ready, as bits.
        let mut candidates = 0u64;
        for (i, op) in ops.iter().enumerate() {
            if i != drawn && op.handle.may_be_ready(op.send) {
                candidates |= 1 << i;
            }
        }
        while candidates != 0 {
            let i = nth_bit(candidates, random_below(candidates.count_ones() as usize));
            let op = &ops[i];
            if let Some(token) = op.handle.try_op(op.send) {
                if drawn == usize::MAX {
                    found_ready(true);
                }
                return Some(self.selected(i, token));
            }
            // Not ready after all: out of the draw.
            candidates &= !(1 << i);
        }
        found_ready(false);
        None
    }

    /// `try_all` for more operations than bits in a `u64`.
    #[cold]
    fn try_many(&self) -> Option<SelectedOperation<'a>> {
        let ops = self.ops();
        let mut candidates: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].handle.may_be_ready(ops[i].send))
            .collect();
        while !candidates.is_empty() {
            let k = random_below(candidates.len());
            let i = candidates[k];
            let op = &ops[i];
            if let Some(token) = op.handle.try_op(op.send) {
                return Some(self.selected(i, token));
            }
            // Not ready after all: out of the draw.
            candidates.swap_remove(k);
        }
        None
    }

    #[track_caller]
    fn wait(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        loop {
            if let Some(op) = self.try_all() {
                return Ok(op);
            }
            if deadline.is_some_and(|d| goro_sched::timer::now() >= d) {
                // No registration follows to see what became ready during
                // the pass: the second pass of `try_now`.
                return self.try_all().ok_or(SelectTimeoutError);
            }
            if self.len == 0 {
                match deadline {
                    Some(d) => {
                        park::park_deadline_on(d, Wait::SelectNoCases);
                        continue;
                    }
                    None => loop {
                        park::park_on(Wait::SelectNoCases);
                    },
                }
            }
            let ctx = Context::new();
            ctx.id.set(&raw const ctx as usize);
            let ops = self.ops();
            let (mut inline, mut heap) = ([None; INLINE], Vec::new());
            let slots = small(&mut inline, &mut heap, ops.len(), None);
            // Where registered receives are handed their values (when they
            // fit): never moved while registered.
            let (mut scratch_inline, mut scratch_heap) = ([Scratch::new(); INLINE], Vec::new());
            let scratch = small(
                &mut scratch_inline,
                &mut scratch_heap,
                ops.len(),
                Scratch::new(),
            )
            .as_mut_ptr();
            // Registered from a random operation on, wrapping around, when
            // two operations share a channel: a partner that comes later
            // takes the first entry it finds in the channel's queue, so the
            // order written would always choose the first of them (issue
            // 17). On distinct channels the order chooses nothing (the
            // first partner to come does), and there a random start cost
            // the `select` workload (4 channels) some 3% with fewer
            // instructions: branches that no longer repeat.
            let first = if !self.biased && shares_a_channel(ops) {
                random_below(ops.len())
            } else {
                0
            };
            let mut registered = 0;
            // Internal iteration (`try_for_each`) runs the `Chain` as two
            // plain loops; a `for` loop asks which half it is in at every
            // step.
            let ready_early = rotation(first, ops.len())
                .try_for_each(|i| {
                    let op = &ops[i];
                    // SAFETY: `scratch` has a slot per operation.
                    let slot = unsafe { scratch.add(i) };
                    let packet = op.handle.register(op.send, &ctx, i, slot)?;
                    slots[i] = packet;
                    registered += 1;
                    Ok::<(), ()>(())
                })
                .is_err();
            // Unregistered operations have no packet.
            let packets = &*slots;
            let withdraw = Withdraw::new(
                &ctx,
                || ctx.try_abort(),
                || {
                    unregister(ops, first, registered, &ctx, None);
                    self.free(packets, None);
                },
            );
            let chosen = if ready_early && ctx.try_abort() {
                None
            } else {
                // Registered everywhere (or claimed while registering).
                ctx.wait(
                    if ready_early { None } else { deadline },
                    Wait::Select,
                    home(ops),
                    || ctx.try_abort(),
                )
            };
            withdraw.disarm();
            unregister(ops, first, registered, &ctx, chosen);
            let Some(index) = chosen else {
                self.free(packets, None);
                if ready_early {
                    continue;
                }
                return Err(SelectTimeoutError);
            };
            let op = &ops[index];
            if ctx.is_given_back() {
                // Its claimer's own select gave up the operation that chose
                // ours (`Channel::abandon`): as if it had never come.
                self.free(packets, None);
                continue;
            }
            if op.handle.is_ring() {
                // Woken to try again: this operation first (the wake-up was
                // meant for it, and another waiter may go without one if
                // the select picks elsewhere), then all of them.
                self.free(packets, None);
                if let Some(token) = op.handle.try_op(op.send) {
                    return Ok(self.selected(index, token));
                }
                continue;
            }
            let token = if ops[index].send {
                if ctx.is_closed() {
                    Token::Closed
                } else if !ctx.peer().is_null() {
                    Token::Peer(ctx.peer())
                } else {
                    Token::Reserved
                }
            } else {
                ops[index]
                    .handle
                    .take_packet(packets[index].expect("a registered receive has a packet"))
            };
            self.free(packets, Some(index));
            return Ok(self.selected(index, token));
        }
    }

    /// Frees the packets of registered receives, but the chosen one's.
    fn free(&self, packets: &[Option<*mut ()>], keep: Option<usize>) {
        for (i, packet) in packets.iter().enumerate() {
            if let Some(packet) = packet
                && Some(i) != keep
            {
                self.ops()[i].handle.drop_packet(*packet);
            }
        }
    }
}

// SAFETY: a `Select` holds shared references to channels, a `Vec` of them
// and a flag. Every operation in one was added by `recv` or `send`, on a
// channel of `T: Send` values, whose `Channel<T>` is then `Sync` (as its
// ends are: `channel_is_sync` below checks it); removed operations and
// unused slots point at `NO_HANDLE`, which holds nothing. Sending or sharing
// a `Select` shares only such `&Channel<T>`, as sending a `&Receiver<T>`
// would. Every method that uses the channels takes `&mut self`; `&self`
// only reads (`Clone`, `Debug`). `select!` builds a `LocalSelect` instead,
// which takes channels of any values and is neither.
unsafe impl Send for Select<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for Select<'_> {}

/// What the `unsafe impl`s above rely on.
#[allow(dead_code)]
fn channel_is_sync<T: Send>() {
    fn sync<X: Sync + ?Sized>() {}
    sync::<Channel<T>>();
}

/// `select!`'s select: a [`Select`] of channels of any values (a `!Send`
/// value's channel included), which therefore stays on its thread. The
/// macro's expansion never lets it go elsewhere.
#[doc(hidden)]
#[derive(Debug)]
pub struct LocalSelect<'a> {
    sel: Select<'a>,
    _not_send: PhantomData<*const ()>,
}

impl Default for LocalSelect<'_> {
    fn default() -> Self {
        LocalSelect::new()
    }
}

#[doc(hidden)]
impl<'a> LocalSelect<'a> {
    #[inline]
    pub fn new() -> LocalSelect<'a> {
        LocalSelect {
            sel: Select::new(),
            _not_send: PhantomData,
        }
    }

    #[inline]
    pub fn new_biased() -> LocalSelect<'a> {
        LocalSelect {
            sel: Select::new_biased(),
            _not_send: PhantomData,
        }
    }

    #[inline]
    pub fn recv<T>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.sel.recv_any(rx)
    }

    #[inline]
    pub fn send<T>(&mut self, tx: &'a Sender<T>) -> usize {
        self.sel.send_any(tx)
    }

    #[inline]
    #[track_caller]
    pub fn select(&mut self) -> SelectedOperation<'a> {
        self.sel.select()
    }

    #[inline]
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.sel.try_select()
    }

    #[inline]
    #[track_caller]
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.sel.select_timeout(timeout)
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.len)
            .finish()
    }
}

/// The operation a [`Select`] chose; complete it at once with
/// [`recv`](SelectedOperation::recv) or [`send`](SelectedOperation::send) on
/// the same channel end that was registered.
///
/// ```
/// use goro_chan::{Select, bounded};
///
/// let (tx, rx) = bounded::<i32>(1);
/// let (out_tx, out_rx) = bounded::<i32>(1);
/// tx.send(1).unwrap();
/// let mut sel = Select::new();
/// let get = sel.recv(&rx);
/// let put = sel.send(&out_tx);
/// let op = sel.select(); // both are ready: one is picked at random
/// match op.index() {
///     i if i == get => assert_eq!(op.recv(&rx), Ok(1)),
///     i if i == put => {
///         op.send(&out_tx, 2).unwrap();
///         assert_eq!(out_rx.recv(), Ok(2));
///     }
///     _ => unreachable!(),
/// }
/// ```
///
/// Until it completes, a buffered channel's receives wait (yielding) at the
/// slot a chosen send took, as at any send being written, and other sends
/// find that slot full; `try_recv` reports it empty. So do not block
/// between the choice and the completion: with `select!`, whose send value
/// is computed after the choice (as crossbeam's is, where Go computes it
/// first), a value that waits for a goroutine receiving on the same
/// channel waits for good.
///
/// # Panics
/// Dropping it without completing it panics: the channel holds a value, a
/// slot or a waiting partner for it. Everything is given back, so that the
/// channel is as if the select had not run: a reserved value or slot, a
/// waiting send or receive (back first in line), a waiting select or a
/// receiver waiting for this send's value (woken to try again). Only a
/// value already taken for a receive from a buffered channel is dropped.
/// So does completing it in the wrong direction (a chosen receive with
/// `send`, or a send with `recv`), or on another channel, and so does a
/// `select!` whose send value panics (the operation is dropped while
/// unwinding, without a second panic).
pub struct SelectedOperation<'a> {
    index: usize,
    /// Whether it is a send (else a receive).
    send: bool,
    token: Option<Token>,
    handle: &'a dyn Handle,
}

impl SelectedOperation<'_> {
    /// The index of the chosen operation, as `Select::recv`/`send` returned.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<u8>(1);
    /// tx.send(9).unwrap();
    /// let mut sel = Select::new();
    /// let i = sel.recv(&rx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.recv(&rx).unwrap(); // complete it
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a chosen receive.
    ///
    /// ```
    /// use goro_chan::{RecvError, Select, bounded};
    ///
    /// let (tx, rx) = bounded::<u8>(1);
    /// drop(tx); // a closed channel is always ready
    /// let mut sel = Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Err(RecvError));
    /// ```
    ///
    /// # Errors
    /// `RecvError` if the channel is closed and drained.
    ///
    /// # Panics
    /// If the operation is a send, or `rx` is not the receiver the operation
    /// was registered with. The operation is then given up as if dropped.
    #[track_caller]
    pub fn recv<T>(mut self, rx: &Receiver<T>) -> Result<T, RecvError> {
        // Both checks panic with the token still held: the drop gives it up.
        assert!(
            !self.send,
            "SelectedOperation::recv called for a send operation (complete it with send)"
        );
        assert_eq!(
            rx.chan.addr(),
            self.handle.addr(),
            "SelectedOperation::recv called with a receiver it was not selected on"
        );
        let token = self.token.take().expect("completed once");
        rx.chan.complete_recv(token)
    }

    /// Completes a chosen send with `value`.
    ///
    /// ```
    /// use goro_chan::{Select, bounded};
    ///
    /// let (tx, rx) = bounded::<u8>(1);
    /// let mut sel = Select::new();
    /// sel.send(&tx);
    /// sel.select().send(&tx, 3).unwrap();
    /// assert_eq!(rx.recv(), Ok(3));
    /// ```
    ///
    /// # Errors
    /// The value comes back if the channel is closed.
    ///
    /// # Panics
    /// If the operation is a receive, or `tx` is not the sender the
    /// operation was registered with. The operation is then given up as if
    /// dropped, and `value` is dropped.
    pub fn send<T>(mut self, tx: &Sender<T>, value: T) -> Result<(), SendError<T>> {
        // Both checks panic with the token still held: the drop gives it up.
        assert!(
            self.send,
            "SelectedOperation::send called for a receive operation (complete it with recv)"
        );
        assert_eq!(
            tx.chan.addr(),
            self.handle.addr(),
            "SelectedOperation::send called with a sender it was not selected on"
        );
        let token = self.token.take().expect("completed once");
        tx.chan.complete_send(token, value)
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            // Leave the channel usable: a taken position in a ring, left
            // unwritten, would hold every receive behind it. Also when
            // unwinding (a `recv` or `send` that panicked on a wrong end),
            // and then without a second panic, which would abort.
            self.handle.abandon(self.send, token);
            if !std::thread::panicking() {
                panic!("dropped a SelectedOperation without completing it with recv or send");
            }
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

thread_local! {
    static FOUND_READY: Cell<u8> = const { Cell::new(0) };
    static RNG: Cell<u64> = Cell::new({
        // Seeded per thread from the clock and a stack address.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let local = 0u8;
        (t ^ (&raw const local as u64).rotate_left(32)) | 1
    });
}

/// `n` copies of `fill`: in `inline` if they fit, else in `heap`.
fn small<'s, T: Copy, const N: usize>(
    inline: &'s mut [T; N],
    heap: &'s mut Vec<T>,
    n: usize,
    fill: T,
) -> &'s mut [T] {
    if n <= N {
        &mut inline[..n]
    } else {
        heap.resize(n, fill);
        heap
    }
}

/// Takes a select's entries out of the queues of its `registered`
/// operations (the first of `rotation(first, ops.len())`, as `wait`
/// registered them), but `chosen`'s: its claimer popped that entry (waiter
/// rule 1), and any other of our entries in the same queue goes with its
/// own operation's sweep.
#[inline]
fn unregister(
    ops: &[Op<'_>],
    first: usize,
    registered: usize,
    ctx: &Context,
    chosen: Option<usize>,
) {
    rotation(first, ops.len())
        .take(registered)
        .filter(|&i| Some(i) != chosen)
        .for_each(|i| {
            ops[i].handle.unregister(ctx, ops[i].send);
        });
}

/// The indices `0..n`, from `first` on, wrapping around. Run it with
/// internal iteration (`for_each`, `try_for_each`), which makes the `Chain`
/// two plain loops: `for` loops over it, and an `unregister` generic over
/// the iterator that was not inlined, cost `select` some 50 instructions a
/// message and 5%.
fn rotation(first: usize, n: usize) -> std::iter::Chain<Range<usize>, Range<usize>> {
    (first..n).chain(0..first)
}

/// Whether two of `ops` are on one channel (a handle's data pointer is its
/// channel; two `never()`s or unused slots may compare equal, which only
/// makes the order random).
fn shares_a_channel(ops: &[Op<'_>]) -> bool {
    // Quadratic: past a few operations, assume so (a random start costs
    // little next to registering on that many channels).
    if ops.len() > 16 {
        return true;
    }
    let addr = |op: &Op<'_>| ptr::from_ref(op.handle).cast::<()>();
    (1..ops.len()).any(|j| ops[..j].iter().any(|a| addr(a) == addr(&ops[j])))
}

/// The index of the `k`-th set bit of `bits` (from the lowest, `k` from
/// 0); `k` is below the number of set bits.
fn nth_bit(mut bits: u64, k: usize) -> usize {
    for _ in 0..k {
        bits &= bits - 1;
    }
    bits.trailing_zeros() as usize
}

/// Tries in a row that found an operation ready, on this thread, from
/// which `try_all` draws one operation first.
const STREAK: u8 = 8;

/// If the last `STREAK` tries of `try_all` on this thread found an
/// operation ready, an operation drawn at random among `n`; else
/// `usize::MAX`.
// Behind a call, as goro's thread-locals are: inlined into a select that
// parks, a thread-local's address could be kept across the park, and a
// goroutine of a migrating runtime may resume on another thread.
#[inline(never)]
fn first_draw(n: usize) -> usize {
    if FOUND_READY.get() >= STREAK {
        random_below(n)
    } else {
        usize::MAX
    }
}

/// Counts a try of `try_all` that found an operation ready, or not.
#[inline(never)]
fn found_ready(found: bool) {
    FOUND_READY.set(if found {
        FOUND_READY.get().saturating_add(1)
    } else {
        0
    });
}

/// A uniform random number in `0..n` (`n > 0`), from a per-thread
/// xorshift (a goroutine reads and advances it without switching).
fn random_below(n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    // Lemire's multiply-shift: unbiased enough for 32-bit `n`.
    (((random_u64() >> 32) * n as u64) >> 32) as usize
}

/// The next number of this thread's xorshift generator.
// Behind a call: see `first_draw`.
#[inline(never)]
fn random_u64() -> u64 {
    RNG.with(|rng| {
        let mut x = rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rng.set(x);
        x
    })
}
