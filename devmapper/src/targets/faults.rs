//! Fault injection: `flakey` and `delay`.

use super::{DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens};
use crate::secret::Secret;
use crate::units::Sectors;

/// Which bios `corrupt_bio_byte` corrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoDirection {
    /// `r`: reads.
    Read,
    /// `w`: writes.
    Write,
}

/// `corrupt_bio_byte <Nth_byte> <direction> <value> <flags>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorruptBioByte {
    /// The byte to replace, counting from 1.
    pub nth_byte: u32,
    /// Reads or writes.
    pub direction: IoDirection,
    /// The value written in its place.
    pub value: u8,
    /// Only bios with all these `bi_opf` flags set (0: all bios).
    pub flags: u32,
}

/// The feature arguments of `flakey`. Printed in the kernel's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlakeyFeatures {
    /// `error_reads` (kernel 6.6+): fail reads while down.
    pub error_reads: bool,
    /// `drop_writes`: silently drop writes while down.
    pub drop_writes: bool,
    /// `error_writes`: fail writes while down.
    pub error_writes: bool,
    /// `corrupt_bio_byte ...`
    pub corrupt_bio_byte: Option<CorruptBioByte>,
    /// `random_read_corrupt <probability>` (kernel 6.6+; out of 1000000000).
    pub random_read_corrupt: Option<u32>,
    /// `random_write_corrupt <probability>` (kernel 6.6+; out of 1000000000).
    pub random_write_corrupt: Option<u32>,
}

impl FlakeyFeatures {
    fn count(&self) -> u64 {
        u64::from(self.error_reads)
            + u64::from(self.drop_writes)
            + u64::from(self.error_writes)
            + if self.corrupt_bio_byte.is_some() {
                5
            } else {
                0
            }
            + if self.random_read_corrupt.is_some() {
                2
            } else {
                0
            }
            + if self.random_write_corrupt.is_some() {
                2
            } else {
                0
            }
    }
}

/// `flakey`: `<device> <offset> <up interval> <down interval> [<#features> <features>...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlakeyParams {
    /// The underlying device.
    pub device: DevRef,
    /// Start sector on it.
    pub offset: Sectors,
    /// Seconds the device works.
    pub up_interval: u32,
    /// Seconds it misbehaves.
    pub down_interval: u32,
    /// How it misbehaves (no features: all I/O fails while down).
    pub features: FlakeyFeatures,
}

/// Probabilities are out of this.
const PROBABILITY_BASE: u32 = 1_000_000_000;

impl TargetParams for FlakeyParams {
    const TARGET_TYPE: &'static str = "flakey";

