//! The adversary suite: one test per attack or fault of the library hardening
//! issue, each named after it. Every test here failed on the code before the
//! hardening (see the closing note) and guards against its return.
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{
    Harness, ORG, account, code, create_passkey, enroll_totp, harness, register_passkey,
    use_passkey, username_less_response, with_credential_id, wrong_code,
};
use serde_json::{Value, json};
use twofold::{Account, Clock, Lock, Method, Mode, PolicyDocument, SignInStep, TwoFactorError};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

fn challenge(step: SignInStep) -> (String, Option<Value>) {
    match step {
        SignInStep::Challenge {
            challenge_id,
            passkey_options,
            ..
        } => (challenge_id, passkey_options),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

async fn stored(h: &Harness, user: &str) -> Value {
    let record = h.store.load_user(user).await.unwrap().unwrap();
    json!({ "version": record.version, "value": serde_json::to_value(&record.value).unwrap() })
}

// ----- 1. lockout without a password -----

#[tokio::test]
async fn lockout_without_a_password_forged_username_less_answers_change_no_record() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, added) = register_passkey(&h, &ana, "key").await;
    let ana_id = added.value.credential_id.unwrap();
    let before = stored(&h, "ana").await;
    // The attacker has no password and no authenticator of Ana's: they answer
    // username-less ceremonies with their own key, naming Ana's credential and
    // user handle, as often as they like.
    let mallory_twofold = harness();
    let (mut mallory, mallory_added) =
        register_passkey(&mallory_twofold, &account("mallory", "staff"), "m").await;
    let mallory_id = mallory_added.value.credential_id.unwrap();
    for attempt in 0..20 {
        let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
        let mut forged: Value = serde_json::from_str(&username_less_response(
            &mut mallory,
            &start.options,
            &mallory_id,
            "ana",
        ))
        .unwrap();
        // Half name Mallory's own credential with Ana's user handle; half
        // claim Ana's credential id, signed with Mallory's key.
        if attempt % 2 == 1 {
            forged["id"] = json!(ana_id.to_base64url());
            forged["rawId"] = json!(ana_id.to_base64url());
        }
        let refused = common::passkey_first(&h.twofold, &start.ceremony_id, &forged.to_string())
            .await
            .unwrap_err();
        // Mallory's own credential is not registered here; Ana's fails to verify.
        assert!(
            matches!(
                refused.error,
                TwoFactorError::Passkey(_) | TwoFactorError::UnknownCredential(_)
            ),
            "{refused:?}"
        );
    }
    assert_eq!(
        stored(&h, "ana").await,
        before,
        "a forged answer changed Ana's record"
    );
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    assert!(matches!(step, SignInStep::Challenge { .. }), "{step:?}");
}

#[tokio::test]
async fn unbounded_username_less_ceremonies_are_capped() {
    let h = harness();
    let mut refused = 0;
    for _ in 0..2_000 {
        if h.twofold.begin_passkey_sign_in(ORG).await.is_err() {
            refused += 1;
        }
    }
    let outstanding = common::memory(&h).contents().ceremonies.len();
    assert!(refused > 0, "2,000 unauthenticated starts were all stored");
    assert!(outstanding <= 1_000, "{outstanding} ceremonies outstanding");
}

// ----- 2. one credential id, two users -----

