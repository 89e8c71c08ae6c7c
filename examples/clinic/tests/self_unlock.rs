//! Self-service unlock over real HTTP: the locked page is reached only after
//! the password, takes the codes one at a time, says where the sequence
//! stands, pauses after a wrong code, and leads back to the second step.

#![cfg(test)]

mod common;

use common::{TestClock, client, code_at, location, token};

use reqwest::{Client, StatusCode};

/// Signs in with the password; returns the page the app sent the user to.
async fn sign_in(client: &Client, base: &str, email: &str, password: &str) -> String {
    let csrf = token(client, base, "/signin").await;
    let response = client
        .post(format!("{base}/signin"))
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    location(&response)
}

async fn page(client: &Client, base: &str, path: &str) -> String {
    client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Posts a code to `path` with the session's token; returns where it leads.
async fn post_code(client: &Client, base: &str, path: &str, code: &str) -> String {
    let form_page = if path.starts_with("/signin/unlock") {
        "/signin/unlock"
    } else {
        "/signin/second-step"
    };
    let csrf = token(client, base, form_page).await;
    let response = client
        .post(format!("{base}{path}"))
        .form(&[("code", code), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
    location(&response)
}

/// A 6-digit code that is none of the window's around `now`.
fn wrong_code(secret: &str, now: u64) -> String {
    let window: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| code_at(secret, *t))
        .collect();
    ["123456", "654321", "111111", "222222"]
        .into_iter()
        .find(|candidate| !window.iter().any(|code| code == candidate))
        .unwrap()
        .to_string()
}

/// Sam, the staff member, with an authenticator app, locked for an hour by
/// ten wrong codes (entered through the facade, as another browser would).
async fn locked_sam(running: &common::Running, clock: &TestClock) -> String {
    let sam = running
        .app
        .user_by_email(twofold_clinic::SEED[2].0)
        .await
        .unwrap()
        .unwrap();
    let account = twofold::Account {
        user: &sam.id,
        organization: &sam.clinic,
        role: &sam.role,
        name: &sam.email,
    };
    let tf = running.app.two_factor();
    let setup = tf
        .begin_totp_enrollment(
            &account,
            Some(twofold::Timestamp::from_unix_seconds(running.app.now())),
        )
        .await
        .unwrap()
        .value;
    let secret = setup.manual_entry_secret;
    tf.confirm_totp_enrollment(&account, &code_at(&secret, running.app.now()))
        .await
        .unwrap();
    for _ in 0..10 {
        clock.advance(1000);
        let twofold::SignInStep::Challenge { challenge_id, .. } =
            tf.begin_sign_in(&account).await.unwrap().value
        else {
            panic!("expected a challenge")
        };
        let wrong = wrong_code(&secret, running.app.now());
        tf.verify_totp(&account, &challenge_id, &wrong)
            .await
            .unwrap_err();
    }
    assert!(tf.status(&account).await.unwrap().locked.is_some());
    secret
}

#[tokio::test]
async fn a_locked_user_unlocks_with_three_codes_then_signs_in_with_the_next() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let secret = locked_sam(&running, &clock).await;
    clock.advance(30);
    let now = || common::seconds(&clock);

    let client = client();
    assert_eq!(sign_in(&client, base, sam.0, sam.3).await, "/signin/unlock");
    let locked = page(&client, base, "/signin/unlock").await;
    assert!(locked.contains("Your account is locked until"), "{locked}");
    assert!(locked.contains("Unlock it now with your authenticator app"));
    assert!(locked.contains("Code 1 of 3"), "{locked}");
    // The lock holds the second step: no challenge in this session.
    let response = client
        .get(format!("{base}/signin/second-step"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");

    let first = code_at(&secret, now());
    assert_eq!(
        post_code(&client, base, "/signin/unlock/code", &first).await,
        "/signin/unlock"
    );
    let after_one = page(&client, base, "/signin/unlock").await;
    assert!(after_one.contains("1 of 3 codes entered"), "{after_one}");
    assert!(after_one.contains("Wait for the next code"), "{after_one}");
    assert!(after_one.contains("Code 2 of 3"), "{after_one}");
    // The same code again: wait for the next one; nothing lost.
    post_code(&client, base, "/signin/unlock/code", &first).await;
    let again = page(&client, base, "/signin/unlock").await;
    assert!(again.contains("That code was just entered"), "{again}");
    assert!(again.contains("Code 2 of 3"), "{again}");
    clock.advance(30);
    post_code(
        &client,
        base,
        "/signin/unlock/code",
        &code_at(&secret, now()),
    )
    .await;
    let after_two = page(&client, base, "/signin/unlock").await;
    assert!(after_two.contains("2 of 3 codes entered"), "{after_two}");
    assert!(
        after_two.contains("Enter the rest within 10 minutes"),
        "{after_two}"
    );
    clock.advance(30);
    let last = code_at(&secret, now());
    assert_eq!(
        post_code(&client, base, "/signin/unlock/code", &last).await,
        "/"
    );
    // Unlocked, not signed in: the second step asks for a new code.
    let response = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(location(&response), "/signin/second-step");
    let second = page(&client, base, "/signin/second-step").await;
    assert!(second.contains("Your account is unlocked"), "{second}");
    let response = client
        .get(format!("{base}/signin/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin", "the locked page is gone");
    assert_eq!(
        post_code(&client, base, "/signin/second-step/code", &last).await,
        "/signin/second-step",
        "the last unlock code is spent"
    );
    clock.advance(30);
    assert_eq!(
        post_code(
            &client,
            base,
            "/signin/second-step/code",
            &code_at(&secret, now())
        )
        .await,
        "/profile/security"
    );
}

#[tokio::test]
async fn the_locked_page_needs_the_password_first() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let secret = locked_sam(&running, &clock).await;
    // A browser that never entered the password.
    let stranger = client();
    let response = stranger
        .get(format!("{base}/signin/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    let csrf = token(&stranger, base, "/signin").await;
    let response = stranger
        .post(format!("{base}/signin/unlock/code"))
        .form(&[
            ("code", code_at(&secret, common::seconds(&clock)).as_str()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    // A wrong password does not reach it either.
    assert_eq!(sign_in(&stranger, base, sam.0, "not sam's").await, "");
    let response = stranger
        .get(format!("{base}/signin/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    // Nothing was counted or spent by them.
    let client = client();
    assert_eq!(sign_in(&client, base, sam.0, sam.3).await, "/signin/unlock");
    assert!(
        page(&client, base, "/signin/unlock")
            .await
            .contains("Code 1 of 3")
    );
    // Cancel ends it; the page is gone with the session.
    let csrf = token(&client, base, "/signin/unlock").await;
    client
        .post(format!("{base}/signout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let response = client
        .get(format!("{base}/signin/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    // It lapses half an hour after the password.
    assert_eq!(sign_in(&client, base, sam.0, sam.3).await, "/signin/unlock");
    clock.advance(1801);
    let response = client
        .get(format!("{base}/signin/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
}

#[tokio::test]
async fn a_wrong_code_pauses_unlocking_and_the_page_says_for_how_long() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let secret = locked_sam(&running, &clock).await;
    clock.advance(30);
    let now = || common::seconds(&clock);
    let client = client();
    assert_eq!(sign_in(&client, base, sam.0, sam.3).await, "/signin/unlock");
    post_code(
        &client,
        base,
        "/signin/unlock/code",
        &code_at(&secret, now()),
    )
    .await;
    clock.advance(30);
    post_code(
        &client,
        base,
        "/signin/unlock/code",
        &wrong_code(&secret, now()),
    )
    .await;
    let paused = page(&client, base, "/signin/unlock").await;
    assert!(
        paused.contains("That code is not correct, so unlocking is paused"),
        "{paused}"
    );
    assert!(paused.contains("Try again in 5 minutes"), "{paused}");
    assert!(
        paused.contains("Code 1 of 3"),
        "the sequence starts over: {paused}"
    );
    // Even the right code waits.
    clock.advance(60);
    post_code(
        &client,
        base,
        "/signin/unlock/code",
        &code_at(&secret, now()),
    )
    .await;
    let waiting = page(&client, base, "/signin/unlock").await;
    assert!(waiting.contains("Try again in 4 minutes"), "{waiting}");
    assert!(waiting.contains("Code 1 of 3"), "{waiting}");
    // Its end lets the codes in again.
    clock.advance(240);
    post_code(
        &client,
        base,
        "/signin/unlock/code",
        &code_at(&secret, now()),
    )
    .await;
    let resumed = page(&client, base, "/signin/unlock").await;
    assert!(resumed.contains("1 of 3 codes entered"), "{resumed}");
}

#[tokio::test]
async fn where_the_policy_forbids_it_the_lock_is_only_told() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    locked_sam(&running, &clock).await;
    let user = running.app.user_by_email(sam.0).await.unwrap().unwrap();
    let tf = running.app.two_factor();
    let mut document = tf.policy(&user.clinic).await.unwrap().document().clone();
    document.roles.get_mut("staff").unwrap().self_unlock = Some(false);
    tf.set_policy(&user.clinic, document).await.unwrap();
    let client = client();
    assert_eq!(sign_in(&client, base, sam.0, sam.3).await, "/signin");
    let signin = page(&client, base, "/signin").await;
    assert!(signin.contains("Your account is locked until"), "{signin}");
    let response = client
        .get(format!("{base}/signin/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
}
