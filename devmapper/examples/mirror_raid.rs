//! Redundancy: a two-leg `mirror` with an in-memory (core) dirty log, then
//! a two-device `raid1` (md's raid1 through dm-raid, no metadata devices).
//! Both start with a full resynchronisation, followed through their typed
//! status (regions in sync, sectors synced, per-leg health); then data is
//! written once and found on both legs.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/mirror_raid`).

mod common;

use common::*;
use devmapper::targets::{
    LogSync, MirrorLeg, MirrorLog, MirrorParams, MirrorStatus, RaidDevice, RaidOptions, RaidParams,
    RaidStatus, RaidType, Table,
};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Device};
use std::time::{Duration, Instant};

fn main() -> Res<()> {
    let mut lab = Lab::new("mirror")?;
    let dm = lab.dm.clone();
    let opts = CreateOptions::default();
    let legs = [
        lab.loop_device("leg0", mib(16)?)?,
        lab.loop_device("leg1", mib(16)?)?,
    ];

    // --- mirror ---------------------------------------------------------
    let params = MirrorParams {
        log: MirrorLog::Core {
            region_size: 1024, // 512 KiB regions: 32 of them
            sync: Some(LogSync::Sync),
        },
        legs: legs
            .iter()
            .map(|l| MirrorLeg {
                device: l.dev.clone(),
                offset: Sectors(0),
            })
            .collect(),
        features: Default::default(),
    };
    let name = lab.name("mirror")?;
    let dev = dm.create_device(&name, &opts, &Table::single(mib(16)?, params)?)?;
    print!("created {name}:\n{}", show(&dev.typed_table()?));
    wait_in_sync(|| {
        let m = dev.status_of::<MirrorStatus>()?;
        Ok(Progress {
            ratio: m.sync_ratio(),
            in_sync: m.in_sync(),
            what: format!(
                "{}/{} regions in sync, legs {:?}",
                m.in_sync_regions, m.total_regions, m.health
            ),
        })
    })?;
    written_on_both(&dev, &legs, "mirrored ")?;
    dev.remove(Default::default())?;
    lab.forget(&name);
    println!("removed {name}");

    // --- raid1 ----------------------------------------------------------
    let params = RaidParams {
        raid_type: RaidType::Raid1,
        chunk_size: 0,
        options: RaidOptions {
            sync: true, // force a full resynchronisation of the legs
            region_size: Some(1024),
            ..Default::default()
        },
        devices: legs
            .iter()
            .map(|l| RaidDevice {
                metadata: None,
                data: Some(l.dev.clone()),
            })
            .collect(),
    };
    let name = lab.name("raid1")?;
    let dev = dm.create_device(&name, &opts, &Table::single(mib(16)?, params)?)?;
    print!("created {name}:\n{}", show(&dev.typed_table()?));
    // `in_sync` wants every member to report `A` (alive and in sync) as
    // well as a complete ratio: right after activation the ratio alone can
    // read complete before the resync has started.
    wait_in_sync(|| {
        let r = dev.status_of::<RaidStatus>()?;
        Ok(Progress {
            ratio: r.sync_ratio(),
            in_sync: r.in_sync(),
            what: format!(
                "{}/{} sectors synced, devices {:?}, action {:?}",
                r.sync_done, r.sync_total, r.health, r.sync_action
            ),
        })
    })?;
    written_on_both(&dev, &legs, "raid1 ")?;
    println!("done");
    Ok(())
}

/// Where a resynchronisation stands.
struct Progress {
    ratio: f64,
    in_sync: bool,
    what: String,
}

/// Poll the typed status until it says in sync; print the sync ratio as it
/// moves.
fn wait_in_sync(progress: impl Fn() -> Res<Progress>) -> Res<()> {
    let t0 = Instant::now();
    let mut last: Option<u32> = None;
    loop {
        let p = progress()?;
        let pct = (p.ratio * 100.0) as u32;
        if p.in_sync || last.is_none_or(|l| pct >= l + 25) {
            println!("  {} ({pct}%)", p.what);
            last = Some(pct);
        }
        if p.in_sync {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(180) {
            return Err("not in sync after 3 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Write through the device, read each leg directly.
fn written_on_both(dev: &Device, legs: &[Loop], tag: &str) -> Res<()> {
    let data = pattern(tag, 64 << 10);
    write_direct(&dev.path()?, 1 << 20, &data)?;
    for l in legs {
        check(
            read_direct(&l.path, 1 << 20, data.len())? == data,
            &format!("the data is on {}", l.path.display()),
        )?;
    }
    Ok(())
}
