//! The netpoller: goroutines wait here for a descriptor to become readable
//! or writable (Go's `runtime/netpoll.go` and `netpoll_epoll.go`).
//!
//! One edge-triggered epoll instance for the process, created on the first
//! [`Registration`] (a program without sockets pays nothing: the scheduler
//! looks at one relaxed flag). Each descriptor is registered once, when it is
//! opened, for `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET`, with a *poll
//! descriptor* (`PollDesc`) as its token. A poll descriptor has one waiter
//! slot per direction (`Slot`), Go's `rg` / `wg`: a state word that is
//! `EMPTY`, `READY` (a readiness latch), `WAITING` (a parked goroutine, whose
//! counted reference sits beside the word) or `TAKING` (a waker is taking that
//! reference out). The protocol, modelled by `tests/loom_poll.rs`:
//!
//! - the poller, for an event (`Slot::ready`): `EMPTY -> READY`, or
//!   `READY -> READY` (still a write, so that the waiter that consumes the
//!   latch acquires what came before this event), or `WAITING -> TAKING`,
//!   take the goroutine, `-> READY`, and wake it;
//! - a waiter, after its system call said `EAGAIN` (`Slot::arm`):
//!   `READY -> EMPTY` means readiness came since its attempt: do not park,
//!   try again (the latch is consumed *before* the retry, so a readiness
//!   that comes during the retry latches again); else put itself in the
//!   slot and `EMPTY -> WAITING`, then park; once back (`Slot::disarm`),
//!   `WAITING -> EMPTY` (nobody took it: a timeout or a spurious return; it
//!   takes its reference back), or `READY -> EMPTY` (the poller woke it), or
//!   `EMPTY` (a deadline change woke it), waiting out a `TAKING`;
//! - a deadline change (`Slot::take_waiter`, [`Registration::wake`]):
//!   `WAITING -> TAKING`, take the goroutine, `-> EMPTY`, wake it; the
//!   waiter, once `WAITING`, reads its deadline again before it parks
//!   ([`Registration::wait_with`]; a `SeqCst` fence on each side), so a
//!   change is seen by one of the two.
//!
//! Exactly one party takes a goroutine's reference out of the slot, so it
//! is woken at most once per wait and its count is dropped exactly once; a
//! readiness that comes between a failed attempt and the park is never lost
//! (it is latched, or it finds the goroutine in the slot). One goroutine
//! waits per direction: the callers (goro-net) serialize operations of one
//! direction, and a second waiter panics.
//!
//! Poll descriptors are never freed: a closed socket's goes back to a free
//! list for the next registration (Go's `pollCache`). An event that the
//! kernel queued for a closed descriptor may therefore reach a descriptor's
//! next user: it sets a stale `READY`, which costs one spurious retry and
//! nothing else, and no event can touch freed memory.
//!
//! # Who polls
//!
//! No thread of its own (Go's design): an idle worker that is about to sleep
//! blocks in `epoll_pwait2` instead of parking its thread, with the
//! earliest timer as its timeout (`Shared::sleep`), if goroutines wait
//! here and no other worker already blocks in it; an eventfd in the epoll
//! set breaks it when a waker picks it (`Shared::wake_worker`: new work, an
//! earlier timer, shutdown). A busy worker polls without blocking every 61
//! picks (when it looks at the injector) and when it starts to spin, at
//! most every `BUSY_POLL_EVERY`; a spinning worker, after each search of
//! the queues that found nothing (unless a worker blocks in the poll: the
//! events go to it); sysmon polls when nobody has for 10 ms. A
//! woken goroutine goes to its own worker, as any wake-up
//! (`Shared::schedule`).
//!
//! # Plain threads
//!
//! A thread (no goroutine) waits in `poll(2)` on the one descriptor, in
//! slices of `THREAD_SLICE` so that it sees a changed deadline.

use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::park::{self, Wait};
use crate::task::TaskRef;
use crate::worker;

/// A waiter slot holds nothing.
const EMPTY: usize = 0;
/// A waiter slot's readiness latch.
const READY: usize = 1;
/// A goroutine waits in the slot.
const WAITING: usize = 2;
/// A waker is taking the goroutine out of the slot.
const TAKING: usize = 3;

