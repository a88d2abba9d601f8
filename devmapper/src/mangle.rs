//! udev-compatible mangling of device names and uuids, as libdevmapper does it.
//!
//! Device-mapper accepts any byte in a name, but udev only copes with a
//! whitelist (`0-9 A-Z a-z # + - . : = @ _`). libdm therefore encodes every
//! other byte as `\xNN` (two lowercase hex digits) before handing a name or
//! uuid to the kernel, and decodes results coming back. The mode (a setting
//! of the [`Context`](crate::Context)) decides how:
//!
//! * `None`: nothing is mangled; results are decoded only on request.
//! * `Auto`: existing `\xNN` sequences are kept, other blacklisted bytes are
//!   encoded; a mixture of both is an error, and so is `\x5cx` (mangled twice).
//! * `Hex`: every blacklisted byte is encoded, including the `\` of existing
//!   sequences.
//!
//! The functions here are pure: they neither log nor touch any state.
//! `MangleError`'s `Display` text is libdm's wording; callers add their own
//! line after it, e.g. `Failed to mangle device name "%s".`.
//!
//! The `kind` argument is the noun libdm prints: `"name"`, `"new name"`,
//! `"UUID"` or `"new UUID"`.

use std::fmt;

/// `dm_string_mangling_t`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManglingMode {
    /// No mangling.
    None = 0,
    /// Mangle what needs it, keep existing `\xNN` sequences.
    Auto = 1,
    /// Mangle every byte outside the whitelist.
    Hex = 2,
}

impl ManglingMode {
    /// From the C enum value.
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::None),
            1 => Some(Self::Auto),
            2 => Some(Self::Hex),
            _ => None,
        }
    }

    /// `none`, `auto` or `hex` (case-insensitive), as accepted in
    /// `DM_DEFAULT_NAME_MANGLING_MODE`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("none") {
            Some(Self::None)
        } else if s.eq_ignore_ascii_case("auto") {
            Some(Self::Auto)
        } else if s.eq_ignore_ascii_case("hex") {
            Some(Self::Hex)
        } else {
            None
        }
    }

    /// The word libdm uses in its debug lines (`auto` / `hex`; `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Auto => "auto",
            Self::Hex => "hex",
        }
    }
}

/// Build-time default (`DEFAULT_DM_NAME_MANGLING`).
pub const DEFAULT_MODE: ManglingMode = ManglingMode::Auto;

/// Why a string could not be (un)mangled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MangleFailure {
    /// Raw blacklisted bytes next to `\xNN` sequences (AUTO), or a truncated
    /// `\x` sequence.
    Mixed,
    /// Contains `\x5cx` (AUTO).
    MangledMoreThanOnce,
    /// The mangled form does not fit the kernel field.
    TooLong,
    /// Strict unmangling met a raw blacklisted byte.
    Blacklisted,
}

/// A mangling error carrying what libdm prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MangleError {
    /// What went wrong.
    pub failure: MangleFailure,
    /// The noun libdm prints ("name", "UUID", ...).
    pub kind: String,
    /// The offending input.
    pub value: Vec<u8>,
}

impl MangleError {
    fn new(failure: MangleFailure, kind: &str, value: &[u8]) -> Self {
        MangleError {
            failure,
            kind: kind.to_string(),
            value: value.to_vec(),
        }
    }
}

impl fmt::Display for MangleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = String::from_utf8_lossy(&self.value);
        let k = &self.kind;
        match self.failure {
            MangleFailure::Mixed => write!(
                f,
                "The {k} \"{v}\" contains mixed mangled and unmangled characters or it's already mangled improperly."
            ),
            MangleFailure::MangledMoreThanOnce => write!(
                f,
                "The {k} \"{v}\" seems to be mangled more than once. This is not allowed in auto mode."
            ),
            MangleFailure::TooLong => write!(f, "Mangled form of the {k} too long for \"{v}\"."),
            MangleFailure::Blacklisted => write!(
                f,
                "The {k} \"{v}\" should be mangled but it contains blacklisted characters."
            ),
        }
    }
}

impl std::error::Error for MangleError {}

const WHITE: u8 = 0;
const BACKSLASH: u8 = 1;
const BLACK: u8 = 2;

const fn build_class() -> [u8; 256] {
    let mut t = [BLACK; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric()
            || matches!(b, b'#' | b'+' | b'-' | b'.' | b':' | b'=' | b'@' | b'_')
        {
            t[c] = WHITE;
        }
        c += 1;
    }
    t[b'\\' as usize] = BACKSLASH;
    t
}

