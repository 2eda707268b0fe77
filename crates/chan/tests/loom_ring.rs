//! A loom model of a buffered channel's ring (`ring.rs`) with its waiters
//! (`Channel::notify`, `register_ring`, `wait_ring`): every interleaving of
//! a sender and a receiver on a one-slot ring, each waiting when it must; of
//! a close racing a waiting receiver; and of a position taken, held and
//! given up (a select's send abandoned: given back as the last position
//! taken) while a receiver waits, or while a sender waits for the room it
//! held. A lost wake-up leaves a thread parked for good, which loom reports
//! as a deadlock (it does, without the abandon's wake-ups).
//!
//! The ring's steps mirror `Ring::reserve`, `Ring::write`, `Ring::hold`,
//! `Ring::abandon` and `Ring::pop`
//! (the stamps, the laps, the mark), its waits for the other side of a slot
//! are `yield_now`s; the waiter queue is a loom mutex, its bit in `hint` is
//! stored under it, and a parked waiter is a condition variable.
//!
//! One difference: the channel orders "take a position" before "read the
//! bit" by a SeqCst CAS and a SeqCst load, which C11 orders against the
//! waiter's SeqCst fence. loom models SeqCst fences but treats SeqCst
//! accesses as acquire/release, so the model puts a SeqCst fence between
//! the two, which is what those accesses guarantee for this pattern.
//!
//! Run with `RUSTFLAGS="--cfg goro_loom" cargo test --release -p goro-chan
//! --test loom_ring` (`ci/loom.sh`).

#![cfg(goro_loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

const CAP: usize = 1;
const MARK: usize = (CAP + 1).next_power_of_two();
const ONE_LAP: usize = 2 * MARK;
const RECV: u8 = 1;
const SEND: u8 = 2;

/// A blocked operation's context: claimed by the pop of its entry, then
/// completed.
struct Ctx {
    ready: Mutex<bool>,
    woken: Condvar,
}

/// Waiting receivers, waiting senders.
type Queues = (Vec<Arc<Ctx>>, Vec<Arc<Ctx>>);

struct Chan {
    head: AtomicUsize,
    tail: AtomicUsize,
    stamp: AtomicUsize,
    value: UnsafeCell<u32>,
    /// The waiter queues, (receivers, senders), behind the channel's lock.
    queues: Mutex<Queues>,
    /// Which queues have waiters, stored under the lock.
    hint: AtomicU8,
    closed: AtomicBool,
}

enum Refused {
    NotNow,
    Closed,
}

