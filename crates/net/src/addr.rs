//! Addresses: the `ToSocketAddrs` trait (std's, resolved off the workers)
//! and the conversions to the kernel's `sockaddr`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What can be resolved to socket addresses: the same types as
/// [`std::net::ToSocketAddrs`]. Addresses given as numbers resolve at once;
/// host names are looked up (`getaddrinfo`) on the runtime's blocking pool
/// when called from a goroutine ([`goro_sched::blocking`]), so that the
/// lookup does not hold the worker, and on the calling thread otherwise.
///
/// Its own trait, sealed, rather than std's (as tokio's): a lookup must
/// know whether it can block before it runs.
///
/// ```
/// use goro_net::ToSocketAddrs;
///
/// let addrs = goro_sched::run(|| "127.0.0.1:8080".to_socket_addrs().unwrap());
/// assert_eq!(addrs, vec!["127.0.0.1:8080".parse().unwrap()]);
/// ```
pub trait ToSocketAddrs: sealed::Sealed {
    /// The addresses, in the order the resolver gives them.
    ///
    /// ```
    /// use goro_net::ToSocketAddrs;
    ///
    /// let addrs = ("localhost", 80).to_socket_addrs().unwrap();
    /// assert!(addrs.iter().all(|a| a.port() == 80));
    /// ```
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>>;
}

mod sealed {
    pub trait Sealed {}
}

/// Looks up a host name off the workers.
fn lookup<A>(addr: A) -> io::Result<Vec<SocketAddr>>
where
    A: std::net::ToSocketAddrs + Send,
{
    goro_sched::blocking(move || addr.to_socket_addrs().map(Iterator::collect))
}

macro_rules! at_once {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl ToSocketAddrs for $t {
            fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
                std::net::ToSocketAddrs::to_socket_addrs(self).map(Iterator::collect)
            }
        }
    )*};
}

at_once!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl sealed::Sealed for [SocketAddr] {}
impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        lookup(self.to_owned())
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.as_str().to_socket_addrs()
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        lookup((host.to_owned(), port))
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (self.0.as_str(), self.1).to_socket_addrs()
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (**self).to_socket_addrs()
    }
}

/// Runs `f` on each address in turn until one succeeds; the last error
/// otherwise (as std does).
pub(crate) fn each_addr<A, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T>
where
    A: ToSocketAddrs,
{
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(&a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// A `sockaddr` for `addr`, with its length.
pub(crate) fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all zeroes is a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is larger than and aligned for every
            // `sockaddr_*`.
            unsafe {
                std::ptr::from_mut(&mut storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above.
            unsafe {
                std::ptr::from_mut(&mut storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A `sockaddr_un` for a Unix socket address (a path, or a name in Linux's
/// abstract namespace), in a `sockaddr_storage`, with its length.
pub(crate) fn to_sockaddr_un(
    addr: &std::os::unix::net::SocketAddr,
) -> io::Result<(libc::sockaddr_storage, libc::socklen_t)> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;

    // A path ends with a NUL; an abstract name starts with one.
    let (bytes, start, end) = match (addr.as_pathname(), addr.as_abstract_name()) {
        (Some(path), _) => (path.as_os_str().as_bytes(), 0, 1),
        (None, Some(name)) => (name, 1, 0),
        (None, None) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an unnamed Unix socket address cannot be connected to",
            ));
        }
    };
    let mut sun = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    if start + bytes.len() + end > sun.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Unix socket path too long",
        ));
    }
    for (to, &from) in sun.sun_path[start..].iter_mut().zip(bytes) {
        *to = from as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + start + bytes.len() + end;
    // SAFETY: all zeroes is a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: `sockaddr_storage` is larger than and aligned for every
    // `sockaddr_*`, `sockaddr_un` included.
    unsafe {
        std::ptr::from_mut(&mut storage)
            .cast::<libc::sockaddr_un>()
            .write(sun)
    };
    Ok((storage, len as libc::socklen_t))
}
