//! Behaviour tests: windows, replays, secrets, typed errors, URIs and QR codes.
#![cfg(test)]

use twofold_totp::{
    Algorithm, Code, CodeError, Digits, OtpAuthUri, OtpKind, ParameterError, Period, Secret,
    SecretError, Strength, Totp, TotpParams, UriError, Verification, Window,
};

const NOW: u64 = 1_767_225_615; // 2026-01-01T00:00:15Z, step 58_907_520
const SECRET_B32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn totp() -> Totp {
    Totp::new(
        &Secret::from_base32(SECRET_B32).unwrap(),
        TotpParams::default(),
    )
}

#[test]
fn default_window_accepts_one_step_of_skew_each_way_and_not_two() {
    let totp = totp();
    let current = totp.step_at(NOW).unwrap();
    for (offset, expected) in [
        (-2i64, None),
        (-1, Some(-1)),
        (0, Some(0)),
        (1, Some(1)),
        (2, None),
    ] {
        let code = totp
            .generate(NOW.checked_add_signed(offset * 30).unwrap())
            .unwrap();
        let outcome = totp.verify(&code.to_string(), NOW, None).unwrap();
        match expected {
            Some(drift) => assert_eq!(
                outcome,
                Verification::Accepted {
                    step: current.checked_add_signed(drift).unwrap(),
                    drift
                }
            ),
            None => assert_eq!(outcome, Verification::Rejected, "offset {offset}"),
        }
    }
}

#[test]
fn asymmetric_window() {
    let params = TotpParams {
        window: Window::new(2, 0).unwrap(),
        ..TotpParams::default()
    };
    let totp = Totp::new(&Secret::from_base32(SECRET_B32).unwrap(), params);
    let old = totp.generate(NOW - 60).unwrap().to_string();
    let ahead = totp.generate(NOW + 30).unwrap().to_string();
    assert!(matches!(
        totp.verify(&old, NOW, None).unwrap(),
        Verification::Accepted { drift: -2, .. }
    ));
    assert_eq!(
        totp.verify(&ahead, NOW, None).unwrap(),
        Verification::Rejected
    );
}

#[test]
fn a_code_is_accepted_once_then_replayed() {
    let totp = totp();
    let code = totp.generate(NOW).unwrap().to_string();
    let Verification::Accepted { step, .. } = totp.verify(&code, NOW, None).unwrap() else {
        panic!("first use must be accepted");
    };
    // Same code, same step, and again 29 seconds later within the window.
    assert_eq!(
        totp.verify(&code, NOW, Some(step)).unwrap(),
        Verification::Replayed { step }
    );
    assert_eq!(
        totp.verify(&code, NOW + 29, Some(step)).unwrap(),
        Verification::Replayed { step }
    );
    // An older code, once a later step was accepted, is a replay too (RFC 6238 §5.2).
    let older = totp.generate(NOW - 30).unwrap().to_string();
    assert_eq!(
        totp.verify(&older, NOW, Some(step)).unwrap(),
        Verification::Replayed { step: step - 1 }
    );
    // The next step's code is fresh.
    let next = totp.generate(NOW + 30).unwrap().to_string();
    assert!(
        totp.verify(&next, NOW + 30, Some(step))
            .unwrap()
            .is_accepted()
    );
}

#[test]
fn times_before_t0_have_no_step() {
    let params = TotpParams {
        t0: 1_000,
        ..TotpParams::default()
    };
    let totp = Totp::new(&Secret::from_base32(SECRET_B32).unwrap(), params);
    assert_eq!(totp.step_at(999), None);
    assert_eq!(totp.generate(999), Err(ParameterError::TimeBeforeT0));
    let code = totp.generate(1_000).unwrap().to_string();
    assert_eq!(
        totp.verify(&code, 999, None).unwrap(),
        Verification::Rejected
    );
    assert_eq!(
        totp.verify(&code, 1_000, None).unwrap(),
        Verification::Accepted { step: 0, drift: 0 }
    );
    assert_eq!(totp.seconds_remaining(1_000), 30);
    assert_eq!(totp.seconds_remaining(1_029), 1);
}

