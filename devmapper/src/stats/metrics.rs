//! Counters (`dm_stats_counter_t`) and derived metrics (`dm_stats_metric_t`),
//! computed with stock's formulas.

use super::histogram::{make_percent, percent_to_float, DM_PERCENT_1, NSEC_PER_SEC};

/// The counters of one area. Times are in nanoseconds: regions without
/// precise timestamps report milliseconds, which are scaled up by 10^6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Reads completed.
    pub reads: u64,
    /// Reads merged.
    pub reads_merged: u64,
    /// Sectors read.
    pub read_sectors: u64,
    /// Time spent reading.
    pub read_nsecs: u64,
    /// Writes completed.
    pub writes: u64,
    /// Writes merged.
    pub writes_merged: u64,
    /// Sectors written.
    pub write_sectors: u64,
    /// Time spent writing.
    pub write_nsecs: u64,
    /// I/Os in progress.
    pub io_in_progress: u64,
    /// Time spent doing I/O.
    pub io_nsecs: u64,
    /// Weighted time spent doing I/O.
    pub weighted_io_nsecs: u64,
    /// Total time spent reading.
    pub total_read_nsecs: u64,
    /// Total time spent writing.
    pub total_write_nsecs: u64,
}

/// `dm_stats_counter_t`, in enum order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Counter {
    /// `DM_STATS_READS_COUNT`
    Reads = 0,
    /// `DM_STATS_READS_MERGED_COUNT`
    ReadsMerged,
    /// `DM_STATS_READ_SECTORS_COUNT`
    ReadSectors,
    /// `DM_STATS_READ_NSECS`
    ReadNsecs,
    /// `DM_STATS_WRITES_COUNT`
    Writes,
    /// `DM_STATS_WRITES_MERGED_COUNT`
    WritesMerged,
    /// `DM_STATS_WRITE_SECTORS_COUNT`
    WriteSectors,
    /// `DM_STATS_WRITE_NSECS`
    WriteNsecs,
    /// `DM_STATS_IO_IN_PROGRESS_COUNT`
    IoInProgress,
    /// `DM_STATS_IO_NSECS`
    IoNsecs,
    /// `DM_STATS_WEIGHTED_IO_NSECS`
    WeightedIoNsecs,
    /// `DM_STATS_TOTAL_READ_NSECS`
    TotalReadNsecs,
    /// `DM_STATS_TOTAL_WRITE_NSECS`
    TotalWriteNsecs,
}

impl Counter {
    /// Every counter in enum order.
    pub const ALL: [Counter; 13] = [
        Counter::Reads,
        Counter::ReadsMerged,
        Counter::ReadSectors,
        Counter::ReadNsecs,
        Counter::Writes,
        Counter::WritesMerged,
        Counter::WriteSectors,
        Counter::WriteNsecs,
        Counter::IoInProgress,
        Counter::IoNsecs,
        Counter::WeightedIoNsecs,
        Counter::TotalReadNsecs,
        Counter::TotalWriteNsecs,
    ];

    /// The counter with C enum value `v` (`None` for `DM_STATS_NR_COUNTERS`
    /// and anything else; stock logs "Attempt to read invalid counter: %d").
    pub fn from_raw(v: i32) -> Option<Counter> {
        usize::try_from(v)
            .ok()
            .and_then(|i| Counter::ALL.get(i).copied())
    }

    /// This counter's value in `c`.
    pub fn get(self, c: &Counters) -> u64 {
        match self {
            Counter::Reads => c.reads,
            Counter::ReadsMerged => c.reads_merged,
            Counter::ReadSectors => c.read_sectors,
            Counter::ReadNsecs => c.read_nsecs,
            Counter::Writes => c.writes,
            Counter::WritesMerged => c.writes_merged,
            Counter::WriteSectors => c.write_sectors,
            Counter::WriteNsecs => c.write_nsecs,
            Counter::IoInProgress => c.io_in_progress,
            Counter::IoNsecs => c.io_nsecs,
            Counter::WeightedIoNsecs => c.weighted_io_nsecs,
            Counter::TotalReadNsecs => c.total_read_nsecs,
            Counter::TotalWriteNsecs => c.total_write_nsecs,
        }
    }
}

