//! Trusted browsers ("Don't ask again on this browser"): the cookie that
//! carries twofold's token, the browser's label, and forgetting browsers from
//! the Security page.
//!
//! **The cookie.** One cookie per browser, not one per user: `__Host-clinic_trusted`
//! (`clinic_trusted` on a plain-http demo origin, where `__Host-` cookies
//! cannot be set), `HttpOnly`, `Secure` on https, `SameSite=Strict`, `Path=/`,
//! `Max-Age` the trust's remaining lifetime. Its value is the token alone:
//! it names nobody. twofold looks a presented token up only in the record
//! of the user whose password was just right, so on a shared computer the
//! next user is never helped by it and learns nothing of whose it is; if that
//! user trusts the browser in turn, their token replaces it. A token the
//! facade refuses is left alone (it may be the previous user's); it expires
//! with its `Max-Age`.

use axum::extract::{Form, State};
use axum::http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use twofold::NewTrustedBrowser;

use super::{account, back, factor_failure};
use crate::App;
use crate::error::AppError;
use crate::session::SignedIn;
use crate::views::Tone;

/// The cookie's name: `__Host-` wherever the origin is https.
fn cookie_name(app: &App) -> &'static str {
    if app.secure_cookies() {
        "__Host-clinic_trusted"
    } else {
        "clinic_trusted"
    }
}

/// The trusted-browser token this browser presents, if any.
pub(crate) fn presented(app: &App, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(app);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn set(app: &App, response: &mut Response, value: &str, max_age: u64) {
    let secure = if app.secure_cookies() { "; Secure" } else { "" };
    let line = format!(
        "{}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}",
        cookie_name(app)
    );
    // A token is base64url: always a valid header value.
    if let Ok(header) = HeaderValue::from_str(&line) {
        response.headers_mut().append(SET_COOKIE, header);
    }
}

/// Sets the cookie to a new or replaced token, until the trust ends.
pub(crate) fn remember(app: &App, response: &mut Response, browser: &NewTrustedBrowser) {
    let max_age = browser
        .expires_at
        .as_unix_seconds()
        .saturating_sub(app.now());
    set(app, response, browser.token.expose_to_cookie(), max_age);
}

/// Deletes the cookie from this browser.
fn forget_here(app: &App, response: &mut Response) {
    set(app, response, "", 0);
}

/// What the Security page calls this browser: "Chrome on Windows", from its
/// User-Agent (twofold bounds and cleans it again).
pub(crate) fn label(headers: &HeaderMap) -> String {
    let agent = headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let browser = if agent.contains("Edg/") {
        "Edge"
    } else if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Chrome/") {
        "Chrome"
    } else if agent.contains("Safari/") {
        "Safari"
    } else {
        "A browser"
    };
    let system = if agent.contains("Windows") {
        "Windows"
    } else if agent.contains("Android") {
        "Android"
    } else if agent.contains("iPhone") || agent.contains("iPad") {
        "iOS"
    } else if agent.contains("Mac OS X") {
        "macOS"
    } else if agent.contains("Linux") {
        "Linux"
    } else {
        return browser.to_string();
    };
    format!("{browser} on {system}")
}

#[derive(Deserialize)]
pub(crate) struct ForgetForm {
    id: String,
}

/// "Forget" beside one trusted browser on the Security page.
pub(crate) async fn forget(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
    Form(form): Form<ForgetForm>,
) -> Result<Response, AppError> {
    let to = "/profile/security";
    match app
        .two_factor()
        .forget_trusted_browser(&account(&user), &form.id)
        .await
    {
        Ok(_) => {
            let text = "That browser will ask for your second factor again.";
            Ok(back(&session, Tone::Ok, text, to).await)
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, to).await,
    }
}

/// "Forget all browsers": every trusted browser asks again, this one too.
pub(crate) async fn forget_all(
    State(app): State<App>,
    SignedIn { user, session, .. }: SignedIn,
) -> Result<Response, AppError> {
    let to = "/profile/security";
    match app
        .two_factor()
        .forget_all_trusted_browsers(&account(&user))
        .await
    {
        Ok(_) => {
            let text = "Every browser will ask for your second factor again.";
            let mut response = back(&session, Tone::Ok, text, to).await;
            forget_here(&app, &mut response);
            Ok(response)
        }
        Err(failure) => factor_failure(&app, &session, &user, failure, to).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_browser_and_the_system() {
        let agent = |text: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(USER_AGENT, HeaderValue::from_static(text));
            label(&headers)
        };
        assert_eq!(
            agent(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
            ),
            "Chrome on Linux"
        );
        assert_eq!(
            agent(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36 Edg/120"
            ),
            "Edge on Windows"
        );
        assert_eq!(
            agent(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605 Version/17.0 Mobile Safari/604.1"
            ),
            "Safari on iOS"
        );
        assert_eq!(agent("curl/8"), "A browser");
        assert_eq!(label(&HeaderMap::new()), "A browser");
    }
}
