//! A task's table, kept once, encoded the way `DM_TABLE_LOAD` sends it.
//!
//! [`Table`] holds room for the `struct dm_ioctl` header, then one record per
//! target: `struct dm_target_spec` (start, length, status 0, `next` = the
//! record's length, the NUL-padded type name), the parameters with every
//! backslash doubled (the kernel's argument splitter treats backslash as an
//! escape, libdevmapper doubles them too), a NUL, zeros up to a multiple of
//! 8. The run hands the buffer to the kernel as it is (the header written
//! in front): no other copy of the table exists, and the buffer, which may
//! hold keys, is wiped when it grows, shrinks or goes.
//!
//! Reading it back ([`Table::iter`], [`Table::target_at`]) gives typed
//! views into the encoding; every record read is checked (bounds, the
//! NULs), so even a buffer someone scribbled on cannot make a read go wrong.

use crate::error::Error;
use crate::kernel::abi::{self, DATA_START};
use crate::kernel::codec::{self, zero_bytes, ONES};
use crate::kernel::control::TableBuf;
use crate::secret::Secret;

/// Size of `struct dm_target_spec`.
const SPEC: usize = std::mem::size_of::<abi::DmTargetSpec>();
/// Offset of the type name in a spec.
const TYPE_AT: usize = 24;

/// The targets added to a task, encoded for the kernel (see the module
/// documentation).
#[derive(Default)]
pub struct Table {
    /// `[0, DATA_START)`: room for the ioctl header (allocated with the
    /// first target); then the records.
    buf: TableBuf,
    /// Number of records.
    count: u32,
    /// Offset of the last record (for [`Table::target_at`]'s "more" answer).
    last: usize,
    /// Some parameters held a NUL byte (only the Rust API can pass one):
    /// they were stored cut at it and the run refuses the table, as
    /// libdevmapper's encoder would.
    nul_params: bool,
    /// The table would not fit an ioctl (over 4 GiB, or more than 2^32
    /// targets): the run refuses it; the target was not stored.
    too_large: bool,
    /// Where the next target must start for the table to stay contiguous
    /// from sector 0 (what the kernel requires).
    next_sector: u64,
    /// Some target broke that (or had no length): [`Table::contiguous`]
    /// is false and the task's check walks the table for the message.
    gap: bool,
}

/// What [`Table::push_in_place`] did.
#[must_use]
pub enum InPlace<'t> {
    /// The target was appended.
    Added,
    /// Nothing changed: [`Table::push`]'s case.
    Refused,
    /// The parameters are 16 bytes or longer: the record is begun after
    /// the table, for [`Begun::finish`].
    Long(Begun<'t>),
}

/// A record [`Table::push_in_place`] began after the table (start, length,
/// type name, the parameters' first 16 bytes), not kept: the table is
/// borrowed until [`Begun::finish`] keeps it or wipes it; dropped, it is
/// wiped (what was written may be a key).
#[must_use]
#[repr(transparent)]
pub struct Begun<'t>(&'t mut Table);

impl Begun<'_> {
    /// Keep the record with `rest`, the parameters after the 16 bytes
    /// written (without a NUL, and without a backslash either: the caller
    /// looked, for they are copied as they are and the kernel would take a
    /// backslash for an escape), when the record fits the storage. Answers
    /// whether the target was appended; when not, the record begun is
    /// wiped and nothing changed ([`Table::push`]'s case).
    ///
    /// A `rest` with a backslash breaks that contract: the table would
    /// then hold it unescaped (wrong parameters for the kernel, never
    /// memory unsafety). Debug builds check it; release builds trust the
    /// caller, whose own scan found the end of `rest` (checking again here
    /// would repeat the scan this path exists to save). A caller that has
    /// not looked calls [`Begun::finish_escaped`].
    pub fn finish(self, rest: &[u8]) -> bool {
        debug_assert!(
            !rest.contains(&b'\\'),
            "Begun::finish: parameters with a backslash (finish_escaped escapes them)"
        );
        let kept = self.0.finish_long(rest, 0);
        // Kept, or wiped already.
        std::mem::forget(self);
        kept
    }

    /// [`Begun::finish`] for a `rest` that may hold backslashes (each
    /// doubled in the encoding, as [`Table::push`] does).
    #[inline(never)]
    pub fn finish_escaped(self, rest: &[u8]) -> bool {
        if rest.len() > u32::MAX as usize {
            // Too large for an ioctl: Table::push's refusal (the record
            // begun is wiped as self goes).
            return false;
        }
        let escapes = rest.iter().filter(|&&c| c == b'\\').count();
        let kept = self.0.finish_long(rest, escapes);
        std::mem::forget(self);
        kept
    }
}

