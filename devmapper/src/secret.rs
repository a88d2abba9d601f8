//! Byte strings that may hold key material: wiped before their memory is freed.

use std::fmt;

/// An owned byte string that is zeroed on drop and never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Take ownership of `v` (it will be wiped when dropped).
    pub fn new(v: Vec<u8>) -> Secret {
        Secret(v)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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

    /// Append `b` within the reserved capacity; `false` (nothing appended)
    /// when it would need a reallocation, which would leave an unwiped copy.
    pub fn push_within_capacity(&mut self, b: &[u8]) -> bool {
        if self.0.capacity() - self.0.len() < b.len() {
            return false;
        }
        self.0.extend_from_slice(b);
        true
    }

    /// An empty buffer that can grow to `n` bytes without reallocating
    /// (a reallocation would free a copy without wiping it).
    pub fn with_capacity(n: usize) -> Secret {
        Secret(Vec::with_capacity(n))
    }

    /// The bytes, for filling in place (keep within the reserved capacity).
    pub fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
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

impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Secret {
        Secret(b.to_vec())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
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
        assert_eq!(loggable_message(b"key\tset deadbeef"), "key set");
        assert_eq!(loggable_message(b"key set deadbeef"), "key set");
        assert_eq!(loggable_message(b"@stats_list"), "@stats_list");
        assert_eq!(format!("{:?}", Secret::from(&b"k"[..])), "Secret(1 bytes)");
    }
}
