//! `snapshot`, `snapshot-origin` and `snapshot-merge`.

use super::{
    parse_ratio, Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens,
};
use crate::secret::Secret;
use crate::units::Sectors;

/// The exception store of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionStore {
    /// `P`: persistent (survives reboots).
    Persistent,
    /// `PO`: persistent, and userspace handles overflow (the snapshot
    /// reports `Overflow` instead of becoming invalid when full).
    PersistentOverflow,
    /// `N`: transient.
    Transient,
}

impl ExceptionStore {
    fn as_str(self) -> &'static str {
        match self {
            ExceptionStore::Persistent => "P",
            ExceptionStore::PersistentOverflow => "PO",
            ExceptionStore::Transient => "N",
        }
    }

    fn parse(t: &[u8]) -> Option<ExceptionStore> {
        match t {
            [p] if p.eq_ignore_ascii_case(&b'P') => Some(ExceptionStore::Persistent),
            [p, o] if p.eq_ignore_ascii_case(&b'P') && o.eq_ignore_ascii_case(&b'O') => {
                Some(ExceptionStore::PersistentOverflow)
            }
            [n] if n.eq_ignore_ascii_case(&b'N') => Some(ExceptionStore::Transient),
            _ => None,
        }
    }
}

/// The feature arguments of a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotFeatures {
    /// `discard_zeroes_cow`: discards zero the snapshot's exceptions.
    pub discard_zeroes_cow: bool,
    /// `discard_passdown_origin`: and are passed to the origin (needs
    /// `discard_zeroes_cow`).
    pub discard_passdown_origin: bool,
}

/// `snapshot` (and `snapshot-merge`): `<origin> <COW device> <P|PO|N>
/// <chunk size> [<#features> <features>...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotParams {
    /// The origin device.
    pub origin: DevRef,
    /// The copy-on-write device.
    pub cow: DevRef,
    /// The exception store.
    pub store: ExceptionStore,
    /// Chunk size in sectors (a power of two).
    pub chunk_size: Sectors,
    /// Feature arguments.
    pub features: SnapshotFeatures,
}

/// `snapshot-merge`: the same parameters as `snapshot`, loaded in place of
/// the origin to merge the snapshot back into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMergeParams(pub SnapshotParams);

/// `snapshot-origin`: `<origin device>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotOriginParams {
    /// The origin device.
    pub device: DevRef,
}

fn emit_snapshot(p: &SnapshotParams) -> Secret {
    let mut o = Out::new();
    o.dev(&p.origin);
    o.dev(&p.cow);
    o.word(p.store.as_str());
    o.num(p.chunk_size.0);
    let f = p.features;
    let n = u64::from(f.discard_zeroes_cow) + u64::from(f.discard_passdown_origin);
    if n > 0 {
        o.num(n);
        if f.discard_zeroes_cow {
            o.word("discard_zeroes_cow");
        }
        if f.discard_passdown_origin {
            o.word("discard_passdown_origin");
        }
    }
    o.finish()
}

fn parse_snapshot(target: &'static str, params: &[u8]) -> Result<SnapshotParams, ParseError> {
    let toks = Tokens::split(target, params)?;
    let mut a = toks.args(false);
    let origin = a.dev("origin")?;
    let cow = a.dev("COW device")?;
    let t = a.next("persistence")?;
    let store = ExceptionStore::parse(t)
        .ok_or_else(|| a.err_prev("persistence", ParseErrorKind::Invalid("P, PO or N")))?;
    let chunk_size = a.sectors("chunk size")?;
    let mut features = SnapshotFeatures::default();
    if !a.is_empty() {
        let n = a.count("feature count")?;
        for _ in 0..n {
            let t = a.next("feature")?;
            if t.eq_ignore_ascii_case(b"discard_zeroes_cow") {
                features.discard_zeroes_cow = true;
            } else if t.eq_ignore_ascii_case(b"discard_passdown_origin") {
                features.discard_passdown_origin = true;
            } else {
                return Err(a.err_prev_quoting("feature", ParseErrorKind::UnknownFeature, t));
            }
        }
        if features.discard_passdown_origin && !features.discard_zeroes_cow {
            return Err(a.err_prev(
                "feature",
                ParseErrorKind::Conflict("discard_passdown_origin needs discard_zeroes_cow"),
            ));
        }
    }
    a.finish()?;
    Ok(SnapshotParams {
        origin,
        cow,
        store,
        chunk_size,
        features,
    })
}

impl TargetParams for SnapshotParams {
    const TARGET_TYPE: &'static str = "snapshot";

    fn to_params(&self) -> Secret {
        emit_snapshot(self)
    }

    fn parse(params: &[u8]) -> Result<SnapshotParams, ParseError> {
        parse_snapshot(Self::TARGET_TYPE, params)
    }
}

impl TargetParams for SnapshotMergeParams {
    const TARGET_TYPE: &'static str = "snapshot-merge";

    fn to_params(&self) -> Secret {
        emit_snapshot(&self.0)
    }

    fn parse(params: &[u8]) -> Result<SnapshotMergeParams, ParseError> {
        parse_snapshot(Self::TARGET_TYPE, params).map(SnapshotMergeParams)
    }
}

impl TargetParams for SnapshotOriginParams {
    const TARGET_TYPE: &'static str = "snapshot-origin";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.dev(&self.device);
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<SnapshotOriginParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let device = a.dev("origin")?;
        a.finish()?;
        Ok(SnapshotOriginParams { device })
    }
}

