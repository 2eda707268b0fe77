//! What every socket type shares: the registered descriptor, its deadlines
//! and timeouts, and the loop that tries a system call and parks on the
//! poller when it would block.
//!
//! A socket is an `Arc<Socket<S>>`: `S` is std's type of the socket (it owns
//! the descriptor, non-blocking, and does the system calls), and handles made
//! by `try_clone` share it, registration and deadlines included. The
//! descriptor is closed when the last handle is dropped; a handle is
//! borrowed for the whole of every operation on it, so nobody is inside a
//! system call on the descriptor then.

use std::io;
use std::os::fd::AsFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use goro_sched::park::{self, Unparker, Wait};
use goro_sched::poll::{Direction, Registration};
use goro_sched::spin::SpinLock;

/// No deadline (or timeout) is set.
const NONE: u64 = 0;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// An `Instant` as a deadline word: nanoseconds since `epoch()`, plus one
/// (so that `NONE` is never a deadline; one before the epoch is in the past
/// anyway).
fn to_word(t: Instant) -> u64 {
    let nanos = t.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1
}

fn from_word(w: u64) -> Option<Instant> {
    (w != NONE).then(|| epoch() + Duration::from_nanos(w - 1))
}

pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o deadline reached")
}

/// A socket registered with the poller.
pub(crate) struct Socket<S> {
    /// std's socket: owns the descriptor (dropped first: closed before the
    /// registration goes back to the poller's free list).
    pub(crate) std: S,
    reg: Registration,
    /// Per direction: the deadline (`set_read_deadline`) and the timeout
    /// (`set_read_timeout`), as words.
    deadlines: [AtomicU64; 2],
    timeouts: [AtomicU64; 2],
    /// Per direction: operations that must wait take turns (one waiter per
    /// direction on the poller, as Go's `fdMutex`).
    turns: [OpLock; 2],
}

impl<S: AsFd> Socket<S> {
    /// Registers `std`'s descriptor, which must be non-blocking already.
    pub(crate) fn new(std: S) -> io::Result<Socket<S>> {
        let reg = Registration::new(std.as_fd())?;
        Ok(Socket {
            std,
            reg,
            deadlines: [AtomicU64::new(NONE), AtomicU64::new(NONE)],
            timeouts: [AtomicU64::new(NONE), AtomicU64::new(NONE)],
            turns: [OpLock::new(), OpLock::new()],
        })
    }

    /// Takes the descriptor out of the poller and gives std's socket back.
    pub(crate) fn into_std(self) -> io::Result<S> {
        let Socket { std, reg, .. } = self;
        reg.deregister(std.as_fd())?;
        Ok(std)
    }

    /// Sets the deadline of `dir` (`None`: none), and wakes a waiter so that
    /// it looks at it.
    pub(crate) fn set_deadline(&self, dir: Direction, deadline: Option<Instant>) {
        self.deadlines[dir as usize].store(deadline.map_or(NONE, to_word), Ordering::SeqCst);
        self.reg.wake(dir);
    }

