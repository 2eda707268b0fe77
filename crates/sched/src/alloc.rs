//! A pool of memory blocks for goroutines' tasks, by size class.
//!
//! A goroutine is usually spawned on one worker and finishes on another, so
//! its task is allocated by one thread and freed by another. glibc's malloc
//! handles that pattern poorly: every such free takes the allocating arena's
//! lock, and a spawn-heavy program spends more time in malloc's locks (and
//! the futex sleeps behind them) than in the scheduler. So tasks come from
//! this pool instead, in the manner of Go's mcache/mcentral: each thread
//! keeps a stack of free blocks per size class, and trades whole magazines of
//! `MAGAZINE` blocks with a shared depot, taking its lock once per magazine.
//!
//! Blocks are cache-line aligned. Requests too large (or too aligned) for
//! any class go straight to the global allocator. New blocks are carved from
//! `SLAB`-byte slabs (one allocation, which glibc maps directly, per eight
//! thousand or so tasks; aligned and advised as a transparent huge page, so
//! that a burst of spawns takes one page fault per slab, not one per 4 KiB:
//! `skynet` took 17k such faults a run), and stay in the pool once freed,
//! as Go keeps its goroutine structures for reuse: a burst of a million
//! goroutines leaves its task blocks (about 256 bytes each) pooled, while
//! their stacks, the bulk of the memory, go back to the kernel
//! (`goro_fiber::stack::trim`).
//! Taking blocks one by one from malloc made spawn-heavy programs grow
//! malloc's heaps in small steps, each an `mprotect` that holds the
//! process's memory-map lock against every page fault of the other workers.

use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Block sizes; a request takes the smallest that fits.
const CLASSES: [usize; 8] = [128, 192, 256, 384, 512, 768, 1024, 2048];
/// Alignment of every block.
const ALIGN: usize = 64;
/// Blocks traded with the depot at a time.
const MAGAZINE: usize = 64;
/// Bytes carved into blocks at a time: above glibc's threshold for a
/// mapping of its own, and one huge page.
const SLAB: usize = 2 * 1024 * 1024;

type Magazine = Vec<NonNull<u8>>;

/// Full magazines, per class.
struct Depot {
    classes: [Vec<Magazine>; CLASSES.len()],
}

// SAFETY: the depot only stores addresses of free blocks that no thread uses.
unsafe impl Send for Depot {}

static DEPOT: Mutex<Depot> = Mutex::new(Depot {
    classes: [const { Vec::new() }; CLASSES.len()],
});

/// A thread's free blocks, per class.
struct Local {
    classes: [Magazine; CLASSES.len()],
}

impl Drop for Local {
    fn drop(&mut self) {
        for (class, blocks) in self.classes.iter_mut().enumerate() {
            give_back(class, std::mem::take(blocks));
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local { classes: [const { Vec::new() }; CLASSES.len()] })
    };
}

fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN {
        return None;
    }
    CLASSES.iter().position(|&size| layout.size() <= size)
}

fn block_layout(class: usize) -> Layout {
    Layout::from_size_align(CLASSES[class], ALIGN).expect("valid class layout")
}

/// Allocates memory for `layout` (whose size is not zero); `None` when
/// the system has none to give (the caller reports it: a spawn fails, the
/// process does not abort).
pub(crate) fn allocate(layout: Layout) -> Option<NonNull<u8>> {
    debug_assert!(layout.size() > 0);
    let Some(class) = class_of(layout) else {
        return system(layout);
    };
    let block = LOCAL
        .try_with(|local| {
            let mut local = local.borrow_mut();
            let free = &mut local.classes[class];
            if free.is_empty() {
                // The depot's lock is released before `carve` takes it.
                let magazine = depot().classes[class].pop();
                *free = magazine.or_else(|| carve(class))?;
            }
            free.pop()
        })
        .ok()
        .flatten();
    // Without the thread's pool (the thread is exiting), or without a slab:
    // a block on its own.
    block.or_else(|| system(block_layout(class)))
}

/// A new slab's blocks of `class`: one magazine for the caller, the rest to
/// the depot; `None` if no slab can be had. Slabs are never freed (their
/// blocks stay pooled).
fn carve(class: usize) -> Option<Magazine> {
    let size = CLASSES[class];
    let slab = system(Layout::from_size_align(SLAB, SLAB).expect("valid slab layout"))?;
    // Where THP is off (or `never`), this fails and pages come 4 KiB at a
    // time, as before.
    // SAFETY: advice on our own fresh slab; it changes no content.
    unsafe { libc::madvise(slab.as_ptr().cast(), SLAB, libc::MADV_HUGEPAGE) };
    let mut blocks: Magazine = (0..SLAB / size)
        // SAFETY: every block lies inside the slab (`i * size + size <=
        // SLAB`), and is 64-byte aligned since the slab is page aligned and
        // every class size is a multiple of 64.
        .map(|i| unsafe { slab.add(i * size) })
        .collect();
    let mine = blocks.split_off(blocks.len() - MAGAZINE.min(blocks.len()));
    let mut depot = depot();
    while !blocks.is_empty() {
        let rest = blocks.split_off(blocks.len().saturating_sub(MAGAZINE));
        depot.classes[class].push(rest);
    }
    Some(mine)
}

