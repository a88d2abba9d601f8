//! The selection grammar (`-S`): parsing into a compiled tree once, and
//! evaluating it on rows. A port of stock's recursive-descent parser, with
//! its precedence (`&&`/`,` over `||`/`#`, `!(...)`, parentheses), value
//! syntaxes, reserved values and error messages.

use super::defs::{FieldDef, HandlerResult, ReservedData, ReservedValue};
use super::engine::{ReportState, Row, FLD_CMP_UNCOMPARABLE, FLD_HIDDEN};
use super::regex::Regex;
use super::time::{parse_date_time, TimeValue};
use super::value::{FieldValue, SortValue};
use super::*;

// Comparison operator flags (stock's FLD_CMP_*).
const FLD_CMP_MASK: u32 = 0x0FF0_0000;
const FLD_CMP_EQUAL: u32 = 0x0020_0000;
const FLD_CMP_NOT: u32 = 0x0040_0000;
const FLD_CMP_GT: u32 = 0x0080_0000;
const FLD_CMP_LT: u32 = 0x0100_0000;
const FLD_CMP_REGEX: u32 = 0x0200_0000;
const FLD_CMP_NUMBER: u32 = 0x0400_0000;
const FLD_CMP_TIME: u32 = 0x0800_0000;

// Logical operator flags (stock's SEL_*).
const SEL_MASK: u32 = 0x0000_00FF;
const SEL_AND: u32 = 0x0000_0002;
const SEL_OR: u32 = 0x0000_0004;
const SEL_MODIFIER_NOT: u32 = 0x0000_0100;
const SEL_PRECEDENCE_PS: u32 = 0x0000_1000;
const SEL_PRECEDENCE_PE: u32 = 0x0000_2000;
const SEL_LIST_MASK: u32 = 0x000F_0000;
const SEL_LIST_LS: u32 = 0x0001_0000;
const SEL_LIST_LE: u32 = 0x0002_0000;
const SEL_LIST_SUBSET_LS: u32 = 0x0004_0000;
const SEL_LIST_SUBSET_LE: u32 = 0x0008_0000;

/// Parenthesis nesting accepted (stock recurses without a limit).
const MAX_NESTING: usize = 200;

struct OpDef {
    s: &'static [u8],
    flags: u32,
    desc: &'static [u8],
}

const OP_CMP: [OpDef; 12] = [
    OpDef {
        s: b"=~",
        flags: FLD_CMP_REGEX,
        desc: b"Matching regular expression. [regex]",
    },
    OpDef {
        s: b"!~",
        flags: FLD_CMP_REGEX | FLD_CMP_NOT,
        desc: b"Not matching regular expression. [regex]",
    },
    OpDef {
        s: b"=",
        flags: FLD_CMP_EQUAL,
        desc: b"Equal to. [number, size, percent, string, string list, time]",
    },
    OpDef {
        s: b"!=",
        flags: FLD_CMP_NOT | FLD_CMP_EQUAL,
        desc: b"Not equal to. [number, size, percent, string, string_list, time]",
    },
    OpDef {
        s: b">=",
        flags: FLD_CMP_NUMBER | FLD_CMP_TIME | FLD_CMP_GT | FLD_CMP_EQUAL,
        desc: b"Greater than or equal to. [number, size, percent, time]",
    },
    OpDef {
        s: b">",
        flags: FLD_CMP_NUMBER | FLD_CMP_TIME | FLD_CMP_GT,
        desc: b"Greater than. [number, size, percent, time]",
    },
    OpDef {
        s: b"<=",
        flags: FLD_CMP_NUMBER | FLD_CMP_TIME | FLD_CMP_LT | FLD_CMP_EQUAL,
        desc: b"Less than or equal to. [number, size, percent, time]",
    },
    OpDef {
        s: b"<",
        flags: FLD_CMP_NUMBER | FLD_CMP_TIME | FLD_CMP_LT,
        desc: b"Less than. [number, size, percent, time]",
    },
    OpDef {
        s: b"since",
        flags: FLD_CMP_TIME | FLD_CMP_GT | FLD_CMP_EQUAL,
        desc: b"Since specified time (same as '>='). [time]",
    },
    OpDef {
        s: b"after",
        flags: FLD_CMP_TIME | FLD_CMP_GT,
        desc: b"After specified time (same as '>'). [time]",
    },
    OpDef {
        s: b"until",
        flags: FLD_CMP_TIME | FLD_CMP_LT | FLD_CMP_EQUAL,
        desc: b"Until specified time (same as '<='). [time]",
    },
    OpDef {
        s: b"before",
        flags: FLD_CMP_TIME | FLD_CMP_LT,
        desc: b"Before specified time (same as '<'). [time]",
    },
];

const OP_LOG: [OpDef; 11] = [
    OpDef {
        s: b"&&",
        flags: SEL_AND,
        desc: b"All fields must match",
    },
    OpDef {
        s: b",",
        flags: SEL_AND,
        desc: b"All fields must match",
    },
    OpDef {
        s: b"||",
        flags: SEL_OR,
        desc: b"At least one field must match",
    },
    OpDef {
        s: b"#",
        flags: SEL_OR,
        desc: b"At least one field must match",
    },
    OpDef {
        s: b"!",
        flags: SEL_MODIFIER_NOT,
        desc: b"Logical negation",
    },
    OpDef {
        s: b"(",
        flags: SEL_PRECEDENCE_PS,
        desc: b"Left parenthesis",
    },
    OpDef {
        s: b")",
        flags: SEL_PRECEDENCE_PE,
        desc: b"Right parenthesis",
    },
    OpDef {
        s: b"[",
        flags: SEL_LIST_LS,
        desc: b"List start",
    },
    OpDef {
        s: b"]",
        flags: SEL_LIST_LE,
        desc: b"List end",
    },
    OpDef {
        s: b"{",
        flags: SEL_LIST_SUBSET_LS,
        desc: b"List subset start",
    },
    OpDef {
        s: b"}",
        flags: SEL_LIST_SUBSET_LE,
        desc: b"List subset end",
    },
];

const SEL_SYNTAX_ERROR_AT: &[u8] = b"Selection syntax error at '";
const SEL_HELP_REF: &[u8] = b"Use 'help' for selection to get more help.";
const OUT_OF_RANGE_1: &[u8] = b"Field selection value ";
const OUT_OF_RANGE_2: &[u8] = b" out of supported range for field ";

/// A selection value (stock's `union value_u`).
enum SelVal {
    Str(Vec<u8>),
    Int(u64),
    Dbl(f64),
    Time(i64),
    Regex(Regex),
    List(SelList),
}

struct SelList {
    items: Vec<Vec<u8>>,
    typ: u32,
}

/// One field comparison (stock's `struct field_selection`).
struct FieldSel {
    pid: usize,
    field_num: u32,
    implicit: bool,
    flags: u32,
    v1: SelVal,
    v2: Option<SelVal>,
}

enum NodeKind {
    Item(Box<FieldSel>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

struct Node {
    kind: NodeKind,
    not: bool,
}

/// A compiled selection.
pub(crate) struct Selection {
    root: Node,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn type_name_of_expected(expected: u32) -> &'static [u8] {
    if expected == FIELD_TYPE_NUMBER {
        b"numeric"
    } else {
        b"size"
    }
}

/// C `strtoull(s, NULL, 10)` on a token: (value, overflowed).
fn strtoull(s: &[u8]) -> (u64, bool) {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(s[i] - b'0')))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    if overflow {
        return (u64::MAX, true);
    }
    (if neg { v.wrapping_neg() } else { v }, false)
}

