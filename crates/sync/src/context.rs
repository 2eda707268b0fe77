//! Go's `context`: cancellation that flows down a tree of [`Context`]s.
//!
//! A [`Context`] tells the goroutines working on one request when to give up.
//! It is cheap to clone and is passed down by value or by reference, as Go
//! passes `ctx` as the first argument. Each context is either
//! [`Context::background`] (the root: never cancelled) or a child made by
//! [`Context::with_cancel`], [`Context::with_timeout`] or
//! [`Context::with_deadline`], which return the child together with its
//! [`CancelHandle`].
//!
//! | Go | goro |
//! |---|---|
//! | `context.Background()`, `context.TODO()` | [`Context::background()`] |
//! | `ctx, cancel := context.WithCancel(parent)` | `let (ctx, cancel) = Context::with_cancel(&parent);` |
//! | `context.WithTimeout(parent, d)` | [`Context::with_timeout(&parent, d)`](Context::with_timeout) |
//! | `context.WithDeadline(parent, t)` | [`Context::with_deadline(&parent, t)`](Context::with_deadline) |
//! | `defer cancel()` | bind the handle as `_cancel`: dropping a [`CancelHandle`] cancels |
//! | `cancel()` | [`cancel.cancel()`](CancelHandle::cancel) |
//! | `<-ctx.Done()` | `ctx.done().recv()`, or `recv(ctx.done()) -> _ => ...` in `select!` |
//! | `ctx.Err()` | [`ctx.err()`](Context::err): `None` while live |
//! | `context.Canceled`, `context.DeadlineExceeded` | [`ContextError::Canceled`], [`ContextError::DeadlineExceeded`] |
//! | `ctx.Deadline()` | [`ctx.deadline()`](Context::deadline): `Option<Instant>` |
//!
//! # Cancelling
//!
//! [`done`](Context::done) returns a channel receiver that is closed when
//! the context is cancelled, so a goroutine can wait for cancellation and for
//! its work in one `select!`. After the channel is closed,
//! [`err`](Context::err) says why.
//!
//! ```
//! use goro_sched::go;
//! use goro_chan::{bounded, select};
//! use goro_sync::context::{Context, ContextError};
//!
//! let (ctx, cancel) = Context::with_cancel(&Context::background());
//! let (jobs_tx, jobs) = bounded::<u64>(0);
//!
//! let worker = go({
//!     let ctx = ctx.clone();
//!     move || {
//!         let done = ctx.done();
//!         let mut sum = 0;
//!         loop {
//!             select! {
//!                 recv(jobs) -> job => sum += job.unwrap(),
//!                 recv(done) -> _ => return (sum, ctx.err()),
//!             }
//!         }
//!     }
//! });
//!
//! for job in 1..=3 {
//!     jobs_tx.send(job).unwrap();
//! }
//! cancel.cancel(); // Go's `cancel()`: the worker's `select!` wakes on `done`
//! let (sum, err) = worker.join().unwrap();
//! assert_eq!(sum, 6);
//! assert_eq!(err, Some(ContextError::Canceled));
//! assert!(ctx.is_done());
//! ```
//!
//! # Timeouts
//!
//! [`with_timeout`](Context::with_timeout) cancels the context by itself when
//! the time is up, with [`ContextError::DeadlineExceeded`]. No thread waits
//! for that: the scheduler's timers fire it, and cancelling earlier withdraws
//! the timer.
//!
//! ```
//! use std::time::Duration;
//! use goro_chan::{select, time::after};
//! use goro_sync::context::{Context, ContextError};
//!
//! let (ctx, _cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(10));
//! let outcome = select! {
//!     recv(after(Duration::from_secs(60))) -> _ => "the slow work finished",
//!     recv(ctx.done()) -> _ => "gave up",
//! };
//! assert_eq!(outcome, "gave up");
//! assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
//! assert_eq!(ctx.err().unwrap().to_string(), "context deadline exceeded");
//! ```
//!
//! # The tree
//!
//! Cancelling a context cancels all of its descendants, with the same error
//! (a child of a timed-out context reports `DeadlineExceeded`); it never
//! affects its parent or its siblings. A child's deadline is never later than
//! its parent's.
//!
//! # `CancelHandle`: bind it as `_cancel`, not `_`
//!
//! Unlike Go, where forgetting `cancel()` leaks the context until its parent
//! ends (`go vet` warns about it), a [`CancelHandle`] cancels its context
//! when it is dropped. Keep it alive for as long as the context should live.
//! In particular, `let (ctx, _) = Context::with_timeout(...)` drops the handle
//! on the spot and so returns a context that is **already cancelled**; write
//! `let (ctx, _cancel) = ...` instead, which keeps the handle to the end of
//! the scope, as Go's `defer cancel()` does.
//!
//! ```
//! use goro_sync::context::{Context, ContextError};
//!
//! let (ctx, _) = Context::with_cancel(&Context::background());
//! assert_eq!(ctx.err(), Some(ContextError::Canceled)); // oops: `_` dropped the handle
//!
//! let (ctx, _cancel) = Context::with_cancel(&Context::background());
//! assert_eq!(ctx.err(), None); // live until `_cancel` goes out of scope
//! ```
//!
//! Go's request-scoped values (`WithValue`), `Cause`, `AfterFunc` and
//! `WithoutCancel` have no counterpart here.
//!
//! # Implementation
//!
//! Every context but the background is a node: its deadline, its `done`
//! channel, its error (an atomic, so that [`Context::err`] takes no lock) and,
//! behind a `std::sync::Mutex`, the sender of its `done` channel, its live
//! children and its timer. A node holds its children strongly and its parent
//! weakly, so there is no reference cycle; the parent outlives every
//! registered child anyway, since an uncancelled node is kept alive by its
//! `CancelHandle`.
//!
//! 1. *Creating* a child locks the parent: if the parent is cancelled, the
//!    child is cancelled at once with the parent's error; otherwise it is
//!    entered in the parent's children. A parent's cancellation sets its error
//!    and takes its children under the same lock, so a child is either seen
//!    by the cancellation or sees its error: none is missed.
//! 2. *Cancelling* a node marks it: locks it, sets its error (the first
//!    cancellation wins; a node already done is left alone, with its
//!    subtree), takes its `done` sender, its children and its timer, and
//!    unlocks. The children are marked the same way, from a work list rather
//!    than by recursion (a deep chain cannot overflow a goroutine's stack).
//! 3. A node cancelled by its own handle or timer (not by its parent) then
//!    locks its parent and removes itself from the parent's children (Go's
//!    `removeChild`), so a long-lived parent does not accumulate dead
//!    children.
//! 4. Last, the taken `done` channels are closed and the timers withdrawn.
//!    So whoever sees a `done` closed sees the error of that context and of
//!    all its descendants, and no longer finds the context among its
//!    parent's children.
//!
//! No two node locks are ever held at once, and none is held while a channel
//! is closed or a timer withdrawn. The timer's function holds only a weak
//! reference to its node.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use goro_chan::sched::timer::{TimerHandle, call_at};
use goro_chan::{Receiver, Sender};

