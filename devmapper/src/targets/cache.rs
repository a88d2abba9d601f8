//! `cache` (dm-cache).

use super::{
    parse_ratio, Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens,
};
use crate::secret::Secret;
use crate::units::Sectors;

/// How the cache handles writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheIoMode {
    /// `writeback` (the default)
    Writeback,
    /// `writethrough`
    Writethrough,
    /// `passthrough`
    Passthrough,
}

/// One cache feature argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheFeature {
    /// An I/O mode (at most one).
    IoMode(CacheIoMode),
    /// `metadata2`: the version 2 metadata format.
    Metadata2,
    /// `no_discard_passdown`
    NoDiscardPassdown,
    /// A feature this crate does not know (status lines of newer kernels).
    Other(Vec<u8>),
}

impl CacheFeature {
    fn emit(&self, o: &mut Out) {
        match self {
            CacheFeature::IoMode(CacheIoMode::Writeback) => o.word("writeback"),
            CacheFeature::IoMode(CacheIoMode::Writethrough) => o.word("writethrough"),
            CacheFeature::IoMode(CacheIoMode::Passthrough) => o.word("passthrough"),
            CacheFeature::Metadata2 => o.word("metadata2"),
            CacheFeature::NoDiscardPassdown => o.word("no_discard_passdown"),
            CacheFeature::Other(w) => o.arg(w),
        }
    }

    fn parse(t: &[u8]) -> Option<CacheFeature> {
        let is = |w: &str| t.eq_ignore_ascii_case(w.as_bytes());
        Some(if is("writeback") {
            CacheFeature::IoMode(CacheIoMode::Writeback)
        } else if is("writethrough") {
            CacheFeature::IoMode(CacheIoMode::Writethrough)
        } else if is("passthrough") {
            CacheFeature::IoMode(CacheIoMode::Passthrough)
        } else if is("metadata2") {
            CacheFeature::Metadata2
        } else if is("no_discard_passdown") {
            CacheFeature::NoDiscardPassdown
        } else {
            return None;
        })
    }
}

/// The feature list of a cache, in the order given (the kernel prints its
/// table arguments back verbatim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheFeatures(pub Vec<CacheFeature>);

impl CacheFeatures {
    /// The I/O mode given, if any.
    pub fn io_mode(&self) -> Option<CacheIoMode> {
        self.0.iter().find_map(|f| match f {
            CacheFeature::IoMode(m) => Some(*m),
            _ => None,
        })
    }

    /// Whether `metadata2` is given.
    pub fn metadata2(&self) -> bool {
        self.0.contains(&CacheFeature::Metadata2)
    }

    /// Whether `no_discard_passdown` is given.
    pub fn no_discard_passdown(&self) -> bool {
        self.0.contains(&CacheFeature::NoDiscardPassdown)
    }

    fn emit(&self, o: &mut Out) {
        o.num(self.0.len() as u64);
        for f in &self.0 {
            f.emit(o);
        }
    }
}

/// Key/value arguments.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// `<#args> <key> <value>...` pairs (policy and core arguments).
fn parse_pairs(a: &mut Args<'_>, what: &'static str) -> Result<Pairs, ParseError> {
    let n = a.count(what)?;
    if n % 2 != 0 {
        return Err(a.err_prev(
            what,
            ParseErrorKind::Invalid("an even count (key value pairs)"),
        ));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n / 2)
        .map_err(|_| ParseError::whole(a.target(), ParseErrorKind::OutOfMemory))?;
    for _ in 0..n / 2 {
        let k = a.bytes("key")?;
        let val = a.bytes("value")?;
        v.push((k, val));
    }
    Ok(v)
}

fn emit_pairs(o: &mut Out, pairs: &[(Vec<u8>, Vec<u8>)]) {
    o.num(pairs.len() as u64 * 2);
    for (k, v) in pairs {
        o.arg(k);
        o.arg(v);
    }
}

/// `cache`: `<metadata dev> <cache dev> <origin dev> <block size>
/// <#features> <features>... <policy> <#policy args> <policy args>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheParams {
    /// The metadata device.
    pub metadata_dev: DevRef,
    /// The fast (cache) device.
    pub cache_dev: DevRef,
    /// The slow (origin) device.
    pub origin_dev: DevRef,
    /// Cache block size in sectors (64 (32 KiB) to 2097152 (1 GiB), a
    /// multiple of 64).
    pub block_size: Sectors,
    /// Feature arguments, in the order given.
    pub features: CacheFeatures,
    /// Policy name (`smq`, `mq`, `cleaner`, `default`).
    pub policy: Vec<u8>,
    /// Policy (and core, e.g. `migration_threshold`) key/value arguments.
    pub policy_args: Vec<(Vec<u8>, Vec<u8>)>,
}

