//! `Coroutine`, `Yielder` and `CoroutineResult`: the safe layer over the switch.
//!
//! Values cross a switch as a pointer to a slot on the sending side's stack; the
//! receiving side moves the value out before anything else runs, and the
//! sender treats the slot as moved-from (`ManuallyDrop`).
//!
//! A resume whose argument is the null pointer asks the coroutine to unwind:
//! `suspend` sees it and raises a private `ForcedUnwind` panic payload, which
//! the coroutine's entry catches like any other panic. That is how dropping an
//! unfinished coroutine runs the destructors on its stack.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::arch::{self, STACK_HEADER};
use crate::stack::{DEFAULT_STACK_SIZE, Stack};

/// What a [`Coroutine::resume`] produced: a value passed to
/// [`Yielder::suspend`], or the coroutine's return value.
///
/// ```
/// use goro_fiber::{Coroutine, CoroutineResult};
///
/// let mut co = Coroutine::new(|yielder, ()| {
///     yielder.suspend("one");
///     2
/// });
/// match co.resume(()) {
///     CoroutineResult::Yield(v) => assert_eq!(v, "one"),
///     CoroutineResult::Return(_) => unreachable!(),
/// }
/// assert_eq!(co.resume(()), CoroutineResult::Return(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoroutineResult<Y, R> {
    /// The coroutine suspended itself with this value.
    Yield(Y),
    /// The coroutine finished with this value.
    Return(R),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if this is a `Yield`.
    ///
    /// ```
    /// use goro_fiber::CoroutineResult;
    ///
    /// let r: CoroutineResult<&str, i32> = CoroutineResult::Yield("one");
    /// assert_eq!(r.as_yield(), Some(&"one"));
    /// assert_eq!(r.as_return(), None);
    /// ```
    pub fn as_yield(&self) -> Option<&Y> {
        match self {
            CoroutineResult::Yield(y) => Some(y),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The return value, if this is a `Return`.
    ///
    /// ```
    /// use goro_fiber::CoroutineResult;
    ///
    /// let r: CoroutineResult<&str, i32> = CoroutineResult::Return(2);
    /// assert_eq!(r.as_return(), Some(&2));
    /// assert_eq!(r.as_yield(), None);
    /// ```
    pub fn as_return(&self) -> Option<&R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(r) => Some(r),
        }
    }
}

/// A stackful coroutine: a function running on its own stack that can suspend
/// itself in the middle of any call chain and be resumed later.
///
/// `I` is what each [`resume`](Coroutine::resume) passes in, `Y` what each
/// [`suspend`](Yielder::suspend) passes out, and `R` what the function returns.
///
/// ```
/// use goro_fiber::{Coroutine, CoroutineResult};
///
/// // A generator of the running sums of its inputs.
/// let mut sums = Coroutine::new(|yielder, mut input: u64| {
///     let mut total = 0;
///     loop {
///         total += input;
///         if total > 10 {
///             return "done";
///         }
///         input = yielder.suspend(total);
///     }
/// });
/// assert_eq!(sums.resume(4), CoroutineResult::Yield(4));
/// assert_eq!(sums.resume(5), CoroutineResult::Yield(9));
/// assert_eq!(sums.resume(6), CoroutineResult::Return("done"));
/// assert!(sums.is_finished());
/// ```
///
/// A panic inside the coroutine resurfaces from `resume`. Dropping a coroutine
/// that has not finished unwinds its stack, so the destructors of everything
/// alive on it run.
///
/// A `Coroutine` is neither `Send` nor `Sync`, as corosensei's: code on its
/// stack may hold a reference to a `thread_local!` (or an `Rc` cloned out of
/// one, a reentrant lock's guard) across a `suspend`, which would be another
/// thread's after a move. A scheduler that controls everything its
/// coroutines run (as goro's does) moves them between threads under its own
/// `unsafe` contract.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: &T) {}
/// let co = goro_fiber::Coroutine::<(), (), ()>::new(|_, ()| ());
/// assert_send(&co); // a coroutine stays on the thread that made it
/// ```
pub struct Coroutine<I, Y, R> {
    /// The saved stack pointer while suspended or not yet started; null once
    /// finished.
    sp: *mut u8,
    /// The top of the switch's frames: the function waits above it, the
    /// switch header (`arch`) lies right below it.
    base: *mut u8,
    /// Where the function waits for its first resume; once the coroutine has
    /// finished, where its result is.
    data: *mut u8,
    started: bool,
    /// `unwind` raised `ForcedUnwind` in it, and it has not finished since.
    unwinding: bool,
    /// It last suspended, while unwinding, with its thread panicking: in
    /// code that runs during the unwind (a destructor), where a second
    /// unwind cannot be raised.
    in_cleanup: bool,
    /// Drops the function in place if the coroutine never starts.
    drop_unstarted: unsafe fn(*mut u8),
    /// Freed in `drop`, unless the coroutine is dropped while suspended in
    /// its unwinding (then leaked: its frames are never finished).
    stack: ManuallyDrop<Stack>,
    _marker: PhantomData<fn(I) -> (Y, R)>,
}

