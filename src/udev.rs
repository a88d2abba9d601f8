//! `dm_udev_*` and `dm_cookie_supported`.

use crate::ffi::{self, guard, handle_mut};
use crate::CTX;
use devmapper::udev;
use std::ffi::c_int;

#[no_mangle]
pub extern "C" fn dm_cookie_supported() -> c_int {
    guard("dm_cookie_supported", 0, || {
        ffi::ok(CTX.check_version())?;
        Some(ffi::cbool(CTX.cookies_supported()))
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_set_sync_support(sync_with_udev: c_int) {
    guard("dm_udev_set_sync_support", (), || {
        CTX.set_udev_sync(sync_with_udev != 0);
        Some(())
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_get_sync_support() -> c_int {
    guard("dm_udev_get_sync_support", 0, || {
        Some(ffi::cbool(CTX.udev_sync()))
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_set_checking(checking: c_int) {
    guard("dm_udev_set_checking", (), || {
        CTX.set_udev_checking(checking != 0);
        Some(())
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_get_checking() -> c_int {
    guard("dm_udev_get_checking", 0, || {
        Some(ffi::cbool(CTX.udev_checking()))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_udev_create_cookie(cookie: *mut u32) -> c_int {
    guard("dm_udev_create_cookie", 0, || {
        // SAFETY: the caller's cookie variable (C contract).
        let c = unsafe { handle_mut(cookie, "dm_udev_create_cookie", "cookie") }?;
        *c = ffi::ok(udev::create_cookie(&CTX, CTX.udev_sync()))?;
        Some(1)
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_complete(cookie: u32) -> c_int {
    guard("dm_udev_complete", 0, || {
        ffi::done(udev::complete(&CTX, cookie, CTX.udev_sync()))
    })
}

#[no_mangle]
pub extern "C" fn dm_udev_wait(cookie: u32) -> c_int {
    guard("dm_udev_wait", 0, || {
        let r = udev::wait(&CTX, cookie, CTX.udev_sync());
        // libdm updates the nodes whatever the result.
        CTX.update_nodes();
        ffi::done(r)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_udev_wait_immediate(cookie: u32, ready: *mut c_int) -> c_int {
    guard("dm_udev_wait_immediate", 0, || {
        // SAFETY: the caller's flag variable (C contract).
        let ready = unsafe { handle_mut(ready, "dm_udev_wait_immediate", "ready pointer") }?;
        match udev::wait_immediate(&CTX, cookie, CTX.udev_sync()) {
            Ok(r) => {
                if r {
                    CTX.update_nodes();
                }
                *ready = ffi::cbool(r);
                Some(1)
            }
            Err(e) => {
                ffi::fail(&e);
                // libdevmapper reports "ready" after a failed wait too.
                CTX.update_nodes();
                *ready = 1;
                Some(0)
            }
        }
    })
}
