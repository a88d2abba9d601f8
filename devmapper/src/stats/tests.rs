//! Unit tests of the handle against a fake kernel that implements the
//! `@stats_*` messages with the formats of `drivers/md/dm-stats.c`.

use super::filemap::{ExtentMapper, FileExtent};
use super::*;
use crate::kernel::fiemap::{
    FiemapExtent, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNWRITTEN,
};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
struct FakeArea {
    c: [u64; 13],
    hist: Vec<u64>,
}

#[derive(Clone, Debug)]
struct FakeRegion {
    start: u64,
    end: u64,
    step: u64,
    precise: bool,
    bounds: Vec<u64>,
    program_id: String,
    aux: String,
    areas: Vec<FakeArea>,
}

/// A device with the kernel's stats message handling.
struct FakeKernel {
    size: u64,
    version: [u32; 3],
    regions: RefCell<BTreeMap<u32, FakeRegion>>,
    sent: RefCell<Vec<String>>,
}

fn split_args(s: &str) -> Vec<String> {
    // dm_split_args: whitespace separates, backslash escapes the next char.
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut esc = false;
    for ch in s.chars() {
        if esc {
            cur.push(ch);
            esc = false;
            in_word = true;
            continue;
        }
        if ch == '\\' {
            esc = true;
            continue;
        }
        if ch.is_whitespace() {
            if in_word {
                out.push(std::mem::take(&mut cur));
                in_word = false;
            }
            continue;
        }
        cur.push(ch);
        in_word = true;
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn einval() -> TransportError {
    TransportError::from_errno(
        libc::EINVAL,
        "device-mapper: message ioctl on fake  failed: Invalid argument",
    )
}

fn enoent() -> TransportError {
    TransportError::from_errno(
        libc::ENOENT,
        "device-mapper: message ioctl on fake  failed: No such file or directory",
    )
}

static FAKE_CTX: crate::Context = crate::Context::new();

impl FakeKernel {
    fn new(size: u64) -> FakeKernel {
        FakeKernel {
            size,
            version: [4, 47, 0],
            regions: RefCell::new(BTreeMap::new()),
            sent: RefCell::new(Vec::new()),
        }
    }

    fn set_area(&self, id: u32, area: usize, c: [u64; 13], hist: &[u64]) {
        let mut r = self.regions.borrow_mut();
        let reg = r.get_mut(&id).unwrap();
        reg.areas[area] = FakeArea {
            c,
            hist: hist.to_vec(),
        };
    }

    fn handle(&self, msg: &str) -> Result<Option<String>, TransportError> {
        let argv = split_args(msg);
        let argc = argv.len();
        let num = |s: &str| s.parse::<u32>().map_err(|_| einval());
        match argv[0].to_ascii_lowercase().as_str() {
            "@stats_create" => {
                if argc < 3 {
                    return Err(einval());
                }
                let (start, len) = if argv[1] == "-" {
                    (0, self.size.max(1))
                } else {
                    let (a, b) = argv[1].split_once('+').ok_or_else(einval)?;
                    (
                        a.parse::<u64>().map_err(|_| einval())?,
                        b.parse::<u64>().map_err(|_| einval())?,
                    )
                };
                let end = start + len;
                if start >= end {
                    return Err(einval());
                }
                let step = if let Some(d) = argv[2].strip_prefix('/') {
                    let d: u64 = d.parse().map_err(|_| einval())?;
                    if d == 0 {
                        return Err(einval());
                    }
                    (len.div_ceil(d)).max(1)
                } else {
                    let s: u64 = argv[2].parse().map_err(|_| einval())?;
                    if s == 0 {
                        return Err(einval());
                    }
                    s
                };
                let mut i = 3;
                let mut precise = false;
                let mut bounds = Vec::new();
                if let Some(n) = argv.get(3).and_then(|a| a.parse::<u32>().ok()) {
                    i = 4;
                    for _ in 0..n {
                        let a = argv.get(i).ok_or_else(einval)?;
                        i += 1;
                        if a.eq_ignore_ascii_case("precise_timestamps") {
                            precise = true;
                        } else if let Some(h) = a.strip_prefix("histogram:") {
                            let mut last = 0;
                            for v in h.split(',') {
                                let v: u64 = v.parse().map_err(|_| einval())?;
                                if v <= last {
                                    return Err(einval());
                                }
                                last = v;
                                bounds.push(v);
                            }
                        } else {
                            return Err(einval());
                        }
                    }
                }
                let program_id = argv.get(i).cloned().unwrap_or("-".into());
                let aux = argv.get(i + 1).cloned().unwrap_or("-".into());
                if argc > i + 2 {
                    return Err(einval());
                }
                let mut r = self.regions.borrow_mut();
                let mut id = 0u32;
                while r.contains_key(&id) {
                    id += 1;
                }
                let n = (end - start).div_ceil(step) as usize;
                let nb = if bounds.is_empty() {
                    0
                } else {
                    bounds.len() + 1
                };
                r.insert(
                    id,
                    FakeRegion {
                        start,
                        end,
                        step,
                        precise,
                        bounds,
                        program_id,
                        aux,
                        areas: vec![
                            FakeArea {
                                c: [0; 13],
                                hist: vec![0; nb]
                            };
                            n
                        ],
                    },
                );
                Ok(Some(id.to_string()))
            }
            "@stats_delete" => {
                if argc != 2 {
                    return Err(einval());
                }
                let id = num(&argv[1])?;
                self.regions
                    .borrow_mut()
                    .remove(&id)
                    .map(|_| None)
                    .ok_or_else(enoent)
            }
            "@stats_clear" => {
                if argc != 2 {
                    return Err(einval());
                }
                let id = num(&argv[1])?;
                let mut r = self.regions.borrow_mut();
                let reg = r.get_mut(&id).ok_or_else(enoent)?;
                for a in &mut reg.areas {
                    let inflight = a.c[8];
                    a.c = [0; 13];
                    a.c[8] = inflight;
                    a.hist.iter_mut().for_each(|h| *h = 0);
                }
                Ok(None)
            }
            "@stats_list" => {
                if argc > 2 {
                    return Err(einval());
                }
                let mut out = String::new();
                for (id, s) in self.regions.borrow().iter() {
                    if argc == 2 && argv[1] != s.program_id {
                        continue;
                    }
                    out += &format!(
                        "{id}: {}+{} {} {} {}",
                        s.start,
                        s.end - s.start,
                        s.step,
                        s.program_id,
                        s.aux
                    );
                    if s.precise {
                        out += " precise_timestamps";
                    }
                    if !s.bounds.is_empty() {
                        out += " histogram:";
                        out += &s
                            .bounds
                            .iter()
                            .map(|b| b.to_string())
                            .collect::<Vec<_>>()
                            .join(",");
                    }
                    out += "\n";
                }
                Ok(Some(out))
            }
            m @ ("@stats_print" | "@stats_print_clear") => {
                if argc != 2 && argc != 4 {
                    return Err(einval());
                }
                let id = num(&argv[1])?;
                let (mut from, mut n) = (0usize, usize::MAX);
                if argc == 4 {
                    from = argv[2].parse().map_err(|_| einval())?;
                    n = argv[3].parse().map_err(|_| einval())?;
                }
                let mut r = self.regions.borrow_mut();
                let s = r.get_mut(&id).ok_or_else(enoent)?;
                let to = from.saturating_add(n).min(s.areas.len());
                let from = from.min(to);
                let mut out = String::new();
                for x in from..to {
                    let a = &s.areas[x];
                    let start = s.start + s.step * x as u64;
                    out += &format!("{start}+{}", s.step);
                    for (k, v) in a.c.iter().enumerate() {
                        if k == 8 {
                            out += &format!(" {}", *v as i32);
                        } else {
                            out += &format!(" {v}");
                        }
                    }
                    for (k, h) in a.hist.iter().enumerate() {
                        out += &format!("{}{h}", if k == 0 { " " } else { ":" });
                    }
                    out += "\n";
                }
                if m == "@stats_print_clear" {
                    for a in &mut s.areas[from..to] {
                        let inflight = a.c[8];
                        a.c = [0; 13];
                        a.c[8] = inflight;
                        a.hist.iter_mut().for_each(|h| *h = 0);
                    }
                }
                Ok(Some(out))
            }
            "@stats_set_aux" => {
                if argc != 3 {
                    return Err(einval());
                }
                let id = num(&argv[1])?;
                let mut r = self.regions.borrow_mut();
                r.get_mut(&id).ok_or_else(enoent)?.aux = argv[2].clone();
                Ok(None)
            }
            _ => Err(einval()),
        }
    }

    fn sent(&self) -> Vec<String> {
        self.sent.borrow().clone()
    }

    fn clear_sent(&self) {
        self.sent.borrow_mut().clear();
    }
}

impl StatsTransport for FakeKernel {
    fn context(&self) -> &crate::Context {
        &FAKE_CTX
    }
    fn message(
        &self,
        _dev: &StatsDevice,
        sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        assert_eq!(sector, 0);
        let m = String::from_utf8(msg.to_vec()).unwrap();
        self.sent.borrow_mut().push(m.clone());
        self.handle(&m).map(|r| r.map(String::into_bytes))
    }
    fn device_name(&self, _dev: &StatsDevice) -> Result<Vec<u8>, TransportError> {
        Ok(b"fakedev".to_vec())
    }
    fn driver_version(&self) -> Result<[u32; 3], TransportError> {
        Ok(self.version)
    }
    fn is_dm_major(&self, _major: u32) -> bool {
        true
    }
}

fn handle(k: &FakeKernel) -> Stats<&FakeKernel> {
    let mut s = Stats::new(k, Some(b"dmstats")).unwrap();
    s.bind_name(b"fakedev");
    s
}

const R: u64 = DM_STATS_WALK_REGION;
const G: u64 = DM_STATS_WALK_GROUP;

fn walk(s: &mut Stats<&FakeKernel>, flags: u64) -> Vec<(u64, u64, ObjectType)> {
    s.walk_init(flags).unwrap();
    s.walk_start();
    let mut v = Vec::new();
    let mut guard = 0;
    while !s.walk_end() {
        let (_, r, a, _) = s.cursor_state();
        v.push((r, a, s.current_object_type()));
        s.walk_next();
        guard += 1;
        assert!(guard < 1000);
    }
    v
}

#[test]
fn default_program_id_is_comm_with_newline() {
    let p = default_program_id().unwrap();
    assert_eq!(p.last(), Some(&b'\n'));
    let k = FakeKernel::new(100);
    let s = Stats::new(&k, None).unwrap();
    assert_eq!(s.program_id(), &p[..]);
    let s = Stats::new(&k, Some(b"")).unwrap();
    assert_eq!(s.program_id(), &p[..]);
}

#[test]
fn unbound_handle() {
    let k = FakeKernel::new(100);
    let mut s = Stats::new(&k, Some(b"p")).unwrap();
    let e = s.list(None).unwrap_err();
    assert_eq!(e.kind(), StatsErrorKind::NotBound);
    assert_eq!(e.to_string(), "Stats handle is not bound.");
    assert!(s.create_region(0, 0, -1, false, None, None, b"").is_err());
    s.bind_devno(0, 4);
    assert!(s.device().is_none());
    s.bind_devno(253, 4);
    assert_eq!(
        s.device(),
        Some(StatsDevice::Devno {
            major: 253,
            minor: 4
        })
    );
    assert!(k.sent().is_empty());
    assert!(s.walk_end());
}

#[test]
fn create_list_and_table_with_holes() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    assert_eq!(
        s.create_region(0, 100, 50, false, None, None, b"").unwrap(),
        0
    );
    assert_eq!(
        s.create_region(100, 10, -1, false, None, None, b"u")
            .unwrap(),
        1
    );
    assert_eq!(
        s.create_region(0, 0, -3, false, None, None, b"").unwrap(),
        2
    );
    assert_eq!(
        k.sent(),
        vec![
            "@stats_create 0+100 50  dmstats ",
            "@stats_create 100+10 /1  dmstats u",
            "@stats_create - /3  dmstats ",
        ]
    );
    s.delete_region(1).unwrap();
    // The unlisted handle lists (own program id) around the delete.
    assert!(k.sent().iter().any(|m| m == "@stats_list dmstats"));
    assert_eq!(s.nr_regions(), 0, "handle returned to its unlisted state");

    s.list(Some(DM_STATS_ALL_PROGRAMS)).unwrap();
    assert_eq!(s.nr_regions(), 2);
    assert!(s.region_present(0) && !s.region_present(1) && s.region_present(2));
    assert!(!s.region_present(3));
    assert_eq!(s.region_len(2).unwrap(), 1000);
    assert_eq!(s.region_area_len(2).unwrap(), 334);
    assert_eq!(s.region_nr_areas(2), 3);
    assert_eq!(s.region_nr_areas(0), 2);
    assert_eq!(s.region_nr_areas(1), 1);
    assert_eq!(s.area_start(0, 1).unwrap(), 50);
    assert_eq!(s.area_offset(2, 2).unwrap(), 668);
    assert_eq!(s.region_program_id(0), b"dmstats");
    assert_eq!(s.region_aux_data(0), b"");
    assert_eq!(s.alias(0), Some(&b"fakedev"[..]));
    assert_eq!(s.group_id(0), DM_STATS_GROUP_NONE);
    // A successful list leaves stock's group walk flags behind.
    assert_eq!(s.walk_flags(), DM_STATS_WALK_GROUP);
    // Deleting a missing region on a listed handle.
    let e = s.delete_region(1).unwrap_err();
    assert_eq!(e.to_string(), "Region ID 1 does not exist");
    assert_eq!(e.kind(), StatsErrorKind::NotFound);
}

#[test]
fn list_of_nothing_and_populate_of_nothing() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    s.list(None).unwrap();
    assert_eq!(s.nr_regions(), 0);
    assert_eq!(s.nr_areas(), 0);
    let e = s.populate(None, DM_STATS_REGIONS_ALL).unwrap_err();
    assert_eq!(e.kind(), StatsErrorKind::NotFound);
    assert_eq!(e.log_lines().count(), 0);
}