    fn to_params(&self) -> Secret {
        let f = &self.features;
        let mut o = Out::new();
        o.dev(&self.device);
        o.num(self.offset.0);
        o.num(self.up_interval);
        o.num(self.down_interval);
        o.num(f.count());
        if f.error_reads {
            o.word("error_reads");
        }
        if f.drop_writes {
            o.word("drop_writes");
        }
        if f.error_writes {
            o.word("error_writes");
        }
        if let Some(c) = f.corrupt_bio_byte {
            o.word("corrupt_bio_byte");
            o.num(c.nth_byte);
            o.word(match c.direction {
                IoDirection::Read => "r",
                IoDirection::Write => "w",
            });
            o.num(c.value);
            o.num(c.flags);
        }
        if let Some(p) = f.random_read_corrupt {
            o.word("random_read_corrupt");
            o.num(p);
        }
        if let Some(p) = f.random_write_corrupt {
            o.word("random_write_corrupt");
            o.num(p);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<FlakeyParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let device = a.dev("device")?;
        let offset = a.sectors("offset")?;
        let up_interval = a.u32("up interval")?;
        let down_interval = a.u32("down interval")?;
        if up_interval
            .checked_add(down_interval)
            .is_none_or(|s| s == 0)
        {
            return Err(a.err_prev("down interval", ParseErrorKind::OutOfRange));
        }
        let mut f = FlakeyFeatures::default();
        if !a.is_empty() {
            let n = a.count("feature count")?;
            let mut g = a.group(n);
            while !g.is_empty() {
                let t = g.next("feature")?;
                let dup = |g: &super::Args<'_>| {
                    g.err_prev("feature", ParseErrorKind::Conflict("duplicated feature"))
                };
                if t.eq_ignore_ascii_case(b"error_reads") {
                    if f.error_reads {
                        return Err(dup(&g));
                    }
                    f.error_reads = true;
                } else if t.eq_ignore_ascii_case(b"drop_writes") {
                    if f.drop_writes || f.error_writes {
                        return Err(dup(&g));
                    }
                    f.drop_writes = true;
                } else if t.eq_ignore_ascii_case(b"error_writes") {
                    if f.drop_writes || f.error_writes {
                        return Err(dup(&g));
                    }
                    f.error_writes = true;
                } else if t.eq_ignore_ascii_case(b"corrupt_bio_byte") {
                    let nth_byte = g.u32_in("Nth_byte", 1, u32::MAX)?;
                    let d = g.next("direction")?;
                    let direction = if d.eq_ignore_ascii_case(b"r") {
                        IoDirection::Read
                    } else if d.eq_ignore_ascii_case(b"w") {
                        IoDirection::Write
                    } else {
                        return Err(g.err_prev("direction", ParseErrorKind::Invalid("r or w")));
                    };
                    let value = g.u32_in("value", 0, 255)? as u8;
                    let flags = g.u32("flags")?;
                    f.corrupt_bio_byte = Some(CorruptBioByte {
                        nth_byte,
                        direction,
                        value,
                        flags,
                    });
                } else if t.eq_ignore_ascii_case(b"random_read_corrupt") {
                    f.random_read_corrupt = Some(g.u32_in("probability", 0, PROBABILITY_BASE)?);
                } else if t.eq_ignore_ascii_case(b"random_write_corrupt") {
                    f.random_write_corrupt = Some(g.u32_in("probability", 0, PROBABILITY_BASE)?);
                } else {
                    return Err(g.err_prev_quoting("feature", ParseErrorKind::UnknownFeature, t));
                }
            }
        }
        a.finish()?;
        if let Some(c) = f.corrupt_bio_byte {
            if c.direction == IoDirection::Write && (f.drop_writes || f.error_writes) {
                return Err(ParseError::new(
                    Self::TARGET_TYPE,
                    None,
                    Some("corrupt_bio_byte"),
                    ParseErrorKind::Conflict("corrupting writes that are dropped or failed"),
                ));
            }
        }
        Ok(FlakeyParams {
            device,
            offset,
            up_interval,
            down_interval,
            features: f,
        })
    }
}

/// One class of I/O of `delay`: where it goes and how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayClass {
    /// The device.
    pub device: DevRef,
    /// Start sector on it.
    pub offset: Sectors,
    /// Delay in milliseconds.
    pub delay_ms: u32,
}

/// `delay`: `<device> <offset> <delay> [<write device> <offset> <delay>
/// [<flush device> <offset> <delay>]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayParams {
    /// Reads (and everything else when no write class is given).
    pub read: DelayClass,
    /// Writes (and flushes when no flush class is given).
    pub write: Option<DelayClass>,
    /// Flushes. Without a write class, the read class is printed for writes.
    pub flush: Option<DelayClass>,
}

impl TargetParams for DelayParams {
    const TARGET_TYPE: &'static str = "delay";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        let emit = |o: &mut Out, c: &DelayClass| {
            o.dev(&c.device);
            o.num(c.offset.0);
            o.num(c.delay_ms);
        };
        emit(&mut o, &self.read);
        match (&self.write, &self.flush) {
            (None, None) => {}
            (Some(w), None) => emit(&mut o, w),
            (w, Some(f)) => {
                emit(&mut o, w.as_ref().unwrap_or(&self.read));
                emit(&mut o, f);
            }
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<DelayParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let class = |a: &mut super::Args<'_>| -> Result<DelayClass, ParseError> {
            Ok(DelayClass {
                device: a.dev("device")?,
                offset: a.sectors("offset")?,
                delay_ms: a.u32("delay")?,
            })
        };
        let read = class(&mut a)?;
        let write = if a.is_empty() {
            None
        } else {
            Some(class(&mut a)?)
        };
        let flush = if a.is_empty() {
            None
        } else {
            Some(class(&mut a)?)
        };
        a.finish()?;
        Ok(DelayParams { read, write, flush })
    }
}

/// `delay` status: the number of reads, writes and flushes delayed so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayStatus {
    /// Delayed reads.
    pub reads: u64,
    /// Delayed writes.
    pub writes: u64,
    /// Delayed flushes.
    pub flushes: u64,
}

impl TargetStatus for DelayStatus {
    const TARGET_TYPE: &'static str = "delay";

