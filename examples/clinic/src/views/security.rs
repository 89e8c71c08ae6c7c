//! My Profile → Security, and the pages it leads to: authenticator-app
//! setup and the new backup codes.

use askama::Template;

use super::Layout;
use crate::audit;

/// The personal security panel (2FA status, authenticator app, passkeys,
/// backup codes, sessions, disable): on My Profile → Security and on
/// Settings → Security.
pub(crate) struct Panel {
    pub enabled: bool,
    /// Whether the clinic requires 2FA of this user.
    pub enforced: bool,
    pub totp: bool,
    pub passkeys: Vec<PasskeyRow>,
    /// Unused backup codes, if the user has a set.
    pub backup_codes_remaining: Option<usize>,
    pub backup_codes_low: bool,
    /// The panel's heading level: `h2` on its own page, `h3` inside Settings.
    pub heading: &'static str,
    /// The browsers that skip the second step.
    pub trusted_browsers: Vec<TrustedBrowserRow>,
}

/// One trusted browser in the panel's table (never its token).
pub(crate) struct TrustedBrowserRow {
    /// twofold's id for it (the forget form's value).
    pub id: String,
    pub label: String,
    pub trusted: String,
    /// When last used, or "never".
    pub last_used: String,
    pub until: String,
}

/// One passkey in the panel's table.
pub(crate) struct PasskeyRow {
    /// The credential id, base64url (the remove form's value).
    pub id: String,
    pub name: String,
    /// "synced" or "this device only".
    pub kind: &'static str,
    pub added: String,
    /// When last used, or "never".
    pub last_used: String,
}

/// `/profile/security`.
#[derive(Template)]
#[template(path = "profile_security.html")]
pub(crate) struct ProfilePage {
    pub layout: Layout,
    pub panel: Panel,
    /// The user's own recent activity.
    pub rows: Vec<audit::Row>,
    /// The security notifications sent (or being sent) to the user.
    pub activity: Vec<ActivityRow>,
    /// Every factor the user has or had.
    pub history: Vec<HistoryRow>,
    /// The WebAuthn Signal API calls for `app.js` to make, as JSON (after a
    /// sign-in or a removed passkey).
    pub signals: Option<String>,
    /// The check-up after enrolment, when it is due.
    pub checkup: Option<CheckupBox>,
    /// Whether to offer "Remind me later" (after a sign-in that reminded them).
    pub remind_later: bool,
}

/// The check-up after enrolment: are the backup codes saved?
pub(crate) struct CheckupBox {
    /// When 2FA was set up.
    pub since: String,
    pub remaining: Option<usize>,
    pub low: bool,
}

/// One security notification, as "Security activity" lists it.
pub(crate) struct ActivityRow {
    pub when: String,
    pub text: String,
    /// "emailed" or "sending".
    pub state: &'static str,
}

/// One factor the user has or had, as "Sign-in methods, past and present" lists it.
pub(crate) struct HistoryRow {
    /// "Authenticator app", "Passkey “Phone”".
    pub kind: String,
    pub added: String,
    /// When last used, or "never".
    pub last_used: String,
    /// "in use", or when and by whom it was removed.
    pub removed: String,
    /// Whether it is still bound.
    pub current: bool,
}

/// The authenticator-app setup: the QR code with the manual-entry secret
/// beside it, and the field for the first code.
#[derive(Template)]
#[template(path = "totp_setup.html")]
pub(crate) struct TotpSetupPage {
    pub layout: Layout,
    /// The setup in progress; `None` when it has lapsed (only "Start again" is left).
    pub setup: Option<TotpSetup>,
}

/// What the setup page shows of a setup in progress.
pub(crate) struct TotpSetup {
    /// The QR code (an SVG document drawn by twofold: shown unescaped).
    pub qr_svg: String,
    /// The secret in groups of four, for typing.
    pub secret: String,
    /// The names to type beside it, as given (the URI percent-encodes them).
    pub issuer: String,
    pub account: String,
}

