//! The `@stats_*` messages: building them as stock does, and parsing the
//! kernel's replies (`drivers/md/dm-stats.c` formats) with stock's rules.
//! Everything here is pure: no I/O.

use super::error::{Result, StatsError};
use super::histogram::{Bin, Histogram, NSEC_PER_MSEC};
use super::metrics::Counters;

/// Stock formats every message into a 1024-byte buffer.
pub const MSG_BUF_LEN: usize = 1024;

fn fits(msg: Vec<u8>, err: &str) -> Result<Vec<u8>> {
    if msg.len() >= MSG_BUF_LEN {
        return Err(StatsError::invalid(err));
    }
    Ok(msg)
}

/// `@stats_create <range> <step> [<n> <args>...] <program_id> <aux_data>`
/// exactly as stock spells it (extra spaces included): the range is "-"
/// when `start` and `len` are both 0; a negative `step` means "/N" areas.
pub fn create_message(
    start: u64,
    len: u64,
    step: i64,
    precise: bool,
    hist_arg: Option<&str>,
    program_id: &[u8],
    aux_data: &[u8],
) -> Result<Vec<u8>> {
    let range = if start != 0 || len != 0 {
        format!("{start}+{len}")
    } else {
        "-".to_string()
    };
    let nr_opt = usize::from(precise) + usize::from(hist_arg.is_some());
    let opt_args = if nr_opt > 0 {
        let h = hist_arg.unwrap_or("");
        format!(
            "{nr_opt} {} {}{h}",
            if precise { "precise_timestamps" } else { "" },
            if h.is_empty() { "" } else { "histogram:" }
        )
    } else {
        String::new()
    };
    let mut m = format!(
        "@stats_create {range} {}{} {opt_args} ",
        if step < 0 { "/" } else { "" },
        step.unsigned_abs()
    )
    .into_bytes();
    m.extend_from_slice(program_id);
    m.push(b' ');
    m.extend_from_slice(aux_data);
    fits(m, "Could not prepare @stats_create message.")
}

/// `@stats_list <program_id>` (an empty program id lists every region).
pub fn list_message(program_id: &[u8]) -> Result<Vec<u8>> {
    let mut m = b"@stats_list ".to_vec();
    m.extend_from_slice(program_id);
    fits(m, "Failed to prepare stats message.")
}

/// `@stats_delete <region_id>`.
pub fn delete_message(region_id: u64) -> Vec<u8> {
    format!("@stats_delete {region_id}").into_bytes()
}

/// `@stats_clear <region_id>`.
pub fn clear_message(region_id: u64) -> Vec<u8> {
    format!("@stats_clear {region_id}").into_bytes()
}

/// `@stats_print[_clear] <region_id> [<start_line> <num_lines>]`; the row
/// range is sent when either number is non-zero.
pub fn print_message(region_id: u64, start_line: u32, num_lines: u32, clear: bool) -> Vec<u8> {
    let lines = if start_line != 0 || num_lines != 0 {
        format!("{start_line} {num_lines}")
    } else {
        String::new()
    };
    format!(
        "@stats_print{} {region_id} {lines}",
        if clear { "_clear" } else { "" }
    )
    .into_bytes()
}

/// `@stats_set_aux <region_id> <aux_data> ` (aux_data already composed).
pub fn set_aux_message(region_id: u64, aux: &[u8]) -> Result<Vec<u8>> {
    let mut m = format!("@stats_set_aux {region_id} ").into_bytes();
    m.extend_from_slice(aux);
    m.push(b' ');
    fits(m, "Could not prepare @stats_set_aux message")
}

/// The region id in a `@stats_create` reply.
pub fn parse_create_reply(resp: Option<&[u8]>) -> Result<u64> {
    let Some(r) = resp else {
        return Err(StatsError::protocol(
            "Could not parse empty @stats_create response.",
        ));
    };
    let mut s = Scanner { s: r, i: 0 };
    s.u64()
        .ok_or_else(|| StatsError::silent(super::error::StatsErrorKind::Protocol))
}

/// A `sscanf`-like reader over reply bytes.
struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_c_space) {
            self.i += 1;
        }
    }
    /// `%lu`: optional sign (a minus wraps, as strtoull), at least one digit;
    /// `None` on no digits or overflow.
    fn u64(&mut self) -> Option<u64> {
        self.skip_space();
        let mut neg = false;
        match self.peek() {
            Some(b'+') => self.i += 1,
            Some(b'-') => {
                neg = true;
                self.i += 1;
            }
            _ => {}
        }
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        Some(if neg { v.wrapping_neg() } else { v })
    }
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }
    fn rest(&self) -> &[u8] {
        self.s.get(self.i..).unwrap_or(&[])
    }
}