/// The epoll token of the eventfd (poll descriptors are never at address 0).
const WAKE_TOKEN: u64 = 0;
/// How long a plain thread waits in `poll(2)` before it looks at its
/// deadline again (a deadline changed while it waits).
const THREAD_SLICE: Duration = Duration::from_millis(20);
/// A busy worker polls at most this often.
const BUSY_POLL_EVERY: Duration = Duration::from_micros(50);
/// Sysmon polls when nobody has for this long.
const SYSMON_POLL_AFTER: Duration = Duration::from_millis(10);
/// Events taken per `epoll_wait`.
const EVENTS: usize = 128;

/// Set once the poller exists: the scheduler's cheap check.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A worker blocks in `epoll_wait` (at most one at a time).
static BLOCKED: AtomicBool = AtomicBool::new(false);
/// Goroutines parked in a wait here (blocking polls only happen if some do;
/// deadlock detection counts them as wakeable).
static WAITERS: AtomicUsize = AtomicUsize::new(0);
/// When the last poll ended: nanoseconds since `epoch()`.
static LAST_POLL: AtomicU64 = AtomicU64::new(0);
static POLLER: OnceLock<Poller> = OnceLock::new();
/// Poll descriptors of closed sockets, for reuse.
static FREE: Mutex<Vec<&'static PollDesc>> = Mutex::new(Vec::new());

struct Poller {
    epoll: OwnedFd,
    /// Written to break a blocked `epoll_wait` (`interrupt`).
    eventfd: OwnedFd,
    /// `epoll_pwait2` failed with `ENOSYS` (a kernel before 5.11).
    no_pwait2: AtomicBool,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Poller {
    fn get() -> io::Result<&'static Poller> {
        if let Some(p) = POLLER.get() {
            return Ok(p);
        }
        static INIT: Mutex<()> = Mutex::new(());
        let _init = INIT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = POLLER.get() {
            return Ok(p);
        }
        // SAFETY: a plain system call with no pointers.
        let epoll = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epoll` is a descriptor we just opened and own.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        // SAFETY: a plain system call with no pointers.
        let eventfd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: as above.
        let eventfd = unsafe { OwnedFd::from_raw_fd(eventfd) };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both descriptors are open, and `event` is a valid
        // `epoll_event` the kernel only reads.
        cvt(unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                eventfd.as_raw_fd(),
                &mut event,
            )
        })?;
        let poller = POLLER.get_or_init(|| Poller {
            epoll,
            eventfd,
            no_pwait2: AtomicBool::new(false),
        });
        LAST_POLL.store(nanos(Instant::now()), Ordering::Relaxed);
        ACTIVE.store(true, Ordering::Release);
        Ok(poller)
    }

    /// Waits for events until `deadline` (`None`: none; a past one: no
    /// wait), and wakes their waiters. Returns how many it woke.
    fn poll(&self, deadline: Option<Instant>) -> usize {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let n = self.wait(&mut events, deadline);
        LAST_POLL.store(nanos(Instant::now()), Ordering::Relaxed);
        let mut woken = 0;
        for event in &events[..n] {
            let (flags, token) = (event.events as i32, event.u64);
            if token == WAKE_TOKEN {
                let mut buf = 0u64;
                // SAFETY: `eventfd` is open (the poller is never dropped) and
                // `buf` is 8 writable bytes. A failure (EAGAIN: already
                // drained) leaves nothing to do.
                let _ = unsafe {
                    libc::read(
                        self.eventfd.as_raw_fd(),
                        (&raw mut buf).cast(),
                        std::mem::size_of::<u64>(),
                    )
                };
                continue;
            }
            // SAFETY: every other token is a `&'static PollDesc` that
            // `Registration::new` gave the kernel; poll descriptors are never
            // freed (see the module docs).
            let desc = unsafe { &*(token as usize as *const PollDesc) };
            if flags & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) != 0 {
                // Before the latch below (a release): whoever consumes it
                // sees this too.
                desc.exceptional.store(true, Ordering::Release);
            }
            if flags
                & (libc::EPOLLIN
                    | libc::EPOLLRDHUP
                    | libc::EPOLLHUP
                    | libc::EPOLLERR
                    | libc::EPOLLPRI)
                != 0
            {
                woken += usize::from(desc.ready(Direction::Read));
            }
            if flags & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                woken += usize::from(desc.ready(Direction::Write));
            }
        }
        woken
    }

    fn wait(&self, events: &mut [libc::epoll_event; EVENTS], deadline: Option<Instant>) -> usize {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let epoll = self.epoll.as_raw_fd();
        if !self.no_pwait2.load(Ordering::Relaxed) {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
            });
            let ts_ptr = ts.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
            // SAFETY: `events` has room for `EVENTS` entries, `ts_ptr` is null
            // or points to a live `timespec`, and no signal mask is passed.
            let n = unsafe {
                libc::epoll_pwait2(
                    epoll,
                    events.as_mut_ptr(),
                    EVENTS as libc::c_int,
                    ts_ptr,
                    std::ptr::null(),
                )
            };
            if n >= 0 {
                return n as usize;
            }
            if io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
                return 0; // EINTR
            }
            self.no_pwait2.store(true, Ordering::Relaxed);
        }
        let ms = match timeout {
            None => -1,
            // Rounded up, so as not to wake before the timer is due.
            Some(t) => t.as_micros().div_ceil(1000).min(libc::c_int::MAX as u128) as libc::c_int,
        };
        // SAFETY: `events` has room for `EVENTS` entries.
        let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), EVENTS as libc::c_int, ms) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Breaks a blocked `epoll_wait` (or makes the next one return at once).
    fn interrupt(&self) {
        let one = 1u64;
        // SAFETY: `eventfd` is open and `one` is 8 readable bytes. A failure
        // (EAGAIN: the counter is full) means a wake-up is pending anyway.
        let _ = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&raw const one).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// Whether goroutines wait on the poller: the scheduler's cheap check (one
