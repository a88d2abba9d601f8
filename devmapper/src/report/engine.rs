//! The report handle: definitions, output field and sort key parsing, rows,
//! sorting, output (columns, rows, JSON), compaction, help listings.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::defs::{FieldDef, ObjectType, ReservedValue};
use super::group::GroupState;
use super::select::Selection;
use super::value::FieldValue;
use super::*;

// Internal report flags (stock's RH_*).
pub(crate) const RH_SORT_REQUIRED: u32 = 0x0000_0100;
pub(crate) const RH_HEADINGS_PRINTED: u32 = 0x0000_0200;
pub(crate) const RH_FIELD_CALC_NEEDED: u32 = 0x0000_0400;
pub(crate) const RH_ALREADY_REPORTED: u32 = 0x0000_0800;

// Internal per-field flags (stock's FLD_*).
pub(crate) const FLD_HIDDEN: u32 = 0x0000_1000;
pub(crate) const FLD_SORT_KEY: u32 = 0x0000_2000;
pub(crate) const FLD_ASCENDING: u32 = 0x0000_4000;
pub(crate) const FLD_DESCENDING: u32 = 0x0000_8000;
pub(crate) const FLD_COMPACTED: u32 = 0x0001_0000;
pub(crate) const FLD_COMPACT_ONE: u32 = 0x0002_0000;
pub(crate) const FLD_CMP_UNCOMPARABLE: u32 = 0x0010_0000;

const REPORT_TYPES_ALL: u32 = u32::MAX;

/// An implicit field (type "Special").
pub(crate) struct ImplicitField {
    pub flags: u32,
    pub id: &'static [u8],
    pub heading: &'static [u8],
    pub desc: &'static [u8],
}

const IMPLICIT_HELP: ImplicitField = ImplicitField {
    flags: FIELD_TYPE_NUMBER | FLD_CMP_UNCOMPARABLE,
    id: b"help",
    heading: b"Help",
    desc: b"Show help.",
};
const IMPLICIT_HELP_ALT: ImplicitField = ImplicitField {
    flags: FIELD_TYPE_NUMBER | FLD_CMP_UNCOMPARABLE,
    id: b"?",
    heading: b"Help",
    desc: b"Show help.",
};
const IMPLICIT_SELECTED: ImplicitField = ImplicitField {
    flags: FIELD_TYPE_NUMBER,
    id: b"selected",
    heading: b"Selected",
    desc: b"Set if item passes selection criteria.",
};
static IMPLICIT_PLAIN: [ImplicitField; 2] = [IMPLICIT_HELP, IMPLICIT_HELP_ALT];
static IMPLICIT_WITH_SELECTION: [ImplicitField; 3] =
    [IMPLICIT_SELECTED, IMPLICIT_HELP, IMPLICIT_HELP_ALT];
const IMPLICIT_WIDTH: i32 = 8;
const SPECIAL_TYPE_DESC: &[u8] = b"Special";
const SPECIAL_TYPE_PREFIX: &[u8] = b"special_";

/// A field's definition as the engine sees it (user or implicit).
#[derive(Clone, Copy)]
pub(crate) struct FieldRef<'a> {
    pub type_id: u32,
    pub flags: u32,
    pub width: i32,
    pub id: &'a [u8],
    pub heading: &'a [u8],
    pub desc: &'a [u8],
}

/// One entry of the report's field list (stock's `struct field_properties`).
#[derive(Clone, Debug)]
pub(crate) struct FieldProps {
    pub field_num: u32,
    pub implicit: bool,
    pub sort_posn: u32,
    pub initial_width: i32,
    pub width: i32,
    pub flags: u32,
}

/// One row: the values of all fields, indexed by prop id.
pub(crate) struct Row {
    pub values: Vec<FieldValue>,
    pub selected: bool,
}

/// Why a field's value could not be had (stock's two failure paths of
/// `_do_report_object`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The object type's data accessor gave nothing ("no data assigned to field").
    NoData,
    /// The field's report function failed ("report function failed for field").
    Failed,
}

/// The caller's side of one object (row): asked for each needed field.
///
/// Fields are asked in the report's field order (hidden sort/selection fields
/// first, as stock calls its `report_fn`s). The implicit fields are computed by
/// the engine and never asked.
pub trait ObjectSource {
    /// The value of field `field_num` (index in the definitions) for this object.
    /// Messages the callback logs go to `log` (it is the call's sink).
    fn field_value(
        &mut self,
        field_num: u32,
        log: &mut dyn LogSink,
    ) -> Result<FieldValue, FieldError>;
}

impl<F> ObjectSource for F
where
    F: FnMut(u32) -> Result<FieldValue, FieldError>,
{
    fn field_value(
        &mut self,
        field_num: u32,
        _log: &mut dyn LogSink,
    ) -> Result<FieldValue, FieldError> {
        self(field_num)
    }
}

/// How to create a report (the arguments of `dm_report_init` /
/// `dm_report_init_with_selection`).
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// The output field list (`-o`), e.g. `b"name,uuid"`.
    pub output_fields: Vec<u8>,
    /// The separator between columns (`None`: stock's NULL, used as empty).
    pub separator: Option<Vec<u8>>,
    /// `DM_REPORT_OUTPUT_*` flags.
    pub flags: u32,
    /// Sort keys (`-O`), e.g. `b"name,-uuid"`.
    pub sort_keys: Option<Vec<u8>>,
    /// The selection (`-S`); used only with `with_selection`.
    pub selection: Option<Vec<u8>>,
    /// Create as `dm_report_init_with_selection` does (adds the implicit
    /// `selected` field; parses `selection`; registers reserved values).
    pub with_selection: bool,
    /// Reserved values (only with `with_selection`; `None`: stock's NULL).
    pub reserved_values: Option<Vec<ReservedValue>>,
    /// Stock's `dm_report_init_with_selection` switches a process-wide table
    /// so that every later report, even from `dm_report_init`, has the
    /// implicit `selected` field. The C shell sets this on every report once
    /// any report was created with selection; Rust callers normally leave it.
    pub implicit_selected_field: bool,
}

