//! The passkey router over HTTP (`oneshot`), with a software authenticator:
//! abuse cases first.
#![cfg(test)]

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;
use twofold::Mode;
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// What the page does for "Set up passkey": `create()` with the options.
fn create(authenticator: &mut SoftPasskey, options: Value) -> Value {
    let request = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let created = authenticator
        .do_registration(Url::parse(ORIGIN).unwrap(), request)
        .unwrap();
    serde_json::to_value(&created).unwrap()
}

/// What the page does for "Use a passkey": `get()` with the options.
fn assert_with(authenticator: &mut SoftPasskey, options: Value) -> Value {
    let request = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let assertion = authenticator
        .do_authentication(Url::parse(ORIGIN).unwrap(), request)
        .unwrap();
    serde_json::to_value(&assertion).unwrap()
}

/// Signs `user` in (no factor yet) and registers a passkey over HTTP.
async fn registered(h: &Harness, user: &str) -> (Browser, SoftPasskey, Value) {
    let mut browser = Browser::new(h);
    browser.password(user).await;
    let begin = browser.json("/passkeys/register/begin", json!({})).await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let mut authenticator = SoftPasskey::new(true);
    let credential = create(
        &mut authenticator,
        serde_json::from_str(&begin.body).unwrap(),
    );
    let finish = browser
        .json(
            "/passkeys/register/finish",
            json!({ "credential": credential, "name": "Laptop" }),
        )
        .await;
    assert_eq!(finish.status, StatusCode::OK, "{}", finish.body);
    let finish: Value = serde_json::from_str(&finish.body).unwrap();
    (browser, authenticator, finish)
}

