//! The AArch64 (AAPCS64) switch, to the same contract as `x86_64.rs`. The
//! development and CI machines are x86_64, so it runs only under qemu-user
//! (`ci/aarch64.sh`; see ARCHITECTURE.md).
//!
//! Callee-saved state is x19–x29, the low halves of v8–v15 (d8–d15), sp and
//! the return address in x30. The `asm!` blocks declare everything clobbered
//! except x19 and x29 (which `asm!` may not name) and save those two by hand.
//! As on x86_64, `resume` *calls* (`blr`) the coroutine's resume address and
//! `suspend`/`finish` *return* (`ret`) to that call, so the return-stack
//! predictor stays right.
//!
//! A suspended coroutine is its stack pointer, which points at this frame:
//!
//! ```text
//! sp + 24  saved x19
//! sp + 16  saved x29 (frame pointer)
//! sp +  8  (padding)
//! sp +  0  resume address: the landing code at the end of its `suspend`
//! ```
//!
//! A waiting resumer leaves the same shape on its own stack (with x30, its
//! return address), and the coroutine stores that frame's address in the link
//! slot at `base - 8` when it lands.
//!
//! Registers on a switch: x0 carries the value, x1 the coroutine's stack
//! pointer (null after `finish`), x2 the coroutine's base.

use core::arch::{asm, naked_asm};

use super::EntryFn;

/// Writes the header (see `arch/mod.rs`) and an initial frame whose return
/// address is the entry trampoline. Returns the initial stack pointer.
///
/// # Safety
/// `base` must be 16-byte aligned, the top of a writable stack with at least
/// `STACK_HEADER` bytes below it.
pub(crate) unsafe fn init_stack(base: *mut u8, entry: EntryFn, data: *mut u8) -> *mut u8 {
    let sp = base.wrapping_sub(48);
    let frame = [
        trampoline as *const () as usize, // initial resume address
        0,                                // padding of the initial frame
        0,                                // padding
        data as usize,
        entry as *const () as usize,
        0, // link, written by every resume
    ];
    // SAFETY: the caller guarantees the 48 bytes below `base` are ours to
    // write; `sp` is 16-byte aligned because `base` is.
    unsafe { sp.cast::<[usize; 6]>().write(frame) };
    sp
}

/// The first code a coroutine runs, called (`blr`) by the first `resume`
/// with x1 = base - 48, x2 = base and x0 = the first argument. It lands like
/// any resume (save x30, link, then sp = base - 32) and calls
/// `entry(arg, base, data)`. From the landing on, its CFI names the resumer as
/// its caller: CFA is the link slot's value plus 32, with x30, x29 and x19
/// saved below it.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() -> ! {
    naked_asm!(
        ".cfi_startproc",
        "str x30, [sp, #-16]!",
        "mov x4, sp",
        "str x4, [x2, #-8]",
        "add sp, x1, #16",
        // CFA = *(sp + 24) + 32: DW_CFA_def_cfa_expression, 5 bytes:
        // DW_OP_breg31 (sp) 24, DW_OP_deref, DW_OP_plus_uconst 32.
        ".cfi_escape 0x0f, 0x05, 0x8f, 0x18, 0x06, 0x23, 0x20",
        ".cfi_offset x30, -32",
        ".cfi_offset x29, -16",
        ".cfi_offset x19, -8",
        "mov x1, x2",
        "ldr x2, [sp, #8]",
        "ldr x3, [sp, #16]",
        "blr x3",
        "brk #1",
        ".cfi_endproc",
    )
}

/// See `x86_64::resume`.
///
/// # Safety
/// As for `x86_64::resume`.
#[inline(always)]
pub(crate) unsafe fn resume(arg: usize, sp: *mut u8, base: *mut u8) -> (usize, *mut u8) {
    let value: usize;
    let new_sp: *mut u8;
    // SAFETY: as for `x86_64::resume`; x19 and x29 are saved by hand and sp is
    // restored before the block ends.
    unsafe {
        asm!(
            "stp x29, x19, [sp, #-16]!",
            "ldr x3, [x1]",
            "blr x3",
            "ldp x29, x19, [sp], #16",
            inlateout("x0") arg => value,
            inlateout("x1") sp => new_sp,
            inlateout("x2") base => _,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _,
            clobber_abi("C"),
        );
    }
    (value, new_sp)
}

/// See `x86_64::suspend`.
///
/// # Safety
/// As for `x86_64::suspend`.
#[inline(always)]
pub(crate) unsafe fn suspend(arg: usize, base: *mut u8) -> usize {
    let value: usize;
    // SAFETY: as for `resume`.
    unsafe {
        asm!(
            "adr x3, 2f",
            "stp x29, x19, [sp, #-16]!",
            "str x3, [sp, #-16]!",
            "mov x1, sp",
            "ldr x4, [x2, #-8]",
            "mov sp, x4",
            "ldr x30, [sp], #16",
            "ret",
            // Landing, called by the next resume: link, then our own frame.
            "2:",
            "str x30, [sp, #-16]!",
            "mov x4, sp",
            "str x4, [x2, #-8]",
            "add sp, x1, #16",
            "ldp x29, x19, [sp], #16",
            inlateout("x0") arg => value,
            inlateout("x2") base => _,
            lateout("x1") _,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _,
            clobber_abi("C"),
        );
    }
    value
}

/// See `x86_64::finish`.
///
/// # Safety
/// As for `x86_64::suspend`.
#[inline(always)]
pub(crate) unsafe fn finish(arg: usize, base: *mut u8) -> ! {
    // SAFETY: as for `suspend`; the resumer's frame restores x19 and x29 itself.
    unsafe {
        asm!(
            "ldr x4, [x2, #-8]",
            "mov sp, x4",
            "ldr x30, [sp], #16",
            "mov x1, xzr",
            "ret",
            in("x0") arg,
            in("x2") base,
            options(noreturn),
        )
    }
}
