//! Signals as channels: Go's `os/signal` ([`notify`] is `signal.Notify`,
//! [`stop`] is `signal.Stop`).
//!
//! ```
//! use goro_net::signal::{self, Signal};
//!
//! let sigs = signal::notify(&[Signal::User1, Signal::Terminate]);
//! signal::kill(std::process::id(), Signal::User1).unwrap();
//! assert_eq!(sigs.recv(), Ok(Signal::User1));
//! signal::stop(&sigs); // SIGUSR1 and SIGTERM do what they did before
//! ```
//!
//! # How a signal travels
//!
//! [`notify`] installs a handler for each signal it watches (once: several
//! registrations share it) and remembers the action it replaced. The
//! handler is async-signal-safe: it adds one to the signal's pending count
//! (an atomic) and writes one byte to a pipe, and nothing else (no lock,
//! no allocation; `errno` is saved and restored). A small thread of its own
//! (`goro-signal`, started by the first `notify` of the process) sleeps in
//! `read` on the other end of the pipe; woken, it takes every pending count
//! and hands each signal to every registration watching it with
//! `try_send`, which never waits: a receiver whose buffer
//! ([`BUFFER`] signals) is full misses that signal, as Go's `signal.Notify`
//! drops a signal for a full channel. The signal path never blocks.
//!
//! Why not a `signalfd`: it delivers only signals that every thread of the
//! process blocks, including threads that the program or its libraries
//! started before `notify` (a thread that does not block them takes the
//! default action instead); a handler sees the signal whichever thread takes
//! it, which is why Go and tokio use a handler and a pipe too. Why a thread
//! and not the netpoller: the poller is polled by a runtime's workers and
//! sysmon, and only while goroutines wait on it, but a signal must reach a
//! receiver on a plain thread with no runtime at all, and must not depend on
//! a runtime that the program may drop (`notify` may be called from any
//! runtime, or none). The thread costs one sleeping thread for the process;
//! the receivers are ordinary channels, so goroutines waiting on them park,
//! in `select!` too. (Go's `os/signal` likewise has a goroutine of its own
//! sleeping in the runtime's `signal_recv`.)
//!
//! # Stopping, and the default action
//!
//! A registration ends with [`stop`], or when every receiver of its
//! channel is dropped. When no registration watches a signal any more, the
//! action that `notify` replaced is put back: for most signals the default
//! action (SIGINT ends the process again). [`stop`] puts it back at once,
//! and closes the channel (its receivers drain what was delivered, then get
//! `Err`). A dropped registration is noticed at the next `notify`, `stop`
//! or delivery: a signal that arrives for a registration whose receivers
//! are all gone is handled as if the registration had been stopped when
//! they were dropped: the old action is put back and the signal raised
//! again, so that SIGINT still ends a program that dropped its receiver.
//!
//! # SIGQUIT and goro's goroutine dump
//!
//! With `GORO_TRACEBACK=1`, goro prints every goroutine and exits on
//! SIGQUIT (Go's traceback). Watching [`Signal::Quit`] replaces that, as
//! `signal.Notify(c, syscall.SIGQUIT)` replaces Go's: SIGQUIT then comes on
//! the channel, and the dump is back once nothing watches it. (The dump's
//! handler is installed before `notify` takes SIGQUIT over, so a runtime
//! started later does not put it back over `notify`'s.)
//!
//! # Signals that cannot be watched
//!
//! SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGBUS, SIGILL and SIGFPE
//! are faults of the running code (a handler that returns would fault
//! again at once; goro's stack-overflow report owns SIGSEGV and SIGBUS);
//! glibc keeps signals 32 and 33 for itself. [`notify`] panics if asked for
//! one of them, and `notify(&[])` (Go's "every signal") watches all the
//! others.
//!
//! # Deadlock detection
//!
//! Once a program calls `notify`, goro's deadlock report never fires: the
//! `goro-signal` thread may still wake a goroutine waiting on a signal
//! channel (Go's program hangs rather than reporting, after
//! `signal.Notify`, for the same reason).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use goro_chan::{Receiver, Sender, TrySendError};

