//! Stackful coroutines on guard-paged stacks: the context-switching layer of goro.
//!
//! A [`Coroutine`] runs a function on a stack of its own. The function can
//! [`suspend`](Yielder::suspend) itself from any depth of calls, handing a value
//! out; [`resume`](Coroutine::resume) hands a value in and runs it again until the
//! next suspend or its return. Goroutines (`goro-sched`) are coroutines that a
//! scheduler resumes; alone they make generators and state machines.
//!
//! ```
//! use goro_fiber::{Coroutine, CoroutineResult};
//!
//! let mut fib = Coroutine::new(|yielder, ()| {
//!     let (mut a, mut b) = (0u64, 1u64);
//!     for _ in 0..10 {
//!         yielder.suspend(a);
//!         (a, b) = (b, a + b);
//!     }
//! });
//! let mut seen = Vec::new();
//! while let CoroutineResult::Yield(n) = fib.resume(()) {
//!     seen.push(n);
//! }
//! assert_eq!(seen, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
//! ```
//!
//! # Stacks
//!
//! A stack is 256 KiB of address space by default ([`DEFAULT_STACK_SIZE`];
//! 2 MiB in a build with debug assertions, whose frames are larger),
//! committed page by page as the coroutine touches it, so a coroutine that
//! stays shallow costs a little over one page of memory. Sizes from 16 KiB to
//! 1 GiB can be asked for with [`Coroutine::with_stack_size`]. Below each stack
//! lies a guard page; running into it prints which stack overflowed and how to
//! enlarge it, then aborts, as std does for a thread. See [`stack`] for how
//! stacks are carved, guarded and reused.
//!
//! # Panics and drops
//!
//! A panic inside a coroutine is caught on its own stack and resurfaces from
//! `resume`; it never unwinds through the switch. Dropping a coroutine that
//! has not finished unwinds its stack from the pending `suspend`, so every
//! destructor on it runs.
//!
//! ```
//! use goro_fiber::Coroutine;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! let drops = Arc::new(AtomicUsize::new(0));
//! struct Guard(Arc<AtomicUsize>);
//! impl Drop for Guard {
//!     fn drop(&mut self) { self.0.fetch_add(1, Ordering::SeqCst); }
//! }
//! let d = drops.clone();
//! let mut co = Coroutine::<(), (), ()>::new(move |y, ()| {
//!     let _guard = Guard(d);
//!     y.suspend(());
//!     unreachable!("never resumed");
//! });
//! co.resume(());
//! drop(co);
//! assert_eq!(drops.load(Ordering::SeqCst), 1);
//! ```
//!
//! # Thread-locals
//!
//! A [`Coroutine`] is not `Send`: it is resumed on the thread that made it, so
//! a `thread_local!` borrowed across a `suspend` is still that thread's when
//! it resumes. (Moving one to another thread is for a scheduler that answers
//! for everything on its stacks: `goro-sched` does, under an `unsafe`
//! contract.)
//!
//! # Supported targets
//!
//! | arch    | OS    | switch | status                                   |
//! |---------|-------|--------|------------------------------------------|
//! | x86_64  | Linux | asm    | tested                                   |
//! | aarch64 | Linux | asm    | tested under qemu-user, not on hardware  |
//!
//! Any other target fails to compile with a message naming these.
//!
//! # Module map
//!
//! * [`Coroutine`], [`Yielder`], [`CoroutineResult`]: the coroutine itself;
//!   [`ForcedUnwind`], the payload that unwinds a dropped one.
//! * [`stack`]: [`Stack`](stack::Stack), the sizes, and [`GuardKind`](stack::GuardKind).
//! * [`prepare_thread`]: readies a thread to report a coroutine's stack overflow
//!   (done for you when it allocates a stack).

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

mod arch;
mod coroutine;
mod overflow;
pub mod stack;

pub use crate::coroutine::{Coroutine, CoroutineResult, ForcedUnwind, Yielder};
pub use crate::overflow::prepare_thread;
pub use crate::stack::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE};