impl TargetParams for CacheParams {
    const TARGET_TYPE: &'static str = "cache";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.dev(&self.metadata_dev);
        o.dev(&self.cache_dev);
        o.dev(&self.origin_dev);
        o.num(self.block_size.0);
        self.features.emit(&mut o);
        o.arg(&self.policy);
        emit_pairs(&mut o, &self.policy_args);
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<CacheParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let metadata_dev = a.dev("metadata device")?;
        let cache_dev = a.dev("cache device")?;
        let origin_dev = a.dev("origin device")?;
        let block_size = a.sectors("block size")?;
        let n = a.count("feature count")?;
        let mut features = Vec::new();
        let mut modes = 0;
        for _ in 0..n {
            let t = a.next("feature")?;
            let f = CacheFeature::parse(t)
                .ok_or_else(|| a.err_prev_quoting("feature", ParseErrorKind::UnknownFeature, t))?;
            if let CacheFeature::IoMode(_) = f {
                modes += 1;
                if modes > 1 {
                    return Err(a.err_prev(
                        "feature",
                        ParseErrorKind::Conflict("more than one I/O mode"),
                    ));
                }
            }
            features.push(f);
        }
        let policy = a.bytes("policy")?;
        let policy_args = parse_pairs(&mut a, "policy argument count")?;
        a.finish()?;
        Ok(CacheParams {
            metadata_dev,
            cache_dev,
            origin_dev,
            block_size,
            features: CacheFeatures(features),
            policy,
            policy_args,
        })
    }
}

/// Whether the cache metadata is writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMetadataMode {
    /// `rw`
    ReadWrite,
    /// `ro`
    ReadOnly,
}

/// The status fields of a working cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheStatusDetail {
    /// Metadata block size in sectors.
    pub metadata_block_size: Sectors,
    /// Metadata blocks in use.
    pub used_metadata_blocks: u64,
    /// Metadata blocks in all.
    pub total_metadata_blocks: u64,
    /// Cache block size in sectors.
    pub block_size: Sectors,
    /// Cache blocks in use.
    pub used_cache_blocks: u64,
    /// Cache blocks in all.
    pub total_cache_blocks: u64,
    /// Reads served by the cache.
    pub read_hits: u64,
    /// Reads that missed it.
    pub read_misses: u64,
    /// Writes served by the cache.
    pub write_hits: u64,
    /// Writes that missed it.
    pub write_misses: u64,
    /// Blocks demoted from the cache.
    pub demotions: u64,
    /// Blocks promoted into it.
    pub promotions: u64,
    /// Dirty cache blocks.
    pub dirty: u64,
    /// The features in effect (the I/O mode is always reported).
    pub features: Vec<CacheFeature>,
    /// Core arguments (`migration_threshold`).
    pub core_args: Vec<(Vec<u8>, Vec<u8>)>,
    /// The policy in use.
    pub policy: Vec<u8>,
    /// Its configuration values.
    pub policy_args: Vec<(Vec<u8>, Vec<u8>)>,
    /// Metadata mode.
    pub metadata_mode: CacheMetadataMode,
    /// `needs_check` (else `-`).
    pub needs_check: bool,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

/// `cache` status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// A working cache.
    Ok(Box<CacheStatusDetail>),
    /// `Fail`
    Fail,
    /// `Error`
    Error,
}

impl TargetStatus for CacheStatus {
    const TARGET_TYPE: &'static str = "cache";

