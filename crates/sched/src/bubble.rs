//! Bubbles: runtimes whose clock is virtual (`goro::test::run`, Go's
//! `testing/synctest`).
//!
//! A bubble is a runtime of one worker whose timers compare with a clock of
//! their own (`Timers::now`), which stands still while any goroutine of the
//! bubble can run. When the worker finds nothing to run and every goroutine
//! is *durably blocked* (parked on something only the bubble can wake:
//! channels, timers, goro's locks, joins; not a socket, not a
//! `goro::blocking` call, whose wake-ups come from outside), the worker, in
//! place of sleeping (`Shared::sleep` calls `on_idle`), does the first of:
//!
//! 1. wakes the goroutine in `goro::test::wait`, if one waits;
//! 2. moves the clock to the earliest pending timer, which the worker then
//!    fires as it would at that real instant;
//! 3. with no timer pending, reports the deadlock: `run` panics with the
//!    dump.
//!
//! One worker makes "every goroutine is blocked" a fact the idle worker
//! sees in its own queues, not a guess about other threads: the worker is
//! the only thread that runs the bubble's goroutines and fires its timers.
//! So a bubble never gets a spare thread (`Shared::hand_off` declines): a
//! goroutine that computes for long keeps the others waiting, in real time
//! only (the clock waits too).

use std::ptr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use crate::park::Unparker;
use crate::shared::Shared;
use crate::task::TaskRef;
use crate::timers::{NEVER, SATURATED};
use crate::worker;

/// Bubbles alive in the process: while none is, a channel's `Home` costs
/// one relaxed load, at its creation and at each park.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The last bubble's serial number (`Home`).
static SERIAL: AtomicU32 = AtomicU32::new(0);

/// A bubble's own state, in its runtime's `Shared`.
#[derive(Debug)]
pub(crate) struct Bubble {
    /// Its number, for the `Home` of what its goroutines make: unique among
    /// live bubbles (it wraps after 4 billion bubbles, skipping `Home`'s
    /// reserved values).
    serial: u32,
    /// Goroutines parked on something outside the bubble (a socket, a
    /// `goro::blocking` call): while any is, the clock stands still.
    outside: AtomicUsize,
    /// The goroutine in `goro::test::wait`, and its "released" flag.
    waiter: Mutex<Option<(Unparker, Arc<AtomicBool>)>>,
}

impl Bubble {
    pub(crate) fn new() -> Bubble {
        LIVE.fetch_add(1, Ordering::Relaxed);
        let serial = loop {
            let n = SERIAL.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if n != Home::NONE.0 && n != Home::ANY.0 && n != Home::MIXED.0 {
                break n;
            }
        };
        Bubble {
            serial,
            outside: AtomicUsize::new(0),
            waiter: Mutex::new(None),
        }
    }

    /// A goroutine of the bubble waits on something outside it (or is
    /// claimed for a stack trace): the clock stands still until `leave`.
    pub(crate) fn enter_outside(&self) {
        self.outside.fetch_add(1, Ordering::SeqCst);
    }

    /// Its number (`Home`).
    pub(crate) fn serial(&self) -> u32 {
        self.serial
    }

