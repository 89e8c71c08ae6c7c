//! otpauth:// URI parsing: never panics, and whatever parses round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_totp::OtpAuthUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [OtpAuthUri::parse(text), OtpAuthUri::parse_legacy(text)] {
        if let Ok(uri) = parsed {
            let again =
                OtpAuthUri::parse_legacy(&uri.to_uri_string()).expect("generated URIs parse");
            assert_eq!(again, uri);
        }
    }
});
