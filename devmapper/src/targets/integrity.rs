//! `integrity` (dm-integrity).
//!
//! The kernel prints its optional arguments in an order that changed
//! between kernels (6.1 prints `journal_sectors` before
//! `interleave_sectors`, later kernels after `buffer_sectors`), so the
//! options are kept as an ordered list: what is parsed prints back in the
//! same order.

use super::crypt::emit_hex;
use super::{
    parse_num, split_colon, Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams,
    TargetStatus, Tokens,
};
use crate::secret::Secret;
use crate::units::Sectors;
use std::fmt;

/// The tag size argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagSize {
    /// Bytes of tag per sector (block).
    Bytes(u32),
    /// `-`: the digest size of the internal hash.
    Auto,
}

/// The mode of an integrity target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityMode {
    /// `J`: journaled writes.
    Journal,
    /// `B`: a bitmap instead of a journal.
    Bitmap,
    /// `D`: direct writes, no journal (a crash may leave mismatches).
    Direct,
    /// `R`: recovery, read-only, no checks.
    Recovery,
    /// `I`: inline, tags in the device's own integrity metadata (kernel 6.11+).
    Inline,
}

impl IntegrityMode {
    fn as_str(self) -> &'static str {
        match self {
            IntegrityMode::Journal => "J",
            IntegrityMode::Bitmap => "B",
            IntegrityMode::Direct => "D",
            IntegrityMode::Recovery => "R",
            IntegrityMode::Inline => "I",
        }
    }
}

/// An algorithm argument (`internal_hash`, `journal_crypt`, `journal_mac`),
/// with an optional key.
#[derive(Clone, PartialEq, Eq)]
pub struct IntegrityAlgorithm {
    /// The crypto API name (`crc32c`, `hmac(sha256)`, `ctr(aes)`, ...).
    pub name: Vec<u8>,
    /// The key as the hex text given (printed back verbatim by the kernel).
    pub key_hex: Option<Secret>,
}

impl IntegrityAlgorithm {
    /// An algorithm without a key.
    pub fn new(name: &str) -> IntegrityAlgorithm {
        IntegrityAlgorithm {
            name: name.as_bytes().to_vec(),
            key_hex: None,
        }
    }

    /// An algorithm with a key given as raw bytes (stored as lowercase hex).
    pub fn with_key(name: &str, key: &[u8]) -> IntegrityAlgorithm {
        let mut o = Out::new();
        emit_hex(&mut o, key);
        IntegrityAlgorithm {
            name: name.as_bytes().to_vec(),
            key_hex: Some(o.finish()),
        }
    }

    fn parse(rest: &[u8]) -> Option<IntegrityAlgorithm> {
        let (name, key) = match split_colon(rest) {
            Some((n, k)) => (n, Some(k)),
            None => (rest, None),
        };
        if name.is_empty() {
            return None;
        }
        let key_hex = match key {
            Some(k) => {
                if k.is_empty() || k.len() % 2 != 0 || !k.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                Some(Secret::from(k))
            }
            None => None,
        };
        Some(IntegrityAlgorithm {
            name: name.to_vec(),
            key_hex,
        })
    }

    fn emit(&self, o: &mut Out, prefix: &str) {
        o.word(prefix);
        o.quoted(&self.name);
        if let Some(k) = &self.key_hex {
            o.raw(b":");
            o.raw(k.as_bytes());
        }
    }
}

impl fmt::Debug for IntegrityAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrityAlgorithm")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field(
                "key",
                &format_args!(
                    "{}",
                    if self.key_hex.is_some() {
                        "<hidden>"
                    } else {
                        "none"
                    }
                ),
            )
            .finish()
    }
}

