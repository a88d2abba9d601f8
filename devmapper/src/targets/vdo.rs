//! `vdo` (dm-vdo, kernel 6.9+): deduplication and compression.
//!
//! The kernel prints a vdo table line back exactly as it was loaded (the
//! arguments joined by single blanks), so the storage device stays as given
//! and optional arguments keep their order.

use super::{DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens};
use crate::secret::Secret;
use crate::units::parse_decimal_u64;

/// One optional `<key> <value>` argument of a V2+ table line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VdoOption {
    /// `ack <n>`: bio acknowledgement threads.
    Ack(u32),
    /// `bio <n>`: bio submission threads.
    Bio(u32),
    /// `bioRotationInterval <n>`: bios per submission thread before rotating.
    BioRotationInterval(u32),
    /// `cpu <n>`: CPU (hashing, compression) threads.
    Cpu(u32),
    /// `hash <n>`: hash zone threads.
    Hash(u32),
    /// `logical <n>`: logical zone threads.
    Logical(u32),
    /// `physical <n>`: physical zone threads.
    Physical(u32),
    /// `maxDiscard <n>`: largest discard in 4 KiB blocks.
    MaxDiscard(u32),
    /// `deduplication <on|off>`
    Deduplication(bool),
    /// `compression <on|off>`
    Compression(bool),
    /// Any other key (the kernel formats a new volume from `slabSize`,
    /// `indexMemory`, `indexSparse` on recent versions), value as given.
    Other {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
}

impl VdoOption {
    fn parse(key: &[u8], value: &[u8]) -> Option<VdoOption> {
        let num = || parse_decimal_u64(value).and_then(|v| u32::try_from(v).ok());
        let onoff = || match value {
            b"on" => Some(true),
            b"off" => Some(false),
            _ => None,
        };
        Some(match key {
            b"ack" => VdoOption::Ack(num()?),
            b"bio" => VdoOption::Bio(num()?),
            b"bioRotationInterval" => VdoOption::BioRotationInterval(num()?),
            b"cpu" => VdoOption::Cpu(num()?),
            b"hash" => VdoOption::Hash(num()?),
            b"logical" => VdoOption::Logical(num()?),
            b"physical" => VdoOption::Physical(num()?),
            b"maxDiscard" => VdoOption::MaxDiscard(num()?),
            b"deduplication" => VdoOption::Deduplication(onoff()?),
            b"compression" => VdoOption::Compression(onoff()?),
            _ => VdoOption::Other {
                key: key.to_vec(),
                value: value.to_vec(),
            },
        })
    }

    fn emit(&self, o: &mut Out) {
        let (k, v): (&str, u64) = match self {
            VdoOption::Ack(n) => ("ack", u64::from(*n)),
            VdoOption::Bio(n) => ("bio", u64::from(*n)),
            VdoOption::BioRotationInterval(n) => ("bioRotationInterval", u64::from(*n)),
            VdoOption::Cpu(n) => ("cpu", u64::from(*n)),
            VdoOption::Hash(n) => ("hash", u64::from(*n)),
            VdoOption::Logical(n) => ("logical", u64::from(*n)),
            VdoOption::Physical(n) => ("physical", u64::from(*n)),
            VdoOption::MaxDiscard(n) => ("maxDiscard", u64::from(*n)),
            VdoOption::Deduplication(b) | VdoOption::Compression(b) => {
                o.word(if matches!(self, VdoOption::Deduplication(_)) {
                    "deduplication"
                } else {
                    "compression"
                });
                o.word(if *b { "on" } else { "off" });
                return;
            }
            VdoOption::Other { key, value } => {
                o.arg(key);
                o.arg(value);
                return;
            }
        };
        o.word(k);
        o.num(v);
    }
}

/// Arguments of old (V0 to V3) table lines that current kernels skip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VdoLegacyArgs {
    /// V0, V1: the two read cache arguments.
    pub read_cache: Option<(Vec<u8>, Vec<u8>)>,
    /// V0 to V2: the MD RAID5 optimisation mode.
    pub md_raid5_mode: Option<Vec<u8>>,
    /// V0 to V3: the write policy.
    pub write_policy: Option<Vec<u8>>,
    /// V0 to V2: the pool name.
    pub pool_name: Option<Vec<u8>>,
    /// V0, V1: the thread configuration (`.` or `cpu=2,bio=4,...`).
    pub thread_config: Option<Vec<u8>>,
}

/// `vdo`: `V4 <storage dev> <physical blocks> <logical block size>
/// <block map cache blocks> <block map era length> [<key> <value>]...`
/// (and the older V0 to V3 layouts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdoParams {
    /// Table version (0 to 4; 0 has no `V<n>` word).
    pub version: u32,
    /// The storage device.
    pub storage: DevRef,
    /// Size of the storage in 4 KiB blocks (absent in V0).
    pub physical_blocks: Option<u64>,
    /// Logical block size in bytes: 512 or 4096.
    pub logical_block_size: u32,
    /// Block map cache size in 4 KiB blocks.
    pub block_map_cache_blocks: u32,
    /// Block map era length (maximum age).
    pub block_map_era_length: u32,
    /// Arguments only older table versions have.
    pub legacy: VdoLegacyArgs,
    /// Optional arguments (V2+), in the order given.
    pub options: Vec<VdoOption>,
}