/// relaxed load while no socket was ever registered).
#[inline]
pub(crate) fn has_waiters() -> bool {
    ACTIVE.load(Ordering::Relaxed) && WAITERS.load(Ordering::Relaxed) > 0
}

/// Goroutines parked here (deadlock detection: they can still be woken).
pub(crate) fn waiters() -> usize {
    WAITERS.load(Ordering::SeqCst)
}

/// An idle worker: claims the blocking poll if goroutines wait here and no
/// other worker blocks in it. Release it with `release_block`.
pub(crate) fn claim_block() -> bool {
    has_waiters()
        && !BLOCKED.load(Ordering::Relaxed)
        && BLOCKED
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
}

/// The idle worker holding the claim: blocks in `epoll_wait` until an event,
/// `deadline` or an `interrupt`, and wakes the goroutines it finds ready.
pub(crate) fn block(deadline: Option<Instant>) {
    if let Some(poller) = POLLER.get() {
        poller.poll(deadline);
    }
}

pub(crate) fn release_block() {
    BLOCKED.store(false, Ordering::Release);
}

/// Breaks the blocked poll (the waker of a worker that blocks in it).
pub(crate) fn interrupt() {
    if let Some(poller) = POLLER.get() {
        poller.interrupt();
    }
}

/// A busy worker (at `now`): polls without blocking if goroutines wait here,
/// nobody blocks in the poll and nobody polled for `BUSY_POLL_EVERY`.
#[inline]
pub(crate) fn poll_busy(now: Instant) {
    if has_waiters() {
        poll_if_stale(now, BUSY_POLL_EVERY);
    }
}

/// A spinning worker: polls without blocking unless a worker blocks in the
/// poll (`poll_if_stale` with no staleness asked).
pub(crate) fn poll_spinning() {
    poll_if_stale(Instant::now(), Duration::ZERO);
}

/// Sysmon (at `now`): polls if nobody has for `SYSMON_POLL_AFTER`.
pub(crate) fn poll_sysmon(now: Instant) {
    if has_waiters() {
        poll_if_stale(now, SYSMON_POLL_AFTER);
    }
}

