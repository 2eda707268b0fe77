//! `ErrGroup`: Go's `golang.org/x/sync/errgroup`, goroutines working on one
//! task, with the first error and cancellation.
//!
//! Built as Go's is: a `WaitGroup` for `wait`, a buffered channel of tokens
//! for the limit (`go` sends one before it starts a member, which takes it
//! back when it ends), and the first failure kept once. A member's exit path never blocks
//! (its token is taken with `try_recv`, the failure stored under a `std`
//! mutex held for a few instructions), so it is safe while unwinding.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use goro_sync::WaitGroup;
use goro_sync::chan::sched::fiber::ForcedUnwind;
use goro_sync::chan::sched::go;
use goro_sync::chan::{Receiver, Sender, bounded};
use goro_sync::context::{CancelHandle, Context};

/// A group of goroutines ("members") working on subtasks of one task, as
/// Go's `errgroup.Group`: [`wait`](ErrGroup::wait) waits for all of them and
/// returns the first error.
///
/// * [`with_context`](ErrGroup::with_context) also derives a [`Context`]
///   that is cancelled as soon as a member fails (returns `Err` or panics),
///   and in any case when `wait` returns: members watch it to give up early.
/// * [`set_limit`](ErrGroup::set_limit) bounds how many members run at once;
///   [`go`](ErrGroup::go) then waits for a free slot, and
///   [`try_go`](ErrGroup::try_go) declines.
/// * A panic in a member is caught, and re-raised by `wait` once every
///   member has finished (the panic hook printed it when it happened), as
///   `std::thread::scope` does; it takes precedence over errors.
///
/// Methods take `&self`; to let members start more members, share the group
/// in an `Arc`. Dropping the group without waiting lets the members run on;
/// its context is then cancelled when the last of them finishes.
///
/// ```
/// use goro_patterns::ErrGroup;
/// use goro_sync::context::Context;
///
/// let (group, ctx) = ErrGroup::<String>::with_context(&Context::background());
/// for id in 0..4 {
///     let ctx = ctx.clone();
///     group.go(move || {
///         if id == 2 {
///             return Err(format!("member {id} failed"));
///         }
///         ctx.done().recv().ok(); // the others wait, until the failure cancels ctx
///         Ok(())
///     });
/// }
/// assert_eq!(group.wait(), Err("member 2 failed".to_string()));
/// assert!(ctx.is_done());
/// ```
#[doc(alias = "Group")]
pub struct ErrGroup<E> {
    shared: Arc<Shared<E>>,
    members: WaitGroup,
    /// `None`: no limit. Else a channel of `limit` tokens' room.
    sem: Mutex<Option<Sem>>,
}

#[derive(Clone)]
struct Sem {
    tx: Sender<()>,
    rx: Receiver<()>,
}

/// What the members share.
struct Shared<E> {
    failure: Mutex<Failure<E>>,
    cancel: Option<CancelHandle>,
}

struct Failure<E> {
    /// Whether a member has returned an error (the first one is kept, as
    /// with Go's `errOnce`, even after `wait` took it).
    failed: bool,
    err: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

impl<E: Send + 'static> ErrGroup<E> {
    /// A group with no context (Go's zero `Group`).
    ///
    /// ```
    /// let group = goro_patterns::ErrGroup::<std::io::Error>::new();
    /// group.go(|| Ok(()));
    /// assert!(group.wait().is_ok());
    /// ```
    pub fn new() -> ErrGroup<E> {
        ErrGroup::with_cancel(None)
    }

    /// A group, and a child of `ctx` that is cancelled when a member first
    /// fails or when [`wait`](ErrGroup::wait) returns, whichever comes
    /// first (Go's `errgroup.WithContext`).
    ///
    /// ```
    /// use goro_patterns::ErrGroup;
    /// use goro_sync::context::Context;
    ///
    /// let (group, ctx) = ErrGroup::<()>::with_context(&Context::background());
    /// group.go(|| Ok(()));
    /// assert!(!ctx.is_done());
    /// group.wait().unwrap();
    /// assert!(ctx.is_done()); // wait cancels it too
    /// ```
    pub fn with_context(ctx: &Context) -> (ErrGroup<E>, Context) {
        let (ctx, cancel) = Context::with_cancel(ctx);
        (ErrGroup::with_cancel(Some(cancel)), ctx)
    }

    fn with_cancel(cancel: Option<CancelHandle>) -> ErrGroup<E> {
        ErrGroup {
            shared: Arc::new(Shared {
                failure: Mutex::new(Failure {
                    failed: false,
                    err: None,
                    panic: None,
                }),
                cancel,
            }),
            members: WaitGroup::new(),
            sem: Mutex::new(None),
        }
    }