    fn parse(status: &[u8]) -> Result<DelayStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let s = DelayStatus {
            reads: a.u64("reads")?,
            writes: a.u64("writes")?,
            flushes: a.u64("flushes")?,
        };
        a.finish()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flakey_features() {
        let s = b"7:0 0 5 5 11 error_reads drop_writes corrupt_bio_byte 32 r 1 0 random_read_corrupt 10 random_write_corrupt 1000000000";
        let p = FlakeyParams::parse(s).unwrap();
        assert!(p.features.error_reads && p.features.drop_writes && !p.features.error_writes);
        assert_eq!(
            p.features.corrupt_bio_byte,
            Some(CorruptBioByte {
                nth_byte: 32,
                direction: IoDirection::Read,
                value: 1,
                flags: 0
            })
        );
        assert_eq!(p.features.random_read_corrupt, Some(10));
        assert_eq!(p.to_params().as_bytes(), &s[..]);
        let p = FlakeyParams::parse(b"/dev/x 8 0 1 1 ERROR_WRITES").unwrap();
        assert_eq!(p.to_params().as_bytes(), b"/dev/x 8 0 1 1 error_writes");
        let p = FlakeyParams::parse(b"7:0 0 1 2").unwrap();
        assert_eq!(p.to_params().as_bytes(), b"7:0 0 1 2 0");
    }

    #[test]
    fn flakey_malformed() {
        let cases: &[(&[u8], ParseErrorKind)] = &[
            (b"7:0 0 0 0", ParseErrorKind::OutOfRange),
            (b"7:0 0 4294967295 1", ParseErrorKind::OutOfRange),
            (b"7:0 0 1", ParseErrorKind::Missing),
            (b"7:0 0 1 x", ParseErrorKind::ExpectedNumber),
            (b"7:0 0 1 1 1 bogus", ParseErrorKind::UnknownFeature),
            (b"7:0 0 1 1 2 drop_writes", ParseErrorKind::CountTooLarge),
            (
                b"7:0 0 1 1 2 drop_writes error_writes",
                ParseErrorKind::Conflict("duplicated feature"),
            ),
            (
                b"7:0 0 1 1 5 corrupt_bio_byte 0 r 1 0",
                ParseErrorKind::OutOfRange,
            ),
            (
                b"7:0 0 1 1 5 corrupt_bio_byte 1 x 1 0",
                ParseErrorKind::Invalid("r or w"),
            ),
            (
                b"7:0 0 1 1 5 corrupt_bio_byte 1 r 256 0",
                ParseErrorKind::OutOfRange,
            ),
            (
                b"7:0 0 1 1 4 corrupt_bio_byte 1 r 1",
                ParseErrorKind::Missing,
            ),
            (
                b"7:0 0 1 1 2 random_read_corrupt 1000000001",
                ParseErrorKind::OutOfRange,
            ),
            (b"7:0 0 1 1 0 extra", ParseErrorKind::TooMany),
        ];
        for (s, k) in cases {
            let e = FlakeyParams::parse(s).unwrap_err();
            assert_eq!(e.kind(), k, "{}", String::from_utf8_lossy(s));
        }
        let e =
            FlakeyParams::parse(b"7:0 0 1 1 6 drop_writes corrupt_bio_byte 1 w 1 0").unwrap_err();
        assert!(matches!(e.kind(), ParseErrorKind::Conflict(_)));
        let e = FlakeyParams::parse(b"7:0 0 1 1 1 bogus").unwrap_err();
        assert_eq!(
            e.to_string(),
            "flakey: argument 6 (feature): unknown feature \"bogus\""
        );
    }

    #[test]
    fn delay() {
        for s in [
            &b"7:0 0 100"[..],
            b"7:0 0 0 7:1 0 50",
            b"7:0 0 10 7:1 0 20 7:2 0 30",
        ] {
            assert_eq!(DelayParams::parse(s).unwrap().to_params().as_bytes(), s);
        }
        let p = DelayParams::parse(b"7:0 0 10 7:1 0 20 7:2 0 30").unwrap();
        assert_eq!(p.flush.as_ref().unwrap().delay_ms, 30);
        let q = DelayParams {
            write: None,
            ..p.clone()
        };
        assert_eq!(q.to_params().as_bytes(), b"7:0 0 10 7:0 0 10 7:2 0 30");
        for bad in [
            &b"7:0 0"[..],
            b"7:0 0 1 7:1",
            b"7:0 0 1 7:1 0 1 7:2 0",
            b"7:0 0 1 7:1 0 1 7:2 0 1 x",
            b"7:0 0 x",
        ] {
            assert!(DelayParams::parse(bad).is_err(), "{bad:?}");
        }
        let s = DelayStatus::parse(b"3 2 1").unwrap();
        assert_eq!((s.reads, s.writes, s.flushes), (3, 2, 1));
        assert!(DelayStatus::parse(b"3 2").is_err());
        assert!(DelayStatus::parse(b"3 2 1 0").is_err());
    }
}
