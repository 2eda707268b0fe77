//! `signal::notify`, `stop` and `kill`. A signal's action is the process's,
//! so every case that installs one runs in a child process: this test
//! binary again, with `GORO_SIGNAL_CHILD` naming the case and `--exact`
//! running only it. The parent checks how the child ended: passed, or
//! killed by the signal whose default action `stop` gave back.
//!
//! Signals a child sends itself go through `libc::raise`, which runs the
//! handler on the raising thread before it returns: the count is taken by
//! then, which the cases that count deliveries rely on.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use goro_chan::{TryRecvError, select};
use goro_net::signal::{self, BUFFER, Signal};

#[path = "../../sched/tests/common/mod.rs"]
mod common;

/// Names the case a child runs.
const CHILD: &str = "GORO_SIGNAL_CHILD";
/// Generous bound against a hang (never a timing claim).
const HANG: Duration = Duration::from_secs(60);

fn in_child(name: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|c| c == name)
}

fn spawn_child(name: &str, envs: &[(&str, &str)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, name)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Every signal at its default in the child, whatever this process
    // started with: a test run from a shell's background job (no job
    // control) starts with SIGINT and SIGQUIT ignored, which `stop` then
    // rightly restores, as Go's `signal.Stop` does, where the cases expect
    // the default.
    let reset = || {
        for sig in 1..32 {
            // SAFETY: sets a disposition to the default; SIGKILL's and
            // SIGSTOP's refusals are ignored.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
        Ok(())
    };
    // SAFETY: `reset` runs in the child between fork and exec and calls
    // only `signal`, which is async-signal-safe.
    unsafe { command.pre_exec(reset) };
    command.spawn().expect("re-run the test binary")
}

/// Drains a pipe on a thread (a full pipe would stop the child).
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` (killing it after `HANG`): its status, stdout, stderr.
fn wait_child(name: &str, mut child: Child) -> (ExitStatus, String, String) {
    let out = child.stdout.take().map(drain);
    let err = drain(child.stderr.take().unwrap());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{name}: the child hung: killed after {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = out.map(|h| h.join().unwrap()).unwrap_or_default();
    (status, out, err.join().unwrap())
}

/// Runs case `name` in a child, which must pass.
fn child_passes(name: &str, envs: &[(&str, &str)]) {
    let (status, out, err) = wait_child(name, spawn_child(name, envs));
    assert!(
        status.success() && out.contains("1 passed"),
        "{name}: the child failed ({status})\n--- stdout\n{out}\n--- stderr\n{err}"
    );
}

/// Runs case `name` in a child, which must print `last` and then die of
/// signal `sig`.
fn child_dies_of(name: &str, envs: &[(&str, &str)], last: &str, sig: i32) {
    let (status, out, err) = wait_child(name, spawn_child(name, envs));
    assert_eq!(
        status.signal(),
        Some(sig),
        "{name}: expected death by signal {sig}, got {status}\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    assert!(out.contains(last), "{name}: never got to {last:?}\n{out}");
}

/// Sends `sig` to the calling thread; its handler has run when this returns.
fn raise(sig: i32) {
    // SAFETY: `raise` takes an integer and touches no memory of ours.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

/// The handler now on `sig` (`SIG_DFL`, `SIG_IGN` or a function).
fn disposition(sig: i32) -> libc::sighandler_t {
    // SAFETY: an all-zero `sigaction` is valid for the kernel to fill.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reads the action only (`act` is null); `current` is valid.
    let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut current) };
    assert_eq!(r, 0);
    current.sa_sigaction
}

/// Blocks the calling thread until the process dies (of a signal in
/// flight): a case that must not pass.
fn await_death() -> ! {
    let start = Instant::now();
    while start.elapsed() < HANG {
        std::thread::park_timeout(HANG);
    }
    println!("still alive");
    std::process::exit(3)
}

#[test]
fn every_receiver_gets_each_interrupt_until_stop_restores_the_default() {
    const NAME: &str = "every_receiver_gets_each_interrupt_until_stop_restores_the_default";
    if !in_child(NAME) {
        return child_dies_of(NAME, &[], "stopped; raising SIGINT", libc::SIGINT);
    }
    let rt = common::builder().workers(2).build().unwrap();
    let a = signal::notify(&[Signal::Interrupt]);
    let b = signal::notify(&[Signal::Interrupt, Signal::Terminate]);
    // `a` is read by a goroutine parked on it, `b` by this thread.
    let a2 = a.clone();
    let reader = rt.go(move || {
        (0..5)
            .map(|_| a2.recv_timeout(HANG).unwrap())
            .collect::<Vec<_>>()
    });
    for _ in 0..5 {
        raise(libc::SIGINT);
        assert_eq!(b.recv_timeout(HANG), Ok(Signal::Interrupt));
    }
    assert_eq!(reader.join().unwrap(), [Signal::Interrupt; 5]);
    // SIGTERM goes to `b` only: `a`'s next signal is the next SIGINT.
    raise(libc::SIGTERM);
    assert_eq!(b.recv_timeout(HANG), Ok(Signal::Terminate));
    raise(libc::SIGINT);
    assert_eq!(a.recv_timeout(HANG), Ok(Signal::Interrupt));
    assert_eq!(b.recv_timeout(HANG), Ok(Signal::Interrupt));
    // Stopping `a` closes it; `b` still watches SIGINT, which keeps coming.
    signal::stop(&a);
    assert_eq!(a.try_recv(), Err(TryRecvError::Closed));
    raise(libc::SIGINT);
    assert_eq!(b.recv_timeout(HANG), Ok(Signal::Interrupt));
    assert!(a.recv().is_err());
    assert_ne!(disposition(libc::SIGINT), libc::SIG_DFL);
    // Nothing watches SIGINT now: the default action is back.
    signal::stop(&b);
    assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
    assert_eq!(disposition(libc::SIGTERM), libc::SIG_DFL);
    println!("stopped; raising SIGINT");
    raise(libc::SIGINT);
    await_death();
}

#[test]
fn a_signal_is_an_arm_of_select() {
    const NAME: &str = "a_signal_is_an_arm_of_select";
    if !in_child(NAME) {
        return child_passes(NAME, &[]);
    }
    let rt = common::builder().workers(2).build().unwrap();
    rt.run(|| {
        let sigs = signal::notify(&[Signal::User2]);
        // Nothing was sent: the timeout wins.
        let got = select! {
            recv(sigs) -> sig => Some(sig),
            recv(goro_chan::after(Duration::from_millis(20))) -> _ => None,
        };
        assert_eq!(got, None);
        // Sent from the goroutine's own thread.
        raise(libc::SIGUSR2);
        let got = select! {
            recv(sigs) -> sig => Some(sig),
            recv(goro_chan::after(HANG)) -> _ => None,
        };
        assert_eq!(got, Some(Ok(Signal::User2)));
        // A goroutine parked in `select!` on it, woken by the signal.
        let sigs2 = sigs.clone();
        let waiter = goro_sched::go(move || {
            let never = goro_chan::never::<()>();
            select! {
                recv(never) -> _ => unreachable!(),
                recv(sigs2) -> sig => sig.unwrap(),
                default(HANG) => panic!("no signal within {HANG:?}"),
            }
        });
        goro_sched::yield_now();
        raise(libc::SIGUSR2);
        assert_eq!(waiter.join().unwrap(), Signal::User2);
    });
}

#[test]
fn user1_from_the_parent_process() {
    const NAME: &str = "user1_from_the_parent_process";
    const ROUNDS: usize = 3;
    if !in_child(NAME) {
        let mut child = spawn_child(NAME, &[]);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut sent = 0;
        // The child says "ready N" once it watches (again); each SIGUSR1 it
        // does not take kills it (the default action), failing the case.
        while sent < ROUNDS {
            let Some(line) = lines.next() else { break };
            // (The first comes after libtest's "test NAME ... ".)
            if line.unwrap().contains("ready ") {
                signal::kill(child.id(), Signal::User1).unwrap();
                sent += 1;
            }
        }
        // Drain the rest on a thread, as `wait_child` does for its pipes.
        let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
        let (status, _, err) = wait_child(NAME, child);
        let rest = rest.join().unwrap().join("\n");
        assert_eq!(sent, ROUNDS, "{status}\n{rest}\n{err}");
        assert!(
            status.success() && rest.contains("1 passed"),
            "{status}\n{rest}\n{err}"
        );
        return;
    }
    let rt = common::builder().workers(2).build().unwrap();
    let sigs = signal::notify(&[Signal::User1]);
    rt.run(move || {
        for i in 0..ROUNDS {
            println!("ready {i}");
            assert_eq!(sigs.recv_timeout(HANG), Ok(Signal::User1));
        }
    });
}

#[test]
fn dropping_every_receiver_restores_the_default() {
    const NAME: &str = "dropping_every_receiver_restores_the_default";
    if !in_child(NAME) {
        return child_dies_of(NAME, &[], "dropped; raising SIGINT", libc::SIGINT);
    }
    let a = signal::notify(&[Signal::Interrupt]);
    let a2 = a.clone();
    drop((a, a2));
    // Still our handler: the drop is noticed when the signal comes, which
    // then restores the default and raises the signal again.
    assert_ne!(disposition(libc::SIGINT), libc::SIG_DFL);
    println!("dropped; raising SIGINT");
    raise(libc::SIGINT);
    await_death();
}

#[test]
fn actions_that_notify_replaced_come_back() {
    const NAME: &str = "actions_that_notify_replaced_come_back";
    if !in_child(NAME) {
        return child_passes(NAME, &[]);
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HUPS: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn on_hup(_: libc::c_int) {
        HUPS.fetch_add(1, Ordering::SeqCst);
    }
    let own = on_hup as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: an all-zero `sigaction` is valid (no flags, empty mask).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = own;
    // SAFETY: a valid action whose handler only adds to an atomic.
    let r = unsafe { libc::sigaction(libc::SIGHUP, &action, std::ptr::null_mut()) };
    assert_eq!(r, 0);
    // Rust starts programs with SIGPIPE ignored.
    assert_eq!(disposition(libc::SIGPIPE), libc::SIG_IGN);

    let sigs = signal::notify(&[Signal::Hangup, Signal::Pipe]);
    assert_ne!(disposition(libc::SIGHUP), own);
    raise(libc::SIGHUP);
    raise(libc::SIGPIPE);
    assert_eq!(sigs.recv_timeout(HANG), Ok(Signal::Hangup));
    assert_eq!(sigs.recv_timeout(HANG), Ok(Signal::Pipe));
    assert_eq!(HUPS.load(Ordering::SeqCst), 0, "the channel took it");
    signal::stop(&sigs);
    assert_eq!(disposition(libc::SIGHUP), own);
    assert_eq!(disposition(libc::SIGPIPE), libc::SIG_IGN);
    raise(libc::SIGHUP);
    assert_eq!(
        HUPS.load(Ordering::SeqCst),
        1,
        "the program's handler is back"
    );

    // A dropped registration is noticed by the next `notify`: SIGINT's
    // default is back before any SIGINT comes.
    let a = signal::notify(&[Signal::Interrupt, Signal::User1]);
    let b = signal::notify(&[Signal::User1]);
    drop(a);
    assert_ne!(disposition(libc::SIGINT), libc::SIG_DFL);
    let c = signal::notify(&[Signal::User2]);
    assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
    assert_ne!(disposition(libc::SIGUSR1), libc::SIG_DFL, "b watches it");
    // And by `stop` of another registration.
    drop(b);
    signal::stop(&c);
    assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    assert_eq!(disposition(libc::SIGUSR2), libc::SIG_DFL);
}

#[test]
fn a_full_receiver_misses_signals_and_others_do_not_wait() {
    const NAME: &str = "a_full_receiver_misses_signals_and_others_do_not_wait";
    if !in_child(NAME) {
        return child_passes(NAME, &[]);
    }
    const SENT: usize = 100;
    let full = signal::notify(&[Signal::User1]);
    let marker = signal::notify(&[Signal::User2]);
    // The reader takes pending signals in order of number (SIGUSR1 = 10
    // before SIGUSR2 = 12) and a pass at a time: once a second marker,
    // raised after the first was received, comes back, every SIGUSR1 was
    // handed out.
    let settle = || {
        for _ in 0..2 {
            raise(libc::SIGUSR2);
            assert_eq!(marker.recv_timeout(HANG), Ok(Signal::User2));
        }
    };
    for _ in 0..SENT {
        raise(libc::SIGUSR1);
    }
    settle();
    assert_eq!(
        full.try_iter().count(),
        BUFFER,
        "a full buffer drops the rest"
    );
    // Room again: the next one arrives.
    raise(libc::SIGUSR1);
    settle();
    assert_eq!(full.try_iter().collect::<Vec<_>>(), [Signal::User1]);
}

#[test]
fn quit_goes_to_the_channel_and_stop_brings_the_dump_back() {
    const NAME: &str = "quit_goes_to_the_channel_and_stop_brings_the_dump_back";
    if !in_child(NAME) {
        let child = spawn_child(NAME, &[("GORO_TRACEBACK", "1")]);
        let (status, out, err) = wait_child(NAME, child);
        assert_eq!(
            status.code(),
            Some(2),
            "the dump exits 2: {status}\n{out}\n{err}"
        );
        assert!(out.contains("stopped; raising SIGQUIT"), "{out}\n{err}");
        assert!(err.contains("SIGQUIT: quit"), "no dump:\n{err}");
        return;
    }
    // Watched before any runtime exists: starting one must not put the
    // dump's handler back over ours.
    let sigs = signal::notify(&[Signal::Quit]);
    let rt = common::builder().workers(2).build().unwrap();
    raise(libc::SIGQUIT);
    let s = sigs.clone();
    assert_eq!(rt.run(move || s.recv_timeout(HANG)), Ok(Signal::Quit));
    signal::stop(&sigs);
    println!("stopped; raising SIGQUIT");
    // The dump's handler again: `rt`'s sysmon prints and exits 2.
    raise(libc::SIGQUIT);
    await_death();
}

#[test]
fn delivery_outlives_the_runtime_that_asked() {
    const NAME: &str = "delivery_outlives_the_runtime_that_asked";
    if !in_child(NAME) {
        return child_passes(NAME, &[]);
    }
    let rt = common::builder().workers(1).build().unwrap();
    let sigs = rt.run(|| signal::notify(&[Signal::User2]));
    drop(rt);
    // No runtime at all: a plain thread receives.
    raise(libc::SIGUSR2);
    assert_eq!(sigs.recv_timeout(HANG), Ok(Signal::User2));
    // A goroutine of another runtime, parked on it before the signal.
    let rt2 = common::builder().workers(1).build().unwrap();
    let s = sigs.clone();
    let waiter = rt2.go(move || s.recv_timeout(HANG));
    raise(libc::SIGUSR2);
    assert_eq!(waiter.join().unwrap(), Ok(Signal::User2));
}

#[test]
fn registrations_come_and_go_while_signals_fly() {
    const NAME: &str = "registrations_come_and_go_while_signals_fly";
    if !in_child(NAME) {
        return child_passes(NAME, &[]);
    }
    const ROUNDS: usize = 200;
    // Watched throughout, so that SIGUSR1's default action never applies.
    let keeper = signal::notify(&[Signal::User1]);
    let rt = common::builder().workers(2).build().unwrap();
    let round = || {
        for _ in 0..ROUNDS {
            let sigs = signal::notify(&[Signal::User1, Signal::User2]);
            raise(libc::SIGUSR1);
            // Its own SIGUSR1 came, unless the buffer was full of others'.
            assert!(sigs.recv_timeout(HANG).is_ok());
            signal::stop(&sigs);
            // Closed: what was delivered drains, then the end.
            let start = Instant::now();
            while sigs.recv().is_ok() {
                assert!(start.elapsed() < HANG);
            }
        }
    };
    let goroutines: Vec<_> = (0..4).map(|_| rt.go(round)).collect();
    let threads: Vec<_> = (0..4).map(|_| std::thread::spawn(round)).collect();
    for g in goroutines {
        g.join().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    // Only the keeper is left: SIGUSR2 has its default back.
    assert_eq!(disposition(libc::SIGUSR2), libc::SIG_DFL);
    assert!(keeper.try_iter().count() <= BUFFER);
    signal::stop(&keeper);
    assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
}

#[test]
fn an_empty_list_watches_every_signal() {
    const NAME: &str = "an_empty_list_watches_every_signal";
    if !in_child(NAME) {
        return child_passes(NAME, &[]);
    }
    let all = signal::notify(&[]);
    let rt_min = libc::SIGRTMIN();
    for sig in [libc::SIGUSR2, libc::SIGWINCH, rt_min + 1] {
        raise(sig);
        assert_eq!(all.recv_timeout(HANG), Ok(Signal::from_raw(sig)));
    }
    assert_ne!(disposition(libc::SIGINT), libc::SIG_DFL);
    signal::stop(&all);
    assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
    assert_eq!(disposition(libc::SIGPIPE), libc::SIG_IGN);
    assert_eq!(disposition(rt_min + 1), libc::SIG_DFL);
}

#[test]
fn signals_that_cannot_be_watched_panic() {
    // Checked before anything is installed: safe in this process.
    for (sig, why) in [
        (Signal::Other(libc::SIGKILL), "cannot be caught"),
        (Signal::Other(libc::SIGSTOP), "cannot be caught"),
        (Signal::Other(libc::SIGSEGV), "fault"),
        (Signal::Other(libc::SIGBUS), "fault"),
        (Signal::Other(0), "not a signal number"),
        (Signal::Other(65), "not a signal number"),
        (Signal::Other(-1), "not a signal number"),
        (Signal::Other(32), "C library"),
    ] {
        let err = std::panic::catch_unwind(|| signal::notify(&[Signal::User1, sig])).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains(why), "{sig:?}: {msg}");
    }
}

#[test]
fn signals_print_as_go_does_and_compare_by_number() {
    let named = [
        (Signal::Interrupt, libc::SIGINT, "interrupt"),
        (Signal::Terminate, libc::SIGTERM, "terminated"),
        (Signal::Hangup, libc::SIGHUP, "hangup"),
        (Signal::Quit, libc::SIGQUIT, "quit"),
        (Signal::User1, libc::SIGUSR1, "user defined signal 1"),
        (Signal::User2, libc::SIGUSR2, "user defined signal 2"),
        (Signal::Child, libc::SIGCHLD, "child exited"),
        (Signal::Pipe, libc::SIGPIPE, "broken pipe"),
        (Signal::WindowChange, libc::SIGWINCH, "window changed"),
    ];
    for (sig, n, text) in named {
        assert_eq!(sig.as_raw(), n);
        assert_eq!(sig.to_string(), text);
        assert_eq!(Signal::from_raw(n), sig);
        assert_eq!(Signal::Other(n), sig);
        assert!(!format!("{:?}", Signal::from_raw(n)).starts_with("Other"));
    }
    assert_eq!(Signal::Other(libc::SIGALRM).to_string(), "alarm clock");
    assert_eq!(Signal::Other(40).to_string(), "signal 40");
    assert_eq!(format!("{:?}", Signal::from_raw(40)), "Other(40)");
    let set: std::collections::HashSet<Signal> = [Signal::Interrupt, Signal::Other(libc::SIGINT)]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 1);
}
