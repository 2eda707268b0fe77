//! A goroutine (Go's G): its coroutine, its park state and its locals; and
//! the `JoinHandle` that waits for its result.
//!
//! # Park protocol
//!
//! `state` is one of three values, and every transition is a CAS:
//!
//! * `RUNNING`: running on a worker, or queued to run. A wake-up that finds it
//!   here sets `NOTIFIED`; nothing else to do, it is not asleep.
//! * `NOTIFIED`: running, and woken since it last parked. Its next `park`
//!   consumes the notification and returns at once.
//! * `PARKED`: suspended and in nobody's queue. The wake-up that moves it back
//!   to `RUNNING` (only one can) schedules it.
//!
//! The goroutine never sets `PARKED` itself: it suspends with `Switch::Park`,
//! and the worker, once the goroutine is off its stack, CASes `RUNNING ->
//! PARKED`. If that fails, a wake-up came in between (`NOTIFIED`), and the
//! worker runs the goroutine again. So a wake-up is never lost, and a
//! goroutine is never resumed while still on its stack.
//!
//! # The run reference
//!
//! Of a goroutine's references, one is its *run reference*: held by the
//! queue it waits in, or by the worker that runs it. When the worker parks
//! it, the worker forgets that reference rather than dropping it, and the
//! wake-up that moves the goroutine out of `PARKED` takes it over (`notify`)
//! to queue it. So a wake-up costs no count, not even through a borrowed
//! pointer (`park::Waiting::wake`): a channel's hand-off is a CAS, not a
//! CAS and two counts. A drain at shutdown takes the references of the
//! goroutines still parked (`take_parked`).

use std::alloc::Layout;
use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::panic::{self, AssertUnwindSafe, Location};
use std::ptr;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use goro_fiber::{Coroutine, ForcedUnwind, Yielder};

use crate::alloc;
use crate::park::{self, Unparker};
use crate::rt_ref::RtRef;
use crate::shared::Shared;
use crate::worker::WorkerCtx;

/// Why a goroutine switched back to its worker.
#[derive(Debug)]
pub(crate) enum Switch {
    /// `yield_now`: queue it again, on the injector.
    Yield,
    /// `park`: leave it until a wake-up.
    Park,
}

/// `Task::home` before the first run.
const NO_HOME: u32 = u32::MAX;

const RUNNING: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

/// A goroutine's unique id, as Go prints it in panics and dumps.
///
/// ```
/// let id = goro_sched::run(|| goro_sched::id().unwrap());
/// assert!(id.as_u64() > 0);
/// assert_eq!(id.to_string(), id.as_u64().to_string());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct GoroutineId(u64);

impl GoroutineId {
    /// A fresh id: from `here`'s cache, which takes them from the shared
    /// counter `ID_BATCH` at a time (Go's `goidcache`: one locked
    /// instruction per batch, not per spawn), else from the counter.
    fn next(here: Option<&WorkerCtx>) -> GoroutineId {
        const ID_BATCH: u64 = 16;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let Some(w) = here else {
            return GoroutineId(NEXT.fetch_add(1, Ordering::Relaxed));
        };
        let (mut next, mut end) = w.ids.get();
        if next == end {
            next = NEXT.fetch_add(ID_BATCH, Ordering::Relaxed);
            end = next + ID_BATCH;
        }
        w.ids.set((next + 1, end));
        GoroutineId(next)
    }

    /// The id as a number; ids start at 1 and are never reused.
    ///
    /// ```
    /// let id = goro_sched::go(|| goro_sched::id().unwrap()).join().unwrap();
    /// assert!(id.as_u64() >= 1);
    /// assert_eq!(id.to_string(), id.as_u64().to_string());
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A goroutine: a header and, in the same allocation, its body (the function
/// and the slot for its result). `Task` alone means `Task<dyn TaskBody>`.
pub(crate) struct Task<B: ?Sized = dyn TaskBody> {
    /// References (`TaskRef`s) to it: 32 bits, as every byte of the header
    /// is paid by each of a million goroutines (a count past 2^31 aborts,
    /// as `Arc`'s past `isize::MAX`).
    refs: AtomicU32,
    pub(crate) id: GoroutineId,
    /// Its name and group, which most goroutines lack: boxed, for a thin
    /// pointer. Set at spawn, never changed.
    extras: Option<Box<Extras>>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) rt: RtRef,
    state: AtomicU8,
    /// What it waits for when parked (`park::Wait` as a number), and since
    /// when (the runtime's coarse clock), for `dump`.
    pub(crate) wait: AtomicU8,
    pub(crate) waiting_since: AtomicU32,
    /// Where it parked: the call site of the blocking operation (`recv`,
    /// `lock`, `join`...), carried down by `#[track_caller]`; for `dump`.
    /// 32 bits (`WaitSite`), not a pointer: the header keeps its size class.
    pub(crate) wait_site: WaitSite,
    /// `JOIN_*`: who may touch the body's result (see `Body`). Here rather
    /// than in the body, where it would cost a word of its own.
    join: AtomicU8,
    /// Its slot in the runtime's registry (`usize::MAX`: not registered). A
    /// goroutine registers when it first parks: until then it is always in a
    /// queue or on a worker, where shutdown finds it anyway.
    pub(crate) registry_key: AtomicUsize,
    /// Whether it counts as alive (its body has not finished).
    pub(crate) alive: AtomicBool,
    /// The worker slot it first ran on (`NO_HOME` until then). In the
    /// default mode it runs there for the rest of its life.
    home: AtomicU32,
    /// Others borrow from its stack: goroutines of the scopes it opened, a
    /// `blocking` call running for it. Shutdown unwinds it only once none
    /// is left (see `runtime.rs`, "Shutdown").
    lent: AtomicU32,
    /// The goroutine's fiber. Touched only by the one thread that runs (or
    /// unwinds) the goroutine, which the park protocol makes exclusive.
    fiber: UnsafeCell<Fiber>,
    /// The coroutine's yielder, set when it starts; used only by itself.
    yielder: Cell<*const Yielder<TaskPtr, Switch>>,
    /// Goroutine-local storage (`local!`); used only by the goroutine itself.
    pub(crate) locals: Locals,
    pub(crate) body: B,
}

impl<B: ?Sized> Task<B> {
    /// Its name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.extras.as_ref()?.name.as_deref()
    }

