//! libdevmapper's udev synchronisation ("cookie") protocol.
//!
//! A cookie is a `u32`: the high 16 bits are [`COOKIE_MAGIC`], the low 16 a
//! random base; the pair is also the SysV semaphore key. The creator holds
//! one reference (value 1); every task that will emit a uevent adds one
//! ([`set_cookie`]); udev's `dmsetup udevcomplete` (or [`complete`] when no
//! uevent comes) subtracts one; [`wait`] drops the creator's reference, waits
//! for zero and removes the semaphore.
//!
//! The caller decides whether synchronisation is active
//! ([`Context::udev_sync`]) and passes that decision (`sync`) to every call,
//! so the protocol can be exercised without udev. Failures are returned as
//! [`Error`]s of kind [`ErrorKind::Udev`] with libdm's wording (an inner
//! failure first, the outer line as a note, in the order libdm logs them);
//! debug lines go to the context's logger.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use crate::context::Context;
use crate::error::{Error, ErrorKind};
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
/// `DM_SUBSYSTEM_UDEV_FLAG0` .. `DM_SUBSYSTEM_UDEV_FLAG7`: free for
/// subsystems (LVM uses them).
pub const SUBSYSTEM_UDEV_FLAG0: u16 = 0x0100;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG1: u16 = 0x0200;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG2: u16 = 0x0400;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG3: u16 = 0x0800;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG4: u16 = 0x1000;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG5: u16 = 0x2000;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG6: u16 = 0x4000;
#[allow(missing_docs)]
pub const SUBSYSTEM_UDEV_FLAG7: u16 = 0x8000;

bitflags::bitflags! {
    /// libdevmapper's udev flags (`DM_UDEV_*`), typed, for the typed API's
    /// options ([`CreateOptions`](crate::CreateOptions),
    /// [`RemoveOptions`](crate::RemoveOptions),
    /// [`ResumeOptions`](crate::ResumeOptions),
    /// [`Device::with_udev_flags`](crate::Device::with_udev_flags)). They
    /// travel with the uevent of a resume, remove or rename and tell the
    /// udev rules what to do with the device.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct UdevFlags: u16 {
        /// `DM_UDEV_DISABLE_DM_RULES_FLAG`: skip device-mapper's own rules
        /// (no `/dev/mapper` node from udev).
        const DISABLE_DM_RULES = DISABLE_DM_RULES_FLAG;
        /// `DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG`: skip the subsystem's
        /// rules (LVM, cryptsetup, multipath).
        const DISABLE_SUBSYSTEM_RULES = DISABLE_SUBSYSTEM_RULES_FLAG;
        /// `DM_UDEV_DISABLE_DISK_RULES_FLAG`: no `/dev/disk/by-*` links, no
        /// blkid scan.
        const DISABLE_DISK_RULES = DISABLE_DISK_RULES_FLAG;
        /// `DM_UDEV_DISABLE_OTHER_RULES_FLAG`: skip every other rule.
        const DISABLE_OTHER_RULES = DISABLE_OTHER_RULES_FLAG;
        /// `DM_UDEV_LOW_PRIORITY_FLAG`: lower priority for the node
        /// symlinks.
        const LOW_PRIORITY = LOW_PRIORITY_FLAG;
        /// `DM_UDEV_DISABLE_LIBRARY_FALLBACK`: the library makes no
        /// `/dev/mapper` node itself; udev must.
        const DISABLE_LIBRARY_FALLBACK = DISABLE_LIBRARY_FALLBACK;
        /// `DM_UDEV_PRIMARY_SOURCE_FLAG` (set by the library on every
        /// uevent-making ioctl; the rules use it to tell genuine events
        /// from synthetic ones).
        const PRIMARY_SOURCE = PRIMARY_SOURCE_FLAG;
        /// `DM_SUBSYSTEM_UDEV_FLAG0`, for the subsystem's own rules.
        const SUBSYSTEM_0 = SUBSYSTEM_UDEV_FLAG0;
        /// `DM_SUBSYSTEM_UDEV_FLAG1`.
        const SUBSYSTEM_1 = SUBSYSTEM_UDEV_FLAG1;
        /// `DM_SUBSYSTEM_UDEV_FLAG2`.
        const SUBSYSTEM_2 = SUBSYSTEM_UDEV_FLAG2;
        /// `DM_SUBSYSTEM_UDEV_FLAG3`.
        const SUBSYSTEM_3 = SUBSYSTEM_UDEV_FLAG3;
        /// `DM_SUBSYSTEM_UDEV_FLAG4`.
        const SUBSYSTEM_4 = SUBSYSTEM_UDEV_FLAG4;
        /// `DM_SUBSYSTEM_UDEV_FLAG5`.
        const SUBSYSTEM_5 = SUBSYSTEM_UDEV_FLAG5;
        /// `DM_SUBSYSTEM_UDEV_FLAG6`.
        const SUBSYSTEM_6 = SUBSYSTEM_UDEV_FLAG6;
        /// `DM_SUBSYSTEM_UDEV_FLAG7`.
        const SUBSYSTEM_7 = SUBSYSTEM_UDEV_FLAG7;
    }
}

