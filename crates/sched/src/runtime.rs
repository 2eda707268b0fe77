//! The runtime: its shared state, worker threads, the idle protocol, the
//! registry of live goroutines, and shutdown.
//!
//! # Sleeping and waking workers
//!
//! A worker that found nothing, even after spinning, *sleeps*: it adds itself
//! to `Idle::sleepers`, looks at every queue once more, and parks its thread
//! (with a timeout set by the earliest timer). Whoever makes work visible to
//! other workers (the injector, a local queue others may steal from) calls
//! `notify_work`, which wakes one sleeper unless some worker is already
//! spinning (that one will find the work). The sleeper's "register, then look
//! again" and the notifier's "publish, then look for sleepers" are each
//! separated by a `SeqCst` fence, so at least one of the two sees the other:
//! no work is left with every worker asleep.
//!
//! # Shutdown
//!
//! 1. `shutdown` is set and every worker woken.
//! 2. Each worker finishes the goroutine it runs (up to its next park point).
//!    In the default mode it then unwinds, on its own thread, every
//!    goroutine that started there, parked or queued, and the fresh ones it
//!    finds (`WorkerCtx::drain`), again as their destructors wake others,
//!    until none that started there is left. A goroutine that others borrow
//!    from (`Task::is_lent`: a scope's goroutines, a `blocking` call) waits
//!    for them: a scope's goroutines are unwound before it. In the
//!    migrating mode it moves its queues to the injector instead. Then it
//!    exits. Destructors that spawn get goroutines cancelled before they
//!    run.
//! 3. The thread that shut down waits for the workers (up to the timeout),
//!    then unwinds what is left that it may: in the migrating mode every
//!    goroutine that no worker is still running, parked or queued; in the
//!    default mode the fresh ones only. Each unwound goroutine's destructors
//!    run and its `JoinHandle` reports it cancelled.
//! 4. A worker still running a goroutine after the timeout is left to it:
//!    that goroutine (and its thread) is leaked, not unwound under its feet,
//!    and so, in the default mode, are the goroutines that started on it
//!    (or on a worker still unwinding its own, which gives up) and the
//!    goroutines lent to something that never ended.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_deque::Injector;
use crossbeam_utils::CachePadded;

use crate::park::Unparker;
use crate::queue::RunQueue;
use crate::task::{Fiber, JoinError, JoinHandle, Task, TaskRef};
use crate::timer::{Action, NEVER, TimerRef, Timers};
use crate::worker::{self, WorkerCtx};

pub(crate) use crate::registry::Registry;
pub(crate) use crate::rt_ref::RtRef;
pub(crate) use crate::slot::{WorkerShared, membarrier_registered};

/// What every worker of a runtime shares.
pub(crate) struct Shared {
    pub(crate) injector: Injector<TaskRef>,
    pub(crate) workers: Box<[CachePadded<WorkerShared>]>,
    pub(crate) idle: Idle,
    pub(crate) timers: Timers,
    pub(crate) registry: Registry,
    /// Event counters, one set per worker and one for other threads, so that
    /// counting never shares a cache line between workers.
    pub(crate) stats: Box<[CachePadded<Counters>]>,
    pub(crate) stack_size: usize,
    /// The migrating mode (`RuntimeBuilder::migrating`): a started goroutine
    /// may move to another thread. Without it (the default), it keeps the
    /// thread of its first run.
    pub(crate) migrate: bool,
    /// Go's `GOMAXPROCS`: workers that run goroutines at once, not counting
    /// stuck ones. Slots `0..procs` are the workers; the rest are spares'.
    pub(crate) procs: usize,
    /// Worker threads (workers and spares) that count towards `procs`.
    live: AtomicUsize,
    /// Workers that sysmon found stuck in one goroutine.
    stuck: AtomicUsize,
    /// Hand-offs so far.
    handoffs: AtomicU64,
    spares: Mutex<Spares>,
    /// The name prefix of worker threads.
    name: Box<str>,
    /// Milliseconds since the timers' epoch, as of sysmon's last look: a
    /// clock that costs a parking goroutine one load (for `dump`). On a
    /// line of its own, as `sysmon_idle`: workers read them on every park
    /// and every run, and only sysmon writes them, so no worker's write
    /// (the idle counters, say) may bounce their line.
    coarse_ms: CachePadded<AtomicU32>,
    /// Threads and goroutines waiting in `Runtime::run`, and the deadlock
    /// report that sysmon hands them (see `sysmon.rs`).
    run_waiters: Mutex<Vec<Unparker>>,
    deadlock: OnceLock<String>,
    pub(crate) detect_deadlocks: bool,
    /// Sysmon's thread, and whether it sleeps its long idle interval: a
    /// worker that wakes up from sleep wakes it too, so that a goroutine
    /// that starts hogging is seen within the short interval.
    pub(crate) sysmon: OnceLock<Thread>,
    pub(crate) sysmon_idle: CachePadded<AtomicBool>,
    shutdown: AtomicBool,
    /// Shutdown gave up waiting (its timeout passed): workers still
    /// unwinding their goroutines leave the rest (see "Shutdown").
    pub(crate) abandoned: AtomicBool,
    /// Worker and spare threads not yet exited.
    threads: Mutex<usize>,
    threads_cv: Condvar,
}

/// The spare slots, under `Shared::spares`.
struct Spares {
    /// Unused slots, each with its queue (whose stealer the slot holds).
    free: Vec<(usize, RunQueue)>,
    /// Retired spares waiting to be reused, by slot.
    idle: Vec<usize>,
    /// Whether the "no more spares" message was printed.
    warned: bool,
}

/// Event counters, for `stats()` and tests.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) spawned: AtomicU64,
    pub(crate) switches: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    /// Spawned minus exited here; one worker's figure may go negative, the
    /// sum cannot.
    pub(crate) alive: AtomicIsize,
}

