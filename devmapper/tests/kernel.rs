//! Integration tests of the typed Rust API against a real kernel.
//!
//! They need root and a kernel with device-mapper, so they are `#[ignore]`d
//! on a normal `cargo test` (reported as ignored, never as passed) and run
//! inside the test VM (`vm/tests.sh` passes `--include-ignored`). Every
//! device name starts with `rstest-` and is removed at the end of its test,
//! also on failure.

use devmapper::{
    DevId, DeviceMapper, DmName, DmUuid, ErrorKind, RemoveOptions, SuspendOptions, Target,
};
use std::process::Command;
use std::sync::Mutex;

/// Removes the named devices (in reverse order) when dropped.
struct Cleanup(Vec<DmName>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(dm) = DeviceMapper::new() {
            for n in self.0.iter().rev() {
                let _ = dm.remove(
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
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn id(n: &DmName) -> DevId {
    DevId::Name(n.clone())
}

static LOOP_LOCK: Mutex<()> = Mutex::new(());

/// A sparse file attached to a loop device; detached when dropped.
struct Loop {
    dev: String,
    file: String,
}

impl Loop {
    fn new(tag: &str, mib: u64) -> Loop {
        let _g = LOOP_LOCK.lock().unwrap();
        let file = format!("/tmp/rstest-{tag}-{}.img", std::process::id());
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
        Loop {
            dev: String::from_utf8(out.stdout).unwrap().trim().to_string(),
            file,
        }
    }

    fn sectors(&self) -> u64 {
        std::fs::metadata(&self.file).unwrap().len() / 512
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn name(t: &str) -> DmName {
    DmName::new(format!("rstest-{t}-{}", std::process::id())).unwrap()
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn version_and_targets() {
    let dm = DeviceMapper::new().unwrap();
    let v = dm.version().unwrap();
    assert_eq!(v[0], 4);
    let t = dm.target_versions().unwrap();
    assert!(t.iter().any(|t| t.name == "linear"), "{t:?}");
    let z = dm.target_version("zero").unwrap();
    assert_eq!(z.name, "zero");
    let e = dm.target_version("no-such-target").unwrap_err();
    assert!(e.errno().is_some());
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn zero_device_lifecycle() {
    let dm = DeviceMapper::new().unwrap();
    let n = name("zero");
    let _c = Cleanup(vec![n.clone()]);
    let id = id(&n);
    let uuid = DmUuid::new(format!("RSTEST-{n}")).unwrap();
    let info = dm
        .create_with_table(&n, Some(&uuid), &[Target::new(0, 2048, "zero", "")], false)
        .unwrap();
    assert!(info.live_table && !info.suspended);
    let i = dm.info(&id).unwrap();
    assert_eq!(i.name, n.as_bytes());
    assert_eq!(i.uuid, uuid.as_bytes());
    assert_eq!(i.target_count, 1);
    // The state alone is the info's state part.
    assert_eq!(dm.state(&id).unwrap(), i.state());
    assert!(dm.exists(&id).unwrap());
    assert_eq!(
        dm.table(&id, false).unwrap(),
        vec![Target::new(0, 2048, "zero", "")]
    );
    let st = dm.status(&id, false).unwrap();
    assert_eq!(st[0].target_type, "zero");
    let by_uuid = dm.info(&DevId::Uuid(uuid.clone())).unwrap();
    assert_eq!(by_uuid.minor, i.minor);
    let by_dev = dm.info(&DevId::Dev(i.major, i.minor)).unwrap();
    assert_eq!(by_dev.name, n.as_bytes());
    let listed = dm.list_devices().unwrap();
    let me = listed
        .iter()
        .find(|d| d.name == n.as_bytes())
        .expect("listed");
    assert_eq!((me.major, me.minor), (i.major, i.minor));
    if dm.version().unwrap()[1] >= 45 {
        assert_eq!(me.uuid.as_deref(), Some(uuid.as_bytes()));
    }
    // suspend / resume
    let s = dm
        .suspend(
            &id,
            SuspendOptions {
                noflush: true,
                skip_lockfs: true,
            },
        )
        .unwrap();
    assert!(s.suspended);
    assert!(!dm.resume(&id).unwrap().suspended);
    // rename and back (before the clear below: Debian's 6.1.0-56 kernel
    // double-frees in dm-ima when a device is renamed after a table clear
    // and then removed; stock dmsetup triggers it too)
    let n2 = DmName::new(format!("{n}-renamed")).unwrap();
    dm.rename(&id, &n2).unwrap();
    assert!(dm.info(&DevId::Name(n2.clone())).is_ok());
    dm.rename(&DevId::Name(n2), &n).unwrap();
    // inactive table, then clear it
    dm.load_table(&id, &[Target::new(0, 1024, "error", "")], false)
        .unwrap();
    assert!(dm.info(&id).unwrap().inactive_table);
    assert_eq!(dm.table(&id, true).unwrap()[0].target_type, "error");
    dm.clear_table(&id).unwrap();
    assert!(!dm.info(&id).unwrap().inactive_table);
    // geometry
    dm.set_geometry(&id, 1, 64, 32, 0).unwrap();
    // message (dm-stats is in dm core for every target)
    dm.target_message(&id, 0, b"@stats_create - /1").unwrap();
    let r = dm.target_message(&id, 0, b"@stats_list").unwrap();
    assert!(contains(&r.unwrap_or_default(), b"0: "), "stats list");
    dm.remove(&id, RemoveOptions::default()).unwrap();
    let e = dm.info(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.errno(), Some(libc::ENXIO));
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn linear_striped_error_on_loop() {
    let dm = DeviceMapper::new().unwrap();
    let a = Loop::new("lin-a", 8);
    let b = Loop::new("lin-b", 8);
    let (lin, st, err) = (name("linear"), name("striped"), name("error"));
    let _c = Cleanup(vec![lin.clone(), st.clone(), err.clone()]);
    let half = a.sectors() / 2;
    dm.create_with_table(
        &lin,
        None,
        &[
            Target::new(0, half, "linear", format!("{} 0", a.dev)),
            Target::new(half, half, "linear", format!("{} {half}", b.dev)),
        ],
        false,
    )
    .unwrap();
    let t = dm.table(&id(&lin), false).unwrap();
    assert_eq!(t.len(), 2);
    let deps = dm.deps(&id(&lin), false).unwrap();
    assert_eq!(deps.len(), 2);
    dm.create_with_table(
        &st,
        None,
        &[Target::new(
            0,
            2 * 4096,
            "striped",
            format!("2 128 {} 0 {} 0", a.dev, b.dev),
        )],
        false,
    )
    .unwrap();
    assert_eq!(dm.table(&id(&st), false).unwrap()[0].target_type, "striped");
    dm.create_with_table(&err, None, &[Target::new(0, 100, "error", "")], true)
        .unwrap();
    assert!(dm.info(&id(&err)).unwrap().read_only);
    // reading the error device fails with EIO
    let mut f = std::fs::File::open(format!("/dev/mapper/{err}")).or_else(|_| {
        let i = dm.info(&id(&err)).unwrap();
        std::fs::File::open(format!("/dev/dm-{}", i.minor))
    });
    if let Ok(f) = f.as_mut() {
        use std::io::Read;
        let mut buf = [0u8; 512];
        assert!(f.read(&mut buf).is_err());
    }
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn failed_load_rolls_back_create() {
    let dm = DeviceMapper::new().unwrap();
    let n = name("rollback");
    let _c = Cleanup(vec![n.clone()]);
    let e = dm
        .create_with_table(
            &n,
            None,
            &[Target::new(0, 8, "linear", "/dev/does-not-exist 0")],
            false,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Kernel);
    assert_eq!(dm.info(&id(&n)).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn crypt_table_and_key_message() {
    let dm = DeviceMapper::new().unwrap();
    let l = Loop::new("crypt", 4);
    let n = name("crypt");
    let _c = Cleanup(vec![n.clone()]);
    let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    dm.create_with_table(
        &n,
        None,
        &[Target::new(
            0,
            l.sectors(),
            "crypt",
            format!("aes-xts-plain64 {key} 0 {} 0", l.dev),
        )],
        false,
    )
    .unwrap();
    let id = id(&n);
    let t = dm.table(&id, false).unwrap();
    assert_eq!(t[0].target_type, "crypt");
    assert!(contains(t[0].params.as_bytes(), key.as_bytes()));
    assert!(!format!("{:?}", t[0]).contains(key));
    dm.suspend(&id, SuspendOptions::default()).unwrap();
    dm.target_message(&id, 0, b"key wipe").unwrap();
    dm.target_message(&id, 0, format!("key set {key}").as_bytes())
        .unwrap();
    dm.resume(&id).unwrap();
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn snapshot_of_linear() {
    let dm = DeviceMapper::new().unwrap();
    let origin_dev = Loop::new("snap-o", 4);
    let cow = Loop::new("snap-c", 4);
    let (o, s) = (name("origin"), name("snap"));
    let _c = Cleanup(vec![o.clone(), s.clone()]);
    let len = origin_dev.sectors();
    dm.create_with_table(
        &o,
        None,
        &[Target::new(
            0,
            len,
            "snapshot-origin",
            origin_dev.dev.clone(),
        )],
        false,
    )
    .unwrap();
    dm.create_with_table(
        &s,
        None,
        &[Target::new(
            0,
            len,
            "snapshot",
            format!("{} {} P 8", origin_dev.dev, cow.dev),
        )],
        false,
    )
    .unwrap();
    let st = dm.status(&id(&s), false).unwrap();
    assert_eq!(st[0].target_type, "snapshot");
    assert!(
        st[0].status.contains(&b'/'),
        "snapshot usage: {}",
        String::from_utf8_lossy(&st[0].status)
    );
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn thin_pool_and_thin() {
    let dm = DeviceMapper::new().unwrap();
    let meta = Loop::new("tmeta", 8);
    let data = Loop::new("tdata", 16);
    let (p, t) = (name("pool"), name("thin"));
    let _c = Cleanup(vec![p.clone(), t.clone()]);
    // zero the metadata device's first block
    std::fs::write(&meta.dev, vec![0u8; 4096]).unwrap();
    dm.create_with_table(
        &p,
        None,
        &[Target::new(
            0,
            data.sectors(),
            "thin-pool",
            format!("{} {} 128 0", meta.dev, data.dev),
        )],
        false,
    )
    .unwrap();
    let pid = id(&p);
    dm.target_message(&pid, 0, b"create_thin 0").unwrap();
    let pi = dm.info(&pid).unwrap();
    dm.create_with_table(
        &t,
        None,
        &[Target::new(
            0,
            8192,
            "thin",
            format!("{}:{} 0", pi.major, pi.minor),
        )],
        false,
    )
    .unwrap();
    let st = dm.status(&pid, false).unwrap();
    assert_eq!(st[0].target_type, "thin-pool");
    assert_eq!(dm.status(&id(&t), false).unwrap()[0].target_type, "thin");
    // a thin-pool message the kernel rejects reports its errno
    let e = dm.target_message(&pid, 0, b"create_thin 0").unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST));
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn mirror_with_core_log() {
    let dm = DeviceMapper::new().unwrap();
    let a = Loop::new("mir-a", 4);
    let b = Loop::new("mir-b", 4);
    let m = name("mirror");
    let _c = Cleanup(vec![m.clone()]);
    let len = a.sectors();
    dm.create_with_table(
        &m,
        None,
        &[Target::new(
            0,
            len,
            "mirror",
            format!("core 1 1024 2 {} 0 {} 0", a.dev, b.dev),
        )],
        false,
    )
    .unwrap();
    let st = dm.status(&id(&m), false).unwrap();
    assert_eq!(st[0].target_type, "mirror");
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn wait_event_returns_after_an_event() {
    let dm = DeviceMapper::new().unwrap();
    let n = name("wait");
    let _c = Cleanup(vec![n.clone()]);
    let id = id(&n);
    dm.create_with_table(&n, None, &[Target::new(0, 8, "zero", "")], false)
        .unwrap();
    let ev = dm.info(&id).unwrap().event_nr;
    // An already-different event number returns at once.
    let (i, _) = dm.wait_event(&id, ev.wrapping_add(1000)).unwrap();
    assert_eq!(i.event_nr, ev);
    assert_eq!(i.name, n.as_bytes());
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn bad_input_is_rejected_before_the_kernel() {
    let dm = DeviceMapper::new().unwrap();
    assert_eq!(
        DmName::new("x".repeat(128)).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        DmUuid::new("u".repeat(129)).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let e = dm
        .load_table(
            &DevId::name("rstest-none").unwrap(),
            &[Target::new(0, 8, "a-very-long-target-type", "")],
            false,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    // A tiny buffer cap makes a normal reply "too large", with no state left.
    let small = DeviceMapper::new().unwrap().with_buffer_cap(400);
    assert_eq!(
        small.target_versions().unwrap_err().kind(),
        ErrorKind::ReplyTooLarge
    );
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn deviceless_messages() {
    let dm = DeviceMapper::new().unwrap();
    if std::env::var("DM_DEVICELESS").as_deref() == Ok("1") {
        // The kernel carries our patched dm-mod (kernel-patch/).
        assert_eq!(
            dm.deviceless_message("linear", b"%Hello")
                .unwrap()
                .as_deref(),
            Some(&b"World!"[..])
        );
        assert_eq!(
            dm.deviceless_message("linear", b"%Bye")
                .unwrap_err()
                .errno(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            dm.deviceless_message("zero", b"%Hello")
                .unwrap_err()
                .errno(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            dm.deviceless_message("nosuchtarget", b"%Hello")
                .unwrap_err()
                .errno(),
            Some(libc::EINVAL)
        );
    } else {
        let e = dm.deviceless_message("linear", b"%Hello").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(
            e.to_string()
                .contains("kernel does not support deviceless messages (target 'linear')"),
            "{e}"
        );
    }
    assert_eq!(
        dm.deviceless_message("linear", b"Hello")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn threads_share_the_control_device() {
    let dm = DeviceMapper::new().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let dm = dm.clone();
            std::thread::spawn(move || {
                let n = name(&format!("thr{i}"));
                let _c = Cleanup(vec![n.clone()]);
                for _ in 0..5 {
                    dm.create_with_table(&n, None, &[Target::new(0, 8, "zero", "")], false)
                        .unwrap();
                    assert_eq!(dm.info(&id(&n)).unwrap().name, n.as_bytes());
                    dm.remove(
                        &id(&n),
                        RemoveOptions {
                            deferred: false,
                            retry: true,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn device_handle_lifecycle_and_nodes() {
    use devmapper::CreateOptions;
    let dm = DeviceMapper::new().unwrap();
    let n = name("handle");
    let _c = Cleanup(vec![n.clone()]);
    let mut dev = dm
        .create_device(
            &n,
            &CreateOptions::default(),
            &[Target::new(0, 64, "zero", "")],
        )
        .unwrap();
    // The node exists when create returns (made by udev, or by the library).
    let p = dev.path().unwrap();
    assert!(p.exists(), "{p:?}");
    dev.replace_table(&[Target::new(0, 128, "zero", "")])
        .unwrap();
    assert_eq!(dev.table().unwrap()[0].length, 128);
    assert!(!dev.info().unwrap().suspended);
    let n2 = DmName::new(format!("{n}-b")).unwrap();
    let _c2 = Cleanup(vec![n2.clone()]);
    dev.rename(&n2).unwrap();
    assert!(dev.path().unwrap().exists());
    assert!(!p.exists(), "old node {p:?} left behind");
    dev.rename(&n).unwrap();
    dev.remove(RemoveOptions::default()).unwrap();
    assert!(!p.exists(), "node {p:?} left behind");
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn names_with_bytes_udev_cannot_take_are_mangled_for_nodes() {
    let dm = DeviceMapper::new().unwrap();
    let n = DmName::new(format!("rstest-sp ace\u{e9}-{}", std::process::id())).unwrap();
    let _c = Cleanup(vec![n.clone()]);
    dm.create_with_table(&n, None, &[Target::new(0, 8, "zero", "")], false)
        .unwrap();
    // The kernel knows the mangled name; the API speaks the real one.
    let i = dm.info(&id(&n)).unwrap();
    assert_eq!(i.name, n.as_bytes());
    let node = format!(
        "/dev/mapper/rstest-sp\\x20ace\\xc3\\xa9-{}",
        std::process::id()
    );
    assert!(
        std::path::Path::new(&node).exists(),
        "node {node} (libdm's mangled name)"
    );
    assert_eq!(
        dm.device(id(&n)).path().unwrap().to_str(),
        Some(node.as_str())
    );
    dm.remove(&id(&n), RemoveOptions::default()).unwrap();
    assert!(!std::path::Path::new(&node).exists());
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn big_tables_are_read_in_few_ioctls() {
    use devmapper::task::{Task, TaskType};
    let dm = DeviceMapper::new().unwrap();
    let n = name("big");
    let _c = Cleanup(vec![n.clone()]);
    let table: Vec<Target> = (0..20_000u64)
        .map(|i| Target::new(i * 8, 8, "zero", ""))
        .collect();
    dm.create_with_table(&n, None, &table, false).unwrap();
    let ctx = dm.context();
    for (ty, what) in [(TaskType::Table, "table"), (TaskType::Status, "status")] {
        let mut t = Task::new(ty as i32);
        t.set_name(ctx, n.as_bytes()).unwrap();
        t.run(ctx).unwrap();
        assert_eq!(t.reply_targets().count(), 20_000, "{what}");
        let attempts = t.reply.as_ref().unwrap().attempts;
        // First buffer, then one sized from what the kernel said (not a
        // dozen doublings).
        assert!(attempts <= 2, "{what}: {attempts} ioctls");
    }
    assert_eq!(dm.table(&id(&n), false).unwrap().len(), 20_000);
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn borrowed_replies_match_the_copying_calls() {
    use devmapper::{ListedDeviceRef, TargetRef, TargetStatusRef};
    let dm = DeviceMapper::new().unwrap();
    let base = name("lend-base");
    let a = name("lend-a");
    // A name udev cannot take: listed unmangled by both calls.
    let b = DmName::new(format!("rstest-lend b-{}", std::process::id())).unwrap();
    let _c = Cleanup(vec![base.clone(), a.clone(), b.clone()]);
    dm.create_with_table(&base, None, &[Target::new(0, 64, "zero", "")], false)
        .unwrap();
    let bi = dm.info(&id(&base)).unwrap();
    // A multi-target table, with a crypt line (key in the parameters).
    let key = "aes-cbc-essiv:sha256 0123456789abcdef0123456789abcdef";
    let table = vec![
        Target::new(0, 8, "linear", format!("{}:{} 0", bi.major, bi.minor)),
        Target::new(8, 8, "zero", ""),
        Target::new(
            16,
            8,
            "crypt",
            format!("{key} 0 {}:{} 8", bi.major, bi.minor),
        ),
        Target::new(24, 8, "error", ""),
    ];
    let uuid = DmUuid::new(format!("RSTEST-LEND-{}", std::process::id())).unwrap();
    dm.create_with_table(&a, Some(&uuid), &table, false)
        .unwrap();
    dm.create_with_table(&b, None, &[Target::new(0, 8, "zero", "")], false)
        .unwrap();

    // Table: the borrowed lines are the copied ones.
    let copied = dm.table(&id(&a), false).unwrap();
    let reply = dm.table_reply(&id(&a), false).unwrap();
    assert_eq!(reply.len(), 4);
    let lent: Vec<TargetRef<'_>> = reply.iter().collect();
    assert_eq!(lent.len(), copied.len());
    for (l, c) in lent.iter().zip(&copied) {
        assert_eq!(l.to_target().unwrap(), *c);
        assert_eq!((l.start, l.length), (c.start, c.length));
        assert_eq!(l.target_type, c.target_type.as_bytes());
        assert_eq!(l.params, c.params.as_bytes());
    }
    assert_eq!(lent[2].target_type, b"crypt");
    assert!(contains(lent[2].params, b"0123456789abcdef"));
    assert!(!format!("{reply:?}").contains("0123456789abcdef"));
    assert_eq!(reply.info().target_count, 4);
    drop(reply);

    // Status.
    let copied = dm.status(&id(&a), false).unwrap();
    let reply = dm.status_reply(&id(&a), false).unwrap();
    let lent: Vec<TargetStatusRef<'_>> = reply.iter().collect();
    assert_eq!(lent.len(), 4);
    assert_eq!(
        lent.iter().map(|s| s.to_status()).collect::<Vec<_>>(),
        copied
    );
    assert_eq!(lent[3].target_type, b"error");

    // Dependencies: read in the reply, as deps() copies them (the linear
    // and crypt lines both sit on the base: one device).
    let copied = dm.deps(&id(&a), false).unwrap();
    assert_eq!(copied, vec![(bi.major, bi.minor)]);
    let reply = dm.deps_reply(&id(&a), false).unwrap();
    assert_eq!(reply.iter().collect::<Vec<_>>(), copied);
    assert_eq!(
        (reply.len(), reply.get(0), reply.get(1)),
        (1, Some((bi.major, bi.minor)), None)
    );
    assert_eq!(reply.info().target_count, 4);
    let reply = dm.deps_reply(&id(&b), false).unwrap();
    assert!(reply.is_empty());
    assert_eq!(reply.iter().next(), None);

    // A message's response: borrowed, as target_message() copies it.
    let r = dm
        .target_message_reply(&id(&b), 0, b"@stats_create - /1")
        .unwrap();
    assert!(r.response().is_some_and(|t| !t.is_empty()), "{r:?}");
    let copied = dm.target_message(&id(&b), 0, b"@stats_list").unwrap();
    let reply = dm.target_message_reply(&id(&b), 0, b"@stats_list").unwrap();
    assert_eq!(reply.response(), copied.as_deref());
    assert!(contains(reply.response().unwrap(), b"0: "));
    // A message that answers nothing to print (dm-stats still sets
    // DM_DATA_OUT_FLAG with an empty text): the same either way.
    let copied = dm.target_message(&id(&b), 0, b"@stats_clear 0").unwrap();
    let reply = dm
        .target_message_reply(&id(&b), 0, b"@stats_clear 0")
        .unwrap();
    assert_eq!(reply.response(), copied.as_deref());

    // The device list: this test's devices, same order, same fields. The
    // other tests run at the same time and create and remove theirs between
    // the two calls, so only our own names are compared.
    let ours = |n: &[u8]| n.starts_with(b"rstest-lend");
    let copied: Vec<_> = dm
        .list_devices()
        .unwrap()
        .into_iter()
        .filter(|d| ours(&d.name))
        .collect();
    assert_eq!(copied.len(), 3, "{copied:?}");
    let reply = dm.list_reply().unwrap();
    let lent: Vec<ListedDeviceRef<'_>> = reply.iter().filter(|d| ours(d.name())).collect();
    assert_eq!(
        lent.iter().map(|d| d.to_listed()).collect::<Vec<_>>(),
        copied
    );
    for (l, c) in lent.iter().zip(&copied) {
        assert_eq!(l.name(), &c.name[..]);
        assert_eq!((l.major(), l.minor()), (c.major, c.minor));
        assert_eq!(l.event_nr(), c.event_nr);
        assert_eq!(l.uuid(), c.uuid.as_deref());
    }
    for n in [&base, &a, &b] {
        let d = lent
            .iter()
            .find(|d| d.name() == n.as_bytes())
            .unwrap_or_else(|| panic!("{n} listed"));
        let i = dm.info(&id(n)).unwrap();
        assert_eq!((d.major(), d.minor()), (i.major, i.minor));
        if dm.version().unwrap()[1] >= 45 {
            let want: &[u8] = if n == &a { uuid.as_bytes() } else { b"" };
            assert_eq!(d.uuid(), Some(want));
        }
    }
}
