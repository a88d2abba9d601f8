//! The explicit context: everything libdevmapper keeps process-wide.
//!
//! libdevmapper has one device directory, one sysfs directory, one uuid
//! prefix, one mangling mode, one udev-synchronisation switch, one stack of
//! pending `/dev/mapper` node operations, one suspended-device counter and
//! one control-device descriptor per process. Here they live in a
//! [`Context`]: the C library owns one process-wide instance; a Rust program
//! makes its own (usually one, through [`DeviceMapper`](crate::DeviceMapper))
//! and may have several, e.g. one per test with its own device directory.
//!
//! Every field has its own lock or atomic, so a context is `Send + Sync` and
//! readers never see a torn value; the logger is called without any of them
//! held.

use crate::error::{Error, ErrorKind, Result};
use crate::kernel::control::Control;
use crate::log::{Level, Logger, Record};
use crate::mangle::ManglingMode;
use crate::nodes;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Default device directory (`dm_dir()`).
pub const DEFAULT_DM_DIR: &[u8] = b"/dev/mapper";
/// Default sysfs mount point, with its trailing slash (`dm_sysfs_dir()`).
pub const DEFAULT_SYSFS_DIR: &[u8] = b"/sys/";
/// Default uuid prefix (`dm_uuid_prefix()`).
pub const DEFAULT_UUID_PREFIX: &[u8] = b"LVM-";
/// Longest uuid prefix `dm_set_uuid_prefix` accepts.
pub const UUID_PREFIX_MAX: usize = 15;
/// Default upper bound on one ioctl buffer (64 MiB).
pub const DEFAULT_BUFFER_CAP: usize = 64 << 20;

const MANGLING_UNSET: u8 = u8::MAX;

/// `Context::logger_kind`: no logger.
const NO_LOGGER: u8 = 0;
/// `Context::logger_kind`: the static logger in `fast_logger`.
const FAST_LOGGER: u8 = 1;
/// `Context::logger_kind`: the logger in the `logger` slot.
const SLOT_LOGGER: u8 = 2;

