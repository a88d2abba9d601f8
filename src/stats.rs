//! `dm_stats_*`, `dm_message_supports_precise_timestamps` and
//! `dm_filemapd_mode_from_string` over [`devmapper::stats`].
//!
//! A `struct dm_stats` is a core [`Stats`] working in the library's context
//! plus what the C API hands out pointers to, with at least stock's
//! lifetimes (`devmapper/src/stats/CAPI.md`):
//!
//! * strings (program ids, aux data, aliases, the device name): one
//!   NUL-terminated copy per distinct text, kept until the next
//!   `dm_stats_bind_*` or `dm_stats_destroy` (stock frees some of them at
//!   the next list; keeping them longer is always safe);
//! * histograms from `dm_stats_get_histogram` (blocks of `src/histogram.rs`)
//!   and the strings `dm_histogram_to_string` makes for them: until the next
//!   list, populate, bind or destroy, as documented;
//! * buffers of `dm_stats_print_region` and `dm_stats_get_group_descriptor`:
//!   stock allocates them from the handle's pool, so `dm_stats_buffer_destroy`
//!   gives back a buffer and every buffer handed out after it, and a list,
//!   a full populate or a bind drops them all (stock's pool frees them with
//!   the region table).
//!
//! Failures print the error's lines, with stock's "Stats handle at %p is not
//! bound." carrying the handle's address. Where stock accepts a NULL handle
//! quietly (the walk functions, the counts, the region geometry getters,
//! destroy) so does this; elsewhere stock dereferences it and this logs an
//! internal error instead.

use crate::ffi::{self, arg_bytes, cbool, fail, guard, handle, handle_mut, opt_bytes, out};
use crate::histogram::{self, dm_histogram};
use crate::percent::dm_percent_t;
use crate::CTX;
use devmapper::stats::{
    start_filemapd, Counter, FilemapdMode, FilemapdStart, Metric, Stats, DM_STATS_REGIONS_ALL,
    DM_STATS_REGION_NOT_PRESENT,
};
use devmapper::{Context, Error, ErrorKind};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, CString};
use std::os::fd::BorrowedFd;
use std::ptr::{null, null_mut};

/// `dm_stats_obj_type_t` (the enum is in `src/header/families/stats.h`).
pub type dm_stats_obj_type_t = c_int;
/// `dm_stats_counter_t`.
pub type dm_stats_counter_t = c_int;
/// `dm_filemapd_mode_t`.
pub type dm_filemapd_mode_t = c_int;

type Core = Stats<&'static Context>;

/// NUL-terminated copies of byte strings, one per distinct text: the
/// pointers stay valid until [`Interner::clear`] or the drop.
#[derive(Default)]
pub(crate) struct Interner(RefCell<HashMap<Vec<u8>, CString>>);

impl Interner {
    /// The copy of `bytes` (cut at a NUL, which C could not see past).
    pub(crate) fn get(&self, bytes: &[u8]) -> *const c_char {
        let bytes = match bytes.iter().position(|&b| b == 0) {
            Some(n) => bytes.get(..n).unwrap_or(bytes),
            None => bytes,
        };
        let mut map = self.0.borrow_mut();
        if let Some(c) = map.get(bytes) {
            return c.as_ptr();
        }
        let c = CString::new(bytes).unwrap_or_default();
        let p = c.as_ptr();
        map.insert(bytes.to_vec(), c);
        p
    }

    fn clear(&self) {
        self.0.borrow_mut().clear();
    }
}

/// Where a `dm_stats_get_histogram` result came from: the ids asked for
/// and, when one of them is the cursor's, the cursor.
type HistKey = (u64, u64, u64, u64, u64);

/// Histograms handed out by a handle.
#[derive(Default)]
struct Hists {
    live: HashMap<HistKey, *mut dm_histogram>,
    /// Replaced by a histogram with other counts for the same key (group
    /// members changed): kept until the next clear, as the caller may hold
    /// them.
    retired: Vec<*mut dm_histogram>,
}

impl Hists {
    fn clear(&mut self) {
        for p in self
            .live
            .drain()
            .map(|(_, p)| p)
            .chain(self.retired.drain(..))
        {
            // SAFETY: every pointer here came from histogram::alloc, is owned
            // by this handle and is dropped from the tables now.
            unsafe { histogram::free(p) };
        }
    }
}

