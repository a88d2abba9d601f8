//! Logging: `dm_log_init_verbose`, the default log line printer, and the
//! logger that forwards the core's lines to the C callback `dm_log_with_errno`.
//!
//! The variadic parts (the `dm_log`/`dm_log_with_errno` data objects, the
//! default variadic loggers, `dm_log_init`, `dm_log_with_errno_init`,
//! `dm_log_is_non_default`) are in `shim.c`: stable Rust cannot define
//! C-variadic functions.

use devmapper::log::{Level, Logger, Record};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::LazyLock;

static VERBOSE: AtomicI32 = AtomicI32::new(0);

extern "C" {
    fn dmrs_log_emit(
        level: c_int,
        file: *const c_char,
        line: c_int,
        dm_errno_or_class: c_int,
        msg: *const c_char,
    );
    /// The exported callback pointers (`shim.c`), stored atomically there.
    static dm_log: AtomicPtr<c_void>;
    static dm_log_with_errno: AtomicPtr<c_void>;
    /// The built-in callbacks those pointers hold by default.
    static dmrs_default_log: *const c_void;
    static dmrs_default_log_with_errno: *const c_void;
}

/// Whether both callbacks are the built-in ones (`dmrs_log_is_default()`
/// of `shim.c`, read here without the call: it is asked on every run).
#[inline]
fn log_is_default() -> bool {
    // SAFETY: the four are data objects of shim.c, initialised at load
    // time; the two callback pointers are only ever written atomically
    // there (AtomicPtr has the layout of a pointer) and the defaults never.
    unsafe {
        dm_log.load(Ordering::Acquire).cast_const() == dmrs_default_log
            && dm_log_with_errno.load(Ordering::Acquire).cast_const() == dmrs_default_log_with_errno
    }
}

/// The logger of the C library's context: lines go to the program's
/// `dm_log_with_errno` callback (or libdm's default printer).
pub(crate) struct CLogger;

impl Logger for CLogger {
    fn enabled(&self, level: Level) -> bool {
        level <= Level::Warn || VERBOSE.load(Ordering::Relaxed) != 0 || !log_is_default()
    }

    fn log(&self, r: &Record<'_>) {
        let m = c_line(r.args);
        let f = CString::new(r.file).unwrap_or_default();
        let line = c_int::try_from(r.line).unwrap_or(c_int::MAX);
        // SAFETY: both strings are valid NUL-terminated strings for the
        // duration of the call.
        unsafe { dmrs_log_emit(r.raw_level(), f.as_ptr(), line, r.class, m.as_ptr().cast()) };
    }
}

/// A log line as one NUL-terminated copy (NULs inside become spaces),
/// built fallibly: a line can quote a caller's string of any size. When the
/// whole line does not fit in memory, what fitted (at most 1 KiB of it) is
/// printed instead of aborting the process.
fn c_line(args: std::fmt::Arguments<'_>) -> std::borrow::Cow<'static, [u8]> {
    struct Out(Vec<u8>);
    impl std::fmt::Write for Out {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0
                .try_reserve(s.len().saturating_add(1))
                .map_err(|_| std::fmt::Error)?;
            self.0
                .extend(s.bytes().map(|c| if c == 0 { b' ' } else { c }));
            Ok(())
        }
    }
    let mut out = Out(Vec::new());
    if std::fmt::write(&mut out, args).is_err() {
        out.0.truncate(1024);
    }
    let mut v = out.0;
    if v.try_reserve(1).is_err() {
        if v.is_empty() {
            return std::borrow::Cow::Borrowed(b"\0");
        }
        v.truncate(v.len() - 1);
    }
    v.push(0);
    std::borrow::Cow::Owned(v)
}

pub(crate) static C_LOGGER: CLogger = CLogger;

/// `dm_log_init_verbose`.
#[no_mangle]
pub extern "C" fn dm_log_init_verbose(level: c_int) {
    crate::ffi::guard("dm_log_init_verbose", (), || {
        VERBOSE.store(level, Ordering::Relaxed);
        Some(())
    })
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| !v.is_empty() && v != "0")
        .unwrap_or(false)
}

static LINE_NUMBERS: LazyLock<bool> = LazyLock::new(|| env_flag("DM_DEBUG_WITH_LINE_NUMBERS"));
static ABORT_ON_INTERNAL: LazyLock<bool> =
    LazyLock::new(|| env_flag("DM_ABORT_ON_INTERNAL_ERRORS"));

extern "C" {
    /// `src/shim.c`: write to C's `stderr` or `stdout` (buffered, in order
    /// with the program's own stdio output).
    fn dmrs_stdio_write(to_stderr: c_int, buf: *const c_char, len: usize);
}

/// The default logger's output step (called by the shim's variadic default
/// loggers with the formatted message): warnings and errors to stderr,
/// the rest to stdout, only up to warnings unless verbose is set.
#[no_mangle]
pub unsafe extern "C" fn dmrs_default_log_line(
    level: c_int,
    file: *const c_char,
    line: c_int,
    _dm_errno_or_class: c_int,
    msg: *const c_char,
) {
    crate::ffi::guard("default logger", (), || {
        if msg.is_null() {
            return Some(());
        }
        // SAFETY: the shim passes a NUL-terminated buffer.
        let msg = unsafe { CStr::from_ptr(msg) }.to_bytes();
        let lvl = level & 0x0f;
        if *ABORT_ON_INTERNAL && msg.starts_with(b"Internal error: ") {
            let _ = std::io::stderr().write_all(msg);
            let _ = std::io::stderr().write_all(b"\n");
            std::process::abort();
        }
        if lvl > Level::Warn as i32 && VERBOSE.load(Ordering::Relaxed) == 0 {
            return Some(());
        }
        let mut out = Vec::with_capacity(msg.len() + 64);
        if *LINE_NUMBERS && !file.is_null() {
            // SAFETY: `file` is a NUL-terminated string from the caller.
            let f = unsafe { CStr::from_ptr(file) }.to_string_lossy();
            let prefix = format!("{f}:{line} ");
            out.extend_from_slice(prefix.as_bytes());
            let pad = 28usize.saturating_sub(prefix.len());
            out.extend(std::iter::repeat_n(b' ', pad));
        }
        out.extend_from_slice(msg);
        out.push(b'\n');
        let to_stderr = lvl < Level::Warn as i32 || level & devmapper::log::LOG_STDERR != 0;
        // SAFETY: `out` is a live buffer of `out.len()` bytes; the shim
        // only hands it to fwrite.
        unsafe { dmrs_stdio_write(c_int::from(to_stderr), out.as_ptr().cast(), out.len()) };
        Some(())
    })
}
