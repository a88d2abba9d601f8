//! The string family over [`devmapper::strings`]: word splitting, LVM names,
//! escaping, unit factors, sizes, `dm_format_dev`. The C-variadic
//! `dm_snprintf`, `dm_asprintf` and `dm_vasprintf` are in `shim.c`; their
//! prototypes and `dm_size_suffix_t` are in `src/header/families/string.h`.
//!
//! The functions that edit a caller's string do it in place, exactly where
//! libdevmapper does, and hand back pointers into it. The ones that return
//! new strings allocate them from a `struct dm_pool` (`src/pool.rs`).

use crate::ffi::{
    self, arg_bytes, bounded_bytes, byte_range, c_string_mut, copy_out, guard, opt_bytes, out,
    out_at, write_bytes,
};
use crate::CTX;
use devmapper::strings::{self, SizeSuffix};
use std::ffi::{c_char, c_int, c_uint};
use std::ptr::null_mut;

pub use crate::pool::dm_pool;

/// `dm_size_suffix_t`.
pub type dm_size_suffix_t = c_int;

/// `len` bytes from `pool` (`dm_pool_alloc`), or `None` (logged by the pool).
fn alloc_bytes(pool: *mut dm_pool, len: usize) -> Option<*mut u8> {
    // SAFETY: `pool` is a pool handle from dm_pool_create (C contract).
    let p = unsafe { crate::pool::alloc(pool, len) };
    (!p.is_null()).then_some(p.cast())
}

/// A NUL-terminated copy of `bytes` in a `size`-byte block of `pool`.
fn pool_copy(pool: *mut dm_pool, bytes: &[u8], size: usize) -> Option<*mut c_char> {
    if size <= bytes.len() {
        return None;
    }
    let p = alloc_bytes(pool, size)?.cast::<c_char>();
    // SAFETY: the pool gave `size` > bytes.len() bytes, which cannot overlap
    // `bytes`.
    let done = unsafe {
        write_bytes(p, bytes, "dm_pool_strdup", "buffer")
            && write_bytes(
                p.wrapping_add(bytes.len()),
                &[0],
                "dm_pool_strdup",
                "buffer",
            )
    };
    done.then_some(p)
}

/// Break a buffer into at most `max` words separated by white space, in
/// place; `argv` receives pointers to them. Returns the number of words.
#[no_mangle]
pub unsafe extern "C" fn dm_split_words(
    buffer: *mut c_char,
    max: c_uint,
    ignore_comments: c_uint,
    argv: *mut *mut c_char,
) -> c_int {
    // Not implemented by libdevmapper either.
    let _ = ignore_comments;
    guard("dm_split_words", 0, || {
        // SAFETY: a writable C string (C contract).
        let buf = unsafe { c_string_mut(buffer, "dm_split_words", "buffer") }?;
        if argv.is_null() && max > 0 && !strings::split_words(buf).is_empty() {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_split_words called with a NULL argv."
            );
            return None;
        }
        let mut k = 0;
        let n = strings::split_words_in_place(buf, max as usize, |start| {
            // SAFETY: argv has room for `max` pointers (C contract), and at
            // most `max` words are stored.
            unsafe { out_at(argv, k, buffer.wrapping_add(start)) };
            k += 1;
        });
        Some(n as c_int)
    })
}