/// The status of a `snapshot` or `snapshot-merge` target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// `<allocated>/<total> <metadata>`, all in sectors.
    Usage {
        /// Sectors of the COW device in use.
        allocated: Sectors,
        /// Size of the COW device.
        total: Sectors,
        /// Sectors of it holding metadata.
        metadata: Sectors,
    },
    /// `Invalid`: the snapshot overflowed or failed and is unusable.
    Invalid,
    /// `Merge failed`
    MergeFailed,
    /// `Overflow` (stores with `PO`): full, but still valid for reads.
    Overflow,
    /// `Unknown`: the store cannot report its usage.
    Unknown,
}

pub(crate) fn parse_status(
    target: &'static str,
    status: &[u8],
) -> Result<SnapshotStatus, ParseError> {
    let toks = Tokens::split(target, status)?;
    let mut a = toks.args(false);
    let t = a.next("status")?;
    let s = match t {
        b"Invalid" => SnapshotStatus::Invalid,
        b"Overflow" => SnapshotStatus::Overflow,
        b"Unknown" => SnapshotStatus::Unknown,
        b"Merge" => {
            let f = a.next("status")?;
            if f != b"failed" {
                return Err(a.err_prev("status", ParseErrorKind::Invalid("Merge failed")));
            }
            SnapshotStatus::MergeFailed
        }
        _ => usage(&mut a, t)?,
    };
    a.finish()?;
    Ok(s)
}

fn usage(a: &mut Args<'_>, t: &[u8]) -> Result<SnapshotStatus, ParseError> {
    let (allocated, total) = parse_ratio(t).map_err(|k| a.err_prev("usage", k))?;
    let metadata = a.sectors("metadata sectors")?;
    Ok(SnapshotStatus::Usage {
        allocated: Sectors(allocated),
        total: Sectors(total),
        metadata,
    })
}

impl TargetStatus for SnapshotStatus {
    const TARGET_TYPE: &'static str = "snapshot";

    fn parse(status: &[u8]) -> Result<SnapshotStatus, ParseError> {
        parse_status(Self::TARGET_TYPE, status)
    }

    fn accepts(target_type: &[u8]) -> bool {
        matches!(target_type, b"snapshot" | b"snapshot-merge")
    }

    fn parse_for(target_type: &[u8], status: &[u8]) -> Result<SnapshotStatus, ParseError> {
        match target_type {
            b"snapshot-merge" => parse_status("snapshot-merge", status),
            _ => parse_status(Self::TARGET_TYPE, status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_params() {
        for s in [
            &b"7:0 7:1 P 16"[..],
            b"7:0 7:1 PO 32",
            b"7:0 7:1 N 8",
            b"7:0 7:1 P 8 2 discard_zeroes_cow discard_passdown_origin",
            b"7:0 7:1 P 8 1 discard_zeroes_cow",
        ] {
            let p = SnapshotParams::parse(s).unwrap();
            assert_eq!(p.to_params().as_bytes(), s);
            assert_eq!(
                SnapshotMergeParams::parse(s)
                    .unwrap()
                    .to_params()
                    .as_bytes(),
                s
            );
        }
        assert_eq!(
            SnapshotParams::parse(b"a b p 8")
                .unwrap()
                .to_params()
                .as_bytes(),
            b"a b P 8"
        );
        assert_eq!(
            SnapshotParams::parse(b"a b po 8").unwrap().store,
            ExceptionStore::PersistentOverflow
        );
        assert_eq!(
            SnapshotParams::parse(b"a b P 8 0")
                .unwrap()
                .to_params()
                .as_bytes(),
            b"a b P 8"
        );
        for bad in [
            &b"a b X 8"[..],
            b"a b PX 8",
            b"a b P",
            b"a b P x",
            b"a b P 8 1 discard_passdown_origin",
            b"a b P 8 1 bogus",
            b"a b P 8 3 discard_zeroes_cow",
            b"a b P 8 1 discard_zeroes_cow x",
        ] {
            assert!(SnapshotParams::parse(bad).is_err(), "{bad:?}");
        }
        let o = SnapshotOriginParams::parse(b"7:0").unwrap();
        assert_eq!(o.to_params().as_bytes(), b"7:0");
        assert!(SnapshotOriginParams::parse(b"7:0 1").is_err());
        assert!(SnapshotOriginParams::parse(b"").is_err());
    }

    #[test]
    fn snapshot_status() {
        assert_eq!(
            SnapshotStatus::parse(b"32/131072 32").unwrap(),
            SnapshotStatus::Usage {
                allocated: Sectors(32),
                total: Sectors(131072),
                metadata: Sectors(32)
            }
        );
        assert_eq!(
            SnapshotStatus::parse(b"Invalid").unwrap(),
            SnapshotStatus::Invalid
        );
        assert_eq!(
            SnapshotStatus::parse(b"Overflow").unwrap(),
            SnapshotStatus::Overflow
        );
        assert_eq!(
            SnapshotStatus::parse(b"Merge failed").unwrap(),
            SnapshotStatus::MergeFailed
        );
        assert_eq!(
            SnapshotStatus::parse(b"Unknown").unwrap(),
            SnapshotStatus::Unknown
        );
        for bad in [
            &b""[..],
            b"32/x 1",
            b"32 1",
            b"32/64",
            b"Merge",
            b"Merge ok",
            b"Invalid x",
            b"1/2 3 4",
        ] {
            assert!(SnapshotStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
