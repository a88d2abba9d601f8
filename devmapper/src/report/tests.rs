//! Tests: the golden transcripts of stock libdevmapper
//! (`tests/fixtures/report/*.case` + `*.out`, made by
//! `capi-tests/report-oracle/regen.sh`) replayed through this engine, and
//! typed-layer checks.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::*;

// ---------------------------------------------------------------- harness

fn split_args(line: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < line.len() {
        let c = line[i];
        let cur = out.last_mut().expect("one arg");
        if c == b'\\' && i + 1 < line.len() {
            i += 1;
            match line[i] {
                b'n' => cur.push(b'\n'),
                b't' => cur.push(b'\t'),
                b'x' if i + 2 < line.len()
                    && hex(line[i + 1]).is_some()
                    && hex(line[i + 2]).is_some() =>
                {
                    cur.push(
                        (hex(line[i + 1]).unwrap_or(0) * 16 + hex(line[i + 2]).unwrap_or(0)) as u8,
                    );
                    i += 2;
                }
                o => cur.push(o),
            }
            i += 1;
        } else if c == b'|' {
            out.push(Vec::new());
            i += 1;
        } else {
            cur.push(c);
            i += 1;
        }
    }
    out
}

/// C `strtoull(s, NULL, 0)`.
fn strtoull0(s: &[u8]) -> u64 {
    let s = std::str::from_utf8(s).unwrap_or("").trim_start();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let v =
        u64::from_str_radix(&digits[..end], radix).unwrap_or(if end == 0 { 0 } else { u64::MAX });
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

fn strtoll0(s: &[u8]) -> i64 {
    strtoull0(s) as i64
}

fn strtod(s: &[u8]) -> f64 {
    std::str::from_utf8(s)
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0.0)
}

fn opt(a: &[u8]) -> Option<Vec<u8>> {
    (a != b"-").then(|| a.to_vec())
}

fn parse_flags(s: &[u8]) -> u32 {
    if s.is_empty() || s[0].is_ascii_digit() {
        return strtoull0(s) as u32;
    }
    let mut f = 0;
    for t in s.split(|&c| c == b',') {
        f |= match t {
            b"aligned" => OUTPUT_ALIGNED,
            b"buffered" => OUTPUT_BUFFERED,
            b"headings" => OUTPUT_HEADINGS,
            b"prefix" => OUTPUT_FIELD_NAME_PREFIX,
            b"unquoted" => OUTPUT_FIELD_UNQUOTED,
            b"rows" => OUTPUT_COLUMNS_AS_ROWS,
            b"multiple" => OUTPUT_MULTIPLE_TIMES,
            b"none" => 0,
            _ => panic!("unknown flag {}", String::from_utf8_lossy(t)),
        };
    }
    f
}

/// The driver's reserved value handler (see report-driver.c).
struct TestHandler {
    field_types: Vec<u32>,
}

impl ReservedHandler for TestHandler {
    fn parse_fuzzy_name(&self, _field_num: u32, name: &[u8]) -> HandlerResult<Vec<u8>> {
        match name {
            b"fzerr" => HandlerResult::Error,
            b"fznot" => HandlerResult::NotImplemented,
            n if n.starts_with(b"fz") => HandlerResult::Ok(Some(b"fuzzy".to_vec())),
            _ => HandlerResult::Ok(None),
        }
    }

    fn dynamic_value(&self, field_num: u32, name: &[u8]) -> HandlerResult<ReservedData> {
        match name {
            b"dynerr" => return HandlerResult::Error,
            b"dynnot" => return HandlerResult::NotImplemented,
            b"dynnull" => return HandlerResult::Ok(None),
            _ => {}
        }
        let t = self
            .field_types
            .get(field_num as usize)
            .copied()
            .unwrap_or(0)
            & FIELD_TYPE_MASK;
        HandlerResult::Ok(Some(match t {
            FIELD_TYPE_SIZE => ReservedData::size_range(2048.0, 4096.0),
            FIELD_TYPE_TIME => ReservedData::time_range(1000, 2000),
            FIELD_TYPE_STRING => ReservedData::string(b"dynstr"),
            _ => ReservedData::number_range(3, 9),
        }))
    }
}

#[derive(Default)]
struct Transcript {
    lines: Vec<Vec<u8>>,
}