    /// Runs `f` in a new goroutine, a member of the group. With a limit set,
    /// first waits (parks a goroutine, blocks a thread) until fewer than
    /// the limit are running.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let group = goro_patterns::ErrGroup::<()>::new();
    /// let sum = Arc::new(AtomicU64::new(0));
    /// for i in 1..=10 {
    ///     let sum = sum.clone();
    ///     group.go(move || {
    ///         sum.fetch_add(i, Ordering::Relaxed);
    ///         Ok(())
    ///     });
    /// }
    /// group.wait().unwrap();
    /// assert_eq!(sum.load(Ordering::Relaxed), 55);
    /// ```
    ///
    /// # Panics
    /// If the limit is 0: the call could never return.
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = self.sem();
        if let Some(sem) = &sem {
            assert!(
                sem.tx.capacity() != Some(0),
                "ErrGroup::go with a limit of 0 would wait forever (try_go declines instead)"
            );
            // The group holds both ends: the channel never closes.
            let _ = sem.tx.send(());
        }
        self.members.add(1);
        let member = Member {
            shared: self.shared.clone(),
            members: self.members.clone(),
            token: sem.map(|sem| sem.rx),
        };
        go(move || member.run(f));
    }

    /// Runs `f` in a new member only if that needs no waiting: returns false
    /// (and drops `f`) if the limit is reached (Go's `TryGo`).
    ///
    /// ```
    /// let group = goro_patterns::ErrGroup::<()>::new();
    /// group.set_limit(1);
    /// let (release, gate) = goro_chan::bounded::<()>(0);
    /// assert!(group.try_go(move || { gate.recv().ok(); Ok(()) }));
    /// assert!(!group.try_go(|| Ok(()))); // the one slot is taken
    /// drop(release);
    /// group.wait().unwrap();
    /// assert!(group.try_go(|| Ok(())));
    /// # group.wait().unwrap();
    /// ```
    #[track_caller]
    pub fn try_go<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = self.sem();
        if let Some(sem) = &sem
            && sem.tx.try_send(()).is_err()
        {
            return false;
        }
        self.members.add(1);
        let member = Member {
            shared: self.shared.clone(),
            members: self.members.clone(),
            token: sem.map(|sem| sem.rx),
        };
        go(move || member.run(f));
        true
    }

    /// Limits the group to `n` members running at once (Go's `SetLimit`);
    /// `usize::MAX` removes the limit. With a limit of 0, `try_go` always
    /// declines and `go` panics.
    ///
    /// ```
    /// let group = goro_patterns::ErrGroup::<()>::new();
    /// group.set_limit(2);
    /// for _ in 0..10 {
    ///     group.go(|| Ok(())); // at most 2 at a time
    /// }
    /// group.wait().unwrap();
    /// ```
    ///
    /// # Panics
    /// If a limit is set and members started under it are still running, as
    /// Go's.
    pub fn set_limit(&self, n: usize) {
        let mut sem = lock(&self.sem);
        if let Some(old) = &*sem {
            let active = old.rx.len();
            assert!(
                active == 0,
                "ErrGroup::set_limit: the limit cannot change while {active} members are running"
            );
        }
        *sem = (n != usize::MAX).then(|| {
            let (tx, rx) = bounded(n);
            Sem { tx, rx }
        });
    }

    /// Waits for every member to finish, cancels the group's context, and
    /// returns the first error (Go's `Wait`).
    ///
    /// The first error is handed out once: it moves out, and a later `wait`
    /// returns `Ok(())` (errors after the first are dropped, as in Go).
    ///
    /// ```
    /// let group = goro_patterns::ErrGroup::<&str>::new();
    /// group.go(|| Err("first"));
    /// group.wait().unwrap_err();
    /// assert_eq!(group.wait(), Ok(()));
    /// ```
    ///
    /// # Panics
    /// Re-raises (with `std::panic::resume_unwind`) the first panic of a
    /// member, after every member has finished.
    #[track_caller]
    pub fn wait(&self) -> Result<(), E> {
        self.members.wait();
        self.shared.cancel();
        let mut failure = lock(&self.shared.failure);
        if let Some(payload) = failure.panic.take() {
            drop(failure);
            panic::resume_unwind(payload);
        }
        match failure.err.take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn sem(&self) -> Option<Sem> {
        lock(&self.sem).clone()
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> ErrGroup<E> {
        ErrGroup::new()
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = lock(&self.sem).as_ref().and_then(|sem| sem.tx.capacity());
        let failed = {
            let failure = lock(&self.shared.failure);
            failure.failed || failure.panic.is_some()
        };
        f.debug_struct("ErrGroup")
            .field("members", &self.members.count())
            .field("limit", &limit)
            .field("failed", &failed)
            .finish()
    }
}

/// What a member's goroutine holds.
struct Member<E> {
    shared: Arc<Shared<E>>,
    members: WaitGroup,
    /// Its slot under the limit, given back when it ends.
    token: Option<Receiver<()>>,
}

impl<E> Member<E> {
    fn run<F>(self, f: F)
    where
        F: FnOnce() -> Result<(), E>,
    {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                let mut failure = lock(&self.shared.failure);
                if !failure.failed {
                    failure.failed = true;
                    failure.err = Some(err);
                }
                drop(failure);
                self.shared.cancel();
            }
            // The runtime is unwinding this goroutine: let it.
            Err(payload) if payload.is::<ForcedUnwind>() => panic::resume_unwind(payload),
            Err(payload) => {
                let mut failure = lock(&self.shared.failure);
                if failure.panic.is_none() {
                    failure.panic = Some(payload);
                }
                drop(failure);
                self.shared.cancel();
            }
        }
    }
}

impl<E> Drop for Member<E> {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            // The member put one in when it started.
            let _ = token.try_recv();
        }
        self.members.done();
    }
}

impl<E> Shared<E> {
    fn cancel(&self) {
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