impl Drop for Hists {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Buffers handed out (from libc's malloc), oldest first.
#[derive(Default)]
struct Buffers(RefCell<Vec<*mut c_char>>);

impl Buffers {
    /// Keep a NUL-terminated copy of `bytes`; NULL (logged) when memory is
    /// short.
    fn keep(&self, bytes: &[u8]) -> *mut c_char {
        let p = ffi::malloc_bytes(bytes);
        if !p.is_null() {
            self.0.borrow_mut().push(p);
        }
        p
    }

    /// Free `p` and every buffer handed out after it (stock's pool order);
    /// unknown pointers are left alone.
    fn release_from(&self, p: *mut c_char) {
        let mut v = self.0.borrow_mut();
        if let Some(i) = v.iter().position(|&b| b == p) {
            for b in v.drain(i..) {
                // SAFETY: made by malloc_bytes and handed out only once.
                unsafe { libc::free(b.cast()) };
            }
        }
    }

    fn clear(&self) {
        for b in self.0.borrow_mut().drain(..) {
            // SAFETY: made by malloc_bytes; the table forgets it now.
            unsafe { libc::free(b.cast()) };
        }
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The opaque `struct dm_stats`.
pub struct dm_stats {
    core: Core,
    strings: Interner,
    hist_strings: Interner,
    hists: RefCell<Hists>,
    buffers: Buffers,
}

impl dm_stats {
    /// A string for C with the handle's lifetime.
    fn string(&self, bytes: &[u8]) -> *const c_char {
        self.strings.get(bytes)
    }

    /// A `dm_histogram_to_string` result for one of this handle's
    /// histograms.
    pub(crate) fn hist_string(&self, bytes: &[u8]) -> *const c_char {
        self.hist_strings.get(bytes)
    }

    /// Drop the histograms (and their strings) handed out.
    fn forget_histograms(&self) {
        self.hists.borrow_mut().clear();
        self.hist_strings.clear();
    }

    /// A bind: nothing handed out survives.
    fn forget_all(&self) {
        self.forget_histograms();
        self.buffers.clear();
        self.strings.clear();
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// The handle behind a `const struct dm_stats *`; NULL is logged.
///
/// # Safety
/// NULL or a live handle from `dm_stats_create` (C contract).
unsafe fn stats<'a>(p: *const dm_stats, what: &str) -> Option<&'a dm_stats> {
    // SAFETY: forwarded contract.
    unsafe { handle(p, what, "stats handle") }
}

/// The handle behind a `struct dm_stats *`; NULL is logged.
///
/// # Safety
/// As [`stats`], and C uses the handle from one thread at a time.
unsafe fn stats_mut<'a>(p: *mut dm_stats, what: &str) -> Option<&'a mut dm_stats> {
    // SAFETY: forwarded contract.
    unsafe { handle_mut(p, what, "stats handle") }
}

/// Print a failure of the handle at `dms`: stock's not-bound line names the
/// handle's address.
fn failed(dms: *const dm_stats, e: &Error) {
    if e.kind() == ErrorKind::NotBound && !e.is_silent() {
        let mut line = Error::new(
            ErrorKind::NotBound,
            format!("Stats handle at {dms:p} is not bound."),
        );
        for n in e.notes() {
            line = line.with_note(n.clone());
        }
        fail(&line);
    } else {
        fail(e);
    }
}

/// `1`, or `0` after printing the failure.
fn done_on(dms: *const dm_stats, r: Result<(), Error>) -> c_int {
    match r {
        Ok(()) => 1,
        Err(e) => {
            failed(dms, &e);
            0
        }
    }
}

/// The value, or `None` after printing the failure.
fn ok_on<T>(dms: *const dm_stats, r: Result<T, Error>) -> Option<T> {
    r.map_err(|e| failed(dms, &e)).ok()
}

/// `*out = v` on success (the getters with an out-parameter).
///
/// # Safety
/// A non-NULL `p` must be writable.
unsafe fn out_ok(dms: *const dm_stats, r: Result<u64, Error>, p: *mut u64) -> Option<c_int> {
    let v = ok_on(dms, r)?;
    // SAFETY: forwarded contract.
    unsafe { out(p, v) };
    Some(1)
}

/// Stock writes 0 to the length before looking the region up once the
/// handle has a table; a failure then leaves 0 behind.
///
/// # Safety
/// A non-NULL `p` must be writable.
unsafe fn len_out(dms: *const dm_stats, r: Result<u64, Error>, p: *mut u64) -> Option<c_int> {
    match r {
        Ok(v) => {
            // SAFETY: forwarded contract.
            unsafe { out(p, v) };
            Some(1)
        }
        Err(e) => {
            if e.kind() != ErrorKind::NotListed {
                // SAFETY: forwarded contract.
                unsafe { out(p, 0) };
            }
            failed(dms, &e);
            Some(0)
        }
    }
}

/// libdm's `dm_message_supports_precise_timestamps`: the driver version
/// check (its failure printed once, as `dm_check_version` does) and
/// interface 4.33 or later.
fn precise_supported() -> bool {
    match CTX.check_version() {
        Ok(v) => v[0] >= 4 && v[1] >= 33,
        Err(e) => {
            fail(&e);
            false
        }
    }
}

/// The number `BorrowedFd` cannot hold (-1) is passed to the system as this
/// one: every system call refuses both with `EBADF`.
const FD_STAND_IN: c_int = c_int::MIN;

/// Run `f` on the caller's file descriptor. Messages about the stand-in for
/// -1 name -1 again.
fn on_fd<R>(fd: c_int, f: impl FnOnce(BorrowedFd<'_>) -> Result<R, Error>) -> Result<R, Error> {
    let raw = if fd == -1 { FD_STAND_IN } else { fd };
    // SAFETY: `raw` is not -1, the one value BorrowedFd forbids. The
    // descriptor is the caller's and open for the duration of the call (C
    // contract); one that is not open only makes the system calls fail with
    // EBADF. It is never closed here.
    let b = unsafe { BorrowedFd::borrow_raw(raw) };
    let r = f(b);
    if fd != -1 {
        return r;
    }
    r.map_err(|e| {
        let from = format!("fd {FD_STAND_IN}");
        let fix = |s: &str| s.replace(&from, "fd -1");
        let mut n = Error::new(e.kind(), fix(e.message())).at_level(e.level());
        if let Some(errno) = e.errno() {
            n = n.with_errno(errno);
        }
        for note in e.notes() {
            n = n.with_note(fix(note));
        }
        if e.is_silent() {
            n = n.silently();
        }
        n
    })
}

/// A region id array for C: the ids, then `DM_STATS_REGION_NOT_PRESENT`,
/// from malloc (the caller frees it with `dm_free`/`free`).
fn id_array(ids: &[u64]) -> Option<*mut u64> {
    let p = ffi::malloc_terminated(ids, DM_STATS_REGION_NOT_PRESENT);
    (!p.is_null()).then_some(p)
}

/// stock passes a NULL aux_data to `%s`: glibc prints "(null)".
const NULL_TEXT: &[u8] = b"(null)";

// ---------------------------------------------------------------------------
// Handles and binding

/// A statistics handle using `program_id` (NULL or empty: the program's name
/// from /proc/self/comm) for the regions it creates and lists.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_create(program_id: *const c_char) -> *mut dm_stats {
    guard("dm_stats_create", null_mut(), || {
        // SAFETY: NULL or a C string (C contract).
        let pid = unsafe { opt_bytes(program_id) };
        let core = ffi::ok(Stats::new(&CTX, pid))?;
        Some(Box::into_raw(Box::new(dm_stats {
            core,
            strings: Interner::default(),
            hist_strings: Interner::default(),
            hists: RefCell::new(Hists::default()),
            buffers: Buffers::default(),
        })))
    })
}

/// Free a handle and everything it handed out.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_destroy(dms: *mut dm_stats) {
    guard("dm_stats_destroy", (), || {
        // SAFETY: NULL or a handle from dm_stats_create, not used again (C
        // contract).
        drop(unsafe { ffi::take_handle(dms) });
        Some(())
    })
}

/// Bind to the device `major:minor` (a major of 0 or less leaves the handle
/// unbound).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_bind_devno(
    dms: *mut dm_stats,
    major: c_int,
    minor: c_int,
) -> c_int {
    guard("dm_stats_bind_devno", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_bind_devno") }?;
        d.forget_all();
        d.core.bind_devno(major, minor);
        Some(1)
    })
}

/// Bind to the device named `name`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_bind_name(dms: *mut dm_stats, name: *const c_char) -> c_int {
    guard("dm_stats_bind_name", 0, || {
        // SAFETY: a handle and a C string (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_bind_name") }?;
        // SAFETY: as above.
        let name = unsafe { arg_bytes(name, "dm_stats_bind_name", "name") }?;
        d.forget_all();
        d.core.bind_name(name);
        Some(1)
    })
}

/// Bind to the device with uuid `uuid`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_bind_uuid(dms: *mut dm_stats, uuid: *const c_char) -> c_int {
    guard("dm_stats_bind_uuid", 0, || {
        // SAFETY: a handle and a C string (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_bind_uuid") }?;
        // SAFETY: as above.
        let uuid = unsafe { arg_bytes(uuid, "dm_stats_bind_uuid", "uuid") }?;
        d.forget_all();
        d.core.bind_uuid(uuid);
        Some(1)
    })
}

/// Bind to the device that holds the file open at `fd`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_bind_from_fd(dms: *mut dm_stats, fd: c_int) -> c_int {
    guard("dm_stats_bind_from_fd", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_bind_from_fd") }?;
        let r = on_fd(fd, |b| d.core.bind_from_fd(b));
        if r.is_ok() {
            d.forget_all();
        }
        Some(done_on(dms, r))
    })
}

