//! Coroutine stacks: carved from large `MAP_NORESERVE` arenas, guarded, pooled.
//!
//! * **Arenas.** Stacks of one size are slots of a size class; a class maps
//!   address space a chunk at a time (about 1 GiB, `MAP_NORESERVE`, so nothing
//!   is committed until a page is touched) and carves slots off it. A slot is
//!   one guard page followed by the usable stack; the stack grows down from the
//!   slot's top towards its guard.
//! * **Guards.** `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+) marks the guard page
//!   without creating a new memory mapping, so a million guarded stacks fit
//!   under the default `vm.max_map_count`. Where the kernel refuses it, the guard
//!   is `mprotect(PROT_NONE)`, which splits the chunk's mapping: each such stack
//!   costs two mappings, and a stack that would overrun the map-count budget
//!   fails with an error naming the sysctl. `GORO_STACK_GUARD=mprotect` forces the
//!   fallback.
//! * **Pool.** A freed stack goes to its thread's cache (at most `CACHE_MAX` per
//!   size), then, `CACHE_MAX / 2` at a time, to its class's shared list of
//!   *dirty* stacks, whose pages are still resident, ready for reuse without
//!   a page fault. Pages go back to the kernel (`MADV_DONTNEED`, merged over
//!   neighbouring slots into few calls, since each call costs every thread of
//!   the process a TLB flush) only for stacks that went unused for a while,
//!   as Go's scavenger does: [`trim`], which the scheduler's monitor calls
//!   about once a second, returns the pages of the dirty stacks beyond
//!   `DIRTY_MAX` that no thread took since the last trim, coldest first, and
//!   keeps them as *clean* ones. Without trims (no scheduler), a class
//!   returns pages at once past `DIRTY_HARD` dirty stacks. (Returning them at
//!   once past a low mark made a burst of goroutines, say `skynet`'s waves,
//!   pay a TLB flush on free and a page fault on reuse for every stack.) A
//!   thread whose cache is empty takes a batch from the shared lists. Address
//!   space is never unmapped, as in Go's heap: a freed stack's guard stays
//!   installed for its next user.
//! * **Overflow.** Every chunk is recorded in a list that the SIGSEGV handler
//!   (`crate::overflow`) can walk without locks, to tell a guard-page hit from
//!   any other fault.
//!
//! ```
//! use goro_fiber::stack::{MIN_STACK_SIZE, Stack};
//!
//! let stack = Stack::new(MIN_STACK_SIZE)?; // carved from an arena, guard below it
//! assert_eq!(stack.size(), MIN_STACK_SIZE);
//! drop(stack); // back to this thread's cache, guard and all
//! let again = Stack::new(MIN_STACK_SIZE)?; // reused: no system call
//! assert_eq!(again.size(), MIN_STACK_SIZE);
//! # Ok::<(), std::io::Error>(())
//! ```

mod valgrind;

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The smallest stack a coroutine can have: 16 KiB.
///
/// ```
/// use goro_fiber::{Coroutine, MIN_STACK_SIZE};
///
/// let co = Coroutine::<(), (), ()>::with_stack_size(MIN_STACK_SIZE, |_, ()| ())?;
/// assert_eq!(co.stack().size(), 16 * 1024);
/// assert!(Coroutine::<(), (), ()>::with_stack_size(4096, |_, ()| ()).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// The largest stack a coroutine can have: 1 GiB.
///
/// ```
/// use goro_fiber::{Coroutine, MAX_STACK_SIZE};
///
/// let err = Coroutine::<(), (), ()>::with_stack_size(MAX_STACK_SIZE + 1, |_, ()| ()).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub const MAX_STACK_SIZE: usize = 1024 * 1024 * 1024;
/// The stack a coroutine gets unless told otherwise: 256 KiB of address space,
/// committed page by page as it is used; in a build with debug assertions
/// (`cargo build` and `cargo test` without `--release`), 2 MiB, as a std
/// thread's. Unoptimized code keeps a copy of a value in the frame of every
/// call it passes through: sending a 32 KiB value on a channel took more
/// than 1 MiB of stack in a debug build, and under 100 KiB optimized. The
/// larger reservation costs address space only.
///
/// ```
/// use goro_fiber::{Coroutine, DEFAULT_STACK_SIZE};
///
/// let co = Coroutine::<(), (), ()>::new(|_, ()| ());
/// assert_eq!(co.stack().size(), DEFAULT_STACK_SIZE);
/// ```
pub const DEFAULT_STACK_SIZE: usize = if cfg!(debug_assertions) {
    2 * 1024 * 1024
} else {
    256 * 1024
};

