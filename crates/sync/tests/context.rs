//! Integration tests for `goro_sync::context`: cancellation, deadlines, the
//! tree, and that nothing (threads, timers, children) is left behind.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use goro_chan::sched::go;
use goro_chan::{RecvTimeoutError, bounded, select};
use goro_sync::context::{CancelHandle, Context, ContextError};

/// Long enough to mean "it hangs"; no test should come near it.
const HANG: Duration = Duration::from_secs(10);

fn assert_closed(ctx: &Context) {
    match ctx.done().recv_timeout(HANG) {
        Err(RecvTimeoutError::Closed) => {}
        other => panic!("done() did not close: {other:?}"),
    }
}

fn assert_open(ctx: &Context) {
    assert!(ctx.done().try_recv().unwrap_err().is_empty());
    assert_eq!(ctx.err(), None);
    assert!(!ctx.is_done());
}

#[test]
fn types_are_send_sync_clone_debug() {
    let _rt = crate::mode::enter();
    fn context<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    fn handle<T: Send + Sync + std::fmt::Debug + 'static>() {}
    fn error<T: std::error::Error + Copy + Eq + Send + Sync + 'static>() {}
    context::<Context>();
    handle::<CancelHandle>();
    error::<ContextError>();

    let (ctx, cancel) = Context::with_cancel(&Context::background());
    assert!(format!("{ctx:?}").contains("Context"));
    assert!(format!("{cancel:?}").contains("CancelHandle"));
    assert!(format!("{:?}", Context::background()).contains("background"));
}

#[test]
fn error_messages_match_go() {
    let _rt = crate::mode::enter();
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let e: Box<dyn std::error::Error + Send + Sync> = ContextError::Canceled.into();
    assert_eq!(e.to_string(), "context canceled");
    assert_ne!(ContextError::Canceled, ContextError::DeadlineExceeded);
}

