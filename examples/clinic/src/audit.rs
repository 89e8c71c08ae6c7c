//! The clinic's audit log: twofold's events, and the app's own (wrong
//! passwords), written to the `clinic_events` table and emitted as `tracing`
//! events with their facts as fields.
//! Events carry no secrets; the log never shows a code or a password.
//!
//! twofold's events come in through its `EventSink` (`TwoFactor::with_event_sink`):
//! the facade awaits each one after the change is stored and before the
//! operation returns, so no handler threads events through, and an entry
//! exists when the page answers. Each event is filed under the clinic of the
//! user it concerns, looked up from the user id (an enforcement change names
//! its clinic itself).

use serde_json::Value;
use sqlx::AnyPool;
use twofold::{Event, EventSink, SinkFuture};

use crate::db::{self, AuditEntry, NewAuditEntry, User};
use crate::words;

/// Writes audit entries.
#[derive(Clone)]
pub(crate) struct Audit {
    pool: AnyPool,
}

impl Audit {
    pub(crate) fn new(pool: AnyPool) -> Audit {
        Audit { pool }
    }

    /// Files one of twofold's events under its clinic.
    pub(crate) async fn event(&self, event: &Event) {
        let clinic = match event {
            Event::EnforcementChanged { organization, .. } => organization.clone(),
            _ => match db::user_by_id(&self.pool, event.actor()).await {
                Ok(Some(user)) => user.clinic,
                Ok(None) => {
                    tracing::error!(
                        kind = %event.kind(),
                        actor = %event.actor(),
                        "an audit event for an unknown user"
                    );
                    return;
                }
                Err(error) => {
                    tracing::error!(kind = %event.kind(), %error, "writing the audit log failed");
                    return;
                }
            },
        };
        // The event's own accessors; the JSON form is only the stored detail.
        let detail = serde_json::to_value(event).unwrap_or(Value::Null);
        let actor = event.actor();
        let subject = event.subject().unwrap_or(actor);
        let at = event.at().as_unix_seconds();
        self.append(&clinic, at, event.kind(), actor, subject, &detail)
            .await;
    }

    /// Writes one entry (and emits it as a `tracing` event).
    pub(crate) async fn append(
        &self,
        clinic: &str,
        at: u64,
        event: &str,
        actor: &str,
        subject: &str,
        detail: &Value,
    ) {
        let text = detail.to_string();
        tracing::info!(
            kind = %event,
            organization = %clinic,
            actor = %actor,
            subject = %subject,
            detail = %text,
            "audit event"
        );
        let entry = NewAuditEntry {
            clinic,
            at,
            event,
            actor,
            subject,
            detail: &text,
        };
        if let Err(error) = db::append_audit(&self.pool, &entry).await {
            tracing::error!(kind = %event, %error, "writing the audit log failed");
        }
    }
}

impl EventSink for Audit {
    fn record<'a>(&'a self, event: &'a Event) -> SinkFuture<'a> {
        Box::pin(self.event(event))
    }
}

/// An audit event's name in words a clinic owner reads.
pub(crate) fn event_words(kind: &str) -> &str {
    match kind {
        "sign_in_succeeded" => "Signed in",
        "sign_in_failed" => "Wrong code at sign-in",
        "locked_out" => "Locked out after wrong codes",
        "password_failed" => "Wrong password",
        "password_lockout" => "Password attempts paused",
        "enrollment_begun" => "Started setting up 2FA",
        "enrollment_confirmed" => "Confirmed 2FA setup",
        "factor_added" => "Added a sign-in method",
        "factor_removed" => "Removed a sign-in method",
        "backup_code_used" => "Signed in with a backup code",
        "backup_codes_created" => "Backup codes created",
        "backup_codes_regenerated" => "Backup codes regenerated",
        "two_factor_disabled" => "Turned off 2FA",
        "admin_reset" => "2FA reset by an owner or admin",
        "unlocked" => "Unlocked by an owner or admin",
        "self_unlock_progress" => "Entered a code to unlock",
        "self_unlock_failed" => "Wrong code while unlocking",
        "self_unlocked" => "Unlocked with codes from their app",
        "user_forgotten" => "Account deleted",
        "enforcement_changed" => "2FA enforcement changed",
        "browser_trusted" => "Trusted a browser",
        "trusted_browser_used" => "Signed in on a trusted browser",
        "trusted_browser_revoked" => "A browser is no longer trusted",
        "trusted_browsers_changed" => "Trusted-browser days changed",
        other => other,
    }
}

