//! Pure encoding and decoding of dm ioctl buffers.
//!
//! Everything here works on byte slices: no syscalls, no `unsafe`, no casts of
//! possibly unaligned pointers. A malformed or truncated kernel reply is a
//! [`DecodeError`], never a panic.

use super::abi::*;
use std::fmt;

/// Round `n` up to the next multiple of 8.
pub const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// A reply that does not have the shape the kernel promises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed reply from the kernel: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// The [`DecodeError`] text when the decoded records do not fit in memory
/// (their number comes from the kernel: decoding fails instead of aborting).
pub const NO_MEMORY: &str = "not enough memory to decode the reply";

/// Collect a walk whose length the kernel chose, failing instead of
/// aborting when memory runs out.
fn try_collect<T>(
    walk: impl Iterator<Item = Result<T, DecodeError>>,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::new();
    for x in walk {
        let x = x?;
        v.try_reserve(1).map_err(|_| DecodeError(NO_MEMORY))?;
        v.push(x);
    }
    Ok(v)
}

/// Why a request could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A device name is empty where one is required, or too long.
    NameTooLong(usize),
    /// A uuid of this many bytes does not fit.
    UuidTooLong(usize),
    /// A target type name is too long.
    TypeTooLong(String),
    /// A target type name is empty.
    EmptyType,
    /// A NUL byte inside a string that is sent NUL-terminated.
    EmbeddedNul(&'static str),
    /// The buffer would exceed the 32-bit `data_size` field.
    TooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::NameTooLong(n) => write!(
                f,
                "name of {n} bytes is too long (maximum {})",
                DM_NAME_LEN - 1
            ),
            EncodeError::UuidTooLong(n) => write!(
                f,
                "uuid of {n} bytes is too long (maximum {})",
                DM_UUID_LEN - 1
            ),
            EncodeError::TypeTooLong(t) => write!(f, "Target type name {t} is too long."),
            EncodeError::EmptyType => write!(f, "empty target type name"),
            EncodeError::EmbeddedNul(what) => write!(f, "{what} contains a NUL byte"),
            EncodeError::TooLarge => write!(f, "ioctl buffer would exceed 4 GiB"),
        }
    }
}

impl std::error::Error for EncodeError {}

fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?)
        .map(|s| u32::from_ne_bytes(s.try_into().unwrap_or([0; 4])))
}

fn rd_u64(b: &[u8], off: usize) -> Option<u64> {
    b.get(off..off.checked_add(8)?)
        .map(|s| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8])))
}

fn rd_i32(b: &[u8], off: usize) -> Option<i32> {
    rd_u32(b, off).map(|v| v as i32)
}

/// The bytes of a NUL-terminated string starting at `off`, bounded by `end`.
fn rd_cstr(b: &[u8], off: usize, end: usize) -> Option<&[u8]> {
    let s = b.get(off..end.min(b.len()))?;
    cstr_len(s).map(|n| &s[..n])
}

pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is zero (read little-endian, the
/// lowest set bit is exact; bits above it may be false positives).
#[inline(always)]
pub(crate) fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGHS
}

#[inline]
fn word(c: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(c);
    u64::from_le_bytes(w)
}

/// Length of the NUL-terminated string at the start of `s`, or `None` when
/// `s` holds no NUL. Eight bytes at a time: replies hold thousands of short
/// strings, and the byte-at-a-time search is most of their cost.
#[inline]
pub fn cstr_len(s: &[u8]) -> Option<usize> {
    // Most strings end in their first word (a target's type and short
    // parameters, names): settled before the loop's setup.
    let (mut at, rest) = match s.split_first_chunk::<8>() {
        Some((w, rest)) => {
            let z = zero_bytes(u64::from_le_bytes(*w));
            if z != 0 {
                return Some((z.trailing_zeros() / 8) as usize);
            }
            (8, rest)
        }
        None => (0, s),
    };
    let mut chunks = rest.chunks_exact(8);
    for c in &mut chunks {
        let z = zero_bytes(word(c));
        if z != 0 {
            return Some(at + (z.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == 0)
        .map(|i| at + i)
}

/// Whether some byte of `s` is one `byte` accepts, eight bytes at a time
/// (`word` says whether a word holds such a byte, exactly); the tail of a
/// string of eight bytes or more is read as the overlapping last word.
#[inline(always)]
fn any_byte(s: &[u8], byte: impl Fn(u8) -> bool, word_hit: impl Fn(u64) -> bool) -> bool {
    let Some(last) = s.len().checked_sub(8) else {
        return s.iter().any(|&c| byte(c));
    };
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        if word_hit(word(c)) {
            return true;
        }
    }
    !chunks.remainder().is_empty() && word_hit(word(&s[last..]))
}

/// Whether `s` holds the byte `b` (eight bytes at a time).
#[inline]
pub fn contains_byte(s: &[u8], b: u8) -> bool {
    let pattern = ONES.wrapping_mul(u64::from(b));
    any_byte(s, |c| c == b, |w| zero_bytes(w ^ pattern) != 0)
}

/// Whether `s` holds the byte `a` or the byte `b`, in one pass.
#[inline]
pub fn contains_either(s: &[u8], a: u8, b: u8) -> bool {
    let (pa, pb) = (
        ONES.wrapping_mul(u64::from(a)),
        ONES.wrapping_mul(u64::from(b)),
    );
    any_byte(
        s,
        |c| c == a || c == b,
        |w| zero_bytes(w ^ pa) | zero_bytes(w ^ pb) != 0,
    )
}

/// Copy `src` into a fixed-size, NUL-terminated field.
pub fn put_fixed(field: &mut [u8], src: &[u8], what: &'static str) -> Result<(), EncodeError> {
    check_fixed(field.len(), src, what)?;
    let (head, tail) = field.split_at_mut(src.len());
    head.copy_from_slice(src);
    tail.fill(0);
    Ok(())
}

/// Whether `src` fits a fixed-size field of `field_len` bytes with its NUL
/// (no NUL inside, shorter than the field): [`put_fixed`]'s checks.
/// `nul_free` says the caller knows `src` holds no NUL (the scan is skipped).
#[inline]
pub fn check_fixed_known(
    field_len: usize,
    src: &[u8],
    what: &'static str,
    nul_free: bool,
) -> Result<(), EncodeError> {
    if src.len() < field_len && (nul_free || !contains_byte(src, 0)) {
        return Ok(());
    }
    check_fixed(field_len, src, what)
}

/// [`put_fixed`]'s checks alone.
pub fn check_fixed(field_len: usize, src: &[u8], what: &'static str) -> Result<(), EncodeError> {
    if contains_byte(src, 0) {
        return Err(EncodeError::EmbeddedNul(what));
    }
    if src.len() >= field_len {
        return Err(if field_len == DM_UUID_LEN {
            EncodeError::UuidTooLong(src.len())
        } else {
            EncodeError::NameTooLong(src.len())
        });
    }
    Ok(())
}

/// `dst.copy_from_slice(src)` for the short strings names and paths
/// usually are: 8 to 16 bytes are copied inline as two (overlapping)
/// words, without the call to memcpy a copy of unknown length makes.
#[inline(always)]
pub fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if (8..=16).contains(&n) && dst.len() == n {
        let mut w = [0u8; 8];
        w.copy_from_slice(&src[..8]);
        dst[..8].copy_from_slice(&w);
        w.copy_from_slice(&src[n - 8..]);
        dst[n - 8..].copy_from_slice(&w);
    } else {
        dst.copy_from_slice(src);
    }
}

/// Whether the fixed-size field holds exactly `s` and its NUL (what
/// `fixed_str(field) == s` says for an `s` without NUL), compared eight
/// bytes at a time without a call: the names it checks are short.
#[inline]
pub fn fixed_holds(field: &[u8], s: &[u8]) -> bool {
    let n = s.len();
    if field.get(n) != Some(&0) {
        return false;
    }
    let word = |b: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    if n < 8 {
        return field.iter().zip(s).all(|(a, b)| a == b);
    }
    // Whole words, then the last eight bytes (overlapping the words is
    // harmless).
    let mut at = 0;
    while at + 8 <= n {
        if word(field, at) != word(s, at) {
            return false;
        }
        at += 8;
    }
    at == n || word(field, n - 8) == word(s, n - 8)
}

/// The string stored in a fixed-size field (up to the first NUL).
pub fn fixed_str(field: &[u8]) -> &[u8] {
    match cstr_len(field) {
        Some(n) => &field[..n],
        None => field,
    }
}

/// Serialise a header into the first 312 bytes of `out`.
pub fn write_header(out: &mut [u8], h: &DmIoctl) {
    let b = &mut out[..DATA_START];
    for (i, v) in h.version.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    b[12..16].copy_from_slice(&h.data_size.to_ne_bytes());
    b[16..20].copy_from_slice(&h.data_start.to_ne_bytes());
    b[20..24].copy_from_slice(&h.target_count.to_ne_bytes());
    b[24..28].copy_from_slice(&h.open_count.to_ne_bytes());
    b[28..32].copy_from_slice(&h.flags.to_ne_bytes());
    b[32..36].copy_from_slice(&h.event_nr.to_ne_bytes());
    b[36..40].copy_from_slice(&h.padding.to_ne_bytes());
    b[40..48].copy_from_slice(&h.dev.to_ne_bytes());
    b[48..176].copy_from_slice(&h.name);
    b[176..305].copy_from_slice(&h.uuid);
    b[305..312].copy_from_slice(&h.data);
}

/// The interface version in a header (the kernel writes it even when the
/// ioctl fails).
pub fn read_version(b: &[u8]) -> Result<[u32; 3], DecodeError> {
    match (rd_u32(b, 0), rd_u32(b, 4), rd_u32(b, 8)) {
        (Some(a), Some(m), Some(p)) => Ok([a, m, p]),
        _ => Err(DecodeError("buffer shorter than struct dm_ioctl")),
    }
}

/// Check the header of a reply where it lies (the first 312 bytes of `b`):
/// long enough, and its name and uuid fields NUL-terminated (C callers get
/// pointers to them). Replies are read in place after this check.
pub fn check_reply_header(b: &[u8]) -> Result<(), DecodeError> {
    if b.len() < DATA_START {
        return Err(DecodeError("buffer shorter than struct dm_ioctl"));
    }
    // The usual field ends in a NUL (what the kernel writes is shorter than
    // the field, into a request whose fields were zeroed): one load.
    let terminated = |f: &[u8]| f.last() == Some(&0) || cstr_len(f).is_some();
    if !terminated(&b[48..176]) || !terminated(&b[176..305]) {
        return Err(DecodeError("name or uuid not NUL-terminated"));
    }
    Ok(())
}

/// [`read_reply_header`] into an existing header (no copy of the result).
pub fn read_reply_header_into(b: &[u8], h: &mut DmIoctl) -> Result<(), DecodeError> {
    check_reply_header(b)?;
    let u = |o| rd_u32(b, o).unwrap_or(0);
    h.version = [u(0), u(4), u(8)];
    h.data_size = u(12);
    h.data_start = u(16);
    h.target_count = u(20);
    h.open_count = rd_i32(b, 24).unwrap_or(0);
    h.flags = u(28);
    h.event_nr = u(32);
    h.padding = u(36);
    h.dev = rd_u64(b, 40).unwrap_or(0);
    h.name.copy_from_slice(&b[48..176]);
    h.uuid.copy_from_slice(&b[176..305]);
    h.data.copy_from_slice(&b[305..312]);
    Ok(())
}

/// Parse a header from the first 312 bytes of a buffer.
pub fn read_header(b: &[u8]) -> Result<DmIoctl, DecodeError> {
    if b.len() < DATA_START {
        return Err(DecodeError("buffer shorter than struct dm_ioctl"));
    }
    let u = |o| rd_u32(b, o).unwrap_or(0);
    let mut h = DmIoctl {
        version: [u(0), u(4), u(8)],
        data_size: u(12),
        data_start: u(16),
        target_count: u(20),
        open_count: rd_i32(b, 24).unwrap_or(0),
        flags: u(28),
        event_nr: u(32),
        padding: u(36),
        dev: rd_u64(b, 40).unwrap_or(0),
        ..DmIoctl::default()
    };
    h.name.copy_from_slice(&b[48..176]);
    h.uuid.copy_from_slice(&b[176..305]);
    h.data.copy_from_slice(&b[305..312]);
    Ok(h)
}

/// [`read_header`] for a reply: also checks that the name and uuid fields
/// are NUL-terminated (C callers get pointers to them).
pub fn read_reply_header(b: &[u8]) -> Result<DmIoctl, DecodeError> {
    let mut h = DmIoctl::default();
    read_reply_header_into(b, &mut h)?;
    Ok(h)
}

/// The payload of a successful reply: `buf[data_start..data_size]`, checked.
pub fn reply_payload<'a>(buf: &'a [u8], h: &DmIoctl) -> Result<&'a [u8], DecodeError> {
    let start = h.data_start as usize;
    let end = h.data_size as usize;
    if start < DATA_START || start % 8 != 0 {
        // The kernel always answers with the aligned data_start it was sent;
        // anything else would hand C callers misaligned records.
        return Err(DecodeError("data_start not the aligned end of the header"));
    }
    if end > buf.len() {
        return Err(DecodeError("data_start/data_size outside the buffer"));
    }
    if end < start {
        return Ok(&[]);
    }
    Ok(&buf[start..end])
}