/// How many signals a receiver of [`notify`] holds before it misses the
/// next (Go's advice is a buffer of one for a single signal).
///
/// ```
/// let sigs = goro_net::signal::notify(&[goro_net::signal::Signal::User2]);
/// assert_eq!(sigs.capacity(), Some(goro_net::signal::BUFFER));
/// ```
pub const BUFFER: usize = 8;

/// Signal numbers run from 1 to 64 on Linux.
const NSIG: usize = 65;

/// Signals that the handler took and the reader has not: one count each.
static PENDING: [AtomicU32; NSIG] = [const { AtomicU32::new(0) }; NSIG];
/// The pipe's write end (non-blocking), for the handler; -1 until the
/// reader runs.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The registrations and the handlers, under one lock (never taken by the
/// handler).
static STATE: Mutex<State> = Mutex::new(State {
    watches: Vec::new(),
    replaced: [None; NSIG],
    reader: false,
});

/// A signal, as [`notify`] watches and delivers it (Go's `os.Signal`).
///
/// The named variants are the signals programs usually watch; any other
/// is an `Other` with its number. [`Signal::from_raw`] gives the named
/// variant for a named signal's number, and two `Signal`s are equal when
/// their numbers are (`Other(2) == Interrupt`). `Display` prints Go's
/// wording ("interrupt"), `Debug` the variant.
///
/// ```
/// use goro_net::signal::Signal;
///
/// assert_eq!(Signal::Interrupt.as_raw(), libc::SIGINT);
/// assert_eq!(Signal::from_raw(libc::SIGTERM), Signal::Terminate);
/// assert_eq!(Signal::Other(libc::SIGINT), Signal::Interrupt);
/// assert_eq!(Signal::Interrupt.to_string(), "interrupt");
/// assert_eq!(format!("{:?}", Signal::from_raw(libc::SIGALRM)), "Other(14)");
/// assert_eq!(Signal::from_raw(libc::SIGALRM).to_string(), "alarm clock");
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT: Ctrl-C at a terminal (Go's `os.Interrupt`).
    Interrupt,
    /// SIGTERM: a polite request to end (`kill`'s default).
    Terminate,
    /// SIGHUP: the terminal went away; daemons take it as "reload".
    Hangup,
    /// SIGQUIT: Ctrl-\ at a terminal (see the module docs on goro's
    /// goroutine dump).
    Quit,
    /// SIGUSR1.
    User1,
    /// SIGUSR2.
    User2,
    /// SIGCHLD: a child process stopped or ended.
    Child,
    /// SIGPIPE: a write to a pipe with no reader (goro's sockets never
    /// raise it).
    Pipe,
    /// SIGWINCH: the terminal's size changed.
    WindowChange,
    /// Any other signal, by number.
    Other(i32),
}

impl Signal {
    /// The signal's number.
    ///
    /// ```
    /// use goro_net::signal::Signal;
    ///
    /// assert_eq!(Signal::User1.as_raw(), libc::SIGUSR1);
    /// assert_eq!(Signal::Other(40).as_raw(), 40);
    /// ```
    pub const fn as_raw(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
            Signal::Quit => libc::SIGQUIT,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
            Signal::Child => libc::SIGCHLD,
            Signal::Pipe => libc::SIGPIPE,
            Signal::WindowChange => libc::SIGWINCH,
            Signal::Other(n) => n,
        }
    }

    /// The signal of number `n`: a named variant where there is one, else
    /// `Other(n)`.
    ///
    /// ```
    /// use goro_net::signal::Signal;
    ///
    /// assert!(matches!(Signal::from_raw(libc::SIGHUP), Signal::Hangup));
    /// assert!(matches!(Signal::from_raw(libc::SIGALRM), Signal::Other(14)));
    /// ```
    pub const fn from_raw(n: i32) -> Signal {
        match n {
            libc::SIGINT => Signal::Interrupt,
            libc::SIGTERM => Signal::Terminate,
            libc::SIGHUP => Signal::Hangup,
            libc::SIGQUIT => Signal::Quit,
            libc::SIGUSR1 => Signal::User1,
            libc::SIGUSR2 => Signal::User2,
            libc::SIGCHLD => Signal::Child,
            libc::SIGPIPE => Signal::Pipe,
            libc::SIGWINCH => Signal::WindowChange,
            n => Signal::Other(n),
        }
    }
}

