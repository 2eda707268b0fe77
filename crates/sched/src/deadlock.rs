//! What deadlock detection counts: goro's threads and the plain threads
//! blocked in goro, every runtime of the process, and whether each can run
//! anything by itself; `run`'s waiters and the report they get.

use std::sync::{Arc, Mutex};

use crate::shared::Shared;
use crate::timers::NEVER;

/// Every runtime not yet dropped.
static RUNTIMES: Mutex<Vec<std::sync::Weak<Shared>>> = Mutex::new(Vec::new());

/// Counts a new runtime among every runtime's.
pub(crate) fn register(shared: &Arc<Shared>) {
    let mut runtimes = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    // The dropped ones go now: each `Weak` keeps its runtime's allocation,
    // and a program that builds and drops runtimes would grow by one each
    // time (issue 20; only the deadlock check pruned them, when enabled).
    runtimes.retain(|w| w.strong_count() > 0);
    runtimes.push(Arc::downgrade(shared));
}

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
    // A goroutine waiting for a socket may be woken by the kernel.
    if crate::poll::waiters() > 0 {
        return None;
    }
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

impl Shared {
    /// Whether nothing of this runtime runs or can run by itself: no worker
    /// in a goroutine, nothing queued, no timer pending.
    pub(crate) fn is_quiescent(&self) -> bool {
        self.injector.is_empty()
            && self.timers.earliest() == NEVER
            && self.workers[..self.slots_in_use()].iter().all(|w| {
                !w.is_running() && !w.has_next() && w.stealer.is_empty() && w.inboxes_empty()
            })
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

    /// A number that changes whenever any goroutine of this runtime runs,
    /// parks or is spawned.
    pub(crate) fn activity(&self) -> u64 {
        self.total(|c| &c.switches)
            .wrapping_add(self.total(|c| &c.spawned))
            .wrapping_add(self.total(|c| &c.parks))
    }
}