/// One target of a table to load.
#[derive(Clone, Copy, Debug)]
pub struct TargetRef<'a> {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// Target type name.
    pub target_type: &'a [u8],
    /// Parameters.
    pub params: &'a [u8],
}

/// Bytes one target occupies in a TABLE_LOAD payload.
pub fn target_encoded_len(t: &TargetRef<'_>) -> usize {
    let mut escaped = t.params.len();
    if contains_byte(t.params, b'\\') {
        escaped += t.params.iter().filter(|&&c| c == b'\\').count();
    }
    std::mem::size_of::<DmTargetSpec>() + align8(escaped + 1)
}

/// Check a target type the way the kernel and libdevmapper require.
pub fn check_target_type(t: &[u8]) -> Result<(), EncodeError> {
    if t.is_empty() {
        return Err(EncodeError::EmptyType);
    }
    if contains_byte(t, 0) {
        return Err(EncodeError::EmbeddedNul("target type"));
    }
    if t.len() >= DM_MAX_TYPE_NAME {
        return Err(EncodeError::TypeTooLong(
            String::from_utf8_lossy(t).into_owned(),
        ));
    }
    Ok(())
}

/// Write one target spec at the start of `out` (zeroed, at least
/// [`target_encoded_len`] long); returns its length. The type and
/// parameters must have been checked (no NUL, type shorter than 16).
pub fn encode_target_into(out: &mut [u8], t: &TargetRef<'_>) -> usize {
    let len = target_encoded_len(t);
    let spec = &mut out[..len];
    spec[0..8].copy_from_slice(&t.start.to_ne_bytes());
    spec[8..16].copy_from_slice(&t.length.to_ne_bytes());
    spec[20..24].copy_from_slice(&(len as u32).to_ne_bytes());
    spec[24..24 + t.target_type.len()].copy_from_slice(t.target_type);
    if !contains_byte(t.params, b'\\') {
        spec[40..40 + t.params.len()].copy_from_slice(t.params);
    } else {
        let mut p = 40;
        for &c in t.params {
            if c == b'\\' {
                spec[p] = b'\\';
                p += 1;
            }
            spec[p] = c;
            p += 1;
        }
    }
    len
}

/// Append a table's target specs to `out` (which starts at `data_start`, an
/// 8-aligned offset). Each spec's `next` is the distance from that spec to the
/// following one, as the kernel expects on load; every spec starts 8-aligned.
/// Backslashes in params are doubled because the kernel's argument splitter
/// treats backslash as an escape character (libdevmapper does the same).
pub fn encode_targets<'a, I>(out: &mut Vec<u8>, targets: I) -> Result<u32, EncodeError>
where
    I: IntoIterator<Item = TargetRef<'a>>,
{
    let mut count: u32 = 0;
    for t in targets {
        check_target_type(t.target_type)?;
        if contains_byte(t.params, 0) {
            return Err(EncodeError::EmbeddedNul("target parameters"));
        }
        let at = out.len();
        debug_assert_eq!(at % 8, 0);
        let len = target_encoded_len(&t);
        let next = u32::try_from(len).map_err(|_| EncodeError::TooLarge)?;
        out.resize(at + len, 0);
        let spec = &mut out[at..at + len];
        spec[0..8].copy_from_slice(&t.start.to_ne_bytes());
        spec[8..16].copy_from_slice(&t.length.to_ne_bytes());
        spec[16..20].copy_from_slice(&0i32.to_ne_bytes());
        spec[20..24].copy_from_slice(&next.to_ne_bytes());
        spec[24..24 + t.target_type.len()].copy_from_slice(t.target_type);
        let mut p = 40;
        for &c in t.params {
            if c == b'\\' {
                spec[p] = b'\\';
                p += 1;
            }
            spec[p] = c;
            p += 1;
        }
        count = count.checked_add(1).ok_or(EncodeError::TooLarge)?;
    }
    if out.len() > u32::MAX as usize - DATA_START {
        return Err(EncodeError::TooLarge);
    }
    Ok(count)
}

/// Append a NUL-terminated string payload (rename target, geometry).
pub fn encode_string(out: &mut Vec<u8>, s: &[u8], what: &'static str) -> Result<(), EncodeError> {
    if contains_byte(s, 0) {
        return Err(EncodeError::EmbeddedNul(what));
    }
    out.extend_from_slice(s);
    out.push(0);
    Ok(())
}

/// Append a `dm_target_msg` payload: the sector, then the NUL-terminated text.
pub fn encode_message(out: &mut Vec<u8>, sector: u64, msg: &[u8]) -> Result<(), EncodeError> {
    if contains_byte(msg, 0) {
        return Err(EncodeError::EmbeddedNul("message"));
    }
    out.extend_from_slice(&sector.to_ne_bytes());
    out.extend_from_slice(msg);
    out.push(0);
    Ok(())
}

/// Build the geometry string the kernel parses: "cyl heads sectors start".
pub fn geometry_string(cylinders: &str, heads: &str, sectors: &str, start: &str) -> String {
    format!("{cylinders} {heads} {sectors} {start}")
}

