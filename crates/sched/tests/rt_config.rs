//! Bad settings are clear errors that name the setting, never a deep panic.
//! Environment variables are read by child processes (this binary again).

use std::io;
use std::process::Command;

use goro_sched::Builder;

mod common;

#[test]
fn zero_workers_is_an_error() {
    let err = common::builder().workers(0).build().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("workers(0)"), "{err}");
}

#[test]
fn stack_sizes_out_of_range_are_errors() {
    for bad in [0, 1000, (1 << 30) + 1] {
        let err = common::builder().stack_size(bad).build().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("stack_size"), "{err}");
        let err = Builder::new().stack_size(bad).go(|| ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("Builder::stack_size"), "{err}");
        assert!(err.to_string().contains("16 KiB to 1024 MiB"), "{err}");
    }
    let rt = common::builder()
        .workers(1)
        .stack_size(64 * 1024)
        .build()
        .unwrap();
    assert_eq!(rt.run(|| 3), 3);
}

#[test]
fn named_goroutines_with_their_own_stacks_run() {
    let h = Builder::new()
        .name("deep")
        .stack_size(8 << 20)
        .go(|| {
            fn depth(n: u64) -> u64 {
                let pad = std::hint::black_box([n; 128]);
                if n == 0 {
                    0
                } else {
                    depth(n - 1) + pad[1] - n + 1
                }
            }
            depth(2_000)
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), 2_000);
}

/// Runs `child_entry` in a child process with `GORO_MAXPROCS=value`.
fn child(value: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("GORO_TEST_CHILD", "1")
        .env("GORO_MAXPROCS", value)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn child_entry() {
    if std::env::var_os("GORO_TEST_CHILD").is_none() {
        return;
    }
    match common::builder().build() {
        Ok(rt) => println!("workers={}", rt.stats().workers),
        Err(e) => println!("builder error: {e}"),
    }
    // The global runtime: a bad setting panics at first use, naming it.
    let workers = goro_sched::run(|| 1);
    println!("global ok {workers}");
}

#[test]
fn goro_maxprocs_sets_the_workers() {
    let (ok, text) = child("3");
    assert!(ok, "{text}");
    assert!(text.contains("workers=3"), "{text}");
    assert!(text.contains("global ok 1"), "{text}");
}

#[test]
fn bad_goro_maxprocs_is_named_in_the_error() {
    // Too many too (issue 20: 100000 hung start-up).
    for bad in ["abc", "0", "-2", "", "1025", "100000"] {
        let (ok, text) = child(bad);
        assert!(!ok, "{text}");
        let expected =
            format!("GORO_MAXPROCS must be a whole number of workers from 1 to 1024, not `{bad}`");
        assert!(
            text.contains(&format!("builder error: {expected}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("cannot start goro's global runtime: {expected}")),
            "{text}"
        );
    }
}