/// Byte classes: whitelisted, backslash, blacklisted.
static CLASS: [u8; 256] = build_class();

/// The classes as bits, for OR-ing over a whole string.
const fn build_bits() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        t[c] = 1 << CLASS[c];
        c += 1;
    }
    t
}

static CLASS_BITS: [u8; 256] = build_bits();

/// The union of the classes (as `1 << class` bits) of the bytes of `s`.
/// The classes of eight bytes (`w` holds at least eight), unrolled.
#[inline(always)]
fn classes8(t: &[u8; 256], w: &[u8]) -> u8 {
    t[w[0] as usize]
        | t[w[1] as usize]
        | t[w[2] as usize]
        | t[w[3] as usize]
        | t[w[4] as usize]
        | t[w[5] as usize]
        | t[w[6] as usize]
        | t[w[7] as usize]
}

#[inline(always)]
fn classes(s: &[u8]) -> u8 {
    let t = &CLASS_BITS;
    let mut seen = 0u8;
    let mut chunks = s.chunks_exact(8);
    for w in &mut chunks {
        seen |= classes8(t, w);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        match s.len().checked_sub(8) {
            // The last eight bytes again (OR-ing a byte twice is harmless).
            Some(at) => seen |= classes8(t, &s[at..]),
            None => {
                for &b in rest {
                    seen |= t[b as usize];
                }
            }
        }
    }
    seen
}

/// Whether every byte of `s` is on udev's whitelist (true for `""`): such
/// a string is the same mangled or not, in every mode, and holds neither a
/// `/` nor a NUL.
#[inline]
pub fn is_plain(s: &[u8]) -> bool {
    classes(s) & !(1 << WHITE) == 0
}

/// Whether `b` is on udev's whitelist.
#[inline]
pub fn is_whitelisted(b: u8) -> bool {
    CLASS[b as usize] == WHITE
}

/// `b` in every byte of a word.
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// For eight bytes of a string read as one little-endian word, the high
/// bit (`0x80`) of bytes this word-at-a-time test does not vouch for: it
/// vouches only for the common whitelisted bytes (`A-Z a-z 0-9` and
/// `- . : _`), so it flags every NUL, backslash and blacklisted byte and
/// the rarer whitelisted ones (`# + = @`), which need the exact check
/// ([`is_plain`]). Only the lowest set bit is exact (bits above it may be
/// set or clear): it marks the first byte not vouched for, if any. The
/// `flag` of the LIST run's name walk
/// ([`walk_names_flagged`](crate::kernel::codec::walk_names_flagged)).
#[inline(always)]
pub fn unvouched_bytes(w: u64) -> u64 {
    WORD_TEST.unvouched(w)
}

/// The constants of [`unvouched_bytes`].
const WORD_TEST: WordTest = WordTest([
    splat(0x7f - b'z'),
    splat(0x80 - b'-'),
    splat(0x1f),
    splat(0x80 - 6),
    splat(b'/'),
    splat(b'_'),
    splat(0x7f),
    splat(0x80),
]);

/// The constants of the word test, named.
#[derive(Clone, Copy, Debug)]
struct WordTest([u64; 8]);

