//! The drained-read note (`Socket::read_stream`) against the reads that
//! stop short with data still queued, and the descriptor table's grow
//! against a process near its limit: the cases a breaker found (helper-20).
//! Each read that would wait on a stale note waits for its read timeout
//! instead (`WAIT`), which the generous bound `WAIT / 2` catches. The
//! peer's `unsafe` calls act as a remote host may (urgent data, passed
//! descriptors); the readers are safe code.

use std::io::{self, IoSliceMut, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use goro_net::{TcpListener, TcpStream, UnixStream};

mod support;
use support::{rt, serial};

/// A read's timeout: a reader that waits on a stale note waits this long.
const WAIT: Duration = Duration::from_secs(20);

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Reads from `s`, which has data queued: the read must return some at
/// once, not wait for its timeout on a stale note. `case` names the read.
fn read_at_once(mut s: impl Read, case: &str) {
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    let r = s.read(&mut buf);
    let el = start.elapsed();
    assert!(
        matches!(r, Ok(n) if n > 0) && el < WAIT / 2,
        "{case}: {r:?} after {el:?} (data was queued)"
    );
}

/// std's `read_vectored` passes at most IOV_MAX (1024) buffers to readv:
/// a read that filled all 1024 is "short" against the sum of all buffers.
fn vectored_case<S>(a: S, b: S)
where
    for<'x> &'x S: Read + Write,
{
    (&a).write_all(&[7u8; 3000]).unwrap();
    goro_sched::sleep(Duration::from_millis(100));
    let mut store = vec![[0u8; 1]; 2000];
    let n = {
        let mut bufs: Vec<IoSliceMut<'_>> = store.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        (&b).read_vectored(&mut bufs).unwrap()
    };
    assert_eq!(n, 1024, "readv took IOV_MAX buffers");
    // 1976 bytes are still queued: this read must return at once.
    read_at_once(&b, "read after vectored");
}

#[test]
fn tcp_read_vectored_over_iov_max() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = pair();
        b.set_read_timeout(Some(WAIT)).unwrap();
        vectored_case(a, b);
    });
}

#[test]
fn unix_read_vectored_over_iov_max() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(WAIT)).unwrap();
        vectored_case(a, b);
    });
}

/// TCP urgent data: the kernel's recv stops short at the urgent mark, with
/// data still queued behind it.
#[test]
fn tcp_urgent_data_stops_a_read_short() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = pair();
        b.set_read_timeout(Some(WAIT)).unwrap();
        (&a).write_all(b"abc").unwrap();
        // The peer (any remote host may do this) sends one urgent byte.
        let fd = a.as_raw_fd();
        // SAFETY: `fd` is `a`'s open socket and the buffer is 1 readable byte.
        let n = unsafe { libc::send(fd, b"X".as_ptr().cast(), 1, libc::MSG_OOB) };
        assert_eq!(n, 1);
        (&a).write_all(b"def").unwrap();
        goro_sched::sleep(Duration::from_millis(100));
        let mut buf = [0u8; 100];
        let n = b.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"abc");
        read_at_once(&b, "read after urgent mark");
        drop(a);
    });
}

/// A Unix stream read stops after a message that carried descriptors
/// (SCM_RIGHTS), with data still queued behind it.
#[test]
fn unix_scm_rights_stops_a_read_short() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(WAIT)).unwrap();
        (&a).write_all(b"abc").unwrap();
        // The peer passes a descriptor with one byte.
        assert_eq!(send_with_descriptor(a.as_raw_fd(), &mut [b'd']), 1);
        (&a).write_all(b"efg").unwrap();
        goro_sched::sleep(Duration::from_millis(100));
        let mut buf = [0u8; 100];
        let n = b.read(&mut buf).unwrap();
        eprintln!("first read: {:?}", String::from_utf8_lossy(&buf[..n]));
        assert!(n < 7, "the read stopped at the descriptors");
        read_at_once(&b, "read after SCM_RIGHTS message");
        drop(a);
    });
}

