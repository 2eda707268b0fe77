//! Time channels, as Go's `time` package: `after`, `tick`, `Timer`, `Ticker`,
//! `after_func`, all on the scheduler's timers (no thread per timer).
//! [`now`] reads the clock they keep: the real one, or in a
//! `goro_sched::test::run` bubble, the bubble's virtual clock.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use goro_chan::{select, time};
//!
//! let start = Instant::now();
//! let (_tx, never_ready) = goro_chan::bounded::<()>(0);
//! let timed_out = select! {
//!     recv(never_ready) -> _ => false,
//!     recv(time::after(Duration::from_millis(5))) -> _ => true,
//! };
//! assert!(timed_out);
//! assert!(start.elapsed() >= Duration::from_millis(5));
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use goro_sched::park::Home;
use goro_sched::timer::{Clock, TimerHandle, call_at};

use crate::channel::never_closing;
use crate::{Receiver, Sender};

pub use goro_sched::sleep;
pub use goro_sched::timer::now;

/// A channel that receives the time once, after `d`; it never closes (Go's
/// `time.After`).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let fired = goro_chan::time::after(Duration::from_millis(5)).recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(5));
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = never_closing(1);
    if d.is_zero() {
        // Ready at once, as Go's: a `select!` with a default sees it.
        let _ = tx.try_send(goro_sched::timer::now());
        return rx;
    }
    // The time it was due, however late the firing runs (crossbeam's
    // `after`; Go's `sendTime` subtracts the delay).
    let when = deadline(d);
    call_at(when, move || {
        let _ = tx.try_send(when);
    });
    rx
}

/// A channel that receives the time once, at `when` (at once if it has
/// passed); it never closes (crossbeam-channel's `at`).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let when = Instant::now() + Duration::from_millis(2);
/// let fired = goro_chan::time::at(when).recv().unwrap();
/// assert!(fired >= when);
/// assert!(goro_chan::time::at(Instant::now()).try_recv().is_ok()); // passed: ready
/// ```
pub fn at(when: Instant) -> Receiver<Instant> {
    let (tx, rx) = never_closing(1);
    // `when` itself, as crossbeam's `at`, passed or not.
    if when <= goro_sched::timer::now() {
        let _ = tx.try_send(when);
        return rx;
    }
    call_at(when, move || {
        let _ = tx.try_send(when);
    });
    rx
}

/// A channel that receives the time every `d` (Go's `time.Tick`). A slow
/// receiver misses ticks rather than getting a burst. The ticks stop once
/// the receiver is dropped.
///
/// ```
/// use std::time::Duration;
///
/// let ticks = goro_chan::time::tick(Duration::from_millis(1));
/// for _ in 0..3 {
///     ticks.recv().unwrap();
/// }
/// drop(ticks); // the ticks stop
/// ```
///
/// # Panics
/// If `d` is zero.
pub fn tick(d: Duration) -> Receiver<Instant> {
    Ticker::new(d).detach()
}

/// The clock on which the caller arms a time channel of home `home` made
/// on `made_on`: `None` for the caller's own runtime's (as `call_at`),
/// unless the caller and the channel are on two sides of a bubble's
/// boundary: then the clock it was made on. A timer made outside a bubble
/// keeps real time when a goroutine of the bubble resets it, as in Go; a
/// ticker of a bubble re-armed by its own firing keeps the bubble's.
fn arming_clock(made_on: &Clock, home: Home) -> Option<&Clock> {
    (Home::bubbles_alive() && Home::current() != home).then_some(made_on)
}

/// `call_at` on `clock` (`None`: the caller's runtime).
fn call_on(clock: Option<&Clock>, when: Instant, f: impl FnOnce() + Send + 'static) -> TimerHandle {
    match clock {
        Some(clock) => clock.call_at(when, f),
        None => call_at(when, f),
    }
}

/// `deadline` on `clock` (`None`: the caller's runtime's).
fn deadline_on(clock: Option<&Clock>, d: Duration) -> Instant {
    match clock {
        Some(clock) => saturating_add(clock.now(), d),
        None => deadline(d),
    }
}

