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
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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

pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// std's socket types, as `Socket` needs them: made from a descriptor,
/// switched between blocking and non-blocking, duplicated.
pub(crate) trait StdSocket: AsFd + From<OwnedFd> + Sized {
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
    fn try_clone(&self) -> io::Result<Self>;
}

macro_rules! std_socket {
    ($($t:ty),*) => {$(
        impl StdSocket for $t {
            fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
                <$t>::set_nonblocking(self, nonblocking)
            }

            fn try_clone(&self) -> io::Result<Self> {
                <$t>::try_clone(self)
            }
        }
    )*};
}

std_socket!(
    std::net::TcpListener,
    std::net::TcpStream,
    std::net::UdpSocket,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixDatagram
);

/// The listen backlog (Go reads `somaxconn`, 4096 on current kernels; the
/// kernel caps it there anyway).
const BACKLOG: libc::c_int = 4096;

/// The CPU that handled the socket's last incoming packet
/// (`SO_INCOMING_CPU`), if the kernel says.
pub(crate) fn incoming_cpu(fd: BorrowedFd<'_>) -> Option<u32> {
    let mut cpu: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `cpu` and `len` are valid for writes of an int and its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            (&raw mut cpu).cast(),
            &raw mut len,
        )
    };
    (r == 0).then(|| u32::try_from(cpu).ok()).flatten()
}

/// Listens on `fd` (again) with `BACKLOG`: std listens with a backlog of
/// 128, which dropped SYNs under 1,000 simultaneous connects.
pub(crate) fn listen(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a plain system call on a descriptor that is open while
    // borrowed.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) }).map(drop)
}

