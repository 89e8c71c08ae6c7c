//! The facade built as an application that wants only authenticator apps and
//! backup codes builds it (`default-features = false, features = ["totp",
//! "memory-store"]`): set up an app, sign in with a code, then with a backup
//! code. The same test runs with the default features too, so that both
//! builds do the same thing.
#![cfg(test)]

use std::sync::Arc;

use twofold::{
    Account, BackupConfig, Clock, HashParams, Keyring, ManualClock, MemoryStore, SecretKey,
    SignInStep, Timestamp, TwoFactor, TwoFactorConfig, TwoFactorError,
};

const START: u64 = 1_767_225_615; // 2026-01-01T00:00:15Z

fn config() -> TwoFactorConfig {
    #[cfg(feature = "passkey")]
    let mut config = {
        let origin = "https://app.clinic.example";
        let rp = twofold::RelyingParty::new("clinic.example", "Smile Dental", &[origin]).unwrap();
        TwoFactorConfig::new("Smile Dental").with_passkeys(twofold::PasskeyConfig::new(rp))
    };
    #[cfg(not(feature = "passkey"))]
    let mut config = TwoFactorConfig::new("Smile Dental");
    config.backup_codes = BackupConfig::default()
        .with_hash_params(HashParams::new(64, 1, 1).unwrap())
        .with_minimum_hash_params(HashParams::new(64, 1, 1).unwrap());
    config
}

fn code(manual_entry_secret: &str, time: Timestamp) -> String {
    let secret = twofold_totp::Secret::from_base32(manual_entry_secret).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret.expose_bytes(), time.as_unix_seconds())
}

async fn challenge(twofold: &TwoFactor, ana: &Account<'_>) -> String {
    match twofold.begin_sign_in(ana).await.unwrap().value {
        SignInStep::Challenge {
            challenge_id,
            passkey_options,
            ..
        } => {
            assert!(passkey_options.is_none(), "ana has no passkey");
            challenge_id
        }
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn facade() -> (TwoFactor, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(START)));
    let keyring = Keyring::new(SecretKey::new("k1", [7u8; 32]));
    let twofold = TwoFactor::new(Arc::new(MemoryStore::new()), keyring, config())
        .unwrap()
        .with_clock(clock.clone());
    (twofold, clock)
}

const ANA: Account<'static> = Account {
    user: "u-ana",
    organization: "smile",
    role: "staff",
    name: "ana@clinic.example",
};

/// Backup codes are the recovery of a factor: a user with none gets no set.
#[tokio::test]
async fn backup_codes_need_a_factor_first() {
    let (twofold, clock) = facade();
    let refused = twofold
        .regenerate_backup_codes(&ANA, Some(clock.now()))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::NotEnrolled(_)),
        "{refused:?}"
    );
    assert!(
        twofold
            .status(&ANA)
            .await
            .unwrap()
            .backup_codes_remaining
            .is_none()
    );
}

#[tokio::test]
async fn totp_and_backup_codes_work_without_passkeys() {
    let (twofold, clock) = facade();
    let ana = ANA;

    let setup = twofold
        .begin_totp_enrollment(&ana, Some(clock.now()))
        .await
        .unwrap()
        .value;
    let confirmed = twofold
        .confirm_totp_enrollment(&ana, &code(&setup.manual_entry_secret, clock.now()))
        .await
        .unwrap()
        .value;
    assert!(confirmed.credential_id.is_none());
    let backup_codes: Vec<String> = confirmed
        .backup_codes
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let status = twofold.status(&ana).await.unwrap();
    assert!(status.totp && status.enabled);

    clock.advance(30);
    let challenge_id = challenge(&twofold, &ana).await;
    let wrong = twofold.verify_totp(&ana, &challenge_id, "000000").await;
    let right = code(&setup.manual_entry_secret, clock.now());
    if right != "000000" {
        assert!(wrong.is_err(), "a wrong code signs no one in");
    }
    let challenge_id = challenge(&twofold, &ana).await;
    twofold
        .verify_totp(&ana, &challenge_id, &right)
        .await
        .unwrap();

    let challenge_id = challenge(&twofold, &ana).await;
    let signed_in = twofold
        .verify_backup_code(&ana, &challenge_id, &backup_codes[0])
        .await
        .unwrap()
        .value;
    assert_eq!(
        signed_in.backup_codes_remaining,
        Some(backup_codes.len() - 1)
    );
}

/// A record with a passkey registered by a build with the `passkey` feature:
/// a build without it keeps the passkey (written back as it was) and counts it
/// as a factor, so Ana is challenged and cannot set up a new factor as if she
/// had none.
#[cfg(not(feature = "passkey"))]
#[tokio::test]
async fn passkeys_of_another_build_are_kept_and_count_as_a_factor() {
    use twofold::Store;
    use twofold::store::{CredentialChanges, UserRecord};

    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(START)));
    let keyring = Keyring::new(SecretKey::new("k1", [7u8; 32]));
    let twofold = TwoFactor::new(store.clone(), keyring, config())
        .unwrap()
        .with_clock(clock.clone());
    let stored = serde_json::json!({"passkeys": [
        {"id": "AAEC", "public_key": {"EC_EC2": {"x": [1], "y": [2]}}, "counter": 3, "name": "Phone"}
    ]});
    let record: UserRecord = serde_json::from_value(stored.clone()).unwrap();
    let id = twofold::CredentialId::from_bytes(&[0, 1, 2]);
    let bind = [id.clone()];
    let changes = CredentialChanges {
        bind: &bind,
        unbind: &[],
    };
    store
        .save_user(ANA.user, &record, None, changes)
        .await
        .unwrap();

    assert!(twofold.status(&ANA).await.unwrap().enabled);
    // A challenge is written into the record: the passkey is written back too.
    match twofold.begin_sign_in(&ANA).await.unwrap().value {
        SignInStep::Challenge { .. } => {}
        other => panic!("a user with a passkey is challenged, got {other:?}"),
    }
    let kept = store.load_user(ANA.user).await.unwrap().unwrap();
    assert!(kept.value.challenge.is_some(), "the record was rewritten");
    let kept = serde_json::to_value(&kept.value).unwrap();
    assert_eq!(kept["passkeys"], stored["passkeys"]);

    // Turning 2FA off removes them too, and frees their credential id.
    twofold.disable(&ANA, Some(clock.now())).await.unwrap();
    let off = store.load_user(ANA.user).await.unwrap().unwrap().value;
    assert!(off.passkeys.is_empty());
    assert!(!twofold.status(&ANA).await.unwrap().enabled);
    assert_eq!(store.credential_owner(&id).await.unwrap(), None);
}

/// With the feature but no passkey settings, passkeys are off: asking for one
/// is refused with its own error, and sign-in offers no passkey.
#[cfg(feature = "passkey")]
#[tokio::test]
async fn passkeys_are_off_until_configured() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(START)));
    let keyring = Keyring::new(SecretKey::new("k1", [7u8; 32]));
    let mut config = config();
    config.passkeys = None;
    let twofold = TwoFactor::new(Arc::new(MemoryStore::new()), keyring, config)
        .unwrap()
        .with_clock(clock.clone());
    let refused = twofold
        .begin_passkey_registration(&ANA, Some(clock.now()))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::PasskeysOff),
        "{refused:?}"
    );
    let refused = twofold.begin_passkey_sign_in("smile").await.unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::PasskeysOff),
        "{refused:?}"
    );
}