/// One entry of a LIST_DEVICES reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameEntry<'a> {
    /// Offset of the record inside the payload.
    pub offset: usize,
    /// Encoded device number.
    pub dev: u64,
    /// Name (NUL excluded).
    pub name: &'a [u8],
    /// Present on kernels with interface 4.37+.
    pub event_nr: Option<u32>,
    /// Name-list trailer flags (4.45+).
    pub flags: Option<u32>,
    /// Present when requested with `DM_UUID_FLAG` on 4.45+ kernels.
    pub uuid: Option<&'a [u8]>,
}

/// The `next` offset of the name-list record at `off`.
pub fn name_record_next(p: &[u8], off: usize) -> Option<usize> {
    rd_u32(p, off.checked_add(8)?).map(|n| n as usize)
}

/// Rewrite the name-list record `rec` (from its dev field to where the next
/// record starts) with `name`, the trailer (event number, flags) and `uuid`,
/// keeping its dev and next fields and zeroing what is left. Used when
/// unmangling shortens a record's strings; anything that would not fit is
/// left as it was.
pub fn rewrite_name_record(
    rec: &mut [u8],
    name: &[u8],
    trailer: Option<(u32, u32)>,
    uuid: Option<&[u8]>,
) {
    let name_end = NAME_LIST_NAME_OFFSET + name.len() + 1;
    let trailer_at = align8(name_end);
    let need = match (trailer, uuid) {
        (Some(_), Some(u)) => trailer_at + 8 + u.len() + 1,
        (Some(_), None) => trailer_at + 8,
        (None, _) => name_end,
    };
    if need > rec.len() {
        return;
    }
    rec[NAME_LIST_NAME_OFFSET..].fill(0);
    rec[NAME_LIST_NAME_OFFSET..name_end - 1].copy_from_slice(name);
    if let Some((event_nr, flags)) = trailer {
        rec[trailer_at..trailer_at + 4].copy_from_slice(&event_nr.to_ne_bytes());
        rec[trailer_at + 4..trailer_at + 8].copy_from_slice(&flags.to_ne_bytes());
        if let Some(u) = uuid {
            rec[trailer_at + 8..trailer_at + 8 + u.len()].copy_from_slice(u);
        }
    }
}

/// Walk a LIST_DEVICES payload. An empty list is a single record with dev 0.
pub fn decode_names(p: &[u8]) -> Result<Vec<NameEntry<'_>>, DecodeError> {
    try_collect(names(p))
}

/// The records of a LIST_DEVICES payload, one by one, without allocating;
/// a malformed record ends the walk with an error.
pub fn names(p: &[u8]) -> NameIter<'_> {
    let done = p.is_empty() || rd_u64(p, 0) == Some(0);
    NameIter { p, off: 0, done }
}

/// One name-list record, as [`name_record`] reads it.
struct NameRecord<'a> {
    /// Distance to the next record (0: the last).
    next: usize,
    name: &'a [u8],
    /// Event number and flags (4.37+ / 4.45+ kernels).
    trailer: Option<(u32, u32)>,
    uuid: Option<&'a [u8]>,
}

const NAME_TRUNCATED: DecodeError = DecodeError("truncated name-list record");

/// The name-list record at the start of `rest` (the payload from that
/// record on), checked: the one parser of [`names`] and [`walk_names`].
/// Inlined, so a walk that uses only the name pays for nothing else.
#[inline(always)]
fn name_record(rest: &[u8]) -> Result<NameRecord<'_>, DecodeError> {
    // dev (8 bytes, read by the caller that wants it), then next (4).
    let next = rd_u32(rest, 8).ok_or(NAME_TRUNCATED)? as usize;
    let len = if next == 0 {
        rest.len()
    } else if next < 16 || next % 8 != 0 {
        return Err(DecodeError("bad name-list next offset"));
    } else if next > rest.len() {
        return Err(DecodeError("name-list record runs past the reply"));
    } else {
        next
    };
    let rec = &rest[..len];
    let body = &rec[NAME_LIST_NAME_OFFSET..];
    let n = cstr_len(body).ok_or(DecodeError("unterminated name in name list"))?;
    let at = align8(NAME_LIST_NAME_OFFSET + n + 1);
    let mut trailer = None;
    let mut uuid = None;
    if let Some(t) = rec.get(at..at + 8) {
        let flags = rd_u32(t, 4).unwrap_or(0);
        trailer = Some((rd_u32(t, 0).unwrap_or(0), flags));
        if flags & DM_NAME_LIST_FLAG_HAS_UUID != 0 {
            let u = &rec[at + 8..];
            let m = cstr_len(u).ok_or(DecodeError("unterminated uuid in name list"))?;
            uuid = Some(&u[..m]);
        }
    }
    Ok(NameRecord {
        next,
        name: &body[..n],
        trailer,
        uuid,
    })
}

/// Walk a LIST_DEVICES payload with the checks of [`names`], handing each
/// record's name and uuid to `each`; stops at the first malformed record
/// (the error) or when `each` returns false (`Ok(false)`). The lean walk
/// of a reply with thousands of records: nothing is built per record.
#[inline]
pub fn walk_names(
    p: &[u8],
    mut each: impl FnMut(&[u8], Option<&[u8]>) -> bool,
) -> Result<bool, DecodeError> {
    if p.is_empty() || rd_u64(p, 0) == Some(0) {
        return Ok(true);
    }
    let mut off = 0usize;
    loop {
        let r = name_record(p.get(off..).unwrap_or_default())?;
        if !each(r.name, r.uuid) {
            return Ok(false);
        }
        if r.next == 0 {
            return Ok(true);
        }
        off += r.next;
    }
}

/// The high bit of every NUL byte of `w` (eight bytes of a string read
/// little-endian; bits above the lowest may be false positives): the
/// `flag` of a [`walk_names_flagged`] that only validates.
#[inline(always)]
pub fn nul_bytes(w: u64) -> u64 {
    zero_bytes(w)
}

/// [`walk_names`] with a word-at-a-time fast path: same result, same
/// error, same calls of `each` where they matter, for any `flag` that
/// keeps this contract: `flag(w)` sets only high bits (`0x80` of a byte),
/// sets the one of every NUL byte of `w` (the eight bytes of a string
/// read little-endian), and leaves clear only bytes `each` accepts in any
/// name or uuid (e.g. whitelisted bytes; [`nul_bytes`] when `each` accepts
/// everything). Only its lowest set bit is used.
///
/// A record whose name and uuid end inside it, in whole words of the
/// payload, with no flagged byte before their NUL, is checked here without
/// calling `each`; any other record (the last one, a malformed one, a name
/// with a flagged byte, an old kernel's record without event number) goes
/// to the exact parser and to `each`, out of line.
#[inline]
pub fn walk_names_flagged(
    p: &[u8],
    flag: impl Fn(u64) -> u64,
    mut each: impl FnMut(&[u8], Option<&[u8]>) -> bool,
) -> Result<bool, DecodeError> {
    if p.is_empty() || rd_u64(p, 0) == Some(0) {
        return Ok(true);
    }
    let mut rest = p;
    // Eight bytes vouched for: the first word of the last name the fast
    // path took whole, to start with any word `flag` leaves clear (NULs
    // never are). The kernel lists names sorted, so a name often starts
    // as the one before it: no test then.
    let mut known = u64::from_le_bytes(*b"--------");
    loop {
        rest = usual_name_records(rest, &mut known, &flag);
        if let Some(after) = fast_name_record(rest, &mut known, &flag) {
            rest = after;
            continue;
        }
        match name_step(rest, &mut each)? {
            NameStep::Next(next) => rest = rest.get(next..).unwrap_or_default(),
            NameStep::Done(all) => return Ok(all),
        }
    }
}

/// The records [`usual_name_record`] vouches for, from the start of
/// `rest`: what follows them. Not inlined, and calling nothing: its loop,
/// alone in a function, keeps the constants of `flag` in registers.
#[inline(never)]
fn usual_name_records<'a>(
    mut rest: &'a [u8],
    known: &mut u64,
    flag: &impl Fn(u64) -> u64,
) -> &'a [u8] {
    let mut k = *known;
    while let Some(after) = usual_name_record(rest, &mut k, flag) {
        rest = after;
    }
    *known = k;
    rest
}

/// [`fast_name_record`] for the usual record, in few instructions: a
/// name of 8 to 15 bytes, then its event number and flags, which end the
/// record, and no uuid (a kernel's record of a device without one). What
/// follows it when this vouches for it, `None` for any other record (which
/// [`fast_name_record`] or the exact parser then decides).
#[inline(always)]
fn usual_name_record<'a>(
    rest: &'a [u8],
    known: &mut u64,
    flag: &impl Fn(u64) -> u64,
) -> Option<&'a [u8]> {
    const NAME: usize = NAME_LIST_NAME_OFFSET;
    let head = rest.first_chunk::<{ NAME + 16 }>()?;
    let next = u32_at(head, 8) as usize;
    let (rec, after) = rest.split_at_checked(next)?;
    let w = word_at(head, NAME);
    if w != *known {
        if flag(w) != 0 {
            return None;
        }
        *known = w;
    }
    let w = word_at(head, NAME + 8);
    let f = flag(w);
    // The name's NUL: the first flagged byte of its second word.
    let bit = f.trailing_zeros() & 0x38;
    if f == 0 || (w >> bit) as u8 != 0 {
        return None;
    }
    // `align8(NAME + n + 1) + 8` for `n = 8 + bit / 8`: where the event
    // number and flags end, and the record with them. Equal to `next`,
    // it also proves `next` a multiple of 8 and at least 32.
    let end = (bit as usize / 8 + NAME + 24) & !7;
    if end != next {
        return None;
    }
    let flags = rd_u32(rec, end - 4)?;
    // A uuid said to follow would start at the record's end.
    (flags & DM_NAME_LIST_FLAG_HAS_UUID == 0).then_some(after)
}

