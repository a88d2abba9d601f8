//! libdevmapper's report engine (`dm_report_*`), exact to stock's output.
//!
//! This is the table engine behind `dmsetup info -c`, `dmsetup ... -o/-O/-S`,
//! `--rows`, `--nameprefixes`, `--reportformat json` and `dmstats report`.
//! It reproduces libdm 1.02.185 (LVM2 v2_03_16 `libdm/libdm-report.c`) byte
//! for byte: column widths and alignment, sorting, the selection grammar
//! (`-S`) with its regex dialect, reserved values, time and size parsing,
//! compaction, report groups (single, basic, JSON), the `help` listings and
//! every error message.
//!
//! Two layers:
//! - the dynamic engine ([`Report`], [`ReportGroup`]) with definitions given
//!   at run time ([`ObjectType`], [`FieldDef`], [`ReservedValue`]); rows are
//!   pushed through an [`ObjectSource`] that is asked for each needed field's
//!   [`FieldValue`] (display bytes + typed sort value), the same per-field
//!   callback protocol as stock's `report_fn`s. The C shell maps the
//!   `dm_report_*` exports onto it.
//! - a typed layer ([`TypedReport`], [`ReportRow`]) for Rust programs.
//!
//! Everything stock logs (report lines, help text, warnings, errors) goes to a
//! caller-provided [`LogSink`] in stock's order and at stock's level; a
//! failing call also returns a [`ReportError`] holding the error lines it
//! logged.
//!
//! The engine is pure: no kernel, no C library code except `mktime`/`gmtime_r`
//! for local-time conversion of dates in selections (as stock does).
//!
//! # Tests
//!
//! `tests.rs` replays the case files of `tests/fixtures/report/` and compares
//! the transcripts with stock libdm's (made by
//! `capi-tests/report-oracle/regen.sh`), byte for byte.
//!
//! # Where stock is not reproduced
//!
//! - Inputs that crash stock are given a meaning: a NULL separator or (with
//!   `FIELD_NAME_PREFIX`) a never-set output name prefix are empty; a report
//!   pushed without a name into a basic or JSON group fails with an error.
//! - Undefined behaviour in stock: a reserved value matched on a time field
//!   is a single value (stock reads an uninitialised range flag); string-list
//!   sort keys compare the display strings (stock compares pointer bytes);
//!   regex bracket ranges over bytes >= 0x80 are taken as signed chars but
//!   never write out of bounds; strict-reservation checks skip handler-valued
//!   reserved entries (stock reads the function's code as a value); string
//!   ranges in reserved values have an empty upper bound. What stock does
//!   reliably, even when odd, is reproduced (e.g. January dates naming a day
//!   select a month; `!=` on a time range matches like `=`; percent sort
//!   keys compare the little-endian bytes of the value as a C string).
//! - Nesting limits: more than 200 nested parentheses in a selection, or 500
//!   in a regex, are refused (stock recurses without bound).
//! - Debug-level `<backtrace>` lines are not logged.
//! - The help listing starts a new section when a type's description text
//!   changes (stock compares description pointers; callers' identical
//!   literals are merged by the compiler, which this matches).
//!
//! # Notes for the C shell
//!
//! - Logging: forward each [`LogSink`] message to libdm's log function with
//!   [`LogLevel::dm_level`] (report lines 4 = `_LOG_WARN` via `log_print`;
//!   help listings and warnings 132 = `_LOG_WARN | _LOG_STDERR` via
//!   `log_warn`; errors 3 = `_LOG_ERR` with errno class `EUNCLASSIFIED` (-1)).
//!   Use the sink only (the same error lines are in the returned
//!   [`ReportError`]).
//! - `dm_report_init`/`_with_selection`: convert the type array (up to
//!   `data_fn == NULL`) and field array (up to `report_fn == NULL`); keep the
//!   C arrays for the callbacks. `report_types` is in/out (update only if
//!   non-NULL). `_with_selection` sets a process-wide flag first; pass it as
//!   [`ReportOptions::implicit_selected_field`] to every later report, as
//!   stock's global table switch does. Reserved values: up to `value == NULL`;
//!   numbers/percents `uint64_t`, sizes `double` bits, times `time_t`
//!   (two words with `RANGE`), strings, handlers wrapped in a
//!   [`ReservedHandler`] calling the C function (`rh`, the selection pool,
//!   field_num, action, data_in, &data_out; convert data_out by the field's type).
//! - `dm_report_object`/`_is_selected`: an [`ObjectSource`] calling the
//!   type's `data_fn` (NULL: [`FieldError::NoData`]) and the field's
//!   `report_fn(rh, mem, field, data + offset, private)` (0:
//!   [`FieldError::Failed`]); the setters called inside (`dm_report_field_*`)
//!   fill a per-call `struct dm_report_field` shim with a [`FieldValue`]
//!   (`dm_report_field_percent` failing: log its error line, return 0;
//!   `set_value` sort values by the field's type: number/percent `uint64_t`,
//!   size `double` bits, time `time_t`, string C string; a sort pointer equal
//!   to the value pointer counts as none, which stock warns about on number
//!   fields: the engine logs that warning, the shim must not). A report_fn that
//!   sets nothing gives an empty value. `mem` must be a real `dm_pool` living
//!   as long as the report (stock passes the report's pool; callbacks
//!   allocate display strings from it). `*selected`: `Some(b)` -> b, `None` ->
//!   untouched, error -> 1 (stock).
//! - `dm_report_value_cache_set/get` are a per-report name -> pointer map in
//!   the shell; `dm_report_free` drops the [`Report`]; `dm_report_group_*`
//!   map to [`ReportGroup`] (a NULL group: push/pop/destroy return 1;
//!   `push` passes `data` as the name for basic and JSON groups).
//! - [`Report`] and [`ReportGroup`] share state through `Rc`: not `Send`.

