//! `raid` (dm-raid: MD RAID personalities behind device-mapper).

use super::{
    parse_num, parse_ratio, Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams,
    TargetStatus, Tokens,
};
use crate::secret::Secret;

macro_rules! raid_types {
    ($($v:ident => $s:literal),* $(,)?) => {
        /// A RAID type (level and layout).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum RaidType {
            $(#[doc = concat!("`", $s, "`")] $v,)*
        }

        impl RaidType {
            /// The kernel's name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RaidType::$v => $s,)*
                }
            }

            /// Look up a kernel name.
            pub fn from_name(name: &[u8]) -> Option<RaidType> {
                match name {
                    $(n if n.eq_ignore_ascii_case($s.as_bytes()) => Some(RaidType::$v),)*
                    _ => None,
                }
            }
        }
    };
}

raid_types! {
    Raid0 => "raid0",
    Raid1 => "raid1",
    Raid10 => "raid10",
    Raid10Near => "raid10_near",
    Raid10Far => "raid10_far",
    Raid10Offset => "raid10_offset",
    Raid4 => "raid4",
    Raid5N => "raid5_n",
    Raid5Ls => "raid5_ls",
    Raid5Rs => "raid5_rs",
    Raid5La => "raid5_la",
    Raid5Ra => "raid5_ra",
    Raid6Zr => "raid6_zr",
    Raid6Nr => "raid6_nr",
    Raid6Nc => "raid6_nc",
    Raid6N6 => "raid6_n_6",
    Raid6Ls6 => "raid6_ls_6",
    Raid6Rs6 => "raid6_rs_6",
    Raid6La6 => "raid6_la_6",
    Raid6Ra6 => "raid6_ra_6",
}

/// The layout of RAID10 copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raid10Format {
    /// `near`
    Near,
    /// `far`
    Far,
    /// `offset`
    Offset,
}

/// The caching mode of a RAID4/5/6 journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaidJournalMode {
    /// `writethrough`
    Writethrough,
    /// `writeback`
    Writeback,
}

/// The optional raid parameters, printed in the kernel's order (repeated
/// ones sorted by value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaidOptions {
    /// `sync`: force initialisation.
    pub sync: bool,
    /// `nosync`: skip initialisation.
    pub nosync: bool,
    /// `rebuild <idx>`, repeatable.
    pub rebuild: Vec<u32>,
    /// `daemon_sleep <ms>`: bitmap daemon interval.
    pub daemon_sleep: Option<u64>,
    /// `min_recovery_rate <kB/s/disk>`
    pub min_recovery_rate: Option<u32>,
    /// `max_recovery_rate <kB/s/disk>`
    pub max_recovery_rate: Option<u32>,
    /// `write_mostly <idx>`, repeatable.
    pub write_mostly: Vec<u32>,
    /// `max_write_behind <n>` (the kernel prints back half the loaded value).
    pub max_write_behind: Option<u64>,
    /// `stripe_cache <n>` (RAID4/5/6).
    pub stripe_cache: Option<u32>,
    /// `region_size <sectors>`
    pub region_size: Option<u64>,
    /// `raid10_copies <n>`
    pub raid10_copies: Option<u32>,
    /// `raid10_format <near|far|offset>`
    pub raid10_format: Option<Raid10Format>,
    /// `delta_disks <n>`: devices to add (positive) or remove (negative).
    pub delta_disks: Option<i32>,
    /// `data_offset <sectors>`
    pub data_offset: Option<u64>,
    /// `raid10_use_near_sets` (accepted, never printed back by the kernel).
    pub raid10_use_near_sets: bool,
    /// `journal_dev <dev>`
    pub journal_dev: Option<DevRef>,
    /// `journal_mode <writethrough|writeback>`
    pub journal_mode: Option<RaidJournalMode>,
}