impl PartialEq for Signal {
    fn eq(&self, other: &Signal) -> bool {
        self.as_raw() == other.as_raw()
    }
}

impl Eq for Signal {}

impl Hash for Signal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_raw().hash(state);
    }
}

impl fmt::Display for Signal {
    /// Go's wording (`syscall.Signal.String`): "interrupt", "terminated",
    /// "user defined signal 1"...; "signal N" for a number without one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.as_raw();
        match usize::try_from(n).ok().and_then(|i| GO_NAMES.get(i)) {
            Some(name) if !name.is_empty() => f.write_str(name),
            _ => write!(f, "signal {n}"),
        }
    }
}

/// Go's `syscall` signal strings on Linux, by number.
const GO_NAMES: [&str; 32] = [
    "",
    "hangup",
    "interrupt",
    "quit",
    "illegal instruction",
    "trace/breakpoint trap",
    "aborted",
    "bus error",
    "floating point exception",
    "killed",
    "user defined signal 1",
    "segmentation fault",
    "user defined signal 2",
    "broken pipe",
    "alarm clock",
    "terminated",
    "stack fault",
    "child exited",
    "continued",
    "stopped (signal)",
    "stopped",
    "stopped (tty input)",
    "stopped (tty output)",
    "urgent I/O condition",
    "CPU time limit exceeded",
    "file size limit exceeded",
    "virtual timer expired",
    "profiling timer expired",
    "window changed",
    "I/O possible",
    "power failure",
    "bad system call",
];

/// Why `notify` may not watch signal `n`, if it may not.
fn unwatchable(n: i32) -> Option<&'static str> {
    match n {
        libc::SIGKILL | libc::SIGSTOP => Some("it cannot be caught"),
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE => Some(
            "it reports a fault of the running code, which would fault again \
             at once after a handler that returns",
        ),
        _ if n < 1 || n as usize >= NSIG => Some("it is not a signal number"),
        _ if n >= 32 && n < libc::SIGRTMIN() => Some("the C library keeps it for itself"),
        _ => None,
    }
}

/// Delivers the given signals on the returned channel, each time the
/// process receives one, until [`stop`] or until every receiver of the
/// channel is dropped: Go's `signal.Notify`. An empty list watches every
/// signal that may be watched, as Go's does.
///
/// Several registrations may watch the same signal; each gets it. The
/// channel holds [`BUFFER`] signals; a signal that comes while it is full
/// is not delivered to it (the signal path never waits), so receive
/// promptly, or expect that a burst of signals may arrive as fewer. The
/// receiver works anywhere a channel does: a goroutine parks on it, a
/// plain thread blocks, and it can be an arm of `select!`. Delivery
/// depends on no runtime (see the module docs). While a signal is watched
/// its default action (ending the process, for most) does not happen.
///
/// ```
/// use goro_chan::select;
/// use goro_net::signal::{self, Signal};
/// use std::time::Duration;
///
/// goro_sched::run(|| {
///     let sigs = signal::notify(&[Signal::Interrupt, Signal::Terminate]);
///     let done = goro_chan::after(Duration::from_millis(20)); // the work
///     select! {
///         recv(sigs) -> sig => println!("stopping early: {}", sig.unwrap()),
///         recv(done) -> _ => println!("finished"),
///     }
/// });
/// ```
///
/// # Panics
///
/// If a signal cannot be watched (SIGKILL, SIGSTOP, the fault signals,
/// glibc's 32 and 33, numbers out of range: see the module docs), or if the
/// process cannot start the delivery (no descriptor left for its pipe, no
/// thread).
#[track_caller]
pub fn notify(signals: &[Signal]) -> Receiver<Signal> {
    let numbers: Vec<i32> = if signals.is_empty() {
        (1..NSIG as i32)
            .filter(|&n| unwatchable(n).is_none())
            .collect()
    } else {
        for &sig in signals {
            if let Some(why) = unwatchable(sig.as_raw()) {
                panic!("goro: signal::notify cannot watch {sig:?} ({sig}): {why}");
            }
        }
        signals.iter().map(|s| s.as_raw()).collect()
    };
    let (tx, rx) = goro_chan::bounded(BUFFER);
    let mut state = lock();
    if let Err(e) = state.start_reader() {
        panic!("goro: signal::notify cannot start delivering signals: {e}");
    }
    state.sweep();
    let mut mask = 0u128;
    for &n in &numbers {
        mask |= 1 << n;
        if let Err(e) = state.install(n) {
            state.restore_unwatched();
            drop(state);
            panic!("goro: signal::notify cannot watch signal {n}: {e}");
        }
    }
    state.watches.push(Watch { mask, tx });
    rx
}