/// What the exact parser made of one record of a name walk.
enum NameStep {
    /// Go on this far.
    Next(usize),
    /// The walk is over: the last record (`true`) or `each` said stop.
    Done(bool),
}

/// One record of [`walk_names_flagged`] the fast path did not vouch for:
/// exactly one turn of [`walk_names`]'s loop.
#[cold]
#[inline(never)]
fn name_step(
    rest: &[u8],
    each: &mut impl FnMut(&[u8], Option<&[u8]>) -> bool,
) -> Result<NameStep, DecodeError> {
    let r = name_record(rest)?;
    if !each(r.name, r.uuid) {
        return Ok(NameStep::Done(false));
    }
    Ok(match r.next {
        0 => NameStep::Done(true),
        n => NameStep::Next(n),
    })
}

/// The little-endian word at `at` of an array (`at + 8 <= N`, checked
/// when compiled: no run-time bounds check).
#[inline(always)]
fn word_at<const N: usize>(a: &[u8; N], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&a[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The native-endian `u32` at `at` of an array (like [`word_at`]).
#[inline(always)]
fn u32_at<const N: usize>(a: &[u8; N], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&a[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Where the first flagged byte of `w` is (`f = flag(w)`, not 0), when it
/// is a NUL: the length of a string ending in this word.
#[inline(always)]
fn nul_first(w: u64, f: u64) -> Option<usize> {
    let bit = f.trailing_zeros() & !7;
    ((w >> bit) as u8 == 0).then_some((bit / 8) as usize)
}

/// The fast path of [`walk_names_flagged`] for the record at the start of
/// `rest`: what follows it, when it is not the last record, its `next` is
/// valid, and its name (and uuid, if flagged present) end in whole words
/// inside the record with no flagged byte before their NUL; then
/// [`name_record`] accepts it with that `next`, and `each` would accept
/// its strings. `None`: decide the exact way. `known`: eight bytes
/// vouched for; a name starting with them is tested from its second word
/// on, and a name whose first eight bytes are vouched for leaves them here.
///
/// The usual record (a kernel's, without uuid) ends with its event number
/// and flags right after the name's word: then the one test that the
/// trailer is where the name puts it (`at + 8 == next`) also proves `next`
/// a multiple of 8 and at least 24, as [`name_record`] wants it.
#[inline(never)]
fn fast_name_record<'a>(
    rest: &'a [u8],
    known: &mut u64,
    flag: &impl Fn(u64) -> u64,
) -> Option<&'a [u8]> {
    const NAME: usize = NAME_LIST_NAME_OFFSET;
    // dev, next and the name's first two words: every record but the last
    // (which goes the exact way) has at least its own 24 bytes and the
    // last one's 24 after it.
    let head = rest.first_chunk::<{ NAME + 16 }>()?;
    let next = u32_at(head, 8) as usize;
    let (rec, after) = rest.split_at_checked(next)?;
    // The name's length, a word at a time; its first word is not tested
    // when it is the one vouched for last.
    let w = word_at(head, NAME);
    let n = if w == *known {
        8 + name_from_second_word(head, rest, flag)?
    } else {
        match flag(w) {
            0 => {
                *known = w;
                8 + name_from_second_word(head, rest, flag)?
            }
            f => nul_first(w, f)?,
        }
    };
    // The event number and flags, in the word after the name's NUL:
    // `at = align8(NAME + n + 1)`, and `at + 8` is where they end.
    let end = (NAME + n + 16) & !7;
    if end == next {
        let flags = u32::from_ne_bytes(*rec.last_chunk::<4>()?);
        // A uuid said to follow would start at the record's end.
        return (flags & DM_NAME_LIST_FLAG_HAS_UUID == 0).then_some(after);
    }
    // A record with more after the trailer: a uuid (or padding).
    let at = end - 8;
    if end > next || next % 8 != 0 {
        return None; // the last record, an old kernel's, a bad offset
    }
    let flags = rd_u32(rec, at + 4)?;
    if flags & DM_NAME_LIST_FLAG_HAS_UUID != 0 {
        // Its NUL in a whole word of the record (both ends are aligned).
        flagged_cstr_end(rec.get(at + 8..)?, flag)?;
    }
    Some(after)
}

/// The length of a name from its second word on ([`fast_name_record`]'s
/// `head` holds it), when its first word is vouched for: as
/// [`flagged_cstr_end`] of the name's bytes from there.
#[inline(always)]
fn name_from_second_word(
    head: &[u8; NAME_LIST_NAME_OFFSET + 16],
    rest: &[u8],
    flag: &impl Fn(u64) -> u64,
) -> Option<usize> {
    let w = word_at(head, NAME_LIST_NAME_OFFSET + 8);
    match flag(w) {
        0 => Some(8 + flagged_cstr_end(rest.get(NAME_LIST_NAME_OFFSET + 16..)?, flag)?),
        f => nul_first(w, f),
    }
}

/// The length of the NUL-terminated string at the start of `s`, read
/// eight bytes at a time, when its NUL is in a whole word of `s` and no
/// byte before it is flagged; `None` otherwise.
#[inline(always)]
fn flagged_cstr_end(s: &[u8], flag: &impl Fn(u64) -> u64) -> Option<usize> {
    let mut t = s;
    loop {
        let (c, more) = t.split_first_chunk::<8>()?;
        let w = u64::from_le_bytes(*c);
        let f = flag(w);
        if f != 0 {
            return nul_first(w, f).map(|i| s.len() - t.len() + i);
        }
        t = more;
    }
}

/// Iterator of [`names`].
#[derive(Clone, Debug)]
pub struct NameIter<'a> {
    p: &'a [u8],
    off: usize,
    done: bool,
}

impl<'a> NameIter<'a> {
    fn record(&mut self) -> Result<NameEntry<'a>, DecodeError> {
        let (p, off) = (self.p, self.off);
        let rest = p.get(off..).unwrap_or_default();
        let dev = rd_u64(rest, 0).ok_or(NAME_TRUNCATED)?;
        let r = name_record(rest)?;
        if r.next == 0 {
            self.done = true;
            self.off = p.len();
        } else {
            self.off = off + r.next;
        }
        Ok(NameEntry {
            offset: off,
            dev,
            name: r.name,
            event_nr: r.trailer.map(|t| t.0),
            flags: r.trailer.map(|t| t.1),
            uuid: r.uuid,
        })
    }
}

impl<'a> Iterator for NameIter<'a> {
    type Item = Result<NameEntry<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.record();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

/// One entry of a LIST_VERSIONS / GET_TARGET_VERSION reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionEntry<'a> {
    /// Offset of the record inside the payload.
    pub offset: usize,
    /// Target type name.
    pub name: &'a [u8],
    /// Its version.
    pub version: [u32; 3],
}

/// Walk a LIST_VERSIONS / GET_TARGET_VERSION payload.
pub fn decode_versions(p: &[u8]) -> Result<Vec<VersionEntry<'_>>, DecodeError> {
    try_collect(versions(p))
}

/// The records of a versions payload, one by one, without allocating.
pub fn versions(p: &[u8]) -> VersionIter<'_> {
    VersionIter {
        p,
        off: 0,
        done: p.is_empty(),
    }
}

/// Iterator of [`versions`].
#[derive(Clone, Debug)]
pub struct VersionIter<'a> {
    p: &'a [u8],
    off: usize,
    done: bool,
}

impl<'a> VersionIter<'a> {
    fn record(&mut self) -> Result<VersionEntry<'a>, DecodeError> {
        let (p, off) = (self.p, self.off);
        let next = rd_u32(p, off).ok_or(DecodeError("truncated versions record"))? as usize;
        let v =
            |i: usize| rd_u32(p, off + 4 + 4 * i).ok_or(DecodeError("truncated versions record"));
        let version = [v(0)?, v(1)?, v(2)?];
        if next != 0 && (next < 17 || next % 8 != 0) {
            return Err(DecodeError("bad versions next offset"));
        }
        let end = if next == 0 {
            p.len()
        } else {
            off.checked_add(next)
                .ok_or(DecodeError("versions overflow"))?
        };
        if end > p.len() {
            return Err(DecodeError("versions record runs past the reply"));
        }
        let name = rd_cstr(p, off + VERSIONS_NAME_OFFSET, end)
            .ok_or(DecodeError("unterminated target name"))?;
        if next == 0 {
            self.done = true;
        }
        self.off = end;
        Ok(VersionEntry {
            offset: off,
            name,
            version,
        })
    }
}