/// Set the handle's program id (empty only with `allow_empty`).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_set_program_id(
    dms: *mut dm_stats,
    allow_empty: c_int,
    program_id: *const c_char,
) -> c_int {
    guard("dm_stats_set_program_id", 0, || {
        // SAFETY: a handle and NULL or a C string (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_set_program_id") }?;
        // SAFETY: as above.
        let pid = unsafe { opt_bytes(program_id) };
        Some(done_on(dms, d.core.set_program_id(allow_empty != 0, pid)))
    })
}

/// Whether the driver takes and reports `precise_timestamps` and histograms
/// (interface 4.33 or later).
#[no_mangle]
pub extern "C" fn dm_message_supports_precise_timestamps() -> c_int {
    guard("dm_message_supports_precise_timestamps", 0, || {
        Some(cbool(precise_supported()))
    })
}

/// Whether regions can have nanosecond counters.
#[no_mangle]
pub extern "C" fn dm_stats_driver_supports_precise() -> c_int {
    guard("dm_stats_driver_supports_precise", 0, || {
        Some(cbool(precise_supported()))
    })
}

/// Whether regions can have latency histograms.
#[no_mangle]
pub extern "C" fn dm_stats_driver_supports_histogram() -> c_int {
    guard("dm_stats_driver_supports_histogram", 0, || {
        Some(cbool(precise_supported()))
    })
}

// ---------------------------------------------------------------------------
// Regions

/// Read the device's regions of `program_id` (NULL: the handle's; "": all).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_list(dms: *mut dm_stats, program_id: *const c_char) -> c_int {
    guard("dm_stats_list", 0, || {
        // SAFETY: a handle and NULL or a C string (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_list") }?;
        // SAFETY: as above.
        let pid = unsafe { opt_bytes(program_id) };
        d.forget_histograms();
        d.buffers.clear();
        Some(done_on(dms, d.core.list(pid)))
    })
}

/// Read (and clear) the counters of every region (`DM_STATS_REGIONS_ALL`,
/// listing first) or of one listed region.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_populate(
    dms: *mut dm_stats,
    program_id: *const c_char,
    region_id: u64,
) -> c_int {
    guard("dm_stats_populate", 0, || {
        // SAFETY: a handle and NULL or a C string (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_populate") }?;
        // SAFETY: as above.
        let pid = unsafe { opt_bytes(program_id) };
        d.forget_histograms();
        if region_id == DM_STATS_REGIONS_ALL {
            d.buffers.clear();
        }
        Some(done_on(dms, d.core.populate(pid, region_id)))
    })
}

/// Create a region of `len` sectors at `start` (both 0: the whole device)
/// split into areas of `step` sectors (negative: into `-step` areas), with
/// nanosecond counters when `precise` > 0 and a latency histogram when
/// `bounds` is given; its id goes to `*region_id`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_create_region(
    dms: *mut dm_stats,
    region_id: *mut u64,
    start: u64,
    len: u64,
    step: i64,
    precise: c_int,
    bounds: *mut dm_histogram,
    program_id: *const c_char,
    user_data: *const c_char,
) -> c_int {
    guard("dm_stats_create_region", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_create_region") }?;
        if (precise != 0 || !bounds.is_null()) && !precise_supported() {
            return Some(0);
        }
        let b = if bounds.is_null() {
            None
        } else {
            // SAFETY: a histogram made by this library (C contract).
            Some(unsafe { histogram::read(bounds, "dm_stats_create_region") }?)
        };
        // SAFETY: NULL or C strings (C contract).
        let (pid, aux) = unsafe { (opt_bytes(program_id), opt_bytes(user_data)) };
        let r = d.core.create_region(
            start,
            len,
            step,
            precise > 0,
            b.as_ref(),
            pid,
            aux.unwrap_or(NULL_TEXT),
        );
        // SAFETY: NULL or writable (C contract).
        unsafe { out_ok(dms, r, region_id) }
    })
}

