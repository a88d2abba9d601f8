//! The typed Rust API: one method per device-mapper operation, over the one
//! task engine ([`Task`]).
//!
//! ```no_run
//! use devmapper::{DevId, DeviceMapper, DmName, RemoveOptions, Target};
//! let dm = DeviceMapper::new()?;
//! let name = DmName::new("demo")?;
//! dm.create_with_table(&name, None, &[Target::new(0, 2048, "zero", "")], false)?;
//! for t in dm.table(&DevId::Name(name.clone()), false)? {
//!     println!("{t:?}");
//! }
//! dm.remove(&DevId::Name(name), RemoveOptions::default())?;
//! # Ok::<(), devmapper::Error>(())
//! ```
//!
//! Every call builds a task, runs it in the handle's [`Context`] and turns
//! the reply into typed values; failures are [`Error`]s with the operation,
//! the device and the errno. When udev runs (and the kernel supports
//! cookies), operations that make udev act — resume, remove, rename —
//! wait for udev to finish, so `/dev/mapper/<name>` exists (or is gone) when
//! they return; without udev the library makes the nodes itself, as
//! libdevmapper does. Nothing is printed unless the context has a logger.

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::abi::{self, DmFlags, DmIoctl};
use crate::kernel::codec;
use crate::kernel::control::Reply;
use crate::names::{DmName, DmUuid};
use crate::secret::{self, Secret};
use crate::targets::messages::TargetMessage;
use crate::targets::{DevRef, StatusLine};
use crate::task::{Task, TaskType};
use crate::udev::UdevFlags;
use crate::units::Sectors;
use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

/// Which device a call is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DevId {
    /// By name.
    Name(DmName),
    /// By uuid.
    Uuid(DmUuid),
    /// By device number (major, minor).
    Dev(u32, u32),
}

impl DevId {
    /// By name (checked).
    pub fn name(n: impl Into<Vec<u8>>) -> Result<DevId> {
        DmName::new(n).map(DevId::Name)
    }

    /// By uuid (checked).
    pub fn uuid(u: impl Into<Vec<u8>>) -> Result<DevId> {
        DmUuid::new(u).map(DevId::Uuid)
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            DevId::Name(n) => n.as_bytes().to_vec(),
            DevId::Uuid(u) => u.as_bytes().to_vec(),
            DevId::Dev(a, b) => format!("{a}:{b}").into_bytes(),
        }
    }
}

impl From<DmName> for DevId {
    fn from(n: DmName) -> DevId {
        DevId::Name(n)
    }
}

impl From<DmUuid> for DevId {
    fn from(u: DmUuid) -> DevId {
        DevId::Uuid(u)
    }
}

impl fmt::Display for DevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevId::Name(n) => write!(f, "{n}"),
            DevId::Uuid(u) => write!(f, "uuid {u}"),
            DevId::Dev(a, b) => write!(f, "{a}:{b}"),
        }
    }
}

/// A device's state, from any device ioctl.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Name (bytes, unmangled).
    pub name: Vec<u8>,
    /// Uuid (bytes, unmangled; empty when none).
    pub uuid: Vec<u8>,
    /// Device major.
    pub major: u32,
    /// Device minor.
    pub minor: u32,
    /// Openers.
    pub open_count: i32,
    /// Event counter.
    pub event_nr: u32,
    /// Targets in the queried table.
    pub target_count: u32,
    /// Suspended.
    pub suspended: bool,
    /// Read-only.
    pub read_only: bool,
    /// Has a live table.
    pub live_table: bool,
    /// Has an inactive table.
    pub inactive_table: bool,
    /// Marked for deferred removal.
    pub deferred_remove: bool,
    /// Suspended internally by the kernel.
    pub internal_suspend: bool,
}

/// A device's state without its name and uuid: what `dm_task_get_info`
/// gives, from [`DeviceMapper::state`], with no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// Device major.
    pub major: u32,
    /// Device minor.
    pub minor: u32,
    /// Openers.
    pub open_count: i32,
    /// Event counter.
    pub event_nr: u32,
    /// Targets in the queried table.
    pub target_count: u32,
    /// Suspended.
    pub suspended: bool,
    /// Read-only.
    pub read_only: bool,
    /// Has a live table.
    pub live_table: bool,
    /// Has an inactive table.
    pub inactive_table: bool,
    /// Marked for deferred removal.
    pub deferred_remove: bool,
    /// Suspended internally by the kernel.
    pub internal_suspend: bool,
}

impl DeviceState {
    fn from_header(h: &DmIoctl) -> DeviceState {
        let f = DmFlags::from_bits_retain(h.flags);
        let (major, minor) = abi::decode_dev(h.dev);
        DeviceState {
            major,
            minor,
            open_count: h.open_count,
            event_nr: h.event_nr,
            target_count: h.target_count,
            suspended: f.contains(DmFlags::SUSPEND),
            read_only: f.contains(DmFlags::READONLY),
            live_table: f.contains(DmFlags::ACTIVE_PRESENT),
            inactive_table: f.contains(DmFlags::INACTIVE_PRESENT),
            deferred_remove: f.contains(DmFlags::DEFERRED_REMOVE),
            internal_suspend: f.contains(DmFlags::INTERNAL_SUSPEND),
        }
    }
}

impl DeviceInfo {
    fn from_header(h: &DmIoctl) -> DeviceInfo {
        let s = DeviceState::from_header(h);
        DeviceInfo {
            name: codec::fixed_str(&h.name).to_vec(),
            uuid: codec::fixed_str(&h.uuid).to_vec(),
            major: s.major,
            minor: s.minor,
            open_count: s.open_count,
            event_nr: s.event_nr,
            target_count: s.target_count,
            suspended: s.suspended,
            read_only: s.read_only,
            live_table: s.live_table,
            inactive_table: s.inactive_table,
            deferred_remove: s.deferred_remove,
            internal_suspend: s.internal_suspend,
        }
    }

    /// The state part (no name or uuid).
    pub fn state(&self) -> DeviceState {
        DeviceState {
            major: self.major,
            minor: self.minor,
            open_count: self.open_count,
            event_nr: self.event_nr,
            target_count: self.target_count,
            suspended: self.suspended,
            read_only: self.read_only,
            live_table: self.live_table,
            inactive_table: self.inactive_table,
            deferred_remove: self.deferred_remove,
            internal_suspend: self.internal_suspend,
        }
    }

    /// A device's state from libdevmapper's `dm_info` fields (what the
    /// tree and the C library keep), with its name and uuid.
    pub(crate) fn from_task_info(i: &crate::task::Info, name: &[u8], uuid: &[u8]) -> DeviceInfo {
        DeviceInfo {
            name: name.to_vec(),
            uuid: uuid.to_vec(),
            major: i.major,
            minor: i.minor,
            open_count: i.open_count,
            event_nr: i.event_nr,
            target_count: u32::try_from(i.target_count).unwrap_or(0),
            suspended: i.suspended != 0,
            read_only: i.read_only != 0,
            live_table: i.live_table != 0,
            inactive_table: i.inactive_table != 0,
            deferred_remove: i.deferred_remove != 0,
            internal_suspend: i.internal_suspend != 0,
        }
    }

    /// The name as text (lossy where it is not UTF-8).
    pub fn name_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    /// The device as a device reference in another table's parameters
    /// (`major:minor`), to stack devices.
    pub fn dev_ref(&self) -> Result<DevRef> {
        DevRef::number(self.major, self.minor).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid device number {}:{}.",
                self.major, self.minor
            ))
        })
    }
}

/// One entry of [`DeviceMapper::list_devices`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedDevice {
    /// Name (bytes, unmangled).
    pub name: Vec<u8>,
    /// Device major.
    pub major: u32,
    /// Device minor.
    pub minor: u32,
    /// Kernels with interface 4.37+.
    pub event_nr: Option<u32>,
    /// Kernels with interface 4.45+; `Some(empty)` when the device has none.
    pub uuid: Option<Vec<u8>>,
}

/// Target types whose parameters carry key material.
fn carries_keys(target_type: &str) -> bool {
    matches!(target_type, "crypt" | "integrity")
}

/// A table line: `start length type params`. The parameters are a
/// [`Secret`]: wiped when dropped, and never printed for target types that
/// carry keys (crypt, integrity).
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type name.
    pub target_type: String,
    /// Parameters.
    pub params: Secret,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if carries_keys(&self.target_type) {
            write!(
                f,
                "{} {} {} <hidden>",
                self.start, self.length, self.target_type
            )
        } else {
            write!(
                f,
                "{} {} {} {}",
                self.start,
                self.length,
                self.target_type,
                String::from_utf8_lossy(self.params.as_bytes())
            )
        }
    }
}

impl Target {
    /// A table line.
    pub fn new(
        start: u64,
        length: u64,
        target_type: impl Into<String>,
        params: impl AsRef<[u8]>,
    ) -> Target {
        Target {
            start,
            length,
            target_type: target_type.into(),
            params: Secret::from(params.as_ref()),
        }
    }

    /// Parse a `dmsetup`-style table line (`start length type params`). The
    /// error never quotes the line (it may hold a key).
    pub fn parse(line: &[u8]) -> Result<Target> {
        let bad = |what: &str| Error::invalid(format!("Invalid table line: {what}."));
        let mut rest = trim(line);
        let mut word = || -> Option<&[u8]> {
            let end = rest
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            let (w, r) = rest.split_at(end);
            rest = trim(r);
            (!w.is_empty()).then_some(w)
        };
        let num = |w: Option<&[u8]>| {
            w.and_then(|w| std::str::from_utf8(w).ok())
                .and_then(|s| s.parse::<u64>().ok())
        };
        let start = num(word()).ok_or_else(|| bad("the start sector is not a number"))?;
        let length = num(word()).ok_or_else(|| bad("the length is not a number"))?;
        let ty = word().ok_or_else(|| bad("the target type is missing"))?;
        let ty = std::str::from_utf8(ty)
            .map_err(|_| bad("the target type is not text"))?
            .to_string();
        Ok(Target {
            start,
            length,
            target_type: ty,
            params: Secret::from(rest),
        })
    }
}

impl Target {
    /// The typed form of this line ([`targets::TableLine`](crate::targets::TableLine)).
    pub fn typed(&self) -> Result<crate::targets::TableLine> {
        let target =
            crate::targets::Target::parse(self.target_type.as_bytes(), self.params.as_bytes())?;
        Ok(crate::targets::TableLine {
            start: crate::units::Sectors(self.start),
            length: crate::units::Sectors(self.length),
            target,
        })
    }
}

impl From<&crate::targets::TableLine> for Target {
    fn from(l: &crate::targets::TableLine) -> Target {
        Target {
            start: l.start.0,
            length: l.length.0,
            target_type: String::from_utf8_lossy(l.target.target_type()).into_owned(),
            params: l.target.to_params(),
        }
    }
}

/// A device-mapper table, raw or typed: what the table-loading methods take.
///
/// Implemented for slices, arrays and vectors of raw [`Target`] lines and
/// for a typed [`targets::Table`](crate::targets::Table).
pub trait TableSource {
    /// The lines, raw (parameters in [`Secret`]s).
    fn lines(&self) -> Vec<Target>;
}

impl TableSource for [Target] {
    fn lines(&self) -> Vec<Target> {
        self.to_vec()
    }
}

impl<const N: usize> TableSource for [Target; N] {
    fn lines(&self) -> Vec<Target> {
        self.to_vec()
    }
}

impl TableSource for Vec<Target> {
    fn lines(&self) -> Vec<Target> {
        self.clone()
    }
}

impl TableSource for crate::targets::Table {
    fn lines(&self) -> Vec<Target> {
        self.lines().iter().map(Target::from).collect()
    }
}

impl TargetStatus {
    /// The typed form of this status line.
    pub fn typed(&self) -> Result<StatusLine> {
        Ok(StatusLine {
            start: Sectors(self.start),
            length: Sectors(self.length),
            status: crate::targets::TargetStatusLine::parse(
                self.target_type.as_bytes(),
                &self.status,
            )?,
        })
    }