/// Where a context's lines go.
enum LoggerSlot {
    None,
    Static(&'static dyn Logger),
    Shared(Arc<dyn Logger>),
}

#[derive(Default)]
struct Dirs {
    /// `<dev_dir>/mapper`, when set (shared: the node operations hold it
    /// without a copy).
    dm_dir: Option<Arc<[u8]>>,
    /// With its trailing slash; empty disables sysfs.
    sysfs_dir: Option<Vec<u8>>,
    uuid_prefix: Option<Vec<u8>>,
}

/// libdevmapper's process-wide state, as a value.
pub struct Context {
    pub(crate) control: Control,
    dirs: RwLock<Dirs>,
    /// `dirs.dm_dir` was set (never unset): until then the default
    /// directory is known without the lock.
    dm_dir_set: AtomicBool,
    mangling: AtomicU8,
    /// Read `DM_DEFAULT_NAME_MANGLING_MODE` (and the other variables stock
    /// reads) like libdevmapper does.
    env_defaults: bool,
    udev_sync: AtomicBool,
    udev_checking: AtomicBool,
    pub(crate) nodes: Mutex<nodes::Pending>,
    suspended: AtomicI32,
    ioctl_timestamp: Mutex<Option<libc::timespec>>,
    version_failed: AtomicBool,
    hold_control: AtomicBool,
    /// Which logger is in effect: [`NO_LOGGER`], [`FAST_LOGGER`] (the
    /// static logger in `fast_logger`, asked without a lock: the C
    /// library's) or [`SLOT_LOGGER`] (the one in `logger`).
    logger_kind: AtomicU8,
    fast_logger: OnceLock<&'static dyn Logger>,
    logger: RwLock<LoggerSlot>,
    buffer_cap: AtomicUsize,
}

impl Default for Context {
    fn default() -> Context {
        Context::new()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("dm_dir", &String::from_utf8_lossy(&self.dm_dir()))
            .field("mangling", &self.mangling_mode())
            .field("udev_sync", &self.udev_sync.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with libdevmapper's defaults (device directory `/dev/mapper`,
    /// sysfs at `/sys/`, mangling `auto`, udev synchronisation on when udev
    /// runs) and no logger. The environment is not consulted.
    pub const fn new() -> Context {
        Context::build(false)
    }

    /// Like [`Context::new`], but the way libdevmapper starts: the defaults
    /// may come from the environment (`DM_DEFAULT_NAME_MANGLING_MODE`). The
    /// C library's context is this one.
    pub const fn libdm_compatible() -> Context {
        Context::build(true)
    }

    const fn build(env_defaults: bool) -> Context {
        Context {
            control: Control::new(),
            dirs: RwLock::new(Dirs {
                dm_dir: None,
                sysfs_dir: None,
                uuid_prefix: None,
            }),
            dm_dir_set: AtomicBool::new(false),
            mangling: AtomicU8::new(MANGLING_UNSET),
            env_defaults,
            udev_sync: AtomicBool::new(true),
            udev_checking: AtomicBool::new(true),
            nodes: Mutex::new(nodes::Pending::new()),
            suspended: AtomicI32::new(0),
            ioctl_timestamp: Mutex::new(None),
            version_failed: AtomicBool::new(false),
            hold_control: AtomicBool::new(false),
            logger_kind: AtomicU8::new(NO_LOGGER),
            fast_logger: OnceLock::new(),
            logger: RwLock::new(LoggerSlot::None),
            buffer_cap: AtomicUsize::new(DEFAULT_BUFFER_CAP),
        }
    }

    // ----------------------------------------------------------- logging

    /// Send this context's lines to `logger` (replacing any other).
    pub fn set_logger(&self, logger: Arc<dyn Logger>) {
        *self.logger.write() = LoggerSlot::Shared(logger);
        self.logger_kind.store(SLOT_LOGGER, Ordering::Release);
    }

    /// Send this context's lines to a logger that lives for the whole program.
    pub fn set_static_logger(&self, logger: &'static dyn Logger) {
        *self.logger.write() = LoggerSlot::Static(logger);
        // The first static logger of a context is also kept where it can
        // be asked without the lock (the C library sets one, once).
        let fast = self.fast_logger.get_or_init(|| logger);
        let kind = if std::ptr::eq(*fast, logger) {
            FAST_LOGGER
        } else {
            SLOT_LOGGER
        };
        self.logger_kind.store(kind, Ordering::Release);
    }

    /// Drop the logger: nothing is printed any more.
    pub fn clear_logger(&self) {
        self.logger_kind.store(NO_LOGGER, Ordering::Release);
        *self.logger.write() = LoggerSlot::None;
    }

    /// Whether a line of `level` would be kept.
    #[inline]
    pub fn log_enabled(&self, level: Level) -> bool {
        match self.logger_kind.load(Ordering::Acquire) {
            NO_LOGGER => false,
            FAST_LOGGER => match self.fast_logger.get() {
                Some(l) => l.enabled(level),
                None => self.slot_log_enabled(level),
            },
            _ => self.slot_log_enabled(level),
        }
    }

    #[inline(never)]
    fn slot_log_enabled(&self, level: Level) -> bool {
        match &*self.logger.read() {
            LoggerSlot::None => false,
            LoggerSlot::Static(l) => l.enabled(level),
            LoggerSlot::Shared(l) => l.enabled(level),
        }
    }

    /// Hand one line to the logger. The logger runs with no lock held.
    pub fn log_record(&self, record: &Record<'_>) {
        let shared;
        let logger: &dyn Logger = match &*self.logger.read() {
            LoggerSlot::None => return,
            LoggerSlot::Static(l) => *l,
            LoggerSlot::Shared(l) => {
                shared = Arc::clone(l);
                &*shared
            }
        };
        logger.log(record);
    }

    /// Log every line of a failure at its level (what the C library does
    /// with an [`Error`] before returning 0/NULL).
    pub fn log_failure(&self, e: &Error) {
        if !self.log_enabled(e.level()) {
            return;
        }
        for line in e.log_lines() {
            self.log_record(&Record {
                level: e.level(),
                stderr: false,
                class: if e.level() == Level::Error {
                    crate::log::EUNCLASSIFIED
                } else {
                    0
                },
                file: file!(),
                line: line!(),
                args: format_args!("{line}"),
            });
        }
    }

    // --------------------------------------------------------- directories

    /// The directory holding the control node and the device nodes
    /// (`dm_dir()`, default `/dev/mapper`).
    pub fn dm_dir(&self) -> Vec<u8> {
        self.dirs
            .read()
            .dm_dir
            .as_deref()
            .unwrap_or(DEFAULT_DM_DIR)
            .to_vec()
    }

    /// The directory set with [`Context::set_dev_dir`] (`None`: the
    /// default, [`DEFAULT_DM_DIR`]), shared.
    pub(crate) fn dm_dir_shared(&self) -> Option<Arc<[u8]>> {
        if !self.dm_dir_set.load(Ordering::Acquire) {
            return None;
        }
        self.dirs.read().dm_dir.clone()
    }

    /// `dm_set_dev_dir(dir)`: device nodes then live in `<dir>/mapper`. The
    /// directory must be absolute and fit in `PATH_MAX`.
    pub fn set_dev_dir(&self, dir: &[u8]) -> Result<()> {
        if dir.first() != Some(&b'/') {
            return Err(Error::invalid(format!(
                "Invalid directory value, {}: not an absolute name.",
                String::from_utf8_lossy(dir)
            ))
            .at_level(Level::Debug));
        }
        if dir.contains(&0) || dir.len() + b"/mapper".len() >= libc::PATH_MAX as usize {
            return Err(Error::invalid(format!(
                "Invalid dev_dir value, {}: name too long.",
                String::from_utf8_lossy(dir)
            )));
        }
        let mut d = dir.to_vec();
        while d.len() > 1 && d.last() == Some(&b'/') {
            d.pop();
        }
        if d == b"/" {
            d.clear();
        }
        d.extend_from_slice(b"/mapper");
        self.dirs.write().dm_dir = Some(d.into());
        self.dm_dir_set.store(true, Ordering::Release);
        Ok(())
    }

    /// The path of the control node (`<dm_dir>/control`).
    pub fn control_path(&self) -> Vec<u8> {
        let mut p = self.dm_dir();
        p.extend_from_slice(b"/control");
        p
    }

    /// The sysfs mount point with a trailing slash, or empty when sysfs use
    /// is disabled (`dm_sysfs_dir()`).
    pub fn sysfs_dir(&self) -> Vec<u8> {
        self.dirs
            .read()
            .sysfs_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSFS_DIR.to_vec())
    }

    /// `dm_set_sysfs_dir`: an empty value disables sysfs; otherwise the
    /// directory must be absolute.
    pub fn set_sysfs_dir(&self, dir: &[u8]) -> Result<()> {
        if !dir.is_empty() && dir.first() != Some(&b'/') {
            return Err(Error::invalid(format!(
                "Invalid directory value, {}: not an absolute name.",
                String::from_utf8_lossy(dir)
            ))
            .at_level(Level::Debug));
        }
        if dir.contains(&0) || dir.len() + 1 >= libc::PATH_MAX as usize {
            return Err(Error::invalid(format!(
                "Invalid sysfs_dir value, {}: name too long.",
                String::from_utf8_lossy(dir)
            )));
        }
        let mut v = dir.to_vec();
        if !v.is_empty() && v.last() != Some(&b'/') {
            v.push(b'/');
        }
        self.dirs.write().sysfs_dir = Some(v);
        Ok(())
    }

    /// `dm_uuid_prefix()` (default `LVM-`).
    pub fn uuid_prefix(&self) -> Vec<u8> {
        self.dirs
            .read()
            .uuid_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_UUID_PREFIX.to_vec())
    }