/// A report being built (stock's `struct dm_report`).
pub(crate) struct ReportState {
    pub types: Vec<ObjectType>,
    pub fields: Vec<FieldDef>,
    pub canonical_ids: Vec<Vec<u8>>,
    pub implicit: &'static [ImplicitField],
    pub report_types: u32,
    pub field_prefix: Vec<u8>,
    pub output_field_name_prefix: Vec<u8>,
    pub flags: u32,
    pub separator: Vec<u8>,
    pub keys_count: u32,
    /// Field list entries by id (creation order).
    pub props: Vec<FieldProps>,
    /// Field list order (stock's list): prop ids.
    pub order: Vec<usize>,
    pub rows: Vec<Row>,
    pub selection: Option<Selection>,
    pub reserved: Option<Vec<ReservedValue>>,
    /// The prop id of the implicit `selected` field, if in the list.
    pub selected_prop: Option<usize>,
    pub group: Option<(Weak<RefCell<GroupState>>, u64)>,
}

fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `strncasecmp(a, b, n) == 0` on NUL-less byte strings.
fn ncase_eq(a: &[u8], b: &[u8], n: usize) -> bool {
    let la = a.len().min(n);
    let lb = b.len().min(n);
    la == lb && a[..la].eq_ignore_ascii_case(&b[..lb])
}

