//! Bad input and tampered records: each gets a typed error and leaves nothing changed.
#![cfg(test)]

mod common;

use std::sync::Arc;

use common::{account, code, enroll_totp, harness, harness_with};
use twofold::store::Store;
use twofold::{Clock, Keyring, MemoryStore, SecretKey, SignInStep, TwoFactor, TwoFactorError};

fn challenge_id(step: SignInStep) -> String {
    match step {
        SignInStep::Challenge { challenge_id, .. } => challenge_id,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_codes_are_typed_errors_and_change_nothing() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, backup) = enroll_totp(&h, &ana).await;
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let before = h.store.load_user("ana").await.unwrap().unwrap();
    let huge = "9".repeat(1_000_000);
    for input in ["12345", "1234567", "12a456", "١٢٣٤٥٦", "", huge.as_str()] {
        let error = h.twofold.verify_totp(&ana, &id, input).await.unwrap_err();
        assert!(
            matches!(error.error, TwoFactorError::InvalidCode(_)),
            "{input:.20}: {error:?}"
        );
        assert!(error.events.is_empty(), "bad input is not a failed attempt");
    }
    for input in ["ABCDE", "!!!!!-!!!!!", huge.as_str(), "UUUUU-UUUUU"] {
        let error = h
            .twofold
            .verify_backup_code(&ana, &id, input)
            .await
            .unwrap_err();
        assert!(
            matches!(error.error, TwoFactorError::InvalidCode(_)),
            "{input:.20}: {error:?}"
        );
    }
    for input in ["", "{}", "null", huge.as_str()] {
        let error = h
            .twofold
            .verify_passkey(&ana, &id, input)
            .await
            .unwrap_err();
        assert!(
            matches!(error.error, TwoFactorError::Passkey(_)),
            "{input:.20}: {error:?}"
        );
    }
    assert_eq!(
        h.store.load_user("ana").await.unwrap().unwrap(),
        before,
        "nothing changed"
    );
    // The challenge is still open and the right code still works.
    h.twofold
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
    let _ = backup;
}

