//! Enrolment reminders ("remind me later", capped by the grace period) and
//! the check-up after enrolment: the decisions and their policy knobs.

#![cfg(test)]

use proptest::prelude::*;
use twofold_policy::{Method, Methods, Policy, PolicyError, SignIn, Timestamp, UserFacts};

const DAY: u64 = 86_400;
const NOW: u64 = 1_800_000_000;

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

fn policy(extra: &str) -> Policy {
    Policy::from_toml(&format!(
        "version = 1\n[enforcement]\nmode = \"optional\"\n[roles.staff]\n{extra}"
    ))
    .unwrap()
}

fn required(grace_days: u64, extra: &str) -> Policy {
    Policy::from_toml(&format!(
        "version = 1\n[enforcement]\nmode = \"required\"\ngrace_seconds = {}\n[roles.staff]\n{extra}",
        grace_days * DAY
    ))
    .unwrap()
}

#[test]
fn reminders_are_off_where_setup_is_optional_unless_the_policy_turns_them_on() {
    let facts = UserFacts::new("ana", "staff");
    let off = policy("");
    let decision = off.sign_in(&facts, at(NOW)).outcome;
    assert_eq!(decision, SignIn::Allow);
    assert!(!off.reminder_due(&decision, &facts, None, at(NOW)));
    assert_eq!(off.remind_later_until(&decision, at(NOW)), None);

    let on = policy("[reminders]\nskip_days = 30\n");
    assert!(on.reminder_due(&decision, &facts, None, at(NOW)));
    // "Remind me later": quiet for 30 days, then again.
    let until = on.remind_later_until(&decision, at(NOW)).unwrap();
    assert_eq!(until, at(NOW + 30 * DAY));
    assert!(!on.reminder_due(&decision, &facts, Some(until), at(NOW + 30 * DAY - 1)));
    assert!(on.reminder_due(&decision, &facts, Some(until), at(NOW + 30 * DAY)));
}

#[test]
fn nobody_is_reminded_of_what_they_have_or_cannot_set_up() {
    let on = policy("[reminders]\nskip_days = 30\n");
    // A user with a factor is challenged, not reminded.
    let mut enrolled = UserFacts::new("ana", "staff");
    enrolled.enrolled = Methods::NONE.with(Method::Totp);
    let decision = on.sign_in(&enrolled, at(NOW)).outcome;
    assert!(!on.reminder_due(&decision, &enrolled, None, at(NOW)));
    // Even told it was allowed: the facts say they have a factor.
    assert!(!on.reminder_due(&SignIn::Allow, &enrolled, None, at(NOW)));
    // Where second factors are off, nobody is offered setup.
    let off = Policy::from_toml(
        "version = 1\n[enforcement]\nmode = \"off\"\n[roles.staff]\n[reminders]\nskip_days = 30\n",
    )
    .unwrap();
    let ana = UserFacts::new("ana", "staff");
    let decision = off.sign_in(&ana, at(NOW)).outcome;
    assert_eq!(decision, SignIn::Allow);
    assert!(!off.reminder_due(&decision, &ana, None, at(NOW)));
    // An unknown role is blocked, not reminded.
    let stranger = UserFacts::new("x", "nobody");
    let decision = on.sign_in(&stranger, at(NOW)).outcome;
    assert!(!on.reminder_due(&decision, &stranger, None, at(NOW)));
    assert!(!on.reminder_due(&SignIn::Allow, &stranger, None, at(NOW)));
}

#[test]
fn during_a_grace_period_the_reminder_is_quieted_at_most_until_its_end() {
    let facts = UserFacts {
        first_sign_in_since_enforcement: Some(at(NOW)),
        ..UserFacts::new("ana", "staff")
    };
    // Without skip days: reminded at every sign-in of the grace period.
    let plain = required(7, "");
    let decision = plain.sign_in(&facts, at(NOW + DAY)).outcome;
    assert!(matches!(
        decision,
        SignIn::MustEnroll {
            can_defer: true,
            ..
        }
    ));
    assert!(plain.reminder_due(&decision, &facts, None, at(NOW + DAY)));
    assert_eq!(plain.remind_later_until(&decision, at(NOW + DAY)), None);

    // 30 skip days, 7 days of grace: quiet until the grace period ends.
    let policy = required(7, "[reminders]\nskip_days = 30\n");
    let decision = policy.sign_in(&facts, at(NOW + DAY)).outcome;
    let until = policy.remind_later_until(&decision, at(NOW + DAY)).unwrap();
    assert_eq!(until, at(NOW + 7 * DAY));
    assert!(!policy.reminder_due(&decision, &facts, Some(until), at(NOW + 2 * DAY)));
    // 1 skip day: quiet for a day.
    let short = required(7, "[reminders]\nskip_days = 1\n");
    let decision = short.sign_in(&facts, at(NOW + DAY)).outcome;
    assert_eq!(
        short.remind_later_until(&decision, at(NOW + DAY)),
        Some(at(NOW + 2 * DAY))
    );
    // Once the grace period is over, setup comes first: no reminder to quiet.
    let decision = policy.sign_in(&facts, at(NOW + 7 * DAY)).outcome;
    assert!(matches!(
        decision,
        SignIn::MustEnroll {
            can_defer: false,
            ..
        }
    ));
    assert!(!policy.reminder_due(&decision, &facts, Some(until), at(NOW + 7 * DAY)));
    assert!(!policy.reminder_due(&decision, &facts, None, at(NOW + 7 * DAY)));
    assert_eq!(
        policy.remind_later_until(&decision, at(NOW + 7 * DAY)),
        None
    );
    // A challenge or a block is never a reminder.
    let challenge = SignIn::Challenge {
        methods: Methods::NONE.with(Method::Totp),
        recovery: false,
    };
    assert!(!policy.reminder_due(&challenge, &facts, None, at(NOW)));
    assert_eq!(policy.remind_later_until(&challenge, at(NOW)), None);
    assert!(!policy.reminder_due(&SignIn::Blocked, &facts, None, at(NOW)));
    assert_eq!(policy.remind_later_until(&SignIn::Blocked, at(NOW)), None);
}

