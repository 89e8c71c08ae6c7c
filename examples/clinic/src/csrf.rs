//! CSRF protection for every state-changing request: a per-session synchroniser
//! token, sent back as the `csrf` form field or the `x-csrf-token` header (for
//! the passkey `fetch` calls), compared in constant time. Every non-GET request
//! passes through here, so no form can forget it. (SameSite=Strict cookies are a
//! second line, not the only one.)

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::error::AppError;

const KEY: &str = "csrf";
/// Forms here are small; a larger body is refused before it is read whole.
const MAX_BODY: usize = 64 * 1024;

/// The session's token, created on first use.
pub(crate) async fn token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(KEY).await {
        return token;
    }
    renew(session).await
}

/// A fresh token (after sign-in, with the new session id).
pub(crate) async fn renew(session: &Session) -> String {
    let token = crate::db::random_id().unwrap_or_default();
    // A session that cannot store the token gets a token that never matches:
    // its forms are refused rather than left unprotected.
    let _ = session.insert(KEY, &token).await;
    token
}

fn forbidden() -> Response {
    AppError::Forged.into_response()
}

fn matches(expected: Option<&str>, given: Option<&str>) -> bool {
    match (expected, given) {
        (Some(expected), Some(given)) if !expected.is_empty() => {
            bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    }
}

/// The middleware.
pub(crate) async fn guard(session: Session, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let expected = session.get::<String>(KEY).await.ok().flatten();
    if let Some(header) = request.headers().get("x-csrf-token") {
        let given = header.to_str().ok();
        if matches(expected.as_deref(), given) {
            return next.run(request).await;
        }
        return forbidden();
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let given = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == KEY)
        .map(|(_, value)| value.into_owned());
    if !matches(expected.as_deref(), given.as_deref()) {
        return forbidden();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn tokens_match_only_exactly() {
        assert!(matches(Some("abc"), Some("abc")));
        assert!(!matches(Some("abc"), Some("abd")));
        assert!(!matches(Some("abc"), Some("ab")));
        assert!(!matches(Some("abc"), None));
        assert!(!matches(None, Some("abc")));
        assert!(!matches(None, None));
        assert!(!matches(Some(""), Some("")));
    }
}