    /// The typed status of this line as `T`, or an error when `T` does not
    /// describe this line's target type.
    pub fn typed_as<T: crate::targets::TargetStatus>(&self) -> Result<T> {
        if !T::accepts(self.target_type.as_bytes()) {
            return Err(Error::invalid(format!(
                "Expected a {} target, found {}.",
                T::TARGET_TYPE,
                self.target_type
            )));
        }
        Ok(T::parse_for(self.target_type.as_bytes(), &self.status)?)
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &b[s..e.max(s)]
}

/// A target's status line from [`DeviceMapper::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetStatus {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type name.
    pub target_type: String,
    /// The status text.
    pub status: Vec<u8>,
}

/// A loaded target type and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetVersion {
    /// Target type name.
    pub name: String,
    /// Version.
    pub version: [u32; 3],
}

/// A table read back with [`DeviceMapper::table_reply`], kept as the
/// kernel's reply: its lines are borrowed from the reply buffer
/// ([`TargetRef`]), so walking a table of any size costs no allocation and
/// no copy per target. The buffer may hold keys (crypt, integrity): it is
/// wiped when the reply is dropped, and neither this nor a [`TargetRef`]
/// prints parameters in `Debug`.
///
/// ```no_run
/// # use devmapper::{DevId, DeviceMapper};
/// # let dm = DeviceMapper::new()?;
/// let table = dm.table_reply(&DevId::name("vol0")?, false)?;
/// for t in &table {
///     println!("{} {} {}", t.start, t.length, String::from_utf8_lossy(t.target_type));
/// }
/// # Ok::<(), devmapper::Error>(())
/// ```
pub struct TableReply {
    // The reply buffer alone (a box): the reply moves for free.
    reply: Reply,
}

/// A status read back with [`DeviceMapper::status_reply`], kept as the
/// kernel's reply: its lines are borrowed from the reply buffer
/// ([`TargetStatusRef`]), no allocation or copy per target.
pub struct StatusReply {
    reply: Reply,
}

/// One line of a [`TableReply`]: `start length type params`, borrowed from
/// the reply. `Debug` never shows the parameters (they may hold a key);
/// [`TargetRef::to_target`] makes the owned [`Target`] that
/// [`DeviceMapper::table`] returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TargetRef<'a> {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type name (bytes, no NUL).
    pub target_type: &'a [u8],
    /// Parameters (bytes, no NUL; may hold key material).
    pub params: &'a [u8],
}

impl fmt::Debug for TargetRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} <params hidden>",
            self.start,
            self.length,
            String::from_utf8_lossy(self.target_type)
        )
    }
}

impl TargetRef<'_> {
    /// The owned line: the parameters copied into a [`Secret`], the type
    /// as text (lossy where it is not UTF-8), as [`DeviceMapper::table`]
    /// returns them.
    pub fn to_target(&self) -> Result<Target> {
        let params = Secret::try_from_slice(self.params)
            .ok_or_else(|| Error::no_memory(self.params.len()))?;
        Ok(Target {
            start: self.start,
            length: self.length,
            target_type: String::from_utf8_lossy(self.target_type).into_owned(),
            params,
        })
    }
}

/// One line of a [`StatusReply`]: `start length type status`, borrowed
/// from the reply. [`TargetStatusRef::to_status`] makes the owned
/// [`TargetStatus`] that [`DeviceMapper::status`] returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TargetStatusRef<'a> {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type name (bytes, no NUL).
    pub target_type: &'a [u8],
    /// The status text (bytes, no NUL).
    pub status: &'a [u8],
}

impl fmt::Debug for TargetStatusRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.start,
            self.length,
            String::from_utf8_lossy(self.target_type),
            String::from_utf8_lossy(self.status)
        )
    }
}

impl TargetStatusRef<'_> {
    /// The owned line (the type as text, lossy where it is not UTF-8), as
    /// [`DeviceMapper::status`] returns it.
    pub fn to_status(&self) -> TargetStatus {
        TargetStatus {
            start: self.start,
            length: self.length,
            target_type: String::from_utf8_lossy(self.target_type).into_owned(),
            status: self.status.to_vec(),
        }
    }
}

/// The lines of a [`TableReply`], in table order.
#[derive(Clone, Debug)]
pub struct TableIter<'a> {
    walk: SpecWalk<'a>,
}

/// The lines of a [`StatusReply`] (or of a wait-event reply), in table order.
#[derive(Clone, Debug)]
pub struct StatusIter<'a> {
    walk: SpecWalk<'a>,
}

/// A walk over the target specs of a STATUS/TABLE/WAITEVENT reply. Only
/// replies of such a run are walked, and the run checked every spec whole
/// (`codec::check_specs`: fixed part inside the payload, type and
/// parameters NUL-terminated inside it, next offsets advancing), and the
/// reply cannot change while it is borrowed: each step reads the fixed
/// part and finds the two strings' ends, nothing more. A record that does
/// not read (which a checked reply cannot have) ends the walk.
#[derive(Clone, Debug)]
struct SpecWalk<'a> {
    payload: &'a [u8],
    /// `payload` and the buffer's bytes to the next multiple of 8
    /// (`Reply::payload_to_word_end`): the words the fast step reads.
    words: &'a [u8],
    /// Where the next spec starts (a spec's `next` is 32 bits: an offset
    /// plus a spec's size cannot overflow).
    off: u32,
    left: usize,
}

impl<'a> SpecWalk<'a> {
    fn over(reply: Option<&'a Reply>) -> SpecWalk<'a> {
        match reply {
            Some(r) => SpecWalk {
                payload: r.payload().unwrap_or_default(),
                words: r.payload_to_word_end(),
                off: 0,
                left: r.header().target_count as usize,
            },
            None => SpecWalk {
                payload: &[],
                words: &[],
                off: 0,
                left: 0,
            },
        }
    }

    /// `(start, length, type, params)` of the next spec.
    #[inline]
    fn step(&mut self) -> Option<(u64, u64, &'a [u8], &'a [u8])> {
        if self.left == 0 {
            return None;
        }
        // The usual spec: its type and its parameters end in their first
        // word (`linear`, `zero`, `8:0 0`, …): one bounds check, both
        // lengths from a word each, no scan. The run checked both strings
        // NUL-terminated inside the payload (the type in its field), so the
        // first NUL of a word is theirs even where the word runs past the
        // payload's end into the buffer (the last spec's parameters).
        let off = self.off as usize;
        if let Some(rec) = self
            .words
            .get(off..off + 48)
            .and_then(|r| r.first_chunk::<48>())
        {
            let zt = codec::zero_bytes(u64_le(&rec[24..32]));
            if zt != 0 {
                // The lowest flagged byte of a word is its string's NUL.
                let tl = (zt.trailing_zeros() / 8) as usize;
                let zp = codec::zero_bytes(u64_le(&rec[40..48]));
                let params = if zp != 0 {
                    Some(&rec[40..40 + (zp.trailing_zeros() / 8) as usize])
                } else {
                    // Parameters of 8 to 15 bytes (`253:0 1024`).
                    self.words
                        .get(off + 40..)
                        .and_then(|r| r.first_chunk::<16>())
                        .and_then(|r| {
                            let z = codec::zero_bytes(u64_le(&r[8..16]));
                            (z != 0).then(|| &r[..8 + (z.trailing_zeros() / 8) as usize])
                        })
                };
                if let Some(params) = params {
                    let start = u64::from_ne_bytes(*rec.first_chunk::<8>()?);
                    let length = u64::from_ne_bytes(*rec[8..].first_chunk::<8>()?);
                    let next = u32::from_ne_bytes(*rec[20..].first_chunk::<4>()?);
                    self.left -= 1;
                    self.off = next;
                    return Some((start, length, &rec[24..24 + tl], params));
                }
            }
        }
        match scan_spec(self.payload, off) {
            Some((line, next)) => {
                self.left -= 1;
                self.off = next;
                Some(line)
            }
            None => {
                self.left = 0;
                None
            }
        }
    }
}

/// A spec [`SpecWalk::step`] does not read from words: `(start, length,
/// type, params, next)` of the spec at `off` of a checked payload, its
/// strings scanned. Out of line, and taking values: the walk's state stays
/// in registers.
#[inline(never)]
fn scan_spec(p: &[u8], off: usize) -> Option<(SpecLine<'_>, u32)> {
    let (start, length, next) = codec::spec_at(p, off)?;
    let next = u32::try_from(next).ok()?;
    let ty = codec::fixed_str(p.get(off + 24..off + 40)?);
    let rest = p.get(off + 40..)?;
    let params = rest.get(..codec::cstr_len(rest)?)?;
    Some(((start, length, ty, params), next))
}

/// `(start, length, type, params)` of a spec, the strings borrowed.
type SpecLine<'a> = (u64, u64, &'a [u8], &'a [u8]);

/// The little-endian word of 8 bytes (`b.len() == 8`).
#[inline(always)]
fn u64_le(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

impl<'a> Iterator for TableIter<'a> {
    type Item = TargetRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<TargetRef<'a>> {
        self.walk
            .step()
            .map(|(start, length, target_type, params)| TargetRef {
                start,
                length,
                target_type,
                params,
            })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.walk.left, Some(self.walk.left))
    }
}

impl ExactSizeIterator for TableIter<'_> {}

impl<'a> Iterator for StatusIter<'a> {
    type Item = TargetStatusRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<TargetStatusRef<'a>> {
        self.walk
            .step()
            .map(|(start, length, target_type, status)| TargetStatusRef {
                start,
                length,
                target_type,
                status,
            })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.walk.left, Some(self.walk.left))
    }
}

impl ExactSizeIterator for StatusIter<'_> {}

impl<'a> StatusIter<'a> {
    fn over(reply: Option<&'a Reply>) -> StatusIter<'a> {
        StatusIter {
            walk: SpecWalk::over(reply),
        }
    }
}

impl TableReply {
    /// The lines, in table order, borrowed from the reply.
    pub fn iter(&self) -> TableIter<'_> {
        TableIter {
            walk: SpecWalk::over(Some(&self.reply)),
        }
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.reply.header().target_count as usize
    }

    /// Whether the table has no line.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device's state, from the reply's header.
    pub fn info(&self) -> DeviceInfo {
        DeviceInfo::from_header(self.reply.header())
    }
}

impl<'a> IntoIterator for &'a TableReply {
    type Item = TargetRef<'a>;
    type IntoIter = TableIter<'a>;

    fn into_iter(self) -> TableIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for TableReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The lines without their parameters (TargetRef's Debug).
        f.debug_list().entries(self.iter()).finish()
    }
}

impl StatusReply {
    /// The lines, in table order, borrowed from the reply.
    pub fn iter(&self) -> StatusIter<'_> {
        StatusIter::over(Some(&self.reply))
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.reply.header().target_count as usize
    }

    /// Whether the status has no line.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device's state, from the reply's header.
    pub fn info(&self) -> DeviceInfo {
        DeviceInfo::from_header(self.reply.header())
    }
}

impl<'a> IntoIterator for &'a StatusReply {
    type Item = TargetStatusRef<'a>;
    type IntoIter = StatusIter<'a>;

    fn into_iter(self) -> StatusIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for StatusReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The device list read with [`DeviceMapper::list_reply`], kept as the
/// kernel's reply: its entries are borrowed from the reply buffer
/// ([`ListedDeviceRef`]), no allocation or copy per device. Names and
/// uuids are unmangled, as [`DeviceMapper::list_devices`] gives them.
///
/// ```no_run
/// # use devmapper::DeviceMapper;
/// # let dm = DeviceMapper::new()?;
/// for d in &dm.list_reply()? {
///     println!("{} ({}:{})", String::from_utf8_lossy(d.name()), d.major(), d.minor());
/// }
/// # Ok::<(), devmapper::Error>(())
/// ```
pub struct ListReply {
    reply: Reply,
}

/// One entry of a [`ListReply`]: a record of the kernel's reply, read
/// only when asked (walking a list costs what following the C API's
/// `next` offsets costs). [`ListedDeviceRef::to_listed`] makes the owned
/// [`ListedDevice`] that [`DeviceMapper::list_devices`] returns.
#[derive(Clone, Copy)]
pub struct ListedDeviceRef<'a> {
    /// The payload from this record's `dev` field on (the record's own
    /// `next` says where it ends; the readers below read this record only).
    rec: &'a [u8],
}

