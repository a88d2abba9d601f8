//! Process-wide state libdevmapper exposes through its API: the count of
//! devices known to be suspended, the ioctl timestamp, and small facts about
//! the process. Each item has its own atomic or lock.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

static SUSPENDED: AtomicI32 = AtomicI32::new(0);
static IOCTL_TIMESTAMP: Mutex<Option<libc::timespec>> = Mutex::new(None);

/// `dm_get_suspended_counter()`: devices suspended through dm_tree.
pub fn suspended_counter() -> i32 {
    SUSPENDED.load(Ordering::Relaxed)
}

pub fn inc_suspended() {
    SUSPENDED.fetch_add(1, Ordering::Relaxed);
}

pub fn dec_suspended() {
    SUSPENDED.fetch_sub(1, Ordering::Relaxed);
}

fn monotonic_now() -> libc::timespec {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(t) => *t.as_ref(),
        Err(_) => libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
    }
}

/// Note the time right after an ioctl of a task that asked for it.
pub fn record_ioctl_timestamp() {
    *IOCTL_TIMESTAMP.lock() = Some(monotonic_now());
}

/// The last recorded ioctl time.
pub fn ioctl_timestamp() -> Option<libc::timespec> {
    *IOCTL_TIMESTAMP.lock()
}

/// Forget the timestamp (`dm_lib_release`).
pub fn clear_ioctl_timestamp() {
    *IOCTL_TIMESTAMP.lock() = None;
}

/// Whether the effective uid is root.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}