/// One optional argument of an integrity target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrityOption {
    /// `meta_device:<dev>`: tags on a separate device.
    MetaDevice(DevRef),
    /// `block_size:<bytes>` (512 to 4096).
    BlockSize(u32),
    /// `recalculate`: recompute tags (reported while recalculating).
    Recalculate,
    /// `reset_recalculate`: start recalculating from the beginning.
    ResetRecalculate,
    /// `allow_discards`
    AllowDiscards,
    /// `allow_discards_keyed` (kernel 7.x)
    AllowDiscardsKeyed,
    /// `journal_sectors:<n>`
    JournalSectors(u32),
    /// `interleave_sectors:<n>`
    InterleaveSectors(u32),
    /// `buffer_sectors:<n>`
    BufferSectors(u32),
    /// `journal_watermark:<percent>`
    JournalWatermark(u32),
    /// `commit_time:<ms>`
    CommitTime(u32),
    /// `sectors_per_bit:<n>` (bitmap mode)
    SectorsPerBit(u64),
    /// `bitmap_flush_interval:<ms>` (bitmap mode)
    BitmapFlushInterval(u32),
    /// `fix_padding`
    FixPadding,
    /// `fix_hmac`
    FixHmac,
    /// `legacy_recalculate`
    LegacyRecalculate,
    /// `internal_hash:<alg>[:<key>]`
    InternalHash(IntegrityAlgorithm),
    /// `journal_crypt:<alg>[:<key>]`
    JournalCrypt(IntegrityAlgorithm),
    /// `journal_mac:<alg>[:<key>]`
    JournalMac(IntegrityAlgorithm),
}

impl IntegrityOption {
    fn emit(&self, o: &mut Out) {
        let num = |o: &mut Out, k: &str, v: u64| {
            o.word(k);
            o.num_raw(v);
        };
        match self {
            IntegrityOption::MetaDevice(d) => {
                o.word("meta_device:");
                match d {
                    DevRef::Path(p) => o.quoted(p),
                    DevRef::Number { major, minor } => {
                        o.num_raw(u64::from(*major));
                        o.raw(b":");
                        o.num_raw(u64::from(*minor));
                    }
                }
            }
            IntegrityOption::BlockSize(v) => num(o, "block_size:", u64::from(*v)),
            IntegrityOption::Recalculate => o.word("recalculate"),
            IntegrityOption::ResetRecalculate => o.word("reset_recalculate"),
            IntegrityOption::AllowDiscards => o.word("allow_discards"),
            IntegrityOption::AllowDiscardsKeyed => o.word("allow_discards_keyed"),
            IntegrityOption::JournalSectors(v) => num(o, "journal_sectors:", u64::from(*v)),
            IntegrityOption::InterleaveSectors(v) => num(o, "interleave_sectors:", u64::from(*v)),
            IntegrityOption::BufferSectors(v) => num(o, "buffer_sectors:", u64::from(*v)),
            IntegrityOption::JournalWatermark(v) => num(o, "journal_watermark:", u64::from(*v)),
            IntegrityOption::CommitTime(v) => num(o, "commit_time:", u64::from(*v)),
            IntegrityOption::SectorsPerBit(v) => num(o, "sectors_per_bit:", *v),
            IntegrityOption::BitmapFlushInterval(v) => {
                num(o, "bitmap_flush_interval:", u64::from(*v))
            }
            IntegrityOption::FixPadding => o.word("fix_padding"),
            IntegrityOption::FixHmac => o.word("fix_hmac"),
            IntegrityOption::LegacyRecalculate => o.word("legacy_recalculate"),
            IntegrityOption::InternalHash(a) => a.emit(o, "internal_hash:"),
            IntegrityOption::JournalCrypt(a) => a.emit(o, "journal_crypt:"),
            IntegrityOption::JournalMac(a) => a.emit(o, "journal_mac:"),
        }
    }

