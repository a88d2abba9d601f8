//! A builder for statistics regions: [`RegionSpec`] and
//! [`Stats::create_region_with`], over the seven arguments of
//! [`Stats::create_region`].
//!
//! ```no_run
//! use devmapper::stats::{Histogram, RegionSpec, Stats};
//! use devmapper::DeviceMapper;
//! let mut stats = Stats::new(DeviceMapper::new()?, Some(b"myprog"))?;
//! stats.bind_name(b"vol");
//! let bounds = Histogram::bounds_from_string(b"1ms,10ms,100ms")?;
//! let region = stats.create_region_with(
//!     &RegionSpec::whole_device().areas(4).histogram(&bounds).user_data(b"mine"),
//! )?;
//! # let _ = region;
//! # Ok::<(), devmapper::Error>(())
//! ```

use super::error::Result;
use super::handle::Stats;
use super::histogram::Histogram;
use super::transport::StatsTransport;
use crate::error::Error;
use crate::units::Sectors;

/// How a region is split into areas (counters are kept per area).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    /// One area: the whole region.
    Whole,
    /// This many areas of equal size.
    Count(u64),
    /// Areas of this size (the last may be shorter).
    Size(Sectors),
}

/// What a statistics region covers and keeps: built with chained calls,
/// created with [`Stats::create_region_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionSpec<'a> {
    start: Sectors,
    len: Sectors,
    split: Split,
    precise: bool,
    bounds: Option<&'a Histogram>,
    program_id: Option<&'a [u8]>,
    user_data: &'a [u8],
}

impl<'a> RegionSpec<'a> {
    /// A region over the whole device, one area, no histogram, millisecond
    /// timestamps, the handle's program id, no user data.
    pub fn whole_device() -> RegionSpec<'a> {
        RegionSpec {
            start: Sectors::ZERO,
            len: Sectors::ZERO,
            split: Split::Whole,
            precise: false,
            bounds: None,
            program_id: None,
            user_data: b"",
        }
    }

    /// A region of `len` sectors (not zero) from sector `start`.
    pub fn range(start: Sectors, len: Sectors) -> RegionSpec<'a> {
        RegionSpec {
            start,
            len,
            ..RegionSpec::whole_device()
        }
    }

    /// Split the region into `n` areas of equal size (`n` >= 1).
    pub fn areas(self, n: u64) -> RegionSpec<'a> {
        RegionSpec {
            split: Split::Count(n),
            ..self
        }
    }

    /// Split the region into areas of `size` sectors (not zero).
    pub fn area_size(self, size: Sectors) -> RegionSpec<'a> {
        RegionSpec {
            split: Split::Size(size),
            ..self
        }
    }

    /// Keep a latency histogram with these bounds
    /// ([`Histogram::bounds_from_string`]); bounds that are not whole
    /// milliseconds turn precise timestamps on.
    pub fn histogram(self, bounds: &'a Histogram) -> RegionSpec<'a> {
        RegionSpec {
            bounds: Some(bounds),
            ..self
        }
    }

    /// Nanosecond (`precise_timestamps`) rather than millisecond counters.
    pub fn precise(self, on: bool) -> RegionSpec<'a> {
        RegionSpec {
            precise: on,
            ..self
        }
    }

    /// The program id to record (default: the handle's).
    pub fn program_id(self, id: &'a [u8]) -> RegionSpec<'a> {
        RegionSpec {
            program_id: Some(id),
            ..self
        }
    }

    /// Auxiliary data to record with the region.
    pub fn user_data(self, data: &'a [u8]) -> RegionSpec<'a> {
        RegionSpec {
            user_data: data,
            ..self
        }
    }

    /// `dm_stats_create_region`'s `start`, `len` and `step`.
    fn geometry(&self) -> Result<(u64, u64, i64)> {
        let bad = |what: &str| Error::invalid(format!("Invalid statistics region: {what}."));
        if self.len.is_zero() && !self.start.is_zero() {
            return Err(bad("a range needs a length"));
        }
        let step = match self.split {
            Split::Whole => -1,
            Split::Count(0) => return Err(bad("zero areas")),
            Split::Count(n) => {
                let n = i64::try_from(n).map_err(|_| bad("too many areas"))?;
                -n
            }
            Split::Size(s) if s.is_zero() => return Err(bad("zero area size")),
            Split::Size(s) => i64::try_from(s.0).map_err(|_| bad("area size too large"))?,
        };
        Ok((self.start.0, self.len.0, step))
    }
}

impl<T: StatsTransport> Stats<T> {
    /// Create a region as `spec` describes ([`Stats::create_region`] with
    /// named, checked arguments); its region id.
    pub fn create_region_with(&mut self, spec: &RegionSpec<'_>) -> Result<u64> {
        let (start, len, step) = spec.geometry()?;
        self.create_region(
            start,
            len,
            step,
            spec.precise,
            spec.bounds,
            spec.program_id,
            spec.user_data,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry() {
        assert_eq!(RegionSpec::whole_device().geometry().unwrap(), (0, 0, -1));
        assert_eq!(
            RegionSpec::whole_device().areas(4).geometry().unwrap(),
            (0, 0, -4)
        );
        assert_eq!(
            RegionSpec::range(Sectors(8), Sectors(1024))
                .area_size(Sectors(128))
                .geometry()
                .unwrap(),
            (8, 1024, 128)
        );
        for bad in [
            RegionSpec::whole_device().areas(0),
            RegionSpec::whole_device().areas(u64::MAX),
            RegionSpec::whole_device().area_size(Sectors(0)),
            RegionSpec::whole_device().area_size(Sectors(u64::MAX)),
            RegionSpec::range(Sectors(8), Sectors(0)),
        ] {
            let e = bad.geometry().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn builder_keeps_every_setting() {
        let h = Histogram::bounds_from_string(b"1ms,10ms").unwrap();
        let s = RegionSpec::whole_device()
            .precise(true)
            .histogram(&h)
            .program_id(b"prog")
            .user_data(b"aux")
            .areas(2);
        assert!(s.precise);
        assert_eq!(s.bounds, Some(&h));
        assert_eq!(s.program_id, Some(&b"prog"[..]));
        assert_eq!(s.user_data, b"aux");
        assert_eq!(s.split, Split::Count(2));
    }
}