/// The handle a coroutine's function gets for suspending itself.
///
/// It lives on the coroutine's own stack and is passed by reference, so it can
/// be used only from inside that coroutine.
///
/// ```
/// use goro_fiber::{Coroutine, CoroutineResult, Yielder};
///
/// // Pass the yielder down: a coroutine suspends from any depth of calls.
/// fn count_down(yielder: &Yielder<(), u32>, n: u32) {
///     if n > 0 {
///         yielder.suspend(n);
///         count_down(yielder, n - 1);
///     }
/// }
///
/// let mut co = Coroutine::new(|yielder, ()| count_down(yielder, 3));
/// let mut seen = Vec::new();
/// while let CoroutineResult::Yield(n) = co.resume(()) {
///     seen.push(n);
/// }
/// assert_eq!(seen, [3, 2, 1]);
/// ```
pub struct Yielder<I, Y> {
    base: *mut u8,
    /// The lowest usable address of the coroutine's stack.
    bottom: *mut u8,
    _marker: PhantomData<fn(Y) -> I>,
}

/// What a coroutine starts from, at the top of its stack: its function,
/// and where its stack ends (for `Yielder::is_current`).
struct Start<F> {
    bottom: *mut u8,
    f: F,
}

/// The panic payload that unwinds a coroutine being dropped.
///
/// Dropping a suspended coroutine raises it at the pending
/// [`suspend`](Yielder::suspend). Code that catches panics inside a coroutine
/// and carries on (a task runner, say) must re-raise this one with
/// [`std::panic::resume_unwind`], or the coroutine is simply unwound again.
///
/// ```
/// use goro_fiber::{Coroutine, ForcedUnwind};
/// use std::panic;
///
/// let mut co = Coroutine::<(), (), ()>::new(|y, ()| {
///     if let Err(payload) = panic::catch_unwind(|| y.suspend(())) {
///         if payload.is::<ForcedUnwind>() {
///             // Clean up, then let the unwinding go on.
///             panic::resume_unwind(payload);
///         }
///     }
/// });
/// co.resume(());
/// drop(co); // unwinds through the catch above
/// ```
#[derive(Debug)]
pub struct ForcedUnwind;

