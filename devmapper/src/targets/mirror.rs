//! `mirror` (dm-raid1) and its dirty region logs.

use super::{
    parse_ratio, Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens,
};
use crate::secret::Secret;
use crate::units::Sectors;

/// The initial synchronisation a dirty log asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSync {
    /// `sync`: force a full resynchronisation.
    Sync,
    /// `nosync`: assume the legs are in sync.
    NoSync,
}

/// The dirty region log of a mirror: `<type> <#args> <args>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorLog {
    /// `core <1|2> <region size> [sync|nosync]`: in memory.
    Core {
        /// Region size in sectors.
        region_size: u32,
        /// Initial synchronisation.
        sync: Option<LogSync>,
    },
    /// `disk <2|3> <log dev> <region size> [sync|nosync]`: on a device.
    Disk {
        /// The log device.
        device: DevRef,
        /// Region size in sectors.
        region_size: u32,
        /// Initial synchronisation.
        sync: Option<LogSync>,
    },
    /// `userspace <#args> <uuid> [integrated_flush] <userspace log args>...`:
    /// a log kept by a daemon (cluster mirrors).
    Userspace {
        /// The log's UUID.
        uuid: Vec<u8>,
        /// `integrated_flush`: combine flush and mark requests.
        integrated_flush: bool,
        /// The arguments passed to the daemon (e.g. `clustered-disk 3 <dev> 1024 sync`).
        args: Vec<Vec<u8>>,
    },
    /// Another log type.
    Other {
        /// The log type name.
        log_type: Vec<u8>,
        /// Its arguments.
        args: Vec<Vec<u8>>,
    },
}

fn sync_word(s: Option<LogSync>) -> Option<&'static str> {
    s.map(|s| match s {
        LogSync::Sync => "sync",
        LogSync::NoSync => "nosync",
    })
}

impl MirrorLog {
    fn emit(&self, o: &mut Out) {
        match self {
            MirrorLog::Core { region_size, sync } => {
                o.word("core");
                o.num(1 + u64::from(sync.is_some()));
                o.num(*region_size);
                if let Some(w) = sync_word(*sync) {
                    o.word(w);
                }
            }
            MirrorLog::Disk {
                device,
                region_size,
                sync,
            } => {
                o.word("disk");
                o.num(2 + u64::from(sync.is_some()));
                o.dev(device);
                o.num(*region_size);
                if let Some(w) = sync_word(*sync) {
                    o.word(w);
                }
            }
            MirrorLog::Userspace {
                uuid,
                integrated_flush,
                args,
            } => {
                o.word("userspace");
                o.num(1 + u64::from(*integrated_flush) + args.len() as u64);
                o.arg(uuid);
                if *integrated_flush {
                    o.word("integrated_flush");
                }
                for a in args {
                    o.arg(a);
                }
            }
            MirrorLog::Other { log_type, args } => {
                o.arg(log_type);
                o.num(args.len() as u64);
                for a in args {
                    o.arg(a);
                }
            }
        }
    }

    fn parse(a: &mut Args<'_>) -> Result<MirrorLog, ParseError> {
        let ty = a.next("log type")?;
        let n = a.count("log argument count")?;
        let mut g = a.group(n);
        let sync = |g: &mut Args<'_>| -> Result<Option<LogSync>, ParseError> {
            if g.is_empty() {
                return Ok(None);
            }
            match g.next("log sync")? {
                b"sync" => Ok(Some(LogSync::Sync)),
                b"nosync" => Ok(Some(LogSync::NoSync)),
                _ => Err(g.err_prev("log sync", ParseErrorKind::Invalid("sync or nosync"))),
            }
        };
        let log = match ty {
            b"core" => {
                let region_size = g.u32("region size")?;
                let sync = sync(&mut g)?;
                MirrorLog::Core { region_size, sync }
            }
            b"disk" => {
                let device = g.dev("log device")?;
                let region_size = g.u32("region size")?;
                let sync = sync(&mut g)?;
                MirrorLog::Disk {
                    device,
                    region_size,
                    sync,
                }
            }
            b"userspace" => {
                let uuid = g.bytes("log uuid")?;
                let integrated_flush = if g
                    .peek()
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"integrated_flush"))
                {
                    g.next("integrated_flush")?;
                    true
                } else {
                    false
                };
                let args = g.rest_bytes()?;
                MirrorLog::Userspace {
                    uuid,
                    integrated_flush,
                    args,
                }
            }
            _ => MirrorLog::Other {
                log_type: ty.to_vec(),
                args: g.rest_bytes()?,
            },
        };
        g.finish()?;
        Ok(log)
    }
}

