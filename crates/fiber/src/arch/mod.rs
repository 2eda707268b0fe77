//! The register switch: one file per architecture, each exporting the same
//! interface.
//!
//! Every coroutine has a `base`: a 16-byte aligned address near its stack's
//! top, above which the layer above keeps the coroutine's function until it
//! starts. Right below `base` lies a small header that the switch code and the
//! unwinder agree on:
//!
//! ```text
//! base -  8  link   the resumer's stack pointer, written by every `resume`
//! base - 16  entry  the `EntryFn` that starts the coroutine
//! base - 24  data   the pointer handed to `entry` as its third argument
//! base - 32  (padding; keeps the entry call 16-byte aligned)
//! below      the saved frames of the first switch (see `init_stack`)
//! ```
//!
//! The interface, identical on every architecture:
//!
//! * `init_stack(base, entry, data) -> sp`: writes the header and an initial
//!   frame so that the first `resume` jumps into the entry trampoline.
//! * `resume(arg, sp, base) -> (value, sp)`: switches to the coroutine whose
//!   saved stack pointer is `sp`; returns what it passed to `suspend` or
//!   `finish`, and its new stack pointer (null once it has finished).
//! * `suspend(arg, base) -> value`: called on the coroutine's stack; switches back
//!   to the resumer, returns the `arg` of the next `resume`.
//! * `finish(arg, base) -> !`: the coroutine's last switch.
//!
//! The entry trampoline carries DWARF CFI that names the resumer's frame as its
//! caller, so a backtrace (or a debugger) taken inside a coroutine walks on into
//! the code that called `resume`.
//!
//! Values cross the switch as one machine word (`arg`); the layer above passes
//! pointers to values that live on the sending side's stack.

/// The function a new coroutine starts in: `entry(arg, base, data)`, where `arg`
/// is the first `resume`'s argument. It must never return: it ends with `finish`.
/// (`extern "C"` is System V on x86_64 Linux and AAPCS64 on aarch64.)
pub(crate) type EntryFn = unsafe extern "C" fn(usize, *mut u8, *mut u8) -> !;

/// Bytes below `base` taken by the header and the initial frame.
pub(crate) const STACK_HEADER: usize = 64;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use self::x86_64::{finish, init_stack, resume, suspend};

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub(crate) use self::aarch64::{finish, init_stack, resume, suspend};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "goro-fiber supports x86_64 and aarch64 (System V / AAPCS64, on Linux); \
     this target has no context switch yet"
);

#[cfg(not(target_os = "linux"))]
compile_error!("goro-fiber runs on Linux only for now (it needs mmap, madvise and sigaltstack)");
