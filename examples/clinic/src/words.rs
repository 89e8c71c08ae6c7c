//! What the app tells people, in the guide's words: waits, locks, policy
//! reasons and factor errors. Plain text: the templates escape it.

use crate::views::security::ImportRow;
use twofold::{Factor, Lock, Mode, Notice, Reason, SelfUnlockError, Timestamp, TwoFactorError};

/// A wait in words ("30 seconds", "5 minutes").
pub(crate) fn wait(seconds: u64) -> String {
    match seconds {
        0..=1 => "a moment".to_string(),
        2..=119 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// A moment as the pages show it: `2026-05-01 09:30:00 UTC`.
pub(crate) fn when(seconds: u64) -> String {
    Timestamp::from_unix_seconds(seconds)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// An enforcement mode as the Settings page names it.
pub(crate) fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Off => "Off",
        Mode::Optional => "Optional",
        Mode::Required => "Required",
    }
}

/// The dry run of an enforcement change in one sentence, as Settings →
/// Security shows it before the owner confirms: "3 staff will have to set up
/// 2FA at their next sign-in; nobody will be blocked". `blocked` counts whom
/// the change blocks; `already` those who cannot sign in under any mode (a
/// role the policy does not cover), said apart so the sentence stays true.
pub(crate) fn dry_run_summary(must_enroll: usize, blocked: usize, already: usize) -> String {
    let who = |n: usize| match n {
        1 => "1 staff member".to_string(),
        n => format!("{n} staff"),
    };
    let enroll = match must_enroll {
        0 => "Nobody will have to set up 2FA at their next sign-in".to_string(),
        n => format!("{} will have to set up 2FA at their next sign-in", who(n)),
    };
    let blocked = match (blocked, already) {
        (0, 0) => "nobody will be blocked".to_string(),
        (0, already) => format!("nobody new will be blocked ({already} already cannot sign in)"),
        (n, 0) => format!("{} will be blocked", who(n)),
        (n, already) => format!(
            "{} will be blocked ({already} more already cannot sign in)",
            who(n)
        ),
    };
    format!("{enroll}; {blocked}")
}

/// A policy reason in the clinic's words: "clinic" where the library says
/// "organization", and always one sentence with one full stop.
pub(crate) fn reason(reason: &Reason) -> String {
    let text = match reason {
        Reason::EnrollmentRequiredNow => {
            "Your clinic requires two-factor authentication: set it up to continue.".to_string()
        }
        Reason::EnforcedForUser => {
            "Two-factor authentication is required by your clinic and cannot be disabled."
                .to_string()
        }
        Reason::MethodNotAllowed => {
            "Your clinic does not allow this sign-in method for your role.".to_string()
        }
        Reason::OtherOrganization => "That user belongs to another clinic.".to_string(),
        Reason::PasswordAlsoRequired => {
            "Your clinic asks for your password as well: enter it to sign in.".to_string()
        }
        Reason::RoleMayNotChangeEnforcement => {
            "Only an owner can change two-factor enforcement.".to_string()
        }
        other => other.to_string().replace("organization", "clinic"),
    };
    let text = text.trim_end_matches('.');
    format!("{text}.")
}

/// A lock in words for the user who meets it.
pub(crate) fn lock(lock: Lock) -> String {
    match lock {
        Lock::RetryAfter { seconds } => {
            format!("Too many wrong codes. Try again in {}.", wait(seconds))
        }
        Lock::Until { at } => format!(
            "Too many wrong codes. Your account is locked until {}.",
            when(at.as_unix_seconds())
        ),
        _ => "Too many wrong codes. Your account is locked until an owner or admin \
              unlocks it (or resets your 2FA) from Settings → Staff."
            .to_string(),
    }
}

/// A lock in words for the Staff list.
pub(crate) fn lock_state(lock: Lock) -> String {
    match lock {
        Lock::RetryAfter { seconds } => {
            format!("Waiting after wrong codes: next try in {}", wait(seconds))
        }
        Lock::Until { at } => format!("Locked until {}", when(at.as_unix_seconds())),
        _ => "Locked until unlocked or reset".to_string(),
    }
}

/// Self-service unlock: where the sequence stands.
pub(crate) fn unlock_progress(entered: u32, needed: u32) -> String {
    format!("{entered} of {needed} codes entered.")
}

/// Self-service unlock: the time left for the sequence under way.
pub(crate) fn unlock_deadline(seconds: u64) -> String {
    format!("Enter the rest within {}, or start again.", wait(seconds))
}

/// Self-service unlock: the cooldown after a wrong code.
pub(crate) fn unlock_cooldown(seconds: u64) -> String {
    format!(
        "Unlocking is paused after a wrong code. Try again in {}.",
        wait(seconds)
    )
}

/// The locked page is gone: the lock ended, or someone else unlocked it.
pub(crate) const UNLOCK_GONE: &str = "Your account is not locked any more. Sign in again.";

/// Why an unlock code was not taken.
pub(crate) fn unlock_refused(error: &TwoFactorError) -> String {
    match error {
        TwoFactorError::WrongCode => "That code is not correct, so unlocking is paused. Every \
            wrong code also counts toward locking your account until an owner or admin \
            unlocks it."
            .to_string(),
        TwoFactorError::CodeAlreadyUsed => "That code was already used, so unlocking is paused. \
            Each code works once: use only new codes."
            .to_string(),
        TwoFactorError::SelfUnlock(SelfUnlockError::SameStep) => "That code was just entered. \
            Wait for the next code in your app (a new one every 30 seconds) and enter it."
            .to_string(),
        TwoFactorError::SelfUnlock(SelfUnlockError::CoolingDown { retry_after }) => {
            unlock_cooldown(*retry_after)
        }
        TwoFactorError::SelfUnlock(SelfUnlockError::DeadlinePassed) => "That took too long, so \
            the codes entered so far no longer count. Start again with the code your app shows \
            now."
            .to_string(),
        other => explain(other),
    }
}

/// A factor error in words the guide's reader understands.
pub(crate) fn explain(error: &TwoFactorError) -> String {
    match error {
        TwoFactorError::WrongCode => "That code is not correct. If your codes keep being \
            rejected, the time on your phone may be off: sync your phone's clock (set date \
            and time to automatic) and try the next code."
            .to_string(),
        TwoFactorError::ResyncNeeded { drift_steps } => resync(*drift_steps),
        TwoFactorError::CodeAlreadyUsed => {
            "That code was already used. Wait for the next code and enter it.".to_string()
        }
        TwoFactorError::Locked { lock } => self::lock(*lock),
        TwoFactorError::InvalidCode(why) => format!("That code could not be read: {why}."),
        TwoFactorError::NoChallenge | TwoFactorError::Expired => {
            "This step has expired. Start again.".to_string()
        }
        TwoFactorError::NoPendingEnrollment => {
            "There is no setup in progress. Start again: a new QR code will be shown.".to_string()
        }
        TwoFactorError::Denied(reason) => self::reason(reason),
        TwoFactorError::Passkey(error) => format!("The passkey was not accepted: {error}."),
        TwoFactorError::UnknownCredential(_) => "This passkey is not registered here (it may \
            have been removed). Sign in with your email and password."
            .to_string(),
        TwoFactorError::NotEnrolled(what) => format!("You have not set up {what}."),
        other => format!("Something went wrong: {other}."),
    }
}

/// The troubleshooting answer to "6-digit code rejected" when the code was the
/// phone's code for another time: how far off its clock is, and the two ways
/// out (the next code resynchronises; automatic time fixes it for good).
fn resync(drift_steps: i64) -> String {
    // The clinic's codes change every 30 seconds.
    let seconds = drift_steps.unsigned_abs().saturating_mul(30);
    let how_far = if seconds < 120 {
        format!("{seconds} seconds")
    } else {
        format!("about {} minutes", seconds / 60)
    };
    let direction = if drift_steps > 0 { "ahead" } else { "behind" };
    format!(
        "That code is from your phone's clock, which is {how_far} {direction}. Wait for the \
         next code in your authenticator app and enter it: that brings the app back in step \
         and signs you in. To fix it for good, sync your phone's clock (set date and time to \
         automatic)."
    )
}

/// One entry of an authenticator export, for the import page; `offered`:
/// whether it may be chosen (see [`ImportRow::choice`]).
pub(crate) fn import_row(entry: &twofold_totp::ImportEntry, offered: bool) -> ImportRow {
    use twofold_totp::{ImportOutcome, SkipReason, Strength};
    let (uri, note) = match &entry.outcome {
        ImportOutcome::Importable {
            uri,
            strength: Strength::Legacy { bits },
        } => (
            Some(uri),
            format!(
                "Yes. Its secret is {bits} bits, less than the 128 recommended: once it \
                 works, consider setting up the authenticator app again for a stronger one."
            ),
        ),
        ImportOutcome::Importable { uri, .. } => (Some(uri), "Yes.".to_string()),
        ImportOutcome::Skipped(SkipReason::Hotp) => (
            None,
            "No: it counts codes instead of following the time (HOTP).".to_string(),
        ),
        ImportOutcome::Skipped(SkipReason::WeakSecret { bits }) => (
            None,
            format!("No: its secret is only {bits} bits, too weak to keep."),
        ),
        ImportOutcome::Skipped(reason) => (None, format!("No: {reason}.")),
        // A future outcome: shown, never moved.
        _ => (None, "No.".to_string()),
    };
    ImportRow {
        issuer: entry.issuer.clone().unwrap_or_default(),
        account: entry.account.clone(),
        choice: uri.filter(|_| offered).map(|uri| uri.to_uri_string()),
        note,
    }
}

/// A factor as the pages name it.
pub(crate) fn factor(factor: Factor, name: Option<&str>) -> String {
    // A name is the user's own text: in an email body, a line break in it
    // could pass for a line of ours.
    let name = name.map(|name| {
        name.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
    });
    match (factor, name.as_deref()) {
        (Factor::Passkey, Some(name)) => format!("the passkey “{name}”"),
        (Factor::Passkey, None) => "a passkey".to_string(),
        (Factor::Totp, _) => "an authenticator app".to_string(),
        (Factor::BackupCode, _) => "a backup code".to_string(),
    }
}

/// A security notification: its email subject and its sentence (also the
/// Security activity line). `name_of` turns a user id into a name.
pub(crate) fn notice(notice: &Notice, name_of: &dyn Fn(&str) -> String) -> (String, String) {
    let (subject, sentence) = match notice {
        Notice::FactorAdded { factor: f, name } => (
            "A sign-in method was added to your account".to_string(),
            format!(
                "{} was added to your account.",
                capitalized(&factor(*f, name.as_deref()))
            ),
        ),
        Notice::FactorRemoved { factor: f, name } => (
            "A sign-in method was removed from your account".to_string(),
            format!(
                "{} was removed from your account.",
                capitalized(&factor(*f, name.as_deref()))
            ),
        ),
        Notice::TwoFactorDisabled => (
            "Two-factor authentication was turned off".to_string(),
            "Two-factor authentication was turned off for your account.".to_string(),
        ),
        Notice::BackupCodesRegenerated => (
            "New backup codes were created".to_string(),
            "New backup codes were created; the old ones no longer work.".to_string(),
        ),
        Notice::BackupCodeUsed { remaining, low } => (
            "A backup code was used to sign in".to_string(),
            if *low {
                format!(
                    "A backup code was used to sign in. Only {remaining} remain: generate new ones on My Profile → Security."
                )
            } else {
                format!("A backup code was used to sign in; {remaining} remain.")
            },
        ),
        Notice::LockedOut { until } => (
            "Sign-in to your account was locked".to_string(),
            match until {
                Some(at) => format!(
                    "Too many wrong codes: sign-in is locked until {}.",
                    when(at.as_unix_seconds())
                ),
                None => {
                    "Too many wrong codes: sign-in is locked until an administrator unlocks it."
                        .to_string()
                }
            },
        ),
        Notice::AdminReset { actor } => (
            "An administrator reset your two-factor authentication".to_string(),
            format!("{} reset your two-factor authentication.", name_of(actor)),
        ),
        Notice::AdminUnlocked { actor } => (
            "An administrator unlocked your sign-in".to_string(),
            format!("{} unlocked your sign-in.", name_of(actor)),
        ),
        Notice::EnrollmentRequired { deadline } => (
            "Your clinic now requires two-factor authentication".to_string(),
            format!(
                "Your clinic now requires two-factor authentication: set it up by {}.",
                when(deadline.as_unix_seconds())
            ),
        ),
        Notice::SelfUnlocked => (
            "Your sign-in was unlocked with your authenticator app".to_string(),
            "Your sign-in was unlocked with codes from your authenticator app.".to_string(),
        ),
        Notice::BrowserTrusted { label } => (
            "A browser will no longer ask for your code".to_string(),
            format!(
                "A browser ({label}) was trusted: it will not ask for your second factor for a while."
            ),
        ),
        _ => (
            "Security notice".to_string(),
            "Something changed in your account's security.".to_string(),
        ),
    };
    (subject, sentence)
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dry_run_summary_counts_in_words() {
        assert_eq!(
            dry_run_summary(3, 0, 0),
            "3 staff will have to set up 2FA at their next sign-in; nobody will be blocked"
        );
        assert_eq!(
            dry_run_summary(1, 1, 0),
            "1 staff member will have to set up 2FA at their next sign-in; 1 staff member will be blocked"
        );
        assert_eq!(
            dry_run_summary(0, 2, 0),
            "Nobody will have to set up 2FA at their next sign-in; 2 staff will be blocked"
        );
        assert_eq!(
            dry_run_summary(3, 0, 1),
            "3 staff will have to set up 2FA at their next sign-in; nobody new will be blocked (1 already cannot sign in)"
        );
        assert_eq!(
            dry_run_summary(0, 2, 1),
            "Nobody will have to set up 2FA at their next sign-in; 2 staff will be blocked (1 more already cannot sign in)"
        );
    }

    #[test]
    fn reasons_say_clinic_and_end_in_one_full_stop() {
        for reason in [
            Reason::EnrollmentRequiredNow,
            Reason::EnforcedForUser,
            Reason::ReauthenticationRequired,
            Reason::RoleMayNotReset,
            Reason::OtherOrganization,
            Reason::UnknownRole,
            Reason::RoleMayNotChangeEnforcement,
            Reason::NotOffered,
        ] {
            let text = super::reason(&reason);
            assert!(!text.contains("organization"), "{text}");
            assert!(text.ends_with('.') && !text.ends_with(".."), "{text}");
        }
        // The clinic has an owner; the library's words do not assume one.
        assert_eq!(
            super::reason(&Reason::RoleMayNotChangeEnforcement),
            "Only an owner can change two-factor enforcement."
        );
    }

    #[test]
    fn waits_and_locks_in_words() {
        assert_eq!(wait(30), "30 seconds");
        assert_eq!(wait(300), "5 minutes");
        assert_eq!(
            lock_state(Lock::RetryAfter { seconds: 300 }),
            "Waiting after wrong codes: next try in 5 minutes"
        );
        assert_eq!(
            lock_state(Lock::Until {
                at: Timestamp::from_unix_seconds(3600)
            }),
            "Locked until 1970-01-01 01:00:00 UTC"
        );
    }
}