impl Transcript {
    fn result(&mut self, s: String) {
        self.lines.push(s.into_bytes());
    }
}

impl LogSink for Transcript {
    fn log(&mut self, level: LogLevel, msg: &[u8]) {
        let mut l = format!("L{}|", level.dm_level()).into_bytes();
        for &c in msg {
            match c {
                b'\\' => l.extend_from_slice(b"\\\\"),
                b'\n' => l.extend_from_slice(b"\\n"),
                c => l.push(c),
            }
        }
        self.lines.push(l);
    }
}

/// One row object of the case: value specs per field index.
struct Obj {
    specs: Vec<Vec<u8>>,
    field_types: Vec<u32>,
    null_types: Vec<u32>,
}

impl ObjectSource for Obj {
    fn field_value(
        &mut self,
        field_num: u32,
        log: &mut dyn LogSink,
    ) -> Result<FieldValue, FieldError> {
        let i = field_num as usize;
        let t = self.field_types.get(i).copied().unwrap_or(0);
        if self.null_types.contains(&t) {
            return Err(FieldError::NoData);
        }
        let Some(spec) = self.specs.get(i) else {
            return Err(FieldError::Failed);
        };
        let (kind, rest) = match spec.iter().position(|&c| c == b':') {
            Some(p) => (&spec[..p], &spec[p + 1..]),
            None => (&spec[..], &b""[..]),
        };
        let two = |rest: &[u8]| -> (Vec<u8>, Vec<u8>) {
            match rest.iter().position(|&c| c == b':') {
                Some(p) => (rest[..p].to_vec(), rest[p + 1..].to_vec()),
                None => (rest.to_vec(), Vec::new()),
            }
        };
        Ok(match kind {
            b"s" => FieldValue::string(rest),
            b"i" | b"i32" => FieldValue::int(strtoll0(rest) as i32),
            b"u32" => FieldValue::uint32(strtoull0(rest) as u32),
            b"u64" => FieldValue::uint64(strtoull0(rest)),
            b"p" => match FieldValue::percent(strtoll0(rest) as i32) {
                Ok(v) => v,
                Err(e) => {
                    for l in e.lines() {
                        log.log(LogLevel::Error, l);
                    }
                    return Err(FieldError::Failed);
                }
            },
            b"l" | b"lu" => {
                let (delim, items) = two(rest);
                let delim = (delim != b"-").then_some(delim);
                let list: Vec<Vec<u8>> = match items.split_first() {
                    None => Vec::new(),
                    Some((&sep, tail)) => tail.split(|&c| c == sep).map(|x| x.to_vec()).collect(),
                };
                FieldValue::string_list(&list, delim.as_deref(), kind == b"l")
            }
            b"sv" => FieldValue::with_sort(rest, None),
            b"svu" => {
                let (n, t) = two(rest);
                FieldValue::with_sort(&t, Some(SortValue::Word(strtoull0(&n))))
            }
            b"svd" => {
                let (n, t) = two(rest);
                FieldValue::with_sort(&t, Some(SortValue::Word(strtod(&n).to_bits())))
            }
            b"svt" => {
                let (n, t) = two(rest);
                FieldValue::with_sort(&t, Some(SortValue::Word(strtoll0(&n) as u64)))
            }
            b"fail" => return Err(FieldError::Failed),
            k => panic!("unknown value kind {}", String::from_utf8_lossy(k)),
        })
    }
}

#[derive(Default)]
struct CaseState {
    types: Vec<ObjectType>,
    null_types: Vec<u32>,
    fields: Vec<FieldDef>,
    reserved: Vec<ReservedValue>,
    reports: Vec<Option<Report>>,
    cur: usize,
    group: Option<ReportGroup>,
    any_with_selection: bool,
}

impl CaseState {
    fn obj(&self, specs: &[Vec<u8>]) -> Obj {
        Obj {
            specs: specs.to_vec(),
            field_types: self.fields.iter().map(|f| f.type_id).collect(),
            null_types: self.null_types.clone(),
        }
    }

    fn report(&mut self) -> &mut Report {
        self.reports
            .get_mut(self.cur)
            .and_then(|r| r.as_mut())
            .expect("current report")
    }

