//! A whole dm ioctl reply buffer from a hostile kernel: the header checks
//! and every payload decoder. Nothing may panic, and what the decoders
//! return must lie inside the payload.
#![no_main]
use devmapper::kernel::codec;
use devmapper::mangle;
use libfuzzer_sys::fuzz_target;

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fuzz_target!(|buf: &[u8]| {
    let Ok(h) = codec::read_header(buf) else {
        return;
    };
    let checked = codec::read_reply_header(buf);
    if checked.is_ok() {
        assert!(h.name.contains(&0) && h.uuid.contains(&0));
    }
    let Ok(p) = codec::reply_payload(buf, &h) else {
        return;
    };
    assert!(inside(buf, p));
    assert!(h.data_start as usize % 8 == 0);
    if let Ok(names) = codec::decode_names(p) {
        for n in &names {
            assert!(inside(p, n.name) && !n.name.contains(&0));
            if let Some(u) = n.uuid {
                assert!(inside(p, u) && !u.contains(&0));
            }
        }
    }
    // The LIST run's word-at-a-time walks give the exact walk's verdicts.
    let plain = |n: &[u8], u: Option<&[u8]>| mangle::is_plain(n) && u.is_none_or(mangle::is_plain);
    assert_eq!(
        codec::walk_names_flagged(p, mangle::unvouched_bytes, plain),
        codec::walk_names(p, plain)
    );
    assert_eq!(
        codec::walk_names_flagged(p, codec::nul_bytes, |_, _| true),
        codec::walk_names(p, |_, _| true)
    );
    if let Ok(vs) = codec::decode_versions(p) {
        for v in &vs {
            assert!(inside(p, v.name) && !v.name.contains(&0));
        }
    }
    if let Ok(d) = codec::decode_deps(p) {
        // An empty payload is a device without a table: no deps record.
        assert!(if p.is_empty() { d.is_empty() } else { 8 + 8 * d.len() <= p.len() });
    }
    if let Ok(specs) = codec::decode_specs(p, h.target_count) {
        assert_eq!(specs.len(), h.target_count as usize);
        for s in &specs {
            assert!(inside(p, s.params) && inside(p, s.target_type));
            assert!(!s.params.contains(&0));
        }
    }
    if let Ok(m) = codec::decode_message(p) {
        assert!(inside(p, m) && !m.contains(&0));
    }
});