#[tokio::test]
async fn one_credential_id_two_users_a_registration_of_a_bound_id_is_refused() {
    let h = harness();
    let (_, added) = register_passkey(&h, &account("ana", "staff"), "key").await;
    let ana_id = added.value.credential_id.unwrap();
    let mallory = account("mallory", "staff");
    let mut authenticator = SoftPasskey::new(true);
    let options = h
        .twofold
        .begin_passkey_registration(&mallory, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let forged = with_credential_id(
        &create_passkey(&mut authenticator, options),
        ana_id.as_bytes(),
    );
    let refused = h
        .twofold
        .finish_passkey_registration(&mallory, &forged, "stolen id")
        .await;
    assert!(
        refused.is_err(),
        "Ana's credential id was registered to Mallory"
    );
}

#[tokio::test]
async fn a_user_handle_naming_another_user_is_refused_in_user_bound_sign_in() {
    let h = harness();
    let ana = account("ana", "staff");
    let (mut authenticator, _) = register_passkey(&h, &ana, "key").await;
    let (id, options) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let mut posted: Value =
        serde_json::from_str(&use_passkey(&mut authenticator, options.unwrap())).unwrap();
    posted["response"]["userHandle"] = json!(Base64UrlUnpadded::encode_string(b"bob"));
    let refused = h
        .twofold
        .verify_passkey(&ana, &id, &posted.to_string())
        .await;
    assert!(refused.is_err(), "a response for Bob signed Ana in");
}

// ----- 3. policy methods are binding -----

fn passkeys_only_for_admins() -> PolicyDocument {
    let mut document = PolicyDocument::example_clinic();
    document.roles.get_mut("admin").unwrap().methods = Some(vec![Method::Passkey]);
    document
}

#[tokio::test]
async fn policy_methods_are_binding_a_totp_code_cannot_answer_a_passkey_only_challenge() {
    let h = harness();
    let adam = account("adam", "admin");
    let (secret, _) = enroll_totp(&h, &adam).await;
    register_passkey(&h, &adam, "key").await;
    h.twofold
        .set_policy(ORG, passkeys_only_for_admins())
        .await
        .unwrap();
    let step = h.twofold.begin_sign_in(&adam).await.unwrap().value;
    let SignInStep::Challenge { methods, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(!methods.contains(Method::Totp), "{step:?}");
    let (id, _) = challenge(step);
    let refused = h
        .twofold
        .verify_totp(&adam, &id, &code(&secret, h.clock.now()))
        .await;
    assert!(
        refused.is_err(),
        "a TOTP code answered a passkey-only challenge"
    );
}

#[tokio::test]
async fn policy_methods_are_binding_a_forbidden_method_cannot_be_enrolled() {
    let h = harness();
    h.twofold
        .set_policy(ORG, passkeys_only_for_admins())
        .await
        .unwrap();
    let refused = h
        .twofold
        .begin_totp_enrollment(&account("adam", "admin"), Some(h.clock.now()))
        .await;
    assert!(
        refused.is_err(),
        "TOTP enrollment was begun for a passkey-only role"
    );
}

// ----- 4. cross-organization admin reset -----

#[tokio::test]
async fn cross_organization_admin_reset_is_refused() {
    let h = harness();
    let victim = Account {
        organization: "other-clinic",
        ..account("ana", "staff")
    };
    enroll_totp(&h, &victim).await;
    let before = stored(&h, "ana").await;
    let refused = h
        .twofold
        .admin_reset(
            &account("olga", "owner"),
            &victim,
            "lost phone",
            Some(h.clock.now()),
        )
        .await;
    assert!(
        refused.is_err(),
        "an owner of one clinic reset a user of another"
    );
    assert_eq!(stored(&h, "ana").await, before);
}

// ----- 5. Argon2 on the async executor -----

/// The default offload, with each job held until the ticker has ticked: a job
/// that truly runs off the executor lets the ticker run meanwhile; one that
/// blocked the executor could never see it tick (it gives up after a while).
struct HeldUntilTicked {
    inner: twofold::OffloadPool,
    ticks: Arc<AtomicU64>,
    waited_out: Arc<AtomicBool>,
}

impl twofold::Offload for HeldUntilTicked {
    fn run(&self, job: twofold::Job) -> twofold::OffloadFuture {
        let (ticks, waited_out) = (Arc::clone(&self.ticks), Arc::clone(&self.waited_out));
        let start = ticks.load(Ordering::SeqCst);
        self.inner.run(Box::new(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while ticks.load(Ordering::SeqCst) == start {
                if std::time::Instant::now() > deadline {
                    waited_out.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::yield_now();
            }
            job();
        }))
    }
}

#[test]
fn argon2_on_the_executor_a_ticker_runs_while_a_backup_code_is_checked() {
    // A current-thread runtime: if the check hashed on this thread, the ticker
    // could not run at all until it finished.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ticks = Arc::new(AtomicU64::new(0));
        let waited_out = Arc::new(AtomicBool::new(false));
        let offload = HeldUntilTicked {
            inner: twofold::OffloadPool::default(),
            ticks: Arc::clone(&ticks),
            waited_out: Arc::clone(&waited_out),
        };
        let h = common::harness_with_offload(
            Arc::new(twofold::MemoryStore::new()),
            common::keyring(),
            common::START,
            common::config(),
            Some(Arc::new(offload)),
        );
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        });
        let ana = account("ana", "staff");
        enroll_totp(&h, &ana).await;
        let (id, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
        let start = ticks.load(Ordering::SeqCst);
        let refused = h
            .twofold
            .verify_backup_code(&ana, &id, "AAAAA-AAAAA")
            .await
            .unwrap_err();
        let during = ticks.load(Ordering::SeqCst) - start;
        ticker.abort();
        assert!(
            matches!(refused.error, TwoFactorError::WrongCode),
            "{refused:?}"
        );
        assert!(
            during > 0,
            "the ticker never ran while the code was checked"
        );
        assert!(
            !waited_out.load(Ordering::SeqCst),
            "the hash waited for a ticker that could not run"
        );
    });
}