/// `dm_stats_create_region@DM_1_02_104` and `@DM_1_02_106` (no histogram;
/// the older one passes `precise` 0), bound by `src/shim.c`.
///
/// cbindgen:ignore
#[no_mangle]
pub unsafe extern "C" fn dmrs_stats_create_region_compat(
    dms: *mut dm_stats,
    region_id: *mut u64,
    start: u64,
    len: u64,
    step: i64,
    precise: c_int,
    program_id: *const c_char,
    aux_data: *const c_char,
) -> c_int {
    guard("dm_stats_create_region", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_create_region") }?;
        // SAFETY: NULL or C strings (C contract).
        let (pid, aux) = unsafe { (opt_bytes(program_id), opt_bytes(aux_data)) };
        let r = d.core.create_region_compat(
            start,
            len,
            step,
            precise > 0,
            pid,
            aux.unwrap_or(NULL_TEXT),
        );
        // SAFETY: NULL or writable (C contract).
        unsafe { out_ok(dms, r, region_id) }
    })
}

/// Delete a region (and take it out of its group).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_delete_region(dms: *mut dm_stats, region_id: u64) -> c_int {
    guard("dm_stats_delete_region", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_delete_region") }?;
        Some(done_on(dms, d.core.delete_region(region_id)))
    })
}

/// Zero a region's counters.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_clear_region(dms: *mut dm_stats, region_id: u64) -> c_int {
    guard("dm_stats_clear_region", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_clear_region") }?;
        Some(done_on(dms, d.core.clear_region(region_id)))
    })
}

/// The kernel's text for a region's areas (`num_lines` from `start_line`,
/// 0: all), optionally clearing them; give it back with
/// `dm_stats_buffer_destroy`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_print_region(
    dms: *mut dm_stats,
    region_id: u64,
    start_line: c_uint,
    num_lines: c_uint,
    clear: c_uint,
) -> *mut c_char {
    guard("dm_stats_print_region", null_mut(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_print_region") }?;
        let text = ok_on(
            dms,
            d.core
                .print_region(region_id, start_line, num_lines, clear != 0),
        )?;
        let p = d.buffers.keep(&text);
        (!p.is_null()).then_some(p)
    })
}

/// Give back a buffer from `dm_stats_print_region` or
/// `dm_stats_get_group_descriptor` (and, as stock's pool does, every buffer
/// the handle handed out after it).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_buffer_destroy(dms: *mut dm_stats, buffer: *mut c_char) {
    guard("dm_stats_buffer_destroy", (), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_buffer_destroy") }?;
        d.buffers.release_from(buffer);
        Some(())
    })
}

/// The number of listed regions (0 before a list).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_nr_regions(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_nr_regions", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_nr_regions") }?;
        Some(d.core.nr_regions())
    })
}

/// The number of listed groups.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_nr_groups(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_nr_groups", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_nr_groups") }?;
        Some(d.core.nr_groups())
    })
}

/// Whether the listed table has a region `region_id`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_region_present(dms: *const dm_stats, region_id: u64) -> c_int {
    guard("dm_stats_region_present", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_region_present") }?;
        Some(cbool(d.core.region_present(region_id)))
    })
}

/// Whether the listed table has a group `group_id`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_group_present(dms: *const dm_stats, group_id: u64) -> c_int {
    guard("dm_stats_group_present", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_group_present") }?;
        Some(cbool(d.core.group_present(group_id)))
    })
}

/// The number of areas of a region (1 for groups and aggregates).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_nr_areas(dms: *const dm_stats, region_id: u64) -> u64 {
    guard("dm_stats_get_region_nr_areas", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_nr_areas") }?;
        Some(d.core.region_nr_areas(region_id))
    })
}

/// The number of areas of all regions (as stock computes it: see CAPI.md).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_nr_areas(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_nr_areas", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_nr_areas") }?;
        Some(d.core.nr_areas())
    })
}

/// The number of histogram bins of a region (0: none).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_nr_histogram_bins(
    dms: *const dm_stats,
    region_id: u64,
) -> c_int {
    guard("dm_stats_get_region_nr_histogram_bins", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_nr_histogram_bins") }?;
        let n = d.core.region_nr_histogram_bins(region_id);
        Some(c_int::try_from(n).unwrap_or(c_int::MAX))
    })
}

// ---------------------------------------------------------------------------
// Sampling interval

/// Set the sampling interval the metrics divide by, in nanoseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_set_sampling_interval_ns(dms: *mut dm_stats, interval_ns: u64) {
    guard("dm_stats_set_sampling_interval_ns", (), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_set_sampling_interval_ns") }?;
        d.core.set_sampling_interval_ns(interval_ns);
        Some(())
    })
}

/// Set the sampling interval in milliseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_set_sampling_interval_ms(dms: *mut dm_stats, interval_ms: u64) {
    guard("dm_stats_set_sampling_interval_ms", (), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_set_sampling_interval_ms") }?;
        d.core.set_sampling_interval_ms(interval_ms);
        Some(())
    })
}

/// The sampling interval in nanoseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_sampling_interval_ns(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_sampling_interval_ns", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_sampling_interval_ns") }?;
        Some(d.core.sampling_interval_ns())
    })
}

/// The sampling interval in milliseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_sampling_interval_ms(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_sampling_interval_ms", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_sampling_interval_ms") }?;
        Some(d.core.sampling_interval_ms())
    })
}

// ---------------------------------------------------------------------------
// Region geometry and properties

/// The first sector of a region (of a group: of its first member).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_start(
    dms: *const dm_stats,
    start: *mut u64,
    region_id: u64,
) -> c_int {
    guard("dm_stats_get_region_start", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_start") }?;
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.region_start(region_id), start) }
    })
}

/// The length of a region in sectors (of a group: the sum of its members').
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_len(
    dms: *const dm_stats,
    len: *mut u64,
    region_id: u64,
) -> c_int {
    guard("dm_stats_get_region_len", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_len") }?;
        // SAFETY: as above.
        unsafe { len_out(dms, d.core.region_len(region_id), len) }
    })
}