/// C `strtod(s, NULL)` on a token made of digits and at most one '.':
/// (value, ERANGE).
fn strtod(s: &[u8]) -> (f64, bool) {
    let mut end = 0;
    let mut dot = false;
    while end < s.len() && (s[end].is_ascii_digit() || (s[end] == b'.' && !dot)) {
        if s[end] == b'.' {
            dot = true;
        }
        end += 1;
    }
    let t = &s[..end];
    if !t.iter().any(|c| c.is_ascii_digit()) {
        return (0.0, false);
    }
    let txt = std::str::from_utf8(t).unwrap_or("0");
    let v: f64 = txt.parse().unwrap_or(0.0);
    (v, v.is_infinite())
}

fn specific(type_flags: u32) -> &'static [u8] {
    if type_flags & FIELD_TYPE_MASK != 0 {
        b"type-specific"
    } else {
        b"field-specific"
    }
}

struct ReservedMatch {
    idx: usize,
    name: Vec<u8>,
}

/// What `_parse_selection` points `custom` at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Custom {
    None,
    Factor,
    Time,
    List,
}

struct Parsed {
    factor: u64,
    tval: TimeValue,
    list: Option<SelList>,
}

struct Parser<'a, 'l, 'm> {
    rh: &'a mut ReportState,
    s: &'a [u8],
    add_new_fields: bool,
    log: &'l mut Logger<'m>,
    depth: usize,
}

