//! crossbeam-channel's `tests/select.rs` (crossbeam-channel 0.5.17), ported to
//! `goro_chan` (issue 17, drop-in): the `use` line changed and
//! `Disconnected` read as `Closed`. Each test runs as goroutines on 1 and
//! on 4 workers, as plain threads and mixed (`go_harness`); crossbeam's
//! scoped threads are `cb_harness::scope`, in the same mode. Sleeps that
//! only order events are shorter; waits that must succeed are generous.
//!
//! Changed or left out: `fairness1`'s fourth arm, `tick(ms(0))`, which
//! panics in goro as Go's `NewTicker(0)` (ARCHITECTURE.md); `loop_try`'s
//! spinning goroutines yield on each turn (goroutines are never preempted,
//! and in the default mode one that started on a worker waits for it: a
//! spinner on one worker would starve the goroutine it spins for), and it
//! makes 10 runs, not 20; the linearizability tests make 20,000
//! iterations, not 100,000, where threads are involved. Tests whose time
//! goes to sleeps run in three modes (`SLEEPY`), tests that spawn nothing
//! in three (`NO_SPAWN`).
//!
//! The crossbeam sources: Copyright (c) 2019 The Crossbeam Project
//! Developers, MIT or Apache-2.0.

#[path = "../../sched/tests/common/mod.rs"]
mod mode;

mod cb_harness;
mod go_harness;

use std::any::Any;
use std::cell::Cell;
use std::time::{Duration, Instant};

use cb_harness::{NO_SPAWN, SLEEPY, scope};
use go_harness::{ALL, check};
use goro_chan::{Receiver, Select, TryRecvError, after, bounded, unbounded};
use goro_sched::{sleep, yield_now};

/// Added to crossbeam's upper bounds on elapsed time: our tests bound time
/// only generously (two busy cores in CI); the lower bounds are kept.
const SLACK: Duration = Duration::from_secs(5);

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Long enough to mean "it would have happened" (crossbeam waits 1 s
/// where the event comes after 0.5 s; here it comes after 50 ms).
const LONG: Duration = Duration::from_secs(10);

#[test]
fn smoke1() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s1, r1) = unbounded::<usize>();
        let (s2, r2) = unbounded::<usize>();

        s1.send(1).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
            i if i == oper2 => panic!(),
            _ => unreachable!(),
        }

        s2.send(2).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => panic!(),
            i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
            _ => unreachable!(),
        }
    });
}

#[test]
fn smoke2() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (_s1, r1) = unbounded::<i32>();
        let (_s2, r2) = unbounded::<i32>();
        let (_s3, r3) = unbounded::<i32>();
        let (_s4, r4) = unbounded::<i32>();
        let (s5, r5) = unbounded::<i32>();

        s5.send(5).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper3 = sel.recv(&r3);
        let oper4 = sel.recv(&r4);
        let oper5 = sel.recv(&r5);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => panic!(),
            i if i == oper2 => panic!(),
            i if i == oper3 => panic!(),
            i if i == oper4 => panic!(),
            i if i == oper5 => assert_eq!(oper.recv(&r5), Ok(5)),
            _ => unreachable!(),
        }
    });
}

#[test]
fn disconnected() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();

        scope(g, |scope| {
            scope.spawn(|| {
                drop(s1);
                sleep(ms(50));
                s2.send(5).unwrap();
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(LONG);
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => assert!(oper.recv(&r1).is_err()),
                    i if i == oper2 => panic!(),
                    _ => unreachable!(),
                },
            }

            r2.recv().unwrap();
        })
        .unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select_timeout(LONG);
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r1).is_err()),
                i if i == oper2 => panic!(),
                _ => unreachable!(),
            },
        }

        scope(g, |scope| {
            scope.spawn(|| {
                sleep(ms(50));
                drop(s2);
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r2);
            let oper = sel.select_timeout(LONG);
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => assert!(oper.recv(&r2).is_err()),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();
    });
}

