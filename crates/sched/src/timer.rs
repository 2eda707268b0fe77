//! [`call_at`]: a short function run on a worker at a deadline, with no
//! thread waiting for it (time channels, `after_func`, context deadlines).

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::shared::Shared;
use crate::timers::{Action, TimerRef};

/// The current time on the clock of the calling goroutine's runtime: the
/// real clock's `Instant::now()`, or, in a [`test::run`](crate::test::run)
/// bubble, the bubble's virtual clock, which moves only when every
/// goroutine of the bubble is blocked. Every deadline and timeout of goro
/// (sleeps, timers, time channels, channel and lock timeouts, context
/// deadlines) is measured on this clock, so code that computes deadlines
/// itself should read it rather than `Instant::now()`. Outside a goroutine
/// (and in timer functions run by a worker, on the worker's runtime's
/// clock) it is the real clock, except in a [`blocking`](crate::blocking)
/// call of a bubble's goroutine, which reads its bubble's.
///
/// ```
/// use std::time::Duration;
///
/// goro_sched::test::run(|| {
///     let start = goro_sched::timer::now();
///     goro_sched::sleep(Duration::from_secs(3600)); // in no real time
///     assert_eq!(goro_sched::timer::now() - start, Duration::from_secs(3600));
/// });
/// ```
#[inline]
pub fn now() -> Instant {
    crate::worker::with_any_worker(|w| w.shared.timers.now_instant())
        .unwrap_or_else(lent_or_real_now)
}

thread_local! {
    /// The bubble whose goroutine's `blocking` call this pool thread runs
    /// (`LendClock`), or null.
    static LENT: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

/// `now` off the workers: a lent bubble's clock, else the real one.
#[inline(never)]
fn lent_or_real_now() -> Instant {
    let lent = LENT.with(Cell::get);
    if lent.is_null() {
        return Instant::now();
    }
    // SAFETY: set by a `LendClock` that lives on this thread while the
    // `blocking` call runs, from a runtime that the calling goroutine (its
    // task held by the job) keeps alive until then.
    unsafe { (*lent).timers.now_instant() }
}

/// The serial of the bubble lent to this thread (a `blocking` call of its
/// goroutine), if any.
pub(crate) fn lent_bubble_serial() -> Option<u32> {
    let lent = LENT.with(Cell::get);
    if lent.is_null() {
        return None;
    }
    // SAFETY: as in `lent_or_real_now`.
    unsafe { (*lent).bubble.as_ref() }.map(crate::bubble::Bubble::serial)
}

/// While it lives, `now` on this thread (a blocking pool's, running a
/// goroutine's call) reads `rt`'s clock, if `rt` is a bubble.
pub(crate) struct LendClock {
    before: *const Shared,
}

impl LendClock {
    /// # Safety
    /// `rt` must outlive the guard, which must be dropped on this thread.
    pub(crate) unsafe fn lend(rt: &Shared) -> LendClock {
        let before = LENT.with(Cell::get);
        if rt.bubble.is_some() {
            LENT.with(|l| l.set(rt));
        }
        LendClock { before }
    }
}

impl Drop for LendClock {
    fn drop(&mut self) {
        LENT.with(|l| l.set(self.before));
    }
}

/// The clock and timers of the runtime current where it was made: a
/// [`test::run`](crate::test::run) bubble's virtual clock, or real time. A
/// timer that is re-armed later (goro-chan's `Timer::reset`) keeps to the
/// clock it was made on through it, even when re-armed from a goroutine of
/// another runtime or bubble.
///
/// ```
/// use std::time::{Duration, Instant};
/// use goro_sched::timer::Clock;
///
/// let real = Clock::current(); // made outside any bubble: real time
/// goro_sched::test::run(move || {
///     let virtual_start = goro_sched::timer::now();
///     let start = Instant::now();
///     assert!(real.now() >= start); // not the bubble's clock
///     let (tx, rx) = std::sync::mpsc::channel();
///     real.call_at(real.now() + Duration::from_millis(1), move || tx.send(()).unwrap());
///     goro_sched::blocking(move || rx.recv().unwrap()); // a real millisecond
///     assert_eq!(goro_sched::timer::now(), virtual_start);
/// });
/// ```
#[derive(Clone)]
pub struct Clock {
    rt: Arc<Shared>,
}

impl Clock {
    /// The clock of the calling goroutine's runtime (or of the runtime the
    /// thread entered, or the global one's).
    pub fn current() -> Clock {
        crate::current::with_current(|rt| Clock { rt: rt.clone() })
    }

    /// Its time (as [`now`] reads it on its runtime).
    pub fn now(&self) -> Instant {
        self.rt.timers.now_instant()
    }

    /// As [`call_at`], on this clock's runtime.
    pub fn call_at(&self, deadline: Instant, f: impl FnOnce() + Send + 'static) -> TimerHandle {
        schedule(&self.rt, deadline, Box::new(f))
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("virtual", &self.rt.bubble.is_some())
            .finish()
    }
}

/// A function scheduled with [`call_at`]; [`cancel`](TimerHandle::cancel)
/// withdraws it. Dropping the handle does not cancel it.
pub struct TimerHandle {
    rt: Arc<Shared>,
    timer: TimerRef,
}

impl TimerHandle {
    /// Withdraws the function; returns whether it had not yet run (or
    /// started to run).
    pub fn cancel(&self) -> bool {
        self.rt.timers.cancel(&self.timer)
    }

    /// Whether the function has neither run nor been cancelled.
    pub fn is_pending(&self) -> bool {
        self.timer.is_pending()
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("pending", &self.is_pending())
            .finish()
    }
}

/// Runs `f` at `deadline` (at once if it has passed) on a worker of the
/// current runtime (the calling goroutine's, else the global one), with no
/// thread waiting for it: the scheduler's timers fire it.
///
/// `f` runs on the worker's own stack, between goroutines: it must be short
/// and must not block (spawn a goroutine for anything more). A panic in `f`
/// is caught and printed.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
///
/// let fired = Arc::new(AtomicBool::new(false));
/// let f = fired.clone();
/// let handle = goro_sched::timer::call_at(Instant::now() + Duration::from_millis(1), move || {
///     f.store(true, Ordering::SeqCst)
/// });
/// while !fired.load(Ordering::SeqCst) {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// assert!(!handle.is_pending());
/// assert!(!handle.cancel(), "it has run");
/// ```
pub fn call_at(deadline: Instant, f: impl FnOnce() + Send + 'static) -> TimerHandle {
    let f: Box<dyn FnOnce() + Send> = Box::new(f);
    crate::current::with_current(|rt| schedule(rt, deadline, f))
}

/// `f` at `deadline` on `rt`'s timers.
fn schedule(rt: &Arc<Shared>, deadline: Instant, f: Box<dyn FnOnce() + Send>) -> TimerHandle {
    TimerHandle {
        rt: rt.clone(),
        timer: rt.add_timer(
            deadline,
            Action::Call(std::sync::Mutex::new(Some(f))),
            false,
        ),
    }
}