impl<I, Y, R> Coroutine<I, Y, R> {
    /// Creates a coroutine on a stack of the default size
    /// ([`DEFAULT_STACK_SIZE`]: 256 KiB of address space, 2 MiB in a debug
    /// build, committed as it is used). It does not start until the first
    /// [`resume`](Coroutine::resume), whose input becomes `f`'s second argument.
    ///
    /// ```
    /// use goro_fiber::{Coroutine, CoroutineResult};
    ///
    /// let mut co = Coroutine::new(|yielder, first: i32| {
    ///     let second = yielder.suspend(first * 10);
    ///     first + second
    /// });
    /// assert_eq!(co.resume(1), CoroutineResult::Yield(10)); // starts it: `first` is 1
    /// assert_eq!(co.resume(2), CoroutineResult::Return(3)); // `suspend` returns 2
    /// ```
    ///
    /// # Panics
    /// If no stack can be had (the address space or the `vm.max_map_count`
    /// budget is exhausted); [`with_stack_size`](Coroutine::with_stack_size)
    /// returns that as an `Err` instead.
    pub fn new<F>(f: F) -> Coroutine<I, Y, R>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        match Coroutine::with_stack_size(DEFAULT_STACK_SIZE, f) {
            Ok(co) => co,
            Err(e) => panic!("cannot create a coroutine: {e}"),
        }
    }

    /// Creates a coroutine on a stack of `bytes` bytes, rounded up to whole
    /// pages.
    ///
    /// ```
    /// use goro_fiber::Coroutine;
    ///
    /// let co = Coroutine::<(), (), ()>::with_stack_size(64 * 1024, |_, ()| ())?;
    /// let err = Coroutine::<(), (), ()>::with_stack_size(100, |_, ()| ()).unwrap_err();
    /// assert!(err.to_string().contains("16 KiB to 1024 MiB"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for a size outside 16 KiB ..= 1 GiB; `OutOfMemory` when
    /// the address space or the `vm.max_map_count` budget is exhausted, with a
    /// message that says what to change.
    pub fn with_stack_size<F>(bytes: usize, f: F) -> io::Result<Coroutine<I, Y, R>>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let stack = Stack::new(bytes)?;
        // The function waits at the top of the stack, aligned for its type;
        // the switch's header and the coroutine's frames go below it.
        let top = stack.top() as usize;
        let data = (top - mem::size_of::<Start<F>>()) & !(mem::align_of::<Start<F>>() - 1);
        let base = data & !15;
        if top - base + STACK_HEADER > stack.size() / 2 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the coroutine's function captures {} bytes, more than half of its \
                     {}-byte stack: box the captured state or give it a larger stack",
                    mem::size_of::<F>(),
                    stack.size()
                ),
            ));
        }
        let (data, base) = (data as *mut u8, base as *mut u8);
        // SAFETY: `data` is aligned for `Start<F>` and the `Start<F>` there
        // lies at the top of our stack, which nothing runs on yet.
        unsafe {
            data.cast::<Start<F>>().write(Start {
                bottom: stack.bottom(),
                f,
            })
        };
        // SAFETY: `base` is 16-byte aligned, at or below `data`, with more than
        // `STACK_HEADER` bytes of our stack below it (checked above).
        let sp = unsafe { arch::init_stack(base, entry::<I, Y, R, F>, data) };
        Ok(Coroutine {
            sp,
            base,
            data,
            started: false,
            unwinding: false,
            in_cleanup: false,
            drop_unstarted: drop_in_place::<Start<F>>,
            stack: ManuallyDrop::new(stack),
            _marker: PhantomData,
        })
    }

    /// Runs the coroutine until it suspends or returns. On the first call
    /// `input` becomes the function's second argument; afterwards it is what
    /// the pending [`Yielder::suspend`] returns.
    ///
    /// ```
    /// use goro_fiber::{Coroutine, CoroutineResult};
    ///
    /// let mut lengths = Coroutine::new(|yielder, mut input: String| {
    ///     while input != "stop" {
    ///         input = yielder.suspend(input.len());
    ///     }
    ///     "stopped"
    /// });
    /// assert_eq!(lengths.resume("go".into()), CoroutineResult::Yield(2));
    /// assert_eq!(lengths.resume("gopher".into()), CoroutineResult::Yield(6));
    /// assert_eq!(lengths.resume("stop".into()), CoroutineResult::Return("stopped"));
    ///
    /// // A panic inside comes out of `resume`.
    /// let mut bad = Coroutine::<(), (), ()>::new(|_, ()| panic!("inside"));
    /// let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bad.resume(())));
    /// assert!(caught.is_err());
    /// assert!(bad.is_finished());
    /// ```
    ///
    /// # Panics
    /// If the coroutine has already finished, or is being unwound (go on
    /// with [`unwind`](Coroutine::unwind)). A panic inside the coroutine
    /// resurfaces here, after which the coroutine counts as finished.
    #[inline]
    pub fn resume(&mut self, input: I) -> CoroutineResult<Y, R> {
        assert!(
            !self.is_finished(),
            "resumed a coroutine that has already finished (check is_finished() first)"
        );
        assert!(
            !self.unwinding,
            "resumed a coroutine that is being unwound (go on with unwind())"
        );
        let input = ManuallyDrop::new(input);
        match self.switch_in(ptr::from_ref(&input) as usize) {
            // SAFETY: a yield passes a pointer to a `Y` it no longer owns.
            Some(y) => CoroutineResult::Yield(unsafe { ptr::read(y as *const Y) }),
            // SAFETY: `finish` passes a pointer to the function's result, which
            // it no longer owns.
            None => match unsafe { self.take_result() } {
                Ok(r) => CoroutineResult::Return(r),
                Err(payload) => panic::resume_unwind(payload),
            },
        }
    }

    /// Whether the coroutine has returned (or panicked). Resuming it then panics.
    ///
    /// ```
    /// use goro_fiber::{Coroutine, CoroutineResult};
    ///
    /// let mut co = Coroutine::<(), (), ()>::new(|yielder, ()| yielder.suspend(()));
    /// assert!(!co.is_finished());
    /// assert_eq!(co.resume(()), CoroutineResult::Yield(()));
    /// assert!(!co.is_finished());
    /// assert_eq!(co.resume(()), CoroutineResult::Return(()));
    /// assert!(co.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.sp.is_null()
    }

    /// Unwinds the coroutine as dropping it does, running the destructors
    /// on its stack, but lets that code suspend on the way (a destructor
    /// that waits for something) where a drop could only give up.
    ///
    /// The first call raises [`ForcedUnwind`] at the pending
    /// [`suspend`](Yielder::suspend) (a coroutine that never started is
    /// dropped unrun). If code that runs during the unwind suspends (its
    /// thread panicking), its value comes back as `Yield`, and the next call
    /// hands `input` to that `suspend`, which returns it as usual; code that
    /// caught the unwind and then suspends is unwound again, as by a drop.
    /// `Return(())` once the coroutine has finished; if its function caught
    /// the unwind and returned, the result is dropped. Dropping a coroutine
    /// suspended during its unwind leaks its stack: a second unwind cannot
    /// be raised there.
    ///
    /// ```
    /// use goro_fiber::{Coroutine, CoroutineResult};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// struct Flush<'a>(&'a goro_fiber::Yielder<(), &'static str>, Rc<Cell<bool>>);
    /// impl Drop for Flush<'_> {
    ///     fn drop(&mut self) {
    ///         self.0.suspend("flushing"); // waits, while the coroutine unwinds
    ///         self.1.set(true);
    ///     }
    /// }
    ///
    /// let flushed = Rc::new(Cell::new(false));
    /// let f = flushed.clone();
    /// let mut co = Coroutine::new(move |y, ()| {
    ///     let _flush = Flush(y, f);
    ///     y.suspend("working");
    /// });
    /// assert_eq!(co.resume(()), CoroutineResult::Yield("working"));
    /// assert_eq!(co.unwind(()), CoroutineResult::Yield("flushing"));
    /// assert!(!flushed.get());
    /// assert_eq!(co.unwind(()), CoroutineResult::Return(()));
    /// assert!(flushed.get() && co.is_finished());
    /// ```
    ///
    /// # Panics
    /// If the coroutine has already finished. A panic other than the
    /// unwind's own (code that caught `ForcedUnwind` and panicked) resurfaces
    /// here, unless the calling thread is panicking.
    pub fn unwind(&mut self, input: I) -> CoroutineResult<Y, ()> {
        assert!(
            !self.is_finished(),
            "unwound a coroutine that has already finished (check is_finished() first)"
        );
        if !self.started {
            // SAFETY: the function was written at `data` and never moved out.
            unsafe { (self.drop_unstarted)(self.data) };
            self.sp = ptr::null_mut();
            return CoroutineResult::Return(());
        }
        let input = ManuallyDrop::new(input);
        let arg = if self.unwinding && self.in_cleanup {
            ptr::from_ref(&input) as usize
        } else {
            // The input is not wanted: the pending `suspend` raises instead.
            drop(ManuallyDrop::into_inner(input));
            self.unwinding = true;
            0
        };
        match self.switch_in(arg) {
            Some(y) => {
                // The coroutine ran on this thread: if it is panicking, the
                // unwind is in flight where the coroutine suspended.
                self.in_cleanup = std::thread::panicking();
                // SAFETY: a yield passes a pointer to a `Y` it no longer owns.
                CoroutineResult::Yield(unsafe { ptr::read(y as *const Y) })
            }
            None => {
                self.unwinding = false;
                self.in_cleanup = false;
                // SAFETY: `switch_in` just returned `None`.
                match unsafe { self.take_result() } {
                    Ok(_) => CoroutineResult::Return(()),
                    Err(payload) if payload.is::<ForcedUnwind>() => CoroutineResult::Return(()),
                    Err(payload) if !std::thread::panicking() => panic::resume_unwind(payload),
                    Err(_) => CoroutineResult::Return(()),
                }
            }
        }
    }

    /// Whether [`unwind`](Coroutine::unwind) has begun unwinding the
    /// coroutine and it has not finished yet.
    pub fn is_unwinding(&self) -> bool {
        self.unwinding
    }

    /// The stack the coroutine runs on.
    ///
    /// ```
    /// let co = goro_fiber::Coroutine::<(), (), ()>::with_stack_size(64 * 1024, |_, ()| ())?;
    /// assert_eq!(co.stack().size(), 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Switches in with `arg`; `Some(pointer to Y)` for a yield, `None` when
    /// the coroutine has finished (its result is then behind `self.data`).
    #[inline(always)]
    fn switch_in(&mut self, arg: usize) -> Option<usize> {
        self.started = true;
        // SAFETY: `sp` is the saved stack pointer of this suspended (or not yet
        // started) coroutine whose frames top out at `base`, and `&mut self` means nobody else is
        // resuming it.
        let (value, sp) = unsafe { arch::resume(arg, self.sp, self.base) };
        self.sp = sp;
        if sp.is_null() {
            self.data = value as *mut u8;
            None
        } else {
            Some(value)
        }
    }

    /// Moves the finished coroutine's result out.
    ///
    /// # Safety
    /// Only once, right after `switch_in` returned `None`.
    unsafe fn take_result(&mut self) -> std::thread::Result<R> {
        // SAFETY: per the contract, `data` points at the `thread::Result<R>`
        // that `entry` handed to `finish`, still on the (now idle) stack.
        unsafe { ptr::read(self.data as *const std::thread::Result<R>) }
    }
}

