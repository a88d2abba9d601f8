//! libdevmapper's udev synchronisation ("cookie") protocol.
//!
//! A cookie is a `u32`: the high 16 bits are [`COOKIE_MAGIC`], the low 16 a
//! random base; the pair is also the SysV semaphore key. The creator holds
//! one reference (value 1); every task that will emit a uevent adds one
//! ([`set_cookie`]); udev's `dmsetup udevcomplete` (or [`complete`] when no
//! uevent comes) subtracts one; [`wait`] drops the creator's reference, waits
//! for zero and removes the semaphore.
//!
//! The caller decides whether synchronisation is active with
//! [`get_sync_support`] and passes that decision (`sync`) to every call, so
//! this module never needs the ioctl layer. Messages are logged here with
//! libdm's wording; the returned [`UdevError`] repeats the main one.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::kernel::sys;

/// `DM_COOKIE_MAGIC`: the prefix of every cookie / semaphore key.
pub const COOKIE_MAGIC: u32 = 0x0D4D;
/// `DM_UDEV_FLAGS_SHIFT`: udev flags live in the high half of `event_nr`.
pub const UDEV_FLAGS_SHIFT: u32 = 16;
/// `DM_UDEV_FLAGS_MASK`.
pub const UDEV_FLAGS_MASK: u32 = 0xFFFF_0000;
/// `DM_COOKIE_AUTO_CREATE`.
pub const COOKIE_AUTO_CREATE: u32 = 0;

/// `DM_UDEV_DISABLE_DM_RULES_FLAG`.
pub const DISABLE_DM_RULES_FLAG: u16 = 0x0001;
/// `DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG`.
pub const DISABLE_SUBSYSTEM_RULES_FLAG: u16 = 0x0002;
/// `DM_UDEV_DISABLE_DISK_RULES_FLAG`.
pub const DISABLE_DISK_RULES_FLAG: u16 = 0x0004;
/// `DM_UDEV_DISABLE_OTHER_RULES_FLAG`.
pub const DISABLE_OTHER_RULES_FLAG: u16 = 0x0008;
/// `DM_UDEV_LOW_PRIORITY_FLAG`.
pub const LOW_PRIORITY_FLAG: u16 = 0x0010;
/// `DM_UDEV_DISABLE_LIBRARY_FALLBACK`.
pub const DISABLE_LIBRARY_FALLBACK: u16 = 0x0020;
/// `DM_UDEV_PRIMARY_SOURCE_FLAG`.
pub const PRIMARY_SOURCE_FLAG: u16 = 0x0040;
/// `DM_SUBSYSTEM_UDEV_FLAG0` .. `DM_SUBSYSTEM_UDEV_FLAG7`.
pub const SUBSYSTEM_UDEV_FLAG0: u16 = 0x0100;
pub const SUBSYSTEM_UDEV_FLAG1: u16 = 0x0200;
pub const SUBSYSTEM_UDEV_FLAG2: u16 = 0x0400;
pub const SUBSYSTEM_UDEV_FLAG3: u16 = 0x0800;
pub const SUBSYSTEM_UDEV_FLAG4: u16 = 0x1000;
pub const SUBSYSTEM_UDEV_FLAG5: u16 = 0x2000;
pub const SUBSYSTEM_UDEV_FLAG6: u16 = 0x4000;
pub const SUBSYSTEM_UDEV_FLAG7: u16 = 0x8000;

/// Short aliases of the names above.
pub const DM_UDEV_FLAGS_SHIFT: u32 = UDEV_FLAGS_SHIFT;
pub const DM_UDEV_FLAGS_MASK: u32 = UDEV_FLAGS_MASK;
pub const DISABLE_DM_RULES: u16 = DISABLE_DM_RULES_FLAG;
pub const DISABLE_SUBSYSTEM_RULES: u16 = DISABLE_SUBSYSTEM_RULES_FLAG;
pub const DISABLE_DISK_RULES: u16 = DISABLE_DISK_RULES_FLAG;
pub const DISABLE_OTHER_RULES: u16 = DISABLE_OTHER_RULES_FLAG;
pub const LOW_PRIORITY: u16 = LOW_PRIORITY_FLAG;
pub const PRIMARY_SOURCE: u16 = PRIMARY_SOURCE_FLAG;