/// Why a context was cancelled: what [`Context::err`] returns once it is done.
///
/// Displays as Go's errors do: "context canceled", "context deadline exceeded".
///
/// ```
/// use goro_sync::context::ContextError;
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// let err: Box<dyn std::error::Error> = Box::new(ContextError::DeadlineExceeded);
/// assert_eq!(err.to_string(), "context deadline exceeded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// The context (or an ancestor) was cancelled through its
    /// [`CancelHandle`] (Go's `context.Canceled`).
    #[doc(alias = "context.Canceled")]
    Canceled,
    /// The context's deadline (or an ancestor's) passed (Go's
    /// `context.DeadlineExceeded`).
    #[doc(alias = "context.DeadlineExceeded")]
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// [`Node::err`]: not cancelled yet. Moves once, under the node's lock, to
/// [`CANCELED`] or [`DEADLINE_EXCEEDED`], and stays there.
const LIVE: u8 = 0;
/// [`Node::err`]: cancelled with [`ContextError::Canceled`]. Final.
const CANCELED: u8 = 1;
/// [`Node::err`]: cancelled with [`ContextError::DeadlineExceeded`]. Final.
const DEADLINE_EXCEEDED: u8 = 2;

impl ContextError {
    fn code(self) -> u8 {
        match self {
            ContextError::Canceled => CANCELED,
            ContextError::DeadlineExceeded => DEADLINE_EXCEEDED,
        }
    }

