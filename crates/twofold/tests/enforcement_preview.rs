//! The dry run an owner sees before requiring 2FA ("3 staff will have to set
//! up 2FA at their next sign-in; nobody will be blocked"): it must say what
//! the change then does, write nothing, and show nothing to anyone else.
#![cfg(test)]

mod common;

use common::{ORG, account, enroll_totp, harness, memory};
use twofold::{Account, Clock, Mode, PolicyDocument, Reason, SignIn, SignInStep, TwoFactorError};

const DAY: u64 = 86_400;

/// What begin_sign_in's step says, in the dry run's terms.
fn same(step: &SignInStep, decision: &SignIn) -> bool {
    match (step, decision) {
        (SignInStep::Allow { .. }, SignIn::Allow) => true,
        (SignInStep::Challenge { .. }, SignIn::Challenge { .. }) => true,
        (
            SignInStep::MustEnroll {
                deadline,
                can_defer,
                ..
            },
            SignIn::MustEnroll {
                deadline: expected,
                can_defer: defer,
                ..
            },
        ) => deadline == expected && can_defer == defer,
        (SignInStep::Blocked { .. }, SignIn::Blocked) => true,
        _ => false,
    }
}

#[tokio::test]
async fn the_preview_says_what_requiring_2fa_then_does_at_each_sign_in() {
    let h = harness();
    let olga = account("olga", "owner");
    let ana = account("ana", "staff");
    let sam = account("sam", "staff");
    let kim = account("kim", "admin");
    let ivy = account("ivy", "intern");
    let mut policy = PolicyDocument::example_clinic();
    policy.enforcement.grace_seconds = 7 * DAY;
    h.twofold.set_policy(ORG, policy).await.unwrap();
    enroll_totp(&h, &olga).await;
    enroll_totp(&h, &ana).await;
    // Sam signed in during an earlier period of enforcement: that grace
    // period is over and done; a new one starts with the change.
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    h.twofold.begin_sign_in(&sam).await.unwrap();
    h.clock.advance(30 * DAY);
    h.twofold
        .change_enforcement(&olga, Mode::Optional, Some(h.clock.now()))
        .await
        .unwrap();
    h.clock.advance(DAY);
    let members = [olga, ana, sam, kim, ivy];

    let versions = || {
        let contents = memory(&h).contents();
        let users: Vec<_> = contents
            .users
            .iter()
            .map(|(id, v)| (id.clone(), v.version))
            .collect();
        let orgs: Vec<_> = contents.organizations.values().map(|v| v.version).collect();
        (users, orgs)
    };
    let before = versions();
    let preview = h
        .twofold
        .preview_enforcement(&olga, Mode::Required, &members)
        .await
        .unwrap();
    let report = &preview.proposed;
    assert_eq!(versions(), before, "a preview writes nothing");
    let names = |list: &[(String, twofold::Decision<SignIn>)]| {
        list.iter()
            .map(|(user, _)| user.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&report.must_enroll), ["sam", "kim"]);
    assert_eq!(names(&report.blocked), ["ivy"]);
    assert_eq!(names(&report.unaffected), ["olga", "ana"]);
    // Ivy cannot sign in now either: the change sends Sam and Kim into
    // setup, and blocks nobody new.
    assert_eq!(names(&preview.current.blocked), ["ivy"]);
    assert!(preview.current.must_enroll.is_empty());
    let users = |list: Vec<&(String, twofold::Decision<SignIn>)>| {
        list.into_iter()
            .map(|(user, _)| user.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(users(preview.newly_must_enroll()), ["sam", "kim"]);
    assert!(preview.newly_blocked().is_empty());
    let week = h.clock.now().plus_seconds(7 * DAY);
    for (_, decision) in &report.must_enroll {
        assert!(matches!(
            decision.outcome,
            SignIn::MustEnroll { deadline, can_defer: true, .. } if deadline == week
        ));
    }

    // Then the change, and each member's next sign-in, as the preview said.
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    let decisions = report
        .must_enroll
        .iter()
        .chain(&report.blocked)
        .chain(&report.unaffected);
    for (user, decision) in decisions {
        let member = members.iter().find(|m| m.user == user).unwrap();
        let step = h.twofold.begin_sign_in(member).await;
        match step {
            Ok(step) => assert!(same(&step.value, &decision.outcome), "{user}: {step:?}"),
            Err(failure) => {
                assert_eq!(decision.outcome, SignIn::Blocked, "{user}");
                assert!(
                    matches!(failure.error, TwoFactorError::Denied(Reason::UnknownRole)),
                    "{user}: {:?}",
                    failure.error
                );
            }
        }
    }
}

#[tokio::test]
async fn relaxing_enforcement_shows_nobody_who_must_set_up_2fa() {
    let h = harness();
    let olga = account("olga", "owner");
    enroll_totp(&h, &olga).await;
    h.twofold
        .change_enforcement(&olga, Mode::Required, Some(h.clock.now()))
        .await
        .unwrap();
    let sam = account("sam", "staff");
    let members = [olga, sam];
    // Sam met the requirement a minute ago: required staying required
    // restarts nothing, so the deadline is still that first sign-in's (the
    // clinic's policy has no grace period).
    let first = h.clock.now();
    h.twofold.begin_sign_in(&sam).await.unwrap();
    h.clock.advance(60);
    let required = h
        .twofold
        .preview_enforcement(&olga, Mode::Required, &members)
        .await
        .unwrap()
        .proposed;
    assert!(
        matches!(
            required.must_enroll.as_slice(),
            [(user, decision)] if user == "sam"
                && decision.outcome == twofold::SignIn::MustEnroll {
                    deadline: first,
                    methods: twofold::Methods::ALL,
                    can_defer: false,
                }
        ),
        "{required:?}"
    );
    let relaxed = h
        .twofold
        .preview_enforcement(&olga, Mode::Optional, &members)
        .await
        .unwrap();
    // Sam must set up 2FA now; not after the change.
    assert_eq!(relaxed.current.must_enroll.len(), 1);
    assert!(relaxed.newly_must_enroll().is_empty());
    let optional = relaxed.proposed;
    assert!(optional.must_enroll.is_empty() && optional.blocked.is_empty());
    assert_eq!(optional.unaffected.len(), 2);
}

#[tokio::test]
async fn only_who_may_change_enforcement_sees_the_preview_and_only_of_their_own_organization() {
    let h = harness();
    let olga = account("olga", "owner");
    let kim = account("kim", "admin");
    let ana = account("ana", "staff");
    let stranger = Account {
        organization: "another-clinic",
        ..account("zed", "staff")
    };
    for actor in [&kim, &ana] {
        let error = h
            .twofold
            .preview_enforcement(actor, Mode::Required, &[olga, ana])
            .await
            .unwrap_err()
            .error;
        assert!(
            matches!(
                error,
                TwoFactorError::Denied(Reason::RoleMayNotChangeEnforcement)
            ),
            "{error:?}"
        );
    }
    let error = h
        .twofold
        .preview_enforcement(&account("ivy", "intern"), Mode::Required, &[ana])
        .await
        .unwrap_err()
        .error;
    assert!(
        matches!(error, TwoFactorError::Denied(Reason::UnknownRole)),
        "{error:?}"
    );
    let error = h
        .twofold
        .preview_enforcement(&olga, Mode::Required, &[ana, stranger])
        .await
        .unwrap_err()
        .error;
    assert!(
        matches!(error, TwoFactorError::Denied(Reason::OtherOrganization)),
        "{error:?}"
    );
    assert!(ORG != "another-clinic");
}

#[tokio::test]
async fn an_owner_without_2fa_is_refused_the_preview_of_required_as_the_change_itself() {
    let h = harness();
    let olga = account("olga", "owner");
    let sam = account("sam", "staff");
    let error = h
        .twofold
        .preview_enforcement(&olga, Mode::Required, &[olga, sam])
        .await
        .unwrap_err()
        .error;
    assert!(
        matches!(
            error,
            TwoFactorError::Denied(Reason::ActorHasNoSecondFactor)
        ),
        "{error:?}"
    );
    // Off is no lock-out: shown.
    let off = h
        .twofold
        .preview_enforcement(&olga, Mode::Off, &[olga, sam])
        .await
        .unwrap();
    assert_eq!(off.proposed.unaffected.len(), 2);
    enroll_totp(&h, &olga).await;
    let required = h
        .twofold
        .preview_enforcement(&olga, Mode::Required, &[olga, sam])
        .await
        .unwrap();
    assert_eq!(required.newly_must_enroll().len(), 1);
}
