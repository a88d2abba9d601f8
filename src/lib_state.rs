//! Library-wide state: versions, directories, init/release/exit, mangling
//! mode, the suspended counter, `dm_mknodes`.

use crate::ffi::{self, arg_bytes, copy_out, done, guard, ok, opt_bytes};
use crate::CTX;
use devmapper::mangle::ManglingMode;
use devmapper::task::{Task, TaskType};
use devmapper::LIBDM_VERSION;
use parking_lot::Mutex;
use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicBool, Ordering};

static EXITED: AtomicBool = AtomicBool::new(false);

/// The strings `dm_dir()`, `dm_sysfs_dir()` and `dm_uuid_prefix()` hand out
/// are libdm's static buffers there: a pointer a caller or another thread
/// still holds stays valid after the setting changes. So every distinct
/// value handed out is kept for the life of the process (interned): a
/// pointer is never freed, and memory grows only with the number of
/// distinct values a program sets.
struct Returned(Mutex<Vec<CString>>);

impl Returned {
    const fn new() -> Returned {
        Returned(Mutex::new(Vec::new()))
    }

    fn get(&self, value: Vec<u8>) -> *const c_char {
        let mut seen = self.0.lock();
        if let Some(c) = seen.iter().find(|c| c.as_bytes() == value.as_slice()) {
            return c.as_ptr();
        }
        let c = CString::new(value).unwrap_or_default();
        let p = c.as_ptr();
        seen.push(c); // moving a CString does not move its bytes
        p
    }
}

static DM_DIR: Returned = Returned::new();
static SYSFS_DIR: Returned = Returned::new();
static UUID_PREFIX: Returned = Returned::new();

#[no_mangle]
pub unsafe extern "C" fn dm_get_library_version(version: *mut c_char, size: usize) -> c_int {
    guard("dm_get_library_version", 0, || {
        if version.is_null() {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_get_library_version called with a NULL buffer."
            );
            return None;
        }
        // SAFETY: a caller buffer of `size` bytes (C contract).
        Some(ffi::cbool(unsafe {
            copy_out(LIBDM_VERSION.as_bytes(), version, size)
        }))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_driver_version(version: *mut c_char, size: usize) -> c_int {
    guard("dm_driver_version", 0, || {
        ok(CTX.check_version())?;
        let mut t = Task::new(TaskType::Version as i32);
        ok(t.run(&CTX))?;
        let v = t.reply_driver_version()?;
        let s = format!("{}.{}.{}", v[0], v[1], v[2]);
        // SAFETY: a caller buffer of `size` bytes (C contract).
        unsafe { copy_out(s.as_bytes(), version, size) };
        Some(1)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_set_dev_dir(dir: *const c_char) -> c_int {
    guard("dm_set_dev_dir", 0, || {
        // SAFETY: a C string (C contract).
        let d = unsafe { arg_bytes(dir, "dm_set_dev_dir", "directory") }?;
        done(CTX.set_dev_dir(d))
    })
}

#[no_mangle]
pub extern "C" fn dm_dir() -> *const c_char {
    guard("dm_dir", std::ptr::null(), || {
        Some(DM_DIR.get(CTX.dm_dir()))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_set_sysfs_dir(dir: *const c_char) -> c_int {
    guard("dm_set_sysfs_dir", 0, || {
        // SAFETY: a C string or NULL (C contract); NULL disables sysfs.
        let d = unsafe { opt_bytes(dir) }.unwrap_or_default();
        done(CTX.set_sysfs_dir(d))
    })
}

#[no_mangle]
pub extern "C" fn dm_sysfs_dir() -> *const c_char {
    guard("dm_sysfs_dir", std::ptr::null(), || {
        Some(SYSFS_DIR.get(CTX.sysfs_dir()))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_set_uuid_prefix(prefix: *const c_char) -> c_int {
    guard("dm_set_uuid_prefix", 0, || {
        // SAFETY: a C string (C contract).
        let p = unsafe { opt_bytes(prefix) }?;
        done(CTX.set_uuid_prefix(p))
    })
}

#[no_mangle]
pub extern "C" fn dm_uuid_prefix() -> *const c_char {
    guard("dm_uuid_prefix", std::ptr::null(), || {
        Some(UUID_PREFIX.get(CTX.uuid_prefix()))
    })
}

#[no_mangle]
pub extern "C" fn dm_set_name_mangling_mode(mode: crate::consts::dm_string_mangling_t) -> c_int {
    guard("dm_set_name_mangling_mode", 0, || {
        let Some(m) = u32::try_from(mode).ok().and_then(ManglingMode::from_u32) else {
            devmapper::log_error!(&CTX, "Unknown name mangling mode");
            return None;
        };
        CTX.set_mangling_mode(m);
        Some(1)
    })
}

#[no_mangle]
pub extern "C" fn dm_get_name_mangling_mode() -> crate::consts::dm_string_mangling_t {
    guard("dm_get_name_mangling_mode", 1, || {
        Some(CTX.mangling_mode() as c_int)
    })
}

#[no_mangle]
pub extern "C" fn dm_get_suspended_counter() -> c_int {
    guard("dm_get_suspended_counter", 0, || {
        Some(CTX.suspended_counter())
    })
}

#[no_mangle]
pub extern "C" fn dm_hold_control_dev(hold_open: c_int) {
    guard("dm_hold_control_dev", (), || {
        CTX.hold_control(hold_open != 0);
        Some(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_mknodes(name: *const c_char) -> c_int {
    guard("dm_mknodes", 0, || {
        ok(CTX.check_version())?;
        let mut t = Task::new(TaskType::MkNodes as i32);
        // SAFETY: a C string or NULL (C contract).
        if let Some(n) = unsafe { opt_bytes(name) } {
            ok(t.set_name(&CTX, n))?;
        }
        t.no_open_count = true;
        done(t.run(&CTX))
    })
}

/// `dm_lib_init`: also the library constructor (see `CONSTRUCTOR`).
#[no_mangle]
pub extern "C" fn dm_lib_init() {
    guard("dm_lib_init", (), || {
        CTX.set_static_logger(&crate::log::C_LOGGER);
        // Environment the stock library reads at load time.
        let _ = CTX.mangling_mode();
        let _ = devmapper::udev::udev_disabled();
        Some(())
    })
}

/// `dm_lib_release`: close the control node (unless held), run pending node
/// operations.
#[no_mangle]
pub extern "C" fn dm_lib_release() {
    guard("dm_lib_release", (), || {
        CTX.release();
        Some(())
    })
}

/// `dm_lib_exit`: also the library destructor. Like libdm it does its work
/// once per process: whichever comes first, an explicit call or the
/// destructor at exit, releases (running the node operations still
/// stacked: programs such as dmsetup rely on this), reports suspended
/// devices and leaked pools, and forgets the version check.
#[no_mangle]
pub extern "C" fn dm_lib_exit() {
    guard("dm_lib_exit", (), || {
        if EXITED.swap(true, Ordering::AcqRel) {
            return Some(());
        }
        CTX.exit();
        crate::pool::check_leaks();
        Some(())
    })
}

extern "C" fn lib_constructor() {
    crate::ffi::quiet_panics();
    dm_lib_init();
}

extern "C" fn lib_destructor() {
    dm_lib_exit();
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = lib_constructor;

#[used]
#[link_section = ".fini_array"]
static DESTRUCTOR: extern "C" fn() = lib_destructor;
