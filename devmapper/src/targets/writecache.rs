//! `writecache` (dm-writecache).

use super::{
    parse_num, DevRef, Out, ParseError, ParseErrorKind, TargetParams, TargetStatus, Tokens,
};
use crate::secret::Secret;

/// The kind of cache device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritecacheMode {
    /// `p`: persistent memory.
    Pmem,
    /// `s`: an SSD.
    Ssd,
}

/// The optional arguments of `writecache`, printed in the kernel's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritecacheOptions {
    /// `start_sector <n>`: where the cache starts on the cache device.
    pub start_sector: Option<u64>,
    /// `high_watermark <percent>`: start writeback above this.
    pub high_watermark: Option<u32>,
    /// `low_watermark <percent>`: stop writeback below this.
    pub low_watermark: Option<u32>,
    /// `writeback_jobs <n>`
    pub writeback_jobs: Option<u32>,
    /// `autocommit_blocks <n>`
    pub autocommit_blocks: Option<u32>,
    /// `autocommit_time <ms>`
    pub autocommit_time: Option<u32>,
    /// `max_age <ms>`
    pub max_age: Option<u32>,
    /// `cleaner`: write everything back, cache nothing new.
    pub cleaner: bool,
    /// `fua` (`Some(true)`) or `nofua` (`Some(false)`); persistent memory only.
    pub fua: Option<bool>,
    /// `metadata_only`: cache only metadata (REQ_META) writes.
    pub metadata_only: bool,
    /// `pause_writeback <ms>`
    pub pause_writeback: Option<u32>,
}

/// `writecache`: `<p|s> <origin dev> <cache dev> <block size> <#opts> <opts>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritecacheParams {
    /// Persistent memory or SSD.
    pub mode: WritecacheMode,
    /// The slow device being cached.
    pub origin: DevRef,
    /// The cache device.
    pub cache: DevRef,
    /// Block size in bytes (512 to the page size, a power of two).
    pub block_size: u32,
    /// Optional arguments.
    pub options: WritecacheOptions,
}

impl TargetParams for WritecacheParams {
    const TARGET_TYPE: &'static str = "writecache";

    fn to_params(&self) -> Secret {
        let w = &self.options;
        let mut o = Out::new();
        o.word(match self.mode {
            WritecacheMode::Pmem => "p",
            WritecacheMode::Ssd => "s",
        });
        o.dev(&self.origin);
        o.dev(&self.cache);
        o.num(self.block_size);
        let valued: [(&str, Option<u64>); 7] = [
            ("start_sector", w.start_sector),
            ("high_watermark", w.high_watermark.map(u64::from)),
            ("low_watermark", w.low_watermark.map(u64::from)),
            ("writeback_jobs", w.writeback_jobs.map(u64::from)),
            ("autocommit_blocks", w.autocommit_blocks.map(u64::from)),
            ("autocommit_time", w.autocommit_time.map(u64::from)),
            ("max_age", w.max_age.map(u64::from)),
        ];
        let n = valued.iter().filter(|v| v.1.is_some()).count() * 2
            + usize::from(w.cleaner)
            + usize::from(w.fua.is_some())
            + usize::from(w.metadata_only)
            + if w.pause_writeback.is_some() { 2 } else { 0 };
        o.num(n as u64);
        for (k, v) in valued {
            if let Some(v) = v {
                o.word(k);
                o.num(v);
            }
        }
        if w.cleaner {
            o.word("cleaner");
        }
        match w.fua {
            Some(true) => o.word("fua"),
            Some(false) => o.word("nofua"),
            None => {}
        }
        if w.metadata_only {
            o.word("metadata_only");
        }
        if let Some(p) = w.pause_writeback {
            o.word("pause_writeback");
            o.num(p);
        }
        o.finish()
    }