#[test]
fn walk_order_matches_stock() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    s.create_region(0, 100, 50, false, None, None, b"").unwrap(); // 0: 2 areas
    s.create_region(0, 10, -1, false, None, None, b"").unwrap(); // 1: deleted
    s.create_region(0, 10, -1, false, None, None, b"").unwrap(); // 2: 1 area
    s.create_region(0, 90, 30, false, None, None, b"").unwrap(); // 3: 3 areas
    s.delete_region(1).unwrap();
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    use ObjectType::{Area as A, Group as Gr, Region as Rg};
    let w = walk(&mut s, DM_STATS_WALK_DEFAULT);
    assert_eq!(
        w,
        vec![
            (0, 0, A),
            (0, 1, A),
            (2, 0, A),
            (3, 0, A),
            (3, 1, A),
            (3, 2, A),
            (0, R, Rg),
            (2, R, Rg),
            (3, R, Rg)
        ]
    );
    let w = walk(
        &mut s,
        DM_STATS_WALK_REGION | DM_STATS_WALK_SKIP_SINGLE_AREA,
    );
    assert_eq!(w, vec![(0, R, Rg), (3, R, Rg)]);
    let w = walk(&mut s, DM_STATS_WALK_GROUP);
    assert!(w.is_empty());
    // dm_stats_get_nr_areas: areas times the cursor region's area count.
    s.walk_init(DM_STATS_WALK_AREA).unwrap();
    s.walk_start();
    assert_eq!(s.current_nr_areas(), 2);
    assert_eq!(s.nr_areas(), 12);
    // With areas only, next_region leaves no flags: stock does not move.
    s.walk_next_region();
    assert_eq!(s.cursor_state().1, 0);
    s.walk_init(DM_STATS_WALK_DEFAULT).unwrap();
    s.walk_start();
    s.walk_next_region();
    assert_eq!(s.cursor_state().1, 2);
    assert_eq!(s.current_object_type(), ObjectType::Region);
    assert_eq!(s.nr_areas(), 6);

    // Group regions 0 and 2, list again, walk everything.
    assert_eq!(s.create_group(b"0,2", Some(b"grp")).unwrap(), 0);
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(s.nr_groups(), 1);
    let w = walk(&mut s, DM_STATS_WALK_ALL);
    assert_eq!(w.len(), 6 + 3 + 1);
    assert_eq!(w[9], (G, G, Gr));
    assert_eq!(s.current_area(), 0);
    let w = walk(&mut s, DM_STATS_WALK_GROUP);
    assert_eq!(w, vec![(G, G, Gr)]);
    assert!(s.walk_init(1).is_err());
    assert_eq!(
        s.walk_init(0x10).unwrap_err().to_string(),
        "Unknown value in walk flags: 0x10"
    );
}

