//! The security habits users copy from the example, checked over real HTTP:
//! cookie flags, CSRF on every form, session rotation at sign-in, permissions,
//! and bad input answered with a clear 4xx page, never a 500.

#![cfg(test)]

mod common;

use common::{client, code_at, csrf_of, enroll, enroll_with_codes, location, token};

use reqwest::{Client, Response, StatusCode};

fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("clinic_session="))
        .map(str::to_string)
}

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

#[tokio::test]
async fn cookies_are_http_only_same_site_and_secure_behind_tls() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let response = client()
        .get(format!("{}/signin", running.base))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain-http localhost: {cookie}");

    let tls = common::start_with(common::clock_at(common::aligned_now()), Some(())).await;
    assert!(tls.app.secure_cookies());
    let response = client()
        .get(format!("{}/signin", tls.base))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(cookie.contains("Secure"), "an https origin: {cookie}");
}

#[tokio::test]
async fn every_post_needs_the_session_csrf_token() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let (email, _, _, password) = twofold_clinic::SEED[0];
    let client = client();
    let csrf = token(&client, base, "/signin").await;
    for form in [
        vec![("email", email), ("password", password)],
        vec![("email", email), ("password", password), ("csrf", "")],
        vec![
            ("email", email),
            ("password", password),
            ("csrf", "0123456789abcdef"),
        ],
    ] {
        let response = client
            .post(format!("{base}/signin"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    // Another session's token does not work either.
    let other = token(&self::client(), base, "/signin").await;
    assert_ne!(other, csrf);
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", other.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The JSON endpoints take it in a header.
    assert_eq!(
        sign_in(&client, base, email, password).await,
        "/profile/security"
    );
    let response = client
        .post(format!("{base}/passkeys/register/begin"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let csrf = token(&client, base, "/profile/security").await;
    let response = client
        .post(format!("{base}/passkeys/register/begin"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let options: serde_json::Value = response.json().await.unwrap();
    assert_eq!(options["rp"]["id"], "localhost");
}

/// The longest password back-off.
fn throttle_max_wait() -> u64 {
    15 * 60
}

/// Whether `code` still signs `email` in, asked of the facade directly.
async fn backup_code_works(running: &common::Running, email: &str, code: &str) -> bool {
    let user = running.app.user_by_email(email).await.unwrap().unwrap();
    let account = twofold::Account {
        user: &user.id,
        organization: &user.clinic,
        role: &user.role,
        name: &user.email,
    };
    let tf = running.app.two_factor();
    let twofold::SignInStep::Challenge { challenge_id, .. } =
        tf.begin_sign_in(&account).await.unwrap().value
    else {
        panic!("{email} has 2FA on: a challenge was expected");
    };
    tf.verify_backup_code(&account, &challenge_id, code)
        .await
        .is_ok()
}

/// Every `<form>` in `page` that changes something: all POST, all with the
/// token (a GET form, such as the audit log's filter, only reads).
fn forms_in(page: &str) -> usize {
    let mut forms = 0;
    for form in page.split("<form").skip(1) {
        let form = &form[..form.find("</form>").unwrap()];
        if form.starts_with(r#" method="get""#) {
            assert!(
                !form.contains(r#"name="csrf""#),
                "a token in a GET form: {form}"
            );
            continue;
        }
        assert!(form.contains(r#"method="post""#), "{form}");
        assert!(
            form.contains(r#"name="csrf""#),
            "a form without a token: {form}"
        );
        forms += 1;
    }
    forms
}

#[tokio::test]
async fn every_form_on_every_page_carries_the_token() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let (email, _, _, password) = twofold_clinic::SEED[0];
    let client = client();
    assert_eq!(
        sign_in(&client, base, email, password).await,
        "/profile/security"
    );
    let csrf = token(&client, base, "/profile/security").await;
    // The setup page too (it is reached by a POST).
    let setup = client
        .post(format!("{base}/security/totp/begin"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(setup.headers()["cache-control"], "no-store");
    let mut pages = vec![setup.text().await.unwrap()];
    for path in [
        "/profile/security",
        "/settings/security",
        "/settings/staff",
        "/settings/audit",
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        pages.push(response.text().await.unwrap());
    }
    let forms: usize = pages.iter().map(|page| forms_in(page)).sum();
    assert!(forms >= 8, "only {forms} forms seen");

    // With factors set up, the conditional forms appear: the second step, the
    // backup-code and disable forms, the staff resets, and the forced setup.
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [owner, _, sam, sara] = twofold_clinic::SEED;
    let owner_secret = enroll(&running, owner.0).await;
    enroll(&running, sam.0).await;
    clock.advance(30);
    let client = self::client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/signin/second-step"
    );
    let second_step = client
        .get(format!("{base}/signin/second-step"))
        .send()
        .await
        .unwrap();
    let second_step = second_step.text().await.unwrap();
    assert!(second_step.contains("totp-code") && second_step.contains("backup-code"));
    let mut forms = forms_in(&second_step);
    let csrf = csrf_of(&second_step);
    let code = code_at(&owner_secret, common::seconds(&clock));
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    for path in ["/profile/security", "/settings/security", "/settings/staff"] {
        let page = client.get(format!("{base}{path}")).send().await.unwrap();
        let page = page.text().await.unwrap();
        if path == "/settings/staff" {
            assert!(page.contains("disable-user-2fa"), "{page}");
        } else {
            assert!(page.contains("regenerate-codes") && page.contains("disable-2fa"));
        }
        forms += forms_in(&page);
    }
    let csrf = token(&client, base, "/settings/security").await;
    let response = client
        .post(format!("{base}/settings/security/enforcement"))
        .form(&[("mode", "Required"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/settings/security");
    let staff = self::client();
    assert_eq!(sign_in(&staff, base, sara.0, sara.3).await, "/signin/setup");
    let setup = staff
        .get(format!("{base}/signin/setup"))
        .send()
        .await
        .unwrap();
    let setup = setup.text().await.unwrap();
    // The guide's words: "clinic", one full stop.
    assert!(
        setup.contains("2FA required: Your clinic requires two-factor authentication")
            && !setup.contains("organization")
            && !setup.contains(".."),
        "{setup}"
    );
    forms += forms_in(&setup);
    assert!(forms >= 16, "only {forms} forms seen");
    // The audit log in words an owner reads, not raw event names.
    let audit = client
        .get(format!("{base}/settings/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains(r#"data-event="enforcement_changed""#)
            && audit.contains("<td>2FA enforcement changed</td>")
            && !audit.contains("<td>enforcement_changed</td>"),
        "{audit}"
    );
}

#[tokio::test]
async fn half_signed_in_sessions_reach_nothing_else() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [owner, _, sam, sara] = twofold_clinic::SEED;
    enroll(&running, owner.0).await;
    enroll(&running, sam.0).await;
    // Required, so that Sara (no factor) is sent to setup.
    let owner_user = running.app.user_by_email(owner.0).await.unwrap().unwrap();
    running
        .app
        .two_factor()
        .change_enforcement(
            &twofold::Account {
                user: &owner_user.id,
                organization: &owner_user.clinic,
                role: &owner_user.role,
                name: &owner_user.email,
            },
            twofold::Mode::Required,
            Some(twofold::Timestamp::from_unix_seconds(running.app.now())),
        )
        .await
        .unwrap();
    let second_step = client();
    assert_eq!(
        sign_in(&second_step, base, sam.0, sam.3).await,
        "/signin/second-step"
    );
    let must_enroll = client();
    assert_eq!(
        sign_in(&must_enroll, base, sara.0, sara.3).await,
        "/signin/setup"
    );
    // Each is sent back to its own stage (twofold-axum's rejections).
    for (client, home) in [
        (&second_step, "/signin/second-step"),
        (&must_enroll, "/signin/setup"),
    ] {
        for path in [
            "/profile/security",
            "/settings/security",
            "/settings/staff",
            "/settings/audit",
            "/security/backup-codes",
        ] {
            let response = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(location(&response), home, "{path}");
        }
        let csrf = token(client, base, "/signin").await;
        for (path, form) in [
            ("/security/disable", vec![("password", sam.3)]),
            (
                "/security/backup-codes/regenerate",
                vec![("password", sam.3)],
            ),
            ("/settings/security/enforcement", vec![("mode", "Off")]),
            (
                "/settings/staff/disable",
                vec![("user", owner_user.id.as_str()), ("reason", "x")],
            ),
            ("/security/passkeys/remove", vec![("id", "AAAA")]),
        ] {
            let mut form = form.clone();
            form.push(("csrf", csrf.as_str()));
            let response = client
                .post(format!("{base}{path}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(location(&response), home, "{path}");
        }
    }
    // The second-step session cannot start a setup either.
    let csrf = token(&second_step, base, "/signin").await;
    let response = second_step
        .post(format!("{base}/security/totp/begin"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin/second-step");
    let log = running.app.audit_log(twofold_clinic::CLINIC).await.unwrap();
    assert!(log.iter().all(|e| !matches!(
        e.event.as_str(),
        "two_factor_disabled" | "backup_codes_regenerated" | "admin_reset"
    )));
    assert_eq!(
        running
            .app
            .two_factor()
            .policy(twofold_clinic::CLINIC)
            .await
            .unwrap()
            .document()
            .enforcement
            .mode,
        twofold::Mode::Required
    );

    // A forced-setup session that outlives the user's own setup (done in
    // another session) may not add a second factor: it must sign in again.
    let csrf = token(&must_enroll, base, "/signin").await;
    enroll(&running, sara.0).await;
    let response = must_enroll
        .post(format!("{base}/security/totp/begin"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    let response = must_enroll
        .get(format!("{base}/signin/setup"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    let response = must_enroll.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(location(&response), "/signin");
}

#[tokio::test]
async fn changing_factors_with_2fa_on_needs_a_fresh_password() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let secret = enroll(&running, owner.0).await;
    clock.advance(30);
    let client = client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/signin/second-step"
    );
    let csrf = token(&client, base, "/signin/second-step").await;
    let code = code_at(&secret, common::seconds(&clock));
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    let csrf = token(&client, base, "/profile/security").await;
    let begin = async |password: &str| {
        client
            .post(format!("{base}/security/totp/begin"))
            .form(&[("password", password), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap()
    };
    let passkey = async || {
        client
            .post(format!("{base}/passkeys/register/begin"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .status()
    };
    // Just signed in: fresh.
    assert_eq!(begin("").await.status(), StatusCode::OK);
    // Six minutes later: the password is needed, and must be right.
    clock.advance(360);
    assert_eq!(location(&begin("").await), "/profile/security");
    assert_eq!(location(&begin("wrong").await), "/profile/security");
    assert_eq!(passkey().await, StatusCode::FORBIDDEN);
    assert_eq!(begin(owner.3).await.status(), StatusCode::OK);
    // … which counts as fresh for the next five minutes.
    assert_eq!(passkey().await, StatusCode::OK);
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_is_worthless() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let (email, _, _, password) = twofold_clinic::SEED[0];
    let client = client();
    let page = client.get(format!("{base}/signin")).send().await.unwrap();
    let before = session_cookie(&page).unwrap();
    let before_value = before.split(';').next().unwrap().to_string();
    let csrf = csrf_of(&page.text().await.unwrap());
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    let after = session_cookie(&response).expect("a new session cookie at sign-in");
    assert_ne!(after.split(';').next().unwrap(), before_value);
    // The pre-sign-in id grants nothing.
    let stale = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = stale
        .get(format!("{base}/profile/security"))
        .header("cookie", &before_value)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin");
    // The new one does.
    let response = client
        .get(format!("{base}/profile/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_accounts_look_the_same() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let client = client();
    for (email, password) in [
        ("olivia@smile.example", "wrong"),
        ("nobody@smile.example", "owner-demo-pass"),
    ] {
        let csrf = token(&client, base, "/signin").await;
        let response = client
            .post(format!("{base}/signin"))
            .form(&[("email", email), ("password", password), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Wrong email or password.")
        );
    }
}

#[tokio::test]
async fn pages_need_the_right_stage_and_role() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let client = client();
    // Nothing past the password without it.
    for path in [
        "/signin/second-step",
        "/profile/security",
        "/settings/security",
        "/settings/staff",
        "/settings/audit",
        "/security/backup-codes",
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(location(&response), "/signin", "{path}");
    }
    // Staff may neither change enforcement nor reset anyone, even by posting directly.
    let (email, _, _, password) = twofold_clinic::SEED[2];
    assert_eq!(
        sign_in(&client, base, email, password).await,
        "/profile/security"
    );
    let csrf = token(&client, base, "/settings/security").await;
    let page = client
        .get(format!("{base}/settings/security"))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("enforcement-readonly"));
    assert!(!page.contains("enforcement-mode"));
    let response = client
        .post(format!("{base}/settings/security/enforcement"))
        .form(&[("mode", "Required"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/settings/security");
    let page = client
        .get(format!("{base}/settings/security"))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("notice-error"), "{page}");
    assert!(page.contains(r#"<strong id="enforcement-value">Optional</strong>"#));
    let owner = running
        .app
        .user_by_email(twofold_clinic::SEED[0].0)
        .await
        .unwrap()
        .unwrap();
    let response = client
        .post(format!("{base}/settings/staff/disable"))
        .form(&[
            ("user", owner.id.as_str()),
            ("reason", "x"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    // Staff cannot reach the staff actions at all.
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        running
            .app
            .audit_log(twofold_clinic::CLINIC)
            .await
            .unwrap()
            .iter()
            .all(|e| e.event != "admin_reset")
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_not_a_server_error() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let client = client();
    let (email, _, _, password) = twofold_clinic::SEED[0];
    assert_eq!(
        sign_in(&client, base, email, password).await,
        "/profile/security"
    );
    let csrf = token(&client, base, "/profile/security").await;
    let csrf = csrf.as_str();
    let long = "9".repeat(10_000);
    let huge = "x".repeat(100_000);
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/security/totp/confirm",
            vec![("code", "abc"), ("csrf", csrf)],
        ),
        (
            "/security/totp/confirm",
            vec![("code", long.as_str()), ("csrf", csrf)],
        ),
        ("/security/totp/confirm", vec![("csrf", csrf)]),
        (
            "/security/passkeys/remove",
            vec![("id", "!!not base64!!"), ("csrf", csrf)],
        ),
        (
            "/security/passkeys/remove",
            vec![("id", "AAAA"), ("csrf", csrf)],
        ),
        (
            "/settings/security/enforcement",
            vec![("mode", "Sometimes"), ("csrf", csrf)],
        ),
        (
            "/settings/staff/disable",
            vec![("user", "nobody"), ("reason", "x"), ("csrf", csrf)],
        ),
        (
            "/security/disable",
            vec![("password", "wrong"), ("csrf", csrf)],
        ),
        (
            "/security/backup-codes/regenerate",
            vec![("password", "wrong"), ("csrf", csrf)],
        ),
        (
            "/signin",
            vec![("email", huge.as_str()), ("password", "x"), ("csrf", csrf)],
        ),
    ];
    for (path, form) in &forms {
        let response = client
            .post(format!("{base}{path}"))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_client_error() || status.is_redirection() || status == StatusCode::OK,
            "{path}: {status}"
        );
    }
    for body in [
        "not json",
        "{}",
        r#"{"credential": 5}"#,
        r#"{"credential": {"id": "x"}}"#,
    ] {
        let response = client
            .post(format!("{base}/passkeys/register/finish"))
            .header("x-csrf-token", csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{body}: {}",
            response.status()
        );
    }
    // Still signed in, nothing changed.
    let page = client
        .get(format!("{base}/settings/security"))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("Two-factor authentication: <strong>Off</strong>"));
    assert!(page.contains(r#"<option value="Optional" selected>"#));
}

#[tokio::test]
async fn wrong_passwords_never_regenerate_codes_or_disable_2fa() {
    // For a user with 2FA on, so that a bypass would change something.
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let staff = twofold_clinic::SEED[2];
    let (secret, codes) = enroll_with_codes(&running, staff.0).await;
    clock.advance(30);
    let client = client();
    assert_eq!(
        sign_in(&client, base, staff.0, staff.3).await,
        "/signin/second-step"
    );
    let csrf = token(&client, base, "/signin/second-step").await;
    let code = code_at(&secret, common::seconds(&clock));
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    let csrf = token(&client, base, "/profile/security").await;
    let post = async |path: &str, password: &str| {
        client
            .post(format!("{base}{path}"))
            .form(&[("password", password), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap()
    };
    // Right after sign-in, and again when the sign-in is no longer fresh.
    for wait in [0, 360] {
        clock.advance(wait);
        for password in ["wrong", "", &staff.3.to_uppercase()] {
            let regenerate = post("/security/backup-codes/regenerate", password).await;
            assert_eq!(location(&regenerate), "/profile/security", "{password:?}");
            let disable = post("/security/disable", password).await;
            assert_eq!(location(&disable), "/settings/security", "{password:?}");
        }
        let page = client
            .get(format!("{base}/settings/security"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Wrong, and after five wrong entries, throttled.
        assert!(
            page.contains("That password is not correct")
                || page.contains("Too many wrong passwords"),
            "{page}"
        );
        let user = running.app.user_by_email(staff.0).await.unwrap().unwrap();
        let status = running
            .app
            .two_factor()
            .status(&twofold::Account {
                user: &user.id,
                organization: &user.clinic,
                role: &user.role,
                name: &user.email,
            })
            .await
            .unwrap();
        assert!(
            status.enabled && status.totp,
            "2FA was turned off: {status:?}"
        );
    }
    // The old codes still work: they were never regenerated…
    assert!(backup_code_works(&running, staff.0, &codes[0]).await);
    // (twelve wrong entries started a back-off: wait it out.)
    clock.advance(throttle_max_wait());
    // …and the right password does regenerate them, so the check above can fail.
    let regenerate = post("/security/backup-codes/regenerate", staff.3).await;
    assert_eq!(location(&regenerate), "/security/backup-codes");
    assert!(!backup_code_works(&running, staff.0, &codes[1]).await);
}

/// Settings → Staff shows a back-off as a wait and a lockout as the time it
/// ends (it once showed "Locked until 1970-01-01 00:05:00 UTC" for a 5-minute
/// back-off, formatting seconds to wait as a date).
#[tokio::test]
async fn the_staff_page_shows_the_right_lock() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let (owner, staff) = (twofold_clinic::SEED[0], twofold_clinic::SEED[2]);
    let (secret, _) = enroll_with_codes(&running, staff.0).await;
    let sam = running.app.user_by_email(staff.0).await.unwrap().unwrap();
    let sam_account = twofold::Account {
        user: &sam.id,
        organization: &sam.clinic,
        role: &sam.role,
        name: &sam.email,
    };
    let tf = running.app.two_factor();
    let fail_once = async |gap: u64| {
        clock.advance(gap);
        let twofold::SignInStep::Challenge { challenge_id, .. } =
            tf.begin_sign_in(&sam_account).await.unwrap().value
        else {
            panic!("expected a challenge")
        };
        let now = running.app.now();
        let window: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| code_at(&secret, *t))
            .collect();
        let wrong = ["123456", "654321", "111111", "222222"]
            .into_iter()
            .find(|candidate| !window.iter().any(|code| code == candidate))
            .unwrap();
        tf.verify_totp(&sam_account, &challenge_id, wrong)
            .await
            .unwrap_err()
    };
    let owner_client = client();
    assert_eq!(
        sign_in(&owner_client, base, owner.0, owner.3).await,
        "/profile/security"
    );
    let staff_page = || async {
        owner_client
            .get(format!("{base}/settings/staff"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // Four wrong codes start a 30-second wait.
    for _ in 0..4 {
        fail_once(1).await;
    }
    let page = staff_page().await;
    assert!(
        page.contains("next try in 30 seconds") && !page.contains("1970"),
        "a back-off shown as: {}",
        page.lines()
            .find(|l| l.contains("Sam") || l.contains("sam@"))
            .unwrap_or("")
    );
    // Ten in all (spaced past each wait) lock Sam for an hour: shown as the end.
    for _ in 4..10 {
        fail_once(1000).await;
    }
    // (The owner's session idled out meanwhile: sign in again.)
    assert_eq!(
        sign_in(&owner_client, base, owner.0, owner.3).await,
        "/profile/security"
    );
    let until = twofold::Timestamp::from_unix_seconds(running.app.now() + 3600)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC");
    let page = staff_page().await;
    assert!(
        page.contains(&format!("Locked until {until}")),
        "a lockout to {until} shown as: {}",
        page.lines()
            .find(|l| l.contains("Locked"))
            .unwrap_or("no lock")
    );
}

#[tokio::test]
async fn an_owner_unlocks_a_locked_staff_member_who_keeps_their_factors() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let (owner, staff) = (twofold_clinic::SEED[0], twofold_clinic::SEED[2]);
    let (secret, _) = enroll_with_codes(&running, staff.0).await;
    // Ten wrong codes lock Sam for an hour.
    let sam = running.app.user_by_email(staff.0).await.unwrap().unwrap();
    let sam_account = twofold::Account {
        user: &sam.id,
        organization: &sam.clinic,
        role: &sam.role,
        name: &sam.email,
    };
    let tf = running.app.two_factor();
    for _ in 0..10 {
        clock.advance(1000);
        let twofold::SignInStep::Challenge { challenge_id, .. } =
            tf.begin_sign_in(&sam_account).await.unwrap().value
        else {
            panic!("expected a challenge")
        };
        let now = running.app.now();
        let window: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| code_at(&secret, *t))
            .collect();
        let wrong = ["123456", "654321", "111111", "222222"]
            .into_iter()
            .find(|candidate| !window.iter().any(|code| code == candidate))
            .unwrap();
        tf.verify_totp(&sam_account, &challenge_id, wrong)
            .await
            .unwrap_err();
    }
    assert!(tf.status(&sam_account).await.unwrap().locked.is_some());
    let client = client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/profile/security"
    );
    let csrf = token(&client, base, "/settings/staff").await;
    let page = client
        .get(format!("{base}/settings/staff"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("staff-unlock"), "no Unlock for a locked user");
    let response = client
        .post(format!("{base}/settings/staff/unlock"))
        .form(&[
            ("user", sam.id.as_str()),
            ("reason", "locked out by a typo spree"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/settings/staff");
    let status = tf.status(&sam_account).await.unwrap();
    assert_eq!(status.locked, None);
    assert!(status.enabled && status.totp, "unlocking kept the factors");
}

/// The guide's troubleshooting row "6-digit code rejected: time skew on phone":
/// a code from a phone 4 minutes ahead is not accepted, the page says how far
/// off the phone is and to enter the next code, and the next code signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_with_a_skewed_clock_is_told_so_and_its_next_code_signs_in() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [owner, ..] = twofold_clinic::SEED;
    let secret = enroll(&running, owner.0).await;
    clock.advance(30);
    let client = self::client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/signin/second-step"
    );
    let phone = |clock: &common::TestClock| common::seconds(clock) + 240;
    let csrf = token(&client, base, "/signin/second-step").await;
    let code = code_at(&secret, phone(&clock));
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/signin/second-step");
    let page = client
        .get(format!("{base}/signin/second-step"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("clock, which is about 4 minutes ahead"),
        "{page}"
    );
    assert!(page.contains("enter it: that brings the app back in step"));

    clock.advance(30);
    let csrf = csrf_of(&page);
    let code = code_at(&secret, phone(&clock));
    let response = client
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
}

/// A Google Authenticator export (`otpauth-migration://offline?data=…`) of
/// `entries`, each (secret, name, issuer, TOTP?): the protobuf written by hand
/// from the documented schema, so the test shares no code with the reader.
fn migration_link(entries: &[(&[u8], &str, &str, bool)]) -> String {
    use base64::Engine;
    fn varint(mut n: u64, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    fn bytes(tag: u64, value: &[u8], out: &mut Vec<u8>) {
        varint(tag << 3 | 2, out);
        varint(value.len() as u64, out);
        out.extend_from_slice(value);
    }
    fn number(tag: u64, value: u64, out: &mut Vec<u8>) {
        varint(tag << 3, out);
        varint(value, out);
    }
    let mut payload = Vec::new();
    for (secret, name, issuer, totp) in entries {
        let mut entry = Vec::new();
        bytes(1, secret, &mut entry);
        bytes(2, name.as_bytes(), &mut entry);
        bytes(3, issuer.as_bytes(), &mut entry);
        number(4, 1, &mut entry); // SHA1
        number(5, 1, &mut entry); // six digits
        number(6, if *totp { 2 } else { 1 }, &mut entry);
        bytes(1, &entry, &mut payload);
    }
    number(2, 1, &mut payload); // version
    let data = base64::engine::general_purpose::STANDARD.encode(payload);
    let data = data
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("otpauth-migration://offline?data={data}")
}

/// "Move an authenticator from another system": a Google Authenticator
/// export with two entries lists both (the HOTP one cannot move), the chosen
/// one becomes the authenticator app, and its codes sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticator_moves_in_from_a_google_authenticator_export() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [owner, ..] = twofold_clinic::SEED;
    let secret: &[u8] = b"0123456789abcdefghij";
    let link = migration_link(&[
        (secret, "Smile Dental:owner", "Smile Dental", true),
        (b"counter-based-secret", "vpn", "Old VPN", false),
    ]);
    let client = self::client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/profile/security"
    );
    let panel = client
        .get(format!("{base}/profile/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(panel.contains("totp-import"));
    let csrf = csrf_of(&panel);

    // A bad link is a clear error, and changes nothing.
    let response = client
        .post(format!("{base}/security/totp/import"))
        .form(&[
            ("export", "otpauth-migration://offline?data=%%%"),
            ("password", owner.3),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");

    let response = client
        .post(format!("{base}/security/totp/import"))
        .form(&[
            ("export", link.as_str()),
            ("password", owner.3),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let list = response.text().await.unwrap();
    assert_eq!(list.matches("class=\"import-entry\"").count(), 2, "{list}");
    assert!(list.contains("HOTP"), "{list}");
    assert_eq!(list.matches("import-entry-button").count(), 1);
    // The page repeats only the chosen entry's own URI, never the export.
    assert!(!list.contains("otpauth-migration"), "{list}");
    let chosen = list
        .split("name=\"export\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        chosen.starts_with("otpauth://totp/Smile%20Dental:"),
        "{chosen}"
    );

    // The chosen entry, with the password entered a moment ago.
    let csrf = csrf_of(&list);
    let response = client
        .post(format!("{base}/security/totp/import"))
        .form(&[("export", chosen.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/security/backup-codes");

    // Its codes now sign in (after the step of the move and the one the
    // window looks ahead to, which are spent).
    clock.advance(60);
    let again = self::client();
    assert_eq!(
        sign_in(&again, base, owner.0, owner.3).await,
        "/signin/second-step"
    );
    let csrf = token(&again, base, "/signin/second-step").await;
    let base32 = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret);
    let code = code_at(&base32, common::seconds(&clock));
    let response = again
        .post(format!("{base}/signin/second-step/code"))
        .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
}

/// Security notifications: a change is emailed once (with the notification's
/// id as its Message-ID), and listed under "Security activity" on My
/// Profile; the factor it removed stays in the history, with who removed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_notifications_are_emailed_once_and_listed_on_my_profile() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let (owner, staff) = (twofold_clinic::SEED[0], twofold_clinic::SEED[2]);
    enroll(&running, staff.0).await;
    let sam = running.app.user_by_email(staff.0).await.unwrap().unwrap();
    // The owner resets Sam's 2FA on the Staff page.
    let client = client();
    sign_in(&client, base, owner.0, owner.3).await;
    let csrf = token(&client, base, "/settings/staff").await;
    let response = client
        .post(format!("{base}/settings/staff/disable"))
        .form(&[
            ("user", sam.id.as_str()),
            ("reason", "lost phone"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/settings/staff");
    let staff_page = client
        .get(format!("{base}/settings/staff"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(staff_page.contains("by Olivia Owner"), "{staff_page}");

    // Delivered: one email each, to Sam, with the notification's id.
    // (The app's own worker may have sent them already: one round either way.)
    running.app.deliver_notifications().await.unwrap();
    let sams: Vec<String> = common::mails(&running)
        .into_iter()
        .filter(|mail| mail.contains("To: \"Sam Staff\" <sam@smile.example>"))
        .collect();
    assert_eq!(sams.len(), 2, "{sams:?}");
    assert!(
        sams.iter()
            .any(|m| m.contains("Subject: A sign-in method was added to your account"))
    );
    let reset = sams
        .iter()
        .find(|m| m.contains("Olivia Owner reset your two-factor authentication."))
        .expect("the reset was emailed");
    let activity = running
        .app
        .two_factor()
        .security_activity(&twofold::Account {
            user: &sam.id,
            organization: &sam.clinic,
            role: &sam.role,
            name: &sam.email,
        })
        .await
        .unwrap();
    assert!(reset.contains(&format!(
        "Message-ID: <{}@notifications.smile.example>",
        activity[0].id
    )));
    // Another round sends nothing again.
    clock.advance(3600);
    assert_eq!(running.app.deliver_notifications().await.unwrap().sent, 0);
    assert_eq!(common::mails(&running).len(), 2, "Sam's two, once each");

    // Sam sees both on My Profile, and the app in the history.
    let sam_client = common::client();
    sign_in(&sam_client, base, staff.0, staff.3).await;
    let page = sam_client
        .get(format!("{base}/profile/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"security-activity\""));
    assert!(page.contains("Olivia Owner reset your two-factor authentication. <small class=\"muted notice-state\">(emailed)</small>"), "{page}");
    assert!(page.contains("An authenticator app was added to your account."));
    assert!(page.contains("<td class=\"factor-kind\">Authenticator app</td>"));
    assert!(page.contains("by Olivia Owner</td>"));
}

/// "Remind me later": where the clinic's policy reminds people without a
/// second factor, sign-in lands on My Profile with the offer to set one up or
/// be reminded later; choosing later quiets it for the policy's days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_to_set_up_2fa_can_be_put_off() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sara = twofold_clinic::SEED[3];
    let tf = running.app.two_factor();
    let mut policy = tf
        .policy(twofold_clinic::CLINIC)
        .await
        .unwrap()
        .document()
        .clone();
    policy.reminders.skip_days = 30;
    tf.set_policy(twofold_clinic::CLINIC, policy).await.unwrap();

    let client = client();
    assert_eq!(
        sign_in(&client, base, sara.0, sara.3).await,
        "/profile/security?remind=1"
    );
    let csrf = token(&client, base, "/profile/security?remind=1").await;
    let page = client
        .get(format!("{base}/profile/security?remind=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"remind-later\""), "{page}");
    let response = client
        .post(format!("{base}/security/remind-later"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    let page = client
        .get(format!("{base}/profile/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("We will remind you again after"), "{page}");
    // Quiet for 30 days, then reminded again.
    let again = client_signed_in_location(base, sara).await;
    assert_eq!(again, "/profile/security");
    clock.advance(30 * 86_400);
    let again = client_signed_in_location(base, sara).await;
    assert_eq!(again, "/profile/security?remind=1");
}

/// Where a fresh client's password sign-in lands.
async fn client_signed_in_location(base: &str, who: (&str, &str, &str, &str)) -> String {
    sign_in(&common::client(), base, who.0, who.3).await
}

/// The check-up: 28 days after enrolment, My Profile asks whether the backup
/// codes are saved, shows how many remain, and stops asking once confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_up_asks_once_28_days_after_enrolment() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let sam = twofold_clinic::SEED[2];
    let secret = enroll(&running, sam.0).await;
    let signed_in_page = async |client: &Client| {
        assert_eq!(
            sign_in(client, base, sam.0, sam.3).await,
            "/signin/second-step"
        );
        let csrf = token(client, base, "/signin/second-step").await;
        let code = code_at(&secret, running.app.now());
        let response = client
            .post(format!("{base}/signin/second-step/code"))
            .form(&[("code", code.as_str()), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&response), "/profile/security");
        client
            .get(format!("{base}/profile/security"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    clock.advance(27 * 86_400);
    let page = signed_in_page(&client()).await;
    assert!(!page.contains("id=\"checkup\""), "too early");
    clock.advance(86_400);
    let client = client();
    let page = signed_in_page(&client).await;
    assert!(page.contains("id=\"checkup\""), "{page}");
    assert!(page.contains("10 unused backup codes."), "{page}");
    let csrf = csrf_of(&page);
    let response = client
        .post(format!("{base}/security/checkup"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    clock.advance(60);
    let page = signed_in_page(&common::client()).await;
    assert!(!page.contains("id=\"checkup\""), "asked once");
}

/// A passkey answer as `credential.toJSON()` shapes it, naming credential
/// `id` (base64url); nothing in it verifies.
fn unsigned_answer(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "rawId": id,
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA"
        },
        "clientExtensionResults": {}
    })
}

#[tokio::test]
async fn passkey_first_sign_in_is_offered_and_an_unknown_passkey_gets_its_signal() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let client = client();
    // The sign-in page: conditional UI on the email field, and the button.
    let page = client
        .get(format!("{base}/signin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"autocomplete="username webauthn""#),
        "{page}"
    );
    assert!(page.contains(r#"id="signin-passkey""#), "{page}");
    let csrf = csrf_of(&page);
    let begin = async |csrf: &str| {
        client
            .post(format!("{base}/signin/passkey/begin"))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
    };
    // Like every POST: the session's CSRF token, or nothing.
    assert_eq!(begin("").await.status(), StatusCode::FORBIDDEN);
    let begun = begin(&csrf).await;
    assert_eq!(begun.status(), StatusCode::OK);
    let begun: serde_json::Value = begun.json().await.unwrap();
    let ceremony = begun["ceremony"].as_str().unwrap().to_string();
    // Username-less: no credential is named, and user verification is required.
    assert!(
        begun["options"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{begun}"
    );
    assert_eq!(begun["options"]["userVerification"], "required");
    // An answer with a passkey nobody registered: refused, with the signal
    // that only repeats the id the browser sent.
    let finish = async |ceremony: &str, id: &str| {
        client
            .post(format!("{base}/signin/passkey/finish"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "ceremony": ceremony, "credential": unsigned_answer(id) }))
            .send()
            .await
            .unwrap()
    };
    let refused = finish(&ceremony, "bm90LXJlZ2lzdGVyZWQ").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        refused["signals"],
        serde_json::json!([{
            "method": "signalUnknownCredential",
            "options": { "rpId": "localhost", "credentialId": "bm90LXJlZ2lzdGVyZWQ" }
        }]),
        "{refused}"
    );
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("not registered"),
        "{refused}"
    );
    // The ceremony was used: the same answer again finds none, and says nothing of passkeys.
    let again = finish(&ceremony, "bm90LXJlZ2lzdGVyZWQ").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["signals"], serde_json::json!([]), "{again}");
    // Nobody is signed in.
    let home = client
        .get(format!("{base}/profile/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&home), "/signin");
}