/// One leg of a mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorLeg {
    /// The device.
    pub device: DevRef,
    /// Start sector on it.
    pub offset: Sectors,
}

/// The feature arguments of a mirror.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MirrorFeatures {
    /// `handle_errors`: react to leg failures (needed for read balancing).
    pub handle_errors: bool,
    /// `keep_log`: keep the log device after it fails (needs `handle_errors`).
    pub keep_log: bool,
}

/// `mirror`: `<log type> <#log args> <log args>... <#mirrors> <device> <offset>...
/// [<#features> <features>...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorParams {
    /// The dirty region log.
    pub log: MirrorLog,
    /// The legs (2 to 32).
    pub legs: Vec<MirrorLeg>,
    /// Feature arguments.
    pub features: MirrorFeatures,
}

impl TargetParams for MirrorParams {
    const TARGET_TYPE: &'static str = "mirror";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        self.log.emit(&mut o);
        o.num(self.legs.len() as u64);
        for l in &self.legs {
            o.dev(&l.device);
            o.num(l.offset.0);
        }
        let f = self.features;
        let n = u64::from(f.handle_errors) + u64::from(f.keep_log);
        if n > 0 {
            o.num(n);
            if f.handle_errors {
                o.word("handle_errors");
            }
            if f.keep_log {
                o.word("keep_log");
            }
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<MirrorParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let log = MirrorLog::parse(&mut a)?;
        let n = a.u32_in("mirror count", 2, 32)? as usize;
        let mut legs = Vec::with_capacity(n);
        for _ in 0..n {
            legs.push(MirrorLeg {
                device: a.dev("leg device")?,
                offset: a.sectors("leg offset")?,
            });
        }
        let mut features = MirrorFeatures::default();
        if !a.is_empty() {
            let n = a.count("feature count")?;
            for _ in 0..n {
                let t = a.next("feature")?;
                match t {
                    b"handle_errors" => features.handle_errors = true,
                    b"keep_log" => features.keep_log = true,
                    _ => {
                        return Err(a.err_prev_quoting(
                            "feature",
                            ParseErrorKind::UnknownFeature,
                            t,
                        ))
                    }
                }
            }
            if features.keep_log && !features.handle_errors {
                return Err(a.err_prev(
                    "feature",
                    ParseErrorKind::Conflict("keep_log needs handle_errors"),
                ));
            }
        }
        a.finish()?;
        Ok(MirrorParams {
            log,
            legs,
            features,
        })
    }
}

/// The health of a mirror leg or log device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorDeviceHealth {
    /// `A`: alive.
    Alive,
    /// `F`: a flush failed.
    FlushError,
    /// `D`: a write failed (dead).
    WriteError,
    /// `S`: synchronisation failed.
    SyncError,
    /// `R`: a read failed.
    ReadError,
    /// `U`: an unclassified error.
    Unknown,
}

impl MirrorDeviceHealth {
    fn from_char(c: u8) -> Option<MirrorDeviceHealth> {
        Some(match c {
            b'A' => MirrorDeviceHealth::Alive,
            b'F' => MirrorDeviceHealth::FlushError,
            b'D' => MirrorDeviceHealth::WriteError,
            b'S' => MirrorDeviceHealth::SyncError,
            b'R' => MirrorDeviceHealth::ReadError,
            b'U' => MirrorDeviceHealth::Unknown,
            _ => return None,
        })
    }
}