/// `LOG_CLASS_ACTIVATION`: libdm's `log_debug_activation` class.
const LOG_CLASS_ACTIVATION: i32 = 4;

macro_rules! debug_act {
    ($($arg:tt)*) => {
        $crate::dm_log_at!($crate::log::Level::Debug, 0, LOG_CLASS_ACTIVATION, $($arg)*)
    };
}

/// Where `systemd-udevd` listens; its presence means "udev is running"
/// (what libudev's `udev_queue_get_udev_is_active` tests).
const UDEV_CONTROL: &str = "/run/udev/control";

static SYNC_WITH_UDEV: AtomicBool = AtomicBool::new(true);
static CHECKING: AtomicBool = AtomicBool::new(true);
static UDEV_DISABLED: OnceLock<bool> = OnceLock::new();
static SEMAPHORE_SUPPORTED: OnceLock<bool> = OnceLock::new();
static UDEV_RUNNING: OnceLock<bool> = OnceLock::new();
/// Last answer of the caller's cookie-support check: 0 unknown, 1 no, 2 yes.
static COOKIE_SUPPORTED: AtomicU8 = AtomicU8::new(0);

/// An error of the cookie protocol: the errno involved (0 when none) and
/// libdm's message (already logged when the error is returned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdevError {
    pub errno: i32,
    pub message: String,
}

impl UdevError {
    fn new(errno: i32, message: String) -> Self {
        UdevError { errno, message }
    }
}

impl fmt::Display for UdevError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UdevError {}

/// Log `msg` at error level and turn it into an error.
fn fail(errno: i32, msg: String) -> UdevError {
    crate::dm_error!("{}", msg);
    UdevError::new(errno, msg)
}

/// Whether `DM_DISABLE_UDEV` was set (read once, at first use).
pub fn udev_disabled() -> bool {
    *UDEV_DISABLED.get_or_init(|| std::env::var_os("DM_DISABLE_UDEV").is_some())
}

fn check_semaphore_is_supported() -> bool {
    if sys::sem_info_supported() {
        return true;
    }
    crate::dm_warn!(
        "Kernel not configured for semaphores (System V IPC). Not using udev synchronisation code."
    );
    false
}

fn check_udev_is_running() -> bool {
    let r = Path::new(UDEV_CONTROL).exists();
    if !r {
        debug_act!("Udev is not running. Not using udev synchronisation code.");
    }
    r
}

/// `_check_udev_sync_requirements_once`: probe semaphores and udev once per
/// process and cache the answers.
fn check_requirements_once() {
    SEMAPHORE_SUPPORTED.get_or_init(check_semaphore_is_supported);
    UDEV_RUNNING.get_or_init(|| {
        let running = check_udev_is_running();
        if running && udev_disabled() {
            crate::dm_warn!(
                "Udev is running and DM_DISABLE_UDEV environment variable is set. Bypassing udev, device-mapper library will manage device nodes in device directory."
            );
        }
        running
    });
}

/// Cached: the kernel supports SysV semaphores.
pub fn semaphore_supported() -> bool {
    check_requirements_once();
    SEMAPHORE_SUPPORTED.get().copied().unwrap_or(false)
}

/// Cached: udev was running when first checked.
pub fn udev_running() -> bool {
    check_requirements_once();
    UDEV_RUNNING.get().copied().unwrap_or(false)
}

/// `dm_udev_get_sync_support`: true only if udev is not disabled by the
/// environment, semaphores work, cookies are supported by the driver
/// (`cookie_supported` is called lazily, only when the first two hold, like
/// libdm's `dm_cookie_supported()`), udev is running, and sync was not
/// switched off with [`set_sync_support`].
pub fn get_sync_support(cookie_supported: impl FnOnce() -> bool) -> bool {
    check_requirements_once();
    if udev_disabled() || !SEMAPHORE_SUPPORTED.get().copied().unwrap_or(false) {
        return false;
    }
    let cs = cookie_supported();
    COOKIE_SUPPORTED.store(if cs { 2 } else { 1 }, Ordering::Relaxed);
    cs && UDEV_RUNNING.get().copied().unwrap_or(false) && SYNC_WITH_UDEV.load(Ordering::Relaxed)
}

