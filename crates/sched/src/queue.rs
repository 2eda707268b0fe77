//! A worker's local run queue: two crossbeam deques, one per kind of
//! goroutine.
//!
//! - *Fresh* goroutines, spawned and not run yet, newest first (LIFO): a
//!   goroutine that spawns children and waits for them has them run depth
//!   first, as in Cilk and Rayon, so a tree of goroutines keeps a path of
//!   them alive per worker (and their stacks warm), not a level. `skynet`
//!   (1M leaves) keeps ~25k stacks alive breadth first, each a fresh page
//!   to fault in and clear, and took 2.5–3.5x as long.
//! - *Started* goroutines (woken, run again), oldest first (FIFO), as Go's
//!   local queue: a goroutine woken behind others runs after them, however
//!   many newer ones come.
//!
//! The owner takes started ones first, but never more than `STARTED_STREAK`
//! in a row while fresh ones wait. Thieves take the oldest half of either
//! (at most crossbeam's batch): fresh first (whole subtrees, no cache state
//! to lose), but started first from a worker stuck in one goroutine, whose
//! woken goroutines would otherwise wait for its whole fresh pile to be
//! stolen. In the default mode a started goroutine keeps its thread, so
//! thieves take fresh ones only. A fresh goroutine below a pile of newer
//! ones that keeps growing waits for the pile, or for a thief, or for the
//! worker's pick of the oldest (`steal_oldest_fresh`).

use std::cell::Cell;

use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};

use crate::task::TaskRef;

/// How many started goroutines the owner takes in a row while fresh ones
/// wait.
const STARTED_STREAK: u32 = 16;

/// The owner's end of a worker's run queue.
pub(crate) struct RunQueue {
    fresh: Deque<TaskRef>,
    started: Deque<TaskRef>,
    streak: Cell<u32>,
}

/// The other workers' end of a worker's run queue.
pub(crate) struct RunQueueStealer {
    fresh: Stealer<TaskRef>,
    started: Stealer<TaskRef>,
}

impl RunQueue {
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            fresh: Deque::new_lifo(),
            started: Deque::new_fifo(),
            streak: Cell::new(0),
        }
    }

    pub(crate) fn stealer(&self) -> RunQueueStealer {
        RunQueueStealer {
            fresh: self.fresh.stealer(),
            started: self.started.stealer(),
        }
    }

    /// Queues `task`, a fresh one on top, a started one at the back.
    ///
    /// # Safety
    /// `task` is the goroutine's run reference (see `task.rs`), in the
    /// caller's hands: a second reference queued would let two workers
    /// resume one goroutine. In the default mode a started one is queued
    /// only on its home worker's queue.
    pub(crate) unsafe fn push(&self, task: TaskRef) {
        if task.is_fresh() {
            self.fresh.push(task);
        } else {
            self.started.push(task);
        }
    }

    /// Takes the next goroutine to run (see the module docs).
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        if self.streak.get() < STARTED_STREAK
            && let Some(task) = self.started.pop()
        {
            self.streak.set(self.streak.get() + 1);
            return Some(task);
        }
        self.streak.set(0);
        self.fresh.pop().or_else(|| self.started.pop())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fresh.is_empty() && self.started.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.fresh.len() + self.started.len()
    }

    /// Fresh goroutines queued.
    pub(crate) fn fresh_len(&self) -> usize {
        self.fresh.len()
    }

    /// Whether a thief would find nothing (with `migrate`, whether empty).
    pub(crate) fn nothing_to_steal(&self, migrate: bool) -> bool {
        self.fresh.is_empty() && (!migrate || self.started.is_empty())
    }

    /// Takes a batch from an injector, returning one to run now; the rest
    /// queue as started ones (oldest first, behind those queued already),
    /// or with `as_fresh`, as fresh ones, for thieves to take (the default
    /// mode's global injector holds fresh goroutines only).
    pub(crate) fn take_from(&self, injector: &Injector<TaskRef>, as_fresh: bool) -> Steal<TaskRef> {
        if as_fresh {
            injector.steal_batch_and_pop(&self.fresh)
        } else {
            injector.steal_batch_and_pop(&self.started)
        }
    }
}

impl RunQueueStealer {
    /// Takes the older half of the victim's fresh goroutines, else of its
    /// started ones (with `started_first`, the other way round; without
    /// `migrate`, fresh ones only), into `dest`, and returns one of them to
    /// run now.
    pub(crate) fn steal_batch_and_pop(
        &self,
        dest: &RunQueue,
        started_first: bool,
        migrate: bool,
    ) -> Steal<TaskRef> {
        if !migrate {
            return self.fresh.steal_batch_and_pop(&dest.fresh);
        }
        let mut order = [(&self.fresh, &dest.fresh), (&self.started, &dest.started)];
        if started_first {
            order.swap(0, 1);
        }
        match order[0].0.steal_batch_and_pop(order[0].1) {
            Steal::Empty => order[1].0.steal_batch_and_pop(order[1].1),
            found => found,
        }
    }

    /// Takes up to `limit` of the victim's fresh goroutines, oldest first,
    /// into `dest` (a batch takes at most half of what is left, so a few
    /// batches), and returns one of them to run now.
    pub(crate) fn steal_fresh(&self, dest: &RunQueue, limit: usize) -> Steal<TaskRef> {
        // `dest`'s length is a hint (others may steal from it meanwhile).
        let before = dest.fresh.len();
        let first = self
            .fresh
            .steal_batch_with_limit_and_pop(&dest.fresh, limit);
        if let Steal::Success(_) = first {
            for _ in 0..3 {
                let taken = (dest.fresh.len() + 1).saturating_sub(before);
                if taken >= limit
                    || !self
                        .fresh
                        .steal_batch_with_limit(&dest.fresh, limit - taken)
                        .is_success()
                {
                    break;
                }
            }
        }
        first
    }

    /// Takes the oldest fresh goroutine (also from the owner's own thread:
    /// its pick of the oldest).
    pub(crate) fn steal_oldest_fresh(&self) -> Steal<TaskRef> {
        self.fresh.steal()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fresh.is_empty() && self.started.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.fresh.len() + self.started.len()
    }

    /// How many goroutines a thief could take (with `migrate`, all).
    pub(crate) fn stealable_len(&self, migrate: bool) -> usize {
        if migrate {
            self.len()
        } else {
            self.fresh.len()
        }
    }

    /// Whether a thief would find nothing (with `migrate`, whether empty).
    pub(crate) fn nothing_to_steal(&self, migrate: bool) -> bool {
        self.fresh.is_empty() && (!migrate || self.started.is_empty())
    }
}

/// Retries `steal` while it says `Retry` (lost a race with another thief):
/// the goroutine it took, if any.
pub(crate) fn settle<T>(mut steal: impl FnMut() -> Steal<T>) -> Option<T> {
    loop {
        match steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}