    fn run(&mut self, a: &[Vec<u8>], t: &mut Transcript) {
        let cmd = a[0].as_slice();
        let ok = |r: bool| i32::from(r);
        let needs_report: &[&[u8]] = &[
            b"row",
            b"rowsel",
            b"output",
            b"headings",
            b"compact",
            b"compactgiven",
            b"setsel",
            b"prefix",
            b"isempty",
            b"destroyrows",
            b"free",
        ];
        if needs_report.contains(&cmd) && self.reports.get(self.cur).is_none_or(|r| r.is_none()) {
            t.result(format!("={} skipped", String::from_utf8_lossy(cmd)));
            return;
        }
        match cmd {
            b"type" => {
                self.types
                    .push(ObjectType::new(strtoull0(&a[1]) as u32, &a[2], &a[3]));
                if a.get(4).is_some_and(|x| x == b"nulldata") {
                    self.null_types.push(strtoull0(&a[1]) as u32);
                }
            }
            b"field" => {
                let mut id = a[4].clone();
                id.truncate(FIELD_TYPE_ID_LEN - 1);
                let mut heading = a[5].clone();
                heading.truncate(FIELD_TYPE_HEADING_LEN - 1);
                self.fields.push(FieldDef::new(
                    strtoull0(&a[1]) as u32,
                    strtoull0(&a[2]) as u32,
                    strtoll0(&a[3]) as i32,
                    &id,
                    &heading,
                    &a[6],
                ));
            }
            b"reserved" => {
                let type_flags = strtoull0(&a[1]) as u32;
                let v = a[3].as_slice();
                let words = |v: &[u8], f: &dyn Fn(&[u8]) -> u64| -> ReservedData {
                    let body = &v[2..];
                    match body.iter().position(|&c| c == b':') {
                        Some(p) => ReservedData::Words([f(&body[..p]), f(&body[p + 1..])]),
                        None => ReservedData::Words([f(body), 0]),
                    }
                };
                let value = if v.first() == Some(&b'h') {
                    ReservedData::Handler(Rc::new(TestHandler {
                        field_types: self.fields.iter().map(|f| f.flags).collect(),
                    }))
                } else if v.starts_with(b"s:") {
                    ReservedData::string(&v[2..])
                } else if v.starts_with(b"u:") {
                    words(v, &strtoull0)
                } else if v.starts_with(b"d:") {
                    words(v, &|x| strtod(x).to_bits())
                } else if v.starts_with(b"t:") {
                    words(v, &|x| strtoll0(x) as u64)
                } else {
                    panic!("bad reserved value");
                };
                self.reserved.push(ReservedValue {
                    type_flags,
                    field_num: strtoull0(&a[2]) as u32,
                    value,
                    names: a[5..].to_vec(),
                    description: a[4].clone(),
                });
            }
            b"init" | b"initsel" => {
                let with_selection = cmd == b"initsel";
                if with_selection {
                    self.any_with_selection = true;
                }
                let noreserved =
                    a.get(7).is_some_and(|x| x == b"noreserved") || self.reserved.is_empty();
                let opts = ReportOptions {
                    output_fields: opt(&a[2]).unwrap_or_default(),
                    separator: opt(&a[3]),
                    flags: parse_flags(&a[4]),
                    sort_keys: opt(&a[5]),
                    selection: if with_selection { opt(&a[6]) } else { None },
                    with_selection,
                    reserved_values: if with_selection && !noreserved {
                        Some(self.reserved.clone())
                    } else {
                        None
                    },
                    implicit_selected_field: self.any_with_selection,
                };
                let mut rt = strtoull0(&a[1]) as u32;
                let slot = self
                    .reports
                    .iter()
                    .position(|r| r.is_none())
                    .unwrap_or(self.reports.len());
                let r = Report::new(self.types.clone(), self.fields.clone(), &mut rt, &opts, t);
                let name = String::from_utf8_lossy(cmd).into_owned();
                match r {
                    Ok(rep) => {
                        if slot == self.reports.len() {
                            self.reports.push(None);
                        }
                        self.reports[slot] = Some(rep);
                        self.cur = slot;
                        t.result(format!("={name} {slot} types=0x{rt:x}"));
                    }
                    Err(_) => t.result(format!("={name} NULL types=0x{rt:x}")),
                }
            }
            b"use" => self.cur = strtoull0(&a[1]) as usize,
            b"row" => {
                let mut o = self.obj(&a[1..]);
                let r = self.report().report_object(&mut o, t).is_ok();
                t.result(format!("=row {}", ok(r)));
            }
            b"rowsel" => {
                let do_output = strtoull0(&a[1]) != 0;
                let mut o = self.obj(&a[2..]);
                let r = self.report().object_is_selected(&mut o, do_output, t);
                let (r, sel) = match r {
                    Ok(Some(s)) => (1, i32::from(s)),
                    Ok(None) => (1, -1),
                    Err(_) => (0, 1),
                };
                t.result(format!("=rowsel {r} selected={sel}"));
            }
            b"output" => {
                let r = self.report().output(t).is_ok();
                t.result(format!("=output {}", ok(r)));
            }
            b"headings" => {
                let r = self.report().column_headings(t).is_ok();
                t.result(format!("=headings {}", ok(r)));
            }
            b"compact" => {
                let r = self.report().compact_fields().is_ok();
                t.result(format!("=compact {}", ok(r)));
            }
            b"compactgiven" => {
                let f = opt(&a[1]);
                let r = self.report().compact_given_fields(f.as_deref(), t).is_ok();
                t.result(format!("=compactgiven {}", ok(r)));
            }
            b"setsel" => {
                let s = opt(&a[1]);
                let r = self.report().set_selection(s.as_deref(), t).is_ok();
                t.result(format!("=setsel {}", ok(r)));
            }
            b"prefix" => {
                let p = a[1].clone();
                let r = self.report().set_output_field_name_prefix(&p).is_ok();
                t.result(format!("=prefix {}", ok(r)));
            }
            b"isempty" => {
                let r = self.report().is_empty();
                t.result(format!("=isempty {}", ok(r)));
            }
            b"destroyrows" => {
                let _ = self.report().destroy_rows();
                t.result("=destroyrows".into());
            }
            b"free" => {
                if let Some(r) = self.reports.get_mut(self.cur) {
                    *r = None;
                }
                t.result("=free".into());
            }
            b"group" => {
                let g = GroupType::from_raw(strtoull0(&a[1]) as u32).expect("group type");
                self.group = Some(ReportGroup::new(g));
                t.result("=group ok".into());
            }
            b"push" => {
                let rep = if a[1] == b"-" {
                    None
                } else {
                    self.reports
                        .get(strtoull0(&a[1]) as usize)
                        .and_then(|r| r.as_ref())
                };
                let name = opt(&a[2]);
                let g = self.group.as_mut().expect("group");
                let r = g.push(rep, name.as_deref(), t).is_ok();
                t.result(format!("=push {}", ok(r)));
            }
            b"pop" => {
                let r = self.group.as_mut().expect("group").pop(t).is_ok();
                t.result(format!("=pop {}", ok(r)));
            }
            b"popall" => {
                let r = self
                    .group
                    .as_mut()
                    .expect("group")
                    .output_and_pop_all(t)
                    .is_ok();
                t.result(format!("=popall {}", ok(r)));
            }
            b"groupdestroy" => {
                let r = self.group.take().expect("group").destroy(t).is_ok();
                t.result(format!("=groupdestroy {}", ok(r)));
            }
            b"percent" => {
                let p = make_percent(strtoull0(&a[1]), strtoull0(&a[2]));
                t.result(format!(
                    "=percent {p} {:.6} {:.6}",
                    f64::from(percent_to_float(p)),
                    f64::from(percent_to_round_float(p, 2))
                ));
            }
            c => panic!("unknown command {}", String::from_utf8_lossy(c)),
        }
    }
}