mod defs;
mod engine;
mod group;
pub mod regex;
mod select;
mod time;
mod typed;
mod value;

pub use crate::percent::{make_percent, percent_to_float, percent_to_round_float};
pub use defs::{FieldDef, HandlerResult, ObjectType, ReservedData, ReservedHandler, ReservedValue};
pub use engine::{FieldError, ObjectSource, Report, ReportOptions};
pub use group::{GroupType, ReportGroup};
pub use typed::{output_fields_with_defaults, FieldSpec, ReportRow, TypedReport};
pub use value::{FieldValue, SortValue};

/// `DM_REPORT_FIELD_MASK`: the bits of a field's flags the engine keeps.
pub const FIELD_MASK: u32 = 0x0000_0FFF;
/// `DM_REPORT_FIELD_ALIGN_MASK`.
pub const FIELD_ALIGN_MASK: u32 = 0x0000_000F;
/// `DM_REPORT_FIELD_ALIGN_LEFT`.
pub const FIELD_ALIGN_LEFT: u32 = 0x0000_0001;
/// `DM_REPORT_FIELD_ALIGN_RIGHT`.
pub const FIELD_ALIGN_RIGHT: u32 = 0x0000_0002;
/// `DM_REPORT_FIELD_TYPE_MASK`.
pub const FIELD_TYPE_MASK: u32 = 0x0000_0FF0;
/// `DM_REPORT_FIELD_TYPE_NONE` (per-field reserved values).
pub const FIELD_TYPE_NONE: u32 = 0x0000_0000;
/// `DM_REPORT_FIELD_TYPE_STRING`.
pub const FIELD_TYPE_STRING: u32 = 0x0000_0010;
/// `DM_REPORT_FIELD_TYPE_NUMBER`.
pub const FIELD_TYPE_NUMBER: u32 = 0x0000_0020;
/// `DM_REPORT_FIELD_TYPE_SIZE`.
pub const FIELD_TYPE_SIZE: u32 = 0x0000_0040;
/// `DM_REPORT_FIELD_TYPE_PERCENT`.
pub const FIELD_TYPE_PERCENT: u32 = 0x0000_0080;
/// `DM_REPORT_FIELD_TYPE_STRING_LIST`.
pub const FIELD_TYPE_STRING_LIST: u32 = 0x0000_0100;
/// `DM_REPORT_FIELD_TYPE_TIME`.
pub const FIELD_TYPE_TIME: u32 = 0x0000_0200;

