//! Monotonic timestamps: libdevmapper's `dm_timestamp`.
//!
//! A [`Timestamp`] is one reading of `CLOCK_MONOTONIC` (seconds and
//! nanoseconds, as the kernel returns them). Comparisons and differences work
//! on the reading folded into one count of nanoseconds, computed the way
//! libdevmapper computes it (`tv_sec * 1e9 + tv_nsec` in unsigned 64-bit
//! arithmetic), so [`Timestamp::compare`] and [`Timestamp::delta`] give what
//! `dm_timestamp_compare` and `dm_timestamp_delta` give for the same readings.
//!
//! ```
//! use devmapper::timestamp::Timestamp;
//! let a = Timestamp::now()?;
//! let b = Timestamp::now()?;
//! assert!(a <= b);
//! let _elapsed_ns = b.delta(&a);
//! # Ok::<(), devmapper::Error>(())
//! ```

use crate::error::{Error, ErrorKind};
use std::cmp::Ordering;

/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// One reading of the monotonic clock (`struct dm_timestamp`).
///
/// The default value is the zero reading, which is what `dm_timestamp_alloc`
/// hands out before the first `dm_timestamp_get`. Equality and order are
/// those of [`Timestamp::as_nanos`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Timestamp {
    sec: i64,
    nsec: i64,
}

impl Timestamp {
    /// The zero reading.
    pub const ZERO: Timestamp = Timestamp { sec: 0, nsec: 0 };

    /// A reading from its two fields, as `struct timespec` holds them.
    pub const fn new(sec: i64, nsec: i64) -> Timestamp {
        Timestamp { sec, nsec }
    }

    /// Read `CLOCK_MONOTONIC` now (`dm_timestamp_get`).
    ///
    /// The error carries libdevmapper's message for a failed
    /// `clock_gettime` (`get_timestamp: clock_gettime failed: <reason>`).
    pub fn now() -> Result<Timestamp, Error> {
        match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
            Ok(t) => Ok(Timestamp {
                sec: t.tv_sec(),
                nsec: t.tv_nsec(),
            }),
            Err(e) => {
                let errno = e as i32;
                Err(Error::new(
                    ErrorKind::Io,
                    crate::kernel::sys::sys_msg("clock_gettime", "get_timestamp", errno),
                )
                .with_errno(errno))
            }
        }
    }

    /// The seconds field.
    pub const fn secs(&self) -> i64 {
        self.sec
    }

    /// The nanoseconds field.
    pub const fn subsec_nanos(&self) -> i64 {
        self.nsec
    }

    /// The reading as one count of nanoseconds, with libdevmapper's
    /// arithmetic: both fields taken as unsigned 64-bit values, the seconds
    /// multiplied by 10⁹, wrapping on overflow.
    pub const fn as_nanos(&self) -> u64 {
        (self.sec as u64)
            .wrapping_mul(NSEC_PER_SEC)
            .wrapping_add(self.nsec as u64)
    }

    /// `dm_timestamp_compare`: the order of the two readings.
    pub fn compare(&self, other: &Timestamp) -> Ordering {
        self.as_nanos().cmp(&other.as_nanos())
    }

    /// `dm_timestamp_delta`: the absolute difference in nanoseconds.
    pub fn delta(&self, other: &Timestamp) -> u64 {
        self.as_nanos().abs_diff(other.as_nanos())
    }
}

impl From<libc::timespec> for Timestamp {
    fn from(t: libc::timespec) -> Timestamp {
        Timestamp {
            sec: t.tv_sec,
            nsec: t.tv_nsec,
        }
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Timestamp) -> bool {
        self.as_nanos() == other.as_nanos()
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Timestamp) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Timestamp) -> Ordering {
        self.compare(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_fields() {
        let z = Timestamp::default();
        assert_eq!(z, Timestamp::ZERO);
        assert_eq!(z.as_nanos(), 0);
        let t = Timestamp::new(3, 250);
        assert_eq!((t.secs(), t.subsec_nanos()), (3, 250));
        assert_eq!(t.as_nanos(), 3_000_000_250);
    }

    #[test]
    fn compare_and_delta_are_symmetric() {
        let a = Timestamp::new(1, 999_999_999);
        let b = Timestamp::new(2, 1);
        assert_eq!(a.compare(&b), Ordering::Less);
        assert_eq!(b.compare(&a), Ordering::Greater);
        assert_eq!(a.compare(&a), Ordering::Equal);
        assert_eq!(a.delta(&b), 2);
        assert_eq!(b.delta(&a), 2);
        assert_eq!(a.delta(&a), 0);
        assert!(a < b);
    }

    #[test]
    fn fields_fold_like_libdevmapper() {
        // An unnormalised reading compares by its folded value.
        let a = Timestamp::new(1, 1_500_000_000);
        let b = Timestamp::new(2, 500_000_000);
        assert_eq!(a, b);
        assert_eq!(a.compare(&b), Ordering::Equal);
        // Negative fields are taken as unsigned and wrap, as in C.
        let n = Timestamp::new(-1, 0);
        assert_eq!(n.as_nanos(), 0u64.wrapping_sub(NSEC_PER_SEC));
        assert_eq!(n.compare(&Timestamp::ZERO), Ordering::Greater);
        let huge = Timestamp::new(i64::MAX, i64::MAX);
        assert_eq!(
            huge.as_nanos(),
            (i64::MAX as u64)
                .wrapping_mul(NSEC_PER_SEC)
                .wrapping_add(i64::MAX as u64)
        );
    }

    #[test]
    fn now_is_monotonic() {
        let a = Timestamp::now().unwrap();
        let b = Timestamp::now().unwrap();
        assert!(a.compare(&b) != Ordering::Greater);
        assert!(a.subsec_nanos() >= 0 && a.subsec_nanos() < NSEC_PER_SEC as i64);
        assert_ne!(a.as_nanos(), 0);
    }

    #[test]
    fn from_timespec() {
        let t = Timestamp::from(libc::timespec {
            tv_sec: 7,
            tv_nsec: 8,
        });
        assert_eq!((t.secs(), t.subsec_nanos()), (7, 8));
    }
}