    fn from_code(code: u8) -> Option<ContextError> {
        match code {
            CANCELED => Some(ContextError::Canceled),
            DEADLINE_EXCEEDED => Some(ContextError::DeadlineExceeded),
            _ => None,
        }
    }
}

/// A cancellable context: Go's `context.Context` (see the [module
/// docs](self)).
///
/// Clones share one context: cancelling it is seen through every clone.
/// `Context` is `Send + Sync`; pass `&Context` down a call chain, or move a
/// clone into each goroutine.
///
/// ```
/// use goro_sched::go;
/// use goro_sync::context::{Context, ContextError};
/// use std::time::Duration;
///
/// let (ctx, cancel) = Context::with_timeout(&Context::background(), Duration::from_secs(60));
/// let worker = go({
///     let ctx = ctx.clone(); // clones share one context
///     move || {
///         ctx.done().recv().ok(); // closed on cancel
///         ctx.err()
///     }
/// });
/// cancel.cancel();
/// assert_eq!(worker.join().unwrap(), Some(ContextError::Canceled));
/// ```
#[derive(Clone)]
pub struct Context {
    /// `None` for the background context (no allocation).
    node: Option<Arc<Node>>,
}

/// Cancels its [`Context`] (and the context's descendants) when
/// [`cancel`](CancelHandle::cancel) is called **or when it is dropped**.
///
/// Bind it to a named variable such as `_cancel`, never to `_`: `let (ctx,
/// _) = Context::with_cancel(&parent)` drops the handle at once, and so
/// cancels the context it has just made. Keeping the handle to the end of a
/// scope is Go's `defer cancel()`.
///
/// ```
/// use goro_sync::context::{Context, ContextError};
///
/// let (ctx, cancel) = Context::with_cancel(&Context::background());
/// assert!(!ctx.is_done());
/// drop(cancel); // same as cancel.cancel()
/// assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// ```
pub struct CancelHandle {
    node: Arc<Node>,
}

/// What a cancellation took out of the nodes it marked, to finish without
/// their locks.
#[derive(Default)]
struct Taken {
    senders: Vec<Sender<()>>,
    timers: Vec<Arc<TimerHandle>>,
}

/// A context other than the background one.
struct Node {
    /// The parent node, if it is not the background context. Weak: a parent
    /// holds its live children, and it lives as long as any of them is
    /// registered (its own handle keeps it until it is cancelled).
    parent: Weak<Node>,
    /// The effective deadline: the node's own, or else its parent's.
    deadline: Option<Instant>,
    /// A receiver of the `done` channel, cloned by [`Context::done`]; it
    /// also keeps the channel open for [`State::done_tx`] to close.
    done: Receiver<()>,
    /// [`LIVE`], [`CANCELED`] or [`DEADLINE_EXCEEDED`]. Written only under
    /// `state`'s lock, before `done` is closed (Release); read without the
    /// lock (Acquire), so that whoever sees `done` closed sees the error.
    err: AtomicU8,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The only sender of `done`; taken and closed on cancellation.
    done_tx: Option<Sender<()>>,
    /// Live children, by address (unique while the entry holds them).
    children: HashMap<usize, Arc<Node>>,
    /// The timer that cancels the node at its own deadline, if it has one.
    /// Shared so that it is withdrawn without holding the lock.
    timer: Option<Arc<TimerHandle>>,
}

