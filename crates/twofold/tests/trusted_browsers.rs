//! Trusted browsers ("Don't ask again on this browser"): a token only a
//! successful second step issues, that skips the challenge at the next
//! sign-in and is replaced on every use; never while locked, never in place
//! of an enrolment; one user's token never helps another; and every change of
//! the user's factors, and every "forget", ends the trust.
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{
    Call, Harness, Interpose, ORG, Wrapped, account, code, enroll_totp, harness, harness_with,
    register_passkey, use_passkey, wrong_code,
};
use twofold::store::{StoreFuture, UserRecord};
use twofold::{
    Account, Clock, Event, MAX_TRUSTED_BROWSERS, Method, Mode, NewTrustedBrowser, PolicyDocument,
    REUSE_GRACE_SECONDS, Reason, SignInStep, TrustRevocation, TrustedSignIn,
};

const DAY: u64 = 86_400;

/// The challenge id of a sign-in that must be challenged.
async fn challenge(h: &Harness, who: &Account<'_>) -> String {
    match h.twofold.begin_sign_in(who).await.unwrap().value {
        SignInStep::Challenge { challenge_id, .. } => challenge_id,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// Signs `who` in with their authenticator app, ticking "trust this browser".
async fn trust_with_totp(h: &Harness, who: &Account<'_>, secret: &str) -> NewTrustedBrowser {
    let id = challenge(h, who).await;
    let answered = h
        .twofold
        .verify_totp_trusting(
            who,
            &id,
            &code(secret, h.clock.now()),
            Some("Chrome on Linux"),
        )
        .await
        .unwrap()
        .value;
    // The code's step is spent: the next sign-in uses the next one.
    h.clock.advance(30);
    answered
        .trusted_browser
        .expect("a trusted browser, as the policy allows")
}

async fn present(h: &Harness, who: &Account<'_>, token: &str) -> TrustedSignIn {
    h.twofold
        .begin_sign_in_trusted(who, Some(token))
        .await
        .unwrap()
        .value
}

fn skipped(signed_in: &TrustedSignIn) -> bool {
    matches!(
        signed_in.step,
        SignInStep::Allow {
            reason: Reason::TrustedBrowser
        }
    )
}

fn challenged(signed_in: &TrustedSignIn) -> bool {
    matches!(signed_in.step, SignInStep::Challenge { .. }) && signed_in.renewed.is_none()
}

async fn record(h: &Harness, user: &str) -> UserRecord {
    h.store.load_user(user).await.unwrap().unwrap().value
}

fn events(h: &Harness) -> Vec<Event> {
    std::mem::take(&mut *h.events.0.lock().unwrap())
}

fn revocations(events: &[Event]) -> Vec<TrustRevocation> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TrustedBrowserRevoked { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

async fn set_policy(h: &Harness, edit: impl FnOnce(&mut PolicyDocument)) {
    let mut document = PolicyDocument::example_clinic();
    edit(&mut document);
    h.twofold.set_policy(ORG, document).await.unwrap();
}

#[tokio::test]
async fn only_a_successful_second_step_trusts_a_browser() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;

    // The password alone: a made-up token, or none, never skips nor mints.
    let made_up = "A".repeat(43);
    assert!(challenged(&present(&h, &ana, &made_up).await));
    let plain = h.twofold.begin_sign_in_trusted(&ana, None).await.unwrap();
    assert!(challenged(&plain.value));

    // A wrong code with "trust this browser" trusts nothing.
    let id = challenge(&h, &ana).await;
    let wrong = h
        .twofold
        .verify_totp_trusting(&ana, &id, &wrong_code(&secret, h.clock.now()), Some("x"))
        .await
        .unwrap_err();
    assert!(wrong.events.iter().all(|e| e.kind() != "browser_trusted"));
    assert!(record(&h, "ana").await.trusted_browsers.is_empty());
    h.clock.advance(60);

    // Without the wish, nothing is trusted either.
    let id = challenge(&h, &ana).await;
    let answered = h
        .twofold
        .verify_totp_trusting(&ana, &id, &code(&secret, h.clock.now()), None)
        .await
        .unwrap()
        .value;
    assert!(answered.trusted_browser.is_none());
    assert!(record(&h, "ana").await.trusted_browsers.is_empty());
    h.clock.advance(30);

    events(&h);
    let trusted = trust_with_totp(&h, &ana, &secret).await;
    let token = trusted.token.expose_to_cookie().to_string();
    assert_eq!(token.len(), 43, "256 bits, base64url");
    assert_eq!(format!("{:?}", trusted.token), "BrowserToken(..)");
    let stored = record(&h, "ana").await;
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!json.contains(&token), "only the hash is stored");
    assert_eq!(stored.trusted_browsers.len(), 1);
    assert_eq!(stored.trusted_browsers[0].id, trusted.id);
    assert_eq!(
        stored.expires_at(),
        Some(stored.trusted_browsers[0].expires_at)
    );
    let kinds: Vec<&str> = events(&h).iter().map(Event::kind).collect();
    assert!(kinds.contains(&"sign_in_succeeded") && kinds.contains(&"browser_trusted"));
    assert_eq!(
        trusted.expires_at.as_unix_seconds(),
        h.clock.now().as_unix_seconds() - 30 + 30 * DAY,
        "the policy's 30 days by default"
    );
}

#[tokio::test]
async fn a_trusted_browser_skips_the_challenge_and_its_token_is_replaced() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let first = trust_with_totp(&h, &ana, &secret).await;
    let first = first.token.expose_to_cookie().to_string();
    events(&h);

    let used = present(&h, &ana, &first).await;
    assert!(skipped(&used), "{:?}", used.step);
    let second = used.renewed.expect("a new token").token;
    let second = second.expose_to_cookie().to_string();
    assert_ne!(second, first);
    assert_eq!(
        events(&h).iter().map(Event::kind).collect::<Vec<_>>(),
        ["trusted_browser_used"]
    );
    let summary = h.twofold.trusted_browsers(&ana).await.unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].last_used_at, Some(h.clock.now()));
    assert_eq!(summary[0].label, "Chrome on Linux");

    // The replaced token no longer works (within the grace: a plain challenge).
    assert!(challenged(&present(&h, &ana, &first).await));
    assert!(revocations(&events(&h)).is_empty());
    // The new one does, once.
    let again = present(&h, &ana, &second).await;
    assert!(skipped(&again));
}

