//! Sleeping and waking workers.
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

use std::sync::atomic::{Ordering, fence};
use std::thread::{self};
use std::time::{Duration, Instant};

use crate::shared::Shared;
use crate::timers::{Action, NEVER, TimerRef};
use crate::worker::{self};

impl Shared {
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
            _ if self.timers.is_virtual() => thread::park(),
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
    pub(crate) fn wake_sleeper(&self, i: usize) {
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

    /// Wakes worker `i`, which a waker took off the sleepers list: from
    /// `thread::park`, or from the netpoller's `epoll_wait` if it sleeps
    /// there. `woken` and `polling` are a Dekker pair with `sleep_in_poll`
    /// (each side stores, then loads the other's flag, `SeqCst`): either
    /// the sleeper sees `woken` and does not block, or this sees `polling`
    /// and breaks the poll.
    pub(crate) fn wake_worker(&self, i: usize) {
        let slot = &self.workers[i];
        slot.woken.store(true, Ordering::SeqCst);
        if slot.polling.load(Ordering::SeqCst) {
            crate::poll::interrupt();
        }
        slot.unpark();
    }

    /// Sleeps in the netpoller until `deadline` if goroutines wait there and
    /// no other worker polls (Go's `findrunnable` blocking in `netpoll`);
    /// returns false (without sleeping) otherwise. The goroutines it finds
    /// ready go to their own workers (this one's local queue for its own).
    fn sleep_in_poll(&self, index: usize, deadline: Option<Instant>) -> bool {
        if !crate::poll::claim_block() {
            return false;
        }
        let slot = &self.workers[index];
        slot.polling.store(true, Ordering::SeqCst);
        if !slot.woken.load(Ordering::SeqCst) && !self.is_shutdown() {
            crate::poll::block(deadline);
        }
        slot.polling.store(false, Ordering::SeqCst);
        crate::poll::release_block();
        true
    }

    /// Puts worker `index` to sleep, unless `has_work` finds something once it
    /// is registered as a sleeper; wakes at the earliest timer at the latest.
    pub(crate) fn sleep(&self, index: usize, has_work: &dyn Fn() -> bool, limit: Option<Duration>) {
        self.workers[index].woken.store(false, Ordering::SeqCst);
        {
            let mut sleepers = self.idle.lock();
            sleepers.push(index);
            self.workers[index].asleep.store(true, Ordering::SeqCst);
            self.idle.num_sleeping.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if !has_work() && !self.is_shutdown() && !self.bubble_idle() {
            let now = Instant::now();
            let timer = match self.timers.earliest() {
                // A bubble's timers fire when its clock moves (`bubble_idle`),
                // not in real time.
                _ if self.timers.is_virtual() => None,
                NEVER => None,
                deadline => Some(self.timers.instant(deadline)),
            };
            let limit = limit.and_then(|l| now.checked_add(l));
            match timer.into_iter().chain(limit).min() {
                Some(deadline) if deadline <= now => {}
                deadline if self.sleep_in_poll(index, deadline) => {}
                None => thread::park(),
                Some(deadline) => thread::park_timeout(deadline - now),
            }
        }
        if !self.workers[index].woken.load(Ordering::SeqCst) {
            // Woke by itself (work seen, timeout, spurious): deregister.
            let mut sleepers = self.idle.lock();
            if let Some(pos) = sleepers.iter().position(|&s| s == index) {
                sleepers.swap_remove(pos);
                self.workers[index].asleep.store(false, Ordering::SeqCst);
                self.idle.num_sleeping.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Adds a timer that runs `action` at `deadline`, on the current
    /// worker's heap (the first one from outside). `parks` says the caller
    /// parks right after (a sleep): its worker then looks at the timers
    /// when it looks for work, unless it has other work queued.
    pub(crate) fn add_timer(&self, deadline: Instant, action: Action, parks: bool) -> TimerRef {
        // One look at this thread's worker, for the heap and for `busy`.
        worker::with_here(self, |here| {
            let heap = here.map_or(0, |w| w.index);
            let (timer, earliest) = self.timers.add_to(heap, deadline, action);
            if earliest && self.idle.num_sleeping.load(Ordering::SeqCst) > 0 {
                // Sleeping workers chose their timeouts before this
                // deadline existed. This worker will see it when it next
                // looks for work; if that may be late (it has work queued,
                // or the caller goes on computing: `after`, a context's
                // deadline), have a sleeper look, as Go wakes a sleeping
                // thread for an earlier timer. (A timer's own function
                // re-arming it, a ticker's, runs in the worker's loop, which
                // looks at the timers right after.)
                let busy =
                    here.is_none_or(|w| w.has_local_work() || (!parks && worker::in_goroutine()));
                if busy {
                    self.notify_sleeper();
                }
            }
            timer
        })
    }

    /// Wakes one sleeping worker even if others spin (to recompute timeouts).
    pub(crate) fn notify_sleeper(&self) {
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
}
