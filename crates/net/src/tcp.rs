//! TCP: `TcpListener` and `TcpStream`, std's shapes plus Go's deadlines.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_sched::poll::Direction;

use crate::addr::{ToSocketAddrs, each_addr, to_sockaddr};
use crate::macros::{deadlines, std_impls, stream_io};
use crate::sys::{self, Socket};

/// A TCP socket server, listening for connections: std's
/// [`std::net::TcpListener`], whose `accept` parks a goroutine (and blocks
/// a plain thread) until a connection comes.
///
/// ```
/// use goro_net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
///
/// goro_sched::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     goro_sched::go(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = [0u8; 5];
///         conn.read_exact(&mut buf).unwrap();
///         conn.write_all(&buf).unwrap(); // echo
///     });
///     let mut client = TcpStream::connect(addr).unwrap();
///     client.write_all(b"hello").unwrap();
///     let mut buf = [0u8; 5];
///     client.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// ```
///
/// # Running out of descriptors
///
/// `accept` returns the error when the process is out of descriptors
/// (`EMFILE`, `ENFILE`; the pending connection stays queued). A server that
/// retries should sleep first (Go's `net/http` sleeps 5 ms, doubling up to
/// 1 s) rather than spin:
///
/// ```no_run
/// use std::time::Duration;
///
/// let listener = goro_net::TcpListener::bind("127.0.0.1:8080").unwrap();
/// let mut delay = Duration::from_millis(5);
/// loop {
///     match listener.accept() {
///         Ok((conn, _)) => {
///             delay = Duration::from_millis(5);
///             goro_sched::go(move || drop(conn));
///         }
///         Err(_) => {
///             goro_sched::sleep(delay);
///             delay = (delay * 2).min(Duration::from_secs(1));
///         }
///     }
/// }
/// ```
pub struct TcpListener(Socket<std::net::TcpListener>);

/// A TCP connection: std's [`std::net::TcpStream`], whose reads and writes
/// park a goroutine (and block a plain thread) until the socket is ready,
/// with Go's deadlines besides std's timeouts.
///
/// Handles made by [`try_clone`](TcpStream::try_clone) share the socket
/// (its registration with the poller and its deadlines, as Go's `net.Conn`
/// shares them among goroutines); the descriptor closes when the last one
/// is dropped, never while an operation runs on it. Operations of one
/// direction take turns; a read and a write run at once.
///
/// ```
/// use goro_net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = goro_sched::go(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut s = String::new();
///     conn.read_to_string(&mut s).unwrap(); // until the client shuts down
///     s
/// });
/// let mut client = TcpStream::connect(addr).unwrap(); // from a plain thread
/// client.write_all(b"bye").unwrap();
/// client.shutdown(std::net::Shutdown::Write).unwrap();
/// assert_eq!(server.join().unwrap(), "bye");
/// ```
pub struct TcpStream(Arc<Socket<std::net::TcpStream>>);

/// An iterator over the connections of a listener: a [`TcpListener`]'s
/// ([`TcpListener::incoming`]), or a [`UnixListener`](crate::UnixListener)'s
/// ([`UnixListener::incoming`](crate::UnixListener::incoming)); never returns `None`.
///
/// ```no_run
/// let listener = goro_net::TcpListener::bind("127.0.0.1:8080").unwrap();
/// for conn in listener.incoming() {
///     let conn = conn.unwrap();
///     goro_sched::go(move || drop(conn));
/// }
/// ```
#[derive(Debug)]
pub struct Incoming<'a, L = TcpListener> {
    pub(crate) listener: &'a L,
}

impl Iterator for Incoming<'_, TcpListener> {
    type Item = io::Result<TcpStream>;

    #[track_caller]
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that binds) and listens.
    /// Host names are resolved off the workers (see [`ToSocketAddrs`]).
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let std = each_addr(addr, |a| std::net::TcpListener::bind(a))?;
        sys::listen(std.as_fd())?;
        TcpListener::from_std(std)
    }

    /// Wraps a std listener: makes it non-blocking and registers it.
    ///
    /// ```
    /// let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let listener = goro_net::TcpListener::from_std(std).unwrap();
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener(Socket::from_std(listener)?))
    }

    /// Takes the listener out of the poller and gives std's back, in
    /// blocking mode.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std: std::net::TcpListener = listener.into_std().unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.0.into_std()
    }

    /// Waits for a connection (parks a goroutine, blocks a thread); returns
    /// it with the peer's address. See the type's docs on `EMFILE`.
    ///
    /// ```
    /// use goro_net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let client = goro_sched::go(move || TcpStream::connect(addr).unwrap());
    /// let (conn, peer) = listener.accept().unwrap();
    /// assert_eq!(peer, client.join().unwrap().local_addr().unwrap());
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (std, addr) = self.0.io(Direction::Read, |l| l.accept())?;
        // The connection's goroutine, if this goroutine spawns it next,
        // starts on the worker of the CPU that received the connection,
        // where the kernel handles its packets (loopback: the client's):
        // `echo`'s pairs split over two workers took 1.4x as long.
        if goro_sched::id().is_some()
            && let Some(cpu) = sys::incoming_cpu(std.as_fd())
        {
            goro_sched::__private::spawn_near_cpu(cpu);
        }
        Ok((TcpStream::from_std(std)?, addr))
    }

    /// The connections, one `accept` each.
    ///
    /// ```
    /// use goro_net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// goro_sched::go(move || TcpStream::connect(addr).unwrap());
    /// let conn = listener.incoming().next().unwrap().unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address it listens on.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.local_addr()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// listener.set_ttl(42).unwrap();
    /// assert_eq!(listener.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.std.set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.std.ttl()
    }

    /// Sets a deadline for `accept` (`None`: none): Go's `SetDeadline` on a
    /// listener. A past one makes `accept` fail at once with
    /// [`io::ErrorKind::TimedOut`]; a waiting `accept` sees a change at once.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// listener.set_deadline(Some(Instant::now() + Duration::from_millis(10))).unwrap();
    /// let err = listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.0.set_deadline(Direction::Read, deadline);
        Ok(())
    }
}

