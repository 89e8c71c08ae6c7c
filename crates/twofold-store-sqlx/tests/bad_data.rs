//! A corrupted or tampered row gives a typed error for that user; the others keep working.
// Each file runs SQLite tests, so needs the (default) `sqlite` feature.
#![cfg(test)]
#![cfg(feature = "sqlite")]

mod support;

use std::sync::Arc;

use twofold::{
    Account, Keyring, PasskeyConfig, RelyingParty, SecretKey, SignInStep, Store, StoreError,
    TwoFactor, TwoFactorConfig, TwoFactorError,
};
use twofold::{BackupConfig, HashParams};
use twofold_store_sqlx::SqlStore;

fn facade(store: Arc<dyn Store>) -> TwoFactor {
    let rp = RelyingParty::new("localhost", "Smile Dental", &["http://localhost:8080"]).unwrap();
    let mut config = TwoFactorConfig::new("Smile Dental").with_passkeys(PasskeyConfig::new(rp));
    let cheap = HashParams::new(64, 1, 1).unwrap();
    config.backup_codes = BackupConfig::default()
        .with_hash_params(cheap)
        .with_minimum_hash_params(cheap);
    TwoFactor::new(store, Keyring::new(SecretKey::new("k1", [7u8; 32])), config).unwrap()
}

async fn corrupt_rows_are_contained(store: SqlStore, prefix: &str) {
    let pool = store.pool().clone();
    let store: Arc<dyn Store> = Arc::new(store);
    let twofold = facade(Arc::clone(&store));
    let users: Vec<String> = (0..4).map(|i| format!("{prefix}-{i}")).collect();
    for user in &users {
        let account = Account {
            user,
            organization: "bad-data",
            role: "staff",
            name: user,
        };
        twofold
            .begin_totp_enrollment(
                &account,
                Some(twofold::Timestamp::from_unix_seconds(twofold_totp::now())),
            )
            .await
            .unwrap();
    }
    let tampered = [
        ("not json at all", "garbage"),
        ("a wrong type", r#"{"throttle": "lots"}"#),
        (
            "a sealed secret with a bad nonce",
            r#"{"pending_totp":{"secret":{"key_id":"k1","nonce":"@@","ciphertext":"AA"},"created_at":0,"expires_at":9}}"#,
        ),
    ];
    for ((reason, text), user) in tampered.iter().zip(&users) {
        support::execute(
            &pool,
            "UPDATE twofold_users SET record = $1 WHERE id = $2",
            &[text, user],
        )
        .await;
        let error = store.load_user(user).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Corrupt {
                    what: "user record",
                    ..
                }
            ),
            "{reason}: {error:?}"
        );
        let account = Account {
            user,
            organization: "bad-data",
            role: "staff",
            name: user,
        };
        let failure = twofold.begin_sign_in(&account).await.unwrap_err();
        assert!(
            matches!(failure.error, TwoFactorError::Corrupt(_)),
            "{reason}: {failure:?}"
        );
        assert!(matches!(
            twofold.status(&account).await.unwrap_err().error,
            TwoFactorError::Corrupt(_)
        ));
    }
    // The untouched user still works.
    let healthy = Account {
        user: &users[3],
        organization: "bad-data",
        role: "staff",
        name: &users[3],
    };
    assert!(matches!(
        twofold.begin_sign_in(&healthy).await.unwrap().value,
        SignInStep::Allow { .. }
    ));
    twofold
        .begin_totp_enrollment(
            &healthy,
            Some(twofold::Timestamp::from_unix_seconds(twofold_totp::now())),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_contains_corrupt_rows() {
    let (_dir, store) = support::sqlite_store().await;
    corrupt_rows_are_contained(store, "sqlite-bad").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_contains_corrupt_rows() {
    let Some(store) = support::postgres_store().await else {
        return;
    };
    let prefix = format!(
        "pg-bad-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    corrupt_rows_are_contained(store, &prefix).await;
}