impl<'a> Iterator for VersionIter<'a> {
    type Item = Result<VersionEntry<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.record();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

/// Device numbers of a TABLE_DEPS payload.
pub fn decode_deps(p: &[u8]) -> Result<Vec<u64>, DecodeError> {
    let n = deps_count(p)?;
    let mut out = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| DecodeError(NO_MEMORY))?;
    out.extend((0..n).map(|i| rd_u64(p, 8 + 8 * i).unwrap_or(0)));
    Ok(out)
}

/// The number of device numbers a DEPS payload holds, checked to fit.
pub fn deps_count(p: &[u8]) -> Result<usize, DecodeError> {
    // A device without a table: the kernel writes no deps record at all.
    if p.is_empty() {
        return Ok(0);
    }
    let count = rd_u32(p, 0).ok_or(DecodeError("truncated deps header"))? as usize;
    let need = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(8))
        .ok_or(DecodeError("deps count overflow"))?;
    if need > p.len() {
        return Err(DecodeError("deps list runs past the reply"));
    }
    Ok(count)
}

/// One target of a TABLE_STATUS / DEV_WAIT reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecEntry<'a> {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    /// The spec's status field.
    pub status: i32,
    /// Target type name.
    pub target_type: &'a [u8],
    /// Parameters or status text.
    pub params: &'a [u8],
}

/// Walk `count` target specs of a status/table reply. Here `next` is the
/// offset of the following spec from the *first* spec (the payload start).
pub fn decode_specs(p: &[u8], count: u32) -> Result<Vec<SpecEntry<'_>>, DecodeError> {
    try_collect(specs(p, count).map(|r| r.map(|(_, e)| e)))
}

/// The `count` target specs of a status/table reply with their offsets in
/// the payload, one by one, without allocating.
pub fn specs(p: &[u8], count: u32) -> SpecIter<'_> {
    SpecIter {
        p,
        off: 0,
        left: count,
    }
}

/// Iterator of [`specs`].
#[derive(Clone, Debug)]
pub struct SpecIter<'a> {
    p: &'a [u8],
    off: usize,
    left: u32,
}

impl<'a> SpecIter<'a> {
    /// Continue a walk at the spec at `off`, with `left` specs to go
    /// (offsets of a payload already walked whole).
    pub fn resume(p: &'a [u8], off: usize, left: u32) -> SpecIter<'a> {
        SpecIter { p, off, left }
    }

    fn record(&mut self) -> Result<(usize, SpecEntry<'a>), DecodeError> {
        let off = self.off;
        let (rec, params, next) = spec_record(self.p, off, self.left > 1)?;
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&rec[i..i + 8]);
            u64::from_ne_bytes(w)
        };
        self.left -= 1;
        if self.left > 0 {
            self.off = next;
        }
        Ok((
            off,
            SpecEntry {
                start: u64_at(0),
                length: u64_at(8),
                status: i32::from_ne_bytes([rec[16], rec[17], rec[18], rec[19]]),
                // spec_record found the type's NUL inside the field.
                target_type: fixed_str(&rec[24..40]),
                params,
            },
        ))
    }
}

/// The target spec at `off` of a status/table reply, checked: its fixed
/// part, its parameters and, when another spec follows (`more`), the
/// offset of that one (0 otherwise). The parser of [`specs`] (and of the
/// last spec in [`check_specs`], which checks the others in fewer steps).
#[inline(always)]
fn spec_record(p: &[u8], off: usize, more: bool) -> Result<(&[u8; 40], &[u8], usize), DecodeError> {
    // One bounds check for the fixed part (struct dm_target_spec).
    let Some((rec, rest)) = p.get(off..).and_then(|t| t.split_first_chunk::<40>()) else {
        return Err(DecodeError("target spec runs past the reply"));
    };
    // The type name field (16 bytes) holds its NUL.
    if zero_bytes(word(&rec[24..32])) == 0 && zero_bytes(word(&rec[32..40])) == 0 {
        return Err(DecodeError("target type not NUL-terminated"));
    }
    let Some(n) = cstr_len(rest) else {
        return Err(DecodeError("unterminated target parameters"));
    };
    let mut next = 0;
    if more {
        next = u32::from_ne_bytes([rec[20], rec[21], rec[22], rec[23]]) as usize;
        if next <= off || next % 8 != 0 {
            return Err(DecodeError("target spec offsets do not advance"));
        }
    }
    Ok((rec, &rest[..n], next))
}

