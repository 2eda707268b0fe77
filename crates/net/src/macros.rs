//! Methods and impls that every socket type has alike, written once:
//! deadlines and timeouts (`deadlines!`), `Read` and `Write` for a stream
//! and for a reference to it (`stream_io!`), and the descriptor traits with
//! the conversion from std's type (`std_impls!`).
//!
//! Each socket type is a tuple struct around a `Socket<S>` (or an
//! `Arc` of one); the macros reach it as `self.0`.

/// Go's deadlines and std's timeouts, for a type whose reads and writes
/// wait. The examples in the docs start with `$setup`, which makes `a` (a
/// socket of the type, whose `$read` waits for nothing that will come, and
/// whose `$write` of one byte succeeds).
macro_rules! deadlines {
    ($t:ident, setup: $setup:literal, read: $read:literal, write: $write:literal) => {
        impl $t {
            /// Sets std's read timeout: each read (or receive) fails with
            /// [`std::io::ErrorKind::TimedOut`] after waiting this long (std
            /// allows `WouldBlock` or `TimedOut`; goro's is always
            /// `TimedOut`). `None`: none; a zero duration is an error.
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = $setup]
            /// a.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            #[doc = concat!("assert_eq!(a.", $read, ".unwrap_err().kind(), std::io::ErrorKind::TimedOut);")]
            /// ```
            pub fn set_read_timeout(&self, timeout: Option<::std::time::Duration>) -> ::std::io::Result<()> {
                self.0.set_timeout(::goro_sched::poll::Direction::Read, timeout)
            }

            /// Sets std's write timeout (see
            /// [`set_read_timeout`](Self::set_read_timeout)).
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = $setup]
            /// a.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            /// assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(1)));
            /// ```
            pub fn set_write_timeout(&self, timeout: Option<::std::time::Duration>) -> ::std::io::Result<()> {
                self.0.set_timeout(::goro_sched::poll::Direction::Write, timeout)
            }

            /// The read timeout.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(a.read_timeout().unwrap(), None);
            /// ```
            pub fn read_timeout(&self) -> ::std::io::Result<Option<::std::time::Duration>> {
                Ok(self.0.timeout(::goro_sched::poll::Direction::Read))
            }

            /// The write timeout.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(a.write_timeout().unwrap(), None);
            /// ```
            pub fn write_timeout(&self) -> ::std::io::Result<Option<::std::time::Duration>> {
                Ok(self.0.timeout(::goro_sched::poll::Direction::Write))
            }

            /// Go's `SetDeadline`: sets both the read and the write deadline.
            ///
            /// ```
            /// use std::time::Instant;
            ///
            #[doc = $setup]
            /// a.set_deadline(Some(Instant::now())).unwrap(); // already past
            #[doc = concat!("assert_eq!(a.", $write, ".unwrap_err().kind(), std::io::ErrorKind::TimedOut);")]
            /// ```
            pub fn set_deadline(&self, deadline: Option<::std::time::Instant>) -> ::std::io::Result<()> {
                self.set_read_deadline(deadline)?;
                self.set_write_deadline(deadline)
            }

            /// Go's `SetReadDeadline`: an absolute time after which reads (and
            /// receives) fail with [`std::io::ErrorKind::TimedOut`] instead of
            /// waiting (`None`: never). It applies to reads already waiting,
            /// which see a change at once: a past deadline makes them return.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            ///
            #[doc = $setup]
            /// let reader = a.try_clone().unwrap();
            #[doc = concat!("let h = goro_sched::go(move || reader.", $read, ");")]
            /// goro_sched::sleep(Duration::from_millis(10));
            /// a.set_read_deadline(Some(Instant::now())).unwrap(); // wakes the reader
            /// assert_eq!(h.join().unwrap().unwrap_err().kind(), std::io::ErrorKind::TimedOut);
            /// ```
            pub fn set_read_deadline(&self, deadline: Option<::std::time::Instant>) -> ::std::io::Result<()> {
                self.0.set_deadline(::goro_sched::poll::Direction::Read, deadline);
                Ok(())
            }

            /// Go's `SetWriteDeadline` (see
            /// [`set_read_deadline`](Self::set_read_deadline)).
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            ///
            #[doc = $setup]
            /// a.set_write_deadline(Some(Instant::now() + Duration::from_secs(5))).unwrap();
            #[doc = concat!("assert_eq!(a.", $write, ".unwrap(), 1);")]
            /// ```
            pub fn set_write_deadline(&self, deadline: Option<::std::time::Instant>) -> ::std::io::Result<()> {
                self.0.set_deadline(::goro_sched::poll::Direction::Write, deadline);
                Ok(())
            }
        }
    };
}

/// `Read` and `Write` for a stream type and for a reference to it (so that
/// two goroutines can read and write one stream at once), on its inherent
/// `read` and `write`.
macro_rules! stream_io {
    ($t:ident) => {
        impl ::std::io::Read for $t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $t::read(self, buf)
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                ::std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl ::std::io::Read for &$t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $t::read(self, buf)
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                // Not `read_stream`: std hands `readv` at most 1024 of the
                // buffers, so a full read can look short.
                self.0.io(::goro_sched::poll::Direction::Read, |mut s| {
                    ::std::io::Read::read_vectored(&mut s, bufs)
                })
            }
        }

        impl ::std::io::Write for $t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                $t::write(self, buf)
            }

            #[track_caller]
            fn write_vectored(
                &mut self,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::io::Result<usize> {
                ::std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }

        impl ::std::io::Write for &$t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                $t::write(self, buf)
            }

            #[track_caller]
            fn write_vectored(
                &mut self,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::io::Result<usize> {
                self.0.io(::goro_sched::poll::Direction::Write, |mut s| {
                    ::std::io::Write::write_vectored(&mut s, bufs)
                })
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
    };
}

/// `AsFd`, `AsRawFd`, `From` std's type `$std` (on the type's
/// `from_std`), and `Debug` as std's (its name, descriptor and addresses).
macro_rules! std_impls {
    ($t:ident, $std:ty) => {
        impl ::std::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0.std, f)
            }
        }

        #[doc = concat!("# Panics\nIf the socket cannot be made non-blocking or registered (out of\nmemory or descriptors for the poller); [`", stringify!($t), "::from_std`]\nreturns the error instead.")]
        impl From<$std> for $t {
            fn from(std: $std) -> $t {
                $t::from_std(std).expect(concat!(
                    "goro-net: cannot register a std ",
                    stringify!($t)
                ))
            }
        }

        impl ::std::os::fd::AsFd for $t {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                self.0.std.as_fd()
            }
        }

        impl ::std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                self.0.std.as_raw_fd()
            }
        }
    };
}

pub(crate) use {deadlines, std_impls, stream_io};
