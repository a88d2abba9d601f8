//! `dm_histogram_*` over [`devmapper::stats::Histogram`].
//!
//! A `struct dm_histogram` is one block from libc's `malloc` (a header and
//! the bins), as in libdevmapper: programs free bounds made by
//! `dm_histogram_bounds_from_*` with `dm_histogram_bounds_destroy`, and
//! dmsetup frees them with plain `free()`, so the block owns no other
//! memory. Histograms returned by `dm_stats_get_histogram` carry the handle
//! they belong to; the handle frees them (see `src/stats.rs`), and the
//! strings `dm_histogram_to_string` makes for them live in that handle.
//! Strings of bounds histograms (which stock cannot format: it dereferences
//! their missing handle) are kept for the life of the process, one copy per
//! distinct text.

use crate::ffi::{self, arg_bytes, guard, handle};
use crate::percent::dm_percent_t;
use crate::stats::{dm_stats, Interner};
use crate::CTX;
use devmapper::stats::{Bin, Histogram, HistogramFlags};
use std::ffi::{c_char, c_int};
use std::mem::{offset_of, size_of};
use std::ptr::{null, null_mut};

/// The opaque `struct dm_histogram`.
pub struct dm_histogram {
    _opaque: [u8; 0],
}

/// One bin as stored in the block.
#[repr(C)]
#[derive(Clone, Copy)]
struct CBin {
    upper: u64,
    count: u64,
}

/// The block's header; `nr_bins` bins follow at `bins`.
#[repr(C)]
struct Header {
    /// The handle the histogram belongs to; NULL for bounds.
    owner: *const dm_stats,
    sum: u64,
    nr_bins: usize,
    bins: [CBin; 0],
}

/// Strings of histograms that belong to no handle.
static LOOSE_STRINGS: parking_lot::Mutex<Option<Interner>> = parking_lot::Mutex::new(None);

/// A new block holding `h`, owned by `owner` (NULL: by the caller). NULL
/// (logged) when memory is short.
pub(crate) fn alloc(owner: *const dm_stats, h: &Histogram) -> *mut dm_histogram {
    let bins = h.bins();
    let size = bins
        .len()
        .checked_mul(size_of::<CBin>())
        .and_then(|b| b.checked_add(offset_of!(Header, bins)));
    let Some(size) = size else {
        devmapper::log_error!(&CTX, "Could not allocate histogram.");
        return null_mut();
    };
    // SAFETY: calloc has no preconditions.
    let p = unsafe { libc::calloc(1, size) }.cast::<Header>();
    if p.is_null() {
        devmapper::log_error!(&CTX, "Failed to allocate {size} bytes.");
        return null_mut();
    }
    // SAFETY: `p` is a fresh, zeroed block of `size` bytes, aligned for any
    // type by calloc: room for the header and `bins.len()` bins after it.
    unsafe {
        p.write(Header {
            owner,
            sum: h.sum(),
            nr_bins: bins.len(),
            bins: [],
        });
        let first = std::ptr::addr_of_mut!((*p).bins).cast::<CBin>();
        for (i, b) in bins.iter().enumerate() {
            first.add(i).write(CBin {
                upper: b.upper,
                count: b.count,
            });
        }
    }
    p.cast()
}

/// The header and bins of a histogram from C.
///
/// # Safety
/// `p` must be NULL or a live block made by [`alloc`].
unsafe fn parts<'a>(p: *const dm_histogram, what: &str) -> Option<(&'a Header, &'a [CBin])> {
    // SAFETY: NULL or a live block (contract above).
    let hdr = unsafe { handle(p.cast::<Header>(), what, "histogram") }?;
    // SAFETY: the block holds `nr_bins` initialised bins right after the
    // header (made by `alloc`) and lives as long as the header.
    let bins = unsafe {
        std::slice::from_raw_parts(std::ptr::addr_of!(hdr.bins).cast::<CBin>(), hdr.nr_bins)
    };
    Some((hdr, bins))
}