    /// `dm_set_uuid_prefix`: at most 15 bytes.
    pub fn set_uuid_prefix(&self, prefix: &[u8]) -> Result<()> {
        if prefix.len() > UUID_PREFIX_MAX || prefix.contains(&0) {
            return Err(Error::invalid(format!(
                "New uuid prefix {} too long.",
                String::from_utf8_lossy(prefix)
            )));
        }
        self.dirs.write().uuid_prefix = Some(prefix.to_vec());
        Ok(())
    }

    // ------------------------------------------------------------ mangling

    /// The name-mangling mode (`dm_get_name_mangling_mode`). A
    /// [libdm-compatible](Context::libdm_compatible) context reads
    /// `DM_DEFAULT_NAME_MANGLING_MODE` on first use, as libdevmapper does.
    #[inline]
    pub fn mangling_mode(&self) -> ManglingMode {
        let v = self.mangling.load(Ordering::Acquire);
        match ManglingMode::from_u32(u32::from(v)) {
            Some(m) => m,
            None => self.first_mangling_mode(),
        }
    }

    /// The mode on first use: the environment's or the default, recorded.
    #[cold]
    #[inline(never)]
    fn first_mangling_mode(&self) -> ManglingMode {
        let m = if self.env_defaults {
            std::env::var("DM_DEFAULT_NAME_MANGLING_MODE")
                .ok()
                .and_then(|v| ManglingMode::parse(&v))
                .unwrap_or(crate::mangle::DEFAULT_MODE)
        } else {
            crate::mangle::DEFAULT_MODE
        };
        match self.mangling.compare_exchange(
            MANGLING_UNSET,
            m as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => m,
            Err(cur) => ManglingMode::from_u32(u32::from(cur)).unwrap_or(m),
        }
    }

