//! The photo checker on arbitrary bytes: it never panics, reads only what it
//! is given, and its verdict is consistent (accepted exactly when the content
//! is a jpeg, pjpeg, png or gif strictly below 5,242,880 bytes; every refusal
//! carries the product's two lines, and the limit line when too large).
#![no_main]

use commroute::replay::photo::{judge, sniff, MAX_BYTES, NOT_AN_IMAGE, SUPPORTED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The declared length varies too, around the limit, to reach the size check.
    let extra = data.first().map_or(0, |b| u64::from(*b) << 16);
    for bytes in [data.len() as u64, MAX_BYTES - 1 + extra % 3, data.len() as u64 + extra] {
        let v = judge(data, bytes);
        let kind = sniff(data);
        assert_eq!(v.kind, kind);
        assert_eq!(v.accepted, kind.allowed() && bytes < MAX_BYTES);
        if v.accepted {
            assert!(v.refusal.is_empty());
        } else {
            assert_eq!(v.refusal[0], NOT_AN_IMAGE);
            assert_eq!(v.refusal[1], SUPPORTED);
            assert_eq!(v.refusal.len(), if bytes >= MAX_BYTES { 3 } else { 2 });
        }
    }
});
