//! Stack traces of parked goroutines, for the dumps that ask for them
//! (`dump_with_backtraces`, and the SIGQUIT and deadlock dumps under
//! `GORO_TRACEBACK=all`).
//!
//! A trace is taken on the goroutine's own stack, by the goroutine, on its
//! own worker, while it stays parked: the dumper *claims* a parked
//! goroutine (`PARKED -> RUNNING`, as a wake-up does, so nothing else can
//! resume it), marks it with `TRACE` and queues it. Resumed, its `park`
//! sees the mark instead of returning (`Task::answer_trace`): it captures
//! `std::backtrace::Backtrace` there, hands it to the dumper, and parks
//! again, exactly as before; a real wake-up that came meanwhile found it
//! `RUNNING` and left `NOTIFIED`, which the re-park consumes. To the
//! goroutine's code the trace is invisible; it runs no code of its own.
//!
//! Cost when nobody asks: one load of `Task::wait` (in the task header,
//! just written by the park) when a park returns. When asked: a switch to
//! each parked goroutine and back, the capture, and the dumper's resolving
//! of each trace's symbols, which dominates (about 0.1 ms a goroutine;
//! `bench-dump`).

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::park::Unparker;
use crate::shared::Shared;
use crate::task::{GoroutineId, TaskRef};

/// The bit of `Task::wait` that asks the parked goroutine for a trace.
pub(crate) const TRACE: u8 = 0x80;

/// How long a dumper waits for the traces (a worker stuck in a goroutine
/// never runs the ones parked on it).
const PATIENCE: Duration = Duration::from_secs(1);

/// One dumper's traces.
struct Request {
    traces: Mutex<HashMap<GoroutineId, Backtrace>>,
    pending: AtomicUsize,
    dumper: Unparker,
}

/// The goroutines asked for a trace, by id, each with its dumper's request.
static ASKED: Mutex<Vec<(GoroutineId, Arc<Request>)>> = Mutex::new(Vec::new());

fn asked() -> std::sync::MutexGuard<'static, Vec<(GoroutineId, Arc<Request>)>> {
    ASKED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called by a goroutine resumed with `TRACE`: its trace, to its dumper.
#[cold]
#[inline(never)]
pub(crate) fn answer(id: GoroutineId) {
    let request = {
        let mut asked = asked();
        let at = asked.iter().position(|(i, _)| *i == id);
        at.map(|at| asked.swap_remove(at).1)
    };
    // Gone: the dumper stopped waiting.
    let Some(request) = request else { return };
    let trace = Backtrace::force_capture();
    request
        .traces
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, trace);
    if request.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        request.dumper.unpark();
    }
}

/// The traces of `shared`'s parked goroutines, by id, as their own stacks
/// give them (see the module docs); those not back within `PATIENCE` are
/// missing. Blocks the calling thread or goroutine meanwhile.
pub(crate) fn collect(shared: &Shared) -> HashMap<GoroutineId, String> {
    let tasks = shared.registry_snapshot();
    let request = Arc::new(Request {
        traces: Mutex::new(HashMap::new()),
        pending: AtomicUsize::new(0),
        dumper: crate::park::current_unparker(),
    });
    let me = crate::worker::current_task().map(|t| t.id);
    let mut claimed: Vec<TaskRef> = Vec::new();
    for task in &tasks {
        if Some(task.id) == me {
            continue;
        }
        // Asked before it is claimed: once queued, it may answer at once.
        request.pending.fetch_add(1, Ordering::AcqRel);
        asked().push((task.id, request.clone()));
        match task.claim_for_trace() {
            Some(run) => claimed.push(run),
            None => {
                let mut asked = asked();
                if let Some(at) = asked
                    .iter()
                    .position(|(i, r)| *i == task.id && Arc::ptr_eq(r, &request))
                {
                    asked.swap_remove(at);
                }
                request.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
    for run in claimed {
        crate::task::Task::schedule(run);
    }
    let deadline = Instant::now() + PATIENCE;
    while request.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        crate::park::park_deadline(deadline);
    }
    // Those that did not answer in time will find nobody asking.
    asked().retain(|(_, r)| !Arc::ptr_eq(r, &request));
    let traces = std::mem::take(&mut *request.traces.lock().unwrap_or_else(|e| e.into_inner()));
    traces
        .into_iter()
        .map(|(id, trace)| (id, trim(&trace.to_string())))
        .collect()
}

/// A trace without its first frames, which are the capture's own (up to
/// and including `answer`).
fn trim(trace: &str) -> String {
    let lines: Vec<&str> = trace.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("goro_sched::traceback::answer"))
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