impl<I, Y, R> Drop for Coroutine<I, Y, R> {
    fn drop(&mut self) {
        if self.in_cleanup {
            // Suspended in code that runs while it unwinds (see `unwind`): a
            // second unwind raised there would abort the process. Its frames
            // are never finished, so its stack, where they may lend memory
            // to others, is never freed.
            return;
        }
        self.finish();
        // SAFETY: dropped once, here; nothing runs on it any more.
        unsafe { ManuallyDrop::drop(&mut self.stack) };
    }
}

impl<I, Y, R> Coroutine<I, Y, R> {
    /// Brings the coroutine to its end for `drop`: drops an unstarted
    /// function, unwinds a suspended one.
    fn finish(&mut self) {
        if self.is_finished() {
            return;
        }
        if !self.started {
            // SAFETY: the function was written at `data` and never moved out.
            unsafe { (self.drop_unstarted)(self.data) };
            return;
        }
        // Unwind the stack: every resume with a null argument raises
        // `ForcedUnwind` at the pending `suspend`. Code that catches it and
        // suspends again is simply unwound again.
        loop {
            match self.switch_in(0) {
                // SAFETY: as in `resume`.
                Some(y) => drop(unsafe { ptr::read(y as *const Y) }),
                // SAFETY: as in `resume`.
                None => match unsafe { self.take_result() } {
                    Ok(_) => return,
                    Err(payload) if payload.is::<ForcedUnwind>() => return,
                    Err(payload) if !std::thread::panicking() => panic::resume_unwind(payload),
                    Err(_) => return,
                },
            }
        }
    }
}