impl Parser<'_, '_, '_> {
    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    fn rest(&self, i: usize) -> &[u8] {
        self.s.get(i..).unwrap_or(b"")
    }

    fn skip_space(&self, mut i: usize) -> usize {
        while is_space(self.at(i)) {
            i += 1;
        }
        i
    }

    fn tok_op(&self, table: &[OpDef], i: usize, expect: u32) -> (u32, usize) {
        let i = self.skip_space(i);
        let r = self.rest(i);
        for t in table {
            if expect != 0 && t.flags & expect == 0 {
                continue;
            }
            if r.starts_with(t.s) {
                return (t.flags, i + t.s.len());
            }
        }
        (0, i)
    }

    fn tok_op_log(&self, i: usize, expect: u32) -> (u32, usize) {
        self.tok_op(&OP_LOG, i, expect)
    }

    fn quote(&self, i: usize) -> (u8, usize) {
        match self.at(i) {
            c @ (b'"' | b'\'') => (c, i + 1),
            _ => (0, i),
        }
    }

    /// `_tok_value_number`: (begin, end).
    fn tok_value_number(&self, i: usize) -> Option<(usize, usize)> {
        let begin = i;
        let mut i = i;
        let mut is_float = false;
        loop {
            let c = self.at(i);
            if !is_float && c == b'.' {
                is_float = true;
            } else if !c.is_ascii_digit() {
                break;
            }
            i += 1;
        }
        (i != begin).then_some((begin, i))
    }

    /// `_tok_value_string`: (begin, end, next). Logs "Missing end quote.".
    fn tok_value_string(
        &mut self,
        i: usize,
        endchar: u8,
        end_op_flags: u32,
    ) -> Option<(usize, usize, usize)> {
        let begin = i;
        let mut i = i;
        if endchar != 0 {
            while self.at(i) != 0 && self.at(i) != endchar {
                i += 1;
            }
            if self.at(i) != endchar {
                self.log.error(b"Missing end quote.");
                return None;
            }
            Some((begin, i, i + 1))
        } else {
            while self.at(i) != 0 {
                if self.tok_op(&OP_LOG, i, end_op_flags).0 != 0 || self.at(i) == b' ' {
                    break;
                }
                i += 1;
            }
            Some((begin, i, i))
        }
    }

    fn field_id(&self, implicit: bool, num: u32) -> Vec<u8> {
        self.rh.field(implicit, num).id.to_vec()
    }

    /// `_reserved_name`.
    fn reserved_name(&mut self, idx: usize, field_num: u32, tok: &[u8]) -> Option<Vec<u8>> {
        let rv = self.rh.reserved.as_ref()?.get(idx)?;
        if let Some(n) = rv.names.iter().find(|n| n.as_slice() == tok) {
            return Some(n.clone());
        }
        if rv.type_flags & RESERVED_VALUE_FUZZY_NAMES != 0 {
            if let ReservedData::Handler(h) = &rv.value {
                let h = h.clone();
                let tf = rv.type_flags;
                let r = h.parse_fuzzy_name(field_num, tok);
                let fid = self.field_id(false, field_num);
                match r {
                    HandlerResult::Ok(name) => return name,
                    HandlerResult::NotImplemented => {
                        self.log.error(&cat(&[
                            b"Internal error: ",
                            specific(tf),
                            b" reserved value handler for field ",
                            &fid,
                            b" has missing implementation of DM_REPORT_RESERVED_PARSE_FUZZY_NAME action",
                        ]));
                    }
                    HandlerResult::Error => {
                        self.log.error(&cat(&[
                            b"Error occured while processing ",
                            specific(tf),
                            b" reserved value handler for field ",
                            &fid,
                        ]));
                    }
                }
            }
        }
        None
    }

    /// `_get_reserved`: (next, begin, end, match).
    fn get_reserved(
        &mut self,
        expected: u32,
        field_num: u32,
        implicit: bool,
        i: usize,
    ) -> (usize, usize, usize, Option<ReservedMatch>) {
        let n = match (&self.rh.reserved, implicit) {
            (Some(r), false) => r.len(),
            _ => return (i, i, i, None),
        };
        let (c, t) = self.quote(i);
        let Some((b, e, next)) = self.tok_value_string(t, c, SEL_AND | SEL_OR | SEL_PRECEDENCE_PE)
        else {
            return (i, i, i, None);
        };
        let tok = self.s[b..e].to_vec();
        for idx in 0..n {
            let Some(rv) = self.rh.reserved.as_ref().and_then(|r| r.get(idx)) else {
                break;
            };
            let (tf, fnum) = (rv.type_flags, rv.field_num);
            let name = if tf & FIELD_TYPE_MASK == 0 {
                if fnum == field_num {
                    self.reserved_name(idx, field_num, &tok)
                } else {
                    None
                }
            } else if tf & expected != 0 {
                self.reserved_name(idx, field_num, &tok)
            } else {
                None
            };
            if let Some(name) = name {
                return (next, b, e, Some(ReservedMatch { idx, name }));
            }
        }
        (i, i, i, None)
    }

    /// `_tok_value_string_list`: (next, list).
    fn tok_value_string_list(&mut self, fid: &[u8], i: usize) -> (usize, Option<SelList>) {
        let fail_msg = cat(&[
            b"Failed to parse string list value for selection field ",
            fid,
            b".",
        ]);
        let (op, _) = self.tok_op_log(i, SEL_LIST_LS | SEL_LIST_SUBSET_LS);
        if op == 0 {
            let (c, t) = self.quote(i);
            let Some((b, e, next)) =
                self.tok_value_string(t, c, SEL_AND | SEL_OR | SEL_PRECEDENCE_PE)
            else {
                self.log.error(&fail_msg);
                return (t, None);
            };
            return (
                next,
                Some(SelList {
                    items: vec![self.s[b..e].to_vec()],
                    typ: SEL_OR | SEL_LIST_LS,
                }),
            );
        }
        let end_expected = if op == SEL_LIST_LS {
            SEL_LIST_LE
        } else {
            SEL_LIST_SUBSET_LE
        };
        let op_flags = SEL_LIST_LE | SEL_LIST_SUBSET_LE | SEL_AND | SEL_OR;
        let mut i = i + 1;
        let mut typ = 0u32;
        let mut hit = 0u32;
        let mut items: Vec<Vec<u8>> = Vec::new();
        while self.at(i) != 0 {
            i = self.skip_space(i);
            let (c, t) = self.quote(i);
            let Some((b, e, next)) = self.tok_value_string(t, c, op_flags) else {
                self.log.error(&fail_msg);
                return (t, None);
            };
            i = self.skip_space(next);
            let (h, tmp) = self.tok_op_log(i, op_flags);
            hit = h;
            if hit == 0 {
                self.log.error(b"Invalid operator in selection list.");
                return (i, None);
            }
            let mut list_end = false;
            if hit & (SEL_LIST_LE | SEL_LIST_SUBSET_LE) != 0 {
                list_end = true;
                if hit != end_expected {
                    let ch: &[u8] = if end_expected == SEL_LIST_LE {
                        b"]"
                    } else {
                        b"}"
                    };
                    self.log.error(&cat(&[
                        b"List ended with incorrect character, expecting '",
                        ch,
                        b"'.",
                    ]));
                    return (i, None);
                }
            }
            if typ != 0 {
                if !list_end && typ & hit == 0 {
                    self.log.error(
                        b"Only one type of logical operator allowed in selection list at a time.",
                    );
                    return (i, None);
                }
            } else if list_end {
                typ = if end_expected == SEL_LIST_LE {
                    SEL_AND
                } else {
                    SEL_OR
                };
            } else {
                typ = hit;
            }
            items.push(self.s[b..e].to_vec());
            i = tmp;
            if list_end {
                break;
            }
        }
        if hit & (SEL_LIST_LE | SEL_LIST_SUBSET_LE) == 0 {
            self.log
                .error(&cat(&[b"Missing list end for selection field ", fid]));
            return (i, None);
        }
        typ |= if end_expected == SEL_LIST_LE {
            SEL_LIST_LS
        } else {
            SEL_LIST_SUBSET_LS
        };
        items.sort();
        (i, Some(SelList { items, typ }))
    }

    /// `_tok_value_time`.
    fn tok_value_time(&mut self, fid: &[u8], i: usize) -> Option<(usize, usize, usize, TimeValue)> {
        let i = self.skip_space(i);
        if self.at(i) == b'@' {
            let (b, e) = self.tok_value_number(i + 1)?;
            let (t, overflow) = strtoull(&self.s[b..e]);
            if overflow {
                let m = cat(&[OUT_OF_RANGE_1, &self.s[b..e], OUT_OF_RANGE_2, fid, b"."]);
                self.log.error(&m);
                return None;
            }
            return Some((
                e,
                b,
                e,
                TimeValue {
                    range: false,
                    t1: t as i64,
                    t2: 0,
                },
            ));
        }
        let (c, t) = self.quote(i);
        let (b, e, next) = self.tok_value_string(t, c, SEL_AND | SEL_OR | SEL_PRECEDENCE_PE)?;
        let mut errs = Vec::new();
        let tv = parse_date_time(&self.s[b..e], &mut errs);
        for m in &errs {
            self.log.error(m);
        }
        Some((next, b, e, tv?))
    }

    /// `dm_units_to_factor(s, &c, 0, &end)` right after a number.
    fn units_to_factor(&self, i: usize) -> u64 {
        const K: u64 = 1024;
        const D: u64 = 1000;
        match self.at(i) {
            b'h' | b'H' | b'r' | b'R' | b'b' | b'B' => 1,
            b's' | b'S' => K / 2,
            b'k' => K,
            b'm' => K * K,
            b'g' => K * K * K,
            b't' => K * K * K * K,
            b'p' => K * K * K * K * K,
            b'e' => K * K * K * K * K * K,
            b'K' => D,
            b'M' => D * D,
            b'G' => D * D * D,
            b'T' => D * D * D * D,
            b'P' => D * D * D * D * D,
            b'E' => D * D * D * D * D * D,
            _ => 0,
        }
    }

    /// `_tok_value`: (next, begin, end, reserved match).
    #[allow(clippy::too_many_arguments)]
    fn tok_value(
        &mut self,
        ft_flags: u32,
        fid: &[u8],
        field_num: u32,
        implicit: bool,
        i: usize,
        flags: &mut u32,
        custom: Custom,
        parsed: &mut Parsed,
    ) -> Option<(usize, usize, usize, Option<ReservedMatch>)> {
        let expected = ft_flags & FIELD_TYPE_MASK;
        let i = self.skip_space(i);
        let (ri, rb, re, rm) = self.get_reserved(expected, field_num, implicit, i);
        if rm.is_some() {
            if expected == FIELD_TYPE_TIME {
                *flags &= !FLD_CMP_NUMBER;
            } else if expected == FIELD_TYPE_NUMBER {
                *flags &= !FLD_CMP_TIME;
            }
            *flags |= expected;
            return Some((ri, rb, re, rm));
        }
        let forbidden = |p: &mut Self| {
            p.log
                .error(b"Internal error: Forbidden NULL custom detected.");
            None
        };
        match expected {
            FIELD_TYPE_STRING => {
                let (c, t) = self.quote(i);
                let Some((b, e, next)) =
                    self.tok_value_string(t, c, SEL_AND | SEL_OR | SEL_PRECEDENCE_PE)
                else {
                    self.log.error(&cat(&[
                        b"Failed to parse string value for selection field ",
                        fid,
                        b".",
                    ]));
                    return None;
                };
                *flags |= FIELD_TYPE_STRING;
                Some((next, b, e, None))
            }
            FIELD_TYPE_STRING_LIST => {
                if custom != Custom::List {
                    return forbidden(self);
                }
                let (next, list) = self.tok_value_string_list(fid, i);
                let Some(list) = list else {
                    self.log.error(&cat(&[
                        b"Failed to parse string list value for selection field ",
                        fid,
                        b".",
                    ]));
                    return None;
                };
                parsed.list = Some(list);
                *flags |= FIELD_TYPE_STRING_LIST;
                Some((next, i, next, None))
            }
            FIELD_TYPE_NUMBER | FIELD_TYPE_SIZE | FIELD_TYPE_PERCENT => {
                let Some((b, e)) = self.tok_value_number(i) else {
                    self.log.error(&cat(&[
                        b"Failed to parse numeric value for selection field ",
                        fid,
                        b".",
                    ]));
                    return None;
                };
                let mut next = e;
                if self.at(next) == b'%' {
                    next += 1;
                    if expected != FIELD_TYPE_PERCENT {
                        self.log.error(&cat(&[
                            b"Found percent value but ",
                            type_name_of_expected(expected),
                            b" value expected for selection field ",
                            fid,
                            b".",
                        ]));
                        return None;
                    }
                } else {
                    if custom != Custom::Factor {
                        return forbidden(self);
                    }
                    let f = self.units_to_factor(next);
                    parsed.factor = f;
                    if f != 0 {
                        next += 1;
                        if expected != FIELD_TYPE_SIZE {
                            let what: &[u8] = if expected == FIELD_TYPE_NUMBER {
                                b"numeric"
                            } else {
                                b"percent"
                            };
                            self.log.error(&cat(&[
                                b"Found size unit specifier but ",
                                what,
                                b" value expected for selection field ",
                                fid,
                                b".",
                            ]));
                            return None;
                        }
                    } else if expected == FIELD_TYPE_SIZE {
                        parsed.factor = 1024 * 1024;
                    }
                }
                *flags |= expected;
                *flags &= !FLD_CMP_TIME;
                Some((next, b, e, None))
            }
            FIELD_TYPE_TIME => {
                if custom != Custom::Time {
                    return forbidden(self);
                }
                let Some((next, b, e, tv)) = self.tok_value_time(fid, i) else {
                    self.log.error(&cat(&[
                        b"Failed to parse time value for selection field ",
                        fid,
                        b".",
                    ]));
                    return None;
                };
                parsed.tval = tv;
                *flags |= FIELD_TYPE_TIME;
                *flags &= !FLD_CMP_NUMBER;
                Some((next, b, e, None))
            }
            _ => Some((i, i, i, None)),
        }
    }

    fn syntax_error(&mut self, i: usize) {
        let m = cat(&[SEL_SYNTAX_ERROR_AT, self.rest(i), b"'."]);
        self.log.error(&m);
        self.log.error(SEL_HELP_REF);
    }

    /// `_parse_selection`: one `field op value`.
    fn parse_selection(&mut self, s: usize) -> Option<(Node, usize)> {
        // field name
        let ws = self.skip_space(s);
        let mut we = ws;
        while {
            let c = self.at(we);
            c != 0 && (c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        } {
            we += 1;
        }
        if ws == we {
            self.log.error(b"Expecting field name");
            self.syntax_error(s);
            return None;
        }
        let full = self.rest(ws).to_vec();
        let Some((field_num, implicit)) = self.rh.get_field(&full, we - ws, self.log) else {
            self.rh.display_fields(false, true, self.log);
            self.log.warn(b" ");
            let m = cat(&[b"Unrecognised selection field: ", &self.s[ws..we]]);
            self.log.error(&m);
            self.syntax_error(s);
            return None;
        };
        let ft = self.rh.field(implicit, field_num);
        let (ft_flags, fid) = (ft.flags, ft.id.to_vec());
        if implicit && ft_flags & FLD_CMP_UNCOMPARABLE != 0 {
            self.rh.display_fields(false, true, self.log);
            self.log.warn(b" ");
            let m = cat(&[b"Selection field is uncomparable: ", &self.s[ws..we], b"."]);
            self.log.error(&m);
            self.syntax_error(s);
            return None;
        }
        // comparison operator
        let (mut flags, last) = self.tok_op(&OP_CMP, we, 0);
        if flags == 0 {
            display_selection_help(self.rh, self.log);
            let m = cat(&[b"Unrecognised comparison operator: ", self.rest(we)]);
            self.log.error(&m);
            self.syntax_error(s);
            return None;
        }
        let mut parsed = Parsed {
            factor: 0,
            tval: TimeValue {
                range: false,
                t1: 0,
                t2: 0,
            },
            list: None,
        };
        let mut custom = Custom::None;
        let (next, vb, ve, rm);
        if flags & FLD_CMP_REGEX != 0 {
            let i = self.skip_space(last);
            if self.at(i) == 0 {
                self.log.error(&cat(&[
                    b"Regular expression expected for selection field ",
                    &fid,
                ]));
                self.syntax_error(s);
                return None;
            }
            let c = match self.at(i) {
                b'(' => b')',
                b'{' => b'}',
                b'[' => b']',
                q @ (b'"' | b'\'') => q,
                _ => 0,
            };
            let start = if c != 0 { i + 1 } else { i };
            let Some((b, e, n)) =
                self.tok_value_string(start, c, SEL_AND | SEL_OR | SEL_PRECEDENCE_PE)
            else {
                self.log.error(&cat(&[
                    b"Failed to parse regex value for selection field ",
                    &fid,
                    b".",
                ]));
                self.syntax_error(s);
                return None;
            };
            flags |= FIELD_TYPE_STRING;
            (next, vb, ve, rm) = (n, b, e, None);
        } else {
            if flags & FLD_CMP_NUMBER != 0 {
                if ft_flags
                    & (FIELD_TYPE_NUMBER | FIELD_TYPE_SIZE | FIELD_TYPE_PERCENT | FIELD_TYPE_TIME)
                    == 0
                {
                    display_selection_help(self.rh, self.log);
                    let m = cat(&[
                        b"Operator can be used only with number, size, time or percent fields: ",
                        self.rest(ws),
                    ]);
                    self.log.error(&m);
                    self.syntax_error(s);
                    return None;
                }
            } else if flags & FLD_CMP_TIME != 0 && ft_flags & FIELD_TYPE_TIME == 0 {
                display_selection_help(self.rh, self.log);
                let m = cat(&[
                    b"Operator can be used only with time fields: ",
                    self.rest(ws),
                ]);
                self.log.error(&m);
                self.syntax_error(s);
                return None;
            }
            custom = if ft_flags == FIELD_TYPE_SIZE
                || ft_flags == FIELD_TYPE_NUMBER
                || ft_flags == FIELD_TYPE_PERCENT
            {
                Custom::Factor
            } else if ft_flags & FIELD_TYPE_TIME != 0 {
                Custom::Time
            } else if ft_flags == FIELD_TYPE_STRING_LIST {
                Custom::List
            } else {
                Custom::None
            };
            let Some(r) = self.tok_value(
                ft_flags,
                &fid,
                field_num,
                implicit,
                last,
                &mut flags,
                custom,
                &mut parsed,
            ) else {
                self.syntax_error(s);
                return None;
            };
            (next, vb, ve, rm) = r;
        }
        let next = self.skip_space(next);
        let value = self.s.get(vb..ve).unwrap_or(b"").to_vec();
        let fs =
            self.create_field_selection(field_num, implicit, &value, flags, rm, custom, parsed)?;
        Some((
            Node {
                kind: NodeKind::Item(Box::new(fs)),
                not: false,
            },
            next,
        ))
    }

    /// `_create_field_selection`.
    #[allow(clippy::too_many_arguments)]
    fn create_field_selection(
        &mut self,
        field_num: u32,
        implicit: bool,
        v: &[u8],
        flags: u32,
        rm: Option<ReservedMatch>,
        custom: Custom,
        parsed: Parsed,
    ) -> Option<FieldSel> {
        let found = self.rh.order.iter().copied().find(|&pid| {
            self.rh
                .props
                .get(pid)
                .is_some_and(|p| p.implicit == implicit && p.field_num == field_num)
        });
        let pid = match found {
            Some(p) => p,
            None => {
                if self.add_new_fields {
                    let p = self
                        .rh
                        .add_field(field_num, implicit, FLD_HIDDEN, self.log)?;
                    self.rh.report_types |= self.rh.field(implicit, field_num).type_id;
                    p
                } else {
                    let m = cat(&[
                        b"Unable to create selection with field '",
                        self.rh.field(implicit, field_num).id,
                        b"' which is not included in current report.",
                    ]);
                    self.log.error(&m);
                    return None;
                }
            }
        };
        let pflags = self.rh.props.get(pid).map(|p| p.flags).unwrap_or(0);
        let fid = self.rh.prop_field(pid).id.to_vec();
        if pflags & flags & FIELD_TYPE_MASK == 0 {
            self.log.error(&cat(&[
                b"dm_report: incompatible comparison type for selection field ",
                &fid,
            ]));
            return None;
        }
        let reserved = rm.as_ref().and_then(|m| {
            self.rh
                .reserved
                .as_ref()
                .and_then(|r| r.get(m.idx))
                .map(|rv| (rv.type_flags, rv.value.clone()))
        });
        let res_range = reserved
            .as_ref()
            .is_some_and(|(tf, _)| tf & RESERVED_VALUE_RANGE != 0);
        let range = res_range
            || (flags & FIELD_TYPE_MASK == FIELD_TYPE_TIME
                && custom == Custom::Time
                && parsed.tval.range);

        // _get_reserved_value
        let mut value: Option<ReservedData> = None;
        if let (Some((tf, data)), Some(m)) = (reserved, rm.as_ref()) {
            if tf & (RESERVED_VALUE_DYNAMIC_VALUE | RESERVED_VALUE_FUZZY_NAMES) != 0 {
                let r = match &data {
                    ReservedData::Handler(h) => h.dynamic_value(field_num, &m.name),
                    _ => HandlerResult::Error,
                };
                let ufid = self.field_id(false, field_num);
                match r {
                    HandlerResult::Ok(v) => value = v,
                    HandlerResult::NotImplemented => {
                        self.log.error(&cat(&[
                            b"Internal error: ",
                            specific(tf),
                            b" reserved value handler for field ",
                            &ufid,
                            b" has missingimplementation of DM_REPORT_RESERVED_GET_DYNAMIC_VALUE action",
                        ]));
                        self.log.error(&cat(&[b"dm_report: could not get reserved value while processing selection field ", &fid]));
                        return None;
                    }
                    HandlerResult::Error => {
                        self.log.error(&cat(&[
                            b"Error occured while processing ",
                            specific(tf),
                            b" reserved value handler for field ",
                            &ufid,
                        ]));
                        self.log.error(&cat(&[b"dm_report: could not get reserved value while processing selection field ", &fid]));
                        return None;
                    }
                }
            } else {
                value = Some(data);
            }
        }

        let mk = |v1: SelVal, v2: Option<SelVal>| FieldSel {
            pid,
            field_num,
            implicit,
            flags,
            v1,
            v2,
        };

        if flags & FLD_CMP_REGEX != 0 {
            let mut lines = Vec::new();
            let r = Regex::compile(v, &mut lines);
            for l in &lines {
                self.log.error(l);
            }
            return match r {
                Some(r) => Some(mk(SelVal::Regex(r), None)),
                None => {
                    self.log.error(&cat(&[
                        b"dm_report: failed to create regex matcher for selection field ",
                        &fid,
                    ]));
                    None
                }
            };
        }
        match flags & FIELD_TYPE_MASK {
            FIELD_TYPE_STRING => {
                if let Some(val) = value {
                    let s = match val {
                        ReservedData::Str(s) => s,
                        _ => Vec::new(),
                    };
                    Some(mk(SelVal::Str(s), range.then(|| SelVal::Str(Vec::new()))))
                } else {
                    if check_value_is_strictly_reserved(
                        self.rh,
                        field_num,
                        FIELD_TYPE_STRING,
                        CheckVal::Str(v),
                        None,
                    ) {
                        self.log.error(&cat(&[
                            b"String value ",
                            v,
                            b" found in selection is reserved.",
                        ]));
                        return None;
                    }
                    Some(mk(
                        SelVal::Str(v.to_vec()),
                        range.then(|| SelVal::Str(Vec::new())),
                    ))
                }
            }
            FIELD_TYPE_NUMBER => {
                if let Some(val) = value {
                    Some(mk(
                        SelVal::Int(val.word(0)),
                        range.then(|| SelVal::Int(val.word(1))),
                    ))
                } else {
                    let (n, overflow) = strtoull(v);
                    if overflow {
                        self.log
                            .error(&cat(&[OUT_OF_RANGE_1, v, OUT_OF_RANGE_2, &fid, b"."]));
                        return None;
                    }
                    if check_value_is_strictly_reserved(
                        self.rh,
                        field_num,
                        FIELD_TYPE_NUMBER,
                        CheckVal::U64(n),
                        None,
                    ) {
                        let m = format!("Numeric value {n} found in selection is reserved.");
                        self.log.error(m.as_bytes());
                        return None;
                    }
                    Some(mk(SelVal::Int(n), range.then_some(SelVal::Int(0))))
                }
            }
            FIELD_TYPE_SIZE => {
                if let Some(val) = value {
                    Some(mk(
                        SelVal::Dbl(f64::from_bits(val.word(0))),
                        range.then(|| SelVal::Dbl(f64::from_bits(val.word(1)))),
                    ))
                } else {
                    let (mut d, erange) = strtod(v);
                    if erange {
                        self.log
                            .error(&cat(&[OUT_OF_RANGE_1, v, OUT_OF_RANGE_2, &fid, b"."]));
                        return None;
                    }
                    if custom == Custom::Factor && parsed.factor != 0 {
                        d *= parsed.factor as f64;
                    }
                    d /= 512.0;
                    if check_value_is_strictly_reserved(
                        self.rh,
                        field_num,
                        FIELD_TYPE_SIZE,
                        CheckVal::F64(d),
                        None,
                    ) {
                        let m = format!("Size value {d:.6} found in selection is reserved.");
                        self.log.error(m.as_bytes());
                        return None;
                    }
                    Some(mk(SelVal::Dbl(d), range.then_some(SelVal::Dbl(0.0))))
                }
            }
            FIELD_TYPE_PERCENT => {
                if let Some(val) = value {
                    Some(mk(
                        SelVal::Int(val.word(0)),
                        range.then(|| SelVal::Int(val.word(1))),
                    ))
                } else {
                    let (d, erange) = strtod(v);
                    if erange || !(0.0..=100.0).contains(&d) {
                        self.log
                            .error(&cat(&[OUT_OF_RANGE_1, v, OUT_OF_RANGE_2, &fid, b"."]));
                        return None;
                    }
                    let p = (f64::from(PERCENT_1) * d) as i32;
                    Some(mk(
                        SelVal::Int(p as i64 as u64),
                        range.then_some(SelVal::Int(0)),
                    ))
                }
            }
            FIELD_TYPE_STRING_LIST => {
                if custom != Custom::List {
                    self.log
                        .error(b"Internal error: Forbiden NULL custom detected.");
                    return None;
                }
                let list = parsed.list.unwrap_or(SelList {
                    items: Vec::new(),
                    typ: 0,
                });
                Some(mk(SelVal::List(list), None))
            }
            FIELD_TYPE_TIME => {
                if let Some(val) = value {
                    Some(mk(
                        SelVal::Time(val.word(0) as i64),
                        range.then(|| SelVal::Time(val.word(1) as i64)),
                    ))
                } else {
                    let tv = parsed.tval;
                    Some(mk(
                        SelVal::Time(tv.t1),
                        range.then_some(SelVal::Time(if tv.range { tv.t2 } else { 0 })),
                    ))
                }
            }
            _ => {
                self.log.error(&cat(&[
                    b"Internal error: _create_field_selection: unknown type of selection field ",
                    &fid,
                ]));
                None
            }
        }
    }

    /// `_parse_ex`.
    fn parse_ex(&mut self, s: usize) -> Option<(Node, usize)> {
        let (t, next) = self.tok_op_log(s, SEL_MODIFIER_NOT | SEL_PRECEDENCE_PS);
        if t == SEL_MODIFIER_NOT {
            let (ps, tmp) = self.tok_op_log(next, SEL_PRECEDENCE_PS);
            if ps == 0 {
                let m = cat(&[
                    b"Syntax error: left parenthesis expected at '",
                    self.rest(next),
                    b"'",
                ]);
                self.log.error(&m);
                return None;
            }
            let (mut sn, next) = self.nested(tmp)?;
            sn.not = true;
            let (pe, tmp) = self.tok_op_log(next, SEL_PRECEDENCE_PE);
            if pe == 0 {
                let m = cat(&[
                    b"Syntax error: right parenthesis expected at '",
                    self.rest(next),
                    b"'",
                ]);
                self.log.error(&m);
                return None;
            }
            Some((sn, tmp))
        } else if t == SEL_PRECEDENCE_PS {
            let (sn, tmp) = self.nested(next)?;
            let (pe, next) = self.tok_op_log(tmp, SEL_PRECEDENCE_PE);
            if pe == 0 {
                let m = cat(&[
                    b"Syntax error: right parenthesis expected at '",
                    self.rest(next),
                    b"'",
                ]);
                self.log.error(&m);
                return None;
            }
            Some((sn, next))
        } else {
            let s = self.skip_space(s);
            self.parse_selection(s)
        }
    }

    fn nested(&mut self, s: usize) -> Option<(Node, usize)> {
        if self.depth >= MAX_NESTING {
            self.syntax_error(s);
            return None;
        }
        self.depth += 1;
        let r = self.parse_or_ex(s, false);
        self.depth -= 1;
        r
    }

    /// `_parse_and_ex`.
    fn parse_and_ex(&mut self, s: usize) -> Option<(Node, usize)> {
        let (n, mut next) = self.parse_ex(s)?;
        let mut items = vec![n];
        loop {
            let (op, tmp) = self.tok_op_log(next, SEL_AND);
            if op == 0 {
                break;
            }
            let (n, nx) = self.parse_ex(tmp)?;
            items.push(n);
            next = nx;
        }
        if items.len() == 1 {
            return items.pop().map(|n| (n, next));
        }
        Some((
            Node {
                kind: NodeKind::And(items),
                not: false,
            },
            next,
        ))
    }

    /// `_parse_or_ex`.
    fn parse_or_ex(&mut self, s: usize, root: bool) -> Option<(Node, usize)> {
        let (n, mut next) = self.parse_and_ex(s)?;
        let mut items = vec![n];
        loop {
            let (op, tmp) = self.tok_op_log(next, SEL_OR);
            if op == 0 {
                break;
            }
            let (n, nx) = self.parse_and_ex(tmp)?;
            items.push(n);
            next = nx;
        }
        if items.len() == 1 && !root {
            return items.pop().map(|n| (n, next));
        }
        Some((
            Node {
                kind: NodeKind::Or(items),
                not: false,
            },
            next,
        ))
    }
}

