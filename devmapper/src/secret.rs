//! Byte strings that may hold key material: wiped before their memory is freed.
//!
//! A [`Secret`] never hands out its vector: it can only grow through its own
//! methods, which move the bytes to a larger buffer and wipe the old one
//! (a plain `Vec` would free the old buffer unwiped). Code that wants no
//! second buffer at all reserves the capacity up front
//! ([`Secret::try_with_capacity`]) and fills it with
//! [`Secret::push_within_capacity`], or fills a fixed-size buffer in place
//! ([`Secret::zeroed`], [`Secret::as_bytes_mut`], [`Secret::from_reader`]).

use std::fmt;
use std::io::Read;
use std::mem::MaybeUninit;

/// An owned byte string that is zeroed on drop and never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Take ownership of `v` (it will be wiped when dropped).
    pub fn new(v: Vec<u8>) -> Secret {
        Secret(v)
    }

    /// `len` zero bytes, to be filled in place through
    /// [`as_bytes_mut`](Secret::as_bytes_mut).
    pub fn zeroed(len: usize) -> Secret {
        Secret(vec![0; len])
    }

    /// Like [`Secret::zeroed`], but `None` instead of aborting when the
    /// memory cannot be had.
    pub fn try_zeroed(len: usize) -> Option<Secret> {
        let mut s = Secret::try_with_capacity(len)?;
        s.0.resize(len, 0);
        Some(s)
    }

    /// Exactly `len` bytes read from `r` (a key file, `/dev/urandom`),
    /// straight into a wiped-on-drop buffer.
    pub fn from_reader(r: &mut impl Read, len: usize) -> std::io::Result<Secret> {
        let mut s = Secret::try_zeroed(len).ok_or(std::io::ErrorKind::OutOfMemory)?;
        r.read_exact(s.as_bytes_mut())?;
        Ok(s)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, to change in place (the length is fixed: a slice cannot
    /// reallocate).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// An empty buffer that can grow to `n` bytes without reallocating.
    pub fn with_capacity(n: usize) -> Secret {
        Secret(Vec::with_capacity(n))
    }

    /// Like [`Secret::with_capacity`], but `None` instead of aborting when
    /// the memory cannot be had.
    pub fn try_with_capacity(n: usize) -> Option<Secret> {
        let mut v = Vec::new();
        v.try_reserve_exact(n).ok()?;
        Some(Secret(v))
    }

    /// A copy of `b`, or `None` when the memory cannot be had.
    pub fn try_from_slice(b: &[u8]) -> Option<Secret> {
        let mut s = Secret::try_with_capacity(b.len())?;
        s.0.extend_from_slice(b);
        Some(s)
    }

    /// [`Secret::try_from_slice`] in the spare block of a secret given
    /// back with [`Secret::recycle`] when there is one big enough: a
    /// program that sends one message at a time reuses one block instead
    /// of a malloc and a free per message.
    pub fn try_from_slice_reusing(b: &[u8]) -> Option<Secret> {
        if let Some(mut spare) = SPARE.try_lock() {
            if spare.capacity() >= b.len() && spare.capacity() != 0 {
                let mut v = std::mem::take(&mut *spare);
                drop(spare);
                // The spare is empty and wiped (see recycle).
                v.extend_from_slice(b);
                return Some(Secret(v));
            }
        }
        Secret::try_from_slice(b)
    }

    /// Drop the secret, keeping its block (wiped) for
    /// [`Secret::try_from_slice_reusing`] when it is small and no other
    /// block is kept.
    pub fn recycle(mut self) {
        let cap = self.0.capacity();
        if cap == 0 || cap > SPARE_MAX {
            return;
        }
        if let Some(mut spare) = SPARE.try_lock() {
            if spare.capacity() == 0 {
                wipe_block(&mut self.0);
                *spare = std::mem::take(&mut self.0);
            }
        }
        // Dropped (wiped) here otherwise; the empty vector left by the
        // take has no block to wipe.
    }

    /// How many bytes the buffer holds without moving.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Append `b` within the reserved capacity; `false` (nothing appended)
    /// when it would need a larger buffer.
    pub fn push_within_capacity(&mut self, b: &[u8]) -> bool {
        if self.0.capacity() - self.0.len() < b.len() {
            return false;
        }
        self.0.extend_from_slice(b);
        true
    }

    /// Make room for `additional` more bytes: past the capacity, the bytes
    /// move to a new buffer (at least twice as large) and the old one is
    /// wiped. `false` (nothing changed) when the memory cannot be had.
    pub fn try_reserve(&mut self, additional: usize) -> bool {
        let len = self.0.len();
        if self.0.capacity() - len >= additional {
            return true;
        }
        let Some(need) = len.checked_add(additional) else {
            return false;
        };
        let mut v = Vec::new();
        let roomy = need.max(self.0.capacity().saturating_mul(2)).max(16);
        if v.try_reserve_exact(roomy).is_err() && v.try_reserve_exact(need).is_err() {
            return false;
        }
        v.extend_from_slice(&self.0);
        // The old buffer is wiped as the Secret holding it drops.
        drop(Secret(std::mem::replace(&mut self.0, v)));
        true
    }

    /// Append `b`, moving to a larger buffer (and wiping the old one) when
    /// needed; `false` (nothing appended) when the memory cannot be had.
    pub fn try_extend_from_slice(&mut self, b: &[u8]) -> bool {
        if !self.try_reserve(b.len()) {
            return false;
        }
        self.0.extend_from_slice(b);
        true
    }

    /// Append `b` like [`try_extend_from_slice`](Secret::try_extend_from_slice),
    /// aborting like `Vec` when the memory cannot be had.
    pub fn extend_from_slice(&mut self, b: &[u8]) {
        if !self.try_extend_from_slice(b) {
            std::alloc::handle_alloc_error(
                std::alloc::Layout::array::<u8>(self.0.len().saturating_add(b.len()))
                    .unwrap_or(std::alloc::Layout::new::<u8>()),
            );
        }
    }

    /// Shorten to `len` bytes, wiping the bytes cut off (nothing happens
    /// when `len` is not shorter).
    pub fn truncate(&mut self, len: usize) {
        if let Some(tail) = self.0.get_mut(len..) {
            wipe(tail);
        }
        self.0.truncate(len);
    }

    /// Wipe the bytes and make the buffer empty (the capacity stays).
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Largest block [`Secret::recycle`] keeps.
const SPARE_MAX: usize = 256;

/// The block [`Secret::recycle`] keeps: empty, its bytes zero.
static SPARE: parking_lot::Mutex<Vec<u8>> = parking_lot::Mutex::new(Vec::new());

impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Secret {
        Secret(b.to_vec())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe_block(&mut self.0);
    }
}

/// Zero the whole block of `v`, its bytes and its spare capacity (a `Vec`
/// handed to [`Secret::new`] may have held data there), in one fill that
/// the optimiser keeps, leaving `v` empty. A vector without a block has
/// nothing to wipe.
fn wipe_block(v: &mut Vec<u8>) {
    if v.capacity() == 0 {
        return;
    }
    v.clear();
    let all = v.spare_capacity_mut();
    all.fill(MaybeUninit::new(0));
    std::hint::black_box(all);
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Zero a buffer in a way the optimiser keeps.
pub fn wipe(b: &mut [u8]) {
    b.fill(0);
    std::hint::black_box(b);
}

/// Whether a target message carries a key, which must never reach a log
/// line: dm-crypt's `key set <key>`, words split on any whitespace as the
/// kernel splits them, any case.
pub fn is_key_message(msg: &[u8]) -> bool {
    // The usual message settles on its first byte that is not whitespace:
    // a first word that does not start with a 'k' is not "key".
    if !matches!(
        msg.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'k' | b'K')
    ) {
        return false;
    }
    let mut words = msg
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    matches!(
        (words.next(), words.next()),
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(b"key") && b.eq_ignore_ascii_case(b"set")
    )
}

/// The message as it may appear in logs.
pub fn loggable_message(msg: &[u8]) -> String {
    if is_key_message(msg) {
        "key set".to_string()
    } else {
        String::from_utf8_lossy(msg).into_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recycled_blocks_serve_later_secrets_with_their_own_bytes() {
        let a = super::Secret::try_from_slice_reusing(b"key set 0123456789").unwrap();
        a.recycle();
        let b = super::Secret::try_from_slice_reusing(b"@stats_list").unwrap();
        assert_eq!(b.as_bytes(), b"@stats_list");
        b.recycle();
        let c = super::Secret::try_from_slice_reusing(&[7u8; 300]).unwrap();
        assert_eq!(c.as_bytes(), &[7u8; 300][..]);
        c.recycle(); // too big to keep: wiped and freed
    }

    use super::*;

    #[test]
    fn key_messages_are_sanitised() {
        assert!(is_key_message(b"key set 0123abcd"));
        assert!(is_key_message(b"KEY SET :32:logon:x"));
        assert!(!is_key_message(b"key wipe"));
        assert!(is_key_message(b"key  set 00ff"));
        assert!(is_key_message(b"key\tset 00ff"));
        assert!(is_key_message(b" key set 00ff"));
        assert!(!is_key_message(b"keyset 00ff"));
        assert!(is_key_message(b"\t\n Key Set 00ff"));
        assert!(!is_key_message(b""));
        assert!(!is_key_message(b"  \t"));
        assert!(!is_key_message(b"@stats_list"));
        assert!(!is_key_message(b"set key 00ff"));
        assert!(!is_key_message(b"k"));
        assert!(!is_key_message(b"key"));
        assert!(is_key_message(b"\n\x0ckEy \r SeT"));
        for m in [
            &b""[..],
            b"   ",
            b"k",
            b"key",
            b"key ",
            b"@stats_list",
            b"set key 00",
            b"kex set 0",
        ] {
            assert!(!is_key_message(m), "{m:?}");
        }
        assert_eq!(loggable_message(b"key\tset deadbeef"), "key set");
        assert_eq!(loggable_message(b"key set deadbeef"), "key set");
        assert_eq!(loggable_message(b"@stats_list"), "@stats_list");
        assert_eq!(format!("{:?}", Secret::from(&b"k"[..])), "Secret(1 bytes)");
    }

    #[test]
    fn fixed_size_fill() {
        let mut s = Secret::zeroed(4);
        assert_eq!(s.as_bytes(), [0; 4]);
        s.as_bytes_mut().copy_from_slice(b"abcd");
        assert_eq!(s.as_bytes(), b"abcd");
        assert_eq!(Secret::try_zeroed(3).unwrap().len(), 3);
        let s = Secret::from_reader(&mut &b"0123456789"[..], 6).unwrap();
        assert_eq!(s.as_bytes(), b"012345");
        let e = Secret::from_reader(&mut &b"01"[..], 6).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn growth_moves_and_never_past_reservations() {
        let mut s = Secret::try_with_capacity(4).unwrap();
        assert!(s.push_within_capacity(b"ab"));
        assert!(!s.push_within_capacity(b"cde"));
        assert_eq!(s.as_bytes(), b"ab");
        assert!(s.push_within_capacity(b"cd"));
        assert_eq!(s.capacity(), 4);
        // Growing past the capacity moves to a new buffer.
        let before = s.as_bytes().as_ptr();
        assert!(s.try_extend_from_slice(b"efgh"));
        assert_eq!(s.as_bytes(), b"abcdefgh");
        assert_ne!(s.as_bytes().as_ptr(), before);
        assert!(s.capacity() >= 8);
        // Within the capacity: no move.
        let mut s = Secret::with_capacity(64);
        let at = s.as_bytes().as_ptr();
        for _ in 0..16 {
            s.extend_from_slice(b"wxyz");
        }
        assert_eq!(s.as_bytes().as_ptr(), at);
        assert!(!s.try_reserve(usize::MAX));
        assert_eq!(s.len(), 64);
    }

    #[test]
    fn truncate_and_clear() {
        let mut s = Secret::from(&b"secretkey"[..]);
        s.truncate(6);
        assert_eq!(s.as_bytes(), b"secret");
        s.truncate(10);
        assert_eq!(s.len(), 6);
        let cap = s.capacity();
        s.clear();
        assert!(s.is_empty());
        assert_eq!(s.capacity(), cap);
    }
}
