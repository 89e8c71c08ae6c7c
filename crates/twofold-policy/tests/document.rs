//! The policy document: TOML and JSON, round-trips, and validation errors that
//! name the field and say what is wrong.
#![cfg(test)]

use twofold_policy::{
    Lockout, Method, Methods, Mode, Permission, Policy, PolicyDocument, PolicyError, Reason,
    SignIn, Timestamp, UserFacts,
};

const FULL: &str = r#"
version = 1

[enforcement]
mode = "required"
from = "2027-01-01"
grace_seconds = 604800
methods = ["totp", "passkey"]

[roles.owner]
may_reset = ["admin", "staff"]
may_change_enforcement = true

[roles.admin]
may_reset = ["staff"]
grace_seconds = 86400

[roles.staff]

[roles.hygienist]
methods = ["passkey"]

[[exemptions]]
user = "front-desk-kiosk"
reason = "shared kiosk until badge readers arrive"
until = "2027-03-01"

[throttle]
max_failures = 5
backoff_seconds = [0, 10, 60]
lockout = "until_reset"

[self_disable]
reauthentication_max_age_seconds = 120
"#;

fn error(text: &str) -> PolicyError {
    Policy::from_toml(text).unwrap_err()
}

fn invalid(field: &str) -> impl Fn(&PolicyError) -> bool + '_ {
    move |e| matches!(e, PolicyError::Invalid { field: f, .. } if f == field)
}

#[test]
fn a_full_document_reads_and_means_what_it_says() {
    let policy = Policy::from_toml(FULL).unwrap();
    let doc = policy.document();
    assert_eq!(doc.enforcement.mode, Mode::Required);
    assert_eq!(doc.enforcement.from, Some("2027-01-01".parse().unwrap()));
    assert_eq!(doc.throttle.lockout, Lockout::UntilReset);
    assert_eq!(
        policy.methods_for("hygienist"),
        Some(Method::Passkey.into())
    );
    assert_eq!(policy.methods_for("staff"), Some(Methods::ALL));
    assert_eq!(policy.methods_for("dentist"), None);

    let before: Timestamp = "2026-12-31T23:59:59Z".parse().unwrap();
    let start: Timestamp = "2027-01-01".parse().unwrap();
    let staff = UserFacts::new("sam", "staff");
    let upcoming = policy.sign_in(&staff, before);
    assert_eq!(
        (upcoming.outcome, upcoming.reason),
        (SignIn::Allow, Reason::RequiredFrom(start))
    );
    assert_eq!(
        upcoming.reason.to_string(),
        "Two-factor authentication will be required from 2027-01-01T00:00:00Z."
    );

    // A week's grace from the first sign-in after the start; a day for admins.
    let first = start.plus_seconds(3600);
    let staff = UserFacts {
        first_sign_in_since_enforcement: Some(first),
        ..staff
    };
    let due = policy.sign_in(&staff, first.plus_seconds(86_400 * 6));
    assert_eq!(
        due.outcome,
        SignIn::MustEnroll {
            deadline: first.plus_seconds(604_800),
            methods: Methods::ALL,
            can_defer: true
        }
    );
    assert_eq!(policy.rule_path(due.rule), "enforcement");
    let admin = UserFacts {
        role: "admin",
        ..staff
    };
    let over = policy.sign_in(&admin, first.plus_seconds(86_400 * 2));
    assert!(matches!(
        over.outcome,
        SignIn::MustEnroll {
            can_defer: false,
            ..
        }
    ));
    let admin_due = policy.sign_in(&admin, first.plus_seconds(60));
    assert_eq!(
        policy.rule_path(admin_due.rule),
        "roles.admin",
        "the shorter grace decides"
    );

    // The kiosk is exempt until March.
    let kiosk = UserFacts::new("front-desk-kiosk", "staff");
    let exempt = policy.sign_in(&kiosk, start.plus_seconds(10));
    assert_eq!(
        (exempt.outcome, exempt.reason),
        (SignIn::Allow, Reason::Exempt)
    );
    assert_eq!(policy.rule_path(exempt.rule), "exemptions[0]");
    assert!(matches!(
        policy
            .sign_in(&kiosk, "2027-03-01".parse().unwrap())
            .outcome,
        SignIn::MustEnroll { .. }
    ));

    // A hygienist's authenticator app does not count: passkeys only.
    let hygienist = UserFacts {
        enrolled: Method::Totp.into(),
        ..UserFacts::new("hy", "hygienist")
    };
    let decision = policy.sign_in(&hygienist, start);
    assert_eq!(
        decision.outcome,
        SignIn::MustEnroll {
            deadline: start.plus_seconds(604_800),
            methods: Method::Passkey.into(),
            can_defer: true
        }
    );
}