impl TcpStream {
    /// Connects to `addr` (each of its addresses in turn, until one
    /// connects): a non-blocking connect, then a wait for writability.
    /// Host names are resolved off the workers (see [`ToSocketAddrs`]).
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_addr(a, None))
    }

    /// Connects to one address, failing with [`io::ErrorKind::TimedOut`]
    /// after `timeout` (a zero one is an error, as in std).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let stream = goro_net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_addr(addr, goro_sched::timer::now().checked_add(timeout))
    }

    #[track_caller]
    fn connect_addr(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let family = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        let stream = TcpStream(Arc::new(Socket::open(family, libc::SOCK_STREAM)?));
        let (storage, len) = to_sockaddr(addr);
        let err = match sys::connect(stream.as_fd(), &storage, len) {
            Ok(()) => return Ok(stream),
            Err(e) => e,
        };
        if !matches!(err.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) {
            return Err(err);
        }
        // Writable means done (connected or failed): `SO_ERROR` says which.
        // A stale readiness may wake us early: still connecting then, which
        // `peer_addr` tells (Go's loop in `connect`).
        let sock = &stream.0;
        sock.set_deadline(Direction::Write, deadline);
        let done = sock.io(Direction::Write, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        });
        sock.set_deadline(Direction::Write, None);
        done.map(|()| stream)
    }

    /// Wraps a std stream: makes it non-blocking and registers it.
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let stream = goro_net::TcpStream::from_std(std).unwrap();
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream(Arc::new(Socket::from_std(stream)?)))
    }

    /// Gives std's stream back, in blocking mode, taken out of the poller.
    /// If other handles ([`try_clone`](TcpStream::try_clone)) share the
    /// socket, std's gets a duplicate descriptor instead, and the socket's
    /// blocking mode changes for all: the others then block their thread.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let std: std::net::TcpStream = stream.into_std().unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Socket::shared_into_std(self.0)
    }

    /// The remote end's address.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let stream = goro_net::TcpStream::connect(addr).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), addr);
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.peer_addr()
    }

    /// This end's address.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(stream.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.local_addr()
    }

    /// Shuts down the reading half, the writing half or both. A goroutine
    /// blocked on the socket wakes: a read returns 0 (end of file), a write
    /// an error.
    ///
    /// ```
    /// use std::net::Shutdown;
    ///
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let reader = stream.try_clone().unwrap();
    /// let h = goro_sched::go(move || reader.read(&mut [0u8; 8]).unwrap());
    /// stream.shutdown(Shutdown::Read).unwrap();
    /// assert_eq!(h.join().unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_nodelay(true).unwrap();
    /// assert!(stream.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.0.std.set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(!stream.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.0.std.nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_ttl(42).unwrap();
    /// assert_eq!(stream.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.std.set_ttl(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(stream.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.std.ttl()
    }

    /// Another handle to the same socket (shared, not a duplicate
    /// descriptor: see the type's docs). Never fails; `io::Result` for std's
    /// shape.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let other = stream.try_clone().unwrap();
    /// assert_eq!(other.local_addr().unwrap(), stream.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream(self.0.clone()))
    }

    /// Reads what is there (at least one byte, or 0 at end of file),
    /// waiting for it.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut a = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (b, _) = listener.accept().unwrap();
    /// a.write_all(b"hi").unwrap();
    /// let mut buf = [0u8; 8];
    /// let n = b.read(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], &b"hi"[..n]);
    /// ```
    #[track_caller]
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.0.read_stream(len, |mut s| s.read(buf))
    }

    /// Writes some of `buf` (at least one byte), waiting for room.
    ///
    /// ```
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let a = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.write(b"hello").unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.io(Direction::Write, |mut s| s.write(buf))
    }

    /// As [`read`](TcpStream::read), but leaves the data in the socket.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let listener = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut a = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (b, _) = listener.accept().unwrap();
    /// a.write_all(b"x").unwrap();
    /// let mut buf = [0u8; 1];
    /// assert_eq!(b.peek(&mut buf).unwrap(), 1);
    /// assert_eq!(b.read(&mut buf).unwrap(), 1); // still there
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.io(Direction::Read, |s| s.peek(buf))
    }
}

deadlines!(
    TcpStream,
    setup: "let listener = goro_net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\nlet a = goro_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();",
    read: "read(&mut [0u8; 1])",
    write: "write(b\"x\")"
);
stream_io!(TcpStream);
std_impls!(TcpStream, std::net::TcpStream);
std_impls!(TcpListener, std::net::TcpListener);