/// Ends the registration of `rx`'s channel (Go's `signal.Stop`): no signal
/// is delivered to it once `stop` returns, the channel is closed (its
/// receivers drain what was delivered, then get `Err`), and each signal
/// that no registration watches any more gets back the action `notify`
/// replaced (the default action, unless the program had set another).
/// A receiver that [`notify`] did not return is left alone.
///
/// ```
/// use goro_net::signal::{self, Signal};
///
/// let sigs = signal::notify(&[Signal::Hangup]);
/// signal::stop(&sigs);
/// assert!(sigs.recv().is_err()); // closed: a loop over it ends
/// ```
pub fn stop(rx: &Receiver<Signal>) {
    let mut state = lock();
    state
        .watches
        .retain(|w| !goro_chan::__private::sender_of(&w.tx, rx));
    state.sweep();
}

/// Sends `signal` to the process `pid` (Go's `syscall.Kill`;
/// `std::process::id()` is this process). `Other(0)` sends nothing but
/// checks that the process exists and may be signalled.
///
/// ```
/// use goro_net::signal::{self, Signal};
///
/// assert!(signal::kill(std::process::id(), Signal::Other(0)).is_ok());
/// ```
pub fn kill(pid: u32, signal: Signal) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: `kill` takes two integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal.as_raw()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One `notify` call's registration.
struct Watch {
    /// Bit `n` set: watches signal `n`.
    mask: u128,
    /// The channel's only sender: `stop` drops it, which closes the channel.
    tx: Sender<Signal>,
}

struct State {
    watches: Vec<Watch>,
    /// For each signal whose handler is ours, the action it replaced.
    replaced: [Option<libc::sigaction>; NSIG],
    /// The reader thread runs (and `WRITE_FD` is set).
    reader: bool,
}

