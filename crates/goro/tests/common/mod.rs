//! What the child-process tests (`soundness.rs`, `shutdown_edges.rs`,
//! `break_review.rs`) share: `isolated` runs a test in a child process of
//! its own (the cases crashed, or may, before their fix), and a child's
//! helpers.

#![allow(dead_code)] // each test binary uses some of them

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Names the case a child process runs.
const CHILD: &str = "GORO_TEST_CHILD";
/// Generous bound against a hung child (never a timing claim).
const HANG: Duration = Duration::from_secs(120);
/// Generous bound against a hang inside a child, where it can say more.
pub(crate) const STRAND: Duration = Duration::from_secs(60);
/// How much of a child's stdout and stderr a failure shows.
const TAIL: usize = 16 * 1024;

/// Runs `body` in a child process: this binary again, with `CHILD=name`
/// and `--exact name`, so that only the test `name` runs there. In the
/// child (`CHILD` is `name`) it runs `body` itself.
pub(crate) fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(CHILD).is_ok_and(|c| c == name) {
        body();
        return;
    }
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        // `--include-ignored`: the parent may be an ignored case run on
        // request, and the child must run it too.
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-run the test binary");
    // Drain both pipes as the child writes (one fills up otherwise).
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut tail = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * TAIL {
                    tail.drain(..tail.len() - TAIL);
                }
            }
            let from = tail.len().saturating_sub(TAIL);
            String::from_utf8_lossy(&tail[from..]).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let took = start.elapsed();
    let ran = stdout.contains("test result: ok. 1 passed");
    match status {
        Some(status) if status.success() && ran => {
            eprintln!("{name}: child passed in {took:.2?}");
        }
        Some(status) => panic!(
            "{name}: the child failed ({status}{}) after {took:.2?}\n\
             --- child stderr (tail) ---\n{stderr}\n--- child stdout (tail) ---\n{stdout}",
            if ran {
                ""
            } else {
                ", and did not pass its one test"
            },
        ),
        None => panic!(
            "{name}: the child hung: killed after {HANG:?}\n\
             --- child stderr (tail) ---\n{stderr}\n--- child stdout (tail) ---\n{stdout}"
        ),
    }
}

/// Fails a child at once, without unwinding into a `Runtime` drop that
/// may hang on what failed.
pub(crate) fn fail(what: &str) -> ! {
    eprintln!("FAILED: {what}");
    std::process::exit(3)
}

/// Busy-waits `d` without yielding: CPU-bound work.
pub(crate) fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Runs `f` on a thread; fails the child (exit 3) if it takes over `limit`.
pub(crate) fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    if rx.recv_timeout(limit).is_err() {
        fail(&format!("{what}: still not done after {limit:?}"));
    }
    h.join().unwrap()
}

/// A runtime builder in the default mode, or the migrating one.
pub(crate) fn builder(migrating: bool) -> goro::RuntimeBuilder {
    if migrating {
        // SAFETY: the child-process cases hold nothing tied to a thread
        // across a park point in the runtimes they build this way.
        unsafe { goro::Runtime::builder().migrating() }
    } else {
        goro::Runtime::builder()
    }
}

/// The message of a panic payload (a `String` or a `&str`).
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map_or_else(|_| "<non-string panic>".into(), |s| s.to_string()),
    }
}
