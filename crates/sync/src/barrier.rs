//! `Barrier`: a rendezvous of `n` goroutines, with one leader per round.

use std::fmt;

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{List, Waiter};

/// The grant: the round is complete.
const RELEASED: usize = 1;

/// `n` goroutines (or threads) wait until all `n` have arrived, then all go
/// on; exactly one of each round, the last to arrive, is the leader. It can
/// be used again for the next round.
///
/// ```
/// use goro_sync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(10));
/// let handles: Vec<_> = (0..10)
///     .map(|_| {
///         let barrier = barrier.clone();
///         goro_sched::go(move || barrier.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles.into_iter().filter(|_| true).map(|h| h.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    state: SpinLock<State>,
}

struct State {
    /// Arrived this round.
    arrived: usize,
    list: List,
}

/// What [`Barrier::wait`] returns: whether this caller led the round.
///
/// ```
/// use goro_sync::Barrier;
/// use goro_sched::go;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let handles: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = barrier.clone();
///         go(move || barrier.wait().is_leader()) // all three wait for each other
///     })
///     .collect();
/// let leaders = handles.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1); // one per round: the last to arrive
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this caller was the round's leader (the last to arrive).
    ///
    /// ```
    /// let barrier = goro_sync::Barrier::new(1); // never waits
    /// assert!(barrier.wait().is_leader()); // the last (and only) to arrive
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (0 and 1 both mean that `wait` never
    /// waits, as std's).
    ///
    /// ```
    /// use goro_sync::Barrier;
    /// use goro_sched::go;
    /// use std::sync::Arc;
    ///
    /// let barrier = Arc::new(Barrier::new(3));
    /// let handles: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let barrier = barrier.clone();
    ///         go(move || barrier.wait().is_leader()) // all three wait for each other
    ///     })
    ///     .collect();
    /// let leaders = handles.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
    /// assert_eq!(leaders, 1); // one per round: the last to arrive
    /// ```
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            state: SpinLock::new(State {
                arrived: 0,
                list: List::new(),
            }),
        }
    }

    /// Waits until `n` callers have arrived this round.
    ///
    /// ```
    /// use goro_sync::Barrier;
    /// use goro_sched::go;
    /// use std::sync::Arc;
    ///
    /// let barrier = Arc::new(Barrier::new(3));
    /// let handles: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let barrier = barrier.clone();
    ///         go(move || barrier.wait().is_leader()) // all three wait for each other
    ///     })
    ///     .collect();
    /// let leaders = handles.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
    /// assert_eq!(leaders, 1); // one per round: the last to arrive
    /// ```
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let mut state = self.state.lock();
        if state.arrived + 1 >= self.n {
            state.arrived = 0;
            let all = state.list.drain();
            drop(state);
            all.grant_all(RELEASED);
            return BarrierWaitResult(true);
        }
        state.arrived += 1;
        let waiter = Waiter::new(0);
        // SAFETY: it waits below, after the lock is released.
        unsafe { state.list.push_back(&waiter) };
        drop(state);
        // Unwound before the round completed: no longer counted.
        waiter.wait(
            Wait::Barrier,
            &self.state,
            |s| &mut s.list,
            None,
            |s| s.arrived -= 1,
            |_| {},
        );
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