    /// Its group, if it belongs to one (`test::assert_no_leaks`).
    pub(crate) fn group(&self) -> Option<&Arc<crate::test::Group>> {
        self.extras.as_ref()?.group.as_ref()
    }
}

impl Extras {
    /// Boxed only if there is something to hold.
    fn new(name: Option<Box<str>>, group: Option<Arc<crate::test::Group>>) -> Option<Box<Extras>> {
        (name.is_some() || group.is_some()).then(|| Box::new(Extras { name, group }))
    }
}

/// What few goroutines have (see `Task::extras`).
struct Extras {
    name: Option<Box<str>>,
    /// The group it belongs to (`test::assert_no_leaks`), inherited from
    /// its spawner; counted out when it exits.
    group: Option<Arc<crate::test::Group>>,
}

/// A `&'static Location` in 32 bits: its offset from an anchor in this
/// crate's read-only data, which holds for every location of the program's
/// image (they are all within 2 GiB of each other); one out of reach (a
/// library loaded at run time) is stored as unknown.
pub(crate) struct WaitSite(AtomicU32);

/// Where offsets count from; its address is exposed, as is each stored
/// location's, so that a pointer rebuilt from an offset may be followed.
static ANCHOR: Location<'static> = *Location::caller();

/// Stored for "unknown": no location is the anchor itself.
const NO_SITE: u32 = 0;

impl WaitSite {
    const fn new() -> WaitSite {
        WaitSite(AtomicU32::new(NO_SITE))
    }

    /// Records `site` (one relaxed store; the dump reads it racily).
    #[inline]
    pub(crate) fn set(&self, site: &'static Location<'static>) {
        let at = ptr::from_ref(site).expose_provenance() as isize;
        let anchor = ptr::from_ref(&ANCHOR).expose_provenance() as isize;
        let offset = i32::try_from(at.wrapping_sub(anchor)).map_or(NO_SITE, |o| o as u32);
        self.0.store(offset, Ordering::Relaxed);
    }

    /// The last site recorded, if any.
    pub(crate) fn get(&self) -> Option<&'static Location<'static>> {
        let offset = self.0.load(Ordering::Relaxed);
        if offset == NO_SITE {
            return None;
        }
        let anchor = ptr::from_ref(&ANCHOR).expose_provenance();
        let at = anchor.wrapping_add_signed(offset as i32 as isize);
        // SAFETY: `at` is the address of a `&'static Location` that `set`
        // stored, whose provenance it exposed: a valid, immutable
        // `Location` for the rest of the program. (A torn or stale value
        // cannot occur: the offset is one atomic word, each value one that
        // `set` computed.)
        Some(unsafe { &*ptr::with_exposed_provenance::<Location<'static>>(at) })
    }
}

// SAFETY: `fiber`, `yielder` and `locals` are used only by the thread that
// runs the goroutine at the time (or, once no worker can run it, the one that
// unwinds it); the park protocol hands that role from thread to thread with
// acquire/release CASes on `state`. Everything else is atomic, immutable, or
// the body, which is `Send + Sync` itself.
unsafe impl<B: ?Sized + Send + Sync> Send for Task<B> {}
// SAFETY: as above.
unsafe impl<B: ?Sized + Send + Sync> Sync for Task<B> {}

/// A goroutine's coroutine, or what will become one.
pub(crate) enum Fiber {
    /// Not started, and no stack yet: `go` allocates the stack when the
    /// goroutine first runs, so that a million queued goroutines cost no
    /// stacks (and no page faults) until they run.
    Lazy { stack_size: usize },
    /// On its stack (started or not). Each resume passes the task itself,
    /// so the goroutine reaches its task without a thread-local or a count.
    Ready(Coroutine<TaskPtr, Switch, ()>),
    /// Finished or unwound.
    Done,
}

/// The address of the task a coroutine is resumed for.
pub(crate) struct TaskPtr(NonNull<Task>);

// SAFETY: a `Task` is `Send + Sync`; this is a borrowed pointer to one.
unsafe impl Send for TaskPtr {}

impl Fiber {
    /// A coroutine on a stack of `stack_size` bytes that runs the body of
    /// the task it is resumed for.
    pub(crate) fn ready(stack_size: usize) -> io::Result<Fiber> {
        let co = Coroutine::with_stack_size(stack_size, |y: &Yielder<TaskPtr, Switch>, first| {
            // SAFETY: the task owns this coroutine, so it outlives it: the
            // coroutine is dropped (unwound) or finishes before the task goes.
            let task: &Task = unsafe { first.0.as_ref() };
            task.yielder.set(y);
            task.body.run(task, None);
        })?;
        Ok(Fiber::Ready(co))
    }
}

/// A counted reference to a task, like an `Arc`, whose memory comes from the
/// task pool (`alloc.rs`) rather than from malloc.
pub(crate) struct TaskRef(NonNull<Task>);

// SAFETY: a `Task` is `Send + Sync`, and the count is atomic, as in `Arc`.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// A new reference to the task at `task`.
    ///
    /// # Safety
    /// `task` must point to a live task, kept alive meanwhile by a `TaskRef`.
    pub(crate) unsafe fn clone_from_ptr(task: NonNull<Task>) -> TaskRef {
        // SAFETY: per the contract, the task is alive.
        let refs = unsafe { &task.as_ref().refs };
        if refs.fetch_add(1, Ordering::Relaxed) > i32::MAX as u32 {
            std::process::abort();
        }
        TaskRef(task)
    }

    /// Takes over the run reference that a park left behind (see the
    /// module docs), without counting.
    ///
    /// # Safety
    /// The caller moved `task` out of `PARKED` (only one CAS can): the
    /// worker forgot that reference when it parked the goroutine, and
    /// nobody else takes it over.
    unsafe fn adopt_run(task: &Task) -> TaskRef {
        TaskRef(NonNull::from(task))
    }

    pub(crate) fn as_non_null(&self) -> NonNull<Task> {
        self.0
    }

    /// The task's address, for identity.
    pub(crate) fn addr(&self) -> *const () {
        self.0.as_ptr().cast_const().cast()
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        // SAFETY: `self` keeps the task alive.
        unsafe { TaskRef::clone_from_ptr(self.0) }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Synchronise with every other reference's release, as `Arc` does.
        std::sync::atomic::fence(Ordering::Acquire);
        let layout = Layout::for_value::<Task>(self);
        // SAFETY: this was the last reference: nobody else can reach the task.
        unsafe { ptr::drop_in_place(self.0.as_ptr()) };
        // SAFETY: `Task::spawn` allocated it from the pool with this layout
        // (`for_value` reads size and alignment from the vtable).
        unsafe { alloc::deallocate(self.0.cast(), layout) };
    }
}

impl std::ops::Deref for TaskRef {
    type Target = Task;

