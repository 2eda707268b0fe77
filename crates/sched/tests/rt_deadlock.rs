//! Cases that need a process of their own: deadlock detection (Go's "all
//! goroutines are asleep - deadlock!"), the SIGQUIT dump, and the warning
//! when no spare thread is left.
//!
//! A deadlock report needs every thread of the process to be goro's or blocked in
//! goro, so each case runs in a child process of its own (this file is a
//! test without libtest's harness, whose threads would suppress it): the
//! parent re-runs this binary with `GORO_DEADLOCK_CASE` set, and checks the
//! child's exit and stderr. A child that hangs is killed after a generous
//! bound (never a timing claim).

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro_sched::{Runtime, park};

const CASE: &str = "GORO_DEADLOCK_CASE";
/// Generous bound against hangs.
const HANG: Duration = Duration::from_secs(60);
/// Runtimes with a parked goroutine in the SIGQUIT cases, besides `child`'s
/// idle one.
const RUNTIMES: usize = 4;

fn main() {
    if let Ok(case) = std::env::var(CASE) {
        child(&case);
        return;
    }
    let mut failed = 0;
    for (case, expect) in [
        ("deadlock", Expect::Report),
        ("deadlock_many", Expect::Report),
        ("pending_timer", Expect::Finish),
        ("sleeping_goroutine", Expect::Finish),
        ("plain_thread_will_wake", Expect::Finish),
        ("detection_off", Expect::Hang),
        ("sigquit", Expect::Dump),
        ("sigquit_all", Expect::DumpTraced),
        ("deadlock_traced", Expect::ReportTraced),
        ("spare_limit", Expect::Warn),
        ("hog_report", Expect::HogReport),
    ] {
        match parent(case, expect) {
            Ok(()) => println!("test {case} ... ok"),
            Err(e) => {
                println!("test {case} ... FAILED\n{e}");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 0, "{failed} deadlock cases failed");
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// `run` panics with the report.
    Report,
    /// `run` returns normally: no report.
    Finish,
    /// No report: still running when killed.
    Hang,
    /// With `GORO_TRACEBACK=1`, a SIGQUIT prints the goroutines and exits 2.
    Dump,
    /// With `GORO_TRACEBACK=all`, the same with each one's stack trace.
    DumpTraced,
    /// With `GORO_TRACEBACK=all`, the report with each one's stack trace.
    ReportTraced,
    /// Finishes, having warned that no spare thread was left.
    Warn,
    /// Finishes, sysmon having reported the goroutine that held its worker
    /// while another that started there waited (the default mode), and the
    /// dump meanwhile saying the same.
    HogReport,
}

fn parent(case: &str, expect: Expect) -> Result<(), String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CASE, case)
        .env(
            "GORO_TRACEBACK",
            match expect {
                Expect::Dump => "1",
                Expect::DumpTraced | Expect::ReportTraced => "all",
                _ => "0",
            },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let bound = match expect {
        Expect::Hang => Duration::from_secs(3),
        _ => HANG,
    };
    if matches!(expect, Expect::Dump | Expect::DumpTraced) {
        // Wait for the child to be ready, then send SIGQUIT.
        use std::io::BufRead;
        let stdout = child.stdout.as_mut().expect("piped");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            return Err(format!("child said {line:?}"));
        }
        let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
        // SAFETY: signals a process we spawned and have not waited for.
        unsafe { libc::kill(pid, libc::SIGQUIT) };
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let reported = stderr.contains("all goroutines are asleep - deadlock!");
    let ok = match expect {
        Expect::Report => {
            reported
                && status.is_some_and(|s| !s.success())
                && stderr.contains("goroutine ")
                && stderr.contains("[park, ")
        }
        Expect::Finish => {
            !reported && status.is_some_and(|s| s.success()) && stdout.contains("finished")
        }
        Expect::Hang => !reported && status.is_none(),
        Expect::Warn => {
            status.is_some_and(|s| s.success())
                && stdout.contains("finished")
                && stderr.contains("every spare thread is in use")
                && stderr.contains("max_blocking_threads")
        }
        Expect::HogReport => {
            status.is_some_and(|s| s.success())
                && stdout.contains("finished")
                && stderr.contains("has held worker 0 for")
                && stderr.contains("1 goroutine that started on that worker waits for it")
                && stderr.contains("spawned at crates/sched/tests/rt_deadlock.rs")
                && stdout.contains("running on worker 0, ")
                && stdout.contains("1 goroutines wait for its thread")
        }
        Expect::Dump => {
            status.is_some_and(|s| s.code() == Some(2))
                && stderr.contains("SIGQUIT: quit")
                && stderr.contains("\"parked\" [park, ")
                && !stderr.contains("park_forever")
        }
        Expect::DumpTraced => {
            status.is_some_and(|s| s.code() == Some(2))
                && stderr.matches("SIGQUIT: quit").count() == 1
                && stderr.contains("\"parked\" [park, ")
                && stderr.matches("rt_deadlock::park_forever").count() == RUNTIMES
                // Without the capture's own frames.
                && !stderr.contains("traceback::capture")
        }
        Expect::ReportTraced => {
            reported
                && status.is_some_and(|s| !s.success())
                && stderr.contains("[park, ")
                && stderr.contains("rt_deadlock::park_forever")
        }
    };
    match ok {
        true => Ok(()),
        false => Err(format!(
            "expected {expect:?}; exit {status:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )),
    }
}

/// Parks the calling goroutine for good: nobody holds its unparker.
fn park_forever() {
    loop {
        park::park();
    }
}

fn child(case: &str) {
    let builder = Runtime::builder().workers(2);
    let rt = match case {
        "detection_off" => builder.detect_deadlocks(false),
        // Spares stand in for a goroutine in `blocking` in the migrating
        // mode (the default mode runs the call on the blocking pool).
        // SAFETY: the goroutines hold nothing tied to a thread.
        "spare_limit" => unsafe { builder.workers(1).max_blocking_threads(0).migrating() },
        "hog_report" => builder.workers(1),
        _ => builder,
    }
    .build()
    .unwrap();
    match case {
        "deadlock" | "detection_off" | "deadlock_traced" => rt.run(park_forever),
        "deadlock_many" => rt.run(|| {
            for _ in 0..100 {
                goro_sched::go(park_forever);
            }
            park_forever()
        }),
        "pending_timer" => rt.run(|| {
            goro_sched::go(park_forever);
            // A timer that will wake us: no report meanwhile.
            park::park_deadline(Instant::now() + Duration::from_millis(1500));
        }),
        "sleeping_goroutine" => rt.run(|| {
            let h = goro_sched::go(|| goro_sched::sleep(Duration::from_millis(1500)));
            h.join().unwrap(); // everyone waits, but a sleeper will wake
        }),
        "plain_thread_will_wake" => {
            // A thread that has never touched goro, computing for a while
            // before it wakes the goroutine: it might, so no report.
            let slot: Arc<Mutex<Option<park::Unparker>>> = Arc::default();
            let s = slot.clone();
            let waker = std::thread::spawn(move || {
                let until = Instant::now() + Duration::from_millis(1500);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                loop {
                    if let Some(u) = s.lock().unwrap().take() {
                        u.unpark();
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            rt.run(move || {
                *slot.lock().unwrap() = Some(park::current_unparker());
                park::park();
            });
            waker.join().unwrap();
        }
        "sigquit" | "sigquit_all" => {
            // A plain thread sleeping suppresses any deadlock report; the
            // parent sends SIGQUIT once we are ready. Several runtimes,
            // each with a sysmon that sees the signal: one dumps them all
            // (CI, beside two busy processes: two sysmons dumped at once,
            // and one's stack trace waited more than a second for std's
            // backtrace lock, which the other held to resolve symbols).
            let _h = goro_sched::Builder::new()
                .name("parked")
                .go(park_forever)
                .unwrap();
            let more: Vec<Runtime> = (0..RUNTIMES - 1)
                .map(|_| Runtime::builder().workers(1).build().unwrap())
                .collect();
            for rt in &more {
                drop(rt.go(park_forever));
            }
            std::thread::sleep(Duration::from_millis(50));
            println!("ready");
            std::thread::sleep(HANG);
        }
        "spare_limit" => rt.run(|| {
            // No spare may start: the queued goroutine waits for the
            // blocking call (and the runtime says why).
            let h = goro_sched::go(|| 7);
            goro_sched::blocking(|| std::thread::sleep(Duration::from_millis(200)));
            assert_eq!(h.join().unwrap(), 7);
        }),
        "hog_report" => std::thread::scope(|s| {
            // A goroutine that started on the only worker is woken behind a
            // goroutine that then spins for 400 ms: sysmon must say so
            // (within 100 ms), and the dump too (read at 200 ms).
            let rt = &rt;
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                println!("{}", rt.dump());
            });
            rt.run(|| {
                let go_on = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let slot = Arc::new(Mutex::new(None::<park::Unparker>));
                let (g, u) = (go_on.clone(), slot.clone());
                let waiter = goro_sched::go(move || {
                    *u.lock().unwrap() = Some(park::current_unparker());
                    while !g.load(std::sync::atomic::Ordering::Acquire) {
                        park::park();
                    }
                });
                let unparker = loop {
                    if let Some(u) = slot.lock().unwrap().take() {
                        break u;
                    }
                    goro_sched::yield_now();
                };
                go_on.store(true, std::sync::atomic::Ordering::Release);
                unparker.unpark(); // queued here, behind us
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(400) {
                    std::hint::spin_loop();
                }
                waiter.join().unwrap();
            });
        }),
        _ => unreachable!("unknown case {case}"),
    }
    println!("finished");
}