// ----- 6. nothing is ever cleaned up -----

#[tokio::test]
async fn nothing_is_cleaned_up_expired_ceremonies_and_pending_state_are_purged() {
    let h = harness();
    let ana = account("ana", "staff");
    for _ in 0..301 {
        h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
    }
    h.twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    // An hour later, anything the facade does sweeps what expired.
    h.clock.advance(3600);
    h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
    let contents = common::memory(&h).contents();
    assert!(
        contents.ceremonies.len() <= 1,
        "{} ceremonies left",
        contents.ceremonies.len()
    );
    let record = &contents.users["ana"].value;
    assert!(record.pending_totp.is_none(), "an expired setup stayed");
}

// ----- 7. key rotation -----

#[tokio::test]
async fn key_rotation_re_seals_at_the_next_write_so_the_old_key_can_be_retired() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    // The operator rotates: k2 is current, k1 still opens.
    let rotated = twofold::Keyring::new(twofold::SecretKey::new("k2", [9u8; 32]))
        .with_previous(twofold::SecretKey::new("k1", [7u8; 32]));
    let h2 = common::harness_with_keyring(Arc::clone(&h.store), rotated, h.clock.now());
    let (id, _) = challenge(h2.twofold.begin_sign_in(&ana).await.unwrap().value);
    h2.twofold
        .verify_totp(&ana, &id, &code(&secret, h2.clock.now()))
        .await
        .unwrap();
    let record = h.store.load_user("ana").await.unwrap().unwrap().value;
    assert_eq!(
        record.totp.unwrap().secret.key_id(),
        "k2",
        "the secret was not re-sealed under the current key"
    );
    // k1 retired: Ana still signs in.
    let retired = twofold::Keyring::new(twofold::SecretKey::new("k2", [9u8; 32]));
    let h3 = common::harness_with_keyring(
        Arc::clone(&h.store),
        retired,
        h.clock.now().plus_seconds(30),
    );
    let (id, _) = challenge(h3.twofold.begin_sign_in(&ana).await.unwrap().value);
    h3.twofold
        .verify_totp(&ana, &id, &code(&secret, h3.clock.now()))
        .await
        .unwrap();
}

// ----- 8. stale and hidden backup codes -----

