//! Field values: what a report callback sets for one field of one row.

use super::{cstr, ReportError, PERCENT_INVALID};
use crate::percent::percent_to_round_float;

/// The typed sort value of a field (stock's `sort_value` pointer, by what it
/// points to).
#[derive(Clone, Debug, PartialEq)]
pub enum SortValue {
    /// The display string itself (`dm_report_field_string`, or
    /// `dm_report_field_set_value` without a sort value).
    Display,
    /// A 64-bit word: `uint64_t` for number and percent fields, the bits of a
    /// `double` for size fields, a `time_t` for time fields. The integer
    /// setters store the value converted to `uint64_t` as stock does.
    Word(u64),
    /// A separate string.
    Str(Vec<u8>),
    /// A string list: the positions and lengths of the items inside the
    /// display string, sorted by item.
    List(Vec<(u32, u32)>),
}

/// One field's value in one row: display bytes and sort value.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValue {
    pub(crate) display: Vec<u8>,
    pub(crate) sort: SortValue,
    /// Set by `set_value` without a sort value: stock warns when that happens
    /// on a number field.
    pub(crate) warn_numeric: bool,
}

impl FieldValue {
    /// The display bytes.
    pub fn display(&self) -> &[u8] {
        &self.display
    }

    /// The sort value.
    pub fn sort_value(&self) -> &SortValue {
        &self.sort
    }

    /// `dm_report_field_string`.
    pub fn string(s: &[u8]) -> Self {
        FieldValue {
            display: cstr(s).to_vec(),
            sort: SortValue::Display,
            warn_numeric: false,
        }
    }

    fn number(display: String, sort: u64) -> Self {
        FieldValue {
            display: display.into_bytes(),
            sort: SortValue::Word(sort),
            warn_numeric: false,
        }
    }

    /// `dm_report_field_int`.
    pub fn int(v: i32) -> Self {
        Self::number(v.to_string(), v as i64 as u64)
    }

    /// `dm_report_field_int32`.
    pub fn int32(v: i32) -> Self {
        Self::int(v)
    }

    /// `dm_report_field_uint32`.
    pub fn uint32(v: u32) -> Self {
        Self::number(v.to_string(), u64::from(v))
    }

    /// `dm_report_field_uint64`.
    pub fn uint64(v: u64) -> Self {
        Self::number(v.to_string(), v)
    }

    /// `dm_report_field_percent`: "%.2f" of the rounded percentage, empty for
    /// `DM_PERCENT_INVALID`. Fails as stock does when the text needs more than
    /// 6 characters.
    pub fn percent(p: i32) -> Result<Self, ReportError> {
        let sort = p as i64 as u64;
        if p == PERCENT_INVALID {
            return Ok(FieldValue {
                display: Vec::new(),
                sort: SortValue::Word(sort),
                warn_numeric: false,
            });
        }
        let s = format!("{:.2}", f64::from(percent_to_round_float(p, 2)));
        if s.len() >= 7 {
            return Err(ReportError::msg(
                b"dm_report_field_percent: percentage too large.",
            ));
        }
        Ok(Self::number(s, sort))
    }

    /// `dm_report_field_string_list` (`sorted`) or
    /// `dm_report_field_string_list_unsorted`: items joined by `delimiter`
    /// (`","` when `None`). The sort value always has the items sorted.
    pub fn string_list<S: AsRef<[u8]>>(
        items: &[S],
        delimiter: Option<&[u8]>,
        sorted: bool,
    ) -> Self {
        let delim = delimiter.map(cstr).unwrap_or(b",");
        let items: Vec<&[u8]> = items.iter().map(|s| cstr(s.as_ref())).collect();
        let mut display = Vec::new();
        let mut pos_len: Vec<(u32, u32)> = Vec::with_capacity(items.len());
        if items.len() == 1 {
            display.extend_from_slice(items[0]);
            pos_len.push((0, items[0].len() as u32));
        } else if items.len() > 1 {
            let mut order: Vec<usize> = (0..items.len()).collect();
            order.sort_by(|&a, &b| items[a].cmp(items[b]));
            let mut place = vec![(0u32, 0u32); items.len()];
            let seq: Vec<usize> = if sorted {
                order.clone()
            } else {
                (0..items.len()).collect()
            };
            for (k, &i) in seq.iter().enumerate() {
                place[i] = (display.len() as u32, items[i].len() as u32);
                display.extend_from_slice(items[i]);
                if k + 1 != seq.len() {
                    display.extend_from_slice(delim);
                }
            }
            for &i in &order {
                pos_len.push(place[i]);
            }
        }
        FieldValue {
            display,
            sort: SortValue::List(pos_len),
            warn_numeric: false,
        }
    }

    /// `dm_report_field_set_value`: a display string and a sort value
    /// (`None`: the display string itself, which stock warns about on
    /// number fields).
    pub fn with_sort(display: &[u8], sort: Option<SortValue>) -> Self {
        let warn = sort.is_none();
        FieldValue {
            display: cstr(display).to_vec(),
            sort: sort.unwrap_or(SortValue::Display),
            warn_numeric: warn,
        }
    }

    /// A size field value: display text and the size as a `double` sort value
    /// (what LVM-style size fields pass to `dm_report_field_set_value`).
    pub fn size(display: &[u8], sectors: f64) -> Self {
        Self::with_sort(display, Some(SortValue::Word(sectors.to_bits())))
    }

    /// A time field value: display text and a `time_t` sort value.
    pub fn time(display: &[u8], t: i64) -> Self {
        Self::with_sort(display, Some(SortValue::Word(t as u64)))
    }

    /// The sort value as a 64-bit word (how stock reads number, size, time
    /// and percent sort values). A string sort value gives its first 8 bytes
    /// (little-endian), as reading a `uint64_t` through the pointer would.
    pub(crate) fn word(&self) -> u64 {
        match &self.sort {
            SortValue::Word(w) => *w,
            SortValue::Display => bytes_word(&self.display),
            SortValue::Str(s) => bytes_word(s),
            SortValue::List(_) => 0,
        }
    }

    /// The sort value as a C string (how stock reads string sort values and
    /// regex subjects). A word is its little-endian bytes up to a zero byte.
    pub(crate) fn sort_str(&self) -> &[u8] {
        match &self.sort {
            SortValue::Display | SortValue::List(_) => &self.display,
            SortValue::Str(s) => s,
            SortValue::Word(_) => &[],
        }
    }

    /// Like [`Self::sort_str`], but also handles word sort values (which need
    /// a buffer).
    pub(crate) fn with_sort_str<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match &self.sort {
            SortValue::Word(w) => {
                let b = w.to_le_bytes();
                f(cstr(&b))
            }
            _ => f(self.sort_str()),
        }
    }
}

fn bytes_word(s: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(s.iter()) {
        *d = *s;
    }
    u64::from_le_bytes(b)
}
