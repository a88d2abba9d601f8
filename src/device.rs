//! Device helpers libcryptsetup uses: `dm_is_dm_major`, `dm_device_get_name`,
//! `dm_device_has_holders`, `dm_device_has_mounted_fs`.

use crate::ffi::{self, copy_out, guard};
use crate::CTX;
use devmapper::devices;
use std::ffi::{c_char, c_int};

#[no_mangle]
pub extern "C" fn dm_is_dm_major(major: u32) -> c_int {
    guard("dm_is_dm_major", 0, || {
        Some(ffi::cbool(devices::is_dm_major(&CTX, major)))
    })
}

#[no_mangle]
pub unsafe extern "C" fn dm_device_get_name(
    major: u32,
    minor: u32,
    prefer_kernel_name: c_int,
    buf: *mut c_char,
    buf_size: usize,
) -> c_int {
    guard("dm_device_get_name", 0, || {
        if buf.is_null() || buf_size == 0 {
            devmapper::log_error!(
                &CTX,
                "Internal error: dm_device_get_name called with no buffer."
            );
            return None;
        }
        let n =
            devices::device_get_name_into(&CTX, major, minor, prefer_kernel_name != 0, buf_size)?;
        // SAFETY: a caller buffer of `buf_size` bytes (C contract).
        Some(ffi::cbool(unsafe { copy_out(&n, buf, buf_size) }))
    })
}

#[no_mangle]
pub extern "C" fn dm_device_has_holders(major: u32, minor: u32) -> c_int {
    guard("dm_device_has_holders", 0, || {
        Some(ffi::cbool(devices::device_has_holders(&CTX, major, minor)))
    })
}

#[no_mangle]
pub extern "C" fn dm_device_has_mounted_fs(major: u32, minor: u32) -> c_int {
    guard("dm_device_has_mounted_fs", 0, || {
        Some(ffi::cbool(devices::device_has_mounted_fs(
            &CTX, major, minor,
        )))
    })
}