impl UdevFlags {
    /// A private device, as LVM makes its hidden devices (and
    /// devicemapper-rs's `DmOptions::private()`): device-mapper's rules
    /// still make the node, but no subsystem, disk or other rule looks at
    /// the device (no `/dev/disk/by-*` links, no blkid scan, nothing
    /// auto-activated on it).
    pub const PRIVATE: UdevFlags = UdevFlags::DISABLE_SUBSYSTEM_RULES
        .union(UdevFlags::DISABLE_DISK_RULES)
        .union(UdevFlags::DISABLE_OTHER_RULES);
}

const DM_UDEV_FLAGS_SHIFT: u32 = UDEV_FLAGS_SHIFT;
const DM_UDEV_FLAGS_MASK: u32 = UDEV_FLAGS_MASK;
const DISABLE_DM_RULES: u16 = DISABLE_DM_RULES_FLAG;
const DISABLE_SUBSYSTEM_RULES: u16 = DISABLE_SUBSYSTEM_RULES_FLAG;
const DISABLE_DISK_RULES: u16 = DISABLE_DISK_RULES_FLAG;
const DISABLE_OTHER_RULES: u16 = DISABLE_OTHER_RULES_FLAG;
const LOW_PRIORITY: u16 = LOW_PRIORITY_FLAG;
const PRIMARY_SOURCE: u16 = PRIMARY_SOURCE_FLAG;

/// Where `systemd-udevd` listens; its presence means "udev is running"
/// (what libudev's `udev_queue_get_udev_is_active` tests).
const UDEV_CONTROL: &str = "/run/udev/control";

/// What this system offers udev synchronisation: probed once per process
/// (they are facts of the machine, not settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemSupport {
    /// `DM_DISABLE_UDEV` is set: libdm manages nodes itself.
    pub udev_disabled: bool,
    /// The kernel has SysV semaphores.
    pub semaphores: bool,
    /// udev was running when first checked.
    pub udev_running: bool,
}

static SYSTEM: OnceLock<SystemSupport> = OnceLock::new();

/// Whether `DM_DISABLE_UDEV` was set (read once, at first use).
pub fn udev_disabled() -> bool {
    *UDEV_DISABLED.get_or_init(|| std::env::var_os("DM_DISABLE_UDEV").is_some())
}

/// [`udev_disabled`]'s answer, once asked.
static UDEV_DISABLED: OnceLock<bool> = OnceLock::new();

/// `_check_udev_sync_requirements_once`: probe semaphores and udev once per
/// process; the first context to ask gets libdm's lines about the result.
#[inline]
pub fn system_support(ctx: &Context) -> SystemSupport {
    match SYSTEM.get() {
        Some(s) => *s,
        None => first_system_support(ctx),
    }
}

/// [`system_support`] if the probe already ran.
#[inline]
pub fn system_support_known() -> Option<SystemSupport> {
    SYSTEM.get().copied()
}

/// [`system_support`]'s probe, once per process.
#[cold]
#[inline(never)]
fn first_system_support(ctx: &Context) -> SystemSupport {
    let semaphores = sys::sem_info_supported();
    let udev_running = Path::new(UDEV_CONTROL).exists();
    let s = SystemSupport {
        udev_disabled: udev_disabled(),
        semaphores,
        udev_running,
    };
    if SYSTEM.set(s).is_ok() {
        if !semaphores {
            crate::log_warn!(
                ctx,
                "Kernel not configured for semaphores (System V IPC). Not using udev synchronisation code."
            );
        }
        if !udev_running {
            crate::log_debug_act!(
                ctx,
                "Udev is not running. Not using udev synchronisation code."
            );
        } else if s.udev_disabled {
            crate::log_warn!(
                ctx,
                "Udev is running and DM_DISABLE_UDEV environment variable is set. Bypassing udev, device-mapper library will manage device nodes in device directory."
            );
        }
    }
    *SYSTEM.get().unwrap_or(&s)
}