#[test]
fn parameters_are_range_checked() {
    assert_eq!(Digits::new(5), Err(ParameterError::Digits(5)));
    assert_eq!(Digits::new(9), Err(ParameterError::Digits(9)));
    assert_eq!(Digits::new(7).unwrap().get(), 7);
    assert_eq!(Period::new(0), Err(ParameterError::Period));
    assert_eq!(
        Window::new(11, 0),
        Err(ParameterError::Window { steps: 11, max: 10 })
    );
    assert_eq!(
        Window::new(0, 200),
        Err(ParameterError::Window {
            steps: 200,
            max: 10
        })
    );
    assert_eq!(Window::default(), Window::new(1, 1).unwrap());
}

#[test]
fn code_input_errors_are_typed() {
    let six = Digits::SIX;
    assert_eq!(Code::parse("123 456", six).unwrap().value(), 123_456);
    assert_eq!(
        Code::parse("\t000-001 ", six).unwrap().to_string(),
        "000001"
    );
    assert_eq!(
        Code::parse("12345", six),
        Err(CodeError::WrongLength {
            expected: 6,
            found: 5
        })
    );
    assert_eq!(
        Code::parse("1234567", six),
        Err(CodeError::WrongLength {
            expected: 6,
            found: 7
        })
    );
    assert_eq!(
        Code::parse("", six),
        Err(CodeError::WrongLength {
            expected: 6,
            found: 0
        })
    );
    assert_eq!(
        Code::parse("12a456", six),
        Err(CodeError::InvalidCharacter { position: 2 })
    );
    assert_eq!(
        Code::parse("١٢٣٤٥٦", six),
        Err(CodeError::NonAsciiDigit { position: 0 })
    );
    assert_eq!(
        Code::parse("12345６", six),
        Err(CodeError::NonAsciiDigit { position: 5 })
    );
    assert_eq!(
        Code::parse(&"1".repeat(10_000), six),
        Err(CodeError::TooLong { max_bytes: 32 })
    );
    // A valid code padded past the limit with spaces is still refused before any work.
    assert!(matches!(
        Code::parse(&format!("123456{}", " ".repeat(40)), six),
        Err(CodeError::TooLong { .. })
    ));
    // Errors never echo the input.
    let message = Code::parse("12x456", six).unwrap_err().to_string();
    assert!(!message.contains("12x456"), "{message}");
}

#[test]
fn verify_reports_bad_input_as_errors_not_rejections() {
    let totp = totp();
    assert!(totp.verify("12345", NOW, None).is_err());
    assert!(totp.verify("abcdef", NOW, None).is_err());
    // A code of the wrong length parsed elsewhere is simply rejected.
    let eight = Code::parse("12345678", Digits::EIGHT).unwrap();
    assert_eq!(totp.verify_code(&eight, NOW, None), Verification::Rejected);
}

#[test]
fn generated_secrets_are_160_bits_and_distinct() {
    let a = Secret::generate().unwrap();
    let b = Secret::generate().unwrap();
    assert_eq!(a.expose_bytes().len(), 20);
    assert_eq!(a.strength(), Strength::Recommended { bits: 160 });
    assert_ne!(a, b);
    assert_eq!(a.to_base32().len(), 32);
}

#[test]
fn weak_secrets_need_the_legacy_opt_in_and_report_their_strength() {
    let eighty_bits = "JBSWY3DPEHPK3PXP"; // 10 bytes
    assert_eq!(
        Secret::from_base32(eighty_bits),
        Err(SecretError::TooShort {
            bits: 80,
            minimum: 128
        })
    );
    let legacy = Secret::from_base32_legacy(eighty_bits).unwrap();
    assert_eq!(legacy.strength(), Strength::Legacy { bits: 80 });
    assert_eq!(legacy.strength().bits(), 80);
    // Below 80 bits nothing is accepted.
    assert_eq!(
        Secret::from_bytes_legacy(&[7; 9]),
        Err(SecretError::TooShort {
            bits: 72,
            minimum: 80
        })
    );
    assert_eq!(
        Secret::from_bytes(&[7; 129]),
        Err(SecretError::TooLong { max_bytes: 128 })
    );
    // URIs follow the same rule.
    let uri = format!("otpauth://totp/Acme:ana?secret={eighty_bits}");
    assert!(matches!(
        OtpAuthUri::parse(&uri),
        Err(UriError::Secret(SecretError::TooShort { bits: 80, .. }))
    ));
    let parsed = OtpAuthUri::parse_legacy(&uri).unwrap();
    assert_eq!(parsed.secret().strength(), Strength::Legacy { bits: 80 });
}