#[test]
fn default() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();

        let mut sel = Select::new();
        let _oper1 = sel.recv(&r1);
        let _oper2 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => {}
            Ok(_) => panic!(),
        }

        drop(s1);

        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r1).is_err()),
                i if i == oper2 => panic!(),
                _ => unreachable!(),
            },
        }

        s2.send(2).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert_eq!(oper.recv(&r2), Ok(2)),
                _ => unreachable!(),
            },
        }

        let mut sel = Select::new();
        let _oper1 = sel.recv(&r2);
        let oper = sel.try_select();
        match oper {
            Err(_) => {}
            Ok(_) => panic!(),
        }

        let mut sel = Select::new();
        let oper = sel.try_select();
        match oper {
            Err(_) => {}
            Ok(_) => panic!(),
        }
    });
}

#[test]
fn timeout() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (_s1, r1) = unbounded::<i32>();
        let (s2, r2) = unbounded::<i32>();

        scope(g, |scope| {
            scope.spawn(|| {
                sleep(ms(150));
                s2.send(2).unwrap();
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(ms(50));
            match oper {
                Err(_) => {}
                Ok(oper) => match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => panic!(),
                    _ => unreachable!(),
                },
            }

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(LONG);
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();

        scope(g, |scope| {
            let (s, r) = unbounded::<i32>();

            scope.spawn(move || {
                sleep(ms(20));
                drop(s);
            });

            let mut sel = Select::new();
            let oper = sel.select_timeout(ms(200));
            match oper {
                Err(_) => {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r);
                    let oper = sel.try_select();
                    match oper {
                        Err(_) => panic!(),
                        Ok(oper) => match oper.index() {
                            i if i == oper1 => assert!(oper.recv(&r).is_err()),
                            _ => unreachable!(),
                        },
                    }
                }
                Ok(_) => unreachable!(),
            }
        })
        .unwrap();
    });
}

#[test]
fn default_when_disconnected() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (_, r) = unbounded::<i32>();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r).is_err()),
                _ => unreachable!(),
            },
        }

        let (_, r) = unbounded::<i32>();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select_timeout(ms(1000));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.recv(&r).is_err()),
                _ => unreachable!(),
            },
        }

        let (s, _) = bounded::<i32>(0);

        let mut sel = Select::new();
        let oper1 = sel.send(&s);
        let oper = sel.try_select();
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.send(&s, 0).is_err()),
                _ => unreachable!(),
            },
        }

        let (s, _) = bounded::<i32>(0);

        let mut sel = Select::new();
        let oper1 = sel.send(&s);
        let oper = sel.select_timeout(ms(1000));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                i if i == oper1 => assert!(oper.send(&s, 0).is_err()),
                _ => unreachable!(),
            },
        }
    });
}

#[test]
fn default_only() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let start = Instant::now();

        let mut sel = Select::new();
        let oper = sel.try_select();
        assert!(oper.is_err());
        let now = Instant::now();
        assert!(now - start <= ms(50) + SLACK);

        let start = Instant::now();
        let mut sel = Select::new();
        let oper = sel.select_timeout(ms(500));
        assert!(oper.is_err());
        let now = Instant::now();
        assert!(now - start >= ms(450));
        assert!(now - start <= ms(550) + SLACK);
    });
}

