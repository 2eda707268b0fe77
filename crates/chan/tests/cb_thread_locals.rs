//! crossbeam-channel's `tests/thread_locals.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed.
//! The test is about a thread's exit (its thread-locals destroyed, then a
//! select in another's destructor), so it runs on plain threads
//! (`std::thread::scope`) as crossbeam's; a second test does the same on a
//! runtime's worker thread, which exits when its runtime is dropped.
//!
//! The crossbeam sources: Copyright (c) 2019 The Crossbeam Project
//! Developers, MIT or Apache-2.0.

#![cfg(not(miri))] // Miri detects that this test is buggy: the destructor of `FOO` uses `std::thread::current()`!

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

use std::thread;
use std::time::Duration;

use goro_chan::{select, unbounded};

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

struct Foo;

impl Drop for Foo {
    fn drop(&mut self) {
        // A blocking operation after the thread-locals have been dropped. This will attempt to
        // use the thread-locals and must not panic.
        let (_s, r) = unbounded::<()>();
        select! {
            recv(r) -> _ => {}
            default(ms(100)) => {}
        }
    }
}

thread_local! {
    static FOO: Foo = const { Foo };
}

#[test]
#[cfg_attr(target_os = "macos", ignore = "TLS is destroyed too early on macOS")]
fn use_while_exiting() {
    let (s, r) = unbounded::<()>();

    thread::scope(|scope| {
        scope.spawn(|| {
            // First initialize `FOO`, then the thread-locals related to crossbeam-channel.
            FOO.with(|_| ());
            r.recv().unwrap();
            // At thread exit, thread-locals related to crossbeam-channel get dropped first and
            // `FOO` is dropped last.
        });

        scope.spawn(|| {
            thread::sleep(ms(100));
            s.send(()).unwrap();
        });
    });
}

// Beyond crossbeam's: the same on a worker thread, which exits when its
// runtime is dropped (the select then runs on a thread whose worker is gone).
#[test]
#[cfg_attr(target_os = "macos", ignore = "TLS is destroyed too early on macOS")]
fn use_while_a_worker_exits() {
    let rt = crate::mode::builder().workers(1).build().unwrap();
    let (s, r) = unbounded::<()>();
    rt.run(move || {
        let h = goro_sched::go(move || {
            FOO.with(|_| ());
            r.recv().unwrap();
        });
        goro_sched::go(move || {
            goro_sched::sleep(ms(10));
            s.send(()).unwrap();
        });
        h.join().unwrap();
    });
    drop(rt);
}
