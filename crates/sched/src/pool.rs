//! The scheduler's memory pool, for the layers above: blocks of a few size
//! classes, kept per thread and traded in batches (`alloc.rs`), where malloc
//! would take an arena lock whenever a block allocated on one worker is
//! freed on another. Goroutines' tasks come from it; so do channels, which
//! `skynet`-like programs create by the hundred thousand and free wherever
//! their last end goes (with malloc, its arena locks put workers to sleep
//! on futexes some ten thousand times a run).
//!
//! ```
//! use std::alloc::Layout;
//!
//! let layout = Layout::new::<[u64; 4]>();
//! let block = goro_sched::pool::allocate(layout);
//! // SAFETY: the block fits `layout` and is ours until freed.
//! unsafe { block.cast::<[u64; 4]>().write([1, 2, 3, 4]) };
//! // SAFETY: allocated just above with this layout, not used again.
//! unsafe { goro_sched::pool::deallocate(block, layout) };
//! ```

use std::alloc::Layout;
use std::ptr::NonNull;

/// Memory for `layout`, whose size must not be zero; from the pool when a
/// size class fits it, else from the global allocator.
///
/// # Panics
/// If `layout` has size zero, or out of memory (a panic that the caller,
/// say a goroutine making a channel, reports or catches, where `Box::new`
/// would abort the process).
pub fn allocate(layout: Layout) -> NonNull<u8> {
    assert!(layout.size() > 0, "the pool has no zero-sized blocks");
    crate::alloc::allocate(layout).unwrap_or_else(|| {
        panic!(
            "out of memory: the pool has no {}-byte block to give",
            layout.size()
        )
    })
}

/// Frees memory that [`allocate`] returned.
///
/// # Safety
/// `ptr` must come from [`allocate`] with this same `layout`, and not be
/// used again.
pub unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: as the caller promises.
    unsafe { crate::alloc::deallocate(ptr, layout) }
}
