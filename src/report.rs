//! `dm_report_*` (and the `dm_percent_*` helpers stock keeps beside them):
//! the C shell over the core's report engine, [`devmapper::report`].
//!
//! A `struct dm_report` is an engine [`Report`] plus what only the C API
//! has: the caller's type and field arrays (their `data_fn`/`report_fn`
//! callbacks and field offsets), the report's memory pool handed to those
//! callbacks, the selection pool handed to reserved-value handlers, the
//! caller's private pointer and the value cache
//! (`dm_report_value_cache_set/get`).
//!
//! Rows: for each field the engine needs, the shell calls the field type's
//! `data_fn` on the object and the field's `report_fn` on the result plus
//! the field's offset, with a `struct dm_report_field` that lives for the
//! call; the `dm_report_field_*` setters fill it, and after `report_fn`
//! returns its value becomes an engine [`FieldValue`] (pointers given to
//! `dm_report_field_set_value` are read then, by the field's type).
//! Callback memory comes from the report pool and is released as stock
//! releases it: a row's memory when the row is not kept, all rows' memory
//! once they are output or destroyed.
//!
//! Everything the engine logs goes to libdm's log callback at stock's
//! levels (report lines 4, help and warnings 4|`_LOG_STDERR`, errors 3 with
//! class -1). No lock is held while a C callback runs; a callback calling
//! back into the report it is running for (output, free, ...) is refused
//! with an internal error instead of corrupting it.
//!
//! Process-wide state, as stock: once `dm_report_init_with_selection` has
//! been called, every report (also from `dm_report_init`) has the implicit
//! `selected` field.
//!
//! Where stock crashes (NULL handles, strings or lists, a `report_fn` that
//! sets no value), the shell logs an internal error and fails, or gives the
//! input a harmless meaning (no value: an empty one; NULL output field list:
//! empty; NULL descriptions: "(null)", as printf shows them).

use crate::ffi::{arg_bytes, guard, handle, opt_bytes, out, take_handle};
use crate::pool::{self, dm_pool, log_bytes, log_error_bytes};
use devmapper::log::{Level, EUNCLASSIFIED};
use devmapper::report::{
    self as engine, FieldDef, FieldError, FieldValue, GroupType, HandlerResult, LogLevel, LogSink,
    ObjectSource, ObjectType, Report, ReportError, ReportGroup, ReportOptions, ReservedData,
    ReservedHandler, ReservedValue, SortValue,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::null_mut;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

// ---------------------------------------------------------------- C types

use crate::percent::dm_percent_t;

/// `dm_report_group_type_t` (values `DM_REPORT_GROUP_SINGLE`, `_BASIC`,
/// `_JSON`).
pub type dm_report_group_type_t = c_int;

/// `struct dm_report_object_type` (the C text is in
/// `src/header/families/report.h`).
#[repr(C)]
pub struct dm_report_object_type {
    /// Type id: a power of two.
    pub id: u32,
    /// Description ("`<desc>` Fields" in help listings).
    pub desc: *const c_char,
    /// Field name prefix (may be NULL).
    pub prefix: *const c_char,
    /// The object's data for this type (NULL ends the array).
    pub data_fn: Option<unsafe extern "C" fn(object: *mut c_void) -> *mut c_void>,
}

/// A field's report callback.
type ReportFn = unsafe extern "C" fn(
    rh: *mut dm_report,
    mem: *mut dm_pool,
    field: *mut dm_report_field,
    data: *const c_void,
    private_data: *mut c_void,
) -> c_int;

/// A reserved value handler (`dm_report_reserved_handler`).
type HandlerFn = unsafe extern "C" fn(
    rh: *mut dm_report,
    mem: *mut dm_pool,
    field_num: u32,
    action: c_int,
    data_in: *const c_void,
    data_out: *mut *const c_void,
) -> c_int;

/// `struct dm_report_field_type`.
#[repr(C)]
pub struct dm_report_field_type {
    /// The object type id.
    pub r#type: u32,
    /// `DM_REPORT_FIELD_*`.
    pub flags: u32,
    /// Offset of the field's data in what the type's `data_fn` returns.
    pub offset: u32,
    /// Default width.
    pub width: i32,
    /// Name (`DM_REPORT_FIELD_TYPE_ID_LEN` bytes).
    pub id: [c_char; 32],
    /// Heading (`DM_REPORT_FIELD_TYPE_HEADING_LEN` bytes).
    pub heading: [c_char; 32],
    /// The callback setting the value (NULL ends the array).
    pub report_fn: Option<ReportFn>,
    /// Description.
    pub desc: *const c_char,
}

/// `struct dm_report_field_reserved_value`.
#[repr(C)]
pub struct dm_report_field_reserved_value {
    /// Index of the field in the field array.
    pub field_num: u32,
    /// The value, of the field's type.
    pub value: *const c_void,
}

/// `struct dm_report_reserved_value`.
#[repr(C)]
pub struct dm_report_reserved_value {
    /// `DM_REPORT_FIELD_RESERVED_VALUE_*` | `DM_REPORT_FIELD_TYPE_*`.
    pub r#type: u32,
    /// The value (NULL ends the array).
    pub value: *const c_void,
    /// NULL-terminated array of names.
    pub names: *const *const c_char,
    /// Description.
    pub description: *const c_char,
}

/// `struct dm_list` (the list family's type; only its layout is used here,
/// to walk the `struct dm_str_list` items given to the string-list setters).
#[repr(C)]
pub struct dm_list {
    /// Next element.
    pub n: *mut dm_list,
    /// Previous element.
    pub p: *mut dm_list,
}

/// `struct dm_str_list`.
#[repr(C)]
struct StrList {
    list: dm_list,
    str: *const c_char,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<dm_report_object_type>() == 32);
    assert!(offset_of!(dm_report_object_type, data_fn) == 24);
    assert!(size_of::<dm_report_field_type>() == 96);
    assert!(offset_of!(dm_report_field_type, id) == 16);
    assert!(offset_of!(dm_report_field_type, heading) == 48);
    assert!(offset_of!(dm_report_field_type, report_fn) == 80);
    assert!(offset_of!(dm_report_field_type, desc) == 88);
    assert!(size_of::<dm_report_field_reserved_value>() == 16);
    assert!(size_of::<dm_report_reserved_value>() == 32);
    assert!(offset_of!(dm_report_reserved_value, description) == 24);
    assert!(size_of::<StrList>() == 24);
    // The header's lengths are the engine's.
    assert!(engine::FIELD_TYPE_ID_LEN == 32);
    assert!(engine::FIELD_TYPE_HEADING_LEN == 32);
};

/// `DM_REPORT_RESERVED_PARSE_FUZZY_NAME`.
const PARSE_FUZZY_NAME: c_int = 0;
/// `DM_REPORT_RESERVED_GET_DYNAMIC_VALUE`.
const GET_DYNAMIC_VALUE: c_int = 1;

/// `dm_report_init_with_selection` switches stock's implicit field table
/// for every later report of the process.
static IMPLICIT_SELECTED: AtomicBool = AtomicBool::new(false);

