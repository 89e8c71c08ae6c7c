//! Property tests: totp-lite as an oracle for code generation; round-trips of
//! URIs, base32 and code input; the window, drift and replay semantics.
#![cfg(test)]

use proptest::prelude::*;
use twofold_totp::{
    Algorithm, Code, Digits, OtpAuthUri, OtpKind, Period, Secret, Totp, TotpParams, Verification,
    Window,
};

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn digits() -> impl Strategy<Value = Digits> {
    (6u32..=8).prop_map(|d| Digits::new(d).unwrap())
}

fn secret_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 16..=64)
}

fn oracle(algorithm: Algorithm, period: u64, digits: u32, secret: &[u8], time: u64) -> String {
    match algorithm {
        Algorithm::Sha1 => totp_lite::totp_custom::<totp_lite::Sha1>(period, digits, secret, time),
        Algorithm::Sha256 => {
            totp_lite::totp_custom::<totp_lite::Sha256>(period, digits, secret, time)
        }
        Algorithm::Sha512 => {
            totp_lite::totp_custom::<totp_lite::Sha512>(period, digits, secret, time)
        }
    }
}

/// The reference semantics of verification, written the slow and obvious way.
fn reference(totp: &Totp, code: &Code, time: u64, last: Option<u64>) -> Verification {
    let Some(current) = totp.step_at(time) else {
        return Verification::Rejected;
    };
    let window = totp.params().window;
    let first = current.saturating_sub(u64::from(window.back()));
    let last_step = current.saturating_add(u64::from(window.ahead()));
    let matched = (first..=last_step)
        .filter(|&s| totp.generate_at_step(s) == *code)
        .max();
    match (matched, last) {
        (None, _) => Verification::Rejected,
        (Some(step), Some(l)) if step <= l => Verification::Replayed { step },
        (Some(step), _) => Verification::Accepted {
            step,
            drift: step as i64 - current as i64,
        },
    }
}

