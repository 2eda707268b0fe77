//! Sockets that park goroutines on a netpoller: std's shapes, Go's
//! deadlines.
//!
//! ```
//! use goro_net::{TcpListener, TcpStream};
//! use std::io::{Read, Write};
//!
//! goro_sched::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     // An echo server: a goroutine per connection.
//!     goro_sched::go(move || {
//!         for conn in listener.incoming() {
//!             let mut conn = conn.unwrap();
//!             goro_sched::go(move || {
//!                 let mut buf = [0u8; 1024];
//!                 loop {
//!                     match conn.read(&mut buf) {
//!                         Ok(0) | Err(_) => break,
//!                         Ok(n) => conn.write_all(&buf[..n]).unwrap(),
//!                     }
//!                 }
//!             });
//!         }
//!     });
//!     let mut client = TcpStream::connect(addr).unwrap();
//!     client.write_all(b"hello").unwrap();
//!     let mut buf = [0u8; 5];
//!     client.read_exact(&mut buf).unwrap();
//!     assert_eq!(&buf, b"hello");
//! });
//! ```
//!
//! # The model
//!
//! Sockets are non-blocking. An operation tries its system call; when the
//! kernel says it would block, a goroutine parks on the scheduler's
//! netpoller ([`goro_sched::poll`]) until the socket is ready, and its
//! worker runs other goroutines meanwhile; then it tries again. Ten
//! thousand connections parked in `read` cost ten thousand small stacks,
//! not threads. From a plain thread the same calls block that thread
//! (in `poll(2)`), with the same semantics.
//!
//! # Deadlines and timeouts
//!
//! Go's deadlines ([`TcpStream::set_deadline`], `set_read_deadline`,
//! `set_write_deadline`) are absolute times after which operations fail
//! with [`std::io::ErrorKind::TimedOut`]; a change applies at once to
//! operations already waiting. std's timeouts (`set_read_timeout`) count
//! from the start of each operation, and fail the same way. Every type
//! that reads and writes (`TcpStream`, `UdpSocket`, `UnixStream`,
//! `UnixDatagram`) has both, alike.
//!
//! # Module map
//!
//! * [`TcpListener`], [`Incoming`]: accepting connections.
//! * [`TcpStream`]: a connection.
//! * [`UdpSocket`]: datagrams (which UDP may lose: receive with a deadline).
//! * [`UnixListener`], [`UnixStream`], [`UnixDatagram`]: Unix domain
//!   sockets (a path, or a name in Linux's abstract namespace, as std's
//!   [`std::os::unix::net::SocketAddr`]).
//! * [`ToSocketAddrs`]: addresses, resolved off the workers.
//! * [`signal`]: signals as channels (Go's `os/signal`).

#![warn(missing_docs)]
#![deny(missing_debug_implementations)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

// Defines the macros that give every socket type the same methods (used by
// the type modules; path-based, so the order is for the reader).
mod macros;

mod addr;
pub mod signal;
mod sys;
mod tcp;
mod udp;
mod unix;

pub use crate::addr::ToSocketAddrs;
pub use crate::tcp::{Incoming, TcpListener, TcpStream};
pub use crate::udp::UdpSocket;
pub use crate::unix::{UnixDatagram, UnixListener, UnixStream};