/// Split `<vg>-<lv>[-<layer>]`: in a copy from `mem` of `dmname`, or, with a
/// NULL `mem`, in place in the string `*vgname` points to.
#[no_mangle]
pub unsafe extern "C" fn dm_split_lvm_name(
    mem: *mut dm_pool,
    dmname: *const c_char,
    vgname: *mut *mut c_char,
    lvname: *mut *mut c_char,
    layer: *mut *mut c_char,
) -> c_int {
    guard("dm_split_lvm_name", 0, || {
        if vgname.is_null() || lvname.is_null() || layer.is_null() {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_split_lvm_name: Forbidden NULL parameter detected."
            );
            return Some(0);
        }
        let base = if !mem.is_null() {
            // SAFETY: a C string or NULL (C contract).
            let copy = unsafe { opt_bytes(dmname) }.map(|name| {
                let c = pool_copy(mem, name, name.len() + 1).unwrap_or(null_mut());
                // SAFETY: the caller's out-pointer (checked non-NULL); set
                // even when the copy failed, as in libdevmapper.
                unsafe { out(vgname, c) };
                c
            });
            match copy {
                Some(c) if !c.is_null() => c,
                _ => {
                    devmapper::log_error!(&CTX, "Failed to duplicate lvm name.");
                    return Some(0);
                }
            }
        } else {
            // SAFETY: checked non-NULL; the caller's variable.
            let p = unsafe { ffi::read(vgname, "dm_split_lvm_name", "vgname") }?;
            if p.is_null() {
                devmapper::log_error!(&CTX, "Missing lvm name for split.");
                return Some(0);
            }
            p
        };
        // SAFETY: `base` is the writable copy made above or the caller's
        // writable string (C contract).
        let buf = unsafe { c_string_mut(base, "dm_split_lvm_name", "vgname") }?;
        let (lv, ly) = strings::split_lvm_name_in_place(buf);
        // SAFETY: the caller's out-pointers (checked non-NULL); the offsets
        // are inside the string.
        unsafe {
            out(lvname, base.wrapping_add(lv));
            out(layer, base.wrapping_add(ly));
        }
        Some(1)
    })
}

/// The last component of `path` (a pointer into it).
#[no_mangle]
pub unsafe extern "C" fn dm_basename(path: *const c_char) -> *const c_char {
    guard("dm_basename", std::ptr::null(), || {
        // SAFETY: a C string (C contract).
        let p = unsafe { arg_bytes(path, "dm_basename", "path") }?;
        let tail = strings::basename(p);
        Some(path.wrapping_add(p.len() - tail.len()))
    })
}

/// Occurrences of `c` in the `len` bytes at `str`.
#[no_mangle]
pub unsafe extern "C" fn dm_count_chars(str: *const c_char, len: usize, c: c_int) -> c_uint {
    guard("dm_count_chars", 0, || {
        // SAFETY: `len` readable bytes (C contract).
        let s = unsafe { byte_range(str, len, "dm_count_chars", "str") }?;
        Some(strings::count_chars(s, c))
    })
}

/// Size of the buffer `dm_escape_double_quotes` needs for `str`.
#[no_mangle]
pub unsafe extern "C" fn dm_escaped_len(str: *const c_char) -> usize {
    guard("dm_escaped_len", 0, || {
        // SAFETY: a C string (C contract).
        let s = unsafe { arg_bytes(str, "dm_escaped_len", "str") }?;
        Some(strings::escaped_len(s))
    })
}

/// Copy `src` to `out` with `"` and `\` escaped; returns `out`.
#[no_mangle]
pub unsafe extern "C" fn dm_escape_double_quotes(
    out: *mut c_char,
    src: *const c_char,
) -> *mut c_char {
    guard("dm_escape_double_quotes", null_mut(), || {
        // SAFETY: a C string (C contract).
        let s = unsafe { arg_bytes(src, "dm_escape_double_quotes", "src") }?;
        let mut e = Vec::new();
        if e.try_reserve_exact(strings::escaped_len(s)).is_err() {
            ffi::fail(&devmapper::Error::no_memory(strings::escaped_len(s)));
            return None;
        }
        e.extend_from_slice(&strings::escape_double_quotes(s));
        e.push(0);
        // SAFETY: `out` has dm_escaped_len(src) bytes (C contract) and does
        // not overlap the copy.
        unsafe { write_bytes(out, &e, "dm_escape_double_quotes", "out") }.then_some(out)
    })
}

/// Undo `dm_escape_double_quotes` in place.
#[no_mangle]
pub unsafe extern "C" fn dm_unescape_double_quotes(src: *mut c_char) {
    guard("dm_unescape_double_quotes", (), || {
        // SAFETY: a writable C string (C contract).
        let buf = unsafe { c_string_mut(src, "dm_unescape_double_quotes", "src") }?;
        strings::unescape_double_quotes_in_place(buf);
        Some(())
    })
}

