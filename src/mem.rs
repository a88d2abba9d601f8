//! The memory functions the header's `dm_malloc`/`dm_free`/… macros expand
//! to. All memory comes from libc, so `dm_free` and `free` are interchangeable.

use crate::CTX;

/// The panic boundary for these wrappers, whose bodies never refuse.
fn guard<T>(what: &'static str, fail: T, f: impl FnOnce() -> T) -> T {
    crate::ffi::guard(what, fail, || Some(f()))
}
use std::ffi::{c_char, c_int, c_uint, c_void};

/// libdevmapper refuses single allocations above this size.
const HUGE: usize = 50_000_000;

fn too_big(s: usize) -> bool {
    if s > HUGE {
        devmapper::log_error!(
            &CTX,
            "Huge memory allocation (size {}) rejected - metadata corruption?",
            s
        );
        return true;
    }
    false
}

#[no_mangle]
pub extern "C" fn dm_malloc_wrapper(s: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    guard("dm_malloc_wrapper", std::ptr::null_mut(), || {
        if too_big(s) {
            return std::ptr::null_mut();
        }
        // SAFETY: malloc has no preconditions.
        unsafe { libc::malloc(s) }
    })
}

#[no_mangle]
pub extern "C" fn dm_zalloc_wrapper(s: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
    guard("dm_zalloc_wrapper", std::ptr::null_mut(), || {
        if too_big(s) {
            return std::ptr::null_mut();
        }
        // SAFETY: calloc has no preconditions.
        unsafe { libc::calloc(1, s) }
    })
}

#[no_mangle]
pub extern "C" fn dm_malloc_aligned_wrapper(
    s: usize,
    a: usize,
    _file: *const c_char,
    _line: c_int,
) -> *mut c_void {
    guard("dm_malloc_aligned_wrapper", std::ptr::null_mut(), || {
        if too_big(s) {
            return std::ptr::null_mut();
        }
        let a = if a == 0 {
            8
        } else {
            a.max(std::mem::size_of::<*mut c_void>())
        };
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: `p` is a valid out-pointer; posix_memalign validates `a`.
        if unsafe { libc::posix_memalign(&mut p, a, s) } != 0 {
            devmapper::log_error!(&CTX, "Failed to allocate {} bytes aligned to {}.", s, a);
            return std::ptr::null_mut();
        }
        p
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_realloc_wrapper(
    p: *mut c_void,
    s: c_uint,
    _file: *const c_char,
    _line: c_int,
) -> *mut c_void {
    guard("dm_realloc_wrapper", std::ptr::null_mut(), || {
        // No size cap here: libdevmapper applies it to malloc/zalloc only.
        // SAFETY: `p` is NULL or came from this allocator (C contract).
        unsafe { libc::realloc(p, s as usize) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_strdup_wrapper(
    s: *const c_char,
    _file: *const c_char,
    _line: c_int,
) -> *mut c_char {
    guard("dm_strdup_wrapper", std::ptr::null_mut(), || {
        if s.is_null() {
            devmapper::log_error!(&CTX, "Internal error: dm_strdup called with NULL.");
            return std::ptr::null_mut();
        }
        // SAFETY: `s` is a NUL-terminated string (C contract).
        unsafe { libc::strdup(s) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_free_wrapper(p: *mut c_void) {
    guard("dm_free_wrapper", (), || {
        // SAFETY: `p` is NULL or came from this allocator (C contract).
        unsafe { libc::free(p) }
    })
}

#[no_mangle]
pub extern "C" fn dm_dump_memory_wrapper() -> c_int {
    guard("dm_dump_memory_wrapper", 0, || 1)
}

#[no_mangle]
pub extern "C" fn dm_bounds_check_wrapper() {
    guard("dm_bounds_check_wrapper", (), || {})
}

// The Base-versioned names of the same functions (exported, not declared).

#[no_mangle]
pub extern "C" fn dm_malloc_aux(s: usize, file: *const c_char, line: c_int) -> *mut c_void {
    guard("dm_malloc_aux", std::ptr::null_mut(), || {
        dm_malloc_wrapper(s, file, line)
    })
}

#[no_mangle]
pub extern "C" fn dm_malloc_aux_debug(s: usize, file: *const c_char, line: c_int) -> *mut c_void {
    guard("dm_malloc_aux_debug", std::ptr::null_mut(), || {
        dm_malloc_wrapper(s, file, line)
    })
}

#[no_mangle]
pub extern "C" fn dm_zalloc_aux(s: usize, file: *const c_char, line: c_int) -> *mut c_void {
    guard("dm_zalloc_aux", std::ptr::null_mut(), || {
        dm_zalloc_wrapper(s, file, line)
    })
}

#[no_mangle]
pub extern "C" fn dm_zalloc_aux_debug(s: usize, file: *const c_char, line: c_int) -> *mut c_void {
    guard("dm_zalloc_aux_debug", std::ptr::null_mut(), || {
        dm_zalloc_wrapper(s, file, line)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_realloc_aux(
    p: *mut c_void,
    s: c_uint,
    file: *const c_char,
    line: c_int,
) -> *mut c_void {
    // SAFETY: forwarded C contract.
    guard("dm_realloc_aux", std::ptr::null_mut(), || unsafe {
        dm_realloc_wrapper(p, s, file, line)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_strdup_aux(
    s: *const c_char,
    file: *const c_char,
    line: c_int,
) -> *mut c_char {
    // SAFETY: forwarded C contract.
    guard("dm_strdup_aux", std::ptr::null_mut(), || unsafe {
        dm_strdup_wrapper(s, file, line)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_free_aux(p: *mut c_void) {
    // SAFETY: forwarded C contract.
    guard("dm_free_aux", (), || unsafe { dm_free_wrapper(p) })
}

#[no_mangle]
pub extern "C" fn dm_dump_memory_debug() -> c_int {
    guard("dm_dump_memory_debug", 0, || 1)
}

#[no_mangle]
pub extern "C" fn dm_bounds_check_debug() {
    guard("dm_bounds_check_debug", (), || {})
}
