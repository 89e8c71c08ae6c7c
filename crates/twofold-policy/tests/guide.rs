//! Every row of the clinic's 2FA guide that concerns policy, as a table test.
//! (`shared/guide/two-factor-authentication.md`: steps 6 and 8, the expected
//! outcomes, and the troubleshooting rows on lost phones and disabling 2FA.)
#![cfg(test)]

use twofold_policy::{
    Method, Methods, Mode, Permission, Policy, Reason, ResetPermission, Rule, SignIn, Throttle,
    Timestamp, UserFacts,
};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn clinic() -> Policy {
    Policy::example_clinic().unwrap()
}

fn with_totp<'a>(user: &'a str, role: &'a str) -> UserFacts<'a> {
    UserFacts {
        enrolled: Method::Totp.into(),
        has_backup_codes: true,
        ..UserFacts::new(user, role)
    }
}

#[test]
fn step_6_after_the_password_an_enrolled_user_is_asked_for_the_code() {
    let policy = clinic();
    for role in ["owner", "admin", "staff"] {
        let decision = policy.sign_in(&with_totp("u", role), NOW);
        assert_eq!(
            decision.outcome,
            SignIn::Challenge {
                methods: Method::Totp.into(),
                recovery: true
            },
            "{role}"
        );
        assert_eq!(decision.reason, Reason::FactorEnrolled);
    }
    // Before enforcement, a user without 2FA signs in with the password alone.
    let decision = policy.sign_in(&UserFacts::new("u", "staff"), NOW);
    assert_eq!(decision.outcome, SignIn::Allow);
    assert_eq!(decision.reason, Reason::NotRequired);
}

#[test]
fn expected_outcome_an_enrolled_account_requires_2fa_on_every_sign_in() {
    let policy = clinic();
    let facts = UserFacts {
        enrolled: Methods::ALL,
        ..UserFacts::new("ana", "staff")
    };
    for day in 0..30 {
        let now = NOW.plus_seconds(day * 86_400);
        assert!(
            matches!(policy.sign_in(&facts, now).outcome, SignIn::Challenge { methods, recovery: false } if methods == Methods::ALL)
        );
    }
}

#[test]
fn step_7_a_passkey_counts_as_a_second_factor_too() {
    let policy = clinic().with_mode(Mode::Required).unwrap();
    let facts = UserFacts {
        enrolled: Method::Passkey.into(),
        ..UserFacts::new("ana", "staff")
    };
    assert_eq!(
        policy.sign_in(&facts, NOW).outcome,
        SignIn::Challenge {
            methods: Method::Passkey.into(),
            recovery: false
        }
    );
}

#[test]
fn step_8_only_the_owner_may_enforce_2fa_for_everyone() {
    let policy = clinic();
    let owner = with_totp("olga", "owner");
    let allowed = policy.change_enforcement(&owner, Mode::Required);
    assert_eq!(allowed.outcome, Permission::Allowed);
    assert_eq!(policy.rule_path(allowed.rule), "roles.owner");
    for role in ["admin", "staff"] {
        let decision = policy.change_enforcement(&with_totp("x", role), Mode::Required);
        assert_eq!(
            (decision.outcome, decision.reason),
            (Permission::Denied, Reason::RoleMayNotChangeEnforcement),
            "{role}"
        );
    }
    // The owner cannot lock themselves out: no second factor, no enforcement.
    let bare_owner = UserFacts::new("olga", "owner");
    let refused = policy.change_enforcement(&bare_owner, Mode::Required);
    assert_eq!(
        (refused.outcome, refused.reason),
        (Permission::Denied, Reason::ActorHasNoSecondFactor)
    );
    // Relaxing needs no factor.
    assert_eq!(
        policy
            .change_enforcement(&bare_owner, Mode::Optional)
            .outcome,
        Permission::Allowed
    );
}

#[test]
fn step_8_after_enforcement_every_user_must_enable_2fa_on_their_next_sign_in() {
    let policy = clinic().with_mode(Mode::Required).unwrap();
    for role in ["owner", "admin", "staff"] {
        let decision = policy.sign_in(&UserFacts::new("new", role), NOW);
        assert_eq!(
            decision.outcome,
            SignIn::MustEnroll {
                deadline: NOW,
                methods: Methods::ALL,
                can_defer: false
            },
            "{role}"
        );
        assert_eq!(decision.reason, Reason::EnrollmentRequiredNow);
        assert_eq!(policy.rule_path(decision.rule), "enforcement");
    }
    // Users who already have a factor are simply challenged.
    assert!(matches!(
        policy.sign_in(&with_totp("u", "staff"), NOW).outcome,
        SignIn::Challenge { .. }
    ));
}