impl fmt::Debug for ListedDeviceRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_struct("ListedDeviceRef")
            .field("name", &text(self.name()))
            .field("major", &self.major())
            .field("minor", &self.minor())
            .field("event_nr", &self.event_nr())
            .field("uuid", &self.uuid().map(text))
            .finish()
    }
}

impl<'a> ListedDeviceRef<'a> {
    /// The record's fields, read (and checked) by [`codec::names`] (which
    /// stops at the record's end).
    fn entry(&self) -> Option<codec::NameEntry<'a>> {
        codec::names(self.rec).next()?.ok()
    }

    /// Name (bytes, unmangled).
    pub fn name(&self) -> &'a [u8] {
        // The lean walk of one record, for the name's length (the name
        // starts at a fixed offset).
        let mut len = 0;
        // `false`: this record only.
        let _ = codec::walk_names(self.rec, |n, _| {
            len = n.len();
            false
        });
        let at = abi::NAME_LIST_NAME_OFFSET;
        self.rec.get(at..at + len).unwrap_or_default()
    }

    /// Device number (major, minor).
    pub fn dev(&self) -> (u32, u32) {
        let mut w = [0u8; 8];
        if let Some(b) = self.rec.get(..8) {
            w.copy_from_slice(b);
        }
        abi::decode_dev(u64::from_ne_bytes(w))
    }

    /// Device major.
    pub fn major(&self) -> u32 {
        self.dev().0
    }

    /// Device minor.
    pub fn minor(&self) -> u32 {
        self.dev().1
    }

    /// Event number (kernels with interface 4.37+).
    pub fn event_nr(&self) -> Option<u32> {
        self.entry()?.event_nr
    }

    /// Uuid (bytes, unmangled; kernels with interface 4.45+): `Some(empty)`
    /// when the device has none.
    pub fn uuid(&self) -> Option<&'a [u8]> {
        self.entry().and_then(|e| listed_uuid(&e))
    }

    /// The owned entry, as [`DeviceMapper::list_devices`] returns it.
    pub fn to_listed(&self) -> ListedDevice {
        let Some(e) = self.entry() else {
            return ListedDevice {
                name: Vec::new(),
                major: 0,
                minor: 0,
                event_nr: None,
                uuid: None,
            };
        };
        let (major, minor) = abi::decode_dev(e.dev);
        ListedDevice {
            name: e.name.to_vec(),
            major,
            minor,
            event_nr: e.event_nr,
            uuid: listed_uuid(&e).map(<[u8]>::to_vec),
        }
    }
}

/// A name-list record's uuid as the Rust API gives it: the uuid when the
/// kernel sent one, empty when it says there is none, `None` when it says
/// nothing (kernels before 4.45).
fn listed_uuid<'a>(e: &codec::NameEntry<'a>) -> Option<&'a [u8]> {
    match e.flags {
        Some(f) if f & abi::DM_NAME_LIST_FLAG_HAS_UUID != 0 => e.uuid,
        Some(f) if f & abi::DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID != 0 => Some(&[]),
        _ => None,
    }
}

/// The entries of a [`ListReply`], in the kernel's order.
#[derive(Clone, Debug)]
pub struct ListIter<'a> {
    /// The payload (the run checked every record).
    payload: &'a [u8],
    /// The payload as words: records start 8-aligned, their `next` field
    /// is the first half of their second word.
    words: &'a [u64],
    /// The word holding the next record's `next` field (its second word);
    /// past `words` when no record is left.
    at: usize,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = ListedDeviceRef<'a>;

    /// Follows the `next` offsets and nothing else, as a C caller of
    /// `dm_task_get_names` does (the run checked every record: each
    /// `next` a multiple of 8 past its record, 0 on the last one); an
    /// offset that leaves the payload ends the walk. The one bounds check
    /// of a step, that the next word is inside the payload, also ends it:
    /// a last record's `next` of 0 steps 2^29 words, past any payload
    /// (`data_size` is 32 bits).
    #[inline]
    fn next(&mut self) -> Option<ListedDeviceRef<'a>> {
        let i = self.at;
        let w = self.words.get(i)?.to_ne_bytes();
        let next = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]);
        self.at = i + (next.wrapping_sub(1) >> 3) as usize + 1;
        Some(ListedDeviceRef {
            rec: self.payload.get((i - 1) * 8..).unwrap_or_default(),
        })
    }
}

impl ListReply {
    /// The devices, in the kernel's order, borrowed from the reply.
    pub fn iter(&self) -> ListIter<'_> {
        let payload = self.reply.payload().unwrap_or_default();
        let words = self.reply.payload_words();
        // No record, or the one record (dev 0) of an empty list
        // (codec::names).
        let empty = words.first().is_none_or(|&d| d == 0);
        ListIter {
            payload,
            words,
            at: if empty { usize::MAX } else { 1 },
        }
    }
}

impl<'a> IntoIterator for &'a ListReply {
    type Item = ListedDeviceRef<'a>;
    type IntoIter = ListIter<'a>;

    fn into_iter(self) -> ListIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for ListReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The dependencies read with [`DeviceMapper::deps_reply`], kept as the
/// kernel's reply: the device numbers are read from the reply buffer when
/// asked, with no allocation (what [`DeviceMapper::deps`] copies into a
/// `Vec`).
///
/// ```no_run
/// # use devmapper::{DevId, DeviceMapper};
/// # let dm = DeviceMapper::new()?;
/// let deps = dm.deps_reply(&DevId::name("vol0")?, false)?;
/// for (major, minor) in &deps {
///     println!("{major}:{minor}");
/// }
/// # Ok::<(), devmapper::Error>(())
/// ```
pub struct DepsReply {
    reply: Reply,
    /// The number of device numbers, checked to fit in the payload
    /// (`codec::deps_count`) when the reply was taken.
    count: usize,
}

/// The device numbers of a [`DepsReply`], as (major, minor), in the
/// kernel's order.
#[derive(Clone, Debug)]
pub struct DepsIter<'a> {
    /// The `dev_t` words still to read (8 bytes each).
    words: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for DepsIter<'_> {
    type Item = (u32, u32);

    #[inline]
    fn next(&mut self) -> Option<(u32, u32)> {
        self.words.next().map(decode_dev_word)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.words.size_hint()
    }
}

impl ExactSizeIterator for DepsIter<'_> {}

/// A `dev_t` word of a DEPS reply as (major, minor).
#[inline]
fn decode_dev_word(w: &[u8]) -> (u32, u32) {
    let mut b = [0u8; 8];
    b.copy_from_slice(w);
    abi::decode_dev(u64::from_ne_bytes(b))
}

impl DepsReply {
    /// A DEPS reply, its count checked against its payload.
    fn from_reply(reply: Reply) -> Result<DepsReply> {
        let count = codec::deps_count(reply.payload().unwrap_or_default())
            .map_err(|e| Error::protocol(e.to_string()).with_op("deps"))?;
        Ok(DepsReply { reply, count })
    }

    /// The `dev_t` words: `count` of them after the 8-byte header.
    #[inline]
    fn words(&self) -> &[u8] {
        let p = self.reply.payload().unwrap_or_default();
        // `count` was checked against this payload: the range is inside.
        p.get(8..8 + 8 * self.count).unwrap_or_default()
    }

    /// The device numbers, as (major, minor), borrowed from the reply.
    pub fn iter(&self) -> DepsIter<'_> {
        DepsIter {
            words: self.words().chunks_exact(8),
        }
    }

    /// The `i`-th device number, as (major, minor).
    pub fn get(&self, i: usize) -> Option<(u32, u32)> {
        let at = i.checked_mul(8)?;
        self.words().get(at..at + 8).map(decode_dev_word)
    }

    /// The number of devices.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table depends on no device (or the device has none).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The device's state, from the reply's header.
    pub fn info(&self) -> DeviceInfo {
        DeviceInfo::from_header(self.reply.header())
    }
}

impl<'a> IntoIterator for &'a DepsReply {
    type Item = (u32, u32);
    type IntoIter = DepsIter<'a>;

    fn into_iter(self) -> DepsIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for DepsReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The reply to a target message sent with
/// [`DeviceMapper::target_message_reply`]: the response is read in place
/// (what [`DeviceMapper::target_message`] copies into a `Vec`). The reply
/// buffer is wiped when this is dropped; `Debug` shows the response's
/// length only.
///
/// ```no_run
/// # use devmapper::{DevId, DeviceMapper};
/// # let dm = DeviceMapper::new()?;
/// let r = dm.target_message_reply(&DevId::name("vol0")?, 0, b"@stats_list")?;
/// if let Some(text) = r.response() {
///     print!("{}", String::from_utf8_lossy(text));
/// }
/// # Ok::<(), devmapper::Error>(())
/// ```
pub struct MessageReply {
    reply: Reply,
    /// The kernel sent a response (`DM_DATA_OUT_FLAG`), NUL-terminated
    /// inside the payload (checked by the run).
    has_response: bool,
}

impl MessageReply {
    /// The target's response (bytes, no NUL), if it gave one.
    pub fn response(&self) -> Option<&[u8]> {
        if !self.has_response {
            return None;
        }
        codec::decode_message(self.reply.payload().ok()?).ok()
    }

    /// The device's state, from the reply's header.
    pub fn info(&self) -> DeviceInfo {
        DeviceInfo::from_header(self.reply.header())
    }
}

impl fmt::Debug for MessageReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageReply")
            .field("response_len", &self.response().map(<[u8]>::len))
            .finish()
    }
}

/// Options for [`DeviceMapper::suspend`]. (A suspend makes no uevent, so
/// it takes no udev flags; the resume after it does: [`ResumeOptions`].)
#[derive(Clone, Copy, Debug, Default)]
pub struct SuspendOptions {
    /// Do not flush queued I/O (`--noflush`).
    pub noflush: bool,
    /// Do not freeze the filesystem (`--nolockfs`).
    pub skip_lockfs: bool,
}

/// Options for [`DeviceMapper::resume_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ResumeOptions {
    /// udev flags for the uevent of the resume (`dmsetup --udevflags`);
    /// e.g. [`UdevFlags::PRIVATE`].
    pub udev_flags: UdevFlags,
}

/// Options for [`DeviceMapper::table_reply_with`].
#[derive(Clone, Copy, Debug)]
pub struct TableReadOptions {
    /// Read the inactive table instead of the live one.
    pub inactive: bool,
    /// Ask the kernel to wipe its own copy of the table after the read
    /// (`DM_SECURE_DATA_FLAG`, `dm_task_secure_data`): for tables that may
    /// hold keys. On by default; the reply buffer on our side is wiped
    /// either way.
    pub secure_data: bool,
}

impl Default for TableReadOptions {
    fn default() -> TableReadOptions {
        TableReadOptions {
            inactive: false,
            secure_data: true,
        }
    }
}

/// Options for [`DeviceMapper::remove`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RemoveOptions {
    /// Remove when the last opener closes the device.
    pub deferred: bool,
    /// Retry on EBUSY (25 attempts, 200 ms apart) like `dm_task_retry_remove`.
    pub retry: bool,
    /// udev flags for the uevent of the removal.
    pub udev_flags: UdevFlags,
}

