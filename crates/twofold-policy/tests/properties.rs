//! Property tests of the policy's invariants over generated documents and facts.
#![cfg(test)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use twofold_policy::{
    CheckupDocument, EnforcementDocument, ExemptionDocument, Lockout, Method, Methods, Mode,
    PasskeysDocument, Permission, Policy, PolicyDocument, Reason, RemindersDocument,
    ResetPermission, RoleDocument, SelfDisableDocument, SelfUnlockDocument, SignIn, Throttle,
    ThrottleDocument, Timestamp, TrustedBrowsersDocument, UnknownRoles, UserFacts,
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
        prop::option::of(prop::collection::vec(
            prop::sample::select(&ROLES[..]),
            0..3,
        )),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(0u32..=400),
    )
        .prop_map(
            |(
                enforcement,
                grace_seconds,
                methods,
                may_reset,
                may_change_enforcement,
                may_unlock,
                passkey_sign_in,
                self_unlock,
                trusted_browser_days,
            )| {
                RoleDocument {
                    enforcement,
                    grace_seconds,
                    methods,
                    may_reset: may_reset.into_iter().map(str::to_string).collect(),
                    may_change_enforcement,
                    may_unlock: may_unlock
                        .map(|roles| roles.into_iter().map(str::to_string).collect()),
                    passkey_sign_in,
                    self_unlock,
                    trusted_browser_days,
                }
            },
        )
}

/// `methods` narrowed to the organization's, or `None` where nothing would be left:
/// the validator refuses a role whose methods miss the organization's entirely.
fn narrowed(methods: Option<Vec<Method>>, org: &[Method]) -> Option<Vec<Method>> {
    let kept: Vec<Method> = methods?.into_iter().filter(|m| org.contains(m)).collect();
    (!kept.is_empty()).then_some(kept)
}

/// Policy documents that are valid by construction, so that no case is lost
/// to an early return: `policy()` unwraps them.
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
        (
            prop_oneof![
                (1u64..100_000).prop_map(Lockout::ForSeconds),
                Just(Lockout::UntilReset)
            ],
            0u32..=100,
            0u32..=400,
        ),
        any::<bool>(),
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
                (lockout, ceiling_above, max_days),
                sign_in_without_password,
            )| {
                backoff.sort_unstable();
                let roles: BTreeMap<String, RoleDocument> = ROLES
                    .iter()
                    .map(|r| r.to_string())
                    .zip(roles.into_iter().map(|mut role| {
                        role.methods = narrowed(role.methods, &methods);
                        // A role can only tighten the organization's rule.
                        if !sign_in_without_password {
                            role.passkey_sign_in = role.passkey_sign_in.filter(|allow| !allow);
                        }
                        role
                    }))
                    .collect();
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
                    unknown_roles: None,
                    exemptions,
                    throttle: ThrottleDocument {
                        max_failures,
                        backoff_seconds: backoff,
                        lockout,
                        ceiling: (max_failures + ceiling_above).min(100),
                    },
                    self_disable: SelfDisableDocument {
                        reauthentication_max_age_seconds: 300,
                    },
                    self_unlock: SelfUnlockDocument::default(),
                    checkup: CheckupDocument::default(),
                    reminders: RemindersDocument::default(),
                    passkeys: PasskeysDocument {
                        sign_in_without_password,
                    },
                    trusted_browsers: TrustedBrowsersDocument { max_days },
                }
            },
        )
}

fn valid(doc: PolicyDocument) -> Policy {
    Policy::from_document(doc.clone())
        .unwrap_or_else(|e| panic!("the generator made an invalid document ({e}): {doc:?}"))
}