impl<'a> Iterator for SpecIter<'a> {
    type Item = Result<(usize, SpecEntry<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let r = self.record();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

/// What [`check_specs`] learned about a status/table payload it accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecLayout {
    /// Offset in the payload of the last spec (`None`: no specs).
    pub last: Option<usize>,
    /// Every spec but the last has its strings end before the next spec
    /// starts (the kernel's layout: each spec's parameters, then padding to
    /// eight bytes). Writes a caller makes inside the strings of such a
    /// payload cannot change any spec's fixed part.
    pub disjoint: bool,
}

/// Check the `count` specs of a status/table reply: accepts exactly what
/// [`specs`] accepts, with the same error, without building them; the walk
/// every such reply gets before anything reads it (a reply of 100 000
/// targets is walked whole).
///
/// A spec followed by another needs its parameters NUL-terminated inside
/// the payload. The kernel ends them in the last eight bytes before the
/// next spec (it pads to eight bytes): a NUL there proves it in one word,
/// however long the parameters are. Any other layout is scanned from the
/// start of the parameters, as [`specs`] does.
pub fn check_specs(p: &[u8], count: u32) -> Result<SpecLayout, DecodeError> {
    let Some(before_last) = count.checked_sub(1) else {
        return Ok(SpecLayout {
            last: None,
            disjoint: true,
        });
    };
    let mut off = 0usize;
    let mut disjoint = true;
    for _ in 0..before_last {
        off = match kernel_laid_spec(p, off) {
            Some(next) => next,
            None => {
                disjoint = false;
                spec_next_checked(p, off)?
            }
        };
    }
    spec_record(p, off, false)?;
    Ok(SpecLayout {
        last: Some(off),
        disjoint,
    })
}

/// The offset of the spec after the one at `off`, by [`spec_record`]'s
/// full checks (with their error): for specs not laid out as the kernel
/// does, or not well-formed.
#[cold]
#[inline(never)]
fn spec_next_checked(p: &[u8], off: usize) -> Result<usize, DecodeError> {
    spec_record(p, off, true).map(|(_, _, next)| next)
}

/// The offset of the spec after the one at `off` when that one is laid
/// out as the kernel does and passes [`spec_record`]'s checks: fixed part
/// inside, type NUL-terminated in its field, next offset aligned and past
/// the fixed part and the first parameter word, and a NUL in the eight
/// bytes before it (so the parameters end inside the payload, before the
/// next spec). `None` otherwise (which [`spec_record`] then judges).
///
/// The kernel leaves zeros after a short type name and after the
/// parameters' NUL (up to the padding's end), so the last byte of the type
/// field and the byte before the next spec are NUL in the usual reply: one
/// byte settles each, the words are looked at only when it is not.
#[inline(always)]
fn kernel_laid_spec(p: &[u8], off: usize) -> Option<usize> {
    let rec = p.get(off..)?.first_chunk::<40>()?;
    if rec[39] != 0 && zero_bytes(word(&rec[24..32])) == 0 && zero_bytes(word(&rec[32..40])) == 0 {
        return None;
    }
    let next = u32::from_ne_bytes(*rec[20..24].first_chunk::<4>()?) as usize;
    if next < off + 48 || next % 8 != 0 {
        return None;
    }
    let end = p.get(next - 8..next)?.first_chunk::<8>()?;
    (end[7] == 0 || zero_bytes(word(end)) != 0).then_some(next)
}

/// The spec at `off` of a payload that [`check_specs`] has accepted:
/// `(start, length, offset of the next spec)`, read without scanning its
/// strings (the walk proved them terminated). `None` if `off` is out of
/// range, which a checked payload never gives.
#[inline]
pub fn spec_at(p: &[u8], off: usize) -> Option<(u64, u64, usize)> {
    let r = p.get(off..off.checked_add(40)?)?;
    Some((rd_u64(r, 0)?, rd_u64(r, 8)?, rd_u32(r, 20)? as usize))
}

/// Whether the spec at `off` of a status/table payload passes the checks
/// of [`specs`]: fixed part inside, type and parameters NUL-terminated
/// inside the payload and, when `more`, a next offset that advances.
pub fn spec_checks(p: &[u8], off: usize, more: bool) -> bool {
    spec_record(p, off, more).is_ok()
}

/// The response text of a TARGET_MSG reply: NUL-terminated inside the payload.
pub fn decode_message(p: &[u8]) -> Result<&[u8], DecodeError> {
    rd_cstr(p, 0, p.len()).ok_or(DecodeError("message response is not NUL-terminated"))
}

/// Append a STATUS/TABLE reply spec to `p` for tests: 8 sectors long,
/// `next` counted from the first spec (as the kernel writes it); after the
/// parameters' NUL, `pad` more bytes and the alignment to eight are
/// `fill` (the kernel: no pad, zeros).
#[cfg(test)]
pub(crate) fn push_test_spec(
    p: &mut Vec<u8>,
    start: u64,
    ty: &str,
    params: &str,
    pad: usize,
    fill: u8,
) {
    let at = p.len();
    p.resize(at + 40, 0);
    p[at..at + 8].copy_from_slice(&start.to_ne_bytes());
    p[at + 8..at + 16].copy_from_slice(&8u64.to_ne_bytes());
    p[at + 24..at + 24 + ty.len()].copy_from_slice(ty.as_bytes());
    p.extend_from_slice(params.as_bytes());
    p.push(0);
    p.resize(p.len() + pad, fill);
    p.resize(align8(p.len()), fill);
    let next = p.len() as u32;
    p[at + 20..at + 24].copy_from_slice(&next.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_short_copies_every_length() {
        for n in 0..40usize {
            let src: Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
            let mut dst = vec![0xffu8; n];
            copy_short(&mut dst, &src);
            assert_eq!(dst, src);
        }
    }

    #[test]
    fn fixed_holds_is_fixed_str_equality() {
        let mut field = [0u8; DM_NAME_LEN];
        let names: Vec<Vec<u8>> = (0..DM_NAME_LEN + 2)
            .map(|n| (0..n).map(|i| b'a' + (i % 26) as u8).collect())
            .collect();
        for stored in names.iter().filter(|n| n.len() < DM_NAME_LEN) {
            field.fill(0xff);
            put_fixed(&mut field, stored, "name").unwrap();
            for asked in &names {
                assert_eq!(fixed_holds(&field, asked), asked == stored);
            }
            // One byte changed anywhere: not the same name.
            for k in 0..stored.len() {
                let mut other = stored.clone();
                other[k] ^= 1;
                assert!(!fixed_holds(&field, &other));
            }
        }
        // No NUL in the field at all.
        let full = [b'x'; DM_NAME_LEN];
        assert!(!fixed_holds(&full, &full));
    }

    #[test]
    fn deps_of_a_device_without_a_table_are_none() {
        assert_eq!(deps_count(&[]).unwrap(), 0);
        assert!(decode_deps(&[]).unwrap().is_empty());
        assert!(deps_count(&[1, 0, 0]).is_err());
        let mut p = vec![0u8; 24];
        p[0] = 3;
        assert!(deps_count(&p).is_err());
        p[0] = 1;
        assert_eq!(deps_count(&p).unwrap(), 1);
    }

    #[test]
    fn word_scans_agree_with_bytewise_ones() {
        for len in 0..40 {
            for nul in 0..=len {
                let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 20) as u8).collect();
                if nul < len {
                    v[nul] = 0;
                }
                // 0x80 and 0x01 bytes are where borrow tricks go wrong.
                for (i, b) in v.iter_mut().enumerate() {
                    if *b != 0 && i % 3 == 1 {
                        *b = if i % 2 == 0 { 0x80 } else { 0x01 };
                    }
                }
                let want = v.iter().position(|&b| b == 0);
                assert_eq!(cstr_len(&v), want, "{v:?}");
                for probe in [b'\\', 0x01, 0x80, 0xff, 0] {
                    assert_eq!(
                        contains_byte(&v, probe),
                        v.contains(&probe),
                        "{probe} in {v:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn replies_must_be_aligned_and_terminated() {
        let mut h = DmIoctl {
            data_start: DATA_START as u32,
            data_size: DATA_START as u32 + 16,
            ..DmIoctl::default()
        };
        let buf = vec![0u8; DATA_START + 16];
        assert_eq!(reply_payload(&buf, &h).unwrap().len(), 16);
        for bad in [305u32, 311, 316] {
            h.data_start = bad;
            assert!(reply_payload(&buf, &h).is_err(), "data_start {bad}");
        }
        h.data_start = DATA_START as u32;
        h.data_size = DATA_START as u32 + 17;
        assert!(
            reply_payload(&buf, &h).is_err(),
            "data_size past the buffer"
        );

        let mut b = vec![0u8; DATA_START];
        assert!(read_reply_header(&b).is_ok());
        b[48..176].fill(b'a');
        assert!(read_reply_header(&b).is_err(), "name without NUL");
        b[48..176].fill(0);
        b[176..305].fill(b'u');
        assert!(read_reply_header(&b).is_err(), "uuid without NUL");
    }

    fn t<'a>(start: u64, length: u64, ty: &'a str, params: &'a str) -> TargetRef<'a> {
        TargetRef {
            start,
            length,
            target_type: ty.as_bytes(),
            params: params.as_bytes(),
        }
    }

    #[test]
    fn header_round_trips() {
        let mut h = DmIoctl {
            version: [4, 2, 0],
            data_size: 999,
            data_start: 312,
            flags: 0x4004,
            dev: 0xfe03,
            ..Default::default()
        };
        put_fixed(&mut h.name, b"vol", "name").unwrap();
        let mut b = vec![0u8; 312];
        write_header(&mut b, &h);
        let r = read_header(&b).unwrap();
        assert_eq!(r.version, [4, 2, 0]);
        assert_eq!(r.data_size, 999);
        assert_eq!(r.flags, 0x4004);
        assert_eq!(r.dev, 0xfe03);
        assert_eq!(fixed_str(&r.name), b"vol");
        assert!(read_header(&b[..311]).is_err());
    }

    #[test]
    fn fixed_fields_reject_overlong_and_nul() {
        let mut name = [0u8; DM_NAME_LEN];
        assert!(put_fixed(&mut name, &[b'a'; 127], "name").is_ok());
        assert_eq!(
            put_fixed(&mut name, &[b'a'; 128], "name"),
            Err(EncodeError::NameTooLong(128))
        );
        let mut uuid = [0u8; DM_UUID_LEN];
        assert!(put_fixed(&mut uuid, &[b'u'; 128], "uuid").is_ok());
        assert_eq!(
            put_fixed(&mut uuid, &[b'u'; 129], "uuid"),
            Err(EncodeError::UuidTooLong(129))
        );
        assert_eq!(
            put_fixed(&mut name, b"a\0b", "name"),
            Err(EncodeError::EmbeddedNul("name"))
        );
    }

    #[test]
    fn targets_are_packed_aligned_with_relative_next() {
        let mut out = Vec::new();
        let n = encode_targets(
            &mut out,
            [
                t(0, 8, "linear", "/dev/loop0 0"),
                t(8, 8, "zero", ""),
                t(16, 1, "error", "a\\b"),
            ],
        )
        .unwrap();
        assert_eq!(n, 3);
        // first: 40 + align8(12 + 1) = 56
        assert_eq!(u32::from_ne_bytes(out[20..24].try_into().unwrap()), 56);
        assert_eq!(&out[24..30], b"linear");
        assert_eq!(&out[40..53], b"/dev/loop0 0\0");
        // second at 56: 40 + align8(1) = 48
        assert_eq!(u64::from_ne_bytes(out[56..64].try_into().unwrap()), 8);
        assert_eq!(u32::from_ne_bytes(out[76..80].try_into().unwrap()), 48);
        // third at 104: backslash doubled
        assert_eq!(&out[144..149], b"a\\\\b\0");
        assert_eq!(out.len(), 104 + 48);
        assert_eq!(out.len() % 8, 0);
    }

    #[test]
    fn target_type_limits() {
        let mut out = Vec::new();
        assert!(encode_targets(&mut out, [t(0, 1, "0123456789abcde", "")]).is_ok());
        assert_eq!(
            encode_targets(&mut out, [t(0, 1, "nonexistent_target", "")]),
            Err(EncodeError::TypeTooLong("nonexistent_target".into()))
        );
        assert_eq!(
            encode_targets(&mut out, [t(0, 1, "", "")]),
            Err(EncodeError::EmptyType)
        );
        assert!(encode_targets(&mut out, [t(0, 1, "zero", "a\0")]).is_err());
    }

    #[test]
    fn message_payload() {
        let mut out = Vec::new();
        encode_message(&mut out, 7, b"@stats_list").unwrap();
        assert_eq!(u64::from_ne_bytes(out[0..8].try_into().unwrap()), 7);
        assert_eq!(&out[8..], b"@stats_list\0");
    }

    fn name_record(
        dev: u64,
        name: &str,
        trailer: Option<(u32, u32, Option<&str>)>,
        last: bool,
    ) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&dev.to_ne_bytes());
        r.extend_from_slice(&0u32.to_ne_bytes());
        r.extend_from_slice(name.as_bytes());
        r.push(0);
        r.resize(align8(r.len()), 0);
        if let Some((ev, fl, uuid)) = trailer {
            r.extend_from_slice(&ev.to_ne_bytes());
            r.extend_from_slice(&fl.to_ne_bytes());
            if let Some(u) = uuid {
                r.extend_from_slice(u.as_bytes());
                r.push(0);
                r.resize(align8(r.len()), 0);
            }
        }
        let next = if last { 0 } else { r.len() as u32 };
        r[8..12].copy_from_slice(&next.to_ne_bytes());
        r
    }

    #[test]
    fn names_with_and_without_trailers() {
        let mut p = name_record(encode_dev(254, 0), "a", None, false);
        p.extend(name_record(encode_dev(254, 1), "bee", None, true));
        let v = decode_names(&p).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].name, b"bee");
        assert_eq!(v[1].event_nr, None);

        let mut p = name_record(encode_dev(254, 0), "a", Some((3, 1, Some("UUID-1"))), false);
        p.extend(name_record(
            encode_dev(254, 1),
            "b",
            Some((4, 2, None)),
            true,
        ));
        let v = decode_names(&p).unwrap();
        assert_eq!(v[0].event_nr, Some(3));
        assert_eq!(v[0].uuid, Some(&b"UUID-1"[..]));
        assert_eq!(v[1].event_nr, Some(4));
        assert_eq!(v[1].uuid, None);

        // empty list
        assert!(decode_names(&[0u8; 16]).unwrap().is_empty());
        // truncated / unterminated
        assert!(decode_names(&p[..10]).is_err());
        let mut bad = name_record(1, "abc", None, true);
        bad.truncate(14);
        assert!(decode_names(&bad).is_err());
        // next pointing past the end
        let mut bad = name_record(1, "abc", None, false);
        bad[8..12].copy_from_slice(&4096u32.to_ne_bytes());
        assert!(decode_names(&bad).is_err());
    }