#[cold]
fn poll_if_stale(now: Instant, after: Duration) {
    // A worker blocked in the poll takes the events itself.
    if BLOCKED.load(Ordering::Relaxed) {
        return;
    }
    let last = LAST_POLL.load(Ordering::Relaxed);
    if nanos(now).saturating_sub(last) < after.as_nanos() as u64 {
        return;
    }
    // Without the blocking claim (Go's non-blocking `netpoll(0)` does not
    // take `sched.lastpoll` either): an idle worker that tried to claim it
    // meanwhile would sleep without polling, and the events would wait for
    // sysmon. Polls may overlap: epoll hands each event to one of them.
    if let Some(poller) = POLLER.get() {
        poller.poll(Some(now)); // already past: no wait
    }
}

/// A direction of readiness.
///
/// ```
/// use goro_sched::poll::Direction;
///
/// assert_ne!(Direction::Read, Direction::Write);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Readable (or hung up, or an error).
    Read = 0,
    /// Writable (or hung up, or an error).
    Write = 1,
}

/// A poll descriptor (see the module docs): never freed.
struct PollDesc {
    /// The descriptor, for plain threads' `poll(2)`.
    fd: AtomicI32,
    /// The kernel reported a hang-up, an error or urgent data
    /// (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`, `EPOLLPRI`) since the
    /// registration: sticky (see [`Registration::exceptional`]).
    exceptional: AtomicBool,
    slots: [Slot; 2],
}

impl PollDesc {
    fn slot(&self, dir: Direction) -> &Slot {
        &self.slots[dir as usize]
    }

    /// The poller saw `dir` ready: latch it, and wake the waiter if one is
    /// parked. Returns whether it woke one.
    fn ready(&self, dir: Direction) -> bool {
        match self.slot(dir).ready() {
            Some(task) => {
                task.wake();
                true
            }
            None => false,
        }
    }
}

/// One direction's waiter slot: Go's `rg` / `wg`. `state` is `EMPTY`,
/// `READY`, `WAITING` (a goroutine in `waiter`) or `TAKING` (a waker is
/// taking it out of `waiter`; its two steps are never interleaved with
/// another's). `waiter` belongs to the waiter while `state` is `EMPTY` or
/// `READY`, to whoever moved `state` to `TAKING` until it moves it on, and
/// to the waiter again when its own CAS moves it from `WAITING`. The loom
/// model `tests/loom_poll.rs` mirrors these methods one for one.
struct Slot {
    state: AtomicUsize,
    waiter: UnsafeCell<Option<TaskRef>>,
}