fn counters(base: u64) -> [u64; 13] {
    let mut c = [0u64; 13];
    for (i, v) in c.iter_mut().enumerate() {
        *v = base + i as u64;
    }
    c[8] = 0;
    c
}

#[test]
fn populate_counters_and_metrics() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    s.create_region(0, 100, 50, false, None, None, b"").unwrap();
    k.set_area(0, 0, counters(10), &[]);
    k.set_area(0, 1, counters(100), &[]);
    k.clear_sent();
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(
        k.sent(),
        vec!["@stats_list dmstats", "@stats_print_clear 0 "]
    );
    // Counters were cleared by @stats_print_clear.
    assert_eq!(k.regions.borrow()[&0].areas[0].c[0], 0);
    assert_eq!(s.counter(Counter::Reads, 0, 0).unwrap(), 10);
    assert_eq!(s.counter(Counter::Reads, 0, 1).unwrap(), 100);
    // Milliseconds scaled to nanoseconds.
    assert_eq!(s.counter(Counter::ReadNsecs, 0, 0).unwrap(), 13_000_000);
    assert_eq!(s.counter(Counter::Reads, 0, R).unwrap(), 110);
    assert_eq!(
        s.counter(Counter::TotalWriteNsecs, 0, R).unwrap(),
        (22 + 112) * 1_000_000
    );
    assert!(s.counter(Counter::Reads, 0, 2).is_err());
    assert!(s.counter(Counter::Reads, 5, 0).is_err());

    // No interval: metrics fail without a log line.
    let e = s.metric(Metric::ReadsPerSec, 0, 0).unwrap_err();
    assert_eq!(e.kind(), StatsErrorKind::NoInterval);
    assert_eq!(e.log_lines().count(), 0);
    s.set_sampling_interval_ms(2000);
    assert_eq!(s.sampling_interval_ns(), 2_000_000_000);
    assert_eq!(s.sampling_interval_ms(), 2000);
    assert_eq!(s.metric(Metric::ReadsPerSec, 0, 0).unwrap(), 5.0);
    assert_eq!(s.metric(Metric::ReadsPerSec, 0, R).unwrap(), 55.0);
    let c = s.counters(0, R).unwrap();
    for m in Metric::ALL {
        assert_eq!(
            s.metric(m, 0, R).unwrap(),
            metrics::compute(m, &c, 2_000_000_000).unwrap()
        );
    }
    // io_nsecs 19ms + 109ms over 2s.
    assert_eq!(s.metric(Metric::Utilization, 0, R).unwrap(), 0.064);
    assert_eq!(s.utilization_percent(0, R).unwrap(), 6_400_000);
    // Cursor-relative access.
    s.walk_init(DM_STATS_WALK_AREA).unwrap();
    s.walk_start();
    s.walk_next();
    assert_eq!(
        s.counter(
            Counter::Reads,
            DM_STATS_REGION_CURRENT,
            DM_STATS_AREA_CURRENT
        )
        .unwrap(),
        100
    );
    assert_eq!(s.current_area_start().unwrap(), 50);
    assert_eq!(s.current_area_offset().unwrap(), 50);
    assert_eq!(s.current_area_len().unwrap(), 50);
    assert_eq!(s.current_region_len().unwrap(), 100);
    assert_eq!(s.current_region_start().unwrap(), 0);
    assert!(!s.current_region_precise_timestamps());

    // A second populate sees the cleared counters.
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(s.counter(Counter::Reads, 0, R).unwrap(), 0);
}

#[test]
fn populate_partial_last_area_extends_len() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    s.create_region(0, 100, 30, false, None, None, b"").unwrap();
    s.list(None).unwrap();
    assert_eq!(s.region_len(0).unwrap(), 100);
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    // Stock takes the length from the printed rows: 4 rows of 30.
    assert_eq!(s.region_len(0).unwrap(), 120);
    assert_eq!(s.region_nr_areas(0), 4);
}

