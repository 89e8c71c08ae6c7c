//! The sign-in pages: the password, the second step, the forced setup.

use askama::Template;

use super::Layout;

/// `/signin`: email and password.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    pub layout: Layout,
    /// The email filled in: the one typed, or the one a passkey identified
    /// where the clinic still asks for the password.
    pub email: String,
}

/// `/signin/second-step`: the code, a passkey, or a backup code.
#[derive(Template)]
#[template(path = "second_step.html")]
pub(crate) struct SecondStepPage {
    pub layout: Layout,
    pub email: String,
    /// Whether the user has an authenticator app.
    pub totp: bool,
    /// The passkey request options as JSON, if the user has passkeys (read
    /// by `app.js` from a data attribute, so escaped like any value).
    pub passkey_options: Option<String>,
    /// Whether backup codes may be used.
    pub recovery: bool,
    /// For how many days "Don't ask again on this browser" trusts it (0: not offered).
    pub trust_days: u32,
}

/// `/signin/setup`: the clinic requires 2FA and the user has none.
#[derive(Template)]
#[template(path = "forced_setup.html")]
pub(crate) struct ForcedSetupPage {
    pub layout: Layout,
    pub email: String,
    /// Whether "Skip for now" is offered.
    pub can_defer: bool,
}
