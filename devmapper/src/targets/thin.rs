//! Thin provisioning: `thin-pool` and `thin`.

use super::{
    parse_ratio, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens,
};
use crate::secret::Secret;
use crate::units::Sectors;

/// The feature arguments of a thin pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThinPoolFeatures {
    /// `skip_block_zeroing`: do not zero newly provisioned blocks.
    pub skip_block_zeroing: bool,
    /// `ignore_discard`: no discard support at all.
    pub ignore_discard: bool,
    /// `no_discard_passdown`: do not pass discards to the data device.
    pub no_discard_passdown: bool,
    /// `read_only`: no metadata changes.
    pub read_only: bool,
    /// `error_if_no_space`: error I/O instead of queueing it when out of
    /// data space.
    pub error_if_no_space: bool,
}

/// `thin-pool`: `<metadata dev> <data dev> <data block size> <low water mark>
/// [<#features> <features>...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThinPoolParams {
    /// The metadata device.
    pub metadata_dev: DevRef,
    /// The data device.
    pub data_dev: DevRef,
    /// Data block size in sectors (128 (64 KiB) to 2097152 (1 GiB), a
    /// multiple of 128).
    pub block_size: Sectors,
    /// Free data blocks below which the pool sends an event.
    pub low_water_mark: u64,
    /// Feature arguments.
    pub features: ThinPoolFeatures,
}

impl TargetParams for ThinPoolParams {
    const TARGET_TYPE: &'static str = "thin-pool";

    /// As the kernel prints it: the feature count is always present and the
    /// line ends in a blank.
    fn to_params(&self) -> Secret {
        let f = self.features;
        let mut o = Out::new();
        o.dev(&self.metadata_dev);
        o.dev(&self.data_dev);
        o.num(self.block_size.0);
        o.num(self.low_water_mark);
        let flags = [
            (f.skip_block_zeroing, "skip_block_zeroing"),
            (f.ignore_discard, "ignore_discard"),
            (f.no_discard_passdown, "no_discard_passdown"),
            (f.read_only, "read_only"),
            (f.error_if_no_space, "error_if_no_space"),
        ];
        o.num(flags.iter().filter(|f| f.0).count() as u64);
        for (on, w) in flags {
            if on {
                o.word(w);
            }
        }
        o.raw(b" ");
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<ThinPoolParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let metadata_dev = a.dev("metadata device")?;
        let data_dev = a.dev("data device")?;
        let block_size = a.sectors("data block size")?;
        let low_water_mark = a.u64("low water mark")?;
        let mut f = ThinPoolFeatures::default();
        if !a.is_empty() {
            let n = a.count("feature count")?;
            for _ in 0..n {
                let t = a.next("feature")?;
                let is = |w: &str| t.eq_ignore_ascii_case(w.as_bytes());
                if is("skip_block_zeroing") {
                    f.skip_block_zeroing = true;
                } else if is("ignore_discard") {
                    f.ignore_discard = true;
                } else if is("no_discard_passdown") {
                    f.no_discard_passdown = true;
                } else if is("read_only") {
                    f.read_only = true;
                } else if is("error_if_no_space") {
                    f.error_if_no_space = true;
                } else {
                    return Err(a.err_prev_quoting("feature", ParseErrorKind::UnknownFeature, t));
                }
            }
        }
        a.finish()?;
        Ok(ThinPoolParams {
            metadata_dev,
            data_dev,
            block_size,
            low_water_mark,
            features: f,
        })
    }
}

/// The mode a thin pool is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThinPoolMode {
    /// `rw`
    ReadWrite,
    /// `ro` (read-only, including the failed-metadata read-only mode)
    ReadOnly,
    /// `out_of_data_space`
    OutOfDataSpace,
}

/// What a thin pool does with discards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThinPoolDiscards {
    /// `ignore_discard`
    Ignore,
    /// `discard_passdown`
    Passdown,
    /// `no_discard_passdown`
    NoPassdown,
}

/// The status fields of a working thin pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThinPoolStatusDetail {
    /// The metadata transaction id.
    pub transaction_id: u64,
    /// Metadata blocks in use.
    pub used_metadata_blocks: u64,
    /// Metadata blocks in all.
    pub total_metadata_blocks: u64,
    /// Data blocks in use.
    pub used_data_blocks: u64,
    /// Data blocks in all.
    pub total_data_blocks: u64,
    /// The held metadata root (`reserve_metadata_snap`), or `None` (`-`).
    pub held_metadata_root: Option<u64>,
    /// rw / ro / out_of_data_space.
    pub mode: ThinPoolMode,
    /// Discard handling.
    pub discards: ThinPoolDiscards,
    /// `error_if_no_space` (else `queue_if_no_space`).
    pub error_if_no_space: bool,
    /// `needs_check` (else `-`): the metadata must be checked offline.
    pub needs_check: bool,
    /// The metadata low watermark in blocks (kernel 4.19+).
    pub metadata_low_watermark: Option<u64>,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

/// `thin-pool` status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThinPoolStatus {
    /// A working pool.
    Ok(ThinPoolStatusDetail),
    /// `Fail`: the pool failed.
    Fail,
    /// `Error`: the kernel could not read the metadata counters.
    Error,
}