/// Unescape `\:`, `\@` and `\\` in place; report the first unescaped `:`
/// and `@` (NULL when there is none).
#[no_mangle]
pub unsafe extern "C" fn dm_unescape_colons_and_at_signs(
    src: *mut c_char,
    substr_first_unquoted_colon: *mut *mut c_char,
    substr_first_unquoted_at_sign: *mut *mut c_char,
) {
    guard("dm_unescape_colons_and_at_signs", (), || {
        // SAFETY: a writable C string (C contract).
        let buf = unsafe { c_string_mut(src, "dm_unescape_colons_and_at_signs", "src") }?;
        let r = strings::unescape_colons_and_at_signs_in_place(buf);
        let at = |o: Option<usize>| o.map_or(null_mut(), |i| src.wrapping_add(i));
        // SAFETY: out-pointers, NULL or writable (C contract).
        unsafe {
            out(substr_first_unquoted_colon, at(r.first_colon));
            out(substr_first_unquoted_at_sign, at(r.first_at_sign));
        }
        Some(())
    })
}

/// Copy at most `n` bytes of `src` to `dest`, always NUL-terminated (when
/// `n > 0`); 0 when `src` did not fit.
#[no_mangle]
pub unsafe extern "C" fn dm_strncpy(dest: *mut c_char, src: *const c_char, n: usize) -> c_int {
    guard("dm_strncpy", 0, || {
        // SAFETY: `src` is readable up to its NUL or `n` bytes (C contract).
        let (s, fits) = unsafe { bounded_bytes(src, n, "dm_strncpy", "src") }?;
        if n == 0 {
            return Some(0);
        }
        let keep = if fits { s.len() } else { n - 1 };
        let mut v = Vec::new();
        if v.try_reserve_exact(keep + 1).is_err() {
            ffi::fail(&devmapper::Error::no_memory(keep + 1));
            return None;
        }
        v.extend_from_slice(&s[..keep]);
        v.push(0);
        // SAFETY: `dest` has room for `n` >= keep + 1 bytes (C contract).
        unsafe { write_bytes(dest, &v, "dm_strncpy", "dest") }.then_some(ffi::cbool(fits))
    })
}

/// `<vg>-<lv>[-<layer>]` with hyphens doubled, allocated from `mem`.
#[no_mangle]
pub unsafe extern "C" fn dm_build_dm_name(
    mem: *mut dm_pool,
    vgname: *const c_char,
    lvname: *const c_char,
    layer: *const c_char,
) -> *mut c_char {
    guard("dm_build_dm_name", null_mut(), || {
        // SAFETY: C strings (C contract); the layer may be NULL.
        let (vg, lv, ly) = unsafe {
            (
                arg_bytes(vgname, "dm_build_dm_name", "vgname")?,
                arg_bytes(lvname, "dm_build_dm_name", "lvname")?,
                opt_bytes(layer),
            )
        };
        let name = strings::build_dm_name(vg, lv, ly);
        // libdevmapper's size: every hyphen counted twice, one for each
        // separator, one for the NUL.
        let ly_text = ly.filter(|l| !l.is_empty());
        let hyphens = |s: &[u8]| s.iter().filter(|&&b| b == b'-').count();
        let size = 1
            + vg.len()
            + lv.len()
            + 1
            + hyphens(vg)
            + hyphens(lv)
            + ly_text.map_or(0, |l| l.len() + hyphens(l) + 1);
        let r = pool_copy(mem, &name, size.max(name.len() + 1));
        if r.is_none() {
            let text = |b: Option<&[u8]>| {
                b.map_or_else(
                    || "(null)".into(),
                    |b| String::from_utf8_lossy(b).into_owned(),
                )
            };
            devmapper::log_error!(
                &CTX,
                "build_dm_name: Allocation failed for {size} for {} {} {}.",
                text(Some(vg)),
                text(Some(lv)),
                text(ly)
            );
        }
        r
    })
}

