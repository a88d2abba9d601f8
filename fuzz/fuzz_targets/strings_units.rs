//! The string and unit helpers: unit factors, size formatting, word and
//! LVM name splitting, escaping, devices and cipher specs.
#![no_main]
use devmapper::strings::{self, SizeSuffix};
use devmapper::targets::DevRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for strict in [false, true] {
        let _ = strings::units_to_factor(data, strict);
    }
    if data.len() >= 10 {
        let size = u64::from_ne_bytes(data[..8].try_into().unwrap());
        let unit = data[8];
        let flags = data[9];
        let factor = if flags & 1 != 0 { 0 } else { u64::from(data[9]) << (flags % 48) };
        for suffix in [SizeSuffix::Long, SizeSuffix::Short, SizeSuffix::Unit] {
            let _ = strings::size_to_string(size, unit, flags & 2 != 0, factor, flags & 4 != 0, suffix);
        }
    }
    let words = strings::split_words(data);
    assert!(words.iter().all(|w| !w.is_empty()));
    let (vg, lv, layer) = strings::split_lvm_name(data);
    let _ = strings::build_dm_name(&vg, &lv, if layer.is_empty() { None } else { Some(&layer) });
    let esc = strings::escape_double_quotes(data);
    assert_eq!(esc.len(), strings::escaped_len(data) - 1);
    let mut buf = esc.clone();
    let n = strings::unescape_double_quotes_in_place(&mut buf);
    assert!(n <= esc.len());
    let mut buf = data.to_vec();
    let u = strings::unescape_colons_and_at_signs_in_place(&mut buf);
    assert!(u.len <= data.len());
    let _ = strings::basename(data);
    let _ = DevRef::parse(data);
    let _ = devmapper::targets::CipherSpec::parse(data);
});
