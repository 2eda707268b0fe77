//! Sysmon: the monitor thread that keeps one stuck goroutine from stalling
//! the others (Go's `sysmon` and its `retake`).
//!
//! Goroutines are never preempted: one in a CPU loop or a blocking call
//! keeps its worker thread until it parks. Every few milliseconds sysmon
//! looks at each worker: one that has run the same goroutine for over
//! `HOG` (its switch count has not moved and it is still running), or that
//! sits in `goro::blocking`, while goroutines wait (queued, in its `next`,
//! or behind a pending timer), is *handed off*: marked stuck, its `next`
//! moved to the injector for the others to take, and, if it blocks or if
//! no other worker runs unstuck, replaced by a spare worker thread
//! (`Shared::hand_off`, `replace_stuck`). The hog keeps its thread; when it
//! parks, its worker counts again and a spare retires.
//!
//! Sysmon reads only atomics the workers publish anyway (their switch
//! counters and running goroutine), and runs at a lower priority (nice 10)
//! so that its wake-ups wait for a busy worker's time slice instead of
//! preempting it: it costs the workers nothing.
//!
//! About once a second it also gives back the pages of freed goroutine
//! stacks that went unused since the last time (`goro_fiber::stack::trim`,
//! the part of Go's scavenger that concerns stacks).
//!
//! # Deadlock
//!
//! While someone waits in `Runtime::run`, sysmon also watches for Go's
//! "all goroutines are asleep": no runtime of the process runs, has queued
//! work or a pending timer, and every thread of the process (counted in
//! `/proc/self/task`) is a goro thread or a plain thread blocked in
//! `park::park` without a deadline, so that nothing is left to wake anyone.
//! Any other thread (one computing, sleeping, or blocked elsewhere) might
//! still send, so it suppresses the report. The state must hold, with no
//! goroutine activity at all, for `DEADLOCK_AFTER` before `run` fails with
//! the report and a dump.
//!
//! # SIGQUIT
//!
//! With `GORO_TRACEBACK=1` in the environment when a runtime starts, a
//! SIGQUIT prints every runtime's goroutines to stderr and exits with
//! status 2, as Go does. The handler only sets a flag; sysmon prints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::shared::Shared;
use crate::threads::GoroThread;
use crate::worker;

/// How long one goroutine may keep a worker while others wait.
const HOG: Duration = Duration::from_millis(10);
/// How often sysmon looks while some worker runs a goroutine.
const BUSY_INTERVAL: Duration = Duration::from_millis(2);
/// How often it looks while every worker is idle (Go's sysmon sleeps up to
/// 10 ms too); a worker that starts a goroutine meanwhile wakes it.
const IDLE_INTERVAL: Duration = Duration::from_millis(10);
/// How long a deadlock must hold still before `run` reports it.
const DEADLOCK_AFTER: Duration = Duration::from_millis(300);
/// How often freed stacks that went unused give their pages back
/// (`goro_fiber::stack::trim`, Go's scavenger).
const TRIM_INTERVAL: Duration = Duration::from_secs(1);

/// What sysmon saw of a worker's run (see `run`).
#[derive(Clone, Copy)]
struct Seen {
    /// The worker's switch count.
    switches: u64,
    /// When sysmon first saw it (for the report: a run is reported only
    /// once sysmon has seen it last `HOG`).
    since: Instant,
    /// The look before that one: the run began after it.
    began_after: Instant,
    /// Whether this run was reported.
    reported: bool,
}

/// Set by the SIGQUIT handler.
static SIGQUIT: AtomicBool = AtomicBool::new(false);
/// Taken by the sysmon that prints the SIGQUIT dump: with several runtimes,
/// two dumping at once each printed it, and one's stack traces could wait
/// more than `traceback`'s patience for std's backtrace lock, held by the
/// other's symbol resolution.
static DUMPING: AtomicBool = AtomicBool::new(false);