    fn parse(params: &[u8]) -> Result<WritecacheParams, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, params)?;
        let mut a = toks.args(false);
        let t = a.next("mode")?;
        let mode = if t.eq_ignore_ascii_case(b"p") {
            WritecacheMode::Pmem
        } else if t.eq_ignore_ascii_case(b"s") {
            WritecacheMode::Ssd
        } else {
            return Err(a.err_prev("mode", ParseErrorKind::Invalid("p or s")));
        };
        let origin = a.dev("origin device")?;
        let cache = a.dev("cache device")?;
        let block_size = a.u32("block size")?;
        if !block_size.is_power_of_two() || block_size < 512 {
            return Err(a.err_prev("block size", ParseErrorKind::OutOfRange));
        }
        let mut w = WritecacheOptions::default();
        if !a.is_empty() {
            let n = a.count("optional argument count")?;
            let mut g = a.group(n);
            while !g.is_empty() {
                let t = g.next("optional argument")?;
                let is = |k: &str| t.eq_ignore_ascii_case(k.as_bytes());
                if is("start_sector") {
                    w.start_sector = Some(g.u64("start_sector")?);
                } else if is("high_watermark") {
                    w.high_watermark = Some(g.u32_in("high_watermark", 0, 100)?);
                } else if is("low_watermark") {
                    w.low_watermark = Some(g.u32_in("low_watermark", 0, 100)?);
                } else if is("writeback_jobs") {
                    w.writeback_jobs = Some(g.u32("writeback_jobs")?);
                } else if is("autocommit_blocks") {
                    w.autocommit_blocks = Some(g.u32("autocommit_blocks")?);
                } else if is("autocommit_time") {
                    w.autocommit_time = Some(g.u32("autocommit_time")?);
                } else if is("max_age") {
                    w.max_age = Some(g.u32("max_age")?);
                } else if is("cleaner") {
                    w.cleaner = true;
                } else if is("fua") {
                    w.fua = Some(true);
                } else if is("nofua") {
                    w.fua = Some(false);
                } else if is("metadata_only") {
                    w.metadata_only = true;
                } else if is("pause_writeback") {
                    w.pause_writeback = Some(g.u32("pause_writeback")?);
                } else {
                    return Err(g.err_prev_quoting(
                        "optional argument",
                        ParseErrorKind::UnknownFeature,
                        t,
                    ));
                }
            }
        }
        a.finish()?;
        if let (Some(h), Some(l)) = (w.high_watermark, w.low_watermark) {
            if l > h {
                return Err(ParseError::new(
                    Self::TARGET_TYPE,
                    None,
                    Some("low_watermark"),
                    ParseErrorKind::Conflict("low_watermark above high_watermark"),
                ));
            }
        }
        Ok(WritecacheParams {
            mode,
            origin,
            cache,
            block_size,
            options: w,
        })
    }
}

/// The statistics counters of `writecache` status (kernel 5.15+).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WritecacheStats {
    /// Read requests.
    pub reads: u64,
    /// Read requests that hit the cache.
    pub read_hits: u64,
    /// Write requests.
    pub writes: u64,
    /// Writes that hit an uncommitted block.
    pub write_hits_uncommitted: u64,
    /// Writes that hit a committed block.
    pub write_hits_committed: u64,
    /// Writes that bypassed the cache.
    pub writes_around: u64,
    /// Writes that allocated a block.
    pub writes_allocate: u64,
    /// Writes that waited for a free block.
    pub writes_blocked_on_freelist: u64,
    /// Flush requests.
    pub flushes: u64,
    /// Discard requests.
    pub discards: u64,
}

/// `writecache` status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritecacheStatus {
    /// The error indicator: 0, or a negative errno after an I/O error.
    pub error: i64,
    /// Cache blocks in all.
    pub total_blocks: u64,
    /// Free cache blocks.
    pub free_blocks: u64,
    /// Blocks under writeback.
    pub writeback_blocks: u64,
    /// Counters (absent on kernels before 5.15).
    pub stats: Option<WritecacheStats>,
    /// Fields after these that a newer kernel may print.
    pub extra: Vec<Vec<u8>>,
}

impl TargetStatus for WritecacheStatus {
    const TARGET_TYPE: &'static str = "writecache";

