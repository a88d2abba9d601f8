//! The constructor string of a userspace log.
//!
//! The kernel strips the uuid (and `integrated_flush`) from the table's log
//! arguments and sends the rest, prefixed with the mirror's length in
//! sectors:
//!
//! ```text
//! <dev_len> clustered-core <region_size> [sync|nosync] [block_on_error]
//! <dev_len> clustered-disk <log_dev> <region_size> [sync|nosync] [block_on_error]
//! ```
//!
//! `core` and `disk` are accepted as the type too. The log device is
//! `major:minor` or an absolute path. The region size is a power of two of
//! at least 2 sectors and at most the device length, and the region count
//! fits 32 bits: the rules of the kernel's own `core`/`disk` logs, so that
//! a table valid for one is valid for the other.

use crate::error::Error;
use std::fmt;

/// Where the log keeps its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// In memory only (`clustered-core`).
    Core,
    /// In memory and on a log device (`clustered-disk`).
    Disk,
}

/// The `[no]sync` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Neither: resynchronise what the log says is out of sync.
    Default,
    /// `sync`: resynchronise everything (ignore what a disk log holds).
    Force,
    /// `nosync`: the legs are known to be identical.
    Nosync,
}

/// A parsed constructor string.
#[derive(Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The mirror's length in sectors.
    pub dev_len: u64,
    /// The type word as given (reported back in status lines).
    pub type_name: Vec<u8>,
    /// Core or disk.
    pub kind: LogKind,
    /// The log device argument as given (disk logs).
    pub device: Option<Vec<u8>>,
    /// Region size in sectors.
    pub region_size: u64,
    /// `ceil(dev_len / region_size)`.
    pub region_count: u64,
    /// `sync`/`nosync`.
    pub sync: SyncMode,
    /// `block_on_error`: a failing log device fails FLUSH (the mirror then
    /// holds or fails writes) instead of being reported and bypassed.
    pub block_on_error: bool,
    /// The argument words after the device length, space-separated.
    pub args: Vec<u8>,
}

impl fmt::Debug for LogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogConfig")
            .field("dev_len", &self.dev_len)
            .field("kind", &self.kind)
            .field(
                "device",
                &self.device.as_deref().map(super::codec::EscapedBytes),
            )
            .field("region_size", &self.region_size)
            .field("region_count", &self.region_count)
            .field("sync", &self.sync)
            .field("block_on_error", &self.block_on_error)
            .finish()
    }
}

