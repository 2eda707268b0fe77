//! A worker thread (Go's M with its P): its run queues and its loop.
//!
//! Where a worker looks for its next goroutine, in order:
//!
//! 1. every 61st pick, the global injector first (after firing due timers),
//!    so that goroutines readied from outside are not starved by a busy
//!    local queue (Go's rule); and at most once a millisecond, before it,
//!    the oldest fresh goroutine of its own queue (see 3);
//! 2. `next`, the one-slot LIFO of the goroutine it readied last (what makes
//!    ping-pong fast: the woken goroutine runs at once, on the same worker,
//!    while its data is in cache), unless `next` has won 16 times in a row
//!    while the local queue waited;
//! 3. its local queue (`queue.rs`): goroutines that have run, oldest first
//!    (Go's FIFO), and those that have not (*fresh*), newest first, so that
//!    a tree of goroutines runs depth first; then the injector, then due
//!    timers;
//! 4. other workers' queues, stealing the older half of a random victim's.
//!
//! A goroutine that yields goes to the injector, as Go's `Gosched` puts it
//! on its global queue: back in the local queue it would come before the
//! fresh goroutines it yields to. In the default mode it goes to the
//! worker's own *inbox* instead, which the worker reads where it reads the
//! injector, and where goroutines of this worker woken elsewhere wait:
//! a goroutine that has started runs on this worker only.
//!
//! With nothing found it *spins* (searches again and again for ~20 µs:
//! waking a parked thread costs 20–50 µs on this class of machine), and at
//! most half of the workers spin at once; then it sleeps (`idle.rs` in Go
//! terms: see `Shared::sleep`) until woken or until the earliest timer.
//!
//! # Spares
//!
//! A worker stuck in one goroutine (a CPU loop, a blocking call) keeps its
//! thread; sysmon (`sysmon.rs`) then marks it *stuck*, moves its `next` to
//! the injector, and starts a *spare* worker in a slot of its own, so that
//! `procs` workers keep running the other goroutines (stealing the stuck
//! worker's queue as any other's). A spare
//! retires when the stuck worker is back and it finds no work, and waits a
//! while for reuse before its thread exits.
//!
//! # Thread-locals
//!
//! In the migrating mode a goroutine may resume on another worker, and LLVM
//! may keep a thread-local's address across the switch. So the goroutine
//! side reads the worker and the current task only through `current_task`
//! and `with_worker`, which are never inlined, and never across a switch
//! (in both modes).
//!
//! # Shutdown
//!
//! In the default mode each worker unwinds its own goroutines on its own
//! thread before it exits (`drain`): their stacks may hold references to
//! its thread-locals.

use std::cell::{Cell, RefCell};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::queue::{RunQueue, settle};
use crate::shared::{Counters, Shared};
use crate::slot::WorkerShared;
use crate::task::{Switch, Task, TaskRef};

/// Picks between injector checks (Go's `schedtick % 61`).
const INJECTOR_INTERVAL: u32 = 61;
/// How often at most an injector check (every `INJECTOR_INTERVAL` picks)
/// first takes the oldest fresh goroutine of the local queue (fresh ones run
/// newest first: see `queue.rs`).
const OLDEST_EVERY: Duration = Duration::from_millis(1);
/// Default mode: a goroutine stays where it first runs, so where
/// long-lived goroutines start decides the load for good. A busy worker
/// takes fresh goroutines from another that holds `BALANCE_MIN` more
/// started ones than it does, none of which finished since it last looked
/// (goroutines that live long: not a tree of short ones, as `skynet`'s),
/// and more in all, counting fresh ones, by `BALANCE_MIN`; it takes half the
/// difference, so that both then hold as many (`balance`). Found with
/// `echo`: of its 1,000 clients spawned in a loop, the spawner's worker
/// started 969, the other one, busy with the servers, 31.
const BALANCE_MIN: usize = 16;
/// How often at most a busy worker looks (each look reads another
/// worker's counters: `skynet` lost 9% looking every 61 picks).
const BALANCE_EVERY: Duration = Duration::from_micros(100);
/// How often in a row `next` may win while the local queue waits.
const NEXT_STREAK: u32 = 16;
/// How often a sleeping spare wakes to see whether it may retire.
const SPARE_RECHECK: Duration = Duration::from_millis(20);
/// Spawns between two looks at the local queue's length (`spawn_backlog`).
/// Fewer than the picks between two looks at the injector, where the
/// spawner waits after it yields: so a spawn loop over the backlog gets
/// fewer goroutines queued in a run than its worker runs meanwhile.
const BACKLOG_CHECK: u32 = 32;
/// Goroutines queued on a worker past which a goroutine that spawns there
/// yields to them.
const BACKLOG: usize = 1024;
/// How long an idle worker searches before it sleeps.
const SPIN: Duration = Duration::from_micros(20);
/// A spinning worker leaves alone another's short queue (`PATIENT_LEN`)
/// while that worker switches goroutines fast (`BUSY_SWITCHES` or more in a
/// `PATIENCE` window): its owner runs them itself within microseconds, and
/// goroutines that switch that often are passing messages, where one moved
/// to another core makes every exchange with those it left behind a cache
/// miss (Go's thieves wait, too, before they take a `runnext`). From a
/// worker that switches seldom, or is stuck in one goroutine, it steals
/// after the first window.
const PATIENCE: Duration = Duration::from_micros(10);
const PATIENT_LEN: usize = 4;
const BUSY_SWITCHES: u64 = 16;
/// Default mode: a goroutine stays where it first runs, so one taken at
/// once from another worker's spawn loop may be a partner of the goroutines
/// left behind, parted from them for good: `ring`, its 503 goroutines split
/// over two workers, paid cross-core wake-ups at every crossing (2.7x as
/// long). So a worker's fresh goroutines are left to it while it gets
/// through them: while, over each `FRESH_AGE`, it switches at least
/// `FRESH_PACE` times and fewer than `PATIENT_LEN` of its started ones
/// wait. A pile that lasts at a slower pace (CPU-bound goroutines) or
/// behind a backlog (a worker that falls behind) spreads after `FRESH_AGE`;
/// one that lasts `FRESH_MAX` (a tree of goroutines, which `skynet` runs in
/// 230 ms on one worker and 125 on two), then too; a stuck worker's, at
/// once.
const FRESH_AGE: Duration = Duration::from_millis(1);
const FRESH_MAX: Duration = Duration::from_millis(5);
/// Switches per `FRESH_AGE` (one per 10 µs) that count as getting through.
const FRESH_PACE: u64 = 100;
/// How long a worker that left busy workers' queues alone sleeps before it
/// looks again (their goroutines may come to need it: sysmon steps in only
/// after a goroutine runs for `HOG`), doubling up to `PATIENT_SLEEP_MAX`
/// while it finds nothing: each look is a spin whose reads of the busy
/// worker's queue and counters slow that worker down.
const PATIENT_SLEEP: Duration = Duration::from_micros(200);
const PATIENT_SLEEP_MAX: Duration = Duration::from_micros(6400);

