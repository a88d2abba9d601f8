//! The statistics module against a real kernel, compared with stock
//! `dmstats` (Debian's, on stock libdevmapper) on the same devices.
//!
//! Build with `cargo test -p devmapper --release --test stats_kernel
//! --no-run` and run the binary in the VM with `--include-ignored`. With
//! `DMRS_STATS_FIXTURES=<dir>` the raw kernel replies are written there (the
//! unit tests parse the copies in `tests/fixtures/stats/`).

use devmapper::stats::message;
use devmapper::stats::{
    Counter, FilemapdMode, FilemapdStart, Histogram, Stats, DM_STATS_ALL_PROGRAMS,
    DM_STATS_REGIONS_ALL, DM_STATS_WALK_REGION,
};
use devmapper::{DevId, DeviceMapper, DmName, RemoveOptions, Target};
use std::os::fd::AsFd;
use std::process::Command;

const VM: &str = "needs a kernel with device-mapper: runs in the VM (vm/tests.sh)";

/// Removes devices, unmounts and detaches loops when dropped.
#[derive(Default)]
struct Cleanup {
    mounts: Vec<String>,
    devices: Vec<String>,
    loops: Vec<String>,
    files: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg(m).status();
            let _ = std::fs::remove_dir(m);
        }
        if let Ok(dm) = DeviceMapper::new() {
            for d in self.devices.iter().rev() {
                let _ = dm.remove(
                    &DevId::name(d.as_str()).unwrap(),
                    RemoveOptions {
                        deferred: false,
                        retry: true,
                        ..Default::default()
                    },
                );
            }
        }
        for l in &self.loops {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn name(tag: &str) -> String {
    format!("rsstats-{tag}-{}", std::process::id())
}

/// A zero device of `sectors`; returns its /dev/dm-N path.
fn zero_dev(c: &mut Cleanup, name: &str, sectors: u64) -> String {
    let dm = DeviceMapper::new().expect("device-mapper");
    let info = dm
        .create_with_table(
            &DmName::new(name).unwrap(),
            None,
            &[Target::new(0, sectors, "zero", "")],
            false,
        )
        .expect("create zero device");
    c.devices.push(name.to_string());
    format!("/dev/dm-{}", info.minor)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (good, out, err) = run(args);
    assert!(good, "{args:?} failed:\n{out}\n{err}");
    out
}

fn dd_read(dev: &str, bs: u32, count: u32, skip: u32) {
    ok(&[
        "dd",
        &format!("if={dev}"),
        "of=/dev/null",
        &format!("bs={bs}"),
        &format!("count={count}"),
        &format!("skip={skip}"),
        "iflag=direct",
        "status=none",
    ]);
}

fn dd_write(dev: &str, bs: u32, count: u32, seek: u32) {
    ok(&[
        "dd",
        "if=/dev/zero",
        &format!("of={dev}"),
        &format!("bs={bs}"),
        &format!("count={count}"),
        &format!("seek={seek}"),
        "oflag=direct",
        "status=none",
    ]);
}

fn stats(dev: &str) -> Stats<DeviceMapper> {
    let mut s = Stats::new(DeviceMapper::new().unwrap(), Some(b"dmstats")).unwrap();
    s.bind_name(dev.as_bytes());
    s
}

fn raw(dm: &DeviceMapper, dev: &str, msg: &str) -> Vec<u8> {
    dm.target_message(&DevId::name(dev).unwrap(), 0, msg.as_bytes())
        .unwrap_or_else(|e| panic!("{msg}: {e}"))
        .unwrap_or_default()
}

fn record(file: &str, data: &[u8]) {
    if let Some(dir) = std::env::var_os("DMRS_STATS_FIXTURES") {
        let p = std::path::Path::new(&dir).join(file);
        std::fs::write(&p, data).unwrap();
        eprintln!("recorded {}", p.display());
    }
}

/// `dmstats list` with chosen fields as `;`-separated rows.
fn stock_list(dev: &str, fields: &str) -> Vec<String> {
    ok(&[
        "dmstats",
        "list",
        "-o",
        fields,
        "--noheadings",
        "--separator",
        ";",
        dev,
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
#[ignore = "needs a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn records_and_parses_real_replies() {
    let _ = VM;
    let mut c = Cleanup::default();
    let dev = name("replies");
    let node = zero_dev(&mut c, &dev, 32768);
    let dm = DeviceMapper::new().unwrap();
    let mut s = stats(&dev);
    let b = Histogram::bounds_from_string(b"1ms,10ms").unwrap();
    assert_eq!(
        s.create_region(0, 0, -4, false, None, None, b"").unwrap(),
        0
    );
    assert_eq!(
        s.create_region(0, 16384, 16384, false, Some(&b), None, b"foo")
            .unwrap(),
        1
    );
    assert_eq!(
        s.create_region(0, 8192, 8192, true, None, None, b"bar")
            .unwrap(),
        2
    );
    assert_eq!(
        s.create_region(8192, 8192, 4096, false, None, None, b"")
            .unwrap(),
        3
    );
    s.list(None).unwrap();
    assert_eq!(s.create_group(b"2-3", Some(b"grp")).unwrap(), 2);
    dd_read(&node, 4096, 10, 0);
    dd_write(&node, 4096, 4, 1024);

    let list = raw(&dm, &dev, "@stats_list");
    let p0 = raw(&dm, &dev, "@stats_print 0");
    let p1 = raw(&dm, &dev, "@stats_print 1");
    let p2 = raw(&dm, &dev, "@stats_print 2");
    let p3 = raw(&dm, &dev, "@stats_print 3 1 1");
    record("list.txt", &list);
    record("print-areas.txt", &p0);
    record("print-histogram.txt", &p1);
    record("print-precise.txt", &p2);
    record("print-rows.txt", &p3);

    let l = message::parse_list(&list).unwrap();
    assert_eq!(l.len(), 4);
    assert_eq!((l[0].start, l[0].len, l[0].step), (0, 32768, 8192));
    assert_eq!(l[1].aux_data, b"fo", "stock drops the last character");
    assert_eq!(l[2].aux_data, b"DMS_GROUP=grp:2-3#b");
    assert_eq!(l[2].timescale, 1);
    assert_eq!(l[1].bounds.as_ref().unwrap().nr_bins(), 3);

    let r0 = message::parse_print(Some(&p0), 1_000_000, None).unwrap();
    assert_eq!(r0.areas.len(), 4);
    let reads: u64 = r0.areas.iter().map(|a| a.counters.reads).sum();
    assert_eq!(reads, 10);
    let rs: u64 = r0.areas.iter().map(|a| a.counters.read_sectors).sum();
    assert_eq!(rs, 80);
    let w: u64 = r0.areas.iter().map(|a| a.counters.write_sectors).sum();
    assert_eq!(w, 32);
    let r1 = message::parse_print(Some(&p1), 1_000_000, l[1].bounds.as_ref()).unwrap();
    let a = &r1.areas[0];
    let h = a.histogram.as_ref().unwrap();
    assert_eq!(h.sum(), a.counters.reads + a.counters.writes);
    let r2 = message::parse_print(Some(&p2), 1, None).unwrap();
    assert!(r2.areas[0].counters.total_read_nsecs > 0);
    let r3 = message::parse_print(Some(&p3), 1_000_000, None).unwrap();
    assert_eq!(r3.areas.len(), 1);
    assert_eq!(r3.areas[0].start, 12288);

    s.list(None).unwrap();
    assert_eq!(s.region_aux_data(2), b"b");
    assert_eq!(s.alias(3), Some(&b"grp"[..]));
    for id in 0..4 {
        s.delete_region(id).unwrap();
    }
    assert_eq!(raw(&dm, &dev, "@stats_list"), b"");
}

#[test]
#[ignore = "needs a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn counters_match_stock_dmstats() {
    let mut c = Cleanup::default();
    let dev = name("counters");
    let node = zero_dev(&mut c, &dev, 16384);
    let mut s = stats(&dev);
    let id = s.create_region(0, 0, -2, false, None, None, b"").unwrap();
    dd_read(&node, 4096, 16, 0);
    dd_read(&node, 512, 3, 9000);
    dd_write(&node, 8192, 5, 100);

    // Raw text: ours and stock dmstats print the same kernel reply.
    let ours = s.print_region(id, 0, 0, false).unwrap();
    let theirs = ok(&["dmstats", "print", "--regionid", &id.to_string(), &dev]);
    assert_eq!(String::from_utf8(ours.clone()).unwrap(), theirs);
    let parsed = message::parse_print(Some(&ours), 1_000_000, None).unwrap();

    // Populate reads the same counters and clears them (@stats_print_clear).
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    for (i, a) in parsed.areas.iter().enumerate() {
        let got = s.counters(id, i as u64).unwrap();
        // In-flight and time counters may move; the I/O counts may not.
        for k in [
            Counter::Reads,
            Counter::ReadsMerged,
            Counter::ReadSectors,
            Counter::Writes,
            Counter::WritesMerged,
            Counter::WriteSectors,
        ] {
            assert_eq!(k.get(&got), k.get(&a.counters), "{k:?} area {i}");
        }
    }
    let total = s.counters(id, DM_STATS_WALK_REGION).unwrap();
    assert_eq!(total.read_sectors, 16 * 8 + 3);
    assert_eq!(total.write_sectors, 5 * 16);
    let rep = ok(&[
        "dmstats",
        "report",
        "-o",
        "read_count,write_count",
        "--noheadings",
        "--separator",
        ";",
        &dev,
    ]);
    assert!(rep.lines().all(|l| l == "0;0"), "counters cleared:\n{rep}");

    // The other way: stock reads (and clears) what we did not.
    dd_read(&node, 4096, 7, 0);
    let rep = ok(&[
        "dmstats",
        "report",
        "-o",
        "read_sector_count",
        "--noheadings",
        "--regionid",
        &id.to_string(),
        &dev,
    ]);
    assert!(rep.lines().any(|l| l.trim() == "56"), "{rep}");
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(
        s.counter(Counter::ReadSectors, id, DM_STATS_WALK_REGION)
            .unwrap(),
        0
    );

    // A failing message: the same line as libdm's task engine logs.
    let e = s.clear_region(99).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
    let (good, _, err) = run(&["dmsetup", "message", &dev, "0", "@stats_clear", "99"]);
    assert!(!good);
    assert!(
        err.contains(e.message()),
        "stock: {err:?} ours: {:?}",
        e.log_lines().collect::<Vec<_>>()
    );
    let e = s.delete_region(99).unwrap_err();
    assert_eq!(e.to_string(), "Region ID 99 does not exist");
    let (_, _, err) = run(&["dmstats", "delete", "--regionid", "99", &dev]);
    assert!(err.contains("Region ID 99 does not exist"), "{err}");
    s.delete_region(id).unwrap();
}

#[test]
#[ignore = "needs a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn groups_and_aliases_interoperate_with_stock() {
    let mut c = Cleanup::default();
    let dev = name("groups");
    zero_dev(&mut c, &dev, 16384);
    let mut s = stats(&dev);
    for i in 0..3u64 {
        let aux: &[u8] = if i == 0 { b"mydata" } else { b"" };
        s.create_region(i * 4096, 4096, -1, false, None, None, aux)
            .unwrap();
    }
    s.list(None).unwrap();
    assert_eq!(s.create_group(b"0-1", Some(b"rsgrp")).unwrap(), 0);
    let rows = stock_list(&dev, "region_id,group_id,stats_name,user_data");
    assert!(rows.contains(&"0;0;rsgrp;mydata".to_string()), "{rows:?}");
    assert!(rows.contains(&"1;0;rsgrp;".to_string()), "{rows:?}");
    assert!(rows.contains(&format!("2;-;{dev};")), "{rows:?}");
    assert!(rows.contains(&"0-1;0;rsgrp;".to_string()), "{rows:?}");

    s.list(None).unwrap();
    s.set_alias(0, b"renamed").unwrap();
    let rows = stock_list(&dev, "region_id,stats_name");
    assert!(rows.contains(&"0-1;renamed".to_string()), "{rows:?}");

    // Stock regroups; we read its descriptor.
    ok(&["dmstats", "ungroup", "--groupid", "0", &dev]);
    ok(&[
        "dmstats",
        "group",
        "--regions",
        "1,2",
        "--alias",
        "stockgrp",
        &dev,
    ]);
    s.list(None).unwrap();
    assert!(!s.group_present(0));
    assert!(s.group_present(1));
    assert_eq!(s.group_descriptor(1).unwrap(), "1-2");
    assert_eq!(s.alias(2), Some(&b"stockgrp"[..]));
    assert_eq!(s.alias(0), Some(dev.as_bytes()));
    assert_eq!(s.region_aux_data(0), b"mydata");
    assert_eq!(s.nr_groups(), 1);

    // We ungroup; stock sees no group.
    s.delete_group(1, false).unwrap();
    let rows = stock_list(&dev, "region_id,group_id");
    assert!(rows.iter().all(|r| r.ends_with(";-")), "{rows:?}");
    // Delete a group with its regions.
    s.list(None).unwrap();
    s.create_group(b"1,2", None).unwrap();
    s.list(None).unwrap();
    s.delete_group(1, true).unwrap();
    let rows = stock_list(&dev, "region_id");
    assert_eq!(rows, vec!["0".to_string()]);
    s.delete_region(0).unwrap();
}

#[test]
#[ignore = "needs a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn precise_and_histograms_match_stock() {
    let mut c = Cleanup::default();
    let dev = name("hist");
    let node = zero_dev(&mut c, &dev, 16384);
    let mut s = stats(&dev);
    assert!(s.driver_supports_precise());
    let ms = Histogram::bounds_from_string(b"1ms,10ms").unwrap();
    let us = Histogram::bounds_from_string(b"100us,1ms").unwrap();
    s.create_region(0, 0, -1, false, Some(&ms), None, b"")
        .unwrap();
    s.create_region(0, 0, -1, false, Some(&us), None, b"")
        .unwrap();
    s.create_region(0, 0, -1, true, None, None, b"").unwrap();
    ok(&[
        "dmstats",
        "create",
        "--bounds",
        "2ms,4ms",
        "--precise",
        &dev,
    ]);
    let rows = stock_list(&dev, "region_id,precise,hist_bounds");
    assert_eq!(
        rows,
        vec![
            "0;0;0s,1ms,10ms",
            "1;1;0s,100us,1ms",
            "2;1;",
            "3;1;0s,2ms,4ms"
        ]
    );
    s.list(None).unwrap();
    assert!(!s.region_precise_timestamps(0));
    assert!(s.region_precise_timestamps(1));
    assert!(s.region_precise_timestamps(3));
    let up: Vec<u64> = s
        .histogram(3, 0)
        .unwrap()
        .bins()
        .iter()
        .map(|b| b.upper)
        .collect();
    assert_eq!(up, vec![2_000_000, 4_000_000, u64::MAX]);

    dd_read(&node, 4096, 12, 0);
    // Histogram columns: ours and stock print the same text.
    let ours = s.print_region(1, 0, 0, false).unwrap();
    let theirs = ok(&["dmstats", "print", "--regionid", "1", &dev]);
    assert_eq!(String::from_utf8(ours).unwrap(), theirs);
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    for id in [0u64, 1, 3] {
        let h = s.histogram(id, DM_STATS_WALK_REGION).unwrap();
        let t = s.counters(id, DM_STATS_WALK_REGION).unwrap();
        assert_eq!(h.sum(), t.reads + t.writes, "region {id}");
        assert!(h.sum() > 0);
    }
    // Precise regions count nanoseconds.
    let t = s.counters(2, 0).unwrap();
    assert!(t.total_read_nsecs > 0 && t.total_read_nsecs % 1_000_000 != 0);
    for id in 0..4 {
        s.delete_region(id).unwrap();
    }
}