impl VdoParams {
    /// A current (V4) table line with no optional arguments.
    pub fn new(
        storage: DevRef,
        physical_blocks: u64,
        logical_block_size: u32,
        block_map_cache_blocks: u32,
        block_map_era_length: u32,
    ) -> VdoParams {
        VdoParams {
            version: 4,
            storage,
            physical_blocks: Some(physical_blocks),
            logical_block_size,
            block_map_cache_blocks,
            block_map_era_length,
            legacy: VdoLegacyArgs::default(),
            options: Vec::new(),
        }
    }
}

impl TargetParams for VdoParams {
    const TARGET_TYPE: &'static str = "vdo";

    fn to_params(&self) -> Secret {
        let l = &self.legacy;
        let mut o = Out::new();
        if self.version >= 1 {
            o.word("V");
            o.num_raw(u64::from(self.version));
        }
        o.dev(&self.storage);
        if let Some(p) = self.physical_blocks {
            o.num(p);
        }
        o.num(self.logical_block_size);
        if let Some((a, b)) = &l.read_cache {
            o.arg(a);
            o.arg(b);
        }
        o.num(self.block_map_cache_blocks);
        o.num(self.block_map_era_length);
        for v in [
            &l.md_raid5_mode,
            &l.write_policy,
            &l.pool_name,
            &l.thread_config,
        ]
        .into_iter()
        .flatten()
        {
            o.arg(v);
        }
        for opt in &self.options {
            opt.emit(&mut o);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<VdoParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let version = match a.peek().and_then(|t| t.strip_prefix(b"V")) {
            Some(v) => {
                a.next("version")?;
                parse_decimal_u64(v)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|v| (1..=4).contains(v))
                    .ok_or_else(|| a.err_prev("version", ParseErrorKind::Invalid("V1 to V4")))?
            }
            None => 0,
        };
        let storage = a.dev("storage device")?;
        let physical_blocks = if version >= 1 {
            Some(a.u64("physical blocks")?)
        } else {
            None
        };
        let logical_block_size = a.u32("logical block size")?;
        if logical_block_size != 512 && logical_block_size != 4096 {
            return Err(a.err_prev("logical block size", ParseErrorKind::Invalid("512 or 4096")));
        }
        let mut legacy = VdoLegacyArgs::default();
        if version <= 1 {
            legacy.read_cache = Some((a.bytes("read cache")?, a.bytes("read cache size")?));
        }
        let block_map_cache_blocks = a.u32("block map cache size")?;
        let block_map_era_length = a.u32("block map era length")?;
        if version <= 2 {
            legacy.md_raid5_mode = Some(a.bytes("MD RAID5 mode")?);
        }
        if version <= 3 {
            legacy.write_policy = Some(a.bytes("write policy")?);
        }
        if version <= 2 {
            legacy.pool_name = Some(a.bytes("pool name")?);
        }
        let mut options = Vec::new();
        if version <= 1 {
            legacy.thread_config = Some(a.bytes("thread configuration")?);
        } else {
            if a.remaining() % 2 != 0 {
                return Err(a.err_at(
                    a.position(),
                    "optional arguments",
                    ParseErrorKind::Invalid("key value pairs"),
                ));
            }
            while !a.is_empty() {
                let k = a.next("key")?;
                let v = a.next("value")?;
                let opt = VdoOption::parse(k, v).ok_or_else(|| {
                    a.err_prev_quoting("value", ParseErrorKind::Invalid("a number, on or off"), v)
                })?;
                options.push(opt);
            }
        }
        a.finish()?;
        Ok(VdoParams {
            version,
            storage,
            physical_blocks,
            logical_block_size,
            block_map_cache_blocks,
            block_map_era_length,
            legacy,
            options,
        })
    }
}

/// The operating mode of a vdo volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VdoOperatingMode {
    /// `normal`
    Normal,
    /// `recovering`
    Recovering,
    /// `read-only`
    ReadOnly,
    /// Anything else.
    Other(Vec<u8>),
}

/// The state of the deduplication index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VdoIndexState {
    /// `closed`
    Closed,
    /// `closing`
    Closing,
    /// `error`
    Error,
    /// `offline`
    Offline,
    /// `online`
    Online,
    /// `opening`
    Opening,
    /// `unknown`
    Unknown,
    /// Anything else.
    Other(Vec<u8>),
}

