//! Dependency trees of a real device stack, against a real kernel.
//!
//! Like `kernel.rs`, these need root and device-mapper, so they are
//! `#[ignore]`d on a normal `cargo test` and run in the test VM with
//! `--include-ignored`. The stack: two loop devices; `base` (linear over
//! both), `cow` (linear over the second half of the second one), `origin`
//! (snapshot-origin of base), `snap` (snapshot of base in cow), `top`
//! (linear over snap) and `crypt` (dm-crypt over top). Every name starts
//! with `rstree-`; devices and loops go away at the end, also on failure.
//!
//! The tree must be the one libdevmapper builds: the structure is checked
//! node by node, and the whole tree of the system is drawn the way
//! `dmsetup ls --tree -o ascii,notrunc` draws it (with the stock dmsetup and
//! libdevmapper of the VM) and compared with that program's output.

use devmapper::tree::{NodeId, Tree};
use devmapper::{DevId, DeviceMapper, DmName, DmUuid, ErrorKind, RemoveOptions, Target};
use std::process::Command;
use std::sync::Mutex;

/// One stack at a time: the dmsetup comparison sees every device.
static STACK_LOCK: Mutex<()> = Mutex::new(());

/// A sparse file attached to a loop device; detached when dropped.
struct Loop {
    dev: String,
    file: String,
    major: u32,
    minor: u32,
}