    /// `dm_set_name_mangling_mode`.
    pub fn set_mangling_mode(&self, mode: ManglingMode) {
        self.mangling.store(mode as u8, Ordering::Release);
    }

    // ---------------------------------------------------------------- udev

    /// `dm_udev_set_sync_support`: whether this context synchronises with
    /// udev (it only does when udev runs and the kernel supports cookies).
    pub fn set_udev_sync(&self, sync: bool) {
        crate::udev::system_support(self);
        self.udev_sync.store(sync, Ordering::Relaxed);
    }

    /// `dm_udev_get_sync_support`: udev synchronisation is in effect: not
    /// disabled by `DM_DISABLE_UDEV`, semaphores work, the driver supports
    /// cookies (asked lazily), udev runs, and it was not switched off.
    #[inline]
    pub fn udev_sync(&self) -> bool {
        !self.udev_sync_known_off() && self.udev_sync_asked()
    }

    /// The usual answer of [`Context::udev_sync`], known without a call:
    /// the system was probed, and sync is off whatever the driver says,
    /// which asking it again would not change (its version is latched, or
    /// its check failed for good, which logs nothing more). `false`: ask.
    #[inline]
    pub(crate) fn udev_sync_known_off(&self) -> bool {
        match crate::udev::system_support_known() {
            Some(sys) => {
                sys.udev_disabled
                    || !sys.semaphores
                    || (!(sys.udev_running && self.udev_sync.load(Ordering::Relaxed))
                        && (self.control.version_known()
                            || self.version_failed.load(Ordering::Relaxed)))
            }
            None => false,
        }
    }

    /// [`Context::udev_sync`] in full, as libdm's
    /// `dm_udev_get_sync_support` asks it.
    #[inline(never)]
    fn udev_sync_asked(&self) -> bool {
        let sys = crate::udev::system_support(self);
        if sys.udev_disabled || !sys.semaphores {
            return false;
        }
        self.cookies_supported() && sys.udev_running && self.udev_sync.load(Ordering::Relaxed)
    }