/// What a worker saw of another's fresh goroutines (`FRESH_AGE`).
#[derive(Clone, Copy)]
struct FreshSeen {
    /// Since when it has seen some queued, every time it looked.
    first: Instant,
    /// The current `FRESH_AGE` window's start, and the switch count then.
    since: Instant,
    switches: u64,
}

/// The worker running on this thread.
pub(crate) struct WorkerCtx {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    local: RunQueue,
    /// A spare (started by sysmon to stand in for a stuck worker).
    spare: bool,
    tick: Cell<u32>,
    /// Default mode: a run ended in a yield, to this worker's inbox, since
    /// a pick last found the local queue empty; the next one that does
    /// looks at the injector before the inbox (Go's `Gosched` puts the
    /// goroutine behind the global queue).
    yielded: Cell<bool>,
    next_streak: Cell<u32>,
    /// Goroutine ids taken from the shared counter, not used yet: next, end.
    pub(crate) ids: Cell<(u64, u64)>,
    rng: Cell<u64>,
    /// While spinning: per worker, its switch count at the start of the
    /// current `PATIENCE` window, and whether it counts as busy.
    watch: RefCell<Vec<(u64, bool)>>,
    /// The last spin left some busy worker's queue alone.
    left_alone: Cell<bool>,
    /// Default mode: per worker, since when this one has seen fresh
    /// goroutines queued there, and that worker's switch count then (see
    /// `FRESH_AGE`).
    fresh_seen: RefCell<Vec<Option<FreshSeen>>>,
    /// The next patient sleep's length.
    patient_sleep: Cell<Duration>,
    /// Spawns by the running goroutine, in this run, since the last look at
    /// the queue.
    spawns: Cell<u32>,
    /// When the last pick of the local queue's oldest fresh goroutine was.
    oldest_at: Cell<Instant>,
    /// References to the runtime taken for goroutines not yet created, and
    /// owed back for goroutines dropped (see `RtRef`).
    pub(crate) rt_refs: (Cell<usize>, Cell<usize>),
    /// The channels' checkpoints passed in a row by the running goroutine:
    /// this worker's switch count at the last one, and how many
    /// (`at_checkpoint`).
    checkpoints: Cell<(u64, u32)>,
    /// The worker where the running goroutine's next spawn starts
    /// (`place_next_spawn`); cleared at every run.
    pub(crate) spawn_near: Cell<Option<usize>>,
    /// Per worker, its count of finished goroutines when `balance` last
    /// looked.
    finished_seen: RefCell<Vec<u64>>,
    /// When `balance` last looked.
    balanced_at: Cell<Instant>,
}

/// Checkpoints one goroutine passes without a switch before one of them
/// yields (about a thousand channel operations).
const CHECKPOINTS_BEFORE_YIELD: u32 = 4;

thread_local! {
    static WORKER: Cell<*const WorkerCtx> = const { Cell::new(ptr::null()) };
    static CURRENT: Cell<Option<NonNull<Task>>> = const { Cell::new(None) };
}

/// The goroutine running on this thread, if any.
///
/// Never inlined: see the module docs on thread-locals.
#[inline(never)]
pub(crate) fn current_task() -> Option<TaskRef> {
    let task = CURRENT.with(Cell::get)?;
    // SAFETY: `CURRENT` is set (by `CurrentGuard`) only while the setter holds
    // a `TaskRef` to that task, on this thread.
    Some(unsafe { TaskRef::clone_from_ptr(task) })
}

/// The goroutine running on this thread, if any, not counted: valid only
/// while that goroutine runs (or waits, for whoever it handed it to).
#[inline(never)]
pub(crate) fn current_task_ptr() -> Option<NonNull<Task>> {
    CURRENT.with(Cell::get)
}

/// Whether the calling code runs inside a goroutine.
#[inline(never)]
pub(crate) fn in_goroutine() -> bool {
    CURRENT.with(Cell::get).is_some()
}

/// Runs `f` with the worker of this thread, if it is a worker of `shared`'s
/// runtime.
pub(crate) fn with_worker<R>(shared: &Shared, f: impl FnOnce(&WorkerCtx) -> R) -> Option<R> {
    with_here(shared, |here| here.map(f))
}

