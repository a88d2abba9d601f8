//! Date and time values in selections (`_parse_formatted_date_time`,
//! `_get_final_time`): ISO-8601-like dates in local time, as stock parses
//! them, including its range arithmetic.
//!
//! Local-time conversion uses the C library's `mktime` and `gmtime_r`, as
//! stock does, so the result depends on `TZ` exactly as stock's does.

/// A parsed time: a single instant, or a range `t1..=t2` when the text
/// names a whole second/minute/hour/day/month/year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeValue {
    pub range: bool,
    pub t1: i64,
    pub t2: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Range {
    None,
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

const DAYS_IN_MONTH: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// `_get_days_in_month`. Stock calls it with a 0-based month from `_get_final_time`;
/// index -1 (January) reads outside its table: the stock binary finds 0 there.
fn days_in_month(month: i64, year: i64) -> i64 {
    let base = usize::try_from(month - 1)
        .ok()
        .and_then(|i| DAYS_IN_MONTH.get(i).copied())
        .unwrap_or(0);
    if month == 2 && is_leap_year(year) {
        base + 1
    } else {
        base
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while is_space(at(s, i)) {
        i += 1;
    }
    i
}

/// C `strtol(s + i, &end, 10)`: (value, end index).
fn strtol(s: &[u8], i: usize) -> (i64, usize) {
    let mut p = skip_space(s, i);
    let mut neg = false;
    if at(s, p) == b'+' || at(s, p) == b'-' {
        neg = at(s, p) == b'-';
        p += 1;
    }
    let digits_start = p;
    let mut v: i64 = 0;
    let mut overflow = false;
    while at(s, p).is_ascii_digit() {
        let d = i64::from(at(s, p) - b'0');
        match v.checked_mul(10).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
        p += 1;
    }
    if p == digits_start {
        return (0, i);
    }
    if overflow {
        return (if neg { i64::MIN } else { i64::MAX }, p);
    }
    (if neg { -v } else { v }, p)
}

#[derive(Clone, Copy)]
struct Tm {
    sec: i64,
    min: i64,
    hour: i64,
    mday: i64,
    mon: i64,
    year: i64,
}

/// `_get_date`. Returns the index after the date (and spaces).
fn get_date(s: &[u8], tm: &mut Tm, range: &mut Range, log: &mut Vec<Vec<u8>>) -> Option<usize> {
    let start = 0usize;
    if !at(s, start).is_ascii_digit() {
        return None;
    }
    let mut len: i64 = 0;
    let (mut n1, mut end) = strtol(s, start);
    let mut n2 = -1i64;
    let mut n3 = -1i64;
    let mut p = start;
    if at(s, end) == b'-' {
        len += 4 - (end as i64 - p as i64);
        p = end + 1;
        if at(s, p).is_ascii_digit() {
            let (v, e) = strtol(s, p);
            n2 = v;
            end = e;
            len += 2 - (end as i64 - p as i64);
            if at(s, end) == b'-' {
                p = end + 1;
                let (v, e) = strtol(s, p);
                n3 = v;
                end = e;
                len += 2 - (end as i64 - p as i64);
            }
        }
    }
    len += end as i64 - start as i64;
    let mut tmp_range = Range::None;
    if n3 == -1 {
        if n2 == -1 {
            if len == 4 {
                tmp_range = Range::Year;
                n3 = 1;
                n2 = 1;
            } else if len == 6 {
                tmp_range = Range::Month;
                n3 = 1;
                n2 = n1 % 100;
                n1 /= 100;
            } else if len == 8 {
                tmp_range = Range::Day;
                n3 = n1 % 100;
                n2 = (n1 / 100) % 100;
                n1 /= 10000;
            } else {
                log.push(b"Incorrect date format.".to_vec());
                return None;
            }
        } else if len == 7 {
            tmp_range = Range::Month;
            n3 = 1;
        } else {
            log.push(b"Incorrect date format.".to_vec());
            return None;
        }
    }
    if !(1..=12).contains(&n2) {
        log.push(b"Specified month out of range.".to_vec());
        return None;
    }
    if n3 < 1 || n3 > days_in_month(n2, n1) {
        log.push(b"Specified day out of range.".to_vec());
        return None;
    }
    if tmp_range == Range::None {
        tmp_range = Range::Day;
    }
    tm.year = n1 - 1900;
    tm.mon = n2 - 1;
    tm.mday = n3;
    *range = tmp_range;
    Some(skip_space(s, end))
}

/// `_get_time`.
fn get_time(
    s: &[u8],
    i: usize,
    tm: &mut Tm,
    range: &mut Range,
    log: &mut Vec<Vec<u8>>,
) -> Option<usize> {
    if !at(s, i).is_ascii_digit() {
        tm.hour = 0;
        tm.min = 0;
        tm.sec = 0;
        return Some(skip_space(s, i));
    }
    let start = i;
    let mut len: i64 = 0;
    let (mut n1, mut end) = strtol(s, i);
    let mut n2 = -1i64;
    let mut n3 = -1i64;
    let mut p = i;
    if at(s, end) == b':' {
        len += 2 - (end as i64 - p as i64);
        p = end + 1;
        if at(s, p).is_ascii_digit() {
            let (v, e) = strtol(s, p);
            n2 = v;
            end = e;
            len += 2 - (end as i64 - p as i64);
            if at(s, end) == b':' {
                p = end + 1;
                let (v, e) = strtol(s, p);
                n3 = v;
                end = e;
                len += 2 - (end as i64 - p as i64);
            }
        }
    }
    len += end as i64 - start as i64;
    let mut tmp_range = Range::None;
    if n3 == -1 {
        if n2 == -1 {
            if len == 2 {
                tmp_range = Range::Hour;
                n3 = 0;
                n2 = 0;
            } else if len == 4 {
                tmp_range = Range::Minute;
                n3 = 0;
                n2 = n1 % 100;
                n1 /= 100;
            } else if len == 6 {
                tmp_range = Range::Second;
                n3 = n1 % 100;
                n2 = (n1 / 100) % 100;
                n1 /= 10000;
            } else {
                log.push(b"Incorrect time format.".to_vec());
                return None;
            }
        } else if len == 5 {
            tmp_range = Range::Minute;
            n3 = 0;
        } else {
            log.push(b"Incorrect time format.".to_vec());
            return None;
        }
    }
    if !(0..=23).contains(&n1) {
        log.push(b"Specified hours out of range.".to_vec());
        return None;
    }
    if !(0..=60).contains(&n2) {
        log.push(b"Specified minutes out of range.".to_vec());
        return None;
    }
    if !(0..=60).contains(&n3) {
        log.push(b"Specified seconds out of range.".to_vec());
        return None;
    }
    if *range != Range::Day {
        log.push(b"Full date specification needed.".to_vec());
        return None;
    }
    tm.hour = n1;
    tm.min = n2;
    tm.sec = n3;
    *range = tmp_range;
    Some(skip_space(s, end))
}

/// `_get_tz`: (tz supplied, offset in seconds against GMT, next index).
fn get_tz(s: &[u8], i: usize) -> Option<(bool, i64, usize)> {
    let mut p = i;
    let mut sign = 1i64;
    if !at(s, p).is_ascii_digit() {
        if at(s, p) == b'+' {
            p += 1;
        } else if at(s, p) == b'-' {
            sign = -1;
            p += 1;
        } else {
            return Some((false, 0, skip_space(s, p)));
        }
    }
    let mut len: i64 = 0;
    let (mut n1, mut end) = strtol(s, p);
    let mut n2 = -1i64;
    if at(s, end) == b':' {
        len = 2 - (end as i64 - p as i64);
        p = end + 1;
        if at(s, p).is_ascii_digit() {
            let (v, e) = strtol(s, p);
            n2 = v;
            end = e;
            len = 2 - (end as i64 - p as i64);
        }
    }
    len += end as i64 - p as i64;
    if n2 == -1 {
        if len == 2 {
            n2 = 0;
        } else if len == 4 {
            n2 = n1 % 100;
            n1 /= 100;
        } else {
            return None;
        }
    }
    if !(0..=60).contains(&n2) || !(0..=14).contains(&n1) {
        return None;
    }
    Some((true, sign * (n1 * 3600 + n2 * 60), skip_space(s, end)))
}

fn to_c_int(v: i64) -> libc::c_int {
    libc::c_int::try_from(v).unwrap_or(if v < 0 {
        libc::c_int::MIN
    } else {
        libc::c_int::MAX
    })
}

/// C `mktime` on a broken-down local time with `tm_isdst = -1`.
fn mktime(tm: &Tm) -> i64 {
    crate::kernel::sys::mktime_local(&crate::kernel::sys::BrokenDownTime {
        sec: to_c_int(tm.sec),
        min: to_c_int(tm.min),
        hour: to_c_int(tm.hour),
        mday: to_c_int(tm.mday),
        mon: to_c_int(tm.mon),
        year: to_c_int(tm.year),
    })
}

/// `_local_tz_offset`.
fn local_tz_offset(t_local: i64) -> i64 {
    match crate::kernel::sys::gmtime_as_local(t_local) {
        Some((t_gmt, dst)) => t_local - if dst { t_gmt - 3600 } else { t_gmt },
        None => 0,
    }
}

/// `_get_final_time`.
fn final_time(range: Range, tm: &Tm, tz: Option<i64>) -> TimeValue {
    let mut up = *tm;
    // The fall-through chain of stock's switch.
    let mut level = range;
    loop {
        match level {
            Range::Second => {
                if up.sec < 59 {
                    up.sec += 1;
                    break;
                }
                level = Range::Minute;
            }
            Range::Minute => {
                if up.min < 59 {
                    up.min += 1;
                    break;
                }
                level = Range::Hour;
            }
            Range::Hour => {
                if up.hour < 23 {
                    up.hour += 1;
                    break;
                }
                level = Range::Day;
            }
            Range::Day => {
                if up.mday < days_in_month(up.mon, up.year) {
                    up.mday += 1;
                    break;
                }
                level = Range::Month;
            }
            Range::Month => {
                if up.mon < 11 {
                    up.mon += 1;
                    break;
                }
                level = Range::Year;
            }
            Range::Year => {
                up.year += 1;
                break;
            }
            Range::None => break,
        }
    }
    let mut tv = TimeValue {
        range: range != Range::None,
        t1: mktime(tm),
        t2: mktime(&up) - 1,
    };
    if let Some(mut offset) = tz {
        offset -= local_tz_offset(tv.t1);
        tv.t1 -= offset;
        tv.t2 -= offset;
    }
    tv
}

/// `_parse_formatted_date_time` on the whole of `s`. Error lines (if any)
/// are appended to `log`.
pub(crate) fn parse_date_time(s: &[u8], log: &mut Vec<Vec<u8>>) -> Option<TimeValue> {
    let mut range = Range::None;
    let mut tm = Tm {
        sec: -1,
        min: -1,
        hour: -1,
        mday: -1,
        mon: -1,
        year: -1,
    };
    let i = get_date(s, &mut tm, &mut range, log)?;
    let i = get_time(s, i, &mut tm, &mut range, log)?;
    let (supplied, offset, i) = get_tz(s, i)?;
    if at(s, i) != 0 {
        return None;
    }
    Some(final_time(range, &tm, supplied.then_some(offset)))
}
