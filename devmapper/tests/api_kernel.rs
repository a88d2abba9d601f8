//! The conveniences of the typed API against a real kernel: stacking with
//! device references (`DevRef::from_node`, `Device::dev_ref`), one target's
//! typed status (`status_of`), typed messages (thin-pool, crypt,
//! multipath, cache, writecache), udev flags on the typed options (seen in
//! the kernel's uevents), and the tree's typed device info.
//!
//! They need root, loop devices and a kernel with device-mapper, so they are
//! ignored by default and run in the test VM (`vm/tests.sh`, or
//! `vm/tests/rust-kernel.sh <test binary>`). Device names start with
//! `rsapi-`; everything is removed at the end of each test, also on failure.

use devmapper::targets::messages::{
    CacheMessage, CryptMessage, MultipathMessage, ThinPoolMessage, WritecacheMessage,
};
use devmapper::targets::*;
use devmapper::tree::Tree;
use devmapper::units::Sectors;
use devmapper::{
    CreateOptions, DevId, Device, DeviceMapper, DmName, ErrorKind, RemoveOptions, Secret,
    SuspendOptions, UdevFlags,
};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

/// Removes the named devices (last first) when dropped.
struct Cleanup(Vec<DmName>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(dm) = DeviceMapper::new() {
            for n in self.0.iter().rev() {
                let _ = dm.remove(
                    &DevId::Name(n.clone()),
                    RemoveOptions {
                        retry: true,
                        ..Default::default()
                    },
                );
            }
        }
    }
}

static LOOP_LOCK: Mutex<()> = Mutex::new(());

/// A sparse file on a loop device, detached when dropped.
struct Loop {
    path: String,
    file: String,
    dev: DevRef,
}

impl Loop {
    fn new(tag: &str, mib: u64) -> Loop {
        let file = format!("/tmp/rsapi-{tag}-{}.img", std::process::id());
        std::fs::File::create(&file)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        Loop::attach(&file)
    }

    fn attach(file: &str) -> Loop {
        let _g = LOOP_LOCK.lock().unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show", file])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let dev = DevRef::from_node(&path).unwrap();
        Loop {
            path,
            file: file.to_string(),
            dev,
        }
    }