/// [`get_sync_support`] using the answer the cookie-support check gave the
/// last time it was asked (false if never asked). For code that cannot
/// reach the ioctl layer, such as node-operation processing: nodes are only
/// stacked after a task ran, so the driver version is known by then.
pub fn get_sync_support_cached() -> bool {
    get_sync_support(|| COOKIE_SUPPORTED.load(Ordering::Relaxed) == 2)
}

/// `dm_udev_set_sync_support`.
pub fn set_sync_support(sync: bool) {
    check_requirements_once();
    SYNC_WITH_UDEV.store(sync, Ordering::Relaxed);
}

/// `dm_udev_get_checking`.
pub fn get_checking() -> bool {
    CHECKING.load(Ordering::Relaxed)
}

/// `dm_udev_set_checking`.
pub fn set_checking(checking: bool) {
    CHECKING.store(checking, Ordering::Relaxed);
    if checking {
        debug_act!("DM udev checking enabled");
    } else {
        debug_act!("DM udev checking disabled");
    }
}

/// `_set_cookie_flags` without the task: the flags as sent, after the
/// `DM_DISABLE_UDEV` rewrite (libdm creates the nodes itself and keeps udev's
/// dm and subsystem rules out).
pub fn effective_flags(flags: u16, udev_disabled: bool) -> u16 {
    if udev_disabled {
        (flags & !DISABLE_LIBRARY_FALLBACK) | DISABLE_DM_RULES | DISABLE_SUBSYSTEM_RULES
    } else {
        flags
    }
}

/// The flag list of libdm's "Udev cookie ... assigned to ... with flags"
/// debug line (the `%s` run between "flags" and " (0x..)"): named flags with
/// a leading space, and, like libdm, a lone space for each unset subsystem
/// flag.
pub fn flags_description(flags: u16) -> String {
    let named: [(u16, &str); 7] = [
        (DISABLE_DM_RULES, " DISABLE_DM_RULES"),
        (DISABLE_SUBSYSTEM_RULES, " DISABLE_SUBSYSTEM_RULES"),
        (DISABLE_DISK_RULES, " DISABLE_DISK_RULES"),
        (DISABLE_OTHER_RULES, " DISABLE_OTHER_RULES"),
        (LOW_PRIORITY, " LOW_PRIORITY"),
        (DISABLE_LIBRARY_FALLBACK, " DISABLE_LIBRARY_FALLBACK"),
        (PRIMARY_SOURCE, " PRIMARY_SOURCE"),
    ];
    let mut s = String::new();
    for (bit, name) in named {
        if flags & bit != 0 {
            s.push_str(name);
        }
    }
    for n in 0..8u16 {
        if flags & (SUBSYSTEM_UDEV_FLAG0 << n) != 0 {
            s.push_str(" SUBSYSTEM_");
            s.push(char::from(b'0' + n as u8));
        } else {
            s.push(' ');
        }
    }
    s
}

/// `_task_type_disp`: the task-type name in the cookie debug line.
pub fn task_type_name(task_type: i32) -> &'static str {
    match task_type {
        0 => "CREATE",
        1 => "RELOAD",
        2 => "REMOVE",
        3 => "REMOVE_ALL",
        4 => "SUSPEND",
        5 => "RESUME",
        6 => "INFO",
        7 => "DEPS",
        8 => "RENAME",
        9 => "VERSION",
        10 => "STATUS",
        11 => "TABLE",
        12 => "WAITEVENT",
        13 => "LIST",
        14 => "CLEAR",
        15 => "MKNODES",
        16 => "LIST_VERSIONS",
        17 => "TARGET_MSG",
        18 => "SET_GEOMETRY",
        _ => "unknown",
    }
}

