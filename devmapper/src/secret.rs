//! Byte strings that may hold key material: wiped before their memory is freed.

use std::fmt;

/// An owned byte string that is zeroed on drop and never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(v: Vec<u8>) -> Secret {
        Secret(v)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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

    pub fn len(&self) -> usize {
        self.0.len()
    }

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

/// Whether a target message carries a key (`key set …`, any case), which
/// must never reach a log line.
pub fn is_key_message(msg: &[u8]) -> bool {
    msg.len() >= 7 && msg[..7].eq_ignore_ascii_case(b"key set")
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
        assert_eq!(loggable_message(b"key set deadbeef"), "key set");
        assert_eq!(loggable_message(b"@stats_list"), "@stats_list");
        assert_eq!(format!("{:?}", Secret::from(&b"k"[..])), "Secret(1 bytes)");
    }
}
