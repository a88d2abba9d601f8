//! Progress and debug lines.
//!
//! Failures are returned as [`Error`](crate::Error) values; what libdm also
//! writes *while* working (debug lines about each ioctl, node operations,
//! cookie traffic, warnings that do not fail the call) goes to the
//! [`Logger`] of the [`Context`](crate::Context) doing the work. A context
//! has none by default, so a Rust program sees nothing unless it asks
//! ([`Context::set_logger`](crate::Context::set_logger)); the C library
//! installs one that forwards to libdevmapper's `dm_log_with_errno` callback.
//!
//! Lines are only formatted when the logger wants their level, so unused
//! debug output costs a branch.

use std::fmt;

/// libdevmapper's log levels (the `level & 0x0f` of its callbacks).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `_LOG_FATAL`.
    Fatal = 2,
    /// `_LOG_ERR`: failures.
    Error = 3,
    /// `_LOG_WARN`: warnings (and report output in the C library).
    Warn = 4,
    /// `_LOG_NOTICE`: `log_verbose`.
    Notice = 5,
    /// `_LOG_INFO`: `log_very_verbose`.
    Info = 6,
    /// `_LOG_DEBUG`.
    Debug = 7,
}

impl Level {
    /// The level of a libdm level number (`level & 0x0f`); unknown values
    /// count as debug.
    pub fn from_raw(v: i32) -> Level {
        match v & 0x0f {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 => Level::Notice,
            6 => Level::Info,
            _ => Level::Debug,
        }
    }
}

/// libdm's `_LOG_STDERR`: OR-ed into the level of warnings meant for stderr.
pub const LOG_STDERR: i32 = 0x80;
/// The errno/class argument libdm passes with `log_error` (`EUNCLASSIFIED`).
pub const EUNCLASSIFIED: i32 = -1;
/// libdm's `LOG_CLASS_ACTIVATION` (`log_debug_activation`).
pub const CLASS_ACTIVATION: i32 = 4;

/// One line.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Its level.
    pub level: Level,
    /// libdm's `_LOG_STDERR` bit (warnings that go to stderr).
    pub stderr: bool,
    /// The errno or log class libdm passes along (`-1` for errors, `4` for
    /// activation debug lines, `0` otherwise).
    pub class: i32,
    /// Source file of the line.
    pub file: &'static str,
    /// Source line.
    pub line: u32,
    /// The text.
    pub args: fmt::Arguments<'a>,
}

impl Record<'_> {
    /// The level number as libdm's callbacks receive it (with `_LOG_STDERR`).
    pub fn raw_level(&self) -> i32 {
        self.level as i32 | if self.stderr { LOG_STDERR } else { 0 }
    }
}

/// Where a context's lines go.
pub trait Logger: Send + Sync {
    /// Whether lines of `level` would be kept; asked before formatting.
    fn enabled(&self, level: Level) -> bool;
    /// Take one line. Called without any library lock held: a logger may
    /// call back into the library.
    fn log(&self, record: &Record<'_>);
}

/// A logger that writes `level: text` lines to stderr up to a level; handy
/// for programs and tests (`Context::set_logger(StderrLogger(Level::Debug))`).
#[derive(Clone, Copy, Debug)]
pub struct StderrLogger(pub Level);

impl Logger for StderrLogger {
    fn enabled(&self, level: Level) -> bool {
        level <= self.0
    }

    fn log(&self, record: &Record<'_>) {
        eprintln!("{:?}: {}", record.level, record.args);
    }
}

/// Log through a context: `log_at!(ctx, Level::Debug, class, "...")`.
#[doc(hidden)]
#[macro_export]
macro_rules! log_at {
    ($ctx:expr, $lvl:expr, $stderr:expr, $class:expr, $($arg:tt)*) => {{
        let ctx: &$crate::Context = $ctx;
        if ctx.log_enabled($lvl) {
            ctx.log_record(&$crate::log::Record {
                level: $lvl,
                stderr: $stderr,
                class: $class,
                file: file!(),
                line: line!(),
                args: format_args!($($arg)*),
            });
        }
    }};
}

/// `log_error`: level 3, class -1 (for errors that are logged and not
/// returned, such as the failure of one of several node operations).
#[doc(hidden)]
#[macro_export]
macro_rules! log_error {
    ($ctx:expr, $($arg:tt)*) => {
        $crate::log_at!($ctx, $crate::log::Level::Error, false, $crate::log::EUNCLASSIFIED, $($arg)*)
    };
}

/// `log_warn`: level 4 with `_LOG_STDERR`.
#[doc(hidden)]
#[macro_export]
macro_rules! log_warn {
    ($ctx:expr, $($arg:tt)*) => {
        $crate::log_at!($ctx, $crate::log::Level::Warn, true, 0, $($arg)*)
    };
}

/// `log_verbose`: level 5.
#[doc(hidden)]
#[macro_export]
macro_rules! log_verbose {
    ($ctx:expr, $($arg:tt)*) => {
        $crate::log_at!($ctx, $crate::log::Level::Notice, false, 0, $($arg)*)
    };
}

/// `log_very_verbose`: level 6.
#[doc(hidden)]
#[macro_export]
macro_rules! log_info {
    ($ctx:expr, $($arg:tt)*) => {
        $crate::log_at!($ctx, $crate::log::Level::Info, false, 0, $($arg)*)
    };
}

/// `log_debug`: level 7.
#[doc(hidden)]
#[macro_export]
macro_rules! log_debug {
    ($ctx:expr, $($arg:tt)*) => {
        $crate::log_at!($ctx, $crate::log::Level::Debug, false, 0, $($arg)*)
    };
}

/// `log_debug_activation`: level 7, class `LOG_CLASS_ACTIVATION`.
#[doc(hidden)]
#[macro_export]
macro_rules! log_debug_act {
    ($ctx:expr, $($arg:tt)*) => {
        $crate::log_at!($ctx, $crate::log::Level::Debug, false, $crate::log::CLASS_ACTIVATION, $($arg)*)
    };
}