/// The log part of a mirror's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorLogStatus {
    /// `1 core`
    Core,
    /// `3 disk <dev> <A|D|F>`
    Disk {
        /// The log device.
        device: DevRef,
        /// Its health (alive, write error, flush error).
        health: MirrorDeviceHealth,
    },
    /// Anything else (userspace logs report what their daemon says), as
    /// whitespace-separated fields.
    Other(Vec<Vec<u8>>),
}

/// `mirror` status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorStatus {
    /// The legs, as the kernel names them.
    pub devices: Vec<DevRef>,
    /// Regions in sync.
    pub in_sync_regions: u64,
    /// Regions in all.
    pub total_regions: u64,
    /// Per leg health.
    pub health: Vec<MirrorDeviceHealth>,
    /// The log's status.
    pub log: MirrorLogStatus,
}

impl TargetStatus for MirrorStatus {
    const TARGET_TYPE: &'static str = "mirror";

    fn parse(status: &[u8]) -> Result<MirrorStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let n = a.count("mirror count")?;
        let mut devices = Vec::with_capacity(n);
        for _ in 0..n {
            devices.push(a.dev("leg device")?);
        }
        let t = a.next("sync ratio")?;
        let (in_sync_regions, total_regions) =
            parse_ratio(t).map_err(|k| a.err_prev("sync ratio", k))?;
        if a.u32("health count")? != 1 {
            return Err(a.err_prev("health count", ParseErrorKind::Invalid("1")));
        }
        let chars = a.next("health")?;
        if chars.len() != n {
            return Err(a.err_prev("health", ParseErrorKind::Invalid("one character per leg")));
        }
        let health = chars
            .iter()
            .map(|&c| MirrorDeviceHealth::from_char(c))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| a.err_prev("health", ParseErrorKind::Invalid("A, F, D, S, R or U")))?;
        let log = match a.peek() {
            Some(t) if super::parse_num(t).is_ok() => {
                let n = a.count("log status count")?;
                let mut g = a.group(n);
                let fields = g.rest_bytes()?;
                match fields.as_slice() {
                    [ty] if ty == b"core" => MirrorLogStatus::Core,
                    [ty, dev, h] if ty == b"disk" => {
                        let device = DevRef::parse(dev).ok_or_else(|| {
                            a.err_prev("log device", ParseErrorKind::Invalid("a device"))
                        })?;
                        let health = match h.as_slice() {
                            [c] => MirrorDeviceHealth::from_char(*c),
                            _ => None,
                        }
                        .ok_or_else(|| {
                            a.err_prev("log health", ParseErrorKind::Invalid("A, D or F"))
                        })?;
                        MirrorLogStatus::Disk { device, health }
                    }
                    _ => MirrorLogStatus::Other(fields),
                }
            }
            _ => MirrorLogStatus::Other(a.rest_bytes()?),
        };
        a.finish()?;
        Ok(MirrorStatus {
            devices,
            in_sync_regions,
            total_regions,
            health,
            log,
        })
    }
}

impl MirrorStatus {
    /// The share of regions in sync, `0.0..=1.0`.
    pub fn sync_ratio(&self) -> f64 {
        super::ratio(self.in_sync_regions, self.total_regions)
    }

    /// Whether every region is in sync (what LVM's mirror percentage
    /// reports as 100%). Leg health is separate: see [`all_legs_alive`].
    ///
    /// [`all_legs_alive`]: MirrorStatus::all_legs_alive
    pub fn in_sync(&self) -> bool {
        self.total_regions > 0 && self.in_sync_regions >= self.total_regions
    }

