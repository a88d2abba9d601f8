//! The request encoders: a table of targets (split from the input), a
//! message and the fixed-size fields. The encoded table must be what the
//! kernel's parser walks: specs linked by relative `next`, 8-aligned,
//! parameters NUL-terminated with backslashes doubled.
#![no_main]
use devmapper::kernel::abi::{DM_NAME_LEN, DM_UUID_LEN};
use devmapper::kernel::codec::{self, TargetRef};
use libfuzzer_sys::fuzz_target;

fn unescape(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'\\' && i + 1 < p.len() {
            i += 1;
        }
        out.push(p[i]);
        i += 1;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // Lines: "<start>,<length>,<type>,<params>" (numbers as raw bytes).
    let lines: Vec<&[u8]> = data.split(|&c| c == b'\n').take(64).collect();
    let mut targets = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let mut f = l.splitn(2, |&c| c == b',');
        let ty = f.next().unwrap_or(b"");
        let params = f.next().unwrap_or(b"");
        targets.push(TargetRef {
            start: i as u64 * 8,
            length: 8 + l.len() as u64,
            target_type: ty,
            params,
        });
    }
    let mut out = Vec::new();
    match codec::encode_targets(&mut out, targets.iter().copied()) {
        Ok(n) => {
            assert_eq!(n as usize, targets.len());
            assert_eq!(out.len() % 8, 0);
            let mut off = 0usize;
            for t in &targets {
                let next = u32::from_ne_bytes(out[off + 20..off + 24].try_into().unwrap()) as usize;
                assert_eq!(next, codec::target_encoded_len(t));
                assert_eq!(next % 8, 0);
                assert_eq!(codec::fixed_str(&out[off + 24..off + 40]), t.target_type);
                let params = codec::fixed_str(&out[off + 40..off + next]);
                assert_eq!(unescape(params), t.params);
                off += next;
            }
            assert_eq!(off, out.len());
        }
        Err(_) => {
            assert!(targets.iter().any(|t| codec::check_target_type(t.target_type).is_err()
                || t.params.contains(&0)));
        }
    }
    let mut m = Vec::new();
    if codec::encode_message(&mut m, 7, data).is_ok() {
        assert_eq!(&m[8..m.len() - 1], data);
        assert_eq!(codec::decode_message(&m[8..]).unwrap(), data);
    }
    let mut name = [0u8; DM_NAME_LEN];
    if codec::put_fixed(&mut name, data, "name").is_ok() {
        assert_eq!(codec::fixed_str(&name), data);
    }
    let mut uuid = [0u8; DM_UUID_LEN];
    let _ = codec::put_fixed(&mut uuid, data, "uuid");
});
