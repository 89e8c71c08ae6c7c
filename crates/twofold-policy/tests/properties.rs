//! Property tests of the policy's invariants over generated documents and facts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use twofold_policy::{
    EnforcementDocument, ExemptionDocument, Lockout, Method, Methods, Mode, Permission, Policy,
    PolicyDocument, ResetPermission, RoleDocument, SelfDisableDocument, SignIn, Throttle,
    ThrottleDocument, Timestamp, UserFacts,
};

const ROLES: [&str; 4] = ["owner", "admin", "staff", "nurse"];
const USERS: [&str; 6] = ["u0", "u1", "u2", "u3", "u4", "u5"];

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Off), Just(Mode::Optional), Just(Mode::Required)]
}

fn method_list() -> impl Strategy<Value = Vec<Method>> {
    prop_oneof![
        Just(vec![Method::Totp]),
        Just(vec![Method::Passkey]),
        Just(vec![Method::Totp, Method::Passkey]),
    ]
}

fn methods() -> impl Strategy<Value = Methods> {
    (0u8..4).prop_map(|bits| {
        Method::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, m)| m)
            .collect()
    })
}

fn role() -> impl Strategy<Value = RoleDocument> {
    (
        prop::option::of(mode()),
        prop::option::of(0u64..2_000_000),
        prop::option::of(method_list()),
        prop::collection::vec(prop::sample::select(&ROLES[..]), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(enforcement, grace_seconds, methods, may_reset, may_change_enforcement)| {
                RoleDocument {
                    enforcement,
                    grace_seconds,
                    methods,
                    may_reset: may_reset.into_iter().map(str::to_string).collect(),
                    may_change_enforcement,
                }
            },
        )
}

fn document() -> impl Strategy<Value = PolicyDocument> {
    (
        mode(),
        prop::option::of(0u64..2_000_000),
        0u64..2_000_000,
        method_list(),
        prop::collection::vec(role(), 4),
        prop::collection::vec(
            (
                prop::sample::select(&USERS[..]),
                prop::option::of(0u64..3_000_000),
            ),
            0..3,
        ),
        1u32..=100,
        prop::collection::vec(0u64..10_000, 0..8),
        prop_oneof![
            (1u64..100_000).prop_map(Lockout::ForSeconds),
            Just(Lockout::UntilReset)
        ],
    )
        .prop_map(
            |(
                mode,
                from,
                grace,
                methods,
                roles,
                exemptions,
                max_failures,
                mut backoff,
                lockout,
            )| {
                backoff.sort_unstable();
                let roles: BTreeMap<String, RoleDocument> =
                    ROLES.iter().map(|r| r.to_string()).zip(roles).collect();
                let mut seen = Vec::new();
                let exemptions = exemptions
                    .into_iter()
                    .filter(|(user, _)| {
                        let fresh = !seen.contains(user);
                        seen.push(*user);
                        fresh
                    })
                    .map(|(user, until)| ExemptionDocument {
                        user: user.to_string(),
                        reason: "test".into(),
                        until: until.map(Timestamp::from_unix_seconds),
                    })
                    .collect();
                PolicyDocument {
                    version: 1,
                    enforcement: EnforcementDocument {
                        mode,
                        from: from.map(Timestamp::from_unix_seconds),
                        grace_seconds: grace,
                        methods,
                    },
                    roles,
                    exemptions,
                    throttle: ThrottleDocument {
                        max_failures,
                        backoff_seconds: backoff,
                        lockout,
                    },
                    self_disable: SelfDisableDocument {
                        reauthentication_max_age_seconds: 300,
                    },
                }
            },
        )
}

fn policy() -> impl Strategy<Value = Policy> {
    document().prop_filter_map("valid documents", |doc| Policy::from_document(doc).ok())
}

#[derive(Debug, Clone)]
struct Facts {
    user: &'static str,
    role: &'static str,
    enrolled: Methods,
    has_backup_codes: bool,
    first: Option<u64>,
    exempt: bool,
}

impl Facts {
    fn get(&self) -> UserFacts<'static> {
        UserFacts {
            user: self.user,
            role: self.role,
            enrolled: self.enrolled,
            has_backup_codes: self.has_backup_codes,
            first_sign_in_since_enforcement: self.first.map(Timestamp::from_unix_seconds),
            exempt: self.exempt,
        }
    }
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        prop::sample::select(&USERS[..]),
        prop::sample::select(&["owner", "admin", "staff", "nurse", "ghost"][..]),
        methods(),
        any::<bool>(),
        prop::option::of(0u64..3_000_000),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(user, role, enrolled, has_backup_codes, first, exempt)| Facts {
                user,
                role,
                enrolled,
                has_backup_codes,
                first,
                exempt,
            },
        )
}

