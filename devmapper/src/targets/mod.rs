//! Typed device-mapper target parameters and status lines.
//!
//! Every target type the kernel ships has a parameter type implementing
//! [`TargetParams`] (build it from typed values, print it as the kernel
//! prints it back with `dmsetup table`, parse what the kernel prints) and,
//! where the kernel reports something, a status type implementing
//! [`TargetStatus`]. [`Target`] and [`TargetStatusLine`] dispatch on the
//! target type name; [`Table`] is a whole table (contiguous lines from
//! sector 0).
//!
//! Parameter strings are split like the kernel splits them (`dm_split_args`:
//! runs of white space separate arguments, a backslash quotes the next
//! byte). Byte strings that are printed back (paths, policy arguments, ...)
//! are quoted the same way when they contain white space or a backslash.
//!
//! Nothing here panics on any input, and no error or `Debug` output ever
//! contains key material: crypt keys and integrity keys live in
//! [`Secret`], and parse errors of those targets never quote an argument.
//!
//! `to_params()` prints what the kernel prints back for the same table
//! (checked against lines captured from 6.1 and 7.2 kernels, see
//! `tests/fixtures/targets/`): devices as given (the kernel prints
//! `major:minor`), options in the kernel's order (cache, vdo and integrity
//! keep the order given, as the kernel echoes or reorders them by version),
//! trailing blanks where the kernel prints them (thin-pool, multipath).
//!
//! Differences between kernels that the types absorb:
//! - flakey: 6.1 ends its table line with a blank and prints `0` features;
//!   7.x prints no trailing blank, shows the default "error everything" as
//!   `2 error_reads error_writes`, and adds `error_reads`,
//!   `random_read_corrupt`, `random_write_corrupt`;
//! - crypt: 7.x adds `high_priority` and `integrity_key_size:<n>`;
//! - integrity: 7.x prints `journal_sectors` after `buffer_sectors` and only
//!   in journal mode, and adds mode `I` and `allow_discards_keyed`;
//! - verity: 7.x adds `restart_on_error`/`panic_on_error` and a second
//!   status field (FEC corrections, `-` without FEC);
//! - multipath: 7.x no longer prints `retain_attached_hw_handler`;
//! - vdo exists from 6.9 on.

use crate::secret::Secret;
use crate::units::{parse_decimal_u64, Sectors};
use std::fmt;

mod basic;
mod cache;
mod crypt;
mod faults;
mod integrity;
pub mod messages;
mod mirror;
mod multipath;
mod raid;
mod snapshot;
mod thin;
mod vdo;
mod verity;
mod writecache;

#[cfg(test)]
mod kernel_fixtures;

pub use basic::{LinearParams, Stripe, StripedParams, StripedStatus};
pub use cache::{
    CacheFeature, CacheFeatures, CacheIoMode, CacheMetadataMode, CacheParams, CacheStatus,
    CacheStatusDetail,
};
pub use crypt::{
    CipherSpec, CryptKey, CryptOptions, CryptParams, IntegrityProfile, KeyringKeyType,
};
pub use faults::{
    CorruptBioByte, DelayClass, DelayParams, DelayStatus, FlakeyFeatures, FlakeyParams, IoDirection,
};
pub use integrity::{
    IntegrityAlgorithm, IntegrityMode, IntegrityOption, IntegrityOptions, IntegrityParams,
    IntegrityStatus, TagSize,
};
pub use mirror::{
    LogSync, MirrorDeviceHealth, MirrorFeatures, MirrorLeg, MirrorLog, MirrorLogStatus,
    MirrorParams, MirrorStatus,
};
pub use multipath::{
    HwHandler, MultipathFeatures, MultipathParams, MultipathPath, MultipathPathStatus,
    MultipathStatus, PathGroup, PathGroupState, PathGroupStatus, QueueMode,
};
pub use raid::{
    Raid10Format, RaidDevice, RaidDeviceHealth, RaidJournalMode, RaidOptions, RaidParams,
    RaidStatus, RaidSyncAction, RaidType,
};
pub use snapshot::{
    ExceptionStore, SnapshotFeatures, SnapshotMergeParams, SnapshotOriginParams, SnapshotParams,
    SnapshotStatus,
};
pub use thin::{
    ThinParams, ThinPoolDiscards, ThinPoolFeatures, ThinPoolMode, ThinPoolParams, ThinPoolStatus,
    ThinPoolStatusDetail, ThinStatus, ThinStatusDetail,
};
pub use vdo::{VdoIndexState, VdoLegacyArgs, VdoOperatingMode, VdoOption, VdoParams, VdoStatus};
pub use verity::{
    VerityErrorMode, VerityFec, VerityHashState, VerityIoErrorMode, VerityOptions, VerityParams,
    VerityStatus,
};
pub use writecache::{
    WritecacheMode, WritecacheOptions, WritecacheParams, WritecacheStats, WritecacheStatus,
};

// ---------------------------------------------------------------------------
// Errors

/// What was wrong with an argument.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The argument is missing (the line ends early).
    Missing,
    /// A decimal number was expected.
    ExpectedNumber,
    /// The number does not fit the field (or is outside the kernel's range).
    OutOfRange,
    /// The argument is not one of the accepted values; the text says what
    /// was expected.
    Invalid(&'static str),
    /// An unknown feature or option keyword.
    UnknownFeature,
    /// A feature given twice, or two features that exclude each other.
    Conflict(&'static str),
    /// More arguments than the target accepts.
    TooMany,
    /// A count that promises more arguments than there are.
    CountTooLarge,
    /// Out of memory while parsing.
    OutOfMemory,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::Missing => f.write_str("missing"),
            ParseErrorKind::ExpectedNumber => f.write_str("expected a number"),
            ParseErrorKind::OutOfRange => f.write_str("number out of range"),
            ParseErrorKind::Invalid(what) => write!(f, "expected {what}"),
            ParseErrorKind::UnknownFeature => f.write_str("unknown feature"),
            ParseErrorKind::Conflict(what) => write!(f, "conflict: {what}"),
            ParseErrorKind::TooMany => f.write_str("unexpected extra argument"),
            ParseErrorKind::CountTooLarge => f.write_str("count exceeds the remaining arguments"),
            ParseErrorKind::OutOfMemory => f.write_str("out of memory"),
        }
    }
}

/// A parse failure of a target's parameter or status line.
///
/// It names the target type, the argument (1-based position among the
/// parameters and what it is) and what was wrong. For targets that carry
/// keys (crypt, integrity) it never quotes the offending text; for the
/// others it may quote a short unknown keyword.
#[derive(Clone, PartialEq, Eq)]
pub struct ParseError {
    target_type: &'static str,
    index: Option<usize>,
    name: Option<&'static str>,
    kind: ParseErrorKind,
    found: Option<String>,
}

impl ParseError {
    pub(crate) fn new(
        target_type: &'static str,
        index: Option<usize>,
        name: Option<&'static str>,
        kind: ParseErrorKind,
    ) -> ParseError {
        ParseError {
            target_type,
            index,
            name,
            kind,
            found: None,
        }
    }

