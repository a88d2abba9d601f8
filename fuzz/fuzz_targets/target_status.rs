//! Target status parsers: any status text for any target type.
//! Input: type, NUL, status.
#![no_main]
use devmapper::TargetStatusLine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ty, status) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"thin-pool"[..], data),
    };
    let _ = TargetStatusLine::parse(ty, status);
});