impl TotpSetup {
    /// What to show of a setup: the QR code's `<svg>` element (without the
    /// XML declaration of the standalone document, which HTML has no use
    /// for), and the secret.
    pub(crate) fn new(enrollment: twofold::TotpEnrollment) -> TotpSetup {
        let qr_svg = &enrollment.qr_svg;
        let svg = qr_svg
            .find("<svg")
            .and_then(|at| qr_svg.get(at..))
            .unwrap_or(qr_svg);
        TotpSetup {
            qr_svg: svg.to_string(),
            secret: enrollment.manual_entry_secret.clone(),
            issuer: enrollment.issuer.clone(),
            account: enrollment.account_name.clone(),
        }
    }
}

/// `/security/backup-codes`: the new codes, once.
#[derive(Template)]
#[template(path = "backup_codes.html")]
pub(crate) struct BackupCodesPage {
    pub layout: Layout,
    /// The codes, or `None` once they have been shown.
    pub codes: Option<Vec<String>>,
}

/// What the download's `data:` URL escapes: every byte but ASCII letters,
/// digits, `-`, `_` and `.`.
const DATA_URL_TEXT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

impl BackupCodesPage {
    /// The codes as a text file: one a line.
    pub(crate) fn text(&self) -> String {
        self.codes
            .as_deref()
            .map(|codes| codes.join("\n"))
            .unwrap_or_default()
    }

    /// The Download link's `data:` URL (the CSP allows `data:` images and links).
    pub(crate) fn download_href(&self) -> String {
        let text = self.text() + "\n";
        let encoded = percent_encoding::utf8_percent_encode(&text, DATA_URL_TEXT);
        format!("data:text/plain;charset=utf-8,{encoded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_holds_the_codes_percent_encoded() {
        let page = BackupCodesPage {
            layout: Layout::bare("Save your backup codes"),
            codes: Some(vec!["abcd 1234".into(), "efgh 5678".into()]),
        };
        assert_eq!(
            page.download_href(),
            "data:text/plain;charset=utf-8,abcd%201234%0Aefgh%205678%0A"
        );
    }

    proptest::proptest! {
        /// Any codes (any text at all) come back whole from the link, and the
        /// link holds nothing but the unreserved characters and escapes.
        #[test]
        fn the_download_round_trips(codes in proptest::collection::vec(".*", 0..12)) {
            let page = BackupCodesPage {
                layout: Layout::bare("Save your backup codes"),
                codes: Some(codes.clone()),
            };
            let href = page.download_href();
            let encoded = href.strip_prefix("data:text/plain;charset=utf-8,").unwrap();
            proptest::prop_assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(&b)));
            let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().unwrap();
            proptest::prop_assert_eq!(decoded, codes.join("\n") + "\n");
        }
    }

    #[test]
    fn a_wrong_code_keeps_the_qr_code_and_the_secret_beside_it() {
        let page = TotpSetupPage {
            layout: Layout::signing_in("Set up authenticator app", "t".into()).notice(Some(
                super::super::Notice::error("That code is not correct."),
            )),
            setup: Some(TotpSetup {
                qr_svg: r#"<svg id="code"></svg>"#.into(),
                secret: "ABCD EFGH".into(),
                issuer: "Clinic: North".into(),
                account: "Dr. Smith: Ortho".into(),
            }),
        };
        let html = page.render().unwrap_or_default();
        assert!(html.contains(r#"id="qr"><svg id="code"></svg>"#), "{html}");
        assert!(html.contains(r#"id="manual-secret">ABCD EFGH<"#), "{html}");
        // The names for manual entry, as given.
        assert!(
            html.contains(r#"id="manual-account">Dr. Smith: Ortho<"#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="manual-issuer">Clinic: North<"#),
            "{html}"
        );
        assert!(html.contains("That code is not correct."), "{html}");
        assert!(html.contains(r#"id="verify-code""#), "{html}");
    }
}

/// "Move an authenticator from another system", when the export holds more
/// than one entry (or none that can move): each entry with what can be done
/// with it.
#[derive(Template)]
#[template(path = "totp_import.html")]
pub(crate) struct TotpImportPage {
    pub layout: Layout,
    pub entries: Vec<ImportRow>,
}

/// One entry of an export.
pub(crate) struct ImportRow {
    pub issuer: String,
    pub account: String,
    /// The entry's own `otpauth://` URI, posted back if it is chosen: only
    /// for an entry that can move, and only for the clinic's own entries if
    /// the export has any, so that the page repeats no other service's
    /// secret it need not (it is never cached).
    pub choice: Option<String>,
    /// What is wrong with it, or a warning about its secret.
    pub note: String,
}
