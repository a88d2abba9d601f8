//! Multipath: one storage reached by two paths (two loop devices over the
//! same backing file, as two HBAs see one LUN), a `multipath` device with
//! one round-robin priority group over both, its typed status per path,
//! and the `fail_path` / `reinstate_path` messages: I/O goes on over the
//! remaining path, fails when none is left (no `queue_if_no_path`), and
//! works again once a path is reinstated.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/multipath`).

mod common;

use common::*;
use devmapper::targets::messages::MultipathMessage;
use devmapper::targets::{MultipathParams, MultipathPath, MultipathStatus, PathGroup, Table};
use devmapper::{CreateOptions, Device};

fn main() -> Res<()> {
    let mut lab = Lab::new("multipath")?;
    let dm = lab.dm.clone();
    let lun = lab.scratch_file("lun", mib(16)?)?;
    let paths = [lab.attach(&lun)?, lab.attach(&lun)?];
    for p in &paths {
        println!(
            "  path {} ({}) to {}",
            p.path.display(),
            p.dev,
            lun.display()
        );
    }

    let params = MultipathParams {
        features: Default::default(),
        hw_handler: None,
        initial_group: 1,
        groups: vec![PathGroup {
            selector: b"round-robin".to_vec(),
            selector_args: Vec::new(),
            path_args: 1,
            paths: paths
                .iter()
                .map(|p| MultipathPath {
                    device: p.dev.clone(),
                    // round-robin's repeat count (request-based multipath
                    // always switches after one I/O, whatever is given)
                    args: vec![b"1".to_vec()],
                })
                .collect(),
        }],
    };
    let name = lab.name("mpath")?;
    let dev = dm.create_device(
        &name,
        &CreateOptions::default(),
        &Table::single(mib(16)?, params)?,
    )?;
    let node = dev.path()?;
    print!("created {name}:\n{}", show(&dev.typed_table()?));

    write_direct(&node, 0, &pattern("multipath ", BLOCK))?;
    check(
        read_direct(&paths[1].path, 0, BLOCK)? == pattern("multipath ", BLOCK),
        "a write through the multipath device is visible on the second path",
    )?;
    status(&dev)?;

    // Fail the first path: I/O continues on the other.
    dev.send(&MultipathMessage::FailPath(paths[0].dev.clone()))?;
    println!("sent `fail_path {}`", paths[0].dev);
    let st = status(&dev)?;
    check(
        st.groups[0].paths.iter().filter(|p| p.active).count() == 1,
        "one path left",
    )?;
    check(
        read_direct(&node, 0, BLOCK)? == pattern("multipath ", BLOCK),
        "reads still work over the remaining path",
    )?;

    // Fail the second one too: with no path and no queueing, I/O fails.
    dev.send(&MultipathMessage::FailPath(paths[1].dev.clone()))?;
    println!("sent `fail_path {}`", paths[1].dev);
    status(&dev)?;
    match read_direct(&node, 0, BLOCK) {
        Err(e) => println!("  read with no path: {e}"),
        Ok(_) => return Err("a read succeeded with every path failed".into()),
    }

    for p in &paths {
        dev.send(&MultipathMessage::ReinstatePath(p.dev.clone()))?;
        println!("sent `reinstate_path {}`", p.dev);
    }
    let st = status(&dev)?;
    check(
        st.groups[0].paths.iter().all(|p| p.active),
        "both paths are active again",
    )?;
    check(
        read_direct(&node, 0, BLOCK)? == pattern("multipath ", BLOCK),
        "reads work again",
    )?;
    println!("done");
    Ok(())
}

/// Print and return the typed status.
fn status(dev: &Device) -> Res<MultipathStatus> {
    let m = dev.status_of::<MultipathStatus>()?;
    println!(
        "  status: queueing {}, next group {}, {} group(s)",
        m.queueing,
        m.next_group,
        m.groups.len()
    );
    for (i, g) in m.groups.iter().enumerate() {
        println!("    group {}: {:?}", i + 1, g.state);
        for p in &g.paths {
            println!(
                "      path {}: {}, {} failures",
                p.device,
                if p.active { "active" } else { "failed" },
                p.fail_count
            );
        }
    }
    Ok(m)
}