impl Node {
    /// A node under `parent`, registered with it (or cancelled already, if
    /// the parent is).
    fn new(parent: &Context, deadline: Option<Instant>) -> Arc<Node> {
        let (tx, rx) = goro_chan::bounded(0);
        let node = Arc::new(Node {
            parent: parent.node.as_ref().map_or_else(Weak::new, Arc::downgrade),
            deadline,
            done: rx,
            err: AtomicU8::new(LIVE),
            state: Mutex::new(State {
                done_tx: Some(tx),
                ..State::default()
            }),
        });
        if let Some(parent) = &parent.node {
            // Step 1 of the protocol (module docs): the parent's error is
            // read under its lock, as its cancellation sets it.
            let cancelled = {
                let mut st = parent.lock();
                let err = parent.err();
                if err.is_none() {
                    st.children.insert(node.key(), node.clone());
                }
                err
            };
            if let Some(err) = cancelled {
                node.cancel(err, false);
            }
        }
        node
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, and the state is consistent
        // between statements: a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    fn err(&self) -> Option<ContextError> {
        // Pairs with the Release store in `cancel_one`.
        ContextError::from_code(self.err.load(Ordering::Acquire))
    }

    /// Cancels this node and its descendants with `err`, unless it is done
    /// already; `detach` removes it from its parent's children (when the
    /// cancellation does not come from the parent).
    ///
    /// Every node of the subtree is marked before any `done` channel is
    /// closed, and the node leaves its parent before that too: whoever sees
    /// a `done` closed sees the errors of that node's whole subtree, and no
    /// longer finds the node among its parent's children.
    fn cancel(self: &Arc<Self>, err: ContextError, detach: bool) {
        let mut taken = Taken::default();
        let mut pending = Vec::new();
        if !self.mark(err, &mut taken, &mut pending) {
            return;
        }
        while let Some(child) = pending.pop() {
            child.mark(err, &mut taken, &mut pending);
        }
        if detach && let Some(parent) = self.parent.upgrade() {
            parent.remove_child(self);
        }
        for tx in taken.senders {
            tx.close();
        }
        for timer in taken.timers {
            timer.cancel();
        }
    }

    /// Sets this node's error, moves its sender and timer to `taken` and its
    /// children to `children`; returns false if it was done already.
    fn mark(&self, err: ContextError, taken: &mut Taken, children: &mut Vec<Arc<Node>>) -> bool {
        let mut st = self.lock();
        if self.err.load(Ordering::Relaxed) != LIVE {
            return false;
        }
        // Pairs with the Acquire load in `err`.
        self.err.store(err.code(), Ordering::Release);
        children.extend(std::mem::take(&mut st.children).into_values());
        taken.senders.extend(st.done_tx.take());
        taken.timers.extend(st.timer.clone());
        true
    }

    fn remove_child(&self, child: &Arc<Node>) {
        let mut st = self.lock();
        // The entry's `Arc` is not the child's last (the caller holds one),
        // so no node is dropped under the lock.
        if st.children.remove(&child.key()).is_some() {
            // Give back memory after a burst of children has ended.
            let cap = st.children.capacity();
            if cap > 64 && st.children.len() * 4 < cap {
                let len = st.children.len();
                st.children.shrink_to(len * 2);
            }
        }
    }

    /// Arms the timer that cancels the node at `deadline` (in the future).
    fn start_timer(self: &Arc<Self>, deadline: Instant) {
        let weak = Arc::downgrade(self);
        let timer = Arc::new(call_at(deadline, move || {
            if let Some(node) = weak.upgrade() {
                node.cancel(ContextError::DeadlineExceeded, true);
            }
        }));
        let mut st = self.lock();
        if self.err.load(Ordering::Relaxed) == LIVE {
            st.timer = Some(timer);
        } else {
            // Cancelled meanwhile (by the parent): nothing will withdraw it.
            drop(st);
            timer.cancel();
        }
    }
}

/// The background context's `done`: never fires, made once.
fn never_done() -> Receiver<()> {
    static NEVER: OnceLock<Receiver<()>> = OnceLock::new();
    NEVER.get_or_init(goro_chan::never).clone()
}

