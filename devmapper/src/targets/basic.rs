//! `linear` and `striped` (`zero` and `error` take no parameters and are
//! plain variants of [`Target`](super::Target)).

use super::{Args, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens};
use crate::secret::Secret;
use crate::units::Sectors;

/// `linear`: `<device> <offset>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinearParams {
    /// The underlying device.
    pub device: DevRef,
    /// Start sector on it.
    pub offset: Sectors,
}

impl LinearParams {
    /// Map onto `device` from `offset`.
    pub fn new(device: DevRef, offset: Sectors) -> LinearParams {
        LinearParams { device, offset }
    }
}

impl TargetParams for LinearParams {
    const TARGET_TYPE: &'static str = "linear";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.dev(&self.device);
        o.num(self.offset.0);
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<LinearParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let device = a.dev("device")?;
        let offset = a.sectors("offset")?;
        a.finish()?;
        Ok(LinearParams { device, offset })
    }
}

/// One stripe of a `striped` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stripe {
    /// The device.
    pub device: DevRef,
    /// Start sector on it.
    pub offset: Sectors,
}

/// `striped`: `<#stripes> <chunk size> [<device> <offset>]+`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripedParams {
    /// Chunk size in sectors (at least a page; a power of two on kernels
    /// older than 4.x, any multiple of the logical block size since).
    pub chunk_size: Sectors,
    /// The stripes, at least one.
    pub stripes: Vec<Stripe>,
}

impl TargetParams for StripedParams {
    const TARGET_TYPE: &'static str = "striped";

    fn to_params(&self) -> Secret {
        let mut o = Out::new();
        o.num(self.stripes.len() as u64);
        o.num(self.chunk_size.0);
        for s in &self.stripes {
            o.dev(&s.device);
            o.num(s.offset.0);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<StripedParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let n = a.u32("stripe count")?;
        if n == 0 {
            return Err(a.err_prev("stripe count", ParseErrorKind::OutOfRange));
        }
        let chunk_size = a.sectors("chunk size")?;
        if a.remaining() / 2 < n as usize {
            return Err(a.err_at(1, "stripe count", ParseErrorKind::CountTooLarge));
        }
        let mut stripes = Vec::new();
        stripes
            .try_reserve_exact(n as usize)
            .map_err(|_| ParseError::whole(Self::TARGET_TYPE, ParseErrorKind::OutOfMemory))?;
        for _ in 0..n {
            let device = a.dev("stripe device")?;
            let offset = a.sectors("stripe offset")?;
            stripes.push(Stripe { device, offset });
        }
        a.finish()?;
        Ok(StripedParams {
            chunk_size,
            stripes,
        })
    }
}

/// `striped` status: `<#stripes> <device>... 1 <health chars>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripedStatus {
    /// The stripe devices, as the kernel names them (`major:minor`).
    pub devices: Vec<DevRef>,
    /// Per stripe: `true` when alive (`A`), `false` after an I/O error (`D`).
    pub alive: Vec<bool>,
}

impl TargetStatus for StripedStatus {
    const TARGET_TYPE: &'static str = "striped";

    fn parse(status: &[u8]) -> Result<StripedStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let n = a.count("stripe count")?;
        let mut devices = Vec::new();
        devices
            .try_reserve_exact(n)
            .map_err(|_| ParseError::whole(Self::TARGET_TYPE, ParseErrorKind::OutOfMemory))?;
        for _ in 0..n {
            devices.push(a.dev("stripe device")?);
        }
        let alive = health_group(&mut a, n, "health")?;
        a.finish()?;
        Ok(StripedStatus { devices, alive })
    }
}

/// `1 <chars>` with one `A`/`D` per device.
fn health_group(a: &mut Args<'_>, n: usize, name: &'static str) -> Result<Vec<bool>, ParseError> {
    let c = a.u32("health count")?;
    if c != 1 {
        return Err(a.err_prev("health count", ParseErrorKind::Invalid("1")));
    }
    let chars = a.next(name)?;
    if chars.len() != n {
        return Err(a.err_prev(
            name,
            ParseErrorKind::Invalid("one health character per device"),
        ));
    }
    chars
        .iter()
        .map(|&c| match c {
            b'A' => Ok(true),
            b'D' => Ok(false),
            _ => Err(a.err_prev(name, ParseErrorKind::Invalid("A or D"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(s: &str) -> DevRef {
        DevRef::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn linear() {
        let p = LinearParams::parse(b"/dev/loop0 2048").unwrap();
        assert_eq!(p, LinearParams::new(dev("/dev/loop0"), Sectors(2048)));
        assert_eq!(p.to_params().as_bytes(), b"/dev/loop0 2048");
        let p = LinearParams::new(DevRef::path("/dev/a b").unwrap(), Sectors(0));
        assert_eq!(p.to_params().as_bytes(), b"/dev/a\\ b 0");
        assert_eq!(LinearParams::parse(p.to_params().as_bytes()).unwrap(), p);
        for bad in [
            &b""[..],
            b"7:0",
            b"7:0 x",
            b"7:0 1 2",
            b"7:0 -1",
            b"7:0 99999999999999999999",
        ] {
            assert!(LinearParams::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            LinearParams::parse(b"7:0 x").unwrap_err().to_string(),
            "linear: argument 2 (offset): expected a number"
        );
    }

    #[test]
    fn striped() {
        let p = StripedParams::parse(b"2 128 7:0 0 7:1 8").unwrap();
        assert_eq!(p.chunk_size, Sectors(128));
        assert_eq!(p.stripes[1].device, dev("7:1"));
        assert_eq!(p.to_params().as_bytes(), b"2 128 7:0 0 7:1 8");
        for bad in [
            &b"0 128"[..],
            b"2 128 7:0 0",
            b"1 128 7:0 0 7:1",
            b"1 x 7:0 0",
            b"4294967296 8 a 0",
        ] {
            assert!(StripedParams::parse(bad).is_err(), "{bad:?}");
        }
        let s = StripedStatus::parse(b"2 7:0 7:1 1 AD").unwrap();
        assert_eq!(s.alive, [true, false]);
        for bad in [
            &b"2 7:0 7:1 1 A"[..],
            b"2 7:0 7:1 2 AA",
            b"1 7:0 1 X",
            b"3 7:0",
            b"1 7:0 1 A x",
        ] {
            assert!(StripedStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