/// The core histogram of a block.
///
/// # Safety
/// As [`parts`].
pub(crate) unsafe fn read(p: *const dm_histogram, what: &str) -> Option<Histogram> {
    // SAFETY: forwarded contract.
    let (_, bins) = unsafe { parts(p, what) }?;
    Some(Histogram::from_bins(
        bins.iter()
            .map(|b| Bin {
                upper: b.upper,
                count: b.count,
            })
            .collect(),
    ))
}

/// Whether two blocks / a block and a histogram hold the same bins.
///
/// # Safety
/// `p` must be a live block made by [`alloc`].
pub(crate) unsafe fn same(p: *const dm_histogram, h: &Histogram) -> bool {
    // SAFETY: forwarded contract.
    let Some((_, bins)) = (unsafe { parts(p, "dm_stats_get_histogram") }) else {
        return false;
    };
    bins.len() == h.bins().len()
        && bins
            .iter()
            .zip(h.bins())
            .all(|(a, b)| a.upper == b.upper && a.count == b.count)
}

/// Free a block made by [`alloc`].
///
/// # Safety
/// `p` must be NULL or a block made by [`alloc`] that is not used again.
pub(crate) unsafe fn free(p: *mut dm_histogram) {
    // SAFETY: a calloc'ed block (contract above).
    unsafe { libc::free(p.cast()) }
}

/// A bin index from C (negative: none).
fn bin_index(bin: c_int) -> Option<usize> {
    usize::try_from(bin).ok()
}

/// Bounds from a string of comma-separated values with optional `ns`, `us`,
/// `ms` or `s` suffixes (a value without one takes the previous unit). The
/// caller frees them with `dm_histogram_bounds_destroy`.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_bounds_from_string(
    bounds_str: *const c_char,
) -> *mut dm_histogram {
    guard("dm_histogram_bounds_from_string", null_mut(), || {
        // SAFETY: a C string (C contract).
        let s = unsafe { arg_bytes(bounds_str, "dm_histogram_bounds_from_string", "string") }?;
        let h = ffi::ok(Histogram::bounds_from_string(s))?;
        Some(alloc(null(), &h))
    })
}

/// Bounds from an array of values in nanoseconds ended by a zero. The caller
/// frees them with `dm_histogram_bounds_destroy`.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_bounds_from_uint64(bounds: *const u64) -> *mut dm_histogram {
    guard("dm_histogram_bounds_from_uint64", null_mut(), || {
        // SAFETY: NULL or an array ended by 0 (C contract).
        let vals = unsafe { ffi::terminated(bounds, 0) };
        let h = ffi::ok(Histogram::bounds_from_u64(&vals))?;
        Some(alloc(null(), &h))
    })
}

/// Free bounds made by `dm_histogram_bounds_from_*`. A histogram that
/// belongs to a stats handle is refused (stock logs the same line, then
/// frees memory it does not own); the handle frees it.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_bounds_destroy(bounds: *mut dm_histogram) {
    guard("dm_histogram_bounds_destroy", (), || {
        if bounds.is_null() {
            return Some(());
        }
        // SAFETY: a block made by this library (C contract).
        let (hdr, _) = unsafe { parts(bounds, "dm_histogram_bounds_destroy") }?;
        if !hdr.owner.is_null() {
            devmapper::log_error!(
                &CTX,
                "Freeing invalid histogram bounds pointer {:p}.",
                bounds
            );
            return Some(());
        }
        // SAFETY: an owner-less block is the caller's to free.
        unsafe { free(bounds) };
        Some(())
    })
}

/// The number of bins.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_nr_bins(dmh: *const dm_histogram) -> c_int {
    guard("dm_histogram_get_nr_bins", 0, || {
        // SAFETY: a block made by this library (C contract).
        let (hdr, _) = unsafe { parts(dmh, "dm_histogram_get_nr_bins") }?;
        Some(c_int::try_from(hdr.nr_bins).unwrap_or(c_int::MAX))
    })
}