/// `DM_REPORT_FIELD_RESERVED_VALUE_MASK`.
pub const RESERVED_VALUE_MASK: u32 = 0x0000_000F;
/// `DM_REPORT_FIELD_RESERVED_VALUE_NAMED`: only a name (weaker reservation).
pub const RESERVED_VALUE_NAMED: u32 = 0x0000_0001;
/// `DM_REPORT_FIELD_RESERVED_VALUE_RANGE`: the value is a low/high pair.
pub const RESERVED_VALUE_RANGE: u32 = 0x0000_0002;
/// `DM_REPORT_FIELD_RESERVED_VALUE_DYNAMIC_VALUE`: computed by a handler.
pub const RESERVED_VALUE_DYNAMIC_VALUE: u32 = 0x0000_0004;
/// `DM_REPORT_FIELD_RESERVED_VALUE_FUZZY_NAMES`: names recognised by a handler.
pub const RESERVED_VALUE_FUZZY_NAMES: u32 = 0x0000_0008;

/// `DM_REPORT_FIELD_TYPE_ID_LEN`: field ids (canonical form) are shorter.
pub const FIELD_TYPE_ID_LEN: usize = 32;
/// `DM_REPORT_FIELD_TYPE_HEADING_LEN`.
pub const FIELD_TYPE_HEADING_LEN: usize = 32;

/// `DM_REPORT_OUTPUT_MASK`.
pub const OUTPUT_MASK: u32 = 0x0000_00FF;
/// `DM_REPORT_OUTPUT_ALIGNED`.
pub const OUTPUT_ALIGNED: u32 = 0x0000_0001;
/// `DM_REPORT_OUTPUT_BUFFERED`.
pub const OUTPUT_BUFFERED: u32 = 0x0000_0002;
/// `DM_REPORT_OUTPUT_HEADINGS`.
pub const OUTPUT_HEADINGS: u32 = 0x0000_0004;
/// `DM_REPORT_OUTPUT_FIELD_NAME_PREFIX`.
pub const OUTPUT_FIELD_NAME_PREFIX: u32 = 0x0000_0008;
/// `DM_REPORT_OUTPUT_FIELD_UNQUOTED`.
pub const OUTPUT_FIELD_UNQUOTED: u32 = 0x0000_0010;
/// `DM_REPORT_OUTPUT_COLUMNS_AS_ROWS`.
pub const OUTPUT_COLUMNS_AS_ROWS: u32 = 0x0000_0020;
/// `DM_REPORT_OUTPUT_MULTIPLE_TIMES`.
pub const OUTPUT_MULTIPLE_TIMES: u32 = 0x0000_0040;

pub use crate::percent::{PERCENT_0, PERCENT_1, PERCENT_100, PERCENT_FAILED, PERCENT_INVALID};

/// The id of the engine's implicit object type ("Special": fields `selected`,
/// `help`, `?`). Callers' object type ids must not use this bit.
pub const SPECIAL_REPORT_TYPE: u32 = 0x8000_0000;

/// The level stock logs a message at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// `log_print`: report output lines (`_LOG_WARN`, 4).
    Print,
    /// `log_warn`: help listings, warnings (`_LOG_WARN | _LOG_STDERR`, 132).
    Warn,
    /// `log_error` (`_LOG_ERR`, 3, errno class `EUNCLASSIFIED`).
    Error,
}

impl LogLevel {
    /// The level number stock passes to the libdm log function.
    pub fn dm_level(self) -> i32 {
        match self {
            LogLevel::Print => 4,
            LogLevel::Warn => 4 | 0x80,
            LogLevel::Error => 3,
        }
    }
}

/// Receives every message the engine logs, in stock's order.
pub trait LogSink {
    /// One message (one line as stock logs it, without a trailing newline).
    fn log(&mut self, level: LogLevel, msg: &[u8]);
}

impl LogSink for Vec<(LogLevel, Vec<u8>)> {
    fn log(&mut self, level: LogLevel, msg: &[u8]) {
        self.push((level, msg.to_vec()));
    }
}

/// A sink that drops everything (errors still come back as [`ReportError`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl LogSink for NullSink {
    fn log(&mut self, _level: LogLevel, _msg: &[u8]) {}
}

