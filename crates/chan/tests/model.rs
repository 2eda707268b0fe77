//! Model-based property tests: random sequences of non-blocking operations on
//! a channel, checked step by step against a plain `VecDeque`.

use std::collections::VecDeque;

use goro_chan::{Receiver, Sender, TryRecvError, TrySendError, bounded, unbounded};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    TrySend(u8),
    TryRecv,
    Close,
    CloneSender,
    DropSender,
    CloneReceiver,
    DropReceiver,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::TrySend),
        4 => Just(Op::TryRecv),
        1 => Just(Op::Close),
        1 => Just(Op::CloneSender),
        1 => Just(Op::DropSender),
        1 => Just(Op::CloneReceiver),
        1 => Just(Op::DropReceiver),
    ]
}

/// What the channel should do.
struct Model {
    buf: VecDeque<u8>,
    cap: Option<usize>,
    closed: bool,
    senders: usize,
    receivers: usize,
}

impl Model {
    fn disconnected(&self) -> bool {
        self.closed || self.receivers == 0
    }
}

fn run(cap: Option<usize>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (tx, rx): (Sender<u8>, Receiver<u8>) = match cap {
        Some(c) => bounded(c),
        None => unbounded(),
    };
    let mut txs = vec![tx];
    let mut rxs = vec![rx];
    let mut m = Model {
        buf: VecDeque::new(),
        cap,
        closed: false,
        senders: 1,
        receivers: 1,
    };
    for op in ops {
        match op {
            Op::TrySend(v) => {
                let Some(tx) = txs.last() else { continue };
                let got = tx.try_send(v);
                let want = if m.disconnected() {
                    Err(TrySendError::Closed(v))
                } else if m.cap.is_none_or(|c| m.buf.len() < c) {
                    m.buf.push_back(v);
                    Ok(())
                } else {
                    Err(TrySendError::Full(v))
                };
                prop_assert_eq!(got, want);
            }
            Op::TryRecv => {
                let Some(rx) = rxs.last() else { continue };
                let got = rx.try_recv();
                let want = match m.buf.pop_front() {
                    Some(v) => Ok(v),
                    None if m.closed => Err(TryRecvError::Closed),
                    None => Err(TryRecvError::Empty),
                };
                prop_assert_eq!(got, want);
            }
            Op::Close => {
                let Some(tx) = txs.last() else { continue };
                prop_assert_eq!(tx.close(), !m.disconnected());
                m.closed = true;
            }
            Op::CloneSender => {
                if let Some(tx) = txs.last() {
                    txs.push(tx.clone());
                    m.senders += 1;
                }
            }
            Op::DropSender => {
                if txs.pop().is_some() {
                    m.senders -= 1;
                    if m.senders == 0 {
                        m.closed = true;
                    }
                }
            }
            Op::CloneReceiver => {
                if let Some(rx) = rxs.last() {
                    rxs.push(rx.clone());
                    m.receivers += 1;
                }
            }
            Op::DropReceiver => {
                if rxs.pop().is_some() {
                    m.receivers -= 1;
                    if m.receivers == 0 {
                        m.buf.clear();
                    }
                }
            }
        }
        if let Some(rx) = rxs.last() {
            prop_assert_eq!(rx.len(), m.buf.len());
            prop_assert_eq!(rx.is_closed(), m.disconnected());
        }
        if let Some(tx) = txs.last() {
            prop_assert_eq!(tx.is_closed(), m.disconnected());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bounded_channels_behave_like_the_model(
        cap in 0usize..5,
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        run(Some(cap), ops)?;
    }

    #[test]
    fn unbounded_channels_behave_like_the_model(ops in proptest::collection::vec(op(), 0..200)) {
        run(None, ops)?;
    }
}