/// `_get_cookie_sem`: the semaphore id of an existing cookie.
fn get_cookie_sem(cookie: u32) -> Result<i32, UdevError> {
    if cookie >> 16 != COOKIE_MAGIC {
        return Err(fail(
            libc::EINVAL,
            format!(
                "Could not continue to access notification semaphore identified by cookie value {cookie} (0x{cookie:x}). Incorrect cookie prefix."
            ),
        ));
    }
    match sys::semget(cookie as i32, 1, 0) {
        Ok(id) => Ok(id),
        Err(e) => {
            let msg = match e {
                libc::ENOENT => format!(
                    "Could not find notification semaphore identified by cookie value {cookie} (0x{cookie:x})"
                ),
                // "notificaton": libdm's spelling.
                libc::EACCES => format!(
                    "No permission to access notificaton semaphore identified by cookie value {cookie} (0x{cookie:x})"
                ),
                _ => format!(
                    "Failed to access notification semaphore identified by cookie value {cookie} (0x{cookie:x}): {}",
                    sys::strerror(e)
                ),
            };
            Err(fail(e, msg))
        }
    }
}

fn getval_error(semid: i32, cookie: u32, e: i32) -> UdevError {
    fail(
        e,
        format!(
            "semid {semid}: sem_ctl GETVAL failed for cookie 0x{cookie:x}: {}",
            sys::strerror(e)
        ),
    )
}

/// `_udev_notify_sem_inc`.
fn sem_inc(cookie: u32, semid: i32) -> Result<(), UdevError> {
    if let Err(e) = sys::semop_one(semid, 1, 0) {
        return Err(fail(
            e,
            format!(
                "semid {semid}: semop failed for cookie 0x{cookie:x}: {}",
                sys::strerror(e)
            ),
        ));
    }
    let val = sys::sem_getval(semid).map_err(|e| getval_error(semid, cookie, e))?;
    debug_act!(
        "Udev cookie 0x{:x} (semid {}) incremented to {}",
        cookie,
        semid,
        val
    );
    Ok(())
}

/// `_udev_notify_sem_dec`: decrement without blocking.
fn sem_dec(cookie: u32, semid: i32) -> Result<(), UdevError> {
    let val = sys::sem_getval(semid).map_err(|e| getval_error(semid, cookie, e))?;
    if let Err(e) = sys::semop_one(semid, -1, sys::IPC_NOWAIT) {
        let msg = if e == libc::EAGAIN {
            format!(
                "semid {semid}: semop failed for cookie 0x{cookie:x}: incorrect semaphore state"
            )
        } else {
            format!(
                "semid {semid}: semop failed for cookie 0x{cookie:x}: {}",
                sys::strerror(e)
            )
        };
        return Err(fail(e, msg));
    }
    debug_act!(
        "Udev cookie 0x{:x} (semid {}) decremented to {}",
        cookie,
        semid,
        val - 1
    );
    Ok(())
}

/// `_udev_notify_sem_destroy`.
fn sem_destroy(cookie: u32, semid: i32) -> Result<(), UdevError> {
    if let Err(e) = sys::sem_remove(semid) {
        return Err(fail(
            e,
            format!(
                "Could not cleanup notification semaphore identified by cookie value {cookie} (0x{cookie:x}): {}",
                sys::strerror(e)
            ),
        ));
    }
    debug_act!("Udev cookie 0x{:x} (semid {}) destroyed", cookie, semid);
    Ok(())
}