// ---------------------------------------------------------------- logging

/// The engine's sink: every message straight to libdm's log function.
/// Counts error lines, so that a failure the engine did not log itself
/// (inputs stock crashes on) is logged by the shell.
#[derive(Default)]
struct CSink {
    errors: usize,
}

impl LogSink for CSink {
    fn log(&mut self, level: LogLevel, msg: &[u8]) {
        match level {
            LogLevel::Print => log_bytes(Level::Warn, false, 0, msg),
            LogLevel::Warn => log_bytes(Level::Warn, true, 0, msg),
            LogLevel::Error => {
                self.errors += 1;
                log_bytes(Level::Error, false, EUNCLASSIFIED, msg)
            }
        }
    }
}

impl CSink {
    /// 1 or 0 from an engine result; a failure that logged nothing is
    /// logged here.
    fn done(&self, r: Result<(), ReportError>) -> c_int {
        match r {
            Ok(()) => 1,
            Err(e) => {
                self.unlogged(&e);
                0
            }
        }
    }

    fn unlogged(&self, e: &ReportError) {
        if self.errors == 0 {
            for l in e.lines() {
                log_error_bytes(l);
            }
        }
    }
}

fn busy(what: &str) {
    devmapper::log_error!(
        &crate::CTX,
        "Internal error: {what}: the report is in use (called from one of its callbacks?)."
    );
}

// ---------------------------------------------------------------- handles

/// One field definition as the shell calls it.
struct CField {
    flags: u32,
    offset: u32,
    report_fn: ReportFn,
    /// The `data_fn` of the field's object type (first type with its id).
    data_fn: Option<unsafe extern "C" fn(*mut c_void) -> *mut c_void>,
}

/// The opaque `struct dm_report`.
pub struct dm_report {
    /// The engine report (`None` while `dm_report_init*` builds it).
    report: RefCell<Option<Report>>,
    /// The report's pool ("report"), passed to `report_fn`s.
    mem: *mut dm_pool,
    /// The selection pool ("report selection"), passed to reserved value
    /// handlers; made when a selection is first set.
    sel_mem: Cell<*mut dm_pool>,
    fields: Vec<CField>,
    private: *mut c_void,
    value_cache: RefCell<HashMap<Vec<u8>, *const c_void>>,
    /// Pool memory of the first row not yet output (stock's `first_row`).
    first_row: Cell<*mut c_void>,
}

impl dm_report {
    /// Make the selection pool if there is none yet.
    fn selection_pool(&self) -> bool {
        if self.sel_mem.get().is_null() {
            let p = pool::create(Some(b"report selection"), 10 * 1024);
            if p.is_null() {
                devmapper::log_error!(
                    &crate::CTX,
                    "Failed to allocate report selection structure."
                );
                return false;
            }
            self.sel_mem.set(p);
        }
        true
    }

    /// Release the memory of rows that are gone (output or destroyed).
    fn release_rows(&self, report: &Report) {
        let first = self.first_row.get();
        if !first.is_null() && report.is_empty() {
            // SAFETY: `mem` is this report's live pool and no reference to
            // it is held; `first` came from it.
            unsafe { pool::free(self.mem, first) };
            self.first_row.set(null_mut());
        }
    }
}

impl Drop for dm_report {
    fn drop(&mut self) {
        self.report.get_mut().take();
        // SAFETY: the pools belong to this report and are not used again.
        unsafe {
            pool::destroy(self.sel_mem.get());
            pool::destroy(self.mem);
        }
    }
}

/// The opaque `struct dm_report_field`: the value a `report_fn` sets, for
/// the duration of that call.
pub struct dm_report_field {
    /// The field definition's flags (its type decides how sort values given
    /// to `dm_report_field_set_value` are read).
    flags: u32,
    slot: RefCell<Slot>,
}

enum Slot {
    Unset,
    Value(FieldValue),
    /// `dm_report_field_set_value`'s pointers, read when `report_fn` returns.
    Raw {
        value: *const c_void,
        sort: *const c_void,
    },
}

impl dm_report_field {
    fn set(&self, v: Slot) {
        if let Ok(mut s) = self.slot.try_borrow_mut() {
            *s = v;
        }
    }

    /// The value set by the callback.
    ///
    /// # Safety
    /// Pointers given to `dm_report_field_set_value` are still valid (the
    /// callback's contract: they live in the report's pool or longer).
    unsafe fn into_value(self) -> FieldValue {
        match self.slot.into_inner() {
            Slot::Unset => FieldValue::string(b""),
            Slot::Value(v) => v,
            Slot::Raw { value, sort } => {
                // SAFETY: a C string or NULL (caller's contract).
                let display = unsafe { opt_bytes(value.cast()) }.unwrap_or(b"");
                let sort = if sort.is_null() || sort == value {
                    None
                } else {
                    // SAFETY: a sort value of the field's type (caller).
                    Some(unsafe { read_sort(self.flags, sort) })
                };
                FieldValue::with_sort(display, sort)
            }
        }
    }
}

/// A sort value as stock reads it for the field's type: a 64-bit word for
/// number, size, time and percent fields, else a C string.
///
/// # Safety
/// `p` points to such a value.
unsafe fn read_sort(flags: u32, p: *const c_void) -> SortValue {
    let words = engine::FIELD_TYPE_NUMBER
        | engine::FIELD_TYPE_SIZE
        | engine::FIELD_TYPE_TIME
        | engine::FIELD_TYPE_PERCENT;
    if flags & words != 0 {
        // SAFETY: an 8-byte value (caller); alignment not assumed.
        SortValue::Word(unsafe { p.cast::<u64>().read_unaligned() })
    } else if flags & engine::FIELD_TYPE_STRING_LIST != 0 {
        // Stock reads an internal structure here, which callers cannot
        // build; the display string is the only meaningful sort value.
        SortValue::Display
    } else {
        // SAFETY: a C string (caller).
        SortValue::Str(unsafe { CStr::from_ptr(p.cast()) }.to_bytes().to_vec())
    }
}

/// The opaque `struct dm_report_group`.
pub struct dm_report_group {
    /// `None` for a type stock does not know (every push and pop fails).
    group: RefCell<Option<ReportGroup>>,
    /// Stock's "report_group" pool (only for the unreleased-pool check).
    mem: *mut dm_pool,
}

impl Drop for dm_report_group {
    fn drop(&mut self) {
        // SAFETY: the group's own pool, not used again.
        unsafe { pool::destroy(self.mem) };
    }
}

// ---------------------------------------------------------------- callbacks

/// One object being reported: the engine asks it for field values.
struct CObject<'a> {
    h: &'a dm_report,
    rh: *mut dm_report,
    object: *mut c_void,
}

