//! Report groups (`dm_report_group_*`): several reports output as one
//! document: single, basic (titled sections) or JSON.

use std::cell::RefCell;
use std::rc::Rc;

use super::engine::{Report, ReportState};
use super::*;

const JSON_INDENT_UNIT: i32 = 4;

/// `dm_report_group_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupType {
    /// `DM_REPORT_GROUP_SINGLE`: at most one report.
    Single,
    /// `DM_REPORT_GROUP_BASIC`: each report under its name, underlined.
    Basic,
    /// `DM_REPORT_GROUP_JSON`: one JSON object.
    Json,
}

impl GroupType {
    /// From stock's enum value (0, 1, 2).
    pub fn from_raw(v: u32) -> Option<GroupType> {
        match v {
            0 => Some(GroupType::Single),
            1 => Some(GroupType::Basic),
            2 => Some(GroupType::Json),
            _ => None,
        }
    }
}

struct Item {
    id: u64,
    report: Option<Rc<RefCell<ReportState>>>,
    data: Option<Vec<u8>>,
    parent: Option<u64>,
    orig_flags: u32,
    finished_count: u32,
    output_done: bool,
    needs_closing: bool,
}

/// Stock's `struct dm_report_group`. Items: index 0 is the bottom (root).
pub(crate) struct GroupState {
    typ: GroupType,
    pub(crate) indent: i32,
    items: Vec<Item>,
    next_id: u64,
}

fn spaces_then(indent: i32, s: &[u8]) -> Vec<u8> {
    let mut l = vec![b' '; usize::try_from(indent).unwrap_or(0)];
    l.extend_from_slice(s);
    l
}

impl GroupState {
    pub(crate) fn is_json(&self) -> bool {
        self.typ == GroupType::Json
    }

    pub(crate) fn is_basic(&self) -> bool {
        self.typ == GroupType::Basic
    }

    fn idx(&self, id: u64) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    fn item(&self, id: Option<u64>) -> Option<&Item> {
        id.and_then(|id| self.idx(id))
            .and_then(|i| self.items.get(i))
    }

    fn item_mut(&mut self, id: Option<u64>) -> Option<&mut Item> {
        let i = id.and_then(|id| self.idx(id))?;
        self.items.get_mut(i)
    }

    fn json_output_start(&mut self, log: &mut Logger<'_>) {
        if self.indent == 0 {
            log.print(b"{");
            self.indent += JSON_INDENT_UNIT;
        }
    }

    /// `_json_output_array_start`.
    fn json_output_array_start(
        &mut self,
        id: u64,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        let Some(item) = self.item(Some(id)) else {
            return Err(ReportError::msg(b"dm_report: group item not found"));
        };
        let Some(name) = item.data.clone() else {
            log.error(b"dm_report: Unable to extend output line");
            return Err(log.fail());
        };
        let parent = self.item(item.parent);
        let parent_finished = parent.map(|p| p.finished_count).unwrap_or(0);
        let parent_obj = parent.is_some_and(|p| p.parent.is_some() && p.data.is_some());
        if parent_finished > 0 {
            log.print(&spaces_then(self.indent, b","));
        }
        if parent_obj {
            log.print(&spaces_then(self.indent, b"{"));
            self.indent += JSON_INDENT_UNIT;
        }
        log.print(&spaces_then(self.indent, &cat(&[b"\"", &name, b"\": ["])));
        self.indent += JSON_INDENT_UNIT;
        Ok(())
    }

    /// `_prepare_json_report_output`.
    pub(crate) fn prepare_json_report_output(
        &mut self,
        id: u64,
        rows_empty: bool,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        self.json_output_start(log);
        let Some(item) = self.item(Some(id)) else {
            return Err(ReportError::msg(b"dm_report: group item not found"));
        };
        if item.output_done && rows_empty {
            return Ok(());
        }
        if self.items.last().map(|i| i.id) != Some(id) {
            log.error(b"dm_report: dm_report_output: interleaved reports detected for JSON output");
            return Err(log.fail());
        }
        if item.needs_closing {
            log.error(b"dm_report: dm_report_output: unfinished JSON output detected");
            return Err(log.fail());
        }
        self.json_output_array_start(id, log)?;
        if let Some(item) = self.item_mut(Some(id)) {
            item.needs_closing = true;
        }
        Ok(())
    }