/// The area size of a region in sectors (groups and aggregates: their
/// length).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_area_len(
    dms: *const dm_stats,
    len: *mut u64,
    region_id: u64,
) -> c_int {
    guard("dm_stats_get_region_area_len", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_area_len") }?;
        // SAFETY: as above.
        unsafe { len_out(dms, d.core.region_area_len(region_id), len) }
    })
}

/// The first sector of an area.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_area_start(
    dms: *const dm_stats,
    start: *mut u64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    guard("dm_stats_get_area_start", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_area_start") }?;
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.area_start(region_id, area_id), start) }
    })
}

/// The offset of an area from its region's start, in sectors.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_area_offset(
    dms: *const dm_stats,
    offset: *mut u64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    guard("dm_stats_get_area_offset", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_area_offset") }?;
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.area_offset(region_id, area_id), offset) }
    })
}

/// The cursor's region start.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region_start(
    dms: *const dm_stats,
    start: *mut u64,
) -> c_int {
    guard("dm_stats_get_current_region_start", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region_start") }?;
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.current_region_start(), start) }
    })
}

/// The cursor's region length.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region_len(
    dms: *const dm_stats,
    len: *mut u64,
) -> c_int {
    guard("dm_stats_get_current_region_len", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region_len") }?;
        // SAFETY: as above.
        unsafe { len_out(dms, d.core.current_region_len(), len) }
    })
}

/// The cursor's region area size.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region_area_len(
    dms: *const dm_stats,
    area_len: *mut u64,
) -> c_int {
    guard("dm_stats_get_current_region_area_len", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region_area_len") }?;
        // SAFETY: as above.
        unsafe { len_out(dms, d.core.current_region_area_len(), area_len) }
    })
}

/// The cursor's area start.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_area_start(
    dms: *const dm_stats,
    start: *mut u64,
) -> c_int {
    guard("dm_stats_get_current_area_start", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_area_start") }?;
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.current_area_start(), start) }
    })
}

/// The cursor's area offset.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_area_offset(
    dms: *const dm_stats,
    offset: *mut u64,
) -> c_int {
    guard("dm_stats_get_current_area_offset", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_area_offset") }?;
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.current_area_offset(), offset) }
    })
}

/// The cursor's area length.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_area_len(
    dms: *const dm_stats,
    start: *mut u64,
) -> c_int {
    guard("dm_stats_get_current_area_len", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_area_len") }?;
        // SAFETY: as above.
        unsafe { len_out(dms, d.core.current_area_len(), start) }
    })
}

/// A region's program id (a group's: the handle's).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_program_id(
    dms: *const dm_stats,
    region_id: u64,
) -> *const c_char {
    guard("dm_stats_get_region_program_id", null(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_program_id") }?;
        Some(d.string(d.core.region_program_id(region_id)))
    })
}

/// A region's aux data (without the group tag).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_aux_data(
    dms: *const dm_stats,
    region_id: u64,
) -> *const c_char {
    guard("dm_stats_get_region_aux_data", null(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_aux_data") }?;
        Some(d.string(d.core.region_aux_data(region_id)))
    })
}

/// The cursor's region program id.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region_program_id(
    dms: *const dm_stats,
) -> *const c_char {
    guard("dm_stats_get_current_region_program_id", null(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region_program_id") }?;
        Some(d.string(d.core.current_region_program_id()))
    })
}

/// The cursor's region aux data.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region_aux_data(
    dms: *const dm_stats,
) -> *const c_char {
    guard("dm_stats_get_current_region_aux_data", null(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region_aux_data") }?;
        Some(d.string(d.core.current_region_aux_data()))
    })
}

/// Whether a region has nanosecond counters.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_region_precise_timestamps(
    dms: *const dm_stats,
    region_id: u64,
) -> c_int {
    guard("dm_stats_get_region_precise_timestamps", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_region_precise_timestamps") }?;
        Some(cbool(d.core.region_precise_timestamps(region_id)))
    })
}

/// Whether the cursor's region has nanosecond counters.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region_precise_timestamps(
    dms: *const dm_stats,
) -> c_int {
    guard("dm_stats_get_current_region_precise_timestamps", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region_precise_timestamps") }?;
        Some(cbool(d.core.current_region_precise_timestamps()))
    })
}

// ---------------------------------------------------------------------------
// The cursor

/// Set what the next walk visits (`DM_STATS_WALK_*`).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_walk_init(dms: *mut dm_stats, flags: u64) -> c_int {
    guard("dm_stats_walk_init", 0, || {
        if dms.is_null() {
            return Some(0);
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_walk_init") }?;
        Some(done_on(dms, d.core.walk_init(flags)))
    })
}

/// Put the cursor on the first object of the walk.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_walk_start(dms: *mut dm_stats) {
    guard("dm_stats_walk_start", (), || {
        if dms.is_null() {
            return Some(());
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_walk_start") }?;
        d.core.walk_start();
        Some(())
    })
}

/// Move the cursor to the next object.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_walk_next(dms: *mut dm_stats) {
    guard("dm_stats_walk_next", (), || {
        if dms.is_null() {
            return Some(());
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_walk_next") }?;
        d.core.walk_next();
        Some(())
    })
}

/// Move the cursor to the next region (skipping the current one's areas).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_walk_next_region(dms: *mut dm_stats) {
    guard("dm_stats_walk_next_region", (), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_walk_next_region") }?;
        d.core.walk_next_region();
        Some(())
    })
}

/// Whether the walk is over (then the next one may start).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_walk_end(dms: *mut dm_stats) -> c_int {
    guard("dm_stats_walk_end", 1, || {
        if dms.is_null() {
            return Some(1);
        }
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_walk_end") }?;
        Some(cbool(d.core.walk_end()))
    })
}

/// What a region id / area id pair names (`DM_STATS_OBJECT_TYPE_*`).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_object_type(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> dm_stats_obj_type_t {
    guard("dm_stats_object_type", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_object_type") }?;
        Some(d.core.object_type(region_id, area_id) as dm_stats_obj_type_t)
    })
}