/// Unix stream out-of-band byte (Linux >= 5.15): the read stops at the mark.
#[test]
fn unix_oob_stops_a_read_short() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(WAIT)).unwrap();
        (&a).write_all(b"abc").unwrap();
        // SAFETY: `a` is open and the buffer is 1 readable byte.
        let n = unsafe { libc::send(a.as_raw_fd(), b"X".as_ptr().cast(), 1, libc::MSG_OOB) };
        if n != 1 {
            eprintln!("no AF_UNIX OOB here: {}", io::Error::last_os_error());
            return;
        }
        (&a).write_all(b"def").unwrap();
        goro_sched::sleep(Duration::from_millis(100));
        let mut buf = [0u8; 100];
        let n = b.read(&mut buf).unwrap();
        eprintln!("first read: {:?}", String::from_utf8_lossy(&buf[..n]));
        read_at_once(&b, "read after unix OOB mark");
        drop(a);
    });
}

/// As `vectored_case`, but the reader is parked on the poller when the
/// data comes (so the wake-up consumed the readiness latch).
fn vectored_parked<S>(a: S, b: S)
where
    S: Send + Sync + 'static,
    for<'x> &'x S: Read + Write,
{
    let b = std::sync::Arc::new(b);
    let b2 = b.clone();
    let reader = goro_sched::go(move || {
        let mut store = vec![[0u8; 1]; 2000];
        let mut bufs: Vec<IoSliceMut<'_>> = store.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        (&*b2).read_vectored(&mut bufs).unwrap()
    });
    goro_sched::sleep(Duration::from_millis(100));
    (&a).write_all(&[7u8; 3000]).unwrap();
    let n = reader.join().unwrap();
    assert_eq!(n, 1024, "readv took IOV_MAX buffers");
    read_at_once(&*b, "read after a parked vectored read");
}

#[test]
fn tcp_read_vectored_over_iov_max_parked() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = pair();
        b.set_read_timeout(Some(WAIT)).unwrap();
        vectored_parked(a, b);
    });
}

#[test]
fn unix_read_vectored_over_iov_max_parked() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(WAIT)).unwrap();
        vectored_parked(a, b);
    });
}

fn set_cork(fd: i32, on: bool) {
    let v: libc::c_int = on.into();
    // SAFETY: `fd` is an open TCP socket and `v` a live `c_int`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&v as *const libc::c_int).cast(),
            4,
        )
    };
    assert_eq!(r, 0);
}

/// Urgent data in one segment that wakes a parked reader.
#[test]
fn tcp_urgent_data_parked() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = pair();
        b.set_read_timeout(Some(WAIT)).unwrap();
        let b = std::sync::Arc::new(b);
        let b2 = b.clone();
        let reader = goro_sched::go(move || {
            let mut buf = [0u8; 100];
            let n = b2.read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        goro_sched::sleep(Duration::from_millis(100));
        let fd = a.as_raw_fd();
        set_cork(fd, true);
        (&a).write_all(b"abc").unwrap();
        // SAFETY: `fd` is `a`'s open socket and the buffer is 1 readable byte.
        let n = unsafe { libc::send(fd, b"X".as_ptr().cast(), 1, libc::MSG_OOB) };
        assert_eq!(n, 1);
        (&a).write_all(b"def").unwrap();
        set_cork(fd, false);
        let first = reader.join().unwrap();
        assert_eq!(first, b"abc");
        read_at_once(&*b, "read after urgent mark (parked)");
        drop(a);
    });
}

fn set_soft_limit(n: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid `rlimit` for the kernel to fill.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(got, 0);
    let old = lim.rlim_cur;
    lim.rlim_cur = n;
    // SAFETY: `lim` is a valid `rlimit`, below the hard limit it came with.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(set, 0);
    old
}

/// The descriptor table's grow takes a descriptor for a moment: it must
/// never be the last one a process near its limit has free (it was
/// `limit - 1`, and 52-65 of these 300 steps failed with `EMFILE`).
#[test]
fn fd_table_thread_steals_the_last_descriptor() {
    let _s = serial();
    let rt = rt(2);
    let spurious = rt.run(|| {
        let warm = goro_net::UdpSocket::bind("127.0.0.1:0").unwrap(); // the poller's own fds
        drop(warm);
        std::thread::sleep(Duration::from_millis(50));
        let base = 5000;
        let old = set_soft_limit(base);
        let mut spurious = 0;
        let mut files = Vec::new();
        for l in base..base + 300 {
            set_soft_limit(l);
            while let Ok(f) = std::fs::File::open("/dev/null") {
                files.push(f);
            }
            // Free the two highest.
            files.pop();
            files.pop();
            let sock = match goro_net::UdpSocket::bind("127.0.0.1:0") {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("limit {l}: bind {e}");
                    spurious += 1;
                    continue;
                }
            }; // l-2
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(2) {
                match std::fs::File::open("/dev/null") {
                    Ok(f) => drop(f),
                    Err(e) => {
                        spurious += 1;
                        eprintln!("limit {l}: spurious {e}");
                        break;
                    }
                }
            }
            drop(sock);
        }
        set_soft_limit(old);
        spurious
    });
    assert_eq!(spurious, 0, "opens failed although a descriptor was free");
}