/// Options for [`DeviceMapper::create`] and [`DeviceMapper::create_device`].
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// The new device's uuid.
    pub uuid: Option<DmUuid>,
    /// A fixed device number (major, minor); the major must be
    /// device-mapper's.
    pub dev: Option<(u32, u32)>,
    /// Load tables read-only.
    pub read_only: bool,
    /// udev flags for the uevent of the resume that makes the device live
    /// (e.g. [`UdevFlags::PRIVATE`] for a device no udev rule but
    /// device-mapper's should look at). [`DeviceMapper::create_device`]
    /// returns a [`Device`] that keeps them for its later resumes, renames
    /// and removal.
    pub udev_flags: UdevFlags,
}

/// The control descriptor of a [`Context`] (`/dev/mapper/control`), for
/// `poll()`: after [`DeviceMapper::arm_poll`] it polls readable
/// (`POLLIN`) once a device-mapper event happened (a device created,
/// removed, renamed, suspended or resumed, a table swapped, or a target's
/// own event such as a thin pool running out of space or a mirror leg
/// failing). It keeps the descriptor open while it lives.
#[derive(Clone, Debug)]
pub struct ControlFd(Arc<File>);

impl AsFd for ControlFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for ControlFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A handle on the device-mapper driver. Cheap to clone and `Send + Sync`;
/// clones share one [`Context`] (settings, control descriptor, node stack).
#[derive(Clone, Debug)]
pub struct DeviceMapper {
    ctx: Arc<Context>,
}

impl DeviceMapper {
    /// A handle with a context of its own; checks the driver's version.
    pub fn new() -> Result<DeviceMapper> {
        DeviceMapper::with_context(Arc::new(Context::new()))
    }

    /// A handle on an existing context; checks the driver's version.
    pub fn with_context(ctx: Arc<Context>) -> Result<DeviceMapper> {
        ctx.check_version()?;
        Ok(DeviceMapper { ctx })
    }

    /// The context this handle works in.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Set the largest ioctl buffer a reply may grow to.
    pub fn with_buffer_cap(self, bytes: usize) -> DeviceMapper {
        self.ctx.set_buffer_cap(bytes);
        self
    }

    fn task(&self, ty: TaskType, id: Option<&DevId>) -> Result<Task> {
        let mut t = Task::new(ty as i32);
        self.set_id(&mut t, id)?;
        Ok(t)
    }

    /// Point `t` at the device `id`. (The calls that read replies build
    /// their task in place with this: a task is a few hundred bytes, and
    /// moving it through a `Result` costs a copy each time.)
    fn set_id(&self, t: &mut Task, id: Option<&DevId>) -> Result<()> {
        match id {
            None => {}
            Some(DevId::Name(n)) => t.set_name(&self.ctx, n.as_bytes())?,
            Some(DevId::Uuid(u)) => t.set_uuid(&self.ctx, u.as_bytes())?,
            Some(DevId::Dev(a, b)) => {
                let (a, b) = devno(*a, *b)?;
                t.set_major_minor(a, b, false);
            }
        }
        Ok(())
    }

    /// Run `t`; failures carry the operation and the device.
    fn run(&self, t: &mut Task, id: Option<&DevId>) -> Result<()> {
        t.run(&self.ctx).map_err(|e| describe(e, t, id))
    }

    /// Run a task that makes udev act, inside a udev transaction when udev
    /// synchronisation is in effect, then wait for udev and run the pending
    /// node operations (what `dmsetup` does around every such call).
    fn run_udev(&self, t: &mut Task, id: Option<&DevId>, flags: UdevFlags) -> Result<()> {
        let ctx = &*self.ctx;
        let mut cookie = 0u32;
        // Without synchronisation the flags still go to the kernel (as
        // libdevmapper's dm_task_set_cookie sends them), with no cookie.
        if ctx.udev_sync() || !flags.is_empty() {
            t.set_cookie(ctx, &mut cookie, flags.bits())
                .map_err(|e| describe(e, t, id))?;
        }
        let r = self.run(t, id);
        if cookie != 0 {
            if let Err(e) = crate::udev::wait(ctx, cookie, true) {
                ctx.log_failure(&e);
                if r.is_ok() {
                    ctx.update_nodes();
                    return Err(e);
                }
            }
        }
        ctx.update_nodes();
        r
    }

    fn header_info(t: &Task) -> DeviceInfo {
        t.reply_header()
            .map(DeviceInfo::from_header)
            .unwrap_or_default()
    }

    fn simple(
        &self,
        ty: TaskType,
        id: &DevId,
        flags: UdevFlags,
        setup: impl FnOnce(&mut Task),
    ) -> Result<DeviceInfo> {
        let mut t = self.task(ty, Some(id))?;
        setup(&mut t);
        if matches!(ty, TaskType::Resume | TaskType::Remove | TaskType::Rename) {
            self.run_udev(&mut t, Some(id), flags)?;
        } else {
            self.run(&mut t, Some(id))?;
        }
        Ok(Self::header_info(&t))
    }

    /// The driver's interface version.
    pub fn version(&self) -> Result<[u32; 3]> {
        self.ctx.driver_version()
    }

    /// All devices, with event numbers and uuids where the kernel provides them.
    pub fn list_devices(&self) -> Result<Vec<ListedDevice>> {
        Ok(self.list_reply()?.iter().map(|d| d.to_listed()).collect())
    }

    /// All devices, as [`list_devices`](DeviceMapper::list_devices) gives
    /// them, borrowed from the kernel's reply: no allocation per device.
    pub fn list_reply(&self) -> Result<ListReply> {
        let mut t = Task::new(TaskType::List as i32);
        t.list_uuids = true;
        self.run(&mut t, None)?;
        Ok(ListReply {
            reply: take_reply(&mut t)?,
        })
    }

    /// Create a device with no table (it starts suspended; its node appears
    /// when it is first resumed).
    pub fn create(&self, name: &DmName, opts: &CreateOptions) -> Result<DeviceInfo> {
        let id = DevId::Name(name.clone());
        let mut t = self.task(TaskType::Create, Some(&id))?;
        if let Some(u) = &opts.uuid {
            t.set_uuid(&self.ctx, u.as_bytes())?;
        }
        if let Some((a, b)) = opts.dev {
            let (a, b) = devno(a, b)?;
            t.set_major_minor(a, b, false);
        }
        t.read_only = opts.read_only;
        self.run(&mut t, Some(&id))?;
        Ok(Self::header_info(&t))
    }

    /// Create, load and resume in one go (libdevmapper's create-with-table);
    /// the device is removed again if the load or the resume fails.
    pub fn create_with_table(
        &self,
        name: &DmName,
        uuid: Option<&DmUuid>,
        table: &(impl TableSource + ?Sized),
        read_only: bool,
    ) -> Result<DeviceInfo> {
        self.create_loaded(name, uuid, table, read_only, UdevFlags::empty())
    }

    fn create_loaded(
        &self,
        name: &DmName,
        uuid: Option<&DmUuid>,
        table: &(impl TableSource + ?Sized),
        read_only: bool,
        flags: UdevFlags,
    ) -> Result<DeviceInfo> {
        let table = table.lines();
        if table.is_empty() {
            return Err(Error::invalid("A table needs at least one target.").with_op("create"));
        }
        let id = DevId::Name(name.clone());
        let mut t = self.task(TaskType::Create, Some(&id))?;
        if let Some(u) = uuid {
            t.set_uuid(&self.ctx, u.as_bytes())?;
        }
        t.read_only = read_only;
        add_targets(&mut t, &table)?;
        self.run_udev(&mut t, Some(&id), flags)?;
        Ok(Self::header_info(&t))
    }

    /// Remove a device.
    pub fn remove(&self, id: &DevId, opts: RemoveOptions) -> Result<DeviceInfo> {
        self.simple(TaskType::Remove, id, opts.udev_flags, |t| {
            t.deferred_remove = opts.deferred;
            t.retry_remove = opts.retry;
        })
    }

    /// Remove every device that is not open (`deferred`: mark open ones).
    pub fn remove_all(&self, deferred: bool) -> Result<()> {
        let mut t = self.task(TaskType::RemoveAll, None)?;
        t.deferred_remove = deferred;
        self.run(&mut t, None)?;
        self.ctx.update_nodes();
        Ok(())
    }

    /// Rename a device.
    pub fn rename(&self, id: &DevId, new_name: &DmName) -> Result<DeviceInfo> {
        self.rename_with(id, new_name, UdevFlags::empty())
    }

    /// Rename a device, with udev flags for the rename's uevent.
    pub fn rename_with(
        &self,
        id: &DevId,
        new_name: &DmName,
        udev_flags: UdevFlags,
    ) -> Result<DeviceInfo> {
        let mut t = self.task(TaskType::Rename, Some(id))?;
        t.set_newname(&self.ctx, new_name.as_bytes())?;
        self.run_udev(&mut t, Some(id), udev_flags)?;
        Ok(Self::header_info(&t))
    }

    /// Give a device that has none a uuid.
    pub fn set_uuid(&self, id: &DevId, uuid: &DmUuid) -> Result<DeviceInfo> {
        let mut t = self.task(TaskType::Rename, Some(id))?;
        t.set_newuuid(&self.ctx, uuid.as_bytes())?;
        self.run_udev(&mut t, Some(id), UdevFlags::empty())?;
        Ok(Self::header_info(&t))
    }

    /// Suspend a device.
    pub fn suspend(&self, id: &DevId, opts: SuspendOptions) -> Result<DeviceInfo> {
        self.simple(TaskType::Suspend, id, UdevFlags::empty(), |t| {
            t.no_flush = opts.noflush;
            t.skip_lockfs = opts.skip_lockfs;
        })
    }

    /// Resume a device, making its inactive table live.
    pub fn resume(&self, id: &DevId) -> Result<DeviceInfo> {
        self.resume_with(id, ResumeOptions::default())
    }

    /// Resume a device with options (udev flags for the resume's uevent).
    pub fn resume_with(&self, id: &DevId, opts: ResumeOptions) -> Result<DeviceInfo> {
        self.simple(TaskType::Resume, id, opts.udev_flags, |_| {})
    }

    /// Device state; [`ErrorKind::NotFound`] when there is no such device.
    pub fn info(&self, id: &DevId) -> Result<DeviceInfo> {
        self.info_as(id, DeviceInfo::from_header)
    }

    /// Device state without the name and uuid (no allocation: what
    /// `dm_task_get_info` gives); [`ErrorKind::NotFound`] when there is no
    /// such device.
    pub fn state(&self, id: &DevId) -> Result<DeviceState> {
        self.info_as(id, DeviceState::from_header)
    }

    /// An INFO run, its reply's header read once by `f`.
    #[inline]
    fn info_as<T>(&self, id: &DevId, f: impl FnOnce(&DmIoctl) -> T) -> Result<T> {
        let mut t = Task::new(TaskType::Info as i32);
        self.set_id(&mut t, Some(id))?;
        self.run(&mut t, Some(id))?;
        match t.reply_header() {
            Some(h) if DmFlags::from_bits_retain(h.flags).contains(DmFlags::EXISTS) => Ok(f(h)),
            _ => Err(Error::new(ErrorKind::NotFound, "Device does not exist.")
                .with_errno(libc::ENXIO)
                .with_op("info")
                .with_device(id.bytes())),
        }
    }