/// What the cursor is on.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_current_object_type(dms: *const dm_stats) -> dm_stats_obj_type_t {
    guard("dm_stats_current_object_type", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_current_object_type") }?;
        Some(d.core.current_object_type() as dm_stats_obj_type_t)
    })
}

/// The number of areas of the cursor's region.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_nr_areas(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_current_nr_areas", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_nr_areas") }?;
        Some(d.core.current_nr_areas())
    })
}

/// The cursor's region id (may carry `DM_STATS_WALK_GROUP`).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_region(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_current_region", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_region") }?;
        Some(d.core.current_region())
    })
}

/// The cursor's area id.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_current_area(dms: *const dm_stats) -> u64 {
    guard("dm_stats_get_current_area", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_current_area") }?;
        Some(d.core.current_area())
    })
}

// ---------------------------------------------------------------------------
// Groups

/// Group the listed regions `members` ("1,3-5"; the lowest id leads and
/// names the group), optionally with an alias; its id goes to `*group_id`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_create_group(
    dms: *mut dm_stats,
    members: *const c_char,
    alias: *const c_char,
    group_id: *mut u64,
) -> c_int {
    guard("dm_stats_create_group", 0, || {
        // SAFETY: a handle, C strings and an out-parameter (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_create_group") }?;
        // SAFETY: as above.
        let members = unsafe { arg_bytes(members, "dm_stats_create_group", "region list") }?;
        // SAFETY: as above.
        let alias = unsafe { opt_bytes(alias) };
        // SAFETY: as above.
        unsafe { out_ok(dms, d.core.create_group(members, alias), group_id) }
    })
}

/// Ungroup a group's regions (and delete them with `remove`).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_delete_group(
    dms: *mut dm_stats,
    group_id: u64,
    remove: c_int,
) -> c_int {
    guard("dm_stats_delete_group", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_delete_group") }?;
        Some(done_on(dms, d.core.delete_group(group_id, remove != 0)))
    })
}

/// Set a group's alias.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_set_alias(
    dms: *mut dm_stats,
    group_id: u64,
    alias: *const c_char,
) -> c_int {
    guard("dm_stats_set_alias", 0, || {
        // SAFETY: a handle and NULL or a C string (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_set_alias") }?;
        // SAFETY: as above.
        let Some(alias) = (unsafe { opt_bytes(alias) }) else {
            // Stock fails quietly.
            return Some(0);
        };
        Some(done_on(dms, d.core.set_alias(group_id, alias)))
    })
}

/// The alias of the group a region or group id belongs to, else the device
/// name.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_alias(dms: *const dm_stats, id: u64) -> *const c_char {
    guard("dm_stats_get_alias", null(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_alias") }?;
        Some(d.core.alias(id).map_or(null(), |a| d.string(a)))
    })
}

/// The group a region belongs to (`DM_STATS_GROUP_NONE`: none).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_group_id(dms: *const dm_stats, region_id: u64) -> u64 {
    guard("dm_stats_get_group_id", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_group_id") }?;
        Some(d.core.group_id(region_id))
    })
}

/// A group's members as text ("0-2,5") in `*buf`, a buffer of the handle.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_group_descriptor(
    dms: *const dm_stats,
    group_id: u64,
    buf: *mut *mut c_char,
) -> c_int {
    guard("dm_stats_get_group_descriptor", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_group_descriptor") }?;
        let text = ok_on(dms, d.core.group_descriptor(group_id))?;
        let p = d.buffers.keep(text.as_bytes());
        if p.is_null() {
            return Some(0);
        }
        // SAFETY: as above.
        unsafe { out(buf, p) };
        Some(1)
    })
}

// ---------------------------------------------------------------------------
// File maps

/// One region per extent of the file open at `fd` (on the bound device),
/// grouped (with `alias`) when `group` is set. Returns the region ids ended
/// by `DM_STATS_REGION_NOT_PRESENT`, for the caller to `dm_free`.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_create_regions_from_fd(
    dms: *mut dm_stats,
    fd: c_int,
    group: c_int,
    precise: c_int,
    bounds: *mut dm_histogram,
    alias: *const c_char,
) -> *mut u64 {
    guard("dm_stats_create_regions_from_fd", null_mut(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_create_regions_from_fd") }?;
        let b = if bounds.is_null() {
            None
        } else {
            // SAFETY: a histogram made by this library (C contract).
            Some(unsafe { histogram::read(bounds, "dm_stats_create_regions_from_fd") }?)
        };
        // SAFETY: NULL or a C string (C contract).
        let alias = unsafe { opt_bytes(alias) };
        let r = on_fd(fd, |f| {
            d.core
                .create_regions_from_fd(f, group != 0, precise > 0, b.as_ref(), alias)
        });
        id_array(&ok_on(dms, r)?)
    })
}

/// Bring the file-mapped group `group_id` up to date with the extents of
/// the file open at `fd`. Returns every region id of the map (as
/// `dm_stats_create_regions_from_fd`).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_update_regions_from_fd(
    dms: *mut dm_stats,
    fd: c_int,
    group_id: u64,
) -> *mut u64 {
    guard("dm_stats_update_regions_from_fd", null_mut(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats_mut(dms, "dm_stats_update_regions_from_fd") }?;
        let r = on_fd(fd, |f| d.core.update_regions_from_fd(f, group_id));
        id_array(&ok_on(dms, r)?)
    })
}

/// `"inode"` (or NULL) or `"path"` as a `dm_filemapd_mode_t`;
/// `DM_FILEMAPD_FOLLOW_NONE` (logged) for anything else.
#[no_mangle]
pub unsafe extern "C" fn dm_filemapd_mode_from_string(
    mode_str: *const c_char,
) -> dm_filemapd_mode_t {
    guard(
        "dm_filemapd_mode_from_string",
        FilemapdMode::FollowNone as dm_filemapd_mode_t,
        || {
            // SAFETY: NULL or a C string (C contract).
            let m = unsafe { opt_bytes(mode_str) };
            let mode = devmapper::stats::filemapd_mode_from_string(m).unwrap_or_else(|e| {
                fail(&e);
                FilemapdMode::FollowNone
            });
            Some(mode as dm_filemapd_mode_t)
        },
    )
}

