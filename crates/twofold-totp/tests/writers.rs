//! URIs as other libraries write them read back as that writer's issuer and
//! account, field for field: totp-rs (a real dependency, run here), and the
//! formats of otplib, Google's Key URI Format examples and the apps' exports
//! (fixed strings, with their sources). pyotp has its own cross-check
//! (`pyotp_cross_check.rs`).
#![cfg(test)]

use twofold_totp::{Algorithm, Digits, OtpAuthUri, OtpKind, Period};

/// totp-rs 6 (`Totp::to_url`) over 300 generated names: it refuses colons in
/// names, so these have none, but every other awkward character.
#[test]
fn totp_rs_uris_read_back_field_for_field() {
    const CHARS: &[char] = &[
        ' ', '&', '=', '+', '%', '@', '/', '?', '#', '.', '-', '_', '~', 'é', '漢', '😀', 'a', 'Z',
        '7',
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let name = |next: &mut dyn FnMut() -> u64| -> String {
        let length = 1 + (next() % 12) as usize;
        (0..length)
            .map(|_| CHARS[(next() % CHARS.len() as u64) as usize])
            .collect()
    };
    for i in 0..300 {
        let issuer = (i % 4 != 0).then(|| name(&mut next));
        let account = name(&mut next);
        let secret: Vec<u8> = (0..20).map(|_| (next() >> 56) as u8).collect();
        let (algorithm, ours) = [
            (totp_rs::Algorithm::SHA1, Algorithm::Sha1),
            (totp_rs::Algorithm::SHA256, Algorithm::Sha256),
            (totp_rs::Algorithm::SHA512, Algorithm::Sha512),
        ][i % 3];
        let digits = [6u8, 7, 8][(i / 3) % 3];
        let period = [30u64, 60, 15][(i / 9) % 3];
        let written = totp_rs::Builder::new()
            .with_algorithm(algorithm)
            .with_digits(digits)
            .with_step_duration(period)
            .with_secret(secret.clone())
            .with_account_name(account.as_str())
            .with_issuer(issuer.as_deref())
            .build()
            .unwrap()
            .to_url()
            .unwrap();
        let uri = OtpAuthUri::parse(&written).unwrap_or_else(|error| panic!("{written}: {error}"));
        assert_eq!(uri.issuer(), issuer.as_deref(), "{written}");
        assert_eq!(uri.account(), account, "{written}");
        assert!(!uri.label_is_ambiguous(), "{written}");
        assert_eq!(uri.secret().expose_bytes(), &secret[..], "{written}");
        assert_eq!(uri.algorithm(), ours, "{written}");
        assert_eq!(
            uri.digits(),
            Digits::new(u32::from(digits)).unwrap(),
            "{written}"
        );
        assert_eq!(
            uri.kind(),
            OtpKind::Totp {
                period: Period::new(period).unwrap()
            }
        );
    }
}

/// Fixed URIs in the forms other writers produce, each with the issuer and
/// account it means.
#[test]
fn uris_of_other_writers_read_as_meant() {
    let s = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let cases: &[(String, Option<&str>, &str, &str)] = &[
        // otplib's keyuri (authenticator/src/keyuri): encodeURIComponent of
        // both names around a literal ':', issuer parameter encoded alike.
        (
            format!(
                "otpauth://totp/Clinic%3A%20North:dr%20smith%3A%20ortho?secret={s}&period=30&digits=6&algorithm=SHA1&issuer=Clinic%3A%20North"
            ),
            Some("Clinic: North"),
            "dr smith: ortho",
            "otplib",
        ),
        // Google's Key URI Format wiki: literal separator, issuer parameter.
        (
            format!("otpauth://totp/Example:alice@google.com?secret={s}&issuer=Example"),
            Some("Example"),
            "alice@google.com",
            "Key URI Format",
        ),
        // The wiki's fully encoded form, with the optional %20 padding.
        (
            format!(
                "otpauth://totp/ACME%20Co%3A%20john.doe@email.com?secret={s}&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
            ),
            Some("ACME Co"),
            "john.doe@email.com",
            "Key URI Format",
        ),
        // Exports that write the issuer only as a parameter (Aegis, 2FAS).
        (
            format!("otpauth://totp/staff%3A42?secret={s}&issuer=Clinic"),
            Some("Clinic"),
            "staff:42",
            "parameter only",
        ),
        // A form-encoded issuer parameter (+ for space), as PHP and Java writers do.
        (
            format!("otpauth://totp/Smile%20Dental:ana?secret={s}&issuer=Smile+Dental"),
            Some("Smile Dental"),
            "ana",
            "form encoding",
        ),
    ];
    for (text, issuer, account, writer) in cases {
        let uri = OtpAuthUri::parse(text).unwrap_or_else(|error| panic!("{writer}: {error}"));
        assert_eq!(uri.issuer(), *issuer, "{writer}");
        assert_eq!(uri.account(), *account, "{writer}");
        assert!(!uri.label_is_ambiguous(), "{writer}");
    }
}