/// One line of a `@stats_list` reply, read with stock's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRegion {
    /// The region id.
    pub region_id: u64,
    /// First sector.
    pub start: u64,
    /// Length in sectors.
    pub len: u64,
    /// Area size in sectors.
    pub step: u64,
    /// Program id ("" for "-" or any id starting with '-').
    pub program_id: Vec<u8>,
    /// Aux data as stock reads it: "" for "-" (or anything starting with
    /// '-'); stock also drops the last character of aux_data when the line
    /// carries `precise_timestamps` or `histogram:` (a stock bug kept here).
    pub aux_data: Vec<u8>,
    /// 1 for precise_timestamps (ns counters), else 1 000 000 (ms counters).
    pub timescale: u64,
    /// Histogram bounds in ns (last bin `u64::MAX`), if the region has one.
    pub bounds: Option<Histogram>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parse one `@stats_list` line (with or without its newline).
pub fn parse_list_line(line: &[u8]) -> Result<ListedRegion> {
    let bad = || StatsError::silent(super::error::StatsErrorKind::Protocol);
    let mut s = Scanner { s: line, i: 0 };
    let region_id = s.u64().ok_or_else(bad)?;
    s.lit(b':').ok_or_else(bad)?;
    let start = s.u64().ok_or_else(bad)?;
    s.lit(b'+').ok_or_else(bad)?;
    let len = s.u64().ok_or_else(bad)?;
    let step = s.u64().ok_or_else(bad)?;
    s.skip_space();
    let rest = s.rest();
    let sd = rest.get(..rest.len().min(4095)).unwrap_or(rest);
    if sd.is_empty() {
        return Err(bad());
    }
    let (program_id, mut aux, stats_args): (&[u8], &[u8], &[u8]);
    match sd.iter().position(|&c| c == b' ') {
        Some(p) => {
            let pid = sd.get(..p).unwrap_or(b"");
            program_id = if pid.first() == Some(&b'-') { b"" } else { pid };
            let after = sd.get(p + 1..).unwrap_or(b"");
            match after.iter().position(|&c| c == b' ') {
                Some(q) => {
                    aux = after.get(..q).unwrap_or(b"");
                    stats_args = after.get(q + 1..).unwrap_or(b"");
                }
                None => {
                    aux = after;
                    stats_args = b"";
                }
            }
            if aux.first() == Some(&b'-') {
                aux = b"";
            } else {
                // Stock removes "the trailing newline": the last character,
                // whatever it is.
                aux = aux.get(..aux.len().saturating_sub(1)).unwrap_or(b"");
            }
        }
        None => {
            program_id = sd;
            aux = b"";
            stats_args = b"";
        }
    }
    let timescale = if find(stats_args, b"precise_timestamps").is_some() {
        1
    } else {
        NSEC_PER_MSEC
    };
    let bounds = match find(stats_args, b"histogram:") {
        Some(h) => Some(parse_histogram_spec(
            stats_args.get(h..).unwrap_or(b""),
            timescale,
        )?),
        None => None,
    };
    Ok(ListedRegion {
        region_id,
        start,
        len,
        step,
        program_id: program_id.to_vec(),
        aux_data: aux.to_vec(),
        timescale,
        bounds,
    })
}

/// Parse "histogram:n1,n2,..." from a list line into bounds (values times
/// `scale`, plus the final `u64::MAX` bin).
fn parse_histogram_spec(spec: &[u8], scale: u64) -> Result<Histogram> {
    let colon = spec
        .iter()
        .position(|&c| c == b':')
        .ok_or_else(|| StatsError::protocol("Could not parse histogram description."))?;
    let mut h = spec.get(colon + 1..).unwrap_or(b"");
    if let Some(nl) = h.iter().position(|&c| c == b'\n') {
        h = h.get(..nl).unwrap_or(b"");
    }
    let at = |i: usize| h.get(i).copied().unwrap_or(0);
    let badchar = |c: u8| {
        StatsError::protocol(format!(
            "Invalid character in histogram: '{}' (0x{:x})",
            if c == 0 { String::new() } else { lossy(&[c]) },
            c
        ))
    };
    let mut bins = Vec::new();
    let mut c = 0usize;
    loop {
        let ch = at(c);
        if !(ch.is_ascii_digit() || ch == b',') {
            return Err(badchar(ch));
        }
        if ch == b',' {
            return Err(StatsError::protocol(format!(
                "Invalid histogram description: {}",
                lossy(h)
            )));
        }
        let mut s = Scanner { s: h, i: c };
        let v = s
            .u64()
            .ok_or_else(|| StatsError::protocol("Could not parse histogram boundary."))?;
        c = s.i;
        if at(c) == b',' {
            c += 1;
        } else if at(c) != 0 {
            return Err(badchar(at(c)));
        }
        if at(c) == b',' {
            c += 1;
        }
        bins.push(Bin {
            upper: scale.wrapping_mul(v),
            count: 0,
        });
        if at(c) == 0 || at(c) == b' ' {
            break;
        }
    }
    bins.push(Bin {
        upper: u64::MAX,
        count: 0,
    });
    Ok(Histogram { bins, sum: 0 })
}

