//! Out of memory, a spawn fails and the process goes on (issue 20: the task
//! pool aborted it, "memory allocation of 2097152 bytes failed").
//! `Builder::go` returns an `OutOfMemory` error, `go()` a handle whose join
//! says so, and once memory is back the runtime runs every goroutine that
//! was made. The pool is told to find no memory (a real `RLIMIT_AS` trips
//! malloc's own arenas first); in a test binary of its own, as that switch
//! is the process's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

#[test]
fn a_spawn_without_memory_fails_and_the_runtime_goes_on() {
    // No spare: the spawner holds its only worker past sysmon's 10 ms, and
    // a spare that ran the goroutines it made would give their tasks back
    // to the pool (a magazine of them), so that the spawn meant to fail
    // found memory (once in CI, debug build: `never_was` ran).
    let rt = common::builder()
        .workers(1)
        .max_blocking_threads(0)
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let (made, builder_err, go_err) = rt.run(move || {
        // Spawned from a goroutine that does not park: the new ones wait,
        // holding their tasks, until the pool's free blocks run out (the
        // first, with memory, gives this thread a magazine of them).
        let mut made = 0usize;
        let builder_err = loop {
            if made == 1 {
                goro_sched::__private::simulate_no_task_memory(true);
            }
            let r = r.clone();
            match goro_sched::Builder::new().go(move || {
                r.fetch_add(1, Ordering::Relaxed);
            }) {
                Ok(handle) => {
                    drop(handle);
                    made += 1;
                }
                Err(e) => break e,
            }
            assert!(made < 1_000_000, "the pool never ran out");
        };
        // `go` has no error to return: its handle's join says it.
        let never_was = goro_sched::go(|| ());
        assert!(never_was.is_finished());
        let go_err = never_was.join().unwrap_err();
        goro_sched::__private::simulate_no_task_memory(false);
        (made, builder_err, go_err.to_string())
    });
    assert_eq!(
        builder_err.kind(),
        std::io::ErrorKind::OutOfMemory,
        "{builder_err}"
    );
    assert!(
        builder_err.to_string().contains("no memory for its task"),
        "{builder_err}"
    );
    assert!(
        go_err.contains("no memory for the goroutine's task"),
        "{go_err}"
    );
    // Every goroutine that was made runs, and the runtime takes new ones.
    let start = Instant::now();
    while ran.load(Ordering::Relaxed) < made {
        assert!(start.elapsed() < Duration::from_secs(60), "stalled");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(ran.load(Ordering::Relaxed), made);
    assert_eq!(rt.run(|| 7), 7);
    eprintln!("{made} goroutines made before the pool ran out");
}