    /// Whether the device exists.
    pub fn exists(&self, id: &DevId) -> Result<bool> {
        match self.state(id) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Load a table into the inactive slot.
    pub fn load_table(
        &self,
        id: &DevId,
        table: &(impl TableSource + ?Sized),
        read_only: bool,
    ) -> Result<DeviceInfo> {
        let mut t = self.task(TaskType::Reload, Some(id))?;
        t.read_only = read_only;
        add_targets(&mut t, &table.lines())?;
        self.run(&mut t, Some(id))?;
        Ok(Self::header_info(&t))
    }

    /// Drop the inactive table.
    pub fn clear_table(&self, id: &DevId) -> Result<DeviceInfo> {
        self.simple(TaskType::Clear, id, UdevFlags::empty(), |_| {})
    }

    /// Devices the table depends on, as (major, minor).
    pub fn deps(&self, id: &DevId, inactive: bool) -> Result<Vec<(u32, u32)>> {
        let d = self.deps_reply(id, inactive)?;
        let mut devs = Vec::new();
        devs.try_reserve_exact(d.len())
            .map_err(|_| Error::no_memory(d.len().saturating_mul(8)))?;
        devs.extend(d.iter());
        Ok(devs)
    }

    /// Devices the table depends on, as the kernel's reply
    /// ([`DepsReply`]): the device numbers of [`deps`](DeviceMapper::deps)
    /// read in place, without the `Vec`.
    pub fn deps_reply(&self, id: &DevId, inactive: bool) -> Result<DepsReply> {
        let mut t = Task::new(TaskType::Deps as i32);
        self.set_id(&mut t, Some(id))?;
        t.query_inactive_table = inactive;
        self.run(&mut t, Some(id))?;
        DepsReply::from_reply(take_reply(&mut t)?)
    }

    fn read_targets(
        &self,
        ty: TaskType,
        id: &DevId,
        setup: impl FnOnce(&mut Task),
    ) -> Result<Task> {
        let mut t = Task::new(ty as i32);
        self.run_read(&mut t, ty, id, setup)?;
        Ok(t)
    }

    /// [`read_targets`](DeviceMapper::read_targets), keeping only the
    /// reply (which moves for free).
    fn read_reply(&self, ty: TaskType, id: &DevId, setup: impl FnOnce(&mut Task)) -> Result<Reply> {
        let mut t = Task::new(ty as i32);
        self.run_read(&mut t, ty, id, setup)?;
        take_reply(&mut t)
    }

    /// Run a read of `id` (STATUS, TABLE, WAITEVENT) in `t`; NotFound when
    /// the device does not exist.
    fn run_read(
        &self,
        t: &mut Task,
        ty: TaskType,
        id: &DevId,
        setup: impl FnOnce(&mut Task),
    ) -> Result<()> {
        self.set_id(t, Some(id))?;
        setup(t);
        self.run(t, Some(id))?;
        if t.info().is_some_and(|i| i.exists == 0) {
            return Err(Error::new(ErrorKind::NotFound, "Device does not exist.")
                .with_errno(libc::ENXIO)
                .with_op(ty.name())
                .with_device(id.bytes()));
        }
        Ok(())
    }

    /// The live (or inactive) table. Crypt keys come back in [`Secret`]s.
    pub fn table(&self, id: &DevId, inactive: bool) -> Result<Vec<Target>> {
        let r = self.table_reply(id, inactive)?;
        let mut lines = Vec::new();
        lines
            .try_reserve_exact(r.len())
            .map_err(|_| Error::no_memory(r.len().saturating_mul(std::mem::size_of::<Target>())))?;
        for t in &r {
            lines.push(t.to_target()?);
        }
        Ok(lines)
    }

    /// The live (or inactive) table as the kernel's reply, its lines
    /// borrowed from it ([`TableReply`]): the table of
    /// [`table`](DeviceMapper::table) without a copy per line. The reply
    /// buffer is wiped when the [`TableReply`] is dropped.
    pub fn table_reply(&self, id: &DevId, inactive: bool) -> Result<TableReply> {
        self.table_reply_with(
            id,
            TableReadOptions {
                inactive,
                ..TableReadOptions::default()
            },
        )
    }

    /// [`table_reply`](DeviceMapper::table_reply) with its options: e.g.
    /// `secure_data: false` reads a table that holds no keys the way
    /// libdevmapper's default table task does, without the kernel's wipe
    /// of its own copy.
    pub fn table_reply_with(&self, id: &DevId, opts: TableReadOptions) -> Result<TableReply> {
        let reply = self.read_reply(TaskType::Table, id, |t| {
            t.query_inactive_table = opts.inactive;
            t.secure_data = opts.secure_data;
        })?;
        Ok(TableReply { reply })
    }

    /// The live (or inactive) table, typed.
    pub fn typed_table(&self, id: &DevId, inactive: bool) -> Result<crate::targets::Table> {
        let lines = self
            .table(id, inactive)?
            .iter()
            .map(Target::typed)
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::targets::Table::new(lines)?)
    }

    /// Status lines of the live (or inactive) table, typed.
    pub fn typed_status(&self, id: &DevId, inactive: bool) -> Result<Vec<StatusLine>> {
        self.status(id, inactive)?
            .iter()
            .map(TargetStatus::typed)
            .collect()
    }

    /// The typed status of a device whose live (or inactive) table is one
    /// target of the type `T` describes, e.g.
    /// `dm.status_of::<ThinPoolStatus>(&id, false)?`. An
    /// [`ErrorKind::InvalidArgument`] error when the table has more than
    /// one target or a target of another type.
    pub fn status_of<T: crate::targets::TargetStatus>(
        &self,
        id: &DevId,
        inactive: bool,
    ) -> Result<T> {
        single_status(&self.status(id, inactive)?)
            .map_err(|e| e.with_op("status").with_device(id.bytes()))
    }

    /// Status lines of the live (or inactive) table.
    pub fn status(&self, id: &DevId, inactive: bool) -> Result<Vec<TargetStatus>> {
        Ok(self
            .status_reply(id, inactive)?
            .iter()
            .map(|s| s.to_status())
            .collect())
    }

    /// Status lines of the live (or inactive) table as the kernel's reply,
    /// borrowed from it ([`StatusReply`]): the lines of
    /// [`status`](DeviceMapper::status) without a copy per line.
    pub fn status_reply(&self, id: &DevId, inactive: bool) -> Result<StatusReply> {
        let reply = self.read_reply(TaskType::Status, id, |t| t.query_inactive_table = inactive)?;
        Ok(StatusReply { reply })
    }

    /// Wait until the device's event number differs from `event_nr`, then
    /// return its state and status.
    pub fn wait_event(&self, id: &DevId, event_nr: u32) -> Result<(DeviceInfo, Vec<TargetStatus>)> {
        let t = self.read_targets(TaskType::WaitEvent, id, |t| t.event_nr = event_nr)?;
        Ok((Self::header_info(&t), status_lines(&t)))
    }

    /// Every loaded target type.
    pub fn target_versions(&self) -> Result<Vec<TargetVersion>> {
        let mut t = self.task(TaskType::ListVersions, None)?;
        self.run(&mut t, None)?;
        versions(&t)
    }

    /// One target type's version (loads its module if needed).
    pub fn target_version(&self, target_type: &str) -> Result<TargetVersion> {
        codec::check_target_type(target_type.as_bytes())
            .map_err(|e| Error::invalid(e.to_string()).with_op("target-version"))?;
        let mut t = self.task(TaskType::GetTargetVersion, None)?;
        t.set_name(&self.ctx, target_type.as_bytes())?;
        self.run(&mut t, None)?;
        versions(&t)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::protocol("empty versions reply").with_op("target-version"))
    }

    /// Send a message to the target at `sector` of a device; the response,
    /// if the target gave one. Key-bearing messages (`key set …`) are sent
    /// with the secure-data flag and never logged.
    pub fn target_message(&self, id: &DevId, sector: u64, msg: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .target_message_reply(id, sector, msg)?
            .response()
            .map(<[u8]>::to_vec))
    }

    /// [`target_message`](DeviceMapper::target_message) with the response
    /// left in the kernel's reply ([`MessageReply`]): read in place, no
    /// copy. The reply buffer is wiped when the [`MessageReply`] is
    /// dropped.
    pub fn target_message_reply(
        &self,
        id: &DevId,
        sector: u64,
        msg: &[u8],
    ) -> Result<MessageReply> {
        if msg.is_empty() {
            return Err(Error::invalid("Empty message.").with_op("message"));
        }
        let mut t = Task::new(TaskType::TargetMsg as i32);
        self.set_id(&mut t, Some(id))?;
        t.set_message(msg);
        t.sector = Some(sector);
        t.secure_data = secret::is_key_message(msg);
        let r = self.run(&mut t, Some(id));
        if let Some(m) = t.message.take() {
            // Its block (wiped) serves the next message.
            m.recycle();
        }
        r?;
        let has_response = t.message_response_offset().is_some();
        Ok(MessageReply {
            reply: take_reply(&mut t)?,
            has_response,
        })
    }

    /// Send a deviceless message (text starting with `%`) to a target type.
    /// Kernels without the feature answer ENXIO, reported as
    /// [`ErrorKind::Unsupported`].
    #[doc(alias = "target_message")]
    pub fn deviceless_message(&self, target_type: &str, msg: &[u8]) -> Result<Option<Vec<u8>>> {
        if msg.first() != Some(&b'%') {
            return Err(
                Error::invalid("A deviceless message must start with '%'.").with_op("message")
            );
        }
        codec::check_target_type(target_type.as_bytes())
            .map_err(|e| Error::invalid(e.to_string()).with_op("message"))?;
        let mut t = self.task(TaskType::TargetMsg, None)?;
        t.set_name(&self.ctx, target_type.as_bytes())?;
        t.set_message(msg);
        t.run(&self.ctx).map_err(|e| {
            let e = e
                .with_op("message")
                .with_device(target_type.as_bytes().to_vec());
            if e.errno() == Some(libc::ENXIO) {
                e.with_kind(ErrorKind::Unsupported)
            } else {
                e
            }
        })?;
        Ok(t.message_response().map(<[u8]>::to_vec))
    }

    /// Set the device's geometry.
    pub fn set_geometry(
        &self,
        id: &DevId,
        cylinders: u32,
        heads: u32,
        sectors: u32,
        start: u64,
    ) -> Result<()> {
        let mut t = self.task(TaskType::SetGeometry, Some(id))?;
        t.set_geometry(
            cylinders.to_string().as_bytes(),
            heads.to_string().as_bytes(),
            sectors.to_string().as_bytes(),
            start.to_string().as_bytes(),
        );
        self.run(&mut t, Some(id))
    }

    /// Send a typed message ([`targets::messages`](crate::targets::messages))
    /// to the target at `sector` of a device; the target's response, if it
    /// gave one. The text goes to the kernel in the [`Secret`] it was
    /// rendered into; messages carrying keys are sent with the secure-data
    /// flag and never logged.
    pub fn send(
        &self,
        id: &DevId,
        sector: Sectors,
        msg: &(impl TargetMessage + ?Sized),
    ) -> Result<Option<Vec<u8>>> {
        let text = msg.render()?;
        let mut t = self.task(TaskType::TargetMsg, Some(id))?;
        t.secure_data = secret::is_key_message(text.as_bytes());
        t.message = Some(text);
        t.sector = Some(sector.0);
        self.run(&mut t, Some(id))?;
        Ok(t.message_response().map(<[u8]>::to_vec))
    }

    /// Re-arm the control descriptor's event for `poll()`
    /// (`DM_DEV_ARM_POLL`): [`control_fd`](DeviceMapper::control_fd) polls
    /// readable again only after a new event. Arm first, then look at the
    /// devices, then poll, so that no event falls in between.
    pub fn arm_poll(&self) -> Result<()> {
        let mut t = self.task(TaskType::ArmPoll, None)?;
        self.run(&mut t, None)
    }

    /// The control descriptor this handle's ioctls go through (opened if it
    /// is not yet), to `poll()` for events in an event loop (see
    /// [`ControlFd`]). The kernel keeps the "armed" state per open
    /// descriptor: a [`Context::release`] closes the context's descriptor
    /// and the next call opens a new one, so hold the control
    /// ([`Context::hold_control`]) in programs that release.
    pub fn control_fd(&self) -> Result<ControlFd> {
        self.ctx.control_file().map(ControlFd)
    }

    /// Wait until the control descriptor polls readable, i.e. a
    /// device-mapper event happened since the last
    /// [`arm_poll`](DeviceMapper::arm_poll), for at most `timeout` (`None`:
    /// as long as it takes). `true` when an event is pending, `false` on
    /// timeout.
    pub fn poll_event(&self, timeout: Option<Duration>) -> Result<bool> {
        let fd = self.control_fd()?;
        crate::kernel::sys::poll_readable(fd.as_fd(), timeout).map_err(|errno| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "poll on the control device failed: {}",
                    crate::kernel::sys::strerror(errno)
                ),
            )
            .with_errno(errno)
            .with_op("poll")
        })
    }

    /// Make the `/dev/mapper` node of one device right, or of every device
    /// (and remove stale ones) when `id` is `None` (`dmsetup mknodes`).
    pub fn mknodes(&self, id: Option<&DevId>) -> Result<()> {
        let mut t = self.task(TaskType::MkNodes, id)?;
        t.no_open_count = true;
        let r = self.run(&mut t, id);
        self.ctx.update_nodes();
        r
    }
}

