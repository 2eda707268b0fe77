//! Deadlock detection with channels, in child processes (see
//! `goro-sched/tests/rt_deadlock.rs` for why): a receive that nothing can
//! complete is reported as Go reports it, and a plain thread that holds a
//! `Sender` and will send after a long computation, without having touched
//! goro before, keeps the report away.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use goro_chan::bounded;

const CASE: &str = "GORO_CHAN_DEADLOCK_CASE";

fn main() {
    if let Ok(case) = std::env::var(CASE) {
        child(&case);
        return;
    }
    for case in ["receive_forever", "a_thread_will_send"] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CASE, case)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A generous bound against a hang (never a timing claim).
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ok = match case {
            "receive_forever" => {
                !out.status.success()
                    && stderr.contains("all goroutines are asleep - deadlock!")
                    && stderr.contains("[chan receive, ")
            }
            _ => out.status.success() && stdout.contains("got 42") && !stderr.contains("deadlock"),
        };
        assert!(ok, "{case}: {:?}\n{stdout}\n{stderr}", out.status);
        println!("test {case} ... ok");
    }
}

fn child(case: &str) {
    match case {
        "receive_forever" => {
            let (tx, rx) = bounded::<u64>(0);
            goro_sched::run(move || {
                let _keep = tx; // a sender that never sends
                rx.recv().unwrap()
            });
        }
        "a_thread_will_send" => {
            let (tx, rx) = bounded::<u64>(0);
            let sender = std::thread::spawn(move || {
                // Computing for 1.5 s, far beyond the detector's 300 ms.
                let until = Instant::now() + Duration::from_millis(1500);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                tx.send(42).unwrap();
            });
            let got = goro_sched::run(move || rx.recv().unwrap());
            sender.join().unwrap();
            println!("got {got}");
        }
        _ => unreachable!("unknown case {case}"),
    }
}
