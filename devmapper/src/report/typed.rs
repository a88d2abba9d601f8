//! The typed layer: a report over a Rust row type.

use std::io::Write;
use std::marker::PhantomData;

use super::defs::{FieldDef, ObjectType};
use super::engine::{FieldError, ObjectSource, Report, ReportOptions};
use super::value::FieldValue;
use super::{LogSink, NullSink, ReportError, WriteSink};

/// A static field description for [`ReportRow::fields`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Object type id (see [`ReportRow::object_types`]).
    pub type_id: u32,
    /// `DM_REPORT_FIELD_ALIGN_*` | `DM_REPORT_FIELD_TYPE_*`.
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