    fn deref(&self) -> &Task {
        // SAFETY: a `TaskRef` keeps its task alive.
        unsafe { self.0.as_ref() }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Spawns are built in one allocation: the header and `Body<F, T>`.
impl Task {
    /// Creates a goroutine running `f` from `fiber`, and its join handle;
    /// `here` is this thread's worker of `rt`, if the caller knows it (its
    /// reference to the runtime is then counted in the worker's batch).
    ///
    /// With no memory for the task, `f` is dropped: `None` (the caller
    /// gives out `JoinHandle::never_was`, or an error).
    ///
    /// # Safety
    /// `F` and `T` may borrow: the caller must make sure the goroutine
    /// finishes (or is dropped unrun) before anything they borrow dies, as
    /// `scope` does. With `'static` types it is always safe.
    pub(crate) unsafe fn spawn<'a, F, T>(
        rt: &Arc<Shared>,
        here: Option<&WorkerCtx>,
        name: Option<Box<str>>,
        location: &'static Location<'static>,
        fiber: Fiber,
        f: F,
    ) -> Option<(TaskRef, JoinHandle<T>)>
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'a,
    {
        let layout = Layout::new::<Task<Body<F, T>>>();
        let Some(block) = alloc::allocate(layout) else {
            drop(f);
            return None;
        };
        let block = block.cast::<Task<Body<F, T>>>();
        let task = Task {
            // One for the runtime's queues, one for the handle: counted here,
            // while the memory is still ours alone, rather than by a clone.
            refs: AtomicU32::new(2),
            id: GoroutineId::next(here),
            extras: Extras::new(name, crate::test::for_spawn()),
            location,
            rt: RtRef::new_on(rt, here),
            state: AtomicU8::new(RUNNING),
            wait: AtomicU8::new(0),
            waiting_since: AtomicU32::new(0),
            wait_site: WaitSite::new(),
            join: AtomicU8::new(JOIN_PENDING),
            registry_key: AtomicUsize::new(usize::MAX),
            alive: AtomicBool::new(true),
            home: AtomicU32::new(NO_HOME),
            lent: AtomicU32::new(0),
            fiber: UnsafeCell::new(fiber),
            yielder: Cell::new(std::ptr::null()),
            locals: Locals::new(),
            body: Body::new(f),
        };
        if let Some(group) = task.group() {
            group.enter();
        }
        // SAFETY: `block` is fresh memory with the layout of this type.
        unsafe { block.write(task) };
        let task: NonNull<Task<dyn TaskBody + 'a>> = block;
        // SAFETY: only the lifetime bound of the trait object changes; the
        // caller guarantees the task does not outlive what `F` and `T` borrow.
        let task: NonNull<Task> = unsafe { mem::transmute(task) };
        let handle = JoinHandle {
            task: Some(TaskRef(task)),
            _output: PhantomData,
        };
        Some((TaskRef(task), handle))
    }

    /// Runs the goroutine until it yields, parks or finishes. Returns `None`
    /// when it finished, else why it stopped. With `unwind` (shutdown) it
    /// unwinds the goroutine instead, or drops it unrun if it never ran; a
    /// goroutine that parks while it unwinds (a destructor that waits) goes
    /// on unwinding at every later run, `unwind` or not.
    ///
    /// # Safety
    /// Only the thread that owns the run of this goroutine (it took it from a
    /// queue, or unwinds it at shutdown) may call this, with `CURRENT` set to
    /// it.
    #[inline(always)]
    pub(crate) unsafe fn resume(&self, unwind: bool) -> Option<Switch> {
        // SAFETY: per the contract, nobody else touches `fiber` now.
        let fiber = unsafe { &mut *self.fiber.get() };
        if unwind && !matches!(fiber, Fiber::Ready(_)) {
            // Never ran (or done): nothing on a stack to unwind.
            // SAFETY: per the contract.
            unsafe { self.unwind() };
            return None;
        }
        if let Fiber::Lazy { stack_size } = *fiber {
            match Fiber::ready(stack_size) {
                Ok(ready) => *fiber = ready,
                Err(e) => {
                    // No stack: the goroutine fails without running.
                    *fiber = Fiber::Done;
                    self.body.run(self, Some(e));
                    return None;
                }
            }
        }
        let Fiber::Ready(co) = fiber else {
            return None;
        };
        let me = TaskPtr(NonNull::from(self));
        let unwinding = unwind || co.is_unwinding();
        let step = if unwinding {
            match co.unwind(me) {
                goro_fiber::CoroutineResult::Yield(switch) => Some(switch),
                goro_fiber::CoroutineResult::Return(()) => None,
            }
        } else {
            match co.resume(me) {
                goro_fiber::CoroutineResult::Yield(switch) => Some(switch),
                goro_fiber::CoroutineResult::Return(()) => None,
            }
        };
        if step.is_none() {
            // Back to the stack pool now, not when the last `Arc` goes.
            *fiber = Fiber::Done;
            if unwinding {
                // An unwound body completed its join as cancelled on the
                // way; one that caught the unwind and returned did not.
                self.body.cancel(self);
            }
        }
        step
    }

    /// Whether the goroutine has never run: nothing of a thread can be on
    /// its stack yet, so any worker may start it.
    pub(crate) fn is_fresh(&self) -> bool {
        self.home.load(Ordering::Relaxed) == NO_HOME
    }

    /// The worker slot it first ran on, if it has run.
    pub(crate) fn home(&self) -> Option<usize> {
        match self.home.load(Ordering::Relaxed) {
            NO_HOME => None,
            home => Some(home as usize),
        }
    }

    /// Records the worker slot of its first run; returns whether this was
    /// it. Only the thread that owns its run calls this (the store is
    /// published with the run: by the queue, or the park protocol's CASes).
    pub(crate) fn settle_home(&self, slot: usize) -> bool {
        if self.home.load(Ordering::Relaxed) != NO_HOME {
            return false;
        }
        self.home.store(slot as u32, Ordering::Relaxed);
        true
    }

    /// Something borrows from its stack (see `lent`) until `repay`.
    pub(crate) fn lend(&self) {
        self.lent.fetch_add(1, Ordering::AcqRel);
    }

    /// The borrow of `lend` is over.
    pub(crate) fn repay(&self) {
        self.lent.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether anything borrows from its stack: it must not be unwound yet.
    pub(crate) fn is_lent(&self) -> bool {
        self.lent.load(Ordering::Acquire) != 0
    }

    /// Drops the fiber, unwinding its stack if it had started; a body that
    /// never ran completes its join as cancelled.
    ///
    /// # Safety
    /// As for `resume`.
    pub(crate) unsafe fn unwind(&self) {
        // SAFETY: per the contract, nobody else touches `fiber` now.
        let fiber = unsafe { &mut *self.fiber.get() };
        drop(mem::replace(fiber, Fiber::Done));
        self.body.cancel(self);
    }

    /// Counts the goroutine out of the live ones (once). Only the fiber's
    /// owner calls it (its body, or the shutdown drain), never two at once.
    pub(crate) fn mark_exited(&self) {
        if self.alive.load(Ordering::Relaxed) {
            self.alive.store(false, Ordering::Relaxed);
            self.rt.count_exit();
            if let Some(group) = self.group() {
                group.exit();
            }
        }
    }

    /// After the goroutine suspended with `Switch::Park`: marks it parked,
    /// unless a wake-up came first. Returns whether it must run again.
    pub(crate) fn finish_park(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(_) => {
                // NOTIFIED: consume it and run again. A swap, not a store: a
                // second wake-up may have renewed the notification since our
                // CAS read it, and only an RMW reads (and so synchronizes
                // with) that latest one. A plain store could erase it unseen
                // (found by loom: tests/loom_park.rs).
                self.state.swap(RUNNING, Ordering::AcqRel);
                true
            }
        }
    }

    /// Wakes the goroutine: schedules it if parked, else leaves a
    /// notification for its next park. The caller must keep the task alive
    /// for the call (a `TaskRef`, or a waiter's promise).
    pub(crate) fn wake(&self) {
        if let Some(run) = self.notify() {
            Task::schedule(run);
        }
    }

    /// The state half of a wake-up. `RUNNING -> NOTIFIED`, or `PARKED ->
    /// RUNNING`, and then the wake-up owns the run reference that the park
    /// left behind (see the module docs) and returns it: the caller must
    /// schedule it. No count changes hands either way.
    #[inline]
    pub(crate) fn notify(&self) -> Option<TaskRef> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            // NOTIFIED still takes a CAS (NOTIFIED -> NOTIFIED): a plain load
            // could see a notification that the goroutine is consuming at
            // this very moment, while the store that this wake-up announces
            // (say, a channel's `ready` flag) sits in our store buffer; the
            // goroutine would then miss both and park for good. The CAS
            // orders us with its consuming CAS: either it comes first and
            // ours fails (we retry with RUNNING), or ours comes first and it
            // sees everything we stored before.
            let to = match state {
                RUNNING | NOTIFIED => NOTIFIED,
                _ => RUNNING,
            };
            match self
                .state
                .compare_exchange_weak(state, to, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: our CAS moved it out of `PARKED`.
                Ok(_) if state == PARKED => return Some(unsafe { TaskRef::adopt_run(self) }),
                Ok(_) => return None,
                Err(now) => state = now,
            }
        }
    }

