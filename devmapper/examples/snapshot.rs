//! Snapshots the way LVM stacks them: a hidden `-real` device, a
//! `snapshot-origin` on top of it that the user writes to, a `snapshot`
//! with a persistent copy-on-write store, its typed usage, then
//! `snapshot-merge` to roll the origin back to the snapshot.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/snapshot`).

mod common;

use common::*;
use devmapper::targets::{
    ExceptionStore, LinearParams, SnapshotMergeParams, SnapshotOriginParams, SnapshotParams,
    SnapshotStatus, Table,
};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Device, SuspendOptions};
use std::time::{Duration, Instant};

fn main() -> Res<()> {
    let mut lab = Lab::new("snapshot")?;
    let dm = lab.dm.clone();
    let base = lab.loop_device("base", mib(16)?)?;
    let cow = lab.loop_device("cow", mib(8)?)?;
    let opts = CreateOptions::default();

    // The real device, and the origin users see.
    let real_name = lab.name("vol-real")?;
    let real = dm.create_device(
        &real_name,
        &opts,
        &Table::single(base.size, LinearParams::new(base.dev.clone(), Sectors(0)))?,
    )?;
    let origin_params = SnapshotOriginParams {
        device: real.dev_ref()?,
    };
    let origin_name = lab.name("vol")?;
    let origin = dm.create_device(
        &origin_name,
        &opts,
        &Table::single(base.size, origin_params.clone())?,
    )?;
    let vol = origin.path()?;
    println!("created {real_name} and {origin_name} on top of it");
    write_direct(&vol, 0, &pattern("before ", 2 * BLOCK))?;

    // Take the snapshot with the origin suspended, so no write is half done.
    let snap_params = SnapshotParams {
        origin: real.dev_ref()?,
        cow: cow.dev.clone(),
        store: ExceptionStore::Persistent,
        chunk_size: Sectors(16),
        features: Default::default(),
    };
    origin.suspend(SuspendOptions::default())?;
    let snap_name = lab.name("snap")?;
    let created = dm.create_device(
        &snap_name,
        &opts,
        &Table::single(base.size, snap_params.clone())?,
    );
    origin.resume()?;
    let snap = created?;
    print!("took snapshot {snap_name}:\n{}", show(&snap.typed_table()?));
    let snap_node = snap.path()?;

    // The origin moves on; the snapshot keeps the old data.
    write_direct(&vol, 0, &pattern("after ", BLOCK))?;
    check(
        read_direct(&snap_node, 0, BLOCK)? == pattern("before ", BLOCK),
        "the snapshot still reads the data from before",
    )?;
    check(
        read_direct(&vol, 0, BLOCK)? == pattern("after ", BLOCK),
        "the origin reads the new data",
    )?;
    // Snapshots are writable too.
    write_direct(&snap_node, BLOCK as u64, &pattern("snap-edit ", BLOCK))?;
    usage(&snap, "snapshot usage")?;

    // Merge: drop the snapshot device (its store stays on the COW disk),
    // then load snapshot-merge in place of the origin.
    snap.remove(Default::default())?;
    lab.forget(&snap_name);
    origin.replace_table(&Table::single(base.size, SnapshotMergeParams(snap_params))?)?;
    print!("merging:\n{}", show(&origin.typed_table()?));
    let t0 = Instant::now();
    loop {
        let (allocated, metadata) = usage(&origin, "merge progress")?;
        if allocated == metadata {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            return Err("the merge did not finish within 2 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check(
        read_direct(&vol, 0, BLOCK)? == pattern("before ", BLOCK),
        "the origin is back to the snapshot's data",
    )?;
    check(
        read_direct(&vol, BLOCK as u64, BLOCK)? == pattern("snap-edit ", BLOCK),
        "including what was written to the snapshot",
    )?;

    // Back to a plain origin.
    origin.replace_table(&Table::single(base.size, origin_params)?)?;
    print!(
        "merged; origin table again:\n{}",
        show(&origin.typed_table()?)
    );
    println!("done");
    Ok(())
}

/// Print the typed usage of a snapshot or snapshot-merge device (one
/// status type describes both); returns (allocated, metadata) sectors.
fn usage(dev: &Device, what: &str) -> Res<(Sectors, Sectors)> {
    match dev.status_of::<SnapshotStatus>()? {
        SnapshotStatus::Usage {
            allocated,
            total,
            metadata,
        } => {
            println!(
                "  {what}: {allocated}/{total} sectors of the COW store used, {metadata} of them metadata"
            );
            Ok((allocated, metadata))
        }
        other => Err(format!("{what}: {other:?}").into()),
    }
}
