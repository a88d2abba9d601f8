//! Checked size units: [`Sectors`] (the kernel's 512-byte units) and [`Bytes`].
//!
//! Arithmetic is checked: every operation that can overflow returns an
//! `Option`, never wraps and never panics.

use std::fmt;
use std::str::FromStr;

/// The size of one sector in bytes: the unit of every device-mapper length
/// and offset.
pub const SECTOR_SIZE: u64 = 512;

/// A count of 512-byte sectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sectors(pub u64);

/// A count of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

/// A number that could not be parsed as a size: not a plain decimal
/// number, or out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseUnitError;

impl fmt::Display for ParseUnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a decimal number that fits in 64 bits")
    }
}

impl std::error::Error for ParseUnitError {}

/// Parse a plain unsigned decimal (no sign, no spaces, no base prefix).
pub(crate) fn parse_decimal_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

macro_rules! unit_impl {
    ($t:ident) => {
        impl $t {
            /// Zero.
            pub const ZERO: $t = $t(0);
            /// The largest representable value.
            pub const MAX: $t = $t(u64::MAX);

            /// The raw count.
            pub const fn get(self) -> u64 {
                self.0
            }

            /// `self + rhs`, or `None` on overflow.
            pub const fn checked_add(self, rhs: $t) -> Option<$t> {
                match self.0.checked_add(rhs.0) {
                    Some(v) => Some($t(v)),
                    None => None,
                }
            }

            /// `self - rhs`, or `None` when `rhs` is larger.
            pub const fn checked_sub(self, rhs: $t) -> Option<$t> {
                match self.0.checked_sub(rhs.0) {
                    Some(v) => Some($t(v)),
                    None => None,
                }
            }

            /// `self * n`, or `None` on overflow.
            pub const fn checked_mul(self, n: u64) -> Option<$t> {
                match self.0.checked_mul(n) {
                    Some(v) => Some($t(v)),
                    None => None,
                }
            }

            /// `self / n`, rounded down, or `None` when `n` is zero.
            pub const fn checked_div(self, n: u64) -> Option<$t> {
                match self.0.checked_div(n) {
                    Some(v) => Some($t(v)),
                    None => None,
                }
            }

            /// Whether the count is zero.
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// `n` KiB (1024 bytes), or `None` if that does not fit in 64 bits.
            pub const fn from_kib(n: u64) -> Option<$t> {
                $t::scaled(n, 1 << 10)
            }

            /// `n` MiB, or `None` if that does not fit in 64 bits.
            pub const fn from_mib(n: u64) -> Option<$t> {
                $t::scaled(n, 1 << 20)
            }

            /// `n` GiB, or `None` if that does not fit in 64 bits.
            pub const fn from_gib(n: u64) -> Option<$t> {
                $t::scaled(n, 1 << 30)
            }

            /// `n` TiB, or `None` if that does not fit in 64 bits.
            pub const fn from_tib(n: u64) -> Option<$t> {
                $t::scaled(n, 1 << 40)
            }

            /// `n` units of `bytes` bytes each (a multiple of the unit).
            const fn scaled(n: u64, bytes: u64) -> Option<$t> {
                match n.checked_mul(bytes / $t::UNIT_BYTES) {
                    Some(v) => Some($t(v)),
                    None => None,
                }
            }
        }

        impl From<u64> for $t {
            fn from(v: u64) -> $t {
                $t(v)
            }
        }

        impl From<$t> for u64 {
            fn from(v: $t) -> u64 {
                v.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $t {
            type Err = ParseUnitError;
            fn from_str(s: &str) -> Result<$t, ParseUnitError> {
                parse_decimal_u64(s.as_bytes())
                    .map($t)
                    .ok_or(ParseUnitError)
            }
        }
    };
}

unit_impl!(Sectors);
unit_impl!(Bytes);

impl Sectors {
    /// Bytes per unit.
    const UNIT_BYTES: u64 = SECTOR_SIZE;

    /// The same size in bytes, or `None` if it does not fit in 64 bits.
    pub const fn bytes(self) -> Option<Bytes> {
        match self.0.checked_mul(SECTOR_SIZE) {
            Some(v) => Some(Bytes(v)),
            None => None,
        }
    }
}

impl Bytes {
    /// Bytes per unit.
    const UNIT_BYTES: u64 = 1;

    /// The same size in sectors, or `None` if it is not a whole number of
    /// sectors.
    pub const fn sectors(self) -> Option<Sectors> {
        if self.0 % SECTOR_SIZE == 0 {
            Some(Sectors(self.0 / SECTOR_SIZE))
        } else {
            None
        }
    }

    /// The number of whole sectors, rounded down.
    pub const fn sectors_floor(self) -> Sectors {
        Sectors(self.0 / SECTOR_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Sectors(1).checked_add(Sectors(2)), Some(Sectors(3)));
        assert_eq!(Sectors::MAX.checked_add(Sectors(1)), None);
        assert_eq!(Sectors(1).checked_sub(Sectors(2)), None);
        assert_eq!(Sectors(5).checked_sub(Sectors(2)), Some(Sectors(3)));
        assert_eq!(Sectors(u64::MAX / 2 + 1).checked_mul(2), None);
        assert_eq!(Bytes(7).checked_mul(3), Some(Bytes(21)));
        assert_eq!(Bytes(7).checked_div(0), None);
        assert_eq!(Bytes(7).checked_div(2), Some(Bytes(3)));
        assert!(Sectors::ZERO.is_zero());
        assert_eq!(Sectors::ZERO.get(), 0);
    }

    #[test]
    fn conversions() {
        assert_eq!(Sectors(8).bytes(), Some(Bytes(4096)));
        assert_eq!(Sectors(u64::MAX).bytes(), None);
        assert_eq!(
            Sectors(u64::MAX / 512).bytes(),
            Some(Bytes(u64::MAX / 512 * 512))
        );
        assert_eq!(Bytes(4096).sectors(), Some(Sectors(8)));
        assert_eq!(Bytes(4097).sectors(), None);
        assert_eq!(Bytes(4097).sectors_floor(), Sectors(8));
        assert_eq!(u64::from(Sectors(3)), 3);
        assert_eq!(Sectors::from(3), Sectors(3));
        assert_eq!(SECTOR_SIZE, 512);
    }

    #[test]
    fn binary_prefixes() {
        assert_eq!(Sectors::from_kib(1), Some(Sectors(2)));
        assert_eq!(Sectors::from_mib(1), Some(Sectors(2048)));
        assert_eq!(Sectors::from_gib(2), Some(Sectors(2 << 21)));
        assert_eq!(Sectors::from_tib(1), Some(Sectors(1 << 31)));
        assert_eq!(Bytes::from_kib(3), Some(Bytes(3072)));
        assert_eq!(Bytes::from_mib(1), Some(Bytes(1 << 20)));
        assert_eq!(Bytes::from_gib(1), Some(Bytes(1 << 30)));
        assert_eq!(Bytes::from_tib(1), Some(Bytes(1 << 40)));
        assert_eq!(Sectors::from_mib(0), Some(Sectors::ZERO));
        // The largest that fits, and one more.
        assert_eq!(Sectors::from_kib(u64::MAX / 2), Some(Sectors(u64::MAX - 1)));
        assert_eq!(Sectors::from_kib(u64::MAX / 2 + 1), None);
        assert_eq!(
            Bytes::from_gib(u64::MAX >> 30),
            Some(Bytes((u64::MAX >> 30) << 30))
        );
        assert_eq!(Bytes::from_gib((u64::MAX >> 30) + 1), None);
        assert_eq!(Sectors::from_tib(u64::MAX), None);
        const DISK: Option<Sectors> = Sectors::from_mib(8);
        assert_eq!(DISK.and_then(Sectors::bytes), Bytes::from_mib(8));
    }

    #[test]
    fn display_and_parse() {
        assert_eq!(Sectors(123).to_string(), "123");
        assert_eq!(Bytes(0).to_string(), "0");
        assert_eq!("18446744073709551615".parse::<Sectors>(), Ok(Sectors::MAX));
        assert_eq!(
            "18446744073709551616".parse::<Sectors>(),
            Err(ParseUnitError)
        );
        for bad in ["", "-1", "+1", " 1", "1 ", "0x10", "1.5", "a"] {
            assert_eq!(bad.parse::<Bytes>(), Err(ParseUnitError), "{bad:?}");
        }
        assert_eq!("007".parse::<Bytes>(), Ok(Bytes(7)));
        assert!(!ParseUnitError.to_string().is_empty());
    }

    #[test]
    fn ordering() {
        assert!(Sectors(1) < Sectors(2));
        assert_eq!(Sectors(3).max(Sectors(2)), Sectors(3));
        let mut v = vec![Bytes(3), Bytes(1), Bytes(2)];
        v.sort();
        assert_eq!(v, [Bytes(1), Bytes(2), Bytes(3)]);
    }
}