#[test]
fn troubleshooting_owner_enforced_but_staff_cannot_enable_a_retry_is_still_offered() {
    // A failed setup leaves the user without a factor; the next sign-in sends them
    // into setup again (a new QR), rather than blocking them.
    let policy = clinic().with_mode(Mode::Required).unwrap();
    let staff = UserFacts {
        first_sign_in_since_enforcement: Some(NOW),
        ..UserFacts::new("sam", "staff")
    };
    let later = NOW.plus_seconds(600);
    assert!(matches!(
        policy.sign_in(&staff, later).outcome,
        SignIn::MustEnroll {
            can_defer: false,
            ..
        }
    ));
    assert!(policy.enrollment_offered("staff"));
}

#[test]
fn troubleshooting_lost_phone_an_owner_or_admin_can_disable_2fa_from_settings_staff() {
    let policy = clinic();
    let cases = [
        // (actor, actor role, target, target role, expected, reason)
        ("olga", "owner", "sam", "staff", true, Reason::Permitted),
        ("olga", "owner", "adam", "admin", true, Reason::Permitted),
        ("adam", "admin", "sam", "staff", true, Reason::Permitted),
        (
            "adam",
            "admin",
            "ada",
            "admin",
            false,
            Reason::RoleMayNotReset,
        ),
        (
            "adam",
            "admin",
            "olga",
            "owner",
            false,
            Reason::RoleMayNotReset,
        ),
        (
            "sam",
            "staff",
            "sue",
            "staff",
            false,
            Reason::RoleMayNotReset,
        ),
        (
            "olga",
            "owner",
            "olga",
            "owner",
            false,
            Reason::CannotResetSelf,
        ),
        (
            "adam",
            "admin",
            "adam",
            "admin",
            false,
            Reason::CannotResetSelf,
        ),
    ];
    for (actor, actor_role, target, target_role, allowed, reason) in cases {
        let decision = policy.admin_reset(
            &with_totp(actor, actor_role),
            &with_totp(target, target_role),
            "lost phone, identity checked in person",
            NOW,
        );
        assert_eq!(
            matches!(decision.outcome, ResetPermission::Allowed { .. }),
            allowed,
            "{actor} -> {target}"
        );
        assert_eq!(decision.reason, reason, "{actor} -> {target}");
    }
    let no_reason = policy.admin_reset(
        &with_totp("olga", "owner"),
        &with_totp("sam", "staff"),
        "  ",
        NOW,
    );
    assert_eq!(
        (no_reason.outcome, no_reason.reason),
        (ResetPermission::Denied, Reason::ReasonRequired)
    );
}

#[test]
fn after_a_reset_under_enforcement_the_user_must_enroll_at_the_next_sign_in() {
    let policy = clinic().with_mode(Mode::Required).unwrap();
    let reset = policy.admin_reset(
        &with_totp("olga", "owner"),
        &with_totp("sam", "staff"),
        "lost phone",
        NOW,
    );
    assert_eq!(
        reset.outcome,
        ResetPermission::Allowed {
            must_enroll_at_next_sign_in: true
        }
    );
    let after = UserFacts::new("sam", "staff");
    assert!(matches!(
        policy.sign_in(&after, NOW).outcome,
        SignIn::MustEnroll {
            can_defer: false,
            ..
        }
    ));

    let optional = clinic();
    let reset = optional.admin_reset(
        &with_totp("olga", "owner"),
        &with_totp("sam", "staff"),
        "lost phone",
        NOW,
    );
    assert_eq!(
        reset.outcome,
        ResetPermission::Allowed {
            must_enroll_at_next_sign_in: false
        }
    );
}