/// Freed stacks a thread keeps per size before it hands half of them back.
const CACHE_MAX: usize = 128;
/// Stacks a thread takes from the shared lists at a time.
const REFILL: usize = 32;
/// Freed stacks per size class whose pages stay resident however long
/// they go unused.
const DIRTY_MAX: usize = 4096;
/// Freed stacks per size class whose pages stay resident between trims; past
/// it a class returns the coldest pages at once.
const DIRTY_HARD: usize = 1 << 18;
/// Address space a size class maps at a time.
const CHUNK_BYTES: usize = 1 << 30;
/// `MADV_GUARD_INSTALL`, defined here because older `libc` releases lack it.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How the guard page under each stack is made.
///
/// ```
/// use goro_fiber::stack::{GuardKind, guard_kind};
///
/// match guard_kind()? {
///     GuardKind::Madvise => println!("guard pages cost no memory mapping"),
///     GuardKind::Mprotect => println!("each stack costs two memory mappings"),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// `madvise(MADV_GUARD_INSTALL)`: no memory mapping per stack (Linux 6.13+).
    Madvise,
    /// `mprotect(PROT_NONE)`: two memory mappings per stack, bounded by
    /// `vm.max_map_count`.
    Mprotect,
}

/// A coroutine stack: `size()` usable bytes above a guard page.
///
/// Dropping it returns it to the pool for reuse; its memory is never unmapped.
///
/// ```
/// use goro_fiber::stack::Stack;
///
/// let stack = Stack::new(256 * 1024)?;
/// assert_eq!(stack.size(), 256 * 1024);
/// assert_eq!(stack.top() as usize - stack.bottom() as usize, stack.size());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Stack {
    top: NonNull<u8>,
    size: usize,
}

// SAFETY: a `Stack` owns its memory exclusively; nothing about it is tied to
// the thread that allocated it (the pool it returns to is per thread or locked).
unsafe impl Send for Stack {}

impl Stack {
    /// Allocates a stack of at least `size` bytes, rounded up to whole pages.
    ///
    /// ```
    /// use goro_fiber::stack::{MIN_STACK_SIZE, Stack};
    ///
    /// let stack = Stack::new(MIN_STACK_SIZE + 1)?; // rounded up to whole pages
    /// assert!(stack.size() > MIN_STACK_SIZE);
    /// assert_eq!(Stack::new(1).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` when `size` is outside `MIN_STACK_SIZE..=MAX_STACK_SIZE`;
    /// `OutOfMemory` when the address space or the `vm.max_map_count` budget is
    /// exhausted, with a message that says what to change.
    pub fn new(size: usize) -> io::Result<Stack> {
        let size = checked_size(size)?;
        let top = CACHE
            .try_with(|cache| cache.borrow_mut().pop(size))
            .ok()
            .flatten();
        let top = match top {
            Some(top) => Some(top),
            None => refill(size),
        };
        let top = match top {
            Some(top) => top,
            None => allocate_slow(size)?,
        };
        // SAFETY: slots are never at address zero.
        let top = unsafe { NonNull::new_unchecked(top as *mut u8) };
        Ok(Stack { top, size })
    }

    /// The stack's highest address (exclusive); 16-byte aligned.
    ///
    /// ```
    /// let stack = goro_fiber::stack::Stack::new(64 * 1024)?;
    /// assert_eq!(stack.top() as usize % 16, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn top(&self) -> *mut u8 {
        self.top.as_ptr()
    }

    /// The stack's lowest usable address; the guard page lies right below it.
    ///
    /// ```
    /// let stack = goro_fiber::stack::Stack::new(64 * 1024)?;
    /// assert_eq!(stack.top() as usize - stack.bottom() as usize, stack.size());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bottom(&self) -> *mut u8 {
        self.top.as_ptr().wrapping_sub(self.size)
    }

    /// Usable bytes (a whole number of pages).
    ///
    /// ```
    /// let stack = goro_fiber::stack::Stack::new(64 * 1024)?;
    /// assert_eq!(stack.size(), 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let top = self.top.as_ptr() as usize;
        let overflow = CACHE
            .try_with(|cache| cache.borrow_mut().push(self.size, top))
            .unwrap_or_else(|_| vec![top]);
        if !overflow.is_empty() {
            release_to_arena(self.size, overflow);
        }
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &self.bottom())
            .field("top", &self.top())
            .field("size", &self.size)
            .finish()
    }
}

