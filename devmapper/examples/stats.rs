//! I/O statistics (what `dmstats` does): a region over a whole device split
//! into four areas, with a latency histogram; some I/O; then the counters
//! of each area and of the whole region, a derived metric, and the
//! histogram, read through `devmapper::stats::Stats`.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/stats`).

mod common;

use common::*;
use devmapper::stats::{
    Histogram, HistogramFlags, Metric, RegionSpec, Stats, DM_STATS_REGIONS_ALL,
    DM_STATS_WALK_REGION,
};
use devmapper::targets::{LinearParams, Table};
use devmapper::units::Sectors;
use devmapper::CreateOptions;
use std::time::Instant;

fn main() -> Res<()> {
    let mut lab = Lab::new("stats")?;
    let dm = lab.dm.clone();
    let disk = lab.loop_device("disk", mib(16)?)?;
    let name = lab.name("vol")?;
    let dev = dm.create_device(
        &name,
        &CreateOptions::default(),
        &Table::single(disk.size, LinearParams::new(disk.dev.clone(), Sectors(0)))?,
    )?;
    let node = dev.path()?;
    println!("created {name} (16 MiB)");

    // A statistics handle for this program, bound to the device by name.
    let mut stats = Stats::new(dm.clone(), Some(b"rsex-stats"))?;
    stats.bind_name(name.as_bytes());
    if !stats.driver_supports_histogram() {
        return skip("this kernel's dm statistics have no histograms");
    }
    // The whole device in four areas, latency bins at 1 ms, 10 ms and
    // 100 ms.
    let bounds = Histogram::bounds_from_string(b"1ms,10ms,100ms")?;
    let region = stats.create_region_with(
        &RegionSpec::whole_device()
            .areas(4)
            .histogram(&bounds)
            .user_data(b"example"),
    )?;
    let t0 = Instant::now();
    println!("created statistics region {region} with 4 areas and a histogram");

    // I/O: 1 MiB written in area 0, 2 MiB read from area 2 (4 reads).
    write_direct(&node, 0, &pattern("stats ", 1 << 20))?;
    for i in 0..4 {
        read_direct(&node, (8 << 20) + i * (512 << 10), 512 << 10)?;
    }

    // Read (and clear) the kernel's counters; metrics need the interval
    // they cover.
    stats.populate(None, DM_STATS_REGIONS_ALL)?;
    stats.set_sampling_interval_ns(u64::try_from(t0.elapsed().as_nanos())?);
    println!(
        "device {}: {} region(s), program id {:?}",
        String::from_utf8_lossy(stats.device_name().unwrap_or_default()),
        stats.nr_regions(),
        String::from_utf8_lossy(stats.region_program_id(region))
    );
    for area in 0..stats.region_nr_areas(region) {
        let c = stats.counters(region, area)?;
        println!(
            "  area {area} at sector {}: {} reads ({} sectors), {} writes ({} sectors)",
            stats.area_start(region, area)?,
            c.reads,
            c.read_sectors,
            c.writes,
            c.write_sectors
        );
    }
    let total = stats.counters(region, DM_STATS_WALK_REGION)?;
    check(total.write_sectors == 2048, "1 MiB = 2048 sectors written")?;
    check(total.read_sectors == 4096, "2 MiB = 4096 sectors read")?;
    check(
        stats.counters(region, 2)?.read_sectors == 4096,
        "all of it in area 2",
    )?;
    let size = stats.metric(Metric::AverageRequestSize, region, DM_STATS_WALK_REGION)?;
    let rate = stats.metric(Metric::ReadSectorsPerSec, region, DM_STATS_WALK_REGION)?;
    println!("  average request size {size:.1} sectors; {rate:.0} sectors read per second");

    let h = stats
        .histogram(region, DM_STATS_WALK_REGION)
        .ok_or("the region has no histogram")?;
    let text = h.to_string_with(
        None,
        -1,
        HistogramFlags::BOUNDS_RANGE | HistogramFlags::SUFFIX | HistogramFlags::VALUES,
    )?;
    println!("  latency histogram ({} I/Os): {text}", h.sum());
    check(h.sum() > 0, "the histogram counted the I/O")?;

    stats.delete_region(region)?;
    println!("deleted region {region}");
    println!("done");
    Ok(())
}