#[tokio::test]
async fn stale_backup_codes_removing_the_last_factor_deletes_them() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, added) = register_passkey(&h, &ana, "key").await;
    let old_codes = added.value.backup_codes.unwrap();
    h.twofold
        .remove_passkey(
            &ana,
            &added.value.credential_id.unwrap(),
            Some(h.clock.now()),
        )
        .await
        .unwrap();
    let status = h.twofold.status(&ana).await.unwrap();
    assert!(!status.enabled);
    assert_eq!(
        status.backup_codes_remaining, None,
        "2FA is off, the codes stayed"
    );
    // Setting 2FA up again gives a new set; the old codes are worthless.
    let setup = h
        .twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let confirmed = h
        .twofold
        .confirm_totp_enrollment(&ana, &code(&setup.manual_entry_secret, h.clock.now()))
        .await
        .unwrap();
    assert!(
        confirmed.value.backup_codes.is_some(),
        "no new codes were shown"
    );
    h.clock.advance(30);
    let (id, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    let old = old_codes.iter().next().unwrap().to_string();
    assert!(h.twofold.verify_backup_code(&ana, &id, &old).await.is_err());
}

#[tokio::test]
async fn a_corrupt_backup_code_set_is_reported_as_corrupt() {
    let h = harness();
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    let mut record = h.store.load_user("ana").await.unwrap().unwrap();
    record.value.backup_codes = Some("twofold-backup-v1$garbage".into());
    h.store
        .save_user(
            "ana",
            &record.value,
            Some(record.version),
            twofold::CredentialChanges::NONE,
        )
        .await
        .unwrap();
    let status = h.twofold.status(&ana).await.map_err(|f| f.error);
    assert!(
        matches!(status, Err(TwoFactorError::Corrupt(_))),
        "a corrupt set read as {status:?}"
    );
}

// ----- 9. the consecutive-failure ceiling -----

#[tokio::test]
async fn the_consecutive_failure_ceiling_locks_until_reset_after_100_failures() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    // One guess whenever the throttle lets the attacker try (a timed lockout
    // of an hour after every ten failures by default).
    let mut guesses = 0;
    while guesses < 100 {
        h.clock.advance(3601);
        let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
        let SignInStep::Challenge { challenge_id, .. } = step else {
            panic!("guess {guesses}: {step:?}");
        };
        let wrong = wrong_code(&secret, h.clock.now());
        h.twofold
            .verify_totp(&ana, &challenge_id, &wrong)
            .await
            .unwrap_err();
        guesses += 1;
    }
    // A day later, still locked: only an administrator opens it.
    h.clock.advance(86_400);
    let step = h.twofold.begin_sign_in(&ana).await.unwrap().value;
    assert!(
        matches!(
            step,
            SignInStep::Locked {
                lock: Lock::UntilReset
            }
        ),
        "after 100 failures: {step:?}"
    );
}

// ----- 10. freshness for every factor change -----