/// `<prefix><lvid>[-<layer>]`, allocated from `mem`.
#[no_mangle]
pub unsafe extern "C" fn dm_build_dm_uuid(
    mem: *mut dm_pool,
    prefix: *const c_char,
    lvid: *const c_char,
    layer: *const c_char,
) -> *mut c_char {
    guard("dm_build_dm_uuid", null_mut(), || {
        // SAFETY: C strings (C contract); the layer may be NULL.
        let (pf, id, ly) = unsafe {
            (
                arg_bytes(prefix, "dm_build_dm_uuid", "prefix")?,
                arg_bytes(lvid, "dm_build_dm_uuid", "lvid")?,
                opt_bytes(layer).unwrap_or(b""),
            )
        };
        let uuid = strings::build_dm_uuid(pf, id, Some(ly));
        let size = pf.len() + id.len() + ly.len() + 2;
        let r = pool_copy(mem, &uuid, size);
        if r.is_none() {
            devmapper::log_error!(
                &CTX,
                "build_dm_name: Allocation failed for {size} {} {}.",
                String::from_utf8_lossy(id),
                String::from_utf8_lossy(ly)
            );
        }
        r
    })
}

/// `"<major>:<minor>"` into `buf` (at least 8 bytes); 0 when it does not fit
/// (the text is then cut).
#[no_mangle]
pub unsafe extern "C" fn dm_format_dev(
    buf: *mut c_char,
    bufsize: c_int,
    dev_major: u32,
    dev_minor: u32,
) -> c_int {
    guard("dm_format_dev", 0, || {
        if bufsize < 8 {
            return Some(0);
        }
        let text = strings::format_dev(dev_major, dev_minor);
        // SAFETY: `buf` has `bufsize` bytes (C contract).
        let fits = unsafe { copy_out(text.as_bytes(), buf, bufsize as usize) };
        Some(ffi::cbool(fits))
    })
}

/// The factor of a unit specifier (`k`, `M`, `8k`, ...); see
/// [`strings::units_to_factor`].
#[no_mangle]
pub unsafe extern "C" fn dm_units_to_factor(
    units: *const c_char,
    unit_type: *mut c_char,
    strict: c_int,
    endptr: *mut *const c_char,
) -> u64 {
    guard("dm_units_to_factor", 0, || {
        // SAFETY: a C string (C contract).
        let u = unsafe { arg_bytes(units, "dm_units_to_factor", "units") }?;
        let r = strings::units_to_factor(u, strict != 0);
        // SAFETY: out-pointers, NULL or writable (C contract).
        unsafe {
            out(endptr, units.wrapping_add(r.end));
            if let Some(t) = r.unit_type {
                out(unit_type, t as c_char);
            }
        }
        Some(r.factor)
    })
}

/// Size of the buffer `dm_size_to_string` allocates.
const SIZE_BUF: usize = 128;

/// A size in sectors as text, allocated from `mem`; "" on failure.
#[no_mangle]
pub unsafe extern "C" fn dm_size_to_string(
    mem: *mut dm_pool,
    size: u64,
    unit_type: c_char,
    use_si_units: c_int,
    unit_factor: u64,
    include_suffix: c_int,
    suffix_type: dm_size_suffix_t,
) -> *const c_char {
    const EMPTY: *const c_char = c"".as_ptr();
    guard("dm_size_to_string", EMPTY, || {
        let Some(buf) = alloc_bytes(mem, SIZE_BUF) else {
            devmapper::log_error!(&CTX, "no memory for size display buffer");
            return Some(EMPTY);
        };
        // An out-of-range suffix kind reads outside libdevmapper's table;
        // here it means no suffix.
        let (suffix, include) = match SizeSuffix::from_raw(suffix_type) {
            Some(s) => (s, include_suffix != 0),
            None => (SizeSuffix::Long, false),
        };
        let text = match strings::size_to_string(
            size,
            unit_type as u8,
            use_si_units != 0,
            unit_factor,
            include,
            suffix,
        ) {
            Ok(t) => t,
            Err(e) => {
                ffi::fail(&e);
                return Some(EMPTY);
            }
        };
        let buf = buf.cast::<c_char>();
        // SAFETY: the pool gave SIZE_BUF bytes; the text is shorter.
        unsafe { copy_out(text.as_bytes(), buf, SIZE_BUF) };
        Some(buf.cast_const())
    })
}