/// One `connect(2)` of `fd` to the address in `addr` (its first `len`
/// bytes), as it comes: `EINPROGRESS` and `EAGAIN` are errors here.
pub(crate) fn connect(
    fd: BorrowedFd<'_>,
    addr: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> io::Result<()> {
    debug_assert!(len as usize <= std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: `addr` is a valid `sockaddr` of `len` bytes (at most its size),
    // which the kernel only reads; `fd` is open while borrowed.
    cvt(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            std::ptr::from_ref(addr).cast::<libc::sockaddr>(),
            len,
        )
    })
    .map(drop)
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
    /// Per direction: `shutdown` shut that half (set after the system call,
    /// before it wakes the waiter; a waiter reads it again once in the
    /// poller's slot, as it does its deadline, so that a wake-up it missed
    /// does not leave it parked).
    shut: [AtomicBool; 2],
    /// A stream read's note that its last read drained the socket (see
    /// `read_stream`): 0 for none, else 1 + the read turns' `released`
    /// count that holds as long as nobody else consumed a readiness.
    drained: AtomicU64,
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
            shut: [AtomicBool::new(false), AtomicBool::new(false)],
            drained: AtomicU64::new(0),
        })
    }

    /// Takes the descriptor out of the poller and gives std's socket back.
    fn deregister(self) -> io::Result<S> {
        let Socket { std, reg, .. } = self;
        reg.deregister(std.as_fd())?;
        Ok(std)
    }

    /// Shuts down a half (or both) of the connection, and wakes the
    /// operations waiting on it: they try again and find the end of file or
    /// the error. The kernel would wake them itself for TCP, but not a
    /// Unix stream's writer (its socket does not turn writable when its own
    /// writing half is shut: found by a test, whose writer waited for good).
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let (flag, dirs): (_, &[Direction]) = match how {
            Shutdown::Read => (libc::SHUT_RD, &[Direction::Read]),
            Shutdown::Write => (libc::SHUT_WR, &[Direction::Write]),
            Shutdown::Both => (libc::SHUT_RDWR, &[Direction::Read, Direction::Write]),
        };
        // SAFETY: a plain system call on the descriptor `std` owns.
        cvt(unsafe { libc::shutdown(self.std.as_fd().as_raw_fd(), flag) })?;
        for &dir in dirs {
            self.shut[dir as usize].store(true, Ordering::SeqCst);
            self.reg.wake(dir);
        }
        Ok(())
    }

    /// Whether `shutdown` shut the reading half: a datagram socket's
    /// non-blocking receive then still says `EAGAIN` (only a blocking one
    /// returns 0), so its callers turn that into the 0 std's would return.
    pub(crate) fn read_shut(&self) -> bool {
        self.is_shut(Direction::Read)
    }

    fn is_shut(&self, dir: Direction) -> bool {
        self.shut[dir as usize].load(Ordering::SeqCst)
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
        earliest(set, timed)
    }

    /// Runs `op` (a non-blocking system call on `std`) until it does not
    /// say `WouldBlock`, parking on the poller between tries, until the
    /// deadline of `dir` (checked first: a past deadline fails at once, as
    /// Go's does).
    #[track_caller]
    pub(crate) fn io<T>(
        &self,
        dir: Direction,
        op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        self.io_with(dir, None, None, op, |_| false)
    }

    /// A `read(2)` of up to `len` bytes from a TCP socket (`op`), as
    /// [`io`](Socket::io), but without the system call that is bound to
    /// say `EAGAIN` (tokio clears its readiness the same way): after a read
    /// that returned fewer bytes than asked, the socket's receive queue was
    /// empty, so the next read goes straight to the poller, where any data
    /// that came since waits as a readiness (latched, or an edge still in
    /// the kernel's ready list). That holds while nobody else consumed a
    /// readiness: only the holder of the read turn does, and the note is
    /// good only while the turn's `released` count is what it was at the
    /// drain. A TCP read also stops short at an end of file (the FIN's
    /// segment) or at the urgent mark, with more to read and no new edge
    /// to come: the note is not taken once the poller has seen either
    /// (`Registration::exceptional`: `EPOLLRDHUP`, `EPOLLPRI`...), and the
    /// first wait looks at that again once in the slot (`io_with`'s
    /// `unsure`). Not for a Unix stream (a read stops after a message that
    /// carried descriptors, with no sign on the poller), a datagram socket,
    /// `read_vectored` (std hands `readv` at most 1024 buffers) or `peek`;
    /// and reads past `MAX_RW` (the kernel's cap on one read) never look
    /// short. (A breaker found the Unix, vectored and urgent cases.)
    #[track_caller]
    pub(crate) fn read_stream(
        &self,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let skip = match self.drained.load(Ordering::Relaxed) {
            0 => None,
            note => {
                self.drained.store(0, Ordering::Relaxed);
                let released = note - 1;
                let turns = &self.turns[Direction::Read as usize];
                (turns.released.load(Ordering::Acquire) == released && !self.reg.exceptional())
                    .then_some(released)
            }
        };
        self.io_with(Direction::Read, None, skip, op, |&n| {
            n > 0 && n < len.min(MAX_RW)
        })
    }

    /// As [`io`](Socket::io), for an operation whose readiness the kernel
    /// may never report: a Unix `connect` to a listener whose backlog is
    /// full, a datagram `sendto` an unconnected peer whose queue is full
    /// of others' datagrams (`EAGAIN`, and no edge will come). It waits on
    /// the poller at most `POLLED_FIRST`, doubling up to `POLLED_MAX`, at a
    /// time before it tries again (Go returns the `EAGAIN`; a loop around
    /// it would spin).
    #[track_caller]
    pub(crate) fn io_polled<T>(
        &self,
        dir: Direction,
        op: impl FnMut(&S) -> io::Result<T>,
    ) -> io::Result<T> {
        self.io_with(dir, Some(POLLED_FIRST), None, op, |_| false)
    }

    /// `skip`: the first attempt is known to say `EAGAIN`, as of the turns'
    /// `released` count it holds (`read_stream`); `drains`: whether a
    /// result left the socket drained (noted for the next read).
    #[track_caller]
    fn io_with<T>(
        &self,
        dir: Direction,
        mut poll_every: Option<Duration>,
        skip: Option<u64>,
        mut op: impl FnMut(&S) -> io::Result<T>,
        drains: impl Fn(&T) -> bool,
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
        let released = match skip {
            Some(released) => released,
            None => {
                let released = turns.released.load(Ordering::Acquire);
                match op(&self.std) {
                    Err(e) if would_block(&e) => {}
                    done => {
                        if let Ok(v) = &done
                            && drains(v)
                        {
                            self.drained.store(released + 1, Ordering::Relaxed);
                        }
                        spend_budget();
                        return done;
                    }
                }
                released
            }
        };
        let _turn = turns.lock();
        // If another operation held the turn since our attempt, try again
        // before waiting on the poller: it consumed the readiness it was
        // woken for, and what it left (more data, or an end of file, which
        // the kernel reports once) comes with no new edge. (Found by a
        // test: readers sharing a socket hung at its end of file.)
        let mut retry = turns.released.load(Ordering::Acquire) != released;
        let mut shut_seen = false;
        // No attempt yet (a skipped one): an end of file or urgent data
        // reported before the drain that let it skip comes with no new
        // edge, so the first wait also ends on what the poller saw of them
        // (read again once in the slot, where whoever consumed that
        // readiness is seen).
        let mut unsure = skip.is_some();
        loop {
            if self
                .deadline(dir, timed)
                .is_some_and(|d| d <= goro_sched::timer::now())
            {
                return Err(timed_out());
            }
            if !std::mem::take(&mut retry) {
                let again = poll_every.and_then(|d| Instant::now().checked_add(d));
                // A half shut since the last look: no wait (a past
                // "deadline" for the poller, not for us), try again; the
                // kernel answers for a shut half at once.
                let shut_before = shut_seen;
                self.reg.wait_with(dir, || {
                    if !shut_before && self.is_shut(dir) || unsure && self.reg.exceptional() {
                        Some(epoch())
                    } else {
                        earliest(self.deadline(dir, timed), again)
                    }
                });
                poll_every = poll_every.map(|d| (d * 2).min(POLLED_MAX));
                shut_seen = self.is_shut(dir);
            }
            unsure = false;
            match op(&self.std) {
                // A write on a shut half that still says `EAGAIN`: the
                // kernel's `EPIPE` (never seen; no spinning if it were).
                Err(e) if would_block(&e) && shut_seen && dir == Direction::Write => {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                Err(e) if would_block(&e) => {}
                done => {
                    if let Ok(v) = &done
                        && drains(v)
                    {
                        // We hold the turn: nobody else consumes a
                        // readiness until it is given back, our own
                        // release being the next count.
                        let released = turns.released.load(Ordering::Relaxed);
                        self.drained.store(released + 2, Ordering::Relaxed);
                    }
                    return done;
                }
            }
        }
    }
}

