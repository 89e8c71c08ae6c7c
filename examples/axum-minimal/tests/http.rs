//! Signing in over HTTP, as a browser does (one cookie jar, `oneshot` requests).
#![cfg(test)]

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum_minimal::{AppState, add_user, create_schema, router};
use sqlx::sqlite::SqlitePoolOptions;
use tower::ServiceExt;

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

async fn app(name: &str) -> Browser {
    let path = std::env::temp_dir().join(format!("axum-minimal-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = SqlitePoolOptions::new().connect(&url).await.unwrap();
    create_schema(&pool).await.unwrap();
    add_user(&pool, "ana@example.com", "ana's password")
        .await
        .unwrap();
    Browser {
        app: router(AppState { pool }),
        cookie: None,
    }
}

#[tokio::test]
async fn a_password_signs_in_and_out() {
    let mut browser = app("password").await;
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
