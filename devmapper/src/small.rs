//! [`SmallBytes`]: a byte string kept inline when it fits a kernel name
//! field, so that naming a task costs no allocation.

use std::fmt;
use std::ops::Deref;

/// Bytes kept inline up to this length (a dm name field holds 127 bytes
/// and its NUL, a uuid field 128 and its NUL).
pub const INLINE_LEN: usize = 128;

/// A byte string stored inline up to [`INLINE_LEN`] bytes, on the heap
/// beyond (callers bound the length: names and uuids are checked against
/// the kernel's field sizes first). Dereferences to `[u8]`.
#[derive(Clone)]
pub struct SmallBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE_LEN] },
    Heap(Vec<u8>),
}

impl SmallBytes {
    /// A copy of `b` (no allocation up to [`INLINE_LEN`] bytes).
    pub fn new(b: &[u8]) -> SmallBytes {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE_LEN => {
                let mut bytes = [0u8; INLINE_LEN];
                bytes[..b.len()].copy_from_slice(b);
                SmallBytes(Repr::Inline { len, bytes })
            }
            _ => SmallBytes(Repr::Heap(b.to_vec())),
        }
    }

    /// Make `slot` hold a copy of `b`, built in place (no copy of the whole
    /// inline array through the stack).
    #[inline]
    pub fn store(slot: &mut Option<SmallBytes>, b: &[u8]) {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE_LEN => {
                let s = slot.insert(SmallBytes(Repr::Inline {
                    len,
                    bytes: [0; INLINE_LEN],
                }));
                if let Repr::Inline { bytes, .. } = &mut s.0 {
                    crate::kernel::codec::copy_short(&mut bytes[..b.len()], b);
                }
            }
            _ => *slot = Some(SmallBytes(Repr::Heap(b.to_vec()))),
        }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            Repr::Heap(v) => v,
        }
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> SmallBytes {
        if v.len() <= INLINE_LEN {
            SmallBytes::new(&v)
        } else {
            SmallBytes(Repr::Heap(v))
        }
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> SmallBytes {
        SmallBytes::new(b)
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &SmallBytes) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_long_ones_on_the_heap() {
        for n in [0, 1, 14, 127, 128, 129, 1000] {
            let v: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let s = SmallBytes::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(matches!(s.0, Repr::Inline { .. }), n <= INLINE_LEN);
            assert_eq!(SmallBytes::from(v.clone()), s);
            assert_eq!(s.clone(), s);
            let mut slot = Some(SmallBytes::new(b"previous"));
            SmallBytes::store(&mut slot, &v);
            assert_eq!(slot.as_deref(), Some(&v[..]));
        }
    }
}