fn sectors_of_group(s: &Stats<DeviceMapper>, gid: u64) -> Vec<(u64, u64)> {
    let desc = s.group_descriptor(gid).unwrap();
    let (set, _) = devmapper::stats::group::parse_member_list(desc.as_bytes()).unwrap();
    let mut v: Vec<(u64, u64)> = set
        .iter()
        .map(|&i| (s.region_start(i).unwrap(), s.region_len(i).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "needs a kernel with device-mapper: runs in the VM (vm/tests.sh)"]
fn file_maps_on_ext4_match_stock() {
    let mut c = Cleanup::default();
    let img = format!("/tmp/{}.img", name("fm"));
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(64 << 20).unwrap();
    c.files.push(img.clone());
    let lo = ok(&["losetup", "-f", "--show", &img]).trim().to_string();
    c.loops.push(lo.clone());
    let dev = name("fm");
    let dm = DeviceMapper::new().unwrap();
    let info = dm
        .create_with_table(
            &DmName::new(dev.as_str()).unwrap(),
            None,
            &[Target::new(0, 131072, "linear", format!("{lo} 0"))],
            false,
        )
        .unwrap();
    c.devices.push(dev.clone());
    let node = format!("/dev/dm-{}", info.minor);
    ok(&["mkfs.ext4", "-q", "-F", &node]);
    let mnt = format!("/tmp/{}", name("mnt"));
    std::fs::create_dir_all(&mnt).unwrap();
    ok(&["mount", &node, &mnt]);
    c.mounts.push(mnt.clone());
    let file = format!("{mnt}/data");
    // Two writes far apart in the file give at least two extents.
    ok(&[
        "dd",
        "if=/dev/urandom",
        &format!("of={file}"),
        "bs=64k",
        "count=8",
        "status=none",
        "conv=fsync",
    ]);
    ok(&[
        "dd",
        "if=/dev/urandom",
        &format!("of={file}"),
        "bs=64k",
        "count=4",
        "seek=200",
        "status=none",
        "conv=fsync,notrunc",
    ]);

    let fh = std::fs::File::open(&file).unwrap();
    let mut s = Stats::new(DeviceMapper::new().unwrap(), Some(b"dmstats")).unwrap();
    s.bind_from_fd(fh.as_fd()).unwrap();
    let ids = s
        .create_regions_from_fd(fh.as_fd(), true, false, None, Some(b"rsfile"))
        .unwrap();
    assert!(ids.len() >= 2, "{ids:?}");
    let gid = ids[0];
    s.list(None).unwrap();
    assert!(s.group_present(gid));
    assert_eq!(s.alias(gid), Some(&b"rsfile"[..]));

    // Stock maps the same file: same extents.
    ok(&[
        "dmstats",
        "create",
        "--filemap",
        "--nomonitor",
        "--alias",
        "stockfile",
        &file,
    ]);
    s.list(None).unwrap();
    let stock_gid = (0..=ids.iter().max().unwrap() + 64)
        .find(|&g| g != gid && s.group_present(g))
        .expect("stock's group");
    assert_eq!(s.alias(stock_gid), Some(&b"stockfile"[..]));
    assert_eq!(sectors_of_group(&s, gid), sectors_of_group(&s, stock_gid));
    let rows = stock_list(&dev, "group_id,stats_name,obj_type");
    assert!(rows.contains(&format!("{gid};rsfile;group")), "{rows:?}");

    // The file grows: both update, and agree again.
    ok(&[
        "dd",
        "if=/dev/urandom",
        &format!("of={file}"),
        "bs=64k",
        "count=4",
        "seek=400",
        "status=none",
        "conv=fsync,notrunc",
    ]);
    let ids2 = s.update_regions_from_fd(fh.as_fd(), gid).unwrap();
    assert!(ids2.len() > ids.len(), "{ids:?} -> {ids2:?}");
    // (stock's dmstats leaves updates to dmfilemapd: compare with a new map)
    ok(&[
        "dmstats",
        "create",
        "--filemap",
        "--nomonitor",
        "--alias",
        "stock2",
        &file,
    ]);
    s.list(None).unwrap();
    let stock2 = (0..=ids2.iter().max().unwrap() + 64)
        .find(|&g| g != gid && g != stock_gid && s.group_present(g))
        .expect("stock's second group");
    assert_eq!(s.alias(stock2), Some(&b"stock2"[..]));
    assert_eq!(sectors_of_group(&s, gid), sectors_of_group(&s, stock2));

    // Reading the file counts in its regions.
    ok(&[
        "dd",
        &format!("if={file}"),
        "of=/dev/null",
        "bs=64k",
        "iflag=direct",
        "status=none",
    ]);
    s.populate(Some(DM_STATS_ALL_PROGRAMS), DM_STATS_REGIONS_ALL)
        .unwrap();
    // Group totals through the cursor (WALK_GROUP | 0 cannot name group 0).
    s.walk_init(devmapper::stats::DM_STATS_WALK_GROUP).unwrap();
    s.walk_start();
    assert_eq!(s.cursor_state().3, gid);
    let sum = s.counter(Counter::ReadSectors, u64::MAX, u64::MAX).unwrap();
    assert_eq!(sum, 16 * 128, "sectors read through the file's regions");

    // dmfilemapd is not in Debian: stock's child reports the exec failure
    // and the call succeeds; ours says the same.
    let (good, _, err) = run(&["dmstats", "create", "--filemap", "--alias", "mon", &file]);
    assert!(good, "{err}");
    let r = devmapper::stats::start_filemapd(
        &devmapper::Context::new(),
        3,
        gid,
        file.as_bytes(),
        FilemapdMode::FollowInode,
        0,
        0,
    )
    .unwrap();
    match r {
        FilemapdStart::ExecFailed { log_line } => {
            assert!(
                err.contains(&log_line),
                "stock said {err:?}, we say {log_line:?}"
            )
        }
        FilemapdStart::Started { .. } => panic!("dmfilemapd exists here"),
    }

    s.list(Some(DM_STATS_ALL_PROGRAMS)).unwrap();
    let all: Vec<u64> = (0..1024).filter(|&i| s.region_present(i)).collect();
    for id in all {
        let _ = s.delete_region(id);
    }
    drop(fh);
}