impl Chan {
    fn new() -> Chan {
        Chan {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            stamp: AtomicUsize::new(0),
            value: UnsafeCell::new(0),
            queues: Mutex::new((Vec::new(), Vec::new())),
            hint: AtomicU8::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn next(pos: usize) -> usize {
        // One slot: every position is the last of its lap.
        (pos & !(ONE_LAP - 1)).wrapping_add(ONE_LAP)
    }

    /// `Ring::reserve` and `Ring::write`.
    fn push(&self, v: u32) -> Result<(), Refused> {
        let stamp = self.reserve()?;
        // SAFETY: the reservation made the position ours; loom checks that
        // no access races with this one.
        self.value.with_mut(|p| unsafe { *p = v });
        self.stamp.store(stamp, Ordering::Release);
        Ok(())
    }

    /// `Ring::reserve`: the stamp that will publish the position.
    fn reserve(&self) -> Result<usize, Refused> {
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & MARK != 0 {
                return Err(Refused::Closed);
            }
            let stamp = self.stamp.load(Ordering::Acquire) & !MARK;
            if stamp == tail {
                match self.tail.compare_exchange(
                    tail,
                    Self::next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(tail + 1),
                    Err(now) => tail = now,
                }
            } else if stamp.wrapping_add(ONE_LAP) == tail + 1 || stamp.wrapping_add(ONE_LAP) == tail
            {
                fence(Ordering::SeqCst);
                if self.head.load(Ordering::Relaxed).wrapping_add(ONE_LAP) == tail {
                    return Err(Refused::NotNow);
                }
                thread::yield_now();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                thread::yield_now();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// `Ring::hold`: a select's send keeps the position until completed.
    fn hold(&self, stamp: usize) {
        self.stamp.store((stamp - 1) | MARK, Ordering::Relaxed);
    }

    /// `Ring::abandon` and `Channel::abandon`: the position given back if
    /// it is still the last one taken, and a sender woken for the room;
    /// else a hole, and a receiver woken to skip it.
    fn abandon(&self, stamp: usize) {
        let pos = stamp - 1;
        self.stamp.store(pos, Ordering::Relaxed);
        if self
            .tail
            .compare_exchange(Self::next(pos), pos, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            self.notify(true);
            return;
        }
        self.stamp.store(stamp | MARK, Ordering::Release);
        self.notify(false);
    }

    /// `Ring::pop`: `None` for a hole.
    fn pop(&self) -> Result<Option<u32>, Refused> {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let stamp = self.stamp.load(Ordering::Acquire);
            if stamp & !MARK == head + 1 {
                match self.head.compare_exchange(
                    head,
                    Self::next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: as in `push`, for the receive.
                        let v = (stamp & MARK == 0).then(|| self.value.with(|p| unsafe { *p }));
                        self.stamp
                            .store(head.wrapping_add(ONE_LAP), Ordering::Release);
                        return Ok(v);
                    }
                    Err(now) => head = now,
                }
            } else if stamp == head || stamp == head | MARK {
                // A position written soon, or held by a select (`Ring::pop`
                // tells them apart only when not patient, which this model
                // is).
                fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail & !MARK == head {
                    return Err(if tail & MARK == 0 {
                        Refused::NotNow
                    } else {
                        Refused::Closed
                    });
                }
                thread::yield_now();
                head = self.head.load(Ordering::Relaxed);
            } else {
                thread::yield_now();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// `Ring::may_be_ready`.
    fn may_be_ready(&self, send: bool) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail & MARK != 0 {
            return true;
        }
        let head = self.head.load(Ordering::Relaxed);
        if send {
            head.wrapping_add(ONE_LAP) != tail
        } else {
            head != tail
        }
    }

    fn store_hint(&self, queues: &Queues) {
        let mut bits = 0;
        if !queues.0.is_empty() {
            bits |= RECV;
        }
        if !queues.1.is_empty() {
            bits |= SEND;
        }
        self.hint.store(bits, Ordering::Relaxed);
    }

    /// `Channel::notify`, after a position was taken (the fence stands for
    /// the SeqCst CAS before it: see the module docs).
    fn notify(&self, send: bool) {
        fence(Ordering::SeqCst);
        let bit = if send { SEND } else { RECV };
        if self.hint.load(Ordering::SeqCst) & bit == 0 {
            return;
        }
        let claimed = {
            let mut queues = self.queues.lock().unwrap();
            let queue = if send { &mut queues.1 } else { &mut queues.0 };
            let claimed = (!queue.is_empty()).then(|| queue.remove(0));
            self.store_hint(&queues);
            claimed
        };
        if let Some(ctx) = claimed {
            complete(&ctx);
        }
    }

    /// `register_ring` and `wait_ring`: returns once woken, or at once if
    /// the ring changed.
    fn wait(&self, send: bool) {
        let ctx = Arc::new(Ctx {
            ready: Mutex::new(false),
            woken: Condvar::new(),
        });
        {
            let mut queues = self.queues.lock().unwrap();
            let queue = if send { &mut queues.1 } else { &mut queues.0 };
            queue.push(ctx.clone());
            self.store_hint(&queues);
        }
        fence(Ordering::SeqCst);
        if self.may_be_ready(send) {
            let mut queues = self.queues.lock().unwrap();
            let queue = if send { &mut queues.1 } else { &mut queues.0 };
            if let Some(i) = queue.iter().position(|c| Arc::ptr_eq(c, &ctx)) {
                queue.remove(i);
                self.store_hint(&queues);
                return;
            }
            // Claimed meanwhile: wait for the claimer to complete it.
        }
        let mut ready = ctx.ready.lock().unwrap();
        while !*ready {
            ready = ctx.woken.wait(ready).unwrap();
        }
    }

    fn send(&self, v: u32) -> Result<(), u32> {
        loop {
            match self.push(v) {
                Ok(()) => {
                    self.notify(false);
                    return Ok(());
                }
                Err(Refused::Closed) => return Err(v),
                Err(Refused::NotNow) => self.wait(true),
            }
        }
    }

    fn recv(&self) -> Option<u32> {
        loop {
            match self.pop() {
                Ok(v) => {
                    self.notify(true);
                    if v.is_some() {
                        return v;
                    }
                }
                Err(Refused::Closed) => return None,
                Err(Refused::NotNow) => self.wait(false),
            }
        }
    }

    /// `Channel::close`: mark, then claim and complete every waiter.
    fn close(&self) {
        let woken = {
            let mut queues = self.queues.lock().unwrap();
            self.closed.store(true, Ordering::Relaxed);
            self.tail.fetch_or(MARK, Ordering::SeqCst);
            let mut woken: Vec<Arc<Ctx>> = queues.0.drain(..).collect();
            woken.append(&mut queues.1);
            self.store_hint(&queues);
            woken
        };
        for ctx in woken {
            complete(&ctx);
        }
    }
}

fn complete(ctx: &Ctx) {
    *ctx.ready.lock().unwrap() = true;
    ctx.woken.notify_one();
}

#[test]
fn a_sender_and_a_receiver_that_both_wait_lose_no_wake_up() {
    loom::model(|| {
        let chan = Arc::new(Chan::new());
        let sender = {
            let chan = chan.clone();
            thread::spawn(move || {
                // The second send finds the slot full unless the receiver
                // was quick: it waits for room.
                chan.send(1).unwrap();
                chan.send(2).unwrap();
            })
        };
        // The first receive may find the ring empty: it waits for a value.
        assert_eq!(chan.recv(), Some(1));
        assert_eq!(chan.recv(), Some(2));
        sender.join().unwrap();
    });
}

#[test]
fn a_close_wakes_a_waiting_receiver_after_the_value() {
    loom::model(|| {
        let chan = Arc::new(Chan::new());
        let closer = {
            let chan = chan.clone();
            thread::spawn(move || {
                chan.send(7).unwrap();
                chan.close();
                assert_eq!(chan.send(8), Err(8), "closed to sends");
            })
        };
        assert_eq!(chan.recv(), Some(7));
        assert_eq!(chan.recv(), None);
        closer.join().unwrap();
        assert!(chan.closed.load(Ordering::Relaxed));
    });
}

#[test]
fn an_abandoned_position_wakes_a_waiting_receiver_to_skip_it() {
    loom::model(|| {
        let chan = Arc::new(Chan::new());
        let sender = {
            let chan = chan.clone();
            thread::spawn(move || {
                // A select's send takes the slot and gives it up (back, as
                // the last position taken), then a plain send follows.
                let stamp = chan.reserve().ok().expect("room");
                chan.hold(stamp);
                chan.abandon(stamp);
                chan.send(9).unwrap();
            })
        };
        assert_eq!(chan.recv(), Some(9));
        sender.join().unwrap();
    });
}

#[test]
fn a_position_given_back_wakes_a_sender_that_found_it_taken() {
    loom::model(|| {
        let chan = Arc::new(Chan::new());
        let stamp = chan.reserve().ok().expect("room");
        chan.hold(stamp);
        let sender = {
            let chan = chan.clone();
            // Finds the one slot held: waits for room.
            thread::spawn(move || chan.send(5).unwrap())
        };
        // The select gives its position back: the room is the sender's.
        chan.abandon(stamp);
        assert_eq!(chan.recv(), Some(5));
        sender.join().unwrap();
    });
}