    /// Takes a parked goroutine out of `PARKED` for its runtime's drain, with
    /// its run reference; `None` if it is not parked (a queue holds it).
    pub(crate) fn take_parked(&self) -> Option<TaskRef> {
        self.state
            .compare_exchange(PARKED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            // SAFETY: our CAS moved it out of `PARKED`.
            .map(|_| unsafe { TaskRef::adopt_run(self) })
    }

    /// Queues a goroutine whose run reference we hold (from `notify`).
    #[inline]
    pub(crate) fn schedule(run: TaskRef) {
        let rt: *const Shared = &*run.rt;
        // SAFETY: `run` keeps the task, and so its runtime, alive until
        // `schedule` has queued it.
        unsafe { (*rt).schedule(run) };
    }

    #[doc(hidden)]
    /// Called by the goroutine itself: returns at once if notified since it
    /// last parked, else suspends until woken.
    #[inline]
    #[track_caller]
    pub(crate) fn park(&self, wait: u8) {
        if self.take_notified() {
            return;
        }
        // For `dump` only: plain stores, and a clock that sysmon keeps.
        self.wait.store(wait, Ordering::Relaxed);
        self.wait_site.set(Location::caller());
        self.waiting_since
            .store(self.rt.coarse_ms(), Ordering::Relaxed);
        self.switch(Switch::Park);
        // Resumed by a dumper for its stack trace, not by a wake-up?
        if self.wait.load(Ordering::Relaxed) & crate::traceback::TRACE != 0 {
            self.answer_trace();
        }
    }

    /// Consumes a notification, if one came since the last park.
    #[inline]
    fn take_notified(&self) -> bool {
        // Only a wake-up moves a running goroutine out of RUNNING, so a plain
        // load tells whether the CAS is worth trying.
        self.state.load(Ordering::Acquire) == NOTIFIED
            && self
                .state
                .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// In `park`, resumed with `TRACE` (`traceback.rs`): hands the dumper
    /// this stack's trace and parks again as before, until a real wake-up.
    #[cold]
    #[inline(never)]
    fn answer_trace(&self) {
        loop {
            self.wait
                .fetch_and(!crate::traceback::TRACE, Ordering::Relaxed);
            crate::traceback::answer(self.id);
            if self.take_notified() {
                return;
            }
            self.switch(Switch::Park);
            if self.wait.load(Ordering::Relaxed) & crate::traceback::TRACE == 0 {
                return;
            }
        }
    }

    /// Claims a parked goroutine for a stack trace, as a wake-up would
    /// (`PARKED -> RUNNING`: only one can), and marks it `TRACE`: the caller
    /// must schedule the run reference it gets. `None` if it is not parked.
    pub(crate) fn claim_for_trace(&self) -> Option<TaskRef> {
        let run = self.take_parked()?;
        // Not running, and claimed: nobody else writes `wait` now; the
        // scheduling that follows publishes the mark to its resumption.
        self.wait
            .fetch_or(crate::traceback::TRACE, Ordering::Relaxed);
        Some(run)
    }

    /// Whether the calling code runs on this goroutine's own stack, not on a
    /// coroutine's that it resumed. Only from inside the goroutine.
    pub(crate) fn on_own_stack(&self) -> bool {
        let yielder = self.yielder.get();
        // SAFETY: `yielder` was set by this goroutine's coroutine when it
        // started and lives on its stack, which outlives every run of it,
        // and the caller runs inside one (perhaps on a nested coroutine).
        !yielder.is_null() && unsafe { (*yielder).is_current() }
    }

    /// Whether it is parked (for `dump`; it may change at once).
    pub(crate) fn is_parked(&self) -> bool {
        self.state.load(Ordering::Relaxed) == PARKED
    }

    /// Called by the goroutine itself: suspends to its worker.
    #[inline(always)]
    pub(crate) fn switch(&self, why: Switch) {
        let yielder = self.yielder.get();
        // Only a goroutine that has started is ever current where it could
        // park (an unrun one is unwound as its thread's code): checked, as
        // the alternative is a jump through a null pointer.
        assert!(
            !yielder.is_null(),
            "goro: a goroutine that never started tried to park"
        );
        // SAFETY: `yielder` was set by this goroutine's own coroutine when it
        // started and lives on its stack, where we are running now.
        let _ = unsafe { (*yielder).suspend(why) };
    }
}

/// Drops a goroutine's locals when its body ends or unwinds.
struct ClearLocals<'a>(&'a Task);

impl Drop for ClearLocals<'_> {
    fn drop(&mut self) {
        self.0.locals.clear();
    }
}