/// A value checked against reserved values.
enum CheckVal<'a> {
    U64(u64),
    F64(f64),
    Str(&'a [u8]),
    Other,
}

fn dbl_equal(a: f64, b: f64) -> bool {
    (a - b).abs() < f64::EPSILON
}
fn dbl_greater(a: f64, b: f64) -> bool {
    a > b && !dbl_equal(a, b)
}
fn dbl_less(a: f64, b: f64) -> bool {
    a < b && !dbl_equal(a, b)
}
fn dbl_ge(a: f64, b: f64) -> bool {
    dbl_greater(a, b) || dbl_equal(a, b)
}
fn dbl_le(a: f64, b: f64) -> bool {
    dbl_less(a, b) || dbl_equal(a, b)
}

fn sel_int(v: &SelVal) -> u64 {
    match v {
        SelVal::Int(i) => *i,
        SelVal::Time(t) => *t as u64,
        _ => 0,
    }
}
fn sel_dbl(v: &SelVal) -> f64 {
    match v {
        SelVal::Dbl(d) => *d,
        _ => 0.0,
    }
}
fn sel_time(v: &SelVal) -> i64 {
    match v {
        SelVal::Time(t) => *t,
        SelVal::Int(i) => *i as i64,
        _ => 0,
    }
}

/// `_do_check_value_is_strictly_reserved`.
fn do_check_strict(
    typ: u32,
    res: &ReservedData,
    res_range: bool,
    val: &CheckVal<'_>,
    fs: Option<&FieldSel>,
) -> bool {
    if matches!(res, ReservedData::Handler(_)) {
        return false;
    }
    let sel_range = fs.is_some_and(|f| f.v2.is_some());
    let fs1 = fs.map(|f| &f.v1);
    let fs2 = fs.and_then(|f| f.v2.as_ref());
    match typ & FIELD_TYPE_MASK {
        FIELD_TYPE_NUMBER => {
            let CheckVal::U64(v) = *val else { return false };
            let (r0, r1) = (res.word(0), res.word(1));
            let s1 = fs1.map(sel_int);
            let s2 = fs2.map(sel_int).unwrap_or(0);
            if res_range && sel_range {
                (v >= r0 && v <= r1) || s1.is_some_and(|s1| s1 == r0 && s2 == r1)
            } else if res_range {
                (v >= r0 && v <= r1) || s1.is_some_and(|s1| s1 >= r0 && s1 <= r1)
            } else if sel_range {
                v == r0 || s1.is_some_and(|s1| s1 >= r0 && s2 <= r0)
            } else {
                v == r0 || s1.is_some_and(|s1| s1 == r0)
            }
        }
        FIELD_TYPE_STRING => {
            let ReservedData::Str(r) = res else {
                return false;
            };
            let CheckVal::Str(v) = *val else { return false };
            v == r.as_slice() || matches!(fs1, Some(SelVal::Str(s)) if s == r)
        }
        FIELD_TYPE_SIZE => {
            let CheckVal::F64(v) = *val else { return false };
            let (r0, r1) = (f64::from_bits(res.word(0)), f64::from_bits(res.word(1)));
            let s1 = fs1.map(sel_dbl);
            let s2 = fs2.map(sel_dbl).unwrap_or(0.0);
            if res_range && sel_range {
                (dbl_ge(v, r0) && dbl_le(v, r1))
                    || s1.is_some_and(|s1| dbl_equal(s1, r0) && dbl_equal(s2, r1))
            } else if res_range {
                (dbl_ge(v, r0) && dbl_le(v, r1))
                    || s1.is_some_and(|s1| dbl_ge(s1, r0) && dbl_le(s1, r1))
            } else if sel_range {
                (dbl_ge(v, r0) && dbl_le(v, r0))
                    || s1.is_some_and(|s1| dbl_ge(s1, r0) && dbl_le(s2, r0))
            } else {
                dbl_equal(v, r0) || s1.is_some_and(|s1| dbl_equal(s1, r0))
            }
        }
        _ => false,
    }
}