/// The guard kind that stacks carved from now on get: decided on first use
/// from `GORO_STACK_GUARD` (`auto`, the default, or `mprotect`) and from what
/// the kernel supports.
///
/// ```
/// let kind = goro_fiber::stack::guard_kind()?;
/// println!("stack guards: {kind:?}");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `InvalidInput` when `GORO_STACK_GUARD` holds anything else.
pub fn guard_kind() -> io::Result<GuardKind> {
    match GUARD.load(Ordering::Relaxed) {
        GUARD_MADVISE => return Ok(GuardKind::Madvise),
        GUARD_MPROTECT => return Ok(GuardKind::Mprotect),
        _ => {}
    }
    let kind = match std::env::var("GORO_STACK_GUARD") {
        Err(std::env::VarError::NotPresent) => GUARD_MADVISE,
        Ok(v) if v == "auto" || v.is_empty() => GUARD_MADVISE,
        Ok(v) if v == "mprotect" => GUARD_MPROTECT,
        Ok(v) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("GORO_STACK_GUARD must be `auto` or `mprotect`, not `{v}`"),
            ));
        }
        Err(e) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("GORO_STACK_GUARD: {e}"),
            ));
        }
    };
    // Racing first users agree: both read the same environment.
    GUARD.store(kind, Ordering::Relaxed);
    guard_kind()
}

const GUARD_UNKNOWN: u8 = 0;
const GUARD_MADVISE: u8 = 1;
const GUARD_MPROTECT: u8 = 2;
static GUARD: AtomicU8 = AtomicU8::new(GUARD_UNKNOWN);

/// The system page size.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let page = usize::try_from(page).unwrap_or(4096);
            PAGE.store(page, Ordering::Relaxed);
            page
        }
        page => page,
    }
}

/// Checks a requested size and rounds it up to whole pages.
pub(crate) fn checked_size(size: usize) -> io::Result<usize> {
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "stack size of {size} bytes is out of range: a stack must be \
                 {} KiB to {} MiB (it is rounded up to whole pages)",
                MIN_STACK_SIZE / 1024,
                MAX_STACK_SIZE / (1024 * 1024),
            ),
        ));
    }
    Ok(size.next_multiple_of(page_size()))
}

// ---------------------------------------------------------------------------
// The per-thread cache.

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Cache { classes: Vec::new() }) };
}

/// Freed stack tops, by usable size.
struct Cache {
    classes: Vec<(usize, Vec<usize>)>,
}

impl Cache {
    fn pop(&mut self, size: usize) -> Option<usize> {
        let (_, tops) = self.classes.iter_mut().find(|(s, _)| *s == size)?;
        tops.pop()
    }

    fn extend(&mut self, size: usize, tops: impl IntoIterator<Item = usize>) {
        for top in tops {
            let overflow = self.push(size, top);
            debug_assert!(overflow.is_empty());
        }
    }