/// A goroutine's `local!` values, by index.
pub(crate) type LocalSlots = RefCell<Vec<Option<Box<dyn Any>>>>;

/// A goroutine's local storage, allocated on first use: most goroutines
/// have none, and a thin pointer keeps the task header small.
pub(crate) struct Locals(Cell<*mut LocalSlots>);

impl Locals {
    const fn new() -> Locals {
        Locals(Cell::new(ptr::null_mut()))
    }

    /// The slots, allocated on first use. Only the goroutine itself calls
    /// this (its task's `Sync` rests on that).
    pub(crate) fn get(&self) -> &LocalSlots {
        let mut slots = self.0.get();
        if slots.is_null() {
            slots = Box::into_raw(Box::default());
            self.0.set(slots);
        }
        // SAFETY: allocated above or before, and freed only by `clear`.
        // That runs when the goroutine's function has returned or unwound
        // (`ClearLocals`, the outermost frame inside its `catch_unwind`), so
        // no frame holding a borrow from `get` is left; a destructor that
        // `clear` runs and that asks again finds the pointer reset and gets
        // fresh slots, never the ones being freed.
        unsafe { &*slots }
    }

    /// Drops the values. The pointer is reset first, so that a destructor
    /// that uses a local gets fresh slots, which are dropped in turn (as
    /// `std` does for a thread's locals).
    fn clear(&self) {
        loop {
            let slots = self.0.replace(ptr::null_mut());
            if slots.is_null() {
                return;
            }
            // SAFETY: allocated by `get` with `Box`, and no longer reachable.
            drop(unsafe { Box::from_raw(slots) });
        }
    }
}

