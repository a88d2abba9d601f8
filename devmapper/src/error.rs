//! The one error type of the crate.
//!
//! Every failure, whether found before anything was sent (a bad name), by
//! the kernel (an errno), in a reply (malformed), or around the ioctl (the
//! control node, udev cookies, device nodes) is an [`Error`]: a kind, the
//! operation and device when known, the errno when there is one, and a
//! message whose text is libdevmapper's own wording, so that the C library
//! prints exactly what libdevmapper prints. Some libdm failures log more than
//! one line: the further lines are [`Error::notes`].
//!
//! Messages never contain key material: table parameters and message texts
//! that may carry keys are never quoted.

use crate::log::Level;
use std::fmt;
use std::sync::Arc;

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was rejected before anything was sent to the kernel.
    InvalidArgument,
    /// The device does not exist (the kernel answered `ENXIO`).
    NotFound,
    /// The name or uuid is taken (`EEXIST`).
    AlreadyExists,
    /// The device is in use (`EBUSY`).
    Busy,
    /// Not allowed (`EPERM`, `EACCES`).
    PermissionDenied,
    /// The kernel failed the ioctl with another errno.
    Kernel,
    /// The control device could not be opened, or its driver is unusable.
    Control,
    /// The kernel's reply would need a buffer above the configured maximum.
    ReplyTooLarge,
    /// The kernel's reply is malformed.
    Protocol,
    /// The kernel lacks a feature the call needs.
    Unsupported,
    /// The udev cookie protocol (SysV semaphores) failed.
    Udev,
    /// A file-system operation failed (device nodes, sysfs, proc).
    Io,
    /// Memory could not be allocated.
    NoMemory,
    /// The library was used in a way libdevmapper calls an internal error.
    Internal,
    /// A statistics handle is not bound to a device.
    NotBound,
    /// A statistics handle has not listed (or populated) its regions yet.
    NotListed,
    /// A statistics metric needs a sampling interval and none is set.
    NoInterval,
}

impl ErrorKind {
    /// The kind that describes a kernel errno.
    pub fn from_errno(errno: i32) -> ErrorKind {
        match errno {
            libc::ENXIO => ErrorKind::NotFound,
            libc::EEXIST => ErrorKind::AlreadyExists,
            libc::EBUSY => ErrorKind::Busy,
            libc::EPERM | libc::EACCES => ErrorKind::PermissionDenied,
            libc::ENOMEM => ErrorKind::NoMemory,
            libc::ENOTTY | libc::EOPNOTSUPP => ErrorKind::Unsupported,
            _ => ErrorKind::Kernel,
        }
    }
}

/// A failure, with libdevmapper's wording.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    op: Option<&'static str>,
    device: Option<Vec<u8>>,
    errno: Option<i32>,
    message: String,
    notes: Vec<String>,
    level: Level,
    silent: bool,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with libdm's message text.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            op: None,
            device: None,
            errno: None,
            message: message.into(),
            notes: Vec::new(),
            level: Level::Error,
            silent: false,
            source: None,
        }
    }

    /// A failure libdevmapper reports without an error line (its message
    /// only describes the kind, for `Display`).
    pub fn silent(kind: ErrorKind) -> Error {
        let what = match kind {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::NotFound => "not found",
            ErrorKind::NotBound => "statistics handle is not bound",
            ErrorKind::NotListed => "statistics handle has no region table",
            ErrorKind::NoInterval => "no sampling interval set",
            ErrorKind::Protocol => "malformed reply",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::Io => "system call failed",
            _ => "operation failed",
        };
        Error::new(kind, what).silently()
    }

    /// [`ErrorKind::InvalidArgument`] with `EINVAL`.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message).with_errno(libc::EINVAL)
    }

    /// [`ErrorKind::Internal`] (libdm prefixes these with "Internal error: ").
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message).with_errno(libc::EINVAL)
    }

    /// [`ErrorKind::Protocol`] with `EPROTO`: a malformed kernel reply.
    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message).with_errno(libc::EPROTO)
    }

    /// [`ErrorKind::NoMemory`] with `ENOMEM`.
    pub fn no_memory(bytes: usize) -> Error {
        Error::new(
            ErrorKind::NoMemory,
            format!("Failed to allocate {bytes} bytes."),
        )
        .with_errno(libc::ENOMEM)
    }

    /// The kind for a kernel errno, with that errno.
    pub fn from_errno(errno: i32, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::from_errno(errno), message).with_errno(errno)
    }

    /// Set the errno.
    pub fn with_errno(mut self, errno: i32) -> Error {
        self.errno = Some(errno);
        self
    }

    /// Set the operation (libdm's task name: `create`, `info`, …).
    pub fn with_op(mut self, op: &'static str) -> Error {
        self.op = Some(op);
        self
    }

    /// Set the device (name, uuid or `major:minor`, as bytes).
    pub fn with_device(mut self, device: impl Into<Vec<u8>>) -> Error {
        self.device = Some(device.into());
        self
    }

    /// Add a further line libdm logs after the message.
    pub fn with_note(mut self, note: impl Into<String>) -> Error {
        self.notes.push(note.into());
        self
    }

    /// Change the kind.
    pub fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.kind = kind;
        self
    }

    /// The level libdm logs this failure at (error, unless libdm is quieter,
    /// e.g. an interrupted ioctl is only verbose).
    pub fn at_level(mut self, level: Level) -> Error {
        self.level = level;
        self
    }

    /// A failure libdm reports without any log line.
    pub fn silently(mut self) -> Error {
        self.silent = true;
        self
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Arc::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The operation, when known.
    pub fn op(&self) -> Option<&'static str> {
        self.op
    }

    /// The device, when known.
    pub fn device(&self) -> Option<&[u8]> {
        self.device.as_deref()
    }

    /// The errno, when the failure has one.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// libdm's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Further lines libdm logs after the message.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The level of the log lines.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Whether libdm reports this failure without a log line.
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    /// Every line libdm logs for this failure, in order (none when silent).
    pub fn log_lines(&self) -> impl Iterator<Item = &str> {
        let n = if self.silent { 0 } else { 1 + self.notes.len() };
        std::iter::once(self.message.as_str())
            .chain(self.notes.iter().map(String::as_str))
            .take(n)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(op) = self.op {
            d.field("op", &op);
        }
        if let Some(dev) = &self.device {
            d.field("device", &String::from_utf8_lossy(dev));
        }
        if let Some(e) = self.errno {
            d.field("errno", &e);
        }
        d.field("message", &self.message);
        if !self.notes.is_empty() {
            d.field("notes", &self.notes);
        }
        d.finish()
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind
            && self.op == other.op
            && self.device == other.device
            && self.errno == other.errno
            && self.message == other.message
            && self.notes == other.notes
    }
}