#[test]
fn unblocks() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        let (s1, r1) = bounded::<i32>(0);
        let (s2, r2) = bounded::<i32>(0);

        scope(g, |scope| {
            scope.spawn(|| {
                sleep(ms(50));
                s2.send(2).unwrap();
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select_timeout(LONG);
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();

        scope(g, |scope| {
            scope.spawn(|| {
                sleep(ms(50));
                assert_eq!(r1.recv().unwrap(), 1);
            });

            let mut sel = Select::new();
            let oper1 = sel.send(&s1);
            let oper2 = sel.send(&s2);
            let oper = sel.select_timeout(LONG);
            match oper {
                Err(_) => panic!(),
                Ok(oper) => match oper.index() {
                    i if i == oper1 => oper.send(&s1, 1).unwrap(),
                    i if i == oper2 => panic!(),
                    _ => unreachable!(),
                },
            }
        })
        .unwrap();
    });
}

#[test]
fn both_ready() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);

        scope(g, |scope| {
            scope.spawn(|| {
                sleep(ms(50));
                s1.send(1).unwrap();
                assert_eq!(r2.recv().unwrap(), 2);
            });

            for _ in 0..2 {
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.send(&s2);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
                    i if i == oper2 => oper.send(&s2, 2).unwrap(),
                    _ => unreachable!(),
                }
            }
        })
        .unwrap();
    });
}

#[test]
fn loop_try() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        const RUNS: usize = 10; // crossbeam: 20

        for _ in 0..RUNS {
            let (s1, r1) = bounded::<i32>(0);
            let (s2, r2) = bounded::<i32>(0);
            let (s_end, r_end) = bounded::<()>(0);

            scope(g, |scope| {
                scope.spawn(|| {
                    loop {
                        let mut done = false;

                        let mut sel = Select::new();
                        let oper1 = sel.send(&s1);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                i if i == oper1 => {
                                    let _ = oper.send(&s1, 1);
                                    done = true;
                                }
                                _ => unreachable!(),
                            },
                        }
                        if done {
                            break;
                        }

                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r_end);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                i if i == oper1 => {
                                    let _ = oper.recv(&r_end);
                                    done = true;
                                }
                                _ => unreachable!(),
                            },
                        }
                        if done {
                            break;
                        }
                        // Goroutines are never preempted (ARCHITECTURE.md): a
                        // spinning goroutine lets its worker's others run only
                        // when it yields, where Go would preempt it.
                        yield_now();
                    }
                });

                scope.spawn(|| {
                    loop {
                        if let Ok(x) = r2.try_recv() {
                            assert_eq!(x, 2);
                            break;
                        }

                        let mut done = false;
                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r_end);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                i if i == oper1 => {
                                    let _ = oper.recv(&r_end);
                                    done = true;
                                }
                                _ => unreachable!(),
                            },
                        }
                        if done {
                            break;
                        }
                        yield_now();
                    }
                });

                scope.spawn(|| {
                    sleep(ms(50));

                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.send(&s2);
                    let oper = sel.select_timeout(ms(1000));
                    match oper {
                        Err(_) => {}
                        Ok(oper) => match oper.index() {
                            i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
                            i if i == oper2 => assert!(oper.send(&s2, 2).is_ok()),
                            _ => unreachable!(),
                        },
                    }

                    drop(s_end);
                });
            })
            .unwrap();
        }
    });
}

#[test]
fn cloning1() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        scope(g, |scope| {
            let (s1, r1) = unbounded::<i32>();
            let (_s2, r2) = unbounded::<i32>();
            let (s3, r3) = unbounded::<()>();

            scope.spawn(move || {
                r3.recv().unwrap();
                drop(s1.clone());
                assert!(r3.try_recv().is_err());
                s1.send(1).unwrap();
                r3.recv().unwrap();
            });

            s3.send(()).unwrap();

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => drop(oper.recv(&r1)),
                i if i == oper2 => drop(oper.recv(&r2)),
                _ => unreachable!(),
            }

            s3.send(()).unwrap();
        })
        .unwrap();
    });
}

#[test]
fn cloning2() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = unbounded::<()>();
        let (_s3, _r3) = unbounded::<()>();

        scope(g, |scope| {
            scope.spawn(move || {
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.recv(&r2);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => panic!(),
                    i if i == oper2 => drop(oper.recv(&r2)),
                    _ => unreachable!(),
                }
            });

            sleep(ms(50));
            drop(s1.clone());
            s2.send(()).unwrap();
        })
        .unwrap();
    });
}