impl Drop for Locals {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<B: ?Sized> fmt::Debug for Task<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("name", &self.name())
            .field("spawned_at", &format_args!("{}", self.location))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Join

/// An error from [`JoinHandle::join`]: the goroutine panicked, or its runtime
/// shut down and unwound it before it finished.
///
/// ```
/// let err = goro_sched::go(|| panic!("boom")).join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "goroutine panicked: boom");
/// ```
pub struct JoinError {
    /// Boxed: a result slot in every goroutine holds a `Result<T, JoinError>`,
    /// and errors are rare.
    repr: Box<JoinErrorRepr>,
}

enum JoinErrorRepr {
    Panic(Box<dyn Any + Send>),
    Cancelled,
    NoStack(io::Error),
}

impl JoinError {
    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> JoinError {
        JoinError {
            repr: Box::new(JoinErrorRepr::Panic(payload)),
        }
    }

    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Box::new(JoinErrorRepr::Cancelled),
        }
    }

    /// The goroutine never was: no memory for its task.
    pub(crate) fn no_memory() -> JoinError {
        JoinError {
            repr: Box::new(JoinErrorRepr::NoStack(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "no memory for the goroutine's task",
            ))),
        }
    }

    /// Whether the goroutine panicked.
    ///
    /// ```
    /// let err = goro_sched::go(|| panic!("boom")).join().unwrap_err();
    /// assert!(err.is_panic() && !err.is_cancelled());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(*self.repr, JoinErrorRepr::Panic(_))
    }

    /// Whether the goroutine was unwound (or dropped unstarted) by its
    /// runtime's shutdown.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = goro_sched::Runtime::builder().workers(1).build()?;
    /// let h = rt.go(|| goro_sched::sleep(Duration::from_secs(3600)));
    /// rt.shutdown_timeout(Duration::from_millis(100));
    /// let err = h.join().unwrap_err();
    /// assert!(err.is_cancelled() && !err.is_panic());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(*self.repr, JoinErrorRepr::Cancelled)
    }

    /// The panic's payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// ```
    /// let err = goro_sched::go(|| std::panic::panic_any(42u32)).join().unwrap_err();
    /// let payload = err.into_panic(); // or re-raise: std::panic::resume_unwind(payload)
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
    /// ```
    ///
    /// # Panics
    /// If the goroutine did not panic (see [`is_panic`](JoinError::is_panic)).
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match *self.repr {
            JoinErrorRepr::Panic(payload) => payload,
            _ => panic!("into_panic on a JoinError that is not a panic: {self}"),
        }
    }

    /// The panic's payload, or `Err(self)` if it is not a panic.
    ///
    /// ```
    /// let err = goro_sched::go(|| panic!("boom")).join().unwrap_err();
    /// match err.try_into_panic() {
    ///     Ok(payload) => assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom")),
    ///     Err(err) => unreachable!("not a panic: {err}"),
    /// }
    /// ```
    ///
    /// # Errors
    /// `self` when the goroutine did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        if self.is_panic() {
            Ok(self.into_panic())
        } else {
            Err(self)
        }
    }
}

/// The message of a panic payload, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.repr {
            JoinErrorRepr::Panic(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => write!(f, "goroutine panicked: {msg}"),
                None => f.write_str("goroutine panicked"),
            },
            JoinErrorRepr::Cancelled => {
                f.write_str("goroutine was cancelled: its runtime shut down before it finished")
            }
            JoinErrorRepr::NoStack(e) => write!(f, "goroutine could not start: {e}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.repr {
            JoinErrorRepr::Panic(payload) => f
                .debug_tuple("Panic")
                .field(&panic_message(payload.as_ref()).unwrap_or("..."))
                .finish(),
            JoinErrorRepr::Cancelled => f.write_str("Cancelled"),
            JoinErrorRepr::NoStack(e) => f.debug_tuple("NoStack").field(e).finish(),
        }
    }
}

impl std::error::Error for JoinError {}

/// What a goroutine runs, type-erased: its function, and its result for the
/// `JoinHandle`.
pub(crate) trait TaskBody: Send + Sync {
    /// Runs the function, on the goroutine's own stack, catching a panic, and
    /// completes the join (after counting the goroutine out of the live ones,
    /// so that whoever joins it sees it gone). With `no_stack` it completes
    /// the join with that error instead, without running anything. A forced
    /// unwind (runtime shutdown) completes the join as cancelled and goes on
    /// unwinding.
    fn run(&self, task: &Task, no_stack: Option<io::Error>);

    /// Completes the join as cancelled, dropping the function unrun, unless
    /// it is complete already.
    fn cancel(&self, task: &Task);

    /// If the join is complete, moves the result into `out` and returns
    /// `true`; else leaves `waiter` to be woken when it is.
    ///
    /// # Safety
    /// `out` must point to an `Option<Result<T, JoinError>>` of this body's
    /// `T`.
    unsafe fn poll_join(&self, task: &Task, out: *mut (), waiter: Option<Unparker>) -> bool;

    /// The `JoinHandle` is gone: drop the result now (or as soon as there is
    /// one) rather than keep it for nobody.
    fn detach(&self, task: &Task);
}

pub(crate) struct Body<F, T> {
    /// The function until it runs, then its result until the handle takes
    /// it (the two never live at once, so they share the space). Who may
    /// touch it is told by the task's `join` state: see `Sync` below.
    stage: UnsafeCell<Stage<F, T>>,
    /// A `join` waiting for `JOIN_DONE`: written by the handle while the
    /// state is `JOIN_PENDING`, published by its CAS to `JOIN_WAITING`, and
    /// taken by the completer whose swap to `JOIN_DONE` found that.
    waiter: UnsafeCell<Option<Unparker>>,
}

enum Stage<F, T> {
    /// Not run yet.
    Pending(F),
    /// Run (or cancelled); the result waits for the handle.
    Done(Result<T, JoinError>),
    /// Running, or the result taken or dropped.
    Taken,
}

/// Running; the handle may still want the result.
const JOIN_PENDING: u8 = 0;
/// Running, and the handle waits: `waiter` is the completer's to wake.
const JOIN_WAITING: u8 = 1;
/// Running; the handle is gone, nobody wants the result.
const JOIN_DETACHED: u8 = 2;
/// Finished, the result waits for the handle.
const JOIN_DONE: u8 = 3;
/// Finished, and the result taken or dropped.
const JOIN_TAKEN: u8 = 4;

// SAFETY: until the task's `join` state reaches `JOIN_DONE`, `stage` is the
// fiber owner's alone: `run` (the goroutine itself) or `cancel` (the thread
// that owns the goroutine's fiber, after the fiber is gone) takes the
// function and writes the result, and then publishes `JOIN_DONE` (release);
// neither touches `stage` once `JOIN_DONE` is reached. From then on it is
// read only by whoever moves `join` on by a CAS (acquire): the handle, or
// the completer itself after seeing the handle gone. `waiter` is the
// handle's in `JOIN_PENDING` and the completer's once it swapped
// `JOIN_WAITING` out, each side moving the state on by an RMW (see the
// field). `F` and `T` cross threads, so they must be `Send`.
unsafe impl<F: Send, T: Send> Sync for Body<F, T> {}