#[test]
fn the_most_restrictive_rule_wins_and_says_so() {
    // The organization requires; a role asking for less cannot relax it.
    let policy = Policy::from_toml(
        r#"
        version = 1
        [enforcement]
        mode = "required"
        grace_seconds = 100
        [roles.relaxed]
        enforcement = "off"
        grace_seconds = 1000
        [roles.strict]
        grace_seconds = 10
        "#,
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(1_000);
    let relaxed = policy.sign_in(&UserFacts::new("r", "relaxed"), now);
    assert_eq!(
        relaxed.outcome,
        SignIn::MustEnroll {
            deadline: now.plus_seconds(100),
            methods: Methods::ALL,
            can_defer: true
        }
    );
    assert_eq!(policy.rule_path(relaxed.rule), "enforcement");
    let strict = policy.sign_in(&UserFacts::new("s", "strict"), now);
    assert_eq!(
        strict.outcome,
        SignIn::MustEnroll {
            deadline: now.plus_seconds(10),
            methods: Methods::ALL,
            can_defer: true
        }
    );
    assert_eq!(policy.rule_path(strict.rule), "roles.strict");

    // The organization is optional; a role requiring 2FA applies to that role.
    let policy = Policy::from_toml(
        r#"
        version = 1
        [roles.admin]
        enforcement = "required"
        [roles.staff]
        "#,
    )
    .unwrap();
    let admin = policy.sign_in(&UserFacts::new("a", "admin"), now);
    assert!(matches!(admin.outcome, SignIn::MustEnroll { .. }));
    assert_eq!(policy.rule_path(admin.rule), "roles.admin");
    assert_eq!(
        policy.sign_in(&UserFacts::new("s", "staff"), now).outcome,
        SignIn::Allow
    );
}

#[test]
fn off_offers_nothing_but_still_asks_for_existing_factors() {
    let policy =
        Policy::from_toml("version = 1\n[enforcement]\nmode = \"off\"\n[roles.staff]\n").unwrap();
    let now = Timestamp::from_unix_seconds(0);
    assert!(!policy.enrollment_offered("staff"));
    assert_eq!(
        policy.sign_in(&UserFacts::new("s", "staff"), now).outcome,
        SignIn::Allow
    );
    let enrolled = UserFacts {
        enrolled: Method::Totp.into(),
        ..UserFacts::new("s", "staff")
    };
    assert!(matches!(
        policy.sign_in(&enrolled, now).outcome,
        SignIn::Challenge { .. }
    ));
}

#[test]
fn unknown_roles_are_blocked_with_a_reason() {
    let policy = Policy::example_clinic().unwrap();
    let decision = policy.sign_in(&UserFacts::new("x", "dentist"), Timestamp::default());
    assert_eq!(
        (decision.outcome, decision.reason),
        (SignIn::Blocked, Reason::UnknownRole)
    );
    assert_eq!(policy.rule_path(decision.rule), "built-in rule");
}

#[test]
fn documents_round_trip_through_toml_and_json() {
    for policy in [
        Policy::from_toml(FULL).unwrap(),
        Policy::example_clinic().unwrap(),
    ] {
        let toml = policy.to_toml();
        assert_eq!(Policy::from_toml(&toml).unwrap(), policy, "{toml}");
        let json = policy.to_json();
        assert_eq!(Policy::from_json(&json).unwrap(), policy, "{json}");
        assert_eq!(
            Policy::from_json(&json).unwrap().document(),
            policy.document()
        );
    }
    let example = PolicyDocument::example_clinic();
    assert_eq!(
        Policy::from_document(example.clone()).unwrap().document(),
        &example
    );
}

#[test]
fn validation_errors_name_the_field_and_say_what_is_wrong() {
    type Check = Box<dyn Fn(&PolicyError) -> bool>;
    let cases: Vec<(String, Check)> = vec![
        ("version = 2".into(), Box::new(|e| *e == PolicyError::UnsupportedVersion { found: 2, supported: 1 })),
        ("version = 1\n[enforcement]\nmethods = []".into(), Box::new(invalid("enforcement.methods"))),
        ("version = 1\n[enforcement]\ngrace_seconds = 999999999999".into(), Box::new(invalid("enforcement.grace_seconds"))),
        ("version = 1\n[roles.a]\nmay_reset = [\"ghost\"]".into(), Box::new(invalid("roles.a.may_reset"))),
        ("version = 1\n[enforcement]\nmethods = [\"totp\"]\n[roles.a]\nmethods = [\"passkey\"]".into(), Box::new(invalid("roles.a.methods"))),
        ("version = 1\n[roles.\"a b\"]".into(), Box::new(invalid("roles.\"a b\""))),
        ("version = 1\n[[exemptions]]\nuser = \"u\"\nreason = \" \"".into(), Box::new(invalid("exemptions[0].reason"))),
        ("version = 1\n[[exemptions]]\nuser = \"\"\nreason = \"r\"".into(), Box::new(invalid("exemptions[0].user"))),
        ("version = 1\n[[exemptions]]\nuser = \"u\"\nreason = \"r\"\n[[exemptions]]\nuser = \"u\"\nreason = \"r\"".into(), Box::new(invalid("exemptions[1].user"))),
        ("version = 1\n[throttle]\nmax_failures = 101\nlockout = \"until_reset\"".into(), Box::new(invalid("throttle.max_failures"))),
        ("version = 1\n[throttle]\nmax_failures = 0\nlockout = \"until_reset\"".into(), Box::new(invalid("throttle.max_failures"))),
        ("version = 1\n[throttle]\nmax_failures = 5\nbackoff_seconds = [60, 30]\nlockout = \"until_reset\"".into(), Box::new(invalid("throttle.backoff_seconds"))),
        ("version = 1\n[throttle]\nmax_failures = 5\nlockout = { for_seconds = 0 }".into(), Box::new(invalid("throttle.lockout.for_seconds"))),
        ("version = 1\n[self_disable]\nreauthentication_max_age_seconds = 0".into(), Box::new(invalid("self_disable.reauthentication_max_age_seconds"))),
        ("version = 1\n[throttle]\nmax_failures = 10\nlockout = \"until_reset\"\nceiling = 9".into(), Box::new(invalid("throttle.ceiling"))),
        ("version = 1\n[throttle]\nmax_failures = 10\nlockout = \"until_reset\"\nceiling = 101".into(), Box::new(invalid("throttle.ceiling"))),
        ("version = 1\n[roles.a]\nmay_unlock = [\"ghost\"]".into(), Box::new(invalid("roles.a.may_unlock"))),
        ("version = 1\n[passkeys]\nsign_in_without_password = false\n[roles.a]\npasskey_sign_in = true".into(), Box::new(invalid("roles.a.passkey_sign_in"))),
    ];
    for (text, check) in cases {
        let e = error(&text);
        assert!(check(&e), "{text}\n=> {e:?}");
        assert!(!e.to_string().is_empty());
    }
    // Syntax and type errors come from the parser, with the position and the key.
    for (text, needle) in [
        (
            "version = 1\n[enforcement]\nmode = \"sometimes\"",
            "sometimes",
        ),
        (
            "version = 1\n[enforcement]\nmethods = [\"backup_codes\"]",
            "backup codes count only as recovery",
        ),
        (
            "version = 1\n[enforcment]\nmode = \"required\"",
            "enforcment",
        ),
        ("version = ", "TOML"),
    ] {
        let e = error(text);
        assert!(
            matches!(e, PolicyError::Syntax { format: "TOML", .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains(needle), "{text}\n=> {e}");
    }
    // Where the reader failed inside a field, the error names it.
    let field = |e: &PolicyError| match e {
        PolicyError::Syntax { field, .. } => field.clone(),
        other => panic!("{other:?}"),
    };
    for (text, path) in [
        (
            "version = 1\n[enforcement]\nmode = \"sometimes\"",
            Some("enforcement.mode"),
        ),
        (
            "version = 1\n[throttle]\nmax_failures = \"ten\"",
            Some("throttle.max_failures"),
        ),
        (
            "version = 1\n[trusted_browsers]\nmax_days = 30\nextra = 1\n",
            Some("trusted_browsers.extra"),
        ),
        (
            "version = 1\n[roles.staff]\nmethods = [\"totp\", 7]",
            Some("roles.staff.methods[1]"),
        ),
        (
            "version = 1\n[enforcment]\nmode = \"required\"",
            Some("enforcment"),
        ),
        ("version = ", None),
    ] {
        let e = error(text);
        assert_eq!(field(&e).as_deref(), path, "{text}\n=> {e:?}");
        if let Some(path) = path {
            assert!(e.to_string().contains(&format!(" at {path}: ")), "{e}");
        }
    }
    let json = Policy::from_json(r#"{"version": 1, "roles": {"staff": {"grace_seconds": -1}}}"#)
        .unwrap_err();
    assert_eq!(
        field(&json).as_deref(),
        Some("roles.staff.grace_seconds"),
        "{json:?}"
    );
    // A missing field is named, where it is missing, in TOML as in JSON.
    for (toml, json, path) in [
        (
            "[enforcement]\nmode = \"off\"",
            r#"{"enforcement": {"mode": "off"}}"#,
            "version",
        ),
        (
            "version = 1\n[throttle]\nmax_failures = 3",
            r#"{"version": 1, "throttle": {"max_failures": 3}}"#,
            "throttle.lockout",
        ),
    ] {
        for e in [error(toml), Policy::from_json(json).unwrap_err()] {
            assert_eq!(field(&e).as_deref(), Some(path), "{e:?}");
        }
    }
    // Text quoted from the document (a comment, a string) is never taken for
    // a missing field's name.
    for (e, path) in [
        (
            error("# missing field `roles.owner`\n[enforcement]\nmode = \"off\""),
            "version",
        ),
        (error("version = \"1\" # missing field `x`"), "version"),
        (
            Policy::from_json(r#"{"version": "missing field `x`"}"#).unwrap_err(),
            "version",
        ),
        (
            Policy::from_json(r#"{"version": 1, "enforcement": {"mode": "missing field `x`"}}"#)
                .unwrap_err(),
            "enforcement.mode",
        ),
    ] {
        assert_eq!(field(&e).as_deref(), Some(path), "{e:?}");
    }
    // A value inside an enum's variant is named too.
    let e = error("version = 1\n[throttle]\nmax_failures = 3\nlockout = { for_seconds = \"x\" }");
    assert_eq!(
        field(&e).as_deref(),
        Some("throttle.lockout.for_seconds"),
        "{e:?}"
    );
    // Text that is not JSON names no field, wherever the reader stopped.
    for text in [
        r#"{"version": 1, "enforcement": {"mode": "requi"#,
        r#"{"version": 1, "roles": {"staff": {"methods": ["totp",]}}}"#,
        r#"{"version": 1} {"version": 2}"#,
        r#"{"version": 1} x"#,
    ] {
        let e = Policy::from_json(text).unwrap_err();
        assert!(
            matches!(
                &e,
                PolicyError::Syntax {
                    format: "JSON",
                    field: None,
                    ..
                }
            ),
            "{text}: {e:?}"
        );
    }
    // One document, and white space after it.
    assert!(Policy::from_json("{\"version\": 1}\n  \n").is_ok());
    let json = Policy::from_json(r#"{"version": 1, "enforcement": {"mode": 3}}"#).unwrap_err();
    assert!(
        matches!(json, PolicyError::Syntax { format: "JSON", .. })
            && json.to_string().contains("line 1"),
        "{json}"
    );
}

/// `Mode` reads and writes the names the document uses; the serde form and
/// `Display` agree, and `FromStr` takes any ASCII case (a form's `Required`).
#[test]
fn modes_read_and_write_their_document_names() {
    for mode in Mode::ALL {
        let name = mode.to_string();
        assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{name}\""));
        assert_eq!(name.parse::<Mode>(), Ok(mode));
        assert_eq!(name.to_uppercase().parse::<Mode>(), Ok(mode));
        assert_eq!(format!(" {name} ").parse::<Mode>(), Ok(mode));
    }
    assert_eq!("Required".parse::<Mode>(), Ok(Mode::Required));
    for bad in ["", "on", "require", "optional!", "off optional"] {
        assert!(bad.parse::<Mode>().is_err(), "{bad:?}");
    }
}

proptest::proptest! {
    /// Any text parses to a mode exactly when, trimmed, it is a mode's name in
    /// some ASCII case, and then to that mode.
    #[test]
    fn mode_parsing_accepts_exactly_the_names(text in ".{0,12}") {
        let parsed = text.parse::<Mode>();
        let expected = Mode::ALL
            .into_iter()
            .find(|mode| mode.to_string().eq_ignore_ascii_case(text.trim()));
        proptest::prop_assert_eq!(parsed.ok(), expected);
    }
}

/// The role questions agree with the decisions they stand for.
#[test]
fn role_questions_agree_with_the_decisions() {
    let policy = Policy::example_clinic().unwrap();
    let roles = ["owner", "admin", "staff", "ghost"];
    for actor in roles {
        assert_eq!(
            policy.may_change_enforcement(actor),
            actor == "owner",
            "{actor} may change enforcement"
        );
        for target in roles {
            let (a, t) = (UserFacts::new("a", actor), UserFacts::new("t", target));
            let reset = policy.admin_reset(&a, &t, "reason", Timestamp::from_unix_seconds(0));
            assert_eq!(
                policy.may_reset(actor, target),
                matches!(
                    reset.outcome,
                    twofold_policy::ResetPermission::Allowed { .. }
                ),
                "{actor} resets {target}: {reset:?}"
            );
            let unlock = policy.admin_unlock(&a, &t, "reason");
            assert_eq!(
                policy.may_unlock(actor, target),
                unlock.outcome == twofold_policy::Permission::Allowed,
                "{actor} unlocks {target}: {unlock:?}"
            );
        }
    }
    assert!(policy.may_reset("owner", "staff") && !policy.may_reset("staff", "staff"));
}

#[test]
fn passkey_first_sign_in_is_on_by_default_and_roles_can_only_tighten_it() {
    // A document written before the knob existed: passkeys replace the password.
    let old = Policy::from_toml("version = 1\n[roles.staff]\n[roles.admin]").unwrap();
    assert!(old.document().passkeys.sign_in_without_password);
    let staff = old.passkey_sign_in(&UserFacts::new("ana", "staff"));
    assert_eq!(
        (
            staff.outcome,
            staff.reason,
            old.rule_path(staff.rule).as_str()
        ),
        (Permission::Allowed, Reason::Permitted, "passkeys")
    );
    // The role turns it off for itself only.
    let tightened =
        Policy::from_toml("version = 1\n[roles.staff]\n[roles.admin]\npasskey_sign_in = false")
            .unwrap();
    let admin = tightened.passkey_sign_in(&UserFacts::new("ada", "admin"));
    assert_eq!(
        (
            admin.outcome,
            admin.reason,
            tightened.rule_path(admin.rule).as_str()
        ),
        (
            Permission::Denied,
            Reason::PasswordAlsoRequired,
            "roles.admin"
        )
    );
    assert_eq!(
        tightened
            .passkey_sign_in(&UserFacts::new("ana", "staff"))
            .outcome,
        Permission::Allowed
    );
    // Off for the organization: off for every role, and a role saying false agrees.
    let off = Policy::from_toml(
        "version = 1\n[passkeys]\nsign_in_without_password = false\n[roles.staff]\n[roles.admin]\npasskey_sign_in = false",
    )
    .unwrap();
    for role in ["staff", "admin"] {
        let decision = off.passkey_sign_in(&UserFacts::new("u", role));
        assert_eq!(
            (decision.outcome, decision.reason),
            (Permission::Denied, Reason::PasswordAlsoRequired)
        );
    }
    let staff = off.passkey_sign_in(&UserFacts::new("u", "staff"));
    assert_eq!(off.rule_path(staff.rule), "passkeys");
    // Where passkeys do not count for the role, they never replace the password.
    let totp_only = Policy::from_toml("version = 1\n[roles.staff]\nmethods = [\"totp\"]").unwrap();
    let decision = totp_only.passkey_sign_in(&UserFacts::new("u", "staff"));
    assert_eq!(
        (decision.outcome, decision.reason),
        (Permission::Denied, Reason::MethodNotAllowed)
    );
    // A role the policy refuses.
    let ghost = old.passkey_sign_in(&UserFacts::new("u", "ghost"));
    assert_eq!(
        (ghost.outcome, ghost.reason),
        (Permission::Denied, Reason::UnknownRole)
    );
    // An unknown key in [passkeys] is refused, as everywhere.
    assert!(Policy::from_toml("version = 1\n[passkeys]\nsign_in_without_pasword = false").is_err());
    // And the knob round-trips.
    let again = Policy::from_toml(&off.to_toml()).unwrap();
    assert_eq!(again, off);
}

#[test]
fn trusted_browsers_default_to_thirty_days_and_a_role_can_forbid_them() {
    let old = Policy::from_toml("version = 1\n[roles.owner]\n[roles.admin]\n").unwrap();
    assert_eq!(old.document().trusted_browsers.max_days, 30);
    assert_eq!(old.trusted_browser_days("admin"), 30);
    assert_eq!(old.trusted_browser_days("dentist"), 0);
    let policy = Policy::from_toml(
        "version = 1\n[trusted_browsers]\nmax_days = 14\n\
         [roles.owner]\ntrusted_browser_days = 90\n\
         [roles.admin]\ntrusted_browser_days = 0\n\
         [roles.staff]\ntrusted_browser_days = 7\n",
    )
    .unwrap();
    assert_eq!(policy.trusted_browser_days("owner"), 14, "never lengthened");
    assert_eq!(policy.trusted_browser_days("admin"), 0, "forbidden");
    assert_eq!(policy.trusted_browser_days("staff"), 7);
    let round = Policy::from_toml(&policy.to_toml()).unwrap();
    assert_eq!(round, policy);
    let open = Policy::from_toml("version = 1\n[trusted_browsers]\nmax_days = 400\n").unwrap();
    assert_eq!(
        open.trusted_browser_days("anyone"),
        400,
        "an unnamed role gets the organization's"
    );
}

#[test]
fn trusted_browser_days_are_bounded() {
    assert!(invalid("trusted_browsers.max_days")(&error(
        "version = 1\n[trusted_browsers]\nmax_days = 401\n"
    )));
    assert!(invalid("roles.admin.trusted_browser_days")(&error(
        "version = 1\n[roles.admin]\ntrusted_browser_days = 401\n"
    )));
    assert!(matches!(
        error("version = 1\n[trusted_browsers]\nmax_days = 30\nextra = 1\n"),
        PolicyError::Syntax { .. }
    ));
}