// SAFETY: `waiter` is accessed only by whoever `state` gives it to (see
// `Slot`), with acquire/release on every hand-over; `TaskRef` is `Send`.
unsafe impl Sync for Slot {}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicUsize::new(EMPTY),
            waiter: UnsafeCell::new(None),
        }
    }

    /// The poller's side: latches readiness; returns the waiter to wake.
    fn ready(&self) -> Option<TaskRef> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state {
                // Still a write (READY -> READY): the waiter that consumes
                // the latch must acquire what came before this event too
                // (the data). A plain load here let loom find a waiter
                // that consumed an older latch, read no data and parked
                // for good.
                READY => match self.state.compare_exchange(
                    READY,
                    READY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return None,
                    Err(now) => state = now,
                },
                WAITING => {
                    if let Err(now) = self.state.compare_exchange(
                        WAITING,
                        TAKING,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        state = now;
                        continue;
                    }
                    // SAFETY: our CAS to TAKING gave us `waiter`.
                    let task = unsafe { (*self.waiter.get()).take() };
                    self.state.store(READY, Ordering::Release);
                    return task;
                }
                TAKING => {
                    std::hint::spin_loop();
                    state = self.state.load(Ordering::Acquire);
                }
                _ => match self.state.compare_exchange(
                    EMPTY,
                    READY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return None,
                    Err(now) => state = now,
                },
            }
        }
    }

    /// A deadline changed: takes the waiter out, leaving no readiness.
    fn take_waiter(&self) -> Option<TaskRef> {
        if self.state.load(Ordering::Acquire) != WAITING
            || self
                .state
                .compare_exchange(WAITING, TAKING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return None;
        }
        // SAFETY: our CAS to TAKING gave us `waiter`.
        let task = unsafe { (*self.waiter.get()).take() };
        self.state.store(EMPTY, Ordering::Release);
        task
    }

    /// The waiter, before it parks: consumes a latched readiness (returns
    /// false: do not park), else installs `task` (returns true: park).
    fn arm(&self, task: TaskRef) -> bool {
        if self
            .state
            .compare_exchange(READY, EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return false;
        }
        // SAFETY: the state is EMPTY (READY is only cleared by the one
        // waiter, us, and a waker's TAKING ends before our last `disarm`
        // returned): `waiter` is ours.
        unsafe { *self.waiter.get() = Some(task) };
        match self
            .state
            .compare_exchange(EMPTY, WAITING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(now) => {
                assert!(
                    now == READY,
                    "goro: two goroutines wait on one descriptor in the same direction"
                );
                // SAFETY: the state never was WAITING: `waiter` is still ours.
                drop(unsafe { (*self.waiter.get()).take() });
                // Readiness came meanwhile: consume it, by a swap (a plain
                // store could overwrite a later event's READY -> READY
                // without acquiring what came before it: loom found that
                // hang).
                self.state.swap(EMPTY, Ordering::AcqRel);
                false
            }
        }
    }

    /// The waiter, back from its park: returns whether readiness came.
    fn disarm(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state {
                WAITING => match self.state.compare_exchange(
                    WAITING,
                    EMPTY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        // Nobody took it (a timeout, a spurious return).
                        // SAFETY: our CAS from WAITING gave `waiter` back.
                        drop(unsafe { (*self.waiter.get()).take() });
                        return false;
                    }
                    Err(now) => state = now,
                },
                TAKING => {
                    std::hint::spin_loop();
                    state = self.state.load(Ordering::Acquire);
                }
                READY => match self.state.compare_exchange(
                    READY,
                    EMPTY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return true,
                    Err(now) => state = now,
                },
                _ => return false,
            }
        }
    }

    /// Clears a stale latch for a descriptor's next user.
    fn reset(&self) {
        let old = self.state.swap(EMPTY, Ordering::AcqRel);
        debug_assert!(old == EMPTY || old == READY);
    }
}

/// The size the process's descriptor table was asked to grow to (0: not
/// yet), by `grow_fd_table_ahead`.
static FD_TABLE: AtomicUsize = AtomicUsize::new(0);
/// How far ahead of the highest registered descriptor the table grows.
const FD_TABLE_AHEAD: usize = 4;
/// The size asked for at the first socket (32 KiB of table): a grow takes
/// 10-16 ms, in which a burst of connections opened 400 descriptors and
/// outran a table asked for at 128 descriptors open (both workers waited
/// 8 ms for it).
const FD_TABLE_FIRST: usize = 4096;

/// Keeps the descriptor table well ahead of the sockets, so that opening
/// one never waits for the kernel to grow it. The kernel grows the table
/// (doubling it) when a new descriptor does not fit, and in a process of
/// several threads that waits for an RCU grace period, 10-14 ms on this
/// VM, during which every thread that opens a descriptor that does not fit
/// waits too: a server's `accept` and its clients' `socket` stalled at
/// once at 256, 512 and 1024 descriptors, long enough for sysmon to take
/// both workers for stuck and start a spare, whose goroutines then kept a
/// third thread for the whole run (`echo`). Threads whose descriptors fit
/// the table do not wait for a grow: so once a registered descriptor
/// reaches a quarter of the size asked for, a short-lived thread asks for
/// four times more (`F_DUPFD` past the end, closed at once; nothing if the
/// table is that large already), within half the soft descriptor limit.
/// (Code that `dup2`s onto a descriptor number it does not own races with
/// this as with any thread that opens a file.) The table costs 8 bytes a slot, so at most about
/// 130 bytes a descriptor: a small part of what a socket costs the kernel.
/// `epoll` is the poller's descriptor, which is never closed: the one the
/// short-lived thread duplicates.
fn grow_fd_table_ahead(fd: RawFd, epoll: RawFd) {
    let Ok(fd) = usize::try_from(fd) else { return };
    let asked = FD_TABLE.load(Ordering::Relaxed);
    if fd * FD_TABLE_AHEAD < asked {
        return;
    }
    grow_fd_table(fd, asked, epoll);
}