impl WordTest {
    /// [`unvouched_bytes`] of `w`.
    #[inline(always)]
    fn unvouched(&self, w: u64) -> u64 {
        let [c_past_z, c_from_dash, c_low5, c_gaps, c_slash, c_underscore, c_low7, c_high] = self.0;
        // Each sum's high bit tests one byte. A seven-bit byte plus these
        // constants stays below 0x100, so only a byte with its high bit set
        // (flagged by `| w` whatever its sums say) carries into the bytes
        // above it: every byte below the first such one is tested exactly.
        let past_z = w.wrapping_add(c_past_z); // x > 'z'
        let from_dash = w.wrapping_add(c_from_dash); // x >= '-'
                                                     // In '-'..='z', the bytes that are not `- . / 0-9 : A-Z a-z` are
                                                     // `; < = > ? @` and `[ \ ] ^ _ \``: those whose (x + 5) % 32 < 6.
        let outside_gaps = (past_z & c_low5).wrapping_add(c_gaps);
        let not_slash = (w ^ c_slash).wrapping_add(c_low7); // x != '/'
        let not_underscore = (w ^ c_underscore).wrapping_add(c_low7); // x != '_'
        let main = from_dash & outside_gaps & not_slash & !past_z;
        (!main & not_underscore | w) & c_high
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `check_multiple_mangled_string_allowed`: in AUTO mode a string containing
/// `\x5cx` is rejected as mangled more than once.
pub fn check_multiple_mangled(s: &[u8], mode: ManglingMode, kind: &str) -> Result<(), MangleError> {
    if mode == ManglingMode::Auto && s.contains(&b'\\') && contains(s, b"\\x5cx") {
        return Err(MangleError::new(
            MangleFailure::MangledMoreThanOnce,
            kind,
            s,
        ));
    }
    Ok(())
}

/// Mangle `s` for the kernel the way `dm_task_set_name`/`dm_task_set_uuid`
/// do: NONE returns `Ok(None)` (no mangling), AUTO first rejects `\x5cx`,
/// then [`mangle_unchecked`] runs. `max_len` is the kernel field size
/// including the NUL (`DM_NAME_LEN` or `DM_UUID_LEN`).
///
/// `Ok(None)` means the string goes to the kernel unchanged; `Ok(Some(v))`
/// is the mangled copy.
pub fn mangle(
    s: &[u8],
    mode: ManglingMode,
    kind: &str,
    max_len: usize,
) -> Result<Option<Vec<u8>>, MangleError> {
    if mode == ManglingMode::None {
        return Ok(None);
    }
    check_multiple_mangled(s, mode, kind)?;
    mangle_unchecked(s, mode, kind, max_len)
}

/// libdm's `mangle_string` proper (no `\x5cx` check; NONE is treated as
/// AUTO, as `dm_task_get_name_mangled` does).
pub fn mangle_unchecked(
    s: &[u8],
    mode: ManglingMode,
    kind: &str,
    max_len: usize,
) -> Result<Option<Vec<u8>>, MangleError> {
    if s.is_empty() {
        return Ok(None);
    }
    let mode = if mode == ManglingMode::None {
        ManglingMode::Auto
    } else {
        mode
    };

    // Fast path: nothing outside the whitelist, nothing to encode.
    if s.iter().all(|&b| CLASS[b as usize] == WHITE) {
        if s.len() >= max_len {
            return Err(MangleError::new(MangleFailure::TooLong, kind, s));
        }
        return Ok(None);
    }

    let too_long = || MangleError::new(MangleFailure::TooLong, kind, s);
    let mixed = || MangleError::new(MangleFailure::Mixed, kind, s);
    // -1: don't know yet, 0: already mangled parts only, 1: we encoded bytes.
    let mut need: i8 = -1;
    let mut out: Vec<u8> = Vec::with_capacity(s.len() * 2);
    let n = s.len();
    let mut i = 0;
    while i < n {
        let c = s[i];
        if mode == ManglingMode::Auto && c == b'\\' && s.get(i + 1) == Some(&b'x') {
            if n - i < 4 || need == 1 {
                return Err(mixed());
            }
            if out.len() + 4 > max_len {
                return Err(too_long());
            }
            out.extend_from_slice(&s[i..i + 4]);
            i += 4;
            need = 0;
            continue;
        }
        if CLASS[c as usize] == WHITE {
            if out.len() + 1 > max_len {
                return Err(too_long());
            }
            out.push(c);
        } else {
            if mode != ManglingMode::Hex && need == 0 {
                return Err(mixed());
            }
            if out.len() + 4 > max_len {
                return Err(too_long());
            }
            out.extend_from_slice(&[b'\\', b'x', HEX[(c >> 4) as usize], HEX[(c & 0xf) as usize]]);
            need = 1;
        }
        i += 1;
    }
    // Room for the terminating NUL.
    if out.len() + 1 > max_len {
        return Err(too_long());
    }
    Ok(if need == 1 { Some(out) } else { None })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `\xNN` sequences (`unmangle_string`); `kind` is the noun for
/// error messages ("name", "UUID"). In AUTO and HEX mode a raw
/// blacklisted byte is an error ("should be mangled but it contains
/// blacklisted characters"); NONE decodes without checking.
///
/// `Ok(None)`: nothing was decoded, use the input as is (no allocation on
/// this path when the string has no backslash). `Ok(Some(v))`: the decoded
/// bytes.
///
/// libdm quirks kept: each `\x` sequence consumes four input bytes even when
/// only one hex digit follows; a `\x` not followed by a hex digit stops the
/// decoding there (a debug line is logged) and the output is cut at that
/// point if anything had been decoded before.
pub fn unmangle_as(
    s: &[u8],
    mode: ManglingMode,
    kind: &str,
) -> Result<Option<Vec<u8>>, MangleError> {
    let strict = mode != ManglingMode::None;

    // Fast path: one table lookup per byte, no allocation.
    let seen = classes(s);
    if seen & (1 << BACKSLASH) == 0 {
        if strict && seen & (1 << BLACK) != 0 {
            return Err(MangleError::new(MangleFailure::Blacklisted, kind, s));
        }
        return Ok(None);
    }

    let n = s.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let mut decoded = false;
    let mut i = 0;
    while i < n {
        let c = s[i];
        if strict && CLASS[c as usize] == BLACK {
            return Err(MangleError::new(MangleFailure::Blacklisted, kind, s));
        }
        if c == b'\\' && s.get(i + 1) == Some(&b'x') {
            let d1 = s.get(i + 2).copied().and_then(hex_val);
            // libdm logs "Hex encoding mismatch detected ..." at debug
            // level here; this module does not log, it just stops.
            let Some(d1) = d1 else {
                break;
            };
            let code = match s.get(i + 3).copied().and_then(hex_val) {
                Some(d2) => (d1 << 4) | d2,
                None => d1,
            };
            out.push(code);
            i += 4;
            decoded = true;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(if decoded { Some(out) } else { None })
}

/// What libdm does to each name and uuid of an ioctl reply before the
/// caller sees it (`_do_dm_ioctl_unmangle_string`): nothing in NONE mode;
/// otherwise a string mangled more than once (AUTO) or holding a
/// blacklisted byte is an error, and `\xNN` sequences are decoded.
pub fn unmangle_reply_string(
    s: &[u8],
    mode: ManglingMode,
    kind: &str,
) -> Result<Option<Vec<u8>>, MangleError> {
    if mode == ManglingMode::None {
        return Ok(None);
    }
    let seen = classes(s);
    if seen & (1 << BACKSLASH) == 0 {
        if seen & (1 << BLACK) != 0 {
            return Err(MangleError::new(MangleFailure::Blacklisted, kind, s));
        }
        return Ok(None);
    }
    check_multiple_mangled(s, mode, kind)?;
    unmangle_as(s, mode, kind)
}

/// [`unmangle_reply_string`] of the NUL-terminated string in a kernel
/// field (name or uuid of a reply header); a string of whitelisted bytes
/// only, the usual case, is settled in one pass.
#[inline(always)]
pub fn unmangle_reply_field(
    field: &[u8],
    mode: ManglingMode,
    kind: &str,
) -> Result<Option<Vec<u8>>, MangleError> {
    if field.first().is_none_or(|&b| b == 0) {
        return Ok(None); // empty (most uuids)
    }
    unmangle_reply_field_nonempty(field, mode, kind)
}

#[inline(never)]
fn unmangle_reply_field_nonempty(
    field: &[u8],
    mode: ManglingMode,
    kind: &str,
) -> Result<Option<Vec<u8>>, MangleError> {
    let s = crate::kernel::codec::fixed_str(field);
    if mode == ManglingMode::None || is_plain(s) {
        return Ok(None);
    }
    unmangle_reply_string(s, mode, kind)
}

/// [`unmangle_as`] for a device name (errors say "The name ...").
pub fn unmangle(s: &[u8], mode: ManglingMode) -> Result<Option<Vec<u8>>, MangleError> {
    unmangle_as(s, mode, "name")
}

/// Unmangle in place of a borrowed string: the decoded copy, or the input.
pub fn unmangled_or_same<'a>(
    s: &'a [u8],
    mode: ManglingMode,
    kind: &str,
) -> Result<std::borrow::Cow<'a, [u8]>, MangleError> {
    Ok(match unmangle_as(s, mode, kind)? {
        Some(v) => std::borrow::Cow::Owned(v),
        None => std::borrow::Cow::Borrowed(s),
    })
}

#[cfg(test)]
mod tests {
    use super::ManglingMode::{Auto, Hex, None as NoneMode};
    use super::*;
    use crate::kernel::abi::{DM_NAME_LEN as NAME_LEN, DM_UUID_LEN as UUID_LEN};

    fn m(s: &str, mode: ManglingMode) -> Result<Option<Vec<u8>>, MangleError> {
        mangle(s.as_bytes(), mode, "name", NAME_LEN)
    }
    fn u(s: &str, mode: ManglingMode) -> Result<Option<Vec<u8>>, MangleError> {
        unmangle(s.as_bytes(), mode)
    }
    fn some(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    /// The word test vouches exactly for `A-Z a-z 0-9 - . : _`: its lowest
    /// flag marks the first other byte, at every position of a word,
    /// whatever the bytes next to it (every pair of neighbours: a sum must
    /// not carry into the next byte below the first byte not vouched for).
    #[test]
    fn the_word_test_vouches_only_for_whitelisted_bytes() {
        let vouched = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_');
        for b in 0..=255u8 {
            assert!(!vouched(b) || (is_whitelisted(b) && b != 0), "{b:#x}");
        }
        for lo in 0..=255u8 {
            for hi in 0..=255u8 {
                for at in 0..7 {
                    let mut bytes = [b'a'; 8];
                    bytes[at] = lo;
                    bytes[at + 1] = hi;
                    let f = unvouched_bytes(u64::from_le_bytes(bytes));
                    assert_eq!(f & !splat(0x80), 0, "{bytes:?}");
                    let first = bytes.iter().position(|&c| !vouched(c));
                    let lowest = (f != 0).then(|| f.trailing_zeros() as usize / 8);
                    assert_eq!(lowest, first, "{bytes:?}");
                }
            }
        }
        // A vouched byte after an unvouched one may be flagged or not; a
        // word of vouched bytes is never flagged.
        assert_eq!(unvouched_bytes(u64::from_le_bytes(*b"Az09-.:_")), 0);
    }

    #[test]
    fn byte_classes_at_every_length_and_position() {
        for len in 0..40usize {
            for odd in 0..=len {
                for b in [b'/', 0, b'\\', b' ', 0xff, b'a'] {
                    let mut v: Vec<u8> = (0..len).map(|i| b"az09#+-.:=@_AZ"[i % 14]).collect();
                    if odd < len {
                        v[odd] = b;
                    }
                    let white = v.iter().all(|&c| is_whitelisted(c));
                    assert_eq!(is_plain(&v), white, "{v:?}");
                    let slow = |s: &[u8]| s.iter().fold(0u8, |a, &c| a | 1 << CLASS[c as usize]);
                    assert_eq!(classes(&v), slow(&v), "{v:?}");
                    let mut field = [0u8; NAME_LEN];
                    let n = v.iter().position(|&c| c == 0).unwrap_or(len);
                    field[..n].copy_from_slice(&v[..n]);
                    for mode in [Auto, Hex, NoneMode] {
                        assert_eq!(
                            unmangle_reply_field(&field, mode, "name"),
                            unmangle_reply_string(&v[..n], mode, "name"),
                            "{v:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn whitelist() {
        for b in 0u8..=255 {
            let expect = b.is_ascii_alphanumeric() || b"#+-.:=@_".contains(&b);
            assert_eq!(is_whitelisted(b), expect, "byte {b}");
        }
    }

    #[test]
    fn fast_paths_return_none() {
        assert_eq!(m("vg-lv_0#+.:=@", Auto), Ok(None));
        assert_eq!(m("vg-lv", Hex), Ok(None));
        assert_eq!(m("a b", NoneMode), Ok(None));
        assert_eq!(m("", Auto), Ok(None));
        assert_eq!(u("vg-lv", Auto), Ok(None));
        assert_eq!(u("a b", NoneMode), Ok(None));
        assert_eq!(u("", Hex), Ok(None));
    }

    #[test]
    fn mangle_basic() {
        assert_eq!(m("a b", Auto), Ok(some("a\\x20b")));
        assert_eq!(m("a b", Hex), Ok(some("a\\x20b")));
        assert_eq!(m("a/b\u{e9}", Auto), Ok(some("a\\x2fb\\xc3\\xa9")));
        assert_eq!(m("x\\y", Auto), Ok(some("x\\x5cy")));
    }

    #[test]
    fn auto_keeps_existing_sequences() {
        assert_eq!(m("a\\x20b", Auto), Ok(None));
        // HEX re-mangles the backslash.
        assert_eq!(m("a\\x20b", Hex), Ok(some("a\\x5cx20b")));
    }

    #[test]
    fn mixed_is_error() {
        for s in ["a b\\x20c", "a\\x20b c", "ab\\x2"] {
            let e = m(s, Auto).unwrap_err();
            assert_eq!(e.failure, MangleFailure::Mixed, "{s}");
            assert_eq!(
                e.to_string(),
                format!("The name \"{s}\" contains mixed mangled and unmangled characters or it's already mangled improperly.")
            );
        }
        // HEX never complains about mixtures.
        assert!(m("a b\\x20c", Hex).unwrap().is_some());
    }

    #[test]
    fn mangled_twice() {
        let e = m("a\\x5cx20", Auto).unwrap_err();
        assert_eq!(e.failure, MangleFailure::MangledMoreThanOnce);
        assert_eq!(
            e.to_string(),
            "The name \"a\\x5cx20\" seems to be mangled more than once. This is not allowed in auto mode."
        );
        // Only AUTO checks; the unchecked variant keeps the sequence.
        assert_eq!(
            mangle_unchecked(b"a\\x5cx20", Auto, "name", NAME_LEN),
            Ok(None)
        );
        assert!(m("a\\x5cx20", Hex).unwrap().is_some());
    }

    #[test]
    fn too_long() {
        let ok = "a".repeat(127);
        assert_eq!(m(&ok, Auto), Ok(None));
        let long = "a".repeat(128);
        let e = m(&long, Auto).unwrap_err();
        assert_eq!(e.failure, MangleFailure::TooLong);
        assert_eq!(
            e.to_string(),
            format!("Mangled form of the name too long for \"{long}\".")
        );
        // 31 spaces -> 124 bytes fits, 32 -> 128 does not.
        assert_eq!(
            m(&" ".repeat(31), Auto).unwrap().map(|v| v.len()),
            Some(124)
        );
        assert_eq!(
            m(&" ".repeat(32), Auto).unwrap_err().failure,
            MangleFailure::TooLong
        );
        let e = mangle(" x".repeat(40).as_bytes(), Auto, "UUID", UUID_LEN).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Mangled form of the UUID too long for"));
    }

    #[test]
    fn unmangle_basic() {
        assert_eq!(u("a\\x20b", Auto), Ok(some("a b")));
        assert_eq!(u("a\\x20b", NoneMode), Ok(some("a b")));
        assert_eq!(u("a\\x2Fb", Hex), Ok(some("a/b")));
        // A backslash without x is kept as is.
        assert_eq!(u("a\\b", Auto), Ok(None));
    }

    #[test]
    fn unmangle_blacklisted() {
        let e = u("a b", Auto).unwrap_err();
        assert_eq!(e.failure, MangleFailure::Blacklisted);
        assert_eq!(
            e.to_string(),
            "The name \"a b\" should be mangled but it contains blacklisted characters."
        );
        assert_eq!(
            u("a\\x20b c", Hex).unwrap_err().failure,
            MangleFailure::Blacklisted
        );
        assert_eq!(u("a\\x20b c", NoneMode), Ok(some("a b c")));
        let e = unmangle_as(b"x y", Auto, "UUID").unwrap_err();
        assert_eq!(
            e.to_string(),
            "The UUID \"x y\" should be mangled but it contains blacklisted characters."
        );
    }

    #[test]
    fn unmangle_quirks() {
        // A single hex digit still consumes four bytes.
        assert_eq!(u("a\\x5gh", Auto), Ok(some("a\u{5}h")));
        // Mismatch with nothing decoded yet: keep the input.
        assert_eq!(u("a\\xzz", Auto), Ok(None));
        // Mismatch after a decoded sequence: output is cut there.
        assert_eq!(u("a\\x20b\\xzzc", Auto), Ok(some("a b")));
    }

    #[test]
    fn round_trips() {
        let samples: [&[u8]; 6] = [
            b"a b",
            b"tab\there",
            b"\\",
            b"x/y/z",
            b"\xff\x01",
            b"plain-name",
        ];
        for s in samples {
            for mode in [Auto, Hex] {
                let mangled = mangle(s, mode, "name", NAME_LEN)
                    .unwrap()
                    .unwrap_or_else(|| s.to_vec());
                assert!(mangled.iter().all(|&b| is_whitelisted(b) || b == b'\\'));
                let back = unmangle(&mangled, mode)
                    .unwrap()
                    .unwrap_or_else(|| mangled.clone());
                assert_eq!(back, s, "{:?} {:?}", String::from_utf8_lossy(s), mode);
            }
        }
    }

    #[test]
    fn mode_parse_and_set() {
        assert_eq!(ManglingMode::parse("NONE"), Some(NoneMode));
        assert_eq!(ManglingMode::parse("Auto"), Some(Auto));
        assert_eq!(ManglingMode::parse("hex"), Some(Hex));
        assert_eq!(ManglingMode::parse("bogus"), None);
        assert_eq!(ManglingMode::from_u32(2), Some(Hex));
        assert_eq!(ManglingMode::from_u32(3), None);
    }
}
