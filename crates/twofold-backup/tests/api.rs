//! The small parts of the public API: accessors, input bounds, the checks that
//! decide whether a set needs regenerating, and `Debug` output that never shows
//! a code.
#![cfg(test)]

use twofold_backup::{
    BackupCodeSet, BackupConfig, HashParams, InputError, MAX_CODE_LENGTH, MAX_INPUT_BYTES,
    NormalizedCode,
};

fn cheap() -> HashParams {
    HashParams::new(64, 1, 1).unwrap()
}

#[test]
fn parameters_and_configuration_read_back() {
    let params = HashParams::new(4096, 3, 2).unwrap();
    assert_eq!(
        (
            params.memory_kib(),
            params.iterations(),
            params.parallelism()
        ),
        (4096, 3, 2)
    );
    let config = BackupConfig::new(12, 8)
        .unwrap()
        .with_hash_params(params)
        .with_minimum_hash_params(cheap());
    assert_eq!(config.hash_params(), params);
    assert_eq!(config.minimum_hash_params(), cheap());
    let (set, codes) = BackupCodeSet::generate(&config).unwrap();
    assert_eq!(set.hash_params(), params);
    assert_eq!((set.len(), codes.len()), (12, 12));
    assert!(!set.is_empty() && !codes.is_empty());
    assert_eq!(set.is_used(0), Some(false));
    assert_eq!(set.is_used(12), None);
}

/// The test parameters are the cheapest Argon2id takes, hash and minimum
/// alike, with the default count and length; their sets verify, and any
/// configuration with the default minimum asks for them to be replaced.
#[test]
fn the_dangerous_test_parameters_are_the_cheapest_and_flagged_under_the_default() {
    let fast = HashParams::DANGEROUS_INSECURE_FOR_TESTS;
    assert_eq!(fast, HashParams::new(8, 1, 1).unwrap());
    assert!(HashParams::new(7, 1, 1).is_err());
    let config = BackupConfig::dangerous_insecure_for_tests();
    assert_eq!(
        (config.hash_params(), config.minimum_hash_params()),
        (fast, fast)
    );
    let default = BackupConfig::default();
    assert_eq!(
        (config.count(), config.length()),
        (default.count(), default.length())
    );
    let (set, codes) = BackupCodeSet::generate(&config).unwrap();
    assert_eq!(set.hash_params(), fast);
    let first = codes.iter().next().unwrap();
    assert!(matches!(
        set.verify(first).unwrap(),
        twofold_backup::BackupVerification::Matched { slot: 0 }
    ));
    assert!(!set.needs_regeneration(&config));
    assert!(set.needs_regeneration(&default));
}

#[test]
fn every_cost_must_reach_the_minimum() {
    let minimum = HashParams::new(1024, 2, 2).unwrap();
    for (params, enough) in [
        (HashParams::new(1024, 2, 2).unwrap(), true),
        (HashParams::new(2048, 3, 2).unwrap(), true),
        (HashParams::new(512, 2, 2).unwrap(), false),
        (HashParams::new(1024, 1, 2).unwrap(), false),
        (HashParams::new(1024, 2, 1).unwrap(), false),
        (HashParams::new(4096, 9, 1).unwrap(), false),
    ] {
        assert_eq!(params.is_at_least(&minimum), enough, "{params:?}");
    }
}

#[test]
fn input_is_read_up_to_its_limits_and_refused_beyond() {
    let code = "7KQ4MXR2PD";
    let padded = |total: usize| format!("{}{code}", " ".repeat(total - code.len()));
    assert_eq!(
        NormalizedCode::parse(&padded(MAX_INPUT_BYTES))
            .unwrap()
            .as_str(),
        code
    );
    assert_eq!(
        NormalizedCode::parse(&padded(MAX_INPUT_BYTES + 1)).unwrap_err(),
        InputError::TooLong {
            max_bytes: MAX_INPUT_BYTES
        }
    );
    let longest = "7".repeat(MAX_CODE_LENGTH);
    let parsed = NormalizedCode::parse(&longest).unwrap();
    assert_eq!(
        (parsed.len(), parsed.as_str()),
        (MAX_CODE_LENGTH, longest.as_str())
    );
    assert_eq!(
        NormalizedCode::parse(&"7".repeat(MAX_CODE_LENGTH + 1)).unwrap_err(),
        InputError::WrongLength {
            expected: MAX_CODE_LENGTH,
            found: MAX_CODE_LENGTH + 1
        }
    );
    assert!(NormalizedCode::parse(" - ").unwrap().is_empty());
    assert!(!NormalizedCode::parse("7").unwrap().is_empty());
}

