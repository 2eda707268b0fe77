//! Stacks: guard pages of both kinds, overflow reports, the map-count budget of
//! the `mprotect` fallback, and reuse.
//!
//! Whatever must crash, or needs its own process-wide settings, runs in a child
//! process: this test binary again, with `GORO_TEST_CHILD` naming the scenario.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use goro_fiber::stack::{GuardKind, Stack, guard_kind};
use goro_fiber::{Coroutine, CoroutineResult};

/// Runs `scenario` in a child process (the test `child_entry` of this binary),
/// with the extra environment `env`.
/// `GORO_TEST_RUNNER` (say `qemu-aarch64 -L /usr/aarch64-linux-gnu`) runs the
/// child under an emulator, for cross-built test binaries.
fn child(scenario: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let runner = std::env::var("GORO_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let mut cmd = match runner.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(runner).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("GORO_TEST_CHILD", scenario)
        .env_remove("GORO_STACK_GUARD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The child side: does what `GORO_TEST_CHILD` says. A no-op in the parent.
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var("GORO_TEST_CHILD") else {
        return;
    };
    match scenario.as_str() {
        "overflow" => overflow_in_a_coroutine(),
        "overflow-nested" => {
            let mut outer = Coroutine::<(), (), ()>::new(|_, ()| overflow_in_a_coroutine());
            outer.resume(());
        }
        "overflow-after-release" => {
            // Enough stacks to overflow the caches, so that the coldest are
            // released to the kernel (merged over their guard pages); then
            // overflow on a stack that went through that.
            let first: Vec<Stack> = (0..6000).map(|_| Stack::new(64 * 1024).unwrap()).collect();
            drop(first);
            let mut again: Vec<Stack> = (0..6000).map(|_| Stack::new(64 * 1024).unwrap()).collect();
            let last = again.pop().unwrap();
            drop(again);
            drop(last); // on top of this thread's cache: the next stack
            overflow_in_a_coroutine();
        }
        "overflow-on-other-thread" => {
            std::thread::spawn(overflow_in_a_coroutine).join().unwrap();
        }
        "segv-elsewhere" => {
            let _warm = Coroutine::<(), (), ()>::new(|_, ()| ());
            // SAFETY: none; this child exists to fault on a bad address.
            unsafe { std::ptr::write_volatile(16usize as *mut u64, 1) };
        }
        "guard-kind" => println!("guard={:?}", guard_kind().unwrap()),
        "maps" => count_maps_per_stack(),
        "map-budget" => exhaust_map_budget(),
        "bad-guard-env" => {
            let err = Stack::new(64 * 1024).unwrap_err();
            println!("error={err}");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Recurses in a 64 KiB coroutine until it hits the guard page.
fn overflow_in_a_coroutine() {
    #[inline(never)]
    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 64]);
        recurse(n + 1) + pad[3]
    }
    let mut co = Coroutine::<(), (), u64>::with_stack_size(64 * 1024, |_, ()| recurse(0)).unwrap();
    co.resume(());
}

fn maps_now() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Prints how many memory mappings 2,000 live stacks added.
fn count_maps_per_stack() {
    let _warm = Stack::new(64 * 1024).unwrap();
    let before = maps_now();
    let stacks: Vec<Stack> = (0..2000).map(|_| Stack::new(64 * 1024).unwrap()).collect();
    // Every stack is writable from bottom to top.
    for s in &stacks {
        // SAFETY: the lowest usable byte of the stack.
        unsafe { s.bottom().write_volatile(1) };
        // SAFETY: the highest usable byte of the stack.
        unsafe { s.top().wrapping_sub(1).write_volatile(2) };
    }
    println!(
        "guard={:?} added={}",
        guard_kind().unwrap(),
        maps_now() - before
    );
}

/// Allocates stacks with mprotect guards until the budget says no.
fn exhaust_map_budget() {
    let mut stacks = Vec::new();
    loop {
        match Stack::new(16 * 1024) {
            Ok(s) => stacks.push(s),
            Err(e) => {
                println!("count={} kind={:?} error={e}", stacks.len(), e.kind());
                break;
            }
        }
    }
    // The process still works: the rest of it has mappings to spare.
    let v: Vec<Vec<u8>> = (0..100).map(|i| vec![i as u8; 1 << 20]).collect();
    assert_eq!(v.len(), 100);
    drop(stacks);
    // Freed stacks are reused without new guards.
    let again: Vec<Stack> = (0..1000).map(|_| Stack::new(16 * 1024).unwrap()).collect();
    println!("reused={}", again.len());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_overflow_report(out: &Output) {
    let err = stderr(out);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{:?}\n{err}",
        out.status
    );
    assert!(
        err.contains("coroutine overflowed its stack of 64 KiB"),
        "{err}"
    );
    assert!(err.contains("Coroutine::with_stack_size"), "{err}");
}

#[test]
fn overflow_is_reported_and_aborts() {
    assert_overflow_report(&child("overflow", &[]));
}

#[test]
fn overflow_is_reported_with_mprotect_guards() {
    assert_overflow_report(&child("overflow", &[("GORO_STACK_GUARD", "mprotect")]));
}

#[test]
fn overflow_is_reported_from_a_nested_coroutine_and_another_thread() {
    assert_overflow_report(&child("overflow-nested", &[]));
    assert_overflow_report(&child("overflow-on-other-thread", &[]));
}

#[test]
fn guards_survive_stacks_being_released_and_reused() {
    assert_overflow_report(&child("overflow-after-release", &[]));
    assert_overflow_report(&child(
        "overflow-after-release",
        &[("GORO_STACK_GUARD", "mprotect")],
    ));
}

#[test]
fn other_faults_go_to_the_previous_handler() {
    let out = child("segv-elsewhere", &[]);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{:?}", out.status);
    assert!(!stderr(&out).contains("overflowed"), "{}", stderr(&out));
}

#[test]
fn madvise_guards_add_no_mappings() {
    let out = child("maps", &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    // This kernel (6.13+) has guard regions; elsewhere the child reports the
    // fallback and the count is checked by the next test instead.
    if text.contains("guard=Madvise") {
        let added: usize = field(&text, "added=").parse().unwrap();
        assert!(added < 10, "2,000 stacks added {added} mappings");
    }
}

#[test]
fn mprotect_guards_cost_two_mappings_each() {
    let out = child("maps", &[("GORO_STACK_GUARD", "mprotect")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("guard=Mprotect"), "{text}");
    let added: usize = field(&text, "added=").parse().unwrap();
    assert!(
        (3900..=4100).contains(&added),
        "2,000 stacks added {added} mappings"
    );
}

#[test]
fn the_mprotect_fallback_stops_before_max_map_count_with_a_clear_error() {
    let out = child("map-budget", &[("GORO_STACK_GUARD", "mprotect")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let count: usize = field(&text, "count=").parse().unwrap();
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        count > limit / 4 && count < limit / 2,
        "{count} stacks for a limit of {limit}"
    );
    assert!(text.contains("kind=OutOfMemory"), "{text}");
    assert!(text.contains("vm.max_map_count"), "{text}");
    assert!(text.contains("sysctl -w vm.max_map_count="), "{text}");
    assert!(text.contains("reused=1000"), "{text}");
}

#[test]
fn a_bad_guard_setting_is_an_error() {
    let out = child("bad-guard-env", &[("GORO_STACK_GUARD", "sometimes")]);
    let text = stdout(&out);
    assert!(
        text.contains("GORO_STACK_GUARD must be `auto` or `mprotect`, not `sometimes`"),
        "{text}{}",
        stderr(&out)
    );
}

#[test]
fn this_kernel_gets_madvise_guards_by_default() {
    let out = child("guard-kind", &[]);
    let text = stdout(&out);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    if (major, minor) >= (6, 13) {
        assert!(text.contains("guard=Madvise"), "{text}");
    } else {
        assert!(text.contains("guard=Mprotect"), "{text}");
    }
}

#[test]
fn freed_stacks_are_reused_by_their_thread() {
    let a = Stack::new(128 * 1024).unwrap();
    let top = a.top();
    drop(a);
    let b = Stack::new(128 * 1024).unwrap();
    assert_eq!(b.top(), top);
    // A coroutine's stack goes back to the pool when it finishes and drops.
    let mut co = Coroutine::<(), (), usize>::with_stack_size(128 * 1024, |_, ()| 5).unwrap();
    let co_top = co.stack().top();
    assert_eq!(co.resume(()), CoroutineResult::Return(5));
    drop(co);
    assert_eq!(Stack::new(128 * 1024).unwrap().top(), co_top);
}

#[test]
fn guard_kind_is_known_in_process() {
    let kind = guard_kind().unwrap();
    assert!(matches!(kind, GuardKind::Madvise | GuardKind::Mprotect));
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let start = text
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        + key.len();
    text[start..].split_whitespace().next().unwrap()
}
