//! otpauth:// URI parsing: never panics, and whatever parses round-trips: the
//! URI written from it reads back the same, and is never ambiguous (even when
//! the input was: its reading is then written unambiguously).
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
            assert!(!again.label_is_ambiguous());
            assert_eq!(again.issuer(), uri.issuer());
            assert_eq!(again.account(), uri.account());
            assert_eq!(again.to_uri_string(), uri.to_uri_string());
        }
    }
});
