//! What other threads may see of one worker (`WorkerShared`): its run
//! queue's stealing end, its inbox, its `next` slot and the asymmetric fence
//! that lets sysmon take it from a stuck worker, what it runs.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering, compiler_fence,
};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_deque::Injector;
use crossbeam_utils::CachePadded;

use crate::queue::RunQueueStealer;
use crate::task::TaskRef;

/// `WorkerShared::stuck`: running normally.
pub(crate) const NOT_STUCK: u8 = 0;
/// Sysmon is taking the worker's `next` (see `WorkerShared::steal_next`).
pub(crate) const STEALING: u8 = 1;
/// Handed off: others may run its work; its own `next` stays empty.
pub(crate) const STUCK: u8 = 2;

/// What other threads may see of one worker.
pub(crate) struct WorkerShared {
    pub(crate) stealer: RunQueueStealer,
    /// Goroutines of this worker readied elsewhere (the default mode: a
    /// started goroutine runs only here), and those that yield here (as
    /// Go's `Gosched` puts them on its global queue). The worker looks at
    /// it where it looks at the injector.
    pub(crate) inbox: Injector<TaskRef>,
    /// Fresh goroutines placed on this worker by another
    /// (`Shared::send_fresh`); the worker reads it where it reads `inbox`,
    /// into its fresh queue (`inbox` goes to the started one).
    pub(crate) fresh_inbox: Injector<TaskRef>,
    /// The worker is on the sleepers list (set and cleared under its lock):
    /// whoever fills its inbox must wake it.
    pub(crate) asleep: AtomicBool,
    /// A spare that retired but still has goroutines of its own to run
    /// (the default mode): it runs only those.
    pub(crate) retired: AtomicBool,
    /// The goroutine this worker readied last (Go's `runnext`). Only the
    /// worker's thread touches it, but for sysmon's `steal_next`.
    next: UnsafeCell<Option<TaskRef>>,
    /// Whether `next` is occupied, for other threads to read.
    next_full: AtomicBool,
    /// The owner is inside `put_next` (see `steal_next`).
    next_busy: AtomicBool,
    pub(crate) thread: Mutex<Option<Thread>>,
    /// The address of the goroutine it runs right now, or null.
    pub(crate) running: AtomicPtr<()>,
    /// The id and spawn site of the goroutine it runs (valid while
    /// `running` is set), for sysmon's report of a goroutine that holds
    /// its worker: plain copies, which sysmon may read without the task.
    running_id: AtomicU64,
    running_from: AtomicPtr<Location<'static>>,
    /// Since when (the coarse clock) sysmon has seen the current run go on
    /// past `HOG`; `u32::MAX` if it has not. For `dump`.
    pub(crate) held_since: AtomicU32,
    /// Set by a waker that took this worker off the sleepers list.
    pub(crate) woken: AtomicBool,
    /// The worker sleeps in the netpoller's `epoll_wait` rather than in
    /// `thread::park`: its waker must break the poll (`Shared::wake_worker`).
    pub(crate) polling: AtomicBool,
    /// `NOT_STUCK`, `STEALING` or `STUCK`.
    stuck: AtomicU8,
    /// Its goroutine is inside `goro::blocking`.
    blocking: AtomicBool,
    /// The CPU its thread ran on when it last looked (`u32::MAX`: not yet).
    pub(crate) cpu: AtomicU32,
    /// Goroutines that started on it, and of those, that finished (the
    /// default mode; counts that wrap), for the others to read
    /// (`WorkerCtx::balance`).
    /// On a line of their own: they change at every start and end, and
    /// the rest is read by every worker that looks for work.
    pub(crate) pinned: CachePadded<Pinned>,
}

// SAFETY: `next` is touched by the worker's own thread, and by sysmon only
// under the protocol of `steal_next`; everything else is atomic or locked.
unsafe impl Sync for WorkerShared {}

/// `WorkerShared::pinned`.
#[derive(Default)]
pub(crate) struct Pinned {
    pub(crate) started: AtomicU64,
    pub(crate) finished: AtomicU64,
}