    type Listed = Vec<(Vec<u8>, Option<Vec<u8>>)>;

    /// What [`names`] yields, as (name, uuid) pairs, or that it failed.
    fn by_iter(p: &[u8]) -> Result<Listed, DecodeError> {
        names(p)
            .map(|r| r.map(|e| (e.name.to_vec(), e.uuid.map(<[u8]>::to_vec))))
            .collect()
    }

    fn by_walk(p: &[u8]) -> Result<Listed, DecodeError> {
        let mut v = Vec::new();
        walk_names(p, |n, u| {
            v.push((n.to_vec(), u.map(<[u8]>::to_vec)));
            true
        })?;
        Ok(v)
    }

    /// LIST replies for the fast name walk: names around word boundaries
    /// (the name starts 4 bytes into a word), with and without uuids and
    /// event numbers, with escapes, rare whitelisted and blacklisted bytes.
    fn list_replies() -> Vec<Vec<u8>> {
        type Trailer<'a> = Option<(u32, u32, Option<&'a str>)>;
        let reply = |recs: &[(&str, Trailer<'_>)]| {
            let mut p = Vec::new();
            for (i, (name, trailer)) in recs.iter().enumerate() {
                let last = i + 1 == recs.len();
                p.extend(name_record(encode_dev(254, i as u32), name, *trailer, last));
            }
            p
        };
        let plain = Some((7, 0, None));
        let with_uuid = |u| Some((7, DM_NAME_LIST_FLAG_HAS_UUID, Some(u)));
        let no_uuid = Some((7, DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID, None));
        let mut v = Vec::new();
        // Every name length from 1 to 25 (NUL in each word position).
        let lens: Vec<String> = (1..=25)
            .map(|n| "abcdefghijklmnopqrstuvwxy"[..n].to_string())
            .collect();
        let mut recs: Vec<(&str, Trailer<'_>)> = lens.iter().map(|n| (n.as_str(), plain)).collect();
        v.push(reply(&recs));
        recs.push(("bench-lin-0000", plain));
        recs.rotate_right(1);
        v.push(reply(&recs));
        v.push(reply(&[
            ("bench-lin-0000", plain),
            ("bench-lin-0001", plain),
            ("bench-lin-0002", plain),
        ]));
        v.push(reply(&[
            (
                "vg0-lv_root",
                with_uuid("LVM-0123456789abcdefABCDEF0123456789abcdefABCDEF"),
            ),
            ("vg0-lv_swap", no_uuid),
            ("Crypt.1:x", with_uuid("CRYPT-LUKS2-0123456789abcdef-x")),
            ("a", with_uuid("u")),
            ("1234567", with_uuid("12345678")),
            ("12345678", with_uuid("123456789")),
            ("last", with_uuid("1234567890123456")),
        ]));
        v.push(reply(&[
            ("a\\x20b", plain),
            ("plain-1", plain),
            ("has space", plain),
            ("at@hash#plus+eq=", with_uuid("slash/uuid")),
            ("dot.colon:under_", with_uuid("back\\x5cx")),
            ("z", plain),
        ]));
        // Empty names: the first word of the name is all NULs when the
        // event number is 0, and a uuid then starts there; the
        // unterminated uuid cases come by mutation.
        v.push(reply(&[
            ("", Some((0, DM_NAME_LIST_FLAG_HAS_UUID, Some("0123456")))),
            ("", Some((0, DM_NAME_LIST_FLAG_HAS_UUID, Some("u1")))),
            ("", Some((0, 0, None))),
            ("name-one", plain),
            ("", plain),
            ("", None),
        ]));
        // Names starting with the walk's first `known` word (eight
        // dashes), which the fast path takes as vouched without a test.
        v.push(reply(&[
            ("--------", plain),
            ("--------", with_uuid("--------")),
            ("--------x\\y", plain),
            ("---------", no_uuid),
            ("-------", plain),
        ]));
        // Old kernels: no event number after the name.
        v.push(reply(&[
            ("old-0", None),
            ("old-12345678", None),
            ("old-1234567", None),
            ("x", None),
        ]));
        // Names ending at the payload's end (no padding after the last).
        let mut p = reply(&[("first-name", plain), ("xy", None)]);
        p.truncate(p.len() - 1);
        v.push(p);
        v
    }

    fn plain(n: &[u8], u: Option<&[u8]>) -> bool {
        crate::mangle::is_plain(n) && u.is_none_or(crate::mangle::is_plain)
    }

    /// The fast walks give the exact walk's verdict: validation only, and
    /// the LIST run's plain-names check.
    fn fast_walks_agree(q: &[u8]) {
        assert_eq!(
            walk_names_flagged(q, nul_bytes, |_, _| true),
            walk_names(q, |_, _| true),
            "{q:?}"
        );
        assert_eq!(
            walk_names(q, |_, _| true).map(|_| ()),
            names(q).try_for_each(|r| r.map(|_| ())),
            "{q:?}"
        );
        assert_eq!(
            walk_names_flagged(q, crate::mangle::unvouched_bytes, plain),
            walk_names(q, plain),
            "{q:?}"
        );
    }

    #[test]
    fn the_fast_name_walk_agrees_with_the_exact_one_on_every_mutation() {
        let replies = list_replies();
        let verdicts: Vec<_> = replies
            .iter()
            .map(|p| walk_names_flagged(p, crate::mangle::unvouched_bytes, plain))
            .collect();
        // The cases mean what they should: all plain, plain, plain, plain
        // with uuids, not plain (escapes, blacklisted, rare bytes), empty
        // names, names starting with the first `known` word (one with a
        // backslash), old kernels' records, a last name at the very end.
        assert_eq!(
            verdicts,
            [
                Ok(true),
                Ok(true),
                Ok(true),
                Ok(true),
                Ok(false),
                Ok(true),
                Ok(false),
                Ok(true),
                Ok(true)
            ]
        );
        for p in &replies {
            fast_walks_agree(p);
            for cut in 0..p.len() {
                fast_walks_agree(&p[..cut]);
            }
            // Every byte value in the short replies; in the long ones, the
            // values next to each edge of the whitelist and of the word
            // test's set, and small and large numbers (offsets, flags).
            let edge = |b: u8| {
                let fast = |c: u8| crate::mangle::unvouched_bytes(u64::from(c)) & 0x80 == 0;
                let w = crate::mangle::is_whitelisted;
                [b.wrapping_sub(1), b.wrapping_add(1)]
                    .iter()
                    .any(|&c| w(c) != w(b) || fast(c) != fast(b))
            };
            let values: Vec<u8> = (0..=255u8)
                .filter(|&b| {
                    p.len() < 512 || b < 2 || matches!(b, 7..=9 | 15..=17 | 24 | 0xff) || edge(b)
                })
                .collect();
            let mut q = p.clone();
            for at in 0..p.len() {
                for &b in &values {
                    q[at] = b;
                    fast_walks_agree(&q);
                }
                q[at] = p[at];
            }
        }
        fast_walks_agree(&[0u8; 16]);
        fast_walks_agree(&[]);
    }

    /// The usual records (names of 8 to 15 bytes, no uuid) take the
    /// shortest path, and only they: a reply of them is vouched for up to
    /// its last record (which the exact parser reads); a record with a
    /// uuid, a longer or shorter name, or a flagged byte stops it.
    #[test]
    fn the_usual_records_take_the_short_path() {
        let rec = |name: &str, t: Option<(u32, u32, Option<&str>)>, last| {
            name_record(encode_dev(254, 0), name, t, last)
        };
        let no_uuid = Some((7, DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID, None));
        let flag = crate::mangle::unvouched_bytes;
        let mut p = Vec::new();
        for i in 0..5 {
            p.extend(rec(&format!("bench-lin-{i:04}"), no_uuid, false));
        }
        p.extend(rec("12345678", no_uuid, false));
        p.extend(rec("a-b-c-d-e-f-g-h", no_uuid, false));
        let last = rec("bench-lin-9999", no_uuid, true);
        p.extend(&last);
        let mut known = 0;
        assert_eq!(usual_name_records(&p, &mut known, &flag), &last[..]);
        // (The last record's first word was tested, and vouched for.)
        assert_eq!(known, u64::from_le_bytes(*b"bench-li"));
        for other in [
            rec(
                "bench-lin-0000",
                Some((7, DM_NAME_LIST_FLAG_HAS_UUID, Some("u"))),
                false,
            ),
            rec("1234567", no_uuid, false),
            rec("1234567890123456", no_uuid, false),
            rec("bench lin", no_uuid, false),
            rec("bench-lin-#", no_uuid, false),
            rec("bench-lin-0000", None, false),
        ] {
            let mut q = other.clone();
            q.extend(&last);
            let mut known = 0;
            assert_eq!(
                usual_name_records(&q, &mut known, &flag),
                &q[..],
                "{other:?}"
            );
            // The general fast path or the exact parser still takes them.
            assert_eq!(walk_names_flagged(&q, flag, plain), walk_names(&q, plain));
        }
    }

    #[test]
    fn the_lean_name_walk_agrees_with_the_iterator_on_every_mutation() {
        let mut p = name_record(encode_dev(254, 0), "a", Some((3, 1, Some("UUID-1"))), false);
        p.extend(name_record(
            encode_dev(254, 1),
            "bench-lin-0001",
            None,
            false,
        ));
        p.extend(name_record(
            encode_dev(254, 2),
            "b",
            Some((4, 2, None)),
            false,
        ));
        p.extend(name_record(
            encode_dev(254, 3),
            "cc",
            Some((5, 1, Some("U"))),
            true,
        ));
        assert_eq!(by_walk(&p).unwrap().len(), 4);
        let mut cases = vec![p.clone(), vec![0u8; 16], Vec::new()];
        for cut in 0..p.len() {
            cases.push(p[..cut].to_vec());
        }
        for at in 0..p.len() {
            for v in [0u8, 1, 7, 8, 16, 0x80, 0xff] {
                let mut q = p.clone();
                q[at] = v;
                cases.push(q);
            }
        }
        for q in &cases {
            assert_eq!(by_walk(q).ok(), by_iter(q).ok(), "{q:?}");
            assert_eq!(by_walk(q).is_err(), by_iter(q).is_err(), "{q:?}");
        }
        // Stopping early says so.
        assert_eq!(walk_names(&p, |n, _| n != b"b"), Ok(false));
    }

    /// What [`specs`] makes of a payload: the first error, or the offset of
    /// the last spec.
    fn spec_walk_by_iter(q: &[u8], c: u32) -> Result<Option<usize>, DecodeError> {
        let mut last = None;
        for r in specs(q, c) {
            last = Some(r?.0);
        }
        Ok(last)
    }

    /// check_specs against specs(): same verdict, same error, same last
    /// spec; and a payload it calls disjoint has every spec's strings end
    /// before the next spec starts.
    fn assert_spec_check_agrees(q: &[u8], c: u32) {
        let got = check_specs(q, c);
        assert_eq!(
            got.clone().map(|l| l.last),
            spec_walk_by_iter(q, c),
            "{c} {q:?}"
        );
        let Ok(layout) = got else { return };
        if layout.disjoint {
            let offs: Vec<(usize, SpecEntry<'_>)> = specs(q, c).map(Result::unwrap).collect();
            for w in offs.windows(2) {
                let ((off, e), (next, _)) = (&w[0], &w[1]);
                assert!(off + 40 + e.params.len() < *next, "{c} {q:?}");
            }
        }
    }

    /// A status spec whose parameters' NUL is `pad` bytes further from the
    /// next spec than the kernel puts it (padding of `fill` bytes).
    fn push_padded_spec(ty: &str, params: &str, pad: usize, fill: u8, p: &mut Vec<u8>) {
        let at = p.len();
        push_status_spec(at as u64, ty, params, p);
        p.resize(p.len() + pad, fill);
        p.resize(align8(p.len()), fill);
        let next = p.len() as u32;
        p[at + 20..at + 24].copy_from_slice(&next.to_ne_bytes());
    }

    #[test]
    fn the_spec_check_agrees_with_the_iterator_on_every_mutation() {
        // A status reply: absolute next offsets, strings NUL-terminated.
        let mut p = Vec::new();
        push_status_spec(0, "linear", "7:0 2048", &mut p);
        push_status_spec(8, "zero", "", &mut p);
        push_status_spec(16, "crypt", "aes 0 7:1 0", &mut p);
        push_status_spec(24, "snapshot-origin", "7:1", &mut p);
        let l = check_specs(&p, 4).unwrap();
        assert_eq!(l.last, spec_walk_by_iter(&p, 4).unwrap());
        assert!(l.disjoint, "the kernel's layout");
        assert_eq!(
            check_specs(&p, 0),
            Ok(SpecLayout {
                last: None,
                disjoint: true
            })
        );
        let mut full_type = p.clone();
        full_type[24..40].fill(b'a');
        assert!(check_specs(&full_type, 4).is_err());
        // Layouts the kernel does not make: padding after the parameters
        // (zeros or not), a spec overlapping the next one's strings.
        let mut padded = Vec::new();
        push_padded_spec("linear", "7:0 2048", 8, b'x', &mut padded);
        push_padded_spec("zero", "", 16, 0, &mut padded);
        push_status_spec(16, "error", "", &mut padded);
        let l = check_specs(&padded, 3).unwrap();
        assert!(!l.disjoint && l.last == spec_walk_by_iter(&padded, 3).unwrap());
        let mut overlapping = p.clone();
        overlapping[20..24].copy_from_slice(&8u32.to_ne_bytes());
        let mut cases = vec![
            (p.clone(), 5),
            (p.clone(), 4),
            (p.clone(), 3),
            (p.clone(), 1),
            (p.clone(), 0),
            (Vec::new(), 1),
            (Vec::new(), 0),
            (full_type, 4),
            (padded.clone(), 3),
            (overlapping, 4),
        ];
        for base in [&p, &padded] {
            for cut in 0..base.len() {
                cases.push((base[..cut].to_vec(), 3));
            }
            for at in 0..base.len() {
                for v in [0u8, 1, 7, 8, 0x41, 0xff] {
                    let mut q = base.clone();
                    q[at] = v;
                    cases.push((q, 3));
                }
            }
            // Every next offset moved by a word or a few bytes either way.
            let mut off = 0;
            for _ in 0..2 {
                let next = u32::from_ne_bytes(base[off + 20..off + 24].try_into().unwrap());
                for d in [-16i64, -8, -1, 1, 8, 16] {
                    let mut q = base.clone();
                    let v = (next as i64 + d) as u32;
                    q[off + 20..off + 24].copy_from_slice(&v.to_ne_bytes());
                    cases.push((q, 3));
                }
                off = next as usize;
            }
        }
        for (q, c) in &cases {
            assert_spec_check_agrees(q, *c);
        }
    }

    #[test]
    fn versions_and_deps() {
        let mut p = Vec::new();
        for (i, n) in ["linear", "striped"].iter().enumerate() {
            let at = p.len();
            p.extend_from_slice(&0u32.to_ne_bytes());
            for v in [1u32, 4 + i as u32, 0] {
                p.extend_from_slice(&v.to_ne_bytes());
            }
            p.extend_from_slice(n.as_bytes());
            p.push(0);
            p.resize(align8(p.len()), 0);
            if i == 0 {
                let next = (p.len() - at) as u32;
                p[at..at + 4].copy_from_slice(&next.to_ne_bytes());
            }
        }
        let v = decode_versions(&p).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].name, b"striped");
        assert_eq!(v[1].version, [1, 5, 0]);
        assert!(decode_versions(&p[..20]).is_err());

        let mut d = Vec::new();
        d.extend_from_slice(&2u32.to_ne_bytes());
        d.extend_from_slice(&0u32.to_ne_bytes());
        d.extend_from_slice(&encode_dev(7, 0).to_ne_bytes());
        d.extend_from_slice(&encode_dev(254, 2).to_ne_bytes());
        assert_eq!(
            decode_deps(&d).unwrap(),
            vec![encode_dev(7, 0), encode_dev(254, 2)]
        );
        assert!(decode_deps(&d[..20]).is_err());
        assert!(decode_deps(&[]).unwrap().is_empty());
    }

    /// Append a status-reply spec as the kernel lays it out.
    fn push_status_spec(start: u64, ty: &str, params: &str, p: &mut Vec<u8>) {
        push_test_spec(p, start, ty, params, 0, 0);
    }

    #[test]
    fn specs_use_offsets_from_the_first_spec() {
        let mut p = Vec::new();
        let push = push_status_spec;
        push(0, "linear", "7:0 0", &mut p);
        push(8, "zero", "", &mut p);
        let v = decode_specs(&p, 2).unwrap();
        assert_eq!(v[0].params, b"7:0 0");
        assert_eq!(v[1].start, 8);
        assert_eq!(v[1].target_type, b"zero");
        assert!(decode_specs(&p, 3).is_err());
        assert!(decode_specs(&p[..30], 1).is_err());
    }

    #[test]
    fn message_response_must_be_terminated() {
        assert_eq!(decode_message(b"World!\0junk").unwrap(), b"World!");
        assert!(decode_message(b"World!").is_err());
    }
}
