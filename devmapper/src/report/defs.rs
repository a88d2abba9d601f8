//! Report definitions: object types, fields, reserved values.

use std::fmt;
use std::rc::Rc;

/// An object type (`struct dm_report_object_type` without the data accessor:
/// the caller's [`super::ObjectSource`] resolves data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectType {
    /// The type id: a power of two, not [`super::SPECIAL_REPORT_TYPE`].
    pub id: u32,
    /// Description, shown as "`<desc>` Fields" in help listings.
    pub desc: Vec<u8>,
    /// Field id prefix (e.g. `b"name_"`); may be empty.
    pub prefix: Vec<u8>,
}

impl ObjectType {
    /// A type from its id, description and prefix.
    pub fn new(id: u32, desc: &[u8], prefix: &[u8]) -> Self {
        ObjectType {
            id,
            desc: super::cstr(desc).to_vec(),
            prefix: super::cstr(prefix).to_vec(),
        }
    }
}

/// A field definition (`struct dm_report_field_type` without offset and
/// `report_fn`: fields are identified by their index in the definition list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The object type id this field belongs to.
    pub type_id: u32,
    /// `DM_REPORT_FIELD_ALIGN_*` | `DM_REPORT_FIELD_TYPE_*` (the whole word is
    /// kept: stock compares it for equality in places).
    pub flags: u32,
    /// Default (minimum) width.
    pub width: i32,
    /// The field's name as used in `-o`, `-O`, `-S`.
    pub id: Vec<u8>,
    /// Column heading.
    pub heading: Vec<u8>,
    /// Description for help listings.
    pub desc: Vec<u8>,
}

impl FieldDef {
    /// A field from its parts (each string cut at a NUL, as C would).
    pub fn new(
        type_id: u32,
        flags: u32,
        width: i32,
        id: &[u8],
        heading: &[u8],
        desc: &[u8],
    ) -> Self {
        FieldDef {
            type_id,
            flags,
            width,
            id: super::cstr(id).to_vec(),
            heading: super::cstr(heading).to_vec(),
            desc: super::cstr(desc).to_vec(),
        }
    }
}

/// The result of a reserved value handler call (stock: 1 / 0 / -1).
#[derive(Clone, Debug, PartialEq)]
pub enum HandlerResult<T> {
    /// Success (1), with the output (`None`: not recognised / no value).
    Ok(Option<T>),
    /// Error (0).
    Error,
    /// Action not implemented (-1).
    NotImplemented,
}

/// A handler for `DYNAMIC_VALUE` / `FUZZY_NAMES` reserved values
/// (`dm_report_reserved_handler`).
pub trait ReservedHandler {
    /// `DM_REPORT_RESERVED_PARSE_FUZZY_NAME`: map a name written in a
    /// selection to the canonical reserved name.
    fn parse_fuzzy_name(&self, field_num: u32, name: &[u8]) -> HandlerResult<Vec<u8>>;
    /// `DM_REPORT_RESERVED_GET_DYNAMIC_VALUE`: the value of a canonical name,
    /// given as data of the field's type (see [`ReservedData`]).
    fn dynamic_value(&self, field_num: u32, name: &[u8]) -> HandlerResult<ReservedData>;
}

/// The value of a reserved value.
///
/// Numbers, sizes, percents and times are stored as stock reads them: raw
/// 64-bit words (`uint64_t` for number and percent, the bits of a `double`
/// for size, `time_t` for time), a pair for ranges.
#[derive(Clone)]
pub enum ReservedData {
    /// One or two (range) 64-bit words; see [`ReservedData::number`] etc.
    Words([u64; 2]),
    /// A string (`const char *`) value.
    Str(Vec<u8>),
    /// A handler (`DYNAMIC_VALUE` / `FUZZY_NAMES`).
    Handler(Rc<dyn ReservedHandler>),
}

impl ReservedData {
    /// A number or percent value.
    pub fn number(v: u64) -> Self {
        ReservedData::Words([v, 0])
    }
    /// A number or percent range.
    pub fn number_range(lo: u64, hi: u64) -> Self {
        ReservedData::Words([lo, hi])
    }
    /// A size (in 512-byte sectors, as a double).
    pub fn size(v: f64) -> Self {
        ReservedData::Words([v.to_bits(), 0])
    }
    /// A size range.
    pub fn size_range(lo: f64, hi: f64) -> Self {
        ReservedData::Words([lo.to_bits(), hi.to_bits()])
    }
    /// A time (`time_t`).
    pub fn time(t: i64) -> Self {
        ReservedData::Words([t as u64, 0])
    }
    /// A time range.
    pub fn time_range(lo: i64, hi: i64) -> Self {
        ReservedData::Words([lo as u64, hi as u64])
    }
    /// A string.
    pub fn string(s: &[u8]) -> Self {
        ReservedData::Str(super::cstr(s).to_vec())
    }

    pub(crate) fn word(&self, i: usize) -> u64 {
        match self {
            ReservedData::Words(w) => w.get(i).copied().unwrap_or(0),
            _ => 0,
        }
    }
}

impl fmt::Debug for ReservedData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReservedData::Words(w) => write!(f, "Words({:#x}, {:#x})", w[0], w[1]),
            ReservedData::Str(s) => write!(f, "Str({:?})", String::from_utf8_lossy(s)),
            ReservedData::Handler(_) => f.write_str("Handler"),
        }
    }
}

/// A reserved value (`struct dm_report_reserved_value`).
#[derive(Clone, Debug)]
pub struct ReservedValue {
    /// `DM_REPORT_FIELD_RESERVED_VALUE_*` | `DM_REPORT_FIELD_TYPE_*`; a type
    /// part of `DM_REPORT_FIELD_TYPE_NONE` makes it per-field.
    pub type_flags: u32,
    /// For per-field values: the field's index (`dm_report_field_reserved_value.field_num`).
    pub field_num: u32,
    /// The value.
    pub value: ReservedData,
    /// Names recognised in selections.
    pub names: Vec<Vec<u8>>,
    /// Description for the selection help.
    pub description: Vec<u8>,
}