impl WorkerShared {
    pub(crate) fn new(stealer: RunQueueStealer) -> WorkerShared {
        WorkerShared {
            stealer,
            inbox: Injector::new(),
            fresh_inbox: Injector::new(),
            asleep: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            next: UnsafeCell::new(None),
            next_full: AtomicBool::new(false),
            next_busy: AtomicBool::new(false),
            thread: Mutex::new(None),
            running: AtomicPtr::new(std::ptr::null_mut()),
            running_id: AtomicU64::new(0),
            running_from: AtomicPtr::new(std::ptr::null_mut()),
            held_since: AtomicU32::new(u32::MAX),
            woken: AtomicBool::new(false),
            polling: AtomicBool::new(false),
            stuck: AtomicU8::new(NOT_STUCK),
            blocking: AtomicBool::new(false),
            cpu: AtomicU32::new(u32::MAX),
            pinned: CachePadded::new(Pinned::default()),
        }
    }

    /// Puts `task` in `next`; returns what must go to the queue instead: the
    /// previous occupant, or `task` itself while the worker is stuck.
    ///
    /// # Safety
    /// Only on the worker's own thread.
    pub(crate) unsafe fn put_next(&self, task: TaskRef) -> Option<TaskRef> {
        // The light side of an asymmetric fence (see `steal_next`): plain
        // stores and a compiler fence, no locked instruction.
        self.next_busy.store(true, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        if self.stuck.load(Ordering::Relaxed) != NOT_STUCK {
            self.next_busy.store(false, Ordering::Release);
            return Some(task);
        }
        // SAFETY: our thread, and sysmon waits while `next_busy` is set.
        let previous = unsafe { (*self.next.get()).replace(task) };
        self.next_full.store(true, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        self.next_busy.store(false, Ordering::Release);
        previous
    }

    /// Takes the goroutine in `next`, if any.
    ///
    /// # Safety
    /// Only on the worker's own thread, outside the runs of goroutines
    /// (sysmon takes `next` only during one), or during a `STUCK` run.
    pub(crate) unsafe fn take_next(&self) -> Option<TaskRef> {
        if !self.next_full.load(Ordering::Relaxed) {
            return None;
        }
        self.next_full.store(false, Ordering::Relaxed);
        // SAFETY: per the contract, nobody else touches it now.
        unsafe { (*self.next.get()).take() }
    }

    /// Whether `next` is occupied (a hint for other threads).
    pub(crate) fn has_next(&self) -> bool {
        self.next_full.load(Ordering::Relaxed)
    }

    /// Whether both inboxes are empty.
    pub(crate) fn inboxes_empty(&self) -> bool {
        self.inbox.is_empty() && self.fresh_inbox.is_empty()
    }

    pub(crate) fn is_stuck(&self) -> bool {
        self.stuck.load(Ordering::Acquire) != NOT_STUCK
    }

    pub(crate) fn is_blocking(&self) -> bool {
        self.blocking.load(Ordering::Acquire)
    }

    pub(crate) fn set_blocking(&self, on: bool) {
        self.blocking.store(on, Ordering::Release);
    }

    pub(crate) fn is_running(&self) -> bool {
        !self.running_addr().is_null()
    }

    /// The address of the goroutine it runs, or null (identity only).
    pub(crate) fn running_addr(&self) -> *mut () {
        self.running.load(Ordering::Acquire)
    }

    pub(crate) fn set_thread(&self, thread: Option<Thread>) {
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = thread;
    }

    pub(crate) fn unpark(&self) {
        if let Some(thread) = &*self.thread.lock().unwrap_or_else(|e| e.into_inner()) {
            thread.unpark();
        }
    }

    pub(crate) fn set_running(&self, task: &TaskRef) {
        self.running_id.store(task.id.as_u64(), Ordering::Relaxed);
        self.running_from
            .store(ptr::from_ref(task.location).cast_mut(), Ordering::Relaxed);
        self.running
            .store(task.addr().cast_mut(), Ordering::Release);
    }

    /// The id and spawn site of the goroutine it runs, as last published
    /// (read `running` first, and after, to know they belong together).
    pub(crate) fn running_goroutine(&self) -> (u64, Option<&'static Location<'static>>) {
        let from = self.running_from.load(Ordering::Relaxed);
        // SAFETY: only `set_running` stores it, from a `&'static Location`.
        (self.running_id.load(Ordering::Relaxed), unsafe {
            from.as_ref()
        })
    }

    /// The run ended. Returns whether the worker had been handed off (it
    /// counts again now); waits out a `steal_next` in progress.
    pub(crate) fn end_run(&self) -> bool {
        self.running.store(std::ptr::null_mut(), Ordering::Release);
        compiler_fence(Ordering::SeqCst);
        if self.stuck.load(Ordering::Relaxed) == NOT_STUCK {
            return false;
        }
        while self.stuck.load(Ordering::Acquire) == STEALING {
            std::hint::spin_loop();
        }
        self.stuck.swap(NOT_STUCK, Ordering::AcqRel) == STUCK
    }

    /// Marks the worker stuck from its own thread (`goro::blocking`), which
    /// is not inside `put_next`; its `next` goes to the queue.
    ///
    /// # Safety
    /// Only on the worker's own thread.
    pub(crate) unsafe fn mark_stuck_here(&self) -> (bool, Option<TaskRef>) {
        // A CAS: sysmon may be marking it at the same time.
        if self
            .stuck
            .compare_exchange(NOT_STUCK, STUCK, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return (false, None);
        }
        // SAFETY: our own thread; sysmon steals only from `NOT_STUCK`.
        (true, unsafe { self.take_next() })
    }

    /// Sysmon takes the `next` of a worker that runs one goroutine for long,
    /// and marks it `STUCK`. `Err` if the worker turned out to be between
    /// runs (it will run `next` itself) or marked already; `Ok(None)` when
    /// `next` was empty, or without the fence below (the hand-off then
    /// covers its queue only).
    ///
    /// An asymmetric fence (as liburcu's and folly's): the worker's side is
    /// plain loads and stores (`put_next`, `end_run`); sysmon announces
    /// `STEALING`, then `membarrier` makes every thread of the process pass
    /// a full fence. After it, the worker either sees `STEALING` (and keeps
    /// off `next`), or was done with `next` (its stores are visible now), or
    /// is inside `put_next` (`next_busy`: sysmon waits). A run that ends
    /// meanwhile waits in `end_run` for `STEALING` to clear.
    pub(crate) fn steal_next(&self) -> Result<Option<TaskRef>, ()> {
        // A CAS: the worker may be marking itself (`blocking`) meanwhile.
        if self
            .stuck
            .compare_exchange(NOT_STUCK, STEALING, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return Err(());
        }
        if !membarrier() {
            self.stuck.store(STUCK, Ordering::Release);
            return Ok(None);
        }
        if !self.is_running() {
            // Between runs: `next` is the worker's. Undo, unless its
            // `end_run` consumed the mark already.
            let _ = self.stuck.compare_exchange(
                STEALING,
                NOT_STUCK,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            return Err(());
        }
        while self.next_busy.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let task = if self.next_full.load(Ordering::Acquire) {
            self.next_full.store(false, Ordering::Relaxed);
            // SAFETY: the worker keeps off `next` while we are `STEALING`.
            unsafe { (*self.next.get()).take() }
        } else {
            None
        };
        self.stuck.store(STUCK, Ordering::Release);
        Ok(task)
    }
}

/// A full memory fence on every thread of the process
/// (`membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`); false where the kernel
/// (or an emulator) lacks it.
pub(crate) fn membarrier() -> bool {
    const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    // SAFETY: the membarrier system call reads no memory of ours.
    membarrier_registered()
        && unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0) } == 0
}

/// Registers the process for `membarrier` on a short-lived thread of its
/// own, once per process: sysmon calls this when it starts. The first
/// registration of a process waits for an RCU grace period (12-15 ms
/// measured here), which a hand-off should not wait for, nor should
/// sysmon's looks: done on sysmon's thread, it kept sysmon from seeing a
/// hog that started meanwhile until it was done, and that hog's hand-off
/// came that much later (`hogs`, migrating mode: 22-39 ms after the runtime
/// started, the ticker's worst lag). A hand-off before the end waits for it
/// in `membarrier`; if the thread cannot start, the first hand-off
/// registers.
pub(crate) fn register_membarrier_soon() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("goro-membarrier".into())
            .stack_size(64 * 1024)
            .spawn(|| {
                // One of goro's: it wakes nobody (deadlock detection).
                let _goro_thread = crate::threads::GoroThread::enter();
                membarrier_registered();
            });
    });
}

/// Registers the process for `membarrier` (once). Whether the kernel
/// supports it.
pub(crate) fn membarrier_registered() -> bool {
    const QUERY: libc::c_long = 0;
    const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: the membarrier system call reads no memory of ours.
        let supported = unsafe { libc::syscall(libc::SYS_membarrier, QUERY, 0, 0) };
        // SAFETY: as above.
        supported >= 0
            && supported & PRIVATE_EXPEDITED != 0
            && unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0, 0) } == 0
    })
}