impl Counters {
    /// Adds one to a worker's own counter. Only that worker writes it, so a
    /// load and a store do: no locked instruction, which on x86 would wait
    /// for every pending store (a fresh task's, say) to reach the cache.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    fn add_alive(&self, delta: isize, exclusive: bool) {
        if exclusive {
            let now = self.alive.load(Ordering::Relaxed);
            self.alive.store(now + delta, Ordering::Relaxed);
        } else {
            self.alive.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// Who sleeps and who spins.
pub(crate) struct Idle {
    sleepers: Mutex<Vec<usize>>,
    num_sleeping: AtomicUsize,
    num_spinning: AtomicUsize,
    max_spinning: usize,
}

impl Idle {
    /// Counts this worker as spinning, if fewer than the maximum do.
    pub(crate) fn try_start_spinning(&self) -> bool {
        let mut n = self.num_spinning.load(Ordering::SeqCst);
        loop {
            if n >= self.max_spinning {
                return false;
            }
            match self.num_spinning.compare_exchange_weak(
                n,
                n + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
    }

    /// Stops counting this worker as spinning; returns whether it was the last.
    pub(crate) fn stop_spinning(&self) -> bool {
        self.num_spinning.fetch_sub(1, Ordering::SeqCst) == 1
    }

    fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        self.sleepers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Makes a woken goroutine runnable. Readied by a goroutine of ours, it
    /// goes to that worker's `next` (it runs as soon as the waker parks);
    /// readied by a worker's own loop (timers), to its local queue, behind the
    /// started goroutines queued there, so that a batch runs in the order it
    /// was readied; readied from anywhere else, to the injector.
    ///
    /// In the default mode a goroutine that has run goes only to its home
    /// worker: into `next` when the waker runs there, else into its inbox.
    #[inline]
    pub(crate) fn schedule(&self, task: TaskRef) {
        if let Err(task) = worker::push_ready(self, task) {
            self.send_away(task);
        }
    }

    /// Queues `task`, readied away from its worker: to its home's inbox in
    /// the default mode (once it has run), else to the injector.
    fn send_away(&self, task: TaskRef) {
        match task.home() {
            Some(home) if !self.migrate => self.send_home(home, task),
            _ => self.inject(task),
        }
    }

    /// Queues `task` on worker `home`'s inbox, waking that worker if it
    /// sleeps. Its "push, fence, look for the sleeper" pairs with `sleep`'s
    /// "register, fence, look at the inbox": one of the two sees the other.
    pub(crate) fn send_home(&self, home: usize, task: TaskRef) {
        let slot = &self.workers[home];
        slot.inbox.push(task);
        fence(Ordering::SeqCst);
        if slot.asleep.load(Ordering::SeqCst) {
            self.wake_sleeper(home);
        } else if slot.retired.load(Ordering::SeqCst) {
            // A retired spare sleeps alone (`sleep_alone`).
            slot.unpark();
        }
    }

    /// Puts a retired spare to sleep until its inbox gives it work, or
    /// until the earliest timer (its own goroutines' among them: the others
    /// fire its heap only when they look for work): off the sleepers list,
    /// whose wake-ups are for workers that look everywhere.
    pub(crate) fn sleep_alone(&self, has_work: &dyn Fn() -> bool) {
        fence(Ordering::SeqCst);
        if has_work() || self.is_shutdown() {
            return;
        }
        match self.timers.earliest() {
            NEVER => thread::park(),
            deadline => {
                // A timer already due is another heap's (ours were just
                // fired), for its worker to fire: look again in a while.
                let wait = self
                    .timers
                    .instant(deadline)
                    .saturating_duration_since(Instant::now());
                thread::park_timeout(if wait.is_zero() {
                    Duration::from_millis(1)
                } else {
                    wait
                });
            }
        }
    }

    /// Wakes worker `i` if it is on the sleepers list.
    fn wake_sleeper(&self, i: usize) {
        let found = {
            let mut sleepers = self.idle.lock();
            match sleepers.iter().position(|&s| s == i) {
                Some(pos) => {
                    sleepers.swap_remove(pos);
                    self.workers[i].asleep.store(false, Ordering::SeqCst);
                    self.idle.num_sleeping.fetch_sub(1, Ordering::SeqCst);
                    true
                }
                None => false,
            }
        };
        if found {
            self.wake_worker(i);
        }
    }

    /// Queues `task` on the global injector and makes sure a worker looks.
    pub(crate) fn inject(&self, task: TaskRef) {
        self.injector.push(task);
        self.notify_work();
    }

    /// Work became visible to other workers: make sure one is looking.
    pub(crate) fn notify_work(&self) {
        fence(Ordering::SeqCst);
        if self.idle.num_spinning.load(Ordering::SeqCst) > 0
            || self.idle.num_sleeping.load(Ordering::SeqCst) == 0
        {
            return;
        }
        self.notify_sleeper();
    }

    fn wake_worker(&self, i: usize) {
        self.workers[i].woken.store(true, Ordering::Release);
        self.workers[i].unpark();
    }

    /// Puts worker `index` to sleep, unless `has_work` finds something once it
    /// is registered as a sleeper; wakes at the earliest timer at the latest.
    pub(crate) fn sleep(&self, index: usize, has_work: &dyn Fn() -> bool, limit: Option<Duration>) {
        self.workers[index].woken.store(false, Ordering::Release);
        {
            let mut sleepers = self.idle.lock();
            sleepers.push(index);
            self.workers[index].asleep.store(true, Ordering::SeqCst);
            self.idle.num_sleeping.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if !has_work() && !self.is_shutdown() {
            let now = Instant::now();
            let timer = match self.timers.earliest() {
                NEVER => None,
                deadline => Some(self.timers.instant(deadline)),
            };
            let limit = limit.and_then(|l| now.checked_add(l));
            match timer.into_iter().chain(limit).min() {
                None => thread::park(),
                Some(deadline) if deadline > now => thread::park_timeout(deadline - now),
                Some(_) => {}
            }
        }
        if !self.workers[index].woken.load(Ordering::Acquire) {
            // Woke by itself (work seen, timeout, spurious): deregister.
            let mut sleepers = self.idle.lock();
            if let Some(pos) = sleepers.iter().position(|&s| s == index) {
                sleepers.swap_remove(pos);
                self.workers[index].asleep.store(false, Ordering::SeqCst);
                self.idle.num_sleeping.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Adds a timer that unparks `wake` at `deadline`, on the current
    /// worker's heap (the first one from outside).
    pub(crate) fn add_timer(&self, deadline: Instant, action: Action) -> TimerRef {
        let heap = worker::with_worker(self, |w| w.index).unwrap_or(0);
        let (timer, earliest) = self.timers.add_to(heap, deadline, action);
        if earliest && self.idle.num_sleeping.load(Ordering::SeqCst) > 0 {
            // Sleeping workers chose their timeouts before this deadline
            // existed. This worker will see it when it next looks for work,
            // unless it is kept busy: then have a sleeper look.
            let busy = worker::with_worker(self, |w| w.has_local_work()).unwrap_or(true);
            if busy {
                self.notify_sleeper();
            }
        }
        timer
    }

    /// Wakes one sleeping worker even if others spin (to recompute timeouts).
    fn notify_sleeper(&self) {
        let woken = {
            let mut sleepers = self.idle.lock();
            let woken = sleepers.pop();
            if let Some(i) = woken {
                self.workers[i].asleep.store(false, Ordering::SeqCst);
                self.idle.num_sleeping.fetch_sub(1, Ordering::SeqCst);
            }
            woken
        };
        if let Some(i) = woken {
            self.wake_worker(i);
        }
    }

    /// A goroutine finished: forget it.
    pub(crate) fn finished(&self, task: &Task) {
        self.registry.remove(task);
    }

    /// A goroutine's body ended: one fewer alive.
    pub(crate) fn count_exit(&self) {
        match worker::with_worker(self, |w| w.index) {
            Some(index) => self.stats[index].add_alive(-1, true),
            None => self.outside_counters().add_alive(-1, false),
        }
    }

    /// The counters that threads other than workers share.
    fn outside_counters(&self) -> &Counters {
        &self.stats[self.stats.len() - 1]
    }

    /// Live goroutines: spawned and not finished.
    pub(crate) fn alive(&self) -> usize {
        let sum: isize = self
            .stats
            .iter()
            .map(|c| c.alive.load(Ordering::Relaxed))
            .sum();
        usize::try_from(sum).unwrap_or(0)
    }

    /// The sum of one counter over all threads.
    pub(crate) fn total(&self, counter: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.stats
            .iter()
            .map(|c| counter(c).load(Ordering::Relaxed))
            .sum()
    }

    /// Spawns a goroutine running `f`, spawned at `location`, from `here`:
    /// this thread's worker of this runtime, if it is one. Once the runtime
    /// has shut down (a destructor that runs while shutdown unwinds a
    /// goroutine may spawn), `go` gets a goroutine cancelled before it ran
    /// (`or_cancel`), `Builder::go` an error.
    pub(crate) fn spawn<F, T>(
        self: &Arc<Shared>,
        here: Option<&WorkerCtx>,
        name: Option<Box<str>>,
        stack_size: Option<usize>,
        location: &'static Location<'static>,
        or_cancel: bool,
        f: F,
    ) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_shutdown() {
            if !or_cancel {
                return Err(io::Error::other(
                    "cannot spawn a goroutine: its runtime has shut down",
                ));
            }
            let fiber = Fiber::Lazy {
                stack_size: self.stack_size,
            };
            // SAFETY: `F` and `T` are `'static`.
            let (task, handle) = unsafe { Task::spawn(self, here, name, location, fiber, f) };
            self.count_in(here);
            // SAFETY: never queued, so ours alone: its function is dropped
            // unrun and its join completes as cancelled.
            unsafe { task.unwind() };
            return Ok(handle);
        }
        // `go` allocates the stack when the goroutine first runs; a builder
        // with a stack size of its own allocates now, to report failure here.
        let fiber = match stack_size {
            None => Fiber::Lazy {
                stack_size: self.stack_size,
            },
            Some(size) => Fiber::ready(size)?,
        };
        // SAFETY: `F` and `T` are `'static`.
        let (task, handle) = unsafe { Task::spawn(self, here, name, location, fiber, f) };
        self.start_on(task, here);
        Ok(handle)
    }

    /// Counts a new goroutine in and makes it runnable.
    pub(crate) fn start(&self, task: TaskRef) {
        worker::with_here(self, |here| self.start_on(task, here));
    }

    /// As `start`, from `here`, this thread's worker of this runtime if it
    /// is one (looked up once by the caller: a spawn reads no other
    /// thread-local but `CURRENT`).
    pub(crate) fn start_on(&self, task: TaskRef, here: Option<&WorkerCtx>) {
        self.count_in(here);
        match here {
            Some(w) => w.push_ready(task, worker::in_goroutine()),
            None => self.inject(task),
        }
    }

    /// Counts a new goroutine in: alive and spawned.
    fn count_in(&self, here: Option<&WorkerCtx>) {
        match here {
            Some(w) => {
                self.stats[w.index].add_alive(1, true);
                Counters::bump(&self.stats[w.index].spawned);
            }
            None => {
                let counters = self.outside_counters();
                counters.add_alive(1, false);
                counters.spawned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A goroutine starts to run: if sysmon sleeps its long interval, wake
    /// it (one load of a line that sysmon rarely writes, otherwise).
    #[inline]
    pub(crate) fn wake_idle_sysmon(&self) {
        if self.sysmon_idle.load(Ordering::Relaxed)
            && self.sysmon_idle.swap(false, Ordering::Relaxed)
            && let Some(sysmon) = self.sysmon.get()
        {
            sysmon.unpark();
        }
    }

    /// The coarse clock (see `coarse_ms`).
    pub(crate) fn coarse_ms(&self) -> u32 {
        self.coarse_ms.load(Ordering::Relaxed)
    }

    /// Sysmon advances the coarse clock.
    pub(crate) fn tick_coarse_clock(&self, now: Instant) {
        let ms = now
            .saturating_duration_since(self.timers.instant(0))
            .as_millis();
        self.coarse_ms
            .store(u32::try_from(ms).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Whether nothing of this runtime runs or can run by itself: no worker
    /// in a goroutine, nothing queued, no timer pending.
    pub(crate) fn is_quiescent(&self) -> bool {
        self.injector.is_empty()
            && self.timers.earliest() == NEVER
            && self.workers[..self.slots_in_use()].iter().all(|w| {
                !w.is_running() && !w.has_next() && w.stealer.is_empty() && w.inbox.is_empty()
            })
    }

    /// A number that changes whenever any goroutine of this runtime runs,
    /// parks or is spawned.
    pub(crate) fn activity(&self) -> u64 {
        self.total(|c| &c.switches)
            .wrapping_add(self.total(|c| &c.spawned))
            .wrapping_add(self.total(|c| &c.parks))
    }

    /// Each slot's queue length.
    pub(crate) fn queue_lengths(&self) -> Vec<usize> {
        self.workers[..self.slots_in_use()]
            .iter()
            .map(|w| w.stealer.len() + w.inbox.len())
            .collect()
    }

    /// Every goroutine that has parked and not finished.
    pub(crate) fn registry_snapshot(&self) -> Vec<TaskRef> {
        self.registry.all()
    }

    /// Whether a thread or goroutine waits in `run`.
    pub(crate) fn has_run_waiters(&self) -> bool {
        !self
            .run_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Sysmon found a deadlock: every `run` fails with `report`.
    pub(crate) fn report_deadlock(&self, report: String) {
        if self.deadlock.set(report).is_ok() {
            for w in self
                .run_waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                w.unpark();
            }
        }
    }

    fn thread_exited(&self) {
        *self.threads.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.threads_cv.notify_all();
    }

    /// Slots that have ever had a worker (their queues and timer heaps may
    /// hold work): the workers', then the spares' used so far.
    pub(crate) fn slots_in_use(&self) -> usize {
        self.timers.in_use()
    }

    /// Whether another worker could steal something.
    pub(crate) fn has_stealable_work(&self) -> bool {
        self.workers[..self.slots_in_use()]
            .iter()
            .any(|w| !w.stealer.nothing_to_steal(self.migrate))
    }

    /// Whether goroutines wait, or may soon (a timer), for a worker other
    /// than `stuck`, which has run one goroutine for long.
    pub(crate) fn work_waiting(&self, stuck: usize) -> bool {
        !self.injector.is_empty()
            || self.workers[stuck].has_next()
            || self.has_stealable_work()
            || self.timers.earliest() != NEVER
    }

    /// How many goroutines wait for worker `index` alone (the default
    /// mode: started ones queued on it, which no other worker may run).
    pub(crate) fn pinned_waiting(&self, index: usize) -> usize {
        if self.migrate {
            return 0;
        }
        let w = &self.workers[index];
        w.stealer.len() - w.stealer.stealable_len(false) + w.inbox.len() + usize::from(w.has_next())
    }

    /// Sysmon found worker `index` stuck in one goroutine: let the others
    /// have its `next`, and make sure `procs` others run.
    pub(crate) fn hand_off(self: &Arc<Shared>, index: usize) {
        let slot = &self.workers[index];
        if slot.is_stuck() {
            return;
        }
        // Counted before the mark is set: once it is, the worker's `end_run`
        // may count it out.
        self.stuck.fetch_add(1, Ordering::SeqCst);
        match slot.steal_next() {
            Err(()) => {
                // It moved on by itself.
                self.stuck.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            Ok(Some(task)) => self.send_away(task),
            Ok(None) => {}
        }
        self.replace_stuck(slot.is_blocking());
    }

    /// As `hand_off`, from the stuck worker's own thread (`goro::blocking`).
    pub(crate) fn hand_off_here(self: &Arc<Shared>, worker: &WorkerCtx) {
        // SAFETY: `worker` is this thread's.
        let (marked, next) = unsafe { self.workers[worker.index].mark_stuck_here() };
        if !marked {
            return;
        }
        if let Some(task) = next {
            self.send_away(task);
        }
        self.stuck.fetch_add(1, Ordering::SeqCst);
        self.replace_stuck(true);
    }

    pub(crate) fn handoffs(&self) -> u64 {
        self.handoffs.load(Ordering::Relaxed)
    }

    pub(crate) fn spares_running(&self) -> usize {
        self.live.load(Ordering::Relaxed).saturating_sub(self.procs)
    }

    /// Makes sure the stuck worker's work runs elsewhere. One stuck in
    /// `blocking` uses no CPU: a spare takes its place, so that `procs`
    /// workers run unstuck, as Go hands off a P in a system call. One in a
    /// CPU loop does use a CPU: a spare (one thread more than CPUs) starts
    /// only when no worker at all runs unstuck; else the others steal its
    /// queue (and its `next`, moved to the injector) as usual.
    fn replace_stuck(self: &Arc<Shared>, blocking: bool) {
        self.handoffs.fetch_add(1, Ordering::Relaxed);
        let stuck = self.stuck.load(Ordering::SeqCst);
        let unstuck = self.live.load(Ordering::SeqCst).saturating_sub(stuck);
        if unstuck < self.procs && (blocking || unstuck == 0) {
            self.start_spare();
        } else {
            self.notify_work();
        }
    }

    /// Worker `index` is back from its long run: it counts again.
    pub(crate) fn unstuck(&self) {
        self.stuck.fetch_sub(1, Ordering::SeqCst);
    }

    /// A spare with nothing to do retires if `procs` others run without it.
    pub(crate) fn try_retire(&self) -> bool {
        let mut live = self.live.load(Ordering::SeqCst);
        loop {
            if live.saturating_sub(self.stuck.load(Ordering::SeqCst)) <= self.procs {
                return false;
            }
            match self.live.compare_exchange_weak(
                live,
                live - 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => live = now,
            }
        }
    }

    /// Starts a spare worker: a retired one waiting for reuse, else a new
    /// thread in a free slot.
    fn start_spare(self: &Arc<Shared>) {
        let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_shutdown() {
            return;
        }
        if let Some(index) = spares.idle.pop() {
            self.live.fetch_add(1, Ordering::SeqCst);
            drop(spares);
            self.workers[index].unpark();
            return;
        }
        let Some((index, queue)) = spares.free.pop() else {
            if !std::mem::replace(&mut spares.warned, true) {
                eprintln!(
                    "goro: {} goroutines are stuck in CPU loops or blocking calls and every \
                     spare thread is in use (RuntimeBuilder::max_blocking_threads): the other \
                     goroutines may stall until one returns",
                    self.stuck.load(Ordering::SeqCst)
                );
            }
            return;
        };
        self.live.fetch_add(1, Ordering::SeqCst);
        *self.threads.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.timers.use_heaps(index + 1);
        let shared = self.clone();
        let spawned = thread::Builder::new()
            .name(format!("{}-spare-{index}", self.name))
            .spawn(move || shared.spare_main(index, queue));
        match spawned {
            Ok(handle) => self.workers[index].set_thread(Some(handle.thread().clone())),
            Err(e) => {
                self.live.fetch_sub(1, Ordering::SeqCst);
                drop(spares);
                self.thread_exited();
                eprintln!("goro: cannot start a spare worker thread: {e}");
            }
        }
    }

    /// A spare thread: works until it retires, then waits for reuse a while.
    fn spare_main(self: Arc<Shared>, index: usize, mut queue: RunQueue) {
        let goro_thread = GoroThread::enter();
        loop {
            queue = WorkerCtx::new(index, self.clone(), queue, true).main();
            if self.is_shutdown() || !self.park_spare(index) {
                break;
            }
        }
        self.workers[index].set_thread(None);
        let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
        spares.free.push((index, queue));
        // The lowest free slot next, so that the slots in use stay few.
        spares
            .free
            .sort_unstable_by_key(|&(i, _)| std::cmp::Reverse(i));
        drop(spares);
        drop(goro_thread);
        self.thread_exited();
    }

    /// A retired spare waits to be reused (true) or gives up after a while.
    fn park_spare(&self, index: usize) -> bool {
        const KEEP_ALIVE: Duration = Duration::from_secs(5);
        self.spares
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle
            .push(index);
        let deadline = Instant::now() + KEEP_ALIVE;
        loop {
            let now = Instant::now();
            if now < deadline && !self.is_shutdown() {
                thread::park_timeout(deadline - now);
            }
            let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            match spares.idle.iter().position(|&i| i == index) {
                // Popped by `start_spare`, which counted us live again.
                None => return true,
                Some(pos) if Instant::now() >= deadline || self.is_shutdown() => {
                    spares.idle.swap_remove(pos);
                    return false;
                }
                Some(_) => {}
            }
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.procs)
            .field("alive", &self.alive())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Runtime

/// A goroutine runtime: worker threads that run goroutines.
///
/// Most programs use the global runtime behind [`go`](fn@crate::go) and
/// [`run`](crate::run), started on first use. A `Runtime` of your own has its
/// own workers and its own lifetime: dropping it waits for its running
/// goroutines to reach a park point, then unwinds every parked one, so that
/// their destructors run.
///
/// ```
/// let rt = goro_sched::Runtime::builder().workers(2).build()?;
/// let h = rt.go(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// assert_eq!(rt.run(|| "hello"), "hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
    sysmon: Option<thread::JoinHandle<()>>,
}

/// Configures a [`Runtime`].
///
/// ```
/// let rt = goro_sched::Runtime::builder()
///     .workers(2)
///     .stack_size(64 * 1024)
///     .name("my-pool")
///     .build()?;
/// assert_eq!(rt.run(|| "configured"), "configured");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    workers: Option<usize>,
    stack_size: Option<usize>,
    name: Option<String>,
    max_blocking_threads: Option<usize>,
    detect_deadlocks: Option<bool>,
    migrate: bool,
}

impl RuntimeBuilder {
    /// The number of worker threads (Go's `GOMAXPROCS`). Default: the
    /// `GORO_MAXPROCS` environment variable, else the number of CPUs.
    ///
    /// ```
    /// use goro_sched::Runtime;
    ///
    /// let rt = Runtime::builder().workers(3).build()?;
    /// assert_eq!(rt.stats().workers, 3);
    /// assert!(Runtime::builder().workers(0).build().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(mut self, n: usize) -> RuntimeBuilder {
        self.workers = Some(n);
        self
    }

    /// The default stack size of its goroutines, in bytes (16 KiB to 1 GiB;
    /// default 256 KiB, committed as used).
    ///
    /// ```
    /// use goro_sched::Runtime;
    ///
    /// let rt = Runtime::builder().workers(1).stack_size(1 << 20).build()?;
    /// let sum = rt.run(|| {
    ///     let big = [1u8; 512 * 1024]; // fits in 1 MiB, not in the default 256 KiB
    ///     big.iter().map(|&b| usize::from(b)).sum::<usize>()
    /// });
    /// assert_eq!(sum, 512 * 1024);
    /// assert!(Runtime::builder().stack_size(1024).build().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> RuntimeBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// A prefix for its worker threads' names (default `goro-worker`).
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).name("crawler").build()?;
    /// let thread = rt.run(|| std::thread::current().name().map(String::from));
    /// assert!(thread.unwrap().starts_with("crawler-"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> RuntimeBuilder {
        self.name = Some(name.into());
        self
    }

    /// How many spare threads may stand in at once for workers stuck in a
    /// CPU loop or a blocking call (default 64). Past that, sysmon prints a
    /// warning and the other goroutines wait for a stuck one to return.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = goro_sched::Runtime::builder()
    ///     .workers(1)
    ///     .max_blocking_threads(4)
    ///     .build()?;
    /// rt.run(|| goro_sched::blocking(|| std::thread::sleep(Duration::from_millis(1))));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_blocking_threads(mut self, n: usize) -> RuntimeBuilder {
        self.max_blocking_threads = Some(n);
        self
    }

    /// Whether [`Runtime::run`] fails, as Go does, when every goroutine
    /// waits and nothing can wake any ("all goroutines are asleep -
    /// deadlock!"), instead of hanging (default: on).
    ///
    /// ```
    /// // A runtime that hangs, as a plain program would, rather than fail `run`.
    /// let rt = goro_sched::Runtime::builder().detect_deadlocks(false).build()?;
    /// assert_eq!(rt.run(|| 7), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn detect_deadlocks(mut self, on: bool) -> RuntimeBuilder {
        self.detect_deadlocks = Some(on);
        self
    }

    /// Builds the runtime in the *migrating mode*, Go's own: a goroutine
    /// woken by another runs next on the waker's worker (so partners that
    /// exchange messages end up on one thread), and a worker stuck in a CPU
    /// loop or a blocking call has its queued goroutines, started ones
    /// included, run by other threads (a hog never stalls them). In the
    /// default mode a goroutine that has started keeps its thread for good:
    /// the goroutines queued behind a hog on its worker wait for it (sysmon
    /// reports it), and `goro::blocking` runs its call on a thread of a pool
    /// instead.
    ///
    /// ```
    /// let builder = goro_sched::Runtime::builder().workers(2);
    /// // SAFETY: the goroutines below hold nothing tied to a thread across
    /// // a park point (no thread-local borrow, nothing derived from one).
    /// let rt = unsafe { builder.migrating() }.build()?;
    /// let h = rt.go(|| {
    ///     let (tx, rx) = std::sync::mpsc::channel();
    ///     goro_sched::go(move || tx.send(6 * 7).unwrap()).join().unwrap();
    ///     rx.recv().unwrap()
    /// });
    /// assert_eq!(h.join().unwrap(), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Safety
    ///
    /// A goroutine of this runtime may resume on another OS thread after
    /// any park point (a channel operation, a lock, `sleep`, `join`,
    /// `yield_now`, `select!`...). The caller promises that no goroutine of
    /// the runtime holds, across a park point, anything tied to the thread
    /// it runs on:
    ///
    /// - a reference into a `thread_local!` (including one held inside
    ///   `LocalKey::with`), or a value derived from one: an `Rc` cloned out
    ///   of a thread-local, `rand::thread_rng()`, an entered `tracing` span;
    /// - a guard of a lock that checks its owner by thread, such as
    ///   `std::io::stdout().lock()` or any reentrant mutex;
    /// - any other `!Send` value that a library ties to its thread.
    ///
    /// Such state moved to another thread is used from two threads at once,
    /// or after its thread has freed it: undefined behaviour. The libraries
    /// a goroutine calls must keep the promise too. goro's own state is
    /// safe in both modes, as is [`local!`](crate::local!) storage, which
    /// belongs to the goroutine.
    pub unsafe fn migrating(mut self) -> RuntimeBuilder {
        self.migrate = true;
        self
    }

    /// Starts the runtime's workers.
    ///
    /// ```
    /// use goro_sched::Runtime;
    ///
    /// let rt = Runtime::builder().build()?; // GORO_MAXPROCS workers, else one per CPU
    /// assert_eq!(rt.run(|| "up"), "up");
    /// let err = Runtime::builder().stack_size(10).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for zero workers, a bad `GORO_MAXPROCS` or a stack size
    /// out of range, each with a message naming the setting; the OS error if
    /// a worker thread cannot be started.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "Runtime::builder().workers(0): a runtime needs at least one worker",
                ));
            }
            Some(n) => n,
            None => maxprocs_from_env()?,
        };
        let stack_size = match self.stack_size {
            Some(bytes) => goro_fiber::stack::Stack::new(bytes)
                .map(|s| s.size())
                .map_err(|e| {
                    io::Error::new(e.kind(), format!("Runtime::builder().stack_size: {e}"))
                })?,
            None => goro_fiber::DEFAULT_STACK_SIZE,
        };
        Runtime::start(
            workers,
            self.max_blocking_threads.unwrap_or(DEFAULT_MAX_SPARES),
            stack_size,
            self.name.as_deref().unwrap_or("goro-worker"),
            self.detect_deadlocks.unwrap_or(true),
            self.migrate,
        )
    }
}

/// Threads of every runtime (workers, spares, sysmons), and plain threads
/// blocked in `park::park` with no deadline: with `/proc/self/task`, what
/// deadlock detection needs to know that no other thread can wake anyone.
static GORO_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Every runtime not yet dropped.
static RUNTIMES: Mutex<Vec<std::sync::Weak<Shared>>> = Mutex::new(Vec::new());

/// Every runtime not yet dropped.
pub(crate) fn all_runtimes() -> Vec<Arc<Shared>> {
    RUNTIMES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect()
}

/// Whether no runtime of the process runs or can run anything by itself;
/// with the sum of their activity counters.
pub(crate) fn all_quiescent() -> Option<u64> {
    let mut runtimes = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    runtimes.retain(|w| w.strong_count() > 0);
    let mut activity = 0u64;
    for rt in runtimes.iter().filter_map(std::sync::Weak::upgrade) {
        if !rt.is_quiescent() {
            return None;
        }
        activity = activity.wrapping_add(rt.activity());
    }
    Some(activity)
}
static BLOCKED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Counts the calling thread as one of goro's for its lifetime.
pub(crate) struct GoroThread(());

impl GoroThread {
    pub(crate) fn enter() -> GoroThread {
        GORO_THREADS.fetch_add(1, Ordering::SeqCst);
        GoroThread(())
    }
}

impl Drop for GoroThread {
    fn drop(&mut self) {
        GORO_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the calling thread as blocked in a goro primitive meanwhile.
pub(crate) struct BlockedThread(());

impl BlockedThread {
    pub(crate) fn enter() -> BlockedThread {
        BLOCKED_THREADS.fetch_add(1, Ordering::SeqCst);
        BlockedThread(())
    }
}

impl Drop for BlockedThread {
    fn drop(&mut self) {
        BLOCKED_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Threads that goro knows cannot wake a goroutine by themselves.
pub(crate) fn known_idle_threads() -> usize {
    GORO_THREADS.load(Ordering::SeqCst) + BLOCKED_THREADS.load(Ordering::SeqCst)
}

/// Spare threads a runtime may start by default.
const DEFAULT_MAX_SPARES: usize = 64;

/// Reads `GORO_MAXPROCS`; the number of CPUs when unset.
pub(crate) fn maxprocs_from_env() -> io::Result<usize> {
    match std::env::var("GORO_MAXPROCS") {
        Err(std::env::VarError::NotPresent) => Ok(num_cpus::get().max(1)),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("GORO_MAXPROCS must be a positive whole number of workers, not `{v}`"),
            )),
        },
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("GORO_MAXPROCS: {e}"),
        )),
    }
}

impl Runtime {
    /// A builder for a runtime of your own.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(2).build()?;
    /// assert_eq!(rt.run(|| 1 + 1), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    fn start(
        workers: usize,
        spares: usize,
        stack_size: usize,
        name: &str,
        detect_deadlocks: bool,
        migrate: bool,
    ) -> io::Result<Runtime> {
        let slots = workers + spares;
        let mut deques: Vec<RunQueue> = (0..slots).map(|_| RunQueue::new()).collect();
        let spare_deques = deques.split_off(workers);
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            workers: deques
                .iter()
                .chain(&spare_deques)
                .map(|d| CachePadded::new(WorkerShared::new(d.stealer())))
                .collect(),
            idle: Idle {
                sleepers: Mutex::new(Vec::with_capacity(workers)),
                num_sleeping: AtomicUsize::new(0),
                num_spinning: AtomicUsize::new(0),
                max_spinning: (workers / 2).max(1),
            },
            timers: Timers::new(slots, workers),
            registry: Registry::new(slots),
            stats: (0..=slots).map(|_| CachePadded::default()).collect(),
            stack_size,
            migrate,
            procs: workers,
            live: AtomicUsize::new(workers),
            stuck: AtomicUsize::new(0),
            handoffs: AtomicU64::new(0),
            spares: Mutex::new(Spares {
                free: spare_deques
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| (workers + i, d))
                    .rev()
                    .collect(),
                idle: Vec::new(),
                warned: false,
            }),
            name: name.into(),
            coarse_ms: CachePadded::new(AtomicU32::new(0)),
            run_waiters: Mutex::new(Vec::new()),
            deadlock: OnceLock::new(),
            detect_deadlocks,
            sysmon: OnceLock::new(),
            sysmon_idle: CachePadded::new(AtomicBool::new(false)),
            shutdown: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            threads: Mutex::new(workers),
            threads_cv: Condvar::new(),
        });
        RUNTIMES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&shared));
        crate::sysmon::install_sigquit_handler();
        let mut rt = Runtime {
            shared: shared.clone(),
            threads: Vec::with_capacity(workers),
            sysmon: None,
        };
        // Sysmon first, and running before any goroutine can: a thread that
        // starts while the CPUs are busy may wait a scheduling period or two
        // (16 ms measured with two goroutines spinning) for its first turn,
        // and sysmon's first look is what a hog's hand-off waits for.
        let s = shared.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        match thread::Builder::new()
            .name(format!("{name}-sysmon"))
            .spawn(move || crate::sysmon::run(&s, ready_tx))
        {
            Ok(handle) => {
                let _ = shared.sysmon.set(handle.thread().clone());
                rt.sysmon = Some(handle);
                let _ = ready_rx.recv();
            }
            Err(e) => {
                // No worker started: none to wait for.
                *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) = 0;
                drop(rt);
                return Err(e);
            }
        }
        for (index, deque) in deques.into_iter().enumerate() {
            let ctx = WorkerCtx::new(index, shared.clone(), deque, false);
            let s = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    let goro_thread = GoroThread::enter();
                    ctx.main();
                    drop(goro_thread);
                    s.thread_exited();
                });
            match spawned {
                Ok(handle) => {
                    shared.workers[index].set_thread(Some(handle.thread().clone()));
                    rt.threads.push(handle);
                }
                Err(e) => {
                    // The workers not started count as exited.
                    *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) -= workers - index;
                    drop(rt);
                    return Err(e);
                }
            }
        }
        Ok(rt)
    }

    /// Spawns a goroutine on this runtime.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let h = rt.go(|| goro_sched::id().is_some()); // a goroutine of `rt`
    /// assert!(h.join().unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// If the runtime has shut down, or no stack can be had (see
    /// [`Builder::go`](crate::Builder::go) for the non-panicking form).
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        go_on(&self.shared, Location::caller(), f)
    }

    /// Runs `f` as a goroutine on this runtime and waits for it; a panic in
    /// `f` is re-raised here.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(2).build()?;
    /// let answer = rt.run(|| {
    ///     let h = goro_sched::go(|| 21); // spawned on `rt` too
    ///     h.join().unwrap() * 2
    /// });
    /// assert_eq!(answer, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// Also if the runtime finds every goroutine waiting with nothing left
    /// to wake any, as Go does: "all goroutines are asleep - deadlock!",
    /// then a dump of the goroutines (see
    /// [`RuntimeBuilder::detect_deadlocks`]).
    #[track_caller]
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        run_on(&self.shared, Location::caller(), f)
    }

    /// Shuts the runtime down: waits up to `timeout` for running goroutines to
    /// reach a park point, then unwinds every parked or queued goroutine (their
    /// destructors run; their `JoinHandle`s report cancellation). A goroutine
    /// still running after `timeout` is left running on its thread.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let sleeper = rt.go(move || {
    ///     let _tx = tx; // dropped when the goroutine is unwound
    ///     goro_sched::sleep(Duration::from_secs(3600));
    /// });
    /// rt.shutdown_timeout(Duration::from_secs(1));
    /// assert!(sleeper.join().unwrap_err().is_cancelled());
    /// assert!(rx.recv().is_err()); // its destructors ran
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(timeout);
    }

    fn shutdown(&mut self, timeout: Duration) {
        let shared = &self.shared;
        if worker::with_worker(shared, |_| ()).is_some() {
            panic!(
                "a Runtime cannot be shut down or dropped from one of its own goroutines: \
                 it would wait for itself; drop it from outside (a plain thread or another runtime)"
            );
        }
        if shared.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(sysmon) = self.sysmon.take() {
            sysmon.thread().unpark();
            let _ = sysmon.join();
        }
        {
            // Under the lock, so that no spare starts after this.
            let _spares = shared.spares.lock().unwrap_or_else(|e| e.into_inner());
            for i in 0..shared.workers.len() {
                shared.wake_worker(i);
            }
        }
        let deadline = Instant::now().checked_add(timeout);
        {
            let mut threads = shared.threads.lock().unwrap_or_else(|e| e.into_inner());
            while *threads > 0 {
                let wait = match deadline {
                    Some(d) => d.saturating_duration_since(Instant::now()),
                    None => Duration::from_secs(3600),
                };
                if wait.is_zero() {
                    break;
                }
                threads = shared
                    .threads_cv
                    .wait_timeout(threads, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let all_exited = *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) == 0;
        if all_exited {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        } else {
            // Workers still unwinding their goroutines leave the rest.
            shared.abandoned.store(true, Ordering::Release);
        }
        self.drain(deadline);
        shared.timers.clear();
    }

    /// Unwinds every goroutine that no worker runs (step 3 of the module
    /// docs): the parked ones (registered) and the queued ones (the workers
    /// moved their queues to the injector), again while that unwinds any,
    /// since destructors may wake goroutines. In the default mode the
    /// workers unwound their own already: only fresh goroutines are left
    /// for this thread, and the started ones of workers that shutdown gave
    /// up on are leaked. A goroutine whose stack others borrow
    /// (`Task::is_lent`) waits for them to be unwound first, and is leaked
    /// if they never are. One whose destructor waits while it unwinds is
    /// run again every millisecond (its wait sees whether it is over) until
    /// `deadline`, then left parked: leaked.
    fn drain(&self, deadline: Option<Instant>) {
        let shared = &self.shared;
        let mut lent: Vec<TaskRef> = Vec::new();
        loop {
            let running: Vec<*mut ()> = shared
                .workers
                .iter()
                .map(|w| w.running.load(Ordering::Acquire))
                .collect();
            // Run references (queued), then references to parked ones.
            let mut queued: Vec<TaskRef> = std::mem::take(&mut lent);
            while let Some(task) = shared.injector.steal().success() {
                queued.push(task);
            }
            let parked = shared.registry.all();
            let (mut unwound, mut waiting) = (0, 0);
            for task in queued {
                if task.is_lent() || !(shared.migrate || task.is_fresh()) {
                    lent.push(task);
                } else if self.unwind_here(task) {
                    unwound += 1;
                } else {
                    waiting += 1;
                }
            }
            for task in parked {
                if running.contains(&task.addr().cast_mut())
                    || task.is_lent()
                    || !(shared.migrate || task.is_fresh())
                {
                    continue;
                }
                // A parked goroutine's run reference is its park's (see
                // `task.rs`): take it; one that is not parked is queued, or
                // running.
                if let Some(run) = task.take_parked() {
                    if self.unwind_here(run) {
                        unwound += 1;
                    } else {
                        waiting += 1;
                    }
                }
            }
            if unwound == 0 {
                if waiting == 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
        // Goroutines still lent (what borrows from them never ended) are
        // leaked with their run references: unwinding them would free what
        // is borrowed, and dropping the reference could unwind them.
        lent.into_iter().for_each(std::mem::forget);
    }

    /// Unwinds a goroutine whose run reference we hold, on this thread, or
    /// goes on unwinding it; returns whether it finished.
    fn unwind_here(&self, task: TaskRef) -> bool {
        let shared = &self.shared;
        // SAFETY: no worker runs it (workers have exited, or were not
        // running it and no longer take work), and we hold its run
        // reference, so this thread owns it now.
        let finished = unsafe { worker::unwind_task(shared, task.clone(), 0) };
        if finished {
            shared.registry.remove(&task);
        }
        finished
    }

    /// Every goroutine of this runtime: see [`goro_sched::dump`](crate::dump()).
    ///
    /// ```
    /// use goro_sched::park;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::{Arc, mpsc};
    ///
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let (tx, rx) = mpsc::channel();
    /// let done = Arc::new(AtomicBool::new(false));
    /// let d = done.clone();
    /// let h = rt.go(move || {
    ///     tx.send(park::current_unparker()).unwrap();
    ///     while !d.load(Ordering::Acquire) {
    ///         park::park();
    ///     }
    /// });
    /// let unparker = rx.recv().unwrap();
    /// while !rt.dump().contains("[park, ") {
    ///     std::thread::yield_now(); // until it has parked
    /// }
    /// assert!(rt.dump().starts_with("goro: 1 goroutines, 1 workers"));
    /// done.store(true, Ordering::Release);
    /// unparker.unpark();
    /// h.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> String {
        crate::dump::render(&self.shared)
    }

    /// Makes this runtime the current one of the calling thread until the
    /// guard drops, as tokio's `Runtime::enter`: [`go()`](crate::go),
    /// [`run()`](crate::run), [`dump()`](crate::dump), [`stats()`](crate::stats)
    /// and [`num_goroutines()`](crate::num_goroutines) called from this
    /// thread then use it instead of the global runtime. Inside a goroutine
    /// they always use the goroutine's own runtime.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let _guard = rt.enter();
    /// let h = goro_sched::go(|| goro_sched::num_goroutines()); // on `rt`
    /// assert_eq!(h.join().unwrap(), 1);
    /// assert_eq!(goro_sched::stats().workers, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            previous: set_entered(Some(Arc::clone(&self.shared))),
            _not_send: PhantomData,
        }
    }

    /// A snapshot of this runtime's counters.
    ///
    /// ```
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// rt.run(|| goro_sched::go(|| ()).join().unwrap());
    /// let stats = rt.stats();
    /// assert_eq!(stats.workers, 1);
    /// assert!(stats.spawned >= 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> crate::Stats {
        crate::Stats::of(&self.shared)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(Duration::MAX);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.shared.procs)
            .field("goroutines", &self.shared.alive())
            .finish()
    }
}

