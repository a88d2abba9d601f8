//! The dependency tree (libdevmapper's `dm_tree`, read side): a small
//! stack — two linear devices on two disks, a striped device over both of
//! them, and a second device that also uses the right-hand one — added to a
//! `devmapper::tree::Tree` from its top devices only; the tree finds the
//! rest through the kernel's dependency lists. Printed top-down, then
//! bottom-up from one disk.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/tree`).

mod common;

use common::*;
use devmapper::targets::{DevRef, LinearParams, Stripe, StripedParams, Table};
use devmapper::tree::{NodeId, Tree};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, DmUuid};

fn main() -> Res<()> {
    let mut lab = Lab::new("tree")?;
    let dm = lab.dm.clone();
    let a = lab.loop_device("a", mib(8)?)?;
    let b = lab.loop_device("b", mib(8)?)?;
    let with_uuid = |u: &str| -> Res<CreateOptions> {
        Ok(CreateOptions {
            uuid: Some(DmUuid::new(format!("RSEX-tree-{u}"))?),
            ..Default::default()
        })
    };

    // left on a, right on b (4 MiB each); top stripes over left and right;
    // side maps the last MiB of right, so right has two users.
    let left = dm.create_device(
        &lab.name("left")?,
        &with_uuid("left")?,
        &Table::single(mib(4)?, LinearParams::new(a.dev.clone(), Sectors(0)))?,
    )?;
    let right = dm.create_device(
        &lab.name("right")?,
        &with_uuid("right")?,
        &Table::single(mib(4)?, LinearParams::new(b.dev.clone(), Sectors(0)))?,
    )?;
    let stripes = vec![
        Stripe {
            device: left.dev_ref()?,
            offset: Sectors(0),
        },
        Stripe {
            device: right.dev_ref()?,
            offset: Sectors(0),
        },
    ];
    let top = dm.create_device(
        &lab.name("top")?,
        &with_uuid("top")?,
        &Table::single(
            mib(8)?,
            StripedParams {
                chunk_size: Sectors(128),
                stripes,
            },
        )?,
    )?;
    let side = dm.create_device(
        &lab.name("side")?,
        &with_uuid("side")?,
        &Table::single(mib(1)?, LinearParams::new(right.dev_ref()?, mib(3)?))?,
    )?;
    println!("built: top = striped(left on a, right on b); side = linear(right)");

    // Only the top devices are given; the tree asks the kernel for the rest.
    let mut tree = Tree::new(dm.context());
    for dev in [&top, &side] {
        let i = dev.info()?;
        tree.add_dev(i.major, i.minor)?;
    }
    println!("tree of {} nodes (with the root), top-down:", tree.len());
    for &id in tree.children(tree.root(), false) {
        print_down(&tree, id, 1);
    }
    check(
        tree.num_children(tree.root(), false) == 2,
        "two top-level devices",
    )?;

    // Bottom-up: who uses disk b?
    let DevRef::Number { major, minor } = b.dev else {
        return Err("disk b has no device number".into());
    };
    let disk_b = tree
        .find_node(major, minor)
        .ok_or("disk b is not in the tree")?;
    println!("bottom-up from {}:", b.path.display());
    print_up(&tree, disk_b, 1);
    let right_id = tree
        .find_node_by_uuid(b"RSEX-tree-right")
        .ok_or("right is not in the tree")?;
    check(
        tree.num_children(right_id, true) == 2,
        "right has two users (top and side)",
    )?;
    check(
        tree.num_children(disk_b, false) == 0,
        "a disk uses nothing (its only child is the root)",
    )?;
    println!("done");
    Ok(())
}

fn label(tree: &Tree<'_>, id: NodeId) -> String {
    let Some(n) = tree.node(id) else {
        return "?".into();
    };
    match n.device_info() {
        Some(i) => format!(
            "{} ({}:{}, uuid {}, {} open, {} target(s))",
            i.name_lossy(),
            i.major,
            i.minor,
            String::from_utf8_lossy(&i.uuid),
            i.open_count,
            i.target_count
        ),
        None => {
            let (major, minor) = n.devno();
            format!("{major}:{minor} (not a mapped device)")
        }
    }
}

/// A node and what it uses, indented. The root stands for "nothing" below
/// the bottom level and is not printed.
fn print_down(tree: &Tree<'_>, id: NodeId, depth: usize) {
    println!("{}{}", "  ".repeat(depth), label(tree, id));
    for &c in tree.children(id, false) {
        if c != NodeId::ROOT {
            print_down(tree, c, depth + 1);
        }
    }
}

/// A node and its users, indented.
fn print_up(tree: &Tree<'_>, id: NodeId, depth: usize) {
    println!("{}{}", "  ".repeat(depth), label(tree, id));
    for &c in tree.children(id, true) {
        if c != NodeId::ROOT {
            print_up(tree, c, depth + 1);
        }
    }
}
