//! `Reason::code` is a stable interface for programs and other languages (the
//! command-line tool's JSON, the Python binding): each reason has one code,
//! no two share one, and none changes once published.
#![cfg(test)]

use std::collections::HashSet;

use twofold_policy::{Reason, Timestamp};

#[test]
fn every_reason_has_its_own_published_code() {
    let at = Timestamp::from_unix_seconds(1_800_000_000);
    let published = [
        (Reason::NotRequired, "not_required"),
        (Reason::FactorEnrolled, "factor_enrolled"),
        (Reason::Exempt, "exempt"),
        (Reason::RequiredFrom(at), "required_from"),
        (Reason::EnrollmentDue(at), "enrollment_due"),
        (Reason::EnrollmentRequiredNow, "enrollment_required_now"),
        (Reason::UnknownRole, "unknown_role"),
        (Reason::EnforcedForUser, "enforced_for_user"),
        (
            Reason::ReauthenticationRequired,
            "reauthentication_required",
        ),
        (Reason::CannotResetSelf, "cannot_reset_self"),
        (Reason::ReasonRequired, "reason_required"),
        (Reason::RoleMayNotReset, "role_may_not_reset"),
        (
            Reason::RoleMayNotChangeEnforcement,
            "role_may_not_change_enforcement",
        ),
        (Reason::ActorHasNoSecondFactor, "actor_has_no_second_factor"),
        (Reason::Permitted, "permitted"),
        (Reason::UnderLimit, "under_limit"),
        (Reason::BackingOff, "backing_off"),
        (Reason::LockedOut, "locked_out"),
        (Reason::LockoutEnded, "lockout_ended"),
        (Reason::FailureCeiling, "failure_ceiling"),
        (Reason::MethodNotAllowed, "method_not_allowed"),
        (Reason::OtherOrganization, "other_organization"),
        (Reason::RoleMayNotUnlock, "role_may_not_unlock"),
        (Reason::NotOffered, "not_offered"),
        (Reason::PasswordAlsoRequired, "password_also_required"),
        (Reason::SelfUnlockNotAllowed, "self_unlock_not_allowed"),
        (Reason::SelfUnlocked, "self_unlocked"),
        (Reason::TrustedBrowser, "trusted_browser"),
    ];
    let mut seen = HashSet::new();
    for (reason, code) in published {
        assert_eq!(reason.code(), code, "{reason:?}");
        assert!(seen.insert(code), "{code} is used twice");
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
}