fn deadline(d: Duration) -> Instant {
    saturating_add(goro_sched::timer::now(), d)
}

fn saturating_add(now: Instant, d: Duration) -> Instant {
    // A deadline too far to represent is as good as never.
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Timer

/// A single event in the future (Go's `time.Timer`): its channel receives the
/// time when it fires, unless it is stopped first.
///
/// As in Go 1.23 and later, [`stop`](Timer::stop) and [`reset`](Timer::reset)
/// leave no stale value behind: once either returns, the channel receives
/// nothing from before the call.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::time::Timer;
///
/// let timer = Timer::new(Duration::from_secs(3600));
/// assert!(timer.stop(), "it was still pending");
/// assert!(!timer.stop());
/// timer.reset(Duration::from_millis(1));
/// timer.chan().recv().unwrap();
/// ```
pub struct Timer {
    inner: Arc<TimerInner>,
    rx: Receiver<Instant>,
}

struct TimerInner {
    tx: Sender<Instant>,
    /// The clock it was made on (`arming_clock`).
    clock: Clock,
    /// A receiver of `tx`, for `stop` and `reset` to take a stale value.
    rx: Receiver<Instant>,
    /// `after_func`'s function, run in its own goroutine when the timer fires.
    func: Option<Arc<dyn Fn() + Send + Sync>>,
    state: Mutex<TimerState>,
}

struct TimerState {
    handle: Option<TimerHandle>,
    /// Bumped by every arming, stop and reset: a firing of an earlier one
    /// (already on its way when the timer was stopped) does nothing.
    generation: u64,
    /// Armed since the last stop (pending, or fired and perhaps not yet
    /// received).
    armed: bool,
    /// The current arming has fired.
    fired: bool,
}

impl Timer {
    /// A timer that fires after `d`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let start = Instant::now();
    /// let timer = goro_chan::time::Timer::new(Duration::from_millis(2));
    /// let fired = timer.chan().recv().unwrap();
    /// assert!(fired >= start + Duration::from_millis(2));
    /// ```
    pub fn new(d: Duration) -> Timer {
        Timer::with_func(d, None)
    }

    fn with_func(d: Duration, func: Option<Arc<dyn Fn() + Send + Sync>>) -> Timer {
        let (tx, rx) = never_closing(1);
        let timer = Timer {
            inner: Arc::new(TimerInner {
                tx,
                clock: Clock::current(),
                rx: rx.clone(),
                func,
                state: Mutex::new(TimerState {
                    handle: None,
                    generation: 0,
                    armed: false,
                    fired: false,
                }),
            }),
            rx,
        };
        let mut state = lock(&timer.inner.state);
        TimerInner::arm(&timer.inner, &mut state, d);
        drop(state);
        timer
    }

    /// The channel the time is sent on when the timer fires (for a timer of
    /// [`after_func`], a channel that never receives).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::{bounded, select, time::Timer};
    ///
    /// let timer = Timer::new(Duration::from_millis(5));
    /// let (_tx, quiet) = bounded::<()>(0);
    /// let timed_out = select! {
    ///     recv(quiet) -> _ => false,
    ///     recv(timer.chan()) -> _ => true,
    /// };
    /// assert!(timed_out);
    /// ```
    pub fn chan(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer; returns whether it was still pending (false if it
    /// had fired or was stopped already).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let timer = goro_chan::time::Timer::new(Duration::from_secs(60));
    /// assert!(timer.stop()); // it was pending
    /// assert!(!timer.stop());
    /// assert!(timer.chan().try_recv().is_err()); // and never fires
    /// ```
    pub fn stop(&self) -> bool {
        let mut state = lock(&self.inner.state);
        self.inner.disarm(&mut state)
    }

    /// Makes the timer fire after `d` (again); returns whether it was still
    /// pending.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let timer = goro_chan::time::Timer::new(Duration::from_secs(60));
    /// assert!(timer.reset(Duration::from_millis(1))); // it was pending: now sooner
    /// timer.chan().recv().unwrap();
    /// assert!(!timer.reset(Duration::from_millis(1))); // it had fired: armed again
    /// timer.chan().recv().unwrap();
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        let mut state = lock(&self.inner.state);
        let was_pending = self.inner.disarm(&mut state);
        TimerInner::arm(&self.inner, &mut state, d);
        was_pending
    }
}

impl TimerInner {
    /// Arms the timer to fire after `d` (at once if `d` is zero: a channel
    /// that is ready when `new` or `reset` returns, as Go's).
    fn arm(this: &Arc<TimerInner>, state: &mut TimerState, d: Duration) {
        state.generation += 1;
        state.armed = true;
        state.fired = false;
        let clock = arming_clock(&this.clock, this.tx.home());
        if d.is_zero() {
            state.handle = None;
            this.fire(state, deadline_on(clock, d));
            return;
        }
        let inner = this.clone();
        let generation = state.generation;
        let due = deadline_on(clock, d);
        state.handle = Some(call_on(clock, due, move || {
            let mut state = lock(&inner.state);
            if state.generation == generation {
                inner.fire(&mut state, due);
            }
        }));
    }

    /// Sends the time it was `due` (however late this runs), or starts
    /// `after_func`'s function; under the lock, so that `stop` and `reset`
    /// see it done or not begun.
    fn fire(&self, state: &mut TimerState, due: Instant) {
        state.fired = true;
        match &self.func {
            Some(func) => {
                let func = func.clone();
                drop(goro_sched::go(move || func()));
            }
            None => {
                let _ = self.tx.try_send(due);
            }
        }
    }

    /// Stops the timer and takes back a value it sent that nobody received;
    /// returns whether it was pending: not fired, or fired and not received
    /// (Go 1.23's rule).
    fn disarm(&self, state: &mut TimerState) -> bool {
        state.generation += 1;
        if let Some(handle) = state.handle.take() {
            handle.cancel();
        }
        let armed = std::mem::take(&mut state.armed);
        let unreceived = self.func.is_none() && self.rx.try_recv().is_ok();
        armed && (!state.fired || unreceived)
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = {
            let state = lock(&self.inner.state);
            state.armed && !state.fired
        };
        f.debug_struct("Timer").field("pending", &pending).finish()
    }
}

/// Runs `f` in its own goroutine after `d` (Go's `time.AfterFunc`); the
/// returned timer can stop it or reset it (to run `f` again).
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let ran = Arc::new(AtomicBool::new(false));
/// let r = ran.clone();
/// let _timer = goro_chan::time::after_func(Duration::from_millis(1), move || {
///     r.store(true, Ordering::SeqCst)
/// });
/// while !ran.load(Ordering::SeqCst) {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// ```
pub fn after_func(d: Duration, f: impl Fn() + Send + Sync + 'static) -> Timer {
    let mut timer = Timer::with_func(d, Some(Arc::new(f)));
    timer.rx = crate::never();
    timer
}

// ---------------------------------------------------------------------------
// Ticker

/// Ticks at a fixed period (Go's `time.Ticker`): its channel receives the
/// time every period. A slow receiver misses ticks instead of getting a
/// burst. Dropping the ticker stops it. As in Go 1.23 and later, once
/// [`stop`](Ticker::stop) or [`reset`](Ticker::reset) returns, the channel
/// receives no tick from before the call.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::time::Ticker;
///
/// let ticker = Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 {
///     ticker.chan().recv().unwrap();
/// }
/// ticker.stop();
/// ```
pub struct Ticker {
    inner: Arc<TickerInner>,
    rx: Receiver<Instant>,
    detached: bool,
}

struct TickerInner {
    tx: Sender<Instant>,
    /// The clock it was made on (`arming_clock`).
    clock: Clock,
    state: Mutex<TickerState>,
}

struct TickerState {
    period: Duration,
    next: Instant,
    /// Bumped by `stop` and `reset`, so that a tick already on its way does
    /// not re-arm a stopped ticker.
    generation: u64,
    stopped: bool,
    handle: Option<TimerHandle>,
}

impl Ticker {
    /// A ticker with period `d`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ticker = goro_chan::time::Ticker::new(Duration::from_millis(1));
    /// for _ in 0..3 {
    ///     ticker.chan().recv().unwrap();
    /// }
    /// ticker.stop();
    /// ```
    ///
    /// # Panics
    /// If `d` is zero (as Go's `NewTicker`).
    pub fn new(d: Duration) -> Ticker {
        assert!(!d.is_zero(), "non-positive interval for Ticker::new");
        let (tx, rx) = never_closing(1);
        let inner = Arc::new(TickerInner {
            tx,
            clock: Clock::current(),
            state: Mutex::new(TickerState {
                period: d,
                next: deadline(d),
                generation: 0,
                stopped: false,
                handle: None,
            }),
        });
        {
            let mut state = lock(&inner.state);
            TickerInner::arm(&inner, &mut state);
        }
        Ticker {
            inner,
            rx,
            detached: false,
        }
    }

    /// The channel the ticks are sent on.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ticker = goro_chan::time::Ticker::new(Duration::from_millis(1));
    /// assert_eq!(ticker.chan().iter().take(3).count(), 3);
    /// ```
    pub fn chan(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticks (the channel stays open, as in Go).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::RecvTimeoutError;
    ///
    /// let ticker = goro_chan::time::Ticker::new(Duration::from_millis(10));
    /// ticker.stop();
    /// let next = ticker.chan().recv_timeout(Duration::from_millis(30));
    /// assert_eq!(next, Err(RecvTimeoutError::Timeout)); // no more ticks, still open
    /// ```
    pub fn stop(&self) {
        let mut state = lock(&self.inner.state);
        state.stopped = true;
        state.generation += 1;
        if let Some(handle) = state.handle.take() {
            handle.cancel();
        }
        // No stale tick after `stop` returns (Go 1.23): a tick is sent
        // under this lock, so none is on its way.
        let _ = self.rx.try_recv();
    }

    /// Restarts the ticks with period `d`, the first one `d` from now.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ticker = goro_chan::time::Ticker::new(Duration::from_secs(3600));
    /// ticker.reset(Duration::from_millis(1));
    /// ticker.chan().recv().unwrap(); // in a millisecond, not an hour
    /// ```
    ///
    /// # Panics
    /// If `d` is zero.
    pub fn reset(&self, d: Duration) {
        assert!(!d.is_zero(), "non-positive interval for Ticker::reset");
        let mut state = lock(&self.inner.state);
        if let Some(handle) = state.handle.take() {
            handle.cancel();
        }
        state.generation += 1;
        state.stopped = false;
        state.period = d;
        state.next = deadline_on(arming_clock(&self.inner.clock, self.inner.tx.home()), d);
        // As in `stop`: no tick from before the reset is received after it.
        let _ = self.rx.try_recv();
        TickerInner::arm(&self.inner, &mut state);
    }

    /// Lets the ticker run for as long as its channel has a receiver, and
    /// gives that channel.
    fn detach(mut self) -> Receiver<Instant> {
        self.detached = true;
        self.rx.clone()
    }
}

impl TickerInner {
    fn arm(this: &Arc<TickerInner>, state: &mut TickerState) {
        let inner = this.clone();
        let generation = state.generation;
        let clock = arming_clock(&this.clock, this.tx.home());
        state.handle = Some(call_on(clock, state.next, move || inner.fire(generation)));
    }

    fn fire(self: Arc<TickerInner>, generation: u64) {
        let mut state = lock(&self.state);
        if state.stopped || state.generation != generation {
            return;
        }
        // The time this tick was due. Full: the receiver is slow; drop this
        // tick.
        let _ = self.tx.try_send(state.next);
        if self.tx.is_closed() {
            // Nobody receives any more (a `tick` channel was dropped).
            state.stopped = true;
            return;
        }
        let now = goro_sched::timer::now();
        let period = state.period;
        state.next += period;
        if state.next <= now {
            // Fell behind: skip the missed ticks rather than burst.
            let behind = now - state.next;
            let periods = behind.as_nanos() / period.as_nanos() + 1;
            state.next += period * u32::try_from(periods).unwrap_or(u32::MAX);
        }
        TickerInner::arm(&self, &mut state);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if !self.detached {
            self.stop();
        }
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Ticker")
            .field("period", &state.period)
            .field("stopped", &state.stopped)
            .finish()
    }
}
