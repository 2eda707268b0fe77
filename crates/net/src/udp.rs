//! UDP: `UdpSocket`, std's shape plus Go's deadlines.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use goro_sched::poll::Direction;

use crate::addr::{ToSocketAddrs, each_addr};
use crate::macros::{deadlines, std_impls};
use crate::sys::Socket;

/// A UDP socket: std's [`std::net::UdpSocket`], whose receives park a
/// goroutine (and block a plain thread) until a datagram comes, with Go's
/// deadlines besides std's timeouts.
///
/// UDP loses datagrams (a receiver whose buffer is full drops them, even
/// on loopback): a receiver that must not wait for good sets a deadline or
/// a timeout, and fails with [`io::ErrorKind::TimedOut`].
///
/// Handles made by [`try_clone`](UdpSocket::try_clone) share the socket
/// (its registration with the poller and its deadlines); the descriptor
/// closes when the last one is dropped, never while an operation runs on
/// it. Receives take turns, as do sends; a receive and a send run at once.
///
/// ```
/// use goro_net::UdpSocket;
///
/// goro_sched::run(|| {
///     let server = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let addr = server.local_addr().unwrap();
///     // An echo server.
///     goro_sched::go(move || {
///         let mut buf = [0u8; 1500];
///         let (n, from) = server.recv_from(&mut buf).unwrap();
///         server.send_to(&buf[..n], from).unwrap();
///     });
///     let client = UdpSocket::bind("127.0.0.1:0").unwrap();
///     client.connect(addr).unwrap();
///     client.send(b"ping").unwrap();
///     let mut buf = [0u8; 4];
///     assert_eq!(client.recv(&mut buf).unwrap(), 4);
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub struct UdpSocket(Arc<Socket<std::net::UdpSocket>>);

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that binds). Host names
    /// are resolved off the workers (see [`ToSocketAddrs`]).
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(socket.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let std = each_addr(addr, |a| std::net::UdpSocket::bind(a))?;
        UdpSocket::from_std(std)
    }

    /// Wraps a std socket: makes it non-blocking and registers it.
    ///
    /// ```
    /// let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let socket = goro_net::UdpSocket::from_std(std).unwrap();
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket(Arc::new(Socket::from_std(socket)?)))
    }

    /// Gives std's socket back, in blocking mode, taken out of the poller.
    /// If other handles ([`try_clone`](UdpSocket::try_clone)) share the
    /// socket, std's gets a duplicate descriptor instead, and the socket's
    /// blocking mode changes for all: the others then block their thread.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let std: std::net::UdpSocket = socket.into_std().unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Socket::shared_into_std(self.0)
    }

    /// Sets the peer (the first of `addr`'s addresses that works): `send`
    /// goes there, and only datagrams from there are received.
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.0.std.connect(a))
    }

    /// Sends `buf` as one datagram to `addr` (its first address, as std
    /// does), waiting for room in the send buffer; returns the bytes sent.
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(a.send_to(b"hi", b.local_addr().unwrap()).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let addr = addr.to_socket_addrs()?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.0.io(Direction::Write, |s| s.send_to(buf, addr))
    }

    /// Receives one datagram, waiting for it; returns its length (what did
    /// not fit in `buf` is lost) and where it came from.
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 16];
    /// let (n, from) = b.recv_from(&mut buf).unwrap();
    /// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.io(Direction::Read, |s| s.recv_from(buf))
    }

    /// As [`recv_from`](UdpSocket::recv_from), but leaves the datagram in
    /// the socket.
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 16];
    /// let (n, _) = b.peek_from(&mut buf).unwrap();
    /// assert_eq!(b.recv_from(&mut buf).unwrap().0, n); // still there
    /// ```
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.io(Direction::Read, |s| s.peek_from(buf))
    }

    /// Sends `buf` as one datagram to the peer set by
    /// [`connect`](UdpSocket::connect).
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap(); // to itself
    /// assert_eq!(a.send(b"hi").unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.io(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the peer set by
    /// [`connect`](UdpSocket::connect), waiting for it.
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap(); // to itself
    /// a.send(b"hi").unwrap();
    /// let mut buf = [0u8; 16];
    /// assert_eq!(a.recv(&mut buf).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.io(Direction::Read, |s| s.recv(buf))
    }

    /// As [`recv`](UdpSocket::recv), but leaves the datagram in the socket.
    ///
    /// ```
    /// use goro_net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap(); // to itself
    /// a.send(b"hi").unwrap();
    /// let mut buf = [0u8; 16];
    /// assert_eq!(a.peek(&mut buf).unwrap(), 2);
    /// assert_eq!(a.recv(&mut buf).unwrap(), 2); // still there
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.io(Direction::Read, |s| s.peek(buf))
    }

    /// This end's address.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.local_addr()
    }

    /// The peer's address (an error before [`connect`](UdpSocket::connect)).
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.peer_addr().is_err());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_broadcast(true).unwrap();
    /// assert!(socket.broadcast().unwrap());
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.0.std.set_broadcast(broadcast)
    }

    /// Reads `SO_BROADCAST`.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(!socket.broadcast().unwrap());
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.0.std.broadcast()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_ttl(42).unwrap();
    /// assert_eq!(socket.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.std.set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.std.ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any: an ICMP
    /// "port unreachable" for a connected socket, for instance.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.std.take_error()
    }

    /// Another handle to the same socket (shared, not a duplicate
    /// descriptor: see the type's docs). Never fails; `io::Result` for std's
    /// shape.
    ///
    /// ```
    /// let socket = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let other = socket.try_clone().unwrap();
    /// assert_eq!(other.local_addr().unwrap(), socket.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket(self.0.clone()))
    }
}

deadlines!(
    UdpSocket,
    setup: "let a = goro_net::UdpSocket::bind(\"127.0.0.1:0\").unwrap();\na.connect(a.local_addr().unwrap()).unwrap(); // to itself",
    read: "recv(&mut [0u8; 1])",
    write: "send(b\"x\")"
);
std_impls!(UdpSocket, std::net::UdpSocket);
