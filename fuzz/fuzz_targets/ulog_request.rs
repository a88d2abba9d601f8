//! dm-log-userspace requests as the netlink connector delivers them (a
//! hostile or buggy sender): the frame, the request header and payload, each
//! request type's arguments and the constructor string. Nothing may panic;
//! what decodes lies inside the input, and a header encodes back to the
//! bytes it came from (its uuid up to the NUL).
#![no_main]
use devmapper::ulog::codec::{self, Header, OwnedRequest};
use devmapper::ulog::ctr;
use libfuzzer_sys::fuzz_target;

fn requests(data: &[u8]) {
    if let Ok(raw) = codec::decode_request(data) {
        let _ = raw.parse();
        let _ = raw.ctr_has_nul();
        let owned = OwnedRequest::new(&raw);
        let _ = owned.header();
    }
}

fuzz_target!(|data: &[u8]| {
    // The whole datagram, as the server reads it.
    if let Ok(frame) = codec::decode_frame(data) {
        let (d, f) = (data.as_ptr() as usize, frame.data.as_ptr() as usize);
        assert!(frame.data.is_empty() || (f >= d && f + frame.data.len() <= d + data.len()));
        requests(frame.data);
    }
    // The connector payload alone.
    requests(data);
    if let Some(h) = Header::decode(data) {
        // Every field but the uuid encodes back to its bytes (the uuid is
        // kept up to its NUL); a second round trip changes nothing.
        let mut out = [0u8; 160];
        h.encode(&mut out);
        assert_eq!(&out[..8], &data[..8]);
        assert_eq!(&out[137..], &data[137..160]);
        let mut again = [0u8; 160];
        if let Some(h2) = Header::decode(&out) {
            h2.encode(&mut again);
        }
        assert_eq!(out, again);
    }
    // A constructor string (what CTR carries).
    let _ = ctr::parse_ctr(data);
});