    /// Keeps `top`; returns what no longer fits, for the shared free list.
    fn push(&mut self, size: usize, top: usize) -> Vec<usize> {
        let tops = match self.classes.iter().position(|(s, _)| *s == size) {
            Some(i) => &mut self.classes[i].1,
            None => {
                self.classes.push((size, Vec::with_capacity(CACHE_MAX)));
                &mut self.classes.last_mut().expect("just pushed").1
            }
        };
        tops.push(top);
        if tops.len() > CACHE_MAX {
            tops.split_off(CACHE_MAX / 2)
        } else {
            Vec::new()
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (size, tops) in self.classes.drain(..) {
            release_to_arena(size, tops);
        }
    }
}

// ---------------------------------------------------------------------------
// The shared arena.

/// Address space carved into slots of one stack size. Chunks are leaked and
/// linked for the signal handler, which reads them without locks.
struct Chunk {
    next: *const Chunk,
    start: usize,
    end: usize,
    /// Bytes per slot: one guard page, then the usable stack.
    slot: usize,
}

static CHUNKS: AtomicPtr<Chunk> = AtomicPtr::new(ptr::null_mut());

struct Class {
    size: usize,
    /// The next uncarved slot of the newest chunk, and that chunk's end.
    next: usize,
    end: usize,
    /// Freed stacks with resident pages, coldest first.
    dirty: Vec<usize>,
    /// The fewest `dirty` held since the last trim: the coldest that many
    /// went unused all along.
    low_water: usize,
    /// Freed stacks whose pages went back to the kernel.
    clean: Vec<usize>,
}

struct Arena {
    classes: Vec<Class>,
    /// Guard pages made with `mprotect`, and the budget for them.
    mprotect_guards: usize,
    mprotect_budget: Option<usize>,
}

static ARENA: Mutex<Arena> = Mutex::new(Arena {
    classes: Vec::new(),
    mprotect_guards: 0,
    mprotect_budget: None,
});

fn arena() -> MutexGuard<'static, Arena> {
    // The arena's invariants hold between statements, so a panic elsewhere
    // while it was locked leaves nothing half-done.
    ARENA.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes up to `REFILL` freed stacks of `size` from the shared lists (the
/// hottest dirty ones first): one for the caller, the rest for its cache.
fn refill(size: usize) -> Option<usize> {
    let mut batch = {
        let mut arena = arena();
        let class = arena.classes.iter_mut().find(|c| c.size == size)?;
        let from_dirty = class.dirty.len().min(REFILL);
        let mut batch = class.dirty.split_off(class.dirty.len() - from_dirty);
        class.low_water = class.low_water.min(class.dirty.len());
        let from_clean = class.clean.len().min(REFILL - from_dirty);
        batch.extend(class.clean.drain(class.clean.len() - from_clean..));
        batch
    };
    let top = batch.pop()?;
    if !batch.is_empty() {
        // `try_with` fails only while this thread exits: then give them back.
        if let Err(batch) = CACHE
            .try_with(|cache| cache.borrow_mut().extend(size, batch.iter().copied()))
            .map_err(|_| batch)
        {
            release_to_arena(size, batch);
        }
    }
    Some(top)
}

fn class_index(arena: &mut Arena, size: usize) -> usize {
    match arena.classes.iter().position(|c| c.size == size) {
        Some(i) => i,
        None => {
            arena.classes.push(Class {
                size,
                next: 0,
                end: 0,
                dirty: Vec::new(),
                low_water: 0,
                clean: Vec::new(),
            });
            arena.classes.len() - 1
        }
    }
}

fn allocate_slow(size: usize) -> io::Result<usize> {
    crate::overflow::prepare_thread();
    let kind = guard_kind()?;
    let mut arena = arena();
    let i = class_index(&mut arena, size);
    let page = page_size();
    let slot = size + page;
    if arena.classes[i].next == arena.classes[i].end {
        let (start, end) = map_chunk(slot)?;
        arena.classes[i].next = start;
        arena.classes[i].end = end;
    }
    let start = arena.classes[i].next;
    install_guard(&mut arena, kind, start, page)?;
    arena.classes[i].next += slot;
    let top = start + slot;
    valgrind::stack_register(start + page, top);
    Ok(top)
}

/// Maps a chunk for slots of `slot` bytes and records it for the signal handler.
fn map_chunk(slot: usize) -> io::Result<(usize, usize)> {
    let len = (CHUNK_BYTES / slot).max(1) * slot;
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing touches no existing memory.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "cannot reserve {} MiB of address space for coroutine stacks ({err}); \
                 use smaller stacks or fewer coroutines",
                len >> 20
            ),
        ));
    }
    let start = addr as usize;
    let chunk = Box::into_raw(Box::new(Chunk {
        next: ptr::null(),
        start,
        end: start + len,
        slot,
    }));
    let mut head = CHUNKS.load(Ordering::Acquire);
    loop {
        // SAFETY: `chunk` is ours until it is published below.
        unsafe { (*chunk).next = head };
        match CHUNKS.compare_exchange_weak(head, chunk, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(now) => head = now,
        }
    }
    Ok((start, start + len))
}