/// Descriptor-passing message in one big sendmsg (first skb carries the
/// fd), the reader parked.
#[test]
fn unix_scm_rights_parked() {
    let _s = serial();
    let rt = rt(2);
    let mut slow = 0;
    for _ in 0..20 {
        slow += rt.run(|| {
            let (a, b) = UnixStream::pair().unwrap();
            b.set_read_timeout(Some(WAIT)).unwrap();
            let b = std::sync::Arc::new(b);
            let b2 = b.clone();
            let reader = goro_sched::go(move || {
                let mut buf = vec![0u8; 1 << 20];
                b2.read(&mut buf).unwrap()
            });
            goro_sched::sleep(Duration::from_millis(20));
            let mut data = vec![1u8; 100_000];
            assert!(send_with_descriptor(a.as_raw_fd(), &mut data) > 0);
            let n = reader.join().unwrap();
            let start = Instant::now();
            let mut buf = vec![0u8; 1 << 20];
            let r = b.read(&mut buf);
            let el = start.elapsed();
            eprintln!("first {n}, then {r:?} after {el:?}");
            drop(a);
            usize::from(el > WAIT / 2)
        });
    }
    assert_eq!(slow, 0, "reads waited for their timeout with data queued");
}

/// shutdown(Read) on the reader's own side after a drain note.
#[test]
fn own_shutdown_read_after_a_drain() {
    let _s = serial();
    rt(2).run(|| {
        let (a, b) = pair();
        b.set_read_timeout(Some(WAIT)).unwrap();
        let b = std::sync::Arc::new(b);
        (&a).write_all(b"xy").unwrap();
        let mut buf = [0u8; 10];
        let mut got = 0;
        while got < 2 {
            got += b.read(&mut buf).unwrap();
        }
        let b2 = b.clone();
        let reader = goro_sched::go(move || {
            let start = Instant::now();
            let mut buf = [0u8; 10];
            let r = b2.read(&mut buf);
            (r.map_err(|e| e.kind()), start.elapsed())
        });
        goro_sched::sleep(Duration::from_millis(50));
        b.shutdown(std::net::Shutdown::Read).unwrap();
        let (r, el) = reader.join().unwrap();
        assert!(el < WAIT / 2, "{r:?} after {el:?}");
        drop(a);
    });
}

/// The peer's `sendmsg(2)` of `data` on `sock`, with `sock` itself passed
/// along as a descriptor (`SCM_RIGHTS`), as a remote process may.
fn send_with_descriptor(sock: libc::c_int, data: &mut [u8]) -> isize {
    const FD: usize = std::mem::size_of::<libc::c_int>();
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: a computation on a length.
    let space = unsafe { libc::CMSG_SPACE(FD as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    // SAFETY: an all-zero `msghdr` is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg`'s control buffer is `space` bytes: room for one header.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(!cmsg.is_null());
    let header = libc::cmsghdr {
        // SAFETY: a computation on a length.
        cmsg_len: unsafe { libc::CMSG_LEN(FD as u32) } as _,
        cmsg_level: libc::SOL_SOCKET,
        cmsg_type: libc::SCM_RIGHTS,
    };
    // SAFETY: `cmsg` points at the start of `cbuf`, which has room for it.
    unsafe { cmsg.write_unaligned(header) };
    // SAFETY: `cmsg` is the header just written, within `cbuf`.
    let payload = unsafe { libc::CMSG_DATA(cmsg) };
    // SAFETY: `CMSG_SPACE(FD)` left room for one descriptor after the header.
    unsafe { payload.cast::<libc::c_int>().write_unaligned(sock) };
    // SAFETY: `msg` points at live locals (`iov` over `data`, `cbuf`), and
    // `sock` is open.
    unsafe { libc::sendmsg(sock, &msg, 0) }
}
