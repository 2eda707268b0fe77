//! Stack traces of parked goroutines, for the dumps that ask for them
//! (`dump_with_backtraces`, and the SIGQUIT and deadlock dumps under
//! `GORO_TRACEBACK=all`).
//!
//! A trace is taken on the goroutine's own stack, by the goroutine, on its
//! own worker, while it stays parked: the dumper *claims* a parked
//! goroutine (`PARKED -> RUNNING`, as a wake-up does, so nothing else can
//! resume it), marks it with `TRACE` and queues it. Resumed, its `park`
//! sees the mark instead of returning (`Task::answer_trace`): it captures
//! `std::backtrace::Backtrace` there and parks again, exactly as before
//! (`Switch::ParkTraced`), and its worker, once it is parked, hands the
//! trace to every dumper that asked (so a dump that follows finds it
//! parked, not running); a real wake-up that came meanwhile found it
//! `RUNNING` and left `NOTIFIED`, which the re-park consumes. To the
//! goroutine's code the trace is invisible; it runs no code of its own.
//!
//! * Several dumpers at once: `ASKED` maps each claimed goroutine to the
//!   requests waiting for its trace; a dumper that finds one there joins it
//!   instead of claiming (which would fail), and one capture serves all.
//! * A claimed goroutine of a bubble counts as waiting outside it
//!   (`Bubble::outside`) from its claim until it has answered: claimed and
//!   not yet queued, it is neither parked nor runnable, and the bubble must
//!   not move its clock past it. A dumper in a bubble waits outside too,
//!   and times its patience by the real clock (a thread of its own), not by
//!   the bubble's.
//! * A goroutine with little stack left declines (its trace says so)
//!   rather than overflow its stack in the capture.
//!
//! Cost when nobody asks: one load of `Task::wait` (in the task header,
//! just written by the park) when a park returns. When asked: a switch to
//! each parked goroutine and back, the capture, and the dumper's resolving
//! of each trace's symbols, which dominates (about 0.1 ms a goroutine;
//! `bench-dump`).

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::park::Unparker;
use crate::shared::Shared;
use crate::task::{GoroutineId, Task, TaskRef};

/// The bit of `Task::wait` that asks the parked goroutine for a trace.
pub(crate) const TRACE: u8 = 0x80;
/// The bit of `Task::wait` that says a dumper claimed it and has not had
/// its trace yet: to dumps, it is still parked.
pub(crate) const TRACED: u8 = 0x40;
/// Both marks (the rest of `Task::wait` is a `park::Wait`).
pub(crate) const MARKS: u8 = TRACE | TRACED;

/// How long a dumper waits without any trace coming back (a worker stuck in
/// a goroutine never runs the ones parked on it).
const PATIENCE: Duration = Duration::from_secs(1);

/// The stack a capture may need; a goroutine with less left declines.
pub(crate) const STACK_NEEDED: usize = 32 * 1024;

/// A captured trace, shared by the dumpers that asked; `None`: the
/// goroutine had too little stack left.
type Trace = Arc<Option<Backtrace>>;

/// One dumper's request.
struct Request {
    traces: Mutex<HashMap<GoroutineId, Trace>>,
    /// Traces asked for and not yet delivered.
    pending: AtomicUsize,
    /// When the last trace came (or the request started).
    last: Mutex<Instant>,
    /// The watchdog gave up waiting, or the dumper stopped.
    over: AtomicBool,
    dumper: Unparker,
}