impl Drop for Begun<'_> {
    fn drop(&mut self) {
        self.0.wipe_begun();
    }
}

/// One target of a [`Table`], read in place.
#[derive(Clone, Copy, Debug)]
pub struct TableTarget<'a> {
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub length: u64,
    target_type: &'a [u8],
    params: &'a [u8],
}

impl<'a> TableTarget<'a> {
    /// The target type name. A NUL follows it in the table's buffer (C
    /// callers get `as_ptr()` as a string).
    #[inline]
    pub fn target_type(&self) -> &'a [u8] {
        self.target_type
    }

    /// The parameters as encoded for the kernel: as given, except that every
    /// backslash is doubled. A NUL follows them in the table's buffer.
    #[inline]
    pub fn encoded_params(&self) -> &'a [u8] {
        self.params
    }

    /// Whether the parameters were changed by the encoding (they held a
    /// backslash): then [`TableTarget::params`] is `None`.
    #[inline]
    pub fn params_escaped(&self) -> bool {
        codec::contains_byte(self.params, b'\\')
    }

    /// The parameters as given, when the encoding left them as they were
    /// (no backslash); `None` otherwise (see [`TableTarget::params_secret`]).
    #[inline]
    pub fn params(&self) -> Option<&'a [u8]> {
        (!self.params_escaped()).then_some(self.params)
    }

    /// The parameters as given, in wiped memory (they may hold keys);
    /// `None` when the memory cannot be had.
    pub fn params_secret(&self) -> Option<Secret> {
        let mut s = Secret::try_with_capacity(self.params.len())?;
        let mut rest = self.params;
        // Each doubled backslash stands for one.
        while let Some(i) = rest.iter().position(|&c| c == b'\\') {
            let (head, tail) = rest.split_at(i + 1);
            if !s.push_within_capacity(head) {
                return None;
            }
            rest = tail.strip_prefix(b"\\").unwrap_or(tail);
        }
        s.push_within_capacity(rest).then_some(s)
    }
}

/// Read a native-endian integer of `N` bytes at `at` (`None` out of bounds).
#[inline]
fn field<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The record at `off` of `b`: the target and the record's length.
#[inline]
fn record(b: &[u8], off: usize) -> Option<(TableTarget<'_>, usize)> {
    let rec = b.get(off..)?;
    let start = u64::from_ne_bytes(field(rec, 0)?);
    let length = u64::from_ne_bytes(field(rec, 8)?);
    let next = u32::from_ne_bytes(field(rec, 20)?) as usize;
    let body = rec.get(..next)?;
    let ty = body.get(TYPE_AT..SPEC)?;
    let ty = ty.get(..codec::cstr_len(ty)?)?;
    let p = body.get(SPEC..)?;
    let p = p.get(..codec::cstr_len(p)?)?;
    Some((
        TableTarget {
            start,
            length,
            target_type: ty,
            params: p,
        },
        next,
    ))
}

impl Table {
    /// An empty table (no allocation).
    pub const fn new() -> Table {
        Table {
            buf: TableBuf::new(),
            count: 0,
            last: 0,
            nul_params: false,
            too_large: false,
            next_sector: 0,
            gap: false,
        }
    }