impl ObjectSource for CObject<'_> {
    fn field_value(
        &mut self,
        field_num: u32,
        _log: &mut dyn LogSink,
    ) -> Result<FieldValue, FieldError> {
        let f = self
            .h
            .fields
            .get(field_num as usize)
            .ok_or(FieldError::Failed)?;
        let data_fn = f.data_fn.ok_or(FieldError::NoData)?;
        // SAFETY: the caller's data accessor, called as stock calls it.
        let base = unsafe { data_fn(self.object) };
        if base.is_null() {
            return Err(FieldError::NoData);
        }
        let data = base.cast::<u8>().wrapping_add(f.offset as usize);
        let mut field = dm_report_field {
            flags: f.flags,
            slot: RefCell::new(Slot::Unset),
        };
        let fp: *mut dm_report_field = &mut field;
        // SAFETY: the caller's report function with stock's arguments; the
        // field shim lives until it returns, the pool as long as the report.
        let r = unsafe { (f.report_fn)(self.rh, self.h.mem, fp, data.cast(), self.h.private) };
        if r == 0 {
            return Err(FieldError::Failed);
        }
        // SAFETY: pointers the callback gave are in the report pool or its
        // own memory, still valid now.
        Ok(unsafe { field.into_value() })
    }
}

/// A C reserved value handler.
struct CHandler {
    func: HandlerFn,
    rh: *mut dm_report,
    /// Every field's flags (the handler's output has the field's type).
    field_flags: Rc<[u32]>,
    /// The reserved value is a range (two values).
    range: bool,
}

impl CHandler {
    fn call(&self, field_num: u32, action: c_int, name: &[u8]) -> (c_int, *const c_void) {
        let mut input = Vec::new();
        if input.try_reserve_exact(name.len() + 1).is_err() {
            return (0, std::ptr::null());
        }
        input.extend_from_slice(name);
        input.push(0);
        let mut output: *const c_void = std::ptr::null();
        // SAFETY: `rh` is the live report being set up or used (handlers
        // run only inside its calls).
        let mem = unsafe { (*self.rh).sel_mem.get() };
        // SAFETY: the caller's handler with stock's arguments.
        let r = unsafe {
            (self.func)(
                self.rh,
                mem,
                field_num,
                action,
                input.as_ptr().cast(),
                &mut output,
            )
        };
        (r, output)
    }
}

fn handler_result<T>(r: c_int, v: impl FnOnce() -> Option<T>) -> HandlerResult<T> {
    match r {
        -1 => HandlerResult::NotImplemented,
        r if r > 0 => HandlerResult::Ok(v()),
        _ => HandlerResult::Error,
    }
}

impl ReservedHandler for CHandler {
    fn parse_fuzzy_name(&self, field_num: u32, name: &[u8]) -> HandlerResult<Vec<u8>> {
        let (r, out) = self.call(field_num, PARSE_FUZZY_NAME, name);
        // SAFETY: the handler's output is a C string or NULL.
        handler_result(r, || unsafe { opt_bytes(out.cast()) }.map(<[u8]>::to_vec))
    }

    fn dynamic_value(&self, field_num: u32, name: &[u8]) -> HandlerResult<ReservedData> {
        let (r, out) = self.call(field_num, GET_DYNAMIC_VALUE, name);
        let flags = self
            .field_flags
            .get(field_num as usize)
            .copied()
            .unwrap_or(0);
        // SAFETY: a value of the field's type, or NULL (handler contract).
        handler_result(r, || unsafe { read_value(flags, out, self.range) })
    }
}

/// A reserved value of a field type, as stock reads it.
///
/// # Safety
/// `p` is NULL or points to such a value (two of them with `range`).
unsafe fn read_value(type_flags: u32, p: *const c_void, range: bool) -> Option<ReservedData> {
    if p.is_null() {
        return None;
    }
    let words = engine::FIELD_TYPE_NUMBER
        | engine::FIELD_TYPE_SIZE
        | engine::FIELD_TYPE_TIME
        | engine::FIELD_TYPE_PERCENT;
    Some(if type_flags & engine::FIELD_TYPE_STRING != 0 {
        // SAFETY: a C string (caller).
        ReservedData::string(unsafe { CStr::from_ptr(p.cast()) }.to_bytes())
    } else if type_flags & words != 0 {
        let w = p.cast::<u64>();
        // SAFETY: one or two 8-byte values (caller).
        let lo = unsafe { w.read_unaligned() };
        let hi = if range {
            // SAFETY: two values with `range` (caller).
            unsafe { w.add(1).read_unaligned() }
        } else {
            0
        };
        ReservedData::Words([lo, hi])
    } else {
        ReservedData::Words([0, 0])
    })
}

// ---------------------------------------------------------------- definitions

fn push<T>(v: &mut Vec<T>, x: T) -> Option<()> {
    v.try_reserve(1).ok()?;
    v.push(x);
    Some(())
}

/// A C string as printf's `%s` shows it (NULL: "(null)").
///
/// # Safety
/// `p` is NULL or a C string.
unsafe fn shown<'a>(p: *const c_char) -> &'a [u8] {
    // SAFETY: caller's contract.
    unsafe { opt_bytes(p) }.unwrap_or(b"(null)")
}

/// A fixed-size `char` array as bytes (up to its first NUL).
fn array_bytes(a: &[c_char; 32]) -> [u8; 32] {
    a.map(|c| c as u8)
}

struct Defs {
    types: Vec<ObjectType>,
    fields: Vec<FieldDef>,
    cfields: Vec<CField>,
}