#[test]
fn base32_input_is_lenient_but_checked() {
    let canonical = Secret::from_base32(SECRET_B32).unwrap();
    for typed in [
        "jbswy3dpehpk3pxpjbswy3dpehpk3pxp",
        "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP",
        "jbsw-y3dp-ehpk-3pxp-jbsw-y3dp-ehpk-3pxp",
    ] {
        assert_eq!(Secret::from_base32(typed).unwrap(), canonical);
    }
    // 17 bytes encode to 28 symbols, which padding brings to 32.
    let seventeen = Secret::from_bytes(&[0xA5; 17]).unwrap();
    let padded = format!("{}====", seventeen.to_base32());
    assert_eq!(Secret::from_base32(&padded).unwrap(), seventeen);
    assert_eq!(
        Secret::from_base32("JBSWY3DP1"),
        Err(SecretError::InvalidCharacter { position: 8 })
    );
    assert_eq!(
        Secret::from_base32("JB=SW"),
        Err(SecretError::InvalidCharacter { position: 3 })
    );
    assert_eq!(
        Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPA"),
        Err(SecretError::InvalidLength { symbols: 33 })
    );
    assert!(matches!(
        Secret::from_base32(&"A".repeat(5000)),
        Err(SecretError::TooLong { .. })
    ));
}

#[test]
fn secrets_never_print() {
    let secret = Secret::from_base32(SECRET_B32).unwrap();
    assert_eq!(format!("{secret:?}"), "Secret(…)");
    let totp = Totp::new(&secret, TotpParams::default());
    assert!(!format!("{totp:?}").contains("JBSW"));
    let uri = OtpAuthUri::totp(Some("Acme"), "ana", secret).unwrap();
    let debug = format!("{uri:?}");
    assert!(
        !debug.contains("JBSW") && debug.contains("Secret(…)"),
        "{debug}"
    );
    let code = totp.generate(NOW).unwrap();
    assert!(!format!("{code:?}").contains(&code.to_string()));
}

#[test]
fn manual_entry_is_grouped_in_fours() {
    let secret = Secret::from_base32(SECRET_B32).unwrap();
    assert_eq!(
        secret.to_manual_entry(),
        "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"
    );
}

#[test]
fn uri_generation_follows_the_key_uri_format() {
    let secret = Secret::from_base32(SECRET_B32).unwrap();
    // Colons and surrounding spaces are encoded, never refused: the one
    // literal colon is the separator.
    let uri = OtpAuthUri::totp(
        Some("Smile & Co: Dental"),
        " Dr. Smith: Ortho ",
        secret.clone(),
    )
    .unwrap();
    let text = uri.to_uri_string();
    assert_eq!(
        text,
        format!(
            "otpauth://totp/Smile%20%26%20Co%3A%20Dental:%20Dr.%20Smith%3A%20Ortho%20?secret={SECRET_B32}\
             &issuer=Smile%20%26%20Co%3A%20Dental&algorithm=SHA1&digits=6&period=30"
        )
    );
    let back = OtpAuthUri::parse(&text).unwrap();
    assert_eq!(back, uri);
    assert!(!back.label_is_ambiguous());
    let uri = OtpAuthUri::totp(Some("Smile & Co/Dental+"), "ana lee@x.example", secret).unwrap();
    assert_eq!(
        uri.to_uri_string(),
        format!(
            "otpauth://totp/Smile%20%26%20Co%2FDental%2B:ana%20lee@x.example?secret={SECRET_B32}\
             &issuer=Smile%20%26%20Co%2FDental%2B&algorithm=SHA1&digits=6&period=30"
        )
    );
    let long = "a".repeat(257);
    for bad in ["", long.as_str()] {
        assert!(matches!(
            OtpAuthUri::totp(None, bad, Secret::from_base32(SECRET_B32).unwrap()),
            Err(UriError::InvalidName {
                part: "account",
                ..
            })
        ));
    }
}