    /// An error that is not about one argument.
    pub(crate) fn whole(target_type: &'static str, kind: ParseErrorKind) -> ParseError {
        ParseError::new(target_type, None, None, kind)
    }

    /// The target type whose parameters or status failed to parse.
    pub fn target_type(&self) -> &str {
        self.target_type
    }

    /// The 1-based position of the offending argument, when known.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// What the offending argument is (e.g. `iv_offset`), when known.
    pub fn argument(&self) -> Option<&str> {
        self.name
    }

    /// What was wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.target_type)?;
        match (self.index, self.name) {
            (Some(i), Some(n)) => write!(f, "argument {i} ({n}): ")?,
            (Some(i), None) => write!(f, "argument {i}: ")?,
            (None, Some(n)) => write!(f, "{n}: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.kind)?;
        if let Some(s) = &self.found {
            write!(f, " {s:?}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParseError({self})")
    }
}

impl std::error::Error for ParseError {}

// ---------------------------------------------------------------------------
// Traits

/// The parameters of one target type: built from typed values, printed as
/// the kernel prints them back, parsed from a table line.
pub trait TargetParams: Sized + Clone {
    /// The kernel's target type name, e.g. `"linear"`.
    const TARGET_TYPE: &'static str;

    /// The parameter string of a table line, as the kernel prints it back
    /// (`dmsetup table`), with devices as given. It is a [`Secret`] because
    /// some targets (crypt, integrity) carry keys.
    fn to_params(&self) -> Secret;

    /// Parse the parameters of a table line, as loaded or as the kernel
    /// prints them.
    fn parse(params: &[u8]) -> Result<Self, ParseError>;
}

/// The status of one target type, as the kernel reports it
/// (`STATUSTYPE_INFO`, `dmsetup status`).
///
/// [`Device::status_of`](crate::Device::status_of) is generic over it:
/// `dev.status_of::<ThinPoolStatus>()?`.
pub trait TargetStatus: Sized {
    /// The kernel's target type name.
    const TARGET_TYPE: &'static str;

    /// Parse one target's status line: the text after `start length type `
    /// in `dmsetup status`.
    fn parse(status: &[u8]) -> Result<Self, ParseError>;

    /// Whether this type describes the status of targets of `target_type`
    /// (by default [`TARGET_TYPE`](TargetStatus::TARGET_TYPE) alone;
    /// [`SnapshotStatus`] also takes `snapshot-merge`).
    fn accepts(target_type: &[u8]) -> bool {
        target_type == Self::TARGET_TYPE.as_bytes()
    }

    /// Parse the status of a target of `target_type` (one it
    /// [`accepts`](TargetStatus::accepts)).
    fn parse_for(target_type: &[u8], status: &[u8]) -> Result<Self, ParseError> {
        let _ = target_type;
        Self::parse(status)
    }
}

// ---------------------------------------------------------------------------
// Device references

/// A device named in target parameters: a path (`/dev/loop0`) or a device
/// number (`7:0`). The kernel prints every device it opened back as
/// `major:minor`; this type prints itself as given.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum DevRef {
    /// A path, resolved by the kernel (bytes, not necessarily UTF-8).
    Path(Vec<u8>),
    /// A device number.
    Number {
        /// Major number (12 bits in the kernel).
        major: u32,
        /// Minor number (20 bits in the kernel).
        minor: u32,
    },
}

/// The largest major number the kernel's `dev_t` holds.
const MAX_MAJOR: u32 = (1 << 12) - 1;
/// The largest minor number the kernel's `dev_t` holds.
const MAX_MINOR: u32 = (1 << 20) - 1;

impl DevRef {
    /// A device number, or `None` if it does not fit the kernel's `dev_t`.
    pub fn number(major: u32, minor: u32) -> Option<DevRef> {
        (major <= MAX_MAJOR && minor <= MAX_MINOR).then_some(DevRef::Number { major, minor })
    }

    /// A path (must not be empty).
    pub fn path(p: impl Into<Vec<u8>>) -> Option<DevRef> {
        let p = p.into();
        (!p.is_empty()).then_some(DevRef::Path(p))
    }

    /// The device number of a block device node (`/dev/loop0`,
    /// `/dev/mapper/vol`; symbolic links are followed), read with `stat`
    /// now: a table that names a device by number reads back equal from the
    /// kernel, and does not depend on the path later.
    ///
    /// Errors: [`ErrorKind::Io`](crate::ErrorKind::Io) when the node cannot
    /// be looked at, [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// when it is not a block device.
    pub fn from_node(path: impl AsRef<std::path::Path>) -> crate::Result<DevRef> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let path = path.as_ref();
        let md = std::fs::metadata(path).map_err(|e| {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            crate::Error::new(
                crate::ErrorKind::Io,
                format!(
                    "{}: stat failed: {}",
                    path.display(),
                    crate::kernel::sys::strerror(errno)
                ),
            )
            .with_errno(errno)
        })?;
        if !md.file_type().is_block_device() {
            return Err(crate::Error::invalid(format!(
                "{} is not a block device.",
                path.display()
            ))
            .with_errno(libc::ENOTBLK));
        }
        let rdev = md.rdev();
        let (major, minor) = (libc::major(rdev), libc::minor(rdev));
        DevRef::number(major, minor).ok_or_else(|| {
            crate::Error::invalid(format!(
                "{}: device number {major}:{minor} is out of the kernel's range.",
                path.display()
            ))
        })
    }

    /// Parse `major:minor` (decimal) or, failing that, take it as a path.
    /// `None` for an empty argument or a device number out of range.
    pub fn parse(arg: &[u8]) -> Option<DevRef> {
        if arg.is_empty() {
            return None;
        }
        if let Some(colon) = arg.iter().position(|&c| c == b':') {
            let (ma, mi) = (&arg[..colon], &arg[colon + 1..]);
            let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
            if digits(ma) && digits(mi) {
                let major = parse_decimal_u64(ma).and_then(|v| u32::try_from(v).ok())?;
                let minor = parse_decimal_u64(mi).and_then(|v| u32::try_from(v).ok())?;
                return DevRef::number(major, minor);
            }
        }
        Some(DevRef::Path(arg.to_vec()))
    }

    /// The text of the argument (unquoted).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            DevRef::Path(p) => p.clone(),
            DevRef::Number { major, minor } => format!("{major}:{minor}").into_bytes(),
        }
    }
}

impl fmt::Display for DevRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevRef::Path(p) => f.write_str(&String::from_utf8_lossy(p)),
            DevRef::Number { major, minor } => write!(f, "{major}:{minor}"),
        }
    }
}

impl fmt::Debug for DevRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevRef::Path(p) => write!(f, "Path({:?})", String::from_utf8_lossy(p)),
            DevRef::Number { major, minor } => write!(f, "Number({major}:{minor})"),
        }
    }
}

