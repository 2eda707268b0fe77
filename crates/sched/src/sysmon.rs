//! Sysmon: the monitor thread that keeps one stuck goroutine from stalling
//! the others (Go's `sysmon` and its `retake`).
//!
//! Goroutines are never preempted: one in a CPU loop or a blocking call
//! keeps its worker thread until it parks. Every few milliseconds sysmon
//! looks at each worker: one that has run the same goroutine for over
//! `HOG` (its switch count has not moved and it is still running), or that
//! sits in `goro::blocking`, while goroutines wait (queued, in its `next`,
//! or behind a pending timer), is *handed off*: marked stuck, its `next`
//! moved to the injector, and replaced by a spare worker thread so that
//! `procs` workers keep running (`Shared::hand_off`). The hog keeps its
//! thread; when it parks, its worker counts again and a spare retires.
//!
//! Sysmon reads only atomics the workers publish anyway (their switch
//! counters and running goroutine): it costs the workers nothing.

use std::thread;
use std::time::{Duration, Instant};

use crate::runtime::Shared;
use crate::worker;

/// How long one goroutine may keep a worker while others wait.
const HOG: Duration = Duration::from_millis(10);
/// How often sysmon looks while some worker runs a goroutine.
const BUSY_INTERVAL: Duration = Duration::from_millis(2);
/// How often it looks while every worker is idle.
const IDLE_INTERVAL: Duration = Duration::from_millis(20);

/// Sysmon's loop, until the runtime shuts down.
pub(crate) fn run(shared: &std::sync::Arc<Shared>) {
    // Per slot: the switch count last seen, and since when it has not moved.
    let mut seen: Vec<(u64, Instant)> = Vec::new();
    let mut interval = BUSY_INTERVAL;
    while !shared.is_shutdown() {
        thread::park_timeout(interval);
        let now = Instant::now();
        let n = shared.slots_in_use();
        seen.resize(n, (u64::MAX, now));
        let mut busy = false;
        for (i, (last, since)) in seen.iter_mut().enumerate() {
            let slot = &shared.workers[i];
            let running = slot.is_running();
            let switches = shared.stats[i]
                .switches
                .load(std::sync::atomic::Ordering::Relaxed);
            busy |= running;
            if !running || switches != *last {
                (*last, *since) = (switches, now);
                continue;
            }
            if slot.is_stuck() {
                continue;
            }
            if (slot.is_blocking() || now.duration_since(*since) >= HOG) && shared.work_waiting(i) {
                shared.hand_off(i);
            }
        }
        interval = if busy { BUSY_INTERVAL } else { IDLE_INTERVAL };
    }
}

/// Marks the calling goroutine's worker as blocked until the guard drops,
/// handing its work off at once if any waits (`goro::blocking`).
pub(crate) fn enter_blocking() -> Option<BlockingGuard> {
    if !worker::in_goroutine() {
        return None;
    }
    worker::with_any_worker(|w| {
        let slot = &w.shared.workers[w.index];
        slot.set_blocking(true);
        if w.shared.work_waiting(w.index) {
            w.shared.hand_off_here(w);
        }
        BlockingGuard {
            shared: w.shared.clone(),
            index: w.index,
        }
    })
}

/// Clears the worker's `blocking` mark on drop. The worker stays stuck (if
/// it was handed off) until its goroutine parks: it still runs it.
pub(crate) struct BlockingGuard {
    shared: std::sync::Arc<Shared>,
    index: usize,
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        self.shared.workers[self.index].set_blocking(false);
    }
}