    fn parse(status: &[u8]) -> Result<CacheStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        match a.peek() {
            Some(b"Fail") | Some(b"Error") => {
                let t = a.next("status")?;
                a.finish()?;
                return Ok(if t == b"Fail" {
                    CacheStatus::Fail
                } else {
                    CacheStatus::Error
                });
            }
            _ => {}
        }
        let metadata_block_size = a.sectors("metadata block size")?;
        let t = a.next("metadata blocks")?;
        let (used_metadata_blocks, total_metadata_blocks) =
            parse_ratio(t).map_err(|k| a.err_prev("metadata blocks", k))?;
        let block_size = a.sectors("cache block size")?;
        let t = a.next("cache blocks")?;
        let (used_cache_blocks, total_cache_blocks) =
            parse_ratio(t).map_err(|k| a.err_prev("cache blocks", k))?;
        let read_hits = a.u64("read hits")?;
        let read_misses = a.u64("read misses")?;
        let write_hits = a.u64("write hits")?;
        let write_misses = a.u64("write misses")?;
        let demotions = a.u64("demotions")?;
        let promotions = a.u64("promotions")?;
        let dirty = a.u64("dirty")?;
        let n = a.count("feature count")?;
        let mut features = Vec::new();
        for _ in 0..n {
            let t = a.next("feature")?;
            features
                .push(CacheFeature::parse(t).unwrap_or_else(|| CacheFeature::Other(t.to_vec())));
        }
        let core_args = parse_pairs(&mut a, "core argument count")?;
        let policy = a.bytes("policy")?;
        let policy_args = parse_pairs(&mut a, "policy argument count")?;
        let metadata_mode = match a.next("metadata mode")? {
            b"rw" => CacheMetadataMode::ReadWrite,
            b"ro" => CacheMetadataMode::ReadOnly,
            _ => return Err(a.err_prev("metadata mode", ParseErrorKind::Invalid("rw or ro"))),
        };
        let needs_check = match a.next("needs_check")? {
            b"needs_check" => true,
            b"-" => false,
            _ => return Err(a.err_prev("needs_check", ParseErrorKind::Invalid("needs_check or -"))),
        };
        let extra = a.rest_bytes()?;
        Ok(CacheStatus::Ok(Box::new(CacheStatusDetail {
            metadata_block_size,
            used_metadata_blocks,
            total_metadata_blocks,
            block_size,
            used_cache_blocks,
            total_cache_blocks,
            read_hits,
            read_misses,
            write_hits,
            write_misses,
            demotions,
            promotions,
            dirty,
            features,
            core_args,
            policy,
            policy_args,
            metadata_mode,
            needs_check,
            extra,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let s = b"7:1 7:2 7:3 64 3 metadata2 writeback no_discard_passdown smq 2 migration_threshold 4096";
        let p = CacheParams::parse(s).unwrap();
        assert_eq!(p.features.io_mode(), Some(CacheIoMode::Writeback));
        assert!(p.features.metadata2() && p.features.no_discard_passdown());
        assert_eq!(p.policy, b"smq");
        assert_eq!(
            p.policy_args,
            [(b"migration_threshold".to_vec(), b"4096".to_vec())]
        );
        assert_eq!(p.to_params().as_bytes(), &s[..]);
        // The order given is kept, as the kernel echoes it.
        let s = b"7:1 7:2 7:3 64 2 passthrough metadata2 cleaner 0";
        assert_eq!(
            CacheParams::parse(s).unwrap().to_params().as_bytes(),
            &s[..]
        );
        assert_eq!(
            CacheParams::parse(b"a b c 64 0 smq 0")
                .unwrap()
                .features
                .io_mode(),
            None
        );
        for bad in [
            &b"a b c 64 1 bogus smq 0"[..],
            b"a b c 64 2 writeback writethrough smq 0",
            b"a b c 64 0 smq 1 x",
            b"a b c 64 0 smq 2 x",
            b"a b c 64 0 smq",
            b"a b c 64 0",
            b"a b c x 0 smq 0",
            b"a b c 64 0 smq 0 extra",
        ] {
            assert!(
                CacheParams::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn status() {
        let s = b"8 12/16384 64 0/2048 1 2 3 4 5 6 7 1 writeback 2 migration_threshold 2048 mq 10 random_threshold 0 sequential_threshold 0 discard_promote_adjustment 0 read_promote_adjustment 0 write_promote_adjustment 0 rw - ";
        let CacheStatus::Ok(d) = CacheStatus::parse(s).unwrap() else {
            panic!()
        };
        assert_eq!(d.metadata_block_size, Sectors(8));
        assert_eq!((d.read_hits, d.dirty), (1, 7));
        assert_eq!(d.features, [CacheFeature::IoMode(CacheIoMode::Writeback)]);
        assert_eq!(d.core_args.len(), 1);
        assert_eq!(d.policy_args.len(), 5);
        assert_eq!(d.metadata_mode, CacheMetadataMode::ReadWrite);
        assert!(!d.needs_check);
        let CacheStatus::Ok(d) = CacheStatus::parse(
            b"8 1/2 64 0/4 0 0 0 0 0 0 0 2 unknown newfeat 0 smq 0 ro needs_check x",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            d.features,
            [
                CacheFeature::Other(b"unknown".to_vec()),
                CacheFeature::Other(b"newfeat".to_vec())
            ]
        );
        assert!(d.needs_check);
        assert_eq!(d.extra, [b"x".to_vec()]);
        assert_eq!(CacheStatus::parse(b"Fail").unwrap(), CacheStatus::Fail);
        assert_eq!(CacheStatus::parse(b"Error").unwrap(), CacheStatus::Error);
        for bad in [
            &b""[..],
            b"8 12/16384 64 0/2048 0 0 0 0 0 0",
            b"8 12 64 0/2048 0 0 0 0 0 0 0 0 0 smq 0 rw -",
            b"8 1/2 64 0/4 0 0 0 0 0 0 0 0 1 x smq 0 rw -",
            b"8 1/2 64 0/4 0 0 0 0 0 0 0 0 0 smq 0 rx -",
            b"8 1/2 64 0/4 0 0 0 0 0 0 0 0 0 smq 0 rw x",
        ] {
            assert!(
                CacheStatus::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
