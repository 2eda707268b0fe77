//! Go's concurrency patterns on goroutines: pipelines, fan-in and fan-out,
//! worker pools, errgroup and rate limiting.
//!
//! ```
//! use goro_patterns::{generate, merge, stage, stage_ordered};
//!
//! // Squares in order, with 4 workers; cubes in any order, with 2.
//! let squares = stage_ordered(generate(1..=10u64), 4, |x| x * x);
//! let cubes = stage(generate(1..=10u64), 2, |x| x * x * x);
//! let total: u64 = merge(vec![squares, cubes]).iter().sum();
//! assert_eq!(total, 385 + 3025);
//! ```
//!
//! # Pipelines
//!
//! A pipeline is a chain of stages joined by channels, each stage a few
//! goroutines that receive values from upstream, work on them and send the
//! results downstream. [`generate`] starts one from an iterator; [`stage`]
//! runs a function on `workers` goroutines (results in any order) and
//! [`stage_ordered`] does too but keeps the input's order. Every function
//! here takes and returns plain goro channel [`Receiver`]s, so they compose
//! with each other and with channels of your own.
//!
//! **Back-pressure.** Every channel between two goroutines here is bounded,
//! with a buffer of [`BUFFER`] values: a slow consumer at the end fills the
//! buffers and the first stage waits. Nothing grows without bound.
//!
//! # Stopping: drop the output
//!
//! Go stops a pipeline with a `done` channel passed to every stage. Here,
//! as is the Rust way, you drop what you no longer want: once the last
//! receiver of a stage's output is dropped, each of its goroutines fails
//! its next send and exits, dropping its input, and so the stages upstream
//! stop one after the other. To stop a pipeline from elsewhere (a deadline,
//! a user's request) tie it to a [`Context`] with [`or_done`]: put it at the
//! end, and cancelling stops the stream there and the stages behind it by
//! drop; put it around a source that may go quiet, and cancelling also ends
//! the stages after it, which a drop alone would leave waiting for that
//! source's next value.
//!
//! ```
//! use goro_patterns::{generate, stage};
//! use goro_sched::{Runtime, num_goroutines, yield_now};
//!
//! let rt = Runtime::builder().workers(1).build()?;
//! rt.run(|| {
//!     let before = num_goroutines();
//!     // Endless; one worker, so in order (more work in no particular order).
//!     let naturals = stage(generate(1u64..), 1, |x| x * 2);
//!     assert_eq!(naturals.iter().take(3).collect::<Vec<_>>(), [2, 4, 6]);
//!     drop(naturals);
//!     while num_goroutines() > before {
//!         yield_now(); // the stage's goroutine, then the generator, exit
//!     }
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! **Panics.** A panic in a stage's function is a bug: the panic hook prints
//! it and the stage's output ends (the consumer sees the stream close after
//! the values already sent). To carry errors through a pipeline, make the
//! values `Result`s.
//!
//! # Fan-in and fan-out
//!
//! [`merge`] combines streams (each keeps its own order), [`fan_out`] spreads
//! one stream over workers that each have their own output, [`tee`] copies a
//! stream to two readers, and [`bridge`] flattens a stream of streams.
//!
//! # Worker pools, errgroup, rate limiting
//!
//! [`WorkerPool`] runs submitted jobs on a fixed set of goroutines behind a
//! bounded queue, with a [`JobHandle`] per job. [`ErrGroup`] is Go's
//! `errgroup.Group`: goroutines working on one task, the first error, a
//! context cancelled when one fails, and an optional limit. [`RateLimiter`]
//! is a token bucket, as Go's `rate.Limiter`.
//!
//! ```
//! use goro_patterns::{ErrGroup, RateLimiter, WorkerPool};
//! use std::sync::Arc;
//!
//! let pool = WorkerPool::new(2, 8);
//! let limiter = Arc::new(RateLimiter::new(1000.0, 10));
//! let group = ErrGroup::<String>::new();
//! let jobs: Vec<_> = (0..10u64)
//!     .map(|i| {
//!         let limiter = limiter.clone();
//!         pool.submit(move || {
//!             limiter.wait();
//!             i * 2
//!         })
//!         .unwrap()
//!     })
//!     .collect();
//! for job in jobs {
//!     group.go(move || match job.join() {
//!         Ok(v) if v % 2 == 0 => Ok(()),
//!         Ok(v) => Err(format!("odd: {v}")),
//!         Err(e) => Err(e.to_string()),
//!     });
//! }
//! assert_eq!(group.wait(), Ok(()));
//! ```
//!
//! # From Go
//!
//! | Go | goro |
//! |---|---|
//! | a generator `func gen(...) <-chan T` | [`generate(iter)`](generate) |
//! | N goroutines `for v := range in { out <- f(v) }` | [`stage(rx, n, f)`](stage), [`stage_ordered`] |
//! | `merge(cs ...<-chan T)` (fan-in) | [`merge(vec![...])`](merge) |
//! | `orDone(done, c)`, `tee(done, c)`, `bridge(done, chanStream)` | [`or_done(&ctx, rx)`](or_done), [`tee(rx)`](tee), [`bridge(rx)`](bridge) |
//! | `close(done)` to stop a pipeline | drop the output, or cancel the [`Context`] given to [`or_done`] |
//! | `jobs := make(chan Job, n)` and N workers | [`WorkerPool::new(n_workers, n)`](WorkerPool::new) |
//! | `errgroup.WithContext(ctx)`, `g.Go`, `g.TryGo`, `g.SetLimit`, `g.Wait` | [`ErrGroup::with_context(&ctx)`](ErrGroup::with_context), [`go`](ErrGroup::go), [`try_go`](ErrGroup::try_go), [`set_limit`](ErrGroup::set_limit), [`wait`](ErrGroup::wait) |
//! | `rate.NewLimiter(r, b)`, `Allow`, `Wait(ctx)`, `WaitN(ctx, n)` | [`RateLimiter::new(r, b)`](RateLimiter::new), [`allow`](RateLimiter::allow), [`wait`](RateLimiter::wait), [`wait_n`](RateLimiter::wait_n) |
//!
//! # Module map
//!
//! ## Pipelines
//! * [`generate`], a stream from an iterator.
//! * [`stage`], [`stage_ordered`], a function on many workers.
//! * [`or_done`], a stream that stops when a context is cancelled.
//! * [`BUFFER`], the buffer of every channel between two goroutines.
//!
//! ## Fan-in and fan-out
//! * [`merge`], [`fan_out`], [`tee`], [`bridge`].
//!
//! ## Running jobs
//! * [`WorkerPool`], [`JobHandle`], [`JoinError`], [`PoolClosed`],
//!   [`TrySubmitError`], a pool of workers with a bounded queue.
//! * [`ErrGroup`], a group of goroutines with the first error and
//!   cancellation.
//!
//! ## Rate limiting
//! * [`RateLimiter`], [`WaitError`], a token bucket.
//!
//! [`Receiver`]: goro_chan::Receiver
//! [`Context`]: goro_sync::context::Context

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

mod errgroup;
mod fan;
mod pipeline;
mod pool;
mod rate;

#[doc(no_inline)]
pub use goro_sync as sync;

pub use crate::errgroup::ErrGroup;
pub use crate::fan::{bridge, fan_out, merge, tee};
pub use crate::pipeline::{BUFFER, generate, or_done, stage, stage_ordered};
pub use crate::pool::{JobHandle, JoinError, PoolClosed, TrySubmitError, WorkerPool};
pub use crate::rate::{RateLimiter, WaitError};