/// One metadata/data device pair; `-` (`None`) for a missing device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaidDevice {
    /// The metadata device (superblock and bitmap).
    pub metadata: Option<DevRef>,
    /// The data device.
    pub data: Option<DevRef>,
}

/// `raid`: `<raid type> <#raid params> <chunk size> <raid params>...
/// <#raid devs> <metadata dev> <data dev>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaidParams {
    /// The RAID type.
    pub raid_type: RaidType,
    /// Chunk size in sectors (0 for raid1).
    pub chunk_size: u32,
    /// Optional parameters.
    pub options: RaidOptions,
    /// The devices, in order.
    pub devices: Vec<RaidDevice>,
}

impl TargetParams for RaidParams {
    const TARGET_TYPE: &'static str = "raid";

    fn to_params(&self) -> Secret {
        let r = &self.options;
        let mut rebuild = r.rebuild.clone();
        rebuild.sort_unstable();
        let mut write_mostly = r.write_mostly.clone();
        write_mostly.sort_unstable();
        let singles = [
            r.daemon_sleep.is_some(),
            r.min_recovery_rate.is_some(),
            r.max_recovery_rate.is_some(),
            r.max_write_behind.is_some(),
            r.stripe_cache.is_some(),
            r.region_size.is_some(),
            r.raid10_copies.is_some(),
            r.raid10_format.is_some(),
            r.delta_disks.is_some(),
            r.data_offset.is_some(),
            r.journal_dev.is_some(),
            r.journal_mode.is_some(),
        ];
        let count = 1
            + u64::from(r.sync)
            + u64::from(r.nosync)
            + u64::from(r.raid10_use_near_sets)
            + 2 * (rebuild.len() + write_mostly.len()) as u64
            + 2 * singles.iter().filter(|&&b| b).count() as u64;
        let mut o = Out::new();
        o.word(self.raid_type.as_str());
        o.num(count);
        o.num(self.chunk_size);
        if r.sync {
            o.word("sync");
        }
        if r.nosync {
            o.word("nosync");
        }
        for i in &rebuild {
            o.word("rebuild");
            o.num(*i);
        }
        let num = |o: &mut Out, k: &str, v: Option<u64>| {
            if let Some(v) = v {
                o.word(k);
                o.num(v);
            }
        };
        num(&mut o, "daemon_sleep", r.daemon_sleep);
        num(
            &mut o,
            "min_recovery_rate",
            r.min_recovery_rate.map(u64::from),
        );
        num(
            &mut o,
            "max_recovery_rate",
            r.max_recovery_rate.map(u64::from),
        );
        for i in &write_mostly {
            o.word("write_mostly");
            o.num(*i);
        }
        num(&mut o, "max_write_behind", r.max_write_behind);
        num(&mut o, "stripe_cache", r.stripe_cache.map(u64::from));
        num(&mut o, "region_size", r.region_size);
        num(&mut o, "raid10_copies", r.raid10_copies.map(u64::from));
        if let Some(f) = r.raid10_format {
            o.word("raid10_format");
            o.word(match f {
                Raid10Format::Near => "near",
                Raid10Format::Far => "far",
                Raid10Format::Offset => "offset",
            });
        }
        if let Some(d) = r.delta_disks {
            o.word("delta_disks");
            o.word(&d.to_string());
        }
        num(&mut o, "data_offset", r.data_offset);
        if r.raid10_use_near_sets {
            o.word("raid10_use_near_sets");
        }
        if let Some(d) = &r.journal_dev {
            o.word("journal_dev");
            o.dev(d);
        }
        if let Some(m) = r.journal_mode {
            o.word("journal_mode");
            o.word(match m {
                RaidJournalMode::Writethrough => "writethrough",
                RaidJournalMode::Writeback => "writeback",
            });
        }
        o.num(self.devices.len() as u64);
        for d in &self.devices {
            o.opt_dev(&d.metadata);
            o.opt_dev(&d.data);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<RaidParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let t = a.next("raid type")?;
        let raid_type = RaidType::from_name(t).ok_or_else(|| {
            a.err_prev_quoting("raid type", ParseErrorKind::Invalid("a raid type"), t)
        })?;
        let n = a.count("raid parameter count")?;
        if n == 0 {
            return Err(a.err_prev("raid parameter count", ParseErrorKind::OutOfRange));
        }
        let mut g = a.group(n);
        let chunk_size = g.u32("chunk size")?;
        let options = parse_options(&mut g)?;
        let nd = a.u32_in("raid device count", 1, 253)? as usize;
        let mut devices = Vec::with_capacity(nd);
        for _ in 0..nd {
            devices.push(RaidDevice {
                metadata: a.opt_dev("metadata device")?,
                data: a.opt_dev("data device")?,
            });
        }
        a.finish()?;
        Ok(RaidParams {
            raid_type,
            chunk_size,
            options,
            devices,
        })
    }
}

fn parse_i32(t: &[u8]) -> Option<i32> {
    let (neg, digits) = match t.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, t.strip_prefix(b"+").unwrap_or(t)),
    };
    let v = i64::try_from(parse_num(digits).ok()?).ok()?;
    i32::try_from(if neg { -v } else { v }).ok()
}

