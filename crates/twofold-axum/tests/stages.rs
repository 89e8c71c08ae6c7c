//! The stage extractors and the fresh-password layer, over HTTP (`oneshot`),
//! abuse cases first.
#![cfg(test)]

mod support;

use axum::http::StatusCode;
use support::*;
use twofold::{Clock, Mode};

#[tokio::test]
async fn no_password_reaches_nothing_past_it() {
    let h = harness();
    let mut browser = Browser::new(&h);
    for path in ["/home", "/second-step", "/enroller"] {
        let answer = browser.get(path).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.location.as_deref(), Some("/signin"), "{path}");
    }
    assert_eq!(
        browser.get("/setup").await.location.as_deref(),
        Some("/signin")
    );
    assert_eq!(
        browser.form("/security/change", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_password_without_the_second_factor_is_only_the_second_step() {
    let h = harness();
    let secret = enroll_totp(&h, "ana").await;
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    assert_eq!(
        browser.get("/second-step").await.body,
        "second step for ana"
    );
    for path in ["/home", "/enroller", "/setup"] {
        let answer = browser.get(path).await;
        assert_eq!(
            answer.location.as_deref(),
            Some("/signin/second-step"),
            "{path}"
        );
    }
    // Not a factor change either, however fresh the password.
    assert_eq!(
        browser.form("/security/change", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A wrong code keeps the stage where it is.
    let now = h.clock.now().as_unix_seconds();
    let wrong = if code_at(&secret, now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let answer = browser.form("/second-step/code", &[("code", wrong)]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        browser.get("/home").await.location.as_deref(),
        Some("/signin/second-step")
    );
}

#[tokio::test]
async fn the_second_step_signs_in_under_a_new_session_id_each_stage() {
    let h = harness();
    let secret = enroll_totp(&h, "ana").await;
    let mut browser = Browser::new(&h);
    // An id planted before the password (session fixation).
    browser.form("/note", &[]).await;
    let planted = browser.clone();
    let answer = browser.password("ana").await;
    assert_eq!(answer.location.as_deref(), Some("/home"));
    let after_password = browser.clone();
    assert_ne!(after_password.cookie, planted.cookie);
    let code = code_at(&secret, h.clock.now().as_unix_seconds());
    let answer = browser
        .form("/second-step/code", &[("code", code.as_str())])
        .await;
    assert_eq!(answer.location.as_deref(), Some("/home"));
    assert_ne!(browser.cookie, after_password.cookie);
    assert_eq!(browser.get("/home").await.body, "home of ana");
    // Neither older id is signed in.
    for mut old in [planted, after_password] {
        assert_eq!(old.get("/home").await.location.as_deref(), Some("/signin"));
    }
}

#[tokio::test]
async fn without_a_factor_under_an_optional_policy_the_password_signs_in() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("bob").await;
    assert_eq!(browser.get("/home").await.body, "home of bob");
    assert_eq!(
        browser.get("/second-step").await.location.as_deref(),
        Some("/")
    );
    assert_eq!(
        browser.get("/enroller").await.body,
        "enroller bob forced=false"
    );
}

#[tokio::test]
async fn a_stage_is_gone_after_sign_out_even_from_a_copied_cookie() {
    let h = harness();
    enroll_totp(&h, "ana").await;
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    let copy = browser.clone();
    let answer = browser.form("/signout", &[]).await;
    assert_eq!(answer.location.as_deref(), Some("/signin"));
    assert_eq!(browser.cookie, None);
    let mut copy = copy;
    assert_eq!(
        copy.get("/second-step").await.location.as_deref(),
        Some("/signin")
    );
    assert_eq!(h.sessions.count(), 0);
}

#[tokio::test]
async fn the_next_user_of_the_browser_inherits_nothing() {
    let h = harness();
    enroll_totp(&h, "bob").await;
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    browser.form("/note", &[]).await;
    assert_eq!(browser.get("/note").await.body, "private to this user");
    // Bob enters his password in the same browser, without signing Ana out.
    browser.password("bob").await;
    assert_eq!(
        browser.get("/home").await.location.as_deref(),
        Some("/signin/second-step")
    );
    assert_eq!(
        browser.get("/second-step").await.body,
        "second step for bob"
    );
    assert_eq!(browser.get("/note").await.body, "");
}

#[tokio::test]
async fn the_forced_setup_is_setup_only() {
    let h = harness_with(Mode::Required);
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    assert_eq!(browser.get("/setup").await.body, "setup for ana");
    assert_eq!(
        browser.get("/home").await.location.as_deref(),
        Some("/signin/setup")
    );
    assert_eq!(
        browser.get("/second-step").await.location.as_deref(),
        Some("/signin/setup")
    );
    assert_eq!(
        browser.get("/enroller").await.body,
        "enroller ana forced=true"
    );
    // The sign-in's password counts as fresh for the setup.
    assert_eq!(browser.form("/security/change", &[]).await.body, "changed");
}

#[tokio::test]
async fn a_forced_setup_that_outlived_a_setup_elsewhere_adds_nothing() {
    let h = harness_with(Mode::Required);
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    // Ana sets up a factor in another browser meanwhile.
    enroll_totp(&h, "ana").await;
    let answer = browser.get("/enroller").await;
    assert_eq!(answer.location.as_deref(), Some("/signin"));
    // And the stale session is gone.
    assert_eq!(
        browser.get("/setup").await.location.as_deref(),
        Some("/signin")
    );
}

#[tokio::test]
async fn a_factor_change_needs_a_password_within_the_window() {
    let h = harness();
    let mut browser = Browser::new(&h);
    browser.password("bob").await;
    h.clock.advance(300);
    assert_eq!(browser.form("/security/change", &[]).await.body, "changed");
    h.clock.advance(1);
    let answer = browser.form("/security/change", &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    // A wrong re-entry changes nothing; a right one opens the window again.
    let wrong = browser
        .form("/reauth", &[("user", "bob"), ("password", "wrong")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        browser.form("/security/change", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let right = browser
        .form("/reauth", &[("user", "bob"), ("password", PASSWORD)])
        .await;
    assert_eq!(right.status, StatusCode::NO_CONTENT);
    assert_eq!(browser.form("/security/change", &[]).await.body, "changed");
}

#[tokio::test]
async fn the_window_is_configurable() {
    let h = harness();
    let twofold = twofold_axum::TwoFactorState::new(h.facade.clone())
        .with_clock(h.clock.clone())
        .with_fresh_password_seconds(60);
    let router = router(TestApp { twofold }, Sessions::default());
    let mut browser = Browser {
        router,
        cookie: None,
    };
    browser.password("bob").await;
    h.clock.advance(60);
    assert_eq!(browser.form("/security/change", &[]).await.body, "changed");
    h.clock.advance(1);
    assert_eq!(
        browser.form("/security/change", &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Required, with a week's grace: "skip for now" may be offered.
fn with_grace() -> Harness {
    let mut config = config(Mode::Required);
    config.default_policy.enforcement.grace_seconds = 7 * 86_400;
    harness_from(config)
}

#[tokio::test]
async fn skipping_the_setup_in_its_grace_period_signs_in() {
    let h = with_grace();
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    let skipped = browser.form("/skip", &[]).await;
    assert!(skipped.body.starts_with("MustEnroll"), "{}", skipped.body);
    assert_eq!(browser.get("/home").await.body, "home of ana");
}

/// A forced-setup session kept open while its user set up a factor elsewhere:
/// "skip for now" must ask for that factor, never sign in without it.
#[tokio::test]
async fn skipping_a_setup_that_outlived_a_setup_elsewhere_asks_for_the_factor() {
    let h = with_grace();
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    enroll_totp(&h, "ana").await;
    let skipped = browser.form("/skip", &[]).await;
    assert!(skipped.body.starts_with("Challenge"), "{}", skipped.body);
    assert_ne!(browser.get("/home").await.body, "home of ana");
    assert_eq!(
        browser.get("/second-step").await.body,
        "second step for ana"
    );
}

/// Without grace (or once it ended), skipping leaves the setup forced.
#[tokio::test]
async fn a_setup_without_grace_cannot_be_skipped() {
    let h = harness_with(Mode::Required);
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    let skipped = browser.form("/skip", &[]).await;
    assert!(skipped.body.starts_with("MustEnroll"), "{}", skipped.body);
    assert!(
        skipped.body.contains("can_defer: false"),
        "{}",
        skipped.body
    );
    assert_ne!(browser.get("/home").await.body, "home of ana");
    assert_eq!(browser.get("/setup").await.body, "setup for ana");
}

/// The layer admits a forced setup only while its user still has no factor.
#[tokio::test]
async fn the_layer_refuses_a_forced_setup_that_outlived_a_setup_elsewhere() {
    let h = harness_with(Mode::Required);
    let mut browser = Browser::new(&h);
    browser.password("ana").await;
    assert_eq!(browser.form("/security/change", &[]).await.body, "changed");
    enroll_totp(&h, "ana").await;
    let answer = browser.form("/security/change", &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}
