//! Any bytes a client can send: parsing never panics, and a request that parses names a
//! non-empty file and options within their ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netboot::tftp::{BLKSIZE_MAX, BLKSIZE_MIN, Packet, parse};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(Packet::Read(request) | Packet::Write(request)) = parse(bytes) {
        assert!(!request.filename.is_empty());
        if let Some(size) = request.options.blksize {
            assert!((BLKSIZE_MIN..=BLKSIZE_MAX).contains(&size));
        }
        assert!(request.options.timeout != Some(0));
        assert!(request.options.windowsize != Some(0));
    }
});
