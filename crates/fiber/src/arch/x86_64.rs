//! The x86_64 System V switch.
//!
//! Callee-saved state on this ABI is rbx, rbp, r12–r15, rsp, the MXCSR control
//! bits and the x87 control word. A switch is an inline `asm!` block in the
//! caller that declares every register except rbx and rbp clobbered, so the
//! compiler saves only what is live at that call site; rbx and rbp (which
//! `asm!` may not name) are pushed by hand. The control words are not saved:
//! Rust code does not change them, and a coroutine that does must restore them
//! before it switches.
//!
//! Switches are jumps, not calls and returns: `resume` pushes its return
//! address by hand and *jumps* to the coroutine's saved resume address, and
//! `suspend` pops that address and jumps back. Each indirect jump is
//! predicted by its target history (a worker's loop resumes from one place;
//! a goroutine suspends from a few), and the CPU's return-stack buffer is
//! left alone. That matters more than it seems: a call here would push the
//! resumer's address, which the coroutine's next `ret` (out of the function
//! it suspended in) would then mispredict; and a `ret` here would pop the
//! coroutine's own entry. With jumps, the entry a coroutine leaves when it
//! suspends (the return out of, say, a channel's `recv`) is still on top
//! when the next coroutine resumes, and in a ring of goroutines running the
//! same code that is exactly its return: predicted.
//!
//! A suspended coroutine is its stack pointer, which points at this frame:
//!
//! ```text
//! sp + 16  saved rbp
//! sp +  8  saved rbx
//! sp +  0  resume address: the landing code at the end of its `suspend`
//! ```
//!
//! A resumer waiting for the coroutine leaves the same shape on its own stack,
//! with the address it returns to, pushed by hand, and the coroutine stores that frame's
//! address in the link slot at `base - 8` when it lands.
//!
//! Registers on a switch: rdi carries the value, rsi the coroutine's stack
//! pointer (null after `finish`), rdx the coroutine's base.

use core::arch::{asm, naked_asm};

use super::EntryFn;

/// Writes the header (see `arch/mod.rs`) and the initial frame,
/// whose "return address" is the entry trampoline. Returns the initial stack
/// pointer.
///
/// # Safety
/// `base` must be 16-byte aligned, the top of a writable stack with at least
/// `STACK_HEADER` bytes below it.
pub(crate) unsafe fn init_stack(base: *mut u8, entry: EntryFn, data: *mut u8) -> *mut u8 {
    let sp = base.wrapping_sub(40);
    let frame = [
        trampoline as *const () as usize, // initial resume address
        0,                                // padding
        data as usize,
        entry as *const () as usize,
        0, // link, written by every resume
    ];
    // SAFETY: the caller guarantees the 40 bytes below `base` are ours to
    // write; `sp` is 8-byte aligned because `base` is 16-byte aligned.
    unsafe { sp.cast::<[usize; 5]>().write(frame) };
    sp
}

/// The first code a coroutine runs, called by the first `resume`.
///
/// On entry rsp points at the resumer's return address, rsi = base - 40 (the
/// initial stack pointer), rdx = base and rdi = the first argument. It lands
/// like any resume (link, then rsp = base - 32, 16-byte aligned) and calls
/// `entry(arg, base, data)`, which never returns.
///
/// From the landing on, its CFI describes the resumer as its caller: the
/// canonical frame address is the resumer's stack pointer before its `asm!`
/// block, that is the link slot's value plus 24, with the return address, rbx
/// and rbp saved just below it. Before the landing the default rule (return
/// address at rsp) is already right.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() -> ! {
    naked_asm!(
        ".cfi_startproc",
        "mov [rdx - 8], rsp",
        "lea rsp, [rsi + 8]",
        // CFA = *(rsp + 24) + 24: DW_CFA_def_cfa_expression, 5 bytes:
        // DW_OP_breg7 (rsp) 24, DW_OP_deref, DW_OP_plus_uconst 24.
        ".cfi_escape 0x0f, 0x05, 0x77, 0x18, 0x06, 0x23, 0x18",
        ".cfi_offset 16, -24", // return address (DWARF column 16 is rip)
        ".cfi_offset rbx, -16",
        ".cfi_offset rbp, -8",
        "mov rsi, rdx",
        "mov rdx, [rsp + 8]",
        "call [rsp + 16]",
        "ud2",
        ".cfi_endproc",
    )
}

/// Switches into the coroutine at `sp` with `arg`; returns its value and new
/// stack pointer (null once it has finished).
///
/// # Safety
/// `sp` must be the saved stack pointer of a suspended coroutine (or the one
/// `init_stack` returned) whose stack has top `base`, not running anywhere else.
#[inline(always)]
pub(crate) unsafe fn resume(arg: usize, sp: *mut u8, base: *mut u8) -> (usize, *mut u8) {
    let value: usize;
    let new_sp: *mut u8;
    // SAFETY: the caller guarantees `sp`/`base` describe a suspended coroutine.
    // The block leaves rsp as it found it, restores rbx and rbp itself and
    // declares every other register clobbered.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",
            "jmp [rsi]",
            "2:",
            "pop rbx",
            "pop rbp",
            inlateout("rdi") arg => value,
            inlateout("rsi") sp => new_sp,
            inlateout("rdx") base => _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
        );
    }
    (value, new_sp)
}

/// Switches from the running coroutine (stack top `base`) back to its resumer,
/// handing it `arg`; returns the `arg` of the next `resume`.
///
/// # Safety
/// Must run on the stack whose top is `base`, inside a `resume` of it.
#[inline(always)]
pub(crate) unsafe fn suspend(arg: usize, base: *mut u8) -> usize {
    let value: usize;
    // SAFETY: the caller guarantees we run on `base`'s stack, so its link slot
    // holds the resumer's saved frame. Registers as in `resume`.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rcx, [rip + 2f]",
            "push rcx",
            "mov rsi, rsp",
            "mov rsp, [rdx - 8]",
            "pop rcx",
            "jmp rcx",
            // Landing, jumped to by the next resume: link, then our own frame.
            "2:",
            "mov [rdx - 8], rsp",
            "lea rsp, [rsi + 8]",
            "pop rbx",
            "pop rbp",
            inlateout("rdi") arg => value,
            inlateout("rdx") base => _,
            lateout("rsi") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
        );
    }
    value
}

/// The coroutine's last switch: back to the resumer with `arg` and a null stack
/// pointer. The coroutine's frames are abandoned, so nothing on them may still
/// need dropping.
///
/// # Safety
/// As for `suspend`.
#[inline(always)]
pub(crate) unsafe fn finish(arg: usize, base: *mut u8) -> ! {
    // SAFETY: as for `suspend`; the resumer's frame pops rbx and rbp itself.
    unsafe {
        asm!(
            "mov rsp, [rdx - 8]",
            "xor esi, esi",
            "pop rcx",
            "jmp rcx",
            in("rdi") arg,
            in("rdx") base,
            options(noreturn),
        )
    }
}