/// The type array (up to `data_fn == NULL`) and the field array (up to
/// `report_fn == NULL`).
///
/// # Safety
/// Both are arrays ending that way.
unsafe fn read_defs(
    types: *const dm_report_object_type,
    fields: *const dm_report_field_type,
) -> Option<Defs> {
    let mut d = Defs {
        types: Vec::new(),
        fields: Vec::new(),
        cfields: Vec::new(),
    };
    let mut fns = Vec::new();
    for i in 0.. {
        // SAFETY: within the terminated array (caller).
        let t = unsafe { &*types.add(i) };
        let Some(f) = t.data_fn else { break };
        // SAFETY: C strings or NULL (caller).
        let (desc, prefix) = unsafe { (shown(t.desc), opt_bytes(t.prefix).unwrap_or(b"")) };
        push(&mut d.types, ObjectType::new(t.id, desc, prefix))?;
        push(&mut fns, (t.id, f))?;
    }
    for i in 0.. {
        // SAFETY: within the terminated array (caller).
        let f = unsafe { &*fields.add(i) };
        let Some(report_fn) = f.report_fn else { break };
        let (id, heading) = (array_bytes(&f.id), array_bytes(&f.heading));
        // SAFETY: a C string or NULL (caller).
        let desc = unsafe { shown(f.desc) };
        push(
            &mut d.fields,
            FieldDef::new(f.r#type, f.flags, f.width, &id, &heading, desc),
        )?;
        let data_fn = fns.iter().find(|(id, _)| *id == f.r#type).map(|(_, f)| *f);
        push(
            &mut d.cfields,
            CField {
                flags: f.flags,
                offset: f.offset,
                report_fn,
                data_fn,
            },
        )?;
    }
    Some(d)
}

/// The reserved value array (up to `value == NULL`).
///
/// # Safety
/// A terminated array whose values are what their types say; `rh` is the
/// report they are for.
unsafe fn read_reserved(
    p: *const dm_report_reserved_value,
    fields: &[CField],
    rh: *mut dm_report,
) -> Option<Vec<ReservedValue>> {
    let flags: Rc<[u32]> = fields.iter().map(|f| f.flags).collect();
    let mut out = Vec::new();
    for i in 0.. {
        // SAFETY: within the terminated array (caller).
        let rv = unsafe { &*p.add(i) };
        if rv.value.is_null() {
            break;
        }
        let type_flags = rv.r#type;
        let (field_num, raw, value_type) = if type_flags & engine::FIELD_TYPE_MASK == 0 {
            // SAFETY: a per-field value (caller).
            let frv = unsafe { &*rv.value.cast::<dm_report_field_reserved_value>() };
            let t = fields
                .get(frv.field_num as usize)
                .map(|f| f.flags & engine::FIELD_TYPE_MASK)
                .unwrap_or(0);
            (frv.field_num, frv.value, t)
        } else {
            (0, rv.value, type_flags & engine::FIELD_TYPE_MASK)
        };
        let range = type_flags & engine::RESERVED_VALUE_RANGE != 0;
        let value = if type_flags
            & (engine::RESERVED_VALUE_DYNAMIC_VALUE | engine::RESERVED_VALUE_FUZZY_NAMES)
            != 0
        {
            if raw.is_null() {
                ReservedData::Words([0, 0])
            } else {
                // SAFETY: with these flags the value is the handler function
                // (the header's documented contract); non-NULL.
                let func = unsafe { std::mem::transmute::<*const c_void, HandlerFn>(raw) };
                ReservedData::Handler(Rc::new(CHandler {
                    func,
                    rh,
                    field_flags: flags.clone(),
                    range,
                }))
            }
        } else {
            // SAFETY: a value of the type (caller).
            unsafe { read_value(value_type, raw, range) }.unwrap_or(ReservedData::Words([0, 0]))
        };
        let mut names = Vec::new();
        if !rv.names.is_null() {
            for k in 0.. {
                // SAFETY: a NULL-terminated array of C strings (caller).
                let n = unsafe { *rv.names.add(k) };
                if n.is_null() {
                    break;
                }
                // SAFETY: a C string.
                push(&mut names, unsafe { CStr::from_ptr(n) }.to_bytes().to_vec())?;
            }
        }
        push(
            &mut out,
            ReservedValue {
                type_flags,
                field_num,
                value,
                names,
                // SAFETY: a C string or NULL.
                description: unsafe { shown(rv.description) }.to_vec(),
            },
        )?;
    }
    Some(out)
}

// ---------------------------------------------------------------- init

/// `dm_report_init` / `dm_report_init_with_selection`.
#[allow(clippy::too_many_arguments)]
unsafe fn init(
    what: &str,
    report_types: *mut u32,
    types: *const dm_report_object_type,
    fields: *const dm_report_field_type,
    output_fields: *const c_char,
    output_separator: *const c_char,
    output_flags: u32,
    sort_keys: *const c_char,
    selection: Option<*const c_char>,
    reserved_values: *const dm_report_reserved_value,
    private_data: *mut c_void,
) -> Option<*mut dm_report> {
    let with_selection = selection.is_some();
    if with_selection {
        IMPLICIT_SELECTED.store(true, Ordering::Relaxed);
    }
    if types.is_null() || fields.is_null() {
        let arg = if types.is_null() { "type" } else { "field" };
        devmapper::log_error!(
            &crate::CTX,
            "Internal error: {what} called with a NULL {arg} array."
        );
        return None;
    }
    // SAFETY: terminated arrays (C contract).
    let Some(defs) = (unsafe { read_defs(types, fields) }) else {
        devmapper::log_error!(&crate::CTX, "dm_report_init: dm_malloc failed");
        return None;
    };
    let mem = pool::create(Some(b"report"), 10 * 1024);
    if mem.is_null() {
        devmapper::log_error!(
            &crate::CTX,
            "dm_report_init: allocation of memory pool failed"
        );
        return None;
    }
    let rh = Box::into_raw(Box::new(dm_report {
        report: RefCell::new(None),
        mem,
        sel_mem: Cell::new(null_mut()),
        fields: defs.cfields,
        private: private_data,
        value_cache: RefCell::new(HashMap::new()),
        first_row: Cell::new(null_mut()),
    }));
    // SAFETY: C strings or NULL (C contract).
    let (output_fields, separator, sort_keys) = unsafe {
        (
            opt_bytes(output_fields).unwrap_or(b""),
            opt_bytes(output_separator),
            opt_bytes(sort_keys),
        )
    };
    // SAFETY: a C string or NULL (C contract).
    let selection = selection.and_then(|s| unsafe { opt_bytes(s) });
    // SAFETY: `rh` was just made and is only read through shared references.
    let h = unsafe { &*rh };
    // Stock looks at the reserved values only for a non-empty selection.
    let has_selection = selection.is_some_and(|s| !s.is_empty());
    let reserved = if has_selection && !reserved_values.is_null() {
        // SAFETY: a terminated array (C contract).
        match unsafe { read_reserved(reserved_values, &h.fields, rh) } {
            Some(r) => Some(r),
            None => {
                devmapper::log_error!(&crate::CTX, "dm_report_init: dm_malloc failed");
                // SAFETY: made above, not handed out.
                drop(unsafe { take_handle(rh) });
                return None;
            }
        }
    } else {
        None
    };
    if let Some(s) = selection {
        let help = s.eq_ignore_ascii_case(b"help") || s == b"?";
        if !s.is_empty() && !help && !h.selection_pool() {
            // SAFETY: made above, not handed out.
            drop(unsafe { take_handle(rh) });
            return None;
        }
    }
    let opts = ReportOptions {
        output_fields: output_fields.to_vec(),
        separator: separator.map(<[u8]>::to_vec),
        flags: output_flags,
        sort_keys: sort_keys.map(<[u8]>::to_vec),
        selection: selection.map(<[u8]>::to_vec),
        with_selection,
        reserved_values: reserved,
        implicit_selected_field: IMPLICIT_SELECTED.load(Ordering::Relaxed),
    };
    // SAFETY: NULL or a valid in/out pointer (C contract).
    let mut rt = unsafe { report_types.as_ref() }.copied().unwrap_or(0);
    let mut sink = CSink::default();
    let r = Report::new(defs.types, defs.fields, &mut rt, &opts, &mut sink);
    // SAFETY: as above.
    unsafe { out(report_types, rt) };
    match r {
        Ok(report) => {
            *h.report.borrow_mut() = Some(report);
            Some(rh)
        }
        Err(e) => {
            sink.unlogged(&e);
            // SAFETY: made above; the handlers that saw it have returned.
            drop(unsafe { take_handle(rh) });
            None
        }
    }
}

/// `dm_report_init`: a report of `output_fields` (comma-separated field
/// names) sorted by `sort_keys`, for objects of the given types.
#[no_mangle]
pub unsafe extern "C" fn dm_report_init(
    report_types: *mut u32,
    types: *const dm_report_object_type,
    fields: *const dm_report_field_type,
    output_fields: *const c_char,
    output_separator: *const c_char,
    output_flags: u32,
    sort_keys: *const c_char,
    private_data: *mut c_void,
) -> *mut dm_report {
    guard("dm_report_init", null_mut(), || {
        // SAFETY: the C contract of the arguments.
        unsafe {
            init(
                "dm_report_init",
                report_types,
                types,
                fields,
                output_fields,
                output_separator,
                output_flags,
                sort_keys,
                None,
                std::ptr::null(),
                private_data,
            )
        }
    })
}

/// `dm_report_init_with_selection`: as `dm_report_init`, with the implicit
/// `selected` field, a selection and reserved values.
#[no_mangle]
pub unsafe extern "C" fn dm_report_init_with_selection(
    report_types: *mut u32,
    types: *const dm_report_object_type,
    fields: *const dm_report_field_type,
    output_fields: *const c_char,
    output_separator: *const c_char,
    output_flags: u32,
    sort_keys: *const c_char,
    selection: *const c_char,
    reserved_values: *const dm_report_reserved_value,
    private_data: *mut c_void,
) -> *mut dm_report {
    guard("dm_report_init_with_selection", null_mut(), || {
        // SAFETY: the C contract of the arguments.
        unsafe {
            init(
                "dm_report_init_with_selection",
                report_types,
                types,
                fields,
                output_fields,
                output_separator,
                output_flags,
                sort_keys,
                Some(selection),
                reserved_values,
                private_data,
            )
        }
    })
}

/// `dm_report_free`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_free(rh: *mut dm_report) {
    guard("dm_report_free", (), || {
        // SAFETY: NULL is checked; otherwise a live report (C contract).
        let h = unsafe { handle(rh, "dm_report_free", "report") }?;
        if h.report.try_borrow_mut().is_err() {
            busy("dm_report_free");
            return None;
        }
        // SAFETY: a live report the caller gives up; no reference remains.
        drop(unsafe { take_handle(rh) });
        Some(())
    })
}

// ---------------------------------------------------------------- reports

/// Run `f` on the engine report of `h` (busy: logged, `None`).
fn with_report<T>(
    h: &dm_report,
    what: &str,
    f: impl FnOnce(&dm_report, &mut Report) -> T,
) -> Option<T> {
    let Ok(mut slot) = h.report.try_borrow_mut() else {
        busy(what);
        return None;
    };
    let Some(report) = slot.as_mut() else {
        busy(what);
        return None;
    };
    Some(f(h, report))
}

/// The report behind a C handle (NULL: logged, `None`).
///
/// # Safety
/// `rh` is NULL or a live report.
unsafe fn report_handle<'a>(rh: *mut dm_report, what: &str) -> Option<&'a dm_report> {
    // SAFETY: caller's contract.
    unsafe { handle(rh, what, "report") }
}

/// Stock's `_do_report_object`.
///
/// # Safety
/// `rh` is NULL or a live report; `selected` NULL or writable.
unsafe fn report_object(
    rh: *mut dm_report,
    object: *mut c_void,
    do_output: bool,
    selected: *mut c_int,
) -> c_int {
    if rh.is_null() {
        devmapper::log_error!(
            &crate::CTX,
            "Internal error: _do_report_object: dm_report handler is NULL."
        );
        return 0;
    }
    if !do_output && selected.is_null() {
        devmapper::log_error!(
            &crate::CTX,
            "Internal error: _do_report_object: output not requested and selected output variable is NULL too."
        );
        return 0;
    }
    // SAFETY: a live report (caller).
    let Some(h) = (unsafe { report_handle(rh, "dm_report_object") }) else {
        return 0;
    };
    let r = with_report(h, "dm_report_object", |h, report| {
        if report.help_shown() {
            return 1;
        }
        h.release_rows(report);
        // SAFETY: the report's live pool, not otherwise borrowed now.
        let row = unsafe { pool::alloc(h.mem, ROW_SIZE) };
        if row.is_null() {
            devmapper::log_error!(
                &crate::CTX,
                "_do_report_object: struct row allocation failed"
            );
            return 0;
        }
        if h.first_row.get().is_null() {
            h.first_row.set(row);
        }
        let before = report.row_count();
        let mut source = CObject { h, rh, object };
        let mut sink = CSink::default();
        let r = report.object_is_selected(&mut source, do_output, &mut sink);
        if report.is_empty() {
            h.release_rows(report);
        } else if report.row_count() == before {
            // SAFETY: as above; `row` came from this pool.
            unsafe { pool::free(h.mem, row) };
        }
        match r {
            Ok(sel) => {
                if let Some(s) = sel {
                    // SAFETY: NULL or writable (caller).
                    unsafe { out(selected, c_int::from(s)) };
                }
                1
            }
            Err(e) => {
                sink.unlogged(&e);
                // SAFETY: as above.
                unsafe { out(selected, 1) };
                0
            }
        }
    });
    r.unwrap_or(0)
}

/// Pool bytes taken per row (stock's `struct row`).
const ROW_SIZE: usize = 64;

/// `dm_report_object`: report one object (printed at once unless the report
/// is buffered).
#[no_mangle]
pub unsafe extern "C" fn dm_report_object(rh: *mut dm_report, object: *mut c_void) -> c_int {
    guard("dm_report_object", 0, || {
        // SAFETY: the C contract of the arguments.
        Some(unsafe { report_object(rh, object, true, null_mut()) })
    })
}

/// `dm_report_object_is_selected`: as `dm_report_object` when `do_output`,
/// and the selection's verdict in `*selected`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_object_is_selected(
    rh: *mut dm_report,
    object: *mut c_void,
    do_output: c_int,
    selected: *mut c_int,
) -> c_int {
    guard("dm_report_object_is_selected", 0, || {
        // SAFETY: the C contract of the arguments.
        Some(unsafe { report_object(rh, object, do_output != 0, selected) })
    })
}

