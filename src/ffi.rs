//! Pointer handling at the C boundary, in one place.
//!
//! * [`guard`]: every export's body runs inside it, so a panic never unwinds
//!   into C; the export logs libdm's internal-error line and returns its
//!   failure value (0 or NULL).
//! * [`handle`] / [`handle_mut`]: a C handle (a pointer to a Rust value made
//!   by `Box::into_raw`) as a reference; NULL is logged and refused. Const
//!   getters use [`handle`] only: no `&mut` is ever made from a `const`
//!   pointer.
//! * [`arg_bytes`]: a C string argument as bytes (never converted to UTF-8).
//! * [`out`], [`copy_out`], [`malloc_bytes`]: results into caller memory.
//! * [`fail`] / [`done`]: print a core [`Error`] the way libdm prints the
//!   failure, and give the C result.
//!
//! Everything that dereferences a pointer from C is in this file; the
//! export files only call these helpers.

use crate::CTX;
use devmapper::Error;
use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, Ordering};

std::thread_local! {
    /// Where the last panic of this thread happened (file:line), for the
    /// log line of the export that caught it.
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Replace std's default panic hook, which would print "thread ...
/// panicked at ..." on the host program's stderr, with one that only notes
/// where the panic happened: the export that catches it reports it through
/// libdm's log like any other failure. The hook belongs to this library's
/// copy of std, so a Rust host's own panics are not affected. The message
/// is not kept: it could quote a caller's data. Installed once by the
/// library constructor (`lib_state.rs`), before any export can run.
pub(crate) fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Unit tests keep std's report too: their own assertions print.
        #[cfg(test)]
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            // A panic while the cell is borrowed (inside this hook) is
            // left unrecorded rather than panicking again.
            let _ = PANIC_AT.try_with(|p| p.try_borrow_mut().map(|mut p| *p = at));
            #[cfg(test)]
            previous(info);
        }));
    });
}

/// Where the panic just caught happened, if the hook saw it.
fn panic_location() -> String {
    PANIC_AT
        .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.take()))
        .ok()
        .flatten()
        .unwrap_or_else(|| "an unknown place".to_owned())
}

/// Run an export body. `None` from the body (a refused argument, already
/// logged) and a caught panic both give `fail`.
///
/// Inlined into its export (each export has its own body, so this costs no
/// code), the panic path out of line: the export's arguments stay in
/// registers instead of being handed over in memory.
#[inline(always)]
pub(crate) fn guard<T>(what: &'static str, fail: T, f: impl FnOnce() -> Option<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Some(v)) => v,
        Ok(None) => fail,
        Err(_) => {
            caught(what);
            fail
        }
    }
}

/// Log the panic [`guard`] caught in `what`.
#[cold]
#[inline(never)]
fn caught(what: &str) {
    let at = panic_location();
    devmapper::log_error!(
        &CTX,
        "Internal error: {what} failed unexpectedly (Rust panic at {at} caught at the C boundary)."
    );
}

/// Log libdm's lines for a failure (nothing for failures libdm reports
/// silently or that were logged already).
pub(crate) fn fail(e: &Error) {
    CTX.log_failure(e);
}

/// `1` for success, `0` (after logging) for failure.
pub(crate) fn done(r: Result<(), Error>) -> Option<c_int> {
    match r {
        Ok(()) => Some(1),
        Err(e) => {
            fail(&e);
            Some(0)
        }
    }
}

/// The value on success; on failure the error is logged and the export
/// returns its failure value.
pub(crate) fn ok<T>(r: Result<T, Error>) -> Option<T> {
    r.map_err(|e| fail(&e)).ok()
}

/// Log `Internal error: <what> called with a NULL <arg>.`
fn null_arg(what: &str, arg: &str) {
    devmapper::log_error!(&CTX, "Internal error: {what} called with a NULL {arg}.");
}

/// Borrow the value behind a C handle; NULL is logged and gives `None`.
///
/// # Safety
/// A non-NULL `p` must come from `Box::into_raw` of a `T` that is still
/// alive, and no `&mut` to it may exist for the lifetime `'a` (the C
/// contract of libdevmapper's handles: one thread uses a handle at a time).
pub(crate) unsafe fn handle<'a, T>(p: *const T, what: &str, arg: &str) -> Option<&'a T> {
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    // SAFETY: non-NULL and valid by the caller's contract.
    Some(unsafe { &*p })
}

