//! The one way to block: park the current goroutine, or block the current
//! thread, until an [`Unparker`] wakes it.
//!
//! Channels and locks keep queues of `Unparker`s and wake them without knowing
//! whether a goroutine or a thread waits. The semantics are those of
//! `std::thread::park`: each `Unparker` carries one token; `unpark` makes it
//! available, `park` consumes it or waits for it. A wake-up that comes before
//! the `park` is therefore never lost, and `park` may return spuriously, so
//! callers wait in a loop on their own condition:
//!
//! ```
//! use goro_sched::park;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::{Arc, Mutex};
//!
//! let done = Arc::new(AtomicBool::new(false));
//! let waiter: Arc<Mutex<Option<park::Unparker>>> = Arc::default();
//! let (d, w) = (done.clone(), waiter.clone());
//! let h = goro_sched::go(move || {
//!     *w.lock().unwrap() = Some(park::current_unparker());
//!     while !d.load(Ordering::Acquire) {
//!         park::park();
//!     }
//! });
//! loop {
//!     if let Some(u) = waiter.lock().unwrap().take() {
//!         done.store(true, Ordering::Release);
//!         u.unpark();
//!         break;
//!     }
//!     std::thread::yield_now();
//! }
//! h.join().unwrap();
//! ```

use std::fmt;
use std::ptr::NonNull;
use std::thread::Thread;
use std::time::Instant;

pub use crate::bubble::{Away, Home};
use crate::task::{Task, TaskRef};
use crate::timers::Action;
use crate::worker;

/// Wakes one goroutine or thread that parks (or will park) with [`park`].
///
/// ```
/// use goro_sched::park;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let ready = Arc::new(AtomicBool::new(false));
/// let me = park::current_unparker(); // this thread (in a goroutine: that goroutine)
/// let flag = ready.clone();
/// goro_sched::go(move || {
///     flag.store(true, Ordering::Release);
///     me.unpark();
/// });
/// // `park` may return spuriously: wait for a condition in a loop.
/// while !ready.load(Ordering::Acquire) {
///     park::park();
/// }
/// ```
#[derive(Clone)]
pub struct Unparker {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Goroutine(TaskRef),
    Thread(Thread),
}

impl Unparker {
    /// Makes the token available: the parked goroutine or thread wakes, or its
    /// next `park` returns at once.
    ///
    /// ```
    /// use goro_sched::park;
    ///
    /// let me = park::current_unparker();
    /// me.unpark(); // the token is stored...
    /// park::park(); // ...so this returns at once
    /// ```
    pub fn unpark(&self) {
        match &self.inner {
            Inner::Goroutine(task) => task.wake(),
            Inner::Thread(thread) => thread.unpark(),
        }
    }

    /// Whether both wake the same goroutine or thread.
    pub(crate) fn same_as(&self, other: &Unparker) -> bool {
        match (&self.inner, &other.inner) {
            (Inner::Goroutine(a), Inner::Goroutine(b)) => a.addr() == b.addr(),
            (Inner::Thread(a), Inner::Thread(b)) => a.id() == b.id(),
            _ => false,
        }
    }

    /// As [`unpark`](Unparker::unpark), consuming the handle.
    ///
    /// ```
    /// use goro_sched::park;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// let ready = Arc::new(AtomicBool::new(false));
    /// let me = park::current_unparker(); // this thread (in a goroutine: that goroutine)
    /// let flag = ready.clone();
    /// goro_sched::go(move || {
    ///     flag.store(true, Ordering::Release);
    ///     me.wake();
    /// });
    /// // `park` may return spuriously: wait for a condition in a loop.
    /// while !ready.load(Ordering::Acquire) {
    ///     park::park();
    /// }
    /// ```
    pub fn wake(self) {
        match self.inner {
            Inner::Goroutine(task) => task.wake(),
            Inner::Thread(thread) => thread.unpark(),
        }
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Goroutine(task) => f.debug_tuple("Goroutine").field(&task.id).finish(),
            Inner::Thread(thread) => f.debug_tuple("Thread").field(&thread.id()).finish(),
        }
    }
}

