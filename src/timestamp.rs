//! `dm_timestamp_*`: a `struct dm_timestamp` is a core
//! [`Timestamp`](devmapper::timestamp::Timestamp) (a `CLOCK_MONOTONIC`
//! reading). The type is shared with `dm_task_get_ioctl_timestamp`.

use crate::ffi::{self, guard, handle, handle_mut, ok};
use devmapper::timestamp::Timestamp;
use std::cmp::Ordering;
use std::ffi::c_int;
use std::ptr::null_mut;

/// The opaque `struct dm_timestamp`.
pub struct dm_timestamp {
    pub(crate) ts: Timestamp,
}

impl From<Timestamp> for dm_timestamp {
    fn from(ts: Timestamp) -> dm_timestamp {
        dm_timestamp { ts }
    }
}

/// The timestamp behind a `struct dm_timestamp *`.
unsafe fn ts<'a>(p: *const dm_timestamp, what: &str) -> Option<&'a dm_timestamp> {
    // SAFETY: timestamp pointers come from dm_timestamp_alloc or
    // dm_task_get_ioctl_timestamp (C contract).
    unsafe { handle(p, what, "timestamp") }
}

/// A new timestamp holding the zero reading.
#[no_mangle]
pub extern "C" fn dm_timestamp_alloc() -> *mut dm_timestamp {
    guard("dm_timestamp_alloc", null_mut(), || {
        Some(Box::into_raw(Box::new(dm_timestamp::from(Timestamp::ZERO))))
    })
}

/// Free a timestamp (NULL is ignored).
#[no_mangle]
pub unsafe extern "C" fn dm_timestamp_destroy(ts: *mut dm_timestamp) {
    guard("dm_timestamp_destroy", (), || {
        // SAFETY: the pointer came from dm_timestamp_alloc and is not used again.
        drop(unsafe { ffi::take_handle(ts) });
        Some(())
    })
}

/// Read `CLOCK_MONOTONIC` into `ts`: 1, or 0 (and the zero reading) when the
/// clock fails. A NULL `ts` gives 0 silently, as in libdevmapper.
#[no_mangle]
pub unsafe extern "C" fn dm_timestamp_get(ts: *mut dm_timestamp) -> c_int {
    guard("dm_timestamp_get", 0, || {
        if ts.is_null() {
            return Some(0);
        }
        // SAFETY: a timestamp handle (C contract).
        let t = unsafe { handle_mut(ts, "dm_timestamp_get", "timestamp") }?;
        t.ts = Timestamp::ZERO;
        t.ts = ok(Timestamp::now())?;
        Some(1)
    })
}

/// -1, 0 or 1 as `ts1` is before, equal to or after `ts2`.
#[no_mangle]
pub unsafe extern "C" fn dm_timestamp_compare(
    ts1: *mut dm_timestamp,
    ts2: *mut dm_timestamp,
) -> c_int {
    guard("dm_timestamp_compare", 0, || {
        // SAFETY: timestamp handles (C contract); read only.
        let (a, b) = unsafe {
            (
                ts(ts1, "dm_timestamp_compare")?,
                ts(ts2, "dm_timestamp_compare")?,
            )
        };
        Some(match a.ts.compare(&b.ts) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        })
    })
}

/// The absolute difference of two timestamps in nanoseconds.
#[no_mangle]
pub unsafe extern "C" fn dm_timestamp_delta(ts1: *mut dm_timestamp, ts2: *mut dm_timestamp) -> u64 {
    guard("dm_timestamp_delta", 0, || {
        // SAFETY: timestamp handles (C contract); read only.
        let (a, b) = unsafe {
            (
                ts(ts1, "dm_timestamp_delta")?,
                ts(ts2, "dm_timestamp_delta")?,
            )
        };
        Some(a.ts.delta(&b.ts))
    })
}

/// Copy the reading of `ts_old` into `ts_new`.
#[no_mangle]
pub unsafe extern "C" fn dm_timestamp_copy(ts_new: *mut dm_timestamp, ts_old: *mut dm_timestamp) {
    guard("dm_timestamp_copy", (), || {
        // SAFETY: timestamp handles (C contract); the value is copied out of
        // `ts_old` before `ts_new` is borrowed, so the two may be the same.
        let v = unsafe { ts(ts_old, "dm_timestamp_copy") }?.ts;
        // SAFETY: as above.
        unsafe { handle_mut(ts_new, "dm_timestamp_copy", "timestamp") }?.ts = v;
        Some(())
    })
}
