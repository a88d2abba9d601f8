//! `@stats_list` and `@stats_print` replies from a hostile kernel, and
//! histogram bound strings. Input: a selector byte, then the text.
#![no_main]
use devmapper::stats::histogram::{Histogram, HistogramFlags};
use devmapper::stats::message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    match sel % 4 {
        0 => {
            if let Ok(regions) = message::parse_list(text) {
                for r in &regions {
                    if let Some(b) = &r.bounds {
                        let _ = b.to_string_with(None, -1, HistogramFlags::all());
                    }
                }
            }
        }
        1 => {
            // bounds, newline, rows
            let (b, rows) = match text.iter().position(|&c| c == b'\n') {
                Some(i) => (&text[..i], &text[i + 1..]),
                None => (&b""[..], text),
            };
            let bounds = Histogram::bounds_from_string(b).ok();
            for ts in [1u64, 1_000_000] {
                if let Ok(p) = message::parse_print(Some(rows), ts, bounds.as_ref()) {
                    for a in &p.areas {
                        if let Some(h) = &a.histogram {
                            for bin in 0..h.nr_bins() + 1 {
                                let _ = h.bin_percent(bin);
                                let _ = h.bin_width(bin);
                            }
                            let _ = h.to_string_with(None, 8, HistogramFlags::all());
                        }
                    }
                }
            }
        }
        2 => {
            if let Ok(h) = Histogram::bounds_from_string(text) {
                assert!(h.nr_bins() >= 1);
                for w in [-1, 0, 12] {
                    for f in [0u32, 1, 2, 4, 0x10, 0x20, 0x30, 0x37] {
                        let _ = h.to_string_with(None, w, HistogramFlags::from_bits_retain(f));
                    }
                }
            }
        }
        _ => {
            let _ = message::parse_create_reply(Some(text));
            let _ = message::parse_list_line(text);
            let _ = message::parse_print_row(text, 1, None);
        }
    }
});