#[test]
fn region_spec_sends_what_create_region_sends() {
    use super::RegionSpec;
    use crate::units::Sectors;
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    let b = Histogram::bounds_from_string(b"1ms,5ms").unwrap();
    s.create_region_with(&RegionSpec::range(Sectors(0), Sectors(100)).area_size(Sectors(50)))
        .unwrap();
    s.create_region_with(
        &RegionSpec::range(Sectors(100), Sectors(10))
            .areas(1)
            .user_data(b"u"),
    )
    .unwrap();
    s.create_region_with(&RegionSpec::whole_device().areas(2).histogram(&b))
        .unwrap();
    s.create_region_with(
        &RegionSpec::whole_device()
            .precise(true)
            .program_id(b"other")
            .user_data(b"xyz"),
    )
    .unwrap();
    assert_eq!(
        k.sent(),
        vec![
            "@stats_create 0+100 50  dmstats ",
            "@stats_create 100+10 /1  dmstats u",
            "@stats_create - /2 1  histogram:1,5 dmstats ",
            "@stats_create - /1 1 precise_timestamps  other xyz",
        ]
    );
    // Nothing is sent for a spec that does not make sense.
    let e = s
        .create_region_with(&RegionSpec::whole_device().areas(0))
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
    assert_eq!(k.sent().len(), 4);
}

#[test]
fn precise_and_histograms() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    let b = Histogram::bounds_from_string(b"1ms,5ms").unwrap();
    assert_eq!(
        s.create_region(0, 0, -2, false, Some(&b), None, b"")
            .unwrap(),
        0
    );
    let b2 = Histogram::bounds_from_string(b"500us,1ms").unwrap();
    assert_eq!(
        s.create_region(0, 0, -1, false, Some(&b2), None, b"ab")
            .unwrap(),
        1
    );
    assert_eq!(
        s.create_region(0, 0, -1, true, None, None, b"xyz").unwrap(),
        2
    );
    assert_eq!(
        k.sent(),
        vec![
            "@stats_create - /2 1  histogram:1,5 dmstats ",
            "@stats_create - /1 2 precise_timestamps histogram:500000,1000000 dmstats ab",
            "@stats_create - /1 1 precise_timestamps  dmstats xyz",
        ]
    );
    k.set_area(0, 0, counters(1), &[4, 2, 1]);
    k.set_area(0, 1, counters(1), &[1, 0, 3]);
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert!(!s.region_precise_timestamps(0));
    assert!(s.region_precise_timestamps(1));
    assert!(s.region_precise_timestamps(2));
    // Stock drops the last character of aux_data on precise lines.
    assert_eq!(s.region_aux_data(1), b"a");
    assert_eq!(s.region_aux_data(2), b"xy");
    // Precise counters are not scaled.
    assert_eq!(s.counter(Counter::ReadNsecs, 2, 0).unwrap(), 0);
    assert_eq!(s.region_nr_histogram_bins(0), 3);
    assert_eq!(s.region_nr_histogram_bins(2), 0);
    let h = s.histogram(0, 0).unwrap();
    assert_eq!(
        h.bins()[0],
        Bin {
            upper: 1_000_000,
            count: 4
        }
    );
    assert_eq!(h.bins()[2].upper, u64::MAX);
    assert_eq!(h.sum(), 7);
    let agg = s.histogram(0, R).unwrap();
    let counts: Vec<u64> = agg.bins().iter().map(|b| b.count).collect();
    assert_eq!(counts, vec![5, 2, 4]);
    assert_eq!(agg.sum(), 11);
    assert_eq!(
        agg.to_string_with(None, 0, HistogramFlags::from_bits_retain(0x33))
            .unwrap(),
        "0s-1ms:     5,1ms-5ms:    2,  >5ms:     4"
    );
    let h1 = s.histogram(1, 0).unwrap();
    assert_eq!(h1.bins()[0].upper, 500_000);
    assert!(s.histogram(2, 0).is_none());
    // Listed but not populated: the bounds.
    s.list(None).unwrap();
    assert_eq!(s.histogram(0, 0).unwrap().sum(), 0);

    // A driver without precise timestamps refuses quietly.
    let old = FakeKernel {
        version: [4, 32, 0],
        ..FakeKernel::new(10)
    };
    let mut s = handle(&old);
    assert!(!s.driver_supports_precise());
    let e = s
        .create_region(0, 0, -1, true, None, None, b"")
        .unwrap_err();
    assert_eq!(e.kind(), StatsErrorKind::Unsupported);
    let e = s
        .create_region(0, 0, -1, false, Some(&b), None, b"")
        .unwrap_err();
    assert_eq!(e.kind(), StatsErrorKind::Unsupported);
    assert!(old.sent().is_empty());
    // The compat entry points skip the check.
    s.create_region_compat(0, 0, -1, true, None, b"").unwrap();
}