#[test]
fn preflight1() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();
        s.send(()).unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => drop(oper.recv(&r)),
            _ => unreachable!(),
        }
    });
}

#[test]
fn preflight2() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();
        drop(s.clone());
        s.send(()).unwrap();
        drop(s);

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => assert_eq!(oper.recv(&r), Ok(())),
            _ => unreachable!(),
        }

        assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn preflight3() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded();
        drop(s.clone());
        s.send(()).unwrap();
        drop(s);
        r.recv().unwrap();

        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => assert!(oper.recv(&r).is_err()),
            _ => unreachable!(),
        }
    });
}

#[test]
fn duplicate_operations() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded::<i32>();
        let hit = vec![Cell::new(false); 4];

        while hit.iter().map(|h| h.get()).any(|hit| !hit) {
            let mut sel = Select::new();
            let oper0 = sel.recv(&r);
            let oper1 = sel.recv(&r);
            let oper2 = sel.send(&s);
            let oper3 = sel.send(&s);
            let oper = sel.select();
            match oper.index() {
                i if i == oper0 => {
                    assert!(oper.recv(&r).is_ok());
                    hit[0].set(true);
                }
                i if i == oper1 => {
                    assert!(oper.recv(&r).is_ok());
                    hit[1].set(true);
                }
                i if i == oper2 => {
                    assert!(oper.send(&s, 0).is_ok());
                    hit[2].set(true);
                }
                i if i == oper3 => {
                    assert!(oper.send(&s, 0).is_ok());
                    hit[3].set(true);
                }
                _ => unreachable!(),
            }
        }
    });
}

#[test]
fn nesting() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = unbounded::<i32>();

        let mut sel = Select::new();
        let oper1 = sel.send(&s);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => {
                assert!(oper.send(&s, 0).is_ok());

                let mut sel = Select::new();
                let oper1 = sel.recv(&r);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => {
                        assert_eq!(oper.recv(&r), Ok(0));

                        let mut sel = Select::new();
                        let oper1 = sel.send(&s);
                        let oper = sel.select();
                        match oper.index() {
                            i if i == oper1 => {
                                assert!(oper.send(&s, 1).is_ok());

                                let mut sel = Select::new();
                                let oper1 = sel.recv(&r);
                                let oper = sel.select();
                                match oper.index() {
                                    i if i == oper1 => {
                                        assert_eq!(oper.recv(&r), Ok(1));
                                    }
                                    _ => unreachable!(),
                                }
                            }
                            _ => unreachable!(),
                        }
                    }
                    _ => unreachable!(),
                }
            }
            _ => unreachable!(),
        }
    });
}

#[test]
fn stress_recv() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 10_000;

        let (s1, r1) = unbounded();
        let (s2, r2) = bounded(5);
        let (s3, r3) = bounded(100);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..count {
                    s1.send(i).unwrap();
                    r3.recv().unwrap();

                    s2.send(i).unwrap();
                    r3.recv().unwrap();
                }
            });

            for i in 0..count {
                for _ in 0..2 {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.recv(&r2);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                        ix if ix == oper2 => assert_eq!(oper.recv(&r2), Ok(i)),
                        _ => unreachable!(),
                    }

                    s3.send(()).unwrap();
                }
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_send() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 10_000;

        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..count {
                    assert_eq!(r1.recv().unwrap(), i);
                    assert_eq!(r2.recv().unwrap(), i);
                    r3.recv().unwrap();
                }
            });

            for i in 0..count {
                for _ in 0..2 {
                    let mut sel = Select::new();
                    let oper1 = sel.send(&s1);
                    let oper2 = sel.send(&s2);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert!(oper.send(&s1, i).is_ok()),
                        ix if ix == oper2 => assert!(oper.send(&s2, i).is_ok()),
                        _ => unreachable!(),
                    }
                }
                s3.send(()).unwrap();
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_mixed() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 10_000;

        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..count {
                    s1.send(i).unwrap();
                    assert_eq!(r2.recv().unwrap(), i);
                    r3.recv().unwrap();
                }
            });

            for i in 0..count {
                for _ in 0..2 {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.send(&s2);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(&s2, i).is_ok()),
                        _ => unreachable!(),
                    }
                }
                s3.send(()).unwrap();
            }
        })
        .unwrap();
    });
}