impl Eq for Error {}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::targets::ParseError> for Error {
    /// A table or status line that does not parse (never quoting key
    /// material: the parse error does not).
    fn from(e: crate::targets::ParseError) -> Error {
        Error::invalid(e.to_string()).with_source(e)
    }
}

impl From<crate::targets::TableError> for Error {
    /// A table that is not valid (lines not contiguous, bad line, ...).
    fn from(e: crate::targets::TableError) -> Error {
        Error::invalid(e.to_string()).with_source(e)
    }
}

impl From<crate::report::ReportError> for Error {
    /// A failed report call ([`ErrorKind::InvalidArgument`]: an unknown
    /// field, a bad selection or sort key, a misused group): the message is
    /// the report engine's first error line, the further lines are notes,
    /// and the [`ReportError`](crate::report::ReportError) (with the help
    /// lines stock printed) is the source.
    fn from(e: crate::report::ReportError) -> Error {
        let mut lines = e
            .lines()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned());
        let first = lines
            .next()
            .unwrap_or_else(|| "report operation failed".to_string());
        let mut err = Error::invalid(first);
        for l in lines {
            err = err.with_note(l);
        }
        err.with_source(e)
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_display() {
        let e = Error::invalid("Name \"x\" too long.").with_note("second line");
        assert_eq!(e.to_string(), "Name \"x\" too long.");
        assert_eq!(
            e.log_lines().collect::<Vec<_>>(),
            ["Name \"x\" too long.", "second line"]
        );
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert_eq!(e.clone().silently().log_lines().count(), 0);
    }

    #[test]
    fn report_errors_convert() {
        use crate::report::{FieldSpec, FieldValue, ReportOptions, ReportRow, TypedReport};
        struct Row;
        static FIELDS: &[FieldSpec] = &[FieldSpec::string(1, 4, "name", "Name", "The name.")];
        impl ReportRow for Row {
            fn fields() -> &'static [FieldSpec] {
                FIELDS
            }
            fn value(&self, _: usize) -> FieldValue {
                FieldValue::string(b"x")
            }
        }
        let opts = ReportOptions {
            output_fields: b"name,size".to_vec(),
            ..Default::default()
        };
        let re = TypedReport::<Row>::new(0, &opts).unwrap_err();
        let e = Error::from(re.clone());
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert_eq!(e.message().as_bytes(), re.message());
        assert_eq!(e.notes().len() + 1, re.lines().len());
        assert_eq!(e.log_lines().count(), re.lines().len());
        assert!(std::error::Error::source(&e).is_some());
        // `?` works from a function returning the crate's Result.
        fn make(opts: &ReportOptions) -> Result<TypedReport<Row>> {
            Ok(TypedReport::<Row>::new(0, opts)?)
        }
        assert!(make(&opts).is_err());
    }

    #[test]
    fn kinds_from_errno() {
        assert_eq!(ErrorKind::from_errno(libc::ENXIO), ErrorKind::NotFound);
        assert_eq!(ErrorKind::from_errno(libc::EBUSY), ErrorKind::Busy);
        assert_eq!(ErrorKind::from_errno(libc::EIO), ErrorKind::Kernel);
    }
}
