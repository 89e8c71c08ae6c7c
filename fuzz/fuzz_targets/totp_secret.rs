//! base32 secret parsing: never panics, and whatever parses round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_totp::Secret;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Secret::from_base32(text);
    if let Ok(secret) = Secret::from_base32_legacy(text) {
        assert_eq!(
            Secret::from_base32_legacy(&secret.to_base32()).expect("round trip"),
            secret
        );
        assert_eq!(
            Secret::from_base32_legacy(&secret.to_manual_entry()).expect("round trip"),
            secret
        );
    }
});