    /// `_print_basic_report_header`.
    pub(crate) fn print_basic_report_header(
        &mut self,
        id: u64,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        let Some(item) = self.item(Some(id)) else {
            return Err(ReportError::msg(b"dm_report: group item not found"));
        };
        let Some(name) = item.data.clone() else {
            return Err(ReportError::msg(
                b"dm_report: report in a basic group has no name",
            ));
        };
        if self.item(item.parent).is_some_and(|p| p.finished_count > 0) {
            log.print(b"");
        }
        log.print(&name);
        log.print(&vec![b'='; name.len()]);
        Ok(())
    }

    pub(crate) fn set_output_done(&mut self, id: u64) {
        if let Some(item) = self.item_mut(Some(id)) {
            item.output_done = true;
        }
    }
}

/// A report group (stock's `struct dm_report_group *`).
pub struct ReportGroup {
    inner: Rc<RefCell<GroupState>>,
}

impl std::fmt::Debug for ReportGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportGroup")
    }
}

fn busy() -> ReportError {
    ReportError::msg(b"dm_report: report group is in use")
}

impl ReportGroup {
    /// `dm_report_group_create`.
    pub fn new(typ: GroupType) -> ReportGroup {
        let root = Item {
            id: 0,
            report: None,
            data: None,
            parent: None,
            orig_flags: 0,
            finished_count: 0,
            output_done: false,
            needs_closing: false,
        };
        ReportGroup {
            inner: Rc::new(RefCell::new(GroupState {
                typ,
                indent: 0,
                items: vec![root],
                next_id: 1,
            })),
        }
    }

    /// The group type.
    pub fn group_type(&self) -> Option<GroupType> {
        self.inner.try_borrow().ok().map(|g| g.typ)
    }

    /// `dm_report_group_push`: a report (or, with `None`, a named or unnamed
    /// sub-object for JSON / a section break for basic) on top of the group.
    /// `name` is stock's `data` (a report's or object's name; unused by single
    /// groups).
    pub fn push(
        &mut self,
        report: Option<&Report>,
        name: Option<&[u8]>,
        sink: &mut dyn LogSink,
    ) -> Result<(), ReportError> {
        let mut log = Logger::new(sink);
        let mut g = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let id = g.next_id;
        g.next_id += 1;
        let parent = g
            .items
            .iter()
            .rev()
            .find(|i| i.report.is_none())
            .map(|i| i.id);
        let Some(parent) = parent else {
            return Err(ReportError::msg(
                b"dm_report: dm_report_group_push: group has no parent item",
            ));
        };
        let mut orig_flags = 0;
        let rep = report.map(|r| r.inner.clone());
        if let Some(r) = &rep {
            let mut rs = r.try_borrow_mut().map_err(|_| busy())?;
            orig_flags = rs.flags;
            rs.group = Some((Rc::downgrade(&self.inner), id));
        }
        g.items.push(Item {
            id,
            report: rep.clone(),
            data: name.map(|n| cstr(n).to_vec()),
            parent: Some(parent),
            orig_flags,
            finished_count: 0,
            output_done: false,
            needs_closing: false,
        });
        let r = Self::push_typed(&mut g, id, rep.as_ref(), name.is_some(), &mut log);
        if r.is_err() {
            g.items.retain(|i| i.id != id);
            if let Some(rep) = &rep {
                if let Ok(mut rs) = rep.try_borrow_mut() {
                    rs.group = None;
                }
            }
        }
        r
    }

