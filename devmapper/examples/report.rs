//! A typed report over devices, like `dmsetup info -c -S ... -O ...`: a
//! row type implementing `devmapper::report::ReportRow` (name, major,
//! minor, attributes, open count, targets, event number, uuid), filled from
//! `list_devices` and `info`, with a selection, sort keys and aligned
//! columns printed by libdevmapper's report engine.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/report`).

mod common;

use common::*;
use devmapper::report::{
    FieldSpec, FieldValue, ReportOptions, ReportRow, TypedReport, OUTPUT_ALIGNED, OUTPUT_BUFFERED,
    OUTPUT_HEADINGS,
};
use devmapper::targets::{Table, Target};
use devmapper::{CreateOptions, DevId, DeviceInfo, DmUuid, SuspendOptions};

/// One device, as a report row.
struct DevRow(DeviceInfo);

/// The fields, in definition order (`value` is indexed by this order), all
/// of object type 1. The constructors set the field type alone: strings
/// align left and numbers right, and selections work on every field.
static FIELDS: &[FieldSpec] = &[
    FieldSpec::string(1, 16, "name", "Name", "Name of the mapped device."),
    FieldSpec::number(1, 3, "maj", "Maj", "Major number."),
    FieldSpec::number(1, 3, "min", "Min", "Minor number."),
    FieldSpec::string(
        1,
        4,
        "attr",
        "Stat",
        "(L)ive, (I)nactive table present, (s)uspended, (r)ead-only or (w)ritable.",
    ),
    FieldSpec::number(1, 4, "open", "Open", "Number of openers."),
    FieldSpec::number(1, 4, "targ", "Targ", "Number of targets in the live table."),
    FieldSpec::number(1, 5, "event", "Event", "Event number."),
    FieldSpec::string(
        1,
        32,
        "uuid",
        "UUID",
        "Unique identifier of the mapped device.",
    ),
];

impl ReportRow for DevRow {
    fn fields() -> &'static [FieldSpec] {
        FIELDS
    }

    fn value(&self, field: usize) -> FieldValue {
        let d = &self.0;
        match field {
            0 => FieldValue::string(&d.name),
            1 => FieldValue::uint32(d.major),
            2 => FieldValue::uint32(d.minor),
            3 => {
                let attr = [
                    if d.suspended {
                        b's'
                    } else if d.live_table {
                        b'L'
                    } else {
                        b'-'
                    },
                    if d.inactive_table { b'I' } else { b'-' },
                    if d.read_only { b'r' } else { b'w' },
                ];
                FieldValue::string(&attr)
            }
            4 => FieldValue::int(d.open_count),
            5 => FieldValue::uint32(d.target_count),
            6 => FieldValue::uint32(d.event_nr),
            _ => FieldValue::string(&d.uuid),
        }
    }
}

fn main() -> Res<()> {
    let mut lab = Lab::new("report")?;
    let dm = lab.dm.clone();

    // Three devices with 1, 2 and 3 targets; the last one is suspended with
    // a table waiting in its inactive slot.
    for (what, n) in [("one", 1u64), ("two", 2), ("three", 3)] {
        let mut t = Table::single(mib(1)?, Target::Zero)?;
        for _ in 1..n {
            t.push(mib(1)?, Target::Error)?;
        }
        let opts = CreateOptions {
            uuid: Some(DmUuid::new(format!("RSEX-report-{what}"))?),
            read_only: what == "two",
            ..Default::default()
        };
        let dev = dm.create_device(&lab.name(what)?, &opts, &t)?;
        if what == "three" {
            dev.load(&Table::single(mib(4)?, Target::Zero)?)?;
            dev.suspend(SuspendOptions::default())?;
        }
    }
    println!("created rsex-report-one, -two (read-only) and -three (suspended, inactive table)");

    // `dmsetup info -c -o name,maj,min,attr,open,targ,event,uuid
    //  -S 'name=~"^rsex-report-" && targ>1' -O -targ,name`
    let opts = ReportOptions {
        output_fields: b"name,maj,min,attr,open,targ,event,uuid".to_vec(),
        separator: Some(b" ".to_vec()),
        flags: OUTPUT_ALIGNED | OUTPUT_BUFFERED | OUTPUT_HEADINGS,
        sort_keys: Some(b"-targ,name".to_vec()),
        selection: Some(b"name=~'^rsex-report-' && targ>1".to_vec()),
        with_selection: true,
        ..Default::default()
    };
    let mut report = TypedReport::<DevRow>::new(0, &opts)?;
    let mut out = Vec::new();
    let mut listed = 0;
    for d in dm.list_devices()? {
        // Every listed device; the selection decides which are shown.
        let info = dm.info(&DevId::Dev(d.major, d.minor))?;
        report.push(&DevRow(info), &mut out)?;
        listed += 1;
    }
    report.output(&mut out)?;
    let text = String::from_utf8_lossy(&out);
    println!("{listed} devices listed; the report:");
    print!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    check(lines.len() == 3, "a heading and two selected rows")?;
    check(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("rsex-report-three"))
            && lines
                .get(2)
                .is_some_and(|l| l.starts_with("rsex-report-two")),
        "sorted by target count, descending",
    )?;
    check(
        lines.get(1).is_some_and(|l| l.contains(" sI"))
            && lines.get(2).is_some_and(|l| l.contains(" L-r")),
        "attributes: suspended with an inactive table; live and read-only",
    )?;

    // The same engine answers "would this row be selected?" without output.
    let one = dm.info(&DevId::name("rsex-report-one")?)?;
    check(
        !report.is_selected(&DevRow(one))?,
        "rsex-report-one (1 target) is not selected",
    )?;

    // A bad field name fails with libdevmapper's message.
    let bad = ReportOptions {
        output_fields: b"name,size".to_vec(),
        ..Default::default()
    };
    match TypedReport::<DevRow>::new(0, &bad) {
        Err(e) => println!("asking for an unknown field: {e}"),
        Ok(_) => return Err("an unknown field was accepted".into()),
    }

    // Resume the suspended device so the lab can remove it cleanly.
    dm.resume(&DevId::name("rsex-report-three")?)?;
    println!("done");
    Ok(())
}
