//! The typed layer: a report over a Rust row type.

use std::io::Write;
use std::marker::PhantomData;

use super::defs::{FieldDef, ObjectType};
use super::engine::{FieldError, ObjectSource, Report, ReportOptions};
use super::value::FieldValue;
use super::{LogSink, NullSink, ReportError, WriteSink};

/// A static field description for [`ReportRow::fields`].
///
/// Build it with [`FieldSpec::string`], [`FieldSpec::number`] and the other
/// `const` constructors, which set the field type alone. Strings then align
/// left and numbers (sizes, percents) right, and selections (`-S`) work on
/// every field.
///
/// **Alignment flags change selections, as in stock libdevmapper.** The
/// engine reproduces `libdm-report.c`, which decides how to parse a
/// selection value by comparing the field's *whole* flags word with the
/// number, size and percent types. A number field with an explicit
/// `FIELD_ALIGN_LEFT` or `FIELD_ALIGN_RIGHT` bit therefore fails every
/// selection on it ("Internal error: Forbidden NULL custom detected."). Set
/// [`flags`](FieldSpec::flags) by hand only for string fields or fields
/// nobody selects on, or use [`FieldSpec::with_align`], which refuses
/// (leaves the flags alone) on number, size and percent fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Object type id (see [`ReportRow::object_types`]).
    pub type_id: u32,
    /// `DM_REPORT_FIELD_TYPE_*`, optionally `| DM_REPORT_FIELD_ALIGN_*`
    /// (see above: never an alignment bit on a number field that may be
    /// selected on).
    pub flags: u32,
    /// Default width.
    pub width: i32,
    /// Field name for `-o`, `-O`, `-S`.
    pub id: &'static str,
    /// Column heading.
    pub heading: &'static str,
    /// Description for help listings.
    pub desc: &'static str,
}

impl FieldSpec {
    const fn of_type(
        flags: u32,
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec {
            type_id,
            flags,
            width,
            id,
            heading,
            desc,
        }
    }

    /// A string field (aligned left).
    pub const fn string(
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec::of_type(super::FIELD_TYPE_STRING, type_id, width, id, heading, desc)
    }

    /// A number field (aligned right; selections compare numbers).
    pub const fn number(
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec::of_type(super::FIELD_TYPE_NUMBER, type_id, width, id, heading, desc)
    }

    /// A size field (aligned right; selections take sizes with units).
    pub const fn size(
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec::of_type(super::FIELD_TYPE_SIZE, type_id, width, id, heading, desc)
    }

    /// A percent field (aligned right).
    pub const fn percent(
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec::of_type(super::FIELD_TYPE_PERCENT, type_id, width, id, heading, desc)
    }

    /// A time field.
    pub const fn time(
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec::of_type(super::FIELD_TYPE_TIME, type_id, width, id, heading, desc)
    }

    /// A string-list field.
    pub const fn string_list(
        type_id: u32,
        width: i32,
        id: &'static str,
        heading: &'static str,
        desc: &'static str,
    ) -> FieldSpec {
        FieldSpec::of_type(
            super::FIELD_TYPE_STRING_LIST,
            type_id,
            width,
            id,
            heading,
            desc,
        )
    }

    /// The same field with an explicit alignment (`FIELD_ALIGN_LEFT` or
    /// `FIELD_ALIGN_RIGHT`). On number, size and percent fields the flags
    /// are left as they are: there, an alignment bit would break
    /// selections (see the type's documentation).
    pub const fn with_align(self, align: u32) -> FieldSpec {
        let ty = self.flags & super::FIELD_TYPE_MASK;
        if ty == super::FIELD_TYPE_NUMBER
            || ty == super::FIELD_TYPE_SIZE
            || ty == super::FIELD_TYPE_PERCENT
        {
            return self;
        }
        FieldSpec {
            flags: (self.flags & !super::FIELD_ALIGN_MASK) | (align & super::FIELD_ALIGN_MASK),
            ..self
        }
    }
}

/// A row type that can be reported.
pub trait ReportRow {
    /// The object types the fields belong to. Default: one type, id 1, no
    /// description, no prefix.
    fn object_types() -> Vec<ObjectType> {
        vec![ObjectType::new(1, b"", b"")]
    }
    /// The fields, in definition order.
    fn fields() -> &'static [FieldSpec];
    /// The value of field `field` (an index into [`ReportRow::fields`]).
    fn value(&self, field: usize) -> FieldValue;
}

/// A report of rows of type `R`.
pub struct TypedReport<R: ReportRow> {
    report: Report,
    report_types: u32,
    _rows: PhantomData<fn(&R)>,
}

impl<R: ReportRow> std::fmt::Debug for TypedReport<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedReport")
    }
}

struct RowSource<'a, R>(&'a R);

impl<R: ReportRow> ObjectSource for RowSource<'_, R> {
    fn field_value(
        &mut self,
        field_num: u32,
        _log: &mut dyn LogSink,
    ) -> Result<FieldValue, FieldError> {
        Ok(self.0.value(field_num as usize))
    }
}

impl<R: ReportRow> TypedReport<R> {
    /// Creates the report; messages (help listings, errors) go to `sink`.
    pub fn with_sink(
        report_types: u32,
        opts: &ReportOptions,
        sink: &mut dyn LogSink,
    ) -> Result<Self, ReportError> {
        let fields = R::fields()
            .iter()
            .map(|f| {
                FieldDef::new(
                    f.type_id,
                    f.flags,
                    f.width,
                    f.id.as_bytes(),
                    f.heading.as_bytes(),
                    f.desc.as_bytes(),
                )
            })
            .collect();
        let mut types = report_types;
        let report = Report::new(R::object_types(), fields, &mut types, opts, sink)?;
        Ok(TypedReport {
            report,
            report_types: types,
            _rows: PhantomData,
        })
    }

