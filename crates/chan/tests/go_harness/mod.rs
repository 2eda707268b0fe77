//! What the ports of Go's channel tests share: running one ported test in
//! every mode (as goroutines on 1 and on 4 workers, as plain threads, and
//! mixed), with a minute's bound on hangs and a check that every goroutine
//! the test started has ended.
//!
//! A ported body takes a [`Go`], Go's `go` statement for the mode it runs
//! in: `g.go(f)` starts `f` as a goroutine of the mode's runtime, or as a
//! plain thread, or (mixed) one and the other in turn. A panic in one of
//! them is Go's `t.Error` from a goroutine: recorded, and the test fails
//! once its body returns (or with the hang report, if the body hangs
//! waiting for it).

#![allow(dead_code)]

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use goro_sched::Runtime;

/// How long a test may run, in one mode, before it counts as hung.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// Where a test's body and the goroutines it starts run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// The body and every `go` on the runtime.
    Goroutines,
    /// The body and every `go` on a plain thread.
    Threads,
    /// The body on the runtime; every other `go` a plain thread.
    Mixed,
}

/// One mode: how, and on how many workers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mode {
    pub(crate) how: How,
    pub(crate) workers: usize,
}

pub(crate) const G1: Mode = Mode {
    how: How::Goroutines,
    workers: 1,
};
pub(crate) const G4: Mode = Mode {
    how: How::Goroutines,
    workers: 4,
};
pub(crate) const THREADS: Mode = Mode {
    how: How::Threads,
    workers: 1,
};
pub(crate) const MIXED1: Mode = Mode {
    how: How::Mixed,
    workers: 1,
};
pub(crate) const MIXED4: Mode = Mode {
    how: How::Mixed,
    workers: 4,
};

/// Every mode.
pub(crate) const ALL: &[Mode] = &[G1, G4, THREADS, MIXED1, MIXED4];
/// The goroutine modes only (for what only goroutines can mean).
pub(crate) const GOROUTINES: &[Mode] = &[G1, G4];

/// The runtime of `workers` workers, in the suite's mode
/// (`GORO_TEST_MODE`), one for every test of the binary as Go's tests
/// share one.
fn runtime(workers: usize) -> &'static Runtime {
    static ONE: OnceLock<Runtime> = OnceLock::new();
    static FOUR: OnceLock<Runtime> = OnceLock::new();
    let cell = if workers == 1 { &ONE } else { &FOUR };
    cell.get_or_init(|| {
        crate::mode::builder()
            .workers(workers)
            .name(format!("go-tests-{workers}"))
            .build()
            .expect("a runtime for the Go tests")
    })
}

/// One run's bookkeeping.
#[derive(Default)]
struct State {
    /// Started by `go` and not ended yet.
    live: AtomicUsize,
    /// Started by `go`, in all.
    spawned: AtomicUsize,
    /// The first panic of a goroutine, as a message.
    failure: Mutex<Option<String>>,
}

/// Go's `go` statement, for one run of a test in one mode.
#[derive(Clone, Copy)]
pub(crate) struct Go {
    mode: Mode,
    rt: &'static Runtime,
    state: &'static State,
}

/// A started goroutine (or thread); dropping it detaches it.
pub(crate) enum Handle<T> {
    Goroutine(goro_sched::JoinHandle<thread::Result<T>>),
    /// A thread's result comes over a channel: a goroutine joining a
    /// thread must park, not block its worker (in the default mode the
    /// goroutines that started on that worker would wait for it, and the
    /// thread may be waiting for them).
    Thread(goro_chan::Receiver<thread::Result<T>>),
}

impl<T> Handle<T> {
    /// Waits for it; its panic is re-raised here.
    pub(crate) fn join(self) -> T {
        let r = match self {
            Handle::Goroutine(h) => h.join().expect("the goroutine ran"),
            Handle::Thread(h) => h.recv().expect("the thread ran"),
        };
        r.unwrap_or_else(|p| resume_unwind(p))
    }
}

