//! The `select!` macro: crossbeam-channel's grammar over [`Select`].
//!
//! `__select!` munches the arms one at a time into a uniform list, giving
//! each a fresh identifier from a fixed supply (as crossbeam does: hygiene
//! keeps them apart from the caller's names), then builds a `Select`, runs
//! it, and dispatches on the chosen index with an `if` chain in the caller's
//! own function, so that `break`, `continue` and `return` in an arm reach the
//! caller's loop or function.
//!
//! [`Select`]: crate::Select

/// Waits on several channel operations and performs exactly one, as Go's
/// `select`.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::{bounded, select};
///
/// let (tx, rx) = bounded::<i32>(1);
/// let (done_tx, done) = bounded::<()>(0);
/// tx.send(7).unwrap();
/// let got = select! {
///     recv(rx) -> v => v.unwrap(),
///     recv(done) -> _ => -1,
///     default(Duration::from_secs(1)) => -2,
/// };
/// assert_eq!(got, 7);
/// # drop(done_tx);
/// ```
///
/// Arms:
///
/// * `recv(rx) -> v => expr`: `v` is `Result<T, RecvError>` (an `Err` once
///   the channel is closed and drained).
/// * `send(tx, value) -> res => expr`: `res` is `Result<(), SendError<T>>`.
///   `value` is evaluated only if this arm is chosen: an arm that is not
///   chosen sends nothing.
/// * `default => expr` (or `default() => expr`): run when no operation is
///   ready now; the select then never waits.
/// * `default(timeout) => expr`: run when no operation is ready within
///   `timeout`.
///
/// Among several ready operations one is chosen uniformly at random. A
/// closed channel's arm is always ready. Channel expressions are borrowed,
/// and may be or contain temporaries (`recv(after(d))`,
/// `recv(opt.unwrap_or(&never()))`), which live until the select ends. An
/// operation's arguments may end with a comma. The macro is an expression
/// whose value is the chosen arm's.
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select!(
            @parse new [] []
            (__s0 __s1 __s2 __s3 __s4 __s5 __s6 __s7 __s8 __s9 __s10 __s11 __s12 __s13
             __s14 __s15 __s16 __s17 __s18 __s19 __s20 __s21 __s22 __s23 __s24 __s25
             __s26 __s27 __s28 __s29 __s30 __s31)
            $($tokens)*
        )
    };
}