/// Bytes shown as text (lossy where not UTF-8) in `Debug` output.
pub(crate) struct Lossy<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.0), f)
    }
}

// ---------------------------------------------------------------------------
// Splitting and reading arguments

/// One argument: borrowed from the input, or unquoted into a wiped buffer.
pub(crate) enum Tok<'a> {
    Borrowed(&'a [u8]),
    Owned(Secret),
}

impl Tok<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Tok::Borrowed(b) => b,
            Tok::Owned(s) => s.as_bytes(),
        }
    }
}

/// The kernel's `isspace()` (C locale).
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The arguments of a parameter or status string, split like the kernel's
/// `dm_split_args`.
pub(crate) struct Tokens<'a> {
    target: &'static str,
    toks: Vec<Tok<'a>>,
}

impl<'a> Tokens<'a> {
    pub(crate) fn split(target: &'static str, input: &'a [u8]) -> Result<Tokens<'a>, ParseError> {
        let oom = || ParseError::whole(target, ParseErrorKind::OutOfMemory);
        let mut toks: Vec<Tok<'a>> = Vec::new();
        let mut i = 0;
        while i < input.len() {
            while i < input.len() && is_space(input[i]) {
                i += 1;
            }
            if i >= input.len() {
                break;
            }
            let start = i;
            let mut quoted = false;
            while i < input.len() && !is_space(input[i]) {
                if input[i] == b'\\' && i + 1 < input.len() {
                    quoted = true;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            let raw = &input[start..i];
            let tok = if quoted {
                // Unquoted is never longer than quoted: the reservation holds.
                let mut v = Secret::try_with_capacity(raw.len()).ok_or_else(oom)?;
                let mut j = 0;
                while j < raw.len() {
                    if raw[j] == b'\\' && j + 1 < raw.len() {
                        j += 1;
                    }
                    v.push_within_capacity(&raw[j..j + 1]);
                    j += 1;
                }
                Tok::Owned(v)
            } else {
                Tok::Borrowed(raw)
            };
            toks.try_reserve(1).map_err(|_| oom())?;
            toks.push(tok);
        }
        Ok(Tokens { target, toks })
    }

    /// A cursor over the arguments; `secret` keeps errors from quoting any
    /// argument text.
    pub(crate) fn args(&self, secret: bool) -> Args<'_> {
        Args {
            target: self.target,
            toks: &self.toks,
            pos: 0,
            secret,
        }
    }
}

/// A cursor over split arguments, with typed readers that report the
/// argument's position and name on failure.
pub(crate) struct Args<'t> {
    target: &'static str,
    toks: &'t [Tok<'t>],
    pos: usize,
    secret: bool,
}

impl<'t> Args<'t> {
    pub(crate) fn target(&self) -> &'static str {
        self.target
    }

    pub(crate) fn remaining(&self) -> usize {
        self.toks.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The 1-based position of the next argument.
    pub(crate) fn position(&self) -> usize {
        self.pos + 1
    }

    pub(crate) fn err_at(
        &self,
        index: usize,
        name: &'static str,
        kind: ParseErrorKind,
    ) -> ParseError {
        ParseError::new(self.target, Some(index), Some(name), kind)
    }

    /// An error about the argument just read.
    pub(crate) fn err_prev(&self, name: &'static str, kind: ParseErrorKind) -> ParseError {
        self.err_at(self.pos.max(1), name, kind)
    }

    /// An error about the argument just read that quotes it, unless this
    /// target may carry keys.
    pub(crate) fn err_prev_quoting(
        &self,
        name: &'static str,
        kind: ParseErrorKind,
        text: &[u8],
    ) -> ParseError {
        let mut e = self.err_prev(name, kind);
        if !self.secret && text.len() <= 64 {
            e.found = Some(String::from_utf8_lossy(text).into_owned());
        }
        e
    }

    pub(crate) fn peek(&self) -> Option<&'t [u8]> {
        self.toks.get(self.pos).map(Tok::bytes)
    }

    pub(crate) fn next(&mut self, name: &'static str) -> Result<&'t [u8], ParseError> {
        match self.toks.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.bytes())
            }
            None => Err(self.err_at(self.pos + 1, name, ParseErrorKind::Missing)),
        }
    }

    pub(crate) fn u64(&mut self, name: &'static str) -> Result<u64, ParseError> {
        let t = self.next(name)?;
        parse_num(t).map_err(|k| self.err_prev(name, k))
    }

    pub(crate) fn u32(&mut self, name: &'static str) -> Result<u32, ParseError> {
        let v = self.u64(name)?;
        u32::try_from(v).map_err(|_| self.err_prev(name, ParseErrorKind::OutOfRange))
    }

    /// A number within `min..=max`.
    pub(crate) fn u32_in(
        &mut self,
        name: &'static str,
        min: u32,
        max: u32,
    ) -> Result<u32, ParseError> {
        let v = self.u32(name)?;
        if v < min || v > max {
            return Err(self.err_prev(name, ParseErrorKind::OutOfRange));
        }
        Ok(v)
    }

    pub(crate) fn sectors(&mut self, name: &'static str) -> Result<Sectors, ParseError> {
        self.u64(name).map(Sectors)
    }

    pub(crate) fn dev(&mut self, name: &'static str) -> Result<DevRef, ParseError> {
        let t = self.next(name)?;
        DevRef::parse(t).ok_or_else(|| {
            self.err_prev(
                name,
                ParseErrorKind::Invalid("a device path or major:minor"),
            )
        })
    }

    /// A device, or `None` for `-`.
    pub(crate) fn opt_dev(&mut self, name: &'static str) -> Result<Option<DevRef>, ParseError> {
        if self.peek() == Some(b"-") {
            self.pos += 1;
            return Ok(None);
        }
        self.dev(name).map(Some)
    }

    /// A count of arguments that follow (checked against what remains).
    pub(crate) fn count(&mut self, name: &'static str) -> Result<usize, ParseError> {
        let v = self.u64(name)?;
        let n = usize::try_from(v).map_err(|_| self.err_prev(name, ParseErrorKind::OutOfRange))?;
        if n > self.remaining() {
            return Err(self.err_prev(name, ParseErrorKind::CountTooLarge));
        }
        Ok(n)
    }

    /// An owned copy of the next argument (not for key material).
    pub(crate) fn bytes(&mut self, name: &'static str) -> Result<Vec<u8>, ParseError> {
        let t = self.next(name)?;
        copy_bytes(t).map_err(|k| self.err_prev(name, k))
    }

    /// No arguments may remain.
    pub(crate) fn finish(&self) -> Result<(), ParseError> {
        if self.remaining() > 0 {
            return Err(self.err_at(self.pos + 1, "extra", ParseErrorKind::TooMany));
        }
        Ok(())
    }

    /// The arguments after the cursor (for lenient trailing fields).
    pub(crate) fn rest_bytes(&mut self) -> Result<Vec<Vec<u8>>, ParseError> {
        let mut v = Vec::new();
        while !self.is_empty() {
            let b = self.bytes("extra")?;
            v.try_reserve(1)
                .map_err(|_| ParseError::whole(self.target, ParseErrorKind::OutOfMemory))?;
            v.push(b);
        }
        Ok(v)
    }

    /// A sub-cursor over the next `n` arguments; the cursor moves past them.
    pub(crate) fn group(&mut self, n: usize) -> Args<'t> {
        let end = self.pos.saturating_add(n).min(self.toks.len());
        let sub = Args {
            target: self.target,
            toks: &self.toks[..end],
            pos: self.pos,
            secret: self.secret,
        };
        self.pos = end;
        sub
    }
}

