//! The error type of the statistics module.

use std::fmt;

/// What kind of failure a [`StatsError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsErrorKind {
    /// The handle is not bound to a device.
    NotBound,
    /// The transport (the dm ioctl) failed; see [`StatsError::errno`].
    Transport,
    /// The kernel's reply could not be parsed.
    Protocol,
    /// An argument was rejected before anything was sent.
    InvalidArgument,
    /// A region or group id that is not present.
    NotFound,
    /// The handle has not been listed or populated for this call.
    NotListed,
    /// No sampling interval is set (metrics need one).
    NoInterval,
    /// The driver lacks a feature (precise timestamps, histograms, FIEMAP).
    Unsupported,
    /// A system call on a file failed; see [`StatsError::errno`].
    Io,
}

/// A failure of the statistics module.
///
/// [`StatsError::log_lines`] are the `log_error` lines stock libdevmapper
/// prints for the same failure, innermost first, in its wording; it is empty
/// when stock prints nothing at error level (it then only logs a debug
/// backtrace). `Display` joins the lines with "; " (or describes the kind when
/// there are none). The C shell prints each line through libdm's log at
/// error level (3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsError {
    kind: StatsErrorKind,
    errno: Option<i32>,
    lines: Vec<String>,
}

impl StatsError {
    /// A new error with one stock log line.
    pub fn new(kind: StatsErrorKind, line: impl Into<String>) -> StatsError {
        StatsError {
            kind,
            errno: None,
            lines: vec![line.into()],
        }
    }

    /// A new error for which stock logs nothing at error level.
    pub fn silent(kind: StatsErrorKind) -> StatsError {
        StatsError {
            kind,
            errno: None,
            lines: Vec::new(),
        }
    }

    /// Attach an errno.
    pub fn with_errno(mut self, errno: i32) -> StatsError {
        self.errno = Some(errno);
        self
    }

    /// Add an outer log line (stock logs it after the inner ones).
    pub fn context(mut self, line: impl Into<String>) -> StatsError {
        self.lines.push(line.into());
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> StatsErrorKind {
        self.kind
    }

    /// The errno, when the failure has one.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// Stock's error-level log lines for this failure, innermost first.
    pub fn log_lines(&self) -> &[String] {
        &self.lines
    }

    pub(crate) fn invalid(line: impl Into<String>) -> StatsError {
        StatsError::new(StatsErrorKind::InvalidArgument, line)
    }

    pub(crate) fn protocol(line: impl Into<String>) -> StatsError {
        StatsError::new(StatsErrorKind::Protocol, line)
    }

    pub(crate) fn not_bound() -> StatsError {
        // Stock: "Stats handle at %p is not bound." (the C shell puts its
        // handle's address in).
        StatsError::new(StatsErrorKind::NotBound, "Stats handle is not bound.")
    }
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lines.is_empty() {
            let what = match self.kind {
                StatsErrorKind::NotBound => "stats handle is not bound",
                StatsErrorKind::Transport => "device-mapper message failed",
                StatsErrorKind::Protocol => "malformed statistics reply",
                StatsErrorKind::InvalidArgument => "invalid argument",
                StatsErrorKind::NotFound => "no such region or group",
                StatsErrorKind::NotListed => "stats handle has no region table",
                StatsErrorKind::NoInterval => "no sampling interval set",
                StatsErrorKind::Unsupported => "not supported by the driver",
                StatsErrorKind::Io => "system call failed",
            };
            return f.write_str(what);
        }
        f.write_str(&self.lines.join("; "))
    }
}

impl std::error::Error for StatsError {}

/// Result alias of the statistics module.
pub type Result<T> = std::result::Result<T, StatsError>;