    fn parse(a: &Args<'_>, t: &[u8]) -> Result<IntegrityOption, ParseError> {
        let flag = |w: &str| t == w.as_bytes();
        if flag("recalculate") {
            return Ok(IntegrityOption::Recalculate);
        }
        if flag("reset_recalculate") {
            return Ok(IntegrityOption::ResetRecalculate);
        }
        if flag("allow_discards") {
            return Ok(IntegrityOption::AllowDiscards);
        }
        if flag("allow_discards_keyed") {
            return Ok(IntegrityOption::AllowDiscardsKeyed);
        }
        if flag("fix_padding") {
            return Ok(IntegrityOption::FixPadding);
        }
        if flag("fix_hmac") {
            return Ok(IntegrityOption::FixHmac);
        }
        if flag("legacy_recalculate") {
            return Ok(IntegrityOption::LegacyRecalculate);
        }
        // Keys may follow: never quote the argument in errors.
        let (key, val) = split_colon(t)
            .ok_or_else(|| a.err_prev("optional argument", ParseErrorKind::UnknownFeature))?;
        let n32 = |name: &'static str| -> Result<u32, ParseError> {
            parse_num(val)
                .and_then(|v| u32::try_from(v).map_err(|_| ParseErrorKind::OutOfRange))
                .map_err(|k| a.err_prev(name, k))
        };
        let alg = |name: &'static str| {
            IntegrityAlgorithm::parse(val)
                .ok_or_else(|| a.err_prev(name, ParseErrorKind::Invalid("<algorithm>[:<hex key>]")))
        };
        Ok(match key {
            b"meta_device" => {
                IntegrityOption::MetaDevice(DevRef::parse(val).ok_or_else(|| {
                    a.err_prev("meta_device", ParseErrorKind::Invalid("a device"))
                })?)
            }
            b"block_size" => {
                let v = n32("block_size")?;
                if !(512..=4096).contains(&v) || !v.is_power_of_two() {
                    return Err(a.err_prev("block_size", ParseErrorKind::OutOfRange));
                }
                IntegrityOption::BlockSize(v)
            }
            b"journal_sectors" => IntegrityOption::JournalSectors(n32("journal_sectors")?),
            b"interleave_sectors" => IntegrityOption::InterleaveSectors(n32("interleave_sectors")?),
            b"buffer_sectors" => IntegrityOption::BufferSectors(n32("buffer_sectors")?),
            b"journal_watermark" => {
                let v = n32("journal_watermark")?;
                if v > 100 {
                    return Err(a.err_prev("journal_watermark", ParseErrorKind::OutOfRange));
                }
                IntegrityOption::JournalWatermark(v)
            }
            b"commit_time" => IntegrityOption::CommitTime(n32("commit_time")?),
            b"sectors_per_bit" => IntegrityOption::SectorsPerBit(
                parse_num(val).map_err(|k| a.err_prev("sectors_per_bit", k))?,
            ),
            b"bitmap_flush_interval" => {
                IntegrityOption::BitmapFlushInterval(n32("bitmap_flush_interval")?)
            }
            b"internal_hash" => IntegrityOption::InternalHash(alg("internal_hash")?),
            b"journal_crypt" => IntegrityOption::JournalCrypt(alg("journal_crypt")?),
            b"journal_mac" => IntegrityOption::JournalMac(alg("journal_mac")?),
            _ => return Err(a.err_prev("optional argument", ParseErrorKind::UnknownFeature)),
        })
    }
}

/// The optional arguments of an integrity target, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntegrityOptions(pub Vec<IntegrityOption>);

impl IntegrityOptions {
    /// The internal hash, if given.
    pub fn internal_hash(&self) -> Option<&IntegrityAlgorithm> {
        self.0.iter().find_map(|o| match o {
            IntegrityOption::InternalHash(a) => Some(a),
            _ => None,
        })
    }

    /// The journal encryption, if given.
    pub fn journal_crypt(&self) -> Option<&IntegrityAlgorithm> {
        self.0.iter().find_map(|o| match o {
            IntegrityOption::JournalCrypt(a) => Some(a),
            _ => None,
        })
    }

    /// The journal MAC, if given.
    pub fn journal_mac(&self) -> Option<&IntegrityAlgorithm> {
        self.0.iter().find_map(|o| match o {
            IntegrityOption::JournalMac(a) => Some(a),
            _ => None,
        })
    }

    /// The metadata device, if given.
    pub fn meta_device(&self) -> Option<&DevRef> {
        self.0.iter().find_map(|o| match o {
            IntegrityOption::MetaDevice(d) => Some(d),
            _ => None,
        })
    }