/// Borrow the value behind a C handle mutably; NULL is logged and gives `None`.
///
/// # Safety
/// As [`handle`], and no other reference to the value may exist for `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, what: &str, arg: &str) -> Option<&'a mut T> {
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    // SAFETY: non-NULL, valid and unaliased by the caller's contract.
    Some(unsafe { &mut *p })
}

/// Take back ownership of a handle made by `Box::into_raw` (NULL: `None`).
///
/// # Safety
/// A non-NULL `p` must come from `Box::into_raw` of a `T` and not be used
/// afterwards.
pub(crate) unsafe fn take_handle<T>(p: *mut T) -> Option<Box<T>> {
    if p.is_null() {
        None
    } else {
        // SAFETY: by the caller's contract the pointer owns a boxed `T`.
        Some(unsafe { Box::from_raw(p) })
    }
}

/// A one-slot cache of the handle last destroyed: a program that creates
/// and destroys one handle at a time (one task per call, as dmsetup and LVM
/// do) reuses one block instead of a malloc and a free per handle. The kept
/// value is live but emptied (`clear` drops what it held when the handle
/// is destroyed, as dropping it would); the next handle is made from it by
/// `reuse`, field by field, instead of building a new value on the stack
/// and copying it in (a task is half a kilobyte). The kept value holds
/// nothing (no buffer, no pointer into one), so the thread that reuses it
/// gets what a new value would be.
pub(crate) struct Spare<T>(AtomicPtr<T>);

impl<T> Spare<T> {
    pub(crate) const fn new() -> Spare<T> {
        Spare(AtomicPtr::new(std::ptr::null_mut()))
    }

    /// A handle (`Box::into_raw`): the spare value passed through `reuse`
    /// if there is one, else `make()` boxed.
    #[inline(always)]
    pub(crate) fn boxed(&self, make: impl FnOnce() -> T, reuse: impl FnOnce(&mut T)) -> *mut T {
        let p = self.0.swap(std::ptr::null_mut(), Ordering::Acquire);
        if p.is_null() {
            return Box::into_raw(Box::new(make()));
        }
        // SAFETY: the slot only holds pointers from Box::into_raw of a live
        // (emptied) T (see destroy), and the swap made this thread their
        // only owner.
        reuse(unsafe { &mut *p });
        p
    }

    /// Destroy the handle `p` made by [`Spare::boxed`] (or
    /// `Box::into_raw`): `clear` empties its value, which becomes the spare
    /// (or is dropped when there is one already). NULL does nothing.
    ///
    /// # Safety
    /// As [`take_handle`]: a non-NULL `p` owns a boxed `T` and is not used
    /// afterwards.
    pub(crate) unsafe fn destroy(&self, p: *mut T, clear: impl FnOnce(&mut T)) {
        if p.is_null() {
            return;
        }
        // SAFETY: p owns a live T (caller's contract), no other reference.
        clear(unsafe { &mut *p });
        if self
            .0
            .compare_exchange(
                std::ptr::null_mut(),
                p,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // SAFETY: p is the block of a Box<T> holding a live T, owned
            // here; dropped once.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// A C string argument as bytes; NULL gives `None` without a message.
///
/// # Safety
/// A non-NULL `p` must point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn opt_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: NUL-terminated by the caller's contract.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// A required C string argument as bytes; NULL is logged and gives `None`.
///
/// # Safety
/// As [`opt_bytes`].
pub(crate) unsafe fn arg_bytes<'a>(p: *const c_char, what: &str, arg: &str) -> Option<&'a [u8]> {
    // SAFETY: forwarded contract.
    unsafe { arg_cstr(p, what, arg) }.map(CStr::to_bytes)
}

/// A required C string argument as a [`CStr`] (whose bytes hold no NUL,
/// which spares callees that check for one); NULL is logged and gives
/// `None`.
///
/// # Safety
/// As [`opt_bytes`].
pub(crate) unsafe fn arg_cstr<'a>(p: *const c_char, what: &str, arg: &str) -> Option<&'a CStr> {
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    Some(unsafe { CStr::from_ptr(p) })
}

/// Store `v` through an out-parameter, if the caller gave one.
///
/// # Safety
/// A non-NULL `p` must be valid for a write of `T`.
pub(crate) unsafe fn out<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { p.write(v) };
    }
}

/// Copy `s` into a caller buffer of `size` bytes, NUL-terminated and
/// truncated if needed. Returns whether it fitted.
///
/// # Safety
/// A non-NULL `buf` must point to `size` writable bytes.
pub(crate) unsafe fn copy_out(s: &[u8], buf: *mut c_char, size: usize) -> bool {
    if buf.is_null() || size == 0 {
        return false;
    }
    let n = s.len().min(size - 1);
    // SAFETY: `buf` has `size` > n bytes by the caller's contract; the source
    // is a valid slice that cannot overlap caller memory we were handed.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    n == s.len()
}

/// A NUL-terminated copy of `s` in memory from libc's `malloc`, for the
/// caller to `free`; NULL (logged) when memory is short.
pub(crate) fn malloc_bytes(s: &[u8]) -> *mut c_char {
    let Some(len) = s.len().checked_add(1) else {
        return std::ptr::null_mut();
    };
    // SAFETY: malloc has no preconditions.
    let p = unsafe { libc::malloc(len) }.cast::<u8>();
    if p.is_null() {
        devmapper::log_error!(&CTX, "Failed to allocate {len} bytes.");
        return std::ptr::null_mut();
    }
    // SAFETY: `p` has `len` = s.len() + 1 writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = 0;
    }
    p.cast()
}

