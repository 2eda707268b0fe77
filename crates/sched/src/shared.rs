//! A runtime's shared state (`Shared`): spawning, queueing woken
//! goroutines, the counters and the coarse clock.

use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_deque::{Injector, Steal};
use crossbeam_utils::CachePadded;

use crate::park::Unparker;
use crate::queue::RunQueue;
use crate::task::{Fiber, JoinHandle, Task, TaskRef};
use crate::timers::Timers;
use crate::worker::{self, WorkerCtx};

use crate::registry::Registry;
use crate::slot::WorkerShared;

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
    pub(crate) live: AtomicUsize,
    /// Workers that sysmon found stuck in one goroutine.
    pub(crate) stuck: AtomicUsize,
    /// Hand-offs so far.
    pub(crate) handoffs: AtomicU64,
    pub(crate) spares: Mutex<Spares>,
    /// The name prefix of worker threads.
    pub(crate) name: Box<str>,
    /// Milliseconds since the timers' epoch, as of sysmon's last look: a
    /// clock that costs a parking goroutine one load (for `dump`). On a
    /// line of its own, as `sysmon_idle`: workers read them on every park
    /// and every run, and only sysmon writes them, so no worker's write
    /// (the idle counters, say) may bounce their line.
    pub(crate) coarse_ms: CachePadded<AtomicU32>,
    /// Threads and goroutines waiting in `Runtime::run`, and the deadlock
    /// report that sysmon hands them (see `sysmon.rs`).
    pub(crate) run_waiters: Mutex<Vec<Unparker>>,
    pub(crate) deadlock: OnceLock<String>,
    pub(crate) detect_deadlocks: bool,
    /// Sysmon's thread, and whether it sleeps its long idle interval: a
    /// worker that wakes up from sleep wakes it too, so that a goroutine
    /// that starts hogging is seen within the short interval.
    pub(crate) sysmon: OnceLock<Thread>,
    pub(crate) sysmon_idle: CachePadded<AtomicBool>,
    pub(crate) shutdown: AtomicBool,
    /// Shutdown gave up waiting (its timeout passed): workers still
    /// unwinding their goroutines leave the rest (see "Shutdown").
    pub(crate) abandoned: AtomicBool,
    /// Worker and spare threads not yet exited.
    pub(crate) threads: Mutex<usize>,
    pub(crate) threads_cv: Condvar,
    /// A bubble's state (`goro::test::run`): its timers keep a virtual
    /// clock. `None` for every other runtime.
    pub(crate) bubble: Option<crate::bubble::Bubble>,
}

/// The spare slots, under `Shared::spares`.
pub(crate) struct Spares {
    /// Unused slots, each with its queue (whose stealer the slot holds).
    pub(crate) free: Vec<(usize, RunQueue)>,
    /// Retired spares waiting to be reused, by slot.
    pub(crate) idle: Vec<usize>,
    /// Whether the "no more spares" message was printed.
    pub(crate) warned: bool,
}

/// Who sleeps and who spins.
pub(crate) struct Idle {
    pub(crate) sleepers: Mutex<Vec<usize>>,
    pub(crate) num_sleeping: AtomicUsize,
    pub(crate) num_spinning: AtomicUsize,
    pub(crate) max_spinning: usize,
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