    /// Number of targets.
    #[inline]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no target was added (a refused oversized one counts: the
    /// run must refuse the table).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0 && !self.too_large
    }

    /// Append a target. `ttype` must have been checked (non-empty, no NUL,
    /// shorter than 16 bytes). Parameters are copied straight into the
    /// encoding (backslashes doubled); nothing else keeps a copy.
    #[inline]
    pub fn push(
        &mut self,
        start: u64,
        length: u64,
        ttype: &[u8],
        params: &[u8],
    ) -> Result<(), Error> {
        // The usual parameters hold neither a NUL nor a backslash: one
        // scan settles them.
        if !codec::contains_either(params, 0, b'\\') {
            return self.push_escaped(start, length, ttype, params, 0);
        }
        let mut params = params;
        if codec::contains_byte(params, 0) {
            self.nul_params = true;
            params = params
                .get(..codec::cstr_len(params).unwrap_or(0))
                .unwrap_or(&[]);
        }
        self.push_nul_free(start, length, ttype, params)
    }

    /// [`Table::push`] for parameters known to hold no NUL (C strings).
    #[inline]
    pub fn push_nul_free(
        &mut self,
        start: u64,
        length: u64,
        ttype: &[u8],
        params: &[u8],
    ) -> Result<(), Error> {
        let escapes = if codec::contains_byte(params, b'\\') {
            params.iter().filter(|&&c| c == b'\\').count()
        } else {
            0
        };
        self.push_escaped(start, length, ttype, params, escapes)
    }

    /// [`Table::push`]'s usual case, or nothing: a target that starts
    /// where the table ends and has a length, whose record fits the
    /// storage as it is, and that `fill` writes in place. `fill` gets the
    /// record's type field and the 16 bytes after its fixed part, both
    /// zero, and answers the parameters' length when it wrote there a type
    /// name of 1 to 15 bytes and parameters of at most 15 (neither holding
    /// a NUL, the parameters no backslash, each followed by zeros), then
    /// [`InPlace::Added`]; 16 when it wrote the type and the first 16
    /// bytes of longer such parameters, then [`InPlace::Long`]: the record
    /// begun, for [`Begun::finish`] to keep or wipe; `None` when it did
    /// neither, then [`InPlace::Refused`] (whatever it wrote is put back
    /// to zero, and nothing changed: [`Table::push`] does the rest:
    /// growth, escapes, gaps, the refusals).
    ///
    /// The record is written where the kernel will read it, into bytes
    /// that were zero (the buffer's invariant): the strings straight from
    /// the caller's, the fixed part's three fields, then four stores of
    /// bookkeeping.
    #[inline(always)]
    pub fn push_in_place(
        &mut self,
        start: u64,
        length: u64,
        fill: impl FnOnce(&mut [u8; 16], &mut [u8; 16]) -> Option<usize>,
    ) -> InPlace<'_> {
        if start != self.next_sector || length == 0 {
            return InPlace::Refused;
        }
        let Some(end) = start.checked_add(length) else {
            return InPlace::Refused;
        };
        let off = self.buf.len();
        let mut long = false;
        // (No storage yet means no header room either: the first target
        // takes the other way.)
        let kept = self.buf.append_within(SPEC + 16, |rec| {
            let Some(rec) = rec.first_chunk_mut::<{ SPEC + 16 }>() else {
                return 0;
            };
            // Start and length first: fewer values held across the strings.
            rec[0..8].copy_from_slice(&start.to_ne_bytes());
            rec[8..16].copy_from_slice(&length.to_ne_bytes());
            let (head, body) = rec.split_at_mut(SPEC);
            let (Ok(ty), Ok(p)) = (
                <&mut [u8; 16]>::try_from(&mut head[TYPE_AT..]),
                <&mut [u8; 16]>::try_from(body),
            ) else {
                return 0;
            };
            let plen = match fill(ty, p) {
                Some(n) if n < 16 => n,
                Some(16) => {
                    long = true;
                    return 0;
                }
                _ => {
                    // Back to zeros (what was written may be a key).
                    rec.fill(0);
                    return 0;
                }
            };
            // The fixed part, the parameters, their NUL, padding to eight.
            let len = SPEC + ((plen + 8) & !7);
            rec[20..24].copy_from_slice(&(len as u32).to_ne_bytes());
            len
        });
        if kept == 0 {
            if long {
                return InPlace::Long(Begun(self));
            }
            return InPlace::Refused;
        }
        // At most u32::MAX bytes of records of at least 48: no overflow.
        self.count += 1;
        self.last = off;
        self.next_sector = end;
        InPlace::Added
    }

    /// Give a table without storage its storage, the header's room in
    /// use, so that its first target can be added in place
    /// ([`Table::push_in_place`] refuses a table without storage; this
    /// storage is what [`Table::push`] would make for it: a block for a
    /// small table, the one a previous table left when there is one).
    /// Answers whether it did: false when the table has storage already,
    /// or when the memory cannot be had (then nothing changed, and
    /// [`Table::push`] reports it).
    #[inline]
    pub fn start(&mut self) -> bool {
        self.buf.is_empty() && self.buf.start(DATA_START)
    }

    /// [`Begun::finish`] and [`Begun::finish_escaped`]: append the record
    /// begun after the table with `rest`, the parameters after the 16
    /// bytes written (no NUL, `escapes` backslashes, each doubled in the
    /// encoding), when it fits the storage. When not, the record begun is
    /// zero again (false).
    #[inline(always)]
    fn finish_long(&mut self, rest: &[u8], escapes: usize) -> bool {
        debug_assert!(!codec::contains_byte(rest, 0));
        // The fixed part, 16 bytes, the rest, the NUL, padding to eight (a
        // slice's length, and at most as many backslashes, leave room for
        // the sum).
        let len = SPEC + 16 + ((rest.len() + escapes + 8) & !7);
        let off = self.buf.len();
        let mut end = 0;
        let kept = self.buf.append_within(
            len,
            #[inline(always)]
            |room| {
                let Some(rec) = room.get_mut(..len) else {
                    return 0;
                };
                // Start and length as push_in_place wrote them (their sum
                // checked there; nothing changed since: the table is borrowed).
                let (Some(s), Some(l)) = (field::<8>(rec, 0), field::<8>(rec, 8)) else {
                    return 0;
                };
                let e = u64::from_ne_bytes(s).wrapping_add(u64::from_ne_bytes(l));
                rec[20..24].copy_from_slice(&(len as u32).to_ne_bytes());
                // (Longer than the rest and its escapes: the copies fit.)
                if let Some(body) = rec.get_mut(SPEC + 16..) {
                    if escapes == 0 {
                        put_short(body, rest);
                    } else {
                        put_escaped(body, rest);
                    }
                }
                end = e;
                len
            },
        );
        if kept == 0 {
            self.wipe_begun();
            return false;
        }
        self.count += 1;
        self.last = off;
        self.next_sector = end;
        true
    }

    /// Put back the zeros of a record [`Table::push_in_place`] began and
    /// that was not kept (its first `SPEC + 16` bytes after the table: all
    /// that was written).
    #[cold]
    fn wipe_begun(&mut self) {
        self.buf.append_within(SPEC + 16, |room| {
            if let Some(r) = room.get_mut(..SPEC + 16) {
                r.fill(0);
            }
            0
        });
    }

    /// Append a target whose NUL-free parameters hold `escapes`
    /// backslashes (each doubled in the encoding).
    #[inline]
    fn push_escaped(
        &mut self,
        start: u64,
        length: u64,
        ttype: &[u8],
        params: &[u8],
        escapes: usize,
    ) -> Result<(), Error> {
        let Some(len) = params
            .len()
            .checked_add(escapes + 1 + 7)
            .map(|n| SPEC + (n & !7))
            .filter(|&n| n <= u32::MAX as usize - self.buf.len().max(DATA_START))
        else {
            self.too_large = true;
            return Ok(());
        };
        if self.count == u32::MAX {
            self.too_large = true;
            return Ok(());
        }
        if self.buf.is_empty() && self.buf.try_extend_zeroed(DATA_START).is_none() {
            return Err(Error::no_memory(DATA_START));
        }
        let off = self.buf.len();
        let Some(rec) = self.buf.try_extend_zeroed(len) else {
            return Err(Error::no_memory(len));
        };
        encode(rec, start, length, ttype, params, escapes != 0);
        self.count += 1;
        self.last = off;
        if length == 0 || start != self.next_sector {
            self.gap = true;
        }
        self.next_sector = start.saturating_add(length);
        Ok(())
    }

    /// Whether every target has a length and starts where the previous one
    /// ended, the first at sector 0 (else a walk of [`Table::iter`] finds
    /// the first that does not).
    #[inline]
    pub fn contiguous(&self) -> bool {
        !self.gap
    }

    /// Remove every target (the buffer is wiped and released).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
        self.last = 0;
        self.nul_params = false;
        self.too_large = false;
        self.next_sector = 0;
        self.gap = false;
    }

    /// The targets, in order.
    pub fn iter(&self) -> TableIter<'_> {
        TableIter {
            buf: self.buf.as_bytes(),
            off: DATA_START,
            left: self.count,
        }
    }

    /// Offset of the first target's record (for [`Table::target_at`]).
    pub const fn first_offset() -> usize {
        DATA_START
    }

    /// The target whose record starts at `off` (an offset
    /// [`Table::first_offset`] or a previous answer gave), and the offset
    /// of the next one, if there is a next one. `None` for an offset past
    /// the table. An offset inside a record reads whatever is there, within
    /// the buffer and checked: never out of bounds.
    #[inline]
    pub fn target_at(&self, off: usize) -> Option<(TableTarget<'_>, Option<usize>)> {
        if self.count == 0 || off < DATA_START || off > self.last {
            return None;
        }
        let (t, next) = record(self.buf.as_bytes(), off)?;
        Some((t, (off < self.last).then(|| off + next)))
    }

    /// Why the run must refuse the table, if it must: the message of
    /// libdevmapper's encoder.
    pub(crate) fn refusal(&self) -> Option<codec::EncodeError> {
        if self.nul_params {
            Some(codec::EncodeError::EmbeddedNul("target parameters"))
        } else if self.too_large {
            Some(codec::EncodeError::TooLarge)
        } else {
            None
        }
    }

    /// Payload bytes (the records, without the header room).
    pub(crate) fn payload_len(&self) -> usize {
        self.buf.len().saturating_sub(DATA_START)
    }

    /// The records, as sent.
    pub(crate) fn payload(&self) -> &[u8] {
        self.buf.as_bytes().get(DATA_START..).unwrap_or(&[])
    }

    /// The buffer, header room included, for the run.
    pub(crate) fn buf_mut(&mut self) -> &mut TableBuf {
        &mut self.buf
    }
}

