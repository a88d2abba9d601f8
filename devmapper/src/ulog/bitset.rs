//! Region bitsets: one bit per region, in 64-bit words, bit `n` in word
//! `n / 64` at position `n % 64`. Written out little-endian word by word,
//! this is exactly the byte layout of the kernel's `test_bit_le` bitsets
//! (bit `n` in byte `n / 8`, position `n % 8`), i.e. the on-disk layout of
//! the `disk` dirty log.
//!
//! Bits past the last region stay zero, as the kernel keeps them.

use crate::error::Error;
use std::ops::Range;

/// A fixed-size set of region bits.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    bits: u64,
}

/// The number of 64-bit words that hold `bits` bits.
pub fn words_for(bits: u64) -> u64 {
    bits.div_ceil(64)
}

impl Bitset {
    /// A set of `bits` bits, all set or all clear. The allocation is
    /// fallible: a huge region count is an error, not an abort.
    pub fn try_new(bits: u64, value: bool) -> Result<Bitset, Error> {
        let n = usize::try_from(words_for(bits)).map_err(|_| Error::no_memory(usize::MAX))?;
        let mut words = Vec::new();
        words
            .try_reserve_exact(n)
            .map_err(|_| Error::no_memory(n.saturating_mul(8)))?;
        words.resize(n, 0);
        let mut b = Bitset { words, bits };
        b.fill(value);
        Ok(b)
    }

    /// How many bits.
    pub fn len(&self) -> u64 {
        self.bits
    }

    /// Whether it holds no bit at all.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Bit `i` (false past the end).
    pub fn get(&self, i: u64) -> bool {
        if i >= self.bits {
            return false;
        }
        self.words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Set or clear bit `i`; returns the index of its word when the bit
    /// changed (`None`: unchanged or past the end).
    pub fn put(&mut self, i: u64, value: bool) -> Option<usize> {
        if i >= self.bits {
            return None;
        }
        let wi = (i / 64) as usize;
        let w = self.words.get_mut(wi)?;
        let m = 1u64 << (i % 64);
        let old = *w & m != 0;
        if old == value {
            return None;
        }
        if value {
            *w |= m;
        } else {
            *w &= !m;
        }
        Some(wi)
    }

    /// Set or clear every bit (the padding past the end stays clear).
    pub fn fill(&mut self, value: bool) {
        let v = if value { u64::MAX } else { 0 };
        self.words.iter_mut().for_each(|w| *w = v);
        self.clear_padding();
    }

    /// Set or clear bits `from..self.len()`.
    pub fn fill_from(&mut self, from: u64, value: bool) {
        let mut i = from;
        while i < self.bits {
            if i % 64 == 0 && i + 64 <= self.bits {
                if let Some(w) = self.words.get_mut((i / 64) as usize) {
                    *w = if value { u64::MAX } else { 0 };
                }
                i += 64;
            } else {
                self.put(i, value);
                i += 1;
            }
        }
    }

    fn clear_padding(&mut self) {
        let r = self.bits % 64;
        if r != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << r) - 1;
            }
        }
    }

    /// How many bits are set.
    pub fn count_ones(&self) -> u64 {
        self.words.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// The first clear bit at or after `from`, if any.
    pub fn next_zero(&self, from: u64) -> Option<u64> {
        if from >= self.bits {
            return None;
        }
        let mut wi = (from / 64) as usize;
        let mut mask = u64::MAX << (from % 64);
        while let Some(&w) = self.words.get(wi) {
            let zeros = !w & mask;
            if zeros != 0 {
                let i = wi as u64 * 64 + zeros.trailing_zeros() as u64;
                return (i < self.bits).then_some(i);
            }
            wi += 1;
            mask = u64::MAX;
        }
        None
    }

    /// The words.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Copy `src`'s bits (same length required; `false` otherwise).
    pub fn copy_from(&mut self, src: &Bitset) -> bool {
        if src.bits != self.bits {
            return false;
        }
        self.words.copy_from_slice(&src.words);
        true
    }

    /// Write words `range` little-endian into `out` (8 bytes per word,
    /// `out` at least that long).
    pub fn write_le(&self, range: Range<usize>, out: &mut [u8]) {
        let words = self.words.get(range).unwrap_or(&[]);
        for (w, chunk) in words.iter().zip(out.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
    }

    /// Load the first `nbits` bits from little-endian bytes (the kernel's
    /// layout); bits from `nbits` on are left as they are. Bytes missing
    /// from `src` count as zero.
    pub fn read_le(&mut self, src: &[u8], nbits: u64) {
        let nbits = nbits.min(self.bits);
        let full = (nbits / 64) as usize;
        let word_at = |wi: usize| {
            let mut a = [0u8; 8];
            if let Some(s) = src.get(wi * 8..) {
                let n = s.len().min(8);
                a[..n].copy_from_slice(&s[..n]);
            }
            u64::from_le_bytes(a)
        };
        for (wi, w) in self.words.iter_mut().enumerate().take(full) {
            *w = word_at(wi);
        }
        let rest = nbits % 64;
        if rest != 0 {
            let keep_new = (1u64 << rest) - 1;
            let v = word_at(full);
            if let Some(w) = self.words.get_mut(full) {
                *w = (*w & !keep_new) | (v & keep_new);
            }
        }
        self.clear_padding();
    }
}

impl std::fmt::Debug for Bitset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitset({} of {} set)", self.count_ones(), self.bits)
    }
}

