//! loom models of goro-sync's state machines: the `Mutex` (its lock-free
//! `LOCKED`/`PARKED`/`WOKEN`/`HANDED` word and unlock credit, the wait list
//! under the spin lock, spinners claiming `WOKEN`, barging, re-queueing at
//! the front, the starvation handoff, also while a woken waiter is on its
//! way) and the `Semaphore`
//! (FIFO admission of weighted waiters), over the wait list's grant
//! protocol (`waiter.rs`: unlink under the lock, store the token, wake).
//!
//! Like `goro-sched`'s `loom_park.rs`, these mirror the real transitions
//! one for one, with loom's types in place of the runtime's: the spin lock
//! is a loom `Mutex`, a waiter's park is loom's thread park. loom explores
//! every interleaving (and every memory-order outcome C11 allows); it fails
//! on a data race on the protected value (mutual exclusion) and on a
//! deadlock (a lost wake-up).
//!
//! Run with `RUSTFLAGS="--cfg goro_loom" cargo test --release -p goro-sync
//! --test loom_sync` (`ci/loom.sh`).

#![cfg(goro_loom)]

use std::collections::VecDeque;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex as SpinLock};
use loom::thread::{self, Thread};

/// A waiter of the wait list: its token, and whom to wake.
struct Waiter {
    token: AtomicUsize,
    thread: Thread,
    data: usize,
}

const WAITING: usize = 0;

impl Waiter {
    fn new(data: usize) -> Arc<Waiter> {
        Arc::new(Waiter {
            token: AtomicUsize::new(WAITING),
            thread: thread::current(),
            data,
        })
    }

    /// `Waiter::wait` without a deadline.
    fn wait(&self) -> usize {
        loop {
            let token = self.token.load(Ordering::Acquire);
            if token != WAITING {
                return token;
            }
            thread::park();
        }
    }

    /// `Granted::grant`: called after the waiter was unlinked.
    fn grant(&self, token: usize) {
        let thread = self.thread.clone();
        self.token.store(token, Ordering::Release);
        thread.unpark();
    }
}

// ---------------------------------------------------------------------------
// Mutex (mutex.rs)

const LOCKED: u32 = 1;
const PARKED: u32 = 2;
const WOKEN: u32 = 4;
const HANDED: u32 = 8;
const FLAGS: u32 = 15;
const CREDIT_ONE: u32 = 16;
/// The credit an unlock that looks sets: in the real code it depends on
/// the time (1 to 256, from the lock's pace and the head's clock); 1 here,
/// so that both the spending unlock and the looking one occur in small
/// runs.
const CREDIT: u32 = 1;
/// 4 in the real code; a round is one more look at the state (the pauses
/// are left out).
const SPIN_ROUNDS: u32 = 1;
const WOKEN_TOKEN: usize = 1;
const HANDOFF: usize = 2;

struct Mutex {
    state: AtomicU32,
    queue: SpinLock<VecDeque<Arc<Waiter>>>,
    data: UnsafeCell<u32>,
    /// The model's stand-in for "the head has been the head for over
    /// 1 ms" (the real code's clock).
    starved: bool,
}

impl Mutex {
    fn new(starved: bool) -> Mutex {
        Mutex {
            state: AtomicU32::new(0),
            queue: SpinLock::new(VecDeque::new()),
            data: UnsafeCell::new(0),
            starved,
        }
    }

    fn lock(&self) {
        if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED == 0 {
            return;
        }
        // `lock_slow`.
        let mut rounds = 0;
        let mut awoke = false;
        let mut requeue = false;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED == 0 {
                let new = match awoke {
                    true => (state & !WOKEN) | LOCKED,
                    false => state | LOCKED,
                };
                match self
                    .state
                    .compare_exchange(state, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => return,
                    Err(s) => state = s,
                }
                continue;
            }
            if state & HANDED == 0 && rounds < SPIN_ROUNDS {
                if !awoke && state & (WOKEN | PARKED) == PARKED {
                    match self.state.compare_exchange(
                        state,
                        state | WOKEN,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => awoke = true,
                        Err(s) => {
                            state = s;
                            continue;
                        }
                    }
                }
                rounds += 1;
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut queue = self.queue.lock().unwrap();
            // Becoming the head zeroes the credit.
            let head = requeue || queue.is_empty();
            state = self.state.load(Ordering::Relaxed);
            while state & LOCKED != 0 {
                let mut new = match awoke {
                    true => state & !WOKEN,
                    false => state,
                } | PARKED;
                if head {
                    new &= FLAGS;
                }
                if new == state {
                    break;
                }
                match self
                    .state
                    .compare_exchange(state, new, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => {
                        state = new;
                        break;
                    }
                    Err(s) => state = s,
                }
            }
            if state & LOCKED == 0 {
                drop(queue);
                continue;
            }
            let waiter = Waiter::new(0);
            match requeue {
                true => queue.push_front(waiter.clone()),
                false => queue.push_back(waiter.clone()),
            }
            drop(queue);
            if waiter.wait() == HANDOFF {
                self.state.fetch_and(!HANDED, Ordering::Relaxed);
                return;
            }
            awoke = true;
            requeue = true;
            rounds = 0;
            state = self.state.load(Ordering::Relaxed);
        }
    }