#[tokio::test]
async fn freshness_every_factor_change_needs_a_recent_password() {
    let h = harness();
    let olga = account("olga", "owner");
    let ana = account("ana", "staff");
    enroll_totp(&h, &olga).await;
    let (_, added) = register_passkey(&h, &ana, "key").await;
    let key = added.value.credential_id.unwrap();
    // The policy's window is five minutes; a re-entry six minutes ago is stale.
    let stale = Some(twofold::Timestamp::from_unix_seconds(
        h.clock.now().as_unix_seconds() - 360,
    ));
    for proof in [None, stale] {
        let refused = [
            h.twofold
                .begin_totp_enrollment(&ana, proof)
                .await
                .map(|_| ()),
            h.twofold
                .begin_passkey_registration(&ana, proof)
                .await
                .map(|_| ()),
            h.twofold
                .remove_passkey(&ana, &key, proof)
                .await
                .map(|_| ()),
            h.twofold
                .regenerate_backup_codes(&ana, proof)
                .await
                .map(|_| ()),
            h.twofold.disable(&ana, proof).await.map(|_| ()),
            h.twofold
                .admin_reset(&olga, &ana, "lost phone", proof)
                .await
                .map(|_| ()),
            h.twofold
                .admin_unlock(&olga, &ana, "locked out", proof)
                .await
                .map(|_| ()),
            h.twofold
                .change_enforcement(&olga, Mode::Required, proof)
                .await
                .map(|_| ()),
        ];
        for (i, result) in refused.into_iter().enumerate() {
            let error = result.expect_err(&format!("change {i} with {proof:?} went through"));
            assert!(
                matches!(
                    error.error,
                    TwoFactorError::Denied(twofold::Reason::ReauthenticationRequired)
                ),
                "change {i}: {error:?}"
            );
        }
    }
    // A password entered just now (a forced enrollment right after sign-in) is fresh.
    h.twofold
        .begin_totp_enrollment(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    h.twofold
        .change_enforcement(
            &olga,
            Mode::Required,
            Some(twofold::Timestamp::from_unix_seconds(
                h.clock.now().as_unix_seconds() - 299,
            )),
        )
        .await
        .unwrap();
}

// ----- the capabilities the fixes added -----

#[tokio::test]
async fn after_the_ceiling_only_an_administrator_unlocks_and_the_factors_stay() {
    let h = harness();
    let (olga, sam) = (account("olga", "owner"), account("sam", "staff"));
    let (secret, _) = enroll_totp(&h, &sam).await;
    for _ in 0..100 {
        h.clock.advance(3601);
        let (id, _) = challenge(h.twofold.begin_sign_in(&sam).await.unwrap().value);
        let wrong = wrong_code(&secret, h.clock.now());
        h.twofold.verify_totp(&sam, &id, &wrong).await.unwrap_err();
    }
    assert_eq!(
        h.twofold.status(&sam).await.unwrap().locked,
        Some(Lock::UntilReset)
    );
    // Not by a peer, not across organizations, not without a reason.
    let now = Some(h.clock.now());
    let other_clinic = Account {
        organization: "other-clinic",
        ..account("otto", "owner")
    };
    for (actor, reason) in [
        (account("stan", "staff"), "please"),
        (other_clinic, "please"),
        (olga, " "),
    ] {
        let refused = h.twofold.admin_unlock(&actor, &sam, reason, now).await;
        assert!(
            matches!(
                refused.as_ref().map_err(|f| &f.error),
                Err(TwoFactorError::Denied(_))
            ),
            "{refused:?}"
        );
    }
    let unlocked = h
        .twofold
        .admin_unlock(&olga, &sam, "locked out by a phishing run", now)
        .await
        .unwrap();
    assert!(matches!(
        unlocked.events[..],
        [twofold::Event::Unlocked { ref actor, ref target, .. }] if actor == "olga" && target == "sam"
    ));
    // Sam's authenticator app still works: nothing was wiped.
    let (id, _) = challenge(h.twofold.begin_sign_in(&sam).await.unwrap().value);
    h.twofold
        .verify_totp(&sam, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
}

#[tokio::test]
async fn reseal_all_retires_an_old_key_on_purpose_and_names_what_it_cannot_open() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    enroll_totp(&h, &account("bob", "staff")).await;
    // Carol's secret is under a key nobody has any more.
    let mut carol = h.store.load_user("bob").await.unwrap().unwrap().value;
    let mut sealed = serde_json::to_value(&carol.totp.as_ref().unwrap().secret).unwrap();
    sealed["key_id"] = json!("lost");
    carol.totp.as_mut().unwrap().secret = serde_json::from_value(sealed).unwrap();
    h.store
        .save_user("carol", &carol, None, twofold::CredentialChanges::NONE)
        .await
        .unwrap();
    let rotated = twofold::Keyring::new(twofold::SecretKey::new("k2", [9u8; 32]))
        .with_previous(twofold::SecretKey::new("k1", [7u8; 32]));
    let h2 = common::harness_with_keyring(Arc::clone(&h.store), rotated, h.clock.now());
    let report = h2.twofold.reseal_all(1).await.unwrap();
    assert_eq!(report.users, 3);
    assert_eq!(report.rewritten, 2);
    assert_eq!(
        report.unreadable,
        vec![("carol".to_string(), "lost".to_string())]
    );
    for user in ["ana", "bob"] {
        let record = h.store.load_user(user).await.unwrap().unwrap().value;
        assert_eq!(record.totp.unwrap().secret.key_id(), "k2", "{user}");
    }
    // A second run has nothing left to re-seal.
    assert_eq!(h2.twofold.reseal_all(10).await.unwrap().rewritten, 0);
    let retired = twofold::Keyring::new(twofold::SecretKey::new("k2", [9u8; 32]));
    let h3 = common::harness_with_keyring(Arc::clone(&h.store), retired, h.clock.now());
    let (id, _) = challenge(h3.twofold.begin_sign_in(&ana).await.unwrap().value);
    h3.twofold
        .verify_totp(&ana, &id, &code(&secret, h3.clock.now()))
        .await
        .unwrap();
}

#[tokio::test]
async fn username_less_sign_in_finds_the_user_by_credential_not_by_user_handle() {
    let h = harness();
    let ana = account("ana", "staff");
    let (mut authenticator, added) = register_passkey(&h, &ana, "key").await;
    let id = added.value.credential_id.unwrap();
    register_passkey(&h, &account("bob", "staff"), "key").await;
    // Without a user handle at all, the index names Ana.
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let mut posted: Value = serde_json::from_str(&username_less_response(
        &mut authenticator,
        &start.options,
        &id,
        "ana",
    ))
    .unwrap();
    posted["response"]
        .as_object_mut()
        .unwrap()
        .remove("userHandle");
    let (user, _) = common::passkey_first(&h.twofold, &start.ceremony_id, &posted.to_string())
        .await
        .unwrap();
    assert_eq!(user, "ana");
    // A user handle that names Bob is refused, and changes nobody's record.
    let before = (stored(&h, "ana").await, stored(&h, "bob").await);
    let start = h.twofold.begin_passkey_sign_in(ORG).await.unwrap().value;
    let posted = username_less_response(&mut authenticator, &start.options, &id, "bob");
    let refused = common::passkey_first(&h.twofold, &start.ceremony_id, &posted)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwoFactorError::Passkey(_)),
        "{refused:?}"
    );
    assert_eq!((stored(&h, "ana").await, stored(&h, "bob").await), before);
}