/// Runs `f` with this thread's worker if it is one of `shared`'s, else with
/// `None`. Never inlined: see the module docs on thread-locals.
#[inline(never)]
pub(crate) fn with_here<R>(shared: &Shared, f: impl FnOnce(Option<&WorkerCtx>) -> R) -> R {
    let worker = WORKER.with(Cell::get);
    // SAFETY: `WORKER` points at the `WorkerCtx` on this thread's stack for as
    // long as `WorkerCtx::main` runs, and is null otherwise.
    let worker = unsafe { worker.as_ref() };
    f(worker.filter(|w| ptr::eq(Arc::as_ptr(&w.shared), shared)))
}

/// Queues a readied goroutine on this thread's worker, if it is one of
/// `shared`'s (see `WorkerCtx::push_ready`); gives it back otherwise. One
/// call for both thread-locals, on every wake-up.
#[inline(never)]
pub(crate) fn push_ready(shared: &Shared, task: TaskRef) -> Result<(), TaskRef> {
    let worker = WORKER.with(Cell::get);
    // SAFETY: as in `with_here`.
    match unsafe { worker.as_ref() } {
        Some(w) if ptr::eq(Arc::as_ptr(&w.shared), shared) => {
            if !shared.migrate
                && let Some(home) = task.home()
                && home != w.index
            {
                return Err(task);
            }
            w.push_ready(task, CURRENT.with(Cell::get).is_some());
            Ok(())
        }
        _ => Err(task),
    }
}

/// Runs `f` with the worker of this thread, of whatever runtime, if any.
#[inline(never)]
pub(crate) fn with_any_worker<R>(f: impl FnOnce(&WorkerCtx) -> R) -> Option<R> {
    let worker = WORKER.with(Cell::get);
    // SAFETY: as in `with_here`.
    let worker = unsafe { worker.as_ref() }?;
    Some(f(worker))
}

/// Sets `CURRENT` for the duration of a run of `task`, on this thread; the
/// caller keeps its `Arc` alive meanwhile.
pub(crate) struct CurrentGuard {
    previous: Option<NonNull<Task>>,
}

impl CurrentGuard {
    pub(crate) fn enter(task: &TaskRef) -> CurrentGuard {
        let ptr = task.as_non_null();
        let previous = CURRENT.with(|c| c.replace(Some(ptr)));
        CurrentGuard { previous }
    }
}