/// The event names an owner can filter by.
pub(crate) const KINDS: [&str; 24] = [
    "sign_in_succeeded",
    "sign_in_failed",
    "locked_out",
    "password_failed",
    "password_lockout",
    "enrollment_begun",
    "enrollment_confirmed",
    "factor_added",
    "factor_removed",
    "backup_code_used",
    "backup_codes_created",
    "backup_codes_regenerated",
    "two_factor_disabled",
    "admin_reset",
    "unlocked",
    "self_unlock_progress",
    "self_unlock_failed",
    "self_unlocked",
    "user_forgotten",
    "enforcement_changed",
    "browser_trusted",
    "trusted_browser_used",
    "trusted_browser_revoked",
    "trusted_browsers_changed",
];

/// The fields of an event's detail that the table shows, and their names there.
const DETAILS: [(&str, &str); 13] = [
    ("reason", "reason"),
    ("label", "browser"),
    ("role", "role"),
    ("days", "days"),
    ("factor", "method"),
    ("name", "name"),
    ("from", "from"),
    ("to", "to"),
    ("remaining", "codes left"),
    ("failures", "failures in a row"),
    ("address", "address"),
    ("entered", "codes entered"),
    ("needed", "codes needed"),
];

/// A detail's value in words: factors and enforcement modes by their names
/// on the pages (`authenticator app`, `Required`), anything else as it is.
fn value_words<'a>(key: &str, value: &'a str) -> &'a str {
    match (key, value) {
        ("factor", "totp") => "authenticator app",
        ("factor", "passkey") => "passkey",
        ("factor", "backup_code") => "backup code",
        ("from" | "to", "off") => "Off",
        ("from" | "to", "optional") => "Optional",
        ("from" | "to", "required") => "Required",
        ("reason", "factor_changed") => "sign-in methods changed",
        ("reason", "two_factor_disabled") => "2FA turned off",
        ("reason", "admin_reset") => "2FA reset",
        ("reason", "removed") => "forgotten",
        ("reason", "forget_all") => "all browsers forgotten",
        ("reason", "reuse_detected") => "an old copy of its cookie was used",
        ("reason", "evicted") => "more than 10 trusted browsers",
        (_, value) => value,
    }
}

/// One line of an audit table, in words.
pub(crate) struct Row {
    /// When, as the pages show times.
    pub at: String,
    /// The event's name (`admin_reset`), for `data-event`.
    pub event: String,
    /// The event in words.
    pub words: String,
    /// Who acted, by name.
    pub who: String,
    /// The rest: whom it concerns, the reason, the factor, …
    pub details: String,
}

/// Entries as table rows; `name_of` turns user ids into names.
/// Names people by their id among `staff` (the id itself if not found).
pub(crate) fn name_in(staff: &[User]) -> impl Fn(&str) -> String + '_ {
    |id: &str| {
        staff
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_string(), |u| u.name.clone())
    }
}

pub(crate) fn rows(entries: &[AuditEntry], name_of: &dyn Fn(&str) -> String) -> Vec<Row> {
    entries
        .iter()
        .map(|entry| {
            let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
            let mut details = Vec::new();
            if entry.subject != entry.actor && !entry.subject.is_empty() {
                details.push(format!("for: {}", name_of(&entry.subject)));
            }
            for (key, label) in DETAILS {
                match detail.get(key) {
                    Some(Value::String(text)) => {
                        details.push(format!("{label}: {}", value_words(key, text)));
                    }
                    Some(Value::Number(n)) => details.push(format!("{label}: {n}")),
                    _ => {}
                }
            }
            Row {
                at: words::when(entry.at),
                event: entry.event.clone(),
                words: event_words(&entry.event).to_string(),
                who: name_of(&entry.actor),
                details: details.join("; "),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filterable_kind_has_words() {
        for kind in KINDS {
            assert_ne!(event_words(kind), kind, "{kind}");
        }
    }

    #[test]
    fn details_are_in_words() {
        let entry = AuditEntry {
            at: 0,
            event: "enforcement_changed".into(),
            actor: "a1".into(),
            subject: "a1".into(),
            detail: r#"{"from":"optional","to":"required","factor":"totp"}"#.into(),
        };
        let rows = rows(&[entry], &|id: &str| id.to_string());
        assert_eq!(
            rows.first().map(|row| row.details.as_str()),
            Some("method: authenticator app; from: Optional; to: Required")
        );
    }

    #[test]
    fn rows_name_the_people_and_keep_the_reason() {
        let entry = AuditEntry {
            at: 0,
            event: "admin_reset".into(),
            actor: "a1".into(),
            subject: "s1".into(),
            detail:
                r#"{"event":"admin_reset","actor":"a1","target":"s1","reason":"lost phone","at":0}"#
                    .into(),
        };
        let name_of = |id: &str| match id {
            "a1" => "Adam Admin".to_string(),
            _ => "Sara Staff".to_string(),
        };
        let rows = rows(&[entry], &name_of);
        assert_eq!(rows.len(), 1);
        let row = rows
            .first()
            .map(|row| (row.who.as_str(), row.details.as_str()));
        assert_eq!(
            row,
            Some(("Adam Admin", "for: Sara Staff; reason: lost phone"))
        );
    }
}
