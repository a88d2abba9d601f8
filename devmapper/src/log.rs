//! Internal logging.
//!
//! The core reports through one process-wide sink. By default nothing is
//! printed (Rust users get errors as values); the C ABI installs a sink that
//! forwards to libdevmapper's `dm_log_with_errno` callback so C programs see
//! the messages they expect. Formatting is skipped when the sink does not
//! want the level.

use std::fmt;

/// libdevmapper's log levels (`level & 0x0f`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Fatal = 2,
    Error = 3,
    Warn = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

/// OR-ed into the level of warnings, as libdevmapper does (`_LOG_STDERR`).
pub const LOG_STDERR: i32 = 0x80;
/// The errno/class argument libdevmapper passes with `log_error`.
pub const EUNCLASSIFIED: i32 = -1;

/// A log sink: `wants(level)` is asked first so formatting can be skipped.
pub struct Sink {
    pub wants: fn(Level) -> bool,
    pub emit: fn(level: i32, file: &str, line: u32, errno_or_class: i32, msg: &str),
}

static NOOP: Sink = Sink {
    wants: |_| false,
    emit: |_, _, _, _, _| {},
};
static SINK: parking_lot::RwLock<&'static Sink> = parking_lot::RwLock::new(&NOOP);

/// Install the process-wide sink (the C ABI does this at load time).
pub fn install(sink: &'static Sink) {
    *SINK.write() = sink;
}

/// Whether a message at `level` would be emitted at all.
pub fn enabled(level: Level) -> bool {
    (SINK.read().wants)(level)
}

/// Emit a message (used by the `dm_*!` macros).
pub fn emit(
    level: Level,
    flags: i32,
    file: &str,
    line: u32,
    errno_or_class: i32,
    args: fmt::Arguments<'_>,
) {
    let s: &'static Sink = *SINK.read();
    if !(s.wants)(level) {
        return;
    }
    match args.as_str() {
        Some(m) => (s.emit)(level as i32 | flags, file, line, errno_or_class, m),
        None => (s.emit)(
            level as i32 | flags,
            file,
            line,
            errno_or_class,
            &args.to_string(),
        ),
    }
}

#[macro_export]
#[doc(hidden)]
macro_rules! dm_log_at {
    ($lvl:expr, $flags:expr, $class:expr, $($arg:tt)*) => {
        if $crate::log::enabled($lvl) {
            $crate::log::emit($lvl, $flags, file!(), line!(), $class, format_args!($($arg)*))
        }
    };
}

/// `log_error`: level 3, class -1.
#[macro_export]
macro_rules! dm_error {
    ($($arg:tt)*) => { $crate::dm_log_at!($crate::log::Level::Error, 0, $crate::log::EUNCLASSIFIED, $($arg)*) };
}
/// `log_warn`: level 4 | stderr.
#[macro_export]
macro_rules! dm_warn {
    ($($arg:tt)*) => { $crate::dm_log_at!($crate::log::Level::Warn, $crate::log::LOG_STDERR, 0, $($arg)*) };
}
/// `log_verbose`: level 5.
#[macro_export]
macro_rules! dm_verbose {
    ($($arg:tt)*) => { $crate::dm_log_at!($crate::log::Level::Notice, 0, 0, $($arg)*) };
}
/// `log_very_verbose`: level 6.
#[macro_export]
macro_rules! dm_info {
    ($($arg:tt)*) => { $crate::dm_log_at!($crate::log::Level::Info, 0, 0, $($arg)*) };
}
/// `log_debug`: level 7.
#[macro_export]
macro_rules! dm_debug {
    ($($arg:tt)*) => { $crate::dm_log_at!($crate::log::Level::Debug, 0, 0, $($arg)*) };
}