/// `_udev_notify_sem_create`: a new semaphore with a random unused key,
/// value 1 (the creator's reference). Returns (cookie, semid).
fn sem_create() -> Result<(u32, i32), UdevError> {
    let mut f = File::open("/dev/urandom").map_err(|e| {
        fail(
            e.raw_os_error().unwrap_or(0),
            "Failed to open /dev/urandom to create random cookie value".to_string(),
        )
    })?;
    let (cookie, semid) = loop {
        let mut b = [0u8; 2];
        if let Err(e) = f.read_exact(&mut b) {
            return Err(fail(
                e.raw_os_error().unwrap_or(0),
                "Failed to initialize notification cookie".to_string(),
            ));
        }
        let base = u16::from_ne_bytes(b);
        if base == 0 {
            continue;
        }
        let cookie = (COOKIE_MAGIC << 16) | base as u32;
        match sys::semget(cookie as i32, 1, 0o600 | sys::IPC_CREAT | sys::IPC_EXCL) {
            Ok(id) => break (cookie, id),
            // Key taken: try another random one.
            Err(libc::EEXIST) => continue,
            Err(libc::ENOMEM) => {
                return Err(fail(libc::ENOMEM, "Not enough memory to create notification semaphore".to_string()))
            }
            Err(libc::ENOSPC) => {
                return Err(fail(
                    libc::ENOSPC,
                    "Limit for the maximum number of semaphores reached. You can check and set the limits in /proc/sys/kernel/sem."
                        .to_string(),
                ))
            }
            Err(e) => {
                return Err(fail(e, format!("Failed to create notification semaphore: {}", sys::strerror(e))))
            }
        }
    };
    debug_act!("Udev cookie 0x{:x} (semid {}) created", cookie, semid);

    if let Err(e) = sys::sem_setval(semid, 1) {
        let err = fail(
            e,
            format!("semid {semid}: semctl failed: {}", sys::strerror(e)),
        );
        // Do not leave the just-created semaphore behind.
        let _ = sem_destroy(cookie, semid);
        return Err(err);
    }
    let val = match sys::sem_getval(semid) {
        Ok(v) => v,
        Err(e) => {
            let err = getval_error(semid, cookie, e);
            let _ = sem_destroy(cookie, semid);
            return Err(err);
        }
    };
    debug_act!(
        "Udev cookie 0x{:x} (semid {}) incremented to {}",
        cookie,
        semid,
        val
    );
    Ok((cookie, semid))
}

/// `dm_udev_create_cookie`: without sync the cookie is 0 and nothing is
/// created; otherwise a new semaphore holding the creator's reference.
pub fn create_cookie(sync: bool) -> Result<u32, UdevError> {
    if !sync {
        return Ok(0);
    }
    sem_create().map(|(cookie, _)| cookie)
}

/// `dm_task_set_cookie` for a task whose type is unknown to the caller (the
/// debug line then says "unknown task(-1)"). See [`set_cookie_for`].
pub fn set_cookie(
    cookie: &mut u32,
    flags: u16,
    sync: bool,
    cookie_supported: bool,
) -> Result<u32, UdevError> {
    set_cookie_for(cookie, flags, sync, cookie_supported, -1)
}

/// `dm_task_set_cookie(dmt, &cookie, flags)` for a task of type `task_type`
/// (the `DM_DEVICE_*` value, used only in the debug line).
///
/// Returns the `event_nr` to put in the task (and the ioctl): the flags in
/// the high half (when `cookie_supported`, i.e. driver >= 4.15; rewritten
/// when `DM_DISABLE_UDEV` is set) and the cookie base in the low half. On
/// `Ok` the task counts as "cookie set".
///
/// * No sync: `*cookie = 0`, nothing else happens.
/// * `*cookie == 0`: a semaphore is created and `*cookie` receives it.
/// * Then the semaphore is incremented for the uevent this task will cause.
///
/// On error libdm resets the task's `event_nr` to 0; a semaphore created by
/// this call is removed again and `*cookie` reset to 0.
///
/// When `cookie_supported` is false libdm leaves the task's previous
/// `event_nr` untouched (rather than zeroing the flags); this returns 0 then,
/// and such a caller may keep its old value.
pub fn set_cookie_for(
    cookie: &mut u32,
    flags: u16,
    sync: bool,
    cookie_supported: bool,
    task_type: i32,
) -> Result<u32, UdevError> {
    let mut event_nr: u32 = 0;
    if cookie_supported {
        event_nr = (effective_flags(flags, udev_disabled()) as u32) << DM_UDEV_FLAGS_SHIFT;
    }

    if !sync {
        *cookie = 0;
        return Ok(event_nr);
    }

    let (semid, created) = if *cookie != 0 {
        (get_cookie_sem(*cookie)?, false)
    } else {
        match sem_create() {
            Ok((c, id)) => {
                *cookie = c;
                (id, true)
            }
            Err(e) => {
                *cookie = 0;
                return Err(e);
            }
        }
    };

    if let Err(e) = sem_inc(*cookie, semid) {
        let c = *cookie;
        let err = fail(
            e.errno,
            format!(
                "Could not set notification semaphore identified by cookie value {c} (0x{c:x})"
            ),
        );
        if created {
            let _ = sem_destroy(c, semid);
            *cookie = 0;
        }
        return Err(err);
    }

    event_nr |= *cookie & !DM_UDEV_FLAGS_MASK;
    debug_act!(
        "Udev cookie 0x{:x} (semid {}) assigned to {} task({}) with flags{} (0x{:x})",
        *cookie,
        semid,
        task_type_name(task_type),
        task_type,
        flags_description(flags),
        flags
    );
    Ok(event_nr)
}