/// Replays a case file; returns the transcript lines.
fn replay(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read(path).expect("case file");
    let lines: Vec<&[u8]> = text
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .collect();
    let first_case = lines.iter().position(|l| l.starts_with(b"case|"));
    let mut t = Transcript::default();
    let run_block = |prelude: &[&[u8]], block: &[&[u8]], t: &mut Transcript| {
        let mut st = CaseState::default();
        for l in prelude.iter().chain(block.iter()) {
            st.run(&split_args(l), t);
        }
    };
    match first_case {
        None => run_block(&[], &lines, &mut t),
        Some(fc) => {
            let prelude = &lines[..fc];
            let mut i = fc;
            while i < lines.len() {
                let name = &lines[i][5..];
                t.lines.push(cat(&[b"### ", name]));
                let mut end = i + 1;
                while end < lines.len() && !lines[end].starts_with(b"case|") {
                    end += 1;
                }
                run_block(prelude, &lines[i + 1..end], &mut t);
                i = end;
            }
        }
    }
    t.lines
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

/// Compares each fixture's replay with stock's transcript; returns
/// (cases, failures description).
fn check_fixtures() -> (usize, usize, Vec<String>) {
    let mut cases = 0;
    let mut failed = 0;
    let mut report = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    files.sort();
    for case in files {
        let golden =
            std::fs::read(case.with_extension("out")).expect("golden .out beside the case");
        let want: Vec<&[u8]> = golden.split(|&c| c == b'\n').collect();
        let want: Vec<&[u8]> = want[..want
            .len()
            .saturating_sub(usize::from(want.last().is_some_and(|l| l.is_empty())))]
            .to_vec();
        let got = replay(&case);
        // split into cases by "### " headers
        let split = |ls: &[&[u8]]| -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
            let mut out: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
            for l in ls {
                if let Some(n) = l.strip_prefix(b"### ") {
                    out.push((n.to_vec(), Vec::new()));
                } else {
                    if out.is_empty() {
                        out.push((b"(file)".to_vec(), Vec::new()));
                    }
                    if let Some(last) = out.last_mut() {
                        last.1.push(l.to_vec());
                    }
                }
            }
            out
        };
        let got_refs: Vec<&[u8]> = got.iter().map(|l| l.as_slice()).collect();
        let w = split(&want);
        let g = split(&got_refs);
        assert_eq!(w.len(), g.len(), "{}: case count", case.display());
        for ((wn, wl), (_, gl)) in w.iter().zip(g.iter()) {
            cases += 1;
            if wl != gl {
                failed += 1;
                let k = wl
                    .iter()
                    .zip(gl.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(wl.len().min(gl.len()));
                report.push(format!(
                    "{} / {}: line {}\n  stock: {}\n  ours:  {}",
                    case.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    String::from_utf8_lossy(wn),
                    k,
                    wl.get(k)
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .unwrap_or("<end>".into()),
                    gl.get(k)
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .unwrap_or("<end>".into()),
                ));
            }
        }
    }
    (cases, failed, report)
}

#[test]
fn stock_transcripts() {
    // The goldens were made with TZ=UTC; time parsing uses the local zone.
    std::env::set_var("TZ", "UTC");
    let (cases, failed, report) = check_fixtures();
    for r in &report {
        eprintln!("{r}");
    }
    eprintln!("report fixtures: {cases} cases, {failed} differ from stock");
    assert!(cases > 0, "no fixture cases found");
    assert_eq!(failed, 0, "{failed} of {cases} cases differ from stock");
}

// ---------------------------------------------------------------- typed layer

struct Dev {
    name: &'static str,
    major: u32,
    open: i32,
    size: u64,
}

const DEV_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        type_id: 1,
        flags: FIELD_TYPE_STRING,
        width: 4,
        id: "name",
        heading: "Name",
        desc: "Name.",
    },
    FieldSpec {
        type_id: 1,
        flags: FIELD_TYPE_NUMBER,
        width: 3,
        id: "major",
        heading: "Maj",
        desc: "Major.",
    },
    FieldSpec {
        type_id: 1,
        flags: FIELD_TYPE_NUMBER,
        width: 4,
        id: "open",
        heading: "Open",
        desc: "Open count.",
    },
    FieldSpec {
        type_id: 1,
        flags: FIELD_TYPE_SIZE,
        width: 4,
        id: "size",
        heading: "Size",
        desc: "Size.",
    },
];

