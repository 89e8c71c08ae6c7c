//! The sign-in decision path makes no heap allocation.
#![cfg(test)]

use twofold_policy::{Method, Methods, Policy, SignIn, Timestamp, UserFacts};

#[test]
fn sign_in_decisions_allocate_nothing() {
    let policy = Policy::from_toml(
        r#"
        version = 1
        [enforcement]
        mode = "required"
        grace_seconds = 86400
        [roles.owner]
        may_reset = ["staff"]
        may_change_enforcement = true
        [roles.staff]
        methods = ["passkey"]
        [[exemptions]]
        user = "kiosk"
        reason = "shared terminal"
        "#,
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(1_800_000_000);
    let facts = [
        UserFacts::new("sam", "staff"),
        UserFacts {
            enrolled: Methods::ALL,
            ..UserFacts::new("olga", "owner")
        },
        UserFacts {
            enrolled: Method::Totp.into(),
            ..UserFacts::new("sue", "staff")
        },
        UserFacts::new("kiosk", "staff"),
        UserFacts::new("x", "unknown-role"),
    ];
    let mut outcomes = [SignIn::Allow; 5];
    let info = allocation_counter::measure(|| {
        for (slot, f) in outcomes.iter_mut().zip(&facts) {
            *slot = policy.sign_in(f, now).outcome;
        }
        let _ = policy.throttle(4, Some(now), now);
        let _ = policy.self_disable(&facts[1], Some(now), now);
        let _ = policy.admin_reset(&facts[1], &facts[0], "lost phone", now);
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    assert!(matches!(
        outcomes[0],
        SignIn::MustEnroll {
            can_defer: true,
            ..
        }
    ));
    assert!(matches!(outcomes[1], SignIn::Challenge { .. }));
    assert!(matches!(outcomes[2], SignIn::MustEnroll { .. }));
    assert_eq!(outcomes[3], SignIn::Allow);
    assert_eq!(outcomes[4], SignIn::Blocked);

    // The counter does see allocations (the dry run builds its report).
    let counted = allocation_counter::measure(|| {
        std::hint::black_box(policy.dry_run(&facts, now));
    });
    assert!(counted.count_total > 0);
}