/// `_get_canonical_field_name`: drops underscores. `full` is the C string
/// from the start of the name to its end (for the "too long" message).
pub(crate) fn canonical_name(full: &[u8], flen: usize, log: &mut Logger<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(flen.min(FIELD_TYPE_ID_LEN));
    for (k, &c) in full.iter().take(flen).enumerate() {
        if c == 0 {
            break;
        }
        if c == b'_' {
            continue;
        }
        if out.len() + 1 >= FIELD_TYPE_ID_LEN {
            log.error(&cat(&[cstr(&full[k..]), b": field name too long."]));
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// `_is_same_field`.
fn is_same_field(canon1: &[u8], canon2: &[u8], prefix: &[u8]) -> bool {
    if eq_ic(canon1, canon2) {
        return true;
    }
    if prefix.is_empty() {
        return false;
    }
    let plen = prefix.len() - 1;
    ncase_eq(prefix, canon1, plen) && canon1.len() >= plen && eq_ic(&canon1[plen..], canon2)
}

impl ReportState {
    pub(crate) fn field(&self, implicit: bool, num: u32) -> FieldRef<'_> {
        if implicit {
            match self.implicit.get(num as usize) {
                Some(f) => FieldRef {
                    type_id: SPECIAL_REPORT_TYPE,
                    flags: f.flags,
                    width: IMPLICIT_WIDTH,
                    id: f.id,
                    heading: f.heading,
                    desc: f.desc,
                },
                None => FieldRef {
                    type_id: 0,
                    flags: 0,
                    width: 0,
                    id: b"",
                    heading: b"",
                    desc: b"",
                },
            }
        } else {
            match self.fields.get(num as usize) {
                Some(f) => FieldRef {
                    type_id: f.type_id,
                    flags: f.flags,
                    width: f.width,
                    id: &f.id,
                    heading: &f.heading,
                    desc: &f.desc,
                },
                None => FieldRef {
                    type_id: 0,
                    flags: 0,
                    width: 0,
                    id: b"",
                    heading: b"",
                    desc: b"",
                },
            }
        }
    }

    pub(crate) fn prop_field(&self, pid: usize) -> FieldRef<'_> {
        match self.props.get(pid) {
            Some(p) => self.field(p.implicit, p.field_num),
            None => self.field(true, u32::MAX),
        }
    }

    /// `_find_type`: (desc, prefix, is special).
    fn find_type(&self, id: u32) -> Option<(&[u8], &[u8], bool)> {
        if id == SPECIAL_REPORT_TYPE {
            return Some((SPECIAL_TYPE_DESC, SPECIAL_TYPE_PREFIX, true));
        }
        self.types
            .iter()
            .find(|t| t.id == id)
            .map(|t| (t.desc.as_slice(), t.prefix.as_slice(), false))
    }

    fn find_prop(&self, implicit: bool, num: u32) -> Option<usize> {
        self.order.iter().copied().find(|&pid| {
            self.props
                .get(pid)
                .is_some_and(|p| p.implicit == implicit && p.field_num == num)
        })
    }

    /// `_add_field`.
    pub(crate) fn add_field(
        &mut self,
        num: u32,
        implicit: bool,
        flags: u32,
        log: &mut Logger<'_>,
    ) -> Option<usize> {
        let f = self.field(implicit, num);
        let (type_id, width, fflags) = (f.type_id, f.width, f.flags);
        if self.find_type(type_id).is_none() {
            let m = cat(&[b"dm_report: field not match: ", f.id]);
            log.error(&m);
            return None;
        }
        let p = FieldProps {
            field_num: num,
            implicit,
            sort_posn: 0,
            initial_width: width,
            width,
            flags: (fflags & FIELD_MASK) | flags,
        };
        let hidden = p.flags & FLD_HIDDEN != 0;
        self.props.push(p);
        let pid = self.props.len() - 1;
        if hidden {
            self.order.insert(0, pid);
        } else {
            self.order.push(pid);
        }
        if implicit
            && self
                .implicit
                .get(num as usize)
                .is_some_and(|f| f.id == b"selected")
        {
            self.selected_prop = Some(pid);
        }
        Some(pid)
    }

    /// `_get_field`: (field_num, implicit).
    pub(crate) fn get_field(
        &self,
        full: &[u8],
        flen: usize,
        log: &mut Logger<'_>,
    ) -> Option<(u32, bool)> {
        if flen == 0 {
            return None;
        }
        let canon = canonical_name(full, flen, log)?;
        for (i, f) in self.implicit.iter().enumerate() {
            if is_same_field(f.id, &canon, &self.field_prefix) {
                return Some((i as u32, true));
            }
        }
        for (i, c) in self.canonical_ids.iter().enumerate() {
            if is_same_field(c, &canon, &self.field_prefix) {
                return Some((i as u32, false));
            }
        }
        None
    }

    /// `_all_match_combine`.
    fn all_match_combine(
        &self,
        unprefixed: bool,
        full: &[u8],
        flen: usize,
        report_types: &mut u32,
        log: &mut Logger<'_>,
    ) {
        let Some(canon) = canonical_name(full, flen, log) else {
            return;
        };
        let flen = canon.len();
        for t in &self.types {
            if t.prefix.is_empty() {
                continue;
            }
            let plen = t.prefix.len() - 1;
            if ncase_eq(&t.prefix, &canon, plen)
                && ((unprefixed && flen == plen)
                    || (canon.len() >= plen
                        && ncase_eq(&canon[plen..], b"all", 3)
                        && flen == plen + 3))
            {
                *report_types |= t.id;
            }
        }
    }

    /// `_all_match`.
    fn all_match(&self, full: &[u8], flen: usize, log: &mut Logger<'_>) -> u32 {
        let mut report_types = 0;
        let mut unprefixed = false;
        let mut field: &[u8] = full;
        let mut flen = flen;
        if ncase_eq(full, b"all", 3) && flen == 3 {
            if self.field_prefix.is_empty() {
                return if self.report_types != 0 {
                    self.report_types
                } else {
                    REPORT_TYPES_ALL
                };
            }
            flen = self.field_prefix.len();
            unprefixed = true;
            field = &self.field_prefix;
            report_types = self.report_types;
        }
        self.all_match_combine(unprefixed, field, flen, &mut report_types, log);
        report_types
    }

    fn add_all_fields(&mut self, types: u32, log: &mut Logger<'_>) -> bool {
        for f in 0..self.fields.len() {
            if self.fields[f].type_id & types != 0
                && self.add_field(f as u32, false, 0, log).is_none()
            {
                return false;
            }
        }
        true
    }

    /// `_field_match`.
    fn field_match(
        &mut self,
        full: &[u8],
        flen: usize,
        type_only: bool,
        log: &mut Logger<'_>,
    ) -> bool {
        if flen == 0 {
            return false;
        }
        if let Some((f, implicit)) = self.get_field(full, flen, log) {
            if type_only {
                self.report_types |= self.field(implicit, f).type_id;
                return true;
            }
            return self.add_field(f, implicit, 0, log).is_some();
        }
        let t = self.all_match(full, flen, log);
        if t != 0 {
            if type_only {
                self.report_types |= t;
                return true;
            }
            return self.add_all_fields(t, log);
        }
        false
    }

    /// `_add_sort_key`.
    fn add_sort_key(
        &mut self,
        num: u32,
        implicit: bool,
        flags: u32,
        type_only: bool,
        log: &mut Logger<'_>,
    ) -> bool {
        let found = self.find_prop(implicit, num);
        let pid = match found {
            Some(p) => p,
            None => {
                if type_only {
                    self.report_types |= self.field(implicit, num).type_id;
                    return true;
                }
                match self.add_field(num, implicit, FLD_HIDDEN, log) {
                    Some(p) => p,
                    None => return false,
                }
            }
        };
        if type_only {
            return true;
        }
        let keys = self.keys_count;
        let id = self.field(implicit, num).id.to_vec();
        let Some(p) = self.props.get_mut(pid) else {
            return false;
        };
        if p.flags & FLD_SORT_KEY != 0 {
            log.warn(&cat(&[
                b"dm_report: Ignoring duplicate sort field: ",
                &id,
                b".",
            ]));
            return true;
        }
        p.flags |= FLD_SORT_KEY | flags;
        p.sort_posn = keys;
        self.keys_count += 1;
        true
    }

    /// `_key_match`.
    fn key_match(
        &mut self,
        full: &[u8],
        len: usize,
        type_only: bool,
        log: &mut Logger<'_>,
    ) -> bool {
        if len == 0 {
            return false;
        }
        let (key, len, flags) = match full.first() {
            Some(b'+') => (&full[1..], len - 1, FLD_ASCENDING),
            Some(b'-') => (&full[1..], len - 1, FLD_DESCENDING),
            _ => (full, len, FLD_ASCENDING),
        };
        if len == 0 {
            log.error(b"dm_report: Missing sort field name");
            return false;
        }
        let Some(canon) = canonical_name(key, len, log) else {
            return false;
        };
        for (i, f) in self.implicit.iter().enumerate() {
            if is_same_field(f.id, &canon, &self.field_prefix) {
                return self.add_sort_key(i as u32, true, flags, type_only, log);
            }
        }
        for i in 0..self.canonical_ids.len() {
            if is_same_field(&self.canonical_ids[i], &canon, &self.field_prefix) {
                return self.add_sort_key(i as u32, false, flags, type_only, log);
            }
        }
        false
    }

    /// `_parse_fields`.
    fn parse_fields(&mut self, format: &[u8], type_only: bool, log: &mut Logger<'_>) -> bool {
        let mut we = 0;
        while we < format.len() {
            while we < format.len() && format[we] == b',' {
                we += 1;
            }
            let ws = we;
            while we < format.len() && format[we] != b',' {
                we += 1;
            }
            if !self.field_match(&format[ws..], we - ws, type_only, log) {
                self.display_fields(true, false, log);
                log.warn(b" ");
                log.error(&cat(&[b"Unrecognised field: ", &format[ws..we]]));
                return false;
            }
        }
        true
    }

    /// `_parse_keys`.
    fn parse_keys(&mut self, keys: Option<&[u8]>, type_only: bool, log: &mut Logger<'_>) -> bool {
        let Some(keys) = keys else {
            return true;
        };
        let mut we = 0;
        while we < keys.len() {
            while we < keys.len() && keys[we] == b',' {
                we += 1;
            }
            let ws = we;
            while we < keys.len() && keys[we] != b',' {
                we += 1;
            }
            if !self.key_match(&keys[ws..], we - ws, type_only, log) {
                self.display_fields(true, false, log);
                log.warn(b" ");
                log.error(&cat(&[b"dm_report: Unrecognised field: ", &keys[ws..we]]));
                return false;
            }
        }
        true
    }

    fn field_type_name(t: u32) -> &'static [u8] {
        match t {
            FIELD_TYPE_STRING => b"string",
            FIELD_TYPE_NUMBER => b"number",
            FIELD_TYPE_SIZE => b"size",
            FIELD_TYPE_PERCENT => b"percent",
            FIELD_TYPE_TIME => b"time",
            FIELD_TYPE_STRING_LIST => b"string list",
            _ => b"unknown",
        }
    }

    pub(crate) fn get_field_type_name(t: u32) -> &'static [u8] {
        Self::field_type_name(t)
    }

    /// `_display_fields_more` for the user's (`implicit == false`) or the
    /// implicit fields.
    fn display_fields_more(
        &self,
        implicit: bool,
        mut id_len: usize,
        all_item: bool,
        types: bool,
        log: &mut Logger<'_>,
    ) {
        let count = if implicit {
            self.implicit.len()
        } else {
            self.fields.len()
        };
        for f in 0..count {
            id_len = id_len.max(self.field(implicit, f as u32).id.len());
        }
        for t in &self.types {
            id_len = id_len.max(t.prefix.len() + 3);
        }
        let mut last_desc: Option<(bool, Vec<u8>)> = None;
        for f in 0..count {
            let fr = self.field(implicit, f as u32);
            let Some((desc, prefix, special)) = self.find_type(fr.type_id) else {
                continue;
            };
            let this = (special, desc.to_vec());
            if last_desc.as_ref() != Some(&this) {
                if last_desc.as_ref().is_some_and(|(_, d)| !d.is_empty()) {
                    log.warn(b" ");
                }
                log.warn(&cat(&[desc, b" Fields"]));
                let w = desc.len() + 7;
                let dashes = w.min(79);
                let mut line = vec![b' '; w - dashes];
                line.extend(std::iter::repeat_n(b'-', dashes));
                log.warn(&line);
                if all_item && !special {
                    let pad = id_len.saturating_sub(3 + prefix.len());
                    let mut l = cat(&[b"  ", prefix, b"all"]);
                    l.extend(std::iter::repeat_n(b' ', pad));
                    l.extend_from_slice(b" - All fields in this section.");
                    log.warn(&l);
                }
            }
            let mut l = b"  ".to_vec();
            l.extend_from_slice(fr.id);
            l.extend(std::iter::repeat_n(
                b' ',
                id_len.saturating_sub(fr.id.len()),
            ));
            l.extend_from_slice(b" - ");
            l.extend_from_slice(fr.desc);
            if types {
                l.extend_from_slice(b" [");
                if fr.flags & FLD_CMP_UNCOMPARABLE != 0 {
                    l.extend_from_slice(b"unselectable ");
                }
                l.extend_from_slice(Self::field_type_name(fr.flags & FIELD_TYPE_MASK));
                l.extend_from_slice(b"]");
            }
            log.warn(&l);
            last_desc = Some(this);
        }
    }

    /// `_display_fields`.
    pub(crate) fn display_fields(&self, all_item: bool, types: bool, log: &mut Logger<'_>) {
        let mut id_len = 0;
        for f in self.implicit {
            id_len = id_len.max(f.id.len());
        }
        for f in &self.fields {
            id_len = id_len.max(f.id.len());
        }
        self.display_fields_more(false, id_len, all_item, types, log);
        log.warn(b" ");
        self.display_fields_more(true, id_len, all_item, types, log);
    }

    fn help_requested(&self) -> bool {
        self.order.iter().any(|&pid| {
            self.props
                .get(pid)
                .is_some_and(|p| p.implicit && self.field(true, p.field_num).id != b"selected")
        })
    }

    /// `dm_report_init`.
    pub(crate) fn init(
        types: Vec<ObjectType>,
        fields: Vec<FieldDef>,
        report_types: u32,
        opts: &ReportOptions,
        log: &mut Logger<'_>,
    ) -> Result<ReportState, ReportError> {
        if types.iter().any(|t| t.id & SPECIAL_REPORT_TYPE != 0) {
            log.error(b"Internal error: dm_report_init: definition of report types given contains reserved identifier");
            return Err(log.fail());
        }
        let mut flags = opts.flags & OUTPUT_MASK;
        if opts.flags & OUTPUT_COLUMNS_AS_ROWS != 0 {
            flags |= OUTPUT_BUFFERED;
            flags &= !OUTPUT_ALIGNED;
        }
        if opts.flags & OUTPUT_BUFFERED != 0 {
            flags |= RH_SORT_REQUIRED;
        }
        flags |= RH_FIELD_CALC_NEEDED;
        let implicit: &'static [ImplicitField] =
            if opts.with_selection || opts.implicit_selected_field {
                &IMPLICIT_WITH_SELECTION
            } else {
                &IMPLICIT_PLAIN
            };
        let mut rh = ReportState {
            types,
            fields,
            canonical_ids: Vec::new(),
            implicit,
            report_types,
            field_prefix: Vec::new(),
            output_field_name_prefix: Vec::new(),
            flags,
            separator: opts.separator.as_deref().map(cstr).unwrap_or(b"").to_vec(),
            keys_count: 0,
            props: Vec::new(),
            order: Vec::new(),
            rows: Vec::new(),
            selection: None,
            reserved: None,
            selected_prop: None,
            group: None,
        };
        if let Some((_, prefix, _)) = rh.find_type(rh.report_types) {
            rh.field_prefix = prefix.to_vec();
        }
        // _canonicalize_field_ids (up to the first empty id, as stock counts)
        let mut canon = Vec::with_capacity(rh.fields.len());
        for f in &rh.fields {
            if f.id.is_empty() {
                break;
            }
            match canonical_name(&f.id, f.id.len(), log) {
                Some(c) => canon.push(c),
                None => return Err(log.fail()),
            }
        }
        rh.canonical_ids = canon;
        let fields_str = cstr(&opts.output_fields).to_vec();
        let keys = opts.sort_keys.as_deref().map(cstr).map(|k| k.to_vec());
        if !rh.parse_fields(&fields_str, true, log) || !rh.parse_keys(keys.as_deref(), true, log) {
            return Err(log.fail());
        }
        if !rh.parse_fields(&fields_str, false, log) || !rh.parse_keys(keys.as_deref(), false, log)
        {
            return Err(log.fail());
        }
        if rh.help_requested() {
            rh.display_fields(true, false, log);
            log.warn(b" ");
            rh.flags |= RH_ALREADY_REPORTED;
        }
        Ok(rh)
    }

    /// The types value `dm_report_init` hands back (implicit types masked).
    pub(crate) fn public_types(&self) -> u32 {
        self.report_types & !SPECIAL_REPORT_TYPE
    }

    /// `dm_report_set_output_field_name_prefix`.
    pub(crate) fn set_output_field_name_prefix(&mut self, prefix: &[u8]) {
        self.output_field_name_prefix = cstr(prefix).to_ascii_uppercase();
    }

    /// `_do_report_object`: Ok(Some(selected)) / Ok(None) when stock leaves
    /// `*selected` untouched.
    pub(crate) fn do_report_object(
        &mut self,
        source: &mut dyn ObjectSource,
        do_output: bool,
        group: Option<&mut GroupState>,
        log: &mut Logger<'_>,
    ) -> Result<Option<bool>, ReportError> {
        if self.flags & RH_ALREADY_REPORTED != 0 {
            return Ok(None);
        }
        let mut values: Vec<FieldValue> = Vec::with_capacity(self.props.len());
        values.resize_with(self.props.len(), || FieldValue::string(b""));
        for k in 0..self.order.len() {
            let pid = self.order[k];
            let Some(p) = self.props.get(pid) else {
                continue;
            };
            let (implicit, num) = (p.implicit, p.field_num);
            let v = if implicit {
                if self.field(true, num).id == b"selected" {
                    FieldValue::int(1)
                } else {
                    let m = cat(&[
                        b"_do_report_object: no data assigned to field ",
                        self.field(true, num).id,
                    ]);
                    log.error(&m);
                    return Err(log.fail());
                }
            } else {
                match source.field_value(num, log.sink()) {
                    Ok(v) => v,
                    Err(e) => {
                        let id = self.field(false, num).id;
                        let m = match e {
                            FieldError::NoData => {
                                cat(&[b"_do_report_object: no data assigned to field ", id])
                            }
                            FieldError::Failed => {
                                cat(&[b"_do_report_object: report function failed for field ", id])
                            }
                        };
                        log.error(&m);
                        return Err(log.fail());
                    }
                }
            };
            if v.warn_numeric && p.flags & FIELD_TYPE_NUMBER != 0 {
                log.warn(b"Internal error: Using string as sort value for numerical field.");
            }
            if let Some(slot) = values.get_mut(pid) {
                *slot = v;
            }
        }
        let mut row = Row {
            values,
            selected: true,
        };
        if !self.check_selection(&row, log) {
            row.selected = false;
            let multiple = self.flags & OUTPUT_MULTIPLE_TIMES != 0;
            match self.selected_prop {
                None => {
                    if !multiple {
                        return Ok(Some(false));
                    }
                }
                Some(sp) => {
                    if let Some(slot) = row.values.get_mut(sp) {
                        *slot = FieldValue::int(0);
                    }
                    let hidden = self
                        .props
                        .get(sp)
                        .is_some_and(|p| p.flags & FLD_HIDDEN != 0);
                    if hidden && !multiple {
                        return Ok(Some(false));
                    }
                }
            }
        }
        if !do_output {
            return Ok(Some(row.selected));
        }
        let selected = row.selected;
        self.rows.push(row);
        if self.flags & OUTPUT_BUFFERED == 0 {
            self.output(group, log)?;
            return Ok(None);
        }
        Ok(Some(selected))
    }

    pub(crate) fn check_selection(&self, row: &Row, log: &mut Logger<'_>) -> bool {
        match &self.selection {
            Some(sel) => sel.check(self, row, log),
            None => true,
        }
    }

    /// `_do_report_compact_fields`.
    pub(crate) fn compact(&mut self, global: bool) {
        if self.flags & OUTPUT_BUFFERED == 0 || self.rows.is_empty() {
            return;
        }
        for &pid in &self.order {
            if let Some(p) = self.props.get_mut(pid) {
                if p.flags & FLD_HIDDEN != 0 {
                    continue;
                }
                if global || p.flags & FLD_COMPACT_ONE != 0 {
                    p.flags |= FLD_COMPACTED | FLD_HIDDEN;
                }
            }
        }
        for row in &self.rows {
            for &pid in &self.order {
                let nonempty = row.values.get(pid).is_some_and(|v| !v.display.is_empty());
                if let Some(p) = self.props.get_mut(pid) {
                    if nonempty && p.flags & FLD_COMPACTED != 0 {
                        p.flags &= !(FLD_COMPACTED | FLD_HIDDEN);
                    }
                }
            }
        }
    }

    /// `dm_report_compact_given_fields`.
    pub(crate) fn compact_given(
        &mut self,
        fields: Option<&[u8]>,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        if let Some(fields) = fields {
            let fields = cstr(fields);
            let mut we = 0;
            while we < fields.len() {
                while we < fields.len() && fields[we] == b',' {
                    we += 1;
                }
                let ws = we;
                while we < fields.len() && fields[we] != b',' {
                    we += 1;
                }
                match self.get_field(&fields[ws..], we - ws, log) {
                    Some((f, implicit)) => {
                        if let Some(pid) = self.find_prop(implicit, f) {
                            if let Some(p) = self.props.get_mut(pid) {
                                p.flags |= FLD_COMPACT_ONE;
                            }
                        }
                    }
                    None => {
                        log.error(&cat(&[b"dm_report: Unrecognized field: ", &fields[ws..we]]));
                        return Err(log.fail());
                    }
                }
            }
        }
        self.compact(false);
        Ok(())
    }

    fn reset_field_props(&mut self) {
        for p in &mut self.props {
            p.width = p.initial_width;
        }
        self.flags |= RH_FIELD_CALC_NEEDED;
    }

    /// `dm_report_set_selection`.
    pub(crate) fn set_selection(
        &mut self,
        selection: Option<&[u8]>,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        self.report_set_selection(selection, false, log)?;
        self.reset_field_props();
        let mut rows = std::mem::take(&mut self.rows);
        for row in &mut rows {
            row.selected = self.check_selection(row, log);
            if let Some(sp) = self.selected_prop {
                if let Some(v) = row.values.get_mut(sp) {
                    *v = FieldValue::int(i32::from(row.selected));
                }
            }
        }
        self.rows = rows;
        Ok(())
    }

    /// `_report_set_selection`.
    pub(crate) fn report_set_selection(
        &mut self,
        selection: Option<&[u8]>,
        add_new_fields: bool,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        self.selection = None;
        let sel = selection.map(cstr).unwrap_or(b"");
        if sel.is_empty() || eq_ic(sel, b"all") {
            return Ok(());
        }
        match Selection::parse(self, sel, add_new_fields, log) {
            Some(s) => {
                self.selection = Some(s);
                Ok(())
            }
            None => Err(log.fail()),
        }
    }

    fn should_display_row(&self, row: &Row) -> bool {
        self.selected_prop.is_some() || row.selected
    }

    fn recalculate_fields(&mut self) {
        for row in &self.rows {
            if !(self.selected_prop.is_some() || row.selected) {
                continue;
            }
            for &pid in &self.order {
                let len = row.values.get(pid).map(|v| v.display.len()).unwrap_or(0);
                let len = i32::try_from(len).unwrap_or(i32::MAX);
                if let Some(p) = self.props.get_mut(pid) {
                    if len > p.width {
                        p.width = len;
                    }
                }
            }
        }
        self.flags &= !RH_FIELD_CALC_NEEDED;
    }

    /// `_report_headings`.
    fn report_headings(&mut self, log: &mut Logger<'_>) {
        self.flags |= RH_HEADINGS_PRINTED;
        if self.flags & OUTPUT_HEADINGS == 0 {
            return;
        }
        let mut line = Vec::new();
        let n = self.order.len();
        for (k, &pid) in self.order.iter().enumerate() {
            let Some(p) = self.props.get(pid) else {
                continue;
            };
            if p.flags & FLD_HIDDEN != 0 {
                continue;
            }
            let heading = self.field(p.implicit, p.field_num).heading;
            if self.flags & OUTPUT_ALIGNED != 0 {
                pad_into(&mut line, heading, p.width, true);
            } else {
                line.extend_from_slice(heading);
            }
            if k + 1 != n {
                line.extend_from_slice(&self.separator);
            }
        }
        log.print(&line);
    }

    /// `dm_report_column_headings`.
    pub(crate) fn column_headings(&mut self, log: &mut Logger<'_>) {
        if self.flags & OUTPUT_COLUMNS_AS_ROWS != 0 {
            return;
        }
        if self.flags & RH_FIELD_CALC_NEEDED != 0 {
            self.recalculate_fields();
        }
        self.report_headings(log);
    }

    /// `_sort_rows` (stable, as glibc's merge-sort qsort is).
    fn sort_rows(&mut self) {
        let mut keys: Vec<(u32, usize, u32)> = self
            .order
            .iter()
            .filter_map(|&pid| {
                let p = self.props.get(pid)?;
                (p.flags & FLD_SORT_KEY != 0).then_some((p.sort_posn, pid, p.flags))
            })
            .collect();
        keys.sort_by_key(|k| k.0);
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| {
            for &(_, pid, flags) in &keys {
                let (Some(va), Some(vb)) = (a.values.get(pid), b.values.get(pid)) else {
                    continue;
                };
                let ord = if flags & (FIELD_TYPE_NUMBER | FIELD_TYPE_SIZE | FIELD_TYPE_TIME) != 0 {
                    va.word().cmp(&vb.word())
                } else {
                    va.with_sort_str(|sa| vb.with_sort_str(|sb| sa.cmp(sb)))
                };
                if ord == std::cmp::Ordering::Equal {
                    continue;
                }
                return if flags & FLD_ASCENDING != 0 {
                    ord
                } else {
                    ord.reverse()
                };
            }
            std::cmp::Ordering::Equal
        });
        self.rows = rows;
    }

    /// `_output_field`: appends one field's text to `line`.
    fn output_field(&self, pid: usize, value: &FieldValue, json: bool, line: &mut Vec<u8>) {
        let Some(p) = self.props.get(pid) else { return };
        let id = self.field(p.implicit, p.field_num).id;
        let prefixed = self.flags & OUTPUT_FIELD_NAME_PREFIX != 0;
        let quoted = self.flags & OUTPUT_FIELD_UNQUOTED == 0;
        if json {
            line.push(b'"');
            line.extend_from_slice(id);
            line.extend_from_slice(b"\":\"");
        } else if prefixed {
            line.extend_from_slice(&self.output_field_name_prefix);
            line.extend(id.iter().map(|c| c.to_ascii_uppercase()));
            line.push(b'=');
            if quoted {
                line.push(b'\'');
            }
        }
        let repstr = value.display.as_slice();
        if self.flags & OUTPUT_ALIGNED == 0 {
            if json {
                for &c in repstr {
                    if c == b'"' {
                        line.extend_from_slice(b"\\\"");
                    } else {
                        line.push(c);
                    }
                }
            } else {
                line.extend_from_slice(repstr);
            }
        } else {
            let mut align = p.flags & FIELD_ALIGN_MASK;
            if align == 0 {
                align = if p.flags & (FIELD_TYPE_NUMBER | FIELD_TYPE_SIZE) != 0 {
                    FIELD_ALIGN_RIGHT
                } else {
                    FIELD_ALIGN_LEFT
                };
            }
            if align & FIELD_ALIGN_LEFT != 0 {
                pad_into(line, repstr, p.width, true);
            } else if align & FIELD_ALIGN_RIGHT != 0 {
                pad_into(line, repstr, p.width, false);
            }
        }
        if prefixed {
            if quoted {
                line.push(b'\'');
            }
        } else if json {
            line.push(b'"');
        }
    }

    fn destroy_rows(&mut self) {
        self.rows.clear();
        self.reset_field_props();
    }

    /// `_output_as_rows`.
    fn output_as_rows(&mut self, log: &mut Logger<'_>) {
        let nrows = self.rows.len();
        for k in 0..self.order.len() {
            let pid = self.order[k];
            let Some(p) = self.props.get(pid) else {
                continue;
            };
            if p.flags & FLD_HIDDEN != 0 {
                continue;
            }
            let mut line = Vec::new();
            if self.flags & OUTPUT_HEADINGS != 0 {
                line.extend_from_slice(self.field(p.implicit, p.field_num).heading);
                line.extend_from_slice(&self.separator);
            }
            for (r, row) in self.rows.iter().enumerate() {
                if let Some(v) = row.values.get(pid) {
                    self.output_field(pid, v, false, &mut line);
                }
                if r + 1 != nrows {
                    line.extend_from_slice(&self.separator);
                }
            }
            log.print(&line);
        }
        self.destroy_rows();
    }

    /// `_output_as_columns`.
    fn output_as_columns(&mut self, group: Option<&GroupState>, log: &mut Logger<'_>) {
        if self.flags & RH_HEADINGS_PRINTED == 0 {
            self.report_headings(log);
        }
        let json = group.is_some_and(|g| g.is_json());
        let indent = group.map(|g| g.indent.max(0) as usize);
        let nrows = self.rows.len();
        for (r, row) in self.rows.iter().enumerate() {
            if !self.should_display_row(row) {
                continue;
            }
            let mut line = Vec::new();
            if let Some(i) = indent {
                line.extend(std::iter::repeat_n(b' ', i));
            }
            if json {
                line.push(b'{');
            }
            let mut delim = false;
            for &pid in &self.order {
                let Some(p) = self.props.get(pid) else {
                    continue;
                };
                if p.flags & FLD_HIDDEN != 0 {
                    continue;
                }
                if delim {
                    if json {
                        line.extend_from_slice(b", ");
                    } else {
                        line.extend_from_slice(&self.separator);
                    }
                } else {
                    delim = true;
                }
                if let Some(v) = row.values.get(pid) {
                    self.output_field(pid, v, json, &mut line);
                }
            }
            if json {
                line.push(b'}');
                if r + 1 != nrows {
                    line.push(b',');
                }
            }
            log.print(&line);
        }
        if self.flags & OUTPUT_MULTIPLE_TIMES == 0 {
            self.destroy_rows();
        }
    }

    /// `dm_report_output`.
    pub(crate) fn output(
        &mut self,
        mut group: Option<&mut GroupState>,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        let item = self.group.as_ref().map(|g| g.1);
        if let (Some(g), Some(item)) = (group.as_deref_mut(), item) {
            if g.is_json() {
                let rows_empty = self.rows.is_empty();
                g.prepare_json_report_output(item, rows_empty, log)?;
            }
        }
        if !self.rows.is_empty() {
            if self.flags & RH_FIELD_CALC_NEEDED != 0 {
                self.recalculate_fields();
            }
            if self.flags & RH_SORT_REQUIRED != 0 {
                self.sort_rows();
            }
            if let (Some(g), Some(item)) = (group.as_deref_mut(), item) {
                if g.is_basic() {
                    g.print_basic_report_header(item, log)?;
                }
            }
            if self.flags & OUTPUT_COLUMNS_AS_ROWS != 0 {
                self.output_as_rows(log);
            } else {
                self.output_as_columns(group.as_deref().filter(|_| item.is_some()), log);
            }
        }
        if let (Some(g), Some(item)) = (group, item) {
            g.set_output_done(item);
        }
        Ok(())
    }
}

