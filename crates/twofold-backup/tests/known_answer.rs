//! The stored format can never silently change: a fixed salt, fixed parameters and
//! fixed codes give digests computed by the Argon2 reference implementation
//! (`tests/data/known_answer.txt` says how).
#![cfg(test)]

use std::collections::HashMap;

use base64ct::{Base64Unpadded, Encoding};
use twofold_backup::{BackupCodeSet, BackupVerification, HashParams};

fn vector() -> HashMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/known_answer.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap();
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn the_stored_record_decodes_verifies_and_re_encodes_byte_for_byte() {
    let v = vector();
    let record = &v["record"];
    let set = BackupCodeSet::decode(record).unwrap();
    assert_eq!(set.encode(), *record);
    assert_eq!(set.hash_params(), HashParams::OWASP);
    assert_eq!(
        (
            v["memory_kib"].as_str(),
            v["iterations"].as_str(),
            v["parallelism"].as_str()
        ),
        ("19456", "2", "1")
    );
    assert_eq!((set.len(), set.remaining(), set.code_length()), (2, 1, 10));

    // The record carries exactly the reference digests and the salt.
    let fields: Vec<&str> = record.split('$').collect();
    assert_eq!(
        Base64Unpadded::decode_vec(fields[5]).unwrap(),
        v["salt_ascii"].as_bytes()
    );
    let slots: Vec<&str> = fields[6].split(',').collect();
    for (slot, key) in slots.iter().zip(["digest_0_hex", "digest_1_hex"]) {
        let hex: String = Base64Unpadded::decode_vec(&slot[1..])
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, v[key]);
    }

    assert_eq!(
        set.verify(&v["code_0"]).unwrap(),
        BackupVerification::Matched { slot: 0 }
    );
    assert_eq!(
        set.verify(&v["code_1"]).unwrap(),
        BackupVerification::AlreadyUsed { slot: 1 }
    );
    // Normalisation reaches the same digest: lowercase, spaces, O for 0.
    assert_eq!(
        set.verify("7kq4m xr2pd").unwrap(),
        BackupVerification::Matched { slot: 0 }
    );
    assert_eq!(
        set.verify("zzzzz-ooooo").unwrap(),
        BackupVerification::AlreadyUsed { slot: 1 }
    );
    assert_eq!(
        set.verify("7KQ4M-XR2PE").unwrap(),
        BackupVerification::NoMatch
    );
}