/// Any name an application may give: colons, surrounding spaces, the URI's
/// own delimiters and any Unicode.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ :&=+%@/?#a-zA-Z0-9\u{e9}\u{6f22}\u{1f600}]{1,24}",
        "\\PC{1,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codes_equal_totp_lite(
        algorithm in algorithm(),
        digits in digits(),
        secret in secret_bytes(),
        period in 1u64..=600,
        time in 0u64..=(1u64 << 40),
        t0 in 0u64..=1_000_000,
    ) {
        let params = TotpParams {
            algorithm,
            digits,
            period: Period::new(period).unwrap(),
            t0,
            window: Window::default(),
        };
        let totp = Totp::new(&Secret::from_bytes(&secret).unwrap(), params);
        // totp-lite has no T0: shifting time by T0 must give its code.
        let expected = oracle(algorithm, period, u32::from(digits.get()), &secret, time);
        prop_assert_eq!(totp.generate(time + t0).unwrap().to_string(), expected);
    }

    #[test]
    fn verification_follows_the_reference_semantics(
        algorithm in algorithm(),
        secret in secret_bytes(),
        back in 0u8..=Window::MAX_STEPS,
        ahead in 0u8..=Window::MAX_STEPS,
        time in 0u64..=(1u64 << 36),
        offset in -12i64..=12,
        last_delta in prop::option::of(-14i64..=14),
    ) {
        let params = TotpParams {
            algorithm,
            window: Window::new(back, ahead).unwrap(),
            ..TotpParams::default()
        };
        let totp = Totp::new(&Secret::from_bytes(&secret).unwrap(), params);
        let current = totp.step_at(time).unwrap();
        let Some(step) = current.checked_add_signed(offset) else { return Ok(()) };
        let code = totp.generate_at_step(step);
        let last = last_delta.and_then(|d| current.checked_add_signed(d));
        let outcome = totp.verify_code(&code, time, last);
        prop_assert_eq!(outcome, reference(&totp, &code, time, last));

        let inside = -i64::from(back) <= offset && offset <= i64::from(ahead);
        match outcome {
            Verification::Accepted { step: matched, drift } => {
                // Accepted steps lie in the window, after the last accepted one.
                prop_assert!(drift >= -i64::from(back) && drift <= i64::from(ahead));
                prop_assert_eq!(matched as i64 - current as i64, drift);
                prop_assert!(last.is_none_or(|l| matched > l));
                // Storing the step makes the same code a replay from then on.
                prop_assert!(!totp.verify_code(&code, time, Some(matched)).is_accepted());
            }
            Verification::Replayed { step: matched } => prop_assert!(last.is_some_and(|l| matched <= l)),
            Verification::Rejected => prop_assert!(!inside),
        }
        if inside && last.is_none() {
            prop_assert!(outcome.is_accepted());
        }
    }

    #[test]
    fn uri_round_trips(
        issuer in prop::option::of(name()),
        account in name(),
        secret in secret_bytes(),
        algorithm in algorithm(),
        digits in digits(),
        kind in prop_oneof![
            (1u64..=3600).prop_map(|p| OtpKind::Totp { period: Period::new(p).unwrap() }),
            any::<u64>().prop_map(|counter| OtpKind::Hotp { counter }),
        ],
    ) {
        let uri = OtpAuthUri::new(kind, issuer.as_deref(), &account, Secret::from_bytes(&secret).unwrap())
            .unwrap()
            .with_algorithm(algorithm)
            .with_digits(digits);
        let text = uri.to_uri_string();
        let back = OtpAuthUri::parse(&text).unwrap();
        prop_assert!(!back.label_is_ambiguous());
        prop_assert_eq!(back, uri);
    }

    /// A writer that leaves colons and spaces literal in the label still reads
    /// right, whenever it writes the `issuer` parameter: the label's prefix is
    /// matched against it.
    #[test]
    fn literal_colons_read_right_beside_an_issuer_parameter(
        issuer in "[a-z :]{0,8}[a-z]",
        account in "[a-z:]{0,8}[a-z]",
    ) {
        let text = format!(
            "otpauth://totp/{}:{}?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer={}",
            issuer.replace(' ', "%20"),
            account,
            issuer.replace(' ', "+"),
        );
        let uri = OtpAuthUri::parse(&text).unwrap();
        prop_assert_eq!(uri.issuer(), Some(issuer.as_str()));
        prop_assert_eq!(uri.account(), account.as_str());
        prop_assert!(!uri.label_is_ambiguous());
    }

    /// Without an `issuer` parameter, a literal colon is read as the separator
    /// and an encoded one as part of the account, both flagged; an empty
    /// `issuer=` confirms the second reading.
    #[test]
    fn without_an_issuer_parameter_only_a_literal_colon_separates(
        left in "[a-z]{1,8}",
        right in "[a-z]{1,8}",
    ) {
        let secret = "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let literal = OtpAuthUri::parse(&format!("otpauth://totp/{left}:{right}?{secret}")).unwrap();
        prop_assert_eq!(literal.issuer(), Some(left.as_str()));
        prop_assert_eq!(literal.account(), right.as_str());
        prop_assert!(literal.label_is_ambiguous());
        let encoded = OtpAuthUri::parse(&format!("otpauth://totp/{left}%3A{right}?{secret}")).unwrap();
        prop_assert_eq!(encoded.issuer(), None);
        prop_assert_eq!(encoded.account(), format!("{left}:{right}"));
        prop_assert!(encoded.label_is_ambiguous());
        let confirmed = OtpAuthUri::parse(&format!("otpauth://totp/{left}%3A{right}?{secret}&issuer=")).unwrap();
        prop_assert_eq!(confirmed.issuer(), None);
        prop_assert_eq!(confirmed.account(), format!("{left}:{right}"));
        prop_assert!(!confirmed.label_is_ambiguous());
    }

    #[test]
    fn base32_round_trips_leniently(
        bytes in prop::collection::vec(any::<u8>(), 10..=128),
        lowercase in any::<bool>(),
        separator in prop_oneof![Just(""), Just(" "), Just("-")],
        pad in any::<bool>(),
    ) {
        let secret = Secret::from_bytes_legacy(&bytes).unwrap();
        let text = secret.to_base32();
        prop_assert!(!text.contains('='));
        prop_assert_eq!(text.to_ascii_uppercase(), text.clone());
        let mut typed: String = text
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(separator);
        if lowercase {
            typed = typed.to_ascii_lowercase();
        }
        if pad {
            typed.extend(std::iter::repeat_n('=', (8 - text.len() % 8) % 8));
        }
        let decoded = Secret::from_base32_legacy(&typed).unwrap();
        prop_assert_eq!(decoded.expose_bytes(), &bytes[..]);
        prop_assert_eq!(Secret::from_base32_legacy(&secret.to_manual_entry()).unwrap(), secret);
    }

    #[test]
    fn code_input_is_read_whatever_the_separators(
        value in 0u32..100_000_000,
        digits in digits(),
        separators in prop::collection::vec(prop_oneof![Just(""), Just(" "), Just("-")], 8),
    ) {
        let value = value % 10u32.pow(u32::from(digits.get()));
        let plain = format!("{value:0width$}", width = usize::from(digits.get()));
        let typed: String = plain.chars().zip(&separators).flat_map(|(c, s)| [c.to_string(), s.to_string()]).collect();
        let code = Code::parse(&typed, digits).unwrap();
        prop_assert_eq!(code.value(), value);
        // Normalisation is idempotent: the displayed code reads back as itself.
        prop_assert_eq!(Code::parse(&code.to_string(), digits).unwrap(), code);
    }

    #[test]
    fn code_input_never_panics(input in "\\PC{0,40}", digits in digits()) {
        let _ = Code::parse(&input, digits);
    }

    #[test]
    fn uri_parser_never_panics(input in "otpauth://(totp|hotp|x)/\\PC{0,80}") {
        let _ = OtpAuthUri::parse(&input);
    }

    #[test]
    fn base32_parser_never_panics(input in "\\PC{0,120}") {
        let _ = Secret::from_base32_legacy(&input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An app `offset` steps off matches once the window is centred on it; the
    /// outcome's drift is relative to the server's step; the server's own step
    /// still matches with any drift.
    #[test]
    fn a_drifted_window_follows_the_app(
        secret in secret_bytes(),
        time in 1_000_000u64..=(1u64 << 36),
        offset in -10i64..=10,
    ) {
        let totp = Totp::new(&Secret::from_bytes(&secret).unwrap(), TotpParams::default());
        let app_time = time.checked_add_signed(offset * 30).unwrap();
        let code = Code::parse(&oracle(Algorithm::Sha1, 30, 6, &secret, app_time), Digits::SIX).unwrap();
        let current = time / 30;
        match totp.verify_code_with_drift(&code, time, None, offset) {
            Verification::Accepted { step, drift } => {
                // The latest matching step wins; it is the app's unless a
                // later one in the searched steps has the same code.
                prop_assert!(step >= current.checked_add_signed(offset).unwrap());
                prop_assert_eq!(drift, step as i64 - current as i64);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        let now = Code::parse(&oracle(Algorithm::Sha1, 30, 6, &secret, time), Digits::SIX).unwrap();
        prop_assert!(totp.verify_code_with_drift(&now, time, None, offset).is_accepted());
    }

    /// `find_step` finds the app's step within the range, and whatever it
    /// finds is a step in range whose code is the one given.
    #[test]
    fn find_step_finds_only_matching_steps_in_range(
        secret in secret_bytes(),
        time in 1_000_000u64..=(1u64 << 36),
        offset in -15i64..=15,
    ) {
        let totp = Totp::new(&Secret::from_bytes(&secret).unwrap(), TotpParams::default());
        let app_time = time.checked_add_signed(offset * 30).unwrap();
        let code = Code::parse(&oracle(Algorithm::Sha1, 30, 6, &secret, app_time), Digits::SIX).unwrap();
        let current = time / 30;
        let found = totp.find_step(&code, time, 10);
        if offset.abs() <= 10 {
            prop_assert!(found.is_some());
        }
        if let Some(step) = found {
            prop_assert!(step.abs_diff(current) <= 10);
            prop_assert!(totp.matches_step(&code, step));
            prop_assert_eq!(totp.generate_at_step(step), code);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `matches_step` is true for exactly the step whose code it is (by
    /// totp-lite), and never for a code of another length.
    #[test]
    fn matches_step_is_exact(
        secret in secret_bytes(),
        step in 0u64..(1u64 << 36),
        other in 0u64..(1u64 << 36),
    ) {
        let totp = Totp::new(&Secret::from_bytes(&secret).unwrap(), TotpParams::default());
        let text = oracle(Algorithm::Sha1, 30, 6, &secret, step * 30);
        let code = Code::parse(&text, Digits::SIX).unwrap();
        prop_assert!(totp.matches_step(&code, step));
        let other_text = oracle(Algorithm::Sha1, 30, 6, &secret, other * 30);
        prop_assert_eq!(totp.matches_step(&code, other), other_text == text);
        let eight = Totp::new(
            &Secret::from_bytes(&secret).unwrap(),
            TotpParams { digits: Digits::new(8).unwrap(), ..TotpParams::default() },
        );
        prop_assert!(!eight.matches_step(&code, step));
    }
}