/// printf `%-*.*s` (left) or `%*.*s` (right) with width and precision `width`.
fn pad_into(out: &mut Vec<u8>, s: &[u8], width: i32, left: bool) {
    let w = usize::try_from(width).unwrap_or(0);
    let s = &s[..s.len().min(w)];
    let pad = w - s.len();
    if left {
        out.extend_from_slice(s);
        out.extend(std::iter::repeat_n(b' ', pad));
    } else {
        out.extend(std::iter::repeat_n(b' ', pad));
        out.extend_from_slice(s);
    }
}

/// A report (stock's `struct dm_report *`).
///
/// Created with [`Report::new`]; objects are added with
/// [`Report::report_object`]; [`Report::output`] prints. Every call takes the
/// sink its messages go to.
pub struct Report {
    pub(crate) inner: Rc<RefCell<ReportState>>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Report")
    }
}

fn busy() -> ReportError {
    ReportError::msg(b"dm_report: report handle is in use")
}

impl Report {
    /// `dm_report_init` / `dm_report_init_with_selection` (by
    /// `opts.with_selection`).
    ///
    /// `report_types` is stock's in/out argument: in, the types the caller
    /// reports (it selects the field prefix when it is exactly one type's id);
    /// out, the types of all fields used. Like stock, it is updated only once
    /// the field list parsed, so a failing selection leaves it updated.
    pub fn new(
        types: Vec<ObjectType>,
        fields: Vec<FieldDef>,
        report_types: &mut u32,
        opts: &ReportOptions,
        sink: &mut dyn LogSink,
    ) -> Result<Report, ReportError> {
        let mut log = Logger::new(sink);
        let mut rh = ReportState::init(types, fields, *report_types, opts, &mut log)?;
        *report_types = rh.public_types();
        if opts.with_selection {
            let sel = opts.selection.as_deref().map(cstr).unwrap_or(b"");
            if !sel.is_empty() {
                let reserved = opts.reserved_values.as_deref().unwrap_or(&[]);
                if !super::select::check_reserved_values_supported(&rh.fields, reserved, &mut log) {
                    log.error(b"Internal error: dm_report_init_with_selection: trying to register unsupported reserved value type, skipping report selection");
                    log.clear();
                } else {
                    rh.reserved = opts.reserved_values.clone();
                    if eq_ic(sel, b"help") || sel == b"?" {
                        rh.display_fields(false, true, &mut log);
                        log.warn(b" ");
                        super::select::display_selection_help(&rh, &mut log);
                        rh.flags |= RH_ALREADY_REPORTED;
                    } else {
                        rh.report_set_selection(Some(sel), true, &mut log)?;
                        *report_types = rh.public_types();
                    }
                }
            }
        }
        Ok(Report {
            inner: Rc::new(RefCell::new(rh)),
        })
    }

