//! udev-style name mangling: never panics, and what is mangled unmangles
//! back to the original.
#![no_main]
use devmapper::mangle::{self, ManglingMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for mode in [ManglingMode::None, ManglingMode::Auto, ManglingMode::Hex] {
        let _ = mangle::check_multiple_mangled(data, mode, "name");
        let un = mangle::unmangle(data, mode);
        let _ = mangle::unmangle_as(data, mode, "UUID");
        if let Ok(Some(u)) = &un {
            assert!(u.len() <= data.len(), "unmangling never grows");
        }
        for max in [128usize, 129, 4096] {
            if let Ok(Some(m)) = mangle::mangle(data, mode, "name", max) {
                assert!(m.len() < max);
                assert!(m.iter().all(|&c| mangle::is_whitelisted(c) || c == b'\\'));
                if mode == ManglingMode::Hex {
                    let back = mangle::unmangle(&m, ManglingMode::Hex)
                        .expect("mangled text unmangles")
                        .unwrap_or_else(|| m.clone());
                    assert_eq!(back, data, "hex mangling round-trips");
                }
            }
            let _ = mangle::mangle_unchecked(data, mode, "UUID", max);
        }
    }
});
