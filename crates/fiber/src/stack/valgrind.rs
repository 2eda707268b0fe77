//! Valgrind client requests that announce coroutine stacks.
//!
//! Without them memcheck takes every switch for a wild stack-pointer change.
//! A client request is a magic instruction sequence that does nothing on real
//! hardware (it rotates a register by a multiple of its width and exchanges a
//! register with itself) and that valgrind's JIT recognises. The numbers come
//! from `valgrind.h` (`VG_USERREQ__STACK_REGISTER` and friends).

const STACK_REGISTER: usize = 0x1501;

/// Tells valgrind that `[start, end)` is a stack. A no-op when not under valgrind.
pub(crate) fn stack_register(start: usize, end: usize) {
    request(&[STACK_REGISTER, start, end, 0, 0, 0]);
}

#[cfg(target_arch = "x86_64")]
fn request(args: &[usize; 6]) -> usize {
    let result: usize;
    // SAFETY: the sequence changes no state on real hardware: rdi is rotated by
    // 3 + 13 + 61 + 51 = 128 bits (a multiple of 64) and `xchg rbx, rbx` is a
    // no-op (only the flags change). Under valgrind it reads the six words at rax and writes rdx.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inlateout("rdx") 0usize => result,
            inlateout("rdi") 0usize => _,
            options(nostack),
        );
    }
    result
}

#[cfg(target_arch = "aarch64")]
fn request(args: &[usize; 6]) -> usize {
    let result: usize;
    // SAFETY: on real hardware x12 is rotated by 3 + 13 + 51 + 61 = 128 bits
    // and `orr x10, x10, x10` is a no-op. Under valgrind it reads the six words
    // at x4 and writes x3.
    unsafe {
        core::arch::asm!(
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #51",
            "ror x12, x12, #61",
            "orr x10, x10, x10",
            in("x4") args.as_ptr(),
            inlateout("x3") 0usize => result,
            inlateout("x12") 0usize => _,
            options(nostack, preserves_flags),
        );
    }
    result
}
