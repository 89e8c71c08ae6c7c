//! Stored-set decoding: never panics, and whatever decodes re-encodes to a record
//! that decodes to the same set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_backup::BackupCodeSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = BackupCodeSet::decode(text) {
        let again = BackupCodeSet::decode(&set.encode()).expect("encoded sets decode");
        assert_eq!(again, set);
        assert!(set.remaining() <= set.len());
    }
});
