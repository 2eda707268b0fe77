//! Fan-in and fan-out: [`merge`] many streams into one, [`fan_out`] one
//! stream to many workers each with its own output, [`tee`] one stream to two
//! readers, and [`bridge`] a stream of streams into one.
//!
//! The goroutines here follow the pipeline rule (see `pipeline.rs`): each
//! exits when its input is closed and drained or when its outputs have no
//! receiver left, and exiting drops its input.

use std::sync::Arc;

use goro_sync::chan::sched::go;
use goro_sync::chan::{Receiver, Sender, bounded, select};

use crate::pipeline::{BUFFER, check_workers};

/// Fan-in: one goroutine per input forwards its values to the returned
/// channel, which closes once every input is closed and drained.
///
/// Every value is delivered exactly once, and each input's own values keep
/// their order; values of different inputs interleave as they come. The
/// output has a buffer of [`BUFFER`]. Dropping every receiver of the output
/// stops each forwarding goroutine at its next send, which drops its input.
/// No input at all gives a channel that is closed at once.
///
/// ```
/// use goro_patterns::{generate, merge};
///
/// let odds = generate((0..50u64).map(|x| 2 * x + 1));
/// let evens = generate((0..50u64).map(|x| 2 * x));
/// let all = merge(vec![odds, evens]);
/// assert_eq!(all.iter().sum::<u64>(), (0..100).sum());
/// ```
#[doc(alias = "fan_in")]
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn merge<T, I>(inputs: I) -> Receiver<T>
where
    T: Send + 'static,
    I: IntoIterator<Item = Receiver<T>>,
{
    let (tx, out) = bounded(BUFFER);
    for rx in inputs {
        let tx = tx.clone();
        go(move || {
            for v in &rx {
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
    }
    out
}

/// Fan-out: `n` worker goroutines take values from `rx` (each value goes to
/// exactly one of them, whichever is free) and each sends `f`'s results on
/// its own output channel; output `i` belongs to worker `i`.
///
/// Each output has a buffer of [`BUFFER`] and closes when `rx` is closed and
/// drained. An output nobody reads fills up and stalls its worker only, so
/// read them all (or drop the ones you do not want: a worker whose output
/// has no receiver exits at its next send, and the others take its share).
/// A panic in `f` ends that worker's output (the panic hook prints it).
/// `rx` is dropped when every worker has exited.
///
/// ```
/// use goro_patterns::{fan_out, generate, merge};
///
/// let outs = fan_out(generate(1..=100u64), 4, |x| x * x);
/// assert_eq!(outs.len(), 4);
/// let total: u64 = merge(outs).iter().sum();
/// assert_eq!(total, (1..=100u64).map(|x| x * x).sum());
/// ```
///
/// # Panics
/// If `n` is 0.
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn fan_out<T, U, F>(rx: Receiver<T>, n: usize, f: F) -> Vec<Receiver<U>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    check_workers("fan_out", n);
    let f = Arc::new(f);
    let mut outs = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, out) = bounded(BUFFER);
        let (rx, f) = (rx.clone(), f.clone());
        go(move || {
            for v in &rx {
                if tx.send(f(v)).is_err() {
                    break;
                }
            }
        });
        outs.push(out);
    }
    outs
}

/// Go's `tee`: both returned channels receive every value of `rx`, in
/// `rx`'s order.
///
/// One goroutine hands each value to whichever output is ready first, then
/// to the other, before it takes the next value: the two readers stay
/// within about [`BUFFER`] values of each other (the faster waits for the
/// slower).
/// If one output loses all its receivers, the other goes on alone; when both
/// have, the goroutine exits and drops `rx`.
///
/// ```
/// use goro_patterns::{generate, tee};
///
/// let (a, b) = tee(generate(1..=3));
/// let reader = goro_sched::go(move || b.iter().collect::<Vec<i32>>());
/// assert_eq!(a.iter().collect::<Vec<_>>(), [1, 2, 3]);
/// assert_eq!(reader.join().unwrap(), [1, 2, 3]);
/// ```
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn tee<T>(rx: Receiver<T>) -> (Receiver<T>, Receiver<T>)
where
    T: Clone + Send + 'static,
{
    let (tx_a, out_a) = bounded(BUFFER);
    let (tx_b, out_b) = bounded(BUFFER);
    go(move || {
        let mut outs: [Option<Sender<T>>; 2] = [Some(tx_a), Some(tx_b)];
        for v in &rx {
            let rest = match &outs {
                [Some(a), Some(b)] => {
                    // Whichever is ready first gets a clone, the other the value.
                    let (first, ok) = select! {
                        send(a, v.clone()) -> res => (0, res.is_ok()),
                        send(b, v.clone()) -> res => (1, res.is_ok()),
                    };
                    if !ok {
                        outs[first] = None;
                    }
                    1 - first
                }
                [Some(_), None] => 0,
                [None, Some(_)] => 1,
                [None, None] => break,
            };
            if let Some(tx) = &outs[rest]
                && tx.send(v).is_err()
            {
                outs[rest] = None;
            }
            if outs.iter().all(Option::is_none) {
                break;
            }
        }
    });
    (out_a, out_b)
}

/// Go's `bridge`: reads a stream of streams and forwards the values of each
/// inner stream in turn, in order: the first inner stream until it closes,
/// then the next, and so on. The output closes after the outer stream and
/// the last inner stream have closed.
///
/// One goroutine does it, with an output buffer of [`BUFFER`]; dropping
/// every receiver of the output stops it at its next send (it drops the
/// inner stream it was reading and the outer one).
///
/// ```
/// use goro_patterns::{bridge, generate};
///
/// let streams = generate((0..3).map(|i| generate(i * 10..i * 10 + 3)));
/// let flat: Vec<i32> = bridge(streams).iter().collect();
/// assert_eq!(flat, [0, 1, 2, 10, 11, 12, 20, 21, 22]);
/// ```
#[must_use = "dropping the stream stops the goroutines behind it"]
#[track_caller]
pub fn bridge<T>(rx_of_rx: Receiver<Receiver<T>>) -> Receiver<T>
where
    T: Send + 'static,
{
    let (tx, out) = bounded(BUFFER);
    go(move || {
        for inner in &rx_of_rx {
            for v in &inner {
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    out
}