fn number(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 20 || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    word.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Whether a device argument is `major:minor` (decimal) or an absolute path.
fn valid_device(dev: &[u8]) -> bool {
    if dev.len() >= super::abi::DM_NAME_LEN {
        return false;
    }
    if dev.first() == Some(&b'/') {
        return true;
    }
    let mut parts = dev.splitn(2, |&b| b == b':');
    let (Some(ma), Some(mi)) = (parts.next(), parts.next()) else {
        return false;
    };
    matches!((number(ma), number(mi)), (Some(a), Some(b)) if a <= u32::MAX as u64 && b <= u32::MAX as u64)
}

/// Parse a CTR payload (without its NUL). Errors are `EINVAL` with a line
/// saying what is wrong.
pub fn parse_ctr(args: &[u8]) -> Result<LogConfig, Error> {
    let bad = |what: String| Error::invalid(what);
    let words: Vec<&[u8]> = args
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let (&len_word, rest) = words
        .split_first()
        .ok_or_else(|| bad("empty constructor string".into()))?;
    let dev_len = number(len_word).filter(|&n| n > 0).ok_or_else(|| {
        bad(format!(
            "invalid device length \"{}\"",
            super::codec::EscapedBytes(len_word)
        ))
    })?;
    let (&type_word, rest) = rest
        .split_first()
        .ok_or_else(|| bad("no log type in the constructor string".into()))?;
    let kind = match type_word {
        b"clustered-core" | b"core" => LogKind::Core,
        b"clustered-disk" | b"disk" => LogKind::Disk,
        other => {
            return Err(bad(format!(
                "unsupported log type \"{}\" (clustered-core, clustered-disk, core, disk)",
                super::codec::EscapedBytes(other)
            )))
        }
    };
    let (device, rest) = match kind {
        LogKind::Core => (None, rest),
        LogKind::Disk => {
            let (&dev, rest) = rest
                .split_first()
                .ok_or_else(|| bad("no log device given to a disk log".into()))?;
            if !valid_device(dev) {
                return Err(bad(format!(
                    "invalid log device \"{}\" (major:minor or an absolute path)",
                    super::codec::EscapedBytes(dev)
                )));
            }
            (Some(dev.to_vec()), rest)
        }
    };
    let (&rs_word, options) = rest
        .split_first()
        .ok_or_else(|| bad("no region size given".into()))?;
    let region_size = number(rs_word)
        .filter(|&n| n <= u64::from(u32::MAX))
        .ok_or_else(|| {
            bad(format!(
                "invalid region size \"{}\"",
                super::codec::EscapedBytes(rs_word)
            ))
        })?;
    if region_size < 2 || !region_size.is_power_of_two() || region_size > dev_len {
        return Err(bad(format!(
            "invalid region size {region_size}: a power of two from 2 to the device length ({dev_len} sectors)"
        )));
    }
    let region_count = dev_len.div_ceil(region_size);
    if region_count > u64::from(u32::MAX) {
        return Err(bad(format!(
            "region count {region_count} exceeds the limit of {}",
            u32::MAX
        )));
    }
    let mut sync = None;
    let mut block_on_error = false;
    for &w in options {
        match w {
            b"sync" | b"nosync" if sync.is_some() => {
                return Err(bad("more than one of sync/nosync given".into()))
            }
            b"sync" => sync = Some(SyncMode::Force),
            b"nosync" => sync = Some(SyncMode::Nosync),
            b"block_on_error" if block_on_error => {
                return Err(bad("block_on_error given twice".into()))
            }
            b"block_on_error" => block_on_error = true,
            other => {
                return Err(bad(format!(
                    "unrecognised log argument \"{}\"",
                    super::codec::EscapedBytes(other)
                )))
            }
        }
    }
    Ok(LogConfig {
        dev_len,
        type_name: type_word.to_vec(),
        kind,
        device,
        region_size,
        region_count,
        sync: sync.unwrap_or(SyncMode::Default),
        block_on_error,
        args: words.get(1..).unwrap_or(&[]).join(&b' '),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_disk() {
        let c = parse_ctr(b"2097152 clustered-core 1024").unwrap();
        assert_eq!(c.kind, LogKind::Core);
        assert_eq!(c.region_count, 2048);
        assert_eq!(c.sync, SyncMode::Default);
        assert!(!c.block_on_error && c.device.is_none());
        assert_eq!(c.args, b"clustered-core 1024");
        let d = parse_ctr(b"1000 clustered-disk 253:2 64 nosync block_on_error").unwrap();
        assert_eq!(d.kind, LogKind::Disk);
        assert_eq!(d.device.as_deref(), Some(&b"253:2"[..]));
        assert_eq!(d.region_count, 16); // ceil(1000 / 64)
        assert_eq!(d.sync, SyncMode::Nosync);
        assert!(d.block_on_error);
        let d = parse_ctr(b"1024 disk /dev/loop3 2 sync").unwrap();
        assert_eq!(d.sync, SyncMode::Force);
        assert_eq!(d.type_name, b"disk");
        assert_eq!(parse_ctr(b"64 core 64").unwrap().region_count, 1);
    }

    #[test]
    fn rejects() {
        for bad in [
            &b""[..],
            b"   ",
            b"0 core 2",
            b"x core 2",
            b"99999999999999999999999 core 2",
            b"100 mirror 2",
            b"100 core",
            b"100 core 3",
            b"100 core 1",
            b"100 core 128",
            b"100 core 64 fast",
            b"100 core 64 sync nosync",
            b"100 core 64 block_on_error block_on_error",
            b"100 disk 64",
            b"100 disk 7 64",
            b"100 disk 7:x 64",
            b"100 disk dev 64",
            b"100 disk 7:1",
            b"10000000000000 core 2",
        ] {
            let e = parse_ctr(bad).unwrap_err();
            assert_eq!(
                e.errno(),
                Some(libc::EINVAL),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