fn parse_options(g: &mut Args<'_>) -> Result<RaidOptions, ParseError> {
    let mut r = RaidOptions::default();
    while !g.is_empty() {
        let key = g.next("raid parameter")?;
        let is = |k: &str| key.eq_ignore_ascii_case(k.as_bytes());
        if is("sync") {
            r.sync = true;
        } else if is("nosync") {
            r.nosync = true;
        } else if is("raid10_use_near_sets") {
            r.raid10_use_near_sets = true;
        } else if is("raid10_format") {
            let v = g.next("raid10_format")?;
            r.raid10_format = Some(match v {
                b"near" => Raid10Format::Near,
                b"far" => Raid10Format::Far,
                b"offset" => Raid10Format::Offset,
                _ => {
                    return Err(g.err_prev(
                        "raid10_format",
                        ParseErrorKind::Invalid("near, far or offset"),
                    ))
                }
            });
        } else if is("journal_dev") {
            r.journal_dev = Some(g.dev("journal_dev")?);
        } else if is("journal_mode") {
            let v = g.next("journal_mode")?;
            r.journal_mode = Some(if v.eq_ignore_ascii_case(b"writethrough") {
                RaidJournalMode::Writethrough
            } else if v.eq_ignore_ascii_case(b"writeback") {
                RaidJournalMode::Writeback
            } else {
                return Err(g.err_prev(
                    "journal_mode",
                    ParseErrorKind::Invalid("writethrough or writeback"),
                ));
            });
        } else if is("delta_disks") {
            let v = g.next("delta_disks")?;
            r.delta_disks = Some(
                parse_i32(v)
                    .ok_or_else(|| g.err_prev("delta_disks", ParseErrorKind::ExpectedNumber))?,
            );
        } else if is("rebuild") {
            r.rebuild.push(g.u32("rebuild")?);
        } else if is("write_mostly") {
            r.write_mostly.push(g.u32("write_mostly")?);
        } else if is("daemon_sleep") {
            r.daemon_sleep = Some(g.u64("daemon_sleep")?);
        } else if is("min_recovery_rate") {
            r.min_recovery_rate = Some(g.u32("min_recovery_rate")?);
        } else if is("max_recovery_rate") {
            r.max_recovery_rate = Some(g.u32("max_recovery_rate")?);
        } else if is("max_write_behind") {
            r.max_write_behind = Some(g.u64("max_write_behind")?);
        } else if is("stripe_cache") {
            r.stripe_cache = Some(g.u32("stripe_cache")?);
        } else if is("region_size") {
            r.region_size = Some(g.u64("region_size")?);
        } else if is("raid10_copies") {
            r.raid10_copies = Some(g.u32("raid10_copies")?);
        } else if is("data_offset") {
            r.data_offset = Some(g.u64("data_offset")?);
        } else {
            return Err(g.err_prev_quoting("raid parameter", ParseErrorKind::UnknownFeature, key));
        }
    }
    if r.sync && r.nosync {
        return Err(g.err_prev(
            "raid parameter",
            ParseErrorKind::Conflict("sync and nosync"),
        ));
    }
    Ok(r)
}

