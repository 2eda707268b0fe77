//! Goroutine-local storage: `local!` statics whose value is per goroutine,
//! wherever the goroutine runs (a `thread_local!` would change under a
//! goroutine that moves to another worker).

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::worker;

/// A goroutine-local value, declared with [`local!`](crate::local!).
///
/// Each goroutine sees its own value, created by the initialiser on its first
/// access and dropped when the goroutine ends. Outside goroutines, each thread
/// has its own, like a `thread_local!`.
///
/// ```
/// use std::cell::RefCell;
///
/// goro_sched::local! {
///     static LOG: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
/// }
///
/// let h = goro_sched::go(|| {
///     LOG.with(|log| log.borrow_mut().push("mine"));
///     LOG.with(|log| log.borrow().len())
/// });
/// assert_eq!(h.join().unwrap(), 1);
/// LOG.with(|log| assert!(log.borrow().is_empty())); // this thread's own value
/// ```
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    index: OnceLock<usize>,
}

thread_local! {
    static THREAD_LOCALS: RefCell<Vec<Option<Box<dyn Any>>>> = const { RefCell::new(Vec::new()) };
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            index: OnceLock::new(),
        }
    }

    fn index(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        *self
            .index
            .get_or_init(|| NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Runs `f` with a reference to this goroutine's value (this thread's,
    /// outside goroutines).
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// goro_sched::local! {
    ///     static DEPTH: Cell<u32> = Cell::new(0);
    /// }
    ///
    /// DEPTH.with(|d| d.set(d.get() + 1));
    /// assert_eq!(DEPTH.with(Cell::get), 1);
    /// // A new goroutine starts from the initialiser.
    /// assert_eq!(goro_sched::go(|| DEPTH.with(Cell::get)).join().unwrap(), 0);
    /// ```
    ///
    /// # Panics
    /// If called inside a goroutine from a `goro_fiber::Coroutine` that the
    /// goroutine runs: the coroutine could outlive the goroutine, and a
    /// borrow of the value held across its suspend with it.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let index = self.index();
        match worker::current_task() {
            Some(task) => {
                // A coroutine that the goroutine resumed may outlive it (say,
                // returned from it), and with it a borrow held across a
                // suspend: only the goroutine's own frames may borrow.
                assert!(
                    task.on_own_stack(),
                    "goro::local! value used from a goro_fiber::Coroutine running inside \
                     a goroutine: a borrow held across its suspend could outlive the goroutine; \
                     use it from the goroutine's own code and pass the value in"
                );
                let value = self.get_or_init(task.locals.get(), index);
                // SAFETY: the value is boxed, so it does not move when the
                // vector grows, and it is dropped only when the goroutine ends
                // (`ClearLocals`), which cannot happen while it runs `f`.
                f(unsafe { &*value })
            }
            None => THREAD_LOCALS.with(|locals| {
                let value = self.get_or_init(locals, index);
                // SAFETY: as above; a thread's values are dropped at its exit.
                f(unsafe { &*value })
            }),
        }
    }

    /// The value's address in `locals`, created first if need be. The
    /// initialiser runs with no borrow held, so it may use other locals.
    fn get_or_init(&self, locals: &RefCell<Vec<Option<Box<dyn Any>>>>, index: usize) -> *const T {
        if let Some(value) = Self::get(locals, index) {
            return value;
        }
        let value: Box<dyn Any> = Box::new((self.init)());
        {
            let mut locals = locals.borrow_mut();
            if locals.len() <= index {
                locals.resize_with(index + 1, || None);
            }
            if locals[index].is_none() {
                locals[index] = Some(value);
            }
        }
        Self::get(locals, index).expect("just stored")
    }

    fn get(locals: &RefCell<Vec<Option<Box<dyn Any>>>>, index: usize) -> Option<*const T> {
        let locals = locals.borrow();
        let value = locals.get(index)?.as_ref()?;
        Some(
            value
                .downcast_ref::<T>()
                .expect("a local's slot holds its type"),
        )
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}