#[tokio::test]
async fn a_replaced_token_presented_later_revokes_the_browser() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let old = trust_with_totp(&h, &ana, &secret).await;
    let old = old.token.expose_to_cookie().to_string();
    let renewed = present(&h, &ana, &old).await.renewed.unwrap();
    events(&h);

    // A copy of the cookie, used after the real browser moved on.
    h.clock.advance(REUSE_GRACE_SECONDS);
    assert!(challenged(&present(&h, &ana, &old).await));
    assert_eq!(revocations(&events(&h)), [TrustRevocation::ReuseDetected]);
    // Both copies are worthless now.
    assert!(challenged(
        &present(&h, &ana, renewed.token.expose_to_cookie()).await
    ));
    assert!(h.twofold.trusted_browsers(&ana).await.unwrap().is_empty());
}

#[tokio::test]
async fn another_users_token_never_helps() {
    let h = harness();
    let ana = account("ana", "staff");
    let bob = account("bob", "staff");
    let (ana_secret, _) = enroll_totp(&h, &ana).await;
    enroll_totp(&h, &bob).await;
    let anas = trust_with_totp(&h, &ana, &ana_secret).await;

    // Bob signs in on Ana's (shared) browser: challenged, told nothing of her.
    let bobs_try = present(&h, &bob, anas.token.expose_to_cookie()).await;
    assert!(challenged(&bobs_try));
    assert!(h.twofold.trusted_browsers(&bob).await.unwrap().is_empty());
    // And Ana's token still works for her.
    assert!(skipped(
        &present(&h, &ana, anas.token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn a_trusted_browser_never_skips_a_locked_second_step() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let trusted = trust_with_totp(&h, &ana, &secret).await;
    set_policy(&h, |document| document.throttle.max_failures = 1).await;

    let id = challenge(&h, &ana).await;
    h.twofold
        .verify_totp(&ana, &id, &wrong_code(&secret, h.clock.now()))
        .await
        .unwrap_err();
    let locked = present(&h, &ana, trusted.token.expose_to_cookie()).await;
    assert!(
        matches!(locked.step, SignInStep::Locked { .. }),
        "{:?}",
        locked.step
    );
    assert!(locked.renewed.is_none());
    // The token was not spent: after the lockout it still works.
    h.clock.advance(3_600);
    assert!(skipped(
        &present(&h, &ana, trusted.token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn a_trusted_browser_is_never_a_factor_for_enforcement() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let trusted = trust_with_totp(&h, &ana, &secret).await;
    // Now only passkeys count, and they are required: Ana must enrol one.
    set_policy(&h, |document| {
        document.enforcement.mode = Mode::Required;
        document.enforcement.methods = vec![Method::Passkey];
    })
    .await;
    let step = present(&h, &ana, trusted.token.expose_to_cookie()).await;
    assert!(
        matches!(step.step, SignInStep::MustEnroll { .. }),
        "{:?}",
        step.step
    );
    assert!(step.renewed.is_none());
}

#[tokio::test]
async fn the_policy_forbids_trusted_browsers_for_a_role_or_caps_their_days() {
    let h = harness();
    let ada = account("ada", "admin");
    let sam = account("sam", "staff");
    let (ada_secret, _) = enroll_totp(&h, &ada).await;
    let (sam_secret, _) = enroll_totp(&h, &sam).await;
    // Trusted before the owner forbade it for admins.
    let before = trust_with_totp(&h, &ada, &ada_secret).await;
    set_policy(&h, |document| {
        if let Some(admin) = document.roles.get_mut("admin") {
            admin.trusted_browser_days = Some(0);
        }
        if let Some(staff) = document.roles.get_mut("staff") {
            staff.trusted_browser_days = Some(7);
        }
    })
    .await;

    // Forbidden: the old token no longer skips, and no new one is issued.
    assert!(challenged(
        &present(&h, &ada, before.token.expose_to_cookie()).await
    ));
    assert!(h.twofold.trusted_browsers(&ada).await.unwrap().is_empty());
    let id = challenge(&h, &ada).await;
    let answered = h
        .twofold
        .verify_totp_trusting(&ada, &id, &code(&ada_secret, h.clock.now()), Some("x"))
        .await
        .unwrap()
        .value;
    assert!(answered.trusted_browser.is_none());

    // Capped: a week for staff.
    let trusted_at = h.clock.now().as_unix_seconds();
    let sams = trust_with_totp(&h, &sam, &sam_secret).await;
    assert_eq!(sams.expires_at.as_unix_seconds(), trusted_at + 7 * DAY);
    // Shortened since: three days, counted from when it was trusted.
    set_policy(&h, |document| {
        if let Some(staff) = document.roles.get_mut("staff") {
            staff.trusted_browser_days = Some(3);
        }
    })
    .await;
    let listed = h.twofold.trusted_browsers(&sam).await.unwrap();
    assert_eq!(listed[0].expires_at.as_unix_seconds(), trusted_at + 3 * DAY);
    h.clock.set(twofold::Timestamp::from_unix_seconds(
        trusted_at + 3 * DAY - 1,
    ));
    let within = present(&h, &sam, sams.token.expose_to_cookie()).await;
    assert!(skipped(&within));
    assert_eq!(
        within
            .renewed
            .as_ref()
            .unwrap()
            .expires_at
            .as_unix_seconds(),
        trusted_at + 3 * DAY,
        "renewal never extends the trust"
    );
    h.clock.advance(1);
    assert!(challenged(
        &present(&h, &sam, within.renewed.unwrap().token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn trust_expires_and_the_sweep_drops_it() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let trusted = trust_with_totp(&h, &ana, &secret).await;
    h.clock.set(trusted.expires_at);
    assert!(h.twofold.trusted_browsers(&ana).await.unwrap().is_empty());
    h.twofold.purge_expired().await.unwrap();
    assert!(record(&h, "ana").await.trusted_browsers.is_empty());
    assert!(challenged(
        &present(&h, &ana, trusted.token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn at_most_ten_browsers_the_least_recently_used_forgotten() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let mut tokens = Vec::new();
    for _ in 0..MAX_TRUSTED_BROWSERS {
        tokens.push(trust_with_totp(&h, &ana, &secret).await);
    }
    // The first one is used: the second becomes the least recently used.
    let renewed = present(&h, &ana, tokens[0].token.expose_to_cookie())
        .await
        .renewed
        .unwrap();
    h.clock.advance(30);
    events(&h);
    let newest = trust_with_totp(&h, &ana, &secret).await;
    assert_eq!(revocations(&events(&h)), [TrustRevocation::Evicted]);
    let listed = h.twofold.trusted_browsers(&ana).await.unwrap();
    assert_eq!(listed.len(), MAX_TRUSTED_BROWSERS);
    assert!(listed.iter().all(|b| b.id != tokens[1].id));
    assert!(challenged(
        &present(&h, &ana, tokens[1].token.expose_to_cookie()).await
    ));
    assert!(skipped(
        &present(&h, &ana, renewed.token.expose_to_cookie()).await
    ));
    assert!(skipped(
        &present(&h, &ana, newest.token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn labels_are_sanitized_and_listing_never_shows_a_token() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let id = challenge(&h, &ana).await;
    let label = format!("Evil\u{1b}[31m\n{}", "x".repeat(200));
    h.twofold
        .verify_totp_trusting(&ana, &id, &code(&secret, h.clock.now()), Some(&label))
        .await
        .unwrap();
    let listed = h.twofold.trusted_browsers(&ana).await.unwrap();
    assert_eq!(
        listed[0].label.chars().count(),
        twofold::MAX_BROWSER_LABEL_CHARS
    );
    assert!(listed[0].label.starts_with("Evil[31m x"));
    assert!(!listed[0].label.chars().any(char::is_control));
}

/// Sets up `who` with an authenticator app and a passkey, and trusts a browser.
async fn trusted_user(h: &Harness, who: &Account<'_>) -> (String, NewTrustedBrowser) {
    let (secret, _) = enroll_totp(h, who).await;
    register_passkey(h, who, "laptop").await;
    let trusted = trust_with_totp(h, who, &secret).await;
    events(h);
    (secret, trusted)
}

/// The token no longer skips, and one revocation with `reason` was reported.
async fn revoked(
    h: &Harness,
    who: &Account<'_>,
    token: &NewTrustedBrowser,
    reason: TrustRevocation,
) {
    assert_eq!(revocations(&events(h)), [reason]);
    let step = present(h, who, token.token.expose_to_cookie()).await;
    assert!(!skipped(&step), "{:?}", step.step);
    assert!(step.renewed.is_none());
    assert!(h.twofold.trusted_browsers(who).await.unwrap().is_empty());
}

#[tokio::test]
async fn regenerating_backup_codes_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, trusted) = trusted_user(&h, &ana).await;
    h.twofold
        .regenerate_backup_codes(&ana, Some(h.clock.now()))
        .await
        .unwrap();
    revoked(&h, &ana, &trusted, TrustRevocation::FactorChanged).await;
}

#[tokio::test]
async fn adding_a_passkey_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, trusted) = trusted_user(&h, &ana).await;
    register_passkey(&h, &ana, "phone").await;
    revoked(&h, &ana, &trusted, TrustRevocation::FactorChanged).await;
}

#[tokio::test]
async fn removing_a_passkey_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, trusted) = trusted_user(&h, &ana).await;
    let id = h.twofold.status(&ana).await.unwrap().passkeys[0].id.clone();
    h.twofold
        .remove_passkey(&ana, &id, Some(h.clock.now()))
        .await
        .unwrap();
    revoked(&h, &ana, &trusted, TrustRevocation::FactorChanged).await;
}

/// A user with a passkey only, who trusted a browser with it.
async fn passkey_user(h: &Harness, who: &Account<'_>) -> NewTrustedBrowser {
    let (mut authenticator, _) = register_passkey(h, who, "laptop").await;
    let options = match h.twofold.begin_sign_in(who).await.unwrap().value {
        SignInStep::Challenge {
            challenge_id,
            passkey_options: Some(options),
            ..
        } => (challenge_id, options),
        other => panic!("expected a passkey challenge, got {other:?}"),
    };
    let response = use_passkey(&mut authenticator, options.1);
    let answered = h
        .twofold
        .verify_passkey_trusting(who, &options.0, &response, Some("Safari on macOS"))
        .await
        .unwrap()
        .value;
    events(h);
    answered.trusted_browser.expect("trusted with a passkey")
}

#[tokio::test]
async fn setting_up_an_authenticator_app_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let trusted = passkey_user(&h, &ana).await;
    enroll_totp(&h, &ana).await;
    revoked(&h, &ana, &trusted, TrustRevocation::FactorChanged).await;
}

#[tokio::test]
async fn a_passkey_answer_trusts_a_browser_too() {
    let h = harness();
    let ana = account("ana", "staff");
    let trusted = passkey_user(&h, &ana).await;
    assert!(skipped(
        &present(&h, &ana, trusted.token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn importing_an_authenticator_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let trusted = passkey_user(&h, &ana).await;
    let uri = twofold_totp::OtpAuthUri::parse_legacy(
        "otpauth://totp/Old:ana?secret=JBSWY3DPEHPK3PXP&issuer=Old",
    )
    .unwrap();
    h.twofold
        .import_totp(&ana, &uri, Some(h.clock.now()))
        .await
        .unwrap();
    revoked(&h, &ana, &trusted, TrustRevocation::FactorChanged).await;
}

#[tokio::test]
async fn removing_the_last_passkey_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let trusted = passkey_user(&h, &ana).await;
    let id = h.twofold.status(&ana).await.unwrap().passkeys[0].id.clone();
    h.twofold
        .remove_passkey(&ana, &id, Some(h.clock.now()))
        .await
        .unwrap();
    revoked(&h, &ana, &trusted, TrustRevocation::FactorChanged).await;
}

#[tokio::test]
async fn disabling_2fa_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, trusted) = trusted_user(&h, &ana).await;
    h.twofold.disable(&ana, Some(h.clock.now())).await.unwrap();
    revoked(&h, &ana, &trusted, TrustRevocation::TwoFactorDisabled).await;
}

#[tokio::test]
async fn an_admin_reset_ends_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, trusted) = trusted_user(&h, &ana).await;
    let owner = account("olga", "owner");
    h.twofold
        .admin_reset(&owner, &ana, "lost phone", Some(h.clock.now()))
        .await
        .unwrap();
    revoked(&h, &ana, &trusted, TrustRevocation::AdminReset).await;
}

#[tokio::test]
async fn forgetting_one_browser_ends_its_trust_only() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, trusted) = trusted_user(&h, &ana).await;
    let other = trust_with_totp(&h, &ana, &secret).await;
    events(&h);
    h.twofold
        .forget_trusted_browser(&ana, &trusted.id)
        .await
        .unwrap();
    assert_eq!(revocations(&events(&h)), [TrustRevocation::Removed]);
    assert!(challenged(
        &present(&h, &ana, trusted.token.expose_to_cookie()).await
    ));
    assert!(skipped(
        &present(&h, &ana, other.token.expose_to_cookie()).await
    ));
    let unknown = h
        .twofold
        .forget_trusted_browser(&ana, &trusted.id)
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), twofold::ErrorKind::Denied);
    // Bob cannot forget Ana's browser by its id.
    let bob = account("bob", "staff");
    assert!(
        h.twofold
            .forget_trusted_browser(&bob, &other.id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn forgetting_all_browsers_ends_every_trust() {
    let h = harness();
    let ana = account("ana", "staff");
    let (secret, trusted) = trusted_user(&h, &ana).await;
    let other = trust_with_totp(&h, &ana, &secret).await;
    events(&h);
    let done = h.twofold.forget_all_trusted_browsers(&ana).await.unwrap();
    assert_eq!(done.value, 2);
    assert_eq!(
        revocations(&events(&h)),
        [TrustRevocation::ForgetAll, TrustRevocation::ForgetAll]
    );
    for token in [&trusted, &other] {
        assert!(challenged(
            &present(&h, &ana, token.token.expose_to_cookie()).await
        ));
    }
    let none = h.twofold.forget_all_trusted_browsers(&ana).await.unwrap();
    assert_eq!(none.value, 0);
}

/// Holds the next `held` user loads at a barrier of two, so that two sign-ins
/// read the same version of the record.
struct TwoAtOnce {
    held: AtomicUsize,
    barrier: tokio::sync::Barrier,
}

impl Interpose for TwoAtOnce {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call,
        start: impl FnOnce() -> StoreFuture<'a, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let hold = call == Call::LoadUser
            && self
                .held
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let started = start();
        Box::pin(async move {
            let result = started.await;
            if hold {
                self.barrier.wait().await;
            }
            result
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_uses_of_one_token_at_once_renew_it_once() {
    let store = Arc::new(Wrapped::new(TwoAtOnce {
        held: AtomicUsize::new(0),
        barrier: tokio::sync::Barrier::new(2),
    }));
    let h = harness_with(store.clone());
    let ana = account("ana", "staff");
    let (secret, _) = enroll_totp(&h, &ana).await;
    let trusted = trust_with_totp(&h, &ana, &secret).await;
    let token = trusted.token.expose_to_cookie().to_string();
    store.hook.held.store(2, Ordering::SeqCst);
    let race = |token: String| {
        let twofold = Arc::clone(&h.twofold);
        tokio::spawn(async move {
            twofold
                .begin_sign_in_trusted(&account("ana", "staff"), Some(&token))
                .await
                .unwrap()
                .value
        })
    };
    let (a, b) = tokio::join!(race(token.clone()), race(token));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(store.hook.held.load(Ordering::SeqCst), 0, "both loads held");
    let winners: Vec<&TrustedSignIn> = outcomes.iter().filter(|o| skipped(o)).collect();
    let losers: Vec<&TrustedSignIn> = outcomes.iter().filter(|o| challenged(o)).collect();
    assert_eq!((winners.len(), losers.len()), (1, 1), "{outcomes:?}");
    // One valid token: the winner's.
    let stored = record(&h, "ana").await;
    assert_eq!(stored.trusted_browsers.len(), 1);
    let winner = winners[0].renewed.as_ref().unwrap();
    assert!(skipped(
        &present(&h, &ana, winner.token.expose_to_cookie()).await
    ));
}

#[tokio::test]
async fn a_backup_code_answer_trusts_a_browser_too() {
    let h = harness();
    let ana = account("ana", "staff");
    let (_, codes) = enroll_totp(&h, &ana).await;
    let id = challenge(&h, &ana).await;
    let answered = h
        .twofold
        .verify_backup_code_trusting(&ana, &id, &codes[0], Some("Firefox on Windows"))
        .await
        .unwrap()
        .value;
    assert_eq!(answered.signed_in.backup_codes_remaining, Some(9));
    let trusted = answered
        .trusted_browser
        .expect("trusted with a backup code");
    assert!(skipped(
        &present(&h, &ana, trusted.token.expose_to_cookie()).await
    ));
    // A wrong backup code trusts nothing.
    let id = challenge(&h, &ana).await;
    h.twofold
        .verify_backup_code_trusting(&ana, &id, &codes[0], Some("x"))
        .await
        .unwrap_err();
    assert_eq!(h.twofold.trusted_browsers(&ana).await.unwrap().len(), 1);
}