    fn push_typed(
        g: &mut GroupState,
        id: u64,
        rep: Option<&Rc<RefCell<ReportState>>>,
        has_name: bool,
        log: &mut Logger<'_>,
    ) -> Result<(), ReportError> {
        let parent_id = g.item(Some(id)).and_then(|i| i.parent);
        match g.typ {
            GroupType::Single => {
                let count = g.items.iter().filter(|i| i.report.is_some()).count();
                if count > 1 {
                    log.error(
                        b"dm_report: unable to add more than one report to current report group",
                    );
                    return Err(log.fail());
                }
            }
            GroupType::Basic => {
                if let Some(rep) = rep {
                    let mut rs = rep.try_borrow_mut().map_err(|_| busy())?;
                    if rs.flags & OUTPUT_BUFFERED == 0 {
                        rs.flags &= !OUTPUT_MULTIPLE_TIMES;
                    }
                } else if !has_name && g.item(parent_id).is_some_and(|p| p.finished_count > 0) {
                    log.print(b"");
                }
            }
            GroupType::Json => {
                if let Some(rep) = rep {
                    let mut rs = rep.try_borrow_mut().map_err(|_| busy())?;
                    rs.flags &= !(OUTPUT_ALIGNED | OUTPUT_HEADINGS | OUTPUT_COLUMNS_AS_ROWS);
                    rs.flags |= OUTPUT_BUFFERED;
                } else {
                    g.json_output_start(log);
                    if has_name {
                        g.json_output_array_start(id, log)?;
                    } else {
                        let parent = g.item(parent_id);
                        if parent.is_none_or(|p| p.parent.is_none()) {
                            log.error(
                                b"dm_report: can't use unnamed object at top level of JSON output",
                            );
                            return Err(log.fail());
                        }
                        if parent.is_some_and(|p| p.finished_count > 0) {
                            log.print(&spaces_then(g.indent, b","));
                        }
                        log.print(&spaces_then(g.indent, b"{"));
                        g.indent += JSON_INDENT_UNIT;
                    }
                    if let Some(item) = g.item_mut(Some(id)) {
                        item.output_done = true;
                        item.needs_closing = true;
                    }
                }
            }
        }
        Ok(())
    }

    fn pop_inner(g: &mut GroupState, log: &mut Logger<'_>) -> Result<(), ReportError> {
        let Some(item) = g.items.last() else {
            log.error(b"dm_report: dm_report_group_pop: group has no items");
            return Err(log.fail());
        };
        let (id, parent_id) = (item.id, item.parent);
        if g.typ == GroupType::Json && item.output_done && item.needs_closing {
            let has_data = item.data.is_some();
            let parent_obj = g
                .item(parent_id)
                .is_some_and(|p| p.data.is_some() && p.parent.is_some());
            if has_data {
                g.indent -= JSON_INDENT_UNIT;
                log.print(&spaces_then(g.indent, b"]"));
            }
            if parent_obj {
                g.indent -= JSON_INDENT_UNIT;
                log.print(&spaces_then(g.indent, b"}"));
            }
        }
        let Some(item) = g.items.pop() else {
            return Err(log.fail());
        };
        debug_assert_eq!(item.id, id);
        if let Some(rep) = &item.report {
            let mut rs = rep.try_borrow_mut().map_err(|_| busy())?;
            rs.flags = item.orig_flags;
            rs.group = None;
        }
        if let Some(p) = g.item_mut(parent_id) {
            p.finished_count += 1;
        }
        Ok(())
    }

    /// `dm_report_group_pop`.
    pub fn pop(&mut self, sink: &mut dyn LogSink) -> Result<(), ReportError> {
        let mut log = Logger::new(sink);
        let mut g = self.inner.try_borrow_mut().map_err(|_| busy())?;
        Self::pop_inner(&mut g, &mut log)
    }

    /// `dm_report_group_output_and_pop_all`: outputs every report still in
    /// the group, pops everything, closes a JSON document.
    pub fn output_and_pop_all(&mut self, sink: &mut dyn LogSink) -> Result<(), ReportError> {
        let mut log = Logger::new(sink);
        let mut g = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let ids: Vec<u64> = g.items.iter().rev().map(|i| i.id).collect();
        for id in ids {
            let Some(item) = g.item(Some(id)) else {
                continue;
            };
            if item.parent.is_none() {
                if let Some(item) = g.item_mut(Some(id)) {
                    item.finished_count = 0;
                }
                continue;
            }
            if let Some(rep) = item.report.clone() {
                let mut rs = rep.try_borrow_mut().map_err(|_| busy())?;
                rs.output(Some(&mut g), &mut log)?;
            }
            Self::pop_inner(&mut g, &mut log)?;
        }
        if g.typ == GroupType::Json {
            g.json_output_start(&mut log);
            log.print(b"}");
            g.indent -= JSON_INDENT_UNIT;
        }
        Ok(())
    }

    /// `dm_report_group_destroy`: [`Self::output_and_pop_all`], then the group is gone.
    pub fn destroy(mut self, sink: &mut dyn LogSink) -> Result<(), ReportError> {
        self.output_and_pop_all(sink)
    }
}