fn policy() -> impl Strategy<Value = Policy> {
    document().prop_map(valid)
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

/// Facts of a user whose role the policy knows.
fn known_facts() -> impl Strategy<Value = Facts> {
    (facts(), prop::sample::select(&ROLES[..])).prop_map(|(facts, role)| Facts { role, ..facts })
}

/// `methods` without those in `remove`.
fn without(methods: Methods, remove: Methods) -> Methods {
    methods.iter().filter(|m| !remove.contains(*m)).collect()
}

/// The wait the document imposes after `failures` consecutive failures.
fn documented_wait(doc: &PolicyDocument, failures: u32) -> u64 {
    let waits = &doc.throttle.backoff_seconds;
    let index = usize::try_from(failures.saturating_sub(1)).unwrap();
    waits.get(index).or(waits.last()).copied().unwrap_or(0)
}

/// Seconds since the last failure: often inside a back-off wait (at most
/// 10,000 seconds here), often beyond a lockout.
fn elapsed() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..10_000, 0u64..200_000]
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
            SignIn::MustEnroll {
                deadline: a,
                methods: ma,
                can_defer: da,
            },
            SignIn::MustEnroll {
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
    fn under_required_exactly_the_started_non_exempt_users_without_a_factor_must_enroll(
        mut doc in document(), facts in known_facts(), now in now(),
    ) {
        doc.enforcement.mode = Mode::Required;
        let policy = valid(doc.clone());
        let methods = policy.methods_for(facts.role).unwrap();
        // No factor that counts (perhaps one that does not).
        let facts = Facts { enrolled: without(facts.enrolled, methods), ..facts };
        let f = facts.get();
        let started = doc.enforcement.from.is_none_or(|from| now >= from);
        let exempt = f.exempt || doc.exemptions.iter().any(|e| e.user == f.user && e.until.is_none_or(|u| now < u));
        let decision = policy.sign_in(&f, now);
        if started && !exempt {
            match decision.outcome {
                SignIn::MustEnroll { deadline, can_defer, methods: offered } => {
                    prop_assert_eq!(can_defer, now < deadline);
                    prop_assert_eq!(offered, methods);
                    let first = f.first_sign_in_since_enforcement.unwrap_or(now);
                    prop_assert!(deadline <= first.plus_seconds(doc.enforcement.grace_seconds));
                }
                other => prop_assert!(false, "{other:?} for a user without a factor under required"),
            }
        } else if f.enrolled.is_empty() {
            // The converse: before the start, or exempt, nobody is sent to setup.
            prop_assert_eq!(decision.outcome, SignIn::Allow);
        } else {
            prop_assert!(matches!(decision.outcome, SignIn::Challenge { methods: m, .. } if m == f.enrolled), "{:?}", decision);
        }
    }

    #[test]
    fn a_usable_factor_is_always_asked_for(policy in policy(), facts in known_facts(), now in now()) {
        let f = facts.get();
        let usable = f.enrolled.intersection(policy.methods_for(f.role).unwrap());
        let decision = policy.sign_in(&f, now);
        if usable.is_empty() {
            prop_assert!(!matches!(decision.outcome, SignIn::Allow) || f.enrolled.is_empty(), "{:?}", decision);
        } else {
            prop_assert_eq!(decision.outcome, SignIn::Challenge { methods: usable, recovery: f.has_backup_codes });
        }
    }

    #[test]
    fn an_unknown_role_is_blocked_and_never_offered_setup(policy in policy(), facts in facts(), now in now()) {
        let f = UserFacts { role: "ghost", ..facts.get() };
        prop_assert_eq!(policy.sign_in(&f, now).outcome, SignIn::Blocked);
        prop_assert!(!policy.enrollment_offered("ghost"));
        prop_assert!(!policy.enforcement_applies(&f, now));
        for method in Method::ALL {
            let enrollment = policy.enrollment("ghost", method);
            prop_assert_eq!((enrollment.outcome, enrollment.reason), (Permission::Denied, Reason::UnknownRole));
        }
    }

    /// `unknown_roles = "organization"`: a role the policy does not name gets
    /// exactly what a named role without overrides would (the organization's
    /// floor, never less), and no power over anyone, nor anyone over it.
    #[test]
    fn an_accepted_unknown_role_gets_exactly_the_organizations_rule_and_no_power(
        mut doc in document(), facts in facts(), now in now(),
    ) {
        doc.unknown_roles = Some(UnknownRoles::Organization);
        let accepting = valid(doc.clone());
        doc.roles.insert("ghost".into(), RoleDocument::default());
        let named = valid(doc);
        let ghost = UserFacts { role: "ghost", ..facts.get() };
        prop_assert_eq!(accepting.sign_in(&ghost, now), named.sign_in(&ghost, now));
        prop_assert_eq!(accepting.enforcement_applies(&ghost, now), named.enforcement_applies(&ghost, now));
        prop_assert_eq!(accepting.self_disable(&ghost, Some(now), now), named.self_disable(&ghost, Some(now), now));
        for method in Method::ALL {
            prop_assert_eq!(accepting.enrollment("ghost", method), named.enrollment("ghost", method));
        }
        prop_assert_eq!(accepting.methods_for("ghost"), named.methods_for("ghost"));
        prop_assert!(!accepting.may_change_enforcement("ghost"));
        // Refused for want of the power, not for an unknown role.
        prop_assert_eq!(accepting.change_enforcement(&ghost, Mode::Off).reason, Reason::RoleMayNotChangeEnforcement);
        for role in ROLES {
            let other = UserFacts { user: "other", role, ..facts.get() };
            prop_assert_eq!(accepting.admin_reset(&ghost, &other, "r", now).reason, Reason::RoleMayNotReset);
            prop_assert_eq!(accepting.admin_unlock(&ghost, &other, "r").reason, Reason::RoleMayNotUnlock);
            prop_assert_eq!(accepting.admin_reset(&other, &ghost, "r", now).reason, Reason::RoleMayNotReset);
            prop_assert_eq!(accepting.admin_unlock(&other, &ghost, "r").reason, Reason::RoleMayNotUnlock);
        }
        for role in ROLES {
            prop_assert!(!accepting.may_reset("ghost", role) && !accepting.may_reset(role, "ghost"));
            prop_assert!(!accepting.may_unlock("ghost", role) && !accepting.may_unlock(role, "ghost"));
        }
    }

    #[test]
    fn under_off_nobody_is_told_to_enroll(mut doc in document(), facts in known_facts(), now in now()) {
        doc.enforcement.mode = Mode::Off;
        for role in doc.roles.values_mut() {
            role.enforcement = role.enforcement.map(|_| Mode::Off);
        }
        let policy = valid(doc);
        let f = facts.get();
        let decision = policy.sign_in(&f, now);
        prop_assert!(!policy.enrollment_offered(facts.role));
        // Nobody must enroll; whoever has a factor is still asked for it.
        if f.enrolled.is_empty() {
            prop_assert_eq!(decision.outcome, SignIn::Allow);
        } else {
            prop_assert!(matches!(decision.outcome, SignIn::Challenge { .. }), "{:?}", decision);
        }
    }

    #[test]
    fn adding_a_rule_never_makes_a_decision_less_restrictive(
        doc in document(),
        role_index in 0usize..4,
        rule in role(),
        facts in facts(),
        now in now(),
    ) {
        let before = valid(doc.clone());
        let mut tightened = doc;
        let org_methods = tightened.enforcement.methods.clone();
        let target = tightened.roles.get_mut(ROLES[role_index]).unwrap();
        // Add the generated rule's enforcement settings on top of the existing ones.
        if rule.enforcement.is_some() {
            target.enforcement = target.enforcement.max(rule.enforcement);
        }
        if let Some(grace) = rule.grace_seconds {
            target.grace_seconds = Some(target.grace_seconds.map_or(grace, |g| g.min(grace)));
        }
        if let Some(methods) = rule.methods {
            let current = target.methods.clone().unwrap_or_else(|| org_methods.clone());
            let narrower: Vec<Method> = current.into_iter().filter(|m| methods.contains(m)).collect();
            // A narrowing that leaves nothing is refused by the validator: keep the old list.
            if !narrower.is_empty() {
                target.methods = Some(narrower);
            }
        }
        let after = valid(tightened);
        let f = facts.get();
        let (a, b) = (before.sign_in(&f, now).outcome, after.sign_in(&f, now).outcome);
        prop_assert!(at_least_as_strict(&a, &b), "{a:?} became {b:?}");
    }

    #[test]
    fn nobody_can_reset_their_own_2fa(policy in policy(), facts in facts(), reason in "\\PC{0,20}", now in now()) {
        let f = facts.get();
        let decision = policy.admin_reset(&f, &f, &reason, now);
        prop_assert_eq!(decision.outcome, ResetPermission::Denied);
        prop_assert_eq!(decision.reason, Reason::CannotResetSelf);
    }

    #[test]
    fn resets_are_allowed_exactly_when_may_reset_grants_them_with_a_reason(
        policy in policy(), actor in known_facts(), target in known_facts(), reason in "\\PC{0,20}", now in now(),
    ) {
        let decision = policy.admin_reset(&actor.get(), &target.get(), &reason, now);
        let granted = policy.document().roles[actor.role].may_reset.iter().any(|r| r == target.role);
        let permitted = actor.user != target.user && !reason.trim().is_empty() && granted;
        if permitted {
            let after_reset = UserFacts { enrolled: Methods::NONE, has_backup_codes: false, ..target.get() };
            prop_assert_eq!(
                decision.outcome,
                ResetPermission::Allowed { must_enroll_at_next_sign_in: policy.enforcement_applies(&after_reset, now) }
            );
        } else {
            prop_assert_eq!(decision.outcome, ResetPermission::Denied);
        }
    }

    #[test]
    fn unlocks_are_allowed_exactly_when_may_unlock_or_may_reset_grants_them_with_a_reason(
        policy in policy(), actor in known_facts(), target in known_facts(), reason in "\\PC{0,20}",
    ) {
        let decision = policy.admin_unlock(&actor.get(), &target.get(), &reason);
        let role = &policy.document().roles[actor.role];
        let granted = role.may_unlock.as_ref().unwrap_or(&role.may_reset).iter().any(|r| r == target.role);
        let permitted = actor.user != target.user && !reason.trim().is_empty() && granted;
        prop_assert_eq!(decision.outcome == Permission::Allowed, permitted, "{:?}", decision);
    }

    #[test]
    fn enforcement_changes_are_allowed_exactly_for_granted_roles_that_cannot_lock_themselves_out(
        policy in policy(), actor in known_facts(), mode in mode(),
    ) {
        let decision = policy.change_enforcement(&actor.get(), mode);
        let granted = policy.document().roles[actor.role].may_change_enforcement;
        let has_factor = !actor.enrolled.intersection(policy.methods_for(actor.role).unwrap()).is_empty();
        let permitted = granted && (mode != Mode::Required || has_factor);
        prop_assert_eq!(decision.outcome == Permission::Allowed, permitted, "{:?}", decision);
    }

    #[test]
    fn self_disable_is_allowed_exactly_when_not_enforced_and_the_password_is_fresh(
        policy in policy(), facts in known_facts(), now in now(), age in prop::option::of(0u64..600),
    ) {
        let f = facts.get();
        // A re-entry `age` seconds ago (clamped at the epoch, which makes it younger).
        let reauthenticated_at = age.map(|age| Timestamp::from_unix_seconds(now.as_unix_seconds().saturating_sub(age)));
        let fresh = age.is_some_and(|age| age.min(now.as_unix_seconds()) <= 300);
        let decision = policy.self_disable(&f, reauthenticated_at, now);
        let permitted = !policy.enforcement_applies(&f, now) && fresh;
        prop_assert_eq!(decision.outcome == Permission::Allowed, permitted, "{:?}", decision);
    }

    #[test]
    fn the_throttle_imposes_exactly_the_documented_waits(policy in policy(), elapsed in elapsed()) {
        let doc = policy.document().clone();
        let last = Timestamp::from_unix_seconds(1_000_000);
        let now = last.plus_seconds(elapsed);
        let max = doc.throttle.max_failures;
        let mut previous = 0u64;
        for failures in (0..=max + 5).chain([doc.throttle.ceiling, doc.throttle.ceiling + 1, u32::MAX]) {
            let outcome = policy.throttle(failures, Some(last), now).outcome;
            let expected = if failures == 0 {
                Throttle::Allowed
            } else if failures >= doc.throttle.ceiling {
                Throttle::Locked { until: None }
            } else if failures >= max {
                match doc.throttle.lockout {
                    Lockout::UntilReset => Throttle::Locked { until: None },
                    Lockout::ForSeconds(s) if elapsed < s => Throttle::Locked { until: Some(last.plus_seconds(s)) },
                    Lockout::ForSeconds(_) => Throttle::Allowed,
                }
            } else {
                let wait = documented_wait(&doc, failures);
                if elapsed < wait { Throttle::RetryAfter { seconds: wait - elapsed } } else { Throttle::Allowed }
            };
            prop_assert_eq!(outcome, expected, "{} failures", failures);
            if failures > 0 && failures < max {
                // Waits never decrease as failures grow.
                let wait = documented_wait(&doc, failures);
                prop_assert!(wait >= previous, "{failures}: {wait} < {previous}");
                previous = wait;
            }
        }
    }

    #[test]
    fn a_passkey_replaces_the_password_exactly_where_nothing_forbids_it(
        policy in policy(),
        facts in facts(),
    ) {
        let facts = facts.get();
        let doc = policy.document();
        let decision = policy.passkey_sign_in(&facts);
        let expected = doc.roles.get(facts.role).map(|role| {
            policy.methods_for(facts.role).unwrap().contains(Method::Passkey)
                && doc.passkeys.sign_in_without_password
                && role.passkey_sign_in != Some(false)
        });
        match expected {
            // Every generated document names its roles: any other is refused.
            None => prop_assert_eq!(
                (decision.outcome, decision.reason),
                (Permission::Denied, Reason::UnknownRole)
            ),
            Some(allowed) => {
                prop_assert_eq!(decision.outcome == Permission::Allowed, allowed);
                if !allowed && policy.methods_for(facts.role).unwrap().contains(Method::Passkey) {
                    prop_assert_eq!(decision.reason, Reason::PasswordAlsoRequired);
                }
            }
        }
    }

    #[test]
    fn a_role_can_only_shorten_or_forbid_trusted_browsers(policy in policy()) {
        let doc = policy.document();
        let org = doc.trusted_browsers.max_days;
        for role in ROLES {
            let days = policy.trusted_browser_days(role);
            let own = doc.roles.get(role).and_then(|r| r.trusted_browser_days);
            prop_assert!(days <= org, "{role}: {days} > {org}");
            prop_assert_eq!(days, own.map_or(org, |own| own.min(org)));
        }
        prop_assert_eq!(policy.trusted_browser_days("dentist"), 0, "a refused role trusts nothing");
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
        prop_assert_eq!(report.must_enroll.len() + report.blocked.len() + report.unaffected.len(), facts.len());
        for (_, decision) in &report.must_enroll {
            prop_assert!(matches!(decision.outcome, SignIn::MustEnroll { .. }), "{:?}", decision);
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

/// Draws `count` values of `strategy`, deterministically.
fn sample<T: std::fmt::Debug>(strategy: impl Strategy<Value = T>, count: usize) -> Vec<T> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// The properties above are only as good as the cases that reach their
/// interesting branch: this counts them over 1,024 generated cases, so that a
/// generator change that made them vacuous fails here.
#[test]
fn the_generators_reach_every_branch_of_the_properties() {
    const N: usize = 1024;
    let share = |hits: usize| hits * 100 / N;

    let cases = sample((document(), known_facts(), now()), N);
    let must_enroll = cases
        .iter()
        .filter(|(doc, facts, now)| {
            let mut doc = doc.clone();
            doc.enforcement.mode = Mode::Required;
            matches!(
                valid(doc).sign_in(&facts.get(), *now).outcome,
                SignIn::MustEnroll { .. }
            )
        })
        .count();
    assert!(
        share(must_enroll) >= 20,
        "must enroll under required: {must_enroll} of {N}"
    );

    let cases = sample((policy(), known_facts(), known_facts(), now()), N);
    let resets = cases
        .iter()
        .filter(|(policy, actor, target, now)| {
            matches!(
                policy
                    .admin_reset(&actor.get(), &target.get(), "lost phone", *now)
                    .outcome,
                ResetPermission::Allowed { .. }
            )
        })
        .count();
    assert!(share(resets) >= 15, "allowed resets: {resets} of {N}");

    let cases = sample((policy(), known_facts(), mode()), N);
    let changes = cases
        .iter()
        .filter(|(policy, actor, mode)| {
            policy.change_enforcement(&actor.get(), *mode).outcome == Permission::Allowed
        })
        .count();
    assert!(
        share(changes) >= 15,
        "allowed enforcement changes: {changes} of {N}"
    );

    let cases = sample((policy(), known_facts(), now()), N);
    let disables = cases
        .iter()
        .filter(|(policy, facts, now)| {
            policy.self_disable(&facts.get(), Some(*now), *now).outcome == Permission::Allowed
        })
        .count();
    assert!(
        share(disables) >= 15,
        "allowed self-disables: {disables} of {N}"
    );

    let cases = sample((policy(), elapsed()), N);
    let (mut backing_off, mut locked) = (0, 0);
    for (policy, elapsed) in &cases {
        let last = Timestamp::from_unix_seconds(1_000_000);
        let now = last.plus_seconds(*elapsed);
        let outcomes: Vec<Throttle> = (1..=policy.document().throttle.max_failures)
            .map(|failures| policy.throttle(failures, Some(last), now).outcome)
            .collect();
        backing_off += usize::from(
            outcomes
                .iter()
                .any(|o| matches!(o, Throttle::RetryAfter { .. })),
        );
        locked += usize::from(
            outcomes
                .iter()
                .any(|o| matches!(o, Throttle::Locked { .. })),
        );
    }
    assert!(
        share(backing_off) >= 15,
        "throttles with a wait: {backing_off} of {N}"
    );
    assert!(share(locked) >= 15, "throttles that lock: {locked} of {N}");
}