/// `dm_stats_metric_t`, in enum order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Metric {
    /// `DM_STATS_RD_MERGES_PER_SEC`
    RdMergesPerSec = 0,
    /// `DM_STATS_WR_MERGES_PER_SEC`
    WrMergesPerSec,
    /// `DM_STATS_READS_PER_SEC`
    ReadsPerSec,
    /// `DM_STATS_WRITES_PER_SEC`
    WritesPerSec,
    /// `DM_STATS_READ_SECTORS_PER_SEC`
    ReadSectorsPerSec,
    /// `DM_STATS_WRITE_SECTORS_PER_SEC`
    WriteSectorsPerSec,
    /// `DM_STATS_AVERAGE_REQUEST_SIZE`
    AverageRequestSize,
    /// `DM_STATS_AVERAGE_QUEUE_SIZE`
    AverageQueueSize,
    /// `DM_STATS_AVERAGE_WAIT_TIME`
    AverageWaitTime,
    /// `DM_STATS_AVERAGE_RD_WAIT_TIME`
    AverageRdWaitTime,
    /// `DM_STATS_AVERAGE_WR_WAIT_TIME`
    AverageWrWaitTime,
    /// `DM_STATS_SERVICE_TIME`
    ServiceTime,
    /// `DM_STATS_THROUGHPUT`
    Throughput,
    /// `DM_STATS_UTILIZATION`
    Utilization,
}

impl Metric {
    /// Every metric in enum order.
    pub const ALL: [Metric; 14] = [
        Metric::RdMergesPerSec,
        Metric::WrMergesPerSec,
        Metric::ReadsPerSec,
        Metric::WritesPerSec,
        Metric::ReadSectorsPerSec,
        Metric::WriteSectorsPerSec,
        Metric::AverageRequestSize,
        Metric::AverageQueueSize,
        Metric::AverageWaitTime,
        Metric::AverageRdWaitTime,
        Metric::AverageWrWaitTime,
        Metric::ServiceTime,
        Metric::Throughput,
        Metric::Utilization,
    ];

    /// The metric with C enum value `v` (stock logs "Attempt to read invalid
    /// metric: %d" for anything else).
    pub fn from_raw(v: i32) -> Option<Metric> {
        usize::try_from(v)
            .ok()
            .and_then(|i| Metric::ALL.get(i).copied())
    }
}

/// Compute `metric` from (aggregated) counters over `interval_ns`, exactly
/// as stock's `_metrics[]` table does. `None` where stock fails (a zero
/// interval for utilization and service time; [`super::Stats::metric`]
/// refuses a zero interval before calling this).
///
/// Note stock's quirk, kept: the merge rates are divided by the interval in
/// nanoseconds without the 10^9 factor the other rates use.
pub fn compute(metric: Metric, c: &Counters, interval_ns: u64) -> Option<f64> {
    let iv = interval_ns as f64;
    let ns = NSEC_PER_SEC as f64;
    Some(match metric {
        Metric::RdMergesPerSec => c.reads_merged as f64 / iv,
        Metric::WrMergesPerSec => c.writes_merged as f64 / iv,
        Metric::ReadsPerSec => (c.reads as f64 * ns) / iv,
        Metric::WritesPerSec => (c.writes as f64 * ns) / iv,
        Metric::ReadSectorsPerSec => (c.read_sectors as f64 * ns) / iv,
        Metric::WriteSectorsPerSec => (c.write_sectors as f64 * ns) / iv,
        Metric::AverageRequestSize => {
            let ios = c.reads.wrapping_add(c.writes) as f64;
            let sectors = c.read_sectors.wrapping_add(c.write_sectors) as f64;
            if ios > 0.0 {
                sectors / ios
            } else {
                0.0
            }
        }
        Metric::AverageQueueSize => {
            let t = c.weighted_io_nsecs as f64;
            if t > 0.0 {
                t / iv
            } else {
                0.0
            }
        }
        Metric::AverageWaitTime => {
            let ticks = c.read_nsecs.wrapping_add(c.write_nsecs);
            let ios = c.reads.wrapping_add(c.writes);
            if ios > 0 {
                ticks as f64 / ios as f64
            } else {
                0.0
            }
        }
        Metric::AverageRdWaitTime => {
            if c.read_nsecs > 0 && c.reads > 0 {
                c.read_nsecs as f64 / c.reads as f64
            } else {
                0.0
            }
        }
        Metric::AverageWrWaitTime => {
            if c.write_nsecs > 0 && c.writes > 0 {
                c.write_nsecs as f64 / c.writes as f64
            } else {
                0.0
            }
        }
        Metric::Throughput => throughput(c, interval_ns),
        Metric::Utilization => utilization(c, interval_ns)?,
        Metric::ServiceTime => {
            let tput = throughput(c, interval_ns);
            let util = utilization(c, interval_ns)? * 100.0;
            // Stock truncates both to integers to avoid NaN with zero
            // counters, and passes the percentage through dm_percent_t
            // (an int) and a float.
            if tput as u64 == 0 || util as u64 == 0 {
                0.0
            } else {
                let pct = percent_to_float(util as i32);
                (ns * f64::from(pct)) / (100.0 * tput)
            }
        }
    })
}