/// `_check_value_is_strictly_reserved`.
fn check_value_is_strictly_reserved(
    rh: &ReportState,
    field_num: u32,
    typ: u32,
    val: CheckVal<'_>,
    fs: Option<&FieldSel>,
) -> bool {
    let Some(res) = &rh.reserved else {
        return false;
    };
    for rv in res {
        if rv.type_flags & RESERVED_VALUE_NAMED != 0 {
            continue;
        }
        let res_range = rv.type_flags & RESERVED_VALUE_RANGE != 0;
        if rv.type_flags & FIELD_TYPE_MASK == FIELD_TYPE_NONE {
            if rv.field_num == field_num && do_check_strict(typ, &rv.value, res_range, &val, fs) {
                return true;
            }
        } else if rv.type_flags & typ != 0 && do_check_strict(typ, &rv.value, res_range, &val, fs) {
            return true;
        }
    }
    false
}

impl Selection {
    /// Parses `sel` (non-empty, not "all") for `rh` (stock's `_report_set_selection`
    /// after its early returns). `None` on error, with the messages logged.
    pub(crate) fn parse(
        rh: &mut ReportState,
        sel: &[u8],
        add_new_fields: bool,
        log: &mut Logger<'_>,
    ) -> Option<Selection> {
        let mut p = Parser {
            rh,
            s: sel,
            add_new_fields,
            log,
            depth: 0,
        };
        let (root, fin) = p.parse_or_ex(0, true)?;
        let next = p.skip_space(fin);
        if p.at(next) != 0 {
            p.log.error(b"Expecting logical operator");
            p.syntax_error(next);
            return None;
        }
        Some(Selection { root })
    }