impl ReportRow for Dev {
    fn fields() -> &'static [FieldSpec] {
        DEV_FIELDS
    }
    fn value(&self, field: usize) -> FieldValue {
        match field {
            0 => FieldValue::string(self.name.as_bytes()),
            1 => FieldValue::uint32(self.major),
            2 => FieldValue::int(self.open),
            _ => FieldValue::size(format!("{}s", self.size).as_bytes(), self.size as f64),
        }
    }
}

fn devs() -> Vec<Dev> {
    vec![
        Dev {
            name: "vg-root",
            major: 253,
            open: 1,
            size: 2048,
        },
        Dev {
            name: "cryptswap",
            major: 253,
            open: 0,
            size: 64,
        },
        Dev {
            name: "a",
            major: 7,
            open: 12,
            size: 1 << 21,
        },
    ]
}

#[test]
fn typed_report_sorted_aligned() {
    let opts = ReportOptions {
        output_fields: b"name,major,open".to_vec(),
        separator: Some(b" ".to_vec()),
        flags: OUTPUT_ALIGNED | OUTPUT_BUFFERED | OUTPUT_HEADINGS,
        sort_keys: Some(b"-open".to_vec()),
        ..Default::default()
    };
    let mut r = TypedReport::<Dev>::new(0, &opts).expect("report");
    let mut out = Vec::new();
    for d in devs() {
        r.push(&d, &mut out).expect("push");
    }
    assert!(out.is_empty(), "buffered report printed early");
    r.output(&mut out).expect("output");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "Name      Maj Open\na           7   12\nvg-root   253    1\ncryptswap 253    0\n"
    );
}