/// Write one record into `rec` (zeroed, exactly its length).
#[inline]
fn encode(rec: &mut [u8], start: u64, length: u64, ttype: &[u8], params: &[u8], escape: bool) {
    let len = rec.len() as u32;
    let (head, body) = rec.split_at_mut(SPEC);
    head[0..8].copy_from_slice(&start.to_ne_bytes());
    head[8..16].copy_from_slice(&length.to_ne_bytes());
    head[20..24].copy_from_slice(&len.to_ne_bytes());
    put_short(&mut head[TYPE_AT..], ttype);
    if !escape {
        if params.len() <= 16 {
            put_short(body, params);
        } else if let Some(d) = body.get_mut(..params.len()) {
            d.copy_from_slice(params);
        }
        return;
    }
    put_escaped(body, params);
}

/// Copy `params` to the start of `out` (zeroed, long enough) with every
/// backslash doubled.
#[inline]
fn put_escaped(out: &mut [u8], params: &[u8]) {
    let mut out = out.iter_mut();
    for &c in params {
        if c == b'\\' {
            if let Some(d) = out.next() {
                *d = b'\\';
            }
        }
        if let Some(d) = out.next() {
            *d = c;
        }
    }
}

/// Copy `src` to the start of `dst` (at least as long, zeroed): when it is
/// at most 16 bytes, with a few overlapping fixed-size moves (type names
/// and most parameters are short, and a variable-length copy is a library
/// call).
#[inline(always)]
fn put_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if dst.len() < n {
        return;
    }
    // Integer loads and stores, not slice copies: LLVM merges copies of
    // different constant sizes into one variable-size memcpy call.
    let r4 = |at: usize| load4(src, at);
    let r8 = |at: usize| load8(src, at);
    match n {
        0 => {}
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => {
            let (a, b) = (r4(0), r4(n - 4));
            dst[..4].copy_from_slice(&a.to_ne_bytes());
            dst[n - 4..n].copy_from_slice(&b.to_ne_bytes());
        }
        8..=16 => {
            let (a, b) = (r8(0), r8(n - 8));
            dst[..8].copy_from_slice(&a.to_ne_bytes());
            dst[n - 8..n].copy_from_slice(&b.to_ne_bytes());
        }
        _ => dst[..n].copy_from_slice(src),
    }
}

