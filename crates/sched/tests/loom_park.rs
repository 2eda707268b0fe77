//! A loom model of the park protocol of `task.rs` (RUNNING / NOTIFIED /
//! PARKED), with the flag a waker publishes before it wakes: every
//! interleaving and every memory-order outcome allowed by C11, for a
//! goroutine that may start with a stale notification.
//!
//! The model mirrors the real transitions one for one: `park` (the
//! goroutine's fast path), `finish_park` (its worker, once it is off its
//! stack) and `wake`. A worker's run queue is modelled by a `scheduled`
//! flag under a mutex and a condition variable.
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

    /// `Task::wake_owned`.
    fn wake(&self) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (to, schedule) = match state {
                RUNNING => (NOTIFIED, false),
                NOTIFIED => (NOTIFIED, false),
                _ => (RUNNING, true),
            };
            match self
                .state
                .compare_exchange_weak(state, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if schedule {
                        *self.scheduled.lock().unwrap() = true;
                        self.worker.notify_one();
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }
}

/// The goroutine waits for `ready` the way channel waiters do.
fn wait(task: &Task, ready: &AtomicBool) {
    loop {
        if ready.load(Ordering::Acquire) {
            return;
        }
        if task.park_fast() {
            continue;
        }
        // Switched out: its worker marks it parked, or runs it again.
        if task.finish_park() {
            continue;
        }
        // Parked: a worker runs it again once a wake queues it.
        let mut scheduled = task.scheduled.lock().unwrap();
        while !*scheduled {
            scheduled = task.worker.wait(scheduled).unwrap();
        }
        *scheduled = false;
    }
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