/// The awkward names of the pyotp trial (issue 17), as pyotp 2.9 writes them:
/// colons inside names percent-encoded, the separator literal.
#[test]
fn colons_inside_names_read_right_with_and_without_an_issuer() {
    let s = SECRET_B32;
    let read = |text: &str| {
        let uri = OtpAuthUri::parse(text).unwrap();
        (
            uri.issuer().map(str::to_string),
            uri.account().to_string(),
            uri.label_is_ambiguous(),
        )
    };
    let some = |issuer: &str, account: &str| (Some(issuer.to_string()), account.to_string(), false);
    // An issuer with a colon and a space (was: refused as an issuer mismatch).
    assert_eq!(
        read(&format!(
            "otpauth://totp/Clinic%3A%20North:ana?secret={s}&issuer=Clinic%3A%20North"
        )),
        some("Clinic: North", "ana")
    );
    // The same, from a writer that leaves the colons literal.
    assert_eq!(
        read(&format!(
            "otpauth://totp/Clinic: North:staff:42?secret={s}&issuer=Clinic:+North"
        )),
        some("Clinic: North", "staff:42")
    );
    // An account with a colon, with an issuer (was: refused).
    assert_eq!(
        read(&format!(
            "otpauth://totp/Acme:staff%3A42?secret={s}&issuer=Acme"
        )),
        some("Acme", "staff:42")
    );
    // Without an issuer: an encoded colon is the name's (was: issuer "staff"),
    // a reading flagged as ambiguous; an empty issuer parameter confirms it.
    assert_eq!(
        read(&format!("otpauth://totp/staff%3A42?secret={s}")),
        (None, "staff:42".to_string(), true)
    );
    assert_eq!(
        read(&format!("otpauth://totp/staff%3A42?secret={s}&issuer=")),
        (None, "staff:42".to_string(), false)
    );
    // Without an issuer, a literal colon is the separator, and that reading is
    // flagged as ambiguous.
    assert_eq!(
        read(&format!("otpauth://totp/staff:42?secret={s}")),
        (Some("staff".to_string()), "42".to_string(), true)
    );
    // An issuer parameter that no label prefix matches, before a literal colon.
    assert_eq!(
        OtpAuthUri::parse(&format!("otpauth://totp/Other:ana?secret={s}&issuer=Acme")),
        Err(UriError::IssuerMismatch {
            label: "Other".into(),
            parameter: "Acme".into()
        })
    );
    // A leading space of an account survives after a literal separator.
    assert_eq!(
        read(&format!(
            "otpauth://totp/Acme:%20ana?secret={s}&issuer=Acme"
        )),
        some("Acme", " ana")
    );
}

#[test]
fn uri_parsing_accepts_what_apps_and_sites_emit() {
    // Google's example, with an 80-bit secret.
    let google = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let uri = OtpAuthUri::parse_legacy(google).unwrap();
    assert_eq!(uri.issuer(), Some("Example"));
    assert_eq!(uri.account(), "alice@google.com");
    assert_eq!(
        uri.kind(),
        OtpKind::Totp {
            period: Period::THIRTY_SECONDS
        }
    );
    assert_eq!(uri.digits(), Digits::SIX);

    let cases = [
        // %3A separator, a space after it, lowercase algorithm, unknown parameters.
        (
            format!(
                "otpauth://totp/ACME%20Co%3A%20john@example.com?secret={SECRET_B32}&issuer=ACME+Co&algorithm=sha256&digits=8&period=60&image=https%3A%2F%2Fx&foo"
            ),
            Some("ACME Co"),
            "john@example.com",
            Algorithm::Sha256,
        ),
        // No issuer at all; case-insensitive scheme and type.
        (
            format!("OTPAUTH://TOTP/john?secret={SECRET_B32}"),
            None,
            "john",
            Algorithm::Sha1,
        ),
        // Issuer only in the parameter.
        (
            format!("otpauth://totp/john?issuer=Acme&secret={SECRET_B32}&algorithm=SHA512"),
            Some("Acme"),
            "john",
            Algorithm::Sha512,
        ),
    ];
    for (text, issuer, account, algorithm) in cases {
        let uri = OtpAuthUri::parse(&text).unwrap();
        assert_eq!(uri.issuer(), issuer, "{text}");
        assert_eq!(uri.account(), account, "{text}");
        assert_eq!(uri.algorithm(), algorithm, "{text}");
    }
    let hotp = OtpAuthUri::parse(&format!(
        "otpauth://hotp/Acme:ana?secret={SECRET_B32}&counter=42"
    ))
    .unwrap();
    assert_eq!(hotp.kind(), OtpKind::Hotp { counter: 42 });
    assert_eq!(hotp.totp_params(), None);
}