/// `dm_report_output`: print (buffered) rows.
#[no_mangle]
pub unsafe extern "C" fn dm_report_output(rh: *mut dm_report) -> c_int {
    guard("dm_report_output", 0, || {
        // SAFETY: NULL or a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_output") }?;
        with_report(h, "dm_report_output", |h, report| {
            let mut sink = CSink::default();
            let r = report.output(&mut sink);
            h.release_rows(report);
            sink.done(r)
        })
    })
}

/// `dm_report_column_headings`: print the headings (again).
#[no_mangle]
pub unsafe extern "C" fn dm_report_column_headings(rh: *mut dm_report) -> c_int {
    guard("dm_report_column_headings", 0, || {
        // SAFETY: NULL or a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_column_headings") }?;
        with_report(h, "dm_report_column_headings", |_, report| {
            let mut sink = CSink::default();
            let r = report.column_headings(&mut sink);
            sink.done(r)
        })
    })
}

/// `dm_report_compact_fields`: hide the columns empty in every row.
#[no_mangle]
pub unsafe extern "C" fn dm_report_compact_fields(rh: *mut dm_report) -> c_int {
    guard("dm_report_compact_fields", 0, || {
        if rh.is_null() {
            devmapper::log_error!(
                &crate::CTX,
                "dm_report_enable_compact_output: dm report handler is NULL."
            );
            return Some(0);
        }
        // SAFETY: a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_compact_fields") }?;
        with_report(h, "dm_report_compact_fields", |_, report| {
            CSink::default().done(report.compact_fields())
        })
    })
}

