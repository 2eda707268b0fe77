//! `accept` at the descriptor limit (`EMFILE`) returns the error, and the
//! pending connection stays queued for the next `accept` once descriptors
//! are free again. Its own test binary: the limit is the process's.

use std::time::Duration;

use goro_net::TcpListener;

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

fn set_soft_limit(n: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid `rlimit` for the kernel to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let old = lim.rlim_cur;
    lim.rlim_cur = n;
    // SAFETY: `lim` is a valid `rlimit`.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    old
}

#[test]
fn accept_at_the_descriptor_limit_returns_the_error() {
    let rt = goro_sched::Runtime::builder().workers(1).build().unwrap();
    rt.run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Clients from std (blocking connects complete into the backlog).
        let clients: Vec<_> = (0..8)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut accepted = Vec::new();
        // Room for a descriptor or two more.
        let old = set_soft_limit(open_fds() + 1);
        let err = loop {
            match listener.accept() {
                Ok(conn) => accepted.push(conn),
                Err(e) => break e,
            }
            assert!(accepted.len() < clients.len(), "never hit the limit");
        };
        set_soft_limit(old);
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        // What a server loop does: sleep, then accept the ones still queued.
        goro_sched::sleep(Duration::from_millis(5));
        while accepted.len() < clients.len() {
            accepted.push(listener.accept().unwrap());
        }
        assert_eq!(accepted.len(), clients.len());
    });
}