    /// The switch alone (`dm_udev_set_sync_support`'s last value).
    pub fn udev_sync_requested(&self) -> bool {
        self.udev_sync.load(Ordering::Relaxed)
    }

    /// `dm_udev_get_checking`.
    pub fn udev_checking(&self) -> bool {
        self.udev_checking.load(Ordering::Relaxed)
    }

    /// `dm_udev_set_checking`.
    pub fn set_udev_checking(&self, checking: bool) {
        self.udev_checking.store(checking, Ordering::Relaxed);
        if checking {
            crate::log_debug_act!(self, "DM udev checking enabled");
        } else {
            crate::log_debug_act!(self, "DM udev checking disabled");
        }
    }

    /// The driver supports udev cookies (interface 4.15+); asks the kernel
    /// when the version is not known yet (false if it cannot be asked).
    #[inline]
    pub fn cookies_supported(&self) -> bool {
        // Through the version check, as libdm's dm_cookie_supported(): a
        // failure is logged (once: the check latches).
        match self.check_version() {
            Ok(v) => crate::kernel::abi::cookies_supported(v),
            Err(e) => {
                self.log_failure(&e);
                false
            }
        }
    }

    // -------------------------------------------------------- the control

    /// The kernel's interface version, from the one handshake per context.
    #[inline]
    pub fn driver_version(&self) -> Result<[u32; 3]> {
        self.control.driver_version(self)
    }

    /// The version check libdevmapper makes before the first task: once it
    /// failed, later calls fail without a further message until
    /// [`exit`](Context::exit) resets it.
    #[inline]
    pub fn check_version(&self) -> Result<[u32; 3]> {
        match self.version_checked() {
            Some(v) => Ok(v),
            None => self.check_version_slow(),
        }
    }

    /// [`Context::check_version`]'s answer when it is known without a
    /// call: the version latched and no failure recorded.
    #[inline]
    pub(crate) fn version_checked(&self) -> Option<[u32; 3]> {
        if self.version_failed.load(Ordering::Relaxed) {
            None
        } else {
            self.control.known_version()
        }
    }

