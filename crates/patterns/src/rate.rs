//! `RateLimiter`: a token bucket, as `golang.org/x/time/rate`'s `Limiter`.
//!
//! The bucket holds a fractional number of tokens, refilled lazily from the
//! time elapsed since it was last looked at. A waiter takes its tokens at
//! once, letting the count go negative (a reservation, as x/time/rate's
//! `reserveN`), then sleeps until the refill has paid the debt: waiters are
//! served in the order they arrived and the rate holds exactly, with no
//! polling. The lock is never held across the sleep.

use std::error::Error;
use std::fmt;
use std::time::{Duration, Instant};

use goro_sync::Mutex;
use goro_sync::chan::sched::sleep;

/// A token bucket (Go's `rate.Limiter`): events happen at `per_second` on
/// average, with bursts of up to `burst`.
///
/// The bucket holds `burst` tokens and starts full; it refills at
/// `per_second` tokens a second. [`allow`](RateLimiter::allow) takes a
/// token if there is one; [`wait`](RateLimiter::wait) waits for it (parks
/// a goroutine on a scheduler timer, sleeps a thread). Share it between
/// goroutines and threads (`Arc`): methods take `&self`.
///
/// The guarantee: over any stretch of time `t` starting when the limiter is
/// made, at most `burst + per_second * t` tokens are handed out.
///
/// ```
/// use std::time::{Duration, Instant};
/// use goro_patterns::RateLimiter;
///
/// let start = Instant::now();
/// let limiter = RateLimiter::new(100.0, 5); // 100 a second, bursts of 5
/// for _ in 0..10 {
///     limiter.wait(); // the first 5 at once, then one every 10 ms
/// }
/// assert!(start.elapsed() >= Duration::from_millis(50));
/// ```
#[doc(alias = "Limiter")]
pub struct RateLimiter {
    per_second: f64,
    burst: usize,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    /// May be negative: tokens promised to waiters that are still sleeping.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl Bucket {
    /// Adds the tokens accrued since `last`, up to `burst`.
    fn refill(&mut self, now: Instant, per_second: f64, burst: usize) {
        if now > self.last {
            let accrued = now.duration_since(self.last).as_secs_f64() * per_second;
            self.tokens = (self.tokens + accrued).min(burst as f64);
            self.last = now;
        }
    }
}

