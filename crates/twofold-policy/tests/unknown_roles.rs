//! The neutral default policy, and roles a policy does not name: refused by
//! default when the policy names roles, accepted under the organization's rule
//! when it names none or says so; never a weaker rule than intended, never the
//! "optional for your account" message to someone who cannot sign in.
#![cfg(test)]

use twofold_policy::{
    Method, Mode, Permission, Policy, PolicyDocument, PolicyError, Reason, SignIn, Timestamp,
    UnknownRoles, UserFacts,
};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);
const OPTIONAL: &str = "Two-factor authentication is optional for your account.";

fn neutral() -> Policy {
    Policy::from_document(PolicyDocument::default()).unwrap()
}

#[test]
fn the_neutral_default_lets_every_role_sign_in_and_set_up_either_factor() {
    let document = PolicyDocument::default();
    assert!(document.roles.is_empty());
    assert_eq!(document.enforcement.mode, Mode::Optional);
    assert_eq!(document.unknown_role_rule(), UnknownRoles::Organization);
    let policy = neutral();
    for role in ["member", "staff", "owner", "billing-team"] {
        let decision = policy.sign_in(&UserFacts::new("u", role), NOW);
        assert_eq!(
            (decision.outcome, decision.reason),
            (SignIn::Allow, Reason::NotRequired),
            "{role}"
        );
        assert_eq!(decision.reason.to_string(), OPTIONAL);
        assert_eq!(policy.rule_path(decision.rule), "enforcement");
        for method in Method::ALL {
            let setup = policy.enrollment(role, method);
            assert_eq!(
                (setup.outcome, setup.reason),
                (Permission::Allowed, Reason::Permitted)
            );
        }
        assert!(policy.enrollment_offered(role));
        let enrolled = UserFacts {
            enrolled: Method::Totp.into(),
            ..UserFacts::new("u", role)
        };
        assert!(matches!(
            policy.sign_in(&enrolled, NOW).outcome,
            SignIn::Challenge { .. }
        ));
        // Nobody holds power over anyone under the neutral policy, and is told
        // so, not that their role is unknown.
        assert!(!policy.may_change_enforcement(role));
        assert!(!policy.may_reset(role, "member") && !policy.may_unlock(role, "member"));
        let actor = UserFacts::new("a", role);
        let change = policy.change_enforcement(&actor, Mode::Required);
        assert_eq!(
            (change.outcome, change.reason),
            (Permission::Denied, Reason::RoleMayNotChangeEnforcement)
        );
        assert_eq!(
            change.reason.to_string(),
            "Your role may not change two-factor enforcement."
        );
        let target = UserFacts::new("t", "member");
        let reset = policy.admin_reset(&actor, &target, "lost phone", NOW);
        assert_eq!(reset.reason, Reason::RoleMayNotReset);
        let unlock = policy.admin_unlock(&actor, &target, "locked");
        assert_eq!(unlock.reason, Reason::RoleMayNotUnlock);
    }
}

/// The issue's case: a `member` under a policy that names other roles.
#[test]
fn under_the_clinic_policy_a_member_is_refused_and_told_why() {
    let policy = Policy::example_clinic().unwrap();
    let member = UserFacts::new("mo", "member");
    let decision = policy.sign_in(&member, NOW);
    assert_eq!(
        (decision.outcome, decision.reason),
        (SignIn::Blocked, Reason::UnknownRole)
    );
    for method in Method::ALL {
        let setup = policy.enrollment("member", method);
        assert_eq!(
            (setup.outcome, setup.reason),
            (Permission::Denied, Reason::UnknownRole)
        );
        assert!(!setup.reason.to_string().contains("optional"));
    }
    assert!(decision.reason.to_string().contains("not covered"));
    assert_eq!(policy.dry_run(&[member], NOW).blocked.len(), 1);
    // A member may do nothing to others, for want of a role; an owner may do
    // nothing to a member, for want of the power.
    let owner = UserFacts::new("olga", "owner");
    assert_eq!(
        policy.change_enforcement(&member, Mode::Off).reason,
        Reason::UnknownRole
    );
    assert_eq!(
        policy.admin_reset(&member, &owner, "r", NOW).reason,
        Reason::UnknownRole
    );
    assert_eq!(
        policy.admin_unlock(&member, &owner, "r").reason,
        Reason::UnknownRole
    );
    assert_eq!(
        policy.admin_reset(&owner, &member, "r", NOW).reason,
        Reason::RoleMayNotReset
    );
    assert_eq!(
        policy.admin_unlock(&owner, &member, "r").reason,
        Reason::RoleMayNotUnlock
    );
    // The clinic's own roles are unaffected.
    assert_eq!(
        policy.enrollment("staff", Method::Totp).outcome,
        Permission::Allowed
    );
}