/// `primary`, with the lines of a failed clean-up after it.
fn also(primary: Error, cleanup: Result<(), Error>) -> Error {
    match cleanup {
        Ok(()) => primary,
        Err(e) => e
            .log_lines()
            .fold(primary, |p, line| p.with_note(line.to_string())),
    }
}

/// A failure of the cookie protocol.
fn fail(errno: i32, msg: String) -> Error {
    let e = Error::new(ErrorKind::Udev, msg);
    if errno != 0 {
        e.with_errno(errno)
    } else {
        e
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
fn get_cookie_sem(cookie: u32) -> Result<i32, Error> {
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

fn getval_error(semid: i32, cookie: u32, e: i32) -> Error {
    fail(
        e,
        format!(
            "semid {semid}: sem_ctl GETVAL failed for cookie 0x{cookie:x}: {}",
            sys::strerror(e)
        ),
    )
}

/// `_udev_notify_sem_inc`.
fn sem_inc(ctx: &Context, cookie: u32, semid: i32) -> Result<(), Error> {
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
    crate::log_debug_act!(
        ctx,
        "Udev cookie 0x{:x} (semid {}) incremented to {}",
        cookie,
        semid,
        val
    );
    Ok(())
}

/// `_udev_notify_sem_dec`: decrement without blocking.
fn sem_dec(ctx: &Context, cookie: u32, semid: i32) -> Result<(), Error> {
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
    crate::log_debug_act!(
        ctx,
        "Udev cookie 0x{:x} (semid {}) decremented to {}",
        cookie,
        semid,
        val - 1
    );
    Ok(())
}

/// `_udev_notify_sem_destroy`.
fn sem_destroy(ctx: &Context, cookie: u32, semid: i32) -> Result<(), Error> {
    if let Err(e) = sys::sem_remove(semid) {
        return Err(fail(
            e,
            format!(
                "Could not cleanup notification semaphore identified by cookie value {cookie} (0x{cookie:x}): {}",
                sys::strerror(e)
            ),
        ));
    }
    crate::log_debug_act!(
        ctx,
        "Udev cookie 0x{:x} (semid {}) destroyed",
        cookie,
        semid
    );
    Ok(())
}

/// `_udev_notify_sem_create`: a new semaphore with a random unused key,
/// value 1 (the creator's reference). Returns (cookie, semid).
fn sem_create(ctx: &Context) -> Result<(u32, i32), Error> {
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
    crate::log_debug_act!(ctx, "Udev cookie 0x{:x} (semid {}) created", cookie, semid);

    if let Err(e) = sys::sem_setval(semid, 1) {
        let err = fail(
            e,
            format!("semid {semid}: semctl failed: {}", sys::strerror(e)),
        );
        // Do not leave the just-created semaphore behind.
        return Err(also(err, sem_destroy(ctx, cookie, semid)));
    }
    let val = match sys::sem_getval(semid) {
        Ok(v) => v,
        Err(e) => {
            let err = getval_error(semid, cookie, e);
            return Err(also(err, sem_destroy(ctx, cookie, semid)));
        }
    };
    crate::log_debug_act!(
        ctx,
        "Udev cookie 0x{:x} (semid {}) incremented to {}",
        cookie,
        semid,
        val
    );
    Ok((cookie, semid))
}

/// `dm_udev_create_cookie`: without sync the cookie is 0 and nothing is
/// created; otherwise a new semaphore holding the creator's reference.
pub fn create_cookie(ctx: &Context, sync: bool) -> Result<u32, Error> {
    if !sync {
        return Ok(0);
    }
    sem_create(ctx).map(|(cookie, _)| cookie)
}

/// `dm_task_set_cookie` for a task whose type is unknown to the caller (the
/// debug line then says "unknown task(-1)"). See [`set_cookie_for`].
pub fn set_cookie(
    ctx: &Context,
    cookie: &mut u32,
    flags: u16,
    sync: bool,
    cookie_supported: bool,
) -> Result<u32, Error> {
    set_cookie_for(ctx, cookie, flags, sync, cookie_supported, -1)
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
    ctx: &Context,
    cookie: &mut u32,
    flags: u16,
    sync: bool,
    cookie_supported: bool,
    task_type: i32,
) -> Result<u32, Error> {
    let event_nr = if cookie_supported {
        flags_event_nr(flags, udev_disabled())
    } else {
        0
    };
    if !sync {
        *cookie = 0;
        return Ok(event_nr);
    }
    join_cookie(ctx, cookie, flags, event_nr, task_type)
}

/// The udev flags part of a task's event number.
#[inline]
fn flags_event_nr(flags: u16, udev_disabled: bool) -> u32 {
    (effective_flags(flags, udev_disabled) as u32) << DM_UDEV_FLAGS_SHIFT
}

/// [`set_cookie_for`] when its answer is known without a call (the usual
/// case without udev sync): the driver version latched, sync known to be
/// off, `DM_DISABLE_UDEV` already read. The event number, the cookie
/// zeroed; `None` (nothing changed) otherwise.
#[inline]
pub fn set_cookie_known(ctx: &Context, cookie: &mut u32, flags: u16) -> Option<u32> {
    let v = ctx.version_checked()?;
    if !ctx.udev_sync_known_off() {
        return None;
    }
    let event_nr = if crate::kernel::abi::cookies_supported(v) {
        flags_event_nr(flags, *UDEV_DISABLED.get()?)
    } else {
        0
    };
    *cookie = 0;
    Some(event_nr)
}

/// [`set_cookie_for`] when udev sync is on: the semaphore is made or
/// found, and incremented (out of line: without sync a task's cookie costs
/// no more than the flags).
#[inline(never)]
fn join_cookie(
    ctx: &Context,
    cookie: &mut u32,
    flags: u16,
    mut event_nr: u32,
    task_type: i32,
) -> Result<u32, Error> {
    let (semid, created) = if *cookie != 0 {
        (get_cookie_sem(*cookie)?, false)
    } else {
        match sem_create(ctx) {
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

    if let Err(e) = sem_inc(ctx, *cookie, semid) {
        let c = *cookie;
        let mut err = e.with_note(format!(
            "Could not set notification semaphore identified by cookie value {c} (0x{c:x})"
        ));
        if created {
            err = also(err, sem_destroy(ctx, c, semid));
            *cookie = 0;
        }
        return Err(err);
    }

    event_nr |= *cookie & !DM_UDEV_FLAGS_MASK;
    crate::log_debug_act!(
        ctx,
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
pub fn complete(ctx: &Context, cookie: u32, sync: bool) -> Result<(), Error> {
    if cookie == 0 || !sync {
        return Ok(());
    }
    let semid = get_cookie_sem(cookie)?;
    sem_dec(ctx, cookie, semid).map_err(|e| {
        e.with_note(format!(
            "Could not signal waiting process using notification semaphore identified by cookie value {cookie} (0x{cookie:x})"
        ))
    })
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
fn udev_wait(ctx: &Context, cookie: u32, sync: bool, nowait: bool) -> Result<WaitOutcome, Error> {
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
    if let Err(e) = sem_dec(ctx, cookie, semid) {
        let err = e.with_note(format!(
            "Failed to set a proper state for notification semaphore identified by cookie value {cookie} (0x{cookie:x}) to initialize waiting for incoming notifications."
        ));
        return Err(also(err, sem_destroy(ctx, cookie, semid)));
    }

    crate::log_debug_act!(
        ctx,
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
                return Err(also(err, sem_destroy(ctx, cookie, semid)));
            }
        }
    }

    sem_destroy(ctx, cookie, semid).map(|()| WaitOutcome::Done)
}

/// `dm_udev_wait(cookie)` without the node update: drop the creator's
/// reference, block (no timeout) until every event completed, remove the
/// semaphore. Cookie 0 or no sync: `Ok` at once.
///
/// libdm runs `update_devs()` afterwards **whatever the result**; the caller
/// must do the same ([`Context::update_nodes`]).
pub fn wait(ctx: &Context, cookie: u32, sync: bool) -> Result<(), Error> {
    udev_wait(ctx, cookie, sync, false).map(|_| ())
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
/// [`Context::update_nodes`], as libdm does.
pub fn wait_immediate(ctx: &Context, cookie: u32, sync: bool) -> Result<bool, Error> {
    match udev_wait(ctx, cookie, sync, true)? {
        WaitOutcome::Skipped | WaitOutcome::NotReady => Ok(false),
        WaitOutcome::Done => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static C: Context = Context::new();

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
        assert_eq!(create_cookie(&C, false), Ok(0));
        let mut cookie = 0x0D4D_1234;
        let ev = set_cookie(&C, &mut cookie, PRIMARY_SOURCE, false, true).unwrap();
        assert_eq!(cookie, 0);
        assert_eq!(
            ev,
            (effective_flags(PRIMARY_SOURCE, udev_disabled()) as u32) << 16
        );
        let mut cookie = 0;
        assert_eq!(
            set_cookie(&C, &mut cookie, PRIMARY_SOURCE, false, false),
            Ok(0)
        );
        assert_eq!(complete(&C, 0x0D4D_1234, false), Ok(()));
        assert_eq!(complete(&C, 0, true), Ok(()));
        assert_eq!(wait(&C, 0x0D4D_1234, false), Ok(()));
        assert_eq!(wait(&C, 0, true), Ok(()));
        // The quirk: nothing to wait for reads as "not ready".
        assert_eq!(wait_immediate(&C, 0, true), Ok(false));
        assert_eq!(wait_immediate(&C, 0x0D4D_1234, false), Ok(false));
    }

    #[test]
    fn cookie_round_trip() {
        if !have_sem() {
            return;
        }
        let cookie = create_cookie(&C, true).expect("create");
        let _g = Guard(cookie);
        assert_eq!(cookie >> 16, COOKIE_MAGIC);
        assert_ne!(cookie & 0xffff, 0);
        assert_eq!(value(cookie), Ok(1));

        let mut c = cookie;
        let ev = set_cookie_for(&C, &mut c, DISABLE_DM_RULES, true, true, 5).expect("set_cookie");
        assert_eq!(c, cookie);
        let flags = effective_flags(DISABLE_DM_RULES, udev_disabled()) as u32;
        assert_eq!(ev, (flags << 16) | (cookie & 0xffff));
        assert_eq!(value(cookie), Ok(2));

        // Not ready while an event is outstanding.
        assert_eq!(wait_immediate(&C, cookie, true), Ok(false));
        assert_eq!(value(cookie), Ok(2));

        complete(&C, cookie, true).expect("complete");
        assert_eq!(value(cookie), Ok(1));

        wait(&C, cookie, true).expect("wait");
        assert_eq!(value(cookie), Err(libc::ENOENT));
    }

    #[test]
    fn set_cookie_creates_when_zero() {
        if !have_sem() {
            return;
        }
        let mut c = 0;
        let ev = set_cookie(&C, &mut c, 0, true, true).expect("set_cookie");
        let _g = Guard(c);
        assert_eq!(c >> 16, COOKIE_MAGIC);
        assert_eq!(ev & 0xffff, c & 0xffff);
        assert_eq!(value(c), Ok(2));
        // A second task joins the same transaction.
        let before = c;
        set_cookie(&C, &mut c, 0, true, true).expect("join");
        assert_eq!(c, before);
        assert_eq!(value(c), Ok(3));
        complete(&C, c, true).unwrap();
        complete(&C, c, true).unwrap();
        assert_eq!(wait_immediate(&C, c, true), Ok(true));
        assert_eq!(value(c), Err(libc::ENOENT));
    }

    #[test]
    fn errors() {
        if !have_sem() {
            return;
        }
        // Wrong prefix.
        let e = complete(&C, 0x1234_5678, true).unwrap_err();
        assert!(
            e.message()
                .ends_with("(0x12345678). Incorrect cookie prefix."),
            "{}",
            e.message()
        );
        // Missing semaphore: pick a key nobody uses.
        let cookie = create_cookie(&C, true).unwrap();
        let id = sys::semget(cookie as i32, 1, 0).unwrap();
        sys::sem_remove(id).unwrap();
        let e = complete(&C, cookie, true).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert_eq!(
            e.message(),
            format!("Could not find notification semaphore identified by cookie value {cookie} (0x{cookie:x})")
        );
        let mut c = cookie;
        assert!(set_cookie(&C, &mut c, 0, true, true).is_err());
        assert!(wait(&C, cookie, true).is_err());

        // Completing below zero: "incorrect semaphore state".
        let cookie = create_cookie(&C, true).unwrap();
        let _g = Guard(cookie);
        complete(&C, cookie, true).unwrap();
        let e = complete(&C, cookie, true).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EAGAIN));
        assert_eq!(
            e.notes()[0],
            format!("Could not signal waiting process using notification semaphore identified by cookie value {cookie} (0x{cookie:x})")
        );
        // wait(&C, ) cannot drop the creator's reference: it fails and removes
        // the semaphore.
        assert!(wait(&C, cookie, true).is_err());
        assert_eq!(value(cookie), Err(libc::ENOENT));
    }

    #[test]
    fn wait_returns_after_concurrent_complete() {
        if !have_sem() {
            return;
        }
        let mut c = 0;
        set_cookie(&C, &mut c, 0, true, true).unwrap();
        let _g = Guard(c);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            complete(&C, c, true)
        });
        wait(&C, c, true).expect("wait");
        assert_eq!(t.join().ok(), Some(Ok(())));
        assert_eq!(value(c), Err(libc::ENOENT));
    }

    #[test]
    fn sync_support_gates() {
        // The probes are cached and answer consistently.
        let a = system_support(&C);
        assert_eq!(a, system_support(&C));
        assert_eq!(a.udev_running, Path::new(UDEV_CONTROL).exists());
    }
}