impl Go {
    /// Starts `f` as Go's `go f()` does, in this run's mode.
    pub(crate) fn go<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        self.spawn(true, f)
    }

    /// Starts `f`, which the test expects to block for good (on a nil
    /// channel, in `select {}`): it is not waited for at the end.
    pub(crate) fn go_forever(self, f: impl FnOnce() + Send + 'static) {
        drop(self.spawn(false, f));
    }

    /// Whether `go` starts plain threads only (tests scale down there).
    pub(crate) fn threads(self) -> bool {
        self.mode.how == How::Threads
    }

    /// Whether some of what `go` starts is plain threads.
    pub(crate) fn some_threads(self) -> bool {
        self.mode.how != How::Goroutines
    }

    /// The mode's worker count.
    pub(crate) fn workers(self) -> usize {
        self.mode.workers
    }

    fn spawn<T: Send + 'static>(
        self,
        counted: bool,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Handle<T> {
        let state = self.state;
        if counted {
            state.live.fetch_add(1, Ordering::SeqCst);
        }
        let n = state.spawned.fetch_add(1, Ordering::Relaxed);
        let thread = match self.mode.how {
            How::Goroutines => false,
            How::Threads => true,
            How::Mixed => n % 2 == 1,
        };
        let body = move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            if let Err(p) = &r {
                let mut failure = state.failure.lock().unwrap_or_else(|e| e.into_inner());
                failure.get_or_insert_with(|| message(p.as_ref()));
            }
            if counted {
                state.live.fetch_sub(1, Ordering::SeqCst);
            }
            r
        };
        if thread {
            let (tx, rx) = goro_chan::bounded(1);
            thread::spawn(move || {
                let _ = tx.send(body());
            });
            Handle::Thread(rx)
        } else {
            Handle::Goroutine(self.rt.go(body))
        }
    }

    fn failure(self) -> Option<String> {
        self.state
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A panic's message.
pub(crate) fn message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Runs `body` once in each of `modes`: fails on its panic, on a panic of
/// a goroutine it started, if it runs for more than a minute, or if what
/// it started has not ended a minute after it began.
pub(crate) fn check(modes: &[Mode], body: impl Fn(Go) + Send + Sync + 'static) {
    let body = Arc::new(body);
    for &mode in modes {
        let state: &'static State = Box::leak(Box::default());
        let rt = runtime(mode.workers);
        let g = Go { mode, rt, state };
        let (done_tx, done) = mpsc::channel();
        let b = body.clone();
        let start = Instant::now();
        thread::Builder::new()
            .name(format!("{mode:?}"))
            .spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| match mode.how {
                    How::Threads => b(g),
                    How::Goroutines | How::Mixed => rt.run(move || b(g)),
                }));
                let _ = done_tx.send(r);
            })
            .expect("a thread for the test's body");
        match done.recv_timeout(LIMIT) {
            Ok(Ok(())) => {}
            Ok(Err(p)) => panic!(
                "{mode:?}: {} (first goroutine failure: {:?})",
                message(p.as_ref()),
                g.failure()
            ),
            Err(_) => panic!(
                "{mode:?}: still running after {LIMIT:?} (first goroutine failure: {:?})\n{}",
                g.failure(),
                truncated(rt.dump())
            ),
        }
        while state.live.load(Ordering::SeqCst) > 0 {
            if start.elapsed() > LIMIT {
                panic!(
                    "{mode:?}: {} goroutines or threads the test started still run after {LIMIT:?} \
                     (first failure: {:?})\n{}",
                    state.live.load(Ordering::SeqCst),
                    g.failure(),
                    truncated(rt.dump())
                );
            }
            thread::sleep(Duration::from_millis(1));
        }
        if let Some(f) = g.failure() {
            panic!("{mode:?}: a goroutine failed: {f}");
        }
    }
}

fn truncated(mut s: String) -> String {
    if s.len() > 8000 {
        let mut end = 8000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("\n...");
    }
    s
}