#[inline(always)]
fn load4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(w)
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// A word made of bytes of `s` (1 to 8 of them; short ones repeated), so
/// that the word holds a byte value exactly when `s` does.
#[inline(always)]
fn word_of(s: &[u8]) -> u64 {
    let n = s.len();
    let w4 = |c: &[u8]| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) as u64;
    if n >= 8 {
        return load8(s, 0);
    }
    match n {
        0 => ONES,
        1 => u64::from(s[0]) * ONES,
        2..=3 => {
            let h = u64::from(u16::from_ne_bytes([s[0], s[1]]))
                | u64::from(u16::from_ne_bytes([s[n - 2], s[n - 1]])) << 16;
            h | h << 32
        }
        _ => w4(&s[..4]) | w4(&s[n - 4..]) << 32,
    }
}

/// Whether `s` (at most 16 bytes, else the answer is for its first 16)
/// holds a NUL.
#[inline]
pub(crate) fn short_has_nul(s: &[u8]) -> bool {
    let n = s.len().min(16);
    if n <= 8 {
        return zero_bytes(word_of(&s[..n])) != 0;
    }
    zero_bytes(word_of(&s[..8])) | zero_bytes(word_of(&s[n - 8..n])) != 0
}

/// The targets of a [`Table`], in order.
pub struct TableIter<'a> {
    buf: &'a [u8],
    off: usize,
    left: u32,
}

impl<'a> Iterator for TableIter<'a> {
    type Item = TableTarget<'a>;

    #[inline]
    fn next(&mut self) -> Option<TableTarget<'a>> {
        if self.left == 0 {
            return None;
        }
        let (t, next) = record(self.buf, self.off)?;
        self.left -= 1;
        self.off += next;
        Some(t)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::codec::TargetRef;