    /// `_check_report_selection`.
    pub(crate) fn check(&self, rh: &ReportState, row: &Row, log: &mut Logger<'_>) -> bool {
        check_node(rh, &self.root, row, log)
    }
}

fn check_node(rh: &ReportState, n: &Node, row: &Row, log: &mut Logger<'_>) -> bool {
    let r = match &n.kind {
        NodeKind::Item(fs) => match row.values.get(fs.pid) {
            Some(v) => compare_field(rh, v, fs, log),
            None => true,
        },
        NodeKind::Or(items) => items.iter().any(|i| check_node(rh, i, row, log)),
        NodeKind::And(items) => items.iter().all(|i| check_node(rh, i, row, log)),
    };
    r != n.not
}

fn unsupported(log: &mut Logger<'_>, what: &[u8], fid: &[u8]) {
    log.error(&cat(&[b"Internal error: ", what, fid]));
}

/// `_compare_selection_field`.
fn compare_field(rh: &ReportState, f: &FieldValue, fs: &FieldSel, log: &mut Logger<'_>) -> bool {
    let pflags = rh.props.get(fs.pid).map(|p| p.flags).unwrap_or(0);
    let fid = rh.field(fs.implicit, fs.field_num).id;
    let not = fs.flags & FLD_CMP_NOT != 0;
    if fs.flags & FLD_CMP_REGEX != 0 {
        let m = match &fs.v1 {
            SelVal::Regex(r) => f.with_sort_str(|s| r.is_match(s)),
            _ => false,
        };
        return m != not;
    }
    match pflags & FIELD_TYPE_MASK {
        FIELD_TYPE_PERCENT | FIELD_TYPE_NUMBER => {
            let val = f.word();
            if pflags & FIELD_TYPE_MASK == FIELD_TYPE_PERCENT && val > PERCENT_100 as u64 {
                return false;
            }
            cmp_int(rh, fs, fid, val, log)
        }
        FIELD_TYPE_SIZE => cmp_double(rh, fs, fid, f64::from_bits(f.word()), log),
        FIELD_TYPE_STRING => f.with_sort_str(|s| {
            let sel = match &fs.v1 {
                SelVal::Str(x) => x.as_slice(),
                _ => b"",
            };
            match fs.flags & FLD_CMP_MASK {
                FLD_CMP_EQUAL => s == sel,
                x if x == FLD_CMP_NOT | FLD_CMP_EQUAL => s != sel,
                _ => {
                    unsupported(log, b"_cmp_field_string: unsupported string comparison type for selection field ", fid);
                    false
                }
            }
        }),
        FIELD_TYPE_STRING_LIST => cmp_string_list(f, fs, fid, log),
        FIELD_TYPE_TIME => cmp_time(rh, fs, fid, f.word() as i64, log),
        _ => {
            unsupported(log, b"_compare_selection_field: unknown field type for field ", fid);
            false
        }
    }
}

