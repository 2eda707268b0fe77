//! Error types, in the shapes of crossbeam-channel's, with Go's word for a
//! channel that can no longer deliver: closed.

use std::error;
use std::fmt;

/// A send on a closed channel: the value comes back (Go panics instead).
///
/// ```
/// use goro_chan::SendError;
///
/// let (tx, rx) = goro_chan::bounded(1);
/// drop(rx);
/// let SendError(value) = tx.send("lost").unwrap_err(); // the value comes back
/// assert_eq!(value, "lost");
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// A receive on a closed, drained channel.
///
/// ```
/// use goro_chan::RecvError;
///
/// let (tx, rx) = goro_chan::unbounded::<i32>();
/// drop(tx);
/// assert_eq!(rx.recv(), Err(RecvError));
/// assert_eq!(RecvError.to_string(), "receiving on a closed channel");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// Why [`try_send`](crate::Sender::try_send) failed; the value comes back.
///
/// ```
/// use goro_chan::TrySendError;
///
/// let (tx, rx) = goro_chan::bounded(1);
/// tx.send(1).unwrap();
/// match tx.try_send(2) {
///     Err(TrySendError::Full(v)) => assert_eq!(v, 2), // the value comes back
///     other => unreachable!("{other:?}"),
/// }
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full (or, unbuffered, no receiver waits).
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Why [`send_timeout`](crate::Sender::send_timeout) failed; the value comes
/// back.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::SendTimeoutError;
///
/// let (tx, rx) = goro_chan::bounded(0);
/// assert_eq!(tx.send_timeout(1, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(1)));
/// drop(rx);
/// assert_eq!(tx.send_timeout(2, Duration::from_secs(1)), Err(SendTimeoutError::Closed(2)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// No room (or receiver) came in time.
    Timeout(T),
    /// The channel is closed.
    Closed(T),
}

/// Why [`try_recv`](crate::Receiver::try_recv) failed.
///
/// ```
/// use goro_chan::TryRecvError;
///
/// let (tx, rx) = goro_chan::bounded::<i32>(1);
/// match rx.try_recv() {
///     Ok(_) => unreachable!(),
///     Err(TryRecvError::Empty) => {} // nothing there yet
///     Err(TryRecvError::Closed) => unreachable!(),
/// }
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive now.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

/// Why [`recv_timeout`](crate::Receiver::recv_timeout) failed.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::RecvTimeoutError;
///
/// let (tx, rx) = goro_chan::bounded::<i32>(0);
/// match rx.recv_timeout(Duration::from_millis(1)) {
///     Ok(_) => unreachable!(),
///     Err(RecvTimeoutError::Timeout) => {} // nothing came in time
///     Err(RecvTimeoutError::Closed) => unreachable!(),
/// }
/// drop(tx);
/// assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Closed));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// Nothing came in time.
    Timeout,
    /// The channel is closed and drained.
    Closed,
}

/// [`Select::try_select`](crate::Select::try_select) found no ready
/// operation.
///
/// ```
/// use goro_chan::{Select, TrySelectError};
///
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = Select::new();
/// sel.recv(&rx);
/// let err: TrySelectError = sel.try_select().map(|_| ()).unwrap_err();
/// assert_eq!(err.to_string(), "all operations in select would block");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TrySelectError;

/// [`Select::select_timeout`](crate::Select::select_timeout) found no ready
/// operation in time.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::{Select, SelectTimeoutError};
///
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = Select::new();
/// sel.recv(&rx);
/// let err: SelectTimeoutError = sel.select_timeout(Duration::from_millis(1)).map(|_| ()).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting on select");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct SelectTimeoutError;

/// [`Select::try_ready`](crate::Select::try_ready) found no ready
/// operation.
///
/// ```
/// use goro_chan::{Select, TryReadyError};
///
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = Select::new();
/// sel.recv(&rx);
/// let err: TryReadyError = sel.try_ready().unwrap_err();
/// assert_eq!(err.to_string(), "all operations in select would block");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TryReadyError;

/// [`Select::ready_timeout`](crate::Select::ready_timeout) found no ready
/// operation in time.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::{ReadyTimeoutError, Select};
///
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = Select::new();
/// sel.recv(&rx);
/// let err: ReadyTimeoutError = sel.ready_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting on ready");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct ReadyTimeoutError;

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// drop(rx);
    /// assert_eq!(tx.send(String::from("mine")).unwrap_err().into_inner(), "mine");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// assert_eq!(tx.try_send("kept").unwrap_err().into_inner(), "kept");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the send failed because the buffer was full.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(1);
    /// tx.send(1).unwrap();
    /// assert!(tx.try_send(2).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the send failed because the channel is closed.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// drop(rx);
    /// assert!(tx.try_send(1).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// let err = tx.send_timeout("late", Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.into_inner(), "late");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Closed(v) => v,
        }
    }

    /// Whether the send timed out.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// assert!(tx.send_timeout(1, Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether the send failed because the channel is closed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = goro_chan::bounded(0);
    /// drop(rx);
    /// assert!(tx.send_timeout(1, Duration::from_secs(1)).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendTimeoutError::Closed(_))
    }
}

impl TryRecvError {
    /// Whether nothing was there to receive.
    ///
    /// ```
    /// let (_tx, rx) = goro_chan::bounded::<i32>(1);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// Whether the channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded::<i32>(1);
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryRecvError::Closed)
    }
}

impl RecvTimeoutError {
    /// Whether the receive timed out.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (_tx, rx) = goro_chan::bounded::<i32>(0);
    /// assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// Whether the channel is closed and drained.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = goro_chan::bounded::<i32>(0);
    /// drop(tx);
    /// assert!(rx.recv_timeout(Duration::from_secs(1)).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, RecvTimeoutError::Closed)
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
            SendTimeoutError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed channel")
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed channel"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on receive operation"),
            RecvTimeoutError::Closed => f.write_str("receiving on a closed channel"),
        }
    }
}

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all operations in select would block")
    }
}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}

impl<T: Send> error::Error for SendError<T> {}
impl<T: Send> error::Error for TrySendError<T> {}
impl<T: Send> error::Error for SendTimeoutError<T> {}
impl error::Error for RecvError {}
impl error::Error for TryRecvError {}
impl error::Error for RecvTimeoutError {}
impl fmt::Display for TryReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all operations in select would block")
    }
}

impl fmt::Display for ReadyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on ready")
    }
}

impl error::Error for TrySelectError {}
impl error::Error for TryReadyError {}
impl error::Error for ReadyTimeoutError {}
impl error::Error for SelectTimeoutError {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> TrySendError<T> {
        TrySendError::Closed(err.0)
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(err: SendError<T>) -> SendTimeoutError<T> {
        SendTimeoutError::Closed(err.0)
    }
}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> TryRecvError {
        TryRecvError::Closed
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> RecvTimeoutError {
        RecvTimeoutError::Closed
    }
}
