//! Unix domain sockets: `UnixListener`, `UnixStream` and `UnixDatagram`,
//! std's shapes (`std::os::unix::net`) plus Go's deadlines.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use goro_sched::poll::Direction;

use crate::Incoming;
use crate::addr::to_sockaddr_un;
use crate::macros::{deadlines, std_impls, stream_io};
use crate::sys::{self, Socket};

/// A Unix domain socket server, listening for connections: std's
/// [`std::os::unix::net::UnixListener`], whose `accept` parks a goroutine
/// (and blocks a plain thread) until a connection comes.
///
/// The socket's file stays when the listener is dropped (as in std): remove
/// it before binding the path again.
///
/// ```
/// use goro_net::{UnixListener, UnixStream};
/// use std::io::{Read, Write};
///
/// let path = std::env::temp_dir().join(format!("goro-doc-listener-{}.sock", std::process::id()));
/// let p = path.clone();
/// goro_sched::run(move || {
///     let listener = UnixListener::bind(&p).unwrap();
///     goro_sched::go(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = [0u8; 5];
///         conn.read_exact(&mut buf).unwrap();
///         conn.write_all(&buf).unwrap(); // echo
///     });
///     let mut client = UnixStream::connect(&p).unwrap();
///     client.write_all(b"hello").unwrap();
///     let mut buf = [0u8; 5];
///     client.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener(Socket<std::os::unix::net::UnixListener>);

/// A Unix domain stream: std's [`std::os::unix::net::UnixStream`], whose
/// reads and writes park a goroutine (and block a plain thread) until the
/// socket is ready, with Go's deadlines besides std's timeouts.
///
/// Handles made by [`try_clone`](UnixStream::try_clone) share the socket,
/// as [`TcpStream`](crate::TcpStream)'s do.
///
/// ```
/// use goro_net::UnixStream;
/// use std::io::{Read, Write};
///
/// let (mut a, b) = UnixStream::pair().unwrap();
/// let h = goro_sched::go(move || {
///     let mut s = String::new();
///     (&b).read_to_string(&mut s).unwrap(); // until `a` shuts down
///     s
/// });
/// a.write_all(b"bye").unwrap();
/// a.shutdown(std::net::Shutdown::Write).unwrap();
/// assert_eq!(h.join().unwrap(), "bye");
/// ```
pub struct UnixStream(Arc<Socket<std::os::unix::net::UnixStream>>);

/// A Unix domain datagram socket: std's
/// [`std::os::unix::net::UnixDatagram`], whose receives (and sends, when
/// the peer's queue is full) park a goroutine and block a plain thread,
/// with Go's deadlines besides std's timeouts.
///
/// Unlike UDP, Unix datagrams are not lost: a send to a peer whose queue is
/// full waits for room. The kernel reports that room to a socket connected
/// to the peer; a [`send_to`](UnixDatagram::send_to) an address looks again
/// every few milliseconds (at most 20) while it waits.
///
/// ```
/// use goro_net::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair().unwrap();
/// let h = goro_sched::go(move || {
///     let mut buf = [0u8; 16];
///     let n = b.recv(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send(b"ping").unwrap();
/// assert_eq!(h.join().unwrap(), b"ping");
/// ```
pub struct UnixDatagram(Arc<Socket<std::os::unix::net::UnixDatagram>>);

