//! Pipelines: a source ([`generate`]), stages of worker goroutines
//! ([`stage`], [`stage_ordered`]) and a stream tied to a `Context`
//! ([`or_done`]), joined by bounded channels.
//!
//! Every goroutine here follows one rule, which is what makes stopping by
//! drop work: it exits when its input is closed and drained, or when a send
//! fails because every receiver of its output is gone; exiting drops its
//! input, so the goroutines upstream fail their next send in turn.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use goro_sync::chan::sched::go;
use goro_sync::chan::{Receiver, bounded, select};
use goro_sync::context::Context;

/// The buffer of every stream this crate returns: the outputs of
/// [`generate`], [`stage`], [`stage_ordered`], [`merge`](crate::merge),
/// [`fan_out`](crate::fan_out), [`tee`](crate::tee) and
/// [`bridge`](crate::bridge) ([`or_done`]'s is unbuffered).
///
/// It bounds how far a producer runs ahead of a slow consumer: at most
/// `BUFFER` values wait in each channel, plus one in the hands of each
/// goroutine that is blocked sending. So after a consumer of
/// `stage(generate(iter), workers, f)` has received `k` values, the iterator
/// has produced at most `k + 2 * BUFFER + workers + 1`.
///
/// ```
/// use goro_patterns::{BUFFER, generate};
///
/// let rx = generate(0..);
/// // An endless source, but it stops after filling the buffer.
/// while rx.len() < BUFFER {
///     goro_sched::yield_now();
/// }
/// assert_eq!(rx.len(), BUFFER);
/// assert_eq!(rx.recv(), Ok(0));
/// ```
pub const BUFFER: usize = 16;

/// Go's generator: a goroutine sends every item of `iter`, in order, on the
/// returned channel, which closes after the last one.
///
/// The iterator runs in its own goroutine, at most [`BUFFER`] items ahead
/// of the receiver; it may be endless. Dropping every receiver stops it at
/// its next send (the iterator is then dropped). A panic in the iterator
/// ends the stream early (the panic hook prints it).
///
/// ```
/// use goro_patterns::generate;
///
/// let squares = generate((1..=4).map(|x| x * x));
/// assert_eq!(squares.iter().collect::<Vec<u64>>(), [1, 4, 9, 16]);
///
/// let naturals = generate(0u64..); // endless: stops when `naturals` is dropped
/// assert_eq!(naturals.iter().take(3).sum::<u64>(), 3);
/// ```
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn generate<I>(iter: I) -> Receiver<I::Item>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send + 'static,
{
    let iter = iter.into_iter();
    let (tx, rx) = bounded(BUFFER);
    go(move || {
        for v in iter {
            if tx.send(v).is_err() {
                break; // every receiver is gone
            }
        }
    });
    rx
}

/// A pipeline stage: `workers` goroutines take values from `rx`, apply `f`
/// and send the results on the returned channel, **in no particular order**
/// (see [`stage_ordered`] to keep the input's order).
///
/// The output has a buffer of [`BUFFER`], so a slow consumer slows the
/// workers, and through `rx` whatever feeds them. It closes once `rx` is
/// closed and drained and every worker is done.
///
/// Stopping: when every receiver of the output is dropped, each worker
/// exits at its next send, and the last one to go drops `rx` (a worker
/// blocked on an idle `rx` waits for its next value or its close: tie such a
/// source to a [`Context`] with [`or_done`]). A panic in `f` is a bug: the
/// panic hook prints it, its value is lost, and the stage closes its output,
/// so the consumer sees the stream end after what was already sent.
///
/// ```
/// use goro_patterns::{generate, stage};
///
/// let doubled = stage(generate(1..=100u64), 4, |x| x * 2);
/// assert_eq!(doubled.iter().sum::<u64>(), 10_100);
/// ```
///
/// # Panics
/// If `workers` is 0.
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn stage<T, U, F>(rx: Receiver<T>, workers: usize, f: F) -> Receiver<U>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    check_workers("stage", workers);
    let f = Arc::new(f);
    let (tx, out) = bounded(BUFFER);
    for _ in 0..workers {
        let (rx, tx, f) = (rx.clone(), tx.clone(), f.clone());
        go(move || {
            let work = panic::catch_unwind(AssertUnwindSafe(|| {
                for v in &rx {
                    if tx.send(f(v)).is_err() {
                        break;
                    }
                }
            }));
            if let Err(payload) = work {
                // `f` panicked (or the runtime is unwinding us): end the
                // stream rather than leave a gap in it, and go on unwinding.
                tx.close();
                panic::resume_unwind(payload);
            }
        });
    }
    out
}

