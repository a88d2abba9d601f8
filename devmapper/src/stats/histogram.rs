//! Latency histograms (`dm_histogram_*`): bounds parsing, bins, and the
//! text form `dm_histogram_to_string` produces.

use super::error::{Result, StatsError};

pub(crate) const NSEC_PER_USEC: u64 = 1_000;
pub(crate) const NSEC_PER_MSEC: u64 = 1_000_000;
pub(crate) const NSEC_PER_SEC: u64 = 1_000_000_000;

/// `dm_percent_t` value of 0%.
pub const DM_PERCENT_0: i32 = 0;
/// `dm_percent_t` value of 1%.
pub const DM_PERCENT_1: i32 = 1_000_000;
/// `dm_percent_t` value of 100%.
pub const DM_PERCENT_100: i32 = 100 * DM_PERCENT_1;

/// `dm_make_percent`: `numerator / denominator` as a `dm_percent_t`, never
/// exactly 0% or 100% unless the ratio is.
pub fn make_percent(numerator: u64, denominator: u64) -> i32 {
    if denominator == 0 {
        return DM_PERCENT_100;
    }
    if numerator == 0 {
        return DM_PERCENT_0;
    }
    if numerator == denominator {
        return DM_PERCENT_100;
    }
    let p = (f64::from(DM_PERCENT_100) * (numerator as f64 / denominator as f64)) as i32;
    match p {
        DM_PERCENT_100 => DM_PERCENT_100 - 1,
        DM_PERCENT_0 => DM_PERCENT_0 + 1,
        p => p,
    }
}

/// `dm_percent_to_float`: a `dm_percent_t` as a float percentage.
pub fn percent_to_float(percent: i32) -> f32 {
    percent as f32 / DM_PERCENT_1 as f32 + 0.0f32
}

/// One histogram bin: its upper bound (ns) and its count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bin {
    /// Upper bound of the bin in nanoseconds (`u64::MAX` for the last bin of
    /// a region's histogram).
    pub upper: u64,
    /// Number of I/Os that completed within the bin.
    pub count: u64,
}

/// A histogram (`struct dm_histogram`): either a bounds description passed
/// to region creation, or the bins and counts of a region, area or group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    pub(crate) bins: Vec<Bin>,
    pub(crate) sum: u64,
}

bitflags::bitflags! {
    /// `DM_HISTOGRAM_*` flags of [`Histogram::to_string_with`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct HistogramFlags: u32 {
        /// `DM_HISTOGRAM_SUFFIX`: print bounds with ns/us/ms/s suffixes.
        const SUFFIX = 0x1;
        /// `DM_HISTOGRAM_VALUES`: include the bin counts.
        const VALUES = 0x2;
        /// `DM_HISTOGRAM_PERCENT`: print counts as percentages.
        const PERCENT = 0x4;
        /// `DM_HISTOGRAM_BOUNDS_LOWER`: print each bin's lower bound.
        const BOUNDS_LOWER = 0x10;
        /// `DM_HISTOGRAM_BOUNDS_UPPER`: print each bin's upper bound.
        const BOUNDS_UPPER = 0x20;
        /// `DM_HISTOGRAM_BOUNDS_RANGE`: print each bin as "lower-upper".
        const BOUNDS_RANGE = 0x30;
        // Undocumented bits pass through, as in stock.
        const _ = !0;
    }
}

const BOUNDS_MASK: u32 = 0x30;
/// Stock formats each piece into a 64-byte buffer (`BOUNDS_LEN`).
const BOUNDS_LEN: usize = 64;
const BOUND_WIDTH_NOSUFFIX: i32 = 10;
const BOUND_WIDTH: i32 = 6;
const COUNT_WIDTH: i32 = 6;
const PERCENT_WIDTH: i32 = 6;

impl Histogram {
    /// A histogram from explicit bins (sum computed from the counts).
    pub fn from_bins(bins: Vec<Bin>) -> Histogram {
        let sum = bins.iter().fold(0u64, |a, b| a.wrapping_add(b.count));
        Histogram { bins, sum }
    }