/// Frees memory that `allocate(layout)` returned.
///
/// # Safety
/// `ptr` must come from `allocate` with this same `layout`, and not be used
/// again.
pub(crate) unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: `allocate` took it from the global allocator with `layout`.
        unsafe { alloc::dealloc(ptr.as_ptr(), layout) };
        return;
    };
    let overflow = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        let free = &mut local.classes[class];
        free.push(ptr);
        (free.len() >= 2 * MAGAZINE).then(|| free.split_off(MAGAZINE))
    });
    match overflow {
        Ok(Some(magazine)) => give_back(class, magazine),
        Ok(None) => {}
        // The thread is exiting and its pool is gone.
        Err(_) => give_back(class, vec![ptr]),
    }
}

/// Hands free blocks to the depot (for good: see the module docs).
fn give_back(class: usize, blocks: Magazine) {
    if !blocks.is_empty() {
        depot().classes[class].push(blocks);
    }
}

fn depot() -> std::sync::MutexGuard<'static, Depot> {
    // Its invariants hold between statements; nothing panics inside.
    DEPOT.lock().unwrap_or_else(|e| e.into_inner())
}

fn system(layout: Layout) -> Option<NonNull<u8>> {
    if NO_MEMORY.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: `layout` has a non-zero size.
    NonNull::new(unsafe { alloc::alloc(layout) })
}

/// Set by tests (`__private::simulate_no_task_memory`): the system gives
/// nothing. Read only where the pool goes to the system, never per block.
static NO_MEMORY: AtomicBool = AtomicBool::new(false);

pub(crate) fn simulate_no_memory(on: bool) {
    NO_MEMORY.store(on, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reused_and_aligned() {
        let layout = Layout::from_size_align(200, 8).unwrap();
        let a = allocate(layout).unwrap();
        assert_eq!(a.as_ptr() as usize % ALIGN, 0);
        // SAFETY: `a` came from `allocate(layout)`.
        unsafe { deallocate(a, layout) };
        let b = allocate(layout).unwrap();
        assert_eq!(a, b, "the thread's last free block comes back first");
        // SAFETY: as above.
        unsafe { deallocate(b, layout) };
    }

    #[test]
    fn blocks_cross_threads_by_magazine() {
        let layout = Layout::from_size_align(100, 16).unwrap();
        let blocks: Vec<usize> = (0..10 * MAGAZINE)
            .map(|_| allocate(layout).unwrap().as_ptr() as usize)
            .collect();
        std::thread::spawn(move || {
            for b in blocks {
                // SAFETY: each came from `allocate(layout)`, freed once.
                unsafe { deallocate(NonNull::new(b as *mut u8).unwrap(), layout) };
            }
        })
        .join()
        .unwrap();
        // The freeing thread's pool went to the depot when it exited; this
        // thread can take a magazine from there.
        let again: Vec<NonNull<u8>> = (0..MAGAZINE).map(|_| allocate(layout).unwrap()).collect();
        for b in again {
            // SAFETY: as above.
            unsafe { deallocate(b, layout) };
        }
    }

    #[test]
    fn slabs_carve_distinct_aligned_blocks() {
        // More than a slab's worth of the largest class, live at once.
        let layout = Layout::from_size_align(2000, 8).unwrap();
        let n = 3 * SLAB / 2048;
        let mut blocks: Vec<usize> = (0..n)
            .map(|_| allocate(layout).unwrap().as_ptr() as usize)
            .collect();
        assert!(blocks.iter().all(|b| b % ALIGN == 0));
        blocks.sort_unstable();
        assert!(
            blocks.windows(2).all(|w| w[1] - w[0] >= 2048),
            "blocks overlap"
        );
        for b in blocks {
            // SAFETY: each came from `allocate(layout)`, freed once.
            unsafe { deallocate(NonNull::new(b as *mut u8).unwrap(), layout) };
        }
    }

    #[test]
    fn large_requests_go_to_the_global_allocator() {
        let layout = Layout::from_size_align(100_000, 8).unwrap();
        let p = allocate(layout).unwrap();
        // SAFETY: `p` came from `allocate(layout)`.
        unsafe { deallocate(p, layout) };
    }
}