/// One device and the common lifecycle on it: load and swap tables,
/// suspend and resume, read its table and status, send messages, rename,
/// remove. A thin handle over [`DeviceMapper`]: every call is one (or a
/// few) of its methods with this device's [`DevId`].
///
/// ```no_run
/// use devmapper::{CreateOptions, DeviceMapper, DmName, RemoveOptions, Target};
/// let dm = DeviceMapper::new()?;
/// let dev = dm.create_device(
///     &DmName::new("scratch")?,
///     &CreateOptions::default(),
///     &[Target::new(0, 8192, "zero", "")],
/// )?;
/// dev.replace_table(&[Target::new(0, 16384, "zero", "")])?;
/// assert_eq!(dev.info()?.target_count, 1);
/// dev.remove(RemoveOptions::default())?;
/// # Ok::<(), devmapper::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Device {
    dm: DeviceMapper,
    id: DevId,
    udev_flags: UdevFlags,
}

impl DeviceMapper {
    /// A handle on an existing device (nothing is checked until it is used).
    pub fn device(&self, id: DevId) -> Device {
        Device {
            dm: self.clone(),
            id,
            udev_flags: UdevFlags::empty(),
        }
    }

    /// Create a device with a table and make it live (create, load, resume;
    /// removed again when the load or resume fails). Waits for udev where
    /// udev runs, so the node exists when this returns.
    pub fn create_device(
        &self,
        name: &DmName,
        opts: &CreateOptions,
        table: &(impl TableSource + ?Sized),
    ) -> Result<Device> {
        let dev = self
            .device(DevId::Name(name.clone()))
            .with_udev_flags(opts.udev_flags);
        if opts.dev.is_some() {
            // A fixed device number: create, load and resume step by step
            // (the one-call form takes no device number).
            self.create(name, opts)?;
            let r = dev.load(table).and_then(|_| dev.resume().map(|_| ()));
            if let Err(e) = r {
                let _ = self.remove(
                    &dev.id,
                    RemoveOptions {
                        udev_flags: opts.udev_flags,
                        ..Default::default()
                    },
                );
                return Err(e);
            }
            return Ok(dev);
        }
        self.create_loaded(
            name,
            opts.uuid.as_ref(),
            table,
            opts.read_only,
            opts.udev_flags,
        )?;
        Ok(dev)
    }
}

impl Device {
    /// How this handle names the device.
    pub fn id(&self) -> &DevId {
        &self.id
    }

    /// The handle on the driver.
    pub fn device_mapper(&self) -> &DeviceMapper {
        &self.dm
    }

    /// This handle with udev flags that its resumes, renames and removal
    /// send ([`UdevFlags::PRIVATE`], ...); [`DeviceMapper::create_device`]
    /// sets the ones of its [`CreateOptions`].
    pub fn with_udev_flags(mut self, flags: UdevFlags) -> Device {
        self.udev_flags = flags;
        self
    }

    /// The udev flags this handle sends.
    pub fn udev_flags(&self) -> UdevFlags {
        self.udev_flags
    }

    /// The device's state.
    pub fn info(&self) -> Result<DeviceInfo> {
        self.dm.info(&self.id)
    }

    /// The device as a device reference in another table's parameters
    /// (`major:minor`), to stack devices: `LinearParams::new(lower.dev_ref()?,
    /// Sectors(0))`. A handle that names the device by number needs no
    /// ioctl; otherwise this asks the kernel (and fails if the device does
    /// not exist).
    pub fn dev_ref(&self) -> Result<DevRef> {
        match self.id {
            DevId::Dev(major, minor) => DeviceInfo {
                major,
                minor,
                ..Default::default()
            }
            .dev_ref(),
            _ => self.info()?.dev_ref(),
        }
    }

    /// Load `table` into the inactive slot (it becomes live at the next
    /// resume).
    pub fn load(&self, table: &(impl TableSource + ?Sized)) -> Result<DeviceInfo> {
        self.dm.load_table(&self.id, table, false)
    }

    /// Load `table`, then suspend and resume so that it becomes live (what
    /// `dmsetup reload` + `dmsetup resume` do). A failed load leaves the
    /// live table untouched.
    pub fn replace_table(&self, table: &(impl TableSource + ?Sized)) -> Result<DeviceInfo> {
        self.load(table)?;
        self.dm.suspend(&self.id, SuspendOptions::default())?;
        self.resume()
    }

    /// Suspend the device.
    pub fn suspend(&self, opts: SuspendOptions) -> Result<DeviceInfo> {
        self.dm.suspend(&self.id, opts)
    }

    /// Resume the device (with the handle's udev flags).
    pub fn resume(&self) -> Result<DeviceInfo> {
        self.dm.resume_with(
            &self.id,
            ResumeOptions {
                udev_flags: self.udev_flags,
            },
        )
    }

    /// The live table.
    pub fn table(&self) -> Result<Vec<Target>> {
        self.dm.table(&self.id, false)
    }

    /// The live table's status lines.
    pub fn status(&self) -> Result<Vec<TargetStatus>> {
        self.dm.status(&self.id, false)
    }

    /// The live table as the kernel's reply, lines borrowed from it
    /// ([`DeviceMapper::table_reply`]).
    pub fn table_reply(&self) -> Result<TableReply> {
        self.dm.table_reply(&self.id, false)
    }

    /// The live table's status lines as the kernel's reply, borrowed from
    /// it ([`DeviceMapper::status_reply`]).
    pub fn status_reply(&self) -> Result<StatusReply> {
        self.dm.status_reply(&self.id, false)
    }

    /// The live table, typed.
    pub fn typed_table(&self) -> Result<crate::targets::Table> {
        self.dm.typed_table(&self.id, false)
    }

    /// The live table's status lines, typed.
    pub fn typed_status(&self) -> Result<Vec<StatusLine>> {
        self.dm.typed_status(&self.id, false)
    }

    /// The typed status of a device whose live table is one target of the
    /// type `T` describes: `dev.status_of::<ThinPoolStatus>()?`. An
    /// [`ErrorKind::InvalidArgument`] error when the table has more than
    /// one target or a target of another type.
    pub fn status_of<T: crate::targets::TargetStatus>(&self) -> Result<T> {
        self.dm.status_of(&self.id, false)
    }

    /// Devices the live table uses, as (major, minor).
    pub fn deps(&self) -> Result<Vec<(u32, u32)>> {
        self.dm.deps(&self.id, false)
    }

    /// Send a message to the target at `sector`.
    pub fn message(&self, sector: u64, msg: &[u8]) -> Result<Option<Vec<u8>>> {
        self.dm.target_message(&self.id, sector, msg)
    }

    /// Send a typed message ([`targets::messages`](crate::targets::messages))
    /// to the target at sector 0: `pool.send(&ThinPoolMessage::CreateThin
    /// { dev_id: 0 })?`.
    pub fn send(&self, msg: &(impl TargetMessage + ?Sized)) -> Result<Option<Vec<u8>>> {
        self.dm.send(&self.id, Sectors::ZERO, msg)
    }

    /// Send a typed message to the target at `sector`.
    pub fn send_at(
        &self,
        sector: Sectors,
        msg: &(impl TargetMessage + ?Sized),
    ) -> Result<Option<Vec<u8>>> {
        self.dm.send(&self.id, sector, msg)
    }

    /// Wait for an event after `event_nr`.
    pub fn wait_event(&self, event_nr: u32) -> Result<(DeviceInfo, Vec<TargetStatus>)> {
        self.dm.wait_event(&self.id, event_nr)
    }

    /// Rename the device; the handle follows it when it names the device by
    /// name.
    pub fn rename(&mut self, new_name: &DmName) -> Result<DeviceInfo> {
        let i = self.dm.rename_with(&self.id, new_name, self.udev_flags)?;
        if matches!(self.id, DevId::Name(_)) {
            self.id = DevId::Name(new_name.clone());
        }
        Ok(i)
    }

    /// The path of the device node (`<dm_dir>/<name>`, the name mangled as
    /// the context's mangling mode does for udev).
    pub fn path(&self) -> Result<std::path::PathBuf> {
        use std::os::unix::ffi::OsStringExt;
        let info = self.info()?;
        let ctx = self.dm.context();
        let name = crate::mangle::mangle_unchecked(
            &info.name,
            ctx.mangling_mode(),
            "name",
            abi::DM_NAME_LEN,
        )
        .map_err(|e| Error::invalid(e.to_string()))?
        .unwrap_or(info.name);
        let mut p = ctx.dm_dir();
        p.push(b'/');
        p.extend_from_slice(&name);
        Ok(std::path::PathBuf::from(std::ffi::OsString::from_vec(p)))
    }

    /// Remove the device (with the handle's udev flags added to those of
    /// `opts`).
    pub fn remove(self, opts: RemoveOptions) -> Result<DeviceInfo> {
        let opts = RemoveOptions {
            udev_flags: opts.udev_flags | self.udev_flags,
            ..opts
        };
        self.dm.remove(&self.id, opts)
    }
}

/// The kernel's minor numbers are 20 bits and majors 12: anything that does
/// not fit the `dm_task_set_major_minor` ints is refused.
fn devno(a: u32, b: u32) -> Result<(i32, i32)> {
    match (i32::try_from(a), i32::try_from(b)) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => Err(Error::invalid(format!("Invalid device number {a}:{b}."))),
    }
}

fn describe(e: Error, t: &Task, id: Option<&DevId>) -> Error {
    let e = match (e.op(), t.task_type()) {
        (None, Some(ty)) => e.with_op(ty.name()),
        _ => e,
    };
    match (e.device().is_none(), id) {
        (true, Some(id)) => e.with_device(id.bytes()),
        _ => e,
    }
}

fn add_targets(t: &mut Task, table: &[Target]) -> Result<()> {
    for x in table {
        let params = Secret::try_from_slice(x.params.as_bytes())
            .ok_or_else(|| Error::no_memory(x.params.len()))?;
        if params.as_bytes().contains(&0) {
            return Err(Error::invalid("Target parameters contain a NUL byte."));
        }
        t.add_target_secret(x.start, x.length, x.target_type.as_bytes(), params)?;
        if carries_keys(&x.target_type) {
            t.secure_data = true;
        }
    }
    t.check_table()
}

/// The typed status of a table of exactly one target of the type `T`
/// describes.
fn single_status<T: crate::targets::TargetStatus>(lines: &[TargetStatus]) -> Result<T> {
    match lines {
        [one] => one.typed_as::<T>(),
        _ => Err(Error::invalid(format!(
            "Expected one {} target, found {} targets.",
            T::TARGET_TYPE,
            lines.len()
        ))),
    }
}

fn status_lines(t: &Task) -> Vec<TargetStatus> {
    StatusIter::over(t.reply.as_ref())
        .map(|s| s.to_status())
        .collect()
}

