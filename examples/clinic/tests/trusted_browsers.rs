//! "Don't ask again on this browser" over real HTTP: the cookie and its
//! flags, signing in again without a code (with the token replaced), the
//! next user of a shared browser, forgetting browsers, a factor change, and
//! the owner's per-role setting.

#![cfg(test)]

mod common;

use common::{TestClock, client, code_at, location, token};
use reqwest::{Client, Response};

/// Signs in with the password; returns where the app sent the browser.
async fn sign_in(client: &Client, base: &str, who: (&str, &str, &str, &str)) -> Response {
    let csrf = token(client, base, "/signin").await;
    client
        .post(format!("{base}/signin"))
        .form(&[("email", who.0), ("password", who.3), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

/// Answers the second step with the code of `secret` now, ticking "trust".
async fn enter_code(
    client: &Client,
    base: &str,
    secret: &str,
    clock: &TestClock,
    trust: bool,
) -> Response {
    let csrf = token(client, base, "/signin/second-step").await;
    let code = code_at(secret, common::seconds(clock));
    let mut form = vec![("code", code.as_str()), ("csrf", csrf.as_str())];
    if trust {
        form.push(("trust", "on"));
    }
    client
        .post(format!("{base}/signin/second-step/code"))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
        )
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The trusted-browser cookie a response sets, if any.
fn trust_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("clinic_trusted="))
        .map(str::to_string)
}

fn value_of(cookie: &str) -> &str {
    cookie
        .trim_start_matches("clinic_trusted=")
        .split(';')
        .next()
        .unwrap()
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

async fn sign_out(client: &Client, base: &str) {
    let csrf = token(client, base, "/profile/security").await;
    client
        .post(format!("{base}/signout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_trusted_browser_signs_in_without_a_code_and_gets_a_new_token() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let secret = common::enroll(&running, owner.0).await;
    clock.advance(30);
    let browser = client();

    assert_eq!(
        location(&sign_in(&browser, base, owner).await),
        "/signin/second-step"
    );
    let second_step = page(&browser, base, "/signin/second-step").await;
    assert!(
        second_step.contains("Don't ask again on this browser for 30 days"),
        "{second_step}"
    );
    let answered = enter_code(&browser, base, &secret, &clock, true).await;
    assert_eq!(location(&answered), "/profile/security");
    let cookie = trust_cookie(&answered).expect("the trusted-browser cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        cookie.contains(&format!("Max-Age={}", 30 * 86_400)),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain-http localhost: {cookie}");
    let first = value_of(&cookie).to_string();
    assert_eq!(first.len(), 43);
    let security = page(&browser, base, "/profile/security").await;
    assert!(security.contains("trusted-browser-list"), "{security}");
    assert!(security.contains("Chrome on Linux"));
    assert!(!security.contains(&first), "the page never shows the token");

    sign_out(&browser, base).await;
    clock.advance(30);
    let again = sign_in(&browser, base, owner).await;
    assert_eq!(location(&again), "/profile/security", "no code asked");
    let renewed = trust_cookie(&again).expect("a replaced token");
    assert_ne!(value_of(&renewed), first);
    let security = page(&browser, base, "/profile/security").await;
    assert!(security.contains("no code was needed"), "{security}");

    // The old token, replayed from another browser, is refused.
    let copy = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = copy.get(format!("{base}/signin")).send().await.unwrap();
    let session = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("clinic_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap();
    let csrf = common::csrf_of(&opened.text().await.unwrap());
    let replay = copy
        .post(format!("{base}/signin"))
        .header("cookie", format!("{session}; clinic_trusted={first}"))
        .form(&[("email", owner.0), ("password", owner.3), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&replay), "/signin/second-step");
}

#[tokio::test]
async fn the_next_user_of_a_shared_browser_is_asked_and_sees_nothing_of_the_first() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let staff = twofold_clinic::SEED[2];
    let owner_secret = common::enroll(&running, owner.0).await;
    common::enroll(&running, staff.0).await;
    clock.advance(30);
    let shared = client();
    sign_in(&shared, base, owner).await;
    let answered = enter_code(&shared, base, &owner_secret, &clock, true).await;
    assert!(trust_cookie(&answered).is_some());
    sign_out(&shared, base).await;

    // The next user, same browser, same cookie jar.
    let next = sign_in(&shared, base, staff).await;
    assert_eq!(location(&next), "/signin/second-step");
    assert!(
        trust_cookie(&next).is_none(),
        "the first user's cookie is kept"
    );
    let second_step = page(&shared, base, "/signin/second-step").await;
    assert!(!second_step.contains("Chrome on Linux"));
    // Olivia still signs in without a code on it.
    forget_stage(&shared, base).await;
    assert_eq!(
        location(&sign_in(&shared, base, owner).await),
        "/profile/security"
    );
}

/// Leaves a second step unanswered (the "Cancel" button).
async fn forget_stage(client: &Client, base: &str) {
    let csrf = token(client, base, "/signin/second-step").await;
    client
        .post(format!("{base}/signout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn forgetting_browsers_and_changing_a_factor_bring_the_code_back() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let secret = common::enroll(&running, owner.0).await;
    clock.advance(30);
    let browser = client();

    // Forget this one browser, from its row.
    sign_in(&browser, base, owner).await;
    enter_code(&browser, base, &secret, &clock, true).await;
    let security = page(&browser, base, "/profile/security").await;
    let marker = r#"name="id" value=""#;
    let at = security.find(marker).expect("a forget form") + marker.len();
    let id = &security[at..][..security[at..].find('"').unwrap()];
    let csrf = common::csrf_of(&security);
    let response = browser
        .post(format!("{base}/security/trusted-browsers/forget"))
        .form(&[("id", id), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/profile/security");
    let security = page(&browser, base, "/profile/security").await;
    assert!(security.contains("no-trusted-browsers"), "{security}");
    sign_out(&browser, base).await;
    clock.advance(30);
    assert_eq!(
        location(&sign_in(&browser, base, owner).await),
        "/signin/second-step"
    );

    // Forget all: the cookie goes too.
    enter_code(&browser, base, &secret, &clock, true).await;
    let csrf = token(&browser, base, "/profile/security").await;
    let response = browser
        .post(format!("{base}/security/trusted-browsers/forget-all"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let cleared = trust_cookie(&response).expect("the cookie deleted");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    sign_out(&browser, base).await;
    clock.advance(30);
    assert_eq!(
        location(&sign_in(&browser, base, owner).await),
        "/signin/second-step"
    );

    // A factor change: new backup codes.
    enter_code(&browser, base, &secret, &clock, true).await;
    let csrf = token(&browser, base, "/profile/security").await;
    let response = browser
        .post(format!("{base}/security/backup-codes/regenerate"))
        .form(&[("password", owner.3), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_redirection(),
        "{:?}",
        response.status()
    );
    sign_out(&browser, base).await;
    clock.advance(30);
    assert_eq!(
        location(&sign_in(&browser, base, owner).await),
        "/signin/second-step"
    );
}

#[tokio::test]
async fn the_owner_forbids_trusted_browsers_for_admins() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let admin = twofold_clinic::SEED[1];
    let owner_secret = common::enroll(&running, owner.0).await;
    let admin_secret = common::enroll(&running, admin.0).await;
    clock.advance(30);

    // An admin may not change it.
    let admins = client();
    sign_in(&admins, base, admin).await;
    enter_code(&admins, base, &admin_secret, &clock, true).await;
    let settings = page(&admins, base, "/settings/security").await;
    assert!(!settings.contains("save-trusted-days"));
    let csrf = common::csrf_of(&settings);
    let refused = admins
        .post(format!("{base}/settings/security/trusted-browsers"))
        .form(&[
            ("role", "admin"),
            ("days", "90"),
            ("password", admin.3),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&refused), "/settings/security");
    let settings = page(&admins, base, "/settings/security").await;
    assert!(
        settings.contains("Only the clinic&#39;s owner can change this.")
            || settings.contains("Only the clinic's owner can change this.")
    );

    // The owner forbids them for admins.
    let owners = client();
    sign_in(&owners, base, owner).await;
    enter_code(&owners, base, &owner_secret, &clock, false).await;
    let csrf = token(&owners, base, "/settings/security").await;
    let saved = owners
        .post(format!("{base}/settings/security/trusted-browsers"))
        .form(&[
            ("role", "admin"),
            ("days", "0"),
            ("password", owner.3),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&saved), "/settings/security");
    let settings = page(&owners, base, "/settings/security").await;
    assert!(
        settings.contains(
            r#"<tr data-role="admin"><td>admin</td><td class="trusted-days">not allowed</td></tr>"#
        ),
        "{settings}"
    );

    // The admin's trusted browser asks again, and offers no trust.
    sign_out(&admins, base).await;
    clock.advance(30);
    assert_eq!(
        location(&sign_in(&admins, base, admin).await),
        "/signin/second-step"
    );
    let second_step = page(&admins, base, "/signin/second-step").await;
    assert!(!second_step.contains("Don't ask again"), "{second_step}");
    // The owner still may.
    sign_out(&owners, base).await;
    clock.advance(30);
    sign_in(&owners, base, owner).await;
    let second_step = page(&owners, base, "/signin/second-step").await;
    assert!(second_step.contains("Don't ask again on this browser for 30 days"));
}
