//! Logging: `dm_log_init_verbose`, the default log line printer, and the sink
//! that forwards core messages to the C callback `dm_log_with_errno`.
//!
//! The variadic parts (the `dm_log`/`dm_log_with_errno` data objects, the
//! default variadic loggers, `dm_log_init`, `dm_log_with_errno_init`,
//! `dm_log_is_non_default`) are in `shim.c`: stable Rust cannot define
//! C-variadic functions.

use devmapper::log::{Level, Sink};
use std::ffi::{c_char, c_int, CStr, CString};
use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};
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
    fn dmrs_log_is_default() -> c_int;
}

fn wants(level: Level) -> bool {
    // SAFETY: plain read of two pointers in the shim.
    let default = unsafe { dmrs_log_is_default() } != 0;
    !default || level <= Level::Warn || VERBOSE.load(Ordering::Relaxed) != 0
}

fn emit(level: i32, file: &str, line: u32, errno_or_class: i32, msg: &str) {
    let f = CString::new(file).unwrap_or_default();
    let m = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    // SAFETY: both strings are valid for the duration of the call.
    unsafe { dmrs_log_emit(level, f.as_ptr(), line as c_int, errno_or_class, m.as_ptr()) };
}

pub(crate) static C_SINK: Sink = Sink { wants, emit };

/// `dm_log_init_verbose`.
#[no_mangle]
pub extern "C" fn dm_log_init_verbose(level: c_int) {
    crate::guard("dm_log_init_verbose", (), || {
        VERBOSE.store(level, Ordering::Relaxed)
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
    crate::guard("default logger", (), || {
        if msg.is_null() {
            return;
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
            return;
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
        if lvl < Level::Warn as i32 || level & devmapper::log::LOG_STDERR != 0 {
            let _ = std::io::stderr().write_all(&out);
        } else {
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&out);
            let _ = so.flush();
        }
    })
}
