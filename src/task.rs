//! `dm_task_*` and `dm_get_next_target`.

use crate::{copy_out, cstr, guard, malloc_cstring};
use devmapper::kernel::abi::DmFlags;
use devmapper::kernel::codec;
use devmapper::kernel::control::Control;
use devmapper::mangle::{self, ManglingMode};
use devmapper::secret::Secret;
use devmapper::task::{Info, Task, TaskType};
use devmapper::udev;
use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr::null_mut;

/// The opaque `struct dm_task`.
pub struct dm_task {
    task: Task,
    /// NUL-terminated copies of input targets, for `dm_get_next_target` on a
    /// task that has not read a table back.
    input_strings: Vec<(CString, CString)>,
    timestamp: Option<Box<dm_timestamp>>,
}

impl Drop for dm_task {
    fn drop(&mut self) {
        for (_, p) in self.input_strings.iter_mut() {
            let mut v = std::mem::take(p).into_bytes_with_nul();
            devmapper::secret::wipe(&mut v);
        }
    }
}

/// `struct dm_timestamp` (opaque to C).
pub struct dm_timestamp {
    pub t: libc::timespec,
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

/// Borrow the task behind a C pointer; NULL is logged and gives None.
unsafe fn task_mut<'a>(dmt: *mut dm_task, what: &str) -> Option<&'a mut dm_task> {
    if dmt.is_null() {
        dm_error!("Internal error: {what} called with a NULL task.");
        return None;
    }
    // SAFETY: non-NULL task pointers come from dm_task_create (C contract).
    Some(unsafe { &mut *dmt })
}

unsafe fn task_ref<'a>(dmt: *const dm_task, what: &str) -> Option<&'a dm_task> {
    if dmt.is_null() {
        dm_error!("Internal error: {what} called with a NULL task.");
        return None;
    }
    // SAFETY: as above.
    Some(unsafe { &*dmt })
}

/// Set when the version check failed; like libdevmapper, later task
/// creations then fail silently until `dm_lib_exit` resets it.
pub(crate) static VERSION_FAILED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The version check libdevmapper runs when the first task is created.
pub(crate) fn check_version() -> bool {
    use std::sync::atomic::Ordering;
    if VERSION_FAILED.load(Ordering::Relaxed) {
        return false;
    }
    match Control::global().driver_version() {
        Ok(_) => true,
        Err(e) => {
            VERSION_FAILED.store(true, Ordering::Relaxed);
            devmapper::task::log_open_failure(&e);
            dm_error!(
                "Incompatible libdevmapper {} and kernel driver (unknown version).",
                crate::lib_state::LIBRARY_VERSION
            );
            false
        }
    }
}

/// Shared body of the setters that only record a value.
unsafe fn set_flag(dmt: *mut dm_task, what: &'static str, f: impl FnOnce(&mut Task)) -> c_int {
    guard(what, 0, || {
        let Some(t) = (unsafe { task_mut(dmt, what) }) else {
            return 0;
        };
        f(&mut t.task);
        1
    })
}

/// Shared body of the string setters.
unsafe fn set_string(
    dmt: *mut dm_task,
    s: *const c_char,
    what: &'static str,
    arg: &str,
    f: fn(&mut Task, &[u8]) -> bool,
) -> c_int {
    guard(what, 0, || {
        let Some(t) = (unsafe { task_mut(dmt, what) }) else {
            return 0;
        };
        let Some(s) = (unsafe { cstr(s) }) else {
            dm_error!("Internal error: {what} called with a NULL {arg}.");
            return 0;
        };
        f(&mut t.task, s) as c_int
    })
}

#[no_mangle]
pub extern "C" fn dm_task_create(type_: c_int) -> *mut dm_task {
    guard("dm_task_create", null_mut(), || {
        if !check_version() {
            return null_mut();
        }
        Box::into_raw(Box::new(dm_task {
            task: Task::new(type_),
            input_strings: Vec::new(),
            timestamp: None,
        }))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_destroy(dmt: *mut dm_task) {
    guard("dm_task_destroy", (), || {
        if !dmt.is_null() {
            // SAFETY: the pointer came from Box::into_raw in dm_task_create.
            drop(unsafe { Box::from_raw(dmt) });
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_run(dmt: *mut dm_task) -> c_int {
    guard("dm_task_run", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_run") }) else {
            return 0;
        };
        t.task.run().is_ok() as c_int
    })
}

/// Load the table read-only.
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_ro(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_set_ro", |t| t.read_only = true) }
}
/// Suspend without flushing queued I/O.
#[no_mangle]
pub unsafe extern "C" fn dm_task_no_flush(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_no_flush", |t| t.no_flush = true) }
}
/// Skip the open count (ignored by current kernels).
#[no_mangle]
pub unsafe extern "C" fn dm_task_no_open_count(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_no_open_count", |t| t.no_open_count = true) }
}
/// Do not freeze the filesystem on suspend.
#[no_mangle]
pub unsafe extern "C" fn dm_task_skip_lockfs(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_skip_lockfs", |t| t.skip_lockfs = true) }
}
/// Report on the inactive table.
#[no_mangle]
pub unsafe extern "C" fn dm_task_query_inactive_table(dmt: *mut dm_task) -> c_int {
    unsafe {
        set_flag(dmt, "dm_task_query_inactive_table", |t| {
            t.query_inactive_table = true
        })
    }
}
/// Skip a reload whose table equals the live one.
#[no_mangle]
pub unsafe extern "C" fn dm_task_suppress_identical_reload(dmt: *mut dm_task) -> c_int {
    unsafe {
        set_flag(dmt, "dm_task_suppress_identical_reload", |t| {
            t.suppress_identical_reload = true
        })
    }
}
/// Ask the kernel to wipe its copies of the buffers.
#[no_mangle]
pub unsafe extern "C" fn dm_task_secure_data(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_secure_data", |t| t.secure_data = true) }
}
/// Retry a remove that fails with EBUSY.
#[no_mangle]
pub unsafe extern "C" fn dm_task_retry_remove(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_retry_remove", |t| t.retry_remove = true) }
}
/// Remove on last close if the device is open.
#[no_mangle]
pub unsafe extern "C" fn dm_task_deferred_remove(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_deferred_remove", |t| t.deferred_remove = true) }
}
/// Enable extra checks before suspending.
#[no_mangle]
pub unsafe extern "C" fn dm_task_enable_checks(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_enable_checks", |t| t.enable_checks = true) }
}
/// Return the IMA measurement with STATUS/TABLE.
#[no_mangle]
pub unsafe extern "C" fn dm_task_ima_measurement(dmt: *mut dm_task) -> c_int {
    unsafe { set_flag(dmt, "dm_task_ima_measurement", |t| t.ima_measurement = true) }
}
/// Record the time of each ioctl.
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_record_timestamp(dmt: *mut dm_task) -> c_int {
    unsafe {
        set_flag(dmt, "dm_task_set_record_timestamp", |t| {
            t.record_timestamp = true
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_name(dmt: *mut dm_task, s: *const c_char) -> c_int {
    unsafe { set_string(dmt, s, "dm_task_set_name", "name", Task::set_name) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_uuid(dmt: *mut dm_task, s: *const c_char) -> c_int {
    unsafe { set_string(dmt, s, "dm_task_set_uuid", "uuid", Task::set_uuid) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_newname(dmt: *mut dm_task, s: *const c_char) -> c_int {
    unsafe { set_string(dmt, s, "dm_task_set_newname", "new name", Task::set_newname) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_newuuid(dmt: *mut dm_task, s: *const c_char) -> c_int {
    unsafe { set_string(dmt, s, "dm_task_set_newuuid", "new uuid", Task::set_newuuid) }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_message(dmt: *mut dm_task, message: *const c_char) -> c_int {
    guard("dm_task_set_message", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_message") }) else {
            return 0;
        };
        let Some(m) = (unsafe { cstr(message) }) else {
            dm_error!("Internal error: dm_task_set_message called with a NULL message.");
            return 0;
        };
        t.task.message = Some(Secret::from(m));
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_sector(dmt: *mut dm_task, sector: u64) -> c_int {
    guard("dm_task_set_sector", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_sector") }) else {
            return 0;
        };
        t.task.sector = Some(sector);
        1
    })
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
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_geometry") }) else {
            return 0;
        };
        let parts = unsafe { [cstr(cylinders), cstr(heads), cstr(sectors), cstr(start)] };
        if parts.iter().any(|p| p.is_none()) {
            dm_error!("Internal error: dm_task_set_geometry called with a NULL argument.");
            return 0;
        }
        let s: Vec<String> = parts
            .iter()
            .map(|p| String::from_utf8_lossy(p.unwrap_or_default()).into_owned())
            .collect();
        t.task.geometry = Some(codec::geometry_string(&s[0], &s[1], &s[2], &s[3]).into_bytes());
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_major(dmt: *mut dm_task, v: c_int) -> c_int {
    unsafe {
        set_flag(dmt, "dm_task_set_major", |t| {
            t.major = v;
            t.allow_default_major_fallback = false;
        })
    }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_minor(dmt: *mut dm_task, v: c_int) -> c_int {
    unsafe { set_flag(dmt, "dm_task_set_minor", |t| t.minor = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_uid(dmt: *mut dm_task, v: libc::uid_t) -> c_int {
    unsafe { set_flag(dmt, "dm_task_set_uid", |t| t.uid = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_gid(dmt: *mut dm_task, v: libc::gid_t) -> c_int {
    unsafe { set_flag(dmt, "dm_task_set_gid", |t| t.gid = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_mode(dmt: *mut dm_task, v: libc::mode_t) -> c_int {
    unsafe { set_flag(dmt, "dm_task_set_mode", |t| t.mode = v) }
}
#[no_mangle]
pub unsafe extern "C" fn dm_task_set_event_nr(dmt: *mut dm_task, v: u32) -> c_int {
    unsafe { set_flag(dmt, "dm_task_set_event_nr", |t| t.event_nr = v) }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_major_minor(
    dmt: *mut dm_task,
    major: c_int,
    minor: c_int,
    allow_default_major_fallback: c_int,
) -> c_int {
    guard("dm_task_set_major_minor", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_major_minor") }) else {
            return 0;
        };
        t.task.major = major;
        t.task.minor = minor;
        t.task.allow_default_major_fallback = allow_default_major_fallback != 0;
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_add_node(
    dmt: *mut dm_task,
    add_node: crate::consts::dm_add_node_t,
) -> c_int {
    guard("dm_task_set_add_node", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_add_node") }) else {
            return 0;
        };
        if add_node != devmapper::task::ADD_NODE_ON_RESUME
            && add_node != devmapper::task::ADD_NODE_ON_CREATE
        {
            dm_error!("Unknown add node parameter");
            return 0;
        }
        t.task.add_node = add_node;
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_read_ahead(
    dmt: *mut dm_task,
    read_ahead: u32,
    read_ahead_flags: u32,
) -> c_int {
    guard("dm_task_set_read_ahead", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_read_ahead") }) else {
            return 0;
        };
        t.task.read_ahead = read_ahead;
        t.task.read_ahead_flags = read_ahead_flags;
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_set_cookie(
    dmt: *mut dm_task,
    cookie: *mut u32,
    flags: u16,
) -> c_int {
    guard("dm_task_set_cookie", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_set_cookie") }) else {
            return 0;
        };
        if cookie.is_null() {
            dm_error!("Internal error: dm_task_set_cookie called with a NULL cookie.");
            return 0;
        }
        // SAFETY: checked non-NULL; the caller owns the cookie variable.
        let c = unsafe { &mut *cookie };
        let supported = crate::udev::cookie_supported_now();
        let sync = udev::get_sync_support(|| supported);
        match udev::set_cookie_for(c, flags, sync, supported, t.task.raw_type) {
            Ok(event_nr) => {
                t.task.event_nr = event_nr;
                t.task.cookie_set = true;
                1
            }
            Err(_) => {
                t.task.event_nr = 0;
                0
            }
        }
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
    guard("dm_task_add_target", 0, || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_add_target") }) else {
            return 0;
        };
        let Some(ty) = (unsafe { cstr(ttype) }) else {
            dm_error!("Internal error: dm_task_add_target called with a NULL target type.");
            return 0;
        };
        let Some(p) = (unsafe { cstr(params) }) else {
            dm_error!("Internal error: dm_task_add_target called with NULL parameters.");
            return 0;
        };
        t.input_strings.clear();
        t.task.add_target(start, size, ty, p) as c_int
    })
}

// ----- results -----

fn fill_info(t: &dm_task, info: *mut dm_info, bytes: usize) -> c_int {
    if info.is_null() {
        dm_error!("Internal error: dm_task_get_info called with a NULL info pointer.");
        return 0;
    }
    let Some(i) = t.task.info() else { return 0 };
    let full = dm_info::from(i);
    // SAFETY: the caller's struct has at least `bytes` bytes (48, 44 or 40
    // depending on which ABI version it was compiled against).
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&full as *const dm_info).cast::<u8>(),
            info.cast::<u8>(),
            bytes,
        )
    };
    1
}

/// `dm_task_get_info@@DM_1_02_97`: fills all 48 bytes.
#[no_mangle]
pub unsafe extern "C" fn dm_task_get_info(dmt: *mut dm_task, info: *mut dm_info) -> c_int {
    guard("dm_task_get_info", 0, || {
        let Some(t) = (unsafe { task_ref(dmt, "dm_task_get_info") }) else {
            return 0;
        };
        fill_info(t, info, 48)
    })
}

/// Internal: full info for the shim's `dm_task_get_info@Base` (40 bytes).
#[no_mangle]
pub unsafe extern "C" fn dmrs_task_get_info_full(dmt: *mut dm_task, info: *mut dm_info) -> c_int {
    unsafe { dm_task_get_info(dmt, info) }
}

/// `dm_task_get_info_with_deferred_remove`: the 44-byte layout of 1.02.89–96.
#[no_mangle]
pub unsafe extern "C" fn dm_task_get_info_with_deferred_remove(
    dmt: *mut dm_task,
    info: *mut dm_info,
) -> c_int {
    guard("dm_task_get_info_with_deferred_remove", 0, || {
        let Some(t) = (unsafe { task_ref(dmt, "dm_task_get_info_with_deferred_remove") }) else {
            return 0;
        };
        fill_info(t, info, 44)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_errno(dmt: *mut dm_task) -> c_int {
    guard("dm_task_get_errno", 0, || {
        unsafe { task_ref(dmt, "dm_task_get_errno") }.map_or(0, |t| t.task.ioctl_errno)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_driver_version(
    dmt: *mut dm_task,
    version: *mut c_char,
    size: usize,
) -> c_int {
    guard("dm_task_get_driver_version", 0, || {
        let Some(t) = (unsafe { task_ref(dmt, "dm_task_get_driver_version") }) else {
            return 0;
        };
        let Some(h) = t.task.reply_header() else {
            if !version.is_null() && size > 0 {
                // SAFETY: caller buffer of `size` > 0 bytes.
                unsafe { *version = 0 };
            }
            return 0;
        };
        Control::global().note_version(h.version);
        let s = format!("{}.{}.{}", h.version[0], h.version[1], h.version[2]);
        if version.is_null() {
            return 1;
        }
        unsafe { copy_out(s.as_bytes(), version, size) };
        1
    })
}

static EMPTY: [c_char; 1] = [0];

fn header_field(t: &mut dm_task, off: usize) -> *const c_char {
    match t.task.reply.as_mut() {
        Some(r) => r.buf.as_bytes_mut()[off..].as_mut_ptr().cast(),
        None => EMPTY.as_ptr(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_name(dmt: *const dm_task) -> *const c_char {
    guard("dm_task_get_name", std::ptr::null(), || {
        let Some(t) = (unsafe { task_mut(dmt.cast_mut(), "dm_task_get_name") }) else {
            return std::ptr::null();
        };
        header_field(t, 48)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_uuid(dmt: *const dm_task) -> *const c_char {
    guard("dm_task_get_uuid", std::ptr::null(), || {
        let Some(t) = (unsafe { task_mut(dmt.cast_mut(), "dm_task_get_uuid") }) else {
            return std::ptr::null();
        };
        header_field(t, 176)
    })
}

fn reply_string(t: &dm_task, uuid: bool) -> Option<Vec<u8>> {
    let h = t.task.reply_header()?;
    Some(codec::fixed_str(if uuid { &h.uuid } else { &h.name }).to_vec())
}

fn mangled_copy(t: &dm_task, uuid: bool) -> *mut c_char {
    let Some(s) = reply_string(t, uuid) else {
        dm_error!(
            "Internal error: no {} available: the task has not run.",
            if uuid { "uuid" } else { "name" }
        );
        return null_mut();
    };
    let (kind, max) = if uuid {
        ("UUID", devmapper::abi::DM_UUID_LEN)
    } else {
        ("name", devmapper::abi::DM_NAME_LEN)
    };
    match mangle::mangle_unchecked(&s, mangle::mode(), kind, max) {
        Ok(Some(m)) => malloc_cstring(&m),
        Ok(None) => malloc_cstring(&s),
        Err(e) => {
            dm_error!("{e}");
            null_mut()
        }
    }
}

fn unmangled_copy(t: &dm_task, uuid: bool) -> *mut c_char {
    let Some(s) = reply_string(t, uuid) else {
        dm_error!(
            "Internal error: no {} available: the task has not run.",
            if uuid { "uuid" } else { "name" }
        );
        return null_mut();
    };
    // In other modes the run already unmangled the reply.
    if mangle::mode() != ManglingMode::None {
        return malloc_cstring(&s);
    }
    match mangle::unmangle_as(&s, ManglingMode::None, if uuid { "UUID" } else { "name" }) {
        Ok(Some(u)) => malloc_cstring(&u),
        Ok(None) => malloc_cstring(&s),
        Err(e) => {
            dm_error!("{e}");
            null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_name_mangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_name_mangled", null_mut(), || {
        unsafe { task_ref(dmt, "dm_task_get_name_mangled") }
            .map_or(null_mut(), |t| mangled_copy(t, false))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_uuid_mangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_uuid_mangled", null_mut(), || {
        unsafe { task_ref(dmt, "dm_task_get_uuid_mangled") }
            .map_or(null_mut(), |t| mangled_copy(t, true))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_name_unmangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_name_unmangled", null_mut(), || {
        unsafe { task_ref(dmt, "dm_task_get_name_unmangled") }
            .map_or(null_mut(), |t| unmangled_copy(t, false))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_uuid_unmangled(dmt: *const dm_task) -> *mut c_char {
    guard("dm_task_get_uuid_unmangled", null_mut(), || {
        unsafe { task_ref(dmt, "dm_task_get_uuid_unmangled") }
            .map_or(null_mut(), |t| unmangled_copy(t, true))
    })
}

/// A zeroed record, returned for empty or missing payloads so callers that
/// read the first entry unconditionally see "empty".
#[repr(C, align(8))]
struct ZeroRecord([u8; 32]);
static ZERO_RECORD: ZeroRecord = ZeroRecord([0; 32]);

/// A pointer to the payload of a successful run of the given task type,
/// after checking that the payload parses (so C walkers stay in bounds).
fn payload_ptr(
    t: &mut dm_task,
    what: &str,
    types: &[TaskType],
    check: fn(&[u8]) -> bool,
) -> *mut c_void {
    let ty = t.task.task_type();
    let Some(off) = t.task.payload_offset() else {
        dm_error!("Internal error: {what}: the task has not run successfully.");
        return null_mut();
    };
    if !ty.is_some_and(|ty| types.contains(&ty)) {
        dm_error!("Internal error: {what}: wrong task type.");
        return null_mut();
    }
    let ok = if t.task.payload_checked {
        Some(true)
    } else {
        t.task.reply_payload().map(check)
    };
    match ok {
        Some(true) => {
            let r = t.task.reply.as_mut().map(|r| r.buf.as_bytes_mut());
            match r {
                Some(b) if b.len() >= off + 16 => b[off..].as_mut_ptr().cast(),
                _ => ZERO_RECORD.0.as_ptr().cast_mut().cast(),
            }
        }
        _ => {
            dm_error!("Internal error: {what}: the kernel's reply is malformed.");
            null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_names(dmt: *mut dm_task) -> *mut dm_names {
    guard("dm_task_get_names", null_mut(), || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_get_names") }) else {
            return null_mut();
        };
        payload_ptr(t, "dm_task_get_names", &[TaskType::List], |p| {
            p.len() < 16 || codec::decode_names(p).is_ok()
        })
        .cast()
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_versions(dmt: *mut dm_task) -> *mut dm_versions {
    guard("dm_task_get_versions", null_mut(), || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_get_versions") }) else {
            return null_mut();
        };
        payload_ptr(
            t,
            "dm_task_get_versions",
            &[TaskType::ListVersions, TaskType::GetTargetVersion],
            |p| !p.is_empty() && codec::decode_versions(p).is_ok(),
        )
        .cast()
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_deps(dmt: *mut dm_task) -> *mut dm_deps {
    guard("dm_task_get_deps", null_mut(), || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_get_deps") }) else {
            return null_mut();
        };
        payload_ptr(t, "dm_task_get_deps", &[TaskType::Deps], |p| {
            codec::decode_deps(p).is_ok()
        })
        .cast()
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_message_response(dmt: *mut dm_task) -> *const c_char {
    guard("dm_task_get_message_response", std::ptr::null(), || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_get_message_response") }) else {
            return std::ptr::null();
        };
        match t.task.message_response_offset() {
            Some(off) => match t.task.reply.as_mut() {
                Some(r) => r.buf.as_bytes_mut()[off..].as_mut_ptr().cast(),
                None => std::ptr::null(),
            },
            None => std::ptr::null(),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_read_ahead(dmt: *const dm_task, read_ahead: *mut u32) -> u32 {
    guard("dm_task_get_read_ahead", 0, || {
        let Some(t) = (unsafe { task_ref(dmt, "dm_task_get_read_ahead") }) else {
            return 0;
        };
        if read_ahead.is_null() {
            return 0;
        }
        // SAFETY: checked non-NULL.
        unsafe { *read_ahead = 0 };
        let Some(h) = t.task.reply_header() else {
            return 0;
        };
        if !DmFlags::from_bits_retain(h.flags).contains(DmFlags::EXISTS) {
            return 0;
        }
        let (major, minor) = devmapper::abi::decode_dev(h.dev);
        let name = String::from_utf8_lossy(codec::fixed_str(&h.name)).into_owned();
        match devmapper::nodes::get_read_ahead(&name, major, minor) {
            Some(v) => {
                unsafe { *read_ahead = v };
                1
            }
            None => 0,
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_task_get_ioctl_timestamp(dmt: *mut dm_task) -> *mut dm_timestamp {
    guard("dm_task_get_ioctl_timestamp", null_mut(), || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_task_get_ioctl_timestamp") }) else {
            return null_mut();
        };
        if !t.task.record_timestamp {
            return null_mut();
        }
        let Some(ts) = devmapper::state::ioctl_timestamp() else {
            return null_mut();
        };
        let b = t
            .timestamp
            .get_or_insert_with(|| Box::new(dm_timestamp { t: ts }));
        b.t = ts;
        &mut **b as *mut dm_timestamp
    })
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
    guard("dm_get_next_target", null_mut(), || {
        let Some(t) = (unsafe { task_mut(dmt, "dm_get_next_target") }) else {
            return null_mut();
        };
        let set = |s: u64, l: u64, ty: *mut c_char, p: *mut c_char| {
            // SAFETY: output pointers are checked for NULL individually.
            unsafe {
                if !start.is_null() {
                    *start = s;
                }
                if !length.is_null() {
                    *length = l;
                }
                if !target_type.is_null() {
                    *target_type = ty;
                }
                if !params.is_null() {
                    *params = p;
                }
            }
        };
        let i = (next as usize).saturating_sub(1);
        let from_reply = t.task.reply.is_some()
            && matches!(
                t.task.task_type(),
                Some(TaskType::Status | TaskType::Table | TaskType::WaitEvent)
            );
        let count = if from_reply {
            t.task.reply_targets.len()
        } else {
            t.task.targets.len()
        };
        if i >= count {
            set(0, 0, null_mut(), null_mut());
            return null_mut();
        }
        if from_reply {
            let rt = t.task.reply_targets[i];
            if let Some(r) = t.task.reply.as_mut() {
                let base = r.buf.as_bytes_mut().as_mut_ptr();
                // SAFETY: offsets were validated against the reply when parsed.
                let (ty, p) =
                    unsafe { (base.add(rt.type_off).cast(), base.add(rt.params_off).cast()) };
                set(rt.start, rt.length, ty, p);
            }
        } else {
            if t.input_strings.len() != count {
                t.input_strings = t
                    .task
                    .targets
                    .iter()
                    .map(|x| {
                        (
                            CString::new(x.target_type.clone()).unwrap_or_default(),
                            CString::new(x.params.as_bytes().to_vec()).unwrap_or_default(),
                        )
                    })
                    .collect();
            }
            let x = &t.task.targets[i];
            let (ty, p) = &t.input_strings[i];
            set(
                x.start,
                x.length,
                ty.as_ptr().cast_mut(),
                p.as_ptr().cast_mut(),
            );
        }
        if i + 1 < count {
            (i + 2) as *mut c_void
        } else {
            null_mut()
        }
    })
}

#[no_mangle]
pub extern "C" fn dm_task_update_nodes() {
    guard("dm_task_update_nodes", (), devmapper::nodes::update_devs)
}