    fn unlock(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if let Some(new) = released(state)
            && self
                .state
                .compare_exchange(state, new, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        // `unlock_slow`.
        let mut state = self.state.load(Ordering::Relaxed);
        while let Some(new) = released(state) {
            match self
                .state
                .compare_exchange(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
        let mut queue = self.queue.lock().unwrap();
        let head = !queue.is_empty();
        let starved = head && self.starved;
        let parked = match queue.len() > 1 {
            true => PARKED,
            false => 0,
        };
        let mut state = self.state.load(Ordering::Relaxed);
        let token = loop {
            let credit = CREDIT * CREDIT_ONE;
            let (new, token) = if starved {
                let new = (state & WOKEN) | LOCKED | HANDED | parked;
                (new | credit, Some(HANDOFF))
            } else if !head {
                (state & WOKEN, None)
            } else if state & WOKEN != 0 {
                (WOKEN | PARKED | credit, None)
            } else {
                (WOKEN | parked | credit, Some(WOKEN_TOKEN))
            };
            match self
                .state
                .compare_exchange(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break token,
                Err(s) => state = s,
            }
        };
        let Some(token) = token else {
            return;
        };
        let next = queue.pop_front().unwrap();
        drop(queue);
        next.grant(token);
    }

    fn increment(&self) {
        self.lock();
        // loom reports a race if two holders overlap.
        self.data.with_mut(|v| unsafe { *v += 1 });
        self.unlock();
    }
}

/// `mutex.rs`'s `released`.
fn released(state: u32) -> Option<u32> {
    assert!(state & LOCKED != 0 && state & HANDED == 0);
    if state & PARKED == 0 {
        Some(state & !LOCKED)
    } else if state & WOKEN == 0 || state < CREDIT_ONE {
        None
    } else {
        Some(state - LOCKED - CREDIT_ONE)
    }
}

fn mutex_model(starved: bool, threads: usize, rounds: usize) {
    mutex_model_rounds(starved, &vec![rounds; threads]);
}

/// Thread `i` locks `rounds[i]` times (the first runs on the model's main
/// thread).
fn mutex_model_rounds(starved: bool, rounds: &[usize]) {
    let rounds = rounds.to_vec();
    loom::model(move || {
        let m = Arc::new(Mutex::new(starved));
        let handles: Vec<_> = rounds[1..]
            .iter()
            .map(|&n| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..n {
                        m.increment();
                    }
                })
            })
            .collect();
        for _ in 0..rounds[0] {
            m.increment();
        }
        for h in handles {
            h.join().unwrap();
        }
        let total = m.data.with(|v| unsafe { *v });
        assert_eq!(total as usize, rounds.iter().sum::<usize>());
        // The credit may be left over (it counts only while a waiter is
        // parked and another on its way).
        let state = m.state.load(Ordering::Relaxed);
        assert_eq!(state & FLAGS, 0, "left locked or flagged");
        assert!(m.queue.lock().unwrap().is_empty());
    });
}

#[test]
fn mutex_three_lockers_normal_mode() {
    mutex_model(false, 3, 1);
}

#[test]
fn mutex_three_lockers_handoff_mode() {
    mutex_model(true, 3, 1);
}

#[test]
fn mutex_two_lockers_twice_each() {
    // A woken waiter that loses the race goes back to the front; the
    // unlocks that spend credit and that look while one is on its way.
    mutex_model(false, 2, 2);
}

#[test]
fn mutex_two_lockers_twice_each_handoff_mode() {
    // A hand-over while a woken waiter is on its way (`WOKEN` and `HANDED`
    // together), and lockers that do not spin during a hand-over.
    mutex_model(true, 2, 2);
}

#[test]
fn mutex_spending_credit() {
    // One parked, one on its way (a spinner that claimed `WOKEN`), and a
    // holder that unlocks twice meanwhile: the first unlock looks and sets
    // the credit, the second spends it.
    mutex_model_rounds(false, &[2, 1, 1]);
}

// ---------------------------------------------------------------------------
// Semaphore (semaphore.rs)

const ACQUIRED: usize = 1;

struct SemState {
    taken: usize,
    list: VecDeque<Arc<Waiter>>,
}

struct Semaphore {
    size: usize,
    state: SpinLock<SemState>,
    /// Permits in use, as the holders count them.
    inside: AtomicUsize,
}

impl Semaphore {
    fn acquire_many(&self, n: usize) {
        let mut state = self.state.lock().unwrap();
        if self.size - state.taken >= n && state.list.is_empty() {
            state.taken += n;
            return;
        }
        let waiter = Waiter::new(n);
        state.list.push_back(waiter.clone());
        drop(state);
        assert_eq!(waiter.wait(), ACQUIRED);
    }

    fn release(&self, n: usize) {
        let mut state = self.state.lock().unwrap();
        state.taken -= n;
        // `State::admit`: the front waiters whose permits are free, in order.
        let mut admitted = Vec::new();
        while let Some(front) = state.list.front() {
            if front.data > self.size - state.taken {
                break;
            }
            state.taken += front.data;
            admitted.push(state.list.pop_front().unwrap());
        }
        drop(state);
        for w in admitted {
            w.grant(ACQUIRED);
        }
    }

    fn section(&self, n: usize) {
        self.acquire_many(n);
        let now = self.inside.fetch_add(n, Ordering::SeqCst) + n;
        assert!(now <= self.size, "{now} permits in use of {}", self.size);
        self.inside.fetch_sub(n, Ordering::SeqCst);
        self.release(n);
    }
}

#[test]
fn semaphore_weighted_waiters_all_get_in() {
    loom::model(|| {
        let sem = Arc::new(Semaphore {
            size: 2,
            state: SpinLock::new(SemState {
                taken: 0,
                list: VecDeque::new(),
            }),
            inside: AtomicUsize::new(0),
        });
        let handles: Vec<_> = [2, 1]
            .into_iter()
            .map(|n| {
                let sem = sem.clone();
                thread::spawn(move || sem.section(n))
            })
            .collect();
        sem.section(1);
        for h in handles {
            h.join().unwrap();
        }
        let state = sem.state.lock().unwrap();
        assert_eq!(state.taken, 0);
        assert!(state.list.is_empty());
    });
}
