//! Go channels for goroutines and threads: `bounded`, `unbounded`, `select!`.
//!
//! ```
//! let (tx, rx) = goro_chan::bounded(0); // unbuffered, as Go's `make(chan int)`
//! let h = goro_sched::go(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap(); // waits for the receiver each time
//!     }
//!     // dropping the last sender closes the channel
//! });
//! let got: Vec<i32> = rx.iter().collect(); // `for v := range ch`
//! assert_eq!(got, [0, 1, 2]);
//! h.join().unwrap();
//! ```

//!
//! A blocking operation (`send`, `recv`, `select`, their timeout forms)
//! parks the calling goroutine when it must wait, and on a buffered
//! channel it also lets the other goroutines of its worker run now and then
//! when it need not (once its goroutine has gone about a thousand
//! operations without a switch): a goroutine that never has to wait would
//! otherwise keep its thread for good, as goroutines keep their thread. So
//! do not hold a thread's lock or a `RefCell` borrow across one. The `try_`
//! forms, and `select!` with `default`, never switch.

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

// Defines `select!`, used in doctests of later modules.
mod select_macro;

mod channel;
mod err;
mod ring;
mod select;
pub mod time;
mod waiter;

#[doc(no_inline)]
pub use goro_sched as sched;

pub use crate::channel::{IntoIter, Iter, Receiver, Sender, TryIter, bounded, never, unbounded};
pub use crate::err::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use crate::select::{Select, SelectedOperation};

/// For `select!`'s expansion, and goro-net's signal registrations.
#[doc(hidden)]
pub mod __private {
    pub use crate::channel::sender_of;
    pub use crate::select::LocalSelect;
}
/// At the crate's root too, where crossbeam-channel has them.
pub use crate::time::{after, at, tick};
