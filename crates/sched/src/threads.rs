//! goro's threads (workers, spares, sysmons) and the plain threads blocked
//! in goro, counted: with `/proc/self/task`, what deadlock detection needs
//! to know that no other thread can wake anyone.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads of every runtime (workers, spares, sysmons), and plain threads
/// blocked in `park::park` with no deadline: with `/proc/self/task`, what
/// deadlock detection needs to know that no other thread can wake anyone.
static GORO_THREADS: AtomicUsize = AtomicUsize::new(0);

static BLOCKED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Counts the calling thread as one of goro's for its lifetime.
pub(crate) struct GoroThread(());

impl GoroThread {
    pub(crate) fn enter() -> GoroThread {
        GORO_THREADS.fetch_add(1, Ordering::SeqCst);
        GoroThread(())
    }
}

impl Drop for GoroThread {
    fn drop(&mut self) {
        GORO_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the calling thread as blocked in a goro primitive meanwhile.
pub(crate) struct BlockedThread(());

impl BlockedThread {
    pub(crate) fn enter() -> BlockedThread {
        BLOCKED_THREADS.fetch_add(1, Ordering::SeqCst);
        BlockedThread(())
    }
}

impl Drop for BlockedThread {
    fn drop(&mut self) {
        BLOCKED_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Threads that goro knows cannot wake a goroutine by themselves.
pub(crate) fn known_idle_threads() -> usize {
    GORO_THREADS.load(Ordering::SeqCst) + BLOCKED_THREADS.load(Ordering::SeqCst)
}
