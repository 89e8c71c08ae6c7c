//! The rule that changing a factor needs a fresh password, as a tower layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_sessions::Session;

use crate::stage::{Stage, stage};
use crate::state::TwoFactorState;

/// Refuses a request unless its session is signed in (or in the forced
/// setup) with a password entered within
/// [`TwoFactorState::fresh_password_seconds`]: put it on the routes that add,
/// remove or show a factor. Without a session stage, with the second step
/// still pending, or in a forced setup whose user has set up a factor since
/// (in another browser), the answer is 401; with a password that is not
/// fresh, 403, and the application asks for the password again and records it
/// with [`password_confirmed`](crate::password_confirmed). It checks the
/// stage only: the handlers behind it still take their extractor
/// ([`Enroller`](crate::Enroller), [`SignedIn`](crate::SignedIn)).
///
/// It needs the `SessionManagerLayer` outside it (added after it with
/// `Router::layer`, or earlier in a `ServiceBuilder`).
///
/// ```
/// # use axum::{Router, routing::post};
/// # use twofold_axum::{FreshPasswordLayer, TwoFactorState};
/// # fn routes(twofold: TwoFactorState) -> Router<TwoFactorState> {
/// Router::new()
///     .route("/security/totp/begin", post(|| async { "…" }))
///     .layer(FreshPasswordLayer::new(twofold))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FreshPasswordLayer {
    state: TwoFactorState,
}

impl FreshPasswordLayer {
    /// The rule, with the freshness window of `state`.
    pub fn new(state: TwoFactorState) -> FreshPasswordLayer {
        FreshPasswordLayer { state }
    }
}

impl<S> Layer<S> for FreshPasswordLayer {
    type Service = FreshPassword<S>;

    fn layer(&self, inner: S) -> FreshPassword<S> {
        FreshPassword {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`FreshPasswordLayer`].
#[derive(Debug, Clone)]
pub struct FreshPassword<S> {
    inner: S,
    state: TwoFactorState,
}

/// Why the layer refused.
fn refuse(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

impl<S> Service<Request> for FreshPassword<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone is ready (tower's rule: call the instance polled ready).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let Some(session) = request.extensions().get::<Session>().cloned() else {
                return Ok(refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "no session layer in front of the fresh-password rule",
                ));
            };
            let stage = match stage(&session).await {
                Ok(stage) => stage,
                Err(_) => {
                    return Ok(refuse(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "session unavailable",
                    ));
                }
            };
            // A forced setup admits no one who has a factor now.
            if let Some(Stage::MustEnroll { account, .. }) = &stage {
                match state.two_factor().status(&account.account()).await {
                    Ok(status) if !status.enabled => {}
                    Ok(_) => {
                        return Ok(refuse(StatusCode::UNAUTHORIZED, "Sign in again."));
                    }
                    Err(_) => {
                        return Ok(refuse(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "two-factor status unavailable",
                        ));
                    }
                }
            }
            match stage {
                None => Ok(refuse(StatusCode::UNAUTHORIZED, "Sign in first.")),
                Some(Stage::SecondStep { .. }) => {
                    Ok(refuse(StatusCode::UNAUTHORIZED, "Finish signing in first."))
                }
                Some(stage) if state.is_fresh(stage.password_at()) => inner.call(request).await,
                Some(_) => Ok(refuse(
                    StatusCode::FORBIDDEN,
                    "Re-enter your password to change how you sign in.",
                )),
            }
        })
    }
}
