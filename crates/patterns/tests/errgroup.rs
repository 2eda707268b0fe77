//! `ErrGroup`: the first error, cancellation of the group's context, the
//! limit on members running at once, and panics re-raised by `wait`.

mod common;
#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{HANG, runtime, wait_for_goroutines, wait_until};
use goro_patterns::ErrGroup;
use goro_patterns::sync::chan::sched::{self, num_goroutines};
use goro_patterns::sync::chan::{bounded, select};
use goro_patterns::sync::context::{Context, ContextError};

#[test]
fn wait_returns_ok_once_every_member_has_run() {
    let _rt = crate::mode::enter();
    let group = ErrGroup::<String>::new();
    let sum = Arc::new(AtomicUsize::new(0));
    for i in 1..=1_000 {
        let sum = sum.clone();
        group.go(move || {
            if i % 100 == 0 {
                sched::sleep(Duration::from_millis(1));
            }
            sum.fetch_add(i, Ordering::SeqCst);
            Ok(())
        });
    }
    assert_eq!(group.wait(), Ok(()));
    assert_eq!(sum.load(Ordering::SeqCst), 500_500);
}

#[test]
fn the_first_error_is_returned_and_cancels_the_context() {
    let _rt = crate::mode::enter();
    const MEMBERS: usize = 16;
    let (group, ctx) = ErrGroup::<String>::with_context(&Context::background());
    let saw_cancel = Arc::new(AtomicUsize::new(0));
    for i in 0..MEMBERS {
        let (ctx, saw_cancel) = (ctx.clone(), saw_cancel.clone());
        group.go(move || {
            if i == 5 {
                return Err("member 5 failed".to_string());
            }
            // The others work until cancelled, then fail too: too late.
            let cancelled = select! {
                recv(ctx.done()) -> _ => true,
                default(HANG) => false,
            };
            if cancelled {
                saw_cancel.fetch_add(1, Ordering::SeqCst);
            }
            Err(format!("member {i} gave up"))
        });
    }
    assert_eq!(group.wait(), Err("member 5 failed".to_string()));
    assert_eq!(saw_cancel.load(Ordering::SeqCst), MEMBERS - 1);
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(group.wait(), Ok(()), "the error is handed out once");
}

#[test]
fn the_context_is_cancelled_as_soon_as_a_member_fails() {
    let _rt = crate::mode::enter();
    let (group, ctx) = ErrGroup::<&str>::with_context(&Context::background());
    let (release_tx, release) = bounded::<()>(0);
    group.go(move || {
        let _ = release.recv_timeout(HANG); // still running when ctx is checked
        Ok(())
    });
    group.go(|| Err("boom"));
    wait_until("the failure cancels the context", || ctx.is_done());
    drop(release_tx);
    assert_eq!(group.wait(), Err("boom"));
}

#[test]
fn wait_cancels_the_context_even_without_an_error() {
    let _rt = crate::mode::enter();
    let parent = Context::background();
    let (group, ctx) = ErrGroup::<()>::with_context(&parent);
    group.go(|| Ok(()));
    assert!(!ctx.is_done());
    assert_eq!(group.wait(), Ok(()));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert!(!parent.is_done());
}

#[test]
fn cancelling_the_parent_reaches_the_members() {
    let _rt = crate::mode::enter();
    let (parent, cancel) = Context::with_cancel(&Context::background());
    let (group, ctx) = ErrGroup::<ContextError>::with_context(&parent);
    for _ in 0..4 {
        let ctx = ctx.clone();
        group.go(move || {
            let _ = ctx.done().recv_timeout(HANG);
            ctx.err().map_or(Ok(()), Err)
        });
    }
    cancel.cancel();
    assert_eq!(group.wait(), Err(ContextError::Canceled));
}

#[test]
fn the_limit_is_never_exceeded() {
    let _rt = crate::mode::enter();
    const LIMIT: usize = 3;
    const MEMBERS: usize = 60;
    let group = ErrGroup::<()>::new();
    group.set_limit(LIMIT);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    for i in 0..MEMBERS {
        let (running, most, ran) = (running.clone(), most.clone(), ran.clone());
        group.go(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            if i % 3 == 0 {
                sched::sleep(Duration::from_millis(1));
            } else {
                sched::yield_now();
            }
            running.fetch_sub(1, Ordering::SeqCst);
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    }
    group.wait().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), MEMBERS);
    let most = most.load(Ordering::SeqCst);
    assert!((1..=LIMIT).contains(&most), "{most} members ran at once");
}