impl<F, T> Body<F, T> {
    pub(crate) fn new(f: F) -> Body<F, T> {
        Body {
            stage: UnsafeCell::new(Stage::Pending(f)),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Stores the result and publishes `JOIN_DONE`, waking a waiting handle
    /// or dropping the result if the handle is gone.
    ///
    /// # Safety
    /// Only the fiber's owner, once, before `JOIN_DONE` (only it moves the
    /// state there).
    unsafe fn complete(&self, task: &Task, result: Result<T, JoinError>) {
        task.mark_exited();
        // SAFETY: per the contract; nobody else reads `stage` before
        // `JOIN_DONE`.
        unsafe { *self.stage.get() = Stage::Done(result) };
        match task.join.swap(JOIN_DONE, Ordering::AcqRel) {
            JOIN_WAITING => {
                // SAFETY: the handle published the waiter with its CAS to
                // `JOIN_WAITING`, which our swap read: it is ours now.
                let waiter = unsafe { (*self.waiter.get()).take() };
                if let Some(waiter) = waiter {
                    waiter.wake();
                }
            }
            JOIN_DETACHED => {
                // SAFETY: the handle is gone (our swap read so), and we
                // wrote the result: it is ours to drop.
                drop_detached(unsafe { self.take_done(task) });
                // Its destructors may have used goroutine-locals: they die
                // here too, on the goroutine's own thread, not with the
                // last reference to the task (anywhere).
                task.locals.clear();
            }
            _ => {}
        }
    }

    /// Takes the function out, if it is still there.
    ///
    /// # Safety
    /// Only the fiber's owner, before `JOIN_DONE`.
    unsafe fn take_f(&self) -> Option<F> {
        // SAFETY: per the contract. Before `JOIN_DONE` the stage is
        // `Pending` or `Taken` (the result is written just before it), so
        // nothing is lost.
        match unsafe { mem::replace(&mut *self.stage.get(), Stage::Taken) } {
            Stage::Pending(f) => Some(f),
            _ => None,
        }
    }

    /// Marks the result taken and moves it out (`None` if there is none).
    ///
    /// # Safety
    /// Only whoever owns the result once the state is `JOIN_DONE`: the
    /// handle, after seeing `JOIN_DONE` (acquire), or the completer, after
    /// its swap to `JOIN_DONE` found the handle gone.
    unsafe fn take_done(&self, task: &Task) -> Option<Result<T, JoinError>> {
        task.join.store(JOIN_TAKEN, Ordering::Release);
        // SAFETY: per the contract, nobody else touches `stage` now.
        match unsafe { mem::replace(&mut *self.stage.get(), Stage::Taken) } {
            Stage::Done(result) => Some(result),
            _ => None,
        }
    }
}

impl<F, T> TaskBody for Body<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, task: &Task, no_stack: Option<io::Error>) {
        // SAFETY: `run` is called once, by the goroutine (or by its worker
        // when no stack could be had), before anything completes the join.
        let Some(f) = (unsafe { self.take_f() }) else {
            return;
        };
        let result = match no_stack {
            Some(e) => {
                drop(f);
                Err(JoinError {
                    repr: Box::new(JoinErrorRepr::NoStack(e)),
                })
            }
            None => match panic::catch_unwind(AssertUnwindSafe(|| {
                // Its locals die on its own stack, even when it unwinds, and
                // before its join completes, as a thread's locals die before
                // its `join` returns.
                let _locals = ClearLocals(task);
                f()
            })) {
                Ok(value) => Ok(value),
                Err(payload) if payload.is::<ForcedUnwind>() => {
                    // SAFETY: the goroutine is the fiber's owner, and
                    // nothing completed the join while it ran.
                    unsafe { self.complete(task, Err(JoinError::cancelled())) };
                    panic::resume_unwind(payload);
                }
                Err(payload) => Err(JoinError::panic(payload)),
            },
        };
        // SAFETY: as above.
        unsafe { self.complete(task, result) };
    }

    fn cancel(&self, task: &Task) {
        if task.join.load(Ordering::Acquire) >= JOIN_DONE {
            return; // completed already (a forced unwind, then `cancel`)
        }
        // SAFETY: called by the fiber's owner after the fiber is gone, so
        // `run` cannot be running, and the join is not done (checked above;
        // only we could have moved it there).
        drop_detached(unsafe { self.take_f() });
        // SAFETY: as above.
        unsafe { self.complete(task, Err(JoinError::cancelled())) };
    }

    unsafe fn poll_join(&self, task: &Task, out: *mut (), waiter: Option<Unparker>) -> bool {
        // SAFETY: the caller guarantees `out`'s type.
        let out = unsafe { &mut *out.cast::<Option<Result<T, JoinError>>>() };
        let state = task.join.load(Ordering::Acquire);
        if state == JOIN_DONE {
            // SAFETY: we are the handle and saw `JOIN_DONE`.
            *out = unsafe { self.take_done(task) };
            return true;
        }
        let Some(waiter) = waiter else {
            return false;
        };
        // Registered before (a spurious wake-up, or a `join_unless` that
        // gave up and asks again, perhaps from another thread): take the
        // slot back to renew it.
        if state == JOIN_WAITING
            && task
                .join
                .compare_exchange(
                    JOIN_WAITING,
                    JOIN_PENDING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
        {
            // Done meanwhile; the completer took the old waiter.
            // SAFETY: we are the handle and saw `JOIN_DONE`.
            *out = unsafe { self.take_done(task) };
            return true;
        }
        // SAFETY: in `JOIN_PENDING` the slot is the handle's alone.
        unsafe { *self.waiter.get() = Some(waiter) };
        match task.join.compare_exchange(
            JOIN_PENDING,
            JOIN_WAITING,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => false,
            Err(_) => {
                // Done first: the completer never saw our waiter.
                // SAFETY: not published, so still ours.
                drop(unsafe { (*self.waiter.get()).take() });
                // SAFETY: we are the handle and saw `JOIN_DONE`.
                *out = unsafe { self.take_done(task) };
                true
            }
        }
    }

    fn detach(&self, task: &Task) {
        let mut state = task.join.load(Ordering::Acquire);
        loop {
            let next = match state {
                JOIN_PENDING => JOIN_DETACHED,
                // A join that gave up left its waiter: take the slot back
                // to let that goroutine go, then detach.
                JOIN_WAITING => JOIN_PENDING,
                JOIN_DONE => {
                    // Finished first: the result is ours to drop.
                    // SAFETY: we are the handle and saw `JOIN_DONE`.
                    drop(unsafe { self.take_done(task) });
                    return;
                }
                _ => return,
            };
            match task
                .join
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == JOIN_PENDING => {
                    // SAFETY: back in `JOIN_PENDING`, the slot is ours.
                    drop(unsafe { (*self.waiter.get()).take() });
                    state = JOIN_PENDING;
                }
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }
}

/// Drops what nobody will take (a detached goroutine's result, a function
/// that will never run) on a worker's behalf: a destructor that panics
/// (say, a panic payload's own) must not take the worker down with it, nor
/// skip what the worker does next. The second panic is reported and its
/// payload leaked: dropping it could panic again.
fn drop_detached<V>(value: V) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        let what = panic_message(&*payload).unwrap_or("a non-string payload");
        eprintln!(
            "goro: dropping a detached goroutine's result (or its unrun function) panicked: \
             {what}; the panic is ignored"
        );
        mem::forget(payload);
    }
}

