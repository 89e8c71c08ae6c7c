//! A test application over the crate: a `MemoryStore`-backed facade on a
//! `ManualClock`, sessions in memory, and a cookie-keeping client that drives
//! the router with `oneshot`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRef, State};
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower::ServiceExt;
use tower_sessions::session::{Id, Record};
use tower_sessions::{Session, SessionManagerLayer, SessionStore, session_store};
use twofold::{
    Account, BackupConfig, Clock, HashParams, Keyring, ManualClock, MemoryStore, Mode,
    PasskeyConfig, RelyingParty, SecretKey, Timestamp, TwoFactor, TwoFactorConfig,
};
use twofold_axum::{
    Enroller, Enrolling, FreshPasswordLayer, PasskeyHooks, SecondStep, SignedIn, TwoFactorState,
    passkey_router,
};

pub const START: u64 = 1_767_225_615; // 2026-01-01T00:00:15Z
pub const ORIGIN: &str = "https://app.example";
pub const PASSWORD: &str = "right password";

/// Sessions in memory, as tower-sessions' `MemoryStore` keeps them.
#[derive(Debug, Default, Clone)]
pub struct Sessions(Arc<Mutex<HashMap<Id, Record>>>);

impl Sessions {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.lock().unwrap().insert(record.id, record.clone());
        Ok(())
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.lock().unwrap().remove(id);
        Ok(())
    }
}

#[derive(Clone)]
pub struct TestApp {
    pub twofold: TwoFactorState,
}

impl FromRef<TestApp> for TwoFactorState {
    fn from_ref(app: &TestApp) -> TwoFactorState {
        app.twofold.clone()
    }
}

impl PasskeyHooks for TestApp {
    fn browser_label(&self, _parts: &axum::http::request::Parts) -> Option<String> {
        Some("Test browser".to_string())
    }
}

pub struct Harness {
    pub facade: Arc<TwoFactor>,
    pub clock: Arc<ManualClock>,
    pub sessions: Sessions,
    pub router: Router,
}

pub fn config(mode: Mode) -> TwoFactorConfig {
    let rp = RelyingParty::new("app.example", "Test App", &[ORIGIN]).unwrap();
    let mut config = TwoFactorConfig::new("Test App").with_passkeys(PasskeyConfig::new(rp));
    config.backup_codes = BackupConfig::default()
        .with_hash_params(HashParams::new(64, 1, 1).unwrap())
        .with_minimum_hash_params(HashParams::new(64, 1, 1).unwrap());
    config.default_policy.enforcement.mode = mode;
    config
}

pub fn harness() -> Harness {
    harness_with(Mode::Optional)
}

pub fn harness_with(mode: Mode) -> Harness {
    harness_from(config(mode))
}

pub fn harness_from(config: TwoFactorConfig) -> Harness {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(START)));
    let facade = Arc::new(
        TwoFactor::new(
            Arc::new(MemoryStore::new()),
            Keyring::new(SecretKey::new("k1", [7u8; 32])),
            config,
        )
        .unwrap()
        .with_clock(clock.clone()),
    );
    let twofold = TwoFactorState::new(Arc::clone(&facade)).with_clock(clock.clone());
    let sessions = Sessions::default();
    let router = router(TestApp { twofold }, sessions.clone());
    Harness {
        facade,
        clock,
        sessions,
        router,
    }
}

/// Users: `ana` and `bob` of `acme`, `eve` of `other`; all role `staff`.
pub fn account(user: &str) -> Account<'_> {
    let organization = if user == "eve" { "other" } else { "acme" };
    Account {
        user,
        organization,
        role: "staff",
        name: user,
    }
}