/// A pipeline stage that keeps the input's order: `workers` goroutines
/// apply `f` concurrently, and the results come out in the order their
/// inputs came in.
///
/// How: a dispatcher goroutine numbers the values and hands them to the
/// workers; a collector goroutine puts the results back in order in a
/// window of `workers + BUFFER` values and forwards each as soon as all
/// before it have gone. The dispatcher takes a slot in that window before it
/// hands a value out, so memory stays bounded however long one slow value
/// holds back those behind it. The output has a buffer of [`BUFFER`].
///
/// Stopping and panics are as for [`stage`]: the stage stops when its output
/// has no receiver left, and a panic in `f` ends the output stream right
/// before the value that panicked.
///
/// ```
/// use std::time::Duration;
/// use goro_patterns::{generate, stage_ordered};
///
/// let out = stage_ordered(generate(0..20u64), 4, |x| {
///     // Early values take longest, yet come out first.
///     goro_sched::sleep(Duration::from_millis(20 - x));
///     x * 10
/// });
/// assert_eq!(out.iter().collect::<Vec<_>>(), (0..20).map(|x| x * 10).collect::<Vec<_>>());
/// ```
///
/// # Panics
/// If `workers` is 0.
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn stage_ordered<T, U, F>(rx: Receiver<T>, workers: usize, f: F) -> Receiver<U>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    check_workers("stage_ordered", workers);
    let f = Arc::new(f);
    let window = workers + BUFFER;
    // A token for each value between the dispatcher and the output.
    let (slot_tx, slot_rx) = bounded::<()>(window);
    let (work_tx, work_rx) = bounded::<(u64, T)>(BUFFER);
    // Never full: at most `window` values are in flight.
    let (done_tx, done_rx) = bounded::<(u64, Slot<U>)>(window);
    let (out_tx, out) = bounded::<U>(BUFFER);

    // The dispatcher: numbers the values, each once it has a slot.
    go(move || {
        for (seq, v) in (0u64..).zip(&rx) {
            // Either fails once the collector is gone (the output was
            // dropped), the second also once every worker is gone.
            if slot_tx.send(()).is_err() || work_tx.send((seq, v)).is_err() {
                break;
            }
        }
    });

    for _ in 0..workers {
        let (work_rx, done_tx, f) = (work_rx.clone(), done_tx.clone(), f.clone());
        go(move || {
            for (seq, v) in &work_rx {
                let u = match panic::catch_unwind(AssertUnwindSafe(|| f(v))) {
                    Ok(u) => u,
                    Err(payload) => {
                        // Tell the collector this value will never come (the
                        // channel has room: see above), and go on unwinding.
                        let _ = done_tx.try_send((seq, Slot::Panicked));
                        panic::resume_unwind(payload);
                    }
                };
                if done_tx.send((seq, Slot::Done(u))).is_err() {
                    break; // the collector is gone
                }
            }
        });
    }
    drop((work_rx, done_tx));

    // The collector: puts the results back in order.
    go(move || {
        // `window[i]` is the value numbered `next + i`.
        let mut window: VecDeque<Slot<U>> = VecDeque::new();
        let mut next = 0u64;
        for (seq, slot) in &done_rx {
            let i = usize::try_from(seq - next).expect("within the window");
            if window.len() <= i {
                window.resize_with(i + 1, || Slot::Pending);
            }
            window[i] = slot;
            while !matches!(window.front(), None | Some(Slot::Pending)) {
                match window.pop_front() {
                    Some(Slot::Done(u)) => {
                        if out_tx.send(u).is_err() {
                            return;
                        }
                    }
                    // `f` panicked on this value: end the stream here.
                    _ => return,
                }
                next += 1;
                // Its slot is free: the dispatcher may hand out one more.
                let _ = slot_rx.try_recv();
            }
        }
    });
    out
}

/// A value's place in [`stage_ordered`]'s window.
enum Slot<U> {
    /// Not back from its worker yet.
    Pending,
    /// Its result.
    Done(U),
    /// `f` panicked on it.
    Panicked,
}

/// Ties a stream to a [`Context`] (Go's `orDone`): forwards `rx`'s values
/// until `rx` closes or `ctx` is cancelled, whichever comes first; then the
/// returned channel closes and `rx` is dropped (which stops a pipeline
/// upstream, see [`stage`]).
///
/// The output is unbuffered, as Go's: once the cancellation is seen no
/// further value is forwarded, so a consumer gets at most the one value
/// that was being handed over at that moment. Dropping every receiver of
/// the output also stops the forwarding goroutine, at its next send.
///
/// ```
/// use goro_patterns::{generate, or_done};
/// use goro_sync::context::Context;
///
/// let (ctx, cancel) = Context::with_cancel(&Context::background());
/// let naturals = or_done(&ctx, generate(0u64..));
/// let mut sum = 0;
/// for v in &naturals {
///     sum += v;
///     if v == 9 {
///         cancel.cancel(); // stops the stream, and the generator behind it
///     }
/// }
/// assert!(sum == 45 || sum == 45 + 10); // 10 may have been on its way
/// ```
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn or_done<T>(ctx: &Context, rx: Receiver<T>) -> Receiver<T>
where
    T: Send + 'static,
{
    let done = ctx.done();
    let (tx, out) = bounded(0);
    go(move || {
        loop {
            let v = select! {
                recv(done) -> _ => break,
                recv(rx) -> v => match v {
                    Ok(v) => v,
                    Err(_) => break,
                },
            };
            // Both may have been ready: cancellation wins.
            if done.is_closed() {
                break;
            }
            select! {
                send(tx, v) -> res => if res.is_err() { break },
                recv(done) -> _ => break,
            }
        }
    });
    out
}

/// Panics with a clear message for a stage of no workers.
#[track_caller]
pub(crate) fn check_workers(what: &str, workers: usize) {
    assert!(
        workers > 0,
        "{what}: the number of workers must be at least 1 (got 0)"
    );
}