fn throughput(c: &Counters, interval_ns: u64) -> f64 {
    let ios = c.reads.wrapping_add(c.writes);
    (NSEC_PER_SEC as f64 * ios as f64) / interval_ns as f64
}

fn utilization(c: &Counters, interval_ns: u64) -> Option<f64> {
    if interval_ns == 0 {
        return None;
    }
    let io = c.io_nsecs.min(interval_ns);
    Some(io as f64 / interval_ns as f64)
}

/// `dm_stats_get_utilization`'s `dm_percent_t` form of a utilization ratio.
pub fn utilization_percent(util: f64) -> i32 {
    make_percent((f64::from(DM_PERCENT_1) * util) as u64, DM_PERCENT_1 as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Counters {
        Counters {
            reads: 100,
            reads_merged: 10,
            read_sectors: 800,
            read_nsecs: 50_000_000,
            writes: 50,
            writes_merged: 5,
            write_sectors: 1600,
            write_nsecs: 100_000_000,
            io_in_progress: 0,
            io_nsecs: 250_000_000,
            weighted_io_nsecs: 400_000_000,
            total_read_nsecs: 60_000_000,
            total_write_nsecs: 110_000_000,
        }
    }

    #[test]
    fn metrics_by_hand() {
        let c = sample();
        let iv = 1_000_000_000; // one second
        let m = |x| compute(x, &c, iv).unwrap();
        assert_eq!(m(Metric::ReadsPerSec), 100.0);
        assert_eq!(m(Metric::WritesPerSec), 50.0);
        assert_eq!(m(Metric::ReadSectorsPerSec), 800.0);
        assert_eq!(m(Metric::WriteSectorsPerSec), 1600.0);
        // Stock divides merges by nanoseconds: 10 / 1e9.
        assert_eq!(m(Metric::RdMergesPerSec), 10.0 / 1e9);
        assert_eq!(m(Metric::WrMergesPerSec), 5.0 / 1e9);
        assert_eq!(m(Metric::AverageRequestSize), 2400.0 / 150.0);
        assert_eq!(m(Metric::AverageQueueSize), 0.4);
        assert_eq!(m(Metric::AverageWaitTime), 150_000_000.0 / 150.0);
        assert_eq!(m(Metric::AverageRdWaitTime), 500_000.0);
        assert_eq!(m(Metric::AverageWrWaitTime), 2_000_000.0);
        assert_eq!(m(Metric::Throughput), 150.0);
        assert_eq!(m(Metric::Utilization), 0.25);
        // svctm = 1e9 * float(25 / 1e6) / (100 * 150)
        let pct = 25f32 / 1_000_000f32;
        assert_eq!(m(Metric::ServiceTime), 1e9 * f64::from(pct) / 15000.0);
        assert_eq!(utilization_percent(0.25), 25 * DM_PERCENT_1);
    }

    #[test]
    fn edge_values() {
        let z = Counters::default();
        for metric in Metric::ALL {
            assert_eq!(compute(metric, &z, 1_000_000).unwrap(), 0.0, "{metric:?}");
        }
        // Utilization is capped at the interval.
        let c = Counters {
            io_nsecs: 5_000,
            ..Default::default()
        };
        assert_eq!(compute(Metric::Utilization, &c, 1_000).unwrap(), 1.0);
        assert_eq!(compute(Metric::Utilization, &c, 0), None);
        assert_eq!(compute(Metric::ServiceTime, &c, 0), None);
        assert_eq!(utilization_percent(1.0), 100 * DM_PERCENT_1);
        assert_eq!(utilization_percent(0.0), 0);
    }

    #[test]
    fn raw_enum_values() {
        assert_eq!(Counter::from_raw(0), Some(Counter::Reads));
        assert_eq!(Counter::from_raw(12), Some(Counter::TotalWriteNsecs));
        assert_eq!(Counter::from_raw(13), None);
        assert_eq!(Counter::from_raw(-1), None);
        assert_eq!(Metric::from_raw(13), Some(Metric::Utilization));
        assert_eq!(Metric::from_raw(14), None);
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as i32, i as i32);
        }
    }
}