fn install_guard(arena: &mut Arena, kind: GuardKind, start: usize, page: usize) -> io::Result<()> {
    if kind == GuardKind::Madvise {
        // SAFETY: `start` is the first page of a slot of our own mapping that no
        // stack uses yet.
        let rc = unsafe { libc::madvise(start as *mut libc::c_void, page, MADV_GUARD_INSTALL) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
        // This kernel has no guard regions: fall back for good.
        GUARD.store(GUARD_MPROTECT, Ordering::Relaxed);
    }
    let budget = *arena.mprotect_budget.get_or_insert_with(mprotect_budget);
    if arena.mprotect_guards >= budget {
        return Err(map_count_error(None));
    }
    // SAFETY: as above; the page holds no data.
    let rc = unsafe { libc::mprotect(start as *mut libc::c_void, page, libc::PROT_NONE) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        return Err(if err.raw_os_error() == Some(libc::ENOMEM) {
            map_count_error(Some(err))
        } else {
            err
        });
    }
    arena.mprotect_guards += 1;
    Ok(())
}

/// How many `mprotect` guards fit: each costs two mappings, and an eighth of
/// `vm.max_map_count` (at least 1024) stays free for the rest of the process.
fn mprotect_budget() -> usize {
    let limit = max_map_count();
    let in_use = std::fs::read_to_string("/proc/self/maps")
        .map(|maps| maps.lines().count())
        .unwrap_or(1024);
    let reserve = (limit / 8).max(1024);
    limit.saturating_sub(in_use + reserve) / 2
}

fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530)
}

fn map_count_error(cause: Option<io::Error>) -> io::Error {
    let cause = cause.map(|e| format!(" ({e})")).unwrap_or_default();
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "cannot guard another coroutine stack: stacks get mprotect guards (this kernel \
             lacks MADV_GUARD_INSTALL of Linux 6.13+, or GORO_STACK_GUARD=mprotect), each \
             costing two memory mappings, and vm.max_map_count ({}) would be \
             exceeded{cause}; raise it, e.g. `sysctl -w vm.max_map_count=2097152`, or run \
             fewer coroutines at once",
            max_map_count()
        ),
    )
}

/// Gives stacks back to their class's dirty list; past `DIRTY_HARD`, returns
/// the pages of the coldest to the kernel and keeps them as clean.
fn release_to_arena(size: usize, tops: Vec<usize>) {
    let cold = {
        let mut arena = arena();
        let i = class_index(&mut arena, size);
        let class = &mut arena.classes[i];
        class.dirty.extend(tops);
        if class.dirty.len() <= DIRTY_HARD {
            return;
        }
        let excess = class.dirty.len() - DIRTY_HARD / 2;
        class.low_water = class.low_water.saturating_sub(excess);
        class.dirty.drain(..excess).collect::<Vec<_>>()
    };
    return_pages(size, cold);
}

/// Returns to the kernel the pages of freed stacks that went unused since
/// the previous call, beyond the `DIRTY_MAX` hottest of each size; their
/// address space and guards stay ours, and their next users fault pages in
/// anew. The scheduler's monitor calls it about once a second (as Go's
/// scavenger returns idle heap); call it yourself when you run coroutines
/// without one and want memory back sooner.
///
/// ```
/// use goro_fiber::stack::{self, MIN_STACK_SIZE, Stack};
///
/// drop(Stack::new(MIN_STACK_SIZE)?);
/// stack::trim(); // little to do: a few freed stacks stay resident anyway
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn trim() {
    let cold: Vec<(usize, Vec<usize>)> = {
        let mut arena = arena();
        arena
            .classes
            .iter_mut()
            .map(|class| {
                let idle = class.low_water.min(class.dirty.len());
                let cold = match idle.checked_sub(DIRTY_MAX) {
                    Some(n) if n > 0 => class.dirty.drain(..n).collect(),
                    _ => Vec::new(),
                };
                class.low_water = class.dirty.len();
                (class.size, cold)
            })
            .collect()
    };
    for (size, cold) in cold {
        if !cold.is_empty() {
            return_pages(size, cold);
        }
    }
}