    /// `dm_histogram_bounds_from_string`: parse "n1,n2,..." with optional
    /// `ns`/`us`/`ms`/`s` suffixes (a value without a suffix takes the unit of
    /// the previous value, nanoseconds at first) into bounds in nanoseconds.
    pub fn bounds_from_string(s: &[u8]) -> Result<Histogram> {
        const VALID: &[u8] = b"0123456789,muns";
        let nr_entries = 1 + s.iter().filter(|&&c| c == b',').count();
        let mut bins = vec![Bin::default(); nr_entries];
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        let badchar = |c: u8| {
            let shown = if c == 0 {
                String::new()
            } else {
                String::from_utf8_lossy(&[c]).into_owned()
            };
            StatsError::invalid(format!("Invalid character in histogram: {shown}"))
        };
        let mut c = 0usize;
        let mut mult = 1u64;
        let mut n = 0usize;
        loop {
            let ch = at(c);
            if ch == 0 || !VALID.contains(&ch) {
                return Err(badchar(ch));
            }
            if ch == b',' {
                return Err(StatsError::invalid(format!(
                    "Empty histogram bin not allowed: {}",
                    String::from_utf8_lossy(s)
                )));
            }
            // strtoull: the digits here (no sign or space can start a value).
            let digits = s
                .get(c..)
                .unwrap_or(&[])
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            let mut val: u64 = 0;
            for &d in s.get(c..c + digits).unwrap_or(&[]) {
                // strtoull saturates (stock does not check ERANGE).
                val = val
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    .unwrap_or(u64::MAX);
            }
            c += digits;
            if at(c) == b's' {
                mult = NSEC_PER_SEC;
                c += 1;
            } else if at(c) != 0 && at(c + 1) == b's' {
                mult = match at(c) {
                    b'm' => NSEC_PER_MSEC,
                    b'u' => NSEC_PER_USEC,
                    b'n' => 1,
                    other => return Err(badchar(other)),
                };
                c += 2;
            } else if at(c) == b',' {
                c += 1;
            } else if at(c) != 0 {
                return Err(badchar(at(c)));
            }
            if at(c) == b',' {
                c += 1;
            }
            // Stock writes one bin per value into a table sized by the
            // number of commas (and overruns it on input like "1s2s"); such
            // input is refused here.
            let Some(slot) = bins.get_mut(n) else {
                return Err(badchar(at(c.saturating_sub(1))));
            };
            slot.upper = val.wrapping_mul(mult);
            n += 1;
            if at(c) == 0 {
                break;
            }
        }
        Ok(Histogram { bins, sum: 0 })
    }

    /// `dm_histogram_bounds_from_uint64`: bounds in nanoseconds from a list
    /// that ends at the first zero (or at the end of the slice).
    pub fn bounds_from_u64(bounds: &[u64]) -> Result<Histogram> {
        let vals: Vec<u64> = bounds.iter().copied().take_while(|&v| v != 0).collect();
        if vals.is_empty() {
            return Err(StatsError::invalid(
                "Could not parse empty histogram bounds array",
            ));
        }
        Ok(Histogram {
            bins: vals
                .into_iter()
                .map(|upper| Bin { upper, count: 0 })
                .collect(),
            sum: 0,
        })
    }

    /// `dm_histogram_get_nr_bins`.
    pub fn nr_bins(&self) -> usize {
        self.bins.len()
    }

    /// The bins.
    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// `dm_histogram_get_bin_lower`: 0 for the first bin, else the previous
    /// bin's upper bound. `None` for a bin that does not exist.
    pub fn bin_lower(&self, bin: usize) -> Option<u64> {
        if bin == 0 {
            return self.bins.first().map(|_| 0);
        }
        self.bins.get(bin)?;
        self.bins.get(bin - 1).map(|b| b.upper)
    }

    /// `dm_histogram_get_bin_upper`.
    pub fn bin_upper(&self, bin: usize) -> Option<u64> {
        self.bins.get(bin).map(|b| b.upper)
    }

    /// `dm_histogram_get_bin_width`: upper - lower (wrapping, as in C).
    pub fn bin_width(&self, bin: usize) -> Option<u64> {
        Some(self.bin_upper(bin)?.wrapping_sub(self.bin_lower(bin)?))
    }