fn cmp_int(rh: &ReportState, fs: &FieldSel, fid: &[u8], val: u64, log: &mut Logger<'_>) -> bool {
    let range = fs.v2.is_some();
    let sel1 = sel_int(&fs.v1);
    let sel2 = fs.v2.as_ref().map(sel_int).unwrap_or(0);
    let reserved = || {
        check_value_is_strictly_reserved(
            rh,
            fs.field_num,
            FIELD_TYPE_NUMBER,
            CheckVal::U64(val),
            Some(fs),
        )
    };
    match fs.flags & FLD_CMP_MASK {
        FLD_CMP_EQUAL => {
            if range {
                val >= sel1 && val <= sel2
            } else {
                val == sel1
            }
        }
        x if x == FLD_CMP_NOT | FLD_CMP_EQUAL => {
            if range {
                !(val >= sel1 && val <= sel2)
            } else {
                val != sel1
            }
        }
        x if x == FLD_CMP_NUMBER | FLD_CMP_GT => {
            !reserved() && if range { val > sel2 } else { val > sel1 }
        }
        x if x == FLD_CMP_NUMBER | FLD_CMP_GT | FLD_CMP_EQUAL => !reserved() && val >= sel1,
        x if x == FLD_CMP_NUMBER | FLD_CMP_LT => !reserved() && val < sel1,
        x if x == FLD_CMP_NUMBER | FLD_CMP_LT | FLD_CMP_EQUAL => {
            !reserved() && if range { val <= sel2 } else { val <= sel1 }
        }
        _ => {
            unsupported(
                log,
                b"_cmp_field_int: unsupported number comparison type for field ",
                fid,
            );
            false
        }
    }
}

fn cmp_double(rh: &ReportState, fs: &FieldSel, fid: &[u8], val: f64, log: &mut Logger<'_>) -> bool {
    let range = fs.v2.is_some();
    let sel1 = sel_dbl(&fs.v1);
    let sel2 = fs.v2.as_ref().map(sel_dbl).unwrap_or(0.0);
    let reserved = || {
        check_value_is_strictly_reserved(
            rh,
            fs.field_num,
            FIELD_TYPE_SIZE,
            CheckVal::F64(val),
            Some(fs),
        )
    };
    match fs.flags & FLD_CMP_MASK {
        FLD_CMP_EQUAL => {
            if range {
                dbl_ge(val, sel1) && dbl_le(val, sel2)
            } else {
                dbl_equal(val, sel1)
            }
        }
        x if x == FLD_CMP_NOT | FLD_CMP_EQUAL => {
            if range {
                !(dbl_ge(val, sel1) && dbl_le(val, sel2))
            } else {
                !dbl_equal(val, sel1)
            }
        }
        x if x == FLD_CMP_NUMBER | FLD_CMP_GT => {
            !reserved()
                && if range {
                    dbl_greater(val, sel2)
                } else {
                    dbl_greater(val, sel1)
                }
        }
        x if x == FLD_CMP_NUMBER | FLD_CMP_GT | FLD_CMP_EQUAL => !reserved() && dbl_ge(val, sel1),
        x if x == FLD_CMP_NUMBER | FLD_CMP_LT => !reserved() && dbl_less(val, sel1),
        x if x == FLD_CMP_NUMBER | FLD_CMP_LT | FLD_CMP_EQUAL => {
            !reserved()
                && if range {
                    dbl_le(val, sel2)
                } else {
                    dbl_le(val, sel1)
                }
        }
        _ => {
            unsupported(
                log,
                b"_cmp_field_double: unsupported number comparison type for selection field ",
                fid,
            );
            false
        }
    }
}

fn cmp_time(rh: &ReportState, fs: &FieldSel, fid: &[u8], val: i64, log: &mut Logger<'_>) -> bool {
    let range = fs.v2.is_some();
    let sel1 = sel_time(&fs.v1);
    let sel2 = fs.v2.as_ref().map(sel_time).unwrap_or(0);
    let reserved = || {
        check_value_is_strictly_reserved(
            rh,
            fs.field_num,
            FIELD_TYPE_TIME,
            CheckVal::Other,
            Some(fs),
        )
    };
    match fs.flags & FLD_CMP_MASK {
        FLD_CMP_EQUAL => {
            if range {
                val >= sel1 && val <= sel2
            } else {
                val == sel1
            }
        }
        // stock: "!=" on a range matches like "=" does
        x if x == FLD_CMP_NOT | FLD_CMP_EQUAL => {
            if range {
                val >= sel1 && val <= sel2
            } else {
                val != sel1
            }
        }
        x if x == FLD_CMP_TIME | FLD_CMP_GT => {
            !reserved() && if range { val > sel2 } else { val > sel1 }
        }
        x if x == FLD_CMP_TIME | FLD_CMP_GT | FLD_CMP_EQUAL => !reserved() && val >= sel1,
        x if x == FLD_CMP_TIME | FLD_CMP_LT => !reserved() && val < sel1,
        x if x == FLD_CMP_TIME | FLD_CMP_LT | FLD_CMP_EQUAL => {
            !reserved() && if range { val <= sel2 } else { val <= sel1 }
        }
        _ => {
            unsupported(
                log,
                b"_cmp_field_time: unsupported time comparison type for field ",
                fid,
            );
            false
        }
    }
}