/// Takes a waiter of `run` out of the list.
struct RunWaiter<'a>(&'a Shared);

impl Drop for RunWaiter<'_> {
    fn drop(&mut self) {
        let me = crate::park::current_unparker();
        let mut waiters = self.0.run_waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = waiters.iter().position(|w| w.same_as(&me)) {
            waiters.swap_remove(pos);
        }
    }
}

/// `Runtime::run` on `shared`: spawns `f` there and waits for it, or for
/// the runtime to find a deadlock.
pub(crate) fn run_on<F, T>(shared: &Arc<Shared>, location: &'static Location<'static>, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = go_on(shared, location, f);
    shared
        .run_waiters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(crate::park::current_unparker());
    let _deregister = RunWaiter(shared);
    match handle.join_unless(|| shared.deadlock.get().is_some()) {
        Some(result) => resolve(result),
        None => panic!(
            "{}",
            shared.deadlock.get().expect("join_unless stops only on it")
        ),
    }
}

/// `Runtime::go` on `shared`.
fn go_on<F, T>(shared: &Arc<Shared>, location: &'static Location<'static>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match worker::with_here(shared, |here| {
        shared.spawn(here, None, None, location, true, f)
    }) {
        Ok(handle) => handle,
        Err(e) => panic!("cannot spawn a goroutine: {e}"),
    }
}

