//! Durations as users write them (`ttl`, `expires_in`, `?wait=`, `interval`): parsing never
//! panics, and what it accepts is positive and at most `MAX_DURATION`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault_core::duration::MAX_DURATION;
use scaivault_core::parse_duration;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(input) {
        assert!(!d.is_zero(), "{input:?} parsed to zero");
        assert!(d <= MAX_DURATION, "{input:?} parsed past the maximum");
    }
});
