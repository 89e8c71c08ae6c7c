//! Which step wins when two steps of one window share a code.
//!
//! Random secrets almost never give two nearby steps the same 6-digit code, so
//! these cases were found offline (`tests/data/find_shared_codes.py`, with
//! Python's `hmac`, not with this crate) and are read from
//! `tests/data/shared_codes.csv`. The oathtool cross-check confirms the codes.
//!
//! - TOTP: the latest matching step wins, so that a replayed earlier step can
//!   never shadow a fresh match, and the stored step moves as far as it can.
//! - HOTP: the earliest matching counter wins (RFC 4226 §7.4: resynchronise
//!   no further than the code proves).
#![cfg(test)]

use twofold_totp::{
    Algorithm, Digits, Hotp, HotpVerification, Secret, Totp, TotpParams, Verification, Window,
};

struct Shared {
    algorithm: Algorithm,
    key: Vec<u8>,
    first: u64,
    second: u64,
    code: String,
}

fn cases() -> Vec<Shared> {
    let path = format!("{}/tests/data/shared_codes.csv", env!("CARGO_MANIFEST_DIR"));
    let cases: Vec<Shared> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let [algorithm, key, first, second, code] = fields.as_slice() else {
                panic!("bad row {line}");
            };
            Shared {
                algorithm: Algorithm::from_name(algorithm).unwrap(),
                key: key.as_bytes().to_vec(),
                first: first.parse().unwrap(),
                second: second.parse().unwrap(),
                code: (*code).to_string(),
            }
        })
        .collect();
    // Both distances, for every algorithm.
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for distance in [1, 2] {
            assert!(
                cases
                    .iter()
                    .any(|c| c.algorithm == algorithm && c.second - c.first == distance),
                "no {algorithm} case {distance} steps apart"
            );
        }
    }
    cases
}

fn totp(case: &Shared) -> Totp {
    let params = TotpParams {
        algorithm: case.algorithm,
        window: Window::new(1, 1).unwrap(),
        ..TotpParams::default()
    };
    Totp::new(&Secret::from_bytes(&case.key).unwrap(), params)
}

fn at_step(step: u64) -> u64 {
    step * 30 + 7
}

#[test]
fn the_data_is_what_this_crate_computes() {
    for case in cases() {
        let totp = totp(&case);
        assert_eq!(totp.generate_at_step(case.first).to_string(), case.code);
        assert_eq!(totp.generate_at_step(case.second).to_string(), case.code);
    }
}

#[test]
fn totp_the_latest_matching_step_wins() {
    for case in cases() {
        let totp = totp(&case);
        // Every current step whose ±1 window holds both steps.
        for current in case.second.saturating_sub(1)..=case.first + 1 {
            let expected = Verification::Accepted {
                step: case.second,
                drift: case.second as i64 - current as i64,
            };
            let name = format!(
                "{} {}/{} at {current}",
                case.algorithm, case.first, case.second
            );
            assert_eq!(
                totp.verify(&case.code, at_step(current), None).unwrap(),
                expected,
                "{name}: first sign-in"
            );
            // The earlier step was accepted before: the later one still matches.
            assert_eq!(
                totp.verify(&case.code, at_step(current), Some(case.first))
                    .unwrap(),
                expected,
                "{name}: the spent earlier step must not shadow the later one"
            );
            // The later step was accepted before: nothing is left to accept.
            assert_eq!(
                totp.verify(&case.code, at_step(current), Some(case.second))
                    .unwrap(),
                Verification::Replayed { step: case.second },
                "{name}: a replay"
            );
        }
    }
}

#[test]
fn hotp_the_earliest_matching_counter_wins() {
    for case in cases() {
        let hotp = Hotp::new(
            &Secret::from_bytes(&case.key).unwrap(),
            case.algorithm,
            Digits::SIX,
        );
        let name = format!("{} {}/{}", case.algorithm, case.first, case.second);
        for expected in case.first.saturating_sub(3)..=case.first {
            assert_eq!(
                hotp.verify(&case.code, expected, 5).unwrap(),
                HotpVerification::Accepted {
                    counter: case.first
                },
                "{name}: expecting {expected}"
            );
        }
        // Once the earlier counter is behind the window, the later one matches.
        assert_eq!(
            hotp.verify(&case.code, case.first + 1, 5).unwrap(),
            HotpVerification::Accepted {
                counter: case.second
            },
            "{name}"
        );
    }
}