#[test]
fn groups_aliases_and_aux_data() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    for i in 0..4u64 {
        s.create_region(
            i * 100,
            100,
            -1,
            false,
            None,
            None,
            if i == 1 { b"u1" } else { b"" },
        )
        .unwrap();
    }
    let e = s.create_group(b"1-2", None).unwrap_err();
    assert_eq!(e.to_string(), "Could not create group: no regions found.");
    s.list(None).unwrap();
    k.clear_sent();
    assert_eq!(s.create_group(b"1-3", Some(b"mygroup")).unwrap(), 1);
    assert_eq!(k.sent(), vec!["@stats_set_aux 1 DMS_GROUP=mygroup:1-3#u1 "]);
    assert_eq!(k.regions.borrow()[&1].aux, "DMS_GROUP=mygroup:1-3#u1");
    // Stock does not mark the members until the next list.
    assert_eq!(s.group_id(2), DM_STATS_GROUP_NONE);
    assert!(s.group_present(1));
    s.list(None).unwrap();
    assert_eq!(s.group_id(2), 1);
    assert_eq!(s.group_id(0), DM_STATS_GROUP_NONE);
    assert_eq!(s.region_aux_data(1), b"u1");
    assert_eq!(s.alias(3), Some(&b"mygroup"[..]));
    assert_eq!(s.alias(G | 1), Some(&b"mygroup"[..]));
    assert_eq!(s.alias(0), Some(&b"fakedev"[..]));
    assert_eq!(s.group_descriptor(1).unwrap(), "1-3");
    assert_eq!(s.nr_groups(), 1);

    // Errors with stock wording.
    assert_eq!(
        s.create_group(b"0,2", None).unwrap_err().to_string(),
        "Region ID 2 already a member of group ID 1"
    );
    assert_eq!(
        s.create_group(b"0,9", None).unwrap_err().to_string(),
        "Invalid region ID: 9"
    );
    assert_eq!(
        s.create_group(b"", None).unwrap_err().to_string(),
        "Invalid region ID: -1"
    );
    assert_eq!(
        s.create_group(b"x", None).unwrap_err().to_string(),
        "Could not parse list: 'x'"
    );
    assert_eq!(
        s.set_alias(0, b"a").unwrap_err().to_string(),
        "Cannot set alias for ungrouped region ID 0"
    );
    assert_eq!(
        s.set_alias(2, b"a").unwrap_err().to_string(),
        "Cannot set alias for group member 2."
    );
    assert_eq!(
        s.delete_group(0, false).unwrap_err().to_string(),
        "Group ID 0 does not exist"
    );
    assert_eq!(
        s.delete_group(7, false).unwrap_err().to_string(),
        "Invalid group ID: 7"
    );

    k.clear_sent();
    s.set_alias(1, b"renamed").unwrap();
    assert_eq!(k.sent(), vec!["@stats_set_aux 1 DMS_GROUP=renamed:1-3#u1 "]);

    // Group totals.
    k.set_area(1, 0, counters(1), &[]);
    k.set_area(2, 0, counters(2), &[]);
    k.set_area(3, 0, counters(3), &[]);
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(s.counter(Counter::Reads, G | 1, G).unwrap(), 6);
    assert_eq!(s.counter(Counter::Reads, G | 1, 0).unwrap(), 6);
    // Group length: the members' sum (stock sums the cursor's group).
    s.walk_init(DM_STATS_WALK_GROUP).unwrap();
    s.walk_start();
    assert_eq!(s.cursor_state().3, 1);
    assert_eq!(s.region_len(G).unwrap(), 300);
    assert_eq!(s.region_start(G).unwrap(), 100);
    assert_eq!(s.region_area_len(G).unwrap(), 300);
    assert_eq!(s.region_program_id(G), b"dmstats");
    assert_eq!(s.region_aux_data(G), b"");
    assert_eq!(s.group_id(G), 1);
    assert_eq!(s.current_nr_areas(), 1);
    assert_eq!(s.object_type(G | 1, 0), ObjectType::Group);
    assert_eq!(s.object_type(G | 2, 0), ObjectType::None);
    assert_eq!(s.object_type(9, 0), ObjectType::None);
    s.set_sampling_interval_ns(1_000_000_000);
    assert_eq!(
        s.metric(
            Metric::ReadsPerSec,
            DM_STATS_REGION_CURRENT,
            DM_STATS_AREA_CURRENT
        )
        .unwrap(),
        6.0
    );

    // Deleting a member rewrites the leader's tag.
    k.clear_sent();
    s.delete_region(3).unwrap();
    assert_eq!(
        k.sent(),
        vec![
            "@stats_set_aux 1 DMS_GROUP=renamed:1-2#u1 ",
            "@stats_delete 3"
        ]
    );
    // Ungroup: the tag goes, the user aux_data stays.
    s.list(None).unwrap();
    k.clear_sent();
    s.delete_group(1, false).unwrap();
    assert_eq!(k.sent(), vec!["@stats_set_aux 1 u1 "]);
    s.list(None).unwrap();
    assert_eq!(s.nr_groups(), 0);
    assert_eq!(s.region_aux_data(1), b"u1");

    // Group and delete with regions.
    s.create_group(b"0-2", None).unwrap();
    s.list(None).unwrap();
    k.clear_sent();
    s.delete_group(0, true).unwrap();
    assert_eq!(
        k.sent(),
        vec![
            "@stats_set_aux 0 DMS_GROUP=:0-1#- ",
            "@stats_delete 2",
            "@stats_set_aux 0 DMS_GROUP=:0#- ",
            "@stats_delete 1",
            "@stats_delete 0"
        ]
    );
    assert!(k.regions.borrow().is_empty());
}

#[test]
fn foreign_and_broken_group_tags_are_read_as_stock_reads_them() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    for _ in 0..3 {
        s.create_region(0, 10, -1, false, None, None, b"").unwrap();
    }
    // A tag whose leader is not its region: logged, aux cut at the ':'.
    k.regions.borrow_mut().get_mut(&2).unwrap().aux = "DMS_GROUP=bad:0-1#-".into();
    // A tag with a missing member (written by someone else).
    k.regions.borrow_mut().get_mut(&0).unwrap().aux = "DMS_GROUP=g:0,1,5#note".into();
    s.list(None).unwrap();
    assert_eq!(s.region_aux_data(2), b"DMS_GROUP=bad");
    assert!(!s.group_present(2));
    assert!(s.group_present(0));
    assert_eq!(s.region_aux_data(0), b"note");
    // Group led by 0: stock skips the member check; member 5 is ignored
    // where stock would read past its table.
    assert_eq!(s.group_descriptor(0).unwrap(), "0-1,5");
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(s.counter(Counter::Reads, G, G).unwrap_or(0), 0);
}

#[test]
fn print_and_clear_region() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    s.create_region(0, 100, 25, false, None, None, b"").unwrap();
    k.set_area(0, 2, counters(7), &[]);
    let t = s.print_region(0, 2, 1, false).unwrap();
    assert_eq!(t, b"50+25 7 8 9 10 11 12 13 14 0 16 17 18 19\n");
    assert_eq!(k.sent().last().unwrap(), "@stats_print 0 2 1");
    s.clear_region(0).unwrap();
    let t = s.print_region(0, 0, 0, true).unwrap();
    assert_eq!(
        t.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count(),
        4
    );
    assert_eq!(k.sent().last().unwrap(), "@stats_print_clear 0 ");
    assert!(s.print_region(G, 0, 0, false).is_err());
    let e = s.clear_region(9).unwrap_err();
    assert_eq!(e.kind(), StatsErrorKind::Kernel);
    assert_eq!(e.errno(), Some(libc::ENOENT));
}

#[test]
fn program_ids() {
    let k = FakeKernel::new(1000);
    let mut s = handle(&k);
    assert_eq!(
        s.set_program_id(false, Some(b"")).unwrap_err().to_string(),
        "Empty program_id not permitted without allow_empty=1"
    );
    s.set_program_id(true, None).unwrap();
    assert_eq!(s.program_id(), b"");
    s.create_region(0, 0, -1, false, None, None, b"").unwrap();
    s.set_program_id(false, Some(b"mine")).unwrap();
    s.create_region(0, 0, -1, false, None, None, b"").unwrap();
    assert_eq!(k.sent()[0], "@stats_create - /1   ");
    s.list(None).unwrap();
    assert_eq!(s.nr_regions(), 1);
    s.list(Some(DM_STATS_ALL_PROGRAMS)).unwrap();
    assert_eq!(s.nr_regions(), 2);
    assert_eq!(s.region_program_id(0), b"", "'-' reads as empty");
}

#[test]
fn malformed_replies_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"0123456789:+ -,\nhistogram:precise_timestampsDMS_GROUP=#x";
    let bounds = Histogram::bounds_from_u64(&[5, 10]).unwrap();
    for _ in 0..20_000 {
        let n = (rnd() % 60) as usize;
        let v: Vec<u8> = (0..n)
            .map(|_| alphabet[(rnd() % alphabet.len() as u64) as usize])
            .collect();
        let _ = message::parse_list(&v);
        let _ = message::parse_print(Some(&v), 1, Some(&bounds));
        let _ = message::parse_print(Some(&v), 1_000_000, None);
        let _ = group::parse_group_tag(0, &v);
        let _ = group::parse_member_list(&v);
        let _ = Histogram::bounds_from_string(&v);
        let _ = message::parse_create_reply(Some(&v));
    }
}