/// Lowers sysmon's priority (nice 10) so that its wake-ups, every couple of
/// milliseconds while goroutines run, do not preempt a busy worker the
/// moment they come, but wait for the worker's time slice: it still gets
/// its share well within `HOG`. Preempted at random points (say, with a
/// channel's lock held, or between a hand-off and its partner's wake-up),
/// workers exchanging messages fell into a mode where each exchange crossed
/// cores and waited on the other's spin, and stayed there: the `select`
/// benchmark took 0.8 s or 2 s by the luck of the draw.
fn yield_to_workers() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `gettid` takes no arguments and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        // SAFETY: sets this thread's nice value only; a failure (say, a
        // sandbox that forbids it) leaves the priority as it was.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 10) };
    }
}

/// Sysmon's loop, until the runtime shuts down.
pub(crate) fn run(shared: &std::sync::Arc<Shared>, ready: std::sync::mpsc::Sender<()>) {
    let _goro_thread = GoroThread::enter();
    yield_to_workers();
    let _ = ready.send(());
    // Now rather than at the first hand-off, which should not wait for it;
    // after `build` returns, which every program's start waited for; and
    // off this thread (`register_membarrier_soon`).
    crate::slot::register_membarrier_soon();
    // Per slot: the switch count last seen, since when it has not moved
    // (since sysmon first saw it), since when at the earliest (the look
    // before: the run began after it), and whether this run was reported.
    let mut seen: Vec<Seen> = Vec::new();
    let mut interval = BUSY_INTERVAL;
    // The look before this one.
    let mut last_look = Instant::now();
    // Since when, and at which activity count, a deadlock has looked likely.
    let mut asleep: Option<(Instant, u64)> = None;
    let mut next_trim = Instant::now() + TRIM_INTERVAL;
    while !shared.is_shutdown() {
        thread::park_timeout(interval);
        let now = Instant::now();
        shared.tick_coarse_clock(now);
        // Sockets, if no worker has polled for 10 ms (all busy).
        crate::poll::poll_sysmon(now);
        if now >= next_trim {
            goro_fiber::stack::trim();
            next_trim = now + TRIM_INTERVAL;
        }
        // One sysmon dumps every runtime; the others go on meanwhile.
        if SIGQUIT.load(Ordering::Relaxed) && !DUMPING.swap(true, Ordering::Relaxed) {
            dump_all_and_exit();
        }
        let n = shared.slots_in_use();
        seen.resize(
            n,
            Seen {
                switches: u64::MAX,
                since: now,
                began_after: now,
                reported: false,
            },
        );
        let mut busy = false;
        for (i, seen) in seen.iter_mut().enumerate() {
            let slot = &shared.workers[i];
            let running = slot.is_running();
            let switches = shared.stats[i]
                .switches
                .load(std::sync::atomic::Ordering::Relaxed);
            busy |= running;
            if !running || switches != seen.switches {
                seen.switches = switches;
                seen.since = now;
                // After a busy interval the run began after the look
                // before; after an idle one (a goroutine's start woke
                // sysmon, or nothing ran at the look before, 10 ms ago), it
                // began just now.
                seen.began_after = if interval == BUSY_INTERVAL {
                    last_look
                } else {
                    now
                };
                if std::mem::take(&mut seen.reported) {
                    slot.held_since.store(u32::MAX, Ordering::Relaxed);
                }
                continue;
            }
            if !seen.reported && now.duration_since(seen.since) >= HOG {
                seen.reported = report_holder(shared, i, now.duration_since(seen.since));
            }
            if slot.is_stuck() || slot.retired.load(Ordering::Relaxed) {
                continue;
            }
            // Held since the look before the one that first saw this run,
            // at the earliest: when sysmon itself waited for a CPU (nice 10,
            // on cores that hogs keep busy, it woke 5-13 ms late), the run
            // is that much older than sysmon's first sight of it, and the
            // goroutines behind it waited that much longer.
            let held = now.duration_since(seen.began_after);
            if (slot.is_blocking() || held >= HOG) && shared.work_waiting(i) {
                shared.hand_off(i);
            }
        }
        last_look = now;
        interval = if busy { BUSY_INTERVAL } else { IDLE_INTERVAL };
        shared.sysmon_idle.store(!busy, Ordering::Relaxed);
        if shared.detect_deadlocks && !busy && shared.has_run_waiters() {
            match (all_asleep(), asleep) {
                (Some(activity), Some((since, seen))) if activity == seen => {
                    if now.duration_since(since) >= DEADLOCK_AFTER {
                        let report = format!(
                            "all goroutines are asleep - deadlock!\n\n{}",
                            crate::dump::render_with(shared, crate::traceback::wanted_by_env())
                        );
                        shared.report_deadlock(report);
                    }
                }
                (Some(activity), _) => asleep = Some((now, activity)),
                (None, _) => asleep = None,
            }
        } else {
            asleep = None;
        }
    }
}