impl<I, Y, R> fmt::Debug for Coroutine<I, Y, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (self.started, self.is_finished()) {
            (_, true) => "finished",
            (false, _) => "not started",
            (true, false) => "suspended",
        };
        f.debug_struct("Coroutine")
            .field("state", &state)
            .field("stack", &self.stack)
            .finish()
    }
}

impl<I, Y> Yielder<I, Y> {
    /// Suspends the coroutine, handing `value` to the `resume` that is running
    /// it; returns the input of the next `resume`.
    ///
    /// If the coroutine is dropped while suspended here, this call does not
    /// return: it unwinds the coroutine's stack instead.
    ///
    /// ```
    /// use goro_fiber::{Coroutine, CoroutineResult};
    ///
    /// // A running total: each `resume` hands in a number, each `suspend` hands
    /// // out the total so far and returns the next number.
    /// let mut sum = Coroutine::new(|yielder, mut x: u64| {
    ///     let mut total = 0;
    ///     while x != 0 {
    ///         total += x;
    ///         x = yielder.suspend(total);
    ///     }
    ///     total
    /// });
    /// assert_eq!(sum.resume(5), CoroutineResult::Yield(5));
    /// assert_eq!(sum.resume(7), CoroutineResult::Yield(12));
    /// assert_eq!(sum.resume(0), CoroutineResult::Return(12));
    /// ```
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        let value = ManuallyDrop::new(value);
        // SAFETY: a `Yielder` exists only on its coroutine's stack, handed by
        // reference to code that runs there, so we are running on `base`'s
        // stack inside a `resume`.
        let input = unsafe { arch::suspend(ptr::from_ref(&value) as usize, self.base) };
        if input == 0 {
            panic::resume_unwind(Box::new(ForcedUnwind));
        }
        // SAFETY: `resume` passes a pointer to an `I` it no longer owns.
        unsafe { ptr::read(input as *const I) }
    }
}

