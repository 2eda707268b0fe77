//! `RwLock<T>`: many readers or one writer; waiting writers stop new readers.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use goro_sched::park::Wait;
use goro_sched::spin::SpinLock;

use crate::waiter::{Chain, List, Waiter};

/// `Waiter::data` of a reader and of a writer.
const READER: usize = 0;
const WRITER: usize = 1;
/// The grant: the waiter holds the lock (as it asked) on waking.
const GRANTED: usize = 1;

/// A reader-writer lock that parks waiting goroutines and blocks waiting
/// threads, with Go's `sync.RWMutex` policy: any number of readers at once,
/// or one writer; a writer that waits stops new readers (so writers are not
/// starved), and the readers that queued behind a writer all get in when it
/// unlocks (so readers are not starved either). No poisoning.
///
/// ```
/// use goro_sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read();
///     let r2 = lock.read(); // many readers at once
///     assert_eq!(*r1 + *r2, 10);
///     assert!(lock.try_write().is_none());
/// }
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    state: SpinLock<State>,
    data: UnsafeCell<T>,
}

struct State {
    /// Readers holding the lock.
    readers: usize,
    /// Whether a writer holds it.
    writer: bool,
    /// Writers in the list.
    writers_waiting: usize,
    list: List,
}

// SAFETY: readers share `&T` across threads (`T: Sync`), a writer gets
// `&mut T` on any thread (`T: Send`), as for `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]'s value; releases it on drop.
///
/// ```
/// use goro_sync::{RwLock, RwLockReadGuard};
///
/// let lock = RwLock::new(String::from("shared"));
/// let guard: RwLockReadGuard<'_, String> = lock.read();
/// assert_eq!(guard.len(), 6); // derefs to the value
/// drop(guard); // released
/// assert!(lock.try_write().is_some());
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<*const ()>,
}

/// Exclusive access to an [`RwLock`]'s value; releases it on drop.
///
/// ```
/// use goro_sync::{RwLock, RwLockWriteGuard};
///
/// let lock = RwLock::new(0);
/// let mut guard: RwLockWriteGuard<'_, i32> = lock.write();
/// *guard += 1;
/// drop(guard); // released
/// assert_eq!(*lock.read(), 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<*const ()>,
}

// SAFETY: a read guard gives `&T`: it may move to and be shared with another
// thread if `T: Sync`; the lock has no owner thread.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: a write guard moves `&mut T` (`T: Send`) and shares `&T` (`T: Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    ///
    /// ```
    /// use goro_sync::RwLock;
    ///
    /// static TABLE: RwLock<Vec<u32>> = RwLock::new(Vec::new()); // `const`: fits a static
    /// TABLE.write().push(1);
    /// assert_eq!(TABLE.read().len(), 1);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: SpinLock::new(State {
                readers: 0,
                writer: false,
                writers_waiting: 0,
                list: List::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the lock.
    ///
    /// ```
    /// let lock = goro_sync::RwLock::new(1);
    /// *lock.write() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds the lock or waits for
    /// it.
    ///
    /// ```
    /// let lock = goro_sync::RwLock::new(5);
    /// let r1 = lock.read();
    /// let r2 = lock.read(); // readers share the lock
    /// assert_eq!(*r1 + *r2, 10);
    /// ```
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let mut state = self.state.lock();
        if !state.writer && state.writers_waiting == 0 {
            state.readers += 1;
        } else {
            let waiter = Waiter::new(READER);
            // SAFETY: it waits below, after the lock is released.
            unsafe { state.list.push_back(&waiter) };
            drop(state);
            // The granter counted us as a reader.
            waiter.wait(
                Wait::RwLockRead,
                &self.state,
                |s| &mut s.list,
                None,
                |_| {},
                |_| self.read_unlock(),
            );
        }
        RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for writing, waiting while readers or another writer hold it.
    ///
    /// ```
    /// let lock = goro_sync::RwLock::new(vec![1]);
    /// lock.write().push(2); // alone: no reader or writer meanwhile
    /// assert_eq!(*lock.read(), [1, 2]);
    /// ```
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let mut state = self.state.lock();
        if !state.writer && state.readers == 0 {
            state.writer = true;
        } else {
            let waiter = Waiter::new(WRITER);
            state.writers_waiting += 1;
            // SAFETY: it waits below, after the lock is released.
            unsafe { state.list.push_back(&waiter) };
            drop(state);
            // The granter made us the writer.
            waiter.wait(
                Wait::RwLockWrite,
                &self.state,
                |s| &mut s.list,
                None,
                |s| {
                    s.writers_waiting -= 1;
                    // Readers held back for us may enter: granted with the
                    // lock held (a rare path).
                    s.dispatch(false).grant_all(GRANTED);
                },
                |_| self.write_unlock(),
            );
        }
        RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for reading if that needs no wait: fails while a writer holds
    /// the lock or waits for it.
    ///
    /// ```
    /// let lock = goro_sync::RwLock::new(1);
    /// let w = lock.write();
    /// assert!(lock.try_read().is_none()); // a writer holds it
    /// drop(w);
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut state = self.state.lock();
        if state.writer || state.writers_waiting != 0 {
            return None;
        }
        state.readers += 1;
        Some(RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// Locks for writing if nobody holds the lock.
    ///
    /// ```
    /// let lock = goro_sync::RwLock::new(1);
    /// let r = lock.read();
    /// assert!(lock.try_write().is_none()); // a reader holds it
    /// drop(r);
    /// *lock.try_write().unwrap() = 2;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let mut state = self.state.lock();
        if state.writer || state.readers != 0 {
            return None;
        }
        state.writer = true;
        Some(RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// The value, through a unique borrow (no locking needed).
    ///
    /// ```
    /// let mut lock = goro_sync::RwLock::new(1);
    /// *lock.get_mut() = 3; // `&mut` proves nobody else holds it
    /// assert_eq!(*lock.read(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn read_unlock(&self) {
        let mut state = self.state.lock();
        state.readers -= 1;
        let next = state.dispatch(false);
        drop(state);
        next.grant_all(GRANTED);
    }

    fn write_unlock(&self) {
        let mut state = self.state.lock();
        state.writer = false;
        let next = state.dispatch(true);
        drop(state);
        next.grant_all(GRANTED);
    }
}

impl State {
    /// Lets in whoever may enter now, counted as holders; the caller grants
    /// them once the lock is released. After a writer, every reader that
    /// queued behind it gets in (the writers behind them then wait for these
    /// readers, and stop new ones); else the first in line: a writer, or
    /// the readers (only after a waiting writer unwound away).
    fn dispatch(&mut self, after_writer: bool) -> Chain {
        if self.writer {
            return Chain::default();
        }
        let head_is_reader = self.list.front().is_some_and(|w| w.data == READER);
        let readers_may_enter = match self.readers {
            0 => after_writer || head_is_reader,
            _ => self.writers_waiting == 0,
        };
        if readers_may_enter {
            let readers = self.list.drain_where(|kind| kind == READER);
            if !readers.is_empty() {
                self.readers += readers.len();
                return readers;
            }
        }
        if self.readers == 0 && !self.list.is_empty() {
            let mut first = true;
            let writer = self.list.drain_where(|_| std::mem::take(&mut first));
            self.writer = true;
            self.writers_waiting -= 1;
            return writer;
        }
        Chain::default()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock: no writer.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock: nobody else.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock: nobody else.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