    /// The old encoder's bytes for the same targets.
    fn reference(targets: &[(u64, u64, &[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        codec::encode_targets(
            &mut out,
            targets.iter().map(|&(s, l, t, p)| TargetRef {
                start: s,
                length: l,
                target_type: t,
                params: p,
            }),
        )
        .unwrap();
        out
    }

    #[test]
    fn encoding_matches_the_codec_and_reads_back() {
        let targets: Vec<(u64, u64, &[u8], &[u8])> = vec![
            (0, 8, b"linear", b"7:0 2048"),
            (8, 1, b"zero", b""),
            (9, 3, b"crypt", b"aes-xts-plain64 0123456789abcdef 0 7:1 0"),
            (12, 4, b"multipath", b"0 1 \\x 2 \\\\y\\"),
            (16, 1, b"abcdefghijklmno", b"1234567"),
            (17, 1, b"error", b"12345678"),
        ];
        let mut t = Table::new();
        for &(s, l, ty, p) in &targets {
            t.push(s, l, ty, p).unwrap();
        }
        assert_eq!(t.len(), targets.len());
        assert!(t.refusal().is_none());
        assert_eq!(t.payload(), &reference(&targets)[..]);
        assert_eq!(t.payload_len(), t.payload().len());
        let got: Vec<_> = t.iter().collect();
        assert_eq!(got.len(), targets.len());
        for (g, &(s, l, ty, p)) in got.iter().zip(&targets) {
            assert_eq!((g.start, g.length, g.target_type()), (s, l, ty));
            assert_eq!(g.params_secret().unwrap().as_bytes(), p);
            assert_eq!(g.params_escaped(), p.contains(&b'\\'));
            if !g.params_escaped() {
                assert_eq!(g.params(), Some(p));
            }
        }
        // By offset: the same answers, then the end.
        let mut off = Some(Table::first_offset());
        let mut n = 0;
        while let Some(o) = off {
            let (x, next) = t.target_at(o).unwrap();
            assert_eq!(x.start, targets[n].0);
            assert_eq!(x.encoded_params(), got[n].encoded_params());
            n += 1;
            off = next;
        }
        assert_eq!(n, targets.len());
        assert!(t.target_at(t.payload_len() + DATA_START).is_none());
        assert!(t.target_at(0).is_none());
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.iter().count(), 0);
        assert!(t.target_at(Table::first_offset()).is_none());
    }

    #[test]
    fn grows_across_the_heap_and_the_mapping() {
        let mut t = Table::new();
        let n = 5000u64;
        for i in 0..n {
            let p = format!("7:{} {}", i % 7, i * 8);
            t.push(i * 8, 8, b"linear", p.as_bytes()).unwrap();
        }
        assert_eq!(t.len(), n as usize);
        for (i, x) in t.iter().enumerate() {
            let i = i as u64;
            assert_eq!((x.start, x.length), (i * 8, 8));
            assert_eq!(
                x.encoded_params(),
                format!("7:{} {}", i % 7, i * 8).as_bytes()
            );
        }
        // Spot checks by offset, including an offset inside a record (no
        // panic, whatever it reads).
        let (x, next) = t.target_at(Table::first_offset()).unwrap();
        assert_eq!(x.start, 0);
        for o in Table::first_offset()..next.unwrap() + 3 {
            let _ = t.target_at(o);
        }
    }

    #[test]
    fn word_scans_agree_with_bytewise_ones() {
        for len in 0..40usize {
            for at in 0..=len {
                for b in [0u8, b'\\', b'a', 0x80, 0x5c ^ 0x80, 1] {
                    let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 20) as u8).collect();
                    if at < len {
                        v[at] = b;
                    }
                    let want = v.iter().any(|&c| c == 0 || c == b'\\');
                    assert_eq!(codec::contains_either(&v, 0, b'\\'), want, "{v:?}");
                    assert_eq!(codec::contains_byte(&v, b'\\'), v.contains(&b'\\'), "{v:?}");
                    if len <= 16 {
                        assert_eq!(short_has_nul(&v), v.contains(&0), "{v:?}");
                        let mut d = vec![0u8; 24];
                        put_short(&mut d, &v);
                        assert_eq!(&d[..len], &v[..]);
                        assert!(d[len..].iter().all(|&c| c == 0));
                    }
                }
            }
        }
    }

