//! Self-service unlock: who may, its numbers and their validation, and the
//! throttle after an unlock (the ceiling counts every failure).
#![cfg(test)]

use proptest::prelude::*;
use twofold_policy::{
    Lockout, Permission, Policy, PolicyDocument, PolicyError, Reason, Rule, SelfUnlockDocument,
    Throttle, ThrottleDocument, Timestamp,
};

fn invalid_field(error: PolicyError) -> String {
    match error {
        PolicyError::Invalid { field, .. } => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn an_old_document_gets_the_defaults() {
    let policy = Policy::from_toml(
        r#"
        version = 1
        [roles.staff]
        "#,
    )
    .unwrap();
    let rules = policy.self_unlock_rules();
    assert_eq!(
        (rules.codes, rules.cooldown_seconds, rules.deadline_seconds),
        (3, 300, 600)
    );
    let staff = policy.self_unlock("staff");
    assert_eq!(
        (staff.outcome, staff.reason, staff.rule),
        (Permission::Allowed, Reason::Permitted, Rule::SelfUnlock)
    );
    assert_eq!(policy.rule_path(staff.rule), "self_unlock");
    assert_eq!(
        PolicyDocument::default().self_unlock,
        SelfUnlockDocument::default()
    );
    // Written only when it differs from the defaults: old documents stay as they were.
    assert!(
        !policy.to_toml().contains("self_unlock"),
        "{}",
        policy.to_toml()
    );
    let changed = Policy::from_toml("version = 1\n[self_unlock]\ncodes = 4\n").unwrap();
    assert!(
        changed.to_toml().contains("[self_unlock]"),
        "{}",
        changed.to_toml()
    );
}

#[test]
fn the_numbers_are_read_and_round_trip() {
    let policy = Policy::from_toml(
        r#"
        version = 1
        [self_unlock]
        codes = 4
        cooldown_seconds = 60
        deadline_seconds = 900
        "#,
    )
    .unwrap();
    let rules = policy.self_unlock_rules();
    assert_eq!(
        (rules.codes, rules.cooldown_seconds, rules.deadline_seconds),
        (4, 60, 900)
    );
    assert_eq!(Policy::from_toml(&policy.to_toml()).unwrap(), policy);
    assert_eq!(Policy::from_json(&policy.to_json()).unwrap(), policy);
}

#[test]
fn a_role_can_forbid_but_never_allow_against_the_organization() {
    let policy = Policy::from_toml(
        r#"
        version = 1
        [roles.owner]
        self_unlock = false
        [roles.staff]
        self_unlock = true
        [roles.nurse]
        "#,
    )
    .unwrap();
    let owner = policy.self_unlock("owner");
    assert_eq!(
        (owner.outcome, owner.reason),
        (Permission::Denied, Reason::SelfUnlockNotAllowed)
    );
    assert_eq!(policy.rule_path(owner.rule), "roles.owner");
    assert_eq!(
        owner.reason.to_string(),
        "Your organization does not let you unlock your account yourself; ask an administrator."
    );
    assert_eq!(policy.self_unlock("staff").outcome, Permission::Allowed);
    assert_eq!(policy.self_unlock("nurse").outcome, Permission::Allowed);

    let forbidden = Policy::from_toml(
        r#"
        version = 1
        [self_unlock]
        allowed = false
        [roles.staff]
        self_unlock = true
        [roles.nurse]
        [roles.owner]
        self_unlock = false
        "#,
    )
    .unwrap();
    // The organization's rule decides, even where a role forbids it too.
    for role in ["staff", "nurse", "owner"] {
        let decision = forbidden.self_unlock(role);
        assert_eq!(
            (decision.outcome, decision.reason),
            (Permission::Denied, Reason::SelfUnlockNotAllowed),
            "{role}"
        );
        assert_eq!(forbidden.rule_path(decision.rule), "self_unlock", "{role}");
    }
}

#[test]
fn refused_roles_and_roles_without_the_app_may_not() {
    let policy = Policy::from_toml(
        r#"
        version = 1
        [roles.staff]
        [roles.hygienist]
        methods = ["passkey"]
        "#,
    )
    .unwrap();
    let unknown = policy.self_unlock("member");
    assert_eq!(
        (unknown.outcome, unknown.reason),
        (Permission::Denied, Reason::UnknownRole)
    );
    let hygienist = policy.self_unlock("hygienist");
    assert_eq!(
        (hygienist.outcome, hygienist.reason),
        (Permission::Denied, Reason::MethodNotAllowed)
    );
    assert_eq!(policy.rule_path(hygienist.rule), "roles.hygienist");
    // A role the organization's rule covers (unknown_roles = organization).
    let open = Policy::from_toml("version = 1").unwrap();
    assert_eq!(open.self_unlock("anyone").outcome, Permission::Allowed);
}

#[test]
fn validation_names_the_field() {
    let with = |section: &str| {
        Policy::from_toml(&format!("version = 1\n[self_unlock]\n{section}\n"))
            .map(|_| ())
            .map_err(invalid_field)
    };
    assert_eq!(with("codes = 1"), Err("self_unlock.codes".into()));
    assert_eq!(with("codes = 11"), Err("self_unlock.codes".into()));
    assert_eq!(with("codes = 2\ndeadline_seconds = 60"), Ok(()));
    assert_eq!(with("codes = 10\ndeadline_seconds = 300"), Ok(()));
    assert_eq!(
        with("cooldown_seconds = 29"),
        Err("self_unlock.cooldown_seconds".into())
    );
    assert_eq!(with("cooldown_seconds = 30"), Ok(()));
    assert_eq!(with("cooldown_seconds = 86400"), Ok(()));
    assert_eq!(
        with("cooldown_seconds = 86401"),
        Err("self_unlock.cooldown_seconds".into())
    );
    // 30 seconds (one time step) per code.
    assert_eq!(
        with("codes = 4\ndeadline_seconds = 119"),
        Err("self_unlock.deadline_seconds".into())
    );
    assert_eq!(with("codes = 4\ndeadline_seconds = 120"), Ok(()));
    assert_eq!(with("deadline_seconds = 86400"), Ok(()));
    assert_eq!(
        with("deadline_seconds = 86401"),
        Err("self_unlock.deadline_seconds".into())
    );
    assert!(matches!(
        Policy::from_toml("version = 1\n[self_unlock]\ncode = 3\n"),
        Err(PolicyError::Syntax { .. })
    ));
    assert!(matches!(
        Policy::from_toml("version = 1\n[roles.staff]\nself_unlock = 3\n"),
        Err(PolicyError::Syntax { .. })
    ));
}

fn throttled(max_failures: u32, ceiling: u32, lockout: Lockout) -> Policy {
    let document = PolicyDocument {
        throttle: ThrottleDocument {
            max_failures,
            backoff_seconds: vec![0, 0, 30],
            lockout,
            ceiling,
        },
        ..PolicyDocument::default()
    };
    Policy::from_document(document).unwrap()
}

#[test]
fn after_an_unlock_only_later_failures_back_off_or_lock_but_all_reach_the_ceiling() {
    let policy = throttled(5, 12, Lockout::ForSeconds(3600));
    let t = |s: u64| Timestamp::from_unix_seconds(s);
    let last = Some(t(1_000));
    // Locked for an hour after 5 failures...
    assert_eq!(
        policy.throttle(5, last, t(1_001)).outcome,
        Throttle::Locked {
            until: Some(t(4_600))
        }
    );
    // ... but not once the user unlocked themselves after them.
    let unlocked = policy.throttle_since_unlock(5, 0, last, t(1_001));
    assert_eq!(
        (unlocked.outcome, unlocked.reason),
        (Throttle::Allowed, Reason::SelfUnlocked)
    );
    assert_eq!(
        unlocked.reason.to_string(),
        "You unlocked your account; you may try again."
    );
    // Later failures back off from the start of the table...
    assert_eq!(
        policy.throttle_since_unlock(7, 2, last, t(1_001)).outcome,
        Throttle::Allowed
    );
    assert_eq!(
        policy.throttle_since_unlock(8, 3, last, t(1_001)).outcome,
        Throttle::RetryAfter { seconds: 29 }
    );
    // ... and lock again at max_failures of them.
    assert_eq!(
        policy.throttle_since_unlock(10, 5, last, t(1_001)).outcome,
        Throttle::Locked {
            until: Some(t(4_600))
        }
    );
    // The ceiling counts every failure since the last success.
    let ceiling = policy.throttle_since_unlock(12, 0, last, t(1_001));
    assert_eq!(
        (ceiling.outcome, ceiling.reason),
        (Throttle::Locked { until: None }, Reason::FailureCeiling)
    );
    assert_eq!(
        policy.throttle_since_unlock(11, 0, last, t(1_001)).outcome,
        Throttle::Allowed
    );
    // A count since the unlock above the total counts as the total.
    assert_eq!(
        policy.throttle_since_unlock(5, 9, last, t(1_001)),
        policy.throttle(5, last, t(1_001))
    );
    assert_eq!(
        policy.throttle_since_unlock(0, 3, last, t(1_001)).outcome,
        Throttle::Allowed
    );
}

fn outcome_rank(throttle: Throttle) -> u8 {
    match throttle {
        Throttle::Allowed => 0,
        Throttle::RetryAfter { .. } => 1,
        Throttle::Locked { until: Some(_) } => 2,
        Throttle::Locked { until: None } => 3,
    }
}

proptest! {
    /// Whatever was unlocked, the ceiling locks until an administrator acts;
    /// the full count is `throttle` itself; and fewer failures since an unlock
    /// is never stricter than more.
    #[test]
    fn the_ceiling_holds_and_unlocks_only_ever_relax(
        max_failures in 1u32..=20,
        above in 0u32..=20,
        lockout in prop_oneof![
            (1u64..10_000).prop_map(Lockout::ForSeconds),
            Just(Lockout::UntilReset)
        ],
        failures in 0u32..=45,
        since in 0u32..=45,
        fewer in 0u32..=45,
        ago in 0u64..20_000,
    ) {
        let ceiling = max_failures + above;
        let policy = throttled(max_failures, ceiling, lockout);
        let now = Timestamp::from_unix_seconds(100_000);
        let last = Some(Timestamp::from_unix_seconds(100_000 - ago));
        let decision = policy.throttle_since_unlock(failures, since, last, now);
        if failures >= ceiling {
            prop_assert_eq!(decision.outcome, Throttle::Locked { until: None });
            prop_assert_eq!(decision.reason, Reason::FailureCeiling);
        }
        prop_assert_eq!(
            policy.throttle_since_unlock(failures, failures, last, now),
            policy.throttle(failures, last, now)
        );
        let relaxed = policy.throttle_since_unlock(failures, since.min(fewer), last, now);
        prop_assert!(outcome_rank(relaxed.outcome) <= outcome_rank(decision.outcome));
    }
}