#[test]
fn background_is_never_done() {
    let _rt = crate::mode::enter();
    let bg = Context::background();
    assert_open(&bg);
    assert_eq!(bg.deadline(), None);
    assert!(
        bg.done()
            .recv_timeout(Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(bg.__children(), 0);
    // Children of the background are not registered anywhere.
    let (child, cancel) = Context::with_cancel(&bg);
    assert_eq!(bg.__children(), 0);
    cancel.cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_open(&bg);
}

#[test]
fn cancel_wakes_a_goroutine_in_select() {
    let _rt = crate::mode::enter();
    let (ctx, cancel) = Context::with_cancel(&Context::background());
    let (work_tx, work) = bounded::<u32>(0);
    let (ready_tx, ready) = bounded::<()>(0);
    let h = go({
        let ctx = ctx.clone();
        move || {
            let done = ctx.done();
            let mut got = Vec::new();
            ready_tx.send(()).unwrap();
            loop {
                select! {
                    recv(work) -> v => got.push(v.unwrap()),
                    recv(done) -> r => {
                        assert!(r.is_err(), "nothing is ever sent on done");
                        return (got, ctx.err());
                    }
                }
            }
        }
    });
    ready.recv().unwrap();
    work_tx.send(1).unwrap();
    work_tx.send(2).unwrap();
    std::thread::sleep(Duration::from_millis(20)); // let it block in select!
    cancel.cancel();
    let (result_tx, result) = bounded(1);
    std::thread::spawn(move || result_tx.send(h.join().unwrap()).unwrap());
    let (got, err) = result.recv_timeout(HANG).expect("goroutine not woken");
    assert_eq!(got, [1, 2]);
    assert_eq!(err, Some(ContextError::Canceled));
}

#[test]
fn cancel_wakes_a_thread_blocked_in_recv() {
    let _rt = crate::mode::enter();
    let (ctx, cancel) = Context::with_cancel(&Context::background());
    let (result_tx, result) = bounded(1);
    let done = ctx.done();
    let t = std::thread::spawn(move || {
        let r = done.recv();
        result_tx.send((r, ctx.err())).unwrap();
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(result.try_recv().is_err(), "woke before cancel");
    cancel.cancel();
    let (r, err) = result.recv_timeout(HANG).expect("thread not woken");
    assert!(r.is_err());
    assert_eq!(err, Some(ContextError::Canceled));
    t.join().unwrap();
}

#[test]
fn err_values() {
    let _rt = crate::mode::enter();
    let (ctx, cancel) = Context::with_cancel(&Context::background());
    assert_open(&ctx);
    cancel.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert!(ctx.is_done());
    cancel.cancel(); // idempotent
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_closed(&ctx);
    // A clone sees the same.
    assert_eq!(ctx.clone().err(), Some(ContextError::Canceled));

    // The first cancellation wins: a deadline, then the handle.
    let (timed, cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(1));
    assert_closed(&timed);
    assert_eq!(timed.err(), Some(ContextError::DeadlineExceeded));
    cancel.cancel();
    assert_eq!(timed.err(), Some(ContextError::DeadlineExceeded));

    // The handle, then the deadline (which was withdrawn).
    let (timed, cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(20));
    cancel.cancel();
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(timed.err(), Some(ContextError::Canceled));
}

#[test]
fn children_inherit_the_parents_error() {
    let _rt = crate::mode::enter();
    let (parent, _cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(5));
    let (child, _cancel_child) = Context::with_cancel(&parent);
    let (grandchild, _cancel_gc) =
        Context::with_deadline(&child, Instant::now() + Duration::from_secs(3600));
    assert_closed(&grandchild);
    assert_eq!(parent.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(grandchild.err(), Some(ContextError::DeadlineExceeded));

    // A child made under a cancelled parent is cancelled at once, with the
    // parent's error, even if its own deadline has passed too.
    let (late, _c) = Context::with_cancel(&parent);
    assert_eq!(late.err(), Some(ContextError::DeadlineExceeded));
    let (p, cancel_p) = Context::with_cancel(&Context::background());
    cancel_p.cancel();
    let (late, _c) = Context::with_deadline(&p, Instant::now() - Duration::from_secs(1));
    assert_eq!(late.err(), Some(ContextError::Canceled));
    let (late, _c) = Context::with_timeout(&p, Duration::from_secs(3600));
    assert_eq!(late.err(), Some(ContextError::Canceled));
    assert!(!late.__timer_pending(), "no timer for a context born done");
    assert_closed(&late);
    assert_eq!(p.__children(), 0);
}

#[test]
fn deadlines_propagate_and_are_capped() {
    let _rt = crate::mode::enter();
    let bg = Context::background();
    let before = Instant::now();
    let (parent, _cp) = Context::with_timeout(&bg, Duration::from_secs(3600));
    let after = Instant::now();
    let pd = parent.deadline().expect("a deadline");
    assert!(pd >= before + Duration::from_secs(3600) && pd <= after + Duration::from_secs(3600));
    assert!(parent.__timer_pending());

    // with_cancel inherits the deadline.
    let (c, _cc) = Context::with_cancel(&parent);
    assert_eq!(c.deadline(), Some(pd));
    assert!(!c.__timer_pending(), "with_cancel has no timer of its own");

    // A later deadline is capped at the parent's, and needs no timer.
    let (later, _cl) = Context::with_deadline(&parent, pd + Duration::from_secs(1));
    assert_eq!(later.deadline(), Some(pd));
    assert!(!later.__timer_pending());
    let (same, _cs) = Context::with_deadline(&parent, pd);
    assert_eq!(same.deadline(), Some(pd));
    let (later_t, _clt) = Context::with_timeout(&c, Duration::from_secs(7200));
    assert_eq!(later_t.deadline(), Some(pd));

    // An earlier one is kept, and its descendants inherit it.
    let early = pd - Duration::from_secs(1800);
    let (e, _ce) = Context::with_deadline(&c, early);
    assert_eq!(e.deadline(), Some(early));
    assert!(e.__timer_pending());
    let (ec, _cec) = Context::with_cancel(&e);
    assert_eq!(ec.deadline(), Some(early));

    // A huge timeout is no deadline (on the background) or the parent's.
    let (huge, _ch) = Context::with_timeout(&bg, Duration::MAX);
    assert_eq!(huge.deadline(), None);
    assert_open(&huge);
    let (huge, _ch) = Context::with_timeout(&parent, Duration::MAX);
    assert_eq!(huge.deadline(), Some(pd));

    assert_eq!(parent.__children(), 4); // c, later, same, huge
    assert_open(&parent);
}

#[test]
fn capped_child_is_cancelled_by_the_parents_deadline() {
    let _rt = crate::mode::enter();
    let (parent, _cp) = Context::with_timeout(&Context::background(), Duration::from_millis(30));
    let (child, _cc) = Context::with_timeout(&parent, Duration::from_secs(3600));
    assert_eq!(child.deadline(), parent.deadline());
    assert_closed(&child);
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn a_passed_deadline_cancels_at_once() {
    let _rt = crate::mode::enter();
    let (parent, _cp) = Context::with_cancel(&Context::background());
    let past = Instant::now() - Duration::from_millis(1);
    let (ctx, _c) = Context::with_deadline(&parent, past);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(ctx.deadline(), Some(past));
    assert!(ctx.done().try_recv().unwrap_err().is_closed());
    assert!(!ctx.__timer_pending());
    let (now, _c2) = Context::with_deadline(&parent, Instant::now());
    assert_eq!(now.err(), Some(ContextError::DeadlineExceeded));
    let (zero, _c3) = Context::with_timeout(&parent, Duration::ZERO);
    assert_eq!(zero.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(parent.__children(), 0, "a dead child was left registered");
    assert_open(&parent);
}

#[test]
fn with_timeout_fires() {
    let _rt = crate::mode::enter();
    let d = Duration::from_millis(50);
    let (parent, _cp) = Context::with_cancel(&Context::background());
    let start = Instant::now();
    let (ctx, _cancel) = Context::with_timeout(&parent, d);
    assert_eq!(ctx.err(), None);
    assert_eq!(parent.__children(), 1);
    assert_closed(&ctx);
    assert!(start.elapsed() >= d, "fired early: {:?}", start.elapsed());
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert!(!ctx.__timer_pending());
    // It left its parent before closing `done`.
    assert_eq!(parent.__children(), 0);
    assert_open(&parent);
}

#[test]
fn with_timeout_fires_in_a_goroutine() {
    let _rt = crate::mode::enter();
    let (tx, rx) = bounded(1);
    go(move || {
        let d = Duration::from_millis(20);
        let start = Instant::now();
        let (ctx, _cancel) = Context::with_timeout(&Context::background(), d);
        let done = ctx.done();
        let fired = select! {
            recv(done) -> _ => true,
            default(HANG) => false,
        };
        tx.send((fired, start.elapsed() >= d, ctx.err())).unwrap();
    });
    let (fired, late_enough, err) = rx.recv_timeout(HANG).expect("goroutine hung");
    assert!(fired);
    assert!(late_enough);
    assert_eq!(err, Some(ContextError::DeadlineExceeded));
}

/// Builds root -> 9 children -> 110 grandchildren each (1000 contexts with
/// the root), some with deadlines far off, and one goroutine waiting on each.
fn tree_of_1000(root: &Context) -> (Vec<CancelHandle>, Vec<goro_chan::Receiver<ContextError>>) {
    let mut handles = Vec::new();
    let mut results = Vec::new();
    let mut watch = |ctx: &Context| {
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        go(move || {
            let done = ctx.done();
            select! {
                recv(done) -> _ => {}
            }
            tx.send(ctx.err().expect("done but no error")).unwrap();
        });
        results.push(rx);
    };
    watch(root);
    for i in 0..9 {
        let (child, h) = if i % 2 == 0 {
            Context::with_cancel(root)
        } else {
            Context::with_timeout(root, Duration::from_secs(3600))
        };
        handles.push(h);
        watch(&child);
        for j in 0..110 {
            let (gc, h) = if j % 3 == 0 {
                Context::with_timeout(&child, Duration::from_secs(1800))
            } else {
                Context::with_cancel(&child)
            };
            handles.push(h);
            watch(&gc);
        }
        // Only while the root lives: a root whose deadline passed during
        // the build (a loaded machine: issue 20) cancels, and unlinks, its
        // children; those made after are born cancelled, as in Go.
        let linked = child.__children();
        if root.err().is_none() {
            assert_eq!(linked, 110);
        }
    }
    let linked = root.__children();
    if root.err().is_none() {
        assert_eq!(linked, 9);
    }
    assert_eq!(results.len(), 1000);
    (handles, results)
}

#[test]
fn cancelling_the_root_cancels_a_tree_across_goroutines() {
    let _rt = crate::mode::enter();
    let (root, cancel) = Context::with_cancel(&Context::background());
    let (handles, results) = tree_of_1000(&root);
    std::thread::sleep(Duration::from_millis(20));
    assert!(results.iter().all(|r| r.try_recv().is_err()), "woke early");
    cancel.cancel();
    for r in &results {
        assert_eq!(r.recv_timeout(HANG), Ok(ContextError::Canceled));
    }
    assert_eq!(root.__children(), 0);
    drop(handles);
}

#[test]
fn a_deadline_cancels_a_tree_with_deadline_exceeded() {
    let _rt = crate::mode::enter();
    let (root, _cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(50));
    let (handles, results) = tree_of_1000(&root);
    for r in &results {
        assert_eq!(r.recv_timeout(HANG), Ok(ContextError::DeadlineExceeded));
    }
    drop(handles);
}

/// The same when the deadline passes while the tree is being built (as on
/// a loaded machine, issue 20): children of a done context are born done.
#[test]
fn a_deadline_that_passes_during_the_build_still_cancels_the_tree() {
    let _rt = crate::mode::enter();
    let (root, _cancel) = Context::with_timeout(&Context::background(), Duration::from_micros(1));
    std::thread::sleep(Duration::from_millis(2));
    let (handles, results) = tree_of_1000(&root);
    for r in &results {
        assert_eq!(r.recv_timeout(HANG), Ok(ContextError::DeadlineExceeded));
    }
    drop(handles);
}

#[test]
fn cancelling_a_child_leaves_parent_and_siblings_alone() {
    let _rt = crate::mode::enter();
    let (parent, _cp) = Context::with_cancel(&Context::background());
    let (a, cancel_a) = Context::with_cancel(&parent);
    let (b, _cb) = Context::with_timeout(&parent, Duration::from_secs(3600));
    let (a1, _ca1) = Context::with_cancel(&a);
    let (b1, _cb1) = Context::with_cancel(&b);
    assert_eq!(parent.__children(), 2);
    cancel_a.cancel();
    assert_eq!(a.err(), Some(ContextError::Canceled));
    assert_eq!(a1.err(), Some(ContextError::Canceled));
    assert_closed(&a1);
    assert_open(&parent);
    assert_open(&b);
    assert_open(&b1);
    assert!(b.__timer_pending());
    assert_eq!(parent.__children(), 1);
    assert_eq!(b.__children(), 1);
    assert_eq!(a.__children(), 0);
}

#[test]
fn dropping_the_handle_cancels() {
    let _rt = crate::mode::enter();
    let (parent, handle) = Context::with_cancel(&Context::background());
    let (child, _cc) = Context::with_cancel(&parent);
    let done = child.done();
    drop(handle);
    assert_eq!(parent.err(), Some(ContextError::Canceled));
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert!(done.recv().is_err());

    // The pitfall the docs warn about: `_` drops the handle on the spot.
    let (ctx, _) = Context::with_timeout(&Context::background(), Duration::from_secs(3600));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert!(!ctx.__timer_pending(), "its timer was withdrawn");

    // A handle dropped in another goroutine.
    let (ctx, handle) = Context::with_cancel(&Context::background());
    go(move || drop(handle));
    assert_closed(&ctx);
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn done_outlives_the_context() {
    let _rt = crate::mode::enter();
    let (ctx, cancel) = Context::with_cancel(&Context::background());
    let done = ctx.done();
    drop(ctx);
    assert!(done.try_recv().unwrap_err().is_empty());
    cancel.cancel();
    assert!(done.recv_timeout(HANG).unwrap_err().is_closed());

    // Everything dropped: the receiver is still good, and closed.
    let (ctx, cancel) = Context::with_timeout(&Context::background(), Duration::from_secs(3600));
    let done = ctx.done();
    drop(ctx);
    drop(cancel);
    assert!(done.recv_timeout(HANG).unwrap_err().is_closed());
    let again = done.clone();
    assert!(again.try_recv().unwrap_err().is_closed());

    // With the handle alive and every `Context` gone, the timer still fires.
    let (ctx, _cancel) = Context::with_timeout(&Context::background(), Duration::from_millis(10));
    let done = ctx.done();
    drop(ctx);
    assert!(done.recv_timeout(HANG).unwrap_err().is_closed());
}

#[test]
fn cancelled_children_leave_their_parent() {
    let _rt = crate::mode::enter();
    let (parent, _cp) = Context::with_cancel(&Context::background());
    for i in 0..100_000 {
        let (child, cancel) = Context::with_cancel(&parent);
        assert_eq!(parent.__children(), 1);
        if i % 2 == 0 {
            cancel.cancel();
            assert!(child.is_done());
        }
        drop(cancel);
    }
    assert_eq!(parent.__children(), 0);

    // Many live at once, then all gone.
    let live: Vec<_> = (0..10_000).map(|_| Context::with_cancel(&parent)).collect();
    assert_eq!(parent.__children(), 10_000);
    drop(live);
    assert_eq!(parent.__children(), 0);

    // Timed children too, whether cancelled or fired.
    for _ in 0..10_000 {
        let (_child, _cancel) = Context::with_timeout(&parent, Duration::from_secs(3600));
    }
    let fired: Vec<_> = (0..100)
        .map(|_| Context::with_timeout(&parent, Duration::from_millis(1)))
        .collect();
    for (ctx, _) in &fired {
        assert_closed(ctx);
    }
    assert_eq!(parent.__children(), 0);
    assert_open(&parent);
}

#[test]
fn children_come_and_go_from_many_goroutines() {
    let _rt = crate::mode::enter();
    let (parent, _cp) = Context::with_cancel(&Context::background());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let parent = parent.clone();
            go(move || {
                for _ in 0..5_000 {
                    let (child, cancel) = Context::with_cancel(&parent);
                    let (_gc, _cgc) = Context::with_cancel(&child);
                    drop(cancel);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(parent.__children(), 0);
    assert_open(&parent);
}

/// Children made while the parent is being cancelled are either cancelled
/// by it or born cancelled: none is missed.
#[test]
fn no_child_escapes_a_concurrent_cancel() {
    let _rt = crate::mode::enter();
    for _ in 0..20 {
        let (parent, cancel) = Context::with_cancel(&Context::background());
        let start = Arc::new(Barrier::new(5));
        let makers: Vec<_> = (0..4)
            .map(|_| {
                let parent = parent.clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    let mut made = Vec::new();
                    loop {
                        let seen_done = parent.is_done();
                        let pair = Context::with_cancel(&parent);
                        if seen_done {
                            assert_eq!(pair.0.err(), Some(ContextError::Canceled));
                        }
                        made.push(pair);
                        if seen_done {
                            return made;
                        }
                    }
                })
            })
            .collect();
        start.wait();
        std::thread::sleep(Duration::from_micros(200));
        cancel.cancel();
        for m in makers {
            for (child, _handle) in m.join().unwrap() {
                assert_eq!(child.err(), Some(ContextError::Canceled));
                assert!(child.done().try_recv().unwrap_err().is_closed());
            }
        }
        assert_eq!(parent.__children(), 0);
    }
}

#[test]
fn a_deep_chain_cancels_without_recursion() {
    let _rt = crate::mode::enter();
    let h = go(|| {
        let (root, cancel) = Context::with_cancel(&Context::background());
        let mut chain = vec![];
        let mut last = root.clone();
        for _ in 0..100_000 {
            let (c, h) = Context::with_cancel(&last);
            last = c.clone();
            chain.push((c, h));
        }
        cancel.cancel();
        let leaf_err = last.err();
        drop(chain);
        leaf_err
    });
    assert_eq!(h.join().unwrap(), Some(ContextError::Canceled));
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// 10k contexts with long timeouts, cancelled early: no thread per timer,
/// and every timer withdrawn. Runs in a child process (this test binary,
/// filtered to this test), so that other tests' threads do not blur the
/// count.
#[test]
fn timers_cost_no_threads_and_are_withdrawn() {
    let _rt = crate::mode::enter();
    const CHILD: &str = "GORO_CONTEXT_TEST_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "timers_cost_no_threads_and_are_withdrawn",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child failed:\n{stdout}\n{stderr}"
        );
        return;
    }

    // Start the runtime and its timers first.
    go(|| ()).join().unwrap();
    let (warm, _c) = Context::with_timeout(&Context::background(), Duration::from_millis(1));
    assert_closed(&warm);
    let before = threads();

    let (parent, cancel_parent) = Context::with_cancel(&Context::background());
    let mut timed: Vec<(Context, CancelHandle)> = (0..5_000)
        .map(|_| Context::with_timeout(&parent, Duration::from_secs(3600)))
        .collect();
    // Half of them made inside goroutines.
    let makers: Vec<_> = (0..5)
        .map(|_| {
            let parent = parent.clone();
            go(move || {
                (0..1_000)
                    .map(|_| Context::with_timeout(&parent, Duration::from_secs(3600)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for m in makers {
        timed.extend(m.join().unwrap());
    }
    assert_eq!(timed.len(), 10_000);
    assert_eq!(parent.__children(), 10_000);
    assert!(timed.iter().all(|(ctx, _)| ctx.__timer_pending()));
    let during = threads();
    eprintln!("threads: {before} before, {during} with 10k timers");
    assert!(during <= before + 2, "{before} -> {during} threads");

    // Cancel early: by the handle, by dropping it, by the parent.
    let mut contexts = Vec::new();
    let mut kept = Vec::new();
    for (i, (ctx, handle)) in timed.into_iter().enumerate() {
        match i % 3 {
            0 => handle.cancel(),
            1 => drop(handle),
            _ => kept.push(handle), // left to the parent
        }
        contexts.push(ctx);
    }
    assert_eq!(parent.__children(), kept.len());
    assert!(contexts.iter().filter(|c| c.__timer_pending()).count() == kept.len());
    cancel_parent.cancel();
    for ctx in &contexts {
        assert!(ctx.is_done());
        assert!(!ctx.__timer_pending(), "a timer was not withdrawn");
    }
    assert_eq!(parent.__children(), 0);
    drop(kept);
    let after = threads();
    assert!(after <= before + 2, "{before} -> {after} threads");
}