    fn with<R>(
        &self,
        sink: &mut dyn LogSink,
        f: impl FnOnce(
            &mut ReportState,
            Option<&mut GroupState>,
            &mut Logger<'_>,
        ) -> Result<R, ReportError>,
    ) -> Result<R, ReportError> {
        let mut log = Logger::new(sink);
        let mut rh = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let group = rh.group.as_ref().and_then(|(w, _)| w.upgrade());
        match group {
            Some(g) => {
                let mut g = g.try_borrow_mut().map_err(|_| busy())?;
                f(&mut rh, Some(&mut g), &mut log)
            }
            None => f(&mut rh, None, &mut log),
        }
    }

    /// `dm_report_object`: adds one object (row). Unbuffered reports print it
    /// at once.
    pub fn report_object(
        &mut self,
        source: &mut dyn ObjectSource,
        sink: &mut dyn LogSink,
    ) -> Result<(), ReportError> {
        self.with(sink, |rh, g, log| {
            rh.do_report_object(source, true, g, log).map(|_| ())
        })
    }

    /// `dm_report_object_is_selected`: evaluates the selection on one object;
    /// adds it for output when `do_output`. Returns what stock stores in
    /// `*selected` (`None` where stock leaves it untouched: already-reported
    /// help reports and buffered/unbuffered rows kept for output).
    pub fn object_is_selected(
        &mut self,
        source: &mut dyn ObjectSource,
        do_output: bool,
        sink: &mut dyn LogSink,
    ) -> Result<Option<bool>, ReportError> {
        self.with(sink, |rh, g, log| {
            rh.do_report_object(source, do_output, g, log)
        })
    }

