//! Spare threads: sysmon's hand-off of a stuck worker's queue to a spare
//! (the migrating mode), and spares that retire or run only their own
//! goroutines (the default mode).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self};
use std::time::{Duration, Instant};

use crate::queue::RunQueue;
use crate::shared::Shared;
use crate::threads::GoroThread;
use crate::timers::NEVER;
use crate::worker::WorkerCtx;

/// Spare threads a runtime may start by default.
pub(crate) const DEFAULT_MAX_SPARES: usize = 64;

impl Shared {
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
            || !self.workers[stuck].fresh_inbox.is_empty()
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
        // Two reads of a queue that moves meanwhile: the second may count
        // more than the first (seen as an overflow in a debug build).
        let started = w
            .stealer
            .len()
            .saturating_sub(w.stealer.stealable_len(false));
        started + w.inbox.len() + usize::from(w.has_next())
    }

    /// Sysmon found worker `index` stuck in one goroutine: let the others
    /// have its `next`, and make sure `procs` others run.
    pub(crate) fn hand_off(self: &Arc<Shared>, index: usize) {
        let slot = &self.workers[index];
        // A bubble keeps its one worker: its clock moves when that worker
        // finds every goroutine blocked, which a second thread running
        // goroutines or firing timers would make a guess (`bubble.rs`).
        if slot.is_stuck() || self.bubble.is_some() {
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
        self.rescue_fresh(index);
        self.replace_stuck(slot.is_blocking());
    }

    /// As `hand_off`, from the stuck worker's own thread (`goro::blocking`).
    pub(crate) fn hand_off_here(self: &Arc<Shared>, worker: &WorkerCtx) {
        if self.bubble.is_some() {
            return; // see `hand_off`
        }
        // SAFETY: `worker` is this thread's.
        let (marked, next) = unsafe { self.workers[worker.index].mark_stuck_here() };
        if !marked {
            return;
        }
        if let Some(task) = next {
            self.send_away(task);
        }
        self.rescue_fresh(worker.index);
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
    pub(crate) fn replace_stuck(self: &Arc<Shared>, blocking: bool) {
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
    pub(crate) fn start_spare(self: &Arc<Shared>) {
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
    pub(crate) fn spare_main(self: Arc<Shared>, index: usize, mut queue: RunQueue) {
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
    pub(crate) fn park_spare(&self, index: usize) -> bool {
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