#[test]
fn go_waits_for_a_free_slot_and_try_go_declines() {
    let _rt = crate::mode::enter();
    let group = ErrGroup::<()>::new();
    group.set_limit(2);
    let (open, gate) = bounded::<()>(0);
    for _ in 0..2 {
        let gate = gate.clone();
        assert!(group.try_go(move || {
            let _ = gate.recv_timeout(HANG);
            Ok(())
        }));
    }
    let ran = Arc::new(AtomicUsize::new(0));
    let declined = {
        let ran = ran.clone();
        group.try_go(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    };
    assert!(!declined);
    // A `go` from a thread waits for a slot; it gets one once the gate opens.
    let group = Arc::new(group);
    let third = thread::spawn({
        let (group, ran) = (group.clone(), ran.clone());
        move || {
            group.go(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }
    });
    sched::sleep(Duration::from_millis(50));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    drop(open);
    third.join().unwrap();
    group.wait().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[test]
fn the_limit_can_be_lifted_when_idle() {
    let _rt = crate::mode::enter();
    let group = ErrGroup::<()>::new();
    group.set_limit(0);
    assert!(!group.try_go(|| Ok(())));
    group.set_limit(usize::MAX);
    for _ in 0..100 {
        assert!(group.try_go(|| Ok(())));
    }
    group.wait().unwrap();
}

#[test]
#[should_panic(expected = "limit cannot change while 1 members are running")]
fn changing_the_limit_while_members_run_panics() {
    let _rt = crate::mode::enter();
    let group = ErrGroup::<()>::new();
    group.set_limit(4);
    let (_open, gate) = bounded::<()>(0);
    group.go(move || {
        let _ = gate.recv_timeout(HANG);
        Ok(())
    });
    group.set_limit(8);
}

#[test]
#[should_panic(expected = "limit of 0 would wait forever")]
fn go_under_a_limit_of_zero_panics() {
    let _rt = crate::mode::enter();
    let group = ErrGroup::<()>::new();
    group.set_limit(0);
    group.go(|| Ok(()));
}

#[test]
fn a_panic_is_re_raised_by_wait_after_every_member_has_finished() {
    let _rt = crate::mode::enter();
    let (group, ctx) = ErrGroup::<String>::with_context(&Context::background());
    let finished = Arc::new(AtomicUsize::new(0));
    group.go(|| panic!("member exploded"));
    for _ in 0..4 {
        let (ctx, finished) = (ctx.clone(), finished.clone());
        group.go(move || {
            // The panic cancels the context; the others still finish.
            let _ = ctx.done().recv_timeout(HANG);
            sched::sleep(Duration::from_millis(20));
            finished.fetch_add(1, Ordering::SeqCst);
            Err("an error loses to the panic".to_string())
        });
    }
    let payload = panic::catch_unwind(AssertUnwindSafe(|| group.wait())).unwrap_err();
    assert_eq!(finished.load(Ordering::SeqCst), 4);
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"member exploded"));
    assert!(ctx.is_done());
}

#[test]
fn members_can_start_members() {
    let _rt = crate::mode::enter();
    let group = Arc::new(ErrGroup::<u32>::new());
    let leaves = Arc::new(AtomicUsize::new(0));
    fn spawn_tree(group: &Arc<ErrGroup<u32>>, leaves: &Arc<AtomicUsize>, depth: u32) {
        let (g, l) = (group.clone(), leaves.clone());
        group.go(move || {
            if depth == 0 {
                l.fetch_add(1, Ordering::SeqCst);
            } else {
                spawn_tree(&g, &l, depth - 1);
                spawn_tree(&g, &l, depth - 1);
            }
            Ok(())
        });
    }
    spawn_tree(&group, &leaves, 8);
    // A parent is counted until it has started its children, so the group
    // cannot reach zero early.
    group.wait().unwrap();
    assert_eq!(leaves.load(Ordering::SeqCst), 256);
}

#[test]
fn a_group_leaves_no_goroutine_behind() {
    let _rt = crate::mode::enter();
    let rt = runtime();
    rt.run(|| {
        let base = num_goroutines();
        let (group, ctx) = ErrGroup::<u32>::with_context(&Context::background());
        for i in 0..50 {
            let ctx = ctx.clone();
            group.go(move || {
                if i == 25 {
                    return Err(i);
                }
                let _ = ctx.done().recv_timeout(HANG);
                Ok(())
            });
        }
        assert_eq!(group.wait(), Err(25));
        wait_for_goroutines(base);
    });
}