impl<S: StdSocket> Socket<S> {
    /// Makes `std` non-blocking and registers it.
    pub(crate) fn from_std(std: S) -> io::Result<Socket<S>> {
        std.set_nonblocking(true)?;
        Socket::new(std)
    }

    /// Opens a non-blocking socket (`socket(2)` with `family` and `ty`)
    /// and registers it.
    pub(crate) fn open(family: libc::c_int, ty: libc::c_int) -> io::Result<Socket<S>> {
        let flags = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: a plain system call with no pointers.
        let fd = cvt(unsafe { libc::socket(family, flags, 0) })?;
        // SAFETY: `fd` was just opened, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Socket::new(S::from(fd))
    }

    /// Takes the descriptor out of the poller and gives std's socket back,
    /// in blocking mode.
    pub(crate) fn into_std(self) -> io::Result<S> {
        let std = self.deregister()?;
        std.set_nonblocking(false)?;
        Ok(std)
    }

    /// As [`into_std`](Socket::into_std) for a socket that handles may
    /// share: if others do, std's gets a duplicate descriptor instead, and
    /// the socket's blocking mode changes for all.
    pub(crate) fn shared_into_std(this: Arc<Socket<S>>) -> io::Result<S> {
        match Arc::try_unwrap(this) {
            Ok(sock) => sock.into_std(),
            Err(shared) => {
                let std = shared.std.try_clone()?;
                std.set_nonblocking(false)?;
                Ok(std)
            }
        }
    }
}

/// The most one `read(2)` returns (Linux's `MAX_RW_COUNT`, with 4 KiB
/// pages): a read of more is short by design.
const MAX_RW: usize = 0x7fff_f000;

/// `io_polled`'s first wait, and its longest.
const POLLED_FIRST: Duration = Duration::from_millis(1);
const POLLED_MAX: Duration = Duration::from_millis(20);

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