    /// `fill` as the C shell's: the strings copied when short and plain.
    fn fill_from<'a>(
        ty: &'a [u8],
        p: &'a [u8],
    ) -> impl FnOnce(&mut [u8; 16], &mut [u8; 16]) -> Option<usize> + 'a {
        move |tf, pf| {
            // Written before the refusal, as the shell's byte loop does.
            let t = ty.len().min(16);
            tf[..t].copy_from_slice(&ty[..t]);
            let n = p.len().min(16);
            pf[..n].copy_from_slice(&p[..n]);
            (!ty.is_empty() && ty.len() < 16 && !p[..n].contains(&b'\\')).then_some(n)
        }
    }

    /// [`Table::push_in_place`] as the shell does it: a record begun is
    /// finished with the whole parameters.
    fn push_fast(t: &mut Table, start: u64, length: u64, ty: &[u8], p: &[u8]) -> bool {
        match t.push_in_place(start, length, fill_from(ty, p)) {
            InPlace::Added => true,
            // (The shell looks for a backslash after 16 bytes.)
            InPlace::Long(b) if p.contains(&b'\\') => b.finish_escaped(&p[16..]),
            InPlace::Long(b) => b.finish(&p[16..]),
            InPlace::Refused => false,
        }
    }

    /// How many bytes the storage has after the table.
    fn spare_len(t: &mut Table) -> usize {
        let mut n = 0;
        t.buf.append_within(1, |spare| {
            n = spare.len();
            0
        });
        n
    }

    /// Whether the storage after the table is all zero.
    fn spare_is_zero(t: &mut Table) -> bool {
        let mut zero = true;
        t.buf.append_within(1, |spare| {
            zero = spare.iter().all(|&b| b == 0);
            0
        });
        zero
    }

    #[test]
    fn in_place_appends_encode_alike_and_refusals_change_nothing() {
        // Every parameter length up to 100 (short, around 16, every
        // remainder of eight after it), type names of 1 to 16 bytes,
        // backslashes in the first 16 bytes and after them, gaps, zero
        // lengths, and enough targets to fill the storage exactly and grow
        // it several times.
        let mut t = Table::new();
        let mut want: Vec<(u64, u64, Vec<u8>, Vec<u8>)> = Vec::new();
        let (mut fast, mut long, mut other) = (0, 0, 0);
        let mut at = 0u64;
        for i in 0..6000usize {
            let ty: Vec<u8> = b"abcdefghijklmnopq"[..1 + i % 16].to_vec();
            let mut p: Vec<u8> = (0..(i * 7) % 101).map(|k| b'0' + (k % 10) as u8).collect();
            if i % 13 == 5 && !p.is_empty() {
                let k = i % p.len();
                p[k] = b'\\';
            }
            let (start, len) = match i % 97 {
                3 => (at + 1, 8),
                4 => (at, 0),
                _ => (at, 8),
            };
            if ty.len() >= abi::DM_MAX_TYPE_NAME {
                // The shell's fast path refuses it, and so does the task.
                assert!(!push_fast(&mut t, start, len, &ty, &p));
                assert!(spare_is_zero(&mut t));
                continue;
            }
            if i % 11 == 7 && p.len() >= 16 {
                // A record begun and dropped is wiped.
                let r = t.push_in_place(start, len, fill_from(&ty, &p));
                assert!(matches!(r, InPlace::Long(_) | InPlace::Refused));
                drop(r);
                assert!(spare_is_zero(&mut t));
            }
            if push_fast(&mut t, start, len, &ty, &p) {
                fast += 1;
                if p.len() >= 16 {
                    long += 1;
                }
            } else {
                // Whatever was written is zero again.
                assert!(spare_is_zero(&mut t), "{i}");
                t.push(start, len, &ty, &p).unwrap();
                other += 1;
            }
            want.push((start, len, ty, p));
            at = start + len;
            if i % 1000 == 0 {
                // A table cleared and started again.
                t.clear();
                want.clear();
                at = 0;
            }
        }
        assert!(
            fast > 2000 && long > 1000 && other > 300,
            "{fast} {long} {other}"
        );
        let refs: Vec<(u64, u64, &[u8], &[u8])> = want
            .iter()
            .map(|(s, l, ty, p)| (*s, *l, &ty[..], &p[..]))
            .collect();
        assert_eq!(t.payload(), &reference(&refs)[..]);
        assert_eq!(t.len(), want.len());
        assert!(!t.contiguous());
        // Past the end of the table the storage is still zero.
        assert!(spare_is_zero(&mut t));
        let n = t.buf.len();
        t.buf.try_extend_zeroed(4096).unwrap();
        assert!(t.buf.as_bytes()[n..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_started_table_takes_its_first_target_in_place() {
        let targets: [(u64, u64, &[u8], &[u8]); 3] = [
            (0, 8, b"zero", b""),
            (8, 8, b"linear", b"7:0 2048"),
            (16, 8, b"crypt", b"aes-xts-plain64 0123456789abcdef 0 7:1 0"),
        ];
        let mut t = Table::new();
        // Without storage the first target is refused in place.
        assert!(!push_fast(&mut t, 0, 8, b"zero", b""));
        assert!(t.start());
        assert!(!t.start());
        assert!(t.is_empty() && t.payload().is_empty());
        assert!(spare_is_zero(&mut t));
        for &(s, l, ty, p) in &targets {
            assert!(push_fast(&mut t, s, l, ty, p));
        }
        assert_eq!(t.payload(), &reference(&targets)[..]);
        // A table started whose first target takes the other way.
        let mut u = Table::new();
        assert!(u.start());
        u.push(0, 8, b"multipath", b"0 1 \\x").unwrap();
        assert_eq!(
            u.payload(),
            &reference(&[(0, 8, b"multipath", b"0 1 \\x")])[..]
        );
        // Cleared, it has no storage again.
        t.clear();
        assert!(t.start());
    }

    #[test]
    fn long_parameters_are_kept_as_push_keeps_them_or_wiped() {
        let mut t = Table::new();
        t.push(0, 8, b"zero", b"").unwrap();
        // Fill the storage up to room for a record begun (56 bytes), not
        // for a record of 64-byte parameters (112).
        let mut at = 8;
        while spare_len(&mut t) >= SPEC + 16 + 48 {
            assert!(push_fast(&mut t, at, 8, b"zero", b""));
            at += 8;
        }
        assert!(spare_len(&mut t) >= SPEC + 16);
        for long in [
            &b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"[..],
            &b"0123456789abcdef0123456789abcdef0123456789abcdef01234567\\9abcdef"[..],
        ] {
            assert!(!push_fast(&mut t, at, 8, b"crypt", long));
            assert!(spare_is_zero(&mut t));
        }
        t.push(at, 8, b"zero", b"").unwrap();
        // A record begun and dropped is wiped.
        let mut t = Table::new();
        t.push(0, 8, b"zero", b"").unwrap();
        let r = t.push_in_place(8, 8, fill_from(b"crypt", b"0123456789abcdef01"));
        assert!(matches!(r, InPlace::Long(_)));
        drop(r);
        assert!(spare_is_zero(&mut t));
        // Each length after 16, with and without backslashes after the
        // first 16 bytes, is kept as push keeps it (the backslashes
        // doubled).
        let mut other = Table::new();
        other.push(0, 8, b"zero", b"").unwrap();
        other.push(8, 8, b"zero", b"").unwrap();
        let mut t = Table::new();
        t.push(0, 8, b"zero", b"").unwrap();
        assert!(push_fast(&mut t, 8, 8, b"zero", b""));
        let mut at = 16;
        for n in 16..80 {
            for bs in [None, Some(16), Some(n - 1), Some(n / 2 + 8)] {
                let mut p: Vec<u8> = (0..n).map(|k| b'a' + (k % 26) as u8).collect();
                if let Some(k) = bs.filter(|&k| k >= 16 && k < n) {
                    p[k] = b'\\';
                    p[n - 1] = b'\\';
                }
                assert!(
                    push_fast(&mut t, at, 8, b"linear", &p) || {
                        t.push(at, 8, b"linear", &p).unwrap();
                        true
                    }
                );
                other.push(at, 8, b"linear", &p).unwrap();
                at += 8;
            }
        }
        assert_eq!(t.payload(), other.payload());
        assert!(spare_is_zero(&mut t));
    }

    #[test]
    fn contiguity_is_tracked_as_targets_are_added() {
        let mut t = Table::new();
        t.push(0, 8, b"zero", b"").unwrap();
        t.push(8, 8, b"zero", b"").unwrap();
        assert!(t.contiguous());
        t.push(17, 8, b"zero", b"").unwrap();
        assert!(!t.contiguous());
        t.clear();
        t.push(0, 0, b"zero", b"").unwrap();
        assert!(!t.contiguous());
        t.clear();
        t.push(1, 8, b"zero", b"").unwrap();
        assert!(!t.contiguous());
        t.clear();
        assert!(t.contiguous());
    }

    #[test]
    fn refusals_are_kept_for_the_run() {
        let mut t = Table::new();
        t.push(0, 8, b"zero", b"a\0b").unwrap();
        assert!(matches!(
            t.refusal(),
            Some(codec::EncodeError::EmbeddedNul(_))
        ));
        assert_eq!(t.iter().next().unwrap().encoded_params(), b"a");
        t.clear();
        assert!(t.refusal().is_none());
    }

    #[test]
    fn a_scribbled_buffer_reads_safely() {
        let mut t = Table::new();
        for i in 0..4 {
            t.push(i * 8, 8, b"linear", b"7:0 2048").unwrap();
        }
        let len = t.buf.len();
        for at in DATA_START..len {
            for v in [0u8, 0xff, 7] {
                let old = t.buf.as_bytes()[at];
                t.buf.as_bytes_mut()[at] = v;
                let _ = t.iter().count();
                let mut off = Some(Table::first_offset());
                let mut guard = 0;
                while let Some(o) = off {
                    off = t.target_at(o).and_then(|(_, n)| n);
                    guard += 1;
                    if guard > 10 {
                        break;
                    }
                }
                t.buf.as_bytes_mut()[at] = old;
            }
        }
    }
}
