//! Target parameter parsers: any parameter string for any target type,
//! and whole tables. What parses must print back to something that parses
//! to the same value. Input: type, NUL, parameters (or a table: no NUL).
#![no_main]
use devmapper::targets::Target;
use devmapper::Table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(i) = data.iter().position(|&c| c == 0) else {
        if let Ok(t) = Table::parse(data) {
            let text = t.to_text();
            let again = Table::parse(text.as_bytes()).expect("a printed table parses");
            assert_eq!(again.to_text().as_bytes(), text.as_bytes());
        }
        return;
    };
    let (ty, params) = (&data[..i], &data[i + 1..]);
    if let Ok(t) = Target::parse(ty, params) {
        let printed = t.to_params();
        let again = Target::parse(ty, printed.as_bytes()).expect("printed parameters parse");
        assert_eq!(again.to_params().as_bytes(), printed.as_bytes());
    }
});