pub(crate) fn copy_bytes(t: &[u8]) -> Result<Vec<u8>, ParseErrorKind> {
    let mut v = Vec::new();
    v.try_reserve_exact(t.len())
        .map_err(|_| ParseErrorKind::OutOfMemory)?;
    v.extend_from_slice(t);
    Ok(v)
}

pub(crate) fn parse_num(t: &[u8]) -> Result<u64, ParseErrorKind> {
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return Err(ParseErrorKind::ExpectedNumber);
    }
    parse_decimal_u64(t).ok_or(ParseErrorKind::OutOfRange)
}

/// `done / total` in `0.0..=1.0`; nothing to do (`0/0`) is complete.
pub(crate) fn ratio(done: u64, total: u64) -> f64 {
    if total == 0 {
        1.0
    } else {
        done.min(total) as f64 / total as f64
    }
}

/// `a/b` as two numbers.
pub(crate) fn parse_ratio(t: &[u8]) -> Result<(u64, u64), ParseErrorKind> {
    let slash = t
        .iter()
        .position(|&c| c == b'/')
        .ok_or(ParseErrorKind::Invalid("<used>/<total>"))?;
    Ok((parse_num(&t[..slash])?, parse_num(&t[slash + 1..])?))
}

/// Split `key:value` at the first colon.
pub(crate) fn split_colon(t: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = t.iter().position(|&c| c == b':')?;
    Some((&t[..i], &t[i + 1..]))
}

// ---------------------------------------------------------------------------
// Building parameter strings

/// A parameter string under construction. It lives in a [`Secret`], which
/// grows by moving to a larger buffer and wiping the old one, so no copy of
/// a key is left behind in freed memory.
pub(crate) struct Out {
    buf: Secret,
    first: bool,
}

impl Out {
    pub(crate) fn new() -> Out {
        Out {
            buf: Secret::with_capacity(64),
            first: true,
        }
    }

    /// Append bytes verbatim.
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn sep(&mut self) {
        if !self.first {
            self.raw(b" ");
        }
        self.first = false;
    }

    /// A literal word (no quoting needed).
    pub(crate) fn word(&mut self, w: &str) {
        self.sep();
        self.raw(w.as_bytes());
    }

    /// A byte string argument, quoted like `dm_split_args` expects.
    pub(crate) fn arg(&mut self, b: &[u8]) {
        self.sep();
        self.quoted(b);
    }

    /// Quoted bytes without a separator (to continue an argument).
    pub(crate) fn quoted(&mut self, b: &[u8]) {
        for &c in b {
            if is_space(c) || c == b'\\' {
                self.raw(&[b'\\', c]);
            } else {
                self.raw(&[c]);
            }
        }
    }

    /// A decimal number.
    pub(crate) fn num(&mut self, n: impl Into<u64>) {
        self.sep();
        self.num_raw(n.into());
    }

    /// A decimal number without a separator.
    pub(crate) fn num_raw(&mut self, n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut v = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.raw(&tmp[i..]);
    }

    pub(crate) fn dev(&mut self, d: &DevRef) {
        match d {
            DevRef::Path(p) => self.arg(p),
            DevRef::Number { major, minor } => {
                self.sep();
                self.num_raw(u64::from(*major));
                self.raw(b":");
                self.num_raw(u64::from(*minor));
            }
        }
    }

    pub(crate) fn opt_dev(&mut self, d: &Option<DevRef>) {
        match d {
            Some(d) => self.dev(d),
            None => self.word("-"),
        }
    }

    pub(crate) fn finish(self) -> Secret {
        self.buf
    }
}

// ---------------------------------------------------------------------------
// The target enum

/// The parameters of one target, typed where the target type is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `linear`
    Linear(LinearParams),
    /// `striped`
    Striped(StripedParams),
    /// `zero` (no parameters)
    Zero,
    /// `error` (no parameters; the kernel ignores any given)
    Error,
    /// `crypt`
    Crypt(CryptParams),
    /// `flakey`
    Flakey(FlakeyParams),
    /// `delay`
    Delay(DelayParams),
    /// `snapshot`
    Snapshot(SnapshotParams),
    /// `snapshot-origin`
    SnapshotOrigin(SnapshotOriginParams),
    /// `snapshot-merge`
    SnapshotMerge(SnapshotMergeParams),
    /// `thin-pool`
    ThinPool(ThinPoolParams),
    /// `thin`
    Thin(ThinParams),
    /// `cache`
    Cache(CacheParams),
    /// `writecache`
    Writecache(WritecacheParams),
    /// `mirror`
    Mirror(MirrorParams),
    /// `raid`
    Raid(RaidParams),
    /// `verity`
    Verity(VerityParams),
    /// `integrity`
    Integrity(IntegrityParams),
    /// `multipath`
    Multipath(MultipathParams),
    /// `vdo`
    Vdo(VdoParams),
    /// Any other target type: its name and raw parameters.
    Other {
        /// The target type name.
        target_type: Vec<u8>,
        /// The parameters, unparsed (they may carry keys).
        params: Secret,
    },
}

macro_rules! dispatch_params {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        impl Target {
            /// The kernel's target type name.
            pub fn target_type(&self) -> &[u8] {
                match self {
                    $(Target::$variant(_) => <$ty as TargetParams>::TARGET_TYPE.as_bytes(),)*
                    Target::Zero => b"zero",
                    Target::Error => b"error",
                    Target::Other { target_type, .. } => target_type,
                }
            }

            /// The parameter string, as the kernel prints it back.
            pub fn to_params(&self) -> Secret {
                match self {
                    $(Target::$variant(p) => p.to_params(),)*
                    Target::Zero | Target::Error => Secret::new(Vec::new()),
                    Target::Other { params, .. } => params.clone(),
                }
            }

            /// Parse the parameters of a target type; unknown types become
            /// [`Target::Other`].
            pub fn parse(target_type: &[u8], params: &[u8]) -> Result<Target, ParseError> {
                $(
                    if target_type == <$ty as TargetParams>::TARGET_TYPE.as_bytes() {
                        return <$ty as TargetParams>::parse(params).map(Target::$variant);
                    }
                )*
                match target_type {
                    b"zero" => {
                        let toks = Tokens::split("zero", params)?;
                        toks.args(false).finish()?;
                        Ok(Target::Zero)
                    }
                    b"error" => Ok(Target::Error),
                    _ => Ok(Target::Other {
                        target_type: copy_bytes(target_type)
                            .map_err(|k| ParseError::whole("table", k))?,
                        params: Secret::from(params),
                    }),
                }
            }
        }
    };
}