/// `dm_udev_complete(cookie)`: one event done. A no-op for cookie 0 or when
/// sync is off. (`dmsetup udevcomplete` and libdm's own `_udev_complete`
/// after an ioctl that produced no uevent.)
pub fn complete(cookie: u32, sync: bool) -> Result<(), UdevError> {
    if cookie == 0 || !sync {
        return Ok(());
    }
    let semid = get_cookie_sem(cookie)?;
    if let Err(e) = sem_dec(cookie, semid) {
        return Err(fail(
            e.errno,
            format!(
                "Could not signal waiting process using notification semaphore identified by cookie value {cookie} (0x{cookie:x})"
            ),
        ));
    }
    Ok(())
}

enum WaitOutcome {
    /// Cookie 0 or no sync: nothing to wait for.
    Skipped,
    /// `nowait` and other events are still outstanding.
    NotReady,
    /// Waited for zero (and removed the semaphore).
    Done,
}

/// `_udev_wait`.
fn udev_wait(cookie: u32, sync: bool, nowait: bool) -> Result<WaitOutcome, UdevError> {
    if cookie == 0 || !sync {
        return Ok(WaitOutcome::Skipped);
    }
    let semid = get_cookie_sem(cookie)?;

    if nowait {
        let val = match sys::sem_getval(semid) {
            Ok(v) => v,
            Err(e) => {
                return Err(fail(
                    e,
                    format!(
                        "semid {semid}: sem_ctl GETVAL failed for cookie 0x{cookie:x}: {}",
                        sys::strerror(e)
                    ),
                ))
            }
        };
        if val > 1 {
            return Ok(WaitOutcome::NotReady);
        }
    }

    // Drop the creator's reference.
    if let Err(e) = sem_dec(cookie, semid) {
        let err = fail(
            e.errno,
            format!(
                "Failed to set a proper state for notification semaphore identified by cookie value {cookie} (0x{cookie:x}) to initialize waiting for incoming notifications."
            ),
        );
        let _ = sem_destroy(cookie, semid);
        return Err(err);
    }

    debug_act!(
        "Udev cookie 0x{:x} (semid {}) waiting for zero",
        cookie,
        semid
    );

    loop {
        match sys::semop_one(semid, 0, 0) {
            Ok(()) => break,
            Err(libc::EINTR) => continue,
            // Removed under us (e.g. `dmsetup udevcomplete_all`): done.
            Err(libc::EIDRM) => return Ok(WaitOutcome::Done),
            Err(e) => {
                let err = fail(
                    e,
                    format!(
                        "Could not set wait state for notification semaphore identified by cookie value {cookie} (0x{cookie:x}): {}",
                        sys::strerror(e)
                    ),
                );
                let _ = sem_destroy(cookie, semid);
                return Err(err);
            }
        }
    }

    sem_destroy(cookie, semid).map(|()| WaitOutcome::Done)
}

/// `dm_udev_wait(cookie)` without the node update: drop the creator's
/// reference, block (no timeout) until every event completed, remove the
/// semaphore. Cookie 0 or no sync: `Ok` at once.
///
/// libdm runs `update_devs()` afterwards **whatever the result**; the caller
/// must do the same (`crate::nodes::update_devs()`).
pub fn wait(cookie: u32, sync: bool) -> Result<(), UdevError> {
    udev_wait(cookie, sync, false).map(|_| ())
}