fn list_item<'a>(f: &'a FieldValue, items: &[(u32, u32)], i: usize) -> &'a [u8] {
    items
        .get(i)
        .and_then(|&(p, l)| {
            f.display
                .get(p as usize..(p as usize).saturating_add(l as usize))
        })
        .unwrap_or(b"")
}

fn cmp_string_list(f: &FieldValue, fs: &FieldSel, fid: &[u8], log: &mut Logger<'_>) -> bool {
    let SelVal::List(sel) = &fs.v1 else {
        return false;
    };
    let single;
    let items: &[(u32, u32)] = match &f.sort {
        SortValue::List(v) => v,
        _ => {
            single = [(0u32, f.display.len() as u32)];
            &single
        }
    };
    let subset = match sel.typ & SEL_LIST_MASK {
        SEL_LIST_LS => false,
        SEL_LIST_SUBSET_LS => true,
        _ => {
            log.error(b"Internal error: _cmp_field_string_list: unknown list type");
            return false;
        }
    };
    let count = items.len();
    let blank_match = || sel.items.len() == 1 && sel.items.first().is_some_and(|s| s.is_empty());
    let r = match sel.typ & SEL_MASK {
        SEL_AND => {
            if count == 0 {
                blank_match()
            } else if subset {
                let mut last_found = 0usize;
                let mut r = false;
                for s in &sel.items {
                    r = false;
                    let start = last_found;
                    for i in start..count {
                        if list_item(f, items, i) == s.as_slice() {
                            last_found = i;
                            r = true;
                        }
                    }
                    if !r {
                        break;
                    }
                }
                r
            } else {
                count == sel.items.len()
                    && sel
                        .items
                        .iter()
                        .enumerate()
                        .all(|(i, s)| list_item(f, items, i) == s.as_slice())
            }
        }
        SEL_OR => {
            if count == 0 {
                sel.items.iter().any(|s| s.is_empty())
            } else {
                sel.items
                    .iter()
                    .any(|s| (0..count).any(|i| list_item(f, items, i) == s.as_slice()))
            }
        }
        _ => {
            log.error(&cat(&[
                b"Internal error: _cmp_field_string_list: unsupported string list type found, expecting either AND or OR list for selection field ",
                fid,
            ]));
            return false;
        }
    };
    r != (fs.flags & FLD_CMP_NOT != 0)
}

/// `_check_reserved_values_supported`.
pub(crate) fn check_reserved_values_supported(
    fields: &[FieldDef],
    reserved: &[ReservedValue],
    log: &mut Logger<'_>,
) -> bool {
    const SUPPORTED: u32 = FIELD_TYPE_NUMBER
        | FIELD_TYPE_SIZE
        | FIELD_TYPE_PERCENT
        | FIELD_TYPE_STRING
        | FIELD_TYPE_TIME;
    const WITH_RANGE: u32 = RESERVED_VALUE_RANGE
        | FIELD_TYPE_NUMBER
        | FIELD_TYPE_SIZE
        | FIELD_TYPE_PERCENT
        | FIELD_TYPE_TIME;
    for rv in reserved {
        if rv.type_flags & FIELD_TYPE_MASK != 0 {
            if rv.type_flags & SUPPORTED == 0
                || (rv.type_flags & RESERVED_VALUE_RANGE != 0 && rv.type_flags & WITH_RANGE == 0)
            {
                let m = format!(
                    "Internal error: _check_reserved_values_supported: global reserved value for type 0x{:x} not supported",
                    rv.type_flags
                );
                log.error(m.as_bytes());
                return false;
            }
        } else {
            let (fflags, fid) = match fields.get(rv.field_num as usize) {
                Some(f) => (f.flags, f.id.as_slice()),
                None => (0, &b""[..]),
            };
            if fflags & SUPPORTED == 0
                || (rv.type_flags & RESERVED_VALUE_RANGE != 0 && rv.type_flags & WITH_RANGE == 0)
            {
                let mut m = format!(
                    "Internal error: _check_reserved_values_supported: field-specific reserved value of type 0x{:x} for field ",
                    fflags & FIELD_TYPE_MASK
                )
                .into_bytes();
                m.extend_from_slice(fid);
                m.extend_from_slice(b" not supported");
                log.error(&m);
                return false;
            }
        }
    }
    true
}

/// `_display_selection_help`.
pub(crate) fn display_selection_help(rh: &ReportState, log: &mut Logger<'_>) {
    log.warn(b"Selection operands");
    log.warn(b"------------------");
    log.warn(b"  field               - Reporting field.");
    log.warn(b"  number              - Non-negative integer value.");
    log.warn(b"  size                - Floating point value with units, 'm' unit used by default if not specified.");
    log.warn(b"  percent             - Non-negative integer with or without % suffix.");
    log.warn(b"  string              - Characters quoted by ' or \" or unquoted.");
    log.warn(
        b"  string list         - Strings enclosed by [ ] or { } and elements delimited by either",
    );
    log.warn(b"                        \"all items must match\" or \"at least one item must match\" operator.");
    log.warn(b"  regular expression  - Characters quoted by ' or \" or unquoted.");
    log.warn(b" ");
    if let Some(res) = &rh.reserved {
        log.warn(b"Reserved values");
        log.warn(b"---------------");
        let listed = || res.iter().take_while(|rv| rv.type_flags != 0);
        let len_final = listed()
            .map(|rv| rv.names.iter().map(|n| n.len() + 2).sum::<usize>())
            .max()
            .unwrap_or(0);
        for rv in listed() {
            let mut all = Vec::new();
            for (k, n) in rv.names.iter().enumerate() {
                if k > 0 {
                    all.extend_from_slice(b", ");
                }
                all.extend_from_slice(n);
            }
            let mut l = b"  ".to_vec();
            l.extend_from_slice(&all);
            l.extend(std::iter::repeat_n(
                b' ',
                len_final.saturating_sub(all.len()),
            ));
            l.extend_from_slice(b" - ");
            l.extend_from_slice(&rv.description);
            l.extend_from_slice(b" [");
            l.extend_from_slice(ReportState::get_field_type_name(rv.type_flags));
            l.extend_from_slice(b"]");
            log.warn(&l);
        }
        log.warn(b" ");
    }
    log.warn(b"Selection operators");
    log.warn(b"-------------------");
    log.warn(b"  Comparison operators:");
    for t in &OP_CMP {
        let mut l = b"    ".to_vec();
        l.extend(std::iter::repeat_n(b' ', 6usize.saturating_sub(t.s.len())));
        l.extend_from_slice(t.s);
        l.extend_from_slice(b"  - ");
        l.extend_from_slice(t.desc);
        log.warn(&l);
    }
    log.warn(b" ");
    log.warn(b"  Logical and grouping operators:");
    for t in &OP_LOG {
        let mut l = b"    ".to_vec();
        l.extend(std::iter::repeat_n(b' ', 4usize.saturating_sub(t.s.len())));
        l.extend_from_slice(t.s);
        l.extend_from_slice(b"  - ");
        l.extend_from_slice(t.desc);
        log.warn(&l);
    }
    log.warn(b" ");
}