/// The health of a raid member as reported in its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaidDeviceHealth {
    /// `A`: alive and in sync (for a journal: writethrough).
    Alive,
    /// `a`: alive, not in sync (for a journal: writeback).
    AliveNotInSync,
    /// `D`: dead (failed).
    Dead,
    /// `-`: no device.
    Missing,
}

impl RaidDeviceHealth {
    fn from_char(c: u8) -> Option<RaidDeviceHealth> {
        Some(match c {
            b'A' => RaidDeviceHealth::Alive,
            b'a' => RaidDeviceHealth::AliveNotInSync,
            b'D' => RaidDeviceHealth::Dead,
            b'-' => RaidDeviceHealth::Missing,
            _ => return None,
        })
    }
}

/// What the array is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaidSyncAction {
    /// `idle`
    Idle,
    /// `frozen`
    Frozen,
    /// `resync`
    Resync,
    /// `recover`
    Recover,
    /// `check`
    Check,
    /// `repair`
    Repair,
    /// `reshape`
    Reshape,
    /// Anything else (`undef`, or a newer kernel's word).
    Other(Vec<u8>),
}

/// `raid` status: `<raid type> <#devices> <health chars> <sync ratio>
/// <sync action> <mismatch count> <data offset> <journal char>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaidStatus {
    /// The RAID type (as reported, e.g. `raid10_offset` for a `raid10`
    /// table with the offset format).
    pub raid_type: RaidType,
    /// Per device health.
    pub health: Vec<RaidDeviceHealth>,
    /// Sectors synchronised (or reshaped).
    pub sync_done: u64,
    /// Sectors to synchronise.
    pub sync_total: u64,
    /// The current sync action (target 1.5.0+).
    pub sync_action: Option<RaidSyncAction>,
    /// Mismatches found by the last check (target 1.5.0+).
    pub mismatch_count: Option<u64>,
    /// Data offset on the member devices (target 1.9.0+).
    pub data_offset: Option<u64>,
    /// The journal device's health, `None` without a journal (`-`) or on
    /// targets before 1.10.0.
    pub journal: Option<RaidDeviceHealth>,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

impl TargetStatus for RaidStatus {
    const TARGET_TYPE: &'static str = "raid";