/// The device numbers of a DEPS payload, as [`codec::decode_deps`] reads
/// them, decoded, in one allocation: the count, then the numbers that follow
/// it (struct dm_target_deps: count, padding, dev[]), which
/// [`codec::deps_count`] checks to fit.
/// The reply of a task that ran.
fn take_reply(t: &mut Task) -> Result<Reply> {
    t.reply
        .take()
        .ok_or_else(|| Error::internal("Internal error: the task has not run."))
}

fn versions(t: &Task) -> Result<Vec<TargetVersion>> {
    let p = t.reply_payload().unwrap_or_default();
    Ok(codec::decode_versions(p)
        .map_err(|e| Error::protocol(e.to_string()))?
        .into_iter()
        .map(|v| TargetVersion {
            name: String::from_utf8_lossy(v.name).into_owned(),
            version: v.version,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lines_parse() {
        let t = Target::parse(b"0 2048 linear /dev/loop0 0").unwrap();
        assert_eq!(t, Target::new(0, 2048, "linear", "/dev/loop0 0"));
        assert_eq!(Target::parse(b"0 8 zero").unwrap().params.as_bytes(), b"");
        assert!(Target::parse(b"0 x zero").is_err());
        assert!(Target::parse(b"").is_err());
    }

    #[test]
    fn parse_errors_never_quote_the_line() {
        let e = Target::parse(b"0 x crypt aes 00112233 0 /dev/sda 0").unwrap_err();
        assert!(!e.to_string().contains("00112233"));
        assert!(!format!("{e:?}").contains("00112233"));
    }

    #[test]
    fn crypt_params_are_not_printed() {
        let t = Target::new(0, 8, "crypt", "aes-xts-plain64 00112233 0 /dev/loop0 0");
        assert!(!format!("{t:?}").contains("00112233"));
        let l = Target::new(0, 8, "linear", "/dev/loop0 0");
        assert!(format!("{l:?}").contains("/dev/loop0"));
    }

    #[test]
    fn ids() {
        assert!(DevId::name("a/b").is_err());
        assert_eq!(DevId::name("x").unwrap().to_string(), "x");
        assert_eq!(DevId::Dev(253, 1).to_string(), "253:1");
        assert!(devno(u32::MAX, 0).is_err());
    }

    fn st(start: u64, length: u64, ty: &str, status: &str) -> TargetStatus {
        TargetStatus {
            start,
            length,
            target_type: ty.to_string(),
            status: status.as_bytes().to_vec(),
        }
    }

    #[test]
    fn typed_status_lines() {
        use crate::targets::TargetStatusLine;
        let l = st(8, 16, "zero", "").typed().unwrap();
        assert_eq!(
            l,
            StatusLine {
                start: Sectors(8),
                length: Sectors(16),
                status: TargetStatusLine::Zero
            }
        );
        assert!(st(0, 8, "zero", "junk").typed().is_err());
    }

    #[test]
    fn status_of_one_target() {
        use crate::targets::{MirrorStatus, SnapshotStatus, ThinPoolStatus, ThinStatus};
        let pool = st(
            0,
            8,
            "thin-pool",
            "1 10/100 20/200 - rw no_discard_passdown queue_if_no_space - 1024",
        );
        let p: ThinPoolStatus = single_status(std::slice::from_ref(&pool)).unwrap();
        assert!(matches!(p, ThinPoolStatus::Ok(d) if d.transaction_id == 1));
        // Another target type.
        let e = single_status::<ThinStatus>(std::slice::from_ref(&pool)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), "Expected a thin target, found thin-pool.");
        // More than one target, or none.
        let two = [st(0, 8, "zero", ""), st(8, 8, "zero", "")];
        let e = single_status::<MirrorStatus>(&two).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected one mirror target, found 2 targets."
        );
        let e = single_status::<MirrorStatus>(&[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected one mirror target, found 0 targets."
        );
        // SnapshotStatus describes snapshot-merge too.
        let m = st(0, 8, "snapshot-merge", "16/2048 16");
        assert!(matches!(
            single_status::<SnapshotStatus>(std::slice::from_ref(&m)).unwrap(),
            SnapshotStatus::Usage { .. }
        ));
        // A malformed status of the right type is a parse error.
        let bad = st(0, 8, "mirror", "x");
        let e = single_status::<MirrorStatus>(std::slice::from_ref(&bad)).unwrap_err();
        assert!(e.to_string().starts_with("mirror: "), "{e}");
    }

    #[test]
    fn device_refs() {
        let i = DeviceInfo {
            major: 253,
            minor: 7,
            ..Default::default()
        };
        assert_eq!(i.dev_ref().unwrap(), DevRef::number(253, 7).unwrap());
        let big = DeviceInfo {
            major: 4096,
            ..Default::default()
        };
        assert_eq!(
            big.dev_ref().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn device_handles_carry_udev_flags() {
        // A handle made without a driver: nothing here talks to the kernel.
        let dm = DeviceMapper {
            ctx: Arc::new(Context::new()),
        };
        let d = dm.device(DevId::Dev(253, 4));
        assert_eq!(d.udev_flags(), UdevFlags::empty());
        assert_eq!(d.dev_ref().unwrap().to_string(), "253:4");
        let d = d.with_udev_flags(UdevFlags::PRIVATE);
        assert_eq!(
            d.udev_flags().bits(),
            crate::udev::DISABLE_SUBSYSTEM_RULES_FLAG
                | crate::udev::DISABLE_DISK_RULES_FLAG
                | crate::udev::DISABLE_OTHER_RULES_FLAG
        );
        assert_eq!(CreateOptions::default().udev_flags, UdevFlags::empty());
    }

    /// A reply header for a payload `p` (`count` targets), as the kernel
    /// writes it, followed by `p`.
    fn reply_of(p: &[u8], count: u32) -> crate::kernel::control::Reply {
        reply_of_tail(p, count, &[])
    }

    /// [`reply_of`] with `tail` in the buffer after the payload (outside
    /// `data_size`: stale bytes of an earlier reply).
    fn reply_of_tail(p: &[u8], count: u32, tail: &[u8]) -> crate::kernel::control::Reply {
        use crate::kernel::abi::DATA_START;
        let header = DmIoctl {
            data_start: DATA_START as u32,
            data_size: (DATA_START + p.len()) as u32,
            target_count: count,
            flags: DmFlags::EXISTS.bits(),
            ..DmIoctl::default()
        };
        let mut bytes = vec![0u8; DATA_START + p.len()];
        codec::write_header(&mut bytes, &header);
        bytes[DATA_START..].copy_from_slice(p);
        bytes.extend_from_slice(tail);
        crate::kernel::control::Reply::from_bytes(&bytes).unwrap()
    }

    /// A STATUS/TABLE reply with these lines (struct dm_target_spec, then
    /// the NUL-terminated text padded to 8; `next` counts from the payload).
    fn spec_reply(lines: &[(u64, u64, &str, &[u8])]) -> crate::kernel::control::Reply {
        let mut p = Vec::new();
        for (i, (start, length, ty, text)) in lines.iter().enumerate() {
            let at = p.len();
            p.extend_from_slice(&start.to_ne_bytes());
            p.extend_from_slice(&length.to_ne_bytes());
            p.extend_from_slice(&0i32.to_ne_bytes());
            p.extend_from_slice(&0u32.to_ne_bytes());
            let mut tyf = [0u8; 16];
            tyf[..ty.len()].copy_from_slice(ty.as_bytes());
            p.extend_from_slice(&tyf);
            p.extend_from_slice(text);
            p.push(0);
            p.resize(p.len().next_multiple_of(8), 0);
            if i + 1 < lines.len() {
                let next = p.len() as u32;
                p[at + 20..at + 24].copy_from_slice(&next.to_ne_bytes());
            }
        }
        reply_of(&p, lines.len() as u32)
    }

    /// A LIST reply: (encoded dev, name, trailer (event_nr, flags, uuid)).
    /// A record without a trailer (kernels before 4.37) must be the last.
    type ListRecord<'a> = (u64, &'a str, Option<(u32, u32, Option<&'a str>)>);

    fn name_reply(records: &[ListRecord<'_>]) -> crate::kernel::control::Reply {
        let mut p = Vec::new();
        for (i, (dev, name, trailer)) in records.iter().enumerate() {
            let at = p.len();
            p.extend_from_slice(&dev.to_ne_bytes());
            p.extend_from_slice(&0u32.to_ne_bytes());
            p.extend_from_slice(name.as_bytes());
            p.push(0);
            if let Some((event_nr, flags, uuid)) = trailer {
                p.resize(p.len().next_multiple_of(8), 0);
                p.extend_from_slice(&event_nr.to_ne_bytes());
                p.extend_from_slice(&flags.to_ne_bytes());
                if let Some(u) = uuid {
                    p.extend_from_slice(u.as_bytes());
                    p.push(0);
                }
            }
            if i + 1 < records.len() {
                p.resize(p.len().next_multiple_of(8), 0);
                let next = (p.len() - at) as u32;
                p[at + 8..at + 12].copy_from_slice(&next.to_ne_bytes());
            }
        }
        reply_of(&p, 0)
    }

    /// The lean walk of table and status replies reads exactly what
    /// `codec::specs` reads, on every truncation and one-byte change of a
    /// reply the run accepts.
    #[test]
    fn spec_walk_agrees_with_the_exact_parser() {
        let lines: [(u64, u64, &str, &[u8]); 5] = [
            (0, 8, "linear", b"253:0 16"),
            (8, 8, "zero", b""),
            (16, 8, "crypt", KEY),
            (24, 8, "sixteen-byte-ty", b"1234567"),
            (32, 8, "linear", b"253:0 123456789"),
        ];
        let r = spec_reply(&lines);
        let p = r.payload().unwrap().to_vec();
        let mut cases: Vec<Vec<u8>> = (0..=p.len()).map(|n| p[..n].to_vec()).collect();
        for i in 0..p.len() {
            for v in [0u8, 1, 8, 0x20, 0x5c, 0xff] {
                let mut q = p.clone();
                q[i] = v;
                cases.push(q);
            }
        }
        let mut checked = 0;
        for q in cases {
            // The kernel ends a reply at the last NUL: the walk's words
            // run into the buffer after it, which may hold anything.
            for (count, tail) in [(5u32, &[][..]), (4, &[]), (5, &[0xff; 9]), (3, &[0x41; 9])] {
                // Only replies the run accepts are ever walked.
                let Ok(task) = Task::with_reply(
                    TaskType::Table,
                    crate::mangle::ManglingMode::Auto,
                    reply_of_tail(&q, count, tail),
                ) else {
                    continue;
                };
                checked += 1;
                let t = TableReply {
                    reply: task.reply.unwrap(),
                };
                let want: Vec<(u64, u64, &[u8], &[u8])> =
                    codec::specs(t.reply.payload().unwrap(), count)
                        .map(|e| {
                            let (_, e) = e.unwrap();
                            (e.start, e.length, e.target_type, e.params)
                        })
                        .collect();
                let got: Vec<(u64, u64, &[u8], &[u8])> = t
                    .iter()
                    .map(|l| (l.start, l.length, l.target_type, l.params))
                    .collect();
                assert_eq!(got, want, "{q:?}");
                let st: Vec<(u64, u64, &[u8], &[u8])> = StatusIter::over(Some(&t.reply))
                    .map(|l| (l.start, l.length, l.target_type, l.status))
                    .collect();
                assert_eq!(st, want);
                assert_eq!(t.iter().len(), want.len());
            }
        }
        assert!(checked > p.len(), "{checked} replies accepted");
    }

    const KEY: &[u8] = b"aes-xts-plain64 00112233445566778899aabbccddeeff 0 253:0 0";

    #[test]
    fn table_replies_lend_their_lines() {
        let lines: [(u64, u64, &str, &[u8]); 3] = [
            (0, 8, "linear", b"253:0 16"),
            (8, 16, "crypt", KEY),
            (24, 8, "zero", b""),
        ];
        let task = Task::with_reply(
            TaskType::Table,
            crate::mangle::ManglingMode::Auto,
            spec_reply(&lines),
        )
        .unwrap();
        let r = TableReply {
            reply: task.reply.unwrap(),
        };
        assert_eq!(r.len(), 3);
        assert!(!r.is_empty());
        let it = r.iter();
        assert_eq!(it.len(), 3);
        let got: Vec<TargetRef<'_>> = it.collect();
        let want: Vec<TargetRef<'_>> = lines
            .iter()
            .map(|&(start, length, ty, params)| TargetRef {
                start,
                length,
                target_type: ty.as_bytes(),
                params,
            })
            .collect();
        assert_eq!(got, want);
        // The lines point into the reply buffer: nothing was copied.
        let buf = r.reply.buf.as_bytes().as_ptr_range();
        assert!(got
            .iter()
            .all(|t| buf.contains(&t.params.as_ptr()) && buf.contains(&t.target_type.as_ptr())));
        // The owned lines table() returns, from the same reply.
        let owned: Vec<Target> = r.iter().map(|t| t.to_target().unwrap()).collect();
        assert_eq!(
            owned,
            vec![
                Target::new(0, 8, "linear", "253:0 16"),
                Target::new(8, 16, "crypt", KEY),
                Target::new(24, 8, "zero", ""),
            ]
        );
        // Neither a line nor the reply prints parameters.
        for shown in [
            format!("{:?}", got[1]),
            format!("{r:?}"),
            format!("{:?}", got[0]),
        ] {
            assert!(
                !shown.contains("00112233") && !shown.contains("253:0"),
                "{shown}"
            );
        }
        assert_eq!(format!("{:?}", got[2]), "24 8 zero <params hidden>");
        // `for t in &reply`, and partial walks keep the count right.
        let mut it = (&r).into_iter();
        it.next();
        assert_eq!(it.len(), 2);
        assert_eq!((&r).into_iter().count(), 3);
        // An empty table.
        let task = Task::with_reply(
            TaskType::Table,
            crate::mangle::ManglingMode::Auto,
            spec_reply(&[]),
        )
        .unwrap();
        let e = TableReply {
            reply: task.reply.unwrap(),
        };
        assert!(e.is_empty() && e.iter().next().is_none());
    }

    #[test]
    fn status_replies_lend_their_lines() {
        let lines: [(u64, u64, &str, &[u8]); 2] = [
            (0, 8, "linear", b""),
            (8, 8, "mirror", b"2 8:0 8:16 1/1 1 AA 1 core"),
        ];
        let task = Task::with_reply(
            TaskType::Status,
            crate::mangle::ManglingMode::Auto,
            spec_reply(&lines),
        )
        .unwrap();
        let r = StatusReply {
            reply: task.reply.unwrap(),
        };
        assert_eq!(r.len(), 2);
        let got: Vec<TargetStatusRef<'_>> = r.iter().collect();
        assert_eq!(
            got,
            vec![
                TargetStatusRef {
                    start: 0,
                    length: 8,
                    target_type: b"linear",
                    status: b""
                },
                TargetStatusRef {
                    start: 8,
                    length: 8,
                    target_type: b"mirror",
                    status: b"2 8:0 8:16 1/1 1 AA 1 core"
                },
            ]
        );
        // What status() and wait_event() return, from the same reply.
        let want = vec![
            st(0, 8, "linear", ""),
            st(8, 8, "mirror", "2 8:0 8:16 1/1 1 AA 1 core"),
        ];

        assert_eq!(r.iter().map(|s| s.to_status()).collect::<Vec<_>>(), want);
        assert_eq!(r.info().target_count, 2);
        assert_eq!(
            format!("{r:?}"),
            "[0 8 linear , 8 8 mirror 2 8:0 8:16 1/1 1 AA 1 core]"
        );
    }

    #[test]
    fn list_replies_lend_unmangled_names() {
        use crate::mangle::ManglingMode;
        use abi::{
            DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID as NO_UUID, DM_NAME_LIST_FLAG_HAS_UUID as UUID,
        };
        let records: [ListRecord<'_>; 4] = [
            (
                abi::encode_dev(253, 0),
                "plain",
                Some((3, UUID, Some("LVM-abc"))),
            ),
            (abi::encode_dev(253, 1), "a\\x20b", Some((0, NO_UUID, None))),
            (
                abi::encode_dev(253, 2),
                "m",
                Some((7, UUID, Some("u\\x2fv"))),
            ),
            (abi::encode_dev(254, 300), "old", None),
        ];
        let task =
            Task::with_reply(TaskType::List, ManglingMode::Auto, name_reply(&records)).unwrap();
        let r = ListReply {
            reply: task.reply.unwrap(),
        };
        let got: Vec<ListedDeviceRef<'_>> = r.iter().collect();
        type Fields<'a> = (&'a [u8], u32, u32, Option<u32>, Option<&'a [u8]>);
        fn fields<'a>(d: &ListedDeviceRef<'a>) -> Fields<'a> {
            (d.name(), d.major(), d.minor(), d.event_nr(), d.uuid())
        }
        let want: [Fields<'_>; 4] = [
            (b"plain", 253, 0, Some(3), Some(b"LVM-abc")),
            (b"a b", 253, 1, Some(0), Some(b"")),
            (b"m", 253, 2, Some(7), Some(b"u/v")),
            (b"old", 254, 300, None, None),
        ];
        assert_eq!(got.iter().map(fields).collect::<Vec<_>>(), want);
        // The records point into the reply buffer: nothing was copied.
        let buf = r.reply.buf.as_bytes().as_ptr_range();
        assert!(got.iter().all(|d| buf.contains(&d.name().as_ptr())));
        // What list_devices() returns, from the same reply.
        let owned: Vec<ListedDevice> = (&r).into_iter().map(|d| d.to_listed()).collect();
        assert_eq!(owned[1].name, b"a b");
        assert_eq!(owned[1].uuid, Some(Vec::new()));
        assert_eq!(owned[2].uuid.as_deref(), Some(&b"u/v"[..]));
        assert_eq!(owned[3].uuid, None);
        assert_eq!(owned.len(), 4);
        assert_eq!(
            format!("{:?}", got[1]),
            "ListedDeviceRef { name: \"a b\", major: 253, minor: 1, event_nr: Some(0), uuid: Some(\"\") }"
        );
        // Mangling mode "none": the names as the kernel sent them.
        let task =
            Task::with_reply(TaskType::List, ManglingMode::None, name_reply(&records)).unwrap();
        let r = ListReply {
            reply: task.reply.unwrap(),
        };
        assert_eq!(r.iter().nth(1).unwrap().name(), b"a\\x20b");
        // An empty list is one record with dev 0.
        let task = Task::with_reply(
            TaskType::List,
            ManglingMode::Auto,
            name_reply(&[(0, "", None)]),
        )
        .unwrap();
        let r = ListReply {
            reply: task.reply.unwrap(),
        };
        assert_eq!(r.iter().count(), 0);
    }

    #[test]
    fn list_walks_agree_with_the_codec_on_every_checked_reply() {
        use crate::mangle::ManglingMode;
        use abi::{
            DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID as NO_UUID, DM_NAME_LIST_FLAG_HAS_UUID as UUID,
        };
        let records: [ListRecord<'_>; 5] = [
            (abi::encode_dev(253, 0), "a", Some((1, UUID, Some("U-1")))),
            (
                abi::encode_dev(253, 1),
                "bench-lin-0001",
                Some((0, NO_UUID, None)),
            ),
            (abi::encode_dev(253, 2), "x\\x20y", Some((9, 0, None))),
            (
                abi::encode_dev(253, 3),
                "seven77",
                Some((2, UUID, Some("LVM-0123456789"))),
            ),
            (abi::encode_dev(254, 4), "last", None),
        ];
        let whole = name_reply(&records);
        let p = whole.payload().unwrap().to_vec();
        let mut cases: Vec<Vec<u8>> = (0..=p.len()).map(|n| p[..n].to_vec()).collect();
        for i in 0..p.len() {
            for v in [0u8, 1, 8, 16, 0x20, 0x5c, 0xff] {
                let mut q = p.clone();
                q[i] = v;
                cases.push(q);
            }
        }
        let mut checked = 0;
        for q in cases {
            // Only replies the run accepts are ever walked.
            let Ok(task) = Task::with_reply(TaskType::List, ManglingMode::Auto, reply_of(&q, 0))
            else {
                continue;
            };
            checked += 1;
            let r = ListReply {
                reply: task.reply.unwrap(),
            };
            let want: Vec<ListedDevice> = codec::names(r.reply.payload().unwrap())
                .map(|e| {
                    let e = e.unwrap();
                    let (major, minor) = abi::decode_dev(e.dev);
                    ListedDevice {
                        name: e.name.to_vec(),
                        major,
                        minor,
                        event_nr: e.event_nr,
                        uuid: listed_uuid(&e).map(<[u8]>::to_vec),
                    }
                })
                .collect();
            let got: Vec<ListedDevice> = r
                .iter()
                .map(|d| {
                    let l = d.to_listed();
                    assert_eq!(d.name(), &l.name[..]);
                    assert_eq!((d.major(), d.minor()), (l.major, l.minor));
                    assert_eq!(d.event_nr(), l.event_nr);
                    assert_eq!(d.uuid(), l.uuid.as_deref());
                    l
                })
                .collect();
            assert_eq!(got, want, "{q:?}");
        }
        assert!(checked > p.len(), "{checked} replies accepted");
    }

    #[test]
    fn deps_are_read_as_the_codec_reads_them() {
        // count 3, padding, three device numbers; then every truncation and
        // every one-byte change of it (and of an empty payload).
        let mut p = Vec::new();
        p.extend_from_slice(&3u32.to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        for (a, b) in [(8, 0), (253, 7), (4095, (1 << 20) - 1)] {
            p.extend_from_slice(&abi::encode_dev(a, b).to_ne_bytes());
        }
        let deps_of = |p: &[u8]| {
            DepsReply::from_reply(reply_of(p, 0)).map(|d| {
                // Every reader agrees: the walk, its length, get().
                let v: Vec<(u32, u32)> = d.iter().collect();
                assert_eq!(v.len(), d.len());
                assert_eq!(d.iter().len(), d.len());
                assert_eq!(d.is_empty(), v.is_empty());
                for (i, x) in v.iter().enumerate() {
                    assert_eq!(d.get(i), Some(*x));
                }
                assert_eq!(d.get(v.len()), None);
                assert_eq!(d.get(usize::MAX), None);
                v
            })
        };
        assert_eq!(
            deps_of(&p).unwrap(),
            vec![(8, 0), (253, 7), (4095, (1 << 20) - 1)]
        );
        assert_eq!(deps_of(&[]).unwrap(), vec![]);
        let old = |p: &[u8]| {
            codec::decode_deps(p).map(|v| v.into_iter().map(abi::decode_dev).collect::<Vec<_>>())
        };
        let mut cases: Vec<Vec<u8>> = (0..=p.len()).map(|n| p[..n].to_vec()).collect();
        for i in 0..p.len() {
            for v in [0u8, 1, 2, 0x80, 0xff] {
                let mut q = p.clone();
                q[i] = v;
                cases.push(q);
            }
        }
        for q in cases {
            match (deps_of(&q), old(&q)) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{q:?}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{q:?}: {a:?} against {b:?}"),
            }
        }
    }

    #[test]
    fn tables_are_checked_before_sending() {
        let mut t = Task::new(TaskType::Reload as i32);
        assert!(add_targets(
            &mut t,
            &[Target::new(0, 8, "zero", ""), Target::new(4, 8, "zero", "")]
        )
        .is_err());
        let mut t = Task::new(TaskType::Reload as i32);
        let e = add_targets(&mut t, &[Target::new(0, 1, "nonexistent_target", "")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("too long"));
        let mut t = Task::new(TaskType::Reload as i32);
        add_targets(&mut t, &[Target::new(0, 8, "crypt", "k")]).unwrap();
        assert!(t.secure_data);
    }
}