impl Iterator for Incoming<'_, UnixListener> {
    type Item = io::Result<UnixStream>;

    #[track_caller]
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-bind-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Binds to `addr` (a path, or a name in Linux's abstract namespace,
    /// which leaves no file) and listens.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("goro-doc-listener-bind_addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let listener = goro_net::UnixListener::bind_addr(&addr).unwrap();
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let std = std::os::unix::net::UnixListener::bind_addr(addr)?;
        sys::listen(std.as_fd())?;
        UnixListener::from_std(std)
    }

    /// Wraps a std listener: makes it non-blocking and registers it.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-from_std-{}.sock", std::process::id()));
    /// let std = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// let listener = goro_net::UnixListener::from_std(std).unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener(Socket::from_std(listener)?))
    }

    /// Takes the listener out of the poller and gives std's back, in
    /// blocking mode.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-into_std-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// let std: std::os::unix::net::UnixListener = listener.into_std().unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.0.into_std()
    }

    /// Waits for a connection (parks a goroutine, blocks a thread); returns
    /// it with the peer's address (usually unnamed).
    ///
    /// ```
    /// use goro_net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-accept-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path).unwrap();
    /// let p = path.clone();
    /// let client = goro_sched::go(move || UnixStream::connect(p).unwrap());
    /// let (conn, peer) = listener.accept().unwrap();
    /// assert!(peer.is_unnamed());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (std, addr) = self.0.io(Direction::Read, |l| l.accept())?;
        Ok((UnixStream::from_std(std)?, addr))
    }

    /// The connections, one `accept` each.
    ///
    /// ```
    /// use goro_net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-incoming-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path).unwrap();
    /// let p = path.clone();
    /// goro_sched::go(move || UnixStream::connect(p).unwrap());
    /// let conn = listener.incoming().next().unwrap().unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_, UnixListener> {
        Incoming { listener: self }
    }

    /// The address it listens on.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-local_addr-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.local_addr()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-take_error-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// assert!(listener.take_error().unwrap().is_none());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.std.take_error()
    }

    /// Sets a deadline for `accept` (`None`: none), as
    /// [`TcpListener::set_deadline`](crate::TcpListener::set_deadline).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-set_deadline-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// listener.set_deadline(Some(Instant::now() + Duration::from_millis(10))).unwrap();
    /// let err = listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.0.set_deadline(Direction::Read, deadline);
        Ok(())
    }
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// A listener whose backlog is full makes a non-blocking connect fail
    /// with `EAGAIN`, and nothing tells when there is room: the connect
    /// then tries again every few milliseconds (at most 20) until the
    /// listener accepts (std's blocking connect waits in the kernel; Go's
    /// returns the error).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-stream-connect-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// let stream = goro_net::UnixStream::connect(&path).unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&SocketAddr::from_pathname(path)?)
    }

    /// Connects to `addr` (a path, or a name in Linux's abstract
    /// namespace).
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("goro-doc-stream-connect_addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let listener = goro_net::UnixListener::bind_addr(&addr).unwrap();
    /// let stream = goro_net::UnixStream::connect_addr(&addr).unwrap();
    /// ```
    #[track_caller]
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let (storage, len) = to_sockaddr_un(addr)?;
        let stream = UnixStream(Arc::new(Socket::open(libc::AF_UNIX, libc::SOCK_STREAM)?));
        // `EAGAIN` (a full backlog) is `WouldBlock`: waited out and tried
        // again. So is `ETIMEDOUT`, which Linux also answers a non-blocking
        // connect to a full backlog now and then (seen: one client in 50
        // failed with it). A retry after an interrupted call may find it
        // connected.
        stream.0.io_polled(Direction::Write, |s| {
            match sys::connect(s.as_fd(), &storage, len) {
                Err(e) if e.raw_os_error() == Some(libc::EISCONN) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                done => done,
            }
        })?;
        Ok(stream)
    }

    /// A connected pair of streams (`socketpair`).
    ///
    /// ```
    /// let (a, b) = goro_net::UnixStream::pair().unwrap();
    /// a.write(b"x").unwrap();
    /// assert_eq!(b.read(&mut [0u8; 1]).unwrap(), 1);
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a std stream: makes it non-blocking and registers it.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let stream = goro_net::UnixStream::from_std(a).unwrap();
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream(Arc::new(Socket::from_std(stream)?)))
    }

    /// Gives std's stream back, in blocking mode, taken out of the poller
    /// (a duplicate descriptor while clones share it, as
    /// [`TcpStream::into_std`](crate::TcpStream::into_std)).
    ///
    /// ```
    /// let (a, _b) = goro_net::UnixStream::pair().unwrap();
    /// let std: std::os::unix::net::UnixStream = a.into_std().unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Socket::shared_into_std(self.0)
    }

    /// This end's address (usually unnamed for a client).
    ///
    /// ```
    /// let (a, _b) = goro_net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.local_addr()
    }

    /// The remote end's address.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-stream-peer_addr-{}.sock", std::process::id()));
    /// let listener = goro_net::UnixListener::bind(&path).unwrap();
    /// let stream = goro_net::UnixStream::connect(&path).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.peer_addr()
    }

    /// Shuts down the reading half, the writing half or both. A goroutine
    /// blocked on the socket wakes: a read returns 0 (end of file), a write
    /// an error.
    ///
    /// ```
    /// use std::net::Shutdown;
    ///
    /// let (a, _b) = goro_net::UnixStream::pair().unwrap();
    /// let reader = a.try_clone().unwrap();
    /// let h = goro_sched::go(move || reader.read(&mut [0u8; 8]).unwrap());
    /// a.shutdown(Shutdown::Read).unwrap();
    /// assert_eq!(h.join().unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let (a, _b) = goro_net::UnixStream::pair().unwrap();
    /// assert!(a.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.std.take_error()
    }

    /// Another handle to the same socket (shared, not a duplicate
    /// descriptor). Never fails; `io::Result` for std's shape.
    ///
    /// ```
    /// let (a, b) = goro_net::UnixStream::pair().unwrap();
    /// let other = a.try_clone().unwrap();
    /// other.write(b"x").unwrap();
    /// assert_eq!(b.read(&mut [0u8; 4]).unwrap(), 1);
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream(self.0.clone()))
    }

    /// Reads what is there (at least one byte, or 0 at end of file),
    /// waiting for it.
    ///
    /// ```
    /// let (a, b) = goro_net::UnixStream::pair().unwrap();
    /// a.write(b"hi").unwrap();
    /// let mut buf = [0u8; 8];
    /// let n = b.read(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], &b"hi"[..n]);
    /// ```
    #[track_caller]
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // Not `read_stream`: a Unix stream read also stops short after a
        // message that carried descriptors, with data still queued and no
        // sign of it on the poller.
        self.0.io(Direction::Read, |mut s| s.read(buf))
    }

    /// Writes some of `buf` (at least one byte), waiting for room.
    ///
    /// ```
    /// let (a, _b) = goro_net::UnixStream::pair().unwrap();
    /// assert_eq!(a.write(b"hello").unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.io(Direction::Write, |mut s| s.write(buf))
    }
}

