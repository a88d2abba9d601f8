//! The report selection grammar: any selection string against a report of
//! every field type, rows evaluated and printed.
#![no_main]
use devmapper::report::{
    FieldSpec, FieldValue, ReportOptions, ReportRow, TypedReport, FIELD_TYPE_NUMBER,
    FIELD_TYPE_PERCENT, FIELD_TYPE_SIZE, FIELD_TYPE_STRING, FIELD_TYPE_STRING_LIST,
    FIELD_TYPE_TIME, PERCENT_100,
};
use libfuzzer_sys::fuzz_target;

const FIELDS: &[FieldSpec] = &[
    FieldSpec { type_id: 1, flags: FIELD_TYPE_STRING, width: 4, id: "name", heading: "Name", desc: "Name." },
    FieldSpec { type_id: 1, flags: FIELD_TYPE_NUMBER, width: 3, id: "major", heading: "Maj", desc: "Major." },
    FieldSpec { type_id: 1, flags: FIELD_TYPE_SIZE, width: 4, id: "size", heading: "Size", desc: "Size." },
    FieldSpec { type_id: 1, flags: FIELD_TYPE_PERCENT, width: 4, id: "used", heading: "Used", desc: "Used." },
    FieldSpec { type_id: 1, flags: FIELD_TYPE_STRING_LIST, width: 4, id: "tags", heading: "Tags", desc: "Tags." },
    FieldSpec { type_id: 1, flags: FIELD_TYPE_TIME, width: 4, id: "time", heading: "Time", desc: "Time." },
];

struct Row(u32);

impl ReportRow for Row {
    fn fields() -> &'static [FieldSpec] {
        FIELDS
    }
    fn value(&self, field: usize) -> FieldValue {
        let i = self.0;
        match field {
            0 => FieldValue::string(format!("vg{i}-lv{i}").as_bytes()),
            1 => FieldValue::uint32(253 + i),
            2 => FieldValue::size(format!("{}.00m", i * 4).as_bytes(), f64::from(i * 8192)),
            3 => FieldValue::percent(PERCENT_100 / (i as i32 + 1)).unwrap_or(FieldValue::int(0)),
            4 => FieldValue::string_list(&[&b"a"[..], b"tag", b"x\\y"][..i as usize % 4], None, true),
            _ => FieldValue::time(format!("{}", 1_600_000_000 + i).as_bytes(), 1_600_000_000 + i64::from(i)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 1024 {
        return;
    }
    let opts = ReportOptions {
        output_fields: b"name,major,size,used,tags,time".to_vec(),
        flags: 0x0000_0040, // buffered
        selection: Some(data.to_vec()),
        with_selection: true,
        ..Default::default()
    };
    if let Ok(mut r) = TypedReport::<Row>::new(0, &opts) {
        let mut out = Vec::new();
        for i in 0..4 {
            let _ = r.push(&Row(i), &mut out);
        }
        let _ = r.output(&mut out);
    }
});