fn fe(logical: u64, physical: u64, length: u64, flags: u32) -> FiemapExtent {
    FiemapExtent {
        fe_logical: logical,
        fe_physical: physical,
        fe_length: length,
        fe_flags: flags,
        ..Default::default()
    }
}

#[test]
fn extent_mapping_rules() {
    // Physically contiguous extents merge; a gap starts a new extent.
    let mut m = ExtentMapper::new();
    m.feed(&[
        fe(0, 4096, 4096, 0),
        fe(4096, 8192, 4096, FIEMAP_EXTENT_UNWRITTEN),
        fe(8192, 65536, 8192, FIEMAP_EXTENT_LAST),
    ]);
    assert!(m.eof());
    assert_eq!(
        m.extents(),
        &[
            FileExtent {
                id: 0,
                start: 8,
                len: 16
            },
            FileExtent {
                id: 1,
                start: 128,
                len: 16
            }
        ]
    );
    // Delayed allocation is skipped.
    let mut m = ExtentMapper::new();
    m.feed(&[
        fe(0, 0, 4096, FIEMAP_EXTENT_DELALLOC),
        fe(4096, 1 << 20, 4096, FIEMAP_EXTENT_LAST),
    ]);
    assert_eq!(
        m.extents(),
        &[FileExtent {
            id: 0,
            start: 2048,
            len: 8
        }]
    );
    // Extents spread over two FIEMAP calls still merge.
    let mut m = ExtentMapper::new();
    m.feed(&[fe(0, 4096, 4096, 0), fe(4096, 1 << 20, 4096, 0)]);
    assert!(!m.eof());
    assert_eq!(m.next_start(), 8192);
    assert_eq!(m.extents().len(), 1);
    m.feed(&[fe(8192, (1 << 20) + 4096, 4096, FIEMAP_EXTENT_LAST)]);
    assert_eq!(
        m.extents(),
        &[
            FileExtent {
                id: 0,
                start: 8,
                len: 8
            },
            FileExtent {
                id: 1,
                start: 2048,
                len: 16
            }
        ]
    );
}

#[test]
fn file_map_create_and_update() {
    let k = FakeKernel::new(100_000);
    let mut s = handle(&k);
    s.create_region(0, 0, -1, false, None, None, b"").unwrap(); // 0: unrelated
    let ext = |v: &[(u64, u64)]| -> Vec<FileExtent> {
        v.iter()
            .enumerate()
            .map(|(i, &(start, len))| FileExtent {
                id: i as u64,
                start,
                len,
            })
            .collect()
    };
    assert_eq!(
        s.create_regions_from_extents(Ok(ext(&[])), false, false, None, Some(b"x"))
            .unwrap_err()
            .to_string(),
        "Cannot set alias without grouping regions."
    );
    k.clear_sent();
    let ids = s
        .create_regions_from_extents(
            Ok(ext(&[(100, 8), (300, 16), (500, 8)])),
            true,
            false,
            None,
            Some(b"file"),
        )
        .unwrap();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(
        k.sent(),
        vec![
            "@stats_create 100+8 /1  dmstats ",
            "@stats_create 300+16 /1  dmstats ",
            "@stats_create 500+8 /1  dmstats ",
            "@stats_list dmstats",
            "@stats_set_aux 1 DMS_GROUP=file:1-3#- ",
        ]
    );
    // The file changed: the middle extent moved, a new one appeared.
    k.clear_sent();
    let ids = s
        .update_regions_from_extents(Ok(ext(&[(100, 8), (700, 16), (500, 8), (900, 8)])), 1)
        .unwrap();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    assert_eq!(
        k.sent(),
        // Stock does not mark members grouped until the next list, so the
        // deleted region stays in the bitmap (and its id is reused).
        vec![
            "@stats_delete 2",
            "@stats_create 700+16 /1  dmstats ",
            "@stats_create 900+8 /1  dmstats ",
            "@stats_set_aux 1 DMS_GROUP=file:1-4#- ",
            "@stats_list dmstats",
        ]
    );
    s.list(None).unwrap();
    assert_eq!(s.alias(2), Some(&b"file"[..]));
    // The leader's extent went: the group is rebuilt around the new leader.
    k.clear_sent();
    let ids = s
        .update_regions_from_extents(Ok(ext(&[(700, 16), (500, 8)])), 1)
        .unwrap();
    assert_eq!(ids, vec![2, 3]);
    s.list(None).unwrap();
    assert!(s.group_present(2));
    assert_eq!(s.alias(3), Some(&b"file"[..]));
    assert_eq!(s.group_descriptor(2).unwrap(), "2-3");
    assert_eq!(
        s.update_regions_from_extents(Ok(ext(&[])), 7)
            .unwrap_err()
            .to_string(),
        "Group ID 7 does not exist."
    );
}

#[test]
fn filemapd_arguments() {
    assert_eq!(
        filemapd_mode_from_string(None).unwrap(),
        FilemapdMode::FollowInode
    );
    assert_eq!(
        filemapd_mode_from_string(Some(b"path")).unwrap(),
        FilemapdMode::FollowPath
    );
    assert_eq!(
        filemapd_mode_from_string(Some(b"x"))
            .unwrap_err()
            .to_string(),
        "Could not parse dmfilemapd mode: x"
    );
    let e = |r: error::Result<FilemapdStart>| r.unwrap_err().to_string();
    assert_eq!(
        e(start_filemapd(
            &FAKE_CTX,
            -1,
            0,
            b"/f",
            FilemapdMode::FollowInode,
            0,
            0
        )),
        "dmfilemapd file descriptor must be non-negative: -1"
    );
    assert_eq!(
        e(start_filemapd(
            &FAKE_CTX,
            3,
            0,
            b"f",
            FilemapdMode::FollowInode,
            0,
            0
        )),
        "Path argument must specify an absolute path."
    );
    assert!(e(start_filemapd(
        &FAKE_CTX,
        3,
        0,
        b"/f",
        FilemapdMode::FollowNone,
        0,
        0
    ))
    .starts_with("Invalid dmfilemapd mode"));
    assert_eq!(
        e(start_filemapd(
            &FAKE_CTX,
            3,
            0,
            b"/f",
            FilemapdMode::FollowInode,
            2,
            0
        )),
        "Invalid dmfilemapd foreground argument. Must be 0 or 1: 2."
    );
    assert_eq!(
        e(start_filemapd(
            &FAKE_CTX,
            3,
            0,
            b"/f",
            FilemapdMode::FollowInode,
            0,
            4
        )),
        "Invalid dmfilemapd verbose argument. Must be 0..3: 4."
    );
    assert_eq!(
        e(start_filemapd(
            &FAKE_CTX,
            3,
            12_345_678,
            b"/f",
            FilemapdMode::FollowInode,
            0,
            0
        )),
        "Could not format group_id argument."
    );
    // Without a dmfilemapd on PATH (Debian ships none) the background mode
    // reports stock's child error line.
    if std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).all(|d| !d.join("dmfilemapd").exists()))
    {
        let r = start_filemapd(&FAKE_CTX, 0, 1, b"/f", FilemapdMode::FollowPath, 0, 0).unwrap();
        assert_eq!(
            r,
            FilemapdStart::ExecFailed {
                log_line: "dmfilemapd: execvp failed: No such file or directory".into()
            }
        );
    }
}