#[test]
fn stress_timeout_two_threads() {
    let _rt = crate::mode::enter();
    check(SLEEPY, |g| {
        const COUNT: usize = 20;

        let (s, r) = bounded(2);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(25));
                    }

                    loop {
                        let mut sel = Select::new();
                        let oper1 = sel.send(&s);
                        let oper = sel.select_timeout(ms(5));
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => {
                                    assert!(oper.send(&s, i).is_ok());
                                    break;
                                }
                                _ => unreachable!(),
                            },
                        }
                    }
                }
            });

            scope.spawn(|| {
                for i in 0..COUNT {
                    if i % 2 == 0 {
                        sleep(ms(25));
                    }

                    loop {
                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r);
                        let oper = sel.select_timeout(ms(5));
                        match oper {
                            Err(_) => {}
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => {
                                    assert_eq!(oper.recv(&r), Ok(i));
                                    break;
                                }
                                _ => unreachable!(),
                            },
                        }
                    }
                }
            });
        })
        .unwrap();
    });
}

#[test]
fn send_recv_same_channel() {
    let _rt = crate::mode::enter();
    check(NO_SPAWN, |_| {
        let (s, r) = bounded::<i32>(0);
        let mut sel = Select::new();
        let oper1 = sel.send(&s);
        let oper2 = sel.recv(&r);
        let oper = sel.select_timeout(ms(100));
        match oper {
            Err(_) => {}
            Ok(oper) => match oper.index() {
                ix if ix == oper1 => panic!(),
                ix if ix == oper2 => panic!(),
                _ => unreachable!(),
            },
        }

        let (s, r) = unbounded::<i32>();
        let mut sel = Select::new();
        let oper1 = sel.send(&s);
        let oper2 = sel.recv(&r);
        let oper = sel.select_timeout(ms(100));
        match oper {
            Err(_) => panic!(),
            Ok(oper) => match oper.index() {
                ix if ix == oper1 => assert!(oper.send(&s, 0).is_ok()),
                ix if ix == oper2 => panic!(),
                _ => unreachable!(),
            },
        }
    });
}

