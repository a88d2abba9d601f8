//! The libdevmapper C ABI: `#[no_mangle] extern "C"` functions with the stock
//! names, types and layouts, each a thin shell over the Rust core.
//!
//! Every export runs inside [`guard`], so a panic never unwinds into C: the
//! function logs an internal error and returns libdevmapper's failure value
//! (0 or NULL). NULL pointers are checked before use.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

#[macro_use]
extern crate devmapper;

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod consts;
pub mod device;
pub mod lib_state;
pub mod log;
pub mod mem;
pub mod task;
pub mod udev;

/// Run `f`, turning a panic into `fail` plus a log line.
pub(crate) fn guard<T>(what: &'static str, fail: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            devmapper::dm_error!(
                "Internal error: {what} failed unexpectedly (Rust panic caught at the C boundary)."
            );
            fail
        }
    }
}

/// Borrow a C string as bytes; NULL gives None.
pub(crate) unsafe fn cstr<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: the caller passes a valid NUL-terminated string (C contract).
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// Copy `s` into a caller buffer of `size` bytes, NUL-terminated and
/// truncated if needed. Returns whether it fitted.
pub(crate) unsafe fn copy_out(s: &[u8], buf: *mut c_char, size: usize) -> bool {
    if buf.is_null() || size == 0 {
        return false;
    }
    let n = s.len().min(size - 1);
    // SAFETY: the caller guarantees `buf` points to `size` writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    n == s.len()
}

/// A copy of `s` in memory from libc's `malloc`, for the caller to `free`.
pub(crate) fn malloc_cstring(s: &[u8]) -> *mut c_char {
    // SAFETY: malloc has no preconditions; we write exactly len + 1 bytes.
    unsafe {
        let p = libc::malloc(s.len() + 1).cast::<u8>();
        if p.is_null() {
            devmapper::dm_error!("Failed to allocate {} bytes.", s.len() + 1);
            return std::ptr::null_mut();
        }
        std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = 0;
        p.cast()
    }
}