/// Replies recorded from a 6.1 kernel (`tests/stats_kernel.rs` with
/// `DMRS_STATS_FIXTURES`), replayed.
struct Replay;

const FX_LIST: &[u8] = include_bytes!("../../tests/fixtures/stats/list.txt");
const FX_AREAS: &[u8] = include_bytes!("../../tests/fixtures/stats/print-areas.txt");
const FX_HIST: &[u8] = include_bytes!("../../tests/fixtures/stats/print-histogram.txt");
const FX_PRECISE: &[u8] = include_bytes!("../../tests/fixtures/stats/print-precise.txt");
const FX_ROWS: &[u8] = include_bytes!("../../tests/fixtures/stats/print-rows.txt");

impl StatsTransport for Replay {
    fn context(&self) -> &crate::Context {
        &FAKE_CTX
    }
    fn message(
        &self,
        _dev: &StatsDevice,
        _sector: u64,
        msg: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let r: &[u8] = match msg {
            b"@stats_list dmstats" => FX_LIST,
            b"@stats_print_clear 0 " => FX_AREAS,
            b"@stats_print_clear 1 " => FX_HIST,
            b"@stats_print_clear 2 " => FX_PRECISE,
            b"@stats_print_clear 3 " => {
                b"8192+4096 1 0 8 2 0 0 0 0 0 2 2 2 0\n12288+4096 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            }
            b"@stats_print 3 1 1" => FX_ROWS,
            _ => return Err(einval()),
        };
        Ok(Some(r.to_vec()))
    }
    fn device_name(&self, _dev: &StatsDevice) -> Result<Vec<u8>, TransportError> {
        Ok(b"rsstats-replies".to_vec())
    }
    fn driver_version(&self) -> Result<[u32; 3], TransportError> {
        Ok([4, 47, 0])
    }
    fn is_dm_major(&self, _major: u32) -> bool {
        true
    }
}

#[test]
fn real_kernel_replies() {
    let l = message::parse_list(FX_LIST).unwrap();
    assert_eq!(l.len(), 4);
    assert_eq!((l[3].start, l[3].len, l[3].step), (8192, 8192, 4096));
    assert_eq!(l[1].aux_data, b"fo");
    assert_eq!(l[2].timescale, 1);

    let mut s = Stats::new(Replay, Some(b"dmstats")).unwrap();
    s.bind_name(b"rsstats-replies");
    s.populate(None, DM_STATS_REGIONS_ALL).unwrap();
    assert_eq!(s.nr_regions(), 4);
    assert_eq!(s.nr_groups(), 1);
    assert_eq!(s.alias(3), Some(&b"grp"[..]));
    assert_eq!(
        s.region_aux_data(2),
        b"b",
        "chopped again on this precise line"
    );
    assert_eq!(s.alias(0), Some(&b"rsstats-replies"[..]));
    // Region 0: four areas, 10 reads in the first, 4 writes in the second.
    assert_eq!(s.region_nr_areas(0), 4);
    assert_eq!(s.counter(Counter::Reads, 0, 0).unwrap(), 10);
    assert_eq!(s.counter(Counter::ReadsMerged, 0, 0).unwrap(), 9);
    assert_eq!(s.counter(Counter::WriteSectors, 0, 1).unwrap(), 32);
    assert_eq!(s.counter(Counter::Writes, 0, R).unwrap(), 4);
    // Region 1's histogram: every I/O under 1ms.
    let h = s.histogram(1, 0).unwrap();
    assert_eq!(h.sum(), 14);
    assert_eq!(
        h.bins()[0],
        Bin {
            upper: 1_000_000,
            count: 14
        }
    );
    assert_eq!(
        h.to_string_with(None, -1, HistogramFlags::from_bits_retain(0x33))
            .unwrap(),
        "0s-1ms:14:1ms-10ms:0:>10ms:0"
    );
    // Region 2 counts nanoseconds; region 0 milliseconds.
    assert_eq!(s.counter(Counter::ReadNsecs, 2, 0).unwrap(), 74632);
    assert_eq!(s.counter(Counter::IoNsecs, 2, 0).unwrap(), 21813);
    // The group (2, 3) totals, through the cursor.
    s.walk_init(DM_STATS_WALK_GROUP).unwrap();
    s.walk_start();
    assert_eq!(s.current_object_type(), ObjectType::Group);
    assert_eq!(
        s.counter(
            Counter::Reads,
            DM_STATS_REGION_CURRENT,
            DM_STATS_AREA_CURRENT
        )
        .unwrap(),
        11
    );
    assert_eq!(s.region_len(G).unwrap(), 16384);
    s.set_sampling_interval_ms(1000);
    assert_eq!(s.metric(Metric::ReadsPerSec, G, G).unwrap(), 11.0);
    assert_eq!(
        s.metric(Metric::AverageRequestSize, G, G).unwrap(),
        88.0 / 11.0
    );
    // A row range.
    assert_eq!(s.print_region(3, 1, 1, false).unwrap(), FX_ROWS);
}

/// `dm_histogram_to_string` of stock libdevmapper 1.02.185 (called through
/// ctypes in the VM on a populated region), for every flag combination,
/// several widths and bins; ours must print the same bytes.
#[test]
fn histogram_strings_match_stock() {
    const FX: &str = include_str!("../../tests/fixtures/stats/histogram-to-string.txt");
    let h = Histogram::from_bins(vec![
        Bin {
            upper: 20_000,
            count: 653,
        },
        Bin {
            upper: 60_000,
            count: 6,
        },
        Bin {
            upper: 150_000,
            count: 0,
        },
        Bin {
            upper: 1_000_000,
            count: 1,
        },
        Bin {
            upper: u64::MAX,
            count: 0,
        },
    ]);
    let pct: Vec<i32> = (0..5).map(|b| h.bin_percent(b).unwrap()).collect();
    assert_eq!(pct, vec![98_939_393, 909_090, 0, 151_515, 0]);
    let mut n = 0;
    for line in FX.lines() {
        let (key, want) = line.split_once('\t').unwrap();
        let k: Vec<i32> = key.split(' ').map(|x| x.parse().unwrap()).collect();
        let bin = usize::try_from(k[2]).ok();
        let got = h
            .to_string_with(bin, k[1], HistogramFlags::from_bits_retain(k[0] as u32))
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_deref(),
            Ok(want),
            "flags {:#x} width {} bin {}",
            k[0],
            k[1],
            k[2]
        );
        n += 1;
    }
    assert_eq!(n, 460);
}