#[test]
fn matching() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const THREADS: usize = 44;

        let (s, r) = &bounded::<usize>(0);

        scope(g, |scope| {
            for i in 0..THREADS {
                scope.spawn(move || {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(r);
                    let oper2 = sel.send(s);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn matching_with_leftover() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const THREADS: usize = 55;

        let (s, r) = &bounded::<usize>(0);

        scope(g, |scope| {
            for i in 0..THREADS {
                scope.spawn(move || {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(r);
                    let oper2 = sel.send(s);
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
            s.send(!0).unwrap();
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn channel_through_channel() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 1000;

        type T = Box<dyn Any + Send>;

        for cap in 0..3 {
            let (s, r) = bounded::<T>(cap);

            scope(g, |scope| {
                scope.spawn(move || {
                    let mut s = s;

                    for _ in 0..count {
                        let (new_s, new_r) = bounded(cap);
                        let new_r: T = Box::new(Some(new_r));

                        {
                            let mut sel = Select::new();
                            let oper1 = sel.send(&s);
                            let oper = sel.select();
                            match oper.index() {
                                ix if ix == oper1 => assert!(oper.send(&s, new_r).is_ok()),
                                _ => unreachable!(),
                            }
                        }

                        s = new_s;
                    }
                });

                scope.spawn(move || {
                    let mut r = r;

                    for _ in 0..count {
                        let new = {
                            let mut sel = Select::new();
                            let oper1 = sel.recv(&r);
                            let oper = sel.select();
                            match oper.index() {
                                ix if ix == oper1 => oper
                                    .recv(&r)
                                    .unwrap()
                                    .downcast_mut::<Option<Receiver<T>>>()
                                    .unwrap()
                                    .take()
                                    .unwrap(),
                                _ => unreachable!(),
                            }
                        };
                        r = new;
                    }
                });
            })
            .unwrap();
        }
    });
}

#[test]
fn linearizable_try() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = if g.some_threads() { 20_000 } else { 100_000 };

        for step in 0..2 {
            let (start_s, start_r) = bounded::<()>(0);
            let (end_s, end_r) = bounded::<()>(0);

            let ((s1, r1), (s2, r2)) = if step == 0 {
                (bounded::<i32>(1), bounded::<i32>(1))
            } else {
                (unbounded::<i32>(), unbounded::<i32>())
            };

            scope(g, |scope| {
                scope.spawn(|| {
                    for _ in 0..count {
                        start_s.send(()).unwrap();

                        s1.send(1).unwrap();

                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r1);
                        let oper2 = sel.recv(&r2);
                        let oper = sel.try_select();
                        match oper {
                            Err(_) => unreachable!(),
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => assert!(oper.recv(&r1).is_ok()),
                                ix if ix == oper2 => assert!(oper.recv(&r2).is_ok()),
                                _ => unreachable!(),
                            },
                        }

                        end_s.send(()).unwrap();
                        let _ = r2.try_recv();
                    }
                });

                for _ in 0..count {
                    start_r.recv().unwrap();

                    s2.send(1).unwrap();
                    let _ = r1.try_recv();

                    end_r.recv().unwrap();
                }
            })
            .unwrap();
        }
    });
}

#[test]
fn linearizable_timeout() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = if g.some_threads() { 20_000 } else { 100_000 };

        for step in 0..2 {
            let (start_s, start_r) = bounded::<()>(0);
            let (end_s, end_r) = bounded::<()>(0);

            let ((s1, r1), (s2, r2)) = if step == 0 {
                (bounded::<i32>(1), bounded::<i32>(1))
            } else {
                (unbounded::<i32>(), unbounded::<i32>())
            };

            scope(g, |scope| {
                scope.spawn(|| {
                    for _ in 0..count {
                        start_s.send(()).unwrap();

                        s1.send(1).unwrap();

                        let mut sel = Select::new();
                        let oper1 = sel.recv(&r1);
                        let oper2 = sel.recv(&r2);
                        let oper = sel.select_timeout(ms(0));
                        match oper {
                            Err(_) => unreachable!(),
                            Ok(oper) => match oper.index() {
                                ix if ix == oper1 => assert!(oper.recv(&r1).is_ok()),
                                ix if ix == oper2 => assert!(oper.recv(&r2).is_ok()),
                                _ => unreachable!(),
                            },
                        }

                        end_s.send(()).unwrap();
                        let _ = r2.try_recv();
                    }
                });

                for _ in 0..count {
                    start_r.recv().unwrap();

                    s2.send(1).unwrap();
                    let _ = r1.try_recv();

                    end_r.recv().unwrap();
                }
            })
            .unwrap();
        }
    });
}

#[test]
fn fairness1() {
    let _rt = crate::mode::enter();
    check(ALL, |_| {
        let count: usize = 10_000;

        let (s1, r1) = bounded::<()>(count);
        let (s2, r2) = unbounded::<()>();

        for _ in 0..count {
            s1.send(()).unwrap();
            s2.send(()).unwrap();
        }

        let hits = vec![Cell::new(0usize); 3];
        for _ in 0..count {
            let after = after(ms(0));
            // (crossbeam's fourth arm, `tick(ms(0))`, is a panic in goro, as
            // Go's `NewTicker(0)`: ARCHITECTURE.md.)

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper3 = sel.recv(&after);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => {
                    oper.recv(&r1).unwrap();
                    hits[0].set(hits[0].get() + 1);
                }
                i if i == oper2 => {
                    oper.recv(&r2).unwrap();
                    hits[1].set(hits[1].get() + 1);
                }
                i if i == oper3 => {
                    oper.recv(&after).unwrap();
                    hits[2].set(hits[2].get() + 1);
                }
                _ => unreachable!(),
            }
        }
        assert!(hits.iter().all(|x| x.get() >= count / hits.len() / 2));
    });
}