    /// `dm_histogram_get_bin_count`.
    pub fn bin_count(&self, bin: usize) -> Option<u64> {
        self.bins.get(bin).map(|b| b.count)
    }

    /// `dm_histogram_get_sum`: the sum of the bin counts.
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// `dm_histogram_get_bin_percent`: the bin's share of the sum as a
    /// `dm_percent_t` (0 when the sum, the count or the width is 0).
    pub fn bin_percent(&self, bin: usize) -> Option<i32> {
        let value = self.bin_count(bin)?;
        let width = self.bin_width(bin)?;
        let total = self.sum;
        if total == 0 || value == 0 || width == 0 {
            return Some(DM_PERCENT_0);
        }
        Some(make_percent(value, total))
    }

    /// `dm_histogram_to_string`: `bin` None formats every bin; `width` is the
    /// column width (negative: no padding); `flags` as in libdm.
    pub fn to_string_with(
        &self,
        bin: Option<usize>,
        width: i32,
        flags: HistogramFlags,
    ) -> Result<String> {
        let flags = flags.bits();
        let bounds = flags & BOUNDS_MASK;
        let values = flags & HistogramFlags::VALUES.bits() != 0;
        let percent = flags & HistogramFlags::PERCENT.bits() != 0;
        let (start, last) = match bin {
            None => {
                if self.bins.is_empty() {
                    return Ok(String::new());
                }
                (0, self.bins.len() - 1)
            }
            Some(b) => {
                if b >= self.bins.len() {
                    return Err(StatsError::invalid(format!(
                        "Histogram bin {b} does not exist."
                    )));
                }
                (b, b)
            }
        };
        let mut width = width;
        let minwidth;
        if width < 0 || !values {
            width = 0;
            minwidth = 0;
        } else if percent {
            width = if width != 0 { width } else { PERCENT_WIDTH };
            minwidth = width;
        } else {
            width = if width != 0 { width } else { COUNT_WIDTH };
            minwidth = width;
        }
        let mut sep: &str = if values && width == 0 { ":" } else { "" };
        let mut bounds_buf = String::new();
        let mut out = String::new();
        let fail = || StatsError::silent(super::error::StatsErrorKind::InvalidArgument);
        for b in start..=last {
            if bounds != 0 {
                let mut bounds_width = if flags & HistogramFlags::SUFFIX.bits() == 0 {
                    BOUND_WIDTH_NOSUFFIX
                } else {
                    BOUND_WIDTH
                };
                if width == 0 {
                    bounds_width = 0;
                }
                let lower = self.bin_lower(b).unwrap_or(0);
                let upper = self.bin_upper(b).unwrap_or(0);
                bounds_buf = make_bounds_string(lower, upper, flags, bounds_width)?;
                let len = bounds_buf.len() as i32;
                sep = if width != 0 || !values { "," } else { ":" };
                if width != 0 {
                    width -= len - (bounds_width + 1);
                }
                if width < 0 {
                    width = 0;
                }
            }
            if b == last {
                sep = "";
            }
            let w = width as usize;
            let piece = if percent {
                let pr = self.bin_percent(b).unwrap_or(0);
                let v = f64::from(percent_to_float(pr));
                format!("{bounds_buf}{v:>w$.2}%{sep}")
            } else if values {
                let v = self.bin_count(b).unwrap_or(0);
                format!("{bounds_buf}{v:>w$}{sep}")
            } else if bounds != 0 {
                format!("{bounds_buf}{sep}")
            } else {
                String::new()
            };
            if piece.len() >= BOUNDS_LEN {
                // dm_snprintf into a 64-byte buffer fails.
                return Err(fail());
            }
            width = minwidth;
            out.push_str(&piece);
        }
        Ok(out)
    }
}

/// Scale a bound in ns to the largest whole unit.
fn scale_to_suffix(v: u64) -> (u64, &'static str) {
    if v % NSEC_PER_SEC == 0 {
        (v / NSEC_PER_SEC, "s")
    } else if v % NSEC_PER_MSEC == 0 {
        (v / NSEC_PER_MSEC, "ms")
    } else if v % NSEC_PER_USEC == 0 {
        (v / NSEC_PER_USEC, "us")
    } else {
        (v, "ns")
    }
}