/// A range of words changed since it was last taken (empty when none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    lo: usize,
    hi: usize,
}

impl Touched {
    /// Nothing touched.
    pub const fn none() -> Touched {
        Touched { lo: 0, hi: 0 }
    }

    /// Widen to include word `w`.
    pub fn add(&mut self, w: usize) {
        if self.lo == self.hi {
            self.lo = w;
            self.hi = w + 1;
        } else {
            self.lo = self.lo.min(w);
            self.hi = self.hi.max(w + 1);
        }
    }

    /// Widen to include `range`.
    pub fn add_range(&mut self, r: Range<usize>) {
        if r.start < r.end {
            self.add(r.start);
            self.add(r.end - 1);
        }
    }

    /// Whether anything was touched.
    pub fn is_empty(&self) -> bool {
        self.lo == self.hi
    }

    /// The range, and reset.
    pub fn take(&mut self) -> Option<Range<usize>> {
        let r = self.lo..self.hi;
        *self = Touched::none();
        (!r.is_empty()).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_padding() {
        let mut b = Bitset::try_new(70, true).unwrap();
        assert_eq!(b.count_ones(), 70);
        assert_eq!(b.words()[1], (1 << 6) - 1);
        assert!(b.get(69) && !b.get(70) && !b.get(u64::MAX));
        assert_eq!(b.put(69, false), Some(1));
        assert_eq!(b.put(69, false), None);
        assert_eq!(b.put(70, true), None);
        assert_eq!(b.count_ones(), 69);
        assert_eq!(b.next_zero(0), Some(69));
        assert_eq!(b.next_zero(70), None);
        b.fill(false);
        assert_eq!(b.next_zero(5), Some(5));
        b.fill_from(3, true);
        assert_eq!(b.count_ones(), 67);
        assert_eq!(b.next_zero(0), Some(0));
        assert_eq!(b.next_zero(3), None);
        let e = Bitset::try_new(0, true).unwrap();
        assert!(e.is_empty() && e.next_zero(0).is_none() && e.words().is_empty());
    }

    #[test]
    fn little_endian_layout_is_the_kernels() {
        let mut b = Bitset::try_new(20, false).unwrap();
        b.put(0, true);
        b.put(9, true);
        b.put(19, true);
        let mut out = [0u8; 8];
        b.write_le(0..1, &mut out);
        // test_bit_le: bit n in byte n/8, position n%8.
        assert_eq!(out, [0x01, 0x02, 0x08, 0, 0, 0, 0, 0]);
        let mut c = Bitset::try_new(20, true).unwrap();
        c.read_le(&out, 20);
        assert_eq!(c, b);
        // Only the first nbits are loaded.
        let mut d = Bitset::try_new(20, true).unwrap();
        d.read_le(&[0u8; 8], 8);
        assert_eq!(d.count_ones(), 12);
        // Short input counts as zero; padding stays clear.
        let mut e = Bitset::try_new(130, true).unwrap();
        e.read_le(&[0xff; 3], 130);
        assert_eq!(e.count_ones(), 24);
    }

    #[test]
    fn huge_sets_fail_cleanly() {
        assert!(Bitset::try_new(u64::MAX, false).is_err());
    }

    #[test]
    fn touched_ranges() {
        let mut t = Touched::none();
        assert!(t.take().is_none());
        t.add(5);
        t.add(2);
        t.add_range(7..9);
        assert_eq!(t.take(), Some(2..9));
        assert!(t.is_empty());
    }
}