    fn parse(status: &[u8]) -> Result<WritecacheStatus, ParseError> {
        let toks = Tokens::split(Self::TARGET_TYPE, status)?;
        let mut a = toks.args(false);
        let t = a.next("error")?;
        let error = match t.strip_prefix(b"-") {
            Some(m) => parse_num(m)
                .ok()
                .and_then(|v| i64::try_from(v).ok())
                .map(|v| -v)
                .ok_or_else(|| a.err_prev("error", ParseErrorKind::ExpectedNumber))?,
            None => parse_num(t)
                .map_err(|k| a.err_prev("error", k))
                .and_then(|v| {
                    i64::try_from(v).map_err(|_| a.err_prev("error", ParseErrorKind::OutOfRange))
                })?,
        };
        let total_blocks = a.u64("blocks")?;
        let free_blocks = a.u64("free blocks")?;
        let writeback_blocks = a.u64("writeback blocks")?;
        let stats = if a.is_empty() {
            None
        } else {
            Some(WritecacheStats {
                reads: a.u64("reads")?,
                read_hits: a.u64("read hits")?,
                writes: a.u64("writes")?,
                write_hits_uncommitted: a.u64("write hits uncommitted")?,
                write_hits_committed: a.u64("write hits committed")?,
                writes_around: a.u64("writes around")?,
                writes_allocate: a.u64("writes allocate")?,
                writes_blocked_on_freelist: a.u64("writes blocked on freelist")?,
                flushes: a.u64("flushes")?,
                discards: a.u64("discards")?,
            })
        };
        let extra = a.rest_bytes()?;
        Ok(WritecacheStatus {
            error,
            total_blocks,
            free_blocks,
            writeback_blocks,
            stats,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let s = b"s 7:0 7:1 4096 19 start_sector 16 high_watermark 60 low_watermark 40 writeback_jobs 1024 autocommit_blocks 64 autocommit_time 1000 max_age 60000 cleaner nofua metadata_only pause_writeback 500";
        let p = WritecacheParams::parse(s).unwrap();
        assert_eq!(p.options.start_sector, Some(16));
        assert_eq!(p.options.fua, Some(false));
        assert!(p.options.cleaner && p.options.metadata_only);
        assert_eq!(p.to_params().as_bytes(), &s[..]);
        let s = b"p 7:0 7:1 512 1 fua";
        assert_eq!(
            WritecacheParams::parse(s).unwrap().to_params().as_bytes(),
            &s[..]
        );
        assert_eq!(
            WritecacheParams::parse(b"s a b 4096")
                .unwrap()
                .to_params()
                .as_bytes(),
            b"s a b 4096 0"
        );
        for bad in [
            &b"x a b 4096 0"[..],
            b"s a b 4095 0",
            b"s a b 4096 1 bogus",
            b"s a b 4096 1 start_sector",
            b"s a b 4096 2 high_watermark 101",
            b"s a b 4096 4 high_watermark 10 low_watermark 20",
            b"s a b 4096 2 cleaner",
            b"s a b 4096 0 x",
        ] {
            assert!(
                WritecacheParams::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn status() {
        let s = WritecacheStatus::parse(b"0 16320 16320 0 1 2 3 4 5 6 7 8 9 10").unwrap();
        assert_eq!(s.total_blocks, 16320);
        assert_eq!(s.stats.unwrap().discards, 10);
        let s = WritecacheStatus::parse(b"-5 10 9 1").unwrap();
        assert_eq!(s.error, -5);
        assert_eq!(s.stats, None);
        let s = WritecacheStatus::parse(b"0 1 1 0 1 2 3 4 5 6 7 8 9 10 11").unwrap();
        assert_eq!(s.extra, [b"11".to_vec()]);
        for bad in [&b""[..], b"x 1 1 0", b"0 1 1", b"0 1 1 0 1 2", b"-x 1 1 0"] {
            assert!(WritecacheStatus::parse(bad).is_err(), "{bad:?}");
        }
    }
}
