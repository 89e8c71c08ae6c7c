//! One error type for every handler, so that handlers return
//! `Result<Response, AppError>` and use `?`. The status codes and the pages
//! that go with them are chosen here, in one place. A server fault is logged
//! (by [`log_faults`], as a `tracing` event) and never shown to the user.

use std::fmt::Display;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use crate::views::{Layout, Message};

/// Why a request did not get the page it asked for.
#[derive(Debug)]
pub(crate) enum AppError {
    /// Not signed in, or not at this stage of sign-in: go there (303).
    Redirect(&'static str),
    /// The server failed: a 500 page that says nothing of why.
    Internal(Fault),
    /// Not now (the server is busy, or misses a key): a 503 page with these
    /// words, and `Retry-After` when the wait is known.
    Unavailable {
        /// What the user is told.
        text: &'static str,
        /// Seconds to wait, if known.
        retry_after: Option<u64>,
    },
    /// A page for owners and admins only (403).
    ManagersOnly,
    /// A form without this session's CSRF token (403).
    Forged,
    /// The answer to a `fetch` call: `{"error": message}` with this status.
    Json {
        /// The status.
        status: StatusCode,
        /// What the page shows.
        message: String,
        /// The server fault behind it, for the log.
        fault: Option<Fault>,
    },
}

/// What failed on the server, for the log only.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    what: &'static str,
    detail: String,
}

impl AppError {
    /// A server fault: `what` failed because of `error`.
    pub(crate) fn internal(what: &'static str, error: impl Display) -> AppError {
        AppError::Internal(Fault {
            what,
            detail: error.to_string(),
        })
    }

    /// A `fetch` call's error with these words.
    pub(crate) fn json(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError::Json {
            status,
            message: message.into(),
            fault: None,
        }
    }

    /// The same error for a `fetch` call, which reads JSON, not pages.
    pub(crate) fn for_fetch(self) -> AppError {
        match self {
            AppError::Redirect(_) => AppError::json(StatusCode::UNAUTHORIZED, "Sign in again."),
            AppError::Internal(fault) => AppError::Json {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "Try again.".into(),
                fault: Some(fault),
            },
            AppError::Unavailable { text, .. } => {
                AppError::json(StatusCode::SERVICE_UNAVAILABLE, text)
            }
            AppError::ManagersOnly | AppError::Forged => {
                AppError::json(StatusCode::FORBIDDEN, "Not allowed.")
            }
            json @ AppError::Json { .. } => json,
        }
    }
}

/// `?` for results whose error is a server fault: `.context("loading a user")?`.
pub(crate) trait Context<T> {
    /// The value, or a server fault saying that `what` failed.
    fn context(self, what: &'static str) -> Result<T, AppError>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: &'static str) -> Result<T, AppError> {
        self.map_err(|error| AppError::internal(what, error))
    }
}

/// A page with a title and one message, for the errors that have a page.
fn message(
    status: StatusCode,
    title: &'static str,
    id: Option<&'static str>,
    text: &str,
) -> Response {
    let page = Message {
        layout: Layout::bare(title),
        id,
        text: text.to_string(),
        profile_link: id == Some("managers-only"),
    };
    // Rendering the error page itself failed: plain words still tell the user.
    let body = askama::Template::render(&page).unwrap_or_else(|_| text.to_string());
    (status, Html(body)).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Redirect(to) => Redirect::to(to).into_response(),
            AppError::Internal(fault) => {
                let mut response = message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    None,
                    "The server could not complete this request. Try again in a moment.",
                );
                response.extensions_mut().insert(fault);
                response
            }
            AppError::Unavailable { text, retry_after } => {
                let mut response = message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again shortly",
                    Some("unavailable"),
                    text,
                );
                if let Some(seconds) = retry_after
                    && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            AppError::ManagersOnly => message(
                StatusCode::FORBIDDEN,
                "Not for your role",
                Some("managers-only"),
                "Only owners and admins see this page.",
            ),
            AppError::Forged => message(
                StatusCode::FORBIDDEN,
                "Request refused",
                None,
                "This form has expired or did not come from this site (its security token is \
                 missing or wrong). Go back, reload the page and try again.",
            ),
            AppError::Json {
                status,
                message,
                fault,
            } => {
                let mut response = (status, Json(json!({ "error": message }))).into_response();
                if let Some(fault) = fault {
                    response.extensions_mut().insert(fault);
                }
                response
            }
        }
    }
}

/// Logs the server fault behind a response, if there is one: the middleware
/// that gives [`AppError`] the log.
pub(crate) async fn log_faults(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(fault) = response.extensions().get::<Fault>() {
        tracing::error!(what = %fault.what, detail = %fault.detail, "server fault");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_call_gets_json_and_the_fault_is_kept_for_the_log() {
        let error = AppError::internal("status", "disk full").for_fetch();
        let AppError::Json {
            status,
            message,
            fault,
        } = &error
        else {
            panic!("not JSON: {error:?}");
        };
        assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(message, "Try again.");
        assert_eq!(fault.as_ref().map(|f| f.detail.as_str()), Some("disk full"));
        let response = error.into_response();
        assert!(response.extensions().get::<Fault>().is_some());
        let signed_out = AppError::Redirect("/signin").for_fetch().into_response();
        assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn statuses_are_mapped_in_one_place() {
        let cases = [
            (AppError::Redirect("/signin"), StatusCode::SEE_OTHER),
            (
                AppError::internal("x", "y"),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (AppError::ManagersOnly, StatusCode::FORBIDDEN),
            (AppError::Forged, StatusCode::FORBIDDEN),
            (
                AppError::Unavailable {
                    text: "busy",
                    retry_after: Some(5),
                },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (error, status) in cases {
            let response = error.into_response();
            assert_eq!(response.status(), status);
        }
    }
}