dispatch_params! {
    Linear => LinearParams,
    Striped => StripedParams,
    Crypt => CryptParams,
    Flakey => FlakeyParams,
    Delay => DelayParams,
    Snapshot => SnapshotParams,
    SnapshotOrigin => SnapshotOriginParams,
    SnapshotMerge => SnapshotMergeParams,
    ThinPool => ThinPoolParams,
    Thin => ThinParams,
    Cache => CacheParams,
    Writecache => WritecacheParams,
    Mirror => MirrorParams,
    Raid => RaidParams,
    Verity => VerityParams,
    Integrity => IntegrityParams,
    Multipath => MultipathParams,
    Vdo => VdoParams,
}

macro_rules! impl_from_params {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        $(impl From<$ty> for Target {
            fn from(p: $ty) -> Target {
                Target::$variant(p)
            }
        })*
    };
}

impl_from_params! {
    Linear => LinearParams,
    Striped => StripedParams,
    Crypt => CryptParams,
    Flakey => FlakeyParams,
    Delay => DelayParams,
    Snapshot => SnapshotParams,
    SnapshotOrigin => SnapshotOriginParams,
    SnapshotMerge => SnapshotMergeParams,
    ThinPool => ThinPoolParams,
    Thin => ThinParams,
    Cache => CacheParams,
    Writecache => WritecacheParams,
    Mirror => MirrorParams,
    Raid => RaidParams,
    Verity => VerityParams,
    Integrity => IntegrityParams,
    Multipath => MultipathParams,
    Vdo => VdoParams,
}

// ---------------------------------------------------------------------------
// Tables

/// One table line: `start length type params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLine {
    /// First sector of the device this line maps.
    pub start: Sectors,
    /// Number of sectors it maps (never zero in a valid table).
    pub length: Sectors,
    /// The target and its parameters.
    pub target: Target,
}

impl TableLine {
    /// `start length type params` (no newline). A [`Secret`]: the parameters
    /// may carry keys.
    pub fn to_text(&self) -> Secret {
        let mut o = Out::new();
        o.num(self.start.0);
        o.num(self.length.0);
        // The type verbatim, as `parse` reads it (one word, no escapes): an
        // escaped type would not read back as the same type.
        o.sep();
        o.raw(self.target.target_type());
        let p = self.target.to_params();
        o.raw(b" ");
        o.raw(p.as_bytes());
        o.finish()
    }

    /// Parse `start length type [params]`.
    pub fn parse(line: &[u8]) -> Result<TableLine, TableError> {
        TableLine::parse_numbered(line, 1)
    }

    fn parse_numbered(line: &[u8], n: usize) -> Result<TableLine, TableError> {
        let mut rest = line;
        let mut field = |what: &'static str| -> Result<&[u8], TableError> {
            let s = rest
                .iter()
                .position(|&c| !is_space(c))
                .unwrap_or(rest.len());
            rest = &rest[s..];
            let e = rest.iter().position(|&c| is_space(c)).unwrap_or(rest.len());
            let (f, r) = rest.split_at(e);
            rest = r;
            if f.is_empty() {
                return Err(TableError::BadLine { line: n, what });
            }
            Ok(f)
        };
        let start = parse_num(field("start sector")?).map_err(|_| TableError::BadLine {
            line: n,
            what: "start sector",
        })?;
        let length = parse_num(field("length")?).map_err(|_| TableError::BadLine {
            line: n,
            what: "length",
        })?;
        let ty = field("target type")?;
        // The parameters: everything after the separator following the type.
        let params = match rest.first() {
            Some(&c) if is_space(c) => &rest[1..],
            _ => rest,
        };
        let target =
            Target::parse(ty, params).map_err(|error| TableError::Params { line: n, error })?;
        Ok(TableLine {
            start: Sectors(start),
            length: Sectors(length),
            target,
        })
    }
}

/// A table validation or parse error. It never contains parameters (which
/// may carry keys), only line numbers and what was wrong.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableError {
    /// A table needs at least one line.
    Empty,
    /// A line is not `start length type ...`.
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The field that is missing or not a number.
        what: &'static str,
    },
    /// A line's parameters failed to parse.
    Params {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        error: ParseError,
    },
    /// A zero-length line.
    ZeroLength {
        /// 1-based line number.
        line: usize,
    },
    /// A line does not start where the previous one ends.
    Gap {
        /// 1-based line number.
        line: usize,
        /// Where it should start.
        expected: Sectors,
        /// Where it starts.
        found: Sectors,
    },
    /// `start + length` overflows.
    Overflow {
        /// 1-based line number.
        line: usize,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Empty => f.write_str("empty table"),
            TableError::BadLine { line, what } => write!(f, "table line {line}: bad {what}"),
            TableError::Params { line, error } => write!(f, "table line {line}: {error}"),
            TableError::ZeroLength { line } => write!(f, "table line {line}: zero length"),
            TableError::Gap {
                line,
                expected,
                found,
            } => write!(
                f,
                "table line {line}: starts at sector {found}, expected {expected}"
            ),
            TableError::Overflow { line } => write!(f, "table line {line}: end sector overflows"),
        }
    }
}

impl fmt::Debug for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableError({self})")
    }
}

impl std::error::Error for TableError {}

/// A whole table: lines contiguous from sector 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    lines: Vec<TableLine>,
}

impl Table {
    /// A table of the given lines, checked: at least one line, the first at
    /// sector 0, each following line where the previous one ends, no zero
    /// lengths, no overflow.
    pub fn new(lines: Vec<TableLine>) -> Result<Table, TableError> {
        if lines.is_empty() {
            return Err(TableError::Empty);
        }
        let mut next = Sectors::ZERO;
        for (i, l) in lines.iter().enumerate() {
            let line = i + 1;
            if l.start != next {
                return Err(TableError::Gap {
                    line,
                    expected: next,
                    found: l.start,
                });
            }
            if l.length.is_zero() {
                return Err(TableError::ZeroLength { line });
            }
            next = l
                .start
                .checked_add(l.length)
                .ok_or(TableError::Overflow { line })?;
        }
        Ok(Table { lines })
    }

    /// A one-line table.
    pub fn single(length: Sectors, target: impl Into<Target>) -> Result<Table, TableError> {
        Table::new(vec![TableLine {
            start: Sectors::ZERO,
            length,
            target: target.into(),
        }])
    }

    /// Append a line at the end of the table.
    pub fn push(&mut self, length: Sectors, target: impl Into<Target>) -> Result<(), TableError> {
        let line = self.lines.len() + 1;
        if length.is_zero() {
            return Err(TableError::ZeroLength { line });
        }
        let start = self.length();
        start
            .checked_add(length)
            .ok_or(TableError::Overflow { line })?;
        self.lines.push(TableLine {
            start,
            length,
            target: target.into(),
        });
        Ok(())
    }

