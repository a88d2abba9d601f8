//! Library-wide state: versions, directories, init/release/exit, mangling
//! mode, the suspended counter.

use crate::{copy_out, cstr, guard};
use devmapper::config;
use devmapper::kernel::control::Control;
use devmapper::mangle::{self, ManglingMode};
use devmapper::task::{Task, TaskType};
use parking_lot::Mutex;
use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicBool, Ordering};

/// The libdevmapper version whose ABI we implement, in its exact format
/// (consumers parse it: multipath needs >= 1.2.111, libblockdev >= 1.02.93).
pub const LIBRARY_VERSION: &str = "1.02.185 (2022-05-18)";

static HOLD_CONTROL: AtomicBool = AtomicBool::new(false);
static EXITED: AtomicBool = AtomicBool::new(false);

/// Strings handed out by `dm_dir()` etc. must stay valid: keep every value
/// ever returned (they change only when the caller sets a new directory).
static RETURNED: Mutex<Vec<CString>> = Mutex::new(Vec::new());

fn stable_cstr(s: String) -> *const c_char {
    let mut v = RETURNED.lock();
    if let Some(c) = v.iter().find(|c| c.as_bytes() == s.as_bytes()) {
        return c.as_ptr();
    }
    let c = CString::new(s).unwrap_or_default();
    let p = c.as_ptr();
    v.push(c);
    p
}

#[no_mangle]
pub unsafe extern "C" fn dm_get_library_version(version: *mut c_char, size: usize) -> c_int {
    guard("dm_get_library_version", 0, || {
        if version.is_null() {
            dm_error!("Internal error: dm_get_library_version called with a NULL buffer.");
            return 0;
        }
        (unsafe { copy_out(LIBRARY_VERSION.as_bytes(), version, size) }) as c_int
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_driver_version(version: *mut c_char, size: usize) -> c_int {
    guard("dm_driver_version", 0, || {
        if !crate::task::check_version() {
            return 0;
        }
        let mut t = Task::new(TaskType::Version as i32);
        if t.run().is_err() {
            return 0;
        }
        let Some(h) = t.reply_header() else { return 0 };
        let s = format!("{}.{}.{}", h.version[0], h.version[1], h.version[2]);
        unsafe { copy_out(s.as_bytes(), version, size) };
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_set_dev_dir(dir: *const c_char) -> c_int {
    guard("dm_set_dev_dir", 0, || {
        let Some(d) = (unsafe { cstr(dir) }) else {
            dm_error!("Internal error: dm_set_dev_dir called with NULL.");
            return 0;
        };
        let d = String::from_utf8_lossy(d);
        if !d.starts_with('/') {
            devmapper::dm_debug!("Invalid directory value, {}: not an absolute name.", d);
            return 0;
        }
        if d.len() + "/mapper".len() >= libc::PATH_MAX as usize {
            dm_error!("Invalid dev_dir value, {}: name too long.", d);
            return 0;
        }
        config::set_dev_dir(&d);
        1
    })
}

#[no_mangle]
pub extern "C" fn dm_dir() -> *const c_char {
    guard("dm_dir", std::ptr::null(), || stable_cstr(config::dm_dir()))
}

#[no_mangle]
pub unsafe extern "C" fn dm_set_sysfs_dir(dir: *const c_char) -> c_int {
    guard("dm_set_sysfs_dir", 0, || {
        let d = unsafe { cstr(dir) }
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default();
        if !d.is_empty() && !d.starts_with('/') {
            devmapper::dm_debug!("Invalid directory value, {}: not an absolute name.", d);
            return 0;
        }
        config::set_sysfs_dir(&d);
        1
    })
}

#[no_mangle]
pub extern "C" fn dm_sysfs_dir() -> *const c_char {
    guard("dm_sysfs_dir", std::ptr::null(), || {
        stable_cstr(config::sysfs_dir())
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_set_uuid_prefix(prefix: *const c_char) -> c_int {
    guard("dm_set_uuid_prefix", 0, || {
        let Some(p) = (unsafe { cstr(prefix) }) else {
            return 0;
        };
        let p = String::from_utf8_lossy(p);
        if !config::set_uuid_prefix(&p) {
            dm_error!("New uuid prefix {} too long.", p);
            return 0;
        }
        1
    })
}

#[no_mangle]
pub extern "C" fn dm_uuid_prefix() -> *const c_char {
    guard("dm_uuid_prefix", std::ptr::null(), || {
        stable_cstr(config::uuid_prefix())
    })
}

#[no_mangle]
pub extern "C" fn dm_set_name_mangling_mode(mode: crate::consts::dm_string_mangling_t) -> c_int {
    guard("dm_set_name_mangling_mode", 0, || {
        let m = match mode {
            0 => ManglingMode::None,
            1 => ManglingMode::Auto,
            2 => ManglingMode::Hex,
            _ => {
                dm_error!("Unknown name mangling mode");
                return 0;
            }
        };
        mangle::set_mode(m);
        1
    })
}

#[no_mangle]
pub extern "C" fn dm_get_name_mangling_mode() -> crate::consts::dm_string_mangling_t {
    guard("dm_get_name_mangling_mode", 1, || mangle::mode() as c_int)
}

#[no_mangle]
pub extern "C" fn dm_get_suspended_counter() -> c_int {
    guard(
        "dm_get_suspended_counter",
        0,
        devmapper::state::suspended_counter,
    )
}

#[no_mangle]
pub extern "C" fn dm_hold_control_dev(hold_open: c_int) {
    guard("dm_hold_control_dev", (), || {
        HOLD_CONTROL.store(hold_open != 0, Ordering::Relaxed);
        devmapper::dm_debug!(
            "{}aking control device open.",
            if hold_open != 0 { "M" } else { "Not m" }
        );
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_mknodes(name: *const c_char) -> c_int {
    guard("dm_mknodes", 0, || {
        if !crate::task::check_version() {
            return 0;
        }
        let mut t = Task::new(TaskType::MkNodes as i32);
        if let Some(n) = unsafe { cstr(name) } {
            if !t.set_name(n) {
                return 0;
            }
        }
        t.no_open_count = true;
        t.run().is_ok() as c_int
    })
}

/// `dm_lib_init`: also the library constructor (see `CONSTRUCTOR`).
#[no_mangle]
pub extern "C" fn dm_lib_init() {
    guard("dm_lib_init", (), || {
        devmapper::log::install(&crate::log::C_SINK);
        // Environment the stock library reads at load time.
        let _ = mangle::mode();
        let _ = devmapper::udev::udev_disabled();
    })
}

/// `dm_lib_release`: close the control node (unless held), run pending node
/// operations.
#[no_mangle]
pub extern "C" fn dm_lib_release() {
    guard("dm_lib_release", (), || {
        if !HOLD_CONTROL.load(Ordering::Relaxed) {
            Control::global().release();
        }
        devmapper::state::clear_ioctl_timestamp();
        devmapper::nodes::update_devs();
    })
}

/// `dm_lib_exit`: also the library destructor. Runs once.
#[no_mangle]
pub extern "C" fn dm_lib_exit() {
    guard("dm_lib_exit", (), || {
        if EXITED.swap(true, Ordering::AcqRel) {
            return;
        }
        let n = devmapper::state::suspended_counter();
        if n != 0 {
            dm_error!("libdevmapper exiting with {} device(s) still suspended.", n);
        }
        dm_lib_release();
        crate::task::VERSION_FAILED.store(false, Ordering::Relaxed);
        EXITED.store(false, Ordering::Release);
    })
}

extern "C" fn lib_constructor() {
    dm_lib_init();
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = lib_constructor;