/// Writes report lines ([`LogLevel::Print`]) to `out`, each followed by a
/// newline, and help/warning lines to `err` the same way; errors are dropped
/// (they come back as [`ReportError`]). The first write error is kept in
/// [`WriteSink::error`].
pub struct WriteSink<'a> {
    out: &'a mut dyn std::io::Write,
    err: Option<&'a mut dyn std::io::Write>,
    /// The first I/O error met, if any.
    pub error: Option<std::io::Error>,
}

impl<'a> WriteSink<'a> {
    /// Report lines to `out`; help and warnings to `err` when given.
    pub fn new(out: &'a mut dyn std::io::Write, err: Option<&'a mut dyn std::io::Write>) -> Self {
        WriteSink {
            out,
            err,
            error: None,
        }
    }
}

impl LogSink for WriteSink<'_> {
    fn log(&mut self, level: LogLevel, msg: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let w: &mut dyn std::io::Write = match level {
            LogLevel::Print => &mut *self.out,
            LogLevel::Warn => match self.err.as_mut() {
                Some(e) => &mut **e,
                None => return,
            },
            LogLevel::Error => return,
        };
        if let Err(e) = w.write_all(msg).and_then(|()| w.write_all(b"\n")) {
            self.error = Some(e);
        }
    }
}

/// A failed report operation: the error lines stock logs for it, in order.
///
/// `Display` prints them joined by newlines (the stock wording). The same
/// lines were also sent to the [`LogSink`] of the call, interleaved with any
/// warnings (e.g. the field help printed before "Unrecognised field").
#[derive(Clone, PartialEq, Eq)]
pub struct ReportError {
    lines: Vec<Vec<u8>>,
    help: Vec<Vec<u8>>,
}

impl ReportError {
    pub(crate) fn from_lines(lines: Vec<Vec<u8>>, help: Vec<Vec<u8>>) -> Self {
        ReportError { lines, help }
    }

    pub(crate) fn msg(m: &[u8]) -> Self {
        ReportError {
            lines: vec![m.to_vec()],
            help: Vec::new(),
        }
    }

    /// The help text stock printed (at [`LogLevel::Warn`]) during the failing
    /// call, before its error lines: the field listing after an unknown field,
    /// the selection operator listing after a bad operator, etc.
    pub fn help_lines(&self) -> &[Vec<u8>] {
        &self.help
    }

    /// The first error line (stock's primary message).
    pub fn message(&self) -> &[u8] {
        self.lines.first().map(|l| l.as_slice()).unwrap_or(b"")
    }

    /// Every error line logged by the failing call, in order.
    pub fn lines(&self) -> &[Vec<u8>] {
        &self.lines
    }
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.lines.is_empty() {
            return f.write_str("report operation failed");
        }
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&String::from_utf8_lossy(l))?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReportError({self})")
    }
}

impl std::error::Error for ReportError {}

/// Forwards to a sink and remembers the error lines logged through it.
pub(crate) struct Logger<'a> {
    sink: &'a mut dyn LogSink,
    errors: Vec<Vec<u8>>,
    warns: Vec<Vec<u8>>,
}

impl<'a> Logger<'a> {
    pub(crate) fn new(sink: &'a mut dyn LogSink) -> Self {
        Logger {
            sink,
            errors: Vec::new(),
            warns: Vec::new(),
        }
    }

    pub(crate) fn print(&mut self, msg: &[u8]) {
        self.sink.log(LogLevel::Print, msg);
    }

    pub(crate) fn warn(&mut self, msg: &[u8]) {
        self.sink.log(LogLevel::Warn, msg);
        self.warns.push(msg.to_vec());
    }

    pub(crate) fn error(&mut self, msg: &[u8]) {
        self.sink.log(LogLevel::Error, msg);
        self.errors.push(msg.to_vec());
    }

    /// The error of a failed call: the error lines logged so far.
    pub(crate) fn fail(&mut self) -> ReportError {
        ReportError::from_lines(
            std::mem::take(&mut self.errors),
            std::mem::take(&mut self.warns),
        )
    }

    /// Forgets recorded lines (for a call that logged errors but succeeded).
    pub(crate) fn clear(&mut self) {
        self.errors.clear();
        self.warns.clear();
    }

    pub(crate) fn sink(&mut self) -> &mut dyn LogSink {
        &mut *self.sink
    }
}

/// Concatenates byte slices (message building).
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

/// The bytes of a C string: up to the first NUL.
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

#[cfg(test)]
mod tests;