/// Split a reply into lines as `fgets` would (each with its newline).
pub(crate) fn lines(resp: &[u8]) -> impl Iterator<Item = &[u8]> {
    resp.split_inclusive(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
}

/// Parse a whole `@stats_list` reply (empty: no regions).
pub fn parse_list(resp: &[u8]) -> Result<Vec<ListedRegion>> {
    let mut out = Vec::new();
    for line in lines(resp) {
        out.push(parse_list_line(line)?);
    }
    Ok(out)
}

/// One area row of a `@stats_print` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedArea {
    /// First sector of the area.
    pub start: u64,
    /// The length the kernel prints (always the region's step).
    pub len: u64,
    /// The counters, times in nanoseconds (ms values scaled up).
    pub counters: Counters,
    /// The area's histogram, when the region has bounds.
    pub histogram: Option<Histogram>,
}

/// Parse one `@stats_print` row. `timescale` is the region's (1 or
/// 1 000 000); `bounds` the region's histogram bounds, if any.
pub fn parse_print_row(
    row: &[u8],
    timescale: u64,
    bounds: Option<&Histogram>,
) -> Result<PrintedArea> {
    let bad_row = || StatsError::protocol("Could not parse @stats_print row.");
    let mut s = Scanner { s: row, i: 0 };
    let start = s.u64().ok_or_else(bad_row)?;
    s.lit(b'+').ok_or_else(bad_row)?;
    let len = s.u64().ok_or_else(bad_row)?;
    let mut v = [0u64; 13];
    for slot in v.iter_mut() {
        *slot = s.u64().ok_or_else(bad_row)?;
    }
    let mut c = Counters {
        reads: v[0],
        reads_merged: v[1],
        read_sectors: v[2],
        read_nsecs: v[3],
        writes: v[4],
        writes_merged: v[5],
        write_sectors: v[6],
        write_nsecs: v[7],
        io_in_progress: v[8],
        io_nsecs: v[9],
        weighted_io_nsecs: v[10],
        total_read_nsecs: v[11],
        total_write_nsecs: v[12],
    };
    if timescale != 1 {
        for t in [
            &mut c.read_nsecs,
            &mut c.write_nsecs,
            &mut c.io_nsecs,
            &mut c.weighted_io_nsecs,
            &mut c.total_read_nsecs,
            &mut c.total_write_nsecs,
        ] {
            *t = t.wrapping_mul(timescale);
        }
    }
    let histogram = match bounds {
        Some(b) => Some(parse_histogram_values(row, b)?),
        None => None,
    };
    Ok(PrintedArea {
        start,
        len,
        counters: c,
        histogram,
    })
}

fn parse_histogram_values(row: &[u8], bounds: &Histogram) -> Result<Histogram> {
    let bad = || StatsError::protocol("Could not parse histogram value.");
    let colon = row.iter().position(|&c| c == b':').ok_or_else(bad)?;
    // Back up to the space that precedes the histogram column.
    let mut start = colon;
    while start > 0 && row.get(start - 1) != Some(&b' ') {
        start -= 1;
    }
    if start == 0 {
        return Err(bad());
    }
    let h = row.get(start..).unwrap_or(b"");
    let at = |i: usize| h.get(i).copied().unwrap_or(0);
    let badchar = |c: u8| {
        StatsError::protocol(format!(
            "Invalid character in histogram data: '{}' (0x{:x})",
            if c == 0 { String::new() } else { lossy(&[c]) },
            c
        ))
    };
    let mut bins = Vec::with_capacity(bounds.bins.len());
    let mut sum: u64 = 0;
    let mut c = 0usize;
    loop {
        let ch = at(c);
        if !(ch.is_ascii_digit() || ch == b':') {
            return Err(badchar(ch));
        }
        let mut s = Scanner { s: h, i: c };
        let v = match s.u64() {
            Some(v) => v,
            None if ch == b':' => 0, // strtoull on ':' reads nothing: 0
            None => return Err(bad()),
        };
        c = s.i.max(c);
        if at(c) == b':' {
            c += 1;
        } else if at(c) != 0 && at(c) != b'\n' {
            return Err(badchar(at(c)));
        }
        if at(c) == b':' {
            c += 1;
        }
        let upper = bounds.bins.get(bins.len()).ok_or_else(bad)?.upper;
        bins.push(Bin { upper, count: v });
        sum = sum.wrapping_add(v);
        if at(c) == 0 || at(c) == b'\n' {
            break;
        }
    }
    if bins.len() != bounds.bins.len() {
        return Err(bad());
    }
    Ok(Histogram { bins, sum })
}

