//! The small parts of the public API: names, conversions, the countdown, input
//! bounds, and `Debug` output that never shows a secret or a code.
#![cfg(test)]

use twofold_totp::{
    Algorithm, Code, CodeError, Digits, Hotp, MAX_CODE_INPUT_BYTES, Period, Secret, Totp,
    TotpParams,
};

#[test]
fn algorithm_names_and_number_conversions() {
    assert_eq!(Algorithm::Sha1.to_string(), "SHA1");
    assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
    assert_eq!(Algorithm::Sha512.to_string(), "SHA512");
    assert_eq!(u32::from(Digits::SIX), 6);
    assert_eq!(u32::from(Digits::EIGHT), 8);
    assert_eq!(Digits::try_from(7), Ok(Digits::SEVEN));
    assert!(Digits::try_from(9).is_err());
    assert!(Digits::try_from(5).is_err());
    assert_eq!(u64::from(Period::new(45).unwrap()), 45);
    assert_eq!(u64::from(Period::THIRTY_SECONDS), 30);
}

#[test]
fn seconds_remaining_counts_down_to_the_next_code() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let totp = Totp::new(&secret, TotpParams::default());
    for (time, left) in [
        (0, 30),
        (1, 29),
        (29, 1),
        (30, 30),
        (59, 1),
        (1_000_000_007, 13),
    ] {
        assert_eq!(totp.seconds_remaining(time), left, "at {time}");
    }
    // Before T0 the first code starts at T0.
    let late_start = Totp::new(
        &secret,
        TotpParams {
            t0: 100,
            ..TotpParams::default()
        },
    );
    assert_eq!(late_start.seconds_remaining(40), 60);
    assert_eq!(late_start.seconds_remaining(100), 30);
}

#[test]
fn input_is_read_up_to_its_byte_limit_and_refused_beyond() {
    let padded = |total: usize| format!("{}123456", " ".repeat(total - 6));
    assert_eq!(
        Code::parse(&padded(MAX_CODE_INPUT_BYTES), Digits::SIX)
            .unwrap()
            .to_string(),
        "123456"
    );
    assert_eq!(
        Code::parse(&padded(MAX_CODE_INPUT_BYTES + 1), Digits::SIX),
        Err(CodeError::TooLong {
            max_bytes: MAX_CODE_INPUT_BYTES
        })
    );
}

#[test]
fn debug_output_never_shows_a_code_or_a_secret() {
    let code = Code::parse("482913", Digits::SIX).unwrap();
    assert_eq!(format!("{code:?}"), "Code(6 digits, …)");
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let totp = Totp::new(&secret, TotpParams::default());
    let hotp = Hotp::new(&secret, Algorithm::Sha1, Digits::SIX);
    for shown in [format!("{totp:?}"), format!("{hotp:?}")] {
        assert!(shown.contains('…'), "{shown}");
        assert!(!shown.contains("1234567890"), "{shown}");
        assert!(!shown.contains(&secret.to_base32()), "{shown}");
    }
    assert!(format!("{totp:?}").starts_with("Totp"));
    assert!(format!("{hotp:?}").starts_with("Hotp"));
}
