//! `RtRef`: a goroutine's counted reference to its runtime, counted per
//! worker in batches.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::shared::Shared;
use crate::worker::{self, WorkerCtx};

/// References to the runtime that a worker takes or returns at a time.
const REF_BATCH: usize = 64;

/// A goroutine's counted reference to its runtime.
///
/// Counted in the runtime's `Arc`, but not one by one: a goroutine is
/// usually created on one worker and dropped on another, and one shared
/// count touched by both for every goroutine would bounce its cache line
/// between them (measured: a sixth of the cost of spawning). So a worker
/// takes `REF_BATCH` references at a time for the goroutines it creates, and
/// returns the references of the goroutines it drops `REF_BATCH` at a time
/// (and what it holds when it exits). Other threads count one by one.
pub(crate) struct RtRef(NonNull<Shared>);

// SAFETY: it stands for an `Arc<Shared>`, which is `Send + Sync`.
unsafe impl Send for RtRef {}
// SAFETY: as above.
unsafe impl Sync for RtRef {}

impl RtRef {
    /// A counted reference to `shared`, from `here`, this thread's worker
    /// of `shared` if it is one (looked up once by the caller): a worker
    /// counts in batches, anyone else one by one.
    pub(crate) fn new_on(shared: &Arc<Shared>, here: Option<&WorkerCtx>) -> RtRef {
        let ptr = Arc::as_ptr(shared);
        let batched = here.map(|w| {
            if w.rt_refs.0.get() == 0 {
                for _ in 0..REF_BATCH {
                    // SAFETY: `shared` is a live `Arc`.
                    unsafe { Arc::increment_strong_count(ptr) };
                }
                w.rt_refs.0.set(REF_BATCH);
            }
            w.rt_refs.0.set(w.rt_refs.0.get() - 1);
        });
        if batched.is_none() {
            // SAFETY: `shared` is a live `Arc`.
            unsafe { Arc::increment_strong_count(ptr) };
        }
        RtRef(NonNull::from(&**shared))
    }
}

impl Drop for RtRef {
    fn drop(&mut self) {
        let ptr = self.0.as_ptr().cast_const();
        let batched = worker::with_worker(self, |w| {
            w.rt_refs.1.set(w.rt_refs.1.get() + 1);
            if w.rt_refs.1.get() >= REF_BATCH {
                w.rt_refs.1.set(0);
                for _ in 0..REF_BATCH {
                    // SAFETY: these references were counted (by `new`) and
                    // are given up; the worker's own `Arc` keeps it alive.
                    unsafe { Arc::decrement_strong_count(ptr) };
                }
            }
        });
        if batched.is_none() {
            // SAFETY: this reference was counted by `new` and is given up.
            unsafe { Arc::decrement_strong_count(ptr) };
        }
    }
}

impl std::ops::Deref for RtRef {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        // SAFETY: a counted reference keeps the `Shared` alive.
        unsafe { self.0.as_ref() }
    }
}

impl WorkerCtx {
    /// Gives back the references this worker holds in stock or owes.
    pub(crate) fn return_rt_refs(&self) {
        let n = self.rt_refs.0.replace(0) + self.rt_refs.1.replace(0);
        for _ in 0..n {
            // SAFETY: counted references this worker holds; its own `Arc`
            // (`self.shared`) keeps the runtime alive meanwhile.
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(&self.shared)) };
        }
    }
}