    /// Creates the report, dropping messages (errors come back as values).
    pub fn new(report_types: u32, opts: &ReportOptions) -> Result<Self, ReportError> {
        Self::with_sink(report_types, opts, &mut NullSink)
    }

    /// The `report_types` stock hands back from `dm_report_init`.
    pub fn report_types(&self) -> u32 {
        self.report_types
    }

    /// Adds a row (unbuffered reports print it at once, to `out`).
    pub fn push(&mut self, row: &R, out: &mut dyn Write) -> Result<(), ReportError> {
        let mut sink = WriteSink::new(out, None);
        self.report.report_object(&mut RowSource(row), &mut sink)
    }

    /// Whether `row` passes the selection (without adding it).
    pub fn is_selected(&mut self, row: &R) -> Result<bool, ReportError> {
        Ok(self
            .report
            .object_is_selected(&mut RowSource(row), false, &mut NullSink)?
            .unwrap_or(true))
    }

    /// Prints the buffered rows (sorted, aligned) to `out`, one line each.
    pub fn output(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut sink = WriteSink::new(out, None);
        let r = self.report.output(&mut sink);
        if let Some(e) = sink.error.take() {
            return Err(e);
        }
        r.map_err(std::io::Error::other)
    }

    /// The underlying dynamic report.
    pub fn report_mut(&mut self) -> &mut Report {
        &mut self.report
    }
}

/// dmsetup's `-o +fields` convention (done by the tool, not by libdm): an
/// option starting with `+` appends to the default field list, anything else
/// replaces it.
pub fn output_fields_with_defaults(defaults: &[u8], option: &[u8]) -> Vec<u8> {
    match option.strip_prefix(b"+") {
        Some(extra) => {
            let mut v = defaults.to_vec();
            v.push(b',');
            v.extend_from_slice(extra);
            v
        }
        None => option.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        FIELD_ALIGN_LEFT, FIELD_ALIGN_RIGHT, FIELD_TYPE_NUMBER, FIELD_TYPE_STRING,
    };
    use crate::report::{OUTPUT_ALIGNED, OUTPUT_BUFFERED, OUTPUT_HEADINGS};

    struct Row(&'static str, u64);

    static FIELDS: &[FieldSpec] = &[
        FieldSpec::string(1, 4, "name", "Name", "The name.").with_align(FIELD_ALIGN_RIGHT),
        FieldSpec::number(1, 3, "n", "N", "A number.").with_align(FIELD_ALIGN_LEFT),
    ];

    impl ReportRow for Row {
        fn fields() -> &'static [FieldSpec] {
            FIELDS
        }
        fn value(&self, field: usize) -> FieldValue {
            match field {
                0 => FieldValue::string(self.0.as_bytes()),
                _ => FieldValue::uint64(self.1),
            }
        }
    }

    fn opts(selection: &[u8]) -> ReportOptions {
        ReportOptions {
            output_fields: b"name,n".to_vec(),
            separator: Some(b" ".to_vec()),
            flags: OUTPUT_ALIGNED | OUTPUT_BUFFERED | OUTPUT_HEADINGS,
            selection: Some(selection.to_vec()),
            with_selection: true,
            ..Default::default()
        }
    }

    #[test]
    fn constructors_set_the_type_alone() {
        assert_eq!(FIELDS[0].flags, FIELD_TYPE_STRING | FIELD_ALIGN_RIGHT);
        // with_align leaves number fields alone.
        assert_eq!(FIELDS[1].flags, FIELD_TYPE_NUMBER);
        assert_eq!(
            FieldSpec::size(2, 1, "s", "S", "d").flags,
            crate::report::FIELD_TYPE_SIZE
        );
        assert_eq!(FieldSpec::size(2, 1, "s", "S", "d").type_id, 2);
    }

    #[test]
    fn selections_work_on_constructed_number_fields() {
        let mut r = TypedReport::<Row>::new(0, &opts(b"n>5")).unwrap();
        let mut out = Vec::new();
        r.push(&Row("a", 3), &mut out).unwrap();
        r.push(&Row("bb", 10), &mut out).unwrap();
        r.output(&mut out).unwrap();
        // Only the selected row; the string field right-aligned as asked.
        assert_eq!(String::from_utf8(out).unwrap(), "Name N  \n  bb  10\n");
    }

    #[test]
    fn an_alignment_bit_on_a_number_breaks_selections_like_stock() {
        struct Bad;
        static BAD: &[FieldSpec] = &[FieldSpec {
            flags: FIELD_TYPE_NUMBER | FIELD_ALIGN_RIGHT,
            ..FieldSpec::number(1, 3, "n", "N", "A number.")
        }];
        impl ReportRow for Bad {
            fn fields() -> &'static [FieldSpec] {
                BAD
            }
            fn value(&self, _: usize) -> FieldValue {
                FieldValue::uint64(1)
            }
        }
        let o = ReportOptions {
            output_fields: b"n".to_vec(),
            ..opts(b"n>5")
        };
        let e = TypedReport::<Bad>::new(0, &o).unwrap_err();
        assert!(e
            .lines()
            .iter()
            .any(|l| l == b"Internal error: Forbidden NULL custom detected."));
    }
}