    pub(crate) fn set_timeout(&self, dir: Direction, timeout: Option<Duration>) -> io::Result<()> {
        let word = match timeout {
            None => NONE,
            Some(t) if t.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ));
            }
            Some(t) => u64::try_from(t.as_nanos()).unwrap_or(u64::MAX),
        };
        self.timeouts[dir as usize].store(word, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn timeout(&self, dir: Direction) -> Option<Duration> {
        match self.timeouts[dir as usize].load(Ordering::SeqCst) {
            NONE => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// The deadline of an operation of `dir` that started with `timed`
    /// (its timeout's end): the earlier of the two, read afresh.
    fn deadline(&self, dir: Direction, timed: Option<Instant>) -> Option<Instant> {
        let set = from_word(self.deadlines[dir as usize].load(Ordering::SeqCst));
        match (set, timed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs `op` (a non-blocking system call on `std`) until it does not
    /// say `WouldBlock`, parking on the poller between tries, until the
    /// deadline of `dir` (checked first: a past deadline fails at once, as
    /// Go's does).
    #[track_caller]
    pub(crate) fn io<T>(
        &self,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        let timed = self
            .timeout(dir)
            .and_then(|t| goro_sched::timer::now().checked_add(t));
        if self
            .deadline(dir, timed)
            .is_some_and(|d| d <= goro_sched::timer::now())
        {
            return Err(timed_out());
        }
        let turns = &self.turns[dir as usize];
        let released = turns.released.load(Ordering::Acquire);
        match op(&self.std) {
            Err(e) if would_block(&e) => {}
            done => {
                spend_budget();
                return done;
            }
        }
        let _turn = turns.lock();
        // If another operation held the turn since our attempt, try again
        // before waiting on the poller: it consumed the readiness it was
        // woken for, and what it left (more data, or an end of file, which
        // the kernel reports once) comes with no new edge. (Found by a
        // test: readers sharing a socket hung at its end of file.)
        let mut retry = turns.released.load(Ordering::Acquire) != released;
        loop {
            if self
                .deadline(dir, timed)
                .is_some_and(|d| d <= goro_sched::timer::now())
            {
                return Err(timed_out());
            }
            if !std::mem::take(&mut retry) {
                self.reg.wait_with(dir, || self.deadline(dir, timed));
            }
            match op(&self.std) {
                Err(e) if would_block(&e) => {}
                done => return done,
            }
        }
    }
}

/// Operations that succeed without waiting, on this thread, between two
/// yields (tokio's coop budget is 128 too).
const BUDGET: u32 = 128;

thread_local! {
    static SPENT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A goroutine whose operations never wait (an accept loop with a backlog,
/// a reader that always finds data) would hold its worker for good (a
/// started goroutine keeps its thread, and goro does not preempt): sysmon
/// then reports it, and starts spares when every worker is held. So every
/// `BUDGET`th operation that did not wait yields, as Go's preemption (or
/// tokio's budget) would let others run. Counted per thread, not per
/// goroutine: a yield now and then is all it takes.
fn spend_budget() {
    let spent = SPENT.with(|s| {
        let n = s.get() + 1;
        s.set(if n >= BUDGET { 0 } else { n });
        n
    });
    if spent >= BUDGET {
        // The channels' checkpoint policy: a yield only once the goroutine
        // has gone several budgets without a switch and others of its
        // worker wait, never while it panics (a yield at the first budget
        // switched under a thread's lock held across a read that did not
        // wait, as a breaker found for the channels).
        goro_sched::__private::yield_to_local_work();
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// A lock that parks goroutines (and blocks threads): operations of one
/// direction that must wait take turns. Unlocking wakes every waiter (they
/// are rare: two goroutines reading one socket at once), which keeps it
/// simple: a spurious return from `park` leaves no stale entry that could
/// swallow another's wake-up.
struct OpLock {
    held: AtomicBool,
    /// How many times the turn was given back.
    released: AtomicU64,
    waiters: SpinLock<Vec<Unparker>>,
}

struct OpGuard<'a>(&'a OpLock);

impl OpLock {
    fn new() -> OpLock {
        OpLock {
            held: AtomicBool::new(false),
            released: AtomicU64::new(0),
            waiters: SpinLock::new(Vec::new()),
        }
    }

    fn lock(&self) -> OpGuard<'_> {
        loop {
            if !self.held.swap(true, Ordering::Acquire) {
                return OpGuard(self);
            }
            {
                let mut waiters = self.waiters.lock();
                // Looked at under the waiters' lock, which the unlocker
                // takes after it clears `held`: either we see it clear, or
                // it sees us in the list.
                if !self.held.swap(true, Ordering::Acquire) {
                    return OpGuard(self);
                }
                waiters.push(park::current_unparker());
            }
            park::park_on(Wait::IoWait);
        }
    }
}

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        self.0.released.fetch_add(1, Ordering::Release);
        self.0.held.store(false, Ordering::Release);
        let waiters = std::mem::take(&mut *self.0.waiters.lock());
        for waiter in waiters {
            waiter.unpark();
        }
    }
}