/// The `Unparker` of the calling goroutine, or of the calling thread.
///
/// ```
/// use goro_sched::park;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let ready = Arc::new(AtomicBool::new(false));
/// let me = park::current_unparker(); // this thread (in a goroutine: that goroutine)
/// let flag = ready.clone();
/// goro_sched::go(move || {
///     flag.store(true, Ordering::Release);
///     me.unpark();
/// });
/// // `park` may return spuriously: wait for a condition in a loop.
/// while !ready.load(Ordering::Acquire) {
///     park::park();
/// }
/// ```
pub fn current_unparker() -> Unparker {
    let inner = match worker::current_task() {
        Some(task) => Inner::Goroutine(task),
        None => Inner::Thread(std::thread::current()),
    };
    Unparker { inner }
}

/// The calling goroutine or thread, for a waiter that publishes where it
/// waits and wants to be woken from there: cheaper than an [`Unparker`]
/// (a goroutine is not counted), but only usable through
/// [`Waiting::unparker`] while the goroutine is still waiting.
///
/// ```
/// use goro_sched::park::{self, Waiting};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::{Arc, Mutex};
///
/// let slot = Arc::new(Mutex::new(None::<Waiting>));
/// let ready = Arc::new(AtomicBool::new(false));
/// let (s, r) = (slot.clone(), ready.clone());
/// let waiter = goro_sched::go(move || {
///     *s.lock().unwrap() = Some(Waiting::current()); // where to wake me
///     while !r.load(Ordering::Acquire) {
///         park::park();
///     }
/// });
/// let waiting = loop {
///     if let Some(w) = slot.lock().unwrap().take() {
///         break w;
///     }
///     std::thread::yield_now();
/// };
/// // SAFETY: `ready` is not set yet, so the goroutine is still in its loop.
/// let unparker = unsafe { waiting.unparker() };
/// ready.store(true, Ordering::Release);
/// unparker.unpark();
/// waiter.join().unwrap();
/// ```
#[derive(Debug)]
pub struct Waiting {
    inner: WaitingInner,
}

#[derive(Debug)]
enum WaitingInner {
    Goroutine(NonNull<Task>),
    Thread(Thread),
}

// SAFETY: a `Waiting` names a goroutine (which is `Send + Sync`) without
// owning it, or a thread handle; `unparker` states when it may be followed.
unsafe impl Send for Waiting {}
// SAFETY: as above.
unsafe impl Sync for Waiting {}

impl Waiting {
    /// The calling goroutine, or thread.
    ///
    /// ```
    /// use goro_sched::park::{self, Waiting};
    ///
    /// let me = Waiting::current(); // a plain thread here
    /// // SAFETY: a thread outlives this call; for a goroutine, see `Waiting`.
    /// let unparker = unsafe { me.unparker() };
    /// unparker.unpark();
    /// park::park(); // returns at once: the token was stored
    /// ```
    pub fn current() -> Waiting {
        let inner = match worker::current_task_ptr() {
            Some(task) => WaitingInner::Goroutine(task),
            None => WaitingInner::Thread(std::thread::current()),
        };
        Waiting { inner }
    }

    /// A counted handle to wake it.
    ///
    /// ```
    /// use goro_sched::park::{self, Waiting};
    ///
    /// let me = Waiting::current(); // a plain thread here
    /// // SAFETY: a thread outlives this call; for a goroutine, see `Waiting`.
    /// let unparker = unsafe { me.unparker() };
    /// unparker.unpark();
    /// park::park(); // returns at once: the token was stored
    /// ```
    ///
    /// # Safety
    /// The goroutine must not have finished: call this only while it still
    /// waits for a wake-up that only the caller can give (it cannot have
    /// resumed and returned meanwhile).
    pub unsafe fn unparker(&self) -> Unparker {
        let inner = match &self.inner {
            WaitingInner::Goroutine(task) => {
                // SAFETY: per the contract, the task is alive.
                Inner::Goroutine(unsafe { TaskRef::clone_from_ptr(*task) })
            }
            WaitingInner::Thread(thread) => Inner::Thread(thread.clone()),
        };
        Unparker { inner }
    }
}