#[cold]
fn grow_fd_table(fd: usize, asked: usize, epoll: RawFd) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the kernel to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let limit = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    // Half the soft limit at most: the duplicate holds one descriptor for
    // a moment, which must never be the last one a process near its limit
    // has free (a breaker saw opens fail with `EMFILE` when it was).
    let want = ((fd + 1) * FD_TABLE_AHEAD * FD_TABLE_AHEAD)
        .next_power_of_two()
        .max(FD_TABLE_FIRST)
        .min(limit / 2);
    if want <= asked {
        // Nothing more within the limit (or none yet): look again, and
        // call `getrlimit`, only once the descriptors have doubled, not at
        // every socket.
        let again = asked.saturating_mul(2).max(FD_TABLE_FIRST);
        let _ = FD_TABLE.compare_exchange(asked, again, Ordering::Relaxed, Ordering::Relaxed);
        return;
    }
    if FD_TABLE
        .compare_exchange(asked, want, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let Ok(last) = libc::c_int::try_from(want - 1) else {
        return;
    };
    // Off the caller's thread: the grow waits for the grace period. (A
    // thread that cannot start leaves it to the kernel's own grows.)
    let _ = std::thread::Builder::new()
        .name("goro-fdtable".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            // A table already that large (the process opened that many
            // descriptors once) needs no grow, and no descriptor taken.
            if fd_table_size().is_some_and(|size| size > last as usize) {
                return;
            }
            // SAFETY: a plain system call: `epoll` stays open for the
            // process's life (the poller is never dropped); a failure only
            // leaves the table as it was.
            let dup = unsafe { libc::fcntl(epoll, libc::F_DUPFD_CLOEXEC, last) };
            if dup >= 0 {
                // SAFETY: the duplicate is ours, and nobody else knows it.
                unsafe { libc::close(dup) };
            }
        });
}

/// The size of the process's descriptor table (`FDSize` in
/// `/proc/self/status`).
fn fd_table_size() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("FDSize:"))?;
    line["FDSize:".len()..].trim().parse().ok()
}

/// A descriptor registered with the poller, for goroutines to wait on.
///
/// Make one when the descriptor is opened (goro-net's sockets do); drop it
/// when the descriptor is closed (closing takes it out of the epoll set), or
/// [`deregister`](Registration::deregister) it to hand the descriptor to
/// code that will not use the poller.
///
/// ```
/// use goro_sched::poll::{Direction, Registration};
/// use std::io::{Read, Write};
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (mut a, mut b) = UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// let reg = Registration::new(a.as_fd()).unwrap();
/// let reader = goro_sched::go(move || {
///     let mut buf = [0u8; 5];
///     loop {
///         match a.read(&mut buf) {
///             Ok(n) => return buf[..n].to_vec(),
///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
///                 reg.wait(Direction::Read, None); // parks until readable
///             }
///             Err(e) => panic!("{e}"),
///         }
///     }
/// });
/// b.write_all(b"hello").unwrap();
/// assert_eq!(reader.join().unwrap(), b"hello");
/// ```
pub struct Registration {
    desc: &'static PollDesc,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.desc.fd.load(Ordering::Relaxed))
            .finish()
    }
}

