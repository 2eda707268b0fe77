//! Testing goroutine programs: [`run`], a bubble of virtual time (Go's
//! `testing/synctest`), with [`wait`]; and [`assert_no_leaks`], Go's
//! `goleak` for a closure.
//!
//! A *group* is the goroutines started by one call, and those they start,
//! transitively: a goroutine inherits its spawner's group. The group counts
//! its live members, so the check costs a spawn one thread-local read, and
//! the spawns of a group one counter each.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::worker;

/// Goroutines started by one `assert_no_leaks` call, transitively.
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Members spawned and not finished.
    live: AtomicUsize,
}

impl Group {
    /// A member was spawned.
    pub(crate) fn enter(&self) {
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    /// A member finished (its body returned, panicked, or was unwound, or it
    /// was cancelled unrun).
    pub(crate) fn exit(&self) {
        self.live.fetch_sub(1, Ordering::Release);
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}

thread_local! {
    /// The group the next spawn from this thread joins, overriding the
    /// spawner's (`assert_no_leaks` starts its closure's goroutine so): an
    /// `Arc::into_raw`, or null. A raw pointer, not an `Option<Arc>`: a
    /// thread-local without a destructor costs every spawn one load, where
    /// one with a destructor cost `skynet` some 3%.
    static NEXT: Cell<*const Group> = const { Cell::new(std::ptr::null()) };
}

/// Sets (or, with `None`, clears) the group of this thread's next spawn;
/// returns the one that was set and not taken.
fn set_next(group: Option<Arc<Group>>) -> Option<Arc<Group>> {
    let new = group.map_or(std::ptr::null(), Arc::into_raw);
    let old = NEXT.replace(new);
    // SAFETY: a non-null `NEXT` came from `Arc::into_raw`, and whoever
    // replaces it takes that reference over.
    (!old.is_null()).then(|| unsafe { Arc::from_raw(old) })
}

/// The group of a goroutine spawned now, by this thread: the one set for
/// this spawn, else the spawning goroutine's.
#[inline]
pub(crate) fn for_spawn() -> Option<Arc<Group>> {
    if !NEXT.get().is_null() {
        return set_next(None);
    }
    let task = worker::current_task_ptr()?;
    // SAFETY: the current goroutine is alive while it runs (its worker
    // holds it), and this runs on it.
    unsafe { task.as_ref() }.group().cloned()
}

/// How long [`assert_no_leaks`] waits for the goroutines to finish.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// Runs `f` as a goroutine of the current runtime (the calling goroutine's,
/// else the one this thread entered, else the global one), waits for it,
/// and then for every goroutine it started, transitively: Go's `goleak`.
/// Returns what `f` returned (its panic is re-raised).
///
/// # Panics
/// If goroutines started by `f` are still running [`DEFAULT_WAIT`] after
/// `f` returned: the message lists them in the dump's format (each one's
/// state, where it waits and where it was spawned).
///
/// Goroutines started by plain threads that `f` spawned are not followed
/// (they belong to no goroutine).
///
/// ```
/// use goro_sched::test::assert_no_leaks;
///
/// let sum = assert_no_leaks(|| {
///     let hs: Vec<_> = (1..=3).map(|i| goro_sched::go(move || i * 10)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
/// });
/// assert_eq!(sum, 60);
///
/// let leak = std::panic::catch_unwind(|| {
///     assert_no_leaks_within(std::time::Duration::from_millis(20), || {
///         // Parked for good: leaked.
///         drop(goro_sched::go(|| goro_sched::park::park()));
///     })
/// });
/// # use goro_sched::test::assert_no_leaks_within;
/// let msg = *leak.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.contains("1 goroutines still running"), "{msg}");
/// assert!(msg.contains("[park, "), "{msg}");
/// ```
#[track_caller]
pub fn assert_no_leaks<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    assert_no_leaks_within(DEFAULT_WAIT, f)
}

/// As [`assert_no_leaks`], waiting at most `wait` for the goroutines.
///
/// ```
/// use std::time::Duration;
/// use goro_sched::test::assert_no_leaks_within;
///
/// assert_no_leaks_within(Duration::from_secs(1), || {
///     drop(goro_sched::go(|| goro_sched::sleep(Duration::from_millis(5)))); // ends in time
/// });
/// ```
///
/// # Panics
/// As [`assert_no_leaks`].
#[track_caller]
pub fn assert_no_leaks_within<F, R>(wait: Duration, f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let group = Arc::new(Group::default());
    drop(set_next(Some(group.clone())));
    let handle = crate::go(f);
    // Taken by the spawn; not left for a later one if it took none.
    drop(set_next(None));
    let result = match handle.join() {
        Ok(r) => r,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("goro::test::assert_no_leaks: the closure's goroutine: {e}"),
        },
    };
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_micros(50);
    while group.live() > 0 {
        if Instant::now() >= deadline {
            let listing = crate::current::with_current(|rt| crate::dump::render_group(rt, &group));
            panic!(
                "goro::test::assert_no_leaks: {} goroutines still running {wait:?} after the \
                 closure returned:\n{listing}",
                group.live()
            );
        }
        crate::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
    result
}

/// Runs `f` in a *bubble* (Go's `synctest.Test`): a runtime of its own, of
/// one worker, whose clock starts at a fixed instant and moves only when
/// every goroutine of the bubble is durably blocked, jumping to the
/// earliest timer. A test of an hour-long timeout takes no real time, and
/// reads the same times on every run. Returns what `f` returned (its panic
/// is re-raised).
///
/// Inside the bubble, [`sleep`](crate::sleep), timers, time channels,
/// context deadlines, rate limiters and every timeout of goro's channels
/// and locks use the bubble's clock; read it with
/// [`timer::now`](crate::timer::now) (`goro::time::now`), not
/// `Instant::now()`. Goroutines spawned inside belong to the bubble.
///
/// *Durably blocked* means parked on something that only the bubble can
/// wake: goro's channels and `select!`, sleeps and timers, goro's locks,
/// `WaitGroup`, `Condvar`, joins of the bubble's goroutines. A goroutine
/// that waits on something outside (a socket, a
/// [`blocking`](crate::blocking) call, a goroutine of another runtime)
/// keeps the clock still until it is back, as in Go; so does a goroutine
/// that computes. So a socket's timeout or deadline, which is on the
/// bubble's clock too, cannot pass while the socket is waited on: as in
/// Go, test network code in a bubble over channels or in-memory pipes,
/// not real sockets.
///
/// A channel belongs to the bubble it was made in, as in Go: a wait on a
/// channel made outside the bubble (before `run`, by a plain thread or
/// another runtime) is not durable, so a plain thread may feed the bubble
/// through it; a `select!` with any such channel is not durable either
/// (`never()` is durable wherever it was made, as Go's nil channel). A
/// channel made inside the bubble is for its goroutines only: Go panics
/// when code outside the bubble uses one; goro does not check, and a
/// bubble goroutine waiting on one counts as durably blocked even if a
/// plain thread is about to feed it (the clock may jump, or a deadlock be
/// reported). goro's locks, `WaitGroup`, `Condvar` and the like count as
/// durable wherever they were made (Go counts its mutexes as never
/// durable): do not share one with code outside the bubble that holds it
/// across a wait.
///
/// # Panics
/// * If every goroutine of the bubble is blocked and no timer is pending
///   (a timer more than 584 years away counts as none: the clock's range):
///   the message is the deadlock report, "all goroutines in the bubble are
///   asleep - deadlock!", with the dump of the bubble's goroutines.
/// * If goroutines of the bubble are still alive when `f` has returned and
///   they are all blocked (it first lets them run, as [`wait`] does, but
///   does not move the clock): the message lists them in the dump's format.
///
/// ```
/// use std::time::Duration;
/// use goro_sched::timer::now;
///
/// let elapsed = goro_sched::test::run(|| {
///     let start = now();
///     let sleepers: Vec<_> = (1..=3u64)
///         .map(|h| goro_sched::go(move || goro_sched::sleep(Duration::from_secs(h * 3600))))
///         .collect();
///     for s in sleepers {
///         s.join().unwrap();
///     }
///     now() - start
/// });
/// assert_eq!(elapsed, Duration::from_secs(3 * 3600)); // exactly, at once
///
/// let deadlock = std::panic::catch_unwind(|| {
///     goro_sched::test::run(|| goro_sched::go(|| goro_sched::park::park()).join())
/// });
/// let msg = *deadlock.unwrap_err().downcast::<String>().unwrap();
/// assert!(msg.starts_with("all goroutines in the bubble are asleep - deadlock!"), "{msg}");
/// ```
#[track_caller]
pub fn run<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let rt = crate::Runtime::builder()
        .workers(1)
        .name("goro-bubble")
        .bubble()
        .build()
        .unwrap_or_else(|e| panic!("goro::test::run: cannot start the bubble's runtime: {e}"));
    // The closure's goroutine is spawned from outside: counted alive before
    // any queue shows it, it would look blocked to the idle worker (a false
    // deadlock). It counts as outside until it runs.
    let bubble = rt.shared.bubble.as_ref().expect("a bubble");
    bubble.enter_outside();
    rt.run(move || {
        crate::bubble::main_started();
        let result = f();
        if let Some(listing) = crate::bubble::leftover() {
            panic!(
                "goro::test::run: goroutines of the bubble still alive, all blocked, when its \
                 closure returned:\n{listing}"
            );
        }
        result
    })
}

/// Go's `synctest.Wait`: returns once every other goroutine of the calling
/// goroutine's bubble is durably blocked (see [`run`]); the clock does not
/// move meanwhile. Use it to let goroutines you started reach their waits
/// before you look at what they did.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// goro_sched::test::run(|| {
///     let done = Arc::new(AtomicUsize::new(0));
///     for _ in 0..10 {
///         let done = done.clone();
///         goro_sched::go(move || {
///             done.fetch_add(1, Ordering::SeqCst);
///         });
///     }
///     goro_sched::test::wait(); // all ten have run and finished
///     assert_eq!(done.load(Ordering::SeqCst), 10);
/// });
/// ```
///
/// # Panics
/// Outside a bubble's goroutine, or if another goroutine of the bubble is
/// already in `wait`.
pub fn wait() {
    crate::bubble::wait();
}
