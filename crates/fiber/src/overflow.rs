//! Stack-overflow reports: a SIGSEGV/SIGBUS handler that recognises a hit on a
//! coroutine's guard page, says so, and aborts, as std does for threads.
//!
//! The handler runs on the thread's alternate signal stack (the faulting stack
//! is full). std gives one to `main` and to every thread it spawns; for other
//! threads `prepare_thread` installs one. A fault anywhere else is passed on to
//! the handler that was installed before ours (std's, usually), or to the
//! default action.

use std::cell::Cell;
use std::mem;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::stack;

/// Bytes of alternate signal stack we give a thread that has none.
const ALTSTACK_SIZE: usize = 64 * 1024;

/// The handlers that were installed before ours (`sa_sigaction`, `sa_flags`),
/// indexed by `slot(signal)`. Written once, before our handler is installed.
static PREVIOUS: [(AtomicUsize, AtomicI32); 2] = [
    (AtomicUsize::new(libc::SIG_DFL), AtomicI32::new(0)),
    (AtomicUsize::new(libc::SIG_DFL), AtomicI32::new(0)),
];

thread_local! {
    static PREPARED: Cell<bool> = const { Cell::new(false) };
}

/// Makes sure the handler is installed and that this thread has an alternate
/// signal stack to run it on. Cheap after the first call on a thread.
///
/// ```
/// use goro_fiber::{Coroutine, CoroutineResult};
///
/// // A thread that will run coroutines; allocating a stack does this too.
/// std::thread::spawn(|| {
///     goro_fiber::prepare_thread();
///     let mut co = Coroutine::<(), (), u8>::new(|_, ()| 7);
///     assert_eq!(co.resume(()), CoroutineResult::Return(7));
/// })
/// .join()
/// .unwrap();
/// ```
pub fn prepare_thread() {
    if PREPARED.with(Cell::get) {
        return;
    }
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install);
    ensure_altstack();
    PREPARED.with(|p| p.set(true));
}

fn slot(signal: libc::c_int) -> usize {
    usize::from(signal != libc::SIGSEGV)
}

fn install() {
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: an all-zero sigaction is a valid value, and `sa_mask` is then
        // initialised with sigemptyset.
        let mut action: libc::sigaction = unsafe { mem::zeroed() };
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: as above, an all-zero sigaction is valid.
        let mut previous: libc::sigaction = unsafe { mem::zeroed() };
        // Record the old handler before ours can run (it reads `PREVIOUS`).
        // SAFETY: a valid null action pointer only queries.
        unsafe { libc::sigaction(signal, ptr::null(), &mut previous) };
        let (old_action, old_flags) = &PREVIOUS[slot(signal)];
        old_action.store(previous.sa_sigaction, Ordering::Release);
        old_flags.store(previous.sa_flags, Ordering::Release);
        // SAFETY: `action` is fully initialised.
        unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
    }
}

fn ensure_altstack() {
    // SAFETY: an all-zero stack_t is a valid value for sigaltstack to fill.
    let mut current: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: querying the current alternate stack with valid pointers.
    unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let page = stack::page_size();
    // SAFETY: a fresh anonymous mapping; its lowest page becomes a guard.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            ALTSTACK_SIZE + page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return; // No report on overflow then, but nothing worse.
    }
    // SAFETY: the first page of the mapping we just made.
    unsafe { libc::mprotect(base, page, libc::PROT_NONE) };
    let new = libc::stack_t {
        ss_sp: base.wrapping_byte_add(page),
        ss_flags: 0,
        ss_size: ALTSTACK_SIZE,
    };
    // SAFETY: `new` describes memory that stays mapped for the rest of the
    // process (it is leaked with the thread, as a small price for simplicity).
    unsafe { libc::sigaltstack(&new, ptr::null_mut()) };
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to SA_SIGINFO handlers.
    let info_ref = unsafe { &*info };
    // SAFETY: SIGSEGV and SIGBUS carry a fault address.
    let addr = unsafe { info_ref.si_addr() } as usize;
    if let Some(size) = stack::guard_hit(addr) {
        report(size, addr);
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    // Not ours: hand it to whoever was there before.
    let (old_action, old_flags) = &PREVIOUS[slot(signal)];
    let action = old_action.load(Ordering::Acquire);
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction runs
        // again and the kernel delivers the signal with its default effect.
        // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
        let mut default: libc::sigaction = unsafe { mem::zeroed() };
        default.sa_sigaction = libc::SIG_DFL;
        // SAFETY: valid pointers; sigaction is async-signal-safe.
        unsafe { libc::sigaction(signal, &default, ptr::null_mut()) };
    } else if old_flags.load(Ordering::Acquire) & libc::SA_SIGINFO != 0 {
        // SAFETY: a handler installed with SA_SIGINFO has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { mem::transmute(action) };
        f(signal, info, context);
    } else {
        // SAFETY: a handler installed without SA_SIGINFO has this signature.
        let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(action) };
        f(signal);
    }
}

/// Writes the report to stderr without allocating.
fn report(size: usize, addr: usize) {
    let mut buf = Buf::new();
    buf.push(b"\n");
    buf.push(describe_current());
    buf.push(b" overflowed its stack of ");
    buf.push_num(size / 1024, 10);
    buf.push(b" KiB (guard page hit at 0x");
    buf.push_num(addr, 16);
    buf.push(
        b")\nGive it a larger stack: Coroutine::with_stack_size, or for a goroutine \
goro::Builder::stack_size\nfatal runtime error: stack overflow, aborting\n",
    );
    // SAFETY: writing an initialised buffer to stderr; write is async-signal-safe.
    unsafe { libc::write(2, buf.bytes.as_ptr().cast(), buf.len) };
}

fn describe_current() -> &'static [u8] {
    b"coroutine"
}

/// A fixed-size buffer for building a message inside a signal handler.
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_num(&mut self, mut n: usize, radix: usize) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[n % radix];
            n /= radix;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}