#[test]
fn typed_report_selection_and_errors() {
    let opts = ReportOptions {
        output_fields: b"name".to_vec(),
        separator: Some(b":".to_vec()),
        flags: OUTPUT_BUFFERED,
        selection: Some(b"size > 1m && name =~ '^[a-v]'".to_vec()),
        with_selection: true,
        ..Default::default()
    };
    let mut r = TypedReport::<Dev>::new(0, &opts).expect("report");
    let mut out = Vec::new();
    for d in devs() {
        r.push(&d, &mut out).expect("push");
    }
    r.output(&mut out).expect("output");
    assert_eq!(out, b"a\n");

    let bad = ReportOptions {
        output_fields: b"name,bogus".to_vec(),
        ..Default::default()
    };
    let e = TypedReport::<Dev>::new(0, &bad).expect_err("unknown field");
    assert_eq!(e.message(), b"Unrecognised field: bogus");
    assert_eq!(e.to_string(), "Unrecognised field: bogus");
    assert_eq!(
        e.help_lines().first().map(|l| l.as_slice()),
        Some(&b" Fields"[..])
    );
    assert!(e.help_lines().iter().any(|l| l == b"  major - Major."));

    let bad = ReportOptions {
        output_fields: b"name".to_vec(),
        selection: Some(b"open < x".to_vec()),
        with_selection: true,
        ..Default::default()
    };
    let e = TypedReport::<Dev>::new(0, &bad).expect_err("bad selection");
    assert_eq!(
        e.lines(),
        &[
            b"Failed to parse numeric value for selection field open.".to_vec(),
            b"Selection syntax error at 'open < x'.".to_vec(),
            b"Use 'help' for selection to get more help.".to_vec(),
        ]
    );
}

/// A large selected report: correctness only (speed is measured by the benchmark).
#[test]
fn many_rows_with_selection() {
    let opts = ReportOptions {
        output_fields: b"name,open".to_vec(),
        separator: Some(b",".to_vec()),
        flags: OUTPUT_BUFFERED,
        sort_keys: Some(b"-open".to_vec()),
        selection: Some(b"(open >= 99990 || name =~ '^n7$') && major = 253".to_vec()),
        with_selection: true,
        ..Default::default()
    };
    struct Row(u32);
    impl ReportRow for Row {
        fn fields() -> &'static [FieldSpec] {
            DEV_FIELDS
        }
        fn value(&self, field: usize) -> FieldValue {
            match field {
                0 => FieldValue::string(format!("n{}", self.0).as_bytes()),
                1 => FieldValue::uint32(253),
                2 => FieldValue::int(self.0 as i32),
                _ => FieldValue::size(b"0", 0.0),
            }
        }
    }
    let mut r = TypedReport::<Row>::new(0, &opts).expect("report");
    let mut out = Vec::new();
    for i in 0..100_000 {
        r.push(&Row(i), &mut out).expect("push");
    }
    r.output(&mut out).expect("output");
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(lines[0], "n99999,99999");
    assert_eq!(lines[9], "n99990,99990");
    assert_eq!(lines[10], "n7,7");
}