/// Stock (1.02.185, via ctypes in the VM) maps a file with bounds 1ms,2ms,
/// then after the file grew sends for the new extent:
/// `... 2 precise_timestamps histogram:1000000,2000000,18446744073709551615`
/// (it copies the leader's bounds with their final u64::MAX bin).
#[test]
fn file_map_update_with_histogram_as_stock() {
    let k = FakeKernel::new(200_000);
    let mut s = handle(&k);
    let b = Histogram::bounds_from_string(b"1ms,2ms").unwrap();
    let one = vec![FileExtent {
        id: 0,
        start: 17410,
        len: 1024,
    }];
    let ids = s
        .create_regions_from_extents(Ok(one.clone()), true, false, Some(&b), Some(b"x"))
        .unwrap();
    assert_eq!(ids, vec![0]);
    assert_eq!(
        k.sent()[0],
        "@stats_create 17410+1024 /1 1  histogram:1,2 dmstats "
    );
    assert_eq!(k.regions.borrow()[&0].aux, "DMS_GROUP=x:0#-");
    let mut two = one;
    two.push(FileExtent {
        id: 1,
        start: 22018,
        len: 512,
    });
    k.clear_sent();
    assert_eq!(
        s.update_regions_from_extents(Ok(two), 0).unwrap(),
        vec![0, 1]
    );
    assert_eq!(
        k.sent()[0],
        "@stats_create 22018+512 /1 2 precise_timestamps histogram:1000000,2000000,18446744073709551615 dmstats "
    );
    assert_eq!(k.regions.borrow()[&0].aux, "DMS_GROUP=x:0-1#-");
}

/// Counters and all 14 metrics as stock `dm_stats_get_counter` /
/// `dm_stats_get_metric` / `dm_stats_get_utilization` returned them on a
/// populated 6.1 handle (ctypes in the VM; areas, a region aggregate and a
/// precise region; three intervals). Ours must give the same bits.
#[test]
fn metrics_match_stock_bit_for_bit() {
    const FX: &str = include_str!("../../tests/fixtures/stats/metrics-stock.txt");
    fn hexf(s: &str) -> f64 {
        if s == "0x0.0p+0" {
            return 0.0;
        }
        let (mant, exp) = s.strip_prefix("0x1.").unwrap().split_once('p').unwrap();
        let exp: i64 = exp.parse().unwrap();
        let frac = u64::from_str_radix(&format!("{mant:0<13}"), 16).unwrap();
        f64::from_bits((((exp + 1023) as u64) << 52) | frac)
    }
    let mut n = 0;
    for line in FX.lines() {
        let mut parts = line.split(" | ");
        let head: Vec<u64> = parts
            .next()
            .unwrap()
            .split(' ')
            .map(|x| x.parse().unwrap())
            .collect();
        let iv = head[0];
        let v = &head[1..];
        let c = Counters {
            reads: v[0],
            reads_merged: v[1],
            read_sectors: v[2],
            read_nsecs: v[3],
            writes: v[4],
            writes_merged: v[5],
            write_sectors: v[6],
            write_nsecs: v[7],
            io_in_progress: v[8],
            io_nsecs: v[9],
            weighted_io_nsecs: v[10],
            total_read_nsecs: v[11],
            total_write_nsecs: v[12],
        };
        let metrics: Vec<&str> = parts.next().unwrap().split(' ').collect();
        for (i, want) in metrics.iter().enumerate() {
            let m = Metric::from_raw(i as i32).unwrap();
            let got = metrics::compute(m, &c, iv).unwrap();
            assert_eq!(
                got.to_bits(),
                hexf(want).to_bits(),
                "{m:?} interval {iv} counters {v:?}"
            );
        }
        let util: i32 = parts.next().unwrap().trim().parse().unwrap();
        let u = metrics::compute(Metric::Utilization, &c, iv).unwrap();
        assert_eq!(metrics::utilization_percent(u), util);
        n += 1;
    }
    assert_eq!(n, 12);
}

/// Walks of stock libdevmapper (ctypes in the VM) over regions 0..6 with 2
/// deleted, areas of 1 to 5, groups {1,3} "ga" and {5,6}: every flag
/// combination with walk_next and walk_next_region, and nr_areas, first on
/// a listed then on a populated handle. Ours must visit the same objects.
#[test]
fn walks_match_stock() {
    const FX: &str = include_str!("../../tests/fixtures/stats/walk-stock.txt");
    let k = FakeKernel::new(1000);
    for m in [
        "@stats_create - /1 dmstats",
        "@stats_create 0+100 50 dmstats",
        "@stats_create 0+10 /1 dmstats",
        "@stats_create 0+10 /1 dmstats",
        "@stats_create 0+90 30 dmstats",
        "@stats_create 0+50 /5 dmstats",
        "@stats_create 100+10 /1 dmstats",
        "@stats_delete 2",
        "@stats_set_aux 1 DMS_GROUP=ga:1,3#-",
        "@stats_set_aux 5 DMS_GROUP=:5-6#-",
    ] {
        k.handle(m).unwrap();
    }
    let mut s = handle(&k);
    let mut phase = "";
    let mut checked = 0;
    for line in FX.lines() {
        if line.starts_with("LIST ") {
            continue;
        }
        let mut w = line.split(' ');
        let p = w.next().unwrap();
        if p != phase {
            phase = p;
            match p {
                "list" => s.list(None).unwrap(),
                "populate" => s.populate(None, DM_STATS_REGIONS_ALL).unwrap(),
                _ => panic!("{line}"),
            }
        }
        let second = w.next().unwrap();
        if second == "nr_areas" {
            // "<phase> nr_areas N nr_groups M"
            assert_eq!(
                w.next().unwrap().parse::<u64>().unwrap(),
                s.nr_areas(),
                "{line}"
            );
            w.next();
            assert_eq!(
                w.next().unwrap().parse::<u64>().unwrap(),
                s.nr_groups(),
                "{line}"
            );
            checked += 1;
            continue;
        }
        let flags = u64::from_str_radix(second.trim_start_matches("0x"), 16).unwrap();
        let mode = w.next().unwrap();
        let rest: Vec<&str> = w.collect();
        if mode == "nr_areas" {
            assert_eq!(rest[0].parse::<u64>().unwrap(), s.nr_areas(), "{line}");
            assert_eq!(
                rest[1].parse::<u64>().unwrap(),
                s.current_nr_areas(),
                "{line}"
            );
            checked += 1;
            continue;
        }
        s.walk_init(flags).unwrap();
        s.walk_start();
        let mut got = Vec::new();
        while !s.walk_end() && got.len() < 200 {
            got.push(format!(
                "{}/{}/{}",
                s.current_region(),
                s.current_area(),
                s.current_object_type() as i32
            ));
            if mode == "next_region" {
                s.walk_next_region();
            } else {
                s.walk_next();
            }
        }
        assert_eq!(got, rest, "{line}");
        checked += 1;
    }
    assert_eq!(checked, 68);
}