/// An owned permission to wait for a goroutine and take its result.
///
/// Dropping it detaches the goroutine, which runs on.
///
/// ```
/// let h = goro_sched::go(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
///
/// let h = goro_sched::go(|| panic!("oops"));
/// let err = h.join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "goroutine panicked: oops");
/// ```
pub struct JoinHandle<T> {
    /// `None`: a goroutine that could not be made (no memory for its task).
    task: Option<TaskRef>,
    _output: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    /// The handle of a goroutine that could not be made: no memory for its
    /// task. Its join says so.
    pub(crate) fn never_was() -> JoinHandle<T> {
        JoinHandle {
            task: None,
            _output: PhantomData,
        }
    }

    /// Waits for the goroutine to finish and returns its result: parks the
    /// calling goroutine, or blocks the calling thread.
    ///
    /// ```
    /// let h = goro_sched::go(|| 6 * 7);
    /// assert_eq!(h.join().unwrap(), 42); // blocks this thread
    ///
    /// let nested = goro_sched::run(|| {
    ///     let inner = goro_sched::go(|| "inner");
    ///     inner.join().unwrap() // parks this goroutine
    /// });
    /// assert_eq!(nested, "inner");
    /// ```
    ///
    /// # Errors
    /// A [`JoinError`] if the goroutine panicked (the panic hook has already
    /// printed it) or was unwound by its runtime's shutdown.
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        self.join_unless(|| false).expect("never stopped")
    }

    /// As `join`, but gives up (`None`) once `stop` says so; `stop` is asked
    /// before each wait, and the caller wakes the waiter to make it ask.
    #[track_caller]
    pub(crate) fn join_unless(&self, stop: impl Fn() -> bool) -> Option<Result<T, JoinError>> {
        let Some(task) = &self.task else {
            return Some(Err(JoinError::no_memory()));
        };
        let mut out: Option<Result<T, JoinError>> = None;
        let out_ptr = ptr::from_mut(&mut out).cast::<()>();
        // Done already: no waker to register.
        // SAFETY: a `JoinHandle<T>` is made only with the task whose body's
        // output is `T` (`Task::spawn`).
        if unsafe { task.body.poll_join(task, out_ptr, None) } {
            return Some(out.expect("a result is taken once"));
        }
        loop {
            // SAFETY: as above.
            if unsafe {
                task.body
                    .poll_join(task, out_ptr, Some(park::current_unparker()))
            } {
                return Some(out.expect("a result is taken once"));
            }
            if stop() {
                return None;
            }
            park::park_on(park::Wait::Join);
        }
    }

    /// The goroutine's id.
    ///
    /// ```
    /// let h = goro_sched::go(goro_sched::id);
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), Some(id));
    /// ```
    ///
    /// A goroutine that could not be made (out of memory) has the id 0,
    /// which no goroutine has.
    pub fn id(&self) -> GoroutineId {
        self.task.as_ref().map_or(GoroutineId(0), |task| task.id)
    }

    /// Whether the goroutine has finished (returned, panicked or been unwound).
    ///
    /// ```
    /// let h = goro_sched::go(|| 1);
    /// while !h.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(h.join().unwrap(), 1); // at once
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task
            .as_ref()
            .is_none_or(|task| task.join.load(Ordering::Acquire) >= JOIN_DONE)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.body.detach(task);
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task's block sits in the pool's 192-byte class when its function
    /// captures three words and returns one: keep it there (a leaf of
    /// `skynet` is such a task, and a million of them live at once; the
    /// 256-byte class cost `spawn` and `skynet` 7-8%).
    #[test]
    fn a_wait_site_comes_back_as_it_was_stored() {
        let site = WaitSite::new();
        assert!(site.get().is_none());
        let here = Location::caller();
        site.set(here);
        assert_eq!(site.get(), Some(here));
        // A location of another crate (std's own code calls `caller` for
        // its panics; any `&'static Location` will do).
        let other: &'static Location<'static> = std::panic::Location::caller();
        site.set(other);
        assert_eq!(
            site.get().map(|l| (l.file(), l.line())),
            Some((other.file(), other.line()))
        );
    }

    #[test]
    fn a_small_task_fits_a_192_byte_block() {
        fn size_of_task<F: FnOnce() -> T, T>(_: &F) -> usize {
            mem::size_of::<Task<Body<F, T>>>()
        }
        let (a, b, c) = (1u64, 2u64, 3u64);
        let f = move || a + b + c;
        assert!(size_of_task(&f) <= 192, "{}", size_of_task(&f));
    }
}