fn make_bounds_string(lower: u64, upper: u64, flags: u32, width: i32) -> Result<String> {
    let mut bounds = flags & BOUNDS_MASK;
    let fail = || StatsError::silent(super::error::StatsErrorKind::InvalidArgument);
    if bounds == 0 {
        return Err(fail());
    }
    let (lower, l_suff, upper, u_suff) = if flags & HistogramFlags::SUFFIX.bits() != 0 {
        let (l, ls) = scale_to_suffix(lower);
        let (u, us) = scale_to_suffix(upper);
        (l, ls, u, us)
    } else {
        (lower, "", upper, "")
    };
    let sep = if flags & HistogramFlags::VALUES.bits() != 0 {
        ":"
    } else {
        ""
    };
    let bound_buf = if bounds > HistogramFlags::BOUNDS_LOWER.bits() {
        if upper == u64::MAX {
            bounds = HistogramFlags::BOUNDS_UPPER.bits();
            format!(">{lower}{l_suff}")
        } else {
            format!("{upper}{u_suff}")
        }
    } else {
        format!("{lower}{l_suff}")
    };
    let w = width.max(0) as usize;
    let s = match bounds {
        0x10 | 0x20 => format!("{bound_buf:>w$}{sep}"),
        _ => format!("{lower}{l_suff}-{bound_buf}{sep}"),
    };
    if s.len() >= BOUNDS_LEN {
        return Err(fail());
    }
    Ok(s)
}