/// The lower bound of a bin in nanoseconds (the previous bin's upper bound;
/// 0 for the first).
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_bin_lower(dmh: *const dm_histogram, bin: c_int) -> u64 {
    guard("dm_histogram_get_bin_lower", 0, || {
        // SAFETY: a block made by this library (C contract).
        let h = unsafe { read(dmh, "dm_histogram_get_bin_lower") }?;
        Some(bin_index(bin).and_then(|b| h.bin_lower(b)).unwrap_or(0))
    })
}

/// The upper bound of a bin in nanoseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_bin_upper(dmh: *const dm_histogram, bin: c_int) -> u64 {
    guard("dm_histogram_get_bin_upper", 0, || {
        // SAFETY: a block made by this library (C contract).
        let h = unsafe { read(dmh, "dm_histogram_get_bin_upper") }?;
        Some(bin_index(bin).and_then(|b| h.bin_upper(b)).unwrap_or(0))
    })
}

/// The width of a bin (upper - lower) in nanoseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_bin_width(dmh: *const dm_histogram, bin: c_int) -> u64 {
    guard("dm_histogram_get_bin_width", 0, || {
        // SAFETY: a block made by this library (C contract).
        let h = unsafe { read(dmh, "dm_histogram_get_bin_width") }?;
        Some(bin_index(bin).and_then(|b| h.bin_width(b)).unwrap_or(0))
    })
}

/// The count of a bin.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_bin_count(dmh: *const dm_histogram, bin: c_int) -> u64 {
    guard("dm_histogram_get_bin_count", 0, || {
        // SAFETY: a block made by this library (C contract).
        let h = unsafe { read(dmh, "dm_histogram_get_bin_count") }?;
        Some(bin_index(bin).and_then(|b| h.bin_count(b)).unwrap_or(0))
    })
}

/// A bin's share of the sum of the counts.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_bin_percent(
    dmh: *const dm_histogram,
    bin: c_int,
) -> dm_percent_t {
    guard("dm_histogram_get_bin_percent", 0, || {
        // SAFETY: a block made by this library (C contract).
        let h = unsafe { read(dmh, "dm_histogram_get_bin_percent") }?;
        Some(bin_index(bin).and_then(|b| h.bin_percent(b)).unwrap_or(0))
    })
}

/// The sum of the bin counts.
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_get_sum(dmh: *const dm_histogram) -> u64 {
    guard("dm_histogram_get_sum", 0, || {
        // SAFETY: a block made by this library (C contract).
        let (hdr, _) = unsafe { parts(dmh, "dm_histogram_get_sum") }?;
        Some(hdr.sum)
    })
}

/// The histogram (`bin` < 0) or one bin as text: `width` is the minimum
/// width of each value (0: automatic, < 0: no padding), `flags` the
/// `DM_HISTOGRAM_*` parts to show. The string belongs to the histogram's
/// stats handle (valid until its next list, populate, bind or destroy).
#[no_mangle]
pub unsafe extern "C" fn dm_histogram_to_string(
    dmh: *const dm_histogram,
    bin: c_int,
    width: c_int,
    flags: c_int,
) -> *const c_char {
    guard("dm_histogram_to_string", null(), || {
        // SAFETY: a block made by this library (C contract).
        let (hdr, _) = unsafe { parts(dmh, "dm_histogram_to_string") }?;
        // SAFETY: as above.
        let h = unsafe { read(dmh, "dm_histogram_to_string") }?;
        let flags = HistogramFlags::from_bits_retain(flags as u32);
        let text = ffi::ok(h.to_string_with(bin_index(bin), width, flags))?;
        if hdr.owner.is_null() {
            let mut loose = LOOSE_STRINGS.lock();
            return Some(
                loose
                    .get_or_insert_with(Interner::default)
                    .get(text.as_bytes()),
            );
        }
        // SAFETY: a histogram of a handle lives no longer than its handle.
        let dms = unsafe { handle(hdr.owner, "dm_histogram_to_string", "stats handle") }?;
        Some(dms.hist_string(text.as_bytes()))
    })
}
