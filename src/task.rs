//! `dm_task_*` and `dm_get_next_target`: a `struct dm_task` is a core
//! [`Task`] plus what the C API hands out pointers to.

use crate::ffi::{self, arg_bytes, copy_out, done, guard, handle, handle_mut, malloc_bytes, ok};
use crate::timestamp::dm_timestamp;
use crate::CTX;
use devmapper::kernel::abi::{DmFlags, DM_NAME_LEN, DM_UUID_LEN};
use devmapper::mangle::{self, ManglingMode};
use devmapper::secret::Secret;
use devmapper::task::{Begun, InPlace, Info, Table, TableTarget, Task, TaskType};
use std::ffi::{c_char, c_int, c_void};
use std::ptr::{null, null_mut};

/// The opaque `struct dm_task`.
pub struct dm_task {
    task: Task,
    /// For `dm_get_next_target` on a task that has not read a table back:
    /// NUL-terminated copies of the parameters of the targets whose encoding
    /// in the task's table differs from what was added (a backslash is
    /// doubled there), by offset of their record; every other answer points
    /// into the table itself. Wiped when dropped. Usually empty.
    unescaped: Vec<(usize, Secret)>,
    timestamp: Option<Box<dm_timestamp>>,
    /// `dm_get_next_target`'s walk of a read-back table in place.
    walk: Walk,
}

/// Where `dm_get_next_target`'s fast path reads: the window
/// ([`Task::reply_spec_window`]) of the task's last reply, and the one
/// cursor it answers (the one the last step handed out). Set by a step of
/// the other path, reset by every run (which is what may replace the
/// reply: the window is valid until then).
#[derive(Clone, Copy)]
struct Walk {
    /// The reply buffer.
    base: *mut u8,
    /// The largest offset with a spec's 40-byte fixed part inside it.
    limit: usize,
    /// The first spec's offset, which next offsets count from.
    first: usize,
    /// The last spec's offset (its step ends the walk).
    last: usize,
    /// The cursor the fast path answers; `usize::MAX` (beyond `limit`)
    /// for none.
    cursor: usize,
}

impl Walk {
    const NONE: Walk = Walk {
        base: null_mut(),
        limit: 0,
        first: 0,
        last: 0,
        cursor: usize::MAX,
    };
}

/// `struct dm_info`: 48 bytes.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct dm_info {
    pub exists: c_int,
    pub suspended: c_int,
    pub live_table: c_int,
    pub inactive_table: c_int,
    pub open_count: i32,
    pub event_nr: u32,
    pub major: u32,
    pub minor: u32,
    pub read_only: c_int,
    pub target_count: i32,
    pub deferred_remove: c_int,
    pub internal_suspend: c_int,
}

/// `struct dm_deps`.
#[repr(C)]
pub struct dm_deps {
    pub count: u32,
    pub filler: u32,
    pub device: [u64; 0],
}

/// `struct dm_names`.
#[repr(C)]
pub struct dm_names {
    pub dev: u64,
    pub next: u32,
    pub name: [c_char; 0],
}

/// `struct dm_versions`.
#[repr(C)]
pub struct dm_versions {
    pub next: u32,
    pub version: [u32; 3],
    pub name: [c_char; 0],
}

const _: () = {
    assert!(std::mem::size_of::<dm_info>() == 48);
    assert!(std::mem::offset_of!(dm_info, deferred_remove) == 40);
    assert!(std::mem::offset_of!(dm_info, internal_suspend) == 44);
    assert!(std::mem::size_of::<dm_names>() == 16);
    assert!(std::mem::offset_of!(dm_names, name) == 12);
    assert!(std::mem::offset_of!(dm_versions, name) == 16);
    assert!(std::mem::size_of::<dm_deps>() == 8);
};

impl From<Info> for dm_info {
    fn from(i: Info) -> dm_info {
        dm_info {
            exists: i.exists,
            suspended: i.suspended,
            live_table: i.live_table,
            inactive_table: i.inactive_table,
            open_count: i.open_count,
            event_nr: i.event_nr,
            major: i.major,
            minor: i.minor,
            read_only: i.read_only,
            target_count: i.target_count,
            deferred_remove: i.deferred_remove,
            internal_suspend: i.internal_suspend,
        }
    }
}

/// The task behind a `struct dm_task *`.
unsafe fn task<'a>(dmt: *const dm_task, what: &str) -> Option<&'a dm_task> {
    // SAFETY: task pointers come from dm_task_create (C contract).
    unsafe { handle(dmt, what, "task") }
}

/// The task behind a `struct dm_task *`, mutably.
unsafe fn task_mut<'a>(dmt: *mut dm_task, what: &str) -> Option<&'a mut dm_task> {
    // SAFETY: as above; C does not share a task between threads.
    unsafe { handle_mut(dmt, what, "task") }
}

/// Shared body of the setters that only record a value.
unsafe fn set(dmt: *mut dm_task, what: &'static str, f: impl FnOnce(&mut Task)) -> c_int {
    guard(what, 0, || {
        // SAFETY: dmt is a task handle (C contract).
        f(&mut unsafe { task_mut(dmt, what) }?.task);
        Some(1)
    })
}