#[tokio::test]
async fn no_password_no_ceremony() {
    let h = harness();
    let mut browser = Browser::new(&h);
    for path in [
        "/passkeys/register/begin",
        "/passkeys/register/finish",
        "/passkeys/sign-in",
    ] {
        let answer = browser.json(path, json!({ "credential": {} })).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_pending_second_step_cannot_register_a_passkey() {
    let h = harness();
    enroll_totp(&h, "ana").await;
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    let answer = browser.json("/passkeys/register/begin", json!({})).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        h.facade
            .status(&account("ana"))
            .await
            .unwrap()
            .passkeys
            .is_empty()
    );
}

#[tokio::test]
async fn registration_needs_a_fresh_password() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("bob").await;
    h.clock.advance(301);
    let answer = browser.json("/passkeys/register/begin", json!({})).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    // The default hooks take no password re-entry in the body.
    let answer = browser
        .json("/passkeys/register/begin", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_json_is_read_and_only_so_much() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("bob").await;
    // A cross-site form can send this content type, and is refused.
    let form = browser
        .send(
            "POST",
            "/passkeys/register/begin",
            Some("application/x-www-form-urlencoded"),
            "password=".into(),
        )
        .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let text = browser
        .send(
            "POST",
            "/passkeys/register/begin",
            Some("text/plain"),
            "{}".into(),
        )
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(
        "{{\"password\":\"{}\"}}",
        "a".repeat(twofold_axum::passkey::MAX_BODY)
    );
    let big = browser
        .send(
            "POST",
            "/passkeys/register/begin",
            Some("application/json"),
            big,
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_finished_registration_cannot_be_replayed() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("bob").await;
    let begin = browser.json("/passkeys/register/begin", json!({})).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential = create(
        &mut authenticator,
        serde_json::from_str(&begin.body).unwrap(),
    );
    let body = json!({ "credential": credential, "name": "Laptop" });
    let first = browser
        .json("/passkeys/register/finish", body.clone())
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let first: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(first["backup_codes"].as_array().unwrap().len(), 10);
    let again = browser.json("/passkeys/register/finish", body).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.facade
            .status(&account("bob"))
            .await
            .unwrap()
            .passkeys
            .len(),
        1
    );
}

#[tokio::test]
async fn a_long_name_is_refused() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("bob").await;
    let begin = browser.json("/passkeys/register/begin", json!({})).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential = create(
        &mut authenticator,
        serde_json::from_str(&begin.body).unwrap(),
    );
    let answer = browser
        .json(
            "/passkeys/register/finish",
            json!({ "credential": credential, "name": "x".repeat(65) }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_account_is_the_sessions_never_the_bodys() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("eve").await;
    let begin = browser
        .json(
            "/passkeys/register/begin",
            json!({ "user": "ana", "organization": "acme" }),
        )
        .await;
    let options: Value = serde_json::from_str(&begin.body).unwrap();
    assert_eq!(options["user"]["name"], "eve");
    let mut authenticator = SoftPasskey::new(true);
    let credential = create(&mut authenticator, options);
    let finish = browser
        .json(
            "/passkeys/register/finish",
            json!({ "credential": credential, "user": "ana" }),
        )
        .await;
    assert_eq!(finish.status, StatusCode::OK);
    assert_eq!(
        h.facade
            .status(&account("eve"))
            .await
            .unwrap()
            .passkeys
            .len(),
        1
    );
    assert!(
        h.facade
            .status(&account("ana"))
            .await
            .unwrap()
            .passkeys
            .is_empty()
    );
}

#[tokio::test]
async fn a_passkey_passes_the_second_step_once() {
    let h = harness();
    let (mut browser, mut authenticator, _) = registered(&h, "bob").await;
    browser.form("/signout", &[]).await;
    browser.password("bob").await;
    let options: Value =
        serde_json::from_str(&browser.get("/second-step/passkey").await.body).unwrap();
    let assertion = assert_with(&mut authenticator, options);
    let before = browser.cookie.clone();
    let answer = browser
        .json("/passkeys/sign-in", json!({ "credential": assertion }))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, r#"{"redirect":"/"}"#);
    assert_ne!(browser.cookie, before);
    assert_eq!(browser.get("/home").await.body, "home of bob");
    // The same assertion, replayed against the next sign-in's challenge.
    browser.form("/signout", &[]).await;
    browser.password("bob").await;
    let replay = browser
        .json("/passkeys/sign-in", json!({ "credential": assertion }))
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        browser.get("/home").await.location.as_deref(),
        Some("/signin/second-step")
    );
}

#[tokio::test]
async fn a_passkey_ends_the_forced_setup_under_a_new_session_id() {
    let h = harness_with(Mode::Required);
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    assert_eq!(
        browser.get("/home").await.location.as_deref(),
        Some("/signin/setup")
    );
    let forced = browser.clone();
    let begin = browser.json("/passkeys/register/begin", json!({})).await;
    let mut authenticator = SoftPasskey::new(true);
    let credential = create(
        &mut authenticator,
        serde_json::from_str(&begin.body).unwrap(),
    );
    let finish = browser
        .json(
            "/passkeys/register/finish",
            json!({ "credential": credential }),
        )
        .await;
    assert_eq!(finish.status, StatusCode::OK);
    assert_ne!(browser.cookie, forced.cookie);
    assert_eq!(browser.get("/home").await.body, "home of ana");
    let mut forced = forced;
    assert_eq!(
        forced.get("/home").await.location.as_deref(),
        Some("/signin")
    );
}

#[tokio::test]
async fn registration_follows_the_apps_window_when_shorter_than_the_policys() {
    let h = harness();
    let twofold = twofold_axum::TwoFactorState::new(h.facade.clone())
        .with_clock(h.clock.clone())
        .with_fresh_password_seconds(60);
    let mut browser = Browser {
        router: router(TestApp { twofold }, Sessions::default()),
        cookie: None,
    };
    browser.password("bob").await;
    h.clock.advance(61);
    let answer = browser.json("/passkeys/register/begin", json!({})).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_passkey_answer_trusts_the_browser_only_when_asked() {
    let h = harness();
    let (mut browser, mut authenticator, _) = registered(&h, "bob").await;
    browser.form("/signout", &[]).await;
    browser.password("bob").await;
    let options: Value =
        serde_json::from_str(&browser.get("/second-step/passkey").await.body).unwrap();
    let assertion = assert_with(&mut authenticator, options);
    let answer = browser
        .json("/passkeys/sign-in", json!({ "credential": assertion }))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        h.facade
            .trusted_browsers(&account("bob"))
            .await
            .unwrap()
            .is_empty()
    );

    browser.form("/signout", &[]).await;
    browser.password("bob").await;
    let options: Value =
        serde_json::from_str(&browser.get("/second-step/passkey").await.body).unwrap();
    let assertion = assert_with(&mut authenticator, options);
    let answer = browser
        .json(
            "/passkeys/sign-in",
            json!({ "credential": assertion, "trust_browser": true }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let trusted = h.facade.trusted_browsers(&account("bob")).await.unwrap();
    assert_eq!(trusted.len(), 1);
    assert_eq!(trusted[0].label, "Test browser");
}
