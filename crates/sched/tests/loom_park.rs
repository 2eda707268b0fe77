//! A loom model of the park protocol of `task.rs` (RUNNING / NOTIFIED /
//! PARKED), with the flag a waker publishes before it wakes: every
//! interleaving and every memory-order outcome allowed by C11, for a
//! goroutine that may start with a stale notification.
//!
//! The model mirrors the real transitions one for one: `park` (the
//! goroutine's fast path), `finish_park` (its worker, once it is off its
//! stack) and `wake` (`notify`, then `schedule`). A worker's run queue is
//! modelled by a `scheduled` flag under a mutex and a condition variable,
//! which also checks that a goroutine has one run reference: it is never
//! queued twice.
//!
//! The second half models the channels' two-step wake-up
//! (`park::Waiting::wake`): the claimer notifies the goroutine *before* it
//! publishes, so the waiter must never park once it sees the claim.
//!
//! Run with `RUSTFLAGS="--cfg goro_loom" cargo test --release -p goro-sched
//! --test loom_park` (`ci/loom.sh`).

#![cfg(goro_loom)]

use loom::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

const RUNNING: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

struct Task {
    state: AtomicU8,
    /// The run queue: set by `wake` when it moves the task out of PARKED.
    scheduled: Mutex<bool>,
    worker: Condvar,
}

impl Task {
    fn new(state: u8) -> Task {
        Task {
            state: AtomicU8::new(state),
            scheduled: Mutex::new(false),
            worker: Condvar::new(),
        }
    }
}

impl Task {
    /// The goroutine's `park`: true if it returned at once (a notification
    /// was consumed), false if it switched to its worker.
    fn park_fast(&self) -> bool {
        self.state.load(Ordering::Acquire) == NOTIFIED
            && self
                .state
                .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The worker, after the switch: true if the goroutine must run again.
    fn finish_park(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(_) => {
                self.state.swap(RUNNING, Ordering::AcqRel);
                true
            }
        }
    }

    /// `Task::wake`: `notify`, then `schedule` if it took the run
    /// reference.
    fn wake(&self) {
        if self.notify() {
            self.schedule();
        }
    }

    /// `Task::notify`: true if it moved the task out of PARKED, taking the
    /// run reference.
    fn notify(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let to = match state {
                RUNNING | NOTIFIED => NOTIFIED,
                _ => RUNNING,
            };
            match self
                .state
                .compare_exchange_weak(state, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return state == PARKED,
                Err(now) => state = now,
            }
        }
    }

    /// `Task::schedule`: queues the run reference, of which there is one.
    fn schedule(&self) {
        let mut scheduled = self.scheduled.lock().unwrap();
        assert!(!*scheduled, "two run references: queued twice");
        *scheduled = true;
        self.worker.notify_one();
    }

    /// One `park` of the goroutine, as far as it goes: at once if notified;
    /// else switched out, and its worker marks it parked or runs it again;
    /// parked, a worker runs it again once a wake queues it.
    fn park(&self) {
        if self.park_fast() || self.finish_park() {
            return;
        }
        self.wait_scheduled();
    }

    /// A parked task waits for a worker to take it from a queue.
    fn wait_scheduled(&self) {
        let mut scheduled = self.scheduled.lock().unwrap();
        while !*scheduled {
            scheduled = self.worker.wait(scheduled).unwrap();
        }
        *scheduled = false;
    }
}

/// The goroutine waits for `ready` the way channel waiters do.
fn wait(task: &Task, ready: &AtomicBool) {
    loop {
        if ready.load(Ordering::Acquire) {
            return;
        }
        task.park();
    }
}

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
const READY: u8 = 2;

/// A channel waiter's `Context::wait` (goro-chan's `waiter.rs`): returns at
/// `READY`, and never parks once it sees `CLAIMED`.
fn wait_claimed(task: &Task, slot: &AtomicU8) {
    loop {
        match slot.load(Ordering::Acquire) {
            READY => return,
            CLAIMED => {
                thread::yield_now();
                continue;
            }
            _ => {}
        }
        task.park();
    }
}

/// A claimer's `Context::complete` through `Waiting::wake`: claim, notify
/// (borrowing the task), publish, then queue the run reference if the
/// notification took it.
fn claim_and_wake(task: &Task, slot: &AtomicU8) -> bool {
    if slot
        .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return false;
    }
    let run = task.notify();
    slot.store(READY, Ordering::Release);
    if run {
        task.schedule();
    }
    true
}

#[test]
fn a_published_wake_is_never_lost() {
    loom::model(|| {
        // Start with a stale notification, as after a wake-up the goroutine
        // did not need.
        let task = Arc::new(Task::new(NOTIFIED));
        let ready = Arc::new(AtomicBool::new(false));
        let (t, r) = (task.clone(), ready.clone());
        let goroutine = thread::spawn(move || wait(&t, &r));
        ready.store(true, Ordering::Release);
        task.wake();
        goroutine.join().unwrap();
    });
}

#[test]
fn two_wakers_and_a_stale_notification() {
    loom::model(|| {
        let task = Arc::new(Task::new(NOTIFIED));
        let ready = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let (t, r) = (task.clone(), ready.clone());
        let goroutine = thread::spawn(move || {
            wait(&t, &r[0]);
            wait(&t, &r[1]);
        });
        let (t2, r2) = (task.clone(), ready.clone());
        let second = thread::spawn(move || {
            r2[1].store(true, Ordering::Release);
            t2.wake();
        });
        ready[0].store(true, Ordering::Release);
        task.wake();
        second.join().unwrap();
        goroutine.join().unwrap();
    });
}

#[test]
fn a_claim_notified_before_it_is_published_is_never_lost() {
    loom::model(|| {
        // A stale notification too: the waiter's first park returns at once.
        let task = Arc::new(Task::new(NOTIFIED));
        let slot = Arc::new(AtomicU8::new(WAITING));
        let (t, s) = (task.clone(), slot.clone());
        let goroutine = thread::spawn(move || wait_claimed(&t, &s));
        assert!(claim_and_wake(&task, &slot));
        goroutine.join().unwrap();
    });
}

#[test]
fn two_claimers_one_wins_and_one_run_reference() {
    loom::model(|| {
        let task = Arc::new(Task::new(RUNNING));
        let slot = Arc::new(AtomicU8::new(WAITING));
        let (t, s) = (task.clone(), slot.clone());
        let goroutine = thread::spawn(move || wait_claimed(&t, &s));
        let (t2, s2) = (task.clone(), slot.clone());
        let rival = thread::spawn(move || claim_and_wake(&t2, &s2));
        let won = claim_and_wake(&task, &slot);
        let rival_won = rival.join().unwrap();
        assert!(won != rival_won, "exactly one claim succeeds");
        goroutine.join().unwrap();
    });
}