impl TargetStatus for ThinPoolStatus {
    const TARGET_TYPE: &'static str = "thin-pool";

    fn parse(status: &[u8]) -> Result<ThinPoolStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        match a.peek() {
            Some(b"Fail") | Some(b"Error") => {
                let t = a.next("status")?;
                a.finish()?;
                return Ok(if t == b"Fail" {
                    ThinPoolStatus::Fail
                } else {
                    ThinPoolStatus::Error
                });
            }
            _ => {}
        }
        let transaction_id = a.u64("transaction id")?;
        let t = a.next("metadata blocks")?;
        let (used_metadata_blocks, total_metadata_blocks) =
            parse_ratio(t).map_err(|k| a.err_prev("metadata blocks", k))?;
        let t = a.next("data blocks")?;
        let (used_data_blocks, total_data_blocks) =
            parse_ratio(t).map_err(|k| a.err_prev("data blocks", k))?;
        let held_metadata_root = if a.peek() == Some(b"-") {
            a.next("held root")?;
            None
        } else {
            Some(a.u64("held root")?)
        };
        let mode = match a.next("mode")? {
            b"rw" => ThinPoolMode::ReadWrite,
            b"ro" => ThinPoolMode::ReadOnly,
            b"out_of_data_space" => ThinPoolMode::OutOfDataSpace,
            _ => {
                return Err(a.err_prev(
                    "mode",
                    ParseErrorKind::Invalid("rw, ro or out_of_data_space"),
                ))
            }
        };
        let discards = match a.next("discards")? {
            b"ignore_discard" => ThinPoolDiscards::Ignore,
            b"discard_passdown" => ThinPoolDiscards::Passdown,
            b"no_discard_passdown" => ThinPoolDiscards::NoPassdown,
            _ => {
                return Err(a.err_prev(
                    "discards",
                    ParseErrorKind::Invalid(
                        "ignore_discard, discard_passdown or no_discard_passdown",
                    ),
                ))
            }
        };
        let error_if_no_space = match a.next("no space policy")? {
            b"error_if_no_space" => true,
            b"queue_if_no_space" => false,
            _ => {
                return Err(a.err_prev(
                    "no space policy",
                    ParseErrorKind::Invalid("error_if_no_space or queue_if_no_space"),
                ))
            }
        };
        let needs_check = match a.next("needs_check")? {
            b"needs_check" => true,
            b"-" => false,
            _ => return Err(a.err_prev("needs_check", ParseErrorKind::Invalid("needs_check or -"))),
        };
        let metadata_low_watermark = if a.is_empty() {
            None
        } else {
            Some(a.u64("metadata low watermark")?)
        };
        let extra = a.rest_bytes()?;
        Ok(ThinPoolStatus::Ok(ThinPoolStatusDetail {
            transaction_id,
            used_metadata_blocks,
            total_metadata_blocks,
            used_data_blocks,
            total_data_blocks,
            held_metadata_root,
            mode,
            discards,
            error_if_no_space,
            needs_check,
            metadata_low_watermark,
            extra,
        }))
    }
}

/// `thin`: `<pool dev> <dev id> [<external origin dev>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThinParams {
    /// The pool device.
    pub pool: DevRef,
    /// The thin device id in the pool (24 bits).
    pub device_id: u32,
    /// A read-only external origin.
    pub external_origin: Option<DevRef>,
}

/// The largest thin device id (24 bits).
const MAX_DEV_ID: u32 = (1 << 24) - 1;

impl TargetParams for ThinParams {
    const TARGET_TYPE: &'static str = "thin";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.dev(&self.pool);
        o.num(self.device_id);
        if let Some(e) = &self.external_origin {
            o.dev(e);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<ThinParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let pool = a.dev("pool device")?;
        let device_id = a.u32_in("device id", 0, MAX_DEV_ID)?;
        let external_origin = if a.is_empty() {
            None
        } else {
            Some(a.dev("external origin")?)
        };
        a.finish()?;
        Ok(ThinParams {
            pool,
            device_id,
            external_origin,
        })
    }
}

/// The status fields of an active thin device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThinStatusDetail {
    /// Sectors mapped.
    pub mapped: Sectors,
    /// The last sector of the highest mapped block, or `None` (`-`) when
    /// nothing is mapped.
    pub highest_mapped: Option<Sectors>,
}

/// `thin` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThinStatus {
    /// An active thin device.
    Ok(ThinStatusDetail),
    /// `Fail`: the pool failed.
    Fail,
    /// `Error`: the kernel could not read the mapping counters.
    Error,
    /// `-`: the thin device is not open (no details).
    Unavailable,
}

impl TargetStatus for ThinStatus {
    const TARGET_TYPE: &'static str = "thin";