    fn parse(status: &[u8]) -> Result<RaidStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let t = a.next("raid type")?;
        let raid_type = RaidType::from_name(t).ok_or_else(|| {
            a.err_prev_quoting("raid type", ParseErrorKind::Invalid("a raid type"), t)
        })?;
        let n = a.u32("device count")? as usize;
        let chars = a.next("health")?;
        if chars.len() != n {
            return Err(a.err_prev(
                "health",
                ParseErrorKind::Invalid("one character per device"),
            ));
        }
        let health = chars
            .iter()
            .map(|&c| RaidDeviceHealth::from_char(c))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| a.err_prev("health", ParseErrorKind::Invalid("A, a, D or -")))?;
        let t = a.next("sync ratio")?;
        let (sync_done, sync_total) = parse_ratio(t).map_err(|k| a.err_prev("sync ratio", k))?;
        let sync_action = match a.is_empty() {
            true => None,
            false => Some(match a.next("sync action")? {
                b"idle" => RaidSyncAction::Idle,
                b"frozen" => RaidSyncAction::Frozen,
                b"resync" => RaidSyncAction::Resync,
                b"recover" => RaidSyncAction::Recover,
                b"check" => RaidSyncAction::Check,
                b"repair" => RaidSyncAction::Repair,
                b"reshape" => RaidSyncAction::Reshape,
                other => RaidSyncAction::Other(other.to_vec()),
            }),
        };
        let mismatch_count = if a.is_empty() {
            None
        } else {
            Some(a.u64("mismatch count")?)
        };
        let data_offset = if a.is_empty() {
            None
        } else {
            Some(a.u64("data offset")?)
        };
        let journal = if a.is_empty() {
            None
        } else {
            let t = a.next("journal")?;
            match t {
                [c] => match RaidDeviceHealth::from_char(*c) {
                    Some(RaidDeviceHealth::Missing) => None,
                    Some(h) => Some(h),
                    None => {
                        return Err(a.err_prev("journal", ParseErrorKind::Invalid("A, a, D or -")))
                    }
                },
                _ => return Err(a.err_prev("journal", ParseErrorKind::Invalid("A, a, D or -"))),
            }
        };
        let extra = a.rest_bytes()?;
        Ok(RaidStatus {
            raid_type,
            health,
            sync_done,
            sync_total,
            sync_action,
            mismatch_count,
            data_offset,
            journal,
            extra,
        })
    }
}

impl RaidStatus {
    /// The share of the array synchronised (or reshaped), `0.0..=1.0`.
    pub fn sync_ratio(&self) -> f64 {
        super::ratio(self.sync_done, self.sync_total)
    }