/// A C boolean.
pub(crate) fn cbool(b: bool) -> c_int {
    c_int::from(b)
}

// ---------------------------------------------------------------------------
// Helpers for the string, tree and timestamp families: in-place edits of
// caller strings, caller arrays and in-out cursors.

/// Read the value behind a pointer (an in-out argument such as
/// `dm_tree_next_child`'s `void **handle`); NULL is logged and gives `None`.
///
/// # Safety
/// A non-NULL `p` must be valid for a read of `T`.
pub(crate) unsafe fn read<T: Copy>(p: *const T, what: &str, arg: &str) -> Option<T> {
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    // SAFETY: non-NULL and readable by the caller's contract.
    Some(unsafe { p.read() })
}

/// A caller's NUL-terminated string as writable bytes (the NUL itself
/// excluded), for the functions that edit strings in place; NULL is logged
/// and gives `None`.
///
/// # Safety
/// A non-NULL `p` must point to a writable NUL-terminated string that
/// outlives `'a` and that nothing else accesses meanwhile.
pub(crate) unsafe fn c_string_mut<'a>(
    p: *mut c_char,
    what: &str,
    arg: &str,
) -> Option<&'a mut [u8]> {
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    // SAFETY: NUL-terminated by the caller's contract.
    let len = unsafe { CStr::from_ptr(p) }.to_bytes().len();
    // SAFETY: the `len` bytes before the NUL are the caller's writable,
    // unaliased string.
    Some(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
}

/// `len` bytes at `p` (any bytes, NULs included); `len == 0` needs no
/// pointer. NULL with a length is logged and gives `None`.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn byte_range<'a>(
    p: *const c_char,
    len: usize,
    what: &str,
    arg: &str,
) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    // SAFETY: `len` readable bytes by the caller's contract.
    Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// The bytes of a C string read at most `n` bytes far (as `memccpy` and
/// `strnlen` read), without the NUL; and whether a NUL was found within the
/// `n` bytes. NULL with `n > 0` is logged and gives `None`.
///
/// # Safety
/// A non-NULL `p` must be readable up to its NUL or for `n` bytes, whichever
/// comes first, for `'a`.
pub(crate) unsafe fn bounded_bytes<'a>(
    p: *const c_char,
    n: usize,
    what: &str,
    arg: &str,
) -> Option<(&'a [u8], bool)> {
    if n == 0 {
        return Some((&[], false));
    }
    if p.is_null() {
        null_arg(what, arg);
        return None;
    }
    let mut len = 0;
    // SAFETY: each byte read is before the NUL or within `n` bytes.
    while len < n && unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes just read.
    let s = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    Some((s, len < n))
}

