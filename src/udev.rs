//! `dm_udev_*` and `dm_cookie_supported`.

use crate::guard;
use devmapper::kernel::control::Control;
use devmapper::{nodes, udev};
use std::ffi::c_int;

/// Driver supports cookies (4.15+), asking the kernel if not known yet.
pub(crate) fn cookie_supported_now() -> bool {
    let c = Control::global();
    let v = match c.cached_version() {
        Some(v) => Some(v),
        None => c.driver_version().ok(),
    };
    v.is_some_and(devmapper::task::cookie_supported)
}

fn sync() -> bool {
    udev::get_sync_support(cookie_supported_now)
}

#[no_mangle]
pub extern "C" fn dm_cookie_supported() -> c_int {
    guard("dm_cookie_supported", 0, || {
        (crate::task::check_version() && cookie_supported_now()) as c_int
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_set_sync_support(sync_with_udev: c_int) {
    guard("dm_udev_set_sync_support", (), || {
        udev::set_sync_support(sync_with_udev != 0)
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_get_sync_support() -> c_int {
    guard("dm_udev_get_sync_support", 0, || sync() as c_int)
}

#[no_mangle]
pub extern "C" fn dm_udev_set_checking(checking: c_int) {
    guard("dm_udev_set_checking", (), || {
        udev::set_checking(checking != 0)
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_get_checking() -> c_int {
    guard("dm_udev_get_checking", 0, || udev::get_checking() as c_int)
}

#[no_mangle]
pub unsafe extern "C" fn dm_udev_create_cookie(cookie: *mut u32) -> c_int {
    guard("dm_udev_create_cookie", 0, || {
        if cookie.is_null() {
            devmapper::dm_error!(
                "Internal error: dm_udev_create_cookie called with a NULL cookie."
            );
            return 0;
        }
        match udev::create_cookie(sync()) {
            Ok(c) => {
                // SAFETY: checked non-NULL.
                unsafe { *cookie = c };
                1
            }
            Err(_) => 0,
        }
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_complete(cookie: u32) -> c_int {
    guard("dm_udev_complete", 0, || {
        udev::complete(cookie, sync()).is_ok() as c_int
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_wait(cookie: u32) -> c_int {
    guard("dm_udev_wait", 0, || {
        let r = udev::wait(cookie, sync()).is_ok();
        nodes::update_devs();
        r as c_int
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_udev_wait_immediate(cookie: u32, ready: *mut c_int) -> c_int {
    guard("dm_udev_wait_immediate", 0, || {
        if ready.is_null() {
            devmapper::dm_error!(
                "Internal error: dm_udev_wait_immediate called with a NULL ready pointer."
            );
            return 0;
        }
        match udev::wait_immediate(cookie, sync()) {
            Ok(r) => {
                if r {
                    nodes::update_devs();
                }
                // SAFETY: checked non-NULL.
                unsafe { *ready = r as c_int };
                1
            }
            Err(_) => {
                // libdevmapper reports "ready" after a failed wait too.
                nodes::update_devs();
                unsafe { *ready = 1 };
                0
            }
        }
    })
}
