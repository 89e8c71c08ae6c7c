//! Settings: Security (enforcement and the user's own 2FA), Staff, and the
//! audit log.

use askama::Template;

use super::Layout;
use super::security::Panel;
use crate::audit;

/// `/settings/security`.
#[derive(Template)]
#[template(path = "settings_security.html")]
pub(crate) struct SettingsSecurityPage {
    pub layout: Layout,
    /// The clinic's enforcement mode ("Optional").
    pub mode: &'static str,
    /// The modes to choose from, if this user may change it (the owner).
    pub modes: Option<Vec<Choice>>,
    /// The clinic's cap on trusted browsers, in days (0: forbidden).
    pub trusted_days: u32,
    /// Each role's days, as the policy gives them.
    pub trusted_roles: Vec<RoleDays>,
    /// Whether this user may change them (the owner).
    pub trusted_editable: bool,
    /// The dry run of the enforcement change the owner chose, before they
    /// confirm it.
    pub preview: Option<EnforcementPreview>,
    pub panel: Panel,
}

/// A pending enforcement change and whom it affects.
pub(crate) struct EnforcementPreview {
    /// The mode now ("Optional").
    pub from: &'static str,
    /// The mode chosen ("Required"): the form's value and its name.
    pub to: &'static str,
    /// "3 staff will have to set up 2FA at their next sign-in; nobody will be blocked".
    pub summary: String,
    /// Why the owner may not make this change (no second factor of their
    /// own), instead of a summary and a button to confirm.
    pub refused: Option<String>,
    /// Whether the change would block anyone (the summary is then a warning).
    pub blocks: bool,
    /// Each member the change affects, or who is exempt from it.
    pub rows: Vec<PreviewRow>,
}

/// A member in the preview.
pub(crate) struct PreviewRow {
    pub name: String,
    pub role: String,
    /// `enroll`, `blocked`, `blocked already` or `exempt` (its row's classes).
    pub kind: &'static str,
    /// What happens at their next sign-in.
    pub what: String,
}

/// How long one role's users may trust a browser.
pub(crate) struct RoleDays {
    pub role: String,
    pub days: u32,
}

/// `/settings/staff`.
#[derive(Template)]
#[template(path = "staff.html")]
pub(crate) struct StaffPage {
    pub layout: Layout,
    pub staff: Vec<StaffRow>,
}

/// One member of staff.
pub(crate) struct StaffRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub state: StaffState,
    /// "authenticator app, 1 passkey(s), 10 backup codes".
    pub factors: String,
    /// Whether the viewer may unlock them (they are locked, and the policy allows).
    pub unlock: bool,
    /// Whether the viewer may disable their 2FA.
    pub reset: bool,
    /// Every factor they have or had.
    pub history: Vec<super::security::HistoryRow>,
}

/// A member's 2FA state, as a badge.
pub(crate) struct StaffState {
    /// The badge's colour: `on`, `off`, `warn` or `locked`.
    pub badge: &'static str,
    /// The badge's words ("On", "Locked until …").
    pub label: String,
    /// Words after the badge ("(must set up at next sign-in)").
    pub note: Option<&'static str>,
}

/// `/settings/audit`.
#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditPage {
    pub layout: Layout,
    /// The filter's choices: (value, label, chosen).
    pub users: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub rows: Vec<audit::Row>,
    /// The filter, for the page links.
    pub user: String,
    pub kind: String,
    /// The newer and older pages, if any.
    pub newer: Option<u64>,
    pub older: Option<u64>,
}

/// An option of a `<select>`.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
}