/// `vdo` status: `<device> <operating mode> <in recovery> <index state>
/// <compression state> <used physical blocks> <total physical blocks>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdoStatus {
    /// The storage device (`/dev/<name>`).
    pub device: Vec<u8>,
    /// Operating mode.
    pub mode: VdoOperatingMode,
    /// `recovering` (else `-`).
    pub in_recovery: bool,
    /// Deduplication index state.
    pub index_state: VdoIndexState,
    /// Compression `online` (else `offline`).
    pub compression_online: bool,
    /// Physical blocks in use.
    pub used_blocks: u64,
    /// Physical blocks in all.
    pub total_blocks: u64,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

impl TargetStatus for VdoStatus {
    const TARGET_TYPE: &'static str = "vdo";

    fn parse(status: &[u8]) -> Result<VdoStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let device = a.bytes("device")?;
        let mode = match a.next("operating mode")? {
            b"normal" => VdoOperatingMode::Normal,
            b"recovering" => VdoOperatingMode::Recovering,
            b"read-only" => VdoOperatingMode::ReadOnly,
            m => VdoOperatingMode::Other(m.to_vec()),
        };
        let in_recovery = match a.next("recovery")? {
            b"recovering" => true,
            b"-" => false,
            _ => return Err(a.err_prev("recovery", ParseErrorKind::Invalid("recovering or -"))),
        };
        let index_state = match a.next("index state")? {
            b"closed" => VdoIndexState::Closed,
            b"closing" => VdoIndexState::Closing,
            b"error" => VdoIndexState::Error,
            b"offline" => VdoIndexState::Offline,
            b"online" => VdoIndexState::Online,
            b"opening" => VdoIndexState::Opening,
            b"unknown" => VdoIndexState::Unknown,
            s => VdoIndexState::Other(s.to_vec()),
        };
        let compression_online = match a.next("compression state")? {
            b"online" => true,
            b"offline" => false,
            _ => {
                return Err(a.err_prev(
                    "compression state",
                    ParseErrorKind::Invalid("online or offline"),
                ))
            }
        };
        let used_blocks = a.u64("used physical blocks")?;
        let total_blocks = a.u64("total physical blocks")?;
        let extra = a.rest_bytes()?;
        Ok(VdoStatus {
            device,
            mode,
            in_recovery,
            index_state,
            compression_online,
            used_blocks,
            total_blocks,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        for s in [
            &b"V4 /dev/dm-1 262144 4096 32768 16380"[..],
            b"V4 7:8 786432 512 65550 5000 hash 1 logical 3 physical 2 maxDiscard 8 deduplication off compression on ack 2 bio 4 bioRotationInterval 64 cpu 2",
            b"V4 /dev/x 1 4096 32768 16380 slabSize 8192 indexMemory 0.25 indexSparse off",
            b"V3 /dev/x 1 4096 32768 16380 sync ack 1",
            b"V2 /dev/x 1 4096 32768 16380 on sync pool",
            b"V1 /dev/x 1 4096 disabled 0 32768 16380 on sync pool .",
            b"/dev/x 4096 disabled 0 32768 16380 on sync pool ack=1,bio=4",
        ] {
            let p = VdoParams::parse(s).unwrap();
            assert_eq!(p.to_params().as_bytes(), s, "{}", String::from_utf8_lossy(s));
        }
        let p = VdoParams::parse(b"V4 a 1 512 32768 16380 compression on maxDiscard 16").unwrap();
        assert_eq!(
            p.options,
            [VdoOption::Compression(true), VdoOption::MaxDiscard(16)]
        );
        assert_eq!(
            VdoParams::new(DevRef::number(7, 8).unwrap(), 1, 4096, 32768, 16380)
                .to_params()
                .as_bytes(),
            b"V4 7:8 1 4096 32768 16380"
        );
        for bad in [
            &b"V5 a 1 4096 1 1"[..],
            b"V4 a 1 1024 1 1",
            b"V4 a 1 4096 1",
            b"V4 a 1 4096 1 1 ack",
            b"V4 a 1 4096 1 1 ack x",
            b"V4 a 1 4096 1 1 compression maybe",
            b"V1 a 1 4096 r 0 1 1 x y z . extra",
        ] {
            assert!(
                VdoParams::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn status() {
        let s = VdoStatus::parse(b"/dev/loop8 normal - online offline 1234 5678").unwrap();
        assert_eq!(s.device, b"/dev/loop8");
        assert_eq!(s.mode, VdoOperatingMode::Normal);
        assert!(!s.in_recovery && !s.compression_online);
        assert_eq!(s.index_state, VdoIndexState::Online);
        assert_eq!((s.used_blocks, s.total_blocks), (1234, 5678));
        let s = VdoStatus::parse(b"/dev/x read-only recovering opening online 1 2 z").unwrap();
        assert_eq!(s.mode, VdoOperatingMode::ReadOnly);
        assert!(s.in_recovery && s.compression_online);
        assert_eq!(s.extra, [b"z".to_vec()]);
        for bad in [
            &b""[..],
            b"/dev/x normal x online online 1 2",
            b"/dev/x normal - online on 1 2",
            b"/dev/x normal - online online 1",
        ] {
            assert!(VdoStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