/// A join's result, with a panic of the goroutine re-raised.
fn resolve<T>(result: Result<T, JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("{e}"),
        },
    }
}

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// The global runtime, if something has started it.
pub(crate) fn global_if_started() -> Option<&'static Runtime> {
    GLOBAL.get()
}

/// The global runtime, started on first use with `GORO_MAXPROCS` workers.
pub(crate) fn global() -> &'static Runtime {
    GLOBAL.get_or_init(|| match Runtime::builder().name("goro-worker").build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start goro's global runtime: {e}"),
    })
}

/// Runs `f` with the runtime to spawn on from here: this worker's (so the
/// current goroutine's), else the one this thread entered, else the global
/// one.
pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    with_current_here(|rt, _| f(rt))
}

/// As `with_current`, with this thread's worker too if it is one (of the
/// runtime it names): one thread-local read for both.
pub(crate) fn with_current_here<R>(f: impl FnOnce(&Arc<Shared>, Option<&WorkerCtx>) -> R) -> R {
    let mut f = Some(f);
    if let Some(r) = worker::with_any_worker(|w| (f.take().expect("once"))(&w.shared, Some(w))) {
        return r;
    }
    let f = f.take().expect("not called");
    match entered() {
        Some(shared) => f(&shared, None),
        None => f(&global().shared, None),
    }
}