/// Start `dmfilemapd` to keep the group `group_id` mapped to the file open
/// at `fd` (`path` absolute). In the background (`foreground` 0) this
/// returns once the daemon is spawned; if it cannot be executed the failure
/// is logged and the call still succeeds, as stock's forked child fails
/// after its parent returned.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_start_filemapd(
    fd: c_int,
    group_id: u64,
    path: *const c_char,
    mode: dm_filemapd_mode_t,
    foreground: c_uint,
    verbose: c_uint,
) -> c_int {
    guard("dm_stats_start_filemapd", 0, || {
        // SAFETY: NULL or a C string (C contract).
        let p = match unsafe { opt_bytes(path) } {
            Some(p) => p,
            // Stock checks the descriptor before it reads the path.
            None if fd < 0 => b"",
            None => {
                // SAFETY: as above; this only logs the NULL argument.
                let _ = unsafe { arg_bytes(path, "dm_stats_start_filemapd", "path") };
                return Some(0);
            }
        };
        let mode = match mode {
            0 => FilemapdMode::FollowInode,
            1 => FilemapdMode::FollowPath,
            _ => FilemapdMode::FollowNone,
        };
        match start_filemapd(&CTX, fd, group_id, p, mode, foreground, verbose) {
            Ok(FilemapdStart::Started { .. }) => Some(1),
            Ok(FilemapdStart::ExecFailed { log_line }) => {
                devmapper::log_error!(&CTX, "{log_line}");
                Some(1)
            }
            Err(e) => {
                fail(&e);
                Some(0)
            }
        }
    })
}

// ---------------------------------------------------------------------------
// Counters

/// One counter of an area, region or group.
///
/// # Safety
/// `dms` is NULL or a handle (C contract).
unsafe fn counter_of(
    dms: *const dm_stats,
    what: &'static str,
    counter: Counter,
    region_id: u64,
    area_id: u64,
) -> u64 {
    guard(what, 0, || {
        // SAFETY: forwarded contract.
        let d = unsafe { stats(dms, what) }?;
        ok_on(dms, d.core.counter(counter, region_id, area_id)).or(Some(0))
    })
}

/// A counter (`DM_STATS_*` of `dm_stats_counter_t`) of an area, a region
/// (`DM_STATS_WALK_REGION` as area) or a group.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_counter(
    dms: *const dm_stats,
    counter: dm_stats_counter_t,
    region_id: u64,
    area_id: u64,
) -> u64 {
    guard("dm_stats_get_counter", 0, || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_counter") }?;
        let Some(c) = Counter::from_raw(counter) else {
            // Stock logs this when it reads the area's counters.
            if d.core.counters(region_id, area_id).is_ok() {
                devmapper::log_error!(&CTX, "Attempt to read invalid counter: {counter}");
            }
            return Some(0);
        };
        ok_on(dms, d.core.counter(c, region_id, area_id)).or(Some(0))
    })
}

/// Reads completed.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_reads(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_reads",
            Counter::Reads,
            region_id,
            area_id,
        )
    }
}

/// Reads merged.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_reads_merged(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_reads_merged",
            Counter::ReadsMerged,
            region_id,
            area_id,
        )
    }
}

/// Sectors read.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_read_sectors(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_read_sectors",
            Counter::ReadSectors,
            region_id,
            area_id,
        )
    }
}

/// Time spent reading (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_read_nsecs(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_read_nsecs",
            Counter::ReadNsecs,
            region_id,
            area_id,
        )
    }
}

/// Writes completed.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_writes(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_writes",
            Counter::Writes,
            region_id,
            area_id,
        )
    }
}

/// Writes merged.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_writes_merged(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_writes_merged",
            Counter::WritesMerged,
            region_id,
            area_id,
        )
    }
}

/// Sectors written.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_write_sectors(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_write_sectors",
            Counter::WriteSectors,
            region_id,
            area_id,
        )
    }
}

/// Time spent writing (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_write_nsecs(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_write_nsecs",
            Counter::WriteNsecs,
            region_id,
            area_id,
        )
    }
}

/// I/Os in progress.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_io_in_progress(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_io_in_progress",
            Counter::IoInProgress,
            region_id,
            area_id,
        )
    }
}

/// Time spent doing I/O (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_io_nsecs(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_io_nsecs",
            Counter::IoNsecs,
            region_id,
            area_id,
        )
    }
}

/// Weighted time spent doing I/O (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_weighted_io_nsecs(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_weighted_io_nsecs",
            Counter::WeightedIoNsecs,
            region_id,
            area_id,
        )
    }
}

/// Total time spent reading (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_total_read_nsecs(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_total_read_nsecs",
            Counter::TotalReadNsecs,
            region_id,
            area_id,
        )
    }
}

/// Total time spent writing (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_total_write_nsecs(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> u64 {
    // SAFETY: forwarded C contract.
    unsafe {
        counter_of(
            dms,
            "dm_stats_get_total_write_nsecs",
            Counter::TotalWriteNsecs,
            region_id,
            area_id,
        )
    }
}

// ---------------------------------------------------------------------------
// Metrics

/// A metric (`dm_stats_metric_t` value) into `*value`: 0 without a sampling
/// interval (quietly, as stock) and for an unknown metric (logged).
///
/// # Safety
/// `dms` is NULL or a handle, `value` NULL or writable (C contract).
unsafe fn metric_of(
    dms: *const dm_stats,
    what: &'static str,
    metric: c_int,
    region_id: u64,
    area_id: u64,
    value: *mut f64,
) -> c_int {
    guard(what, 0, || {
        // SAFETY: forwarded contract.
        let d = unsafe { stats(dms, what) }?;
        if d.core.sampling_interval_ns() == 0 {
            return Some(0);
        }
        let Some(m) = Metric::from_raw(metric) else {
            devmapper::log_error!(&CTX, "Attempt to read invalid metric: {metric}");
            return Some(0);
        };
        let v = ok_on(dms, d.core.metric(m, region_id, area_id))?;
        // SAFETY: forwarded contract.
        unsafe { out(value, v) };
        Some(1)
    })
}