    fn parse(status: &[u8]) -> Result<ThinStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let s = match a.peek() {
            Some(b"Fail") => {
                a.next("status")?;
                ThinStatus::Fail
            }
            Some(b"Error") => {
                a.next("status")?;
                ThinStatus::Error
            }
            Some(b"-") => {
                a.next("status")?;
                ThinStatus::Unavailable
            }
            _ => {
                let mapped = a.sectors("mapped sectors")?;
                let highest_mapped = if a.peek() == Some(b"-") {
                    a.next("highest mapped sector")?;
                    None
                } else {
                    Some(a.sectors("highest mapped sector")?)
                };
                ThinStatus::Ok(ThinStatusDetail {
                    mapped,
                    highest_mapped,
                })
            }
        };
        a.finish()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_params() {
        let s = b"7:1 7:2 128 100 5 skip_block_zeroing ignore_discard no_discard_passdown read_only error_if_no_space ";
        let p = ThinPoolParams::parse(s).unwrap();
        assert!(
            p.features.skip_block_zeroing && p.features.read_only && p.features.error_if_no_space
        );
        assert_eq!(p.to_params().as_bytes(), &s[..]);
        let p = ThinPoolParams::parse(b"/dev/a /dev/b 128 0").unwrap();
        assert_eq!(p.to_params().as_bytes(), b"/dev/a /dev/b 128 0 0 ");
        for bad in [
            &b"a b 128"[..],
            b"a b x 0",
            b"a b 128 0 1 bogus",
            b"a b 128 0 2 read_only",
            b"a b 128 0 0 x",
        ] {
            assert!(ThinPoolParams::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pool_status() {
        let s = ThinPoolStatus::parse(
            b"0 1651/16384 0/1024 24 rw discard_passdown queue_if_no_space - 1024 ",
        )
        .unwrap();
        let ThinPoolStatus::Ok(d) = s else { panic!() };
        assert_eq!(d.held_metadata_root, Some(24));
        assert_eq!(
            (d.used_metadata_blocks, d.total_metadata_blocks),
            (1651, 16384)
        );
        assert_eq!(d.metadata_low_watermark, Some(1024));
        assert!(d.extra.is_empty());
        let s = ThinPoolStatus::parse(
            b"5 1/2 3/4 - out_of_data_space ignore_discard error_if_no_space needs_check",
        )
        .unwrap();
        let ThinPoolStatus::Ok(d) = s else { panic!() };
        assert_eq!(d.mode, ThinPoolMode::OutOfDataSpace);
        assert_eq!(d.discards, ThinPoolDiscards::Ignore);
        assert!(d.error_if_no_space && d.needs_check);
        assert_eq!(d.metadata_low_watermark, None);
        let s = ThinPoolStatus::parse(
            b"5 1/2 3/4 - ro no_discard_passdown queue_if_no_space - 7 future x",
        )
        .unwrap();
        let ThinPoolStatus::Ok(d) = s else { panic!() };
        assert_eq!(d.extra, [b"future".to_vec(), b"x".to_vec()]);
        assert_eq!(
            ThinPoolStatus::parse(b"Fail").unwrap(),
            ThinPoolStatus::Fail
        );
        assert_eq!(
            ThinPoolStatus::parse(b"Error").unwrap(),
            ThinPoolStatus::Error
        );
        for bad in [
            &b""[..],
            b"Fail x",
            b"x 1/2 3/4 - rw discard_passdown queue_if_no_space -",
            b"0 1 3/4 - rw discard_passdown queue_if_no_space -",
            b"0 1/2 3/4 x rw discard_passdown queue_if_no_space -",
            b"0 1/2 3/4 - rx discard_passdown queue_if_no_space -",
            b"0 1/2 3/4 - rw discard queue_if_no_space -",
            b"0 1/2 3/4 - rw discard_passdown queue -",
            b"0 1/2 3/4 - rw discard_passdown queue_if_no_space x",
            b"0 1/2 3/4 - rw discard_passdown queue_if_no_space - x",
            b"0 1/2 3/4 - rw discard_passdown",
        ] {
            assert!(
                ThinPoolStatus::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn thin() {
        for s in [&b"253:0 0"[..], b"253:0 16777215 7:3"] {
            assert_eq!(ThinParams::parse(s).unwrap().to_params().as_bytes(), s);
        }
        for bad in [
            &b"253:0"[..],
            b"253:0 16777216",
            b"253:0 1 7:3 x",
            b"253:0 -1",
        ] {
            assert!(ThinParams::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ThinStatus::parse(b"2048 10239").unwrap(),
            ThinStatus::Ok(ThinStatusDetail {
                mapped: Sectors(2048),
                highest_mapped: Some(Sectors(10239))
            })
        );
        assert_eq!(
            ThinStatus::parse(b"0 -").unwrap(),
            ThinStatus::Ok(ThinStatusDetail {
                mapped: Sectors(0),
                highest_mapped: None
            })
        );
        assert_eq!(ThinStatus::parse(b"Fail").unwrap(), ThinStatus::Fail);
        assert_eq!(ThinStatus::parse(b"Error").unwrap(), ThinStatus::Error);
        assert_eq!(ThinStatus::parse(b"-").unwrap(), ThinStatus::Unavailable);
        for bad in [&b""[..], b"x -", b"1", b"1 x", b"1 - 2", b"Fail 1"] {
            assert!(ThinStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