/// `MADV_DONTNEED` over freed stacks of `size` (merged where they neighbour),
/// then files them as clean.
fn return_pages(size: usize, mut cold: Vec<usize>) {
    cold.sort_unstable();
    let page = page_size();
    // Merge neighbouring slots: one stack's top is the next one's guard page,
    // which MADV_DONTNEED leaves in place (madvise guard markers survive
    // it; an mprotect guard holds no data).
    let mut i = 0;
    while i < cold.len() {
        let start = cold[i] - size;
        let mut end = cold[i];
        i += 1;
        while i < cold.len() && cold[i] - size - page == end {
            end = cold[i];
            i += 1;
        }
        // SAFETY: `[start, end)` covers unused stacks (and the guard pages
        // between them) of our own mapping; dropping their pages only makes
        // them read as zero next time.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    let mut arena = arena();
    let i = class_index(&mut arena, size);
    arena.classes[i].clean.extend(cold);
}

/// If `addr` lies in the guard page of one of our stacks, that stack's usable
/// size. Async-signal-safe: reads only the leaked chunk list.
pub(crate) fn guard_hit(addr: usize) -> Option<usize> {
    let page = page_size();
    let mut chunk = CHUNKS.load(Ordering::Acquire);
    // SAFETY: chunks are leaked, never freed, and fully written before they are
    // published with release ordering.
    while let Some(c) = unsafe { chunk.as_ref() } {
        if (c.start..c.end).contains(&addr) {
            return ((addr - c.start) % c.slot < page).then(|| c.slot - page);
        }
        chunk = c.next.cast_mut();
    }
    None
}

/// Roughly how many bytes of stack are left below the calling frame, if it
/// runs on a coroutine's stack (any coroutine's: a scheduler's, or one
/// nested inside it); `None` on a thread's own stack. Code about to use a
/// lot of stack (a backtrace capture, say) can decline rather than
/// overflow.
///
/// ```
/// use goro_fiber::{Coroutine, CoroutineResult, stack};
///
/// assert_eq!(stack::left_here(), None); // a thread's own stack
/// let mut co = Coroutine::<(), Option<usize>, ()>::with_stack_size(64 * 1024, |y, ()| {
///     y.suspend(stack::left_here());
/// })?;
/// let CoroutineResult::Yield(Some(left)) = co.resume(()) else { unreachable!() };
/// assert!(left > 32 * 1024 && left < 64 * 1024, "{left}");
/// # Ok::<(), std::io::Error>(())
/// ```
#[inline(never)]
pub fn left_here() -> Option<usize> {
    let here = 0u8;
    let addr = ptr::from_ref(&here) as usize;
    let page = page_size();
    let mut chunk = CHUNKS.load(Ordering::Acquire);
    // SAFETY: as in `guard_hit`.
    while let Some(c) = unsafe { chunk.as_ref() } {
        if (c.start..c.end).contains(&addr) {
            let offset = (addr - c.start) % c.slot;
            return Some(offset.saturating_sub(page));
        }
        chunk = c.next.cast_mut();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class of `size`: (dirty, clean) counts.
    fn counts(size: usize) -> (usize, usize) {
        let mut arena = arena();
        let i = class_index(&mut arena, size);
        let class = &arena.classes[i];
        (class.dirty.len(), class.clean.len())
    }

    #[test]
    fn trim_returns_only_stacks_unused_since_the_last_trim() {
        // A size of its own, so that no other test shares the class (tests
        // run in parallel in this process); one below the largest page
        // size keeps it a multiple of any page.
        let size = 21 * 64 * 1024;
        let n = DIRTY_MAX + 1000;
        let stacks: Vec<Stack> = (0..n).map(|_| Stack::new(size).unwrap()).collect();
        drop(stacks);
        // This thread's cache keeps some; the rest are dirty in the class.
        let (dirty, clean) = counts(size);
        assert!(dirty > DIRTY_MAX && dirty <= n, "{dirty}");
        assert_eq!(clean, 0, "nothing returned on free below DIRTY_HARD");
        // Other tests may trim meanwhile too: each trim only ever returns
        // stacks idle since the one before, and keeps DIRTY_MAX.
        trim();
        trim();
        let (after, clean) = counts(size);
        assert_eq!(after, DIRTY_MAX, "the coldest beyond DIRTY_MAX went back");
        assert_eq!(clean, dirty - DIRTY_MAX);
        // Taken since the last trim: not returned by the next one.
        let taken: Vec<Stack> = (0..500).map(|_| Stack::new(size).unwrap()).collect();
        let (dirty, _) = counts(size);
        trim();
        assert_eq!(counts(size).0, dirty, "all of them are within DIRTY_MAX");
        drop(taken);
    }
}