impl Waiting {
    /// Wakes it without taking a counted handle: the first half of a
    /// wake-up, for a waiter that returns once the caller *publishes* (sets
    /// its flag). Call this, then publish, then drop the [`Woken`]: that
    /// queues the goroutine (or unparks the thread) without touching the
    /// waiter, which may be gone by then.
    ///
    /// ```
    /// use goro_sched::park::{self, Waiting};
    /// use std::sync::atomic::{AtomicU8, Ordering};
    /// use std::sync::{Arc, Mutex};
    ///
    /// // The waiter's side: 0 waiting, 1 claimed by a waker, 2 published.
    /// let slot = Arc::new(Mutex::new(None::<Waiting>));
    /// let state = Arc::new(AtomicU8::new(0));
    /// let (s, st) = (slot.clone(), state.clone());
    /// let waiter = goro_sched::go(move || {
    ///     *s.lock().unwrap() = Some(Waiting::current());
    ///     loop {
    ///         match st.load(Ordering::Acquire) {
    ///             2 => break,
    ///             1 => std::hint::spin_loop(), // never park once claimed
    ///             _ => park::park(),
    ///         }
    ///     }
    /// });
    /// let waiting = loop {
    ///     if let Some(w) = slot.lock().unwrap().take() {
    ///         break w;
    ///     }
    ///     std::thread::yield_now();
    /// };
    /// state.store(1, Ordering::Release); // claim
    /// // SAFETY: claimed and not published: the goroutine is still waiting,
    /// // and it does not park again until we publish.
    /// let woken = unsafe { waiting.wake() };
    /// state.store(2, Ordering::Release); // publish
    /// drop(woken); // queue it
    /// waiter.join().unwrap();
    /// ```
    ///
    /// # Safety
    /// As for [`unparker`](Waiting::unparker): the waiter waits for this
    /// caller's wake-up and cannot return before the caller publishes. And
    /// the waiter must not park again once it can see that a waker has
    /// started (say, its claim), until it sees the publication; it may spin
    /// meanwhile. (This call may find it running and leave it a
    /// notification; a waiter that consumed that notification in a `park`
    /// and parked again before the publication would never wake.)
    #[inline]
    pub unsafe fn wake(&self) -> Woken {
        let inner = match &self.inner {
            WaitingInner::Goroutine(task) => {
                // SAFETY: per the contract, the task is alive.
                let task = unsafe { task.as_ref() };
                match task.notify() {
                    Some(run) => WokenInner::Goroutine(run),
                    None => WokenInner::Nothing,
                }
            }
            WaitingInner::Thread(thread) => WokenInner::Thread(thread.clone()),
        };
        Woken { inner }
    }

    /// As [`park_on`], for the goroutine or thread it names, which must be
    /// the caller: saves looking up the current goroutine again.
    ///
    /// ```
    /// use goro_sched::park::{Wait, Waiting};
    ///
    /// let me = Waiting::current();
    /// // SAFETY: a thread outlives this call.
    /// unsafe { me.unparker() }.unpark();
    /// // SAFETY: `me` is this thread's.
    /// unsafe { me.park(Wait::Park) }; // returns at once: the token was stored
    /// ```
    ///
    /// # Safety
    /// Only the goroutine (or thread) that made it with
    /// [`Waiting::current`] may call this: it suspends the goroutine it
    /// names.
    #[inline]
    #[track_caller]
    pub unsafe fn park(&self, wait: Wait) {
        match &self.inner {
            // SAFETY: per the contract, this is the calling goroutine, alive
            // while it runs.
            WaitingInner::Goroutine(task) => unsafe { task.as_ref() }.park(wait.code()),
            WaitingInner::Thread(_) => park_thread(),
        }
    }
}

/// The second half of [`Waiting::wake`]: dropping it queues the goroutine
/// if it had parked, or unparks the thread.
#[must_use = "dropping it at once wakes the waiter before it can see why"]
#[derive(Debug)]
pub struct Woken {
    inner: WokenInner,
}