/// `dm_report_compact_given_fields`: as `dm_report_compact_fields`, for the
/// listed fields only.
#[no_mangle]
pub unsafe extern "C" fn dm_report_compact_given_fields(
    rh: *mut dm_report,
    fields: *const c_char,
) -> c_int {
    guard("dm_report_compact_given_fields", 0, || {
        if rh.is_null() {
            devmapper::log_error!(
                &crate::CTX,
                "dm_report_enable_compact_output: dm report handler is NULL."
            );
            return Some(0);
        }
        // SAFETY: a C string or NULL (C contract).
        let fields = unsafe { opt_bytes(fields) };
        // SAFETY: a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_compact_given_fields") }?;
        with_report(h, "dm_report_compact_given_fields", |_, report| {
            let mut sink = CSink::default();
            let r = report.compact_given_fields(fields, &mut sink);
            sink.done(r)
        })
    })
}

/// `dm_report_is_empty`: 1 when no row waits for output.
#[no_mangle]
pub unsafe extern "C" fn dm_report_is_empty(rh: *mut dm_report) -> c_int {
    guard("dm_report_is_empty", 1, || {
        // SAFETY: NULL or a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_is_empty") }?;
        with_report(h, "dm_report_is_empty", |_, report| {
            c_int::from(report.is_empty())
        })
    })
}

/// `dm_report_destroy_rows`: drop the rows without output.
#[no_mangle]
pub unsafe extern "C" fn dm_report_destroy_rows(rh: *mut dm_report) {
    guard("dm_report_destroy_rows", (), || {
        // SAFETY: NULL or a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_destroy_rows") }?;
        with_report(h, "dm_report_destroy_rows", |h, report| {
            let r = report.destroy_rows();
            h.release_rows(report);
            CSink::default().done(r);
        })
    })
}

/// `dm_report_set_output_field_name_prefix`: the prefix (uppercased) of
/// field names with `DM_REPORT_OUTPUT_FIELD_NAME_PREFIX`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_set_output_field_name_prefix(
    rh: *mut dm_report,
    output_field_name_prefix: *const c_char,
) -> c_int {
    const WHAT: &str = "dm_report_set_output_field_name_prefix";
    guard(WHAT, 0, || {
        // SAFETY: NULL is checked; otherwise a live report (C contract).
        let h = unsafe { report_handle(rh, WHAT) }?;
        // SAFETY: a C string or NULL (C contract).
        let prefix = unsafe { arg_bytes(output_field_name_prefix, WHAT, "prefix") }?;
        with_report(h, WHAT, |_, report| {
            CSink::default().done(report.set_output_field_name_prefix(prefix))
        })
    })
}

/// `dm_report_set_selection`: replace the selection and apply it to the
/// rows waiting for output.
#[no_mangle]
pub unsafe extern "C" fn dm_report_set_selection(
    rh: *mut dm_report,
    selection: *const c_char,
) -> c_int {
    guard("dm_report_set_selection", 0, || {
        // SAFETY: a C string or NULL (C contract).
        let selection = unsafe { opt_bytes(selection) };
        // SAFETY: NULL or a live report (C contract).
        let h = unsafe { report_handle(rh, "dm_report_set_selection") }?;
        with_report(h, "dm_report_set_selection", |h, report| {
            if !h.selection_pool() {
                return 0;
            }
            let mut sink = CSink::default();
            let r = report.set_selection(selection, &mut sink);
            sink.done(r)
        })
    })
}

/// `dm_report_value_cache_set`: remember `data` under `name` for this report.
#[no_mangle]
pub unsafe extern "C" fn dm_report_value_cache_set(
    rh: *mut dm_report,
    name: *const c_char,
    data: *const c_void,
) -> c_int {
    const WHAT: &str = "dm_report_value_cache_set";
    guard(WHAT, 0, || {
        // SAFETY: NULL is checked; otherwise a live report (C contract).
        let h = unsafe { handle(rh, WHAT, "report") }?;
        // SAFETY: a C string or NULL (C contract).
        let name = unsafe { arg_bytes(name, WHAT, "name") }?;
        let Ok(mut cache) = h.value_cache.try_borrow_mut() else {
            busy(WHAT);
            return None;
        };
        if !cache.contains_key(name) {
            let mut key = Vec::new();
            if cache.try_reserve(1).is_err() || key.try_reserve_exact(name.len()).is_err() {
                devmapper::log_error!(
                    &crate::CTX,
                    "Failed to create cache for values used during reporting."
                );
                return Some(0);
            }
            key.extend_from_slice(name);
            cache.insert(key, data);
        } else if let Some(v) = cache.get_mut(name) {
            *v = data;
        }
        Some(1)
    })
}

/// `dm_report_value_cache_get`: what `dm_report_value_cache_set` stored
/// under `name`, or NULL.
#[no_mangle]
pub unsafe extern "C" fn dm_report_value_cache_get(
    rh: *mut dm_report,
    name: *const c_char,
) -> *const c_void {
    const WHAT: &str = "dm_report_value_cache_get";
    guard(WHAT, std::ptr::null(), || {
        // SAFETY: NULL is checked; otherwise a live report (C contract).
        let h = unsafe { handle(rh, WHAT, "report") }?;
        // SAFETY: a C string or NULL (C contract).
        let name = unsafe { arg_bytes(name, WHAT, "name") }?;
        let cache = h.value_cache.try_borrow().ok()?;
        Some(cache.get(name).copied().unwrap_or(std::ptr::null()))
    })
}

// ---------------------------------------------------------------- field values

/// The field shim of a setter, and its `data` read (NULL: logged).
///
/// # Safety
/// `field` is NULL or the field of a running `report_fn`; `data` NULL or
/// readable.
unsafe fn field_and<'a, T: Copy>(
    what: &str,
    field: *mut dm_report_field,
    data: *const T,
) -> Option<(&'a dm_report_field, T)> {
    // SAFETY: caller's contract.
    let f = unsafe { handle(field, what, "field") }?;
    // SAFETY: caller's contract.
    let v = unsafe { handle(data, what, "data") }?;
    Some((f, *v))
}

