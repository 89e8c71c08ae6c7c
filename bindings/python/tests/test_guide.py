"""The guide's policy rows, decided from Python: one test per test function of
crates/twofold-policy/tests/guide.rs, by the same name, with the same answers
(test_every_guide_test_has_a_python_counterpart keeps the two in step)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from twofold_policy import Policy, UserFacts

NOW = 1_800_000_000
GUIDE_RS = Path(__file__).resolve().parents[3] / "crates" / "twofold-policy" / "tests" / "guide.rs"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def clinic() -> Policy:
    return Policy.example_clinic()


def with_totp(user: str, role: str) -> UserFacts:
    return UserFacts(user, role, methods=["totp"], backup_codes=True)


def test_every_guide_test_has_a_python_counterpart() -> None:
    rust = re.findall(r"#\[test\]\s*fn\s+(\w+)", GUIDE_RS.read_text())
    assert len(rust) >= 12, "guide.rs has fewer tests than expected: is the path right?"
    missing = [name for name in rust if not callable(globals().get(f"test_{name}"))]
    assert not missing, f"guide.rs tests without a Python counterpart in {__file__}: {missing}"


def test_step_6_after_the_password_an_enrolled_user_is_asked_for_the_code() -> None:
    policy = clinic()
    for role in ["owner", "admin", "staff"]:
        decision = policy.sign_in(with_totp("u", role), NOW)
        assert (decision.outcome, decision.methods, decision.recovery) == ("challenge", ("totp",), True), role
        assert decision.reason_code == "factor_enrolled"
    decision = policy.sign_in(UserFacts("u", "staff"), NOW)
    assert decision.outcome == "allow"
    assert decision.reason_code == "not_required"


def test_expected_outcome_an_enrolled_account_requires_2fa_on_every_sign_in() -> None:
    policy = clinic()
    facts = UserFacts("ana", "staff", methods=["totp", "passkey"])
    for day in range(30):
        decision = policy.sign_in(facts, NOW + day * 86_400)
        assert (decision.outcome, decision.methods, decision.recovery) == (
            "challenge",
            ("totp", "passkey"),
            False,
        )


def test_step_7_a_passkey_counts_as_a_second_factor_too() -> None:
    policy = clinic().with_mode("required")
    decision = policy.sign_in(UserFacts("ana", "staff", methods=["passkey"]), NOW)
    assert (decision.outcome, decision.methods, decision.recovery) == ("challenge", ("passkey",), False)


def test_step_8_only_the_owner_may_enforce_2fa_for_everyone() -> None:
    policy = clinic()
    owner = with_totp("olga", "owner")
    allowed = policy.change_enforcement(owner, "required")
    assert allowed.outcome == "allowed"
    assert allowed.rule == "roles.owner"
    for role in ["admin", "staff"]:
        decision = policy.change_enforcement(with_totp("x", role), "required")
        assert (decision.outcome, decision.reason_code) == ("denied", "role_may_not_change_enforcement"), role
    bare_owner = UserFacts("olga", "owner")
    refused = policy.change_enforcement(bare_owner, "required")
    assert (refused.outcome, refused.reason_code) == ("denied", "actor_has_no_second_factor")
    assert policy.change_enforcement(bare_owner, "optional").outcome == "allowed"


def test_step_8_after_enforcement_every_user_must_enable_2fa_on_their_next_sign_in() -> None:
    policy = clinic().with_mode("required")
    for role in ["owner", "admin", "staff"]:
        decision = policy.sign_in(UserFacts("new", role), NOW)
        assert (decision.outcome, decision.deadline, decision.methods, decision.can_defer) == (
            "must_enroll",
            at(NOW),
            ("totp", "passkey"),
            False,
        ), role
        assert decision.reason_code == "enrollment_required_now"
        assert decision.rule == "enforcement"
    assert policy.sign_in(with_totp("u", "staff"), NOW).outcome == "challenge"


def test_troubleshooting_owner_enforced_but_staff_cannot_enable_a_retry_is_still_offered() -> None:
    policy = clinic().with_mode("required")
    staff = UserFacts("sam", "staff", first_sign_in=NOW)
    decision = policy.sign_in(staff, NOW + 600)
    assert (decision.outcome, decision.can_defer) == ("must_enroll", False)
    assert policy.enrollment("staff", "totp").outcome == "allowed"


def test_troubleshooting_lost_phone_an_owner_or_admin_can_disable_2fa_from_settings_staff() -> None:
    policy = clinic()
    cases = [
        ("olga", "owner", "sam", "staff", True, "permitted"),
        ("olga", "owner", "adam", "admin", True, "permitted"),
        ("adam", "admin", "sam", "staff", True, "permitted"),
        ("adam", "admin", "ada", "admin", False, "role_may_not_reset"),
        ("adam", "admin", "olga", "owner", False, "role_may_not_reset"),
        ("sam", "staff", "sue", "staff", False, "role_may_not_reset"),
        ("olga", "owner", "olga", "owner", False, "cannot_reset_self"),
        ("adam", "admin", "adam", "admin", False, "cannot_reset_self"),
    ]
    for actor, actor_role, target, target_role, allowed, reason in cases:
        decision = policy.admin_reset(
            with_totp(actor, actor_role),
            with_totp(target, target_role),
            "lost phone, identity checked in person",
            NOW,
        )
        assert (decision.outcome == "allowed") == allowed, f"{actor} -> {target}"
        assert decision.reason_code == reason, f"{actor} -> {target}"
    no_reason = policy.admin_reset(with_totp("olga", "owner"), with_totp("sam", "staff"), "  ", NOW)
    assert (no_reason.outcome, no_reason.reason_code) == ("denied", "reason_required")


def test_after_a_reset_under_enforcement_the_user_must_enroll_at_the_next_sign_in() -> None:
    policy = clinic().with_mode("required")
    reset = policy.admin_reset(with_totp("olga", "owner"), with_totp("sam", "staff"), "lost phone", NOW)
    assert (reset.outcome, reset.must_enroll_at_next_sign_in) == ("allowed", True)
    after = policy.sign_in(UserFacts("sam", "staff"), NOW)
    assert (after.outcome, after.can_defer) == ("must_enroll", False)

    optional = clinic()
    reset = optional.admin_reset(with_totp("olga", "owner"), with_totp("sam", "staff"), "lost phone", NOW)
    assert (reset.outcome, reset.must_enroll_at_next_sign_in) == ("allowed", False)


def test_troubleshooting_disable_2fa_is_possible_if_not_enforced_after_re_entering_the_password() -> None:
    optional = clinic()
    ana = with_totp("ana", "staff")
    fresh = optional.self_disable(ana, NOW, NOW + 60)
    assert (fresh.outcome, fresh.rule) == ("allowed", "self_disable")
    reauthenticated: Optional[int]
    for reauthenticated in [None, NOW, NOW + 10_000]:
        decision = optional.self_disable(ana, reauthenticated, NOW + 301)
        assert (decision.outcome, decision.reason_code) == ("denied", "reauthentication_required"), reauthenticated
    required = clinic().with_mode("required")
    decision = required.self_disable(ana, NOW, NOW)
    assert (decision.outcome, decision.reason_code) == ("denied", "enforced_for_user")
    assert decision.reason == (
        "Two-factor authentication is required by your organization and cannot be disabled."
    )


def test_troubleshooting_wrong_codes_back_off_then_lock_out_with_the_time_to_wait() -> None:
    policy = clinic()
    assert policy.throttle(0, None, NOW).outcome == "allowed"
    assert policy.throttle(3, NOW, NOW).outcome == "allowed"
    waiting = policy.throttle(4, NOW, NOW + 10)
    assert (waiting.outcome, waiting.seconds) == ("retry_after", 20)
    assert policy.throttle(4, NOW, NOW + 30).outcome == "allowed"
    locked = policy.throttle(10, NOW, NOW + 5)
    assert (locked.outcome, locked.until) == ("locked", at(NOW + 3600))
    assert locked.reason == "Too many incorrect codes: your account is locked."
    assert policy.throttle(10, NOW, NOW + 3600).reason_code == "lockout_ended"


def test_after_100_consecutive_failures_only_an_administrator_opens_the_account() -> None:
    policy = clinic()
    assert policy.throttle(99, NOW, NOW + 86_400).outcome == "allowed"
    decision = policy.throttle(100, NOW, NOW + 10 * 365 * 86_400)
    assert (decision.outcome, decision.until) == ("locked", None)
    assert decision.reason_code == "failure_ceiling"

    def unlock(actor: str, target: str) -> str:
        return policy.admin_unlock(
            UserFacts("actor", actor), UserFacts("target", target), "locked out by a phishing attempt"
        ).outcome

    assert unlock("owner", "admin") == "allowed"
    assert unlock("owner", "staff") == "allowed"
    assert unlock("admin", "staff") == "allowed"
    assert unlock("admin", "owner") == "denied"
    assert unlock("staff", "staff") == "denied"


def test_outcomes_are_ordered_from_least_to_most_restrictive() -> None:
    # The outcomes as the engine produces them, in order of strictness.
    required = Policy.from_toml(
        'version = 1\n[enforcement]\nmode = "required"\ngrace_seconds = 60\n[roles.staff]'
    )
    decisions = [
        clinic().sign_in(UserFacts("u", "staff"), NOW),
        required.sign_in(UserFacts("u", "staff", methods=["totp", "passkey"], backup_codes=True), NOW),
        required.sign_in(UserFacts("u", "staff"), NOW),
        required.sign_in(UserFacts("u", "staff", first_sign_in=NOW - 60), NOW),
        required.sign_in(UserFacts("u", "dentist"), NOW),
    ]
    outcomes = [(d.outcome, d.can_defer) for d in decisions]
    assert outcomes == [
        ("allow", None),
        ("challenge", None),
        ("must_enroll", True),
        ("must_enroll", False),
        ("blocked", None),
    ]
    assert [d.strictness for d in decisions] == [0, 1, 2, 3, 4]
