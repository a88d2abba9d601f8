//! Fault and latency injection: a `flakey` device whose table is swapped
//! live between "healthy", "drops writes", "fails writes" and "corrupts
//! reads", then a `delay` device that holds writes back, with its typed
//! status showing the I/O it is holding.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/flakey_delay`).

mod common;

use common::*;
use devmapper::targets::{
    CorruptBioByte, DelayClass, DelayParams, DelayStatus, FlakeyFeatures, FlakeyParams,
    IoDirection, Table,
};
use devmapper::units::Sectors;
use devmapper::CreateOptions;
use std::time::{Duration, Instant};

/// A flakey table over `disk`: "up" for an hour (healthy), or "down" for
/// an hour with the given behaviour.
fn flakey(disk: &Loop, down: Option<FlakeyFeatures>) -> Res<Table> {
    let (up_interval, down_interval, features) = match down {
        None => (3600, 0, FlakeyFeatures::default()),
        Some(f) => (0, 3600, f),
    };
    let p = FlakeyParams {
        device: disk.dev.clone(),
        offset: Sectors(0),
        up_interval,
        down_interval,
        features,
    };
    Ok(Table::single(disk.size, p)?)
}

fn main() -> Res<()> {
    let mut lab = Lab::new("faults")?;
    let dm = lab.dm.clone();
    let disk = lab.loop_device("disk", mib(8)?)?;

    // --- flakey ---------------------------------------------------------
    let name = lab.name("flakey")?;
    let dev = dm.create_device(&name, &CreateOptions::default(), &flakey(&disk, None)?)?;
    let node = dev.path()?;
    print!("created {name}, healthy:\n{}", show(&dev.typed_table()?));
    write_direct(&node, 0, &pattern("original ", BLOCK))?;

    // Down, dropping writes: they "succeed" but never reach the disk.
    let drop = FlakeyFeatures {
        drop_writes: true,
        ..Default::default()
    };
    dev.replace_table(&flakey(&disk, Some(drop))?)?;
    print!("swapped to dropping writes:\n{}", show(&dev.typed_table()?));
    write_direct(&node, 0, &pattern("lost ", BLOCK))?;
    check(
        read_direct(&node, 0, BLOCK)? == pattern("original ", BLOCK),
        "the write was acknowledged but dropped",
    )?;

    // Down, failing writes.
    let fail = FlakeyFeatures {
        error_writes: true,
        ..Default::default()
    };
    dev.replace_table(&flakey(&disk, Some(fail))?)?;
    print!("swapped to failing writes:\n{}", show(&dev.typed_table()?));
    let err = write_direct(&node, 0, &pattern("refused ", BLOCK)).unwrap_err();
    println!("  write: {err}");
    check(
        err.raw_os_error() == Some(libc::EIO),
        "the write failed with EIO",
    )?;

    // Down, corrupting the first byte of every write. (flakey can corrupt
    // reads too, but 6.1 looks for the byte after the read's data iterator
    // has run out, so nothing happens there; later kernels fixed that.)
    let corrupt = FlakeyFeatures {
        corrupt_bio_byte: Some(CorruptBioByte {
            nth_byte: 1,
            direction: IoDirection::Write,
            value: b'#',
            flags: 0,
        }),
        ..Default::default()
    };
    dev.replace_table(&flakey(&disk, Some(corrupt))?)?;
    print!(
        "swapped to corrupting writes:\n{}",
        show(&dev.typed_table()?)
    );
    write_direct(&node, 0, &pattern("mangled ", BLOCK))?;
    let got = read_direct(&disk.path, 0, BLOCK)?;
    println!("  on the disk: {:?}", preview(&got));
    check(
        got[0] == b'#' && got[1..] == pattern("mangled ", BLOCK)[1..],
        "the first byte written is corrupted, the rest is intact",
    )?;
    dev.remove(Default::default())?;
    lab.forget(&name);
    println!("removed {name}");

    // --- delay ----------------------------------------------------------
    // Reads go straight through; writes (and flushes) wait 400 ms.
    let params = DelayParams {
        read: DelayClass {
            device: disk.dev.clone(),
            offset: Sectors(0),
            delay_ms: 0,
        },
        write: Some(DelayClass {
            device: disk.dev.clone(),
            offset: Sectors(0),
            delay_ms: 400,
        }),
        flush: None,
    };
    let name = lab.name("delay")?;
    let dev = dm.create_device(
        &name,
        &CreateOptions::default(),
        &Table::single(disk.size, params)?,
    )?;
    let node = dev.path()?;
    print!("created {name}:\n{}", show(&dev.typed_table()?));

    // Write in another thread and watch the target hold the write.
    let writer = {
        let node = node.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            write_direct(&node, 0, &pattern("late ", BLOCK)).map(|()| t.elapsed())
        })
    };
    let mut seen = false;
    while !writer.is_finished() {
        let d = dev.status_of::<DelayStatus>()?;
        if d.writes + d.flushes > 0 && !seen {
            println!(
                "  typed status while writing: {} reads, {} writes, {} flushes held",
                d.reads, d.writes, d.flushes
            );
            seen = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = writer.join().map_err(|_| "writer panicked")??;
    println!("  the write (with its flush) took {} ms", took.as_millis());
    check(
        took >= Duration::from_millis(400),
        "the write waited at least 400 ms",
    )?;
    let t = Instant::now();
    let back = read_direct(&node, 0, BLOCK)?;
    println!("  a read took {} ms", t.elapsed().as_millis());
    check(back == pattern("late ", BLOCK), "the delayed write arrived")?;
    let d = dev.status_of::<DelayStatus>()?;
    println!(
        "  typed status now: {} reads, {} writes, {} flushes held",
        d.reads, d.writes, d.flushes
    );
    println!("done");
    Ok(())
}