/// In the default mode, reports (once per run) a goroutine that has held
/// worker `index` for `held` while goroutines that started there, and may
/// run nowhere else, wait for it; returns whether it did.
fn report_holder(shared: &Shared, index: usize, held: Duration) -> bool {
    let waiting = shared.pinned_waiting(index);
    if waiting == 0 {
        return false;
    }
    let slot = &shared.workers[index];
    let before = slot.running_addr();
    let (id, from) = slot.running_goroutine();
    if before.is_null() || slot.running_addr() != before {
        return false; // the run ended meanwhile: the two may not match
    }
    let held_ms = u32::try_from(held.as_millis()).unwrap_or(u32::MAX);
    slot.held_since.store(
        shared.coarse_ms().saturating_sub(held_ms),
        Ordering::Relaxed,
    );
    let name = shared
        .registry
        .find(id)
        .and_then(|t| t.name().map(|n| format!(" \"{n}\"")))
        .unwrap_or_default();
    let from = from.map_or_else(String::new, |at| format!(" (spawned at {at})"));
    let (them, wait) = if waiting == 1 {
        ("goroutine", "waits")
    } else {
        ("goroutines", "wait")
    };
    eprintln!(
        "goro: goroutine {id}{name}{from} has held worker {index} for {held_ms} ms, and {waiting} \
         {them} that started on that worker {wait} for it (a goroutine keeps its thread: wrap \
         blocking calls and long computations in goro::blocking)"
    );
    true
}

/// The activity count of all runtimes if nothing can wake any goroutine
/// (see the module docs), else `None`.
fn all_asleep() -> Option<u64> {
    let before = crate::threads::known_idle_threads();
    let activity = crate::deadlock::all_quiescent()?;
    let threads = std::fs::read_dir("/proc/self/task").ok()?.count();
    let after = crate::threads::known_idle_threads();
    (before == threads && after == threads).then_some(activity)
}

/// Installs the SIGQUIT handler if `GORO_TRACEBACK=1` (once per process).
pub(crate) fn install_sigquit_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("GORO_TRACEBACK").is_none_or(|v| v != "1" && v != "all") {
        return;
    }
    INSTALLED.call_once(|| {
        extern "C" fn on_sigquit(_: libc::c_int) {
            SIGQUIT.store(true, Ordering::Relaxed);
        }
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask"
        // value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as usize;
        // SAFETY: a valid action whose handler only stores to an atomic
        // (async-signal-safe).
        unsafe { libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut()) };
    });
}

/// Prints every runtime's goroutines to stderr and exits with status 2.
fn dump_all_and_exit() -> ! {
    let mut out = String::from("SIGQUIT: quit\n");
    for rt in crate::deadlock::all_runtimes() {
        out.push('\n');
        out.push_str(&crate::dump::render_with(
            &rt,
            crate::traceback::wanted_by_env(),
        ));
    }
    eprint!("{out}");
    std::process::exit(2);
}

/// Marks the calling goroutine's worker as blocked until the guard drops,
/// handing its work off at once if any waits (`goro::blocking`).
pub(crate) fn enter_blocking() -> Option<BlockingGuard> {
    if !worker::in_goroutine() {
        return None;
    }
    worker::with_any_worker(|w| {
        let slot = &w.shared.workers[w.index];
        slot.set_blocking(true);
        if w.shared.work_waiting(w.index) {
            w.shared.hand_off_here(w);
        }
        BlockingGuard {
            shared: w.shared.clone(),
            index: w.index,
        }
    })
}

/// Clears the worker's `blocking` mark on drop. The worker stays stuck (if
/// it was handed off) until its goroutine parks: it still runs it.
pub(crate) struct BlockingGuard {
    shared: std::sync::Arc<Shared>,
    index: usize,
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        self.shared.workers[self.index].set_blocking(false);
    }
}