/// A region's counters from a whole `@stats_print` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedRegion {
    /// Start of the first row.
    pub start: u64,
    /// Length of the first row (the step).
    pub step: u64,
    /// End of the last row minus `start` (the kernel prints the full step
    /// for a partial last area, so this can exceed the region's length).
    pub len: u64,
    /// The rows.
    pub areas: Vec<PrintedArea>,
}

/// Parse a whole `@stats_print` reply.
pub fn parse_print(
    resp: Option<&[u8]>,
    timescale: u64,
    bounds: Option<&Histogram>,
) -> Result<PrintedRegion> {
    let Some(resp) = resp else {
        return Err(StatsError::protocol(
            "Could not parse empty @stats_print response.",
        ));
    };
    let mut areas = Vec::new();
    for line in lines(resp) {
        areas.push(parse_print_row(line, timescale, bounds)?);
    }
    let (Some(first), Some(last)) = (areas.first(), areas.last()) else {
        return Err(StatsError::silent(super::error::StatsErrorKind::Protocol));
    };
    Ok(PrintedRegion {
        start: first.start,
        step: first.len,
        len: last.start.wrapping_add(last.len).wrapping_sub(first.start),
        areas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_messages_as_stock_spells_them() {
        let m = create_message(0, 0, -1, false, None, b"dmstats", b"").unwrap();
        assert_eq!(m, b"@stats_create - /1  dmstats ");
        let m = create_message(0, 1024, 128, false, None, b"prog", b"aux").unwrap();
        assert_eq!(m, b"@stats_create 0+1024 128  prog aux");
        let m = create_message(8, 8, -4, true, None, b"p", b"").unwrap();
        assert_eq!(m, b"@stats_create 8+8 /4 1 precise_timestamps  p ");
        let m = create_message(0, 0, -1, false, Some("1,2"), b"p", b"").unwrap();
        assert_eq!(m, b"@stats_create - /1 1  histogram:1,2 p ");
        let m = create_message(0, 0, -1, true, Some("1,2"), b"p", b"x").unwrap();
        assert_eq!(
            m,
            b"@stats_create - /1 2 precise_timestamps histogram:1,2 p x"
        );
        let m = create_message(0, 0, i64::MIN, false, None, b"", b"").unwrap();
        assert_eq!(m, b"@stats_create - /9223372036854775808   ");
        let long = vec![b'a'; 1010];
        let e = create_message(0, 0, -1, false, None, b"p", &long).unwrap_err();
        assert_eq!(e.to_string(), "Could not prepare @stats_create message.");
    }

    #[test]
    fn other_messages() {
        assert_eq!(list_message(b"").unwrap(), b"@stats_list ");
        assert_eq!(list_message(b"dmstats").unwrap(), b"@stats_list dmstats");
        assert_eq!(delete_message(3), b"@stats_delete 3");
        assert_eq!(clear_message(3), b"@stats_clear 3");
        assert_eq!(print_message(2, 0, 0, false), b"@stats_print 2 ");
        assert_eq!(print_message(2, 0, 0, true), b"@stats_print_clear 2 ");
        assert_eq!(print_message(2, 1, 3, false), b"@stats_print 2 1 3");
        assert_eq!(
            set_aux_message(0, b"DMS_GROUP=x:0-1#-").unwrap(),
            b"@stats_set_aux 0 DMS_GROUP=x:0-1#- "
        );
    }

    #[test]
    fn create_reply() {
        assert_eq!(parse_create_reply(Some(b"7")).unwrap(), 7);
        assert!(parse_create_reply(Some(b"x")).is_err());
        assert_eq!(
            parse_create_reply(None).unwrap_err().to_string(),
            "Could not parse empty @stats_create response."
        );
    }

    #[test]
    fn list_lines() {
        let r = parse_list_line(b"0: 0+2048 256 dmstats -\n").unwrap();
        assert_eq!((r.region_id, r.start, r.len, r.step), (0, 0, 2048, 256));
        assert_eq!(r.program_id, b"dmstats");
        assert_eq!(r.aux_data, b"");
        assert_eq!(r.timescale, NSEC_PER_MSEC);
        assert!(r.bounds.is_none());

        let r = parse_list_line(b"3: 10+20 20 - hello\n").unwrap();
        assert_eq!(r.program_id, b"");
        assert_eq!(r.aux_data, b"hello");

        let r =
            parse_list_line(b"1: 0+8 8 p foo precise_timestamps histogram:1000,2000\n").unwrap();
        assert_eq!(r.timescale, 1);
        // Stock's bug: the last character of aux_data is dropped here.
        assert_eq!(r.aux_data, b"fo");
        let b = r.bounds.unwrap();
        let up: Vec<u64> = b.bins().iter().map(|b| b.upper).collect();
        assert_eq!(up, vec![1000, 2000, u64::MAX]);

        let r = parse_list_line(b"2: 0+8 8 p - histogram:1,5\n").unwrap();
        let up: Vec<u64> = r.bounds.unwrap().bins().iter().map(|b| b.upper).collect();
        assert_eq!(up, vec![1_000_000, 5_000_000, u64::MAX]);
    }

    #[test]
    fn malformed_list_lines_are_errors() {
        for bad in [
            &b""[..],
            b"x: 0+8 8 p -\n",
            b"0 0+8 8 p -\n",
            b"0: 0-8 8 p -\n",
            b"0: 0+8\n",
            b"0: 0+8 8\n",
            b"0: 0+8 8 p - histogram:\n",
            b"0: 0+8 8 p - histogram:1x\n",
            b"99999999999999999999: 0+8 8 p -\n",
        ] {
            assert!(parse_list_line(bad).is_err(), "{:?}", lossy(bad));
        }
    }

    #[test]
    fn print_rows() {
        let row = b"0+1024 5 1 40 12 3 0 24 7 0 19 19 12 7\n";
        let a = parse_print_row(row, NSEC_PER_MSEC, None).unwrap();
        assert_eq!((a.start, a.len), (0, 1024));
        assert_eq!(a.counters.reads, 5);
        assert_eq!(a.counters.read_nsecs, 12_000_000);
        assert_eq!(a.counters.write_sectors, 24);
        assert_eq!(a.counters.total_write_nsecs, 7_000_000);
        let a = parse_print_row(row, 1, None).unwrap();
        assert_eq!(a.counters.read_nsecs, 12);

        let bounds = Histogram {
            bins: vec![
                Bin {
                    upper: 1000,
                    count: 0,
                },
                Bin {
                    upper: u64::MAX,
                    count: 0,
                },
            ],
            sum: 0,
        };
        let row = b"0+8 1 0 8 500 0 0 0 0 0 500 500 500 0 1:0\n";
        let a = parse_print_row(row, 1, Some(&bounds)).unwrap();
        let h = a.histogram.unwrap();
        assert_eq!(
            h.bins()[0],
            Bin {
                upper: 1000,
                count: 1
            }
        );
        assert_eq!(h.sum(), 1);
        // Wrong number of histogram values, or none.
        assert!(parse_print_row(
            b"0+8 1 0 8 500 0 0 0 0 0 500 500 500 0 1:0:4\n",
            1,
            Some(&bounds)
        )
        .is_err());
        assert!(
            parse_print_row(b"0+8 1 0 8 500 0 0 0 0 0 500 500 500 0\n", 1, Some(&bounds)).is_err()
        );
        assert!(parse_print_row(b"0+8 1 0 8 500 0 0 0 0 0 500 500\n", 1, None).is_err());
        assert!(parse_print_row(b"0+8 1 0 8 500 0 0 0 0 0 500 500 500 x\n", 1, None).is_err());
    }

    #[test]
    fn whole_print_reply() {
        let resp = b"0+30 1 0 8 0 0 0 0 0 0 0 0 0 0\n30+30 0 0 0 0 0 0 0 0 0 0 0 0 0\n60+30 0 0 0 0 2 0 16 0 0 0 0 0 0\n90+30 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let p = parse_print(Some(resp), NSEC_PER_MSEC, None).unwrap();
        assert_eq!((p.start, p.step, p.len), (0, 30, 120));
        assert_eq!(p.areas.len(), 4);
        assert_eq!(p.areas[2].counters.writes, 2);
        assert!(parse_print(Some(b""), 1, None).is_err());
        assert!(parse_print(None, 1, None).is_err());
    }
}