#[test]
fn uri_parsing_errors_are_typed() {
    let s = SECRET_B32;
    let cases: Vec<(String, UriError)> = vec![
        (format!("https://x/?secret={s}"), UriError::NotOtpauth),
        (
            format!("otpauth://motp/a?secret={s}"),
            UriError::UnknownType,
        ),
        (
            format!("otpauth://totp/?secret={s}"),
            UriError::MissingAccount,
        ),
        (
            format!("otpauth://totp/Acme:?secret={s}"),
            UriError::MissingAccount,
        ),
        (
            "otpauth://totp/Acme:ana?issuer=Acme".into(),
            UriError::MissingSecret,
        ),
        (
            format!("otpauth://hotp/Acme:ana?secret={s}"),
            UriError::MissingCounter,
        ),
        (
            format!("otpauth://totp/Acme:ana?secret={s}&issuer=Other"),
            UriError::IssuerMismatch {
                label: "Acme".into(),
                parameter: "Other".into(),
            },
        ),
        (
            format!("otpauth://totp/Acme:ana?secret={s}&digits=6&digits=6"),
            UriError::DuplicateParameter { name: "digits" },
        ),
        (
            format!("otpauth://totp/Acme:ana?secret={s}&SECRET={s}"),
            UriError::DuplicateParameter { name: "secret" },
        ),
        (
            format!("otpauth://totp/Acme:ana?secret={s}&digits=10"),
            UriError::InvalidParameter {
                name: "digits",
                reason: "expected 6, 7 or 8",
            },
        ),
        (
            format!("otpauth://totp/Acme:ana?secret={s}&algorithm=MD5"),
            UriError::InvalidParameter {
                name: "algorithm",
                reason: "expected SHA1, SHA256 or SHA512",
            },
        ),
        (
            format!("otpauth://totp/Acme:ana?secret={s}&period=0"),
            UriError::InvalidParameter {
                name: "period",
                reason: "expected a whole number of seconds, at least 1",
            },
        ),
        (
            format!("otpauth://hotp/Acme:ana?secret={s}&counter=-1"),
            UriError::InvalidParameter {
                name: "counter",
                reason: "expected a whole number",
            },
        ),
        (
            format!("otpauth://totp/Acme%FF:ana?secret={s}"),
            UriError::InvalidEncoding { part: "label" },
        ),
        (
            "otpauth://totp/Acme:ana?secret=JBSW!".into(),
            UriError::Secret(SecretError::InvalidCharacter { position: 4 }),
        ),
        (
            format!("otpauth://totp/a?secret={}", "A".repeat(5000)),
            UriError::TooLong { max_bytes: 4096 },
        ),
        (
            format!("otpauth://totp/{}?secret={s}", "%00".repeat(300)),
            UriError::InvalidName {
                part: "account",
                reason: "it is longer than 256 bytes",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(OtpAuthUri::parse(&text), Err(expected), "{text}");
    }
}

#[test]
fn qr_png_decodes_to_exactly_the_uri() {
    let uri = OtpAuthUri::totp(
        Some("Smile Dental"),
        "ana@clinic.example",
        Secret::from_base32(SECRET_B32).unwrap(),
    )
    .unwrap();
    let png_bytes = uri.to_qr_png().unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_meta, content) = grids[0].decode().unwrap();
    assert_eq!(content, uri.to_uri_string());

    let svg = uri.to_qr_svg().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    let terminal = uri.to_qr_terminal().unwrap();
    assert!(terminal.lines().count() > 20);
}
