//! Property tests: one-time use, no false matches, idempotent normalisation and
//! round-trips of the stored form.
#![cfg(test)]

use proptest::prelude::*;
use twofold_backup::{
    ALPHABET, BackupCodeSet, BackupConfig, BackupVerification, HashParams, NormalizedCode,
};

fn config(count: usize, length: usize) -> BackupConfig {
    BackupConfig::new(count, length)
        .unwrap()
        .with_hash_params(HashParams::new(16, 1, 1).unwrap())
}

fn symbol() -> impl Strategy<Value = char> {
    (0..32usize).prop_map(|i| char::from(ALPHABET[i]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_code_verifies_exactly_once_then_reports_already_used(
        count in 1usize..=12,
        length in 4usize..=16,
        order in prop::collection::vec(any::<prop::sample::Index>(), 12),
    ) {
        let (mut set, codes) = BackupCodeSet::generate(&config(count, length)).unwrap();
        let codes: Vec<String> = codes.iter().map(str::to_string).collect();
        let mut remaining: Vec<usize> = (0..count).collect();
        for pick in order.iter().take(count) {
            let slot = remaining.remove(pick.index(remaining.len()));
            prop_assert_eq!(set.consume(&codes[slot]).unwrap(), BackupVerification::Matched { slot });
            prop_assert_eq!(set.consume(&codes[slot]).unwrap(), BackupVerification::AlreadyUsed { slot });
            prop_assert_eq!(set.remaining(), remaining.len());
        }
        for (slot, code) in codes.iter().enumerate() {
            prop_assert_eq!(set.verify(&code.to_lowercase()).unwrap(), BackupVerification::AlreadyUsed { slot });
        }
    }

    #[test]
    fn any_other_input_fails(
        typed in prop::collection::vec(symbol(), 10),
        garbage in "\\PC{0,80}",
    ) {
        let (set, codes) = BackupCodeSet::generate(&config(10, 10)).unwrap();
        let typed: String = typed.into_iter().collect();
        let is_a_code = codes.iter().any(|c| c.replace('-', "") == typed);
        prop_assume!(!is_a_code);
        prop_assert_eq!(set.verify(&typed).unwrap(), BackupVerification::NoMatch);
        let garbage_is_a_code = NormalizedCode::parse(&garbage)
            .is_ok_and(|n| codes.iter().any(|c| c.replace('-', "") == n.as_str()));
        prop_assume!(!garbage_is_a_code);
        let outcome = set.verify(&garbage);
        prop_assert!(matches!(outcome, Ok(BackupVerification::NoMatch) | Err(_)), "{:?}", outcome);
    }

    #[test]
    fn normalisation_is_idempotent(input in "[0-9A-Za-z \\-]{0,40}|\\PC{0,40}") {
        if let Ok(once) = NormalizedCode::parse(&input) {
            let twice = NormalizedCode::parse(once.as_str()).unwrap();
            prop_assert_eq!(twice.as_str(), once.as_str());
            prop_assert!(once.as_str().bytes().all(|b| ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn the_stored_set_round_trips(
        count in 1usize..=20,
        length in 4usize..=32,
        used in prop::collection::vec(any::<bool>(), 20),
    ) {
        let (mut set, _) = BackupCodeSet::generate(&config(count, length)).unwrap();
        for (slot, &mark) in used.iter().take(count).enumerate() {
            if mark {
                set.mark_used(slot).unwrap();
            }
        }
        let text = set.encode();
        let decoded = BackupCodeSet::decode(&text).unwrap();
        prop_assert_eq!(&decoded, &set);
        prop_assert_eq!(decoded.encode(), text);
    }

    #[test]
    fn decoding_never_panics(text in "\\PC{0,200}", cut in 0usize..400, byte in any::<u8>()) {
        let _ = BackupCodeSet::decode(&text);
        // Mutations of a valid record: errors or a valid set, never a panic.
        let (set, _) = BackupCodeSet::generate(&config(3, 10)).unwrap();
        let mut record = set.encode().into_bytes();
        let at = cut % record.len();
        record[at] = byte;
        if let Ok(mutated) = String::from_utf8(record)
            && let Ok(decoded) = BackupCodeSet::decode(&mutated)
        {
            prop_assert_eq!(BackupCodeSet::decode(&decoded.encode()).unwrap(), decoded);
        }
    }
}
