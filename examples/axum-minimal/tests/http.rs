//! Signing in over HTTP, as a browser does (one cookie jar, `oneshot` requests).
#![cfg(test)]

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum_minimal::{AppState, add_user, create_schema, router, two_factor};
use sqlx::sqlite::SqlitePoolOptions;
use std::sync::Arc;
use tower::ServiceExt;
use twofold::{Clock, ManualClock, Timestamp};

struct Browser {
    app: Router,
    cookie: Option<String>,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Browser {
    async fn send(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('@', "%40")))
            .collect::<Vec<_>>()
            .join("&");
        let request = request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = (!set.contains("Max-Age=0")).then_some(pair);
        }
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer {
            status,
            location,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

async fn app(name: &str) -> (Browser, Arc<ManualClock>) {
    let path = std::env::temp_dir().join(format!("axum-minimal-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = SqlitePoolOptions::new().connect(&url).await.unwrap();
    create_schema(&pool).await.unwrap();
    add_user(&pool, "ana@example.com", "ana's password")
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(
        1_767_225_615,
    )));
    let twofold = two_factor(&pool, [7; 32], "http://localhost:3000", clock.clone())
        .await
        .unwrap();
    let browser = Browser {
        app: router(AppState { pool, twofold }),
        cookie: None,
    };
    (browser, clock)
}

#[tokio::test]
async fn a_password_signs_in_and_out() {
    let (mut browser, _) = app("password").await;
    assert_eq!(
        browser.send("GET", "/", &[]).await.location.as_deref(),
        Some("/signin")
    );
    let wrong = [("email", "ana@example.com"), ("password", "wrong")];
    assert_eq!(
        browser.send("POST", "/signin", &wrong).await.status,
        StatusCode::UNAUTHORIZED
    );
    let right = [("email", "ana@example.com"), ("password", "ana's password")];
    assert_eq!(
        browser
            .send("POST", "/signin", &right)
            .await
            .location
            .as_deref(),
        Some("/")
    );
    assert!(
        browser
            .send("GET", "/", &[])
            .await
            .body
            .contains("Signed in as ana@example.com")
    );
    browser.send("POST", "/signout", &[]).await;
    assert_eq!(
        browser.send("GET", "/", &[]).await.location.as_deref(),
        Some("/signin")
    );
}

/// The code an authenticator app shows at `clock`'s time, computed by totp-lite (not by twofold).
fn code_at(manual_entry_secret: &str, clock: &ManualClock) -> String {
    let compact: String = manual_entry_secret.split_whitespace().collect();
    let secret = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &compact).unwrap();
    let now = clock.now().as_unix_seconds();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &secret, now)
}

/// The manual-entry secret shown on the setup page.
fn secret_of(page: &str) -> String {
    let start = page.find("</svg><p>").unwrap() + "</svg><p>".len();
    page[start..].split("</p>").next().unwrap().to_string()
}

#[tokio::test]
async fn an_authenticator_app_becomes_the_second_step() {
    let (mut browser, clock) = app("totp").await;
    let password = [("email", "ana@example.com"), ("password", "ana's password")];
    browser.send("POST", "/signin", &password).await;
    let setup = browser.send("POST", "/2fa/totp", &[]).await;
    assert_eq!(setup.status, StatusCode::OK);
    let secret = secret_of(&setup.body);
    let confirmed = browser
        .send(
            "POST",
            "/2fa/totp/confirm",
            &[("code", &code_at(&secret, &clock))],
        )
        .await;
    assert!(
        confirmed.body.contains("Added. Backup codes: "),
        "{}",
        confirmed.body
    );
    let backup: Vec<String> = confirmed.body["<p>Added. Backup codes: ".len()..]
        .trim_end_matches("</p>")
        .split(' ')
        .map(str::to_string)
        .collect();
    assert_eq!(backup.len(), 10);
    browser.send("POST", "/signout", &[]).await;
    clock.advance(30); // the confirming code's step is spent

    // No password: no second step either.
    let answer = browser
        .send("POST", "/signin/second-step", &[("code", "123456")])
        .await;
    assert_eq!(answer.location.as_deref(), Some("/signin"));

    // The password now leads to the second step, and only there.
    let answer = browser.send("POST", "/signin", &password).await;
    assert_eq!(answer.location.as_deref(), Some("/signin/second-step"));
    assert_eq!(
        browser.send("GET", "/", &[]).await.location.as_deref(),
        Some("/signin/second-step")
    );
    assert_eq!(
        browser.send("POST", "/2fa/totp", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let page = browser.send("GET", "/signin/second-step", &[]).await;
    assert!(page.body.contains("name=\"code\""));

    // A wrong code does not sign in.
    let right = code_at(&secret, &clock);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let answer = browser
        .send("POST", "/signin/second-step", &[("code", wrong)])
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        browser.send("GET", "/", &[]).await.location.as_deref(),
        Some("/signin/second-step")
    );

    // The app's code signs in.
    let answer = browser
        .send("POST", "/signin/second-step", &[("code", &right)])
        .await;
    assert_eq!(answer.location.as_deref(), Some("/"));
    assert!(
        browser
            .send("GET", "/", &[])
            .await
            .body
            .contains("Signed in as ana@example.com")
    );

    // And a backup code, once.
    browser.send("POST", "/signout", &[]).await;
    browser.send("POST", "/signin", &password).await;
    let answer = browser
        .send("POST", "/signin/second-step", &[("code", &backup[0])])
        .await;
    assert_eq!(answer.location.as_deref(), Some("/"));
    browser.send("POST", "/signout", &[]).await;
    browser.send("POST", "/signin", &password).await;
    let answer = browser
        .send("POST", "/signin/second-step", &[("code", &backup[0])])
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

/// What a user typed comes back escaped: an email with markup shows as text.
#[tokio::test]
async fn the_page_escapes_what_users_typed() {
    let (mut browser, _) = app("escape").await;
    let pool = SqlitePoolOptions::new()
        .connect(&format!(
            "sqlite://{}",
            std::env::temp_dir()
                .join(format!("axum-minimal-escape-{}.db", std::process::id()))
                .display()
        ))
        .await
        .unwrap();
    add_user(&pool, "<b>bo</b>@example.com", "bo's password")
        .await
        .unwrap();
    let bo = [
        ("email", "<b>bo</b>@example.com"),
        ("password", "bo's password"),
    ];
    assert_eq!(
        browser
            .send("POST", "/signin", &bo)
            .await
            .location
            .as_deref(),
        Some("/")
    );
    let home = browser.send("GET", "/", &[]).await.body;
    assert!(
        home.contains("Signed in as &#60;b&#62;bo&#60;/b&#62;@example.com"),
        "{home}"
    );
    assert!(!home.contains("<b>bo"), "{home}");
}