impl Registration {
    /// Registers `fd` (which should be non-blocking) with the poller,
    /// edge-triggered for both directions; creates the poller on first use.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let reg = goro_sched::poll::Registration::new(a.as_fd()).unwrap();
    /// # drop(reg);
    /// ```
    pub fn new(fd: BorrowedFd<'_>) -> io::Result<Registration> {
        let poller = Poller::get()?;
        let desc = FREE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| {
                Box::leak(Box::new(PollDesc {
                    fd: AtomicI32::new(-1),
                    exceptional: AtomicBool::new(false),
                    slots: [Slot::new(), Slot::new()],
                }))
            });
        grow_fd_table_ahead(fd.as_raw_fd(), poller.epoll.as_raw_fd());
        desc.fd.store(fd.as_raw_fd(), Ordering::Relaxed);
        // (A late event of the descriptor's last user may still set it:
        // that only makes `exceptional` say true too soon, which is safe.)
        desc.exceptional.store(false, Ordering::Relaxed);
        let reg = Registration { desc };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN
                | libc::EPOLLOUT
                | libc::EPOLLRDHUP
                | libc::EPOLLPRI
                | libc::EPOLLET) as u32,
            u64: std::ptr::from_ref(desc) as usize as u64,
        };
        let epoll = poller.epoll.as_raw_fd();
        // SAFETY: `epoll` and `fd` are open; `event` is a valid `epoll_event`
        // that the kernel only reads.
        let added =
            cvt(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut event) });
        match added {
            Ok(_) => {}
            // Registered before and handed out without `deregister`: point
            // it at this descriptor.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // SAFETY: as above.
                cvt(unsafe {
                    libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd.as_raw_fd(), &mut event)
                })?;
            }
            Err(e) => return Err(e),
        }
        Ok(reg)
    }

    /// Takes `fd` out of the epoll set (before handing it to code that does
    /// not use the poller); `fd` must be the registered descriptor.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let reg = goro_sched::poll::Registration::new(a.as_fd()).unwrap();
    /// reg.deregister(a.as_fd()).unwrap();
    /// ```
    pub fn deregister(self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let poller = Poller::get()?;
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `epoll` and `fd` are open; `event` is ignored by DEL.
        cvt(unsafe {
            libc::epoll_ctl(
                poller.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd.as_raw_fd(),
                &mut event,
            )
        })?;
        Ok(())
    }

    /// Waits until `dir` may be ready, `deadline` passes, or
    /// [`wake`](Registration::wake) is called; may return spuriously. Call
    /// it after the operation failed with `WouldBlock`, then try again (and
    /// look at the deadline). Returns whether readiness was seen.
    ///
    /// A goroutine parks (its worker runs others); a plain thread blocks in
    /// `poll(2)` on the descriptor, for at most 20 ms at a time. At most one
    /// goroutine may wait per direction at a time: callers serialize their
    /// operations (a second one panics).
    ///
    /// ```
    /// use goro_sched::poll::{Direction, Registration};
    /// use std::os::fd::AsFd;
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let reg = Registration::new(a.as_fd()).unwrap();
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// goro_sched::run(move || {
    ///     while Instant::now() < deadline {
    ///         reg.wait(Direction::Read, Some(deadline)); // nothing comes
    ///     }
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self, dir: Direction, deadline: Option<Instant>) -> bool {
        self.wait_with(dir, || deadline)
    }

    /// As [`wait`](Registration::wait), for a deadline that may change while
    /// it waits: `deadline` reads it. Whoever changes it must then call
    /// [`wake`](Registration::wake). A change between the caller's last
    /// look and the park is not missed: once in the slot, the waiter reads
    /// the deadline again (Go's `netpollblock` checks again after it
    /// publishes `pdWait`), and a change it does not see finds it in the
    /// slot (a `SeqCst` fence on each side).
    ///
    /// ```
    /// use goro_sched::poll::{Direction, Registration};
    /// use std::os::fd::AsFd;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let reg = Arc::new(Registration::new(a.as_fd()).unwrap());
    /// let expired = Arc::new(AtomicBool::new(false));
    /// let (r, e) = (reg.clone(), expired.clone());
    /// let waiter = goro_sched::go(move || {
    ///     let deadline = || e.load(Ordering::SeqCst).then(Instant::now);
    ///     while deadline().is_none() {
    ///         r.wait_with(Direction::Read, deadline);
    ///     }
    /// });
    /// std::thread::sleep(Duration::from_millis(10));
    /// expired.store(true, Ordering::SeqCst);
    /// reg.wake(Direction::Read);
    /// waiter.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait_with(&self, dir: Direction, deadline: impl Fn() -> Option<Instant>) -> bool {
        match worker::current_task() {
            Some(task) => self.wait_goroutine(task, dir, deadline),
            None => self.wait_thread(dir, deadline()),
        }
    }

    #[track_caller]
    fn wait_goroutine(
        &self,
        task: TaskRef,
        dir: Direction,
        deadline: impl Fn() -> Option<Instant>,
    ) -> bool {
        let slot = self.desc.slot(dir);
        let before = deadline();
        if before.is_some_and(|d| d <= crate::timer::now()) {
            return false;
        }
        if !slot.arm(task) {
            return true;
        }
        let armed = Armed::new(slot);
        // Pairs with the fence in `wake`: either this reads the changed
        // deadline, or `wake` finds us in the slot.
        fence(Ordering::SeqCst);
        let now = deadline();
        if now != before {
            return armed.disarm();
        }
        // The kernel wakes it, from outside a bubble: its clock waits.
        let _outside = crate::bubble::Outside::enter();
        match now {
            Some(deadline) => park::park_deadline_on(deadline, Wait::IoWait),
            None => park::park_on(Wait::IoWait),
        }
        armed.disarm()
    }

    fn wait_thread(&self, dir: Direction, deadline: Option<Instant>) -> bool {
        let now = Instant::now();
        let slice = match deadline {
            Some(d) if d <= now => return false,
            Some(d) => (d - now).min(THREAD_SLICE),
            None => THREAD_SLICE,
        };
        let mut pfd = libc::pollfd {
            fd: self.desc.fd.load(Ordering::Relaxed),
            events: match dir {
                Direction::Read => libc::POLLIN | libc::POLLRDHUP,
                Direction::Write => libc::POLLOUT,
            },
            revents: 0,
        };
        let ms = slice.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: `pfd` is one valid `pollfd`.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        n > 0
    }

    /// Whether the kernel has reported an exceptional condition on the
    /// descriptor since it was registered: a hang-up, an error or urgent
    /// data (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`, `EPOLLPRI`). It may say
    /// so a little too soon, never too late for whoever consumed the
    /// readiness that came with it. Sticky: a read that skips its first
    /// attempt because the last one drained the socket (tokio's readiness
    /// clearing) must not wait for an end of file, or for data behind an
    /// urgent mark, that the kernel reported once, before that read.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let reg = goro_sched::poll::Registration::new(a.as_fd()).unwrap();
    /// assert!(!reg.exceptional()); // nobody polled yet, and nothing came
    /// ```
    pub fn exceptional(&self) -> bool {
        self.desc.exceptional.load(Ordering::Acquire)
    }

    /// Wakes the goroutine waiting in `dir`, if any, without readiness: it
    /// returns from [`wait`](Registration::wait) and looks at its deadline
    /// again (a deadline was changed).
    ///
    /// ```
    /// use goro_sched::poll::{Direction, Registration};
    /// use std::os::fd::AsFd;
    ///
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let reg = Registration::new(a.as_fd()).unwrap();
    /// reg.wake(Direction::Read); // nobody waits: nothing happens
    /// ```
    pub fn wake(&self, dir: Direction) {
        // Pairs with the fence in `wait_goroutine` (the caller changed the
        // deadline just before).
        fence(Ordering::SeqCst);
        if let Some(task) = self.desc.slot(dir).take_waiter() {
            task.wake();
        }
    }
}

/// A goroutine in a slot, counted in `WAITERS`: disarmed (and counted out)
/// on the way back from the park, or when the park unwinds (a runtime's
/// shutdown unwinds its parked goroutines), so that no slot is left
/// holding a goroutine and no count is left behind.
struct Armed<'a> {
    slot: &'a Slot,
}

impl<'a> Armed<'a> {
    fn new(slot: &'a Slot) -> Armed<'a> {
        WAITERS.fetch_add(1, Ordering::SeqCst);
        Armed { slot }
    }

    fn disarm(self) -> bool {
        let slot = self.slot;
        std::mem::forget(self);
        WAITERS.fetch_sub(1, Ordering::SeqCst);
        slot.disarm()
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        WAITERS.fetch_sub(1, Ordering::SeqCst);
        self.slot.disarm();
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Nobody waits (a waiter borrows the registration); a stale READY is
        // cleared for the next user.
        for slot in &self.desc.slots {
            slot.reset();
        }
        self.desc.fd.store(-1, Ordering::Relaxed);
        FREE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.desc);
    }
}