#[test]
fn fairness2() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 10_000;

        let (s1, r1) = unbounded::<()>();
        let (s2, r2) = bounded::<()>(1);
        let (s3, r3) = bounded::<()>(0);

        scope(g, |scope| {
            scope.spawn(|| {
                for _ in 0..count {
                    let mut sel = Select::new();
                    let mut oper1 = None;
                    let mut oper2 = None;
                    if s1.is_empty() {
                        oper1 = Some(sel.send(&s1));
                    }
                    if s2.is_empty() {
                        oper2 = Some(sel.send(&s2));
                    }
                    let oper3 = sel.send(&s3);
                    let oper = sel.select();
                    match oper.index() {
                        i if Some(i) == oper1 => assert!(oper.send(&s1, ()).is_ok()),
                        i if Some(i) == oper2 => assert!(oper.send(&s2, ()).is_ok()),
                        i if i == oper3 => assert!(oper.send(&s3, ()).is_ok()),
                        _ => unreachable!(),
                    }
                }
            });

            let hits = vec![Cell::new(0usize); 3];
            for _ in 0..count {
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.recv(&r2);
                let oper3 = sel.recv(&r3);
                let oper = sel.select();
                match oper.index() {
                    i if i == oper1 => {
                        oper.recv(&r1).unwrap();
                        hits[0].set(hits[0].get() + 1);
                    }
                    i if i == oper2 => {
                        oper.recv(&r2).unwrap();
                        hits[1].set(hits[1].get() + 1);
                    }
                    i if i == oper3 => {
                        oper.recv(&r3).unwrap();
                        hits[2].set(hits[2].get() + 1);
                    }
                    _ => unreachable!(),
                }
            }
            assert!(hits.iter().all(|x| x.get() >= count / hits.len() / 50));
        })
        .unwrap();
    });
}

#[test]
fn sync_and_clone() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const THREADS: usize = 20;

        let (s, r) = &bounded::<usize>(0);

        let mut sel = Select::new();
        let oper1 = sel.recv(r);
        let oper2 = sel.send(s);
        let sel = &sel;

        scope(g, |scope| {
            for i in 0..THREADS {
                scope.spawn(move || {
                    let mut sel = sel.clone();
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn send_and_clone() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        const THREADS: usize = 20;

        let (s, r) = &bounded::<usize>(0);

        let mut sel = Select::new();
        let oper1 = sel.recv(r);
        let oper2 = sel.send(s);

        scope(g, |scope| {
            for i in 0..THREADS {
                let mut sel = sel.clone();
                scope.spawn(move || {
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                        _ => unreachable!(),
                    }
                });
            }
        })
        .unwrap();

        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn reuse() {
    let _rt = crate::mode::enter();
    check(ALL, |g| {
        let count: usize = 10_000;

        let (s1, r1) = bounded(0);
        let (s2, r2) = bounded(0);
        let (s3, r3) = bounded(100);

        scope(g, |scope| {
            scope.spawn(|| {
                for i in 0..count {
                    s1.send(i).unwrap();
                    assert_eq!(r2.recv().unwrap(), i);
                    r3.recv().unwrap();
                }
            });

            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.send(&s2);

            for i in 0..count {
                for _ in 0..2 {
                    let oper = sel.select();
                    match oper.index() {
                        ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                        ix if ix == oper2 => assert!(oper.send(&s2, i).is_ok()),
                        _ => unreachable!(),
                    }
                }
                s3.send(()).unwrap();
            }
        })
        .unwrap();
    });
}