    /// The block size in bytes (512 when not given).
    pub fn block_size(&self) -> u32 {
        self.0
            .iter()
            .find_map(|o| match o {
                IntegrityOption::BlockSize(b) => Some(*b),
                _ => None,
            })
            .unwrap_or(512)
    }

    /// The journal size in sectors, if given.
    pub fn journal_sectors(&self) -> Option<u32> {
        self.0.iter().find_map(|o| match o {
            IntegrityOption::JournalSectors(v) => Some(*v),
            _ => None,
        })
    }

    /// Whether a flag option is given.
    pub fn has(&self, flag: &IntegrityOption) -> bool {
        self.0.contains(flag)
    }
}

/// `integrity`: `<device> <offset> <tag size> <mode> <#opt args> <opt args>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityParams {
    /// The data device.
    pub device: DevRef,
    /// Start sector on it (the superblock lives there).
    pub offset: Sectors,
    /// Tag size.
    pub tag_size: TagSize,
    /// Mode.
    pub mode: IntegrityMode,
    /// Optional arguments.
    pub options: IntegrityOptions,
}

impl TargetParams for IntegrityParams {
    const TARGET_TYPE: &'static str = "integrity";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.dev(&self.device);
        o.num(self.offset.0);
        match self.tag_size {
            TagSize::Bytes(b) => o.num(b),
            TagSize::Auto => o.word("-"),
        }
        o.word(self.mode.as_str());
        o.num(self.options.0.len() as u64);
        for opt in &self.options.0 {
            opt.emit(&mut o);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<IntegrityParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(true);
        let device = a.dev("device")?;
        let offset = a.sectors("offset")?;
        let tag_size = if a.peek() == Some(b"-") {
            a.next("tag size")?;
            TagSize::Auto
        } else {
            let v = a.u32("tag size")?;
            if v == 0 {
                return Err(a.err_prev("tag size", ParseErrorKind::OutOfRange));
            }
            TagSize::Bytes(v)
        };
        let mode = match a.next("mode")? {
            b"J" => IntegrityMode::Journal,
            b"B" => IntegrityMode::Bitmap,
            b"D" => IntegrityMode::Direct,
            b"R" => IntegrityMode::Recovery,
            b"I" => IntegrityMode::Inline,
            _ => return Err(a.err_prev("mode", ParseErrorKind::Invalid("J, B, D, R or I"))),
        };
        let n = a.count("optional argument count")?;
        let mut opts = Vec::new();
        opts.try_reserve_exact(n)
            .map_err(|_| ParseError::whole(Self::TARGET_TYPE, ParseErrorKind::OutOfMemory))?;
        for _ in 0..n {
            let t = a.next("optional argument")?;
            opts.push(IntegrityOption::parse(&a, t)?);
        }
        a.finish()?;
        Ok(IntegrityParams {
            device,
            offset,
            tag_size,
            mode,
            options: IntegrityOptions(opts),
        })
    }
}

/// `integrity` status: `<mismatches> <provided data sectors> <recalculated
/// sector or ->`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityStatus {
    /// Integrity mismatches detected.
    pub mismatches: u64,
    /// Sectors the target provides.
    pub provided_data_sectors: Sectors,
    /// Where recalculation has got to, while recalculating (`-` otherwise).
    pub recalculate_sector: Option<Sectors>,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

impl TargetStatus for IntegrityStatus {
    const TARGET_TYPE: &'static str = "integrity";