/// An attacker (or a typo) with a role spelt unlike the one that tightens the
/// rule must not slip under the organization's looser rule.
#[test]
fn a_misspelt_role_never_gets_a_weaker_rule_than_intended() {
    let strict_admins = r#"
        version = 1
        [enforcement]
        mode = "optional"
        [roles.admin]
        enforcement = "required"
    "#;
    let policy = Policy::from_toml(strict_admins).unwrap();
    assert!(matches!(
        policy.sign_in(&UserFacts::new("a", "admin"), NOW).outcome,
        SignIn::MustEnroll { .. }
    ));
    for spelling in ["Admin", "admin ", "ADMIN", "admins", ""] {
        let decision = policy.sign_in(&UserFacts::new("a", spelling), NOW);
        assert_eq!(decision.outcome, SignIn::Blocked, "{spelling:?}");
        assert_ne!(decision.reason.to_string(), OPTIONAL);
    }
    // Accepting unknown roles is an explicit choice, and gives the floor.
    let accepting = Policy::from_toml(&strict_admins.replace(
        "version = 1",
        "version = 1\nunknown_roles = \"organization\"",
    ))
    .unwrap();
    let decision = accepting.sign_in(&UserFacts::new("a", "Admin"), NOW);
    assert_eq!(
        (decision.outcome, decision.reason),
        (SignIn::Allow, Reason::NotRequired)
    );
    let required = Policy::from_toml(
        "version = 1\nunknown_roles = \"organization\"\n[enforcement]\nmode = \"required\"\n[roles.staff]",
    )
    .unwrap();
    assert!(matches!(
        required
            .sign_in(&UserFacts::new("m", "member"), NOW)
            .outcome,
        SignIn::MustEnroll {
            can_defer: false,
            ..
        }
    ));
    assert!(required.enforcement_applies(&UserFacts::new("m", "member"), NOW));
}

#[test]
fn unknown_roles_is_read_written_and_checked() {
    let organization =
        Policy::from_toml("version = 1\nunknown_roles = \"organization\"\n[roles.staff]").unwrap();
    assert_eq!(
        organization.document().unknown_roles,
        Some(UnknownRoles::Organization)
    );
    for text in [organization.to_toml(), organization.to_json()] {
        let again = Policy::from_toml(&text)
            .or_else(|_| Policy::from_json(&text))
            .unwrap();
        assert_eq!(again, organization, "{text}");
    }
    // Absent, it stays absent, and its meaning follows the roles.
    let clinic = Policy::example_clinic().unwrap();
    assert!(!clinic.to_toml().contains("unknown_roles"));
    assert_eq!(clinic.document().unknown_role_rule(), UnknownRoles::Refuse);
    // Refusing every role is refused.
    let refuse_all = Policy::from_toml("version = 1\nunknown_roles = \"refuse\"").unwrap_err();
    assert!(
        matches!(&refuse_all, PolicyError::Invalid { field, .. } if field == "unknown_roles"),
        "{refuse_all:?}"
    );
    let odd = Policy::from_toml("version = 1\nunknown_roles = \"maybe\"").unwrap_err();
    assert!(matches!(odd, PolicyError::Syntax { .. }), "{odd:?}");
}

/// Setup is refused with the reason that applies: never "optional".
#[test]
fn setup_is_refused_with_the_reason_that_applies() {
    let off = Policy::from_toml("version = 1\n[enforcement]\nmode = \"off\"").unwrap();
    let decision = off.enrollment("member", Method::Totp);
    assert_eq!(
        (decision.outcome, decision.reason),
        (Permission::Denied, Reason::NotOffered)
    );
    assert_eq!(
        decision.reason.to_string(),
        "Your organization does not offer two-factor authentication."
    );
    assert_eq!(off.rule_path(decision.rule), "enforcement");
    // A role that requires 2FA where the organization has it off is offered it.
    let strict = Policy::from_toml(
        "version = 1\n[enforcement]\nmode = \"off\"\n[roles.admin]\nenforcement = \"required\"",
    )
    .unwrap();
    assert_eq!(
        strict.enrollment("admin", Method::Passkey).outcome,
        Permission::Allowed
    );
    let narrowed =
        Policy::from_toml("version = 1\n[roles.staff]\nmethods = [\"passkey\"]").unwrap();
    let decision = narrowed.enrollment("staff", Method::Totp);
    assert_eq!(
        (decision.outcome, decision.reason),
        (Permission::Denied, Reason::MethodNotAllowed)
    );
    assert_eq!(narrowed.rule_path(decision.rule), "roles.staff");
    let allowed = narrowed.enrollment("staff", Method::Passkey);
    assert_eq!(
        (allowed.outcome, allowed.reason),
        (Permission::Allowed, Reason::Permitted)
    );
    let only_totp = Policy::from_toml("version = 1\n[enforcement]\nmethods = [\"totp\"]").unwrap();
    let decision = only_totp.enrollment("member", Method::Passkey);
    assert_eq!(decision.reason, Reason::MethodNotAllowed);
    assert_eq!(only_totp.rule_path(decision.rule), "enforcement");
}
