//! The pages as staff meet them (issue 15, "What staff saw"): a wrong setup
//! code keeps the same QR code and secret; names are escaped wherever they
//! are shown; every field has a label and headings go in order; and, in
//! Chromium, the manual-entry secret sits beside the QR code, below it only
//! on a narrow screen.

#![cfg(test)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{client, code_at, csrf_of, location, token};
use reqwest::{Client, StatusCode};
use twofold::Clock;

/// Signs in with the password; returns where the app sent the browser.
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

async fn get(client: &Client, base: &str, path: &str) -> String {
    let response = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

async fn post(client: &Client, base: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The text between `start` (exclusive) and the next `end`.
fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    &page[from..from + page[from..].find(end).unwrap()]
}

/// A 6-digit code that is wrong for `secret` around `now`.
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

#[tokio::test]
async fn a_wrong_setup_code_keeps_the_same_qr_code_and_secret() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let client = client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/profile/security"
    );
    let csrf = token(&client, base, "/profile/security").await;
    let setup = post(&client, base, "/security/totp/begin", &[("csrf", &csrf)])
        .await
        .text()
        .await
        .unwrap();
    let secret = between(&setup, r#"id="manual-secret">"#, "<").to_string();
    let qr = between(&setup, r#"id="qr">"#, "</div>").to_string();
    assert!(qr.contains("<svg"), "no QR code on the setup page");
    // A mistyped code: the error, beside the same QR code and secret.
    let wrong = wrong_code(&secret, common::seconds(&clock));
    let response = post(
        &client,
        base,
        "/security/totp/confirm",
        &[("code", &wrong), ("csrf", &csrf_of(&setup))],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = response.text().await.unwrap();
    assert!(again.contains("That code is not correct"), "{again}");
    assert_eq!(between(&again, r#"id="manual-secret">"#, "<"), secret);
    assert_eq!(between(&again, r#"id="qr">"#, "</div>"), qr);
    assert!(again.contains(r#"id="verify-code""#));
    // The secret never went into the session: the page is the only copy the
    // browser has, and the right code from it turns 2FA on.
    let right = code_at(&secret, common::seconds(&clock));
    let response = post(
        &client,
        base,
        "/security/totp/confirm",
        &[("code", &right), ("csrf", &csrf_of(&again))],
    )
    .await;
    assert_eq!(location(&response), "/security/backup-codes");
    // The log has the events, with their facts as fields…
    let log = running.log.lines();
    assert!(
        log.iter().any(|line| line.contains("audit event")
            && line.contains("kind=enrollment_confirmed")
            && line.contains("organization=smile-dental")),
        "{log:#?}"
    );
    // …and never the secret.
    for line in log {
        let squashed: String = secret.split_whitespace().collect();
        assert!(!line.contains(&squashed), "the secret was logged: {line}");
    }
}

/// An attack on the page above: a session whose password is no longer fresh
/// (a borrowed browser, a stolen cookie) posts a wrong code to a setup in
/// progress. It must not be shown the secret again: the setup outlives the
/// 5-minute password window.
#[tokio::test]
async fn a_wrong_setup_code_after_the_password_window_does_not_show_the_secret() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let client = client();
    sign_in(&client, base, owner.0, owner.3).await;
    let csrf = token(&client, base, "/profile/security").await;
    let setup = post(&client, base, "/security/totp/begin", &[("csrf", &csrf)])
        .await
        .text()
        .await
        .unwrap();
    let secret = between(&setup, r#"id="manual-secret">"#, "<").to_string();
    clock.advance(301);
    let response = post(
        &client,
        base,
        "/security/totp/confirm",
        &[("code", "000000"), ("csrf", &csrf_of(&setup))],
    )
    .await;
    let page = response.text().await.unwrap();
    assert!(page.contains("That code is not correct"), "{page}");
    assert!(page.contains("re-enter your password"), "{page}");
    assert!(!page.contains(r#"id="manual-secret""#), "{page}");
    assert!(!page.contains(&secret), "the secret was shown again");
    assert!(!page.contains("<svg"), "the QR code was shown again");
}

#[tokio::test]
async fn names_are_escaped_on_the_staff_and_audit_pages() {
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let base = &running.base;
    let name = "<script>alert(1)</script>";
    running
        .app
        .create_user(
            twofold_clinic::CLINIC,
            "mallory@smile.example",
            name,
            "staff",
            "mallory-demo-pass",
        )
        .await
        .unwrap();
    // A wrong password puts her in the audit log, under her name.
    let stranger = client();
    assert_eq!(
        sign_in(&stranger, base, "mallory@smile.example", "wrong").await,
        ""
    );
    let owner = twofold_clinic::SEED[0];
    let client = client();
    assert_eq!(
        sign_in(&client, base, owner.0, owner.3).await,
        "/profile/security"
    );
    for path in ["/settings/staff", "/settings/audit"] {
        let page = get(&client, base, path).await;
        assert!(!page.contains(name), "{path} shows the name as markup");
        assert!(page.contains("alert(1)"), "{path} does not show the name");
    }
    let audit = get(&client, base, "/settings/audit").await;
    assert!(audit.contains(r#"data-event="password_failed""#), "{audit}");
}

/// Every field on `page` has a `<label for>`, the page says its language, and
/// its headings start at one `h1` and never skip a level.
fn check_accessible(path: &str, page: &str) {
    assert!(page.contains(r#"<html lang="en">"#), "{path}: no lang");
    for tag in ["<input ", "<select ", "<textarea "] {
        for field in page.split(tag).skip(1) {
            let field = &field[..field.find('>').unwrap()];
            if field.contains(r#"type="hidden""#) {
                continue;
            }
            let id = between(field, r#"id=""#, "\"");
            assert!(
                page.contains(&format!(r#"<label for="{id}""#))
                    || page.contains(&format!(r#"<label class="visually-hidden" for="{id}""#)),
                "{path}: the field {id:?} has no label"
            );
        }
    }
    let mut levels = Vec::new();
    for (at, _) in page.match_indices("<h") {
        if let Some(level) = page[at + 2..]
            .chars()
            .next()
            .and_then(|c| c.to_digit(10))
            .filter(|level| (1..=6).contains(level))
        {
            levels.push(level);
        }
    }
    assert_eq!(
        levels.iter().filter(|l| **l == 1).count(),
        1,
        "{path}: one h1"
    );
    assert_eq!(levels.first(), Some(&1), "{path}: h1 first");
    for pair in levels.windows(2) {
        assert!(
            pair[1] <= pair[0] + 1,
            "{path}: headings {levels:?} skip a level"
        );
    }
}

#[tokio::test]
async fn every_field_has_a_label_and_headings_go_in_order() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let [owner, _, sam, _] = twofold_clinic::SEED;
    let anonymous = client();
    let mut pages = vec![("/signin", get(&anonymous, base, "/signin").await)];
    // The owner sets up an app (the setup page, the codes page), then sees every page.
    let client = client();
    sign_in(&client, base, owner.0, owner.3).await;
    let csrf = token(&client, base, "/profile/security").await;
    let setup = post(&client, base, "/security/totp/begin", &[("csrf", &csrf)])
        .await
        .text()
        .await
        .unwrap();
    let secret = between(&setup, r#"id="manual-secret">"#, "<").to_string();
    let code = code_at(&secret, common::seconds(&clock));
    post(
        &client,
        base,
        "/security/totp/confirm",
        &[("code", &code), ("csrf", &csrf)],
    )
    .await;
    pages.push(("/security/totp/begin", setup));
    for path in [
        "/security/backup-codes",
        "/profile/security",
        "/settings/security",
        "/settings/staff",
        "/settings/audit",
    ] {
        pages.push((path, get(&client, base, path).await));
    }
    let csrf = token(&client, base, "/settings/security").await;
    post(
        &client,
        base,
        "/settings/security/enforcement",
        &[("mode", "Required"), ("csrf", &csrf)],
    )
    .await;
    // The second step, and the forced setup of a user without a factor.
    clock.advance(30);
    let again = self::client();
    assert_eq!(
        sign_in(&again, base, owner.0, owner.3).await,
        "/signin/second-step"
    );
    pages.push((
        "/signin/second-step",
        get(&again, base, "/signin/second-step").await,
    ));
    let staff = self::client();
    assert_eq!(sign_in(&staff, base, sam.0, sam.3).await, "/signin/setup");
    pages.push(("/signin/setup", get(&staff, base, "/signin/setup").await));
    for (path, page) in &pages {
        check_accessible(path, page);
    }
}

// ----- in Chromium -----

const CHROMIUM: &str = "/usr/bin/chromium";

fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

async fn eval<T: serde::de::DeserializeOwned>(page: &chromiumoxide::Page, expression: &str) -> T {
    page.evaluate(expression)
        .await
        .unwrap_or_else(|error| panic!("evaluating {expression}: {error}"))
        .into_value()
        .unwrap()
}

/// Runs `action` (JavaScript that navigates) and waits for the new document.
async fn navigate(page: &chromiumoxide::Page, action: &str) {
    let _: bool = eval(page, "window.__stale = true").await;
    let _: bool = eval(page, &format!("(() => {{ {action}; return true; }})()")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fresh = page
            .evaluate("window.__stale !== true && document.readyState === 'complete'")
            .await
            .ok()
            .and_then(|value| value.into_value::<bool>().ok())
            .unwrap_or(false);
        if fresh {
            return;
        }
        assert!(Instant::now() < deadline, "no new page after {action}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The boxes of the QR code and of the secret: (left, top, right, bottom).
async fn boxes(page: &chromiumoxide::Page) -> ([f64; 4], [f64; 4]) {
    let rect = |id: &str| {
        format!(
            "(() => {{ const r = document.getElementById({}).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }})()",
            js(id)
        )
    };
    (
        eval(page, &rect("qr")).await,
        eval(page, &rect("manual-secret")).await,
    )
}

async fn screenshot(page: &chromiumoxide::Page, shots: &Path, name: &str) {
    use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
    use chromiumoxide::page::ScreenshotParams;
    page.save_screenshot(
        ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build(),
        shots.join(format!("{name}.png")),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_sits_beside_the_qr_code_and_below_it_on_a_narrow_screen() {
    use chromiumoxide::browser::{Browser, BrowserConfig};
    use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
    use futures_util::StreamExt;

    if !Path::new(CHROMIUM).exists() {
        assert!(!common::in_ci(), "{CHROMIUM} is missing in CI");
        common::skip_notice("the layout test needs Debian's Chromium (apt-get install chromium)");
        return;
    }
    let running = common::start(common::clock_at(common::aligned_now())).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("clinic-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = common::temp_dir("twofold-clinic-chromium-layout");
    let config = BrowserConfig::builder()
        .chrome_executable(CHROMIUM)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(&profile)
        .window_size(1100, 1000)
        .args(["--disable-gpu", "--no-first-run", "--disable-sync"])
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while let Some(_event) = handler.next().await {} });

    let page = browser.new_page("about:blank").await.unwrap();
    navigate(
        &page,
        &format!(
            "location.href = {}",
            js(&format!("{}/signin", running.base))
        ),
    )
    .await;
    screenshot(&page, &shots, "00-sign-in").await;
    let owner = twofold_clinic::SEED[0];
    navigate(
        &page,
        &format!(
            "document.getElementById('email').value = {}; document.getElementById('password').value = {}; document.getElementById('signin-submit').click()",
            js(owner.0),
            js(owner.3)
        ),
    )
    .await;
    navigate(&page, "document.getElementById('setup-totp').click()").await;
    // Wide: side by side, the secret to the right of the QR code, level with it.
    let (qr, secret) = boxes(&page).await;
    assert!(
        secret[0] >= qr[2],
        "not beside: QR {qr:?}, secret {secret:?}"
    );
    assert!(
        secret[1] < qr[3] && secret[3] > qr[1],
        "not level: QR {qr:?}, secret {secret:?}"
    );
    // Narrow (a phone): stacked, the secret below the QR code.
    page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 1.0, true))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (qr, secret) = boxes(&page).await;
    assert!(
        secret[1] >= qr[3],
        "not stacked: QR {qr:?}, secret {secret:?}"
    );
    let width: f64 = eval(&page, "document.documentElement.scrollWidth").await;
    assert!(
        width <= 390.0,
        "the page scrolls sideways on a phone: {width}px"
    );
    screenshot(&page, &shots, "13-set-up-authenticator-app-narrow").await;

    let _ = browser.close().await;
    let _ = browser.wait().await;
    events.abort();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&running.dir);
}

/// The audit log is fed by twofold's event sink: every event once, filed under
/// the clinic of the user it concerns, whether the app or anyone else called
/// the facade.
#[tokio::test]
async fn the_audit_log_has_each_event_once_under_its_clinic() {
    let clock = common::clock_at(common::aligned_now());
    let running = common::start(clock.clone()).await;
    let base = &running.base;
    let owner = twofold_clinic::SEED[0];
    let client = client();
    sign_in(&client, base, owner.0, owner.3).await;
    let csrf = token(&client, base, "/settings/security").await;
    post(
        &client,
        base,
        "/settings/security/enforcement",
        &[("mode", "Off"), ("csrf", &csrf)],
    )
    .await;
    // A user of another clinic sets up an app, straight through the facade.
    let id = running
        .app
        .create_user(
            "other-clinic",
            "ann@other.example",
            "Ann",
            "staff",
            "ann-demo-pass-1",
        )
        .await
        .unwrap();
    let account = twofold::Account {
        user: &id,
        organization: "other-clinic",
        role: "staff",
        name: "ann@other.example",
    };
    let tf = running.app.two_factor();
    let setup = tf
        .begin_totp_enrollment(&account, Some(Clock::now(clock.as_ref())))
        .await
        .unwrap()
        .value;
    let code = code_at(&setup.manual_entry_secret, common::seconds(&clock));
    tf.confirm_totp_enrollment(&account, &code).await.unwrap();

    let ours = running.app.audit_log(twofold_clinic::CLINIC).await.unwrap();
    let count = |log: &[twofold_clinic::AuditEntry], kind: &str| {
        log.iter().filter(|entry| entry.event == kind).count()
    };
    assert_eq!(count(&ours, "enforcement_changed"), 1, "{ours:?}");
    assert!(ours.iter().all(|entry| entry.actor != id), "{ours:?}");
    let theirs = running.app.audit_log("other-clinic").await.unwrap();
    for kind in [
        "enrollment_begun",
        "enrollment_confirmed",
        "factor_added",
        "backup_codes_created",
    ] {
        assert_eq!(count(&theirs, kind), 1, "{kind}: {theirs:?}");
    }
}