/// `dm_udev_wait_immediate(cookie, &ready)` without the node update.
///
/// * `Ok(false)`: not ready — other events are outstanding — or, libdm's
///   quirk, cookie 0 / sync off (nothing was waited for; libdm then does
///   *not* update nodes and callers fall back to `dm_udev_wait`).
/// * `Ok(true)`: all events completed, the semaphore is gone.
/// * `Err`: libdm reports `ready = 1` and returns 0.
///
/// Unless the result is `Ok(false)` the caller must run
/// `crate::nodes::update_devs()`, as libdm does.
pub fn wait_immediate(cookie: u32, sync: bool) -> Result<bool, UdevError> {
    match udev_wait(cookie, sync, true)? {
        WaitOutcome::Skipped | WaitOutcome::NotReady => Ok(false),
        WaitOutcome::Done => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes a cookie's semaphore (if still there) at the end of a test.
    struct Guard(u32);
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0 >> 16 == COOKIE_MAGIC {
                if let Ok(id) = sys::semget(self.0 as i32, 1, 0) {
                    let _ = sys::sem_remove(id);
                }
            }
        }
    }

    fn value(cookie: u32) -> Result<i32, i32> {
        let id = sys::semget(cookie as i32, 1, 0)?;
        sys::sem_getval(id)
    }

    fn have_sem() -> bool {
        sys::sem_info_supported()
    }

    #[test]
    fn constants() {
        assert_eq!(COOKIE_MAGIC, 0x0D4D);
        assert_eq!(DM_UDEV_FLAGS_MASK, 0xFFFF << DM_UDEV_FLAGS_SHIFT);
        assert_eq!(PRIMARY_SOURCE, 0x40);
        assert_eq!(SUBSYSTEM_UDEV_FLAG7, 0x8000);
    }

    #[test]
    fn flags_rewrite_when_udev_disabled() {
        let f = DISABLE_LIBRARY_FALLBACK | LOW_PRIORITY;
        assert_eq!(effective_flags(f, false), f);
        assert_eq!(
            effective_flags(f, true),
            LOW_PRIORITY | DISABLE_DM_RULES | DISABLE_SUBSYSTEM_RULES
        );
    }

    #[test]
    fn flags_text() {
        assert_eq!(flags_description(0), "        ");
        assert_eq!(
            flags_description(
                DISABLE_DM_RULES
                    | DISABLE_LIBRARY_FALLBACK
                    | SUBSYSTEM_UDEV_FLAG0
                    | SUBSYSTEM_UDEV_FLAG2
            ),
            " DISABLE_DM_RULES DISABLE_LIBRARY_FALLBACK SUBSYSTEM_0  SUBSYSTEM_2     "
        );
        assert_eq!(task_type_name(5), "RESUME");
        assert_eq!(task_type_name(19), "unknown");
        assert_eq!(task_type_name(-1), "unknown");
    }

    #[test]
    fn no_sync_paths() {
        assert_eq!(create_cookie(false), Ok(0));
        let mut cookie = 0x0D4D_1234;
        let ev = set_cookie(&mut cookie, PRIMARY_SOURCE, false, true).unwrap();
        assert_eq!(cookie, 0);
        assert_eq!(
            ev,
            (effective_flags(PRIMARY_SOURCE, udev_disabled()) as u32) << 16
        );
        let mut cookie = 0;
        assert_eq!(set_cookie(&mut cookie, PRIMARY_SOURCE, false, false), Ok(0));
        assert_eq!(complete(0x0D4D_1234, false), Ok(()));
        assert_eq!(complete(0, true), Ok(()));
        assert_eq!(wait(0x0D4D_1234, false), Ok(()));
        assert_eq!(wait(0, true), Ok(()));
        // The quirk: nothing to wait for reads as "not ready".
        assert_eq!(wait_immediate(0, true), Ok(false));
        assert_eq!(wait_immediate(0x0D4D_1234, false), Ok(false));
    }

    #[test]
    fn cookie_round_trip() {
        if !have_sem() {
            return;
        }
        let cookie = create_cookie(true).expect("create");
        let _g = Guard(cookie);
        assert_eq!(cookie >> 16, COOKIE_MAGIC);
        assert_ne!(cookie & 0xffff, 0);
        assert_eq!(value(cookie), Ok(1));

        let mut c = cookie;
        let ev = set_cookie_for(&mut c, DISABLE_DM_RULES, true, true, 5).expect("set_cookie");
        assert_eq!(c, cookie);
        let flags = effective_flags(DISABLE_DM_RULES, udev_disabled()) as u32;
        assert_eq!(ev, (flags << 16) | (cookie & 0xffff));
        assert_eq!(value(cookie), Ok(2));

        // Not ready while an event is outstanding.
        assert_eq!(wait_immediate(cookie, true), Ok(false));
        assert_eq!(value(cookie), Ok(2));

        complete(cookie, true).expect("complete");
        assert_eq!(value(cookie), Ok(1));

        wait(cookie, true).expect("wait");
        assert_eq!(value(cookie), Err(libc::ENOENT));
    }

    #[test]
    fn set_cookie_creates_when_zero() {
        if !have_sem() {
            return;
        }
        let mut c = 0;
        let ev = set_cookie(&mut c, 0, true, true).expect("set_cookie");
        let _g = Guard(c);
        assert_eq!(c >> 16, COOKIE_MAGIC);
        assert_eq!(ev & 0xffff, c & 0xffff);
        assert_eq!(value(c), Ok(2));
        // A second task joins the same transaction.
        let before = c;
        set_cookie(&mut c, 0, true, true).expect("join");
        assert_eq!(c, before);
        assert_eq!(value(c), Ok(3));
        complete(c, true).unwrap();
        complete(c, true).unwrap();
        assert_eq!(wait_immediate(c, true), Ok(true));
        assert_eq!(value(c), Err(libc::ENOENT));
    }

    #[test]
    fn errors() {
        if !have_sem() {
            return;
        }
        // Wrong prefix.
        let e = complete(0x1234_5678, true).unwrap_err();
        assert!(
            e.message
                .ends_with("(0x12345678). Incorrect cookie prefix."),
            "{}",
            e.message
        );
        // Missing semaphore: pick a key nobody uses.
        let cookie = create_cookie(true).unwrap();
        let id = sys::semget(cookie as i32, 1, 0).unwrap();
        sys::sem_remove(id).unwrap();
        let e = complete(cookie, true).unwrap_err();
        assert_eq!(e.errno, libc::ENOENT);
        assert_eq!(
            e.message,
            format!("Could not find notification semaphore identified by cookie value {cookie} (0x{cookie:x})")
        );
        let mut c = cookie;
        assert!(set_cookie(&mut c, 0, true, true).is_err());
        assert!(wait(cookie, true).is_err());

        // Completing below zero: "incorrect semaphore state".
        let cookie = create_cookie(true).unwrap();
        let _g = Guard(cookie);
        complete(cookie, true).unwrap();
        let e = complete(cookie, true).unwrap_err();
        assert_eq!(e.errno, libc::EAGAIN);
        assert_eq!(
            e.message,
            format!("Could not signal waiting process using notification semaphore identified by cookie value {cookie} (0x{cookie:x})")
        );
        // wait() cannot drop the creator's reference: it fails and removes
        // the semaphore.
        assert!(wait(cookie, true).is_err());
        assert_eq!(value(cookie), Err(libc::ENOENT));
    }

    #[test]
    fn wait_returns_after_concurrent_complete() {
        if !have_sem() {
            return;
        }
        let mut c = 0;
        set_cookie(&mut c, 0, true, true).unwrap();
        let _g = Guard(c);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            complete(c, true)
        });
        wait(c, true).expect("wait");
        assert_eq!(t.join().ok(), Some(Ok(())));
        assert_eq!(value(c), Err(libc::ENOENT));
    }

    #[test]
    fn sync_support_gates() {
        // The probes are cached and answer consistently.
        assert_eq!(semaphore_supported(), semaphore_supported());
        assert_eq!(udev_running(), Path::new(UDEV_CONTROL).exists());
        // Without driver cookie support there is never sync.
        assert!(!get_sync_support(|| false));
    }
}