impl Context {
    /// The root context: never cancelled, no deadline (Go's
    /// `context.Background()` and `context.TODO()`). Allocates nothing.
    ///
    /// ```
    /// use goro_sync::context::Context;
    /// let bg = Context::background();
    /// assert_eq!(bg.err(), None);
    /// assert_eq!(bg.deadline(), None);
    /// ```
    #[doc(alias = "Background")]
    #[doc(alias = "TODO")]
    #[must_use]
    pub fn background() -> Context {
        Context { node: None }
    }

    /// A child of `parent` that is cancelled by the returned handle (called
    /// or dropped) or when `parent` is (Go's `context.WithCancel`). It has
    /// the parent's deadline.
    ///
    /// ```
    /// use goro_sync::context::{Context, ContextError};
    ///
    /// let (parent, cancel_parent) = Context::with_cancel(&Context::background());
    /// let (child, _cancel_child) = Context::with_cancel(&parent);
    /// cancel_parent.cancel();
    /// assert_eq!(child.err(), Some(ContextError::Canceled));
    /// ```
    #[doc(alias = "WithCancel")]
    #[must_use = "dropping the CancelHandle cancels the context at once; bind it as `_cancel`"]
    pub fn with_cancel(parent: &Context) -> (Context, CancelHandle) {
        let node = Node::new(parent, parent.deadline());
        Context::pair(node)
    }