#[test]
fn percent_values() {
    assert_eq!(
        FieldValue::percent(PERCENT_100).expect("ok").display(),
        b"100.00"
    );
    assert_eq!(FieldValue::percent(1).expect("ok").display(), b"0.01");
    assert_eq!(
        FieldValue::percent(PERCENT_100 - 1).expect("ok").display(),
        b"99.99"
    );
    assert_eq!(
        FieldValue::percent(PERCENT_INVALID).expect("ok").display(),
        b""
    );
    assert!(FieldValue::percent(2_000_000_000).is_err());
    assert_eq!(make_percent(1, 3), 33_333_333);
}

// ---------------------------------------------------------------- robustness

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self, alphabet: &[u8], max: u64) -> Vec<u8> {
        let n = self.next() % max;
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

/// Random selections, field lists, sort keys and regexes: the engine
/// returns errors, never panics.
#[test]
fn random_input_never_panics() {
    const ALPHA: &[u8] = b"abnumstrizeplcdt0129 ,&|#!()[]{}'\"=~<>%.@:-_\t^$*+?\\kmgKMG";
    let types = vec![ObjectType::new(1, b"Things", b"thing_")];
    let fields = vec![
        FieldDef::new(1, FIELD_TYPE_STRING, 4, b"str", b"Str", b"s"),
        FieldDef::new(1, FIELD_TYPE_NUMBER, 3, b"num", b"Num", b"n"),
        FieldDef::new(1, FIELD_TYPE_SIZE, 4, b"size", b"Size", b"z"),
        FieldDef::new(1, FIELD_TYPE_PERCENT, 4, b"pct", b"Pct", b"p"),
        FieldDef::new(1, FIELD_TYPE_STRING_LIST, 4, b"list", b"List", b"l"),
        FieldDef::new(1, FIELD_TYPE_TIME, 4, b"time", b"Time", b"t"),
    ];
    let reserved = vec![ReservedValue {
        type_flags: FIELD_TYPE_NUMBER | RESERVED_VALUE_RANGE,
        field_num: 0,
        value: ReservedData::number_range(1, 5),
        names: vec![b"few".to_vec()],
        description: b"Few.".to_vec(),
    }];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut src = |f: u32| -> Result<FieldValue, FieldError> {
        Ok(match f {
            0 => FieldValue::string(b"abc"),
            1 => FieldValue::int(3),
            2 => FieldValue::size(b"1m", 2048.0),
            3 => FieldValue::percent(5_000_000).map_err(|_| FieldError::Failed)?,
            4 => FieldValue::string_list(&[b"a".as_slice(), b"b"], None, true),
            _ => FieldValue::time(b"t", 1_700_000_000),
        })
    };
    for round in 0..3000 {
        let sel = if round % 3 == 0 {
            let f: &[&[u8]] = &[b"str", b"num", b"size", b"pct", b"list", b"time"];
            let mut s = f[(rng.next() % 6) as usize].to_vec();
            s.extend(rng.text(ALPHA, 24));
            s
        } else {
            rng.text(ALPHA, 40)
        };
        let opts = ReportOptions {
            output_fields: if round % 7 == 0 {
                rng.text(ALPHA, 12)
            } else {
                b"str,num,list".to_vec()
            },
            separator: Some(b" ".to_vec()),
            flags: OUTPUT_BUFFERED | OUTPUT_ALIGNED | OUTPUT_HEADINGS,
            sort_keys: (round % 5 == 0).then(|| rng.text(ALPHA, 10)),
            selection: Some(sel.clone()),
            with_selection: true,
            reserved_values: Some(reserved.clone()),
            implicit_selected_field: false,
        };
        let mut rt = 0;
        let mut sink = Vec::new();
        if let Ok(mut r) = Report::new(types.clone(), fields.clone(), &mut rt, &opts, &mut sink) {
            let _ = r.report_object(&mut src, &mut sink);
            let _ = r.set_selection(Some(&sel), &mut sink);
            let _ = r.compact_given_fields(Some(&sel), &mut sink);
            let _ = r.output(&mut sink);
        }
        let pat = rng.text(ALPHA, 16);
        if let Ok(re) = regex::Regex::new(&pat) {
            let subject = rng.text(ALPHA, 16);
            let _ = re.is_match(&subject);
        }
    }
}

#[test]
fn plus_fields_append_to_defaults() {
    assert_eq!(
        output_fields_with_defaults(b"name,uuid", b"+open"),
        b"name,uuid,open"
    );
    assert_eq!(output_fields_with_defaults(b"name,uuid", b"open"), b"open");
}