/// `dm_report_field_int`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_int(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const c_int,
) -> c_int {
    let _ = rh; // stock uses it for its pool only
    guard("dm_report_field_int", 0, || {
        // SAFETY: the C contract of the arguments.
        let (f, v) = unsafe { field_and("dm_report_field_int", field, data) }?;
        f.set(Slot::Value(FieldValue::int(v)));
        Some(1)
    })
}

/// `dm_report_field_int32`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_int32(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const i32,
) -> c_int {
    let _ = rh;
    guard("dm_report_field_int32", 0, || {
        // SAFETY: the C contract of the arguments.
        let (f, v) = unsafe { field_and("dm_report_field_int32", field, data) }?;
        f.set(Slot::Value(FieldValue::int32(v)));
        Some(1)
    })
}

/// `dm_report_field_uint32`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_uint32(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const u32,
) -> c_int {
    let _ = rh;
    guard("dm_report_field_uint32", 0, || {
        // SAFETY: the C contract of the arguments.
        let (f, v) = unsafe { field_and("dm_report_field_uint32", field, data) }?;
        f.set(Slot::Value(FieldValue::uint32(v)));
        Some(1)
    })
}

/// `dm_report_field_uint64`.
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_uint64(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const u64,
) -> c_int {
    let _ = rh;
    guard("dm_report_field_uint64", 0, || {
        // SAFETY: the C contract of the arguments.
        let (f, v) = unsafe { field_and("dm_report_field_uint64", field, data) }?;
        f.set(Slot::Value(FieldValue::uint64(v)));
        Some(1)
    })
}

/// `dm_report_field_percent`: "%.2f" of the percentage (empty for
/// `DM_PERCENT_INVALID`).
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_percent(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const dm_percent_t,
) -> c_int {
    let _ = rh;
    guard("dm_report_field_percent", 0, || {
        // SAFETY: the C contract of the arguments.
        let (f, v) = unsafe { field_and("dm_report_field_percent", field, data) }?;
        match FieldValue::percent(v) {
            Ok(v) => {
                f.set(Slot::Value(v));
                Some(1)
            }
            Err(e) => {
                for l in e.lines() {
                    log_error_bytes(l);
                }
                Some(0)
            }
        }
    })
}

/// `dm_report_field_string`: the string `*data` (copied).
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_string(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const *const c_char,
) -> c_int {
    const WHAT: &str = "dm_report_field_string";
    guard(WHAT, 0, || {
        // SAFETY: NULL is checked; otherwise a live report (C contract).
        let h = unsafe { handle(rh, WHAT, "report") }?;
        // SAFETY: the C contract of the arguments.
        let (f, p) = unsafe { field_and(WHAT, field, data) }?;
        // SAFETY: a C string or NULL (C contract).
        let s = unsafe { arg_bytes(p, WHAT, "string") }?;
        // Stock copies the string into the report pool: the same limits
        // and failure lines.
        // SAFETY: the report's live pool, not otherwise borrowed now.
        if unsafe { pool::strdup_bytes(h.mem, s) }.is_null() {
            devmapper::log_error!(&crate::CTX, "dm_report_field_string: dm_pool_strdup failed");
            return Some(0);
        }
        f.set(Slot::Value(FieldValue::string(s)));
        Some(1)
    })
}

/// `dm_report_field_string_list` (`sort`) and `_unsorted`.
///
/// # Safety
/// `rh`, `field`: NULL or live; `data`: NULL or a `struct dm_list` of
/// `struct dm_str_list`; `delimiter`: NULL or a C string.
unsafe fn string_list(
    what: &str,
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const dm_list,
    delimiter: *const c_char,
    sort: bool,
) -> Option<c_int> {
    const GROW_FAILED: &str = "dm_report_field_string_list: dm_pool_grow_object_failed";
    // SAFETY: caller's contract.
    let h = unsafe { handle(rh, what, "report") }?;
    // SAFETY: caller's contract.
    let f = unsafe { handle(field, what, "field") }?;
    // SAFETY: caller's contract.
    let head = unsafe { handle(data, what, "list") }?;
    let mut items: Vec<&[u8]> = Vec::new();
    let mut e = head.n;
    while !std::ptr::eq(e, head) {
        if e.is_null() {
            devmapper::log_error!(&crate::CTX, "Internal error: {what}: broken list.");
            return Some(0);
        }
        // SAFETY: list elements are `struct dm_str_list` (caller).
        let item = unsafe { &*e.cast::<StrList>() };
        // SAFETY: a C string or NULL.
        let Some(s) = (unsafe { opt_bytes(item.str) }) else {
            devmapper::log_error!(
                &crate::CTX,
                "Internal error: {what}: list item with a NULL string."
            );
            return Some(0);
        };
        if push(&mut items, s).is_none() {
            devmapper::log_error!(&crate::CTX, "dm_report_field_string_list: dm_malloc failed");
            return Some(0);
        }
        e = item.list.n;
    }
    // SAFETY: C string or NULL (caller).
    let delim = unsafe { opt_bytes(delimiter) };

    // Stock builds the value in the report pool: the same allocations, so
    // the same limits and failure lines.
    let mem = h.mem;
    let n = items.len();
    // SAFETY: the report's live pool, not otherwise borrowed while a
    // setter runs (the same holds for every pool call below).
    let sort_value = unsafe { pool::alloc(mem, 16) };
    if sort_value.is_null() {
        devmapper::log_error!(
            &crate::CTX,
            "dm_report_field_string_list: dm_pool_zalloc failed for sort_value"
        );
        return Some(0);
    }
    let fail = |msg: &str| {
        log_error_bytes(msg.as_bytes());
        // SAFETY: see above.
        unsafe { pool::free(mem, sort_value) };
        Some(0)
    };
    let items_size = (n as u64 + 1).saturating_mul(16);
    // SAFETY: see above.
    if unsafe { pool::alloc(mem, usize::try_from(items_size).unwrap_or(usize::MAX)) }.is_null() {
        return fail("dm_report_fiel_string_list: dm_pool_zalloc failed for sort value items");
    }
    if n == 1 {
        // SAFETY: see above.
        if unsafe { pool::strdup_bytes(mem, items[0]) }.is_null() {
            return fail("dm_report_field_string_list: dm_pool_strdup failed");
        }
    } else if n > 1 {
        let arr = crate::mem::dm_malloc_wrapper(n.saturating_mul(24), c"report".as_ptr(), 0);
        if arr.is_null() {
            return fail("dm_report_field_string_list: dm_malloc failed");
        }
        // SAFETY: `arr` came from malloc and is not used.
        unsafe { libc::free(arr) };
        // SAFETY: see above.
        if !unsafe { pool::begin_object(mem, 256) } {
            return fail(GROW_FAILED);
        }
        let mut order: Vec<&[u8]> = Vec::new();
        if order.try_reserve_exact(n).is_err() {
            return fail("dm_report_field_string_list: dm_malloc failed");
        }
        order.extend_from_slice(&items);
        if sort {
            order.sort();
        }
        let delim_bytes = delim.unwrap_or(b",");
        for (k, s) in order.iter().enumerate() {
            // SAFETY: see above.
            let ok = unsafe {
                pool::grow_object(mem, s) && (k + 1 == n || pool::grow_object(mem, delim_bytes))
            };
            if !ok {
                return fail(GROW_FAILED);
            }
        }
        // SAFETY: see above.
        if !unsafe { pool::grow_object(mem, b"\0") } {
            return fail(GROW_FAILED);
        }
        // SAFETY: see above.
        unsafe { pool::end_object(mem) };
    }
    f.set(Slot::Value(FieldValue::string_list(&items, delim, sort)));
    Some(1)
}