fn now() -> impl Strategy<Value = Timestamp> {
    (0u64..6_000_000).prop_map(Timestamp::from_unix_seconds)
}

/// `after` is at least as restrictive as `before`.
fn at_least_as_strict(before: &SignIn, after: &SignIn) -> bool {
    match (before, after) {
        (SignIn::Challenge { methods: a, .. }, SignIn::Challenge { methods: b, .. }) => {
            b.is_subset(*a)
        }
        (
            SignIn::MustEnrol {
                deadline: a,
                methods: ma,
                can_defer: da,
            },
            SignIn::MustEnrol {
                deadline: b,
                methods: mb,
                can_defer: db,
            },
        ) => b <= a && mb.is_subset(*ma) && (*da || !*db),
        _ => after.strictness() >= before.strictness(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn under_required_nobody_without_a_factor_is_allowed_past_the_grace_period(
        mut doc in document(), facts in facts(), now in now(),
    ) {
        doc.enforcement.mode = Mode::Required;
        let Ok(policy) = Policy::from_document(doc.clone()) else { return Ok(()) };
        let f = facts.get();
        let usable = policy.methods_for(f.role).map(|m| m.intersection(f.enrolled));
        prop_assume!(usable == Some(Methods::NONE)); // a known role, no factor that counts
        let started = doc.enforcement.from.is_none_or(|from| now >= from);
        let exempt = f.exempt || doc.exemptions.iter().any(|e| e.user == f.user && e.until.is_none_or(|u| now < u));
        let decision = policy.sign_in(&f, now);
        if started && !exempt {
            match decision.outcome {
                SignIn::MustEnrol { deadline, can_defer, .. } => {
                    prop_assert_eq!(can_defer, now < deadline);
                    let first = f.first_sign_in_since_enforcement.unwrap_or(now);
                    prop_assert!(deadline <= first.plus_seconds(doc.enforcement.grace_seconds));
                }
                other => prop_assert!(false, "{other:?} for a user without a factor under required"),
            }
        }
        prop_assert!(decision.outcome != SignIn::Blocked);
    }

    #[test]
    fn under_off_nobody_is_told_to_enrol(mut doc in document(), facts in facts(), now in now()) {
        doc.enforcement.mode = Mode::Off;
        for role in doc.roles.values_mut() {
            role.enforcement = role.enforcement.map(|_| Mode::Off);
        }
        let Ok(policy) = Policy::from_document(doc) else { return Ok(()) };
        let decision = policy.sign_in(&facts.get(), now);
        prop_assert!(!matches!(decision.outcome, SignIn::MustEnrol { .. }), "{:?}", decision);
        prop_assert!(!policy.enrolment_offered(facts.role));
    }

    #[test]
    fn adding_a_rule_never_makes_a_decision_less_restrictive(
        doc in document(),
        role_index in 0usize..4,
        rule in role(),
        facts in facts(),
        now in now(),
    ) {
        let Ok(before) = Policy::from_document(doc.clone()) else { return Ok(()) };
        let mut tightened = doc;
        let target = tightened.roles.get_mut(ROLES[role_index]).unwrap();
        // Add the generated rule's enforcement settings on top of the existing ones.
        if rule.enforcement.is_some() {
            target.enforcement = target.enforcement.max(rule.enforcement);
        }
        if let Some(grace) = rule.grace_seconds {
            target.grace_seconds = Some(target.grace_seconds.map_or(grace, |g| g.min(grace)));
        }
        if let Some(methods) = rule.methods {
            target.methods = Some(match &target.methods {
                None => methods,
                Some(existing) => existing.iter().copied().filter(|m| methods.contains(m)).collect(),
            });
        }
        let Ok(after) = Policy::from_document(tightened) else { return Ok(()) };
        let f = facts.get();
        let (a, b) = (before.sign_in(&f, now).outcome, after.sign_in(&f, now).outcome);
        prop_assert!(at_least_as_strict(&a, &b), "{a:?} became {b:?}");
    }

    #[test]
    fn nobody_can_reset_their_own_2fa(policy in policy(), facts in facts(), reason in "\\PC{0,20}", now in now()) {
        let f = facts.get();
        let decision = policy.admin_reset(&f, &f, &reason, now);
        prop_assert_eq!(decision.outcome, ResetPermission::Denied);
    }

    #[test]
    fn resets_follow_may_reset_and_need_a_reason(
        policy in policy(), actor in facts(), target in facts(), reason in "\\PC{0,20}", now in now(),
    ) {
        let decision = policy.admin_reset(&actor.get(), &target.get(), &reason, now);
        if let ResetPermission::Allowed { .. } = decision.outcome {
            prop_assert!(actor.user != target.user);
            prop_assert!(!reason.trim().is_empty());
            let granted = &policy.document().roles[actor.role].may_reset;
            prop_assert!(granted.iter().any(|r| r == target.role));
        }
    }

    #[test]
    fn only_roles_granted_it_can_change_enforcement(policy in policy(), actor in facts(), mode in mode()) {
        let decision = policy.change_enforcement(&actor.get(), mode);
        if decision.outcome == Permission::Allowed {
            prop_assert!(policy.document().roles[actor.role].may_change_enforcement);
            if mode == Mode::Required {
                prop_assert!(!actor.enrolled.intersection(policy.methods_for(actor.role).unwrap()).is_empty());
            }
        }
    }

    #[test]
    fn throttle_waits_never_decrease_and_the_cap_holds(policy in policy(), elapsed in 0u64..200_000) {
        let last = Timestamp::from_unix_seconds(1_000_000);
        let now = last.plus_seconds(elapsed);
        let max = policy.document().throttle.max_failures;
        let mut previous = 0u64;
        for failures in 0..=max + 5 {
            let outcome = policy.throttle(failures, Some(last), now).outcome;
            let wait = match outcome {
                Throttle::Allowed => 0,
                Throttle::RetryAfter { seconds } => seconds,
                Throttle::Locked { until: Some(until) } => until.seconds_since(now),
                Throttle::Locked { until: None } => u64::MAX,
            };
            if failures >= max {
                let ended = matches!(policy.document().throttle.lockout, Lockout::ForSeconds(s) if elapsed >= s);
                prop_assert!(ended || matches!(outcome, Throttle::Locked { .. }), "{failures}: {outcome:?}");
            } else {
                prop_assert!(!matches!(outcome, Throttle::Locked { .. }), "{:?}", outcome);
                prop_assert!(wait >= previous, "{failures}: {wait} < {previous}");
            }
            previous = previous.max(wait);
        }
    }

    #[test]
    fn documents_round_trip(policy in policy()) {
        prop_assert_eq!(&Policy::from_toml(&policy.to_toml()).unwrap(), &policy);
        prop_assert_eq!(&Policy::from_json(&policy.to_json()).unwrap(), &policy);
    }

    #[test]
    fn dry_run_sorts_every_user_once(policy in policy(), users in prop::collection::vec(facts(), 0..20), now in now()) {
        let facts: Vec<UserFacts<'_>> = users.iter().map(Facts::get).collect();
        let report = policy.dry_run(&facts, now);
        prop_assert_eq!(report.must_enrol.len() + report.blocked.len() + report.unaffected.len(), facts.len());
        for (_, decision) in &report.must_enrol {
            prop_assert!(matches!(decision.outcome, SignIn::MustEnrol { .. }), "{:?}", decision);
        }
        for (_, decision) in &report.blocked {
            prop_assert_eq!(decision.outcome, SignIn::Blocked);
        }
    }

    #[test]
    fn timestamps_round_trip_through_text(seconds in 0u64..=253_402_300_799) {
        let t = Timestamp::from_unix_seconds(seconds);
        prop_assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
    }

    #[test]
    fn any_text_parses_or_errors(text in "\\PC{0,200}") {
        let _ = Policy::from_toml(&text);
        let _ = Policy::from_json(&text);
        let _ = text.parse::<Timestamp>();
    }
}
