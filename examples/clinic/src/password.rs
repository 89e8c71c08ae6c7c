//! Password entries: at sign-in and at every re-entry that guards a change.
//! Each is throttled per account and per client address before any hashing,
//! hashed on the offload (with a stand-in hash for unknown accounts, so that
//! neither the time taken nor the throttle tells them apart), and audited
//! when it fails.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use serde_json::json;

use crate::db::{self, User};
use crate::throttle::{self, Keys};
use crate::{App, words};

/// How long a password entry counts as fresh for changing factors ("sudo
/// mode"): the policy's default for self-disable.
pub(crate) const REAUTH_SECONDS: u64 = 300;

/// The client's address, for throttling password entries: the connection's
/// peer, or the last `X-Forwarded-For` entry behind a trusted proxy.
pub(crate) struct Client(pub String);

impl FromRequestParts<App> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &App,
    ) -> Result<Client, std::convert::Infallible> {
        let forwarded = app
            .trust_forwarded_for()
            .then(|| parts.headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|list| list.rsplit(',').next())
            .map(|last| last.trim().to_string())
            .filter(|last| !last.is_empty());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        Ok(Client(
            forwarded.or(peer).unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// Why a password entry was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No password given, and the last one is not recent.
    Missing,
    /// The wrong password (or no such account).
    Wrong,
    /// Too many wrong passwords: wait this long first.
    Wait(u64),
    /// The server is too busy checking passwords right now.
    Busy,
}

impl Refusal {
    /// Words for the user; `otherwise` for a missing or wrong password.
    pub(crate) fn text(self, otherwise: &str) -> String {
        match self {
            Refusal::Missing | Refusal::Wrong => otherwise.to_string(),
            Refusal::Wait(seconds) => format!(
                "Too many wrong passwords. Try again in {}.",
                words::wait(seconds)
            ),
            Refusal::Busy => {
                "The server is busy checking passwords. Try again in a few seconds.".to_string()
            }
        }
    }

    /// Whether the entry was never checked (throttled or busy), as opposed to
    /// missing or wrong.
    pub(crate) fn unchecked(self) -> bool {
        matches!(self, Refusal::Wait(_) | Refusal::Busy)
    }
}

/// Checks a password for `email` (whose account is `user`, if it exists) from
/// `client`; failures and the start of a back-off are audited. Returns when
/// it was entered.
pub(crate) async fn check(
    app: &App,
    user: Option<&User>,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<u64, Refusal> {
    let keys = Keys::new(email, &client.0);
    let now = app.now();
    // Admitted before any hashing; parallel attempts count against the budget
    // while they are in flight (the admission leaves when this returns).
    let _admission = match throttle::admit(app.pool(), app.in_flight(), &keys, now).await {
        Ok(Ok(admission)) => admission,
        Ok(Err(seconds)) => return Err(Refusal::Wait(seconds)),
        Err(error) => {
            tracing::error!(%error, "the password throttle failed");
            return Err(Refusal::Busy);
        }
    };
    let hash = user.map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    // One hash at a time per address: a burst from one address waits in its
    // own lane instead of in front of everyone else's sign-in.
    let turn = app.hash_turn(&client.0).await;
    let matched = app
        .verify_password(password, &hash)
        .await
        .map_err(|_| Refusal::Busy)?;
    drop(turn);
    if matched && user.is_some() {
        if let Err(error) = throttle::succeed(app.pool(), &keys).await {
            tracing::error!(%error, "the password throttle failed");
        }
        return Ok(now);
    }
    let failures = match throttle::fail(app.pool(), &keys, now).await {
        Ok(failures) => failures,
        Err(error) => {
            tracing::error!(%error, "the password throttle failed");
            return Err(Refusal::Wrong);
        }
    };
    match user {
        Some(user) => {
            let audit = app.audit();
            let detail = json!({ "user": user.id, "failures": failures, "address": client.0 });
            audit
                .append(
                    &user.clinic,
                    now,
                    "password_failed",
                    &user.id,
                    &user.id,
                    &detail,
                )
                .await;
            if throttle::starts_back_off(failures) {
                let detail = json!({
                    "user": user.id,
                    "failures": failures,
                    "wait_seconds": throttle::account_wait(failures),
                    "address": client.0,
                });
                audit
                    .append(
                        &user.clinic,
                        now,
                        "password_lockout",
                        &user.id,
                        &user.id,
                        &detail,
                    )
                    .await;
            }
        }
        None => tracing::info!(
            address = %client.0,
            "sign-in: a wrong password for an unknown account"
        ),
    }
    Err(Refusal::Wrong)
}

/// An Argon2id hash (same parameters as real ones) verified against for unknown
/// emails, so that response time does not reveal which accounts exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| db::hash_password("no such account").unwrap_or_default())
}