    /// A child of `parent` that is also cancelled, with
    /// [`ContextError::DeadlineExceeded`], once `timeout` has passed (Go's
    /// `context.WithTimeout`): [`with_deadline`](Context::with_deadline)
    /// with `Instant::now() + timeout`. A `timeout` too long for an `Instant`
    /// means no deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_sync::context::{Context, ContextError};
    ///
    /// let (ctx, _cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(1));
    /// assert!(ctx.done().recv().is_err()); // closed when the time is up
    /// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    /// ```
    #[doc(alias = "WithTimeout")]
    #[must_use = "dropping the CancelHandle cancels the context at once; bind it as `_cancel`"]
    pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelHandle) {
        match goro_sched::timer::now().checked_add(timeout) {
            Some(deadline) => Context::with_deadline(parent, deadline),
            None => Context::with_cancel(parent),
        }
    }

    /// A child of `parent` that is also cancelled, with
    /// [`ContextError::DeadlineExceeded`], at `deadline` (Go's
    /// `context.WithDeadline`).
    ///
    /// A deadline no earlier than the parent's is capped at the parent's:
    /// the child is then just [`with_cancel`](Context::with_cancel) (the
    /// parent's timer will cancel both). A deadline that has passed cancels
    /// the child at once. The timer costs no thread (the scheduler's timers
    /// run it) and is withdrawn if the context is cancelled earlier.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_sync::context::Context;
    ///
    /// let soon = Instant::now() + Duration::from_secs(60);
    /// let (parent, _cancel_parent) = Context::with_deadline(&Context::background(), soon);
    /// let (child, _cancel_child) = Context::with_deadline(&parent, soon + Duration::from_secs(60));
    /// assert_eq!(child.deadline(), Some(soon)); // capped
    /// ```
    #[doc(alias = "WithDeadline")]
    #[must_use = "dropping the CancelHandle cancels the context at once; bind it as `_cancel`"]
    pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelHandle) {
        if parent.deadline().is_some_and(|d| d <= deadline) {
            return Context::with_cancel(parent);
        }
        let node = Node::new(parent, Some(deadline));
        if node.err().is_none() {
            if deadline <= goro_sched::timer::now() {
                node.cancel(ContextError::DeadlineExceeded, true);
            } else {
                node.start_timer(deadline);
            }
        }
        Context::pair(node)
    }

    fn pair(node: Arc<Node>) -> (Context, CancelHandle) {
        (
            Context {
                node: Some(node.clone()),
            },
            CancelHandle { node },
        )
    }

    /// A receiver that is closed when the context is cancelled (Go's
    /// `ctx.Done()`): `recv` on it returns `Err` then, and a `select!` arm
    /// `recv(ctx.done()) -> _ => ...` becomes ready. Nothing is ever sent on
    /// it. The background context's never closes.
    ///
    /// The receiver is independent of the `Context`: it stays valid (and is
    /// still closed on cancellation) after every `Context` is dropped. Each
    /// call clones a receiver; in a loop, call it once outside.
    ///
    /// ```
    /// use goro_sync::context::Context;
    ///
    /// let (ctx, cancel) = Context::with_cancel(&Context::background());
    /// let done = ctx.done();
    /// drop(ctx);
    /// assert!(done.try_recv().unwrap_err().is_empty());
    /// cancel.cancel();
    /// assert!(done.recv().is_err());
    /// ```
    #[doc(alias = "Done")]
    pub fn done(&self) -> Receiver<()> {
        match &self.node {
            None => never_done(),
            Some(node) => node.done.clone(),
        }
    }

    /// `None` while the context is live; once it is cancelled, why (Go's
    /// `ctx.Err()`): [`ContextError::Canceled`] or
    /// [`ContextError::DeadlineExceeded`], the same from then on. Takes no
    /// lock. Once [`done`](Context::done) is closed, this is `Some`.
    ///
    /// ```
    /// use goro_sync::context::{Context, ContextError};
    ///
    /// let (ctx, cancel) = Context::with_cancel(&Context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    #[doc(alias = "Err")]
    pub fn err(&self) -> Option<ContextError> {
        self.node.as_ref().and_then(|node| node.err())
    }

    /// When the context will be cancelled by itself, if ever (Go's
    /// `ctx.Deadline()`): its own deadline or the nearest of its ancestors'.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_sync::context::Context;
    ///
    /// let (timed, _cancel) = Context::with_timeout(&Context::background(), Duration::from_secs(60));
    /// let (child, _cancel_child) = Context::with_cancel(&timed);
    /// assert!(timed.deadline().is_some());
    /// assert_eq!(child.deadline(), timed.deadline());
    /// ```
    #[doc(alias = "Deadline")]
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|node| node.deadline)
    }

    /// Whether the context has been cancelled: `self.err().is_some()`.
    ///
    /// ```
    /// use goro_sync::context::Context;
    ///
    /// let (ctx, cancel) = Context::with_cancel(&Context::background());
    /// assert!(!ctx.is_done());
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// Live children registered with this context (a test hook: cancelled
    /// children must not linger).
    #[doc(hidden)]
    pub fn __children(&self) -> usize {
        self.node
            .as_ref()
            .map_or(0, |node| node.lock().children.len())
    }

    /// Whether this context's own deadline timer is still pending in the
    /// scheduler (a test hook: cancelling must withdraw it).
    #[doc(hidden)]
    pub fn __timer_pending(&self) -> bool {
        self.node.as_ref().is_some_and(|node| {
            node.lock()
                .timer
                .as_ref()
                .is_some_and(|timer| timer.is_pending())
        })
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            None => f.write_str("Context::background()"),
            Some(node) => f
                .debug_struct("Context")
                .field("deadline", &node.deadline)
                .field("err", &node.err())
                .finish_non_exhaustive(),
        }
    }
}

impl CancelHandle {
    /// Cancels the context with [`ContextError::Canceled`], and every
    /// descendant with it (Go's `cancel()`). Does nothing if it is done
    /// already: the first cancellation's error stays.
    ///
    /// ```
    /// use goro_sync::context::{Context, ContextError};
    ///
    /// let (ctx, cancel) = Context::with_cancel(&Context::background());
    /// cancel.cancel();
    /// cancel.cancel(); // no-op
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    #[doc(alias = "CancelFunc")]
    pub fn cancel(&self) {
        self.node.cancel(ContextError::Canceled, true);
    }
}

impl Drop for CancelHandle {
    /// Cancels the context, as [`cancel`](CancelHandle::cancel).
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("err", &self.node.err())
            .finish_non_exhaustive()
    }
}