impl RateLimiter {
    /// A limiter of `per_second` events a second on average, with bursts of
    /// up to `burst`; its bucket starts full. `f64::INFINITY` allows
    /// everything.
    ///
    /// ```
    /// let limiter = goro_patterns::RateLimiter::new(0.5, 2); // one every 2 s, 2 at once
    /// assert!(limiter.allow() && limiter.allow());
    /// assert!(!limiter.allow());
    /// ```
    ///
    /// # Panics
    /// If `per_second` is not above 0 (or is NaN), or so small that the time
    /// between two events does not fit a `Duration` (below about 5.4e-20:
    /// less than once in 584 billion years), or `burst` is 0: such a
    /// limiter would never let a waiter through.
    pub fn new(per_second: f64, burst: usize) -> RateLimiter {
        assert!(
            per_second > 0.0,
            "RateLimiter::new: per_second must be above 0 (got {per_second})"
        );
        assert!(
            per_second.is_infinite() || Duration::try_from_secs_f64(1.0 / per_second).is_ok(),
            "RateLimiter::new: per_second {per_second} is too small: the time between two \
             events does not fit a Duration"
        );
        assert!(
            burst > 0,
            "RateLimiter::new: burst must be at least 1 (got 0)"
        );
        RateLimiter {
            per_second,
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst as f64,
                last: goro_sched::timer::now(),
            }),
        }
    }

    /// Takes a token if one is there now; never waits (Go's `Allow`).
    ///
    /// ```
    /// let limiter = goro_patterns::RateLimiter::new(1.0, 3);
    /// let allowed = (0..10).filter(|_| limiter.allow()).count();
    /// assert_eq!(allowed, 3); // the burst, then (within a second) nothing
    /// ```
    pub fn allow(&self) -> bool {
        self.allow_n(1)
    }

    /// Takes `n` tokens if they are all there now; never waits (Go's
    /// `AllowN`). Always false for `n` above the burst.
    ///
    /// ```
    /// let limiter = goro_patterns::RateLimiter::new(1.0, 4);
    /// assert!(limiter.allow_n(3));
    /// assert!(!limiter.allow_n(2)); // one left
    /// assert!(limiter.allow_n(1));
    /// ```
    pub fn allow_n(&self, n: usize) -> bool {
        if self.per_second.is_infinite() || n == 0 {
            return true;
        }
        let mut bucket = self.bucket.lock();
        bucket.refill(goro_sched::timer::now(), self.per_second, self.burst);
        if bucket.tokens >= n as f64 {
            bucket.tokens -= n as f64;
            true
        } else {
            false
        }
    }

    /// Takes a token, waiting for it if need be (Go's `Wait`): parks a
    /// goroutine (its worker runs others meanwhile), sleeps a thread.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let start = Instant::now();
    /// let limiter = goro_patterns::RateLimiter::new(50.0, 1);
    /// for _ in 0..3 {
    ///     limiter.wait(); // now, +20 ms, +40 ms
    /// }
    /// assert!(start.elapsed() >= Duration::from_millis(40));
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        // `burst >= 1`, so one token always fits.
        let _ = self.wait_n(1);
    }

    /// Takes `n` tokens, waiting for them if need be (Go's `WaitN`).
    /// Waiters are served in the order they called.
    ///
    /// ```
    /// use goro_patterns::RateLimiter;
    ///
    /// let limiter = RateLimiter::new(1000.0, 10);
    /// limiter.wait_n(10).unwrap(); // the whole burst
    /// let err = limiter.wait_n(11).unwrap_err();
    /// assert_eq!((err.requested(), err.burst()), (11, 10));
    /// assert_eq!(err.to_string(), "RateLimiter::wait_n(11) exceeds the burst of 10");
    /// ```
    ///
    /// # Errors
    /// [`WaitError`] at once, taking nothing, if `n` exceeds the burst: the
    /// bucket can never hold that many.
    #[track_caller]
    pub fn wait_n(&self, n: usize) -> Result<(), WaitError> {
        if n > self.burst {
            return Err(WaitError {
                requested: n,
                burst: self.burst,
            });
        }
        if self.per_second.is_infinite() || n == 0 {
            return Ok(());
        }
        let debt = {
            let mut bucket = self.bucket.lock();
            bucket.refill(goro_sched::timer::now(), self.per_second, self.burst);
            bucket.tokens -= n as f64;
            -bucket.tokens
        };
        if debt > 0.0 {
            // Waiters queued far enough ahead may owe more time than a
            // `Duration` holds: they wait for good.
            sleep(Duration::try_from_secs_f64(debt / self.per_second).unwrap_or(Duration::MAX));
        }
        Ok(())
    }

    /// The refill rate, in tokens a second.
    ///
    /// ```
    /// assert_eq!(goro_patterns::RateLimiter::new(2.5, 1).per_second(), 2.5);
    /// ```
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// The bucket's size: the largest burst.
    ///
    /// ```
    /// assert_eq!(goro_patterns::RateLimiter::new(1.0, 8).burst(), 8);
    /// ```
    pub fn burst(&self) -> usize {
        self.burst
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// [`RateLimiter::wait_n`] asked for more tokens than the bucket holds.
///
/// ```
/// let err = goro_patterns::RateLimiter::new(1.0, 2).wait_n(3).unwrap_err();
/// assert_eq!(err.requested(), 3);
/// assert_eq!(err.burst(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitError {
    requested: usize,
    burst: usize,
}

impl WaitError {
    /// The tokens asked for.
    ///
    /// ```
    /// let err = goro_patterns::RateLimiter::new(1.0, 1).wait_n(5).unwrap_err();
    /// assert_eq!(err.requested(), 5);
    /// ```
    pub fn requested(&self) -> usize {
        self.requested
    }

    /// The limiter's burst.
    ///
    /// ```
    /// let err = goro_patterns::RateLimiter::new(1.0, 1).wait_n(5).unwrap_err();
    /// assert_eq!(err.burst(), 1);
    /// ```
    pub fn burst(&self) -> usize {
        self.burst
    }
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RateLimiter::wait_n({}) exceeds the burst of {}",
            self.requested, self.burst
        )
    }
}

impl Error for WaitError {}
