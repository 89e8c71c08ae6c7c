//! Behaviour tests: generation, one-time use, typed errors, stored-form checks,
//! and one Argon2 evaluation per attempt whatever the size of the set.
#![cfg(test)]

use twofold_backup::{
    BackupCodeSet, BackupConfig, BackupVerification, ConfigError, DecodeError, Error, HashParams,
    InputError, MAX_CODES,
};

/// Cheap parameters so tests run fast; the defaults are tested in `known_answer.rs`.
fn cheap() -> HashParams {
    HashParams::new(64, 1, 1).unwrap()
}

fn config(count: usize) -> BackupConfig {
    BackupConfig::new(count, 10)
        .unwrap()
        .with_hash_params(cheap())
}

#[test]
fn the_default_set_is_ten_readable_codes_of_fifty_bits() {
    let defaults = BackupConfig::default();
    assert_eq!(
        (defaults.count(), defaults.length(), defaults.entropy_bits()),
        (10, 10, 50)
    );
    assert_eq!(defaults.hash_params(), HashParams::OWASP);
    assert_eq!(
        (
            HashParams::OWASP.memory_kib(),
            HashParams::OWASP.iterations(),
            HashParams::OWASP.parallelism()
        ),
        (19 * 1024, 2, 1)
    );

    let (set, codes) = BackupCodeSet::generate(&config(10)).unwrap();
    assert_eq!((codes.len(), set.len(), set.remaining()), (10, 10, 10));
    let alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut seen = std::collections::HashSet::new();
    for code in codes.iter() {
        let (a, b) = code.split_once('-').unwrap();
        assert_eq!((a.len(), b.len()), (5, 5), "{code}");
        assert!(
            a.chars().chain(b.chars()).all(|c| alphabet.contains(c)),
            "{code}"
        );
        assert!(seen.insert(code.to_string()), "codes in a set are distinct");
    }
}

#[test]
fn each_code_works_once_then_reports_already_used() {
    let (mut set, codes) = BackupCodeSet::generate(&config(10)).unwrap();
    let codes: Vec<String> = codes.iter().map(str::to_string).collect();
    assert_eq!(
        set.consume(&codes[3]).unwrap(),
        BackupVerification::Matched { slot: 3 }
    );
    assert_eq!(set.is_used(3), Some(true));
    assert_eq!(set.remaining(), 9);
    assert_eq!(
        set.consume(&codes[3]).unwrap(),
        BackupVerification::AlreadyUsed { slot: 3 }
    );
    // verify() never changes the set.
    assert_eq!(
        set.verify(&codes[4]).unwrap(),
        BackupVerification::Matched { slot: 4 }
    );
    assert_eq!(
        set.verify(&codes[4]).unwrap(),
        BackupVerification::Matched { slot: 4 }
    );
    assert_eq!(set.remaining(), 9);
    assert_eq!(
        set.verify("00000-00000").unwrap(),
        BackupVerification::NoMatch
    );
}

#[test]
fn low_remaining_flag_follows_the_threshold() {
    let (mut set, codes) = BackupCodeSet::generate(&config(5)).unwrap();
    let codes: Vec<String> = codes.iter().map(str::to_string).collect();
    assert!(!set.is_low(3));
    set.consume(&codes[0]).unwrap();
    assert!(!set.is_low(3));
    set.consume(&codes[1]).unwrap();
    assert!(set.is_low(3));
    assert!(!set.is_low(2));
    for code in &codes[2..] {
        set.consume(code).unwrap();
    }
    assert_eq!(set.remaining(), 0);
    assert!(set.is_low(0));
}

#[test]
fn regenerating_makes_the_old_codes_worthless() {
    let (_old_set, old_codes) = BackupCodeSet::generate(&config(10)).unwrap();
    let (new_set, _new_codes) = BackupCodeSet::generate(&config(10)).unwrap();
    for code in old_codes.iter() {
        assert_eq!(new_set.verify(code).unwrap(), BackupVerification::NoMatch);
    }
}