    /// The lines.
    pub fn lines(&self) -> &[TableLine] {
        &self.lines
    }

    /// The lines, by value.
    pub fn into_lines(self) -> Vec<TableLine> {
        self.lines
    }

    /// The total length (the end of the last line).
    pub fn length(&self) -> Sectors {
        self.lines
            .last()
            .and_then(|l| l.start.checked_add(l.length))
            .unwrap_or(Sectors::ZERO)
    }

    /// Parse `dmsetup table` text: one line per target; blank lines and
    /// lines starting with `#` are ignored.
    pub fn parse(text: &[u8]) -> Result<Table, TableError> {
        let mut lines = Vec::new();
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let trimmed_start = raw.iter().position(|&c| !is_space(c));
            let Some(s) = trimmed_start else { continue };
            if raw[s] == b'#' {
                continue;
            }
            let l = TableLine::parse_numbered(raw, i + 1)?;
            lines.push(l);
        }
        Table::new(lines)
    }

    /// The table as `dmsetup table` text, one line per target, each ending
    /// in a newline.
    pub fn to_text(&self) -> Secret {
        let mut o = Out::new();
        for l in &self.lines {
            let t = l.to_text();
            o.raw(t.as_bytes());
            o.raw(b"\n");
        }
        o.finish()
    }
}

// ---------------------------------------------------------------------------
// Status lines

/// The status of one target, typed where the target type is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetStatusLine {
    /// `linear` (reports nothing)
    Linear,
    /// `striped`
    Striped(StripedStatus),
    /// `zero` (reports nothing)
    Zero,
    /// `error` (reports nothing)
    Error,
    /// `crypt` (reports nothing)
    Crypt,
    /// `flakey` (reports nothing)
    Flakey,
    /// `delay`
    Delay(DelayStatus),
    /// `snapshot`
    Snapshot(SnapshotStatus),
    /// `snapshot-origin` (reports nothing)
    SnapshotOrigin,
    /// `snapshot-merge`
    SnapshotMerge(SnapshotStatus),
    /// `thin-pool`
    ThinPool(ThinPoolStatus),
    /// `thin`
    Thin(ThinStatus),
    /// `cache`
    Cache(CacheStatus),
    /// `writecache`
    Writecache(WritecacheStatus),
    /// `mirror`
    Mirror(MirrorStatus),
    /// `raid`
    Raid(RaidStatus),
    /// `verity`
    Verity(VerityStatus),
    /// `integrity`
    Integrity(IntegrityStatus),
    /// `multipath`
    Multipath(MultipathStatus),
    /// `vdo`
    Vdo(VdoStatus),
    /// Any other target type: its name and the raw status text.
    Other {
        /// The target type name.
        target_type: Vec<u8>,
        /// The status text.
        status: Vec<u8>,
    },
}

/// One line of a device's status, typed: where it is in the device and
/// what its target reports (the status counterpart of [`TableLine`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    /// First sector of the device this target maps.
    pub start: Sectors,
    /// Number of sectors it maps.
    pub length: Sectors,
    /// The target's status.
    pub status: TargetStatusLine,
}

/// Status text that must be empty (white space only).
fn empty_status(target: &'static str, status: &[u8]) -> Result<(), ParseError> {
    let toks = Tokens::split(target, status)?;
    toks.args(false).finish()
}