impl Loop {
    fn new(tag: &str, mib: u64) -> Loop {
        use std::os::unix::fs::MetadataExt;
        let file = format!("/tmp/rstree-{tag}-{}.img", std::process::id());
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(mib << 20).unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show", &file])
            .output()
            .expect("losetup");
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let rdev = std::fs::metadata(&dev).unwrap().rdev();
        Loop {
            major: libc::major(rdev),
            minor: libc::minor(rdev),
            dev,
            file,
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The stack; removes its devices (top first) when dropped, before the
/// loops go.
struct Stack {
    dm: DeviceMapper,
    devs: Vec<(String, DmName, (u32, u32))>,
    loops: [Loop; 2],
}

impl Stack {
    fn create(&mut self, tag: &str, uuid: Option<&str>, table: &[Target]) -> (u32, u32) {
        let n = DmName::new(format!("rstree-{tag}-{}", std::process::id())).unwrap();
        let u = uuid.map(|u| DmUuid::new(format!("{u}-{}", std::process::id())).unwrap());
        let i = self
            .dm
            .create_with_table(&n, u.as_ref(), table, false)
            .unwrap();
        self.devs.push((tag.to_string(), n, (i.major, i.minor)));
        (i.major, i.minor)
    }

    fn dev(&self, tag: &str) -> (u32, u32) {
        self.devs.iter().find(|d| d.0 == tag).unwrap().2
    }

    fn name(&self, tag: &str) -> Vec<u8> {
        self.devs
            .iter()
            .find(|d| d.0 == tag)
            .unwrap()
            .1
            .as_bytes()
            .to_vec()
    }

    fn build() -> Stack {
        let dm = DeviceMapper::new().unwrap();
        let loops = [Loop::new("l0", 16), Loop::new("l1", 16)];
        let mut s = Stack {
            dm,
            devs: Vec::new(),
            loops,
        };
        let l0 = format!("{}:{}", s.loops[0].major, s.loops[0].minor);
        let l1 = format!("{}:{}", s.loops[1].major, s.loops[1].minor);
        let base = s.create(
            "base",
            Some("RSTREE-base"),
            &[
                Target::new(0, 16384, "linear", format!("{l0} 0")),
                Target::new(16384, 16384, "linear", format!("{l1} 0")),
            ],
        );
        let base = format!("{}:{}", base.0, base.1);
        let cow = s.create(
            "cow",
            Some("RSTREE-cow"),
            &[Target::new(0, 16384, "linear", format!("{l1} 16384"))],
        );
        let cow = format!("{}:{}", cow.0, cow.1);
        s.create(
            "origin",
            Some("RSTREE-origin"),
            &[Target::new(0, 32768, "snapshot-origin", &base)],
        );
        let snap = s.create(
            "snap",
            Some("RSTREE-snap"),
            &[Target::new(
                0,
                32768,
                "snapshot",
                format!("{base} {cow} P 8"),
            )],
        );
        let snap = format!("{}:{}", snap.0, snap.1);
        let top = s.create(
            "top",
            Some("LVM-RSTREE-top"),
            &[Target::new(0, 32768, "linear", format!("{snap} 0"))],
        );
        let top = format!("{}:{}", top.0, top.1);
        let key = "0".repeat(64);
        s.create(
            "crypt",
            None,
            &[Target::new(
                0,
                32768,
                "crypt",
                format!("aes-xts-plain64 {key} 0 {top} 0"),
            )],
        );
        s
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, n, _) in self.devs.iter().rev() {
            let _ = self.dm.remove(
                &DevId::Name(n.clone()),
                RemoveOptions {
                    deferred: false,
                    retry: true,
                    ..Default::default()
                },
            );
        }
    }
}

fn label(t: &Tree<'_>, id: NodeId) -> String {
    let n = t.node(id).unwrap();
    if id == t.root() {
        "<root>".to_string()
    } else if n.name().is_empty() {
        format!("<{}:{}>", n.devno().0, n.devno().1)
    } else {
        String::from_utf8_lossy(n.name()).into_owned()
    }
}

fn labels(t: &Tree<'_>, id: NodeId, inverted: bool) -> Vec<String> {
    t.children(id, inverted)
        .iter()
        .map(|&c| label(t, c))
        .collect()
}

/// `dmsetup ls --tree -o ascii,notrunc[,inverted][,uuid,...]`, drawn from a
/// tree the way dmsetup draws it (non-compact, no truncation).
fn draw(t: &Tree<'_>, inverted: bool, attrs: bool) -> String {
    fn walk(
        t: &Tree<'_>,
        id: NodeId,
        depth: usize,
        inv: bool,
        attrs: bool,
        more: &mut Vec<bool>,
        out: &mut String,
    ) {
        let kids = t.children(id, inv);
        for (i, &c) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            let has = t.num_children(c, inv) > 0;
            if depth + 2 > 100 {
                continue;
            }
            if more.len() <= depth {
                more.resize(depth + 1, false);
            }
            more[depth] = !last;
            for d in 0..depth {
                out.push(' ');
                out.push_str(if d + 1 == depth {
                    if more[depth] {
                        "|-"
                    } else {
                        "`-"
                    }
                } else if more[d + 1] {
                    "| "
                } else {
                    "  "
                });
            }
            let n = t.node(c).unwrap();
            out.push_str(&String::from_utf8_lossy(n.name()));
            out.push_str(&format!(" ({}:{})", n.devno().0, n.devno().1));
            let i = n.info();
            if attrs && i.exists != 0 {
                out.push_str(&format!(
                    " [{}, {}, {}, {}]",
                    if i.suspended != 0 {
                        "SUSPENDED"
                    } else {
                        "ACTIVE"
                    },
                    if i.read_only != 0 { "RO" } else { "RW" },
                    i.open_count,
                    String::from_utf8_lossy(n.uuid())
                ));
            }
            out.push('\n');
            if has {
                walk(t, c, depth + 1, inv, attrs, more, out);
            }
        }
    }
    let mut out = String::new();
    walk(t, t.root(), 0, inverted, attrs, &mut Vec::new(), &mut out);
    out
}

/// The tree of every device of the system, added in LIST order (as dmsetup
/// adds them).
fn whole_tree(dm: &DeviceMapper) -> Tree<'_> {
    let mut t = Tree::new(dm.context());
    for d in dm.list_devices().unwrap() {
        t.add_dev(d.major, d.minor).unwrap();
    }
    t
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM"]
fn stack_structure() {
    let _g = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::build();
    let mut t = Tree::new(s.dm.context());
    let (cm, cn) = s.dev("crypt");
    let crypt = t.add_dev(cm, cn).unwrap();
    let (om, on) = s.dev("origin");
    let origin = t.add_dev(om, on).unwrap();
    let find = |t: &Tree<'_>, tag: &str| {
        let (a, b) = s.dev(tag);
        t.find_node(a, b).unwrap()
    };
    let (top, snap, base, cow) = (
        find(&t, "top"),
        find(&t, "snap"),
        find(&t, "base"),
        find(&t, "cow"),
    );
    let l0 = t.find_node(s.loops[0].major, s.loops[0].minor).unwrap();
    let l1 = t.find_node(s.loops[1].major, s.loops[1].minor).unwrap();
    // 6 dm devices, 2 loops, the root
    assert_eq!(t.len(), 9);
    assert_eq!(t.node(crypt).unwrap().name(), &s.name("crypt")[..]);
    assert_eq!(t.node(crypt).unwrap().uuid(), b"");
    assert_eq!(labels(&t, t.root(), false).len(), 2);
    assert_eq!(t.children(t.root(), false), [crypt, origin]);
    assert_eq!(t.children(crypt, false), [top]);
    assert_eq!(t.children(top, false), [snap]);
    let mut snap_kids = t.children(snap, false).to_vec();
    snap_kids.sort();
    let mut want = vec![base, cow];
    want.sort();
    assert_eq!(snap_kids, want);
    assert_eq!(t.children(cow, false), [l1]);
    let mut base_kids = t.children(base, false).to_vec();
    base_kids.sort();
    let mut want = vec![l0, l1];
    want.sort();
    assert_eq!(base_kids, want);
    // the loops are leaves: only the root below them, name and uuid empty
    for l in [l0, l1] {
        let n = t.node(l).unwrap();
        assert_eq!(n.info().exists, 0);
        assert_eq!(n.name(), b"");
        assert_eq!(t.children(l, false), [t.root()]);
        assert_eq!(t.num_children(l, false), 0);
        assert!(n.is_implicit());
        assert_eq!(n.udev_flags(), 0x0e);
    }
    // users
    assert_eq!(t.num_children(l1, true), 2);
    assert_eq!(t.num_children(base, true), 2);
    assert_eq!(t.num_children(crypt, true), 0);
    assert_eq!(t.children(crypt, true), [t.root()]);
    let mut bottom = t.children(t.root(), true).to_vec();
    bottom.sort();
    let mut want = vec![l0, l1];
    want.sort();
    assert_eq!(bottom, want);
    // kernel info of the mapped devices
    for id in [crypt, top, snap, base, cow, origin] {
        let n = t.node(id).unwrap();
        assert_eq!(n.info().exists, 1, "{}", label(&t, id));
        assert_eq!(n.info().live_table, 1);
        assert_eq!(n.info().target_count, if id == base { 2 } else { 1 });
        assert_eq!(n.size_changed(), 0);
    }
    // open counts: each device is held open by its users
    let opens = |id| t.node(id).unwrap().info().open_count;
    assert_eq!(
        (opens(crypt), opens(top), opens(snap), opens(cow)),
        (0, 1, 1, 1)
    );
    assert_eq!(opens(base), 2);
    // uuid lookups: exact, without the default prefix, without a suffix
    let pid = std::process::id();
    assert_eq!(
        t.find_node_by_uuid(format!("RSTREE-snap-{pid}").as_bytes()),
        Some(snap)
    );
    assert_eq!(
        t.find_node_by_uuid(format!("LVM-RSTREE-snap-{pid}").as_bytes()),
        Some(snap)
    );
    assert_eq!(
        t.find_node_by_uuid(format!("LVM-RSTREE-top-{pid}").as_bytes()),
        Some(top)
    );
    assert_eq!(
        t.find_node_by_uuid(format!("RSTREE-top-{pid}").as_bytes()),
        None
    );
    assert_eq!(
        t.find_node_by_uuid(format!("RSTREE-snap-{pid}-real").as_bytes()),
        None
    );
    t.set_optional_uuid_suffixes(vec![b"real".to_vec()]);
    assert_eq!(
        t.find_node_by_uuid(format!("RSTREE-snap-{pid}-real").as_bytes()),
        Some(snap)
    );
    // prefixes
    assert!(t.children_use_uuid(top, Some(b"RSTREE-snap"), 11));
    assert!(!t.children_use_uuid(crypt, Some(b"RSTREE"), 6));
    assert!(t.children_use_uuid(crypt, Some(b"LVM-RSTREE"), 10));
    // udev flags: explicit nodes keep theirs, dependencies get the
    // "no rules" flags; adding a dependency explicitly resets them
    assert_eq!(t.node(crypt).unwrap().udev_flags(), 0);
    assert_eq!(t.node(snap).unwrap().udev_flags(), 0x0e);
    let (bm, bn) = s.dev("cow");
    assert_eq!(t.add_dev_with_udev_flags(bm, bn, 0x100).unwrap(), cow);
    assert_eq!(t.node(cow).unwrap().udev_flags(), 0x100);
    assert!(!t.node(cow).unwrap().is_implicit());
    // still where it was: it has a user, so not on the top level
    assert_eq!(t.children(t.root(), false), [crypt, origin]);
    // a number that is not a device: the DEPS ioctl fails, the tree stays
    let e = t.add_dev(cm, 1_048_000).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.notes()
            .iter()
            .any(|n| n == &format!("_deps: task run failed for ({cm}:1048000)")),
        "{:?}",
        e.notes()
    );
    assert_eq!(t.len(), 9);
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM"]
fn same_tree_as_stock_dmsetup() {
    let _g = STACK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let s = Stack::build();
    for (opts, inverted, attrs) in [
        ("ascii,notrunc", false, false),
        ("ascii,notrunc,inverted", true, false),
        ("ascii,notrunc,active,rw,open,uuid", false, true),
        ("ascii,notrunc,inverted,active,rw,open,uuid", true, true),
    ] {
        let out = Command::new("dmsetup")
            .args(["ls", "--tree", "-o", opts])
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("LD_PRELOAD")
            .output()
            .expect("dmsetup (stock) must be installed in the test VM");
        assert!(
            out.status.success(),
            "dmsetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stock = String::from_utf8_lossy(&out.stdout).into_owned();
        let ours = draw(&whole_tree(&s.dm), inverted, attrs);
        assert_eq!(ours, stock, "dmsetup ls --tree -o {opts}");
        for tag in ["base", "cow", "origin", "snap", "top", "crypt"] {
            assert!(stock.contains(&String::from_utf8_lossy(&s.name(tag)).into_owned()));
        }
        println!("-o {opts}:\n{stock}");
    }
}