    #[cold]
    #[inline(never)]
    fn check_version_slow(&self) -> Result<[u32; 3]> {
        if self.version_failed.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorKind::Control,
                "device-mapper driver version check failed earlier",
            )
            .silently());
        }
        match self.driver_version() {
            Ok(v) => Ok(v),
            Err(e) => {
                self.version_failed.store(true, Ordering::Relaxed);
                Err(e.with_note(format!(
                    "Incompatible libdevmapper {} and kernel driver (unknown version).",
                    crate::LIBDM_VERSION
                )))
            }
        }
    }

    /// `dm_hold_control_dev`: keep the control node open across
    /// [`release`](Context::release).
    pub fn hold_control(&self, hold: bool) {
        self.hold_control.store(hold, Ordering::Relaxed);
        crate::log_debug!(
            self,
            "{}aking control device open.",
            if hold { "M" } else { "Not m" }
        );
    }

    /// The control descriptor, opened if it is not yet (for `poll()`).
    pub(crate) fn control_file(&self) -> Result<Arc<std::fs::File>> {
        self.control.file(self)
    }

    /// Whether the control node is open.
    pub fn control_is_open(&self) -> bool {
        self.control.is_open()
    }

    /// The largest ioctl buffer a reply may grow to.
    pub fn buffer_cap(&self) -> usize {
        self.buffer_cap.load(Ordering::Relaxed)
    }

    /// Set the largest ioctl buffer a reply may grow to (at least the header).
    pub fn set_buffer_cap(&self, bytes: usize) {
        self.buffer_cap
            .store(bytes.max(crate::kernel::abi::DATA_START), Ordering::Relaxed);
    }

    // -------------------------------------------------------------- nodes

    /// Run the pending `/dev/mapper` node operations (`dm_task_update_nodes`).
    pub fn update_nodes(&self) {
        nodes::update_devs(self);
    }

    /// Number of pending node operations.
    pub fn pending_node_ops(&self) -> usize {
        self.nodes.lock().len()
    }

    // ----------------------------------------------------- counters, clock

    /// `dm_get_suspended_counter`: devices this context suspended through a
    /// device tree and has not resumed.
    pub fn suspended_counter(&self) -> i32 {
        self.suspended.load(Ordering::Relaxed)
    }

    /// Count a device suspended by a tree operation.
    pub fn inc_suspended(&self) {
        self.suspended.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a device resumed by a tree operation.
    pub fn dec_suspended(&self) {
        self.suspended.fetch_sub(1, Ordering::Relaxed);
    }

    /// Note the time right after an ioctl of a task that asked for it.
    pub fn record_ioctl_timestamp(&self) {
        let now = match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
            Ok(t) => *t.as_ref(),
            Err(_) => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        *self.ioctl_timestamp.lock() = Some(now);
    }

    /// The last recorded ioctl time.
    pub fn ioctl_timestamp(&self) -> Option<libc::timespec> {
        *self.ioctl_timestamp.lock()
    }

    // ------------------------------------------------------------ lifecycle

    /// `dm_lib_release`: close the control node (unless held), forget the
    /// ioctl timestamp, run pending node operations.
    pub fn release(&self) {
        if !self.hold_control.load(Ordering::Relaxed) {
            self.control.release();
        }
        *self.ioctl_timestamp.lock() = None;
        self.update_nodes();
    }

    /// `dm_lib_exit`: [`release`](Context::release), report devices still
    /// suspended, and reset the version check.
    pub fn exit(&self) {
        let n = self.suspended_counter();
        if n != 0 {
            crate::log_error!(
                self,
                "libdevmapper exiting with {} device(s) still suspended.",
                n
            );
        }
        self.release();
        self.version_failed.store(false, Ordering::Relaxed);
        self.control.forget_version();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories() {
        let c = Context::new();
        assert_eq!(c.dm_dir(), b"/dev/mapper");
        assert_eq!(c.control_path(), b"/dev/mapper/control");
        c.set_dev_dir(b"/tmp/x/").unwrap();
        assert_eq!(c.dm_dir(), b"/tmp/x/mapper");
        assert!(c.set_dev_dir(b"relative").is_err());
        assert_eq!(c.dm_dir(), b"/tmp/x/mapper");
        c.set_dev_dir(b"/tmp/\xffbytes").unwrap();
        assert_eq!(c.dm_dir(), b"/tmp/\xffbytes/mapper");
        c.set_sysfs_dir(b"/sys").unwrap();
        assert_eq!(c.sysfs_dir(), b"/sys/");
        c.set_sysfs_dir(b"").unwrap();
        assert_eq!(c.sysfs_dir(), b"");
        assert!(c.set_uuid_prefix(b"0123456789abcdef").is_err());
        c.set_uuid_prefix(b"CRYPT-").unwrap();
        assert_eq!(c.uuid_prefix(), b"CRYPT-");
    }

    #[test]
    fn mangling_defaults_to_auto() {
        let c = Context::new();
        assert_eq!(c.mangling_mode(), ManglingMode::Auto);
        c.set_mangling_mode(ManglingMode::Hex);
        assert_eq!(c.mangling_mode(), ManglingMode::Hex);
    }

    #[test]
    fn no_logger_means_silence() {
        let c = Context::new();
        assert!(!c.log_enabled(Level::Error));
        c.set_static_logger(&crate::log::StderrLogger(Level::Warn));
        assert!(c.log_enabled(Level::Error));
        assert!(!c.log_enabled(Level::Debug));
        c.clear_logger();
        assert!(!c.log_enabled(Level::Error));
    }
}