#[test]
fn the_check_up_comes_28_days_after_enrolment_once() {
    let policy = policy("");
    let enrolled = at(NOW);
    assert!(!policy.checkup_due(enrolled, None, at(NOW + 28 * DAY - 1)));
    assert!(policy.checkup_due(enrolled, None, at(NOW + 28 * DAY)));
    // Confirmed: not again.
    let confirmed = Some(at(NOW + 29 * DAY));
    assert!(!policy.checkup_due(enrolled, confirmed, at(NOW + 400 * DAY)));
    // Confirmed at the moment of enrolment counts too.
    assert!(!policy.checkup_due(enrolled, Some(enrolled), at(NOW + 400 * DAY)));
    // A confirmation before a new enrolment (after a reset) does not count.
    let again = at(NOW + 100 * DAY);
    assert!(policy.checkup_due(again, confirmed, at(NOW + 128 * DAY)));
    assert!(!policy.checkup_due(again, confirmed, at(NOW + 127 * DAY)));

    let custom = self::policy("[checkup]\nafter_days = 7\n");
    assert!(custom.checkup_due(enrolled, None, at(NOW + 7 * DAY)));
    assert!(!custom.checkup_due(enrolled, None, at(NOW + 7 * DAY - 1)));
    let off = self::policy("[checkup]\nafter_days = 0\n");
    assert!(!off.checkup_due(enrolled, None, at(NOW + 4000 * DAY)));
}

#[test]
fn the_knobs_are_validated_with_their_field_names() {
    let field_of = |extra: &str| match Policy::from_toml(&format!("version = 1\n{extra}")) {
        Err(PolicyError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field_of("[checkup]\nafter_days = 3651\n"),
        "checkup.after_days"
    );
    assert_eq!(
        field_of("[reminders]\nskip_days = 366\n"),
        "reminders.skip_days"
    );
    Policy::from_toml("version = 1\n[checkup]\nafter_days = 3650\n[reminders]\nskip_days = 365\n")
        .unwrap();
    // Unknown fields are refused, as everywhere in the document.
    assert!(Policy::from_toml("version = 1\n[checkup]\ndays = 3\n").is_err());
    // The defaults are not written out: old documents read and write the same.
    assert!(!policy("").to_toml().contains("checkup"));
    assert!(
        policy("[checkup]\nafter_days = 5\n")
            .to_toml()
            .contains("[checkup]")
    );
}

proptest! {
    /// "Remind me later" never quiets a reminder past the grace period's end,
    /// and never for longer than the skip days.
    #[test]
    fn remind_later_never_passes_the_deadline(
        grace_days in 0u64..60,
        skip_days in 0u32..=365,
        since in 0u64..(90 * DAY),
    ) {
        let policy = required(grace_days, &format!("[reminders]\nskip_days = {skip_days}\n"));
        let facts = UserFacts {
            first_sign_in_since_enforcement: Some(at(NOW)),
            ..UserFacts::new("ana", "staff")
        };
        let now = at(NOW + since);
        let decision = policy.sign_in(&facts, now).outcome;
        if let Some(until) = policy.remind_later_until(&decision, now) {
            let SignIn::MustEnroll { deadline, can_defer, .. } = decision else {
                panic!("quieted {decision:?}");
            };
            prop_assert!(can_defer);
            prop_assert!(until <= deadline);
            prop_assert!(until <= now.plus_seconds(u64::from(skip_days) * DAY));
            prop_assert!(until > now);
        }
    }
}