    /// Whether the array is in sync: the sync ratio is complete **and**
    /// every member reports `A` (alive and in sync). The ratio alone is not
    /// enough: right after activation, before the resynchronisation has
    /// started, it can read complete while the members still say `a`.
    pub fn in_sync(&self) -> bool {
        self.sync_total > 0
            && self.sync_done >= self.sync_total
            && !self.health.is_empty()
            && self.health.iter().all(|h| *h == RaidDeviceHealth::Alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option() {
        let s = b"raid10 35 64 sync rebuild 0 rebuild 2 daemon_sleep 5000 min_recovery_rate 20 \
max_recovery_rate 1000 write_mostly 1 write_mostly 3 max_write_behind 128 stripe_cache 256 \
region_size 2048 raid10_copies 2 raid10_format far delta_disks -1 data_offset 2048 \
raid10_use_near_sets journal_dev 7:9 journal_mode writeback 4 7:0 7:1 - 7:2 7:3 - - -";
        let p = RaidParams::parse(s).unwrap();
        let r = &p.options;
        assert!(r.sync && !r.nosync && r.raid10_use_near_sets);
        assert_eq!(r.rebuild, [0, 2]);
        assert_eq!(r.write_mostly, [1, 3]);
        assert_eq!(r.delta_disks, Some(-1));
        assert_eq!(r.raid10_format, Some(Raid10Format::Far));
        assert_eq!(r.journal_mode, Some(RaidJournalMode::Writeback));
        assert_eq!(p.devices[1].metadata, None);
        assert_eq!(
            p.devices[3],
            RaidDevice {
                metadata: None,
                data: None
            }
        );
        assert_eq!(p.to_params().as_bytes(), &s[..]);
        // Any order in; the kernel's order (repeats sorted) out.
        let p = RaidParams::parse(b"raid1 8 0 write_mostly 1 rebuild 1 rebuild 0 nosync 2 - a - b")
            .unwrap();
        assert_eq!(
            p.to_params().as_bytes(),
            b"raid1 8 0 nosync rebuild 0 rebuild 1 write_mostly 1 2 - a - b"
        );
        assert_eq!(
            RaidParams::parse(b"raid5_ls 3 64 delta_disks +2 3 - a - b - c")
                .unwrap()
                .options
                .delta_disks,
            Some(2)
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"raid7 1 64 2 - a - b"[..],
            b"raid1 0 2 - a - b",
            b"raid1 2 0 bogus 2 - a - b",
            b"raid1 3 0 sync nosync 2 - a - b",
            b"raid1 2 0 rebuild 2 - a - b",
            b"raid1 2 0 raid10_format sideways 2 - a - b",
            b"raid1 1 0 3 - a - b",
            b"raid1 1 0 0",
            b"raid1 1 0 254",
            b"raid1 1 0 2 - a - b x",
            b"raid1 9 0 2 - a - b",
            b"raid1 3 0 delta_disks x 2 - a - b",
        ] {
            assert!(
                RaidParams::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn in_sync_needs_the_ratio_and_every_member() {
        let st = |s: &[u8]| RaidStatus::parse(s).unwrap();
        assert!(st(b"raid1 2 AA 32768/32768 idle 0 0 -").in_sync());
        // Complete ratio, members not yet in sync (just activated).
        let s = st(b"raid1 2 aa 32768/32768 resync 0 0 -");
        assert_eq!(s.sync_ratio(), 1.0);
        assert!(!s.in_sync());
        // A dead or missing member.
        assert!(!st(b"raid1 2 AD 32768/32768 idle 0 0 -").in_sync());
        assert!(!st(b"raid10_offset 2 A- 65536/65536 idle 3 2048 -").in_sync());
        // Members fine, ratio incomplete.
        let s = st(b"raid1 2 AA 16384/32768 recover 0 0 -");
        assert_eq!(s.sync_ratio(), 0.5);
        assert!(!s.in_sync());
        // Nothing to synchronise is a complete ratio, but not "in sync".
        let s = st(b"raid1 2 AA 0/0");
        assert_eq!(s.sync_ratio(), 1.0);
        assert!(!s.in_sync());
        // More done than total (never printed by a kernel) stays at 1.0.
        assert_eq!(st(b"raid1 2 AA 5/4").sync_ratio(), 1.0);
    }

    #[test]
    fn status() {
        let s = RaidStatus::parse(b"raid4 3 aaD 32832/65536 resync 0 0 a").unwrap();
        assert_eq!(s.raid_type, RaidType::Raid4);
        assert_eq!(
            s.health,
            [
                RaidDeviceHealth::AliveNotInSync,
                RaidDeviceHealth::AliveNotInSync,
                RaidDeviceHealth::Dead
            ]
        );
        assert_eq!((s.sync_done, s.sync_total), (32832, 65536));
        assert_eq!(s.sync_action, Some(RaidSyncAction::Resync));
        assert_eq!(s.journal, Some(RaidDeviceHealth::AliveNotInSync));
        let s = RaidStatus::parse(b"raid10_offset 2 A- 65536/65536 idle 3 2048 -").unwrap();
        assert_eq!(s.health[1], RaidDeviceHealth::Missing);
        assert_eq!(
            (s.mismatch_count, s.data_offset, s.journal),
            (Some(3), Some(2048), None)
        );
        let s = RaidStatus::parse(b"raid1 2 AA 1/2").unwrap();
        assert_eq!(s.sync_action, None);
        assert_eq!(s.sync_ratio(), 0.5);
        assert!(!s.in_sync());
        let s = RaidStatus::parse(b"raid1 2 AA 1/2 undef 0 0 - new").unwrap();
        assert_eq!(
            s.sync_action,
            Some(RaidSyncAction::Other(b"undef".to_vec()))
        );
        assert_eq!(s.extra, [b"new".to_vec()]);
        for bad in [
            &b""[..],
            b"raidX 2 AA 1/2 idle 0 0 -",
            b"raid1 2 A 1/2 idle 0 0 -",
            b"raid1 2 AX 1/2 idle 0 0 -",
            b"raid1 2 AA 1 idle 0 0 -",
            b"raid1 2 AA 1/2 idle x 0 -",
            b"raid1 2 AA 1/2 idle 0 0 X",
        ] {
            assert!(
                RaidStatus::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