    fn sectors(&self) -> Sectors {
        Sectors(std::fs::metadata(&self.file).unwrap().len() / 512)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.path]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn name(t: &str) -> DmName {
    DmName::new(format!("rsapi-{t}-{}", std::process::id())).unwrap()
}

fn has_target(dm: &DeviceMapper, t: &str) -> bool {
    dm.target_version(t).is_ok()
}

fn mib(n: u64) -> Sectors {
    Sectors::from_mib(n).unwrap()
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn stacking_with_device_references() {
    let dm = DeviceMapper::new().unwrap();
    let disk = Loop::new("stack", 8);
    // from_node agrees with the kernel: a linear device over it lists it as
    // its dependency.
    let (nl, nt) = (name("lower"), name("upper"));
    let _c = Cleanup(vec![nl.clone(), nt.clone()]);
    let opts = CreateOptions::default();
    let lower = dm
        .create_device(
            &nl,
            &opts,
            &Table::single(mib(8), LinearParams::new(disk.dev.clone(), Sectors(0))).unwrap(),
        )
        .unwrap();
    let DevRef::Number { major, minor } = disk.dev else {
        panic!("{:?}", disk.dev)
    };
    assert_eq!(lower.deps().unwrap(), [(major, minor)]);
    // The mapped device as a reference: by info, by node, by number.
    let r = lower.dev_ref().unwrap();
    assert_eq!(r, lower.info().unwrap().dev_ref().unwrap());
    assert_eq!(DevRef::from_node(lower.path().unwrap()).unwrap(), r);
    let i = lower.info().unwrap();
    assert_eq!(
        dm.device(DevId::Dev(i.major, i.minor)).dev_ref().unwrap(),
        r
    );
    let upper = dm
        .create_device(
            &nt,
            &opts,
            &Table::single(mib(4), LinearParams::new(r.clone(), mib(2))).unwrap(),
        )
        .unwrap();
    let DevRef::Number { major, minor } = r else {
        panic!("{r:?}")
    };
    assert_eq!(upper.deps().unwrap(), [(major, minor)]);
    // The tree gives the typed info of both mapped devices.
    let ui = upper.info().unwrap();
    let mut tree = Tree::new(dm.context());
    let top = tree.add_dev(ui.major, ui.minor).unwrap();
    let node = tree.node(top).unwrap();
    assert_eq!(node.device_info().unwrap(), ui);
    let low = tree.find_node(major, minor).unwrap();
    let li = tree.node(low).unwrap().device_info().unwrap();
    assert_eq!(li.name, nl.as_bytes());
    assert_eq!(li.open_count, 1);
    let (dmaj, dmin) = match disk.dev {
        DevRef::Number { major, minor } => (major, minor),
        _ => unreachable!(),
    };
    let leaf = tree.find_node(dmaj, dmin).unwrap();
    assert_eq!(tree.node(leaf).unwrap().device_info(), None);
    // A missing device has no reference.
    let gone = dm.device(DevId::Name(name("missing")));
    assert_eq!(gone.dev_ref().unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn thin_pool_messages_and_status_of() {
    let dm = DeviceMapper::new().unwrap();
    let (meta, data) = (Loop::new("tmeta", 8), Loop::new("tdata", 64));
    let (np, nt, nz) = (name("pool"), name("thin"), name("twozero"));
    let _c = Cleanup(vec![np.clone(), nt.clone(), nz.clone()]);
    let pool_params = ThinPoolParams {
        metadata_dev: meta.dev.clone(),
        data_dev: data.dev.clone(),
        block_size: Sectors(128),
        low_water_mark: 0,
        features: ThinPoolFeatures::default(),
    };
    let pool = dm
        .create_device(
            &np,
            &CreateOptions::default(),
            &Table::single(data.sectors(), pool_params).unwrap(),
        )
        .unwrap();
    let st = |pool: &Device| match pool.status_of::<ThinPoolStatus>().unwrap() {
        ThinPoolStatus::Ok(d) => d,
        s => panic!("{s:?}"),
    };
    assert_eq!(st(&pool).transaction_id, 0);

    pool.send(&ThinPoolMessage::CreateThin { dev_id: 0 })
        .unwrap();
    // The same id twice: the kernel refuses.
    let e = pool
        .send(&ThinPoolMessage::CreateThin { dev_id: 0 })
        .unwrap_err();
    assert_eq!(e.op(), Some("message"));
    pool.send(&ThinPoolMessage::SetTransactionId { current: 0, new: 1 })
        .unwrap();
    assert_eq!(st(&pool).transaction_id, 1);
    // A wrong current id is refused and changes nothing.
    assert!(pool
        .send(&ThinPoolMessage::SetTransactionId { current: 0, new: 5 })
        .is_err());
    assert_eq!(st(&pool).transaction_id, 1);

    // A volume on thin device 0, a snapshot of it, then everything deleted.
    let thin = dm
        .create_device(
            &nt,
            &CreateOptions::default(),
            &Table::single(
                mib(32),
                ThinParams {
                    pool: pool.dev_ref().unwrap(),
                    device_id: 0,
                    external_origin: None,
                },
            )
            .unwrap(),
        )
        .unwrap();
    match thin.status_of::<ThinStatus>().unwrap() {
        ThinStatus::Ok(d) => assert_eq!(d.mapped, Sectors(0)),
        s => panic!("{s:?}"),
    }
    thin.suspend(SuspendOptions::default()).unwrap();
    let r = pool.send(&ThinPoolMessage::CreateSnap {
        dev_id: 1,
        origin_id: 0,
    });
    thin.resume().unwrap();
    r.unwrap();

    pool.send(&ThinPoolMessage::ReserveMetadataSnap).unwrap();
    assert!(st(&pool).held_metadata_root.is_some());
    pool.send(&ThinPoolMessage::ReleaseMetadataSnap).unwrap();
    assert_eq!(st(&pool).held_metadata_root, None);

    // status_of on the wrong target type, and on a two-target table.
    let e = thin.status_of::<ThinPoolStatus>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.op(), Some("status"));
    assert_eq!(e.to_string(), "Expected a thin-pool target, found thin.");
    thin.remove(RemoveOptions::default()).unwrap();
    pool.send(&ThinPoolMessage::Delete { dev_id: 1 }).unwrap();
    pool.send(&ThinPoolMessage::Delete { dev_id: 0 }).unwrap();
    assert_eq!(st(&pool).used_data_blocks, 0);

    let mut t = Table::single(Sectors(8), Target::Zero).unwrap();
    t.push(Sectors(8), Target::Zero).unwrap();
    let two = dm
        .create_device(&nz, &CreateOptions::default(), &t)
        .unwrap();
    let e = two.status_of::<StripedStatus>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "Expected one striped target, found 2 targets."
    );
    // typed_status gives every line with its place.
    let lines = two.typed_status().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[1].start, lines[1].length), (Sectors(8), Sectors(8)));
    assert_eq!(lines[1].status, TargetStatusLine::Zero);
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn crypt_key_messages() {
    let dm = DeviceMapper::new().unwrap();
    let disk = Loop::new("crypt", 4);
    let n = name("crypt");
    let _c = Cleanup(vec![n.clone()]);
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    let key = CryptKey::Raw(Secret::from_reader(&mut urandom, 64).unwrap());
    let params = CryptParams::new(
        CipherSpec::new("aes", "xts", "plain64"),
        key.clone(),
        disk.dev.clone(),
        Sectors(0),
    );
    let dev = dm
        .create_device(
            &n,
            &CreateOptions::default(),
            &Table::single(disk.sectors(), params).unwrap(),
        )
        .unwrap();
    let key_now = |dev: &Device| match &dev.typed_table().unwrap().lines()[0].target {
        Target::Crypt(p) => p.key.clone(),
        t => panic!("{t:?}"),
    };
    assert_eq!(key_now(&dev), key);

    dev.suspend(SuspendOptions::default()).unwrap();
    dev.send(&CryptMessage::WipeKey).unwrap();
    assert!(dev.resume().is_err(), "resumed without a key");
    let other = CryptKey::Raw(Secret::from_reader(&mut urandom, 64).unwrap());
    dev.send(&CryptMessage::SetKey(&other)).unwrap();
    dev.resume().unwrap();
    assert_eq!(key_now(&dev), other);
    // A key of the wrong size is refused.
    dev.suspend(SuspendOptions::default()).unwrap();
    let short = CryptKey::Raw(Secret::zeroed(16));
    let e = dev.send(&CryptMessage::SetKey(&short)).unwrap_err();
    // The error names the operation, never the key.
    assert!(!format!("{e:?}").contains("00000000"), "{e:?}");
    dev.send(&CryptMessage::SetKey(&key)).unwrap();
    dev.resume().unwrap();
    assert_eq!(key_now(&dev), key);
    assert_eq!(
        dev.status_of::<StripedStatus>().unwrap_err().to_string(),
        "Expected a striped target, found crypt."
    );
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn multipath_cache_and_writecache_messages() {
    let dm = DeviceMapper::new().unwrap();
    if !has_target(&dm, "multipath") {
        eprintln!("skipped: no multipath target");
        return;
    }
    let a = Loop::new("mpath", 8);
    let b = Loop::attach(&a.file);
    let (nm, nc, nw) = (name("mpath"), name("cache"), name("wcache"));
    let _c = Cleanup(vec![nm.clone(), nc.clone(), nw.clone()]);
    let params = MultipathParams {
        features: Default::default(),
        hw_handler: None,
        initial_group: 1,
        groups: vec![PathGroup {
            selector: b"round-robin".to_vec(),
            selector_args: Vec::new(),
            path_args: 1,
            paths: [&a, &b]
                .iter()
                .map(|l| MultipathPath {
                    device: l.dev.clone(),
                    args: vec![b"1".to_vec()],
                })
                .collect(),
        }],
    };
    let mp = dm
        .create_device(
            &nm,
            &CreateOptions::default(),
            &Table::single(mib(8), params).unwrap(),
        )
        .unwrap();
    let active = |mp: &Device| -> Vec<bool> {
        mp.status_of::<MultipathStatus>().unwrap().groups[0]
            .paths
            .iter()
            .map(|p| p.active)
            .collect()
    };
    assert_eq!(active(&mp), [true, true]);
    mp.send(&MultipathMessage::FailPath(a.dev.clone())).unwrap();
    assert_eq!(active(&mp), [false, true]);
    mp.send(&MultipathMessage::ReinstatePath(a.dev.clone()))
        .unwrap();
    assert_eq!(active(&mp), [true, true]);
    mp.send(&MultipathMessage::DisableGroup(1)).unwrap();
    assert_eq!(
        mp.status_of::<MultipathStatus>().unwrap().groups[0].state,
        PathGroupState::Disabled
    );
    mp.send(&MultipathMessage::EnableGroup(1)).unwrap();
    mp.send(&MultipathMessage::SwitchGroup(1)).unwrap();
    // The table line shows the current queue_if_no_path setting.
    let queues = |mp: &Device| match &mp.typed_table().unwrap().lines()[0].target {
        Target::Multipath(p) => p.features.queue_if_no_path,
        t => panic!("{t:?}"),
    };
    assert!(!queues(&mp));
    mp.send(&MultipathMessage::QueueIfNoPath).unwrap();
    assert!(queues(&mp));
    mp.send(&MultipathMessage::FailIfNoPath).unwrap();
    assert!(!queues(&mp));
    // A group that does not exist.
    assert!(mp.send(&MultipathMessage::SwitchGroup(7)).is_err());
    mp.remove(RemoveOptions::default()).unwrap();
    drop(b);

    let (meta, fast, slow) = (
        Loop::new("cmeta", 8),
        Loop::new("cfast", 16),
        Loop::new("cslow", 32),
    );
    let cache = CacheParams {
        metadata_dev: meta.dev.clone(),
        cache_dev: fast.dev.clone(),
        origin_dev: slow.dev.clone(),
        block_size: Sectors(128),
        features: CacheFeatures(vec![CacheFeature::IoMode(CacheIoMode::Writethrough)]),
        policy: b"smq".to_vec(),
        policy_args: Vec::new(),
    };
    let c = dm
        .create_device(
            &nc,
            &CreateOptions::default(),
            &Table::single(slow.sectors(), cache).unwrap(),
        )
        .unwrap();
    c.send(&CacheMessage::MigrationThreshold(8192)).unwrap();
    c.send(&CacheMessage::Config {
        key: b"migration_threshold".to_vec(),
        value: b"4096".to_vec(),
    })
    .unwrap();
    let threshold = |c: &Device| match c.status_of::<CacheStatus>().unwrap() {
        CacheStatus::Ok(d) => d
            .core_args
            .iter()
            .find(|(k, _)| k == b"migration_threshold")
            .map(|(_, v)| v.clone()),
        s => panic!("{s:?}"),
    };
    assert_eq!(threshold(&c), Some(b"4096".to_vec()));
    // Invalidation needs passthrough mode: refused here.
    assert!(c
        .send(&CacheMessage::InvalidateCblocks(vec![
            messages::CblockRange {
                begin: 0,
                end: Some(1)
            }
        ]))
        .is_err());
    c.remove(RemoveOptions::default()).unwrap();

    if !has_target(&dm, "writecache") {
        eprintln!("writecache part skipped: no writecache target");
        return;
    }
    let wc_disk = Loop::new("wcache", 16);
    let params = WritecacheParams {
        mode: WritecacheMode::Ssd,
        origin: slow.dev.clone(),
        cache: wc_disk.dev.clone(),
        block_size: 4096,
        options: Default::default(),
    };
    let w = dm
        .create_device(
            &nw,
            &CreateOptions::default(),
            &Table::single(slow.sectors(), params).unwrap(),
        )
        .unwrap();
    for m in [
        WritecacheMessage::Flush,
        WritecacheMessage::FlushOnSuspend,
        WritecacheMessage::ClearStats,
        WritecacheMessage::Cleaner,
    ] {
        w.send(&m).unwrap_or_else(|e| panic!("{m:?}: {e}"));
    }
    let s = w.status_of::<WritecacheStatus>().unwrap();
    assert_eq!(s.free_blocks, s.total_blocks);
}

/// `udevadm monitor --kernel --property` for the block subsystem: every
/// uevent's properties, one event (a map) per message on the channel.
struct Monitor {
    child: Child,
    rx: mpsc::Receiver<Vec<(String, String)>>,
}

impl Monitor {
    fn start() -> Option<Monitor> {
        let mut child = Command::new("udevadm")
            .args([
                "monitor",
                "--kernel",
                "--property",
                "--subsystem-match=block",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let out = child.stdout.take()?;
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ev: Vec<(String, String)> = Vec::new();
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("monitor will print") {
                    let _ = ready_tx.send(());
                }
                if line.is_empty() {
                    if !ev.is_empty() && tx.send(std::mem::take(&mut ev)).is_err() {
                        break;
                    }
                } else if let Some((k, v)) = line.split_once('=') {
                    ev.push((k.to_string(), v.to_string()));
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(20)).ok()?;
        Some(Monitor { child, rx })
    }

    /// Make sure the monitor listens: ask the kernel for a synthetic
    /// `change` uevent of `devno` (through sysfs) until one arrives.
    /// (udevadm may print its header before its socket is bound.)
    fn sync(&self, (major, minor): (u32, u32)) {
        let trigger = format!("/sys/dev/block/{major}:{minor}/uevent");
        let uuid = "5eed5eed-0000-4000-8000-000000000001";
        for _ in 0..100 {
            std::fs::write(&trigger, format!("change {uuid}")).unwrap();
            if self
                .next_for(
                    "change",
                    (major, minor),
                    Uevent::Synthetic(uuid),
                    Duration::from_millis(300),
                )
                .is_some()
            {
                return;
            }
        }
        panic!("udevadm monitor never saw an event");
    }

    /// The next event with `ACTION=action` for `major:minor` within `wait`
    /// that is `which`.
    fn next_for(
        &self,
        action: &str,
        (major, minor): (u32, u32),
        which: Uevent<'_>,
        wait: Duration,
    ) -> Option<Vec<(String, String)>> {
        let (major, minor) = (major.to_string(), minor.to_string());
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ev = self.rx.recv_timeout(left).ok()?;
            let get = |k: &str| ev.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
            let wanted = match which {
                Uevent::Synthetic(uuid) => get("SYNTH_UUID") == Some(uuid),
                Uevent::Kernel { diskseq } => {
                    get("SYNTH_UUID").is_none() && get("DISKSEQ") == Some(diskseq)
                }
            };
            if get("ACTION") == Some(action)
                && get("MAJOR") == Some(major.as_str())
                && get("MINOR") == Some(minor.as_str())
                && wanted
            {
                return Some(ev);
            }
        }
    }

    /// The next event with `ACTION=action` the kernel made for the device
    /// `dev` (its number and its disk sequence number, see [`DmDisk`]).
    fn wait(&self, action: &str, dev: &DmDisk) -> Vec<(String, String)> {
        self.next_for(
            action,
            dev.devno,
            Uevent::Kernel {
                diskseq: &dev.diskseq,
            },
            Duration::from_secs(30),
        )
        .unwrap_or_else(|| {
            panic!(
                "no {action} uevent for {}:{} (DISKSEQ={})",
                dev.devno.0, dev.devno.1, dev.diskseq
            )
        })
    }
}

/// Which uevents [`Monitor::next_for`] takes.
#[derive(Clone, Copy)]
enum Uevent<'a> {
    /// A synthetic one (written to the device's `uevent` file) with this
    /// `SYNTH_UUID`.
    Synthetic(&'a str),
    /// One the kernel made itself for the disk with this `DISKSEQ`.
    Kernel { diskseq: &'a str },
}

/// A mapped device as its uevents name it. Its number alone is not enough:
/// the kernel hands the lowest free minor to the next device, so a device
/// that another test (running beside this one) created and removed after
/// the monitor started may have had the same number, and its uevents are
/// still queued ahead of ours. The disk sequence number (`DISKSEQ`, since
/// Linux 5.15) is unique per disk since boot.
struct DmDisk {
    devno: (u32, u32),
    diskseq: String,
}

impl DmDisk {
    fn of(d: &Device) -> DmDisk {
        let i = d.info().unwrap();
        let attr = format!("/sys/dev/block/{}:{}/diskseq", i.major, i.minor);
        let diskseq = std::fs::read_to_string(&attr)
            .unwrap_or_else(|e| panic!("{attr}: {e} (a kernel before 5.15?)"))
            .trim()
            .to_string();
        DmDisk {
            devno: (i.major, i.minor),
            diskseq,
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The udev flags of a uevent (the high half of `DM_COOKIE`).
fn uevent_flags(ev: &[(String, String)]) -> u16 {
    let cookie: u32 = ev
        .iter()
        .find(|(k, _)| k == "DM_COOKIE")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    (cookie >> 16) as u16
}

#[test]
#[ignore = "needs root and a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn udev_flags_reach_the_uevents() {
    let dm = DeviceMapper::new().unwrap();
    let Some(mon) = Monitor::start() else {
        eprintln!("skipped: udevadm monitor is not available");
        return;
    };
    let (np, nd, nprobe) = (name("private"), name("plain"), name("probe"));
    let _c = Cleanup(vec![np.clone(), nd.clone(), nprobe.clone()]);
    let zero = Table::single(Sectors(8), Target::Zero).unwrap();
    let probe = dm
        .create_device(&nprobe, &CreateOptions::default(), &zero)
        .unwrap();
    // The probe stays until the end: no other device takes its number.
    mon.sync(DmDisk::of(&probe).devno);
    let private = dm
        .create_device(
            &np,
            &CreateOptions {
                udev_flags: UdevFlags::PRIVATE,
                ..Default::default()
            },
            &zero,
        )
        .unwrap();
    let pn = DmDisk::of(&private);
    let ev = mon.wait("change", &pn);
    let f = UdevFlags::from_bits_retain(uevent_flags(&ev));
    assert!(f.contains(UdevFlags::PRIVATE), "{f:?} in {ev:?}");
    // The library still made the node (no DISABLE_LIBRARY_FALLBACK).
    assert!(private.path().unwrap().exists());
    // The handle keeps the flags for later resumes and its removal.
    assert_eq!(private.udev_flags(), UdevFlags::PRIVATE);
    private.replace_table(&zero).unwrap();
    let f = UdevFlags::from_bits_retain(uevent_flags(&mon.wait("change", &pn)));
    assert!(f.contains(UdevFlags::PRIVATE), "{f:?}");
    private
        .remove(RemoveOptions {
            udev_flags: UdevFlags::LOW_PRIORITY,
            ..Default::default()
        })
        .unwrap();
    let f = UdevFlags::from_bits_retain(uevent_flags(&mon.wait("remove", &pn)));
    assert!(
        f.contains(UdevFlags::PRIVATE | UdevFlags::LOW_PRIORITY),
        "{f:?}"
    );

    // Without flags: none of those bits.
    let plain = dm
        .create_device(&nd, &CreateOptions::default(), &zero)
        .unwrap();
    let f = UdevFlags::from_bits_retain(uevent_flags(&mon.wait("change", &DmDisk::of(&plain))));
    assert!(!f.intersects(UdevFlags::PRIVATE), "{f:?}");
    assert!(f.contains(UdevFlags::PRIMARY_SOURCE), "{f:?}");
    plain.remove(RemoveOptions::default()).unwrap();
}
