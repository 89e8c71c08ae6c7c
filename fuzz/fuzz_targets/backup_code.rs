//! Backup-code input parsing: never panics, and normalisation is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_backup::{ALPHABET, NormalizedCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = NormalizedCode::parse(text) {
        assert!(code.as_str().bytes().all(|b| ALPHABET.contains(&b)));
        let again = NormalizedCode::parse(code.as_str()).expect("canonical form parses");
        assert_eq!(again.as_str(), code.as_str());
    }
});