/// A metric (`DM_STATS_*` of `dm_stats_metric_t`) of an area, a region or a
/// group, given a sampling interval.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_metric(
    dms: *const dm_stats,
    metric: c_int,
    region_id: u64,
    area_id: u64,
    value: *mut f64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_metric",
            metric,
            region_id,
            area_id,
            value,
        )
    }
}

/// Read merges per second.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_rd_merges_per_sec(
    dms: *const dm_stats,
    rrqm: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_rd_merges_per_sec",
            Metric::RdMergesPerSec as c_int,
            region_id,
            area_id,
            rrqm,
        )
    }
}

/// Write merges per second.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_wr_merges_per_sec(
    dms: *const dm_stats,
    rrqm: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_wr_merges_per_sec",
            Metric::WrMergesPerSec as c_int,
            region_id,
            area_id,
            rrqm,
        )
    }
}

/// Reads per second.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_reads_per_sec(
    dms: *const dm_stats,
    rd_s: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_reads_per_sec",
            Metric::ReadsPerSec as c_int,
            region_id,
            area_id,
            rd_s,
        )
    }
}

/// Writes per second.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_writes_per_sec(
    dms: *const dm_stats,
    wr_s: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_writes_per_sec",
            Metric::WritesPerSec as c_int,
            region_id,
            area_id,
            wr_s,
        )
    }
}

/// Sectors read per second.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_read_sectors_per_sec(
    dms: *const dm_stats,
    rsec_s: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_read_sectors_per_sec",
            Metric::ReadSectorsPerSec as c_int,
            region_id,
            area_id,
            rsec_s,
        )
    }
}

/// Sectors written per second.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_write_sectors_per_sec(
    dms: *const dm_stats,
    wr_s: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_write_sectors_per_sec",
            Metric::WriteSectorsPerSec as c_int,
            region_id,
            area_id,
            wr_s,
        )
    }
}

/// Average request size (sectors).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_average_request_size(
    dms: *const dm_stats,
    arqsz: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_average_request_size",
            Metric::AverageRequestSize as c_int,
            region_id,
            area_id,
            arqsz,
        )
    }
}

/// Average service time (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_service_time(
    dms: *const dm_stats,
    svctm: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_service_time",
            Metric::ServiceTime as c_int,
            region_id,
            area_id,
            svctm,
        )
    }
}

/// Average queue size.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_average_queue_size(
    dms: *const dm_stats,
    qusz: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_average_queue_size",
            Metric::AverageQueueSize as c_int,
            region_id,
            area_id,
            qusz,
        )
    }
}

/// Average wait time (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_average_wait_time(
    dms: *const dm_stats,
    wait_time: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_average_wait_time",
            Metric::AverageWaitTime as c_int,
            region_id,
            area_id,
            wait_time,
        )
    }
}

/// Average read wait time (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_average_rd_wait_time(
    dms: *const dm_stats,
    wait_time: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_average_rd_wait_time",
            Metric::AverageRdWaitTime as c_int,
            region_id,
            area_id,
            wait_time,
        )
    }
}

/// Average write wait time (ns).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_average_wr_wait_time(
    dms: *const dm_stats,
    wait_time: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_average_wr_wait_time",
            Metric::AverageWrWaitTime as c_int,
            region_id,
            area_id,
            wait_time,
        )
    }
}

/// Throughput (I/Os per second).
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_throughput(
    dms: *const dm_stats,
    tput: *mut f64,
    region_id: u64,
    area_id: u64,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        metric_of(
            dms,
            "dm_stats_get_throughput",
            Metric::Throughput as c_int,
            region_id,
            area_id,
            tput,
        )
    }
}

/// Utilization as a percentage.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_utilization(
    dms: *const dm_stats,
    util: *mut dm_percent_t,
    region_id: u64,
    area_id: u64,
) -> c_int {
    guard("dm_stats_get_utilization", 0, || {
        // SAFETY: a handle and an out-parameter (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_utilization") }?;
        if d.core.sampling_interval_ns() == 0 {
            return Some(0);
        }
        let v = ok_on(dms, d.core.utilization_percent(region_id, area_id))?;
        // SAFETY: as above.
        unsafe { out(util, v) };
        Some(1)
    })
}

// ---------------------------------------------------------------------------
// Histograms

/// The histogram of an area, a region (`DM_STATS_WALK_REGION` as area) or a
/// group; the bounds when the handle is listed but not populated; NULL
/// without one. It belongs to the handle.
#[no_mangle]
pub unsafe extern "C" fn dm_stats_get_histogram(
    dms: *const dm_stats,
    region_id: u64,
    area_id: u64,
) -> *mut dm_histogram {
    guard("dm_stats_get_histogram", null_mut(), || {
        // SAFETY: a handle (C contract).
        let d = unsafe { stats(dms, "dm_stats_get_histogram") }?;
        let Some(h) = d.core.histogram(region_id, area_id) else {
            return Some(null_mut());
        };
        let key = if region_id == u64::MAX || area_id == u64::MAX {
            let (_, r, a, g) = d.core.cursor_state();
            (region_id, area_id, r, a, g)
        } else {
            (region_id, area_id, 0, 0, 0)
        };
        let mut hs = d.hists.borrow_mut();
        if let Some(&p) = hs.live.get(&key) {
            // SAFETY: a live histogram of this handle.
            if unsafe { histogram::same(p, &h) } {
                return Some(p);
            }
        }
        let p = histogram::alloc(dms, &h);
        if p.is_null() {
            return None;
        }
        if let Some(old) = hs.live.insert(key, p) {
            hs.retired.push(old);
        }
        Some(p)
    })
}