    /// Whether every leg reports `A` (alive, no error seen).
    pub fn all_legs_alive(&self) -> bool {
        self.health.iter().all(|h| *h == MirrorDeviceHealth::Alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        for s in [
            &b"core 1 1024 2 7:0 0 7:1 0"[..],
            b"core 2 1024 nosync 2 7:0 0 7:1 0 1 handle_errors",
            b"disk 2 7:2 1024 2 7:0 0 7:1 0",
            b"disk 3 7:2 2048 sync 3 7:0 0 7:1 0 7:3 0 2 handle_errors keep_log",
            b"userspace 4 LVM-uuid integrated_flush clustered-core 1024 2 7:0 0 7:1 0",
            b"weird 2 a b 2 7:0 0 7:1 0",
        ] {
            let p = MirrorParams::parse(s).unwrap();
            let out = p.to_params();
            assert_eq!(out.as_bytes(), s, "{}", String::from_utf8_lossy(s));
            assert_eq!(MirrorParams::parse(out.as_bytes()).unwrap(), p);
        }
        match MirrorParams::parse(b"userspace 3 u clustered-disk x 2 a 0 b 0")
            .unwrap()
            .log
        {
            MirrorLog::Userspace {
                uuid,
                integrated_flush,
                args,
            } => {
                assert_eq!(uuid, b"u");
                assert!(!integrated_flush);
                assert_eq!(args, [b"clustered-disk".to_vec(), b"x".to_vec()]);
            }
            l => panic!("{l:?}"),
        }
        for bad in [
            &b"core 1 1024 1 7:0 0"[..],
            b"core 1 1024 33 7:0 0",
            b"core 2 1024 maybe 2 a 0 b 0",
            b"core 3 1024 2 a 0 b 0",
            b"core 1 x 2 a 0 b 0",
            b"disk 1 a 2 a 0 b 0",
            b"core 1 1024 2 a 0 b 0 1 keep_log",
            b"core 1 1024 2 a 0 b 0 1 HANDLE_ERRORS",
            b"core 1 1024 2 a 0 b 0 1 handle_errors x",
            b"core 1 1024 2 a 0 b",
        ] {
            assert!(
                MirrorParams::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn status() {
        let s = MirrorStatus::parse(b"3 7:0 7:1 7:3 23/64 1 ADR 3 disk 7:2 F").unwrap();
        assert_eq!(s.devices.len(), 3);
        assert_eq!((s.in_sync_regions, s.total_regions), (23, 64));
        assert_eq!(s.health[2], MirrorDeviceHealth::ReadError);
        assert_eq!(
            s.log,
            MirrorLogStatus::Disk {
                device: DevRef::number(7, 2).unwrap(),
                health: MirrorDeviceHealth::FlushError
            }
        );
        assert!(!s.in_sync() && !s.all_legs_alive());
        let s = MirrorStatus::parse(b"2 7:0 7:1 48/128 1 AA 1 core").unwrap();
        assert_eq!(s.log, MirrorLogStatus::Core);
        assert_eq!(s.sync_ratio(), 0.375);
        assert!(!s.in_sync() && s.all_legs_alive());
        let s = MirrorStatus::parse(b"2 7:0 7:1 128/128 1 AA 1 core").unwrap();
        assert!(s.in_sync());
        assert_eq!(s.sync_ratio(), 1.0);
        let s = MirrorStatus::parse(b"2 7:0 7:1 128/128 1 AD 1 core").unwrap();
        assert!(s.in_sync() && !s.all_legs_alive());
        let s = MirrorStatus::parse(b"2 7:0 7:1 48/128 1 AA userspace 1 COM_FAILURE").unwrap();
        assert_eq!(
            s.log,
            MirrorLogStatus::Other(vec![
                b"userspace".to_vec(),
                b"1".to_vec(),
                b"COM_FAILURE".to_vec()
            ])
        );
        for bad in [
            &b""[..],
            b"2 7:0 7:1 48/128 1 A 1 core",
            b"2 7:0 7:1 48/128 1 AX 1 core",
            b"2 7:0 7:1 48 1 AA 1 core",
            b"2 7:0 7:1 48/128 2 AA 1 core",
            b"2 7:0 7:1 48/128 1 AA 3 disk 7:2 AA",
            b"2 7:0 7:1 48/128 1 AA 2 core",
        ] {
            assert!(
                MirrorStatus::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
