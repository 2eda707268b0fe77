//! `goro::dump`: every goroutine, what it waits for, where it waits (the
//! call site of the blocking operation, carried down by `#[track_caller]`)
//! and where it was spawned, as Go prints on a deadlock or a SIGQUIT.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::park::Wait;
use crate::shared::Shared;
use crate::task::{GoroutineId, TaskRef};
use crate::test::Group;

/// "running on worker N", and, for a goroutine that sysmon found holding
/// its worker while others wait for it, for how long and how many.
fn running_state(shared: &Shared, worker: usize, now: u32) -> String {
    let since = shared.workers[worker].held_since.load(Ordering::Relaxed);
    if since == u32::MAX {
        return format!("running on worker {worker}");
    }
    format!(
        "running on worker {worker}, {} ms, {} goroutines wait for its thread",
        now.saturating_sub(since),
        shared.pinned_waiting(worker)
    )
}

/// Renders every live runtime's goroutines, `first`'s first (`goro::dump`),
/// each headed by its runtime's line.
pub(crate) fn render_all(first: &Arc<Shared>, traced: bool) -> String {
    let sections: Vec<String> = first_then_others(first)
        .iter()
        .map(|rt| render_with(rt, traced))
        .collect();
    sections.join("\n")
}

/// `render`, with each parked goroutine's stack trace if `traced`
/// (`traceback.rs`).
pub(crate) fn render_with(shared: &Shared, traced: bool) -> String {
    let traces = traced.then(|| crate::traceback::collect(shared));
    render_traces(shared, traces.as_ref())
}

/// Every live runtime, `first` first.
fn first_then_others(first: &Arc<Shared>) -> Vec<Arc<Shared>> {
    let mut runtimes = vec![first.clone()];
    runtimes.extend(
        crate::deadlock::all_runtimes()
            .into_iter()
            .filter(|rt| !Arc::ptr_eq(rt, first)),
    );
    runtimes
}

/// The workers running a goroutine, with its address.
fn running(shared: &Shared) -> Vec<(usize, *mut ())> {
    (0..shared.slots_in_use())
        .filter_map(|i| {
            let addr = shared.workers[i].running_addr();
            (!addr.is_null()).then_some((i, addr))
        })
        .collect()
}

/// One goroutine's lines: id, name, state, where it waits, where it was
/// spawned.
fn goroutine(
    out: &mut String,
    shared: &Shared,
    task: &TaskRef,
    running: &[(usize, *mut ())],
    now: u32,
    traces: Option<&HashMap<GoroutineId, String>>,
) {
    let on = running
        .iter()
        .find(|(_, addr)| *addr == task.addr().cast_mut());
    let mut site = None;
    let state = match on {
        Some((worker, _)) => running_state(shared, *worker, now),
        None if task.is_parked() => {
            let code = task.wait.load(Ordering::Relaxed) & !crate::traceback::TRACE;
            let wait = Wait::from_code(code);
            let since = task.waiting_since.load(Ordering::Relaxed);
            site = task.wait_site.get();
            format!("{wait}, {} ms", now.saturating_sub(since))
        }
        None => "runnable".to_string(),
    };
    let _ = write!(out, "\ngoroutine {}", task.id);
    if let Some(name) = task.name() {
        let _ = write!(out, " \"{name}\"");
    }
    let _ = write!(out, " [{state}]:");
    if let Some(site) = site {
        let _ = write!(out, "\n\tat {site}");
    }
    let _ = writeln!(out, "\n\tspawned at {}", task.location);
    if let Some(traces) = traces {
        match traces.get(&task.id) {
            Some(trace) => {
                for line in trace.lines() {
                    let _ = writeln!(out, "\t{line}");
                }
            }
            None => out.push_str("\t(no stack trace: not parked, or not back in time)\n"),
        }
    }
}

/// The goroutines of `group` (`test::assert_no_leaks`), in every live
/// runtime, `first`'s first; those that have not waited yet are counted.
pub(crate) fn render_group(first: &Arc<Shared>, group: &Arc<Group>) -> String {
    let mut out = String::new();
    let mut listed = 0;
    for rt in &first_then_others(first) {
        let now = rt.coarse_ms();
        let running = running(rt);
        let mut tasks = rt.registry_snapshot();
        tasks.retain(|t| t.group().is_some_and(|g| Arc::ptr_eq(g, group)));
        tasks.sort_by_key(|t| t.id);
        for task in &tasks {
            goroutine(&mut out, rt, task, &running, now, None);
        }
        listed += tasks.len();
    }
    let others = group.live().saturating_sub(listed);
    if others > 0 {
        let _ = writeln!(
            out,
            "\n... and {others} goroutines that have not waited yet (queued or running)"
        );
    }
    out
}

/// Renders the goroutines of `shared`.
///
/// Goroutines that have parked at least once are in the registry and are
/// listed one by one; the others have never waited (queued, or running for
/// the first time) and are counted.
pub(crate) fn render(shared: &Shared) -> String {
    render_traces(shared, None)
}

/// `render`, with these stack traces.
fn render_traces(shared: &Shared, traces: Option<&HashMap<GoroutineId, String>>) -> String {
    let mut out = String::new();
    let now = shared.coarse_ms();
    let running = running(shared);
    let mut tasks = shared.registry_snapshot();
    tasks.sort_by_key(|t| t.id);
    let alive = shared.alive();
    let _ = writeln!(
        out,
        "goro: {alive} goroutines, {} workers, {} spare threads (runtime \"{}\")",
        shared.procs,
        shared.spares_running(),
        shared.name
    );
    for task in &tasks {
        goroutine(&mut out, shared, task, &running, now, traces);
    }
    // A goroutine that has never parked is not in the registry, and one we
    // hold no reference to may end at any moment: shown by worker only.
    let unlisted: Vec<usize> = running
        .iter()
        .filter(|(_, addr)| !tasks.iter().any(|t| t.addr().cast_mut() == *addr))
        .map(|&(worker, _)| worker)
        .collect();
    for &worker in &unlisted {
        let (id, from) = shared.workers[worker].running_goroutine();
        let state = running_state(shared, worker, now);
        let _ = write!(out, "\ngoroutine {id} [{state}, not yet parked]");
        match from {
            Some(at) => {
                let _ = writeln!(out, ":\n\tspawned at {at}");
            }
            None => out.push('\n'),
        }
    }
    let others = alive.saturating_sub(tasks.len() + unlisted.len());
    if others > 0 {
        let _ = writeln!(
            out,
            "\n... and {others} goroutines that have not waited yet (queued or starting)"
        );
    }
    out
}