impl<I, Y> Yielder<I, Y> {
    /// Whether the calling code runs on this yielder's coroutine's own
    /// stack, rather than on the stack of another coroutine that it resumed
    /// (or that was resumed elsewhere). A scheduler uses it to tell a
    /// goroutine's own frames from those of a coroutine nested inside it.
    ///
    /// ```
    /// use goro_fiber::{Coroutine, CoroutineResult};
    ///
    /// let mut outer = Coroutine::<(), bool, ()>::new(|outer_y, ()| {
    ///     let outer_y: *const _ = outer_y;
    ///     // SAFETY: the inner coroutine finishes while `outer_y` lives.
    ///     let mut inner = Coroutine::<(), bool, ()>::new(move |y, ()| {
    ///         y.suspend(unsafe { (*outer_y).is_current() });
    ///     });
    ///     let CoroutineResult::Yield(inner_sees_outer) = inner.resume(()) else { unreachable!() };
    ///     // SAFETY: as above.
    ///     unsafe { (*outer_y).suspend(inner_sees_outer) };
    ///     unsafe { (*outer_y).suspend((*outer_y).is_current()) };
    /// });
    /// assert_eq!(outer.resume(()), CoroutineResult::Yield(false)); // called from `inner`
    /// assert_eq!(outer.resume(()), CoroutineResult::Yield(true)); // from `outer` itself
    /// ```
    #[inline]
    pub fn is_current(&self) -> bool {
        let here = 0u8;
        let here = ptr::from_ref(&here) as usize;
        (self.bottom as usize..self.base as usize).contains(&here)
    }
}

impl<I, Y> fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}

/// The first Rust frame of every coroutine: runs `F` under `catch_unwind` and
/// hands the result to the resumer with the final switch.
///
/// # Safety
/// Called only by the entry trampoline, on the coroutine's stack, with the
/// arguments that `with_stack_size` arranged.
unsafe extern "C" fn entry<I, Y, R, F>(arg: usize, base: *mut u8, data: *mut u8) -> !
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    // SAFETY: `new` wrote a `Start<F>` at `data`; this is its only move out.
    let Start { bottom, f } = unsafe { ptr::read(data as *const Start<F>) };
    let yielder = Yielder {
        base,
        bottom,
        _marker: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a resume with a null argument on a coroutine that never ran
        // does not happen (`Drop` drops the function in place instead), so
        // this is the first resume's `I`, which it no longer owns.
        let input = unsafe { ptr::read(arg as *const I) };
        f(&yielder, input)
    }));
    let result = ManuallyDrop::new(result);
    // Nothing on this frame needs dropping any more: `f` was consumed, the
    // result is handed over, `yielder` has no destructor.
    // SAFETY: we run on `base`'s stack, inside a resume.
    unsafe { arch::finish(ptr::from_ref(&*result) as usize, base) }
}

/// Drops the `F` at `data`.
///
/// # Safety
/// `data` must point at an `F` that is not used again.
unsafe fn drop_in_place<F>(data: *mut u8) {
    // SAFETY: per the contract.
    unsafe { ptr::drop_in_place(data.cast::<F>()) }
}
