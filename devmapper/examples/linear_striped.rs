//! The basic targets: one device built from a `linear` segment, a
//! `striped` segment over two disks, a `zero` segment and an `error`
//! segment; data is written through it and found where the table says it
//! goes; then the table is swapped live for a longer one.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/linear_striped`).

mod common;

use common::*;
use devmapper::targets::{LinearParams, Stripe, StripedParams, Table, Target, TargetStatusLine};
use devmapper::units::Sectors;
use devmapper::CreateOptions;

fn main() -> Res<()> {
    let mut lab = Lab::new("linear")?;
    let dm = lab.dm.clone();
    println!("two 8 MiB disks:");
    let a = lab.loop_device("a", mib(8)?)?;
    let b = lab.loop_device("b", mib(8)?)?;

    // The table, typed: each line is a length and a target; `Table` checks
    // that the lines are contiguous from sector 0.
    let mut table = Table::single(mib(4)?, LinearParams::new(a.dev.clone(), Sectors(0)))?;
    table.push(
        mib(8)?,
        StripedParams {
            chunk_size: Sectors(64), // 32 KiB chunks, alternating between the disks
            stripes: vec![
                Stripe {
                    device: a.dev.clone(),
                    offset: mib(4)?,
                },
                Stripe {
                    device: b.dev.clone(),
                    offset: Sectors(0),
                },
            ],
        },
    )?;
    table.push(mib(1)?, Target::Zero)?;
    table.push(mib(1)?, Target::Error)?;
    print!("table to load:\n{}", show(&table));

    let name = lab.name("vol")?;
    let dev = dm.create_device(&name, &CreateOptions::default(), &table)?;
    let node = dev.path()?;
    let info = dev.info()?;
    println!(
        "created {name} ({}:{}, {} targets), node {}",
        info.major,
        info.minor,
        info.target_count,
        node.display()
    );
    // The kernel prints devices back as major:minor; the typed table parses
    // that back to the same values.
    let back = dev.typed_table()?;
    print!("table as the kernel has it:\n{}", show(&back));
    check(
        back == table,
        "the kernel's table parses back to what we loaded",
    )?;

    // Linear: the first 4 MiB are disk a's first 4 MiB.
    write_direct(&node, 0, &pattern("linear ", BLOCK))?;
    check(
        read_direct(&a.path, 0, BLOCK)? == pattern("linear ", BLOCK),
        "a write at sector 0 landed at sector 0 of disk a",
    )?;

    // Striped: 64 KiB written at the start of the striped segment are two
    // chunks: the first on disk a (after its linear part), the second on b.
    let mut two_chunks = pattern("chunk-one ", 32 << 10);
    two_chunks.extend(pattern("chunk-two ", 32 << 10));
    write_direct(&node, 4 << 20, &two_chunks)?;
    let on_a = read_direct(&a.path, 4 << 20, BLOCK)?;
    let on_b = read_direct(&b.path, 0, BLOCK)?;
    println!(
        "  disk a at 4 MiB: {:?}, disk b at 0: {:?}",
        preview(&on_a),
        preview(&on_b)
    );
    check(
        on_a.starts_with(b"chunk-one") && on_b.starts_with(b"chunk-two"),
        "the stripes alternate between the disks",
    )?;

    // Zero: reads give zeros (writes are discarded).
    check(
        read_direct(&node, 12 << 20, BLOCK)?.iter().all(|&c| c == 0),
        "the zero segment reads as zeros",
    )?;
    // Error: every I/O fails.
    let err = read_direct(&node, 13 << 20, BLOCK).unwrap_err();
    println!("  reading the error segment: {err}");
    check(
        err.raw_os_error() == Some(libc::EIO),
        "the error segment fails with EIO",
    )?;

    // Typed status: striped reports each stripe's health.
    for line in dev.typed_status()? {
        let (start, len) = (line.start, line.length);
        match line.status {
            TargetStatusLine::Striped(s) => println!(
                "  status {start}+{len} striped: {} stripes, alive: {:?}",
                s.devices.len(),
                s.alive
            ),
            other => println!("  status {start}+{len}: {other:?}"),
        }
    }

    // Swap the table live (load, suspend, resume): the error segment becomes
    // the rest of disk b, and the device grows by 3 MiB.
    let mut lines = table.into_lines();
    lines.pop();
    let mut bigger = Table::new(lines)?;
    bigger.push(mib(4)?, LinearParams::new(b.dev.clone(), mib(4)?))?;
    dev.replace_table(&bigger)?;
    print!("replaced the table:\n{}", show(&dev.typed_table()?));
    check(
        read_direct(&node, 0, BLOCK)? == pattern("linear ", BLOCK),
        "data written before the swap is still there",
    )?;
    write_direct(&node, 13 << 20, &pattern("tail ", BLOCK))?;
    check(
        read_direct(&b.path, 4 << 20, BLOCK)? == pattern("tail ", BLOCK),
        "the former error segment now maps to disk b",
    )?;
    println!("done; the lab removes {name} and the loop devices");
    Ok(())
}
