//! Thin provisioning: a `thin-pool` over a metadata disk and a data disk,
//! thin volumes created with pool messages (`create_thin`, `create_snap`),
//! a 256 MiB volume over 64 MiB of real space, and the pool's typed status
//! (used/total data and metadata blocks, transaction id, mode) as data
//! arrives.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/thin`).

mod common;

use common::*;
use devmapper::targets::messages::ThinPoolMessage;
use devmapper::targets::{
    Table, ThinParams, ThinPoolParams, ThinPoolStatus, ThinPoolStatusDetail, ThinStatus,
};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Device, SuspendOptions};

fn main() -> Res<()> {
    let mut lab = Lab::new("thin")?;
    let dm = lab.dm.clone();
    let meta = lab.loop_device("meta", mib(8)?)?;
    let data = lab.loop_device("data", mib(64)?)?;
    let opts = CreateOptions::default();

    // A pool with 64 KiB blocks; a zeroed metadata device is formatted by
    // the kernel on first load.
    let pool_params = ThinPoolParams {
        metadata_dev: meta.dev.clone(),
        data_dev: data.dev.clone(),
        block_size: Sectors(128),
        low_water_mark: 0,
        features: Default::default(),
    };
    let pool_name = lab.name("pool")?;
    let pool = dm.create_device(&pool_name, &opts, &Table::single(data.size, pool_params)?)?;
    print!("created {pool_name}:\n{}", show(&pool.typed_table()?));
    pool_usage(&pool)?;

    // Thin device 0 exists once the pool is told so; a volume maps it.
    pool.send(&ThinPoolMessage::CreateThin { dev_id: 0 })?;
    println!("sent `create_thin 0` to the pool");
    let thin_params = ThinParams {
        pool: pool.dev_ref()?,
        device_id: 0,
        external_origin: None,
    };
    let vol_name = lab.name("vol")?;
    let vol = dm.create_device(&vol_name, &opts, &Table::single(mib(256)?, thin_params)?)?;
    let node = vol.path()?;
    println!("created {vol_name}: 256 MiB backed by a 64 MiB pool");

    // 1 MiB at the start and one block far out: 17 pool blocks.
    write_direct(&node, 0, &pattern("thin data ", 1 << 20))?;
    write_direct(&node, 200 << 20, &pattern("far out ", BLOCK))?;
    let used = pool_usage(&pool)?;
    check(
        used.used_data_blocks == 17,
        "17 data blocks of 64 KiB are provisioned",
    )?;
    if let ThinStatus::Ok(t) = vol.status_of::<ThinStatus>()? {
        println!(
            "  {vol_name}: {} sectors mapped, highest mapped sector {:?}",
            t.mapped, t.highest_mapped
        );
    }

    // A snapshot of device 0 as device 1: the origin must be suspended
    // while the pool records it. It shares every block.
    vol.suspend(SuspendOptions::default())?;
    let r = pool.send(&ThinPoolMessage::CreateSnap {
        dev_id: 1,
        origin_id: 0,
    });
    vol.resume()?;
    r?;
    pool.send(&ThinPoolMessage::SetTransactionId { current: 0, new: 1 })?;
    println!("sent `create_snap 1 0` and `set_transaction_id 0 1`");
    let snap_name = lab.name("snap")?;
    let snap_params = ThinParams {
        pool: pool.dev_ref()?,
        device_id: 1,
        external_origin: None,
    };
    let snap = dm.create_device(&snap_name, &opts, &Table::single(mib(256)?, snap_params)?)?;
    write_direct(&node, 0, &pattern("changed ", BLOCK))?;
    check(
        read_direct(&snap.path()?, 0, BLOCK)? == pattern("thin data ", BLOCK),
        "the thin snapshot keeps the old data",
    )?;
    let after = pool_usage(&pool)?;
    check(after.transaction_id == 1, "the pool's transaction id is 1")?;
    check(
        after.used_data_blocks == 18,
        "only the block written since the snapshot was copied",
    )?;

    // Tear down in order: volumes, then their thin devices, then the pool
    // (the lab removes the pool and anything left if this fails half way).
    for (dev, name, dev_id) in [(snap, snap_name, 1), (vol, vol_name, 0)] {
        dev.remove(Default::default())?;
        lab.forget(&name);
        pool.send(&ThinPoolMessage::Delete { dev_id })?;
    }
    println!("removed both volumes and deleted thin devices 1 and 0");
    check(
        pool_usage(&pool)?.used_data_blocks == 0,
        "the pool is empty again",
    )?;
    println!("done");
    Ok(())
}

/// Print and return the pool's typed status.
fn pool_usage(pool: &Device) -> Res<ThinPoolStatusDetail> {
    match pool.status_of::<ThinPoolStatus>()? {
        ThinPoolStatus::Ok(d) => {
            println!(
                "  pool: transaction {}, data {}/{} blocks, metadata {}/{} blocks, {:?}, discards {:?}",
                d.transaction_id,
                d.used_data_blocks,
                d.total_data_blocks,
                d.used_metadata_blocks,
                d.total_metadata_blocks,
                d.mode,
                d.discards
            );
            Ok(d)
        }
        other => Err(format!("pool: {other:?}").into()),
    }
}