#[test]
fn plaintext_never_appears_in_the_stored_form_debug_or_errors() {
    let (mut set, codes) = BackupCodeSet::generate(&config(10)).unwrap();
    let stored = set.encode();
    let debug = format!("{set:?} {codes:?} {:?}", codes.codes()[0]);
    for code in codes.iter() {
        let bare = code.replace('-', "");
        for text in [&stored, &debug] {
            assert!(!text.contains(code) && !text.contains(&bare), "{text}");
        }
    }
    let typed = format!("{}!", codes.codes()[0].expose());
    let message = set.consume(&typed).unwrap_err().to_string();
    assert!(!message.contains(codes.codes()[0].expose()), "{message}");
}

#[test]
fn bad_input_is_refused_before_any_hashing() {
    // Parameters far too costly to run: if any of these inputs reached Argon2,
    // the test would fail with a hashing error or take minutes.
    let (set, _) = BackupCodeSet::generate(&config(1)).unwrap();
    let record = set.encode().replace("m=64,t=1,p=1", "m=4194304,t=64,p=1");
    let costly = BackupCodeSet::decode(&record).unwrap();
    let cases = [
        ("A".repeat(65), InputError::TooLong { max_bytes: 64 }),
        (
            "7KQ4M-XR2P!".into(),
            InputError::InvalidCharacter { position: 10 },
        ),
        (
            "7KQ4M-XR2PÜ".into(),
            InputError::InvalidCharacter { position: 10 },
        ),
        (
            "UUUUU-UUUUU".into(),
            InputError::InvalidCharacter { position: 0 },
        ),
        (
            "7KQ4M".into(),
            InputError::WrongLength {
                expected: 10,
                found: 5,
            },
        ),
        (
            "".into(),
            InputError::WrongLength {
                expected: 10,
                found: 0,
            },
        ),
        (
            "7".repeat(40),
            InputError::WrongLength {
                expected: 10,
                found: 40,
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            costly.verify(&input),
            Err(Error::Input(expected)),
            "{input}"
        );
    }
}

#[test]
fn one_argon2_evaluation_per_attempt_whatever_the_set_size() {
    // Each Argon2 evaluation allocates its memory (here 1 MiB) once; count the bytes.
    let params = HashParams::new(1024, 1, 1).unwrap();
    for count in [1, 10, 100] {
        let config = BackupConfig::new(count, 10)
            .unwrap()
            .with_hash_params(params);
        let (set, codes) = BackupCodeSet::generate(&config).unwrap();
        let last = codes.iter().last().unwrap().to_string();
        // A code of the right shape that is none of the set's.
        let wrong = (0u64..)
            .map(|n| format!("{:05}-{:05}", n % 100_000, n / 100_000))
            .find(|candidate| {
                codes
                    .iter()
                    .all(|code| !code.eq_ignore_ascii_case(candidate))
            })
            .unwrap();
        let cases = [
            (
                last.as_str(),
                BackupVerification::Matched { slot: count - 1 },
            ),
            (wrong.as_str(), BackupVerification::NoMatch),
        ];
        for (input, expected) in cases {
            let mut outcome = None;
            let info = allocation_counter::measure(|| outcome = Some(set.verify(input)));
            assert_eq!(outcome, Some(Ok(expected)), "{count} codes, {input}");
            let mib = 1024 * 1024;
            assert!(
                info.bytes_total >= mib && info.bytes_total < 2 * mib,
                "{count} codes: {} bytes allocated, expected one 1 MiB Argon2 run",
                info.bytes_total
            );
        }
    }
}

#[test]
fn weak_or_short_sets_report_that_they_need_regeneration() {
    let (cheap_set, _) = BackupCodeSet::generate(&config(2)).unwrap();
    assert!(cheap_set.needs_regeneration(&BackupConfig::default()));
    let lenient = BackupConfig::default().with_minimum_hash_params(cheap());
    assert!(!cheap_set.needs_regeneration(&lenient));
    let longer = BackupConfig::new(10, 12)
        .unwrap()
        .with_minimum_hash_params(cheap());
    assert!(cheap_set.needs_regeneration(&longer));
    assert!(HashParams::OWASP.is_at_least(&cheap()));
    assert!(!cheap().is_at_least(&HashParams::OWASP));
}

#[test]
fn configuration_is_range_checked() {
    assert_eq!(
        BackupConfig::new(0, 10),
        Err(ConfigError::Count {
            count: 0,
            max: MAX_CODES
        })
    );
    assert_eq!(
        BackupConfig::new(101, 10),
        Err(ConfigError::Count {
            count: 101,
            max: MAX_CODES
        })
    );
    assert_eq!(
        BackupConfig::new(10, 3),
        Err(ConfigError::Length {
            length: 3,
            min: 4,
            max: 32
        })
    );
    assert_eq!(
        BackupConfig::new(10, 33),
        Err(ConfigError::Length {
            length: 33,
            min: 4,
            max: 32
        })
    );
    for (m, t, p) in [
        (7, 1, 1),
        (64, 0, 1),
        (64, 1, 0),
        (64, 65, 1),
        (16, 1, 4),
        (4_194_305, 1, 1),
    ] {
        assert!(
            matches!(HashParams::new(m, t, p), Err(ConfigError::HashParams(_))),
            "{m},{t},{p}"
        );
    }
    // Lengths other than 10 group by five with a shorter tail.
    let (_, codes) =
        BackupCodeSet::generate(&BackupConfig::new(1, 12).unwrap().with_hash_params(cheap()))
            .unwrap();
    let code = codes.iter().next().unwrap();
    assert_eq!(code.len(), 14);
    assert_eq!(code.matches('-').count(), 2);
}

#[test]
fn tampered_or_corrupt_records_are_typed_errors() {
    let (mut set, _) = BackupCodeSet::generate(&config(3)).unwrap();
    set.mark_used(1).unwrap();
    assert_eq!(set.mark_used(3), Err(Error::NoSuchSlot { slot: 3 }));
    let good = set.encode();
    assert_eq!(BackupCodeSet::decode(&good).unwrap(), set);
    let fields: Vec<&str> = good.split('$').collect();
    let slots: Vec<&str> = fields[6].split(',').collect();
    let with = |index: usize, value: &str| {
        let mut f = fields.clone();
        f[index] = value;
        f.join("$")
    };
    let invalid = |field, reason| DecodeError::Invalid { field, reason };
    let params_reason = "expected m=<KiB>,t=<passes>,p=<lanes> in range";
    let cases = [
        (
            good.replace("twofold-backup-v1", "twofold-backup-v2"),
            DecodeError::UnsupportedFormat {
                expected: "twofold-backup-v1",
            },
        ),
        (
            "".to_string(),
            DecodeError::UnsupportedFormat {
                expected: "twofold-backup-v1",
            },
        ),
        (
            with(1, "argon2i"),
            invalid("algorithm", "expected argon2id"),
        ),
        (with(2, "v=16"), invalid("version", "expected v=19")),
        (with(3, "m=64,t=1"), invalid("parameters", params_reason)),
        (
            with(3, "m=99999999,t=1,p=1"),
            invalid("parameters", params_reason),
        ),
        (
            with(3, "m=64,t=1,p=1,x=2"),
            invalid("parameters", params_reason),
        ),
        (
            with(3, "t=1,m=64,p=1"),
            invalid("parameters", params_reason),
        ),
        (
            with(4, "l=99"),
            invalid("length", "expected l=<symbols> between 4 and 32"),
        ),
        (
            with(5, "c2hvcnQ"),
            invalid("salt", "expected 16 bytes of unpadded base64"),
        ),
        (
            with(5, "%%%"),
            invalid("salt", "expected 16 bytes of unpadded base64"),
        ),
        (
            with(6, &format!("*{}", &slots[0][1..])),
            invalid("slots", "each slot starts with + or -"),
        ),
        (
            with(6, "+AAAA"),
            invalid("slots", "expected 32 bytes of unpadded base64 per slot"),
        ),
        (
            with(6, &format!("{},{}", slots[0], slots[0])),
            invalid("slots", "two slots have the same digest"),
        ),
        (
            with(6, ""),
            invalid("slots", "each slot starts with + or -"),
        ),
        (
            format!("{good}$extra"),
            invalid("slots", "unexpected trailing field"),
        ),
        (fields[..4].join("$"), invalid("length", "missing")),
        ("x".repeat(9000), DecodeError::TooLong { max_bytes: 8192 }),
    ];
    for (text, expected) in cases {
        assert_eq!(BackupCodeSet::decode(&text), Err(expected), "{text}");
    }
    let many: Vec<String> = (0..101u8)
        .map(|i| {
            format!(
                "+{}",
                <base64ct::Base64Unpadded as base64ct::Encoding>::encode_string(&[i; 32])
            )
        })
        .collect();
    let too_many = with(6, &many.join(","));
    assert_eq!(
        BackupCodeSet::decode(&too_many),
        Err(invalid("slots", "more than 100 slots"))
    );
}

#[test]
fn a_code_hashed_once_is_checked_against_fresh_copies_without_hashing_again() {
    let params = HashParams::new(1024, 1, 1).unwrap();
    let config = BackupConfig::default().with_hash_params(params);
    let (stored, codes) = BackupCodeSet::generate(&config).unwrap();
    let typed = codes.iter().nth(4).unwrap().to_string();

    let mut hashed = None;
    let hashing = allocation_counter::measure(|| hashed = Some(stored.hash_input(&typed)));
    let hashed = hashed.unwrap().unwrap();
    assert!(hashing.bytes_total >= 1024 * 1024, "{hashing:?}");
    assert!(!format!("{hashed:?}").contains("digest"), "{hashed:?}");

    // A conditional write's retries re-read the set: each check costs no hashing.
    for _ in 0..3 {
        let mut copy = stored.clone();
        let mut outcome = None;
        let checking = allocation_counter::measure(|| outcome = Some(copy.consume_hashed(&hashed)));
        assert_eq!(
            outcome.unwrap(),
            Ok(BackupVerification::Matched { slot: 4 })
        );
        assert!(checking.bytes_total < 1024, "{checking:?}");
        assert_eq!(copy.remaining(), 9);
        assert_eq!(
            copy.consume_hashed(&hashed),
            Ok(BackupVerification::AlreadyUsed { slot: 4 })
        );
    }
    // A regenerated set has another salt: the digest is refused, not misread.
    let (regenerated, _) = BackupCodeSet::generate(&config).unwrap();
    assert_eq!(regenerated.verify_hashed(&hashed), Err(Error::OtherSet));
    // Bad input is refused before any hashing, as by `verify`.
    let mut refused = None;
    let bad = allocation_counter::measure(|| refused = Some(stored.hash_input("12")));
    assert!(matches!(refused.unwrap(), Err(Error::Input(_))));
    assert!(bad.bytes_total < 1024 * 1024, "{bad:?}");
}

#[test]
fn kept_working_memory_is_allocated_once_and_gives_the_same_digests() {
    let params = HashParams::new(1024, 1, 1).unwrap();
    let config = BackupConfig::default().with_hash_params(params);
    let mut memory = twofold_backup::HashMemory::new();
    let (set, codes) =
        BackupCodeSet::generate_in(&config, &mut getrandom::SysRng, &mut memory).unwrap();
    assert_eq!(memory.bytes(), 1024 * 1024);
    let typed = codes.iter().nth(2).unwrap().to_string();
    // The first use of a fresh memory allocates it; a kept one is reused.
    let mut hashed = None;
    let reused =
        allocation_counter::measure(|| hashed = Some(set.hash_input_in(&typed, &mut memory)));
    assert!(reused.bytes_total < 64 * 1024, "{reused:?}");
    let hashed = hashed.unwrap().unwrap();
    assert_eq!(
        set.verify_hashed(&hashed),
        Ok(BackupVerification::Matched { slot: 2 })
    );
    // The same digest as with memory of its own.
    assert_eq!(
        set.verify(&typed),
        Ok(BackupVerification::Matched { slot: 2 })
    );
    let wrong = set.hash_input_in("00000-00000", &mut memory).unwrap();
    assert_eq!(set.verify_hashed(&wrong), Ok(BackupVerification::NoMatch));
}