/// `dm_report_field_string_list`: the strings of a `struct dm_str_list`
/// list, sorted, joined by `delimiter` (NULL: ",").
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_string_list(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const dm_list,
    delimiter: *const c_char,
) -> c_int {
    const WHAT: &str = "dm_report_field_string_list";
    // SAFETY: the C contract of the arguments.
    guard(WHAT, 0, || unsafe {
        string_list(WHAT, rh, field, data, delimiter, true)
    })
}

/// `dm_report_field_string_list_unsorted`: as `dm_report_field_string_list`,
/// in list order (selection still sees the items sorted).
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_string_list_unsorted(
    rh: *mut dm_report,
    field: *mut dm_report_field,
    data: *const dm_list,
    delimiter: *const c_char,
) -> c_int {
    const WHAT: &str = "dm_report_field_string_list_unsorted";
    // SAFETY: the C contract of the arguments.
    guard(WHAT, 0, || unsafe {
        string_list(WHAT, rh, field, data, delimiter, false)
    })
}

/// `dm_report_field_set_value`: the C string `value` is shown; `sortvalue`
/// (NULL: `value`) is used for sorting and selection, read by the field's
/// type when the report function returns.
#[no_mangle]
pub unsafe extern "C" fn dm_report_field_set_value(
    field: *mut dm_report_field,
    value: *const c_void,
    sortvalue: *const c_void,
) {
    guard("dm_report_field_set_value", (), || {
        // SAFETY: NULL or the field of a running report function (C contract).
        let f = unsafe { handle(field, "dm_report_field_set_value", "field") }?;
        f.set(Slot::Raw {
            value,
            sort: sortvalue,
        });
        Some(())
    })
}

// ---------------------------------------------------------------- groups

/// `dm_report_group_create`: a group of reports printed as one document
/// (`DM_REPORT_GROUP_SINGLE`, `_BASIC`, `_JSON`).
#[no_mangle]
pub unsafe extern "C" fn dm_report_group_create(
    r#type: dm_report_group_type_t,
    data: *mut c_void,
) -> *mut dm_report_group {
    let _ = data; // unused, as in stock
    guard("dm_report_group_create", null_mut(), || {
        let mem = pool::create(Some(b"report_group"), 1024);
        if mem.is_null() {
            devmapper::log_error!(
                &crate::CTX,
                "dm_report: dm_report_init_group: failed to allocate mem pool"
            );
            return None;
        }
        let group = u32::try_from(r#type)
            .ok()
            .and_then(GroupType::from_raw)
            .map(ReportGroup::new);
        Some(Box::into_raw(Box::new(dm_report_group {
            group: RefCell::new(group),
            mem,
        })))
    })
}

/// Run `f` on the engine group (a group of unknown type: `unknown`).
fn with_group(
    g: &dm_report_group,
    what: &str,
    unknown: c_int,
    f: impl FnOnce(&mut ReportGroup, &mut CSink) -> Result<(), ReportError>,
) -> Option<c_int> {
    let Ok(mut slot) = g.group.try_borrow_mut() else {
        busy(what);
        return None;
    };
    let Some(grp) = slot.as_mut() else {
        return Some(unknown);
    };
    let mut sink = CSink::default();
    let r = f(grp, &mut sink);
    Some(sink.done(r))
}

/// `dm_report_group_push`: put a report (or, with NULL, a sub-object /
/// section) on the group; `data` names it (basic and JSON groups).
#[no_mangle]
pub unsafe extern "C" fn dm_report_group_push(
    group: *mut dm_report_group,
    report: *mut dm_report,
    data: *mut c_void,
) -> c_int {
    const WHAT: &str = "dm_report_group_push";
    guard(WHAT, 0, || {
        if group.is_null() {
            return Some(1);
        }
        // SAFETY: a live group (C contract).
        let g = unsafe { handle(group, WHAT, "group") }?;
        let rep = if report.is_null() {
            None
        } else {
            // SAFETY: a live report (C contract).
            Some(unsafe { &*report })
        };
        let slot = match rep {
            Some(h) => match h.report.try_borrow() {
                Ok(s) => Some(s),
                Err(_) => {
                    busy(WHAT);
                    return None;
                }
            },
            None => None,
        };
        let typ = g
            .group
            .try_borrow()
            .ok()
            .and_then(|g| g.as_ref()?.group_type());
        let name = match typ {
            // SAFETY: for these groups `data` is a C string or NULL (C contract).
            Some(GroupType::Basic | GroupType::Json) => unsafe { opt_bytes(data.cast()) },
            _ => None,
        };
        with_group(g, WHAT, 0, |g, sink| {
            g.push(slot.as_ref().and_then(|s| s.as_ref()), name, sink)
        })
    })
}

/// `dm_report_group_pop`: take the top item off the group (closing its
/// JSON object or array).
#[no_mangle]
pub unsafe extern "C" fn dm_report_group_pop(group: *mut dm_report_group) -> c_int {
    guard("dm_report_group_pop", 0, || {
        if group.is_null() {
            return Some(1);
        }
        // SAFETY: a live group (C contract).
        let g = unsafe { handle(group, "dm_report_group_pop", "group") }?;
        with_group(g, "dm_report_group_pop", 0, |g, sink| g.pop(sink))
    })
}

/// `dm_report_group_output_and_pop_all`: output every report in the group
/// and pop everything.
#[no_mangle]
pub unsafe extern "C" fn dm_report_group_output_and_pop_all(group: *mut dm_report_group) -> c_int {
    const WHAT: &str = "dm_report_group_output_and_pop_all";
    guard(WHAT, 0, || {
        // SAFETY: NULL (logged) or a live group (C contract).
        let g = unsafe { handle(group, WHAT, "group") }?;
        with_group(g, WHAT, 1, |g, sink| g.output_and_pop_all(sink))
    })
}

/// `dm_report_group_destroy`: output and pop everything, free the group.
#[no_mangle]
pub unsafe extern "C" fn dm_report_group_destroy(group: *mut dm_report_group) -> c_int {
    const WHAT: &str = "dm_report_group_destroy";
    guard(WHAT, 0, || {
        if group.is_null() {
            return Some(1);
        }
        // SAFETY: a live group (C contract).
        let g = unsafe { handle(group, WHAT, "group") }?;
        let r = with_group(g, WHAT, 1, |g, sink| g.output_and_pop_all(sink))?;
        // SAFETY: a live group the caller gives up; no reference remains.
        drop(unsafe { take_handle(group) });
        Some(r)
    })
}