/// Copy `bytes` to `dest` exactly (no NUL added). Returns `false` (after
/// logging) for a NULL `dest` with bytes to write.
///
/// # Safety
/// A non-NULL `dest` must have room for `bytes.len()` bytes that do not
/// overlap `bytes`.
pub(crate) unsafe fn write_bytes(dest: *mut c_char, bytes: &[u8], what: &str, arg: &str) -> bool {
    if bytes.is_empty() {
        return true;
    }
    if dest.is_null() {
        null_arg(what, arg);
        return false;
    }
    // SAFETY: room for `bytes.len()` bytes by the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dest.cast::<u8>(), bytes.len()) };
    true
}

/// Store `v` as element `i` of a caller's array.
///
/// # Safety
/// `p` must be non-NULL and valid for writes of `i + 1` elements.
pub(crate) unsafe fn out_at<T>(p: *mut T, i: usize, v: T) {
    // SAFETY: element `i` is inside the caller's array (contract above).
    unsafe { p.add(i).write(v) };
}

/// The strings of a NULL-terminated array of C strings (none for a NULL
/// array).
///
/// # Safety
/// A non-NULL `p` must point to an array of valid C string pointers ended by
/// a NULL entry; the strings must outlive `'a`.
pub(crate) unsafe fn c_string_array<'a>(p: *const *const c_char) -> Vec<&'a [u8]> {
    let mut v = Vec::new();
    if p.is_null() {
        return v;
    }
    let mut i = 0;
    loop {
        // SAFETY: every entry up to the NULL one is readable.
        let s = unsafe { *p.add(i) };
        if s.is_null() {
            return v;
        }
        // SAFETY: a valid C string by the caller's contract.
        v.push(unsafe { CStr::from_ptr(s) }.to_bytes());
        i += 1;
    }
}

// ---------------------------------------------------------------------------
// Helpers for the stats family: arrays ended by a sentinel, both ways.

/// The elements of a caller's array before the first `end` (none for a NULL
/// array).
///
/// # Safety
/// A non-NULL `p` must point to an array of `T` that holds an `end` element.
pub(crate) unsafe fn terminated<T: Copy + PartialEq>(p: *const T, end: T) -> Vec<T> {
    let mut v = Vec::new();
    if p.is_null() {
        return v;
    }
    let mut i = 0;
    loop {
        // SAFETY: every element up to the `end` one is readable.
        let x = unsafe { p.add(i).read() };
        if x == end {
            return v;
        }
        v.push(x);
        i += 1;
    }
}

/// `items` followed by `end`, in memory from libc's `malloc` that the caller
/// frees with `free()`/`dm_free()`; NULL (logged) when memory is short.
pub(crate) fn malloc_terminated<T: Copy>(items: &[T], end: T) -> *mut T {
    let bytes = items
        .len()
        .checked_add(1)
        .and_then(|n| n.checked_mul(std::mem::size_of::<T>()));
    let Some(bytes) = bytes else {
        devmapper::log_error!(&CTX, "Failed to allocate {} items.", items.len());
        return std::ptr::null_mut();
    };
    // SAFETY: malloc has no preconditions.
    let p = unsafe { libc::malloc(bytes) }.cast::<T>();
    if p.is_null() {
        devmapper::log_error!(&CTX, "Failed to allocate {bytes} bytes.");
        return p;
    }
    // SAFETY: `p` has room for `items.len() + 1` elements and is aligned for
    // any type (malloc); the source is a valid slice that cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len());
        p.add(items.len()).write(end);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_fails_quietly_and_says_where() {
        let r = guard("dm_test", 0, || -> Option<i32> { panic!("boom") });
        assert_eq!(r, 0);
        // The library's hook saw the panic (std's alone records nothing).
        let r = guard("dm_test", 0, || -> Option<i32> {
            let v: Vec<u8> = Vec::new();
            Some(i32::from(v[usize::from(v.is_empty())]))
        });
        assert_eq!(r, 0);
        quiet_panics();
        let _ = catch_unwind(|| panic!("again"));
        let at = panic_location();
        assert!(at.contains("src/ffi.rs:"), "{at}");
        assert_eq!(panic_location(), "an unknown place");
    }
}