fn lock() -> MutexGuard<'static, State> {
    // Nothing panics under the lock; recover anyway rather than lose
    // signals for good.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl State {
    /// Starts the reader thread and its pipe, once per process.
    fn start_reader(&mut self) -> io::Result<()> {
        if self.reader {
            return Ok(());
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
        // SAFETY: `pipe2` just opened it; it is owned once, here.
        let read = unsafe { OwnedFd::from_raw_fd(fds[0]) };
        // SAFETY: as above.
        let write = unsafe { OwnedFd::from_raw_fd(fds[1]) };
        // The handler must never wait: its end is non-blocking. (The
        // reader's end blocks: the thread sleeps in `read`.)
        // SAFETY: `write` is open; F_SETFL with an integer argument.
        cvt(unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) })?;
        std::thread::Builder::new()
            .name("goro-signal".into())
            .stack_size(256 * 1024)
            .spawn(move || read_loop(read))?;
        // The write end lives as long as the process: the handler may run
        // at any time, on any thread.
        let write = std::mem::ManuallyDrop::new(write);
        WRITE_FD.store(write.as_raw_fd(), Ordering::Release);
        self.reader = true;
        Ok(())
    }

    /// Puts our handler on signal `n`, keeping the action it replaces.
    fn install(&mut self, n: i32) -> io::Result<()> {
        let i = n as usize;
        if self.replaced[i].is_some() {
            return Ok(());
        }
        if n == libc::SIGQUIT {
            // The dump's handler goes in first, so that we replace it now
            // rather than a runtime started later replacing ours.
            goro_sched::__private::install_sigquit_handler();
        }
        // SAFETY: an all-zero `sigaction` is a valid value (no flags, an
        // empty mask) that we fill in below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SA_ONSTACK: a goroutine's stack may be near its guard page when
        // the signal comes; the alternate stack (goro-fiber gives one to
        // every thread that runs coroutines) is not. SA_RESTART: interrupted system
        // calls of other code go on as if nothing happened.
        action.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
        // SAFETY: as above: zeroed is a valid `sigaction` for the kernel to
        // fill in.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `action` and `old` are valid; the handler is
        // async-signal-safe (see `on_signal`).
        cvt(unsafe { libc::sigaction(n, &action, &mut old) })?;
        self.replaced[i] = Some(old);
        Ok(())
    }

    /// Drops the registrations whose receivers are all gone, and restores
    /// the signals that nothing watches any more.
    fn sweep(&mut self) {
        self.watches.retain(|w| !w.tx.is_closed());
        self.restore_unwatched();
    }

    /// Puts back the replaced action of every signal no registration
    /// watches.
    fn restore_unwatched(&mut self) {
        let watched = self.watches.iter().fold(0u128, |m, w| m | w.mask);
        for (n, replaced) in self.replaced.iter_mut().enumerate() {
            if watched & (1 << n) != 0 {
                continue;
            }
            if let Some(old) = replaced.take() {
                // SAFETY: `old` is the action `sigaction` gave us for `n`.
                // A failure cannot happen for an action the kernel handed
                // out, and would leave our handler (harmless: it counts and
                // nobody is told).
                unsafe { libc::sigaction(n as libc::c_int, &old, std::ptr::null_mut()) };
            }
        }
    }

    /// Hands `count` arrivals of signal `n` to every registration that
    /// watches it.
    fn deliver(&mut self, n: usize, count: u32) {
        let sig = Signal::from_raw(n as i32);
        let (mut watched, mut alive, mut dead) = (false, false, false);
        for w in self.watches.iter().filter(|w| w.mask & (1 << n) != 0) {
            watched = true;
            // At most a buffer's worth: the rest would not fit.
            for _ in 0..count.min(BUFFER as u32) {
                match w.tx.try_send(sig) {
                    Ok(()) => alive = true,
                    Err(TrySendError::Full(_)) => {
                        alive = true;
                        break;
                    }
                    Err(TrySendError::Closed(_)) => {
                        dead = true;
                        break;
                    }
                }
            }
        }
        if dead {
            self.sweep();
        }
        if watched && !alive && self.replaced[n].is_none() {
            // Every registration that watched it had lost its receivers:
            // the action is back, as if they had been stopped when dropped,
            // and this signal gets it.
            let _ = kill(std::process::id(), sig);
        }
    }
}

/// The handler of every watched signal: counts it and wakes the reader.
/// Async-signal-safe: an atomic add, `write(2)`, and `errno` kept.
extern "C" fn on_signal(n: libc::c_int) {
    // SAFETY: a plain call that returns the calling thread's errno slot.
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: `slot` is valid for the thread's life and only this thread
    // uses it; a handler that makes a system call must keep errno as it was.
    let errno = unsafe { *slot };
    if let Some(pending) = usize::try_from(n).ok().and_then(|i| PENDING.get(i)) {
        pending.fetch_add(1, Ordering::Release);
    }
    let fd = WRITE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = n as u8;
        // SAFETY: `fd` is the pipe's write end, open for the process's
        // life; `byte` is one readable byte. A full pipe (EAGAIN) already
        // holds a byte that wakes the reader, which takes every count.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *slot = errno };
}

/// The reader thread: sleeps in `read` until the handler writes, then
/// delivers every pending signal, in order of number.
fn read_loop(read: OwnedFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `read` is open (owned here) and `buf` is writable.
        let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Cannot happen on a pipe we own; say so rather than spin.
            eprintln!(
                "goro: the signal reader stopped: {}",
                io::Error::last_os_error()
            );
            return;
        }
        // Counts first, then the lock: a signal counted after a swap wrote
        // its byte after it too, and wakes this loop again.
        let mut state = lock();
        for (i, pending) in PENDING.iter().enumerate() {
            let count = pending.swap(0, Ordering::Acquire);
            if count > 0 {
                state.deliver(i, count);
            }
        }
    }
}