    /// Ends an `enter_outside`.
    pub(crate) fn leave_outside(&self) {
        self.outside.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Bubble {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where a thing that goroutines wait on (a channel) was made: in which
/// bubble of [`goro::test::run`](crate::test::run), or outside any. A
/// goroutine of a bubble that waits on a thing made elsewhere is not
/// *durably* blocked (as in Go's `testing/synctest`): a plain thread or
/// another runtime may be the one to wake it, so the bubble's clock stands
/// still while it waits ([`Home::away`]).
///
/// ```
/// use goro_sched::park::Home;
///
/// assert_eq!(Home::current(), Home::NONE); // not in a bubble
/// let home = goro_sched::test::run(Home::current);
/// assert_ne!(home, Home::NONE);
/// assert_eq!(home.and(Home::ANY), home);
/// assert_eq!(home.and(Home::NONE), Home::MIXED);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Home(u32);

impl Home {
    /// Made outside every bubble.
    pub const NONE: Home = Home(0);
    /// Wakes nobody, wherever it waits (`never()`): durable in any bubble.
    pub const ANY: Home = Home(u32::MAX);
    /// Things of several homes, waited on at once (a select): durable in no
    /// bubble.
    pub const MIXED: Home = Home(u32::MAX - 1);

    /// Whether any bubble is alive in the process: if not, every home is
    /// [`Home::NONE`] and [`away`](Home::away) does nothing (a caller may
    /// skip working out a home).
    #[inline]
    pub fn bubbles_alive() -> bool {
        LIVE.load(Ordering::Relaxed) != 0
    }

    /// The calling goroutine's bubble, or [`Home::NONE`] outside one.
    #[inline]
    pub fn current() -> Home {
        if !Home::bubbles_alive() {
            // (A goroutine of a bubble sees its bubble counted: the count
            // came before the bubble's runtime ran it.)
            return Home::NONE;
        }
        Home::current_slow()
    }

    #[inline(never)]
    fn current_slow() -> Home {
        match worker::current_task() {
            Some(task) => task
                .rt
                .bubble
                .as_ref()
                .map_or(Home::NONE, |b| Home(b.serial)),
            // A `blocking` call of a bubble's goroutine makes it there.
            None => crate::timer::lent_bubble_serial().map_or(Home::NONE, Home),
        }
    }

    /// The home of two things waited on at once.
    #[inline]
    pub fn and(self, other: Home) -> Home {
        if self == other || other == Home::ANY {
            self
        } else if self == Home::ANY {
            other
        } else {
            Home::MIXED
        }
    }

    /// Call before waiting on a thing of this home; keep the guard until
    /// the wait is over. If the calling goroutine belongs to a bubble and
    /// the thing does not, the goroutine counts meanwhile as waiting outside
    /// its bubble (as on a socket): the bubble's clock stands still.
    #[inline]
    pub fn away(self) -> Away {
        if !Home::bubbles_alive() || self == Home::ANY {
            return Away(None);
        }
        self.away_slow()
    }

    #[inline(never)]
    fn away_slow(self) -> Away {
        match worker::current_task() {
            Some(task) => match &task.rt.bubble {
                Some(bubble) if bubble.serial != self.0 => Away(Some(Outside::enter())),
                _ => Away(None),
            },
            None => Away(None),
        }
    }
}

/// From [`Home::away`]: while it lives, the calling goroutine may count as
/// waiting outside its bubble.
#[must_use = "the goroutine counts as away only while the guard lives"]
#[derive(Debug)]
pub struct Away(#[allow(dead_code)] Option<Outside>);

/// While it lives, the calling goroutine waits on something outside its
/// bubble (if it is in one): the bubble's clock stands still.
#[derive(Debug)]
pub(crate) struct Outside(Option<TaskRef>);

impl Outside {
    /// Counts the calling goroutine as waiting outside, if it is a bubble's.
    pub(crate) fn enter() -> Outside {
        let task = worker::current_task().filter(|t| t.rt.bubble.is_some());
        if let Some(bubble) = task.as_ref().and_then(|t| t.rt.bubble.as_ref()) {
            bubble.enter_outside();
        }
        Outside(task)
    }

    /// As `enter`, unless the calling goroutine belongs to `rt` (a wait on
    /// one of `rt`'s goroutines).
    #[inline]
    pub(crate) fn enter_unless_in(rt: &Shared) -> Outside {
        let Some(task) = worker::current_task_ptr() else {
            return Outside(None);
        };
        // SAFETY: the current goroutine is alive while it runs (its worker
        // holds it), and this runs on it.
        let mine = &unsafe { task.as_ref() }.rt;
        // (Joins within one runtime, every join outside bubbles, pay only
        // this look: no count.)
        if mine.bubble.is_none() || ptr::eq(&**mine, rt) {
            return Outside(None);
        }
        Outside::enter()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        if let Some(bubble) = self.0.as_ref().and_then(|t| t.rt.bubble.as_ref()) {
            bubble.leave_outside();
        }
    }
}

impl Shared {
    /// Whether every goroutine of this bubble is durably blocked: none runs
    /// or is queued, and none waits outside.
    fn bubble_blocked(&self, bubble: &Bubble) -> bool {
        bubble.outside.load(Ordering::SeqCst) == 0
            && self.injector.is_empty()
            && self.workers[..self.slots_in_use()].iter().all(|w| {
                !w.is_running() && !w.has_next() && w.stealer.is_empty() && w.inboxes_empty()
            })
    }

    /// An idle worker of a bubble, about to sleep: if every goroutine is
    /// durably blocked, releases `goro::test::wait`, or moves the clock to
    /// the earliest timer, or reports the deadlock (see the module docs).
    /// Returns whether the worker should look for work again instead of
    /// sleeping.
    pub(crate) fn bubble_idle(&self) -> bool {
        let Some(bubble) = &self.bubble else {
            return false;
        };
        // (A bubble with no goroutine yet, or none left, waits for one.)
        if self.deadlock.get().is_some() || self.alive() == 0 || !self.bubble_blocked(bubble) {
            return false;
        }
        let waiter = bubble
            .waiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((unparker, released)) = waiter {
            released.store(true, Ordering::Release);
            unparker.unpark();
            return true;
        }
        match self.timers.earliest_pending() {
            // A deadline past the clock's range (584 years: `Timers::ticks`
            // saturates there) can never come: no timer.
            NEVER | SATURATED => {
                let report = format!(
                    "all goroutines in the bubble are asleep - deadlock!\n\n{}",
                    crate::dump::render(self)
                );
                self.report_deadlock(report);
                false
            }
            deadline => {
                self.timers.advance_to(deadline);
                true
            }
        }
    }
}

/// The calling goroutine, if it is a bubble's; panics naming `what`
/// otherwise.
fn bubble_goroutine(what: &str) -> TaskRef {
    match worker::current_task() {
        Some(task) if task.rt.bubble.is_some() => task,
        _ => panic!("{what} must be called from a goroutine of a goro::test::run bubble"),
    }
}

/// The closure's goroutine of `test::run` runs: it no longer counts as
/// outside (`test::run` counted it so while it was being spawned).
pub(crate) fn main_started() {
    if let Some(task) = worker::current_task()
        && let Some(bubble) = &task.rt.bubble
    {
        bubble.leave_outside();
    }
}

/// Go's `synctest.Wait`: returns once every other goroutine of the calling
/// goroutine's bubble is durably blocked. The clock does not move meanwhile.
pub(crate) fn wait() {
    let task = bubble_goroutine("goro::test::wait");
    let bubble = task.rt.bubble.as_ref().expect("a bubble");
    let released = Arc::new(AtomicBool::new(false));
    {
        let mut waiter = bubble.waiter.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            waiter.is_none(),
            "goro::test::wait: another goroutine of this bubble is already waiting"
        );
        *waiter = Some((crate::park::current_unparker(), released.clone()));
    }
    while !released.load(Ordering::Acquire) {
        crate::park::park_on(crate::park::Wait::TestWait);
    }
}

/// Every goroutine of the calling goroutine's bubble but the caller, once
/// they are all durably blocked: the dump of those still alive, if any.
pub(crate) fn leftover() -> Option<String> {
    wait();
    let task = bubble_goroutine("goro::test::run");
    let others = task.rt.alive().saturating_sub(1);
    (others > 0).then(|| crate::dump::render(&task.rt))
}