/// Shared body of the string setters.
unsafe fn set_str(
    dmt: *mut dm_task,
    s: *const c_char,
    what: &'static str,
    arg: &str,
    f: fn(&mut Task, &devmapper::Context, &[u8]) -> devmapper::Result<()>,
) -> c_int {
    guard(what, 0, || {
        // SAFETY: dmt is a task handle, s a C string (C contract).
        let (t, s) = unsafe { (task_mut(dmt, what)?, arg_bytes(s, what, arg)?) };
        done(f(&mut t.task, &CTX, s))
    })
}

/// The block of the last destroyed task, for the next one.
static SPARE_TASK: ffi::Spare<dm_task> = ffi::Spare::new();

#[no_mangle]
pub extern "C" fn dm_task_create(type_: c_int) -> *mut dm_task {
    guard("dm_task_create", null_mut(), || {
        ok(CTX.check_version())?;
        Some(SPARE_TASK.boxed(
            || dm_task {
                task: Task::new(type_),
                unescaped: Vec::new(),
                timestamp: None,
                walk: Walk::NONE,
            },
            // The spare was emptied (as new) when its task was destroyed.
            |t| t.task.raw_type = type_,
        ))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_destroy(dmt: *mut dm_task) {
    guard("dm_task_destroy", (), || {
        if !dmt.is_null() {
            // SAFETY: a task handle (C contract), not used by C again.
            if let Some(m) = unsafe { &mut *dmt }.task.message.take() {
                // Its block (wiped) serves the next message.
                m.recycle();
            }
        }
        // SAFETY: the pointer came from dm_task_create and is not used again.
        // Its value is emptied as dropping it would (wipes included) and
        // kept, as a new task of no type, for the next dm_task_create.
        unsafe {
            SPARE_TASK.destroy(dmt, |t| {
                let dm_task {
                    task,
                    unescaped,
                    timestamp,
                    walk,
                } = t;
                task.reset(0);
                *unescaped = Vec::new();
                *timestamp = None;
                *walk = Walk::NONE;
            })
        };
        Some(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_run(dmt: *mut dm_task) -> c_int {
    guard("dm_task_run", 0, || {
        // SAFETY: dmt is a task handle (C contract).
        let t = unsafe { task_mut(dmt, "dm_task_run") }?;
        // The run may replace the reply the walk reads.
        t.walk = Walk::NONE;
        done(t.task.run(&CTX))
    })
}

/// Load the table read-only.
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_ro(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_ro", |t| t.read_only = true) }
}
/// Suspend without flushing queued I/O.
#[no_mangle]
pub unsafe extern "C" fn dm_task_no_flush(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_no_flush", |t| t.no_flush = true) }
}
/// Skip the open count (ignored by current kernels).
#[no_mangle]
pub unsafe extern "C" fn dm_task_no_open_count(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_no_open_count", |t| t.no_open_count = true) }
}
/// Do not freeze the filesystem on suspend.
#[no_mangle]
pub unsafe extern "C" fn dm_task_skip_lockfs(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_skip_lockfs", |t| t.skip_lockfs = true) }
}
/// Report on the inactive table.
#[no_mangle]
pub unsafe extern "C" fn dm_task_query_inactive_table(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        set(dmt, "dm_task_query_inactive_table", |t| {
            t.query_inactive_table = true
        })
    }
}
/// Skip a reload whose table equals the live one.
#[no_mangle]
pub unsafe extern "C" fn dm_task_suppress_identical_reload(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        set(dmt, "dm_task_suppress_identical_reload", |t| {
            t.suppress_identical_reload = true
        })
    }
}
/// Ask the kernel to wipe its copies of the buffers.
#[no_mangle]
pub unsafe extern "C" fn dm_task_secure_data(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_secure_data", |t| t.secure_data = true) }
}
/// Retry a remove that fails with EBUSY.
#[no_mangle]
pub unsafe extern "C" fn dm_task_retry_remove(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_retry_remove", |t| t.retry_remove = true) }
}
/// Remove on last close if the device is open.
#[no_mangle]
pub unsafe extern "C" fn dm_task_deferred_remove(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_deferred_remove", |t| t.deferred_remove = true) }
}
/// Enable extra checks before suspending.
#[no_mangle]
pub unsafe extern "C" fn dm_task_enable_checks(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_enable_checks", |t| t.enable_checks = true) }
}
/// Return the IMA measurement with STATUS/TABLE.
#[no_mangle]
pub unsafe extern "C" fn dm_task_ima_measurement(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_ima_measurement", |t| t.ima_measurement = true) }
}
/// Record the time of each ioctl.
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_record_timestamp(dmt: *mut dm_task) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        set(dmt, "dm_task_set_record_timestamp", |t| {
            t.record_timestamp = true
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_name(dmt: *mut dm_task, s: *const c_char) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set_str(dmt, s, "dm_task_set_name", "name", Task::set_name) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_uuid(dmt: *mut dm_task, s: *const c_char) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set_str(dmt, s, "dm_task_set_uuid", "uuid", Task::set_uuid) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_newname(dmt: *mut dm_task, s: *const c_char) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set_str(dmt, s, "dm_task_set_newname", "new name", Task::set_newname) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_newuuid(dmt: *mut dm_task, s: *const c_char) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set_str(dmt, s, "dm_task_set_newuuid", "new uuid", Task::set_newuuid) }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_message(dmt: *mut dm_task, message: *const c_char) -> c_int {
    guard("dm_task_set_message", 0, || {
        let what = "dm_task_set_message";
        // SAFETY: a task handle and a C string (C contract).
        let (t, m) = unsafe {
            (
                task_mut(dmt, what)?,
                ffi::arg_cstr(message, what, "message")?,
            )
        };
        // The copy is the caller's size: fail, do not abort, without memory.
        done(t.task.try_set_message_cstr(m))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_sector(dmt: *mut dm_task, sector: u64) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_sector", |t| t.sector = Some(sector)) }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_geometry(
    dmt: *mut dm_task,
    cylinders: *const c_char,
    heads: *const c_char,
    sectors: *const c_char,
    start: *const c_char,
) -> c_int {
    guard("dm_task_set_geometry", 0, || {
        let what = "dm_task_set_geometry";
        // SAFETY: a task handle and four C strings (C contract).
        let (t, c, h, s, st) = unsafe {
            (
                task_mut(dmt, what)?,
                arg_bytes(cylinders, what, "argument")?,
                arg_bytes(heads, what, "argument")?,
                arg_bytes(sectors, what, "argument")?,
                arg_bytes(start, what, "argument")?,
            )
        };
        done(t.task.try_set_geometry(c, h, s, st))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_major(dmt: *mut dm_task, v: c_int) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_major", |t| t.set_major(v)) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_minor(dmt: *mut dm_task, v: c_int) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_minor", |t| t.minor = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_uid(dmt: *mut dm_task, v: libc::uid_t) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_uid", |t| t.uid = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_gid(dmt: *mut dm_task, v: libc::gid_t) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_gid", |t| t.gid = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_mode(dmt: *mut dm_task, v: libc::mode_t) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_mode", |t| t.mode = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_event_nr(dmt: *mut dm_task, v: u32) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { set(dmt, "dm_task_set_event_nr", |t| t.event_nr = v) }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_major_minor(
    dmt: *mut dm_task,
    major: c_int,
    minor: c_int,
    allow_default_major_fallback: c_int,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        set(dmt, "dm_task_set_major_minor", |t| {
            t.set_major_minor(major, minor, allow_default_major_fallback != 0)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_add_node(
    dmt: *mut dm_task,
    add_node: crate::consts::dm_add_node_t,
) -> c_int {
    guard("dm_task_set_add_node", 0, || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task_mut(dmt, "dm_task_set_add_node") }?;
        done(t.task.set_add_node(add_node))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_read_ahead(
    dmt: *mut dm_task,
    read_ahead: u32,
    read_ahead_flags: u32,
) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe {
        set(dmt, "dm_task_set_read_ahead", |t| {
            t.read_ahead = read_ahead;
            t.read_ahead_flags = read_ahead_flags;
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_cookie(
    dmt: *mut dm_task,
    cookie: *mut u32,
    flags: u16,
) -> c_int {
    // The usual cookie (no udev sync, the driver version known) is set
    // without a call, so the export needs no frame; everything else,
    // NULL arguments and every error path included, is the full setter's.
    let known = guard("dm_task_set_cookie", false, || {
        Some(
            !dmt.is_null() && !cookie.is_null() && {
                // SAFETY: non-NULL: a task handle and the caller's cookie
                // variable (C contract).
                let (t, c) = unsafe { (&mut *dmt, &mut *cookie) };
                t.task.set_cookie_known(&CTX, c, flags)
            },
        )
    });
    if known {
        return 1;
    }
    // SAFETY: the caller's arguments, under the same contract.
    unsafe { set_cookie_full(dmt, cookie, flags) }
}

/// `dm_task_set_cookie` when its answer is not known without a call.
///
/// # Safety
/// `dm_task_set_cookie`'s arguments.
#[cold]
#[inline(never)]
unsafe fn set_cookie_full(dmt: *mut dm_task, cookie: *mut u32, flags: u16) -> c_int {
    guard("dm_task_set_cookie", 0, || {
        let what = "dm_task_set_cookie";
        // SAFETY: a task handle and the caller's cookie variable (C contract).
        let (t, c) = unsafe { (task_mut(dmt, what)?, handle_mut(cookie, what, "cookie")?) };
        done(t.task.set_cookie(&CTX, c, flags))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_add_target(
    dmt: *mut dm_task,
    start: u64,
    size: u64,
    ttype: *const c_char,
    params: *const c_char,
) -> c_int {
    // The usual target (a short type name, parameters without a
    // backslash, continuing a table whose storage has room) is added
    // without a call when its parameters are shorter than 16 bytes:
    // nothing in it can unwind, so the guard costs nothing, and the export
    // needs no frame. Longer parameters are finished out of line, where
    // the call to measure them is. Everything else (the first target,
    // growth, a backslash in the first 16 bytes, gaps, every error and
    // its log line) is the other path's, which starts over: the fast path
    // changes nothing unless it adds or begins the target.
    let fast = guard("dm_task_add_target", InPlace::Refused, || {
        // SAFETY: the caller's arguments (C contract).
        Some(unsafe { add_target_fast(dmt, start, size, ttype, params) })
    });
    match fast {
        InPlace::Added => 1,
        // SAFETY: the caller's arguments, under the same contract; the
        // fast path found 16 bytes of parameters, neither NUL nor
        // backslash, and began the record in `dmt`'s table.
        InPlace::Long(begun) => unsafe { add_target_long(dmt, start, size, ttype, params, begun) },
        // SAFETY: the caller's arguments, under the same contract.
        InPlace::Refused => unsafe { add_target_first(dmt, start, size, ttype, params) },
    }
}

/// `dm_task_add_target` when its fast path changed nothing: the first
/// target of a task (its table has no storage yet) gets the storage for
/// a small table (the block the previous table left, usually) and the
/// export runs again, to take its fast path (a second copy of it here
/// would make the compiler outline parts of both); any other case is
/// [`add_target_other`]'s. The second run comes back here only when the
/// table has storage: then it goes on to [`add_target_other`] (which
/// finds the storage made and uses it).
///
/// # Safety
/// `dm_task_add_target`'s arguments.
///
/// `extern "C"` (so it cannot unwind: its guard catches panics) lets the
/// export jump to it.
#[inline(never)]
unsafe extern "C" fn add_target_first(
    dmt: *mut dm_task,
    start: u64,
    size: u64,
    ttype: *const c_char,
    params: *const c_char,
) -> c_int {
    let started = guard("dm_task_add_target", false, || {
        if ttype.is_null() || params.is_null() {
            return Some(false); // the other path's error
        }
        // SAFETY: NULL or a task handle (C contract); NULL is the other
        // path's (logged there).
        Some(unsafe { dmt.as_mut() }.is_some_and(|t| t.task.start_table()))
    });
    if started {
        // SAFETY: the caller's arguments, under the same contract.
        return unsafe { dm_task_add_target(dmt, start, size, ttype, params) };
    }
    // SAFETY: the caller's arguments, under the same contract.
    unsafe { add_target_other(dmt, start, size, ttype, params) }
}

/// `dm_task_add_target` after its fast path began the record of longer
/// parameters (their first 16 bytes written): the rest searched for a
/// backslash or its end in one call (`strchrnul`), then [`Begun::finish`]
/// ([`Begun::finish_escaped`] for a rest with backslashes, measured on
/// with `strlen`); when the record does not fit, it is wiped and
/// [`add_target_other`] starts over (and grows the table).
///
/// # Safety
/// `dm_task_add_target`'s arguments, `params` a C string whose first 16
/// bytes are neither NUL nor backslash, `begun` borrowing the table of
/// `dmt`'s task (used here only once it is gone).
///
/// `extern "C"` (so it cannot unwind) lets the export jump to it; `begun`
/// comes last, so that the export's arguments stay where they are.
#[inline(never)]
unsafe extern "C" fn add_target_long(
    dmt: *mut dm_task,
    start: u64,
    size: u64,
    ttype: *const c_char,
    params: *const c_char,
    begun: Begun<'_>,
) -> c_int {
    let added = guard("dm_task_add_target", false, move || {
        // SAFETY: a C string whose first 16 bytes are not NUL goes on at
        // byte 16 (a C string too); strchrnul stops at its first backslash
        // or at its NUL, within it; from a backslash, strlen measures on
        // to the same NUL. The bytes before that NUL are the rest of the
        // string (one object: at most isize::MAX bytes), which stays as it
        // is during this call (C contract).
        unsafe {
            let rest = params.add(16);
            let stop = libc::strchrnul(rest, c_int::from(b'\\'));
            if stop.read() == 0 {
                let n = stop.offset_from(rest) as usize;
                return Some(begun.finish(std::slice::from_raw_parts(rest.cast(), n)));
            }
            // A backslash: the rest measured on from it (its NUL is the
            // string's), each backslash doubled as the table is written.
            let n = stop.offset_from(rest) as usize + libc::strlen(stop);
            Some(begun.finish_escaped(std::slice::from_raw_parts(rest.cast(), n)))
        }
    });
    if added {
        return 1;
    }
    // SAFETY: the caller's arguments, under the same contract (`begun` is
    // gone).
    unsafe { add_target_other(dmt, start, size, ttype, params) }
}

/// [`dm_task_add_target`]'s usual case: whether it added the target
/// ([`InPlace::Added`]), began it ([`InPlace::Long`]) or changed nothing.
/// The strings are copied into the task's table as they are scanned, one
/// byte at a time and never past a NUL or beyond 16 bytes: a type name of
/// 1 to 15 bytes and parameters without a backslash in their first 16, or
/// the other path takes over. A call to `strlen` would cost more for
/// short strings, and a frame to keep the arguments in across it.
///
/// # Safety
/// `dm_task_add_target`'s arguments: NULL or a task handle, NULL or C
/// strings.
#[inline(always)]
unsafe fn add_target_fast<'t>(
    dmt: *mut dm_task,
    start: u64,
    size: u64,
    ttype: *const c_char,
    params: *const c_char,
) -> InPlace<'t> {
    // SAFETY: NULL or a task handle (C contract); NULL is the other
    // path's (logged there).
    let Some(t) = (unsafe { dmt.as_mut() }) else {
        return InPlace::Refused;
    };
    if ttype.is_null() || params.is_null() || !t.unescaped.is_empty() {
        return InPlace::Refused;
    }
    let (ttype, params) = (ttype.cast::<u8>(), params.cast::<u8>());
    t.task.add_target_in_place(start, size, |ty, p| {
        // SAFETY: non-NULL C strings (C contract): byte i is read only
        // when bytes 0..i were not NUL, so it is part of the string.
        unsafe {
            copy_type(ttype, ty)?;
            copy_plain_params(params, p)
        }
    })
}

/// Copy the C string at `s` into `field` (zero) when it is 1 to 15 bytes
/// long; `None` (nothing written, or an unterminated field) otherwise.
///
/// # Safety
/// `s` is a C string.
#[inline(always)]
unsafe fn copy_type(s: *const u8, field: &mut [u8; 16]) -> Option<()> {
    for (i, d) in field.iter_mut().enumerate() {
        // SAFETY: see add_target_fast.
        let b = unsafe { s.add(i).read() };
        if b == 0 {
            return (i != 0).then_some(());
        }
        *d = b;
    }
    None
}

/// Copy the C string at `s` into `field` (zero), up to its first 16
/// bytes, when those hold no backslash (libdm's escaping): its length
/// when it is at most 15 bytes long; 16 when it goes on; `None` for a
/// backslash. A byte with no bit outside `0x5c`'s (one test) is looked
/// at again: NUL and backslash are two of the sixteen such bytes; digits,
/// lower case letters, spaces and colons are none of them.
///
/// # Safety
/// `s` is a C string.
#[inline(always)]
unsafe fn copy_plain_params(s: *const u8, field: &mut [u8; 16]) -> Option<usize> {
    for (i, d) in field.iter_mut().enumerate() {
        // SAFETY: see add_target_fast.
        let b = unsafe { s.add(i).read() };
        // Stored first (a NUL changes nothing, a backslash is wiped): the
        // byte is then dead but for the rare second look, which leaves
        // the export a register to spare (no frame at all).
        *d = b;
        if b & !b'\\' == 0 {
            if b == b'\\' {
                return None;
            }
            if b == 0 {
                return Some(i);
            }
        }
    }
    // Neither in 16 bytes: the parameters go on (a C string).
    Some(16)
}

/// Every case of `dm_task_add_target` its fast path leaves (see there).
///
/// # Safety
/// `dm_task_add_target`'s arguments.
///
/// `extern "C"` (so it cannot unwind: its guard catches panics) lets the
/// export jump to it instead of calling it inside a frame of its own.
#[inline(never)]
unsafe extern "C" fn add_target_other(
    dmt: *mut dm_task,
    start: u64,
    size: u64,
    ttype: *const c_char,
    params: *const c_char,
) -> c_int {
    guard("dm_task_add_target", 0, move || {
        let what = "dm_task_add_target";
        // SAFETY: a task handle and two C strings (C contract).
        let (t, ty, p) = unsafe {
            (
                task_mut(dmt, what)?,
                ffi::arg_cstr(ttype, what, "target type")?,
                ffi::arg_cstr(params, what, "parameters")?,
            )
        };
        if !t.unescaped.is_empty() {
            drop_unescaped(t);
        }
        // Encoded straight into the task's table: no other copy is kept.
        done(t.task.add_target_cstr(start, size, ty, p))
    })
}

/// Forget the unescaped copies (wiped) that `dm_get_next_target` made:
/// out of line, so that the usual add keeps a small frame.
#[cold]
#[inline(never)]
fn drop_unescaped(t: &mut dm_task) {
    t.unescaped.clear();
}

// ----- results -----

/// Copy the info into the caller's struct, `bytes` of it (48, 44 or 40
/// depending on which ABI version the caller was compiled against).
fn fill_info(t: &dm_task, info: *mut dm_info, bytes: usize) -> Option<c_int> {
    if info.is_null() {
        devmapper::log_error!(
            &CTX,
            "Internal error: dm_task_get_info called with a NULL info pointer."
        );
        return None;
    }
    let full = dm_info::from(t.task.info()?);
    if bytes >= std::mem::size_of::<dm_info>() {
        // SAFETY: the caller's struct is a whole dm_info (C contract); C
        // structs need not be aligned more than their fields, which
        // write_unaligned does not assume.
        unsafe { info.write_unaligned(full) };
        return Some(1);
    }
    // SAFETY: the caller's struct has at least `bytes` bytes (C contract).
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&full as *const dm_info).cast::<u8>(),
            info.cast::<u8>(),
            bytes,
        )
    };
    Some(1)
}

/// `dm_task_get_info@@DM_1_02_97`: fills all 48 bytes.
#[no_mangle]
pub unsafe extern "C" fn dm_task_get_info(dmt: *mut dm_task, info: *mut dm_info) -> c_int {
    guard("dm_task_get_info", 0, || {
        // SAFETY: a task handle (C contract).
        fill_info(unsafe { task(dmt, "dm_task_get_info") }?, info, 48)
    })
}

/// Internal: full info for the shim's `dm_task_get_info@Base` (40 bytes).
#[no_mangle]
pub unsafe extern "C" fn dmrs_task_get_info_full(dmt: *mut dm_task, info: *mut dm_info) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { dm_task_get_info(dmt, info) }
}

/// `dm_task_get_info_with_deferred_remove`: the 44-byte layout of 1.02.89–96.
#[no_mangle]
pub unsafe extern "C" fn dm_task_get_info_with_deferred_remove(
    dmt: *mut dm_task,
    info: *mut dm_info,
) -> c_int {
    guard("dm_task_get_info_with_deferred_remove", 0, || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_info_with_deferred_remove") }?;
        fill_info(t, info, 44)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_errno(dmt: *mut dm_task) -> c_int {
    guard("dm_task_get_errno", 0, || {
        // SAFETY: a task handle (C contract).
        Some(unsafe { task(dmt, "dm_task_get_errno") }?.task.ioctl_errno)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_driver_version(
    dmt: *mut dm_task,
    version: *mut c_char,
    size: usize,
) -> c_int {
    guard("dm_task_get_driver_version", 0, || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_driver_version") }?;
        let Some(v) = t.task.reply_driver_version() else {
            // SAFETY: a caller buffer of `size` bytes (C contract).
            unsafe { copy_out(b"", version, size) };
            return None;
        };
        let s = format!("{}.{}.{}", v[0], v[1], v[2]);
        // SAFETY: a caller buffer of `size` bytes (C contract).
        unsafe { copy_out(s.as_bytes(), version, size) };
        Some(1)
    })
}

static EMPTY: [c_char; 1] = [0];

/// A pointer to a NUL-terminated field of the reply header (the codec has
/// checked the NUL), or `""` before a run.
fn header_field(t: &dm_task, off: usize) -> *const c_char {
    match t.task.reply.as_ref() {
        Some(r) => r.buf.as_bytes()[off..].as_ptr().cast(),
        None => EMPTY.as_ptr(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_name(dmt: *const dm_task) -> *const c_char {
    guard("dm_task_get_name", null(), || {
        // SAFETY: a task handle (C contract); read-only access.
        Some(header_field(unsafe { task(dmt, "dm_task_get_name") }?, 48))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_uuid(dmt: *const dm_task) -> *const c_char {
    guard("dm_task_get_uuid", null(), || {
        // SAFETY: a task handle (C contract); read-only access.
        Some(header_field(unsafe { task(dmt, "dm_task_get_uuid") }?, 176))
    })
}

fn reply_string(t: &dm_task, uuid: bool) -> Option<&[u8]> {
    let s = if uuid {
        t.task.reply_uuid()
    } else {
        t.task.reply_name()
    };
    if s.is_none() {
        devmapper::log_error!(
            &CTX,
            "Internal error: no {} available: the task has not run.",
            if uuid { "uuid" } else { "name" }
        );
    }
    s
}

fn mangled_copy(t: &dm_task, uuid: bool) -> Option<*mut c_char> {
    let s = reply_string(t, uuid)?;
    let (kind, max) = if uuid {
        ("UUID", DM_UUID_LEN)
    } else {
        ("name", DM_NAME_LEN)
    };
    let m = mangle::mangle_unchecked(s, CTX.mangling_mode(), kind, max)
        .map_err(|e| ffi::fail(&devmapper::Error::invalid(e.to_string())))
        .ok()?;
    Some(malloc_bytes(m.as_deref().unwrap_or(s)))
}

fn unmangled_copy(t: &dm_task, uuid: bool) -> Option<*mut c_char> {
    let s = reply_string(t, uuid)?;
    // In other modes the run already unmangled the reply.
    if CTX.mangling_mode() != ManglingMode::None {
        return Some(malloc_bytes(s));
    }
    let u = mangle::unmangle_as(s, ManglingMode::None, if uuid { "UUID" } else { "name" })
        .map_err(|e| ffi::fail(&devmapper::Error::invalid(e.to_string())))
        .ok()?;
    Some(malloc_bytes(u.as_deref().unwrap_or(s)))
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_name_mangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_name_mangled", null_mut(), || {
        // SAFETY: a task handle (C contract).
        mangled_copy(unsafe { task(dmt, "dm_task_get_name_mangled") }?, false)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_uuid_mangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_uuid_mangled", null_mut(), || {
        // SAFETY: a task handle (C contract).
        mangled_copy(unsafe { task(dmt, "dm_task_get_uuid_mangled") }?, true)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_name_unmangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_name_unmangled", null_mut(), || {
        // SAFETY: a task handle (C contract).
        unmangled_copy(unsafe { task(dmt, "dm_task_get_name_unmangled") }?, false)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_uuid_unmangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_uuid_unmangled", null_mut(), || {
        // SAFETY: a task handle (C contract).
        unmangled_copy(unsafe { task(dmt, "dm_task_get_uuid_unmangled") }?, true)
    })
}

/// A zeroed record, returned for empty payloads so callers that read the
/// first entry unconditionally see "empty".
#[repr(C, align(8))]
struct ZeroRecord([u8; 32]);
static ZERO_RECORD: ZeroRecord = ZeroRecord([0; 32]);

/// A pointer to the payload of a successful run of one of `types`, after
/// checking that the payload parses (so C walkers stay in bounds).
fn payload_ptr(
    t: &dm_task,
    what: &str,
    types: &[TaskType],
    check: fn(&[u8]) -> bool,
) -> Option<*mut c_void> {
    let Some(off) = t.task.payload_offset() else {
        devmapper::log_error!(
            &CTX,
            "Internal error: {what}: the task has not run successfully."
        );
        return None;
    };
    if !t.task.task_type().is_some_and(|ty| types.contains(&ty)) {
        devmapper::log_error!(&CTX, "Internal error: {what}: wrong task type.");
        return None;
    }
    // A reply whose data_start/data_size do not delimit a payload inside
    // the buffer is as malformed as one whose records do not parse.
    let payload = t.task.reply_payload();
    if !payload.is_some_and(|p| t.task.payload_checked || check(p)) {
        devmapper::log_error!(
            &CTX,
            "Internal error: {what}: the kernel's reply is malformed."
        );
        return None;
    }
    let payload = payload?;
    let buf = t.task.reply.as_ref()?.buf.as_bytes();
    Some(if buf.len() >= off + 16 && !payload.is_empty() {
        buf[off..].as_ptr().cast_mut().cast()
    } else {
        ZERO_RECORD.0.as_ptr().cast_mut().cast()
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_names(dmt: *mut dm_task) -> *mut dm_names {
    guard("dm_task_get_names", null_mut(), || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_names") }?;
        payload_ptr(t, "dm_task_get_names", &[TaskType::List], |p| {
            p.is_empty() || devmapper::kernel::codec::decode_names(p).is_ok()
        })
        .map(<*mut c_void>::cast)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_versions(dmt: *mut dm_task) -> *mut dm_versions {
    guard("dm_task_get_versions", null_mut(), || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_versions") }?;
        payload_ptr(
            t,
            "dm_task_get_versions",
            &[TaskType::ListVersions, TaskType::GetTargetVersion],
            |p| !p.is_empty() && devmapper::kernel::codec::decode_versions(p).is_ok(),
        )
        .map(<*mut c_void>::cast)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_deps(dmt: *mut dm_task) -> *mut dm_deps {
    guard("dm_task_get_deps", null_mut(), || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_deps") }?;
        payload_ptr(t, "dm_task_get_deps", &[TaskType::Deps], |p| {
            devmapper::kernel::codec::deps_count(p).is_ok()
        })
        .map(<*mut c_void>::cast)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_message_response(dmt: *mut dm_task) -> *const c_char {
    guard("dm_task_get_message_response", null(), || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_message_response") }?;
        let r = t.task.reply.as_ref()?;
        // None without a response (no DM_DATA_OUT_FLAG) too.
        let Some(off) = t.task.message_response_offset() else {
            if r.flags().contains(DmFlags::DATA_OUT) {
                devmapper::log_error!(
                    &CTX,
                    "Internal error: Corrupted message structure returned."
                );
            }
            return None;
        };
        Some(r.buf.as_bytes().get(off..)?.as_ptr().cast())
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_read_ahead(dmt: *const dm_task, read_ahead: *mut u32) -> u32 {
    guard("dm_task_get_read_ahead", 0, || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task(dmt, "dm_task_get_read_ahead") }?;
        if read_ahead.is_null() {
            return None;
        }
        // SAFETY: checked non-NULL; the caller's variable.
        unsafe { ffi::out(read_ahead, 0) };
        let i = t.task.info()?;
        if i.exists == 0 {
            return None;
        }
        let name = t.task.reply_name()?;
        let v = devmapper::nodes::get_read_ahead(&CTX, name, i.major, i.minor)?;
        // SAFETY: as above.
        unsafe { ffi::out(read_ahead, v) };
        Some(1)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_ioctl_timestamp(dmt: *mut dm_task) -> *mut dm_timestamp {
    guard("dm_task_get_ioctl_timestamp", null_mut(), || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task_mut(dmt, "dm_task_get_ioctl_timestamp") }?;
        if !t.task.record_timestamp {
            return None;
        }
        let ts = devmapper::timestamp::Timestamp::from(CTX.ioctl_timestamp()?);
        let b = t
            .timestamp
            .get_or_insert_with(|| Box::new(dm_timestamp::from(ts)));
        b.ts = ts;
        Some(&mut **b as *mut dm_timestamp)
    })
}

/// A NUL-terminated copy of a target's parameters as they were added, in
/// wiped memory (for those whose encoding doubled a backslash).
fn unescaped_copy(x: &TableTarget<'_>) -> Option<Secret> {
    let mut s = x.params_secret()?;
    (s.try_reserve(1) && s.push_within_capacity(&[0])).then_some(s)
}

/// Whether `copy` (NUL-terminated, from [`unescaped_copy`]) is still the
/// unescaped form of `x`'s parameters.
fn copy_matches(copy: &Secret, x: &TableTarget<'_>) -> bool {
    let c = copy.as_bytes();
    let c = c.strip_suffix(&[0]).unwrap_or(c);
    let mut enc = x.encoded_params().iter();
    for &b in c {
        if enc.next() != Some(&b) || (b == b'\\' && enc.next() != Some(&b'\\')) {
            return false;
        }
    }
    enc.next().is_none()
}

#[no_mangle]
pub unsafe extern "C" fn dm_get_next_target(
    dmt: *mut dm_task,
    next: *mut c_void,
    start: *mut u64,
    length: *mut u64,
    target_type: *mut *mut c_char,
    params: *mut *mut c_char,
) -> *mut c_void {
    // The usual walk (a read-back table in order: after the first target,
    // the cursor the last step returned) is free of calls: nothing in it
    // can unwind, so the guard costs nothing, and the export needs no
    // frame (no registers saved) unless it goes on to the other cases.
    let fast = guard("dm_get_next_target", Some(null_mut()), || {
        // SAFETY: NULL or a task handle (C contract); NULL is the other
        // cases' (logged there).
        let Some(t) = (unsafe { dmt.as_mut() }) else {
            return Some(None);
        };
        let w = t.walk;
        let at = next as usize;
        if at != w.cursor || at > w.limit {
            return Some(None);
        }
        // SAFETY: `at` is the cursor a step of this reply handed out, the
        // offset of a spec whose fixed part (40 bytes) the run checked to
        // lie inside the reply buffer at `base`, which lives until the
        // next run (which resets the walk); `at <= limit` says so again.
        // The reply is laid out as the kernel does, so the caller's writes
        // into the strings it was given cannot have changed the spec.
        let p = w.base.wrapping_add(at);
        // SAFETY: as above (bytes 20..24 of the spec: its next offset).
        let off = unsafe { p.add(20).cast::<u32>().read_unaligned() };
        let (after, cursor) = if at == w.last {
            (0, usize::MAX)
        } else {
            let n = w.first.wrapping_add(off as usize);
            (n, n)
        };
        t.walk.cursor = cursor;
        // SAFETY: as above (start and length: bytes 0..16; the type and the
        // parameters from bytes 24 and 40 on, NUL-terminated inside the
        // buffer); each out-pointer is NULL or writable (C contract). Each
        // value is read where it is written out (fewer registers held).
        unsafe {
            if !start.is_null() {
                start.write(p.cast::<u64>().read_unaligned());
            }
            if !length.is_null() {
                length.write(p.add(8).cast::<u64>().read_unaligned());
            }
            ffi::out(target_type, p.add(24).cast());
            ffi::out(params, p.add(40).cast());
        }
        Some(Some(after as *mut c_void))
    });
    match fast {
        Some(after) => after,
        // SAFETY: the caller's arguments, under the same contract.
        None => unsafe { next_target_other(dmt, next, start, length, target_type, params) },
    }
}

/// `dm_get_next_target` in every case its fast path leaves: a NULL
/// handle, the first target, a cursor out of order, a reply not laid out
/// as the kernel does, a task that has not read a table back.
///
/// # Safety
/// `dm_get_next_target`'s arguments.
///
/// `extern "C"` (so it cannot unwind: its guard catches panics) lets the
/// export jump to it instead of calling it inside a frame of its own.
#[inline(never)]
unsafe extern "C" fn next_target_other(
    dmt: *mut dm_task,
    next: *mut c_void,
    start: *mut u64,
    length: *mut u64,
    target_type: *mut *mut c_char,
    params: *mut *mut c_char,
) -> *mut c_void {
    guard("dm_get_next_target", null_mut(), move || {
        // SAFETY: a task handle (C contract).
        let t = unsafe { task_mut(dmt, "dm_get_next_target") }?;
        let (s, l, ty, p, after) = next_target(t, next as usize)?;
        // SAFETY: each out-pointer is NULL or writable (C contract).
        unsafe {
            ffi::out(start, s);
            ffi::out(length, l);
            ffi::out(target_type, ty.cast());
            ffi::out(params, p.cast());
        }
        Some(after as *mut c_void)
    })
}

/// Every other case of `dm_get_next_target`: `(start, length, type,
/// params, next)`, all zero past the last target; `None` (logged) when
/// memory is short.
#[inline(never)]
fn next_target(t: &mut dm_task, next: usize) -> Option<(u64, u64, *mut u8, *mut u8, usize)> {
    if let Some(step) = t.task.reply_target_step(next) {
        let ty = step.target_type.as_mut_ptr();
        let r = (
            step.start,
            step.length,
            ty,
            step.params.as_mut_ptr(),
            step.next,
        );
        // The walk goes on in place from here (a reply laid out as the
        // kernel does).
        t.walk = match t.task.reply_spec_window() {
            Some(win) if r.4 != 0 && win.len >= 40 => Walk {
                base: win.base,
                limit: win.len - 40,
                first: win.first,
                last: win.last,
                cursor: r.4,
            },
            _ => Walk::NONE,
        };
        return Some(r);
    }
    if t.task.has_reply_targets() {
        // Past the last target, an empty table, or a cursor that is not
        // one of this reply's.
        return Some((0, 0, null_mut(), null_mut(), 0));
    }
    next_input_target(t, next)
}

/// `dm_get_next_target` on a task that has not read a table back: the
/// targets added, read from their encoding in the task's table. `next` is
/// 0 or the offset of the next record there; the result is `(start,
/// length, type, params, next)`, all zero past the last target, `None`
/// (logged) when memory is short. The pointers handed out point into the
/// table: valid until the next dm_task_add_target (which may move the
/// table) or the task's end. Stock's stay valid until the end; no caller
/// holds them across an add.
fn next_input_target(t: &mut dm_task, next: usize) -> Option<(u64, u64, *mut u8, *mut u8, usize)> {
    let off = if next == 0 {
        Table::first_offset()
    } else {
        next
    };
    let dm_task {
        task, unescaped, ..
    } = t;
    let Some((x, more)) = task.table().target_at(off) else {
        return Some((0, 0, null_mut(), null_mut(), 0));
    };
    let p = if x.params_escaped() {
        let at = match unescaped.binary_search_by_key(&off, |e| e.0) {
            Ok(at) if copy_matches(&unescaped[at].1, &x) => at,
            found => {
                let Some(copy) = unescaped_copy(&x) else {
                    ffi::fail(&devmapper::Error::no_memory(x.encoded_params().len()));
                    return None;
                };
                match found {
                    Ok(at) => {
                        unescaped[at].1 = copy;
                        at
                    }
                    Err(at) => {
                        if unescaped.try_reserve(1).is_err() {
                            ffi::fail(&devmapper::Error::no_memory(1));
                            return None;
                        }
                        unescaped.insert(at, (off, copy));
                        at
                    }
                }
            }
        };
        unescaped[at].1.as_bytes().as_ptr()
    } else {
        x.encoded_params().as_ptr()
    };
    Some((
        x.start,
        x.length,
        x.target_type().as_ptr().cast_mut(),
        p.cast_mut(),
        more.unwrap_or(0),
    ))
}

#[no_mangle]
pub extern "C" fn dm_task_update_nodes() {
    guard("dm_task_update_nodes", (), || {
        CTX.update_nodes();
        Some(())
    })
}