#[derive(Debug)]
enum WokenInner {
    Nothing,
    Goroutine(TaskRef),
    Thread(Thread),
}

impl Drop for Woken {
    #[inline]
    fn drop(&mut self) {
        match std::mem::replace(&mut self.inner, WokenInner::Nothing) {
            WokenInner::Nothing => {}
            WokenInner::Goroutine(run) => Task::schedule(run),
            WokenInner::Thread(thread) => thread.unpark(),
        }
    }
}

/// What a parked goroutine waits for, as `goro::dump` shows it (Go's
/// `waitReason`).
///
/// ```
/// use goro_sched::park::Wait;
///
/// assert_eq!(Wait::ChanReceive.to_string(), "chan receive");
/// assert_eq!(format!("[{}]", Wait::WaitGroup), "[sync.WaitGroup.Wait]");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[repr(u8)]
pub enum Wait {
    /// A plain [`park`].
    Park,
    /// `goro::sleep` and timers.
    Sleep,
    /// `JoinHandle::join`, `scope`.
    Join,
    /// A channel receive.
    ChanReceive,
    /// A channel send.
    ChanSend,
    /// A select on channels.
    Select,
    /// A select with no operations: forever.
    SelectNoCases,
    /// `Mutex::lock`.
    Mutex,
    /// `RwLock::read`.
    RwLockRead,
    /// `RwLock::write`.
    RwLockWrite,
    /// `Condvar::wait`.
    Condvar,
    /// `WaitGroup::wait`.
    WaitGroup,
    /// `Once::call_once`, `OnceCell::get_or_init`, while another runs it.
    Once,
    /// `Semaphore::acquire`.
    Semaphore,
    /// `Barrier::wait`.
    Barrier,
    /// `goro::blocking`, while its call runs on a thread of the pool.
    Blocking,
    /// A socket's read or write, on the netpoller (Go's "IO wait").
    IoWait,
    /// `goro::test::wait`, until the rest of its bubble is blocked.
    TestWait,
}

impl Wait {
    const ALL: [Wait; 18] = [
        Wait::Park,
        Wait::Sleep,
        Wait::Join,
        Wait::ChanReceive,
        Wait::ChanSend,
        Wait::Select,
        Wait::SelectNoCases,
        Wait::Mutex,
        Wait::RwLockRead,
        Wait::RwLockWrite,
        Wait::Condvar,
        Wait::WaitGroup,
        Wait::Once,
        Wait::Semaphore,
        Wait::Barrier,
        Wait::Blocking,
        Wait::IoWait,
        Wait::TestWait,
    ];

    /// Its number: the discriminant, in `ALL`'s order (every park stores
    /// it, so no search).
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(code: u8) -> Wait {
        Wait::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(Wait::Park)
    }

    /// Go's words for it, as in a goroutine dump.
    ///
    /// ```
    /// use goro_sched::park::Wait;
    ///
    /// assert_eq!(Wait::Mutex.as_str(), "sync.Mutex.Lock");
    /// assert_eq!(Wait::Sleep.as_str(), "sleep");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Park => "park",
            Wait::Sleep => "sleep",
            Wait::Join => "join",
            Wait::ChanReceive => "chan receive",
            Wait::ChanSend => "chan send",
            Wait::Select => "select",
            Wait::SelectNoCases => "select (no cases)",
            Wait::Mutex => "sync.Mutex.Lock",
            Wait::RwLockRead => "sync.RWMutex.RLock",
            Wait::RwLockWrite => "sync.RWMutex.Lock",
            Wait::Condvar => "sync.Cond.Wait",
            Wait::WaitGroup => "sync.WaitGroup.Wait",
            Wait::Once => "sync.Once.Do",
            Wait::Semaphore => "semaphore.Acquire",
            Wait::Blocking => "blocking call",
            Wait::Barrier => "barrier",
            Wait::IoWait => "IO wait",
            Wait::TestWait => "synctest.Wait",
        }
    }
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parks the calling goroutine (its worker runs others meanwhile), or blocks
/// the calling thread, until its token is available; consumes the token. May
/// return spuriously.
///
/// ```
/// use goro_sched::park;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let ready = Arc::new(AtomicBool::new(false));
/// let me = park::current_unparker(); // this thread (in a goroutine: that goroutine)
/// let flag = ready.clone();
/// goro_sched::go(move || {
///     flag.store(true, Ordering::Release);
///     me.unpark();
/// });
/// // `park` may return spuriously: wait for a condition in a loop.
/// while !ready.load(Ordering::Acquire) {
///     park::park();
/// }
/// ```
#[track_caller]
pub fn park() {
    park_on(Wait::Park);
}