    /// `dm_report_output`.
    pub fn output(&mut self, sink: &mut dyn LogSink) -> Result<(), ReportError> {
        self.with(sink, |rh, g, log| rh.output(g, log))
    }

    /// `dm_report_column_headings`.
    pub fn column_headings(&mut self, sink: &mut dyn LogSink) -> Result<(), ReportError> {
        self.with(sink, |rh, _, log| {
            rh.column_headings(log);
            Ok(())
        })
    }

    /// `dm_report_compact_fields`: hides columns empty in every buffered row.
    pub fn compact_fields(&mut self) -> Result<(), ReportError> {
        let mut rh = self.inner.try_borrow_mut().map_err(|_| busy())?;
        rh.compact(true);
        Ok(())
    }

    /// `dm_report_compact_given_fields`.
    pub fn compact_given_fields(
        &mut self,
        fields: Option<&[u8]>,
        sink: &mut dyn LogSink,
    ) -> Result<(), ReportError> {
        self.with(sink, |rh, _, log| rh.compact_given(fields, log))
    }

    /// `dm_report_set_selection`: replaces the selection and re-evaluates the
    /// buffered rows. On failure the report has no selection (as stock).
    pub fn set_selection(
        &mut self,
        selection: Option<&[u8]>,
        sink: &mut dyn LogSink,
    ) -> Result<(), ReportError> {
        self.with(sink, |rh, _, log| rh.set_selection(selection, log))
    }