/// Unwinds `task` on this thread, which is no worker of its runtime (the
/// thread that drops the runtime), or goes on unwinding it. A fresh
/// goroutine's function is dropped unrun, as the calling thread's code: it
/// has no stack to park on (a destructor that parked as that goroutine
/// would switch through a null yielder). A started one unwinds as the
/// current goroutine (its destructors run on its own stack, as its own
/// code), and if a destructor waits (parks or yields), it is left as
/// `WorkerCtx::run_task` leaves a goroutine: parked and registered in
/// `shard`, or queued on the injector. Returns whether it finished.
///
/// # Safety
/// The caller holds the goroutine's run reference and no worker runs it.
pub(crate) unsafe fn unwind_task(shared: &Shared, task: TaskRef, shard: usize) -> bool {
    if task.is_fresh() {
        // SAFETY: per the contract.
        unsafe { task.unwind() };
        return true;
    }
    loop {
        let switch = {
            let _current = CurrentGuard::enter(&task);
            // SAFETY: per the contract, this thread owns its run.
            unsafe { task.resume(true) }
        };
        match switch {
            None => return true,
            Some(Switch::Yield) => {
                shared.injector.push(task);
                return false;
            }
            Some(Switch::Park) => {
                shared.registry.register(shard, &task);
                if task.finish_park() {
                    continue;
                }
                // Its run reference is its park's (see `task.rs`).
                std::mem::forget(task);
                return false;
            }
            Some(Switch::ParkTraced) => {
                // As `Park`, then the trace to its dumpers (see `run_task`).
                shared.registry.register(shard, &task);
                let keep = task.clone();
                if task.finish_park() {
                    drop(keep);
                    crate::traceback::delivered(&task, shared);
                    continue;
                }
                std::mem::forget(task);
                crate::traceback::delivered(&keep, shared);
                return false;
            }
        }
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

impl WorkerCtx {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        local: RunQueue,
        spare: bool,
    ) -> WorkerCtx {
        WorkerCtx {
            index,
            shared,
            local,
            spare,
            tick: Cell::new(0),
            yielded: Cell::new(false),
            next_streak: Cell::new(0),
            ids: Cell::new((0, 0)),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ),
            rt_refs: (Cell::new(0), Cell::new(0)),
            watch: RefCell::new(Vec::new()),
            left_alone: Cell::new(false),
            fresh_seen: RefCell::new(Vec::new()),
            patient_sleep: Cell::new(PATIENT_SLEEP),
            spawns: Cell::new(0),
            oldest_at: Cell::new(Instant::now()),
            checkpoints: Cell::new((u64::MAX, 0)),
            spawn_near: Cell::new(None),
            finished_seen: RefCell::new(Vec::new()),
            balanced_at: Cell::new(Instant::now()),
        }
    }

    /// A channel's checkpoint (`goro-chan`): whether the running goroutine
    /// should yield now. It should once it has passed
    /// `CHECKPOINTS_BEFORE_YIELD` of them without a switch and goroutines
    /// wait that this worker may run (in its queue, its inboxes or the
    /// injector): a goroutine that never has to wait lets them run every
    /// thousand operations or so, and one that switches now and then, or
    /// passes a checkpoint or two in a burst, never yields at one.
    pub(crate) fn at_checkpoint(&self) -> bool {
        let switches = self.shared.stats[self.index]
            .switches
            .load(Ordering::Relaxed);
        let (seen, passed) = self.checkpoints.get();
        let passed = if seen == switches { passed + 1 } else { 1 };
        if passed >= CHECKPOINTS_BEFORE_YIELD
            && (self.has_own_work() || !self.shared.injector.is_empty())
        {
            self.checkpoints.set((switches, 0));
            return true;
        }
        self.checkpoints.set((switches, passed));
        false
    }

    /// The worker thread's whole life; a spare's returns when it retires
    /// (its queue emptied into the injector), giving back its queue.
    pub(crate) fn main(self) -> RunQueue {
        WORKER.with(|w| w.set(&self));
        goro_fiber::prepare_thread();
        self.note_cpu();
        while !self.shared.is_shutdown() {
            if self.is_retired() {
                // A retired spare runs its own goroutines until none is left.
                if self.pinned() == 0 {
                    break;
                }
                if self.timer_due() {
                    let timers = &self.shared.timers;
                    timers.fire(self.index, timers.now(), true);
                }
                match self.find_own_task() {
                    Some(task) => {
                        self.run_task(task, false);
                    }
                    None => self.shared.sleep_alone(&|| self.has_own_work()),
                }
                continue;
            }
            if let Some(task) = self.find_task().or_else(|| self.spin()) {
                self.patient_sleep.set(PATIENT_SLEEP);
                self.run_task(task, false);
                continue;
            }
            if self.spare && self.shared.try_retire() {
                if self.pinned() == 0 {
                    break;
                }
                // Goroutines that started here must finish here: run them,
                // and only them (fresh ones go to the others).
                self.give_away_fresh();
                self.slot().retired.store(true, Ordering::Release);
                continue;
            }
            // A spare wakes now and then to see whether it may retire; a
            // worker that was patient, to see whether that still holds.
            let patient = self.left_alone.get();
            let limit = match (self.spare, patient) {
                (true, _) => Some(SPARE_RECHECK),
                (false, true) => {
                    let sleep = self.patient_sleep.get();
                    self.patient_sleep.set((sleep * 2).min(PATIENT_SLEEP_MAX));
                    Some(sleep)
                }
                (false, false) => None,
            };
            self.shared
                .sleep(self.index, &|| self.has_work_anywhere(patient), limit);
            self.note_cpu();
        }
        self.slot().retired.store(false, Ordering::Release);
        if self.shared.is_shutdown() && !self.shared.migrate {
            self.drain();
        }
        // Whatever is still queued here goes to the injector (for the drain,
        // or for the others when a spare retires); in the default mode only
        // fresh goroutines are left (`drain` unwound the others, or shutdown
        // gave up on them: they are leaked, never run or unwound elsewhere).
        let mut moved = false;
        while let Some(task) = self.pop_local().or_else(|| self.steal_inbox()) {
            if self.shared.migrate || task.is_fresh() {
                self.shared.injector.push(task);
                moved = true;
            } else {
                std::mem::forget(task);
            }
        }
        if moved {
            self.shared.notify_work();
        }
        // A spare that retires may leave timers in its heap: a goroutine
        // that ran here last parked with a deadline (in the migrating mode
        // it runs on elsewhere once woken). It counted on this worker to
        // look at them (`Shared::add_timer` wakes no sleeper for a parking
        // goroutine); the sleeping workers chose their timeouts without
        // them, so one must look again, or the goroutine sleeps for good.
        // (Found by goro-net's UDP test: a goroutine joined hogs that sysmon
        // had moved to a spare, then waited with a timeout, which never
        // came.)
        if self.spare && self.shared.timers.earliest() != crate::timers::NEVER {
            self.shared.notify_sleeper();
        }
        WORKER.with(|w| w.set(ptr::null()));
        self.return_rt_refs();
        self.local
    }

    /// Goroutines that started here and have not finished (the default
    /// mode: they run here only, so this thread must outlive them). Only
    /// this thread writes the counters, so its own reading is exact.
    fn pinned(&self) -> u64 {
        let pinned = &self.slot().pinned;
        let started = pinned.started.load(Ordering::Relaxed);
        started - pinned.finished.load(Ordering::Relaxed)
    }

    /// Notes the CPU this thread runs on, for `place_next_spawn`: at start,
    /// every `INJECTOR_INTERVAL` picks, and when it comes back from idling
    /// (a thread the kernel moves while it runs is seen within 61 picks).
    fn note_cpu(&self) {
        // SAFETY: no arguments (glibc reads the thread's rseq area).
        let cpu = unsafe { libc::sched_getcpu() };
        if let Ok(cpu) = u32::try_from(cpu) {
            let slot = &self.slot().cpu;
            if slot.load(Ordering::Relaxed) != cpu {
                slot.store(cpu, Ordering::Relaxed);
            }
        }
    }

    /// The CPU this worker noted last.
    pub(crate) fn noted_cpu(&self) -> Option<u32> {
        Some(self.slot().cpu.load(Ordering::Relaxed)).filter(|&cpu| cpu != u32::MAX)
    }

    /// Default mode: the running goroutine's next spawn in this run
    /// starts on the worker (not a spare) that last noted `cpu`, unless
    /// that is this one, or it is stuck (see `Shared::start_on`).
    pub(crate) fn place_next_spawn(&self, cpu: u32) {
        let near = if self.shared.migrate || self.slot().cpu.load(Ordering::Relaxed) == cpu {
            None
        } else {
            self.shared.workers[..self.shared.procs]
                .iter()
                .position(|w| w.cpu.load(Ordering::Relaxed) == cpu && !w.is_stuck())
        };
        self.spawn_near.set(near);
    }

    fn slot(&self) -> &WorkerShared {
        &self.shared.workers[self.index]
    }

    /// A spare that retired with goroutines of its own left to run.
    fn is_retired(&self) -> bool {
        self.slot().retired.load(Ordering::Relaxed)
    }

    /// A goroutine of this worker's own to run (a retired spare's): fresh
    /// ones found on the way go to the injector, for the others.
    fn find_own_task(&self) -> Option<TaskRef> {
        loop {
            let task = self.pop_local().or_else(|| self.steal_inbox())?;
            if !task.is_fresh() {
                return Some(task);
            }
            self.shared.inject(task);
        }
    }

    /// Whether goroutines of this worker's own wait: in its queue, in
    /// `next` or in its inboxes (a retired spare's work; a checkpoint's).
    fn has_own_work(&self) -> bool {
        self.has_local_work() || !self.slot().inboxes_empty()
    }

    /// Moves the fresh goroutines queued here to the injector (a spare that
    /// retires keeps only those that started here).
    fn give_away_fresh(&self) {
        let mut kept = Vec::new();
        while let Some(task) = self.pop_local() {
            if task.is_fresh() {
                self.shared.inject(task);
            } else {
                kept.push(task);
            }
        }
        for task in kept {
            self.push_local(task);
        }
    }

    /// Shutdown, in the default mode: unwinds, on this thread, the
    /// goroutines that started here (and the fresh ones it finds), again
    /// and again as their destructors wake more, until none of the
    /// runtime's goroutines is left or shutdown gives up. A goroutine whose
    /// stack others still borrow (`Task::is_lent`: its scope's goroutines,
    /// a `blocking` call) waits until they are done: its scoped goroutines
    /// are unwound first, wherever they run.
    fn drain(&self) {
        let shared = &*self.shared;
        while !shared.abandoned.load(Ordering::Acquire) {
            let mut unwound = 0;
            let mut lent = Vec::new();
            let mut fresh = Vec::new();
            while let Some(task) = self
                .pop_local()
                .or_else(|| self.steal_inbox())
                .or_else(|| settle(|| shared.injector.steal()))
            {
                if task.is_lent() {
                    lent.push(task);
                } else if task.is_fresh() {
                    fresh.push(task);
                } else if self.run_task(task, true) {
                    unwound += 1;
                }
            }
            // Parked ones, including those whose destructors wait while
            // they unwind: a run that finds their wait not over (park may
            // return spuriously) parks them again, without a count, so that
            // the wait below lets them be.
            for task in shared.registry.shard(self.index) {
                if !task.is_lent()
                    && let Some(run) = task.take_parked()
                    && self.run_task(run, true)
                {
                    unwound += 1;
                }
            }
            // Unrun functions last: their destructors run as this thread's
            // code, and one that joins a goroutine of this worker (a guard
            // that joins on drop) would block it for good if that goroutine
            // were not unwound already.
            for task in fresh {
                self.unwind(task);
                unwound += 1;
            }
            for task in lent {
                self.slot().inbox.push(task);
            }
            // Done once nothing that started here is left (and no fresh
            // goroutine waits): the others' goroutines are theirs to unwind.
            if self.pinned() == 0 && shared.injector.is_empty() {
                break;
            }
            if unwound == 0 {
                // Waiting for other workers' goroutines (a scope's, or a
                // runaway one's): look again in a while.
                std::thread::park_timeout(Duration::from_millis(1));
            }
        }
    }

    /// Drops a fresh goroutine, whose run reference we hold, unrun.
    fn unwind(&self, task: TaskRef) {
        debug_assert!(task.is_fresh());
        // SAFETY: we hold its run reference (taken from a queue), and no
        // worker runs it.
        unsafe { task.unwind() };
        self.finished(&task);
    }

    /// A goroutine ended (returned, or was unwound) here: forget it, and
    /// count it out of this worker's own if it started here.
    fn finished(&self, task: &Task) {
        self.shared.finished(task);
        if !self.shared.migrate && task.home() == Some(self.index) {
            Counters::bump(&self.slot().pinned.finished);
        }
    }

    /// Queues a goroutine readied (or spawned) on this worker: into `next`
    /// when `from_goroutine` (it runs next, Go's `runnext`), else (the
    /// worker's own loop: timers) into the local queue, so that a batch runs
    /// in the order it was readied.
    pub(crate) fn push_ready(&self, task: TaskRef, from_goroutine: bool) {
        if from_goroutine {
            self.push_next(task);
        } else {
            self.push_local(task);
        }
    }

    /// Makes `task` runnable from this worker: into `next`, pushing the
    /// previous occupant to the local queue, where others may steal it.
    fn push_next(&self, task: TaskRef) {
        // SAFETY: our own slot, on our thread.
        if let Some(previous) = unsafe { self.slot().put_next(task) } {
            self.push_local(previous);
        }
    }

    /// Queues a goroutine that yields on the injector, as Go's `Gosched`
    /// does: this worker looks there every `INJECTOR_INTERVAL` picks and
    /// whenever its own queue is empty. Not back into its own queue, where,
    /// started, it would come before the fresh goroutines it yields to (a
    /// spawn loop over its backlog), nor into `next`. No notify (nor in Go):
    /// this worker, awake, takes it back unless another does first. In the
    /// default mode, to this worker's inbox, the next pick that finds its
    /// queue empty looking at the injector first (`yielded`).
    fn push_yielded(&self, task: TaskRef) {
        if self.shared.migrate {
            self.shared.injector.push(task);
        } else {
            self.slot().inbox.push(task);
            self.yielded.set(true);
        }
    }

    /// Queues `task` in this worker's queue (see `queue.rs`: a fresh one
    /// runs before those queued earlier, a started one after them), where
    /// others may steal it.
    ///
    /// Only a push onto an empty queue notifies (a `SeqCst` fence, which
    /// waits for every pending store: a sixth of a spawn). That is enough: a
    /// worker goes to sleep only after seeing every queue empty, so the
    /// first push after that finds this queue empty and wakes it; later pushes
    /// find work that a worker is already awake for, or will see when it
    /// next looks.
    fn push_local(&self, task: TaskRef) {
        // In the default mode only fresh goroutines may be stolen: a started
        // one queued here is nothing for the others to wake up for.
        let was_empty = self.local.nothing_to_steal(self.shared.migrate)
            && (self.shared.migrate || task.is_fresh());
        // SAFETY: the scheduler queues run references only (a second
        // reference queued would let two workers resume one goroutine), and
        // each caller passes one in its hands: a new goroutine's, a
        // wake-up's (`notify`), the one displaced from `next`, or the one
        // `run_task` holds.
        unsafe { self.local.push(task) };
        if was_empty {
            self.shared.notify_work();
        }
    }

    /// Whether the goroutine that just spawned here should yield: it has
    /// spawned `BACKLOG_CHECK` goroutines in this run, and more than
    /// `BACKLOG` are queued here. Then the worker
    /// runs them too, instead of leaving them all to thieves while queued
    /// tasks pile up: a spawn loop that outran the other workers had
    /// hundreds of thousands queued, whose fresh memory cost it a page
    /// fault (and a page to clear) every sixteen spawns, and whose tasks
    /// and stacks went cold. Go's spawner is preempted instead, after 10 ms.
    /// Only a spawn loop yields: a goroutine that spawns a few (`skynet`'s
    /// ten) and waits for them, sent to the injector, would hold
    /// its children's results (and stacks) longer: +25% and 20% more page
    /// faults when any spawner could yield. And the queue is looked at only
    /// then (its length reads a line that thieves write).
    pub(crate) fn spawn_backlog(&self) -> bool {
        let n = self.spawns.get() + 1;
        if n < BACKLOG_CHECK {
            self.spawns.set(n);
            return false;
        }
        self.spawns.set(0);
        in_goroutine() && self.local.len() > BACKLOG
    }

    /// Whether this worker has goroutines waiting to run.
    pub(crate) fn has_local_work(&self) -> bool {
        !self.local.is_empty() || self.slot().has_next()
    }

    fn pop_local(&self) -> Option<TaskRef> {
        // SAFETY: our own slot, between runs.
        unsafe { self.slot().take_next() }.or_else(|| self.local.pop())
    }

    /// Steps 1–3 of the module docs.
    fn find_task(&self) -> Option<TaskRef> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(INJECTOR_INTERVAL) {
            self.note_cpu();
            let now = Instant::now();
            if now - self.oldest_at.get() >= OLDEST_EVERY {
                self.oldest_at.set(now);
                if let Some(task) = settle(|| self.slot().stealer.steal_oldest_fresh()) {
                    return Some(task);
                }
            }
            // Due timers and ready sockets (what they ready joins the local
            // queue), then the injector.
            crate::poll::poll_busy(now);
            // Every heap's, not only ours: a worker stuck in one goroutine
            // (a hog, or `blocking` run in place in the migrating mode)
            // fires none, and a spare kept busy by what it handed over
            // never goes idle to `search`. (A sleeper parked there before
            // the worker got stuck slept for good: cb_select's `loop_try`,
            // migrating mode, once in CI.) A heap with nothing due costs a
            // load.
            let ticks = self.shared.timers.now_from(now);
            self.shared.timers.fire_all(self.index, ticks);
            // Before the inbox, which a yield loop's goroutine never
            // leaves empty.
            if !self.shared.migrate
                && now - self.balanced_at.get() >= BALANCE_EVERY
                && let Some(task) = self.balance(now)
            {
                return Some(task);
            }
            if let Some(task) = self.steal_injector().or_else(|| self.steal_inbox()) {
                return Some(task);
            }
        }
        if (self.next_streak.get() < NEXT_STREAK || self.local.is_empty())
            // SAFETY: our own slot, between runs.
            && let Some(task) = unsafe { self.slot().take_next() }
        {
            self.next_streak.set(self.next_streak.get() + 1);
            return Some(task);
        }
        self.next_streak.set(0);
        if let Some(task) = self.local.pop() {
            return Some(task);
        }
        // SAFETY: our own slot, between runs.
        if let Some(task) = unsafe { self.slot().take_next() } {
            return Some(task);
        }
        if self.yielded.get() {
            self.yielded.set(false);
            return self.steal_injector().or_else(|| self.steal_inbox());
        }
        self.steal_inbox().or_else(|| self.steal_injector())
    }

    /// Default mode: takes fresh goroutines from a random other worker
    /// that holds too many (`BALANCE_MIN`), though this one is busy too.
    fn balance(&self, now: Instant) -> Option<TaskRef> {
        self.balanced_at.set(now);
        let n = self.shared.slots_in_use();
        if n < 2 {
            return None;
        }
        let mut index = self.random(n - 1);
        if index >= self.index {
            index += 1;
        }
        let victim = self.shared.workers.get(index)?;
        if victim.stealer.nothing_to_steal(false) {
            return None;
        }
        let excess = self.excess(index);
        if excess == 0 {
            return None;
        }
        let task = settle(|| victim.stealer.steal_fresh(&self.local, excess / 2))?;
        Counters::bump(&self.shared.stats[self.index].steals);
        Some(task)
    }

    /// Default mode: by how many goroutines, started and fresh, worker
    /// `index` holds more than this one, if it holds too many
    /// (`BALANCE_MIN`); else 0.
    fn excess(&self, index: usize) -> usize {
        let victim = &self.shared.workers[index];
        let finished = victim.pinned.finished.load(Ordering::Relaxed);
        let mut seen = self.finished_seen.borrow_mut();
        if seen.len() <= index {
            seen.resize(index + 1, u64::MAX);
        }
        if std::mem::replace(&mut seen[index], finished) != finished {
            return 0;
        }
        // Two counters that move meanwhile: a difference that wrapped
        // (more seen finished than started) counts as none.
        let theirs = victim
            .pinned
            .started
            .load(Ordering::Relaxed)
            .wrapping_sub(finished);
        let ours = self.pinned();
        if theirs > u64::MAX / 2 || theirs <= ours + BALANCE_MIN as u64 {
            return 0;
        }
        // Both below `u64::MAX / 2`, and counts of live goroutines.
        let theirs = theirs as usize + victim.stealer.stealable_len(false);
        let ours = ours as usize + self.local.fresh_len();
        match theirs.saturating_sub(ours) {
            excess if excess > BALANCE_MIN => excess,
            _ => 0,
        }
    }

    fn steal_injector(&self) -> Option<TaskRef> {
        settle(|| {
            self.local
                .take_from(&self.shared.injector, !self.shared.migrate)
        })
    }

    /// Takes from this worker's inbox (see the module docs), else from its
    /// fresh inbox (`Shared::send_fresh`).
    fn steal_inbox(&self) -> Option<TaskRef> {
        let slot = self.slot();
        if !slot.inbox.is_empty()
            && let Some(task) = settle(|| self.local.take_from(&slot.inbox, false))
        {
            return Some(task);
        }
        if slot.fresh_inbox.is_empty() {
            return None;
        }
        settle(|| self.local.take_from(&slot.fresh_inbox, true))
    }

    /// One round of looking everywhere: injector, timers, other workers.
    /// A `patient` round leaves alone busy workers' short queues: see
    /// `PATIENCE`.
    fn search(&self, patient: bool) -> Option<TaskRef> {
        if let Some(task) = self.steal_inbox().or_else(|| self.steal_injector()) {
            return Some(task);
        }
        if self.timer_due()
            && self
                .shared
                .timers
                .fire_all(self.index, self.shared.timers.now())
                > 0
            && let Some(task) = self.pop_local().or_else(|| self.steal_injector())
        {
            return Some(task);
        }
        let n = self.shared.slots_in_use();
        let start = self.random(n);
        let watch = self.watch.borrow();
        let mut now = None;
        for i in 0..n {
            let index = (start + i) % n;
            if index == self.index {
                continue;
            }
            let victim = &self.shared.workers[index];
            // An empty queue is not "left alone" (that would make this
            // worker's next sleep a patient one, with a timeout: idle
            // runtimes of many workers woke for good, issue 20), nor worth
            // a steal, which pins crossbeam's epoch.
            if victim.stealer.nothing_to_steal(self.shared.migrate) {
                // Its next pile is a new one (see `fresh_aged`).
                if let Some(seen) = self.fresh_seen.borrow_mut().get_mut(index) {
                    *seen = None;
                }
                continue;
            }
            if patient && self.leave_alone(index, &watch) || !self.fresh_aged(index, &mut now) {
                self.left_alone.set(true);
                continue;
            }
            let stuck = victim.is_stuck();
            let migrate = self.shared.migrate;
            if let Some(task) = settle(|| {
                victim
                    .stealer
                    .steal_batch_and_pop(&self.local, stuck, migrate)
            }) {
                Counters::bump(&self.shared.stats[self.index].steals);
                return Some(task);
            }
        }
        None
    }

    /// Default mode: whether worker `index`'s fresh goroutines (if any) may
    /// be taken (see `FRESH_AGE`); always in the migrating mode. `now` is
    /// read once per search, when needed.
    fn fresh_aged(&self, index: usize, now: &mut Option<Instant>) -> bool {
        if self.shared.migrate {
            return true;
        }
        let mut seen = self.fresh_seen.borrow_mut();
        if seen.len() <= index {
            seen.resize(index + 1, None);
        }
        // (An empty queue never comes here: `search` skips it, and forgets
        // what it saw of it.)
        let victim = &self.shared.workers[index];
        if victim.is_stuck() {
            return true;
        }
        let now = *now.get_or_insert_with(Instant::now);
        let switches = || self.shared.stats[index].switches.load(Ordering::Relaxed);
        let Some(seen) = &mut seen[index] else {
            seen[index] = Some(FreshSeen {
                first: now,
                since: now,
                switches: switches(),
            });
            return false;
        };
        // Cheap tests first: this runs in every round of a spin.
        if now - seen.first >= FRESH_MAX {
            return true;
        }
        if now - seen.since < FRESH_AGE {
            return false;
        }
        let switches = switches();
        if switches.wrapping_sub(seen.switches) >= FRESH_PACE
            && self.shared.pinned_waiting(index) < PATIENT_LEN
        {
            // Getting through them: look again after another while.
            (seen.since, seen.switches) = (now, switches);
            return false;
        }
        true
    }

    /// Whether a patient search leaves worker `index`'s queue alone.
    fn leave_alone(&self, index: usize, watch: &[(u64, bool)]) -> bool {
        let victim = &self.shared.workers[index];
        watch.get(index).is_none_or(|&(_, busy)| busy)
            && victim.stealer.stealable_len(self.shared.migrate) < PATIENT_LEN
            && !victim.is_stuck()
    }

    /// Searches for a while before sleeping, if not too many others already do.
    fn spin(&self) -> Option<TaskRef> {
        self.left_alone.set(false);
        self.note_cpu();
        // Sockets ready (Go's findrunnable polls before it steals): what it
        // readies for this worker joins the local queue.
        if crate::poll::has_waiters() {
            crate::poll::poll_busy(Instant::now());
            if let Some(task) = self.pop_local() {
                return Some(task);
            }
        }
        // A bubble's one worker has nobody to wait for by spinning: it goes
        // to move the clock (`Shared::sleep`, `bubble.rs`).
        if self.shared.bubble.is_some() || !self.shared.idle.try_start_spinning() {
            return self.search(false);
        }
        let start = Instant::now();
        let mut window = start;
        self.watch_others(true);
        let mut rounds = 0u32;
        let mut watched = false;
        let found = loop {
            if let Some(task) = self.search(true) {
                break Some(task);
            }
            // Sockets ready since (their events would otherwise wait for
            // a busy worker's next look, 61 picks and `BUSY_POLL_EVERY`
            // apart, while this one spins idle: `echo`).
            if crate::poll::has_waiters() {
                crate::poll::poll_spinning();
                if let Some(task) = self.pop_local() {
                    break Some(task);
                }
            }
            rounds += 1;
            if self.shared.is_shutdown() {
                break None;
            }
            if rounds.is_multiple_of(8) {
                let now = Instant::now();
                // A spin ends only after one search with the switch counts
                // of a whole window: the first counts every worker busy, and
                // a slow search (a debug build, many slots) might otherwise
                // never get past it, leaving stuck workers' short queues
                // alone for good.
                if now - start > SPIN && watched {
                    break None;
                }
                // Checked apart from the end: when eight searches take a
                // window or more (many slots, busy cores), a new window at
                // every check kept the end from ever being looked at, and
                // idle workers spun for good (issue 20).
                if now - window >= PATIENCE {
                    window = now;
                    self.watch_others(false);
                    watched = true;
                }
            }
            std::hint::spin_loop();
        };
        if self.shared.idle.stop_spinning() && found.is_some() {
            // The last spinner found work: there may be more, so make sure
            // somebody keeps looking (Go's `resetspinning`).
            self.shared.notify_work();
        }
        found
    }

    /// Starts a `PATIENCE` window: notes every worker's switch count, and
    /// (unless `first`: then all count as busy) whether it switched
    /// `BUSY_SWITCHES` times since the last window began.
    fn watch_others(&self, first: bool) {
        let n = self.shared.slots_in_use();
        let mut watch = self.watch.borrow_mut();
        watch.resize(n, (0, true));
        for (i, (seen, busy)) in watch.iter_mut().enumerate() {
            let now = self.shared.stats[i].switches.load(Ordering::Relaxed);
            *busy = first || now.wrapping_sub(*seen) >= BUSY_SWITCHES;
            *seen = now;
        }
    }

    /// Whether any queue or due timer has work (the last look before
    /// sleep), but, if `patient`, the queues a patient search leaves alone.
    fn has_work_anywhere(&self, patient: bool) -> bool {
        let watch = self.watch.borrow();
        let mut now = None;
        let stealable = (0..self.shared.slots_in_use()).any(|i| {
            i != self.index
                && !self.shared.workers[i]
                    .stealer
                    .nothing_to_steal(self.shared.migrate)
                && !(patient && self.leave_alone(i, &watch))
                && self.fresh_aged(i, &mut now)
        });
        !self.shared.injector.is_empty()
            || !self.slot().inboxes_empty()
            || self.has_local_work()
            || stealable
            || self.timer_due()
    }

    /// Whether some timer is due; reads the clock only if any is pending
    /// (spinning workers ask this often).
    fn timer_due(&self) -> bool {
        let earliest = self.shared.timers.earliest();
        earliest != crate::timers::NEVER && earliest <= self.shared.timers.now()
    }

    fn random(&self, n: usize) -> usize {
        // xorshift64*
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }

    /// Runs `task` until it yields, parks or finishes, and acts on which;
    /// with `unwind` (shutdown), unwinds it instead (see `Task::resume`).
    /// Returns whether it finished.
    #[inline(always)]
    fn run_task(&self, task: TaskRef, unwind: bool) -> bool {
        if task.settle_home(self.index) && !self.shared.migrate {
            Counters::bump(&self.slot().pinned.started);
        }
        loop {
            let switch = {
                let _current = CurrentGuard::enter(&task);
                self.slot().set_running(&task);
                // `spawn_backlog` counts one run's spawns.
                self.spawns.set(0);
                self.spawn_near.set(None);
                self.shared.wake_idle_sysmon();
                // SAFETY: we took `task` from a queue (or it just parked back
                // to us), so this thread owns its run.
                let switch = unsafe { task.resume(unwind) };
                if self.slot().end_run() {
                    // Back from a run that sysmon handed off: count again.
                    self.shared.unstuck();
                }
                switch
            };
            Counters::bump(&self.shared.stats[self.index].switches);
            match switch {
                Some(Switch::Yield) => {
                    self.push_yielded(task);
                    return false;
                }
                Some(Switch::ParkTraced) => {
                    // A trace's re-park (`traceback.rs`): as a park (below),
                    // then its dumpers get the trace, so that they find it
                    // parked again. Parked, it may be woken and freed at
                    // once: a reference of our own keeps it for the
                    // delivery.
                    self.shared.registry.register(self.index, &task);
                    let keep = task.clone();
                    if task.finish_park() {
                        drop(keep);
                        crate::traceback::delivered(&task, &self.shared);
                        if self.local.is_empty() {
                            continue;
                        }
                        self.push_local(task);
                    } else {
                        std::mem::forget(task);
                        crate::traceback::delivered(&keep, &self.shared);
                    }
                    return false;
                }
                Some(Switch::Park) => {
                    Counters::bump(&self.shared.stats[self.index].parks);
                    // Parked goroutines are in no queue: register it, so that
                    // shutdown can find it (once; before anyone can wake it).
                    self.shared.registry.register(self.index, &task);
                    if task.finish_park() {
                        // Woken before it was off its stack: run it again at
                        // once if nothing else is queued here, else behind the
                        // started goroutines queued here.
                        if self.local.is_empty() {
                            continue;
                        }
                        self.push_local(task);
                    } else {
                        // Parked: its run reference is the park's now, for
                        // the wake-up to take over (see `task.rs`).
                        std::mem::forget(task);
                    }
                    return false;
                }
                None => {
                    self.finished(&task);
                    return true;
                }
            }
        }
    }
}