#[tokio::test]
async fn unknown_users_and_unknown_or_expired_challenges() {
    let h = harness();
    let ghost = account("ghost", "staff");
    let error = h
        .twofold
        .verify_totp(&ghost, "nope", "123456")
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::NoChallenge));
    assert!(
        h.store.load_user("ghost").await.unwrap().is_none(),
        "no record is created for a stranger"
    );
    let status = h.twofold.status(&ghost).await.unwrap();
    assert!(!status.enabled);
    let error = h
        .twofold
        .confirm_totp_enrollment(&ghost, "123456")
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::NoPendingEnrollment));
    let error = h.twofold.identify_passkey_sign_in("no-such-ceremony", r#"{"id":"AA","rawId":"AA","response":{"authenticatorData":"AA","clientDataJSON":"AA","signature":"AA"},"type":"public-key"}"#).await.unwrap_err();
    assert!(matches!(error.error, TwoFactorError::NoChallenge));

    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let error = h
        .twofold
        .verify_totp(&ana, "another-challenge", &code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::NoChallenge));
    h.clock.advance(300);
    let before = h.store.load_user("ana").await.unwrap().unwrap();
    let error = h
        .twofold
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(matches!(error.error, TwoFactorError::Expired));
    assert_eq!(h.store.load_user("ana").await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn tampered_records_are_typed_errors() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let original = h.store.load_user("ana").await.unwrap().unwrap();
    let json = serde_json::to_value(&original.value).unwrap();

    // A flipped ciphertext byte: the AEAD refuses it.
    let mut tampered = json.clone();
    let ciphertext = tampered["totp"]["secret"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if ciphertext.starts_with('A') {
        ciphertext.replacen('A', "B", 1)
    } else {
        format!("A{}", &ciphertext[1..])
    };
    tampered["totp"]["secret"]["ciphertext"] = flipped.into();
    let cases = [
        (tampered, "ciphertext"),
        (
            {
                let mut t = json.clone();
                t["totp"]["secret"]["key_id"] = "retired-key".into();
                t
            },
            "key id",
        ),
        (
            {
                let mut t = json.clone();
                t["backup_codes"] = "twofold-backup-v1$garbage".into();
                t
            },
            "backup codes",
        ),
    ];
    for (record, what) in cases {
        let record: twofold::store::UserRecord = serde_json::from_value(record).unwrap();
        let current = h.store.load_user("ana").await.unwrap().unwrap().version;
        h.store
            .save_user(
                "ana",
                &record,
                Some(current),
                twofold::CredentialChanges::NONE,
            )
            .await
            .unwrap();
        let id = challenge_id(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let stored = h.store.load_user("ana").await.unwrap().unwrap();
        let error = if what == "backup codes" {
            h.twofold
                .verify_backup_code(&ana, &id, "AAAAA-AAAAA")
                .await
                .unwrap_err()
        } else {
            h.twofold
                .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
                .await
                .unwrap_err()
        };
        match what {
            "ciphertext" => assert!(
                matches!(error.error, TwoFactorError::SecretUnreadable),
                "{error:?}"
            ),
            "key id" => assert!(
                matches!(&error.error, TwoFactorError::UnknownKey { key_id } if key_id == "retired-key"),
                "{error:?}"
            ),
            _ => assert!(
                matches!(error.error, TwoFactorError::Corrupt(_)),
                "{error:?}"
            ),
        }
        assert_eq!(
            h.store.load_user("ana").await.unwrap().unwrap(),
            stored,
            "{what}: nothing changed"
        );
    }
}

#[tokio::test]
async fn a_secret_copied_to_another_user_does_not_open() {
    let h = harness();
    let (secret, _) = enroll_totp(&h, &account("ana", "staff")).await;
    let ana_record = h.store.load_user("ana").await.unwrap().unwrap().value;
    let bob = account("bob", "staff");
    h.store
        .save_user("bob", &ana_record, None, twofold::CredentialChanges::NONE)
        .await
        .unwrap();
    let id = challenge_id(h.twofold.begin_sign_in(&bob).await.unwrap().value);
    let error = h
        .twofold
        .verify_totp(&bob, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(
        matches!(error.error, TwoFactorError::SecretUnreadable),
        "{error:?}"
    );
}

#[tokio::test]
async fn keys_rotate_without_re_enrollment() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let h = harness_with(Arc::clone(&store));
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let facade = |keyring: Keyring| {
        TwoFactor::new(Arc::clone(&store), keyring, common::config())
            .unwrap()
            .with_clock(h.clock.clone())
    };
    // Without the key the record is sealed under, a clear error names that key.
    let forgetful = facade(Keyring::new(SecretKey::new("k2", [9u8; 32])));
    let id = challenge_id(forgetful.begin_sign_in(&ana).await.unwrap().value);
    let error = forgetful
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error.error, TwoFactorError::UnknownKey { key_id } if key_id == "k1"),
        "{error:?}"
    );
    // A new current key, the old one kept for opening: Ana signs in, and her
    // secret is re-sealed under the new key by that write.
    let rotated = facade(
        Keyring::new(SecretKey::new("k2", [9u8; 32]))
            .with_previous(SecretKey::new("k1", [7u8; 32])),
    );
    let id = challenge_id(rotated.begin_sign_in(&ana).await.unwrap().value);
    rotated
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
    let sealed = store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(sealed.totp.unwrap().secret.key_id(), "k2");
    // So the old key can go.
    h.clock.advance(30);
    let id = challenge_id(forgetful.begin_sign_in(&ana).await.unwrap().value);
    forgetful
        .verify_totp(&ana, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
}

#[tokio::test]
async fn changing_the_totp_configuration_never_breaks_an_existing_enrollment() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut eight_digits = common::config();
    eight_digits.totp.digits = twofold_totp::Digits::EIGHT;
    let clock = harness_with(Arc::clone(&store)).clock;
    let before = TwoFactor::new(Arc::clone(&store), common::keyring(), eight_digits)
        .unwrap()
        .with_clock(clock.clone());
    let ana = account("ana", "staff");
    let setup = before
        .begin_totp_enrollment(&ana, Some(clock.now()))
        .await
        .unwrap()
        .value;
    assert!(setup.otpauth_uri.contains("digits=8"));
    let secret = twofold_totp::Secret::from_base32(&setup.manual_entry_secret).unwrap();
    let eight = |time: twofold::Timestamp| {
        totp_lite::totp_custom::<totp_lite::Sha1>(
            30,
            8,
            secret.expose_bytes(),
            time.as_unix_seconds(),
        )
    };
    before
        .confirm_totp_enrollment(&ana, &eight(clock.now()))
        .await
        .unwrap();
    // The application goes back to the default 6 digits; Ana's app still shows 8.
    let after = TwoFactor::new(Arc::clone(&store), common::keyring(), common::config())
        .unwrap()
        .with_clock(clock.clone());
    clock.advance(30);
    let id = challenge_id(after.begin_sign_in(&ana).await.unwrap().value);
    let six = eight(clock.now())[2..].to_string();
    assert!(matches!(
        after.verify_totp(&ana, &id, &six).await.unwrap_err().error,
        TwoFactorError::InvalidCode(_)
    ));
    after
        .verify_totp(&ana, &id, &eight(clock.now()))
        .await
        .unwrap();
}

/// A clinic called "Clinic: North" and a user called " Dr. Smith: Ortho " can
/// set up an authenticator app (issue 17: both used to fail): the URI encodes
/// the names, reads back as given, and the manual entry shows them as given.
#[tokio::test]
async fn names_with_colons_and_surrounding_spaces_can_enrol() {
    let mut config = common::config();
    config.issuer = "Clinic: North".to_string();
    let h = common::harness_with_config(
        Arc::new(MemoryStore::new()),
        common::keyring(),
        common::START,
        config,
    );
    let ana = twofold::Account {
        name: " Dr. Smith: Ortho ",
        ..account("ana", "staff")
    };
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let uri = twofold_totp::OtpAuthUri::parse(&setup.otpauth_uri).unwrap();
    assert_eq!(uri.issuer(), Some("Clinic: North"));
    assert_eq!(uri.account(), " Dr. Smith: Ortho ");
    assert!(!uri.label_is_ambiguous());
    assert_eq!(setup.issuer, "Clinic: North");
    assert_eq!(setup.account_name, " Dr. Smith: Ortho ");
    let now = h.clock.now();
    h.twofold
        .confirm_totp_enrollment(&ana, &code(&setup.manual_entry_secret, now))
        .await
        .unwrap();
}