impl UnixDatagram {
    /// A socket bound to `path` (which must not exist).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-datagram-bind-{}.sock", std::process::id()));
    /// let socket = goro_net::UnixDatagram::bind(&path).unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to `addr` (a path, or a name in Linux's abstract
    /// namespace).
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("goro-doc-datagram-bind_addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let socket = goro_net::UnixDatagram::bind_addr(&addr).unwrap();
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind_addr(addr)?)
    }

    /// A socket bound to no address: it can send, and receive replies to
    /// what it sent from a connected socket.
    ///
    /// ```
    /// let socket = goro_net::UnixDatagram::unbound().unwrap();
    /// assert!(socket.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets (`socketpair`).
    ///
    /// ```
    /// let (a, b) = goro_net::UnixDatagram::pair().unwrap();
    /// a.send(b"x").unwrap();
    /// assert_eq!(b.recv(&mut [0u8; 4]).unwrap(), 1);
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a std socket: makes it non-blocking and registers it.
    ///
    /// ```
    /// let std = std::os::unix::net::UnixDatagram::unbound().unwrap();
    /// let socket = goro_net::UnixDatagram::from_std(std).unwrap();
    /// ```
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram(Arc::new(Socket::from_std(socket)?)))
    }

    /// Gives std's socket back, in blocking mode, taken out of the poller
    /// (a duplicate descriptor while clones share it, as
    /// [`TcpStream::into_std`](crate::TcpStream::into_std)).
    ///
    /// ```
    /// let socket = goro_net::UnixDatagram::unbound().unwrap();
    /// let std: std::os::unix::net::UnixDatagram = socket.into_std().unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Socket::shared_into_std(self.0)
    }

    /// Sets the peer to the socket at `path`: `send` goes there, and only
    /// datagrams from there are received.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-datagram-connect-{}.sock", std::process::id()));
    /// let server = goro_net::UnixDatagram::bind(&path).unwrap();
    /// let client = goro_net::UnixDatagram::unbound().unwrap();
    /// client.connect(&path).unwrap();
    /// client.send(b"hi").unwrap();
    /// assert_eq!(server.recv(&mut [0u8; 8]).unwrap(), 2);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.0.std.connect(path)
    }

    /// Sets the peer to `addr` (a path, or a name in Linux's abstract
    /// namespace).
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("goro-doc-datagram-connect_addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let server = goro_net::UnixDatagram::bind_addr(&addr).unwrap();
    /// let client = goro_net::UnixDatagram::unbound().unwrap();
    /// client.connect_addr(&addr).unwrap();
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.0.std.connect_addr(addr)
    }

    /// Sends `buf` as one datagram to the peer, waiting while its queue
    /// is full.
    ///
    /// ```
    /// let (a, _b) = goro_net::UnixDatagram::pair().unwrap();
    /// assert_eq!(a.send(b"hi").unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.io(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram, waiting for it; returns its length (what did
    /// not fit in `buf` is lost).
    ///
    /// ```
    /// let (a, b) = goro_net::UnixDatagram::pair().unwrap();
    /// a.send(b"hi").unwrap();
    /// assert_eq!(b.recv(&mut [0u8; 8]).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// Sends `buf` as one datagram to the socket at `path`, waiting while
    /// its queue is full (see the type's docs).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-datagram-send_to-{}.sock", std::process::id()));
    /// let server = goro_net::UnixDatagram::bind(&path).unwrap();
    /// let client = goro_net::UnixDatagram::unbound().unwrap();
    /// assert_eq!(client.send_to(b"hi", &path).unwrap(), 2);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        self.send_to_addr(buf, &SocketAddr::from_pathname(path)?)
    }

    /// Sends `buf` as one datagram to `addr` (a path, or a name in Linux's
    /// abstract namespace), waiting while its queue is full.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let name = format!("goro-doc-datagram-send_to_addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let server = goro_net::UnixDatagram::bind_addr(&addr).unwrap();
    /// let client = goro_net::UnixDatagram::unbound().unwrap();
    /// assert_eq!(client.send_to_addr(b"hi", &addr).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        // The kernel reports room in the peer's queue only to a socket
        // connected to it: `io_polled` looks again now and then.
        self.0
            .io_polled(Direction::Write, |s| s.send_to_addr(buf, addr))
    }

    /// Receives one datagram, waiting for it; returns its length and the
    /// sender's address (unnamed if the sender is not bound).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("goro-doc-datagram-recv_from-{}.sock", std::process::id()));
    /// let server = goro_net::UnixDatagram::bind(&path).unwrap();
    /// let client = goro_net::UnixDatagram::unbound().unwrap();
    /// client.send_to(b"hi", &path).unwrap();
    /// let (n, from) = server.recv_from(&mut [0u8; 8]).unwrap();
    /// assert_eq!(n, 2);
    /// assert!(from.is_unnamed());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.io(Direction::Read, |s| match s.recv_from(buf) {
            // Shut: what std's blocking receive returns (0, from nobody).
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.0.read_shut() => {
                Ok((0, SocketAddr::from_pathname("")?))
            }
            done => done,
        })
    }

    /// This end's address.
    ///
    /// ```
    /// let (a, _b) = goro_net::UnixDatagram::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.local_addr()
    }

    /// The peer's address (an error if not connected).
    ///
    /// ```
    /// let socket = goro_net::UnixDatagram::unbound().unwrap();
    /// assert!(socket.peer_addr().is_err());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.std.peer_addr()
    }

    /// Shuts down the reading half, the writing half or both. A goroutine
    /// blocked in `recv` wakes with 0 (once the queued datagrams are
    /// taken), one blocked in `send` with an error.
    ///
    /// ```
    /// use std::net::Shutdown;
    ///
    /// let (a, _b) = goro_net::UnixDatagram::pair().unwrap();
    /// let reader = a.try_clone().unwrap();
    /// let h = goro_sched::go(move || reader.recv(&mut [0u8; 8]).unwrap());
    /// a.shutdown(Shutdown::Read).unwrap();
    /// assert_eq!(h.join().unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.shutdown(how)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let socket = goro_net::UnixDatagram::unbound().unwrap();
    /// assert!(socket.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.std.take_error()
    }

    /// Another handle to the same socket (shared, not a duplicate
    /// descriptor). Never fails; `io::Result` for std's shape.
    ///
    /// ```
    /// let (a, b) = goro_net::UnixDatagram::pair().unwrap();
    /// let other = a.try_clone().unwrap();
    /// other.send(b"x").unwrap();
    /// assert_eq!(b.recv(&mut [0u8; 4]).unwrap(), 1);
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram(self.0.clone()))
    }
}

deadlines!(
    UnixStream,
    setup: "let (a, _b) = goro_net::UnixStream::pair().unwrap();",
    read: "read(&mut [0u8; 1])",
    write: "write(b\"x\")"
);
deadlines!(
    UnixDatagram,
    setup: "let (a, _b) = goro_net::UnixDatagram::pair().unwrap();",
    read: "recv(&mut [0u8; 1])",
    write: "send(b\"x\")"
);
stream_io!(UnixStream);
std_impls!(UnixListener, std::os::unix::net::UnixListener);
std_impls!(UnixStream, std::os::unix::net::UnixStream);
std_impls!(UnixDatagram, std::os::unix::net::UnixDatagram);
