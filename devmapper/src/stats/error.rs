//! Errors of the statistics module: the crate's one [`Error`](crate::Error).
//!
//! Failures carry the `log_error` lines stock libdevmapper prints for them,
//! innermost first ([`Error::log_lines`](crate::Error::log_lines): the
//! message, then the notes); failures stock reports without an error line
//! are [`silent`](crate::Error::silent). The kinds special to statistics
//! are [`NotBound`](crate::ErrorKind::NotBound),
//! [`NotListed`](crate::ErrorKind::NotListed) and
//! [`NoInterval`](crate::ErrorKind::NoInterval).

pub use crate::error::{Error as StatsError, ErrorKind as StatsErrorKind};

/// Result alias of the statistics module.
pub type Result<T> = std::result::Result<T, StatsError>;

/// Stock's "Stats handle at %p is not bound." (the C shell puts its handle's
/// address in).
pub(crate) fn not_bound() -> StatsError {
    StatsError::new(StatsErrorKind::NotBound, "Stats handle is not bound.")
}

/// Adding the line stock logs after an inner failure.
pub(crate) trait Note {
    /// `self` with `line` logged after it. Stock prints such a line whether
    /// or not the inner failure printed anything: on a
    /// [silent](StatsError::is_silent) failure the line becomes the message.
    fn note(self, line: impl Into<String>) -> StatsError;
}

impl Note for StatsError {
    fn note(self, line: impl Into<String>) -> StatsError {
        if !self.is_silent() {
            return self.with_note(line);
        }
        let e = StatsError::new(self.kind(), line).at_level(self.level());
        match self.errno() {
            Some(errno) => e.with_errno(errno),
            None => e,
        }
    }
}