/// The runtime of this thread when it is not a worker: the global one
/// unless it entered another. `None` if that is the global one and it has
/// not started.
pub(crate) fn plain_current() -> Option<Arc<Shared>> {
    entered().or_else(|| global_if_started().map(|rt| Arc::clone(&rt.shared)))
}

thread_local! {
    /// The runtime this plain thread entered (`Runtime::enter`), if any.
    static ENTERED: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// The runtime this thread entered. Never inlined: see `worker`'s module
/// docs on thread-locals.
#[inline(never)]
fn entered() -> Option<Arc<Shared>> {
    ENTERED.try_with(|e| e.borrow().clone()).ok().flatten()
}

/// Makes `shared` the runtime this thread entered; gives the previous one.
#[inline(never)]
fn set_entered(shared: Option<Arc<Shared>>) -> Option<Arc<Shared>> {
    ENTERED
        .try_with(|e| e.replace(shared.clone()))
        .unwrap_or(None)
}

/// The guard of [`Runtime::enter`]: while it lives, [`go()`](crate::go)
/// and the other free functions called from its thread use that runtime.
/// Dropping it gives the thread back the runtime it used before.
#[must_use = "the runtime is the current one only while the guard lives"]
pub struct EnterGuard<'a> {
    previous: Option<Arc<Shared>>,
    // Tied to the thread whose thread-local it restores, and to the runtime.
    _not_send: PhantomData<(*const (), &'a Runtime)>,
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        set_entered(self.previous.take());
    }
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}