impl Request {
    fn deliver(&self, id: GoroutineId, trace: Trace) {
        lock(&self.traces).insert(id, trace);
        *lock(&self.last) = Instant::now();
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.dumper.unpark();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The claimed goroutines, each with the requests waiting for its trace.
static ASKED: LazyLock<Mutex<HashMap<GoroutineId, Vec<Arc<Request>>>>> =
    LazyLock::new(Mutex::default);

/// Goroutines capturing their trace or with one captured and not yet handed
/// over, with the requests waiting for it (`deliver` hands it over once the
/// goroutine is parked again). The trace is `None` while it is captured.
static CAPTURED: LazyLock<Mutex<HashMap<GoroutineId, Captured>>> = LazyLock::new(Mutex::default);

/// The requests waiting for a goroutine's trace, and the trace once taken.
type Captured = (Vec<Arc<Request>>, Option<Trace>);

/// Called by a goroutine resumed with `TRACE`, on its own stack (`Task::
/// answer_trace`), with `STACK_NEEDED` left: captures its trace for every
/// dumper waiting for it, to be handed over by `delivered`.
#[cold]
#[inline(never)]
pub(crate) fn capture(id: GoroutineId) {
    {
        // Moved under both locks: a dumper that comes meanwhile finds the
        // goroutine in one map or the other, and joins.
        let mut asked = lock(&ASKED);
        // None: every dumper that asked stopped waiting.
        let Some(requests) = asked.remove(&id) else {
            return;
        };
        lock(&CAPTURED).insert(id, (requests, None));
    }
    let trace = Arc::new(Some(Backtrace::force_capture()));
    if let Some(entry) = lock(&CAPTURED).get_mut(&id) {
        entry.1 = Some(trace);
    }
}

/// Called by `task`'s worker once it is parked again after `capture` (or
/// found woken meanwhile): hands its trace to its dumpers, or tells them it
/// had too little stack for one. A dump that follows finds it as it was.
/// `rt`: its runtime.
#[cold]
#[inline(never)]
pub(crate) fn delivered(task: &Task, rt: &Shared) {
    let captured = lock(&CAPTURED).remove(&task.id);
    let (requests, trace) = match captured {
        Some((requests, Some(trace))) => (requests, trace),
        // Declined (too little stack): still in `ASKED`.
        _ => match lock(&ASKED).remove(&task.id) {
            Some(requests) => (requests, Arc::new(None)),
            None => (Vec::new(), Arc::new(None)),
        },
    };
    for request in requests {
        request.deliver(task.id, trace.clone());
    }
    // Counted outside its bubble since its claim (`claim`): back in now.
    if let Some(bubble) = &rt.bubble {
        bubble.leave_outside();
    }
}

/// Whether goroutine `id` is claimed for a trace that its dumpers have not
/// had yet: to its code, and so to dumps, it is still parked. (Its
/// `TRACED` mark says it may be, and may be stale: cleared only when a real
/// wake-up resumes it, which may still be queued.)
pub(crate) fn in_flight(id: GoroutineId) -> bool {
    lock(&ASKED).contains_key(&id) || lock(&CAPTURED).contains_key(&id)
}

/// Claims `task` for a trace (see the module docs).
fn claim(task: &TaskRef) -> Option<TaskRef> {
    let bubble = task.rt.bubble.as_ref();
    if let Some(bubble) = bubble {
        bubble.enter_outside();
    }
    let run = task.claim_for_trace();
    if run.is_none()
        && let Some(bubble) = bubble
    {
        bubble.leave_outside();
    }
    run
}

/// The traces of `tasks` (goroutines seen parked), by id, each taken on the
/// goroutine's own stack (see the module docs); those that were not parked
/// any more, or did not come back in time, are missing. Blocks the calling
/// thread or goroutine meanwhile.
pub(crate) fn collect(tasks: &[TaskRef]) -> HashMap<GoroutineId, String> {
    let request = Arc::new(Request {
        traces: Mutex::new(HashMap::new()),
        pending: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
        over: AtomicBool::new(false),
        dumper: crate::park::current_unparker(),
    });
    let me = crate::worker::current_task().map(|t| t.id);
    let mut asked = Vec::new();
    let mut claimed = Vec::new();
    {
        let mut map = lock(&ASKED);
        for task in tasks.iter().filter(|t| Some(t.id) != me) {
            // Counted before the request is visible to an answer.
            request.pending.fetch_add(1, Ordering::AcqRel);
            if let Some(waiting) = map.get_mut(&task.id) {
                // Another dumper's claim: its capture serves us too.
                waiting.push(request.clone());
                asked.push(task.id);
                continue;
            }
            // Twice: a claim may fail because another dumper's trace is
            // being handed over, and the second finds it parked again.
            let mut joined = false;
            for _ in 0..2 {
                if let Some(run) = claim(task) {
                    map.insert(task.id, vec![request.clone()]);
                    claimed.push(run);
                    joined = true;
                    break;
                }
                if let Some(entry) = lock(&CAPTURED).get_mut(&task.id) {
                    // Another dumper's, captured and not yet handed over.
                    entry.0.push(request.clone());
                    joined = true;
                    break;
                }
            }
            if joined {
                asked.push(task.id);
            } else {
                request.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
    // Queued once the map is unlocked: an answer takes the lock.
    for run in claimed {
        Task::schedule(run);
    }
    wait(&request);
    // Those that did not answer in time will find nobody waiting.
    if request.pending.load(Ordering::Acquire) > 0 {
        let mut map = lock(&ASKED);
        let mut captured = lock(&CAPTURED);
        for id in &asked {
            if let Some(waiting) = map.get_mut(id) {
                waiting.retain(|r| !Arc::ptr_eq(r, &request));
                if waiting.is_empty() {
                    map.remove(id);
                }
            }
            if let Some((waiting, _)) = captured.get_mut(id) {
                waiting.retain(|r| !Arc::ptr_eq(r, &request));
            }
        }
    }
    let traces = std::mem::take(&mut *lock(&request.traces));
    traces
        .into_iter()
        .map(|(id, trace)| {
            let text = match &*trace {
                Some(trace) => trim(&trace.to_string()),
                None => "(no stack trace: too little stack left for one)".to_string(),
            };
            (id, text)
        })
        .collect()
}

/// Waits until every trace of `request` came, or none came for `PATIENCE`.
/// A goroutine parks meanwhile, counted outside its bubble if it is in one
/// (the clock must not move for its wait), and a thread of its own times
/// the patience by the real clock.
fn wait(request: &Arc<Request>) {
    if request.pending.load(Ordering::Acquire) == 0 {
        return;
    }
    let _outside = crate::bubble::Outside::enter();
    let watchdog = {
        let request = request.clone();
        std::thread::Builder::new()
            .name("goro-traceback".into())
            .spawn(move || {
                while !request.over.load(Ordering::Acquire) {
                    let quiet = lock(&request.last).elapsed();
                    if quiet >= PATIENCE {
                        request.over.store(true, Ordering::Release);
                        request.dumper.unpark();
                        return;
                    }
                    std::thread::park_timeout(PATIENCE - quiet);
                }
            })
    };
    let Ok(watchdog) = watchdog else {
        return; // no thread to time it: no traces rather than a hang
    };
    while request.pending.load(Ordering::Acquire) > 0 && !request.over.load(Ordering::Acquire) {
        crate::park::park();
    }
    request.over.store(true, Ordering::Release);
    watchdog.thread().unpark();
    let _ = watchdog.join();
}

/// A trace without its first frames, which are the capture's own (up to
/// and including `Task::answer_trace`).
fn trim(trace: &str) -> String {
    let lines: Vec<&str> = trace.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("::answer_trace"))
        .map_or(0, |at| {
            // Past its "at file:line" line, if it has one.
            let next = at + 1;
            if lines
                .get(next)
                .is_some_and(|l| l.trim_start().starts_with("at "))
            {
                next + 1
            } else {
                next
            }
        });
    lines[start..].join("\n")
}

/// Whether `GORO_TRACEBACK=all` asks the SIGQUIT and deadlock dumps for
/// stack traces (read once).
pub(crate) fn wanted_by_env() -> bool {
    static ALL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ALL.get_or_init(|| std::env::var_os("GORO_TRACEBACK").is_some_and(|v| v == "all"))
}