/// Build the `histogram:` argument of `@stats_create` from bounds, as stock
/// `_build_histogram_arg`: checks the order, turns `precise` on when a bound
/// is not a whole millisecond, and prints the bounds in the region's unit
/// (ns when precise, else ms).
pub(crate) fn build_histogram_arg(bounds: &Histogram, precise: &mut bool) -> Result<String> {
    if bounds.bins.is_empty() {
        return Err(StatsError::invalid(
            "Cannot format empty histogram description.",
        ));
    }
    for (i, b) in bounds.bins.iter().enumerate().rev() {
        if i > 0 {
            if let Some(prev) = bounds.bins.get(i - 1) {
                if b.upper < prev.upper {
                    return Err(StatsError::invalid(
                        "Histogram boundaries must be in order of increasing magnitude.",
                    ));
                }
            }
        }
        if b.upper % NSEC_PER_MSEC != 0 && !*precise {
            *precise = true;
        }
    }
    let scale = if *precise { 1 } else { NSEC_PER_MSEC };
    // Stock sizes its buffer with log10() of each value: a zero value makes
    // that size absurd and the allocation fails.
    if bounds.bins.iter().any(|b| b.upper / scale == 0) {
        return Err(StatsError::invalid(
            "Could not allocate memory for histogram argument.",
        ));
    }
    let parts: Vec<String> = bounds
        .bins
        .iter()
        .map(|b| (b.upper / scale).to_string())
        .collect();
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uppers(h: &Histogram) -> Vec<u64> {
        h.bins.iter().map(|b| b.upper).collect()
    }

    #[test]
    fn bounds_units_and_sticky_multiplier() {
        let h = Histogram::bounds_from_string(b"10ms,20,1s,5us,7ns,3").unwrap();
        assert_eq!(
            uppers(&h),
            vec![10_000_000, 20_000_000, 1_000_000_000, 5_000, 7, 3]
        );
        let h = Histogram::bounds_from_string(b"10,20").unwrap();
        assert_eq!(uppers(&h), vec![10, 20]);
    }

    #[test]
    fn bounds_quirks_of_stock() {
        // A doubled comma is skipped but still counted as a bin (upper 0).
        let h = Histogram::bounds_from_string(b"10,,20").unwrap();
        assert_eq!(uppers(&h), vec![10, 20, 0]);
        // A unit alone is the value 0 in that unit.
        let h = Histogram::bounds_from_string(b"ms").unwrap();
        assert_eq!(uppers(&h), vec![0]);
        // A trailing comma leaves the last bin at 0.
        let h = Histogram::bounds_from_string(b"5ms,").unwrap();
        assert_eq!(uppers(&h), vec![5_000_000, 0]);
    }

    #[test]
    fn bounds_errors_have_stock_wording() {
        let e = Histogram::bounds_from_string(b"").unwrap_err();
        assert_eq!(e.to_string(), "Invalid character in histogram: ");
        let e = Histogram::bounds_from_string(b"10x").unwrap_err();
        assert_eq!(e.to_string(), "Invalid character in histogram: x");
        let e = Histogram::bounds_from_string(b"10ks").unwrap_err();
        assert_eq!(e.to_string(), "Invalid character in histogram: k");
        let e = Histogram::bounds_from_string(b",10").unwrap_err();
        assert_eq!(e.to_string(), "Empty histogram bin not allowed: ,10");
        let e = Histogram::bounds_from_string(b"-1").unwrap_err();
        assert_eq!(e.to_string(), "Invalid character in histogram: -");
        assert!(Histogram::bounds_from_string(b"1s2s").is_err());
        let e = Histogram::bounds_from_u64(&[0, 5]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Could not parse empty histogram bounds array"
        );
    }

    /// Results of stock `dm_histogram_bounds_from_string` (1.02.185, via
    /// ctypes): `None` is NULL, with the error line it logged.
    #[test]
    fn bounds_match_stock() {
        type Case<'a> = (&'a [u8], std::result::Result<&'a [u64], &'a str>);
        let cases: &[Case] = &[
            (
                b"10ms,20,1s,5us,7ns,3",
                Ok(&[10_000_000, 20_000_000, 1_000_000_000, 5_000, 7, 3]),
            ),
            (b"10,,20", Ok(&[10, 20, 0])),
            (b"5ms,", Ok(&[5_000_000, 0])),
            (b"ms", Ok(&[0])),
            (b"us", Ok(&[0])),
            (b"0", Ok(&[0])),
            (b"1s,2", Ok(&[1_000_000_000, 2_000_000_000])),
            (b"99999999999999999999999", Ok(&[u64::MAX])),
            (b"18446744073709551615s", Ok(&[18_446_744_072_709_551_616])),
            (b"", Err("Invalid character in histogram: ")),
            (b"-1", Err("Invalid character in histogram: -")),
            (b"10ks", Err("Invalid character in histogram: k")),
            (b"10,s", Err("Invalid character in histogram: ,")),
            (b"10x", Err("Invalid character in histogram: x")),
            (b"1 ,2", Err("Invalid character in histogram:  ")),
            (b",10", Err("Empty histogram bin not allowed: ,10")),
        ];
        for (input, want) in cases {
            let got = Histogram::bounds_from_string(input)
                .map(|h| uppers(&h))
                .map_err(|e| e.to_string());
            let want = want.map(<[u64]>::to_vec).map_err(str::to_string);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn bounds_from_u64_stops_at_zero() {
        let h = Histogram::bounds_from_u64(&[1000, 2000, 0, 5]).unwrap();
        assert_eq!(uppers(&h), vec![1000, 2000]);
        assert_eq!(h.nr_bins(), 2);
    }

    #[test]
    fn histogram_arg() {
        let mut p = false;
        let h = Histogram::bounds_from_string(b"1ms,2ms,10ms").unwrap();
        assert_eq!(build_histogram_arg(&h, &mut p).unwrap(), "1,2,10");
        assert!(!p);
        let h = Histogram::bounds_from_string(b"500us,1ms").unwrap();
        assert_eq!(build_histogram_arg(&h, &mut p).unwrap(), "500000,1000000");
        assert!(p);
        let mut p = true;
        let h = Histogram::bounds_from_string(b"1ms").unwrap();
        assert_eq!(build_histogram_arg(&h, &mut p).unwrap(), "1000000");
        let h = Histogram::bounds_from_string(b"2ms,1ms").unwrap();
        assert_eq!(
            build_histogram_arg(&h, &mut false).unwrap_err().to_string(),
            "Histogram boundaries must be in order of increasing magnitude."
        );
        let h = Histogram::bounds_from_string(b"10,,20").unwrap();
        assert!(build_histogram_arg(&h, &mut false).is_err());
    }

    fn region_hist() -> Histogram {
        Histogram::from_bins(vec![
            Bin {
                upper: 1_000_000,
                count: 3,
            },
            Bin {
                upper: 2_000_000,
                count: 1,
            },
            Bin {
                upper: u64::MAX,
                count: 0,
            },
        ])
    }

    #[test]
    fn getters() {
        let h = region_hist();
        assert_eq!(h.sum(), 4);
        assert_eq!(h.bin_lower(0), Some(0));
        assert_eq!(h.bin_lower(2), Some(2_000_000));
        assert_eq!(h.bin_width(1), Some(1_000_000));
        assert_eq!(h.bin_count(0), Some(3));
        assert_eq!(h.bin_percent(0), Some(75_000_000));
        assert_eq!(h.bin_percent(2), Some(0));
        assert_eq!(h.bin_upper(3), None);
        assert_eq!(h.bin_lower(3), None);
    }

    #[test]
    fn to_string_forms() {
        let h = region_hist();
        let f = |fl: u32, w: i32| {
            h.to_string_with(None, w, HistogramFlags::from_bits_retain(fl))
                .unwrap()
        };
        assert_eq!(f(0x2, 0), "     3     1     0");
        assert_eq!(f(0x2, -1), "3:1:0");
        assert_eq!(f(0x2, 4), "   3   1   0");
        assert_eq!(f(0x4, 0), "75.00%25.00%0.00%");
        assert_eq!(f(0x6, 0), " 75.00% 25.00%  0.00%");
        assert_eq!(f(0x6, -1), "75.00%:25.00%:0.00%");
        assert_eq!(f(0x6, 7), "  75.00%  25.00%   0.00%");
        assert_eq!(f(0x21, 0), "1ms,2ms,>2ms");
        assert_eq!(f(0x11, 0), "0s,1ms,2ms");
        assert_eq!(f(0x31, 0), "0s-1ms,1ms-2ms,>2ms");
        assert_eq!(f(0x33, 0), "0s-1ms:     3,1ms-2ms:    1,  >2ms:     0");
        assert_eq!(f(0x33, -1), "0s-1ms:3:1ms-2ms:1:>2ms:0");
        assert_eq!(f(0x23, -1), "1ms:3:2ms:1:>2ms:0");
        assert_eq!(f(0x20, 0), "1000000,2000000,>2000000");
        assert_eq!(f(0x0, 0), "");
        let one = h
            .to_string_with(Some(1), 0, HistogramFlags::from_bits_retain(0x33))
            .unwrap();
        assert_eq!(one, "1ms-2ms:    1");
        assert!(h
            .to_string_with(Some(3), 0, HistogramFlags::VALUES)
            .is_err());
        // A padded value wider than stock's 64-byte buffer fails.
        assert!(h.to_string_with(None, 80, HistogramFlags::VALUES).is_err());
    }

    #[test]
    fn to_string_padded_bounds() {
        let h = region_hist();
        // Width with bounds: bounds take 6 (suffix) + sep, the rest pads the value.
        let s = h
            .to_string_with(None, 12, HistogramFlags::from_bits_retain(0x23))
            .unwrap();
        assert_eq!(
            s,
            "   1ms:           3,   2ms:           1,  >2ms:           0"
        );
    }

    #[test]
    fn percent_helpers() {
        assert_eq!(make_percent(0, 10), 0);
        assert_eq!(make_percent(10, 10), DM_PERCENT_100);
        assert_eq!(make_percent(1, 0), DM_PERCENT_100);
        assert_eq!(make_percent(1, 3), 33_333_333);
        assert_eq!(make_percent(1, u64::MAX), 1);
        assert_eq!(make_percent(u64::MAX - 1, u64::MAX), DM_PERCENT_100 - 1);
        assert_eq!(percent_to_float(50 * DM_PERCENT_1), 50.0);
    }
}
