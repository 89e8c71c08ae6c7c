//! Export import (`read_import`): never panics, on the text as given and on
//! the bytes as the base64 payload of an `otpauth-migration://` export; each
//! importable entry round-trips through its URI and reports its strength.
#![no_main]

use base64ct::{Base64, Encoding};
use libfuzzer_sys::fuzz_target;
use twofold_totp::{ImportOutcome, MAX_IMPORT_ENTRIES, OtpAuthUri, read_import};

fuzz_target!(|data: &[u8]| {
    let payload = format!(
        "otpauth-migration://offline?data={}",
        Base64::encode_string(data)
    );
    let text = std::str::from_utf8(data).ok();
    for input in text.into_iter().chain([payload.as_str()]) {
        let Ok(entries) = read_import(input) else {
            continue;
        };
        assert!(entries.len() <= MAX_IMPORT_ENTRIES);
        for entry in entries {
            if let ImportOutcome::Importable { uri, strength } = entry.outcome {
                assert_eq!(strength, uri.secret().strength());
                assert_eq!(uri.issuer(), entry.issuer.as_deref());
                assert_eq!(uri.account(), entry.account);
                // Compared as written: a plain URI read from an ambiguous label
                // (`label_is_ambiguous`) is written unambiguously.
                let written = uri.to_uri_string();
                let again = OtpAuthUri::parse_legacy(&written).expect("generated URIs parse");
                assert!(!again.label_is_ambiguous());
                assert_eq!(again.to_uri_string(), written);
                assert_eq!(again.secret(), uri.secret());
            }
        }
    }
});