/// As [`select!`], but biased: among ready operations the first written
/// wins, not one at random (crossbeam-channel's `select_biased!`;
/// [`Select::new_biased`](crate::Select::new_biased) is its dynamic form).
///
/// ```
/// use goro_chan::{bounded, select_biased};
///
/// let (tx1, rx1) = bounded::<i32>(1);
/// let (tx2, rx2) = bounded::<i32>(1);
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// let got = select_biased! {
///     recv(rx1) -> v => v.unwrap(),
///     recv(rx2) -> v => v.unwrap(),
/// };
/// assert_eq!(got, 1); // both ready: the first arm
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::__select!(
            @parse new_biased [] []
            (__s0 __s1 __s2 __s3 __s4 __s5 __s6 __s7 __s8 __s9 __s10 __s11 __s12 __s13
             __s14 __s15 __s16 __s17 __s18 __s19 __s20 __s21 __s22 __s23 __s24 __s25
             __s26 __s27 __s28 __s29 __s30 __s31)
            $($tokens)*
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select {
    // ---- parsing: recv arms
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        recv($r:expr $(,)?) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor [$($arms)* (recv $id $r, (), $p, $body)] $def ($($ids)*) $($rest)*)
    };
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        recv($r:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $ctor [$($arms)* (recv $id $r, (), $p, $body)] $def ($($ids)*) $($rest)*)
    };
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        recv($r:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor [$($arms)* (recv $id $r, (), $p, $body)] $def ($($ids)*) $($rest)*)
    };
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        recv($r:expr $(,)?) -> $p:pat => $body:expr) => {
        $crate::__select!(@parse $ctor [$($arms)* (recv $id $r, (), $p, $body)] $def ($($ids)*))
    };
    // ---- parsing: send arms
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor [$($arms)* (send $id $s, ($v), $p, $body)] $def ($($ids)*) $($rest)*)
    };
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $ctor [$($arms)* (send $id $s, ($v), $p, $body)] $def ($($ids)*) $($rest)*)
    };
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor [$($arms)* (send $id $s, ($v), $p, $body)] $def ($($ids)*) $($rest)*)
    };
    (@parse $ctor:ident [$($arms:tt)*] $def:tt ($id:ident $($ids:ident)*)
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:expr) => {
        $crate::__select!(@parse $ctor [$($arms)* (send $id $s, ($v), $p, $body)] $def ($($ids)*))
    };
    // ---- parsing: default arms (at most one)
    (@parse $ctor:ident $arms:tt [] $ids:tt default => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [(now) $body] $ids $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [(now) $body] $ids $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [(now) $body] $ids $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default => $body:expr) => {
        $crate::__select!(@parse $ctor $arms [(now) $body] $ids)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default() => $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [] $ids default => $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default($t:expr $(,)?) => $body:block, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [(timeout $t) $body] $ids $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default($t:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [(timeout $t) $body] $ids $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default($t:expr $(,)?) => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@parse $ctor $arms [(timeout $t) $body] $ids $($rest)*)
    };
    (@parse $ctor:ident $arms:tt [] $ids:tt default($t:expr $(,)?) => $body:expr) => {
        $crate::__select!(@parse $ctor $arms [(timeout $t) $body] $ids)
    };
    (@parse $ctor:ident $arms:tt [$($def:tt)+] $ids:tt default $($rest:tt)*) => {
        ::core::compile_error!("select! takes at most one `default` arm")
    };
    (@parse $ctor:ident $arms:tt $def:tt () $($rest:tt)+) => {
        ::core::compile_error!("select! takes at most 32 operations")
    };
    // ---- all parsed
    (@parse $ctor:ident $arms:tt $def:tt $ids:tt) => {
        $crate::__select!(@build $ctor $arms $def)
    };
    (@parse $ctor:ident $arms:tt $def:tt $ids:tt $($rest:tt)+) => {
        ::core::compile_error!(
            "select! expects arms of the form `recv(rx) -> v => ...`, \
             `send(tx, value) -> res => ...`, `default => ...` or `default(timeout) => ...`"
        )
    };

    // ---- building
    // The channels are borrowed in a `match` scrutinee, whose temporaries
    // live to the end of the `match`: `recv(opt.unwrap_or(&never()))`.
    (@build $ctor:ident [$(($kind:ident $id:ident $chan:expr, ($($v:expr)?), $p:pat, $body:expr))*] $def:tt) => {
        match ($(&$chan,)*) {
            ($($id,)*) => {
                let mut __sel = $crate::__private::LocalSelect::$ctor();
                $(
                    let $id = ($id, __sel.$kind($id));
                )*
                $crate::__select!(@run __sel $def __op {
                    let __index = __op.index();
                    $(
                        if __index == $id.1 {
                            match $crate::__select!(@complete $kind __op ($id.0) ($($v)?)) {
                                $p => $body,
                            }
                        } else
                    )*
                    {
                        ::core::unreachable!("select! chose an operation it did not register")
                    }
                })
            }
        }
    };

    (@run $sel:ident [] $op:ident $dispatch:block) => {{
        let $op = $sel.select();
        $dispatch
    }};
    (@run $sel:ident [(now) $default:expr] $op:ident $dispatch:block) => {
        match $sel.try_select() {
            ::core::result::Result::Ok($op) => $dispatch,
            ::core::result::Result::Err(_) => $default,
        }
    };
    (@run $sel:ident [(timeout $t:expr) $default:expr] $op:ident $dispatch:block) => {
        match $sel.select_timeout($t) {
            ::core::result::Result::Ok($op) => $dispatch,
            ::core::result::Result::Err(_) => $default,
        }
    };

    (@complete recv $op:ident ($chan:expr) ()) => {
        $op.recv($chan)
    };
    (@complete send $op:ident ($chan:expr) ($v:expr)) => {
        $op.send($chan, $v)
    };
}
