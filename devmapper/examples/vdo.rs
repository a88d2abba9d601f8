//! VDO (deduplication and compression, kernel 6.9+): checks that the kernel
//! has the `vdo` target with `target_version` and exits cleanly when it has
//! not (Debian 12's 6.1 does not). Otherwise: a 6 GiB sparse disk, a 2 GiB
//! logical `vdo` volume (recent kernels format a zeroed disk themselves),
//! duplicate data written to it, and its typed status (operating mode,
//! index state, used/total physical blocks) before and after.
//!
//! Needs root and device-mapper (run it in the test VM on a kernel with
//! vdo: `vm/run.sh --kernel sid -- target/release/examples/vdo`).

mod common;

use common::*;
use devmapper::targets::{Table, VdoOption, VdoParams, VdoStatus};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Device};

fn main() -> Res<()> {
    let mut lab = Lab::new("vdo")?;
    let dm = lab.dm.clone();
    let Some(v) = has_target(&dm, "vdo") else {
        return skip("this kernel has no vdo target (it arrived in 6.9)");
    };
    println!("vdo target version {}.{}.{}", v[0], v[1], v[2]);

    let gib = |n| Sectors::from_gib(n).ok_or("size out of range");
    let disk = lab.loop_device("storage", gib(6)?)?;
    let mut params = VdoParams::new(
        disk.dev.clone(),
        disk.size.0 / 8, // physical size in 4 KiB blocks
        4096,            // logical block size
        32768,           // block map cache: 128 MiB
        16380,           // block map era length
    );
    params.options = vec![VdoOption::Compression(true)];
    let name = lab.name("vdo")?;
    let dev = dm.create_device(
        &name,
        &CreateOptions::default(),
        &Table::single(gib(2)?, params)?,
    )?;
    print!(
        "created {name} (2 GiB logical):\n{}",
        show(&dev.typed_table()?)
    );
    let before = status(&dev, "fresh")?;
    check(before.compression_online, "compression is on")?;

    // 256 copies of one block, then 256 different blocks.
    let node = dev.path()?;
    let same = pattern("the same block over and over ", BLOCK).repeat(256);
    write_direct(&node, 0, &same)?;
    let mut distinct = Vec::new();
    for i in 0..256 {
        distinct.extend(pattern(&format!("block {i} is unlike the others "), BLOCK));
    }
    write_direct(&node, 1 << 20, &distinct)?;
    check(
        read_direct(&node, 0, same.len())? == same,
        "the data reads back",
    )?;
    let after = status(&dev, "after writing 2 MiB")?;
    let used = after.used_blocks.saturating_sub(before.used_blocks);
    println!("  512 blocks written, {used} physical blocks more in use");
    check(
        used <= 512,
        "deduplication and compression store them in no more space than written",
    )?;
    println!("done");
    Ok(())
}

fn status(dev: &Device, when: &str) -> Res<VdoStatus> {
    let s = dev.status_of::<VdoStatus>()?;
    println!(
        "  {when}: mode {:?}, recovering {}, index {:?}, compression {}, {}/{} physical blocks used",
        s.mode,
        s.in_recovery,
        s.index_state,
        if s.compression_online { "online" } else { "offline" },
        s.used_blocks,
        s.total_blocks
    );
    Ok(s)
}