impl TargetStatusLine {
    /// Parse a status line of the given target type.
    pub fn parse(target_type: &[u8], status: &[u8]) -> Result<TargetStatusLine, ParseError> {
        Ok(match target_type {
            b"linear" => {
                empty_status("linear", status)?;
                TargetStatusLine::Linear
            }
            b"zero" => {
                empty_status("zero", status)?;
                TargetStatusLine::Zero
            }
            b"error" => {
                empty_status("error", status)?;
                TargetStatusLine::Error
            }
            b"crypt" => {
                empty_status("crypt", status)?;
                TargetStatusLine::Crypt
            }
            b"flakey" => {
                empty_status("flakey", status)?;
                TargetStatusLine::Flakey
            }
            b"snapshot-origin" => {
                empty_status("snapshot-origin", status)?;
                TargetStatusLine::SnapshotOrigin
            }
            b"striped" => TargetStatusLine::Striped(StripedStatus::parse(status)?),
            b"delay" => TargetStatusLine::Delay(DelayStatus::parse(status)?),
            b"snapshot" => TargetStatusLine::Snapshot(SnapshotStatus::parse(status)?),
            b"snapshot-merge" => {
                TargetStatusLine::SnapshotMerge(snapshot::parse_status("snapshot-merge", status)?)
            }
            b"thin-pool" => TargetStatusLine::ThinPool(ThinPoolStatus::parse(status)?),
            b"thin" => TargetStatusLine::Thin(ThinStatus::parse(status)?),
            b"cache" => TargetStatusLine::Cache(CacheStatus::parse(status)?),
            b"writecache" => TargetStatusLine::Writecache(WritecacheStatus::parse(status)?),
            b"mirror" => TargetStatusLine::Mirror(MirrorStatus::parse(status)?),
            b"raid" => TargetStatusLine::Raid(RaidStatus::parse(status)?),
            b"verity" => TargetStatusLine::Verity(VerityStatus::parse(status)?),
            b"integrity" => TargetStatusLine::Integrity(IntegrityStatus::parse(status)?),
            b"multipath" => TargetStatusLine::Multipath(MultipathStatus::parse(status)?),
            b"vdo" => TargetStatusLine::Vdo(VdoStatus::parse(status)?),
            _ => TargetStatusLine::Other {
                target_type: copy_bytes(target_type).map_err(|k| ParseError::whole("status", k))?,
                status: copy_bytes(status).map_err(|k| ParseError::whole("status", k))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_text_round_trips_unknown_types_with_backslashes() {
        // Found by fuzz/target_params: the type was printed escaped but is
        // parsed verbatim, so each print/parse cycle doubled its backslashes.
        let t = Table::parse(b"0 8 a\\b x\\\\y").expect("parses");
        let text = t.to_text();
        let again = Table::parse(text.as_bytes()).expect("printed table parses");
        assert_eq!(again, t);
        assert_eq!(again.to_text().as_bytes(), text.as_bytes());
    }

    use super::*;

    #[test]
    fn split_like_the_kernel() {
        let t = Tokens::split("x", b"  a\tb\\ c  d\\\\e \\").unwrap();
        let a: Vec<&[u8]> = t.toks.iter().map(Tok::bytes).collect();
        assert_eq!(a, [&b"a"[..], b"b c", b"d\\e", b"\\"]);
        assert!(Tokens::split("x", b"").unwrap().toks.is_empty());
        assert!(Tokens::split("x", b" \n\t ").unwrap().toks.is_empty());
    }

    #[test]
    fn out_quotes_and_grows() {
        let mut o = Out::new();
        o.arg(b"a b\\c");
        o.num(18446744073709551615u64);
        o.word("w");
        o.num(0u64);
        for _ in 0..100 {
            o.word("xxxxxxxxxx");
        }
        let s = o.finish();
        assert!(s
            .as_bytes()
            .starts_with(b"a\\ b\\\\c 18446744073709551615 w 0 xxxxxxxxxx"));
        let t = Tokens::split("x", s.as_bytes()).unwrap();
        assert_eq!(t.toks[0].bytes(), b"a b\\c");
        assert_eq!(t.toks.len(), 104);
    }

    #[test]
    fn devref() {
        assert_eq!(
            DevRef::parse(b"7:0"),
            Some(DevRef::Number { major: 7, minor: 0 })
        );
        assert_eq!(
            DevRef::parse(b"4095:1048575"),
            DevRef::number(4095, 1048575)
        );
        assert_eq!(DevRef::parse(b"4096:0"), None);
        assert_eq!(DevRef::parse(b"1:99999999999999999999"), None);
        assert_eq!(DevRef::parse(b""), None);
        assert_eq!(DevRef::parse(b"/dev/loop0"), DevRef::path("/dev/loop0"));
        assert_eq!(DevRef::parse(b"7:"), DevRef::path("7:"));
        assert_eq!(DevRef::parse(b"a:1"), DevRef::path("a:1"));
        assert_eq!(DevRef::number(7, 1).unwrap().to_string(), "7:1");
        assert_eq!(DevRef::path("/x").unwrap().to_bytes(), b"/x");
        assert_eq!(DevRef::path(""), None);
        assert_eq!(
            format!("{:?}", DevRef::number(1, 2).unwrap()),
            "Number(1:2)"
        );
    }

    #[test]
    fn devref_from_node() {
        use crate::ErrorKind;
        // A character device, a regular file, a directory: not block devices.
        for p in ["/dev/null", "/proc/self/status", "/"] {
            let e = DevRef::from_node(p).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{p}");
            assert_eq!(e.errno(), Some(libc::ENOTBLK));
            assert_eq!(e.to_string(), format!("{p} is not a block device."));
        }
        let e = DevRef::from_node("/nonexistent/node").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert!(e
            .to_string()
            .starts_with("/nonexistent/node: stat failed: "));
        // Any block device node the host has (none in some containers).
        let block = std::fs::read_dir("/dev").ok().and_then(|d| {
            d.filter_map(|e| e.ok()).find(|e| {
                use std::os::unix::fs::FileTypeExt;
                e.file_type().is_ok_and(|t| t.is_block_device())
            })
        });
        match block {
            Some(e) => {
                use std::os::unix::fs::MetadataExt;
                let rdev = std::fs::metadata(e.path()).unwrap().rdev();
                let d = DevRef::from_node(e.path()).unwrap();
                assert_eq!(
                    d,
                    DevRef::number(libc::major(rdev), libc::minor(rdev)).unwrap()
                );
            }
            None => eprintln!("devref_from_node: no block device under /dev: that part skipped"),
        }
    }

    #[test]
    fn error_display() {
        let e = ParseError::new(
            "crypt",
            Some(3),
            Some("iv_offset"),
            ParseErrorKind::ExpectedNumber,
        );
        assert_eq!(
            e.to_string(),
            "crypt: argument 3 (iv_offset): expected a number"
        );
        assert_eq!(e.target_type(), "crypt");
        assert_eq!(e.index(), Some(3));
        assert_eq!(e.argument(), Some("iv_offset"));
        assert_eq!(*e.kind(), ParseErrorKind::ExpectedNumber);
        let e = ParseError::whole("x", ParseErrorKind::TooMany);
        assert_eq!(e.to_string(), "x: unexpected extra argument");
    }

    #[test]
    fn args_readers() {
        let t = Tokens::split("t", b"5 x 99999999999999999999 4294967296 - 7:1 2 a b").unwrap();
        let mut a = t.args(false);
        assert_eq!(a.u32("n").unwrap(), 5);
        assert_eq!(a.u32("n").unwrap_err().kind, ParseErrorKind::ExpectedNumber);
        assert_eq!(a.u64("n").unwrap_err().kind, ParseErrorKind::OutOfRange);
        assert_eq!(a.u32("n").unwrap_err().kind, ParseErrorKind::OutOfRange);
        assert_eq!(a.opt_dev("d").unwrap(), None);
        assert_eq!(a.opt_dev("d").unwrap(), DevRef::number(7, 1));
        assert_eq!(a.count("c").unwrap(), 2);
        assert!(a.finish().is_err());
        let mut g = a.group(2);
        assert_eq!(g.bytes("x").unwrap(), b"a");
        assert_eq!(g.bytes("x").unwrap(), b"b");
        assert!(g.next("x").is_err());
        assert!(a.finish().is_ok());
        let e = a.next("what").unwrap_err();
        assert_eq!(e.to_string(), "t: argument 10 (what): missing");
        let t = Tokens::split("t", b"3 a").unwrap();
        assert_eq!(
            t.args(false).count("c").unwrap_err().kind,
            ParseErrorKind::CountTooLarge
        );
    }

    #[test]
    fn table_checks() {
        let lin = |s: u64, l: u64| TableLine {
            start: Sectors(s),
            length: Sectors(l),
            target: Target::Zero,
        };
        assert_eq!(Table::new(vec![]), Err(TableError::Empty));
        assert!(Table::new(vec![lin(0, 10), lin(10, 5)]).is_ok());
        assert_eq!(
            Table::new(vec![lin(0, 10), lin(11, 5)]),
            Err(TableError::Gap {
                line: 2,
                expected: Sectors(10),
                found: Sectors(11)
            })
        );
        assert_eq!(
            Table::new(vec![lin(1, 10)]).unwrap_err().to_string(),
            "table line 1: starts at sector 1, expected 0"
        );
        assert_eq!(
            Table::new(vec![lin(0, 0)]),
            Err(TableError::ZeroLength { line: 1 })
        );
        assert_eq!(
            Table::new(vec![lin(0, u64::MAX), lin(u64::MAX, 1)]),
            Err(TableError::Overflow { line: 2 })
        );
        let mut t = Table::single(Sectors(8), Target::Error).unwrap();
        t.push(Sectors(8), Target::Zero).unwrap();
        assert_eq!(t.length(), Sectors(16));
        assert_eq!(t.to_text().as_bytes(), b"0 8 error \n8 8 zero \n");
        assert!(t.push(Sectors(0), Target::Zero).is_err());
        assert!(t.push(Sectors(u64::MAX), Target::Zero).is_err());
        assert_eq!(t.lines().len(), 2);
        assert_eq!(t.clone().into_lines().len(), 2);
    }

    #[test]
    fn table_parse() {
        let t = Table::parse(b"# comment\n0 8 zero\n\n8 8 error\n").unwrap();
        assert_eq!(t.lines().len(), 2);
        assert_eq!(t.lines()[1].target, Target::Error);
        assert!(matches!(
            Table::parse(b"0 x zero"),
            Err(TableError::BadLine {
                line: 1,
                what: "length"
            })
        ));
        assert!(matches!(
            Table::parse(b"0 8"),
            Err(TableError::BadLine { line: 1, .. })
        ));
        assert!(matches!(
            Table::parse(b"0 8 zero x"),
            Err(TableError::Params { line: 1, .. })
        ));
        assert!(matches!(Table::parse(b""), Err(TableError::Empty)));
        let o = Table::parse(b"0 8 foo a  b").unwrap();
        match &o.lines()[0].target {
            Target::Other {
                target_type,
                params,
            } => {
                assert_eq!(target_type, b"foo");
                assert_eq!(params.as_bytes(), b"a  b");
            }
            t => panic!("{t:?}"),
        }
        assert_eq!(o.to_text().as_bytes(), b"0 8 foo a  b\n");
    }

    /// Token soup and mutated lines: no parser may panic, and whatever
    /// parses must print back to something that parses to the same value.
    #[test]
    fn no_panics_and_stable_round_trips() {
        const TYPES: [&[u8]; 21] = [
            b"linear",
            b"striped",
            b"zero",
            b"error",
            b"crypt",
            b"flakey",
            b"delay",
            b"snapshot",
            b"snapshot-origin",
            b"snapshot-merge",
            b"thin-pool",
            b"thin",
            b"cache",
            b"writecache",
            b"mirror",
            b"raid",
            b"verity",
            b"integrity",
            b"multipath",
            b"vdo",
            b"other",
        ];
        const WORDS: &[&str] = &[
            "0",
            "1",
            "2",
            "3",
            "4",
            "8",
            "16",
            "64",
            "128",
            "512",
            "4096",
            "18446744073709551615",
            "18446744073709551616",
            "4294967296",
            "-1",
            "+2",
            "-",
            "7:0",
            "7:1",
            "/dev/loop0",
            "a\\ b",
            "\\",
            "x",
            "P",
            "PO",
            "N",
            "J",
            "B",
            "D",
            "R",
            "I",
            "V4",
            "V1",
            "s",
            "p",
            "r",
            "w",
            "core",
            "disk",
            "userspace",
            "sync",
            "nosync",
            "handle_errors",
            "keep_log",
            "drop_writes",
            "error_writes",
            "error_reads",
            "corrupt_bio_byte",
            "random_read_corrupt",
            "skip_block_zeroing",
            "read_only",
            "writeback",
            "metadata2",
            "smq",
            "cleaner",
            "migration_threshold",
            "raid1",
            "raid5_ls",
            "raid10",
            "rebuild",
            "delta_disks",
            "raid10_format",
            "far",
            "journal_dev",
            "journal_mode",
            "region_size",
            "sha256",
            "00112233",
            "abc",
            "aes-xts-plain64",
            "capi:gcm(aes)-random",
            "aes:3-cbc",
            ":32:logon:d",
            "allow_discards",
            "sector_size:4096",
            "integrity:28:aead",
            "internal_hash:crc32c",
            "internal_hash:hmac(sha256):0011",
            "journal_crypt:",
            "meta_device:7:5",
            "block_size:4096",
            "round-robin",
            "queue_if_no_path",
            "queue_mode",
            "bio",
            "pg_init_retries",
            "use_fec_from_device",
            "fec_roots",
            "ignore_corruption",
            "start_sector",
            "fua",
            "compression",
            "on",
            "off",
            "maxDiscard",
            "1/2",
            "3/x",
            "A",
            "AA",
            "aD",
            "Fail",
            "Error",
            "idle",
            "Invalid",
            "Merge",
            "failed",
            "rw",
            "ro",
            "needs_check",
            "discard_passdown",
            "queue_if_no_space",
            "online",
            "normal",
            "E",
            "F",
        ];
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for _ in 0..20000 {
            let len = rnd(24);
            let mut l = Vec::new();
            for i in 0..len {
                if i > 0 {
                    l.push(b' ');
                }
                l.extend_from_slice(WORDS[rnd(WORDS.len())].as_bytes());
            }
            lines.push(l);
        }
        // Byte-level mutations of valid lines.
        let valid: [&[u8]; 8] = [
            b"aes-xts-plain64 000102 0 7:0 0 2 allow_discards sector_size:4096",
            b"7:1 7:2 7:3 64 3 metadata2 writeback no_discard_passdown smq 2 migration_threshold 4096",
            b"raid1 3 0 region_size 1024 2 7:16 7:8 7:17 7:9",
            b"0 0 2 1 round-robin 0 2 1 7:0 1 7:1 1 queue-length 0 1 1 7:2 1 ",
            b"7:3 0 32 J 2 internal_hash:hmac(sha256):0011 fix_hmac",
            b"1 7:0 7:1 4096 4096 4096 1 sha256 1234 - 1 ignore_zero_blocks",
            b"core 2 1024 nosync 2 7:0 0 7:1 0 1 handle_errors",
            b"2 7:0 7:1 48/128 1 AA 3 disk 7:2 A",
        ];
        for v in valid {
            for _ in 0..2000 {
                let mut l = v.to_vec();
                for _ in 0..1 + rnd(3) {
                    let i = rnd(l.len());
                    match rnd(3) {
                        0 => {
                            let set = b" :/-0123456789aAxX\\";
                            l[i] = set[rnd(set.len())];
                        }
                        1 => {
                            l.remove(i);
                        }
                        _ => l.insert(i, b"0 :-"[rnd(4)]),
                    }
                }
                lines.push(l);
            }
        }
        let mut parsed = 0;
        for l in &lines {
            for ty in TYPES {
                if let Ok(t) = Target::parse(ty, l) {
                    parsed += 1;
                    let back = t.to_params();
                    let again = Target::parse(ty, back.as_bytes()).unwrap_or_else(|e| {
                        panic!(
                            "{}: {e}: {:?}",
                            String::from_utf8_lossy(ty),
                            String::from_utf8_lossy(back.as_bytes())
                        )
                    });
                    assert_eq!(again, t, "{}", String::from_utf8_lossy(l));
                }
                let _ = TargetStatusLine::parse(ty, l);
            }
            let _ = Table::parse(l);
        }
        eprintln!("{parsed} random lines parsed");
        assert!(parsed > 100, "{parsed}");
    }

    #[test]
    fn status_dispatch() {
        assert_eq!(
            TargetStatusLine::parse(b"linear", b"").unwrap(),
            TargetStatusLine::Linear
        );
        assert_eq!(
            TargetStatusLine::parse(b"zero", b" ").unwrap(),
            TargetStatusLine::Zero
        );
        assert!(TargetStatusLine::parse(b"crypt", b"x").is_err());
        assert_eq!(
            TargetStatusLine::parse(b"foo", b"1 2").unwrap(),
            TargetStatusLine::Other {
                target_type: b"foo".to_vec(),
                status: b"1 2".to_vec()
            }
        );
    }
}