    fn parse(status: &[u8]) -> Result<IntegrityStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let mismatches = a.u64("mismatches")?;
        let provided_data_sectors = a.sectors("provided data sectors")?;
        let recalculate_sector = if a.peek() == Some(b"-") {
            a.next("recalculate sector")?;
            None
        } else {
            Some(a.sectors("recalculate sector")?)
        };
        let extra = a.rest_bytes()?;
        Ok(IntegrityStatus {
            mismatches,
            provided_data_sectors,
            recalculate_sector,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn every_option_in_order() {
        let s = format!(
            "7:3 0 32 J 19 meta_device:7:5 block_size:4096 recalculate reset_recalculate allow_discards \
             allow_discards_keyed journal_sectors:968 interleave_sectors:32768 buffer_sectors:128 \
             journal_watermark:50 commit_time:10000 sectors_per_bit:8192 bitmap_flush_interval:5000 \
             fix_padding fix_hmac legacy_recalculate internal_hash:hmac(sha256):{K} \
             journal_crypt:ctr(aes):{K} journal_mac:hmac(sha256):{K}"
        );
        let p = IntegrityParams::parse(s.as_bytes()).unwrap();
        assert_eq!(p.to_params().as_bytes(), s.as_bytes());
        assert_eq!(p.options.block_size(), 4096);
        assert_eq!(p.options.journal_sectors(), Some(968));
        assert_eq!(p.options.meta_device(), DevRef::number(7, 5).as_ref());
        assert_eq!(p.options.internal_hash().unwrap().name, b"hmac(sha256)");
        assert!(p.options.journal_crypt().is_some() && p.options.journal_mac().is_some());
        assert!(p.options.has(&IntegrityOption::FixHmac));
        // Another order prints back in that order.
        let s2 = "7:0 0 - D 3 internal_hash:sha256 buffer_sectors:64 journal_sectors:100";
        let p2 = IntegrityParams::parse(s2.as_bytes()).unwrap();
        assert_eq!(p2.tag_size, TagSize::Auto);
        assert_eq!(p2.to_params().as_bytes(), s2.as_bytes());
        for m in ["J", "B", "D", "R", "I"] {
            let s = format!("a 8 4 {m} 0");
            assert_eq!(
                IntegrityParams::parse(s.as_bytes())
                    .unwrap()
                    .to_params()
                    .as_bytes(),
                s.as_bytes()
            );
        }
        let built = IntegrityAlgorithm::with_key("hmac(sha256)", &(0u8..32).collect::<Vec<_>>());
        assert_eq!(built.key_hex.as_ref().unwrap().as_bytes(), K.as_bytes());
        assert_eq!(IntegrityAlgorithm::new("crc32c").key_hex, None);
    }

    #[test]
    fn malformed_and_no_key_leaks() {
        let secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75e";
        for bad in [
            "a 0 0 J 0".to_string(),
            "a 0 4 X 0".to_string(),
            "a 0 4 J".to_string(),
            "a 0 4 J 1".to_string(),
            "a 0 4 J 1 bogus".to_string(),
            format!("a 0 4 J 1 bogus:{secret}"),
            format!("a 0 4 J 1 internal_hash:hmac(sha256):{secret}z"),
            format!("a 0 4 J 1 internal_hash::{secret}"),
            format!("a 0 4 J 1 {secret}"),
            "a 0 4 J 1 block_size:1000".to_string(),
            "a 0 4 J 1 journal_watermark:101".to_string(),
            "a 0 4 J 1 journal_sectors:x".to_string(),
            format!("a 0 4 J 1 internal_hash:crc32c {secret}"),
            format!("a x 4 J 1 internal_hash:hmac(sha256):{secret}"),
        ] {
            let e = IntegrityParams::parse(bad.as_bytes()).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("5ec7e7"), "{shown}");
        }
        let p = IntegrityParams::parse(
            format!("a 0 4 J 1 internal_hash:hmac(sha256):{secret}").as_bytes(),
        )
        .unwrap();
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("5ec7e7") && shown.contains("<hidden>"),
            "{shown}"
        );
    }

    #[test]
    fn status() {
        let s = IntegrityStatus::parse(b"0 129160 -").unwrap();
        assert_eq!(
            (s.mismatches, s.provided_data_sectors, s.recalculate_sector),
            (0, Sectors(129160), None)
        );
        let s = IntegrityStatus::parse(b"3 128136 4096").unwrap();
        assert_eq!(s.recalculate_sector, Some(Sectors(4096)));
        assert_eq!(
            IntegrityStatus::parse(b"0 1 - x").unwrap().extra,
            [b"x".to_vec()]
        );
        for bad in [&b""[..], b"0", b"0 1", b"x 1 -", b"0 1 y"] {
            assert!(IntegrityStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