#[test]
fn troubleshooting_disable_2fa_is_possible_if_not_enforced_after_re_entering_the_password() {
    let optional = clinic();
    let ana = with_totp("ana", "staff");
    let fresh = optional.self_disable(&ana, Some(NOW.plus_seconds(0)), NOW.plus_seconds(60));
    assert_eq!(
        (fresh.outcome, fresh.rule),
        (Permission::Allowed, Rule::SelfDisable)
    );
    for reauthenticated in [None, Some(NOW), Some(NOW.plus_seconds(10_000))] {
        let now = NOW.plus_seconds(301);
        let decision = optional.self_disable(&ana, reauthenticated, now);
        assert_eq!(
            (decision.outcome, decision.reason),
            (Permission::Denied, Reason::ReauthenticationRequired),
            "{reauthenticated:?}"
        );
    }
    let required = clinic().with_mode(Mode::Required).unwrap();
    let decision = required.self_disable(&ana, Some(NOW), NOW);
    assert_eq!(
        (decision.outcome, decision.reason),
        (Permission::Denied, Reason::EnforcedForUser)
    );
    assert_eq!(
        decision.reason.to_string(),
        "Two-factor authentication is required by your organization and cannot be disabled."
    );
}

#[test]
fn troubleshooting_wrong_codes_back_off_then_lock_out_with_the_time_to_wait() {
    let policy = clinic(); // 10 failures, then one hour
    assert_eq!(policy.throttle(0, None, NOW).outcome, Throttle::Allowed);
    assert_eq!(
        policy.throttle(3, Some(NOW), NOW).outcome,
        Throttle::Allowed
    );
    assert_eq!(
        policy.throttle(4, Some(NOW), NOW.plus_seconds(10)).outcome,
        Throttle::RetryAfter { seconds: 20 }
    );
    assert_eq!(
        policy.throttle(4, Some(NOW), NOW.plus_seconds(30)).outcome,
        Throttle::Allowed
    );
    let locked = policy.throttle(10, Some(NOW), NOW.plus_seconds(5));
    assert_eq!(
        locked.outcome,
        Throttle::Locked {
            until: Some(NOW.plus_seconds(3600))
        }
    );
    assert_eq!(
        locked.reason.to_string(),
        "Too many incorrect codes: your account is locked."
    );
    assert_eq!(
        policy
            .throttle(10, Some(NOW), NOW.plus_seconds(3600))
            .reason,
        Reason::LockoutEnded
    );
}

#[test]
fn after_100_consecutive_failures_only_an_administrator_opens_the_account() {
    let policy = clinic();
    let last = NOW;
    // Up to the ceiling, a timed lockout ends by itself.
    let day_later = NOW.plus_seconds(86_400);
    assert_eq!(
        policy.throttle(99, Some(last), day_later).outcome,
        Throttle::Allowed
    );
    // At the ceiling it does not, however long the wait.
    let decision = policy.throttle(100, Some(last), NOW.plus_seconds(10 * 365 * 86_400));
    assert_eq!(decision.outcome, Throttle::Locked { until: None });
    assert_eq!(decision.reason, Reason::FailureCeiling);
    // The owner may unlock staff and admins; an admin may unlock staff only.
    let unlock = |actor: &str, target: &str| {
        policy
            .admin_unlock(
                &UserFacts::new("actor", actor),
                &UserFacts::new("target", target),
                "locked out by a phishing attempt",
            )
            .outcome
    };
    assert_eq!(unlock("owner", "admin"), Permission::Allowed);
    assert_eq!(unlock("owner", "staff"), Permission::Allowed);
    assert_eq!(unlock("admin", "staff"), Permission::Allowed);
    assert_eq!(unlock("admin", "owner"), Permission::Denied);
    assert_eq!(unlock("staff", "staff"), Permission::Denied);
}

#[test]
fn outcomes_are_ordered_from_least_to_most_restrictive() {
    let deadline = NOW;
    let outcomes = [
        SignIn::Allow,
        SignIn::Challenge {
            methods: Methods::ALL,
            recovery: true,
        },
        SignIn::MustEnroll {
            deadline,
            methods: Methods::ALL,
            can_defer: true,
        },
        SignIn::MustEnroll {
            deadline,
            methods: Methods::ALL,
            can_defer: false,
        },
        SignIn::Blocked,
    ];
    let ranks: Vec<u8> = outcomes.iter().map(SignIn::strictness).collect();
    assert_eq!(ranks, [0, 1, 2, 3, 4]);
}