/// As [`park`], saying what the caller waits for (shown by `goro::dump`).
///
/// ```
/// use goro_sched::park::{self, Wait};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::{Arc, mpsc};
///
/// let (tx, rx) = mpsc::channel();
/// let ready = Arc::new(AtomicBool::new(false));
/// let r = ready.clone();
/// let h = goro_sched::Builder::new()
///     .name("parker")
///     .go(move || {
///         tx.send(park::current_unparker()).unwrap();
///         while !r.load(Ordering::Acquire) {
///             park::park_on(Wait::Semaphore); // what `goro::dump` will say
///         }
///     })
///     .unwrap();
/// let unparker = rx.recv().unwrap();
/// while !goro_sched::dump().contains("\"parker\" [semaphore.Acquire") {
///     std::thread::yield_now();
/// }
/// ready.store(true, Ordering::Release);
/// unparker.unpark();
/// h.join().unwrap();
/// ```
// Inlined into the channels' and locks' wait loops, so that a goroutine
// resumes in its caller's frame: every return from a frame entered before
// the switch is a return the CPU cannot predict (its return-stack buffer
// holds the worker's calls), and they cost more than the switch.
#[inline]
#[track_caller]
pub fn park_on(wait: Wait) {
    match worker::current_task_ptr() {
        // SAFETY: the current goroutine is alive while it runs (its worker
        // holds it), and we read the thread-local only before the switch.
        Some(task) => unsafe { task.as_ref() }.park(wait.code()),
        None => park_thread(),
    }
}

#[cold]
fn park_thread() {
    // Counted for deadlock detection: this thread can only be woken by an
    // `Unparker`.
    let _blocked = crate::threads::BlockedThread::enter();
    std::thread::park();
}

/// As [`park`], but returns by `deadline` at the latest. A goroutine's
/// deadline is a timer in the scheduler, not a thread.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let deadline = start + Duration::from_millis(5);
/// goro_sched::run(move || {
///     // Nobody unparks this goroutine: a scheduler timer does, at the deadline.
///     while Instant::now() < deadline {
///         goro_sched::park::park_deadline(deadline);
///     }
/// });
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[track_caller]
pub fn park_deadline(deadline: Instant) {
    park_deadline_on(deadline, Wait::Park);
}

/// As [`park_deadline`], saying what the caller waits for.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let deadline = start + Duration::from_millis(5);
/// goro_sched::run(move || {
///     // Nobody unparks this goroutine: a scheduler timer does, at the deadline.
///     while Instant::now() < deadline {
///         goro_sched::park::park_deadline_on(deadline, goro_sched::park::Wait::Sleep);
///     }
/// });
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
#[track_caller]
pub fn park_deadline_on(deadline: Instant, wait: Wait) {
    match worker::current_task() {
        Some(task) => {
            let timer = task.rt.add_timer(
                deadline,
                Action::Wake(Unparker {
                    inner: Inner::Goroutine(task.clone()),
                }),
                true,
            );
            task.park(wait.code());
            task.rt.timers.cancel(&timer);
        }
        None => {
            let now = Instant::now();
            if deadline > now {
                std::thread::park_timeout(deadline - now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Wait;

    #[test]
    fn a_wait_reason_survives_its_number() {
        for (i, &w) in Wait::ALL.iter().enumerate() {
            assert_eq!(usize::from(w.code()), i);
            assert_eq!(Wait::from_code(w.code()), w);
        }
    }
}