    pub(crate) fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        self.sleepers.lock().unwrap_or_else(|e| e.into_inner())
    }
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

    pub(crate) fn add_alive(&self, delta: isize, exclusive: bool) {
        if exclusive {
            let now = self.alive.load(Ordering::Relaxed);
            self.alive.store(now + delta, Ordering::Relaxed);
        } else {
            self.alive.fetch_add(delta, Ordering::Relaxed);
        }
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
    pub(crate) fn send_away(&self, task: TaskRef) {
        match task.home() {
            Some(home) if !self.migrate => self.send_home(home, task),
            _ => self.inject(task),
        }
    }

    /// Queues `task` on worker `home`'s inbox, waking that worker if it
    /// sleeps. Its "push, fence, look for the sleeper" pairs with `sleep`'s
    /// "register, fence, look at the inbox": one of the two sees the other.
    pub(crate) fn send_home(&self, home: usize, task: TaskRef) {
        self.workers[home].inbox.push(task);
        self.wake_for_inbox(home);
    }

    /// After a push onto worker `home`'s inbox (`send_home`) or fresh
    /// inbox (`send_fresh`): wakes that worker if it sleeps.
    fn wake_for_inbox(&self, home: usize) {
        let slot = &self.workers[home];
        fence(Ordering::SeqCst);
        if slot.asleep.load(Ordering::SeqCst) {
            self.wake_sleeper(home);
        } else if slot.retired.load(Ordering::SeqCst) {
            // A retired spare sleeps alone (`sleep_alone`).
            slot.unpark();
        }
    }

    /// Queues a fresh goroutine on worker `index`'s fresh inbox, to start
    /// there (`WorkerCtx::place_next_spawn`). Others take nothing from an
    /// inbox, so if that worker is stuck (or gets stuck: sysmon's hand-off
    /// also rescues, and one of the two sees the other, through the fence
    /// of `wake_for_inbox` and the mark's `SeqCst` before the rescue's
    /// fence), its fresh inbox goes to the injector instead; and at
    /// shutdown, which may have ended that worker's loop (the dropping
    /// thread's drain reads fresh inboxes and the injector).
    pub(crate) fn send_fresh(&self, index: usize, task: TaskRef) {
        self.workers[index].fresh_inbox.push(task);
        self.wake_for_inbox(index);
        if self.workers[index].is_stuck() || self.is_shutdown() {
            self.rescue_fresh(index);
        }
    }

    /// Moves the goroutines of stuck worker `index`'s fresh inbox to the
    /// injector, for the others (`send_fresh`).
    pub(crate) fn rescue_fresh(&self, index: usize) {
        fence(Ordering::SeqCst);
        let inbox = &self.workers[index].fresh_inbox;
        let mut moved = false;
        loop {
            match inbox.steal() {
                Steal::Success(task) => {
                    self.injector.push(task);
                    moved = true;
                }
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
        if moved {
            self.notify_work();
        }
    }

    /// Queues `task` on the global injector and makes sure a worker looks.
    pub(crate) fn inject(&self, task: TaskRef) {
        self.injector.push(task);
        self.notify_work();
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
    pub(crate) fn outside_counters(&self) -> &Counters {
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
    /// (`or_cancel`), `Builder::go` an error; so with no memory for the
    /// task: `go` gets a handle whose join says so.
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
            let (task, handle) = match unsafe { Task::spawn(self, here, name, location, fiber, f) }
            {
                Some(spawned) => spawned,
                None => return Ok(JoinHandle::never_was()),
            };
            self.cancel_unrun(task, here);
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
        match unsafe { Task::spawn(self, here, name, location, fiber, f) } {
            Some((task, handle)) => {
                self.start_on(task, here);
                Ok(handle)
            }
            None if or_cancel => Ok(JoinHandle::never_was()),
            None => Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "cannot spawn a goroutine: no memory for its task",
            )),
        }
    }

    /// A goroutine spawned after shutdown (a destructor that shutdown runs
    /// may spawn): counted in and cancelled before it runs, its function
    /// dropped here and its join completed as cancelled.
    pub(crate) fn cancel_unrun(&self, task: TaskRef, here: Option<&WorkerCtx>) {
        self.count_in(here);
        // SAFETY: never queued (the caller just made it), so ours alone.
        unsafe { task.unwind() };
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
            Some(w) if let Some(near) = w.spawn_near.take() => self.send_fresh(near, task),
            Some(w) => w.push_ready(task, worker::in_goroutine()),
            None => self.inject(task),
        }
    }

    /// Counts a new goroutine in: alive and spawned.
    pub(crate) fn count_in(&self, here: Option<&WorkerCtx>) {
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

    /// Each slot's queue length.
    pub(crate) fn queue_lengths(&self) -> Vec<usize> {
        self.workers[..self.slots_in_use()]
            .iter()
            .map(|w| w.stealer.len() + w.inbox.len() + w.fresh_inbox.len())
            .collect()
    }

    /// Every goroutine that has parked and not finished.
    pub(crate) fn registry_snapshot(&self) -> Vec<TaskRef> {
        self.registry.all()
    }

    pub(crate) fn thread_exited(&self) {
        *self.threads.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.threads_cv.notify_all();
    }

    /// Slots that have ever had a worker (their queues and timer heaps may
    /// hold work): the workers', then the spares' used so far.
    pub(crate) fn slots_in_use(&self) -> usize {
        self.timers.in_use()
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