    /// `dm_report_set_output_field_name_prefix` (stored uppercased).
    pub fn set_output_field_name_prefix(&mut self, prefix: &[u8]) -> Result<(), ReportError> {
        let mut rh = self.inner.try_borrow_mut().map_err(|_| busy())?;
        rh.set_output_field_name_prefix(prefix);
        Ok(())
    }

    /// `dm_report_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.inner
            .try_borrow()
            .map(|r| r.rows.is_empty())
            .unwrap_or(true)
    }

    /// The number of rows waiting for output. The C shell uses it to free a
    /// row's pool memory when the row is not kept, as stock does.
    pub fn row_count(&self) -> usize {
        self.inner.try_borrow().map(|r| r.rows.len()).unwrap_or(0)
    }

    /// `dm_report_destroy_rows`: drops buffered rows, resets widths.
    pub fn destroy_rows(&mut self) -> Result<(), ReportError> {
        let mut rh = self.inner.try_borrow_mut().map_err(|_| busy())?;
        rh.destroy_rows();
        Ok(())
    }

    /// The report's `report_types` (implicit types masked), as stock returns
    /// it from `dm_report_init`.
    pub fn report_types(&self) -> u32 {
        self.inner
            .try_borrow()
            .map(|r| r.public_types())
            .unwrap_or(0)
    }

    /// The report's current `DM_REPORT_OUTPUT_*` flags.
    pub fn flags(&self) -> u32 {
        self.inner
            .try_borrow()
            .map(|r| r.flags & OUTPUT_MASK)
            .unwrap_or(0)
    }

    /// Whether `help` was requested (in the fields, keys or selection): stock
    /// printed the listing at creation and ignores objects from then on.
    pub fn help_shown(&self) -> bool {
        self.inner
            .try_borrow()
            .map(|r| r.flags & RH_ALREADY_REPORTED != 0)
            .unwrap_or(false)
    }
}
