//! The selection regex (stock's libdm regex dialect): compile any pattern,
//! match any subject. Input: pattern, NUL, subject.
#![no_main]
use devmapper::report::regex::Regex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pat, subj) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"vg0-lvol0"[..]),
    };
    if pat.len() > 512 {
        return; // stock compiles patterns into a DFA: keep each run short
    }
    let mut log = Vec::new();
    if let Some(re) = Regex::compile(pat, &mut log) {
        let _ = re.is_match(subj);
        let _ = re.is_match(b"");
        let _ = re.is_match(pat);
    }
});