#[tokio::test]
async fn the_ceremony_cap_is_a_typed_busy_and_expiry_frees_it() {
    let store = Arc::new(twofold::MemoryStore::new());
    let mut config = common::config();
    config.max_outstanding_ceremonies = 10;
    let h = common::harness_with_config(store.clone(), common::keyring(), common::START, config);
    for _ in 0..10 {
        h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
    }
    let busy = h.twofold.begin_passkey_sign_in(ORG).await.unwrap_err();
    assert!(matches!(busy.error, TwoFactorError::Busy), "{busy:?}");
    // Another organization's sign-in page is not affected.
    h.twofold
        .begin_passkey_sign_in("other-clinic")
        .await
        .unwrap();
    assert_eq!(store.contents().ceremonies.len(), 11);
    // Once they expire, there is room again.
    h.clock.advance(301);
    h.twofold.begin_passkey_sign_in(ORG).await.unwrap();
}

/// The default offload, counting the jobs it runs: each is one Argon2 task.
#[derive(Default)]
struct Counting {
    inner: twofold::OffloadPool,
    jobs: Arc<AtomicU64>,
}

impl twofold::Offload for Counting {
    fn run(&self, job: twofold::Job) -> twofold::OffloadFuture {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        self.inner.run(job)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_argon2_evaluation_per_backup_code_attempt_whatever_the_contention() {
    let jobs = Arc::new(AtomicU64::new(0));
    let h = common::harness_with_offload(
        Arc::new(twofold::MemoryStore::new()),
        common::keyring(),
        common::START,
        common::config(),
        Some(Arc::new(Counting {
            jobs: Arc::clone(&jobs),
            ..Counting::default()
        })),
    );
    let ana = account("ana", "staff");
    enroll_totp(&h, &ana).await;
    // A throttle that never waits, so that every attempt reaches its hash.
    let mut lenient = PolicyDocument::example_clinic();
    lenient.throttle.max_failures = 100;
    lenient.throttle.backoff_seconds = vec![0];
    h.twofold.set_policy(ORG, lenient).await.unwrap();
    jobs.store(0, Ordering::SeqCst);
    let (id, _) = challenge(h.twofold.begin_sign_in(&ana).await.unwrap().value);
    // 20 wrong codes at once: their writes contend for one record and retry.
    let attempts: Vec<_> = (0..20u8)
        .map(|i| {
            let twofold = Arc::clone(&h.twofold);
            let id = id.clone();
            let typed = format!("AAAAA-AAAA{}", char::from(b'A' + i));
            tokio::spawn(async move {
                twofold
                    .verify_backup_code(&account("ana", "staff"), &id, &typed)
                    .await
            })
        })
        .collect();
    for attempt in attempts {
        let error = attempt.await.unwrap().unwrap_err().error;
        assert!(matches!(error, TwoFactorError::WrongCode), "{error:?}");
    }
    assert_eq!(
        jobs.load(Ordering::SeqCst),
        20,
        "Argon2 evaluations for 20 attempts"
    );
    assert_eq!(h.twofold.status(&ana).await.unwrap().locked, None);
    h.twofold
        .set_policy(ORG, PolicyDocument::example_clinic())
        .await
        .unwrap();
    for _ in 0..10 {
        let _ = h.twofold.verify_backup_code(&ana, &id, "AAAAA-AAAAA").await;
    }
    // A locked user's attempt is refused before any hashing.
    let before = jobs.load(Ordering::SeqCst);
    let refused = h.twofold.verify_backup_code(&ana, &id, "AAAAA-AAAAA").await;
    assert!(
        matches!(
            refused.map_err(|f| f.error),
            Err(TwoFactorError::Locked { .. })
        ),
        "ten failures lock the account"
    );
    assert_eq!(
        jobs.load(Ordering::SeqCst),
        before,
        "a refused attempt hashed"
    );
}

#[tokio::test]
async fn a_method_a_new_policy_forbids_is_still_asked_for_while_2fa_is_optional() {
    // The documented rule: a factor enrolled before the policy forbade it is
    // never silently skipped; it can answer only a challenge that offers it,
    // and no more of it can be enrolled.
    let h = harness();
    let adam = account("adam", "admin");
    let (secret, _) = enroll_totp(&h, &adam).await;
    h.twofold
        .set_policy(ORG, passkeys_only_for_admins())
        .await
        .unwrap();
    let step = h.twofold.begin_sign_in(&adam).await.unwrap().value;
    let SignInStep::Challenge { methods, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(methods.contains(Method::Totp), "{step:?}");
    let (id, _) = challenge(step);
    h.twofold
        .verify_totp(&adam, &id, &code(&secret, h.clock.now()))
        .await
        .unwrap();
    assert!(
        h.twofold
            .begin_totp_enrollment(&adam, Some(h.clock.now()))
            .await
            .is_err()
    );
    // Under `required`, Adam must set up an allowed method (a passkey).
    let mut required = passkeys_only_for_admins();
    required.enforcement.mode = Mode::Required;
    h.twofold.set_policy(ORG, required).await.unwrap();
    h.clock.advance(30);
    let step = h.twofold.begin_sign_in(&adam).await.unwrap().value;
    assert!(
        matches!(step, SignInStep::MustEnroll { methods, .. } if methods == Method::Passkey.into()),
        "{step:?}"
    );
}