#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn sign_in(
    State(app): State<TestApp>,
    session: Session,
    Form(form): Form<Credentials>,
) -> Response {
    if form.password != PASSWORD {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match twofold_axum::begin_sign_in(&app.twofold, &session, &account(&form.user)).await {
        Ok(_) => Redirect::to("/home").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn code(
    State(app): State<TestApp>,
    pending: SecondStep,
    Form(form): Form<CodeForm>,
) -> Response {
    let account = pending.account.account();
    match app
        .twofold
        .two_factor()
        .verify_totp(&account, &pending.challenge, &form.code)
        .await
    {
        Ok(_) => {
            twofold_axum::complete_sign_in(&pending.session, &pending.account, pending.password_at)
                .await
                .unwrap();
            Redirect::to("/home").into_response()
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn reauth(
    State(app): State<TestApp>,
    signed_in: SignedIn,
    Form(form): Form<Credentials>,
) -> Response {
    if form.password != PASSWORD {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    twofold_axum::password_confirmed(&signed_in.session, app.twofold.now())
        .await
        .unwrap();
    StatusCode::NO_CONTENT.into_response()
}

pub fn router(app: TestApp, sessions: Sessions) -> Router {
    let changes = Router::new()
        .route("/change", post(|| async { "changed" }))
        .layer(FreshPasswordLayer::new(app.twofold.clone()));
    Router::new()
        .route("/signin", post(sign_in))
        .route("/reauth", post(reauth))
        .route(
            "/signout",
            post(|session: Session| async move {
                twofold_axum::sign_out(&session).await.unwrap();
                Redirect::to("/signin")
            }),
        )
        .route(
            "/note",
            post(|session: Session| async move {
                session
                    .insert("app.note", "private to this user")
                    .await
                    .unwrap();
            })
            .get(|session: Session| async move {
                session
                    .get::<String>("app.note")
                    .await
                    .unwrap()
                    .unwrap_or_default()
            }),
        )
        .route(
            "/second-step",
            get(|pending: SecondStep| async move {
                format!("second step for {}", pending.account.user)
            }),
        )
        .route("/second-step/code", post(code))
        .route(
            "/second-step/passkey",
            get(|pending: SecondStep| async move { axum::Json(pending.passkey) }),
        )
        .route(
            "/home",
            get(|signed_in: SignedIn| async move { format!("home of {}", signed_in.account.user) }),
        )
        .route(
            "/setup",
            get(|forced: Enrolling| async move { format!("setup for {}", forced.account.user) }),
        )
        .route(
            "/enroller",
            get(|enroller: Enroller| async move {
                format!(
                    "enroller {} forced={}",
                    enroller.account().user,
                    enroller.is_forced()
                )
            }),
        )
        .route(
            "/skip",
            post(|State(app): State<TestApp>, forced: Enrolling| async move {
                let step = twofold_axum::defer_enrollment(
                    &app.twofold,
                    &forced.session,
                    &forced.account,
                    forced.password_at,
                )
                .await
                .unwrap();
                format!("{step:?}")
            }),
        )
        .nest("/security", changes)
        .nest("/passkeys", passkey_router())
        .layer(SessionManagerLayer::new(sessions).with_secure(false))
        .with_state(app)
}

/// A browser: one cookie jar (the session cookie).
#[derive(Clone)]
pub struct Browser {
    pub router: Router,
    pub cookie: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new(h: &Harness) -> Browser {
        Browser {
            router: h.router.clone(),
            cookie: None,
        }
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap().trim().to_string();
            let removed = set.contains("Max-Age=0") || pair.ends_with('=');
            self.cookie = if removed { None } else { Some(pair) };
        }
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None, String::new()).await
    }

    pub async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await
    }

    pub async fn json(&mut self, path: &str, value: serde_json::Value) -> Answer {
        self.send("POST", path, Some("application/json"), value.to_string())
            .await
    }

    pub async fn password(&mut self, user: &str) -> Answer {
        self.form("/signin", &[("user", user), ("password", PASSWORD)])
            .await
    }
}

/// Sets up an authenticator app for `user` directly on the facade; returns its secret.
pub async fn enroll_totp(h: &Harness, user: &str) -> String {
    let setup = h
        .facade
        .begin_totp_enrollment(&account(user), Some(h.clock.now()))
        .await
        .unwrap()
        .value;
    let code = code_at(&setup.manual_entry_secret, h.clock.now().as_unix_seconds());
    h.facade
        .confirm_totp_enrollment(&account(user), &code)
        .await
        .unwrap();
    h.clock.advance(30);
    setup.manual_entry_secret
}

/// The code an authenticator app shows at `time`, computed by totp-lite.
pub fn code_at(manual_entry_secret: &str, time: u64) -> String {
    let compact: String = manual_entry_secret
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &compact).unwrap();
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &bytes, time)
}
