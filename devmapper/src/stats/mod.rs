//! Device-mapper I/O statistics: libdevmapper's `dm_stats_*` and
//! `dm_histogram_*` families as a typed Rust API.
//!
//! The kernel keeps per-region counters on a dm device (`@stats_*` target
//! messages, `drivers/md/dm-stats.c`); a [`Stats`] handle binds to one
//! device, lists its regions, reads their counters, and derives metrics,
//! with the semantics of libdevmapper 1.02.185 (LVM2 v2_03_16), quirks
//! included (each is noted where it is kept).
//!
//! ```no_run
//! use devmapper::dm::DeviceMapper;
//! use devmapper::stats::{Metric, RegionSpec, Stats, DM_STATS_REGIONS_ALL, DM_STATS_WALK_AREA};
//! let mut s = Stats::new(DeviceMapper::new()?, Some(b"myprog"))?;
//! s.bind_name(b"vol");
//! let id = s.create_region_with(&RegionSpec::whole_device().areas(4))?;
//! s.populate(None, DM_STATS_REGIONS_ALL)?;
//! s.set_sampling_interval_ms(1000);
//! s.walk_init(DM_STATS_WALK_AREA)?;
//! s.walk_start();
//! while !s.walk_end() {
//!     println!("{:?}", s.metric(Metric::ReadsPerSec, u64::MAX, u64::MAX));
//!     s.walk_next();
//! }
//! s.delete_region(id)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The kernel is reached through [`StatsTransport`] (implemented for
//! [`crate::dm::DeviceMapper`]); the module itself keeps no global state.
//! Warnings and verbose lines stock logs without failing (overlapping group
//! members, unreadable group tags, ...) go through [`crate::log`]; the lines
//! of a failure are in the returned [`StatsError`].
//!
//! `CAPI.md` beside this file maps every C symbol of the family to this API
//! and says what the C shell must do (logging, memory, return values).

pub mod error;
pub mod filemap;
pub mod group;
mod handle;
pub mod histogram;
pub mod message;
pub mod metrics;
pub mod region;
pub mod transport;

pub use error::{StatsError, StatsErrorKind};
pub use filemap::{filemapd_mode_from_string, start_filemapd, FilemapdMode, FilemapdStart};
pub use handle::{default_program_id, supports_precise_timestamps, ObjectType, Stats};
pub use histogram::{Bin, Histogram, HistogramFlags, DM_PERCENT_0, DM_PERCENT_1, DM_PERCENT_100};
pub use metrics::{Counter, Counters, Metric};
pub use region::RegionSpec;
pub use transport::{StatsDevice, StatsTransport, TransportError};

/// `DM_STATS_ALL_PROGRAMS`: list every region, whatever its program id.
pub const DM_STATS_ALL_PROGRAMS: &[u8] = b"";
/// `DM_STATS_REGIONS_ALL`: populate every region.
pub const DM_STATS_REGIONS_ALL: u64 = u64::MAX;
/// `DM_STATS_REGION_CURRENT`: the cursor's region.
pub const DM_STATS_REGION_CURRENT: u64 = u64::MAX;
/// `DM_STATS_AREA_CURRENT`: the cursor's area.
pub const DM_STATS_AREA_CURRENT: u64 = u64::MAX;
/// `DM_STATS_GROUP_NONE`: a region in no group.
pub const DM_STATS_GROUP_NONE: u64 = u64::MAX;
/// The "no region" value (end of region id tables; cursor before start).
pub const DM_STATS_REGION_NOT_PRESENT: u64 = u64::MAX;
/// `DM_STATS_WALK_AREA`: visit every area.
pub const DM_STATS_WALK_AREA: u64 = 0x1_0000_0000_0000;
/// `DM_STATS_WALK_REGION`: visit every region (aggregated); also the area
/// value of a region aggregate.
pub const DM_STATS_WALK_REGION: u64 = 0x2_0000_0000_0000;
/// `DM_STATS_WALK_GROUP`: visit every group; also the region/area value of
/// a group, and ORed into a group id.
pub const DM_STATS_WALK_GROUP: u64 = 0x4_0000_0000_0000;
/// `DM_STATS_WALK_ALL`.
pub const DM_STATS_WALK_ALL: u64 = 0x7_0000_0000_0000;
/// `DM_STATS_WALK_DEFAULT` (areas, then regions).
pub const DM_STATS_WALK_DEFAULT: u64 = DM_STATS_WALK_AREA | DM_STATS_WALK_REGION;
/// `DM_STATS_WALK_SKIP_SINGLE_AREA`: skip single-area regions in a region walk.
pub const DM_STATS_WALK_SKIP_SINGLE_AREA: u64 = 0x8_0000_0000_0000;

#[cfg(test)]
mod tests;