#[test]
fn debug_output_never_shows_a_code() {
    let (set, codes) = BackupCodeSet::generate(
        &BackupConfig::default()
            .with_hash_params(cheap())
            .with_minimum_hash_params(cheap()),
    )
    .unwrap();
    let first = codes.iter().next().unwrap().to_string();
    let normalized = NormalizedCode::parse(&first).unwrap();
    let shown = [
        format!("{set:?}"),
        format!("{codes:?}"),
        format!("{:?}", codes.codes()[0]),
        format!("{normalized:?}"),
    ];
    assert!(shown[0].starts_with("BackupCodeSet") && shown[0].contains("remaining: 10"));
    assert_eq!(shown[1], "NewBackupCodes(10 codes, …)");
    assert_eq!(shown[2], "BackupCode(…)");
    assert_eq!(shown[3], "NormalizedCode(10 symbols, …)");
    for text in &shown {
        assert!(
            !text.contains(&first) && !text.contains(normalized.as_str()),
            "{text}"
        );
    }
}

/// A counter as randomness: two fresh ones give the same bytes, so two sets
/// generated from them share their salt and codes.
struct Repeating(u8);

impl rand_core::TryRng for Repeating {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Repeating {}

#[test]
fn a_digest_for_other_parameters_is_refused_even_under_the_same_salt() {
    let config = |memory| {
        BackupConfig::new(3, 10)
            .unwrap()
            .with_hash_params(HashParams::new(memory, 1, 1).unwrap())
            .with_minimum_hash_params(cheap())
    };
    // Same salt and codes; only the Argon2 memory differs.
    let (first, codes) = BackupCodeSet::generate_with(&config(64), &mut Repeating(0)).unwrap();
    let (second, _) = BackupCodeSet::generate_with(&config(128), &mut Repeating(0)).unwrap();
    let typed = first.hash_input(codes.iter().next().unwrap()).unwrap();
    assert_eq!(
        first.verify_hashed(&typed),
        Ok(twofold_backup::BackupVerification::Matched { slot: 0 })
    );
    assert_eq!(
        second.verify_hashed(&typed),
        Err(twofold_backup::Error::OtherSet)
    );
}

#[test]
fn a_stored_set_is_refused_as_too_long_only_beyond_its_limit() {
    use twofold_backup::{DecodeError, MAX_ENCODED_BYTES};
    let at_limit = "x".repeat(MAX_ENCODED_BYTES);
    assert!(matches!(
        BackupCodeSet::decode(&at_limit),
        Err(DecodeError::UnsupportedFormat { .. })
    ));
    let beyond = "x".repeat(MAX_ENCODED_BYTES + 1);
    assert!(matches!(
        BackupCodeSet::decode(&beyond),
        Err(DecodeError::TooLong { .. })
    ));
}

#[test]
fn working_memory_and_hashed_input_show_no_secret() {
    let (set, codes) = BackupCodeSet::generate(
        &BackupConfig::default()
            .with_hash_params(cheap())
            .with_minimum_hash_params(cheap()),
    )
    .unwrap();
    let mut memory = twofold_backup::HashMemory::new();
    assert_eq!(format!("{memory:?}"), "HashMemory { bytes: 0 }");
    let typed = set
        .hash_input_in(codes.iter().next().unwrap(), &mut memory)
        .unwrap();
    assert_eq!(format!("{memory:?}"), "HashMemory { bytes: 65536 }");
    let shown = format!("{typed:?}");
    assert!(
        shown.starts_with("HashedInput") && shown.contains("length: 10"),
        "{shown}"
    );
    assert!(
        !shown.contains("digest") && !shown.contains("salt"),
        "{shown}"
    );
}
